/* Unit tests for gw_config: every error class with its exact
 * "FILE:LINE: message", every value form, defaults, the shipped example
 * and route matching. */
#include "gw_config.h"
#include "gw_config_value.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Every test file starts with this listener unless it tests listeners. */
#define LISTEN "[listen a]\naddress = 127.0.0.1:8080\n" /* lines 1-2 */

static struct gw_config *parse_ok(const char *text)
{
	char err[GW_CONFIG_ERR_MAX];
	struct gw_config *c = NULL;
	int rc = gw_config_parse("t.conf", text, strlen(text), &c, err);

	ck_assert_msg(rc == 0, "unexpected error: %s", err);
	ck_assert_ptr_nonnull(c);
	return c;
}

static void parse_bad(const char *text, const char *expect)
{
	char err[GW_CONFIG_ERR_MAX];
	struct gw_config *c = (struct gw_config *)1;
	int rc = gw_config_parse("t.conf", text, strlen(text), &c, err);

	ck_assert_int_eq(rc, -1);
	ck_assert_ptr_null(c);
	ck_assert_str_eq(err, expect);
}

/* Builds LISTEN + "[route r]\n" + body, for route-key tests (route header
 * on line 3, body from line 4). */
static void route_bad(const char *body, const char *expect)
{
	char text[1024];

	snprintf(text, sizeof(text), LISTEN "[route r]\npath = /x\nbackend = echo\n%s", body);
	parse_bad(text, expect);
}

static struct gw_config *route_ok(const char *body)
{
	char text[1024];

	snprintf(text, sizeof(text), LISTEN "[route r]\npath = /x\nbackend = echo\n%s", body);
	return parse_ok(text);
}

static void listen_bad(const char *address, const char *expect)
{
	char text[512];

	snprintf(text, sizeof(text), "[listen a]\naddress = %s\n", address);
	parse_bad(text, expect);
}

static void backend_bad(const char *backend, const char *expect)
{
	char text[512];

	snprintf(text, sizeof(text), LISTEN "[route r]\npath = /x\nbackend = %s\n", backend);
	parse_bad(text, expect);
}

START_TEST(test_syntax_no_equals)
{
	parse_bad(LISTEN "[server]\nworkers 4\n",
	          "t.conf:4: syntax error: expected 'key = value' or '[section]'");
	parse_bad(LISTEN "[server]\n = 4\n", "t.conf:4: syntax error: missing key before '='");
	parse_bad(LISTEN "[server\n", "t.conf:3: section header '[server' lacks a closing ']'");
	parse_bad("workers = 4\n" LISTEN, "t.conf:1: key 'workers' outside of any section");
	parse_bad(LISTEN "[server]\nworkers =\n", "t.conf:4: missing value for 'workers'");
}
END_TEST

START_TEST(test_unknown_section)
{
	parse_bad(LISTEN "\n[frobnicate]\n",
	          "t.conf:4: unknown section '[frobnicate]' (expected [server], [listen NAME], "
	          "[route NAME] or [static])");
	parse_bad(LISTEN "[rout echo]\n",
	          "t.conf:3: unknown section '[rout]' (did you mean '[route echo]'?)");
	parse_bad(LISTEN "[sever]\n",
	          "t.conf:3: unknown section '[sever]' (did you mean '[server]'?)");
	parse_bad(LISTEN "[Server]\n",
	          "t.conf:3: unknown section '[Server]' (did you mean '[server]'?)");
	parse_bad(LISTEN "[server x]\n", "t.conf:3: [server] takes no name");
	parse_bad(LISTEN "[route]\n", "t.conf:3: [route] needs a name: [route NAME]");
	parse_bad(LISTEN "[route a/b]\n",
	          "t.conf:3: bad section name 'a/b' (use 1..64 of A-Z a-z 0-9 _ . -)");
	parse_bad(LISTEN "[route a b]\n",
	          "t.conf:3: bad section name 'a b' (use 1..64 of A-Z a-z 0-9 _ . -)");
}
END_TEST

START_TEST(test_unknown_key_hint)
{
	/* The operator-facing example of the design, verbatim. */
	char err[GW_CONFIG_ERR_MAX];
	const char *text = LISTEN "[server]\n\n\n\n\n\n\n\n\nmax_conection = 5\n";
	struct gw_config *c = NULL;

	ck_assert_int_eq(gw_config_parse("conf/bad.conf", text, strlen(text), &c, err), -1);
	ck_assert_str_eq(err, "conf/bad.conf:12: unknown key 'max_conection' in [server] (did you "
	                      "mean 'max_connections'?)");
	ck_assert_ptr_null(c);

	/* Transposition counts as one edit. */
	parse_bad(LISTEN "[server]\nwokrers = 2\n",
	          "t.conf:4: unknown key 'wokrers' in [server] (did you mean 'workers'?)");
	route_bad("backnd = echo\n",
	          "t.conf:6: unknown key 'backnd' in [route r] (did you mean 'backend'?)");
	parse_bad(LISTEN "[server]\ncolour = blue\n", "t.conf:4: unknown key 'colour' in [server]");
	/* A key of another section says where it belongs. */
	parse_bad(LISTEN "[server]\nmax_message_size = 1M\n",
	          "t.conf:4: unknown key 'max_message_size' in [server] ('max_message_size' "
	          "belongs in [route NAME])");
	parse_bad("[listen a]\naddress = 127.0.0.1:1\nworkers = 2\n",
	          "t.conf:3: unknown key 'workers' in [listen a] ('workers' belongs in [server])");
}
END_TEST

START_TEST(test_duplicate_key)
{
	parse_bad(LISTEN "[server]\nworkers = 2\n# x\nworkers = 3\n",
	          "t.conf:6: duplicate key 'workers' in [server] (first at line 4)");
	route_bad("idle_timeout = 1s\nidle_timeout = 1s\n",
	          "t.conf:7: duplicate key 'idle_timeout' in [route r] (first at line 6)");
	route_bad("path = /y\n", "t.conf:6: duplicate key 'path' in [route r] (first at line 4)");
}
END_TEST

