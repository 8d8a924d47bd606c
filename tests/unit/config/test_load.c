/* SPDX-License-Identifier: MIT */
/* The config loader: every field of every kind lands in the model, the
 * seed files load, and every problem is reported at file:line:column with
 * its field path. */
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
#include "util/regex.h"

#define DATA MESHLIB_TEST_DATA

typedef struct fixture {
  ml_config *c;
  ml_diags d;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  f->c = ml_config_new(NULL);
  assert_non_null(f->c);
  ml_diags_init(&f->d, NULL);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  ml_diags_free(&f->d);
  ml_config_free(f->c);
  free(f);
  return 0;
}

static const ml_load_opts kLenient = {"cluster.local", 0};
static const ml_load_opts kStrict = {"cluster.local", 1};

static int load_str(fixture *f, const char *yaml, const ml_load_opts *o) {
  return ml_config_load_string(f->c, "t.yaml", yaml, strlen(yaml), o, &f->d);
}

static void dump(const fixture *f) {
  for (size_t i = 0; i < f->d.count; i++)
    print_message("  diag[%zu] level %d %s: %s\n", i, f->d.items[i]->level,
                  f->d.items[i]->code, f->d.items[i]->text);
}

static size_t count_level(const fixture *f, int level) {
  size_t n = 0;
  for (size_t i = 0; i < f->d.count; i++)
    n += f->d.items[i]->level == level;
  return n;
}

static const struct meshlib_diag *find_text(const fixture *f,
                                            const char *text) {
  for (size_t i = 0; i < f->d.count; i++)
    if (strcmp(f->d.items[i]->text, text) == 0)
      return f->d.items[i];
  return NULL;
}

static void expect_text(const fixture *f, const char *text) {
  if (!find_text(f, text)) {
    print_message("missing diag: %s\n", text);
    dump(f);
    fail();
  }
}

static const char *kv(const ml_kv_list *l, const char *key) {
  for (size_t i = 0; i < l->count; i++)
    if (strcmp(l->items[i].key, key) == 0)
      return l->items[i].value;
  return NULL;
}

static const ml_named_match *named(const ml_named_match_list *l,
                                   const char *name) {
  for (size_t i = 0; i < l->count; i++)
    if (strcmp(l->items[i].name, name) == 0)
      return &l->items[i];
  return NULL;
}

/* ---- every field -------------------------------------------------------- */

