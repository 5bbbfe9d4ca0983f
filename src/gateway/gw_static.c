/* gw_static: resolve a request path to a file under the web root. */
#include "gw_static.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Flags of every open: never block on a FIFO, never adopt a terminal. */
#define OPEN_FLAGS (O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)

/* Cleared by gw_static_use_openat2(false) and when the kernel (or a
 * seccomp filter) refuses openat2; workers share it, hence atomic. */
static atomic_bool openat2_enabled = true;

void gw_static_use_openat2(bool enabled)
{
	atomic_store(&openat2_enabled, enabled);
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode path[0..len) into out, then rebuild it as a relative
 * path of clean segments ("a/b/c", "" for the root): empty and "."
 * segments go, ".." is refused.  Decoding comes first so that an
 * escaped dot or slash is judged as what it is on disk. */
static int normalize(const char *path, size_t len, char out[GW_STATIC_PATH_MAX])
{
	char dec[GW_STATIC_PATH_MAX];
	size_t n = 0;
	size_t o = 0;

	if (len == 0 || path[0] != '/')
		return GW_STATIC_ERR_BAD_PATH;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];

		if (c == '%') {
			int hi = i + 2 < len ? hex_value((unsigned char)path[i + 1]) : -1;
			int lo = hi >= 0 ? hex_value((unsigned char)path[i + 2]) : -1;

			if (lo < 0)
				return GW_STATIC_ERR_BAD_PATH;
			c = (unsigned char)(hi * 16 + lo);
			i += 2;
		}
		if (c == '\0')
			return GW_STATIC_ERR_BAD_PATH;
		if (n >= sizeof(dec))
			return GW_STATIC_ERR_TOO_LONG;
		dec[n++] = (char)c;
	}

	for (size_t i = 0; i < n;) {
		size_t s;

		while (i < n && dec[i] == '/')
			i++;
		s = i;
		while (i < n && dec[i] != '/')
			i++;
		if (i == s || (i - s == 1 && dec[s] == '.'))
			continue;
		if (i - s == 2 && dec[s] == '.' && dec[s + 1] == '.')
			return GW_STATIC_ERR_NOT_FOUND;
		/* Room for the segment, a separator, and the NUL. */
		if (o + (i - s) + 2 > GW_STATIC_PATH_MAX)
			return GW_STATIC_ERR_TOO_LONG;
		if (o > 0)
			out[o++] = '/';
		memcpy(out + o, dec + s, i - s);
		o += i - s;
	}
	out[o] = '\0';
	return 0;
}

/* openat2 beneath the root.  Returns an fd, GW_STATIC_ERR_NOT_FOUND, or
 * 1 when the realpath check must decide (openat2 unusable, or EXDEV). */
