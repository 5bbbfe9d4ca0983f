/* Unit tests for gw_http1: request-head parsing and response writing. */
#include <check.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gw_http1.h"
#include "ws_error.h"

#define MAX_HEADERS 16

/* Inputs are copied to the very end of a readable region followed by a
 * PROT_NONE page, so an over-read by even one byte faults at once. */
struct guarded {
	char *map;    /* whole mapping: data pages then the guard page */
	size_t pages; /* size of the data part */
	char *data;   /* where the input starts */
};

static struct guarded guard_copy(const char *s, size_t len)
{
	struct guarded g;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	g.pages = (len / page + 1) * page;
	g.map =
	    mmap(NULL, g.pages + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(g.map, MAP_FAILED);
	ck_assert_int_eq(mprotect(g.map + g.pages, page, PROT_NONE), 0);
	g.data = g.map + g.pages - len;
	if (len > 0)
		memcpy(g.data, s, len);
	return g;
}

static void guard_free(struct guarded *g)
{
	munmap(g->map, g->pages + (size_t)sysconf(_SC_PAGESIZE));
}

static struct ws_header hdrs[MAX_HEADERS];

/* Parse len bytes of s (guarded); the request stays valid until the
 * next call, whose guard_free is deferred here. */
static struct guarded last;
static bool have_last;

static int parse_n(const char *s, size_t len, size_t max, struct gw_http1_request *req)
{
	if (have_last)
		guard_free(&last);
	last = guard_copy(s, len);
	have_last = true;
	req->headers = hdrs;
	return gw_http1_parse_request(last.data, len, max, req);
}

static int parse(const char *s, struct gw_http1_request *req)
{
	return parse_n(s, strlen(s), MAX_HEADERS, req);
}

static void span_eq(const char *p, size_t n, const char *want)
{
	ck_assert_uint_eq(n, strlen(want));
	ck_assert(memcmp(p, want, n) == 0);
}

static void teardown(void)
{
	if (have_last)
		guard_free(&last);
	have_last = false;
}

START_TEST(test_simple_get)
{
	const char *s = "GET /chat?room=1&x HTTP/1.1\r\n"
	                "Host: example.com\r\n"
	                "Upgrade:websocket\r\n"
	                "Connection: \t Upgrade \t\r\n"
	                "X-Empty:\r\n"
	                "X-High: caf\xc3\xa9\r\n"
	                "\r\n";
	struct gw_http1_request r;

	ck_assert_int_eq(parse(s, &r), (int)strlen(s));
	span_eq(r.method, r.method_len, "GET");
	span_eq(r.target, r.target_len, "/chat?room=1&x");
	span_eq(r.path, r.path_len, "/chat");
	span_eq(r.query, r.query_len, "room=1&x");
	ck_assert_int_eq(r.version_major, 1);
	ck_assert_int_eq(r.version_minor, 1);
	ck_assert_uint_eq(r.n_headers, 5);
	span_eq(r.headers[0].name, r.headers[0].name_len, "Host");
	span_eq(r.headers[0].value, r.headers[0].value_len, "example.com");
	span_eq(r.headers[1].value, r.headers[1].value_len, "websocket");
	span_eq(r.headers[2].value, r.headers[2].value_len, "Upgrade");
	span_eq(r.headers[3].name, r.headers[3].name_len, "X-Empty");
	ck_assert_uint_eq(r.headers[3].value_len, 0);
	span_eq(r.headers[4].value, r.headers[4].value_len, "caf\xc3\xa9");
	ck_assert(!r.has_content_length);
	ck_assert(!r.transfer_encoding);
}
END_TEST

START_TEST(test_query_split)
{
	struct gw_http1_request r;

	ck_assert_int_gt(parse("GET /a/b HTTP/1.1\r\nHost: h\r\n\r\n", &r), 0);
	span_eq(r.path, r.path_len, "/a/b");
	ck_assert_ptr_null(r.query);
	ck_assert_uint_eq(r.query_len, 0);

	ck_assert_int_gt(parse("GET /a? HTTP/1.1\r\nHost: h\r\n\r\n", &r), 0);
	span_eq(r.path, r.path_len, "/a");
	ck_assert_ptr_nonnull(r.query);
	ck_assert_uint_eq(r.query_len, 0);

	ck_assert_int_gt(parse("GET /?a?b=/c HTTP/1.1\r\nHost: h\r\n\r\n", &r), 0);
	span_eq(r.path, r.path_len, "/");
	span_eq(r.query, r.query_len, "a?b=/c");
}
END_TEST

START_TEST(test_repeated_headers)
{
	const char *s = "GET / HTTP/1.1\r\nHost: h\r\nCookie: a=1\r\nX: y\r\ncookie: b=2\r\n"
	                "COOKIE:c=3\r\n\r\n";
	struct gw_http1_request r;
	const struct ws_header *h;

	ck_assert_int_eq(parse(s, &r), (int)strlen(s));
	ck_assert_uint_eq(gw_http1_header_count(&r, "Cookie"), 3);
	ck_assert_uint_eq(gw_http1_header_count(&r, "x"), 1);
	ck_assert_uint_eq(gw_http1_header_count(&r, "Missing"), 0);
	ck_assert_uint_eq(gw_http1_header_count(&r, "Cooki"), 0);
	h = gw_http1_header(&r, "cOOKIE");
	ck_assert_ptr_nonnull(h);
	span_eq(h->value, h->value_len, "a=1");
	ck_assert_ptr_null(gw_http1_header(&r, "Missing"));
	ck_assert_ptr_null(gw_http1_header(&r, "Cookies"));
}
END_TEST

START_TEST(test_lf_only)
{
	const char *lf = "GET /x HTTP/1.1\nHost: h\nA: b \n\n";
	const char *mixed = "GET /x HTTP/1.1\r\nHost: h\nA: b\r\n\n";
	struct gw_http1_request r;

	ck_assert_int_eq(parse(lf, &r), (int)strlen(lf));
	ck_assert_uint_eq(r.n_headers, 2);
	span_eq(r.headers[1].value, r.headers[1].value_len, "b");
	ck_assert_int_eq(parse(mixed, &r), (int)strlen(mixed));
	ck_assert_uint_eq(r.n_headers, 2);
}
END_TEST

START_TEST(test_leading_empty_line)
{
	struct gw_http1_request r;
	const char *crlf = "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";
	const char *lf = "\nGET / HTTP/1.1\r\nHost: h\r\n\r\n";

	ck_assert_int_eq(parse(crlf, &r), (int)strlen(crlf));
	span_eq(r.method, r.method_len, "GET");
	ck_assert_int_eq(parse(lf, &r), (int)strlen(lf));
	ck_assert_int_eq(parse("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", &r),
	                 GW_HTTP1_ERR_REQUEST_LINE);
	ck_assert_int_eq(parse("\n\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", &r),
	                 GW_HTTP1_ERR_REQUEST_LINE);
	ck_assert_int_eq(parse("\r", &r), 0);
	ck_assert_int_eq(parse("\r\n", &r), 0);
	ck_assert_int_eq(parse("\rX", &r), GW_HTTP1_ERR_REQUEST_LINE);
}
END_TEST

START_TEST(test_versions_and_host)
{
	struct gw_http1_request r;

	ck_assert_int_gt(parse("GET / HTTP/1.0\r\n\r\n", &r), 0);
	ck_assert_int_eq(r.version_minor, 0);
	ck_assert_int_gt(parse("GET / HTTP/1.0\r\nHost: a\r\n\r\n", &r), 0);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\n\r\n", &r), GW_HTTP1_ERR_HOST);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", &r),
	                 GW_HTTP1_ERR_HOST);
	ck_assert_int_gt(parse("GET / HTTP/1.9\r\nHost: a\r\n\r\n", &r), 0);
	ck_assert_int_eq(r.version_minor, 9);
}
END_TEST

