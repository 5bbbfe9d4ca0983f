/* gw_echo: the built-in echo handler.
 *
 * Each received chunk is sent straight back as a fragment of the same
 * message (ws_session_send_fragment), so type and message boundaries
 * are kept and nothing is buffered here; the session's outbound queue
 * is the only buffer, and the client is paused while it is above its
 * high-water mark.
 *
 * As in gw_bridge, a send may end the session and run on_close inside
 * the call, so entry points count themselves and the teardown waits for
 * the outermost one to leave.
 */
#include "gw_echo.h"

#include <stdbool.h>
#include <stdlib.h>

#include "ws_error.h"

enum echo_state {
	ECHO_NEW,    /* created; the session has not opened yet */
	ECHO_OPEN,   /* echoing */
	ECHO_CLOSED, /* on_close ran; torn down when the outermost entry leaves */
};

struct gw_echo {
	enum echo_state state; /* see the enum */
	struct ws_session *s;  /* the session, set by gw_echo_attach */
	gw_app_done_cb done;   /* told once, at the very end */
	void *done_arg;        /* its argument */
	unsigned depth;        /* entry points currently on the stack */
	bool paused;           /* we paused the client: our echoes queue up */
};

static void enter(struct gw_echo *e)
{
	e->depth++;
}

/* Leave an entry point.  e must not be used after this. */
static void leave(struct gw_echo *e)
{
	if (--e->depth == 0 && e->state == ECHO_CLOSED) {
		if (e->done != NULL)
			e->done(e->done_arg, e->s);
		free(e);
	}
}

static void echo_on_open(struct ws_session *s, void *ud)
{
	struct gw_echo *e = ud;

	e->s = s;
	e->state = ECHO_OPEN;
}

static int echo_on_message(struct ws_session *s, void *ud, enum ws_opcode opcode,
                           const uint8_t *data, size_t len, bool first, bool final)
{
	struct gw_echo *e = ud;
	int rc;

	if (e->state != ECHO_OPEN)
		return WS_OK;
	enter(e);
	rc = ws_session_send_fragment(s, opcode, data, len, final);
	if (rc == WS_ERR_CLOSED) {
		rc = WS_OK; /* closing already: the rest is dropped */
	} else if (rc == WS_OK && e->state == ECHO_OPEN && !e->paused && !ws_session_writable(s)) {
		e->paused = true;
		ws_session_pause(s);
	}
	leave(e);
	return rc;
}

static int echo_on_peer_close(struct ws_session *s, void *ud, uint16_t code, const uint8_t *reason,
                              size_t reason_len)
{
	return WS_OK;
}

static void echo_on_drain(struct ws_session *s, void *ud)
{
	struct gw_echo *e = ud;

	if (e->state != ECHO_OPEN || !e->paused)
		return;
	enter(e);
	e->paused = false;
	ws_session_resume(s);
	leave(e);
}

static void echo_on_close(struct ws_session *s, void *ud, uint16_t code, const uint8_t *reason,
                          size_t reason_len)
{
	struct gw_echo *e = ud;

	enter(e);
	e->s = s;
	e->state = ECHO_CLOSED;
	leave(e);
}

const struct ws_handler gw_echo_handler = {
    .on_open = echo_on_open,
    .on_message = echo_on_message,
    .on_peer_close = echo_on_peer_close,
    .on_drain = echo_on_drain,
    .on_close = echo_on_close,
};

struct gw_echo *gw_echo_new(gw_app_done_cb done, void *arg)
{
	struct gw_echo *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	e->state = ECHO_NEW;
	e->done = done;
	e->done_arg = arg;
	return e;
}

void gw_echo_attach(struct gw_echo *e, struct ws_session *s)
{
	e->s = s;
}

void gw_echo_free(struct gw_echo *e)
{
	free(e);
}
