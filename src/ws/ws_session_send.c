/* ws_session_send: framing, the outbound queue and deflate on send.
 *
 * Fast path: when nothing is queued, a server writes each frame as one
 * gather-write of [header, caller's payload] and copies only what the
 * transport did not take.  A client must mask, which it may not do in
 * the caller's const buffer, so it copies the payload into the queue,
 * masking as it goes, and flushes from there.
 *
 * The queue (struct ws_outq, invariants in ws_session_int.h) keeps data
 * frames in order in a list of segments and pings/pongs in a short
 * second list; a flush builds one gather-write that puts the control
 * frames at the first frame boundary of the data stream, so a pong
 * overtakes queued data without ever splitting a frame.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "ws_close.h"
#include "ws_error.h"
#include "ws_session.h"
#include "ws_session_int.h"

/* Smallest data segment: small frames queued under backpressure share
 * one allocation. */
#define SEG_MIN 4096
/* Entries of one gather-write built from the queue. */
#define PLAN_MAX 32
/* Masking keys fetched from the RNG at a time (64 keys). */
#define RNG_POOL 256

static uint8_t empty_payload[1];

/* A per-thread pool of RAND_bytes output: one RNG call per 64 frames
 * instead of one per frame.  Shared by the thread's sessions, so an
 * idle session holds none of it. */
static _Thread_local uint8_t rng_pool[RNG_POOL];
static _Thread_local size_t rng_left;

static int mask_key(uint8_t key[4])
{
	if (rng_left < 4) {
		if (RAND_bytes(rng_pool, sizeof(rng_pool)) != 1)
			return WS_ERR_INTERNAL;
		rng_left = sizeof(rng_pool);
	}
	memcpy(key, rng_pool + sizeof(rng_pool) - rng_left, 4);
	/* A key is used once: wipe it from the pool. */
	memset(rng_pool + sizeof(rng_pool) - rng_left, 0, 4);
	rng_left -= 4;
	return WS_OK;
}

/* ---- queue ------------------------------------------------------------- */

static struct ws_qseg *seg_new(size_t cap)
{
	struct ws_qseg *g = malloc(sizeof(*g) + cap);

	if (g == NULL)
		return NULL;
	g->next = NULL;
	g->start = 0;
	g->end = 0;
	g->cap = cap;
	g->opcode = 0;
	return g;
}

void ws_session__queue_free(struct ws_session *s)
{
	struct ws_qseg *g, *next;

	for (g = s->q.head; g != NULL; g = next) {
		next = g->next;
		free(g);
	}
	for (g = s->q.ctl; g != NULL; g = next) {
		next = g->next;
		free(g);
	}
	memset(&s->q, 0, sizeof(s->q));
}

/* Make room for need contiguous bytes at the data tail, so that the
 * appends that follow cannot fail halfway through a frame. */
static int q_reserve(struct ws_session *s, size_t need)
{
	struct ws_qseg *g;

	if (s->q.tail != NULL && s->q.tail->cap - s->q.tail->end >= need)
		return WS_OK;
	g = seg_new(need < SEG_MIN ? SEG_MIN : need);
	if (g == NULL)
		return WS_ERR_NOMEM;
	if (s->q.tail != NULL)
		s->q.tail->next = g;
	else
		s->q.head = g;
	s->q.tail = g;
	return WS_OK;
}

/* Append to the reserved tail; key != NULL masks the copy. */
static void q_append(struct ws_session *s, const uint8_t *p, size_t n, const uint8_t *key)
{
	struct ws_qseg *g = s->q.tail;

	if (n == 0)
		return;
	memcpy(g->data + g->end, p, n);
	if (key != NULL)
		ws_mask(g->data + g->end, n, key, 0);
	g->end += n;
	s->q.bytes += n;
}

/* Length (header + payload) of the data frame at the front of the
 * queue, read from its header: every queued frame is complete. */
static uint64_t front_frame_len(const struct ws_session *s)
{
	uint8_t b[WS_FRAME_HEADER_MAX];
	size_t have = 0, pos, n;
	const struct ws_qseg *g = s->q.head;
	uint64_t len;
	size_t hl = 2;

	pos = g != NULL ? g->start : 0;
	while (g != NULL && have < sizeof(b)) {
		n = g->end - pos;
		if (n > sizeof(b) - have)
			n = sizeof(b) - have;
		memcpy(b + have, g->data + pos, n);
		have += n;
		g = g->next;
		pos = 0;
	}
	if (have < 2)
		return have;
	len = b[1] & 0x7F;
	if (len == 126) {
		len = (uint64_t)b[2] << 8 | b[3];
		hl = 4;
	} else if (len == 127) {
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | b[2 + i];
		hl = 10;
	}
	if (b[1] & 0x80)
		hl += 4;
	return hl + len;
}

