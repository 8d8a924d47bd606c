/* SPDX-License-Identifier: MIT */
#include "meshctl.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void usage_route(FILE *f) {
  fputs(
      "Usage: meshctl route [-f FILE|DIR]... [options] URL\n"
      "\n"
      "Show where meshlib sends a request for URL under the given Istio\n"
      "config: the VirtualService and rule that match, the weighted\n"
      "destinations with their subsets, and the timeout, retry, fault,\n"
      "rewrite, redirect and direct-response policy of the rule. Nothing\n"
      "is sent. A URL without a scheme is taken as http://.\n"
      "\n"
      "Options:\n"
      "  -f, --filename PATH       a YAML/JSON file, or a directory of\n"
      "                            them; repeatable\n"
      "  -n, --namespace NS        namespace of the calling workload\n"
      "                            (default \"default\"): short hosts such\n"
      "                            as \"myapp\" resolve in it\n"
      "      --domain-suffix S     cluster domain (default \"cluster.local\")\n"
      "  -X, --request METHOD      HTTP method (default GET)\n"
      "  -H, --header 'N: V'       a request header; repeatable\n"
      "      --source-label K=V    a label of the calling workload (what\n"
      "                            sourceLabels matches); repeatable\n"
      "      --json                print the decision as one JSON object\n"
      "                            (also: -o json)\n"
      "  -h, --help                show this help\n"
      "\n"
      "Exit status: 0 a route was found, 3 the host has rules but none\n"
      "matched (response flag NR), 2 bad input (URL, header, options, or a\n"
      "config that does not load; the error goes to stderr).\n",
      f);
}

typedef struct route_args {
  common_args c;
  strvec headers;
  strvec labels;
  const char *method;
  const char *url;
} route_args;

static int set_url(void *args, const char *arg) {
  route_args *a = args;
  if (a->url) {
    fprintf(stderr,
            "meshctl route: more than one URL (\"%s\", "
            "\"%s\")\n",
            a->url, arg);
    return MESHCTL_USAGE;
  }
  a->url = arg;
  return 0;
}

static int route_option(void *args, int argc, char **argv, int *i) {
  route_args *a = args;
  const char *v = NULL;
  int r;
  if ((r = opt_value(argc, argv, i, "-H", "--header", &v)) != 0)
    return r < 0 || strvec_push(&a->headers, v) < 0 ? -1 : 1;
  if ((r = opt_value(argc, argv, i, NULL, "--source-label", &v)) != 0)
    return r < 0 || strvec_push(&a->labels, v) < 0 ? -1 : 1;
  if ((r = opt_value(argc, argv, i, "-X", "--request", &v)) > 0)
    a->method = v;
  return r;
}

static int parse(int argc, char **argv, route_args *a) {
  static const char *const text[] = {"text", NULL};
  const cmd_parser p = {.name = "route",
                        .usage = usage_route,
                        .text_formats = text,
                        .positional = set_url,
                        .option = route_option,
                        .args = a};
  int code = parse_args(&p, argc, argv, &a->c);
  if (code == 0 && !a->url) {
    fprintf(stderr, "meshctl route: no URL given\n"
                    "Run `meshctl route --help` for usage.\n");
    return MESHCTL_USAGE;
  }
  return code;
}

/* "k=v" into |key| (a copy the caller frees) and |value| (borrowed). */
static char *split_label(const char *kv, const char **value) {
  const char *eq = strchr(kv, '=');
  if (!eq || eq == kv)
    return NULL;
  char *key = malloc((size_t)(eq - kv) + 1);
  if (!key)
    return NULL;
  memcpy(key, kv, (size_t)(eq - kv));
  key[eq - kv] = '\0';
  *value = eq + 1;
  return key;
}

static int build_mesh(const route_args *a, meshlib **out) {
  meshlib_options *o = NULL;
  int rc = meshlib_options_new(&o);
  if (rc != MESHLIB_OK)
    goto fail;
  if ((rc = apply_common_args(o, &a->c)) != MESHLIB_OK)
    goto fail;
  for (size_t i = 0; i < a->labels.count; i++) {
    const char *value = NULL;
    char *key = split_label(a->labels.items[i], &value);
    if (!key) {
      fprintf(stderr,
              "meshctl route: bad --source-label \"%s\" "
              "(expected KEY=VALUE)\n",
              a->labels.items[i]);
      meshlib_options_free(o);
      return MESHCTL_USAGE;
    }
    rc = meshlib_options_set_workload_label(o, key, value);
    free(key);
    if (rc != MESHLIB_OK)
      goto fail;
  }
  return finish_mesh("route", o, &a->c, out);
fail:
  options_error("route", o, rc);
  meshlib_options_free(o);
  return MESHCTL_USAGE;
}

