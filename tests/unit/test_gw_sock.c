/* Unit tests for gw_sock over real sockets (a unix socketpair, or
 * loopback TCP for connects): the read cap and reading switched off, the
 * bytes read per turn, queued writes leaving in order, a direct write
 * that the kernel takes whole still owing on_write, EOF told once after
 * the data before it, a write failure, non-blocking connect success and
 * refusal, closing the socket from inside its own callback, and when
 * output queued from another socket's callback is flushed. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "gw_sock.h"

struct fx {
	struct event_base *base; /* loop */
	int peer;                /* the other end: a plain blocking socket */
	struct gw_sock s;        /* under test */
	int reads, writes;       /* on_read / on_write calls */
	int eofs, errors, conns; /* on_event calls by kind */
	bool close_in_read;      /* on_read closes the socket */
	size_t first_read;       /* input length at the first on_read */
};

static void f_read(struct gw_sock *s, void *arg)
{
	struct fx *f = arg;
	if (f->reads++ == 0)
		f->first_read = evbuffer_get_length(s->in);
	if (f->close_in_read)
		gw_sock_close(s, false);
}

static void f_write(struct gw_sock *s, void *arg)
{
	((struct fx *)arg)->writes++;
}

static void f_event(struct gw_sock *s, enum gw_sock_event what, void *arg)
{
	struct fx *f = arg;
	if (what == GW_SOCK_EOF)
		f->eofs++;
	else if (what == GW_SOCK_ERROR)
		f->errors++;
	else if (what == GW_SOCK_CONNECTED)
		f->conns++;
}

static void set_cbs(struct fx *f)
{
	struct gw_sock_cbs cb = {f_read, f_write, f_event, f};
	gw_sock_setcb(&f->s, &cb);
}

static void setup_pair(struct fx *f)
{
	int sv[2];
	memset(f, 0, sizeof(*f));
	f->base = event_base_new();
	ck_assert_ptr_nonnull(f->base);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
	f->peer = sv[1];
	ck_assert_int_eq(gw_sock_init(&f->s, f->base, sv[0], NULL), 0);
	set_cbs(f);
}

static void teardown(struct fx *f)
{
	gw_sock_close(&f->s, false);
	if (f->peer >= 0)
		close(f->peer);
	event_base_free(f->base);
}

/* Run the loop for about ms milliseconds. */
static void spin(struct fx *f, int ms)
{
	for (int i = 0; i < ms; i++) {
		event_base_loop(f->base, EVLOOP_NONBLOCK);
		usleep(1000);
	}
}

static void send_all(int fd, size_t n, unsigned char seed)
{
	unsigned char buf[4096];
	size_t off = 0;
	while (off < n) {
		size_t k = n - off < sizeof(buf) ? n - off : sizeof(buf);
		for (size_t i = 0; i < k; i++)
			buf[i] = (unsigned char)(seed + off + i);
		ssize_t w = write(fd, buf, k);
		ck_assert_int_gt(w, 0);
		off += (size_t)w;
	}
}

/* Unix socket buffers large enough that the test's bytes fit in the
 * kernel at once. */
