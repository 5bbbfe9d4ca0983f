/* ws_http: HTTP field helpers and the negotiation steps shared by the
 * upgrade validators. */
#include "ws_http.h"

#include <string.h>

#include "ws_error.h"

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 9110 §5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

bool ws_http_ieq(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn)
		return false;
	for (size_t i = 0; i < an; i++)
		if (lower(a[i]) != lower(b[i]))
			return false;
	return true;
}

bool ws_http_eq(const char *a, size_t an, const char *b)
{
	size_t bn = strlen(b);

	return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

struct ws_span ws_http_trim(const char *p, size_t n)
{
	struct ws_span s = {p, n};

	if (p == NULL)
		return (struct ws_span){NULL, 0};
	while (s.n > 0 && is_ows(s.p[0])) {
		s.p++;
		s.n--;
	}
	while (s.n > 0 && is_ows(s.p[s.n - 1]))
		s.n--;
	return s;
}

bool ws_http_is_token(const char *p, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_tchar((unsigned char)p[i]))
			return false;
	return true;
}

bool ws_http_list_next(struct ws_span *rest, struct ws_span *elem)
{
	while (rest->n > 0) {
		const char *comma = memchr(rest->p, ',', rest->n);
		size_t len = comma ? (size_t)(comma - rest->p) : rest->n;

		*elem = ws_http_trim(rest->p, len);
		/* Step past the comma too, so the last element leaves n = 0. */
		rest->p += comma ? len + 1 : len;
		rest->n -= comma ? len + 1 : len;
		if (elem->n > 0)
			return true;
	}
	*elem = (struct ws_span){NULL, 0};
	return false;
}

bool ws_http_list_has(const char *v, size_t n, const char *token)
{
	struct ws_span rest = {v, v ? n : 0}, e;
	size_t tn = strlen(token);

	while (ws_http_list_next(&rest, &e))
		if (ws_http_ieq(e.p, e.n, token, tn))
			return true;
	return false;
}

size_t ws_http_find(const struct ws_header *h, size_t n, const char *name, struct ws_span *first)
{
	size_t nn = strlen(name), count = 0;

	*first = (struct ws_span){NULL, 0};
	for (size_t i = 0; i < n; i++) {
		if (h[i].name == NULL || !ws_http_ieq(h[i].name, h[i].name_len, name, nn))
			continue;
		if (count++ == 0)
			*first = ws_http_trim(h[i].value, h[i].value_len);
	}
	return count;
}

bool ws_http_fields_have(const struct ws_header *h, size_t n, const char *name, const char *token)
{
	size_t nn = strlen(name);

	for (size_t i = 0; i < n; i++) {
		if (h[i].name == NULL || !ws_http_ieq(h[i].name, h[i].name_len, name, nn))
			continue;
		if (ws_http_list_has(h[i].value, h[i].value_len, token))
			return true;
	}
	return false;
}

int ws_http_check_origin(const struct ws_header *h, size_t n, const struct ws_upgrade_options *opts,
                         struct ws_upgrade_result *res)
{
	struct ws_span o;
	size_t count = ws_http_find(h, n, "origin", &o);

	/* Two Origins would let the allow-list check one and a backend
	 * trust the other, so a repeat is refused even without a list. */
	if (count > 1)
		return WS_ERR_HS_DUPLICATE;
	if (count == 1)
		res->origin = o;
	if (opts == NULL || opts->n_allowed_origins == 0)
		return WS_OK;
	if (count == 0)
		return WS_ERR_HS_ORIGIN;
	for (size_t i = 0; i < opts->n_allowed_origins; i++) {
		const char *a = opts->allowed_origins[i];

		if (a != NULL && ws_http_ieq(o.p, o.n, a, strlen(a)))
			return WS_OK;
	}
	return WS_ERR_HS_ORIGIN;
}

int ws_http_select_subprotocol(const struct ws_header *h, size_t n,
                               const struct ws_upgrade_options *opts, struct ws_upgrade_result *res)
{
	static const char name[] = "sec-websocket-protocol";

	res->n_offered = 0;
	res->subprotocol = NULL;
	for (size_t i = 0; i < n; i++) {
		struct ws_span rest, e;

		if (h[i].name == NULL ||
		    !ws_http_ieq(h[i].name, h[i].name_len, name, sizeof name - 1))
			continue;
		rest = (struct ws_span){h[i].value, h[i].value ? h[i].value_len : 0};
		while (ws_http_list_next(&rest, &e)) {
			if (!ws_http_is_token(e.p, e.n) || res->n_offered == WS_UPGRADE_MAX_OFFERED)
				return WS_ERR_HS_MALFORMED;
			res->offered[res->n_offered++] = e;
		}
	}
	if (opts != NULL) {
		/* The server's order decides, not the client's: a route lists
		 * the protocol it prefers first. */
		for (size_t s = 0; s < opts->n_subprotocols && res->subprotocol == NULL; s++) {
			const char *want = opts->subprotocols[s];

			for (size_t c = 0; want != NULL && c < res->n_offered; c++) {
				if (ws_http_eq(res->offered[c].p, res->offered[c].n, want)) {
					res->subprotocol = want;
					break;
				}
			}
		}
	}
	if (res->subprotocol == NULL && opts != NULL && opts->require_subprotocol)
		return WS_ERR_HS_SUBPROTOCOL;
	return WS_OK;
}

