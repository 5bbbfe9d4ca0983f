/* gw_config_value: value forms of the config file; see gw_config_value.h. */
#include "gw_config_value.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>

/* Longest hostname (RFC 1035 text form) and label of a tcp: backend. */
#define HOST_MAX  253
#define LABEL_MAX 63

/* Words longer than this never get a hint (keeps the table on the stack). */
#define DISTANCE_WORD_MAX 64

static int why_set(char why[GW_CONFIG_WHY_MAX], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int why_set(char why[GW_CONFIG_WHY_MAX], const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, GW_CONFIG_WHY_MAX, fmt, ap);
	va_end(ap);
	return -1;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Leading digits of s into *n, refusing numbers above max; returns the
 * number of digits consumed, 0 when there are none, -1 when too big. */
static int digits(const char *s, uint64_t max, uint64_t *n)
{
	uint64_t v = 0;
	int i = 0;

	while (is_digit(s[i])) {
		unsigned d = (unsigned)(s[i] - '0');

		if (d > max || v > (max - d) / 10)
			return -1;
		v = v * 10 + d;
		i++;
	}
	*n = v;
	return i;
}

int gw_config_value_uint(const char *s, uint64_t max, uint64_t *out, char why[GW_CONFIG_WHY_MAX])
{
	uint64_t v;
	int n = digits(s, max, &v);

	if (n < 0)
		return why_set(why, "too large (limit %llu)", (unsigned long long)max);
	if (n == 0 || s[n] != '\0')
		return why_set(why, "expected a plain decimal number");
	*out = v;
	return 0;
}

int gw_config_value_size(const char *s, uint64_t *out, char why[GW_CONFIG_WHY_MAX])
{
	unsigned shift;
	uint64_t v;
	int n = digits(s, UINT64_MAX, &v);

	if (n < 0)
		return why_set(why, "too large (limit 1T = 1099511627776 bytes)");
	if (n == 0)
		goto bad;
	switch (s[n]) {
	case '\0':
		shift = 0;
		break;
	case 'k':
	case 'K':
		shift = 10;
		break;
	case 'm':
	case 'M':
		shift = 20;
		break;
	case 'g':
	case 'G':
		shift = 30;
		break;
	default:
		goto bad;
	}
	if (shift != 0 && s[n + 1] != '\0')
		goto bad;
	if (v > (GW_CONFIG_SIZE_LIMIT >> shift))
		return why_set(why, "too large (limit 1T = 1099511627776 bytes)");
	*out = v << shift;
	return 0;
bad:
	return why_set(why, "expected a number of bytes with an optional K, M or G suffix");
}

int gw_config_value_duration(const char *s, uint64_t *out_ms, char why[GW_CONFIG_WHY_MAX])
{
	uint64_t v, unit;
	int n = digits(s, UINT64_MAX, &v);
	const char *u;

	if (n < 0)
		return why_set(why, "too long (limit 30 days)");
	if (n == 0)
		goto bad;
	u = s + n;
	if (*u == '\0' || strcasecmp(u, "s") == 0)
		unit = 1000; /* a bare number is seconds, like the suffix-less sizes are bytes */
	else if (strcasecmp(u, "ms") == 0)
		unit = 1;
	else if (strcasecmp(u, "m") == 0)
		unit = 60 * 1000;
	else if (strcasecmp(u, "h") == 0)
		unit = 3600 * 1000;
	else
		goto bad;
	if (v > GW_CONFIG_DURATION_LIMIT / unit)
		return why_set(why, "too long (limit 30 days)");
	*out_ms = v * unit;
	return 0;
bad:
	return why_set(why, "expected a number with an ms, s, m or h suffix (plain = seconds)");
}

int gw_config_value_bool(const char *s, bool *out, char why[GW_CONFIG_WHY_MAX])
{
	static const char *const yes[] = {"on", "yes", "true"};
	static const char *const no[] = {"off", "no", "false"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return why_set(why, "expected on/off, yes/no or true/false");
}

/* Port text (the whole string) to a number 1..65535. */
static int port_parse(const char *s, uint16_t *port, char why[GW_CONFIG_WHY_MAX])
{
	uint64_t v;
	int n = digits(s, 65535, &v);

	if (n == 0 || (n > 0 && s[n] != '\0'))
		return why_set(why, "port '%.16s' is not a number", s);
	if (n < 0 || v == 0)
		return why_set(why, "port must be 1..65535");
	*port = (uint16_t)v;
	return 0;
}

/* "unix:" already stripped: an absolute path that fits sun_path. */
static int unix_path_check(const char *path, char why[GW_CONFIG_WHY_MAX])
{
	struct sockaddr_un sun;

	if (path[0] != '/')
		return why_set(why, "unix socket path must be absolute (unix:/PATH)");
	if (strlen(path) >= sizeof(sun.sun_path))
		return why_set(why, "unix socket path longer than %zu bytes",
		               sizeof(sun.sun_path) - 1);
	return 0;
}

/* Splits "[V6]:PORT" in place: *host is the text between the brackets,
 * *port what follows "]:".  s must start with '['. */
static int split_bracketed(char *s, char **host, char **port, char why[GW_CONFIG_WHY_MAX])
{
	char *close = strchr(s, ']');

	if (close == NULL)
		return why_set(why, "missing ']' after IPv6 address");
	if (close[1] != ':')
		return why_set(why, "expected ':PORT' after ']'");
	*close = '\0';
	*host = s + 1;
	*port = close + 2;
	return 0;
}

static int v6_parse(const char *host, struct in6_addr *a, char why[GW_CONFIG_WHY_MAX])
{
	if (inet_pton(AF_INET6, host, a) != 1)
		return why_set(why, "'%.64s' is not a numeric IPv6 address", host);
	return 0;
}

/* Fills l from the INET forms; buf is a writable copy of the text. */
static int listen_inet(char *buf, struct gw_listen *l, char why[GW_CONFIG_WHY_MAX])
{
	char *host = NULL, *port_s = NULL;
	uint16_t port;

	if (buf[0] == '[') {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->addr;

		if (split_bracketed(buf, &host, &port_s, why) < 0 ||
		    port_parse(port_s, &port, why) < 0)
			return -1;
		memset(&l->addr, 0, sizeof(l->addr));
		if (v6_parse(host, &sin6->sin6_addr, why) < 0)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		l->addr_len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&l->addr;
		char *colon = strrchr(buf, ':');

		if (colon == NULL)
			return why_set(why, "expected HOST:PORT, [IPV6]:PORT or unix:/PATH");
		*colon = '\0';
		host = buf;
		if (strchr(host, ':') != NULL)
			return why_set(why, "IPv6 addresses need brackets: [ADDR]:PORT");
		if (port_parse(colon + 1, &port, why) < 0)
			return -1;
		memset(&l->addr, 0, sizeof(l->addr));
		/* Names other than localhost would need a resolver at load
		 * time, and a listener must not depend on DNS. */
		if (strcmp(host, "*") == 0)
			sin->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (strcmp(host, "localhost") == 0)
			sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return why_set(why,
			               "host '%.64s' must be a numeric IPv4 address, '*' or "
			               "'localhost' (IPv6: [ADDR]:PORT)",
			               host);
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		l->addr_len = sizeof(*sin);
	}
	l->kind = GW_ADDR_INET;
	return 0;
}

int gw_config_value_listen(const char *s, struct gw_listen *l, char why[GW_CONFIG_WHY_MAX])
{
	char *buf;
	int rc;

	if (strncmp(s, "unix:", 5) == 0) {
		struct sockaddr_un *sun = (struct sockaddr_un *)&l->addr;
		const char *path = s + 5;

		if (unix_path_check(path, why) < 0)
			return -1;
		l->unix_path = strdup(path);
		if (l->unix_path == NULL)
			return why_set(why, "out of memory");
		memset(&l->addr, 0, sizeof(l->addr));
		sun->sun_family = AF_UNIX;
		memcpy(sun->sun_path, path, strlen(path) + 1);
		l->addr_len =
		    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
		l->kind = GW_ADDR_UNIX;
		return 0;
	}
	buf = strdup(s);
	if (buf == NULL)
		return why_set(why, "out of memory");
	rc = listen_inet(buf, l, why);
	free(buf);
	return rc;
}

/* A DNS name or dotted IPv4: labels of [A-Za-z0-9_-], 1..63 bytes each,
 * 253 in all, one optional trailing dot. */
static bool hostname_ok(const char *h)
{
	size_t len = strlen(h), label = 0;

	if (len == 0 || len > HOST_MAX || h[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = h[i];

		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!(is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
		      c == '_'))
			return false;
		if (++label > LABEL_MAX)
			return false;
	}
	return true;
}

/* "tcp:" already stripped; buf is a writable copy. */
static int backend_tcp(char *buf, struct gw_route *r, char why[GW_CONFIG_WHY_MAX])
{
	char *host = NULL, *port_s = NULL;
	uint16_t port;

	if (buf[0] == '[') {
		struct in6_addr a;

		if (split_bracketed(buf, &host, &port_s, why) < 0 || v6_parse(host, &a, why) < 0)
			return -1;
	} else {
		char *colon = strrchr(buf, ':');

		if (colon == NULL)
			return why_set(why, "expected tcp:HOST:PORT");
		*colon = '\0';
		host = buf;
		port_s = colon + 1;
		if (strchr(host, ':') != NULL)
			return why_set(why, "IPv6 addresses need brackets: tcp:[ADDR]:PORT");
		if (!hostname_ok(host))
			return why_set(why, "'%.64s' is not a valid host name or address", host);
	}
	if (port_parse(port_s, &port, why) < 0)
		return -1;
	r->backend_host = strdup(host);
	r->backend_port = strdup(port_s);
	if (r->backend_host == NULL || r->backend_port == NULL)
		return why_set(why, "out of memory");
	r->backend_kind = GW_BACKEND_TCP;
	return 0;
}

int gw_config_value_backend(const char *s, struct gw_route *r, char why[GW_CONFIG_WHY_MAX])
{
	if (strcmp(s, "echo") == 0) {
		r->backend_kind = GW_BACKEND_ECHO;
		return 0;
	}
	if (strncmp(s, "unix:", 5) == 0) {
		if (unix_path_check(s + 5, why) < 0)
			return -1;
		r->backend_path = strdup(s + 5);
		if (r->backend_path == NULL)
			return why_set(why, "out of memory");
		r->backend_kind = GW_BACKEND_UNIX;
		return 0;
	}
	if (strncmp(s, "tcp:", 4) == 0) {
		char *buf = strdup(s + 4);
		int rc;

		if (buf == NULL)
			return why_set(why, "out of memory");
		rc = backend_tcp(buf, r, why);
		free(buf);
		return rc;
	}
	return why_set(why, "expected echo, tcp:HOST:PORT or unix:/PATH");
}

static unsigned min3(unsigned a, unsigned b, unsigned c)
{
	unsigned m = a < b ? a : b;

	return m < c ? m : c;
}

unsigned gw_config_value_distance(const char *a, const char *b, unsigned limit)
{
	/* Three rows of the classic table: the transposition step looks two
	 * rows back. */
	unsigned rows[3][DISTANCE_WORD_MAX + 1];
	size_t la = strlen(a), lb = strlen(b);

	if (la > DISTANCE_WORD_MAX || lb > DISTANCE_WORD_MAX)
		return limit + 1;
	if ((la > lb ? la - lb : lb - la) > limit)
		return limit + 1;
	for (size_t j = 0; j <= lb; j++)
		rows[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned *cur = rows[i % 3], *prev = rows[(i - 1) % 3], *prev2 = rows[(i + 1) % 3];

		cur[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;

			cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < cur[j])
				cur[j] = prev2[j - 2] + 1;
		}
	}
	return rows[la % 3][lb] > limit ? limit + 1 : rows[la % 3][lb];
}
