/* test_session_io: ws_session output (gather-writes, partial writes,
 * the queue and its limits), input flow control, two sessions back to
 * back, and permessage-deflate, through the fakes of session_fake.h. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_fake.h"
#include "ws_deflate.h"

static uint8_t wire[1 << 18];

/* ---- output ------------------------------------------------------------ */

START_TEST(test_partial_writes)
{
	static const size_t accepts[] = {1, 3, 7, 100};
	enum ws_role role = _i % 2 ? WS_ROLE_CLIENT : WS_ROLE_SERVER;
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(role, &f, &r, NULL);
	static uint8_t msg[70000];
	struct oframe *fr;
	size_t nf, calls = 0;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)(i * 7 + (i >> 8));
	f.accept = accepts[_i / 2];
	ck_assert_int_eq(ws_session_send(s, WS_OP_BINARY, msg, 1000), WS_OK);
	ck_assert_int_eq(ws_session_send(s, WS_OP_BINARY, msg, sizeof(msg)), WS_OK);
	ck_assert_int_eq(ws_session_ping(s, (const uint8_t *)"pp", 2), WS_OK);
	ck_assert_int_eq(ws_session_send(s, WS_OP_TEXT, (const uint8_t *)"", 0), WS_OK);
	f.accept = accepts[_i / 2] * 1000;
	while (ws_session_queued(s) > 0) {
		ck_assert_int_eq(ws_session_on_writable(s), WS_OK);
		ck_assert_uint_lt(++calls, 100000);
	}
	nf = parse_frames(&f.out, 0, role, &fr);
	ck_assert_uint_eq(nf, 4);
	/* The ping may overtake data, but only between frames. */
	for (size_t i = 0, d = 0; i < nf; i++) {
		if (fr[i].opcode == WS_OP_PING) {
			ck_assert_mem_eq(fr[i].data, "pp", 2);
			continue;
		}
		ck_assert(fr[i].fin);
		ck_assert_int_eq(fr[i].masked, role == WS_ROLE_CLIENT);
		if (d == 0) {
			ck_assert_uint_eq(fr[i].len, 1000);
			ck_assert_mem_eq(fr[i].data, msg, 1000);
		} else if (d == 1) {
			ck_assert_uint_eq(fr[i].len, sizeof(msg));
			ck_assert_mem_eq(fr[i].data, msg, sizeof(msg));
		} else {
			ck_assert_int_eq(fr[i].opcode, WS_OP_TEXT);
			ck_assert_uint_eq(fr[i].len, 0);
		}
		d++;
	}
	frames_free(fr, nf);
	ck_assert_uint_eq(ws_session_bytes_out(s), 1000 + sizeof(msg));
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_would_block)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	struct oframe *fr;
	size_t nf;

	f.budget = 0;
	ck_assert_int_eq(ws_session_send(s, WS_OP_TEXT, (const uint8_t *)"one", 3), WS_OK);
	ck_assert_uint_eq(ws_session_queued(s), 5);
	ck_assert_int_eq(ws_session_send(s, WS_OP_TEXT, (const uint8_t *)"two", 3), WS_OK);
	ck_assert_uint_eq(ws_session_queued(s), 10);
	ck_assert_int_eq(ws_session_on_writable(s), WS_OK);
	ck_assert_uint_eq(ws_session_queued(s), 10);
	f.budget = 4;
	ck_assert_int_eq(ws_session_on_writable(s), WS_OK);
	ck_assert_uint_eq(ws_session_queued(s), 6);
	f.budget = SIZE_MAX;
	ck_assert_int_eq(ws_session_on_writable(s), WS_OK);
	ck_assert_uint_eq(ws_session_queued(s), 0);
	nf = parse_frames(&f.out, 0, WS_ROLE_SERVER, &fr);
	ck_assert_uint_eq(nf, 2);
	ck_assert_mem_eq(fr[0].data, "one", 3);
	ck_assert_mem_eq(fr[1].data, "two", 3);
	frames_free(fr, nf);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

