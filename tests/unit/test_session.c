/* test_session: the ws_session state machine, driven through a fake
 * transport and a fake clock (see session_fake.h): input, the close
 * handshake, limits and UTF-8, timers, re-entrancy.  Output, flow
 * control and deflate are in test_session_io.c. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_fake.h"

static uint8_t wire[1 << 18];

/* ---- messages in ------------------------------------------------------- */

START_TEST(test_text_in)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	size_t n = mk_frame(wire, WS_OP_TEXT, true, false, "hello", 5, true);

	ck_assert_int_eq(f.want_read, 1);
	ck_assert_int_eq(r.opens, 1);
	feed_ok(s, wire, n);
	ck_assert_uint_eq(r.nmsgs, 1);
	ck_assert_int_eq(r.msgs[0].opcode, WS_OP_TEXT);
	ck_assert_uint_eq(r.msgs[0].len, 5);
	ck_assert_mem_eq(r.msgs[0].data, "hello", 5);
	ck_assert_int_eq(r.msgs[0].chunks, 1);
	ck_assert_uint_eq(ws_session_bytes_in(s), 5);
	ck_assert_int_eq(ws_session_state(s), WS_SESSION_OPEN);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_unmasked_to_server)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	size_t n = mk_frame(wire, WS_OP_TEXT, true, false, "hello", 5, false);

	ck_assert_int_eq(ws_session_feed(s, wire, n), WS_ERR_PROTO_UNMASKED);
	ck_assert_uint_eq(only_close(&f, WS_ROLE_SERVER, NULL, NULL), 1002);
	ck_assert_int_eq(r.errors, 1);
	ck_assert_int_eq(r.last_err, WS_ERR_PROTO_UNMASKED);
	/* Server: the close frame is out, so the stream is closed now. */
	ck_assert_int_eq(f.closed, 1);
	ck_assert(f.clean);
	ck_assert_int_eq(r.closes, 1);
	ck_assert_int_eq(r.close_code, 1006);
	ck_assert_str_eq(r.log, "OEX");
	ck_assert_int_eq(ws_session_feed(s, wire, n), WS_ERR_PROTO_UNMASKED);
	ck_assert(!f.after_close);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

/* The pong for a ping between two fragments is out before the handler
 * hears the rest of the message. */
static int hook_pong_first(struct rec *r, const uint8_t *p, size_t n, bool first, bool final)
{
	struct oframe *fr;
	size_t nf;

	if (r->cur.len <= 3)
		return 0; /* still "Hel": the ping comes after it */
	nf = parse_frames(&r->tr->out, 0, WS_ROLE_SERVER, &fr);
	ck_assert_uint_eq(nf, 1);
	ck_assert_int_eq(fr[0].opcode, WS_OP_PONG);
	ck_assert_uint_eq(fr[0].len, 3);
	ck_assert_mem_eq(fr[0].data, "abc", 3);
	frames_free(fr, nf);
	return 0;
}

