/* ws_close: close codes and close-frame payloads (RFC 6455 §7.4). */
#include "ws_close.h"

#include <string.h>

#include "ws_error.h"
#include "ws_utf8.h"

bool ws_close_code_valid_on_wire(unsigned code)
{
	/* 1004 is reserved, 1005/1006/1015 are local-only pseudo codes,
	 * 1016-2999 are unassigned (IANA) or reserved for RFC updates, and
	 * 3000-4999 belong to libraries, frameworks and applications. */
	if (code >= 1000 && code <= 1003)
		return true;
	if (code >= 1007 && code <= 1014)
		return true;
	return code >= 3000 && code <= 4999;
}

size_t ws_close_payload_build(uint8_t out[125], unsigned code, const char *reason,
                              size_t reason_len)
{
	const uint8_t *r = (const uint8_t *)reason;
	size_t n;

	/* A reason cannot travel without a code, so "no status" is empty. */
	if (code == 0)
		return 0;
	if (!ws_close_code_valid_on_wire(code))
		code = WS_CLOSE_PROTOCOL;
	out[0] = (uint8_t)(code >> 8);
	out[1] = (uint8_t)(code & 0xFF);
	if (r == NULL || reason_len == 0)
		return 2;
	/* The peer fails the connection on a bad reason (1007), so a
	 * malformed one is dropped whole rather than sent. */
	if (!ws_utf8_valid(r, reason_len))
		return 2;
	n = ws_utf8_cut(r, reason_len, WS_CLOSE_REASON_MAX);
	memcpy(out + 2, r, n);
	return 2 + n;
}

int ws_close_payload_parse(const uint8_t *p, size_t n, uint16_t *code, const uint8_t **reason,
                           size_t *reason_len)
{
	uint16_t c;

	*code = 0;
	*reason = NULL;
	*reason_len = 0;
	if (n == 0) {
		*code = WS_CLOSE_NO_STATUS;
		return WS_OK;
	}
	if (n == 1)
		return WS_ERR_PROTO_CLOSE_LEN;
	c = (uint16_t)((p[0] << 8) | p[1]);
	/* Report the code even when it is rejected, for the log line. */
	*code = c;
	if (!ws_close_code_valid_on_wire(c))
		return WS_ERR_PROTO_CLOSE_CODE;
	if (!ws_utf8_valid(p + 2, n - 2))
		return WS_ERR_PROTO_UTF8;
	*reason = p + 2;
	*reason_len = n - 2;
	return WS_OK;
}
