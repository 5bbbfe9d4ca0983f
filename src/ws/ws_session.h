/* ws_session: one WebSocket connection's state machine, either role.
 *
 * The session owns no I/O.  Bytes that arrive are pushed in with
 * ws_session_feed; bytes to send go out through the transport's
 * gather-write; the application sees the connection through handler
 * callbacks.  Time comes from the clock in the options and timers are
 * the embedder's: the session asks for one deadline at a time through
 * transport->set_timer, and the embedder calls ws_session_tick when it
 * fires.
 *
 * States: OPEN -> CLOSING (a close frame sent or received) -> CLOSED.
 * Pings are answered before the handler hears of them; a received close
 * is echoed exactly once (a close without status code is echoed as an
 * empty close); after our close is sent, sends are refused with
 * WS_ERR_CLOSED.  Server side closes the transport once the close
 * handshake is done; client side keeps reading and waits for the server
 * to close it.  The close timeout bounds both waits.  When the input
 * breaks the protocol, both roles close the transport as soon as the
 * close frame with the mapped code has been written.
 *
 * Flow control, both ways:
 *  - input (pull mode): the session calls transport->want_read(true)
 *    only while it can take input.  A handler that cannot take more
 *    (its downstream is full) calls ws_session_pause; ws_session_feed
 *    then returns having consumed less than it was given, and the
 *    embedder keeps the rest and feeds it again after
 *    ws_session_resume (which calls want_read(true)).
 *  - output: messages are framed and written straight to the transport
 *    (frame header and payload as one gather-write, no copy); what the
 *    transport does not take is queued.  Past queue_high_water
 *    ws_session_send still succeeds but ws_session_writable turns
 *    false, and on_drain fires when the queue falls below half of it;
 *    past queue_limit sends fail with WS_ERR_QUEUE_FULL.
 *
 * Re-entrancy: handler callbacks may call any ws_session function,
 * including ws_session_free (the free is deferred until the outermost
 * call into the session returns).  on_close is always the last
 * callback.
 */
#ifndef WS_SESSION_H
#define WS_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "ws_deflate.h"
#include "ws_frame.h"

struct ws_session;

enum ws_session_state {
	WS_SESSION_OPEN,    /* data flows both ways */
	WS_SESSION_CLOSING, /* a close frame was sent or received */
	WS_SESSION_CLOSED,  /* handshake done or aborted; transport closed */
};

/* One kind of stream under a session (TCP, TLS, one HTTP/2 stream). */
struct ws_transport_ops {
	/* Gather-write iov[0..iovcnt).  Returns the bytes taken, 0..total
	 * (fewer than total means "would block": the embedder calls
	 * ws_session_on_writable when it can take more), or a negative
	 * ws_error (WS_ERR_TRANSPORT) when the stream is broken. */
	ssize_t (*send)(void *handle, const struct iovec *iov, int iovcnt);
	/* Pull mode: on = the session can take input now; off = stop reading
	 * (for TCP: EV_READ; for an HTTP/2 stream: withhold window credit). */
	void (*want_read)(void *handle, bool on);
	/* End the stream: clean (FIN, END_STREAM) after a completed close
	 * handshake, else abort (RST, RST_STREAM).  Called once; the
	 * session makes no transport call after it. */
	void (*close)(void *handle, bool clean);
	/* Arm the embedder's one timer for this session at deadline_ms (on
	 * the options' clock); UINT64_MAX disarms it. */
	void (*set_timer)(void *handle, uint64_t deadline_ms);
	/* Peer address for logs, e.g. "127.0.0.1:5123"; may be NULL. */
	const char *(*peer)(void *handle);
};

