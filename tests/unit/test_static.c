/* Unit tests for gw_static: safe resolution under a web root. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "gw_static.h"

/* Layout made by setup() under a fresh temporary directory BASE:
 *   BASE/root/            the web root (ROOT)
 *   BASE/outside/secret.txt
 *   BASE/rootx/secret.txt a sibling whose name extends ROOT's */
static char base[PATH_MAX];
static char root[PATH_MAX + 8];

static void write_file(const char *rel, const char *content)
{
	char p[PATH_MAX * 2];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", base, rel);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(content, f);
	fclose(f);
}

static void make_dir(const char *rel)
{
	char p[PATH_MAX * 2];

	snprintf(p, sizeof(p), "%s/%s", base, rel);
	ck_assert_int_eq(mkdir(p, 0755), 0);
}

static void make_link(const char *target, const char *rel)
{
	char p[PATH_MAX * 2];

	snprintf(p, sizeof(p), "%s/%s", base, rel);
	ck_assert_int_eq(symlink(target, p), 0);
}

static void setup(void)
{
	char tmpl[] = "/tmp/gw_static_test.XXXXXX";
	char abs_target[PATH_MAX * 2];
	char p[PATH_MAX * 2];

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	ck_assert_ptr_nonnull(realpath(tmpl, base));
	make_dir("root");
	make_dir("outside");
	make_dir("rootx");
	snprintf(root, sizeof(root), "%s/root", base);

	write_file("outside/secret.txt", "secret\n");
	write_file("rootx/secret.txt", "sibling secret\n");
	write_file("root/index.html", "<h1>root</h1>\n");
	write_file("root/a.css", "body{}\n");
	write_file("root/b.js", "1;\n");
	write_file("root/c.mjs", "export{};\n");
	write_file("root/d.json", "{}\n");
	write_file("root/e.png", "PNG");
	write_file("root/f.jpg", "JPG");
	write_file("root/g.svg", "<svg/>");
	write_file("root/h.ico", "ICO");
	write_file("root/i.txt", "text\n");
	write_file("root/j.wasm", "\1asm");
	write_file("root/k.js.map", "{}");
	write_file("root/noext", "?");
	write_file("root/UPPER.HTML", "<p>");
	write_file("root/sp ace.txt", "space\n");
	write_file("root/%41.txt", "literal percent\n");
	make_dir("root/sub");
	write_file("root/sub/index.html", "<h1>sub</h1>\n");
	write_file("root/sub/x.txt", "x\n");
	make_dir("root/noindex");
	write_file("root/noindex/file.txt", "f\n");
	make_dir("root/dirindex");
	make_dir("root/dirindex/index.html");

	/* inside: relative, absolute, to a directory */
	make_link("a.css", "root/link_in");
	snprintf(abs_target, sizeof(abs_target), "%s/root/sub/x.txt", base);
	make_link(abs_target, "root/link_in_abs");
	make_link("sub", "root/link_dir");
	make_link("../index.html", "root/sub/up.html");
	/* outside: relative, absolute, via a directory, to a sibling */
	make_link("../outside/secret.txt", "root/out_rel");
	snprintf(abs_target, sizeof(abs_target), "%s/outside/secret.txt", base);
	make_link(abs_target, "root/out_abs");
	make_link("../outside", "root/out_dir");
	make_link("../rootx/secret.txt", "root/out_sibling");
	make_link("/etc/passwd", "root/passwd");
	make_link("missing", "root/dangling");
	make_link("loop2", "root/loop1");
	make_link("loop1", "root/loop2");

	snprintf(p, sizeof(p), "%s/root/fifo", base);
	ck_assert_int_eq(mkfifo(p, 0644), 0);
}

static void teardown(void)
{
	char cmd[PATH_MAX + 32];

	if (base[0] == '\0' || strncmp(base, "/tmp/gw_static_test.", 20) != 0)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	ck_assert_int_eq(system(cmd), 0);
	base[0] = '\0';
}

/* Loop index 0 runs with openat2, 1 with the realpath fallback. */
static void set_mode(int i)
{
	gw_static_use_openat2(i == 0);
}

static int open_path(const char *path, struct gw_static_file *f)
{
	return gw_static_open(root, path, strlen(path), f);
}

/* Serve path and compare the content with want. */
static void expect_file(const char *path, const char *want, const char *type)
{
	struct gw_static_file f;
	char buf[256];
	ssize_t n;
	int rc = open_path(path, &f);

	ck_assert_msg(rc == 0, "%s: %d", path, rc);
	ck_assert_int_ge(f.fd, 0);
	ck_assert_uint_eq(f.size, strlen(want));
	n = read(f.fd, buf, sizeof(buf));
	ck_assert_int_eq(n, (ssize_t)strlen(want));
	ck_assert(memcmp(buf, want, (size_t)n) == 0);
	if (type != NULL)
		ck_assert_str_eq(f.content_type, type);
	/* the descriptor is blocking again and closes on exec */
	ck_assert_int_eq(fcntl(f.fd, F_GETFL) & O_NONBLOCK, 0);
	ck_assert_int_ne(fcntl(f.fd, F_GETFD) & FD_CLOEXEC, 0);
	gw_static_close(&f);
	ck_assert_int_eq(f.fd, -1);
}

