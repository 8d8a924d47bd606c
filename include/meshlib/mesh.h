/* SPDX-License-Identifier: MIT */
#ifndef MESHLIB_MESH_H
#define MESHLIB_MESH_H

#include <stddef.h>
#include <stdint.h>
#include "export.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The mesh: config snapshot plus live state. Shared by all threads. */
typedef struct meshlib meshlib;
/** A builder for meshlib_new(). Used by one thread; free it after use. */
typedef struct meshlib_options meshlib_options;
/** A batch of Istio YAML being loaded, checked and applied. One thread. */
typedef struct meshlib_config meshlib_config;
/** One diagnostic of a load or an analysis: borrowed from its config. */
typedef struct meshlib_diag meshlib_diag;

/**
 * Memory hooks, nghttp2's shape. Every function receives |user_data|.
 * The struct is copied; it is frozen and will never grow.
 */
typedef struct meshlib_allocator {
  void *user_data;
  void *(*malloc)(size_t size, void *user_data);
  void (*free)(void *ptr, void *user_data);
  void *(*calloc)(size_t nmemb, size_t size, void *user_data);
  void *(*realloc)(void *ptr, size_t size, void *user_data);
} meshlib_allocator;

/** Levels of log lines and diagnostics. */
typedef enum meshlib_level {
  MESHLIB_LEVEL_ERROR = 0,
  MESHLIB_LEVEL_WARNING = 1,
  MESHLIB_LEVEL_INFO = 2,
  MESHLIB_LEVEL_DEBUG = 3
} meshlib_level;

/**
 * Log hook: |level| is a meshlib_level, |message| one line without newline.
 * Argument ownership: borrowed for the call. Called from whichever thread
 * produced the line.
 */
typedef void (*meshlib_log_cb)(int level, const char *message, void *user_data);

/**
 * Create an options object with Istio's defaults: client namespace
 * "default", domain suffix "cluster.local", no workload labels, lenient
 * (unknown fields are warnings).
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: *out is the caller's; free with meshlib_options_free().
 * Thread-safety: any thread; the object is then used by one thread.
 * Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_options_new(meshlib_options **out);

/**
 * Free |o|; NULL does nothing.
 * Thread-safety: the owning thread. Since: 0.1.0
 */
MESHLIB_EXTERN void meshlib_options_free(meshlib_options *o);

