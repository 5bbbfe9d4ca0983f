/* Unit tests of ws_h2_upgrade (RFC 8441) and ws_h3_upgrade (RFC 9220). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ws_error.h"
#include "ws_h2_upgrade.h"
#include "ws_h3_upgrade.h"

/* A header list under construction: entries point at literals. */
struct fx {
	struct ws_header h[48]; /* the header list */
	size_t n;               /* entries used */
	struct ws_upgrade_result res;
};

static void add(struct fx *f, const char *name, const char *value)
{
	ck_assert_uint_lt(f->n, sizeof f->h / sizeof f->h[0]);
	f->h[f->n++] = (struct ws_header){name, strlen(name), value, strlen(value)};
}

/* Index of the first field called name, or -1. */
static int idx(const struct fx *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (f->h[i].name_len == strlen(name) &&
		    memcmp(f->h[i].name, name, f->h[i].name_len) == 0)
			return (int)i;
	return -1;
}

/* Remove the first field called name, keeping the order of the rest. */
static void del(struct fx *f, const char *name)
{
	int i = idx(f, name);

	ck_assert_int_ge(i, 0);
	memmove(&f->h[i], &f->h[i + 1], (f->n - (size_t)i - 1) * sizeof f->h[0]);
	f->n--;
}

/* Change the value of the first field called name, in place. */
static void chg(struct fx *f, const char *name, const char *value)
{
	int i = idx(f, name);

	ck_assert_int_ge(i, 0);
	f->h[i].value = value;
	f->h[i].value_len = strlen(value);
}

/* Put a field at position pos (pseudo-headers must stay in front). */
static void insert(struct fx *f, size_t pos, const char *name, const char *value)
{
	ck_assert_uint_lt(f->n, sizeof f->h / sizeof f->h[0]);
	memmove(&f->h[pos + 1], &f->h[pos], (f->n - pos) * sizeof f->h[0]);
	f->h[pos] = (struct ws_header){name, strlen(name), value, strlen(value)};
	f->n++;
}

/* The RFC 8441 §5.1 example request. */
static void base(struct fx *f)
{
	memset(f, 0, sizeof *f);
	add(f, ":method", "CONNECT");
	add(f, ":protocol", "websocket");
	add(f, ":scheme", "https");
	add(f, ":path", "/chat");
	add(f, ":authority", "server.example.com");
	add(f, "sec-websocket-version", "13");
}

static int run(struct fx *f, const struct ws_upgrade_options *o)
{
	return ws_h2_upgrade_validate(f->h, f->n, o, &f->res);
}

static bool span_is(struct ws_span s, const char *want)
{
	return s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

static bool hdr_is(const struct ws_header *h, const char *name, const char *value)
{
	return h->name_len == strlen(name) && memcmp(h->name, name, h->name_len) == 0 &&
	       h->value_len == strlen(value) && memcmp(h->value, value, h->value_len) == 0;
}

START_TEST(test_valid)
{
	struct fx f;

	base(&f);
	add(&f, "origin", "http://www.example.com");
	add(&f, "sec-websocket-protocol", "chat, superchat");
	ck_assert_int_eq(run(&f, NULL), WS_OK);
	ck_assert(span_is(f.res.path, "/chat"));
	ck_assert(span_is(f.res.authority, "server.example.com"));
	ck_assert(span_is(f.res.origin, "http://www.example.com"));
	ck_assert_uint_eq(f.res.n_offered, 2);
	ck_assert_ptr_null(f.res.subprotocol);
	ck_assert(!f.res.deflate);
	/* No key in HTTP/2: nothing is computed. */
	ck_assert_str_eq(f.res.key, "");
	ck_assert_str_eq(f.res.accept, "");
}
END_TEST

START_TEST(test_err_method)
{
	struct fx f;

	base(&f);
	chg(&f, ":method", "GET");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_METHOD);
	chg(&f, ":method", "connect");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_METHOD);
	del(&f, ":method");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_METHOD);
	ck_assert_int_eq(ws_error_http_status(WS_ERR_HS_METHOD), 400);
}
END_TEST