/* A pong goes ahead of queued data, but never inside a frame. */
START_TEST(test_pong_overtakes_at_boundary)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	uint8_t a[100], b[100];
	struct oframe *fr;
	size_t nf;

	memset(a, 'a', sizeof(a));
	memset(b, 'b', sizeof(b));
	f.budget = 50; /* frame a begins on the wire */
	ck_assert_int_eq(ws_session_send(s, WS_OP_BINARY, a, sizeof(a)), WS_OK);
	ck_assert_int_eq(ws_session_send(s, WS_OP_BINARY, b, sizeof(b)), WS_OK);
	feed_ok(s, wire, mk_frame(wire, WS_OP_PING, true, false, "1", 1, true));
	feed_ok(s, wire, mk_frame(wire, WS_OP_PING, true, false, "2", 1, true));
	f.budget = SIZE_MAX;
	ck_assert_int_eq(ws_session_on_writable(s), WS_OK);
	nf = parse_frames(&f.out, 0, WS_ROLE_SERVER, &fr);
	/* a, one pong (the newest ping's), b */
	ck_assert_uint_eq(nf, 3);
	ck_assert_int_eq(fr[0].opcode, WS_OP_BINARY);
	ck_assert_int_eq(fr[1].opcode, WS_OP_PONG);
	ck_assert_mem_eq(fr[1].data, "2", 1);
	ck_assert_int_eq(fr[2].opcode, WS_OP_BINARY);
	ck_assert_mem_eq(fr[2].data, b, sizeof(b));
	frames_free(fr, nf);
	buf_free(&f.out);

	/* Nothing begun yet: the pong goes first. */
	f.budget = 0;
	ck_assert_int_eq(ws_session_send(s, WS_OP_BINARY, a, sizeof(a)), WS_OK);
	feed_ok(s, wire, mk_frame(wire, WS_OP_PING, true, false, "3", 1, true));
	f.budget = SIZE_MAX;
	ck_assert_int_eq(ws_session_on_writable(s), WS_OK);
	nf = parse_frames(&f.out, 0, WS_ROLE_SERVER, &fr);
	ck_assert_uint_eq(nf, 2);
	ck_assert_int_eq(fr[0].opcode, WS_OP_PONG);
	ck_assert_int_eq(fr[1].opcode, WS_OP_BINARY);
	frames_free(fr, nf);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_queue_limits)
{
	struct ws_session_options o;
	struct fake f;
	struct rec r;
	struct ws_session *s;
	static uint8_t p[3000];

	test_options(&o);
	o.queue_high_water = 1000;
	o.queue_limit = 5000;
	s = mk_session(WS_ROLE_SERVER, &f, &r, &o);
	f.budget = 0;
	ck_assert(ws_session_writable(s));
	ck_assert_int_eq(ws_session_send(s, WS_OP_BINARY, p, 1500), WS_OK);
	ck_assert(!ws_session_writable(s));
	ck_assert_int_eq(ws_session_send(s, WS_OP_BINARY, p, 3000), WS_OK);
	ck_assert_uint_eq(ws_session_queued(s), 1504 + 3004);
	ck_assert_int_eq(ws_session_send(s, WS_OP_BINARY, p, 1000), WS_ERR_QUEUE_FULL);
	ck_assert_int_eq(ws_session_send_fragment(s, WS_OP_BINARY, p, 1000, false),
	                 WS_ERR_QUEUE_FULL);
	/* refused sends change nothing */
	ck_assert_uint_eq(ws_session_queued(s), 1504 + 3004);
	f.budget = 4000;
	ck_assert_int_eq(ws_session_on_writable(s), WS_OK);
	ck_assert_uint_eq(ws_session_queued(s), 508);
	ck_assert_int_eq(r.drains, 0);
	ck_assert(!ws_session_writable(s));
	f.budget = 10;
	ck_assert_int_eq(ws_session_on_writable(s), WS_OK);
	ck_assert_int_eq(r.drains, 1);
	ck_assert(ws_session_writable(s));
	f.budget = SIZE_MAX;
	ck_assert_int_eq(ws_session_on_writable(s), WS_OK);
	ck_assert_int_eq(r.drains, 1);
	ck_assert_uint_eq(f.out.len, 1504 + 3004);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_fragment_size)
{
	struct ws_session_options o;
	struct fake f;
	struct rec r;
	struct ws_session *s;
	uint8_t p[250];
	struct oframe *fr;
	size_t nf;

	test_options(&o);
	o.fragment_size = 100;
	s = mk_session(WS_ROLE_SERVER, &f, &r, &o);
	for (size_t i = 0; i < sizeof(p); i++)
		p[i] = (uint8_t)('a' + i % 26);
	ck_assert_int_eq(ws_session_send(s, WS_OP_TEXT, p, sizeof(p)), WS_OK);
	nf = parse_frames(&f.out, 0, WS_ROLE_SERVER, &fr);
	ck_assert_uint_eq(nf, 3);
	ck_assert_int_eq(fr[0].opcode, WS_OP_TEXT);
	ck_assert_int_eq(fr[1].opcode, WS_OP_CONTINUATION);
	ck_assert_int_eq(fr[2].opcode, WS_OP_CONTINUATION);
	ck_assert(!fr[0].fin && !fr[1].fin && fr[2].fin);
	ck_assert_uint_eq(fr[0].len, 100);
	ck_assert_uint_eq(fr[2].len, 50);
	ck_assert_mem_eq(fr[2].data, p + 200, 50);
	frames_free(fr, nf);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_send_fragment)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_CLIENT, &f, &r, NULL);
	struct oframe *fr;
	size_t nf;

	ck_assert_int_eq(ws_session_send_fragment(s, WS_OP_BINARY, (const uint8_t *)"ab", 2, false),
	                 WS_OK);
	/* no other message while one is open, and no change of type */
	ck_assert_int_eq(ws_session_send(s, WS_OP_BINARY, (const uint8_t *)"x", 1),
	                 WS_ERR_INVALID_ARG);
	ck_assert_int_eq(ws_session_send_fragment(s, WS_OP_TEXT, (const uint8_t *)"x", 1, true),
	                 WS_ERR_INVALID_ARG);
	ck_assert_int_eq(ws_session_ping(s, (const uint8_t *)"p", 1), WS_OK);
	ck_assert_int_eq(ws_session_send_fragment(s, WS_OP_BINARY, (const uint8_t *)"cd", 2, false),
	                 WS_OK);
	ck_assert_int_eq(ws_session_send_fragment(s, WS_OP_BINARY, (const uint8_t *)"ef", 2, true),
	                 WS_OK);
	ck_assert_int_eq(ws_session_send(s, WS_OP_TEXT, (const uint8_t *)"next", 4), WS_OK);
	ck_assert_int_eq(ws_session_send(s, WS_OP_CLOSE, (const uint8_t *)"x", 1),
	                 WS_ERR_INVALID_ARG);
	nf = parse_frames(&f.out, 0, WS_ROLE_CLIENT, &fr);
	ck_assert_uint_eq(nf, 5);
	ck_assert_int_eq(fr[0].opcode, WS_OP_BINARY);
	ck_assert(!fr[0].fin);
	ck_assert_int_eq(fr[1].opcode, WS_OP_PING);
	ck_assert_int_eq(fr[2].opcode, WS_OP_CONTINUATION);
	ck_assert(!fr[2].fin);
	ck_assert_int_eq(fr[3].opcode, WS_OP_CONTINUATION);
	ck_assert(fr[3].fin);
	ck_assert_mem_eq(fr[3].data, "ef", 2);
	ck_assert_int_eq(fr[4].opcode, WS_OP_TEXT);
	ck_assert(fr[4].fin);
	for (size_t i = 0; i < nf; i++)
		ck_assert(fr[i].masked);
	/* fresh keys: five frames with one key would be a 1 in 2^128 fluke */
	ck_assert(memcmp(fr[0].mask, fr[2].mask, 4) != 0 ||
	          memcmp(fr[2].mask, fr[3].mask, 4) != 0 || memcmp(fr[3].mask, fr[4].mask, 4) != 0);
	frames_free(fr, nf);
	ck_assert_uint_eq(ws_session_bytes_out(s), 10);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_ping_args)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	uint8_t p[126] = {0};
	struct oframe *fr;
	size_t nf;

	ck_assert_int_eq(ws_session_ping(s, p, 126), WS_ERR_INVALID_ARG);
	ck_assert_int_eq(ws_session_ping(s, p, 125), WS_OK);
	nf = parse_frames(&f.out, 0, WS_ROLE_SERVER, &fr);
	ck_assert_uint_eq(nf, 1);
	ck_assert_int_eq(fr[0].opcode, WS_OP_PING);
	ck_assert_uint_eq(fr[0].len, 125);
	frames_free(fr, nf);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_transport_failure)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);

	f.fail = true;
	ck_assert_int_eq(ws_session_send(s, WS_OP_TEXT, (const uint8_t *)"x", 1), WS_ERR_TRANSPORT);
	ck_assert_int_eq(r.last_err, WS_ERR_TRANSPORT);
	ck_assert_int_eq(f.closed, 1);
	ck_assert(!f.clean);
	ck_assert_int_eq(r.close_code, 1006);
	ck_assert_int_eq(ws_session_send(s, WS_OP_TEXT, (const uint8_t *)"x", 1), WS_ERR_CLOSED);
	ck_assert_int_eq(f.sends, 1);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_transport_closed_early)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);

	ws_session_transport_closed(s, true);
	ck_assert_int_eq(f.closed, 1);
	ck_assert(!f.clean);
	ck_assert_int_eq(r.close_code, 1006);
	ck_assert_int_eq(ws_session_state(s), WS_SESSION_CLOSED);
	ws_session_transport_closed(s, true);
	ws_session_abort(s);
	ck_assert_int_eq(r.closes, 1);
	ck_assert_int_eq(f.closed, 1);
	ck_assert_int_eq(ws_session_feed(s, wire, 3), 0);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