START_TEST(test_bad_size)
{
	route_bad("buffer_size = 16Q\n", "t.conf:6: bad size '16Q' for 'buffer_size': expected a "
	                                 "number of bytes with an optional K, M or G suffix");
	route_bad("buffer_size = 16 K\n", "t.conf:6: bad size '16 K' for 'buffer_size': expected a "
	                                  "number of bytes with an optional K, M or G suffix");
	route_bad("buffer_size = -1\n", "t.conf:6: bad size '-1' for 'buffer_size': expected a "
	                                "number of bytes with an optional K, M or G suffix");
	route_bad("buffer_size = 1KB\n", "t.conf:6: bad size '1KB' for 'buffer_size': expected a "
	                                 "number of bytes with an optional K, M or G suffix");
	route_bad("max_message_size = 1025G\n",
	          "t.conf:6: bad size '1025G' for 'max_message_size': too large (limit 1T = "
	          "1099511627776 bytes)");
	route_bad("max_message_size = 99999999999999999999999\n",
	          "t.conf:6: bad size '99999999999999999999999' for 'max_message_size': too large "
	          "(limit 1T = 1099511627776 bytes)");
	/* Exactly 1T is the limit and allowed. */
	gw_config_free(route_ok("max_message_size = 1024G\n"));
}
END_TEST

START_TEST(test_bad_duration)
{
	route_bad("idle_timeout = 5x\n", "t.conf:6: bad duration '5x' for 'idle_timeout': expected "
	                                 "a number with an ms, s, m or h suffix (plain = seconds)");
	route_bad("idle_timeout = 5 s\n", "t.conf:6: bad duration '5 s' for 'idle_timeout': "
	                                  "expected a number with an ms, s, m or h suffix (plain = "
	                                  "seconds)");
	route_bad("idle_timeout = 1.5s\n",
	          "t.conf:6: bad duration '1.5s' for 'idle_timeout': "
	          "expected a number with an ms, s, m or h suffix (plain = "
	          "seconds)");
	route_bad("idle_timeout = 721h\n",
	          "t.conf:6: bad duration '721h' for 'idle_timeout': too long (limit 30 days)");
	gw_config_free(route_ok("idle_timeout = 720h\n"));
	parse_bad(LISTEN "[server]\nhandshake_timeout = 0\n",
	          "t.conf:4: 'handshake_timeout' out of range: 0 (allowed 1..2592000000 ms)");
}
END_TEST

START_TEST(test_bad_boolean)
{
	parse_bad(
	    "[listen a]\naddress = 127.0.0.1:1\nhttp2 = maybe\n",
	    "t.conf:3: bad boolean 'maybe' for 'http2': expected on/off, yes/no or true/false");
	route_bad("permessage_deflate = 1\n", "t.conf:6: bad boolean '1' for 'permessage_deflate': "
	                                      "expected on/off, yes/no or true/false");
}
END_TEST

START_TEST(test_out_of_range)
{
	parse_bad(LISTEN "[server]\nworkers = 0\n",
	          "t.conf:4: 'workers' out of range: 0 (allowed 1..256)");
	parse_bad(LISTEN "[server]\nworkers = 257\n",
	          "t.conf:4: 'workers' out of range: 257 (allowed 1..256)");
	parse_bad(LISTEN "[server]\nworkers = many\n",
	          "t.conf:4: bad worker count 'many' for 'workers': expected auto or a number");
	parse_bad(LISTEN "[server]\nmax_connections = 0\n",
	          "t.conf:4: 'max_connections' out of range: 0 (allowed 1..10000000)");
	parse_bad(
	    LISTEN "[server]\nh2_stream_window = 65534\n",
	    "t.conf:4: 'h2_stream_window' out of range: 65534 (allowed 65535..2147483647 bytes)");
	parse_bad(LISTEN "[server]\nh2_connection_window = 2G\n",
	          "t.conf:4: 'h2_connection_window' out of range: 2G (allowed 65535..2147483647 "
	          "bytes)");
	parse_bad(
	    LISTEN "[server]\nlog_level = loud\n",
	    "t.conf:4: bad log level 'loud' for 'log_level': expected error, warn, info or debug");
	route_bad("deflate_level = 10\n",
	          "t.conf:6: 'deflate_level' out of range: 10 (allowed 0..9)");
	route_bad("deflate_mem_level = 0\n",
	          "t.conf:6: 'deflate_mem_level' out of range: 0 (allowed 1..9)");
	route_bad("deflate_window_bits = 8\n",
	          "t.conf:6: 'deflate_window_bits' out of range: 8 (allowed 9..15)");
	route_bad("deflate_window_bits = 16\n",
	          "t.conf:6: 'deflate_window_bits' out of range: 16 (allowed 9..15)");
	route_bad("deflate_level = 99999999999999999999999\n",
	          "t.conf:6: bad number '99999999999999999999999' for 'deflate_level': too large "
	          "(limit 18446744073709551615)");
	route_bad("max_frame_size = 0\n",
	          "t.conf:6: 'max_frame_size' out of range: 0 (allowed 1..1099511627776 bytes)");
	/* An explicit frame limit above the message limit is a contradiction,
	 * reported at the max_frame_size line. */
	route_bad("max_frame_size = 2M\nmax_message_size = 1M\n",
	          "t.conf:6: max_frame_size (2097152) exceeds max_message_size (1048576)");
	route_bad("max_frame_size = 65M\n",
	          "t.conf:6: max_frame_size (68157440) exceeds max_message_size (67108864)");
}
END_TEST

