/* gw_config_parse: the config file walker, key table and cross-key
 * checks behind gw_config_parse().  Value forms live in gw_config_value.c,
 * loading, freeing and route lookup in gw_config.c; the format is
 * documented in conf/wsgate.conf and docs/wsgate.conf.5.
 */
#include "gw_config.h"
#include "gw_config_value.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Documented limits of the file itself. */
#define LINE_MAX_   4096 /* bytes in one line, without the newline */
#define NAME_MAX_   64   /* bytes in a section name */
#define USER_MAX    32   /* bytes in a user name (useradd's limit) */
#define LISTENS_MAX 256  /* [listen] sections */
#define ROUTES_MAX  4096 /* [route] sections; also bounds the O(n^2) checks */
#define SHOW_MAX    64   /* bytes of a value quoted in an error */
#define HINT_DIST   2    /* edit distance up to which a hint is offered */

enum section {
	SEC_NONE,   /* before the first header */
	SEC_SERVER, /* [server] */
	SEC_LISTEN, /* [listen NAME] */
	SEC_ROUTE,  /* [route NAME] */
	SEC_STATIC, /* [static] */
};

static const char *const section_names[] = {
    [SEC_NONE] = "",       [SEC_SERVER] = "server", [SEC_LISTEN] = "listen",
    [SEC_ROUTE] = "route", [SEC_STATIC] = "static",
};

enum vtype {
	V_SIZE,       /* uint64_t bytes */
	V_DURATION,   /* uint64_t milliseconds */
	V_UINT,       /* uint64_t plain count */
	V_INT,        /* int plain number */
	V_BOOL,       /* bool */
	V_WORKERS,    /* int: auto = 0 or a count */
	V_LOG_LEVEL,  /* enum gw_log_level */
	V_ACCESS_LOG, /* char *: -, off or a path */
	V_USER,       /* char *: a user name */
	V_DIR,        /* char *: an absolute directory */
	V_TLS_FILE,   /* char *: a file readable now */
	V_ADDRESS,    /* listener address, fills several fields */
	V_ROUTE_PATH, /* route path, fills path, path_len, prefix */
	V_BACKEND,    /* backend, fills several fields */
	V_TOKENS,     /* char ** + size_t: comma list of HTTP tokens */
	V_ORIGINS,    /* char ** + size_t: comma list of origins */
};

/* Name of each type in "bad TYPE 'value' for 'key'" messages. */
static const char *const vtype_names[] = {
    [V_SIZE] = "size",           [V_DURATION] = "duration",     [V_UINT] = "number",
    [V_INT] = "number",          [V_BOOL] = "boolean",          [V_WORKERS] = "worker count",
    [V_LOG_LEVEL] = "log level", [V_ACCESS_LOG] = "access log", [V_USER] = "user name",
    [V_DIR] = "directory",       [V_TLS_FILE] = "file",         [V_ADDRESS] = "address",
    [V_ROUTE_PATH] = "path",     [V_BACKEND] = "backend",       [V_TOKENS] = "list",
    [V_ORIGINS] = "list",
};

struct key_def {
	const char *name;     /* key as written in the file */
	enum section section; /* the section it belongs to */
	enum vtype type;      /* value form */
	size_t off;           /* field in gw_config, gw_listen or gw_route */
	size_t n_off;         /* lists: the count field */
	uint64_t min, max;    /* numeric types: allowed range */
};

#define SZ_LIMIT GW_CONFIG_SIZE_LIMIT
#define MS_LIMIT GW_CONFIG_DURATION_LIMIT
#define H2_WIN   UINT64_C(2147483647)
#define S(f)     offsetof(struct gw_config, f)
#define L(f)     offsetof(struct gw_listen, f)
#define R(f)     offsetof(struct gw_route, f)

