/* ws_frame: incremental frame parser and frame encoder (RFC 6455 §5).
 *
 * The parser reads the header in up to three steps (2 fixed bytes, the
 * extended length, the masking key), each collected in p->head so that
 * any split of the input works, and checks every rule as soon as the
 * bytes that decide it are known: the opcode, RSV and sequencing rules
 * on the first byte, the mask and control-length rules on the second,
 * and the length rules (minimal form, top bit, max frame) before the
 * masking key, so a bad or oversized frame fails before any of its
 * payload is accepted.
 */
#include "ws_frame.h"

#include <string.h>

#include "ws_error.h"

/* Bits of the first header byte. */
#define B0_FIN    0x80
#define B0_RSV1   0x40
#define B0_RSV23  0x30
#define B0_OPCODE 0x0F
/* Bits of the second header byte. */
#define B1_MASK 0x80
#define B1_LEN  0x7F

/* Longest payload of a control frame (RFC 6455 §5.5). */
#define CONTROL_MAX 125

static bool opcode_is_control(unsigned op)
{
	return (op & 0x8) != 0;
}

static bool opcode_is_known(unsigned op)
{
	return op <= WS_OP_BINARY || (op >= WS_OP_CLOSE && op <= WS_OP_PONG);
}

static void expect_head(struct ws_frame_parser *p, enum ws_frame_state state, uint8_t need)
{
	p->state = state;
	p->head_have = 0;
	p->head_need = need;
}

void ws_frame_parser_init(struct ws_frame_parser *p, enum ws_role role, uint64_t max_frame,
                          bool allow_rsv1)
{
	memset(p, 0, sizeof(*p));
	p->role = role;
	p->max_frame = max_frame;
	p->allow_rsv1 = allow_rsv1;
	expect_head(p, WS_FRAME_HEAD, 2);
}

/* Move input into p->head until head_need bytes are there; true when
 * they are. */
static bool fill_head(struct ws_frame_parser *p, const uint8_t *data, size_t len, size_t *used)
{
	size_t want = (size_t)(p->head_need - p->head_have);
	size_t avail = len - *used;
	size_t n = avail < want ? avail : want;

	if (n == 0)
		return p->head_have == p->head_need;
	memcpy(p->head + p->head_have, data + *used, n);
	p->head_have = (uint8_t)(p->head_have + n);
	*used += n;
	return p->head_have == p->head_need;
}

/* The rules that the first byte decides alone (opcode, RSV bits, FIN
 * of control frames, message sequencing), checked as soon as it
 * arrives so that a bad frame fails on its first byte. */
static int check_first(struct ws_frame_parser *p)
{
	uint8_t b0 = p->head[0];
	struct ws_frame_header *h = &p->header;

	memset(h, 0, sizeof(*h));
	h->opcode = b0 & B0_OPCODE;
	h->fin = (b0 & B0_FIN) != 0;
	h->rsv1 = (b0 & B0_RSV1) != 0;

	if (!opcode_is_known(h->opcode))
		return WS_ERR_PROTO_OPCODE;
	if (b0 & B0_RSV23)
		return WS_ERR_PROTO_RSV;
	/* permessage-deflate marks a compressed message on its first frame
	 * only; continuation and control frames never carry RSV1. */
	if (h->rsv1 && !(p->allow_rsv1 && (h->opcode == WS_OP_TEXT || h->opcode == WS_OP_BINARY)))
		return WS_ERR_PROTO_RSV;
	if (opcode_is_control(h->opcode)) {
		if (!h->fin)
			return WS_ERR_PROTO_CONTROL_FRAG;
	} else if (h->opcode == WS_OP_CONTINUATION) {
		if (p->message_opcode == 0)
			return WS_ERR_PROTO_CONTINUATION;
	} else if (p->message_opcode != 0) {
		return WS_ERR_PROTO_NOT_CONTINUATION;
	}
	return WS_OK;
}

/* The rules that the second byte decides (mask direction, control
 * frame and close lengths, max frame for 7-bit lengths); sets the next
 * state. */
