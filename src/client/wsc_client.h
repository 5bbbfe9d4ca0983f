/* wsc_client: an event-driven WebSocket client on libevent.
 *
 * A connection (wsc_conn) is one TCP or TLS stream to a ws:// or wss://
 * URL, speaking HTTP/1.1 (one WebSocket, RFC 6455 Upgrade) or HTTP/2
 * (any number of WebSockets by extended CONNECT, RFC 8441, over h2c with
 * prior knowledge or TLS with ALPN "h2").  A stream (wsc_stream) is one
 * WebSocket on it; after its handshake it is driven by a libws session
 * in the client role.
 *
 * Over HTTP/2 no stream is requested before the server's SETTINGS said
 * ENABLE_CONNECT_PROTOCOL = 1 (RFC 8441 §3); a server that does not is
 * reported as a connection error.  Inbound flow control is end to end:
 * window credit goes back to the server only for bytes the session has
 * consumed.
 *
 * Lifetimes: the library owns connections and streams.  A stream's
 * on_close is its last callback and the stream is freed after it
 * returns (over HTTP/2 its stream lingers until the server ends it too,
 * and is reset after 2 s if the server does not, so that it neither
 * holds a concurrency slot nor keeps its connection from closing); a connection's on_close follows
 * those of all its streams and the connection is freed after it returns.  Any function here may be
 * called from inside any callback.
 *
 * Errors reported to on_close are the libws enum: WS_ERR_TRANSPORT for
 * name resolution, connect, TLS and I/O failures, WS_ERR_TIMEOUT for the
 * connect timeout, WS_ERR_HS_* for a refused or invalid handshake, and
 * the session's protocol error when the server broke RFC 6455; the
 * error text (wsc_conn_error_text / wsc_stream_error_text) says more.
 */
#ifndef WSC_CLIENT_H
#define WSC_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "ws_session.h"
#include "ws_upgrade.h"
#include "wsc_http.h"

/* Outbound bytes buffered per connection (HTTP/1.1) or per stream
 * (HTTP/2) before the transport reports would-block to the session. */
#define WSC_OUT_MAX (256 * 1024)
/* Largest single read from the socket. */
#define WSC_READ_MAX (256 * 1024)
/* Longest error text kept. */
#define WSC_ERROR_TEXT_MAX 200
/* Bytes of response header names and values kept per HTTP/2 stream. */
#define WSC_H2_HEADER_BYTES 8192

struct wsc_ctx;
struct wsc_conn;
struct wsc_stream;

/* Shared by many connections: the loop, the resolver, the TLS context. */
/* Create a context on base.  TLS peers are verified against the system
 * CA store (or ca_file when not NULL) with host name checks and SNI,
 * unless insecure.  Returns WS_OK, WS_ERR_NOMEM or WS_ERR_INTERNAL
 * (OpenSSL setup failed, or ca_file could not be loaded). */
int wsc_ctx_new(struct wsc_ctx **out, struct event_base *base, bool insecure, const char *ca_file);
void wsc_ctx_free(struct wsc_ctx *c);

/* Handshake trace for -v: dir is '>' (sent) or '<' (received), line is
 * one request/status line or header field, without a line end. */
typedef void (*wsc_trace_fn)(void *ud, char dir, const char *line, size_t len);

struct wsc_options {
	bool http2;                           /* extended CONNECT over HTTP/2 */
	const char *const *subprotocols;      /* offered, in order of preference */
	size_t n_subprotocols;                /* entries in subprotocols */
	bool deflate;                         /* offer permessage-deflate */
	struct ws_deflate_config deflate_cfg; /* the offer (and zlib level) */
	const struct ws_header *headers;      /* extra request fields (must outlive conn) */
	size_t n_headers;                     /* entries in headers */
	const struct sockaddr *addr;          /* peer address; NULL = resolve the host */
	socklen_t addr_len;                   /* its length */
	const struct sockaddr *bind;          /* local source address, or NULL */
	socklen_t bind_len;                   /* its length */
	uint64_t connect_timeout_ms;          /* connect + TLS + SETTINGS (10000); 0 = none */
	uint64_t handshake_timeout_ms;        /* request to response per stream (10000) */
	struct ws_session_options session;    /* limits and timeouts of each session */
	wsc_trace_fn trace;                   /* handshake trace, or NULL */
	void *trace_ud;                       /* its argument */
};

