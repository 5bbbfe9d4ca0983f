/* gw_http1: HTTP/1.1 request-head parser and response writer.
 *
 * Pure code: no sockets, no libevent, no allocation.  The parser reads a
 * request head out of the caller's buffer and records spans that point
 * into it; the writers format a complete response head (and a short
 * body) into a caller-provided buffer.
 *
 * Parsing policy (strict, in the spirit of nginx and RFC 9112):
 *   - line endings are CRLF; a bare LF is tolerated as a line ending
 *     (RFC 9112 §2.2 allows it), a bare CR anywhere is an error;
 *   - one empty line before the request line is skipped (RFC 9112 §2.2),
 *     anything else before it is an error;
 *   - request line: METHOD SP TARGET SP "HTTP/" DIGIT "." DIGIT, single
 *     spaces only; method is a token; the target is origin-form (starts
 *     with '/'; absolute-form, authority-form and '*' are refused) of
 *     visible ASCII without '#'; major version other than 1 gets 505;
 *   - header names are tokens followed directly by ':' (whitespace
 *     before the colon is a smuggling vector and refused); obs-fold
 *     continuation lines are refused; values are trimmed of SP/HTAB on
 *     both ends and may hold visible ASCII, SP, HTAB and bytes >= 0x80,
 *     no other control byte (so never NUL);
 *   - Content-Length must be 1*DIGIT; repeated fields must agree;
 *     Content-Length together with Transfer-Encoding is refused;
 *   - HTTP/1.1 requires exactly one Host field (RFC 9112 §3.2).
 * Whether a request may carry a body (GET with Content-Length, an
 * upgrade with Transfer-Encoding) is the caller's decision: the parser
 * reports content_length and transfer_encoding for it.
 */
#ifndef GW_HTTP1_H
#define GW_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ws_h1_upgrade.h"
#include "ws_upgrade.h"

/* Errors of gw_http1_parse_request (always negative; 0 means "need more
 * bytes").  gw_http1_error_status gives the HTTP status to answer. */
enum gw_http1_error {
	GW_HTTP1_ERR_REQUEST_LINE = -1,     /* request line malformed (spaces, CR, garbage): 400 */
	GW_HTTP1_ERR_METHOD = -2,           /* method empty or not a token: 400 */
	GW_HTTP1_ERR_TARGET = -3,           /* target not origin-form or bad byte: 400 */
	GW_HTTP1_ERR_VERSION = -4,          /* version not HTTP/DIGIT.DIGIT: 400 */
	GW_HTTP1_ERR_VERSION_UNSUPP = -5,   /* HTTP/2.0, HTTP/3 ... on an H1 line: 505 */
	GW_HTTP1_ERR_HEADER = -6,           /* header name or value malformed: 400 */
	GW_HTTP1_ERR_OBS_FOLD = -7,         /* continuation line (obs-fold): 400 */
	GW_HTTP1_ERR_TOO_MANY_HEADERS = -8, /* more than max_headers fields: 431 */
	GW_HTTP1_ERR_CONTENT_LENGTH = -9,   /* not 1*DIGIT, too large, or conflicting: 400 */
	GW_HTTP1_ERR_TE_AND_CL = -10,       /* both Transfer-Encoding and Content-Length: 400 */
	GW_HTTP1_ERR_HOST = -11,            /* HTTP/1.1 without Host, or Host repeated: 400 */
	GW_HTTP1_ERR_HEAD_TOO_LARGE = -12,  /* head over the caller's limit: 431 */
	GW_HTTP1_ERR_INVALID_ARG = -13,     /* NULL request or headers array: 500 */
};

/* Largest Content-Length accepted (2^53 - 1); anything larger is
 * GW_HTTP1_ERR_CONTENT_LENGTH, which keeps the value exact everywhere. */
#define GW_HTTP1_MAX_CONTENT_LENGTH ((uint64_t)9007199254740991ULL)

/* A parsed request head.  Every pointer points into the buffer given to
 * gw_http1_parse_request and is valid as long as that buffer is. */
struct gw_http1_request {
	const char *method; /* method token, e.g. "GET" (not NUL-terminated) */
	size_t method_len;
	const char *target; /* whole request target, path and query */
	size_t target_len;
	const char *path; /* target up to (without) the first '?' */
	size_t path_len;
	const char *query; /* after the first '?'; NULL when there is no '?' */
	size_t query_len;
	int version_major;         /* 1 (anything else is an error) */
	int version_minor;         /* 0 or 1 in practice; any digit accepted */
	struct ws_header *headers; /* CALLER sets: array of at least max_headers entries */
	size_t n_headers;          /* fields parsed, in order of appearance */
	bool has_content_length;   /* a Content-Length field was present */
	uint64_t content_length;   /* its value (0 when absent) */
	bool transfer_encoding;    /* a Transfer-Encoding field was present */
};

