/* Unit tests for ws_frame: one test per typed parser error, RFC 6455
 * §5.7 known answers, every split of every input, ws_mask against a
 * byte-wise reference, the encoder's length forms, and a seeded
 * property test of random frame sequences in both roles. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_error.h"
#include "ws_frame.h"

#include "req.h"

/* ---- expected frames and a checking driver ---------------------------- */

/* One frame the parser should report. */
struct exp_frame {
	uint8_t opcode;         /* expected opcode */
	bool fin;               /* expected FIN */
	bool rsv1;              /* expected RSV1 */
	bool masked;            /* expected mask bit */
	uint64_t length;        /* expected payload length */
	const uint8_t *payload; /* expected unmasked payload */
	uint8_t mask[4];        /* expected key when masked */
};

/* Drives a parser over pieces of input and checks every event against
 * the expected frames as it comes. */
struct checker {
	struct ws_frame_parser p;    /* the parser under test */
	const struct exp_frame *exp; /* expected frames */
	size_t nexp;                 /* how many */
	size_t cur;                  /* index of the frame being parsed */
	uint64_t got;                /* payload bytes seen of the current frame */
	bool in_frame;               /* HEADER seen, END not yet */
	int err;                     /* first error returned, or WS_OK */
	size_t err_lo, err_hi;       /* input range of the piece that failed */
	size_t fed;                  /* bytes offered so far */
};

static void checker_init(struct checker *c, enum ws_role role, uint64_t max_frame, bool rsv1,
                         const struct exp_frame *exp, size_t nexp)
{
	memset(c, 0, sizeof(*c));
	ws_frame_parser_init(&c->p, role, max_frame, rsv1);
	REQ_INT_EQ(c->p.state, WS_FRAME_HEAD);
	c->exp = exp;
	c->nexp = nexp;
}

static void check_header(struct checker *c, const struct ws_frame_event *ev)
{
	const struct exp_frame *e;

	REQ_MSG(!c->in_frame, "HEADER inside a frame");
	REQ_MSG(c->cur < c->nexp, "unexpected frame %zu", c->cur);
	e = &c->exp[c->cur];
	REQ_PTR_EQ(ev->header, &c->p.header);
	REQ_UINT_EQ(ev->header->opcode, e->opcode);
	REQ_INT_EQ(ev->header->fin, e->fin);
	REQ_INT_EQ(ev->header->rsv1, e->rsv1);
	REQ_INT_EQ(ev->header->masked, e->masked);
	REQ_UINT_EQ(ev->header->length, e->length);
	if (e->masked)
		REQ(memcmp(ev->header->mask, e->mask, 4) == 0);
	REQ_INT_EQ(c->p.state, WS_FRAME_PAYLOAD);
	c->in_frame = true;
	c->got = 0;
}

/* Feed one piece, pulling events until the parser reports NONE. */
static void checker_feed(struct checker *c, uint8_t *data, size_t len)
{
	size_t off = 0;
	int zero_progress = 0;

	if (c->err != WS_OK) {
		struct ws_frame_event ev;
		size_t consumed = 12345;
		REQ_INT_EQ(ws_frame_parse(&c->p, data, len, &consumed, &ev), c->err);
		REQ_UINT_EQ(consumed, 0);
		REQ_INT_EQ(ev.type, WS_FRAME_EV_NONE);
		c->fed += len;
		return;
	}
	for (;;) {
		struct ws_frame_event ev;
		size_t consumed = SIZE_MAX;
		int rc = ws_frame_parse(&c->p, data + off, len - off, &consumed, &ev);

		REQ_UINT_LE(consumed, len - off);
		if (rc != WS_OK) {
			REQ_INT_EQ(ev.type, WS_FRAME_EV_NONE);
			REQ_INT_EQ(c->p.state, WS_FRAME_FAILED);
			c->err = rc;
			c->err_lo = c->fed;
			c->err_hi = c->fed + len;
			c->fed += len;
			return;
		}
		off += consumed;
		switch (ev.type) {
		case WS_FRAME_EV_NONE:
			/* NONE means the whole piece was used */
			REQ_UINT_EQ(off, len);
			c->fed += len;
			return;
		case WS_FRAME_EV_HEADER:
			REQ_UINT_GT(consumed, 0);
			check_header(c, &ev);
			break;
		case WS_FRAME_EV_PAYLOAD: {
			const struct exp_frame *e = &c->exp[c->cur];
			REQ(c->in_frame);
			REQ_PTR_EQ(ev.header, &c->p.header);
			REQ_UINT_GT(ev.len, 0);
			REQ_UINT_EQ(ev.len, consumed);
			/* the chunk is the input itself, unmasked in place */
			REQ_PTR_EQ(ev.data + ev.len, data + off);
			REQ_UINT_LE(c->got + ev.len, e->length);
			REQ_MSG(memcmp(ev.data, e->payload + c->got, ev.len) == 0,
			        "payload of frame %zu differs at %llu", c->cur,
			        (unsigned long long)c->got);
			c->got += ev.len;
			break;
		}
		case WS_FRAME_EV_END:
			REQ(c->in_frame);
			REQ_PTR_EQ(ev.header, &c->p.header);
			REQ_UINT_EQ(consumed, 0);
			REQ_UINT_EQ(c->got, c->exp[c->cur].length);
			REQ_INT_EQ(c->p.state, WS_FRAME_HEAD);
			c->in_frame = false;
			c->cur++;
			break;
		default:
			ck_abort_msg("unknown event %d", (int)ev.type);
		}
		/* only END may use no input, and never twice in a row */
		if (consumed == 0)
			REQ_INT_LE(++zero_progress, 1);
		else
			zero_progress = 0;
	}
}

