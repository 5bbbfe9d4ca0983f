/* gw_server: listeners, worker threads, signals, reload and shutdown.
 *
 * The main thread owns the configuration, the listening sockets and the
 * signal events; each worker thread runs its own event_base (and evdns
 * base) and accepts on its own SO_REUSEPORT socket of every inet
 * listener (a unix listener's one socket is shared by all workers).
 * The main thread talks to a worker only through commands posted to the
 * worker's command event (gw_worker.cmds), so worker state is touched by
 * its own thread alone.
 *
 * Configuration is reference counted (struct gw_cfgref): a connection
 * takes a reference when it is accepted, so routes it points to stay
 * valid across any number of reloads until it ends.
 *
 * Signals: SIGHUP reloads (a bad config is refused and the old one
 * kept), SIGTERM/SIGINT drain and exit (see gw_server_run), and
 * readiness, reloads and shutdown are reported to systemd through the
 * NOTIFY_SOCKET datagram protocol when it is set.
 */
#ifndef GW_SERVER_H
#define GW_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "gw_config.h"

/* Most worker threads, whatever "workers =" says. */
#define GW_SERVER_MAX_WORKERS 256
/* Backlog of every listening socket. */
#define GW_SERVER_BACKLOG 511
/* Connections past max_connections kept just long enough to be told 503;
 * beyond this many at once the socket is closed without an answer. */
#define GW_SERVER_REJECT_MAX 1024
/* Pause of a worker's listeners after accept failed for lack of file
 * descriptors or memory (the socket stays readable: no busy loop). */
#define GW_SERVER_ACCEPT_PAUSE_MS 100

/* A loaded config, shared by reference. */
struct gw_cfgref {
	struct gw_config *cfg; /* the config (owned) */
	char *static_root;     /* realpath of cfg->static_root, or NULL */
	atomic_int refs;       /* holders: the server, workers, connections */
};

/* Take and drop a reference; the last put frees the config. */
void gw_cfgref_get(struct gw_cfgref *r);
void gw_cfgref_put(struct gw_cfgref *r);

/* One configured listener: its sockets and its TLS context. */
struct gw_lsock {
	char *name;                   /* section name, for logs */
	char *address;                /* as configured, for logs */
	enum gw_addr_kind kind;       /* inet or unix */
	struct sockaddr_storage addr; /* inet: bound address (port filled in) */
	socklen_t addr_len;           /* its length */
	char *unix_path;              /* unix: the socket path (unlinked at exit) */
	bool http2;                   /* offer HTTP/2 here */
	SSL_CTX *tls;                 /* TLS context, NULL for cleartext */
	int *fds;                     /* listening socket per worker (-1 = closed) */
};

/* The listeners of one config generation. */
struct gw_lset {
	struct gw_lsock *ls; /* listeners */
	size_t n;            /* how many */
};

/* Command bits posted to a worker. */
#define GW_CMD_SWITCH   1u /* adopt the server's current config and listener set */
#define GW_CMD_SHUTDOWN 2u /* stop accepting and drain */

struct gw_conn;
struct gw_server;

/* One event-loop thread. */
struct gw_worker {
	struct gw_server *srv;       /* the server */
	int index;                   /* 0..n_workers-1: which fd of each lsock */
	pthread_t thread;            /* the thread */
	struct event_base *base;     /* its loop */
	struct evdns_base *dns;      /* its resolver (NULL if none could be set up) */
	struct event *cmd_ev;        /* activated by the main thread */
	pthread_mutex_t cmd_lock;    /* guards cmds */
	unsigned cmds;               /* pending GW_CMD_* bits */
	struct gw_cfgref *cfg;       /* config new connections get (ref held) */
	struct evconnlistener **lev; /* one per lsock of lset (NULL when closed) */
	size_t n_lev;                /* entries in lev */
	struct gw_lset *lset;        /* listener set lev was made from */
	struct gw_conn *conns;       /* live connections (list owned by gw_conn) */
	size_t n_conns;              /* how many */
	bool draining;               /* shutdown started: exit when n_conns is 0 */
	struct event *drain_ev;      /* next drain stage timer */
	int drain_stage;             /* 0 none, 1 idle closed, 2 going away sent, 3 aborted */
	struct event *resume_ev;     /* re-enables listeners paused by EMFILE */
};

struct gw_server {
	char *config_path;         /* file reloaded on SIGHUP */
	struct event_base *base;   /* main thread loop: signals only */
	struct event *sig[4];      /* SIGTERM, SIGINT, SIGHUP, SIGUSR1 (unused slot) */
	struct gw_cfgref *cfg;     /* current config */
	struct gw_lset *lset;      /* current listeners */
	struct gw_worker *workers; /* worker threads */
	int n_workers;             /* how many */
	atomic_ulong n_conns;      /* accepted connections within the limit */
	atomic_ulong n_rejecting;  /* over-limit connections being told 503 */
	pthread_mutex_t ack_lock;  /* guards acks */
	pthread_cond_t ack_cond;   /* signalled as workers ack a command */
	int acks;                  /* workers done with the last GW_CMD_SWITCH */
	bool stopping;             /* SIGTERM seen */
};

/* Run the daemon with an already loaded config (ownership passes):
 * bind every listener, drop privileges, start the workers, print
 * "wsgate: ready" and notify systemd, then serve until SIGTERM/SIGINT.
 * Shutdown: listeners close at once, connections still reading a
 * request head are closed, sessions get shutdown_timeout to end by
 * themselves, then are closed with 1001 and given their close timeout;
 * whatever is left then is aborted.  Returns the exit status: 0 after a
 * clean shutdown, 1 when startup failed (the reason is logged). */
int gw_server_run(const char *config_path, struct gw_config *cfg);

/* Send one NOTIFY_SOCKET message ("READY=1", "STATUS=..."); nothing when
 * the variable is unset.  Returns 0 or -1. */
int gw_server_notify(const char *msg);

/* Called by gw_conn when a connection is freed: keeps the counts and
 * ends a draining worker's loop when it was the last. */
void gw_server_conn_released(struct gw_worker *w, bool rejected);

#endif
