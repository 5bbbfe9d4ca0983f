/* gw_conn: one client connection (see gw_conn.h). */
#include "gw_conn.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "gw_backend.h"
#include "gw_h2.h"
#include "gw_http1.h"
#include "gw_log.h"
#include "gw_static.h"
#include "gw_transport.h"
#include "gw_upgrade.h"
#include "ws_error.h"
#include "ws_h1_upgrade.h"
#include "ws_session.h"

/* The HTTP/2 connection preface (RFC 9113 §3.4). */
static const char h2_preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define H2_PREFACE_LEN 24

/* Room for the 101 answer with the longest subprotocol name we allow. */
#define UPGRADE_RESPONSE_MAX (GW_HTTP1_UPGRADE_RESPONSE_BASE + 512)
/* Room for a static file's response head. */
#define STATIC_HEAD_MAX 1024
/* A static body is queued in pieces of this size whenever the output
 * falls to GW_TRANSPORT_OUT_MAX / 2, so at most about
 * GW_TRANSPORT_OUT_MAX / 2 + STATIC_CHUNK of it is ever in memory.  The
 * pieces are pread copies, also over cleartext: a static page is not
 * the hot path, and a mapped file segment would count towards RSS. */
#define STATIC_CHUNK (64 * 1024)
/* A client that takes no piece of a static body for this long is dropped. */
#define STATIC_STALL_MS 30000

enum conn_proto {
	PROTO_UNDECIDED, /* not enough bytes yet to tell */
	PROTO_H1,        /* HTTP/1.1 */
	PROTO_H2,        /* HTTP/2: prior knowledge or ALPN h2 */
};

enum conn_state {
	CONN_HEAD,       /* TLS handshake and request head */
	CONN_BACKEND,    /* backend connect in progress */
	CONN_SESSION,    /* WebSocket session running */
	CONN_H2,         /* handed to gw_h2 until its done callback */
	CONN_FILE,       /* static file body going out piece by piece */
	CONN_RESPONDING, /* final HTTP answer flushing, then the stream closes */
	CONN_DONE,       /* waiting to be freed */
};

struct gw_conn {
	struct gw_worker *w;           /* owning worker */
	struct gw_conn *prev, *next;   /* w->conns list */
	struct gw_cfgref *cfg;         /* config at accept (ref held) */
	bool tls;                      /* accepted on a TLS listener */
	bool http2;                    /* the listener allows HTTP/2 */
	bool over_limit;               /* past max_connections: answer 503 */
	enum conn_proto proto;         /* decided protocol */
	enum conn_state state;         /* see enum */
	struct gw_transport tr;        /* the client stream */
	struct event *free_ev;         /* deferred free */
	bool free_queued;              /* free_ev activated */
	struct timespec start;         /* accept time, for the log */
	char *head;                    /* copy of the request head */
	struct ws_header *headers;     /* parsed header fields (max_headers) */
	struct gw_http1_request req;   /* parsed head, spans into head */
	bool head_only;                /* HEAD request */
	const struct gw_route *route;  /* matched route, or NULL */
	struct ws_deflate_config dcfg; /* the route's deflate policy */
	struct ws_upgrade_result up;   /* validated upgrade */
	struct gw_backend *backend;    /* connecting backend (until the bridge) */
	struct ws_session *session;    /* the session, or NULL */
	struct gw_app app;             /* the app running the session */
	bool session_done;             /* the app reported done */
	struct gw_h2 *h2;              /* HTTP/2 connection, or NULL */
	struct gw_static_file file;    /* CONN_FILE: the file (fd -1 otherwise) */
	uint64_t file_off;             /* CONN_FILE: bytes of it queued so far */
};

static uint64_t elapsed_ms(const struct gw_conn *c)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t ms = (int64_t)(now.tv_sec - c->start.tv_sec) * 1000 +
	             (now.tv_nsec - c->start.tv_nsec) / 1000000;
	return ms > 0 ? (uint64_t)ms : 0;
}

