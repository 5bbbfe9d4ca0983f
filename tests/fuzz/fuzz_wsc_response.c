/* Fuzz the client's handshake input: the HTTP/1.1 response-head parser
 * followed by ws_h1_client_validate_response with an offer of two
 * subprotocols and permessage-deflate, and (first byte odd) the URL
 * parser on the same bytes as a string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"
#include "wsc_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *protos[] = {"chat", "superchat"};
	struct ws_deflate_config dc;
	struct ws_upgrade_options offer = {.subprotocols = protos, .n_subprotocols = 2};
	struct wsc_response *r;
	struct ws_upgrade_result res;
	char *copy;
	size_t hl;

	if (size > WSC_RESPONSE_HEAD_MAX + 64)
		return 0;
	/* An exact-size copy, so ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	if (size > 0 && (data[0] & 1)) {
		char *s = malloc(size + 1);
		struct wsc_url u;

		memcpy(s, data + 1, size - 1);
		s[size - 1] = '\0';
		if (wsc_url_parse(s, &u) == WS_OK) {
			char out[WSC_RESPONSE_HEAD_MAX];
			size_t n = wsc_http_build_request(
			    out, sizeof(out), &u, "dGhlIHNhbXBsZSBub25jZQ==", &offer, NULL, 0);
			if (n == 0 || strlen(out) != n || memcmp(out, "GET /", 5) != 0)
				abort();
		}
		free(s);
	}
	hl = wsc_http_head_length(copy, size);
	r = malloc(sizeof(*r));
	if (hl > 0 && r != NULL && wsc_http_parse_response(copy, hl, r) == WS_OK) {
		ws_deflate_config_default(&dc);
		offer.deflate = &dc;
		for (size_t i = 0; i < r->n_headers; i++)
			if (r->headers[i].name + r->headers[i].name_len > copy + hl ||
			    r->headers[i].value + r->headers[i].value_len > copy + hl)
				abort();
		(void)ws_h1_client_validate_response(r->status, r->headers, r->n_headers,
		                                     "dGhlIHNhbXBsZSBub25jZQ==", &offer, &res);
	}
	free(r);
	free(copy);
	return 0;
}
