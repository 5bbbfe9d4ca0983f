/* wsc_conn: the client context, connections (resolve, connect, TLS),
 * what HTTP/1.1 (wsc_h1.c) and HTTP/2 (wsc_h2.c) streams share, and the
 * deferred pass.
 *
 * Teardown is never done inside a call the owner made or inside a
 * libevent callback of the object being torn down: failures only mark
 * the connection DEAD (or a stream DONE) and activate the connection's
 * deferred event, whose pass reports to the owner and frees.  That keeps
 * every callback free to call back into the library.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "ws_close.h"
#include "ws_error.h"
#include "ws_h1_upgrade.h"
#include "wsc_int.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

static const struct ws_handler session_handler;
static void conn_free(struct wsc_conn *c);

/* ---- context ------------------------------------------------------------ */

int wsc_ctx_new(struct wsc_ctx **out, struct event_base *base, bool insecure, const char *ca_file)
{
	struct wsc_ctx *c;

	if (out == NULL || base == NULL)
		return WS_ERR_INVALID_ARG;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return WS_ERR_NOMEM;
	c->base = base;
	c->insecure = insecure;
	c->ssl_ctx = SSL_CTX_new(TLS_client_method());
	if (c->ssl_ctx == NULL)
		goto fail;
	SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
	if (ca_file != NULL ? SSL_CTX_load_verify_locations(c->ssl_ctx, ca_file, NULL) != 1
	                    : SSL_CTX_set_default_verify_paths(c->ssl_ctx) != 1)
		goto fail;
	SSL_CTX_set_verify(c->ssl_ctx, insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	*out = c;
	return WS_OK;
fail:
	if (c->ssl_ctx != NULL)
		SSL_CTX_free(c->ssl_ctx);
	free(c);
	return WS_ERR_INTERNAL;
}

void wsc_ctx_free(struct wsc_ctx *c)
{
	if (c == NULL)
		return;
	if (c->dns != NULL)
		evdns_base_free(c->dns, 1);
	SSL_CTX_free(c->ssl_ctx);
	free(c);
}

void wsc_options_default(struct wsc_options *o)
{
	memset(o, 0, sizeof(*o));
	ws_deflate_config_default(&o->deflate_cfg);
	o->connect_timeout_ms = 10000;
	o->handshake_timeout_ms = 10000;
	ws_session_options_default(&o->session);
}

/* ---- shared helpers ------------------------------------------------------ */

uint64_t wsc__now(const struct wsc_conn *c)
{
	return c->o.session.now_ms(c->o.session.now_ctx);
}

static void arm_ms(struct event *ev, uint64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	evtimer_add(ev, &tv);
}

void wsc__arm(struct wsc_stream *st, uint64_t deadline_ms)
{
	uint64_t now;

	if (deadline_ms == UINT64_MAX) {
		evtimer_del(st->timer);
		return;
	}
	now = wsc__now(st->c);
	arm_ms(st->timer, deadline_ms > now ? deadline_ms - now : 0);
}

void wsc__schedule(struct wsc_conn *c)
{
	if (!c->in_defer)
		event_active(c->defer, EV_TIMEOUT, 0);
}

void wsc__trace(struct wsc_conn *c, char dir, const char *a, size_t an, const char *b, size_t bn)
{
	char line[1024];
	int n;

	if (c->o.trace == NULL)
		return;
	if (b == NULL)
		n = snprintf(line, sizeof(line), "%.*s", (int)an, a);
	else
		n = snprintf(line, sizeof(line), "%.*s: %.*s", (int)an, a, (int)bn, b);
	if (n < 0)
		return;
	c->o.trace(c->o.trace_ud, dir, line,
	           (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static void vset_why(char *why, const char *fmt, va_list ap)
{
	vsnprintf(why, WSC_ERROR_TEXT_MAX, fmt, ap);
}

void wsc__conn_fail(struct wsc_conn *c, int err, const char *fmt, ...)
{
	va_list ap;

	if (c->state == WSC_CONN_DEAD)
		return;
	c->state = WSC_CONN_DEAD;
	c->err = err;
	va_start(ap, fmt);
	vset_why(c->why, fmt, ap);
	va_end(ap);
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	wsc__schedule(c);
}

/* A clean end: keep err and why as they are (an HTTP/1.1 connection
 * takes the outcome of its one stream). */
void wsc__conn_finish(struct wsc_conn *c)
{
	if (c->state == WSC_CONN_DEAD)
		return;
	c->state = WSC_CONN_DEAD;
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	wsc__schedule(c);
}

/* The stream's last callback, for streams without a running session. */
static void stream_report(struct wsc_stream *st)
{
	st->state = WSC_ST_DONE;
	evtimer_del(st->timer);
	if (st->cb.on_close != NULL)
		st->cb.on_close(st, st->ud, st->err, WS_CLOSE_ABNORMAL, NULL, 0);
	wsc__schedule(st->c);
}

/* A stream ends before (or instead of) its session: handshake refused,
 * timed out, or the connection went away. */
void wsc__stream_fail(struct wsc_stream *st, int err, const char *fmt, ...)
{
	va_list ap;

	if (st->state == WSC_ST_DONE)
		return;
	if (st->err == WS_OK) {
		st->err = err;
		va_start(ap, fmt);
		vset_why(st->why, fmt, ap);
		va_end(ap);
	}
	if (st->ws != NULL) {
		ws_session_abort(st->ws);
		return;
	}
	if (st->c->h2 != NULL)
		wsc_h2_abort_stream(st);
	else
		wsc__conn_fail(st->c, err, "%s", st->why);
	stream_report(st);
}

/* ---- session handler ----------------------------------------------------- */

static void sh_on_open(struct ws_session *s, void *ud)
{
	struct wsc_stream *st = ud;

	if (st->cb.on_open != NULL)
		st->cb.on_open(st, st->ud, st->res);
}

static int sh_on_message(struct ws_session *s, void *ud, enum ws_opcode op, const uint8_t *data,
                         size_t len, bool first, bool final)
{
	struct wsc_stream *st = ud;

	if (st->cb.on_message == NULL)
		return 0;
	return st->cb.on_message(st, st->ud, op, data, len, first, final);
}

static void sh_on_drain(struct ws_session *s, void *ud)
{
	struct wsc_stream *st = ud;

	if (st->cb.on_drain != NULL)
		st->cb.on_drain(st, st->ud);
}

static void sh_on_error(struct ws_session *s, void *ud, int err)
{
	struct wsc_stream *st = ud;

	if (st->err != WS_OK)
		return;
	st->err = err;
	if (err == WS_ERR_TRANSPORT && st->c->why[0] != '\0')
		snprintf(st->why, sizeof(st->why), "%s", st->c->why);
	else
		snprintf(st->why, sizeof(st->why), "%s", ws_strerror(err));
}

static void sh_on_close(struct ws_session *s, void *ud, uint16_t code, const uint8_t *reason,
                        size_t reason_len)
{
	struct wsc_stream *st = ud;

	st->state = WSC_ST_DONE;
	evtimer_del(st->timer);
	if (st->cb.on_close != NULL)
		st->cb.on_close(st, st->ud, st->err, code, reason, reason_len);
	/* libws defers the free until it unwinds out of this callback. */
	ws_session_free(st->ws);
	st->ws = NULL;
	/* Over HTTP/2 the stream lingers until the server ends it too; one
	 * that never does (or whose END_STREAM is stuck behind flow
	 * control) is reset when the linger runs out, so that a dead
	 * stream neither holds a concurrency slot nor keeps the
	 * connection from closing. */
	if (st->c->h2 != NULL && !st->h2_closed && st->c->state != WSC_CONN_DEAD)
		arm_ms(st->timer, WSC_H2_LINGER_MS);
	wsc__schedule(st->c);
}

static const struct ws_handler session_handler = {
    .on_open = sh_on_open,
    .on_message = sh_on_message,
    .on_drain = sh_on_drain,
    .on_error = sh_on_error,
    .on_close = sh_on_close,
};

/* The handshake succeeded: run a session over the stream. */
void wsc__stream_opened(struct wsc_stream *st, const struct ws_upgrade_result *res)
{
	struct wsc_conn *c = st->c;
	struct ws_session_options so = c->o.session;
	int rc;

	evtimer_del(st->timer);
	so.deflate = res->deflate;
	so.deflate_params = res->deflate_params;
	so.deflate_config = c->o.deflate_cfg;
	rc = ws_session_new(&st->ws, WS_ROLE_CLIENT, c->h2 != NULL ? &wsc_h2_ops : &wsc_h1_ops, st,
	                    &session_handler, st, &so);
	if (rc != WS_OK) {
		st->ws = NULL;
		wsc__stream_fail(st, rc, "session: %s", ws_strerror(rc));
		return;
	}
	st->state = WSC_ST_OPEN;
	st->res = res;
	ws_session_start(st->ws);
	st->res = NULL;
}

static void stream_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsc_stream *st = arg;

	if (st->ws != NULL)
		ws_session_tick(st->ws);
	else if (st->state == WSC_ST_DONE)
		wsc_h2_abort_stream(st); /* the linger after on_close ran out */
	else if (st->state == WSC_ST_HANDSHAKE)
		wsc__stream_fail(st, WS_ERR_TIMEOUT, "handshake: no response within %llu ms",
		                 (unsigned long long)st->c->o.handshake_timeout_ms);
}

/* ---- connection I/O ---------------------------------------------------- */

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct wsc_conn *c = arg;
	struct wsc_stream *st = c->streams;

	if (c->state == WSC_CONN_DEAD)
		return;
	if (c->h2 != NULL) {
		wsc_h2_on_read(c);
		return;
	}
	if (st == NULL) {
		evbuffer_drain(bufferevent_get_input(bev),
		               evbuffer_get_length(bufferevent_get_input(bev)));
		return;
	}
	if (st->state == WSC_ST_HANDSHAKE)
		wsc_h1_on_response(c, st);
	if (st->state == WSC_ST_OPEN)
		wsc_h1_feed(c);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct wsc_conn *c = arg;

	if (c->state == WSC_CONN_DEAD)
		return;
	if (c->h2 != NULL) {
		wsc_h2_flush(c);
		return;
	}
	if (c->blocked && c->streams != NULL && c->streams->ws != NULL) {
		c->blocked = false;
		ws_session_on_writable(c->streams->ws);
	}
}

static const char *tls_error_text(struct wsc_conn *c, char *buf, size_t len)
{
	unsigned long e = bufferevent_get_openssl_error(c->bev);
	long vr = c->ssl != NULL ? SSL_get_verify_result(c->ssl) : X509_V_OK;

	if (vr != X509_V_OK) {
		snprintf(buf, len, "certificate verification failed: %s",
		         X509_verify_cert_error_string(vr));
		return buf;
	}
	if (e != 0) {
		ERR_error_string_n(e, buf, len);
		return buf;
	}
	return NULL;
}

static void connected(struct wsc_conn *c)
{
	struct wsc_stream *st;

	if (c->ssl != NULL) {
		const unsigned char *alpn = NULL;
		unsigned alen = 0;

		SSL_get0_alpn_selected(c->ssl, &alpn, &alen);
		if (c->o.http2 && !(alen == 2 && memcmp(alpn, "h2", 2) == 0)) {
			wsc__conn_fail(
			    c, WS_ERR_TRANSPORT,
			    "server did not select HTTP/2 by ALPN (h2 not offered by it)");
			return;
		}
	}
	if (c->o.http2) {
		int rc = wsc_h2_start(c);

		if (rc != WS_OK)
			wsc__conn_fail(c, rc, "HTTP/2 setup failed: %s", ws_strerror(rc));
		return;
	}
	evtimer_del(c->timer);
	c->state = WSC_CONN_READY;
	if (c->cb.on_ready != NULL)
		c->cb.on_ready(c, c->ud);
	st = c->streams;
	if (c->state == WSC_CONN_READY && st != NULL && st->state == WSC_ST_WAITING)
		wsc_h1_send_request(st);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct wsc_conn *c = arg;
	char buf[256];
	const char *t;

	if (c->state == WSC_CONN_DEAD)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		connected(c);
		return;
	}
	if (c->state == WSC_CONN_CONNECTING) {
		int e = evutil_socket_geterror(c->fd);

		t = c->ssl != NULL ? tls_error_text(c, buf, sizeof(buf)) : NULL;
		if (t != NULL)
			wsc__conn_fail(c, WS_ERR_TRANSPORT, "TLS handshake with %s failed: %s",
			               c->url.authority, t);
		else
			wsc__conn_fail(c, WS_ERR_TRANSPORT, "connect to %s failed: %s",
			               c->url.authority,
			               e != 0 ? strerror(e) : "connection closed");
		return;
	}
	if (c->h2 != NULL) {
		wsc__conn_fail(c, WS_ERR_TRANSPORT, "HTTP/2 connection %s",
		               (what & BEV_EVENT_EOF) ? "closed by the server" : "failed");
		return;
	}
	/* HTTP/1.1: end of input for the session (after what is buffered). */
	c->eof = true;
	c->eof_clean = (what & BEV_EVENT_EOF) != 0 && (what & BEV_EVENT_ERROR) == 0;
	if (!c->eof_clean)
		snprintf(c->why, sizeof(c->why), "connection %s",
		         (what & BEV_EVENT_ERROR) ? "reset" : "closed");
	if (c->streams != NULL && c->streams->state == WSC_ST_HANDSHAKE) {
		read_cb(bev, c);
		if (c->streams != NULL && c->streams->state == WSC_ST_HANDSHAKE)
			wsc__stream_fail(c->streams, WS_ERR_TRANSPORT,
			                 "handshake: connection closed before the response");
		return;
	}
	if (c->streams == NULL || c->streams->ws == NULL) {
		c->close_req = true;
		wsc__schedule(c);
		return;
	}
	wsc_h1_feed(c);
}

static void conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsc_conn *c = arg;

	if (c->state == WSC_CONN_DRAINING) {
		wsc__conn_fail(c, WS_ERR_TIMEOUT, "close: GOAWAY not flushed within %d ms",
		               WSC_DRAIN_MS);
		return;
	}
	wsc__conn_fail(c, WS_ERR_TIMEOUT, "connect to %s timed out after %llu ms", c->url.authority,
	               (unsigned long long)c->o.connect_timeout_ms);
}

