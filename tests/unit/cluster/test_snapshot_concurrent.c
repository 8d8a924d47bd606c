/* SPDX-License-Identifier: MIT */
/* Readers take snapshots while a writer swaps them: every reader must see
 * a whole, live snapshot, and every snapshot must be freed exactly once
 * (ASan and TSan check the second half). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "meshlib/meshlib.h"

enum { READERS = 4, SWAPS = 300 };

static const char *config_for(int i) {
  return (i % 2) ? "apiVersion: networking.istio.io/v1\n"
                   "kind: VirtualService\n"
                   "metadata: {name: a, namespace: default}\n"
                   "spec:\n"
                   "  hosts: [reviews]\n"
                   "  http:\n"
                   "  - route:\n"
                   "    - destination: {host: reviews, subset: v1}\n"
                 : "apiVersion: networking.istio.io/v1\n"
                   "kind: VirtualService\n"
                   "metadata: {name: b, namespace: default}\n"
                   "spec:\n"
                   "  hosts: [reviews]\n"
                   "  http:\n"
                   "  - route:\n"
                   "    - destination: {host: reviews, subset: v2}\n";
}

static atomic_long decisions_made;

typedef struct {
  meshlib *mesh;
  atomic_int *stop;
  long decisions;
  long mixed; /* a decision whose parts came from two versions */
} reader_arg;

static void *reader(void *p) {
  reader_arg *a = p;
  meshlib_request *r;
  if (meshlib_request_new(&r, a->mesh, "GET", "http://reviews/") != 0)
    return NULL;
  while (!atomic_load(a->stop)) {
    const meshlib_decision *d;
    if (meshlib_request_route(r, &d) != MESHLIB_OK)
      continue;
    const char *vs = meshlib_decision_vs_name(d);
    const char *subset = meshlib_decision_destination_subset(d, 0);
    uint64_t v = meshlib_decision_config_version(d);
    if (v > 0 && vs && subset) {
      /* "a" always routes to v1 and "b" to v2. */
      if ((strcmp(vs, "a") == 0) != (strcmp(subset, "v1") == 0))
        a->mixed++;
    }
    a->decisions++;
    atomic_fetch_add(&decisions_made, 1);
  }
  meshlib_request_free(r);
  return NULL;
}

static void test_swaps_under_readers(void **state) {
  (void)state;
  meshlib_options *o;
  meshlib *m;
  assert_int_equal(meshlib_options_new(&o), MESHLIB_OK);
  assert_int_equal(meshlib_new(&m, o), MESHLIB_OK);
  meshlib_options_free(o);

  atomic_int stop = 0;
  pthread_t th[READERS];
  reader_arg args[READERS];
  for (int i = 0; i < READERS; i++) {
    args[i] = (reader_arg){m, &stop, 0, 0};
    assert_int_equal(pthread_create(&th[i], NULL, reader, &args[i]), 0);
  }
  for (int i = 0; i < SWAPS; i++) {
    /* Let the readers make progress between swaps, so that every version
     * is read while the next one is being built. */
    long seen = atomic_load(&decisions_made);
    for (int spin = 0;
         spin < 100000 && atomic_load(&decisions_made) < seen + READERS; spin++)
      sched_yield();
    meshlib_config *c;
    assert_int_equal(meshlib_config_new(&c, m), MESHLIB_OK);
    const char *y = config_for(i);
    assert_int_equal(meshlib_config_add_string(c, "swap.yaml", y, strlen(y)),
                     MESHLIB_OK);
    assert_int_equal(meshlib_config_apply(c), MESHLIB_OK);
    meshlib_config_free(c);
  }
  atomic_store(&stop, 1);
  long total = 0;
  for (int i = 0; i < READERS; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(args[i].mixed, 0);
    total += args[i].decisions;
  }
  assert_true(total > 0);
  assert_int_equal(meshlib_config_version(m), SWAPS);
  meshlib_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_swaps_under_readers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
