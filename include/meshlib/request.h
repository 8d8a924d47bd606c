/* SPDX-License-Identifier: MIT */
#ifndef MESHLIB_REQUEST_H
#define MESHLIB_REQUEST_H

#include <stddef.h>
#include <stdint.h>
#include "export.h"
#include "mesh.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One outbound call: method, URL, headers. Used by one thread at a time. */
typedef struct meshlib_request meshlib_request;
/** Where a request goes and under which policy. Borrowed from a request. */
typedef struct meshlib_decision meshlib_decision;

/** Envoy's response flags, as a bitmask. */
typedef enum meshlib_response_flag {
  MESHLIB_RF_NONE = 0,
  MESHLIB_RF_UH = 1u << 0,   /* no healthy upstream */
  MESHLIB_RF_UF = 1u << 1,   /* upstream connection failure */
  MESHLIB_RF_UO = 1u << 2,   /* upstream overflow (circuit breaker) */
  MESHLIB_RF_NR = 1u << 3,   /* no route */
  MESHLIB_RF_URX = 1u << 4,  /* retry limit reached */
  MESHLIB_RF_UT = 1u << 5,   /* upstream request timeout */
  MESHLIB_RF_DI = 1u << 6,   /* delayed by fault injection */
  MESHLIB_RF_FI = 1u << 7,   /* aborted by fault injection */
  MESHLIB_RF_NC = 1u << 8,   /* upstream cluster (subset) not found */
  MESHLIB_RF_LR = 1u << 9,   /* connection local reset */
  MESHLIB_RF_UR = 1u << 10,  /* upstream remote reset */
  MESHLIB_RF_UC = 1u << 11,  /* upstream connection termination */
  MESHLIB_RF_RL = 1u << 12,  /* rate limited */
  MESHLIB_RF_DC = 1u << 13,  /* downstream (caller) cancelled */
  MESHLIB_RF_UPE = 1u << 14, /* upstream protocol error (or past a limit) */
  MESHLIB_RF_SI = 1u << 15   /* stream idle timeout */
} meshlib_response_flag;

/**
 * Write |flags| as Envoy prints them ("-" when none, else "UF,URX") into
 * |buf| of |len| bytes, NUL-terminated and truncated if need be.
 * Returns: the length the full text needs, without the NUL.
 * Thread-safety: any thread. Since: 0.1.0
 */
MESHLIB_EXTERN size_t meshlib_response_flags_str(uint32_t flags, char *buf,
                                                 size_t len);

/**
 * Create a request of |method| (e.g. "GET") for |url|
 * ("http://reviews:9080/api/v1?x=1"). Relative URLs are refused.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_BAD_URL,
 * MESHLIB_ERR_NOMEM.
 * Ownership: *out is the caller's (meshlib_request_free()), and must be
 * freed before |m|; strings are copied.
 * Thread-safety: any thread; the request is then used by one thread.
 * Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_request_new(meshlib_request **out, meshlib *m,
                                       const char *method, const char *url);

/** Free |r|; NULL does nothing. Thread-safety: the owning thread. */
MESHLIB_EXTERN void meshlib_request_free(meshlib_request *r);

/**
 * Append a request header. Names are matched case-insensitively.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_BAD_HEADER
 * (empty name, or CR/LF/NUL in either), MESHLIB_ERR_NOMEM.
 * Ownership: copied. Thread-safety: the owning thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_request_add_header(meshlib_request *r,
                                              const char *name,
                                              const char *value);

/**
 * Set a label of the calling workload for this request only. Once any is
 * set, `sourceLabels` matches use the request's labels instead of the
 * mesh's workload labels.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: copied. Thread-safety: the owning thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_request_set_source_label(meshlib_request *r,
                                                    const char *key,
                                                    const char *value);

/**
 * Decide where |r| goes under the config in force. A request that no rule
 * matches still returns MESHLIB_OK: its decision carries MESHLIB_RF_NR.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: *out is borrowed until the next meshlib_request_route() on
 * |r| or meshlib_request_free(r); it holds the config snapshot it was made
 * on, so a later reload does not change it.
 * Thread-safety: the owning thread of |r|; other threads may use the mesh.
 * Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_request_route(meshlib_request *r,
                                         const meshlib_decision **out);

/** Message of |r|'s last failure; "" if none. Borrowed. Since: 0.1.0 */
MESHLIB_EXTERN const char *meshlib_request_errmsg(const meshlib_request *r);