static bool host_is_ip(const char *h)
{
	unsigned char b[16];

	return inet_pton(AF_INET, h, b) == 1 || inet_pton(AF_INET6, h, b) == 1;
}

static SSL *make_ssl(struct wsc_conn *c)
{
	SSL *ssl = SSL_new(c->ctx->ssl_ctx);
	bool ip = host_is_ip(c->url.host);
	static const unsigned char alpn_h2[] = "\x02h2";
	static const unsigned char alpn_h1[] = "\x08http/1.1";

	if (ssl == NULL)
		return NULL;
	if (!ip)
		SSL_set_tlsext_host_name(ssl, c->url.host);
	if (!c->ctx->insecure) {
		if (ip)
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), c->url.host);
		else
			SSL_set1_host(ssl, c->url.host);
	}
	if (c->o.http2)
		SSL_set_alpn_protos(ssl, alpn_h2, sizeof(alpn_h2) - 1);
	else
		SSL_set_alpn_protos(ssl, alpn_h1, sizeof(alpn_h1) - 1);
	return ssl;
}

static void start_connect(struct wsc_conn *c, const struct sockaddr *sa, socklen_t salen)
{
	int one = 1;

	c->state = WSC_CONN_CONNECTING;
	c->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		wsc__conn_fail(c, WS_ERR_TRANSPORT, "socket: %s", strerror(errno));
		return;
	}
	if (sa->sa_family != AF_UNIX)
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (c->o.bind != NULL) {
		/* Let connect pick the port per destination, so many source
		 * addresses multiply the ports available. */
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(c->fd, c->o.bind, c->o.bind_len) != 0) {
			wsc__conn_fail(c, WS_ERR_TRANSPORT, "bind: %s", strerror(errno));
			return;
		}
	}
	if (c->url.tls) {
		c->ssl = make_ssl(c);
		if (c->ssl == NULL) {
			wsc__conn_fail(c, WS_ERR_INTERNAL, "TLS setup failed");
			return;
		}
		c->bev = bufferevent_openssl_socket_new(c->ctx->base, c->fd, c->ssl,
		                                        BUFFEREVENT_SSL_CONNECTING, 0);
		if (c->bev == NULL) {
			SSL_free(c->ssl);
			c->ssl = NULL;
		} else {
			bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
		}
	} else {
		c->bev = bufferevent_socket_new(c->ctx->base, c->fd, 0);
	}
	if (c->bev == NULL) {
		wsc__conn_fail(c, WS_ERR_NOMEM, "out of memory");
		return;
	}
	/* libevent reads 4 KiB at a time by default: far too little for
	 * 64 KiB messages. */
	bufferevent_set_max_single_read(c->bev, WSC_READ_MAX);
	bufferevent_set_max_single_write(c->bev, WSC_OUT_MAX);
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, WSC_OUT_MAX / 2, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(c->bev, sa, (int)salen) != 0)
		wsc__conn_fail(c, WS_ERR_TRANSPORT, "connect to %s failed: %s", c->url.authority,
		               strerror(errno));
}