static void data_consume(struct ws_session *s, size_t take)
{
	while (take > 0) {
		uint64_t t;

		if (s->q.front_left == 0)
			s->q.front_left = front_frame_len(s);
		t = take < s->q.front_left ? take : s->q.front_left;
		s->q.front_left -= t;
		take -= (size_t)t;
		while (t > 0) {
			struct ws_qseg *g = s->q.head;
			size_t a = g->end - g->start;

			if (a > t)
				a = (size_t)t;
			g->start += a;
			s->q.bytes -= a;
			t -= a;
			if (g->start == g->end) {
				s->q.head = g->next;
				if (s->q.head == NULL)
					s->q.tail = NULL;
				free(g);
			}
		}
	}
}

static void ctl_consume(struct ws_session *s, size_t take)
{
	struct ws_qseg *g = s->q.ctl;

	g->start += take;
	s->q.bytes -= take;
	if (g->start == g->end) {
		s->q.ctl = g->next;
		free(g);
	}
}

/* One entry of a gather-write built from the queue. */
struct plan {
	const uint8_t *p; /* first byte */
	size_t len;       /* bytes */
	bool ctl;         /* from the control list (else data) */
};

static size_t plan_add(struct plan *pl, size_t *cnt, const uint8_t *p, size_t len, bool ctl)
{
	if (len == 0 || *cnt >= PLAN_MAX)
		return 0;
	pl[*cnt].p = p;
	pl[*cnt].len = len;
	pl[*cnt].ctl = ctl;
	(*cnt)++;
	return len;
}

/* Data up to the end of the frame in progress, then the control frames,
 * then the rest of the data. */
static size_t plan_build(const struct ws_session *s, struct plan *pl, size_t *cnt)
{
	const struct ws_qseg *d = s->q.head, *c;
	size_t pos = d != NULL ? d->start : 0, total = 0;
	uint64_t left = s->q.front_left;

	*cnt = 0;
	while (left > 0 && d != NULL && *cnt < PLAN_MAX) {
		size_t take = d->end - pos;

		if (take > left)
			take = (size_t)left;
		total += plan_add(pl, cnt, d->data + pos, take, false);
		left -= take;
		pos += take;
		if (pos == d->end) {
			d = d->next;
			pos = 0;
		}
	}
	if (left > 0)
		return total;
	for (c = s->q.ctl; c != NULL && *cnt < PLAN_MAX; c = c->next)
		total += plan_add(pl, cnt, c->data + c->start, c->end - c->start, true);
	for (; d != NULL && *cnt < PLAN_MAX; d = d->next, pos = 0)
		total += plan_add(pl, cnt, d->data + pos, d->end - pos, false);
	return total;
}

static void plan_consume(struct ws_session *s, const struct plan *pl, size_t cnt, size_t n)
{
	for (size_t i = 0; i < cnt && n > 0; i++) {
		size_t take = n < pl[i].len ? n : pl[i].len;

		if (pl[i].ctl)
			ctl_consume(s, take);
		else
			data_consume(s, take);
		n -= take;
	}
}

/* Write to the transport; a failure ends the session. */
static ssize_t tx(struct ws_session *s, const struct iovec *iov, int cnt)
{
	ssize_t n = s->tr->send(s->handle, iov, cnt);

	if (n < 0) {
		ws_session__fail_transport(s);
		return WS_ERR_TRANSPORT;
	}
	return n;
}

int ws_session__flush(struct ws_session *s)
{
	while (s->q.bytes > 0 && ws_session__alive(s)) {
		struct plan pl[PLAN_MAX];
		struct iovec iov[PLAN_MAX];
		size_t cnt, total;
		ssize_t n;

		total = plan_build(s, pl, &cnt);
		for (size_t i = 0; i < cnt; i++) {
			iov[i].iov_base = (void *)pl[i].p;
			iov[i].iov_len = pl[i].len;
		}
		n = tx(s, iov, (int)cnt);
		if (n < 0)
			return WS_ERR_TRANSPORT;
		if ((size_t)n > total)
			n = (ssize_t)total;
		plan_consume(s, pl, cnt, (size_t)n);
		if ((size_t)n < total)
			break;
	}
	return WS_OK;
}