START_TEST(test_content_length)
{
	struct gw_http1_request r;
	const char *ok2 = "POST /u HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\n"
	                  "Content-Length: 12\r\n\r\nbody...";

	ck_assert_int_gt(parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n", &r), 0);
	ck_assert(r.has_content_length);
	ck_assert_uint_eq(r.content_length, 0);
	ck_assert_int_eq(parse(ok2, &r), (int)(strlen(ok2) - strlen("body...")));
	ck_assert_uint_eq(r.content_length, 12);
	ck_assert_int_gt(
	    parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9007199254740991\r\n\r\n", &r), 0);
	ck_assert_uint_eq(r.content_length, GW_HTTP1_MAX_CONTENT_LENGTH);
	ck_assert_int_gt(
	    parse("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", &r), 0);
	ck_assert(r.transfer_encoding);
	ck_assert(!r.has_content_length);
}
END_TEST

/* One malformed input and the error it must give. */
struct bad_case {
	const char *in;
	size_t len; /* 0 = strlen(in) */
	int err;
};

static const struct bad_case bad_cases[] = {
    /* request line */
    {"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 0, GW_HTTP1_ERR_REQUEST_LINE},
    {" GET / HTTP/1.1\r\nHost: h\r\n\r\n", 0, GW_HTTP1_ERR_REQUEST_LINE},
    {"GET / HTTP/1.1\rHost: h\r\n\r\n", 0, GW_HTTP1_ERR_REQUEST_LINE},
    {"GET /\r\n\r\n", 0, GW_HTTP1_ERR_REQUEST_LINE},
    {"GET\r\n\r\n", 0, GW_HTTP1_ERR_REQUEST_LINE},
    {"GET \r\n", 0, GW_HTTP1_ERR_REQUEST_LINE},
    {"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 0, GW_HTTP1_ERR_REQUEST_LINE},
    {"\r\n\r\nGET / HTTP/1.1\r\n\r\n", 0, GW_HTTP1_ERR_REQUEST_LINE},
    {"junk\r\nGET / HTTP/1.1\r\n\r\n", 0, GW_HTTP1_ERR_REQUEST_LINE},
    /* method */
    {"G(T / HTTP/1.1\r\n\r\n", 0, GW_HTTP1_ERR_METHOD},
    {"GE\0T / HTTP/1.1\r\n\r\n", 19, GW_HTTP1_ERR_METHOD},
    {"GET\t/ HTTP/1.1\r\n\r\n", 0, GW_HTTP1_ERR_METHOD},
    {"G\xc3\xa9T / HTTP/1.1\r\n\r\n", 0, GW_HTTP1_ERR_METHOD},
    /* target */
    {"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 0, GW_HTTP1_ERR_TARGET},
    {"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", 0, GW_HTTP1_ERR_TARGET},
    {"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 0, GW_HTTP1_ERR_TARGET},
    {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0, GW_HTTP1_ERR_TARGET},
    {"GET /a#b HTTP/1.1\r\n\r\n", 0, GW_HTTP1_ERR_TARGET},
    {"GET /a\x7f HTTP/1.1\r\n\r\n", 0, GW_HTTP1_ERR_TARGET},
    {"GET /a\x80 HTTP/1.1\r\n\r\n", 0, GW_HTTP1_ERR_TARGET},
    {"GET /a\tb HTTP/1.1\r\n\r\n", 0, GW_HTTP1_ERR_TARGET},
    {"GET /a\0b HTTP/1.1\r\n\r\n", 20, GW_HTTP1_ERR_TARGET},
    /* version */
    {"GET / HTTP/1.1x\r\n\r\n", 0, GW_HTTP1_ERR_VERSION},
    {"GET / http/1.1\r\n\r\n", 0, GW_HTTP1_ERR_VERSION},
    {"GET / HTTP/11.1\r\n\r\n", 0, GW_HTTP1_ERR_VERSION},
    {"GET / HTTP/1.1 \r\n\r\n", 0, GW_HTTP1_ERR_VERSION},
    {"GET / HTTP/1\r\n\r\n", 0, GW_HTTP1_ERR_VERSION},
    {"GET / HTTP/1.\r\n\r\n", 0, GW_HTTP1_ERR_VERSION},
    {"GET / HTTP/x.1\r\n\r\n", 0, GW_HTTP1_ERR_VERSION},
    {"GET / HTTP/2.0\r\n\r\n", 0, GW_HTTP1_ERR_VERSION_UNSUPP},
    {"GET / HTTP/3\r\n\r\n", 0, GW_HTTP1_ERR_VERSION_UNSUPP},
    {"GET / HTTP/0.9\r\n\r\n", 0, GW_HTTP1_ERR_VERSION_UNSUPP},
    /* header fields */
    {"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 0, GW_HTTP1_ERR_HEADER},
    {"GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", 0, GW_HTTP1_ERR_HEADER},
    {"GET / HTTP/1.1\r\nHo st: h\r\n\r\n", 0, GW_HTTP1_ERR_HEADER},
    {"GET / HTTP/1.1\r\n: h\r\n\r\n", 0, GW_HTTP1_ERR_HEADER},
    {"GET / HTTP/1.1\r\nHost\r\n\r\n", 0, GW_HTTP1_ERR_HEADER},
    {"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01z\r\n\r\n", 0, GW_HTTP1_ERR_HEADER},
    {"GET / HTTP/1.1\r\nHost: h\r\nX: a\x7fz\r\n\r\n", 0, GW_HTTP1_ERR_HEADER},
    {"GET / HTTP/1.1\r\nHost: h\r\nX: a\0z\r\n\r\n", 32, GW_HTTP1_ERR_HEADER},
    {"GET / HTTP/1.1\r\nHost: h\r\nX\0: a\r\n\r\n", 31, GW_HTTP1_ERR_HEADER},
    {"GET / HTTP/1.1\r\nHost: h\r\nX: a\rz\r\n\r\n", 0, GW_HTTP1_ERR_HEADER},
    {"GET / HTTP/1.1\r\nHost: h\r\n\rX\r\n", 0, GW_HTTP1_ERR_HEADER},
    {"GET / HTTP/1.1\r\nH\xc3\xa9: h\r\n\r\n", 0, GW_HTTP1_ERR_HEADER},
    {"GET / HTTP/1.1\r\n Host: h\r\n\r\n", 0, GW_HTTP1_ERR_OBS_FOLD},
    {"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 0, GW_HTTP1_ERR_OBS_FOLD},
    {"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n\tb\r\n\r\n", 0, GW_HTTP1_ERR_OBS_FOLD},
    /* framing */
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n", 0, GW_HTTP1_ERR_CONTENT_LENGTH},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 0, GW_HTTP1_ERR_CONTENT_LENGTH},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\n", 0, GW_HTTP1_ERR_CONTENT_LENGTH},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 2\r\n\r\n", 0, GW_HTTP1_ERR_CONTENT_LENGTH},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\n", 0, GW_HTTP1_ERR_CONTENT_LENGTH},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 0, GW_HTTP1_ERR_CONTENT_LENGTH},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9007199254740992\r\n\r\n", 0,
     GW_HTTP1_ERR_CONTENT_LENGTH},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", 0,
     GW_HTTP1_ERR_CONTENT_LENGTH},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n", 0,
     GW_HTTP1_ERR_CONTENT_LENGTH},
    {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 0,
     GW_HTTP1_ERR_TE_AND_CL},
    {"POST / HTTP/1.1\r\nHost: h\r\ntransfer-encoding: x\r\nContent-Length: 0\r\n\r\n", 0,
     GW_HTTP1_ERR_TE_AND_CL},
    /* Host */
    {"GET / HTTP/1.1\r\nX: y\r\n\r\n", 0, GW_HTTP1_ERR_HOST},
};

/* Every case gives its error; every prefix gives 0 or that same error
 * (never success, never a different error).  One test for the whole
 * table: a fork per case costs more than the parsing under ASan. */
START_TEST(test_bad_requests)
{
	for (size_t ci = 0; ci < sizeof(bad_cases) / sizeof(bad_cases[0]); ci++) {
		const struct bad_case *c = &bad_cases[ci];
		size_t len = c->len ? c->len : strlen(c->in);
		struct gw_http1_request r;
		int rc = parse_n(c->in, len, MAX_HEADERS, &r);

		ck_assert_msg(rc == c->err, "case %zu: got %d want %d", ci, rc, c->err);
		for (size_t k = 0; k < len; k++) {
			rc = parse_n(c->in, k, MAX_HEADERS, &r);
			ck_assert_msg(rc == 0 || rc == c->err, "case %zu prefix %zu: got %d", ci, k,
			              rc);
		}
		ck_assert_int_ge(gw_http1_error_status(c->err), 400);
	}
}
END_TEST

/* Errors are found as soon as the bad byte is in, not at the blank line. */
START_TEST(test_early_errors)
{
	struct gw_http1_request r;

	ck_assert_int_eq(parse("G(", &r), GW_HTTP1_ERR_METHOD);
	ck_assert_int_eq(parse("GET *", &r), GW_HTTP1_ERR_TARGET);
	ck_assert_int_eq(parse("GET / HTTP/2.0\r", &r), GW_HTTP1_ERR_VERSION_UNSUPP);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost :", &r), GW_HTTP1_ERR_HEADER);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: h\r\n ", &r), GW_HTTP1_ERR_OBS_FOLD);
	ck_assert_int_eq(parse("\x16\x03", &r), GW_HTTP1_ERR_REQUEST_LINE);
	/* and not before: these are valid prefixes */
	ck_assert_int_eq(parse("GET / HTTP/2", &r), 0);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost: h\r", &r), 0);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nHost:   ", &r), 0);
	ck_assert_int_eq(parse("", &r), 0);
}
END_TEST

