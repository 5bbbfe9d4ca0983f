/* wsgate-bench: a WebSocket load generator over HTTP/1.1 and HTTP/2.
 *
 * N connections x M streams (M > 1 only over HTTP/2), each stream
 * keeping --inflight messages outstanding (closed loop) or sharing a
 * fixed total --rate (open loop).  Payload comes from a repeating ASCII
 * pattern indexed by the stream's byte offset, so every received byte
 * is checked in order: against an echo (--mode echo, message boundaries
 * checked too) or a byte-stream bridge to a TCP echo (--mode stream,
 * where replies may be split or merged).  A message's round trip ends
 * when the byte offset of its last byte has come back.
 *
 * Other modes: --idle opens every session and holds it (for memory
 * measurements), --connect-rate cycles open/echo/close (HTTP/1.1: a new
 * connection each time; HTTP/2: a new stream on kept connections, and a
 * new connection when one dies).
 *
 * Sessions are "settled" once each is open or has failed (failed ones
 * are not retried outside --connect-rate); --idle holds from then.
 *
 * The end of a run is bounded: at the deadline (or on SIGINT/SIGTERM)
 * sending stops and every stream and connection is closed; what has not
 * closed after STOP_GRACE_MS is aborted.  A progress line goes to stderr
 * each second and a JSON summary to stdout at the end.  One libevent
 * loop per thread (--threads).
 */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "ws.h"
#include "wsc_cli.h"
#include "wsc_client.h"
#include "wsc_hist.h"

/* Most source addresses for --bind. */
#define MAX_BINDS 256
/* Outstanding messages tracked per stream in open loop (--rate). */
#define OPEN_LOOP_WINDOW 1024
/* Pattern period: offsets are reduced modulo this. */
#define PATTERN_PERIOD 64
/* Longest piece checked against the pattern at once. */
#define PATTERN_SPAN (256 * 1024)
/* Error texts printed before going quiet. */
#define MAX_ERROR_PRINTS 5
/* Grace period for closing everything after --duration. */
#define STOP_GRACE_MS 2000
/* After the abort at the end of the grace, how long connections get to
 * report before the loop is left regardless. */
#define ABORT_WAIT_MS 500
/* How often a worker looks for a stop signal. */
#define SIGNAL_POLL_MS 50
/* Most --subprotocol options. */
#define MAX_SUBPROTOCOLS 16
/* Open-loop scheduling tick. */
#define TICK_MS 1

enum mode {
	MODE_ECHO,   /* each message comes back whole */
	MODE_STREAM, /* bytes come back in order, boundaries anywhere */
};

struct cfg {
	const char *url_s;                        /* URL as given */
	struct wsc_url url;                       /* parsed */
	struct sockaddr_storage addr;             /* resolved once */
	socklen_t addr_len;                       /* its length */
	long conns;                               /* N connections */
	long streams;                             /* M streams per connection */
	size_t size;                              /* message size */
	long inflight;                            /* closed loop: outstanding per stream */
	double rate;                              /* open loop: total msgs/s (0 = closed) */
	double duration;                          /* seconds */
	bool text;                                /* text messages */
	bool deflate;                             /* offer permessage-deflate */
	bool http2;                               /* extended CONNECT */
	bool insecure;                            /* skip certificate checks */
	bool idle;                                /* open and hold */
	bool connect_rate;                        /* open/echo/close cycles */
	bool quiet;                               /* no progress lines */
	enum mode mode;                           /* echo or stream */
	struct sockaddr_storage binds[MAX_BINDS]; /* source addresses */
	socklen_t bind_lens[MAX_BINDS];           /* their lengths */
	int n_binds;                              /* entries in binds */
	int threads;                              /* event-loop threads */
	long concurrency;                         /* connects in progress per thread */
	const char *protos[MAX_SUBPROTOCOLS];     /* --subprotocol offers, in order */
	size_t n_protos;                          /* entries in protos */
};

/* Counters a worker writes and the progress line reads. */
struct live {
	_Atomic uint64_t msgs;       /* completed round trips */
	_Atomic uint64_t bytes_rx;   /* payload received */
	_Atomic uint64_t bytes_tx;   /* payload sent */
	_Atomic uint64_t errors;     /* every kind */
	_Atomic uint64_t handshakes; /* sessions opened */
	_Atomic int64_t open;        /* sessions open now */
};

struct worker;
struct bconn;

/* One WebSocket and its outstanding messages (a ring of end offsets). */
struct bstream {
	struct worker *w;      /* owner */
	struct bconn *bc;      /* connection */
	struct wsc_stream *st; /* NULL when none */
	bool open;             /* handshake done, not closed */
	bool starting;         /* inside start_stream: no restart from on_close */
	uint64_t tx_off;       /* payload bytes sent */
	uint64_t rx_off;       /* payload bytes received */
	uint64_t rx_msg;       /* bytes of the message being received (echo) */
	uint64_t *ends;        /* ring: tx offset at which each message ends */
	uint64_t *times;       /* ring: its send time (ns) */
	uint32_t cap;          /* ring capacity */
	uint32_t head;         /* oldest entry */
	uint32_t count;        /* entries */
};

struct bconn {
	struct worker *w;        /* owner */
	struct wsc_conn *c;      /* NULL when none */
	long gidx;               /* global index (picks the source address) */
	bool ready;              /* connected */
	struct bstream *streams; /* cfg.streams of them */
};

