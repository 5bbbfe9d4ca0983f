/* gw_transport: TCP/TLS stream under a session (see gw_transport.h). */
#include "gw_transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "gw_tls.h"
#include "ws_error.h"

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void arm_ms(struct event *ev, uint64_t ms)
{
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
	                     .tv_usec = (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(ev, &tv);
}

static void format_peer(char *out, size_t n, const struct sockaddr *sa, socklen_t salen)
{
	char host[INET6_ADDRSTRLEN];
	if (sa == NULL || salen == 0) {
		snprintf(out, n, "-");
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		snprintf(out, n, "%s:%u", host, ntohs(s4->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		snprintf(out, n, "[%s]:%u", host, ntohs(s6->sin6_port));
	} else if (sa->sa_family == AF_UNIX) {
		/* Clients of a unix listener are usually unnamed. */
		snprintf(out, n, "unix");
	} else {
		snprintf(out, n, "?");
	}
}

/* Close the stream at once; rst asks TCP for a reset instead of a FIN. */
static void close_now(struct gw_transport *t, bool rst)
{
	if (!gw_sock_open(&t->sock))
		return;
	gw_sock_close(&t->sock, rst);
	t->state = GW_TRANSPORT_CLOSED;
	evtimer_del(t->timer);
	if (t->watch)
		evtimer_del(t->watch);
}

/* Called from event callbacks only: ends the stream and tells the owner.
 * t may be freed by on_gone, so nothing touches it afterwards. */
static void gone(struct gw_transport *t, bool rst)
{
	close_now(t, rst);
	t->owner->on_gone(t->arg);
}

/* Output drained after finish: send TLS close_notify and a FIN, then
 * wait for the peer's end so that our last bytes are not lost to a reset. */
static void shut_write(struct gw_transport *t)
{
	gw_sock_shutdown_write(&t->sock);
	t->state = GW_TRANSPORT_LINGER;
	gw_sock_read(&t->sock, true);
}

static void deliver_eof(struct gw_transport *t, bool clean)
{
	t->eof_pending = false;
	ws_session_transport_closed(t->session, clean);
}

/* ---- paused input: noticing that the peer left ---- */

static void watch_start(struct gw_transport *t)
{
	if (t->watch == NULL || evtimer_pending(t->watch, NULL))
		return;
	t->peer_fin = false;
	t->probe_at = now_ms() + GW_TRANSPORT_PAUSE_PROBE_MS;
	arm_ms(t->watch, GW_TRANSPORT_PAUSE_CHECK_MS);
}

static void watch_stop(struct gw_transport *t)
{
	if (t->watch)
		evtimer_del(t->watch);
}

/* A timer, not an EV_CLOSED event on the socket: libevent reports a
 * reset (EPOLLHUP|EPOLLERR) only to read and write events, so an
 * EV_CLOSED-only event would leave the loop spinning on a reset socket,
 * and a read event would fire for every byte we are not taking. */
static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_transport *t = arg;
	if (!gw_sock_open(&t->sock) || t->state != GW_TRANSPORT_OPEN || t->session == NULL ||
	    !ws_session_paused(t->session))
		return;
	struct pollfd p = {.fd = t->sock.fd, .events = POLLRDHUP};
	if (poll(&p, 1, 0) < 0)
		p.revents = 0;
	if (p.revents & (POLLERR | POLLHUP | POLLNVAL)) {
		/* Reset: nothing reaches the peer any more, nor comes from it. */
		deliver_eof(t, false);
		return;
	}
	uint64_t now = now_ms();
	/* Right after a FIN the probe tells a closed peer (whose kernel
	 * answers data with a reset) from one that only half-closed. */
	bool fin = (p.revents & POLLRDHUP) != 0 && !t->peer_fin;
	if (fin)
		t->peer_fin = true;
	if ((fin || now >= t->probe_at) && gw_transport_output_len(t) == 0 &&
	    ws_session_queued(t->session) == 0) {
		/* Output already pending needs no probe: a peer that closed
		 * with our bytes unread has sent its reset by itself. */
		t->probe_at = now + GW_TRANSPORT_PAUSE_PROBE_MS;
		ws_session_ping(t->session, NULL, 0);
		if (!gw_sock_open(&t->sock) || t->state != GW_TRANSPORT_OPEN || t->session == NULL)
			return; /* the send failed and ended the session */
	}
	arm_ms(t->watch, GW_TRANSPORT_PAUSE_CHECK_MS);
}

void gw_transport_feed(struct gw_transport *t)
{
	if (!gw_sock_open(&t->sock))
		return;
	struct evbuffer *in = t->sock.in;
	while (t->session && t->state == GW_TRANSPORT_OPEN) {
		size_t n = evbuffer_get_length(in);
		if (n == 0) {
			if (t->eof_pending)
				deliver_eof(t, t->eof_clean);
			return;
		}
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			return;
		/* The session unmasks in place; the evbuffer chain is ours. */
		ssize_t r = ws_session_feed(t->session, v.iov_base, v.iov_len);
		if (!gw_sock_open(&t->sock))
			return; /* aborted from inside the session */
		if (r < 0)
			break; /* protocol error: the session is closing */
		evbuffer_drain(in, (size_t)r);
		if ((size_t)r < v.iov_len)
			return; /* paused: want_read(true) brings us back */
	}
	/* Closing: what is left is not for anyone. */
	if (gw_sock_open(&t->sock) && t->state != GW_TRANSPORT_OPEN)
		evbuffer_drain(in, evbuffer_get_length(in));
}

static void read_cb(struct gw_sock *sock, void *arg)
{
	struct gw_transport *t = arg;
	if (t->state != GW_TRANSPORT_OPEN) {
		evbuffer_drain(sock->in, evbuffer_get_length(sock->in));
		return;
	}
	if (t->session)
		gw_transport_feed(t);
	else
		t->owner->on_read(t->arg);
}

static void write_cb(struct gw_sock *sock, void *arg)
{
	struct gw_transport *t = arg;
	if (t->state == GW_TRANSPORT_FLUSHING) {
		if (evbuffer_get_length(sock->out) == 0)
			shut_write(t);
		return;
	}
	if (t->state == GW_TRANSPORT_OPEN && t->blocked && t->session) {
		t->blocked = false;
		if (ws_session_on_writable(t->session) < 0 && gw_sock_open(&t->sock))
			gw_transport_abort(t);
		return;
	}
	if (t->state == GW_TRANSPORT_OPEN && t->session == NULL && t->owner->on_drain)
		t->owner->on_drain(t->arg);
}

static void event_cb(struct gw_sock *sock, enum gw_sock_event what, void *arg)
{
	struct gw_transport *t = arg;
	if (what == GW_SOCK_CONNECTED)
		return;
	bool clean = what == GW_SOCK_EOF;
	switch (t->state) {
	case GW_TRANSPORT_OPEN:
		if (t->session) {
			if (clean && evbuffer_get_length(sock->in) > 0 &&
			    ws_session_paused(t->session)) {
				/* Deliver the end after the input already read (a
				 * reset ends the session now: nothing can be
				 * answered, and a stuck app would hold it forever). */
				t->eof_pending = true;
				t->eof_clean = clean;
				gw_sock_read(sock, false);
				return;
			}
			gw_transport_feed(t);
			if (t->session && t->state == GW_TRANSPORT_OPEN && clean &&
			    ws_session_close_code_received(t->session) != 0) {
				/* A peer that sent its close and then shut its
				 * sending side still reads our close (the app may
				 * defer the echo); the close timeout bounds it. */
				gw_sock_read(sock, false);
				return;
			}
			if (t->session && t->state == GW_TRANSPORT_OPEN)
				deliver_eof(t, clean);
		} else {
			gw_sock_read(sock, false);
			t->owner->on_eof(t->arg, clean);
		}
		return;
	case GW_TRANSPORT_FLUSHING:
		if (clean) {
			/* Only the peer's sending side is shut: it still
			 * reads, so the flush goes on (the linger timer
			 * bounds it) instead of dropping our last bytes. */
			gw_sock_read(sock, false);
			return;
		}
		gone(t, true);
		return;
	case GW_TRANSPORT_LINGER:
		/* The peer is gone: nothing more can be delivered. */
		gone(t, !clean);
		return;
	case GW_TRANSPORT_CLOSED:
		return;
	}
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_transport *t = arg;
	switch (t->state) {
	case GW_TRANSPORT_OPEN:
		if (t->session)
			ws_session_tick(t->session);
		else
			t->owner->on_timeout(t->arg);
		return;
	case GW_TRANSPORT_FLUSHING:
	case GW_TRANSPORT_LINGER:
		/* A peer that neither reads nor closes gets a reset. */
		gone(t, true);
		return;
	case GW_TRANSPORT_CLOSED:
		return;
	}
}

int gw_transport_init(struct gw_transport *t, struct event_base *base, evutil_socket_t fd, SSL *ssl,
                      const struct sockaddr *sa, socklen_t salen,
                      const struct gw_transport_owner *owner, void *arg)
{
	memset(t, 0, sizeof(*t));
	t->base = base;
	t->owner = owner;
	t->arg = arg;
	format_peer(t->peer, sizeof(t->peer), sa, salen);
	if (sa && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)) {
		/* Frames are written whole in one go; Nagle would only hold the
		 * last segment of each back for the peer's delayed ACK. */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	t->timer = evtimer_new(base, timer_cb, t);
	t->watch = evtimer_new(base, watch_cb, t);
	if (t->timer == NULL || t->watch == NULL)
		goto fail;
	/* Browsers and many clients drop TCP without close_notify; gw_sock
	 * takes that as an ordinary end of stream, not an attack on framing
	 * (WebSocket frames carry their own lengths). */
	if (ssl)
		SSL_set_accept_state(ssl);
	if (gw_sock_init(&t->sock, base, fd, ssl) != 0) {
		ssl = NULL; /* closed by gw_sock_init */
		fd = -1;
		goto fail;
	}
	struct gw_sock_cbs cb = {read_cb, write_cb, event_cb, t};
	gw_sock_setcb(&t->sock, &cb);
	t->sock.out_low = GW_TRANSPORT_OUT_MAX / 2;
	gw_sock_read(&t->sock, true);
	t->state = GW_TRANSPORT_OPEN;
	return 0;
fail:
	if (t->timer)
		event_free(t->timer);
	t->timer = NULL;
	if (t->watch)
		event_free(t->watch);
	t->watch = NULL;
	if (ssl)
		SSL_free(ssl);
	if (fd >= 0)
		close(fd);
	t->state = GW_TRANSPORT_CLOSED;
	return -1;
}

void gw_transport_cleanup(struct gw_transport *t)
{
	close_now(t, true);
	if (t->timer)
		event_free(t->timer);
	t->timer = NULL;
	if (t->watch)
		event_free(t->watch);
	t->watch = NULL;
}

struct evbuffer *gw_transport_input(struct gw_transport *t)
{
	return gw_sock_open(&t->sock) ? t->sock.in : NULL;
}

struct evbuffer *gw_transport_output(struct gw_transport *t)
{
	return gw_sock_open(&t->sock) ? t->sock.out : NULL;
}

int gw_transport_write(struct gw_transport *t, const void *data, size_t len)
{
	if (!gw_sock_open(&t->sock) || t->state != GW_TRANSPORT_OPEN)
		return -1;
	return gw_sock_write(&t->sock, data, len);
}

size_t gw_transport_output_len(struct gw_transport *t)
{
	return gw_sock_open(&t->sock) ? evbuffer_get_length(t->sock.out) : 0;
}

void gw_transport_set_deadline(struct gw_transport *t, uint64_t ms)
{
	if (ms == 0)
		evtimer_del(t->timer);
	else
		arm_ms(t->timer, ms);
}

void gw_transport_read(struct gw_transport *t, bool on)
{
	gw_sock_read(&t->sock, on);
}

void gw_transport_attach(struct gw_transport *t, struct ws_session *s)
{
	t->session = s;
	evtimer_del(t->timer);
}

void gw_transport_detach(struct gw_transport *t)
{
	t->session = NULL;
}

void gw_transport_finish(struct gw_transport *t)
{
	if (!gw_sock_open(&t->sock) || t->state != GW_TRANSPORT_OPEN)
		return;
	t->state = GW_TRANSPORT_FLUSHING;
	t->sock.out_low = 0;
	arm_ms(t->timer, GW_TRANSPORT_LINGER_MS);
	/* Keep reading (and discarding) so that a peer still sending cannot
	 * make the kernel answer our close with a reset. */
	gw_sock_read(&t->sock, true);
	if (evbuffer_get_length(t->sock.out) == 0)
		shut_write(t);
}

void gw_transport_abort(struct gw_transport *t)
{
	close_now(t, true);
}

bool gw_transport_closed(const struct gw_transport *t)
{
	return !gw_sock_open(&t->sock);
}

bool gw_transport_alpn_h2(const struct gw_transport *t)
{
	return t->sock.ssl != NULL && gw_tls_selected_h2(t->sock.ssl);
}

/* ---- ws_transport_ops ---- */

static ssize_t tr_send(void *handle, const struct iovec *iov, int iovcnt)
{
	struct gw_transport *t = handle;
	if (!gw_sock_open(&t->sock) || t->state != GW_TRANSPORT_OPEN)
		return WS_ERR_TRANSPORT;
	size_t have = evbuffer_get_length(t->sock.out);
	size_t room = have < GW_TRANSPORT_OUT_MAX ? GW_TRANSPORT_OUT_MAX - have : 0;
	size_t taken = 0, total = 0;
	struct iovec part[16];
	int n = 0;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	/* The session gathers a frame header and its payload (a handful of
	 * pieces); take what fits, in pieces of at most 16 per write. */
	for (int i = 0; i < iovcnt && taken < room; i++) {
		size_t len = iov[i].iov_len;
		if (len > room - taken)
			len = room - taken;
		part[n].iov_base = iov[i].iov_base;
		part[n].iov_len = len;
		taken += len;
		if (++n == (int)(sizeof(part) / sizeof(part[0])) || i == iovcnt - 1 ||
		    taken == room) {
			if (gw_sock_writev(&t->sock, part, n) < 0)
				return WS_ERR_TRANSPORT;
			n = 0;
		}
	}
	if (taken < total)
		t->blocked = true;
	return (ssize_t)taken;
}

static void tr_want_read(void *handle, bool on)
{
	struct gw_transport *t = handle;
	if (!gw_sock_open(&t->sock) || t->state != GW_TRANSPORT_OPEN)
		return;
	if (!on) {
		gw_sock_read(&t->sock, false);
		if (t->session && ws_session_paused(t->session))
			watch_start(t);
		return;
	}
	watch_stop(t);
	if (!t->eof_pending)
		gw_sock_read(&t->sock, true);
	/* Input read while paused would otherwise wait for new bytes that
	 * may never come: run the read callback from the loop, not from
	 * inside the session call that resumed us. */
	if (evbuffer_get_length(t->sock.in) > 0 || t->eof_pending)
		gw_sock_trigger_read(&t->sock);
}

static void tr_close(void *handle, bool clean)
{
	struct gw_transport *t = handle;
	if (clean)
		gw_transport_finish(t);
	else
		gw_transport_abort(t);
}

static void tr_set_timer(void *handle, uint64_t deadline_ms)
{
	struct gw_transport *t = handle;
	if (t->state != GW_TRANSPORT_OPEN)
		return; /* the timer is the linger timer now */
	if (deadline_ms == UINT64_MAX) {
		evtimer_del(t->timer);
		return;
	}
	uint64_t now = now_ms();
	arm_ms(t->timer, deadline_ms > now ? deadline_ms - now : 0);
}

static const char *tr_peer(void *handle)
{
	struct gw_transport *t = handle;
	return t->peer;
}

const struct ws_transport_ops gw_transport_ops = {
    .send = tr_send,
    .want_read = tr_want_read,
    .close = tr_close,
    .set_timer = tr_set_timer,
    .peer = tr_peer,
};
