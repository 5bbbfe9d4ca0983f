/* Fuzz target for ws_deflate.  The first byte picks the mode:
 *
 *   0: negotiate  - the rest, split at '\n', is a list of
 *                   Sec-WebSocket-Extensions values; an accepted
 *                   response must be accepted back by a default client
 *                   with the same parameters.
 *   1: inflate    - the rest is compressed payload of two messages,
 *                   inflated once whole and once in random pieces with a
 *                   sink that pauses; both runs must agree, within a
 *                   1 MiB budget.
 *   2: round trip - the rest is compressed and inflated again in pieces,
 *                   with levels, memLevels and windows from the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_deflate.h"
#include "ws_error.h"

#define BUDGET (1u << 20)

/* What a sink saw: length and a running FNV-1a hash. */
struct seen {
	uint64_t len;    /* bytes delivered */
	uint64_t hash;   /* hash of the bytes in order */
	uint32_t rng;    /* drives pauses */
	bool pause;      /* pause at random */
	uint8_t *copy;   /* when non-NULL, bytes are stored here */
	size_t copy_cap; /* room in copy */
};

static int seen_sink(void *ctx, const uint8_t *p, size_t n)
{
	struct seen *s = ctx;

	if (n == 0 || n > 16384)
		abort(); /* chunks are never empty nor above the fixed size */
	for (size_t i = 0; i < n; i++)
		s->hash = (s->hash ^ p[i]) * 1099511628211ull;
	if (s->copy != NULL) {
		if (s->len + n > s->copy_cap)
			abort();
		memcpy(s->copy + s->len, p, n);
	}
	s->len += n;
	if (s->pause) {
		s->rng = s->rng * 1103515245u + 12345u;
		if ((s->rng >> 16) & 1)
			return WS_ERR_AGAIN;
	}
	return 0;
}

static void seen_init(struct seen *s, uint32_t seed, bool pause)
{
	memset(s, 0, sizeof(*s));
	s->hash = 1469598103934665603ull;
	s->rng = seed;
	s->pause = pause;
}

static uint32_t next_rng(uint32_t *r)
{
	*r = *r * 1664525u + 1013904223u;
	return *r >> 8;
}

/* ------------------------------------------------------------------ */

static void fuzz_negotiate(const uint8_t *data, size_t size)
{
	const char *vals[8];
	size_t lens[8], n = 0;
	struct ws_deflate_config cfg, client;
	struct ws_deflate_params p, q;
	char resp[WS_DEFLATE_EXT_MAX];

	if (size < 1)
		return;
	uint8_t pol = data[0];
	data++;
	size--;
	ws_deflate_config_default(&cfg);
	cfg.server_max_window_bits = (uint8_t)(8 + (pol & 7));
	cfg.client_max_window_bits = (uint8_t)(8 + ((pol >> 3) & 7));
	cfg.server_no_context_takeover = pol & 0x40;
	cfg.client_no_context_takeover = pol & 0x80;

	const char *s = (const char *)data, *end = s + size;
	while (n < 8) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *e = nl ? nl : end;
		vals[n] = s;
		lens[n] = (size_t)(e - s);
		n++;
		if (nl == NULL)
			break;
		s = nl + 1;
	}

	memset(resp, 0x55, sizeof(resp));
	int rc = ws_deflate_negotiate(vals, lens, n, &cfg, &p, resp);
	if (rc == WS_OK) {
		size_t rlen = strnlen(resp, sizeof(resp));
		if (rlen == sizeof(resp))
			abort();
		if (p.server_max_window_bits < 9 || p.server_max_window_bits > 15 ||
		    p.client_max_window_bits < 9 || p.client_max_window_bits > 15)
			abort();
		if (p.server_max_window_bits > cfg.server_max_window_bits &&
		    cfg.server_max_window_bits >= 9)
			abort();
		/* A client that offered everything bare accepts our answer. */
		ws_deflate_config_default(&client);
		if (ws_deflate_accept_response(resp, rlen, &client, &q) != WS_OK)
			abort();
		if (q.server_max_window_bits != p.server_max_window_bits ||
		    q.server_no_context_takeover != p.server_no_context_takeover ||
		    q.client_no_context_takeover != p.client_no_context_takeover ||
		    q.client_max_window_bits != p.client_max_window_bits)
			abort();
	} else if (rc != WS_ERR_DEFLATE_DECLINED && rc != WS_ERR_HS_MALFORMED) {
		abort();
	}

	/* The values as a server response, against the policy as an offer. */
	char offer[WS_DEFLATE_EXT_MAX];
	size_t olen = ws_deflate_offer(&cfg, offer);
	if (olen >= sizeof(offer) || strlen(offer) != olen)
		abort();
	for (size_t i = 0; i < n; i++) {
		rc = ws_deflate_accept_response(vals[i], lens[i], &cfg, &q);
		if (rc != WS_OK && rc != WS_ERR_DEFLATE_PARAMS && rc != WS_ERR_HS_UNSOLICITED)
			abort();
		uint8_t lim = cfg.server_max_window_bits < 9 ? 9 : cfg.server_max_window_bits;
		if (rc == WS_OK && (q.server_max_window_bits < 9 || q.client_max_window_bits < 9 ||
		                    q.server_max_window_bits > lim))
			abort();
	}
	/* Our own offer is acceptable to our own server. */
	const char *ov[1] = {offer};
	if (ws_deflate_negotiate(ov, &olen, 1, &cfg, &p, resp) != WS_OK)
		abort();
}

