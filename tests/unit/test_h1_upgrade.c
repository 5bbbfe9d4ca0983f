/* Unit tests of ws_h1_upgrade (and the ws_http helpers under it). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "ws_error.h"
#include "ws_h1_upgrade.h"
#include "ws_http.h"

#define RFC_KEY    "dGhlIHNhbXBsZSBub25jZQ=="
#define RFC_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

/* A request under construction: headers point at string literals. */
struct fx {
	struct ws_header h[48]; /* the header list */
	size_t n;               /* entries used */
	struct ws_h1_request req;
	struct ws_upgrade_result res;
};

static void add(struct fx *f, const char *name, const char *value)
{
	ck_assert_uint_lt(f->n, sizeof f->h / sizeof f->h[0]);
	f->h[f->n++] = (struct ws_header){name, strlen(name), value, strlen(value)};
}

/* Remove every field called name (case-insensitive). */
static void del(struct fx *f, const char *name)
{
	size_t w = 0;

	for (size_t i = 0; i < f->n; i++)
		if (!ws_http_ieq(f->h[i].name, f->h[i].name_len, name, strlen(name)))
			f->h[w++] = f->h[i];
	f->n = w;
}

/* Replace every field called name by one with value, at the end. */
static void set(struct fx *f, const char *name, const char *value)
{
	del(f, name);
	add(f, name, value);
}

/* The RFC 6455 §1.3 sample request. */
static void base(struct fx *f)
{
	memset(f, 0, sizeof *f);
	f->req.method = "GET";
	f->req.method_len = 3;
	f->req.target = "/chat";
	f->req.target_len = 5;
	f->req.version_major = 1;
	f->req.version_minor = 1;
	add(f, "Host", "server.example.com");
	add(f, "Upgrade", "websocket");
	add(f, "Connection", "Upgrade");
	add(f, "Sec-WebSocket-Key", RFC_KEY);
	add(f, "Sec-WebSocket-Version", "13");
}

static int run(struct fx *f, const struct ws_upgrade_options *o)
{
	f->req.headers = f->h;
	f->req.n_headers = f->n;
	return ws_h1_upgrade_validate(&f->req, o, &f->res);
}

static bool span_is(struct ws_span s, const char *want)
{
	return s.n == strlen(want) && memcmp(s.p, want, s.n) == 0;
}

/* ---- accept value and client key ---------------------------------- */

START_TEST(test_accept_rfc_vector)
{
	char out[29];

	ck_assert_int_eq(ws_h1_accept(RFC_KEY, strlen(RFC_KEY), out), WS_OK);
	ck_assert_str_eq(out, RFC_ACCEPT);
	/* A second, independently computed pair (Python hashlib/base64). */
	ck_assert_int_eq(ws_h1_accept("x3JJHMbDL1EzLkh9GBhXDw==", 24, out), WS_OK);
	ck_assert_str_eq(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
	ck_assert_int_eq(ws_h1_accept(NULL, 3, out), WS_ERR_INVALID_ARG);
	ck_assert_int_eq(ws_h1_accept(RFC_KEY, 65, out), WS_ERR_INVALID_ARG);
}
END_TEST

START_TEST(test_client_key)
{
	char k1[25], k2[25];
	unsigned char raw[18];
	struct fx f;

	ck_assert_int_eq(ws_h1_client_key(k1), WS_OK);
	ck_assert_int_eq(ws_h1_client_key(k2), WS_OK);
	ck_assert_uint_eq(strlen(k1), 24);
	ck_assert_str_eq(k1 + 22, "==");
	ck_assert_int_eq(EVP_DecodeBlock(raw, (const unsigned char *)k1, 24), 18);
	/* 128 random bits: equal keys mean the RNG is not being used. */
	ck_assert_str_ne(k1, k2);
	base(&f);
	set(&f, "Sec-WebSocket-Key", k1);
	ck_assert_int_eq(run(&f, NULL), WS_OK);
	ck_assert_str_eq(f.res.key, k1);
}
END_TEST

/* ---- a valid request ----------------------------------------------- */

START_TEST(test_valid_request)
{
	struct fx f;

	base(&f);
	ck_assert_int_eq(run(&f, NULL), WS_OK);
	ck_assert_str_eq(f.res.key, RFC_KEY);
	ck_assert_str_eq(f.res.accept, RFC_ACCEPT);
	ck_assert(span_is(f.res.path, "/chat"));
	ck_assert(span_is(f.res.authority, "server.example.com"));
	ck_assert_ptr_null(f.res.origin.p);
	ck_assert_uint_eq(f.res.n_offered, 0);
	ck_assert_ptr_null(f.res.subprotocol);
	ck_assert(!f.res.deflate);
	ck_assert_str_eq(f.res.extensions, "");

	/* Names are case-insensitive; HTTP/1.2 and 2.0 count as "later". */
	base(&f);
	f.n = 0;
	add(&f, "HOST", "h");
	add(&f, "upgrade", "websocket");
	add(&f, "CONNECTION", "upgrade");
	add(&f, "sec-websocket-key", RFC_KEY);
	add(&f, "SEC-WEBSOCKET-VERSION", "13");
	f.req.version_minor = 2;
	ck_assert_int_eq(run(&f, NULL), WS_OK);
	f.req.version_major = 2;
	f.req.version_minor = 0;
	ck_assert_int_eq(run(&f, NULL), WS_OK);
}
END_TEST

/* ---- one test per typed error -------------------------------------- */

START_TEST(test_err_method)
{
	struct fx f;

	base(&f);
	f.req.method = "POST";
	f.req.method_len = 4;
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_METHOD);
	ck_assert_int_eq(ws_error_http_status(WS_ERR_HS_METHOD), 400);
	/* Methods are case-sensitive. */
	f.req.method = "get";
	f.req.method_len = 3;
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_METHOD);
	f.req.method = "GETX";
	f.req.method_len = 3; /* only the length counts: "GET" */
	ck_assert_int_eq(run(&f, NULL), WS_OK);
	f.req.method = NULL;
	f.req.method_len = 0;
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_METHOD);
}
END_TEST