START_TEST(test_fragments_with_ping)
{
	static const size_t steps[] = {0, 1, 2, 3, 5, 7};
	size_t step = steps[_i];
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	size_t n = 0;

	r.hook = hook_pong_first;
	n += mk_frame(wire + n, WS_OP_TEXT, false, false, "Hel", 3, true);
	n += mk_frame(wire + n, WS_OP_PING, true, false, "abc", 3, true);
	n += mk_frame(wire + n, WS_OP_CONTINUATION, false, false, "", 0, true);
	n += mk_frame(wire + n, WS_OP_CONTINUATION, true, false, "lo", 2, true);
	if (step == 0) {
		feed_ok(s, wire, n);
	} else {
		for (size_t off = 0; off < n; off += step)
			feed_ok(s, wire + off, off + step <= n ? step : n - off);
	}
	ck_assert_uint_eq(r.nmsgs, 1);
	ck_assert_uint_eq(r.msgs[0].len, 5);
	ck_assert_mem_eq(r.msgs[0].data, "Hello", 5);
	ck_assert_int_ge(r.msgs[0].chunks, 2);
	/* exactly one pong, and the handler never heard of the ping */
	{
		struct oframe *fr;
		size_t nf = parse_frames(&f.out, 0, WS_ROLE_SERVER, &fr);
		ck_assert_uint_eq(nf, 1);
		frames_free(fr, nf);
	}
	ck_assert_int_eq(r.pongs, 0);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_empty_final_frame)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	size_t n = 0;

	n += mk_frame(wire + n, WS_OP_BINARY, false, false, "ab", 2, true);
	n += mk_frame(wire + n, WS_OP_CONTINUATION, true, false, "", 0, true);
	n += mk_frame(wire + n, WS_OP_TEXT, true, false, "", 0, true);
	feed_ok(s, wire, n);
	ck_assert_uint_eq(r.nmsgs, 2);
	ck_assert_int_eq(r.msgs[0].opcode, WS_OP_BINARY);
	ck_assert_uint_eq(r.msgs[0].len, 2);
	ck_assert_int_eq(r.msgs[0].chunks, 2);
	ck_assert_int_eq(r.msgs[1].opcode, WS_OP_TEXT);
	ck_assert_uint_eq(r.msgs[1].len, 0);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_pong_in)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_CLIENT, &f, &r, NULL);
	size_t n = mk_frame(wire, WS_OP_PONG, true, false, "xyz", 3, false);

	feed_ok(s, wire, n);
	ck_assert_int_eq(r.pongs, 1);
	ck_assert_uint_eq(r.pong_len, 3);
	ck_assert_mem_eq(r.pong, "xyz", 3);
	ck_assert_uint_eq(f.out.len, 0);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

/* ---- close handshake --------------------------------------------------- */

START_TEST(test_close_by_server)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	char reason[125];
	size_t rlen, n;

	ck_assert_int_eq(ws_session_close(s, 1000, "bye", 3), WS_OK);
	ck_assert_int_eq(ws_session_state(s), WS_SESSION_CLOSING);
	ck_assert_uint_eq(only_close(&f, WS_ROLE_SERVER, reason, &rlen), 1000);
	ck_assert_uint_eq(rlen, 3);
	ck_assert_mem_eq(reason, "bye", 3);
	ck_assert_uint_eq(ws_session_close_code_sent(s), 1000);
	ck_assert_int_eq(ws_session_send(s, WS_OP_TEXT, (const uint8_t *)"x", 1), WS_ERR_CLOSED);
	ck_assert_int_eq(ws_session_send_fragment(s, WS_OP_TEXT, (const uint8_t *)"x", 1, true),
	                 WS_ERR_CLOSED);
	ck_assert_int_eq(ws_session_ping(s, NULL, 0), WS_ERR_CLOSED);
	ck_assert_int_eq(ws_session_close(s, 1000, NULL, 0), WS_ERR_CLOSED);
	ck_assert_int_eq(f.closed, 0);
	/* Data still in flight from the peer is delivered. */
	n = mk_frame(wire, WS_OP_TEXT, true, false, "late", 4, true);
	feed_ok(s, wire, n);
	ck_assert_uint_eq(r.nmsgs, 1);
	n = close_frame(wire, 1000, "ok", true);
	feed_ok(s, wire, n);
	ck_assert_int_eq(r.peer_closes, 1);
	ck_assert_uint_eq(only_close(&f, WS_ROLE_SERVER, NULL, NULL), 1000);
	ck_assert_int_eq(f.closed, 1);
	ck_assert(f.clean);
	ck_assert_int_eq(r.closes, 1);
	ck_assert_int_eq(r.close_code, 1000);
	ck_assert_uint_eq(r.reason_len, 2);
	ck_assert_mem_eq(r.reason, "ok", 2);
	ck_assert_int_eq(ws_session_state(s), WS_SESSION_CLOSED);
	ck_assert_uint_eq(ws_session_close_code_received(s), 1000);
	ck_assert_int_eq(r.errors, 0);
	ck_assert(!f.after_close && !r.after_close);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_close_by_peer_server)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	size_t n = close_frame(wire, 1001, "away", true);

	/* Bytes after the close frame mean nothing. */
	n += mk_frame(wire + n, WS_OP_TEXT, true, false, "junk", 4, true);
	feed_ok(s, wire, n);
	ck_assert_uint_eq(r.nmsgs, 0);
	ck_assert_int_eq(r.peer_closes, 1);
	ck_assert_int_eq(r.peer_code, 1001);
	ck_assert_uint_eq(only_close(&f, WS_ROLE_SERVER, NULL, NULL), 1001);
	ck_assert_int_eq(f.closed, 1);
	ck_assert(f.clean);
	ck_assert_int_eq(f.want_read, 0);
	ck_assert_int_eq(r.close_code, 1001);
	ck_assert_uint_eq(r.reason_len, 4);
	ck_assert_mem_eq(r.reason, "away", 4);
	ck_assert_str_eq(r.log, "OCX");
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_close_by_peer_client)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_CLIENT, &f, &r, NULL);
	size_t n = close_frame(wire, 1000, NULL, false);
	struct oframe *fr;
	size_t nf;

	feed_ok(s, wire, n);
	nf = parse_frames(&f.out, 0, WS_ROLE_CLIENT, &fr);
	ck_assert_uint_eq(nf, 1);
	ck_assert_int_eq(fr[0].opcode, WS_OP_CLOSE);
	ck_assert(fr[0].masked);
	frames_free(fr, nf);
	/* A client waits for the server to close the stream, reading. */
	ck_assert_int_eq(f.closed, 0);
	ck_assert_int_eq(f.want_read, 1);
	ck_assert_int_eq(r.closes, 0);
	ck_assert_int_eq(ws_session_feed(s, wire, n), (ssize_t)n);
	ws_session_transport_closed(s, true);
	ck_assert_int_eq(f.closed, 1);
	ck_assert(f.clean);
	ck_assert_int_eq(r.closes, 1);
	ck_assert_int_eq(r.close_code, 1000);
	ck_assert_int_eq(r.errors, 0);
	ck_assert(!f.after_close);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_close_by_client_self)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_CLIENT, &f, &r, NULL);
	size_t n;

	ck_assert_int_eq(ws_session_close(s, 4000, "app", 3), WS_OK);
	ck_assert_uint_eq(only_close(&f, WS_ROLE_CLIENT, NULL, NULL), 4000);
	n = close_frame(wire, 4000, NULL, false);
	feed_ok(s, wire, n);
	ck_assert_uint_eq(only_close(&f, WS_ROLE_CLIENT, NULL, NULL), 4000);
	ck_assert_int_eq(f.closed, 0);
	/* The server never closes: the close timeout ends the wait, but the
	 * handshake was complete, so this is a clean end, not an error. */
	ck_assert_uint_eq(f.timer, 5000);
	fake_now = 5000;
	ws_session_tick(s);
	ck_assert_int_eq(f.closed, 1);
	ck_assert(f.clean);
	ck_assert_int_eq(r.close_code, 4000);
	ck_assert_int_eq(r.errors, 0);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
	fake_now = 0;
}
END_TEST

