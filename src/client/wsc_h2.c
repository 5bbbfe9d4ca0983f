/* wsc_h2: WebSocket streams over one HTTP/2 connection (RFC 8441).
 *
 * nghttp2 runs on memory buffers: input from the bufferevent goes to
 * nghttp2_session_mem_recv, and nghttp2_session_mem_send output is
 * appended to the bufferevent while it holds less than WSC_OUT_MAX (the
 * write callback resumes the flush).  Flushes are batched: sends only
 * activate the connection's deferred event, whose pass flushes once.
 *
 * Each stream is a ws_transport: outbound bytes wait in the stream's
 * bounded buffer, from which the data provider cuts DATA frames (it
 * defers when the buffer is empty and is resumed by the next send);
 * inbound DATA is fed to the session, and window credit is returned
 * with nghttp2_session_consume only for what the session consumed
 * (automatic window updates are off), so a paused session stops the
 * server instead of growing a buffer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "ws_error.h"
#include "ws_h2_upgrade.h"
#include "wsc_int.h"

/* Stream window we advertise: enough for 64 KiB messages in flight. */
#define WSC_H2_STREAM_WINDOW (1 << 20)
/* Connection window: many streams at full speed. */
#define WSC_H2_CONN_WINDOW (16 << 20)
/* Copy unit for inbound DATA (the session may write into what it is fed). */
#define WSC_H2_FEED_CHUNK 16384
/* Room for the lower-cased names of the extra request fields. */
#define WSC_H2_NAME_BYTES 2048

static void remote_end(struct wsc_stream *st);

static struct wsc_stream *stream_of(nghttp2_session *h2, int32_t id)
{
	return id > 0 ? nghttp2_session_get_stream_user_data(h2, id) : NULL;
}

/* ---- the transport of one stream -------------------------------------- */

static ssize_t h2_send(void *handle, const struct iovec *iov, int iovcnt)
{
	struct wsc_stream *st = handle;
	struct wsc_conn *c = st->c;
	size_t have, room, total = 0, want = 0;

	if (c->state == WSC_CONN_DEAD || c->h2 == NULL || st->h2_closed || st->local_eof)
		return WS_ERR_TRANSPORT;
	have = evbuffer_get_length(st->out);
	room = have < WSC_OUT_MAX ? WSC_OUT_MAX - have : 0;
	for (int i = 0; i < iovcnt; i++) {
		size_t n = iov[i].iov_len;

		want += n;
		if (n > room - total)
			n = room - total;
		if (n > 0 && evbuffer_add(st->out, iov[i].iov_base, n) != 0)
			return WS_ERR_TRANSPORT;
		total += n;
	}
	if (total < want)
		st->blocked = true;
	if (total > 0 && st->deferred) {
		st->deferred = false;
		nghttp2_session_resume_data(c->h2, st->id);
	}
	wsc__schedule(c);
	return (ssize_t)total;
}

static void h2_want_read(void *handle, bool on)
{
	struct wsc_stream *st = handle;

	st->want = on;
	if (on && (evbuffer_get_length(st->in) > 0 || (st->remote_eof && !st->eof_told)))
		wsc__schedule(st->c);
}

static void h2_close(void *handle, bool clean)
{
	struct wsc_stream *st = handle;
	struct wsc_conn *c = st->c;

	if (c->h2 == NULL || st->id < 0 || st->h2_closed)
		return;
	if (clean) {
		/* END_STREAM once the close frame has gone out. */
		st->local_eof = true;
		if (st->deferred) {
			st->deferred = false;
			nghttp2_session_resume_data(c->h2, st->id);
		}
	} else {
		nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
	}
	wsc__schedule(c);
}

static void h2_set_timer(void *handle, uint64_t deadline_ms)
{
	wsc__arm(handle, deadline_ms);
}

static const char *h2_peer(void *handle)
{
	struct wsc_stream *st = handle;

	return st->c->url.authority;
}

