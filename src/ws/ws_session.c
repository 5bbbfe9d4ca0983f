/* ws_session: lifecycle, input, the close handshake and timers.
 *
 * Output (framing, the queue, deflate on send) lives in
 * ws_session_send.c; both share ws_session_int.h.
 *
 * Input path: ws_session_feed runs the frame parser over the bytes and
 * acts on each event.  Data payload goes to on_message chunk by chunk,
 * where it lies in the caller's buffer; compressed payload is inflated
 * through a sink that delivers each output chunk.  Control payload
 * (<= 125 bytes) is collected in rx.ctl and acted on at the frame's end.
 *
 * Pause: the handler may pause inside on_message.  Plain payload stops
 * at the chunk boundary: the parser consumed exactly what was delivered,
 * so feed returns that count.  Inflate may stop with part of a parsed
 * chunk not yet inflated (zlib output filled up first); those bytes are
 * already unmasked in the caller's buffer, so feed reports them as not
 * consumed and remembers their count (rx.carry): the embedder feeds them
 * again and they go straight to inflate, bypassing the parser.  This
 * keeps the session free of input buffers.
 *
 * Re-entrancy: every public entry point increments depth; a free asked
 * for while depth > 0 only sets free_pending, and the outermost entry
 * frees on the way out.  After each callback the input loop re-checks
 * whether the session is still alive (not closed, not freed).
 *
 * On_close code: the peer's close code when its close frame arrived,
 * otherwise 1006.  We echo a close without status (1005) with an empty
 * close frame, the same thing the peer sent; code_sent records 1005.
 */
#include "ws_session.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ws_close.h"
#include "ws_error.h"
#include "ws_session_int.h"

/* Non-NULL pointer for zero-length calls (memcpy and friends may not
 * take NULL even with length 0). */
static uint8_t empty_buf[1];