START_TEST(test_bad_listen_address)
{
	static const struct {
		const char *addr, *why;
	} cases[] = {
	    {"127.0.0.1", "expected HOST:PORT, [IPV6]:PORT or unix:/PATH"},
	    {"127.0.0.1:0", "port must be 1..65535"},
	    {"127.0.0.1:65536", "port must be 1..65535"},
	    {"127.0.0.1:", "port '' is not a number"},
	    {"127.0.0.1:http", "port 'http' is not a number"},
	    {"example.com:80", "host 'example.com' must be a numeric IPv4 address, '*' or "
	                       "'localhost' (IPv6: [ADDR]:PORT)"},
	    {"1.2.3:80", "host '1.2.3' must be a numeric IPv4 address, '*' or 'localhost' (IPv6: "
	                 "[ADDR]:PORT)"},
	    {":80", "host '' must be a numeric IPv4 address, '*' or 'localhost' (IPv6: "
	            "[ADDR]:PORT)"},
	    {"::1:80", "IPv6 addresses need brackets: [ADDR]:PORT"},
	    {"[::1]80", "expected ':PORT' after ']'"},
	    {"[::1:80", "missing ']' after IPv6 address"},
	    {"[zz::1]:80", "'zz::1' is not a numeric IPv6 address"},
	    {"[127.0.0.1]:80", "'127.0.0.1' is not a numeric IPv6 address"},
	    {"unix:run/x.sock", "unix socket path must be absolute (unix:/PATH)"},
	    {"unix:", "unix socket path must be absolute (unix:/PATH)"},
	};
	char expect[GW_CONFIG_ERR_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(expect, sizeof(expect), "t.conf:2: bad address '%s' for 'address': %s",
		         cases[i].addr, cases[i].why);
		listen_bad(cases[i].addr, expect);
	}
	/* sun_path holds 107 bytes plus the NUL. */
	char path[160] = "unix:/";
	memset(path + 6, 'a', 106);
	path[112] = '\0';
	gw_config_free(parse_ok(strcat(strcpy(expect, "[listen a]\naddress = "), path)));
	strcat(path, "b");
	snprintf(expect, sizeof(expect),
	         "t.conf:2: bad address 'unix:/%.58s...' for 'address': unix socket path longer "
	         "than 107 bytes",
	         path + 6);
	listen_bad(path, expect);
	parse_bad("[listen a]\n# no address\nhttp2 = off\n", "t.conf:1: [listen a] has no address");
}
END_TEST

START_TEST(test_bad_backend)
{
	static const struct {
		const char *backend, *why;
	} cases[] = {
	    {"tcp:localhost", "expected tcp:HOST:PORT"},
	    {"tcp:localhost:0", "port must be 1..65535"},
	    {"tcp:localhost:x", "port 'x' is not a number"},
	    {"tcp::80", "'' is not a valid host name or address"},
	    {"tcp:bad_host!:80", "'bad_host!' is not a valid host name or address"},
	    {"tcp:a..b:80", "'a..b' is not a valid host name or address"},
	    {"tcp:::1:80", "IPv6 addresses need brackets: tcp:[ADDR]:PORT"},
	    {"tcp:[::1]:", "port '' is not a number"},
	    {"tcp:[::g]:80", "'::g' is not a numeric IPv6 address"},
	    {"udp:1.2.3.4:5", "expected echo, tcp:HOST:PORT or unix:/PATH"},
	    {"Echo", "expected echo, tcp:HOST:PORT or unix:/PATH"},
	    {"unix:relative.sock", "unix socket path must be absolute (unix:/PATH)"},
	};
	char expect[GW_CONFIG_ERR_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(expect, sizeof(expect), "t.conf:5: bad backend '%s' for 'backend': %s",
		         cases[i].backend, cases[i].why);
		backend_bad(cases[i].backend, expect);
	}
}
END_TEST

START_TEST(test_route_missing_keys)
{
	parse_bad(LISTEN "\n[route r]\nbackend = echo\n[route s]\npath = /s\nbackend = echo\n",
	          "t.conf:4: [route r] has no path");
	/* Also at EOF, and reported at the section line, not the last line. */
	parse_bad(LISTEN "[route r]\npath = /x\n\n# end\n", "t.conf:3: [route r] has no backend");
	parse_bad(LISTEN "[route r]\npath = x\nbackend = echo\n",
	          "t.conf:4: bad path 'x' for 'path': a route path starts with '/'");
	parse_bad(LISTEN "[route r]\npath = /a*b\nbackend = echo\n",
	          "t.conf:4: bad path '/a*b' for 'path': '*' may only end a path (prefix route)");
	parse_bad(
	    LISTEN "[route r]\npath = /a?b\nbackend = echo\n",
	    "t.conf:4: bad path '/a?b' for 'path': a route path has no blanks, '?' or '#' (the "
	    "query is not matched)");
	parse_bad(LISTEN "[static]\n", "t.conf:3: [static] has no root");
	parse_bad(LISTEN "[static]\nroot = www\n",
	          "t.conf:4: bad directory 'www' for 'root': expected an absolute path");
}
END_TEST

START_TEST(test_duplicate_route_path)
{
	parse_bad(LISTEN "[route a]\npath = /x\nbackend = echo\n[route b]\nbackend = echo\npath = "
	                 "/x\n",
	          "t.conf:8: route path '/x' is already used by [route a] (line 3)");
	parse_bad(LISTEN "[route a]\npath = /x*\nbackend = echo\n[route b]\npath = /x*\nbackend = "
	                 "echo\n",
	          "t.conf:7: route path '/x*' is already used by [route a] (line 3)");
	/* An exact and a prefix route on the same text are different routes. */
	struct gw_config *c = parse_ok(
	    LISTEN "[route a]\npath = /x\nbackend = echo\n[route b]\npath = /x*\nbackend = echo\n");
	ck_assert_uint_eq(c->n_routes, 2);
	gw_config_free(c);
}
END_TEST