START_TEST(test_err_http_version)
{
	struct fx f;

	base(&f);
	f.req.version_minor = 0;
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_HTTP_VERSION);
	f.req.version_major = 0;
	f.req.version_minor = 9;
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_HTTP_VERSION);
	ck_assert_int_eq(ws_error_http_status(WS_ERR_HS_HTTP_VERSION), 400);
}
END_TEST

START_TEST(test_err_host)
{
	struct fx f;

	base(&f);
	del(&f, "Host");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_HOST);
	set(&f, "Host", "  ");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_HOST);
	ck_assert_int_eq(ws_error_http_status(WS_ERR_HS_HOST), 400);
}
END_TEST

START_TEST(test_err_upgrade)
{
	struct fx f;

	base(&f);
	del(&f, "Upgrade");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_UPGRADE);
	set(&f, "Upgrade", "h2c");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_UPGRADE);
	set(&f, "Upgrade", "websockets");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_UPGRADE);
	set(&f, "Upgrade", "web socket");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_UPGRADE);
	set(&f, "Upgrade", "websocket/13");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_UPGRADE);
	set(&f, "Upgrade", "");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_UPGRADE);
	ck_assert_int_eq(ws_error_http_status(WS_ERR_HS_UPGRADE), 400);
}
END_TEST

START_TEST(test_err_connection)
{
	struct fx f;

	base(&f);
	del(&f, "Connection");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_CONNECTION);
	set(&f, "Connection", "keep-alive");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_CONNECTION);
	set(&f, "Connection", "upgrade-insecure");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_CONNECTION);
	set(&f, "Connection", "keep-alive upgrade");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_CONNECTION);
	ck_assert_int_eq(ws_error_http_status(WS_ERR_HS_CONNECTION), 400);
}
END_TEST

START_TEST(test_err_ws_version)
{
	struct fx f;
	static const char *const bad[] = {"8", "12", "14", "13, 8", "013", "", "thirteen"};

	base(&f);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		set(&f, "Sec-WebSocket-Version", bad[i]);
		ck_assert_msg(run(&f, NULL) == WS_ERR_HS_WS_VERSION, "version '%s'", bad[i]);
	}
	del(&f, "Sec-WebSocket-Version");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_WS_VERSION);
	set(&f, "Sec-WebSocket-Version", " 13\t");
	ck_assert_int_eq(run(&f, NULL), WS_OK);
	ck_assert_int_eq(ws_error_http_status(WS_ERR_HS_WS_VERSION), 426);
}
END_TEST