int ws_http_negotiate_extensions(const struct ws_header *h, size_t n,
                                 const struct ws_upgrade_options *opts,
                                 struct ws_upgrade_result *res)
{
	static const char name[] = "sec-websocket-extensions";
	const char *values[WS_HTTP_MAX_EXT_FIELDS];
	size_t lens[WS_HTTP_MAX_EXT_FIELDS];
	size_t nv = 0;
	int rc;

	res->deflate = false;
	res->extensions[0] = '\0';
	if (opts == NULL || opts->deflate == NULL)
		return WS_OK;
	for (size_t i = 0; i < n; i++) {
		if (h[i].name == NULL ||
		    !ws_http_ieq(h[i].name, h[i].name_len, name, sizeof name - 1))
			continue;
		if (nv == WS_HTTP_MAX_EXT_FIELDS)
			return WS_ERR_HS_MALFORMED;
		values[nv] = h[i].value ? h[i].value : "";
		lens[nv++] = h[i].value ? h[i].value_len : 0;
	}
	if (nv == 0)
		return WS_OK;
	rc = ws_deflate_negotiate(values, lens, nv, opts->deflate, &res->deflate_params,
	                          res->extensions);
	if (rc == WS_ERR_DEFLATE_DECLINED) {
		/* Declining is not an error: the session runs uncompressed. */
		memset(&res->deflate_params, 0, sizeof res->deflate_params);
		res->extensions[0] = '\0';
		return WS_OK;
	}
	if (rc != WS_OK) {
		res->extensions[0] = '\0';
		return rc;
	}
	/* The response buffer is ours only by contract; make sure it ends. */
	res->extensions[WS_DEFLATE_EXT_MAX - 1] = '\0';
	res->deflate = true;
	return WS_OK;
}

int ws_http_client_subprotocol(const struct ws_header *h, size_t n,
                               const struct ws_upgrade_options *offer,
                               struct ws_upgrade_result *res)
{
	struct ws_span v;
	size_t count = ws_http_find(h, n, "sec-websocket-protocol", &v);

	res->subprotocol = NULL;
	if (count == 0)
		return WS_OK;
	/* The server answers with one protocol or none; a list, a repeat or
	 * an empty value is not one we offered. */
	if (count > 1 || offer == NULL)
		return WS_ERR_HS_UNSOLICITED;
	for (size_t i = 0; i < offer->n_subprotocols; i++) {
		const char *p = offer->subprotocols[i];

		if (p != NULL && v.n > 0 && ws_http_eq(v.p, v.n, p)) {
			res->subprotocol = p;
			return WS_OK;
		}
	}
	return WS_ERR_HS_UNSOLICITED;
}

int ws_http_client_extensions(const struct ws_header *h, size_t n,
                              const struct ws_upgrade_options *offer, struct ws_upgrade_result *res)
{
	static const char name[] = "sec-websocket-extensions";
	struct ws_span v = {NULL, 0};
	size_t count = 0;
	int rc;

	res->deflate = false;
	res->extensions[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		struct ws_span t;

		if (h[i].name == NULL ||
		    !ws_http_ieq(h[i].name, h[i].name_len, name, sizeof name - 1))
			continue;
		t = ws_http_trim(h[i].value, h[i].value_len);
		if (t.n == 0)
			continue;
		v = t;
		count++;
	}
	if (count == 0)
		return WS_OK;
	/* We offer at most one extension, so a second field can only name
	 * something we never asked for. */
	if (count > 1 || offer == NULL || offer->deflate == NULL)
		return WS_ERR_HS_UNSOLICITED;
	rc = ws_deflate_accept_response(v.p, v.n, offer->deflate, &res->deflate_params);
	if (rc != WS_OK)
		return rc;
	if (v.n >= WS_DEFLATE_EXT_MAX)
		return WS_ERR_DEFLATE_PARAMS;
	memcpy(res->extensions, v.p, v.n);
	res->extensions[v.n] = '\0';
	res->deflate = true;
	return WS_OK;
}

int ws_http_client_negotiate(const struct ws_header *h, size_t n,
                             const struct ws_upgrade_options *offer, struct ws_upgrade_result *res)
{
	int rc = ws_http_client_subprotocol(h, n, offer, res);

	if (rc != WS_OK)
		return rc;
	return ws_http_client_extensions(h, n, offer, res);
}

int ws_http_negotiate(const struct ws_header *h, size_t n, const struct ws_upgrade_options *opts,
                      struct ws_upgrade_result *res)
{
	int rc = ws_http_check_origin(h, n, opts, res);

	if (rc != WS_OK)
		return rc;
	rc = ws_http_select_subprotocol(h, n, opts, res);
	if (rc != WS_OK)
		return rc;
	return ws_http_negotiate_extensions(h, n, opts, res);
}

void ws_http_set_header(struct ws_header *o, const char *name, const char *value, size_t value_len)
{
	o->name = name;
	o->name_len = strlen(name);
	o->value = value;
	o->value_len = value_len;
}

size_t ws_http_negotiated_count(const struct ws_upgrade_result *res)
{
	return (size_t)(res->subprotocol != NULL) +
	       (size_t)(res->deflate && res->extensions[0] != '\0');
}

void ws_http_add_negotiated(const struct ws_upgrade_result *res, struct ws_header *out, size_t *n,
                            const char *proto_name, const char *ext_name)
{
	if (res->subprotocol != NULL)
		ws_http_set_header(&out[(*n)++], proto_name, res->subprotocol,
		                   strlen(res->subprotocol));
	if (res->deflate && res->extensions[0] != '\0')
		ws_http_set_header(&out[(*n)++], ext_name, res->extensions,
		                   strlen(res->extensions));
}
