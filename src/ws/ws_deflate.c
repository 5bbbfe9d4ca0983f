/* ws_deflate: permessage-deflate (RFC 7692) negotiation and codec.
 *
 * Two halves.  The negotiation half parses Sec-WebSocket-Extensions
 * values (RFC 7230 list syntax: offers separated by commas, parameters
 * by semicolons, values as token or quoted-string) without allocating,
 * and applies the RFC 7692 §7.1 rules for each side.  The codec half
 * wraps two raw zlib streams, created on first use, whose allocations go
 * through counting hooks so that ws_deflate_memory is exact.
 *
 * The 8-bit window: zlib refuses raw deflate streams with windowBits 8,
 * but its deflater never emits a distance above (1 << wbits) - 262, so a
 * stream made with 9 bits only reaches back 250 bytes and fits an 8-bit
 * window.  Deflating with 9 when 8 was agreed therefore honours the
 * agreement; inflating with at least 9 is safe for any smaller window.
 */
#include "ws_deflate.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "ws_error.h"

/* Output chunk for both directions: lives on the stack of each call so
 * that an idle codec holds no buffer. */
#define CHUNK 16384

/* The tail that a sync flush ends with (RFC 7692 §7.2.1). */
static const uint8_t sync_tail[4] = {0x00, 0x00, 0xff, 0xff};

static const char pmd_name[] = "permessage-deflate";

/* The longest value we build has all four parameters, windows of two
 * digits: 18 + 2 * 28 + 2 * 27 = 128 characters.  The snprintf chains
 * below rely on never being cut short. */
_Static_assert(WS_DEFLATE_EXT_MAX > 128, "extension value buffer too small");

void ws_deflate_config_default(struct ws_deflate_config *c)
{
	c->server_max_window_bits = 15;
	c->client_max_window_bits = 15;
	c->server_no_context_takeover = false;
	c->client_no_context_takeover = false;
	c->level = 1;
	c->mem_level = 8;
}

/* A policy window: 0 (unset) means 15, anything else is clamped to what
 * zlib can deflate with. */
static uint8_t policy_bits(uint8_t v)
{
	if (v == 0 || v > 15)
		return 15;
	return v < 9 ? 9 : v;
}

/* The caller's config, or the defaults when it passed none. */
static const struct ws_deflate_config *config_or_default(const struct ws_deflate_config *cfg,
                                                         struct ws_deflate_config *tmp)
{
	if (cfg != NULL)
		return cfg;
	ws_deflate_config_default(tmp);
	return tmp;
}

static uint8_t min_u8(uint8_t a, uint8_t b)
{
	return a < b ? a : b;
}

/* ------------------------------------------------------------------ */
/* Header syntax                                                        */
/* ------------------------------------------------------------------ */

/* Longest parameter value kept; longer ones are never valid values. */
#define VALUE_MAX 8

/* The parameters of one permessage-deflate offer or response. */
struct pmd_params {
	bool invalid;   /* unknown, duplicate, malformed or out-of-range param */
	bool snct;      /* server_no_context_takeover present */
	bool cnct;      /* client_no_context_takeover present */
	bool smwb_seen; /* server_max_window_bits present */
	bool cmwb_seen; /* client_max_window_bits present */
	uint8_t smwb;   /* its value, 8..15 */
	uint8_t cmwb;   /* its value 8..15, or 0 when given bare */
	bool is_pmd;    /* the element names permessage-deflate */
	bool empty;     /* the list element was empty (", ,") */
};

/* Read position inside one header value. */
struct cursor {
	const char *p;   /* next byte */
	const char *end; /* one past the last byte */
};