START_TEST(test_err_key)
{
	struct fx f;
	static const char *const bad[] = {
	    "dGhlIHNhbXBsZSBub25jZQ=",      /* 23 chars */
	    "dGhlIHNhbXBsZSBub25jZQ===",    /* 25 chars */
	    "dGhlIHNhbXBsZSBub25jZQ",       /* 22 chars, no padding */
	    "dGhlIHNhbXBsZSBub25j!Q==",     /* '!' is not base64 */
	    "dGhlIHNhbXBsZSBub2 jZQ==",     /* inner space */
	    "dGhlIHNh=XBsZSBub25jZQ==",     /* padding in the middle */
	    "AAAAAAAAAAAAAAAAAAAA",         /* 15 bytes (20 chars) */
	    "AAAAAAAAAAAAAAAAAAAA====",     /* 15 bytes padded to 24 */
	    "AAAAAAAAAAAAAAAAAAAAAAA=",     /* 17 bytes */
	    "AAAAAAAAAAAAAAAAAAAAAAAA",     /* 18 bytes */
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 21 bytes */
	    "",
	};

	base(&f);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		set(&f, "Sec-WebSocket-Key", bad[i]);
		ck_assert_msg(run(&f, NULL) == WS_ERR_HS_KEY, "key '%s'", bad[i]);
	}
	del(&f, "Sec-WebSocket-Key");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_KEY);
	/* Surrounding whitespace is not part of the value. */
	set(&f, "Sec-WebSocket-Key", "  " RFC_KEY " ");
	ck_assert_int_eq(run(&f, NULL), WS_OK);
	ck_assert_str_eq(f.res.key, RFC_KEY);
	ck_assert_str_eq(f.res.accept, RFC_ACCEPT);
	/* 16 bytes of any value, including '+' and '/'. */
	set(&f, "Sec-WebSocket-Key", "+/+/AAAAAAAAAAAAAAAAAA==");
	ck_assert_int_eq(run(&f, NULL), WS_OK);
	ck_assert_int_eq(ws_error_http_status(WS_ERR_HS_KEY), 400);
}
END_TEST

START_TEST(test_err_duplicate)
{
	struct fx f;

	base(&f);
	add(&f, "Host", "other.example.com");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_DUPLICATE);
	base(&f);
	add(&f, "host", "server.example.com"); /* even when equal */
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_DUPLICATE);
	base(&f);
	add(&f, "Sec-WebSocket-Key", "x3JJHMbDL1EzLkh9GBhXDw==");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_DUPLICATE);
	base(&f);
	add(&f, "Sec-WebSocket-Version", "13");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_DUPLICATE);
	base(&f);
	add(&f, "Origin", "https://a.example");
	add(&f, "Origin", "https://b.example");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_DUPLICATE);
	ck_assert_int_eq(ws_error_http_status(WS_ERR_HS_DUPLICATE), 400);
}
END_TEST

START_TEST(test_err_origin)
{
	struct fx f;
	static const char *const allowed[] = {"https://example.com", "http://localhost:8080"};
	struct ws_upgrade_options o = {.allowed_origins = allowed, .n_allowed_origins = 2};

	base(&f);
	ck_assert_int_eq(run(&f, &o), WS_ERR_HS_ORIGIN); /* missing */
	add(&f, "Origin", "https://evil.example");
	ck_assert_int_eq(run(&f, &o), WS_ERR_HS_ORIGIN);
	set(&f, "Origin", "https://example.com.evil.example");
	ck_assert_int_eq(run(&f, &o), WS_ERR_HS_ORIGIN);
	set(&f, "Origin", "https://example.co");
	ck_assert_int_eq(run(&f, &o), WS_ERR_HS_ORIGIN);
	set(&f, "Origin", "null");
	ck_assert_int_eq(run(&f, &o), WS_ERR_HS_ORIGIN);
	ck_assert_int_eq(ws_error_http_status(WS_ERR_HS_ORIGIN), 403);

	set(&f, "Origin", "http://localhost:8080");
	ck_assert_int_eq(run(&f, &o), WS_OK);
	ck_assert(span_is(f.res.origin, "http://localhost:8080"));
	set(&f, "Origin", "HTTPS://Example.COM");
	ck_assert_int_eq(run(&f, &o), WS_OK);

	/* No list: any origin, recorded as sent. */
	set(&f, "Origin", "https://evil.example");
	ck_assert_int_eq(run(&f, NULL), WS_OK);
	ck_assert(span_is(f.res.origin, "https://evil.example"));
}
END_TEST

START_TEST(test_err_subprotocol)
{
	struct fx f;
	static const char *const mine[] = {"mqtt"};
	struct ws_upgrade_options o = {
	    .subprotocols = mine, .n_subprotocols = 1, .require_subprotocol = true};

	base(&f);
	ck_assert_int_eq(run(&f, &o), WS_ERR_HS_SUBPROTOCOL); /* none offered */
	add(&f, "Sec-WebSocket-Protocol", "chat, superchat");
	ck_assert_int_eq(run(&f, &o), WS_ERR_HS_SUBPROTOCOL);
	ck_assert_uint_eq(f.res.n_offered, 2);
	ck_assert_int_eq(ws_error_http_status(WS_ERR_HS_SUBPROTOCOL), 400);
	add(&f, "Sec-WebSocket-Protocol", "mqtt");
	ck_assert_int_eq(run(&f, &o), WS_OK);
	ck_assert_str_eq(f.res.subprotocol, "mqtt");
}
END_TEST

