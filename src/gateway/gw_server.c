/* gw_server: listeners, workers, signals, reload, shutdown (see gw_server.h). */
#include "gw_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/thread.h>

#include "gw_conn.h"
#include "gw_log.h"
#include "gw_tls.h"
#include "gw_transport.h"

/* Permissions of unix listening sockets: any local user may connect;
 * restrict access with the directory's permissions. */
#define UNIX_SOCKET_MODE 0666
/* Extra time after the sessions' close timeout before the rest is aborted. */
#define DRAIN_GRACE_MS 1000

/* ---- config references ---- */

static struct gw_cfgref *cfgref_new(struct gw_config *cfg)
{
	struct gw_cfgref *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->cfg = cfg;
	if (cfg->static_root) {
		/* gw_static wants a symlink-free absolute root; a missing root is
		 * logged and static files are then simply not found. */
		r->static_root = realpath(cfg->static_root, NULL);
		if (r->static_root == NULL)
			gw_log_warn("[static] root %s: %s", cfg->static_root, strerror(errno));
	}
	atomic_init(&r->refs, 1);
	return r;
}

void gw_cfgref_get(struct gw_cfgref *r)
{
	atomic_fetch_add(&r->refs, 1);
}

void gw_cfgref_put(struct gw_cfgref *r)
{
	if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	gw_config_free(r->cfg);
	free(r->static_root);
	free(r);
}

/* ---- systemd ---- */

int gw_server_notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (path == NULL || path[0] == '\0')
		return 0;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, path, len);
	if (path[0] == '@')
		sun.sun_path[0] = '\0'; /* abstract namespace */
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	ssize_t n = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sun, sl);
	close(fd);
	return n < 0 ? -1 : 0;
}

static void notify_status(const char *state, struct gw_server *srv)
{
	char msg[256];
	snprintf(msg, sizeof(msg), "%sSTATUS=%d workers, %zu listeners, %zu routes", state,
	         srv->n_workers, srv->lset ? srv->lset->n : 0, srv->cfg->cfg->n_routes);
	gw_server_notify(msg);
}

/* ---- listening sockets ---- */

/* SO_REUSEPORT would let us share a port with another process of the
 * same user (a second wsgate started by mistake), silently splitting the
 * traffic.  A socket without it cannot bind while anyone listens there,
 * so one probe bind tells whether the address is really free. */
static int probe_inet(const struct sockaddr_storage *ss, socklen_t len)
{
	const struct sockaddr_in *s4 = (const void *)ss;
	const struct sockaddr_in6 *s6 = (const void *)ss;
	if ((ss->ss_family == AF_INET && s4->sin_port == 0) ||
	    (ss->ss_family == AF_INET6 && s6->sin6_port == 0))
		return 0; /* an ephemeral port is free by construction */
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1, rc = 0;
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) != 0)
		rc = -1;
	int saved = errno;
	close(fd);
	errno = saved;
	return rc;
}

static int open_inet(const struct sockaddr_storage *ss, socklen_t len, bool probe, char *err,
                     size_t errlen)
{
	int fd = -1, one = 1;
	if (probe && probe_inet(ss, len) != 0)
		goto fail;
	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
		goto fail;
	/* [::]:port means IPv6 only; IPv4 gets its own listener. */
	if (ss->ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)
		goto fail;
	if (bind(fd, (const struct sockaddr *)ss, len) != 0)
		goto fail;
	if (listen(fd, GW_SERVER_BACKLOG) != 0)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "%s", strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static int open_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct stat st;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "socket path too long");
		return -1;
	}
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* A socket left by a previous run that did not clean up is removed,
	 * but never one somebody still listens on, nor anything that is not
	 * a socket. */
	if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		int live = probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0;
		if (probe >= 0)
			close(probe);
		if (live) {
			errno = EADDRINUSE;
			goto fail;
		}
		unlink(path);
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0)
		goto fail;
	if (chmod(path, UNIX_SOCKET_MODE) != 0 || listen(fd, GW_SERVER_BACKLOG) != 0)
		goto fail;
	return fd;