/**
 * Attach a request body (e.g. for POST); it is kept so that retries can
 * send it again.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: copied. Thread-safety: the owning thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_request_set_body(meshlib_request *r,
                                            const void *data, size_t len);

/**
 * The application's own deadline for the whole call, in milliseconds
 * (0: none). When the route also sets a timeout, the shorter wins.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG.
 * Thread-safety: the owning thread. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_request_set_timeout_ms(meshlib_request *r,
                                                  int64_t timeout_ms);

/**
 * Carry the call: route it, pick a destination and an endpoint, send it
 * and wait for the answer. What the upstream (or meshlib, for a local
 * reply such as 404 NR or 503 UH) answered is read with the
 * meshlib_response_*() getters: an upstream error is not an API error.
 * The request may be performed again (its decision and response are
 * replaced).
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Thread-safety: the owning thread of |r|; any number of requests of one
 * mesh may be performed at once from different threads. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_request_perform(meshlib_request *r);

/*
 * Response getters, valid after meshlib_request_perform() returned
 * MESHLIB_OK, until the request is performed again or freed. Strings are
 * borrowed from |r|. Thread-safety: the owning thread of |r| (or any
 * thread once no thread changes |r|). Since: 0.1.0
 */

/** HTTP status (upstream's, or meshlib's local reply). Since: 0.1.0 */
MESHLIB_EXTERN int32_t meshlib_response_status(const meshlib_request *r);
/** Envoy response flags (MESHLIB_RF_*): 0 when the upstream answered. */
MESHLIB_EXTERN uint32_t meshlib_response_flags(const meshlib_request *r);
/** Number of response headers. */
MESHLIB_EXTERN size_t meshlib_response_header_count(const meshlib_request *r);
/** Header |i|: lower-case name and value. MESHLIB_ERR_RANGE past the end. */
MESHLIB_EXTERN int meshlib_response_header_at(const meshlib_request *r,
                                              size_t i, const char **name,
                                              const char **value);
/** First value of header |name| (any case), or NULL. */
MESHLIB_EXTERN const char *meshlib_response_header(const meshlib_request *r,
                                                   const char *name);
/** The body (NUL-terminated for convenience) and its length in *len. */
MESHLIB_EXTERN const char *meshlib_response_body(const meshlib_request *r,
                                                 size_t *len);
/** "address:port" of the endpoint that served the call, or NULL when no
 * endpoint was reached. */
MESHLIB_EXTERN const char *meshlib_response_upstream(const meshlib_request *r);
/** Envoy's name of the cluster the call went to, or NULL. */
MESHLIB_EXTERN const char *meshlib_response_cluster(const meshlib_request *r);
/** The routing decision the call was made on (borrowed from |r| until it
 * is routed, performed again or freed), or NULL before a perform. */
MESHLIB_EXTERN const meshlib_decision *
meshlib_response_decision(const meshlib_request *r);
/** Attempts made (1 without retries; 0 for a local reply). */
MESHLIB_EXTERN uint32_t meshlib_response_attempts(const meshlib_request *r);
/** Wall time of the whole call, in microseconds. */
MESHLIB_EXTERN int64_t meshlib_response_duration_us(const meshlib_request *r);
/** Why meshlib answered itself or the upstream failed (e.g. "upstream
 * connect error or disconnect/reset before headers. reset reason:
 * connection failure"), "" when the upstream answered. */
MESHLIB_EXTERN const char *meshlib_response_details(const meshlib_request *r);

/*
 * Each attempt of the last perform, |i| from 0 to
 * meshlib_response_attempts() - 1: what a retrying call tried, where, and
 * why it tried again. Out of range: NULL, 0 or -1. Same lifetime and
 * thread-safety as the getters above. Since: 0.2.0
 */

/** "address:port" the attempt went to. */
MESHLIB_EXTERN const char *
meshlib_response_attempt_upstream(const meshlib_request *r, uint32_t i);
/** The attempt's status: the upstream's, or meshlib's local reply (503 for
 * a connect failure, 504 for a per-try timeout). */
MESHLIB_EXTERN int32_t meshlib_response_attempt_status(const meshlib_request *r,
                                                       uint32_t i);
/** The attempt's response flags (MESHLIB_RF_UF, MESHLIB_RF_UT, ...). */
MESHLIB_EXTERN uint32_t meshlib_response_attempt_flags(const meshlib_request *r,
                                                       uint32_t i);