/* ------------------------------------------------------------------ */

/* Inflate msgs[] in one call each; returns the first error. */
static int inflate_whole(struct ws_deflate *d, const uint8_t *const *msg, const size_t *len,
                         struct seen *out)
{
	for (int m = 0; m < 2; m++) {
		uint64_t budget = BUDGET;
		size_t used = 0;
		int rc =
		    ws_deflate_inflate(d, msg[m], len[m], true, &budget, &used, seen_sink, out);
		if (rc != WS_OK)
			return rc;
		if (used != len[m] || ws_deflate_inflate_pending(d))
			abort();
	}
	return WS_OK;
}

/* The same in random pieces, resuming after every pause. */
static int inflate_pieces(struct ws_deflate *d, const uint8_t *const *msg, const size_t *len,
                          struct seen *out, uint32_t rng)
{
	for (int m = 0; m < 2; m++) {
		uint64_t budget = BUDGET;
		size_t off = 0;
		do {
			size_t k = len[m] - off;
			if (k > 1)
				k = 1 + next_rng(&rng) % k;
			bool last = off + k == len[m];
			uint64_t before = out->len;
			for (;;) {
				size_t used = 0;
				int rc = ws_deflate_inflate(d, msg[m] + off, k, last, &budget,
				                            &used, seen_sink, out);
				if (used > k)
					abort();
				off += used;
				k -= used;
				if (out->len - before > BUDGET)
					abort();
				if (rc == WS_OK) {
					if (k != 0 || ws_deflate_inflate_pending(d))
						abort();
					break;
				}
				if (rc != WS_ERR_AGAIN)
					return rc;
			}
		} while (off < len[m]);
	}
	return WS_OK;
}

