/* gw_backend: outbound connection to a route's stream backend.
 *
 * The connect is a small state machine driven only from the event loop:
 * gw_backend_connect arms a zero-delay "start" event and returns, so the
 * ready callback can never run inside it.  From there: resolve (numeric
 * hosts at once, names through evdns), then try each address in order
 * with one non-blocking socket at a time, all under one deadline timer.
 * The attempt's gw_sock is the connection once it succeeds, so the
 * socket is registered with the loop only once.
 */
#include "gw_backend.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/util.h>

/* Longest address text kept for logs: "[v6]:port" or "unix:" + path. */
#define ADDR_TEXT_MAX (sizeof("unix:") + sizeof(((struct sockaddr_un *)0)->sun_path) + 8)

enum backend_state {
	BACKEND_STARTING,   /* start event armed, nothing begun */
	BACKEND_RESOLVING,  /* evdns request in flight */
	BACKEND_CONNECTING, /* a connect on sock in flight (addr tells which) */
	BACKEND_CONNECTED,  /* ready callback said 0; sock's callbacks belong to the user */
	BACKEND_FAILED,     /* ready callback said 502/504; nothing in flight */
};

/* The evdns callback may arrive after the backend is gone (evdns
 * delivers EAI_CANCEL later, from the loop), so it gets this small
 * context instead; the backend detaches from it on free and the
 * callback frees it. */
struct dns_ctx {
	struct gw_backend *owner;              /* NULL once the backend is freed */
	struct evdns_getaddrinfo_request *req; /* in-flight request, NULL when done */
};

struct gw_backend {
	enum backend_state state;      /* where the connect is */
	struct event_base *base;       /* loop everything runs on */
	struct evdns_base *dns;        /* resolver for names; may be NULL */
	const struct gw_route *route;  /* configured backend and timeouts */
	gw_backend_ready_cb cb;        /* told the outcome, once */
	void *cb_arg;                  /* its argument */
	struct event *start_ev;        /* zero-delay start (keeps cb out of connect) */
	struct event *deadline_ev;     /* connect_timeout for all addresses together */
	struct dns_ctx *dns_ctx;       /* in-flight resolution, or NULL */
	struct evutil_addrinfo *addrs; /* resolved addresses (owned) */
	struct evutil_addrinfo *next;  /* next address to try */
	struct gw_sock sock;           /* current connect attempt, then the connection */
	int last_error;                /* errno of the last failed attempt, for logs */
	char addr[ADDR_TEXT_MAX];      /* address for logs */
};

static void start_cb(evutil_socket_t fd, short what, void *arg);
static void deadline_cb(evutil_socket_t fd, short what, void *arg);
static void try_next(struct gw_backend *b);

/* Report the outcome.  The user may free b inside cb, so nothing may
 * touch b after this returns. */
static void report(struct gw_backend *b, int status)
{
	if (b->deadline_ev != NULL)
		event_del(b->deadline_ev);
	b->state = status == GW_BACKEND_OK ? BACKEND_CONNECTED : BACKEND_FAILED;
	b->cb(b, status, b->cb_arg);
}

static void set_addr_text(struct gw_backend *b, const struct sockaddr *sa)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		evutil_inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(b->addr, sizeof(b->addr), "%s:%u", host, (unsigned)ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		evutil_inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(b->addr, sizeof(b->addr), "[%s]:%u", host,
		         (unsigned)ntohs(in6->sin6_port));
	}
}

static void free_addrs(struct gw_backend *b)
{
	if (b->addrs != NULL)
		evutil_freeaddrinfo(b->addrs);
	b->addrs = NULL;
	b->next = NULL;
}

static void drop_sock(struct gw_backend *b)
{
	gw_sock_close(&b->sock, false);
}

static void connect_event_cb(struct gw_sock *sock, enum gw_sock_event what, void *arg)
{
	struct gw_backend *b = arg;

	if (what == GW_SOCK_CONNECTED) {
		/* The user installs its own callbacks; until then nothing
		 * may call back into the backend. */
		static const struct gw_sock_cbs none;
		gw_sock_setcb(sock, &none);
		free_addrs(b);
		report(b, GW_BACKEND_OK);
		return;
	}
	b->last_error = sock->error != 0 ? sock->error : ECONNREFUSED;
	drop_sock(b);
	try_next(b);
}

