/* SPDX-License-Identifier: MIT */
/* util/json.c: escaping (RFC 8259, and UTF-8 kept valid), nesting and
 * commas, numbers, misuse caught once at the end, and every allocation
 * failing in turn. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json.h"

/* |n| bytes of |s| escaped, as a string the test frees. */
static char *escaped(const char *s, size_t n) {
  ml_buf b;
  ml_buf_init(&b, NULL);
  assert_int_equal(ml_json_escape(&b, s, n), 0);
  return ml_buf_steal(&b);
}

static void check_escape(const char *s, size_t n, const char *want) {
  char *got = escaped(s, n);
  assert_string_equal(got, want);
  free(got);
}

#define ESC(lit, want) check_escape(lit, sizeof(lit) - 1, want)

static void test_escape(void **state) {
  (void)state;
  ESC("", "\"\"");
  ESC("plain /path?x=1", "\"plain /path?x=1\"");
  ESC("q\"b\\s", "\"q\\\"b\\\\s\"");
  ESC("a\nb\rc\td", "\"a\\nb\\rc\\td\"");
  /* Other control characters as \u00XX, NUL included; DEL needs none. */
  ESC("\x01\x08\x0c\x1f\x7f", "\"\\u0001\\u0008\\u000c\\u001f\x7f\"");
  ESC("a\0b", "\"a\\u0000b\"");
  check_escape(NULL, 0, "null");
}