static void dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct wsc_conn *c = arg;

	c->dns_req = NULL;
	if (c->zombie) {
		/* Cancelled by the deferred pass, which left the free to us. */
		conn_free(c);
		if (res != NULL)
			evutil_freeaddrinfo(res);
		return;
	}
	if (result != 0 || res == NULL) {
		wsc__conn_fail(c, WS_ERR_TRANSPORT, "cannot resolve %s: %s", c->url.host,
		               evutil_gai_strerror(result));
	} else if (c->state == WSC_CONN_RESOLVING) {
		start_connect(c, res->ai_addr, (socklen_t)res->ai_addrlen);
	}
	if (res != NULL)
		evutil_freeaddrinfo(res);
}

static void resolve(struct wsc_conn *c)
{
	struct evutil_addrinfo hints = {0};
	struct wsc_ctx *x = c->ctx;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
	if (x->dns == NULL)
		x->dns = evdns_base_new(x->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
		                                     EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (x->dns == NULL) {
		wsc__conn_fail(c, WS_ERR_TRANSPORT, "no resolver");
		return;
	}
	/* The callback may run before this returns (numeric hosts, hosts file). */
	c->dns_req = evdns_getaddrinfo(x->dns, c->url.host, c->url.port, &hints, dns_cb, c);
}

/* ---- the deferred pass --------------------------------------------------- */

static void stream_free(struct wsc_stream *st)
{
	struct wsc_conn *c = st->c;

	if (st->prev != NULL)
		st->prev->next = st->next;
	else
		c->streams = st->next;
	if (st->next != NULL)
		st->next->prev = st->prev;
	c->n_streams--;
	if (c->h2 != NULL)
		wsc_h2_stream_free(st);
	if (st->ws != NULL)
		ws_session_free(st->ws);
	event_free(st->timer);
	if (st->out != NULL)
		evbuffer_free(st->out);
	if (st->in != NULL)
		evbuffer_free(st->in);
	free(st->hs);
	free(st);
}

static void conn_free(struct wsc_conn *c)
{
	if (c->h2 != NULL)
		nghttp2_session_del(c->h2);
	/* Without BEV_OPT_CLOSE_ON_FREE the bufferevent leaves the SSL and
	 * the socket to us; it is not inside a callback here, so it is
	 * destroyed at once and nothing touches them after. */
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->fd >= 0)
		close(c->fd);
	event_free(c->timer);
	event_free(c->defer);
	free(c);
}

