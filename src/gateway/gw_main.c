/* wsgate: the WebSocket gateway daemon (see docs/wsgate.8). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "gw_config.h"
#include "gw_server.h"
#include "ws.h"

#define DEFAULT_CONFIG "/etc/wsgate/wsgate.conf"

static void usage(FILE *f)
{
	fprintf(f, "usage: wsgate [-t] [-c FILE]\n"
	           "  -c, --config FILE  configuration file (default " DEFAULT_CONFIG ")\n"
	           "  -t, --test         check the configuration and exit (0 valid, 1 not)\n"
	           "  -v, --version      print the version and exit\n"
	           "  -h, --help         print this help and exit\n"
	           "Signals: SIGHUP reloads the configuration and certificates, SIGTERM and\n"
	           "SIGINT stop gracefully (sessions are closed with 1001).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"test", no_argument, NULL, 't'},
	    {"version", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *path = DEFAULT_CONFIG;
	int test = 0, c;

	while ((c = getopt_long(argc, argv, "c:tvh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'v':
			printf("wsgate %s\n", WS_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}

	struct gw_config *cfg = NULL;
	char err[GW_CONFIG_ERR_MAX];
	if (gw_config_load(path, &cfg, err) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (test) {
		printf("%s: configuration OK\n", path);
		gw_config_free(cfg);
		return 0;
	}
	int rc = gw_server_run(path, cfg);
	/* libevent keeps the locks evthread_use_pthreads() made until this
	 * call; freeing them leaves valgrind a heap with nothing in use. */
	libevent_global_shutdown();
	return rc;
}