/* Parser settings for one input. */
struct cfg {
	enum ws_role role;  /* parser role */
	uint64_t max_frame; /* 0 = none */
	bool allow_rsv1;    /* extension owns RSV1 */
};

/* Run input cut at cuts[] (ascending) on a fresh copy; check the frames
 * and, when want_err is set, that it is returned by the piece holding
 * byte err_idx, and sticks. */
static void run_cuts(const struct cfg *cfg, const uint8_t *in, size_t n, const size_t *cuts,
                     size_t ncuts, const struct exp_frame *exp, size_t nexp, int want_err,
                     size_t err_idx)
{
	struct checker c;
	/* A server parser unmasks in place, so it gets a fresh copy; a
	 * client parser must never write (it would show up as a payload
	 * mismatch, or a fault on read-only test data). */
	bool copy = cfg->role == WS_ROLE_SERVER;
	uint8_t *buf = copy ? malloc(n ? n : 1) : (uint8_t *)(uintptr_t)in;
	size_t at = 0;

	REQ_NONNULL(buf);
	if (copy)
		memcpy(buf, in, n);
	checker_init(&c, cfg->role, cfg->max_frame, cfg->allow_rsv1, exp, nexp);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;
		checker_feed(&c, buf + at, end - at);
		at = end;
	}
	/* one more empty call: nothing pending at the end of the input */
	checker_feed(&c, buf + n, 0);
	if (want_err == WS_OK) {
		REQ_MSG(c.err == WS_OK, "unexpected error %d", c.err);
		REQ_UINT_EQ(c.cur, nexp);
		REQ(!c.in_frame);
	} else {
		REQ_MSG(c.err == want_err, "error %d, want %d", c.err, want_err);
		REQ_MSG(c.err_lo <= err_idx && err_idx < c.err_hi,
		        "error came in piece [%zu,%zu), deciding byte %zu", c.err_lo, c.err_hi,
		        err_idx);
		REQ_UINT_EQ(c.cur, nexp);
		REQ_INT_EQ(c.p.error, want_err);
	}
	if (copy)
		free(buf);
}

/* Whole, every two-way split, byte by byte. */
static void run_all_splits(const struct cfg *cfg, const uint8_t *in, size_t n,
                           const struct exp_frame *exp, size_t nexp, int want_err, size_t err_idx)
{
	size_t *cuts = malloc((n + 1) * sizeof(*cuts));

	REQ_NONNULL(cuts);
	run_cuts(cfg, in, n, NULL, 0, exp, nexp, want_err, err_idx);
	for (size_t k = 0; k <= n; k++)
		run_cuts(cfg, in, n, &k, 1, exp, nexp, want_err, err_idx);
	for (size_t i = 0; i < n; i++)
		cuts[i] = i + 1;
	run_cuts(cfg, in, n, cuts, n, exp, nexp, want_err, err_idx);
	free(cuts);
}

static const struct cfg SERVER = {WS_ROLE_SERVER, 0, false};
static const struct cfg CLIENT = {WS_ROLE_CLIENT, 0, false};
static const struct cfg SERVER_RSV1 = {WS_ROLE_SERVER, 0, true};

/* An input that must fail with err when byte idx is read, after the
 * frames in exp (if any) were parsed whole. */
static void expect_error(const struct cfg *cfg, const uint8_t *in, size_t n,
                         const struct exp_frame *exp, size_t nexp, int err, size_t idx)
{
	run_all_splits(cfg, in, n, exp, nexp, err, idx);
}

#define EXPECT_ERROR(cfg, err, idx, ...)                                                           \
	do {                                                                                       \
		static const uint8_t in_[] = {__VA_ARGS__};                                        \
		expect_error(cfg, in_, sizeof(in_), NULL, 0, err, idx);                            \
	} while (0)

/* ---- one test per typed error ---------------------------------------- */

START_TEST(test_err_opcode)
{
	static const uint8_t reserved[] = {3, 4, 5, 6, 7, 11, 12, 13, 14, 15};

	for (size_t i = 0; i < sizeof(reserved); i++) {
		uint8_t in[6] = {(uint8_t)(0x80 | reserved[i]), 0x80, 1, 2, 3, 4};
		expect_error(&SERVER, in, sizeof(in), NULL, 0, WS_ERR_PROTO_OPCODE, 0);
		in[1] = 0x00;
		expect_error(&CLIENT, in, 2, NULL, 0, WS_ERR_PROTO_OPCODE, 0);
	}
}
END_TEST

START_TEST(test_err_rsv)
{
	/* RSV2, RSV3: never, even with an extension owning RSV1 */
	EXPECT_ERROR(&SERVER, WS_ERR_PROTO_RSV, 0, 0xA1, 0x80, 0, 0, 0, 0);
	EXPECT_ERROR(&SERVER, WS_ERR_PROTO_RSV, 0, 0x91, 0x80, 0, 0, 0, 0);
	EXPECT_ERROR(&SERVER_RSV1, WS_ERR_PROTO_RSV, 0, 0xA1, 0x80, 0, 0, 0, 0);
	EXPECT_ERROR(&SERVER_RSV1, WS_ERR_PROTO_RSV, 0, 0xF2, 0x80, 0, 0, 0, 0);
	/* RSV1 without an extension */
	EXPECT_ERROR(&SERVER, WS_ERR_PROTO_RSV, 0, 0xC1, 0x80, 0, 0, 0, 0);
	EXPECT_ERROR(&CLIENT, WS_ERR_PROTO_RSV, 0, 0xC2, 0x00);
	/* RSV1 on a control frame, even with an extension */
	EXPECT_ERROR(&SERVER_RSV1, WS_ERR_PROTO_RSV, 0, 0xC9, 0x80, 0, 0, 0, 0);
	EXPECT_ERROR(&SERVER_RSV1, WS_ERR_PROTO_RSV, 0, 0xC8, 0x80, 0, 0, 0, 0);
	/* RSV1 on a continuation, even with an extension: after a first
	 * frame that legitimately carries it */
	{
		static const uint8_t in[] = {0x41, 0x80, 9, 9, 9, 9, 0xC0, 0x80, 0, 0, 0, 0};
		static const struct exp_frame first = {WS_OP_TEXT, false, true,        true,
		                                       0,          NULL,  {9, 9, 9, 9}};
		expect_error(&SERVER_RSV1, in, sizeof(in), &first, 1, WS_ERR_PROTO_RSV, 6);
	}
	/* RSV1 is accepted on the first frame of text and binary */
	{
		static const uint8_t in[] = {0xC1, 0x80, 1, 2, 3, 4, 0xC2, 0x80, 5, 6, 7, 8};
		static const struct exp_frame fr[] = {
		    {WS_OP_TEXT, true, true, true, 0, NULL, {1, 2, 3, 4}},
		    {WS_OP_BINARY, true, true, true, 0, NULL, {5, 6, 7, 8}},
		};
		run_all_splits(&SERVER_RSV1, in, sizeof(in), fr, 2, WS_OK, 0);
	}
}
END_TEST