static const struct key_def keys[] = {
    {"workers", SEC_SERVER, V_WORKERS, S(workers), 0, 1, 256},
    {"max_connections", SEC_SERVER, V_UINT, S(max_connections), 0, 1, 10000000},
    {"log_level", SEC_SERVER, V_LOG_LEVEL, S(log_level), 0, 0, 0},
    {"access_log", SEC_SERVER, V_ACCESS_LOG, S(access_log), 0, 0, 0},
    {"user", SEC_SERVER, V_USER, S(user), 0, 0, 0},
    {"handshake_timeout", SEC_SERVER, V_DURATION, S(handshake_timeout_ms), 0, 1, MS_LIMIT},
    {"max_request_size", SEC_SERVER, V_SIZE, S(max_request_size), 0, 1024, 1 << 30},
    {"max_headers", SEC_SERVER, V_UINT, S(max_headers), 0, 1, 10000},
    {"shutdown_timeout", SEC_SERVER, V_DURATION, S(shutdown_timeout_ms), 0, 0, MS_LIMIT},
    {"keepalive_timeout", SEC_SERVER, V_DURATION, S(keepalive_timeout_ms), 0, 1, MS_LIMIT},
    {"h2_max_concurrent_streams", SEC_SERVER, V_UINT, S(h2_max_concurrent_streams), 0, 1, H2_WIN},
    {"h2_stream_window", SEC_SERVER, V_SIZE, S(h2_stream_window), 0, 65535, H2_WIN},
    {"h2_connection_window", SEC_SERVER, V_SIZE, S(h2_connection_window), 0, 65535, H2_WIN},
    {"h2_max_header_list", SEC_SERVER, V_SIZE, S(h2_max_header_list), 0, 1024, 1 << 30},

    {"address", SEC_LISTEN, V_ADDRESS, L(address), 0, 0, 0},
    {"tls_certificate", SEC_LISTEN, V_TLS_FILE, L(tls_certificate), 0, 0, 0},
    {"tls_key", SEC_LISTEN, V_TLS_FILE, L(tls_key), 0, 0, 0},
    {"http2", SEC_LISTEN, V_BOOL, L(http2), 0, 0, 0},

    {"path", SEC_ROUTE, V_ROUTE_PATH, R(path), 0, 0, 0},
    {"backend", SEC_ROUTE, V_BACKEND, R(backend), 0, 0, 0},
    {"subprotocols", SEC_ROUTE, V_TOKENS, R(subprotocols), R(n_subprotocols), 0, 0},
    {"require_subprotocol", SEC_ROUTE, V_BOOL, R(require_subprotocol), 0, 0, 0},
    {"allowed_origins", SEC_ROUTE, V_ORIGINS, R(allowed_origins), R(n_allowed_origins), 0, 0},
    {"max_frame_size", SEC_ROUTE, V_SIZE, R(max_frame_size), 0, 1, SZ_LIMIT},
    {"max_message_size", SEC_ROUTE, V_SIZE, R(max_message_size), 0, 1, SZ_LIMIT},
    {"idle_timeout", SEC_ROUTE, V_DURATION, R(idle_timeout_ms), 0, 0, MS_LIMIT},
    {"ping_interval", SEC_ROUTE, V_DURATION, R(ping_interval_ms), 0, 0, MS_LIMIT},
    {"close_timeout", SEC_ROUTE, V_DURATION, R(close_timeout_ms), 0, 1, MS_LIMIT},
    {"connect_timeout", SEC_ROUTE, V_DURATION, R(connect_timeout_ms), 0, 1, MS_LIMIT},
    {"buffer_size", SEC_ROUTE, V_SIZE, R(buffer_size), 0, 1024, 1 << 30},
    {"permessage_deflate", SEC_ROUTE, V_BOOL, R(permessage_deflate), 0, 0, 0},
    {"deflate_level", SEC_ROUTE, V_INT, R(deflate_level), 0, 0, 9},
    {"deflate_mem_level", SEC_ROUTE, V_INT, R(deflate_mem_level), 0, 1, 9},
    {"deflate_window_bits", SEC_ROUTE, V_INT, R(deflate_window_bits), 0, 9, 15},

    {"root", SEC_STATIC, V_DIR, S(static_root), 0, 0, 0},
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

struct parser {
	const char *name;     /* FILE in messages */
	char *err;            /* GW_CONFIG_ERR_MAX bytes */
	struct gw_config *c;  /* being filled */
	size_t listens_cap;   /* allocated entries of c->listens */
	size_t routes_cap;    /* allocated entries of c->routes */
	int line;             /* current line number, 1-based */
	enum section sec;     /* section being read */
	int sec_line;         /* its header line */
	int server_line;      /* header line of [server], 0 = none yet */
	int static_line;      /* header line of [static], 0 = none yet */
	int key_line[N_KEYS]; /* line each key was set on in this section, 0 = unset */
};

static int fail(struct parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;
	int off = snprintf(p->err, GW_CONFIG_ERR_MAX, "%s:%d: ", p->name, line);

	if (off < 0 || off >= GW_CONFIG_ERR_MAX)
		return -1; /* the file name alone filled it */
	va_start(ap, fmt);
	vsnprintf(p->err + off, GW_CONFIG_ERR_MAX - (size_t)off, fmt, ap);
	va_end(ap);
	return -1;
}

/* Copy of v for an error message: bounded, control bytes as '?'. */
static const char *show(const char *v, char out[SHOW_MAX + 4])
{
	size_t i;

	for (i = 0; v[i] != '\0' && i < SHOW_MAX; i++)
		out[i] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f ? '?' : v[i];
	if (v[i] != '\0') {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Trims blanks at both ends in place. */
static char *trim(char *s)
{
	size_t n;

	while (is_blank(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_blank(s[n - 1]))
		s[--n] = '\0';
	return s;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAME_MAX_)
		return false;
	for (; *s != '\0'; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* "[server]" or "[route NAME]" for messages about the open section. */
static const char *section_label(const struct parser *p, char out[NAME_MAX_ + 16])
{
	const char *name = NULL;

	if (p->sec == SEC_LISTEN)
		name = p->c->listens[p->c->n_listens - 1].name;
	else if (p->sec == SEC_ROUTE)
		name = p->c->routes[p->c->n_routes - 1].name;
	snprintf(out, NAME_MAX_ + 16, "[%s%s%s]", section_names[p->sec], name ? " " : "",
	         name ? name : "");
	return out;
}

/* ---- defaults ------------------------------------------------------ */

static int server_defaults(struct gw_config *c)
{
	c->workers = 0;
	c->max_connections = 10000;
	c->log_level = GW_LOG_INFO;
	c->access_log = strdup("-");
	c->handshake_timeout_ms = 10 * 1000;
	c->max_request_size = 16 * 1024;
	c->max_headers = 100;
	c->shutdown_timeout_ms = 5 * 1000;
	c->keepalive_timeout_ms = 60 * 1000;
	c->h2_max_concurrent_streams = 256;
	c->h2_stream_window = 1024 * 1024;
	c->h2_connection_window = 16 * 1024 * 1024;
	c->h2_max_header_list = 16 * 1024;
	return c->access_log == NULL ? -1 : 0;
}

static void route_defaults(struct gw_route *r)
{
	r->max_frame_size = UINT64_C(16) << 20;
	r->max_message_size = UINT64_C(64) << 20;
	r->idle_timeout_ms = 0;
	r->ping_interval_ms = 0;
	r->close_timeout_ms = 5 * 1000;
	r->connect_timeout_ms = 5 * 1000;
	r->buffer_size = 256 * 1024;
	r->permessage_deflate = false;
	r->deflate_level = 1;
	r->deflate_mem_level = 8;
	r->deflate_window_bits = 15;
}

/* ---- end-of-section checks ------------------------------------------ */

static int key_index(const char *name, enum section sec)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (keys[i].section == sec && strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Line a key of the open section was set on, 0 when unset. */
static int key_set_line(const struct parser *p, const char *name)
{
	int i = key_index(name, p->sec);

	return i < 0 ? 0 : p->key_line[i];
}

static bool same_address(const struct gw_listen *a, const struct gw_listen *b)
{
	if (a->kind != b->kind)
		return false;
	if (a->kind == GW_ADDR_UNIX)
		return strcmp(a->unix_path, b->unix_path) == 0;
	return a->addr_len == b->addr_len && memcmp(&a->addr, &b->addr, a->addr_len) == 0;
}

static int close_listen(struct parser *p)
{
	struct gw_config *c = p->c;
	struct gw_listen *l = &c->listens[c->n_listens - 1];
	int cert = key_set_line(p, "tls_certificate"), key = key_set_line(p, "tls_key");

	if (l->address == NULL)
		return fail(p, p->sec_line, "[listen %s] has no address", l->name);
	if (cert != 0 && key == 0)
		return fail(p, cert, "tls_certificate without tls_key in [listen %s]", l->name);
	if (key != 0 && cert == 0)
		return fail(p, key, "tls_key without tls_certificate in [listen %s]", l->name);
	for (size_t i = 0; i + 1 < c->n_listens; i++) {
		if (same_address(&c->listens[i], l))
			return fail(p, key_set_line(p, "address"),
			            "address '%s' is already used by [listen %s] (line %d)",
			            l->address, c->listens[i].name, c->listens[i].line);
	}
	return 0;
}

static int close_route(struct parser *p)
{
	struct gw_config *c = p->c;
	struct gw_route *r = &c->routes[c->n_routes - 1];
	int frame = key_set_line(p, "max_frame_size");

	if (r->path == NULL)
		return fail(p, p->sec_line, "[route %s] has no path", r->name);
	if (r->backend == NULL)
		return fail(p, p->sec_line, "[route %s] has no backend", r->name);
	if (r->max_frame_size > r->max_message_size) {
		/* Only an explicit max_frame_size is a contradiction; the
		 * default just follows a smaller max_message_size. */
		if (frame == 0)
			r->max_frame_size = r->max_message_size;
		else
			return fail(p, frame,
			            "max_frame_size (%llu) exceeds max_message_size (%llu)",
			            (unsigned long long)r->max_frame_size,
			            (unsigned long long)r->max_message_size);
	}
	if (r->require_subprotocol && r->n_subprotocols == 0)
		return fail(p, key_set_line(p, "require_subprotocol"),
		            "require_subprotocol = on needs a subprotocols list in [route %s]",
		            r->name);
	for (size_t i = 0; i + 1 < c->n_routes; i++) {
		const struct gw_route *o = &c->routes[i];

		if (o->prefix == r->prefix && strcmp(o->path, r->path) == 0)
			return fail(p, key_set_line(p, "path"),
			            "route path '%s%s' is already used by [route %s] (line %d)",
			            r->path, r->prefix ? "*" : "", o->name, o->line);
	}
	return 0;
}

static int close_section(struct parser *p)
{
	switch (p->sec) {
	case SEC_LISTEN:
		return close_listen(p);
	case SEC_ROUTE:
		return close_route(p);
	case SEC_STATIC:
		if (p->c->static_root == NULL)
			return fail(p, p->sec_line, "[static] has no root");
		return 0;
	case SEC_NONE:
	case SEC_SERVER:
		return 0;
	}
	return 0;
}

/* ---- section headers ------------------------------------------------ */

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	void *a;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap == 0 ? 4 : *cap * 2;
	a = realloc(*arr, ncap * size);
	if (a == NULL)
		return -1;
	memset((char *)a + *cap * size, 0, (ncap - *cap) * size);
	*arr = a;
	*cap = ncap;
	return 0;
}

/* Opens a [listen NAME] or [route NAME] entry after the checks. */
static int open_named(struct parser *p, enum section kind, const char *name)
{
	struct gw_config *c = p->c;
	char **slot;
	int *line;

	if (kind == SEC_LISTEN) {
		for (size_t i = 0; i < c->n_listens; i++)
			if (strcmp(c->listens[i].name, name) == 0)
				return fail(p, p->line,
				            "duplicate section [listen %s] (first at line %d)",
				            name, c->listens[i].line);
		if (c->n_listens >= LISTENS_MAX)
			return fail(p, p->line, "too many [listen] sections (limit %d)",
			            LISTENS_MAX);
		if (grow((void **)&c->listens, &p->listens_cap, c->n_listens, sizeof(*c->listens)))
			return fail(p, p->line, "out of memory");
		c->listens[c->n_listens].http2 = true;
		slot = &c->listens[c->n_listens].name;
		line = &c->listens[c->n_listens].line;
		c->n_listens++;
	} else {
		for (size_t i = 0; i < c->n_routes; i++)
			if (strcmp(c->routes[i].name, name) == 0)
				return fail(p, p->line,
				            "duplicate section [route %s] (first at line %d)", name,
				            c->routes[i].line);
		if (c->n_routes >= ROUTES_MAX)
			return fail(p, p->line, "too many [route] sections (limit %d)", ROUTES_MAX);
		if (grow((void **)&c->routes, &p->routes_cap, c->n_routes, sizeof(*c->routes)))
			return fail(p, p->line, "out of memory");
		route_defaults(&c->routes[c->n_routes]);
		slot = &c->routes[c->n_routes].name;
		line = &c->routes[c->n_routes].line;
		c->n_routes++;
	}
	*line = p->line;
	*slot = strdup(name);
	if (*slot == NULL)
		return fail(p, p->line, "out of memory");
	return 0;
}

/* Closest section kind to word, for "did you mean". */
static enum section section_hint(const char *word)
{
	enum section best = SEC_NONE;
	unsigned best_d = HINT_DIST + 1;

	for (enum section s = SEC_SERVER; s <= SEC_STATIC; s++) {
		unsigned d = gw_config_value_distance(word, section_names[s], HINT_DIST);

		if (d < best_d) {
			best_d = d;
			best = s;
		}
	}
	return best;
}

/* s is the trimmed line, starting with '['. */
static int handle_header(struct parser *p, char *s)
{
	char shown[SHOW_MAX + 4];
	size_t n = strlen(s);
	char *inner, *kind, *name;
	enum section sec = SEC_NONE, hint;

	if (s[n - 1] != ']')
		return fail(p, p->line, "section header '%s' lacks a closing ']'", show(s, shown));
	s[n - 1] = '\0';
	inner = trim(s + 1);
	kind = inner;
	name = inner + strcspn(inner, " \t");
	if (*name != '\0')
		*name++ = '\0';
	name = trim(name);
	for (enum section k = SEC_SERVER; k <= SEC_STATIC; k++)
		if (strcmp(kind, section_names[k]) == 0)
			sec = k;
	if (sec == SEC_NONE) {
		hint = section_hint(kind);
		if (hint == SEC_NONE)
			return fail(p, p->line,
			            "unknown section '[%s]' (expected [server], [listen NAME], "
			            "[route NAME] or [static])",
			            show(kind, shown));
		return fail(p, p->line, "unknown section '[%s]' (did you mean '[%s%s%s]'?)",
		            show(kind, shown), section_names[hint],
		            hint == SEC_LISTEN || hint == SEC_ROUTE ? " " : "",
		            hint != SEC_LISTEN && hint != SEC_ROUTE ? ""
		            : name_ok(name)                         ? name
		                                                    : "NAME");
	}
	if (close_section(p) < 0)
		return -1;
	memset(p->key_line, 0, sizeof(p->key_line));
	p->sec = sec;
	p->sec_line = p->line;
	if (sec == SEC_SERVER || sec == SEC_STATIC) {
		int *seen = sec == SEC_SERVER ? &p->server_line : &p->static_line;

		if (*name != '\0')
			return fail(p, p->line, "[%s] takes no name", kind);
		if (*seen != 0)
			return fail(p, p->line, "duplicate section [%s] (first at line %d)", kind,
			            *seen);
		*seen = p->line;
		return 0;
	}
	if (*name == '\0')
		return fail(p, p->line, "[%s] needs a name: [%s NAME]", kind, kind);
	if (!name_ok(name))
		return fail(p, p->line, "bad section name '%s' (use 1..%d of A-Z a-z 0-9 _ . -)",
		            show(name, shown), NAME_MAX_);
	return open_named(p, sec, name);
}

/* ---- values ---------------------------------------------------------- */

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Checks one list item; returns a reason or NULL. */
static const char *list_item_why(enum vtype t, const char *item)
{
	if (t == V_TOKENS) {
		for (const char *q = item; *q != '\0'; q++)
			if (!is_tchar(*q))
				return "subprotocols must be HTTP tokens";
		return NULL;
	}
	if (strcmp(item, "*") == 0)
		return "'*' is not an origin; leave allowed_origins out to allow any";
	if (strcspn(item, " \t") != strlen(item))
		return "an origin has no blanks";
	if (strcmp(item, "null") != 0 && strstr(item, "://") == NULL)
		return "expected SCHEME://HOST[:PORT] or null";
	return NULL;
}

static int parse_list(struct parser *p, const struct key_def *k, char *v, void *base)
{
	char ***items = (char ***)((char *)base + k->off);
	size_t *n = (size_t *)((char *)base + k->n_off), count = 1;
	char shown[SHOW_MAX + 4];

	for (const char *q = v; *q != '\0'; q++)
		count += *q == ',';
	*items = calloc(count, sizeof(**items));
	if (*items == NULL)
		return fail(p, p->line, "out of memory");
	for (char *save = NULL, *tok = v; tok != NULL; tok = save) {
		char *comma = strchr(tok, ',');
		const char *why;

		save = comma ? comma + 1 : NULL;
		if (comma)
			*comma = '\0';
		tok = trim(tok);
		if (*tok == '\0')
			return fail(p, p->line, "empty item in '%s' list", k->name);
		why = list_item_why(k->type, tok);
		if (why != NULL)
			return fail(p, p->line, "bad item '%s' in '%s': %s", show(tok, shown),
			            k->name, why);
		for (size_t i = 0; i < *n; i++)
			if (strcmp((*items)[i], tok) == 0)
				return fail(p, p->line, "duplicate item '%s' in '%s'",
				            show(tok, shown), k->name);
		(*items)[*n] = strdup(tok);
		if ((*items)[*n] == NULL)
			return fail(p, p->line, "out of memory");
		(*n)++;
	}
	return 0;
}

/* Opens the file the way the TLS layer will, so a typo or a permission
 * problem fails the load, not the first handshake.  stat() comes first so
 * that a device path is never opened (opening some has side effects). */
static int tls_file_check(struct parser *p, const struct key_def *k, const char *v)
{
	char shown[SHOW_MAX + 4];
	struct stat st;
	int fd, e;

	if (stat(v, &st) < 0) {
		e = errno;
		return fail(p, p->line, "cannot read %s '%s': %s", k->name, show(v, shown),
		            strerror(e));
	}
	if (!S_ISREG(st.st_mode))
		return fail(p, p->line, "cannot read %s '%s': not a regular file", k->name,
		            show(v, shown));
	fd = open(v, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		e = errno;
		return fail(p, p->line, "cannot read %s '%s': %s", k->name, show(v, shown),
		            strerror(e));
	}
	close(fd);
	return 0;
}

static bool user_ok(const char *v)
{
	if (strlen(v) > USER_MAX || v[0] == '-')
		return false;
	for (; *v != '\0'; v++)
		if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
		      (*v >= '0' && *v <= '9') || *v == '_' || *v == '.' || *v == '-'))
			return false;
	return true;
}

/* "/path" or "/prefix*" into r. */
static const char *route_path_why(const char *v, struct gw_route *r)
{
	size_t n = strlen(v);

	if (v[0] != '/')
		return "a route path starts with '/'";
	if (strcspn(v, " \t?#") != n)
		return "a route path has no blanks, '?' or '#' (the query is not matched)";
	if (strchr(v, '*') != v + n - 1 && strchr(v, '*') != NULL)
		return "'*' may only end a path (prefix route)";
	r->prefix = v[n - 1] == '*';
	r->path_len = r->prefix ? n - 1 : n;
	r->path = strndup(v, r->path_len);
	return r->path == NULL ? "out of memory" : NULL;
}

static int set_string(struct parser *p, char **field, const char *v)
{
	free(*field);
	*field = strdup(v);
	return *field == NULL ? fail(p, p->line, "out of memory") : 0;
}

static int range_check(struct parser *p, const struct key_def *k, const char *v, uint64_t n)
{
	char shown[SHOW_MAX + 4];
	const char *unit = k->type == V_SIZE ? " bytes" : k->type == V_DURATION ? " ms" : "";

	if (n < k->min || n > k->max)
		return fail(p, p->line, "'%s' out of range: %s (allowed %llu..%llu%s)", k->name,
		            show(v, shown), (unsigned long long)k->min, (unsigned long long)k->max,
		            unit);
	return 0;
}

/* Parses v for key k into base (the gw_config, gw_listen or gw_route). */
static int set_value(struct parser *p, const struct key_def *k, char *v, void *base)
{
	char why[GW_CONFIG_WHY_MAX], shown[SHOW_MAX + 4];
	void *field = (char *)base + k->off;
	uint64_t n = 0;
	int rc = 0;

	why[0] = '\0';
	switch (k->type) {
	case V_SIZE:
		rc = gw_config_value_size(v, &n, why);
		break;
	case V_DURATION:
		rc = gw_config_value_duration(v, &n, why);
		break;
	case V_UINT:
	case V_INT:
		rc = gw_config_value_uint(v, UINT64_MAX, &n, why);
		break;
	case V_WORKERS:
		if (strcasecmp(v, "auto") == 0) {
			*(int *)field = 0;
			return 0;
		}
		rc = gw_config_value_uint(v, UINT64_MAX, &n, why);
		if (rc < 0)
			snprintf(why, sizeof(why), "expected auto or a number");
		break;
	case V_BOOL:
		rc = gw_config_value_bool(v, (bool *)field, why);
		break;
	case V_LOG_LEVEL: {
		static const char *const levels[] = {[GW_LOG_ERROR] = "error",
		                                     [GW_LOG_WARN] = "warn",
		                                     [GW_LOG_INFO] = "info",
		                                     [GW_LOG_DEBUG] = "debug"};

		for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
			if (strcasecmp(v, levels[i]) == 0) {
				*(enum gw_log_level *)field = (enum gw_log_level)i;
				return 0;
			}
		}
		rc = -1;
		snprintf(why, sizeof(why), "expected error, warn, info or debug");
		break;
	}
	case V_ACCESS_LOG:
		return set_string(p, field, v);
	case V_USER:
		if (!user_ok(v)) {
			rc = -1;
			snprintf(why, sizeof(why), "expected 1..%d of A-Z a-z 0-9 _ . -", USER_MAX);
			break;
		}
		return set_string(p, field, v);
	case V_DIR:
		if (v[0] != '/') {
			rc = -1;
			snprintf(why, sizeof(why), "expected an absolute path");
			break;
		}
		return set_string(p, field, v);
	case V_TLS_FILE:
		if (tls_file_check(p, k, v) < 0)
			return -1;
		return set_string(p, field, v);
	case V_ADDRESS:
		if (set_string(p, field, v) < 0)
			return -1;
		rc = gw_config_value_listen(v, base, why);
		break;
	case V_ROUTE_PATH: {
		const char *w = route_path_why(v, base);

		if (w != NULL) {
			rc = -1;
			snprintf(why, sizeof(why), "%s", w);
		}
		break;
	}
	case V_BACKEND:
		if (set_string(p, field, v) < 0)
			return -1;
		rc = gw_config_value_backend(v, base, why);
		break;
	case V_TOKENS:
	case V_ORIGINS:
		return parse_list(p, k, v, base);
	}
	if (rc < 0)
		return fail(p, p->line, "bad %s '%s' for '%s': %s", vtype_names[k->type],
		            show(v, shown), k->name, why);
	switch (k->type) {
	case V_SIZE:
	case V_DURATION:
	case V_UINT:
		if (range_check(p, k, v, n) < 0)
			return -1;
		*(uint64_t *)field = n;
		break;
	case V_INT:
	case V_WORKERS:
		if (range_check(p, k, v, n) < 0)
			return -1;
		*(int *)field = (int)n;
		break;
	default:
		break;
	}
	return 0;
}

/* ---- key lines --------------------------------------------------------- */

static int unknown_key(struct parser *p, const char *key)
{
	char label[NAME_MAX_ + 16], shown[SHOW_MAX + 4];
	const char *best = NULL;
	unsigned best_d = HINT_DIST + 1;

	section_label(p, label);
	for (size_t i = 0; i < N_KEYS; i++) {
		if (keys[i].section != p->sec && strcmp(keys[i].name, key) == 0)
			return fail(p, p->line, "unknown key '%s' in %s ('%s' belongs in [%s%s])",
			            key, label, key, section_names[keys[i].section],
			            keys[i].section == SEC_LISTEN || keys[i].section == SEC_ROUTE
			                ? " NAME"
			                : "");
	}
	for (size_t i = 0; i < N_KEYS; i++) {
		unsigned d;

		if (keys[i].section != p->sec)
			continue;
		d = gw_config_value_distance(key, keys[i].name, HINT_DIST);
		if (d < best_d) {
			best_d = d;
			best = keys[i].name;
		}
	}
	if (best != NULL)
		return fail(p, p->line, "unknown key '%s' in %s (did you mean '%s'?)",
		            show(key, shown), label, best);
	return fail(p, p->line, "unknown key '%s' in %s", show(key, shown), label);
}

static int handle_key(struct parser *p, char *s)
{
	char label[NAME_MAX_ + 16], shown[SHOW_MAX + 4];
	char *eq = strchr(s, '='), *key, *val;
	struct gw_config *c = p->c;
	void *base;
	int i;

	if (eq == NULL)
		return fail(p, p->line, "syntax error: expected 'key = value' or '[section]'");
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	if (*key == '\0')
		return fail(p, p->line, "syntax error: missing key before '='");
	if (p->sec == SEC_NONE)
		return fail(p, p->line, "key '%s' outside of any section", show(key, shown));
	i = key_index(key, p->sec);
	if (i < 0)
		return unknown_key(p, key);
	if (p->key_line[i] != 0)
		return fail(p, p->line, "duplicate key '%s' in %s (first at line %d)", key,
		            section_label(p, label), p->key_line[i]);
	p->key_line[i] = p->line;
	if (*val == '\0')
		return fail(p, p->line, "missing value for '%s'", key);
	if (p->sec == SEC_LISTEN)
		base = &c->listens[c->n_listens - 1];
	else if (p->sec == SEC_ROUTE)
		base = &c->routes[c->n_routes - 1];
	else
		base = c;
	return set_value(p, &keys[i], val, base);
}

/* Strips a comment: '#' at the start or after a blank. */
static void strip_comment(char *s)
{
	for (size_t i = 0; s[i] != '\0'; i++) {
		if (s[i] == '#' && (i == 0 || is_blank(s[i - 1]))) {
			s[i] = '\0';
			return;
		}
	}
}

static int handle_line(struct parser *p, const char *raw, size_t n)
{
	char buf[LINE_MAX_ + 1], *s;

	if (n > LINE_MAX_)
		return fail(p, p->line, "line too long (over %d bytes)", LINE_MAX_);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)raw[i];

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return fail(p, p->line, "control character 0x%02x in line", ch);
	}
	memcpy(buf, raw, n);
	buf[n] = '\0';
	strip_comment(buf);
	s = trim(buf);
	if (*s == '\0')
		return 0;
	if (*s == '[')
		return handle_header(p, s);
	return handle_key(p, s);
}