static int add_headers(const route_args *a, meshlib_request *r) {
  for (size_t i = 0; i < a->headers.count; i++) {
    const char *h = a->headers.items[i];
    const char *value;
    char *name = split_header("route", h, &value);
    if (!name)
      return -1;
    int rc = meshlib_request_add_header(r, name, value);
    if (rc != MESHLIB_OK) {
      const char *msg = meshlib_request_errmsg(r);
      fprintf(stderr, "meshctl route: bad header \"%s\": %s\n", h,
              msg && *msg ? msg : meshlib_strerror(rc));
      free(name);
      return -1;
    }
    free(name);
  }
  return 0;
}

static void print_summary(const meshlib_decision *d) {
  char flags[64];
  meshlib_response_flags_str(meshlib_decision_response_flags(d), flags,
                             sizeof(flags));
  const char *vs = meshlib_decision_vs_name(d);
  printf("host:             %s:%u\n", meshlib_decision_host(d),
         meshlib_decision_port(d));
  if (vs)
    printf("virtual service:  %s/%s\n", meshlib_decision_vs_namespace(d), vs);
  else
    printf("virtual service:  (none: the host routes to itself)\n");
  const char *route = meshlib_decision_route_name(d);
  if (vs && route)
    printf("route:            %s (http[%" PRId32 "])\n", route,
           meshlib_decision_route_index(d));
  else if (vs)
    printf("route:            (no rule matched)\n");
  size_t n = meshlib_decision_destination_count(d);
  for (size_t i = 0; i < n; i++) {
    const char *subset = meshlib_decision_destination_subset(d, i);
    const char *dr = meshlib_decision_destination_rule(d, i);
    uint32_t port = meshlib_decision_destination_port(d, i);
    printf("destination:      %s", meshlib_decision_destination_host(d, i));
    if (port)
      printf(":%u", port);
    if (subset)
      printf(" subset %s", subset);
    printf(" weight %u", meshlib_decision_destination_weight(d, i));
    if (dr)
      printf(" (DestinationRule %s)", dr);
    if (meshlib_decision_destination_missing_subset(d, i))
      printf(" [subset not defined: calls fail with 503 NC]");
    putchar('\n');
  }
  if (meshlib_decision_rewrite_uri(d))
    printf("rewrite uri:      %s\n", meshlib_decision_rewrite_uri(d));
  if (meshlib_decision_rewrite_authority(d))
    printf("rewrite host:     %s\n", meshlib_decision_rewrite_authority(d));
  if (meshlib_decision_rewrite_regex(d))
    printf("rewrite regex:    %s -> %s\n", meshlib_decision_rewrite_regex(d),
           meshlib_decision_rewrite_regex_substitution(d)
               ? meshlib_decision_rewrite_regex_substitution(d)
               : "");
  int64_t t = meshlib_decision_timeout_ms(d);
  if (t >= 0)
    printf("timeout:          %" PRId64 " ms\n", t);
  if (meshlib_decision_has_retries(d)) {
    printf("retries:          attempts %" PRId32,
           meshlib_decision_retry_attempts(d));
    if (meshlib_decision_retry_per_try_timeout_ms(d) >= 0)
      printf(", per try %" PRId64 " ms",
             meshlib_decision_retry_per_try_timeout_ms(d));
    if (meshlib_decision_retry_on(d))
      printf(", on %s", meshlib_decision_retry_on(d));
    putchar('\n');
  }
  if (meshlib_decision_has_fault(d)) {
    if (meshlib_decision_fault_delay_ms(d) >= 0)
      printf("fault delay:      %" PRId64 " ms for %g%% of requests\n",
             meshlib_decision_fault_delay_ms(d),
             meshlib_decision_fault_delay_percent(d));
    if (meshlib_decision_fault_abort_status(d))
      printf("fault abort:      HTTP %" PRId32 " for %g%% of requests\n",
             meshlib_decision_fault_abort_status(d),
             meshlib_decision_fault_abort_percent(d));
    else if (meshlib_decision_fault_abort_grpc_status(d))
      printf("fault abort:      gRPC %s for %g%% of requests\n",
             meshlib_decision_fault_abort_grpc_status(d),
             meshlib_decision_fault_abort_percent(d));
  }
  if (meshlib_decision_redirect_code(d)) {
    printf("redirect:         %" PRId32, meshlib_decision_redirect_code(d));
    if (meshlib_decision_redirect_scheme(d))
      printf(" scheme %s", meshlib_decision_redirect_scheme(d));
    if (meshlib_decision_redirect_authority(d))
      printf(" authority %s", meshlib_decision_redirect_authority(d));
    if (meshlib_decision_redirect_port(d))
      printf(" port %u", meshlib_decision_redirect_port(d));
    if (meshlib_decision_redirect_uri(d))
      printf(" uri %s", meshlib_decision_redirect_uri(d));
    putchar('\n');
  }
  if (meshlib_decision_direct_response_status(d)) {
    size_t len = 0;
    const char *body = meshlib_decision_direct_response_body(d, &len);
    printf("direct response:  %" PRId32 " (%zu byte body)\n",
           meshlib_decision_direct_response_status(d), body ? len : 0);
  }
  printf("response flags:   %s\n", flags);
}

