/* tcp_echo: the benchmark's TCP echo backend.
 *
 * One thread, level-triggered epoll, non-blocking sockets.  Every byte a
 * client sends is written back on the same connection, in order.  Bytes
 * are read into one shared buffer and written straight back; only what
 * the kernel did not take is kept, in a per-connection heap buffer that
 * is freed as soon as it drains, so an idle connection costs no memory
 * here beyond its socket.  While a connection has such a remainder it is
 * not read (backpressure: the sender's window fills instead of our heap).
 * On the client's EOF the remainder is flushed, then the write side is
 * shut down and the socket closed.
 *
 * Usage: tcp_echo [-a ADDR] [-p PORT] [-f PORTFILE]
 *   ADDR defaults to 127.0.0.1, PORT to 0 (any free port).  The bound
 *   port is written to PORTFILE (atomically, via rename) when given, and
 *   always printed on stdout as "port N".  SIGTERM/SIGINT exit at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* One read: large enough that 64 KiB and 1 MiB messages move in few
 * system calls. */
#define READ_CHUNK (256 * 1024)
/* Events taken per epoll_wait. */
#define MAX_EVENTS 256

/* Per-connection state, indexed by file descriptor. */
struct conn {
	char *pend;   /* bytes read but not yet written back; NULL when none */
	size_t off;   /* first unwritten byte in pend */
	size_t len;   /* end of the valid bytes in pend */
	bool eof;     /* the client shut down its write side */
	bool writing; /* EPOLLOUT is armed (and EPOLLIN is not) */
};

static struct conn *conns;    /* conns[fd] for every fd below max_fd */
static size_t max_fd;         /* size of conns (the fd soft limit) */
static int ep;                /* the epoll instance */
static char rbuf[READ_CHUNK]; /* shared read buffer */
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void drop(int fd)
{
	struct conn *c = &conns[fd];

	free(c->pend);
	memset(c, 0, sizeof(*c));
	epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
	close(fd);
}

static int arm(int fd, bool writing)
{
	struct epoll_event ev = {.events = writing ? EPOLLOUT : EPOLLIN, .data.fd = fd};

	conns[fd].writing = writing;
	return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

/* Writes what is pending; returns 1 when all of it went out, 0 when the
 * socket is full, -1 when the connection failed. */
static int flush_pending(int fd)
{
	struct conn *c = &conns[fd];

	while (c->off < c->len) {
		ssize_t n = send(fd, c->pend + c->off, c->len - c->off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
		}
		c->off += (size_t)n;
	}
	free(c->pend);
	c->pend = NULL;
	c->off = c->len = 0;
	return 1;
}

static void finish_eof(int fd)
{
	shutdown(fd, SHUT_WR);
	drop(fd);
}

static void on_readable(int fd)
{
	struct conn *c = &conns[fd];
	/* Bound the work per wakeup so that one fast sender cannot starve
	 * the other connections. */
	for (int round = 0; round < 4; round++) {
		ssize_t n = recv(fd, rbuf, sizeof(rbuf), 0);
		if (n == 0) {
			c->eof = true;
			finish_eof(fd);
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				drop(fd);
			return;
		}
		size_t done = 0;
		while (done < (size_t)n) {
			ssize_t w = send(fd, rbuf + done, (size_t)n - done, MSG_NOSIGNAL);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN && errno != EWOULDBLOCK) {
					drop(fd);
					return;
				}
				break;
			}
			done += (size_t)w;
		}
		if (done < (size_t)n) {
			size_t rest = (size_t)n - done;
			c->pend = malloc(rest);
			if (!c->pend) {
				drop(fd);
				return;
			}
			memcpy(c->pend, rbuf + done, rest);
			c->off = 0;
			c->len = rest;
			if (arm(fd, true) < 0)
				drop(fd);
			return;
		}
		if ((size_t)n < sizeof(rbuf))
			return;
	}
}

static void on_writable(int fd)
{
	int r = flush_pending(fd);

	if (r < 0) {
		drop(fd);
		return;
	}
	if (r == 0)
		return;
	if (conns[fd].eof) {
		finish_eof(fd);
		return;
	}
	if (arm(fd, false) < 0)
		drop(fd);
}

static void on_accept(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/* EAGAIN: all taken; EMFILE and friends: try again on the
			 * next wakeup rather than spin. */
			return;
		}
		if ((size_t)fd >= max_fd) {
			close(fd);
			continue;
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			continue;
		}
	}
}

static int write_port_file(const char *path, unsigned port)
{
	char tmp[4096];

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%u\n", port);
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

int main(int argc, char **argv)
{
	const char *addr = "127.0.0.1";
	const char *port_file = NULL;
	unsigned port = 0;
	int opt;

	while ((opt = getopt(argc, argv, "a:p:f:")) != -1) {
		switch (opt) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'f':
			port_file = optarg;
			break;
		default:
			fprintf(stderr, "usage: tcp_echo [-a ADDR] [-p PORT] [-f PORTFILE]\n");
			return 2;
		}
	}

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1;
	/* Take every descriptor the hard limit allows: the idle scenario
	 * holds one per session. */
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	getrlimit(RLIMIT_NOFILE, &rl);
	max_fd = rl.rlim_cur > (1u << 20) ? (1u << 20) : (size_t)rl.rlim_cur;
	conns = calloc(max_fd, sizeof(*conns));
	if (!conns)
		return 1;

	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "tcp_echo: bad IPv4 address %s\n", addr);
		return 2;
	}
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(lfd, 4096) < 0) {
		perror("tcp_echo: listen");
		return 1;
	}
	socklen_t sl = sizeof(sin);
	getsockname(lfd, (struct sockaddr *)&sin, &sl);
	port = ntohs(sin.sin_port);

	ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0) {
		perror("tcp_echo: epoll");
		return 1;
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (port_file && write_port_file(port_file, port) < 0) {
		perror("tcp_echo: port file");
		return 1;
	}
	printf("port %u\n", port);
	fflush(stdout);

	struct epoll_event evs[MAX_EVENTS];
	while (!stop) {
		int n = epoll_wait(ep, evs, MAX_EVENTS, 1000);
		if (n < 0 && errno != EINTR) {
			perror("tcp_echo: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == lfd) {
				on_accept(lfd);
				continue;
			}
			if (conns[fd].writing) {
				if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
					on_writable(fd);
			} else if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
				on_readable(fd);
			}
		}
	}
	return 0;
}
