/* fuzz_session: arbitrary input into a ws_session over a fake transport.
 *
 * Input layout:
 *   byte 0: bit 0 client role, bit 1 deflate, bit 2 pause every few
 *           chunks, bit 3 defer the close echo, bit 4 small limits,
 *           bit 5 echo each chunk back with send_fragment, bit 6
 *           fragment_size 7, bit 7 close from inside on_message
 *   byte 1: feed split size (1..256)
 *   byte 2: bytes the transport takes per write (0 = would block)
 *   rest:   the byte stream from the peer
 * Besides memory safety the target checks the session's promises: at
 * most one transport close and no transport call after it, on_close
 * once and last, feed consuming everything unless paused or failed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_error.h"
#include "ws_session.h"

struct fz {
	uint8_t flags;        /* byte 0 */
	size_t accept;        /* per write */
	struct ws_session *s; /* the session */
	int closes;           /* transport close calls */
	int on_closes;        /* on_close calls */
	int chunks;           /* on_message calls */
	uint64_t now;         /* fake clock */
	uint8_t echo_op;      /* opcode of the echo message in progress */
};

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

static ssize_t f_send(void *h, const struct iovec *iov, int cnt)
{
	struct fz *z = h;
	size_t total = 0;

	CHECK(z->closes == 0);
	for (int i = 0; i < cnt; i++) {
		/* Touch every byte handed over: ASan checks the iovecs. */
		volatile uint8_t sink = 0;
		for (size_t j = 0; j < iov[i].iov_len; j++)
			sink ^= ((const uint8_t *)iov[i].iov_base)[j];
		(void)sink;
		total += iov[i].iov_len;
	}
	return (ssize_t)(total < z->accept ? total : z->accept);
}

static void f_want_read(void *h, bool on)
{
	struct fz *z = h;
	CHECK(z->closes == 0);
}

static void f_close(void *h, bool clean)
{
	struct fz *z = h;
	CHECK(z->closes == 0);
	z->closes++;
}

static void f_set_timer(void *h, uint64_t deadline)
{
	struct fz *z = h;
	CHECK(z->closes == 0);
}

static const struct ws_transport_ops ops = {
	.send = f_send,
	.want_read = f_want_read,
	.close = f_close,
	.set_timer = f_set_timer,
};

static uint64_t f_now(void *ctx)
{
	return ((struct fz *)ctx)->now;
}

static int on_message(struct ws_session *s, void *ud, enum ws_opcode op, const uint8_t *p,
                      size_t n, bool first, bool final)
{
	struct fz *z = ud;

	CHECK(z->on_closes == 0);
	CHECK(op == WS_OP_TEXT || op == WS_OP_BINARY);
	z->chunks++;
	if (z->flags & 0x20) {
		int r = ws_session_send_fragment(s, op, p, n, final);
		CHECK(r == WS_OK || r == WS_ERR_CLOSED || r == WS_ERR_QUEUE_FULL ||
		      r == WS_ERR_TRANSPORT);
	}
	if ((z->flags & 0x80) && final)
		ws_session_close(s, 1000 + (unsigned)(n % 20), (const char *)p, n);
	if ((z->flags & 0x04) && z->chunks % 3 == 0)
		ws_session_pause(s);
	return 0;
}

static int on_peer_close(struct ws_session *s, void *ud, uint16_t code, const uint8_t *reason,
                         size_t len)
{
	struct fz *z = ud;

	CHECK(z->on_closes == 0);
	return (z->flags & 0x08) ? WS_ERR_AGAIN : 0;
}

static void on_close(struct ws_session *s, void *ud, uint16_t code, const uint8_t *reason,
                     size_t len)
{
	struct fz *z = ud;

	CHECK(z->on_closes == 0);
	z->on_closes++;
}

static void on_error(struct ws_session *s, void *ud, int err)
{
	struct fz *z = ud;

	CHECK(z->on_closes == 0);
	CHECK(err < 0);
}

static const struct ws_handler handler = {
	.on_message = on_message,
	.on_peer_close = on_peer_close,
	.on_error = on_error,
	.on_close = on_close,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ws_session_options o;
	struct fz z;
	size_t split, off = 0, len;
	uint8_t *in;
	int stuck = 0;

	if (size < 3)
		return 0;
	memset(&z, 0, sizeof(z));
	z.flags = data[0];
	split = (size_t)data[1] + 1;
	z.accept = data[2] == 255 ? SIZE_MAX : data[2];
	len = size - 3;
	/* The session unmasks in place: it needs a writable copy. */
	in = malloc(len + 1);
	if (in == NULL)
		return 0;
	memcpy(in, data + 3, len);

	ws_session_options_default(&o);
	o.now_ms = f_now;
	o.now_ctx = &z;
	o.deflate = (z.flags & 0x02) != 0;
	o.deflate_params.server_max_window_bits = 15;
	o.deflate_params.client_max_window_bits = 15;
	o.idle_timeout_ms = 1000;
	o.ping_interval_ms = 300;
	if (z.flags & 0x10) {
		o.max_frame = 200;
		o.max_message = 500;
		o.queue_high_water = 64;
		o.queue_limit = 1024;
	}
	if (z.flags & 0x40)
		o.fragment_size = 7;
	if (ws_session_new(&z.s, (z.flags & 1) ? WS_ROLE_CLIENT : WS_ROLE_SERVER, &ops, &z, &handler,
	                   &z, &o) != WS_OK) {
		free(in);
		return 0;
	}
	ws_session_start(z.s);

	while (off < len && stuck < 1000) {
		size_t n = len - off < split ? len - off : split;
		ssize_t got = ws_session_feed(z.s, in + off, n);

		if (got < 0)
			break;
		CHECK((size_t)got <= n);
		if ((size_t)got < n) {
			/* Only a pause or the end of the session stops early. */
			CHECK(ws_session_paused(z.s) || ws_session_state(z.s) == WS_SESSION_CLOSED);
			if (ws_session_state(z.s) == WS_SESSION_CLOSED)
				break;
			ws_session_resume(z.s);
		}
		/* Consecutive feeds without progress: a zero-length frame's END
		 * can pause a feed that consumed nothing, but never twice. */
		stuck = got == 0 ? stuck + 1 : 0;
		off += (size_t)got;
		z.now += 50;
		ws_session_tick(z.s);
		if (z.accept == 0 || (off & 64)) {
			size_t saved = z.accept;
			z.accept = SIZE_MAX;
			ws_session_on_writable(z.s);
			z.accept = saved;
		}
	}
	CHECK(stuck < 1000);
	if ((z.flags & 0x08) && ws_session_state(z.s) == WS_SESSION_CLOSING)
		ws_session_close(z.s, 1000, NULL, 0);
	ws_session_resume(z.s);
	z.accept = SIZE_MAX;
	ws_session_on_writable(z.s);
	z.now += 100000;
	ws_session_tick(z.s);
	ws_session_transport_closed(z.s, true);
	CHECK(z.on_closes == 1);
	CHECK(z.closes == 1);
	CHECK(ws_session_state(z.s) == WS_SESSION_CLOSED);
	ws_session_free(z.s);
	free(in);
	return 0;
}