START_TEST(test_close_empty_echo)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	size_t n = close_frame(wire, 0, NULL, true);
	struct oframe *fr;
	size_t nf;

	feed_ok(s, wire, n);
	nf = parse_frames(&f.out, 0, WS_ROLE_SERVER, &fr);
	ck_assert_uint_eq(nf, 1);
	ck_assert_int_eq(fr[0].opcode, WS_OP_CLOSE);
	ck_assert_uint_eq(fr[0].len, 0);
	frames_free(fr, nf);
	ck_assert_int_eq(r.peer_code, 1005);
	ck_assert_int_eq(r.close_code, 1005);
	ck_assert_uint_eq(ws_session_close_code_sent(s), 1005);
	ck_assert_uint_eq(ws_session_close_code_received(s), 1005);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_close_deferred)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	size_t n = close_frame(wire, 1000, NULL, true);
	struct oframe *fr;
	size_t nf;

	r.defer_close = true;
	feed_ok(s, wire, n);
	ck_assert_int_eq(r.peer_closes, 1);
	ck_assert_uint_eq(f.out.len, 0);
	ck_assert_int_eq(ws_session_state(s), WS_SESSION_CLOSING);
	/* The handler flushes what it still has, then completes. */
	ck_assert_int_eq(ws_session_send(s, WS_OP_BINARY, (const uint8_t *)"tail", 4), WS_OK);
	ck_assert_int_eq(f.closed, 0);
	ck_assert_int_eq(ws_session_close(s, 1000, NULL, 0), WS_OK);
	nf = parse_frames(&f.out, 0, WS_ROLE_SERVER, &fr);
	ck_assert_uint_eq(nf, 2);
	ck_assert_int_eq(fr[0].opcode, WS_OP_BINARY);
	ck_assert_int_eq(fr[1].opcode, WS_OP_CLOSE);
	frames_free(fr, nf);
	ck_assert_int_eq(f.closed, 1);
	ck_assert(f.clean);
	ck_assert_int_eq(r.close_code, 1000);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_close_deferred_timeout)
{
	struct fake f;
	struct rec r;
	struct ws_session *s;

	fake_now = 100;
	s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	r.defer_close = true;
	feed_ok(s, wire, close_frame(wire, 1000, NULL, true));
	ck_assert_uint_eq(f.timer, 5100);
	fake_now = 5100;
	ws_session_tick(s);
	ck_assert_int_eq(f.closed, 1);
	ck_assert(!f.clean);
	ck_assert_int_eq(r.last_err, WS_ERR_TIMEOUT);
	ck_assert_int_eq(r.closes, 1);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
	fake_now = 0;
}
END_TEST

