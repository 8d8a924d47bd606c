/* SPDX-License-Identifier: MIT */
#ifndef ML_TELEMETRY_ADMIN_H
#define ML_TELEMETRY_ADMIN_H

/* The admin listener: a libmicrohttpd daemon with one thread of its own
 * that serves /metrics, /config_dump, /clusters, /routes, /ready and
 * /healthz from the mesh's state (see meshlib_options_set_admin_address). */
#include <stddef.h>
#include <sys/socket.h>

struct meshlib;
typedef struct ml_admin ml_admin;

/* "ip:port", "[ipv6]:port" or "port" (127.0.0.1) into |out| (may be
 * NULL to validate only). Returns 0, or -1 when malformed. */
int ml_admin_parse_address(const char *text, struct sockaddr_storage *out);

/* Listen on |address| and serve |m|. Returns MESHLIB_OK,
 * MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM or MESHLIB_ERR_IO, with the
 * reason in |err|. */
int ml_admin_start(struct meshlib *m, const char *address, ml_admin **out,
                   char *err, size_t err_cap);
/* Stop serving and free; NULL does nothing. */
void ml_admin_stop(ml_admin *a);
int ml_admin_port(const ml_admin *a);

/* The JSON bodies (admin_json.c): a string of the mesh's allocator, or
 * NULL when out of memory. */
char *ml_admin_config_dump(struct meshlib *m, size_t *len);
char *ml_admin_clusters(struct meshlib *m, size_t *len);
char *ml_admin_routes(struct meshlib *m, size_t *len);

#endif
