/* Tests for gw_backend, gw_bridge and gw_echo on a real libevent loop.
 *
 * Backends are loopback TCP (or unix) listeners made here; names are
 * resolved by a libevent DNS server on a loopback UDP port.  The client
 * side is a real ws_session (server role) over a fake transport whose
 * send appends to an evbuffer and can be blocked; client frames are
 * built masked, as a browser sends them, and the session's output is
 * parsed back with ws_frame_parse.  Every wait is bounded.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/dns_struct.h>
#include <event2/event.h>

#include "gw_backend.h"
#include "gw_bridge.h"
#include "gw_echo.h"
#include "ws_close.h"
#include "ws_error.h"
#include "ws_frame.h"
#include "ws_session.h"

/* ---- time and loop ---------------------------------------------------- */

static struct event_base *base;
static struct event *tick_ev;

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
}

static void pump(void);
static void parse_out(void);

/* Run the loop until pred() holds or ms pass; returns pred(). */
static bool run_until(bool (*pred)(void), uint64_t ms)
{
	uint64_t end = now_ms() + ms;
	for (;;) {
		pump();
		parse_out();
		if (pred != NULL && pred())
			return true;
		if (now_ms() >= end)
			return pred != NULL ? pred() : true;
		event_base_loop(base, EVLOOP_ONCE);
	}
}

static void run_for(uint64_t ms)
{
	run_until(NULL, ms);
}

/* ---- loopback backend ------------------------------------------------- */

static int make_listener(int backlog, char port[16])
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	int one = 1;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(l, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);
	ck_assert_int_eq(listen(l, backlog), 0);
	snprintf(port, 16, "%u", (unsigned)ntohs(a.sin_port));
	return l;
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Bytes the backend peer read so far, and whether it saw EOF/reset. */
static struct evbuffer *peer_in;
static int peer_fd = -1;
static bool peer_eof;
static int peer_err;

static void peer_read(void)
{
	uint8_t buf[65536];
	while (peer_fd >= 0 && !peer_eof && peer_err == 0) {
		ssize_t n = read(peer_fd, buf, sizeof(buf));
		if (n > 0)
			evbuffer_add(peer_in, buf, (size_t)n);
		else if (n == 0)
			peer_eof = true;
		else if (errno != EAGAIN && errno != EINTR)
			peer_err = errno;
		else
			break;
	}
}

/* Write as much as the socket takes now. */
static size_t peer_write(const uint8_t *p, size_t n)
{
	ssize_t w = write(peer_fd, p, n);
	return w > 0 ? (size_t)w : 0;
}

static void peer_write_all(const uint8_t *p, size_t n)
{
	uint64_t end = now_ms() + 5000;
	while (n > 0 && now_ms() < end) {
		size_t w = peer_write(p, n);
		p += w;
		n -= w;
		if (n > 0)
			run_for(2);
	}
	ck_assert_uint_eq(n, 0);
}

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 7 + i / 251);
}

static void fill_pattern(uint8_t *p, size_t n, uint64_t offset)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pattern(offset + i);
}

static bool is_pattern(struct evbuffer *b, size_t n)
{
	if (evbuffer_get_length(b) != n)
		return false;
	const uint8_t *p = evbuffer_pullup(b, -1);
	for (size_t i = 0; i < n; i++)
		if (p[i] != pattern(i))
			return false;
	return true;
}

/* ---- backend connect results ------------------------------------------ */

static struct gw_route route;
static bool in_connect;
static int ready_calls;
static int ready_status = -1;
static bool ready_inside_connect;

static void ready_cb(struct gw_backend *b, int status, void *arg)
{
	ready_calls++;
	ready_status = status;
	if (in_connect)
		ready_inside_connect = true;
}

static bool ready_pred(void)
{
	return ready_calls > 0;
}

static struct gw_backend *start_connect(struct evdns_base *dns)
{
	struct gw_backend *b = NULL;
	in_connect = true;
	ck_assert_int_eq(gw_backend_connect(base, dns, &route, ready_cb, NULL, &b), 0);
	in_connect = false;
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(ready_calls, 0);
	return b;
}

static void route_tcp(const char *host, const char *port)
{
	memset(&route, 0, sizeof(route));
	route.name = "t";
	route.backend_kind = GW_BACKEND_TCP;
	route.backend_host = (char *)host;
	route.backend_port = (char *)port;
	route.connect_timeout_ms = 2000;
	route.close_timeout_ms = 2000;
	route.buffer_size = 64 * 1024;
}

/* ---- fake transport and the client's view ----------------------------- */

struct fake {
	struct ws_session *s;              /* NULL once freed in done */
	struct gw_bridge *br;              /* bridge under test, or NULL */
	struct evbuffer *out;              /* what the session sent */
	struct evbuffer *in;               /* client bytes still to feed */
	struct ws_session_options opts;    /* session options */
	bool blocked;                      /* send takes nothing */
	bool want_read;                    /* last want_read */
	int closes;                        /* transport close calls */
	bool clean;                        /* last close was clean */
	struct event *timer;               /* session timer */
	int done_calls;                    /* done callbacks */
	uint16_t code_sent;                /* close code the session sent, read in done */
	uint64_t to_backend, from_backend; /* bridge counters read in done */
};

static struct fake F;

static ssize_t fake_send(void *h, const struct iovec *iov, int iovcnt)
{
	size_t total = 0;
	if (F.blocked)
		return 0;
	for (int i = 0; i < iovcnt; i++) {
		evbuffer_add(F.out, iov[i].iov_base, iov[i].iov_len);
		total += iov[i].iov_len;
	}
	return (ssize_t)total;
}

static void fake_want_read(void *h, bool on)
{
	F.want_read = on;
}

