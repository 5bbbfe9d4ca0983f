/* gw_h2_stream: one HTTP/2 stream (see gw_h2_stream.h).
 *
 * Lifetime.  A stream object is known to nghttp2 (stream user data)
 * until on_stream_close, and to its session's app until the app's done
 * callback.  Neither frees it: gw_h2's reaper does, from the loop, once
 * both are over (gw_h2_stream_finished).  Calls into the session are
 * made only from gw_h2_stream_process, the stream's timer and drain, all
 * outside nghttp2; the app may finish inside any of them, so code after
 * a session call re-checks app_done.
 */
#include "gw_h2_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gw_h2.h"
#include "gw_log.h"
#include "ws_error.h"
#include "ws_h2_upgrade.h"

/* First allocation of the header buffer; it doubles up to the limit. */
#define HBUF_INITIAL 512
/* RFC 9113 §6.5.2: each field counts its name, value and 32 bytes. */
#define FIELD_OVERHEAD 32
/* Room for ":status" and the static file headers, lower-cased. */
#define RESP_NV_MAX    8
#define NAME_MAX_LOWER 32
/* A DATA frame this long marks a bulk transfer; its stream's input gets
 * a chain with room for the frames that follow in the same turn, sized
 * so that it is one 128 KiB allocation with libevent's chain header
 * (and not 256 KiB: chains are rounded up to a power of two). */
#define BULK_FRAME (4 * 1024)
#define BULK_CHAIN (128 * 1024 - 1024)

static void respond(struct gw_h2_stream *st, int status, const char *msg);

static nghttp2_session *ng_of(const struct gw_h2_stream *st)
{
	return st->h2->ng;
}

static bool span_is(struct ws_span s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && memcmp(s.p, lit, n) == 0;
}

static void log_access(struct gw_h2_stream *st, int status, const char *backend, uint64_t in,
                       uint64_t out, int close_code)
{
	struct gw_access a = {
	    .client = st->h2->peer,
	    .protocol = "HTTP/2",
	    .path = st->path.p,
	    .path_len = st->path.n,
	    .route = st->route ? st->route->name : NULL,
	    .status = status,
	    .backend = backend,
	    .bytes_in = in,
	    .bytes_out = out,
	    .duration_ms = gw_h2_elapsed_ms(&st->start),
	    .close_code = close_code,
	};
	st->logged = true;
	gw_log_access(&a);
}