fail:
	snprintf(err, errlen, "%s", strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static bool same_socket(const struct gw_lsock *a, const struct gw_listen *l)
{
	if (a->kind != l->kind)
		return false;
	if (a->kind == GW_ADDR_UNIX)
		return strcmp(a->unix_path, l->unix_path) == 0;
	/* Compare what was asked for: a->addr has the port filled in when 0
	 * was configured, which is then never "the same" (new socket). */
	return a->addr_len == l->addr_len && memcmp(&a->addr, &l->addr, l->addr_len) == 0;
}

static void close_fds(struct gw_lsock *ls, int n_workers, bool unlink_path)
{
	if (ls->fds == NULL)
		return;
	/* A socket moved to a newer set has fds of -1 here: its path is in
	 * use again and must not be unlinked. */
	bool owned = ls->fds[0] >= 0;
	for (int i = 0; i < n_workers; i++) {
		if (ls->fds[i] >= 0)
			close(ls->fds[i]);
		ls->fds[i] = -1;
	}
	if (owned && unlink_path && ls->kind == GW_ADDR_UNIX && ls->unix_path)
		unlink(ls->unix_path);
}

static void lset_free(struct gw_lset *set, int n_workers, bool close_sockets)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->n; i++) {
		struct gw_lsock *ls = &set->ls[i];
		if (close_sockets)
			close_fds(ls, n_workers, true);
		free(ls->fds);
		free(ls->name);
		free(ls->address);
		free(ls->unix_path);
		gw_tls_ctx_free(ls->tls);
	}
	free(set->ls);
	free(set);
}

/* Open the sockets of one listener: one SO_REUSEPORT socket per worker
 * for inet (the kernel spreads connections over them), one shared
 * socket (dup'ed per worker) for unix. */
static int lsock_bind(struct gw_lsock *ls, int n_workers, char *err, size_t errlen)
{
	for (int i = 0; i < n_workers; i++) {
		if (ls->kind == GW_ADDR_UNIX) {
			ls->fds[i] = i == 0 ? open_unix(ls->unix_path, err, errlen)
			                    : fcntl(ls->fds[0], F_DUPFD_CLOEXEC, 0);
			if (ls->fds[i] < 0 && i > 0)
				snprintf(err, errlen, "dup: %s", strerror(errno));
		} else {
			ls->fds[i] = open_inet(&ls->addr, ls->addr_len, i == 0, err, errlen);
			if (ls->fds[i] >= 0 && i == 0) {
				/* Port 0: every worker must bind the port the
				 * kernel chose for the first socket. */
				socklen_t sl = sizeof(ls->addr);
				getsockname(ls->fds[0], (struct sockaddr *)&ls->addr, &sl);
				ls->addr_len = sl;
			}
		}
		if (ls->fds[i] < 0)
			return -1;
	}
	return 0;
}

/* Build the listener set of cfg.  Sockets of old (may be NULL) whose
 * address is configured again are moved over rather than reopened, so
 * a reload never drops queued connections; their fds in old become -1.
 * TLS contexts are always rebuilt (certificate reload).  Returns NULL
 * with err set on failure; old is then unchanged. */
