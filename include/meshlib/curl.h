/* SPDX-License-Identifier: MIT */
#ifndef MESHLIB_CURL_H
#define MESHLIB_CURL_H

/* Sending an application's own libcurl easy handles through the mesh.
 * Opt-in: meshlib.h does not include this header, the only public one
 * that includes <curl/curl.h>; an application that uses it links libcurl
 * itself. docs/async.md ("Your own CURL handles") has the walk-through
 * and examples/curl_easy.c a complete program.
 *
 *   meshlib_request *r;
 *   meshlib_request_new(&r, mesh, "GET", "http://reviews:9080/api");
 *   meshlib_curl_add_headers(r, my_headers);      // instead of HTTPHEADER
 *   if (meshlib_curl_prepare(r, easy) == MESHLIB_OK) {
 *     CURLcode cc = curl_easy_perform(easy);       // or the app's CURLM
 *     meshlib_curl_done(r, easy, (int)cc);
 *   }
 *   // meshlib_response_status(r), meshlib_response_flags(r), ...
 *
 * meshlib decides where the call goes and under which policy; the
 * handle's method, body, callbacks, TLS and other options stay the
 * application's. */
#include <curl/curl.h>
#include "meshlib.h"

#ifdef __cplusplus
extern "C" {
#endif

/** meshlib_curl_prepare(): meshlib answered the call itself. */
#define MESHLIB_CURL_LOCAL_REPLY 1

/**
 * Add each "Name: value" line of |headers| (a list as given to
 * CURLOPT_HTTPHEADER) to |r|'s headers, so that routing matches them and
 * the route's header rules apply. Lines "Name;" add an empty value;
 * lines "Name:" (libcurl's "remove this header") are skipped.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG, MESHLIB_ERR_BAD_HEADER,
 * MESHLIB_ERR_NOMEM.
 * Ownership: copied. Thread-safety: the owning thread of |r|.
 * Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_curl_add_headers(meshlib_request *r,
                                            const struct curl_slist *headers);

/**
 * Route |r| and pick its destination and endpoint, then set on |easy|
 * only what the mesh decides:
 * - CURLOPT_URL: scheme://authority/path as the upstream must see it
 *   (after rewrite.uri, uriRegexRewrite and rewrite.authority), so Host
 *   or :authority names the service, not the endpoint;
 * - CURLOPT_CONNECT_TO: the chosen endpoint's address and port;
 * - CURLOPT_HTTPHEADER: |r|'s headers after the route's request header
 *   rules (this replaces any list the handle had: put the application's
 *   headers on |r|, e.g. with meshlib_curl_add_headers());
 * - CURLOPT_HTTP_VERSION: 1.1, h2 over TLS, or h2c with prior knowledge
 *   when the ServiceEntry port's protocol is HTTP2 or GRPC;
 * - CURLOPT_TIMEOUT_MS when the route or the request sets a timeout, and
 *   CURLOPT_CONNECTTIMEOUT_MS when a DestinationRule sets connectTimeout
 *   (otherwise the handle's own values stay);
 * - for h2c with a libcurl older than 8.0.0, CURLOPT_FRESH_CONNECT and
 *   CURLOPT_FORBID_REUSE: those versions break a kept-alive h2c
 *   prior-knowledge connection on its second use (curl issue 10634), so
 *   each such call gets a connection of its own. Where h2c connection
 *   reuse matters, use meshlib_request_perform() or the asynchronous
 *   client, which carry h2c over nghttp2.
 * The request's method is used for routing only: the handle's method and
 * body options (CURLOPT_POST, CURLOPT_CUSTOMREQUEST...) are the
 * application's to set, consistently. TLS origination by a
 * DestinationRule turns the URL's scheme to https, but its certificate
 * files, sni and insecureSkipVerify are not put on |easy| (libcurl cannot
 * give back the handle's previous CA settings): the handle's own TLS
 * options apply.
 * Returns: MESHLIB_OK: perform |easy| now (curl_easy_perform() or a
 * CURLM), then call meshlib_curl_done(); MESHLIB_CURL_LOCAL_REPLY:
 * meshlib answered itself (404 NR, 503 UH or NC, a direct response, a
 * redirect): the response getters tell the answer, |easy| was not
 * touched and meshlib_curl_done() is not needed; MESHLIB_ERR_INVALID_ARG
 * (NULL argument, or |r| prepared and not yet done), MESHLIB_ERR_NOMEM.
 * Ownership: the URL, CONNECT_TO and header lists set on |easy| are
 * meshlib's, owned by |r| until meshlib_curl_done() (or
 * meshlib_request_free()): do not perform |easy| after either without
 * setting those options again.
 * Thread-safety: the owning thread of |r| and |easy|; other threads may
 * use the mesh. Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_curl_prepare(meshlib_request *r, CURL *easy);

/**
 * The exchange that meshlib_curl_prepare() set up on |easy| ended with
 * |curlcode| (a CURLcode, from curl_easy_perform() or the CURLMsg of the
 * application's multi handle; any nonzero code if it was never
 * performed). Reads the status, the endpoint's address and the times
 * from the handle, classifies the outcome in Envoy's terms (503 UF for a
 * connection failure, 504 UT for a timeout, 503 UC for a reset, ...),
 * releases the endpoint's in-flight count and returns the options that
 * prepare set to libcurl's defaults, so that the handle can be reused for
 * anything else. The body and the response headers went to the
 * application's own callbacks: meshlib_response_body() is empty unless
 * meshlib replaced the answer (e.g. 503 UF), and the response header
 * getters list only what the route's response header rules add.
 * Returns: MESHLIB_OK, MESHLIB_ERR_INVALID_ARG (NULL argument, or |r|
 * not prepared on |easy|), MESHLIB_ERR_NOMEM.
 * Thread-safety: as meshlib_curl_prepare(). Since: 0.1.0
 */
MESHLIB_EXTERN int meshlib_curl_done(meshlib_request *r, CURL *easy,
                                     int curlcode);

#ifdef __cplusplus
}
#endif
#endif /* MESHLIB_CURL_H */