/* Parse a request head from buf[0..len).  req->headers must point to an
 * array of at least max_headers entries (set it before each call; the
 * rest of *req is overwritten).
 *
 * Returns > 0: the head is complete and this many bytes (through the
 * blank line) form it; bytes after it are not looked at and belong to
 * the caller (the first bytes of the WebSocket stream, or a body).
 * Returns 0: the bytes so far are a valid prefix; read more and call
 * again with the whole buffer (parsing restarts from the beginning,
 * which is cheap for heads bounded at a few KiB).
 * Returns < 0: an enum gw_http1_error; errors are reported as soon as
 * the offending byte is seen, before the head is complete.
 *
 * The parser does not know the head-size limit: see
 * gw_http1_check_limit.  A head longer than INT_MAX bytes is
 * GW_HTTP1_ERR_HEAD_TOO_LARGE.  *req is meaningful only after a
 * positive return. */
int gw_http1_parse_request(const char *buf, size_t len, size_t max_headers,
                           struct gw_http1_request *req);

/* Apply the caller's head-size limit (max_request_size) to a parse
 * result rc obtained from len buffered bytes: returns
 * GW_HTTP1_ERR_HEAD_TOO_LARGE when rc == 0 and len >= limit (the head
 * cannot complete within the limit) or when rc > limit (a complete head
 * that is too long); otherwise rc unchanged.  Typical use:
 *   rc = gw_http1_check_limit(gw_http1_parse_request(b, n, mh, &r), n, lim); */
int gw_http1_check_limit(int rc, size_t len, size_t limit);

/* The HTTP status to answer a parse error with: 400, 431, 505 or 500. */
int gw_http1_error_status(int err);

/* A short reason for a parse error ("header name malformed"), never NULL. */
const char *gw_http1_strerror(int err);

/* The first header field called name (case-insensitive), or NULL. */
const struct ws_header *gw_http1_header(const struct gw_http1_request *req, const char *name);

/* How many header fields are called name (case-insensitive). */
size_t gw_http1_header_count(const struct gw_http1_request *req, const char *name);

/* Fill the libws view of the request (for ws_h1_upgrade_validate); it
 * shares req's pointers.  The target handed over is the whole target. */
void gw_http1_to_ws_request(const struct gw_http1_request *req, struct ws_h1_request *out);

/* Standard reason phrase for status ("Not Found"); "Unknown" for codes
 * not in the table (101, 200, 204, 206, 301-308, 400-417, 421, 426,
 * 429, 431, 500-505). */
const char *gw_http1_reason(int status);

/* Format a response into out[0..cap): "HTTP/1.1 <status> <reason>",
 * the n given headers in order, then the blank line.  When body is not
 * NULL a "Content-Length: body_len" header is appended after the given
 * ones and, unless head_only, the body follows the blank line; with
 * head_only the Content-Length is still that of the body (a HEAD answer
 * describes the GET answer).  When body is NULL nothing is added (101,
 * 304, or a file body the caller sends itself with its own
 * Content-Length among headers).
 * Header names and values must not hold CR or LF: a header that does is
 * refused (returns 0) so that no caller can split a response.
 * Returns the number of bytes written, or 0 if cap is too small or the
 * status is not 100..999; out is then unspecified.  Never writes a NUL. */
size_t gw_http1_format_response(char *out, size_t cap, int status, const struct ws_header *headers,
                                size_t n, const char *body, size_t body_len, bool head_only);

/* Longest message text kept by gw_http1_error_response; longer is cut. */
#define GW_HTTP1_ERROR_MESSAGE_MAX 256

/* Room that always suffices for gw_http1_error_response with no extra
 * headers (status line, fixed headers and the longest body). */
#define GW_HTTP1_ERROR_RESPONSE_MAX 1024

/* Format a complete error answer: status line, then
 *   Content-Type: text/plain; charset=utf-8
 *   Content-Length: N
 *   Connection: close
 * then, for 426, "Upgrade: websocket" and "Sec-WebSocket-Version: 13";
 * for 405, "Allow: GET, HEAD"; then the n_extra extra headers; then the
 * one-line body "<status> <reason>\n", or "<status> <reason>: <message>\n"
 * when message is not NULL.  Bytes of message outside printable ASCII
 * (CR, LF, controls, >= 0x7F) are written as '?' so that the body stays
 * one line of text, and message is cut at GW_HTTP1_ERROR_MESSAGE_MAX.
 * With head_only the body is left out (its length is still announced).
 * Returns bytes written, or 0 when cap is too small or a header is bad
 * (see gw_http1_format_response). */
size_t gw_http1_error_response(char *out, size_t cap, int status, const char *message,
                               const struct ws_header *extra, size_t n_extra, bool head_only);

/* Room for gw_http1_format_upgrade apart from the chosen subprotocol's
 * length (status line, Upgrade, Connection, Accept, Extensions). */
#define GW_HTTP1_UPGRADE_RESPONSE_BASE (256 + WS_DEFLATE_EXT_MAX)

/* Format the 101 Switching Protocols answer from a successful
 * ws_h1_upgrade_validate result (headers from
 * ws_h1_upgrade_response_headers).  Returns bytes written or 0 when cap
 * is too small; GW_HTTP1_UPGRADE_RESPONSE_BASE + strlen(subprotocol)
 * always suffices. */
size_t gw_http1_format_upgrade(char *out, size_t cap, const struct ws_upgrade_result *res);

#endif
