/* wsgate-bench's run: workers, their connections and streams, sending,
 * checking what comes back, and the timers that end the run (see
 * bench.h for the whole program). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

struct cfg g;
uint8_t *g_pattern;
static _Atomic int64_t g_open;
_Atomic int64_t g_failed;
static _Atomic int g_all_open_said;
static _Atomic int g_error_prints;
_Atomic uint64_t g_all_open_ns;
_Atomic uint64_t g_settled_ns;
_Atomic int g_chosen_said;
char g_chosen[128];
uint64_t g_t0;
/* The signal that asked for the stop (0: none); set by the handler. */
volatile sig_atomic_t g_signal;

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_arm(struct event *ev, double seconds)
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

long bench_total_sessions(void)
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
		bench_arm(w->stop_ev, g.duration);
	}
	/* failed first: a session moves from open to failed in that order,
	 * so it cannot be counted twice. */
	failed = atomic_load(&g_failed);
	open = atomic_load(&g_open);
	if (open + failed < bench_total_sessions() || atomic_exchange(&g_all_open_said, 1) != 0)
		return;
	atomic_store(&g_settled_ns, bench_now_ns() - g_t0);
	t = (double)atomic_load(&g_settled_ns) / 1e9;
	if (failed == 0) {
		atomic_store(&g_all_open_ns, atomic_load(&g_settled_ns));
		fprintf(stderr, "wsgate-bench: all %ld sessions open after %.3f s\n",
		        bench_total_sessions(), t);
	} else {
		fprintf(stderr,
		        "wsgate-bench: %lld sessions open after %.3f s, %lld failed "
		        "(all %ld settled)\n",
		        (long long)open, t, (long long)failed, bench_total_sessions());
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
	s->times[slot] = bench_now_ns();
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
	if (g.connect_rate && n == bench_total_sessions() &&
	    atomic_exchange(&g_all_open_said, 1) == 0) {
		atomic_store(&g_all_open_ns, bench_now_ns() - g_t0);
		fprintf(stderr, "wsgate-bench: all %ld sessions open after %.3f s\n",
		        bench_total_sessions(), (double)(bench_now_ns() - g_t0) / 1e9);
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
			t = bench_now_ns();
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
		bench_arm(w->hard_ev, ABORT_WAIT_MS / 1000.0);
}

void bench_on_signal(int sig)
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
	w->t_stop = bench_now_ns();
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
	bench_arm(w->hard_ev, STOP_GRACE_MS / 1000.0);
}

/* Open loop: send what is due since the start, spread round-robin. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	double el = (double)(bench_now_ns() - w->t_start) / 1e9;
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
	bench_arm(w->tick_ev, TICK_MS / 1000.0);
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

int bench_worker_setup(struct worker *w, long first, long n)
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

void bench_worker_free(struct worker *w)
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

void *bench_worker_run(void *arg)
{
	struct worker *w = arg;

	w->running = true;
	w->t_start = bench_now_ns();
	if (!g.idle)
		bench_arm(w->stop_ev, g.duration);
	else
		bench_arm(w->stop_ev, g.duration + 300); /* safety: sessions settle long before */
	bench_arm(w->sig_ev, SIGNAL_POLL_MS / 1000.0);
	if (w->tick_ev != NULL)
		bench_arm(w->tick_ev, TICK_MS / 1000.0);
	start_more(w);
	if (w->n_conns == 0)
		stop_cb(-1, 0, w);
	event_base_dispatch(w->base);
	if (w->t_stop == 0)
		w->t_stop = bench_now_ns();
	return NULL;
}