START_TEST(test_duplicate_section)
{
	parse_bad(LISTEN "[listen a]\naddress = 127.0.0.1:8081\n",
	          "t.conf:3: duplicate section [listen a] (first at line 1)");
	parse_bad(LISTEN "[route e]\npath = /e\nbackend = echo\n[route e]\n",
	          "t.conf:6: duplicate section [route e] (first at line 3)");
	parse_bad(LISTEN "[server]\n[server]\n",
	          "t.conf:4: duplicate section [server] (first at line "
	          "3)");
	parse_bad(LISTEN "[static]\nroot = /a\n[static]\nroot = /b\n",
	          "t.conf:5: duplicate section [static] (first at line 3)");
	/* A listener and a route may share a name: different kinds. */
	gw_config_free(parse_ok(LISTEN "[route a]\npath = /\nbackend = echo\n"));
	/* Two listeners on one address would both bind with SO_REUSEPORT. */
	parse_bad(LISTEN "[listen b]\naddress = 127.0.0.1:8080\n",
	          "t.conf:4: address '127.0.0.1:8080' is already used by [listen a] (line 1)");
	parse_bad("[listen a]\naddress = unix:/tmp/s\n[listen b]\naddress = unix:/tmp/s\n",
	          "t.conf:4: address 'unix:/tmp/s' is already used by [listen a] (line 1)");
}
END_TEST

/* A scratch directory with a readable cert and key. */
static char tmpdir[64];

static void make_tmpdir(void)
{
	char p[128];
	FILE *f;

	strcpy(tmpdir, "/tmp/test_config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(p, sizeof(p), "%s/cert.pem", tmpdir);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs("-----BEGIN CERTIFICATE-----\n", f);
	fclose(f);
	snprintf(p, sizeof(p), "%s/key.pem", tmpdir);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs("-----BEGIN PRIVATE KEY-----\n", f);
	fclose(f);
}

static void remove_tmpdir(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/cert.pem", tmpdir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/key.pem", tmpdir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/big.conf", tmpdir);
	unlink(p);
	rmdir(tmpdir);
}

START_TEST(test_tls_cert_without_key)
{
	char text[512], expect[256];

	make_tmpdir();
	snprintf(text, sizeof(text), "[listen a]\naddress = *:443\ntls_certificate = %s/cert.pem\n",
	         tmpdir);
	parse_bad(text, "t.conf:3: tls_certificate without tls_key in [listen a]");
	snprintf(
	    text, sizeof(text),
	    "[listen a]\naddress = *:443\n\ntls_key = %s/key.pem\n[listen b]\naddress = *:80\n",
	    tmpdir);
	parse_bad(text, "t.conf:4: tls_key without tls_certificate in [listen a]");

	/* Both present and readable: loads, paths kept as written. */
	snprintf(
	    text, sizeof(text),
	    "[listen a]\naddress = *:443\ntls_key = %s/key.pem\ntls_certificate = %s/cert.pem\n",
	    tmpdir, tmpdir);
	struct gw_config *c = parse_ok(text);
	snprintf(expect, sizeof(expect), "%s/cert.pem", tmpdir);
	ck_assert_str_eq(c->listens[0].tls_certificate, expect);
	snprintf(expect, sizeof(expect), "%s/key.pem", tmpdir);
	ck_assert_str_eq(c->listens[0].tls_key, expect);
	gw_config_free(c);
	remove_tmpdir();
}
END_TEST

START_TEST(test_tls_unreadable)
{
	char text[512], expect[512];

	make_tmpdir();
	snprintf(
	    text, sizeof(text),
	    "[listen a]\naddress = *:443\ntls_certificate = %s/nope.pem\ntls_key = %s/key.pem\n",
	    tmpdir, tmpdir);
	snprintf(expect, sizeof(expect),
	         "t.conf:3: cannot read tls_certificate '%s/nope.pem': No such file or directory",
	         tmpdir);
	parse_bad(text, expect);
	/* A directory opens fine but is no certificate. */
	snprintf(text, sizeof(text),
	         "[listen a]\naddress = *:443\ntls_certificate = %s/cert.pem\ntls_key = %s\n",
	         tmpdir, tmpdir);
	snprintf(expect, sizeof(expect), "t.conf:4: cannot read tls_key '%s': not a regular file",
	         tmpdir);
	parse_bad(text, expect);
	remove_tmpdir();
}
END_TEST

START_TEST(test_no_listen)
{
	parse_bad("", "t.conf:0: no [listen NAME] section: nothing to serve on");
	parse_bad("# nothing\n[server]\nworkers = 2\n[route e]\npath = /e\nbackend = echo\n",
	          "t.conf:0: no [listen NAME] section: nothing to serve on");
}
END_TEST

START_TEST(test_line_too_long)
{
	/* 4096 bytes is the limit: one more fails at its own line. */
	static char text[2 * 4200];
	size_t n = strlen(LISTEN);

	memcpy(text, LISTEN, n);
	text[n] = '#';
	memset(text + n + 1, 'x', 4095);
	strcpy(text + n + 4096, "\r\n");
	gw_config_free(parse_ok(text));
	text[n + 4096] = 'x';
	parse_bad(text, "t.conf:3: line too long (over 4096 bytes)");
}
END_TEST

START_TEST(test_file_limits)
{
	char err[GW_CONFIG_ERR_MAX], path[128];
	struct gw_config *c = (struct gw_config *)1;
	size_t big = 1024 * 1024 + 1;
	char *text = malloc(big);
	FILE *f;

	ck_assert_ptr_nonnull(text);
	memset(text, '\n', big);
	memcpy(text, LISTEN, strlen(LISTEN));
	ck_assert_int_eq(gw_config_parse("t.conf", text, big, &c, err), -1);
	ck_assert_str_eq(err, "t.conf:0: file too large (over 1048576 bytes)");
	ck_assert_ptr_null(c);
	/* Exactly 1 MiB is fine. */
	ck_assert_int_eq(gw_config_parse("t.conf", text, big - 1, &c, err), 0);
	gw_config_free(c);

	make_tmpdir();
	snprintf(path, sizeof(path), "%s/big.conf", tmpdir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, big, f), big);
	fclose(f);
	ck_assert_int_eq(gw_config_load(path, &c, err), -1);
	char expect[GW_CONFIG_ERR_MAX];
	snprintf(expect, sizeof(expect), "%s:0: file too large (over 1048576 bytes)", path);
	ck_assert_str_eq(err, expect);

	ck_assert_int_eq(gw_config_load("/nonexistent/wsgate.conf", &c, err), -1);
	ck_assert_str_eq(err, "/nonexistent/wsgate.conf:0: cannot open: No such file or directory");
	ck_assert_int_eq(gw_config_load(tmpdir, &c, err), -1);
	snprintf(expect, sizeof(expect), "%s:0: not a regular file", tmpdir);
	ck_assert_str_eq(err, expect);
	remove_tmpdir();
	free(text);

	/* A NUL or another control byte is not config text. */
	char nul[] = LISTEN "[server]\nworkers = 2\0\n";
	ck_assert_int_eq(gw_config_parse("t.conf", nul, sizeof(nul) - 1, &c, err), -1);
	ck_assert_str_eq(err, "t.conf:4: control character 0x00 in line");
	parse_bad(LISTEN "\x1b[31m\n", "t.conf:3: control character 0x1b in line");
}
END_TEST