static struct gw_lset *lset_build(const struct gw_config *cfg, struct gw_lset *old, int n_workers,
                                  char *err, size_t errlen)
{
	struct gw_lset *set = calloc(1, sizeof(*set));
	char why[256];
	if (set == NULL || (set->ls = calloc(cfg->n_listens, sizeof(*set->ls))) == NULL) {
		free(set);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* Which old socket each new listener takes, applied only on success. */
	int *reuse = calloc(cfg->n_listens, sizeof(int));
	if (reuse == NULL)
		goto nomem;
	for (size_t i = 0; i < cfg->n_listens; i++) {
		const struct gw_listen *l = &cfg->listens[i];
		struct gw_lsock *ls = &set->ls[i];
		set->n = i + 1;
		ls->fds = malloc(sizeof(int) * (size_t)n_workers);
		ls->name = strdup(l->name);
		ls->address = strdup(l->address);
		ls->unix_path = l->unix_path ? strdup(l->unix_path) : NULL;
		if (!ls->fds || !ls->name || !ls->address || (l->unix_path && !ls->unix_path))
			goto nomem;
		for (int k = 0; k < n_workers; k++)
			ls->fds[k] = -1;
		ls->kind = l->kind;
		ls->addr = l->addr;
		ls->addr_len = l->addr_len;
		ls->http2 = l->http2;
		if (l->tls_certificate) {
			ls->tls = gw_tls_ctx_new(l->tls_certificate, l->tls_key, l->http2, why,
			                         sizeof(why));
			if (ls->tls == NULL) {
				snprintf(err, errlen, "%s:%d: listen %s: %s", cfg->path, l->line,
				         l->name, why);
				goto fail;
			}
		}
		reuse[i] = -1;
		for (size_t j = 0; old && j < old->n; j++) {
			if (old->ls[j].fds[0] >= 0 && same_socket(&old->ls[j], l)) {
				reuse[i] = (int)j;
				break;
			}
		}
		if (reuse[i] >= 0) {
			ls->addr = old->ls[reuse[i]].addr;
			ls->addr_len = old->ls[reuse[i]].addr_len;
			continue;
		}
		if (lsock_bind(ls, n_workers, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "%s:%d: listen %s: %s: %s", cfg->path, l->line,
			         l->name, l->address, why);
			goto fail;
		}
	}
	for (size_t i = 0; i < set->n; i++) {
		if (reuse[i] < 0)
			continue;
		struct gw_lsock *o = &old->ls[reuse[i]];
		memcpy(set->ls[i].fds, o->fds, sizeof(int) * (size_t)n_workers);
		for (int k = 0; k < n_workers; k++)
			o->fds[k] = -1;
	}
	free(reuse);
	return set;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	free(reuse);
	lset_free(set, n_workers, true);
	return NULL;
}

/* ---- workers ---- */

static void accept_cb(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
	struct gw_worker *w = arg;
	struct gw_server *srv = w->srv;
	const struct gw_lsock *ls = NULL;
	for (size_t i = 0; i < w->n_lev; i++)
		if (w->lev[i] == lev)
			ls = &w->lset->ls[i];
	uint64_t max = w->cfg->cfg->max_connections;
	bool over = false;
	if (atomic_fetch_add(&srv->n_conns, 1) >= max) {
		atomic_fetch_sub(&srv->n_conns, 1);
		if (atomic_fetch_add(&srv->n_rejecting, 1) >= GW_SERVER_REJECT_MAX) {
			atomic_fetch_sub(&srv->n_rejecting, 1);
			close(fd);
			return;
		}
		over = true;
	}
	if (ls == NULL) {
		close(fd);
		gw_server_conn_released(w, over);
		return;
	}
	gw_conn_accept(w, ls, fd, sa, (socklen_t)salen, over);
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_worker *w = arg;
	for (size_t i = 0; i < w->n_lev; i++)
		if (w->lev[i])
			evconnlistener_enable(w->lev[i]);
}

/* accept() failed with something other than "try again": out of file
 * descriptors or memory.  The pending connection stays queued, so the
 * socket stays readable; pausing is the only way not to spin. */
static void accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct gw_worker *w = arg;
	int err = EVUTIL_SOCKET_ERROR();
	gw_log_warn("worker %d: accept: %s; pausing for %d ms", w->index, strerror(err),
	            GW_SERVER_ACCEPT_PAUSE_MS);
	for (size_t i = 0; i < w->n_lev; i++)
		if (w->lev[i])
			evconnlistener_disable(w->lev[i]);
	struct timeval tv = {0, GW_SERVER_ACCEPT_PAUSE_MS * 1000};
	evtimer_add(w->resume_ev, &tv);
}