START_TEST(test_close_timeout)
{
	struct fake f;
	struct rec r;
	struct ws_session *s;

	fake_now = 1000;
	s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	ck_assert_uint_eq(f.timer, UINT64_MAX);
	ck_assert_int_eq(ws_session_close(s, 1000, NULL, 0), WS_OK);
	ck_assert_uint_eq(f.timer, 6000);
	fake_now = 5999;
	ws_session_tick(s); /* early: re-armed, nothing else */
	ck_assert_int_eq(f.closed, 0);
	ck_assert_uint_eq(f.timer, 6000);
	fake_now = 6000;
	ws_session_tick(s);
	ck_assert_int_eq(f.closed, 1);
	ck_assert(!f.clean);
	ck_assert_int_eq(r.errors, 1);
	ck_assert_int_eq(r.last_err, WS_ERR_TIMEOUT);
	ck_assert_int_eq(r.closes, 1);
	ck_assert_int_eq(r.close_code, 1006);
	ck_assert_int_eq(ws_session_state(s), WS_SESSION_CLOSED);
	ck_assert_str_eq(r.log, "OEX");
	ws_session_tick(s);
	ck_assert_int_eq(r.closes, 1);
	ck_assert(!f.after_close);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
	fake_now = 0;
}
END_TEST

START_TEST(test_close_waits_for_flush)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	uint8_t big[3000];

	memset(big, 'z', sizeof(big));
	f.budget = 1000;
	ck_assert_int_eq(ws_session_send(s, WS_OP_BINARY, big, sizeof(big)), WS_OK);
	feed_ok(s, wire, close_frame(wire, 1000, NULL, true));
	ck_assert_int_eq(f.closed, 0);
	f.budget = SIZE_MAX;
	ck_assert_int_eq(ws_session_on_writable(s), WS_OK);
	ck_assert_uint_eq(only_close(&f, WS_ROLE_SERVER, NULL, NULL), 1000);
	ck_assert_int_eq(f.closed, 1);
	ck_assert(f.clean);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_close_code_from_handler)
{
	static const unsigned bad[] = {0xFFFF, 999, 1004, 1005, 1006, 1015, 2000, 5000};
	unsigned code = bad[_i];
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);

	ck_assert_int_eq(ws_session_close(s, code, "r", 1), WS_OK);
	ck_assert_uint_eq(only_close(&f, WS_ROLE_SERVER, NULL, NULL), 1002);
	ck_assert_uint_eq(ws_session_close_code_sent(s), 1002);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_close_reason_cut)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	char reason[300], got[125];
	size_t rlen;

	memset(reason, 'a', sizeof(reason));
	ck_assert_int_eq(ws_session_close(s, 3000, reason, 200), WS_OK);
	ck_assert_uint_eq(only_close(&f, WS_ROLE_SERVER, got, &rlen), 3000);
	ck_assert_uint_eq(rlen, 123);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);

	/* 122 ASCII bytes and a 2-byte character: cut before it. */
	s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	memcpy(reason + 122, "\xc3\xa9", 2);
	ck_assert_int_eq(ws_session_close(s, 3000, reason, 124), WS_OK);
	ck_assert_uint_eq(only_close(&f, WS_ROLE_SERVER, got, &rlen), 3000);
	ck_assert_uint_eq(rlen, 122);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_invalid_close_received)
{
	static const unsigned codes[] = {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535};
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	size_t n = close_frame(wire, codes[_i], NULL, true);

	if (codes[_i] == 0) {
		/* code 0 itself is invalid on the wire: build it by hand */
		uint8_t p[2] = {0, 0};
		n = mk_frame(wire, WS_OP_CLOSE, true, false, p, 2, true);
	}
	ck_assert_int_eq(ws_session_feed(s, wire, n), WS_ERR_PROTO_CLOSE_CODE);
	ck_assert_uint_eq(only_close(&f, WS_ROLE_SERVER, NULL, NULL), 1002);
	ck_assert_int_eq(r.peer_closes, 0);
	ck_assert_int_eq(r.close_code, 1006);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_close_reason_bad_utf8)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	size_t n = close_frame(wire, 1000, "ok\xc0\xaf", true);

	ck_assert_int_eq(ws_session_feed(s, wire, n), WS_ERR_PROTO_UTF8);
	ck_assert_uint_eq(only_close(&f, WS_ROLE_SERVER, NULL, NULL), 1007);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

