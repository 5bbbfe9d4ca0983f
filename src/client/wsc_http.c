/* wsc_http: URL parsing, the upgrade request and the response head parser.
 *
 * The response parser is strict where leniency would hide a broken
 * server (a status line that is not HTTP/1.x, fields that are not
 * tokens) and lenient where real servers differ harmlessly (bare LF line
 * ends, an empty reason phrase).
 */
#include "wsc_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws_deflate.h"
#include "ws_error.h"

static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_token(const char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)p[i]))
			return false;
	return true;
}

/* Copy p[0..n) as a C string into out[max]; false when it does not fit. */
static bool copy_str(char *out, size_t max, const char *p, size_t n)
{
	if (n >= max)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

int wsc_url_parse(const char *s, struct wsc_url *u)
{
	const char *h, *hend, *pstart, *rest;
	size_t hl;
	bool def_port;

	if (s == NULL || u == NULL)
		return WS_ERR_INVALID_ARG;
	memset(u, 0, sizeof(*u));
	if (strncasecmp(s, "ws://", 5) == 0) {
		h = s + 5;
	} else if (strncasecmp(s, "wss://", 6) == 0) {
		h = s + 6;
		u->tls = true;
	} else {
		return WS_ERR_INVALID_ARG;
	}
	for (const char *q = s; *q != '\0'; q++)
		if ((unsigned char)*q <= 0x20 || *q == 0x7f || *q == '#')
			return WS_ERR_INVALID_ARG;
	rest = h + strcspn(h, "/?");
	if (memchr(h, '@', (size_t)(rest - h)) != NULL)
		return WS_ERR_INVALID_ARG;
	if (*h == '[') {
		hend = memchr(h, ']', (size_t)(rest - h));
		if (hend == NULL)
			return WS_ERR_INVALID_ARG;
		u->ipv6 = true;
		if (!copy_str(u->host, sizeof(u->host), h + 1, (size_t)(hend - h - 1)))
			return WS_ERR_INVALID_ARG;
		hend++;
	} else {
		hend = h + strcspn(h, ":/?");
		if (!copy_str(u->host, sizeof(u->host), h, (size_t)(hend - h)))
			return WS_ERR_INVALID_ARG;
	}
	if (u->host[0] == '\0')
		return WS_ERR_INVALID_ARG;
	def_port = true;
	if (*hend == ':') {
		const char *pp = hend + 1;
		char *end;
		long port;

		if (pp == rest) {
			/* "host:" means the default port (RFC 3986 §3.2.3). */
		} else {
			if (rest - pp > 5 || *pp < '0' || *pp > '9')
				return WS_ERR_INVALID_ARG;
			port = strtol(pp, &end, 10);
			if (end != rest || port < 1 || port > 65535)
				return WS_ERR_INVALID_ARG;
			snprintf(u->port, sizeof(u->port), "%ld", port);
			def_port = port == (u->tls ? 443 : 80);
		}
	} else if (hend != rest) {
		return WS_ERR_INVALID_ARG;
	}
	if (u->port[0] == '\0')
		snprintf(u->port, sizeof(u->port), "%s", u->tls ? "443" : "80");
	hl = strlen(u->host);
	snprintf(u->authority, sizeof(u->authority), "%s%.*s%s%s%s", u->ipv6 ? "[" : "", (int)hl,
	         u->host, u->ipv6 ? "]" : "", def_port ? "" : ":", def_port ? "" : u->port);
	pstart = rest;
	if (*pstart == '\0')
		pstart = "/";
	if (*pstart == '?') {
		/* "ws://h?q" has an empty path: send "/?q". */
		if (strlen(pstart) + 2 > sizeof(u->path))
			return WS_ERR_INVALID_ARG;
		snprintf(u->path, sizeof(u->path), "/%s", pstart);
		return WS_OK;
	}
	return copy_str(u->path, sizeof(u->path), pstart, strlen(pstart)) ? WS_OK
	                                                                  : WS_ERR_INVALID_ARG;
}

size_t wsc_http_head_length(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		if (i + 1 < n && p[i + 1] == '\n')
			return i + 2;
		if (i + 2 < n && p[i + 1] == '\r' && p[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* The next line of p[*pos..n) without its line end; false at the end. */
static bool next_line(const char *p, size_t n, size_t *pos, struct ws_span *line)
{
	const char *nl;
	size_t len;

	if (*pos >= n)
		return false;
	nl = memchr(p + *pos, '\n', n - *pos);
	if (nl == NULL)
		return false;
	len = (size_t)(nl - (p + *pos));
	line->p = p + *pos;
	line->n = len > 0 && line->p[len - 1] == '\r' ? len - 1 : len;
	*pos += len + 1;
	return true;
}

static bool has_ctl(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return true;
	}
	return false;
}

static struct ws_span trim(const char *p, size_t n)
{
	while (n > 0 && (*p == ' ' || *p == '\t')) {
		p++;
		n--;
	}
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	return (struct ws_span){p, n};
}

static int parse_status_line(struct ws_span l, struct wsc_response *r)
{
	const char *p = l.p;

	/* "HTTP/1.x SSS[ reason]" */
	if (l.n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[7] < '0' || p[7] > '9' || p[8] != ' ')
		return WS_ERR_HS_MALFORMED;
	for (int i = 9; i < 12; i++)
		if (p[i] < '0' || p[i] > '9')
			return WS_ERR_HS_MALFORMED;
	if (l.n > 12 && p[12] != ' ')
		return WS_ERR_HS_MALFORMED;
	r->version_minor = p[7] - '0';
	r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	if (r->status < 100)
		return WS_ERR_HS_MALFORMED;
	r->reason = l.n > 13 ? (struct ws_span){p + 13, l.n - 13} : (struct ws_span){p + l.n, 0};
	return has_ctl(l.p, l.n) ? WS_ERR_HS_MALFORMED : WS_OK;
}

int wsc_http_parse_response(const char *p, size_t n, struct wsc_response *r)
{
	struct ws_span line;
	size_t pos = 0;
	int rc;

	if (p == NULL || r == NULL)
		return WS_ERR_INVALID_ARG;
	memset(r, 0, sizeof(*r));
	if (!next_line(p, n, &pos, &line))
		return WS_ERR_HS_MALFORMED;
	rc = parse_status_line(line, r);
	if (rc != WS_OK)
		return rc;
	for (;;) {
		const char *colon;
		struct ws_span v;
		struct ws_header *h;

		if (!next_line(p, n, &pos, &line))
			return WS_ERR_HS_MALFORMED; /* no blank line */
		if (line.n == 0)
			break;
		if (line.p[0] == ' ' || line.p[0] == '\t')
			return WS_ERR_HS_MALFORMED; /* obsolete folding */
		colon = memchr(line.p, ':', line.n);
		if (colon == NULL || !is_token(line.p, (size_t)(colon - line.p)))
			return WS_ERR_HS_MALFORMED;
		v = trim(colon + 1, line.n - (size_t)(colon + 1 - line.p));
		if (has_ctl(v.p, v.n))
			return WS_ERR_HS_MALFORMED;
		if (r->n_headers == WSC_RESPONSE_HEADERS_MAX)
			return WS_ERR_HS_MALFORMED;
		h = &r->headers[r->n_headers++];
		h->name = line.p;
		h->name_len = (size_t)(colon - line.p);
		h->value = v.p;
		h->value_len = v.n;
	}
	return pos == n ? WS_OK : WS_ERR_HS_MALFORMED;
}

int wsc_http_split_header(const char *line, struct ws_header *h)
{
	const char *colon;
	struct ws_span v;

	if (line == NULL || h == NULL || strpbrk(line, "\r\n") != NULL)
		return WS_ERR_INVALID_ARG;
	colon = strchr(line, ':');
	if (colon == NULL || !is_token(line, (size_t)(colon - line)))
		return WS_ERR_INVALID_ARG;
	v = trim(colon + 1, strlen(colon + 1));
	h->name = line;
	h->name_len = (size_t)(colon - line);
	h->value = v.p;
	h->value_len = v.n;
	return WS_OK;
}

/* Bounded appender: once something does not fit, everything fails. */
struct out {
	char *p;    /* buffer */
	size_t max; /* its size */
	size_t len; /* bytes written */
	bool full;  /* something did not fit */
};

static void put(struct out *o, const char *s, size_t n)
{
	if (n == 0)
		return;
	if (o->full || n >= o->max - o->len) {
		o->full = true;
		return;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

size_t wsc_http_build_request(char *out, size_t max, const struct wsc_url *u, const char *key,
                              const struct ws_upgrade_options *opts, const struct ws_header *extra,
                              size_t n_extra)
{
	struct out o = {out, max, 0, false};

	if (out == NULL || max == 0 || u == NULL || key == NULL)
		return 0;
	out[0] = '\0';
	puts_(&o, "GET ");
	puts_(&o, u->path);
	puts_(&o, " HTTP/1.1\r\nHost: ");
	puts_(&o, u->authority);
	puts_(&o, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
	puts_(&o, key);
	puts_(&o, "\r\nSec-WebSocket-Version: 13\r\n");
	if (opts != NULL && opts->n_subprotocols > 0) {
		puts_(&o, "Sec-WebSocket-Protocol: ");
		for (size_t i = 0; i < opts->n_subprotocols; i++) {
			const char *sp = opts->subprotocols[i];
			if (sp == NULL || !is_token(sp, strlen(sp)))
				return 0;
			if (i > 0)
				puts_(&o, ", ");
			puts_(&o, sp);
		}
		puts_(&o, "\r\n");
	}
	if (opts != NULL && opts->deflate != NULL) {
		char ext[WS_DEFLATE_EXT_MAX];
		size_t n = ws_deflate_offer(opts->deflate, ext);

		if (n == 0 || n >= sizeof(ext))
			return 0;
		puts_(&o, "Sec-WebSocket-Extensions: ");
		put(&o, ext, n);
		puts_(&o, "\r\n");
	}
	for (size_t i = 0; i < n_extra; i++) {
		const struct ws_header *h = &extra[i];
		if (h->name == NULL || !is_token(h->name, h->name_len) ||
		    (h->value_len > 0 &&
		     (h->value == NULL || memchr(h->value, '\r', h->value_len) ||
		      memchr(h->value, '\n', h->value_len))))
			return 0;
		put(&o, h->name, h->name_len);
		puts_(&o, ": ");
		put(&o, h->value, h->value_len);
		puts_(&o, "\r\n");
	}
	puts_(&o, "\r\n");
	return o.full ? 0 : o.len;
}