static void arm_ms(struct event *ev, uint64_t ms)
{
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
	                     .tv_usec = (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(ev, &tv);
}

/* Reset the stream (nothing more is sent on it). */
static void reset_stream(struct gw_h2_stream *st, uint32_t code)
{
	if (st->h2_closed || st->h2->dead)
		return;
	if (!st->out_closed || code == NGHTTP2_NO_ERROR)
		nghttp2_submit_rst_stream(ng_of(st), NGHTTP2_FLAG_NONE, st->id, code);
	st->out_closed = true;
	gw_h2_kick(st->h2);
}

/* ---- creation, headers ---- */

static void timer_cb(evutil_socket_t fd, short what, void *arg);

struct gw_h2_stream *gw_h2_stream_new(struct gw_h2 *h, int32_t id)
{
	struct gw_h2_stream *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	st->h2 = h;
	st->id = id;
	st->file.fd = -1;
	st->state = GW_H2S_HEADERS;
	clock_gettime(CLOCK_MONOTONIC, &st->start);
	st->in = evbuffer_new();
	st->out = evbuffer_new();
	st->timer = evtimer_new(h->w->base, timer_cb, st);
	if (st->in == NULL || st->out == NULL || st->timer == NULL) {
		if (st->in)
			evbuffer_free(st->in);
		if (st->out)
			evbuffer_free(st->out);
		if (st->timer)
			event_free(st->timer);
		free(st);
		return NULL;
	}
	st->next = h->streams;
	if (h->streams)
		h->streams->prev = st;
	h->streams = st;
	h->n_streams++;
	return st;
}

static bool hbuf_append(struct gw_h2_stream *st, const uint8_t *p, size_t n, uint32_t *off)
{
	if (st->hlen + n > st->hcap) {
		size_t cap = st->hcap ? st->hcap : HBUF_INITIAL;
		while (cap < st->hlen + n)
			cap *= 2;
		char *nb = realloc(st->hbuf, cap);
		if (nb == NULL)
			return false;
		st->hbuf = nb;
		st->hcap = cap;
	}
	*off = (uint32_t)st->hlen;
	if (n > 0)
		memcpy(st->hbuf + st->hlen, p, n);
	st->hlen += n;
	return true;
}

void gw_h2_stream_header(struct gw_h2_stream *st, const uint8_t *name, size_t name_len,
                         const uint8_t *value, size_t value_len)
{
	const struct gw_config *cfg = st->h2->cfg->cfg;
	if (st->too_big || st->state != GW_H2S_HEADERS)
		return;
	st->hsize += name_len + value_len + FIELD_OVERHEAD;
	if (st->hsize > cfg->h2_max_header_list || st->n_fields >= cfg->max_headers) {
		st->too_big = true;
		return;
	}
	if (st->n_fields == st->cap_fields) {
		size_t cap = st->cap_fields ? st->cap_fields * 2 : 16;
		struct gw_h2_field *nf = realloc(st->fields, cap * sizeof(*nf));
		if (nf == NULL) {
			st->too_big = true;
			return;
		}
		st->fields = nf;
		st->cap_fields = cap;
	}
	struct gw_h2_field *f = &st->fields[st->n_fields];
	if (!hbuf_append(st, name, name_len, &f->name) ||
	    !hbuf_append(st, value, value_len, &f->value)) {
		st->too_big = true;
		return;
	}
	f->name_len = (uint32_t)name_len;
	f->value_len = (uint32_t)value_len;
	st->n_fields++;
}

/* Turn the offsets into the ws_header list the validators take (the
 * buffer no longer moves). */
static int build_headers(struct gw_h2_stream *st)
{
	st->headers = calloc(st->n_fields ? st->n_fields : 1, sizeof(*st->headers));
	if (st->headers == NULL)
		return -1;
	for (size_t i = 0; i < st->n_fields; i++) {
		const struct gw_h2_field *f = &st->fields[i];
		struct ws_header *hd = &st->headers[i];
		*hd = (struct ws_header){st->hbuf + f->name, f->name_len, st->hbuf + f->value,
		                         f->value_len};
		struct ws_span v = {hd->value, hd->value_len};
		if (hd->name_len == 7 && memcmp(hd->name, ":method", 7) == 0)
			st->method = v;
		else if (hd->name_len == 5 && memcmp(hd->name, ":path", 5) == 0)
			st->path = v;
		else if (hd->name_len == 9 && memcmp(hd->name, ":protocol", 9) == 0)
			st->protocol = v;
	}
	return 0;
}

static const struct ws_header *find_header(const struct gw_h2_stream *st, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < st->n_fields; i++)
		if (st->headers[i].name_len == n && memcmp(st->headers[i].name, name, n) == 0)
			return &st->headers[i];
	return NULL;
}

/* ---- responses ---- */

