/* SPDX-License-Identifier: MIT */
#ifndef ML_CONFIG_MODEL_H
#define ML_CONFIG_MODEL_H

/* The typed Istio config model. Everything here lives in one arena and is
 * immutable once a load finishes. Conventions:
 *  - strings are NUL-terminated, NULL when the field is absent;
 *  - durations are int64 milliseconds, -1 when absent;
 *  - counts and limits are int64, -1 when absent (so 0 stays meaningful);
 *  - percentages are doubles, < 0 when absent;
 *  - booleans are ML_TRI_UNSET / ML_TRI_FALSE / ML_TRI_TRUE where Istio
 *    distinguishes "unset" (BoolValue), else plain int;
 *  - every object remembers where it came from (ml_origin) so that the
 *    analyzer and runtime errors can point at file:line:column. */

#include <stddef.h>
#include <stdint.h>
#include "util/mem.h"
#include "util/regex.h"

typedef struct ml_origin {
  const char *file; /* file path or string name */
  uint32_t line;    /* 1-based; 0 when unknown */
  uint32_t column;  /* 1-based */
} ml_origin;

enum { ML_TRI_UNSET = -1, ML_TRI_FALSE = 0, ML_TRI_TRUE = 1 };

typedef struct ml_kv {
  const char *key;
  const char *value;
} ml_kv;

typedef struct ml_kv_list {
  ml_kv *items;
  size_t count;
} ml_kv_list;

typedef struct ml_str_list {
  const char **items;
  size_t count;
} ml_str_list;

/* StringMatch. REGEX holds a compiled, anchored full-match pattern.
 * PRESENT is `{}` or `regex: "*"`: the header only has to exist. */
typedef enum ml_match_kind {
  ML_MATCH_NONE = 0,
  ML_MATCH_EXACT,
  ML_MATCH_PREFIX,
  ML_MATCH_REGEX,
  ML_MATCH_PRESENT
} ml_match_kind;

typedef struct ml_string_match {
  ml_match_kind kind;
  const char *value; /* the exact text, the prefix or the regex source */
  ml_regex *re;      /* compiled when kind == ML_MATCH_REGEX */
  ml_origin origin;
} ml_string_match;

typedef struct ml_named_match {
  const char *name; /* header names are stored lower-cased */
  ml_string_match match;
} ml_named_match;

typedef struct ml_named_match_list {
  ml_named_match *items;
  size_t count;
} ml_named_match_list;

/* HTTPMatchRequest. */
typedef struct ml_http_match {
  const char *name;
  ml_string_match uri;
  ml_string_match scheme;
  ml_string_match method;
  ml_string_match authority;
  ml_named_match_list headers;
  ml_named_match_list without_headers;
  ml_named_match_list query_params;
  int ignore_uri_case;
  uint32_t port; /* 0 when absent */
  ml_kv_list source_labels;
  const char *source_namespace;
  ml_str_list gateways;
  const char *stat_prefix;
  ml_origin origin;
} ml_http_match;

/* Headers {request, response} x {set, add, remove}. */
typedef struct ml_header_ops {
  ml_kv_list set;
  ml_kv_list add;
  ml_str_list remove;
} ml_header_ops;

typedef struct ml_headers {
  ml_header_ops request;
  ml_header_ops response;
} ml_headers;

/* Destination. host is as written; fqdn is resolved against the
 * VirtualService's namespace. */
typedef struct ml_destination {
  const char *host;
  const char *fqdn;
  const char *subset;
  uint32_t port; /* 0 when absent */
  ml_origin origin;
} ml_destination;

typedef struct ml_route_destination {
  ml_destination destination;
  int64_t weight; /* -1 when absent */
  ml_headers headers;
  ml_origin origin;
} ml_route_destination;

typedef struct ml_http_rewrite {
  const char *uri;
  const char *authority;
  const char *regex_match; /* uriRegexRewrite.match */
  ml_regex *regex;         /* compiled regex_match */
  const char *regex_rewrite;
  ml_origin origin;
} ml_http_rewrite;

typedef struct ml_http_redirect {
  const char *uri;
  const char *authority;
  const char *scheme;
  uint32_t port;   /* 0 when absent */
  int derive_port; /* 0 unset, 1 FROM_PROTOCOL_DEFAULT, 2 FROM_REQUEST_PORT */
  int32_t redirect_code; /* 301 when absent */
  ml_origin origin;
} ml_http_redirect;

typedef struct ml_direct_response {
  int32_t status;
  const char *body; /* body.string, or body.bytes decoded */
  size_t body_len;
  ml_origin origin;
} ml_direct_response;

typedef struct ml_backoff {
  int64_t base_interval_ms; /* -1 when absent (Envoy default 25 ms) */
  int64_t max_interval_ms;  /* -1 when absent (10 x base) */
} ml_backoff;

