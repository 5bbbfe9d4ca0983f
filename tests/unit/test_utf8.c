/* Unit tests for ws_utf8: every class of valid and invalid sequence, fed
 * whole, split in two at every point and byte by byte; fail-fast
 * positions; an exhaustive comparison against a decoding reference. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws_error.h"
#include "ws_utf8.h"

#include "req.h"

/* One test vector.  bad is the index of the first byte that makes the
 * input invalid (-1: none); truncated means every byte is acceptable
 * but the input ends inside a sequence. */
struct vec {
	const char *name; /* what it tests */
	uint8_t b[8];     /* the bytes */
	size_t n;         /* how many */
	int bad;          /* index of the first invalid byte, or -1 */
	bool truncated;   /* ends mid-sequence */
};

#define OK(name, n, ...)                                                                           \
	{                                                                                          \
		name, {__VA_ARGS__}, n, -1, false                                                  \
	}
#define BAD(name, at, n, ...)                                                                      \
	{                                                                                          \
		name, {__VA_ARGS__}, n, at, false                                                  \
	}
#define TRUNC(name, n, ...)                                                                        \
	{                                                                                          \
		name, {__VA_ARGS__}, n, -1, true                                                   \
	}

static const struct vec vecs[] = {
    OK("NUL", 1, 0x00),
    OK("A", 1, 0x41),
    OK("U+007F", 1, 0x7F),
    OK("U+0080", 2, 0xC2, 0x80),
    OK("e-acute", 2, 0xC3, 0xA9),
    OK("U+07FF", 2, 0xDF, 0xBF),
    OK("U+0800", 3, 0xE0, 0xA0, 0x80),
    OK("euro", 3, 0xE2, 0x82, 0xAC),
    OK("U+D7FF", 3, 0xED, 0x9F, 0xBF),
    OK("U+E000", 3, 0xEE, 0x80, 0x80),
    OK("U+FFFD", 3, 0xEF, 0xBF, 0xBD),
    OK("U+FFFF", 3, 0xEF, 0xBF, 0xBF),
    OK("U+10000", 4, 0xF0, 0x90, 0x80, 0x80),
    OK("G clef", 4, 0xF0, 0x9D, 0x84, 0x9E),
    OK("U+3FFFF", 4, 0xF0, 0xBF, 0xBF, 0xBF),
    OK("U+40000", 4, 0xF1, 0x80, 0x80, 0x80),
    OK("U+FFFFF", 4, 0xF3, 0xBF, 0xBF, 0xBF),
    OK("U+100000", 4, 0xF4, 0x80, 0x80, 0x80),
    OK("U+10FFFF", 4, 0xF4, 0x8F, 0xBF, 0xBF),
    OK("mix a e-acute euro", 6, 0x61, 0xC3, 0xA9, 0xE2, 0x82, 0xAC),
    OK("mix 2+4+a", 7, 0xC2, 0x80, 0xF4, 0x8F, 0xBF, 0xBF, 0x7A),
    /* overlong forms */
    BAD("overlong 2-byte C0 80", 0, 2, 0xC0, 0x80),
    BAD("overlong 2-byte C1 BF", 0, 2, 0xC1, 0xBF),
    BAD("overlong 3-byte E0 80 80", 1, 3, 0xE0, 0x80, 0x80),
    BAD("overlong 3-byte E0 9F BF", 1, 3, 0xE0, 0x9F, 0xBF),
    BAD("overlong 4-byte F0 80 80 80", 1, 4, 0xF0, 0x80, 0x80, 0x80),
    BAD("overlong 4-byte F0 8F BF BF", 1, 4, 0xF0, 0x8F, 0xBF, 0xBF),
    BAD("overlong 5-byte F8 80 80 80 AF", 0, 5, 0xF8, 0x80, 0x80, 0x80, 0xAF),
    /* surrogates */
    BAD("U+D800", 1, 3, 0xED, 0xA0, 0x80),
    BAD("U+DBFF", 1, 3, 0xED, 0xAF, 0xBF),
    BAD("U+DC00", 1, 3, 0xED, 0xB0, 0x80),
    BAD("U+DFFF", 1, 3, 0xED, 0xBF, 0xBF),
    BAD("surrogate pair", 1, 6, 0xED, 0xA0, 0x80, 0xED, 0xB0, 0x80),
    /* above U+10FFFF and never-valid bytes */
    BAD("U+110000", 1, 4, 0xF4, 0x90, 0x80, 0x80),
    BAD("F4 BF", 1, 4, 0xF4, 0xBF, 0xBF, 0xBF),
    BAD("F5", 0, 4, 0xF5, 0x80, 0x80, 0x80),
    BAD("F7", 0, 4, 0xF7, 0xBF, 0xBF, 0xBF),
    BAD("FC 6-byte", 0, 6, 0xFC, 0x84, 0x80, 0x80, 0x80, 0x80),
    BAD("FE", 0, 1, 0xFE),
    BAD("FF", 0, 1, 0xFF),
    BAD("a FF b", 1, 3, 0x61, 0xFF, 0x62),
    /* bad continuation / lead placement */
    BAD("lone 80", 0, 1, 0x80),
    BAD("lone BF", 0, 1, 0xBF),
    BAD("a 80", 1, 2, 0x61, 0x80),
    BAD("extra continuation", 2, 3, 0xC3, 0xA9, 0x80),
    BAD("2-byte then ASCII", 1, 2, 0xC2, 0x41),
    BAD("2-byte then lead", 1, 3, 0xC2, 0xC2, 0x80),
    BAD("3-byte bad 2nd", 1, 3, 0xE2, 0x28, 0xA1),
    BAD("3-byte bad 3rd", 2, 3, 0xE2, 0x82, 0x28),
    BAD("3-byte lead as 3rd", 2, 4, 0xE2, 0x82, 0xE2, 0x82),
    BAD("4-byte bad 4th", 3, 4, 0xF0, 0x9D, 0x84, 0x41),
    BAD("4-byte lead as 4th", 3, 5, 0xF0, 0x9D, 0x84, 0xF0, 0x9D),
    /* truncated */
    TRUNC("truncated 2-byte", 1, 0xC2),
    TRUNC("truncated 3-byte/1", 1, 0xE2),
    TRUNC("truncated 3-byte/2", 2, 0xE2, 0x82),
    TRUNC("truncated E0 A0", 2, 0xE0, 0xA0),
    TRUNC("truncated ED 9F", 2, 0xED, 0x9F),
    TRUNC("truncated 4-byte/3", 3, 0xF0, 0x9D, 0x84),
    TRUNC("truncated F4 8F", 2, 0xF4, 0x8F),
    TRUNC("a then truncated", 2, 0x61, 0xF3),
};

