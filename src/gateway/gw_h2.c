/* gw_h2: one HTTP/2 connection over nghttp2 (see gw_h2.h).
 *
 * Entry points (socket callbacks, the work event, the idle timer)
 * count themselves in h->depth; when the outermost one leaves, run()
 * works through the queued stream work, flushes nghttp2's output, frees
 * finished streams and, when the connection is over, hands it back to
 * the owner as its very last action.
 */
#include "gw_h2.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "gw_h2_stream.h"
#include "gw_log.h"

/* Most bytes handed to nghttp2 per read callback before the other
 * connections of the worker get a turn. */
#define READ_BUDGET (256 * 1024)
/* Bytes read from the connection per turn.  Clients interleave the
 * DATA frames of their streams, 16 KiB each, so a 64 KiB read holds one
 * frame per stream and each stream's backend got a write per frame; a
 * larger read gives a stream several frames per turn, forwarded in one
 * write.  Just under 256 KiB so that the chunk, with libevent's chain
 * header, is one 256 KiB allocation. */
#define READ_CHUNK (READ_BUDGET - 1024)

static void run(struct gw_h2 *h);

static void enter(struct gw_h2 *h)
{
	h->depth++;
}

/* Leave an entry point; h must not be used afterwards. */
static void leave(struct gw_h2 *h)
{
	if (--h->depth == 0)
		run(h);
}