static void test_vs_all_fields(void **state) {
  fixture *f = *state;
  int rc =
      ml_config_load_path(f->c, DATA "/load/vs-all.yaml", &kLenient, &f->d);
  if (rc)
    dump(f);
  assert_int_equal(rc, MESHLIB_OK);
  assert_int_equal(f->d.errors, 0);
  /* The only remark: the deprecated mirrorPercent. */
  assert_int_equal(f->d.count, 1);
  expect_text(f, DATA "/load/vs-all.yaml:160:20: spec.http[6].mirrorPercent:"
                      " mirrorPercent is deprecated; use mirrorPercentage");
  assert_int_equal(f->c->vs_count, 1);
  const ml_virtual_service *vs = f->c->virtual_services[0];

  assert_string_equal(vs->meta.api_version, "networking.istio.io/v1");
  assert_string_equal(vs->meta.kind, "VirtualService");
  assert_string_equal(vs->meta.name, "all");
  assert_string_equal(vs->meta.namespace_, "shop");
  assert_string_equal(kv(&vs->meta.labels, "app"), "web");
  assert_int_equal(vs->meta.labels.count, 1);
  assert_int_equal(vs->meta.origin.line, 3);
  assert_int_equal(vs->meta.origin.column, 1);
  assert_string_equal(vs->meta.origin.file, DATA "/load/vs-all.yaml");

  assert_int_equal(vs->hosts.count, 2);
  assert_string_equal(vs->hosts.items[0], "reviews");
  assert_string_equal(vs->host_fqdns[0], "reviews.shop.svc.cluster.local");
  assert_string_equal(vs->host_fqdns[1], "api.example.com");
  assert_int_equal(vs->gateways.count, 2);
  assert_string_equal(vs->gateways.items[1], "istio-system/edge");
  assert_int_equal(vs->export_to.count, 2);
  assert_string_equal(vs->export_to.items[0], ".");
  assert_int_equal(vs->tls_count, 1);
  assert_int_equal(vs->tcp_count, 2);
  assert_int_equal(vs->http_count, 7);

  /* http[0]: matches, destinations, rewrite, retries, fault, mirror, CORS,
   * headers. */
  const ml_http_route *r = &vs->http[0];
  assert_string_equal(r->name, "full");
  assert_int_equal(r->match_count, 1);
  const ml_http_match *m = &r->matches[0];
  assert_string_equal(m->name, "m0");
  assert_int_equal(m->uri.kind, ML_MATCH_PREFIX);
  assert_string_equal(m->uri.value, "/api");
  assert_int_equal(m->uri.origin.line, 32);
  assert_int_equal(m->uri.origin.column, 17);
  assert_int_equal(m->scheme.kind, ML_MATCH_EXACT);
  assert_string_equal(m->scheme.value, "https");
  assert_int_equal(m->method.kind, ML_MATCH_REGEX);
  assert_non_null(m->method.re);
  assert_true(ml_regex_match(m->method.re, "HEAD", 4));
  assert_false(ml_regex_match(m->method.re, "HEADX", 5)); /* full match */
  assert_int_equal(m->authority.kind, ML_MATCH_PREFIX);
  assert_string_equal(m->authority.value, "api.");
  assert_int_equal(m->headers.count, 3);
  const ml_named_match *h = named(&m->headers, "x-user"); /* lower-cased */
  assert_non_null(h);
  assert_int_equal(h->match.kind, ML_MATCH_EXACT);
  assert_string_equal(h->match.value, "beta");
  assert_int_equal(named(&m->headers, "x-any")->match.kind, ML_MATCH_PRESENT);
  assert_int_equal(named(&m->headers, "x-star")->match.kind, ML_MATCH_PRESENT);
  assert_null(named(&m->headers, "x-star")->match.re);
  assert_int_equal(m->without_headers.count, 1);
  assert_int_equal(named(&m->without_headers, "x-debug")->match.kind,
                   ML_MATCH_PREFIX);
  assert_int_equal(m->query_params.count, 1);
  const ml_named_match *q = named(&m->query_params, "Version"); /* as is */
  assert_non_null(q);
  assert_int_equal(q->match.kind, ML_MATCH_REGEX);
  assert_true(ml_regex_match(q->match.re, "v12", 3));
  assert_false(ml_regex_match(q->match.re, "xv12", 4));
  assert_int_equal(m->ignore_uri_case, 1);
  assert_int_equal(m->port, 8080);
  assert_string_equal(kv(&m->source_labels, "app"), "client");
  assert_string_equal(m->source_namespace, "frontend");
  assert_int_equal(m->gateways.count, 1);
  assert_string_equal(m->gateways.items[0], "mesh");
  assert_string_equal(m->stat_prefix, "full-stats");
  assert_int_equal(m->origin.line, 30);

  assert_int_equal(r->route_count, 2);
  const ml_route_destination *d0 = &r->route[0];
  assert_string_equal(d0->destination.host, "reviews");
  assert_string_equal(d0->destination.fqdn, "reviews.shop.svc.cluster.local");
  assert_string_equal(d0->destination.subset, "v1");
  assert_int_equal(d0->destination.port, 9080);
  assert_int_equal(d0->weight, 75);
  assert_string_equal(kv(&d0->headers.request.set, "x-a"), "1");
  assert_string_equal(kv(&d0->headers.request.add, "x-b"), "2");
  assert_int_equal(d0->headers.request.remove.count, 1);
  assert_string_equal(d0->headers.request.remove.items[0], "x-c");
  assert_string_equal(kv(&d0->headers.response.set, "x-d"), "4");
  const ml_route_destination *d1 = &r->route[1];
  assert_string_equal(d1->destination.fqdn, "reviews.other.svc.cluster.local");
  assert_null(d1->destination.subset);
  assert_int_equal(d1->destination.port, 0);
  assert_int_equal(d1->weight, 25); /* quoted integers are accepted */

  assert_non_null(r->rewrite);
  assert_null(r->rewrite->uri);
  assert_string_equal(r->rewrite->authority, "internal.shop");
  assert_string_equal(r->rewrite->regex_match, "^/api/(.*)");
  assert_string_equal(r->rewrite->regex_rewrite, "/\\1");
  assert_non_null(r->rewrite->regex);
  /* Search mode: the pattern need not match the whole path. */
  assert_true(ml_regex_match(r->rewrite->regex, "/api/x", 6));

  assert_int_equal(r->timeout_ms, 1500);
  assert_non_null(r->retries);
  assert_int_equal(r->retries->attempts, 3);
  assert_int_equal(r->retries->per_try_timeout_ms, 500);
  assert_string_equal(r->retries->retry_on, "5xx, reset,503");
  assert_int_equal(r->retries->retry_remote_localities, ML_TRI_TRUE);
  assert_int_equal(r->retries->retry_ignore_previous_hosts, ML_TRI_FALSE);
  assert_int_equal(r->retries->has_backoff, 1);
  assert_int_equal(r->retries->backoff.base_interval_ms, 40);
  assert_int_equal(r->retries->backoff.max_interval_ms, -1);

  assert_non_null(r->fault);
  assert_int_equal(r->fault->has_delay, 1);
  assert_int_equal(r->fault->delay_fixed_ms, 2000);
  assert_float_equal(r->fault->delay_percentage.value, 12.5, 1e-9);
  assert_int_equal(r->fault->has_abort, 1);
  assert_int_equal(r->fault->abort_http_status, 0);
  assert_string_equal(r->fault->abort_grpc_status, "UNAVAILABLE");
  assert_float_equal(r->fault->abort_percentage.value, 1.0, 1e-9);

  assert_int_equal(r->mirror_count, 1);
  assert_string_equal(r->mirrors[0].destination.fqdn,
                      "shadow.shop.svc.cluster.local");
  assert_string_equal(r->mirrors[0].destination.subset, "s");
  assert_float_equal(r->mirrors[0].percentage.value, 30.0, 1e-9);

  const ml_cors_policy *cp = r->cors_policy;
  assert_non_null(cp);
  assert_int_equal(cp->allow_origins_count, 2);
  assert_int_equal(cp->allow_origins[0].kind, ML_MATCH_EXACT);
  assert_string_equal(cp->allow_origins[0].value, "https://a.example");
  assert_int_equal(cp->allow_origins[1].kind, ML_MATCH_REGEX);
  assert_true(ml_regex_match(cp->allow_origins[1].re, "https://b.example", 17));
  assert_int_equal(cp->allow_methods.count, 2);
  assert_string_equal(cp->allow_methods.items[1], "POST");
  assert_string_equal(cp->allow_headers.items[0], "x-h");
  assert_string_equal(cp->expose_headers.items[0], "x-e");
  assert_int_equal(cp->max_age_ms, 24LL * 3600 * 1000);
  assert_int_equal(cp->allow_credentials, ML_TRI_FALSE);
  assert_string_equal(cp->unmatched_preflights, "IGNORE");

  assert_int_equal(r->headers.request.remove.count, 1);
  assert_string_equal(r->headers.request.remove.items[0], "x-internal");
  assert_string_equal(kv(&r->headers.response.add, "x-served-by"), "meshlib");
  assert_null(r->redirect);
  assert_null(r->direct_response);
  assert_null(r->delegate_name);
  assert_int_equal(r->origin.line, 28);

  /* http[1]: redirect. */
  r = &vs->http[1];
  assert_non_null(r->redirect);
  assert_string_equal(r->redirect->uri, "/new");
  assert_string_equal(r->redirect->authority, "new.example");
  assert_int_equal(r->redirect->derive_port, 2);
  assert_int_equal(r->redirect->port, 0);
  assert_string_equal(r->redirect->scheme, "https");
  assert_int_equal(r->redirect->redirect_code, 308);
  assert_int_equal(r->route_count, 0);
  assert_int_equal(r->timeout_ms, -1);
  assert_null(r->retries);
  assert_null(r->fault);

  /* http[2]: directResponse with base64 bytes; http[3] with a string. */
  r = &vs->http[2];
  assert_non_null(r->direct_response);
  assert_int_equal(r->direct_response->status, 503);
  assert_int_equal(r->direct_response->body_len, 11);
  assert_memory_equal(r->direct_response->body, "hello world", 11);
  r = &vs->http[3];
  assert_int_equal(r->direct_response->status, 200);
  assert_string_equal(r->direct_response->body, "ok");
  assert_int_equal(r->direct_response->body_len, 2);

  /* http[4]: delegate. */
  r = &vs->http[4];
  assert_string_equal(r->delegate_name, "child");
  assert_string_equal(r->delegate_namespace, "team");

  /* http[5]: mirrors[], rewrite.uri, deprecated delay percent. */
  r = &vs->http[5];
  assert_int_equal(r->mirror_count, 2);
  assert_string_equal(r->mirrors[0].destination.host, "m1");
  assert_float_equal(r->mirrors[0].percentage.value, 5.0, 1e-9);
  assert_string_equal(r->mirrors[1].destination.host, "m2");
  assert_int_equal(r->mirrors[1].destination.port, 81);
  assert_true(r->mirrors[1].percentage.value < 0); /* absent */
  assert_string_equal(r->rewrite->uri, "/v2");
  assert_null(r->rewrite->regex);
  assert_int_equal(r->fault->delay_fixed_ms, 1000);
  assert_float_equal(r->fault->delay_percentage.value, 7.0, 1e-9);
  assert_int_equal(r->fault->abort_http_status, 418);
  assert_true(r->fault->abort_percentage.value < 0);
  assert_int_equal(r->route[0].weight, -1);

  /* http[6]: mirror + mirrorPercent, allowOrigin[], backoff map. */
  r = &vs->http[6];
  assert_int_equal(r->mirror_count, 1);
  assert_string_equal(r->mirrors[0].destination.host, "m3");
  assert_float_equal(r->mirrors[0].percentage.value, 40.0, 1e-9);
  assert_int_equal(r->cors_policy->allow_origins_count, 1);
  assert_int_equal(r->cors_policy->allow_origins[0].kind, ML_MATCH_EXACT);
  assert_string_equal(r->cors_policy->allow_origins[0].value,
                      "https://old.example");
  assert_int_equal(r->cors_policy->max_age_ms, -1);
  assert_int_equal(r->cors_policy->allow_credentials, ML_TRI_UNSET);
  assert_int_equal(r->retries->attempts, 0);
  assert_int_equal(r->retries->backoff.base_interval_ms, 10);
  assert_int_equal(r->retries->backoff.max_interval_ms, 1000);
  assert_int_equal(r->retries->per_try_timeout_ms, -1);
  assert_int_equal(r->retries->retry_ignore_previous_hosts, ML_TRI_UNSET);
}