START_TEST(test_err_malformed_offer)
{
	struct fx f;
	char many[32 * 4 + 8];
	size_t used = 0;

	/* 32 offers fit exactly; the 33rd is refused. */
	for (int i = 0; i < 32; i++)
		used +=
		    (size_t)snprintf(many + used, sizeof many - used, "%sp%02d", i ? "," : "", i);
	base(&f);
	add(&f, "Sec-WebSocket-Protocol", many);
	ck_assert_int_eq(run(&f, NULL), WS_OK);
	ck_assert_uint_eq(f.res.n_offered, WS_UPGRADE_MAX_OFFERED);
	ck_assert(span_is(f.res.offered[31], "p31"));
	add(&f, "Sec-WebSocket-Protocol", "one-more");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_MALFORMED);

	base(&f);
	add(&f, "Sec-WebSocket-Protocol", "chat, super chat");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_MALFORMED);
	set(&f, "Sec-WebSocket-Protocol", "\"chat\"");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_MALFORMED);
	set(&f, "Sec-WebSocket-Protocol", "a/b");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_MALFORMED);
	ck_assert_int_eq(ws_error_http_status(WS_ERR_HS_MALFORMED), 400);
}
END_TEST

/* Break everything, then repair in the documented order: each step must
 * report exactly the next check's error. */
START_TEST(test_check_order)
{
	struct fx f;
	static const char *const allowed[] = {"https://ok.example"};
	static const char *const mine[] = {"x"};
	struct ws_upgrade_options o = {.subprotocols = mine,
	                               .n_subprotocols = 1,
	                               .require_subprotocol = true,
	                               .allowed_origins = allowed,
	                               .n_allowed_origins = 1};

	base(&f);
	f.n = 0;
	f.req.method = "PUT";
	f.req.version_minor = 0;
	add(&f, "Sec-WebSocket-Protocol", "y");
	add(&f, "Origin", "https://bad.example");
	add(&f, "Sec-WebSocket-Key", "short");
	add(&f, "Sec-WebSocket-Version", "8");
	add(&f, "Connection", "close");
	add(&f, "Upgrade", "h2c");

	ck_assert_int_eq(run(&f, &o), WS_ERR_HS_METHOD);
	f.req.method = "GET";
	ck_assert_int_eq(run(&f, &o), WS_ERR_HS_HTTP_VERSION);
	f.req.version_minor = 1;
	ck_assert_int_eq(run(&f, &o), WS_ERR_HS_HOST);
	add(&f, "Host", "h");
	ck_assert_int_eq(run(&f, &o), WS_ERR_HS_UPGRADE);
	set(&f, "Upgrade", "websocket");
	ck_assert_int_eq(run(&f, &o), WS_ERR_HS_CONNECTION);
	set(&f, "Connection", "Upgrade");
	ck_assert_int_eq(run(&f, &o), WS_ERR_HS_WS_VERSION);
	set(&f, "Sec-WebSocket-Version", "13");
	ck_assert_int_eq(run(&f, &o), WS_ERR_HS_KEY);
	set(&f, "Sec-WebSocket-Key", RFC_KEY);
	ck_assert_int_eq(run(&f, &o), WS_ERR_HS_ORIGIN);
	set(&f, "Origin", "https://ok.example");
	ck_assert_int_eq(run(&f, &o), WS_ERR_HS_SUBPROTOCOL);
	set(&f, "Sec-WebSocket-Protocol", "x");
	ck_assert_int_eq(run(&f, &o), WS_OK);
}
END_TEST

/* ---- token lists --------------------------------------------------- */

START_TEST(test_token_lists)
{
	struct fx f;
	static const char *const conn_ok[] = {"keep-alive, Upgrade", "UPGRADE",   "upgrade",
	                                      "  Upgrade  ",         "\tUpgrade", ",,Upgrade,,",
	                                      "a , b ,upgrade , c",  ", ,upgrade"};
	static const char *const upg_ok[] = {"websocket, foo", "WebSocket",   "foo, websocket",
	                                     " websocket ",    ",websocket,", "h2c,\twebsocket"};

	for (size_t i = 0; i < sizeof conn_ok / sizeof conn_ok[0]; i++) {
		base(&f);
		set(&f, "Connection", conn_ok[i]);
		ck_assert_msg(run(&f, NULL) == WS_OK, "Connection '%s'", conn_ok[i]);
	}
	for (size_t i = 0; i < sizeof upg_ok / sizeof upg_ok[0]; i++) {
		base(&f);
		set(&f, "Upgrade", upg_ok[i]);
		ck_assert_msg(run(&f, NULL) == WS_OK, "Upgrade '%s'", upg_ok[i]);
	}
	/* Only empty elements. */
	base(&f);
	set(&f, "Connection", " , ,, ");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_CONNECTION);
}
END_TEST