uint64_t gw_h2_elapsed_ms(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t ms =
	    (int64_t)(now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
	return ms > 0 ? (uint64_t)ms : 0;
}

void gw_h2_kick(struct gw_h2 *h)
{
	if (h->work_ev)
		event_active(h->work_ev, 0, 0);
}

void gw_h2_queue(struct gw_h2 *h, struct gw_h2_stream *st)
{
	if (!st->pending) {
		st->pending = true;
		st->pend_next = NULL;
		if (h->pending_tail)
			h->pending_tail->pend_next = st;
		else
			h->pending = st;
		h->pending_tail = st;
	}
	if (h->depth == 0)
		gw_h2_kick(h);
}

static struct gw_h2_stream *stream_of(nghttp2_session *ng, int32_t id)
{
	return nghttp2_session_get_stream_user_data(ng, id);
}

/* ---- nghttp2 callbacks: record and queue, never drive a session ---- */

static ssize_t send_cb(nghttp2_session *ng, const uint8_t *data, size_t len, int flags, void *ud)
{
	struct gw_h2 *h = ud;
	if (h->dead)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	struct evbuffer *out = h->sock->out;
	if (evbuffer_get_length(out) >= GW_H2_OUT_MAX)
		return NGHTTP2_ERR_WOULDBLOCK;
	if (evbuffer_add(out, data, len) != 0)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	return (ssize_t)len;
}

static int send_data_cb(nghttp2_session *ng, nghttp2_frame *frame, const uint8_t *framehd,
                        size_t length, nghttp2_data_source *source, void *ud)
{
	struct gw_h2 *h = ud;
	if (h->dead)
		return NGHTTP2_ERR_CALLBACK_FAILURE;
	struct evbuffer *out = h->sock->out;
	if (evbuffer_get_length(out) >= GW_H2_OUT_MAX)
		return NGHTTP2_ERR_WOULDBLOCK;
	return gw_h2_stream_send_data(source->ptr, out, framehd, length, frame->data.padlen);
}

static int begin_headers_cb(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
	struct gw_h2 *h = ud;
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0;
	struct gw_h2_stream *st = gw_h2_stream_new(h, frame->hd.stream_id);
	if (st == NULL)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets just this stream */
	nghttp2_session_set_stream_user_data(ng, frame->hd.stream_id, st);
	return 0;
}

static int header_cb(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags, void *ud)
{
	if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
		return 0; /* trailers carry nothing we use */
	struct gw_h2_stream *st = stream_of(ng, frame->hd.stream_id);
	if (st)
		gw_h2_stream_header(st, name, namelen, value, valuelen);
	return 0;
}

static int frame_recv_cb(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
	struct gw_h2_stream *st;
	bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
	switch (frame->hd.type) {
	case NGHTTP2_HEADERS:
		st = stream_of(ng, frame->hd.stream_id);
		if (st == NULL)
			return 0;
		if (frame->headers.cat == NGHTTP2_HCAT_REQUEST)
			gw_h2_stream_request(st, end);
		else if (end)
			gw_h2_stream_end(st);
		return 0;
	case NGHTTP2_DATA:
		st = stream_of(ng, frame->hd.stream_id);
		if (st && end)
			gw_h2_stream_end(st);
		return 0;
	default:
		return 0;
	}
}

static int frame_send_cb(nghttp2_session *ng, const nghttp2_frame *frame, void *ud)
{
	if ((frame->hd.type != NGHTTP2_DATA && frame->hd.type != NGHTTP2_HEADERS) ||
	    !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
		return 0;
	struct gw_h2_stream *st = stream_of(ng, frame->hd.stream_id);
	if (st)
		gw_h2_stream_sent_end(st);
	return 0;
}

/* DATA frames as large as the peer allows (nghttp2 defaults to 16 KiB),
 * within the windows and one stream buffer. */
static ssize_t read_length_cb(nghttp2_session *ng, uint8_t type, int32_t id, int32_t session_window,
                              int32_t stream_window, uint32_t remote_max_frame, void *ud)
{
	int64_t n = GW_H2_STREAM_OUT_MAX;
	if (n > session_window)
		n = session_window;
	if (n > stream_window)
		n = stream_window;
	if (n > (int64_t)remote_max_frame)
		n = remote_max_frame;
	return n > 0 ? (ssize_t)n : 1;
}

static int data_chunk_cb(nghttp2_session *ng, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *ud)
{
	/* The connection's credit comes back at once: the bytes are held by
	 * their stream now, bounded by the stream window, so a stalled
	 * stream never eats the credit the other streams need. */
	nghttp2_session_consume_connection(ng, len);
	struct gw_h2_stream *st = stream_of(ng, id);
	if (st)
		gw_h2_stream_data(st, data, len);
	else
		nghttp2_session_consume_stream(ng, id, len);
	return 0;
}

static int stream_close_cb(nghttp2_session *ng, int32_t id, uint32_t error_code, void *ud)
{
	struct gw_h2_stream *st = stream_of(ng, id);
	if (st) {
		nghttp2_session_set_stream_user_data(ng, id, NULL);
		gw_h2_stream_closed(st, error_code);
	}
	return 0;
}

/* ---- the connection's life ---- */

/* Give the socket back with the callbacks it had. */
static void restore_sock(struct gw_h2 *h)
{
	/* The owner may have closed the stream already. */
	if (h->sock == NULL || !gw_sock_open(h->sock)) {
		h->sock = NULL;
		return;
	}
	gw_sock_setcb(h->sock, &h->old_cb);
	h->sock->out_low = GW_TRANSPORT_OUT_MAX / 2;
	h->sock->batch_turn = false;
	h->sock->read_chunk = 0;
	h->sock = NULL;
}

/* The client stream is gone: every stream ends as reset. */
static void mark_dead(struct gw_h2 *h)
{
	h->dead = true;
	if (h->sock)
		gw_sock_read(h->sock, false);
	for (struct gw_h2_stream *st = h->streams; st; st = st->next) {
		if (!st->h2_closed)
			gw_h2_stream_closed(st, NGHTTP2_CANCEL);
	}
}

/* Hand nghttp2's frames to the socket, within GW_H2_OUT_MAX; they go
 * out in one write later in this loop turn. */
static void flush(struct gw_h2 *h)
{
	if (h->dead || h->state == GW_H2_DONE)
		return;
	int rv = nghttp2_session_send(h->ng);
	if (rv != 0) {
		gw_log_debug("%s: HTTP/2 send: %s", h->peer, nghttp2_strerror(rv));
		mark_dead(h);
		return;
	}
	gw_sock_flush(h->sock);
}

/* Queue GOAWAY; the connection ends once it is written. */
static void go_away(struct gw_h2 *h, uint32_t code)
{
	if (h->state == GW_H2_CLOSING || h->state == GW_H2_DONE)
		return;
	h->state = GW_H2_CLOSING;
	nghttp2_session_terminate_session(h->ng, code);
}

static void process_pending(struct gw_h2 *h)
{
	/* Work on a stream may queue more work (its own or, through the
	 * loop, nothing else): take the queue one stream at a time. */
	struct gw_h2_stream *st;
	unsigned guard = 0;
	while ((st = h->pending) != NULL && guard++ < 100000) {
		h->pending = st->pend_next;
		if (h->pending == NULL)
			h->pending_tail = NULL;
		st->pending = false;
		st->pend_next = NULL;
		gw_h2_stream_process(st);
	}
}

/* Only a stream nghttp2 has closed can be finished: with none such, as
 * under steady load on many streams, there is nothing to walk. */
static void reap(struct gw_h2 *h)
{
	struct gw_h2_stream *st = h->streams, *next;
	if (h->n_closed == 0)
		return;
	for (; st; st = next) {
		next = st->next;
		if (gw_h2_stream_finished(st) && !st->pending)
			gw_h2_stream_free(st);
	}
}

static void update_idle(struct gw_h2 *h)
{
	uint64_t ms = h->cfg->cfg->keepalive_timeout_ms;
	/* A connection past the limit holds a rejection slot: it gets only
	 * the handshake time to ask for its 503. */
	if (h->over_limit && h->cfg->cfg->handshake_timeout_ms < ms)
		ms = h->cfg->cfg->handshake_timeout_ms;
	if (h->state != GW_H2_OPEN || h->n_streams > 0 || ms == 0) {
		evtimer_del(h->idle_ev);
		return;
	}
	if (evtimer_pending(h->idle_ev, NULL))
		return;
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
	                     .tv_usec = (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(h->idle_ev, &tv);
}

/* Everything after an entry point: queued stream work, output, frees,
 * and the end of the connection (the very last action: h may be freed
 * by the owner). */
static void run(struct gw_h2 *h)
{
	if (h->state == GW_H2_DONE)
		return;
	h->depth++;
	for (int round = 0; round < 8; round++) {
		process_pending(h);
		flush(h);
		if (h->pending == NULL)
			break;
	}
	reap(h);
	if (h->dead && h->pending)
		process_pending(h);
	reap(h);
	h->depth--;
	if (h->pending)
		gw_h2_kick(h); /* more than a fair share of rounds: continue from the loop */

	if (h->state == GW_H2_DRAINING && h->n_streams == 0)
		go_away(h, NGHTTP2_NO_ERROR);
	if (h->state == GW_H2_CLOSING && !h->dead) {
		h->depth++;
		flush(h);
		h->depth--;
	}
	update_idle(h);

	bool over = false, clean = false;
	if (h->dead) {
		over = h->n_streams == 0;
	} else if (!nghttp2_session_want_read(h->ng) && !nghttp2_session_want_write(h->ng)) {
		/* GOAWAY exchanged (ours sent, or the peer's received) and no
		 * stream left open in nghttp2. */
		if (h->n_streams > 0) {
			for (struct gw_h2_stream *st = h->streams; st; st = st->next)
				if (!st->h2_closed)
					gw_h2_stream_closed(st, NGHTTP2_CANCEL);
			h->depth++;
			process_pending(h);
			reap(h);
			h->depth--;
		}
		over = h->n_streams == 0;
		clean = true;
	}
	if (!over)
		return;
	h->state = GW_H2_DONE;
	evtimer_del(h->idle_ev);
	restore_sock(h);
	h->done_called = true;
	h->done(h->done_arg, clean);
}

/* ---- socket and timer callbacks ---- */

static void read_input(struct gw_h2 *h)
{
	struct evbuffer *in = h->sock->in;
	size_t budget = READ_BUDGET;
	while (!h->dead && h->state != GW_H2_DONE && budget > 0) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			return;
		ssize_t rv = nghttp2_session_mem_recv(h->ng, v.iov_base, v.iov_len);
		if (rv < 0) {
			gw_log_debug("%s: HTTP/2: %s", h->peer, nghttp2_strerror((int)rv));
			evbuffer_drain(in, evbuffer_get_length(in));
			/* nghttp2 queued a GOAWAY for protocol errors: send it,
			 * then end. */
			if (h->state == GW_H2_OPEN || h->state == GW_H2_DRAINING)
				go_away(h, NGHTTP2_PROTOCOL_ERROR);
			gw_sock_read(h->sock, false);
			return;
		}
		evbuffer_drain(in, (size_t)rv);
		budget = (size_t)rv < budget ? budget - (size_t)rv : 0;
	}
	if (evbuffer_get_length(in) > 0)
		gw_h2_kick(h); /* more after the other connections had a turn */
}

static void read_cb(struct gw_sock *sock, void *arg)
{
	struct gw_h2 *h = arg;
	enter(h);
	read_input(h);
	leave(h);
}

static void write_cb(struct gw_sock *sock, void *arg)
{
	struct gw_h2 *h = arg;
	enter(h);
	leave(h); /* run() flushes */
}

static void event_cb(struct gw_sock *sock, enum gw_sock_event what, void *arg)
{
	struct gw_h2 *h = arg;
	if (what == GW_SOCK_CONNECTED)
		return;
	enter(h);
	if (what == GW_SOCK_EOF)
		read_input(h); /* the last bytes before the end */
	mark_dead(h);          /* reading stops there */
	leave(h);
}

static void work_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_h2 *h = arg;
	enter(h);
	if (h->sock && !h->dead)
		read_input(h);
	leave(h);
}

static void idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_h2 *h = arg;
	enter(h);
	if (h->n_streams == 0 && h->state == GW_H2_OPEN) {
		gw_log_debug("%s: HTTP/2 connection idle, closing", h->peer);
		go_away(h, NGHTTP2_NO_ERROR);
	}
	leave(h);
}