/* ---- limits and UTF-8 ---------------------------------------------------- */

START_TEST(test_frame_too_big)
{
	struct ws_session_options o;
	struct fake f;
	struct rec r;
	struct ws_session *s;
	uint8_t p[101];
	size_t n;

	test_options(&o);
	o.max_frame = 100;
	s = mk_session(WS_ROLE_SERVER, &f, &r, &o);
	memset(p, 'a', sizeof(p));
	n = mk_frame(wire, WS_OP_BINARY, true, false, p, 100, true);
	feed_ok(s, wire, n);
	n = mk_frame(wire, WS_OP_BINARY, true, false, p, 101, true);
	ck_assert_int_eq(ws_session_feed(s, wire, n), WS_ERR_PROTO_FRAME_TOO_BIG);
	ck_assert_uint_eq(r.nmsgs, 1);
	ck_assert_uint_eq(r.chunks, 1);
	ck_assert_uint_eq(only_close(&f, WS_ROLE_SERVER, NULL, NULL), 1009);
	ck_assert_int_eq(r.last_err, WS_ERR_PROTO_FRAME_TOO_BIG);
	ck_assert_int_eq(f.closed, 1);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_message_too_big)
{
	struct ws_session_options o;
	struct fake f;
	struct rec r;
	struct ws_session *s;
	uint8_t p[60];
	size_t n = 0;

	test_options(&o);
	o.max_message = 100;
	s = mk_session(WS_ROLE_SERVER, &f, &r, &o);
	memset(p, 'a', sizeof(p));
	/* 100 bytes in three fragments: fine */
	n += mk_frame(wire + n, WS_OP_BINARY, false, false, p, 40, true);
	n += mk_frame(wire + n, WS_OP_CONTINUATION, false, false, p, 40, true);
	n += mk_frame(wire + n, WS_OP_CONTINUATION, true, false, p, 20, true);
	feed_ok(s, wire, n);
	ck_assert_uint_eq(r.nmsgs, 1);
	n = 0;
	n += mk_frame(wire + n, WS_OP_BINARY, false, false, p, 60, true);
	n += mk_frame(wire + n, WS_OP_CONTINUATION, true, false, p, 41, true);
	ck_assert_int_eq(ws_session_feed(s, wire, n), WS_ERR_PROTO_MESSAGE_TOO_BIG);
	/* The first fragment was delivered, nothing of the second. */
	ck_assert_uint_eq(r.cur.len, 60);
	ck_assert_uint_eq(only_close(&f, WS_ROLE_SERVER, NULL, NULL), 1009);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_utf8_fail_fast)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	size_t n = mk_frame(wire, WS_OP_TEXT, false, false, "ab\xff", 3, true);

	/* The rest of the message never comes: the first fragment fails. */
	ck_assert_int_eq(ws_session_feed(s, wire, n), WS_ERR_PROTO_UTF8);
	ck_assert_int_eq(r.chunks, 0);
	ck_assert_uint_eq(only_close(&f, WS_ROLE_SERVER, NULL, NULL), 1007);
	ck_assert_int_eq(r.last_err, WS_ERR_PROTO_UTF8);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);

	/* A valid first fragment is delivered; the bad second one is not. */
	s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	n = mk_frame(wire, WS_OP_TEXT, false, false, "ok", 2, true);
	n += mk_frame(wire + n, WS_OP_CONTINUATION, true, false, "\xed\xa0\x80", 3, true);
	ck_assert_int_eq(ws_session_feed(s, wire, n), WS_ERR_PROTO_UTF8);
	ck_assert_int_eq(r.chunks, 1);
	ck_assert_uint_eq(r.cur.len, 2);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

