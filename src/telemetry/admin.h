/* SPDX-License-Identifier: MIT */
#ifndef ML_TELEMETRY_ADMIN_H
#define ML_TELEMETRY_ADMIN_H

/* The admin listener: a libmicrohttpd daemon with one thread of its own
 * that serves /metrics, /config_dump, /clusters, /routes, /ready and
 * /healthz (see meshlib_options_set_admin_address). The bodies come from
 * the mesh, through the interface it hands to ml_admin_start(). */
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "cluster/snapshot.h"
#include "meshlib/clusters.h"
#include "telemetry/telemetry.h"
#include "util/mem.h"

typedef struct ml_admin ml_admin;

/* What the listener serves, asked at each request from its own thread:
 * each function returns a body of |mem| (freed by the listener), or NULL
 * when out of memory. */
typedef struct ml_admin_source {
  void *ctx;
  const ml_mem *mem;
  char *(*metrics)(void *ctx, size_t *len);     /* Prometheus text */
  char *(*config_dump)(void *ctx, size_t *len); /* JSON */
  char *(*clusters)(void *ctx, size_t *len);    /* JSON */
  char *(*routes)(void *ctx, size_t *len);      /* JSON */
} ml_admin_source;

/* "ip:port", "[ipv6]:port" or "port" (127.0.0.1) into |out| (may be
 * NULL to validate only). Returns 0, or -1 when malformed. */
int ml_admin_parse_address(const char *text, struct sockaddr_storage *out);

/* Listen on |address| and serve what |src| (copied) hands out. Returns
 * MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM or
 * MESHLIB_ERR_IO, with the reason in |err|. */
int ml_admin_start(const ml_admin_source *src, const char *address,
                   ml_admin **out, char *err, size_t err_cap);
/* Stop serving and free; NULL does nothing. */
void ml_admin_stop(ml_admin *a);
int ml_admin_port(const ml_admin *a);

/* The JSON bodies (admin_json.c): a string of |mem|, or NULL when out
 * of memory. /config_dump: the config of |snap| with the record |st| and
 * the workload of |s|; /routes: the routes of |snap|; /clusters: the
 * picture |c| of the clusters of config |version|. */
char *ml_admin_config_dump(const ml_mem *mem, const ml_snapshot *snap,
                           const ml_config_figures *st,
                           const ml_telemetry_settings *s, size_t *len);
char *ml_admin_clusters(const ml_mem *mem, const meshlib_clusters *c,
                        uint64_t version, size_t *len);
char *ml_admin_routes(const ml_mem *mem, const ml_snapshot *snap, size_t *len);

#endif
