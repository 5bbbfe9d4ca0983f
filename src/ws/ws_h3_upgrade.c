/* ws_h3_upgrade: WebSocket over HTTP/3 extended CONNECT (RFC 9220).
 *
 * RFC 9220 reuses RFC 8441's request and response shape unchanged
 * (only the SETTINGS frame that enables it differs, and that belongs
 * to the HTTP/3 stack), so every function is the HTTP/2 one.
 */
#include "ws_h3_upgrade.h"

int ws_h3_upgrade_validate(const struct ws_header *headers, size_t n,
                           const struct ws_upgrade_options *opts, struct ws_upgrade_result *res)
{
	return ws_h2_upgrade_validate(headers, n, opts, res);
}

size_t ws_h3_upgrade_response_headers(const struct ws_upgrade_result *res, struct ws_header *out,
                                      size_t max)
{
	return ws_h2_upgrade_response_headers(res, out, max);
}

size_t ws_h3_client_request(struct ws_header *out, size_t max, const char *scheme,
                            const char *authority, const char *path,
                            const struct ws_upgrade_options *opts, char ext_buf[WS_DEFLATE_EXT_MAX],
                            char *proto_buf, size_t proto_buf_len)
{
	return ws_h2_client_request(out, max, scheme, authority, path, opts, ext_buf, proto_buf,
	                            proto_buf_len);
}

int ws_h3_client_validate_response(const struct ws_header *headers, size_t n,
                                   const struct ws_upgrade_options *offer,
                                   struct ws_upgrade_result *res)
{
	return ws_h2_client_validate_response(headers, n, offer, res);
}