/* The application side.  Any member may be NULL. */
struct ws_handler {
	/* The session is open (called from ws_session_start). */
	void (*on_open)(struct ws_session *s, void *ud);
	/* A chunk of a data message: opcode is WS_OP_TEXT or WS_OP_BINARY on
	 * every chunk of the message, first/final mark its ends.  Text is
	 * UTF-8-validated before delivery (a chunk with an invalid byte is
	 * never delivered).  Payload is already inflated when deflate is
	 * on.  A chunk may be empty: a message that ends with an empty
	 * frame, and every compressed message, ends with an empty final
	 * chunk.  data is valid only during the call.  Return 0, or a
	 * negative error to fail the session with 1011. */
	int (*on_message)(struct ws_session *s, void *ud, enum ws_opcode opcode,
	                  const uint8_t *data, size_t len, bool first, bool final);
	/* A pong arrived (pings are answered by the session itself). */
	void (*on_pong)(struct ws_session *s, void *ud, const uint8_t *data, size_t len);
	/* The peer sent a close frame.  Return 0 and the session echoes it
	 * at once; return WS_ERR_AGAIN to defer the echo (sends stay
	 * allowed) until the handler calls ws_session_close, e.g. to flush a
	 * backend first.  The close timeout still applies. */
	int (*on_peer_close)(struct ws_session *s, void *ud, uint16_t code, const uint8_t *reason,
	                     size_t reason_len);
	/* The outbound queue fell below half the high-water mark after
	 * having passed it (called from ws_session_on_writable). */
	void (*on_drain)(struct ws_session *s, void *ud);
	/* A protocol, transport or timeout error ends the session; on_close
	 * follows. */
	void (*on_error)(struct ws_session *s, void *ud, int err);
	/* The session is closed: code is the peer's close code (1005 if it
	 * sent none) when its close frame arrived, else 1006 (transport
	 * ended, abort, timeout, protocol error).  reason points into the
	 * session, valid during the call.  Last callback; not called once
	 * ws_session_free was called. */
	void (*on_close)(struct ws_session *s, void *ud, uint16_t code, const uint8_t *reason,
	                 size_t reason_len);
};

struct ws_session_options {
	uint64_t max_frame;      /* bytes per received frame (16 MiB); 0 = none */
	uint64_t max_message;    /* bytes per received message, inflated (64 MiB); 0 = none */
	size_t queue_high_water; /* outbound bytes before writable turns false (256 KiB) */
	size_t queue_limit;      /* outbound bytes before sends fail (16 MiB + 64 KiB); 0 = none */
	size_t fragment_size;    /* outbound messages larger are split (0 = never) */
	uint64_t close_timeout_ms; /* wait for the close handshake (5000); 0 = forever */
	uint64_t idle_timeout_ms;  /* no input while reading: close 1001 (0 = off) */
	uint64_t ping_interval_ms; /* send a ping after this much silence (0 = off) */
	bool deflate;              /* permessage-deflate was negotiated */
	struct ws_deflate_params deflate_params; /* when deflate */
	struct ws_deflate_config deflate_config; /* zlib level and memLevel */
	uint64_t (*now_ms)(void *ctx);           /* monotonic clock in ms (required) */
	void *now_ctx;
};

/* Fill o with the defaults above; the clock is CLOCK_MONOTONIC. */
void ws_session_options_default(struct ws_session_options *o);

/* Create a session over an open stream.  Nothing is called yet.
 * Returns WS_OK, WS_ERR_NOMEM or WS_ERR_INVALID_ARG. */
int ws_session_new(struct ws_session **out, enum ws_role role, const struct ws_transport_ops *tr,
                   void *handle, const struct ws_handler *h, void *ud,
                   const struct ws_session_options *o);

/* Free the session (deferred when called from a callback; no callback
 * or transport call follows it).  Does not close the transport: abort
 * first if it is still open. */
void ws_session_free(struct ws_session *s);

/* Call on_open, arm the timers and ask for input.  Bytes the embedder
 * read past the handshake are fed right after, before the next read. */
void ws_session_start(struct ws_session *s);