/* Start a connect to sa on a fresh socket.  Returns false when it
 * failed at once (b->last_error says why: ENOENT for a unix path,
 * EAGAIN for a full unix backlog, ECONNREFUSED, ...). */
static bool connect_one(struct gw_backend *b, const struct sockaddr *sa, socklen_t len)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		b->last_error = errno;
		return false;
	}
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
		/* Bridged bytes are forwarded as they come: Nagle would hold
		 * small messages back for a round trip. */
		int one = 1;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	if (connect(fd, sa, len) != 0 && errno != EINPROGRESS) {
		b->last_error = errno;
		close(fd);
		return false;
	}
	/* Even a connect that completed at once (unix sockets) is reported
	 * by the first write edge, from the loop. */
	if (gw_sock_init_connecting(&b->sock, b->base, fd) != 0) {
		b->last_error = ENOMEM;
		return false;
	}
	struct gw_sock_cbs cb = {NULL, NULL, connect_event_cb, b};
	gw_sock_setcb(&b->sock, &cb);
	b->state = BACKEND_CONNECTING;
	return true;
}

/* Try the remaining addresses in order until one connect is in flight;
 * report 502 when none is left. */
static void try_next(struct gw_backend *b)
{
	while (b->next != NULL) {
		struct evutil_addrinfo *ai = b->next;
		b->next = ai->ai_next;
		set_addr_text(b, ai->ai_addr);
		if (connect_one(b, ai->ai_addr, (socklen_t)ai->ai_addrlen))
			return;
	}
	free_addrs(b);
	report(b, GW_BACKEND_BAD_GATEWAY);
}

static void dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct dns_ctx *ctx = arg;
	struct gw_backend *b = ctx->owner;

	ctx->req = NULL;
	if (b == NULL) {
		/* The backend was freed while resolving. */
		if (res != NULL)
			evutil_freeaddrinfo(res);
		free(ctx);
		return;
	}
	b->dns_ctx = NULL;
	free(ctx);
	if (result != 0 || res == NULL) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		b->last_error = 0;
		report(b, GW_BACKEND_BAD_GATEWAY);
		return;
	}
	b->addrs = res;
	b->next = res;
	try_next(b);
}

static void start_tcp(struct gw_backend *b)
{
	const struct gw_route *r = b->route;
	struct evutil_addrinfo hints, *res = NULL;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_NUMERICHOST | EVUTIL_AI_NUMERICSERV;
	if (evutil_getaddrinfo(r->backend_host, r->backend_port, &hints, &res) == 0) {
		b->addrs = res;
		b->next = res;
		try_next(b);
		return;
	}
	if (b->dns == NULL) {
		report(b, GW_BACKEND_BAD_GATEWAY);
		return;
	}
	struct dns_ctx *ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL) {
		b->last_error = ENOMEM;
		report(b, GW_BACKEND_BAD_GATEWAY);
		return;
	}
	ctx->owner = b;
	b->dns_ctx = ctx;
	b->state = BACKEND_RESOLVING;
	/* No AI_ADDRCONFIG: libevent does not count loopback interfaces,
	 * so on a host with only loopback it would drop every answer.  An
	 * address of a family we cannot reach fails at once and the next
	 * one is tried. */
	hints.ai_flags = 0;
	/* evdns may answer at once (hosts file, cache) by calling dns_cb
	 * before returning NULL; dns_cb then already moved on and may even
	 * have reported, so b must not be touched in that case. */
	struct evdns_getaddrinfo_request *req =
	    evdns_getaddrinfo(b->dns, r->backend_host, r->backend_port, &hints, dns_cb, ctx);
	if (req != NULL)
		ctx->req = req;
}