START_TEST(test_list_helpers)
{
	struct ws_span rest = {" a ,, b\t,c ,", 12}, e;

	ck_assert(ws_http_list_next(&rest, &e));
	ck_assert(span_is(e, "a"));
	ck_assert(ws_http_list_next(&rest, &e));
	ck_assert(span_is(e, "b"));
	ck_assert(ws_http_list_next(&rest, &e));
	ck_assert(span_is(e, "c"));
	ck_assert(!ws_http_list_next(&rest, &e));
	ck_assert_uint_eq(rest.n, 0);
	ck_assert(ws_http_list_has("x, KEEP-alive", 13, "keep-alive"));
	ck_assert(!ws_http_list_has("x, keep-alivex", 14, "keep-alive"));
	ck_assert(!ws_http_list_has(NULL, 0, "x"));
	ck_assert(ws_http_is_token("permessage-deflate", 18));
	ck_assert(!ws_http_is_token("a b", 3));
	ck_assert(!ws_http_is_token("", 0));
	ck_assert(!ws_http_is_token("a;b", 3));
}
END_TEST

START_TEST(test_repeated_list_fields)
{
	struct fx f;

	/* Firefox sends "keep-alive, Upgrade"; proxies may split it. */
	base(&f);
	set(&f, "Connection", "keep-alive");
	add(&f, "Connection", "Upgrade");
	ck_assert_int_eq(run(&f, NULL), WS_OK);
	base(&f);
	set(&f, "Upgrade", "foo");
	add(&f, "Upgrade", "websocket");
	ck_assert_int_eq(run(&f, NULL), WS_OK);
	base(&f);
	set(&f, "Connection", "keep-alive");
	add(&f, "Connection", "close");
	ck_assert_int_eq(run(&f, NULL), WS_ERR_HS_CONNECTION);
}
END_TEST

/* ---- subprotocol choice -------------------------------------------- */

START_TEST(test_subprotocol_server_preference)
{
	struct fx f;
	static const char *const pref[] = {"a", "b"};
	struct ws_upgrade_options o = {.subprotocols = pref, .n_subprotocols = 2};

	base(&f);
	add(&f, "Sec-WebSocket-Protocol", "b, a");
	ck_assert_int_eq(run(&f, &o), WS_OK);
	ck_assert_ptr_eq(f.res.subprotocol, pref[0]);
	ck_assert_uint_eq(f.res.n_offered, 2);
	ck_assert(span_is(f.res.offered[0], "b"));
	ck_assert(span_is(f.res.offered[1], "a"));

	/* The offer may span several fields; all count, in order. */
	base(&f);
	add(&f, "Sec-WebSocket-Protocol", "c");
	add(&f, "Sec-WebSocket-Protocol", "b");
	ck_assert_int_eq(run(&f, &o), WS_OK);
	ck_assert_ptr_eq(f.res.subprotocol, pref[1]);
	ck_assert_uint_eq(f.res.n_offered, 2);
	ck_assert(span_is(f.res.offered[0], "c"));
}
END_TEST

START_TEST(test_subprotocol_no_match)
{
	struct fx f;
	static const char *const pref[] = {"chat"};
	struct ws_upgrade_options o = {.subprotocols = pref, .n_subprotocols = 1};

	base(&f);
	add(&f, "Sec-WebSocket-Protocol", "Chat, chat2, cha");
	ck_assert_int_eq(run(&f, &o), WS_OK); /* case-sensitive: no match */
	ck_assert_ptr_null(f.res.subprotocol);
	ck_assert_uint_eq(f.res.n_offered, 3);
	/* No server list: the offer is recorded, nothing chosen. */
	ck_assert_int_eq(run(&f, NULL), WS_OK);
	ck_assert_ptr_null(f.res.subprotocol);
	ck_assert_uint_eq(f.res.n_offered, 3);
}
END_TEST

/* ---- response header list ------------------------------------------ */

static bool hdr_is(const struct ws_header *h, const char *name, const char *value)
{
	return h->name_len == strlen(name) && memcmp(h->name, name, h->name_len) == 0 &&
	       h->value_len == strlen(value) && memcmp(h->value, value, h->value_len) == 0;
}

START_TEST(test_response_headers)
{
	struct fx f;
	struct ws_header out[5];
	static const char *const pref[] = {"chat"};
	struct ws_upgrade_options o = {.subprotocols = pref, .n_subprotocols = 1};

	base(&f);
	ck_assert_int_eq(run(&f, &o), WS_OK);
	ck_assert_uint_eq(ws_h1_upgrade_response_headers(&f.res, out, 5), 3);
	ck_assert(hdr_is(&out[0], "Upgrade", "websocket"));
	ck_assert(hdr_is(&out[1], "Connection", "Upgrade"));
	ck_assert(hdr_is(&out[2], "Sec-WebSocket-Accept", RFC_ACCEPT));

	add(&f, "Sec-WebSocket-Protocol", "chat");
	ck_assert_int_eq(run(&f, &o), WS_OK);
	ck_assert_uint_eq(ws_h1_upgrade_response_headers(&f.res, out, 5), 4);
	ck_assert(hdr_is(&out[3], "Sec-WebSocket-Protocol", "chat"));
	/* Too small for all: nothing rather than a partial response. */
	ck_assert_uint_eq(ws_h1_upgrade_response_headers(&f.res, out, 3), 0);

	/* With an agreed extension (filled by hand: deflate's own tests
	 * cover negotiation). */
	f.res.deflate = true;
	strcpy(f.res.extensions, "permessage-deflate");
	ck_assert_uint_eq(ws_h1_upgrade_response_headers(&f.res, out, 5), 5);
	ck_assert(hdr_is(&out[4], "Sec-WebSocket-Extensions", "permessage-deflate"));
	ck_assert_uint_eq(ws_h1_upgrade_response_headers(&f.res, out, 4), 0);
}
END_TEST