static int open_openat2(const char *root, const char *rel)
{
	struct open_how how = {
	    .flags = OPEN_FLAGS,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	int dirfd;
	long fd;
	int err;

	dirfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return GW_STATIC_ERR_NOT_FOUND;
	fd = syscall(SYS_openat2, dirfd, rel[0] != '\0' ? rel : ".", &how, sizeof(how));
	err = errno;
	close(dirfd);
	if (fd >= 0)
		return (int)fd;
	/* ENOSYS: old kernel; EPERM: a seccomp filter (containers). */
	if (err == ENOSYS || err == EPERM) {
		atomic_store(&openat2_enabled, false);
		return 1;
	}
	/* EXDEV: the walk left the root, or met an absolute symlink, which
	 * RESOLVE_BENEATH refuses even when it points back inside.  Let the
	 * realpath check judge where it really ends, so both resolvers
	 * accept the same trees. */
	if (err == EXDEV)
		return 1;
	return GW_STATIC_ERR_NOT_FOUND;
}

/* realpath fallback: the resolved name must lie under root.  A symlink
 * swapped in for an intermediate directory between the check and the
 * open is the remaining window; O_NOFOLLOW closes it for the last
 * component. */
static int open_realpath(const char *root, const char *rel)
{
	char full[PATH_MAX];
	char resolved[PATH_MAX];
	size_t rlen = strlen(root);
	int n;

	n = snprintf(full, sizeof(full), "%s/%s", root, rel);
	if (n < 0 || (size_t)n >= sizeof(full))
		return GW_STATIC_ERR_NOT_FOUND;
	if (realpath(full, resolved) == NULL)
		return GW_STATIC_ERR_NOT_FOUND;
	/* root "/" has a trailing slash already; any other needs one after it. */
	if (strncmp(resolved, root, rlen) != 0)
		return GW_STATIC_ERR_NOT_FOUND;
	if (!(rlen == 1 || resolved[rlen] == '\0' || resolved[rlen] == '/'))
		return GW_STATIC_ERR_NOT_FOUND;
	n = open(resolved, OPEN_FLAGS | O_NOFOLLOW);
	return n >= 0 ? n : GW_STATIC_ERR_NOT_FOUND;
}

static int open_beneath(const char *root, const char *rel)
{
	if (atomic_load(&openat2_enabled)) {
		int fd = open_openat2(root, rel);

		if (fd != 1)
			return fd;
	}
	return open_realpath(root, rel);
}

static const char day_names[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char month_names[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* IMF-fixdate by hand: strftime would follow the locale. */
static void format_date(time_t t, char out[GW_STATIC_DATE_MAX])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
		out[0] = '\0';
		return;
	}
	snprintf(out, GW_STATIC_DATE_MAX, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	         day_names[tm.tm_wday], tm.tm_mday, month_names[tm.tm_mon], tm.tm_year + 1900,
	         tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Parse an IMF-fixdate; false for anything else (RFC 850 and asctime
 * forms are obsolete and simply not honoured). */
static bool parse_date(const char *s, size_t len, time_t *out)
{
	struct tm tm;
	char buf[GW_STATIC_DATE_MAX];
	char wday[4], mon[4];
	int day, year, hh, mm, ss, used = 0;

	if (len != 29)
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (sscanf(buf, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", wday, &day, mon, &year,
	           &hh, &mm, &ss, &used) != 7 ||
	    used != 29)
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mon = -1;
	for (int k = 0; k < 12; k++)
		if (strcmp(mon, month_names[k]) == 0)
			tm.tm_mon = k;
	if (tm.tm_mon < 0 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || year < 1970)
		return false;
	tm.tm_mday = day;
	tm.tm_year = year - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	*out = timegm(&tm);
	return *out != (time_t)-1;
}

static void describe(struct gw_static_file *out, const struct stat *st, const char *rel)
{
	const char *base = strrchr(rel, '/');

	base = base != NULL ? base + 1 : rel;
	out->size = (uint64_t)st->st_size;
	out->mtime = st->st_mtim;
	out->content_type = gw_static_content_type(base, strlen(base));
	snprintf(out->etag, sizeof(out->etag), "\"%" PRIx64 "-%" PRIx64 "\"", out->size,
	         (uint64_t)st->st_mtim.tv_sec);
	format_date(st->st_mtim.tv_sec, out->last_modified);
	snprintf(out->length, sizeof(out->length), "%" PRIu64, out->size);
}

int gw_static_open(const char *root_realpath, const char *path, size_t path_len,
                   struct gw_static_file *out)
{
	char rel[GW_STATIC_PATH_MAX];
	const char *q;
	struct stat st;
	int fd;
	int rc;

	if (out == NULL)
		return GW_STATIC_ERR_INVALID_ARG;
	memset(out, 0, sizeof(*out));
	out->fd = -1;
	if (root_realpath == NULL || root_realpath[0] != '/' || (path == NULL && path_len > 0))
		return GW_STATIC_ERR_INVALID_ARG;
	q = path_len > 0 ? memchr(path, '?', path_len) : NULL;
	if (q != NULL)
		path_len = (size_t)(q - path);
	rc = normalize(path, path_len, rel);
	if (rc < 0)
		return rc;

	fd = open_beneath(root_realpath, rel);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) != 0)
		goto not_found;
	if (S_ISDIR(st.st_mode)) {
		size_t n = strlen(rel);
		static const char index[] = "index.html";

		close(fd);
		fd = -1;
		if (n + 1 + sizeof(index) > sizeof(rel))
			return GW_STATIC_ERR_TOO_LONG;
		if (n > 0)
			rel[n++] = '/';
		memcpy(rel + n, index, sizeof(index));
		fd = open_beneath(root_realpath, rel);
		if (fd < 0)
			return fd;
		if (fstat(fd, &st) != 0)
			goto not_found;
	}
	if (!S_ISREG(st.st_mode))
		goto not_found;
	/* Non-blocking was only for the open; the caller's sendfile expects
	 * ordinary semantics. */
	if (fcntl(fd, F_SETFL, O_RDONLY) != 0)
		goto not_found;
	out->fd = fd;
	describe(out, &st, rel);
	return 0;

not_found:
	if (fd >= 0)
		close(fd);
	return GW_STATIC_ERR_NOT_FOUND;
}

void gw_static_close(struct gw_static_file *f)
{
	if (f != NULL && f->fd >= 0) {
		close(f->fd);
		f->fd = -1;
	}
}

int gw_static_error_status(int err)
{
	switch (err) {
	case GW_STATIC_ERR_NOT_FOUND:
		return 404;
	case GW_STATIC_ERR_BAD_PATH:
		return 400;
	case GW_STATIC_ERR_TOO_LONG:
		return 414;
	default:
		return 500;
	}
}

const char *gw_static_strerror(int err)
{
	switch (err) {
	case GW_STATIC_ERR_NOT_FOUND:
		return "no such file";
	case GW_STATIC_ERR_BAD_PATH:
		return "malformed path";
	case GW_STATIC_ERR_TOO_LONG:
		return "path too long";
	case GW_STATIC_ERR_INVALID_ARG:
		return "invalid argument";
	default:
		return "unknown error";
	}
}

const char *gw_static_content_type(const char *name, size_t len)
{
	static const struct {
		const char *ext;
		const char *type;
	} types[] = {
	    {"html", "text/html; charset=utf-8"},
	    {"htm", "text/html; charset=utf-8"},
	    {"css", "text/css; charset=utf-8"},
	    {"js", "text/javascript; charset=utf-8"},
	    {"mjs", "text/javascript; charset=utf-8"},
	    {"json", "application/json"},
	    {"map", "application/json"},
	    {"txt", "text/plain; charset=utf-8"},
	    {"svg", "image/svg+xml"},
	    {"png", "image/png"},
	    {"jpg", "image/jpeg"},
	    {"jpeg", "image/jpeg"},
	    {"gif", "image/gif"},
	    {"webp", "image/webp"},
	    {"ico", "image/vnd.microsoft.icon"},
	    {"wasm", "application/wasm"},
	};
	const char *dot = NULL;
	size_t elen;

	for (size_t k = len; k > 0; k--) {
		if (name[k - 1] == '.') {
			dot = name + k;
			break;
		}
		if (name[k - 1] == '/')
			break;
	}
	if (dot == NULL)
		return "application/octet-stream";
	elen = len - (size_t)(dot - name);
	for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++)
		if (strlen(types[k].ext) == elen && strncasecmp(dot, types[k].ext, elen) == 0)
			return types[k].type;
	return "application/octet-stream";
}

