/* SPDX-License-Identifier: MIT */
/* An application that already makes its calls with libcurl easy handles
 * sends them through the mesh: three lines around curl_easy_perform().
 * The handle keeps its own write callback and options; meshlib sets only
 * the URL (after rewrites), the endpoint (CURLOPT_CONNECT_TO), the
 * headers (after header rules), the HTTP version and the route's
 * timeout, and returns them to libcurl's defaults afterwards.
 *
 * Self-contained with no arguments (two mock upstreams from the
 * mock-upstream kit); against `meshctl mock`, give a config and a URL:
 *
 *   meshctl mock --name v1 --port 8081 --name v2 --port 8082 &
 *   example_curl_easy mesh.yaml http://reviews/api
 *
 * Build: cc curl_easy.c $(pkg-config --cflags --libs meshlib libcurl) */
#include <stdio.h>
#include <string.h>

#include <meshlib/meshlib.h>
#include <meshlib/testing.h>
#include <meshlib/curl.h> /* opt-in: the only header with libcurl types */

/* The application's own body handling, untouched by meshlib. */
static size_t on_body(char *data, size_t size, size_t n, void *user_data) {
  (void)user_data;
  fwrite(data, size, n, stdout);
  return size * n;
}

/* What the application did before meshlib: build a handle, perform it.
 * The three lines marked "mesh" are what changes. */
static int get(meshlib *mesh, CURL *easy, const char *url,
               struct curl_slist *headers) {
  meshlib_request *r;
  if (meshlib_request_new(&r, mesh, "GET", url) != MESHLIB_OK) /* mesh */
    return -1;
  /* The headers go on the request, so that routes can match them and
   * header rules apply; meshlib puts the result on the handle. */
  meshlib_curl_add_headers(r, headers);

  int rc = meshlib_curl_prepare(r, easy); /* mesh */
  if (rc == MESHLIB_OK) {
    CURLcode cc = curl_easy_perform(easy);
    meshlib_curl_done(r, easy, (int)cc); /* mesh */
  } else if (rc == MESHLIB_CURL_LOCAL_REPLY) {
    /* meshlib answered itself (no route, no healthy upstream, a direct
     * response...): the handle was not used. */
    size_t len;
    const char *body = meshlib_response_body(r, &len);
    fwrite(body, 1, len, stdout);
  } else {
    meshlib_request_free(r);
    return -1;
  }
  char flags[64];
  meshlib_response_flags_str(meshlib_response_flags(r), flags, sizeof(flags));
  const char *up = meshlib_response_upstream(r);
  printf("  <- %d %s via %s (%s)\n", meshlib_response_status(r), flags,
         up ? up : "-",
         meshlib_response_cluster(r) ? meshlib_response_cluster(r)
                                     : "no cluster");
  int status = meshlib_response_status(r);
  meshlib_request_free(r);
  return status;
}

static const char *config(char *buf, size_t len, int p1, int p2) {
  snprintf(buf, len,
           "apiVersion: networking.istio.io/v1\n"
           "kind: ServiceEntry\n"
           "metadata: {name: reviews}\n"
           "spec:\n"
           "  hosts: [reviews.default.svc.cluster.local]\n"
           "  resolution: STATIC\n"
           "  ports: [{number: 80, name: http, protocol: HTTP}]\n"
           "  endpoints:\n"
           "  - {address: 127.0.0.1, ports: {http: %d}, labels: {v: v1}}\n"
           "  - {address: 127.0.0.1, ports: {http: %d}, labels: {v: v2}}\n"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: DestinationRule\n"
           "metadata: {name: reviews}\n"
           "spec:\n"
           "  host: reviews\n"
           "  subsets:\n"
           "  - {name: v1, labels: {v: v1}}\n"
           "  - {name: v2, labels: {v: v2}}\n"
           "---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: VirtualService\n"
           "metadata: {name: reviews}\n"
           "spec:\n"
           "  hosts: [reviews]\n"
           "  http:\n"
           "  - match: [{headers: {end-user: {exact: jason}}}]\n"
           "    route: [{destination: {host: reviews, subset: v2}}]\n"
           "  - match: [{uri: {prefix: /api}}]\n"
           "    rewrite: {uri: /v1/api}\n"
           "    route: [{destination: {host: reviews, subset: v1}}]\n",
           p1, p2);
  return buf;
}

int main(int argc, char **argv) {
  curl_global_init(CURL_GLOBAL_DEFAULT); /* the application's, as before */
  meshlib_mock *v1 = NULL, *v2 = NULL;
  meshlib_options *o;
  meshlib *mesh;
  static char yaml[4096];
  const char *url = "http://reviews/api";
  if (meshlib_options_new(&o) != MESHLIB_OK)
    return 1;
  if (argc == 3) {
    meshlib_options_add_config_path(o, argv[1]);
    url = argv[2];
  } else {
    if (meshlib_mock_new(&v1) != MESHLIB_OK ||
        meshlib_mock_new(&v2) != MESHLIB_OK)
      return 1;
    meshlib_mock_set_name(v1, "v1");
    meshlib_mock_set_name(v2, "v2");
    config(yaml, sizeof(yaml), meshlib_mock_port(v1), meshlib_mock_port(v2));
    meshlib_options_add_config_string(o, "reviews.yaml", yaml, strlen(yaml));
  }
  if (meshlib_new(&mesh, o) != MESHLIB_OK) {
    fprintf(stderr, "%s\n", meshlib_options_errmsg(o));
    return 1;
  }
  meshlib_options_free(o);

  /* The application's handle, set up once and reused. */
  CURL *easy = curl_easy_init();
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "my-app/1.0");
  struct curl_slist *anon = curl_slist_append(NULL, "Accept: text/plain");
  struct curl_slist *jason = curl_slist_append(NULL, "End-User: jason");

  int ok = 1;
  printf("GET %s\n", url);
  ok &= get(mesh, easy, url, anon) == 200;
  printf("GET %s as jason\n", url);
  ok &= get(mesh, easy, url, jason) == 200;
  if (v1) {
    /* A path no route takes: meshlib answers 404 NR itself. */
    printf("GET http://reviews/other\n");
    ok &= get(mesh, easy, "http://reviews/other", anon) == 404;
  }

  curl_slist_free_all(anon);
  curl_slist_free_all(jason);
  curl_easy_cleanup(easy);
  meshlib_free(mesh);
  meshlib_mock_free(v1);
  meshlib_mock_free(v2);
  curl_global_cleanup();
  return ok ? 0 : 1;
}
