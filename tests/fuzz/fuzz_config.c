/* libFuzzer target for the config parser: any bytes go through
 * gw_config_parse; a config that loads is also queried for routes, so
 * the matcher runs on whatever the parser produced. */
#include "gw_config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[GW_CONFIG_ERR_MAX];
	struct gw_config *c = NULL;
	static const char *const paths[] = {"/", "/echo", "/api/x", "/vnc", ""};

	if (gw_config_parse("fuzz.conf", (const char *)data, size, &c, err) < 0) {
		/* Every failure names FILE:LINE and fits the buffer. */
		if (strncmp(err, "fuzz.conf:", 10) != 0 || strlen(err) >= GW_CONFIG_ERR_MAX)
			__builtin_trap();
		return 0;
	}
	if (c == NULL || c->n_listens == 0)
		__builtin_trap();
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		(void)gw_config_route_match(c, paths[i], strlen(paths[i]));
	for (size_t i = 0; i < c->n_routes; i++) {
		const struct gw_route *r = &c->routes[i];

		/* A route's own path always finds a route at least as long. */
		const struct gw_route *m = gw_config_route_match(c, r->path, r->path_len);
		if (m == NULL || m->path_len < r->path_len)
			__builtin_trap();
	}
	gw_config_free(c);
	return 0;
}