/* ---- framing ----------------------------------------------------------- */

static size_t header_max(const struct ws_session *s)
{
	return 10 + (s->role == WS_ROLE_CLIENT ? 4 : 0);
}

static size_t frame_count(const struct ws_session *s, size_t len)
{
	size_t fs = s->o.fragment_size;

	return fs > 0 && len > fs ? (len - 1) / fs + 1 : 1;
}

/* Upper bound of the wire bytes of len payload bytes. */
static size_t wire_bound(const struct ws_session *s, size_t len)
{
	return len + frame_count(s, len) * header_max(s);
}

/* A write that was needed to keep the stream whole failed for lack of
 * memory or randomness: nothing sensible can follow on this stream. */
static int abort_output(struct ws_session *s, int err)
{
	if (ws_session__alive(s)) {
		if (s->h.on_error != NULL)
			s->h.on_error(s, s->ud, err);
		ws_session__finish(s, false, WS_CLOSE_ABNORMAL);
	}
	return err;
}

/* Server fast path for one frame.  Returns WS_OK with *direct still set
 * when the transport took it all; otherwise queues the rest of the
 * frame and of the message (rest bytes of payload after this frame),
 * clears *direct and returns WS_OK, or returns an error. */
static int write_direct(struct ws_session *s, const uint8_t *hdr, size_t hl, const uint8_t *p,
                        size_t n, size_t rest, bool *direct)
{
	struct iovec iov[2];
	size_t total = hl + n, sent;
	ssize_t w;

	iov[0].iov_base = (void *)hdr;
	iov[0].iov_len = hl;
	iov[1].iov_base = (void *)p;
	iov[1].iov_len = n;
	w = tx(s, iov, n > 0 ? 2 : 1);
	if (w < 0)
		return WS_ERR_TRANSPORT;
	sent = (size_t)w < total ? (size_t)w : total;
	if (sent == total)
		return WS_OK;
	*direct = false;
	if (q_reserve(s, total - sent + (rest > 0 ? wire_bound(s, rest) : 0)) != WS_OK)
		return abort_output(s, WS_ERR_NOMEM);
	/* The frame has begun on the wire (unless nothing was taken): mark
	 * its end so that control frames wait for it. */
	s->q.front_left = sent > 0 ? total - sent : 0;
	if (sent < hl) {
		q_append(s, hdr + sent, hl - sent, NULL);
		q_append(s, p, n, NULL);
	} else {
		q_append(s, p + (sent - hl), n - (sent - hl), NULL);
	}
	return WS_OK;
}

/* Frame len payload bytes as one or more frames (fragment_size): the
 * first frame gets opcode and rsv1, later ones are continuations; the
 * last gets FIN when fin. */
static int emit(struct ws_session *s, uint8_t opcode, bool rsv1, const uint8_t *data, size_t len,
                bool fin)
{
	bool client = s->role == WS_ROLE_CLIENT;
	bool was_empty = s->q.bytes == 0;
	bool direct = !client && was_empty;
	size_t fs = s->o.fragment_size, off = 0;
	int r;

	if (data == NULL)
		data = empty_payload;
	if (!direct && q_reserve(s, wire_bound(s, len)) != WS_OK)
		return WS_ERR_NOMEM;
	do {
		uint8_t hdr[WS_FRAME_HEADER_MAX], key[4];
		size_t n = len - off, hl;

		if (fs > 0 && n > fs)
			n = fs;
		if (client && mask_key(key) != WS_OK)
			return abort_output(s, WS_ERR_INTERNAL);
		hl = ws_frame_header_encode(hdr, opcode, fin && off + n == len, rsv1, n,
		                            client ? key : NULL);
		if (direct) {
			r = write_direct(s, hdr, hl, data + off, n, len - off - n, &direct);
			if (r != WS_OK)
				return r;
		} else {
			q_append(s, hdr, hl, NULL);
			q_append(s, data + off, n, client ? key : NULL);
		}
		opcode = WS_OP_CONTINUATION;
		rsv1 = false;
		off += n;
	} while (off < len);
	/* A client queued it all; a non-empty queue means the transport is
	 * blocked and on_writable will come. */
	if (client && was_empty)
		return ws_session__flush(s);
	return WS_OK;
}

/* ---- control frames ---------------------------------------------------- */

