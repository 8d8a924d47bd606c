/* SPDX-License-Identifier: MIT */
/* PCRE2 behind RE2-style semantics. PCRE2 is Debian's well-kept engine
 * with a JIT; RE2 itself is C++ and has no C API. Full-match regexes are
 * compiled anchored at both ends, as Envoy's safe_regex matches. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "util/regex.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

struct ml_regex {
  ml_regex *next;
  pcre2_code *code;
  int jit; /* JIT-compiled: pcre2_jit_match() skips the checks of
              pcre2_match(), several times faster on a miss */
};

/* Match data is per thread: matching needs scratch space, and one block
 * per thread avoids allocating on each match. The thread-local pointer
 * makes finding it cheap; the key frees it when the thread ends. */
static pthread_key_t match_key;
static pthread_once_t match_once = PTHREAD_ONCE_INIT;
static _Thread_local pcre2_match_data *thread_md;

static void match_data_free(void *p) {
  pcre2_match_data_free(p);
}

static void match_key_init(void) {
  (void)pthread_key_create(&match_key, match_data_free);
}

static pcre2_match_data *thread_match_data(void) {
  if (thread_md)
    return thread_md;
  pthread_once(&match_once, match_key_init);
  pcre2_match_data *md = pthread_getspecific(match_key);
  if (!md) {
    /* Matching needs only the overall match: one pair. */
    md = pcre2_match_data_create(1, NULL);
    if (md && pthread_setspecific(match_key, md) != 0) {
      pcre2_match_data_free(md);
      md = NULL;
    }
  }
  thread_md = md;
  return md;
}

int ml_regex_compile(const ml_mem *mem, const char *pattern, int mode,
                     ml_regex **list, ml_regex **out, char *err,
                     size_t errlen) {
  int errcode;
  PCRE2_SIZE erroffset;
  /* UTF-8 as RE2; MATCH_INVALID_UTF makes bytes that are not UTF-8 (a
   * header can hold anything) simply fail to match, also on the JIT
   * path, which does no UTF check of its own. */
  uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
  if (mode == ML_REGEX_FULL)
    options |= PCRE2_ANCHORED | PCRE2_ENDANCHORED;
  pcre2_code *code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                   options, &errcode, &erroffset, NULL);
  if (!code) {
    PCRE2_UCHAR msg[160];
    pcre2_get_error_message(errcode, msg, sizeof(msg));
    snprintf(err, errlen, "invalid regex at offset %zu: %s", (size_t)erroffset,
             (const char *)msg);
    return -1;
  }
  /* JIT when the platform has it; matching works either way. */
  int jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  ml_regex *re = ml_malloc(mem, sizeof(*re));
  if (!re) {
    pcre2_code_free(code);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  re->code = code;
  re->jit = jit;
  re->next = *list;
  *list = re;
  *out = re;
  return 0;
}

int ml_regex_match(const ml_regex *re, const char *s, size_t len) {
  pcre2_match_data *md = thread_match_data();
  if (!md)
    return 0;
  int rc = re->jit
               ? pcre2_jit_match(re->code, (PCRE2_SPTR)s, len, 0, 0, md, NULL)
               : pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, md, NULL);
  return rc >= 0;
}

void ml_regex_free_list(const ml_mem *mem, ml_regex *list) {
  while (list) {
    ml_regex *next = list->next;
    pcre2_code_free(list->code);
    ml_free(mem, list);
    list = next;
  }
}

int ml_regex_replace(const ml_regex *re, const char *s, const char *rewrite,
                     ml_buf *out) {
  /* RE2 writes groups as \1; PCRE2's substitute wants ${1}, and a literal
   * '$' must be doubled. */
  ml_buf repl;
  ml_buf_init(&repl, out->mem);
  for (const char *p = rewrite; *p; p++) {
    if (p[0] == '\\' && p[1] >= '0' && p[1] <= '9') {
      ml_buf_printf(&repl, "${%c}", p[1]);
      p++;
    } else if (p[0] == '\\' && p[1] == '\\') {
      ml_buf_putc(&repl, '\\');
      p++;
    } else if (p[0] == '$') {
      ml_buf_puts(&repl, "$$");
    } else {
      ml_buf_putc(&repl, p[0]);
    }
  }
  int rc = -1;
  if (repl.oom)
    goto out;
  size_t len = strlen(s);
  PCRE2_SIZE cap = len * 2 + strlen(rewrite) + 64;
  for (int tries = 0; tries < 2; tries++) {
    char *buf = ml_malloc(out->mem, cap);
    if (!buf)
      goto out;
    PCRE2_SIZE outlen = cap;
    int n = pcre2_substitute(
        re->code, (PCRE2_SPTR)s, len, 0,
        PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH, NULL, NULL,
        (PCRE2_SPTR)(repl.data ? repl.data : ""), repl.len, (PCRE2_UCHAR *)buf,
        &outlen);
    if (n >= 0) {
      rc = ml_buf_append(out, buf, outlen);
      ml_free(out->mem, buf);
      goto out;
    }
    ml_free(out->mem, buf);
    if (n != PCRE2_ERROR_NOMEMORY)
      goto out;
    cap = outlen + 1; /* the length it needs */
  }
out:
  ml_buf_free(&repl);
  return rc;
}