typedef struct ml_http_retry {
  int64_t attempts; /* -1 when absent */
  int64_t per_try_timeout_ms;
  const char *retry_on;            /* as written; NULL when absent */
  int retry_remote_localities;     /* ML_TRI_* */
  int retry_ignore_previous_hosts; /* ML_TRI_* */
  ml_backoff backoff;
  int has_backoff;
  ml_origin origin;
} ml_http_retry;

typedef struct ml_percent {
  double value; /* 0..100; < 0 when absent */
} ml_percent;

typedef struct ml_fault {
  int has_delay;
  int64_t delay_fixed_ms; /* -1 when absent */
  ml_percent delay_percentage;
  int has_abort;
  int32_t abort_http_status;     /* 0 when absent */
  const char *abort_grpc_status; /* e.g. "UNAVAILABLE" */
  ml_percent abort_percentage;
  ml_origin origin;
} ml_fault;

typedef struct ml_mirror {
  ml_destination destination;
  ml_percent percentage; /* absent means 100 % */
} ml_mirror;

typedef struct ml_cors_policy {
  ml_string_match *allow_origins;
  size_t allow_origins_count;
  ml_str_list allow_methods;
  ml_str_list allow_headers;
  ml_str_list expose_headers;
  int64_t max_age_ms;
  int allow_credentials; /* ML_TRI_* */
  const char *unmatched_preflights;
} ml_cors_policy;

typedef struct ml_http_route {
  const char *name;
  ml_http_match *matches;
  size_t match_count;
  ml_route_destination *route;
  size_t route_count;
  ml_http_redirect *redirect; /* NULL when absent */
  ml_direct_response *direct_response;
  ml_http_rewrite *rewrite;
  int64_t timeout_ms;     /* -1 when absent */
  ml_http_retry *retries; /* NULL when absent */
  ml_fault *fault;
  ml_mirror *mirrors; /* mirror and mirrors[] together */
  size_t mirror_count;
  ml_cors_policy *cors_policy;
  ml_headers headers;
  const char *delegate_name; /* parsed; delegates apply to gateways */
  const char *delegate_namespace;
  ml_origin origin;
} ml_http_route;

/* Common object metadata. */
typedef struct ml_meta {
  const char *api_version;
  const char *kind;
  const char *name;
  const char *namespace_; /* "default" when absent */
  ml_kv_list labels;
  ml_origin origin;
} ml_meta;

typedef struct ml_virtual_service {
  ml_meta meta;
  ml_str_list hosts;       /* as written */
  const char **host_fqdns; /* hosts resolved against meta.namespace_ */
  ml_str_list gateways;
  ml_str_list export_to;
  ml_http_route *http;
  size_t http_count;
  size_t tls_count; /* tls[] and tcp[] routes are counted, not used */
  size_t tcp_count;
} ml_virtual_service;

/* DestinationRule. */
typedef enum ml_lb_simple {
  ML_LB_UNSPECIFIED = 0,
  ML_LB_LEAST_CONN, /* kept distinct to report it; behaves as LEAST_REQUEST */
  ML_LB_RANDOM,
  ML_LB_PASSTHROUGH,
  ML_LB_ROUND_ROBIN,
  ML_LB_LEAST_REQUEST
} ml_lb_simple;

typedef enum ml_hash_key {
  ML_HASH_NONE = 0,
  ML_HASH_HEADER,
  ML_HASH_COOKIE,
  ML_HASH_SOURCE_IP,
  ML_HASH_QUERY_PARAM
} ml_hash_key;

typedef enum ml_hash_algo {
  ML_HASH_ALGO_DEFAULT = 0, /* ring hash */
  ML_HASH_ALGO_RING,
  ML_HASH_ALGO_MAGLEV
} ml_hash_algo;

typedef struct ml_consistent_hash {
  ml_hash_key key;
  const char *http_header_name;
  const char *http_query_parameter_name;
  const char *cookie_name;
  const char *cookie_path;
  int64_t cookie_ttl_ms; /* -1 when absent */
  ml_hash_algo algo;
  int64_t minimum_ring_size; /* -1 when absent (default 1024) */
  int64_t maglev_table_size; /* -1 when absent (default 65537) */
} ml_consistent_hash;

typedef struct ml_load_balancer {
  int present;
  ml_lb_simple simple;
  ml_consistent_hash *consistent_hash; /* NULL when absent */
  int64_t warmup_duration_ms;
  int has_locality_lb_setting; /* parsed for presence only */
} ml_load_balancer;

typedef struct ml_tcp_keepalive {
  int64_t probes;
  int64_t time_ms;
  int64_t interval_ms;
} ml_tcp_keepalive;

typedef struct ml_connection_pool {
  int present;
  /* tcp */
  int64_t max_connections;
  int64_t connect_timeout_ms;
  int has_tcp_keepalive;
  ml_tcp_keepalive tcp_keepalive;
  int64_t max_connection_duration_ms;
  int64_t tcp_idle_timeout_ms;
  /* http */
  int64_t http1_max_pending_requests;
  int64_t http2_max_requests;
  int64_t max_requests_per_connection;
  int64_t max_retries;
  int64_t http_idle_timeout_ms;
  const char *h2_upgrade_policy; /* DEFAULT, DO_NOT_UPGRADE, UPGRADE */
  int use_client_protocol;
  int64_t max_concurrent_streams;
} ml_connection_pool;

