/* gw_log: error log and access log (see gw_log.h). */
#include "gw_log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Longest path written to the access log, before escaping. */
#define ACCESS_PATH_MAX 256

static atomic_int log_level = GW_LOG_INFO;
static pthread_mutex_t access_lock = PTHREAD_MUTEX_INITIALIZER;
/* Access log fd: -1 off, STDERR_FILENO, or an owned file (access_owned). */
static int access_fd = STDERR_FILENO;
static int access_owned;

static const char *level_names[] = {"error", "warn", "info", "debug"};

int gw_log_configure(enum gw_log_level level, const char *access_log, char *err, size_t errlen)
{
	int fd = STDERR_FILENO, owned = 0;

	if (access_log == NULL || strcmp(access_log, "-") == 0) {
		fd = STDERR_FILENO;
	} else if (strcmp(access_log, "off") == 0) {
		fd = -1;
	} else {
		fd = open(access_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (fd < 0) {
			snprintf(err, errlen, "access_log %s: %s", access_log, strerror(errno));
			return -1;
		}
		owned = 1;
	}
	pthread_mutex_lock(&access_lock);
	if (access_owned)
		close(access_fd);
	access_fd = fd;
	access_owned = owned;
	pthread_mutex_unlock(&access_lock);
	atomic_store(&log_level, (int)level);
	return 0;
}

void gw_log_shutdown(void)
{
	pthread_mutex_lock(&access_lock);
	if (access_owned)
		close(access_fd);
	access_fd = -1;
	access_owned = 0;
	pthread_mutex_unlock(&access_lock);
}

int gw_log_enabled(enum gw_log_level level)
{
	return (int)level <= atomic_load(&log_level);
}

/* Write a whole line with as few write calls as the kernel allows; a
 * failing log must never stop the daemon, so errors are ignored. */
static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void vlog_line(const char *prefix, const char *fmt, va_list ap)
{
	char line[GW_LOG_LINE_MAX];
	int n = snprintf(line, sizeof(line), "wsgate: %s", prefix);
	if (n < 0)
		return;
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	write_all(STDERR_FILENO, line, len);
}

void gw_log(enum gw_log_level level, const char *fmt, ...)
{
	if (!gw_log_enabled(level))
		return;
	char prefix[16];
	snprintf(prefix, sizeof(prefix), "%s: ", level_names[level]);
	va_list ap;
	va_start(ap, fmt);
	vlog_line(prefix, fmt, ap);
	va_end(ap);
}

void gw_log_notice(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog_line("", fmt, ap);
	va_end(ap);
}

/* Append p[0..n) to out as one token: bytes that would break the line
 * format (space, quote, backslash, controls, non-ASCII) become \xHH. */
static size_t escape_into(char *out, size_t room, const char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	if (n > ACCESS_PATH_MAX)
		n = ACCESS_PATH_MAX;
	for (size_t i = 0; i < n && o + 4 < room; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
	return o;
}

void gw_log_access(const struct gw_access *a)
{
	char tbuf[40], path[ACCESS_PATH_MAX * 4 + 1], line[GW_LOG_LINE_MAX];
	struct timeval tv;
	struct tm tm;

	pthread_mutex_lock(&access_lock);
	int fd = access_fd;
	pthread_mutex_unlock(&access_lock);
	if (fd < 0)
		return;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
	if (a->path)
		escape_into(path, sizeof(path), a->path, a->path_len);
	else
		strcpy(path, "-");
	char close_code[16] = "-";
	if (a->close_code > 0)
		snprintf(close_code, sizeof(close_code), "%d", a->close_code);

	int n = snprintf(
	    line, sizeof(line), "%s.%03ldZ %s %s \"%s\" %s %d %s %llu %llu %llums %s\n", tbuf,
	    (long)(tv.tv_usec / 1000), a->client ? a->client : "-", a->protocol ? a->protocol : "-",
	    path, a->route ? a->route : "-", a->status, a->backend ? a->backend : "-",
	    (unsigned long long)a->bytes_in, (unsigned long long)a->bytes_out,
	    (unsigned long long)a->duration_ms, close_code);
	if (n < 0)
		return;
	size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
	/* Hold the lock while writing so that a reload cannot close the fd
	 * under us and so lines from different workers never interleave. */
	pthread_mutex_lock(&access_lock);
	if (access_fd >= 0)
		write_all(access_fd, line, len);
	pthread_mutex_unlock(&access_lock);
}