static void listeners_close(struct gw_worker *w)
{
	for (size_t i = 0; i < w->n_lev; i++)
		if (w->lev[i])
			evconnlistener_free(w->lev[i]); /* the fd stays open: no CLOSE_ON_FREE */
	free(w->lev);
	w->lev = NULL;
	if (w->resume_ev)
		evtimer_del(w->resume_ev);
	w->n_lev = 0;
	w->lset = NULL;
}

static int listeners_open(struct gw_worker *w, struct gw_lset *set)
{
	w->lev = calloc(set->n ? set->n : 1, sizeof(*w->lev));
	if (w->lev == NULL)
		return -1;
	w->n_lev = set->n;
	w->lset = set;
	for (size_t i = 0; i < set->n; i++) {
		w->lev[i] = evconnlistener_new(w->base, accept_cb, w, LEV_OPT_CLOSE_ON_EXEC, -1,
		                               set->ls[i].fds[w->index]);
		if (w->lev[i])
			evconnlistener_set_error_cb(w->lev[i], accept_error_cb);
		if (w->lev[i] == NULL) {
			gw_log_error("worker %d: listen %s: cannot watch the socket", w->index,
			             set->ls[i].name);
			return -1;
		}
	}
	return 0;
}

void gw_server_conn_released(struct gw_worker *w, bool rejected)
{
	if (rejected)
		atomic_fetch_sub(&w->srv->n_rejecting, 1);
	else
		atomic_fetch_sub(&w->srv->n_conns, 1);
	if (w->draining && w->conns == NULL)
		event_base_loopexit(w->base, NULL);
}

static uint64_t max_close_timeout(const struct gw_config *cfg)
{
	uint64_t t = 0;
	for (size_t i = 0; i < cfg->n_routes; i++)
		if (cfg->routes[i].close_timeout_ms > t)
			t = cfg->routes[i].close_timeout_ms;
	return t;
}

static void arm_drain(struct gw_worker *w, uint64_t ms)
{
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000),
	                     .tv_usec = (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(w->drain_ev, &tv);
}

/* Shutdown stages: 1 idle connections closed (at the signal), 2 sessions
 * told 1001 (after shutdown_timeout), 3 the rest aborted (after the
 * longest close timeout plus a grace for the lingering close). */
static void drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_worker *w = arg;
	const struct gw_config *cfg = w->cfg->cfg;
	if (w->drain_stage == 1) {
		w->drain_stage = 2;
		if (w->conns)
			gw_log_info("worker %d: closing %zu connections with 1001", w->index,
			            w->n_conns);
		gw_conn_drain(w, GW_CONN_DRAIN_GOING_AWAY);
		arm_drain(w, max_close_timeout(cfg) + GW_TRANSPORT_LINGER_MS + DRAIN_GRACE_MS);
	} else if (w->drain_stage == 2) {
		w->drain_stage = 3;
		if (w->conns)
			gw_log_warn("worker %d: aborting %zu connections", w->index, w->n_conns);
		gw_conn_drain(w, GW_CONN_DRAIN_ABORT);
	}
	if (w->conns == NULL)
		event_base_loopexit(w->base, NULL);
}

static void worker_switch(struct gw_worker *w)
{
	struct gw_server *srv = w->srv;
	/* Runs while the main thread waits in reload(), so srv->cfg and
	 * srv->lset are stable. */
	listeners_close(w);
	if (!srv->stopping && listeners_open(w, srv->lset) != 0)
		listeners_close(w);
	gw_cfgref_get(srv->cfg);
	gw_cfgref_put(w->cfg);
	w->cfg = srv->cfg;
	pthread_mutex_lock(&srv->ack_lock);
	srv->acks++;
	pthread_cond_signal(&srv->ack_cond);
	pthread_mutex_unlock(&srv->ack_lock);
}

static void worker_shutdown(struct gw_worker *w)
{
	if (w->draining)
		return;
	w->draining = true;
	listeners_close(w);
	gw_conn_drain(w, GW_CONN_DRAIN_IDLE);
	w->drain_stage = 1;
	if (w->cfg->cfg->shutdown_timeout_ms == 0)
		drain_cb(-1, 0, w);
	else
		arm_drain(w, w->cfg->cfg->shutdown_timeout_ms);
	if (w->conns == NULL)
		event_base_loopexit(w->base, NULL);
}