START_TEST(test_err_no_protocol)
{
	struct fx f;

	base(&f);
	del(&f, ":protocol");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_NO_PROTOCOL);
	ck_assert_int_eq(ws_error_http_status(WS_ERR_HS_NO_PROTOCOL), 400);
}
END_TEST

START_TEST(test_err_protocol)
{
	struct fx f;
	static const char *const bad[] = {"h2c", "websockets", "", "connect-udp", "web socket"};

	base(&f);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		chg(&f, ":protocol", bad[i]);
		ck_assert_msg(run(&f, NULL) == WS_ERR_HS_PROTOCOL, ":protocol '%s'", bad[i]);
	}
	ck_assert_int_eq(ws_error_http_status(WS_ERR_HS_PROTOCOL), 501);
	chg(&f, ":protocol", "WebSocket"); /* an upgrade token: any case */
	ck_assert_int_eq(run(&f, NULL), WS_OK);
}
END_TEST

START_TEST(test_err_pseudo)
{
	struct fx f;

	base(&f);
	del(&f, ":scheme");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_PSEUDO);
	base(&f);
	chg(&f, ":scheme", "");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_PSEUDO);
	base(&f);
	del(&f, ":path");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_PSEUDO);
	base(&f);
	chg(&f, ":path", "");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_PSEUDO);
	/* Unknown pseudo-header, a response one, and one after a field. */
	base(&f);
	insert(&f, 0, ":foo", "bar");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_PSEUDO);
	base(&f);
	insert(&f, 0, ":status", "200");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_PSEUDO);
	base(&f);
	del(&f, ":path");
	add(&f, ":path", "/chat");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_PSEUDO);
	ck_assert_int_eq(ws_error_http_status(WS_ERR_HS_PSEUDO), 400);
}
END_TEST

START_TEST(test_err_host)
{
	struct fx f;

	base(&f);
	del(&f, ":authority");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_HOST);
	/* A host field does not stand in for :authority. */
	add(&f, "host", "server.example.com");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_HOST);
	base(&f);
	chg(&f, ":authority", "");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_HOST);
	ck_assert_int_eq(ws_error_http_status(WS_ERR_HS_HOST), 400);
}
END_TEST

START_TEST(test_err_duplicate)
{
	struct fx f;
	static const char *const pseudo[] = {":method", ":protocol", ":scheme", ":path",
	                                     ":authority"};
	static const char *const value[] = {"CONNECT", "websocket", "https", "/chat",
	                                    "server.example.com"};

	/* Each pseudo-header twice, even with the same value. */
	for (size_t i = 0; i < 5; i++) {
		base(&f);
		insert(&f, 0, pseudo[i], value[i]);
		ck_assert_msg(run(&f, NULL) == WS_ERR_HS_DUPLICATE, "%s twice", pseudo[i]);
	}
	base(&f);
	add(&f, "sec-websocket-version", "13");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_DUPLICATE);
	base(&f);
	add(&f, "origin", "https://a.example");
	add(&f, "origin", "https://b.example");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_DUPLICATE);
	ck_assert_int_eq(ws_error_http_status(WS_ERR_HS_DUPLICATE), 400);
}
END_TEST

START_TEST(test_err_ws_version)
{
	struct fx f;

	base(&f);
	chg(&f, "sec-websocket-version", "8");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_WS_VERSION);
	chg(&f, "sec-websocket-version", "13, 8");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_WS_VERSION);
	del(&f, "sec-websocket-version");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_WS_VERSION);
	ck_assert_int_eq(ws_error_http_status(WS_ERR_HS_WS_VERSION), 426);
}
END_TEST

