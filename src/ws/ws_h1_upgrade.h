/* ws_h1_upgrade: the RFC 6455 §4 opening handshake over HTTP/1.1.
 *
 * Server: ws_h1_upgrade_validate checks a parsed request head and fills
 * a ws_upgrade_result; ws_h1_upgrade_response_headers gives the header
 * lines of the 101 response.  Client: ws_h1_client_key makes a key and
 * ws_h1_client_validate_response checks the server's answer.
 */
#ifndef WS_H1_UPGRADE_H
#define WS_H1_UPGRADE_H

#include "ws_upgrade.h"

/* A parsed HTTP/1.1 request head (the embedder's parser fills it). */
struct ws_h1_request {
	const char *method;
	size_t method_len;
	const char *target;
	size_t target_len;
	int version_major; /* 1 for HTTP/1.1 */
	int version_minor; /* 1 for HTTP/1.1 */
	const struct ws_header *headers;
	size_t n_headers;
};

/* Validate a WebSocket upgrade request: method GET, HTTP/1.1 or later,
 * Host present, Upgrade contains the websocket token and Connection the
 * upgrade token (case-insensitive token lists), Sec-WebSocket-Version
 * exactly 13, Sec-WebSocket-Key base64 of 16 bytes, and each of Host,
 * Sec-WebSocket-Key and Sec-WebSocket-Version present once.  Then the
 * Origin allow-list (a repeated Origin is WS_ERR_HS_DUPLICATE), the
 * subprotocol (server's order of preference, exact comparison) and
 * permessage-deflate (a declined offer is not an error).  The checks run
 * in that order, so one request always gives the same error.  res is
 * cleared first; opts may be NULL (no subprotocols, origins, deflate).
 * Returns WS_OK or WS_ERR_HS_METHOD, WS_ERR_HS_HTTP_VERSION,
 * WS_ERR_HS_HOST, WS_ERR_HS_UPGRADE, WS_ERR_HS_CONNECTION,
 * WS_ERR_HS_WS_VERSION, WS_ERR_HS_KEY, WS_ERR_HS_DUPLICATE,
 * WS_ERR_HS_ORIGIN, WS_ERR_HS_SUBPROTOCOL, WS_ERR_HS_MALFORMED,
 * WS_ERR_INTERNAL, or WS_ERR_INVALID_ARG for NULL req/res. */
int ws_h1_upgrade_validate(const struct ws_h1_request *req, const struct ws_upgrade_options *opts,
                           struct ws_upgrade_result *res);

/* Headers of the 101 response (Upgrade, Connection, Sec-WebSocket-Accept,
 * and Sec-WebSocket-Protocol / -Extensions when chosen) into out[max];
 * returns how many were written (at most 5), or 0 when max cannot hold
 * them all (a partial 101 is never useful).  They point into res. */
size_t ws_h1_upgrade_response_headers(const struct ws_upgrade_result *res, struct ws_header *out,
                                      size_t max);

/* Accept value for a key: base64(SHA-1(key + GUID)) into out (28 chars
 * + NUL).  Returns WS_OK, WS_ERR_INTERNAL, or WS_ERR_INVALID_ARG for a
 * key longer than 64 bytes (valid keys have 24). */
int ws_h1_accept(const char *key, size_t key_len, char out[29]);

/* A fresh client key (base64 of 16 random bytes, 24 chars + NUL) from
 * the strong RNG.  Returns WS_OK or WS_ERR_INTERNAL. */
int ws_h1_client_key(char out[25]);

/* Client: check a response status and headers against the key sent
 * (the 24-character string from ws_h1_client_key) and what was offered
 * (offer may be NULL); fills res (key, accept, subprotocol, deflate).
 * Returns WS_OK, WS_ERR_HS_STATUS, WS_ERR_HS_UPGRADE,
 * WS_ERR_HS_CONNECTION, WS_ERR_HS_ACCEPT (missing, repeated or wrong),
 * WS_ERR_HS_UNSOLICITED, WS_ERR_DEFLATE_PARAMS, or WS_ERR_INVALID_ARG. */
int ws_h1_client_validate_response(int status, const struct ws_header *headers, size_t n,
                                   const char *key, const struct ws_upgrade_options *offer,
                                   struct ws_upgrade_result *res);

#endif