START_TEST(test_value_forms)
{
	static const struct {
		const char *text;
		uint64_t value;
	} sizes[] =
	    {
	        {"0", 0},
	        {"1", 1},
	        {"1K", 1024},
	        {"1k", 1024},
	        {"16M", 16 * 1024 * 1024},
	        {"1G", UINT64_C(1) << 30},
	        {"3G", UINT64_C(3) << 30},
	        {"1024G", UINT64_C(1) << 40},
	        {"007", 7},
	    },
	  durations[] = {
	      {"0", 0},         {"500ms", 500},
	      {"5s", 5000},     {"2m", 120000},
	      {"1h", 3600000},  {"7", 7000},
	      {"1500MS", 1500}, {"720h", 2592000000},
	      {"1ms", 1},       {"2592000000ms", 2592000000},
	  };
	char why[GW_CONFIG_WHY_MAX];
	uint64_t v;
	bool b;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		ck_assert_msg(gw_config_value_size(sizes[i].text, &v, why) == 0, "%s: %s",
		              sizes[i].text, why);
		ck_assert_uint_eq(v, sizes[i].value);
	}
	for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
		ck_assert_msg(gw_config_value_duration(durations[i].text, &v, why) == 0, "%s: %s",
		              durations[i].text, why);
		ck_assert_uint_eq(v, durations[i].value);
	}
	ck_assert_int_eq(gw_config_value_duration("2592000001ms", &v, why), -1);
	ck_assert_int_eq(gw_config_value_size("", &v, why), -1);
	ck_assert_int_eq(gw_config_value_size("K", &v, why), -1);
	ck_assert_int_eq(gw_config_value_duration("s", &v, why), -1);
	ck_assert_int_eq(gw_config_value_duration("5d", &v, why), -1);
	static const char *const yes[] = {"on", "yes", "true", "ON", "Yes", "TRUE"};
	static const char *const no[] = {"off", "no", "false", "OFF", "No", "False"};
	for (size_t i = 0; i < 6; i++) {
		b = false;
		ck_assert_int_eq(gw_config_value_bool(yes[i], &b, why), 0);
		ck_assert(b);
		ck_assert_int_eq(gw_config_value_bool(no[i], &b, why), 0);
		ck_assert(!b);
	}
	ck_assert_int_eq(gw_config_value_bool("1", &b, why), -1);
	ck_assert_int_eq(gw_config_value_bool("onn", &b, why), -1);

	/* Through the file: each form lands in its field. */
	struct gw_config *c =
	    route_ok("max_frame_size = 1K\nmax_message_size = 16M\nbuffer_size = "
	             "1G\nidle_timeout = 500ms\nping_interval = 2m\nclose_timeout "
	             "= 1h\nconnect_timeout = 5\npermessage_deflate = yes\n"
	             "deflate_level = 0\ndeflate_mem_level = 9\n"
	             "deflate_window_bits = 9\n");
	const struct gw_route *r = &c->routes[0];
	ck_assert_uint_eq(r->max_frame_size, 1024);
	ck_assert_uint_eq(r->max_message_size, 16 * 1024 * 1024);
	ck_assert_uint_eq(r->buffer_size, UINT64_C(1) << 30);
	ck_assert_uint_eq(r->idle_timeout_ms, 500);
	ck_assert_uint_eq(r->ping_interval_ms, 120000);
	ck_assert_uint_eq(r->close_timeout_ms, 3600000);
	ck_assert_uint_eq(r->connect_timeout_ms, 5000);
	ck_assert(r->permessage_deflate);
	ck_assert_int_eq(r->deflate_level, 0);
	ck_assert_int_eq(r->deflate_mem_level, 9);
	ck_assert_int_eq(r->deflate_window_bits, 9);
	gw_config_free(c);

	c = parse_ok(LISTEN "[server]\nworkers = 256\nmax_connections = 5\nlog_level = DEBUG\n"
	                    "access_log = /var/log/wsgate.log\nuser = www-data\n"
	                    "handshake_timeout = 3s\nmax_request_size = 8K\nmax_headers = 50\n"
	                    "shutdown_timeout = 0\nkeepalive_timeout = 90\n"
	                    "h2_max_concurrent_streams = 100\nh2_stream_window = 65535\n"
	                    "h2_connection_window = 2147483647\nh2_max_header_list = 32K\n"
	                    "[static]\nroot = /srv/www\n");
	ck_assert_int_eq(c->workers, 256);
	ck_assert_uint_eq(c->max_connections, 5);
	ck_assert_int_eq(c->log_level, GW_LOG_DEBUG);
	ck_assert_str_eq(c->access_log, "/var/log/wsgate.log");
	ck_assert_str_eq(c->user, "www-data");
	ck_assert_uint_eq(c->handshake_timeout_ms, 3000);
	ck_assert_uint_eq(c->max_request_size, 8192);
	ck_assert_uint_eq(c->max_headers, 50);
	ck_assert_uint_eq(c->shutdown_timeout_ms, 0);
	ck_assert_uint_eq(c->keepalive_timeout_ms, 90000);
	ck_assert_uint_eq(c->h2_max_concurrent_streams, 100);
	ck_assert_uint_eq(c->h2_stream_window, 65535);
	ck_assert_uint_eq(c->h2_connection_window, 2147483647);
	ck_assert_uint_eq(c->h2_max_header_list, 32768);
	ck_assert_str_eq(c->static_root, "/srv/www");
	gw_config_free(c);

	c = parse_ok(LISTEN "[server]\nworkers = AUTO\naccess_log = off\nlog_level = warn\n");
	ck_assert_int_eq(c->workers, 0);
	ck_assert_str_eq(c->access_log, "off");
	ck_assert_int_eq(c->log_level, GW_LOG_WARN);
	gw_config_free(c);
	parse_bad(LISTEN "[server]\nuser = -x\n",
	          "t.conf:4: bad user name '-x' for 'user': expected 1..32 of A-Z a-z 0-9 _ . -");
}
END_TEST

