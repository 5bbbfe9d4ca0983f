/* ws_http: HTTP field helpers and the negotiation steps that the
 * HTTP/1.1, HTTP/2 and HTTP/3 upgrade validators share.
 *
 * Internal to libws (the validators are its only callers), but kept as
 * its own module so that each rule (token lists, single-instance
 * fields, the subprotocol choice) is written once.  Nothing here copies
 * or allocates: spans point into the caller's header list.
 *
 * Field values follow RFC 9110 §5.6: optional whitespace (SP / HTAB)
 * around values and list elements is not part of them, and empty list
 * elements (", ,") are skipped.
 */
#ifndef WS_HTTP_H
#define WS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "ws_upgrade.h"

/* Most Sec-WebSocket-Extensions field instances taken into the deflate
 * negotiation; a request with more is WS_ERR_HS_MALFORMED. */
#define WS_HTTP_MAX_EXT_FIELDS 16

/* True when a[0..an) equals b[0..bn) ignoring ASCII case. */
bool ws_http_ieq(const char *a, size_t an, const char *b, size_t bn);

/* True when a[0..an) equals the NUL-terminated b exactly. */
bool ws_http_eq(const char *a, size_t an, const char *b);

/* p[0..n) without leading and trailing SP / HTAB. */
struct ws_span ws_http_trim(const char *p, size_t n);

/* True when p[0..n) is a non-empty RFC 9110 token (tchar only). */
bool ws_http_is_token(const char *p, size_t n);

/* Iterate a comma-separated list: *rest is what is left of the value.
 * Stores the next non-empty element, trimmed, in *elem and returns true;
 * returns false when only empty elements remain. */
bool ws_http_list_next(struct ws_span *rest, struct ws_span *elem);

/* True when some element of the list v[0..n) equals token ignoring
 * ASCII case. */
bool ws_http_list_has(const char *v, size_t n, const char *token);

/* How many fields of h[0..n) are named name (ASCII case-insensitive);
 * the trimmed value of the first one goes to *first ({NULL, 0} when
 * there is none).  A count above 1 is how callers detect repeats. */
size_t ws_http_find(const struct ws_header *h, size_t n, const char *name, struct ws_span *first);

/* True when any instance of the list field name contains token (ASCII
 * case-insensitive): "Connection: keep-alive" followed by "Connection:
 * Upgrade" is one list. */
bool ws_http_fields_have(const struct ws_header *h, size_t n, const char *name, const char *token);

/* Server steps, in the order the validators run them.  Each reads
 * h[0..n) and the (possibly NULL) opts and fills its part of res. */

/* Origin: recorded in res->origin; with an allow-list it must be present
 * and equal (ASCII case-insensitive) to one entry.  Returns WS_OK,
 * WS_ERR_HS_DUPLICATE (Origin repeated) or WS_ERR_HS_ORIGIN. */
int ws_http_check_origin(const struct ws_header *h, size_t n, const struct ws_upgrade_options *opts,
                         struct ws_upgrade_result *res);

/* Subprotocol: records the client's offer (every Sec-WebSocket-Protocol
 * instance) in res->offered and picks the first entry of the server's
 * list that was offered, compared exactly.  Returns WS_OK,
 * WS_ERR_HS_MALFORMED (an element is not a token, or more than
 * WS_UPGRADE_MAX_OFFERED) or WS_ERR_HS_SUBPROTOCOL (none matches and
 * opts->require_subprotocol). */
int ws_http_select_subprotocol(const struct ws_header *h, size_t n,
                               const struct ws_upgrade_options *opts,
                               struct ws_upgrade_result *res);

/* Extensions: when opts->deflate is set, hands every
 * Sec-WebSocket-Extensions value (in order) to ws_deflate_negotiate.
 * A decline leaves res->deflate false.  Returns WS_OK,
 * WS_ERR_HS_MALFORMED (unparsable, or more than WS_HTTP_MAX_EXT_FIELDS
 * instances) or another error ws_deflate_negotiate reports. */
int ws_http_negotiate_extensions(const struct ws_header *h, size_t n,
                                 const struct ws_upgrade_options *opts,
                                 struct ws_upgrade_result *res);

/* All three server steps in that order (origin, subprotocol,
 * extensions), as every validator ends.  Returns WS_OK or the first
 * error of the three. */
int ws_http_negotiate(const struct ws_header *h, size_t n, const struct ws_upgrade_options *opts,
                      struct ws_upgrade_result *res);

/* Point *o at name (NUL-terminated, static) and value[0..value_len). */
void ws_http_set_header(struct ws_header *o, const char *name, const char *value, size_t value_len);

/* How many fields ws_http_add_negotiated writes for res (0 to 2). */
size_t ws_http_negotiated_count(const struct ws_upgrade_result *res);

/* Write the chosen subprotocol and extensions fields of an accepted
 * upgrade at out[*n], advancing *n, under proto_name and ext_name (the
 * versions differ only in the names' case).  The caller has made room
 * for ws_http_negotiated_count(res) fields. */
void ws_http_add_negotiated(const struct ws_upgrade_result *res, struct ws_header *out, size_t *n,
                            const char *proto_name, const char *ext_name);

/* Client steps: check what the server chose against the offer. */

/* Sec-WebSocket-Protocol of a response: absent, or exactly one value
 * equal to an offered subprotocol (res->subprotocol then points to that
 * entry of offer).  Returns WS_OK or WS_ERR_HS_UNSOLICITED. */
int ws_http_client_subprotocol(const struct ws_header *h, size_t n,
                               const struct ws_upgrade_options *offer,
                               struct ws_upgrade_result *res);

/* Sec-WebSocket-Extensions of a response: absent (or empty), or one
 * value that ws_deflate_accept_response takes for offer->deflate; then
 * res->deflate, res->deflate_params and res->extensions are set.
 * Returns WS_OK, WS_ERR_HS_UNSOLICITED (nothing was offered, or more
 * than one field) or the error of ws_deflate_accept_response
 * (WS_ERR_DEFLATE_PARAMS, WS_ERR_HS_UNSOLICITED). */
int ws_http_client_extensions(const struct ws_header *h, size_t n,
                              const struct ws_upgrade_options *offer,
                              struct ws_upgrade_result *res);

/* Both client steps (subprotocol, then extensions).  Returns WS_OK or
 * the first error of the two. */
int ws_http_client_negotiate(const struct ws_header *h, size_t n,
                             const struct ws_upgrade_options *offer, struct ws_upgrade_result *res);

#endif