static int check_second(struct ws_frame_parser *p)
{
	uint8_t b1 = p->head[1];
	struct ws_frame_header *h = &p->header;
	unsigned len7 = b1 & B1_LEN;

	h->masked = (b1 & B1_MASK) != 0;
	if (p->role == WS_ROLE_SERVER && !h->masked)
		return WS_ERR_PROTO_UNMASKED;
	if (p->role == WS_ROLE_CLIENT && h->masked)
		return WS_ERR_PROTO_MASKED;
	if (opcode_is_control(h->opcode)) {
		if (len7 > CONTROL_MAX)
			return WS_ERR_PROTO_CONTROL_LEN;
		if (h->opcode == WS_OP_CLOSE && len7 == 1)
			return WS_ERR_PROTO_CLOSE_LEN;
	}

	if (len7 == 126) {
		expect_head(p, WS_FRAME_EXT_LENGTH, 2);
		return WS_OK;
	}
	if (len7 == 127) {
		expect_head(p, WS_FRAME_EXT_LENGTH, 8);
		return WS_OK;
	}
	h->length = len7;
	if (p->max_frame != 0 && h->length > p->max_frame)
		return WS_ERR_PROTO_FRAME_TOO_BIG;
	expect_head(p, WS_FRAME_MASK_KEY, h->masked ? 4 : 0);
	return WS_OK;
}

/* The rules of the extended length (RFC 6455 §5.2: minimal form, most
 * significant bit 0) and the max frame size. */
static int check_ext_length(struct ws_frame_parser *p)
{
	struct ws_frame_header *h = &p->header;
	uint64_t v = 0;

	for (unsigned i = 0; i < p->head_need; i++)
		v = (v << 8) | p->head[i];
	if (p->head_need == 2) {
		if (v < 126)
			return WS_ERR_PROTO_LENGTH;
	} else {
		if (v >> 63)
			return WS_ERR_PROTO_LENGTH_TOP;
		if (v <= 0xFFFF)
			return WS_ERR_PROTO_LENGTH;
	}
	h->length = v;
	if (p->max_frame != 0 && h->length > p->max_frame)
		return WS_ERR_PROTO_FRAME_TOO_BIG;
	expect_head(p, WS_FRAME_MASK_KEY, h->masked ? 4 : 0);
	return WS_OK;
}

/* The header is complete: track the open message and start payload. */
static void start_payload(struct ws_frame_parser *p)
{
	struct ws_frame_header *h = &p->header;

	if (h->masked)
		memcpy(h->mask, p->head, 4);
	/* Message bookkeeping happens at header time, so the next header
	 * is judged against this one even before its payload is read. */
	if (h->opcode == WS_OP_TEXT || h->opcode == WS_OP_BINARY) {
		if (!h->fin)
			p->message_opcode = h->opcode;
	} else if (h->opcode == WS_OP_CONTINUATION && h->fin) {
		p->message_opcode = 0;
	}
	p->remaining = h->length;
	p->mask_offset = 0;
	p->state = WS_FRAME_PAYLOAD;
}

int ws_frame_parse(struct ws_frame_parser *p, uint8_t *data, size_t len, size_t *consumed,
                   struct ws_frame_event *ev)
{
	size_t used = 0;
	int err = WS_OK;

	memset(ev, 0, sizeof(*ev));
	ev->type = WS_FRAME_EV_NONE;
	*consumed = 0;
	if (p->state == WS_FRAME_FAILED)
		return p->error;