/* Unstarted pings and pongs must not follow our close frame. */
static void drop_unstarted_ctl(struct ws_session *s)
{
	struct ws_qseg **pp = &s->q.ctl, *g;

	while ((g = *pp) != NULL) {
		if (g->start == 0) {
			*pp = g->next;
			s->q.bytes -= g->end;
			free(g);
		} else {
			pp = &g->next;
		}
	}
}

int ws_session__send_control(struct ws_session *s, uint8_t opcode, const uint8_t *p, size_t n)
{
	uint8_t f[WS_CTL_FRAME_MAX], key[4];
	bool client = s->role == WS_ROLE_CLIENT;
	struct ws_qseg *g, **pp;
	size_t hl, total;

	if (!ws_session__alive(s))
		return WS_ERR_CLOSED;
	if (client && mask_key(key) != WS_OK)
		return abort_output(s, WS_ERR_INTERNAL);
	hl = ws_frame_header_encode(f, opcode, true, false, n, client ? key : NULL);
	if (n > 0)
		memcpy(f + hl, p, n);
	if (client)
		ws_mask(f + hl, n, key, 0);
	total = hl + n;

	if (opcode == WS_OP_CLOSE) {
		drop_unstarted_ctl(s);
		/* The close frame closes the data stream: it goes behind
		 * everything queued. */
		if (s->q.bytes == 0) {
			bool direct = true;

			return write_direct(s, f, total, empty_payload, 0, 0, &direct);
		}
		if (q_reserve(s, total) != WS_OK)
			return WS_ERR_NOMEM;
		q_append(s, f, total, NULL);
		return WS_OK;
	}

	if (s->q.bytes == 0) {
		struct iovec iov = {.iov_base = f, .iov_len = total};
		ssize_t w = tx(s, &iov, 1);

		if (w < 0)
			return WS_ERR_TRANSPORT;
		if ((size_t)w >= total)
			return WS_OK;
		g = seg_new(WS_CTL_FRAME_MAX);
		if (g == NULL)
			return abort_output(s, WS_ERR_NOMEM);
		memcpy(g->data, f, total);
		g->start = (size_t)w;
		g->end = total;
		g->opcode = opcode;
		s->q.ctl = g;
		s->q.bytes += total - (size_t)w;
		return WS_OK;
	}
	/* Only the newest ping or pong needs to go (RFC 6455 §5.5.3): an
	 * unstarted one of the same kind is overwritten. */
	for (pp = &s->q.ctl; (g = *pp) != NULL; pp = &g->next) {
		if (g->opcode == opcode && g->start == 0) {
			s->q.bytes -= g->end;
			memcpy(g->data, f, total);
			g->end = total;
			s->q.bytes += total;
			return WS_OK;
		}
	}
	g = seg_new(WS_CTL_FRAME_MAX);
	if (g == NULL)
		return WS_ERR_NOMEM;
	memcpy(g->data, f, total);
	g->end = total;
	g->opcode = opcode;
	*pp = g;
	s->q.bytes += total;
	return WS_OK;
}

/* ---- data messages ----------------------------------------------------- */

static int zsink(void *ctx, const uint8_t *p, size_t n)
{
	struct ws_zbuf *z = &((struct ws_session *)ctx)->z;

	if (n > z->cap - z->len) {
		size_t cap = z->cap > 0 ? z->cap : 1024;
		uint8_t *np;

		while (cap - z->len < n)
			cap *= 2;
		np = realloc(z->p, cap);
		if (np == NULL)
			return WS_ERR_NOMEM;
		z->p = np;
		z->cap = cap;
	}
	memcpy(z->p + z->len, p, n);
	z->len += n;
	return WS_OK;
}

static void zbuf_release(struct ws_session *s)
{
	free(s->z.p);
	memset(&s->z, 0, sizeof(s->z));
}

/* Check whether a piece may be sent, before anything (the compressor
 * included) is touched, so that a refused piece changes nothing. */