const struct ws_transport_ops wsc_h2_ops = {
    .send = h2_send,
    .want_read = h2_want_read,
    .close = h2_close,
    .set_timer = h2_set_timer,
    .peer = h2_peer,
};

/* Feed what the session left in st->in, returning credit as it goes. */
void wsc_h2_feed(struct wsc_stream *st)
{
	struct wsc_conn *c = st->c;

	while (st->ws != NULL && st->want && evbuffer_get_length(st->in) > 0) {
		struct evbuffer_iovec v;
		ssize_t r;

		if (evbuffer_peek(st->in, -1, NULL, &v, 1) < 1)
			break;
		r = ws_session_feed(st->ws, v.iov_base, v.iov_len);
		if (r < 0) {
			r = (ssize_t)evbuffer_get_length(st->in);
			nghttp2_session_consume(c->h2, st->id, (size_t)r);
			evbuffer_drain(st->in, (size_t)r);
			return;
		}
		nghttp2_session_consume(c->h2, st->id, (size_t)r);
		evbuffer_drain(st->in, (size_t)r);
		if ((size_t)r < v.iov_len)
			return;
	}
	if (st->ws != NULL && st->remote_eof && !st->eof_told && evbuffer_get_length(st->in) == 0) {
		st->eof_told = true;
		ws_session_transport_closed(st->ws, true);
	}
}

/* ---- nghttp2 callbacks ---------------------------------------------------- */

static ssize_t data_read(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct wsc_stream *st = stream_of(h2, id);
	int n;

	if (st == NULL || st->out == NULL) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		return 0;
	}
	n = evbuffer_remove(st->out, buf, length);
	if (n < 0)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	if (st->blocked && evbuffer_get_length(st->out) < WSC_OUT_MAX / 2)
		wsc__schedule(st->c); /* the deferred pass tells the session */
	if (evbuffer_get_length(st->out) == 0) {
		if (st->local_eof) {
			*flags |= NGHTTP2_DATA_FLAG_EOF;
		} else if (n == 0) {
			st->deferred = true;
			return NGHTTP2_ERR_DEFERRED;
		}
	}
	return n;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *f, const uint8_t *name, size_t nl,
                     const uint8_t *value, size_t vl, uint8_t flags, void *ud)
{
	struct wsc_conn *c = ud;
	struct wsc_stream *st = stream_of(h2, f->hd.stream_id);
	struct wsc_h2_hs *hs;
	struct ws_header *h;

	if (f->hd.type != NGHTTP2_HEADERS || st == NULL || st->state != WSC_ST_HANDSHAKE ||
	    st->hs == NULL)
		return 0;
	wsc__trace(c, '<', (const char *)name, nl, (const char *)value, vl);
	hs = st->hs;
	if (hs->n == WSC_H2_HEADERS_MAX || nl + vl > sizeof(hs->buf) - hs->used) {
		hs->n = WSC_H2_HEADERS_MAX + 1; /* marks the overflow */
		return 0;
	}
	h = &hs->h[hs->n++];
	memcpy(hs->buf + hs->used, name, nl);
	h->name = hs->buf + hs->used;
	h->name_len = nl;
	hs->used += nl;
	memcpy(hs->buf + hs->used, value, vl);
	h->value = hs->buf + hs->used;
	h->value_len = vl;
	hs->used += vl;
	return 0;
}