static void expect_error(const char *path, int err)
{
	struct gw_static_file f;
	int rc = open_path(path, &f);

	ck_assert_msg(rc == err, "%s: got %d want %d", path, rc, err);
	ck_assert_int_eq(f.fd, -1);
}

START_TEST(test_serve_types)
{
	set_mode(_i);
	expect_file("/a.css", "body{}\n", "text/css; charset=utf-8");
	expect_file("/b.js", "1;\n", "text/javascript; charset=utf-8");
	expect_file("/c.mjs", "export{};\n", "text/javascript; charset=utf-8");
	expect_file("/d.json", "{}\n", "application/json");
	expect_file("/e.png", "PNG", "image/png");
	expect_file("/f.jpg", "JPG", "image/jpeg");
	expect_file("/g.svg", "<svg/>", "image/svg+xml");
	expect_file("/h.ico", "ICO", "image/vnd.microsoft.icon");
	expect_file("/i.txt", "text\n", "text/plain; charset=utf-8");
	expect_file("/j.wasm", "\1asm", "application/wasm");
	expect_file("/k.js.map", "{}", "application/json");
	expect_file("/noext", "?", "application/octet-stream");
	expect_file("/UPPER.HTML", "<p>", "text/html; charset=utf-8");
}
END_TEST

START_TEST(test_directory_index)
{
	set_mode(_i);
	expect_file("/", "<h1>root</h1>\n", "text/html; charset=utf-8");
	expect_file("/sub", "<h1>sub</h1>\n", "text/html; charset=utf-8");
	expect_file("/sub/", "<h1>sub</h1>\n", "text/html; charset=utf-8");
	expect_file("//sub//./", "<h1>sub</h1>\n", NULL);
	expect_file("/link_dir/", "<h1>sub</h1>\n", NULL);
	expect_error("/noindex", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/noindex/", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/dirindex/", GW_STATIC_ERR_NOT_FOUND);
	expect_file("/noindex/file.txt", "f\n", NULL);
}
END_TEST

START_TEST(test_decoding_and_query)
{
	set_mode(_i);
	expect_file("/sp%20ace.txt", "space\n", NULL);
	expect_file("/%61.css", "body{}\n", "text/css; charset=utf-8");
	expect_file("/%2541.txt", "literal percent\n", NULL);
	expect_file("/sub%2fx.txt", "x\n", NULL);
	expect_file("/sub%2Fx.txt", "x\n", NULL);
	expect_file("/a.css?x=1", "body{}\n", NULL);
	expect_file("/a.css?../../outside/secret.txt", "body{}\n", NULL);
	expect_file("/./a.css", "body{}\n", NULL);
	expect_file("/%2e/a.css", "body{}\n", NULL);
	expect_error("/a.css%3fx", GW_STATIC_ERR_NOT_FOUND);
}
END_TEST