static void test_dr_all_fields(void **state) {
  fixture *f = *state;
  int rc =
      ml_config_load_path(f->c, DATA "/load/dr-all.yaml", &kLenient, &f->d);
  if (rc)
    dump(f);
  assert_int_equal(rc, MESHLIB_OK);
  assert_int_equal(f->d.count, 1); /* deprecated consecutiveErrors */
  assert_int_equal(f->d.items[0]->level, MESHLIB_LEVEL_WARNING);
  assert_string_equal(f->d.items[0]->field,
                      "spec.trafficPolicy.portLevelSettings[0]."
                      "outlierDetection.consecutiveErrors");
  assert_int_equal(f->c->dr_count, 1);
  const ml_destination_rule *dr = f->c->destination_rules[0];
  assert_string_equal(dr->meta.api_version, "networking.istio.io/v1beta1");
  assert_string_equal(dr->host, "reviews");
  assert_string_equal(dr->host_fqdn, "reviews.shop.svc.cluster.local");
  assert_int_equal(dr->export_to.count, 1);
  assert_string_equal(kv(&dr->workload_selector, "app"), "gateway");

  const ml_traffic_policy *tp = dr->traffic_policy;
  assert_non_null(tp);
  assert_int_equal(tp->origin.line, 14);
  const ml_load_balancer *lb = &tp->load_balancer;
  assert_int_equal(lb->present, 1);
  assert_int_equal(lb->simple, ML_LB_UNSPECIFIED);
  assert_non_null(lb->consistent_hash);
  assert_int_equal(lb->consistent_hash->key, ML_HASH_COOKIE);
  assert_string_equal(lb->consistent_hash->cookie_name, "session");
  assert_string_equal(lb->consistent_hash->cookie_path, "/");
  assert_int_equal(lb->consistent_hash->cookie_ttl_ms, 30 * 60 * 1000);
  assert_int_equal(lb->consistent_hash->algo, ML_HASH_ALGO_RING);
  assert_int_equal(lb->consistent_hash->minimum_ring_size, 2048);
  assert_int_equal(lb->consistent_hash->maglev_table_size, -1);
  assert_int_equal(lb->has_locality_lb_setting, 1);
  assert_int_equal(lb->warmup_duration_ms, 60000);

  const ml_connection_pool *cp = &tp->connection_pool;
  assert_int_equal(cp->present, 1);
  assert_int_equal(cp->max_connections, 100);
  assert_int_equal(cp->connect_timeout_ms, 250);
  assert_int_equal(cp->has_tcp_keepalive, 1);
  assert_int_equal(cp->tcp_keepalive.probes, 4);
  assert_int_equal(cp->tcp_keepalive.time_ms, 7200000);
  assert_int_equal(cp->tcp_keepalive.interval_ms, 75000);
  assert_int_equal(cp->max_connection_duration_ms, 3600000);
  assert_int_equal(cp->tcp_idle_timeout_ms, 1800000);
  assert_int_equal(cp->http1_max_pending_requests, 10);
  assert_int_equal(cp->http2_max_requests, 1000);
  assert_int_equal(cp->max_requests_per_connection, 5);
  assert_int_equal(cp->max_retries, 3);
  assert_int_equal(cp->http_idle_timeout_ms, 90000);
  assert_string_equal(cp->h2_upgrade_policy, "UPGRADE");
  assert_int_equal(cp->use_client_protocol, 1);
  assert_int_equal(cp->max_concurrent_streams, 50);

  const ml_outlier_detection *od = &tp->outlier_detection;
  assert_int_equal(od->present, 1);
  assert_int_equal(od->consecutive_5xx_errors, 7);
  assert_int_equal(od->consecutive_gateway_errors, 3);
  assert_int_equal(od->consecutive_local_origin_failures, 2);
  assert_int_equal(od->split_external_local_origin_errors, 1);
  assert_int_equal(od->interval_ms, 5000);
  assert_int_equal(od->base_ejection_time_ms, 60000);
  assert_int_equal(od->max_ejection_percent, 40);
  assert_int_equal(od->min_health_percent, 25);

  const ml_client_tls *tls = &tp->tls;
  assert_int_equal(tls->present, 1);
  assert_int_equal(tls->mode, ML_TLS_MUTUAL);
  assert_string_equal(tls->client_certificate, "/etc/certs/cert.pem");
  assert_string_equal(tls->private_key, "/etc/certs/key.pem");
  assert_string_equal(tls->ca_certificates, "/etc/certs/ca.pem");
  assert_string_equal(tls->ca_crl, "/etc/certs/crl.pem");
  assert_null(tls->credential_name);
  assert_int_equal(tls->subject_alt_names.count, 1);
  assert_string_equal(tls->sni, "reviews.example");
  assert_int_equal(tls->insecure_skip_verify, ML_TRI_FALSE);

  assert_int_equal(tp->retry_budget.present, 1);
  assert_float_equal(tp->retry_budget.percent, 25.5, 1e-9);
  assert_int_equal(tp->retry_budget.min_retry_concurrency, 4);

  assert_int_equal(tp->port_level_count, 2);
  const ml_port_traffic_policy *pl = &tp->port_level_settings[0];
  assert_int_equal(pl->port, 9080);
  assert_int_equal(pl->policy.load_balancer.simple, ML_LB_RANDOM);
  assert_int_equal(pl->policy.connection_pool.max_retries, 9);
  assert_int_equal(pl->policy.connection_pool.max_connections, -1);
  /* consecutiveErrors: gateway errors only, as Istio translates it. */
  assert_int_equal(pl->policy.outlier_detection.consecutive_gateway_errors, 6);
  assert_int_equal(pl->policy.outlier_detection.consecutive_5xx_errors, 0);
  assert_int_equal(pl->policy.outlier_detection.interval_ms, -1);
  assert_int_equal(pl->policy.tls.mode, ML_TLS_ISTIO_MUTUAL);
  assert_string_equal(pl->policy.tls.sni, "p.example");
  assert_int_equal(pl->policy.port_level_count, 0);
  assert_int_equal(pl->policy.retry_budget.present, 0);
  pl = &tp->port_level_settings[1];
  assert_int_equal(pl->port, 9443);
  assert_int_equal(pl->policy.load_balancer.consistent_hash->key,
                   ML_HASH_SOURCE_IP);
  assert_int_equal(pl->policy.load_balancer.consistent_hash->algo,
                   ML_HASH_ALGO_MAGLEV);
  assert_int_equal(pl->policy.load_balancer.consistent_hash->maglev_table_size,
                   65537);

  assert_int_equal(dr->subset_count, 4);
  assert_string_equal(dr->subsets[0].name, "v1");
  assert_string_equal(kv(&dr->subsets[0].labels, "version"), "v1");
  assert_null(dr->subsets[0].traffic_policy);
  assert_int_equal(dr->subsets[1].labels.count, 2);
  assert_string_equal(kv(&dr->subsets[1].labels, "track"), "canary");
  const ml_traffic_policy *sp = dr->subsets[1].traffic_policy;
  assert_non_null(sp);
  assert_int_equal(sp->load_balancer.simple, ML_LB_LEAST_REQUEST);
  assert_int_equal(sp->load_balancer.warmup_duration_ms, 20000);
  assert_int_equal(sp->tls.mode, ML_TLS_SIMPLE);
  assert_string_equal(sp->tls.credential_name, "reviews-cred");
  assert_int_equal(sp->connection_pool.present, 0);
  assert_int_equal(sp->outlier_detection.present, 0);
  const ml_consistent_hash *ch =
      dr->subsets[2].traffic_policy->load_balancer.consistent_hash;
  assert_int_equal(ch->key, ML_HASH_HEADER);
  assert_string_equal(ch->http_header_name, "x-user");
  assert_int_equal(ch->algo, ML_HASH_ALGO_DEFAULT);
  assert_int_equal(ch->minimum_ring_size, 512); /* deprecated field */
  ch = dr->subsets[3].traffic_policy->load_balancer.consistent_hash;
  assert_int_equal(ch->key, ML_HASH_QUERY_PARAM);
  assert_string_equal(ch->http_query_parameter_name, "user");
}

static void test_se_we_all_fields(void **state) {
  fixture *f = *state;
  int rc =
      ml_config_load_path(f->c, DATA "/load/se-all.yaml", &kLenient, &f->d);
  if (rc || f->d.count)
    dump(f);
  assert_int_equal(rc, MESHLIB_OK);
  assert_int_equal(f->d.count, 0);
  assert_int_equal(f->c->se_count, 2);
  assert_int_equal(f->c->we_count, 1);

  const ml_service_entry *se = f->c->service_entries[0];
  assert_string_equal(se->meta.namespace_, "default");
  assert_string_equal(se->meta.api_version, "networking.istio.io/v1alpha3");
  assert_int_equal(se->hosts.count, 2);
  assert_string_equal(se->host_fqdns[0], "api.partner.example");
  assert_string_equal(se->host_fqdns[1], "billing.default.svc.cluster.local");
  assert_int_equal(se->addresses.count, 1);
  assert_string_equal(se->addresses.items[0], "10.1.2.3/32");
  assert_int_equal(se->port_count, 2);
  assert_int_equal(se->ports[0].number, 443);
  assert_string_equal(se->ports[0].protocol, "HTTPS"); /* upper-cased */
  assert_string_equal(se->ports[0].name, "tls");
  assert_int_equal(se->ports[0].target_port, 8443);
  assert_int_equal(se->ports[1].target_port, 0);
  assert_int_equal(se->location_internal, 1);
  assert_int_equal(se->resolution, ML_RESOLUTION_STATIC);
  assert_int_equal(se->endpoint_count, 2);
  const ml_workload_entry_spec *ep = &se->endpoints[0];
  assert_string_equal(ep->address, "10.0.0.1");
  assert_string_equal(kv(&ep->ports, "http"), "8080");
  assert_string_equal(kv(&ep->ports, "tls"), "8443");
  assert_string_equal(kv(&ep->labels, "version"), "v1");
  assert_string_equal(ep->network, "net1");
  assert_string_equal(ep->locality, "us-east1/zone-a/sub");
  assert_int_equal(ep->weight, 3);
  assert_string_equal(ep->service_account, "billing-sa");
  assert_int_equal(se->endpoints[1].weight, -1);
  assert_int_equal(se->has_workload_selector, 0);
  assert_int_equal(se->export_to.count, 2);
  assert_int_equal(se->subject_alt_names.count, 1);

  se = f->c->service_entries[1];
  assert_string_equal(se->host_fqdns[0], "ledger.pay.svc.cluster.local");
  assert_int_equal(se->resolution, ML_RESOLUTION_DNS_ROUND_ROBIN);
  assert_int_equal(se->location_internal, 0);
  assert_int_equal(se->has_workload_selector, 1);
  assert_string_equal(kv(&se->workload_selector, "app"), "ledger");
  assert_int_equal(se->endpoint_count, 0);

  const ml_workload_entry *we = f->c->workload_entries[0];
  assert_string_equal(we->meta.name, "vm1");
  assert_string_equal(we->meta.namespace_, "pay");
  assert_string_equal(kv(&we->meta.labels, "app"), "ledger");
  assert_string_equal(we->spec.address, "vm1.example.com");
  assert_string_equal(kv(&we->spec.ports, "http"), "9000");
  assert_string_equal(kv(&we->spec.labels, "version"), "v2");
  assert_string_equal(we->spec.network, "vpc");
  assert_string_equal(we->spec.locality, "eu-west1/zone-b");
  assert_int_equal(we->spec.weight, 10);
  assert_string_equal(we->spec.service_account, "ledger");
}

