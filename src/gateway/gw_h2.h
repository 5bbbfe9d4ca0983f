/* gw_h2: one HTTP/2 connection (RFC 9113) served with nghttp2, carrying
 * WebSockets as extended CONNECT streams (RFC 8441) and static files.
 *
 * gw_conn decides the protocol (ALPN h2, or the h2c preface on a
 * cleartext listener) and hands the connection over with gw_h2_new;
 * from then on gw_h2 drives the client socket (gw_sock) itself (it installs
 * its own callbacks and gives the stream back to gw_conn, callbacks
 * restored, when it is done).
 *
 * SETTINGS sent first: ENABLE_CONNECT_PROTOCOL = 1,
 * MAX_CONCURRENT_STREAMS = h2_max_concurrent_streams, INITIAL_WINDOW_SIZE
 * = h2_stream_window, MAX_HEADER_LIST_SIZE = h2_max_header_list; the
 * connection window is raised to h2_connection_window.  Automatic
 * WINDOW_UPDATE is off: connection credit is returned as soon as a DATA
 * frame is buffered on its stream (the per-stream buffer is bounded by
 * the stream window), stream credit only once the stream's session has
 * consumed the bytes.  So a paused session (slow backend) stops exactly
 * its own stream, and the memory one connection can hold in inbound
 * stream buffers is bounded by h2_max_concurrent_streams *
 * h2_stream_window.
 *
 * Output: frames go to the socket's output while it holds less than
 * GW_H2_OUT_MAX; past that nghttp2 is told to wait, and sending resumes
 * from the write callback.  nghttp2's scheduler interleaves the streams.
 *
 * Limits and abuse: nghttp2's flood protections stay on (outbound ACK
 * queue, SETTINGS count, CONTINUATION count, rapid-reset rate limit,
 * set explicitly below); header lists over h2_max_header_list or with
 * more than max_headers fields get 431; the connection is closed after
 * keepalive_timeout with no stream open.
 *
 * Shutdown (gw_h2_drain): a connection with no stream gets GOAWAY and is
 * closed at once; otherwise new streams are answered 503 and GOAWAY
 * waits until the WebSockets were closed with 1001 and every stream has
 * ended, because browsers reset live WebSocket streams on GOAWAY.  A
 * reload does not touch connections at all.
 *
 * Re-entrancy: WebSocket sessions are never driven from inside an
 * nghttp2 callback.  Callbacks only record what happened on the stream
 * and queue it; the queue is worked through after nghttp2 returns
 * (gw_h2_stream_process), and output produced by sessions is flushed
 * from a deferred event.  Streams and the connection are freed from the
 * loop, never under a caller.
 */
#ifndef GW_H2_H
#define GW_H2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include "gw_conn.h"
#include "gw_server.h"
#include "gw_transport.h"

/* Most bytes held in the client socket's output before nghttp2 is
 * told to wait; sending resumes below half of it. */
#define GW_H2_OUT_MAX (256 * 1024)
/* Rapid-reset guard (CVE-2023-44487): RST_STREAMs a peer may send in a
 * burst, and the rate they refill at, per second. */
#define GW_H2_RESET_BURST 1000
#define GW_H2_RESET_RATE  33
/* Most CONTINUATION frames per header block. */
#define GW_H2_MAX_CONTINUATIONS 8

struct gw_h2_stream;

/* The connection is over: gw_h2 gave the socket its old callbacks
 * back; the owner ends the stream (clean: flush and close, else abort)
 * and frees the gw_h2 with gw_h2_free.  Called once, from the loop. */
typedef void (*gw_h2_done_cb)(void *arg, bool clean);

enum gw_h2_state {
	GW_H2_OPEN,     /* serving streams */
	GW_H2_DRAINING, /* shutdown: no new streams; GOAWAY once the last one ends */
	GW_H2_CLOSING,  /* GOAWAY queued: flushing the last frames */
	GW_H2_DONE,     /* done was called (or is due) */
};

/* One HTTP/2 connection.  Shared with gw_h2_stream.c; others use only
 * the functions below. */
struct gw_h2 {
	struct gw_worker *w;          /* owning worker (loop, resolver, draining) */
	struct gw_cfgref *cfg;        /* the connection's config (owner's reference) */
	struct gw_transport *tr;      /* the client stream; its socket is driven here */
	struct gw_sock *sock;         /* &tr->sock, NULL once given back */
	nghttp2_session *ng;          /* the nghttp2 server session */
	enum gw_h2_state state;       /* see the enum */
	bool over_limit;              /* past max_connections: every stream gets 503 */
	bool dead;                    /* the client stream failed: nothing can be sent */
	bool done_called;             /* done ran */
	gw_h2_done_cb done;           /* owner's callback */
	void *done_arg;               /* its argument */
	struct gw_sock_cbs old_cb;    /* the transport's callbacks, restored at the end */
	struct event *work_ev;        /* deferred flush, pending streams, reaping */
	struct event *idle_ev;        /* keepalive_timeout with no stream open */
	struct gw_h2_stream *streams; /* every stream object alive */
	size_t n_streams;             /* how many */
	size_t n_closed;              /* of them, closed in nghttp2: reap's candidates */
	struct gw_h2_stream *pending; /* streams with session work queued */
	struct gw_h2_stream *pending_tail;
	unsigned depth; /* entry points on the stack */
	char *peer;     /* client address for logs (tr->peer) */
};

/* Take over connection tr of gw_conn for HTTP/2: over_limit answers
 * every request 503 and then sends GOAWAY.  Input already buffered in
 * tr (the client preface) is processed from the loop, not inside this
 * call.  Returns NULL when out of memory (nothing was changed). */
struct gw_h2 *gw_h2_new(struct gw_worker *w, struct gw_cfgref *cfg, struct gw_transport *tr,
                        bool over_limit, gw_h2_done_cb done, void *arg);

/* Shutdown stage for this connection (see gw_conn_drain). */
void gw_h2_drain(struct gw_h2 *h, enum gw_conn_drain stage);

/* Free everything: streams still alive are aborted (their sessions
 * freed, backends closed) without callbacks.  The socket gets its
 * old callbacks back; the owner ends it.  NULL is a no-op. */
void gw_h2_free(struct gw_h2 *h);

/* For gw_h2_stream: schedule a flush and the pending work from the loop. */
void gw_h2_kick(struct gw_h2 *h);

/* For gw_h2_stream: queue st for gw_h2_stream_process, then kick. */
void gw_h2_queue(struct gw_h2 *h, struct gw_h2_stream *st);

/* Milliseconds since t (CLOCK_MONOTONIC), for logs. */
uint64_t gw_h2_elapsed_ms(const struct timespec *t);

#endif
