/* gw_bridge: relays a WebSocket session to and from a backend stream.
 *
 * Lifetime.  The bridge is entered from two sides: handler callbacks
 * (from the session) and socket/timer callbacks (from the loop).
 * Any call the bridge makes into the session may end it and run
 * on_close inside that call, and on_close is where the bridge would
 * free itself.  So every entry point counts itself in `depth`, on_close
 * only marks the bridge CLOSED, and the teardown (backend close, done
 * callback, free) runs when the outermost entry point leaves.  Code
 * after a call into the session therefore re-checks the state and never
 * touches the bridge after leave().
 */
#include "gw_bridge.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "ws_close.h"
#include "ws_error.h"

/* Buffer limit when the route gives none (matches the config default). */
#define DEFAULT_LIMIT (256 * 1024)
/* Smallest limit honoured, so that half of it is still a useful batch. */
#define MIN_LIMIT 4096
/* A first evbuffer segment at least this long is sent as it is rather
 * than pulled up (copied) into a full GW_BRIDGE_CHUNK. */
#define MIN_DIRECT_SEND (16 * 1024)
/* Room for any gw_backend_address text. */
#define ADDR_MAX 160

enum bridge_state {
	BRIDGE_NEW,         /* created; the session has not opened yet */
	BRIDGE_OPEN,        /* relaying both ways */
	BRIDGE_PEER_CLOSED, /* client sent close: backend half-closed, lingering for its EOF */
	BRIDGE_CLOSING,     /* the close is out (ours or the echo); waiting for on_close */
	BRIDGE_CLOSED,      /* on_close ran; torn down when the outermost entry leaves */
};

struct gw_bridge {
	enum bridge_state state;      /* see the enum */
	struct gw_backend *backend;   /* owned: the backend connection */
	struct gw_sock *sock;         /* the backend's socket (owned by backend) */
	const struct gw_route *route; /* limits and timeouts */
	struct ws_session *s;         /* the session, set by gw_bridge_attach */
	gw_app_done_cb done;          /* told once, at the very end */
	void *done_arg;               /* its argument */
	size_t limit;                 /* bytes buffered per direction (route buffer_size) */
	unsigned depth;               /* entry points currently on the stack */
	bool backend_eof;             /* the backend closed its sending side */
	bool backend_failed;          /* the backend connection broke */
	bool client_paused;           /* we paused the session: backend output full */
	bool shut_wr_pending;         /* half-close once the backend output drains */
	bool shut_wr_done;            /* shutdown(SHUT_WR) issued */
	bool linger_expired;          /* stop waiting for the backend (EOF or drain) */
	bool abort_backend;           /* reset the backend instead of closing it */
	uint16_t echo_code;           /* code to echo after a client close (0: none) */
	struct event *linger_ev;      /* bounds the wait for the backend, or NULL */
	uint64_t to_backend;          /* payload bytes written to the backend */
	uint64_t from_backend;        /* bytes read from the backend and sent */
	char addr[ADDR_MAX];          /* backend address for logs */
};

static void enter(struct gw_bridge *br)
{
	br->depth++;
}

/* Close the backend, tell the owner, free the bridge.  done runs last
 * as far as the session and the owner are concerned; the bridge's own
 * memory stays valid during it so the owner can read the counters. */
static void finish(struct gw_bridge *br)
{
	if (br->linger_ev != NULL)
		event_free(br->linger_ev);
	br->linger_ev = NULL;
	/* A reset; gw_backend_free then has nothing left to close. */
	if (br->abort_backend && br->sock != NULL)
		gw_sock_close(br->sock, true);
	gw_backend_free(br->backend);
	br->backend = NULL;
	br->sock = NULL;
	if (br->done != NULL)
		br->done(br->done_arg, br->s);
	free(br);
}

/* Leave an entry point.  br must not be used after this. */
static void leave(struct gw_bridge *br)
{
	if (--br->depth == 0 && br->state == BRIDGE_CLOSED)
		finish(br);
}

static bool relaying(const struct gw_bridge *br)
{
	return br->state == BRIDGE_OPEN || br->state == BRIDGE_PEER_CLOSED;
}

