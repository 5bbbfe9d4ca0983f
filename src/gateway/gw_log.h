/* gw_log: the daemon's error log and access log.
 *
 * The error log goes to stderr (journald under systemd), one line per
 * message: "wsgate: LEVEL: text".  Messages above the configured level
 * are dropped.  gw_log_notice lines ("wsgate: ready ...") are printed
 * whatever the level, because tests and operators wait for them.
 *
 * The access log gets one line per WebSocket session, failed upgrade or
 * static request (see gw_log_access for the format).  It goes to stderr
 * ("-"), a file opened in append mode (PATH) or nowhere ("off").  Lines
 * are written with one write(2) each under a mutex, so the worker
 * threads never interleave partial lines.
 */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stdint.h>

#include "gw_config.h"

/* Longest line written; longer messages are cut. */
#define GW_LOG_LINE_MAX 1024

/* Set the error-log level and open the access log ("-", "off" or a
 * path; NULL means "-").  May be called again on reload: the new access
 * log replaces the old one only when it opened.  Returns 0, or -1 with
 * err holding the reason (the previous state is kept). */
int gw_log_configure(enum gw_log_level level, const char *access_log, char *err, size_t errlen);

/* Close the access log file (stderr is left alone). */
void gw_log_shutdown(void);

/* True when messages at level are written (to skip building them). */
int gw_log_enabled(enum gw_log_level level);

void gw_log(enum gw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gw_log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define gw_log_error(...) gw_log(GW_LOG_ERROR, __VA_ARGS__)
#define gw_log_warn(...)  gw_log(GW_LOG_WARN, __VA_ARGS__)
#define gw_log_info(...)  gw_log(GW_LOG_INFO, __VA_ARGS__)
#define gw_log_debug(...) gw_log(GW_LOG_DEBUG, __VA_ARGS__)

/* One access-log record.  Strings may be NULL (logged as "-"). */
struct gw_access {
	const char *client;   /* client address, "127.0.0.1:5123" */
	const char *protocol; /* "HTTP/1.1" or "HTTP/2" */
	const char *path;     /* request target (not NUL-terminated) */
	size_t path_len;      /* its length */
	const char *route;    /* route name */
	int status;           /* HTTP status answered (101 for a session) */
	const char *backend;  /* backend address, "echo", or NULL */
	uint64_t bytes_in;    /* payload bytes from the client */
	uint64_t bytes_out;   /* payload bytes to the client */
	uint64_t duration_ms; /* from accept to the end */
	int close_code;       /* close code received, sent, 1006, or 0 (no session) */
};

/* Write one access line:
 *   TIME CLIENT PROTOCOL "PATH" ROUTE STATUS BACKEND IN OUT DURATIONms CLOSE
 * e.g. 2025-01-02T03:04:05.678Z 127.0.0.1:5123 HTTP/1.1 "/echo" echo 101
 * echo 12 12 35ms 1000.  The path is cut at 256 bytes with spaces,
 * quotes and control bytes escaped as \xHH; missing fields are "-". */
void gw_log_access(const struct gw_access *a);

#endif