START_TEST(test_defaults)
{
	struct gw_config *c = parse_ok(LISTEN "[route r]\npath = /r\nbackend = echo\n");
	const struct gw_listen *l = &c->listens[0];
	const struct gw_route *r = &c->routes[0];

	ck_assert_str_eq(c->path, "t.conf");
	ck_assert_int_eq(c->workers, 0);
	ck_assert_uint_eq(c->max_connections, 10000);
	ck_assert_int_eq(c->log_level, GW_LOG_INFO);
	ck_assert_str_eq(c->access_log, "-");
	ck_assert_ptr_null(c->user);
	ck_assert_uint_eq(c->handshake_timeout_ms, 10000);
	ck_assert_uint_eq(c->max_request_size, 16384);
	ck_assert_uint_eq(c->max_headers, 100);
	ck_assert_uint_eq(c->shutdown_timeout_ms, 5000);
	ck_assert_uint_eq(c->keepalive_timeout_ms, 60000);
	ck_assert_uint_eq(c->h2_max_concurrent_streams, 256);
	ck_assert_uint_eq(c->h2_stream_window, 1048576);
	ck_assert_uint_eq(c->h2_connection_window, 16777216);
	ck_assert_uint_eq(c->h2_max_header_list, 16384);
	ck_assert_ptr_null(c->static_root);

	ck_assert_uint_eq(c->n_listens, 1);
	ck_assert_str_eq(l->name, "a");
	ck_assert_int_eq(l->line, 1);
	ck_assert_str_eq(l->address, "127.0.0.1:8080");
	ck_assert_int_eq(l->kind, GW_ADDR_INET);
	ck_assert_ptr_null(l->tls_certificate);
	ck_assert_ptr_null(l->tls_key);
	ck_assert(l->http2);

	ck_assert_uint_eq(c->n_routes, 1);
	ck_assert_str_eq(r->name, "r");
	ck_assert_int_eq(r->line, 3);
	ck_assert_str_eq(r->path, "/r");
	ck_assert_uint_eq(r->path_len, 2);
	ck_assert(!r->prefix);
	ck_assert_str_eq(r->backend, "echo");
	ck_assert_int_eq(r->backend_kind, GW_BACKEND_ECHO);
	ck_assert_uint_eq(r->n_subprotocols, 0);
	ck_assert(!r->require_subprotocol);
	ck_assert_uint_eq(r->n_allowed_origins, 0);
	ck_assert_uint_eq(r->max_frame_size, 16 * 1024 * 1024);
	ck_assert_uint_eq(r->max_message_size, 64 * 1024 * 1024);
	ck_assert_uint_eq(r->idle_timeout_ms, 0);
	ck_assert_uint_eq(r->ping_interval_ms, 0);
	ck_assert_uint_eq(r->close_timeout_ms, 5000);
	ck_assert_uint_eq(r->connect_timeout_ms, 5000);
	ck_assert_uint_eq(r->buffer_size, 256 * 1024);
	ck_assert(!r->permessage_deflate);
	ck_assert_int_eq(r->deflate_level, 1);
	ck_assert_int_eq(r->deflate_mem_level, 8);
	ck_assert_int_eq(r->deflate_window_bits, 15);
	gw_config_free(c);

	/* The default frame limit follows a smaller message limit down. */
	c = route_ok("max_message_size = 1M\n");
	ck_assert_uint_eq(c->routes[0].max_frame_size, 1024 * 1024);
	ck_assert_uint_eq(c->routes[0].max_message_size, 1024 * 1024);
	gw_config_free(c);
}
END_TEST

START_TEST(test_example_conf_loads)
{
	char err[GW_CONFIG_ERR_MAX];
	struct gw_config *c = NULL;

	/* The unit runner starts from the top of the tree. */
	ck_assert_msg(gw_config_load("conf/wsgate.conf", &c, err) == 0, "%s", err);
	ck_assert_str_eq(c->path, "conf/wsgate.conf");
	ck_assert_uint_eq(c->n_listens, 3);
	ck_assert_int_eq(c->listens[1].addr.ss_family, AF_INET6);
	ck_assert_int_eq(c->listens[2].kind, GW_ADDR_UNIX);
	ck_assert_uint_eq(c->n_routes, 3);
	ck_assert_str_eq(c->routes[1].name, "vnc");
	ck_assert_int_eq(c->routes[1].backend_kind, GW_BACKEND_TCP);
	ck_assert_uint_eq(c->routes[1].max_frame_size, 1024 * 1024);
	ck_assert(c->routes[1].permessage_deflate);
	ck_assert(c->routes[2].prefix);
	ck_assert_str_eq(c->routes[2].path, "/api/");
	ck_assert_str_eq(c->static_root, "/usr/share/wsgate/www");
	ck_assert_ptr_eq(gw_config_route_match(c, "/vnc", 4), &c->routes[1]);
	gw_config_free(c);
}
END_TEST

static const char *match_name(const struct gw_config *c, const char *path)
{
	const struct gw_route *r = gw_config_route_match(c, path, strlen(path));

	return r ? r->name : "none";
}

