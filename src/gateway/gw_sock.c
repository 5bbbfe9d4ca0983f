/* gw_sock: edge-triggered socket with evbuffers (see gw_sock.h).
 *
 * Activations the code makes itself (a flush, a read continuation, a
 * trigger) pass EV_TIMEOUT, so that they are never mistaken for the
 * kernel's readiness edges (EV_READ, EV_WRITE, EV_CLOSED).
 */
#include "gw_sock.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

/* Most output chunks gathered into one writev. */
#define WRITE_IOV 64

static void dispatch(evutil_socket_t fd, short what, void *arg);

static void schedule(struct gw_sock *s)
{
	if (s->ev)
		event_active(s->ev, EV_TIMEOUT, 1);
}

/* Flushes due when the running socket callback returns (per thread: one
 * event loop each). */
static _Thread_local struct gw_sock *eager_head, *eager_tail;
static _Thread_local unsigned dispatch_depth;
static _Thread_local bool eager_draining;

static void eager_unlink(struct gw_sock *s)
{
	if (!s->on_eager)
		return;
	if (s->eager_prev)
		s->eager_prev->eager_next = s->eager_next;
	else
		eager_head = s->eager_next;
	if (s->eager_next)
		s->eager_next->eager_prev = s->eager_prev;
	else
		eager_tail = s->eager_prev;
	s->eager_prev = s->eager_next = NULL;
	s->on_eager = false;
}

static void eager_add(struct gw_sock *s)
{
	s->eager_prev = eager_tail;
	s->eager_next = NULL;
	if (eager_tail)
		eager_tail->eager_next = s;
	else
		eager_head = s;
	eager_tail = s;
	s->on_eager = true;
}

/* Run the flushes queued by the callback that just returned; they may
 * queue more, taken in the same pass. */
static void eager_drain(void)
{
	struct gw_sock *s;
	if (eager_draining)
		return;
	eager_draining = true;
	while ((s = eager_head) != NULL) {
		eager_unlink(s);
		dispatch(s->fd, EV_TIMEOUT, s);
	}
	eager_draining = false;
}

int gw_sock_init(struct gw_sock *s, struct event_base *base, evutil_socket_t fd, SSL *ssl)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->can_write = true;
	s->in = evbuffer_new();
	s->out = evbuffer_new();
	s->ev =
	    event_new(base, fd, EV_READ | EV_WRITE | EV_CLOSED | EV_PERSIST | EV_ET, dispatch, s);
	if (s->in == NULL || s->out == NULL || s->ev == NULL || event_add(s->ev, NULL) != 0) {
		if (s->ev)
			event_free(s->ev);
		if (s->in)
			evbuffer_free(s->in);
		if (s->out)
			evbuffer_free(s->out);
		if (ssl)
			SSL_free(ssl);
		close(fd);
		memset(s, 0, sizeof(*s));
		s->fd = -1;
		return -1;
	}
	if (ssl) {
		SSL_set_fd(ssl, fd);
		s->ssl = ssl;
	}
	return 0;
}

int gw_sock_init_connecting(struct gw_sock *s, struct event_base *base, evutil_socket_t fd)
{
	if (gw_sock_init(s, base, fd, NULL) != 0)
		return -1;
	s->connecting = true;
	s->can_write = false;
	return 0;
}

void gw_sock_close(struct gw_sock *s, bool rst)
{
	if (s->ev == NULL)
		return;
	if (s->alive)
		*s->alive = false;
	s->alive = NULL;
	eager_unlink(s);
	event_free(s->ev);
	s->ev = NULL;
	if (rst) {
		struct linger lg = {.l_onoff = 1, .l_linger = 0};
		setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	}
	if (s->ssl)
		SSL_free(s->ssl);
	s->ssl = NULL;
	close(s->fd);
	s->fd = -1;
	evbuffer_free(s->in);
	evbuffer_free(s->out);
	s->in = s->out = NULL;
}

void gw_sock_setcb(struct gw_sock *s, const struct gw_sock_cbs *cb)
{
	s->cb = *cb;
}

static bool read_room(const struct gw_sock *s)
{
	return s->in_max == 0 || evbuffer_get_length(s->in) < s->in_max;
}