static void log_request(struct gw_conn *c, int status, const char *backend, uint64_t in,
                        uint64_t out, int close_code)
{
	struct gw_access a = {
	    .client = c->tr.peer,
	    .protocol = "HTTP/1.1",
	    .path = c->head ? c->req.target : NULL,
	    .path_len = c->head ? c->req.target_len : 0,
	    .route = c->route ? c->route->name : NULL,
	    .status = status,
	    .backend = backend,
	    .bytes_in = in,
	    .bytes_out = out,
	    .duration_ms = elapsed_ms(c),
	    .close_code = close_code,
	};
	gw_log_access(&a);
}

/* ---- lifetime ---- */

static void destroy(struct gw_conn *c)
{
	struct gw_worker *w = c->w;
	gw_transport_cleanup(&c->tr);
	gw_static_close(&c->file);
	gw_backend_free(c->backend);
	/* Freed here, from the loop, never inside its own done callback. */
	gw_h2_free(c->h2);
	if (c->session) {
		/* Only reachable when a session never started (start failed). */
		ws_session_free(c->session);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->n_conns--;
	if (c->free_ev)
		event_free(c->free_ev);
	free(c->head);
	free(c->headers);
	gw_cfgref_put(c->cfg);
	bool rejected = c->over_limit;
	free(c);
	gw_server_conn_released(w, rejected);
}

static void free_cb(evutil_socket_t fd, short what, void *arg)
{
	destroy(arg);
}

/* Free from the loop, never from inside a callback chain that may still
 * touch the connection (transport, session and app callbacks). */
static void free_later(struct gw_conn *c)
{
	c->state = CONN_DONE;
	if (c->free_queued)
		return;
	c->free_queued = true;
	event_active(c->free_ev, 0, 0);
}

/* The connection is over once its stream is gone and no session runs. */
static void maybe_free(struct gw_conn *c)
{
	if (gw_transport_closed(&c->tr) && (c->session == NULL || c->session_done))
		free_later(c);
}

/* Answer with a final status and a one-line body, then close. */
static void respond_error(struct gw_conn *c, int status, const char *msg)
{
	char buf[GW_HTTP1_ERROR_RESPONSE_MAX];
	size_t n = gw_http1_error_response(buf, sizeof(buf), status, msg, NULL, 0, c->head_only);
	if (n > 0)
		gw_transport_write(&c->tr, buf, n);
	log_request(c, status, NULL, 0, 0, 0);
	gw_log_debug("%s: %d %s", c->tr.peer, status, msg ? msg : "");
	c->state = CONN_RESPONDING;
	gw_transport_set_deadline(&c->tr, 0);
	gw_transport_finish(&c->tr);
	maybe_free(c);
}

/* End without an answer (nothing useful can be said: the peer is gone or
 * never sent a request). */
static void close_quietly(struct gw_conn *c, bool abort)
{
	c->state = CONN_RESPONDING;
	gw_transport_set_deadline(&c->tr, 0);
	if (abort)
		gw_transport_abort(&c->tr);
	else
		gw_transport_finish(&c->tr);
	maybe_free(c);
}

/* ---- session ---- */

static void app_done(void *arg, struct ws_session *s)
{
	struct gw_conn *c = arg;
	log_request(c, 101, gw_upgrade_app_backend(&c->app), ws_session_bytes_in(s),
	            ws_session_bytes_out(s), gw_upgrade_log_code(s));
	gw_transport_detach(&c->tr);
	/* Deferred by libws until its outermost call returns. */
	ws_session_free(s);
	c->session = NULL;
	c->app.ptr = NULL;
	c->session_done = true;
	if (!gw_transport_closed(&c->tr) && c->tr.state == GW_TRANSPORT_OPEN)
		gw_transport_finish(&c->tr); /* the session should have closed it */
	maybe_free(c);
}

/* Send the 101 and start the session with the route's app.  For a
 * bridge, c->backend is connected and passes to the bridge. */
static void start_session(struct gw_conn *c)
{
	struct ws_session_options o;
	const struct ws_handler *h;
	struct ws_session *s = NULL;

	gw_upgrade_session_options(c->route, &c->up, &c->dcfg, &o);
	h = gw_upgrade_app_new(&c->app, c->route, &c->backend, app_done, c);
	if (h == NULL || ws_session_new(&s, WS_ROLE_SERVER, &gw_transport_ops, &c->tr, h,
	                                c->app.ptr, &o) != WS_OK) {
		gw_upgrade_app_free(&c->app);
		respond_error(c, 500, "out of memory");
		return;
	}
	gw_upgrade_app_attach(&c->app, s);

	char buf[UPGRADE_RESPONSE_MAX];
	size_t n = gw_http1_format_upgrade(buf, sizeof(buf), &c->up);
	if (n == 0 || gw_transport_write(&c->tr, buf, n) != 0) {
		gw_upgrade_app_free(&c->app);
		ws_session_free(s);
		respond_error(c, 500, "cannot write the upgrade response");
		return;
	}
	c->session = s;
	c->state = CONN_SESSION;
	gw_transport_attach(&c->tr, s);
	gw_transport_read(&c->tr, false); /* the session asks for input itself */
	ws_session_start(s);
	/* Bytes the client sent right after its request head go first. */
	if (!c->session_done)
		gw_transport_feed(&c->tr);
}

static void backend_ready(struct gw_backend *b, int status, void *arg)
{
	struct gw_conn *c = arg;
	if (status != GW_BACKEND_OK) {
		c->backend = NULL;
		respond_error(c, status, gw_upgrade_backend_failed(c->route, b, status));
		return;
	}
	start_session(c);
}

/* ---- HTTP/1.1 request ---- */

static void handle_upgrade(struct gw_conn *c)
{
	const struct gw_route *r = c->route;
	struct ws_upgrade_options uo;
	gw_upgrade_options(r, &c->dcfg, &uo);
	if (c->req.has_content_length ? c->req.content_length > 0 : c->req.transfer_encoding) {
		respond_error(c, 400, "an upgrade request has no body");
		return;
	}

	struct ws_h1_request wr;
	gw_http1_to_ws_request(&c->req, &wr);
	int rc = ws_h1_upgrade_validate(&wr, &uo, &c->up);
	if (rc != WS_OK) {
		respond_error(c, ws_error_http_status(rc), ws_strerror(rc));
		return;
	}
	if (r->backend_kind == GW_BACKEND_ECHO) {
		start_session(c);
		return;
	}
	c->state = CONN_BACKEND;
	/* Nothing more is read from the client until the session starts;
	 * the connect timeout bounds the wait. */
	gw_transport_read(&c->tr, false);
	if (gw_backend_connect(c->w->base, c->w->dns, r, backend_ready, c, &c->backend) != 0) {
		c->backend = NULL;
		respond_error(c, 500, "cannot start the backend connect");
	}
}

static bool has_token(const char *v, size_t n, const char *tok)
{
	size_t tl = strlen(tok);
	for (size_t i = 0; i + tl <= n; i++) {
		if (strncasecmp(v + i, tok, tl) == 0 &&
		    (i == 0 || v[i - 1] == ',' || v[i - 1] == ' ' || v[i - 1] == '\t') &&
		    (i + tl == n || v[i + tl] == ',' || v[i + tl] == ' ' || v[i + tl] == '\t'))
			return true;
	}
	return false;
}

/* Queue one piece of the static body; returns its length, or 0 when
 * it failed (the Content-Length is out: the caller can only abort). */
static size_t file_add_chunk(struct gw_conn *c, struct evbuffer *out, size_t n)
{
	struct evbuffer_iovec v;
	if (evbuffer_reserve_space(out, (ev_ssize_t)n, &v, 1) < 1)
		return 0;
	size_t want = v.iov_len < n ? v.iov_len : n;
	ssize_t r = pread(c->file.fd, v.iov_base, want, (off_t)c->file_off);
	if (r <= 0)
		return 0; /* a read error, or the file shrank under us */
	v.iov_len = (size_t)r;
	return evbuffer_commit_space(out, &v, 1) == 0 ? (size_t)r : 0;
}

/* Top the output up to the low mark; at the end, the normal finish.
 * Runs again from on_drain each time the output falls to half. */
static void file_pump(struct gw_conn *c)
{
	struct evbuffer *out = gw_transport_output(&c->tr);
	while (out && c->file_off < c->file.size &&
	       gw_transport_output_len(&c->tr) < GW_TRANSPORT_OUT_MAX / 2) {
		uint64_t left = c->file.size - c->file_off;
		size_t n = left < STATIC_CHUNK ? (size_t)left : STATIC_CHUNK;
		size_t added = file_add_chunk(c, out, n);
		if (added == 0) {
			gw_log_warn("%s: static file: cannot read past byte %llu of %llu",
			            c->tr.peer, (unsigned long long)c->file_off,
			            (unsigned long long)c->file.size);
			out = NULL;
			break;
		}
		c->file_off += added;
	}
	if (out == NULL) {
		close_quietly(c, true);
		return;
	}
	gw_sock_flush(&c->tr.sock);
	if (c->file_off < c->file.size) {
		/* Progress re-arms it: only a client that stopped reading hits it. */
		gw_transport_set_deadline(&c->tr, STATIC_STALL_MS);
		return;
	}
	gw_static_close(&c->file);
	c->state = CONN_RESPONDING;
	gw_transport_set_deadline(&c->tr, 0);
	gw_transport_finish(&c->tr);
	maybe_free(c);
}

static void handle_static(struct gw_conn *c)
{
	struct gw_static_file f;
	const char *root = c->cfg->static_root;
	bool get = c->req.method_len == 3 && memcmp(c->req.method, "GET", 3) == 0;
	if (!get && !c->head_only) {
		respond_error(c, root ? 405 : 404,
		              root ? "only GET and HEAD here" : "nothing here");
		return;
	}
	if (root == NULL) {
		respond_error(c, 404, "nothing here");
		return;
	}
	int rc = gw_static_open(root, c->req.path, c->req.path_len, &f);
	if (rc < 0) {
		respond_error(c, gw_static_error_status(rc), gw_static_strerror(rc));
		return;
	}
	const struct ws_header *inm = gw_http1_header(&c->req, "If-None-Match");
	const struct ws_header *ims = gw_http1_header(&c->req, "If-Modified-Since");
	bool not_modified =
	    gw_static_not_modified(&f, inm ? inm->value : NULL, inm ? inm->value_len : 0,
	                           ims ? ims->value : NULL, ims ? ims->value_len : 0);
	struct ws_header h[GW_STATIC_HEADERS_MAX + 1];
	size_t nh = gw_static_headers(&f, h, GW_STATIC_HEADERS_MAX);
	struct ws_header *hp = h;
	if (not_modified && nh >= 2) {
		/* A 304 keeps only the validators. */
		hp = h + 2;
		nh -= 2;
	}
	hp[nh++] = (struct ws_header){"Connection", 10, "close", 5};
	int status = not_modified ? 304 : 200;
	char head[STATIC_HEAD_MAX];
	size_t n = gw_http1_format_response(head, sizeof(head), status, hp, nh, NULL, 0, false);
	if (n == 0) {
		gw_static_close(&f);
		respond_error(c, 500, "response too large");
		return;
	}
	gw_transport_write(&c->tr, head, n);
	bool body = status == 200 && get && f.size > 0;
	log_request(c, status, NULL, 0, body ? f.size : 0, 0);
	if (!body) {
		gw_static_close(&f);
		c->state = CONN_RESPONDING;
		gw_transport_finish(&c->tr);
		maybe_free(c);
		return;
	}
	c->file = f;
	c->file_off = 0;
	c->state = CONN_FILE;
	file_pump(c);
}

static void handle_request(struct gw_conn *c)
{
	struct gw_config *cfg = c->cfg->cfg;
	c->head_only = c->req.method_len == 4 && memcmp(c->req.method, "HEAD", 4) == 0;
	if (c->w->draining) {
		respond_error(c, 503, "shutting down");
		return;
	}
	c->route = gw_config_route_match(cfg, c->req.path, c->req.path_len);
	if (c->route) {
		handle_upgrade(c);
		return;
	}
	const struct ws_header *up = gw_http1_header(&c->req, "Upgrade");
	if (up && has_token(up->value, up->value_len, "websocket")) {
		respond_error(c, 404, "no route for this path");
		return;
	}
	handle_static(c);
}

/* gw_h2 is finished with the stream and gave the socket back. */
static void h2_done(void *arg, bool clean)
{
	struct gw_conn *c = arg;
	c->state = CONN_RESPONDING;
	if (clean)
		gw_transport_finish(&c->tr);
	else
		gw_transport_abort(&c->tr);
	maybe_free(c);
}

static void start_h2(struct gw_conn *c)
{
	/* The HTTP/2 layer has its own idle and flood limits. */
	gw_transport_set_deadline(&c->tr, 0);
	c->h2 = gw_h2_new(c->w, c->cfg, &c->tr, c->over_limit, h2_done, c);
	if (c->h2 == NULL) {
		gw_log_warn("%s: cannot start HTTP/2 (out of memory)", c->tr.peer);
		close_quietly(c, true);
		return;
	}
	c->state = CONN_H2;
}

/* Look at the first bytes and decide the protocol, once.  This is the
 * single place where the HTTP/2 issue plugs in. */
static enum conn_proto decide_protocol(struct gw_conn *c, struct evbuffer *in)
{
	if (c->tls)
		return gw_transport_alpn_h2(&c->tr) ? PROTO_H2 : PROTO_H1;
	if (!c->http2)
		return PROTO_H1;
	size_t n = evbuffer_get_length(in);
	size_t m = n < H2_PREFACE_LEN ? n : H2_PREFACE_LEN;
	const unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)m);
	if (m > 0 && p && memcmp(p, h2_preface, m) != 0)
		return PROTO_H1;
	return m == H2_PREFACE_LEN ? PROTO_H2 : PROTO_UNDECIDED;
}

