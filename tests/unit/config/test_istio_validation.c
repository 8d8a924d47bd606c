/* SPDX-License-Identifier: MIT */
/* Istio's own validation test tables (istio/istio
 * pkg/config/validation/validation_test.go), ported as expectations: a
 * case named after an Istio case keeps its test function and case name;
 * the other rows state a rule of Istio's validation.go (or its CRD schema)
 * directly. Each gives its input as YAML and whether Istio accepts it. meshlib
 * loads it in strict mode and must agree, or the case is a documented
 * difference (docs/config-reference.md, "Validation"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/load.h"
#include "meshlib/error.h"
#include "meshlib/mesh.h"

typedef enum verdict {
  VALID,        /* Istio accepts; so does meshlib */
  INVALID,      /* Istio refuses; so does meshlib */
  DIFF_ACCEPTS, /* Istio refuses; meshlib accepts (documented) */
  DIFF_REFUSES  /* Istio accepts; meshlib refuses (documented) */
} verdict;

typedef struct vcase {
  const char *name; /* Istio's TestXxx / case name */
  const char *yaml;
  verdict want;
} vcase;

#define VS                                                                     \
  "apiVersion: networking.istio.io/v1\nkind: VirtualService\n"                 \
  "metadata: {name: t, namespace: default}\nspec:\n"
#define DR                                                                     \
  "apiVersion: networking.istio.io/v1\nkind: DestinationRule\n"                \
  "metadata: {name: t, namespace: default}\nspec:\n"
#define SE                                                                     \
  "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\n"                   \
  "metadata: {name: t, namespace: default}\nspec:\n"
#define WE                                                                     \
  "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\n"                  \
  "metadata: {name: t, namespace: default}\nspec:\n"
/* One HTTP route of a VirtualService for foo.bar; |r| is the route's
 * fields in flow style. */
#define ROUTE(r) VS "  hosts: [foo.bar]\n  http:\n  - {" r "}\n"
#define TO "route: [{destination: {host: foo.baz}}]"
/* A DestinationRule for foo.bar whose trafficPolicy is |tp| (flow). */
#define TP(tp) DR "  host: foo.bar\n  trafficPolicy: " tp "\n"