/* The response headers of a handshake are complete. */
static void on_response(struct wsc_stream *st)
{
	struct wsc_h2_hs *hs = st->hs;
	struct ws_upgrade_result res;
	const char *status = "?";
	size_t slen = 1;
	int rc;

	if (hs->n > WSC_H2_HEADERS_MAX) {
		wsc__stream_fail(st, WS_ERR_HS_MALFORMED, "handshake: response headers too large");
		return;
	}
	for (size_t i = 0; i < hs->n; i++) {
		if (hs->h[i].name_len == 7 && memcmp(hs->h[i].name, ":status", 7) == 0) {
			status = hs->h[i].value;
			slen = hs->h[i].value_len;
		}
	}
	if (slen == 3 && status[0] == '1') {
		/* Informational: the real answer follows. */
		hs->n = 0;
		hs->used = 0;
		return;
	}
	rc = ws_h2_client_validate_response(hs->h, hs->n, &st->c->offer, &res);
	if (rc == WS_ERR_HS_STATUS) {
		wsc__stream_fail(st, rc, "handshake: server answered %.*s", (int)slen, status);
		return;
	}
	if (rc != WS_OK) {
		wsc__stream_fail(st, rc, "handshake: %s", ws_strerror(rc));
		return;
	}
	wsc__stream_opened(st, &res);
	free(st->hs);
	st->hs = NULL;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *f, void *ud)
{
	struct wsc_conn *c = ud;
	struct wsc_stream *st = stream_of(h2, f->hd.stream_id);

	switch (f->hd.type) {
	case NGHTTP2_SETTINGS:
		if ((f->hd.flags & NGHTTP2_FLAG_ACK) || c->state != WSC_CONN_SETTINGS)
			break;
		if (nghttp2_session_get_remote_settings(
		        h2, NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL) != 1) {
			wsc__conn_fail(c, WS_ERR_HS_NO_PROTOCOL,
			               "server does not support WebSocket over HTTP/2 "
			               "(no SETTINGS_ENABLE_CONNECT_PROTOCOL = 1, RFC 8441)");
			break;
		}
		wsc__conn_ready(c);
		break;
	case NGHTTP2_HEADERS:
		if (st != NULL && st->state == WSC_ST_HANDSHAKE && st->hs != NULL &&
		    (f->hd.flags & NGHTTP2_FLAG_END_HEADERS))
			on_response(st);
		if (st != NULL && (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
			remote_end(st);
		break;
	case NGHTTP2_DATA:
		if (st != NULL && (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
			remote_end(st);
		break;
	default:
		break;
	}
	return 0;
}

static void remote_end(struct wsc_stream *st)
{
	st->remote_eof = true;
	if (st->state == WSC_ST_HANDSHAKE) {
		wsc__stream_fail(st, WS_ERR_HS_STATUS,
		                 "handshake: stream ended without a response");
		return;
	}
	wsc_h2_feed(st);
}

static int on_data(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data, size_t len,
                   void *ud)
{
	struct wsc_stream *st = stream_of(h2, id);
	uint8_t buf[WSC_H2_FEED_CHUNK];

	if (st == NULL || st->ws == NULL || st->eof_told) {
		nghttp2_session_consume(h2, id, len);
		return 0;
	}
	/* Straight into the session when nothing waits before these bytes. */
	while (len > 0 && st->ws != NULL && st->want && evbuffer_get_length(st->in) == 0) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);
		ssize_t r;

		memcpy(buf, data, n);
		r = ws_session_feed(st->ws, buf, n);
		if (r < 0) {
			nghttp2_session_consume(h2, id, len);
			return 0;
		}
		nghttp2_session_consume(h2, id, (size_t)r);
		data += r;
		len -= (size_t)r;
		if ((size_t)r < n)
			break;
	}
	if (len == 0)
		return 0;
	if (st->ws == NULL || evbuffer_add(st->in, data, len) != 0)
		nghttp2_session_consume(h2, id, len);
	return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t error_code, void *ud)
{
	struct wsc_stream *st = stream_of(h2, id);

	if (st == NULL)
		return 0;
	st->h2_closed = true;
	if (st->state == WSC_ST_HANDSHAKE || st->state == WSC_ST_WAITING) {
		wsc__stream_fail(st, WS_ERR_TRANSPORT, "stream reset by the server: %s",
		                 nghttp2_http2_strerror(error_code));
	} else if (st->ws != NULL && !st->eof_told) {
		bool clean = error_code == NGHTTP2_NO_ERROR && st->remote_eof;

		st->eof_told = true;
		if (!clean)
			snprintf(st->why, sizeof(st->why), "stream reset: %s",
			         nghttp2_http2_strerror(error_code));
		ws_session_transport_closed(st->ws, clean);
	}
	wsc__schedule(st->c);
	return 0;
}

/* ---- connection ------------------------------------------------------------ */

int wsc_h2_start(struct wsc_conn *c)
{
	nghttp2_session_callbacks *cbs;
	nghttp2_option *opt;
	nghttp2_settings_entry iv[] = {
	    {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
	    {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, WSC_H2_STREAM_WINDOW},
	};
	int rv;

	if (nghttp2_session_callbacks_new(&cbs) != 0)
		return WS_ERR_NOMEM;
	if (nghttp2_option_new(&opt) != 0) {
		nghttp2_session_callbacks_del(cbs);
		return WS_ERR_NOMEM;
	}
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	/* Credit goes back only as sessions consume (end-to-end backpressure). */
	nghttp2_option_set_no_auto_window_update(opt, 1);
	rv = nghttp2_session_client_new2(&c->h2, cbs, c, opt);
	nghttp2_session_callbacks_del(cbs);
	nghttp2_option_del(opt);
	if (rv != 0)
		return WS_ERR_NOMEM;
	if (nghttp2_submit_settings(c->h2, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) !=
	        0 ||
	    nghttp2_session_set_local_window_size(c->h2, NGHTTP2_FLAG_NONE, 0,
	                                          WSC_H2_CONN_WINDOW) != 0)
		return WS_ERR_INTERNAL;
	c->state = WSC_CONN_SETTINGS;
	wsc_h2_flush(c);
	return WS_OK;
}

void wsc_h2_on_read(struct wsc_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	while (c->state != WSC_CONN_DEAD && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		ssize_t rv;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		rv = nghttp2_session_mem_recv(c->h2, v.iov_base, v.iov_len);
		if (rv < 0) {
			wsc__conn_fail(c, WS_ERR_TRANSPORT, "HTTP/2 protocol error: %s",
			               nghttp2_strerror((int)rv));
			return;
		}
		evbuffer_drain(in, (size_t)rv);
	}
	wsc_h2_flush(c);
}

void wsc_h2_flush(struct wsc_conn *c)
{
	struct evbuffer *out;

	if (c->h2 == NULL || c->bev == NULL || c->state == WSC_CONN_DEAD)
		return;
	out = bufferevent_get_output(c->bev);
	while (evbuffer_get_length(out) < WSC_OUT_MAX) {
		const uint8_t *d;
		ssize_t n = nghttp2_session_mem_send(c->h2, &d);

		if (n < 0) {
			wsc__conn_fail(c, WS_ERR_TRANSPORT, "HTTP/2 error: %s",
			               nghttp2_strerror((int)n));
			return;
		}
		if (n == 0)
			break;
		if (evbuffer_add(out, d, (size_t)n) != 0) {
			wsc__conn_fail(c, WS_ERR_NOMEM, "out of memory");
			return;
		}
	}
	if (evbuffer_get_length(out) > 0 || nghttp2_session_want_write(c->h2))
		return;
	if (c->state == WSC_CONN_DRAINING)
		wsc__conn_finish(c);
	else if (!nghttp2_session_want_read(c->h2))
		wsc__conn_fail(c, WS_ERR_TRANSPORT,
		               "HTTP/2 connection closed by the server (GOAWAY)");
}

/* The deferred pass: input a resumed session can take now, on_writable
 * for streams whose buffer drained, then one flush. */
void wsc_h2_deferred(struct wsc_conn *c)
{
	for (struct wsc_stream *st = c->streams; st != NULL && c->state != WSC_CONN_DEAD;
	     st = st->next) {
		if (st->ws == NULL)
			continue;
		if (st->want &&
		    (evbuffer_get_length(st->in) > 0 || (st->remote_eof && !st->eof_told)))
			wsc_h2_feed(st);
		if (st->ws != NULL && st->blocked &&
		    evbuffer_get_length(st->out) < WSC_OUT_MAX / 2) {
			st->blocked = false;
			ws_session_on_writable(st->ws);
		}
	}
	wsc_h2_flush(c);
}

int wsc_h2_submit(struct wsc_stream *st)
{
	struct wsc_conn *c = st->c;
	struct ws_header hs[8];
	nghttp2_nv nva[8 + 16];
	char ext[WS_DEFLATE_EXT_MAX], proto[512], names[WSC_H2_NAME_BYTES];
	size_t n, nn = 0, used = 0;
	nghttp2_data_provider prd;
	int32_t id;

	n = ws_h2_client_request(hs, 8, c->url.tls ? "https" : "http", c->url.authority,
	                         c->url.path, &c->offer, ext, proto, sizeof(proto));
	if (n == 0 || c->o.n_headers > 16) {
		wsc__stream_fail(st, WS_ERR_INVALID_ARG,
		                 "request: invalid offer or too many headers");
		return WS_ERR_INVALID_ARG;
	}
	for (size_t i = 0; i < n; i++) {
		nva[nn++] = (nghttp2_nv){(uint8_t *)hs[i].name, (uint8_t *)hs[i].value,
		                         hs[i].name_len, hs[i].value_len, NGHTTP2_NV_FLAG_NONE};
		wsc__trace(c, '>', hs[i].name, hs[i].name_len, hs[i].value, hs[i].value_len);
	}
	for (size_t i = 0; i < c->o.n_headers; i++) {
		const struct ws_header *h = &c->o.headers[i];

		/* HTTP/2 field names are lower case (RFC 9113 §8.2.1). */
		if (h->name_len > sizeof(names) - used) {
			wsc__stream_fail(st, WS_ERR_INVALID_ARG, "request: extra headers too long");
			return WS_ERR_INVALID_ARG;
		}
		for (size_t k = 0; k < h->name_len; k++) {
			char ch = h->name[k];
			names[used + k] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
		}
		nva[nn++] = (nghttp2_nv){(uint8_t *)names + used, (uint8_t *)h->value, h->name_len,
		                         h->value_len, NGHTTP2_NV_FLAG_NONE};
		wsc__trace(c, '>', names + used, h->name_len, h->value, h->value_len);
		used += h->name_len;
	}
	st->out = evbuffer_new();
	st->in = evbuffer_new();
	st->hs = calloc(1, sizeof(*st->hs));
	if (st->out == NULL || st->in == NULL || st->hs == NULL) {
		wsc__stream_fail(st, WS_ERR_NOMEM, "out of memory");
		return WS_ERR_NOMEM;
	}
	prd.source.ptr = st;
	prd.read_callback = data_read;
	id = nghttp2_submit_request(c->h2, NULL, nva, nn, &prd, st);
	if (id < 0) {
		wsc__stream_fail(st, WS_ERR_TRANSPORT, "cannot open a stream: %s",
		                 nghttp2_strerror(id));
		return WS_ERR_TRANSPORT;
	}
	st->id = id;
	st->h2_closed = false;
	st->state = WSC_ST_HANDSHAKE;
	if (c->o.handshake_timeout_ms > 0)
		wsc__arm(st, wsc__now(c) + c->o.handshake_timeout_ms);
	wsc__schedule(c);
	return WS_OK;
}

void wsc_h2_goaway(struct wsc_conn *c)
{
	nghttp2_session_terminate_session(c->h2, NGHTTP2_NO_ERROR);
	wsc_h2_flush(c);
}

void wsc_h2_abort_stream(struct wsc_stream *st)
{
	struct wsc_conn *c = st->c;

	if (c->h2 != NULL && st->id > 0 && !st->h2_closed) {
		nghttp2_submit_rst_stream(c->h2, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
		wsc__schedule(c);
	}
}

void wsc_h2_stream_free(struct wsc_stream *st)
{
	struct wsc_conn *c = st->c;

	if (c->h2 != NULL && st->id > 0)
		nghttp2_session_set_stream_user_data(c->h2, st->id, NULL);
}
