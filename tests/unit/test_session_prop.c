/* test_session_prop: property test of two ws_sessions back to back.
 *
 * For many seeds: a client and a server exchange random message
 * sequences both ways at once (text with multibyte UTF-8 or binary,
 * 0..100 KiB, sent whole or in random send_fragment pieces, with random
 * pings in between), with and without permessage-deflate, through fake
 * transports that take random amounts per write, fed to the other side
 * in random splits, with handlers that pause at random and are resumed
 * later.  Every message must arrive with the same type, bytes and
 * boundaries, in order.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_fake.h"

static uint64_t rng;

static uint32_t rnd(void)
{
	/* xorshift64*: reproducible per seed */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 2685821657736338717ull) >> 32);
}

static size_t rnd_below(size_t n)
{
	return n == 0 ? 0 : rnd() % n;
}

struct sent {
	int opcode;    /* message type */
	uint8_t *data; /* payload */
	size_t len;    /* payload length */
};

struct side {
	struct fake f;        /* its transport */
	struct rec r;         /* its handler */
	struct ws_session *s; /* the session */
	struct sent *sent;    /* messages it sent, in order */
	size_t nsent;         /* count */
	int pings;            /* pings it sent */
	size_t max_accept;    /* most bytes its transport takes per write */
};

/* Random valid UTF-8 of exactly len bytes: 1- to 4-byte characters. */
static void gen_text(uint8_t *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t left = len - i, k = 1 + rnd_below(4);
		uint32_t cp;

		if (k > left)
			k = left;
		switch (k) {
		case 1:
			p[i++] = (uint8_t)(0x20 + rnd_below(0x5f));
			break;
		case 2:
			cp = 0x80 + (uint32_t)rnd_below(0x780);
			p[i++] = (uint8_t)(0xC0 | cp >> 6);
			p[i++] = (uint8_t)(0x80 | (cp & 0x3F));
			break;
		case 3:
			do
				cp = 0x800 + (uint32_t)rnd_below(0xF800);
			while (cp >= 0xD800 && cp <= 0xDFFF);
			p[i++] = (uint8_t)(0xE0 | cp >> 12);
			p[i++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
			p[i++] = (uint8_t)(0x80 | (cp & 0x3F));
			break;
		default:
			cp = 0x10000 + (uint32_t)rnd_below(0x100000);
			p[i++] = (uint8_t)(0xF0 | cp >> 18);
			p[i++] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
			p[i++] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
			p[i++] = (uint8_t)(0x80 | (cp & 0x3F));
			break;
		}
	}
}

static void gen_binary(uint8_t *p, size_t len, bool compressible)
{
	for (size_t i = 0; i < len; i++)
		p[i] = compressible ? (uint8_t)(i / 64 % 7) : (uint8_t)rnd();
}

/* Feed up to max_split bytes at a time of what `from` wrote into `to`;
 * resume a paused receiver now and then; flush blocked writers. */
static bool pump_once(struct side *from, struct side *to, size_t max_split)
{
	bool progress = false;

	if (ws_session_paused(to->s) && rnd_below(2) == 0) {
		ws_session_resume(to->s);
		progress = true;
	}
	if (ws_session_queued(from->s) > 0) {
		from->f.accept = 1 + rnd_below(from->max_accept);
		ck_assert_int_eq(ws_session_on_writable(from->s), WS_OK);
		progress = true;
	}
	while (from->f.rd < from->f.out.len && !ws_session_paused(to->s)) {
		size_t n = from->f.out.len - from->f.rd, k = 1 + rnd_below(max_split);
		ssize_t got;

		if (k < n)
			n = k;
		got = ws_session_feed(to->s, from->f.out.p + from->f.rd, n);
		ck_assert_int_ge(got, 0);
		from->f.rd += (size_t)got;
		if (got > 0)
			progress = true;
		if ((size_t)got < n)
			break;
	}
	return progress;
}

static void pump_all(struct side *a, struct side *b, size_t max_split, bool until_quiet)
{
	int rounds = 0;

	do {
		bool p1 = pump_once(a, b, max_split);
		bool p2 = pump_once(b, a, max_split);

		if (!p1 && !p2 && !ws_session_paused(a->s) && !ws_session_paused(b->s) &&
		    ws_session_queued(a->s) == 0 && ws_session_queued(b->s) == 0)
			break;
		ck_assert_int_lt(++rounds, 10000000);
	} while (until_quiet);
}

/* Send one random message from side a. */
static void send_random(struct side *a, bool small)
{
	size_t max = small ? 2048 : 100 * 1024;
	size_t len = rnd_below(4) == 0 ? rnd_below(16) : rnd_below(max + 1);
	int opcode = rnd_below(2) ? WS_OP_TEXT : WS_OP_BINARY;
	uint8_t *p = malloc(len + 1);
	struct sent *m;

	if (opcode == WS_OP_TEXT)
		gen_text(p, len);
	else
		gen_binary(p, len, rnd_below(2) == 0);
	a->sent = realloc(a->sent, (a->nsent + 1) * sizeof(*a->sent));
	m = &a->sent[a->nsent++];
	m->opcode = opcode;
	m->data = p;
	m->len = len;

	if (rnd_below(2) == 0) {
		ck_assert_int_eq(ws_session_send(a->s, opcode, p, len), WS_OK);
	} else {
		size_t off = 0;

		/* Pieces may be empty, and may split a UTF-8 character. */
		do {
			size_t k = rnd_below(len - off + 1);
			bool final = off + k == len && rnd_below(3) != 0;

			ck_assert_int_eq(ws_session_send_fragment(a->s, opcode, p + off, k, final),
			                 WS_OK);
			off += k;
			if (rnd_below(4) == 0) {
				uint8_t ping[8];
				size_t pn = rnd_below(sizeof(ping) + 1);

				memset(ping, 'p', sizeof(ping));
				ck_assert_int_eq(ws_session_ping(a->s, ping, pn), WS_OK);
				a->pings++;
			}
			if (final)
				break;
		} while (true);
	}
}

