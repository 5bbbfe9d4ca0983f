/* syscall_cost: what a system call costs on this machine, for the
 * benchmark's analysis (a gateway's efficiency at 64 B is mostly its
 * system calls).
 *
 * Three loops, each timed with CLOCK_MONOTONIC over a fixed count:
 *   null   getppid(), a call that does no work: the price of crossing
 *          into the kernel and back;
 *   empty  recv() on a non-blocking loopback TCP socket with nothing
 *          queued (EAGAIN): the price of a read that finds nothing;
 *   tcp64  send() of 64 bytes on a loopback TCP connection, then the
 *          recv() that takes them on the other end: one small message
 *          through the kernel, both calls.
 * Prints one JSON object with nanoseconds per iteration:
 *   {"null_ns": N, "empty_recv_ns": N, "tcp64_ns": N}
 * Exit status 1 when a socket cannot be set up.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NULL_ROUNDS  1000000
#define EMPTY_ROUNDS 300000
#define TCP_ROUNDS   200000

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A connected loopback TCP pair: fds[0] the client, fds[1] the accepted
 * end.  Returns 0 or -1. */
static int tcp_pair(int fds[2])
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int one = 1;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 1) != 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) != 0)
		return -1;
	fds[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&a, sizeof(a)) != 0)
		return -1;
	fds[1] = accept(l, NULL, NULL);
	close(l);
	if (fds[1] < 0)
		return -1;
	setsockopt(fds[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

int main(void)
{
	int fds[2];
	char buf[64];
	double t0, null_ns, empty_ns, tcp_ns;

	if (tcp_pair(fds) != 0) {
		fprintf(stderr, "syscall_cost: loopback TCP: %s\n", strerror(errno));
		return 1;
	}
	memset(buf, 'x', sizeof(buf));

	t0 = now_ns();
	for (int i = 0; i < NULL_ROUNDS; i++)
		syscall(SYS_getppid);
	null_ns = (now_ns() - t0) / NULL_ROUNDS;

	t0 = now_ns();
	for (int i = 0; i < EMPTY_ROUNDS; i++)
		if (recv(fds[1], buf, sizeof(buf), MSG_DONTWAIT) >= 0)
			return 1; /* nothing was sent: a byte here is a broken probe */
	empty_ns = (now_ns() - t0) / EMPTY_ROUNDS;

	t0 = now_ns();
	for (int i = 0; i < TCP_ROUNDS; i++) {
		size_t got = 0;
		if (send(fds[0], buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
			return 1;
		while (got < sizeof(buf)) {
			ssize_t n = recv(fds[1], buf + got, sizeof(buf) - got, 0);
			if (n <= 0)
				return 1;
			got += (size_t)n;
		}
	}
	tcp_ns = (now_ns() - t0) / TCP_ROUNDS;

	printf("{\"null_ns\": %.0f, \"empty_recv_ns\": %.0f, \"tcp64_ns\": %.0f}\n", null_ns,
	       empty_ns, tcp_ns);
	return 0;
}
