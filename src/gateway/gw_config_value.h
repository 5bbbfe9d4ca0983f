/* gw_config_value: the value forms of the config file (sizes, durations,
 * booleans, counts, listener addresses, backends) and the edit distance
 * behind "did you mean" hints.  Split out of gw_config so that the file
 * walker stays readable; nothing here knows about files or lines.
 *
 * Every parser takes the value text (already trimmed, NUL-terminated)
 * and returns 0 on success or -1 with a short reason in why[] (no
 * FILE:LINE prefix, no key name: the caller adds those).
 */
#ifndef GW_CONFIG_VALUE_H
#define GW_CONFIG_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gw_config.h"

/* Longest reason a parser writes into why[]. */
#define GW_CONFIG_WHY_MAX 192

/* Largest config file, in bytes. */
#define GW_CONFIG_FILE_MAX (1024 * 1024)

/* Upper bounds that keep values "not absurd" (and products in range). */
#define GW_CONFIG_SIZE_LIMIT     (UINT64_C(1) << 40)               /* 1 TiB */
#define GW_CONFIG_DURATION_LIMIT (UINT64_C(30) * 24 * 3600 * 1000) /* 30 days, ms */

/* Plain decimal number (no sign, no suffix) into *out.  Fails when the
 * text is not all digits or the number exceeds max. */
int gw_config_value_uint(const char *s, uint64_t max, uint64_t *out, char why[GW_CONFIG_WHY_MAX]);

/* Byte size: digits with an optional K, M or G suffix (powers of 1024,
 * either case); a plain number is bytes.  Fails on other forms and above
 * GW_CONFIG_SIZE_LIMIT. */
int gw_config_value_size(const char *s, uint64_t *out, char why[GW_CONFIG_WHY_MAX]);

/* Duration into milliseconds: digits with ms, s, m or h; a plain number
 * is seconds.  Fails on other forms and above GW_CONFIG_DURATION_LIMIT. */
int gw_config_value_duration(const char *s, uint64_t *out_ms, char why[GW_CONFIG_WHY_MAX]);

/* on/off, yes/no, true/false (any case). */
int gw_config_value_bool(const char *s, bool *out, char why[GW_CONFIG_WHY_MAX]);

/* Listener address: "HOST:PORT" with a numeric IPv4 host, '*' or
 * 'localhost' (= 127.0.0.1), "[V6]:PORT", or "unix:/ABSOLUTE/PATH".  Fills
 * kind, addr and addr_len (a sockaddr_in, sockaddr_in6 or sockaddr_un)
 * and, for unix, *unix_path (malloc'd; the caller frees it).  Fails on
 * any other form, a port outside 1..65535, a relative or over-long unix
 * path, or when out of memory. */
int gw_config_value_listen(const char *s, struct gw_listen *l, char why[GW_CONFIG_WHY_MAX]);

/* Backend: "echo", "tcp:HOST:PORT" (HOST a name, IPv4 or [V6]) or
 * "unix:/ABSOLUTE/PATH".  Fills backend_kind and the malloc'd
 * backend_host/backend_port or backend_path of r (the caller frees
 * them).  Fails on any other form or when out of memory. */
int gw_config_value_backend(const char *s, struct gw_route *r, char why[GW_CONFIG_WHY_MAX]);

/* Optimal-string-alignment distance (insertions, deletions,
 * substitutions, adjacent transpositions) between a and b, or limit + 1
 * when it exceeds limit.  Cheap for short words; used for hints only. */
unsigned gw_config_value_distance(const char *a, const char *b, unsigned limit);

#endif