static void read_head(struct gw_conn *c)
{
	struct gw_config *cfg = c->cfg->cfg;
	struct evbuffer *in = gw_transport_input(&c->tr);
	size_t n = evbuffer_get_length(in);
	size_t limit = (size_t)cfg->max_request_size;
	size_t m = n < limit ? n : limit;
	const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)m);
	if (p == NULL && m > 0) {
		respond_error(c, 500, "out of memory");
		return;
	}
	c->req.headers = c->headers;
	int rc = gw_http1_check_limit(
	    gw_http1_parse_request(p, m, (size_t)cfg->max_headers, &c->req), m, limit);
	if (rc == 0)
		return; /* wait for more, under the handshake deadline */
	if (rc < 0) {
		respond_error(c, gw_http1_error_status(rc), gw_http1_strerror(rc));
		return;
	}
	/* Keep the head for the whole connection (routes and the access log
	 * point into it); what follows it stays in the input for the session. */
	c->head = malloc((size_t)rc);
	if (c->head == NULL) {
		respond_error(c, 500, "out of memory");
		return;
	}
	memcpy(c->head, p, (size_t)rc);
	evbuffer_drain(in, (size_t)rc);
	c->req.headers = c->headers;
	if (gw_http1_parse_request(c->head, (size_t)rc, (size_t)cfg->max_headers, &c->req) != rc) {
		respond_error(c, 500, "request head changed");
		return;
	}
	gw_transport_set_deadline(&c->tr, 0);
	handle_request(c);
}