static ssize_t body_read_cb(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                            uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct gw_h2_stream *st = src->ptr;
	size_t n = st->body_len - st->body_off;
	if (n > length)
		n = length;
	memcpy(buf, st->body + st->body_off, n);
	st->body_off += n;
	if (st->body_off == st->body_len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* Static files go out in chunks of at most one DATA frame (nghttp2 asks
 * for up to 16 KiB), read when nghttp2 wants them: the file is never
 * held in memory. */
static ssize_t file_read_cb(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                            uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct gw_h2_stream *st = src->ptr;
	uint64_t left = st->file.size - st->file_off;
	size_t n = left < length ? (size_t)left : length;
	ssize_t r = n > 0 ? pread(st->file.fd, buf, n, (off_t)st->file_off) : 0;
	if (r < 0 || (r == 0 && n > 0))
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* file shrank or failed: reset */
	st->file_off += (uint64_t)r;
	if (st->file_off >= st->file.size) {
		*flags |= NGHTTP2_DATA_FLAG_EOF;
		gw_static_close(&st->file);
	}
	return r;
}

static nghttp2_nv make_nv(const char *name, size_t nl, const char *value, size_t vl)
{
	return (nghttp2_nv){(uint8_t *)name, (uint8_t *)value, nl, vl, NGHTTP2_NV_FLAG_NONE};
}

static int submit(struct gw_h2_stream *st, int status, nghttp2_nv *nv, size_t n,
                  const nghttp2_data_provider *prd)
{
	char code[8];
	snprintf(code, sizeof(code), "%d", status);
	nv[0] = make_nv(":status", 7, code, strlen(code));
	int rv = nghttp2_submit_response(ng_of(st), st->id, nv, n, prd);
	gw_h2_kick(st->h2);
	return rv == 0 ? 0 : -1;
}

/* A final status with a one-line text/plain body. */
static void respond(struct gw_h2_stream *st, int status, const char *msg)
{
	bool head = span_is(st->method, "HEAD");
	nghttp2_nv nv[RESP_NV_MAX];
	size_t n = 1;
	char len[24];
	int bl = snprintf(st->body, sizeof(st->body), "%s\n", msg ? msg : "");
	st->body_len = bl < 0                          ? 0
	               : (size_t)bl < sizeof(st->body) ? (size_t)bl
	                                               : sizeof(st->body) - 1;
	st->body_off = 0;
	snprintf(len, sizeof(len), "%zu", st->body_len);
	nv[n++] = make_nv("content-type", 12, "text/plain; charset=utf-8", 25);
	nv[n++] = make_nv("content-length", 14, len, strlen(len));
	if (status == 426)
		nv[n++] = make_nv("sec-websocket-version", 21, "13", 2);
	if (status == 405)
		nv[n++] = make_nv("allow", 5, "GET, HEAD", 9);
	nghttp2_data_provider prd = {.source.ptr = st, .read_callback = body_read_cb};
	st->state = GW_H2S_RESPONDING;
	st->status = status;
	if (st->h2_closed || st->h2->dead || submit(st, status, nv, n, head ? NULL : &prd) != 0) {
		st->state = GW_H2S_DONE;
		reset_stream(st, NGHTTP2_INTERNAL_ERROR);
	}
	log_access(st, status, NULL, 0, 0, 0);
	gw_log_debug("%s: HTTP/2 stream %d: %d %s", st->h2->peer, (int)st->id, status,
	             msg ? msg : "");
}

static void lower_copy(char *dst, const char *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = (src[i] >= 'A' && src[i] <= 'Z') ? (char)(src[i] + 32) : src[i];
}

static void serve_static(struct gw_h2_stream *st)
{
	const char *root = st->h2->cfg->static_root;
	bool head = span_is(st->method, "HEAD");
	if (!head && !span_is(st->method, "GET")) {
		respond(st, root ? 405 : 404, root ? "only GET and HEAD here" : "nothing here");
		return;
	}
	if (root == NULL) {
		respond(st, 404, "nothing here");
		return;
	}
	int rc = gw_static_open(root, st->path.p, st->path.n, &st->file);
	if (rc < 0) {
		respond(st, gw_static_error_status(rc), gw_static_strerror(rc));
		return;
	}
	const struct ws_header *inm = find_header(st, "if-none-match");
	const struct ws_header *ims = find_header(st, "if-modified-since");
	bool not_modified =
	    gw_static_not_modified(&st->file, inm ? inm->value : NULL, inm ? inm->value_len : 0,
	                           ims ? ims->value : NULL, ims ? ims->value_len : 0);
	struct ws_header h[GW_STATIC_HEADERS_MAX];
	size_t nh = gw_static_headers(&st->file, h, GW_STATIC_HEADERS_MAX);
	size_t first = not_modified && nh >= 2 ? 2 : 0; /* a 304 keeps the validators */
	/* HTTP/2 field names are lower case (RFC 9113 §8.2.1). */
	char names[GW_STATIC_HEADERS_MAX][NAME_MAX_LOWER];
	nghttp2_nv nv[RESP_NV_MAX];
	size_t n = 1;
	for (size_t i = first; i < nh; i++) {
		size_t nl = h[i].name_len < NAME_MAX_LOWER ? h[i].name_len : NAME_MAX_LOWER;
		lower_copy(names[i], h[i].name, nl);
		nv[n++] = make_nv(names[i], nl, h[i].value, h[i].value_len);
	}
	int status = not_modified ? 304 : 200;
	bool body = status == 200 && !head && st->file.size > 0;
	nghttp2_data_provider prd = {.source.ptr = st, .read_callback = file_read_cb};
	st->state = GW_H2S_RESPONDING;
	st->status = status;
	if (submit(st, status, nv, n, body ? &prd : NULL) != 0) {
		gw_static_close(&st->file);
		st->state = GW_H2S_DONE;
		reset_stream(st, NGHTTP2_INTERNAL_ERROR);
		return;
	}
	uint64_t size = st->file.size;
	if (!body)
		gw_static_close(&st->file);
	log_access(st, status, NULL, 0, body ? size : 0, 0);
}

/* ---- the WebSocket session ---- */

static void app_done(void *arg, struct ws_session *s)
{
	struct gw_h2_stream *st = arg;
	log_access(st, 200, gw_upgrade_app_backend(&st->app), ws_session_bytes_in(s),
	           ws_session_bytes_out(s), gw_upgrade_log_code(s));
	ws_session_free(s); /* deferred by libws until its outermost call returns */
	st->session = NULL;
	st->app.ptr = NULL; /* the kind stays: gw_h2_stream_sent_end looks at it */
	st->app_done = true;
	st->state = GW_H2S_DONE;
	evtimer_del(st->timer);
	/* The session closes its transport before on_close; whatever is
	 * still open here gets a bounded wait for the peer's END_STREAM. */
	if (!st->h2_closed && !st->out_eof && !st->out_closed)
		reset_stream(st, NGHTTP2_CANCEL);
	if (!st->h2_closed)
		arm_ms(st->timer, GW_H2_STREAM_LINGER_MS);
	gw_h2_queue(st->h2, st);
}

static ssize_t ws_read_cb(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                          uint32_t *flags, nghttp2_data_source *src, void *ud);

/* Answer 200 and set up the session with the route's app; it starts
 * from the queue.  For a bridge, st->backend is connected and passes to
 * the bridge. */
static void start_session(struct gw_h2_stream *st)
{
	struct ws_session_options o;
	const struct ws_handler *hd;
	struct ws_session *s = NULL;

	gw_upgrade_session_options(st->route, &st->up, &st->dcfg, &o);
	hd = gw_upgrade_app_new(&st->app, st->route, &st->backend, app_done, st);
	struct ws_header rh[3];
	size_t nrh = ws_h2_upgrade_response_headers(&st->up, rh, 3);
	nghttp2_nv nv[4];
	for (size_t i = 0; i < nrh && i < 3; i++)
		nv[i] = make_nv(rh[i].name, rh[i].name_len, rh[i].value, rh[i].value_len);
	nghttp2_data_provider prd = {.source.ptr = st, .read_callback = ws_read_cb};
	if (hd == NULL || nrh == 0 ||
	    ws_session_new(&s, WS_ROLE_SERVER, &gw_h2_stream_ops, st, hd, st->app.ptr, &o) !=
	        WS_OK ||
	    nghttp2_submit_response(ng_of(st), st->id, nv, nrh, &prd) != 0) {
		gw_upgrade_app_free(&st->app);
		if (s)
			ws_session_free(s);
		respond(st, 500, "cannot start the session");
		return;
	}
	gw_upgrade_app_attach(&st->app, s);
	st->session = s;
	st->status = 200;
	st->state = GW_H2S_SESSION;
	st->start_due = true;
	gw_h2_queue(st->h2, st);
	gw_h2_kick(st->h2);
}

static void backend_ready(struct gw_backend *b, int status, void *arg)
{
	struct gw_h2_stream *st = arg;
	if (status != GW_BACKEND_OK) {
		st->backend = NULL;
		respond(st, status, gw_upgrade_backend_failed(st->route, b, status));
		return;
	}
	start_session(st);
}

static void upgrade(struct gw_h2_stream *st)
{
	struct gw_h2 *h = st->h2;
	/* Errors of the request itself (plain CONNECT: 400, unknown
	 * :protocol: 501, version: 426) come before routing, so that they
	 * do not depend on the path. */
	int rc = ws_h2_upgrade_validate(st->headers, st->n_fields, NULL, &st->up);
	if (rc != WS_OK) {
		respond(st, ws_error_http_status(rc), ws_strerror(rc));
		return;
	}
	const char *q = memchr(st->path.p, '?', st->path.n);
	size_t plen = q ? (size_t)(q - st->path.p) : st->path.n;
	st->route = gw_config_route_match(h->cfg->cfg, st->path.p, plen);
	const struct gw_route *r = st->route;
	if (r == NULL) {
		respond(st, 404, "no route for this path");
		return;
	}
	struct ws_upgrade_options uo;
	gw_upgrade_options(r, &st->dcfg, &uo);
	rc = ws_h2_upgrade_validate(st->headers, st->n_fields, &uo, &st->up);
	if (rc != WS_OK) {
		respond(st, ws_error_http_status(rc), ws_strerror(rc));
		return;
	}
	if (r->backend_kind == GW_BACKEND_ECHO) {
		start_session(st);
		return;
	}
	st->state = GW_H2S_BACKEND;
	if (gw_backend_connect(h->w->base, h->w->dns, r, backend_ready, st, &st->backend) != 0) {
		st->backend = NULL;
		respond(st, 500, "cannot start the backend connect");
	}
}

void gw_h2_stream_request(struct gw_h2_stream *st, bool end_stream)
{
	struct gw_h2 *h = st->h2;
	if (st->state != GW_H2S_HEADERS)
		return;
	if (end_stream)
		st->in_eof = true;
	if (build_headers(st) != 0) {
		st->too_big = true;
		st->n_fields = 0;
	}
	if (st->too_big) {
		respond(st, 431, "request header fields too large");
		return;
	}
	if (h->over_limit) {
		/* Answer what came, then GOAWAY once it is out. */
		if (h->state == GW_H2_OPEN)
			h->state = GW_H2_DRAINING;
		respond(st, 503, "too many connections");
		return;
	}
	if (h->state != GW_H2_OPEN || h->w->draining) {
		respond(st, 503, "shutting down");
		return;
	}
	if (span_is(st->method, "CONNECT")) {
		upgrade(st);
		return;
	}
	const char *q = st->path.p ? memchr(st->path.p, '?', st->path.n) : NULL;
	size_t plen = q ? (size_t)(q - st->path.p) : st->path.n;
	st->route = st->path.n ? gw_config_route_match(h->cfg->cfg, st->path.p, plen) : NULL;
	if (st->route) {
		/* A WebSocket route speaks only extended CONNECT here. */
		respond(st, ws_error_http_status(WS_ERR_HS_METHOD), ws_strerror(WS_ERR_HS_METHOD));
		return;
	}
	serve_static(st);
}

/* ---- events from nghttp2 ---- */

void gw_h2_stream_data(struct gw_h2_stream *st, const uint8_t *data, size_t len)
{
	bool keep = !st->reset && !st->eof_told &&
	            ((st->state == GW_H2S_SESSION && !st->app_done) || st->state == GW_H2S_BACKEND);
	if (!keep) {
		/* A request body nobody reads, or input after the end. */
		nghttp2_session_consume_stream(ng_of(st), st->id, len);
		return;
	}
	/* A bulk stream's frames of one turn go into one chain, so that the
	 * session takes them as one piece and the bridge forwards them in
	 * one write (evbuffer_add would start a chain per frame).  The chain
	 * lives only while the stream holds data: at most BULK_CHAIN of
	 * slack per stream on top of what its window allows. */
	if (len >= BULK_FRAME && evbuffer_get_length(st->in) == 0)
		evbuffer_expand(st->in, BULK_CHAIN);
	/* Bounded by the stream window: its credit comes back only as the
	 * session consumes. */
	if (evbuffer_add(st->in, data, len) != 0) {
		nghttp2_session_consume_stream(ng_of(st), st->id, len);
		reset_stream(st, NGHTTP2_INTERNAL_ERROR);
		return;
	}
	if (st->session && st->want_read)
		gw_h2_queue(st->h2, st);
}

void gw_h2_stream_end(struct gw_h2_stream *st)
{
	st->in_eof = true;
	if (st->session)
		gw_h2_queue(st->h2, st);
}

void gw_h2_stream_closed(struct gw_h2_stream *st, uint32_t error_code)
{
	if (!st->h2_closed)
		st->h2->n_closed++;
	st->h2_closed = true;
	if (error_code != NGHTTP2_NO_ERROR || !st->in_eof)
		st->reset = true;
	if (st->state == GW_H2S_BACKEND) {
		gw_backend_free(st->backend);
		st->backend = NULL;
		st->state = GW_H2S_DONE;
	}
	gw_static_close(&st->file);
	if (st->app_done)
		evtimer_del(st->timer);
	gw_h2_queue(st->h2, st);
}

int gw_h2_stream_send_data(struct gw_h2_stream *st, struct evbuffer *out, const uint8_t *framehd,
                           size_t length, size_t padlen)
{
	if (evbuffer_add(out, framehd, 9) != 0)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	if (padlen > 0) {
		uint8_t pl = (uint8_t)(padlen - 1);
		evbuffer_add(out, &pl, 1);
	}
	if (evbuffer_remove_buffer(st->out, out, length) != (int)length)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	if (padlen > 1) {
		static const uint8_t zeros[256];
		evbuffer_add(out, zeros, padlen - 1);
	}
	if (st->blocked && evbuffer_get_length(st->out) < GW_H2_STREAM_OUT_MAX / 2) {
		st->blocked = false;
		st->writable_due = true;
		gw_h2_queue(st->h2, st);
	}
	return 0;
}

static ssize_t ws_read_cb(nghttp2_session *ng, int32_t id, uint8_t *buf, size_t length,
                          uint32_t *flags, nghttp2_data_source *src, void *ud)
{
	struct gw_h2_stream *st = src->ptr;
	size_t have = evbuffer_get_length(st->out);
	if (have == 0) {
		if (st->out_eof) {
			*flags |= NGHTTP2_DATA_FLAG_EOF;
			return 0;
		}
		st->deferred = true;
		return NGHTTP2_ERR_DEFERRED;
	}
	size_t n = have < length ? have : length;
	*flags |= NGHTTP2_DATA_FLAG_NO_COPY;
	if (n == have && st->out_eof)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* ---- work from the queue ---- */

static void feed(struct gw_h2_stream *st)
{
	while (st->want_read && !st->app_done && evbuffer_get_length(st->in) > 0) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(st->in, -1, NULL, &v, 1) < 1)
			return;
		/* The session unmasks in place; the evbuffer is ours. */
		ssize_t r = ws_session_feed(st->session, v.iov_base, v.iov_len);
		if (st->app_done)
			return;
		if (r < 0 || ws_session_state(st->session) == WS_SESSION_CLOSED) {
			/* Protocol error or closed: the rest is nobody's. */
			size_t all = evbuffer_get_length(st->in);
			evbuffer_drain(st->in, all);
			if (!st->h2_closed)
				nghttp2_session_consume_stream(ng_of(st), st->id, all);
			return;
		}
		evbuffer_drain(st->in, (size_t)r);
		if (r > 0 && !st->h2_closed)
			nghttp2_session_consume_stream(ng_of(st), st->id, (size_t)r);
		if ((size_t)r < v.iov_len)
			return; /* paused: want_read(true) queues us again */
	}
}

void gw_h2_stream_process(struct gw_h2_stream *st)
{
	if (st->session == NULL || st->app_done)
		return;
	if (st->start_due) {
		st->start_due = false;
		ws_session_start(st->session);
		if (st->app_done)
			return;
	}
	if (st->reset) {
		if (!st->reset_told) {
			st->reset_told = true;
			st->eof_told = true;
			ws_session_transport_closed(st->session, false);
		}
		return;
	}
	feed(st);
	if (st->app_done)
		return;
	if (st->in_eof && !st->eof_told && evbuffer_get_length(st->in) == 0) {
		st->eof_told = true;
		/* An HTTP/2 stream half-closes: browsers send END_STREAM right
		 * after their close frame.  That is not the end of the
		 * handshake, whose reply (deferred by a bridge flushing its
		 * backend) can still go out; the close timeout bounds it.  Only
		 * an END_STREAM without a close frame ends the session. */
		if (ws_session_close_code_received(st->session) == 0)
			ws_session_transport_closed(st->session, true);
		if (st->app_done)
			return;
	}
	if (st->writable_due) {
		st->writable_due = false;
		if (ws_session_on_writable(st->session) < 0 && !st->app_done)
			ws_session_abort(st->session);
	}
}

void gw_h2_stream_drain(struct gw_h2_stream *st, enum gw_conn_drain stage)
{
	switch (st->state) {
	case GW_H2S_BACKEND:
		gw_backend_free(st->backend);
		st->backend = NULL;
		respond(st, 503, "shutting down");
		break;
	case GW_H2S_SESSION:
		if (st->session == NULL || st->app_done)
			break;
		if (stage == GW_CONN_DRAIN_GOING_AWAY)
			ws_session_close(st->session, 1001, "server shutting down", 20);
		else if (stage == GW_CONN_DRAIN_ABORT)
			ws_session_abort(st->session);
		break;
	case GW_H2S_HEADERS:
	case GW_H2S_RESPONDING:
	case GW_H2S_DONE:
		if (stage == GW_CONN_DRAIN_ABORT)
			reset_stream(st, NGHTTP2_CANCEL);
		break;
	}
}

void gw_h2_stream_sent_end(struct gw_h2_stream *st)
{
	st->out_closed = true;
	/* A response is complete but the client has not ended its side:
	 * tell it to stop (RFC 9113 §8.1) so that the stream slot is freed. */
	if (!st->in_eof && st->app.kind == GW_APP_NONE && !st->h2_closed)
		reset_stream(st, NGHTTP2_NO_ERROR);
}

bool gw_h2_stream_finished(const struct gw_h2_stream *st)
{
	return st->h2_closed && st->session == NULL && st->backend == NULL;
}

void gw_h2_stream_free(struct gw_h2_stream *st)
{
	struct gw_h2 *h = st->h2;
	if (st->h2_closed)
		h->n_closed--;
	if (st->session && !st->app_done) {
		/* Only when the connection is torn down with a session alive:
		 * on_close runs now (app_done logs and frees it). */
		st->h2_closed = true;
		st->reset = true;
		ws_session_abort(st->session);
	}
	if (st->session) {
		ws_session_free(st->session);
		st->session = NULL;
	}
	gw_backend_free(st->backend);
	gw_static_close(&st->file);
	/* nghttp2 may still know a stream we ended ourselves (dead connection). */
	if (h->ng && nghttp2_session_get_stream_user_data(h->ng, st->id) == st)
		nghttp2_session_set_stream_user_data(h->ng, st->id, NULL);
	if (st->pending) {
		struct gw_h2_stream *prev = NULL;
		for (struct gw_h2_stream *p = h->pending; p; prev = p, p = p->pend_next) {
			if (p != st)
				continue;
			if (prev)
				prev->pend_next = st->pend_next;
			else
				h->pending = st->pend_next;
			if (h->pending_tail == st)
				h->pending_tail = prev;
			break;
		}
	}
	if (st->prev)
		st->prev->next = st->next;
	else
		h->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	h->n_streams--;
	event_free(st->timer);
	evbuffer_free(st->in);
	evbuffer_free(st->out);
	free(st->headers);
	free(st->fields);
	free(st->hbuf);
	free(st);
}

/* ---- the transport ops ---- */

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_h2_stream *st = arg;
	struct gw_h2 *h = st->h2;
	if (st->session && !st->app_done) {
		ws_session_tick(st->session);
	} else if (!st->h2_closed) {
		/* Linger over: free the stream slot. */
		reset_stream(st, NGHTTP2_NO_ERROR);
	}
	gw_h2_kick(h);
}