/* ---- seed files ---------------------------------------------------------- */

static void test_seed_files(void **state) {
  fixture *f = *state;
  const char *files[] = {"virtualservice-routing.yaml",
                         "virtualservice-canary.yaml",
                         "virtualservice-fault.yaml", "destinationrule.yaml",
                         "destinationrule-outlier.yaml"};
  for (size_t i = 0; i < 5; i++) {
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", DATA, files[i]);
    assert_int_equal(ml_config_load_path(f->c, path, &kLenient, &f->d),
                     MESHLIB_OK);
  }
  assert_int_equal(f->d.errors, 0);
  assert_int_equal(count_level(f, MESHLIB_LEVEL_WARNING), 1);
  assert_int_equal(f->c->vs_count, 3);
  assert_int_equal(f->c->dr_count, 2);

  const ml_virtual_service *vs = f->c->virtual_services[0];
  assert_string_equal(vs->meta.name, "myapp");
  assert_string_equal(vs->meta.namespace_, "production");
  assert_string_equal(vs->host_fqdns[0], "myapp.production.svc.cluster.local");
  assert_int_equal(vs->http_count, 3);
  assert_string_equal(vs->http[0].name, "canary-users");
  const ml_named_match *h =
      named(&vs->http[0].matches[0].headers, "x-user-group");
  assert_int_equal(h->match.kind, ML_MATCH_EXACT);
  assert_string_equal(h->match.value, "beta");
  assert_string_equal(vs->http[0].route[0].destination.subset, "v2");
  assert_string_equal(vs->http[1].matches[0].uri.value, "/api/v1");
  assert_int_equal(vs->http[1].matches[0].uri.kind, ML_MATCH_PREFIX);
  assert_int_equal(vs->http[1].timeout_ms, 3000);
  assert_int_equal(vs->http[1].retries->attempts, 3);
  assert_int_equal(vs->http[1].retries->per_try_timeout_ms, 1000);
  assert_string_equal(vs->http[1].retries->retry_on,
                      "gateway-error,connect-failure,retriable-4xx");
  assert_int_equal(vs->http[2].match_count, 0);
  assert_int_equal(vs->http[2].timeout_ms, -1);

  vs = f->c->virtual_services[1];
  assert_string_equal(vs->meta.name, "myapp-canary");
  assert_int_equal(vs->http[0].route_count, 2);
  assert_int_equal(vs->http[0].route[0].weight, 90);
  assert_int_equal(vs->http[0].route[1].weight, 10);
  assert_string_equal(vs->http[0].route[1].destination.fqdn,
                      "myapp.production.svc.cluster.local");

  vs = f->c->virtual_services[2];
  const ml_fault *fault = vs->http[0].fault;
  assert_non_null(fault);
  assert_int_equal(fault->delay_fixed_ms, 500);
  assert_float_equal(fault->delay_percentage.value, 10.0, 1e-9);
  assert_int_equal(fault->abort_http_status, 503);
  assert_float_equal(fault->abort_percentage.value, 5.0, 1e-9);
  assert_string_equal(vs->http[0].route[0].destination.fqdn,
                      "downstream-service.production.svc.cluster.local");

  const ml_destination_rule *dr = f->c->destination_rules[0];
  assert_string_equal(dr->host_fqdn, "myapp.production.svc.cluster.local");
  assert_int_equal(dr->traffic_policy->load_balancer.simple, ML_LB_LEAST_CONN);
  assert_int_equal(dr->traffic_policy->connection_pool.max_connections, 100);
  assert_int_equal(dr->traffic_policy->connection_pool.http2_max_requests,
                   1000);
  /* pendingRequests is not Istio's: warned about and not used. */
  assert_int_equal(
      dr->traffic_policy->connection_pool.http1_max_pending_requests, -1);
  assert_int_equal(dr->subset_count, 2);
  assert_null(dr->subsets[0].traffic_policy);
  assert_int_equal(dr->subsets[1].traffic_policy->load_balancer.simple,
                   ML_LB_ROUND_ROBIN);

  dr = f->c->destination_rules[1];
  const ml_outlier_detection *od = &dr->traffic_policy->outlier_detection;
  assert_int_equal(od->consecutive_5xx_errors, 5);
  assert_int_equal(od->interval_ms, 10000);
  assert_int_equal(od->base_ejection_time_ms, 30000);
  assert_int_equal(od->max_ejection_percent, 50);
  assert_int_equal(od->min_health_percent, 30);
}

static ptrdiff_t vs_index(const ml_config *c, const char *name) {
  for (size_t i = 0; i < c->vs_count; i++)
    if (strcmp(c->virtual_services[i]->meta.name, name) == 0)
      return (ptrdiff_t)i;
  return -1;
}

static void test_seed_dir(void **state) {
  fixture *f = *state;
  /* The seed directory loads cleanly as a whole, in name order, and its
   * subdirectories (load/, ...) are not descended into. */
  assert_int_equal(ml_config_load_path(f->c, DATA, &kLenient, &f->d),
                   MESHLIB_OK);
  assert_int_equal(f->d.errors, 0);
  ptrdiff_t canary = vs_index(f->c, "myapp-canary");
  ptrdiff_t fault = vs_index(f->c, "downstream-service");
  ptrdiff_t routing = vs_index(f->c, "myapp");
  assert_true(canary >= 0 && fault > canary && routing > fault);
  assert_int_equal(vs_index(f->c, "all"), -1);
  assert_int_equal(vs_index(f->c, "a"), -1);
  ptrdiff_t outlier = -1, plain = -1;
  for (size_t i = 0; i < f->c->dr_count; i++) {
    if (strcmp(f->c->destination_rules[i]->meta.name, "myapp-outlier") == 0)
      outlier = (ptrdiff_t)i;
    if (strcmp(f->c->destination_rules[i]->meta.name, "myapp") == 0)
      plain = (ptrdiff_t)i;
  }
  /* "destinationrule-outlier.yaml" sorts before "destinationrule.yaml". */
  assert_true(outlier >= 0 && plain > outlier);
}

static void test_unknown_field_lenient_vs_strict(void **state) {
  fixture *f = *state;
  const char *path = DATA "/destinationrule.yaml";
  const char *text = DATA "/destinationrule.yaml:17:9: "
                          "spec.trafficPolicy.connectionPool.http: "
                          "unknown field \"pendingRequests\"";
  assert_int_equal(ml_config_load_path(f->c, path, &kLenient, &f->d),
                   MESHLIB_OK);
  assert_int_equal(f->d.count, 1);
  const struct meshlib_diag *g = f->d.items[0];
  assert_string_equal(g->text, text);
  assert_int_equal(g->level, MESHLIB_LEVEL_WARNING);
  assert_string_equal(g->code, ML_CODE_UNKNOWN_FIELD);
  assert_int_equal(g->line, 17);
  assert_int_equal(g->column, 9);
  assert_string_equal(g->resource, "DestinationRule production/myapp");
  assert_int_equal(f->c->dr_count, 1);

  ml_diags_clear(&f->d);
  assert_int_equal(ml_config_load_path(f->c, path, &kStrict, &f->d),
                   MESHLIB_ERR_CONFIG_STRICT);
  assert_int_equal(f->d.count, 1);
  assert_string_equal(f->d.items[0]->text, text);
  assert_int_equal(f->d.items[0]->level, MESHLIB_LEVEL_ERROR);
  assert_int_equal(f->d.errors, 1);
  assert_int_equal(f->c->dr_count, 1); /* the strict load added nothing */
}

