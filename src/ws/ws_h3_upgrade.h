/* ws_h3_upgrade: WebSocket over HTTP/3 extended CONNECT (RFC 9220).
 * The header shape is RFC 8441's, so these delegate to ws_h2_upgrade;
 * they exist so an HTTP/3 embedder names what it does. */
#ifndef WS_H3_UPGRADE_H
#define WS_H3_UPGRADE_H

#include "ws_h2_upgrade.h"

int ws_h3_upgrade_validate(const struct ws_header *headers, size_t n,
                           const struct ws_upgrade_options *opts, struct ws_upgrade_result *res);
size_t ws_h3_upgrade_response_headers(const struct ws_upgrade_result *res, struct ws_header *out,
                                      size_t max);
size_t ws_h3_client_request(struct ws_header *out, size_t max, const char *scheme,
                            const char *authority, const char *path,
                            const struct ws_upgrade_options *opts, char ext_buf[WS_DEFLATE_EXT_MAX],
                            char *proto_buf, size_t proto_buf_len);
int ws_h3_client_validate_response(const struct ws_header *headers, size_t n,
                                   const struct ws_upgrade_options *offer,
                                   struct ws_upgrade_result *res);

#endif
