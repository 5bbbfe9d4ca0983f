/* wsgate-client: a command-line WebSocket client for operators.
 *
 * Connects to a ws:// or wss:// URL (over HTTP/2 with --http2), sends
 * stdin as messages (a text message per line, or binary chunks with
 * --binary) and prints each received message on its own line (binary
 * as hex, or as raw bytes with --raw).  End of stdin starts the close
 * handshake (unless --close-after waits for a number of messages).  The
 * exit status tells how the session ended; see docs/wsgate-client.1.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "ws.h"
#include "wsc_client.h"

/* Exit statuses (documented in the man page). */
enum exit_status {
	EXIT_NORMAL = 0,    /* closed with 1000 or 1001 */
	EXIT_LOCAL = 1,     /* usage error or local failure */
	EXIT_HANDSHAKE = 2, /* resolve, connect, TLS or handshake failure */
	EXIT_ABNORMAL = 3,  /* closed without a close frame, or with another code */
	EXIT_PROTOCOL = 4,  /* the server broke the WebSocket protocol */
};

/* Longest stdin line sent as one text message. */
#define LINE_MAX_BYTES (16u << 20)
/* Most --header and --subprotocol options. */
#define MAX_OPTS 16
/* Bytes read from stdin at a time (one binary message each). */
#define READ_CHUNK 65536

struct client {
	struct event_base *base;  /* the loop */
	struct wsc_stream *st;    /* the WebSocket, NULL once closed */
	struct wsc_conn *conn;    /* its connection, NULL once closed */
	struct event *in_ev;      /* stdin readable */
	struct event *sig_ev;     /* SIGINT */
	struct event *sigterm_ev; /* SIGTERM */
	bool verbose;             /* -v */
	bool binary;              /* -b: stdin chunks as binary messages */
	bool raw;                 /* --raw: binary printed as is */
	long close_after;         /* close after this many messages (0 = off) */
	long received;            /* complete messages received */
	bool stdin_eof;           /* stdin ended */
	bool closing;             /* we started the close handshake */
	char *line;               /* partial stdin line */
	size_t line_len;          /* bytes in line */
	size_t line_cap;          /* size of line */
	int status;               /* exit status so far */
	bool open;                /* handshake completed */
	bool file_mode;           /* stdin cannot be polled (a regular file) */
	uint64_t linger_ms;       /* after stdin ends, close once quiet this long */
	struct event *linger_ev;  /* the quiet-period timer */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: wsgate-client [options] URL\n"
	           "  URL                  ws://host[:port]/path or wss://...\n"
	           "  --http2              WebSocket over HTTP/2 (RFC 8441 extended CONNECT)\n"
	           "  -v, --verbose        print the handshake and the close to stderr\n"
	           "  -b, --binary         send stdin as binary messages (default: a text\n"
	           "                       message per line)\n"
	           "  --raw                print received binary messages as raw bytes, not hex\n"
	           "  --subprotocol NAME   offer a subprotocol (repeatable)\n"
	           "  --deflate            offer permessage-deflate\n"
	           "  --insecure           do not verify the server certificate\n"
	           "  --ca FILE            verify against the CA certificates in FILE\n"
	           "  --header 'N: v'      add a request header (repeatable)\n"
	           "  --close-after N      close after receiving N messages\n"
	           "  --linger MS          after stdin ends, close once no message came for MS\n"
	           "                       milliseconds (default 300; 0 = at once)\n"
	           "  --timeout MS         connect and handshake timeout (default 10000)\n"
	           "  -h, --help           this text;  --version  the version\n"
	           "exit status: 0 closed with 1000/1001, 1 usage or local error,\n"
	           "  2 connect or handshake failure, 3 abnormal close or another close code,\n"
	           "  4 protocol error by the server\n");
}

static void trace(void *ud, char dir, const char *line, size_t len)
{
	fprintf(stderr, "%c %.*s\n", dir, (int)len, line);
}

static void stop_input(struct client *cl)
{
	if (cl->in_ev != NULL)
		event_del(cl->in_ev);
}

/* Read stdin again: a pollable stdin waits for EV_READ; a regular file
 * (which epoll refuses) is read one chunk per loop pass. */
static void start_input(struct client *cl)
{
	if (cl->in_ev == NULL || cl->closing || cl->stdin_eof)
		return;
	if (cl->file_mode)
		event_active(cl->in_ev, EV_READ, 0);
	else
		event_add(cl->in_ev, NULL);
}

static void start_close(struct client *cl, unsigned code)
{
	if (cl->closing || cl->st == NULL)
		return;
	cl->closing = true;
	stop_input(cl);
	wsc_stream_close(cl->st, code, NULL, 0);
}