struct worker {
	int idx;                   /* thread number */
	const struct cfg *cfg;     /* settings */
	pthread_t thread;          /* when threads > 1 */
	struct event_base *base;   /* its loop */
	struct wsc_ctx *ctx;       /* client context */
	struct wsc_options o;      /* connection options */
	struct bconn *conns;       /* its connections */
	long n_conns;              /* how many */
	long next_start;           /* first connection not started yet */
	long connecting;           /* started, not ready */
	long live;                 /* connections not closed */
	struct bstream **all;      /* every stream, for the open loop */
	long n_all;                /* entries in all */
	long rr;                   /* open loop: next stream to try */
	double rate;               /* its share of the rate */
	uint64_t scheduled;        /* open-loop messages due so far */
	bool running;              /* sending; errors count */
	bool stopping;             /* closing everything */
	bool aborted;              /* the grace ran out: connections aborted */
	bool held;                 /* --idle: settled, holding for --duration */
	long opened_here;          /* sessions opened at least once */
	long failed_here;          /* sessions that failed (not retried) */
	struct event *stop_ev;     /* end of the run */
	struct event *hard_ev;     /* end of the grace period, then of the abort */
	struct event *sig_ev;      /* polls for SIGINT/SIGTERM */
	struct event *tick_ev;     /* open-loop tick */
	struct event *progress_ev; /* single thread: the progress line */
	uint64_t t_start;          /* ns */
	uint64_t t_stop;           /* ns */
	struct wsc_hist hist;      /* round trips (µs) */
	uint64_t err_connect;      /* connections that failed */
	uint64_t err_handshake;    /* handshakes refused or failed */
	uint64_t err_close;        /* sessions that ended during the run */
	uint64_t err_data;         /* bytes or boundaries wrong */
	uint64_t err_send;         /* sends refused */
	uint64_t late;             /* open loop: no stream could take a message */
	struct live live_c;        /* progress counters */
};

static struct cfg g;
static uint8_t *g_pattern;
static _Atomic int64_t g_open;
static _Atomic int64_t g_failed;
static _Atomic int g_all_open_said;
static _Atomic int g_error_prints;
static _Atomic uint64_t g_all_open_ns;
static _Atomic uint64_t g_settled_ns;
static _Atomic int g_chosen_said;
static char g_chosen[128];
static uint64_t g_t0;
/* The signal that asked for the stop (0: none); set by the handler. */
static volatile sig_atomic_t g_signal;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void arm(struct event *ev, double seconds)
{
	struct timeval tv;

	tv.tv_sec = (time_t)seconds;
	tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
	evtimer_add(ev, &tv);
}

static void say_error(const char *what, const char *text)
{
	if (atomic_fetch_add(&g_error_prints, 1) < MAX_ERROR_PRINTS)
		fprintf(stderr, "wsgate-bench: %s: %s\n", what, text);
}

static void count_error(struct worker *w, uint64_t *which)
{
	(*which)++;
	atomic_fetch_add_explicit(&w->live_c.errors, 1, memory_order_relaxed);
}

static long total_sessions(void)
{
	return g.conns * g.streams;
}

/* Every session is open or has failed: say so once (with how many of
 * each), and with --idle let this thread hold for --duration from when
 * its own sessions have settled.  Not with --connect-rate, where
 * sessions come and go by design. */
static void check_settled(struct worker *w)
{
	int64_t failed, open;
	double t;

	if (g.connect_rate)
		return;
	if (w->running && g.idle && !w->held &&
	    atomic_load_explicit(&w->live_c.open, memory_order_relaxed) + w->failed_here >=
	        w->n_all) {
		w->held = true;
		arm(w->stop_ev, g.duration);
	}
	/* failed first: a session moves from open to failed in that order,
	 * so it cannot be counted twice. */
	failed = atomic_load(&g_failed);
	open = atomic_load(&g_open);
	if (open + failed < total_sessions() || atomic_exchange(&g_all_open_said, 1) != 0)
		return;
	atomic_store(&g_settled_ns, now_ns() - g_t0);
	t = (double)atomic_load(&g_settled_ns) / 1e9;
	if (failed == 0) {
		atomic_store(&g_all_open_ns, atomic_load(&g_settled_ns));
		fprintf(stderr, "wsgate-bench: all %ld sessions open after %.3f s\n",
		        total_sessions(), t);
	} else {
		fprintf(stderr,
		        "wsgate-bench: %lld sessions open after %.3f s, %lld failed "
		        "(all %ld settled)\n",
		        (long long)open, t, (long long)failed, total_sessions());
	}
}

/* n sessions of this worker failed during the run and will not be
 * retried (outside --connect-rate). */
static void sessions_failed(struct worker *w, long n)
{
	if (!w->running || g.connect_rate || n <= 0)
		return;
	w->failed_here += n;
	atomic_fetch_add(&g_failed, n);
	check_settled(w);
}

/* ---- sending and receiving --------------------------------------------- */

static const uint8_t *pattern_at(uint64_t off)
{
	return g_pattern + off % PATTERN_PERIOD;
}

static bool send_one(struct bstream *s)
{
	struct worker *w = s->w;
	uint32_t slot;
	int rc;

	if (s->st == NULL || !s->open || s->count == s->cap)
		return false;
	rc = wsc_stream_send(s->st, g.text ? WS_OP_TEXT : WS_OP_BINARY, pattern_at(s->tx_off),
	                     g.size);
	if (rc != WS_OK) {
		if (w->running)
			count_error(w, &w->err_send);
		return false;
	}
	s->tx_off += g.size;
	slot = (s->head + s->count) % s->cap;
	s->ends[slot] = s->tx_off;
	s->times[slot] = now_ns();
	s->count++;
	if (w->running)
		atomic_fetch_add_explicit(&w->live_c.bytes_tx, g.size, memory_order_relaxed);
	return true;
}