/* ---- permessage-deflate through the validator ---------------------- */

START_TEST(test_deflate_negotiated)
{
	struct fx f;
	struct ws_deflate_config cfg;
	struct ws_upgrade_options o = {.deflate = &cfg};
	struct ws_header out[5];

	ws_deflate_config_default(&cfg);
	base(&f);
	add(&f, "Sec-WebSocket-Extensions", "x-webkit-deflate-frame");
	add(&f, "Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits");
	ck_assert_int_eq(run(&f, &o), WS_OK);
	ck_assert(f.res.deflate);
	ck_assert_int_eq(strncmp(f.res.extensions, "permessage-deflate", 18), 0);
	ck_assert_uint_ge(f.res.deflate_params.server_max_window_bits, 9);
	ck_assert_uint_le(f.res.deflate_params.server_max_window_bits, 15);
	ck_assert_uint_eq(ws_h1_upgrade_response_headers(&f.res, out, 5), 4);
	ck_assert_ptr_eq(out[3].value, f.res.extensions);

	/* Deflate off on the route: the offer is ignored. */
	ck_assert_int_eq(run(&f, NULL), WS_OK);
	ck_assert(!f.res.deflate);
	ck_assert_str_eq(f.res.extensions, "");
}
END_TEST

START_TEST(test_deflate_declined)
{
	struct fx f;
	struct ws_deflate_config cfg;
	struct ws_upgrade_options o = {.deflate = &cfg};

	ws_deflate_config_default(&cfg);
	base(&f);
	ck_assert_int_eq(run(&f, &o), WS_OK); /* nothing offered */
	ck_assert(!f.res.deflate);
	add(&f, "Sec-WebSocket-Extensions", "x-webkit-deflate-frame");
	ck_assert_int_eq(run(&f, &o), WS_OK); /* declined: go on without */
	ck_assert(!f.res.deflate);
	ck_assert_str_eq(f.res.extensions, "");
	for (int i = 0; i < WS_HTTP_MAX_EXT_FIELDS; i++)
		add(&f, "Sec-WebSocket-Extensions", "x-foo");
	ck_assert_int_eq(run(&f, &o), WS_ERR_HS_MALFORMED);
}
END_TEST

/* ---- client side --------------------------------------------------- */

struct resp {
	struct ws_header h[16];
	size_t n;
};

static void radd(struct resp *r, const char *name, const char *value)
{
	r->h[r->n++] = (struct ws_header){name, strlen(name), value, strlen(value)};
}

static void good_response(struct resp *r)
{
	r->n = 0;
	radd(r, "Upgrade", "websocket");
	radd(r, "Connection", "Upgrade");
	radd(r, "Sec-WebSocket-Accept", RFC_ACCEPT);
}

START_TEST(test_client_good)
{
	struct resp r;
	struct ws_upgrade_result res;

	good_response(&r);
	ck_assert_int_eq(ws_h1_client_validate_response(101, r.h, r.n, RFC_KEY, NULL, &res), WS_OK);
	ck_assert_str_eq(res.accept, RFC_ACCEPT);
	ck_assert_ptr_null(res.subprotocol);
	ck_assert(!res.deflate);
	/* Token case does not matter; base64 does. */
	r.h[0].value = "WebSocket";
	r.h[1].value = "keep-alive, UPGRADE";
	r.h[0].value_len = 9;
	r.h[1].value_len = strlen(r.h[1].value);
	ck_assert_int_eq(ws_h1_client_validate_response(101, r.h, r.n, RFC_KEY, NULL, &res), WS_OK);
}
END_TEST