START_TEST(test_err_unmasked)
{
	EXPECT_ERROR(&SERVER, WS_ERR_PROTO_UNMASKED, 1, 0x81, 0x05, 'H', 'e', 'l', 'l', 'o');
	EXPECT_ERROR(&SERVER, WS_ERR_PROTO_UNMASKED, 1, 0x89, 0x00);
}
END_TEST

START_TEST(test_err_masked)
{
	EXPECT_ERROR(&CLIENT, WS_ERR_PROTO_MASKED, 1, 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f,
	             0x9f, 0x4d, 0x51, 0x58);
	EXPECT_ERROR(&CLIENT, WS_ERR_PROTO_MASKED, 1, 0x8A, 0x80, 0, 0, 0, 0);
}
END_TEST

START_TEST(test_err_length)
{
	/* 126-form carrying 125 */
	EXPECT_ERROR(&CLIENT, WS_ERR_PROTO_LENGTH, 3, 0x82, 0x7E, 0x00, 0x7D);
	/* 126-form carrying 0 */
	EXPECT_ERROR(&SERVER, WS_ERR_PROTO_LENGTH, 3, 0x82, 0xFE, 0x00, 0x00, 1, 2, 3, 4);
	/* 127-form carrying 65535 and 0 */
	EXPECT_ERROR(&CLIENT, WS_ERR_PROTO_LENGTH, 9, 0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF);
	EXPECT_ERROR(&SERVER, WS_ERR_PROTO_LENGTH, 9, 0x82, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3,
	             4);
	/* boundaries that are fine: 126 in the 126-form, 65536 in the 127-form
	 * (header only: checked by state) */
	{
		struct ws_frame_parser p;
		struct ws_frame_event ev;
		size_t used;
		uint8_t a[] = {0x82, 0x7E, 0x00, 0x7E};
		uint8_t b[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0};

		ws_frame_parser_init(&p, WS_ROLE_CLIENT, 0, false);
		REQ_INT_EQ(ws_frame_parse(&p, a, sizeof(a), &used, &ev), WS_OK);
		REQ_INT_EQ(ev.type, WS_FRAME_EV_HEADER);
		REQ_UINT_EQ(ev.header->length, 126);
		ws_frame_parser_init(&p, WS_ROLE_CLIENT, 0, false);
		REQ_INT_EQ(ws_frame_parse(&p, b, sizeof(b), &used, &ev), WS_OK);
		REQ_INT_EQ(ev.type, WS_FRAME_EV_HEADER);
		REQ_UINT_EQ(ev.header->length, 65536);
	}
}
END_TEST

START_TEST(test_err_length_top)
{
	EXPECT_ERROR(&CLIENT, WS_ERR_PROTO_LENGTH_TOP, 9, 0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0);
	EXPECT_ERROR(&SERVER, WS_ERR_PROTO_LENGTH_TOP, 9, 0x82, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	             0xFF, 0xFF, 0xFF, 1, 2, 3, 4);
}
END_TEST

START_TEST(test_err_control_len)
{
	/* decided by the 7-bit length alone, before any extended length */
	EXPECT_ERROR(&SERVER, WS_ERR_PROTO_CONTROL_LEN, 1, 0x89, 0xFE, 0x00, 0x7E);
	EXPECT_ERROR(&CLIENT, WS_ERR_PROTO_CONTROL_LEN, 1, 0x8A, 0x7F, 0, 0, 0, 0, 0, 0, 0, 0x7E);
	EXPECT_ERROR(&CLIENT, WS_ERR_PROTO_CONTROL_LEN, 1, 0x88, 0x7E, 0x00, 0x7E);
}
END_TEST

START_TEST(test_err_control_frag)
{
	EXPECT_ERROR(&SERVER, WS_ERR_PROTO_CONTROL_FRAG, 0, 0x09, 0x80, 0, 0, 0, 0);
	EXPECT_ERROR(&CLIENT, WS_ERR_PROTO_CONTROL_FRAG, 0, 0x08, 0x00);
	EXPECT_ERROR(&CLIENT, WS_ERR_PROTO_CONTROL_FRAG, 0, 0x0A, 0x00);
}
END_TEST