/* Send what the backend sent us as binary messages of at most
 * GW_BRIDGE_CHUNK bytes.  Stops when the session is not writable
 * (unless force: the backend has ended and its last bytes go out past
 * the high-water mark, bounded by the read watermark), when the
 * session's hard queue limit is hit, or when it stops relaying. */
static void relay_to_client(struct gw_bridge *br, bool force)
{
	struct evbuffer *in = br->sock->in;
	size_t have;

	while ((have = evbuffer_get_length(in)) > 0 && relaying(br)) {
		if (!force && !ws_session_writable(br->s))
			return;
		size_t n = have < GW_BRIDGE_CHUNK ? have : GW_BRIDGE_CHUNK;
		struct evbuffer_iovec first;
		const uint8_t *p;
		if (evbuffer_peek(in, -1, NULL, &first, 1) >= 1 &&
		    (first.iov_len >= n || first.iov_len >= MIN_DIRECT_SEND)) {
			if (first.iov_len < n)
				n = first.iov_len;
			p = first.iov_base;
		} else {
			p = evbuffer_pullup(in, (ev_ssize_t)n);
		}
		if (p == NULL) {
			ws_session_abort(br->s);
			return;
		}
		int rc = ws_session_send(br->s, WS_OP_BINARY, p, n);
		if (rc != WS_OK)
			return; /* QUEUE_FULL waits for on_drain; the rest end the session */
		evbuffer_drain(in, n);
		br->from_backend += n;
	}
}

/* Read the backend only while its bytes have somewhere to go.  Cheap
 * to call often: no system call, and a read is scheduled only when the
 * socket may hold input and the input buffer has room again. */
static void update_backend_read(struct gw_bridge *br)
{
	bool want =
	    relaying(br) && !br->backend_eof && !br->backend_failed && ws_session_writable(br->s);

	gw_sock_read(br->sock, want);
}

static void linger_cb(evutil_socket_t fd, short what, void *arg);

/* How long to wait for the backend (its EOF after a client close, its
 * input draining after its EOF): well inside the session's own close
 * timeout, so that the close stays clean. */
static uint64_t linger_ms(const struct gw_bridge *br)
{
	uint64_t ms = GW_BRIDGE_LINGER_MS;

	if (br->route->close_timeout_ms > 0 && br->route->close_timeout_ms / 2 < ms)
		ms = br->route->close_timeout_ms / 2;
	return ms;
}

/* Arm the linger timer unless it is already running.  Returns false
 * when out of memory. */
static bool arm_linger(struct gw_bridge *br, uint64_t ms)
{
	if (br->linger_ev == NULL)
		br->linger_ev = evtimer_new(event_get_base(br->sock->ev), linger_cb, br);
	if (br->linger_ev == NULL)
		return false;
	if (evtimer_pending(br->linger_ev, NULL))
		return true;
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
	                     .tv_usec = (suseconds_t)(ms % 1000) * 1000};
	return evtimer_add(br->linger_ev, &tv) == 0;
}

/* Once the backend is done (EOF, error) or the linger after a client
 * close ran out, deliver what is left and close the session. */
static void maybe_close(struct gw_bridge *br)
{
	if (!relaying(br))
		return;
	if (!br->backend_eof && !br->backend_failed && !br->linger_expired)
		return;
	relay_to_client(br, true);
	if (!relaying(br) || evbuffer_get_length(br->sock->in) > 0)
		return; /* ended meanwhile, or queue full: on_drain comes back here */
	/* A backend that only closed its sending side still gets the
	 * client's bytes queued for it (the write callback comes back here
	 * when they are out), within the linger. */
	if (br->backend_eof && !br->backend_failed && !br->linger_expired &&
	    evbuffer_get_length(br->sock->out) > 0 && arm_linger(br, linger_ms(br)))
		return;

	unsigned code = WS_CLOSE_NORMAL;
	const char *reason = "";
	if (br->state == BRIDGE_PEER_CLOSED) {
		code = br->echo_code;
	} else if (br->backend_failed) {
		code = WS_CLOSE_BAD_GATEWAY;
		reason = "backend failed";
	}
	br->state = BRIDGE_CLOSING;
	update_backend_read(br);
	ws_session_close(br->s, code, reason, strlen(reason));
	/* A client paused behind a full backend must be read again, or its
	 * close reply would never be seen; what it still sends before that
	 * is dropped (on_message ignores it once closing).  The close goes
	 * first so that it is ours, not an echo of the client's. */
	if (br->client_paused && br->state == BRIDGE_CLOSING) {
		br->client_paused = false;
		ws_session_resume(br->s);
	}
}