static void arm_ms(struct event *ev, uint64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};

	evtimer_add(ev, &tv);
}

/* Stdin ended: replies may still be on their way, so close only after
 * a quiet period (restarted by each message received). */
static void arm_linger(struct client *cl)
{
	if (cl->linger_ms == 0)
		start_close(cl, WS_CLOSE_NORMAL);
	else
		arm_ms(cl->linger_ev, cl->linger_ms);
}

static void linger_cb(evutil_socket_t fd, short what, void *arg)
{
	start_close(arg, WS_CLOSE_NORMAL);
}

static int send_msg(struct client *cl, enum ws_opcode op, const uint8_t *p, size_t n)
{
	int rc = wsc_stream_send(cl->st, op, p, n);

	if (rc == WS_ERR_CLOSED) {
		/* The server is closing: what is left of stdin has nowhere to go. */
		stop_input(cl);
		return rc;
	}
	if (rc != WS_OK) {
		fprintf(stderr, "wsgate-client: send failed: %s\n", ws_strerror(rc));
		cl->status = EXIT_LOCAL;
		start_close(cl, WS_CLOSE_INTERNAL);
		return rc;
	}
	/* Stop reading stdin while the session's queue is above high water. */
	if (!ws_session_writable(wsc_stream_session(cl->st)))
		stop_input(cl);
	return WS_OK;
}

static void send_line(struct client *cl, const char *p, size_t n)
{
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (!ws_utf8_valid((const uint8_t *)p, n)) {
		fprintf(stderr, "wsgate-client: line is not valid UTF-8, sent as binary\n");
		send_msg(cl, WS_OP_BINARY, (const uint8_t *)p, n);
		return;
	}
	send_msg(cl, WS_OP_TEXT, (const uint8_t *)p, n);
}

static bool line_append(struct client *cl, const char *p, size_t n)
{
	if (cl->line_len + n > LINE_MAX_BYTES)
		return false;
	if (cl->line_len + n > cl->line_cap) {
		size_t cap = cl->line_cap ? cl->line_cap : 4096;
		char *q;

		while (cap < cl->line_len + n)
			cap *= 2;
		q = realloc(cl->line, cap);
		if (q == NULL)
			return false;
		cl->line = q;
		cl->line_cap = cap;
	}
	memcpy(cl->line + cl->line_len, p, n);
	cl->line_len += n;
	return true;
}

static void stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *cl = arg;
	char buf[READ_CHUNK];
	ssize_t n = read(0, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (!cl->binary && cl->line_len > 0)
			send_line(cl, cl->line, cl->line_len);
		cl->line_len = 0;
		cl->stdin_eof = true;
		stop_input(cl);
		if (cl->close_after == 0 || cl->received >= cl->close_after)
			arm_linger(cl);
		return;
	}
	if (cl->binary) {
		send_msg(cl, WS_OP_BINARY, (const uint8_t *)buf, (size_t)n);
		goto again;
	}
	for (char *p = buf, *end = buf + n; p < end && !cl->closing;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL) {
			if (!line_append(cl, p, (size_t)(end - p))) {
				fprintf(stderr, "wsgate-client: line longer than %u bytes\n",
				        LINE_MAX_BYTES);
				cl->status = EXIT_LOCAL;
				start_close(cl, WS_CLOSE_NORMAL);
			}
			break;
		}
		if (cl->line_len > 0) {
			if (!line_append(cl, p, (size_t)(nl - p))) {
				cl->status = EXIT_LOCAL;
				start_close(cl, WS_CLOSE_NORMAL);
				break;
			}
			send_line(cl, cl->line, cl->line_len);
			cl->line_len = 0;
		} else {
			send_line(cl, p, (size_t)(nl - p));
		}
		p = nl + 1;
	}
again:
	if (cl->file_mode && cl->st != NULL && ws_session_writable(wsc_stream_session(cl->st)))
		start_input(cl);
}

static void on_open(struct wsc_stream *st, void *ud, const struct ws_upgrade_result *res)
{
	struct client *cl = ud;

	cl->open = true;
	if (cl->verbose)
		fprintf(stderr, "* open%s%s%s%s\n", res->subprotocol ? ", subprotocol " : "",
		        res->subprotocol ? res->subprotocol : "", res->deflate ? ", deflate: " : "",
		        res->deflate ? res->extensions : "");
	start_input(cl);
}

