/* Unit tests for the I/O-free parts of the client library: URL parsing,
 * the upgrade request, the response-head parser (every split point of a
 * real response, checked against ws_h1_client_validate_response) and the
 * latency histogram. */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ws.h"
#include "wsc_cli.h"
#include "wsc_hist.h"
#include "wsc_http.h"

START_TEST(url_basic)
{
	struct wsc_url u;

	ck_assert_int_eq(wsc_url_parse("ws://example.com/chat?x=1", &u), WS_OK);
	ck_assert(!u.tls);
	ck_assert_str_eq(u.host, "example.com");
	ck_assert_str_eq(u.port, "80");
	ck_assert_str_eq(u.authority, "example.com");
	ck_assert_str_eq(u.path, "/chat?x=1");

	ck_assert_int_eq(wsc_url_parse("WSS://h:8443", &u), WS_OK);
	ck_assert(u.tls);
	ck_assert_str_eq(u.port, "8443");
	ck_assert_str_eq(u.authority, "h:8443");
	ck_assert_str_eq(u.path, "/");

	ck_assert_int_eq(wsc_url_parse("wss://h:443/a", &u), WS_OK);
	ck_assert_str_eq(u.authority, "h"); /* default port left out */

	ck_assert_int_eq(wsc_url_parse("ws://[::1]:9000/p", &u), WS_OK);
	ck_assert(u.ipv6);
	ck_assert_str_eq(u.host, "::1");
	ck_assert_str_eq(u.authority, "[::1]:9000");

	ck_assert_int_eq(wsc_url_parse("ws://h?q", &u), WS_OK);
	ck_assert_str_eq(u.path, "/?q");
	ck_assert_int_eq(wsc_url_parse("ws://h:/x", &u), WS_OK);
	ck_assert_str_eq(u.port, "80");
}
END_TEST

START_TEST(url_rejects)
{
	static const char *bad[] = {
	    "http://h/",   "ws://",          "ws:///path",   "ws://h:0/",    "ws://h:65536/",
	    "ws://h:12x/", "ws://u@h/",      "ws://h/a b",   "ws://h/#frag", "ws://[::1/",
	    "ws://h:-1/",  "ws://h:123456/", "wss://[]:80/", "ws://h\x01/",  "ws:/h/",
	};
	struct wsc_url u;
	char longhost[400];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(wsc_url_parse(bad[i], &u) == WS_ERR_INVALID_ARG, "accepted %s",
		              bad[i]);
	memset(longhost, 'a', sizeof(longhost));
	memcpy(longhost, "ws://", 5);
	longhost[sizeof(longhost) - 1] = '\0';
	ck_assert_int_eq(wsc_url_parse(longhost, &u), WS_ERR_INVALID_ARG);
}
END_TEST

static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\n"
                           "Upgrade: websocket\r\n"
                           "Connection:  Upgrade \r\n"
                           "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                           "\r\n";

START_TEST(response_parse_and_validate)
{
	struct wsc_response r;
	struct ws_upgrade_result res;
	size_t n = strlen(resp);

	ck_assert_uint_eq(wsc_http_head_length(resp, n), n);
	ck_assert_int_eq(wsc_http_parse_response(resp, n, &r), WS_OK);
	ck_assert_int_eq(r.status, 101);
	ck_assert_int_eq(r.version_minor, 1);
	ck_assert_uint_eq(r.n_headers, 3);
	ck_assert_uint_eq(r.headers[1].value_len, 7); /* whitespace trimmed */
	ck_assert(memcmp(r.headers[1].value, "Upgrade", 7) == 0);
	ck_assert_int_eq(ws_h1_client_validate_response(r.status, r.headers, r.n_headers,
	                                                "dGhlIHNhbXBsZSBub25jZQ==", NULL, &res),
	                 WS_OK);
	ck_assert_int_eq(ws_h1_client_validate_response(r.status, r.headers, r.n_headers,
	                                                "AAAAAAAAAAAAAAAAAAAAAA==", NULL, &res),
	                 WS_ERR_HS_ACCEPT);
}
END_TEST

