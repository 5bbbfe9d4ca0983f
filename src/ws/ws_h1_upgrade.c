/* ws_h1_upgrade: the RFC 6455 §4 opening handshake over HTTP/1.1.
 *
 * The checks run in a fixed order (method, version, Host, Upgrade,
 * Connection, Sec-WebSocket-Version, key, Origin, subprotocol,
 * extensions) so that one request always yields the same error, and
 * the cheap, unambiguous ones come first.
 */
#include "ws_h1_upgrade.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "ws_error.h"
#include "ws_http.h"

/* RFC 6455 §1.3: appended to the key before hashing. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* Longest key ws_h1_accept hashes.  Valid keys are 24 characters; the
 * bound only keeps the concatenation on the stack. */
#define ACCEPT_KEY_MAX 64

/* Sizes of the base64 forms: 16 bytes -> 24 chars, 20 bytes -> 28. */
#define KEY_RAW_LEN    16
#define KEY_B64_LEN    24
#define ACCEPT_B64_LEN 28
#define SHA1_LEN       20

static bool is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

/* A key is base64 of 16 bytes: 22 alphabet characters and "==".  The
 * alphabet is checked here because EVP_DecodeBlock skips surrounding
 * whitespace and does not report padding; its result then confirms the
 * length (18 bytes for 24 characters, of which the two padding bytes
 * are not data).  Unused low bits of the last character are not
 * required to be zero, as common decoders do not require it either. */
static bool key_valid(const char *k, size_t n)
{
	unsigned char raw[KEY_B64_LEN / 4 * 3];

	if (n != KEY_B64_LEN || k[22] != '=' || k[23] != '=')
		return false;
	for (size_t i = 0; i < 22; i++)
		if (!is_b64(k[i]))
			return false;
	return EVP_DecodeBlock(raw, (const unsigned char *)k, KEY_B64_LEN) == KEY_RAW_LEN + 2;
}

int ws_h1_accept(const char *key, size_t key_len, char out[29])
{
	unsigned char buf[ACCEPT_KEY_MAX + sizeof ws_guid - 1];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;

	if ((key == NULL && key_len > 0) || key_len > ACCEPT_KEY_MAX || out == NULL)
		return WS_ERR_INVALID_ARG;
	if (key_len > 0)
		memcpy(buf, key, key_len);
	memcpy(buf + key_len, ws_guid, sizeof ws_guid - 1);
	if (EVP_Digest(buf, key_len + sizeof ws_guid - 1, md, &md_len, EVP_sha1(), NULL) != 1 ||
	    md_len != SHA1_LEN)
		return WS_ERR_INTERNAL;
	/* EVP_EncodeBlock writes the NUL after the 28 characters. */
	if (EVP_EncodeBlock((unsigned char *)out, md, SHA1_LEN) != ACCEPT_B64_LEN)
		return WS_ERR_INTERNAL;
	return WS_OK;
}

int ws_h1_client_key(char out[25])
{
	unsigned char raw[KEY_RAW_LEN];

	if (out == NULL)
		return WS_ERR_INVALID_ARG;
	if (RAND_bytes(raw, sizeof raw) != 1)
		return WS_ERR_INTERNAL;
	if (EVP_EncodeBlock((unsigned char *)out, raw, sizeof raw) != KEY_B64_LEN)
		return WS_ERR_INTERNAL;
	return WS_OK;
}

/* A field that must appear exactly once: missing -> err_missing,
 * repeated -> WS_ERR_HS_DUPLICATE (two Hosts or two keys let a proxy
 * and the backend disagree about the request). */
static int single(const struct ws_h1_request *req, const char *name, int err_missing,
                  struct ws_span *v)
{
	size_t count = ws_http_find(req->headers, req->n_headers, name, v);

	if (count > 1)
		return WS_ERR_HS_DUPLICATE;
	return count == 0 ? err_missing : WS_OK;
}

int ws_h1_upgrade_validate(const struct ws_h1_request *req, const struct ws_upgrade_options *opts,
                           struct ws_upgrade_result *res)
{
	const struct ws_header *h;
	struct ws_span host, version, key;
	size_t n;
	int rc;

