/* ws_h2_upgrade: WebSocket over HTTP/2 extended CONNECT (RFC 8441).
 *
 * The embedder's HTTP/2 stack must advertise
 * SETTINGS_ENABLE_CONNECT_PROTOCOL = 1.  A stream's header list
 * (pseudo-headers included) is validated here; the 200 response carries
 * the chosen subprotocol and extensions.  No key or accept is involved.
 */
#ifndef WS_H2_UPGRADE_H
#define WS_H2_UPGRADE_H

#include "ws_upgrade.h"

/* Validate an extended CONNECT: :method CONNECT, :protocol websocket,
 * :scheme, :path and :authority present and non-empty (each once; an
 * unknown pseudo-header or one after a regular field is
 * WS_ERR_HS_PSEUDO), sec-websocket-version 13 (once); then origin,
 * subprotocol and deflate as for HTTP/1.1, in that order.  res is
 * cleared first; opts may be NULL.  Returns WS_OK or WS_ERR_HS_METHOD,
 * WS_ERR_HS_NO_PROTOCOL (plain CONNECT), WS_ERR_HS_PROTOCOL (another
 * :protocol: 501), WS_ERR_HS_PSEUDO, WS_ERR_HS_HOST,
 * WS_ERR_HS_WS_VERSION, WS_ERR_HS_DUPLICATE, WS_ERR_HS_ORIGIN,
 * WS_ERR_HS_SUBPROTOCOL, WS_ERR_HS_MALFORMED, WS_ERR_INVALID_ARG. */
int ws_h2_upgrade_validate(const struct ws_header *headers, size_t n,
                           const struct ws_upgrade_options *opts, struct ws_upgrade_result *res);

/* Response headers (":status" "200", and sec-websocket-protocol /
 * sec-websocket-extensions when chosen, lower-case names) into
 * out[max]; returns how many (at most 3), or 0 when max cannot hold
 * them all. */
size_t ws_h2_upgrade_response_headers(const struct ws_upgrade_result *res, struct ws_header *out,
                                      size_t max);

/* Client: the request header list for an extended CONNECT to
 * scheme://authority/path with the offer in opts (may be NULL).  The
 * offered subprotocols are joined as "a, b" into proto_buf (needed when
 * opts has subprotocols) and ext_buf receives the extension offer (needed
 * when opts->deflate is set); the list points into both.  Returns how
 * many headers were written (6, plus one each for subprotocols and
 * extensions: at most 8), or 0 when max or proto_buf is too small, a
 * string is empty, or a subprotocol is not a token. */
size_t ws_h2_client_request(struct ws_header *out, size_t max, const char *scheme,
                            const char *authority, const char *path,
                            const struct ws_upgrade_options *opts, char ext_buf[WS_DEFLATE_EXT_MAX],
                            char *proto_buf, size_t proto_buf_len);

/* Client: check a response (":status" among the headers, exactly once;
 * any 2xx is success per RFC 8441 §5) against the offer (may be NULL).
 * Returns WS_OK, WS_ERR_HS_STATUS, WS_ERR_HS_UNSOLICITED,
 * WS_ERR_DEFLATE_PARAMS or WS_ERR_INVALID_ARG. */
int ws_h2_client_validate_response(const struct ws_header *headers, size_t n,
                                   const struct ws_upgrade_options *offer,
                                   struct ws_upgrade_result *res);

#endif