/* The head is complete only once the blank line is there, at every split. */
START_TEST(response_every_split)
{
	size_t n = strlen(resp);

	for (size_t k = 0; k < n; k++) {
		char *p = malloc(k ? k : 1);

		memcpy(p, resp, k);
		ck_assert_msg(wsc_http_head_length(p, k) == 0, "complete at %zu", k);
		free(p);
	}
	/* Trailing frame bytes are not part of the head. */
	{
		char buf[256];
		memcpy(buf, resp, n);
		memcpy(buf + n, "\x81\x02hi", 4);
		ck_assert_uint_eq(wsc_http_head_length(buf, n + 4), n);
	}
}
END_TEST

START_TEST(response_rejects)
{
	static const char *bad[] = {
	    "HTTP/2 101 X\r\n\r\n",
	    "HTTP/1.1 10 X\r\n\r\n",
	    "HTTP/1.1 1011 X\r\n\r\n",
	    "HTTP/1.1 099 X\r\n\r\n",
	    "HTTP/1.1 101 X\r\nNo-Colon\r\n\r\n",
	    "HTTP/1.1 101 X\r\nBad Name: v\r\n\r\n",
	    "HTTP/1.1 101 X\r\n folded: v\r\n\r\n",
	    "HTTP/1.1 101 X\r\nA: b\x01c\r\n\r\n",
	    "HTTP/1.1 101 X\r\nA: b\r\n",
	    "garbage\r\n\r\n",
	};
	struct wsc_response r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(wsc_http_parse_response(bad[i], strlen(bad[i]), &r) ==
		                  WS_ERR_HS_MALFORMED,
		              "accepted %s", bad[i]);
	/* Bare LF line ends and an empty reason are accepted. */
	ck_assert_int_eq(wsc_http_parse_response("HTTP/1.1 404\nA: b\n\n", 19, &r), WS_OK);
	ck_assert_int_eq(r.status, 404);
	ck_assert_uint_eq(r.reason.n, 0);
}
END_TEST

START_TEST(response_too_many_headers)
{
	char buf[4096];
	size_t n = (size_t)snprintf(buf, sizeof(buf), "HTTP/1.1 101 OK\r\n");
	struct wsc_response r;

	for (int i = 0; i < WSC_RESPONSE_HEADERS_MAX; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "H%d: v\r\n", i);
	memcpy(buf + n, "\r\n", 2);
	ck_assert_int_eq(wsc_http_parse_response(buf, n + 2, &r), WS_OK);
	ck_assert_uint_eq(r.n_headers, WSC_RESPONSE_HEADERS_MAX);
	n += (size_t)snprintf(buf + n, sizeof(buf) - n, "One: more\r\n\r\n");
	ck_assert_int_eq(wsc_http_parse_response(buf, n, &r), WS_ERR_HS_MALFORMED);
}
END_TEST