static void defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsc_conn *c = arg;
	struct wsc_stream *st, *next;

	c->in_defer = true;
	if (c->state != WSC_CONN_DEAD) {
		if (c->h2 != NULL)
			wsc_h2_deferred(c);
		else
			wsc_h1_feed(c);
	}
	if (c->state == WSC_CONN_DEAD) {
		/* Tell every stream, then the owner. */
		for (st = c->streams; st != NULL; st = st->next) {
			/* No HTTP/2 stream outlives its connection: a stream
			 * whose session ended while its END_STREAM or RST was
			 * still unsent (flow control, a server that stopped
			 * reading) would otherwise never be freed, and the
			 * connection never reported. */
			st->h2_closed = true;
			if (st->state == WSC_ST_DONE)
				continue;
			if (st->err == WS_OK) {
				st->err = c->err == WS_OK ? WS_ERR_TRANSPORT : c->err;
				snprintf(st->why, sizeof(st->why), "%s",
				         c->why[0] != '\0' ? c->why : "connection closed");
			}
			if (st->ws != NULL)
				ws_session_transport_closed(st->ws, false);
			else
				stream_report(st);
		}
	}
	for (st = c->streams; st != NULL; st = next) {
		next = st->next;
		if (st->state == WSC_ST_DONE && (st->h2_closed || c->h2 == NULL))
			stream_free(st);
	}
	c->in_defer = false;
	if (c->state != WSC_CONN_DEAD && c->streams == NULL && c->close_req) {
		if (c->h2 != NULL && c->state == WSC_CONN_READY) {
			/* A server that stopped reading gets WSC_DRAIN_MS to
			 * take the GOAWAY (conn_timer_cb). */
			c->state = WSC_CONN_DRAINING;
			arm_ms(c->timer, WSC_DRAIN_MS);
			wsc_h2_goaway(c);
		}
		if (c->state != WSC_CONN_DRAINING) {
			wsc__conn_finish(c);
		} else if (c->bev == NULL ||
		           evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
			wsc__conn_finish(c);
		} else {
			/* write_cb finishes once the GOAWAY is out. */
			bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
			bufferevent_enable(c->bev, EV_WRITE);
		}
	}
	if (c->state == WSC_CONN_DEAD && c->streams == NULL) {
		if (c->cb.on_close != NULL)
			c->cb.on_close(c, c->ud, c->err);
		if (c->dns_req != NULL) {
			/* evdns may run the callback later: it frees then. */
			c->zombie = true;
			evdns_getaddrinfo_cancel(c->dns_req);
			return;
		}
		conn_free(c);
		return;
	}
	if (c->state == WSC_CONN_DEAD)
		wsc__schedule(c); /* streams still unwinding */
}

