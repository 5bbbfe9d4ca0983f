/* gw_h2_stream: one stream of an HTTP/2 connection (gw_h2).
 *
 * A stream collects its request header block (bounded by
 * h2_max_header_list bytes and max_headers fields), then is one of:
 *  - an extended CONNECT (RFC 8441): validated with
 *    ws_h2_upgrade_validate against the route of its :path (query
 *    removed), the backend connected first for tcp/unix routes, then
 *    ":status 200" and a ws_session runs over the stream with gw_echo or
 *    gw_bridge, through gw_h2_stream_ops;
 *  - GET/HEAD of a path without a route: a static file, read in bounded
 *    chunks by nghttp2's data provider (never buffered whole);
 *  - anything else: a final status with a one-line text/plain body, the
 *    same statuses as HTTP/1.1: 400 malformed or plain CONNECT (no
 *    :protocol) or another method on a WebSocket route, 403 origin, 404
 *    no route / no file, 405 other methods with a static root, 426
 *    version, 431 header list too large, 501 unknown :protocol, 502/504
 *    backend, 503 shutting down or over the connection limit.
 *
 * The WebSocket transport over one stream:
 *  - send appends to the stream's outbound evbuffer, at most
 *    GW_H2_STREAM_OUT_MAX bytes (less is taken: would-block, and
 *    ws_session_on_writable follows once it drained below half), and
 *    resumes the stream's data provider; DATA frames are written
 *    straight from that evbuffer into the connection's output
 *    (NGHTTP2_DATA_FLAG_NO_COPY), never past the peer's window;
 *  - inbound DATA is kept in the stream's inbound evbuffer (bounded by
 *    the stream window, since stream credit is only returned with
 *    nghttp2_session_consume_stream for bytes the session consumed) and
 *    fed to the session while it wants input;
 *  - close(clean) sends END_STREAM after the queued bytes; close(abort)
 *    sends RST_STREAM(CANCEL);
 *  - the peer's END_STREAM is ws_session_transport_closed(clean) after
 *    the input before it; its RST_STREAM (or the connection's end) is
 *    ws_session_transport_closed(abort), which aborts the backend.
 */
#ifndef GW_H2_STREAM_H
#define GW_H2_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include "gw_backend.h"
#include "gw_conn.h"
#include "gw_static.h"
#include "gw_upgrade.h"
#include "ws_session.h"
#include "ws_upgrade.h"

/* Most outbound bytes a stream holds before send would block. */
#define GW_H2_STREAM_OUT_MAX (64 * 1024)
/* How long a stream whose session ended waits for the peer's END_STREAM
 * before it is reset (RST_STREAM NO_ERROR), so that it frees its slot. */
#define GW_H2_STREAM_LINGER_MS 3000
/* Room for an error response's one-line body. */
#define GW_H2_STREAM_BODY_MAX 128

struct gw_h2;

enum gw_h2_stream_state {
	GW_H2S_HEADERS,    /* collecting the request header block */
	GW_H2S_BACKEND,    /* backend connect in progress */
	GW_H2S_SESSION,    /* WebSocket session running */
	GW_H2S_RESPONDING, /* a final response (error or file) is being sent */
	GW_H2S_DONE,       /* nothing more to do but wait for nghttp2 to close it */
};

/* Offsets of one header field in the stream's header buffer. */
struct gw_h2_field {
	uint32_t name, name_len;   /* name at hbuf + name */
	uint32_t value, value_len; /* value at hbuf + value */
};

