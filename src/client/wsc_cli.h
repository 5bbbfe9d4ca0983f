/* wsc_cli: option-value parsers shared by the command-line tools. */
#ifndef WSC_CLI_H
#define WSC_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Largest size wsc_cli_size accepts (1 TiB). */
#define WSC_CLI_SIZE_MAX ((size_t)1 << 40)

/* "64", "1.5K", "64KiB", "1M", "2GB" (binary multiples) into *out.
 * Returns false for anything else, negative values or more than
 * WSC_CLI_SIZE_MAX. */
bool wsc_cli_size(const char *s, size_t *out);

/* A whole decimal number >= min into *out; false otherwise. */
bool wsc_cli_long(const char *s, long min, long *out);

/* Append the addresses of one list element to addrs[*n..max): an IPv4
 * or IPv6 literal, or "A.B.C.D-E" for the IPv4 addresses A.B.C.D to
 * A.B.C.E.  Ports are 0.  Returns false (leaving *n as far as it got)
 * for a malformed element, a range that runs backwards or past 255, or
 * when max is reached. */
bool wsc_cli_addrs(const char *elem, struct sockaddr_storage *addrs, socklen_t *lens, int max,
                   int *n);

/* True when s is an HTTP token (RFC 9110 §5.6.2), as a subprotocol name
 * must be, of 1 to max - 1 characters. */
bool wsc_cli_token(const char *s, size_t max);

#endif
