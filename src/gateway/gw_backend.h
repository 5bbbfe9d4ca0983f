/* gw_backend: one outbound connection to a route's stream backend.
 *
 * A backend is connected before the 101/200 is sent, so that failures
 * become HTTP errors (502 refused/unreachable/unresolvable, 504 connect
 * timeout).  TCP hosts are resolved with evdns (never blocking; numeric
 * hosts skip DNS) and every address is tried in order, the route's
 * connect_timeout being the budget for all of them together.  Unix
 * backends connect to the socket path.
 *
 * Once connected the connection is a gw_sock that the bridge
 * (gw_bridge) drives; gw_backend_sock hands it over.
 */
#ifndef GW_BACKEND_H
#define GW_BACKEND_H

#include <stdint.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "gw_config.h"
#include "gw_sock.h"

struct gw_backend; /* one connection to a route's backend */

/* Outcome of a connect, as the HTTP status the client should get. */
#define GW_BACKEND_OK          0   /* connected */
#define GW_BACKEND_BAD_GATEWAY 502 /* refused, unreachable, resolution failed */
#define GW_BACKEND_TIMEOUT     504 /* connect_timeout passed */

/* status: 0 connected; 502 refused/unreachable/resolution failed; 504
 * connect timeout.  On failure b is still valid: free it with
 * gw_backend_free (from the callback or later). */
typedef void (*gw_backend_ready_cb)(struct gw_backend *b, int status, void *arg);

/* Start connecting to r's backend (r->backend_kind TCP or UNIX; r must
 * outlive the backend).  cb is called exactly once, and never from
 * inside gw_backend_connect itself: a failure detected at once is
 * deferred to the next loop iteration.  dns may be NULL when no name
 * needs resolving (numeric hosts, unix paths); a non-numeric host with
 * dns NULL fails with 502.  Returns 0 with *out set, or -1 when out of
 * memory or r is an echo route (nothing is called then). */
int gw_backend_connect(struct event_base *base, struct evdns_base *dns, const struct gw_route *r,
                       gw_backend_ready_cb cb, void *arg, struct gw_backend **out);

/* Cancel a pending connect or close the connection (abort: buffered
 * output is dropped).  No callback follows.  NULL is a no-op. */
void gw_backend_free(struct gw_backend *b);

/* The peer address for logs: "127.0.0.1:5900", "[::1]:22" or
 * "unix:/run/x.sock"; while resolving, "HOST:PORT" as configured. */
const char *gw_backend_address(const struct gw_backend *b);

/* The connected socket (NULL before the callback reported 0).  It stays
 * owned by b: the user sets its callbacks and limits but must not close
 * it (gw_backend_free does). */
struct gw_sock *gw_backend_sock(struct gw_backend *b);

/* errno of the last failed connect attempt (ETIMEDOUT after a 504, 0
 * when resolution failed or nothing failed), for logs. */
int gw_backend_error(const struct gw_backend *b);

#endif
