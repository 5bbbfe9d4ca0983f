/* gw_bridge: the ws_handler that bridges a WebSocket session to a
 * connected stream backend (DESIGN.md §3 "Bridging").
 *
 * Payload bytes of client messages (text and binary alike) go to the
 * backend in order; backend bytes come back as binary messages of at
 * most GW_BRIDGE_CHUNK bytes each.  Each direction is bounded by the
 * route's buffer_size:
 *  - client -> backend: past buffer_size in the backend's output the
 *    session is paused (the client is not read) until it drains below
 *    half;
 *  - backend -> client: while ws_session_writable is false the backend
 *    is not read, until on_drain.
 * Backend EOF closes with 1000 after the data already read is sent
 * (and after client bytes still queued for the backend are written,
 * within the linger); a backend error closes with 1014 after what was
 * read.  A client close half-closes the backend (after its output
 * drained) and waits for the backend's EOF, relaying what it still
 * sends, then echoes the client's code (none if it sent none).  The
 * wait ("linger") is GW_BRIDGE_LINGER_MS, or half the route's
 * close_timeout when that is shorter.  A session that ends without a
 * close handshake (1006) resets the backend (SO_LINGER 0).
 *
 * The daemon must ignore SIGPIPE (backend writes use writev) and should
 * set the session's queue_high_water to the route's buffer_size.
 */
#ifndef GW_BRIDGE_H
#define GW_BRIDGE_H

#include <stdint.h>

#include "gw_backend.h"
#include "gw_config.h"
#include "ws_session.h"

struct gw_bridge;

/* Largest binary message made from backend bytes. */
#define GW_BRIDGE_CHUNK (64 * 1024)
/* How long a client close waits for the backend's EOF. */
#define GW_BRIDGE_LINGER_MS 2000

/* The session has closed (on_close ran) and the app released
 * everything; the owner logs and frees the session (ws_session_free)
 * and itself.  Called once, as the app's last action. */
typedef void (*gw_app_done_cb)(void *arg, struct ws_session *s);

/* A bridge over b (connected; ownership passes to the bridge, also on
 * failure) for route r (must outlive the bridge).  Returns NULL when
 * out of memory (b is freed then). */
struct gw_bridge *gw_bridge_new(struct gw_backend *b, const struct gw_route *r, gw_app_done_cb done,
                                void *arg);

/* The handler to pass to ws_session_new, with ud = the struct gw_bridge *. */
extern const struct ws_handler gw_bridge_handler;

/* Tell the bridge its session: call after ws_session_new, before
 * ws_session_start. */
void gw_bridge_attach(struct gw_bridge *br, struct ws_session *s);

/* Free a bridge whose session was never started (on_close will not
 * run); closes the backend.  done is not called.  NULL is a no-op. */
void gw_bridge_free(struct gw_bridge *br);

/* Payload bytes written to / read from the backend, for the access log
 * (valid until done returns). */
uint64_t gw_bridge_bytes_to_backend(const struct gw_bridge *br);
uint64_t gw_bridge_bytes_from_backend(const struct gw_bridge *br);

/* The backend's address for logs (valid until done returns). */
const char *gw_bridge_backend_address(const struct gw_bridge *br);

#endif
