/* SPDX-License-Identifier: MIT */
/* How an application tests its own service with meshlib's mock-upstream
 * kit (meshlib/testing.h) and cmocka.
 *
 * The service under test is get_product_page(): it calls two other
 * services, reviews and ratings, through meshlib and combines their
 * answers into one page, degrading gracefully when one of them fails.
 * In the test, both services are mock upstreams on 127.0.0.1 that the
 * test scripts (a 503, a hang) and inspects (what they received); the
 * Istio config the service runs with in production decides the routing
 * and the timeouts, unchanged.
 *
 * Build: cc service_test.c $(pkg-config --cflags --libs meshlib cmocka) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <meshlib/meshlib.h>
#include <meshlib/testing.h>

/* ---- the application's code ----------------------------------------- */

typedef struct product_page {
  int status;     /* what the page handler answers its own caller */
  char text[256]; /* the rendered page */
  int reviews_ok; /* each part present, or replaced by a placeholder */
  int ratings_ok;
} product_page;

/* GET |url| through the mesh, with the end user's id forwarded (a header
 * the routing rules may match on). Copies the body into |buf| on a 2xx
 * and returns 1; returns 0 on anything else. */
static int fetch(meshlib *mesh, const char *url, const char *user, char *buf,
                 size_t cap) {
  meshlib_request *r;
  int ok = 0;
  if (meshlib_request_new(&r, mesh, "GET", url) != MESHLIB_OK)
    return 0;
  meshlib_request_add_header(r, "end-user", user);
  if (meshlib_request_perform(r) == MESHLIB_OK) {
    int32_t status = meshlib_response_status(r);
    size_t len = 0;
    const char *body = meshlib_response_body(r, &len);
    if (status >= 200 && status < 300) {
      snprintf(buf, cap, "%.*s", (int)len, body ? body : "");
      ok = 1;
    }
  }
  meshlib_request_free(r);
  return ok;
}

/* The product page: reviews and ratings of |product|. A page without
 * reviews or ratings is still a page (200); only when both are missing
 * does the handler answer 503. */
static void get_product_page(meshlib *mesh, int product, const char *user,
                             product_page *page) {
  char url[128], reviews[96], ratings[32];
  snprintf(url, sizeof(url), "http://reviews:9080/reviews/%d", product);
  page->reviews_ok = fetch(mesh, url, user, reviews, sizeof(reviews));
  snprintf(url, sizeof(url), "http://ratings:9080/ratings/%d", product);
  page->ratings_ok = fetch(mesh, url, user, ratings, sizeof(ratings));
  snprintf(page->text, sizeof(page->text),
           "product %d | reviews: %s | "
           "stars: %s",
           product, page->reviews_ok ? reviews : "(unavailable)",
           page->ratings_ok ? ratings : "(unavailable)");
  page->status = page->reviews_ok || page->ratings_ok ? 200 : 503;
}

/* ---- the test ------------------------------------------------------- */

/* The service's Istio config as in production, trimmed to what matters
 * here: ratings has a 250 ms timeout. Where the services run is test
 * business: reviews through a ServiceEntry naming the mock's port,
 * ratings through meshlib_set_endpoints() (an application's own
 * discovery). */
static const char config[] = "apiVersion: networking.istio.io/v1\n"
                             "kind: VirtualService\n"
                             "metadata: {name: ratings, namespace: shop}\n"
                             "spec:\n"
                             "  hosts: [ratings]\n"
                             "  http:\n"
                             "  - name: ratings\n"
                             "    timeout: 250ms\n"
                             "    route: [{destination: {host: ratings}}]\n";

typedef struct fixture {
  meshlib_mock *reviews, *ratings;
  meshlib *mesh;
} fixture;