static void cmd_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_worker *w = arg;
	pthread_mutex_lock(&w->cmd_lock);
	unsigned cmds = w->cmds;
	w->cmds = 0;
	pthread_mutex_unlock(&w->cmd_lock);
	if (cmds & GW_CMD_SWITCH)
		worker_switch(w);
	if (cmds & GW_CMD_SHUTDOWN)
		worker_shutdown(w);
}

static void post(struct gw_worker *w, unsigned cmd)
{
	pthread_mutex_lock(&w->cmd_lock);
	w->cmds |= cmd;
	pthread_mutex_unlock(&w->cmd_lock);
	event_active(w->cmd_ev, 0, 0);
}

static void *worker_main(void *arg)
{
	struct gw_worker *w = arg;
	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* Sockets continue a long read from the loop (gw_sock): bound the
 * callbacks run before the loop looks for new events and timers again,
 * so that busy connections cannot delay the others or an accept. */
#define WORKER_MAX_CALLBACKS 64

static struct event_base *new_worker_base(void)
{
	struct event_config *cfg = event_config_new();
	if (cfg == NULL)
		return NULL;
	event_config_set_max_dispatch_interval(cfg, NULL, WORKER_MAX_CALLBACKS, 0);
	struct event_base *base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	return base;
}

static int worker_init(struct gw_server *srv, struct gw_worker *w, int index)
{
	w->srv = srv;
	w->index = index;
	pthread_mutex_init(&w->cmd_lock, NULL);
	w->base = new_worker_base();
	if (w->base == NULL)
		return -1;
	w->dns = evdns_base_new(w->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	                                     EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (w->dns == NULL)
		gw_log_warn("worker %d: no DNS resolver (/etc/resolv.conf): backend names will "
		            "not resolve",
		            index);
	w->cmd_ev = event_new(w->base, -1, 0, cmd_cb, w);
	w->drain_ev = evtimer_new(w->base, drain_cb, w);
	w->resume_ev = evtimer_new(w->base, resume_cb, w);
	if (w->cmd_ev == NULL || w->drain_ev == NULL || w->resume_ev == NULL)
		return -1;
	w->cfg = srv->cfg;
	gw_cfgref_get(w->cfg);
	return listeners_open(w, srv->lset);
}

static void worker_free(struct gw_worker *w)
{
	listeners_close(w);
	/* Connections left after the loop ended are freed with the base; a
	 * clean shutdown has none. */
	if (w->dns)
		evdns_base_free(w->dns, 0);
	if (w->cmd_ev)
		event_free(w->cmd_ev);
	if (w->drain_ev)
		event_free(w->drain_ev);
	if (w->resume_ev)
		event_free(w->resume_ev);
	if (w->base)
		event_base_free(w->base);
	gw_cfgref_put(w->cfg);
	pthread_mutex_destroy(&w->cmd_lock);
}

/* ---- main thread: signals, reload ---- */

static void reload(struct gw_server *srv)
{
	char err[GW_CONFIG_ERR_MAX + 256];
	struct gw_config *cfg = NULL;

	/* systemd's notify-reload protocol wants the start time of the reload. */
	struct timespec ts;
	char msg[64];
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
	         (unsigned long long)ts.tv_sec * 1000000ull +
	             (unsigned long long)ts.tv_nsec / 1000);
	gw_server_notify(msg);
	gw_log_info("reloading %s", srv->config_path);
	if (gw_config_load(srv->config_path, &cfg, err) != 0) {
		gw_log_error("reload refused, keeping the running config: %s", err);
		notify_status("READY=1\n", srv);
		return;
	}
	struct gw_cfgref *ref = cfgref_new(cfg);
	if (ref == NULL) {
		gw_log_error("reload refused: out of memory");
		gw_config_free(cfg);
		notify_status("READY=1\n", srv);
		return;
	}
	struct gw_lset *set = lset_build(cfg, srv->lset, srv->n_workers, err, sizeof(err));
	if (set == NULL) {
		gw_log_error("reload refused, keeping the running config: %s", err);
		gw_cfgref_put(ref);
		notify_status("READY=1\n", srv);
		return;
	}
	if (cfg->workers != srv->cfg->cfg->workers)
		gw_log_warn("workers changed: takes effect at the next restart");
	if (gw_log_configure(cfg->log_level, cfg->access_log, err, sizeof(err)) != 0)
		gw_log_error("reload: %s (keeping the old access log)", err);

	struct gw_lset *old = srv->lset;
	struct gw_cfgref *old_cfg = srv->cfg;
	srv->lset = set;
	srv->cfg = ref;
	/* Every worker drops its listeners on the old set and adopts the new
	 * one before the old sockets are closed. */
	pthread_mutex_lock(&srv->ack_lock);
	srv->acks = 0;
	pthread_mutex_unlock(&srv->ack_lock);
	for (int i = 0; i < srv->n_workers; i++)
		post(&srv->workers[i], GW_CMD_SWITCH);
	pthread_mutex_lock(&srv->ack_lock);
	while (srv->acks < srv->n_workers)
		pthread_cond_wait(&srv->ack_cond, &srv->ack_lock);
	pthread_mutex_unlock(&srv->ack_lock);
	lset_free(old, srv->n_workers, true); /* sockets not carried over */
	gw_cfgref_put(old_cfg);
	gw_log_notice("reloaded: %zu listeners, %zu routes", set->n, cfg->n_routes);
	notify_status("READY=1\n", srv);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct gw_server *srv = arg;
	if (sig == SIGHUP) {
		if (!srv->stopping)
			reload(srv);
		return;
	}
	if (srv->stopping)
		return;
	srv->stopping = true;
	gw_log_notice("stopping (signal %d)", (int)sig);
	gw_server_notify("STOPPING=1");
	for (int i = 0; i < srv->n_workers; i++)
		post(&srv->workers[i], GW_CMD_SHUTDOWN);
	event_base_loopexit(srv->base, NULL);
}

/* Descriptors besides the sessions' (listeners, logs, DNS, wakeups). */
#define FD_RESERVE 64

/* Raise the soft descriptor limit to the hard one, as a busy gateway
 * needs, and say so when max_connections cannot fit under it: a bridged
 * HTTP/1.1 session holds two descriptors (client and backend). */
static void raise_fd_limit(const struct gw_config *cfg)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	uint64_t need = 2 * cfg->max_connections + FD_RESERVE;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		gw_log_warn(
		    "max_connections = %llu needs about %llu file descriptors (two per bridged "
		    "session) but the limit is %llu: accepts fail past it; raise "
		    "LimitNOFILE (systemd) or ulimit -n",
		    (unsigned long long)cfg->max_connections, (unsigned long long)need,
		    (unsigned long long)rl.rlim_cur);
}