/* ---- setup ---- */

static int make_session(struct gw_h2 *h)
{
	nghttp2_session_callbacks *cb = NULL;
	nghttp2_option *opt = NULL;
	int rv = -1;
	if (nghttp2_session_callbacks_new(&cb) != 0 || nghttp2_option_new(&opt) != 0)
		goto out;
	nghttp2_session_callbacks_set_send_callback(cb, send_cb);
	nghttp2_session_callbacks_set_send_data_callback(cb, send_data_cb);
	nghttp2_session_callbacks_set_on_begin_headers_callback(cb, begin_headers_cb);
	nghttp2_session_callbacks_set_on_header_callback(cb, header_cb);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, frame_recv_cb);
	nghttp2_session_callbacks_set_on_frame_send_callback(cb, frame_send_cb);
	nghttp2_session_callbacks_set_data_source_read_length_callback(cb, read_length_cb);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, data_chunk_cb);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, stream_close_cb);
	/* Credit is returned by hand (see gw_h2.h). */
	nghttp2_option_set_no_auto_window_update(opt, 1);
	/* nghttp2's defaults, stated so that they stay on. */
	nghttp2_option_set_max_outbound_ack(opt, 1000);
	nghttp2_option_set_max_settings(opt, 32);
	nghttp2_option_set_stream_reset_rate_limit(opt, GW_H2_RESET_BURST, GW_H2_RESET_RATE);
	nghttp2_option_set_max_continuations(opt, GW_H2_MAX_CONTINUATIONS);
	if (nghttp2_session_server_new2(&h->ng, cb, h, opt) != 0)
		goto out;

	const struct gw_config *cfg = h->cfg->cfg;
	uint64_t sw = cfg->h2_stream_window, cw = cfg->h2_connection_window;
	if (sw > NGHTTP2_MAX_WINDOW_SIZE)
		sw = NGHTTP2_MAX_WINDOW_SIZE;
	if (cw > NGHTTP2_MAX_WINDOW_SIZE)
		cw = NGHTTP2_MAX_WINDOW_SIZE;
	uint64_t mcs = cfg->h2_max_concurrent_streams;
	if (mcs > UINT32_MAX)
		mcs = UINT32_MAX;
	uint64_t mhl = cfg->h2_max_header_list;
	if (mhl > UINT32_MAX)
		mhl = UINT32_MAX;
	nghttp2_settings_entry iv[] = {
	    {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},
	    {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, (uint32_t)mcs},
	    {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, (uint32_t)sw},
	    {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, (uint32_t)mhl},
	};
	if (nghttp2_submit_settings(h->ng, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0])) != 0)
		goto out;
	if (cw > NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE &&
	    nghttp2_session_set_local_window_size(h->ng, NGHTTP2_FLAG_NONE, 0, (int32_t)cw) != 0)
		goto out;
	rv = 0;