static void fake_close(void *h, bool clean)
{
	F.closes++;
	F.clean = clean;
}

static void fake_set_timer(void *h, uint64_t deadline)
{
	evtimer_del(F.timer);
	if (deadline == UINT64_MAX)
		return;
	uint64_t now = F.opts.now_ms(F.opts.now_ctx);
	uint64_t d = deadline > now ? deadline - now : 0;
	struct timeval tv = {.tv_sec = (time_t)(d / 1000),
	                     .tv_usec = (suseconds_t)(d % 1000) * 1000};
	evtimer_add(F.timer, &tv);
}

static const char *fake_peer(void *h)
{
	return "client";
}

static const struct ws_transport_ops fake_ops = {
    .send = fake_send,
    .want_read = fake_want_read,
    .close = fake_close,
    .set_timer = fake_set_timer,
    .peer = fake_peer,
};

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	if (F.s != NULL)
		ws_session_tick(F.s);
}

static void app_done(void *arg, struct ws_session *s)
{
	ck_assert_ptr_eq(arg, &F);
	ck_assert_ptr_eq(s, F.s);
	F.done_calls++;
	F.code_sent = ws_session_close_code_sent(s);
	if (F.br != NULL) {
		F.to_backend = gw_bridge_bytes_to_backend(F.br);
		F.from_backend = gw_bridge_bytes_from_backend(F.br);
		F.br = NULL;
	}
	evtimer_del(F.timer);
	ws_session_free(s);
	F.s = NULL;
}

static bool done_pred(void)
{
	return F.done_calls > 0;
}

/* Feed pending client bytes while the session takes them. */
static void pump(void)
{
	while (F.s != NULL && F.want_read && !ws_session_paused(F.s) &&
	       evbuffer_get_length(F.in) > 0) {
		size_t n = evbuffer_get_length(F.in);
		uint8_t *p = evbuffer_pullup(F.in, -1);
		ssize_t used = ws_session_feed(F.s, p, n);
		if (used < 0) {
			evbuffer_drain(F.in, n);
			break;
		}
		evbuffer_drain(F.in, (size_t)used);
		if (used == 0)
			break;
	}
}

static void unblock(void)
{
	F.blocked = false;
	if (F.s != NULL)
		ws_session_on_writable(F.s);
}

/* Client frames, masked as a client must. */
static void client_frame(uint8_t opcode, bool fin, const void *data, size_t len)
{
	uint8_t hdr[WS_FRAME_HEADER_MAX];
	uint8_t mask[4] = {0x3a, 0x91, (uint8_t)len, (uint8_t)(len >> 8)};
	size_t h = ws_frame_header_encode(hdr, opcode, fin, false, len, mask);
	uint8_t *p = malloc(len > 0 ? len : 1);
	ck_assert_ptr_nonnull(p);
	if (len > 0)
		memcpy(p, data, len);
	ws_mask(p, len, mask, 0);
	evbuffer_add(F.in, hdr, h);
	evbuffer_add(F.in, p, len);
	free(p);
}

static void client_close(uint16_t code)
{
	uint8_t pl[2] = {(uint8_t)(code >> 8), (uint8_t)code};
	client_frame(WS_OP_CLOSE, true, pl, 2);
}

/* What the client received. */
#define MAX_FRAMES 4096
struct rx_frame {
	uint8_t opcode; /* as on the wire */
	bool fin;       /* FIN bit */
	uint64_t len;   /* payload length */
};

static struct {
	struct ws_frame_parser parser; /* client-role parser of the session's output */
	struct evbuffer *data;         /* payload of every data frame, in order */
	struct rx_frame frames[MAX_FRAMES];
	size_t n_frames;
	size_t n_data_frames;  /* data frames (not control) */
	size_t n_messages;     /* data frames with FIN */
	uint64_t max_frame;    /* largest data frame */
	uint8_t close_pl[125]; /* payload of the close frame */
	size_t close_len;
	int n_close;           /* close frames received */
	uint16_t close_code;   /* code of the first close */
	bool data_after_close; /* a data frame followed the close */
	bool in_close;         /* inside a close frame */
} C;

static void parse_out(void)
{
	size_t len = evbuffer_get_length(F.out);
	if (len == 0)
		return;
	uint8_t *p = evbuffer_pullup(F.out, -1);
	size_t off = 0;
	/* Until NONE, not until the input is used up: a frame's END comes
	 * after its last payload byte was consumed. */
	for (;;) {
		size_t used = 0;
		struct ws_frame_event ev;
		int rc = ws_frame_parse(&C.parser, p + off, len - off, &used, &ev);
		ck_assert_int_eq(rc, WS_OK);
		off += used;
		if (ev.type == WS_FRAME_EV_NONE)
			break;
		uint8_t op = ev.header->opcode;
		if (ev.type == WS_FRAME_EV_HEADER) {
			ck_assert_uint_lt(C.n_frames, MAX_FRAMES);
			C.frames[C.n_frames++] = (struct rx_frame){
			    .opcode = op, .fin = ev.header->fin, .len = ev.header->length};
			C.in_close = op == WS_OP_CLOSE;
			if (op == WS_OP_CLOSE)
				C.close_len = 0;
			if (op < WS_OP_CLOSE) {
				if (C.n_close > 0)
					C.data_after_close = true;
				C.n_data_frames++;
				if (ev.header->length > C.max_frame)
					C.max_frame = ev.header->length;
			}
		} else if (ev.type == WS_FRAME_EV_PAYLOAD) {
			if (C.in_close) {
				memcpy(C.close_pl + C.close_len, ev.data, ev.len);
				C.close_len += ev.len;
			} else if (op < WS_OP_CLOSE) {
				evbuffer_add(C.data, ev.data, ev.len);
			}
		} else if (ev.type == WS_FRAME_EV_END) {
			if (op == WS_OP_CLOSE) {
				if (C.n_close++ == 0)
					C.close_code =
					    C.close_len >= 2
					        ? (uint16_t)(C.close_pl[0] << 8 | C.close_pl[1])
					        : 1005;
				C.in_close = false;
			} else if (op < WS_OP_CLOSE && ev.header->fin) {
				C.n_messages++;
			}
		}
	}
	evbuffer_drain(F.out, off);
}

