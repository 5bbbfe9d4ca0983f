/* ws_h2_upgrade: WebSocket over HTTP/2 extended CONNECT (RFC 8441).
 *
 * Pseudo-header values are compared as they are: HTTP/2 forbids
 * surrounding whitespace in field values, and the HTTP/2 stack (nghttp2)
 * already refuses such requests, so nothing is trimmed from them.
 * Regular fields go through the same helpers as HTTP/1.1.
 */
#include "ws_h2_upgrade.h"

#include <string.h>

#include "ws_error.h"
#include "ws_http.h"

/* Request pseudo-headers of an extended CONNECT (RFC 9113 §8.3.1 plus
 * RFC 8441 :protocol); any other name starting with ':' is refused. */
static const char *const request_pseudo[] = {":method", ":scheme", ":authority", ":path",
                                             ":protocol"};

/* The raw value of the pseudo-header name and how often it appears. */
static size_t find_pseudo(const struct ws_header *h, size_t n, const char *name, struct ws_span *v)
{
	size_t nn = strlen(name), count = 0;

	*v = (struct ws_span){NULL, 0};
	for (size_t i = 0; i < n; i++) {
		if (h[i].name == NULL || !ws_http_ieq(h[i].name, h[i].name_len, name, nn))
			continue;
		if (count++ == 0)
			*v = (struct ws_span){h[i].value, h[i].value ? h[i].value_len : 0};
	}
	return count;
}

/* Pseudo-headers must be known and come before every regular field
 * (RFC 9113 §8.3); a request that breaks this is malformed. */
static bool pseudo_layout_ok(const struct ws_header *h, size_t n)
{
	bool regular_seen = false;

	for (size_t i = 0; i < n; i++) {
		bool known = false;

		if (h[i].name == NULL || h[i].name_len == 0 || h[i].name[0] != ':') {
			regular_seen = true;
			continue;
		}
		if (regular_seen)
			return false;
		for (size_t k = 0; k < sizeof request_pseudo / sizeof request_pseudo[0]; k++)
			if (ws_http_ieq(h[i].name, h[i].name_len, request_pseudo[k],
			                strlen(request_pseudo[k])))
				known = true;
		if (!known)
			return false;
	}
	return true;
}

int ws_h2_upgrade_validate(const struct ws_header *headers, size_t n,
                           const struct ws_upgrade_options *opts, struct ws_upgrade_result *res)
{
	struct ws_span method, protocol, scheme, path, authority, version;
	size_t count;

	if (res == NULL)
		return WS_ERR_INVALID_ARG;
	memset(res, 0, sizeof *res);
	if (headers == NULL && n > 0)
		return WS_ERR_INVALID_ARG;

	count = find_pseudo(headers, n, ":method", &method);
	if (count > 1)
		return WS_ERR_HS_DUPLICATE;
	if (count == 0 || !ws_http_eq(method.p, method.n, "CONNECT"))
		return WS_ERR_HS_METHOD;
	count = find_pseudo(headers, n, ":protocol", &protocol);
	if (count > 1)
		return WS_ERR_HS_DUPLICATE;
	/* Without :protocol this is a classic CONNECT (a tunnel request),
	 * not a WebSocket; another protocol is one we do not implement. */
	if (count == 0)
		return WS_ERR_HS_NO_PROTOCOL;
	if (!ws_http_ieq(protocol.p, protocol.n, "websocket", 9))
		return WS_ERR_HS_PROTOCOL;
	count = find_pseudo(headers, n, ":scheme", &scheme);
	if (count > 1)
		return WS_ERR_HS_DUPLICATE;
	if (count == 0 || scheme.n == 0)
		return WS_ERR_HS_PSEUDO;
	count = find_pseudo(headers, n, ":path", &path);
	if (count > 1)
		return WS_ERR_HS_DUPLICATE;
	if (count == 0 || path.n == 0)
		return WS_ERR_HS_PSEUDO;
	count = find_pseudo(headers, n, ":authority", &authority);
	if (count > 1)
		return WS_ERR_HS_DUPLICATE;
	if (count == 0 || authority.n == 0)
		return WS_ERR_HS_HOST;
	if (!pseudo_layout_ok(headers, n))
		return WS_ERR_HS_PSEUDO;
	count = ws_http_find(headers, n, "sec-websocket-version", &version);
	if (count > 1)
		return WS_ERR_HS_DUPLICATE;
	if (count == 0 || !ws_http_eq(version.p, version.n, "13"))
		return WS_ERR_HS_WS_VERSION;
	res->path = path;
	res->authority = authority;

	return ws_http_negotiate(headers, n, opts, res);
}