static void on_read(void *arg)
{
	struct gw_conn *c = arg;
	if (c->state != CONN_HEAD) {
		/* Nothing is read in the other states; drop stray input. */
		struct evbuffer *in = gw_transport_input(&c->tr);
		if (in)
			evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	if (c->proto == PROTO_UNDECIDED) {
		c->proto = decide_protocol(c, gw_transport_input(&c->tr));
		if (c->proto == PROTO_UNDECIDED)
			return;
		if (c->proto == PROTO_H2) {
			/* gw_h2 reads the preface from the input we leave it and
			 * answers an over-limit connection's streams with 503. */
			start_h2(c);
			return;
		}
	}
	if (c->over_limit) {
		respond_error(c, 503, "too many connections");
		return;
	}
	read_head(c);
}

static void on_eof(void *arg, bool clean)
{
	struct gw_conn *c = arg;
	/* Before a session the peer's end means there is nobody to answer.
	 * A cleartext client that only shut its sending side still gets its
	 * file; over TLS a dropped connection also counts as a clean end
	 * (no close_notify needed, see gw_sock), so there the body stops. */
	if (c->state == CONN_HEAD || c->state == CONN_RESPONDING ||
	    (c->state == CONN_FILE && (!clean || c->tls)))
		close_quietly(c, true);
}

static void on_timeout(void *arg)
{
	struct gw_conn *c = arg;
	if (c->state == CONN_FILE) {
		gw_log_debug("%s: static file: client stopped reading", c->tr.peer);
		close_quietly(c, true);
		return;
	}
	if (c->state != CONN_HEAD)
		return;
	struct evbuffer *in = gw_transport_input(&c->tr);
	if (in && evbuffer_get_length(in) > 0 && c->proto == PROTO_H1) {
		respond_error(c, 408, "request head not received in time");
		return;
	}
	/* A TLS handshake that never finished, or a silent client. */
	close_quietly(c, false);
}

static void on_gone(void *arg)
{
	maybe_free(arg);
}

static void on_drain(void *arg)
{
	struct gw_conn *c = arg;
	if (c->state == CONN_FILE)
		file_pump(c);
}

static const struct gw_transport_owner conn_owner = {
    .on_read = on_read,
    .on_eof = on_eof,
    .on_timeout = on_timeout,
    .on_gone = on_gone,
    .on_drain = on_drain,
};

void gw_conn_accept(struct gw_worker *w, const struct gw_lsock *ls, evutil_socket_t fd,
                    const struct sockaddr *sa, socklen_t salen, bool over_limit)
{
	struct gw_conn *c = calloc(1, sizeof(*c));
	size_t max_headers = (size_t)w->cfg->cfg->max_headers;
	SSL *ssl = NULL;
	if (c == NULL)
		goto fail;
	c->headers = calloc(max_headers ? max_headers : 1, sizeof(*c->headers));
	c->free_ev = event_new(w->base, -1, 0, free_cb, c);
	if (c->headers == NULL || c->free_ev == NULL)
		goto fail;
	if (ls->tls && (ssl = SSL_new(ls->tls)) == NULL)
		goto fail;
	c->w = w;
	c->cfg = w->cfg;
	gw_cfgref_get(c->cfg);
	c->tls = ls->tls != NULL;
	c->http2 = ls->http2;
	c->over_limit = over_limit;
	c->state = CONN_HEAD;
	c->file.fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &c->start);
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	w->n_conns++;
	if (gw_transport_init(&c->tr, w->base, fd, ssl, sa, salen, &conn_owner, c) != 0) {
		free_later(c); /* fd and ssl are closed by the transport */
		return;
	}
	gw_transport_set_deadline(&c->tr, c->cfg->cfg->handshake_timeout_ms);
	return;
fail:
	if (c) {
		if (c->free_ev)
			event_free(c->free_ev);
		free(c->headers);
		free(c);
	}
	close(fd);
	gw_server_conn_released(w, over_limit);
}