static bool close_pred(void)
{
	return C.n_close > 0;
}

/* ---- fixture ---------------------------------------------------------- */

static int listen_fd = -1;
static char listen_port[16];

static void setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	tick_ev = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	struct timeval tv = {0, 2000};
	event_add(tick_ev, &tv);
	memset(&F, 0, sizeof(F));
	memset(&C, 0, sizeof(C));
	F.out = evbuffer_new();
	F.in = evbuffer_new();
	F.timer = evtimer_new(base, timer_cb, NULL);
	C.data = evbuffer_new();
	ws_frame_parser_init(&C.parser, WS_ROLE_CLIENT, 0, false);
	peer_in = evbuffer_new();
	peer_fd = -1;
	peer_eof = false;
	peer_err = 0;
	ready_calls = 0;
	ready_status = -1;
	ready_inside_connect = false;
	listen_fd = make_listener(16, listen_port);
	route_tcp("127.0.0.1", listen_port);
}

static void teardown(void)
{
	if (F.s != NULL) {
		ws_session_abort(F.s);
		if (F.s != NULL)
			ws_session_free(F.s);
	}
	if (peer_fd >= 0)
		close(peer_fd);
	if (listen_fd >= 0)
		close(listen_fd);
	evbuffer_free(F.out);
	evbuffer_free(F.in);
	evbuffer_free(C.data);
	evbuffer_free(peer_in);
	event_free(F.timer);
	event_free(tick_ev);
	event_base_free(base);
}

/* Connect a backend to the listener, accept it as peer_fd. */
static struct gw_backend *connect_backend(void)
{
	struct gw_backend *b = start_connect(NULL);
	ck_assert(run_until(ready_pred, 3000));
	ck_assert_int_eq(ready_status, 0);
	ck_assert(!ready_inside_connect);
	peer_fd = accept(listen_fd, NULL, NULL);
	ck_assert_int_ge(peer_fd, 0);
	set_nonblock(peer_fd);
	return b;
}

static void start_session(const struct ws_handler *h, void *ud)
{
	ws_session_options_default(&F.opts);
	F.opts.queue_high_water = 64 * 1024;
	F.opts.close_timeout_ms = 3000;
	ck_assert_int_eq(ws_session_new(&F.s, WS_ROLE_SERVER, &fake_ops, &F, h, ud, &F.opts),
	                 WS_OK);
}

/* The bridge's end of the backend connection. */
static int bridge_fd = -1;

/* A started bridge session over a fresh backend. */
static void open_bridge(void)
{
	struct gw_backend *b = connect_backend();
	bridge_fd = gw_backend_sock(b)->fd;
	ck_assert_int_ge(bridge_fd, 0);
	F.br = gw_bridge_new(b, &route, app_done, &F);
	ck_assert_ptr_nonnull(F.br);
	start_session(&gw_bridge_handler, F.br);
	gw_bridge_attach(F.br, F.s);
	ws_session_start(F.s);
	ck_assert(F.want_read);
}

/* ---- gw_backend ------------------------------------------------------- */

START_TEST(test_connect_ok)
{
	char want[64];
	struct gw_backend *b = connect_backend();
	snprintf(want, sizeof(want), "127.0.0.1:%s", listen_port);
	ck_assert_str_eq(gw_backend_address(b), want);
	ck_assert_ptr_nonnull(gw_backend_sock(b));
	ck_assert_int_ge(gw_backend_sock(b)->fd, 0);
	ck_assert_int_eq(ready_calls, 1);
	gw_backend_free(b);
	peer_read();
	run_until(NULL, 20);
	peer_read();
	ck_assert(peer_eof);
}
END_TEST

START_TEST(test_connect_refused)
{
	char port[16];
	snprintf(port, sizeof(port), "%s", listen_port);
	close(listen_fd); /* nothing listens on the port any more */
	listen_fd = -1;
	route_tcp("127.0.0.1", port);
	struct gw_backend *b = start_connect(NULL);
	ck_assert(run_until(ready_pred, 3000));
	ck_assert_int_eq(ready_status, GW_BACKEND_BAD_GATEWAY);
	ck_assert(!ready_inside_connect);
	ck_assert_ptr_null(gw_backend_sock(b));
	ck_assert_int_eq(gw_backend_error(b), ECONNREFUSED);
	run_for(20);
	ck_assert_int_eq(ready_calls, 1);
	gw_backend_free(b);
}
END_TEST

START_TEST(test_connect_unix)
{
	char path[108];
	struct sockaddr_un sun;
	snprintf(path, sizeof(path), "/tmp/test_bridge.%d.sock", (int)getpid());
	unlink(path);
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(l, 4), 0);

	memset(&route, 0, sizeof(route));
	route.backend_kind = GW_BACKEND_UNIX;
	route.backend_path = path;
	route.connect_timeout_ms = 2000;
	struct gw_backend *b = start_connect(NULL);
	ck_assert(run_until(ready_pred, 3000));
	ck_assert_int_eq(ready_status, 0);
	char want[160];
	snprintf(want, sizeof(want), "unix:%s", path);
	ck_assert_str_eq(gw_backend_address(b), want);
	gw_backend_free(b);

	/* A path nobody listens on: 502, still from the loop. */
	unlink(path);
	close(l);
	ready_calls = 0;
	b = start_connect(NULL);
	ck_assert(run_until(ready_pred, 3000));
	ck_assert_int_eq(ready_status, GW_BACKEND_BAD_GATEWAY);
	ck_assert(!ready_inside_connect);
	gw_backend_free(b);
}
END_TEST