#define NVECS (sizeof(vecs) / sizeof(vecs[0]))

/* Feed p[0..n) in pieces cut at the given points; return the index of
 * the piece whose feed failed (-1 if none) and the finish result. */
static int feed_pieces(const uint8_t *p, size_t n, const size_t *cuts, size_t ncuts, int *finish)
{
	struct ws_utf8 u;
	size_t at = 0;
	int failed = -1;

	ws_utf8_init(&u);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;
		int rc = ws_utf8_feed(&u, p + at, end - at);
		REQ(rc == WS_OK || rc == WS_ERR_PROTO_UTF8);
		if (rc != WS_OK && failed < 0)
			failed = (int)i;
		if (failed >= 0)
			REQ_INT_EQ(rc, WS_ERR_PROTO_UTF8); /* sticky */
		at = end;
	}
	*finish = ws_utf8_finish(&u);
	return failed;
}

/* Check one input with a known first bad byte (or none) under every
 * split: whole, two parts at every point, byte by byte. */
static void check_all_splits(const char *name, const uint8_t *p, size_t n, int bad, bool truncated)
{
	bool valid = bad < 0 && !truncated;
	int fin;
	int failed;
	size_t cut;
	size_t *cuts;

	REQ_MSG(ws_utf8_valid(p, n) == valid, "%s: whole", name);

	failed = feed_pieces(p, n, NULL, 0, &fin);
	REQ_MSG(failed == (bad >= 0 ? 0 : -1), "%s: one feed", name);
	REQ_MSG((fin == WS_OK) == valid, "%s: finish", name);

	for (cut = 0; cut <= n; cut++) {
		failed = feed_pieces(p, n, &cut, 1, &fin);
		if (bad >= 0) {
			/* Bytes [0, cut) go in the first feed: it must fail
			 * exactly when it holds the bad byte. */
			int want = (size_t)bad < cut ? 0 : 1;
			REQ_MSG(failed == want, "%s: split at %zu failed in part %d", name, cut,
			        failed);
		} else {
			REQ_MSG(failed == -1, "%s: split at %zu", name, cut);
		}
		REQ_MSG((fin == WS_OK) == valid, "%s: finish after split %zu", name, cut);
	}

	cuts = malloc((n ? n : 1) * sizeof(*cuts));
	REQ_NONNULL(cuts);
	for (size_t i = 0; i < n; i++)
		cuts[i] = i + 1;
	/* n cuts after every byte: piece i holds byte i, piece n is empty */
	failed = feed_pieces(p, n, cuts, n, &fin);
	REQ_MSG(failed == bad, "%s: byte by byte failed at %d, want %d", name, failed, bad);
	REQ_MSG((fin == WS_OK) == valid, "%s: finish byte by byte", name);
	free(cuts);
}

