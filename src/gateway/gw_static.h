/* gw_static: resolve a request path to a file under the web root.
 *
 * The module only opens and describes a file; the caller sends it
 * (sendfile / evbuffer_add_file) and closes the descriptor.  No sockets,
 * no libevent.
 *
 * Resolution: the path (the part before any '?') is percent-decoded
 * first, so "%2e%2e" is "..", then split on '/'; empty and "."
 * segments are dropped, a ".." segment is refused.  A decoded NUL
 * ("%00") or an invalid escape ("%", "%g1") is a bad request (400).
 * The file is opened beneath the root with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS), so a symlink may point anywhere inside the
 * root but never outside it.  Where openat2 is missing (ENOSYS, or a
 * seccomp filter answering EPERM), and for absolute symlinks (which
 * RESOLVE_BENEATH refuses with EXDEV even when they stay inside), the
 * path is resolved with realpath(3) instead, the result must lie under
 * the root, and its last component is opened with O_NOFOLLOW; the window
 * left there (an intermediate directory swapped for a symlink between
 * the check and the open) needs write access to the root.  A directory
 * is served as its index.html.
 *
 * Everything that is not a readable regular file under the root -
 * missing, a directory without index.html, a device or FIFO, an escape
 * by ".." or by a symlink, a permission problem - is answered 404 alike,
 * so that a client cannot learn the shape of the file system.
 */
#ifndef GW_STATIC_H
#define GW_STATIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "ws_upgrade.h"

enum gw_static_error {
	GW_STATIC_ERR_NOT_FOUND = -1,   /* not a regular file under the root: 404 */
	GW_STATIC_ERR_BAD_PATH = -2,    /* invalid escape, %00, or not starting with '/': 400 */
	GW_STATIC_ERR_TOO_LONG = -3,    /* decoded path over GW_STATIC_PATH_MAX: 414 */
	GW_STATIC_ERR_INVALID_ARG = -4, /* NULL argument or empty root: 500 */
};

/* Longest decoded path (including an appended "/index.html"). */
#define GW_STATIC_PATH_MAX 4096

/* Room for the ETag value: quotes, two 16-digit hex numbers, '-', NUL. */
#define GW_STATIC_ETAG_MAX 40

/* Room for an IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT" + NUL. */
#define GW_STATIC_DATE_MAX 30

/* Most headers gw_static_headers writes. */
#define GW_STATIC_HEADERS_MAX 4

/* An open file, ready to be sent. */
struct gw_static_file {
	int fd;                   /* O_RDONLY | O_CLOEXEC; the caller closes (gw_static_close) */
	uint64_t size;            /* bytes to send */
	struct timespec mtime;    /* modification time */
	const char *content_type; /* static string by extension, never NULL */
	char etag[GW_STATIC_ETAG_MAX];          /* strong ETag, "\"<size hex>-<mtime hex>\"" */
	char last_modified[GW_STATIC_DATE_MAX]; /* mtime as IMF-fixdate */
	char length[24];                        /* size in decimal, for Content-Length */
};

/* Open the file that path[0..path_len) names under root_realpath (an
 * absolute path without symlinks, as realpath(3) gives, e.g. from the
 * config at load time).  A '?' ends the path (the query is ignored).
 * On success fills *out and returns 0; the caller must close out->fd.
 * Returns GW_STATIC_ERR_NOT_FOUND (404), GW_STATIC_ERR_BAD_PATH (400),
 * GW_STATIC_ERR_TOO_LONG (414) or GW_STATIC_ERR_INVALID_ARG; on error
 * out->fd is -1. */
int gw_static_open(const char *root_realpath, const char *path, size_t path_len,
                   struct gw_static_file *out);

/* Close out->fd (if >= 0) and set it to -1. */
void gw_static_close(struct gw_static_file *f);

/* The HTTP status for an error of gw_static_open: 404, 400, 414, 500. */
int gw_static_error_status(int err);

/* Short text for an error of gw_static_open, never NULL. */
const char *gw_static_strerror(int err);

/* Content-Type for a file name by its extension (case-insensitive):
 * html/htm, css, js/mjs, json, map, txt, svg (text types with
 * "; charset=utf-8"), png, jpg/jpeg, gif, webp, ico, wasm; otherwise
 * "application/octet-stream". */
const char *gw_static_content_type(const char *name, size_t len);

/* The response headers describing f, pointing into f: Content-Type,
 * Content-Length, Last-Modified, ETag (in that order) into
 * out[max]; returns how many were written (GW_STATIC_HEADERS_MAX when
 * max allows).  For a 304 the caller drops Content-Type and
 * Content-Length (pass only the last two). */
size_t gw_static_headers(const struct gw_static_file *f, struct ws_header *out, size_t max);

/* Conditional GET (RFC 9110 §13.1): true when the answer should be 304.
 * If-None-Match (value if_none_match, NULL when absent) wins when
 * present: "*" or any listed entity-tag equal to f's ETag under weak
 * comparison means not modified.  Otherwise If-Modified-Since (an
 * IMF-fixdate; other date forms are ignored) means not modified when
 * the file's mtime (whole seconds) is not later. */
bool gw_static_not_modified(const struct gw_static_file *f, const char *if_none_match,
                            size_t inm_len, const char *if_modified_since, size_t ims_len);

/* Process-wide switch for tests: false forces the realpath fallback
 * even where openat2 works.  Default true. */
void gw_static_use_openat2(bool enabled);

#endif