START_TEST(test_err_origin)
{
	struct fx f;
	static const char *const allowed[] = {"https://example.com"};
	struct ws_upgrade_options o = {.allowed_origins = allowed, .n_allowed_origins = 1};

	base(&f);
	ck_assert_int_eq(run(&f, &o), WS_ERR_HS_ORIGIN);
	add(&f, "origin", "https://other.example");
	ck_assert_int_eq(run(&f, &o), WS_ERR_HS_ORIGIN);
	ck_assert_int_eq(ws_error_http_status(WS_ERR_HS_ORIGIN), 403);
	chg(&f, "origin", "https://EXAMPLE.com");
	ck_assert_int_eq(run(&f, &o), WS_OK);
}
END_TEST

START_TEST(test_err_subprotocol_and_malformed)
{
	struct fx f;
	static const char *const pref[] = {"a", "b"};
	struct ws_upgrade_options o = {
	    .subprotocols = pref, .n_subprotocols = 2, .require_subprotocol = true};

	base(&f);
	add(&f, "sec-websocket-protocol", "c");
	ck_assert_int_eq(run(&f, &o), WS_ERR_HS_SUBPROTOCOL);
	ck_assert_int_eq(ws_error_http_status(WS_ERR_HS_SUBPROTOCOL), 400);
	add(&f, "sec-websocket-protocol", "b, a");
	ck_assert_int_eq(run(&f, &o), WS_OK);
	ck_assert_ptr_eq(f.res.subprotocol, pref[0]);
	ck_assert_uint_eq(f.res.n_offered, 3);
	chg(&f, "sec-websocket-protocol", "c d");
	ck_assert_int_eq(run(&f, &o), WS_ERR_HS_MALFORMED);
	ck_assert_int_eq(ws_error_http_status(WS_ERR_HS_MALFORMED), 400);
}
END_TEST

START_TEST(test_check_order)
{
	struct fx f;

	memset(&f, 0, sizeof f);
	add(&f, ":method", "GET");
	add(&f, ":protocol", "h2c");
	add(&f, ":scheme", "");
	add(&f, ":authority", "");
	add(&f, ":bogus", "x");
	add(&f, "sec-websocket-version", "12");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_METHOD);
	chg(&f, ":method", "CONNECT");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_PROTOCOL);
	chg(&f, ":protocol", "websocket");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_PSEUDO); /* :scheme empty */
	chg(&f, ":scheme", "https");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_PSEUDO); /* :path missing */
	insert(&f, 0, ":path", "/");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_HOST);
	chg(&f, ":authority", "h");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_PSEUDO); /* :bogus */
	del(&f, ":bogus");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_WS_VERSION);
	chg(&f, "sec-websocket-version", "13");
	ck_assert_int_eq(run(&f, NULL), WS_OK);
	ck_assert(span_is(f.res.path, "/"));
}
END_TEST

START_TEST(test_response_headers)
{
	struct fx f;
	struct ws_header out[3];
	static const char *const pref[] = {"chat"};
	struct ws_upgrade_options o = {.subprotocols = pref, .n_subprotocols = 1};

	base(&f);
	ck_assert_int_eq(run(&f, &o), WS_OK);
	ck_assert_uint_eq(ws_h2_upgrade_response_headers(&f.res, out, 3), 1);
	ck_assert(hdr_is(&out[0], ":status", "200"));
	add(&f, "sec-websocket-protocol", "chat");
	ck_assert_int_eq(run(&f, &o), WS_OK);
	ck_assert_uint_eq(ws_h2_upgrade_response_headers(&f.res, out, 3), 2);
	ck_assert(hdr_is(&out[1], "sec-websocket-protocol", "chat"));
	f.res.deflate = true;
	strcpy(f.res.extensions, "permessage-deflate");
	ck_assert_uint_eq(ws_h2_upgrade_response_headers(&f.res, out, 3), 3);
	ck_assert(hdr_is(&out[2], "sec-websocket-extensions", "permessage-deflate"));
	ck_assert_uint_eq(ws_h2_upgrade_response_headers(&f.res, out, 2), 0);
}
END_TEST

