/* libFuzzer target for the ws_frame parser.
 *
 * Input layout: byte 0 picks the options (allow RSV1, a max frame
 * size), byte 1 seeds the split pattern, the rest is the wire.  The wire
 * is fed to a server-role and a client-role parser, once whole and once
 * in pieces whose sizes come from the seed; both runs must agree, and
 * every event must keep the parser's contract.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_error.h"
#include "ws_frame.h"

#define REQUIRE(e)                                                                                 \
	do {                                                                                       \
		if (!(e))                                                                          \
			__builtin_trap();                                                          \
	} while (0)

/* What one run saw, to compare runs with different splits. */
struct summary {
	uint64_t hash;    /* FNV-1a over headers and payload bytes */
	uint64_t frames;  /* frames that reached END */
	uint64_t payload; /* payload bytes delivered */
	int err;          /* final error or WS_OK */
};

static void mix(struct summary *s, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		s->hash ^= p[i];
		s->hash *= UINT64_C(0x100000001b3);
	}
}

/* State kept across the pieces of one run. */
struct run {
	struct ws_frame_parser p; /* parser under test */
	const uint8_t *orig;      /* the wire before unmasking */
	uint8_t *buf;             /* the copy being parsed */
	bool in_frame;            /* HEADER seen, END not yet */
	uint64_t got;             /* payload bytes of the current frame */
	bool msg_open;            /* a fragmented data message is open */
	struct summary sum;       /* what was seen */
};

static void check_header(struct run *r, const struct ws_frame_header *h)
{
	uint8_t fields[11];
	bool control = (h->opcode & 0x8) != 0;

	REQUIRE(!r->in_frame);
	REQUIRE(h == &r->p.header);
	REQUIRE(h->opcode <= 2 || (h->opcode >= 8 && h->opcode <= 10));
	REQUIRE(r->p.max_frame == 0 || h->length <= r->p.max_frame);
	REQUIRE(h->length < (UINT64_C(1) << 63));
	REQUIRE(h->masked == (r->p.role == WS_ROLE_SERVER));
	if (h->rsv1)
		REQUIRE(r->p.allow_rsv1 && (h->opcode == WS_OP_TEXT || h->opcode == WS_OP_BINARY));
	if (control) {
		REQUIRE(h->fin && h->length <= 125);
		REQUIRE(!(h->opcode == WS_OP_CLOSE && h->length == 1));
	} else if (h->opcode == WS_OP_CONTINUATION) {
		REQUIRE(r->msg_open);
		r->msg_open = !h->fin;
	} else {
		REQUIRE(!r->msg_open);
		r->msg_open = !h->fin;
	}
	r->in_frame = true;
	r->got = 0;
	fields[0] = h->opcode;
	fields[1] = (uint8_t)(h->fin | h->rsv1 << 1 | h->masked << 2);
	for (int i = 0; i < 8; i++)
		fields[2 + i] = (uint8_t)(h->length >> (8 * i));
	fields[10] = 0xA5;
	mix(&r->sum, fields, sizeof(fields));
}

/* Feed buf[at..at+len) and pull events until NONE or an error. */
static void feed(struct run *r, size_t at, size_t len)
{
	uint8_t *data = r->buf + at;
	size_t off = 0;
	int zero = 0;

	for (;;) {
		struct ws_frame_event ev;
		size_t used = SIZE_MAX;
		int rc = ws_frame_parse(&r->p, data + off, len - off, &used, &ev);

		REQUIRE(used <= len - off);
		if (rc != WS_OK) {
			size_t again = 1;
			REQUIRE(rc <= -100 && rc > -200);
			REQUIRE(ev.type == WS_FRAME_EV_NONE);
			REQUIRE(r->p.state == WS_FRAME_FAILED);
			if (r->sum.err != WS_OK) {
				REQUIRE(rc == r->sum.err && used == 0);
				return;
			}
			r->sum.err = rc;
			/* sticky */
			REQUIRE(ws_frame_parse(&r->p, data + off + used, len - off - used, &again,
			                       &ev) == rc);
			REQUIRE(again == 0);
			return;
		}
		off += used;
		switch (ev.type) {
		case WS_FRAME_EV_NONE:
			REQUIRE(off == len);
			return;
		case WS_FRAME_EV_HEADER:
			REQUIRE(used > 0);
			check_header(r, ev.header);
			break;
		case WS_FRAME_EV_PAYLOAD: {
			const struct ws_frame_header *h = ev.header;
			size_t pos = (size_t)(ev.data - r->buf);
			REQUIRE(r->in_frame && h == &r->p.header);
			REQUIRE(ev.len > 0 && ev.len == used);
			REQUIRE(ev.data + ev.len == data + off);
			REQUIRE(r->got + ev.len <= h->length);
			/* unmasked in place, with the key phase of this offset */
			for (size_t i = 0; i < ev.len; i++) {
				uint8_t m = h->masked ? h->mask[(r->got + i) & 3] : 0;
				REQUIRE(ev.data[i] == (uint8_t)(r->orig[pos + i] ^ m));
			}
			mix(&r->sum, ev.data, ev.len);
			r->got += ev.len;
			r->sum.payload += ev.len;
			break;
		}
		case WS_FRAME_EV_END:
			REQUIRE(r->in_frame && ev.header == &r->p.header);
			REQUIRE(used == 0 && r->got == ev.header->length);
			REQUIRE(r->p.state == WS_FRAME_HEAD);
			r->in_frame = false;
			r->sum.frames++;
			break;
		default:
			REQUIRE(0);
		}
		/* only END uses no input, and never twice in a row */
		if (used == 0)
			REQUIRE(++zero <= 1);
		else
			zero = 0;
	}
}

static struct summary run_once(enum ws_role role, uint64_t max_frame, bool rsv1,
                               const uint8_t *wire, size_t n, uint8_t seed)
{
	struct run r;
	size_t at = 0;
	uint32_t x = seed * 2654435761u + 1;

	memset(&r, 0, sizeof(r));
	ws_frame_parser_init(&r.p, role, max_frame, rsv1);
	r.sum.hash = UINT64_C(0xcbf29ce484222325);
	r.orig = wire;
	r.buf = malloc(n ? n : 1);
	REQUIRE(r.buf != NULL);
	memcpy(r.buf, wire, n);
	while (at < n) {
		size_t piece = n - at;
		if (seed != 0) {
			/* piece sizes 0..16 from a small LCG: empty pieces,
			 * single bytes and header-sized pieces */
			x = x * 1103515245u + 12345u;
			piece = (x >> 16) % 17;
			if (piece > n - at)
				piece = n - at;
		}
		feed(&r, at, piece);
		at += piece;
	}
	feed(&r, n, 0);
	free(r.buf);
	return r.sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t limits[4] = {0, 125, 1000, 70000};
	const uint8_t *wire;
	size_t n;
	bool rsv1;
	uint64_t max_frame;
	uint8_t seed;

	if (size < 2)
		return 0;
	rsv1 = data[0] & 1;
	max_frame = limits[(data[0] >> 1) & 3];
	seed = data[1] ? data[1] : 1;
	wire = data + 2;
	n = size - 2;

	for (int role = 0; role < 2; role++) {
		struct summary whole = run_once((enum ws_role)role, max_frame, rsv1, wire, n, 0);
		struct summary split = run_once((enum ws_role)role, max_frame, rsv1, wire, n, seed);
		REQUIRE(whole.hash == split.hash);
		REQUIRE(whole.frames == split.frames);
		REQUIRE(whole.payload == split.payload);
		REQUIRE(whole.err == split.err);
	}
	return 0;
}