typedef struct ml_outlier_detection {
  int present;
  int64_t consecutive_5xx_errors;
  int64_t consecutive_gateway_errors;
  int64_t consecutive_local_origin_failures;
  int split_external_local_origin_errors;
  int64_t interval_ms;
  int64_t base_ejection_time_ms;
  int64_t max_ejection_percent;
  int64_t min_health_percent;
} ml_outlier_detection;

typedef enum ml_tls_mode {
  ML_TLS_DISABLE = 0,
  ML_TLS_SIMPLE,
  ML_TLS_MUTUAL,
  ML_TLS_ISTIO_MUTUAL
} ml_tls_mode;

typedef struct ml_client_tls {
  int present;
  ml_tls_mode mode;
  const char *client_certificate;
  const char *private_key;
  const char *ca_certificates;
  const char *ca_crl;
  const char *credential_name;
  ml_str_list subject_alt_names;
  const char *sni;
  int insecure_skip_verify; /* ML_TRI_* */
} ml_client_tls;

typedef struct ml_retry_budget {
  int present;
  double percent;                /* < 0 when absent (default 20) */
  int64_t min_retry_concurrency; /* -1 when absent (default 3) */
} ml_retry_budget;

typedef struct ml_port_traffic_policy ml_port_traffic_policy;

typedef struct ml_traffic_policy {
  ml_load_balancer load_balancer;
  ml_connection_pool connection_pool;
  ml_outlier_detection outlier_detection;
  ml_client_tls tls;
  ml_retry_budget retry_budget;
  ml_port_traffic_policy *port_level_settings;
  size_t port_level_count;
  ml_origin origin;
} ml_traffic_policy;

struct ml_port_traffic_policy {
  uint32_t port;
  ml_traffic_policy policy; /* its own port_level_settings stay empty */
};

typedef struct ml_subset {
  const char *name;
  ml_kv_list labels;
  ml_traffic_policy *traffic_policy; /* NULL when absent */
  ml_origin origin;
} ml_subset;

typedef struct ml_destination_rule {
  ml_meta meta;
  const char *host;                  /* as written */
  const char *host_fqdn;             /* resolved against meta.namespace_ */
  ml_traffic_policy *traffic_policy; /* NULL when absent */
  ml_subset *subsets;
  size_t subset_count;
  ml_str_list export_to;
  ml_kv_list workload_selector;
} ml_destination_rule;

/* WorkloadEntry spec: also a ServiceEntry endpoint. */
typedef struct ml_workload_entry_spec {
  const char *address;
  ml_kv_list ports; /* port name -> number, stored as text */
  ml_kv_list labels;
  const char *network;
  const char *locality;
  int64_t weight; /* -1 when absent */
  const char *service_account;
  ml_origin origin;
} ml_workload_entry_spec;

typedef struct ml_service_port {
  uint32_t number;
  const char *protocol; /* upper-cased: HTTP, HTTPS, GRPC, HTTP2, TCP, ... */
  const char *name;
  uint32_t target_port; /* 0 when absent */
} ml_service_port;

typedef enum ml_resolution {
  ML_RESOLUTION_NONE = 0,
  ML_RESOLUTION_STATIC,
  ML_RESOLUTION_DNS,
  ML_RESOLUTION_DNS_ROUND_ROBIN,
  ML_RESOLUTION_DYNAMIC_DNS
} ml_resolution;

typedef struct ml_service_entry {
  ml_meta meta;
  ml_str_list hosts;
  const char **host_fqdns;
  ml_str_list addresses;
  ml_service_port *ports;
  size_t port_count;
  int location_internal; /* MESH_INTERNAL */
  ml_resolution resolution;
  ml_workload_entry_spec *endpoints;
  size_t endpoint_count;
  ml_kv_list workload_selector; /* labels; empty when absent */
  int has_workload_selector;
  ml_str_list export_to;
  ml_str_list subject_alt_names;
} ml_service_entry;

typedef struct ml_workload_entry {
  ml_meta meta;
  ml_workload_entry_spec spec;
} ml_workload_entry;

/* Everything one load produced. Arrays are in input order (file order,
 * then document order), which is the order Istio's merging rules use. */
typedef struct ml_config {
  ml_arena arena;
  ml_regex *regexes; /* every compiled regex, freed with the config */
  ml_virtual_service **virtual_services;
  size_t vs_count;
  ml_destination_rule **destination_rules;
  size_t dr_count;
  ml_service_entry **service_entries;
  size_t se_count;
  ml_workload_entry **workload_entries;
  size_t we_count;
} ml_config;

#endif
