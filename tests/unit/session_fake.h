/* session_fake.h: test doubles for the ws_session suites: a fake
 * transport that records what it is given (and can be told to take only
 * so many bytes, block or fail), a fake clock, and a handler that
 * records every callback and checks the chunk flags of each message.
 * Shared by test_session.c and test_session_prop.c.
 */
#ifndef SESSION_FAKE_H
#define SESSION_FAKE_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_close.h"
#include "ws_error.h"
#include "ws_frame.h"
#include "ws_session.h"

static uint64_t fake_now;

static inline uint64_t fake_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

struct buf {
	uint8_t *p; /* bytes */
	size_t len; /* filled */
	size_t cap; /* allocated */
};

static inline void buf_add(struct buf *b, const void *p, size_t n)
{
	if (n > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap - b->len < n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		ck_assert_ptr_nonnull(b->p);
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static inline void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

struct fake {
	struct buf out;   /* every byte the transport took, in order */
	size_t rd;        /* pair tests: bytes of out already fed to the peer */
	size_t accept;    /* most bytes taken per send call */
	size_t budget;    /* bytes taken before it blocks (SIZE_MAX = never) */
	bool fail;        /* send fails with WS_ERR_TRANSPORT */
	int sends;        /* send calls */
	int want_read;    /* last want_read value, -1 before any */
	int want_calls;   /* want_read calls */
	int closed;       /* close calls */
	bool clean;       /* clean flag of the last close */
	uint64_t timer;   /* last deadline set */
	int timer_calls;  /* set_timer calls */
	bool after_close; /* a call came after close (must not happen) */
};

static inline void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->accept = SIZE_MAX;
	f->budget = SIZE_MAX;
	f->want_read = -1;
	f->timer = UINT64_MAX;
}

static inline ssize_t fake_send(void *h, const struct iovec *iov, int cnt)
{
	struct fake *f = h;
	size_t total = 0, take, left;

	if (f->closed)
		f->after_close = true;
	f->sends++;
	if (f->fail)
		return WS_ERR_TRANSPORT;
	for (int i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	take = total < f->accept ? total : f->accept;
	if (take > f->budget)
		take = f->budget;
	if (f->budget != SIZE_MAX)
		f->budget -= take;
	left = take;
	for (int i = 0; i < cnt && left > 0; i++) {
		size_t n = iov[i].iov_len < left ? iov[i].iov_len : left;
		buf_add(&f->out, iov[i].iov_base, n);
		left -= n;
	}
	return (ssize_t)take;
}

static inline void fake_want_read(void *h, bool on)
{
	struct fake *f = h;

	if (f->closed)
		f->after_close = true;
	f->want_read = on;
	f->want_calls++;
}

static inline void fake_close(void *h, bool clean)
{
	struct fake *f = h;

	if (f->closed)
		f->after_close = true;
	f->closed++;
	f->clean = clean;
}

static inline void fake_set_timer(void *h, uint64_t deadline)
{
	struct fake *f = h;

	if (f->closed)
		f->after_close = true;
	f->timer = deadline;
	f->timer_calls++;
}

static inline const char *fake_peer(void *h)
{
	(void)h;
	return "fake";
}

static const struct ws_transport_ops fake_ops = {
    .send = fake_send,
    .want_read = fake_want_read,
    .close = fake_close,
    .set_timer = fake_set_timer,
    .peer = fake_peer,
};

/* One complete received message. */
struct msg {
	int opcode;    /* WS_OP_TEXT or WS_OP_BINARY */
	uint8_t *data; /* payload, reassembled */
	size_t len;    /* payload length */
	int chunks;    /* on_message calls it took */
};

struct rec;
typedef int (*rec_hook)(struct rec *r, const uint8_t *p, size_t n, bool first, bool final);

struct rec {
	struct ws_session *s; /* the session the callbacks belong to */
	struct fake *tr;      /* its transport */
	char log[1024];       /* one letter per callback: O M P C D E X */
	size_t loglen;        /* letters in log */
	struct msg *msgs;     /* complete messages */
	size_t nmsgs;         /* count of msgs */
	struct buf cur;       /* message being reassembled */
	int cur_op;           /* its opcode */
	int cur_chunks;       /* its chunks so far */
	bool in_msg;          /* a message is open */
	int chunks;           /* on_message calls in all */
	int errors;           /* on_error calls */
	int last_err;         /* error of the last on_error */
	int closes;           /* on_close calls */
	uint16_t close_code;  /* code of on_close */
	char reason[128];     /* reason of on_close */
	size_t reason_len;    /* its length */
	int peer_closes;      /* on_peer_close calls */
	uint16_t peer_code;   /* code of on_peer_close */
	int pongs;            /* on_pong calls */
	uint8_t pong[125];    /* last pong payload */
	size_t pong_len;      /* its length */
	int drains;           /* on_drain calls */
	int opens;            /* on_open calls */
	bool after_close;     /* a callback came after on_close */
	/* behaviour */
	bool defer_close;   /* on_peer_close returns WS_ERR_AGAIN */
	bool free_in_close; /* ws_session_free inside on_close */
	bool echo;          /* send each complete message back */
	int pause_every;    /* pause after every n-th chunk (0 = never) */
	rec_hook hook;      /* extra per-chunk action; its return is on_message's */
};

static inline void rec_log(struct rec *r, char c)
{
	if (r->closes > 0)
		r->after_close = true;
	if (r->loglen + 1 < sizeof(r->log)) {
		r->log[r->loglen++] = c;
		r->log[r->loglen] = 0;
	}
}

static inline void rec_on_open(struct ws_session *s, void *ud)
{
	struct rec *r = ud;
	r->opens++;
	rec_log(r, 'O');
}

static inline int rec_on_message(struct ws_session *s, void *ud, enum ws_opcode op,
                                 const uint8_t *p, size_t n, bool first, bool final)
{
	struct rec *r = ud;
	int ret = 0;

	rec_log(r, 'M');
	ck_assert(op == WS_OP_TEXT || op == WS_OP_BINARY);
	ck_assert_int_eq(first, !r->in_msg);
	if (first) {
		r->cur.len = 0;
		r->cur_op = op;
		r->cur_chunks = 0;
		r->in_msg = true;
	}
	ck_assert_int_eq(op, r->cur_op);
	ck_assert(p != NULL);
	buf_add(&r->cur, p, n);
	r->cur_chunks++;
	r->chunks++;
	if (final) {
		struct msg *m;

		r->msgs = realloc(r->msgs, (r->nmsgs + 1) * sizeof(*r->msgs));
		ck_assert_ptr_nonnull(r->msgs);
		m = &r->msgs[r->nmsgs++];
		m->opcode = op;
		m->len = r->cur.len;
		m->data = malloc(r->cur.len + 1);
		memcpy(m->data, r->cur.p ? r->cur.p : (uint8_t *)"", r->cur.len);
		m->chunks = r->cur_chunks;
		r->in_msg = false;
	}
	if (r->hook != NULL)
		ret = r->hook(r, p, n, first, final);
	if (final && r->echo) {
		struct msg *m = &r->msgs[r->nmsgs - 1];
		ck_assert_int_eq(ws_session_send(s, op, m->data, m->len), WS_OK);
	}
	if (r->pause_every > 0 && r->chunks % r->pause_every == 0)
		ws_session_pause(s);
	return ret;
}

static inline void rec_on_pong(struct ws_session *s, void *ud, const uint8_t *p, size_t n)
{
	struct rec *r = ud;
	rec_log(r, 'P');
	r->pongs++;
	memcpy(r->pong, p, n);
	r->pong_len = n;
}

static inline int rec_on_peer_close(struct ws_session *s, void *ud, uint16_t code,
                                    const uint8_t *reason, size_t len)
{
	struct rec *r = ud;
	rec_log(r, 'C');
	r->peer_closes++;
	r->peer_code = code;
	return r->defer_close ? WS_ERR_AGAIN : 0;
}

static inline void rec_on_drain(struct ws_session *s, void *ud)
{
	struct rec *r = ud;
	rec_log(r, 'D');
	r->drains++;
}

static inline void rec_on_error(struct ws_session *s, void *ud, int err)
{
	struct rec *r = ud;
	rec_log(r, 'E');
	r->errors++;
	r->last_err = err;
}

static inline void rec_on_close(struct ws_session *s, void *ud, uint16_t code,
                                const uint8_t *reason, size_t len)
{
	struct rec *r = ud;
	rec_log(r, 'X');
	r->closes++;
	r->close_code = code;
	ck_assert_uint_le(len, sizeof(r->reason));
	if (len > 0)
		memcpy(r->reason, reason, len);
	r->reason_len = len;
	if (r->free_in_close) {
		ws_session_free(s);
		r->s = NULL;
	}
}

static const struct ws_handler rec_handler = {
    .on_open = rec_on_open,
    .on_message = rec_on_message,
    .on_pong = rec_on_pong,
    .on_peer_close = rec_on_peer_close,
    .on_drain = rec_on_drain,
    .on_error = rec_on_error,
    .on_close = rec_on_close,
};

static inline void rec_init(struct rec *r, struct fake *tr)
{
	memset(r, 0, sizeof(*r));
	r->tr = tr;
}

static inline void rec_free(struct rec *r)
{
	for (size_t i = 0; i < r->nmsgs; i++)
		free(r->msgs[i].data);
	free(r->msgs);
	buf_free(&r->cur);
	r->msgs = NULL;
	r->nmsgs = 0;
}

static inline void test_options(struct ws_session_options *o)
{
	ws_session_options_default(o);
	o->now_ms = fake_clock;
	o->now_ctx = NULL;
}

/* A started session of role over fake f, recorded by r. */
static inline struct ws_session *mk_session(enum ws_role role, struct fake *f, struct rec *r,
                                            const struct ws_session_options *o)
{
	struct ws_session_options def;
	struct ws_session *s = NULL;

	if (o == NULL) {
		test_options(&def);
		o = &def;
	}
	fake_init(f);
	rec_init(r, f);
	ck_assert_int_eq(ws_session_new(&s, role, &fake_ops, f, &rec_handler, r, o), WS_OK);
	r->s = s;
	ws_session_start(s);
	return s;
}

/* One frame parsed from a transport's output. */
struct oframe {
	int opcode;      /* frame opcode */
	bool fin;        /* FIN bit */
	bool rsv1;       /* RSV1 bit */
	bool masked;     /* had a masking key */
	uint8_t mask[4]; /* the key */
	uint8_t *data;   /* payload (unmasked) */
	size_t len;      /* payload length */
};

/* Parse out[from..) as frames sent by a peer of role sender; returns
 * the frame count, fails the test on a framing error. */
static inline size_t parse_frames(const struct buf *out, size_t from, enum ws_role sender,
                                  struct oframe **frames)
{
	struct ws_frame_parser p;
	struct ws_frame_event ev;
	size_t n = 0, off = 0, used, len = out->len - from;
	uint8_t *copy = malloc(len + 1);
	struct oframe *f = NULL;

	memcpy(copy, out->p ? out->p + from : (uint8_t *)"", len);
	ws_frame_parser_init(&p, sender == WS_ROLE_SERVER ? WS_ROLE_CLIENT : WS_ROLE_SERVER, 0,
	                     true);
	for (;;) {
		ck_assert_int_eq(ws_frame_parse(&p, copy + off, len - off, &used, &ev), WS_OK);
		off += used;
		if (ev.type == WS_FRAME_EV_NONE)
			break;
		if (ev.type == WS_FRAME_EV_HEADER) {
			f = realloc(f, (n + 1) * sizeof(*f));
			memset(&f[n], 0, sizeof(f[n]));
			f[n].opcode = ev.header->opcode;
			f[n].fin = ev.header->fin;
			f[n].rsv1 = ev.header->rsv1;
			f[n].masked = ev.header->masked;
			memcpy(f[n].mask, ev.header->mask, 4);
			f[n].data = malloc(ev.header->length + 1);
			n++;
		} else if (ev.type == WS_FRAME_EV_PAYLOAD) {
			memcpy(f[n - 1].data + f[n - 1].len, ev.data, ev.len);
			f[n - 1].len += ev.len;
		}
	}
	ck_assert_uint_eq(off, len);
	ck_assert_int_eq(p.state, WS_FRAME_HEAD);
	free(copy);
	*frames = f;
	return n;
}

static inline void frames_free(struct oframe *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(f[i].data);
	free(f);
}

/* Build one frame as a peer would send it; masked with a fixed key. */
static inline size_t mk_frame(uint8_t *out, int opcode, bool fin, bool rsv1, const void *p,
                              size_t n, bool masked)
{
	static const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
	size_t hl = ws_frame_header_encode(out, (uint8_t)opcode, fin, rsv1, n, masked ? key : NULL);

	if (n > 0)
		memcpy(out + hl, p, n);
	if (masked)
		ws_mask(out + hl, n, key, 0);
	return hl + n;
}

static inline void feed_ok(struct ws_session *s, uint8_t *p, size_t n)
{
	ck_assert_int_eq(ws_session_feed(s, p, n), (ssize_t)n);
}

/* The single close frame in f's output from off on: its code (1005
 * when empty) and reason. */
static inline uint16_t only_close(struct fake *f, enum ws_role sender, char *reason, size_t *rlen)
{
	struct oframe *fr;
	size_t n = parse_frames(&f->out, 0, sender, &fr), closes = 0;
	uint16_t code = 0;

	for (size_t i = 0; i < n; i++) {
		if (fr[i].opcode != WS_OP_CLOSE)
			continue;
		closes++;
		ck_assert_uint_eq(i, n - 1); /* the close is the last frame */
		code = fr[i].len >= 2 ? (uint16_t)(fr[i].data[0] << 8 | fr[i].data[1]) : 1005;
		if (reason != NULL) {
			*rlen = fr[i].len >= 2 ? fr[i].len - 2 : 0;
			memcpy(reason, fr[i].data + 2, *rlen);
		}
	}
	ck_assert_uint_eq(closes, 1);
	frames_free(fr, n);
	return code;
}

static inline size_t close_frame(uint8_t *out, unsigned code, const char *reason, bool masked)
{
	uint8_t p[125];
	size_t n = 0;

	if (code != 0) {
		p[0] = (uint8_t)(code >> 8);
		p[1] = (uint8_t)code;
		n = 2;
		if (reason != NULL) {
			memcpy(p + 2, reason, strlen(reason));
			n += strlen(reason);
		}
	}
	return mk_frame(out, WS_OP_CLOSE, true, false, p, n, masked);
}

#endif
