/* gw_config: loading a config file, freeing a config and the per-request
 * route lookup.  The parser itself is gw_config_parse.c.
 */
#include "gw_config.h"
#include "gw_config_value.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int gw_config_load(const char *path, struct gw_config **out, char err[GW_CONFIG_ERR_MAX])
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int fd, rc, e;

	*out = NULL;
	/* O_NONBLOCK: a FIFO given by mistake is refused below, not waited on. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		e = errno;
		snprintf(err, GW_CONFIG_ERR_MAX, "%s:0: cannot open: %s", path, strerror(e));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, GW_CONFIG_ERR_MAX, "%s:0: not a regular file", path);
		goto fail;
	}
	if (st.st_size > GW_CONFIG_FILE_MAX) {
		snprintf(err, GW_CONFIG_ERR_MAX, "%s:0: file too large (over %d bytes)", path,
		         GW_CONFIG_FILE_MAX);
		goto fail;
	}
	/* One byte spare: a file that grew since fstat shows up as too large. */
	buf = malloc(GW_CONFIG_FILE_MAX + 1);
	if (buf == NULL) {
		snprintf(err, GW_CONFIG_ERR_MAX, "%s:0: out of memory", path);
		goto fail;
	}
	for (;;) {
		ssize_t r = read(fd, buf + len, GW_CONFIG_FILE_MAX + 1 - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = errno;
			snprintf(err, GW_CONFIG_ERR_MAX, "%s:0: read error: %s", path, strerror(e));
			goto fail;
		}
		if (r == 0 || (len += (size_t)r) > GW_CONFIG_FILE_MAX)
			break;
	}
	close(fd);
	rc = gw_config_parse(path, buf, len, out, err);
	free(buf);
	return rc;
fail:
	free(buf);
	close(fd);
	return -1;
}

static void free_list(char **items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
}

void gw_config_free(struct gw_config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n_listens; i++) {
		struct gw_listen *l = &c->listens[i];

		free(l->name);
		free(l->address);
		free(l->unix_path);
		free(l->tls_certificate);
		free(l->tls_key);
	}
	for (size_t i = 0; i < c->n_routes; i++) {
		struct gw_route *r = &c->routes[i];

		free(r->name);
		free(r->path);
		free(r->backend);
		free(r->backend_host);
		free(r->backend_port);
		free(r->backend_path);
		free_list(r->subprotocols, r->n_subprotocols);
		free_list(r->allowed_origins, r->n_allowed_origins);
	}
	free(c->listens);
	free(c->routes);
	free(c->path);
	free(c->access_log);
	free(c->user);
	free(c->static_root);
	free(c);
}

const struct gw_route *gw_config_route_match(const struct gw_config *c, const char *path,
                                             size_t len)
{
	const struct gw_route *best = NULL;

	if (c == NULL || path == NULL)
		return NULL;
	/* One pass: an exact hit returns at once, prefixes keep the longest.
	 * Prefixes compare bytes, so /api* also takes /apix. */
	for (size_t i = 0; i < c->n_routes; i++) {
		const struct gw_route *r = &c->routes[i];

		if (r->prefix) {
			if (len >= r->path_len && (best == NULL || r->path_len > best->path_len) &&
			    memcmp(path, r->path, r->path_len) == 0)
				best = r;
		} else if (len == r->path_len && memcmp(path, r->path, len) == 0) {
			return r;
		}
	}
	return best;
}