/* ---- inputs: List, JSON, directories, strings ---------------------------- */

static void test_list_unwrap(void **state) {
  fixture *f = *state;
  assert_int_equal(
      ml_config_load_path(f->c, DATA "/load/list.yaml", &kLenient, &f->d),
      MESHLIB_OK);
  assert_int_equal(f->c->vs_count, 1);
  assert_int_equal(f->c->dr_count, 1);
  assert_string_equal(f->c->virtual_services[0]->meta.namespace_, "ns1");
  assert_string_equal(f->c->virtual_services[0]->host_fqdns[0],
                      "a.ns1.svc.cluster.local");
  assert_string_equal(f->c->destination_rules[0]->subsets[0].name, "v1");
  assert_int_equal(f->d.count, 1);
  const struct meshlib_diag *g = f->d.items[0];
  assert_int_equal(g->level, MESHLIB_LEVEL_INFO);
  assert_string_equal(g->code, ML_CODE_SKIPPED_KIND);
  assert_int_equal(g->line, 17);
  assert_non_null(strstr(g->message, "Service ns1/a"));
}

static void test_json_input(void **state) {
  fixture *f = *state;
  assert_int_equal(
      ml_config_load_path(f->c, DATA "/load/list.json", &kStrict, &f->d),
      MESHLIB_OK);
  assert_int_equal(f->d.count, 0);
  assert_int_equal(f->c->vs_count, 1);
  const ml_virtual_service *vs = f->c->virtual_services[0];
  assert_string_equal(vs->meta.name, "j");
  assert_string_equal(vs->host_fqdns[0], "j.prod.svc.cluster.local");
  assert_int_equal(vs->http[0].timeout_ms, 2000);
  assert_int_equal(vs->http[0].route[0].weight, 100);
  assert_string_equal(vs->http[0].matches[0].headers.items[0].name, "x-env");
  assert_int_equal(vs->http[0].fault->abort_http_status, 503);
  assert_float_equal(vs->http[0].fault->abort_percentage.value, 0.5, 1e-9);
  assert_int_equal(vs->http[0].route[0].destination.origin.line, 21);
}

static void test_dir_name_order(void **state) {
  fixture *f = *state;
  assert_int_equal(
      ml_config_load_path(f->c, DATA "/load/dir/", &kStrict, &f->d),
      MESHLIB_OK);
  assert_int_equal(f->d.count, 0);     /* notes.txt and .hidden.yaml skipped */
  assert_int_equal(f->c->vs_count, 3); /* sub.yaml/ is not descended */
  assert_string_equal(f->c->virtual_services[0]->meta.name, "a");
  assert_string_equal(f->c->virtual_services[1]->meta.name, "c");
  assert_string_equal(f->c->virtual_services[2]->meta.name, "b");
  assert_string_equal(f->c->virtual_services[0]->meta.origin.file,
                      DATA "/load/dir/02-a.yml");
}

static void test_io_errors(void **state) {
  fixture *f = *state;
  assert_int_equal(
      ml_config_load_path(f->c, DATA "/load/none.yaml", &kLenient, &f->d),
      MESHLIB_ERR_CONFIG_IO);
  assert_int_equal(f->d.count, 1);
  assert_string_equal(f->d.items[0]->code, ML_CODE_IO);
  assert_int_equal(f->d.items[0]->level, MESHLIB_LEVEL_ERROR);
  assert_string_equal(f->d.items[0]->text,
                      DATA "/load/none.yaml: cannot read: No such file or "
                           "directory");
  assert_int_equal(ml_config_load_path(f->c, "", &kLenient, &f->d),
                   MESHLIB_ERR_CONFIG_IO);
  assert_int_equal(ml_config_load_path(NULL, "x", &kLenient, &f->d),
                   MESHLIB_ERR_INVALID_ARG);
}

static void test_empty_and_skipped(void **state) {
  fixture *f = *state;
  assert_int_equal(load_str(f, "", &kStrict), MESHLIB_OK);
  assert_int_equal(load_str(f, "---\n---\n# nothing\n...\n", &kStrict),
                   MESHLIB_OK);
  assert_int_equal(ml_config_load_string(f->c, NULL, NULL, 0, &kStrict, &f->d),
                   MESHLIB_OK);
  assert_int_equal(f->d.count, 0);
  const char *yaml = "apiVersion: networking.istio.io/v1\n"
                     "kind: Gateway\n"
                     "metadata: {name: gw, namespace: edge}\n"
                     "spec: {servers: []}\n"
                     "---\n"
                     "apiVersion: networking.istio.io/v2\n"
                     "kind: VirtualService\n"
                     "metadata: {name: future}\n"
                     "spec: {whatever: 1}\n"
                     "---\n"
                     "apiVersion: apps/v1\n"
                     "kind: Deployment\n"
                     "metadata: {name: web}\n";
  assert_int_equal(load_str(f, yaml, &kStrict), MESHLIB_OK);
  assert_int_equal(f->d.count, 3);
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(f->d.items[i]->level, MESHLIB_LEVEL_INFO);
    assert_string_equal(f->d.items[i]->code, ML_CODE_SKIPPED_KIND);
  }
  assert_string_equal(f->d.items[0]->resource, "Gateway edge/gw");
  assert_int_equal(f->d.items[1]->line, 6);
  assert_non_null(
      strstr(f->d.items[1]->message, "VirtualService default/future"));
  assert_non_null(strstr(f->d.items[1]->message, "networking.istio.io/v2"));
  assert_string_equal(f->d.items[2]->file, "t.yaml");
  assert_int_equal(f->c->vs_count, 0);
}

/* ---- errors ----------------------------------------------------------------
 */

#define VS_HEAD                                                                \
  "apiVersion: networking.istio.io/v1\n"                                       \
  "kind: VirtualService\n"                                                     \
  "metadata: {name: myapp, namespace: production}\n"                           \
  "spec:\n"                                                                    \
  "  hosts: [myapp]\n"                                                         \
  "  http:\n"
#define DR_HEAD                                                                \
  "apiVersion: networking.istio.io/v1\n"                                       \
  "kind: DestinationRule\n"                                                    \
  "metadata: {name: myapp, namespace: production}\n"                           \
  "spec:\n"                                                                    \
  "  host: myapp\n"
#define SE_HEAD                                                                \
  "apiVersion: networking.istio.io/v1\n"                                       \
  "kind: ServiceEntry\n"                                                       \
  "metadata: {name: ext}\n"                                                    \
  "spec:\n"
#define ROUTE "    route: [{destination: {host: myapp}}]\n"

typedef struct err_case {
  const char *yaml;
  int rc;
  const char *text; /* exact text of the first error */
} err_case;