/* Push received bytes.  data is modified (unmasked in place).  Returns
 * the bytes consumed (less than len only when paused or closed), or a
 * negative error when the input broke the protocol: the session has
 * then sent the close frame with the mapped code (1002/1007/1009) and
 * called on_error (WS_ERR_HANDLER when on_message failed: 1011).  The
 * bytes not consumed must be fed again as they are now (the session
 * may already have unmasked them).  Bytes after the peer's close frame
 * are consumed and ignored.  WS_ERR_INVALID_ARG when called from
 * inside one of this session's callbacks. */
ssize_t ws_session_feed(struct ws_session *s, uint8_t *data, size_t len);

/* The transport reached end of input (clean = FIN/END_STREAM, else a
 * reset).  Ends the session: transport->close (clean when the close
 * handshake was complete), then on_close. */
void ws_session_transport_closed(struct ws_session *s, bool clean);

/* Send a whole data message (WS_OP_TEXT or WS_OP_BINARY).  Text must be
 * valid UTF-8 (not checked).  A message is accepted whole or refused:
 * WS_ERR_QUEUE_FULL when the queued bytes plus this message's would
 * pass queue_limit, whatever the transport might take right now.
 * Returns WS_OK, WS_ERR_CLOSED, WS_ERR_QUEUE_FULL, WS_ERR_INVALID_ARG
 * (bad opcode, or a send_fragment message is open), WS_ERR_NOMEM or
 * WS_ERR_TRANSPORT (the session has then ended). */
int ws_session_send(struct ws_session *s, enum ws_opcode opcode, const uint8_t *data, size_t len);

/* Send one piece of a message without having it whole: opcode of the
 * message on every call, final on the last.  Each piece becomes one
 * frame (or several with fragment_size); pings may go between them.
 * Same errors; WS_ERR_INVALID_ARG when the opcode differs from the
 * open message's. */
int ws_session_send_fragment(struct ws_session *s, enum ws_opcode opcode, const uint8_t *data,
                             size_t len, bool final);

/* Send a ping (payload <= 125 bytes).  Pings and pongs may overtake
 * queued data at a frame boundary; of several waiting pings only the
 * newest is sent.  Same errors. */
int ws_session_ping(struct ws_session *s, const uint8_t *data, size_t len);

/* Start (or, after a deferred on_peer_close, complete) the close
 * handshake.  An invalid code is sent as 1002; code 0 sends an empty
 * close; the reason is cut to 123 bytes at a code-point boundary (an
 * invalid UTF-8 reason is dropped).  The close frame queues behind the
 * data already sent.  Returns WS_OK or WS_ERR_CLOSED. */
int ws_session_close(struct ws_session *s, unsigned code, const char *reason, size_t reason_len);

/* Drop the connection now: transport close(abort), on_close(1006). */
void ws_session_abort(struct ws_session *s);

/* Input flow control, for the handler (see the file comment). */
void ws_session_pause(struct ws_session *s);
void ws_session_resume(struct ws_session *s);
bool ws_session_paused(const struct ws_session *s);

/* The transport can take more output: flush the queue.  Returns WS_OK or
 * WS_ERR_TRANSPORT. */
int ws_session_on_writable(struct ws_session *s);

/* The timer set through transport->set_timer fired. */
void ws_session_tick(struct ws_session *s);

/* Outbound bytes queued and not yet taken by the transport. */
size_t ws_session_queued(const struct ws_session *s);
/* False from when the queue passes the high-water mark until it falls
 * below half of it (on_drain). */
bool ws_session_writable(const struct ws_session *s);

enum ws_session_state ws_session_state(const struct ws_session *s);
const char *ws_session_state_str(enum ws_session_state st);
enum ws_role ws_session_role(const struct ws_session *s);

/* Counters for logs: payload bytes of data messages received and sent
 * (after inflate / before deflate), and the close codes sent and
 * received (0 if none, 1005 for an empty close). */
uint64_t ws_session_bytes_in(const struct ws_session *s);
uint64_t ws_session_bytes_out(const struct ws_session *s);
uint16_t ws_session_close_code_sent(const struct ws_session *s);
uint16_t ws_session_close_code_received(const struct ws_session *s);

#endif