	for (;;) {
		switch (p->state) {
		case WS_FRAME_HEAD:
			if (p->head_have == 0) {
				if (used == len)
					goto out;
				p->head[0] = data[used++];
				p->head_have = 1;
				err = check_first(p);
				if (err != WS_OK)
					goto fail;
			}
			if (!fill_head(p, data, len, &used))
				goto out;
			err = check_second(p);
			if (err != WS_OK)
				goto fail;
			break;
		case WS_FRAME_EXT_LENGTH:
			if (!fill_head(p, data, len, &used))
				goto out;
			err = check_ext_length(p);
			if (err != WS_OK)
				goto fail;
			break;
		case WS_FRAME_MASK_KEY:
			/* head_need is 0 for unmasked frames: completes at once. */
			if (!fill_head(p, data, len, &used))
				goto out;
			start_payload(p);
			ev->type = WS_FRAME_EV_HEADER;
			ev->header = &p->header;
			goto out;
		case WS_FRAME_PAYLOAD: {
			size_t n;

			ev->header = &p->header;
			/* END needs no input, so it fires even when len is 0;
			 * this is how a zero-length frame ends as well. */
			if (p->remaining == 0) {
				expect_head(p, WS_FRAME_HEAD, 2);
				ev->type = WS_FRAME_EV_END;
				goto out;
			}
			if (used == len) {
				ev->header = NULL;
				goto out;
			}
			n = len - used;
			if ((uint64_t)n > p->remaining)
				n = (size_t)p->remaining;
			if (p->header.masked)
				ws_mask(data + used, n, p->header.mask, p->mask_offset);
			ev->type = WS_FRAME_EV_PAYLOAD;
			ev->data = data + used;
			ev->len = n;
			used += n;
			p->remaining -= n;
			p->mask_offset += n;
			goto out;
		}
		case WS_FRAME_FAILED:
		default:
			/* Unreachable: FAILED returns above. */
			err = p->error != WS_OK ? p->error : WS_ERR_INTERNAL;
			goto fail;
		}
	}
out:
	*consumed = used;
	return WS_OK;
fail:
	p->state = WS_FRAME_FAILED;
	p->error = err;
	*consumed = used;
	return err;
}

size_t ws_frame_header_encode(uint8_t out[WS_FRAME_HEADER_MAX], uint8_t opcode, bool fin, bool rsv1,
                              uint64_t length, const uint8_t *mask)
{
	uint8_t mbit = mask != NULL ? B1_MASK : 0;
	size_t n = 2;

	out[0] = (uint8_t)((fin ? B0_FIN : 0) | (rsv1 ? B0_RSV1 : 0) | (opcode & B0_OPCODE));
	if (length < 126) {
		out[1] = (uint8_t)(mbit | length);
	} else if (length <= 0xFFFF) {
		out[1] = (uint8_t)(mbit | 126);
		out[2] = (uint8_t)(length >> 8);
		out[3] = (uint8_t)length;
		n = 4;
	} else {
		out[1] = (uint8_t)(mbit | 127);
		for (int i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(length >> (56 - 8 * i));
		n = 10;
	}
	if (mask != NULL) {
		memcpy(out + n, mask, 4);
		n += 4;
	}
	return n;
}

void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset)
{
	size_t i = 0;
	unsigned phase = (unsigned)(offset & 3);

	/* Bytes up to the first 8-byte aligned address. */
	while (i < len && ((uintptr_t)(data + i) & 7) != 0) {
		data[i] ^= mask[(phase + i) & 3];
		i++;
	}
	if (len - i >= 8) {
		uint8_t k8[8];
		uint64_t key;

		/* The key rotated to where the aligned run starts, twice:
		 * built byte by byte, so it is right on any endianness. */
		for (unsigned j = 0; j < 8; j++)
			k8[j] = mask[(phase + i + j) & 3];
		memcpy(&key, k8, sizeof(key));
		for (; len - i >= 8; i += 8) {
			uint64_t w;
			memcpy(&w, data + i, sizeof(w));
			w ^= key;
			memcpy(data + i, &w, sizeof(w));
		}
	}
	for (; i < len; i++)
		data[i] ^= mask[(phase + i) & 3];
}

const char *ws_opcode_str(unsigned opcode)
{
	switch (opcode) {
	case WS_OP_CONTINUATION:
		return "continuation";
	case WS_OP_TEXT:
		return "text";
	case WS_OP_BINARY:
		return "binary";
	case WS_OP_CLOSE:
		return "close";
	case WS_OP_PING:
		return "ping";
	case WS_OP_PONG:
		return "pong";
	default:
		return "reserved";
	}
}