	if (res == NULL)
		return WS_ERR_INVALID_ARG;
	memset(res, 0, sizeof *res);
	if (req == NULL || (req->headers == NULL && req->n_headers > 0))
		return WS_ERR_INVALID_ARG;
	h = req->headers;
	n = req->n_headers;

	/* Methods are case-sensitive (RFC 9110 §9.1). */
	if (req->method == NULL || !ws_http_eq(req->method, req->method_len, "GET"))
		return WS_ERR_HS_METHOD;
	if (req->version_major < 1 || (req->version_major == 1 && req->version_minor < 1))
		return WS_ERR_HS_HTTP_VERSION;
	rc = single(req, "host", WS_ERR_HS_HOST, &host);
	if (rc != WS_OK)
		return rc;
	if (host.n == 0)
		return WS_ERR_HS_HOST;
	if (!ws_http_fields_have(h, n, "upgrade", "websocket"))
		return WS_ERR_HS_UPGRADE;
	if (!ws_http_fields_have(h, n, "connection", "upgrade"))
		return WS_ERR_HS_CONNECTION;
	rc = single(req, "sec-websocket-version", WS_ERR_HS_WS_VERSION, &version);
	if (rc != WS_OK)
		return rc;
	if (!ws_http_eq(version.p, version.n, "13"))
		return WS_ERR_HS_WS_VERSION;
	rc = single(req, "sec-websocket-key", WS_ERR_HS_KEY, &key);
	if (rc != WS_OK)
		return rc;
	if (!key_valid(key.p, key.n))
		return WS_ERR_HS_KEY;
	memcpy(res->key, key.p, KEY_B64_LEN);
	res->key[KEY_B64_LEN] = '\0';
	rc = ws_h1_accept(res->key, KEY_B64_LEN, res->accept);
	if (rc != WS_OK)
		return WS_ERR_INTERNAL;
	res->path = (struct ws_span){req->target, req->target ? req->target_len : 0};
	res->authority = host;

	return ws_http_negotiate(h, n, opts, res);
}

size_t ws_h1_upgrade_response_headers(const struct ws_upgrade_result *res, struct ws_header *out,
                                      size_t max)
{
	size_t n = 0;

	if (res == NULL || out == NULL)
		return 0;
	/* All or nothing: a 101 without its Accept would only fail later,
	 * at the client. */
	if (max < 3 + ws_http_negotiated_count(res))
		return 0;
	ws_http_set_header(&out[n++], "Upgrade", "websocket", 9);
	ws_http_set_header(&out[n++], "Connection", "Upgrade", 7);
	ws_http_set_header(&out[n++], "Sec-WebSocket-Accept", res->accept, strlen(res->accept));
	ws_http_add_negotiated(res, out, &n, "Sec-WebSocket-Protocol", "Sec-WebSocket-Extensions");
	return n;
}

int ws_h1_client_validate_response(int status, const struct ws_header *headers, size_t n,
                                   const char *key, const struct ws_upgrade_options *offer,
                                   struct ws_upgrade_result *res)
{
	struct ws_span accept;
	size_t key_len;
	int rc;

	if (res == NULL)
		return WS_ERR_INVALID_ARG;
	memset(res, 0, sizeof *res);
	if (key == NULL || (headers == NULL && n > 0))
		return WS_ERR_INVALID_ARG;
	key_len = strlen(key);
	if (key_len != KEY_B64_LEN)
		return WS_ERR_INVALID_ARG;
	memcpy(res->key, key, KEY_B64_LEN + 1);
	rc = ws_h1_accept(key, key_len, res->accept);
	if (rc != WS_OK)
		return rc;

	if (status != 101)
		return WS_ERR_HS_STATUS;
	if (!ws_http_fields_have(headers, n, "upgrade", "websocket"))
		return WS_ERR_HS_UPGRADE;
	if (!ws_http_fields_have(headers, n, "connection", "upgrade"))
		return WS_ERR_HS_CONNECTION;
	/* Base64 is case-sensitive: the value must match byte for byte, and
	 * a repeated field is not trusted. */
	if (ws_http_find(headers, n, "sec-websocket-accept", &accept) != 1 ||
	    !ws_http_eq(accept.p, accept.n, res->accept))
		return WS_ERR_HS_ACCEPT;
	return ws_http_client_negotiate(headers, n, offer, res);
}
