/* wsc_http: the I/O-free parts of the WebSocket client: URL parsing, the
 * HTTP/1.1 upgrade request text and the parser of the response head.
 *
 * Nothing here touches sockets or allocates, so the fuzzer and the unit
 * tests drive it directly.  The response parser returns spans into the
 * caller's buffer, in the shape ws_h1_client_validate_response takes.
 */
#ifndef WSC_HTTP_H
#define WSC_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "ws_upgrade.h"

/* Longest host name kept from a URL (DNS names are at most 253). */
#define WSC_HOST_MAX 256
/* Longest path-and-query kept from a URL. */
#define WSC_PATH_MAX 2048
/* Most header fields taken from a response head; more is malformed. */
#define WSC_RESPONSE_HEADERS_MAX 64
/* Longest response head (status line through the blank line). */
#define WSC_RESPONSE_HEAD_MAX (16 * 1024)

/* A parsed ws:// or wss:// URL. */
struct wsc_url {
	bool tls;                          /* wss:// */
	bool ipv6;                         /* host was a bracketed IPv6 literal */
	char host[WSC_HOST_MAX];           /* name or address, brackets removed */
	char port[6];                      /* decimal, the scheme's default if absent */
	char authority[WSC_HOST_MAX + 10]; /* Host / :authority as sent */
	char path[WSC_PATH_MAX];           /* path and query, at least "/" */
};

/* Parse "ws://host[:port][/path][?query]" or "wss://...".  Hosts may be
 * "[v6]" literals; user info and fragments are refused (a fragment has
 * no meaning for a WebSocket URL, RFC 6455 §3).  The authority keeps the
 * port only when it is not the default one.  Returns WS_OK or
 * WS_ERR_INVALID_ARG (unknown scheme, empty or over-long host, bad port,
 * path too long, control characters or spaces). */
int wsc_url_parse(const char *s, struct wsc_url *u);

/* A parsed response head. */
struct wsc_response {
	int status;                                         /* 100..599 */
	int version_minor;                                  /* HTTP/1.x minor version */
	struct ws_span reason;                              /* reason phrase */
	struct ws_header headers[WSC_RESPONSE_HEADERS_MAX]; /* fields, in order */
	size_t n_headers;                                   /* entries in headers */
};

/* Parse the response head p[0..n), which must end with the blank line
 * ("\r\n\r\n"; bare "\n" line ends are accepted too).  Names must be
 * tokens; values lose surrounding whitespace; obsolete line folding and
 * control characters other than HTAB are refused.  Returns WS_OK or
 * WS_ERR_HS_MALFORMED (also for more than WSC_RESPONSE_HEADERS_MAX
 * fields or a status line that is not HTTP/1.x with a 3-digit code). */
int wsc_http_parse_response(const char *p, size_t n, struct wsc_response *r);

/* Length of the head at the start of p[0..n) including its blank line,
 * 0 when it is not complete yet. */
size_t wsc_http_head_length(const char *p, size_t n);

/* Write the HTTP/1.1 upgrade request for u with key (24 characters), the
 * offered subprotocols and deflate offer of opts (may be NULL) and the
 * extra header fields extra[0..n_extra) into out[0..max).  Extra fields
 * must not contain CR or LF.  Returns the length written (NUL-terminated
 * but not counted), or 0 when it does not fit or a field is invalid. */
size_t wsc_http_build_request(char *out, size_t max, const struct wsc_url *u, const char *key,
                              const struct ws_upgrade_options *opts, const struct ws_header *extra,
                              size_t n_extra);

/* Split "Name: value" into a header entry pointing into line.  Returns
 * WS_OK or WS_ERR_INVALID_ARG (no colon, name not a token, CR/LF). */
int wsc_http_split_header(const char *line, struct ws_header *h);

#endif
