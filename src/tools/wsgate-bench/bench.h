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
 *
 * bench_run.c runs the sessions (one worker per thread); bench_main.c
 * reads the options, prints progress and the summary.  The settings and
 * the run-wide counters are process globals: one run per process.
 */
#ifndef WSGATE_BENCH_H
#define WSGATE_BENCH_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "ws.h"
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

extern struct cfg g;
extern uint8_t *g_pattern;
extern _Atomic int64_t g_failed;
extern _Atomic uint64_t g_all_open_ns;
extern _Atomic uint64_t g_settled_ns;
extern _Atomic int g_chosen_said;
extern char g_chosen[128];
extern uint64_t g_t0;
/* The signal that asked for the stop (0: none); set by the handler. */
extern volatile sig_atomic_t g_signal;

/* CLOCK_MONOTONIC in ns: what round trips and durations are measured on. */
uint64_t bench_now_ns(void);
/* Add timer ev to fire in seconds. */
void bench_arm(struct event *ev, double seconds);
/* Sessions the run opens: connections x streams. */
long bench_total_sessions(void);
/* SIGINT/SIGTERM handler: the first asks for the stop, a second kills. */
void bench_on_signal(int sig);
/* Worker w owns connections [first, first + n): its loop, context and
 * sessions.  -1 when memory or TLS set-up fails. */
int bench_worker_setup(struct worker *w, long first, long n);
/* Runs w's loop until its run has ended (a pthread start routine). */
void *bench_worker_run(void *arg);
void bench_worker_free(struct worker *w);

#endif