START_TEST(test_client_request_round_trip)
{
	struct ws_header req[8], resp[3];
	char ext[WS_DEFLATE_EXT_MAX], protos[64];
	size_t n, rn;
	struct ws_upgrade_result sres, cres;
	struct ws_deflate_config cfg;
	static const char *const cli[] = {"v1", "v2"};
	static const char *const srv[] = {"v2", "v1"};
	struct ws_upgrade_options co = {.subprotocols = cli, .n_subprotocols = 2, .deflate = &cfg};
	struct ws_upgrade_options so = {.subprotocols = srv, .n_subprotocols = 2, .deflate = &cfg};

	ws_deflate_config_default(&cfg);
	n = ws_h2_client_request(req, 8, "https", "example.com:8443", "/ws?x=1", &co, ext, protos,
	                         sizeof protos);
	ck_assert_uint_eq(n, 8);
	ck_assert(hdr_is(&req[0], ":method", "CONNECT"));
	ck_assert(hdr_is(&req[1], ":protocol", "websocket"));
	ck_assert(hdr_is(&req[2], ":scheme", "https"));
	ck_assert(hdr_is(&req[3], ":authority", "example.com:8443"));
	ck_assert(hdr_is(&req[4], ":path", "/ws?x=1"));
	ck_assert(hdr_is(&req[5], "sec-websocket-version", "13"));
	ck_assert(hdr_is(&req[6], "sec-websocket-protocol", "v1, v2"));
	ck_assert_ptr_eq(req[7].value, ext);
	ck_assert_int_eq(strncmp(ext, "permessage-deflate", 18), 0);

	ck_assert_int_eq(ws_h2_upgrade_validate(req, n, &so, &sres), WS_OK);
	ck_assert(span_is(sres.path, "/ws?x=1"));
	ck_assert(span_is(sres.authority, "example.com:8443"));
	ck_assert_ptr_eq(sres.subprotocol, srv[0]);
	ck_assert(sres.deflate);
	rn = ws_h2_upgrade_response_headers(&sres, resp, 3);
	ck_assert_uint_eq(rn, 3);
	ck_assert_int_eq(ws_h2_client_validate_response(resp, rn, &co, &cres), WS_OK);
	ck_assert_ptr_eq(cres.subprotocol, cli[1]);
	ck_assert(cres.deflate);
	ck_assert_str_eq(cres.extensions, sres.extensions);

	/* The minimal request: six fields. */
	n = ws_h2_client_request(req, 8, "http", "h", "/", NULL, NULL, NULL, 0);
	ck_assert_uint_eq(n, 6);
	ck_assert_int_eq(ws_h2_upgrade_validate(req, n, NULL, &sres), WS_OK);
}
END_TEST

START_TEST(test_client_request_limits)
{
	struct ws_header req[8];
	char ext[WS_DEFLATE_EXT_MAX], protos[8];
	static const char *const cli[] = {"v1", "v2"};
	static const char *const bad[] = {"v1", "a b"};
	struct ws_upgrade_options co = {.subprotocols = cli, .n_subprotocols = 2};
	struct ws_upgrade_options cb = {.subprotocols = bad, .n_subprotocols = 2};

	/* "v1, v2" is 6 bytes + NUL: 7 fits, 6 does not. */
	ck_assert_uint_eq(ws_h2_client_request(req, 8, "https", "h", "/", &co, ext, protos, 7), 7);
	ck_assert_uint_eq(ws_h2_client_request(req, 8, "https", "h", "/", &co, ext, protos, 6), 0);
	ck_assert_uint_eq(ws_h2_client_request(req, 6, "https", "h", "/", &co, ext, protos, 8), 0);
	ck_assert_uint_eq(ws_h2_client_request(req, 8, "https", "h", "/", &co, ext, NULL, 8), 0);
	ck_assert_uint_eq(ws_h2_client_request(req, 8, "https", "h", "/", &cb, ext, protos, 8), 0);
	ck_assert_uint_eq(ws_h2_client_request(req, 8, "https", "", "/", NULL, ext, protos, 8), 0);
	ck_assert_uint_eq(ws_h2_client_request(req, 8, NULL, "h", "/", NULL, ext, protos, 8), 0);
}
END_TEST