START_TEST(test_err_close_len)
{
	EXPECT_ERROR(&SERVER, WS_ERR_PROTO_CLOSE_LEN, 1, 0x88, 0x81, 1, 2, 3, 4, 0x03);
	EXPECT_ERROR(&CLIENT, WS_ERR_PROTO_CLOSE_LEN, 1, 0x88, 0x01, 0x03);
	/* 0 and 2 are fine; ping/pong of 1 byte are fine */
	{
		static const uint8_t in[] = {0x88, 0x00, 0x88, 0x02, 0x03, 0xE8, 0x89, 0x01, 'x'};
		static const struct exp_frame fr[] = {
		    {WS_OP_CLOSE, true, false, false, 0, NULL, {0}},
		    {WS_OP_CLOSE, true, false, false, 2, (const uint8_t *)"\x03\xE8", {0}},
		    {WS_OP_PING, true, false, false, 1, (const uint8_t *)"x", {0}},
		};
		run_all_splits(&CLIENT, in, sizeof(in), fr, 3, WS_OK, 0);
	}
}
END_TEST

START_TEST(test_err_continuation)
{
	EXPECT_ERROR(&SERVER, WS_ERR_PROTO_CONTINUATION, 0, 0x80, 0x80, 0, 0, 0, 0);
	EXPECT_ERROR(&CLIENT, WS_ERR_PROTO_CONTINUATION, 0, 0x00, 0x00);
	/* after a complete message, a continuation is again out of place */
	{
		static const uint8_t in[] = {0x01, 0x01, 'a', 0x80, 0x01, 'b', 0x80, 0x00};
		static const struct exp_frame fr[] = {
		    {WS_OP_TEXT, false, false, false, 1, (const uint8_t *)"a", {0}},
		    {WS_OP_CONTINUATION, true, false, false, 1, (const uint8_t *)"b", {0}},
		};
		expect_error(&CLIENT, in, sizeof(in), fr, 2, WS_ERR_PROTO_CONTINUATION, 6);
	}
}
END_TEST

START_TEST(test_err_not_continuation)
{
	/* text opened, then a new binary frame (with a ping between) */
	static const uint8_t in[] = {0x01, 0x01, 'a', 0x89, 0x00, 0x82, 0x00};
	static const struct exp_frame fr[] = {
	    {WS_OP_TEXT, false, false, false, 1, (const uint8_t *)"a", {0}},
	    {WS_OP_PING, true, false, false, 0, NULL, {0}},
	};
	static const uint8_t in2[] = {0x02, 0x80, 1, 2, 3, 4, 0x81, 0x80, 1, 2, 3, 4};
	static const struct exp_frame fr2[] = {
	    {WS_OP_BINARY, false, false, true, 0, NULL, {1, 2, 3, 4}},
	};

	expect_error(&CLIENT, in, sizeof(in), fr, 2, WS_ERR_PROTO_NOT_CONTINUATION, 5);
	expect_error(&SERVER, in2, sizeof(in2), fr2, 1, WS_ERR_PROTO_NOT_CONTINUATION, 6);
}
END_TEST