static int on_message(struct wsc_stream *st, void *ud, enum ws_opcode op, const uint8_t *data,
                      size_t len, bool first, bool final)
{
	struct client *cl = ud;

	if (op == WS_OP_TEXT || cl->raw) {
		fwrite(data, 1, len, stdout);
	} else {
		for (size_t i = 0; i < len; i++)
			printf("%02x", data[i]);
	}
	if (!final)
		return 0;
	if (op == WS_OP_TEXT || !cl->raw)
		putchar('\n');
	fflush(stdout);
	cl->received++;
	if (cl->close_after > 0 && cl->received >= cl->close_after)
		start_close(cl, WS_CLOSE_NORMAL);
	else if (cl->stdin_eof && cl->close_after == 0)
		arm_linger(cl);
	return 0;
}

static void on_drain(struct wsc_stream *st, void *ud)
{
	struct client *cl = ud;

	start_input(cl);
}

static int exit_for(int err, uint16_t code)
{
	if (err <= -200 && err > -300)
		return EXIT_HANDSHAKE; /* WS_ERR_HS_* */
	if (err <= -300)
		return EXIT_HANDSHAKE; /* deflate negotiation */
	if (err <= -100)
		return EXIT_PROTOCOL;
	if (code == WS_CLOSE_NORMAL || code == WS_CLOSE_GOING_AWAY)
		return EXIT_NORMAL;
	return EXIT_ABNORMAL;
}

static void on_close(struct wsc_stream *st, void *ud, int err, uint16_t code, const uint8_t *reason,
                     size_t reason_len)
{
	struct client *cl = ud;
	int status;

	cl->st = NULL;
	stop_input(cl);
	if (!cl->open) {
		fprintf(stderr, "wsgate-client: %s\n", wsc_stream_error_text(st));
		status =
		    err != WS_OK && err > -100 && err != WS_ERR_TRANSPORT && err != WS_ERR_TIMEOUT
		        ? EXIT_LOCAL
		        : EXIT_HANDSHAKE;
	} else {
		status = exit_for(err, code);
		if (cl->verbose || status != EXIT_NORMAL)
			fprintf(stderr, "* closed: code %u%s%.*s%s%s\n", code,
			        reason_len ? ", reason: " : "", (int)reason_len,
			        (const char *)reason, err != WS_OK ? ", error: " : "",
			        err != WS_OK ? wsc_stream_error_text(st) : "");
	}
	if (cl->status == EXIT_NORMAL)
		cl->status = status;
	/* HTTP/2 connections outlive their streams: end this one too. */
	if (cl->conn != NULL)
		wsc_conn_close(cl->conn, false);
}