static void test_escape_utf8(void **state) {
  (void)state;
  /* Valid sequences of 2, 3 and 4 bytes pass as they are. */
  ESC("h\xc3\xa9llo \xe2\x98\x83 \xf0\x9f\x98\x80",
      "\"h\xc3\xa9llo \xe2\x98\x83 \xf0\x9f\x98\x80\"");
  ESC("\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf",
      "\"\xed\x9f\xbf\xee\x80\x80\xf4\x8f\xbf\xbf\"");
  /* Anything else: one U+FFFD per byte that starts no valid sequence. */
  ESC("a\xff"
      "b",
      "\"a\\ufffdb\"");
  ESC("\x80", "\"\\ufffd\"");                       /* lone continuation */
  ESC("\xc0\xaf", "\"\\ufffd\\ufffd\"");            /* overlong '/' */
  ESC("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""); /* overlong */
  ESC("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""); /* a surrogate */
  ESC("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > 10FFFF */
  ESC("\xf5", "\"\\ufffd\"");
  ESC("x\xe2\x98", "\"x\\ufffd\\ufffd\""); /* cut short */
  ESC("\xe2\x28\xa1", "\"\\ufffd(\\ufffd\"");
}

/* The writer's text for a run of calls, checked and freed. */
typedef struct run {
  ml_buf b;
  ml_json w;
} run;

static void start(run *r) {
  ml_buf_init(&r->b, NULL);
  ml_json_init(&r->w, &r->b);
}

static void expect(run *r, int rc, const char *text) {
  assert_int_equal(ml_json_finish(&r->w), rc);
  assert_string_equal(r->b.data ? r->b.data : "", text);
  ml_buf_free(&r->b);
}

static void test_nesting_and_commas(void **state) {
  (void)state;
  run r;
  start(&r);
  ml_json_obj(&r.w, NULL);
  ml_json_str(&r.w, "a", "x");
  ml_json_obj(&r.w, "empty");
  ml_json_end(&r.w);
  ml_json_arr(&r.w, "none");
  ml_json_end(&r.w);
  ml_json_arr(&r.w, "list");
  ml_json_int(&r.w, NULL, 1);
  ml_json_obj(&r.w, NULL);
  ml_json_null(&r.w, "k\"ey");
  ml_json_bool(&r.w, "t", 1);
  ml_json_end(&r.w);
  ml_json_arr(&r.w, NULL);
  ml_json_arr(&r.w, NULL);
  ml_json_end(&r.w);
  ml_json_end(&r.w);
  ml_json_str(&r.w, NULL, NULL);
  ml_json_end(&r.w);
  ml_json_bool(&r.w, "f", 0);
  ml_json_end(&r.w);
  expect(&r, ML_JSON_OK,
         "{\"a\":\"x\",\"empty\":{},\"none\":[],\"list\":[1,{\"k\\\"ey\":null,"
         "\"t\":true},[[]],null],\"f\":false}");

  /* A scalar is a whole value too. */
  start(&r);
  ml_json_str(&r.w, NULL, "just this");
  expect(&r, ML_JSON_OK, "\"just this\"");

  /* The writer appends: what the buffer held stays in front. */
  start(&r);
  ml_buf_puts(&r.b, "data: ");
  ml_json_arr(&r.w, NULL);
  ml_json_int(&r.w, NULL, 1);
  ml_json_int(&r.w, NULL, 2);
  ml_json_end(&r.w);
  expect(&r, ML_JSON_OK, "data: [1,2]");
}

static void test_numbers_and_raw(void **state) {
  (void)state;
  run r;
  start(&r);
  ml_json_arr(&r.w, NULL);
  ml_json_int(&r.w, NULL, INT64_MIN);
  ml_json_int(&r.w, NULL, INT64_MAX);
  ml_json_uint(&r.w, NULL, UINT64_MAX);
  ml_json_int(&r.w, NULL, 0);
  ml_json_double(&r.w, NULL, 12.5);
  ml_json_double(&r.w, NULL, 0.1);
  ml_json_double(&r.w, NULL, 1e21);
  ml_json_double(&r.w, NULL, -0.25);
  ml_json_double(&r.w, NULL, NAN);
  ml_json_double(&r.w, NULL, INFINITY);
  ml_json_double(&r.w, NULL, -INFINITY);
  ml_json_raw(&r.w, NULL, "{\"pre\":1}");
  ml_json_end(&r.w);
  expect(&r, ML_JSON_OK,
         "[-9223372036854775808,9223372036854775807,18446744073709551615,0,"
         "12.5,0.1,1e+21,-0.25,null,null,null,{\"pre\":1}]");
}

static void test_strf(void **state) {
  (void)state;
  run r;
  start(&r);
  ml_json_obj(&r.w, NULL);
  ml_json_strf(&r.w, "vs", "%s/%s", "ns", "na\"me");
  ml_json_strf(&r.w, "t", "%lld000", 17LL);
  /* Longer than the writer's stack buffer: formatted on the heap. */
  char longer[300];
  memset(longer, 'x', sizeof(longer) - 1);
  longer[sizeof(longer) - 1] = '\0';
  ml_json_strf(&r.w, "long", "%s\n", longer);
  ml_json_end(&r.w);
  char want[400];
  snprintf(want, sizeof(want),
           "{\"vs\":\"ns/na\\\"me\",\"t\":\"17000\",\"long\":\"%s\\n\"}",
           longer);
  expect(&r, ML_JSON_OK, want);
}

static void test_strn(void **state) {
  (void)state;
  run r;
  start(&r);
  ml_json_obj(&r.w, NULL);
  ml_json_strn(&r.w, "body", "ab\0cd", 5);
  ml_json_strn(&r.w, "cut", "abcdef", 2);
  ml_json_strn(&r.w, "none", NULL, 3);
  ml_json_end(&r.w);
  expect(&r, ML_JSON_OK,
         "{\"body\":\"ab\\u0000cd\",\"cut\":\"ab\",\"none\":null}");
}

/* Misuse stops the writer where it happened and shows at the end. */
static void test_misuse(void **state) {
  (void)state;
  run r;

  start(&r); /* nothing written */
  expect(&r, ML_JSON_ERR_USAGE, "");

  start(&r); /* a member without its name */
  ml_json_obj(&r.w, NULL);
  ml_json_int(&r.w, NULL, 1);
  ml_json_end(&r.w);
  expect(&r, ML_JSON_ERR_USAGE, "{");

  start(&r); /* a name inside an array */
  ml_json_arr(&r.w, NULL);
  ml_json_int(&r.w, "k", 1);
  ml_json_int(&r.w, NULL, 2);
  ml_json_end(&r.w);
  expect(&r, ML_JSON_ERR_USAGE, "[");

  start(&r); /* a name on the top-level value */
  ml_json_str(&r.w, "k", "v");
  expect(&r, ML_JSON_ERR_USAGE, "");

  start(&r); /* two top-level values */
  ml_json_int(&r.w, NULL, 1);
  ml_json_int(&r.w, NULL, 2);
  expect(&r, ML_JSON_ERR_USAGE, "1");

  start(&r); /* closing what is not open */
  ml_json_obj(&r.w, NULL);
  ml_json_end(&r.w);
  ml_json_end(&r.w);
  expect(&r, ML_JSON_ERR_USAGE, "{}");

  start(&r); /* left open */
  ml_json_obj(&r.w, NULL);
  ml_json_arr(&r.w, "a");
  expect(&r, ML_JSON_ERR_USAGE, "{\"a\":[");

  /* Nesting: ML_JSON_MAX_DEPTH levels are fine, one more is not. */
  for (int extra = 0; extra < 2; extra++) {
    start(&r);
    for (int i = 0; i < ML_JSON_MAX_DEPTH + extra; i++)
      ml_json_arr(&r.w, NULL);
    for (int i = 0; i < ML_JSON_MAX_DEPTH + extra; i++)
      ml_json_end(&r.w);
    int rc = ml_json_finish(&r.w);
    assert_int_equal(rc, extra ? ML_JSON_ERR_USAGE : ML_JSON_OK);
    if (!extra)
      assert_int_equal(r.b.len, 2 * ML_JSON_MAX_DEPTH);
    ml_buf_free(&r.b);
  }
}

/* ---- allocation failures ------------------------------------------------ */

static long fail_at; /* the allocation to fail, 1-based; 0 = none */
static long count;   /* allocations so far */
static long live;    /* blocks not freed */

static int failing(void) {
  return ++count == fail_at;
}

static void *f_malloc(size_t n, void *ud) {
  (void)ud;
  if (failing())
    return NULL;
  live++;
  return malloc(n);
}

static void f_free(void *p, void *ud) {
  (void)ud;
  if (p)
    live--;
  free(p);
}

static void *f_calloc(size_t a, size_t b, void *ud) {
  (void)ud;
  if (failing())
    return NULL;
  live++;
  return calloc(a, b);
}

static void *f_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  if (failing())
    return NULL;
  if (!p)
    live++;
  return realloc(p, n);
}

/* A body big enough to make the buffer grow several times, with a strf
 * that needs the heap. */
static int write_body(const ml_mem *mem, char **out) {
  ml_buf b;
  ml_buf_init(&b, mem);
  ml_json w;
  ml_json_init(&w, &b);
  char longer[200];
  memset(longer, 'y', sizeof(longer) - 1);
  longer[sizeof(longer) - 1] = '\0';
  ml_json_obj(&w, NULL);
  ml_json_arr(&w, "items");
  for (int i = 0; i < 40; i++) {
    ml_json_obj(&w, NULL);
    ml_json_int(&w, "i", i);
    ml_json_str(&w, "s", "quote \" and \x01");
    ml_json_end(&w);
  }
  ml_json_end(&w);
  ml_json_strf(&w, "long", "%s", longer);
  ml_json_end(&w);
  int rc = ml_json_finish(&w);
  if (rc != ML_JSON_OK) {
    ml_buf_free(&b);
    return rc;
  }
  *out = ml_buf_steal(&b);
  return *out ? ML_JSON_OK : ML_JSON_ERR_NOMEM;
}

static void test_every_allocation_can_fail(void **state) {
  (void)state;
  meshlib_allocator a = {NULL, f_malloc, f_free, f_calloc, f_realloc};
  char *want = NULL;
  fail_at = 0;
  assert_int_equal(write_body(NULL, &want), ML_JSON_OK);
  int failed = 0;
  for (fail_at = 1;; fail_at++) {
    count = live = 0;
    char *got = NULL;
    int rc = write_body(&a, &got);
    if (rc == ML_JSON_OK) {
      /* Past the last allocation: the same text as with libc. */
      assert_string_equal(got, want);
      f_free(got, NULL);
      assert_int_equal(live, 0);
      break;
    }
    assert_int_equal(rc, ML_JSON_ERR_NOMEM);
    if (live)
      fail_msg("allocation %ld failing leaked %ld blocks", fail_at, live);
    failed++;
  }
  assert_true(failed >= 3); /* growth steps and the strf all counted */
  free(want);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_escape),
      cmocka_unit_test(test_escape_utf8),
      cmocka_unit_test(test_nesting_and_commas),
      cmocka_unit_test(test_numbers_and_raw),
      cmocka_unit_test(test_strf),
      cmocka_unit_test(test_strn),
      cmocka_unit_test(test_misuse),
      cmocka_unit_test(test_every_allocation_can_fail),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