static const err_case kErrors[] = {
    /* The example. */
    {VS_HEAD "  - name: a\n" ROUTE "  - name: b\n" ROUTE "    retries:\n"
             "      attempts: three\n",
     MESHLIB_ERR_CONFIG,
     "t.yaml:12:17: spec.http[1].retries.attempts: expected an integer"},
    {VS_HEAD "  - timeout: 3\n" ROUTE, MESHLIB_ERR_CONFIG,
     "t.yaml:7:14: spec.http[0].timeout: expected a duration like \"3s\" or "
     "\"500ms\""},
    {VS_HEAD "  - route: [{destination: {host: myapp}, weight: -1}]\n",
     MESHLIB_ERR_CONFIG,
     "t.yaml:7:50: spec.http[0].route[0].weight: must be at least 0, found "
     "-1"},
    {VS_HEAD
     "  - fault: {delay: {fixedDelay: 1s, percentage: {value: 150}}}\n" ROUTE,
     MESHLIB_ERR_CONFIG,
     "t.yaml:7:57: spec.http[0].fault.delay.percentage.value: must be "
     "between 0 and 100, found 150"},
    {VS_HEAD "  - fault: {}\n" ROUTE, MESHLIB_ERR_CONFIG,
     "t.yaml:7:12: spec.http[0].fault: fault injection must have an abort "
     "and/or a delay"},
    {VS_HEAD "  - redirect: {uri: /x}\n" ROUTE, MESHLIB_ERR_CONFIG,
     "t.yaml:7:5: spec.http[0]: route and redirect are mutually exclusive"},
    {VS_HEAD "  - name: nothing\n", MESHLIB_ERR_CONFIG,
     "t.yaml:7:5: spec.http[0]: one of route, redirect, directResponse or "
     "delegate is required"},
    {VS_HEAD "  - match: [{uri: {regex: \"(\"}}]\n" ROUTE, MESHLIB_ERR_CONFIG,
     NULL /* PCRE2's text: checked by prefix below */},
    {VS_HEAD "  - match: [{headers: {x-a: {regex: \"\"}}}]\n" ROUTE,
     MESHLIB_ERR_CONFIG,
     "t.yaml:7:37: spec.http[0].match[0].headers.x-a.regex: regex must not "
     "be empty"},
    {VS_HEAD "  - redirect: {uri: /x, derivePort: SOMETIMES}\n",
     MESHLIB_ERR_CONFIG,
     "t.yaml:7:37: spec.http[0].redirect.derivePort: \"SOMETIMES\" is not one "
     "of FROM_PROTOCOL_DEFAULT, FROM_REQUEST_PORT"},
    {VS_HEAD "  - redirect: {uri: /x, redirectCode: 200}\n", MESHLIB_ERR_CONFIG,
     "t.yaml:7:39: spec.http[0].redirect.redirectCode: must be between 300 "
     "and 399, found 200"},
    {VS_HEAD "  - directResponse: {status: 700}\n", MESHLIB_ERR_CONFIG,
     "t.yaml:7:30: spec.http[0].directResponse.status: must be between 200 "
     "and 599, found 700"},
    {VS_HEAD "  - directResponse: {status: 200, body: {bytes: \"!!\"}}\n",
     MESHLIB_ERR_CONFIG,
     "t.yaml:7:49: spec.http[0].directResponse.body.bytes: expected base64 "
     "data"},
    {VS_HEAD "  - directResponse: {body: {string: x}}\n", MESHLIB_ERR_CONFIG,
     "t.yaml:7:21: spec.http[0].directResponse.status: is required"},
    {VS_HEAD "  - match: {uri: {exact: /}}\n" ROUTE, MESHLIB_ERR_CONFIG,
     "t.yaml:7:12: spec.http[0].match: expected a list, found a map"},
    {VS_HEAD "  - match:\n"
             "    - headers:\n"
             "        x-a:\n" ROUTE,
     MESHLIB_ERR_CONFIG,
     "t.yaml:9:9: spec.http[0].match[0].headers.x-a: header match must not "
     "be null"},
    {VS_HEAD "  - match: [{uri: {exact: /a, prefix: /b}}]\n" ROUTE,
     MESHLIB_ERR_CONFIG,
     "t.yaml:7:31: spec.http[0].match[0].uri.prefix: only one of exact, "
     "prefix or regex may be set"},
    {VS_HEAD "  - match: [{port: 70000}]\n" ROUTE, MESHLIB_ERR_CONFIG,
     "t.yaml:7:20: spec.http[0].match[0].port: must be between 1 and 65535, "
     "found 70000"},
    {VS_HEAD "  - retries: {attempts: 2, retryOn: \"5xx,sometimes\"}\n" ROUTE,
     MESHLIB_ERR_CONFIG,
     "t.yaml:7:37: spec.http[0].retries.retryOn: \"sometimes\" is not a "
     "valid retryOn policy"},
    {VS_HEAD "  - retries: {perTryTimeout: 1s}\n" ROUTE, MESHLIB_ERR_CONFIG,
     "t.yaml:7:14: spec.http[0].retries: retry policy configured while "
     "attempts is 0 (retries disabled)"},
    {VS_HEAD "  - route: [{destination: {subset: v1}}]\n", MESHLIB_ERR_CONFIG,
     "t.yaml:7:27: spec.http[0].route[0].destination.host: is required"},
    {VS_HEAD "  - route: [{weight: 1}]\n", MESHLIB_ERR_CONFIG,
     "t.yaml:7:13: spec.http[0].route[0]: destination is required"},
    {VS_HEAD
     "  - fault: {abort: {httpStatus: 503, grpcStatus: UNAVAIL}}\n" ROUTE,
     MESHLIB_ERR_CONFIG,
     "t.yaml:7:50: spec.http[0].fault.abort.grpcStatus: \"UNAVAIL\" is not a "
     "gRPC status name such as \"UNAVAILABLE\""},
    {VS_HEAD "  - rewrite: {uriRegexRewrite: {match: \"^/a\"}}\n" ROUTE,
     MESHLIB_ERR_CONFIG,
     "t.yaml:7:32: spec.http[0].rewrite.uriRegexRewrite: uriRegexRewrite "
     "requires both match and rewrite"},
    {VS_HEAD "  - timeout: 1s\n" ROUTE "    timeout: 2s\n", MESHLIB_ERR_CONFIG,
     "t.yaml:9:5: spec.http[0]: duplicate field \"timeout\""},
    {VS_HEAD "  - corsPolicy: {allowMethods: [GET, FETCH]}\n" ROUTE,
     MESHLIB_ERR_CONFIG,
     "t.yaml:7:32: spec.http[0].corsPolicy.allowMethods[1]: \"FETCH\" is "
     "not a supported HTTP method"},
    {VS_HEAD "  - match: [{ignoreUriCase: maybe}]\n" ROUTE, MESHLIB_ERR_CONFIG,
     "t.yaml:7:29: spec.http[0].match[0].ignoreUriCase: expected true or "
     "false"},
    {"apiVersion: networking.istio.io/v1\n"
     "kind: VirtualService\n"
     "metadata: {name: nohosts}\n"
     "spec:\n"
     "  http: []\n",
     MESHLIB_ERR_CONFIG,
     "t.yaml:5:3: spec.hosts: at least one host is required"},
    {"apiVersion: networking.istio.io/v1\n"
     "kind: VirtualService\n"
     "metadata: {namespace: x}\n"
     "spec: {hosts: [a]}\n",
     MESHLIB_ERR_CONFIG, "t.yaml:3:11: metadata.name is required"},
    {"apiVersion: networking.istio.io/v1\n"
     "kind: VirtualService\n"
     "metadata: {name: a}\n"
     "spec: [hosts]\n",
     MESHLIB_ERR_CONFIG, "t.yaml:4:7: spec: expected a map, found a list"},
    {"- just\n- a list\n", MESHLIB_ERR_CONFIG,
     "t.yaml:1:1: expected a Kubernetes object (a map with apiVersion and "
     "kind)"},
    {"apiVersion: v1\nmetadata: {name: a}\n", MESHLIB_ERR_CONFIG,
     "t.yaml:1:1: kind is required"},
    /* DestinationRule. */
    {DR_HEAD "  trafficPolicy: {loadBalancer: {simple: FASTEST}}\n",
     MESHLIB_ERR_CONFIG,
     "t.yaml:6:42: spec.trafficPolicy.loadBalancer.simple: \"FASTEST\" is "
     "not one of UNSPECIFIED, LEAST_CONN, RANDOM, PASSTHROUGH, ROUND_ROBIN, "
     "LEAST_REQUEST"},
    {DR_HEAD "  trafficPolicy: {tls: {mode: STRICT}}\n", MESHLIB_ERR_CONFIG,
     "t.yaml:6:31: spec.trafficPolicy.tls.mode: \"STRICT\" is not one of "
     "DISABLE, SIMPLE, MUTUAL, ISTIO_MUTUAL"},
    {DR_HEAD "  trafficPolicy:\n"
             "    connectionPool:\n"
             "      http: {h2UpgradePolicy: SOMETIMES}\n",
     MESHLIB_ERR_CONFIG,
     "t.yaml:8:31: spec.trafficPolicy.connectionPool.http.h2UpgradePolicy: "
     "\"SOMETIMES\" is not one of DEFAULT, DO_NOT_UPGRADE, UPGRADE"},
    {DR_HEAD "  trafficPolicy: {outlierDetection: {maxEjectionPercent: 101}}\n",
     MESHLIB_ERR_CONFIG,
     "t.yaml:6:58: spec.trafficPolicy.outlierDetection.maxEjectionPercent: "
     "must be between 0 and 100, found 101"},
    {DR_HEAD "  trafficPolicy:\n"
             "    loadBalancer:\n"
             "      consistentHash: {httpCookie: {name: c}}\n",
     MESHLIB_ERR_CONFIG,
     "t.yaml:8:36: spec.trafficPolicy.loadBalancer.consistentHash.httpCookie: "
     "ttl is required for httpCookie"},
    {DR_HEAD "  trafficPolicy:\n"
             "    tls: {mode: MUTUAL, privateKey: /k}\n",
     MESHLIB_ERR_CONFIG,
     "t.yaml:7:10: spec.trafficPolicy.tls: clientCertificate is required for "
     "MUTUAL"},
    {DR_HEAD "  trafficPolicy:\n"
             "    connectionPool: {tcp: {connectTimeout: soon}}\n",
     MESHLIB_ERR_CONFIG,
     "t.yaml:7:44: spec.trafficPolicy.connectionPool.tcp.connectTimeout: "
     "expected a duration like \"3s\" or \"500ms\""},
    {DR_HEAD "  trafficPolicy:\n"
             "    portLevelSettings:\n"
             "    - loadBalancer: {simple: RANDOM}\n",
     MESHLIB_ERR_CONFIG,
     "t.yaml:8:7: spec.trafficPolicy.portLevelSettings[0].port: "
     "port.number is required"},
    {DR_HEAD "  subsets:\n"
             "  - labels: {version: v1}\n",
     MESHLIB_ERR_CONFIG, "t.yaml:7:5: spec.subsets[0].name: is required"},
    {"apiVersion: networking.istio.io/v1\n"
     "kind: DestinationRule\n"
     "metadata: {name: nohost}\n"
     "spec:\n"
     "  subsets: []\n",
     MESHLIB_ERR_CONFIG, "t.yaml:5:3: spec.host: is required"},
    {"apiVersion: networking.istio.io/v1\n"
     "kind: DestinationRule\n"
     "metadata: {name: nospec}\n",
     MESHLIB_ERR_CONFIG, "t.yaml:1:1: spec.host: is required"},
    /* ServiceEntry / WorkloadEntry. */
    {SE_HEAD "  hosts: [a.example]\n  resolution: MAGIC\n", MESHLIB_ERR_CONFIG,
     "t.yaml:6:15: spec.resolution: \"MAGIC\" is not one of NONE, STATIC, "
     "DNS, DNS_ROUND_ROBIN, DYNAMIC_DNS"},
    {SE_HEAD "  hosts: [a.example]\n  location: OUTSIDE\n", MESHLIB_ERR_CONFIG,
     "t.yaml:6:13: spec.location: \"OUTSIDE\" is not one of MESH_EXTERNAL, "
     "MESH_INTERNAL"},
    {SE_HEAD "  ports: [{number: 80, name: http}]\n", MESHLIB_ERR_CONFIG,
     "t.yaml:5:3: spec.hosts: at least one host is required"},
    {SE_HEAD "  hosts: [a.example]\n  ports: [{name: http}]\n",
     MESHLIB_ERR_CONFIG, "t.yaml:6:11: spec.ports[0].number: is required"},
    {SE_HEAD "  hosts: [a.example]\n"
             "  endpoints: [{address: 1.2.3.4, ports: {http: x}}]\n",
     MESHLIB_ERR_CONFIG,
     "t.yaml:6:48: spec.endpoints[0].ports.http: expected an integer"},
    {"apiVersion: networking.istio.io/v1\n"
     "kind: WorkloadEntry\n"
     "metadata: {name: w}\n"
     "spec: {weight: -2, address: 1.2.3.4}\n",
     MESHLIB_ERR_CONFIG,
     "t.yaml:4:16: spec.weight: must be at least 0, found -2"},
    /* YAML syntax. */
    {"apiVersion: v1\nkind: [a\n", MESHLIB_ERR_CONFIG_SYNTAX,
     "t.yaml:3:1: did not find expected ',' or ']' while parsing a flow "
     "sequence (line 2, column 7)"},
    {"a: b\n c: d\n", MESHLIB_ERR_CONFIG_SYNTAX,
     "t.yaml:2:3: mapping values are not allowed in this context"},
    {"a: *nothing\n", MESHLIB_ERR_CONFIG_SYNTAX,
     "t.yaml:1:4: alias \"*nothing\" refers to no complete anchor"},
};