/* ---- public -------------------------------------------------------------- */

int wsc_conn_new(struct wsc_conn **out, struct wsc_ctx *ctx, const struct wsc_url *u,
                 const struct wsc_options *o, const struct wsc_conn_cb *cb, void *ud)
{
	struct wsc_conn *c;

	if (out == NULL || ctx == NULL || u == NULL || o == NULL || o->session.now_ms == NULL)
		return WS_ERR_INVALID_ARG;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return WS_ERR_NOMEM;
	c->ctx = ctx;
	c->url = *u;
	c->o = *o;
	c->fd = -1;
	c->offer.subprotocols = o->subprotocols;
	c->offer.n_subprotocols = o->n_subprotocols;
	c->offer.deflate = o->deflate ? &c->o.deflate_cfg : NULL;
	if (cb != NULL)
		c->cb = *cb;
	c->ud = ud;
	c->timer = evtimer_new(ctx->base, conn_timer_cb, c);
	c->defer = event_new(ctx->base, -1, 0, defer_cb, c);
	if (c->timer == NULL || c->defer == NULL) {
		if (c->timer != NULL)
			event_free(c->timer);
		if (c->defer != NULL)
			event_free(c->defer);
		free(c);
		return WS_ERR_NOMEM;
	}
	if (o->connect_timeout_ms > 0)
		arm_ms(c->timer, o->connect_timeout_ms);
	*out = c;
	if (o->addr != NULL) {
		start_connect(c, o->addr, o->addr_len);
	} else {
		struct sockaddr_storage ss;
		int len = sizeof(ss);
		char hp[WSC_HOST_MAX + 10];

		snprintf(hp, sizeof(hp), "%s%s%s:%s", u->ipv6 ? "[" : "", u->host,
		         u->ipv6 ? "]" : "", u->port);
		c->state = WSC_CONN_RESOLVING;
		if (host_is_ip(u->host) &&
		    evutil_parse_sockaddr_port(hp, (struct sockaddr *)&ss, &len) == 0)
			start_connect(c, (struct sockaddr *)&ss, (socklen_t)len);
		else
			resolve(c);
	}
	return WS_OK;
}

