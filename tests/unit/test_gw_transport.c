/* Unit tests for gw_transport over real loopback TCP connections with a
 * real ws_session on top: the output bound and would-block, pull-mode
 * input (pause with bytes already buffered, resume), bytes read before
 * the session existed, an EOF held back behind paused input, the
 * lingering clean close (FIN after the close frame) and the abort (RST),
 * and a paused session that still learns of a reset or closed peer. */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "gw_transport.h"
#include "ws_error.h"
#include "ws_session.h"

struct fx {
	struct event_base *base; /* loop */
	int cfd;                 /* client side: a plain blocking socket */
	struct gw_transport t;   /* server side under test */
	struct ws_session *s;    /* session over t, or NULL */
	int reads, eofs, gones;  /* owner callback counts */
	int msgs;                /* complete messages received by the handler */
	char text[64];           /* concatenated text payloads */
	size_t text_len;         /* its length */
	bool pause_each;         /* pause the session after every message */
	int closes;              /* on_close calls */
	uint16_t close_code;     /* code given to on_close */
};

static void o_read(void *arg)
{
	((struct fx *)arg)->reads++;
}
static void o_eof(void *arg, bool clean)
{
	((struct fx *)arg)->eofs++;
}
static void o_timeout(void *arg)
{
}
static void o_gone(void *arg)
{
	((struct fx *)arg)->gones++;
}

static const struct gw_transport_owner owner = {o_read, o_eof, o_timeout, o_gone, NULL};

static int h_message(struct ws_session *s, void *ud, enum ws_opcode op, const uint8_t *d, size_t n,
                     bool first, bool final)
{
	struct fx *f = ud;
	if (op == WS_OP_TEXT && f->text_len + n < sizeof(f->text)) {
		memcpy(f->text + f->text_len, d, n);
		f->text_len += n;
	}
	if (final) {
		f->msgs++;
		if (f->pause_each)
			ws_session_pause(s);
	}
	return 0;
}

static void h_close(struct ws_session *s, void *ud, uint16_t code, const uint8_t *r, size_t n)
{
	struct fx *f = ud;
	f->closes++;
	f->close_code = code;
}

static const struct ws_handler handler = {.on_message = h_message, .on_close = h_close};

/* Run the loop for ms milliseconds. */
static void spin(struct fx *f, int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	event_base_loopexit(f->base, &tv);
	event_base_dispatch(f->base);
}

