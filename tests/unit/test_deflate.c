/* Unit tests for ws_deflate: server negotiation (accepted offers with
 * their exact responses, declined and malformed offers, several offers
 * and header values), client offers and response checks, and the codec:
 * round trips for every window size with and without context takeover,
 * streaming pieces, empty messages, large random data, the RFC 7692
 * §7.2.3 vectors, a decompression bomb, corrupt input, and pausing. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws_deflate.h"
#include "ws_error.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

/* Hot loops check with CHECK, not ck_assert: every ck_assert reports
 * its location to the Check parent through a pipe, which costs more
 * than the inflate call being checked. */
#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			ck_abort_msg("%s:%d: check failed: %s", __FILE__, __LINE__, #cond);        \
	} while (0)

/* A growing byte buffer used as a sink. */
struct gbuf {
	uint8_t *p;       /* bytes received */
	size_t n;         /* how many */
	size_t cap;       /* allocated */
	size_t chunks;    /* sink calls */
	size_t max_chunk; /* largest chunk seen */
	bool pause_odd;   /* return WS_ERR_AGAIN on every other chunk */
	bool pause_all;   /* return WS_ERR_AGAIN on every chunk */
	size_t pauses;    /* WS_ERR_AGAIN returned so far */
};

static int gbuf_sink(void *ctx, const uint8_t *p, size_t n)
{
	struct gbuf *b = ctx;

	CHECK(n > 0);
	if (b->n + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->n + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		CHECK(b->p != NULL);
		b->cap = cap;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->chunks++;
	if (n > b->max_chunk)
		b->max_chunk = n;
	if (b->pause_all || (b->pause_odd && b->chunks % 2 == 1)) {
		b->pauses++;
		return WS_ERR_AGAIN;
	}
	return 0;
}

static void gbuf_reset(struct gbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Deterministic pseudo-random bytes (xorshift64). */
static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed ? seed : 88172645463325252ull;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

/* Compressible text: words drawn from a small list. */
static void fill_text(uint8_t *p, size_t n, uint64_t seed)
{
	static const char *words[] = {"socket ",  "frame ",   "deflate ", "window ",
	                              "message ", "gateway ", "stream ",  "budget "};
	uint8_t r[1];
	size_t i = 0;
	while (i < n) {
		fill_random(r, 1, seed + i * 31 + 7);
		const char *w = words[r[0] % 8];
		for (size_t k = 0; w[k] && i < n; k++)
			p[i++] = (uint8_t)w[k];
	}
}

static struct ws_deflate *codec(enum ws_role role, const struct ws_deflate_params *pa)
{
	struct ws_deflate *d = NULL;
	ck_assert_int_eq(ws_deflate_new(&d, role, pa, NULL), WS_OK);
	ck_assert_ptr_nonnull(d);
	return d;
}

static struct ws_deflate_params params(uint8_t bits, bool nct)
{
	struct ws_deflate_params p = {bits, bits, nct, nct};
	return p;
}

/* Compress one message in pieces of piece bytes (0 = whole). */
static void compress_msg(struct ws_deflate *d, const uint8_t *in, size_t n, size_t piece,
                         struct gbuf *out)
{
	if (piece == 0 || piece >= n) {
		ck_assert_int_eq(ws_deflate_compress(d, in, n, true, gbuf_sink, out), WS_OK);
		return;
	}
	size_t off = 0;
	while (off < n) {
		size_t k = n - off < piece ? n - off : piece;
		bool last = off + k == n;
		CHECK(ws_deflate_compress(d, in + off, k, last, gbuf_sink, out) == WS_OK);
		off += k;
	}
}

/* Inflate one message fed in pieces of piece bytes (0 = whole),
 * resuming after every pause.  Returns the last result. */
static int inflate_msg(struct ws_deflate *d, const uint8_t *in, size_t n, size_t piece,
                       uint64_t *budget, struct gbuf *out)
{
	size_t off = 0;
	if (piece == 0)
		piece = n ? n : 1;
	do {
		size_t k = n - off < piece ? n - off : piece;
		bool last = off + k == n;
		size_t used = 0;
		/* in may be NULL for an empty payload: no arithmetic on it then */
		int rc = ws_deflate_inflate(d, n ? in + off : in, k, last, budget, &used, gbuf_sink,
		                            out);
		while (rc == WS_ERR_AGAIN) {
			CHECK(used <= k);
			off += used;
			k -= used;
			rc = ws_deflate_inflate(d, n ? in + off : in, k, last, budget, &used,
			                        gbuf_sink, out);
		}
		if (rc != WS_OK)
			return rc;
		CHECK(used == k);
		CHECK(!ws_deflate_inflate_pending(d));
		off += k;
	} while (off < n);
	return WS_OK;
}

static int inflate_whole(struct ws_deflate *d, const uint8_t *in, size_t n, struct gbuf *out)
{
	uint64_t budget = UINT64_MAX;
	return inflate_msg(d, in, n, 0, &budget, out);
}

/* ------------------------------------------------------------------ */
/* Server negotiation                                                   */
/* ------------------------------------------------------------------ */

static int negotiate1(const char *hdr, const struct ws_deflate_config *cfg,
                      struct ws_deflate_params *out, char *resp)
{
	const char *v[1] = {hdr};
	size_t l[1] = {strlen(hdr)};
	return ws_deflate_negotiate(v, l, 1, cfg, out, resp);
}

/* One accepted offer: policy tweaks, expected response and params. */
struct accept_case {
	const char *offer;       /* the client's header value */
	uint8_t cfg_s, cfg_c;    /* server policy windows (0 = default 15) */
	bool cfg_snct, cfg_cnct; /* server policy no_context_takeover */
	const char *response;    /* expected response value */
	uint8_t s, c;            /* expected windows */
	bool snct, cnct;         /* expected no_context_takeover */
};

static const struct accept_case accepts[] = {
    {"permessage-deflate", 0, 0, false, false, "permessage-deflate", 15, 15, false, false},
    {"permessage-deflate; client_max_window_bits", 0, 0, false, false, "permessage-deflate", 15, 15,
     false, false},
    {"permessage-deflate; client_max_window_bits", 0, 12, false, false,
     "permessage-deflate; client_max_window_bits=12", 15, 12, false, false},
    {"permessage-deflate; client_max_window_bits=10", 0, 0, false, false,
     "permessage-deflate; client_max_window_bits=10", 15, 10, false, false},
    {"permessage-deflate; client_max_window_bits=10", 0, 12, false, false,
     "permessage-deflate; client_max_window_bits=10", 15, 10, false, false},
    {"permessage-deflate; client_max_window_bits=13", 0, 11, false, false,
     "permessage-deflate; client_max_window_bits=11", 15, 11, false, false},
    /* The client promises 8; we answer 8 (<= offer) and inflate with 9. */
    {"permessage-deflate; client_max_window_bits=8", 0, 0, false, false,
     "permessage-deflate; client_max_window_bits=8", 15, 9, false, false},
    {"permessage-deflate; server_max_window_bits=10", 0, 0, false, false,
     "permessage-deflate; server_max_window_bits=10", 10, 15, false, false},
    {"permessage-deflate; server_max_window_bits=15", 0, 0, false, false,
     "permessage-deflate; server_max_window_bits=15", 15, 15, false, false},
    {"permessage-deflate; server_max_window_bits=12", 10, 0, false, false,
     "permessage-deflate; server_max_window_bits=10", 10, 15, false, false},
    {"permessage-deflate; server_max_window_bits=9", 0, 0, false, false,
     "permessage-deflate; server_max_window_bits=9", 9, 15, false, false},
    /* Our own limit is announced even unasked (RFC 7692 §7.1.2.1). */
    {"permessage-deflate", 11, 0, false, false, "permessage-deflate; server_max_window_bits=11", 11,
     15, false, false},
    /* Without client_max_window_bits in the offer we may not limit it. */
    {"permessage-deflate", 0, 10, false, false, "permessage-deflate", 15, 15, false, false},
    {"permessage-deflate; server_no_context_takeover; client_no_context_takeover", 0, 0, false,
     false, "permessage-deflate; server_no_context_takeover; client_no_context_takeover", 15, 15,
     true, true},
    {"permessage-deflate; client_no_context_takeover", 0, 0, false, false,
     "permessage-deflate; client_no_context_takeover", 15, 15, false, true},
    {"permessage-deflate", 0, 0, true, false, "permessage-deflate; server_no_context_takeover", 15,
     15, true, false},
    {"permessage-deflate", 0, 0, false, true, "permessage-deflate; client_no_context_takeover", 15,
     15, false, true},
    {"permessage-deflate; client_max_window_bits", 0, 12, true, false,
     "permessage-deflate; server_no_context_takeover; client_max_window_bits=12", 15, 12, true,
     false},
    {"permessage-deflate; server_max_window_bits=10; client_max_window_bits=9; "
     "server_no_context_takeover; client_no_context_takeover",
     0, 0, false, false,
     "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
     "server_max_window_bits=10; client_max_window_bits=9",
     10, 9, true, true},
    /* RFC 7692 §7: quoted values are unquoted before validation. */
    {"permessage-deflate; server_max_window_bits=\"10\"", 0, 0, false, false,
     "permessage-deflate; server_max_window_bits=10", 10, 15, false, false},
    {"permessage-deflate; client_max_window_bits=\"1\\2\"", 0, 0, false, false,
     "permessage-deflate; client_max_window_bits=12", 15, 12, false, false},
    /* Whitespace and case. */
    {"  PerMessage-Deflate ;\tCLIENT_MAX_WINDOW_BITS = 11 ", 0, 0, false, false,
     "permessage-deflate; client_max_window_bits=11", 15, 11, false, false},
    {"permessage-deflate;server_no_context_takeover", 0, 0, false, false,
     "permessage-deflate; server_no_context_takeover", 15, 15, true, false},
};

START_TEST(test_negotiate_accept)
{
	const struct accept_case *t = &accepts[_i];
	struct ws_deflate_config cfg;
	struct ws_deflate_params p;
	char resp[WS_DEFLATE_EXT_MAX];

	ws_deflate_config_default(&cfg);
	if (t->cfg_s)
		cfg.server_max_window_bits = t->cfg_s;
	if (t->cfg_c)
		cfg.client_max_window_bits = t->cfg_c;
	cfg.server_no_context_takeover = t->cfg_snct;
	cfg.client_no_context_takeover = t->cfg_cnct;
	memset(&p, 0xaa, sizeof(p));
	memset(resp, 'x', sizeof(resp));
	ck_assert_msg(negotiate1(t->offer, &cfg, &p, resp) == WS_OK, "offer %s", t->offer);
	ck_assert_str_eq(resp, t->response);
	ck_assert_uint_eq(p.server_max_window_bits, t->s);
	ck_assert_uint_eq(p.client_max_window_bits, t->c);
	ck_assert(p.server_no_context_takeover == t->snct);
	ck_assert(p.client_no_context_takeover == t->cnct);
}
END_TEST

static const char *const declines[] = {
    "permessage-deflate; foo",
    "permessage-deflate; foo=1",
    "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
    "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
    "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
    "permessage-deflate; server_max_window_bits",
    "permessage-deflate; server_max_window_bits=16",
    "permessage-deflate; server_max_window_bits=7",
    "permessage-deflate; server_max_window_bits=8",
    "permessage-deflate; server_max_window_bits=0",
    "permessage-deflate; server_max_window_bits=abc",
    "permessage-deflate; server_max_window_bits=010",
    "permessage-deflate; server_max_window_bits=1a",
    "permessage-deflate; server_max_window_bits=123456789012",
    "permessage-deflate; server_max_window_bits=\"16\"",
    "permessage-deflate; server_max_window_bits=\"\"",
    "permessage-deflate; server_max_window_bits=\" 10\"",
    "permessage-deflate; client_max_window_bits=16",
    "permessage-deflate; client_max_window_bits=7",
    "permessage-deflate; client_max_window_bits=\"x\"",
    "permessage-deflate; server_no_context_takeover=1",
    "permessage-deflate; client_no_context_takeover=\"\"",
    "x-webkit-deflate-frame",
    "x-foo; server_max_window_bits=10, deflate-frame",
    "",
    " , ,",
};

START_TEST(test_negotiate_decline)
{
	struct ws_deflate_params p;
	char resp[WS_DEFLATE_EXT_MAX];

	memset(resp, 'x', sizeof(resp));
	ck_assert_msg(negotiate1(declines[_i], NULL, &p, resp) == WS_ERR_DEFLATE_DECLINED,
	              "offer '%s'", declines[_i]);
	ck_assert_str_eq(resp, "");
}
END_TEST

static const char *const malformed[] = {
    "permessage-deflate;",
    "permessage-deflate; ;",
    "permessage-deflate foo",
    "permessage-deflate; server_max_window_bits=",
    "permessage-deflate; server_max_window_bits=\"10",
    "permessage-deflate; server_max_window_bits=\"10\\",
    "permessage-deflate; server_max_window_bits=10 11",
    "permessage-deflate; a=b=c",
    "\"permessage-deflate\"",
    "permessage-deflate; @",
    "permessage-deflate, x-foo; =1",
    "permessage-deflate\x01",
    /* an acceptable offer first does not excuse a broken header */
    "permessage-deflate, permessage-deflate; \"x\"",
};

START_TEST(test_negotiate_malformed)
{
	struct ws_deflate_params p;
	char resp[WS_DEFLATE_EXT_MAX];

	ck_assert_msg(negotiate1(malformed[_i], NULL, &p, resp) == WS_ERR_HS_MALFORMED,
	              "offer '%s'", malformed[_i]);
}
END_TEST

START_TEST(test_negotiate_several_offers)
{
	struct ws_deflate_params p;
	char resp[WS_DEFLATE_EXT_MAX];

	ck_assert_int_eq(negotiate1("permessage-deflate; foo, permessage-deflate; "
	                            "client_max_window_bits=11",
	                            NULL, &p, resp),
	                 WS_OK);
	ck_assert_str_eq(resp, "permessage-deflate; client_max_window_bits=11");
	ck_assert_uint_eq(p.client_max_window_bits, 11);

	ck_assert_int_eq(negotiate1("permessage-deflate; server_max_window_bits=8, "
	                            "permessage-deflate; server_max_window_bits=9, "
	                            "permessage-deflate",
	                            NULL, &p, resp),
	                 WS_OK);
	ck_assert_str_eq(resp, "permessage-deflate; server_max_window_bits=9");

	/* Other extensions, with parameters and quoted values, are skipped. */
	ck_assert_int_eq(negotiate1("x-foo; a=\"b,c;d\"; e, permessage-deflate; "
	                            "server_no_context_takeover, x-bar",
	                            NULL, &p, resp),
	                 WS_OK);
	ck_assert_str_eq(resp, "permessage-deflate; server_no_context_takeover");
	ck_assert(p.server_no_context_takeover);

	/* The first acceptable one wins even if a later one is also fine. */
	ck_assert_int_eq(negotiate1("permessage-deflate; client_no_context_takeover, "
	                            "permessage-deflate",
	                            NULL, &p, resp),
	                 WS_OK);
	ck_assert_str_eq(resp, "permessage-deflate; client_no_context_takeover");

	/* Empty list elements are ignored (RFC 7230 §7). */
	ck_assert_int_eq(negotiate1(" , ,permessage-deflate,", NULL, &p, resp), WS_OK);
	ck_assert_str_eq(resp, "permessage-deflate");
}
END_TEST

START_TEST(test_negotiate_several_values)
{
	const char *v[] = {"x-foo", "permessage-deflate; bogus", "",
	                   "x-bar, permessage-deflate; server_max_window_bits=11",
	                   "permessage-deflate"};
	size_t l[5];
	struct ws_deflate_params p;
	char resp[WS_DEFLATE_EXT_MAX];

	for (size_t i = 0; i < 5; i++)
		l[i] = strlen(v[i]);
	ck_assert_int_eq(ws_deflate_negotiate(v, l, 5, NULL, &p, resp), WS_OK);
	ck_assert_str_eq(resp, "permessage-deflate; server_max_window_bits=11");
	ck_assert_uint_eq(p.server_max_window_bits, 11);

	/* Lengths are honoured: the bytes after l[i] are not read. */
	const char *w[] = {"permessage-deflate; client_no_context_takeoverXXX"};
	size_t wl[] = {strlen("permessage-deflate; client_no_context_takeover")};
	ck_assert_int_eq(ws_deflate_negotiate(w, wl, 1, NULL, &p, resp), WS_OK);
	ck_assert(p.client_no_context_takeover);

	/* No acceptable offer in any value. */
	const char *x[] = {"x-foo", "permessage-deflate; server_max_window_bits=8"};
	size_t xl[] = {5, strlen(x[1])};
	ck_assert_int_eq(ws_deflate_negotiate(x, xl, 2, NULL, &p, resp), WS_ERR_DEFLATE_DECLINED);
	ck_assert_int_eq(ws_deflate_negotiate(x, xl, 0, NULL, &p, resp), WS_ERR_DEFLATE_DECLINED);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Client side                                                          */
/* ------------------------------------------------------------------ */

START_TEST(test_config_default)
{
	struct ws_deflate_config c;
	memset(&c, 0xff, sizeof(c));
	ws_deflate_config_default(&c);
	ck_assert_uint_eq(c.server_max_window_bits, 15);
	ck_assert_uint_eq(c.client_max_window_bits, 15);
	ck_assert(!c.server_no_context_takeover);
	ck_assert(!c.client_no_context_takeover);
	ck_assert_int_eq(c.level, 1);
	ck_assert_int_eq(c.mem_level, 8);
}
END_TEST

START_TEST(test_client_offer)
{
	struct ws_deflate_config c;
	char out[WS_DEFLATE_EXT_MAX];
	size_t n;

	ws_deflate_config_default(&c);
	n = ws_deflate_offer(&c, out);
	ck_assert_str_eq(out, "permessage-deflate; client_max_window_bits");
	ck_assert_uint_eq(n, strlen(out));

	c.server_no_context_takeover = true;
	c.client_no_context_takeover = true;
	c.server_max_window_bits = 10;
	c.client_max_window_bits = 12;
	n = ws_deflate_offer(&c, out);
	ck_assert_str_eq(out, "permessage-deflate; server_no_context_takeover; "
	                      "client_no_context_takeover; server_max_window_bits=10; "
	                      "client_max_window_bits=12");
	ck_assert_uint_eq(n, strlen(out));
	ck_assert_uint_lt(n, WS_DEFLATE_EXT_MAX);

	/* 0: do not advertise client_max_window_bits at all. */
	ws_deflate_config_default(&c);
	c.client_max_window_bits = 0;
	ws_deflate_offer(&c, out);
	ck_assert_str_eq(out, "permessage-deflate");

	/* Our own offers are accepted by our own server as they stand. */
	ws_deflate_config_default(&c);
	c.server_max_window_bits = 12;
	c.client_no_context_takeover = true;
	ws_deflate_offer(&c, out);
	struct ws_deflate_params p, q;
	char resp[WS_DEFLATE_EXT_MAX];
	ck_assert_int_eq(negotiate1(out, NULL, &p, resp), WS_OK);
	ck_assert_str_eq(resp, "permessage-deflate; client_no_context_takeover; "
	                       "server_max_window_bits=12");
	ck_assert_int_eq(ws_deflate_accept_response(resp, strlen(resp), &c, &q), WS_OK);
	ck_assert_mem_eq(&p, &q, sizeof(p));
}
END_TEST

/* One response check: client config tweaks, response, expected result. */
struct resp_case {
	const char *response; /* server's extension value */
	uint8_t cfg_s, cfg_c; /* client offer windows (0 = default; 99 = not offered) */
	bool cfg_snct;        /* client offered server_no_context_takeover */
	int rc;               /* expected result */
	uint8_t s, c;         /* expected windows when WS_OK */
	bool snct, cnct;      /* expected no_context_takeover when WS_OK */
};

static const struct resp_case responses[] = {
    {"permessage-deflate", 0, 0, false, WS_OK, 15, 15, false, false},
    {"permessage-deflate; client_max_window_bits=10", 0, 0, false, WS_OK, 15, 10, false, false},
    {"permessage-deflate; client_max_window_bits=8", 0, 0, false, WS_OK, 15, 9, false, false},
    {"permessage-deflate; server_max_window_bits=12; server_no_context_takeover", 0, 0, false,
     WS_OK, 12, 15, true, false},
    {"permessage-deflate; client_no_context_takeover", 0, 0, false, WS_OK, 15, 15, false, true},
    {"permessage-deflate; server_max_window_bits=8", 0, 0, false, WS_OK, 9, 15, false, false},
    {"permessage-deflate; server_max_window_bits=10", 12, 0, false, WS_OK, 10, 15, false, false},
    {"permessage-deflate; server_max_window_bits=12", 12, 0, false, WS_OK, 12, 15, false, false},
    {"permessage-deflate", 0, 11, false, WS_OK, 15, 11, false, false},
    {"permessage-deflate; server_no_context_takeover", 0, 0, true, WS_OK, 15, 15, true, false},
    {" permessage-deflate ; client_max_window_bits=\"9\" ", 0, 0, false, WS_OK, 15, 9, false,
     false},
    /* unsolicited */
    {"permessage-deflate; client_max_window_bits=10", 0, 99, false, WS_ERR_HS_UNSOLICITED, 0, 0,
     false, false},
    {"permessage-deflate; client_max_window_bits=12", 0, 11, false, WS_ERR_HS_UNSOLICITED, 0, 0,
     false, false},
    {"permessage-deflate; server_max_window_bits=13", 12, 0, false, WS_ERR_HS_UNSOLICITED, 0, 0,
     false, false},
    {"x-webkit-deflate-frame", 0, 0, false, WS_ERR_HS_UNSOLICITED, 0, 0, false, false},
    {"permessage-deflate, permessage-deflate", 0, 0, false, WS_ERR_HS_UNSOLICITED, 0, 0, false,
     false},
    {"permessage-deflate, x-foo", 0, 0, false, WS_ERR_HS_UNSOLICITED, 0, 0, false, false},
    {"", 0, 0, false, WS_ERR_HS_UNSOLICITED, 0, 0, false, false},
    /* bad parameters */
    {"permessage-deflate; foo", 0, 0, false, WS_ERR_DEFLATE_PARAMS, 0, 0, false, false},
    {"permessage-deflate; client_no_context_takeover; client_no_context_takeover", 0, 0, false,
     WS_ERR_DEFLATE_PARAMS, 0, 0, false, false},
    {"permessage-deflate; client_max_window_bits", 0, 0, false, WS_ERR_DEFLATE_PARAMS, 0, 0, false,
     false},
    {"permessage-deflate; server_max_window_bits=16", 0, 0, false, WS_ERR_DEFLATE_PARAMS, 0, 0,
     false, false},
    {"permessage-deflate; server_max_window_bits", 0, 0, false, WS_ERR_DEFLATE_PARAMS, 0, 0, false,
     false},
    {"permessage-deflate; client_max_window_bits=7", 0, 0, false, WS_ERR_DEFLATE_PARAMS, 0, 0,
     false, false},
    {"permessage-deflate; server_max_window_bits=\"10", 0, 0, false, WS_ERR_DEFLATE_PARAMS, 0, 0,
     false, false},
    {"permessage-deflate junk", 0, 0, false, WS_ERR_DEFLATE_PARAMS, 0, 0, false, false},
    /* a request the server ignored */
    {"permessage-deflate", 0, 0, true, WS_ERR_DEFLATE_PARAMS, 0, 0, false, false},
    {"permessage-deflate", 12, 0, false, WS_ERR_DEFLATE_PARAMS, 0, 0, false, false},
};

START_TEST(test_client_response)
{
	const struct resp_case *t = &responses[_i];
	struct ws_deflate_config c;
	struct ws_deflate_params p;

	ws_deflate_config_default(&c);
	if (t->cfg_s)
		c.server_max_window_bits = t->cfg_s;
	if (t->cfg_c)
		c.client_max_window_bits = t->cfg_c == 99 ? 0 : t->cfg_c;
	c.server_no_context_takeover = t->cfg_snct;
	int rc = ws_deflate_accept_response(t->response, strlen(t->response), &c, &p);
	ck_assert_msg(rc == t->rc, "response '%s': got %d want %d", t->response, rc, t->rc);
	if (rc != WS_OK)
		return;
	ck_assert_uint_eq(p.server_max_window_bits, t->s);
	ck_assert_uint_eq(p.client_max_window_bits, t->c);
	ck_assert(p.server_no_context_takeover == t->snct);
	ck_assert(p.client_no_context_takeover == t->cnct);
}
END_TEST

START_TEST(test_client_keeps_offered_no_context_takeover)
{
	struct ws_deflate_config c;
	struct ws_deflate_params p;

	ws_deflate_config_default(&c);
	c.client_no_context_takeover = true;
	ck_assert_int_eq(ws_deflate_accept_response("permessage-deflate", 18, &c, &p), WS_OK);
	ck_assert(p.client_no_context_takeover);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Codec                                                                */
/* ------------------------------------------------------------------ */

/* Known vectors from RFC 7692 §7.2.3. */
START_TEST(test_rfc_vectors)
{
	static const uint8_t hello1[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
	static const uint8_t hello2[] = {0xf2, 0x00, 0x11, 0x00, 0x00};
	static const uint8_t stored[] = {0x00, 0x05, 0x00, 0xfa, 0xff, 0x48,
	                                 0x65, 0x6c, 0x6c, 0x6f, 0x00};
	static const uint8_t bfinal[] = {0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00};
	struct ws_deflate_params nct = params(15, true);
	struct ws_deflate_params takeover = params(15, false);
	struct gbuf out = {0};

	/* §7.2.3.1: "Hello" from a server without context takeover. */
	struct ws_deflate *srv = codec(WS_ROLE_SERVER, &nct);
	for (int i = 0; i < 2; i++) {
		compress_msg(srv, (const uint8_t *)"Hello", 5, 0, &out);
		ck_assert_uint_eq(out.n, sizeof(hello1));
		ck_assert_mem_eq(out.p, hello1, sizeof(hello1));
		gbuf_reset(&out);
	}
	ws_deflate_free(srv);

	/* §7.2.3.2: with context takeover the second "Hello" is a match. */
	srv = codec(WS_ROLE_SERVER, &takeover);
	compress_msg(srv, (const uint8_t *)"Hello", 5, 0, &out);
	ck_assert_mem_eq(out.p, hello1, sizeof(hello1));
	gbuf_reset(&out);
	compress_msg(srv, (const uint8_t *)"Hello", 5, 0, &out);
	ck_assert_uint_eq(out.n, sizeof(hello2));
	ck_assert_mem_eq(out.p, hello2, sizeof(hello2));
	gbuf_reset(&out);
	ws_deflate_free(srv);

	/* Inflate side: each vector gives "Hello", the second one only
	 * through the context of the first. */
	struct ws_deflate *cli = codec(WS_ROLE_CLIENT, &takeover);
	const uint8_t *seq[] = {hello1, hello2, stored, bfinal, hello2};
	size_t len[] = {sizeof(hello1), sizeof(hello2), sizeof(stored), sizeof(bfinal),
	                sizeof(hello2)};
	for (size_t i = 0; i < 5; i++) {
		ck_assert_int_eq(inflate_whole(cli, seq[i], len[i], &out), WS_OK);
		ck_assert_uint_eq(out.n, 5);
		ck_assert_mem_eq(out.p, "Hello", 5);
		gbuf_reset(&out);
	}
	ws_deflate_free(cli);

	/* A peer without context takeover may not refer to the previous
	 * message: the inflater forgets it. */
	cli = codec(WS_ROLE_CLIENT, &nct);
	ck_assert_int_eq(inflate_whole(cli, hello1, sizeof(hello1), &out), WS_OK);
	ck_assert_int_eq(inflate_whole(cli, hello2, sizeof(hello2), &out), WS_ERR_PROTO_DEFLATE);
	gbuf_reset(&out);
	ws_deflate_free(cli);
}
END_TEST

/* Three messages each way, for every window and both takeover modes;
 * with takeover a repeated message must shrink, without it must not.
 * The message is random (so only the previous message can help) and
 * short enough for the window to reach back over it. */
START_TEST(test_round_trip_windows)
{
	int bits = 9 + _i / 2;
	bool nct = _i % 2;
	struct ws_deflate_params pa = params((uint8_t)bits, nct);
	size_t n = (1u << bits) - 300;
	uint8_t msg[3000];

	if (n > sizeof(msg))
		n = sizeof(msg);
	fill_random(msg, n, (uint64_t)bits);
	for (int dir = 0; dir < 2; dir++) {
		struct ws_deflate *tx = codec(dir ? WS_ROLE_CLIENT : WS_ROLE_SERVER, &pa);
		struct ws_deflate *rx = codec(dir ? WS_ROLE_SERVER : WS_ROLE_CLIENT, &pa);
		size_t sizes[3];
		for (int m = 0; m < 3; m++) {
			struct gbuf z = {0}, out = {0};
			compress_msg(tx, msg, n, 0, &z);
			sizes[m] = z.n;
			ck_assert_int_eq(inflate_whole(rx, z.p, z.n, &out), WS_OK);
			ck_assert_uint_eq(out.n, n);
			ck_assert_mem_eq(out.p, msg, n);
			gbuf_reset(&z);
			gbuf_reset(&out);
		}
		ck_assert_uint_ge(sizes[0], n);
		if (nct) {
			ck_assert_uint_eq(sizes[1], sizes[0]);
			ck_assert_uint_eq(sizes[2], sizes[0]);
		} else {
			ck_assert_uint_lt(sizes[1] * 4, sizes[0]);
			ck_assert_uint_lt(sizes[2] * 4, sizes[0]);
		}
		ck_assert_uint_gt(ws_deflate_memory(tx), 0);
		ck_assert_uint_gt(ws_deflate_memory(rx), 0);
		ws_deflate_free(tx);
		ws_deflate_free(rx);
	}
}
END_TEST

/* A client told 8 deflates with 9 and the server inflates it. */
START_TEST(test_small_window_compat)
{
	struct ws_deflate_config cc;
	struct ws_deflate_params cp, sp;
	char resp[WS_DEFLATE_EXT_MAX];
	uint8_t msg[20000];

	fill_text(msg, sizeof(msg), 5);
	ck_assert_int_eq(
	    negotiate1("permessage-deflate; client_max_window_bits=8", NULL, &sp, resp), WS_OK);
	ws_deflate_config_default(&cc);
	ck_assert_int_eq(ws_deflate_accept_response(resp, strlen(resp), &cc, &cp), WS_OK);
	struct ws_deflate *cli = codec(WS_ROLE_CLIENT, &cp);
	struct ws_deflate *srv = codec(WS_ROLE_SERVER, &sp);
	struct gbuf z = {0}, out = {0};
	for (int m = 0; m < 2; m++) {
		compress_msg(cli, msg, sizeof(msg), 0, &z);
		ck_assert_int_eq(inflate_whole(srv, z.p, z.n, &out), WS_OK);
		ck_assert_uint_eq(out.n, sizeof(msg));
		ck_assert_mem_eq(out.p, msg, sizeof(msg));
		gbuf_reset(&z);
		gbuf_reset(&out);
	}
	ws_deflate_free(cli);
	ws_deflate_free(srv);
}
END_TEST

/* Compress in pieces, inflate in pieces of other sizes. */
START_TEST(test_streaming_pieces)
{
	static const size_t cpieces[] = {1, 100, 1000, 70000};
	static const size_t ipieces[] = {1, 7, 4096, 0};
	size_t n = 150000;
	uint8_t *msg = malloc(n);
	struct ws_deflate_params pa = params(15, _i % 2);

	fill_text(msg, n / 2, 11);
	fill_random(msg + n / 2, n - n / 2, 12);
	for (size_t c = 0; c < 4; c++) {
		struct ws_deflate *tx = codec(WS_ROLE_CLIENT, &pa);
		struct ws_deflate *rx = codec(WS_ROLE_SERVER, &pa);
		for (int m = 0; m < 2; m++) {
			struct gbuf z = {0}, out = {0};
			size_t cp = cpieces[c] == 1 ? 997 : cpieces[c];
			compress_msg(tx, msg, n, cp, &z);
			uint64_t budget = n;
			ck_assert_int_eq(inflate_msg(rx, z.p, z.n, ipieces[c], &budget, &out),
			                 WS_OK);
			ck_assert_uint_eq(budget, 0);
			ck_assert_uint_eq(out.n, n);
			ck_assert_mem_eq(out.p, msg, n);
			ck_assert_uint_le(out.max_chunk, 16384);
			gbuf_reset(&z);
			gbuf_reset(&out);
		}
		ws_deflate_free(tx);
		ws_deflate_free(rx);
	}
	free(msg);
}
END_TEST

/* Every non-final piece is decodable on its own arrival. */
START_TEST(test_fragment_flushed)
{
	struct ws_deflate_params pa = params(15, false);
	struct ws_deflate *tx = codec(WS_ROLE_SERVER, &pa);
	struct ws_deflate *rx = codec(WS_ROLE_CLIENT, &pa);
	struct gbuf z = {0}, out = {0};
	uint64_t budget = 1000;
	size_t used;

	ck_assert_int_eq(
	    ws_deflate_compress(tx, (const uint8_t *)"first part ", 11, false, gbuf_sink, &z),
	    WS_OK);
	ck_assert_uint_gt(z.n, 0);
	ck_assert_int_eq(ws_deflate_inflate(rx, z.p, z.n, false, &budget, &used, gbuf_sink, &out),
	                 WS_OK);
	ck_assert_uint_eq(used, z.n);
	ck_assert_uint_eq(out.n, 11);
	ck_assert_mem_eq(out.p, "first part ", 11);
	gbuf_reset(&z);
	ck_assert_int_eq(ws_deflate_compress(tx, NULL, 0, true, gbuf_sink, &z), WS_OK);
	ck_assert_int_eq(ws_deflate_inflate(rx, z.p, z.n, true, &budget, &used, gbuf_sink, &out),
	                 WS_OK);
	ck_assert_uint_eq(out.n, 11);
	ck_assert_uint_eq(budget, 1000 - 11);
	gbuf_reset(&z);
	gbuf_reset(&out);
	ws_deflate_free(tx);
	ws_deflate_free(rx);
}
END_TEST

START_TEST(test_empty_messages)
{
	struct ws_deflate_params pa = params(15, _i % 2);
	struct ws_deflate *tx = codec(WS_ROLE_SERVER, &pa);
	struct ws_deflate *rx = codec(WS_ROLE_CLIENT, &pa);
	const char *msgs[] = {"", "abc", "", "", "abcabc", ""};
	struct gbuf z = {0}, out = {0};

	ck_assert_uint_eq(ws_deflate_memory(tx), 0);
	for (size_t i = 0; i < 6; i++) {
		size_t n = strlen(msgs[i]);
		compress_msg(tx, (const uint8_t *)msgs[i], n, 0, &z);
		if (n == 0) {
			ck_assert_uint_eq(z.n, 1);
			ck_assert_uint_eq(z.p[0], 0x00);
		}
		ck_assert_int_eq(inflate_whole(rx, z.p, z.n, &out), WS_OK);
		ck_assert_uint_eq(out.n, n);
		if (n)
			ck_assert_mem_eq(out.p, msgs[i], n);
		gbuf_reset(&z);
		gbuf_reset(&out);
	}
	/* A zero-byte compressed payload is taken as an empty message too. */
	ck_assert_int_eq(inflate_whole(rx, NULL, 0, &out), WS_OK);
	ck_assert_uint_eq(out.n, 0);
	compress_msg(tx, (const uint8_t *)"after", 5, 0, &z);
	ck_assert_int_eq(inflate_whole(rx, z.p, z.n, &out), WS_OK);
	ck_assert_uint_eq(out.n, 5);
	gbuf_reset(&z);
	gbuf_reset(&out);
	ws_deflate_free(tx);
	ws_deflate_free(rx);
}
END_TEST

START_TEST(test_random_1mib)
{
	size_t n = 1 << 20;
	uint8_t *msg = malloc(n);
	struct ws_deflate_params pa = params(15, false);
	struct ws_deflate *tx = codec(WS_ROLE_CLIENT, &pa);
	struct ws_deflate *rx = codec(WS_ROLE_SERVER, &pa);
	struct gbuf z = {0}, out = {0};

	fill_random(msg, n, 99);
	compress_msg(tx, msg, n, 0, &z);
	ck_assert_uint_gt(z.n, n); /* random data does not shrink */
	ck_assert_uint_lt(z.n, n + n / 100);
	uint64_t budget = n;
	ck_assert_int_eq(inflate_msg(rx, z.p, z.n, 65536, &budget, &out), WS_OK);
	ck_assert_uint_eq(out.n, n);
	ck_assert_mem_eq(out.p, msg, n);
	gbuf_reset(&z);
	gbuf_reset(&out);
	ws_deflate_free(tx);
	ws_deflate_free(rx);
	free(msg);
}
END_TEST

/* 1 MiB of zeros against a 64 KiB budget. */
START_TEST(test_bomb)
{
	size_t n = 1 << 20;
	uint8_t *zeros = calloc(1, n);
	struct ws_deflate_params pa = params(15, false);
	struct ws_deflate *tx = codec(WS_ROLE_SERVER, &pa);
	struct ws_deflate *rx = codec(WS_ROLE_CLIENT, &pa);
	struct ws_deflate *ref = codec(WS_ROLE_CLIENT, &pa);
	struct gbuf z = {0}, small = {0}, out = {0};

	compress_msg(tx, zeros, n, 0, &z);
	ck_assert_uint_lt(z.n, 8192);
	compress_msg(tx, (const uint8_t *)"x", 1, 0, &small);
	/* What a working inflater holds: the reference for "nothing more". */
	ck_assert_int_eq(inflate_whole(ref, z.p, z.n, &out), WS_OK);
	ck_assert_uint_eq(out.n, n);
	size_t full = ws_deflate_memory(ref);
	gbuf_reset(&out);

	uint64_t budget = 65536;
	size_t used = 0;
	int rc = ws_deflate_inflate(rx, z.p, z.n, true, &budget, &used, gbuf_sink, &out);
	ck_assert_int_eq(rc, WS_ERR_PROTO_MESSAGE_TOO_BIG);
	ck_assert_uint_le(out.n, 65536);
	ck_assert_uint_ge(out.n, 65536 - 16384);
	ck_assert_uint_le(ws_deflate_memory(rx), full);
	ck_assert_uint_gt(ws_deflate_memory(rx), 0);
	/* The failure is sticky. */
	rc = ws_deflate_inflate(rx, small.p, small.n, true, &budget, &used, gbuf_sink, &out);
	ck_assert_int_eq(rc, WS_ERR_PROTO_MESSAGE_TOO_BIG);

	/* Fed one byte at a time the limit holds just the same. */
	ws_deflate_free(rx);
	rx = codec(WS_ROLE_CLIENT, &pa);
	gbuf_reset(&out);
	budget = 65536;
	rc = inflate_msg(rx, z.p, z.n, 1, &budget, &out);
	ck_assert_int_eq(rc, WS_ERR_PROTO_MESSAGE_TOO_BIG);
	ck_assert_uint_le(out.n, 65536);

	/* Exactly the budget is fine. */
	ws_deflate_free(rx);
	rx = codec(WS_ROLE_CLIENT, &pa);
	gbuf_reset(&out);
	budget = n;
	ck_assert_int_eq(inflate_whole(rx, z.p, z.n, &out), WS_OK);
	ws_deflate_free(rx);
	rx = codec(WS_ROLE_CLIENT, &pa);
	gbuf_reset(&out);
	budget = n;
	ck_assert_int_eq(inflate_msg(rx, z.p, z.n, 0, &budget, &out), WS_OK);
	ck_assert_uint_eq(budget, 0);
	budget = n - 1;
	ws_deflate_free(rx);
	rx = codec(WS_ROLE_CLIENT, &pa);
	ck_assert_int_eq(inflate_msg(rx, z.p, z.n, 0, &budget, &out), WS_ERR_PROTO_MESSAGE_TOO_BIG);

	gbuf_reset(&z);
	gbuf_reset(&small);
	gbuf_reset(&out);
	ws_deflate_free(tx);
	ws_deflate_free(rx);
	ws_deflate_free(ref);
	free(zeros);
}
END_TEST

START_TEST(test_corrupt)
{
	static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	/* "Hello" in a fixed block, cut before its end-of-block code */
	static const uint8_t cut[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9};
	/* a complete final block followed by a reserved block type */
	static const uint8_t after_final[] = {0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0xff};
	struct ws_deflate_params pa = params(15, false);
	struct gbuf out = {0};
	struct ws_deflate *rx = codec(WS_ROLE_SERVER, &pa);

	ck_assert_int_eq(inflate_whole(rx, junk, sizeof(junk), &out), WS_ERR_PROTO_DEFLATE);
	/* sticky */
	ck_assert_int_eq(inflate_whole(rx, junk, 1, &out), WS_ERR_PROTO_DEFLATE);
	ws_deflate_free(rx);

	rx = codec(WS_ROLE_SERVER, &pa);
	ck_assert_int_eq(inflate_whole(rx, cut, sizeof(cut), &out), WS_ERR_PROTO_DEFLATE);
	ws_deflate_free(rx);

	rx = codec(WS_ROLE_SERVER, &pa);
	ck_assert_int_eq(inflate_whole(rx, after_final, sizeof(after_final), &out),
	                 WS_ERR_PROTO_DEFLATE);
	ws_deflate_free(rx);

	/* A stored block announcing 10 bytes with 2 present: the tail is
	 * read as stored data and the message ends inside the block. */
	static const uint8_t short_stored[] = {0x00, 0x0a, 0x00, 0xf5, 0xff, 0x48, 0x65};
	rx = codec(WS_ROLE_SERVER, &pa);
	ck_assert_int_eq(inflate_whole(rx, short_stored, sizeof(short_stored), &out),
	                 WS_ERR_PROTO_DEFLATE);
	ws_deflate_free(rx);

	/* A distance before the start of any data. */
	static const uint8_t far[] = {0xf2, 0x00, 0x11, 0x00, 0x00};
	rx = codec(WS_ROLE_SERVER, &pa);
	ck_assert_int_eq(inflate_whole(rx, far, sizeof(far), &out), WS_ERR_PROTO_DEFLATE);
	ws_deflate_free(rx);
	gbuf_reset(&out);
}
END_TEST

/* A sink that pauses every other chunk gets the same bytes. */
START_TEST(test_pause_resume)
{
	size_t n = 300000;
	uint8_t *msg = malloc(n);
	struct ws_deflate_params pa = params(15, _i % 2);
	struct ws_deflate *tx = codec(WS_ROLE_SERVER, &pa);
	struct ws_deflate *rx = codec(WS_ROLE_CLIENT, &pa);
	struct gbuf z = {0}, out = {.pause_odd = true};

	fill_text(msg, n, 21);
	for (int m = 0; m < 2; m++) {
		compress_msg(tx, msg, n, 0, &z);
		/* Feed in two pieces; drain with n = 0 whenever asked. */
		size_t half = z.n / 2, off = 0;
		uint64_t budget = n;
		for (int piece = 0; piece < 2; piece++) {
			size_t end = piece ? z.n : half;
			bool final = piece == 1;
			for (;;) {
				size_t used = 0;
				int rc = ws_deflate_inflate(rx, z.p + off, end - off, final,
				                            &budget, &used, gbuf_sink, &out);
				off += used;
				if (rc == WS_OK) {
					ck_assert_uint_eq(off, end);
					ck_assert(!ws_deflate_inflate_pending(rx));
					break;
				}
				CHECK(rc == WS_ERR_AGAIN);
				/* A non-final piece read whole with nothing held
				 * back: go on with the next piece. */
				if (off == end && !final && !ws_deflate_inflate_pending(rx))
					break;
			}
		}
		ck_assert_uint_eq(out.n, n);
		ck_assert_mem_eq(out.p, msg, n);
		ck_assert_uint_gt(out.pauses, 5);
		gbuf_reset(&z);
		free(out.p);
		out.p = NULL;
		out.n = out.cap = 0;
	}
	ws_deflate_free(tx);
	ws_deflate_free(rx);
	free(msg);
}
END_TEST

/* A sink that pauses on every chunk: the last chunk of the message
 * leaves the message open with all input read, and only a call with
 * n = 0 finishes it. */
START_TEST(test_drain_with_zero_input)
{
	size_t n = 100000;
	uint8_t *msg = malloc(n);
	struct ws_deflate_params pa = params(15, false);
	struct ws_deflate *tx = codec(WS_ROLE_SERVER, &pa);
	struct ws_deflate *rx = codec(WS_ROLE_CLIENT, &pa);
	struct gbuf z = {0}, out = {.pause_all = true};
	uint64_t budget = n;
	size_t off = 0, drains = 0;
	int calls = 0, rc;

	fill_text(msg, n, 33);
	compress_msg(tx, msg, n, 0, &z);
	do {
		size_t used = 0;
		if (off == z.n) {
			/* Nothing left to give: only pending output may justify
			 * another call. */
			CHECK(ws_deflate_inflate_pending(rx));
			drains++;
		}
		rc = ws_deflate_inflate(rx, z.p + off, z.n - off, true, &budget, &used, gbuf_sink,
		                        &out);
		off += used;
		CHECK(++calls < 1000);
	} while (rc == WS_ERR_AGAIN);
	ck_assert_int_eq(rc, WS_OK);
	ck_assert_uint_ge(drains, 1);
	ck_assert(!ws_deflate_inflate_pending(rx));
	ck_assert_uint_eq(out.pauses, out.chunks);
	ck_assert_uint_ge(out.chunks, n / 16384);
	ck_assert_uint_eq(out.n, n);
	ck_assert_mem_eq(out.p, msg, n);
	ck_assert_uint_eq(budget, 0);

	/* The same with the tail still unread: a pause inside the tail. */
	gbuf_reset(&z);
	gbuf_reset(&out);
	compress_msg(tx, (const uint8_t *)"Hello", 5, 0, &z);
	out.pause_all = true;
	budget = 5;
	size_t used = 0;
	rc = ws_deflate_inflate(rx, z.p, z.n, true, &budget, &used, gbuf_sink, &out);
	if (rc == WS_ERR_AGAIN) {
		ck_assert_uint_eq(used, z.n);
		ck_assert(ws_deflate_inflate_pending(rx));
		rc = ws_deflate_inflate(rx, NULL, 0, true, &budget, &used, gbuf_sink, &out);
	}
	ck_assert_int_eq(rc, WS_OK);
	ck_assert_uint_eq(out.n, 5);
	ck_assert_mem_eq(out.p, "Hello", 5);

	gbuf_reset(&z);
	gbuf_reset(&out);
	ws_deflate_free(tx);
	ws_deflate_free(rx);
	free(msg);
}
END_TEST

/* A paused non-final piece with output still inside zlib: pending says
 * so, and calls with n = 0 (not final) drain it.  Level 9 zeros give
 * about 1 KiB per input byte, so pieces of ~16 bytes fill the 16 KiB
 * chunk close to their last byte; some split lands where all of the
 * piece is read and output still waits. */
START_TEST(test_drain_non_final)
{
	size_t n = 1 << 20;
	uint8_t *zeros = calloc(1, n);
	struct ws_deflate_config cfg;
	struct ws_deflate_params pa = params(15, false);
	struct ws_deflate *tx, *rx = codec(WS_ROLE_CLIENT, &pa);
	struct gbuf z = {0}, out = {.pause_all = true};
	uint64_t budget = n;
	size_t off = 0, used = 0, drained = 0, piece = 14;

	ws_deflate_config_default(&cfg);
	cfg.level = 9;
	ck_assert_int_eq(ws_deflate_new(&tx, WS_ROLE_SERVER, &pa, &cfg), WS_OK);
	ck_assert_int_eq(ws_deflate_compress(tx, zeros, n, false, gbuf_sink, &z), WS_OK);
	while (off < z.n) {
		size_t end = off + piece < z.n ? off + piece : z.n;
		piece = piece == 18 ? 14 : piece + 1;
		int rc;
		do {
			rc = ws_deflate_inflate(rx, z.p + off, end - off, false, &budget, &used,
			                        gbuf_sink, &out);
			off += used;
		} while (rc == WS_ERR_AGAIN && off < end);
		CHECK(off == end);
		CHECK(rc == WS_OK || rc == WS_ERR_AGAIN);
		if (rc == WS_OK) {
			CHECK(!ws_deflate_inflate_pending(rx));
			continue;
		}
		/* Paused with the whole piece read. */
		size_t before = out.n;
		while (ws_deflate_inflate_pending(rx)) {
			rc =
			    ws_deflate_inflate(rx, NULL, 0, false, &budget, &used, gbuf_sink, &out);
			CHECK(rc == WS_OK || rc == WS_ERR_AGAIN);
			CHECK(used == 0);
		}
		if (out.n > before)
			drained++;
	}
	ck_assert_uint_gt(drained, 0);
	/* The message ends with an empty final piece. */
	gbuf_reset(&z);
	ck_assert_int_eq(ws_deflate_compress(tx, NULL, 0, true, gbuf_sink, &z), WS_OK);
	out.pause_all = false;
	ck_assert_int_eq(ws_deflate_inflate(rx, z.p, z.n, true, &budget, &used, gbuf_sink, &out),
	                 WS_OK);
	ck_assert_uint_eq(out.n, n);
	ck_assert_uint_eq(budget, 0);
	for (size_t i = 0; i < n; i++)
		CHECK(out.p[i] == 0);
	gbuf_reset(&z);
	gbuf_reset(&out);
	ws_deflate_free(tx);
	ws_deflate_free(rx);
	free(zeros);
}
END_TEST

static int failing_sink(void *ctx, const uint8_t *p, size_t n)
{
	return WS_ERR_HANDLER;
}

START_TEST(test_sink_error_and_memory)
{
	struct ws_deflate_params pa = params(15, false);
	struct ws_deflate *d = codec(WS_ROLE_SERVER, &pa);
	uint64_t budget = 100;
	size_t used;

	/* Idle codecs hold no zlib state. */
	ck_assert_uint_eq(ws_deflate_memory(d), 0);
	ck_assert_int_eq(
	    ws_deflate_compress(d, (const uint8_t *)"abc", 3, true, failing_sink, NULL),
	    WS_ERR_HANDLER);
	size_t after_deflate = ws_deflate_memory(d);
	ck_assert_uint_gt(after_deflate, 64 * 1024);
	static const uint8_t hello[] = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
	ck_assert_int_eq(
	    ws_deflate_inflate(d, hello, sizeof(hello), true, &budget, &used, failing_sink, NULL),
	    WS_ERR_HANDLER);
	ck_assert_uint_gt(ws_deflate_memory(d), after_deflate);
	ws_deflate_free(d);
	ws_deflate_free(NULL);

	/* memLevel and window shrink the deflater. */
	struct ws_deflate_config small;
	ws_deflate_config_default(&small);
	small.mem_level = 1;
	struct ws_deflate_params sp = params(9, false);
	struct gbuf z = {0};
	ck_assert_int_eq(ws_deflate_new(&d, WS_ROLE_SERVER, &sp, &small), WS_OK);
	compress_msg(d, (const uint8_t *)"abc", 3, 0, &z);
	ck_assert_uint_lt(ws_deflate_memory(d) * 8, after_deflate);
	gbuf_reset(&z);
	ws_deflate_free(d);
}
END_TEST

static Suite *deflate_suite(void)
{
	Suite *s = suite_create("ws_deflate");
	TCase *neg = tcase_create("negotiation");
	TCase *codec_tc = tcase_create("codec");

	tcase_add_loop_test(neg, test_negotiate_accept, 0, sizeof(accepts) / sizeof(accepts[0]));
	tcase_add_loop_test(neg, test_negotiate_decline, 0, sizeof(declines) / sizeof(declines[0]));
	tcase_add_loop_test(neg, test_negotiate_malformed, 0,
	                    sizeof(malformed) / sizeof(malformed[0]));
	tcase_add_test(neg, test_negotiate_several_offers);
	tcase_add_test(neg, test_negotiate_several_values);
	tcase_add_test(neg, test_config_default);
	tcase_add_test(neg, test_client_offer);
	tcase_add_loop_test(neg, test_client_response, 0, sizeof(responses) / sizeof(responses[0]));
	tcase_add_test(neg, test_client_keeps_offered_no_context_takeover);
	suite_add_tcase(s, neg);

	tcase_set_timeout(codec_tc, 60);
	tcase_add_test(codec_tc, test_rfc_vectors);
	tcase_add_loop_test(codec_tc, test_round_trip_windows, 0, 14);
	tcase_add_test(codec_tc, test_small_window_compat);
	tcase_add_loop_test(codec_tc, test_streaming_pieces, 0, 2);
	tcase_add_test(codec_tc, test_fragment_flushed);
	tcase_add_loop_test(codec_tc, test_empty_messages, 0, 2);
	tcase_add_test(codec_tc, test_random_1mib);
	tcase_add_test(codec_tc, test_bomb);
	tcase_add_test(codec_tc, test_corrupt);
	tcase_add_loop_test(codec_tc, test_pause_resume, 0, 2);
	tcase_add_test(codec_tc, test_drain_with_zero_input);
	tcase_add_test(codec_tc, test_drain_non_final);
	tcase_add_test(codec_tc, test_sink_error_and_memory);
	suite_add_tcase(s, codec_tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(deflate_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
