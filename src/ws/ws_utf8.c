/* ws_utf8: strict streaming UTF-8 validation (RFC 3629).
 *
 * A small DFA over byte classes.  Each state names exactly which bytes
 * may come next, so a byte that can never lead to a valid sequence is
 * rejected at once: after E0 only A0..BF (no overlong 3-byte forms),
 * after ED only 80..9F (no surrogates), after F0 only 90..BF (no
 * overlong 4-byte forms), after F4 only 80..8F (nothing above U+10FFFF).
 */
#include "ws_utf8.h"

#include <string.h>

#include "ws_error.h"

/* DFA states.  S_ACC must be 0: the header promises 0 = boundary. */
enum utf8_state {
	S_ACC = 0, /* at a code-point boundary */
	S_N1 = 1,  /* one continuation byte 80..BF still needed */
	S_N2 = 2,  /* two continuation bytes still needed */
	S_N3 = 3,  /* three continuation bytes still needed */
	S_E0 = 4,  /* next must be A0..BF (rules out overlongs) */
	S_ED = 5,  /* next must be 80..9F (rules out surrogates) */
	S_F0 = 6,  /* next must be 90..BF (rules out overlongs) */
	S_F4 = 7,  /* next must be 80..8F (rules out > U+10FFFF) */
	S_REJ = 8, /* invalid; sticky */
	NSTATES = 9,
};

/* Byte classes: bytes that every state treats alike. */
enum utf8_class {
	C_ASCII = 0, /* 00..7F */
	C_80 = 1,    /* 80..8F continuation */
	C_90 = 2,    /* 90..9F continuation */
	C_A0 = 3,    /* A0..BF continuation */
	C_BAD = 4,   /* C0, C1, F5..FF: never valid */
	C_L2 = 5,    /* C2..DF: lead of a 2-byte sequence */
	C_E0 = 6,    /* E0 */
	C_L3 = 7,    /* E1..EC, EE, EF: plain 3-byte lead */
	C_ED = 8,    /* ED */
	C_F0 = 9,    /* F0 */
	C_L4 = 10,   /* F1..F3: plain 4-byte lead */
	C_F4 = 11,   /* F4 */
	NCLASSES = 12,
};

/* clang-format off */
static const uint8_t byte_class[256] = {
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,	/* 00..0F */
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,	/* 10..1F */
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,	/* 20..2F */
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,	/* 30..3F */
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,	/* 40..4F */
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,	/* 50..5F */
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,	/* 60..6F */
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,	/* 70..7F */
	 1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,  1,	/* 80..8F */
	 2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,  2,	/* 90..9F */
	 3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,	/* A0..AF */
	 3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,  3,	/* B0..BF */
	 4,  4,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,	/* C0..CF */
	 5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,	/* D0..DF */
	 6,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  7,  8,  7,  7,	/* E0..EF */
	 9, 10, 10, 10, 11,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,  4,	/* F0..FF */
};

#define R S_REJ
/* Rows: current state; columns: class of the next byte. */
static const uint8_t transition[NSTATES][NCLASSES] = {
	/*          ASCII  80     90     A0     BAD L2    E0    L3    ED    F0    L4    F4 */
	[S_ACC] = { S_ACC, R,     R,     R,     R, S_N1, S_E0, S_N2, S_ED, S_F0, S_N3, S_F4 },
	[S_N1]  = { R,     S_ACC, S_ACC, S_ACC, R, R,    R,    R,    R,    R,    R,    R },
	[S_N2]  = { R,     S_N1,  S_N1,  S_N1,  R, R,    R,    R,    R,    R,    R,    R },
	[S_N3]  = { R,     S_N2,  S_N2,  S_N2,  R, R,    R,    R,    R,    R,    R,    R },
	[S_E0]  = { R,     R,     R,     S_N1,  R, R,    R,    R,    R,    R,    R,    R },
	[S_ED]  = { R,     S_N1,  S_N1,  R,     R, R,    R,    R,    R,    R,    R,    R },
	[S_F0]  = { R,     R,     S_N2,  S_N2,  R, R,    R,    R,    R,    R,    R,    R },
	[S_F4]  = { R,     S_N2,  R,     R,     R, R,    R,    R,    R,    R,    R,    R },
	[S_REJ] = { R,     R,     R,     R,     R, R,    R,    R,    R,    R,    R,    R },
};
#undef R
/* clang-format on */

/* High bit of every byte of a 64-bit word: any set means non-ASCII. */
#define HIGH_BITS UINT64_C(0x8080808080808080)

void ws_utf8_init(struct ws_utf8 *u)
{
	u->state = S_ACC;
}

int ws_utf8_feed(struct ws_utf8 *u, const uint8_t *p, size_t n)
{
	uint32_t s = u->state;
	size_t i = 0;

	if (s == S_REJ)
		return WS_ERR_PROTO_UTF8;
	while (i < n) {
		/* Text is mostly ASCII: at a boundary, skip it 8 bytes at a
		 * time; memcpy keeps the load legal at any alignment. */
		if (s == S_ACC) {
			while (n - i >= 8) {
				uint64_t w;
				memcpy(&w, p + i, sizeof(w));
				if (w & HIGH_BITS)
					break;
				i += 8;
			}
			if (i == n)
				break;
		}
		s = transition[s][byte_class[p[i]]];
		i++;
		if (s == S_REJ) {
			u->state = S_REJ;
			return WS_ERR_PROTO_UTF8;
		}
	}
	u->state = s;
	return WS_OK;
}

int ws_utf8_finish(const struct ws_utf8 *u)
{
	return u->state == S_ACC ? WS_OK : WS_ERR_PROTO_UTF8;
}

bool ws_utf8_valid(const uint8_t *p, size_t n)
{
	struct ws_utf8 u;

	ws_utf8_init(&u);
	return ws_utf8_feed(&u, p, n) == WS_OK && ws_utf8_finish(&u) == WS_OK;
}

size_t ws_utf8_cut(const uint8_t *p, size_t n, size_t max)
{
	size_t cut = max;

	if (n <= max)
		return n;
	/* p[cut] exists because cut < n; back off while it is a
	 * continuation byte, so the kept prefix ends on a boundary. */
	while (cut > 0 && (p[cut] & 0xC0) == 0x80)
		cut--;
	return cut;
}
