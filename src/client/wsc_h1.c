/* wsc_h1: the HTTP/1.1 side of a connection: the upgrade request, the
 * 101 response (parsed with wsc_http, checked with libws), and the
 * ws_transport of the one stream over the bufferevent.
 *
 * Output is bounded: send takes bytes while the bufferevent's output
 * holds less than WSC_OUT_MAX and reports would-block otherwise; the
 * write callback (low watermark WSC_OUT_MAX / 2) calls
 * ws_session_on_writable.  Input is pulled: EV_READ is on only while
 * the session wants input, and bytes left in the input buffer (read past
 * the response head, or left by a pause) are fed from the deferred pass.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "ws_error.h"
#include "ws_h1_upgrade.h"
#include "wsc_int.h"

/* ---- HTTP/1.1 ------------------------------------------------------------ */

void wsc_h1_send_request(struct wsc_stream *st)
{
	struct wsc_conn *c = st->c;
	char req[WSC_RESPONSE_HEAD_MAX];
	size_t n;
	int rc;

	rc = ws_h1_client_key(st->key);
	if (rc != WS_OK) {
		wsc__stream_fail(st, rc, "no random key: %s", ws_strerror(rc));
		return;
	}
	n = wsc_http_build_request(req, sizeof(req), &c->url, st->key, &c->offer, c->o.headers,
	                           c->o.n_headers);
	if (n == 0) {
		wsc__stream_fail(st, WS_ERR_INVALID_ARG,
		                 "request: a header is invalid or too long");
		return;
	}
	if (c->o.trace != NULL) {
		for (const char *p = req; *p != '\0' && !(p[0] == '\r' && p[1] == '\n');) {
			const char *e = strstr(p, "\r\n");
			wsc__trace(c, '>', p, (size_t)(e - p), NULL, 0);
			p = e + 2;
		}
	}
	if (bufferevent_write(c->bev, req, n) != 0) {
		wsc__conn_fail(c, WS_ERR_NOMEM, "out of memory");
		return;
	}
	st->state = WSC_ST_HANDSHAKE;
	if (c->o.handshake_timeout_ms > 0)
		wsc__arm(st, wsc__now(c) + c->o.handshake_timeout_ms);
}

/* The response head is in the input: check it and open the session. */
void wsc_h1_on_response(struct wsc_conn *c, struct wsc_stream *st)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t avail = evbuffer_get_length(in), take, hl;
	struct wsc_response *r;
	struct ws_upgrade_result res;
	const char *p;
	int rc;

	take = avail < WSC_RESPONSE_HEAD_MAX ? avail : WSC_RESPONSE_HEAD_MAX;
	p = (const char *)evbuffer_pullup(in, (ev_ssize_t)take);
	hl = p != NULL ? wsc_http_head_length(p, take) : 0;
	if (hl == 0) {
		if (take == WSC_RESPONSE_HEAD_MAX)
			wsc__stream_fail(st, WS_ERR_HS_MALFORMED,
			                 "handshake: response head over %d bytes",
			                 WSC_RESPONSE_HEAD_MAX);
		return;
	}
	r = malloc(sizeof(*r));
	if (r == NULL) {
		wsc__stream_fail(st, WS_ERR_NOMEM, "out of memory");
		return;
	}
	rc = wsc_http_parse_response(p, hl, r);
	if (rc != WS_OK) {
		wsc__stream_fail(st, rc, "handshake: malformed response head");
		free(r);
		return;
	}
	if (c->o.trace != NULL) {
		const char *e = memchr(p, '\n', hl);
		size_t l = (size_t)(e - p);
		wsc__trace(c, '<', p, l > 0 && p[l - 1] == '\r' ? l - 1 : l, NULL, 0);
		for (size_t i = 0; i < r->n_headers; i++)
			wsc__trace(c, '<', r->headers[i].name, r->headers[i].name_len,
			           r->headers[i].value, r->headers[i].value_len);
	}
	rc = ws_h1_client_validate_response(r->status, r->headers, r->n_headers, st->key, &c->offer,
	                                    &res);
	if (rc == WS_ERR_HS_STATUS)
		wsc__stream_fail(st, rc, "handshake: server answered %d %.*s", r->status,
		                 (int)r->reason.n, r->reason.p);
	else if (rc != WS_OK)
		wsc__stream_fail(st, rc, "handshake: %s", ws_strerror(rc));
	free(r);
	if (rc != WS_OK)
		return;
	evbuffer_drain(in, hl);
	wsc__stream_opened(st, &res);
}

/* Push buffered input into the session while it takes it. */
void wsc_h1_feed(struct wsc_conn *c)
{
	struct wsc_stream *st = c->streams;
	struct evbuffer *in;

	if (st == NULL || c->bev == NULL)
		return;
	in = bufferevent_get_input(c->bev);
	while (st->ws != NULL && st->want && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		ssize_t r;

		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		r = ws_session_feed(st->ws, v.iov_base, v.iov_len);
		if (r < 0)
			return; /* the session failed and closes itself */
		evbuffer_drain(in, (size_t)r);
		if ((size_t)r < v.iov_len)
			return; /* paused */
	}
	if (st->ws != NULL && c->eof && !st->eof_told && evbuffer_get_length(in) == 0) {
		st->eof_told = true;
		ws_session_transport_closed(st->ws, c->eof_clean);
	}
}

static ssize_t h1_send(void *handle, const struct iovec *iov, int iovcnt)
{
	struct wsc_stream *st = handle;
	struct wsc_conn *c = st->c;
	struct evbuffer *out;
	size_t total = 0;

	if (c->bev == NULL || c->state == WSC_CONN_DEAD)
		return WS_ERR_TRANSPORT;
	out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) >= WSC_OUT_MAX) {
		c->blocked = true;
		return 0;
	}
	for (int i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > 0 && evbuffer_add(out, iov[i].iov_base, iov[i].iov_len) != 0)
			return WS_ERR_TRANSPORT;
		total += iov[i].iov_len;
	}
	return (ssize_t)total;
}

static void h1_want_read(void *handle, bool on)
{
	struct wsc_stream *st = handle;
	struct wsc_conn *c = st->c;

	st->want = on;
	if (c->bev == NULL || c->state == WSC_CONN_DEAD)
		return;
	if (!on) {
		bufferevent_disable(c->bev, EV_READ);
		return;
	}
	bufferevent_enable(c->bev, EV_READ);
	/* Bytes read past the response head, or left by a pause. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0 || c->eof)
		wsc__schedule(c);
}

static void h1_close(void *handle, bool clean)
{
	struct wsc_stream *st = handle;
	struct wsc_conn *c = st->c;

	/* The one stream is over, and with it the connection. */
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ);
	c->close_req = true;
	wsc__schedule(c);
}

static void h1_set_timer(void *handle, uint64_t deadline_ms)
{
	wsc__arm(handle, deadline_ms);
}

static const char *h1_peer(void *handle)
{
	struct wsc_stream *st = handle;

	return st->c->url.authority;
}

const struct ws_transport_ops wsc_h1_ops = {
    .send = h1_send,
    .want_read = h1_want_read,
    .close = h1_close,
    .set_timer = h1_set_timer,
    .peer = h1_peer,
};
