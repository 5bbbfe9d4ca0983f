/* ws_session_int.h: internals shared by ws_session.c (input, close
 * handshake, timers, lifecycle) and ws_session_send.c (framing and the
 * outbound queue).  Not part of the public contract; not installed.
 */
#ifndef WS_SESSION_INT_H
#define WS_SESSION_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ws_deflate.h"
#include "ws_frame.h"
#include "ws_session.h"
#include "ws_utf8.h"

/* Longest control frame on the wire: 2 header bytes, 4 mask, 125 payload. */
#define WS_CTL_FRAME_MAX (2 + 4 + 125)

/* One segment of the outbound queue: a run of bytes exactly as they go
 * on the wire (frame headers, masked payload).  Data segments may hold
 * several frames and a frame may span segments; a control segment holds
 * exactly one control frame. */
struct ws_qseg {
	struct ws_qseg *next; /* next segment of the same list, NULL at the tail */
	size_t start;         /* first byte not yet taken by the transport */
	size_t end;           /* bytes filled in data[] */
	size_t cap;           /* size of data[] */
	uint8_t opcode;       /* control segments: the frame's opcode */
	uint8_t data[];       /* the wire bytes */
};

/* The outbound queue.  Two lists, each in send order:
 *   data: data frames and our close frame, whole frames appended in the
 *         order the handler sent them;
 *   ctl:  pings and pongs, which may overtake queued data, but only at a
 *         frame boundary of the data stream.
 * Invariants: bytes == unsent bytes of both lists; every frame in data
 * is complete (header and payload appended together), so the length of
 * the frame at the front can be read from its header; front_left is the
 * number of bytes up to the end of the data frame the transport has
 * already begun (0 = the data stream is at a frame boundary, and then a
 * control frame may go first); a started control segment is always the
 * head of ctl and front_left is 0 while it exists.  At most one pong and
 * one ping wait unstarted (a newer one replaces the older), so ctl
 * stays below 4 segments. */
struct ws_outq {
	struct ws_qseg *head; /* data list: front */
	struct ws_qseg *tail; /* data list: back (appends go here) */
	struct ws_qseg *ctl;  /* control list: front */
	size_t bytes;         /* unsent bytes in both lists */
	uint64_t front_left;  /* bytes left of the data frame in progress */
};

/* Where a paused inflate stands. */
enum ws_rx_inflate {
	WS_RXI_NONE,  /* no inflate call is suspended */
	WS_RXI_CARRY, /* paused mid-payload: rx.carry input bytes are to be re-fed */
	WS_RXI_END,   /* paused in the end-of-message inflate (tail appended) */
};

/* The message being received. */
struct ws_rx {
	uint8_t opcode;          /* WS_OP_TEXT/BINARY of the open message, 0 if none */
	bool compressed;         /* RSV1 was set on its first frame */
	bool first;              /* the next chunk delivered is the message's first */
	uint64_t size;           /* payload bytes so far (inflated) */
	struct ws_utf8 utf8;     /* streaming validation state for text */
	enum ws_rx_inflate infl; /* a suspended inflate call, if any */
	size_t carry;            /* WS_RXI_CARRY: parsed payload bytes not inflated yet */
	uint8_t ctl[125];        /* payload of the control frame being read */
	uint8_t ctl_len;         /* bytes in ctl */
	uint8_t reason_off;      /* received close: reason offset in ctl */
	uint8_t reason_len;      /* received close: reason length */
};

/* Growable scratch for compressed output; freed after each send so an
 * idle session holds none. */
struct ws_zbuf {
	uint8_t *p; /* buffer, NULL when not allocated */
	size_t len; /* bytes filled */
	size_t cap; /* size of p */
};

struct ws_session {
	enum ws_session_state state;       /* OPEN, CLOSING, CLOSED */
	enum ws_role role;                 /* server or client */
	const struct ws_transport_ops *tr; /* the stream below */
	void *handle;                      /* transport's handle */
	struct ws_handler h;               /* application callbacks (copied) */
	void *ud;                          /* handler's user data */
	struct ws_session_options o;       /* limits and timeouts (copied) */
	struct ws_frame_parser parser;     /* inbound frame state */
	struct ws_deflate *deflate;        /* codec, created on first compressed use */
	struct ws_rx rx;                   /* inbound message state */

	struct ws_outq q;  /* outbound bytes not yet taken */
	struct ws_zbuf z;  /* compressed output of the current send */
	uint8_t tx_opcode; /* send_fragment: opcode of the open message */
	bool tx_open;      /* send_fragment: a message is open */
	bool tx_framed;    /* send_fragment: its first frame is out */
	bool above_hw;     /* queue passed high water; on_drain pending */

	bool close_sent;        /* our close frame is queued or sent */
	bool close_received;    /* the peer's close frame arrived */
	bool echo_deferred;     /* on_peer_close asked to echo later */
	bool failed;            /* input broke the protocol (or handler failed) */
	int fail_err;           /* the error when failed */
	uint16_t code_sent;     /* close code we sent (1005 = empty close) */
	uint16_t code_received; /* close code received (1005 = none) */

	bool paused;  /* handler paused input */
	bool in_pump; /* inside the input loop (no nested feed) */

	uint64_t last_rx;     /* time of the last input (idle, ping) */
	uint64_t last_ping;   /* time of the last automatic ping */
	uint64_t close_start; /* time the close handshake began */
	uint64_t armed;       /* deadline given to set_timer, UINT64_MAX if none */

	unsigned depth;      /* nested public calls on the stack */
	bool free_pending;   /* ws_session_free called inside a callback */
	bool close_notified; /* on_close was called */

	uint64_t bytes_in;  /* data payload received (inflated) */
	uint64_t bytes_out; /* data payload sent (before deflate) */
};

/* Shared between the two files. */
bool ws_session__alive(const struct ws_session *s);
void ws_session__enter(struct ws_session *s);
void ws_session__leave(struct ws_session *s);
void ws_session__finish(struct ws_session *s, bool clean, uint16_t code);
void ws_session__fail_transport(struct ws_session *s);
void ws_session__maybe_finish(struct ws_session *s);
void ws_session__timer_update(struct ws_session *s);
int ws_session__ensure_deflate(struct ws_session *s);

/* ws_session_send.c */
int ws_session__send_control(struct ws_session *s, uint8_t opcode, const uint8_t *p, size_t n);
int ws_session__flush(struct ws_session *s);
void ws_session__queue_free(struct ws_session *s);

#endif