START_TEST(test_dot_dot)
{
	set_mode(_i);
	expect_error("/..", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/../outside/secret.txt", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/sub/../../outside/secret.txt", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/%2e%2e/outside/secret.txt", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/%2E%2E/outside/secret.txt", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/%2e./outside/secret.txt", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/.%2E/outside/secret.txt", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/..%2foutside/secret.txt", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/..%2Foutside%2Fsecret.txt", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/%2e%2e%2foutside%2fsecret.txt", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/sub/..", GW_STATIC_ERR_NOT_FOUND);
	/* not a ".." segment: a file name with dots */
	expect_error("/...", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/..a", GW_STATIC_ERR_NOT_FOUND);
}
END_TEST

START_TEST(test_symlinks)
{
	set_mode(_i);
	expect_file("/link_in", "body{}\n", "application/octet-stream");
	expect_file("/link_in_abs", "x\n", NULL);
	expect_file("/sub/up.html", "<h1>root</h1>\n", NULL);
	expect_error("/out_rel", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/out_abs", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/out_dir/secret.txt", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/out_dir", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/out_sibling", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/passwd", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/dangling", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/loop1", GW_STATIC_ERR_NOT_FOUND);
}
END_TEST

START_TEST(test_bad_paths)
{
	struct gw_static_file f;
	char long_path[GW_STATIC_PATH_MAX + 16];

	set_mode(_i);
	expect_error("/a%00.css", GW_STATIC_ERR_BAD_PATH);
	expect_error("/%00", GW_STATIC_ERR_BAD_PATH);
	expect_error("/a%zz", GW_STATIC_ERR_BAD_PATH);
	expect_error("/a%", GW_STATIC_ERR_BAD_PATH);
	expect_error("/a%4", GW_STATIC_ERR_BAD_PATH);
	expect_error("/a%4g", GW_STATIC_ERR_BAD_PATH);
	expect_error("a.css", GW_STATIC_ERR_BAD_PATH);
	expect_error("", GW_STATIC_ERR_BAD_PATH);
	expect_error("?x", GW_STATIC_ERR_BAD_PATH);
	/* a raw NUL inside the span (not a C string end) */
	ck_assert_int_eq(gw_static_open(root, "/a\0.css", 7, &f), GW_STATIC_ERR_BAD_PATH);
	/* the span is honoured, not the C string */
	ck_assert_int_eq(gw_static_open(root, "/a.cssXYZ", 6, &f), 0);
	gw_static_close(&f);

	long_path[0] = '/';
	memset(long_path + 1, 'a', sizeof(long_path) - 2);
	long_path[sizeof(long_path) - 1] = '\0';
	expect_error(long_path, GW_STATIC_ERR_TOO_LONG);

	ck_assert_int_eq(gw_static_open(NULL, "/", 1, &f), GW_STATIC_ERR_INVALID_ARG);
	ck_assert_int_eq(gw_static_open("relative", "/", 1, &f), GW_STATIC_ERR_INVALID_ARG);
	ck_assert_int_eq(gw_static_open(root, "/", 1, NULL), GW_STATIC_ERR_INVALID_ARG);
}
END_TEST

START_TEST(test_not_regular)
{
	set_mode(_i);
	/* must not block on a FIFO with no writer */
	expect_error("/fifo", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/missing.html", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/sub/missing/x", GW_STATIC_ERR_NOT_FOUND);
	expect_error("/a.css/x", GW_STATIC_ERR_NOT_FOUND);
}
END_TEST

START_TEST(test_root_slash)
{
	/* root "/" itself: the prefix check must not need a second slash */
	struct gw_static_file f;
	char path[PATH_MAX * 2];

	set_mode(_i);
	snprintf(path, sizeof(path), "%s/a.css", root);
	ck_assert_int_eq(gw_static_open("/", path, strlen(path), &f), 0);
	ck_assert_uint_eq(f.size, 7);
	gw_static_close(&f);
}
END_TEST

START_TEST(test_metadata)
{
	struct gw_static_file f;
	struct ws_header h[GW_STATIC_HEADERS_MAX];
	struct timeval tv[2] = {{784111777, 0}, {784111777, 0}};
	char p[PATH_MAX * 2];
	size_t n;

	/* Sun, 06 Nov 1994 08:49:37 GMT, the RFC's example date */
	snprintf(p, sizeof(p), "%s/i.txt", root);
	ck_assert_int_eq(utimes(p, tv), 0);
	ck_assert_int_eq(open_path("/i.txt", &f), 0);
	ck_assert_str_eq(f.last_modified, "Sun, 06 Nov 1994 08:49:37 GMT");
	ck_assert_str_eq(f.etag, "\"5-2ebc98a1\"");
	ck_assert_str_eq(f.length, "5");
	ck_assert_int_eq(f.mtime.tv_sec, 784111777);

	n = gw_static_headers(&f, h, GW_STATIC_HEADERS_MAX);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(h[0].name, "Content-Type");
	ck_assert_str_eq(h[0].value, "text/plain; charset=utf-8");
	ck_assert_uint_eq(h[0].value_len, strlen(h[0].value));
	ck_assert_str_eq(h[1].name, "Content-Length");
	ck_assert_str_eq(h[1].value, "5");
	ck_assert_str_eq(h[2].name, "Last-Modified");
	ck_assert_str_eq(h[3].name, "ETag");
	ck_assert_str_eq(h[3].value, "\"5-2ebc98a1\"");
	ck_assert_uint_eq(h[3].name_len, 4);
	ck_assert_uint_eq(gw_static_headers(&f, h, 2), 2);
	gw_static_close(&f);
	gw_static_close(&f); /* idempotent */
}
END_TEST

static bool nm(const struct gw_static_file *f, const char *inm, const char *ims)
{
	return gw_static_not_modified(f, inm, inm ? strlen(inm) : 0, ims, ims ? strlen(ims) : 0);
}

START_TEST(test_conditional)
{
	struct gw_static_file f;
	struct timeval tv[2] = {{784111777, 0}, {784111777, 0}};
	char p[PATH_MAX * 2];

	snprintf(p, sizeof(p), "%s/i.txt", root);
	ck_assert_int_eq(utimes(p, tv), 0);
	ck_assert_int_eq(open_path("/i.txt", &f), 0);

	ck_assert(nm(&f, "\"5-2ebc98a1\"", NULL));
	ck_assert(nm(&f, "W/\"5-2ebc98a1\"", NULL));
	ck_assert(nm(&f, "\"a\", W/\"b\" ,\"5-2ebc98a1\"", NULL));
	ck_assert(nm(&f, "*", NULL));
	ck_assert(!nm(&f, "\"5-2ebc98a0\"", NULL));
	ck_assert(!nm(&f, "\"5-2ebc98a1", NULL));
	ck_assert(!nm(&f, "5-2ebc98a1", NULL));
	ck_assert(!nm(&f, "", NULL));
	/* If-None-Match wins over If-Modified-Since */
	ck_assert(!nm(&f, "\"other\"", "Sun, 06 Nov 1994 08:49:37 GMT"));

	ck_assert(nm(&f, NULL, "Sun, 06 Nov 1994 08:49:37 GMT"));
	ck_assert(nm(&f, NULL, "Mon, 07 Nov 1994 00:00:00 GMT"));
	ck_assert(!nm(&f, NULL, "Sun, 06 Nov 1994 08:49:36 GMT"));
	ck_assert(!nm(&f, NULL, "Sunday, 06-Nov-94 08:49:37 GMT"));
	ck_assert(!nm(&f, NULL, "Sun Nov  6 08:49:37 1994"));
	ck_assert(!nm(&f, NULL, "Sun, 06 Xyz 1994 08:49:37 GMT"));
	ck_assert(!nm(&f, NULL, "Sun, 06 Nov 1994 08:49:37 UTC"));
	ck_assert(!nm(&f, NULL, "garbage"));
	ck_assert(!nm(&f, NULL, NULL));
	gw_static_close(&f);
}
END_TEST

START_TEST(test_content_type_table)
{
	ck_assert_str_eq(gw_static_content_type("x.HTM", 5), "text/html; charset=utf-8");
	ck_assert_str_eq(gw_static_content_type("x.jpeg", 6), "image/jpeg");
	ck_assert_str_eq(gw_static_content_type("x.", 2), "application/octet-stream");
	ck_assert_str_eq(gw_static_content_type(".css", 4), "text/css; charset=utf-8");
	ck_assert_str_eq(gw_static_content_type("dir.css/file", 12), "application/octet-stream");
	ck_assert_str_eq(gw_static_content_type("x.cssx", 6), "application/octet-stream");
	ck_assert_str_eq(gw_static_content_type("x.cs", 4), "application/octet-stream");
	ck_assert_str_eq(gw_static_content_type("x.css", 4), "application/octet-stream");
}
END_TEST

START_TEST(test_error_texts)
{
	ck_assert_int_eq(gw_static_error_status(GW_STATIC_ERR_NOT_FOUND), 404);
	ck_assert_int_eq(gw_static_error_status(GW_STATIC_ERR_BAD_PATH), 400);
	ck_assert_int_eq(gw_static_error_status(GW_STATIC_ERR_TOO_LONG), 414);
	ck_assert_int_eq(gw_static_error_status(GW_STATIC_ERR_INVALID_ARG), 500);
	ck_assert_str_ne(gw_static_strerror(GW_STATIC_ERR_NOT_FOUND), "unknown error");
	ck_assert_str_ne(gw_static_strerror(GW_STATIC_ERR_BAD_PATH), "unknown error");
	ck_assert_str_ne(gw_static_strerror(GW_STATIC_ERR_TOO_LONG), "unknown error");
	ck_assert_str_eq(gw_static_strerror(-99), "unknown error");
}
END_TEST

static Suite *static_suite(void)
{
	Suite *s = suite_create("gw_static");
	TCase *tc = tcase_create("resolve");
	TCase *tm = tcase_create("describe");

	/* Unchecked fixtures: the tree is built once per case in the parent
	 * process and removed even when a test fails (tests only read it). */
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_serve_types, 0, 2);
	tcase_add_loop_test(tc, test_directory_index, 0, 2);
	tcase_add_loop_test(tc, test_decoding_and_query, 0, 2);
	tcase_add_loop_test(tc, test_dot_dot, 0, 2);
	tcase_add_loop_test(tc, test_symlinks, 0, 2);
	tcase_add_loop_test(tc, test_bad_paths, 0, 2);
	tcase_add_loop_test(tc, test_not_regular, 0, 2);
	tcase_add_loop_test(tc, test_root_slash, 0, 2);
	suite_add_tcase(s, tc);

	tcase_add_unchecked_fixture(tm, setup, teardown);
	tcase_add_test(tm, test_metadata);
	tcase_add_test(tm, test_conditional);
	tcase_add_test(tm, test_content_type_table);
	tcase_add_test(tm, test_error_texts);
	suite_add_tcase(s, tm);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(static_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