void gw_conn_drain(struct gw_worker *w, enum gw_conn_drain stage)
{
	/* Frees are deferred, so the list stays intact while we walk it. */
	for (struct gw_conn *c = w->conns; c; c = c->next) {
		switch (c->state) {
		case CONN_HEAD:
			close_quietly(c, false);
			break;
		case CONN_BACKEND:
			if (stage == GW_CONN_DRAIN_IDLE)
				break; /* let it become a session or fail on its own */
			gw_backend_free(c->backend);
			c->backend = NULL;
			respond_error(c, 503, "shutting down");
			break;
		case CONN_SESSION:
			if (c->session_done || c->session == NULL)
				break;
			if (stage == GW_CONN_DRAIN_GOING_AWAY)
				ws_session_close(c->session, 1001, "server shutting down", 20);
			else if (stage == GW_CONN_DRAIN_ABORT)
				ws_session_abort(c->session);
			break;
		case CONN_H2:
			if (c->h2)
				gw_h2_drain(c->h2, stage);
			break;
		case CONN_FILE:
		case CONN_RESPONDING:
			if (stage == GW_CONN_DRAIN_ABORT) {
				gw_transport_abort(&c->tr);
				maybe_free(c);
			}
			break;
		case CONN_DONE:
			break;
		}
	}
}