static void start_unix(struct gw_backend *b)
{
	struct sockaddr_un sun;
	const char *path = b->route->backend_path;
	size_t n = path != NULL ? strlen(path) : 0;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (n == 0 || n >= sizeof(sun.sun_path)) {
		b->last_error = ENAMETOOLONG;
		report(b, GW_BACKEND_BAD_GATEWAY);
		return;
	}
	memcpy(sun.sun_path, path, n);
	if (!connect_one(b, (struct sockaddr *)&sun, (socklen_t)sizeof(sun)))
		report(b, GW_BACKEND_BAD_GATEWAY);
}

static void start_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_backend *b = arg;
	uint64_t ms = b->route->connect_timeout_ms;

	if (ms > 0) {
		struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
		                     .tv_usec = (suseconds_t)(ms % 1000) * 1000};
		event_add(b->deadline_ev, &tv);
	}
	if (b->route->backend_kind == GW_BACKEND_UNIX)
		start_unix(b);
	else
		start_tcp(b);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_backend *b = arg;

	if (b->state != BACKEND_RESOLVING && b->state != BACKEND_CONNECTING)
		return;
	if (b->dns_ctx != NULL) {
		struct dns_ctx *ctx = b->dns_ctx;
		ctx->owner = NULL;
		b->dns_ctx = NULL;
		if (ctx->req != NULL)
			evdns_getaddrinfo_cancel(ctx->req);
	}
	drop_sock(b);
	free_addrs(b);
	b->last_error = ETIMEDOUT;
	report(b, GW_BACKEND_TIMEOUT);
}

int gw_backend_connect(struct event_base *base, struct evdns_base *dns, const struct gw_route *r,
                       gw_backend_ready_cb cb, void *arg, struct gw_backend **out)
{
	struct gw_backend *b;

	*out = NULL;
	if (r->backend_kind != GW_BACKEND_TCP && r->backend_kind != GW_BACKEND_UNIX)
		return -1;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return -1;
	b->sock.fd = -1;
	b->state = BACKEND_STARTING;
	b->base = base;
	b->dns = dns;
	b->route = r;
	b->cb = cb;
	b->cb_arg = arg;
	if (r->backend_kind == GW_BACKEND_UNIX)
		snprintf(b->addr, sizeof(b->addr), "unix:%s",
		         r->backend_path != NULL ? r->backend_path : "");
	else if (r->backend_host != NULL && strchr(r->backend_host, ':') != NULL)
		snprintf(b->addr, sizeof(b->addr), "[%s]:%s", r->backend_host,
		         r->backend_port != NULL ? r->backend_port : "");
	else
		snprintf(b->addr, sizeof(b->addr), "%s:%s",
		         r->backend_host != NULL ? r->backend_host : "",
		         r->backend_port != NULL ? r->backend_port : "");
	b->start_ev = event_new(base, -1, 0, start_cb, b);
	b->deadline_ev = evtimer_new(base, deadline_cb, b);
	if (b->start_ev == NULL || b->deadline_ev == NULL) {
		gw_backend_free(b);
		return -1;
	}
	event_active(b->start_ev, 0, 0);
	*out = b;
	return 0;
}

void gw_backend_free(struct gw_backend *b)
{
	if (b == NULL)
		return;
	if (b->dns_ctx != NULL) {
		/* The callback still comes (with EAI_CANCEL) and frees ctx. */
		struct dns_ctx *ctx = b->dns_ctx;
		ctx->owner = NULL;
		if (ctx->req != NULL)
			evdns_getaddrinfo_cancel(ctx->req);
	}
	if (b->start_ev != NULL)
		event_free(b->start_ev);
	if (b->deadline_ev != NULL)
		event_free(b->deadline_ev);
	drop_sock(b);
	free_addrs(b);
	free(b);
}

const char *gw_backend_address(const struct gw_backend *b)
{
	return b->addr;
}

struct gw_sock *gw_backend_sock(struct gw_backend *b)
{
	return b->state == BACKEND_CONNECTED && gw_sock_open(&b->sock) ? &b->sock : NULL;
}

int gw_backend_error(const struct gw_backend *b)
{
	return b->last_error;
}