static bool read_possible(const struct gw_sock *s)
{
	return s->reading && !s->read_ended && !s->connecting && read_room(s) &&
	       (s->can_read || (s->ssl && SSL_has_pending(s->ssl)));
}

void gw_sock_read(struct gw_sock *s, bool on)
{
	s->reading = on;
	if (on && read_possible(s))
		schedule(s);
}

void gw_sock_trigger_read(struct gw_sock *s)
{
	s->read_trigger = true;
	schedule(s);
}

void gw_sock_flush(struct gw_sock *s)
{
	/* While connecting, connect_done flushes what was queued. */
	if (s->ev == NULL || s->connecting || s->flush_due ||
	    (evbuffer_get_length(s->out) == 0 && !s->wrote_direct))
		return;
	s->flush_due = true;
	if (dispatch_depth > 0 && !s->batch_turn)
		eager_add(s);
	else
		schedule(s);
}

/* A direct write is worth it only for a large write to an idle
 * cleartext socket: smaller ones are cheaper to copy and batch. */
static bool direct_ok(const struct gw_sock *s, size_t len)
{
	return len >= GW_SOCK_DIRECT_MIN && s->ssl == NULL && s->can_write && !s->connecting &&
	       !s->write_ended && evbuffer_get_length(s->out) == 0;
}

/* Write iov straight to the kernel; returns the bytes it took (0 on
 * would-block or error: the flush from the loop reports errors). */
static size_t write_direct(struct gw_sock *s, const struct iovec *iov, int iovcnt, size_t len)
{
	struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)iovcnt};
	ssize_t n = sendmsg(s->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			s->can_write = false;
		return 0;
	}
	if ((size_t)n < len)
		s->can_write = false;
	return (size_t)n;
}

int gw_sock_writev(struct gw_sock *s, const struct iovec *iov, int iovcnt)
{
	if (s->ev == NULL || s->write_ended)
		return -1;
	size_t total = 0, skip = 0;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (direct_ok(s, total)) {
		skip = write_direct(s, iov, iovcnt, total);
		/* Even when the kernel took it all, on_write is owed: the
		 * caller may be waiting for it to queue more. */
		s->wrote_direct = skip > 0;
	}
	for (int i = 0; i < iovcnt; i++) {
		size_t n = iov[i].iov_len;
		const uint8_t *p = iov[i].iov_base;
		if (skip >= n) {
			skip -= n;
			continue;
		}
		if (evbuffer_add(s->out, p + skip, n - skip) != 0)
			return -1;
		skip = 0;
	}
	gw_sock_flush(s);
	return (int)total;
}

int gw_sock_write(struct gw_sock *s, const void *data, size_t len)
{
	struct iovec v = {.iov_base = (void *)data, .iov_len = len};
	return gw_sock_writev(s, &v, 1) < 0 ? -1 : 0;
}

void gw_sock_shutdown_write(struct gw_sock *s)
{
	if (s->ev == NULL)
		return;
	if (s->ssl && !s->write_ended) {
		/* One non-blocking attempt: the record is tiny and the send
		 * buffer is empty now; a failure only costs the alert. */
		SSL_shutdown(s->ssl);
		ERR_clear_error();
	}
	s->write_ended = true;
	shutdown(s->fd, SHUT_WR);
}

/* A failure: nothing more moves either way; reported after this turn. */
static void fail(struct gw_sock *s, int err)
{
	s->error = err;
	s->failed = true;
	s->read_ended = true;
	s->write_ended = true;
	evbuffer_drain(s->out, evbuffer_get_length(s->out));
}

/* TLS read/write outcome that is neither data nor would-block. */
static void tls_fail_or_eof(struct gw_sock *s, int sslerr, bool reading)
{
	unsigned long e = ERR_peek_error();
	int saved = errno;
	ERR_clear_error();
	/* A peer that drops TCP without close_notify (OpenSSL 3 calls it an
	 * unexpected EOF) ends the stream like a FIN would. */
	if (reading && (sslerr == SSL_ERROR_ZERO_RETURN ||
	                (sslerr == SSL_ERROR_SYSCALL && e == 0 && saved == 0) ||
	                (sslerr == SSL_ERROR_SSL &&
	                 ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING))) {
		s->read_ended = true;
		return;
	}
	fail(s, sslerr == SSL_ERROR_SYSCALL ? saved : 0);
}