size_t ws_h2_upgrade_response_headers(const struct ws_upgrade_result *res, struct ws_header *out,
                                      size_t max)
{
	size_t n = 0;

	if (res == NULL || out == NULL)
		return 0;
	/* All or nothing, as for HTTP/1.1: a 200 that silently drops the
	 * chosen subprotocol would confuse the client. */
	if (max < 1 + ws_http_negotiated_count(res))
		return 0;
	ws_http_set_header(&out[n++], ":status", "200", 3);
	ws_http_add_negotiated(res, out, &n, "sec-websocket-protocol", "sec-websocket-extensions");
	return n;
}

/* Join the offered subprotocols as "a, b, c" into buf[len].  Returns
 * the length, or 0 when an entry is not a token (it would change the
 * list's meaning) or the text does not fit with its NUL. */
static size_t join_protocols(const struct ws_upgrade_options *opts, char *buf, size_t len)
{
	size_t used = 0;

	for (size_t i = 0; i < opts->n_subprotocols; i++) {
		const char *p = opts->subprotocols[i];
		size_t pn = p ? strlen(p) : 0;
		size_t sep = i > 0 ? 2 : 0;

		if (!ws_http_is_token(p, pn) || len - used <= sep + pn)
			return 0;
		memcpy(buf + used, ", ", sep);
		memcpy(buf + used + sep, p, pn);
		used += sep + pn;
	}
	buf[used] = '\0';
	return used;
}

size_t ws_h2_client_request(struct ws_header *out, size_t max, const char *scheme,
                            const char *authority, const char *path,
                            const struct ws_upgrade_options *opts, char ext_buf[WS_DEFLATE_EXT_MAX],
                            char *proto_buf, size_t proto_buf_len)
{
	bool with_proto = opts != NULL && opts->n_subprotocols > 0;
	bool with_ext = opts != NULL && opts->deflate != NULL;
	size_t n = 0, proto_len = 0, ext_len = 0;

	if (out == NULL || scheme == NULL || authority == NULL || path == NULL)
		return 0;
	if (*scheme == '\0' || *authority == '\0' || *path == '\0')
		return 0;
	if (max < 6 + (size_t)with_proto + (size_t)with_ext)
		return 0;
	if (with_proto) {
		if (proto_buf == NULL || proto_buf_len == 0 || opts->subprotocols == NULL)
			return 0;
		proto_len = join_protocols(opts, proto_buf, proto_buf_len);
		if (proto_len == 0)
			return 0;
	}
	if (with_ext) {
		if (ext_buf == NULL)
			return 0;
		ext_len = ws_deflate_offer(opts->deflate, ext_buf);
		if (ext_len == 0 || ext_len >= WS_DEFLATE_EXT_MAX)
			return 0;
	}
	ws_http_set_header(&out[n++], ":method", "CONNECT", 7);
	ws_http_set_header(&out[n++], ":protocol", "websocket", 9);
	ws_http_set_header(&out[n++], ":scheme", scheme, strlen(scheme));
	ws_http_set_header(&out[n++], ":authority", authority, strlen(authority));
	ws_http_set_header(&out[n++], ":path", path, strlen(path));
	ws_http_set_header(&out[n++], "sec-websocket-version", "13", 2);
	if (with_proto)
		ws_http_set_header(&out[n++], "sec-websocket-protocol", proto_buf, proto_len);
	if (with_ext)
		ws_http_set_header(&out[n++], "sec-websocket-extensions", ext_buf, ext_len);
	return n;
}

int ws_h2_client_validate_response(const struct ws_header *headers, size_t n,
                                   const struct ws_upgrade_options *offer,
                                   struct ws_upgrade_result *res)
{
	struct ws_span st;

	if (res == NULL)
		return WS_ERR_INVALID_ARG;
	memset(res, 0, sizeof *res);
	if (headers == NULL && n > 0)
		return WS_ERR_INVALID_ARG;
	/* RFC 8441 §5: any 2xx opens the tunnel. */
	if (find_pseudo(headers, n, ":status", &st) != 1 || st.n != 3 || st.p[0] != '2' ||
	    st.p[1] < '0' || st.p[1] > '9' || st.p[2] < '0' || st.p[2] > '9')
		return WS_ERR_HS_STATUS;
	return ws_http_client_negotiate(headers, n, offer, res);
}
