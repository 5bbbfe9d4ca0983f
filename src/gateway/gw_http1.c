/* gw_http1: HTTP/1.1 request-head parser and response writer. */
#include "gw_http1.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Parser outcome of one step: the usual convention of the public call,
 * 0 = need more bytes, < 0 = error, > 0 = done (a byte count). */
#define NEED_MORE 0

/* RFC 9110 §5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Bytes allowed in an origin-form target: visible ASCII except '#'
 * (a fragment is never sent) - RFC 3986 characters plus the few that
 * clients leave unescaped in practice ('"', '<', '>', '\\', '^', '`',
 * '{', '|', '}'), which are harmless because they never delimit. */
static bool is_target_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '#';
}

/* Field-value bytes: VCHAR, SP, HTAB and obs-text. */
static bool is_value_char(unsigned char c)
{
	if (c == '\t')
		return true;
	return c >= 0x20 && c != 0x7f;
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Consume a line ending at *pos: CRLF or a bare LF.  Returns 1 when one
 * was consumed, NEED_MORE when the buffer ends inside it, or err when
 * the byte there is not a line ending (a CR must be followed by LF). */
static int line_end(const char *buf, size_t len, size_t *pos, int err)
{
	size_t i = *pos;

	if (i >= len)
		return NEED_MORE;
	if (buf[i] == '\n') {
		*pos = i + 1;
		return 1;
	}
	if (buf[i] != '\r')
		return err;
	if (i + 1 >= len)
		return NEED_MORE;
	if (buf[i + 1] != '\n')
		return err;
	*pos = i + 2;
	return 1;
}

/* "HTTP/" DIGIT "." DIGIT at *pos, followed by a line ending.  A major
 * version other than 1 in an otherwise recognisable version ("HTTP/2.0",
 * "HTTP/3") is 505; any other shape is 400. */
static int parse_version(const char *buf, size_t len, size_t *pos, struct gw_http1_request *req)
{
	static const char prefix[] = "HTTP/";
	size_t i = *pos;
	size_t k;

	for (k = 0; k < sizeof(prefix) - 1; k++, i++) {
		if (i >= len)
			return NEED_MORE;
		if (buf[i] != prefix[k])
			return GW_HTTP1_ERR_VERSION;
	}
	if (i >= len)
		return NEED_MORE;
	if (!is_digit((unsigned char)buf[i]))
		return GW_HTTP1_ERR_VERSION;
	req->version_major = buf[i] - '0';
	i++;
	if (i >= len)
		return NEED_MORE;
	if (buf[i] != '.') {
		/* "HTTP/2" then end of line: a newer protocol's name. */
		if (req->version_major != 1 && (buf[i] == '\r' || buf[i] == '\n'))
			return GW_HTTP1_ERR_VERSION_UNSUPP;
		return GW_HTTP1_ERR_VERSION;
	}
	i++;
	if (i >= len)
		return NEED_MORE;
	if (!is_digit((unsigned char)buf[i]))
		return GW_HTTP1_ERR_VERSION;
	req->version_minor = buf[i] - '0';
	i++;
	if (i >= len)
		return NEED_MORE;
	if (buf[i] != '\r' && buf[i] != '\n')
		return GW_HTTP1_ERR_VERSION;
	if (req->version_major != 1)
		return GW_HTTP1_ERR_VERSION_UNSUPP;
	*pos = i;
	return line_end(buf, len, pos, GW_HTTP1_ERR_REQUEST_LINE);
}

static int parse_request_line(const char *buf, size_t len, size_t *pos,
                              struct gw_http1_request *req)
{
	size_t i = *pos;
	size_t start = i;
	int rc;

	/* method SP */
	for (;; i++) {
		if (i >= len)
			return NEED_MORE;
		if (buf[i] == ' ')
			break;
		if (!is_tchar((unsigned char)buf[i]))
			return (buf[i] == '\r' || buf[i] == '\n' || i == start)
			           ? GW_HTTP1_ERR_REQUEST_LINE
			           : GW_HTTP1_ERR_METHOD;
	}
	if (i == start)
		return GW_HTTP1_ERR_REQUEST_LINE;
	req->method = buf + start;
	req->method_len = i - start;
	i++;

	/* target SP: origin-form only. */
	start = i;
	if (i >= len)
		return NEED_MORE;
	if (buf[i] == ' ' || buf[i] == '\r' || buf[i] == '\n')
		return GW_HTTP1_ERR_REQUEST_LINE;
	if (buf[i] != '/')
		return GW_HTTP1_ERR_TARGET;
	for (;; i++) {
		if (i >= len)
			return NEED_MORE;
		if (buf[i] == ' ')
			break;
		if (buf[i] == '\r' || buf[i] == '\n')
			return GW_HTTP1_ERR_REQUEST_LINE; /* HTTP/0.9 style, no version */
		if (!is_target_char((unsigned char)buf[i]))
			return GW_HTTP1_ERR_TARGET;
	}
	req->target = buf + start;
	req->target_len = i - start;
	i++;

	rc = parse_version(buf, len, &i, req);
	if (rc <= 0)
		return rc;
	*pos = i;
	return 1;
}

/* Parse one header line at *pos (known not to start with CR or LF). */
static int parse_header(const char *buf, size_t len, size_t *pos, struct ws_header *h)
{
	size_t i = *pos;
	size_t start = i;
	size_t vend;

	if (buf[i] == ' ' || buf[i] == '\t')
		return GW_HTTP1_ERR_OBS_FOLD;
	for (;; i++) {
		if (i >= len)
			return NEED_MORE;
		if (buf[i] == ':')
			break;
		/* Includes SP/HTAB before the colon: never stripped, refused. */
		if (!is_tchar((unsigned char)buf[i]))
			return GW_HTTP1_ERR_HEADER;
	}
	if (i == start)
		return GW_HTTP1_ERR_HEADER;
	h->name = buf + start;
	h->name_len = i - start;
	i++;

	while (i < len && (buf[i] == ' ' || buf[i] == '\t'))
		i++;
	start = i;
	for (;; i++) {
		if (i >= len)
			return NEED_MORE;
		if (buf[i] == '\r' || buf[i] == '\n')
			break;
		if (!is_value_char((unsigned char)buf[i]))
			return GW_HTTP1_ERR_HEADER;
	}
	vend = i;
	while (vend > start && (buf[vend - 1] == ' ' || buf[vend - 1] == '\t'))
		vend--;
	h->value = buf + start;
	h->value_len = vend - start;
	*pos = i;
	return line_end(buf, len, pos, GW_HTTP1_ERR_HEADER);
}

static bool name_is(const struct ws_header *h, const char *name)
{
	size_t n = strlen(name);

	return h->name_len == n && strncasecmp(h->name, name, n) == 0;
}

/* Checks that need the whole head: framing headers and Host. */
static int check_fields(struct gw_http1_request *req)
{
	size_t hosts = 0;

	for (size_t k = 0; k < req->n_headers; k++) {
		const struct ws_header *h = &req->headers[k];

		if (name_is(h, "Host")) {
			hosts++;
		} else if (name_is(h, "Transfer-Encoding")) {
			req->transfer_encoding = true;
		} else if (name_is(h, "Content-Length")) {
			uint64_t v = 0;

			if (h->value_len == 0)
				return GW_HTTP1_ERR_CONTENT_LENGTH;
			for (size_t j = 0; j < h->value_len; j++) {
				unsigned char c = (unsigned char)h->value[j];

				if (!is_digit(c))
					return GW_HTTP1_ERR_CONTENT_LENGTH;
				v = v * 10 + (uint64_t)(c - '0');
				if (v > GW_HTTP1_MAX_CONTENT_LENGTH)
					return GW_HTTP1_ERR_CONTENT_LENGTH;
			}
			/* Two framings of one message are how requests get smuggled. */
			if (req->has_content_length && v != req->content_length)
				return GW_HTTP1_ERR_CONTENT_LENGTH;
			req->has_content_length = true;
			req->content_length = v;
		}
	}
	if (req->has_content_length && req->transfer_encoding)
		return GW_HTTP1_ERR_TE_AND_CL;
	if (hosts > 1 || (hosts == 0 && req->version_minor >= 1))
		return GW_HTTP1_ERR_HOST;
	return 0;
}

int gw_http1_parse_request(const char *buf, size_t len, size_t max_headers,
                           struct gw_http1_request *req)
{
	struct ws_header *headers;
	size_t pos = 0;
	size_t full_len = len;
	int rc;

	if (req == NULL || (buf == NULL && len > 0) || (req->headers == NULL && max_headers > 0))
		return GW_HTTP1_ERR_INVALID_ARG;
	headers = req->headers;
	memset(req, 0, sizeof(*req));
	req->headers = headers;
	/* The head length is returned as an int. */
	if (len > INT_MAX)
		len = INT_MAX;

	/* One empty line before the request line is tolerated (RFC 9112 §2.2). */
	if (len > 0 && (buf[0] == '\r' || buf[0] == '\n')) {
		rc = line_end(buf, len, &pos, GW_HTTP1_ERR_REQUEST_LINE);
		if (rc <= 0)
			return rc;
	}
	rc = parse_request_line(buf, len, &pos, req);
	if (rc <= 0)
		goto out;

	for (;;) {
		if (pos >= len) {
			rc = NEED_MORE;
			goto out;
		}
		if (buf[pos] == '\r' || buf[pos] == '\n') {
			rc = line_end(buf, len, &pos, GW_HTTP1_ERR_HEADER);
			if (rc <= 0)
				goto out;
			break;
		}
		if (req->n_headers >= max_headers)
			return GW_HTTP1_ERR_TOO_MANY_HEADERS;
		rc = parse_header(buf, len, &pos, &req->headers[req->n_headers]);
		if (rc <= 0)
			goto out;
		req->n_headers++;
	}

	rc = check_fields(req);
	if (rc < 0)
		return rc;

	req->path = req->target;
	req->path_len = req->target_len;
	{
		const char *q = memchr(req->target, '?', req->target_len);

		if (q != NULL) {
			req->path_len = (size_t)(q - req->target);
			req->query = q + 1;
			req->query_len = req->target_len - req->path_len - 1;
		}
	}
	return (int)pos;

out:
	/* Out of bytes at the INT_MAX cap: the head can never be returned. */
	if (rc == NEED_MORE && full_len > len)
		return GW_HTTP1_ERR_HEAD_TOO_LARGE;
	return rc;
}

int gw_http1_check_limit(int rc, size_t len, size_t limit)
{
	if (rc == 0 && len >= limit)
		return GW_HTTP1_ERR_HEAD_TOO_LARGE;
	if (rc > 0 && (size_t)rc > limit)
		return GW_HTTP1_ERR_HEAD_TOO_LARGE;
	return rc;
}

int gw_http1_error_status(int err)
{
	switch (err) {
	case GW_HTTP1_ERR_REQUEST_LINE:
	case GW_HTTP1_ERR_METHOD:
	case GW_HTTP1_ERR_TARGET:
	case GW_HTTP1_ERR_VERSION:
	case GW_HTTP1_ERR_HEADER:
	case GW_HTTP1_ERR_OBS_FOLD:
	case GW_HTTP1_ERR_CONTENT_LENGTH:
	case GW_HTTP1_ERR_TE_AND_CL:
	case GW_HTTP1_ERR_HOST:
		return 400;
	case GW_HTTP1_ERR_TOO_MANY_HEADERS:
	case GW_HTTP1_ERR_HEAD_TOO_LARGE:
		return 431;
	case GW_HTTP1_ERR_VERSION_UNSUPP:
		return 505;
	default:
		return 500;
	}
}

const char *gw_http1_strerror(int err)
{
	switch (err) {
	case GW_HTTP1_ERR_REQUEST_LINE:
		return "malformed request line";
	case GW_HTTP1_ERR_METHOD:
		return "malformed method";
	case GW_HTTP1_ERR_TARGET:
		return "request target is not an absolute path";
	case GW_HTTP1_ERR_VERSION:
		return "malformed HTTP version";
	case GW_HTTP1_ERR_VERSION_UNSUPP:
		return "only HTTP/1.x is spoken here";
	case GW_HTTP1_ERR_HEADER:
		return "malformed header field";
	case GW_HTTP1_ERR_OBS_FOLD:
		return "header line folding is not allowed";
	case GW_HTTP1_ERR_TOO_MANY_HEADERS:
		return "too many header fields";
	case GW_HTTP1_ERR_CONTENT_LENGTH:
		return "invalid Content-Length";
	case GW_HTTP1_ERR_TE_AND_CL:
		return "both Transfer-Encoding and Content-Length";
	case GW_HTTP1_ERR_HOST:
		return "missing or repeated Host";
	case GW_HTTP1_ERR_HEAD_TOO_LARGE:
		return "request head too large";
	case GW_HTTP1_ERR_INVALID_ARG:
		return "invalid argument";
	default:
		return "unknown error";
	}
}

const struct ws_header *gw_http1_header(const struct gw_http1_request *req, const char *name)
{
	for (size_t k = 0; k < req->n_headers; k++)
		if (name_is(&req->headers[k], name))
			return &req->headers[k];
	return NULL;
}

size_t gw_http1_header_count(const struct gw_http1_request *req, const char *name)
{
	size_t n = 0;

	for (size_t k = 0; k < req->n_headers; k++)
		if (name_is(&req->headers[k], name))
			n++;
	return n;
}

void gw_http1_to_ws_request(const struct gw_http1_request *req, struct ws_h1_request *out)
{
	out->method = req->method;
	out->method_len = req->method_len;
	out->target = req->target;
	out->target_len = req->target_len;
	out->version_major = req->version_major;
	out->version_minor = req->version_minor;
	out->headers = req->headers;
	out->n_headers = req->n_headers;
}

const char *gw_http1_reason(int status)
{
	switch (status) {
	case 101:
		return "Switching Protocols";
	case 200:
		return "OK";
	case 204:
		return "No Content";
	case 206:
		return "Partial Content";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 303:
		return "See Other";
	case 304:
		return "Not Modified";
	case 307:
		return "Temporary Redirect";
	case 308:
		return "Permanent Redirect";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 406:
		return "Not Acceptable";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 411:
		return "Length Required";
	case 412:
		return "Precondition Failed";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 416:
		return "Range Not Satisfiable";
	case 417:
		return "Expectation Failed";
	case 421:
		return "Misdirected Request";
	case 426:
		return "Upgrade Required";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Unknown";
	}
}

/* Bounded output cursor: writes stop (and ok turns false) at the end. */
struct out {
	char *p;    /* start of the caller's buffer */
	size_t cap; /* its size */
	size_t n;   /* bytes written so far */
	bool ok;    /* false once something did not fit */
};

static void put(struct out *o, const void *data, size_t len)
{
	if (!o->ok || len > o->cap - o->n) {
		o->ok = false;
		return;
	}
	if (len > 0)
		memcpy(o->p + o->n, data, len);
	o->n += len;
}

static void put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_uint(struct out *o, unsigned long long v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%llu", v);

	put(o, tmp, (size_t)n);
}

static bool has_crlf(const char *s, size_t n)
{
	return n > 0 && (memchr(s, '\r', n) != NULL || memchr(s, '\n', n) != NULL);
}

static bool put_header(struct out *o, const struct ws_header *h)
{
	if (has_crlf(h->name, h->name_len) || has_crlf(h->value, h->value_len) ||
	    h->name_len == 0) {
		o->ok = false;
		return false;
	}
	put(o, h->name, h->name_len);
	put(o, ": ", 2);
	put(o, h->value, h->value_len);
	put(o, "\r\n", 2);
	return o->ok;
}

static void put_status_line(struct out *o, int status)
{
	put_str(o, "HTTP/1.1 ");
	put_uint(o, (unsigned long long)status);
	put(o, " ", 1);
	put_str(o, gw_http1_reason(status));
	put(o, "\r\n", 2);
}

size_t gw_http1_format_response(char *out, size_t cap, int status, const struct ws_header *headers,
                                size_t n, const char *body, size_t body_len, bool head_only)
{
	struct out o = {out, cap, 0, out != NULL};

	if (status < 100 || status > 999 || (headers == NULL && n > 0))
		return 0;
	put_status_line(&o, status);
	for (size_t k = 0; k < n && o.ok; k++)
		put_header(&o, &headers[k]);
	if (body != NULL) {
		put_str(&o, "Content-Length: ");
		put_uint(&o, (unsigned long long)body_len);
		put(&o, "\r\n", 2);
	}
	put(&o, "\r\n", 2);
	if (body != NULL && !head_only)
		put(&o, body, body_len);
	return o.ok ? o.n : 0;
}

size_t gw_http1_error_response(char *out, size_t cap, int status, const char *message,
                               const struct ws_header *extra, size_t n_extra, bool head_only)
{
	/* Longest body: "999 " + reason (< 40) + ": " + message + "\n". */
	char body[64 + GW_HTTP1_ERROR_MESSAGE_MAX];
	struct out b = {body, sizeof(body), 0, true};
	struct out o = {out, cap, 0, out != NULL};

	if (status < 100 || status > 999 || (extra == NULL && n_extra > 0))
		return 0;
	put_uint(&b, (unsigned long long)status);
	put(&b, " ", 1);
	put_str(&b, gw_http1_reason(status));
	if (message != NULL) {
		put(&b, ": ", 2);
		for (size_t k = 0; message[k] != '\0' && k < GW_HTTP1_ERROR_MESSAGE_MAX; k++) {
			unsigned char c = (unsigned char)message[k];
			char ch = (c >= 0x20 && c < 0x7f) ? (char)c : '?';

			put(&b, &ch, 1);
		}
	}
	put(&b, "\n", 1);

	put_status_line(&o, status);
	put_str(&o, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: ");
	put_uint(&o, (unsigned long long)b.n);
	put_str(&o, "\r\nConnection: close\r\n");
	if (status == 426)
		put_str(&o, "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n");
	else if (status == 405)
		put_str(&o, "Allow: GET, HEAD\r\n");
	for (size_t k = 0; k < n_extra && o.ok; k++)
		put_header(&o, &extra[k]);
	put(&o, "\r\n", 2);
	if (!head_only)
		put(&o, body, b.n);
	return o.ok ? o.n : 0;
}

size_t gw_http1_format_upgrade(char *out, size_t cap, const struct ws_upgrade_result *res)
{
	struct ws_header h[8];
	size_t n;

	if (res == NULL)
		return 0;
	n = ws_h1_upgrade_response_headers(res, h, sizeof(h) / sizeof(h[0]));
	return gw_http1_format_response(out, cap, 101, h, n, NULL, 0, false);
}