void wsc_conn_close(struct wsc_conn *c, bool abort)
{
	if (c == NULL || c->state == WSC_CONN_DEAD)
		return;
	if (abort) {
		wsc__conn_finish(c);
		return;
	}
	c->close_req = true;
	wsc__schedule(c);
}

int wsc_stream_new(struct wsc_stream **out, struct wsc_conn *c, const struct wsc_stream_cb *cb,
                   void *ud)
{
	struct wsc_stream *st;

	if (out == NULL || c == NULL)
		return WS_ERR_INVALID_ARG;
	if (c->state == WSC_CONN_DEAD || c->state == WSC_CONN_DRAINING || c->close_req)
		return WS_ERR_CLOSED;
	if (!c->o.http2 && c->had_stream)
		return WS_ERR_INVALID_ARG;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return WS_ERR_NOMEM;
	st->timer = evtimer_new(c->ctx->base, stream_timer_cb, st);
	if (st->timer == NULL) {
		free(st);
		return WS_ERR_NOMEM;
	}
	st->c = c;
	st->id = -1;
	st->h2_closed = true;
	if (cb != NULL)
		st->cb = *cb;
	st->ud = ud;
	st->next = c->streams;
	if (c->streams != NULL)
		c->streams->prev = st;
	c->streams = st;
	c->n_streams++;
	c->had_stream = true;
	*out = st;
	if (c->state == WSC_CONN_READY) {
		if (c->h2 != NULL)
			wsc_h2_submit(st);
		else
			wsc_h1_send_request(st);
	}
	return WS_OK;
}