/* A listener with backlog 0 whose queue holds one unaccepted connection
 * drops further SYNs, so a connect stays pending: a real 504. */
START_TEST(test_connect_timeout)
{
	char port[16];
	int l = make_listener(0, port);
	int filler = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)atoi(port));
	ck_assert_int_eq(connect(filler, (struct sockaddr *)&a, sizeof(a)), 0);

	route_tcp("127.0.0.1", port);
	route.connect_timeout_ms = 150;
	uint64_t t0 = now_ms();
	struct gw_backend *b = start_connect(NULL);
	ck_assert(run_until(ready_pred, 3000));
	uint64_t took = now_ms() - t0;
	ck_assert_int_eq(ready_status, GW_BACKEND_TIMEOUT);
	ck_assert_uint_ge(took, 140);
	ck_assert_uint_lt(took, 1000);
	ck_assert_int_eq(gw_backend_error(b), ETIMEDOUT);
	gw_backend_free(b);

	/* Freed while the connect is pending: no callback ever. */
	ready_calls = 0;
	route.connect_timeout_ms = 100;
	b = start_connect(NULL);
	run_for(30);
	gw_backend_free(b);
	run_for(200);
	ck_assert_int_eq(ready_calls, 0);

	/* Freed before the loop even started it. */
	b = start_connect(NULL);
	gw_backend_free(b);
	run_for(150);
	ck_assert_int_eq(ready_calls, 0);
	close(filler);
	close(l);
}
END_TEST

/* ---- names through a loopback DNS server ------------------------------ */

static int dns_queries;

/* Answers "backend.test" with ::1 then 127.0.0.1 (the v6 one refused,
 * so the second address must be tried), ignores "silent.test", and
 * says NXDOMAIN to the rest. */
static void dns_server_cb(struct evdns_server_request *req, void *arg)
{
	int answered = 0;
	dns_queries++;
	for (int i = 0; i < req->nquestions; i++) {
		const struct evdns_server_question *q = req->questions[i];
		if (strcasecmp(q->name, "silent.test") == 0) {
			evdns_server_request_drop(req);
			return;
		}
		if (strcasecmp(q->name, "backend.test") != 0)
			continue;
		if (q->type == EVDNS_TYPE_A) {
			struct in_addr a = {.s_addr = htonl(INADDR_LOOPBACK)};
			evdns_server_request_add_a_reply(req, q->name, 1, &a, 60);
			answered++;
		} else if (q->type == EVDNS_TYPE_AAAA) {
			struct in6_addr a6 = IN6ADDR_LOOPBACK_INIT;
			evdns_server_request_add_aaaa_reply(req, q->name, 1, &a6, 60);
			answered++;
		}
	}
	evdns_server_request_respond(req, answered > 0 ? 0 : 3 /* NXDOMAIN */);
}

struct dns_env {
	int udp;                        /* server socket */
	struct evdns_server_port *port; /* libevent DNS server */
	struct evdns_base *dns;         /* resolver pointed at it */
};

static void dns_env_start(struct dns_env *e)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);
	char ns[64];
	e->udp = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(e->udp, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(e->udp, (struct sockaddr *)&a, &al), 0);
	set_nonblock(e->udp);
	e->port = evdns_add_server_port_with_base(base, e->udp, 0, dns_server_cb, NULL);
	ck_assert_ptr_nonnull(e->port);
	e->dns = evdns_base_new(base, 0);
	ck_assert_ptr_nonnull(e->dns);
	snprintf(ns, sizeof(ns), "127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
	ck_assert_int_eq(evdns_base_nameserver_ip_add(e->dns, ns), 0);
	evdns_base_set_option(e->dns, "timeout:", "5");
}

static void dns_env_stop(struct dns_env *e)
{
	evdns_base_free(e->dns, 1);
	evdns_close_server_port(e->port);
	close(e->udp);
}

START_TEST(test_connect_dns)
{
	struct dns_env e;
	dns_env_start(&e);

	route_tcp("backend.test", listen_port);
	struct gw_backend *b = start_connect(e.dns);
	ck_assert(run_until(ready_pred, 3000));
	ck_assert_msg(ready_status == 0, "status %d error %d", ready_status, gw_backend_error(b));
	ck_assert_int_ge(dns_queries, 1);
	char want[64];
	snprintf(want, sizeof(want), "127.0.0.1:%s", listen_port);
	ck_assert_str_eq(gw_backend_address(b), want);
	gw_backend_free(b);

	/* NXDOMAIN: 502. */
	ready_calls = 0;
	route_tcp("missing.test", listen_port);
	b = start_connect(e.dns);
	ck_assert(run_until(ready_pred, 3000));
	ck_assert_int_eq(ready_status, GW_BACKEND_BAD_GATEWAY);
	gw_backend_free(b);

	/* A name with no resolver: 502. */
	ready_calls = 0;
	b = start_connect(NULL);
	ck_assert(run_until(ready_pred, 3000));
	ck_assert_int_eq(ready_status, GW_BACKEND_BAD_GATEWAY);
	gw_backend_free(b);

	/* No answer within connect_timeout: 504. */
	ready_calls = 0;
	route_tcp("silent.test", listen_port);
	route.connect_timeout_ms = 100;
	b = start_connect(e.dns);
	ck_assert(run_until(ready_pred, 3000));
	ck_assert_int_eq(ready_status, GW_BACKEND_TIMEOUT);
	gw_backend_free(b);

	/* Freed while resolving: the late EAI_CANCEL must not touch it. */
	ready_calls = 0;
	route.connect_timeout_ms = 2000;
	b = start_connect(e.dns);
	run_for(30);
	gw_backend_free(b);
	run_for(50);
	ck_assert_int_eq(ready_calls, 0);
	dns_env_stop(&e);
}
END_TEST