static void check_received(const struct side *from, const struct side *to)
{
	ck_assert_uint_eq(to->r.nmsgs, from->nsent);
	for (size_t i = 0; i < from->nsent; i++) {
		ck_assert_int_eq(to->r.msgs[i].opcode, from->sent[i].opcode);
		ck_assert_uint_eq(to->r.msgs[i].len, from->sent[i].len);
		if (from->sent[i].len > 0)
			ck_assert_mem_eq(to->r.msgs[i].data, from->sent[i].data, from->sent[i].len);
	}
	ck_assert(!to->r.in_msg);
	if (from->pings > 0) {
		/* Unsent pings are coalesced, the newest always answered. */
		ck_assert_int_ge(from->r.pongs, 1);
		ck_assert_int_le(from->r.pongs, from->pings);
	}
}

static void side_free(struct side *a)
{
	ws_session_free(a->s);
	for (size_t i = 0; i < a->nsent; i++)
		free(a->sent[i].data);
	free(a->sent);
	rec_free(&a->r);
	buf_free(&a->f.out);
}

static void run_seed(uint64_t seed, bool deflate)
{
	static const size_t splits[] = {1, 3, 17, 200, 4096, 70000, SIZE_MAX / 2};
	struct ws_session_options o;
	struct side c, s;
	size_t max_split, msgs;
	bool small;

	rng = seed * 0x9E3779B97F4A7C15ull + 1;
	max_split = splits[rnd_below(sizeof(splits) / sizeof(splits[0]))];
	small = max_split < 100;
	msgs = 4 + rnd_below(small ? 8 : 12);

	test_options(&o);
	o.deflate = deflate;
	o.deflate_params.server_max_window_bits = (uint8_t)(9 + rnd_below(7));
	o.deflate_params.client_max_window_bits = (uint8_t)(9 + rnd_below(7));
	o.deflate_params.server_no_context_takeover = rnd_below(2);
	o.deflate_params.client_no_context_takeover = rnd_below(2);
	o.fragment_size = rnd_below(3) == 0 ? 1 + rnd_below(5000) : 0;
	memset(&c, 0, sizeof(c));
	memset(&s, 0, sizeof(s));
	c.s = mk_session(WS_ROLE_CLIENT, &c.f, &c.r, &o);
	o.fragment_size = rnd_below(3) == 0 ? 1 + rnd_below(5000) : 0;
	s.s = mk_session(WS_ROLE_SERVER, &s.f, &s.r, &o);
	c.r.pause_every = rnd_below(3) == 0 ? (int)(1 + rnd_below(5)) : 0;
	s.r.pause_every = rnd_below(3) == 0 ? (int)(1 + rnd_below(5)) : 0;
	c.max_accept = rnd_below(2) ? SIZE_MAX / 2 : 1 + rnd_below(3000);
	s.max_accept = rnd_below(2) ? SIZE_MAX / 2 : 1 + rnd_below(3000);
	c.f.accept = 1 + rnd_below(c.max_accept);
	s.f.accept = 1 + rnd_below(s.max_accept);

	for (size_t i = 0; i < msgs; i++) {
		send_random(rnd_below(2) ? &c : &s, small);
		if (rnd_below(2) == 0)
			pump_all(&c, &s, max_split, false);
	}
	pump_all(&c, &s, max_split, true);
	check_received(&c, &s);
	check_received(&s, &c);
	ck_assert_int_eq(c.r.errors + s.r.errors, 0);
	ck_assert_int_eq(ws_session_state(c.s), WS_SESSION_OPEN);
	ck_assert_int_eq(ws_session_state(s.s), WS_SESSION_OPEN);

	/* And the close handshake through the same pipes. */
	ck_assert_int_eq(ws_session_close(rnd_below(2) ? c.s : s.s, 1000, NULL, 0), WS_OK);
	pump_all(&c, &s, max_split, true);
	ck_assert_int_eq(s.r.closes, 1);
	ck_assert_int_eq(s.r.close_code, 1000);
	ck_assert(s.f.clean);
	ws_session_transport_closed(c.s, true);
	ck_assert_int_eq(c.r.closes, 1);
	ck_assert_int_eq(c.r.close_code, 1000);
	side_free(&c);
	side_free(&s);
}

START_TEST(test_prop_plain)
{
	for (uint64_t seed = 0; seed < 40; seed++)
		run_seed(seed, false);
}
END_TEST

START_TEST(test_prop_deflate)
{
	for (uint64_t seed = 1000; seed < 1040; seed++)
		run_seed(seed, true);
}
END_TEST

static Suite *prop_suite(void)
{
	Suite *su = suite_create("ws_session_prop");
	TCase *tc = tcase_create("pair");

	/* well under 20 s in all; the margin is for loaded machines */
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_prop_plain);
	tcase_add_test(tc, test_prop_deflate);
	suite_add_tcase(su, tc);
	return su;
}

int main(void)
{
	SRunner *sr = srunner_create(prop_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