static bool can_send(const struct gw_h2_stream *st)
{
	return !st->out_closed && !st->out_eof && !st->h2_closed && !st->reset && !st->h2->dead;
}

static ssize_t tr_send(void *handle, const struct iovec *iov, int iovcnt)
{
	struct gw_h2_stream *st = handle;
	if (!can_send(st))
		return WS_ERR_TRANSPORT;
	size_t have = evbuffer_get_length(st->out);
	size_t room = have < GW_H2_STREAM_OUT_MAX ? GW_H2_STREAM_OUT_MAX - have : 0;
	size_t taken = 0, total = 0;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	for (int i = 0; i < iovcnt && taken < room; i++) {
		size_t n = iov[i].iov_len;
		if (n > room - taken)
			n = room - taken;
		if (n > 0 && evbuffer_add(st->out, iov[i].iov_base, n) != 0)
			break;
		taken += n;
	}
	if (taken < total)
		st->blocked = true;
	if (taken > 0 && st->deferred) {
		st->deferred = false;
		nghttp2_session_resume_data(ng_of(st), st->id);
	}
	if (taken > 0)
		gw_h2_kick(st->h2);
	if (taken == 0 && total > 0 && have < GW_H2_STREAM_OUT_MAX)
		return WS_ERR_NOMEM;
	return (ssize_t)taken;
}

