/* fuzz_h2_validate: the RFC 8441 validator on arbitrary header lists.
 *
 * Input: "name: value" lines (LF or CRLF); a pseudo-header line keeps
 * its leading colon (":method: CONNECT"), the name ends at the next
 * colon.  The list is validated with no options and with a route that
 * has subprotocols, an origin list and deflate; what is accepted must
 * round-trip: the 200 built from it passes the client check, and a
 * client request rebuilt from its :scheme/:authority/:path validates.
 * The same list is also fed to the client-side response check, and the
 * HTTP/3 entry points must answer exactly as the HTTP/2 ones.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_error.h"
#include "ws_h2_upgrade.h"
#include "ws_h3_upgrade.h"

#define MAX_FIELDS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const server_protos[] = {"chat", "mqtt", "v2.binary"};
static const char *const origins[] = {"https://example.com", "null"};

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

/* A NUL-terminated copy of s into buf[cap], or NULL when s is absent,
 * does not fit or holds a NUL (C strings cannot carry it). */
static const char *cstr(struct ws_span s, char *buf, size_t cap)
{
	if (s.p == NULL || s.n >= cap || memchr(s.p, '\0', s.n) != NULL)
		return NULL;
	memcpy(buf, s.p, s.n);
	buf[s.n] = '\0';
	return buf;
}

static struct ws_span find_raw(const struct ws_header *h, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (h[i].name_len == strlen(name) && memcmp(h[i].name, name, h[i].name_len) == 0)
			return (struct ws_span){h[i].value, h[i].value_len};
	return (struct ws_span){NULL, 0};
}

static void check_accepted(const struct ws_header *h, size_t n, const struct ws_upgrade_result *res,
                           const struct ws_upgrade_options *opts)
{
	struct ws_header out[3], req[8];
	struct ws_upgrade_result cres, r2;
	struct ws_upgrade_options co = {0}, again = {0};
	const char *offer[1];
	char scheme[256], authority[256], path[256], ext[WS_DEFLATE_EXT_MAX], protos[64];
	const char *sc, *au, *pa;
	size_t nh, nr;

	if (res->path.n == 0 || res->authority.n == 0)
		abort();
	if (res->subprotocol != NULL) {
		bool ours = false;

		for (size_t i = 0; opts != NULL && i < opts->n_subprotocols; i++)
			ours = ours || res->subprotocol == opts->subprotocols[i];
		if (!ours)
			abort();
		offer[0] = res->subprotocol;
		co.subprotocols = offer;
		co.n_subprotocols = 1;
	}
	nh = ws_h2_upgrade_response_headers(res, out, 3);
	if (nh < 1)
		abort();
	if (res->deflate)
		nh--; /* extensions are ws_deflate's fuzzer's business */
	if (ws_h2_client_validate_response(out, nh, &co, &cres) != WS_OK)
		abort();
	if (cres.subprotocol != res->subprotocol)
		abort();

	/* Rebuild the request from what was accepted. */
	sc = cstr(find_raw(h, n, ":scheme"), scheme, sizeof scheme);
	au = cstr(res->authority, authority, sizeof authority);
	pa = cstr(res->path, path, sizeof path);
	if (sc == NULL || au == NULL || pa == NULL || *sc == '\0')
		return;
	nr = ws_h2_client_request(req, 8, sc, au, pa, &co, ext, protos, sizeof protos);
	if (nr != 6 + (res->subprotocol != NULL))
		abort();
	/* Same route minus the checks the rebuilt request cannot meet
	 * (it carries no Origin and no extension offer). */
	if (opts != NULL)
		again = *opts;
	again.n_allowed_origins = 0;
	again.deflate = NULL;
	if (ws_h2_upgrade_validate(req, nr, &again, &r2) != WS_OK ||
	    r2.subprotocol != res->subprotocol)
		abort();
	if (r2.path.n != res->path.n || memcmp(r2.path.p, res->path.p, r2.path.n) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ws_header fields[MAX_FIELDS];
	struct ws_upgrade_result res, res3;
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
	int rc, rc3;

	/* An exact-size copy: any read past the input trips ASan. */
	buf = malloc(size ? size : 1);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	ws_deflate_config_default(&cfg);
	while (nf < MAX_FIELDS && next_line(buf, size, &pos, &line, &len)) {
		const char *colon = len > 1 ? memchr(line + 1, ':', len - 1) : NULL;
		size_t vo;

		if (colon == NULL)
			continue;
		/* One optional space after the colon, as an H2 stack would
		 * hand the value over without it. */
		vo = (size_t)(colon + 1 - line);
		if (vo < len && line[vo] == ' ')
			vo++;
		fields[nf++] =
		    (struct ws_header){line, (size_t)(colon - line), line + vo, len - vo};
	}

	rc = ws_h2_upgrade_validate(fields, nf, NULL, &res);
	rc3 = ws_h3_upgrade_validate(fields, nf, NULL, &res3);
	if (rc != rc3)
		abort();
	if (rc == WS_OK)
		check_accepted(fields, nf, &res, NULL);
	else if (ws_error_http_status(rc) == 500)
		abort(); /* every refusal maps to a 4xx or 501 */
	full.require_subprotocol = size > 0 && (data[0] & 1);
	rc = ws_h2_upgrade_validate(fields, nf, &full, &res);
	if (rc == WS_OK)
		check_accepted(fields, nf, &res, &full);
	else if (ws_error_http_status(rc) == 500)
		abort();

	rc = ws_h2_client_validate_response(fields, nf, &client, &res);
	rc3 = ws_h3_client_validate_response(fields, nf, &client, &res3);
	if (rc != rc3)
		abort();
	free(buf);
	return 0;
}