static void on_open(struct wsc_stream *st, void *ud, const struct ws_upgrade_result *res)
{
	struct bstream *s = ud;
	struct worker *w = s->w;
	int64_t n;

	s->open = true;
	w->opened_here++;
	atomic_fetch_add_explicit(&w->live_c.handshakes, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->live_c.open, 1, memory_order_relaxed);
	n = atomic_fetch_add(&g_open, 1) + 1;
	if (res->subprotocol != NULL && atomic_exchange(&g_chosen_said, 1) == 0)
		snprintf(g_chosen, sizeof(g_chosen), "%s", res->subprotocol);
	if (g.connect_rate && n == total_sessions() && atomic_exchange(&g_all_open_said, 1) == 0) {
		atomic_store(&g_all_open_ns, now_ns() - g_t0);
		fprintf(stderr, "wsgate-bench: all %ld sessions open after %.3f s\n",
		        total_sessions(), (double)(now_ns() - g_t0) / 1e9);
	}
	if (!w->running)
		return;
	check_settled(w);
	if (g.idle)
		return;
	if (g.connect_rate) {
		send_one(s);
		return;
	}
	if (g.rate == 0)
		for (long i = 0; i < g.inflight; i++)
			send_one(s);
}

static void check_pattern(struct bstream *s, const uint8_t *data, size_t len)
{
	uint64_t off = s->rx_off;

	while (len > 0) {
		size_t n = len < PATTERN_SPAN ? len : PATTERN_SPAN;

		if (memcmp(data, pattern_at(off), n) != 0) {
			count_error(s->w, &s->w->err_data);
			say_error("data", "received bytes differ from those sent");
			return;
		}
		data += n;
		len -= n;
		off += n;
	}
}

static int on_message(struct wsc_stream *st, void *ud, enum ws_opcode op, const uint8_t *data,
                      size_t len, bool first, bool final)
{
	struct bstream *s = ud;
	struct worker *w = s->w;
	uint64_t t = 0;

	check_pattern(s, data, len);
	s->rx_off += len;
	if (w->running)
		atomic_fetch_add_explicit(&w->live_c.bytes_rx, len, memory_order_relaxed);
	if (g.mode == MODE_ECHO) {
		s->rx_msg += len;
		if (final) {
			if (s->rx_msg != g.size || op != (g.text ? WS_OP_TEXT : WS_OP_BINARY)) {
				count_error(w, &w->err_data);
				say_error("data", "echoed message differs in size or type");
			}
			s->rx_msg = 0;
		}
	}
	while (s->count > 0 && s->ends[s->head] <= s->rx_off) {
		if (t == 0)
			t = now_ns();
		if (w->running)
			wsc_hist_record(&w->hist, (t - s->times[s->head]) / 1000);
		s->head = (s->head + 1) % s->cap;
		s->count--;
		if (!w->running)
			continue;
		atomic_fetch_add_explicit(&w->live_c.msgs, 1, memory_order_relaxed);
		if (g.connect_rate)
			wsc_stream_close(s->st, WS_CLOSE_NORMAL, NULL, 0);
		else if (g.rate == 0)
			send_one(s);
	}
	return 0;
}

static void start_stream(struct bstream *s);
static void start_conn(struct bconn *bc);
static void start_more(struct worker *w);
static void count_close_error(struct bstream *s, struct wsc_stream *st, bool was_open, int err,
                              uint16_t code, const uint8_t *reason, size_t reason_len);

static void stream_reset(struct bstream *s)
{
	s->st = NULL;
	s->tx_off = s->rx_off = s->rx_msg = 0;
	s->head = s->count = 0;
}

static void on_close(struct wsc_stream *st, void *ud, int err, uint16_t code, const uint8_t *reason,
                     size_t reason_len)
{
	struct bstream *s = ud;
	struct worker *w = s->w;
	bool was_open = s->open;

	if (s->open) {
		s->open = false;
		atomic_fetch_sub_explicit(&w->live_c.open, 1, memory_order_relaxed);
		atomic_fetch_sub(&g_open, 1);
	}
	stream_reset(s);
	if (!w->running)
		return;
	if (g.connect_rate && was_open && err == WS_OK && code == WS_CLOSE_NORMAL) {
		/* A completed cycle: HTTP/2 opens the next stream at once,
		 * HTTP/1.1 when the connection has gone. */
		if (g.http2 && s->bc->c != NULL && !s->starting)
			start_stream(s);
		return;
	}
	count_close_error(s, st, was_open, err, code, reason, reason_len);
	if (g.connect_rate) {
		/* Keep cycling after a failed one too.  On a dying
		 * connection the new stream is refused quietly and
		 * on_conn_close reconnects with all its streams. */
		if (g.http2 && s->bc->c != NULL && !s->starting)
			start_stream(s);
		return;
	}
	sessions_failed(w, 1);
}

static void count_close_error(struct bstream *s, struct wsc_stream *st, bool was_open, int err,
                              uint16_t code, const uint8_t *reason, size_t reason_len)
{
	struct worker *w = s->w;

	if (!was_open) {
		count_error(w, &w->err_handshake);
		say_error("handshake", wsc_stream_error_text(st));
	} else {
		char t[WSC_ERROR_TEXT_MAX + 160];
		const char *why = wsc_stream_error_text(st);

		count_error(w, &w->err_close);
		snprintf(t, sizeof(t), "code %u%s%.*s%s%s", code, reason_len > 0 ? " " : "",
		         (int)reason_len, reason != NULL ? (const char *)reason : "",
		         why[0] != '\0' ? ": " : "", why);
		say_error("session ended", t);
	}
}