static void half_close_now(struct gw_bridge *br)
{
	br->shut_wr_pending = false;
	br->shut_wr_done = true;
	gw_sock_shutdown_write(br->sock);
}

static void backend_read_cb(struct gw_sock *sock, void *arg)
{
	struct gw_bridge *br = arg;

	enter(br);
	relay_to_client(br, false);
	if (relaying(br))
		update_backend_read(br);
	leave(br);
}

/* Output fell to the low watermark: half of the limit while open, zero
 * while a half-close waits. */
static void backend_write_cb(struct gw_sock *sock, void *arg)
{
	struct gw_bridge *br = arg;
	size_t out = evbuffer_get_length(sock->out);

	enter(br);
	if (br->shut_wr_pending && out == 0)
		half_close_now(br);
	if (br->client_paused && out <= br->limit / 2) {
		br->client_paused = false;
		if (br->state == BRIDGE_OPEN)
			ws_session_resume(br->s);
	}
	if (br->backend_eof && out == 0)
		maybe_close(br);
	leave(br);
}

static void backend_event_cb(struct gw_sock *sock, enum gw_sock_event what, void *arg)
{
	struct gw_bridge *br = arg;

	enter(br);
	if (what == GW_SOCK_ERROR)
		br->backend_failed = true;
	else if (what == GW_SOCK_EOF)
		br->backend_eof = true;
	if (br->backend_failed) {
		/* Nothing more can be written (gw_sock dropped the output);
		 * what was read is still sent. */
		br->shut_wr_pending = false;
	}
	if (relaying(br)) {
		update_backend_read(br);
		maybe_close(br);
	}
	leave(br);
}

static void linger_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_bridge *br = arg;

	enter(br);
	br->linger_expired = true;
	maybe_close(br);
	leave(br);
}

static void bridge_on_open(struct ws_session *s, void *ud)
{
	struct gw_bridge *br = ud;

	enter(br);
	br->s = s;
	br->state = BRIDGE_OPEN;
	struct gw_sock_cbs cb = {backend_read_cb, backend_write_cb, backend_event_cb, br};
	gw_sock_setcb(br->sock, &cb);
	/* Reading pauses by itself once limit bytes wait unsent, and the
	 * write callback fires when the output halves. */
	br->sock->in_max = br->limit;
	br->sock->out_low = br->limit / 2;
	update_backend_read(br);
	leave(br);
}

static int bridge_on_message(struct ws_session *s, void *ud, enum ws_opcode opcode,
                             const uint8_t *data, size_t len, bool first, bool final)
{
	struct gw_bridge *br = ud;
	int rc = WS_OK;

	if (br->state != BRIDGE_OPEN || br->backend_failed || br->shut_wr_done ||
	    br->shut_wr_pending || len == 0)
		return WS_OK; /* nowhere to go: dropped */
	enter(br);
	/* Large payloads go from the client's read buffer (unmasked in
	 * place) straight to the backend socket when nothing is queued. */
	if (gw_sock_write(br->sock, data, len) != 0) {
		rc = WS_ERR_NOMEM;
	} else {
		br->to_backend += len;
		size_t out = evbuffer_get_length(br->sock->out);
		if (out > br->limit && !br->client_paused) {
			br->client_paused = true;
			ws_session_pause(s);
		}
	}
	leave(br);
	return rc;
}