static struct ws_header make_header(const char *name, const char *value)
{
	struct ws_header h = {name, strlen(name), value, strlen(value)};

	return h;
}

size_t gw_static_headers(const struct gw_static_file *f, struct ws_header *out, size_t max)
{
	struct ws_header all[GW_STATIC_HEADERS_MAX];
	size_t n = 0;

	all[n++] = make_header("Content-Type", f->content_type);
	all[n++] = make_header("Content-Length", f->length);
	all[n++] = make_header("Last-Modified", f->last_modified);
	all[n++] = make_header("ETag", f->etag);
	if (f->last_modified[0] == '\0') {
		/* A date outside 0000..9999 cannot be written: leave it out. */
		all[2] = all[3];
		n--;
	}
	if (n > max)
		n = max;
	memcpy(out, all, n * sizeof(all[0]));
	return n;
}

/* Does the If-None-Match list v[0..len) hold etag under weak
 * comparison (RFC 9110 §8.8.3.2: opaque tags equal, W/ ignored)? */
static bool etag_matches(const char *v, size_t len, const char *etag)
{
	size_t elen = strlen(etag);
	size_t i = 0;

	while (i < len) {
		size_t s;

		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		if (i >= len)
			break;
		if (v[i] == '*')
			return true;
		if (len - i >= 2 && v[i] == 'W' && v[i + 1] == '/')
			i += 2;
		if (i >= len || v[i] != '"')
			return false; /* malformed list: no match, serve the file */
		s = i++;
		while (i < len && v[i] != '"')
			i++;
		if (i >= len)
			return false;
		i++;
		if (i - s == elen && memcmp(v + s, etag, elen) == 0)
			return true;
	}
	return false;
}

bool gw_static_not_modified(const struct gw_static_file *f, const char *if_none_match,
                            size_t inm_len, const char *if_modified_since, size_t ims_len)
{
	time_t since;

	if (if_none_match != NULL)
		return etag_matches(if_none_match, inm_len, f->etag);
	if (if_modified_since != NULL && parse_date(if_modified_since, ims_len, &since))
		return f->mtime.tv_sec <= since;
	return false;
}