/* An HTTP method is a token (RFC 9110): letters, digits and a few marks. */
static int valid_method(const char *m) {
  if (!*m)
    return 0;
  for (const char *p = m; *p; p++) {
    char c = *p;
    int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
             (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c);
    if (!ok)
      return 0;
  }
  return 1;
}

static int run(const route_args *a) {
  meshlib *m = NULL;
  meshlib_request *r = NULL;
  const meshlib_decision *d = NULL;
  char *url = NULL;
  int code = build_mesh(a, &m);
  if (code != 0)
    return code;
  code = MESHCTL_USAGE;

  /* "myapp/x" or "myapp:8080" is a host as curl takes it: http://. */
  if (strstr(a->url, "://")) {
    url = strdup(a->url);
  } else {
    size_t n = strlen(a->url) + sizeof("http://");
    url = malloc(n);
    if (url)
      snprintf(url, n, "http://%s", a->url);
  }
  if (!url) {
    fprintf(stderr, "meshctl route: out of memory\n");
    goto out;
  }
  const char *method = a->method ? a->method : "GET";
  if (!valid_method(method)) {
    fprintf(stderr,
            "meshctl route: bad method \"%s\" (expected a token "
            "such as GET or POST)\n",
            method);
    goto out;
  }
  int rc = meshlib_request_new(&r, m, method, url);
  if (rc == MESHLIB_ERR_BAD_URL) {
    fprintf(stderr, "meshctl route: bad URL \"%s\": %s\n", a->url,
            meshlib_strerror(rc));
    goto out;
  } else if (rc != MESHLIB_OK) {
    fprintf(stderr, "meshctl route: cannot make a request for \"%s\": %s\n",
            a->url, meshlib_strerror(rc));
    goto out;
  }
  if (add_headers(a, r) < 0)
    goto out;
  rc = meshlib_request_route(r, &d);
  if (rc != MESHLIB_OK || !d) {
    const char *msg = meshlib_request_errmsg(r);
    fprintf(stderr, "meshctl route: %s\n",
            msg && *msg ? msg : meshlib_strerror(rc));
    goto out;
  }
  if (a->c.json) {
    char *json = NULL;
    rc = meshlib_decision_to_json(d, &json);
    if (rc != MESHLIB_OK) {
      fprintf(stderr, "meshctl route: %s\n", meshlib_strerror(rc));
      goto out;
    }
    printf("%s\n", json);
    meshlib_free_str(m, json);
  } else {
    print_summary(d);
    char *policy = NULL;
    if (meshlib_decision_policy_text(d, &policy) == MESHLIB_OK) {
      fputs(policy, stdout);
      meshlib_free_str(m, policy);
    }
  }
  code = (meshlib_decision_response_flags(d) & MESHLIB_RF_NR) ? MESHCTL_NO_ROUTE
                                                              : MESHCTL_OK;
out:
  free(url);
  meshlib_request_free(r);
  meshlib_free(m);
  return code;
}

int cmd_route(int argc, char **argv) {
  route_args a = {0};
  int code = parse(argc, argv, &a);
  if (code == 0)
    code = run(&a);
  else if (code < 0)
    code = MESHCTL_OK; /* --help */
  common_args_free(&a.c);
  strvec_free(&a.headers);
  strvec_free(&a.labels);
  return code;
}
