/* gw_sock: one non-blocking stream socket (TCP or unix, cleartext or
 * TLS) with an input and an output evbuffer, driven by a single
 * persistent edge-triggered libevent event.
 *
 * Why not a bufferevent: libevent 2.1's socket bufferevent arms EV_WRITE
 * when output is queued and disarms it when it drains, and is switched
 * on and off for every backpressure decision, so each batch of messages
 * paid four epoll_ctl calls; it also asks FIONREAD before every read
 * and then reads at most 4 KiB.  Here the socket is registered once
 * (EV_READ | EV_WRITE | EV_ET) and never modified: the kernel's edges
 * only record that the socket may be read or written, and the loop does
 * what the user wants when it can.
 *
 * Reading: while reading is enabled and the input holds less than
 * in_max, up to read_chunk (GW_SOCK_READ_CHUNK unless set) is read per
 * turn straight into the input; a read shorter than asked means the
 * socket is drained.  A turn
 * that filled its chunk continues from the loop (event_active), after
 * the sockets already waiting, so one fast peer cannot starve the rest.
 * on_read runs after each read that added bytes, or once after
 * gw_sock_trigger_read.
 *
 * Writing: gw_sock_write queues and schedules a flush, so the frames a
 * batch of input produces leave in one writev.  Output queued from
 * another socket's callback is flushed as soon as that callback has
 * returned, before the next socket of the loop turn is served: a
 * message read from one socket does not wait for the reads of every
 * other ready socket before it is forwarded.  A socket that gathers
 * output from many others (the HTTP/2 connection, fed by every stream's
 * backend) sets batch_turn and is flushed once at the end of the turn
 * instead.  A flush that could not write everything waits for the next
 * write edge.  on_write runs after a flush that left at most out_low
 * bytes queued.  Large writes to an empty output are tried at once, from
 * the caller's memory, and only what the kernel did not take is copied;
 * such a write still owes an on_write from the loop (the caller may be
 * waiting for it to queue more).
 *
 * Ends: a read of 0 (TLS: close_notify, or a dirty shutdown, which
 * browsers do and framing makes harmless) gives on_event(GW_SOCK_EOF)
 * once; a failure of either direction gives on_event(GW_SOCK_ERROR)
 * once, after on_read for the bytes before it, whether or not reading is
 * enabled then.  After either, nothing is read any more; after an error
 * nothing is written either.  Callbacks only run from the loop, never from
 * inside a gw_sock call.
 *
 * Connecting: gw_sock_init_connecting takes a socket whose non-blocking
 * connect is in flight; the first write edge completes it and
 * on_event(GW_SOCK_CONNECTED) or on_event(GW_SOCK_ERROR) follows
 * (gw_sock_error says why).
 */
#ifndef GW_SOCK_H
#define GW_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/ssl.h>

/* Most bytes read per turn (and per SSL_read). */
#define GW_SOCK_READ_CHUNK (64 * 1024)
/* Writes at least this long to an empty output go to the kernel at once. */
#define GW_SOCK_DIRECT_MIN (16 * 1024)
/* TLS: output is handed to SSL_write in pieces of at most this, so that
 * small frames share records and records are full-sized. */
#define GW_SOCK_TLS_RECORD (16 * 1024)

/* What on_event reports (one value per call). */
enum gw_sock_event {
	GW_SOCK_EOF = 1,       /* the peer closed its sending side (or TLS ended) */
	GW_SOCK_ERROR = 2,     /* reset, write failure, TLS failure, connect failure */
	GW_SOCK_CONNECTED = 3, /* the connect in flight completed */
};

struct gw_sock;
typedef void (*gw_sock_data_cb)(struct gw_sock *s, void *arg);
typedef void (*gw_sock_event_cb)(struct gw_sock *s, enum gw_sock_event what, void *arg);

/* Callbacks and their argument, swappable as one (gw_h2 takes a
 * connection over from gw_transport and gives it back). */
struct gw_sock_cbs {
	gw_sock_data_cb on_read;   /* bytes were added to the input (or a trigger) */
	gw_sock_data_cb on_write;  /* a flush left at most out_low bytes queued */
	gw_sock_event_cb on_event; /* EOF, error or connected */
	void *arg;                 /* passed to all three */
};