START_TEST(test_err_frame_too_big)
{
	static const struct cfg small = {WS_ROLE_SERVER, 1000, false};
	static const struct cfg tiny = {WS_ROLE_CLIENT, 10, false};
	static const struct cfg big = {WS_ROLE_CLIENT, 70000, false};

	/* checked when the length is known: before the mask key and payload */
	EXPECT_ERROR(&small, WS_ERR_PROTO_FRAME_TOO_BIG, 3, 0x82, 0xFE, 0x03, 0xE9, 1, 2, 3, 4, 0);
	EXPECT_ERROR(&tiny, WS_ERR_PROTO_FRAME_TOO_BIG, 1, 0x82, 0x0B, 0, 0, 0, 0);
	EXPECT_ERROR(&tiny, WS_ERR_PROTO_FRAME_TOO_BIG, 1, 0x89, 0x0B, 0, 0, 0, 0);
	EXPECT_ERROR(&big, WS_ERR_PROTO_FRAME_TOO_BIG, 9, 0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0x11, 0x71);
	/* exactly the limit is fine */
	{
		static const uint8_t in[] = {0x82, 0x0A, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
		static const struct exp_frame fr = {WS_OP_BINARY, true,   false, false,
		                                    10,           in + 2, {0}};
		run_all_splits(&tiny, in, sizeof(in), &fr, 1, WS_OK, 0);
	}
}
END_TEST

/* Errors stick: further calls return the same error and consume nothing. */
START_TEST(test_error_sticky)
{
	struct ws_frame_parser p;
	struct ws_frame_event ev;
	size_t used;
	uint8_t bad[] = {0x83, 0x80};
	uint8_t good[] = {0x81, 0x00};

	ws_frame_parser_init(&p, WS_ROLE_CLIENT, 0, false);
	REQ_INT_EQ(ws_frame_parse(&p, bad, 2, &used, &ev), WS_ERR_PROTO_OPCODE);
	REQ_INT_EQ(p.state, WS_FRAME_FAILED);
	REQ_INT_EQ(ws_frame_parse(&p, good, 2, &used, &ev), WS_ERR_PROTO_OPCODE);
	REQ_UINT_EQ(used, 0);
	REQ_INT_EQ(ws_frame_parse(&p, NULL, 0, &used, &ev), WS_ERR_PROTO_OPCODE);
	/* init starts over */
	ws_frame_parser_init(&p, WS_ROLE_CLIENT, 0, false);
	REQ_INT_EQ(ws_frame_parse(&p, good, 2, &used, &ev), WS_OK);
	REQ_INT_EQ(ev.type, WS_FRAME_EV_HEADER);
}
END_TEST

/* ---- known answers (RFC 6455 §5.7) ------------------------------------ */

START_TEST(test_rfc_unmasked_hello)
{
	static const uint8_t in[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
	static const struct exp_frame fr = {
	    WS_OP_TEXT, true, false, false, 5, (const uint8_t *)"Hello", {0}};
	run_all_splits(&CLIENT, in, sizeof(in), &fr, 1, WS_OK, 0);
}
END_TEST

START_TEST(test_rfc_masked_hello)
{
	static const uint8_t in[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
	                             0x7f, 0x9f, 0x4d, 0x51, 0x58};
	static const struct exp_frame fr = {
	    WS_OP_TEXT, true, false, true, 5, (const uint8_t *)"Hello", {0x37, 0xfa, 0x21, 0x3d}};
	run_all_splits(&SERVER, in, sizeof(in), &fr, 1, WS_OK, 0);
}
END_TEST

START_TEST(test_rfc_fragmented)
{
	static const uint8_t in[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
	static const struct exp_frame fr[] = {
	    {WS_OP_TEXT, false, false, false, 3, (const uint8_t *)"Hel", {0}},
	    {WS_OP_CONTINUATION, true, false, false, 2, (const uint8_t *)"lo", {0}},
	};
	run_all_splits(&CLIENT, in, sizeof(in), fr, 2, WS_OK, 0);
}
END_TEST

START_TEST(test_rfc_ping_pong)
{
	/* unmasked ping "Hello" (to a client), masked pong "Hello" (to a
	 * server) */
	static const uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
	static const uint8_t pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
	                               0x7f, 0x9f, 0x4d, 0x51, 0x58};
	static const struct exp_frame fping = {
	    WS_OP_PING, true, false, false, 5, (const uint8_t *)"Hello", {0}};
	static const struct exp_frame fpong = {
	    WS_OP_PONG, true, false, true, 5, (const uint8_t *)"Hello", {0x37, 0xfa, 0x21, 0x3d}};
	run_all_splits(&CLIENT, ping, sizeof(ping), &fping, 1, WS_OK, 0);
	run_all_splits(&SERVER, pong, sizeof(pong), &fpong, 1, WS_OK, 0);
}
END_TEST

START_TEST(test_rfc_256_bytes)
{
	uint8_t in[4 + 256], payload[256];
	struct exp_frame fr = {WS_OP_BINARY, true, false, false, 256, payload, {0}};

	in[0] = 0x82;
	in[1] = 0x7E;
	in[2] = 0x01;
	in[3] = 0x00;
	for (int i = 0; i < 256; i++)
		payload[i] = in[4 + i] = (uint8_t)(i * 7 + 3);
	run_all_splits(&CLIENT, in, sizeof(in), &fr, 1, WS_OK, 0);
	/* the same masked, to a server */
	{
		uint8_t m[8 + 256];
		static const uint8_t key[4] = {0xA5, 0x01, 0xFF, 0x3C};
		struct exp_frame fm = fr;
		memcpy(fm.mask, key, 4);
		fm.masked = true;
		m[0] = 0x82;
		m[1] = 0xFE;
		m[2] = 0x01;
		m[3] = 0x00;
		memcpy(m + 4, key, 4);
		for (int i = 0; i < 256; i++)
			m[8 + i] = payload[i] ^ key[i % 4];
		run_all_splits(&SERVER, m, sizeof(m), &fm, 1, WS_OK, 0);
	}
}
END_TEST

START_TEST(test_rfc_64k)
{
	enum { N = 65536 };
	uint8_t *in = malloc(10 + N), *payload = malloc(N);
	static const uint8_t head[10] = {0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00};
	struct exp_frame fr = {WS_OP_BINARY, true, false, false, N, payload, {0}};

	REQ_NONNULL(in);
	REQ_NONNULL(payload);
	memcpy(in, head, 10);
	for (int i = 0; i < N; i++)
		payload[i] = in[10 + i] = (uint8_t)(i ^ (i >> 8));
	run_all_splits(&CLIENT, in, 10 + N, &fr, 1, WS_OK, 0);
	free(in);
	free(payload);
}
END_TEST

/* Zero-length frames: HEADER, then END from the next call, which needs
 * no input; the state machine steps through its named states. */
START_TEST(test_zero_length_and_states)
{
	struct ws_frame_parser p;
	struct ws_frame_event ev;
	size_t used;
	uint8_t in[] = {0x89, 0x80, 1, 2, 3, 4, 0x82, 0xFE, 0x00, 0x80};

	ws_frame_parser_init(&p, WS_ROLE_SERVER, 0, false);
	REQ_INT_EQ(ws_frame_parse(&p, in, 1, &used, &ev), WS_OK);
	REQ_INT_EQ(ev.type, WS_FRAME_EV_NONE);
	REQ_NULL(ev.header);
	REQ_UINT_EQ(used, 1);
	REQ_INT_EQ(p.state, WS_FRAME_HEAD);
	REQ_INT_EQ(ws_frame_parse(&p, in + 1, 1, &used, &ev), WS_OK);
	REQ_INT_EQ(ev.type, WS_FRAME_EV_NONE);
	REQ_INT_EQ(p.state, WS_FRAME_MASK_KEY);
	REQ_INT_EQ(ws_frame_parse(&p, in + 2, 4, &used, &ev), WS_OK);
	REQ_INT_EQ(ev.type, WS_FRAME_EV_HEADER);
	REQ_UINT_EQ(used, 4);
	REQ_UINT_EQ(ev.header->length, 0);
	REQ_INT_EQ(p.state, WS_FRAME_PAYLOAD);
	/* END with no input at all */
	REQ_INT_EQ(ws_frame_parse(&p, NULL, 0, &used, &ev), WS_OK);
	REQ_INT_EQ(ev.type, WS_FRAME_EV_END);
	REQ_UINT_EQ(used, 0);
	REQ_UINT_EQ(ev.header->opcode, WS_OP_PING);
	REQ_INT_EQ(p.state, WS_FRAME_HEAD);
	REQ_INT_EQ(ws_frame_parse(&p, NULL, 0, &used, &ev), WS_OK);
	REQ_INT_EQ(ev.type, WS_FRAME_EV_NONE);
	/* extended length state */
	REQ_INT_EQ(ws_frame_parse(&p, in + 6, 3, &used, &ev), WS_OK);
	REQ_INT_EQ(ev.type, WS_FRAME_EV_NONE);
	REQ_UINT_EQ(used, 3);
	REQ_INT_EQ(p.state, WS_FRAME_EXT_LENGTH);
	REQ_INT_EQ(ws_frame_parse(&p, in + 9, 1, &used, &ev), WS_OK);
	REQ_INT_EQ(p.state, WS_FRAME_MASK_KEY);
	REQ_UINT_EQ(p.header.length, 128);

	/* with the payload in the same buffer: HEADER stops right after
	 * the header, then PAYLOAD, then END with nothing consumed */
	{
		uint8_t b[] = {0x81, 0x02, 'h', 'i', 0x81, 0x00};
		ws_frame_parser_init(&p, WS_ROLE_CLIENT, 0, false);
		REQ_INT_EQ(ws_frame_parse(&p, b, 6, &used, &ev), WS_OK);
		REQ_INT_EQ(ev.type, WS_FRAME_EV_HEADER);
		REQ_UINT_EQ(used, 2);
		REQ_INT_EQ(ws_frame_parse(&p, b + 2, 4, &used, &ev), WS_OK);
		REQ_INT_EQ(ev.type, WS_FRAME_EV_PAYLOAD);
		REQ_UINT_EQ(used, 2);
		REQ_PTR_EQ(ev.data, b + 2);
		REQ_UINT_EQ(ev.len, 2);
		REQ_INT_EQ(ws_frame_parse(&p, b + 4, 2, &used, &ev), WS_OK);
		REQ_INT_EQ(ev.type, WS_FRAME_EV_END);
		REQ_UINT_EQ(used, 0);
		REQ_INT_EQ(ws_frame_parse(&p, b + 4, 2, &used, &ev), WS_OK);
		REQ_INT_EQ(ev.type, WS_FRAME_EV_HEADER);
		REQ_INT_EQ(ws_frame_parse(&p, b + 6, 0, &used, &ev), WS_OK);
		REQ_INT_EQ(ev.type, WS_FRAME_EV_END);
	}
}
END_TEST

/* Payload is unmasked in the caller's buffer, and the parser keeps the
 * key phase across chunks split at any offset. */
START_TEST(test_unmask_in_place)
{
	uint8_t in[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
	struct ws_frame_parser p;
	struct ws_frame_event ev;
	size_t used;

	ws_frame_parser_init(&p, WS_ROLE_SERVER, 0, false);
	REQ_INT_EQ(ws_frame_parse(&p, in, sizeof(in), &used, &ev), WS_OK);
	REQ_INT_EQ(ws_frame_parse(&p, in + 6, 3, &used, &ev), WS_OK);
	REQ_INT_EQ(ev.type, WS_FRAME_EV_PAYLOAD);
	REQ_INT_EQ(ws_frame_parse(&p, in + 9, 2, &used, &ev), WS_OK);
	REQ_INT_EQ(ev.type, WS_FRAME_EV_PAYLOAD);
	REQ(memcmp(in + 6, "Hello", 5) == 0);
}
END_TEST

/* ---- ws_mask, encoder, names ------------------------------------------ */

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint32_t rnd(void)
{
	/* xorshift64*: fixed seed, reproducible */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545F4914F6CDD1Du) >> 32);
}

START_TEST(test_mask_vs_reference)
{
	uint8_t buf[128], ref[128];

	for (int round = 0; round < 4; round++) {
		uint8_t key[4];
		for (int i = 0; i < 4; i++)
			key[i] = (uint8_t)rnd();
		for (size_t align = 0; align < 8; align++) {
			for (uint64_t off = 0; off < 16; off++) {
				for (size_t len = 0; len <= 70; len++) {
					for (size_t i = 0; i < sizeof(buf); i++)
						buf[i] = ref[i] = (uint8_t)rnd();
					ws_mask(buf + 8 + align, len, key, off);
					for (size_t i = 0; i < len; i++)
						ref[8 + align + i] ^= key[(off + i) % 4];
					/* equal inside, untouched outside */
					REQ_MSG(memcmp(buf, ref, sizeof(buf)) == 0,
					        "align %zu off %llu len %zu", align,
					        (unsigned long long)off, len);
				}
			}
		}
	}
	/* large offsets: only offset mod 4 matters */
	{
		static const uint8_t key[4] = {1, 2, 4, 8};
		uint8_t a[37] = {0}, b[37] = {0};
		ws_mask(a, sizeof(a), key, UINT64_C(0xFFFFFFFFFFFFFFFD));
		ws_mask(b, sizeof(b), key, 1);
		REQ(memcmp(a, b, sizeof(a)) == 0);
	}
	/* masking twice restores the data */
	{
		static const uint8_t key[4] = {0xDE, 0xAD, 0xBE, 0xEF};
		uint8_t a[100], b[100];
		for (int i = 0; i < 100; i++)
			a[i] = b[i] = (uint8_t)i;
		ws_mask(a + 3, 90, key, 7);
		REQ(memcmp(a, b, 100) != 0);
		ws_mask(a + 3, 90, key, 7);
		REQ(memcmp(a, b, 100) == 0);
	}
}
END_TEST

START_TEST(test_encode_length_forms)
{
	uint8_t out[WS_FRAME_HEADER_MAX];
	static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};

	REQ_UINT_EQ(ws_frame_header_encode(out, WS_OP_TEXT, true, false, 5, NULL), 2);
	REQ(memcmp(out, "\x81\x05", 2) == 0);
	REQ_UINT_EQ(ws_frame_header_encode(out, WS_OP_TEXT, true, false, 5, key), 6);
	REQ(memcmp(out, "\x81\x85\x37\xfa\x21\x3d", 6) == 0);
	REQ_UINT_EQ(ws_frame_header_encode(out, WS_OP_TEXT, false, false, 3, NULL), 2);
	REQ(memcmp(out, "\x01\x03", 2) == 0);
	REQ_UINT_EQ(ws_frame_header_encode(out, WS_OP_BINARY, true, true, 0, NULL), 2);
	REQ(memcmp(out, "\xC2\x00", 2) == 0);

	REQ_UINT_EQ(ws_frame_header_encode(out, WS_OP_BINARY, true, false, 125, NULL), 2);
	REQ(memcmp(out, "\x82\x7D", 2) == 0);
	REQ_UINT_EQ(ws_frame_header_encode(out, WS_OP_BINARY, true, false, 126, NULL), 4);
	REQ(memcmp(out, "\x82\x7E\x00\x7E", 4) == 0);
	REQ_UINT_EQ(ws_frame_header_encode(out, WS_OP_BINARY, true, false, 256, NULL), 4);
	REQ(memcmp(out, "\x82\x7E\x01\x00", 4) == 0);
	REQ_UINT_EQ(ws_frame_header_encode(out, WS_OP_BINARY, true, false, 65535, NULL), 4);
	REQ(memcmp(out, "\x82\x7E\xFF\xFF", 4) == 0);
	REQ_UINT_EQ(ws_frame_header_encode(out, WS_OP_BINARY, true, false, 65536, NULL), 10);
	REQ(memcmp(out, "\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00", 10) == 0);
	REQ_UINT_EQ(ws_frame_header_encode(out, WS_OP_BINARY, true, false,
	                                   UINT64_C(0x7FFFFFFFFFFFFFFF), key),
	            14);
	REQ(memcmp(out, "\x82\xFF\x7F\xFF\xFF\xFF\xFF\xFF\xFF\xFF\x37\xfa\x21\x3d", 14) == 0);
	REQ_UINT_EQ(ws_frame_header_encode(out, WS_OP_CLOSE, true, false, 125, key), 6);
	REQ(memcmp(out, "\x88\xFD\x37\xfa\x21\x3d", 6) == 0);
}
END_TEST