/* ---- flow control ------------------------------------------------------ */

START_TEST(test_pause_resume)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	size_t a, n;
	ssize_t got;

	a = mk_frame(wire, WS_OP_TEXT, true, false, "first", 5, true);
	n = a + mk_frame(wire + a, WS_OP_TEXT, true, false, "second", 6, true);
	r.pause_every = 1;
	got = ws_session_feed(s, wire, n);
	ck_assert_int_eq(got, (ssize_t)a);
	ck_assert(ws_session_paused(s));
	ck_assert_int_eq(f.want_read, 0);
	ck_assert_int_eq(ws_session_feed(s, wire + a, n - a), 0);
	r.pause_every = 0;
	ws_session_resume(s);
	ck_assert_int_eq(f.want_read, 1);
	feed_ok(s, wire + a, n - a);
	ck_assert_uint_eq(r.nmsgs, 2);
	ck_assert_mem_eq(r.msgs[1].data, "second", 6);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

/* Paused on the last chunk of a frame: the frame's end and what follows
 * are processed after resume, byte for byte. */
START_TEST(test_pause_every_chunk)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	size_t n = 0, off = 0;
	int rounds = 0;

	n += mk_frame(wire + n, WS_OP_TEXT, false, false, "ab", 2, true);
	n += mk_frame(wire + n, WS_OP_PING, true, false, "", 0, true);
	n += mk_frame(wire + n, WS_OP_CONTINUATION, false, false, "", 0, true);
	n += mk_frame(wire + n, WS_OP_CONTINUATION, true, false, "cd", 2, true);
	n += mk_frame(wire + n, WS_OP_BINARY, true, false, "", 0, true);
	n += mk_frame(wire + n, WS_OP_BINARY, true, false, "xyz", 3, true);
	r.pause_every = 1;
	while (off < n) {
		ssize_t got = ws_session_feed(s, wire + off, n - off);
		ck_assert_int_ge(got, 0);
		off += (size_t)got;
		ws_session_resume(s);
		ck_assert_int_lt(++rounds, 20);
	}
	ws_session_resume(s);
	ck_assert_uint_eq(r.nmsgs, 3);
	ck_assert_mem_eq(r.msgs[0].data, "abcd", 4);
	ck_assert_uint_eq(r.msgs[1].len, 0);
	ck_assert_mem_eq(r.msgs[2].data, "xyz", 3);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