/* ---- gw_bridge -------------------------------------------------------- */

static bool peer_has(size_t n)
{
	peer_read();
	return evbuffer_get_length(peer_in) >= n;
}

static size_t peer_want;
static bool peer_want_pred(void)
{
	return peer_has(peer_want);
}

static bool peer_eof_pred(void)
{
	peer_read();
	return peer_eof || peer_err != 0;
}

static size_t client_want;
static bool client_want_pred(void)
{
	return evbuffer_get_length(C.data) >= client_want;
}

START_TEST(test_bridge_to_backend_in_order)
{
	open_bridge();
	/* Text and binary, whole and fragmented, empty ones too: payload
	 * bytes only, in order. */
	client_frame(WS_OP_TEXT, true, "hello ", 6);
	client_frame(WS_OP_BINARY, false, "\x00\x01", 2);
	client_frame(WS_OP_CONTINUATION, false, "", 0);
	client_frame(WS_OP_CONTINUATION, true, "\x02", 1);
	client_frame(WS_OP_PING, true, "p", 1);
	client_frame(WS_OP_TEXT, true, "", 0);
	client_frame(WS_OP_TEXT, true, "w\xc3\xb6rld", 6);
	peer_want = 15;
	ck_assert(run_until(peer_want_pred, 3000));
	ck_assert_uint_eq(evbuffer_get_length(peer_in), 15);
	ck_assert_mem_eq(evbuffer_pullup(peer_in, -1), "hello \x00\x01\x02w\xc3\xb6rld", 15);

	/* A large message in many frames. */
	size_t big = 1024 * 1024;
	uint8_t *p = malloc(big);
	fill_pattern(p, big, 0);
	evbuffer_drain(peer_in, 15);
	for (size_t off = 0; off < big; off += 100000) {
		size_t n = big - off < 100000 ? big - off : 100000;
		client_frame(off == 0 ? WS_OP_BINARY : WS_OP_CONTINUATION, off + n == big, p + off,
		             n);
	}
	free(p);
	peer_want = big;
	ck_assert(run_until(peer_want_pred, 5000));
	ck_assert(is_pattern(peer_in, big));
	ck_assert_uint_eq(ws_session_state(F.s), WS_SESSION_OPEN);
	ck_assert_int_eq(C.n_close, 0);
}
END_TEST

START_TEST(test_bridge_from_backend)
{
	open_bridge();
	size_t total = 300 * 1024 + 17;
	uint8_t *p = malloc(total);
	fill_pattern(p, total, 0);
	peer_write_all(p, total);
	free(p);
	client_want = total;
	ck_assert(run_until(client_want_pred, 5000));
	ck_assert(is_pattern(C.data, total));
	ck_assert_uint_ge(C.n_messages, 5); /* 64 KiB per message at most */
	ck_assert_uint_le(C.max_frame, GW_BRIDGE_CHUNK);
	for (size_t i = 0; i < C.n_frames; i++) {
		ck_assert_uint_eq(C.frames[i].opcode, WS_OP_BINARY);
		ck_assert(C.frames[i].fin);
	}
	ck_assert_int_eq(C.n_close, 0);
}
END_TEST

START_TEST(test_bridge_backend_eof)
{
	open_bridge();
	size_t total = 100 * 1000;
	uint8_t *p = malloc(total);
	fill_pattern(p, total, 0);
	peer_write_all(p, total);
	free(p);
	close(peer_fd);
	peer_fd = -1;
	ck_assert(run_until(close_pred, 3000));
	ck_assert(is_pattern(C.data, total));
	ck_assert_int_eq(C.close_code, 1000);
	ck_assert(!C.data_after_close);
	ck_assert_int_eq(F.done_calls, 0); /* waits for the client's reply */
	client_close(1000);
	ck_assert(run_until(done_pred, 3000));
	ck_assert_int_eq(F.done_calls, 1);
	ck_assert_int_eq(F.code_sent, 1000);
	ck_assert_uint_eq(F.from_backend, total);
	ck_assert_int_eq(F.closes, 1);
	ck_assert(F.clean);
	run_for(20);
	ck_assert_int_eq(C.n_close, 1);
}
END_TEST

START_TEST(test_bridge_backend_eof_while_client_blocked)
{
	/* The backend sends more than the high-water mark and closes while
	 * the client is not taking anything: every byte still arrives
	 * before the 1000. */
	open_bridge();
	F.blocked = true;
	size_t total = 150 * 1000;
	uint8_t *p = malloc(total);
	fill_pattern(p, total, 0);
	peer_write_all(p, total);
	free(p);
	shutdown(peer_fd, SHUT_WR);
	run_for(100);
	ck_assert_int_eq(C.n_close, 0);
	unblock();
	ck_assert(run_until(close_pred, 3000));
	ck_assert(is_pattern(C.data, total));
	ck_assert_int_eq(C.close_code, 1000);
	client_close(1000);
	ck_assert(run_until(done_pred, 3000));
	ck_assert_uint_eq(F.from_backend, total);
}
END_TEST

