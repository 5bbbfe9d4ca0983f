/* wsc_cli: option-value parsers for the tools. */
#include "wsc_cli.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool wsc_cli_size(const char *s, size_t *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || !(v >= 0))
		return false;
	switch (*end) {
	case 'K':
	case 'k':
		v *= 1024.0;
		end++;
		break;
	case 'M':
	case 'm':
		v *= 1024.0 * 1024;
		end++;
		break;
	case 'G':
	case 'g':
		v *= 1024.0 * 1024 * 1024;
		end++;
		break;
	default:
		break;
	}
	if (*end == 'i')
		end++;
	if (*end == 'B')
		end++;
	if (*end != '\0' || v > (double)WSC_CLI_SIZE_MAX)
		return false;
	*out = (size_t)v;
	return true;
}

bool wsc_cli_long(const char *s, long min, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	*out = v;
	return end != s && *end == '\0' && v >= min;
}

/* One literal address into addrs[*n]. */
static bool add_one(const char *ip, struct sockaddr_storage *addrs, socklen_t *lens, int max,
                    int *n)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&addrs[*n];
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&addrs[*n];

	if (*n >= max)
		return false;
	memset(&addrs[*n], 0, sizeof(addrs[0]));
	if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		lens[(*n)++] = sizeof(*sin);
		return true;
	}
	if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		lens[(*n)++] = sizeof(*sin6);
		return true;
	}
	return false;
}

bool wsc_cli_addrs(const char *elem, struct sockaddr_storage *addrs, socklen_t *lens, int max,
                   int *n)
{
	char ip[64], *dash, *dot;
	long lo, hi;

	if (strlen(elem) >= sizeof(ip))
		return false;
	strcpy(ip, elem);
	dash = strchr(ip, '-');
	if (dash == NULL)
		return add_one(ip, addrs, lens, max, n);
	/* "127.0.0.1-20": the last octet runs from 1 to 20. */
	*dash = '\0';
	dot = strrchr(ip, '.');
	if (dot == NULL || !wsc_cli_long(dot + 1, 0, &lo) || !wsc_cli_long(dash + 1, lo, &hi) ||
	    hi > 255)
		return false;
	*dot = '\0';
	for (long o = lo; o <= hi; o++) {
		char buf[80];

		snprintf(buf, sizeof(buf), "%s.%ld", ip, o);
		if (!add_one(buf, addrs, lens, max, n))
			return false;
	}
	return true;
}

bool wsc_cli_token(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n >= max)
		return false;
	for (; *s != '\0'; s++)
		if (*s <= 0x20 || *s >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", *s) != NULL)
			return false;
	return true;
}