START_TEST(test_opcode_names)
{
	ck_assert_str_eq(ws_opcode_str(WS_OP_CONTINUATION), "continuation");
	ck_assert_str_eq(ws_opcode_str(WS_OP_TEXT), "text");
	ck_assert_str_eq(ws_opcode_str(WS_OP_BINARY), "binary");
	ck_assert_str_eq(ws_opcode_str(WS_OP_CLOSE), "close");
	ck_assert_str_eq(ws_opcode_str(WS_OP_PING), "ping");
	ck_assert_str_eq(ws_opcode_str(WS_OP_PONG), "pong");
	ck_assert_str_eq(ws_opcode_str(3), "reserved");
	ck_assert_str_eq(ws_opcode_str(0xF), "reserved");
	ck_assert_str_eq(ws_opcode_str(300), "reserved");
}
END_TEST

/* ---- property: random valid sequences round-trip in both roles -------- */

/* A generated sequence: wire bytes plus the frames they must parse to. */
struct seq {
	uint8_t *wire;        /* encoded frames */
	size_t wlen, wcap;    /* used and allocated bytes of wire */
	struct exp_frame *fr; /* expected frames */
	uint8_t **payloads;   /* owned payload buffer of each frame */
	size_t nfr, frcap;    /* used and allocated frame slots */
	uint64_t longest;     /* longest payload */
};