/* ---- two sessions back to back ----------------------------------------- */

/* Feed what one side wrote into the other until neither has more. */
static void pair_run(struct fake *fc, struct ws_session *c, struct fake *fs, struct ws_session *s)
{
	bool progress = true;

	while (progress) {
		ssize_t got;

		progress = false;
		if (fc->rd < fc->out.len && ws_session_state(s) != WS_SESSION_CLOSED) {
			got = ws_session_feed(s, fc->out.p + fc->rd, fc->out.len - fc->rd);
			ck_assert_int_ge(got, 0);
			fc->rd += (size_t)got;
			progress |= got > 0;
		}
		if (fs->rd < fs->out.len && ws_session_state(c) != WS_SESSION_CLOSED) {
			got = ws_session_feed(c, fs->out.p + fs->rd, fs->out.len - fs->rd);
			ck_assert_int_ge(got, 0);
			fs->rd += (size_t)got;
			progress |= got > 0;
		}
	}
}

static void pair_echo(bool deflate)
{
	struct ws_session_options o;
	struct fake fc, fs;
	struct rec rc, rs;
	struct ws_session *c, *s;
	static uint8_t big[100000];
	const char *texts[] = {"hello", "", "h\xc3\xa9llo w\xe2\x82\xacrld \xf0\x9f\x98\x80"};

	test_options(&o);
	o.deflate = deflate;
	o.deflate_params.server_max_window_bits = 15;
	o.deflate_params.client_max_window_bits = 15;
	c = mk_session(WS_ROLE_CLIENT, &fc, &rc, &o);
	s = mk_session(WS_ROLE_SERVER, &fs, &rs, &o);
	rs.echo = true;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i % 251);
	for (size_t i = 0; i < 3; i++)
		ck_assert_int_eq(
		    ws_session_send(c, WS_OP_TEXT, (const uint8_t *)texts[i], strlen(texts[i])),
		    WS_OK);
	ck_assert_int_eq(ws_session_send(c, WS_OP_BINARY, big, sizeof(big)), WS_OK);
	pair_run(&fc, c, &fs, s);
	ck_assert_uint_eq(rs.nmsgs, 4);
	ck_assert_uint_eq(rc.nmsgs, 4);
	for (size_t i = 0; i < 3; i++) {
		ck_assert_int_eq(rc.msgs[i].opcode, WS_OP_TEXT);
		ck_assert_uint_eq(rc.msgs[i].len, strlen(texts[i]));
		ck_assert_mem_eq(rc.msgs[i].data, texts[i], strlen(texts[i]));
	}
	ck_assert_int_eq(rc.msgs[3].opcode, WS_OP_BINARY);
	ck_assert_uint_eq(rc.msgs[3].len, sizeof(big));
	ck_assert_mem_eq(rc.msgs[3].data, big, sizeof(big));
	if (deflate) {
		/* the repetitive binary message went compressed */
		ck_assert_uint_lt(fc.out.len, sizeof(big) / 2);
	}
	/* close from the client, echoed by the server */
	ck_assert_int_eq(ws_session_close(c, 1000, "bye", 3), WS_OK);
	pair_run(&fc, c, &fs, s);
	ck_assert_int_eq(fs.closed, 1);
	ck_assert(fs.clean);
	ck_assert_int_eq(rs.close_code, 1000);
	ck_assert_int_eq(rc.closes, 0);
	ws_session_transport_closed(c, true);
	ck_assert_int_eq(rc.close_code, 1000);
	ck_assert_int_eq(rc.errors + rs.errors, 0);
	ws_session_free(c);
	ws_session_free(s);
	rec_free(&rc);
	rec_free(&rs);
	buf_free(&fc.out);
	buf_free(&fs.out);
}

