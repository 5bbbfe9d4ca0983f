/* gw_upgrade: the shared half of a WebSocket upgrade (see gw_upgrade.h). */
#include "gw_upgrade.h"

#include "gw_echo.h"
#include "gw_log.h"

void gw_upgrade_options(const struct gw_route *r, struct ws_deflate_config *dcfg,
                        struct ws_upgrade_options *uo)
{
	*uo = (struct ws_upgrade_options){
	    .subprotocols = (const char *const *)r->subprotocols,
	    .n_subprotocols = r->n_subprotocols,
	    .require_subprotocol = r->require_subprotocol,
	    .allowed_origins =
	        r->n_allowed_origins ? (const char *const *)r->allowed_origins : NULL,
	    .n_allowed_origins = r->n_allowed_origins,
	    .deflate = NULL,
	};
	ws_deflate_config_default(dcfg);
	if (!r->permessage_deflate)
		return;
	/* zlib cannot deflate raw streams with 8 window bits. */
	int bits = r->deflate_window_bits < 9 ? 9 : r->deflate_window_bits;
	if (bits > 15)
		bits = 15;
	dcfg->server_max_window_bits = (uint8_t)bits;
	dcfg->client_max_window_bits = (uint8_t)bits;
	dcfg->level = r->deflate_level;
	dcfg->mem_level = r->deflate_mem_level;
	uo->deflate = dcfg;
}

void gw_upgrade_session_options(const struct gw_route *r, const struct ws_upgrade_result *up,
                                const struct ws_deflate_config *dcfg, struct ws_session_options *o)
{
	ws_session_options_default(o);
	o->max_frame = r->max_frame_size;
	o->max_message = r->max_message_size;
	o->queue_high_water = r->buffer_size;
	/* The hard limit must sit well above the high-water mark: apps stop
	 * producing at high water, but a message already in flight still
	 * has to fit. */
	if (o->queue_limit < 2 * o->queue_high_water + 65536)
		o->queue_limit = 2 * o->queue_high_water + 65536;
	o->close_timeout_ms = r->close_timeout_ms;
	o->idle_timeout_ms = r->idle_timeout_ms;
	o->ping_interval_ms = r->ping_interval_ms;
	o->deflate = up->deflate;
	if (up->deflate)
		o->deflate_params = up->deflate_params;
	o->deflate_config = *dcfg;
}

const struct ws_handler *gw_upgrade_app_new(struct gw_app *app, const struct gw_route *r,
                                            struct gw_backend **backend, gw_app_done_cb done,
                                            void *arg)
{
	if (r->backend_kind == GW_BACKEND_ECHO) {
		app->ptr = gw_echo_new(done, arg);
		app->kind = app->ptr ? GW_APP_ECHO : GW_APP_NONE;
		return app->ptr ? &gw_echo_handler : NULL;
	}
	app->ptr = gw_bridge_new(*backend, r, done, arg);
	*backend = NULL; /* the bridge owns it now, also on failure */
	app->kind = app->ptr ? GW_APP_BRIDGE : GW_APP_NONE;
	return app->ptr ? &gw_bridge_handler : NULL;
}

void gw_upgrade_app_attach(struct gw_app *app, struct ws_session *s)
{
	if (app->kind == GW_APP_ECHO)
		gw_echo_attach(app->ptr, s);
	else if (app->kind == GW_APP_BRIDGE)
		gw_bridge_attach(app->ptr, s);
}

void gw_upgrade_app_free(struct gw_app *app)
{
	if (app->kind == GW_APP_ECHO)
		gw_echo_free(app->ptr);
	else if (app->kind == GW_APP_BRIDGE)
		gw_bridge_free(app->ptr);
	app->ptr = NULL;
	app->kind = GW_APP_NONE;
}

const char *gw_upgrade_app_backend(const struct gw_app *app)
{
	return app->kind == GW_APP_BRIDGE ? gw_bridge_backend_address(app->ptr) : "echo";
}

uint16_t gw_upgrade_log_code(const struct ws_session *s)
{
	uint16_t code = ws_session_close_code_received(s);
	if (code == 0)
		code = ws_session_close_code_sent(s);
	return code != 0 ? code : 1006;
}

const char *gw_upgrade_backend_failed(const struct gw_route *r, struct gw_backend *b, int status)
{
	const char *addr = gw_backend_address(b);
	bool timeout = status == GW_BACKEND_TIMEOUT;
	gw_log_warn("route %s: backend %s: %s", r->name, addr ? addr : "-",
	            timeout ? "connect timeout" : "connect failed");
	gw_backend_free(b);
	return timeout ? "backend timeout" : "backend unavailable";
}