/** The attempt's duration in microseconds; -1 out of range. */
MESHLIB_EXTERN int64_t
meshlib_response_attempt_duration_us(const meshlib_request *r, uint32_t i);
/** The retryOn condition that made meshlib try again after this attempt
 * ("connect-failure", "5xx", "retriable-status-codes", ...), or NULL for
 * the last attempt. */
MESHLIB_EXTERN const char *
meshlib_response_attempt_retry_reason(const meshlib_request *r, uint32_t i);

/*
 * Decision getters. Unless said otherwise: strings are borrowed as long
 * as the decision is, and are NULL when the part is absent; any thread
 * may read a decision that no thread changes.
 */

/** Config version the decision was made on. Since: 0.1.0 */
MESHLIB_EXTERN uint64_t
meshlib_decision_config_version(const meshlib_decision *d);
/** Response flags: MESHLIB_RF_NR when the host has rules but none
 * matched, MESHLIB_RF_NC when a destination's subset is not defined. */
MESHLIB_EXTERN uint32_t
meshlib_decision_response_flags(const meshlib_decision *d);
/** The destination service as a FQDN (the VirtualService host that
 * matched, or the request's host when no VirtualService applies). */
MESHLIB_EXTERN const char *meshlib_decision_host(const meshlib_decision *d);
/** The request's port (from the URL or its scheme's default). */
MESHLIB_EXTERN uint32_t meshlib_decision_port(const meshlib_decision *d);
/** Name and namespace of the VirtualService applied, or NULL. */
MESHLIB_EXTERN const char *meshlib_decision_vs_name(const meshlib_decision *d);
MESHLIB_EXTERN const char *
meshlib_decision_vs_namespace(const meshlib_decision *d);
/** The matched http[] rule's name, else its index as text; NULL when
 * none matched or no VirtualService applies. */
MESHLIB_EXTERN const char *
meshlib_decision_route_name(const meshlib_decision *d);
/** Zero-based index of the matched http[] rule, -1 if none. */
MESHLIB_EXTERN int32_t meshlib_decision_route_index(const meshlib_decision *d);

/** Number of weighted destinations (0 for redirect, direct response or
 * no route; 1 for the implicit route of a host without rules). */
MESHLIB_EXTERN size_t
meshlib_decision_destination_count(const meshlib_decision *d);
/** Destination |i|'s host (FQDN), subset (NULL if none), port (0 if none). */
MESHLIB_EXTERN const char *
meshlib_decision_destination_host(const meshlib_decision *d, size_t i);
MESHLIB_EXTERN const char *
meshlib_decision_destination_subset(const meshlib_decision *d, size_t i);
MESHLIB_EXTERN uint32_t
meshlib_decision_destination_port(const meshlib_decision *d, size_t i);
/** Destination |i|'s weight: its share is weight / sum of weights. A lone
 * destination reports 100. */
MESHLIB_EXTERN uint32_t
meshlib_decision_destination_weight(const meshlib_decision *d, size_t i);
/** "namespace/name" of the DestinationRule that applies to destination
 * |i| (the first, when several merge), or NULL. */
MESHLIB_EXTERN const char *
meshlib_decision_destination_rule(const meshlib_decision *d, size_t i);
/** Envoy's cluster name of destination |i|:
 * "outbound|<port>|<subset>|<host>". */
MESHLIB_EXTERN const char *
meshlib_decision_destination_cluster(const meshlib_decision *d, size_t i);
/** Nonzero when destination |i| names a subset no DestinationRule
 * defines (a call to it fails with 503 NC). */
MESHLIB_EXTERN int
meshlib_decision_destination_missing_subset(const meshlib_decision *d,
                                            size_t i);

/** rewrite.uri, rewrite.authority, uriRegexRewrite.match/.rewrite. */
MESHLIB_EXTERN const char *
meshlib_decision_rewrite_uri(const meshlib_decision *d);
MESHLIB_EXTERN const char *
meshlib_decision_rewrite_authority(const meshlib_decision *d);
MESHLIB_EXTERN const char *
meshlib_decision_rewrite_regex(const meshlib_decision *d);
MESHLIB_EXTERN const char *
meshlib_decision_rewrite_regex_substitution(const meshlib_decision *d);

/** Route timeout in milliseconds; -1 when the route sets none (no timeout,
 * as in Istio). */
MESHLIB_EXTERN int64_t meshlib_decision_timeout_ms(const meshlib_decision *d);