static void write_plain(struct gw_sock *s)
{
	struct evbuffer_iovec v[WRITE_IOV];
	struct iovec iov[WRITE_IOV];
	int n = evbuffer_peek(s->out, -1, NULL, v, WRITE_IOV);
	if (n > WRITE_IOV)
		n = WRITE_IOV;
	size_t want = 0;
	for (int i = 0; i < n; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
		want += v[i].iov_len;
	}
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
	ssize_t w = sendmsg(s->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (w < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			s->can_write = false;
		else if (errno != EINTR)
			fail(s, errno);
		return;
	}
	evbuffer_drain(s->out, (size_t)w);
	if ((size_t)w < want)
		s->can_write = false; /* the kernel is full: wait for the edge */
}

static void write_tls(struct gw_sock *s)
{
	size_t len = evbuffer_get_length(s->out);
	/* After WANT_WRITE, OpenSSL wants the same length again (the bytes
	 * are the same: they stay at the front of the output). */
	size_t n =
	    s->tls_pending ? s->tls_pending : (len < GW_SOCK_TLS_RECORD ? len : GW_SOCK_TLS_RECORD);
	const uint8_t *p = evbuffer_pullup(s->out, (ev_ssize_t)n);
	if (p == NULL) {
		fail(s, ENOMEM);
		return;
	}
	ERR_clear_error();
	int r = SSL_write(s->ssl, p, (int)n);
	if (r > 0) {
		s->tls_pending = 0;
		evbuffer_drain(s->out, (size_t)r);
		return;
	}
	int e = SSL_get_error(s->ssl, r);
	s->tls_pending = n;
	if (e == SSL_ERROR_WANT_WRITE)
		s->can_write = false;
	else if (e == SSL_ERROR_WANT_READ)
		s->tls_write_blocked = true;
	else
		tls_fail_or_eof(s, e, false);
}

/* Write what is queued while the kernel takes it.  Returns true when
 * something was written. */
static bool do_write(struct gw_sock *s)
{
	size_t before = evbuffer_get_length(s->out);
	bool wrote = s->wrote_direct;
	s->flush_due = false;
	s->wrote_direct = false;
	if (s->write_ended) {
		evbuffer_drain(s->out, before);
		return false;
	}
	s->tls_write_blocked = false;
	while (evbuffer_get_length(s->out) > 0 && s->can_write && !s->write_ended &&
	       !s->tls_write_blocked) {
		if (s->ssl)
			write_tls(s);
		else
			write_plain(s);
	}
	return wrote || evbuffer_get_length(s->out) < before;
}

static size_t read_into(struct gw_sock *s, size_t want);

/* One read into the input.  Returns the bytes added (0: none). */
static size_t read_once(struct gw_sock *s, size_t want)
{
	size_t got = read_into(s, want);
	/* A read that found nothing leaves its reserved chunk behind; an
	 * idle socket must not keep 64 KiB for nothing. */
	if (got == 0 && evbuffer_get_length(s->in) == 0)
		evbuffer_drain(s->in, 0);
	return got;
}

static size_t read_into(struct gw_sock *s, size_t want)
{
	struct evbuffer_iovec v;
	if (evbuffer_reserve_space(s->in, (ev_ssize_t)want, &v, 1) < 1) {
		fail(s, ENOMEM);
		return 0;
	}
	if (v.iov_len > want)
		v.iov_len = want;
	if (s->ssl) {
		ERR_clear_error();
		int r = SSL_read(s->ssl, v.iov_base, (int)v.iov_len);
		if (r > 0) {
			v.iov_len = (size_t)r;
			evbuffer_commit_space(s->in, &v, 1);
			return (size_t)r;
		}
		int e = SSL_get_error(s->ssl, r);
		if (e == SSL_ERROR_WANT_READ)
			s->can_read = false;
		else if (e == SSL_ERROR_WANT_WRITE)
			s->tls_read_blocked = true;
		else
			tls_fail_or_eof(s, e, true);
		return 0;
	}
	ssize_t r = recv(s->fd, v.iov_base, v.iov_len, MSG_DONTWAIT);
	if (r > 0) {
		size_t got = (size_t)r;
		v.iov_len = got;
		evbuffer_commit_space(s->in, &v, 1);
		/* A short read drained the socket, unless a FIN is behind the
		 * data: the next read finds it (its edge was this one). */
		if (got < want && !s->peer_fin)
			s->can_read = false;
		return got;
	}
	if (r == 0)
		s->read_ended = true;
	else if (errno == EAGAIN || errno == EWOULDBLOCK)
		s->can_read = false;
	else if (errno != EINTR)
		fail(s, errno);
	return 0;
}

/* Read up to one chunk.  Returns the bytes added. */
static size_t do_read(struct gw_sock *s)
{
	size_t added = 0, chunk = s->read_chunk ? s->read_chunk : GW_SOCK_READ_CHUNK;
	s->tls_read_blocked = false;
	while (added < chunk && read_possible(s) && !s->tls_read_blocked) {
		size_t want = chunk - added;
		if (s->in_max > 0) {
			size_t room = s->in_max - evbuffer_get_length(s->in);
			if (room < want)
				want = room;
		}
		size_t got = read_once(s, want);
		if (got == 0)
			break;
		added += got;
		if (s->ssl == NULL)
			break; /* one recv per turn: the chunk is all a turn takes */
	}
	return added;
}

static void connect_done(struct gw_sock *s, bool *alive)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err == EINPROGRESS || err == EALREADY)
		return;
	s->connecting = false;
	if (err != 0) {
		fail(s, err);
		s->event_told = true;
		s->cb.on_event(s, GW_SOCK_ERROR, s->cb.arg);
		return;
	}
	s->can_write = true;
	s->cb.on_event(s, GW_SOCK_CONNECTED, s->cb.arg);
	if (*alive && evbuffer_get_length(s->out) > 0)
		gw_sock_flush(s);
}

