/* gw_transport: one client stream (TCP or TLS over a gw_sock) and the
 * ws_transport_ops a session drives it with.
 *
 * Before a session is attached, the owner (gw_conn) reads the request
 * head from gw_transport_input and writes responses with
 * gw_transport_write; it hears about the stream through its
 * gw_transport_owner callbacks.  After gw_transport_attach the session
 * is fed from the input and writes through gw_transport_ops.
 *
 * Output is bounded: send takes bytes only while the socket's output
 * holds less than GW_TRANSPORT_OUT_MAX, and reports would-block
 * otherwise; the session is told through ws_session_on_writable when the
 * output drained below half.  Input is pulled: EV_READ is on only while
 * the session wants input.
 *
 * While the session's input is paused the socket is still watched, so
 * that a client who leaves does not keep both descriptors forever
 * behind a backend that stopped reading: every GW_TRANSPORT_PAUSE_CHECK_MS
 * the socket is polled for a reset (the session then ends at once, as
 * 1006), and when nothing is on its way to the client the transport
 * probes it with a WebSocket ping (at once after the peer's FIN, else
 * every GW_TRANSPORT_PAUSE_PROBE_MS).  The probe is needed because the
 * FIN of a client that closed with unsent data cannot pass our zero
 * receive window, so nothing else reveals its departure; the ping makes
 * a closed client's kernel answer with a reset.
 *
 * Ending: gw_transport_finish flushes the output, shuts the write side
 * (TLS close_notify, then TCP FIN) and reads and discards until the peer
 * closes or GW_TRANSPORT_LINGER_MS passed, so that a response is never
 * destroyed by a reset caused by unread input; then owner->on_gone
 * runs.  gw_transport_abort closes at once (TCP: a reset, SO_LINGER 0)
 * and calls nothing.  owner->on_gone is only ever called from an event
 * callback, never from inside a call the owner made.
 */
#ifndef GW_TRANSPORT_H
#define GW_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "gw_sock.h"
#include "ws_session.h"

/* Most bytes held in the socket's output before send would block. */
#define GW_TRANSPORT_OUT_MAX (128 * 1024)
/* Bound on flushing plus waiting for the peer's close after finish. */
#define GW_TRANSPORT_LINGER_MS 3000
/* While input is paused: how often the socket is polled for the peer's end. */
#define GW_TRANSPORT_PAUSE_CHECK_MS 1000
/* While input is paused and no output is pending: ping interval of the probe. */
#define GW_TRANSPORT_PAUSE_PROBE_MS 5000
/* Room for "[v6 address]:port" or "unix:/path". */
#define GW_TRANSPORT_PEER_MAX 128

enum gw_transport_state {
	GW_TRANSPORT_OPEN,     /* reading and writing */
	GW_TRANSPORT_FLUSHING, /* finish: waiting for the output to drain */
	GW_TRANSPORT_LINGER,   /* write side shut; discarding input until EOF */
	GW_TRANSPORT_CLOSED,   /* socket closed */
};

/* What the owner hears, before a session is attached (and on_gone always). */
struct gw_transport_owner {
	void (*on_read)(void *arg);            /* input arrived (or TLS handshake done) */
	void (*on_eof)(void *arg, bool clean); /* peer closed or the stream failed */
	void (*on_timeout)(void *arg);         /* the deadline set with set_deadline */
	void (*on_gone)(void *arg);            /* finish completed: stream closed */
	void (*on_drain)(void *arg); /* output fell to GW_TRANSPORT_OUT_MAX / 2 (may be NULL) */
};

struct gw_transport {
	struct event_base *base;                /* the worker's loop */
	struct gw_sock sock;                    /* the socket, its buffers and TLS state */
	struct event *timer;                    /* session timer, deadline, linger */
	struct event *watch;                    /* paused input: peer-close poll timer */
	uint64_t probe_at;                      /* paused input: next probe ping (ms) */
	bool peer_fin;                          /* paused input: the peer's FIN was seen */
	struct ws_session *session;             /* attached session, or NULL */
	enum gw_transport_state state;          /* see enum */
	bool blocked;                           /* a send was short: on_writable due */
	bool eof_pending;                       /* EOF seen while unfed input remained */
	bool eof_clean;                         /* ... and whether it was clean */
	const struct gw_transport_owner *owner; /* callbacks */
	void *arg;                              /* their argument */
	char peer[GW_TRANSPORT_PEER_MAX];       /* client address for logs */
};

/* Set up t over an accepted socket fd (non-blocking), as TLS server when
 * ssl is not NULL (t takes ssl and fd in every case).  Reading starts at
 * once.  Returns 0, or -1 when out of memory (fd and ssl are closed). */
int gw_transport_init(struct gw_transport *t, struct event_base *base, evutil_socket_t fd, SSL *ssl,
                      const struct sockaddr *sa, socklen_t salen,
                      const struct gw_transport_owner *owner, void *arg);

/* Release what is left (timer; the stream is aborted if still open). */
void gw_transport_cleanup(struct gw_transport *t);

/* The buffered input (before attach), NULL once closed. */
struct evbuffer *gw_transport_input(struct gw_transport *t);

/* The output (for static file pieces), NULL once closed; call
 * gw_sock_flush(&t->sock) after adding to it. */
struct evbuffer *gw_transport_output(struct gw_transport *t);

/* Queue bytes for output, unbounded: only for small HTTP responses and
 * for static files read in bounded chunks.  Returns 0 or -1. */
int gw_transport_write(struct gw_transport *t, const void *data, size_t len);

/* Bytes waiting in the output. */
size_t gw_transport_output_len(struct gw_transport *t);

/* Arm (ms > 0) or disarm (0) the owner's deadline; owner->on_timeout
 * fires at it.  Only before attach. */
void gw_transport_set_deadline(struct gw_transport *t, uint64_t ms);

/* Enable or disable reading (before attach). */
void gw_transport_read(struct gw_transport *t, bool on);

/* Hand the stream to session s (created with gw_transport_ops and t as
 * the handle); input already buffered is fed by gw_transport_feed. */
void gw_transport_attach(struct gw_transport *t, struct ws_session *s);

/* Feed buffered input to the attached session now (used right after
 * ws_session_start for the bytes read past the request head). */
void gw_transport_feed(struct gw_transport *t);

/* Forget the session (its app is done); no session call follows. */
void gw_transport_detach(struct gw_transport *t);

/* Clean end: flush, shut down, linger, then owner->on_gone. */
void gw_transport_finish(struct gw_transport *t);

/* Abort now; nothing is called back. */
void gw_transport_abort(struct gw_transport *t);

/* True once the socket is closed (abort, or finish completed). */
bool gw_transport_closed(const struct gw_transport *t);

/* True when the TLS handshake chose ALPN h2 (false for cleartext). */
bool gw_transport_alpn_h2(const struct gw_transport *t);

/* The ops for ws_session_new, handle = struct gw_transport *. */
extern const struct ws_transport_ops gw_transport_ops;

#endif