START_TEST(test_client_response)
{
	struct fx r;
	struct ws_upgrade_result res;
	static const char *const cli[] = {"chat"};
	struct ws_upgrade_options co = {.subprotocols = cli, .n_subprotocols = 1};
	static const char *const bad_status[] = {"101", "400", "501", "2000", "20", "2x0", ""};

	memset(&r, 0, sizeof r);
	add(&r, ":status", "200");
	ck_assert_int_eq(ws_h2_client_validate_response(r.h, r.n, &co, &res), WS_OK);
	ck_assert_ptr_null(res.subprotocol);
	chg(&r, ":status", "204"); /* RFC 8441: any 2xx */
	ck_assert_int_eq(ws_h2_client_validate_response(r.h, r.n, &co, &res), WS_OK);
	for (size_t i = 0; i < sizeof bad_status / sizeof bad_status[0]; i++) {
		chg(&r, ":status", bad_status[i]);
		ck_assert_msg(ws_h2_client_validate_response(r.h, r.n, &co, &res) ==
		                  WS_ERR_HS_STATUS,
		              ":status '%s'", bad_status[i]);
	}
	chg(&r, ":status", "200");
	add(&r, ":status", "200");
	ck_assert_int_eq(ws_h2_client_validate_response(r.h, r.n, &co, &res), WS_ERR_HS_STATUS);
	ck_assert_int_eq(ws_h2_client_validate_response(NULL, 0, &co, &res), WS_ERR_HS_STATUS);

	memset(&r, 0, sizeof r);
	add(&r, ":status", "200");
	add(&r, "sec-websocket-protocol", "chat");
	ck_assert_int_eq(ws_h2_client_validate_response(r.h, r.n, &co, &res), WS_OK);
	ck_assert_ptr_eq(res.subprotocol, cli[0]);
	chg(&r, "sec-websocket-protocol", "other");
	ck_assert_int_eq(ws_h2_client_validate_response(r.h, r.n, &co, &res),
	                 WS_ERR_HS_UNSOLICITED);
	chg(&r, "sec-websocket-protocol", "chat");
	ck_assert_int_eq(ws_h2_client_validate_response(r.h, r.n, NULL, &res),
	                 WS_ERR_HS_UNSOLICITED);

	memset(&r, 0, sizeof r);
	add(&r, ":status", "200");
	add(&r, "sec-websocket-extensions", "permessage-deflate");
	ck_assert_int_eq(ws_h2_client_validate_response(r.h, r.n, &co, &res),
	                 WS_ERR_HS_UNSOLICITED);
}
END_TEST

