/* ws_frame: incremental frame parser and frame encoder (RFC 6455 §5).
 *
 * The parser is a push state machine: the caller hands it whatever bytes
 * it has, split anywhere (one byte at a time works), and gets back one
 * event at a time.  Payload is unmasked in place, a machine word at a
 * time, and delivered as pointers into the caller's buffer: nothing is
 * copied or buffered except the at most 14 header bytes.
 *
 * The parser enforces every framing rule: reserved opcodes, RSV bits
 * (RSV1 only when an extension owns it, only on the first frame of a
 * data message), mask direction by role, minimal length encoding, the
 * 64-bit top bit, control frames <= 125 bytes and never fragmented, a
 * close payload of 1 byte, continuation only inside an open message and
 * no new data message inside one (control frames may interleave), and
 * the max frame size.  Message-level limits, UTF-8 and close-code
 * checks belong to ws_session.
 */
#ifndef WS_FRAME_H
#define WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ws_opcode {
	WS_OP_CONTINUATION = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xA,
};

enum ws_role {
	WS_ROLE_SERVER, /* receives masked frames, sends unmasked */
	WS_ROLE_CLIENT, /* receives unmasked frames, sends masked */
};

/* Where the parser is inside the current frame. */
enum ws_frame_state {
	WS_FRAME_HEAD,       /* waiting for the 2 fixed header bytes */
	WS_FRAME_EXT_LENGTH, /* reading the 2- or 8-byte extended length */
	WS_FRAME_MASK_KEY,   /* reading the 4-byte masking key */
	WS_FRAME_PAYLOAD,    /* delivering payload bytes */
	WS_FRAME_FAILED,     /* a rule was broken; the error is sticky */
};

enum ws_frame_event_type {
	WS_FRAME_EV_NONE,    /* all input consumed, nothing to report */
	WS_FRAME_EV_HEADER,  /* a frame header is complete (ev.header) */
	WS_FRAME_EV_PAYLOAD, /* a chunk of payload (ev.data, ev.len), unmasked */
	WS_FRAME_EV_END,     /* the current frame is complete */
};

struct ws_frame_header {
	uint8_t opcode;  /* enum ws_opcode */
	bool fin;        /* final frame of the message */
	bool rsv1;       /* per-message compressed (first frame only) */
	bool masked;     /* a masking key was present */
	uint64_t length; /* payload length */
	uint8_t mask[4]; /* masking key when masked */
};

struct ws_frame_event {
	enum ws_frame_event_type type;
	const struct ws_frame_header *header; /* valid for every event of a frame */
	uint8_t *data;                        /* PAYLOAD: points into the input */
	size_t len;                           /* PAYLOAD: chunk length */
};

struct ws_frame_parser {
	enum ws_frame_state state;     /* position inside the current frame */
	enum ws_role role;             /* decides the required mask direction */
	bool allow_rsv1;               /* an extension (deflate) owns RSV1 */
	uint64_t max_frame;            /* payload limit per frame, 0 = none */
	struct ws_frame_header header; /* header of the current frame */
	uint8_t head[8];               /* partial extended length or mask key */
	uint8_t head_have;             /* bytes of head[] filled */
	uint8_t head_need;             /* bytes of head[] needed */
	uint64_t remaining;            /* payload bytes still to deliver */
	uint64_t mask_offset;          /* payload bytes already unmasked */
	uint8_t message_opcode;        /* opcode of the open data message, 0 if none */
	int error;                     /* sticky error once FAILED */
};

/* Reset p for a new connection.  max_frame 0 means no limit. */
void ws_frame_parser_init(struct ws_frame_parser *p, enum ws_role role, uint64_t max_frame,
                          bool allow_rsv1);

/* Consume bytes from data[0..len) until one event is ready or the input
 * runs out; *consumed says how many bytes were used (the caller calls
 * again with the rest).  Payload bytes are unmasked in place.  Call it
 * in a loop until it reports EV_NONE: NONE comes only when all of
 * data[0..len) was consumed and nothing is pending.
 *
 * Per frame the events are HEADER, then PAYLOAD chunks (never empty,
 * their lengths summing to header.length), then END.  HEADER consumes
 * exactly the rest of the header and no payload.  END consumes nothing
 * and comes from the call after the last PAYLOAD (or after HEADER for a
 * zero-length frame), even when that call has len 0.  ev->header points
 * at p->header for HEADER/PAYLOAD/END and is NULL for NONE; its
 * contents change once the next frame's first byte is read, so use it
 * before calling again after END.  Message sequencing is updated at HEADER
 * time.
 *
 * Rules are checked as soon as the deciding byte arrives: opcode, RSV
 * bits, control FIN and continuation/new-message on the first header
 * byte; mask direction, control length and close length 1 on the
 * second; minimal length, top bit and max_frame on the last length
 * byte, before the masking key and any payload.
 *
 * Returns WS_OK or one of the WS_ERR_PROTO_* errors (OPCODE, RSV,
 * UNMASKED, MASKED, LENGTH, LENGTH_TOP, CONTROL_LEN, CONTROL_FRAG,
 * CLOSE_LEN, CONTINUATION, NOT_CONTINUATION, FRAME_TOO_BIG), with
 * ev->type NONE and *consumed covering the bytes read up to and including
 * the bad one.
 * Errors are sticky: the state is FAILED and later calls return the same
 * error and consume nothing. */
int ws_frame_parse(struct ws_frame_parser *p, uint8_t *data, size_t len, size_t *consumed,
                   struct ws_frame_event *ev);

/* Longest frame header: 2 + 8 (length) + 4 (mask). */
#define WS_FRAME_HEADER_MAX 14

/* Encode a frame header with the shortest length form; mask NULL means
 * unmasked.  length must be below 2^63 (the parser rejects the top
 * bit).  Only the low 4 bits of opcode are used.  Returns the header
 * length (2..14); cannot fail. */
size_t ws_frame_header_encode(uint8_t out[WS_FRAME_HEADER_MAX], uint8_t opcode, bool fin, bool rsv1,
                              uint64_t length, const uint8_t *mask);

/* XOR data with the masking key, as if data started offset bytes into
 * the payload.  Works a machine word at a time. */
void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset);

/* Name of an opcode for logs ("text", "close", "reserved"). */
const char *ws_opcode_str(unsigned opcode);

#endif