static void seq_add(struct seq *s, enum ws_role parser_role, uint8_t opcode, bool fin, bool rsv1,
                    size_t len)
{
	uint8_t key[4], hdr[WS_FRAME_HEADER_MAX];
	/* a server parser receives masked frames from a client */
	bool masked = parser_role == WS_ROLE_SERVER;
	uint8_t *pl = malloc(len ? len : 1);
	size_t hl;
	struct exp_frame *e;

	REQ_NONNULL(pl);
	for (size_t i = 0; i < len; i += 4) {
		uint32_t r = rnd();
		memcpy(pl + i, &r, len - i < 4 ? len - i : 4);
	}
	for (int i = 0; i < 4; i++)
		key[i] = (uint8_t)rnd();
	hl = ws_frame_header_encode(hdr, opcode, fin, rsv1, len, masked ? key : NULL);
	if (s->wlen + hl + len > s->wcap) {
		s->wcap = (s->wlen + hl + len) * 2;
		s->wire = realloc(s->wire, s->wcap);
		REQ_NONNULL(s->wire);
	}
	memcpy(s->wire + s->wlen, hdr, hl);
	memcpy(s->wire + s->wlen + hl, pl, len);
	if (masked)
		ws_mask(s->wire + s->wlen + hl, len, key, 0);
	s->wlen += hl + len;
	if (s->nfr == s->frcap) {
		s->frcap = s->frcap ? s->frcap * 2 : 16;
		s->fr = realloc(s->fr, s->frcap * sizeof(*s->fr));
		s->payloads = realloc(s->payloads, s->frcap * sizeof(*s->payloads));
		REQ_NONNULL(s->fr);
		REQ_NONNULL(s->payloads);
	}
	e = &s->fr[s->nfr];
	memset(e, 0, sizeof(*e));
	e->opcode = opcode;
	e->fin = fin;
	e->rsv1 = rsv1;
	e->masked = masked;
	e->length = len;
	e->payload = pl;
	memcpy(e->mask, key, 4);
	s->payloads[s->nfr++] = pl;
	if (len > s->longest)
		s->longest = len;
}

static size_t rnd_data_len(void)
{
	unsigned r = rnd() % 20;

	if (r < 12)
		return rnd() % 131; /* around the 7-bit / 16-bit edge */
	if (r < 19)
		return rnd() % 3000;
	return rnd() % 70001; /* across the 16-bit / 64-bit edge */
}