static void big_buffers(int fd)
{
	int sz = 1 << 20;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

START_TEST(test_read_cap_and_off)
{
	struct fx f;
	setup_pair(&f);
	big_buffers(f.peer);
	big_buffers(f.s.fd);
	send_all(f.peer, 200 * 1024, 0);
	spin(&f, 20);
	ck_assert_uint_eq(evbuffer_get_length(f.s.in), 0); /* reading starts off */
	ck_assert_int_eq(f.reads, 0);

	f.s.in_max = 100 * 1024;
	gw_sock_read(&f.s, true);
	spin(&f, 50);
	ck_assert_uint_eq(evbuffer_get_length(f.s.in), 100 * 1024);
	ck_assert_int_gt(f.reads, 0);

	/* Taking input and asking again reads on without a new edge. */
	evbuffer_drain(f.s.in, 100 * 1024);
	gw_sock_read(&f.s, true);
	spin(&f, 50);
	ck_assert_uint_eq(evbuffer_get_length(f.s.in), 100 * 1024);
	unsigned char b[2];
	evbuffer_copyout(f.s.in, b, 2);
	ck_assert_uint_eq(b[0], (unsigned char)(100 * 1024));
	ck_assert_uint_eq(b[1], (unsigned char)(100 * 1024 + 1));
	ck_assert_int_eq(f.eofs + f.errors, 0);
	teardown(&f);
}
END_TEST

/* A turn reads at most its chunk: GW_SOCK_READ_CHUNK, or read_chunk
 * where the user set one (gw_h2 reads more per turn). */
static size_t first_read_with_chunk(size_t chunk)
{
	struct fx f;
	setup_pair(&f);
	big_buffers(f.peer);
	big_buffers(f.s.fd);
	send_all(f.peer, 200 * 1024, 0);
	f.s.read_chunk = chunk;
	gw_sock_read(&f.s, true);
	spin(&f, 50);
	ck_assert_uint_eq(evbuffer_get_length(f.s.in), 200 * 1024);
	size_t first = f.first_read;
	teardown(&f);
	return first;
}

START_TEST(test_read_chunk)
{
	ck_assert_uint_eq(first_read_with_chunk(0), GW_SOCK_READ_CHUNK);
	ck_assert_uint_eq(first_read_with_chunk(160 * 1024), 160 * 1024);
}
END_TEST

START_TEST(test_queued_writes_in_order)
{
	struct fx f;
	setup_pair(&f);
	char msg[16];
	for (int i = 0; i < 100; i++) {
		int n = snprintf(msg, sizeof(msg), "%03d,", i);
		ck_assert_int_eq(gw_sock_write(&f.s, msg, (size_t)n), 0);
	}
	/* Small writes wait for the loop, so that they leave together. */
	ck_assert_uint_eq(evbuffer_get_length(f.s.out), 400);
	spin(&f, 10);
	ck_assert_uint_eq(evbuffer_get_length(f.s.out), 0);
	ck_assert_int_eq(f.writes, 1);
	char got[401] = {0};
	size_t have = 0;
	while (have < 400) {
		ssize_t r = read(f.peer, got + have, 400 - have);
		ck_assert_int_gt(r, 0);
		have += (size_t)r;
	}
	ck_assert_int_eq(strncmp(got, "000,001,002,", 12), 0);
	ck_assert_int_eq(strncmp(got + 396, "099,", 4), 0);
	teardown(&f);
}
END_TEST

/* Regression: a large write the kernel took whole left nothing queued
 * and no flush scheduled, so a caller waiting for on_write to queue the
 * rest (gw_transport) waited forever. */
START_TEST(test_direct_write_owes_on_write)
{
	struct fx f;
	setup_pair(&f);
	big_buffers(f.s.fd);
	big_buffers(f.peer);
	static unsigned char big[GW_SOCK_DIRECT_MIN * 2];
	memset(big, 'x', sizeof(big));
	ck_assert_int_eq(gw_sock_write(&f.s, big, sizeof(big)), 0);
	ck_assert_uint_eq(evbuffer_get_length(f.s.out), 0); /* the kernel took it at once */
	ck_assert_int_eq(f.writes, 0);                      /* never from inside the call */
	spin(&f, 10);
	ck_assert_int_eq(f.writes, 1);
	teardown(&f);
}
END_TEST

START_TEST(test_eof_once_after_data)
{
	struct fx f;
	setup_pair(&f);
	ck_assert_int_eq(write(f.peer, "abc", 3), 3);
	shutdown(f.peer, SHUT_WR);
	gw_sock_read(&f.s, true);
	spin(&f, 20);
	ck_assert_int_eq(f.eofs, 1);
	ck_assert_int_eq(f.errors, 0);
	ck_assert_uint_eq(evbuffer_get_length(f.s.in), 3);
	gw_sock_read(&f.s, true);
	spin(&f, 20);
	ck_assert_int_eq(f.eofs, 1);
	/* The write side still works after the peer's FIN. */
	ck_assert_int_eq(gw_sock_write(&f.s, "ok", 2), 0);
	spin(&f, 5);
	char b[2];
	ck_assert_int_eq(read(f.peer, b, 2), 2);
	teardown(&f);
}
END_TEST

START_TEST(test_write_failure)
{
	struct fx f;
	setup_pair(&f);
	close(f.peer);
	f.peer = -1;
	ck_assert_int_eq(gw_sock_write(&f.s, "lost", 4), 0); /* queued: fails in the loop */
	spin(&f, 20);
	ck_assert_int_eq(f.errors, 1);
	ck_assert_int_eq(f.s.error, EPIPE);
	ck_assert_int_eq(gw_sock_write(&f.s, "more", 4), -1);
	spin(&f, 10);
	ck_assert_int_eq(f.errors, 1);
	ck_assert_int_eq(f.eofs, 0);
	teardown(&f);
}
END_TEST

START_TEST(test_close_inside_read)
{
	struct fx f;
	setup_pair(&f);
	f.close_in_read = true;
	ck_assert_int_eq(write(f.peer, "x", 1), 1);
	shutdown(f.peer, SHUT_WR); /* an EOF in the same turn must not be told */
	gw_sock_read(&f.s, true);
	spin(&f, 20);
	ck_assert_int_eq(f.reads, 1);
	ck_assert_int_eq(f.eofs + f.errors, 0);
	ck_assert(!gw_sock_open(&f.s));
	teardown(&f);
}
END_TEST

static int tcp_connect(struct fx *f, const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ck_assert_int_ge(fd, 0);
	int r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	ck_assert(r == 0 || errno == EINPROGRESS || errno == ECONNREFUSED);
	ck_assert_int_eq(gw_sock_init_connecting(&f->s, f->base, fd), 0);
	set_cbs(f);
	return r;
}

START_TEST(test_connect_ok_and_refused)
{
	struct fx f;
	memset(&f, 0, sizeof(f));
	f.peer = -1;
	f.base = event_base_new();
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(l, 4), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&sa, &len), 0);

	tcp_connect(&f, &sa);
	ck_assert_int_eq(gw_sock_write(&f.s, "hi", 2), 0); /* queued until connected */
	spin(&f, 20);
	ck_assert_int_eq(f.conns, 1);
	ck_assert_int_eq(f.errors, 0);
	int a = accept(l, NULL, NULL);
	ck_assert_int_ge(a, 0);
	char b[2];
	ck_assert_int_eq(read(a, b, 2), 2);
	ck_assert_int_eq(memcmp(b, "hi", 2), 0);
	close(a);
	gw_sock_close(&f.s, false);

	close(l); /* nothing listens on the port any more */
	f.conns = 0;
	tcp_connect(&f, &sa);
	spin(&f, 20);
	ck_assert_int_eq(f.conns, 0);
	ck_assert_int_eq(f.errors, 1);
	ck_assert_int_eq(f.s.error, ECONNREFUSED);
	teardown(&f);
}
END_TEST