static void on_ready(struct wsc_conn *c, void *ud)
{
	struct bconn *bc = ud;

	bc->ready = true;
	bc->w->connecting--;
	start_more(bc->w);
}

static void on_conn_close(struct wsc_conn *c, void *ud, int err)
{
	struct bconn *bc = ud;
	struct worker *w = bc->w;

	bc->c = NULL;
	w->live--;
	if (!bc->ready) {
		w->connecting--;
		if (w->running && err != WS_OK) {
			count_error(w, &w->err_connect);
			say_error("connect", wsc_conn_error_text(c));
		}
	}
	if (w->running) {
		/* --connect-rate: HTTP/1.1 cycles connections; over HTTP/2 a
		 * connection only ends when it failed, and is replaced. */
		if (g.connect_rate)
			start_conn(bc);
		start_more(w);
	}
	if (w->stopping && w->live == 0)
		event_base_loopexit(w->base, NULL);
}

static const struct wsc_stream_cb stream_cb = {on_open, on_message, NULL, on_close};
static const struct wsc_conn_cb conn_cb = {on_ready, on_conn_close};

static void start_stream(struct bstream *s)
{
	int rc;

	/* A stream that fails inside wsc_stream_new reports on_close from
	 * there: starting keeps that from recursing into a restart. */
	s->starting = true;
	rc = wsc_stream_new(&s->st, s->bc->c, &stream_cb, s);
	s->starting = false;
	if (rc == WS_OK)
		return;
	s->st = NULL;
	if (g.connect_rate && rc == WS_ERR_CLOSED)
		return; /* the connection is going: on_conn_close reconnects */
	count_error(s->w, &s->w->err_handshake);
	say_error("stream", ws_strerror(rc));
	sessions_failed(s->w, 1);
}

static void start_conn(struct bconn *bc)
{
	struct worker *w = bc->w;
	struct wsc_options o = w->o;
	int rc;

	if (g.n_binds > 0) {
		o.bind = (const struct sockaddr *)&g.binds[bc->gidx % g.n_binds];
		o.bind_len = g.bind_lens[bc->gidx % g.n_binds];
	}
	bc->ready = false;
	rc = wsc_conn_new(&bc->c, w->ctx, &g.url, &o, &conn_cb, bc);
	if (rc != WS_OK) {
		bc->c = NULL;
		count_error(w, &w->err_connect);
		say_error("connect", ws_strerror(rc));
		sessions_failed(w, g.streams);
		return;
	}
	w->live++;
	w->connecting++;
	for (long i = 0; i < g.streams; i++)
		start_stream(&bc->streams[i]);
}

/* Start connections while fewer than --concurrency are connecting. */
static void start_more(struct worker *w)
{
	while (w->running && w->next_start < w->n_conns && w->connecting < g.concurrency)
		start_conn(&w->conns[w->next_start++]);
}

/* ---- timers ------------------------------------------------------------------ */

static void stop_cb(evutil_socket_t fd, short what, void *arg);

/* The grace ran out: abort what is left.  Aborted connections report
 * from the loop's next pass; should any still not have reported after
 * ABORT_WAIT_MS (a library fault), the loop is left regardless so that
 * the summary is printed. */
static void hard_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	if (w->aborted) {
		fprintf(stderr, "wsgate-bench: %ld connection%s did not close after the abort\n",
		        w->live, w->live == 1 ? "" : "s");
		event_base_loopexit(w->base, NULL);
		return;
	}
	w->aborted = true;
	for (long i = 0; i < w->n_conns; i++)
		if (w->conns[i].c != NULL)
			wsc_conn_close(w->conns[i].c, true);
	if (w->live == 0)
		event_base_loopexit(w->base, NULL);
	else
		arm(w->hard_ev, ABORT_WAIT_MS / 1000.0);
}

static void on_signal(int sig)
{
	if (g_signal != 0) {
		/* A second one: stop at once, without the summary. */
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	g_signal = sig;
}

/* SIGINT/SIGTERM end the run the way the deadline does.  Polled, since
 * a signal may land on any thread and a libevent loop per thread cannot
 * each own the signal. */
static void sig_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	if (g_signal == 0 || w->stopping)
		return;
	if (w->idx == 0)
		fprintf(stderr, "wsgate-bench: %s: stopping\n", strsignal(g_signal));
	stop_cb(-1, 0, w);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	if (w->stopping)
		return;
	/* Sessions that never opened during the run failed, unless cycling
	 * (connect-rate) catches one mid-handshake. */
	if (!g.connect_rate) {
		for (long i = 0; i < w->n_all; i++) {
			if (w->all[i]->st != NULL && !w->all[i]->open) {
				count_error(w, &w->err_handshake);
				say_error("handshake", "not completed before the end of the run");
			}
		}
		for (long i = w->next_start; i < w->n_conns; i++) {
			count_error(w, &w->err_connect);
			say_error("connect", "not started before the end of the run");
		}
	}
	w->running = false;
	w->stopping = true;
	w->t_stop = now_ns();
	if (w->tick_ev != NULL)
		evtimer_del(w->tick_ev);
	if (w->sig_ev != NULL)
		event_del(w->sig_ev);
	for (long i = 0; i < w->n_conns; i++) {
		struct bconn *bc = &w->conns[i];

		if (bc->c == NULL)
			continue;
		for (long k = 0; k < g.streams; k++)
			if (bc->streams[k].st != NULL)
				wsc_stream_close(bc->streams[k].st, WS_CLOSE_NORMAL, NULL, 0);
		if (bc->c != NULL)
			wsc_conn_close(bc->c, false);
	}
	if (w->live == 0) {
		event_base_loopexit(w->base, NULL);
		return;
	}
	arm(w->hard_ev, STOP_GRACE_MS / 1000.0);
}