START_TEST(test_incremental)
{
	const char *s = "GET /ws?x=1 HTTP/1.1\r\n"
	                "Host: server.example.com\r\n"
	                "Upgrade: websocket\r\n"
	                "Connection: Upgrade\r\n"
	                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                "Sec-WebSocket-Version: 13\r\n"
	                "\r\n"
	                "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
	size_t total = strlen(s);
	size_t head = (size_t)(strstr(s, "\r\n\r\n") - s) + 4;
	struct gw_http1_request r;

	for (size_t k = 0; k < head; k++)
		ck_assert_msg(parse_n(s, k, MAX_HEADERS, &r) == 0, "prefix %zu", k);
	for (size_t k = head; k <= total; k++) {
		ck_assert_int_eq(parse_n(s, k, MAX_HEADERS, &r), (int)head);
		ck_assert_uint_eq(r.n_headers, 5);
		span_eq(r.headers[3].value, r.headers[3].value_len, "dGhlIHNhbXBsZSBub25jZQ==");
	}
}
END_TEST

START_TEST(test_max_headers)
{
	const char *s = "GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n";
	struct gw_http1_request r;

	ck_assert_int_eq(parse_n(s, strlen(s), 3, &r), (int)strlen(s));
	ck_assert_uint_eq(r.n_headers, 3);
	ck_assert_int_eq(parse_n(s, strlen(s), 2, &r), GW_HTTP1_ERR_TOO_MANY_HEADERS);
	ck_assert_int_eq(gw_http1_error_status(GW_HTTP1_ERR_TOO_MANY_HEADERS), 431);
	/* max 0: only a head without fields (HTTP/1.0) can pass. */
	ck_assert_int_gt(parse_n("GET / HTTP/1.0\r\n\r\n", 18, 0, &r), 0);
	ck_assert_int_eq(parse_n(s, strlen(s), 0, &r), GW_HTTP1_ERR_TOO_MANY_HEADERS);
	/* headers NULL with room promised is a caller bug */
	r.headers = NULL;
	ck_assert_int_eq(gw_http1_parse_request(s, strlen(s), 3, &r), GW_HTTP1_ERR_INVALID_ARG);
	ck_assert_int_eq(gw_http1_parse_request(s, strlen(s), 3, NULL), GW_HTTP1_ERR_INVALID_ARG);
}
END_TEST