/* Defaults: HTTP/1.1, no offers, 10 s timeouts, libws session defaults. */
void wsc_options_default(struct wsc_options *o);

/* Connection events.  Either member may be NULL. */
struct wsc_conn_cb {
	/* Connected (and, over HTTP/2, the server's SETTINGS allowed
	 * extended CONNECT): streams start their handshakes now. */
	void (*on_ready)(struct wsc_conn *c, void *ud);
	/* The connection is gone: err is WS_OK after wsc_conn_close, else
	 * why it failed.  Last callback; c is freed after it. */
	void (*on_close)(struct wsc_conn *c, void *ud, int err);
};

/* Stream events.  Any member may be NULL. */
struct wsc_stream_cb {
	/* Handshake done; res holds the chosen subprotocol and extensions
	 * (valid during the call).  Sends are allowed from here on. */
	void (*on_open)(struct wsc_stream *st, void *ud, const struct ws_upgrade_result *res);
	/* A chunk of a data message, as ws_handler.on_message. */
	int (*on_message)(struct wsc_stream *st, void *ud, enum ws_opcode op, const uint8_t *data,
	                  size_t len, bool first, bool final);
	/* The outbound queue drained below half its high-water mark. */
	void (*on_drain)(struct wsc_stream *st, void *ud);
	/* The stream ended.  err: WS_OK when the session ran and closed
	 * (code is the server's close code, 1005 without one, 1006 when the
	 * transport ended without a close handshake), otherwise the error
	 * that ended it (handshake, transport, protocol).  Last callback. */
	void (*on_close)(struct wsc_stream *st, void *ud, int err, uint16_t code,
	                 const uint8_t *reason, size_t reason_len);
};

/* Start connecting to u (copied).  Over HTTP/1.1 the connection carries
 * at most one stream and closes when it ends.  Returns WS_OK,
 * WS_ERR_NOMEM, or WS_ERR_INVALID_ARG.  Failures after this come to
 * cb->on_close. */
int wsc_conn_new(struct wsc_conn **out, struct wsc_ctx *ctx, const struct wsc_url *u,
                 const struct wsc_options *o, const struct wsc_conn_cb *cb, void *ud);

/* Close: without abort, once the connection has no stream left (HTTP/2:
 * GOAWAY first; one not flushed within 2 s, as to a server that stopped
 * reading, ends the connection with WS_ERR_TIMEOUT); with abort, at
 * once, aborting open streams (their on_close reports 1006), including
 * streams stuck behind flow control.  cb->on_close follows from the
 * event loop. */
void wsc_conn_close(struct wsc_conn *c, bool abort);

/* Open a WebSocket on c; its handshake starts as soon as c is ready.
 * Returns WS_OK, WS_ERR_NOMEM, WS_ERR_CLOSED (c is closing) or
 * WS_ERR_INVALID_ARG (a second stream over HTTP/1.1). */
int wsc_stream_new(struct wsc_stream **out, struct wsc_conn *c, const struct wsc_stream_cb *cb,
                   void *ud);

/* Send a whole message.  Returns WS_ERR_AGAIN before on_open, else
 * what ws_session_send returns. */
int wsc_stream_send(struct wsc_stream *st, enum ws_opcode op, const uint8_t *data, size_t len);

/* Start the close handshake (before on_open: abort).  Returns WS_OK or
 * WS_ERR_CLOSED. */
int wsc_stream_close(struct wsc_stream *st, unsigned code, const char *reason, size_t len);

/* The stream's session (NULL before on_open and after on_close). */
struct ws_session *wsc_stream_session(struct wsc_stream *st);
/* The stream's connection. */
struct wsc_conn *wsc_stream_conn(struct wsc_stream *st);

/* Why the stream or connection failed, "" when it did not. */
const char *wsc_stream_error_text(const struct wsc_stream *st);
const char *wsc_conn_error_text(const struct wsc_conn *c);

/* True when the connection speaks HTTP/2. */
bool wsc_conn_is_h2(const struct wsc_conn *c);

#endif
