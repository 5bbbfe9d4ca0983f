/* ws_upgrade: types shared by the HTTP/1.1, HTTP/2 and HTTP/3 upgrade
 * validators (ws_h1_upgrade, ws_h2_upgrade, ws_h3_upgrade).
 *
 * Header lists are arrays of (name, value) pointer/length pairs into the
 * embedder's buffers: the validators neither copy nor allocate, and the
 * result points into the request (and into the options) where it can,
 * so it is valid as long as both are.
 */
#ifndef WS_UPGRADE_H
#define WS_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>

#include "ws_deflate.h"

/* One header field; names compare case-insensitively.  HTTP/2 and
 * HTTP/3 pseudo-headers (":method") are ordinary entries. */
struct ws_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* What the server accepts on this route (or what a client offers). */
struct ws_upgrade_options {
	const char *const *subprotocols; /* server: in order of preference; client: offer */
	size_t n_subprotocols;
	bool require_subprotocol;           /* server: refuse when none matches */
	const char *const *allowed_origins; /* server: exact Origin values; NULL = any */
	size_t n_allowed_origins;
	const struct ws_deflate_config *deflate; /* NULL = no permessage-deflate */
};

/* Most subprotocols recorded from an offer; more is WS_ERR_HS_MALFORMED. */
#define WS_UPGRADE_MAX_OFFERED 32

struct ws_span {
	const char *p;
	size_t n;
};

struct ws_upgrade_result {
	char key[25];             /* H1: Sec-WebSocket-Key as sent (24 chars + NUL) */
	char accept[29];          /* H1: Sec-WebSocket-Accept value (28 chars + NUL) */
	struct ws_span path;      /* request target / :path */
	struct ws_span authority; /* Host / :authority */
	struct ws_span origin;    /* Origin, {NULL,0} when absent */
	struct ws_span offered[WS_UPGRADE_MAX_OFFERED]; /* subprotocols offered */
	size_t n_offered;
	const char *subprotocol;                 /* chosen (points into the options), or NULL */
	bool deflate;                            /* permessage-deflate agreed */
	struct ws_deflate_params deflate_params; /* valid when deflate */
	char extensions[WS_DEFLATE_EXT_MAX];     /* response extension value, "" if none */
};

#endif