static int drop_privileges(const char *user)
{
	if (user == NULL || geteuid() != 0)
		return 0;
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		gw_log_error("user %s: no such user", user);
		return -1;
	}
	if (setgroups(1, &pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
		gw_log_error("user %s: cannot drop privileges: %s", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		gw_log_error("user %s: privileges could be regained", user);
		return -1;
	}
	return 0;
}

static int n_workers_for(const struct gw_config *cfg)
{
	long n = cfg->workers > 0 ? cfg->workers : sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > GW_SERVER_MAX_WORKERS)
		n = GW_SERVER_MAX_WORKERS;
	return (int)n;
}

static void log_listening(const struct gw_lset *set)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct gw_lsock *ls = &set->ls[i];
		char where[GW_TRANSPORT_PEER_MAX];
		if (ls->kind == GW_ADDR_UNIX) {
			snprintf(where, sizeof(where), "unix:%s", ls->unix_path);
		} else {
			char host[64];
			unsigned port;
			if (ls->addr.ss_family == AF_INET6) {
				const struct sockaddr_in6 *s6 = (const void *)&ls->addr;
				inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
				port = ntohs(s6->sin6_port);
				snprintf(where, sizeof(where), "[%s]:%u", host, port);
			} else {
				const struct sockaddr_in *s4 = (const void *)&ls->addr;
				inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
				port = ntohs(s4->sin_port);
				snprintf(where, sizeof(where), "%s:%u", host, port);
			}
		}
		gw_log_notice("listening on %s (%s%s)", where, ls->name, ls->tls ? ", tls" : "");
	}
}

