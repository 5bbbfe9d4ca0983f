/* libFuzzer target for gw_http1_parse_request.
 *
 * The input is parsed whole and in growing prefixes.  Invariants:
 *   - a complete head's length is within the input and every span the
 *     parser returns lies inside that head;
 *   - parsing is prefix-consistent: when the whole input gives a head
 *     of length H, every shorter prefix gives 0 and every longer one H;
 *     when it gives error E, every prefix gives 0 or E;
 *   - the response writers accept what the parser produced.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw_http1.h"

#define MAX_HEADERS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond)
{
	if (!cond)
		abort();
}

static void span_inside(const char *p, size_t n, const char *buf, size_t len)
{
	if (p == NULL) {
		check(n == 0);
		return;
	}
	check(p >= buf && p <= buf + len);
	check(n <= (size_t)(buf + len - p));
}

static int parse(const char *buf, size_t len, struct ws_header *h, struct gw_http1_request *req)
{
	req->headers = h;
	return gw_http1_parse_request(buf, len, MAX_HEADERS, req);
}

static void check_request(const struct gw_http1_request *r, const char *buf, size_t head)
{
	span_inside(r->method, r->method_len, buf, head);
	span_inside(r->target, r->target_len, buf, head);
	span_inside(r->path, r->path_len, buf, head);
	span_inside(r->query, r->query_len, buf, head);
	check(r->method_len > 0 && r->target_len > 0 && r->target[0] == '/');
	check(r->path == r->target && r->path_len <= r->target_len);
	check(memchr(r->path, '?', r->path_len) == NULL);
	check(r->version_major == 1);
	check(r->n_headers <= MAX_HEADERS);
	for (size_t k = 0; k < r->n_headers; k++) {
		const struct ws_header *h = &r->headers[k];

		span_inside(h->name, h->name_len, buf, head);
		span_inside(h->value, h->value_len, buf, head);
		check(h->name_len > 0);
		check(memchr(h->value, '\r', h->value_len) == NULL);
		check(memchr(h->value, '\n', h->value_len) == NULL);
		check(memchr(h->value, '\0', h->value_len) == NULL);
	}
	check(!(r->has_content_length && r->transfer_encoding));
	/* HTTP/1.1 needs exactly one Host; HTTP/1.0 may omit it. */
	check(gw_http1_header_count(r, "Host") == 1 ||
	      (r->version_minor == 0 && gw_http1_header_count(r, "Host") == 0));
	check((gw_http1_header(r, "Host") != NULL) == (gw_http1_header_count(r, "Host") == 1));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size heap copy, so ASan sees any byte read past the end. */
	char *buf = malloc(size ? size : 1);
	struct ws_header h[MAX_HEADERS];
	struct gw_http1_request req;
	size_t step;
	int rc;

	if (buf == NULL)
		return 0;
	if (size > 0)
		memcpy(buf, data, size);

	rc = parse(buf, size, h, &req);
	check(rc <= 0 || (size_t)rc <= size);
	check(rc >= GW_HTTP1_ERR_INVALID_ARG);
	if (rc > 0) {
		char out[4096];
		size_t n;

		check_request(&req, buf, (size_t)rc);
		/* Parsed fields are safe to echo back as headers. */
		n = gw_http1_format_response(out, sizeof(out), 200, req.headers,
		                             req.n_headers < 8 ? req.n_headers : 8, NULL, 0, true);
		(void)n;
	} else if (rc < 0) {
		check(gw_http1_error_status(rc) >= 400);
		check(gw_http1_strerror(rc) != NULL);
	}

	/* Prefix consistency; every prefix for small inputs, a stride for
	 * big ones to keep the run fast. */
	step = size <= 512 ? 1 : size / 256;
	for (size_t k = 0; k < size; k += step) {
		struct gw_http1_request p;
		int prc = parse(buf, k, h, &p);

		if (rc > 0)
			check(k < (size_t)rc ? prc == 0 : prc == rc);
		else
			check(prc == 0 || prc == rc);
		if (prc > 0)
			check_request(&p, buf, (size_t)prc);
	}

	/* The input as an error message: always one line, bounded. */
	{
		char out[GW_HTTP1_ERROR_RESPONSE_MAX];
		char msg[GW_HTTP1_ERROR_MESSAGE_MAX + 8];
		size_t m = size < sizeof(msg) - 1 ? size : sizeof(msg) - 1;
		size_t n;
		const char *body;

		memcpy(msg, data, m);
		msg[m] = '\0';
		n = gw_http1_error_response(out, sizeof(out), 400, msg, NULL, 0, false);
		check(n > 0);
		body = memmem(out, n, "\r\n\r\n", 4);
		check(body != NULL);
		body += 4;
		check(memchr(body, '\n', (size_t)(out + n - body)) == out + n - 1);
		check(memchr(body, '\r', (size_t)(out + n - body)) == NULL);
	}
	free(buf);
	return 0;
}