static int admit(const struct ws_session *s, enum ws_opcode opcode, const uint8_t *data, size_t len)
{
	size_t est, limit = s->o.queue_limit;

	if (opcode != WS_OP_TEXT && opcode != WS_OP_BINARY)
		return WS_ERR_INVALID_ARG;
	if (data == NULL && len > 0)
		return WS_ERR_INVALID_ARG;
	if (!ws_session__alive(s) || s->close_sent)
		return WS_ERR_CLOSED;
	if (limit == 0)
		return WS_OK;
	/* Deflate may grow incompressible data slightly (zlib's bound is
	 * about 1/4096 plus a few bytes per block). */
	est = len;
	if (s->o.deflate)
		est += len / 2048 + 64;
	if (est < len || est > limit)
		return WS_ERR_QUEUE_FULL;
	len = est;
	est = wire_bound(s, est);
	if (est < len || est > limit || s->q.bytes > limit - est)
		return WS_ERR_QUEUE_FULL;
	return WS_OK;
}

/* Send one piece of a message (the whole message when final and no
 * message is open). */
static int send_piece(struct ws_session *s, enum ws_opcode opcode, const uint8_t *data, size_t len,
                      bool final)
{
	uint8_t op = s->tx_framed ? WS_OP_CONTINUATION : (uint8_t)opcode;
	int r = WS_OK;

	if (s->o.deflate) {
		r = ws_session__ensure_deflate(s);
		if (r != WS_OK)
			return r;
		s->z.len = 0;
		r = ws_deflate_compress(s->deflate, data != NULL ? data : empty_payload, len, final,
		                        zsink, s);
		if (r != WS_OK) {
			/* The compressor took part of the input: its state no
			 * longer matches the peer's inflater. */
			zbuf_release(s);
			return abort_output(s, r);
		}
		/* Without a flush zlib may keep everything for later. */
		if (s->z.len > 0 || final) {
			r = emit(s, op, !s->tx_framed, s->z.p, s->z.len, final);
			if (r == WS_ERR_NOMEM)
				r = abort_output(s, r);
			s->tx_framed = true;
		}
		zbuf_release(s);
	} else {
		/* NOMEM here comes before anything was written: the
		 * caller may retry. */
		r = emit(s, op, false, data, len, final);
		if (r == WS_ERR_NOMEM)
			return r;
		s->tx_framed = true;
	}
	if (r != WS_OK)
		return r;
	s->bytes_out += len;
	s->tx_open = !final;
	s->tx_opcode = (uint8_t)opcode;
	if (final)
		s->tx_framed = false;
	if (s->q.bytes > s->o.queue_high_water)
		s->above_hw = true;
	return WS_OK;
}

int ws_session_send(struct ws_session *s, enum ws_opcode opcode, const uint8_t *data, size_t len)
{
	int r;

	if (s == NULL)
		return WS_ERR_INVALID_ARG;
	r = admit(s, opcode, data, len);
	if (r != WS_OK)
		return r;
	if (s->tx_open)
		return WS_ERR_INVALID_ARG;
	ws_session__enter(s);
	r = send_piece(s, opcode, data, len, true);
	ws_session__leave(s);
	return r;
}

int ws_session_send_fragment(struct ws_session *s, enum ws_opcode opcode, const uint8_t *data,
                             size_t len, bool final)
{
	int r;

	if (s == NULL)
		return WS_ERR_INVALID_ARG;
	r = admit(s, opcode, data, len);
	if (r != WS_OK)
		return r;
	if (s->tx_open && opcode != s->tx_opcode)
		return WS_ERR_INVALID_ARG;
	ws_session__enter(s);
	r = send_piece(s, opcode, data, len, final);
	ws_session__leave(s);
	return r;
}

int ws_session_ping(struct ws_session *s, const uint8_t *data, size_t len)
{
	int r;

	if (s == NULL || len > 125 || (data == NULL && len > 0))
		return WS_ERR_INVALID_ARG;
	if (!ws_session__alive(s) || s->close_sent)
		return WS_ERR_CLOSED;
	ws_session__enter(s);
	r = ws_session__send_control(s, WS_OP_PING, data != NULL ? data : empty_payload, len);
	ws_session__leave(s);
	return r;
}

int ws_session_on_writable(struct ws_session *s)
{
	int r;

	if (s == NULL)
		return WS_ERR_INVALID_ARG;
	if (!ws_session__alive(s))
		return WS_OK;
	ws_session__enter(s);
	r = ws_session__flush(s);
	if (r == WS_OK && ws_session__alive(s) && s->above_hw &&
	    (s->q.bytes == 0 || s->q.bytes < s->o.queue_high_water / 2)) {
		s->above_hw = false;
		if (s->h.on_drain != NULL)
			s->h.on_drain(s, s->ud);
	}
	ws_session__maybe_finish(s);
	ws_session__leave(s);
	return r;
}