int gw_server_run(const char *config_path, struct gw_config *cfg)
{
	struct gw_server srv_storage, *srv = &srv_storage;
	char err[GW_CONFIG_ERR_MAX + 256];
	int rc = 1, started = 0;
	sigset_t block, old_mask;

	memset(srv, 0, sizeof(*srv));
	srv->config_path = (char *)config_path;
	pthread_mutex_init(&srv->ack_lock, NULL);
	pthread_cond_init(&srv->ack_cond, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (evthread_use_pthreads() != 0) {
		gw_log_error("libevent threading unavailable");
		gw_config_free(cfg);
		return 1;
	}
	if (gw_log_configure(cfg->log_level, cfg->access_log, err, sizeof(err)) != 0) {
		gw_log_error("%s", err);
		gw_config_free(cfg);
		return 1;
	}
	srv->n_workers = n_workers_for(cfg);
	srv->cfg = cfgref_new(cfg);
	if (srv->cfg == NULL) {
		gw_config_free(cfg);
		return 1;
	}
	srv->lset = lset_build(cfg, NULL, srv->n_workers, err, sizeof(err));
	if (srv->lset == NULL) {
		gw_log_error("%s", err);
		goto out;
	}
	raise_fd_limit(cfg);
	if (drop_privileges(cfg->user) != 0)
		goto out;

	srv->base = event_base_new();
	if (srv->base == NULL)
		goto out;
	const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	for (int i = 0; i < 3; i++) {
		srv->sig[i] = evsignal_new(srv->base, sigs[i], signal_cb, srv);
		if (srv->sig[i] == NULL || evsignal_add(srv->sig[i], NULL) != 0)
			goto out;
	}
	srv->workers = calloc((size_t)srv->n_workers, sizeof(*srv->workers));
	if (srv->workers == NULL)
		goto out;
	for (int i = 0; i < srv->n_workers; i++)
		if (worker_init(srv, &srv->workers[i], i) != 0)
			goto out;
	/* Signals go to the main thread only: workers block them. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &block, &old_mask);
	for (; started < srv->n_workers; started++)
		if (pthread_create(&srv->workers[started].thread, NULL, worker_main,
		                   &srv->workers[started]) != 0)
			break;
	pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
	if (started < srv->n_workers) {
		gw_log_error("cannot start worker threads");
		srv->stopping = true;
		for (int i = 0; i < started; i++)
			post(&srv->workers[i], GW_CMD_SHUTDOWN);
		goto join;
	}

	log_listening(srv->lset);
	gw_log_notice("ready (%d workers, pid %d)", srv->n_workers, (int)getpid());
	notify_status("READY=1\n", srv);
	event_base_dispatch(srv->base);
	rc = 0;
join:
	for (int i = 0; i < started; i++)
		pthread_join(srv->workers[i].thread, NULL);
	if (rc == 0)
		gw_log_notice("stopped");
out:
	if (srv->workers)
		for (int i = 0; i < srv->n_workers; i++)
			worker_free(&srv->workers[i]);
	free(srv->workers);
	for (int i = 0; i < 3; i++)
		if (srv->sig[i])
			event_free(srv->sig[i]);
	if (srv->base)
		event_base_free(srv->base);
	lset_free(srv->lset, srv->n_workers, true);
	gw_cfgref_put(srv->cfg);
	gw_log_shutdown();
	pthread_mutex_destroy(&srv->ack_lock);
	pthread_cond_destroy(&srv->ack_cond);
	return rc;
}