static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static void skip_ows(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

static size_t take_token(struct cursor *c)
{
	const char *s = c->p;
	while (c->p < c->end && is_tchar((unsigned char)*c->p))
		c->p++;
	return (size_t)(c->p - s);
}

static bool name_is(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

/* Read a parameter value (token or quoted-string) into v[VALUE_MAX + 1],
 * unquoting it as RFC 7692 §7 asks; *vn is its length, VALUE_MAX + 1 when
 * it was too long to be a valid value.  Returns false on a syntax error. */
static bool take_value(struct cursor *c, char *v, size_t *vn)
{
	size_t n = 0;

	if (c->p < c->end && *c->p == '"') {
		c->p++;
		for (;;) {
			if (c->p >= c->end)
				return false; /* unterminated */
			unsigned char ch = (unsigned char)*c->p++;
			if (ch == '"')
				break;
			if (ch == '\\') {
				if (c->p >= c->end)
					return false;
				ch = (unsigned char)*c->p++;
				if (ch < 0x20 && ch != '\t')
					return false;
			} else if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
				return false;
			}
			if (n < VALUE_MAX)
				v[n] = (char)ch;
			n++;
		}
	} else {
		const char *s = c->p;
		size_t len = take_token(c);
		if (len == 0)
			return false;
		for (size_t i = 0; i < len && i < VALUE_MAX; i++)
			v[i] = s[i];
		n = len;
	}
	if (n > VALUE_MAX)
		n = VALUE_MAX + 1;
	else
		v[n] = '\0';
	*vn = n;
	return true;
}

/* A window-bits value: decimal 8..15 without leading zeros (RFC 7692
 * §7.1.2).  Returns 0 when invalid. */
static uint8_t window_value(const char *v, size_t n)
{
	if (n == 1 && v[0] == '8')
		return 8;
	if (n == 1 && v[0] == '9')
		return 9;
	if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
		return (uint8_t)(10 + (v[1] - '0'));
	return 0;
}

/* Apply one parameter to *pp; anything not allowed marks it invalid. */
static void apply_param(struct pmd_params *pp, const char *name, size_t nlen, bool has_value,
                        const char *v, size_t vn)
{
	if (name_is(name, nlen, "server_no_context_takeover")) {
		if (pp->snct || has_value)
			pp->invalid = true;
		pp->snct = true;
	} else if (name_is(name, nlen, "client_no_context_takeover")) {
		if (pp->cnct || has_value)
			pp->invalid = true;
		pp->cnct = true;
	} else if (name_is(name, nlen, "server_max_window_bits")) {
		uint8_t bits = has_value ? window_value(v, vn) : 0;
		if (pp->smwb_seen || bits == 0)
			pp->invalid = true;
		pp->smwb_seen = true;
		pp->smwb = bits;
	} else if (name_is(name, nlen, "client_max_window_bits")) {
		uint8_t bits = has_value ? window_value(v, vn) : 0;
		if (pp->cmwb_seen || (has_value && bits == 0))
			pp->invalid = true;
		pp->cmwb_seen = true;
		pp->cmwb = bits;
	} else {
		pp->invalid = true;
	}
}

/* Parse one list element at c into *pp and step past its comma.
 * Returns false on a syntax error. */
static bool parse_element(struct cursor *c, struct pmd_params *pp)
{
	memset(pp, 0, sizeof(*pp));
	skip_ows(c);
	if (c->p >= c->end || *c->p == ',') {
		/* RFC 7230 §7: empty list elements are ignored. */
		pp->empty = true;
		if (c->p < c->end)
			c->p++;
		return true;
	}
	const char *name = c->p;
	size_t nlen = take_token(c);
	if (nlen == 0)
		return false;
	pp->is_pmd = name_is(name, nlen, pmd_name);
	skip_ows(c);
	while (c->p < c->end && *c->p == ';') {
		char v[VALUE_MAX + 1];
		size_t vn = 0;
		bool has_value = false;

		c->p++;
		skip_ows(c);
		const char *pname = c->p;
		size_t plen = take_token(c);
		if (plen == 0)
			return false;
		skip_ows(c);
		if (c->p < c->end && *c->p == '=') {
			c->p++;
			skip_ows(c);
			if (!take_value(c, v, &vn))
				return false;
			has_value = true;
			skip_ows(c);
		}
		apply_param(pp, pname, plen, has_value, v, vn);
	}
	if (c->p < c->end) {
		if (*c->p != ',')
			return false;
		c->p++;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* Server negotiation                                                   */
/* ------------------------------------------------------------------ */

/* Decide on one offer; returns true and fills *out/response on accept. */
static bool server_accept(const struct pmd_params *pp, const struct ws_deflate_config *cfg,
                          struct ws_deflate_params *out, char *response)
{
	uint8_t cfg_s = policy_bits(cfg->server_max_window_bits);
	uint8_t cfg_c = policy_bits(cfg->client_max_window_bits);
	uint8_t s = cfg_s, c = 15;
	bool echo_c = false;

	if (pp->invalid)
		return false;
	if (pp->smwb_seen) {
		/* We must deflate within the window asked for; 8 would need
		 * the 9-bit argument above, which we do not rely on here. */
		if (pp->smwb < 9)
			return false;
		s = min_u8(pp->smwb, cfg_s);
	}
	if (pp->cmwb_seen) {
		uint8_t offered = pp->cmwb ? pp->cmwb : 15;
		c = min_u8(offered, cfg_c);
		echo_c = c < 15;
	}
	/* Without client_max_window_bits in the offer we may not restrict
	 * the client (RFC 7692 §7.1.2.2): assume its full window. */

	out->server_max_window_bits = s;
	out->client_max_window_bits = c < 9 ? 9 : c;
	out->server_no_context_takeover = pp->snct || cfg->server_no_context_takeover;
	out->client_no_context_takeover = pp->cnct || cfg->client_no_context_takeover;

	int n = snprintf(response, WS_DEFLATE_EXT_MAX, "%s%s%s", pmd_name,
	                 out->server_no_context_takeover ? "; server_no_context_takeover" : "",
	                 out->client_no_context_takeover ? "; client_no_context_takeover" : "");
	if (pp->smwb_seen || s < 15)
		n += snprintf(response + n, WS_DEFLATE_EXT_MAX - (size_t)n,
		              "; server_max_window_bits=%u", (unsigned)s);
	if (echo_c)
		snprintf(response + n, WS_DEFLATE_EXT_MAX - (size_t)n,
		         "; client_max_window_bits=%u", (unsigned)c);
	return true;
}

int ws_deflate_negotiate(const char *const *values, const size_t *lens, size_t n,
                         const struct ws_deflate_config *cfg, struct ws_deflate_params *out,
                         char response[WS_DEFLATE_EXT_MAX])
{
	struct ws_deflate_config tmp;
	bool accepted = false;

	cfg = config_or_default(cfg, &tmp);
	response[0] = '\0';
	/* Every value is parsed to its end even after an acceptance, so that
	 * a malformed header is reported the same wherever the damage is. */
	for (size_t i = 0; i < n; i++) {
		struct cursor c = {values[i], values[i] + lens[i]};
		while (c.p < c.end) {
			struct pmd_params pp;
			if (!parse_element(&c, &pp))
				return WS_ERR_HS_MALFORMED;
			if (pp.empty || !pp.is_pmd || accepted)
				continue;
			accepted = server_accept(&pp, cfg, out, response);
		}
	}
	return accepted ? WS_OK : WS_ERR_DEFLATE_DECLINED;
}

/* ------------------------------------------------------------------ */
/* Client negotiation                                                   */
/* ------------------------------------------------------------------ */

size_t ws_deflate_offer(const struct ws_deflate_config *cfg, char out[WS_DEFLATE_EXT_MAX])
{
	struct ws_deflate_config tmp;
	cfg = config_or_default(cfg, &tmp);
	uint8_t s = policy_bits(cfg->server_max_window_bits);
	uint8_t c = policy_bits(cfg->client_max_window_bits);
	int n = snprintf(out, WS_DEFLATE_EXT_MAX, "%s%s%s", pmd_name,
	                 cfg->server_no_context_takeover ? "; server_no_context_takeover" : "",
	                 cfg->client_no_context_takeover ? "; client_no_context_takeover" : "");
	if (s < 15)
		n += snprintf(out + n, WS_DEFLATE_EXT_MAX - (size_t)n,
		              "; server_max_window_bits=%u", (unsigned)s);
	/* 0 means: do not advertise client_max_window_bits at all. */
	if (cfg->client_max_window_bits != 0) {
		if (c < 15)
			n += snprintf(out + n, WS_DEFLATE_EXT_MAX - (size_t)n,
			              "; client_max_window_bits=%u", (unsigned)c);
		else
			n += snprintf(out + n, WS_DEFLATE_EXT_MAX - (size_t)n,
			              "; client_max_window_bits");
	}
	return (size_t)n;
}

int ws_deflate_accept_response(const char *value, size_t len, const struct ws_deflate_config *cfg,
                               struct ws_deflate_params *out)
{
	struct cursor c = {value, value + len};
	struct pmd_params pp, got = {0};
	struct ws_deflate_config tmp;
	bool found = false;

	cfg = config_or_default(cfg, &tmp);
	while (c.p < c.end) {
		if (!parse_element(&c, &pp))
			return WS_ERR_DEFLATE_PARAMS;
		if (pp.empty)
			continue;
		/* We offered one extension once: anything else was not asked. */
		if (!pp.is_pmd || found)
			return WS_ERR_HS_UNSOLICITED;
		got = pp;
		found = true;
	}
	if (!found)
		return WS_ERR_HS_UNSOLICITED;
	if (got.invalid)
		return WS_ERR_DEFLATE_PARAMS;

	uint8_t off_s = policy_bits(cfg->server_max_window_bits);
	uint8_t off_c = policy_bits(cfg->client_max_window_bits);
	bool off_cmwb = cfg->client_max_window_bits != 0;

	/* A server accepts a request by echoing it (RFC 7692 §7.1.1.1,
	 * §7.1.2.1); one that ignores it has answered an offer we did not
	 * make. */
	if (cfg->server_no_context_takeover && !got.snct)
		return WS_ERR_DEFLATE_PARAMS;
	if (off_s < 15 && !got.smwb_seen)
		return WS_ERR_DEFLATE_PARAMS;
	if (got.smwb_seen && got.smwb > off_s)
		return WS_ERR_HS_UNSOLICITED;
	if (got.cmwb_seen && got.cmwb == 0)
		return WS_ERR_DEFLATE_PARAMS; /* a response must give a value */
	if (got.cmwb_seen && (!off_cmwb || got.cmwb > off_c))
		return WS_ERR_HS_UNSOLICITED;

	uint8_t cw = got.cmwb_seen ? got.cmwb : (off_cmwb ? off_c : 15);
	uint8_t sw = got.smwb_seen ? got.smwb : 15;
	out->server_max_window_bits = sw < 9 ? 9 : sw;
	/* Told 8, we deflate with 9: see the note at the top of this file. */
	out->client_max_window_bits = cw < 9 ? 9 : cw;
	out->server_no_context_takeover = got.snct;
	/* Having offered client_no_context_takeover we keep to it even if
	 * the server does not echo it: nothing lost, and the hint holds. */
	out->client_no_context_takeover = got.cnct || cfg->client_no_context_takeover;
	return WS_OK;
}

/* ------------------------------------------------------------------ */
/* Codec                                                                */
/* ------------------------------------------------------------------ */

/* Life of one zlib stream inside the codec. */
enum zstate {
	Z_NONE,   /* not created yet (or never needed) */
	Z_READY,  /* created, between or inside messages */
	Z_FAILED, /* a fatal error happened; the error is sticky */
};

struct ws_deflate {
	enum ws_role role;    /* decides which side's parameters apply */
	int level;            /* zlib compression level */
	int mem_level;        /* zlib memLevel */
	int tx_bits;          /* window bits of our deflater, 9..15 */
	int rx_bits;          /* window bits of our inflater, 9..15 */
	bool tx_reset;        /* our side has no_context_takeover */
	bool rx_reset;        /* the peer has no_context_takeover */
	size_t mem;           /* bytes zlib currently holds through our hooks */
	enum zstate tx_state; /* deflater life */
	int tx_err;           /* sticky error when tx_state == Z_FAILED */
	z_stream tx;          /* deflater, valid unless Z_NONE */
	enum zstate rx_state; /* inflater life */
	int rx_err;           /* sticky error when rx_state == Z_FAILED */
	z_stream rx;          /* inflater, valid unless Z_NONE */
	bool rx_in_msg;       /* this message has had payload bytes */
	bool rx_more_out;     /* last inflate filled its chunk: output may wait */
	bool rx_final_due;    /* a final piece paused: the message is not ended */
	uint8_t rx_tail_fed;  /* bytes of sync_tail fed for this message */
	bool rx_fresh;        /* a BFINAL block ended the stream; nothing since */
};

/* zlib allocation hooks: each block carries its size in front so that
 * the free hook can keep d->mem exact. */
struct zhdr {
	alignas(max_align_t) size_t size; /* bytes after the header */
};

static voidpf zalloc_hook(voidpf opaque, uInt items, uInt size)
{
	struct ws_deflate *d = opaque;
	size_t n = (size_t)items * size;
	if (size != 0 && n / size != items)
		return Z_NULL;
	struct zhdr *h = malloc(sizeof(*h) + n);
	if (h == NULL)
		return Z_NULL;
	h->size = n;
	d->mem += n;
	return h + 1;
}

static void zfree_hook(voidpf opaque, voidpf p)
{
	struct ws_deflate *d = opaque;
	if (p == NULL)
		return;
	struct zhdr *h = (struct zhdr *)p - 1;
	d->mem -= h->size;
	free(h);
}

static int clamp_bits(uint8_t v)
{
	if (v == 0 || v > 15)
		return 15;
	return v < 9 ? 9 : v;
}

int ws_deflate_new(struct ws_deflate **out, enum ws_role role,
                   const struct ws_deflate_params *params, const struct ws_deflate_config *cfg)
{
	struct ws_deflate *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return WS_ERR_NOMEM;
	bool server = role == WS_ROLE_SERVER;
	d->role = role;
	d->level = 1;
	d->mem_level = 8;
	if (cfg != NULL) {
		if (cfg->level >= 0 && cfg->level <= 9)
			d->level = cfg->level;
		if (cfg->mem_level >= 1 && cfg->mem_level <= 9)
			d->mem_level = cfg->mem_level;
	}
	uint8_t sbits = params->server_max_window_bits;
	uint8_t cbits = params->client_max_window_bits;
	d->tx_bits = clamp_bits(server ? sbits : cbits);
	d->rx_bits = clamp_bits(server ? cbits : sbits);
	d->tx_reset =
	    server ? params->server_no_context_takeover : params->client_no_context_takeover;
	d->rx_reset =
	    server ? params->client_no_context_takeover : params->server_no_context_takeover;
	*out = d;
	return WS_OK;
}

void ws_deflate_free(struct ws_deflate *d)
{
	if (d == NULL)
		return;
	if (d->tx_state != Z_NONE)
		deflateEnd(&d->tx);
	if (d->rx_state != Z_NONE)
		inflateEnd(&d->rx);
	free(d);
}

size_t ws_deflate_memory(const struct ws_deflate *d)
{
	return d->mem;
}

bool ws_deflate_inflate_pending(const struct ws_deflate *d)
{
	return d->rx_state == Z_READY && (d->rx_more_out || d->rx_final_due);
}

static int zerr(int rc)
{
	return rc == Z_MEM_ERROR ? WS_ERR_NOMEM : WS_ERR_INTERNAL;
}

static int tx_fail(struct ws_deflate *d, int err)
{
	d->tx_state = Z_FAILED;
	d->tx_err = err;
	return err;
}

static int tx_open(struct ws_deflate *d)
{
	if (d->tx_state == Z_FAILED)
		return d->tx_err;
	if (d->tx_state == Z_READY)
		return WS_OK;
	memset(&d->tx, 0, sizeof(d->tx));
	d->tx.zalloc = zalloc_hook;
	d->tx.zfree = zfree_hook;
	d->tx.opaque = d;
	int rc = deflateInit2(&d->tx, d->level, Z_DEFLATED, -d->tx_bits, d->mem_level,
	                      Z_DEFAULT_STRATEGY);
	if (rc != Z_OK)
		return zerr(rc); /* nothing held: a later call may retry */
	d->tx_state = Z_READY;
	return WS_OK;
}

int ws_deflate_compress(struct ws_deflate *d, const uint8_t *in, size_t n, bool final,
                        ws_deflate_sink sink, void *ctx)
{
	uint8_t buf[CHUNK];
	size_t keep = 0; /* bytes held back at buf[0] in case they are the tail */
	int err = tx_open(d);
	if (err != WS_OK)
		return err;

	/* Every piece is sync-flushed, not only the final one: the peer can
	 * then decode each fragment as soon as it arrives (a bridge streams),
	 * for about five bytes per fragment.  Only the final piece loses its
	 * tail, which the receiver appends back. */
	uLong before = d->tx.total_out;
	d->tx.next_in = (Bytef *)(uintptr_t)in;
	d->tx.avail_in = 0;
	for (;;) {
		/* avail_in is a uInt: feed huge inputs in slices. */
		if (d->tx.avail_in == 0 && n > 0) {
			d->tx.avail_in = n > (1u << 30) ? (1u << 30) : (uInt)n;
			n -= d->tx.avail_in;
		}
		d->tx.next_out = buf + keep;
		d->tx.avail_out = (uInt)(CHUNK - keep);
		int rc = deflate(&d->tx, n > 0 ? Z_NO_FLUSH : Z_SYNC_FLUSH);
		/* Z_BUF_ERROR only says no progress was possible: a repeated
		 * flush with nothing new to flush. */
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			return tx_fail(d, zerr(rc));
		size_t have = CHUNK - d->tx.avail_out;
		bool done = d->tx.avail_out != 0 && n == 0 && d->tx.avail_in == 0;
		size_t give = have;
		if (final && !done) {
			give = have > 4 ? have - 4 : 0;
		} else if (final) {
			if (have >= 4 && memcmp(buf + have - 4, sync_tail, 4) == 0) {
				give = have - 4;
			} else if (d->tx.total_out == before) {
				/* Nothing new to flush (an empty message right after a
				 * flush): the conventional empty block is one 0x00. */
				buf[0] = 0x00;
				give = 1;
			} else {
				return tx_fail(d, WS_ERR_INTERNAL);
			}
		}
		if (give > 0) {
			/* A compress sink cannot pause: any refusal leaves the
			 * stream half-written, so later calls fail. */
			err = sink(ctx, buf, give);
			if (err != 0) {
				tx_fail(d, WS_ERR_INTERNAL);
				return err;
			}
		}
		if (done)
			break;
		keep = have - give;
		memmove(buf, buf + give, keep);
	}
	if (final && d->tx_reset && deflateReset(&d->tx) != Z_OK)
		return tx_fail(d, WS_ERR_INTERNAL);
	return WS_OK;
}

static int rx_fail(struct ws_deflate *d, int err)
{
	d->rx_state = Z_FAILED;
	d->rx_err = err;
	return err;
}

static int rx_open(struct ws_deflate *d)
{
	if (d->rx_state == Z_FAILED)
		return d->rx_err;
	if (d->rx_state == Z_READY)
		return WS_OK;
	memset(&d->rx, 0, sizeof(d->rx));
	d->rx.zalloc = zalloc_hook;
	d->rx.zfree = zfree_hook;
	d->rx.opaque = d;
	int rc = inflateInit2(&d->rx, -d->rx_bits);
	if (rc != Z_OK)
		return zerr(rc);
	d->rx_state = Z_READY;
	return WS_OK;
}

/* The peer ended its deflate stream with a BFINAL block, which RFC 7692
 * §7.2.3.5 allows; more blocks may follow in the same message (an empty
 * stored block, typically) or in the next.  They form a new stream that,
 * with context takeover, may still refer to earlier data, so the window
 * is carried over as a dictionary. */
static int rx_restart(struct ws_deflate *d)
{
	uint8_t win[1u << 15];
	uInt wlen = 0;

	if (!d->rx_reset && inflateGetDictionary(&d->rx, win, &wlen) != Z_OK)
		return WS_ERR_INTERNAL;
	if (inflateReset(&d->rx) != Z_OK)
		return WS_ERR_INTERNAL;
	if (wlen > 0 && inflateSetDictionary(&d->rx, win, wlen) != Z_OK)
		return WS_ERR_INTERNAL;
	return WS_OK;
}

/* End of one received message: check it ended on a block boundary and
 * prepare the inflater for the next one. */
static int rx_message_end(struct ws_deflate *d)
{
	int err = WS_OK;

	if (d->rx_in_msg && !d->rx_fresh) {
		/* After the appended tail zlib must be waiting for a block
		 * header (data_type bit 128) with no bits left over: else the
		 * payload was cut inside a block. */
		if (!(d->rx.data_type & 128) || (d->rx.data_type & 63) != 0)
			return rx_fail(d, WS_ERR_PROTO_DEFLATE);
		if (d->rx_reset && inflateReset(&d->rx) != Z_OK)
			err = WS_ERR_INTERNAL;
	}
	if (err != WS_OK)
		return rx_fail(d, err);
	d->rx_in_msg = false;
	d->rx_more_out = false;
	d->rx_final_due = false;
	d->rx_tail_fed = 0;
	d->rx_fresh = false;
	return WS_OK;
}

int ws_deflate_inflate(struct ws_deflate *d, const uint8_t *in, size_t n, bool final,
                       uint64_t *budget, size_t *consumed, ws_deflate_sink sink, void *ctx)
{
	uint8_t buf[CHUNK];
	size_t used = 0;

	*consumed = 0;
	int err = rx_open(d);
	if (err != WS_OK)
		return err;
	if (n > 0)
		d->rx_in_msg = true;

	for (;;) {
		bool tail = false;
		if (used < n) {
			size_t left = n - used;
			d->rx.next_in = (Bytef *)(uintptr_t)(in + used);
			d->rx.avail_in = left > (1u << 30) ? (1u << 30) : (uInt)left;
		} else if (final && d->rx_in_msg && !d->rx_fresh && d->rx_tail_fed < 4) {
			/* A message that ended with a BFINAL block needs no tail. */
			d->rx.next_in = (Bytef *)(uintptr_t)(sync_tail + d->rx_tail_fed);
			d->rx.avail_in = 4u - d->rx_tail_fed;
			tail = true;
		} else if (d->rx_more_out) {
			d->rx.next_in = (Bytef *)(uintptr_t)sync_tail; /* not read */
			d->rx.avail_in = 0;
		} else {
			break;
		}

		/* One byte beyond the budget is room enough to see a bomb. */
		size_t limit = *budget < CHUNK ? (size_t)*budget + 1 : CHUNK;
		uInt in_before = d->rx.avail_in;
		d->rx.next_out = buf;
		d->rx.avail_out = (uInt)limit;
		int rc = inflate(&d->rx, Z_SYNC_FLUSH);
		size_t took = in_before - d->rx.avail_in;
		size_t produced = limit - d->rx.avail_out;

		if (tail)
			d->rx_tail_fed = (uint8_t)(d->rx_tail_fed + took);
		else
			used += took;
		switch (rc) {
		case Z_OK:
		case Z_BUF_ERROR: /* no progress possible: needs input */
			break;
		case Z_STREAM_END:
			/* The rest of a tail we appended is not needed. */
			if (tail)
				d->rx_tail_fed = 4;
			err = rx_restart(d);
			if (err != WS_OK)
				return rx_fail(d, err);
			break;
		case Z_DATA_ERROR:
		case Z_NEED_DICT:
			return rx_fail(d, WS_ERR_PROTO_DEFLATE);
		default:
			return rx_fail(d, zerr(rc));
		}
		if (rc == Z_STREAM_END)
			d->rx_fresh = true;
		else if (took > 0)
			d->rx_fresh = false;
		if (produced > *budget)
			return rx_fail(d, WS_ERR_PROTO_MESSAGE_TOO_BIG);
		*budget -= produced;
		/* A filled chunk may hide more output (never after a restart). */
		d->rx_more_out = d->rx.avail_out == 0 && rc != Z_STREAM_END;
		if (produced > 0) {
			err = sink(ctx, buf, produced);
			if (err == WS_ERR_AGAIN) {
				*consumed = used;
				if (final)
					d->rx_final_due = true;
				return WS_ERR_AGAIN;
			}
			if (err != 0) {
				rx_fail(d, WS_ERR_INTERNAL);
				return err;
			}
		}
	}
	*consumed = used;
	if (final)
		return rx_message_end(d);
	return WS_OK;
}