START_TEST(request_build)
{
	struct wsc_url u;
	const char *protos[] = {"chat", "v2.json"};
	struct ws_deflate_config dc;
	struct ws_upgrade_options o = {.subprotocols = protos, .n_subprotocols = 2};
	struct ws_header extra[2];
	char out[2048];
	size_t n;

	ws_deflate_config_default(&dc);
	o.deflate = &dc;
	ck_assert_int_eq(wsc_url_parse("ws://h:81/p?q", &u), WS_OK);
	ck_assert_int_eq(wsc_http_split_header("Origin:  https://a.example ", &extra[0]), WS_OK);
	ck_assert_int_eq(wsc_http_split_header("X-Empty:", &extra[1]), WS_OK);
	n = wsc_http_build_request(out, sizeof(out), &u, "dGhlIHNhbXBsZSBub25jZQ==", &o, extra, 2);
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_eq(strlen(out), n);
	ck_assert(strncmp(out, "GET /p?q HTTP/1.1\r\nHost: h:81\r\n", 31) == 0);
	ck_assert_ptr_nonnull(strstr(out, "\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "\r\nSec-WebSocket-Protocol: chat, v2.json\r\n"));
	ck_assert_ptr_nonnull(strstr(out, "\r\nSec-WebSocket-Extensions: permessage-deflate"));
	ck_assert_ptr_nonnull(strstr(out, "\r\nOrigin: https://a.example\r\nX-Empty: \r\n\r\n"));
	/* Too small a buffer gives 0, never a cut request. */
	for (size_t max = 1; max <= n; max++)
		ck_assert_uint_eq(
		    wsc_http_build_request(out, max, &u, "dGhlIHNhbXBsZSBub25jZQ==", &o, extra, 2),
		    0);
	/* A subprotocol that is not a token is refused. */
	protos[1] = "a b";
	ck_assert_uint_eq(wsc_http_build_request(out, sizeof(out), &u, "k", &o, NULL, 0), 0);
}
END_TEST

START_TEST(split_header_rejects)
{
	struct ws_header h;

	ck_assert_int_eq(wsc_http_split_header("novalue", &h), WS_ERR_INVALID_ARG);
	ck_assert_int_eq(wsc_http_split_header(": v", &h), WS_ERR_INVALID_ARG);
	ck_assert_int_eq(wsc_http_split_header("A B: v", &h), WS_ERR_INVALID_ARG);
	ck_assert_int_eq(wsc_http_split_header("A: v\r\nInjected: x", &h), WS_ERR_INVALID_ARG);
}
END_TEST

START_TEST(hist_buckets)
{
	/* Every value lies within its bucket, and the bucket is at most 1/32
	 * of the value wide. */
	for (uint64_t v = 0; v < 200000; v += (v < 5000 ? 1 : 97)) {
		unsigned b = wsc_hist_bucket(v);
		uint64_t hi = wsc_hist_bucket_high(b);
		uint64_t lo = b == 0 ? 0 : wsc_hist_bucket_high(b - 1) + 1;

		ck_assert_msg(lo <= v && v <= hi, "v %llu bucket %u [%llu, %llu]",
		              (unsigned long long)v, b, (unsigned long long)lo,
		              (unsigned long long)hi);
		ck_assert(hi - lo <= v / 32 + 1);
	}
	ck_assert_uint_eq(wsc_hist_bucket(UINT64_MAX), WSC_HIST_BUCKETS - 1);
	ck_assert_uint_eq(wsc_hist_bucket((uint64_t)1 << 40), WSC_HIST_BUCKETS - 1);
	ck_assert_uint_lt(wsc_hist_bucket(((uint64_t)1 << 40) - 1), WSC_HIST_BUCKETS - 1);
}
END_TEST

START_TEST(hist_quantiles)
{
	struct wsc_hist h, h2;

	wsc_hist_init(&h);
	ck_assert_uint_eq(wsc_hist_quantile(&h, 0.5), 0);
	for (uint64_t v = 1; v <= 1000; v++)
		wsc_hist_record(&h, v);
	ck_assert_uint_eq(h.count, 1000);
	ck_assert_uint_eq(h.min, 1);
	ck_assert_uint_eq(h.max, 1000);
	/* Within the 1/32 bucket precision of the exact answer, never below. */
	ck_assert_uint_ge(wsc_hist_quantile(&h, 0.5), 500);
	ck_assert_uint_le(wsc_hist_quantile(&h, 0.5), 500 + 500 / 32 + 1);
	ck_assert_uint_ge(wsc_hist_quantile(&h, 0.99), 990);
	ck_assert_uint_le(wsc_hist_quantile(&h, 0.99), 1000);
	ck_assert_uint_eq(wsc_hist_quantile(&h, 1.0), 1000);
	ck_assert_uint_eq(wsc_hist_quantile(&h, 0.999), 1000);
	/* Merge: a second histogram of large values moves the tail only. */
	wsc_hist_init(&h2);
	for (int i = 0; i < 10; i++)
		wsc_hist_record(&h2, 1000000);
	wsc_hist_merge(&h, &h2);
	ck_assert_uint_eq(h.count, 1010);
	ck_assert_uint_eq(h.max, 1000000);
	ck_assert_uint_le(wsc_hist_quantile(&h, 0.5), 520);
	ck_assert_uint_eq(wsc_hist_quantile(&h, 0.999), 1000000);
}
END_TEST

START_TEST(cli_values)
{
	size_t z;
	long l;

	ck_assert(wsc_cli_size("64", &z) && z == 64);
	ck_assert(wsc_cli_size("64K", &z) && z == 65536);
	ck_assert(wsc_cli_size("1.5KiB", &z) && z == 1536);
	ck_assert(wsc_cli_size("1M", &z) && z == 1048576);
	ck_assert(wsc_cli_size("2GB", &z) && z == 2147483648u);
	ck_assert(!wsc_cli_size("", &z));
	ck_assert(!wsc_cli_size("x", &z));
	ck_assert(!wsc_cli_size("-1", &z));
	ck_assert(!wsc_cli_size("1T", &z));
	ck_assert(!wsc_cli_size("5000G", &z));
	ck_assert(!wsc_cli_size("nan", &z));
	ck_assert(wsc_cli_long("12", 1, &l) && l == 12);
	ck_assert(!wsc_cli_long("0", 1, &l));
	ck_assert(!wsc_cli_long("3x", 1, &l));
	ck_assert(!wsc_cli_long("", 0, &l));
}
END_TEST

START_TEST(cli_token)
{
	ck_assert(wsc_cli_token("binary", 16));
	ck_assert(wsc_cli_token("v2.chat-x_y~!#$%&'*+^`|", 64));
	ck_assert(!wsc_cli_token("", 16));
	ck_assert(!wsc_cli_token("a b", 16));
	ck_assert(!wsc_cli_token("a,b", 16));
	ck_assert(!wsc_cli_token("say\"hi", 16));
	ck_assert(!wsc_cli_token("back\\slash", 16));
	ck_assert(!wsc_cli_token("tab\t", 16));
	ck_assert(!wsc_cli_token("caf\xc3\xa9", 16));
	ck_assert(wsc_cli_token("123456789012345", 16));
	ck_assert(!wsc_cli_token("1234567890123456", 16)); /* no room for the NUL */
}
END_TEST

START_TEST(cli_addrs)
{
	struct sockaddr_storage a[8];
	socklen_t lens[8];
	int n = 0;
	char buf[64];

	ck_assert(wsc_cli_addrs("127.0.0.2-4", a, lens, 8, &n));
	ck_assert_int_eq(n, 3);
	for (int i = 0; i < 3; i++) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&a[i];
		ck_assert_int_eq(sin->sin_family, AF_INET);
		ck_assert_int_eq(sin->sin_port, 0);
		inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
		ck_assert_int_eq(buf[strlen(buf) - 1], '2' + i);
	}
	ck_assert(wsc_cli_addrs("::1", a, lens, 8, &n));
	ck_assert_int_eq(n, 4);
	ck_assert_int_eq(a[3].ss_family, AF_INET6);
	ck_assert(!wsc_cli_addrs("127.0.0.9-3", a, lens, 8, &n)); /* backwards */
	ck_assert(!wsc_cli_addrs("127.0.0.1-256", a, lens, 8, &n));
	ck_assert(!wsc_cli_addrs("localhost", a, lens, 8, &n));
	ck_assert_int_eq(n, 4);
	ck_assert(!wsc_cli_addrs("10.0.0.1-9", a, lens, 8, &n)); /* past max */
	ck_assert_int_eq(n, 8);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("wsc");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, url_basic);
	tcase_add_test(tc, url_rejects);
	tcase_add_test(tc, response_parse_and_validate);
	tcase_add_test(tc, response_every_split);
	tcase_add_test(tc, response_rejects);
	tcase_add_test(tc, response_too_many_headers);
	tcase_add_test(tc, request_build);
	tcase_add_test(tc, split_header_rejects);
	tcase_add_test(tc, hist_buckets);
	tcase_add_test(tc, hist_quantiles);
	tcase_add_test(tc, cli_values);
	tcase_add_test(tc, cli_token);
	tcase_add_test(tc, cli_addrs);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