/* Two relays in one loop: in[k]'s on_read forwards what it read to
 * out[k].  Both inputs are readable in the same loop turn; the second
 * on_read to run looks whether the first one's bytes have reached the
 * peer of its output yet. */
struct relay {
	struct event_base *base;
	struct gw_sock in[2];
	struct gw_sock *out[2]; /* heap: one test frees one from a callback */
	int in_peer[2], out_peer[2];
	int first;          /* the side whose on_read ran first (-1: none yet) */
	int n_read;         /* on_read calls */
	bool first_arrived; /* seen from the second on_read */
	bool close_first;   /* the first on_read closes and frees its output */
	struct relay_side {
		struct relay *r;
		int k;
	} side[2];
};

static bool peer_has_data(int fd)
{
	char c;
	return recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
}

static void relay_read(struct gw_sock *s, void *arg)
{
	struct relay_side *side = arg;
	struct relay *r = side->r;
	int k = side->k;
	char buf[64];
	size_t n = evbuffer_remove(s->in, buf, sizeof(buf));
	if (r->n_read++ == 0) {
		r->first = k;
	} else if (r->out[r->first] != NULL) {
		r->first_arrived = peer_has_data(r->out_peer[r->first]);
	}
	ck_assert_int_eq(gw_sock_write(r->out[k], buf, n), 0);
	if (r->n_read == 1 && r->close_first) {
		gw_sock_close(r->out[k], false);
		free(r->out[k]);
		r->out[k] = NULL;
	}
}

static void relay_nop(struct gw_sock *s, void *arg)
{
}

static void relay_event(struct gw_sock *s, enum gw_sock_event what, void *arg)
{
}