/* wsc_h2.c calls this when SETTINGS allowed extended CONNECT. */
void wsc__conn_ready(struct wsc_conn *c)
{
	struct wsc_stream *st;

	evtimer_del(c->timer);
	c->state = WSC_CONN_READY;
	if (c->cb.on_ready != NULL)
		c->cb.on_ready(c, c->ud);
	for (st = c->streams; st != NULL && c->state == WSC_CONN_READY; st = st->next)
		if (st->state == WSC_ST_WAITING)
			wsc_h2_submit(st);
}

int wsc_stream_send(struct wsc_stream *st, enum ws_opcode op, const uint8_t *data, size_t len)
{
	if (st == NULL)
		return WS_ERR_INVALID_ARG;
	if (st->ws == NULL)
		return st->state == WSC_ST_DONE ? WS_ERR_CLOSED : WS_ERR_AGAIN;
	return ws_session_send(st->ws, op, data, len);
}

int wsc_stream_close(struct wsc_stream *st, unsigned code, const char *reason, size_t len)
{
	if (st == NULL || st->state == WSC_ST_DONE)
		return WS_ERR_CLOSED;
	if (st->ws != NULL)
		return ws_session_close(st->ws, code, reason, len);
	wsc__stream_fail(st, WS_ERR_CLOSED, "closed before the handshake completed");
	return WS_OK;
}

struct ws_session *wsc_stream_session(struct wsc_stream *st)
{
	return st != NULL ? st->ws : NULL;
}

struct wsc_conn *wsc_stream_conn(struct wsc_stream *st)
{
	return st->c;
}

const char *wsc_stream_error_text(const struct wsc_stream *st)
{
	return st->why;
}

const char *wsc_conn_error_text(const struct wsc_conn *c)
{
	return c->why;
}

bool wsc_conn_is_h2(const struct wsc_conn *c)
{
	return c->o.http2;
}