START_TEST(test_route_match)
{
	struct gw_config *c = parse_ok(LISTEN "[route api]\npath = /api*\nbackend = echo\n"
	                                      "[route apiv2]\npath = /api/v2/*\nbackend = echo\n"
	                                      "[route exact]\npath = /api/v2/ping\nbackend = echo\n"
	                                      "[route echo]\npath = /echo\nbackend = echo\n");

	ck_assert_str_eq(match_name(c, "/echo"), "echo");
	ck_assert_str_eq(match_name(c, "/echo/"), "none");
	ck_assert_str_eq(match_name(c, "/ech"), "none");
	ck_assert_str_eq(match_name(c, "/"), "none");
	ck_assert_str_eq(match_name(c, ""), "none");
	/* Byte prefix: /api* takes /api itself and /apix too. */
	ck_assert_str_eq(match_name(c, "/api"), "api");
	ck_assert_str_eq(match_name(c, "/apix"), "api");
	ck_assert_str_eq(match_name(c, "/api/x"), "api");
	ck_assert_str_eq(match_name(c, "/api/v2"), "api");
	/* Longest prefix wins, whatever the order in the file. */
	ck_assert_str_eq(match_name(c, "/api/v2/"), "apiv2");
	ck_assert_str_eq(match_name(c, "/api/v2/chat"), "apiv2");
	/* Exact beats any prefix. */
	ck_assert_str_eq(match_name(c, "/api/v2/ping"), "exact");
	ck_assert_str_eq(match_name(c, "/api/v2/pingx"), "apiv2");
	/* Length, not NUL, ends the path. */
	ck_assert_ptr_eq(gw_config_route_match(c, "/echo?x=1", 5), &c->routes[3]);
	ck_assert_ptr_null(gw_config_route_match(NULL, "/echo", 5));
	gw_config_free(c);

	/* A catch-all, and an exact route listed after a prefix on the same
	 * text. */
	c = parse_ok(LISTEN "[route all]\npath = /*\nbackend = echo\n"
	                    "[route x]\npath = /x*\nbackend = echo\n"
	                    "[route xe]\npath = /x\nbackend = echo\n");
	ck_assert_str_eq(match_name(c, "/anything"), "all");
	ck_assert_str_eq(match_name(c, "/"), "all");
	ck_assert_str_eq(match_name(c, "/x"), "xe");
	ck_assert_str_eq(match_name(c, "/xy"), "x");
	ck_assert_str_eq(match_name(c, ""), "none");
	gw_config_free(c);

	/* No routes at all (static only). */
	c = parse_ok(LISTEN);
	ck_assert_ptr_null(gw_config_route_match(c, "/", 1));
	gw_config_free(c);
}
END_TEST

START_TEST(test_listen_forms)
{
	struct gw_config *c = parse_ok("[listen v6]\naddress = [::1]:8443\nhttp2 = off\n"
	                               "[listen any6]\naddress = [::]:80\n"
	                               "[listen star]\naddress = *:80\n"
	                               "[listen lh]\naddress = localhost:81\n"
	                               "[listen ip]\naddress = 10.1.2.3:65535\n"
	                               "[listen u]\naddress = unix:/run/wsgate.sock\n");
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&c->listens[0].addr;
	const struct sockaddr_in *s4;
	const struct sockaddr_un *su;

	ck_assert_uint_eq(c->n_listens, 6);
	ck_assert_int_eq(c->listens[0].kind, GW_ADDR_INET);
	ck_assert_int_eq(s6->sin6_family, AF_INET6);
	ck_assert_uint_eq(ntohs(s6->sin6_port), 8443);
	ck_assert(IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr));
	ck_assert_uint_eq(c->listens[0].addr_len, sizeof(struct sockaddr_in6));
	ck_assert(!c->listens[0].http2);
	ck_assert_str_eq(c->listens[0].address, "[::1]:8443");
	s6 = (const struct sockaddr_in6 *)&c->listens[1].addr;
	ck_assert(IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr));

	s4 = (const struct sockaddr_in *)&c->listens[2].addr;
	ck_assert_int_eq(s4->sin_family, AF_INET);
	ck_assert_uint_eq(ntohl(s4->sin_addr.s_addr), INADDR_ANY);
	ck_assert_uint_eq(ntohs(s4->sin_port), 80);
	ck_assert_uint_eq(c->listens[2].addr_len, sizeof(struct sockaddr_in));
	s4 = (const struct sockaddr_in *)&c->listens[3].addr;
	ck_assert_uint_eq(ntohl(s4->sin_addr.s_addr), INADDR_LOOPBACK);
	s4 = (const struct sockaddr_in *)&c->listens[4].addr;
	ck_assert_uint_eq(ntohl(s4->sin_addr.s_addr), 0x0a010203);
	ck_assert_uint_eq(ntohs(s4->sin_port), 65535);

	ck_assert_int_eq(c->listens[5].kind, GW_ADDR_UNIX);
	ck_assert_str_eq(c->listens[5].unix_path, "/run/wsgate.sock");
	su = (const struct sockaddr_un *)&c->listens[5].addr;
	ck_assert_int_eq(su->sun_family, AF_UNIX);
	ck_assert_str_eq(su->sun_path, "/run/wsgate.sock");
	gw_config_free(c);
}
END_TEST

START_TEST(test_backend_forms)
{
	struct gw_config *c =
	    parse_ok(LISTEN "[route u]\npath = /u\nbackend = unix:/run/app.sock\n"
	                    "[route t]\npath = /t\nbackend = tcp:db.internal:5432\n"
	                    "[route t6]\npath = /t6\nbackend = tcp:[::1]:22\n"
	                    "[route t4]\npath = /t4\nbackend = tcp:10.0.0.1:1\n");

	ck_assert_int_eq(c->routes[0].backend_kind, GW_BACKEND_UNIX);
	ck_assert_str_eq(c->routes[0].backend_path, "/run/app.sock");
	ck_assert_str_eq(c->routes[0].backend, "unix:/run/app.sock");
	ck_assert_int_eq(c->routes[1].backend_kind, GW_BACKEND_TCP);
	ck_assert_str_eq(c->routes[1].backend_host, "db.internal");
	ck_assert_str_eq(c->routes[1].backend_port, "5432");
	ck_assert_str_eq(c->routes[2].backend_host, "::1");
	ck_assert_str_eq(c->routes[2].backend_port, "22");
	ck_assert_str_eq(c->routes[2].backend, "tcp:[::1]:22");
	ck_assert_str_eq(c->routes[3].backend_host, "10.0.0.1");
	ck_assert_str_eq(c->routes[3].backend_port, "1");
	gw_config_free(c);
}
END_TEST

