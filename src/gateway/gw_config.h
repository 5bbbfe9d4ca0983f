/* gw_config: the daemon's configuration file (INI style, see
 * conf/wsgate.conf for every key and its default).
 *
 * Loading is all-or-nothing: the first error stops it and is reported as
 * "FILE:LINE: message"; unknown sections and keys are errors.  A loaded
 * config is immutable and shared read-only by every worker; SIGHUP
 * builds a new one and swaps it in only when it loaded cleanly.
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum gw_log_level {
	GW_LOG_ERROR,
	GW_LOG_WARN,
	GW_LOG_INFO,
	GW_LOG_DEBUG,
};

enum gw_addr_kind {
	GW_ADDR_INET, /* host:port or [v6]:port, resolved numerically */
	GW_ADDR_UNIX, /* unix:/path */
};

/* [listen NAME] */
struct gw_listen {
	char *name;                   /* section name */
	int line;                     /* line of the section header */
	char *address;                /* as written, for logs */
	enum gw_addr_kind kind;       /* inet or unix */
	struct sockaddr_storage addr; /* inet: parsed address (numeric host only) */
	socklen_t addr_len;
	char *unix_path;              /* unix: socket path */
	char *tls_certificate;        /* PEM chain; NULL = cleartext */
	char *tls_key;                /* PEM key; set iff tls_certificate */
	bool http2;                   /* http2 = on|off (on): ALPN h2 / h2c preface */
};

enum gw_backend_kind {
	GW_BACKEND_ECHO, /* built-in echo handler */
	GW_BACKEND_TCP,  /* tcp:HOST:PORT (name resolved without blocking) */
	GW_BACKEND_UNIX, /* unix:/path */
};

/* [route NAME] */
struct gw_route {
	char *name;                /* section name, logged as the route */
	int line;                  /* line of the section header */
	char *path;                /* path without a trailing '*' */
	size_t path_len;           /* strlen(path): route matching needs no strlen */
	bool prefix;               /* path = /x*: prefix match */
	char *backend;             /* as written, for logs */
	enum gw_backend_kind backend_kind;
	char *backend_host;        /* tcp: host (brackets removed for v6) */
	char *backend_port;        /* tcp: port as text */
	char *backend_path;        /* unix: socket path */
	char **subprotocols;       /* in order of preference; n may be 0 */
	size_t n_subprotocols;
	bool require_subprotocol;  /* require_subprotocol = on|off (off) */
	char **allowed_origins;    /* exact Origin values; n 0 = any */
	size_t n_allowed_origins;
	uint64_t max_frame_size;   /* max_frame_size (16M) */
	uint64_t max_message_size; /* max_message_size (64M), also bounds inflate */
	uint64_t idle_timeout_ms;  /* idle_timeout (0 = off; default 0) */
	uint64_t ping_interval_ms; /* ping_interval (0 = off) */
	uint64_t close_timeout_ms; /* close_timeout (5s) */
	uint64_t connect_timeout_ms; /* connect_timeout (5s): backend connect */
	uint64_t buffer_size;      /* buffer_size (256K): bridge buffer per direction */
	bool permessage_deflate;   /* permessage_deflate = on|off (off) */
	int deflate_level;         /* deflate_level (1) */
	int deflate_mem_level;     /* deflate_mem_level (8) */
	int deflate_window_bits;   /* deflate_window_bits (15): max for both sides */
};

struct gw_config {
	char *path;                     /* file it was loaded from */
	/* [server] */
	int workers;                    /* workers = N|auto (auto = 0: one per core) */
	uint64_t max_connections;       /* max_connections (10000): 503 past it */
	enum gw_log_level log_level;    /* log_level = error|warn|info|debug (info) */
	char *access_log;               /* access_log = -|off|PATH ("-") */
	char *user;                     /* user = NAME: drop privileges when root (NULL) */
	uint64_t handshake_timeout_ms;  /* handshake_timeout (10s): whole request head */
	uint64_t max_request_size;      /* max_request_size (16K): request head bytes */
	uint64_t max_headers;           /* max_headers (100): header fields per request */
	uint64_t shutdown_timeout_ms;   /* shutdown_timeout (5s): drain before 1001 */
	uint64_t keepalive_timeout_ms;  /* keepalive_timeout (60s): idle HTTP connection */
	/* HTTP/2 */
	uint64_t h2_max_concurrent_streams; /* h2_max_concurrent_streams (256) */
	uint64_t h2_stream_window;      /* h2_stream_window (1M) */
	uint64_t h2_connection_window;  /* h2_connection_window (16M) */
	uint64_t h2_max_header_list;    /* h2_max_header_list (16K) */
	/* sections */
	struct gw_listen *listens;      /* at least one */
	size_t n_listens;
	struct gw_route *routes;        /* may be empty (static only) */
	size_t n_routes;
	char *static_root;              /* [static] root = DIR; NULL = no static files */
};

/* Longest error text gw_config_load writes, "FILE:LINE: message". */
#define GW_CONFIG_ERR_MAX 512

/* Load and check the file at path.  On success *out holds the config
 * (free with gw_config_free) and 0 is returned; on failure -1, and err
 * holds "FILE:LINE: message" (LINE 0 for whole-file problems such as a
 * missing [listen] section or an unreadable file). */
int gw_config_load(const char *path, struct gw_config **out, char err[GW_CONFIG_ERR_MAX]);

/* Same, from a string (for tests and fuzzing); name is used as FILE. */
int gw_config_parse(const char *name, const char *text, size_t len, struct gw_config **out,
		    char err[GW_CONFIG_ERR_MAX]);

void gw_config_free(struct gw_config *c);

/* The route for a request path (query string already removed): exact
 * match, or the longest prefix route.  NULL when none matches. */
const struct gw_route *gw_config_route_match(const struct gw_config *c, const char *path,
					     size_t len);

#endif
