/* wsc_int.h: internals shared by wsc_conn.c (context, connection,
 * streams), wsc_h1.c (HTTP/1.1) and wsc_h2.c (HTTP/2).  Not a public
 * contract.
 */
#ifndef WSC_INT_H
#define WSC_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "wsc_client.h"

/* Response fields kept per HTTP/2 handshake. */
#define WSC_H2_HEADERS_MAX 32
/* How long an HTTP/2 stream whose session has ended waits for the
 * server to end it before it is reset. */
#define WSC_H2_LINGER_MS 2000
/* How long a closing HTTP/2 connection may take to flush its GOAWAY. */
#define WSC_DRAIN_MS 2000

struct wsc_ctx {
	struct event_base *base; /* the loop every connection runs on */
	struct evdns_base *dns;  /* resolver, created on first use */
	SSL_CTX *ssl_ctx;        /* client TLS context */
	bool insecure;           /* skip certificate and host verification */
};

enum wsc_conn_state {
	WSC_CONN_RESOLVING,  /* waiting for the resolver */
	WSC_CONN_CONNECTING, /* TCP connect, then the TLS handshake */
	WSC_CONN_SETTINGS,   /* HTTP/2: waiting for the server's SETTINGS */
	WSC_CONN_READY,      /* streams may handshake */
	WSC_CONN_DRAINING,   /* HTTP/2 close: GOAWAY queued, flushing */
	WSC_CONN_DEAD,       /* failed or closed; reported from the deferred pass */
};

struct wsc_conn {
	struct wsc_ctx *ctx;                       /* shared context */
	struct wsc_url url;                        /* where we connect */
	struct wsc_options o;                      /* options (pointers are the caller's) */
	struct ws_upgrade_options offer;           /* subprotocol and deflate offer */
	struct wsc_conn_cb cb;                     /* owner callbacks */
	void *ud;                                  /* their argument */
	enum wsc_conn_state state;                 /* see enum */
	evutil_socket_t fd;                        /* the socket, -1 before connect */
	struct bufferevent *bev;                   /* plain or TLS stream, NULL when gone */
	SSL *ssl;                                  /* TLS state (owned by bev once it exists) */
	struct evdns_getaddrinfo_request *dns_req; /* pending lookup */
	struct event *timer;                       /* connect timeout */
	struct event *defer;                       /* deferred pass: feed, flush, reap, report */
	nghttp2_session *h2;                       /* HTTP/2 session, NULL for HTTP/1.1 */
	struct wsc_stream *streams;                /* live streams (doubly linked) */
	size_t n_streams;                          /* entries in streams */
	bool had_stream;                           /* HTTP/1.1: the one stream was opened */
	bool close_req;                            /* wsc_conn_close without abort */
	bool blocked;                              /* HTTP/1.1: a send was short */
	bool eof;                                  /* HTTP/1.1: the server closed its side */
	bool eof_clean;                            /* ... with a FIN rather than an error */
	bool in_defer;                             /* inside the deferred pass */
	bool zombie;                  /* reported; freed when the lookup is cancelled */
	int err;                      /* why the connection died (WS_OK = closed) */
	char why[WSC_ERROR_TEXT_MAX]; /* its text */
};

enum wsc_stream_state {
	WSC_ST_WAITING,   /* the connection is not ready yet */
	WSC_ST_HANDSHAKE, /* request sent, waiting for the response */
	WSC_ST_OPEN,      /* a session runs */
	WSC_ST_DONE,      /* on_close delivered; freed by the deferred pass */
};

/* Response fields of one HTTP/2 handshake, freed once it is answered. */
struct wsc_h2_hs {
	struct ws_header h[WSC_H2_HEADERS_MAX]; /* fields received */
	size_t n;                               /* entries in h */
	size_t used;                            /* bytes of buf filled */
	char buf[WSC_H2_HEADER_BYTES];          /* names and values */
};

struct wsc_stream {
	struct wsc_conn *c;                  /* owning connection */
	struct wsc_stream *prev, *next;      /* c->streams list */
	enum wsc_stream_state state;         /* see enum */
	struct wsc_stream_cb cb;             /* owner callbacks */
	void *ud;                            /* their argument */
	struct ws_session *ws;               /* the session once open */
	struct event *timer;                 /* handshake timeout, then the session timer */
	const struct ws_upgrade_result *res; /* during on_open only */
	char key[25];                        /* HTTP/1.1 Sec-WebSocket-Key */
	int32_t id;                          /* HTTP/2 stream id, -1 before submit */
	struct wsc_h2_hs *hs;                /* HTTP/2 response fields during the handshake */
	struct evbuffer *out;                /* HTTP/2 outbound bytes not yet in DATA frames */
	struct evbuffer *in;                 /* HTTP/2 inbound bytes the session did not take */
	bool want;                           /* the session wants input */
	bool h2_closed;                      /* nghttp2 closed the stream (or it never had one) */
	bool deferred;                       /* the data provider returned DEFERRED */
	bool blocked;                        /* a send was short: on_writable due */
	bool local_eof;                      /* END_STREAM after out drains */
	bool remote_eof;                     /* the server sent END_STREAM */
	bool eof_told;                       /* transport end given to the session */
	int err;                             /* first error seen */
	char why[WSC_ERROR_TEXT_MAX];        /* its text */
};

/* wsc_conn.c, for wsc_h2.c */
void wsc__conn_fail(struct wsc_conn *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void wsc__conn_finish(struct wsc_conn *c);
void wsc__conn_ready(struct wsc_conn *c);
void wsc__schedule(struct wsc_conn *c);
void wsc__stream_fail(struct wsc_stream *st, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void wsc__stream_opened(struct wsc_stream *st, const struct ws_upgrade_result *res);
void wsc__trace(struct wsc_conn *c, char dir, const char *a, size_t an, const char *b, size_t bn);
uint64_t wsc__now(const struct wsc_conn *c);
void wsc__arm(struct wsc_stream *st, uint64_t deadline_ms);

/* wsc_h1.c */
void wsc_h1_send_request(struct wsc_stream *st);
void wsc_h1_on_response(struct wsc_conn *c, struct wsc_stream *st);
void wsc_h1_feed(struct wsc_conn *c);
extern const struct ws_transport_ops wsc_h1_ops;

/* wsc_h2.c */
int wsc_h2_start(struct wsc_conn *c);
void wsc_h2_on_read(struct wsc_conn *c);
int wsc_h2_submit(struct wsc_stream *st);
void wsc_h2_flush(struct wsc_conn *c);
void wsc_h2_feed(struct wsc_stream *st);
void wsc_h2_deferred(struct wsc_conn *c);
void wsc_h2_goaway(struct wsc_conn *c);
void wsc_h2_abort_stream(struct wsc_stream *st);
void wsc_h2_stream_free(struct wsc_stream *st);
extern const struct ws_transport_ops wsc_h2_ops;

#endif
