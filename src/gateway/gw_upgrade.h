/* gw_upgrade: what HTTP/1.1 (gw_conn) and HTTP/2 (gw_h2_stream) do
 * alike with a routed WebSocket request, written once: the validator's
 * options and the deflate policy from the route, the session options,
 * the route's app (the built-in echo or a bridge to the connected
 * backend), the failed backend connect, and the close code the access
 * log shows.  Each protocol keeps only what differs: how it reads the
 * request, answers (101 or :status 200) and carries the session.
 */
#ifndef GW_UPGRADE_H
#define GW_UPGRADE_H

#include <stdint.h>

#include "gw_backend.h"
#include "gw_bridge.h"
#include "gw_config.h"
#include "ws_deflate.h"
#include "ws_session.h"
#include "ws_upgrade.h"

enum gw_app_kind {
	GW_APP_NONE,   /* no session app */
	GW_APP_ECHO,   /* gw_echo */
	GW_APP_BRIDGE, /* gw_bridge */
};

/* The application behind one session. */
struct gw_app {
	enum gw_app_kind kind; /* which app; GW_APP_NONE before one is made */
	void *ptr;             /* struct gw_echo * or struct gw_bridge *, or NULL */
};

/* Fill *uo (subprotocols, origins, deflate offer policy) and *dcfg (the
 * route's deflate parameters: window bits clamped to 9..15, level,
 * memLevel; the defaults when deflate is off) from route r.  uo->deflate
 * points at dcfg when the route allows permessage-deflate, so dcfg must
 * outlive the validation. */
void gw_upgrade_options(const struct gw_route *r, struct ws_deflate_config *dcfg,
                        struct ws_upgrade_options *uo);

/* Session options for route r and the validated upgrade up (with the
 * dcfg filled by gw_upgrade_options): limits, timeouts, ping interval,
 * the outbound queue sized from buffer_size, the negotiated deflate. */
void gw_upgrade_session_options(const struct gw_route *r, const struct ws_upgrade_result *up,
                                const struct ws_deflate_config *dcfg, struct ws_session_options *o);

/* Make route r's app into *app and return its handler (for
 * ws_session_new, ud = app->ptr).  For a bridge, *backend (connected)
 * passes to it and is set to NULL, also on failure.  Returns NULL when
 * out of memory (app->ptr is then NULL and nothing needs freeing). */
const struct ws_handler *gw_upgrade_app_new(struct gw_app *app, const struct gw_route *r,
                                            struct gw_backend **backend, gw_app_done_cb done,
                                            void *arg);

/* Tell the app its session (after ws_session_new, before ws_session_start). */
void gw_upgrade_app_attach(struct gw_app *app, struct ws_session *s);

/* Free an app whose session never started; app becomes GW_APP_NONE. */
void gw_upgrade_app_free(struct gw_app *app);

/* The backend column of the access log: "echo" or the bridge's address
 * (valid until the app's done callback returns). */
const char *gw_upgrade_app_backend(const struct gw_app *app);

/* The close code the access log shows for a finished session: the one
 * received, else the one sent, else 1006. */
uint16_t gw_upgrade_log_code(const struct ws_session *s);

/* A backend connect ended with status (GW_BACKEND_TIMEOUT or a
 * failure): logs it, frees b and returns the HTTP reason to answer
 * with (the status is the HTTP status: 504 or 502). */
const char *gw_upgrade_backend_failed(const struct gw_route *r, struct gw_backend *b, int status);

#endif