START_TEST(test_check_limit)
{
	ck_assert_int_eq(gw_http1_check_limit(0, 100, 100), GW_HTTP1_ERR_HEAD_TOO_LARGE);
	ck_assert_int_eq(gw_http1_check_limit(0, 101, 100), GW_HTTP1_ERR_HEAD_TOO_LARGE);
	ck_assert_int_eq(gw_http1_check_limit(0, 99, 100), 0);
	ck_assert_int_eq(gw_http1_check_limit(100, 150, 100), 100);
	ck_assert_int_eq(gw_http1_check_limit(101, 150, 100), GW_HTTP1_ERR_HEAD_TOO_LARGE);
	ck_assert_int_eq(gw_http1_check_limit(GW_HTTP1_ERR_HEADER, 150, 100), GW_HTTP1_ERR_HEADER);
	ck_assert_int_eq(gw_http1_error_status(GW_HTTP1_ERR_HEAD_TOO_LARGE), 431);
}
END_TEST

START_TEST(test_error_texts)
{
	static const struct {
		int err;
		int status;
	} t[] = {
	    {GW_HTTP1_ERR_REQUEST_LINE, 400},   {GW_HTTP1_ERR_METHOD, 400},
	    {GW_HTTP1_ERR_TARGET, 400},         {GW_HTTP1_ERR_VERSION, 400},
	    {GW_HTTP1_ERR_VERSION_UNSUPP, 505}, {GW_HTTP1_ERR_HEADER, 400},
	    {GW_HTTP1_ERR_OBS_FOLD, 400},       {GW_HTTP1_ERR_TOO_MANY_HEADERS, 431},
	    {GW_HTTP1_ERR_CONTENT_LENGTH, 400}, {GW_HTTP1_ERR_TE_AND_CL, 400},
	    {GW_HTTP1_ERR_HOST, 400},           {GW_HTTP1_ERR_HEAD_TOO_LARGE, 431},
	    {GW_HTTP1_ERR_INVALID_ARG, 500},
	};
	size_t n = sizeof(t) / sizeof(t[0]);

	for (size_t k = 0; k < n; k++) {
		ck_assert_int_eq(gw_http1_error_status(t[k].err), t[k].status);
		ck_assert_str_ne(gw_http1_strerror(t[k].err), "unknown error");
		for (size_t j = 0; j < k; j++)
			ck_assert_str_ne(gw_http1_strerror(t[k].err), gw_http1_strerror(t[j].err));
	}
	ck_assert_str_eq(gw_http1_strerror(-999), "unknown error");
	ck_assert_int_eq(gw_http1_error_status(-999), 500);
}
END_TEST