/** Nonzero when the route has a `retries` block. */
MESHLIB_EXTERN int meshlib_decision_has_retries(const meshlib_decision *d);
/** retries.attempts (-1 when the block omits it). */
MESHLIB_EXTERN int32_t
meshlib_decision_retry_attempts(const meshlib_decision *d);
/** retries.perTryTimeout in ms, -1 when unset. */
MESHLIB_EXTERN int64_t
meshlib_decision_retry_per_try_timeout_ms(const meshlib_decision *d);
/** retries.retryOn as written, NULL when unset. */
MESHLIB_EXTERN const char *meshlib_decision_retry_on(const meshlib_decision *d);

/** Nonzero when the route has a `fault` block. */
MESHLIB_EXTERN int meshlib_decision_has_fault(const meshlib_decision *d);
/** fault.delay: fixedDelay in ms (-1 if no delay) and percentage. */
MESHLIB_EXTERN int64_t
meshlib_decision_fault_delay_ms(const meshlib_decision *d);
MESHLIB_EXTERN double
meshlib_decision_fault_delay_percent(const meshlib_decision *d);
/** fault.abort: httpStatus (0 if none), grpcStatus (NULL), percentage. */
MESHLIB_EXTERN int32_t
meshlib_decision_fault_abort_status(const meshlib_decision *d);
MESHLIB_EXTERN const char *
meshlib_decision_fault_abort_grpc_status(const meshlib_decision *d);
MESHLIB_EXTERN double
meshlib_decision_fault_abort_percent(const meshlib_decision *d);

/** directResponse.status (0 when the route has none) and body (with its
 * length in *len when |len| is not NULL). */
MESHLIB_EXTERN int32_t
meshlib_decision_direct_response_status(const meshlib_decision *d);
MESHLIB_EXTERN const char *
meshlib_decision_direct_response_body(const meshlib_decision *d, size_t *len);

/** redirect: code (0 when the route has none; default 301), uri,
 * authority, scheme, port (0 if unset). */
MESHLIB_EXTERN int32_t
meshlib_decision_redirect_code(const meshlib_decision *d);
MESHLIB_EXTERN const char *
meshlib_decision_redirect_uri(const meshlib_decision *d);
MESHLIB_EXTERN const char *
meshlib_decision_redirect_authority(const meshlib_decision *d);
MESHLIB_EXTERN const char *
meshlib_decision_redirect_scheme(const meshlib_decision *d);
MESHLIB_EXTERN uint32_t
meshlib_decision_redirect_port(const meshlib_decision *d);

/** Which header rules: of the request sent upstream or the response. */
typedef enum meshlib_header_dir {
  MESHLIB_HEADERS_REQUEST = 0,
  MESHLIB_HEADERS_RESPONSE = 1
} meshlib_header_dir;
/** What a header rule does. */
typedef enum meshlib_header_op {
  MESHLIB_HEADER_SET = 0,   /* overwrite */
  MESHLIB_HEADER_ADD = 1,   /* append */
  MESHLIB_HEADER_REMOVE = 2 /* value is NULL */
} meshlib_header_op;
/**
 * Number of header rules for direction |dir| (a meshlib_header_dir) at the
 * route level (|dest| = -1) or of destination |dest|.
 */
MESHLIB_EXTERN size_t meshlib_decision_header_count(const meshlib_decision *d,
                                                    int32_t dest, int dir);
/**
 * Header rule |i|: *op gets a meshlib_header_op, *name and *value borrowed
 * strings (value NULL for remove).
 * Returns: MESHLIB_OK, MESHLIB_ERR_RANGE, MESHLIB_ERR_INVALID_ARG.
 */
MESHLIB_EXTERN int meshlib_decision_header(const meshlib_decision *d,
                                           int32_t dest, int dir, size_t i,
                                           int *op, const char **name,
                                           const char **value);

/**
 * The whole decision as one JSON object (the shape `meshctl route --json`
 * prints).
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: *out is the caller's; free it with meshlib_free_str().
 * Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_decision_to_json(const meshlib_decision *d,
                                            char **out);

/**
 * The effective policy of |d| as lines of text, defaults filled in as
 * istiod would give them to Envoy: the route timeout, the retries (Istio's
 * default when the route names none), and per destination cluster its
 * circuit breakers and outlier detection. What `meshctl route` prints.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_NOMEM.
 * Ownership: *out is the caller's; free it with meshlib_free_str().
 * Thread-safety: as meshlib_decision_to_json(). Since: 0.2.0
 */
MESHLIB_EXTERN int meshlib_decision_policy_text(const meshlib_decision *d,
                                                char **out);

#ifdef __cplusplus
}
#endif
#endif /* MESHLIB_REQUEST_H */