START_TEST(test_client_round_trip)
{
	struct fx f;
	char key[25];
	struct ws_header out[5];
	size_t n;
	struct ws_upgrade_result cres;
	static const char *const srv[] = {"v2", "v1"};
	static const char *const cli[] = {"v1", "v2"};
	struct ws_upgrade_options so = {.subprotocols = srv, .n_subprotocols = 2};
	struct ws_upgrade_options co = {.subprotocols = cli, .n_subprotocols = 2};

	ck_assert_int_eq(ws_h1_client_key(key), WS_OK);
	base(&f);
	set(&f, "Sec-WebSocket-Key", key);
	add(&f, "Sec-WebSocket-Protocol", "v1, v2");
	ck_assert_int_eq(run(&f, &so), WS_OK);
	n = ws_h1_upgrade_response_headers(&f.res, out, 5);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(ws_h1_client_validate_response(101, out, n, key, &co, &cres), WS_OK);
	ck_assert_ptr_eq(cres.subprotocol, cli[1]);
	ck_assert_str_eq(cres.accept, f.res.accept);
}
END_TEST

START_TEST(test_client_errors)
{
	struct resp r;
	struct ws_upgrade_result res;
	static const char *const cli[] = {"chat"};
	struct ws_upgrade_options co = {.subprotocols = cli, .n_subprotocols = 1};

	good_response(&r);
	ck_assert_int_eq(ws_h1_client_validate_response(200, r.h, r.n, RFC_KEY, &co, &res),
	                 WS_ERR_HS_STATUS);
	ck_assert_int_eq(ws_h1_client_validate_response(426, r.h, r.n, RFC_KEY, &co, &res),
	                 WS_ERR_HS_STATUS);

	/* Wrong accept: another key's, a case-changed one, none, two. */
	r.h[2].value = "HSmrc0sMlYUkAGmm5OPpG2HaGWk=";
	ck_assert_int_eq(ws_h1_client_validate_response(101, r.h, r.n, RFC_KEY, &co, &res),
	                 WS_ERR_HS_ACCEPT);
	r.h[2].value = "S3PPLMBITXAQ9KYGZZHZRBK+XOO=";
	ck_assert_int_eq(ws_h1_client_validate_response(101, r.h, r.n, RFC_KEY, &co, &res),
	                 WS_ERR_HS_ACCEPT);
	r.n = 2;
	ck_assert_int_eq(ws_h1_client_validate_response(101, r.h, r.n, RFC_KEY, &co, &res),
	                 WS_ERR_HS_ACCEPT);
	good_response(&r);
	radd(&r, "Sec-WebSocket-Accept", RFC_ACCEPT);
	ck_assert_int_eq(ws_h1_client_validate_response(101, r.h, r.n, RFC_KEY, &co, &res),
	                 WS_ERR_HS_ACCEPT);

	good_response(&r);
	r.h[0].value = "h2c";
	r.h[0].value_len = 3;
	ck_assert_int_eq(ws_h1_client_validate_response(101, r.h, r.n, RFC_KEY, &co, &res),
	                 WS_ERR_HS_UPGRADE);
	good_response(&r);
	r.h[1].value = "close";
	r.h[1].value_len = 5;
	ck_assert_int_eq(ws_h1_client_validate_response(101, r.h, r.n, RFC_KEY, &co, &res),
	                 WS_ERR_HS_CONNECTION);
	ck_assert_int_eq(ws_h1_client_validate_response(101, r.h, r.n, "short", &co, &res),
	                 WS_ERR_INVALID_ARG);
}
END_TEST

START_TEST(test_client_unsolicited)
{
	struct resp r;
	struct ws_upgrade_result res;
	static const char *const cli[] = {"chat"};
	struct ws_upgrade_options co = {.subprotocols = cli, .n_subprotocols = 1};

	good_response(&r);
	radd(&r, "Sec-WebSocket-Protocol", "chat");
	ck_assert_int_eq(ws_h1_client_validate_response(101, r.h, r.n, RFC_KEY, &co, &res), WS_OK);
	ck_assert_ptr_eq(res.subprotocol, cli[0]);
	/* Not offered, offered nothing, a list, a repeat, case changed. */
	ck_assert_int_eq(ws_h1_client_validate_response(101, r.h, r.n, RFC_KEY, NULL, &res),
	                 WS_ERR_HS_UNSOLICITED);
	r.h[3].value = "superchat";
	r.h[3].value_len = 9;
	ck_assert_int_eq(ws_h1_client_validate_response(101, r.h, r.n, RFC_KEY, &co, &res),
	                 WS_ERR_HS_UNSOLICITED);
	r.h[3].value = "chat, chat";
	r.h[3].value_len = 10;
	ck_assert_int_eq(ws_h1_client_validate_response(101, r.h, r.n, RFC_KEY, &co, &res),
	                 WS_ERR_HS_UNSOLICITED);
	r.h[3].value = "Chat";
	r.h[3].value_len = 4;
	ck_assert_int_eq(ws_h1_client_validate_response(101, r.h, r.n, RFC_KEY, &co, &res),
	                 WS_ERR_HS_UNSOLICITED);
	r.h[3].value = "chat";
	radd(&r, "Sec-WebSocket-Protocol", "chat");
	ck_assert_int_eq(ws_h1_client_validate_response(101, r.h, r.n, RFC_KEY, &co, &res),
	                 WS_ERR_HS_UNSOLICITED);

	/* An extension when none was offered. */
	good_response(&r);
	radd(&r, "Sec-WebSocket-Extensions", "permessage-deflate");
	ck_assert_int_eq(ws_h1_client_validate_response(101, r.h, r.n, RFC_KEY, &co, &res),
	                 WS_ERR_HS_UNSOLICITED);
	ck_assert(!res.deflate);
	/* An empty field is an empty list, not an extension. */
	r.h[3].value = " ";
	r.h[3].value_len = 1;
	ck_assert_int_eq(ws_h1_client_validate_response(101, r.h, r.n, RFC_KEY, &co, &res), WS_OK);
	ck_assert_int_eq(ws_error_http_status(WS_ERR_HS_UNSOLICITED), 500);
}
END_TEST