static uint64_t clock_monotonic_ms(void *ctx)
{
	struct timespec ts;

	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void ws_session_options_default(struct ws_session_options *o)
{
	memset(o, 0, sizeof(*o));
	o->max_frame = 16u << 20;
	o->max_message = 64u << 20;
	o->queue_high_water = 256u << 10;
	o->queue_limit = (16u << 20) + (64u << 10);
	o->fragment_size = 0;
	o->close_timeout_ms = 5000;
	ws_deflate_config_default(&o->deflate_config);
	o->now_ms = clock_monotonic_ms;
}

static uint64_t now(struct ws_session *s)
{
	return s->o.now_ms(s->o.now_ctx);
}

/* ---- lifecycle -------------------------------------------------------- */

int ws_session_new(struct ws_session **out, enum ws_role role, const struct ws_transport_ops *tr,
                   void *handle, const struct ws_handler *h, void *ud,
                   const struct ws_session_options *o)
{
	struct ws_session *s;

	if (out == NULL)
		return WS_ERR_INVALID_ARG;
	*out = NULL;
	if (tr == NULL || tr->send == NULL || tr->close == NULL ||
	    (role != WS_ROLE_SERVER && role != WS_ROLE_CLIENT))
		return WS_ERR_INVALID_ARG;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return WS_ERR_NOMEM;
	s->role = role;
	s->tr = tr;
	s->handle = handle;
	if (h != NULL)
		s->h = *h;
	s->ud = ud;
	if (o != NULL)
		s->o = *o;
	else
		ws_session_options_default(&s->o);
	if (s->o.now_ms == NULL)
		s->o.now_ms = clock_monotonic_ms;
	ws_frame_parser_init(&s->parser, role, s->o.max_frame, s->o.deflate);
	s->state = WS_SESSION_OPEN;
	s->armed = UINT64_MAX;
	*out = s;
	return WS_OK;
}

static void destroy(struct ws_session *s)
{
	ws_session__queue_free(s);
	free(s->z.p);
	ws_deflate_free(s->deflate);
	free(s);
}

void ws_session_free(struct ws_session *s)
{
	if (s == NULL)
		return;
	if (s->depth > 0) {
		s->free_pending = true;
		return;
	}
	destroy(s);
}

void ws_session__enter(struct ws_session *s)
{
	s->depth++;
}

void ws_session__leave(struct ws_session *s)
{
	if (--s->depth == 0 && s->free_pending)
		destroy(s);
}

/* The session may still make transport calls and callbacks. */
bool ws_session__alive(const struct ws_session *s)
{
	return s->state != WS_SESSION_CLOSED && !s->free_pending;
}

/* Input is still processed: alive, not failed, peer's close not seen. */
static bool reading(const struct ws_session *s)
{
	return ws_session__alive(s) && !s->failed && !s->close_received;
}

static void want_read(struct ws_session *s, bool on)
{
	if (ws_session__alive(s) && s->tr->want_read != NULL)
		s->tr->want_read(s->handle, on);
}

int ws_session__ensure_deflate(struct ws_session *s)
{
	if (s->deflate != NULL)
		return WS_OK;
	if (!s->o.deflate)
		return WS_ERR_INVALID_ARG;
	return ws_deflate_new(&s->deflate, s->role, &s->o.deflate_params, &s->o.deflate_config);
}

/* End the session: the one transport close and the one on_close. */
void ws_session__finish(struct ws_session *s, bool clean, uint16_t code)
{
	const uint8_t *reason = NULL;
	size_t reason_len = 0;

	if (!ws_session__alive(s))
		return;
	if (s->armed != UINT64_MAX && s->tr->set_timer != NULL)
		s->tr->set_timer(s->handle, UINT64_MAX);
	s->armed = UINT64_MAX;
	s->state = WS_SESSION_CLOSED;
	s->tr->close(s->handle, clean);
	/* Nothing more goes out or comes in: give the memory back now
	 * rather than when the embedder gets round to freeing. */
	ws_session__queue_free(s);
	free(s->z.p);
	memset(&s->z, 0, sizeof(s->z));
	ws_deflate_free(s->deflate);
	s->deflate = NULL;
	s->rx.infl = WS_RXI_NONE;
	if (s->close_received && code == s->code_received && s->rx.reason_len > 0) {
		reason = s->rx.ctl + s->rx.reason_off;
		reason_len = s->rx.reason_len;
	}
	if (!s->close_notified) {
		s->close_notified = true;
		if (s->h.on_close != NULL)
			s->h.on_close(s, s->ud, code, reason, reason_len);
	}
}

static uint16_t peer_code_or_abnormal(const struct ws_session *s)
{
	return s->close_received ? s->code_received : WS_CLOSE_ABNORMAL;
}

void ws_session__fail_transport(struct ws_session *s)
{
	if (!ws_session__alive(s))
		return;
	if (s->h.on_error != NULL)
		s->h.on_error(s, s->ud, WS_ERR_TRANSPORT);
	ws_session__finish(s, false, peer_code_or_abnormal(s));
}

/* Close the transport once the handshake allows it: our close frame
 * has left the queue and either the input failed or (server) the
 * peer's close arrived.  A client waits for the server to close. */
void ws_session__maybe_finish(struct ws_session *s)
{
	if (!ws_session__alive(s) || !s->close_sent || s->q.bytes > 0)
		return;
	if (s->failed)
		ws_session__finish(s, true, peer_code_or_abnormal(s));
	else if (s->close_received && s->role == WS_ROLE_SERVER)
		ws_session__finish(s, true, s->code_received);
}

/* ---- timers ------------------------------------------------------------ */

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* The earliest moment something must happen.  Activity only moves the
 * idle and ping deadlines later, so a timer armed earlier than needed
 * is left alone (it fires, and tick re-arms to the true deadline): no
 * set_timer call per feed. */
static uint64_t deadline(const struct ws_session *s)
{
	uint64_t d = UINT64_MAX, base;

	if (!ws_session__alive(s))
		return UINT64_MAX;
	if (s->close_sent || s->close_received || s->failed) {
		if (s->o.close_timeout_ms > 0)
			d = add_sat(s->close_start, s->o.close_timeout_ms);
		return d;
	}
	/* A paused session reads nothing, so silence is not the peer's
	 * fault: idle counts only while reading (resume restarts it). */
	if (s->o.idle_timeout_ms > 0 && !s->paused)
		d = add_sat(s->last_rx, s->o.idle_timeout_ms);
	if (s->o.ping_interval_ms > 0) {
		base = s->last_rx > s->last_ping ? s->last_rx : s->last_ping;
		base = add_sat(base, s->o.ping_interval_ms);
		if (base < d)
			d = base;
	}
	return d;
}

void ws_session__timer_update(struct ws_session *s)
{
	uint64_t d = deadline(s);

	if (d < s->armed && ws_session__alive(s) && s->tr->set_timer != NULL) {
		s->armed = d;
		s->tr->set_timer(s->handle, d);
	}
}

void ws_session_tick(struct ws_session *s)
{
	uint64_t t, d;

	if (s == NULL || !ws_session__alive(s))
		return;
	ws_session__enter(s);
	/* The embedder's timer is one-shot: it is no longer armed. */
	s->armed = UINT64_MAX;
	t = now(s);
	if (s->close_sent || s->close_received || s->failed) {
		if (s->o.close_timeout_ms > 0 &&
		    t >= add_sat(s->close_start, s->o.close_timeout_ms)) {
			if (s->close_sent && s->close_received && s->q.bytes == 0) {
				/* Client side: the handshake is done, the server
				 * just never closed the stream. */
				ws_session__finish(s, true, s->code_received);
			} else {
				/* A failed session has reported its error. */
				if (!s->failed && s->h.on_error != NULL)
					s->h.on_error(s, s->ud, WS_ERR_TIMEOUT);
				ws_session__finish(s, false, peer_code_or_abnormal(s));
			}
		}
	} else if (s->o.idle_timeout_ms > 0 && !s->paused &&
	           t >= add_sat(s->last_rx, s->o.idle_timeout_ms)) {
		ws_session_close(s, WS_CLOSE_GOING_AWAY, "idle", 4);
	} else if (s->o.ping_interval_ms > 0) {
		uint64_t base = s->last_rx > s->last_ping ? s->last_rx : s->last_ping;

		if (t >= add_sat(base, s->o.ping_interval_ms)) {
			s->last_ping = t;
			ws_session__send_control(s, WS_OP_PING, empty_buf, 0);
		}
	}
	d = deadline(s);
	if (d != UINT64_MAX && ws_session__alive(s) && s->tr->set_timer != NULL) {
		s->armed = d;
		s->tr->set_timer(s->handle, d);
	}
	ws_session__leave(s);
}

void ws_session_start(struct ws_session *s)
{
	if (s == NULL || !ws_session__alive(s))
		return;
	ws_session__enter(s);
	s->last_rx = now(s);
	s->last_ping = s->last_rx;
	if (s->h.on_open != NULL)
		s->h.on_open(s, s->ud);
	if (reading(s) && !s->paused)
		want_read(s, true);
	ws_session__timer_update(s);
	ws_session__leave(s);
}

static void queue_close(struct ws_session *s, unsigned code, const char *reason, size_t reason_len);

/* ---- failing ----------------------------------------------------------- */

/* The input broke the protocol or the handler failed: send the mapped
 * close code, tell the handler, stop reading.  The transport closes
 * once the close frame is out (or at the close timeout). */
static void fail(struct ws_session *s, int err)
{
	bool had_close = s->close_sent;

	if (!ws_session__alive(s) || s->failed)
		return;
	s->failed = true;
	s->fail_err = err;
	if (!had_close)
		queue_close(s, ws_error_close_code(err), ws_strerror(err),
		            strlen(ws_strerror(err)));
	want_read(s, false);
	if (ws_session__alive(s) && s->h.on_error != NULL)
		s->h.on_error(s, s->ud, err);
	ws_session__timer_update(s);
	ws_session__maybe_finish(s);
}

/* ---- data messages ----------------------------------------------------- */

/* Hand one chunk to the handler.  Returns WS_OK, WS_ERR_HANDLER (the
 * handler failed) or WS_ERR_CLOSED (it ended or freed the session). */
static int deliver(struct ws_session *s, const uint8_t *p, size_t n, bool final)
{
	bool first = s->rx.first;
	uint8_t opcode = s->rx.opcode;
	int r = 0;

	s->rx.first = false;
	if (final)
		s->rx.opcode = 0;
	s->bytes_in += n;
	if (s->h.on_message != NULL)
		r = s->h.on_message(s, s->ud, (enum ws_opcode)opcode, p, n, first, final);
	if (r < 0)
		return WS_ERR_HANDLER;
	if (!ws_session__alive(s))
		return WS_ERR_CLOSED;
	return WS_OK;
}

/* A chunk of uncompressed payload.  Text is validated before the chunk
 * is delivered, so a handler never sees an invalid byte. */
static int plain_chunk(struct ws_session *s, const uint8_t *p, size_t n, bool last)
{
	int r;

	if (s->o.max_message > 0 && n > s->o.max_message - s->rx.size)
		return WS_ERR_PROTO_MESSAGE_TOO_BIG;
	s->rx.size += n;
	if (s->rx.opcode == WS_OP_TEXT) {
		r = ws_utf8_feed(&s->rx.utf8, p, n);
		if (r == WS_OK && last)
			r = ws_utf8_finish(&s->rx.utf8);
		if (r != WS_OK)
			return r;
	}
	return deliver(s, p, n, last);
}

/* Inflate output arrives here, one bounded chunk at a time. */
static int inflate_sink(void *ctx, const uint8_t *p, size_t n)
{
	struct ws_session *s = ctx;
	int r;

	if (n == 0)
		return WS_OK;
	s->rx.size += n;
	if (s->rx.opcode == WS_OP_TEXT) {
		r = ws_utf8_feed(&s->rx.utf8, p, n);
		if (r != WS_OK)
			return r;
	}
	r = deliver(s, p, n, false);
	if (r != WS_OK)
		return r;
	return s->paused ? WS_ERR_AGAIN : WS_OK;
}

/* The compressed message is complete: the last chunk is an empty one
 * (we cannot know which inflate output chunk is the last before zlib
 * has returned). */
static int finish_compressed(struct ws_session *s)
{
	int r;

	if (s->rx.opcode == WS_OP_TEXT) {
		r = ws_utf8_finish(&s->rx.utf8);
		if (r != WS_OK)
			return r;
	}
	return deliver(s, empty_buf, 0, true);
}

static int inflate_call(struct ws_session *s, const uint8_t *p, size_t n, bool final,
                        size_t *consumed)
{
	uint64_t budget = UINT64_MAX;

	if (s->o.max_message > 0)
		budget = s->o.max_message > s->rx.size ? s->o.max_message - s->rx.size : 0;
	*consumed = 0;
	return ws_deflate_inflate(s->deflate, p, n, final, &budget, consumed, inflate_sink, s);
}

/* A suspended inflate goes on before the parser sees more input.
 * Returns WS_OK when done with it, WS_ERR_AGAIN when it is still
 * suspended (paused again, or the carried bytes have not all been fed
 * yet), or an error. */
static int resume_inflate(struct ws_session *s, uint8_t *data, size_t len, size_t *off)
{
	size_t take, used = 0;
	int r;

	if (s->rx.infl == WS_RXI_END) {
		r = inflate_call(s, empty_buf, 0, true, &used);
		if (r != WS_OK)
			return r;
		s->rx.infl = WS_RXI_NONE;
		return finish_compressed(s);
	}
	/* WS_RXI_CARRY: with no input this only drains what zlib holds. */
	take = len < s->rx.carry ? len : s->rx.carry;
	r = inflate_call(s, take > 0 ? data : empty_buf, take, false, &used);
	s->rx.carry -= used;
	*off += used;
	if (r != WS_OK)
		return r;
	if (s->rx.carry > 0)
		return WS_ERR_AGAIN;
	s->rx.infl = WS_RXI_NONE;
	return WS_OK;
}

static int data_header(struct ws_session *s, const struct ws_frame_header *h)
{
	if (h->opcode != WS_OP_CONTINUATION) {
		s->rx.opcode = h->opcode;
		s->rx.compressed = h->rsv1;
		s->rx.first = true;
		s->rx.size = 0;
		ws_utf8_init(&s->rx.utf8);
		if (h->rsv1) {
			int r = ws_session__ensure_deflate(s);
			if (r != WS_OK)
				return r;
		}
	}
	/* Uncompressed sizes are known up front: refuse before reading. */
	if (!s->rx.compressed && s->o.max_message > 0 && h->length > s->o.max_message - s->rx.size)
		return WS_ERR_PROTO_MESSAGE_TOO_BIG;
	return WS_OK;
}

static int data_payload(struct ws_session *s, uint8_t *p, size_t n)
{
	const struct ws_frame_header *h = &s->parser.header;
	size_t used = 0;
	int r;

	if (!s->rx.compressed)
		return plain_chunk(s, p, n, h->fin && s->parser.remaining == 0);
	r = inflate_call(s, p, n, false, &used);
	if (r == WS_ERR_AGAIN) {
		s->rx.infl = WS_RXI_CARRY;
		s->rx.carry = n - used;
	}
	return r;
}

static int data_end(struct ws_session *s)
{
	size_t used = 0;
	int r;

	if (!s->parser.header.fin || s->rx.opcode == 0)
		return WS_OK;
	if (!s->rx.compressed)
		return plain_chunk(s, empty_buf, 0, true);
	r = inflate_call(s, empty_buf, 0, true, &used);
	if (r == WS_ERR_AGAIN) {
		s->rx.infl = WS_RXI_END;
		s->rx.carry = 0;
	}
	if (r != WS_OK)
		return r;
	return finish_compressed(s);
}

/* ---- control frames ---------------------------------------------------- */

static int peer_close(struct ws_session *s)
{
	const uint8_t *reason;
	size_t reason_len;
	uint16_t code;
	int r;

	r = ws_close_payload_parse(s->rx.ctl, s->rx.ctl_len, &code, &reason, &reason_len);
	if (r != WS_OK)
		return r;
	s->close_received = true;
	s->code_received = code;
	s->rx.reason_off = (uint8_t)(reason != NULL ? reason - s->rx.ctl : 0);
	s->rx.reason_len = (uint8_t)reason_len;
	s->state = WS_SESSION_CLOSING;
	/* After our own close the timeout keeps counting from it. */
	if (!s->close_sent)
		s->close_start = now(s);
	/* A server has nothing more to read; a client keeps reading so that
	 * it sees the server close the stream. */
	if (s->role == WS_ROLE_SERVER)
		want_read(s, false);
	ws_session__timer_update(s);
	r = WS_OK;
	if (s->h.on_peer_close != NULL)
		r = s->h.on_peer_close(s, s->ud, code, reason, reason_len);
	if (!ws_session__alive(s))
		return WS_ERR_CLOSED;
	if (!s->close_sent) {
		if (r == WS_ERR_AGAIN) {
			s->echo_deferred = true;
		} else if (code == WS_CLOSE_NO_STATUS) {
			ws_session_close(s, 0, NULL, 0);
		} else {
			ws_session_close(s, code, NULL, 0);
		}
	}
	ws_session__maybe_finish(s);
	return ws_session__alive(s) ? WS_OK : WS_ERR_CLOSED;
}

static int control_end(struct ws_session *s, uint8_t opcode)
{
	switch (opcode) {
	case WS_OP_PING:
		/* No pong after our close: the close must be our last frame. */
		if (!s->close_sent)
			ws_session__send_control(s, WS_OP_PONG, s->rx.ctl, s->rx.ctl_len);
		break;
	case WS_OP_PONG:
		if (s->h.on_pong != NULL)
			s->h.on_pong(s, s->ud, s->rx.ctl, s->rx.ctl_len);
		break;
	case WS_OP_CLOSE:
		return peer_close(s);
	default:
		break;
	}
	return ws_session__alive(s) ? WS_OK : WS_ERR_CLOSED;
}

static bool is_control(uint8_t opcode)
{
	return (opcode & 0x8) != 0;
}

static int on_event(struct ws_session *s, const struct ws_frame_event *ev)
{
	const struct ws_frame_header *h = ev->header;

	switch (ev->type) {
	case WS_FRAME_EV_HEADER:
		if (is_control(h->opcode)) {
			s->rx.ctl_len = 0;
			return WS_OK;
		}
		return data_header(s, h);
	case WS_FRAME_EV_PAYLOAD:
		if (is_control(h->opcode)) {
			/* The parser caps control payload at 125 bytes. */
			memcpy(s->rx.ctl + s->rx.ctl_len, ev->data, ev->len);
			s->rx.ctl_len = (uint8_t)(s->rx.ctl_len + ev->len);
			return WS_OK;
		}
		return data_payload(s, ev->data, ev->len);
	case WS_FRAME_EV_END:
		if (is_control(h->opcode))
			return control_end(s, h->opcode);
		return data_end(s);
	case WS_FRAME_EV_NONE:
	default:
		return WS_OK;
	}
}

/* Errors that end the input: protocol errors and handler failures fail
 * the session; WS_ERR_CLOSED means it already ended. */
static int input_error(struct ws_session *s, int r)
{
	if (r == WS_ERR_CLOSED)
		return WS_ERR_CLOSED;
	fail(s, r);
	return r;
}

/* The input loop.  Returns bytes consumed or a negative error. */
static ssize_t pump(struct ws_session *s, uint8_t *data, size_t len)
{
	struct ws_frame_event ev;
	size_t off = 0, used;
	int r;

	if (data == NULL)
		data = empty_buf;
	if (s->rx.infl != WS_RXI_NONE) {
		r = resume_inflate(s, data, len, &off);
		if (r == WS_ERR_AGAIN)
			return (ssize_t)off;
		if (r != WS_OK) {
			r = input_error(s, r);
			return r == WS_ERR_CLOSED ? (ssize_t)off : r;
		}
	}
	while (reading(s) && !s->paused) {
		r = ws_frame_parse(&s->parser, data + off, len - off, &used, &ev);
		off += used;
		if (r != WS_OK) {
			fail(s, r);
			return r;
		}
		if (ev.type == WS_FRAME_EV_NONE)
			break;
		r = on_event(s, &ev);
		if (r == WS_ERR_AGAIN) {
			/* Paused inside inflate: the tail of this chunk was
			 * not used and is the embedder's to feed again. */
			off -= s->rx.carry;
			break;
		}
		if (r != WS_OK) {
			r = input_error(s, r);
			if (r == WS_ERR_CLOSED)
				break;
			return r;
		}
	}
	return (ssize_t)off;
}

ssize_t ws_session_feed(struct ws_session *s, uint8_t *data, size_t len)
{
	ssize_t r;

	if (s == NULL || (data == NULL && len > 0) || s->in_pump)
		return WS_ERR_INVALID_ARG;
	if (s->failed)
		return s->fail_err;
	if (!ws_session__alive(s) || s->paused)
		return 0;
	/* After the peer's close nothing it sends means anything. */
	if (s->close_received)
		return (ssize_t)len;
	ws_session__enter(s);
	if (len > 0)
		s->last_rx = now(s);
	s->in_pump = true;
	r = pump(s, data, len);
	s->in_pump = false;
	/* The rest after a close frame is discarded, not handed back. */
	if (r >= 0 && s->close_received)
		r = (ssize_t)len;
	ws_session__leave(s);
	return r;
}

/* ---- flow control ------------------------------------------------------ */

void ws_session_pause(struct ws_session *s)
{
	if (s == NULL || s->paused)
		return;
	s->paused = true;
	want_read(s, false);
}

void ws_session_resume(struct ws_session *s)
{
	if (s == NULL || !s->paused)
		return;
	s->paused = false;
	if (!reading(s))
		return;
	ws_session__enter(s);
	s->last_rx = now(s);
	ws_session__timer_update(s);
	/* Output that zlib still holds, and events that need no input (the
	 * end of a frame whose bytes were all consumed), come first.  From
	 * inside a callback the running loop does this itself. */
	if (!s->in_pump) {
		s->in_pump = true;
		pump(s, empty_buf, 0);
		s->in_pump = false;
	}
	if (reading(s) && !s->paused)
		want_read(s, true);
	ws_session__leave(s);
}

bool ws_session_paused(const struct ws_session *s)
{
	return s != NULL && s->paused;
}

/* ---- closing ----------------------------------------------------------- */

void ws_session_transport_closed(struct ws_session *s, bool clean)
{
	bool done;

	if (s == NULL || !ws_session__alive(s))
		return;
	ws_session__enter(s);
	done = s->close_sent && s->close_received && s->q.bytes == 0;
	ws_session__finish(s, done && clean, peer_code_or_abnormal(s));
	ws_session__leave(s);
}

void ws_session_abort(struct ws_session *s)
{
	if (s == NULL || !ws_session__alive(s))
		return;
	ws_session__enter(s);
	ws_session__finish(s, false, WS_CLOSE_ABNORMAL);
	ws_session__leave(s);
}

/* Queue our close frame; the caller decides when to finish. */
static void queue_close(struct ws_session *s, unsigned code, const char *reason, size_t reason_len)
{
	uint8_t payload[125];
	size_t n;
	int r;

	n = ws_close_payload_build(payload, code, reason, reason_len);
	s->code_sent = n >= 2 ? (uint16_t)((payload[0] << 8) | payload[1]) : WS_CLOSE_NO_STATUS;
	s->close_sent = true;
	s->echo_deferred = false;
	s->state = WS_SESSION_CLOSING;
	if (!s->close_received)
		s->close_start = now(s);
	ws_session__timer_update(s);
	r = ws_session__send_control(s, WS_OP_CLOSE, payload, n);
	if (r == WS_ERR_NOMEM && ws_session__alive(s)) {
		/* Without the close frame there is no handshake to wait for. */
		if (s->h.on_error != NULL)
			s->h.on_error(s, s->ud, r);
		ws_session__finish(s, false, WS_CLOSE_ABNORMAL);
	}
}

int ws_session_close(struct ws_session *s, unsigned code, const char *reason, size_t reason_len)
{
	if (s == NULL)
		return WS_ERR_INVALID_ARG;
	if (!ws_session__alive(s) || s->close_sent)
		return WS_ERR_CLOSED;
	ws_session__enter(s);
	queue_close(s, code, reason, reason_len);
	ws_session__maybe_finish(s);
	ws_session__leave(s);
	/* A transport failure already ended the session (on_error, then
	 * on_close); the close itself was accepted. */
	return WS_OK;
}

/* ---- accessors --------------------------------------------------------- */

size_t ws_session_queued(const struct ws_session *s)
{
	return s->q.bytes;
}

bool ws_session_writable(const struct ws_session *s)
{
	return !s->above_hw;
}

enum ws_session_state ws_session_state(const struct ws_session *s)
{
	return s->state;
}

const char *ws_session_state_str(enum ws_session_state st)
{
	switch (st) {
	case WS_SESSION_OPEN:
		return "open";
	case WS_SESSION_CLOSING:
		return "closing";
	case WS_SESSION_CLOSED:
		return "closed";
	}
	return "unknown";
}

enum ws_role ws_session_role(const struct ws_session *s)
{
	return s->role;
}

uint64_t ws_session_bytes_in(const struct ws_session *s)
{
	return s->bytes_in;
}

uint64_t ws_session_bytes_out(const struct ws_session *s)
{
	return s->bytes_out;
}

uint16_t ws_session_close_code_sent(const struct ws_session *s)
{
	return s->code_sent;
}

uint16_t ws_session_close_code_received(const struct ws_session *s)
{
	return s->code_received;
}