struct gw_sock {
	struct event *ev;           /* the one persistent ET event (NULL when closed) */
	evutil_socket_t fd;         /* owned */
	SSL *ssl;                   /* owned TLS state, or NULL for cleartext */
	struct evbuffer *in;        /* bytes read, not yet taken by the user */
	struct evbuffer *out;       /* bytes queued, not yet written */
	struct gw_sock_cbs cb;      /* see struct */
	size_t in_max;              /* no reads while in holds this much (0: no limit) */
	size_t read_chunk;          /* most bytes read per turn (0: GW_SOCK_READ_CHUNK) */
	size_t out_low;             /* on_write threshold */
	int error;                  /* errno of a failure (0 for TLS errors), for logs */
	bool reading;               /* the user wants input */
	bool can_read;              /* an edge said readable and no read found it empty */
	bool can_write;             /* no write was short since the last write edge */
	bool flush_due;             /* output queued and a flush is scheduled */
	bool wrote_direct;          /* a direct write went out since the last flush */
	bool read_trigger;          /* on_read is owed even without new bytes */
	bool connecting;            /* a connect is in flight */
	bool read_ended;            /* EOF or error seen: nothing more is read */
	bool write_ended;           /* error or shut down: nothing more is written */
	bool failed;                /* an error ended the stream (error says why) */
	bool event_told;            /* EOF/error was reported */
	bool tls_read_blocked;      /* SSL_read wants the socket writable */
	bool tls_write_blocked;     /* SSL_write wants the socket readable */
	bool peer_fin;              /* EPOLLRDHUP seen: a read will find the end */
	bool batch_turn;            /* flush once per loop turn (see the header comment) */
	bool on_eager;              /* linked in this thread's list of flushes due now */
	struct gw_sock *eager_prev; /* that list */
	struct gw_sock *eager_next; /* ... */
	size_t tls_pending;         /* TLS: length of the SSL_write to repeat after WANT_* */
	bool *alive;                /* set by a dispatch on its stack; close clears it */
};

/* Take fd (non-blocking; and ssl, already set up as a server or client,
 * or NULL) and start watching it.  Reading starts disabled.  Returns 0,
 * or -1 when out of memory (fd and ssl are closed then). */
int gw_sock_init(struct gw_sock *s, struct event_base *base, evutil_socket_t fd, SSL *ssl);

/* Like gw_sock_init for a socket whose connect() returned EINPROGRESS. */
int gw_sock_init_connecting(struct gw_sock *s, struct event_base *base, evutil_socket_t fd);

/* Close the socket (rst: TCP reset instead of FIN) and free the
 * buffers; no callback follows.  Safe inside a callback of s (the
 * memory of s itself belongs to the caller and must stay valid until
 * that callback returns).  A closed or zeroed sock is a no-op. */
void gw_sock_close(struct gw_sock *s, bool rst);

/* True while the socket is open. */
static inline bool gw_sock_open(const struct gw_sock *s)
{
	return s->ev != NULL;
}

void gw_sock_setcb(struct gw_sock *s, const struct gw_sock_cbs *cb);

/* Enable or disable reading.  Enabling reads at once (from the loop)
 * when the kernel may hold input. */
void gw_sock_read(struct gw_sock *s, bool on);

/* Run on_read from the loop even if nothing new arrives (for input
 * that was left in the buffer while the user paused). */
void gw_sock_trigger_read(struct gw_sock *s);

/* Queue bytes (see the header comment).  Returns 0, or -1 when the
 * socket cannot be written any more or out of memory. */
int gw_sock_write(struct gw_sock *s, const void *data, size_t len);

/* Queue a gather list.  Returns the bytes taken (all, or -1). */
int gw_sock_writev(struct gw_sock *s, const struct iovec *iov, int iovcnt);

/* Schedule a flush of what was added to s->out directly. */
void gw_sock_flush(struct gw_sock *s);

/* Shut the write side once now (TLS close_notify, then FIN); meant for
 * when out is empty. */
void gw_sock_shutdown_write(struct gw_sock *s);

#endif