/* Open loop: send what is due since the start, spread round-robin. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	double el = (double)(now_ns() - w->t_start) / 1e9;
	uint64_t due = (uint64_t)(el * w->rate);

	while (w->scheduled < due) {
		bool sent = false;

		for (long tried = 0; tried < w->n_all && !sent; tried++) {
			struct bstream *s = w->all[w->rr];

			w->rr = (w->rr + 1) % w->n_all;
			sent = s->open && ws_session_writable(wsc_stream_session(s->st)) &&
			       send_one(s);
		}
		if (!sent) {
			/* Nobody can take more: the rest of what is due is late. */
			w->late += due - w->scheduled;
			w->scheduled = due;
			break;
		}
		w->scheduled++;
	}
	arm(w->tick_ev, TICK_MS / 1000.0);
}

struct progress {
	uint64_t t;        /* ns of the last line */
	uint64_t msgs;     /* counters at the last line */
	uint64_t bytes;    /* ... */
	uint64_t hs;       /* ... */
	struct worker *ws; /* workers */
	int n;             /* how many */
};

static void progress_line(struct progress *p)
{
	uint64_t t = now_ns(), msgs = 0, bytes = 0, hs = 0, errs = 0;
	int64_t open = 0;
	double dt = (double)(t - p->t) / 1e9;

	for (int i = 0; i < p->n; i++) {
		struct live *l = &p->ws[i].live_c;
		msgs += atomic_load_explicit(&l->msgs, memory_order_relaxed);
		bytes += atomic_load_explicit(&l->bytes_rx, memory_order_relaxed);
		hs += atomic_load_explicit(&l->handshakes, memory_order_relaxed);
		errs += atomic_load_explicit(&l->errors, memory_order_relaxed);
		open += atomic_load_explicit(&l->open, memory_order_relaxed);
	}
	if (!g.quiet && dt > 0)
		fprintf(stderr,
		        "[%5.1fs] open %lld/%ld  msgs/s %.0f  MB/s %.2f  handshakes/s %.0f  errors "
		        "%llu\n",
		        (double)(t - g_t0) / 1e9, (long long)open, total_sessions(),
		        (double)(msgs - p->msgs) / dt, (double)(bytes - p->bytes) / dt / 1e6,
		        (double)(hs - p->hs) / dt, (unsigned long long)errs);
	p->t = t;
	p->msgs = msgs;
	p->bytes = bytes;
	p->hs = hs;
}

static void progress_cb(evutil_socket_t fd, short what, void *arg)
{
	struct progress *p = arg;

	progress_line(p);
	if (!p->ws[0].stopping)
		arm(p->ws[0].progress_ev, 1.0);
}

/* ---- workers ------------------------------------------------------------------ */

/* libevent's default timer clock is CLOCK_MONOTONIC_COARSE (a jiffy, up
 * to 4 ms): a hold or a pacing tick could end before its time by the
 * clock we report with.  Measure and wait on the same, precise clock. */
static struct event_base *precise_base(void)
{
	struct event_config *cfg = event_config_new();
	struct event_base *base;