START_TEST(test_utf8_split_and_truncated)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	size_t n;

	/* é (C3 A9) and 𝄞 (F0 9D 84 9E) split across fragments */
	n = mk_frame(wire, WS_OP_TEXT, false, false, "a\xc3", 2, true);
	n += mk_frame(wire + n, WS_OP_CONTINUATION, false, false, "\xa9\xf0\x9d", 3, true);
	n += mk_frame(wire + n, WS_OP_CONTINUATION, true, false, "\x84\x9e", 2, true);
	feed_ok(s, wire, n);
	ck_assert_uint_eq(r.nmsgs, 1);
	ck_assert_mem_eq(r.msgs[0].data, "a\xc3\xa9\xf0\x9d\x84\x9e", 7);
	/* A message that ends inside a character fails at its end. */
	n = mk_frame(wire, WS_OP_TEXT, true, false, "b\xc3", 2, true);
	ck_assert_int_eq(ws_session_feed(s, wire, n), WS_ERR_PROTO_UTF8);
	ck_assert_uint_eq(r.nmsgs, 1);
	ck_assert_int_eq(r.chunks, 3);
	ck_assert_uint_eq(only_close(&f, WS_ROLE_SERVER, NULL, NULL), 1007);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

static int hook_fail(struct rec *r, const uint8_t *p, size_t n, bool first, bool final)
{
	return WS_ERR_INTERNAL;
}

START_TEST(test_handler_error)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	size_t n = mk_frame(wire, WS_OP_TEXT, true, false, "x", 1, true);

	r.hook = hook_fail;
	ck_assert_int_eq(ws_session_feed(s, wire, n), WS_ERR_HANDLER);
	ck_assert_uint_eq(only_close(&f, WS_ROLE_SERVER, NULL, NULL), 1011);
	ck_assert_int_eq(r.last_err, WS_ERR_HANDLER);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

/* ---- timers ------------------------------------------------------------ */

START_TEST(test_idle_timeout)
{
	struct ws_session_options o;
	struct fake f;
	struct rec r;
	struct ws_session *s;
	int calls;
	char reason[125];
	size_t rlen;

	test_options(&o);
	o.idle_timeout_ms = 1000;
	fake_now = 0;
	s = mk_session(WS_ROLE_SERVER, &f, &r, &o);
	ck_assert_uint_eq(f.timer, 1000);
	calls = f.timer_calls;
	fake_now = 600;
	feed_ok(s, wire, mk_frame(wire, WS_OP_BINARY, true, false, "x", 1, true));
	ck_assert_int_eq(f.timer_calls, calls); /* lazy: no re-arm per input */
	fake_now = 1000;
	ws_session_tick(s);
	ck_assert_uint_eq(f.out.len, 0);
	ck_assert_uint_eq(f.timer, 1600);
	fake_now = 1600;
	ws_session_tick(s);
	ck_assert_uint_eq(only_close(&f, WS_ROLE_SERVER, reason, &rlen), 1001);
	ck_assert_uint_eq(rlen, 4);
	ck_assert_mem_eq(reason, "idle", 4);
	ck_assert_uint_eq(f.timer, 6600);
	ck_assert_int_eq(r.errors, 0);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
	fake_now = 0;
}
END_TEST

