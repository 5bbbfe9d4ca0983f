/* fuzz_h2: an arbitrary HTTP/2 client byte stream into gw_h2.
 *
 * A real gw_h2 connection (nghttp2 server session, stream table, echo
 * WebSocket sessions, static files, error responses) runs over a
 * socketpair on a libevent loop.  The input, after a fixed client
 * preface and empty SETTINGS frame, is what the client sends; the loop
 * runs until the input is consumed, the client side is then closed and
 * the connection must wind down (done called) within a bounded number
 * of loop turns.  Routes: /echo (echo with deflate), /chat (required
 * subprotocol), /o (origin list); a static root with one file.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "gw_config.h"
#include "gw_h2.h"
#include "gw_log.h"
#include "gw_server.h"
#include "gw_transport.h"

#define CHECK(c)                                                                                   \
	do {                                                                                       \
		if (!(c))                                                                          \
			abort();                                                                   \
	} while (0)

/* Largest input used: the socketpair must take it without a reader. */
#define INPUT_MAX (96 * 1024)
/* Loop turns allowed for the wind-down after the client closed. */
#define TURNS_MAX 200

static const char conf[] = "[server]\n"
                           "max_headers = 50\n"
                           "h2_max_concurrent_streams = 16\n"
                           "h2_max_header_list = 4K\n"
                           "[listen plain]\n"
                           "address = 127.0.0.1:1\n"
                           "[route echo]\n"
                           "path = /echo\n"
                           "backend = echo\n"
                           "permessage_deflate = on\n"
                           "max_message_size = 64K\n"
                           "[route chat]\n"
                           "path = /chat\n"
                           "backend = echo\n"
                           "subprotocols = a, b\n"
                           "require_subprotocol = on\n"
                           "[route o]\n"
                           "path = /o*\n"
                           "backend = echo\n"
                           "allowed_origins = https://x.example\n";

static const uint8_t prefix[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                                "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
#define PREFIX_LEN (24 + 9)

static struct event_base *base;
static struct gw_cfgref ref;
static struct gw_worker worker;

struct fz {
	struct gw_transport tr; /* the daemon side */
	struct gw_h2 *h;        /* the connection */
	bool done;              /* done ran */
	int dones;              /* how often */
};

static void o_read(void *arg)
{
}
static void o_eof(void *arg, bool clean)
{
}
static void o_timeout(void *arg)
{
}
static void o_gone(void *arg)
{
}

static const struct gw_transport_owner owner = {o_read, o_eof, o_timeout, o_gone};

static void done_cb(void *arg, bool clean)
{
	struct fz *f = arg;
	f->done = true;
	f->dones++;
}

static void init(void)
{
	char err[GW_CONFIG_ERR_MAX];
	struct gw_config *cfg = NULL;
	char lerr[256];
	gw_log_configure(GW_LOG_ERROR, "off", lerr, sizeof(lerr));
	CHECK(gw_config_parse("fuzz", conf, sizeof(conf) - 1, &cfg, err) == 0);
	char dir[] = "/tmp/fuzz_h2_XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char path[64];
	snprintf(path, sizeof(path), "%s/index.html", dir);
	FILE *fp = fopen(path, "w");
	CHECK(fp != NULL);
	for (int i = 0; i < 2000; i++)
		fputs("<p>static file line</p>\n", fp);
	fclose(fp);
	ref.cfg = cfg;
	ref.static_root = realpath(dir, NULL);
	atomic_init(&ref.refs, 1);
	base = event_base_new();
	CHECK(base != NULL);
	worker.base = base;
}

/* Read and drop what the server wrote, so that it never blocks. */
static void drain_peer(int fd)
{
	char buf[65536];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (base == NULL)
		init();
	if (size > INPUT_MAX)
		size = INPUT_MAX;
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
	int sz = 512 * 1024;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));

	struct fz f;
	memset(&f, 0, sizeof(f));
	CHECK(gw_transport_init(&f.tr, base, sv[0], NULL, NULL, 0, &owner, &f) == 0);
	f.h = gw_h2_new(&worker, &ref, &f.tr, false, done_cb, &f);
	CHECK(f.h != NULL);

	CHECK(write(sv[1], prefix, PREFIX_LEN) == PREFIX_LEN);
	size_t off = 0;
	for (int turn = 0; turn < 4 * TURNS_MAX && !f.done; turn++) {
		if (off < size) {
			ssize_t n = write(sv[1], data + off, size - off);
			if (n > 0)
				off += (size_t)n;
		}
		event_base_loop(base, EVLOOP_NONBLOCK);
		drain_peer(sv[1]);
		if (off >= size && turn > 8)
			break;
	}
	close(sv[1]);
	for (int turn = 0; turn < TURNS_MAX && !f.done; turn++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	/* The peer is gone: the connection must have ended by itself. */
	CHECK(f.done);
	CHECK(f.dones == 1);
	gw_h2_free(f.h);
	gw_transport_cleanup(&f.tr);
	return 0;
}
