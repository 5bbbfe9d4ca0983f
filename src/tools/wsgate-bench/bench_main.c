/* wsgate-bench's options, progress line, JSON summary and main (see
 * bench.h for the whole program). */
#include <getopt.h>
#include <malloc.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "bench.h"
#include "wsc_cli.h"

/* ---- progress ------------------------------------------------------------ */

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
	uint64_t t = bench_now_ns(), msgs = 0, bytes = 0, hs = 0, errs = 0;
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
		        (double)(t - g_t0) / 1e9, (long long)open, bench_total_sessions(),
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
		bench_arm(p->ws[0].progress_ev, 1.0);
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
		sa.sa_handler = bench_on_signal;
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
		if (bench_worker_setup(&ws[i], first, next - first) != 0) {
			fprintf(stderr, "wsgate-bench: setup failed (memory or TLS)\n");
			return 1;
		}
	}
	prog.ws = ws;
	prog.n = g.threads;
	g_t0 = prog.t = bench_now_ns();
	if (g.threads == 1) {
		ws[0].progress_ev = evtimer_new(ws[0].base, progress_cb, &prog);
		if (ws[0].progress_ev != NULL)
			bench_arm(ws[0].progress_ev, 1.0);
		bench_worker_run(&ws[0]);
	} else {
		int done = 0;

		for (int i = 0; i < g.threads; i++)
			pthread_create(&ws[i].thread, NULL, bench_worker_run, &ws[i]);
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
			    (g_signal != 0 || (double)(bench_now_ns() - g_t0) / 1e9 > g.duration))
				done = 1;
		}
		for (int i = 0; i < g.threads; i++)
			pthread_join(ws[i].thread, NULL);
	}
	summary(ws, g.threads);
	v = total_errors(ws, g.threads) > 0 ? 1 : 0;
	for (int i = 0; i < g.threads; i++)
		bench_worker_free(&ws[i]);
	free(ws);
	free(g_pattern);
	return (int)v;
}