START_TEST(test_ping_interval)
{
	struct ws_session_options o;
	struct fake f;
	struct rec r;
	struct ws_session *s;
	struct oframe *fr;
	size_t nf;

	test_options(&o);
	o.ping_interval_ms = 1000;
	fake_now = 0;
	s = mk_session(WS_ROLE_CLIENT, &f, &r, &o);
	ck_assert_uint_eq(f.timer, 1000);
	fake_now = 1000;
	ws_session_tick(s);
	nf = parse_frames(&f.out, 0, WS_ROLE_CLIENT, &fr);
	ck_assert_uint_eq(nf, 1);
	ck_assert_int_eq(fr[0].opcode, WS_OP_PING);
	frames_free(fr, nf);
	ck_assert_uint_eq(f.timer, 2000);
	fake_now = 1500;
	feed_ok(s, wire, mk_frame(wire, WS_OP_PONG, true, false, "", 0, false));
	fake_now = 2000;
	ws_session_tick(s);
	nf = parse_frames(&f.out, 0, WS_ROLE_CLIENT, &fr);
	ck_assert_uint_eq(nf, 1);
	frames_free(fr, nf);
	ck_assert_uint_eq(f.timer, 2500);
	fake_now = 2500;
	ws_session_tick(s);
	nf = parse_frames(&f.out, 0, WS_ROLE_CLIENT, &fr);
	ck_assert_uint_eq(nf, 2);
	ck_assert_int_eq(fr[1].opcode, WS_OP_PING);
	frames_free(fr, nf);
	ck_assert_uint_eq(f.timer, 3500);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
	fake_now = 0;
}
END_TEST

START_TEST(test_idle_paused)
{
	struct ws_session_options o;
	struct fake f;
	struct rec r;
	struct ws_session *s;

	test_options(&o);
	o.idle_timeout_ms = 1000;
	fake_now = 0;
	s = mk_session(WS_ROLE_SERVER, &f, &r, &o);
	/* A paused session reads nothing: its silence is not idleness. */
	ws_session_pause(s);
	fake_now = 5000;
	ws_session_tick(s);
	ck_assert_uint_eq(f.out.len, 0);
	ck_assert_int_eq(ws_session_state(s), WS_SESSION_OPEN);
	ws_session_resume(s);
	ck_assert_uint_eq(f.timer, 6000);
	fake_now = 6000;
	ws_session_tick(s);
	ck_assert_uint_eq(only_close(&f, WS_ROLE_SERVER, NULL, NULL), 1001);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
	fake_now = 0;
}
END_TEST

/* ---- re-entrancy ------------------------------------------------------- */

START_TEST(test_free_in_on_close)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);

	r.free_in_close = true;
	feed_ok(s, wire, close_frame(wire, 1000, NULL, true));
	ck_assert_int_eq(r.closes, 1);
	ck_assert_ptr_null(r.s);
	rec_free(&r);
	buf_free(&f.out);

	s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	r.free_in_close = true;
	ws_session_abort(s);
	ck_assert_int_eq(r.closes, 1);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

static int hook_free(struct rec *r, const uint8_t *p, size_t n, bool first, bool final)
{
	ws_session_free(r->s);
	r->s = NULL;
	return 0;
}

START_TEST(test_free_in_on_message)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	size_t n = 0;

	r.hook = hook_free;
	n += mk_frame(wire + n, WS_OP_TEXT, true, false, "one", 3, true);
	n += mk_frame(wire + n, WS_OP_PING, true, false, "", 0, true);
	n += mk_frame(wire + n, WS_OP_TEXT, true, false, "two", 3, true);
	ws_session_feed(s, wire, n);
	ck_assert_uint_eq(r.nmsgs, 1);
	ck_assert_uint_eq(f.out.len, 0);
	ck_assert_int_eq(r.closes, 0);
	ck_assert_int_eq(f.closed, 0);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

static int hook_close(struct rec *r, const uint8_t *p, size_t n, bool first, bool final)
{
	if (r->nmsgs == 1)
		ck_assert_int_eq(ws_session_close(r->s, 1000, "done", 4), WS_OK);
	return 0;
}

START_TEST(test_close_in_on_message)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	size_t n = 0;

	r.hook = hook_close;
	n += mk_frame(wire + n, WS_OP_TEXT, true, false, "one", 3, true);
	n += mk_frame(wire + n, WS_OP_PING, true, false, "", 0, true);
	n += mk_frame(wire + n, WS_OP_TEXT, true, false, "two", 3, true);
	n += close_frame(wire + n, 1000, NULL, true);
	feed_ok(s, wire, n);
	ck_assert_uint_eq(r.nmsgs, 2);
	/* no pong after our close; one close frame; closed cleanly */
	ck_assert_uint_eq(only_close(&f, WS_ROLE_SERVER, NULL, NULL), 1000);
	ck_assert_int_eq(f.closed, 1);
	ck_assert(f.clean);
	ck_assert_int_eq(r.close_code, 1000);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