START_TEST(test_pair_echo)
{
	pair_echo(false);
}
END_TEST

START_TEST(test_pair_echo_deflate)
{
	pair_echo(true);
}
END_TEST

/* ---- deflate ----------------------------------------------------------- */

static const struct ws_deflate_params pmd15 = {15, 15, false, false};

static int collect(void *ctx, const uint8_t *p, size_t n)
{
	buf_add(ctx, p, n);
	return 0;
}

/* A compressed message from a client: one masked RSV1 frame. */
static size_t compressed_frame(uint8_t *out, int opcode, const uint8_t *p, size_t n)
{
	struct ws_deflate *d;
	struct buf z = {0};
	size_t len;

	ck_assert_int_eq(ws_deflate_new(&d, WS_ROLE_CLIENT, &pmd15, NULL), WS_OK);
	ck_assert_int_eq(ws_deflate_compress(d, p, n, true, collect, &z), WS_OK);
	len = mk_frame(out, opcode, true, true, z.p, z.len, true);
	ws_deflate_free(d);
	buf_free(&z);
	return len;
}

static void deflate_paused(bool random_text)
{
	struct ws_session_options o;
	struct fake f;
	struct rec r;
	struct ws_session *s;
	static uint8_t text[100000];
	size_t n, off = 0;
	uint32_t x = 12345;
	bool partial = false;
	int rounds = 0;

	for (size_t i = 0; i < sizeof(text); i++) {
		x = x * 1103515245u + 12345u;
		text[i] = random_text ? (uint8_t)('a' + (x >> 16) % 26) : (uint8_t)('a' + i % 7);
	}
	test_options(&o);
	o.deflate = true;
	o.deflate_params = pmd15;
	s = mk_session(WS_ROLE_SERVER, &f, &r, &o);
	n = compressed_frame(wire, WS_OP_TEXT, text, sizeof(text));
	n += mk_frame(wire + n, WS_OP_BINARY, true, false, "plain", 5, true);
	r.pause_every = 1;
	while (r.nmsgs < 2) {
		ssize_t got = ws_session_feed(s, wire + off, n - off);

		ck_assert_int_ge(got, 0);
		if (off + (size_t)got < n)
			partial = true;
		off += (size_t)got;
		ck_assert(ws_session_paused(s) || r.nmsgs == 2);
		ws_session_resume(s);
		ck_assert_int_lt(++rounds, 100);
	}
	ck_assert(partial);
	ck_assert_uint_eq(off, n);
	ck_assert_int_eq(r.msgs[0].opcode, WS_OP_TEXT);
	ck_assert_uint_eq(r.msgs[0].len, sizeof(text));
	ck_assert_mem_eq(r.msgs[0].data, text, sizeof(text));
	ck_assert_int_gt(r.msgs[0].chunks, 2);
	ck_assert_mem_eq(r.msgs[1].data, "plain", 5);
	ck_assert_uint_eq(ws_session_bytes_in(s), sizeof(text) + 5);
	ck_assert_int_eq(r.errors, 0);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}