START_TEST(test_vectors_all_splits)
{
	for (size_t i = 0; i < NVECS; i++) {
		const struct vec *v = &vecs[i];
		check_all_splits(v->name, v->b, v->n, v->bad, v->truncated);
	}
}
END_TEST

/* The same vectors inside ASCII, at every offset modulo the 8-byte fast
 * path, followed by ASCII: the fast path must not skip a bad byte nor
 * hide a truncated sequence. */
START_TEST(test_vectors_in_ascii_context)
{
	uint8_t buf[64];

	for (size_t i = 0; i < NVECS; i++) {
		const struct vec *v = &vecs[i];
		for (size_t pre = 0; pre < 17; pre++) {
			for (size_t post = 0; post < 17; post += 4) {
				size_t n = pre + v->n + post;
				int bad = v->bad >= 0 ? (int)pre + v->bad : -1;
				memset(buf, 'x', sizeof(buf));
				memcpy(buf + pre, v->b, v->n);
				/* ASCII after a truncated sequence makes it a bad
				 * continuation at the first ASCII byte. */
				if (v->truncated && post > 0)
					bad = (int)(pre + v->n);
				check_all_splits(v->name, buf, n, bad, v->truncated && post == 0);
			}
		}
	}
}
END_TEST

/* The error comes from the very feed call that holds the first bad
 * byte, even when the stream could have gone on for a long time. */
