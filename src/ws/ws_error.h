/* ws_error: the one error enum of libws.
 *
 * Every libws function that can fail returns 0 (WS_OK) or a negative
 * value of enum ws_error.  The values are grouped in ranges so that a
 * caller can tell what to do with an error without a table:
 *
 *   -1 .. -99    generic and resource errors
 *   -100 .. -199 protocol errors after the upgrade (map to a close code)
 *   -200 .. -299 handshake errors before the upgrade (map to an HTTP status)
 *   -300 .. -399 permessage-deflate negotiation and codec errors
 */
#ifndef WS_ERROR_H
#define WS_ERROR_H

#include <stdbool.h>
#include <stdint.h>

enum ws_error {
	WS_OK = 0,

	/* generic */
	WS_ERR_AGAIN = -1,       /* would block or paused: retry later, not fatal */
	WS_ERR_NOMEM = -2,       /* allocation failed */
	WS_ERR_INVALID_ARG = -3, /* caller passed something out of contract */
	WS_ERR_CLOSED = -4,      /* session closing or closed: sends are refused */
	WS_ERR_QUEUE_FULL = -5,  /* outbound queue would pass its hard limit */
	WS_ERR_TRANSPORT = -6,   /* the transport failed (reset, write error) */
	WS_ERR_TIMEOUT = -7,     /* close, idle or handshake timeout */
	WS_ERR_INTERNAL = -8,    /* library failure (OpenSSL, zlib init) */
	WS_ERR_HANDLER = -9,     /* a handler callback failed: close 1011 */

	/* protocol errors after the upgrade: close 1002 unless noted */
	WS_ERR_PROTO_OPCODE = -100,           /* reserved opcode 3-7 or 11-15 */
	WS_ERR_PROTO_RSV = -101,              /* RSV bit set that no extension owns */
	WS_ERR_PROTO_UNMASKED = -102,         /* server received an unmasked frame */
	WS_ERR_PROTO_MASKED = -103,           /* client received a masked frame */
	WS_ERR_PROTO_LENGTH = -104,           /* non-minimal length encoding */
	WS_ERR_PROTO_LENGTH_TOP = -105,       /* 64-bit length with the top bit set */
	WS_ERR_PROTO_CONTROL_LEN = -106,      /* control frame payload over 125 */
	WS_ERR_PROTO_CONTROL_FRAG = -107,     /* control frame without FIN */
	WS_ERR_PROTO_CLOSE_LEN = -108,        /* close payload of exactly 1 byte */
	WS_ERR_PROTO_CLOSE_CODE = -109,       /* close code not valid on the wire */
	WS_ERR_PROTO_CONTINUATION = -110,     /* continuation with no message open */
	WS_ERR_PROTO_NOT_CONTINUATION = -111, /* new data frame inside a message */
	WS_ERR_PROTO_DEFLATE = -112,          /* compressed payload is corrupt */
	WS_ERR_PROTO_UTF8 = -120,             /* invalid UTF-8: close 1007 */
	WS_ERR_PROTO_FRAME_TOO_BIG = -130,    /* over max frame: close 1009 */
	WS_ERR_PROTO_MESSAGE_TOO_BIG = -131,  /* over max message (also inflated): 1009 */

	/* handshake errors: the HTTP status is given by ws_error_http_status */
	WS_ERR_HS_METHOD = -200,       /* not GET (H1) / not CONNECT (H2): 400 */
	WS_ERR_HS_HTTP_VERSION = -201, /* HTTP/1.0 or older: 400 */
	WS_ERR_HS_HOST = -202,         /* Host / :authority missing: 400 */
	WS_ERR_HS_UPGRADE = -203,      /* Upgrade lacks the websocket token: 400 */
	WS_ERR_HS_CONNECTION = -204,   /* Connection lacks the upgrade token: 400 */
	WS_ERR_HS_WS_VERSION = -205,   /* Sec-WebSocket-Version not 13: 426 */
	WS_ERR_HS_KEY = -206,          /* key missing or not base64 of 16 bytes: 400 */
	WS_ERR_HS_DUPLICATE = -207,    /* a header that must be single repeated: 400 */
	WS_ERR_HS_ORIGIN = -208,       /* Origin not in the allow-list: 403 */
	WS_ERR_HS_SUBPROTOCOL = -209,  /* a subprotocol is required, none offered matches: 400 */
	WS_ERR_HS_PROTOCOL = -210,     /* H2/H3 :protocol other than websocket: 501 */
	WS_ERR_HS_NO_PROTOCOL = -211,  /* H2/H3 CONNECT without :protocol: 400 */
	WS_ERR_HS_PSEUDO = -212,       /* :scheme or :path missing, or malformed: 400 */
	WS_ERR_HS_MALFORMED = -213,    /* a header value that cannot be parsed: 400 */
	WS_ERR_HS_STATUS = -220,       /* client: response status not 101 / 200 */
	WS_ERR_HS_ACCEPT = -221,       /* client: Sec-WebSocket-Accept mismatch */
	WS_ERR_HS_UNSOLICITED = -222, /* client: server chose a protocol or extension not offered */

	/* permessage-deflate */
	WS_ERR_DEFLATE_DECLINED = -300, /* no acceptable offer: continue without deflate */
	WS_ERR_DEFLATE_PARAMS = -301, /* malformed, duplicate, unknown or out-of-range parameter */
};

/* Short human-readable text for an error ("invalid UTF-8"), never NULL. */
const char *ws_strerror(int err);

/* The HTTP status an embedder answers a failed handshake with:
 * 400, 403, 426 or 501 for WS_ERR_HS_*; 500 for anything else. */
int ws_error_http_status(int err);

/* The close code a protocol error maps to: 1002, 1007 or 1009 for
 * WS_ERR_PROTO_*, 1011 for WS_ERR_HANDLER and internal failures. */
uint16_t ws_error_close_code(int err);

/* True when the object that returned err cannot be used any more (every
 * error except WS_OK, WS_ERR_AGAIN, WS_ERR_QUEUE_FULL, WS_ERR_CLOSED,
 * WS_ERR_INVALID_ARG and WS_ERR_DEFLATE_DECLINED). */
bool ws_error_is_fatal(int err);

#endif
