/* fuzz_h1_validate: the HTTP/1.1 upgrade validator on arbitrary heads.
 *
 * Input: a first line "METHOD SP TARGET SP HTTP/x.y", then "Name: value"
 * lines (LF or CRLF).  The head is validated with no options and with a
 * route that has subprotocols, an origin list and deflate.  Whatever is
 * accepted must make sense: the accept value matches the key, the
 * chosen subprotocol was offered, and the 101 built from the result
 * passes the client-side check.  The same fields are also fed to the
 * client-side response check.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_error.h"
#include "ws_h1_upgrade.h"

#define MAX_FIELDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const server_protos[] = {"chat", "mqtt", "v2.binary"};
static const char *const origins[] = {"https://example.com", "null"};

/* Next line of buf[*pos..n) without its LF / CRLF. */
static bool next_line(const char *buf, size_t n, size_t *pos, const char **line, size_t *len)
{
	const char *lf;
	size_t l;

	if (*pos >= n)
		return false;
	*line = buf + *pos;
	lf = memchr(*line, '\n', n - *pos);
	l = lf ? (size_t)(lf - *line) : n - *pos;
	*pos += lf ? l + 1 : l;
	if (l > 0 && (*line)[l - 1] == '\r')
		l--;
	*len = l;
	return true;
}

static void parse_request_line(const char *l, size_t n, struct ws_h1_request *req)
{
	const char *sp1 = memchr(l, ' ', n), *sp2, *v;
	size_t vn;

	req->method = l;
	req->method_len = sp1 ? (size_t)(sp1 - l) : n;
	if (sp1 == NULL)
		return;
	sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - l));
	req->target = sp1 + 1;
	req->target_len = sp2 ? (size_t)(sp2 - req->target) : n - (size_t)(req->target - l);
	if (sp2 == NULL)
		return;
	v = sp2 + 1;
	vn = n - (size_t)(v - l);
	if (vn == 8 && memcmp(v, "HTTP/", 5) == 0 && v[5] >= '0' && v[5] <= '9' && v[6] == '.' &&
	    v[7] >= '0' && v[7] <= '9') {
		req->version_major = v[5] - '0';
		req->version_minor = v[7] - '0';
	}
}

/* A server result must round-trip through the client-side check. */
static void check_accepted(const struct ws_upgrade_result *res,
                           const struct ws_upgrade_options *opts)
{
	char accept[29], copies[WS_UPGRADE_MAX_OFFERED][64];
	const char *offer[WS_UPGRADE_MAX_OFFERED];
	size_t n_offer = 0, nh;
	struct ws_header out[5];
	struct ws_upgrade_result cres;
	struct ws_upgrade_options co = {0};
	bool chosen_offered = res->subprotocol == NULL;
	int rc;

	if (strlen(res->key) != 24 || ws_h1_accept(res->key, 24, accept) != WS_OK ||
	    strcmp(accept, res->accept) != 0)
		abort();
	if (res->n_offered > WS_UPGRADE_MAX_OFFERED)
		abort();
	for (size_t i = 0; i < res->n_offered; i++) {
		const struct ws_span *s = &res->offered[i];

		if (s->n == 0)
			abort();
		if (res->subprotocol != NULL && s->n == strlen(res->subprotocol) &&
		    memcmp(s->p, res->subprotocol, s->n) == 0)
			chosen_offered = true;
		if (s->n < sizeof copies[0]) {
			memcpy(copies[n_offer], s->p, s->n);
			copies[n_offer][s->n] = '\0';
			offer[n_offer] = copies[n_offer];
			n_offer++;
		}
	}
	if (!chosen_offered)
		abort();
	/* The choice points into the server's own list. */
	if (res->subprotocol != NULL) {
		bool ours = false;

		for (size_t i = 0; opts != NULL && i < opts->n_subprotocols; i++)
			ours = ours || res->subprotocol == opts->subprotocols[i];
		if (!ours)
			abort();
	}
	nh = ws_h1_upgrade_response_headers(res, out, 5);
	if (nh < 3)
		abort();
	/* The chosen subprotocol is at most 63 bytes here (ours are short),
	 * so it is among the copies the client "offered". */
	co.subprotocols = offer;
	co.n_subprotocols = n_offer;
	if (res->deflate) {
		/* The client check of extensions belongs to ws_deflate's
		 * fuzzer; leave the field out. */
		nh = 3 + (res->subprotocol != NULL);
	}
	rc = ws_h1_client_validate_response(101, out, nh, res->key, &co, &cres);
	if (rc != WS_OK)
		abort();
	if ((res->subprotocol == NULL) != (cres.subprotocol == NULL))
		abort();
	if (res->subprotocol != NULL && strcmp(res->subprotocol, cres.subprotocol) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ws_header fields[MAX_FIELDS];
	struct ws_h1_request req = {0};
	struct ws_upgrade_result res;
	struct ws_deflate_config cfg;
	struct ws_upgrade_options full = {.subprotocols = server_protos,
	                                  .n_subprotocols = 3,
	                                  .allowed_origins = origins,
	                                  .n_allowed_origins = 2,
	                                  .deflate = &cfg};
	struct ws_upgrade_options client = {
	    .subprotocols = server_protos, .n_subprotocols = 3, .deflate = &cfg};
	const char *line;
	size_t len, pos = 0, nf = 0;
	char *buf;
	int rc;

	/* An exact-size copy: any read past the input trips ASan. */
	buf = malloc(size ? size : 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	ws_deflate_config_default(&cfg);
	if (next_line(buf, size, &pos, &line, &len))
		parse_request_line(line, len, &req);
	while (nf < MAX_FIELDS && next_line(buf, size, &pos, &line, &len)) {
		const char *colon = memchr(line, ':', len);

		if (colon == NULL)
			continue;
		fields[nf++] = (struct ws_header){line, (size_t)(colon - line), colon + 1,
		                                  len - (size_t)(colon + 1 - line)};
	}
	req.headers = fields;
	req.n_headers = nf;

	rc = ws_h1_upgrade_validate(&req, NULL, &res);
	if (rc == WS_OK)
		check_accepted(&res, NULL);
	else if (ws_error_http_status(rc) == 500)
		abort(); /* every refusal maps to a 4xx or 501 */
	full.require_subprotocol = size > 0 && (data[0] & 1);
	rc = ws_h1_upgrade_validate(&req, &full, &res);
	if (rc == WS_OK) {
		check_accepted(&res, &full);
		if (res.deflate && strncmp(res.extensions, "permessage-deflate", 18) != 0)
			abort();
	} else if (ws_error_http_status(rc) == 500) {
		abort();
	}

	/* The same fields as a response to the RFC 6455 sample key. */
	(void)ws_h1_client_validate_response(101, fields, nf, "dGhlIHNhbXBsZSBub25jZQ==", &client,
	                                     &res);
	free(buf);
	return 0;
}