out:
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cb);
	return rv;
}

struct gw_h2 *gw_h2_new(struct gw_worker *w, struct gw_cfgref *cfg, struct gw_transport *tr,
                        bool over_limit, gw_h2_done_cb done, void *arg)
{
	if (!gw_sock_open(&tr->sock))
		return NULL;
	struct gw_h2 *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return NULL;
	h->w = w;
	h->cfg = cfg;
	h->tr = tr;
	h->peer = tr->peer;
	h->over_limit = over_limit;
	h->done = done;
	h->done_arg = arg;
	h->state = GW_H2_OPEN;
	h->work_ev = event_new(w->base, -1, 0, work_cb, h);
	h->idle_ev = evtimer_new(w->base, idle_cb, h);
	if (h->work_ev == NULL || h->idle_ev == NULL || make_session(h) != 0) {
		if (h->ng)
			nghttp2_session_del(h->ng);
		if (h->work_ev)
			event_free(h->work_ev);
		if (h->idle_ev)
			event_free(h->idle_ev);
		free(h);
		return NULL;
	}
	h->sock = &tr->sock;
	h->old_cb = h->sock->cb;
	struct gw_sock_cbs cb = {read_cb, write_cb, event_cb, h};
	gw_sock_setcb(h->sock, &cb);
	h->sock->out_low = GW_H2_OUT_MAX / 2;
	/* Every stream's backend feeds this socket: one write per turn. */
	h->sock->batch_turn = true;
	h->sock->read_chunk = READ_CHUNK;
	gw_sock_read(h->sock, true);
	gw_h2_kick(h);
	return h;
}

void gw_h2_drain(struct gw_h2 *h, enum gw_conn_drain stage)
{
	if (h->state == GW_H2_DONE)
		return;
	enter(h);
	if (h->state == GW_H2_OPEN)
		h->state = GW_H2_DRAINING; /* run() sends GOAWAY once no stream is left */
	if (stage != GW_CONN_DRAIN_IDLE) {
		for (struct gw_h2_stream *st = h->streams; st; st = st->next)
			gw_h2_stream_drain(st, stage);
	}
	if (stage == GW_CONN_DRAIN_ABORT) {
		mark_dead(h);
	}
	leave(h);
}

void gw_h2_free(struct gw_h2 *h)
{
	if (h == NULL)
		return;
	h->dead = true;
	h->depth++; /* nothing below may run() */
	while (h->streams)
		gw_h2_stream_free(h->streams);
	restore_sock(h);
	if (h->ng)
		nghttp2_session_del(h->ng);
	event_free(h->work_ev);
	event_free(h->idle_ev);
	free(h);
}