	if (cfg == NULL)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

static int worker_setup(struct worker *w, long first, long n)
{
	w->base = precise_base();
	if (w->base == NULL || wsc_ctx_new(&w->ctx, w->base, g.insecure, NULL) != WS_OK)
		return -1;
	wsc_options_default(&w->o);
	w->o.http2 = g.http2;
	w->o.deflate = g.deflate;
	w->o.addr = (const struct sockaddr *)&g.addr;
	w->o.addr_len = g.addr_len;
	w->o.connect_timeout_ms = 30000;
	w->o.handshake_timeout_ms = 30000;
	w->o.session.max_message = g.size > (64u << 20) ? g.size : (64u << 20);
	w->o.session.max_frame = w->o.session.max_message;
	w->o.session.queue_limit = (size_t)g.size * (size_t)(g.inflight + 2) + (1u << 20);
	wsc_hist_init(&w->hist);
	w->n_conns = n;
	w->conns = calloc((size_t)n, sizeof(*w->conns));
	w->all = calloc((size_t)(n * g.streams) + 1, sizeof(*w->all));
	if (w->conns == NULL || w->all == NULL)
		return -1;
	for (long i = 0; i < n; i++) {
		struct bconn *bc = &w->conns[i];

		bc->w = w;
		bc->gidx = first + i;
		bc->streams = calloc((size_t)g.streams, sizeof(*bc->streams));
		if (bc->streams == NULL)
			return -1;
		for (long k = 0; k < g.streams; k++) {
			struct bstream *s = &bc->streams[k];

			s->w = w;
			s->bc = bc;
			s->cap = g.rate > 0 ? OPEN_LOOP_WINDOW
			                    : (uint32_t)(g.inflight > 0 ? g.inflight : 1);
			s->ends = calloc(s->cap, sizeof(*s->ends));
			s->times = calloc(s->cap, sizeof(*s->times));
			if (s->ends == NULL || s->times == NULL)
				return -1;
			w->all[w->n_all++] = s;
		}
	}
	w->o.subprotocols = g.protos;
	w->o.n_subprotocols = g.n_protos;
	w->stop_ev = evtimer_new(w->base, stop_cb, w);
	w->hard_ev = evtimer_new(w->base, hard_cb, w);
	w->sig_ev = event_new(w->base, -1, EV_PERSIST, sig_cb, w);
	if (g.rate > 0 && !g.idle && !g.connect_rate)
		w->tick_ev = evtimer_new(w->base, tick_cb, w);
	return w->stop_ev != NULL && w->hard_ev != NULL && w->sig_ev != NULL ? 0 : -1;
}

static void worker_free(struct worker *w)
{
	for (long i = 0; i < w->n_conns; i++) {
		for (long k = 0; w->conns[i].streams != NULL && k < g.streams; k++) {
			free(w->conns[i].streams[k].ends);
			free(w->conns[i].streams[k].times);
		}
		free(w->conns[i].streams);
	}
	free(w->conns);
	free(w->all);
	if (w->stop_ev != NULL)
		event_free(w->stop_ev);
	if (w->hard_ev != NULL)
		event_free(w->hard_ev);
	if (w->sig_ev != NULL)
		event_free(w->sig_ev);
	if (w->tick_ev != NULL)
		event_free(w->tick_ev);
	if (w->progress_ev != NULL)
		event_free(w->progress_ev);
	wsc_ctx_free(w->ctx);
	if (w->base != NULL)
		event_base_free(w->base);
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;

	w->running = true;
	w->t_start = now_ns();
	if (!g.idle)
		arm(w->stop_ev, g.duration);
	else
		arm(w->stop_ev, g.duration + 300); /* safety: sessions settle long before */
	arm(w->sig_ev, SIGNAL_POLL_MS / 1000.0);
	if (w->tick_ev != NULL)
		arm(w->tick_ev, TICK_MS / 1000.0);
	start_more(w);
	if (w->n_conns == 0)
		stop_cb(-1, 0, w);
	event_base_dispatch(w->base);
	if (w->t_stop == 0)
		w->t_stop = now_ns();
	return NULL;
}

/* ---- options and summary -------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: wsgate-bench [options] URL\n"
	        "  -c, --connections N   connections (default 1)\n"
	        "  -m, --streams M       WebSocket streams per connection (default 1;\n"
	        "                        more than 1 needs --http2)\n"
	        "  --http2               WebSocket over HTTP/2 (RFC 8441)\n"
	        "  -s, --size BYTES      message size, K/M suffixes (default 64)\n"
	        "  --inflight K          closed loop: messages in flight per stream (default 1)\n"
	        "  --rate R              open loop: total messages per second\n"
	        "  -d, --duration SEC    run time (default 10)\n"
	        "  --text | --binary     message type (default binary)\n"
	        "  --deflate             offer permessage-deflate\n"
	        "  --mode echo|stream    echo server, or byte-stream bridge to a TCP echo\n"
	        "  --subprotocol NAME    offer a subprotocol (repeatable, in order)\n"
	        "  --idle                open every session; once each is open or failed,\n"
	        "                        hold for --duration\n"
	        "  --connect-rate        open/echo/close cycles as fast as possible\n"
	        "  --bind A[,B...]       source addresses, used in turn (A.B.C.D-E: a range)\n"
	        "  --threads N           event-loop threads (default 1)\n"
	        "  --concurrency N       connects in progress per thread (default 256)\n"
	        "  --insecure            do not verify the server certificate\n"
	        "  -q, --quiet           no progress lines\n"
	        "Prints a progress line per second on stderr and a JSON summary on stdout.\n"
	        "At the end (or on SIGINT/SIGTERM) everything is closed, and what is left\n"
	        "after %d ms is aborted.  Exit status 0 when no errors happened, 1 otherwise\n"
	        "(2 for usage errors).\n",
	        STOP_GRACE_MS);
}

static bool resolve_url(void)
{
	struct addrinfo hints = {0}, *res;
	int rc;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(g.url.host, g.url.port, &hints, &res);
	if (rc != 0) {
		fprintf(stderr, "wsgate-bench: cannot resolve %s: %s\n", g.url.host,
		        gai_strerror(rc));
		return false;
	}
	memcpy(&g.addr, res->ai_addr, res->ai_addrlen);
	g.addr_len = (socklen_t)res->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void summary(struct worker *ws, int n)
{
	struct wsc_hist h;
	uint64_t msgs = 0, rx = 0, tx = 0, hs = 0, ec = 0, eh = 0, el = 0, ed = 0, es = 0, late = 0;
	uint64_t t0 = UINT64_MAX, t1 = 0, all_open = atomic_load(&g_all_open_ns);
	uint64_t settled = atomic_load(&g_settled_ns);
	double dur;

	wsc_hist_init(&h);
	for (int i = 0; i < n; i++) {
		struct worker *w = &ws[i];
		wsc_hist_merge(&h, &w->hist);
		msgs += atomic_load(&w->live_c.msgs);
		rx += atomic_load(&w->live_c.bytes_rx);
		tx += atomic_load(&w->live_c.bytes_tx);
		hs += atomic_load(&w->live_c.handshakes);
		ec += w->err_connect;
		eh += w->err_handshake;
		el += w->err_close;
		ed += w->err_data;
		es += w->err_send;
		late += w->late;
		if (w->t_start < t0)
			t0 = w->t_start;
		if (w->t_stop > t1)
			t1 = w->t_stop;
	}
	dur = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
	printf("{\n  \"url\": \"%s\",\n  \"http2\": %s,\n  \"mode\": \"%s\",\n", g.url_s,
	       g.http2 ? "true" : "false",
	       g.idle                ? "idle"
	       : g.connect_rate      ? "connect-rate"
	       : g.mode == MODE_ECHO ? "echo"
	                             : "stream");
	printf("  \"connections\": %ld,\n  \"streams_per_connection\": %ld,\n  \"threads\": %d,\n",
	       g.conns, g.streams, g.threads);
	printf("  \"size\": %zu,\n  \"text\": %s,\n  \"deflate\": %s,\n  \"inflight\": %ld,\n"
	       "  \"rate\": %.0f,\n",
	       g.size, g.text ? "true" : "false", g.deflate ? "true" : "false", g.inflight, g.rate);
	printf("  \"duration_s\": %.3f,\n  \"sessions_opened\": %llu,\n  \"handshakes_per_s\": "
	       "%.1f,\n",
	       dur, (unsigned long long)hs, dur > 0 ? (double)hs / dur : 0.0);
	if (all_open > 0)
		printf("  \"all_open_s\": %.3f,\n", (double)all_open / 1e9);
	else
		printf("  \"all_open_s\": null,\n");
	if (settled > 0)
		printf("  \"settled_s\": %.3f,\n", (double)settled / 1e9);
	else
		printf("  \"settled_s\": null,\n");
	printf("  \"sessions_failed\": %lld,\n", (long long)atomic_load(&g_failed));
	if (atomic_load(&g_chosen_said))
		printf("  \"subprotocol\": \"%s\",\n", g_chosen);
	else
		printf("  \"subprotocol\": null,\n");
	if (g_signal != 0)
		printf("  \"stopped_by\": \"%s\",\n", g_signal == SIGINT ? "SIGINT" : "SIGTERM");
	else
		printf("  \"stopped_by\": \"duration\",\n");
	printf("  \"messages\": %llu,\n  \"messages_per_s\": %.1f,\n  \"bytes_sent\": %llu,\n"
	       "  \"bytes_received\": %llu,\n  \"mb_per_s\": %.3f,\n",
	       (unsigned long long)msgs, dur > 0 ? (double)msgs / dur : 0.0, (unsigned long long)tx,
	       (unsigned long long)rx, dur > 0 ? (double)rx / dur / 1e6 : 0.0);
	printf("  \"rtt_us\": {\"count\": %llu, \"mean\": %.1f, \"p50\": %llu, \"p90\": %llu, "
	       "\"p99\": %llu, \"p99_9\": %llu, \"max\": %llu},\n",
	       (unsigned long long)h.count, h.count ? (double)h.sum / (double)h.count : 0.0,
	       (unsigned long long)wsc_hist_quantile(&h, 0.5),
	       (unsigned long long)wsc_hist_quantile(&h, 0.9),
	       (unsigned long long)wsc_hist_quantile(&h, 0.99),
	       (unsigned long long)wsc_hist_quantile(&h, 0.999), (unsigned long long)h.max);
	printf("  \"late\": %llu,\n", (unsigned long long)late);
	printf("  \"errors\": {\"total\": %llu, \"connect\": %llu, \"handshake\": %llu, "
	       "\"closed\": %llu, \"data\": %llu, \"send\": %llu}\n}\n",
	       (unsigned long long)(ec + eh + el + ed + es), (unsigned long long)ec,
	       (unsigned long long)eh, (unsigned long long)el, (unsigned long long)ed,
	       (unsigned long long)es);
	fflush(stdout);
}

static uint64_t total_errors(struct worker *ws, int n)
{
	uint64_t e = 0;

	for (int i = 0; i < n; i++)
		e += ws[i].err_connect + ws[i].err_handshake + ws[i].err_close + ws[i].err_data +
		     ws[i].err_send;
	return e;
}

static void quiet_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_ERR)
		fprintf(stderr, "libevent: %s\n", msg);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"connections", required_argument, NULL, 'c'},
	    {"streams", required_argument, NULL, 'm'},
	    {"http2", no_argument, NULL, '2'},
	    {"size", required_argument, NULL, 's'},
	    {"inflight", required_argument, NULL, 'i'},
	    {"rate", required_argument, NULL, 'r'},
	    {"duration", required_argument, NULL, 'd'},
	    {"text", no_argument, NULL, 'T'},
	    {"binary", no_argument, NULL, 'B'},
	    {"deflate", no_argument, NULL, 'z'},
	    {"mode", required_argument, NULL, 'M'},
	    {"idle", no_argument, NULL, 'I'},
	    {"connect-rate", no_argument, NULL, 'C'},
	    {"subprotocol", required_argument, NULL, 'P'},
	    {"bind", required_argument, NULL, 'b'},
	    {"threads", required_argument, NULL, 't'},
	    {"concurrency", required_argument, NULL, 'n'},
	    {"insecure", no_argument, NULL, 'k'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct worker *ws;
	struct progress prog = {0};
	int opt;
	long v;
	char *end;

	g.conns = 1;
	g.streams = 1;
	g.size = 64;
	g.inflight = 1;
	g.duration = 10;
	g.threads = 1;
	g.concurrency = 256;
	while ((opt = getopt_long(argc, argv, "c:m:s:d:qh", lo, NULL)) != -1) {
		bool ok = true;

		switch (opt) {
		case 'c':
			ok = wsc_cli_long(optarg, 1, &g.conns);
			break;
		case 'm':
			ok = wsc_cli_long(optarg, 1, &g.streams);
			break;
		case '2':
			g.http2 = true;
			break;
		case 's':
			ok = wsc_cli_size(optarg, &g.size);
			break;
		case 'i':
			ok = wsc_cli_long(optarg, 1, &g.inflight) && g.inflight <= 65536;
			break;
		case 'r':
			g.rate = strtod(optarg, &end);
			ok = *end == '\0' && g.rate > 0;
			break;
		case 'd':
			g.duration = strtod(optarg, &end);
			ok = *end == '\0' && g.duration > 0;
			break;
		case 'T':
			g.text = true;
			break;
		case 'B':
			g.text = false;
			break;
		case 'z':
			g.deflate = true;
			break;
		case 'M':
			ok = strcmp(optarg, "echo") == 0 || strcmp(optarg, "stream") == 0;
			g.mode = strcmp(optarg, "stream") == 0 ? MODE_STREAM : MODE_ECHO;
			break;
		case 'I':
			g.idle = true;
			break;
		case 'C':
			g.connect_rate = true;
			break;
		case 'P':
			if (g.n_protos == MAX_SUBPROTOCOLS) {
				fprintf(stderr, "wsgate-bench: at most %d --subprotocol options\n",
				        MAX_SUBPROTOCOLS);
				return 2;
			}
			ok = wsc_cli_token(optarg, sizeof(g_chosen));
			g.protos[g.n_protos++] = optarg;
			break;
		case 'b':
			for (char *tok = strtok(optarg, ","); tok != NULL && ok;
			     tok = strtok(NULL, ","))
				ok =
				    wsc_cli_addrs(tok, g.binds, g.bind_lens, MAX_BINDS, &g.n_binds);
			break;
		case 't':
			ok = wsc_cli_long(optarg, 1, &v) && v <= 256;
			g.threads = (int)v;
			break;
		case 'n':
			ok = wsc_cli_long(optarg, 1, &g.concurrency);
			break;
		case 'k':
			g.insecure = true;
			break;
		case 'q':
			g.quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
		if (!ok) {
			fprintf(stderr, "wsgate-bench: bad value '%s'\n", optarg ? optarg : "");
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	g.url_s = argv[optind];
	if (wsc_url_parse(g.url_s, &g.url) != WS_OK || strpbrk(g.url_s, "\"\\") != NULL) {
		fprintf(stderr, "wsgate-bench: bad URL '%s'\n", g.url_s);
		return 2;
	}
	if (g.streams > 1 && !g.http2) {
		fprintf(stderr, "wsgate-bench: --streams above 1 needs --http2\n");
		return 2;
	}
	if (g.idle + g.connect_rate + (g.rate > 0) > 1) {
		fprintf(stderr,
		        "wsgate-bench: --idle, --connect-rate and --rate exclude each other\n");
		return 2;
	}
	if (g.size == 0 && g.mode == MODE_STREAM) {
		fprintf(stderr, "wsgate-bench: --mode stream needs --size above 0\n");
		return 2;
	}
	if (g.threads > g.conns)
		g.threads = (int)g.conns;
	if (!resolve_url())
		return 1;
	raise_nofile();
	/* Per-message buffers come and go at a high rate: keep freed memory
	 * instead of returning it to the kernel each time (brk and page
	 * faults otherwise dominate a 64 KiB run). */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	signal(SIGPIPE, SIG_IGN);
	{
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_signal;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	event_set_log_callback(quiet_log);
	/* Pattern: PATTERN_PERIOD printable characters repeated, long enough
	 * for a message at any offset and for PATTERN_SPAN checks. */
	{
		size_t len = (g.size > PATTERN_SPAN ? g.size : PATTERN_SPAN) + PATTERN_PERIOD;
		static const char alpha[] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

		g_pattern = malloc(len);
		if (g_pattern == NULL)
			return 1;
		for (size_t i = 0; i < len; i++)
			g_pattern[i] = (uint8_t)alpha[i % PATTERN_PERIOD];
	}
	ws = calloc((size_t)g.threads, sizeof(*ws));
	if (ws == NULL)
		return 1;
	for (int i = 0; i < g.threads; i++) {
		long first = g.conns * i / g.threads, next = g.conns * (i + 1) / g.threads;

		ws[i].idx = i;
		ws[i].cfg = &g;
		ws[i].rate = g.rate / g.threads;
		if (worker_setup(&ws[i], first, next - first) != 0) {
			fprintf(stderr, "wsgate-bench: setup failed (memory or TLS)\n");
			return 1;
		}
	}
	prog.ws = ws;
	prog.n = g.threads;
	g_t0 = prog.t = now_ns();
	if (g.threads == 1) {
		ws[0].progress_ev = evtimer_new(ws[0].base, progress_cb, &prog);
		if (ws[0].progress_ev != NULL)
			arm(ws[0].progress_ev, 1.0);
		worker_run(&ws[0]);
	} else {
		int done = 0;

		for (int i = 0; i < g.threads; i++)
			pthread_create(&ws[i].thread, NULL, worker_run, &ws[i]);
		/* Progress from here while the loops run; a worker's t_stop
		 * is only read after the joins. */
		while (done == 0) {
			struct timespec ts = {1, 0};
			bool all_stopping = true;

			nanosleep(&ts, NULL);
			progress_line(&prog);
			for (int i = 0; i < g.threads; i++)
				if (atomic_load(&ws[i].live_c.open) > 0)
					all_stopping = false;
			if (all_stopping &&
			    (g_signal != 0 || (double)(now_ns() - g_t0) / 1e9 > g.duration))
				done = 1;
		}
		for (int i = 0; i < g.threads; i++)
			pthread_join(ws[i].thread, NULL);
	}
	summary(ws, g.threads);
	v = total_errors(ws, g.threads) > 0 ? 1 : 0;
	for (int i = 0; i < g.threads; i++)
		worker_free(&ws[i]);
	free(ws);
	free(g_pattern);
	return (int)v;
}