START_TEST(test_to_ws_request)
{
	struct gw_http1_request r;
	struct ws_h1_request w;

	ck_assert_int_gt(parse("GET /a?b HTTP/1.1\r\nHost: h\r\nX: y\r\n\r\n", &r), 0);
	gw_http1_to_ws_request(&r, &w);
	span_eq(w.method, w.method_len, "GET");
	span_eq(w.target, w.target_len, "/a?b");
	ck_assert_int_eq(w.version_major, 1);
	ck_assert_int_eq(w.version_minor, 1);
	ck_assert_ptr_eq(w.headers, r.headers);
	ck_assert_uint_eq(w.n_headers, 2);
}
END_TEST

START_TEST(test_reasons)
{
	static const int codes[] = {101, 200, 206, 304, 400, 403, 404, 405, 408,
	                            413, 426, 431, 500, 501, 502, 503, 504, 505};

	for (size_t k = 0; k < sizeof(codes) / sizeof(codes[0]); k++)
		ck_assert_str_ne(gw_http1_reason(codes[k]), "Unknown");
	ck_assert_str_eq(gw_http1_reason(101), "Switching Protocols");
	ck_assert_str_eq(gw_http1_reason(426), "Upgrade Required");
	ck_assert_str_eq(gw_http1_reason(431), "Request Header Fields Too Large");
	ck_assert_str_eq(gw_http1_reason(505), "HTTP Version Not Supported");
	ck_assert_str_eq(gw_http1_reason(599), "Unknown");
}
END_TEST

