/* gw_conn: one client connection, from accept to close.
 *
 * A connection first decides its protocol (gw_conn decides once, in
 * one place: ALPN on TLS, the 24-byte HTTP/2 client preface on
 * cleartext), then serves it.  HTTP/1.1: the request head is read under
 * the handshake_timeout (whole head, TLS handshake included),
 * max_request_size and max_headers limits; then the request is routed:
 *   - a path with a route: the libws upgrade validation (subprotocols,
 *     origins, deflate of the route), then for an echo route the 101 and
 *     a session with gw_echo; for tcp/unix routes the backend connect
 *     first, then the 101 and a session with gw_bridge, or 502/504;
 *   - an Upgrade: websocket request for a path without a route: 404;
 *   - GET/HEAD elsewhere: a static file from [static] root, or 404;
 *   - other methods elsewhere: 405 when a static root is configured,
 *     404 when not.
 * Every HTTP answer other than 101 carries "Connection: close" and the
 * connection ends after it (no keep-alive: WebSocket clients and the
 * demo page make one request per connection anyway).  Bytes read past
 * the request head are fed to the session right after ws_session_start.
 *
 * HTTP/2 connections (h2 ALPN, or the h2c preface on a cleartext
 * listener with http2 = on) are handed to gw_h2 at that decision point;
 * gw_h2 gives the stream back through its done callback.
 */
#ifndef GW_CONN_H
#define GW_CONN_H

#include <stdbool.h>
#include <sys/socket.h>

#include <event2/util.h>

#include "gw_server.h"

/* Take an accepted socket of listener ls on worker w.  over_limit: the
 * connection is past max_connections and is only told 503.  On failure
 * (out of memory) the socket is closed and the count released. */
void gw_conn_accept(struct gw_worker *w, const struct gw_lsock *ls, evutil_socket_t fd,
                    const struct sockaddr *sa, socklen_t salen, bool over_limit);

/* Shutdown stages, applied to every connection of a worker. */
enum gw_conn_drain {
	GW_CONN_DRAIN_IDLE,       /* close connections still reading a request head */
	GW_CONN_DRAIN_GOING_AWAY, /* close sessions with 1001; end everything else */
	GW_CONN_DRAIN_ABORT,      /* abort whatever is left */
};

void gw_conn_drain(struct gw_worker *w, enum gw_conn_drain stage);

#endif