/* HTTP/3 gives exactly what HTTP/2 gives, error or success. */
START_TEST(test_h3_delegates)
{
	struct fx f;
	struct ws_upgrade_result r3;
	struct ws_header o2[3], o3[3], q2[8], q3[8];
	char e2[WS_DEFLATE_EXT_MAX], e3[WS_DEFLATE_EXT_MAX], p2[32], p3[32];
	static const char *const pref[] = {"chat"};
	struct ws_upgrade_options o = {.subprotocols = pref, .n_subprotocols = 1};
	size_t n2, n3;

	base(&f);
	add(&f, "sec-websocket-protocol", "chat");
	ck_assert_int_eq(ws_h3_upgrade_validate(f.h, f.n, &o, &r3), WS_OK);
	ck_assert_int_eq(run(&f, &o), WS_OK);
	ck_assert_ptr_eq(r3.subprotocol, f.res.subprotocol);
	ck_assert(span_is(r3.path, "/chat"));
	n2 = ws_h2_upgrade_response_headers(&f.res, o2, 3);
	n3 = ws_h3_upgrade_response_headers(&r3, o3, 3);
	ck_assert_uint_eq(n3, 2);
	ck_assert_uint_eq(n2, n3);
	ck_assert(hdr_is(&o3[0], ":status", "200"));
	ck_assert(hdr_is(&o3[1], "sec-websocket-protocol", "chat"));
	ck_assert_int_eq(ws_h3_client_validate_response(o3, n3, &o, &r3), WS_OK);
	ck_assert_ptr_eq(r3.subprotocol, pref[0]);

	chg(&f, ":protocol", "h3-other");
	ck_assert_int_eq(ws_h3_upgrade_validate(f.h, f.n, &o, &r3), WS_ERR_HS_PROTOCOL);
	chg(&f, ":protocol", "websocket");
	del(&f, ":protocol");
	ck_assert_int_eq(ws_h3_upgrade_validate(f.h, f.n, &o, &r3), WS_ERR_HS_NO_PROTOCOL);
	o3[0].value = "404";
	ck_assert_int_eq(ws_h3_client_validate_response(o3, n3, &o, &r3), WS_ERR_HS_STATUS);

	n2 = ws_h2_client_request(q2, 8, "https", "h", "/x", &o, e2, p2, sizeof p2);
	n3 = ws_h3_client_request(q3, 8, "https", "h", "/x", &o, e3, p3, sizeof p3);
	ck_assert_uint_eq(n3, 7);
	ck_assert_uint_eq(n2, n3);
	for (size_t i = 0; i < n3; i++) {
		ck_assert_uint_eq(q2[i].name_len, q3[i].name_len);
		ck_assert_int_eq(memcmp(q2[i].name, q3[i].name, q3[i].name_len), 0);
		ck_assert_uint_eq(q2[i].value_len, q3[i].value_len);
		ck_assert_int_eq(memcmp(q2[i].value, q3[i].value, q3[i].value_len), 0);
	}
}
END_TEST

START_TEST(test_deflate)
{
	struct fx f;
	struct ws_deflate_config cfg;
	struct ws_upgrade_options o = {.deflate = &cfg};

	ws_deflate_config_default(&cfg);
	base(&f);
	add(&f, "sec-websocket-extensions", "permessage-deflate");
	ck_assert_int_eq(run(&f, &o), WS_OK);
	ck_assert(f.res.deflate);
	ck_assert_int_eq(strncmp(f.res.extensions, "permessage-deflate", 18), 0);
	chg(&f, "sec-websocket-extensions", "x-webkit-deflate-frame");
	ck_assert_int_eq(run(&f, &o), WS_OK);
	ck_assert(!f.res.deflate);
	ck_assert_str_eq(f.res.extensions, "");
}
END_TEST

static Suite *h2_suite(void)
{
	Suite *s = suite_create("h2_upgrade");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_valid);
	tcase_add_test(tc, test_err_method);
	tcase_add_test(tc, test_err_no_protocol);
	tcase_add_test(tc, test_err_protocol);
	tcase_add_test(tc, test_err_pseudo);
	tcase_add_test(tc, test_err_host);
	tcase_add_test(tc, test_err_duplicate);
	tcase_add_test(tc, test_err_ws_version);
	tcase_add_test(tc, test_err_origin);
	tcase_add_test(tc, test_err_subprotocol_and_malformed);
	tcase_add_test(tc, test_check_order);
	tcase_add_test(tc, test_response_headers);
	tcase_add_test(tc, test_client_request_round_trip);
	tcase_add_test(tc, test_client_request_limits);
	tcase_add_test(tc, test_client_response);
	tcase_add_test(tc, test_h3_delegates);
	tcase_add_test(tc, test_deflate);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(h2_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