/**
 * Use |a| for meshlib's own memory (never curl's or wolfSSL's).
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (NULL or incomplete hooks).
 * Ownership: *a is copied. Thread-safety: the owning thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_options_set_allocator(meshlib_options *o,
                                                 const meshlib_allocator *a);

/**
 * The Kubernetes namespace this workload runs in (default "default"): short
 * hosts such as "reviews" are reached from here, and `sourceNamespace`
 * matches compare against it.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: |ns| is copied. Thread-safety: the owning thread.
 * Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_options_set_namespace(meshlib_options *o,
                                                 const char *ns);

/**
 * The cluster's DNS domain suffix (default "cluster.local"), used to turn
 * "name" into "name.ns.svc.cluster.local".
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: copied. Thread-safety: the owning thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_options_set_domain_suffix(meshlib_options *o,
                                                     const char *suffix);

/**
 * Add or replace one label of this workload (what `sourceLabels` in a
 * VirtualService match selects on, e.g. app=frontend).
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: copied. Thread-safety: the owning thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_options_set_workload_label(meshlib_options *o,
                                                      const char *key,
                                                      const char *value);

/**
 * Strict mode (|strict| nonzero): unknown fields are errors rather than
 * warnings.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG.
 * Thread-safety: the owning thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_options_set_strict(meshlib_options *o, int strict);

/**
 * Seed the generator behind weighted picks and random balancing, so that
 * a test can replay the same choices (default: seeded from the clock).
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG.
 * Thread-safety: the owning thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_options_set_random_seed(meshlib_options *o,
                                                   uint64_t seed);

/**
 * How often the names of DNS and DNS_ROUND_ROBIN ServiceEntries are
 * resolved again, in milliseconds (default 5000, Envoy's refresh rate). A
 * meshlib thread does it, started when a config first has such an entry;
 * a failed lookup keeps the last answer. 0: no thread; each connection
 * resolves the name itself.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG.
 * Thread-safety: the owning thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_options_set_dns_refresh_ms(meshlib_options *o,
                                                      int64_t refresh_ms);

/**
 * Whether routes without `retries` get Istio's default retry policy (on
 * by default, as Istio: 2 retries on connect-failure, refused-stream,
 * unavailable, cancelled and retriable-status-codes, never on the same
 * endpoint twice). 0: a route retries only when its `retries` say so, as
 * with Istio's meshConfig.defaultHttpRetryPolicy set to no attempts.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG.
 * Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_default_retries(meshlib_options *o,
                                                       int enabled);

/**
 * A retry rate budget per destination cluster, beyond Istio, in the
 * spirit of Finagle's RetryBudget: over a sliding 10 s window, retries
 * may not exceed |percent| % of the requests seen plus |min_per_second| x
 * 10, so that retries cannot multiply the load on a struggling service.
 * A retry over the budget is not made: the call ends with the last
 * answer and flag URX. Applies on top of maxRetries and retryBudget.
 * Default 0 and 0: off.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (|percent| outside
 * 0..1000 or |min_per_second| outside 0..1e6).
 * Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_retry_rate_budget(meshlib_options *o,
                                                         double percent,
                                                         double min_per_second);

/**
 * What one upstream response may bring in its header block (and, apart,
 * in its trailers): |max_kib| KiB of names and values, 1..8192 (default
 * 60, Envoy's max_response_headers_kb), and |max_count| fields, 1..65535
 * (default 100, Envoy's max_response_headers_count). HTTP/2 peers are
 * told the size (SETTINGS_MAX_HEADER_LIST_SIZE); over HTTP/1.1 a single
 * line also stops at 100 KiB. A response past either ends the attempt as
 * Envoy ends it: 502 with flag UPE and details naming the limit
 * ("http1.headers_too_large"), the connection closed, what it held freed.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG.
 * Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_max_response_headers(meshlib_options *o,
                                                            uint32_t max_kib,
                                                            uint32_t max_count);

/**
 * The largest response body meshlib buffers for a call (default 16 MiB;
 * at least 1). Past it the call ends with a local 500, flag LR and details
 * "response_payload_too_large", and the connection is closed. The body
 * of a CURL * handle the application brings (<meshlib/curl.h>) goes
 * where its own write callback puts it, unbounded here.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG.
 * Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int
meshlib_options_set_max_response_body_bytes(meshlib_options *o,
                                            uint64_t max_bytes);

/**
 * Envoy's stream idle timeout: an attempt during which no byte is sent
 * or received for |idle_ms| ends with a local 408, flag SI and details
 * "stream_idle_timeout", whatever the route's timeout (default 300000,
 * Envoy's 5 minutes; 0: none, so that only timeouts bound a call to an
 * upstream that never answers). HTTP/1.1 counts whole seconds, rounded
 * up.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG.
 * Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int
meshlib_options_set_stream_idle_timeout_ms(meshlib_options *o, int64_t idle_ms);

/**
 * Whether meshlib's own libcurl handles (calls, control endpoints, trace
 * exports) take a proxy from the environment (http_proxy, https_proxy,
 * all_proxy, no_proxy). Default 0: they ignore it, so that a variable
 * meant for other programs cannot send mesh traffic elsewhere; 1: as
 * libcurl does. A CURL * handle the application brings keeps its own
 * settings.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG.
 * Thread-safety: the owning thread. Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_options_set_proxy_from_env(meshlib_options *o,
                                                      int enabled);

/**
 * Add a YAML file, or a directory whose *.yaml, *.yml and *.json files are
 * read in name order, to the config meshlib_new() loads. May be called more
 * than once.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: |path| is copied. Thread-safety: the owning thread.
 * Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_options_add_config_path(meshlib_options *o,
                                                   const char *path);

/**
 * Add YAML text to the config meshlib_new() loads. |name| labels it in
 * error messages (e.g. "inline.yaml"); |len| is its length in bytes.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: both are copied. Thread-safety: the owning thread.
 * Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_options_add_config_string(meshlib_options *o,
                                                     const char *name,
                                                     const char *yaml,
                                                     size_t len);

/**
 * Receive log lines at |max_level| and more severe (default: none).
 * Ownership: |user_data| is never freed by meshlib.
 * Thread-safety: the owning thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_options_set_log_callback(meshlib_options *o,
                                                    int max_level,
                                                    meshlib_log_cb cb,
                                                    void *user_data);

/**
 * The message of the last failure of a call that took |o|, such as
 * meshlib_new() ("myapp.yaml:14:9: spec.http[1].retries.attempts: expected
 * an integer"); "" when none.
 * Ownership: borrowed until |o| changes or is freed.
 * Thread-safety: the owning thread. Since: 0.1.0
 */