static const vcase kCases[] = {
    /* ---- TestValidateVirtualService ---------------------------------- */
    {"VirtualService/simple", VS "  hosts: [foo.bar]\n  http: [{" TO "}]\n",
     VALID},
    {"VirtualService/duplicate hosts",
     VS "  hosts: ['*.foo.bar', '*.bar']\n  http: [{" TO "}]\n", INVALID},
    {"VirtualService/with no destination",
     VS "  hosts: [foo.bar]\n  http: [{route: [{}]}]\n", INVALID},
    {"VirtualService/destination with out hosts",
     VS "  hosts: [foo.bar]\n  http: [{route: [{destination: {}}]}]\n",
     INVALID},
    /* meshlib reads no delegate VirtualServices: hosts are required. */
    {"VirtualService/delegate with no hosts", VS "  http: [{" TO "}]\n",
     DIFF_REFUSES},
    {"VirtualService/bad host", VS "  hosts: [foo.ba!r]\n  http: [{" TO "}]\n",
     INVALID},
    {"VirtualService/no tcp or http routing", VS "  hosts: [foo.bar]\n",
     INVALID},
    {"VirtualService/namespace/name for gateway",
     VS "  hosts: [foo.bar]\n  gateways: [ns1/gateway]\n  http: [{" TO "}]\n",
     VALID},
    {"VirtualService/wildcard for mesh gateway",
     VS "  hosts: ['*']\n  http: [{" TO "}]\n", INVALID},
    {"VirtualService/wildcard for mesh gateway (explicit mesh)",
     VS "  hosts: ['*']\n  gateways: [mesh]\n  http: [{" TO "}]\n", INVALID},
    {"VirtualService/wildcard for gateway",
     VS "  hosts: ['*']\n  gateways: [ns1/gateway]\n  http: [{" TO "}]\n",
     VALID},
    {"VirtualService/valid removing header",
     VS "  hosts: [foo.bar]\n  http:\n  - " TO "\n    headers: {request: "
        "{remove: [unwantedHeader, secretStuff]}}\n",
     VALID},
    {"VirtualService/invalid removing header",
     VS "  hosts: [foo.bar]\n  http:\n  - " TO "\n    headers: {request: "
        "{remove: ['']}}\n",
     INVALID},
    {"VirtualService/host is an IP address",
     VS "  hosts: [10.0.0.1]\n  http: [{" TO "}]\n", VALID},
    {"VirtualService/ip-and-wildcard-host (partial)",
     VS "  hosts: [foo.bar, '*.baz']\n  http: [{" TO "}]\n", VALID},

    /* ---- TestValidateDestination ------------------------------------- */
    {"Destination/empty", ROUTE("route: [{destination: {}}]"), INVALID},
    {"Destination/simple", ROUTE("route: [{destination: {host: foo.bar}}]"),
     VALID},
    {"Destination/full",
     ROUTE("route: [{destination: {host: foo.bar, subset: shiny, port: "
           "{number: 5000}}}]"),
     VALID},
    {"Destination/unnumbered-selector",
     ROUTE("route: [{destination: {host: foo.bar, subset: shiny, port: "
           "{}}}]"),
     INVALID},
    {"Destination/wildcard label not first (foo.*)",
     ROUTE("route: [{destination: {host: 'foo.*'}}]"), INVALID},
    {"Destination/namespace/host form (Sidecar only)",
     ROUTE("route: [{destination: {host: default/baz}}]"), INVALID},
    {"Destination/full wildcard", ROUTE("route: [{destination: {host: '*'}}]"),
     INVALID},
    {"Destination/prefix wildcard",
     ROUTE("route: [{destination: {host: '*.bar'}}]"), VALID},
    {"Destination/bad subset name",
     ROUTE("route: [{destination: {host: foo.bar, subset: 'v1.0'}}]"), INVALID},

    /* ---- TestValidateRouteDestination -------------------------------- */
    {"RouteDestination/simple",
     ROUTE("route: [{destination: {host: foo.baz}}]"), VALID},
    {"RouteDestination/wildcard dash",
     ROUTE("route: [{destination: {host: '*-foo.baz'}}]"), VALID},
    {"RouteDestination/wildcard prefix",
     ROUTE("route: [{destination: {host: '*foo.baz'}}]"), VALID},
    {"RouteDestination/wildcard", ROUTE("route: [{destination: {host: '*'}}]"),
     INVALID},
    {"RouteDestination/bad wildcard",
     ROUTE("route: [{destination: {host: 'foo.*'}}]"), INVALID},
    {"RouteDestination/bad fqdn",
     ROUTE("route: [{destination: {host: 'default/baz'}}]"), INVALID},
    {"RouteDestination/no destination", ROUTE("route: [{weight: 100}]"),
     INVALID},
    {"RouteDestination/weighted",
     ROUTE("route: [{destination: {host: foo.baz.south}, weight: 25}, "
           "{destination: {host: foo.baz.east}, weight: 75}]"),
     VALID},
    {"RouteDestination/total weight > 100",
     ROUTE("route: [{destination: {host: foo.baz.south}, weight: 55}, "
           "{destination: {host: foo.baz.east}, weight: 50}]"),
     VALID},
    {"RouteDestination/total weight < 100",
     ROUTE("route: [{destination: {host: foo.baz.south}, weight: 49}, "
           "{destination: {host: foo.baz.east}, weight: 50}]"),
     VALID},
    {"RouteDestination/negative weight",
     ROUTE("route: [{destination: {host: foo.baz.south}, weight: -1}, "
           "{destination: {host: foo.baz.east}, weight: 50}]"),
     INVALID},
    {"RouteDestination/total weight 0",
     ROUTE("route: [{destination: {host: foo.baz.south}, weight: 0}, "
           "{destination: {host: foo.baz.east}, weight: 0}]"),
     INVALID},

    /* ---- TestValidateHTTPRoute: headers ------------------------------ */
    {"HTTPRoute/valid headers",
     ROUTE(TO ", headers: {request: {add: {foo: bar}, set: {bar: baz}, "
              "remove: [x]}, response: {add: {a: b}, set: {c: d}}}"),
     VALID},
    {"HTTPRoute/empty header name - request add",
     ROUTE(TO ", headers: {request: {add: {'': bar}}}"), INVALID},
    {"HTTPRoute/empty header name - request set",
     ROUTE(TO ", headers: {request: {set: {'': bar}}}"), INVALID},
    {"HTTPRoute/empty header name - request remove",
     ROUTE(TO ", headers: {request: {remove: ['']}}"), INVALID},
    {"HTTPRoute/empty header name - response add",
     ROUTE(TO ", headers: {response: {add: {'': bar}}}"), INVALID},
    {"HTTPRoute/empty header name - response set",
     ROUTE(TO ", headers: {response: {set: {'': bar}}}"), INVALID},
    {"HTTPRoute/empty header name - response remove",
     ROUTE(TO ", headers: {response: {remove: ['']}}"), INVALID},
    {"HTTPRoute/envoy escaped % set",
     ROUTE(TO ", headers: {request: {set: {i: '100%%'}}, response: {add: "
              "{j: '100%%'}}}"),
     VALID},
    {"HTTPRoute/envoy variable set",
     ROUTE(TO ", headers: {request: {set: {name: '%HOSTNAME%'}}}"), VALID},
    {"HTTPRoute/envoy unescaped % set",
     ROUTE(TO ", headers: {request: {set: {i: '100%'}}}"), INVALID},
    {"HTTPRoute/envoy unescaped % add",
     ROUTE(TO ", headers: {response: {add: {i: 'abc%123'}}}"), INVALID},
    {"HTTPRoute/set authority",
     ROUTE(TO ", headers: {request: {set: {':authority': foo}}}"), VALID},
    {"HTTPRoute/set host", ROUTE(TO ", headers: {request: {set: {host: foo}}}"),
     VALID},
    {"HTTPRoute/remove host",
     ROUTE(TO ", headers: {request: {remove: [host]}}"), INVALID},
    {"HTTPRoute/set pseudo header",
     ROUTE(TO ", headers: {request: {set: {':path': /x}}}"), INVALID},
    {"HTTPRoute/response set host",
     ROUTE(TO ", headers: {response: {set: {host: x}}}"), INVALID},
    {"HTTPRoute/destination headers unescaped %",
     ROUTE("route: [{destination: {host: foo.baz}, headers: {request: "
           "{add: {a: '5%'}}}}]"),
     INVALID},
    {"HTTPRoute/null header match",
     ROUTE(TO ", match: [{headers: {header: }}]"), INVALID},
    {"HTTPRoute/prefix header match",
     ROUTE(TO ", match: [{headers: {header: {prefix: test}}}]"), VALID},
    {"HTTPRoute/regex uri match", ROUTE(TO ", match: [{uri: {regex: test}}]"),
     VALID},
    {"HTTPRoute/bad regex uri match",
     ROUTE(TO ", match: [{uri: {regex: '['}}]"), INVALID},
    {"HTTPRoute/empty prefix uri match",
     ROUTE(TO ", match: [{uri: {prefix: ''}}]"), VALID},
    {"HTTPRoute/empty prefix method match",
     ROUTE(TO ", match: [{method: {prefix: ''}}]"), INVALID},
    {"HTTPRoute/deprecated mirror percent",
     ROUTE(TO ", mirror: {host: foo.baz}, mirrorPercent: 5"), VALID},
    {"HTTPRoute/mirror percentage over 100",
     ROUTE(TO ", mirror: {host: foo.baz}, mirrorPercentage: {value: 101}"),
     INVALID},
    {"HTTPRoute/mirror and mirrors",
     ROUTE(TO ", mirror: {host: foo.baz}, mirrors: [{destination: {host: "
              "a.b}}]"),
     INVALID},
    {"HTTPRoute/route and redirect", ROUTE(TO ", redirect: {uri: /x}"),
     INVALID},
    {"HTTPRoute/no route", ROUTE("name: x"), INVALID},
    {"HTTPRoute/timeout 0s", ROUTE(TO ", timeout: 0s"), INVALID},
    {"HTTPRoute/timeout 500us", ROUTE(TO ", timeout: 500us"), INVALID},
    {"HTTPRoute/timeout 1.5ms", ROUTE(TO ", timeout: 1.5ms"), INVALID},
    {"HTTPRoute/timeout 1ms", ROUTE(TO ", timeout: 1ms"), VALID},
    {"HTTPRoute/timeout 0.75s", ROUTE(TO ", timeout: 0.75s"), VALID},

    /* ---- TestValidateHTTPRetry --------------------------------------- */
    {"HTTPRetry/valid",
     ROUTE(TO ", retries: {attempts: 10, perTryTimeout: 2s, retryOn: "
              "'5xx,gateway-error'}"),
     VALID},
    {"HTTPRetry/disable retries", ROUTE(TO ", retries: {attempts: 0}"), VALID},
    {"HTTPRetry/invalid, retry policy configured but attempts set to zero",
     ROUTE(TO ", retries: {attempts: 0, perTryTimeout: 2s, retryOn: "
              "'5xx,gateway-error'}"),
     INVALID},
    {"HTTPRetry/valid default", ROUTE(TO ", retries: {attempts: 10}"), VALID},
    {"HTTPRetry/valid http status retryOn",
     ROUTE(TO ", retries: {attempts: 10, perTryTimeout: 2s, retryOn: "
              "'503,connect-failure'}"),
     VALID},
    {"HTTPRetry/invalid attempts",
     ROUTE(TO ", retries: {attempts: -1, perTryTimeout: 2s}"), INVALID},
    {"HTTPRetry/invalid timeout",
     ROUTE(TO ", retries: {attempts: 10, perTryTimeout: 2.000000001s}"),
     INVALID},
    {"HTTPRetry/timeout too small",
     ROUTE(TO ", retries: {attempts: 10, perTryTimeout: 999ns}"), INVALID},
    {"HTTPRetry/invalid backoff",
     ROUTE(TO ", retries: {attempts: 10, backoff: 999ns}"), INVALID},
    {"HTTPRetry/invalid policy retryOn",
     ROUTE(TO ", retries: {attempts: 10, perTryTimeout: 2s, retryOn: "
              "'5xx,invalid policy'}"),
     INVALID},
    {"HTTPRetry/invalid http status retryOn",
     ROUTE(TO ", retries: {attempts: 10, perTryTimeout: 2s, retryOn: "
              "'600,connect-failure'}"),
     INVALID},
    {"HTTPRetry/invalid, retryRemoteLocalities configured but attempts set "
     "to zero",
     ROUTE(TO ", retries: {attempts: 0, retryRemoteLocalities: false}"),
     INVALID},
    {"HTTPRetry/perTryTimeout 0s",
     ROUTE(TO ", retries: {attempts: 3, perTryTimeout: 0s}"), INVALID},

    /* ---- TestValidateHTTPFaultInjectionDelay / Abort ----------------- */
    {"FaultInjectionDelay/valid fixed",
     ROUTE(TO ", fault: {delay: {percentage: {value: 20}, fixedDelay: 3s}}"),
     VALID},
    {"FaultInjectionDelay/valid default",
     ROUTE(TO ", fault: {delay: {fixedDelay: 3s}}"), VALID},
    {"FaultInjectionDelay/invalid percent",
     ROUTE(TO ", fault: {delay: {percentage: {value: 101}, fixedDelay: 3s}}"),
     INVALID},
    {"FaultInjectionDelay/invalid delay",
     ROUTE(TO ", fault: {delay: {percentage: {value: 20}, fixedDelay: "
              "3.000000042s}}"),
     INVALID},
    {"FaultInjectionDelay/valid fractional percentage",
     ROUTE(TO ", fault: {delay: {percentage: {value: 0.001}, fixedDelay: "
              "3s}}"),
     VALID},
    {"FaultInjectionDelay/invalid fractional percentage",
     ROUTE(TO ", fault: {delay: {percentage: {value: -10.0}, fixedDelay: "
              "3s}}"),
     INVALID},
    {"FaultInjectionAbort/valid",
     ROUTE(TO ", fault: {abort: {percentage: {value: 20}, httpStatus: 200}}"),
     VALID},
    {"FaultInjectionAbort/invalid http status",
     ROUTE(TO ", fault: {abort: {percentage: {value: 20}, httpStatus: "
              "9000}}"),
     INVALID},
    {"FaultInjectionAbort/invalid percentage",
     ROUTE(TO ", fault: {abort: {percentage: {value: -1}, httpStatus: "
              "500}}"),
     INVALID},
    {"FaultInjectionAbort/valid grpc",
     ROUTE(TO ", fault: {abort: {grpcStatus: UNAVAILABLE}}"), VALID},
    {"FaultInjectionAbort/invalid grpc",
     ROUTE(TO ", fault: {abort: {grpcStatus: BAD}}"), INVALID},

    /* ---- TestValidateCORSPolicy -------------------------------------- */
    {"CORSPolicy/valid",
     ROUTE(TO ", corsPolicy: {allowMethods: [GET, POST], allowHeaders: "
              "[content-type], maxAge: 24h}"),
     VALID},
    {"CORSPolicy/bad method",
     ROUTE(TO ", corsPolicy: {allowMethods: [GET, PUTT]}"), INVALID},
    {"CORSPolicy/bad max age", ROUTE(TO ", corsPolicy: {maxAge: 2.000000005s}"),
     INVALID},

    {"CORSPolicy/bad header",
     ROUTE(TO ", corsPolicy: {allowMethods: [GET, POST], allowHeaders: "
              "[header1, header2], exposeHeaders: [''], maxAge: 2s}"),
     INVALID},
    {"CORSPolicy/empty matchType AllowOrigins",
     ROUTE(TO ", corsPolicy: {allowOrigins: [{exact: ''}, {prefix: ''}, "
              "{regex: ''}], allowMethods: [GET, POST]}"),
     INVALID},
    {"CORSPolicy/non empty matchType AllowOrigins",
     ROUTE(TO ", corsPolicy: {allowOrigins: [{exact: exact}, {prefix: "
              "prefix}, {regex: regex}], allowMethods: [GET, POST], "
              "allowHeaders: [header1, header2], exposeHeaders: [header3], "
              "maxAge: 2s}"),
     VALID},
    {"CORSPolicy/max age in whole seconds",
     ROUTE(TO ", corsPolicy: {maxAge: 1500ms}"), INVALID},
    {"CORSPolicy/allowHeaders *",
     ROUTE(TO ", corsPolicy: {allowHeaders: "
              "['*']}"),
     VALID},
    /* Istio takes 200..600; 600 is no HTTP status, meshlib stops at 599 */
    {"HTTPStatus/600", ROUTE(TO ", fault: {abort: {httpStatus: 600}}"),
     DIFF_REFUSES},
    {"HTTPStatus/601", ROUTE(TO ", fault: {abort: {httpStatus: 601}}"),
     INVALID},
    {"HTTPStatus/0", ROUTE(TO ", fault: {abort: {httpStatus: 0}}"), INVALID},
    {"FaultInjectionAbort/invalid low http status",
     ROUTE(TO ", fault: {abort: {percentage: {value: 20}, httpStatus: 100}}"),
     INVALID},
    {"FaultInjectionAbort/valid percentage",
     ROUTE(TO ", fault: {abort: {percentage: {value: 0.001}, httpStatus: "
              "200}}"),
     VALID},
    {"FaultInjectionAbort/grpc: valid",
     ROUTE(TO ", fault: {abort: {percentage: {value: 20}, grpcStatus: "
              "DEADLINE_EXCEEDED}}"),
     VALID},
    /* ---- TestValidateHTTPRewrite / Redirect / DirectResponse --------- */
    {"HTTPRewrite/uri and authority",
     ROUTE(TO ", rewrite: {uri: /, authority: foo}"), VALID},
    {"HTTPRewrite/no uri or authority", ROUTE(TO ", rewrite: {}"), INVALID},
    {"HTTPRedirect/empty uri and authority", ROUTE("redirect: {}"), INVALID},
    {"HTTPRedirect/valid", ROUTE("redirect: {uri: /, authority: foo}"), VALID},
    {"HTTPRedirect/bad redirect code",
     ROUTE("redirect: {uri: /, redirectCode: 200}"), INVALID},
    {"HTTPDirectResponse/status 200", ROUTE("directResponse: {status: 200}"),
     VALID},
    {"HTTPDirectResponse/status 1000", ROUTE("directResponse: {status: 1000}"),
     INVALID},

    /* ---- TestValidateDestinationRule --------------------------------- */
    {"DestinationRule/simple destination rule",
     DR "  host: reviews\n  subsets: [{name: v1, labels: {version: v1}}]\n",
     VALID},
    {"DestinationRule/missing destination name",
     DR "  host: ''\n  subsets: [{name: v1, labels: {version: v1}}]\n",
     INVALID},
    {"DestinationRule/bad host", DR "  host: 'foo.*'\n", INVALID},
    {"DestinationRule/long host",
     DR "  host: "
        "a123456789012345678901234567890123456789012345678901234567890123.b\n",
     INVALID},
    {"DestinationRule/missing subset name",
     DR "  host: reviews\n  subsets: [{name: '', labels: {version: v1}}]\n",
     INVALID},
    {"DestinationRule/duplicate subset names",
     DR "  host: reviews\n  subsets: [{name: foo, labels: {version: v1}}, "
        "{name: foo, labels: {version: v2}}]\n",
     INVALID},
    {"DestinationRule/bad subset name",
     DR "  host: reviews\n  subsets: [{name: 'v1.1'}]\n", INVALID},
    {"DestinationRule/valid traffic policy",
     TP("{loadBalancer: {simple: ROUND_ROBIN}, connectionPool: {tcp: "
        "{maxConnections: 7, connectTimeout: 2s}, http: "
        "{http1MaxPendingRequests: 2}}, outlierDetection: "
        "{consecutive5xxErrors: "
        "5, interval: 10s, baseEjectionTime: 30s}}"),
     VALID},
    {"TrafficPolicy/invalid traffic policy, nil entries", TP("{}"), INVALID},
    {"ConnectionPool/no settings", TP("{connectionPool: {}}"), INVALID},
    {"ConnectionPool/invalid connection pool, bad connect timeout",
     TP("{connectionPool: {tcp: {connectTimeout: 2.000000005s}}}"), INVALID},
    {"ConnectionPool/invalid connection pool, bad idle timeout",
     TP("{connectionPool: {http: {idleTimeout: 0.0000005s}}}"), INVALID},
    {"ConnectionPool/tcp idle timeout 0s disables",
     TP("{connectionPool: {tcp: {idleTimeout: 0s}}}"), VALID},
    {"ConnectionPool/invalid max connection duration",
     TP("{connectionPool: {tcp: {maxConnectionDuration: 0.5ms}}}"), INVALID},
    {"ConnectionPool/invalid tcp keepalive time",
     TP("{connectionPool: {tcp: {tcpKeepalive: {time: 1.5ms}}}}"), INVALID},
    {"OutlierDetection/valid outlier detection",
     TP("{outlierDetection: {interval: 2s, baseEjectionTime: 2s, "
        "maxEjectionPercent: 50}}"),
     VALID},
    {"OutlierDetection/invalid outlier detection, bad interval",
     TP("{outlierDetection: {interval: 2.000000005s}}"), INVALID},
    {"OutlierDetection/invalid outlier detection, bad base ejection time",
     TP("{outlierDetection: {baseEjectionTime: 2.000000005s}}"), INVALID},
    {"OutlierDetection/invalid outlier detection, bad max ejection percent",
     TP("{outlierDetection: {maxEjectionPercent: 105}}"), INVALID},
    {"OutlierDetection/invalid outlier detection, panic threshold too low",
     TP("{outlierDetection: {minHealthPercent: -1}}"), INVALID},
    {"OutlierDetection/invalid outlier detection, panic threshold too high",
     TP("{outlierDetection: {minHealthPercent: 101}}"), INVALID},
    {"OutlierDetection/consecutive local origin errors without split",
     TP("{outlierDetection: {consecutiveLocalOriginFailures: 10}}"), INVALID},
    {"LoadBalancer/valid simple", TP("{loadBalancer: {simple: LEAST_REQUEST}}"),
     VALID},
    {"LoadBalancer/valid consistent hash cookie",
     TP("{loadBalancer: {consistentHash: {httpCookie: {name: c, ttl: 0s}}}}"),
     VALID},
    {"LoadBalancer/invalid cookie, no name",
     TP("{loadBalancer: {consistentHash: {httpCookie: {ttl: 1s}}}}"), INVALID},
    {"LoadBalancer/warmup without duration",
     TP("{loadBalancer: {simple: ROUND_ROBIN, warmup: {minimumPercent: "
        "{value: 10}}}}"),
     INVALID},
    {"LoadBalancer/warmup bad duration",
     TP("{loadBalancer: {simple: ROUND_ROBIN, warmup: {duration: 0.5ms}}}"),
     INVALID},

    /* ---- TestValidateTrafficPolicy / ConnectionPool / LoadBalancer -- */
    {"TrafficPolicy/invalid traffic policy, missing port in port level "
     "settings",
     TP("{portLevelSettings: [{loadBalancer: {simple: LEAST_REQUEST}}]}"),
     INVALID},
    {"TrafficPolicy/port level settings without settings",
     TP("{portLevelSettings: [{port: {number: 80}}]}"), INVALID},
    {"TrafficPolicy/invalid traffic policy, bad connection pool",
     TP("{connectionPool: {}}"), INVALID},
    {"TrafficPolicy/invalid traffic policy, bad max connection duration",
     TP("{connectionPool: {tcp: {maxConnectionDuration: 0.5ms}}}"), INVALID},
    {"TrafficPolicy/invalid traffic policy, panic threshold too low",
     TP("{outlierDetection: {minHealthPercent: -1}}"), INVALID},
    {"TrafficPolicy/invalid traffic policy, both upgrade and use client "
     "protocol set",
     TP("{connectionPool: {http: {h2UpgradePolicy: UPGRADE, "
        "useClientProtocol: true}}}"),
     INVALID},
    {"ConnectionPool/valid connection pool, tcp and http",
     TP("{connectionPool: {tcp: {maxConnections: 7, connectTimeout: 2s}, "
        "http: {http1MaxPendingRequests: 2, http2MaxRequests: 11, "
        "maxRequestsPerConnection: 5, maxRetries: 4, idleTimeout: 30s, "
        "maxConcurrentStreams: 5}}}"),
     VALID},
    {"ConnectionPool/valid connection pool, tcp only",
     TP("{connectionPool: {tcp: {maxConnections: 7, connectTimeout: 2s}}}"),
     VALID},
    {"ConnectionPool/valid connection pool, http only",
     TP("{connectionPool: {http: {http1MaxPendingRequests: 2, "
        "http2MaxRequests: 11}}}"),
     VALID},
    {"ConnectionPool/invalid connection pool, bad max connections",
     TP("{connectionPool: {tcp: {maxConnections: -1}}}"), INVALID},
    {"ConnectionPool/invalid connection pool, bad max pending requests",
     TP("{connectionPool: {http: {http1MaxPendingRequests: -1}}}"), INVALID},
    {"ConnectionPool/invalid connection pool, bad max requests",
     TP("{connectionPool: {http: {http2MaxRequests: -1}}}"), INVALID},
    {"ConnectionPool/invalid connection pool, bad max requests per "
     "connection",
     TP("{connectionPool: {http: {maxRequestsPerConnection: -1}}}"), INVALID},
    {"ConnectionPool/invalid connection pool, bad max retries",
     TP("{connectionPool: {http: {maxRetries: -1}}}"), INVALID},
    {"ConnectionPool/invalid connection pool, bad max concurrent streams",
     TP("{connectionPool: {http: {maxConcurrentStreams: -1}}}"), INVALID},
    {"ConnectionPool/valid connection pool, tcp timeout disabled",
     TP("{connectionPool: {tcp: {idleTimeout: 0s}}}"), VALID},
    {"ConnectionPool/valid connection pool, http2 keepalive",
     TP("{connectionPool: {http: {http2KeepAlive: {interval: 10s, timeout: "
        "5s}}}}"),
     VALID},
    {"ConnectionPool/invalid connection pool, http2 keepalive without "
     "interval",
     TP("{connectionPool: {http: {http2KeepAlive: {timeout: 5s}}}}"), INVALID},
    {"ConnectionPool/invalid connection pool, http2 keepalive without "
     "timeout",
     TP("{connectionPool: {http: {http2KeepAlive: {interval: 5s}}}}"), INVALID},
    {"ConnectionPool/invalid connection pool, bad http2 keepalive interval",
     TP("{connectionPool: {http: {http2KeepAlive: {interval: 0.5ms, "
        "timeout: 5s}}}}"),
     INVALID},
    {"LoadBalancer/valid load balancer with consistentHash load balancing",
     TP("{loadBalancer: {consistentHash: {httpCookie: {name: test, ttl: "
        "0s}}}}"),
     VALID},
    {"LoadBalancer/invalid load balancer with consistentHash load "
     "balancing, missing name",
     TP("{loadBalancer: {consistentHash: {httpCookie: {ttl: 0s}}}}"), INVALID},
    {"LoadBalancer/invalid load balancer with consistentHash load "
     "balancing, maglev not prime",
     TP("{loadBalancer: {consistentHash: {httpHeaderName: x, maglev: "
        "{tableSize: 1000}}}}"),
     INVALID},
    {"LoadBalancer/maglev prime",
     TP("{loadBalancer: {consistentHash: {httpHeaderName: x, maglev: "
        "{tableSize: 65537}}}}"),
     VALID},
    {"DestinationRule/tls SIMPLE", TP("{tls: {mode: SIMPLE, sni: foo.bar}}"),
     VALID},
    {"DestinationRule/tls MUTUAL without cert", TP("{tls: {mode: MUTUAL}}"),
     INVALID},
    /* ---- TestValidateServiceEntries ---------------------------------- */
    {"ServiceEntries/discovery type DNS",
     SE "  hosts: ['*.google.com']\n  ports: [{number: 80, protocol: http, "
        "name: http-valid1}, {number: 8080, protocol: http, name: "
        "http-valid2}]\n  endpoints: [{address: lon.google.com, ports: "
        "{http-valid1: 8080}}, {address: in.google.com, ports: {http-valid2: "
        "9080}}]\n  resolution: DNS\n",
     VALID},
    {"ServiceEntries/discovery type DNS Round Robin",
     SE "  hosts: ['*.istio.io']\n  ports: [{number: 80, protocol: http, "
        "name: http-valid1}, {number: 8080, protocol: http, name: "
        "http-valid2}]\n  endpoints: [{address: api-v1.istio.io, ports: "
        "{http-valid1: 8080}}]\n  resolution: DNS_ROUND_ROBIN\n",
     VALID},
    {"ServiceEntries/discovery type DNS Round Robin, two endpoints",
     SE "  hosts: ['*.istio.io']\n  ports: [{number: 80, protocol: http, "
        "name: http}]\n  endpoints: [{address: a.istio.io}, {address: "
        "b.istio.io}]\n  resolution: DNS_ROUND_ROBIN\n",
     INVALID},
    {"ServiceEntries/discovery type DNS, IP in endpoints",
     SE "  hosts: ['*.google.com']\n  ports: [{number: 80, protocol: http, "
        "name: http-valid1}]\n  endpoints: [{address: 1.1.1.1, ports: "
        "{http-valid1: 8080}}]\n  resolution: DNS\n",
     VALID},
    {"ServiceEntries/discovery type DYNAMIC_DNS",
     SE "  hosts: ['*.google.com']\n  ports: [{number: 80, protocol: http, "
        "name: http-valid1}]\n  resolution: DYNAMIC_DNS\n",
     VALID},
    {"ServiceEntries/empty hosts",
     SE "  ports: [{number: 80, protocol: http, name: http}]\n  resolution: "
        "DNS\n",
     INVALID},
    {"ServiceEntries/bad hosts",
     SE "  hosts: ['-']\n  ports: [{number: 80, protocol: http, name: "
        "http}]\n  resolution: DNS\n",
     INVALID},
    {"ServiceEntries/full wildcard host",
     SE "  hosts: [foo.com, '*']\n  ports: [{number: 80, protocol: http, "
        "name: http}]\n  resolution: DNS\n",
     INVALID},
    {"ServiceEntries/short name host",
     SE "  hosts: [foo, bar.com]\n  ports: [{number: 80, protocol: http, "
        "name: http}]\n  resolution: DNS\n",
     VALID},
    {"ServiceEntries/undefined endpoint port",
     SE "  hosts: [google.com]\n  ports: [{number: 80, protocol: http, "
        "name: http-valid1}]\n  endpoints: [{address: lon.google.com, ports: "
        "{http-dne: 8080}}]\n  resolution: DNS\n",
     INVALID},
    {"ServiceEntries/discovery type DNS, non-FQDN endpoint",
     SE "  hosts: ['*.google.com']\n  ports: [{number: 80, protocol: http, "
        "name: http-valid1}]\n  endpoints: [{address: '*.lon.google.com', "
        "ports: {http-valid1: 8080}}]\n  resolution: DNS\n",
     INVALID},
    {"ServiceEntries/discovery type DNS, non-FQDN host",
     SE "  hosts: ['*.google.com']\n  ports: [{number: 80, protocol: http, "
        "name: http-valid1}]\n  resolution: DNS\n",
     INVALID},
    {"ServiceEntries/discovery type DNS, no endpoints",
     SE "  hosts: [google.com]\n  ports: [{number: 80, protocol: http, "
        "name: http-valid1}]\n  resolution: DNS\n",
     VALID},
    {"ServiceEntries/discovery type none",
     SE "  hosts: [google.com]\n  ports: [{number: 80, protocol: http, "
        "name: http-valid1}]\n  resolution: NONE\n",
     VALID},
    {"ServiceEntries/discovery type none, endpoints provided",
     SE "  hosts: [google.com]\n  ports: [{number: 80, protocol: http, "
        "name: http-valid1}]\n  endpoints: [{address: lon.google.com, ports: "
        "{http-valid1: 8080}}]\n  resolution: NONE\n",
     INVALID},
    {"ServiceEntries/discovery type none, cidr addresses",
     SE "  hosts: [google.com]\n  addresses: [172.1.2.16/16]\n  ports: "
        "[{number: 80, protocol: http, name: http-valid1}]\n  resolution: "
        "NONE\n",
     VALID},
    {"ServiceEntries/discovery type static",
     SE "  hosts: [google.com]\n  addresses: [172.1.2.16]\n  ports: "
        "[{number: 80, protocol: http, name: http-valid1}]\n  endpoints: "
        "[{address: 1.1.1.1, ports: {http-valid1: 8080}}]\n  resolution: "
        "STATIC\n",
     VALID},
    {"ServiceEntries/discovery type static, FQDN in endpoints",
     SE "  hosts: [google.com]\n  ports: [{number: 80, protocol: http, "
        "name: http-valid1}]\n  endpoints: [{address: google.com, ports: "
        "{http-valid1: 8080}}]\n  resolution: STATIC\n",
     INVALID},
    {"ServiceEntries/discovery type static, missing endpoints",
     SE "  hosts: [google.com]\n  addresses: [172.1.2.16]\n  ports: "
        "[{number: 80, protocol: http, name: http-valid1}]\n  resolution: "
        "STATIC\n",
     VALID},
    {"ServiceEntries/discovery type static, bad endpoint port name",
     SE "  hosts: [google.com]\n  ports: [{number: 80, protocol: http, "
        "name: http-valid1}]\n  endpoints: [{address: 1.1.1.1, ports: "
        "{http-dne: 8080}}]\n  resolution: STATIC\n",
     INVALID},
    {"ServiceEntries/discovery type none, conflicting port names",
     SE "  hosts: [google.com]\n  ports: [{number: 80, protocol: http, "
        "name: http-conflict}, {number: 8080, protocol: http, name: "
        "http-conflict}]\n  resolution: NONE\n",
     INVALID},
    {"ServiceEntries/discovery type none, conflicting port numbers",
     SE "  hosts: [google.com]\n  ports: [{number: 80, protocol: http, "
        "name: http-a}, {number: 80, protocol: http, name: http-b}]\n  "
        "resolution: NONE\n",
     INVALID},
    {"ServiceEntries/unix socket",
     SE "  hosts: [uds.cluster.local]\n  ports: [{number: 6553, protocol: "
        "grpc, name: grpc-service1}]\n  endpoints: [{address: "
        "'unix:///path/to/socket'}]\n  resolution: STATIC\n",
     VALID},
    {"ServiceEntries/unix socket, relative path",
     SE "  hosts: [uds.cluster.local]\n  ports: [{number: 6553, protocol: "
        "grpc, name: grpc-service1}]\n  endpoints: [{address: "
        "'unix://./relative/path.sock'}]\n  resolution: STATIC\n",
     INVALID},
    {"ServiceEntries/unix socket, endpoint ports",
     SE "  hosts: [uds.cluster.local]\n  ports: [{number: 6553, protocol: "
        "grpc, name: grpc-service1}]\n  endpoints: [{address: "
        "'unix:///path/to/socket', ports: {grpc-service1: 6553}}]\n  "
        "resolution: STATIC\n",
     INVALID},
    {"ServiceEntries/empty protocol",
     SE "  hosts: [google.com]\n  addresses: [172.1.2.16/16]\n  ports: "
        "[{number: 80, name: http-valid1}]\n  resolution: NONE\n",
     VALID},
    {"ServiceEntries/selector",
     SE "  hosts: [google.com]\n  workloadSelector: {labels: {foo: bar}}\n  "
        "ports: [{number: 80, protocol: http, name: http-valid1}]\n",
     VALID},
    {"ServiceEntries/selector and endpoints",
     SE "  hosts: [google.com]\n  workloadSelector: {labels: {foo: bar}}\n  "
        "ports: [{number: 80, protocol: http, name: http-valid1}]\n  "
        "endpoints: [{address: 1.1.1.1}]\n  resolution: STATIC\n",
     INVALID},
    {"ServiceEntries/bad addresses",
     SE "  hosts: [google.com]\n  addresses: [not-an-ip]\n  ports: "
        "[{number: 80, protocol: http, name: http}]\n  resolution: NONE\n",
     INVALID},
    {"ServiceEntries/cidr with DNS resolution",
     SE "  hosts: [google.com]\n  addresses: [10.0.0.0/8]\n  ports: "
        "[{number: 80, protocol: http, name: http}]\n  resolution: DNS\n",
     INVALID},
    {"ServiceEntries/multiple hosts, tcp port",
     SE "  hosts: [a.com, b.com]\n  ports: [{number: 80, protocol: tcp, "
        "name: tcp}]\n  resolution: DNS\n",
     INVALID},
    {"ServiceEntries/multiple hosts, https port",
     SE "  hosts: [a.com, b.com]\n  ports: [{number: 443, protocol: https, "
        "name: https}]\n  resolution: DNS\n",
     VALID},
    {"ServiceEntries/bad protocol",
     SE "  hosts: [a.com]\n  ports: [{number: 80, protocol: bogus, name: "
        "http}]\n  resolution: NONE\n",
     INVALID},
    {"ServiceEntries/bad port name",
     SE "  hosts: [a.com]\n  ports: [{number: 80, protocol: http, name: "
        "'http_bad'}]\n  resolution: NONE\n",
     INVALID},
    {"ServiceEntries/DYNAMIC_DNS non-wildcard host",
     SE "  hosts: [a.com]\n  ports: [{number: 80, protocol: http, name: "
        "http}]\n  resolution: DYNAMIC_DNS\n",
     INVALID},

    /* ---- TestValidateWorkloadEntry ----------------------------------- */
    {"WorkloadEntry/valid", WE "  address: 1.2.3.4\n", VALID},
    {"WorkloadEntry/missing address", WE "  labels: {a: b}\n", INVALID},
    {"WorkloadEntry/valid fqdn", WE "  address: a.example.com\n", VALID},
    {"WorkloadEntry/invalid fqdn", WE "  address: '*.example.com'\n", INVALID},
    {"WorkloadEntry/valid unix endpoint", WE "  address: 'unix:///foo/bar'\n",
     VALID},
    {"WorkloadEntry/invalid unix endpoint", WE "  address: 'unix://foo'\n",
     INVALID},
    {"WorkloadEntry/network without address", WE "  network: n1\n", VALID},
    {"WorkloadEntry/bad port name",
     WE "  address: 1.2.3.4\n  ports: {'bad_name': 80}\n", INVALID},
    /* ---- TestValidateHTTPRoute (more) -------------------------------- */
    {"HTTPRoute/empty", ROUTE(""), INVALID},
    {"HTTPRoute/conflicting redirect and route",
     ROUTE(TO ", redirect: {uri: /lerp, authority: foo.biz}"), INVALID},
    {"HTTPRoute/valid headers (destination)",
     ROUTE("route: [{destination: {host: foo.baz}, headers: {request: {add: "
           "{name: ''}, set: {name: ''}, remove: [name]}, response: {add: "
           "{name: ''}, set: {name: ''}, remove: [name]}}}]"),
     VALID},
    {"HTTPRoute/empty header name - request add (destination)",
     ROUTE("route: [{destination: {host: foo.baz}, headers: {request: {add: "
           "{'': value}}}}]"),
     INVALID},
    {"HTTPRoute/empty header name - response remove (destination)",
     ROUTE("route: [{destination: {host: foo.baz}, headers: {response: "
           "{remove: ['']}}}]"),
     INVALID},
    {"HTTPRoute/envoy escaped % add (destination)",
     ROUTE("route: [{destination: {host: foo.baz}, headers: {response: {add: "
           "{i: '100%%'}}}}]"),
     VALID},
    {"HTTPRoute/envoy variable add (destination)",
     ROUTE("route: [{destination: {host: foo.baz}, headers: {response: {add: "
           "{i: '%START_TIME%'}}}}]"),
     VALID},
    {"HTTPRoute/empty prefix header match",
     ROUTE(TO ", match: [{headers: {header: {prefix: ''}}}]"), INVALID},
    {"HTTPRoute/invalid mirror percent",
     ROUTE(TO ", mirror: {host: foo.baz}, mirrorPercent: 101"), INVALID},
    {"HTTPRoute/invalid mirror percentage",
     ROUTE(TO ", mirror: {host: foo.baz}, mirrorPercentage: {value: 101}"),
     INVALID},
    {"HTTPRoute/valid mirror percentage",
     ROUTE(TO ", mirror: {host: foo.baz}, mirrorPercentage: {value: 1}"),
     VALID},
    {"HTTPRoute/negative mirror percentage",
     ROUTE(TO ", mirror: {host: foo.baz}, mirrorPercentage: {value: -1}"),
     INVALID},
    {"HTTPRoute/mirrors without destination",
     ROUTE(TO ", mirrors: [{percentage: {value: 10}}]"), INVALID},
    {"HTTPRoute/mirrors invalid mirror percentage",
     ROUTE(TO ", mirrors: [{destination: {host: foo.baz}, percentage: "
              "{value: 101}}]"),
     INVALID},
    {"HTTPRoute/mirrors valid mirror percentage",
     ROUTE(TO ", mirrors: [{destination: {host: foo.baz}, percentage: "
              "{value: 1}}]"),
     VALID},
    {"HTTPRoute/mirrors negative mirror percentage",
     ROUTE(TO ", mirrors: [{destination: {host: foo.baz}, percentage: "
              "{value: -1}}]"),
     INVALID},
    {"HTTPHeaderValue/%DOWNSTREAM_PEER_CERT_V_END(%b %d %H:%M:%S %Y %Z)%",
     ROUTE(TO ", headers: {request: {set: {a: '%DOWNSTREAM_PEER_CERT_V_END(%b "
              "%d %H:%M:%S %Y %Z)%'}}}"),
     VALID},
    {"HTTPHeaderValue/%DYNAMIC_METADATA(com.test.my_filter)%",
     ROUTE(TO ", headers: {request: {set: {a: "
              "'%DYNAMIC_METADATA(com.test.my_filter)%'}}}"),
     VALID},
    {"HTTPHeaderValue/%START_TIME%%",
     ROUTE(TO ", headers: {request: {set: {a: '%START_TIME%%'}}}"), INVALID},
    {"HTTPHeaderValue/prefix %HOSTNAME% suffix",
     ROUTE(TO ", headers: {request: {set: {a: 'prefix %HOSTNAME% suffix'}}}"),
     VALID},
    {"HTTPRoute/bad header match name",
     ROUTE(TO ", match: [{headers: {'a b': {exact: x}}}]"), INVALID},
    {"HTTPRoute/pseudo header match name",
     ROUTE(TO ", match: [{headers: {':path': {exact: /x}}}]"), VALID},
    {"HTTPRoute/bad sourceNamespace",
     ROUTE(TO ", match: [{sourceNamespace: 'foo.bar'}]"), INVALID},
    {"VirtualService/set authority",
     ROUTE(TO ", headers: {request: {set: {':authority': foo}}}"), VALID},
    {"VirtualService/set authority in rewrite and header",
     ROUTE(TO ", rewrite: {authority: bar}, headers: {request: {set: "
              "{':authority': foo}}}"),
     INVALID},
    {"VirtualService/set authority in header twice",
     ROUTE(TO ", headers: {request: {set: {host: foo}, add: {':authority': "
              "bar}}}"),
     INVALID},
    {"VirtualService/set authority in rewrite",
     ROUTE(TO ", rewrite: {authority: bar}"), VALID},
    /* meshlib does not route for gateways and does not check their names */
    {"VirtualService/bad gateway",
     VS "  hosts: [foo.bar]\n  gateways: ['b@dgateway']\n  http: [{" TO "}]\n",
     DIFF_ACCEPTS},
    {"VirtualService/namespace/* for gateway",
     VS "  hosts: [foo.bar]\n  gateways: ['ns1/*']\n  http: [{" TO "}]\n",
     DIFF_ACCEPTS},
    {"VirtualService/*/name for gateway",
     VS "  hosts: [foo.bar]\n  gateways: ['*/gateway']\n  http: [{" TO "}]\n",
     DIFF_ACCEPTS},
};