struct gw_h2_stream {
	struct gw_h2 *h2;                      /* the connection */
	int32_t id;                            /* HTTP/2 stream id */
	struct gw_h2_stream *prev, *next;      /* h2->streams */
	struct gw_h2_stream *pend_next;        /* h2->pending queue */
	bool pending;                          /* on that queue */
	enum gw_h2_stream_state state;         /* see the enum */
	struct timespec start;                 /* request start, for the log */
	char *hbuf;                            /* header names and values, back to back */
	size_t hlen, hcap;                     /* used and allocated bytes of hbuf */
	size_t hsize;                          /* header list size as RFC 9113 counts it */
	struct gw_h2_field *fields;            /* the fields, in order */
	size_t n_fields, cap_fields;           /* used and allocated */
	bool too_big;                          /* over a header limit: 431 */
	struct ws_header *headers;             /* fields as ws_header, after END_HEADERS */
	struct ws_span method, path, protocol; /* :method, :path, :protocol (may be empty) */
	const struct gw_route *route;          /* matched route, or NULL */
	struct ws_deflate_config dcfg;         /* the route's deflate policy */
	struct ws_upgrade_result up;           /* validated upgrade */
	struct gw_backend *backend;            /* connecting backend (until the bridge) */
	struct ws_session *session;            /* the session, NULL before and after */
	struct gw_app app;                     /* the app running the session */
	bool app_done;                         /* the app reported done (logged) */
	struct evbuffer *in;                   /* inbound DATA not yet consumed by the session */
	struct evbuffer *out;                  /* outbound bytes not yet in a DATA frame */
	struct event *timer;                   /* session timer, then the linger */
	bool want_read;                        /* the session takes input */
	bool in_eof;                           /* the peer sent END_STREAM */
	bool eof_told;                         /* ... and the session was told */
	bool reset;                            /* stream reset or connection gone: abort */
	bool reset_told;                       /* ... and the session was told */
	bool h2_closed;                        /* nghttp2 closed the stream */
	bool blocked;                          /* a send was short: on_writable due after drain */
	bool writable_due;                     /* call ws_session_on_writable from the queue */
	bool start_due;                        /* start the session from the queue */
	bool out_eof;                          /* clean close: END_STREAM after out drains */
	bool out_closed;                       /* END_STREAM or RST_STREAM submitted */
	bool deferred;                         /* the data provider returned DEFERRED */
	bool logged;                           /* the access line was written */
	int status;                            /* status answered (0 until then) */
	struct gw_static_file file;            /* static: the open file (fd -1 otherwise) */
	uint64_t file_off;                     /* static: bytes of it sent */
	char body[GW_H2_STREAM_BODY_MAX];      /* error response body */
	size_t body_len, body_off;             /* its length and bytes sent */
};

/* A new stream object for id, linked into h.  Returns NULL when out of
 * memory (the caller resets the stream). */
struct gw_h2_stream *gw_h2_stream_new(struct gw_h2 *h, int32_t id);

/* One header field of the request (nghttp2's on_header).  Fields past
 * the limits are dropped and the stream answers 431. */
void gw_h2_stream_header(struct gw_h2_stream *st, const uint8_t *name, size_t name_len,
                         const uint8_t *value, size_t value_len);

/* The request header block is complete (end_stream: it carried
 * END_STREAM): route it and answer, or start the upgrade. */
void gw_h2_stream_request(struct gw_h2_stream *st, bool end_stream);

/* A DATA chunk arrived for the stream (connection credit is already
 * returned by the caller). */
void gw_h2_stream_data(struct gw_h2_stream *st, const uint8_t *data, size_t len);

/* The peer ended its side (END_STREAM on DATA or trailers). */
void gw_h2_stream_end(struct gw_h2_stream *st);

/* nghttp2 closed the stream (error_code: NO_ERROR after both ends, else
 * the reset's code); no nghttp2 call about it follows. */
void gw_h2_stream_closed(struct gw_h2_stream *st, uint32_t error_code);

/* Work queued by the callbacks above, run from the loop outside nghttp2:
 * start the session, feed input, deliver the end, on_writable. */
void gw_h2_stream_process(struct gw_h2_stream *st);

/* nghttp2's send_data_callback for NO_COPY DATA frames of st: writes the
 * frame header and length bytes of st->out to out.  Returns 0 or an
 * nghttp2 error. */
int gw_h2_stream_send_data(struct gw_h2_stream *st, struct evbuffer *out, const uint8_t *framehd,
                           size_t length, size_t padlen);

/* Shutdown stage (see gw_conn_drain): GOING_AWAY closes a session with
 * 1001, ABORT aborts it and resets the stream. */
void gw_h2_stream_drain(struct gw_h2_stream *st, enum gw_conn_drain stage);

/* A frame with END_STREAM went out on the stream. */
void gw_h2_stream_sent_end(struct gw_h2_stream *st);

/* True when the stream object can be freed: its app is done and nghttp2
 * no longer knows it. */
bool gw_h2_stream_finished(const struct gw_h2_stream *st);

/* Unlink and free (a session or backend still there is aborted without
 * callbacks). */
void gw_h2_stream_free(struct gw_h2_stream *st);

/* The transport ops a stream's session is created with (handle = st). */
extern const struct ws_transport_ops gw_h2_stream_ops;

#endif