static void relay_setup(struct relay *r)
{
	memset(r, 0, sizeof(*r));
	r->base = event_base_new();
	ck_assert_ptr_nonnull(r->base);
	r->first = -1;
	for (int k = 0; k < 2; k++) {
		int a[2], b[2];
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
		ck_assert_int_eq(fcntl(a[0], F_SETFL, O_NONBLOCK), 0);
		ck_assert_int_eq(fcntl(b[0], F_SETFL, O_NONBLOCK), 0);
		r->side[k].r = r;
		r->side[k].k = k;
		ck_assert_int_eq(gw_sock_init(&r->in[k], r->base, a[0], NULL), 0);
		r->out[k] = calloc(1, sizeof(*r->out[k]));
		ck_assert_ptr_nonnull(r->out[k]);
		ck_assert_int_eq(gw_sock_init(r->out[k], r->base, b[0], NULL), 0);
		r->in_peer[k] = a[1];
		r->out_peer[k] = b[1];
		struct gw_sock_cbs in_cb = {relay_read, relay_nop, relay_event, &r->side[k]};
		struct gw_sock_cbs out_cb = {relay_nop, relay_nop, relay_event, NULL};
		gw_sock_setcb(&r->in[k], &in_cb);
		gw_sock_setcb(r->out[k], &out_cb);
		gw_sock_read(&r->in[k], true);
	}
	/* The outputs' first write edges are taken now, so that the turn
	 * under test holds only the two reads. */
	for (int i = 0; i < 3; i++)
		event_base_loop(r->base, EVLOOP_NONBLOCK);
	/* Both inputs readable before the loop runs: one turn serves both. */
	ck_assert_int_eq(write(r->in_peer[0], "a", 1), 1);
	ck_assert_int_eq(write(r->in_peer[1], "b", 1), 1);
}

static void relay_teardown(struct relay *r)
{
	for (int k = 0; k < 2; k++) {
		gw_sock_close(&r->in[k], false);
		if (r->out[k]) {
			gw_sock_close(r->out[k], false);
			free(r->out[k]);
		}
		close(r->in_peer[k]);
		close(r->out_peer[k]);
	}
	event_base_free(r->base);
}

/* Set the relays up and run the one loop turn that serves both reads. */
static void relay_turn(struct relay *r, bool batch_turn, bool close_first)
{
	relay_setup(r);
	r->out[0]->batch_turn = r->out[1]->batch_turn = batch_turn;
	r->close_first = close_first;
	event_base_loop(r->base, EVLOOP_ONCE);
	ck_assert_int_eq(r->n_read, 2);
}

/* Every output that still exists reaches its peer (within 20 turns). */
static void assert_delivered(struct relay *r)
{
	for (int i = 0; i < 20; i++)
		event_base_loop(r->base, EVLOOP_NONBLOCK);
	for (int k = 0; k < 2; k++)
		if (r->out[k] != NULL)
			ck_assert(peer_has_data(r->out_peer[k]));
}

/* What one socket's callback queued on another leaves before the next
 * ready socket is served (a message is not held back by the rest of
 * the turn's reads). */
START_TEST(test_forwarded_before_next_socket)
{
	struct relay r;
	relay_turn(&r, false, false);
	ck_assert(r.first_arrived);
	assert_delivered(&r);
	relay_teardown(&r);
}
END_TEST

/* A batch_turn socket (the HTTP/2 connection) gathers what the turn's
 * callbacks queue and writes it at the end of the turn. */
START_TEST(test_batch_turn_waits_for_the_turn)
{
	struct relay r;
	relay_turn(&r, true, false);
	ck_assert(!r.first_arrived);
	assert_delivered(&r);
	relay_teardown(&r);
}
END_TEST

/* A socket closed (and freed) after queueing output is dropped from the
 * flushes due; the other relay still works. */
START_TEST(test_closed_while_flush_due)
{
	struct relay r;
	relay_turn(&r, false, true);
	ck_assert_ptr_null(r.out[r.first]);
	assert_delivered(&r);
	char c;
	ck_assert_int_eq(read(r.out_peer[r.first], &c, 1), 0); /* closed, nothing sent */
	relay_teardown(&r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("gw_sock");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 15);
	tcase_add_test(tc, test_read_cap_and_off);
	tcase_add_test(tc, test_read_chunk);
	tcase_add_test(tc, test_queued_writes_in_order);
	tcase_add_test(tc, test_direct_write_owes_on_write);
	tcase_add_test(tc, test_eof_once_after_data);
	tcase_add_test(tc, test_write_failure);
	tcase_add_test(tc, test_close_inside_read);
	tcase_add_test(tc, test_connect_ok_and_refused);
	tcase_add_test(tc, test_forwarded_before_next_socket);
	tcase_add_test(tc, test_batch_turn_waits_for_the_turn);
	tcase_add_test(tc, test_closed_while_flush_due);
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