/* Check that formatting into every smaller buffer fails cleanly (0) and
 * never writes past cap. */
static void check_all_caps(const char *want, int status, const char *msg)
{
	size_t n = strlen(want);
	char *buf = malloc(n + 16);

	for (size_t cap = 0; cap < n; cap++) {
		memset(buf, 'Z', n + 16);
		ck_assert_uint_eq(gw_http1_error_response(buf, cap, status, msg, NULL, 0, false),
		                  0);
		for (size_t k = cap; k < n + 16; k++)
			ck_assert_int_eq(buf[k], 'Z');
	}
	ck_assert_uint_eq(gw_http1_error_response(buf, n, status, msg, NULL, 0, false), n);
	free(buf);
}

START_TEST(test_error_response_404)
{
	const char *want = "HTTP/1.1 404 Not Found\r\n"
	                   "Content-Type: text/plain; charset=utf-8\r\n"
	                   "Content-Length: 31\r\n"
	                   "Connection: close\r\n"
	                   "\r\n"
	                   "404 Not Found: no route for /x\n";
	char out[GW_HTTP1_ERROR_RESPONSE_MAX];
	size_t n =
	    gw_http1_error_response(out, sizeof(out), 404, "no route for /x", NULL, 0, false);

	ck_assert_uint_eq(n, strlen(want));
	ck_assert(memcmp(out, want, n) == 0);
	check_all_caps(want, 404, "no route for /x");

	/* HEAD: same head, no body */
	n = gw_http1_error_response(out, sizeof(out), 404, "no route for /x", NULL, 0, true);
	ck_assert_uint_eq(n, strlen(want) - 31);
	ck_assert(memcmp(out, want, n) == 0);
}
END_TEST