static void test_error_cases(void **state) {
  (void)state;
  int bad = 0;
  for (size_t i = 0; i < sizeof(kErrors) / sizeof(kErrors[0]); i++) {
    fixture *f;
    setup((void **)&f);
    int rc = load_str(f, kErrors[i].yaml, &kLenient);
    const struct meshlib_diag *g = ml_diags_first_error(&f->d);
    if (rc != kErrors[i].rc || !g ||
        (kErrors[i].text && strcmp(g->text, kErrors[i].text) != 0)) {
      print_message("case %zu: rc %d (want %d)\n", i, rc, kErrors[i].rc);
      if (kErrors[i].text)
        print_message("  want: %s\n", kErrors[i].text);
      dump(f);
      bad++;
      teardown((void **)&f);
      continue;
    }
    if (!kErrors[i].text)
      assert_non_null(strstr(g->text, "t.yaml:7:27: spec.http[0].match[0]."
                                      "uri.regex: invalid regex"));
    /* Nothing from a document with an error reaches the model. */
    assert_int_equal(
        f->c->vs_count + f->c->dr_count + f->c->se_count + f->c->we_count, 0);
    assert_string_equal(g->code, rc == MESHLIB_ERR_CONFIG_SYNTAX
                                     ? ML_CODE_YAML
                                     : ML_CODE_SCHEMA);
    teardown((void **)&f);
  }
  assert_int_equal(bad, 0);
}

static void test_error_details(void **state) {
  fixture *f = *state;
  const char *yaml =
      VS_HEAD "  - name: a\n" ROUTE "  - name: b\n" ROUTE "    retries:\n"
              "      attempts: three\n";
  assert_int_equal(ml_config_load_string(f->c, "myapp.yaml", yaml, strlen(yaml),
                                         &kLenient, &f->d),
                   MESHLIB_ERR_CONFIG);
  const struct meshlib_diag *g = ml_diags_first_error(&f->d);
  assert_non_null(g);
  assert_int_equal(g->level, MESHLIB_LEVEL_ERROR);
  assert_string_equal(g->code, ML_CODE_SCHEMA);
  assert_string_equal(g->file, "myapp.yaml");
  assert_int_equal(g->line, 12);
  assert_int_equal(g->column, 17);
  assert_string_equal(g->field, "spec.http[1].retries.attempts");
  assert_string_equal(g->resource, "VirtualService production/myapp");
  assert_string_equal(g->message, "expected an integer");
  assert_string_equal(g->text, "myapp.yaml:12:17: "
                               "spec.http[1].retries.attempts: expected an "
                               "integer");
}

static void test_keeps_reading(void **state) {
  fixture *f = *state;
  /* Two errors in one object, a good object after, a syntax error last:
   * everything is reported and the first problem decides the code. */
  const char *yaml = VS_HEAD "  - timeout: x\n"
                             "    route: [{destination: {host: a}, weight: "
                             "y}]\n"
                             "---\n" DR_HEAD "---\n"
                             "a: [\n";
  assert_int_equal(load_str(f, yaml, &kLenient), MESHLIB_ERR_CONFIG);
  assert_int_equal(f->d.errors, 3);
  expect_text(f, "t.yaml:7:14: spec.http[0].timeout: expected a duration "
                 "like \"3s\" or \"500ms\"");
  expect_text(f, "t.yaml:8:46: spec.http[0].route[0].weight: expected an "
                 "integer");
  assert_int_equal(f->c->vs_count, 0);
  assert_int_equal(f->c->dr_count, 1);
  assert_string_equal(f->d.items[2]->code, ML_CODE_YAML);
}

/* |tmpl| with every "%s" replaced by |x|. */
static void fill(char *out, size_t cap, const char *tmpl, const char *x) {
  size_t o = 0, xl = strlen(x);
  for (const char *p = tmpl; *p; p++) {
    if (p[0] == '%' && p[1] == 's') {
      assert_true(o + xl < cap);
      memcpy(out + o, x, xl);
      o += xl;
      p++;
    } else {
      assert_true(o + 1 < cap);
      out[o++] = *p;
    }
  }
  out[o] = '\0';
}