static void fuzz_inflate(const uint8_t *data, size_t size)
{
	if (size < 3)
		return;
	uint8_t ctl = data[0];
	size_t cut = data[1] % (size - 2 + 1);
	uint32_t seed = (uint32_t)data[1] << 8 | data[2];
	data += 3;
	size -= 3;
	if (cut > size)
		cut = size;

	struct ws_deflate_params pa = {(uint8_t)(9 + ctl % 7), (uint8_t)(9 + ctl % 7), ctl & 0x10,
	                               ctl & 0x20};
	enum ws_role role = ctl & 0x40 ? WS_ROLE_CLIENT : WS_ROLE_SERVER;
	const uint8_t *msg[2] = {data, data + cut};
	size_t len[2] = {cut, size - cut};
	struct ws_deflate *a, *b;
	struct seen sa, sb;

	if (ws_deflate_new(&a, role, &pa, NULL) != WS_OK)
		return;
	if (ws_deflate_new(&b, role, &pa, NULL) != WS_OK) {
		ws_deflate_free(a);
		return;
	}
	seen_init(&sa, seed, false);
	seen_init(&sb, seed, true);
	int ra = inflate_whole(a, msg, len, &sa);
	int rb = inflate_pieces(b, msg, len, &sb, seed);
	/* zlib resolves a distance from the current output chunk before it
	 * looks at its window, so a peer reaching back further than a
	 * window under 15 bits is caught or not depending on the split.
	 * Only that error may differ; with 15 bits nothing may. */
	bool window_slack = pa.server_max_window_bits < 15 &&
	                    (ra == WS_ERR_PROTO_DEFLATE || rb == WS_ERR_PROTO_DEFLATE);
	if (ra != rb && !window_slack)
		abort();
	if (ra == WS_OK && rb == WS_OK && (sa.len != sb.len || sa.hash != sb.hash))
		abort();
	if ((ra != WS_OK && ra != WS_ERR_PROTO_DEFLATE && ra != WS_ERR_PROTO_MESSAGE_TOO_BIG) ||
	    (rb != WS_OK && rb != WS_ERR_PROTO_DEFLATE && rb != WS_ERR_PROTO_MESSAGE_TOO_BIG))
		abort();
	ws_deflate_free(a);
	ws_deflate_free(b);
}

/* ------------------------------------------------------------------ */

static int collect_sink(void *ctx, const uint8_t *p, size_t n)
{
	struct seen *s = ctx;
	uint8_t *q = realloc(s->copy, s->len + n);
	if (q == NULL)
		abort();
	memcpy(q + s->len, p, n);
	s->copy = q;
	s->len += n;
	return 0;
}

static void fuzz_round_trip(const uint8_t *data, size_t size)
{
	if (size < 3)
		return;
	struct ws_deflate_config cfg;
	ws_deflate_config_default(&cfg);
	cfg.level = data[0] % 10;
	cfg.mem_level = 1 + data[1] % 9;
	uint8_t bits = (uint8_t)(8 + (data[0] >> 4) % 8);
	struct ws_deflate_params pa = {bits, bits, data[1] & 0x80, data[1] & 0x40};
	uint32_t rng = data[2];
	data += 3;
	size -= 3;

	struct ws_deflate *tx, *rx;
	if (ws_deflate_new(&tx, WS_ROLE_CLIENT, &pa, &cfg) != WS_OK)
		return;
	if (ws_deflate_new(&rx, WS_ROLE_SERVER, &pa, NULL) != WS_OK) {
		ws_deflate_free(tx);
		return;
	}
	for (int m = 0; m < 2; m++) {
		struct seen z, out;
		seen_init(&z, 0, false);
		seen_init(&out, rng, true);
		size_t off = 0;
		do {
			size_t k = size - off;
			if (k > 1)
				k = 1 + next_rng(&rng) % k;
			if (ws_deflate_compress(tx, data + off, k, off + k == size, collect_sink,
			                        &z) != WS_OK)
				abort();
			off += k;
		} while (off < size);
		out.copy = malloc(size + 1);
		out.copy_cap = size;
		const uint8_t *msgs[2] = {z.copy, z.copy};
		size_t lens[2] = {z.len, 0};
		/* inflate_pieces handles two messages; the second is empty */
		if (inflate_pieces(rx, msgs, lens, &out, rng) != WS_OK)
			abort();
		if (out.len != size || (size && memcmp(out.copy, data, size) != 0))
			abort();
		free(z.copy);
		free(out.copy);
	}
	ws_deflate_free(tx);
	ws_deflate_free(rx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0:
		fuzz_negotiate(data + 1, size - 1);
		break;
	case 1:
		fuzz_inflate(data + 1, size - 1);
		break;
	default:
		fuzz_round_trip(data + 1, size - 1);
		break;
	}
	return 0;
}