/* The address of the local `alive` is kept in s only while this call
 * runs: gw_sock_close clears it, and so does the end of the call. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
static void dispatch(evutil_socket_t fd, short what, void *arg)
{
	struct gw_sock *s = arg;
	bool alive = true;
	s->alive = &alive;
	dispatch_depth++;

	if (what & EV_CLOSED)
		s->peer_fin = true;
	if (what & (EV_READ | EV_CLOSED))
		s->can_read = true;
	if (what & EV_WRITE)
		s->can_write = true;
	if (s->connecting) {
		if (what & (EV_WRITE | EV_READ | EV_CLOSED))
			connect_done(s, &alive);
		goto out;
	}
	/* Writes first: the output is the older work. */
	bool write_due = s->flush_due || s->tls_write_blocked ||
	                 ((what & EV_WRITE) && evbuffer_get_length(s->out) > 0);
	if (write_due && do_write(s) && evbuffer_get_length(s->out) <= s->out_low &&
	    !s->write_ended && s->cb.on_write) {
		s->cb.on_write(s, s->cb.arg);
		if (!alive)
			goto out;
	}
	size_t added = 0;
	if (read_possible(s) || s->tls_read_blocked)
		added = do_read(s);
	if ((added > 0 || s->read_trigger) && s->cb.on_read) {
		s->read_trigger = false;
		s->cb.on_read(s, s->cb.arg);
		if (!alive)
			goto out;
	}
	if (s->read_ended && !s->event_told && s->cb.on_event) {
		/* Told once, after the data that came before the end. */
		s->event_told = true;
		s->cb.on_event(s, s->failed ? GW_SOCK_ERROR : GW_SOCK_EOF, s->cb.arg);
		if (!alive)
			goto out;
	}
	/* A full chunk may have left more in the kernel: go on after the
	 * sockets already waiting in this loop turn. */
	if (read_possible(s) && added > 0)
		schedule(s);
out:
	/* When alive is false, gw_sock_close already cleared s->alive (and
	 * s may be gone). */
	if (alive)
		s->alive = NULL;
	if (--dispatch_depth == 0)
		eager_drain();
}
#pragma GCC diagnostic pop