START_TEST(test_error_response_426)
{
	const char *want = "HTTP/1.1 426 Upgrade Required\r\n"
	                   "Content-Type: text/plain; charset=utf-8\r\n"
	                   "Content-Length: 21\r\n"
	                   "Connection: close\r\n"
	                   "Upgrade: websocket\r\n"
	                   "Sec-WebSocket-Version: 13\r\n"
	                   "\r\n"
	                   "426 Upgrade Required\n";
	char out[GW_HTTP1_ERROR_RESPONSE_MAX];
	size_t n = gw_http1_error_response(out, sizeof(out), 426, NULL, NULL, 0, false);

	ck_assert_uint_eq(n, strlen(want));
	ck_assert(memcmp(out, want, n) == 0);
	check_all_caps(want, 426, NULL);
}
END_TEST

START_TEST(test_error_response_extras)
{
	const char *want405 = "HTTP/1.1 405 Method Not Allowed\r\n"
	                      "Content-Type: text/plain; charset=utf-8\r\n"
	                      "Content-Length: 23\r\n"
	                      "Connection: close\r\n"
	                      "Allow: GET, HEAD\r\n"
	                      "Retry-After: 5\r\n"
	                      "\r\n"
	                      "405 Method Not Allowed\n";
	const struct ws_header extra = {"Retry-After", 11, "5", 1};
	const struct ws_header bad = {"X", 1, "a\r\nSet-Cookie: x", 16};
	char out[GW_HTTP1_ERROR_RESPONSE_MAX];
	char big[2 * GW_HTTP1_ERROR_MESSAGE_MAX];
	size_t n;
	const char *body;

	n = gw_http1_error_response(out, sizeof(out), 405, NULL, &extra, 1, false);
	ck_assert_uint_eq(n, strlen(want405));
	ck_assert(memcmp(out, want405, n) == 0);

	/* response splitting through the message is neutralised */
	n = gw_http1_error_response(out, sizeof(out), 400, "a\r\nSet-Cookie: x=1\x01\xff", NULL, 0,
	                            false);
	ck_assert_uint_gt(n, 0);
	body = memmem(out, n, "\r\n\r\n", 4);
	ck_assert_ptr_nonnull(body);
	body += 4;
	ck_assert_uint_eq((size_t)(out + n - body),
	                  strlen("400 Bad Request: a??Set-Cookie: x=1??\n"));
	ck_assert(
	    memcmp(body, "400 Bad Request: a??Set-Cookie: x=1??\n", (size_t)(out + n - body)) == 0);

	/* and through a header, refused */
	ck_assert_uint_eq(gw_http1_error_response(out, sizeof(out), 400, NULL, &bad, 1, false), 0);

	/* long messages are cut; the fixed bound holds */
	memset(big, 'm', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	n = gw_http1_error_response(out, sizeof(out), 431, big, NULL, 0, false);
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_le(n, GW_HTTP1_ERROR_RESPONSE_MAX);
	body = memmem(out, n, "\r\n\r\n", 4) + 4;
	ck_assert_uint_eq((size_t)(out + n - body),
	                  strlen("431 Request Header Fields Too Large: \n") +
	                      GW_HTTP1_ERROR_MESSAGE_MAX);
	ck_assert_uint_eq(gw_http1_error_response(out, sizeof(out), 42, NULL, NULL, 0, false), 0);
}
END_TEST

START_TEST(test_format_response)
{
	const struct ws_header h[] = {
	    {"Content-Type", 12, "text/html", 9},
	    {"ETag", 4, "\"1-2\"", 5},
	};
	const struct ws_header bad_name = {"X\nY", 3, "v", 1};
	const char *want = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nETag: \"1-2\"\r\n"
	                   "Content-Length: 5\r\n\r\nhello";
	const char *want304 = "HTTP/1.1 304 Not Modified\r\nETag: \"1-2\"\r\n\r\n";
	char out[256];
	size_t n;

	n = gw_http1_format_response(out, sizeof(out), 200, h, 2, "hello", 5, false);
	ck_assert_uint_eq(n, strlen(want));
	ck_assert(memcmp(out, want, n) == 0);
	n = gw_http1_format_response(out, sizeof(out), 200, h, 2, "hello", 5, true);
	ck_assert_uint_eq(n, strlen(want) - 5);
	ck_assert(memcmp(out, want, n) == 0);
	n = gw_http1_format_response(out, sizeof(out), 304, &h[1], 1, NULL, 0, false);
	ck_assert_uint_eq(n, strlen(want304));
	ck_assert(memcmp(out, want304, n) == 0);
	for (size_t cap = 0; cap < strlen(want); cap++)
		ck_assert_uint_eq(gw_http1_format_response(out, cap, 200, h, 2, "hello", 5, false),
		                  0);
	ck_assert_uint_eq(
	    gw_http1_format_response(out, sizeof(out), 200, &bad_name, 1, NULL, 0, false), 0);
	ck_assert_uint_eq(gw_http1_format_response(out, sizeof(out), 99, NULL, 0, NULL, 0, false),
	                  0);
}
END_TEST

START_TEST(test_format_upgrade)
{
	/* RFC 6455 §1.3 example, validated by libws then answered. */
	const char *s = "GET /chat HTTP/1.1\r\n"
	                "Host: server.example.com\r\n"
	                "Upgrade: websocket\r\n"
	                "Connection: Upgrade\r\n"
	                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                "Sec-WebSocket-Version: 13\r\n"
	                "\r\n";
	struct gw_http1_request r;
	struct ws_h1_request w;
	struct ws_upgrade_options opts;
	struct ws_upgrade_result res;
	char out[GW_HTTP1_UPGRADE_RESPONSE_BASE];
	size_t n;

	memset(&opts, 0, sizeof(opts));
	ck_assert_int_eq(parse(s, &r), (int)strlen(s));
	gw_http1_to_ws_request(&r, &w);
	ck_assert_int_eq(ws_h1_upgrade_validate(&w, &opts, &res), WS_OK);
	n = gw_http1_format_upgrade(out, sizeof(out), &res);
	ck_assert_uint_gt(n, 0);
	ck_assert(memcmp(out, "HTTP/1.1 101 Switching Protocols\r\n", 34) == 0);
	ck_assert_ptr_nonnull(
	    memmem(out, n, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", 54));
	ck_assert_ptr_nonnull(memmem(out, n, "\r\nUpgrade: websocket\r\n", 22));
	ck_assert(n >= 4 && memcmp(out + n - 4, "\r\n\r\n", 4) == 0);
	ck_assert_ptr_null(memmem(out, n, "Content-Length", 14));
	ck_assert_uint_eq(gw_http1_format_upgrade(out, 40, &res), 0);
}
END_TEST

static Suite *http1_suite(void)
{
	Suite *s = suite_create("gw_http1");
	TCase *tc = tcase_create("parse");
	TCase *tw = tcase_create("write");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_simple_get);
	tcase_add_test(tc, test_query_split);
	tcase_add_test(tc, test_repeated_headers);
	tcase_add_test(tc, test_lf_only);
	tcase_add_test(tc, test_leading_empty_line);
	tcase_add_test(tc, test_versions_and_host);
	tcase_add_test(tc, test_content_length);
	tcase_add_test(tc, test_bad_requests);
	tcase_add_test(tc, test_early_errors);
	tcase_add_test(tc, test_incremental);
	tcase_add_test(tc, test_max_headers);
	tcase_add_test(tc, test_check_limit);
	tcase_add_test(tc, test_error_texts);
	tcase_add_test(tc, test_to_ws_request);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(tw, NULL, teardown);
	tcase_add_test(tw, test_reasons);
	tcase_add_test(tw, test_error_response_404);
	tcase_add_test(tw, test_error_response_426);
	tcase_add_test(tw, test_error_response_extras);
	tcase_add_test(tw, test_format_response);
	tcase_add_test(tw, test_format_upgrade);
	suite_add_tcase(s, tw);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(http1_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