static int bridge_on_peer_close(struct ws_session *s, void *ud, uint16_t code,
                                const uint8_t *reason, size_t reason_len)
{
	struct gw_bridge *br = ud;
	bool ended, out_pending, in_pending;
	int rc = WS_ERR_AGAIN;

	if (br->state != BRIDGE_OPEN)
		return WS_OK; /* the reply to our own close */
	enter(br);
	ended = br->backend_eof || br->backend_failed;
	in_pending = evbuffer_get_length(br->sock->in) > 0;
	out_pending = !br->backend_failed && evbuffer_get_length(br->sock->out) > 0;
	if (ended && !in_pending && !out_pending) {
		/* Nothing left to relay: let the session echo right away. */
		br->state = BRIDGE_CLOSING;
		update_backend_read(br);
		rc = WS_OK;
		goto out;
	}
	br->state = BRIDGE_PEER_CLOSED;
	/* Echo the peer's code; a close without one is echoed without one
	 * (code 0 builds an empty payload), as the session itself does. */
	br->echo_code = ws_close_code_valid_on_wire(code) ? code : 0;
	if (!ended) {
		if (evbuffer_get_length(br->sock->out) == 0) {
			half_close_now(br);
		} else {
			br->shut_wr_pending = true;
			br->sock->out_low = 0;
		}
	}
	/* Linger for the backend's EOF (or, when it has ended, for its
	 * input to drain); with only our own flush left, go straight to it
	 * from the loop rather than from inside this callback. */
	if (!arm_linger(br, ended && !out_pending ? 0 : linger_ms(br))) {
		br->state = BRIDGE_CLOSING;
		rc = WS_OK;
	}
out:
	leave(br);
	return rc;
}

static void bridge_on_drain(struct ws_session *s, void *ud)
{
	struct gw_bridge *br = ud;

	if (!relaying(br))
		return;
	enter(br);
	relay_to_client(br, false);
	maybe_close(br);
	if (relaying(br))
		update_backend_read(br);
	leave(br);
}

static void bridge_on_close(struct ws_session *s, void *ud, uint16_t code, const uint8_t *reason,
                            size_t reason_len)
{
	struct gw_bridge *br = ud;

	enter(br);
	/* An abnormal end of the session resets a backend that is still
	 * live, so it sees the abort rather than an orderly EOF. */
	br->abort_backend = code == WS_CLOSE_ABNORMAL && !br->backend_eof && !br->backend_failed;
	br->state = BRIDGE_CLOSED;
	if (br->sock != NULL) {
		static const struct gw_sock_cbs none;
		gw_sock_read(br->sock, false);
		gw_sock_setcb(br->sock, &none);
	}
	if (br->linger_ev != NULL)
		event_del(br->linger_ev);
	leave(br);
}

const struct ws_handler gw_bridge_handler = {
    .on_open = bridge_on_open,
    .on_message = bridge_on_message,
    .on_peer_close = bridge_on_peer_close,
    .on_drain = bridge_on_drain,
    .on_close = bridge_on_close,
};

struct gw_bridge *gw_bridge_new(struct gw_backend *b, const struct gw_route *r, gw_app_done_cb done,
                                void *arg)
{
	struct gw_bridge *br;
	struct gw_sock *sock = gw_backend_sock(b);

	if (sock == NULL) {
		gw_backend_free(b);
		return NULL;
	}
	br = calloc(1, sizeof(*br));
	if (br == NULL) {
		gw_backend_free(b);
		return NULL;
	}
	br->state = BRIDGE_NEW;
	br->backend = b;
	br->sock = sock;
	br->route = r;
	br->done = done;
	br->done_arg = arg;
	br->limit = r->buffer_size > 0 ? (size_t)r->buffer_size : DEFAULT_LIMIT;
	if (br->limit < MIN_LIMIT)
		br->limit = MIN_LIMIT;
	snprintf(br->addr, sizeof(br->addr), "%s", gw_backend_address(b));
	return br;
}

void gw_bridge_attach(struct gw_bridge *br, struct ws_session *s)
{
	br->s = s;
}

void gw_bridge_free(struct gw_bridge *br)
{
	if (br == NULL)
		return;
	if (br->linger_ev != NULL)
		event_free(br->linger_ev);
	gw_backend_free(br->backend);
	free(br);
}

uint64_t gw_bridge_bytes_to_backend(const struct gw_bridge *br)
{
	return br->to_backend;
}

uint64_t gw_bridge_bytes_from_backend(const struct gw_bridge *br)
{
	return br->from_backend;
}

const char *gw_bridge_backend_address(const struct gw_bridge *br)
{
	return br->addr;
}