START_TEST(test_bridge_backend_reset)
{
	open_bridge();
	peer_write_all((const uint8_t *)"partial", 7);
	client_want = 7;
	ck_assert(run_until(client_want_pred, 3000));
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	setsockopt(peer_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(peer_fd);
	peer_fd = -1;
	ck_assert(run_until(close_pred, 3000));
	ck_assert_int_eq(C.close_code, 1014);
	ck_assert_uint_ge(C.close_len, 2);
	ck_assert_mem_eq(C.close_pl + 2, "backend failed", 14);
	ck_assert_mem_eq(evbuffer_pullup(C.data, -1), "partial", 7);
	client_close(1014);
	ck_assert(run_until(done_pred, 3000));
	ck_assert_int_eq(F.code_sent, 1014);
}
END_TEST

START_TEST(test_bridge_client_close_half_closes)
{
	open_bridge();
	client_frame(WS_OP_BINARY, true, "last words", 10);
	client_close(4001);
	/* The backend gets the data, then EOF, while its own side stays
	 * open and the close is not yet echoed. */
	ck_assert(run_until(peer_eof_pred, 3000));
	ck_assert(peer_eof);
	ck_assert_int_eq(peer_err, 0);
	ck_assert_mem_eq(evbuffer_pullup(peer_in, -1), "last words", 10);
	run_for(50);
	ck_assert_int_eq(C.n_close, 0);
	ck_assert_int_eq(F.done_calls, 0);
	/* Its answer still reaches the client, then the echo. */
	peer_write_all((const uint8_t *)"goodbye", 7);
	close(peer_fd);
	peer_fd = -1;
	ck_assert(run_until(done_pred, 3000));
	ck_assert_mem_eq(evbuffer_pullup(C.data, -1), "goodbye", 7);
	ck_assert_uint_eq(evbuffer_get_length(C.data), 7);
	ck_assert_int_eq(C.n_close, 1);
	ck_assert_int_eq(C.close_code, 4001);
	ck_assert(!C.data_after_close);
	ck_assert_int_eq(F.code_sent, 4001);
	ck_assert_uint_eq(F.to_backend, 10);
	ck_assert_uint_eq(F.from_backend, 7);
	ck_assert_int_eq(F.closes, 1);
	ck_assert(F.clean);
}
END_TEST

START_TEST(test_bridge_client_close_linger)
{
	/* A backend that never closes: the echo goes out after the linger,
	 * half the close timeout here. */
	route.close_timeout_ms = 400;
	open_bridge();
	uint64_t t0 = now_ms();
	client_close(1000);
	ck_assert(run_until(close_pred, 3000));
	uint64_t took = now_ms() - t0;
	ck_assert_uint_ge(took, 180);
	ck_assert_uint_lt(took, 1500);
	ck_assert_int_eq(C.close_code, 1000);
	ck_assert(run_until(done_pred, 3000));
	ck_assert(peer_eof_pred());
}
END_TEST

START_TEST(test_bridge_close_races)
{
	/* Backend EOF and the client's close arrive in the same turn. */
	open_bridge();
	close(peer_fd);
	peer_fd = -1;
	client_close(1001);
	ck_assert(run_until(done_pred, 3000));
	run_for(50);
	ck_assert_int_eq(C.n_close, 1);
	ck_assert_int_eq(F.done_calls, 1);
	ck_assert_int_eq(F.closes, 1);
}
END_TEST

START_TEST(test_bridge_close_after_backend_eof_seen)
{
	/* Backend EOF was handled (our 1000 is out), then the client's
	 * reply arrives: exactly one close each way. */
	open_bridge();
	shutdown(peer_fd, SHUT_WR);
	ck_assert(run_until(close_pred, 3000));
	client_close(1000);
	ck_assert(run_until(done_pred, 3000));
	ck_assert_int_eq(C.n_close, 1);
	ck_assert_int_eq(F.code_sent, 1000);
}
END_TEST

START_TEST(test_bridge_client_abort)
{
	open_bridge();
	peer_write_all((const uint8_t *)"x", 1);
	client_want = 1;
	ck_assert(run_until(client_want_pred, 3000));
	ws_session_transport_closed(F.s, false);
	ck_assert_int_eq(F.done_calls, 1);
	ck_assert_ptr_null(F.s);
	/* The backend sees the abort as a reset. */
	ck_assert(run_until(peer_eof_pred, 3000));
	ck_assert_int_eq(peer_err, ECONNRESET);
}
END_TEST

START_TEST(test_bridge_abort_with_backend_pending_data)
{
	/* The backend is mid-stream and the client blocked when the session
	 * is aborted from outside: nothing is used after free. */
	open_bridge();
	F.blocked = true;
	uint8_t buf[32768];
	fill_pattern(buf, sizeof(buf), 0);
	for (int i = 0; i < 8; i++)
		peer_write(buf, sizeof(buf));
	run_for(50);
	ws_session_abort(F.s);
	ck_assert_int_eq(F.done_calls, 1);
	run_for(50);
}
END_TEST

START_TEST(test_bridge_backpressure_to_client)
{
	route.buffer_size = 64 * 1024;
	open_bridge();
	/* Small kernel buffers so that what the loopback absorbs is small
	 * next to what the backend tries to send. */
	int small = 16 * 1024;
	setsockopt(peer_fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(bridge_fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	F.blocked = true;
	size_t total = 8 * 1024 * 1024, sent = 0;
	uint8_t *p = malloc(total);
	fill_pattern(p, total, 0);
	/* Write until the backend makes no progress for 300 ms. */
	uint64_t last = now_ms();
	while (now_ms() - last < 300 && sent < total) {
		size_t w = peer_write(p + sent, total - sent);
		if (w > 0)
			last = now_ms();
		sent += w;
		run_for(2);
	}
	ck_assert_uint_lt(sent, total / 2);
	ck_assert(!ws_session_writable(F.s));
	ck_assert_uint_le(ws_session_queued(F.s), 64 * 1024 + GW_BRIDGE_CHUNK + 64);
	ck_assert_uint_eq(evbuffer_get_length(C.data), 0);
	/* Unblocked, every byte arrives in order. */
	unblock();
	while (sent < total) {
		sent += peer_write(p + sent, total - sent);
		run_for(1);
		unblock();
	}
	free(p);
	client_want = total;
	ck_assert(run_until(client_want_pred, 10000));
	ck_assert(is_pattern(C.data, total));
	ck_assert_uint_le(C.max_frame, GW_BRIDGE_CHUNK);
}
END_TEST

START_TEST(test_bridge_backpressure_to_backend)
{
	route.buffer_size = 64 * 1024;
	open_bridge();
	int small = 16 * 1024;
	setsockopt(peer_fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	setsockopt(bridge_fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	size_t total = 4 * 1024 * 1024, frame = 32 * 1024;
	uint8_t *p = malloc(total);
	fill_pattern(p, total, 0);
	for (size_t off = 0; off < total; off += frame)
		client_frame(WS_OP_BINARY, true, p + off, frame);
	free(p);
	size_t queued = evbuffer_get_length(F.in);
	/* The backend reads nothing: the client is paused and most of its
	 * input stays unread. */
	run_for(300);
	ck_assert(ws_session_paused(F.s));
	ck_assert_uint_gt(evbuffer_get_length(F.in), queued / 2);
	/* Now the backend reads: everything arrives, in order. */
	peer_want = total;
	ck_assert(run_until(peer_want_pred, 10000));
	ck_assert(is_pattern(peer_in, total));
	ck_assert_uint_eq(evbuffer_get_length(F.in), 0);
	ck_assert(!ws_session_paused(F.s));
}
END_TEST

START_TEST(test_bridge_backend_eof_while_client_paused)
{
	/* The backend stops reading, the client is paused behind it, then
	 * the backend ends its side: the 1000 goes out and the client's
	 * reply (behind its unread frames) is still read, so the close
	 * completes cleanly instead of timing out. */
	route.buffer_size = 64 * 1024;
	open_bridge();
	int small = 16 * 1024;
	setsockopt(peer_fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	setsockopt(bridge_fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	uint8_t *p = calloc(1, 32 * 1024);
	for (int i = 0; i < 64; i++)
		client_frame(WS_OP_BINARY, true, p, 32 * 1024);
	free(p);
	run_for(200);
	ck_assert(ws_session_paused(F.s));
	shutdown(peer_fd, SHUT_WR);
	ck_assert(run_until(close_pred, 2000));
	ck_assert_int_eq(C.close_code, 1000);
	client_close(1000);
	uint64_t t0 = now_ms();
	ck_assert(run_until(done_pred, 2500));
	ck_assert_uint_lt(now_ms() - t0, 1000);
	ck_assert_int_eq(F.code_sent, 1000);
	ck_assert(F.clean);
}
END_TEST

START_TEST(test_bridge_backend_eof_flushes_output)
{
	/* The backend closes its sending side while client bytes still wait
	 * for it: they are delivered before the close. */
	route.buffer_size = 64 * 1024;
	open_bridge();
	int small = 16 * 1024;
	setsockopt(peer_fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	setsockopt(bridge_fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	size_t total = 512 * 1024, frame = 32 * 1024;
	uint8_t *p = malloc(total);
	fill_pattern(p, total, 0);
	for (size_t off = 0; off < total; off += frame)
		client_frame(WS_OP_BINARY, true, p + off, frame);
	free(p);
	run_for(100);
	shutdown(peer_fd, SHUT_WR);
	run_for(100);
	ck_assert_int_eq(C.n_close, 0);
	peer_want = total;
	ck_assert(run_until(peer_want_pred, 900));
	ck_assert(is_pattern(peer_in, total));
	ck_assert(run_until(close_pred, 2000));
	ck_assert_int_eq(C.close_code, 1000);
	client_close(1000);
	ck_assert(run_until(done_pred, 2000));
	ck_assert_uint_eq(F.to_backend, total);
}
END_TEST

START_TEST(test_bridge_free_unstarted)
{
	struct gw_backend *b = connect_backend();
	struct gw_bridge *br = gw_bridge_new(b, &route, app_done, &F);
	ck_assert_ptr_nonnull(br);
	ck_assert_str_eq(gw_bridge_backend_address(br), gw_backend_address(b));
	gw_bridge_free(br);
	ck_assert(run_until(peer_eof_pred, 3000));
	ck_assert_int_eq(F.done_calls, 0);
}
END_TEST

/* ---- gw_echo ---------------------------------------------------------- */

static void open_echo(void)
{
	struct gw_echo *e = gw_echo_new(app_done, &F);
	ck_assert_ptr_nonnull(e);
	start_session(&gw_echo_handler, e);
	gw_echo_attach(e, F.s);
	ws_session_start(F.s);
}

static size_t want_messages;
static bool messages_pred(void)
{
	return C.n_messages >= want_messages;
}

START_TEST(test_echo_types_and_boundaries)
{
	open_echo();
	client_frame(WS_OP_TEXT, false, "Hel", 3);
	client_frame(WS_OP_CONTINUATION, false, "lo ", 3);
	client_frame(WS_OP_PING, true, "", 0);
	client_frame(WS_OP_CONTINUATION, true, "w\xc3\xb6rld", 6);
	client_frame(WS_OP_BINARY, true, "\x00\xff", 2);
	client_frame(WS_OP_BINARY, true, "", 0);
	want_messages = 3;
	ck_assert(run_until(messages_pred, 3000));
	ck_assert_uint_eq(C.n_messages, 3);
	ck_assert_uint_eq(evbuffer_get_length(C.data), 14);
	ck_assert_mem_eq(evbuffer_pullup(C.data, -1), "Hello w\xc3\xb6rld\x00\xff", 14);
	/* Message types and ends survive: text (one or more fragments, the
	 * last with FIN), then binary, then an empty binary; pongs aside. */
	struct rx_frame d[MAX_FRAMES];
	size_t n = 0, i = 0, text_len = 0;
	for (size_t k = 0; k < C.n_frames; k++)
		if (C.frames[k].opcode != WS_OP_PONG)
			d[n++] = C.frames[k];
	ck_assert_uint_ge(n, 3);
	ck_assert_uint_eq(d[0].opcode, WS_OP_TEXT);
	for (;; i++) {
		ck_assert_uint_lt(i, n);
		if (i > 0)
			ck_assert_uint_eq(d[i].opcode, WS_OP_CONTINUATION);
		text_len += d[i].len;
		if (d[i].fin)
			break;
	}
	ck_assert_uint_eq(text_len, 12);
	ck_assert_uint_eq(n, i + 3);
	ck_assert_uint_eq(d[i + 1].opcode, WS_OP_BINARY);
	ck_assert(d[i + 1].fin);
	ck_assert_uint_eq(d[i + 1].len, 2);
	ck_assert_uint_eq(d[i + 2].opcode, WS_OP_BINARY);
	ck_assert(d[i + 2].fin);
	ck_assert_uint_eq(d[i + 2].len, 0);
}
END_TEST

START_TEST(test_echo_close)
{
	open_echo();
	client_frame(WS_OP_BINARY, true, "abc", 3);
	client_close(1000);
	ck_assert(run_until(done_pred, 3000));
	ck_assert_int_eq(C.n_close, 1);
	ck_assert_int_eq(C.close_code, 1000);
	ck_assert_mem_eq(evbuffer_pullup(C.data, -1), "abc", 3);
	ck_assert_int_eq(F.code_sent, 1000);
	ck_assert_int_eq(F.closes, 1);
	ck_assert(F.clean);
}
END_TEST

START_TEST(test_echo_backpressure)
{
	open_echo();
	F.blocked = true;
	size_t total = 2 * 1024 * 1024, frame = 16 * 1024;
	uint8_t *p = malloc(total);
	fill_pattern(p, total, 0);
	for (size_t off = 0; off < total; off += frame)
		client_frame(WS_OP_BINARY, true, p + off, frame);
	free(p);
	run_for(50);
	ck_assert(ws_session_paused(F.s));
	ck_assert_uint_gt(evbuffer_get_length(F.in), total / 2);
	ck_assert_uint_le(ws_session_queued(F.s), 64 * 1024 + frame + 64);
	uint64_t end = now_ms() + 10000;
	while (evbuffer_get_length(C.data) < total && now_ms() < end) {
		unblock();
		run_for(1);
	}
	ck_assert(is_pattern(C.data, total));
	ck_assert_uint_eq(C.n_messages, total / frame);
	ck_assert_int_eq(F.done_calls, 0);
}
END_TEST

START_TEST(test_echo_abort)
{
	open_echo();
	client_frame(WS_OP_TEXT, true, "x", 1);
	run_for(10);
	ws_session_transport_closed(F.s, false);
	ck_assert_int_eq(F.done_calls, 1);
	ck_assert_ptr_null(F.s);
}
END_TEST

static Suite *bridge_suite(void)
{
	Suite *s = suite_create("bridge");
	TCase *tb = tcase_create("backend");
	tcase_add_checked_fixture(tb, setup, teardown);
	tcase_set_timeout(tb, 15);
	tcase_add_test(tb, test_connect_ok);
	tcase_add_test(tb, test_connect_refused);
	tcase_add_test(tb, test_connect_unix);
	tcase_add_test(tb, test_connect_timeout);
	tcase_add_test(tb, test_connect_dns);
	suite_add_tcase(s, tb);

	TCase *tr = tcase_create("bridge");
	tcase_add_checked_fixture(tr, setup, teardown);
	tcase_set_timeout(tr, 15);
	tcase_add_test(tr, test_bridge_to_backend_in_order);
	tcase_add_test(tr, test_bridge_from_backend);
	tcase_add_test(tr, test_bridge_backend_eof);
	tcase_add_test(tr, test_bridge_backend_eof_while_client_blocked);
	tcase_add_test(tr, test_bridge_backend_reset);
	tcase_add_test(tr, test_bridge_client_close_half_closes);
	tcase_add_test(tr, test_bridge_client_close_linger);
	tcase_add_test(tr, test_bridge_close_races);
	tcase_add_test(tr, test_bridge_close_after_backend_eof_seen);
	tcase_add_test(tr, test_bridge_client_abort);
	tcase_add_test(tr, test_bridge_abort_with_backend_pending_data);
	tcase_add_test(tr, test_bridge_backpressure_to_client);
	tcase_add_test(tr, test_bridge_backpressure_to_backend);
	tcase_add_test(tr, test_bridge_backend_eof_while_client_paused);
	tcase_add_test(tr, test_bridge_backend_eof_flushes_output);
	tcase_add_test(tr, test_bridge_free_unstarted);
	suite_add_tcase(s, tr);

	TCase *te = tcase_create("echo");
	tcase_add_checked_fixture(te, setup, teardown);
	tcase_set_timeout(te, 15);
	tcase_add_test(te, test_echo_types_and_boundaries);
	tcase_add_test(te, test_echo_close);
	tcase_add_test(te, test_echo_backpressure);
	tcase_add_test(te, test_echo_abort);
	suite_add_tcase(s, te);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(bridge_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