START_TEST(test_deflate_paused_carry)
{
	deflate_paused(true);
}
END_TEST

START_TEST(test_deflate_paused_pending)
{
	deflate_paused(false);
}
END_TEST

START_TEST(test_deflate_too_big)
{
	struct ws_session_options o;
	struct fake f;
	struct rec r;
	struct ws_session *s;
	static uint8_t zeros[100000];
	size_t n;

	test_options(&o);
	o.deflate = true;
	o.deflate_params = pmd15;
	o.max_message = 1000;
	s = mk_session(WS_ROLE_SERVER, &f, &r, &o);
	n = compressed_frame(wire, WS_OP_BINARY, zeros, sizeof(zeros));
	ck_assert_uint_lt(n, 1000); /* the frame itself is small */
	ck_assert_int_eq(ws_session_feed(s, wire, n), WS_ERR_PROTO_MESSAGE_TOO_BIG);
	ck_assert_uint_eq(only_close(&f, WS_ROLE_SERVER, NULL, NULL), 1009);
	ck_assert_uint_le(r.cur.len, 1000);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_deflate_bad_utf8)
{
	struct ws_session_options o;
	struct fake f;
	struct rec r;
	struct ws_session *s;
	size_t n;

	test_options(&o);
	o.deflate = true;
	o.deflate_params = pmd15;
	s = mk_session(WS_ROLE_SERVER, &f, &r, &o);
	n = compressed_frame(wire, WS_OP_TEXT, (const uint8_t *)"abc\xc0\x80", 5);
	ck_assert_int_eq(ws_session_feed(s, wire, n), WS_ERR_PROTO_UTF8);
	ck_assert_int_eq(r.chunks, 0);
	ck_assert_uint_eq(only_close(&f, WS_ROLE_SERVER, NULL, NULL), 1007);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_deflate_rsv1_refused)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	size_t n = mk_frame(wire, WS_OP_TEXT, true, true, "abc", 3, true);

	ck_assert_int_eq(ws_session_feed(s, wire, n), WS_ERR_PROTO_RSV);
	ck_assert_uint_eq(only_close(&f, WS_ROLE_SERVER, NULL, NULL), 1002);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_deflate_send_frames)
{
	struct ws_session_options o;
	struct fake f;
	struct rec r;
	struct ws_session *s;
	struct oframe *fr;
	size_t nf;

	test_options(&o);
	o.deflate = true;
	o.deflate_params = pmd15;
	s = mk_session(WS_ROLE_SERVER, &f, &r, &o);
	ck_assert_int_eq(ws_session_send_fragment(s, WS_OP_TEXT, (const uint8_t *)"aaaa", 4, false),
	                 WS_OK);
	ck_assert_int_eq(ws_session_ping(s, NULL, 0), WS_OK);
	ck_assert_int_eq(ws_session_send_fragment(s, WS_OP_TEXT, (const uint8_t *)"bbbb", 4, true),
	                 WS_OK);
	nf = parse_frames(&f.out, 0, WS_ROLE_SERVER, &fr);
	ck_assert_uint_ge(nf, 2);
	ck_assert_int_eq(fr[0].opcode, WS_OP_TEXT);
	ck_assert(fr[0].rsv1);
	for (size_t i = 1; i < nf; i++) {
		ck_assert(!fr[i].rsv1);
		ck_assert(fr[i].opcode == WS_OP_CONTINUATION || fr[i].opcode == WS_OP_PING);
	}
	ck_assert(fr[nf - 1].fin);
	frames_free(fr, nf);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

static Suite *session_io_suite(void)
{
	Suite *su = suite_create("ws_session_io");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 20);
	tcase_add_loop_test(tc, test_partial_writes, 0, 8);
	tcase_add_test(tc, test_would_block);
	tcase_add_test(tc, test_pong_overtakes_at_boundary);
	tcase_add_test(tc, test_queue_limits);
	tcase_add_test(tc, test_fragment_size);
	tcase_add_test(tc, test_send_fragment);
	tcase_add_test(tc, test_ping_args);
	tcase_add_test(tc, test_transport_failure);
	tcase_add_test(tc, test_transport_closed_early);
	tcase_add_test(tc, test_pause_resume);
	tcase_add_test(tc, test_pause_every_chunk);
	tcase_add_test(tc, test_pair_echo);
	tcase_add_test(tc, test_pair_echo_deflate);
	tcase_add_test(tc, test_deflate_paused_carry);
	tcase_add_test(tc, test_deflate_paused_pending);
	tcase_add_test(tc, test_deflate_too_big);
	tcase_add_test(tc, test_deflate_bad_utf8);
	tcase_add_test(tc, test_deflate_rsv1_refused);
	tcase_add_test(tc, test_deflate_send_frames);
	suite_add_tcase(su, tc);
	return su;
}

int main(void)
{
	SRunner *sr = srunner_create(session_io_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