START_TEST(test_comments_and_blanks)
{
	struct gw_config *c = parse_ok("\xef\xbb\xbf# leading comment\r\n"
	                               "  [ listen   a ]   # trailing comment\r\n"
	                               "\taddress\t=\t127.0.0.1:1   # the address\r\n"
	                               "[route r]\n"
	                               "path = /r   \n"
	                               "backend = echo\t# the built-in one\n"
	                               "[server]\n"
	                               "access_log = /var/log/a#b.log   \n");

	ck_assert_str_eq(c->listens[0].name, "a");
	ck_assert_str_eq(c->listens[0].address, "127.0.0.1:1");
	ck_assert_int_eq(c->routes[0].line, 4);
	ck_assert_str_eq(c->routes[0].path, "/r");
	ck_assert_str_eq(c->routes[0].backend, "echo");
	ck_assert_str_eq(c->access_log, "/var/log/a#b.log");
	gw_config_free(c);
	/* '#' glued to a value is part of it, and then invalid here. */
	parse_bad(
	    LISTEN "[route r]\npath = /r#x\n",
	    "t.conf:4: bad path '/r#x' for 'path': a route path has no blanks, '?' or '#' (the "
	    "query is not matched)");
	parse_bad(LISTEN "[route r]\npath = /r\nbackend = echo#x\n",
	          "t.conf:5: bad backend 'echo#x' for 'backend': expected echo, tcp:HOST:PORT or "
	          "unix:/PATH");
}
END_TEST

START_TEST(test_lists)
{
	struct gw_config *c =
	    route_ok("subprotocols = chat.v2 , chat.v1,binary\n"
	             "require_subprotocol = true\n"
	             "allowed_origins = https://a.example, http://b.example:8080, "
	             "null\n");
	const struct gw_route *r = &c->routes[0];

	ck_assert_uint_eq(r->n_subprotocols, 3);
	ck_assert_str_eq(r->subprotocols[0], "chat.v2");
	ck_assert_str_eq(r->subprotocols[1], "chat.v1");
	ck_assert_str_eq(r->subprotocols[2], "binary");
	ck_assert(r->require_subprotocol);
	ck_assert_uint_eq(r->n_allowed_origins, 3);
	ck_assert_str_eq(r->allowed_origins[0], "https://a.example");
	ck_assert_str_eq(r->allowed_origins[1], "http://b.example:8080");
	ck_assert_str_eq(r->allowed_origins[2], "null");
	gw_config_free(c);

	route_bad("subprotocols = a,,b\n", "t.conf:6: empty item in 'subprotocols' list");
	route_bad("subprotocols = a,\n", "t.conf:6: empty item in 'subprotocols' list");
	route_bad("subprotocols = a, b, a\n", "t.conf:6: duplicate item 'a' in 'subprotocols'");
	route_bad(
	    "subprotocols = chat v1\n",
	    "t.conf:6: bad item 'chat v1' in 'subprotocols': subprotocols must be HTTP tokens");
	route_bad("allowed_origins = *\n",
	          "t.conf:6: bad item '*' in 'allowed_origins': '*' is not an origin; leave "
	          "allowed_origins out to allow any");
	route_bad("allowed_origins = example.com\n",
	          "t.conf:6: bad item 'example.com' in 'allowed_origins': expected "
	          "SCHEME://HOST[:PORT] or null");
	route_bad("require_subprotocol = on\n",
	          "t.conf:6: require_subprotocol = on needs a subprotocols list in [route r]");
}
END_TEST

START_TEST(test_distance)
{
	ck_assert_uint_eq(gw_config_value_distance("workers", "workers", 2), 0);
	ck_assert_uint_eq(gw_config_value_distance("worker", "workers", 2), 1);
	ck_assert_uint_eq(gw_config_value_distance("wokrers", "workers", 2), 1);
	ck_assert_uint_eq(gw_config_value_distance("wrkrs", "workers", 2), 2);
	ck_assert_uint_eq(gw_config_value_distance("wrks", "workers", 2), 3);
	ck_assert_uint_eq(gw_config_value_distance("", "ab", 2), 2);
	ck_assert_uint_eq(gw_config_value_distance("abc", "xyz", 5), 3);
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("gw_config");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_syntax_no_equals);
	tcase_add_test(tc, test_unknown_section);
	tcase_add_test(tc, test_unknown_key_hint);
	tcase_add_test(tc, test_duplicate_key);
	tcase_add_test(tc, test_bad_size);
	tcase_add_test(tc, test_bad_duration);
	tcase_add_test(tc, test_bad_boolean);
	tcase_add_test(tc, test_out_of_range);
	tcase_add_test(tc, test_bad_listen_address);
	tcase_add_test(tc, test_bad_backend);
	tcase_add_test(tc, test_route_missing_keys);
	tcase_add_test(tc, test_duplicate_route_path);
	tcase_add_test(tc, test_duplicate_section);
	tcase_add_test(tc, test_tls_cert_without_key);
	tcase_add_test(tc, test_tls_unreadable);
	tcase_add_test(tc, test_no_listen);
	tcase_add_test(tc, test_line_too_long);
	tcase_add_test(tc, test_file_limits);
	tcase_add_test(tc, test_value_forms);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_example_conf_loads);
	tcase_add_test(tc, test_route_match);
	tcase_add_test(tc, test_listen_forms);
	tcase_add_test(tc, test_backend_forms);
	tcase_add_test(tc, test_comments_and_blanks);
	tcase_add_test(tc, test_lists);
	tcase_add_test(tc, test_distance);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