static void tr_want_read(void *handle, bool on)
{
	struct gw_h2_stream *st = handle;
	st->want_read = on;
	if (on && (evbuffer_get_length(st->in) > 0 || (st->in_eof && !st->eof_told) || st->reset))
		gw_h2_queue(st->h2, st);
}

static void tr_close(void *handle, bool clean)
{
	struct gw_h2_stream *st = handle;
	evtimer_del(st->timer);
	if (st->h2_closed || st->h2->dead || st->out_closed || st->out_eof)
		return;
	if (clean) {
		/* END_STREAM after what is queued (the close frame). */
		st->out_eof = true;
		if (st->deferred) {
			st->deferred = false;
			nghttp2_session_resume_data(ng_of(st), st->id);
		}
		gw_h2_kick(st->h2);
		return;
	}
	evbuffer_drain(st->out, evbuffer_get_length(st->out));
	reset_stream(st, NGHTTP2_CANCEL);
}

static void tr_set_timer(void *handle, uint64_t deadline_ms)
{
	struct gw_h2_stream *st = handle;
	if (deadline_ms == UINT64_MAX) {
		evtimer_del(st->timer);
		return;
	}
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	arm_ms(st->timer, deadline_ms > now ? deadline_ms - now : 0);
}

static const char *tr_peer(void *handle)
{
	struct gw_h2_stream *st = handle;
	return st->h2->peer;
}

const struct ws_transport_ops gw_h2_stream_ops = {
    .send = tr_send,
    .want_read = tr_want_read,
    .close = tr_close,
    .set_timer = tr_set_timer,
    .peer = tr_peer,
};