START_TEST(test_fail_fast)
{
	struct ws_utf8 u;
	static const uint8_t e0 = 0xE0, x80 = 0x80, ed = 0xED, xa0 = 0xA0, f4 = 0xF4, x90 = 0x90;
	uint8_t big[4096];

	ws_utf8_init(&u);
	REQ_INT_EQ(ws_utf8_feed(&u, &e0, 1), WS_OK);
	REQ_INT_EQ(ws_utf8_feed(&u, &x80, 1), WS_ERR_PROTO_UTF8);
	REQ_INT_EQ(ws_utf8_feed(&u, (const uint8_t *)"abc", 3), WS_ERR_PROTO_UTF8);
	REQ_INT_EQ(ws_utf8_finish(&u), WS_ERR_PROTO_UTF8);

	ws_utf8_init(&u);
	REQ_INT_EQ(ws_utf8_feed(&u, &ed, 1), WS_OK);
	REQ_INT_EQ(ws_utf8_feed(&u, &xa0, 1), WS_ERR_PROTO_UTF8);

	ws_utf8_init(&u);
	REQ_INT_EQ(ws_utf8_feed(&u, &f4, 1), WS_OK);
	REQ_INT_EQ(ws_utf8_feed(&u, &x90, 1), WS_ERR_PROTO_UTF8);

	/* A bad byte followed by a long valid tail: reported in this call,
	 * and a later empty feed stays failed. */
	memset(big, 'a', sizeof(big));
	big[100] = 0xC0;
	ws_utf8_init(&u);
	REQ_INT_EQ(ws_utf8_feed(&u, big, 50), WS_OK);
	REQ_INT_EQ(ws_utf8_feed(&u, big + 50, 51), WS_ERR_PROTO_UTF8);
	REQ_INT_EQ(ws_utf8_feed(&u, NULL, 0), WS_ERR_PROTO_UTF8);

	/* init clears the error */
	ws_utf8_init(&u);
	REQ_INT_EQ(ws_utf8_feed(&u, big, 100), WS_OK);
	REQ_INT_EQ(ws_utf8_finish(&u), WS_OK);
	REQ_INT_EQ(ws_utf8_feed(&u, NULL, 0), WS_OK);
	REQ(ws_utf8_valid(NULL, 0));
}
END_TEST

/* Independent reference: decode each sequence by bit patterns, then
 * check the code point's range. */
