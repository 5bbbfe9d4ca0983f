/* gw_echo: the built-in echo handler (route "backend = echo").
 *
 * Every message is echoed with its type and fragment boundaries, chunk
 * by chunk as it arrives (a large message is never buffered whole).
 * When the session's outbound queue passes its high-water mark the
 * client is no longer read until it drains.  A client close is echoed
 * at once.
 */
#ifndef GW_ECHO_H
#define GW_ECHO_H

#include "gw_bridge.h"
#include "ws_session.h"

struct gw_echo;

/* A new echo app; done is called as its last action once the session
 * closed (see gw_app_done_cb).  Returns NULL when out of memory. */
struct gw_echo *gw_echo_new(gw_app_done_cb done, void *arg);

/* The handler to pass to ws_session_new, with ud = the struct gw_echo *. */
extern const struct ws_handler gw_echo_handler;

/* Tell the app its session: after ws_session_new, before ws_session_start. */
void gw_echo_attach(struct gw_echo *e, struct ws_session *s);

/* Free an echo app whose session was never started.  NULL is a no-op. */
void gw_echo_free(struct gw_echo *e);

#endif