static size_t errors_of(const ml_diags *d) {
  size_t n = 0;
  for (size_t i = 0; i < d->count; i++)
    n += d->items[i]->level == MESHLIB_LEVEL_ERROR;
  return n;
}

static void test_istio_tables(void **state) {
  (void)state;
  const ml_load_opts strict = {"cluster.local", 1};
  size_t agree = 0, diffs = 0, wrong = 0;
  for (size_t i = 0; i < sizeof(kCases) / sizeof(kCases[0]); i++) {
    const vcase *c = &kCases[i];
    ml_config *cfg = ml_config_new(NULL);
    assert_non_null(cfg);
    ml_diags d;
    ml_diags_init(&d, NULL);
    int rc = ml_config_load_string(cfg, "t.yaml", c->yaml, strlen(c->yaml),
                                   &strict, &d);
    int accepted = rc == MESHLIB_OK && errors_of(&d) == 0;
    int want = c->want == VALID || c->want == DIFF_ACCEPTS;
    if (accepted != want) {
      print_message("%s: meshlib %s, expected %s\n", c->name,
                    accepted ? "accepts" : "refuses",
                    want ? "accepted" : "refused");
      for (size_t j = 0; j < d.count; j++)
        print_message("  %s\n", d.items[j]->text);
      wrong++;
    } else if (c->want == DIFF_ACCEPTS || c->want == DIFF_REFUSES) {
      diffs++;
    } else {
      agree++;
    }
    ml_diags_free(&d);
    ml_config_free(cfg);
  }
  print_message("Istio cases: %zu agree, %zu documented differences, %zu "
                "wrong\n",
                agree, diffs, wrong);
  assert_int_equal(wrong, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_istio_tables),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