static int setup(void **state) {
  fixture *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  assert_int_equal(meshlib_mock_new(&f->reviews), MESHLIB_OK);
  assert_int_equal(meshlib_mock_new(&f->ratings), MESHLIB_OK);
  meshlib_mock_set_name(f->reviews, "reviews");
  meshlib_mock_set_name(f->ratings, "ratings");
  assert_int_equal(meshlib_mock_set_default(f->reviews, 200, "great lamp", 10),
                   MESHLIB_OK);
  assert_int_equal(meshlib_mock_set_default(f->ratings, 200, "4.5", 3),
                   MESHLIB_OK);

  char yaml[2048];
  snprintf(yaml, sizeof(yaml),
           "%s---\n"
           "apiVersion: networking.istio.io/v1\n"
           "kind: ServiceEntry\n"
           "metadata: {name: reviews, namespace: shop}\n"
           "spec:\n"
           "  hosts: [reviews.shop.svc.cluster.local]\n"
           "  location: MESH_INTERNAL\n"
           "  resolution: STATIC\n"
           "  ports: [{number: 9080, name: http, protocol: HTTP}]\n"
           "  endpoints: [{address: 127.0.0.1, ports: {http: %d}}]\n",
           config, meshlib_mock_port(f->reviews));
  meshlib_options *o;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  meshlib_options_set_namespace(o, "shop");
  meshlib_options_add_config_string(o, "shop.yaml", yaml, strlen(yaml));
  if (meshlib_new(&f->mesh, o) != MESHLIB_OK)
    fail_msg("config: %s", meshlib_options_errmsg(o));
  meshlib_options_free(o);

  meshlib_endpoints *eps;
  assert_int_equal(meshlib_endpoints_new(&eps), MESHLIB_OK);
  assert_int_equal(
      meshlib_endpoints_add(eps, "127.0.0.1",
                            (uint32_t)meshlib_mock_port(f->ratings), 1),
      MESHLIB_OK);
  assert_int_equal(meshlib_set_endpoints(f->mesh, "ratings", eps), MESHLIB_OK);
  meshlib_endpoints_free(eps);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fixture *f = *state;
  meshlib_free(f->mesh);
  meshlib_mock_free(f->reviews); /* releases a hanging request too */
  meshlib_mock_free(f->ratings);
  free(f);
  return 0;
}

static void test_page_combines_both_services(void **state) {
  fixture *f = *state;
  product_page page;
  get_product_page(f->mesh, 7, "ann", &page);
  assert_int_equal(page.status, 200);
  assert_string_equal(page.text,
                      "product 7 | reviews: great lamp | stars: 4.5");

  /* What the services received: one call each, to the product's path,
   * with the end user forwarded and the service's name as Host. */
  assert_int_equal(meshlib_mock_request_count(f->reviews), 1);
  assert_int_equal(meshlib_mock_request_count(f->ratings), 1);
  assert_string_equal(meshlib_mock_request_path(f->reviews, 0), "/reviews/7");
  assert_string_equal(meshlib_mock_request_path(f->ratings, 0), "/ratings/7");
  assert_string_equal(meshlib_mock_request_header(f->reviews, 0, "end-user"),
                      "ann");
  assert_string_equal(meshlib_mock_request_header(f->ratings, 0, "end-user"),
                      "ann");
  assert_string_equal(meshlib_mock_request_header(f->reviews, 0, "host"),
                      "reviews:9080");
  assert_string_equal(meshlib_mock_request_method(f->ratings, 0), "GET");
}

static void test_reviews_down_still_renders(void **state) {
  fixture *f = *state;
  meshlib_mock_push_response(f->reviews, 503, "overloaded", 10);
  product_page page;
  get_product_page(f->mesh, 8, "bob", &page);
  assert_int_equal(page.status, 200);
  assert_false(page.reviews_ok);
  assert_true(page.ratings_ok);
  assert_string_equal(page.text,
                      "product 8 | reviews: (unavailable) | stars: 4.5");
  /* No retry policy in this config: reviews was asked exactly once, and
   * ratings was still asked. */
  assert_int_equal(meshlib_mock_request_count(f->reviews), 1);
  assert_int_equal(meshlib_mock_request_count(f->ratings), 1);

  /* The next page is whole again: the 503 was scripted for one call. */
  get_product_page(f->mesh, 8, "bob", &page);
  assert_true(page.reviews_ok);
}

static void test_ratings_timeout_is_bounded_by_the_route(void **state) {
  fixture *f = *state;
  meshlib_mock_push_hang(f->ratings); /* never answers */
  product_page page;
  meshlib_request *probe;

  get_product_page(f->mesh, 9, "cy", &page);
  assert_int_equal(page.status, 200);
  assert_true(page.reviews_ok);
  assert_false(page.ratings_ok);
  assert_string_equal(page.text,
                      "product 9 | reviews: great lamp | stars: (unavailable)");
  /* The hanging request did reach ratings. */
  assert_int_equal(meshlib_mock_wait_requests(f->ratings, 1, 1000), 1);
  assert_string_equal(meshlib_mock_request_path(f->ratings, 0), "/ratings/9");

  /* It was the route's 250 ms timeout that gave up, as Envoy would:
   * 504 with the UT flag, well before a second. */
  meshlib_mock_push_hang(f->ratings);
  assert_int_equal(meshlib_request_new(&probe, f->mesh, "GET",
                                       "http://ratings:9080/ratings/9"),
                   MESHLIB_OK);
  assert_int_equal(meshlib_request_perform(probe), MESHLIB_OK);
  assert_int_equal(meshlib_response_status(probe), 504);
  assert_int_equal(meshlib_response_flags(probe), MESHLIB_RF_UT);
  int64_t us = meshlib_response_duration_us(probe);
  assert_true(us >= 200000 && us < 1000000);
  meshlib_request_free(probe);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_page_combines_both_services, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_reviews_down_still_renders, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(
          test_ratings_timeout_is_bounded_by_the_route, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
