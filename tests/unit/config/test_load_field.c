/* SPDX-License-Identifier: MIT */
/* The field-table walker on hand-built YAML trees: rows store typed values
 * and report which ones they stored, unknown keys are reported with the
 * map's path, "*" rows accept anything. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config/load_internal.h"
#include "meshlib/error.h"
#include "meshlib/mesh.h"

typedef struct sample {
  const char *name;
  int64_t count;
  int tri;
  int custom_calls;
} sample;

static int count_custom(ml_walk *w, const ynode *v, void *dst) {
  (void)w;
  (void)v;
  ((sample *)dst)->custom_calls++;
  return 1;
}

static const ml_field kSample[] = {
    MLF_STR("name", sample, name), MLF_INT("count", sample, count, 0, 10),
    MLF_TRI("flag", sample, tri), MLF_CUSTOM_OBJ("hook", count_custom),
    MLF_END};

static const ml_field kOpen[] = {MLF_STR("name", sample, name),
                                 MLF_UNUSED("*", ML_F_SKIP), MLF_END};

#define SCALAR(text)                                                           \
  { YN_SCALAR, 1, 1, 1, (text), sizeof(text) - 1, NULL, 0 }

typedef struct harness {
  ml_config *c;
  ml_diags d;
  ml_load_opts o;
  ml_loader L;
} harness;

static void harness_init(harness *h, int strict) {
  memset(h, 0, sizeof(*h));
  h->c = ml_config_new(NULL);
  assert_non_null(h->c);
  ml_diags_init(&h->d, NULL);
  h->o.strict = strict;
  h->L.c = h->c;
  h->L.a = &h->c->arena;
  h->L.o = &h->o;
  h->L.d = &h->d;
  h->L.file = "t.yaml";
  ml_ld_push(&h->L, "spec");
}

static void harness_free(harness *h) {
  ml_diags_free(&h->d);
  ml_config_free(h->c);
}

/* {name: a, count: <count>, bogus: x, hook: x} */
static uint64_t walk_sample(harness *h, const ml_field *fields,
                            const char *count, sample *out) {
  ynode k_name = SCALAR("name"), v_name = SCALAR("a");
  ynode k_count = SCALAR("count"), v_count = SCALAR("");
  ynode k_bogus = SCALAR("bogus"), v_bogus = SCALAR("x");
  ynode k_hook = SCALAR("hook"), v_hook = SCALAR("x");
  v_count.value = count;
  v_count.len = strlen(count);
  ynode *items[] = {&k_name,  &v_name,  &k_count, &v_count,
                    &k_bogus, &v_bogus, &k_hook,  &v_hook};
  ynode map = {YN_MAP, 0, 1, 1, NULL, 0, items, 4};
  assert_true(ml_ld_map(&h->L, &map));
  return ml_ld_walk(&h->L, &map, fields, out);
}

static void test_rows_store_and_report(void **state) {
  (void)state;
  harness h;
  harness_init(&h, 0);
  sample s = {NULL, -1, ML_TRI_UNSET, 0};
  uint64_t got = walk_sample(&h, kSample, "7", &s);
  assert_string_equal(s.name, "a");
  assert_int_equal(s.count, 7);
  assert_int_equal(s.tri, ML_TRI_UNSET);
  assert_int_equal(s.custom_calls, 1);
  assert_true(ml_ld_stored(kSample, got, "name"));
  assert_true(ml_ld_stored(kSample, got, "count"));
  assert_false(ml_ld_stored(kSample, got, "flag"));
  assert_true(ml_ld_stored(kSample, got, "hook"));
  /* The unknown key: a warning naming the map, not the key. */
  assert_int_equal(h.d.count, 1);
  assert_int_equal(h.d.items[0]->level, MESHLIB_LEVEL_WARNING);
  assert_string_equal(h.d.items[0]->field, "spec");
  assert_string_equal(h.d.items[0]->message, "unknown field \"bogus\"");
  assert_int_equal(h.L.rc, 0);
  harness_free(&h);
}

static void test_bad_value_is_not_stored(void **state) {
  (void)state;
  harness h;
  harness_init(&h, 1);
  sample s = {NULL, -1, ML_TRI_UNSET, 0};
  uint64_t got = walk_sample(&h, kSample, "11", &s);
  assert_int_equal(s.count, -1);
  assert_false(ml_ld_stored(kSample, got, "count"));
  /* The range error at spec.count, then the unknown key as an error. */
  assert_int_equal(h.d.count, 2);
  assert_string_equal(h.d.items[0]->field, "spec.count");
  assert_string_equal(h.d.items[0]->message,
                      "must be between 0 and 10, found 11");
  assert_int_equal(h.d.items[1]->level, MESHLIB_LEVEL_ERROR);
  assert_int_equal(h.L.rc, MESHLIB_ERR_CONFIG);
  harness_free(&h);
}

static void test_star_row_accepts_the_rest(void **state) {
  (void)state;
  harness h;
  harness_init(&h, 1);
  sample s = {NULL, -1, ML_TRI_UNSET, 0};
  uint64_t got = walk_sample(&h, kOpen, "not a number", &s);
  assert_string_equal(s.name, "a");
  assert_int_equal(s.count, -1);
  assert_true(ml_ld_stored(kOpen, got, "name"));
  assert_int_equal(h.d.count, 0);
  harness_free(&h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rows_store_and_report),
      cmocka_unit_test(test_bad_value_is_not_stored),
      cmocka_unit_test(test_star_row_accepts_the_rest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
