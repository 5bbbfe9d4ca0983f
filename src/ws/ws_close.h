/* ws_close: close codes and close-frame payloads (RFC 6455 §7.4). */
#ifndef WS_CLOSE_H
#define WS_CLOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ws_close_code {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL = 1002,
	WS_CLOSE_UNSUPPORTED = 1003,
	WS_CLOSE_NO_STATUS = 1005, /* local only: close frame had no code */
	WS_CLOSE_ABNORMAL = 1006,  /* local only: transport ended without close */
	WS_CLOSE_BAD_DATA = 1007,
	WS_CLOSE_POLICY = 1008,
	WS_CLOSE_TOO_BIG = 1009,
	WS_CLOSE_EXTENSION = 1010,
	WS_CLOSE_INTERNAL = 1011,
	WS_CLOSE_RESTART = 1012,
	WS_CLOSE_TRY_AGAIN = 1013,
	WS_CLOSE_BAD_GATEWAY = 1014,
};

/* Longest close reason: 125 bytes of control payload minus the code. */
#define WS_CLOSE_REASON_MAX 123

/* True for codes that may appear in a close frame: 1000-1003,
 * 1007-1014 and 3000-4999. */
bool ws_close_code_valid_on_wire(unsigned code);

/* Build a close payload into out (at most 125 bytes) and return its
 * length.  An invalid code is sent as 1002; a reason longer than
 * WS_CLOSE_REASON_MAX, or one that is not valid UTF-8, is cut at a
 * code-point boundary (invalid reasons are dropped). code 0 builds an
 * empty payload (no status). */
size_t ws_close_payload_build(uint8_t out[125], unsigned code, const char *reason,
                              size_t reason_len);

/* Parse a received close payload.  An empty payload yields 1005 and no
 * reason.  Returns WS_OK, WS_ERR_PROTO_CLOSE_LEN (1 byte),
 * WS_ERR_PROTO_CLOSE_CODE (code not valid on the wire) or
 * WS_ERR_PROTO_UTF8 (reason not valid UTF-8).  On success *reason points
 * into p (NULL when there is none).  *code is set to the received code
 * also on CLOSE_CODE and UTF8 errors (for logs), 0 on CLOSE_LEN. */
int ws_close_payload_parse(const uint8_t *p, size_t n, uint16_t *code, const uint8_t **reason,
                           size_t *reason_len);

#endif
