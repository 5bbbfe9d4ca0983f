/* Unit tests for gw_log: the access-log line format and escaping, "-"
 * for missing fields, "off", the level filter, a failed reopen keeping
 * the old log, and gw_server_notify's NOTIFY_SOCKET datagrams (path and
 * abstract socket). */
#include <check.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "gw_log.h"
#include "gw_server.h"

static char dir[64];
static char path[128];

static void setup(void)
{
	strcpy(dir, "/tmp/test_gw_log.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/access.log", dir);
}

static void teardown(void)
{
	char err[128];
	gw_log_configure(GW_LOG_INFO, "-", err, sizeof(err));
	unlink(path);
	rmdir(dir);
}

/* The whole log file as a string (static buffer). */
static const char *slurp(void)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

START_TEST(test_access_line_format)
{
	char err[128];
	ck_assert_int_eq(gw_log_configure(GW_LOG_INFO, path, err, sizeof(err)), 0);
	struct gw_access a = {
	    .client = "127.0.0.1:5123",
	    .protocol = "HTTP/1.1",
	    .path = "/echo?x=1",
	    .path_len = 9,
	    .route = "echo",
	    .status = 101,
	    .backend = "echo",
	    .bytes_in = 12,
	    .bytes_out = 34,
	    .duration_ms = 56,
	    .close_code = 1000,
	};
	gw_log_access(&a);
	const char *line = slurp();
	regex_t re;
	ck_assert_int_eq(
	    regcomp(&re,
	            "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
	            "127\\.0\\.0\\.1:5123 HTTP/1\\.1 \"/echo\\?x=1\" echo 101 echo 12 34 "
	            "56ms 1000\n$",
	            REG_EXTENDED),
	    0);
	ck_assert_msg(regexec(&re, line, 0, NULL, 0) == 0, "line: %s", line);
	regfree(&re);
}
END_TEST

START_TEST(test_access_missing_fields_and_escaping)
{
	char err[128];
	ck_assert_int_eq(gw_log_configure(GW_LOG_INFO, path, err, sizeof(err)), 0);
	/* A hostile path cannot add fields or lines. */
	static const char evil[] = "/a b\"c\\d\r\ne\x01\xff";
	struct gw_access a = {.status = 503, .path = evil, .path_len = sizeof(evil) - 1};
	gw_log_access(&a);
	const char *line = slurp();
	ck_assert_msg(
	    strstr(line,
	           " - - \"/a\\x20b\\x22c\\x5cd\\x0d\\x0ae\\x01\\xff\" - 503 - 0 0 0ms -\n") !=
	        NULL,
	    "line: %s", line);
	ck_assert_ptr_eq(strchr(line, '\n'), line + strlen(line) - 1);
}
END_TEST

START_TEST(test_access_path_cut)
{
	char err[128], big[2000];
	ck_assert_int_eq(gw_log_configure(GW_LOG_INFO, path, err, sizeof(err)), 0);
	memset(big, 'p', sizeof(big));
	struct gw_access a = {.status = 404, .path = big, .path_len = sizeof(big)};
	gw_log_access(&a);
	const char *line = slurp();
	const char *q = strchr(line, '"');
	ck_assert_ptr_nonnull(q);
	const char *e = strchr(q + 1, '"');
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq((int)(e - q - 1), 256);
}
END_TEST

START_TEST(test_access_off)
{
	char err[128];
	ck_assert_int_eq(gw_log_configure(GW_LOG_INFO, path, err, sizeof(err)), 0);
	ck_assert_int_eq(gw_log_configure(GW_LOG_INFO, "off", err, sizeof(err)), 0);
	struct gw_access a = {.status = 200};
	gw_log_access(&a);
	ck_assert_str_eq(slurp(), "");
}
END_TEST

START_TEST(test_failed_reopen_keeps_old)
{
	char err[128], bad[160];
	ck_assert_int_eq(gw_log_configure(GW_LOG_INFO, path, err, sizeof(err)), 0);
	snprintf(bad, sizeof(bad), "%s/no/such/dir/log", dir);
	ck_assert_int_eq(gw_log_configure(GW_LOG_DEBUG, bad, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	/* Neither the file nor the level changed. */
	ck_assert(!gw_log_enabled(GW_LOG_DEBUG));
	struct gw_access a = {.status = 200};
	gw_log_access(&a);
	ck_assert_ptr_nonnull(strstr(slurp(), " 200 "));
}
END_TEST

START_TEST(test_levels)
{
	char err[128];
	ck_assert_int_eq(gw_log_configure(GW_LOG_WARN, "-", err, sizeof(err)), 0);
	ck_assert(gw_log_enabled(GW_LOG_ERROR));
	ck_assert(gw_log_enabled(GW_LOG_WARN));
	ck_assert(!gw_log_enabled(GW_LOG_INFO));
	ck_assert(!gw_log_enabled(GW_LOG_DEBUG));
	ck_assert_int_eq(gw_log_configure(GW_LOG_DEBUG, "-", err, sizeof(err)), 0);
	ck_assert(gw_log_enabled(GW_LOG_DEBUG));
}
END_TEST

static void notify_roundtrip(const char *env, const struct sockaddr_un *sun, socklen_t len)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	ck_assert_int_eq(bind(fd, (const struct sockaddr *)sun, len), 0);
	setenv("NOTIFY_SOCKET", env, 1);
	ck_assert_int_eq(gw_server_notify("READY=1\nSTATUS=ok"), 0);
	char buf[128];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	ck_assert_int_eq((int)n, 17);
	buf[n] = '\0';
	ck_assert_str_eq(buf, "READY=1\nSTATUS=ok");
	close(fd);
	unsetenv("NOTIFY_SOCKET");
}

START_TEST(test_notify_path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/notify", dir);
	notify_roundtrip(sun.sun_path, &sun, sizeof(sun));
	unlink(sun.sun_path);
}
END_TEST

START_TEST(test_notify_abstract)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char name[64];
	snprintf(name, sizeof(name), "@test_gw_log.%d", (int)getpid());
	memcpy(sun.sun_path, name, strlen(name));
	sun.sun_path[0] = '\0';
	notify_roundtrip(name, &sun,
	                 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name)));
}
END_TEST

START_TEST(test_notify_unset_or_bad)
{
	unsetenv("NOTIFY_SOCKET");
	ck_assert_int_eq(gw_server_notify("READY=1"), 0); /* nothing to do */
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	ck_assert_int_eq(gw_server_notify("READY=1"), -1);
	unsetenv("NOTIFY_SOCKET");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("gw_log");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_access_line_format);
	tcase_add_test(tc, test_access_missing_fields_and_escaping);
	tcase_add_test(tc, test_access_path_cut);
	tcase_add_test(tc, test_access_off);
	tcase_add_test(tc, test_failed_reopen_keeps_old);
	tcase_add_test(tc, test_levels);
	tcase_add_test(tc, test_notify_path);
	tcase_add_test(tc, test_notify_abstract);
	tcase_add_test(tc, test_notify_unset_or_bad);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
