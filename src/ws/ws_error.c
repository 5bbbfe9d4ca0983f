/* ws_error: texts and mappings of the libws error enum. */
#include "ws_error.h"

const char *ws_strerror(int err)
{
	switch ((enum ws_error)err) {
	case WS_OK:
		return "success";
	case WS_ERR_AGAIN:
		return "would block";
	case WS_ERR_NOMEM:
		return "out of memory";
	case WS_ERR_INVALID_ARG:
		return "invalid argument";
	case WS_ERR_CLOSED:
		return "session is closing or closed";
	case WS_ERR_QUEUE_FULL:
		return "outbound queue full";
	case WS_ERR_TRANSPORT:
		return "transport failed";
	case WS_ERR_TIMEOUT:
		return "timed out";
	case WS_ERR_INTERNAL:
		return "internal library failure";
	case WS_ERR_HANDLER:
		return "handler failed";
	case WS_ERR_PROTO_OPCODE:
		return "reserved opcode";
	case WS_ERR_PROTO_RSV:
		return "reserved bit set";
	case WS_ERR_PROTO_UNMASKED:
		return "unmasked frame from client";
	case WS_ERR_PROTO_MASKED:
		return "masked frame from server";
	case WS_ERR_PROTO_LENGTH:
		return "non-minimal payload length";
	case WS_ERR_PROTO_LENGTH_TOP:
		return "payload length has the top bit set";
	case WS_ERR_PROTO_CONTROL_LEN:
		return "control frame longer than 125 bytes";
	case WS_ERR_PROTO_CONTROL_FRAG:
		return "fragmented control frame";
	case WS_ERR_PROTO_CLOSE_LEN:
		return "close payload of 1 byte";
	case WS_ERR_PROTO_CLOSE_CODE:
		return "invalid close code";
	case WS_ERR_PROTO_CONTINUATION:
		return "continuation frame without a message";
	case WS_ERR_PROTO_NOT_CONTINUATION:
		return "new message inside a fragmented message";
	case WS_ERR_PROTO_DEFLATE:
		return "corrupt compressed data";
	case WS_ERR_PROTO_UTF8:
		return "invalid UTF-8";
	case WS_ERR_PROTO_FRAME_TOO_BIG:
		return "frame too big";
	case WS_ERR_PROTO_MESSAGE_TOO_BIG:
		return "message too big";
	case WS_ERR_HS_METHOD:
		return "method not allowed for a WebSocket";
	case WS_ERR_HS_HTTP_VERSION:
		return "HTTP/1.1 or later required";
	case WS_ERR_HS_HOST:
		return "missing Host";
	case WS_ERR_HS_UPGRADE:
		return "Upgrade: websocket required";
	case WS_ERR_HS_CONNECTION:
		return "Connection: upgrade required";
	case WS_ERR_HS_WS_VERSION:
		return "unsupported Sec-WebSocket-Version";
	case WS_ERR_HS_KEY:
		return "invalid Sec-WebSocket-Key";
	case WS_ERR_HS_DUPLICATE:
		return "repeated header";
	case WS_ERR_HS_ORIGIN:
		return "origin not allowed";
	case WS_ERR_HS_SUBPROTOCOL:
		return "no acceptable subprotocol";
	case WS_ERR_HS_PROTOCOL:
		return "unsupported :protocol";
	case WS_ERR_HS_NO_PROTOCOL:
		return "CONNECT without :protocol";
	case WS_ERR_HS_PSEUDO:
		return "missing or invalid pseudo-header";
	case WS_ERR_HS_MALFORMED:
		return "malformed header";
	case WS_ERR_HS_STATUS:
		return "unexpected response status";
	case WS_ERR_HS_ACCEPT:
		return "Sec-WebSocket-Accept mismatch";
	case WS_ERR_HS_UNSOLICITED:
		return "server chose something not offered";
	case WS_ERR_DEFLATE_DECLINED:
		return "permessage-deflate declined";
	case WS_ERR_DEFLATE_PARAMS:
		return "invalid permessage-deflate parameters";
	}
	return "unknown error";
}

int ws_error_http_status(int err)
{
	switch (err) {
	case WS_ERR_HS_WS_VERSION:
		return 426;
	case WS_ERR_HS_ORIGIN:
		return 403;
	case WS_ERR_HS_PROTOCOL:
		return 501;
	default:
		break;
	}
	return err <= -200 && err > -220 ? 400 : 500;
}

uint16_t ws_error_close_code(int err)
{
	switch (err) {
	case WS_ERR_PROTO_UTF8:
		return 1007;
	case WS_ERR_PROTO_FRAME_TOO_BIG:
	case WS_ERR_PROTO_MESSAGE_TOO_BIG:
		return 1009;
	default:
		break;
	}
	return err <= -100 && err > -200 ? 1002 : 1011;
}

bool ws_error_is_fatal(int err)
{
	switch (err) {
	case WS_OK:
	case WS_ERR_AGAIN:
	case WS_ERR_QUEUE_FULL:
	case WS_ERR_CLOSED:
	case WS_ERR_INVALID_ARG:
	case WS_ERR_DEFLATE_DECLINED:
		return false;
	default:
		return true;
	}
}