static void on_conn_close(struct wsc_conn *c, void *ud, int err)
{
	struct client *cl = ud;

	cl->conn = NULL;
	if (!cl->open && cl->status == EXIT_NORMAL && err != WS_OK) {
		fprintf(stderr, "wsgate-client: %s\n", wsc_conn_error_text(c));
		cl->status = EXIT_HANDSHAKE;
	}
	event_base_loopexit(cl->base, NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct client *cl = arg;

	if (cl->st != NULL && cl->open && !cl->closing) {
		start_close(cl, WS_CLOSE_GOING_AWAY);
		return;
	}
	/* Second signal, or nothing to close politely: leave now. */
	if (cl->conn != NULL)
		wsc_conn_close(cl->conn, true);
	else
		event_base_loopexit(cl->base, NULL);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"http2", no_argument, NULL, '2'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"binary", no_argument, NULL, 'b'},
	    {"raw", no_argument, NULL, 'r'},
	    {"subprotocol", required_argument, NULL, 's'},
	    {"deflate", no_argument, NULL, 'd'},
	    {"insecure", no_argument, NULL, 'k'},
	    {"ca", required_argument, NULL, 'C'},
	    {"header", required_argument, NULL, 'H'},
	    {"close-after", required_argument, NULL, 'n'},
	    {"timeout", required_argument, NULL, 't'},
	    {"linger", required_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	static const struct wsc_stream_cb scb = {on_open, on_message, on_drain, on_close};
	static const struct wsc_conn_cb ccb = {NULL, on_conn_close};
	struct client cl = {.linger_ms = 300};
	struct wsc_options o;
	struct wsc_url url;
	struct wsc_ctx *ctx = NULL;
	const char *protos[MAX_OPTS], *ca = NULL;
	struct ws_header headers[MAX_OPTS];
	size_t n_protos = 0, n_headers = 0;
	bool insecure = false;
	int opt, rc;
	char *end;

	wsc_options_default(&o);
	while ((opt = getopt_long(argc, argv, "vbh", lo, NULL)) != -1) {
		switch (opt) {
		case '2':
			o.http2 = true;
			break;
		case 'v':
			cl.verbose = true;
			break;
		case 'b':
			cl.binary = true;
			break;
		case 'r':
			cl.raw = true;
			break;
		case 's':
			if (n_protos == MAX_OPTS) {
				fprintf(stderr, "wsgate-client: too many subprotocols\n");
				return EXIT_LOCAL;
			}
			protos[n_protos++] = optarg;
			break;
		case 'd':
			o.deflate = true;
			break;
		case 'k':
			insecure = true;
			break;
		case 'C':
			ca = optarg;
			break;
		case 'H':
			if (n_headers == MAX_OPTS ||
			    wsc_http_split_header(optarg, &headers[n_headers]) != WS_OK) {
				fprintf(stderr, "wsgate-client: bad header '%s'\n", optarg);
				return EXIT_LOCAL;
			}
			n_headers++;
			break;
		case 'n':
			cl.close_after = strtol(optarg, &end, 10);
			if (*end != '\0' || cl.close_after < 1) {
				fprintf(stderr, "wsgate-client: bad --close-after '%s'\n", optarg);
				return EXIT_LOCAL;
			}
			break;
		case 't':
			o.connect_timeout_ms = strtoull(optarg, &end, 10);
			if (*end != '\0') {
				fprintf(stderr, "wsgate-client: bad --timeout '%s'\n", optarg);
				return EXIT_LOCAL;
			}
			o.handshake_timeout_ms = o.connect_timeout_ms;
			break;
		case 'l':
			cl.linger_ms = strtoull(optarg, &end, 10);
			if (*end != '\0') {
				fprintf(stderr, "wsgate-client: bad --linger '%s'\n", optarg);
				return EXIT_LOCAL;
			}
			break;
		case 'h':
			usage(stdout);
			return EXIT_NORMAL;
		case 'V':
			printf("wsgate-client %s\n", WS_VERSION);
			return EXIT_NORMAL;
		default:
			usage(stderr);
			return EXIT_LOCAL;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return EXIT_LOCAL;
	}
	if (wsc_url_parse(argv[optind], &url) != WS_OK) {
		fprintf(stderr,
		        "wsgate-client: bad URL '%s' (ws://host[:port]/path or wss://...)\n",
		        argv[optind]);
		return EXIT_LOCAL;
	}
	o.subprotocols = protos;
	o.n_subprotocols = n_protos;
	o.headers = headers;
	o.n_headers = n_headers;
	if (cl.verbose) {
		o.trace = trace;
		o.trace_ud = &cl;
	}
	signal(SIGPIPE, SIG_IGN);
	cl.base = event_base_new();
	if (cl.base == NULL || wsc_ctx_new(&ctx, cl.base, insecure, ca) != WS_OK) {
		fprintf(stderr, "wsgate-client: setup failed%s%s\n", ca ? ": cannot load " : "",
		        ca ? ca : "");
		return EXIT_LOCAL;
	}
	evutil_make_socket_nonblocking(0);
	cl.in_ev = event_new(cl.base, 0, EV_READ | EV_PERSIST, stdin_cb, &cl);
	if (cl.in_ev != NULL && event_add(cl.in_ev, NULL) != 0) {
		/* stdin is a regular file or /dev/null, which epoll refuses. */
		event_free(cl.in_ev);
		cl.file_mode = true;
		cl.in_ev = event_new(cl.base, -1, 0, stdin_cb, &cl);
	} else if (cl.in_ev != NULL) {
		event_del(cl.in_ev); /* reading starts once the session is open */
	}
	cl.linger_ev = evtimer_new(cl.base, linger_cb, &cl);
	cl.sig_ev = evsignal_new(cl.base, SIGINT, on_signal, &cl);
	cl.sigterm_ev = evsignal_new(cl.base, SIGTERM, on_signal, &cl);
	event_add(cl.sig_ev, NULL);
	event_add(cl.sigterm_ev, NULL);
	rc = wsc_conn_new(&cl.conn, ctx, &url, &o, &ccb, &cl);
	if (rc == WS_OK)
		rc = wsc_stream_new(&cl.st, cl.conn, &scb, &cl);
	if (rc != WS_OK) {
		fprintf(stderr, "wsgate-client: %s\n", ws_strerror(rc));
		return EXIT_LOCAL;
	}
	event_base_dispatch(cl.base);
	if (cl.in_ev != NULL)
		event_free(cl.in_ev);
	event_free(cl.linger_ev);
	event_free(cl.sig_ev);
	event_free(cl.sigterm_ev);
	wsc_ctx_free(ctx);
	event_base_free(cl.base);
	free(cl.line);
	return cl.status;
}