START_TEST(test_client_deflate)
{
	struct resp r;
	struct ws_upgrade_result res;
	struct ws_deflate_config cfg;
	struct ws_upgrade_options co = {.deflate = &cfg};

	ws_deflate_config_default(&cfg);
	good_response(&r);
	radd(&r, "Sec-WebSocket-Extensions", "permessage-deflate");
	ck_assert_int_eq(ws_h1_client_validate_response(101, r.h, r.n, RFC_KEY, &co, &res), WS_OK);
	ck_assert(res.deflate);
	ck_assert_str_eq(res.extensions, "permessage-deflate");
	/* Out of range: ws_deflate's error comes through unchanged. */
	r.h[3].value = "permessage-deflate; server_max_window_bits=99";
	r.h[3].value_len = strlen(r.h[3].value);
	ck_assert_int_eq(ws_h1_client_validate_response(101, r.h, r.n, RFC_KEY, &co, &res),
	                 WS_ERR_DEFLATE_PARAMS);
	ck_assert(!res.deflate);
	/* Two extension fields: we offered one extension. */
	r.h[3].value = "permessage-deflate";
	r.h[3].value_len = 18;
	radd(&r, "Sec-WebSocket-Extensions", "permessage-deflate");
	ck_assert_int_eq(ws_h1_client_validate_response(101, r.h, r.n, RFC_KEY, &co, &res),
	                 WS_ERR_HS_UNSOLICITED);
}
END_TEST

START_TEST(test_invalid_args)
{
	struct fx f;

	base(&f);
	ck_assert_int_eq(ws_h1_upgrade_validate(&f.req, NULL, NULL), WS_ERR_INVALID_ARG);
	ck_assert_int_eq(ws_h1_upgrade_validate(NULL, NULL, &f.res), WS_ERR_INVALID_ARG);
	f.req.headers = NULL;
	f.req.n_headers = 3;
	ck_assert_int_eq(ws_h1_upgrade_validate(&f.req, NULL, &f.res), WS_ERR_INVALID_ARG);
	ck_assert_uint_eq(ws_h1_upgrade_response_headers(NULL, f.h, 5), 0);
}
END_TEST

static Suite *h1_suite(void)
{
	Suite *s = suite_create("h1_upgrade");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_accept_rfc_vector);
	tcase_add_test(tc, test_client_key);
	tcase_add_test(tc, test_valid_request);
	tcase_add_test(tc, test_err_method);
	tcase_add_test(tc, test_err_http_version);
	tcase_add_test(tc, test_err_host);
	tcase_add_test(tc, test_err_upgrade);
	tcase_add_test(tc, test_err_connection);
	tcase_add_test(tc, test_err_ws_version);
	tcase_add_test(tc, test_err_key);
	tcase_add_test(tc, test_err_duplicate);
	tcase_add_test(tc, test_err_origin);
	tcase_add_test(tc, test_err_subprotocol);
	tcase_add_test(tc, test_err_malformed_offer);
	tcase_add_test(tc, test_check_order);
	tcase_add_test(tc, test_token_lists);
	tcase_add_test(tc, test_list_helpers);
	tcase_add_test(tc, test_repeated_list_fields);
	tcase_add_test(tc, test_subprotocol_server_preference);
	tcase_add_test(tc, test_subprotocol_no_match);
	tcase_add_test(tc, test_response_headers);
	tcase_add_test(tc, test_deflate_negotiated);
	tcase_add_test(tc, test_deflate_declined);
	tcase_add_test(tc, test_client_good);
	tcase_add_test(tc, test_client_round_trip);
	tcase_add_test(tc, test_client_errors);
	tcase_add_test(tc, test_client_unsolicited);
	tcase_add_test(tc, test_client_deflate);
	tcase_add_test(tc, test_invalid_args);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(h1_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