/* ---- public API --------------------------------------------------------- */

int gw_config_parse(const char *name, const char *text, size_t len, struct gw_config **out,
                    char err[GW_CONFIG_ERR_MAX])
{
	struct parser p = {.name = name, .err = err};
	const char *cur = text, *end = text + len;

	*out = NULL;
	err[0] = '\0';
	if (len > GW_CONFIG_FILE_MAX) {
		fail(&p, 0, "file too large (over %d bytes)", GW_CONFIG_FILE_MAX);
		return -1;
	}
	p.c = calloc(1, sizeof(*p.c));
	if (p.c == NULL || server_defaults(p.c) < 0 || (p.c->path = strdup(name)) == NULL) {
		fail(&p, 0, "out of memory");
		goto fail;
	}
	/* An editor's UTF-8 byte order mark is not part of the first line. */
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		cur += 3;
	while (cur < end) {
		const char *nl = memchr(cur, '\n', (size_t)(end - cur));
		size_t n = (size_t)((nl ? nl : end) - cur);

		p.line++;
		if (n > 0 && cur[n - 1] == '\r')
			n--;
		if (handle_line(&p, cur, n) < 0)
			goto fail;
		cur = nl ? nl + 1 : end;
	}
	if (close_section(&p) < 0)
		goto fail;
	if (p.c->n_listens == 0) {
		fail(&p, 0, "no [listen NAME] section: nothing to serve on");
		goto fail;
	}
	*out = p.c;
	return 0;
fail:
	gw_config_free(p.c);
	return -1;
}