static void test_wrong_types_never_crash(void **state) {
  fixture *f = *state;
  /* Every field of the fixtures replaced by the wrong kind of node. */
  const char *values[] = {"[]",          "{}",   "x",  "[1, [2]]",
                          "{a: {b: c}}", "null", "-1", "\"\""};
  const char *tmpl[] = {
      VS_HEAD "  - match: [{uri: %s, headers: %s, queryParams: %s}]\n"
              "    route: %s\n"
              "    redirect: %s\n"
              "    retries: %s\n"
              "    fault: {delay: %s, abort: %s}\n"
              "    mirrors: %s\n"
              "    corsPolicy: {allowOrigins: %s, maxAge: %s}\n"
              "    headers: {request: %s}\n",
      DR_HEAD "  trafficPolicy: {loadBalancer: %s, connectionPool: {tcp: %s,"
              " http: %s}, outlierDetection: %s, tls: %s,"
              " portLevelSettings: %s, retryBudget: %s}\n"
              "  subsets: [%s, {name: a, labels: %s, trafficPolicy: %s}]\n"
              "  exportTo: %s\n"
              "  workloadSelector: %s\n",
      SE_HEAD "  hosts: %s\n  ports: %s\n  endpoints: [%s, {ports: %s,"
              " labels: %s, address: %s}]\n  workloadSelector: {labels: %s}\n"
              "  addresses: %s\n  resolution: %s\n  subjectAltNames: %s\n"
              "  exportTo: %s\n  location: %s\n",
  };
  for (size_t t = 0; t < 3; t++)
    for (size_t v = 0; v < 8; v++) {
      char yaml[4096];
      const char *x = values[v];
      fill(yaml, sizeof(yaml), tmpl[t], x);
      int rc = load_str(f, yaml, &kStrict);
      assert_true(rc == MESHLIB_OK || rc == MESHLIB_ERR_CONFIG ||
                  rc == MESHLIB_ERR_CONFIG_STRICT);
    }
}

/* ---- hostile input ------------------------------------------------------- */

static void test_alias_bomb(void **state) {
  fixture *f = *state;
  /* 1000 routes x 1000 matches through aliases: a few KiB of YAML that
   * would be millions of nodes without the visit cap. */
  size_t cap = 64 * 1024, off = 0;
  char *yaml = malloc(cap);
  assert_non_null(yaml);
  off += (size_t)snprintf(yaml + off, cap - off,
                          "apiVersion: networking.istio.io/v1\n"
                          "kind: VirtualService\n"
                          "metadata: {name: bomb}\n"
                          "x-m: &m {uri: {prefix: /}, name: m}\n"
                          "x-ms: &ms [");
  for (int i = 0; i < 1000; i++)
    off += (size_t)snprintf(yaml + off, cap - off, "%s*m", i ? "," : "");
  off += (size_t)snprintf(yaml + off, cap - off,
                          "]\nx-r: &r {match: *ms, route: [{destination: "
                          "{host: a}}]}\nspec:\n  hosts: [a]\n  http: [");
  for (int i = 0; i < 1000; i++)
    off += (size_t)snprintf(yaml + off, cap - off, "%s*r", i ? "," : "");
  snprintf(yaml + off, cap - off, "]\n");
  assert_int_equal(load_str(f, yaml, &kLenient), MESHLIB_ERR_CONFIG);
  free(yaml);
  const struct meshlib_diag *g = ml_diags_first_error(&f->d);
  assert_non_null(g);
  assert_non_null(strstr(g->message, "document too large"));
  assert_int_equal(f->d.errors, 1);
  assert_int_equal(f->c->vs_count, 0);
}

static void test_deep_nesting(void **state) {
  fixture *f = *state;
  size_t n = 100000;
  char *yaml = malloc(2 * n + 1);
  assert_non_null(yaml);
  memset(yaml, '[', n);
  memset(yaml + n, ']', n);
  yaml[2 * n] = '\0';
  assert_int_equal(load_str(f, yaml, &kLenient), MESHLIB_ERR_CONFIG_SYNTAX);
  free(yaml);
  assert_string_equal(ml_diags_first_error(&f->d)->text,
                      "t.yaml:1:101: nesting deeper than 100 levels");
}

static void test_recursive_alias(void **state) {
  fixture *f = *state;
  const char *yaml = "a: &x [1, *x]\n";
  assert_int_equal(load_str(f, yaml, &kLenient), MESHLIB_ERR_CONFIG_SYNTAX);
  assert_string_equal(ml_diags_first_error(&f->d)->text,
                      "t.yaml:1:11: alias \"*x\" refers to no complete "
                      "anchor");
}

static void test_aliases_resolve(void **state) {
  fixture *f = *state;
  const char *yaml = "apiVersion: networking.istio.io/v1\n"
                     "kind: DestinationRule\n"
                     "metadata: {name: anchors}\n"
                     "spec:\n"
                     "  host: a\n"
                     "  subsets:\n"
                     "  - name: v1\n"
                     "    labels: &l {app: a}\n"
                     "  - name: v2\n"
                     "    labels: *l\n";
  assert_int_equal(load_str(f, yaml, &kStrict), MESHLIB_OK);
  assert_string_equal(kv(&f->c->destination_rules[0]->subsets[1].labels, "app"),
                      "a");
}

/* ---- allocation failures --------------------------------------------------
 */

typedef struct failalloc {
  long left; /* allocations before failing */
  int failed;
} failalloc;

static int take(failalloc *fa) {
  if (fa->left == 0) {
    fa->failed = 1;
    return 0;
  }
  fa->left--;
  return 1;
}
static void *fa_malloc(size_t n, void *u) {
  return take(u) ? malloc(n) : NULL;
}
static void fa_free(void *p, void *u) {
  (void)u;
  free(p);
}
static void *fa_calloc(size_t a, size_t b, void *u) {
  return take(u) ? calloc(a, b) : NULL;
}
static void *fa_realloc(void *p, size_t n, void *u) {
  return take(u) ? realloc(p, n) : NULL;
}

static void test_failalloc(void **state) {
  (void)state;
  const char *files[] = {DATA "/load/vs-all.yaml", DATA "/load/dr-all.yaml",
                         DATA "/load/se-all.yaml", DATA "/load/dir"};
  for (size_t fi = 0; fi < 4; fi++) {
    for (long n = 0;; n++) {
      failalloc fa = {n, 0};
      meshlib_allocator mem = {&fa, fa_malloc, fa_free, fa_calloc, fa_realloc};
      ml_config *c = ml_config_new(&mem);
      if (!c)
        continue;
      ml_diags d;
      ml_diags_init(&d, &mem);
      int rc = ml_config_load_path(c, files[fi], &kLenient, &d);
      int failed = fa.failed;
      ml_diags_free(&d);
      ml_config_free(c);
      if (!failed) {
        assert_int_equal(rc, MESHLIB_OK);
        assert_true(n > 5); /* the loop did fail real allocations */
        break;
      }
      /* A lost diagnostic or object must say NOMEM, never succeed. */
      assert_int_equal(rc, MESHLIB_ERR_NOMEM);
      assert_true(n < 200000);
    }
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_vs_all_fields, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dr_all_fields, setup, teardown),
      cmocka_unit_test_setup_teardown(test_se_we_all_fields, setup, teardown),
      cmocka_unit_test_setup_teardown(test_seed_files, setup, teardown),
      cmocka_unit_test_setup_teardown(test_seed_dir, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_field_lenient_vs_strict,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_list_unwrap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_json_input, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dir_name_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_io_errors, setup, teardown),
      cmocka_unit_test_setup_teardown(test_empty_and_skipped, setup, teardown),
      cmocka_unit_test(test_error_cases),
      cmocka_unit_test_setup_teardown(test_error_details, setup, teardown),
      cmocka_unit_test_setup_teardown(test_keeps_reading, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wrong_types_never_crash, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_alias_bomb, setup, teardown),
      cmocka_unit_test_setup_teardown(test_deep_nesting, setup, teardown),
      cmocka_unit_test_setup_teardown(test_recursive_alias, setup, teardown),
      cmocka_unit_test_setup_teardown(test_aliases_resolve, setup, teardown),
      cmocka_unit_test(test_failalloc),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