static int hook_abort(struct rec *r, const uint8_t *p, size_t n, bool first, bool final)
{
	ws_session_abort(r->s);
	return 0;
}

START_TEST(test_abort_in_on_message)
{
	struct fake f;
	struct rec r;
	struct ws_session *s = mk_session(WS_ROLE_SERVER, &f, &r, NULL);
	size_t n = 0;

	r.hook = hook_abort;
	n += mk_frame(wire + n, WS_OP_TEXT, true, false, "one", 3, true);
	n += mk_frame(wire + n, WS_OP_TEXT, true, false, "two", 3, true);
	ck_assert_int_ge(ws_session_feed(s, wire, n), 0);
	ck_assert_uint_eq(r.nmsgs, 1);
	ck_assert_int_eq(r.closes, 1);
	ck_assert_int_eq(r.close_code, 1006);
	ck_assert(!f.clean);
	ck_assert(!r.after_close && !f.after_close);
	ws_session_free(s);
	rec_free(&r);
	buf_free(&f.out);
}
END_TEST

/* ---- misc -------------------------------------------------------------- */

START_TEST(test_names_and_args)
{
	struct ws_session *s = (struct ws_session *)1;
	struct ws_transport_ops bad = {0};

	ck_assert_str_eq(ws_session_state_str(WS_SESSION_OPEN), "open");
	ck_assert_str_eq(ws_session_state_str(WS_SESSION_CLOSING), "closing");
	ck_assert_str_eq(ws_session_state_str(WS_SESSION_CLOSED), "closed");
	ck_assert_int_eq(ws_session_new(&s, WS_ROLE_SERVER, &bad, NULL, NULL, NULL, NULL),
	                 WS_ERR_INVALID_ARG);
	ck_assert_ptr_null(s);
	ck_assert_int_eq(ws_session_new(&s, WS_ROLE_SERVER, &fake_ops, NULL, NULL, NULL, NULL),
	                 WS_OK);
	ck_assert_int_eq(ws_session_role(s), WS_ROLE_SERVER);
	ws_session_free(s);
	ws_session_free(NULL);
}
END_TEST

static Suite *session_suite(void)
{
	Suite *su = suite_create("ws_session");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_text_in);
	tcase_add_test(tc, test_unmasked_to_server);
	tcase_add_loop_test(tc, test_fragments_with_ping, 0, 6);
	tcase_add_test(tc, test_empty_final_frame);
	tcase_add_test(tc, test_pong_in);
	tcase_add_test(tc, test_close_by_server);
	tcase_add_test(tc, test_close_by_peer_server);
	tcase_add_test(tc, test_close_by_peer_client);
	tcase_add_test(tc, test_close_by_client_self);
	tcase_add_test(tc, test_close_empty_echo);
	tcase_add_test(tc, test_close_deferred);
	tcase_add_test(tc, test_close_deferred_timeout);
	tcase_add_test(tc, test_close_timeout);
	tcase_add_test(tc, test_close_waits_for_flush);
	tcase_add_loop_test(tc, test_close_code_from_handler, 0, 8);
	tcase_add_test(tc, test_close_reason_cut);
	tcase_add_loop_test(tc, test_invalid_close_received, 0, 10);
	tcase_add_test(tc, test_close_reason_bad_utf8);
	tcase_add_test(tc, test_frame_too_big);
	tcase_add_test(tc, test_message_too_big);
	tcase_add_test(tc, test_utf8_fail_fast);
	tcase_add_test(tc, test_utf8_split_and_truncated);
	tcase_add_test(tc, test_handler_error);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_ping_interval);
	tcase_add_test(tc, test_idle_paused);
	tcase_add_test(tc, test_free_in_on_close);
	tcase_add_test(tc, test_free_in_on_message);
	tcase_add_test(tc, test_close_in_on_message);
	tcase_add_test(tc, test_abort_in_on_message);
	tcase_add_test(tc, test_names_and_args);
	suite_add_tcase(su, tc);
	return su;
}

int main(void)
{
	SRunner *sr = srunner_create(session_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