static void seq_control(struct seq *s, enum ws_role role)
{
	static const uint8_t ops[] = {WS_OP_PING, WS_OP_PONG, WS_OP_CLOSE};
	uint8_t op = ops[rnd() % 3];
	size_t len = rnd() % 126;

	if (op == WS_OP_CLOSE && len == 1)
		len = 0;
	seq_add(s, role, op, true, false, len);
}

static void seq_generate(struct seq *s, enum ws_role role, bool allow_rsv1)
{
	unsigned nmsg = 1 + rnd() % 4;

	for (unsigned m = 0; m < nmsg; m++) {
		unsigned nfrag = 1 + rnd() % 4;
		uint8_t op = rnd() % 2 ? WS_OP_TEXT : WS_OP_BINARY;
		bool rsv1 = allow_rsv1 && rnd() % 2;

		for (unsigned f = 0; f < nfrag; f++) {
			while (rnd() % 4 == 0)
				seq_control(s, role);
			seq_add(s, role, f == 0 ? op : WS_OP_CONTINUATION, f + 1 == nfrag,
			        f == 0 && rsv1, rnd_data_len());
		}
	}
	if (rnd() % 3 == 0)
		seq_control(s, role);
}

static void seq_free(struct seq *s)
{
	for (size_t i = 0; i < s->nfr; i++)
		free(s->payloads[i]);
	free(s->payloads);
	free(s->fr);
	free(s->wire);
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

START_TEST(test_property_round_trip)
{
	enum { SEQS = 3000 };
	size_t cuts[64];

	rng = 0x0123456789ABCDEFu;
	for (int i = 0; i < SEQS; i++) {
		struct seq s;
		struct cfg cfg;
		size_t ncuts;

		memset(&s, 0, sizeof(s));
		cfg.role = i % 2 ? WS_ROLE_CLIENT : WS_ROLE_SERVER;
		cfg.allow_rsv1 = rnd() % 2;
		seq_generate(&s, cfg.role, cfg.allow_rsv1);
		/* sometimes a limit exactly at the longest frame: still fine */
		cfg.max_frame = rnd() % 4 == 0 ? (s.longest ? s.longest : 1) : 0;

		if (s.wlen < 600 && rnd() % 8 == 0) {
			/* byte by byte */
			size_t *bb = malloc(s.wlen * sizeof(*bb) + 1);
			REQ_NONNULL(bb);
			for (size_t k = 0; k < s.wlen; k++)
				bb[k] = k + 1;
			run_cuts(&cfg, s.wire, s.wlen, bb, s.wlen, s.fr, s.nfr, WS_OK, 0);
			free(bb);
		} else {
			ncuts = rnd() % 64;
			for (size_t k = 0; k < ncuts; k++)
				cuts[k] = s.wlen ? rnd() % (s.wlen + 1) : 0;
			qsort(cuts, ncuts, sizeof(cuts[0]), cmp_size);
			run_cuts(&cfg, s.wire, s.wlen, cuts, ncuts, s.fr, s.nfr, WS_OK, 0);
		}
		/* one byte less than the longest frame must fail with
		 * FRAME_TOO_BIG, at the header of a longest frame */
		if (cfg.max_frame != 0 && s.longest > 1) {
			struct checker c;
			uint8_t *copy = malloc(s.wlen);
			REQ_NONNULL(copy);
			memcpy(copy, s.wire, s.wlen);
			checker_init(&c, cfg.role, s.longest - 1, cfg.allow_rsv1, s.fr, s.nfr);
			checker_feed(&c, copy, s.wlen);
			REQ_INT_EQ(c.err, WS_ERR_PROTO_FRAME_TOO_BIG);
			REQ_UINT_EQ(s.fr[c.cur].length, s.longest);
			REQ(!c.in_frame);
			free(copy);
		}
		seq_free(&s);
	}
}
END_TEST

static Suite *frame_suite(void)
{
	Suite *s = suite_create("ws_frame");
	TCase *err = tcase_create("errors");
	TCase *kat = tcase_create("known-answer");
	TCase *codec = tcase_create("codec");
	TCase *prop = tcase_create("property");

	tcase_add_test(err, test_err_opcode);
	tcase_add_test(err, test_err_rsv);
	tcase_add_test(err, test_err_unmasked);
	tcase_add_test(err, test_err_masked);
	tcase_add_test(err, test_err_length);
	tcase_add_test(err, test_err_length_top);
	tcase_add_test(err, test_err_control_len);
	tcase_add_test(err, test_err_control_frag);
	tcase_add_test(err, test_err_close_len);
	tcase_add_test(err, test_err_continuation);
	tcase_add_test(err, test_err_not_continuation);
	tcase_add_test(err, test_err_frame_too_big);
	tcase_add_test(err, test_error_sticky);
	suite_add_tcase(s, err);

	tcase_set_timeout(kat, 60);
	tcase_add_test(kat, test_rfc_unmasked_hello);
	tcase_add_test(kat, test_rfc_masked_hello);
	tcase_add_test(kat, test_rfc_fragmented);
	tcase_add_test(kat, test_rfc_ping_pong);
	tcase_add_test(kat, test_rfc_256_bytes);
	tcase_add_test(kat, test_rfc_64k);
	tcase_add_test(kat, test_zero_length_and_states);
	tcase_add_test(kat, test_unmask_in_place);
	suite_add_tcase(s, kat);

	tcase_add_test(codec, test_mask_vs_reference);
	tcase_add_test(codec, test_encode_length_forms);
	tcase_add_test(codec, test_opcode_names);
	suite_add_tcase(s, codec);

	tcase_set_timeout(prop, 60);
	tcase_add_test(prop, test_property_round_trip);
	suite_add_tcase(s, prop);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(frame_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