MESHLIB_EXTERN const char *meshlib_options_errmsg(const meshlib_options *o);

/**
 * Create a mesh from |o| and load the config sources it names. With no
 * source, every host routes to itself until config is applied.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM, or a
 * -200s code when the config does not load (the message is in
 * meshlib_options_errmsg(o); no mesh is created).
 * Ownership: *out is the caller's (meshlib_free()); |o| is only read and
 * may be freed afterwards.
 * Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_new(meshlib **out, meshlib_options *o);

/**
 * Free |m| once no other thread uses it; NULL does nothing.
 * Thread-safety: no other call on |m| may run or follow. Since: 0.1.0
 */
MESHLIB_EXTERN void meshlib_free(meshlib *m);

/**
 * The version of the config in force: 0 before any. Every config offered
 * takes the next number, 1, 2, ..., whether it is applied or rejected (a
 * rejected one is reported with its number: <meshlib/control.h>), so the
 * version in force can skip numbers.
 * Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN uint64_t meshlib_config_version(const meshlib *m);

/**
 * Free a string meshlib returned to the caller (e.g. JSON). NULL is fine.
 * Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN void meshlib_free_str(meshlib *m, char *s);

/**
 * Start loading config for |m|: its namespace, domain suffix and strict
 * mode apply.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: *out is the caller's (meshlib_config_free()); it holds a
 * reference to nothing in |m| but its settings, and must be freed before
 * |m|.
 * Thread-safety: any thread; |*out| is then used by one thread.
 * Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_config_new(meshlib_config **out, meshlib *m);

/** Free |c|; NULL does nothing. Thread-safety: the owning thread. */
MESHLIB_EXTERN void meshlib_config_free(meshlib_config *c);

/**
 * Read a YAML or JSON file, or a directory of them (*.yaml, *.yml, *.json
 * in name order, not recursive), into |c|.
 * Returns: MESHLIB_OK; MESHLIB_ERR_CONFIG_IO, MESHLIB_ERR_CONFIG_SYNTAX,
 * MESHLIB_ERR_CONFIG, MESHLIB_ERR_CONFIG_STRICT when a document is bad (the
 * diagnostics say where; the rest of the input is still read, so that one
 * call reports every problem), MESHLIB_ERR_NOMEM.
 * Ownership: |path| is copied. Thread-safety: the owning thread.
 * Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_config_add_path(meshlib_config *c, const char *path);

/**
 * As meshlib_config_add_path() for |len| bytes of YAML text labelled
 * |name| in messages.
 * Ownership: copied. Thread-safety: the owning thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_config_add_string(meshlib_config *c,
                                             const char *name, const char *yaml,
                                             size_t len);

/**
 * Check what |c| holds the way `istioctl analyze` does, adding IST and
 * ML diagnostics to |c|.
 * Returns: MESHLIB_OK when no diagnostic of level ERROR exists,
 * MESHLIB_ERR_CONFIG otherwise, MESHLIB_ERR_NOMEM.
 * Thread-safety: the owning thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_config_analyze(meshlib_config *c);

/**
 * Compile what |c| holds into a snapshot and put it in force in the mesh
 * atomically: calls that already started keep the snapshot they hold.
 * Nothing half-applies: on any error the config in force stays.
 * Returns: MESHLIB_OK; MESHLIB_ERR_CONFIG (or another -200s code) when a
 * load error is on record; MESHLIB_ERR_NOMEM.
 * Thread-safety: the owning thread of |c|; the mesh may be in use by other
 * threads meanwhile. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_config_apply(meshlib_config *c);

/**
 * The first error's text ("file:line:col: field: message"), "" if none.
 * Ownership: borrowed until |c| changes or is freed. Since: 0.1.0
 */