static bool ref_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t b = s[i];
		uint32_t cp, min;
		size_t k;

		if (b < 0x80) {
			i++;
			continue;
		} else if ((b & 0xE0) == 0xC0) {
			k = 2, cp = b & 0x1F, min = 0x80;
		} else if ((b & 0xF0) == 0xE0) {
			k = 3, cp = b & 0x0F, min = 0x800;
		} else if ((b & 0xF8) == 0xF0) {
			k = 4, cp = b & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (i + k > n)
			return false;
		for (size_t j = 1; j < k; j++) {
			if ((s[i + j] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += k;
	}
	return true;
}

/* True when some completion of up to 3 more bytes makes s valid. */
static bool ref_extendable(const uint8_t *s, size_t n)
{
	static const uint8_t reps[] = {0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF};
	uint8_t buf[8];

	if (ref_valid(s, n))
		return true;
	memcpy(buf, s, n);
	for (size_t a = 0; a < 6; a++) {
		buf[n] = reps[a];
		if (ref_valid(buf, n + 1))
			return true;
		for (size_t b = 0; b < 6; b++) {
			buf[n + 1] = reps[b];
			if (ref_valid(buf, n + 2))
				return true;
			for (size_t c = 0; c < 6; c++) {
				buf[n + 2] = reps[c];
				if (ref_valid(buf, n + 3))
					return true;
			}
		}
	}
	return false;
}

/* Every string of 1, 2 and 3 bytes is judged as the reference does. */
START_TEST(test_exhaustive_up_to_3_bytes)
{
	uint8_t s[3];

	for (unsigned a = 0; a < 256; a++) {
		s[0] = (uint8_t)a;
		REQ_MSG(ws_utf8_valid(s, 1) == ref_valid(s, 1), "%02x", a);
		for (unsigned b = 0; b < 256; b++) {
			s[1] = (uint8_t)b;
			REQ_MSG(ws_utf8_valid(s, 2) == ref_valid(s, 2), "%02x %02x", a, b);
			for (unsigned c = 0; c < 256; c++) {
				s[2] = (uint8_t)c;
				if (ws_utf8_valid(s, 3) != ref_valid(s, 3))
					ck_abort_msg("%02x %02x %02x", a, b, c);
			}
		}
	}
}
END_TEST

/* Fail-fast against the reference: for every 1- and 2-byte prefix, a
 * feed succeeds exactly when the prefix can still become valid. */
START_TEST(test_exhaustive_fail_fast_prefixes)
{
	uint8_t s[2];

	for (unsigned a = 0; a < 256; a++) {
		struct ws_utf8 u;
		bool ext1;
		s[0] = (uint8_t)a;
		ext1 = ref_extendable(s, 1);
		ws_utf8_init(&u);
		REQ_MSG((ws_utf8_feed(&u, s, 1) == WS_OK) == ext1, "%02x", a);
		if (!ext1)
			continue;
		for (unsigned b = 0; b < 256; b++) {
			struct ws_utf8 u2 = u;
			s[1] = (uint8_t)b;
			REQ_MSG((ws_utf8_feed(&u2, s + 1, 1) == WS_OK) == ref_extendable(s, 2),
			        "%02x %02x", a, b);
		}
	}
}
END_TEST

/* Independent encoder for the long-text tests. */
static size_t enc(uint32_t cp, uint8_t *o)
{
	if (cp < 0x80) {
		o[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (uint8_t)(0xC0 | (cp >> 6));
		o[1] = (uint8_t)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (uint8_t)(0xE0 | (cp >> 12));
		o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (uint8_t)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (uint8_t)(0xF0 | (cp >> 18));
	o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (uint8_t)(0x80 | (cp & 0x3F));
	return 4;
}

static uint32_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift32: fixed seed, reproducible */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* Random text of ASCII runs and multibyte code points of every length;
 * records where each code point starts. */
static size_t make_text(uint8_t *buf, size_t cap, uint8_t *is_start)
{
	size_t n = 0;

	memset(is_start, 0, cap);
	while (n + 4 <= cap) {
		uint32_t cp;
		switch (rnd() % 5) {
		case 0:
		case 1:
			cp = rnd() % 0x80;
			break;
		case 2:
			cp = 0x80 + rnd() % (0x800 - 0x80);
			break;
		case 3:
			do {
				cp = 0x800 + rnd() % (0x10000 - 0x800);
			} while (cp >= 0xD800 && cp <= 0xDFFF);
			break;
		default:
			cp = 0x10000 + rnd() % (0x110000 - 0x10000);
			break;
		}
		/* long ASCII runs for the fast path */
		if (rnd() % 16 == 0) {
			size_t run = rnd() % 40;
			while (run-- > 0 && n + 4 < cap) {
				is_start[n] = 1;
				buf[n++] = (uint8_t)('a' + rnd() % 26);
			}
		}
		is_start[n] = 1;
		n += enc(cp, buf + n);
	}
	return n;
}

START_TEST(test_long_mixed_text)
{
	enum { CAP = 64 * 1024 };
	uint8_t *buf = malloc(CAP), *start = malloc(CAP), *copy = malloc(CAP);
	size_t n;

	REQ_NONNULL(buf);
	REQ_NONNULL(start);
	REQ_NONNULL(copy);
	rng_state = 0x12345678;
	n = make_text(buf, CAP, start);
	REQ(ref_valid(buf, n));
	REQ(ws_utf8_valid(buf, n));

	for (int round = 0; round < 200; round++) {
		struct ws_utf8 u;
		size_t at = 0, pos;
		uint8_t badbyte;
		bool failed = false;

		/* random chunks, valid text */
		ws_utf8_init(&u);
		while (at < n) {
			size_t c = 1 + rnd() % 300;
			if (c > n - at)
				c = n - at;
			REQ_INT_EQ(ws_utf8_feed(&u, buf + at, c), WS_OK);
			at += c;
		}
		REQ_INT_EQ(ws_utf8_finish(&u), WS_OK);

		/* one corruption: FF anywhere, or a continuation byte where
		 * a code point starts; the chunk holding it fails. */
		memcpy(copy, buf, n);
		pos = rnd() % n;
		if (rnd() % 2) {
			badbyte = 0xFF;
		} else {
			while (!start[pos])
				pos = (pos + 1) % n;
			badbyte = 0x80 | (rnd() % 0x40);
		}
		copy[pos] = badbyte;
		ws_utf8_init(&u);
		at = 0;
		while (at < n) {
			size_t c = 1 + rnd() % 300;
			int rc;
			if (c > n - at)
				c = n - at;
			rc = ws_utf8_feed(&u, copy + at, c);
			if (at + c <= pos) {
				REQ_INT_EQ(rc, WS_OK);
			} else if (!failed) {
				REQ_MSG(rc == WS_ERR_PROTO_UTF8, "byte %zu not caught in its chunk",
				        pos);
				failed = true;
			} else {
				REQ_INT_EQ(rc, WS_ERR_PROTO_UTF8);
			}
			at += c;
		}
		REQ(failed);
		REQ(!ws_utf8_valid(copy, n));
	}

	/* byte by byte once */
	{
		struct ws_utf8 u;
		ws_utf8_init(&u);
		for (size_t i = 0; i < n; i++)
			REQ_INT_EQ(ws_utf8_feed(&u, buf + i, 1), WS_OK);
		REQ_INT_EQ(ws_utf8_finish(&u), WS_OK);
	}
	free(buf);
	free(start);
	free(copy);
}
END_TEST

/* Unaligned starts and lengths around the 8-byte fast path. */
START_TEST(test_ascii_fast_path_alignment)
{
	uint8_t buf[80];

	for (size_t off = 0; off < 8; off++) {
		for (size_t len = 0; len + off <= 64; len++) {
			memset(buf, 'q', sizeof(buf));
			REQ(ws_utf8_valid(buf + off, len));
			for (size_t k = 0; k < len; k++) {
				buf[off + k] = 0x80;
				REQ(!ws_utf8_valid(buf + off, len));
				buf[off + k] = 'q';
			}
		}
	}
}
END_TEST

START_TEST(test_cut)
{
	/* "a" U+00E9 U+20AC U+1D11E: boundaries at 0,1,3,6,10 */
	static const uint8_t t[] = {0x61, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9D, 0x84, 0x9E};
	static const size_t want[] = {0, 1, 1, 3, 3, 3, 6, 6, 6, 6, 10, 10, 10};

	for (size_t max = 0; max < sizeof(want) / sizeof(want[0]); max++)
		REQ_UINT_EQ(ws_utf8_cut(t, sizeof(t), max), want[max]);
	REQ_UINT_EQ(ws_utf8_cut(t, 0, 5), 0);
	REQ_UINT_EQ(ws_utf8_cut((const uint8_t *)"hello", 5, 3), 3);
	REQ_UINT_EQ(ws_utf8_cut((const uint8_t *)"hello", 5, 5), 5);

	/* 3-byte characters, longer than 123 bytes: 123 is a multiple of
	 * 3, so 123..125 all cut to 123; every cut is valid and loses less
	 * than one character. */
	{
		uint8_t r[200];
		size_t n = 0;
		while (n + 3 <= sizeof(r))
			n += enc(0x20AC, r + n);
		REQ_UINT_EQ(ws_utf8_cut(r, n, 123), 123);
		REQ_UINT_EQ(ws_utf8_cut(r, n, 124), 123);
		REQ_UINT_EQ(ws_utf8_cut(r, n, 125), 123);
		REQ_UINT_EQ(ws_utf8_cut(r, n, 126), 126);
		for (size_t max = 0; max < n; max++) {
			size_t c = ws_utf8_cut(r, n, max);
			REQ(c <= max);
			REQ(max - c < 3);
			REQ(ws_utf8_valid(r, c));
		}
	}
}
END_TEST

static Suite *utf8_suite(void)
{
	Suite *s = suite_create("ws_utf8");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_vectors_all_splits);
	tcase_add_test(tc, test_vectors_in_ascii_context);
	tcase_add_test(tc, test_fail_fast);
	tcase_add_test(tc, test_exhaustive_up_to_3_bytes);
	tcase_add_test(tc, test_exhaustive_fail_fast_prefixes);
	tcase_add_test(tc, test_long_mixed_text);
	tcase_add_test(tc, test_ascii_fast_path_alignment);
	tcase_add_test(tc, test_cut);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(utf8_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