static void setup(struct fx *f, int small_buffers)
{
	memset(f, 0, sizeof(*f));
	f->base = event_base_new();
	ck_assert_ptr_nonnull(f->base);
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	ck_assert_int_eq(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(ls, 1), 0);
	ck_assert_int_eq(getsockname(ls, (struct sockaddr *)&a, &al), 0);
	f->cfd = socket(AF_INET, SOCK_STREAM, 0);
	int small = 16384;
	if (small_buffers)
		setsockopt(f->cfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	ck_assert_int_eq(connect(f->cfd, (struct sockaddr *)&a, sizeof(a)), 0);
	struct sockaddr_storage peer;
	socklen_t pl = sizeof(peer);
	int sfd = accept4(ls, (struct sockaddr *)&peer, &pl, SOCK_NONBLOCK);
	ck_assert_int_ge(sfd, 0);
	close(ls);
	if (small_buffers)
		setsockopt(sfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	ck_assert_int_eq(
	    gw_transport_init(&f->t, f->base, sfd, NULL, (struct sockaddr *)&peer, pl, &owner, f),
	    0);
}

static void start_session(struct fx *f)
{
	struct ws_session_options o;
	ws_session_options_default(&o);
	ck_assert_int_eq(
	    ws_session_new(&f->s, WS_ROLE_SERVER, &gw_transport_ops, &f->t, &handler, f, &o),
	    WS_OK);
	gw_transport_attach(&f->t, f->s);
	ws_session_start(f->s);
	gw_transport_feed(&f->t);
}

static void teardown(struct fx *f)
{
	if (f->s)
		ws_session_free(f->s);
	gw_transport_cleanup(&f->t);
	close(f->cfd);
	/* libevent finalizes a freed bufferevent from the loop. */
	spin(f, 5);
	event_base_free(f->base);
}

/* A masked client text frame (payload < 126) appended to out. */
static size_t client_text(uint8_t *out, const char *txt)
{
	size_t n = strlen(txt);
	static const uint8_t mask[4] = {0x11, 0x22, 0x33, 0x44};
	out[0] = 0x81;
	out[1] = (uint8_t)(0x80 | n);
	memcpy(out + 2, mask, 4);
	for (size_t i = 0; i < n; i++)
		out[6 + i] = (uint8_t)txt[i] ^ mask[i & 3];
	return 6 + n;
}

static void send_all(int fd, const void *p, size_t n)
{
	ck_assert_int_eq(send(fd, p, n, 0), (ssize_t)n);
}

/* Read whatever the client has within ms. */
static ssize_t client_read(struct fx *f, uint8_t *buf, size_t cap, int ms)
{
	struct pollfd p = {.fd = f->cfd, .events = POLLIN};
	if (poll(&p, 1, ms) <= 0)
		return -2;
	return recv(f->cfd, buf, cap, 0);
}

START_TEST(test_peer_format)
{
	struct fx f;
	setup(&f, 0);
	ck_assert_str_eq(gw_transport_ops.peer(&f.t), f.t.peer);
	ck_assert_msg(strncmp(f.t.peer, "127.0.0.1:", 10) == 0, "peer %s", f.t.peer);
	ck_assert_int_gt(atoi(f.t.peer + 10), 0);
	ck_assert(!gw_transport_alpn_h2(&f.t));
	teardown(&f);
}
END_TEST

START_TEST(test_send_bounded_then_drains)
{
	struct fx f;
	setup(&f, 1);
	start_session(&f);
	size_t n = 4u << 20;
	uint8_t *msg = malloc(n);
	for (size_t i = 0; i < n; i++)
		msg[i] = (uint8_t)(i * 7);
	ck_assert_int_eq(ws_session_send(f.s, WS_OP_BINARY, msg, n), WS_OK);
	spin(&f, 100);
	/* The client reads nothing: the transport holds at most its bound
	 * and the rest waits in the session's queue. */
	ck_assert_uint_le(gw_transport_output_len(&f.t), GW_TRANSPORT_OUT_MAX);
	ck_assert_uint_gt(ws_session_queued(f.s), 0);
	ck_assert(f.t.blocked);

	/* Now read everything: 10-byte header (127 + 64-bit length), payload. */
	uint8_t *got = malloc(n + 10);
	size_t have = 0;
	for (int rounds = 0; have < n + 10 && rounds < 20000; rounds++) {
		ssize_t r = recv(f.cfd, got + have, n + 10 - have, MSG_DONTWAIT);
		if (r > 0)
			have += (size_t)r;
		event_base_loop(f.base, EVLOOP_NONBLOCK);
		if (r <= 0)
			usleep(200);
	}
	ck_assert_uint_eq(have, n + 10);
	ck_assert_uint_eq(got[0], 0x82);
	ck_assert_uint_eq(got[1], 127);
	ck_assert(memcmp(got + 10, msg, n) == 0);
	ck_assert_uint_eq(ws_session_queued(f.s), 0);
	ck_assert_uint_eq(gw_transport_output_len(&f.t), 0);
	free(got);
	free(msg);
	teardown(&f);
}
END_TEST

START_TEST(test_pause_with_buffered_input)
{
	struct fx f;
	uint8_t buf[64];
	size_t n = 0;
	setup(&f, 0);
	start_session(&f);
	f.pause_each = true;
	n += client_text(buf + n, "a");
	n += client_text(buf + n, "b");
	n += client_text(buf + n, "c");
	send_all(f.cfd, buf, n); /* one write: all three land in one read */
	spin(&f, 50);
	ck_assert_int_eq(f.msgs, 1);
	ck_assert(ws_session_paused(f.s));
	/* The rest is already in our input buffer, not in the socket: resume
	 * must deliver it without any new byte arriving. */
	ws_session_resume(f.s);
	spin(&f, 50);
	ck_assert_int_eq(f.msgs, 2);
	ws_session_resume(f.s);
	spin(&f, 50);
	ck_assert_int_eq(f.msgs, 3);
	ck_assert_int_eq((int)f.text_len, 3);
	ck_assert(memcmp(f.text, "abc", 3) == 0);
	teardown(&f);
}
END_TEST

START_TEST(test_bytes_before_session)
{
	struct fx f;
	uint8_t buf[64];
	setup(&f, 0);
	size_t n = client_text(buf, "early");
	send_all(f.cfd, buf, n);
	spin(&f, 50);
	ck_assert_int_ge(f.reads, 1); /* owner heard of it, left it buffered */
	ck_assert_uint_eq(evbuffer_get_length(gw_transport_input(&f.t)), n);
	start_session(&f);
	ck_assert_int_eq(f.msgs, 1);
	ck_assert_uint_eq(f.text_len, 5);
	ck_assert(memcmp(f.text, "early", 5) == 0);
	teardown(&f);
}
END_TEST

START_TEST(test_eof_waits_for_paused_input)
{
	struct fx f;
	uint8_t buf[64];
	size_t n = 0;
	setup(&f, 0);
	start_session(&f);
	f.pause_each = true;
	n += client_text(buf + n, "x");
	n += client_text(buf + n, "y");
	send_all(f.cfd, buf, n);
	shutdown(f.cfd, SHUT_WR);
	spin(&f, 50);
	ck_assert_int_eq(f.msgs, 1);
	ck_assert_int_eq(f.closes, 0); /* "y" is still owed to the handler */
	f.pause_each = false;
	ws_session_resume(f.s);
	spin(&f, 50);
	ck_assert_int_eq(f.msgs, 2);
	ck_assert_int_eq(f.closes, 1);
	ck_assert_int_eq(f.close_code, 1006);
	teardown(&f);
}
END_TEST

START_TEST(test_clean_close_lingers)
{
	struct fx f;
	uint8_t buf[256];
	setup(&f, 0);
	start_session(&f);
	ck_assert_int_eq(ws_session_close(f.s, 1000, "bye", 3), WS_OK);
	spin(&f, 20);
	ssize_t r = client_read(&f, buf, sizeof(buf), 500);
	ck_assert_int_eq(r, 7); /* 88 05 03 e8 'b' 'y' 'e' */
	ck_assert_uint_eq(buf[0], 0x88);
	/* Client echoes the close (masked, zero mask for brevity). */
	uint8_t echo[] = {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8};
	send_all(f.cfd, echo, sizeof(echo));
	spin(&f, 50);
	ck_assert_int_eq(f.closes, 1);
	ck_assert_int_eq(f.close_code, 1000);
	/* We shut our side down (FIN: recv gives 0, not a reset) but keep
	 * the socket until the client closes. */
	ck_assert_int_eq(client_read(&f, buf, sizeof(buf), 500), 0);
	ck_assert_int_eq(f.gones, 0);
	ck_assert(!gw_transport_closed(&f.t));
	close(f.cfd);
	f.cfd = socket(AF_INET, SOCK_STREAM, 0); /* placeholder for teardown */
	spin(&f, 50);
	ck_assert_int_eq(f.gones, 1);
	ck_assert(gw_transport_closed(&f.t));
	teardown(&f);
}
END_TEST

START_TEST(test_linger_bounded)
{
	struct fx f;
	uint8_t buf[64];
	setup(&f, 0);
	gw_transport_write(&f.t, "HTTP/1.1 400 x\r\n\r\n", 18);
	gw_transport_finish(&f.t);
	spin(&f, 50);
	ck_assert_int_eq(client_read(&f, buf, sizeof(buf), 500), 18);
	ck_assert_int_eq(client_read(&f, buf, sizeof(buf), 500), 0);
	/* The client never closes: after the linger bound the socket goes. */
	spin(&f, GW_TRANSPORT_LINGER_MS + 200);
	ck_assert_int_eq(f.gones, 1);
	ck_assert(gw_transport_closed(&f.t));
	teardown(&f);
}
END_TEST

START_TEST(test_abort_resets)
{
	struct fx f;
	uint8_t buf[64];
	setup(&f, 0);
	gw_transport_abort(&f.t);
	ck_assert(gw_transport_closed(&f.t));
	spin(&f, 10);
	ssize_t r = client_read(&f, buf, sizeof(buf), 500);
	ck_assert_int_eq(r, -1);
	ck_assert_int_eq(errno, ECONNRESET);
	ck_assert_int_eq(f.gones, 0); /* abort calls nothing back */
	/* And the ops refuse to send on a closed stream. */
	struct iovec iov = {.iov_base = buf, .iov_len = 1};
	ck_assert_int_eq(gw_transport_ops.send(&f.t, &iov, 1), WS_ERR_TRANSPORT);
	teardown(&f);
}
END_TEST

START_TEST(test_eof_before_session_reaches_owner)
{
	struct fx f;
	setup(&f, 0);
	shutdown(f.cfd, SHUT_WR);
	spin(&f, 50);
	ck_assert_int_eq(f.eofs, 1);
	teardown(&f);
}
END_TEST

/* Paused after one message: the session reads nothing more. */
static void start_paused(struct fx *f)
{
	uint8_t frame[64];
	f->pause_each = true;
	start_session(f);
	send_all(f->cfd, frame, client_text(frame, "hi"));
	spin(f, 50);
	ck_assert_int_eq(f->msgs, 1);
	ck_assert(ws_session_paused(f->s));
}

START_TEST(test_paused_peer_reset_ends_session)
{
	struct fx f;
	setup(&f, 0);
	start_paused(&f);
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(f.cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(f.cfd);
	f.cfd = socket(AF_INET, SOCK_STREAM, 0); /* something for teardown to close */
	/* No input is read while paused; the watch still sees the reset. */
	spin(&f, GW_TRANSPORT_PAUSE_CHECK_MS + 300);
	ck_assert_int_eq(f.closes, 1);
	ck_assert_int_eq(f.close_code, 1006);
	ck_assert(gw_transport_closed(&f.t));
	teardown(&f);
}
END_TEST

START_TEST(test_paused_probe_finds_closed_peer)
{
	struct fx f;
	setup(&f, 0);
	start_paused(&f);
	/* A FIN while paused: the probe ping draws a reset from the closed
	 * socket, which the next check sees. */
	close(f.cfd);
	f.cfd = socket(AF_INET, SOCK_STREAM, 0);
	spin(&f, 2 * GW_TRANSPORT_PAUSE_CHECK_MS + 300);
	ck_assert_int_eq(f.closes, 1);
	ck_assert_int_eq(f.close_code, 1006);
	ck_assert(gw_transport_closed(&f.t));
	teardown(&f);
}
END_TEST

START_TEST(test_paused_half_closed_peer_is_kept)
{
	struct fx f;
	uint8_t buf[64];
	setup(&f, 0);
	start_paused(&f);
	/* Only the sending side shut: the peer still reads, so the probe
	 * (an empty ping) reaches it and the session stays. */
	shutdown(f.cfd, SHUT_WR);
	spin(&f, 2 * GW_TRANSPORT_PAUSE_CHECK_MS + 300);
	ck_assert_int_eq(f.closes, 0);
	ck_assert(!gw_transport_closed(&f.t));
	ck_assert_int_eq(client_read(&f, buf, sizeof(buf), 500), 2);
	ck_assert_int_eq(buf[0], 0x89);
	ck_assert_int_eq(buf[1], 0x00);
	/* Resuming delivers the held end of input: a FIN without a close
	 * frame is an abnormal end. */
	ws_session_resume(f.s);
	spin(&f, 50);
	ck_assert_int_eq(f.closes, 1);
	ck_assert_int_eq(f.close_code, 1006);
	teardown(&f);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("gw_transport");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 15);
	tcase_add_test(tc, test_peer_format);
	tcase_add_test(tc, test_send_bounded_then_drains);
	tcase_add_test(tc, test_pause_with_buffered_input);
	tcase_add_test(tc, test_bytes_before_session);
	tcase_add_test(tc, test_eof_waits_for_paused_input);
	tcase_add_test(tc, test_clean_close_lingers);
	tcase_add_test(tc, test_linger_bounded);
	tcase_add_test(tc, test_abort_resets);
	tcase_add_test(tc, test_eof_before_session_reaches_owner);
	tcase_add_test(tc, test_paused_peer_reset_ends_session);
	tcase_add_test(tc, test_paused_probe_finds_closed_peer);
	tcase_add_test(tc, test_paused_half_closed_peer_is_kept);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