MESHLIB_EXTERN const char *meshlib_config_errmsg(const meshlib_config *c);

/** Number of diagnostics on record in |c|. Since: 0.1.0 */
MESHLIB_EXTERN size_t meshlib_config_diag_count(const meshlib_config *c);

/**
 * Diagnostic |i| (0-based) of |c|, or NULL when out of range.
 * Ownership: borrowed until |c| changes or is freed. Since: 0.1.0
 */
MESHLIB_EXTERN const meshlib_diag *meshlib_config_diag(const meshlib_config *c,
                                                       size_t i);

/** Level of |d|: a meshlib_level. Since: 0.1.0 */
MESHLIB_EXTERN int meshlib_diag_level(const meshlib_diag *d);
/**
 * Stable code of |d|: Istio's analyzer codes where Istio has one
 * ("IST0101"), "ML" and four digits ("ML0101") for meshlib's own.
 * Since: 0.1.0
 */
MESHLIB_EXTERN const char *meshlib_diag_code(const meshlib_diag *d);
/** Source file (or string name) of |d|; "" when not tied to one. */
MESHLIB_EXTERN const char *meshlib_diag_file(const meshlib_diag *d);
/** 1-based line and column of |d| in its file; 0 when unknown. */
MESHLIB_EXTERN uint32_t meshlib_diag_line(const meshlib_diag *d);
MESHLIB_EXTERN uint32_t meshlib_diag_column(const meshlib_diag *d);
/** Field path such as "spec.http[1].retries.attempts"; "" if none. */
MESHLIB_EXTERN const char *meshlib_diag_field(const meshlib_diag *d);
/** "Kind namespace/name" of the object concerned; "" if none. */
MESHLIB_EXTERN const char *meshlib_diag_resource(const meshlib_diag *d);
/** The message alone, without location. */
MESHLIB_EXTERN const char *meshlib_diag_message(const meshlib_diag *d);
/** The whole line: "file:line:col: field: message". */
MESHLIB_EXTERN const char *meshlib_diag_text(const meshlib_diag *d);

/** A list of endpoints an application gives for one service. One thread. */
typedef struct meshlib_endpoints meshlib_endpoints;

/**
 * Create an empty endpoint list.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: *out is the caller's; free with meshlib_endpoints_free().
 * Thread-safety: any thread; the list is then used by one thread.
 * Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_endpoints_new(meshlib_endpoints **out);

/** Free |e|; NULL does nothing. Thread-safety: the owning thread. */
MESHLIB_EXTERN void meshlib_endpoints_free(meshlib_endpoints *e);

/**
 * Append an endpoint: |address| is an IP address or a DNS name, |port| the
 * port it serves on (0: the port the request names), |weight| its load
 * balancing weight (0 counts as 1).
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: copied. Thread-safety: the owning thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_endpoints_add(meshlib_endpoints *e,
                                         const char *address, uint32_t port,
                                         uint32_t weight);

/**
 * Label the endpoint added last (labels select DestinationRule subsets,
 * e.g. version=v2).
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (no endpoint yet),
 * MESHLIB_ERR_NOMEM.
 * Ownership: copied. Thread-safety: the owning thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_endpoints_add_label(meshlib_endpoints *e,
                                               const char *key,
                                               const char *value);

/**
 * Set or replace the endpoints of service |host| (a short name resolves in
 * the mesh's namespace), for the application's own discovery: they take
 * precedence over ServiceEntry endpoints for that host. |e| NULL or empty
 * removes them. Takes effect atomically for calls that start afterwards;
 * the live state of endpoints that stay is kept.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: |e| is copied and stays the caller's.
 * Thread-safety: any thread, while others call. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_set_endpoints(meshlib *m, const char *host,
                                         const meshlib_endpoints *e);

#ifdef __cplusplus
}
#endif
#endif /* MESHLIB_MESH_H */
