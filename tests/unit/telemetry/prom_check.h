/* SPDX-License-Identifier: MIT */
#ifndef PROM_CHECK_H
#define PROM_CHECK_H

/* Checks of a Prometheus text exposition that promtool does not make:
 * no duplicate series, HELP and TYPE once per family and before its
 * samples, cumulative histogram buckets ending with le="+Inf", _count
 * equal to the +Inf bucket. Plus lookups for the tests, and promtool
 * itself when it is installed. Test code: aborts on out of memory. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct prom_sample {
  char *name;
  char *labels; /* "a=\"x\",b=\"y\"" without braces and without le */
  char *le;     /* NULL unless the sample has an le label */
  double value;
} prom_sample;

typedef struct prom_doc {
  prom_sample *s;
  size_t n;
  char err[512];
} prom_doc;

static inline char *pc_strndup(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (!d)
    abort();
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

/* Splits "name{labels} value" into a sample; 0, or -1 when malformed. */
static inline int pc_parse_line(const char *line, size_t len,
                                prom_sample *out) {
  size_t i = 0;
  while (i < len && line[i] != '{' && line[i] != ' ')
    i++;
  out->name = pc_strndup(line, i);
  out->le = NULL;
  char *labels = malloc(len + 1);
  if (!labels)
    abort();
  size_t ln = 0;
  if (i < len && line[i] == '{') {
    i++;
    while (i < len && line[i] != '}') {
      size_t k = i;
      while (i < len && line[i] != '=')
        i++;
      if (i + 1 >= len || line[i + 1] != '"')
        goto bad;
      size_t name_len = i - k;
      size_t v = i + 2, j = v;
      while (j < len && line[j] != '"') {
        if (line[j] == '\\')
          j++;
        j++;
      }
      if (j >= len)
        goto bad;
      if (name_len == 2 && strncmp(line + k, "le", 2) == 0) {
        out->le = pc_strndup(line + v, j - v);
      } else {
        if (ln)
          labels[ln++] = ',';
        memcpy(labels + ln, line + k, j + 1 - k);
        ln += j + 1 - k;
      }
      i = j + 1;
      if (i < len && line[i] == ',')
        i++;
    }
    if (i >= len)
      goto bad;
    i++;
  }
  labels[ln] = '\0';
  out->labels = labels;
  if (i >= len || line[i] != ' ')
    return -1;
  char *end;
  char num[64];
  snprintf(num, sizeof(num), "%.*s", (int)(len - i - 1), line + i + 1);
  out->value = strtod(num, &end);
  return *end == '\0' ? 0 : -1;
bad:
  free(labels);
  out->labels = pc_strndup("", 0);
  return -1;
}

static inline void prom_doc_free(prom_doc *d) {
  for (size_t i = 0; i < d->n; i++) {
    free(d->s[i].name);
    free(d->s[i].labels);
    free(d->s[i].le);
  }
  free(d->s);
  d->s = NULL;
  d->n = 0;
}

static inline int pc_ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The family a sample name belongs to, given the families typed so far. */
static inline const char *pc_family(char **fams, char **types, size_t nf,
                                    const char *name, const char **type) {
  for (size_t i = 0; i < nf; i++) {
    size_t fl = strlen(fams[i]);
    if (strncmp(name, fams[i], fl) != 0)
      continue;
    const char *rest = name + fl;
    int hist = strcmp(types[i], "histogram") == 0;
    if (*rest == '\0' ||
        (hist && (strcmp(rest, "_bucket") == 0 || strcmp(rest, "_sum") == 0 ||
                  strcmp(rest, "_count") == 0))) {
      *type = types[i];
      return fams[i];
    }
  }
  return NULL;
}

static inline int pc_cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static inline double pc_le(const char *le) {
  return strcmp(le, "+Inf") == 0 ? INFINITY : strtod(le, NULL);
}

/* Parse and check |text|: 0 when it passes, else -1 with d->err set. */
static inline int prom_parse(const char *text, prom_doc *d) {
  memset(d, 0, sizeof(*d));
  size_t cap = 0, nf = 0;
  char *fams[512], *types[512];
  int helps[512];
  const char *p = text;
  int rc = 0;
  while (*p && rc == 0) {
    const char *nl = strchr(p, '\n');
    if (!nl) {
      snprintf(d->err, sizeof(d->err), "last line without newline");
      rc = -1;
      break;
    }
    size_t len = (size_t)(nl - p);
    if (len == 0) {
      p = nl + 1;
      continue;
    }
    if (strncmp(p, "# TYPE ", 7) == 0 || strncmp(p, "# HELP ", 7) == 0) {
      int is_type = p[2] == 'T';
      const char *n = p + 7, *sp = memchr(n, ' ', len - 7);
      char *fam = pc_strndup(n, sp ? (size_t)(sp - n) : len - 7);
      size_t k = 0;
      while (k < nf && strcmp(fams[k], fam) != 0)
        k++;
      if (k == nf) {
        if (nf == 512)
          abort();
        fams[nf] = fam;
        types[nf] = NULL;
        helps[nf] = 0;
        nf++;
      } else {
        free(fam);
        if ((is_type && types[k]) || (!is_type && helps[k])) {
          snprintf(d->err, sizeof(d->err), "second %s for %s",
                   is_type ? "TYPE" : "HELP", fams[k]);
          rc = -1;
        }
      }
      if (is_type && rc == 0)
        types[k] = pc_strndup(sp + 1, len - (size_t)(sp + 1 - p));
      else if (rc == 0)
        helps[k] = 1;
      p = nl + 1;
      continue;
    }
    if (p[0] == '#') {
      p = nl + 1;
      continue;
    }
    if (d->n == cap) {
      cap = cap ? cap * 2 : 64;
      d->s = realloc(d->s, cap * sizeof(*d->s));
      if (!d->s)
        abort();
    }
    prom_sample *s = &d->s[d->n];
    if (pc_parse_line(p, len, s) != 0) {
      d->n++;
      snprintf(d->err, sizeof(d->err), "malformed line: %.*s", (int)len, p);
      rc = -1;
      break;
    }
    d->n++;
    const char *type = NULL;
    const char *fam = pc_family(fams, types, nf, s->name, &type);
    if (!fam || !type) {
      snprintf(d->err, sizeof(d->err), "sample %s before its # TYPE", s->name);
      rc = -1;
    } else if (strcmp(type, "histogram") == 0 &&
               pc_ends_with(s->name, "_bucket") != (s->le != NULL)) {
      snprintf(d->err, sizeof(d->err), "le label misplaced on %s", s->name);
      rc = -1;
    }
    p = nl + 1;
  }
  /* Duplicates: name{labels,le} must be unique. */
  if (rc == 0) {
    char **keys = calloc(d->n + 1, sizeof(*keys));
    for (size_t i = 0; i < d->n; i++) {
      size_t n = strlen(d->s[i].name) + strlen(d->s[i].labels) +
                 (d->s[i].le ? strlen(d->s[i].le) : 0) + 8;
      keys[i] = malloc(n);
      snprintf(keys[i], n, "%s{%s|%s}", d->s[i].name, d->s[i].labels,
               d->s[i].le ? d->s[i].le : "");
    }
    qsort(keys, d->n, sizeof(*keys), pc_cmp_str);
    for (size_t i = 1; rc == 0 && i < d->n; i++)
      if (strcmp(keys[i - 1], keys[i]) == 0) {
        snprintf(d->err, sizeof(d->err), "duplicate series %s", keys[i]);
        rc = -1;
      }
    for (size_t i = 0; i < d->n; i++)
      free(keys[i]);
    free(keys);
  }
  /* Histograms: per series, buckets in le order are cumulative, end with
   * +Inf, and +Inf equals _count. */
  for (size_t i = 0; rc == 0 && i < d->n; i++) {
    const prom_sample *c = &d->s[i];
    if (!pc_ends_with(c->name, "_count"))
      continue;
    size_t base = strlen(c->name) - 6;
    const char *type = NULL;
    const char *fam = pc_family(fams, types, nf, c->name, &type);
    if (!fam || strcmp(type, "histogram") != 0)
      continue;
    double last_le = -INFINITY, last_v = 0;
    int seen_inf = 0;
    size_t buckets = 0;
    /* Buckets in the order of their bounds, whatever the text order. */
    for (;;) {
      const prom_sample *next = NULL;
      for (size_t j = 0; j < d->n; j++) {
        const prom_sample *b = &d->s[j];
        if (!b->le || strncmp(b->name, c->name, base) != 0 ||
            strcmp(b->name + base, "_bucket") != 0 ||
            strcmp(b->labels, c->labels) != 0 || pc_le(b->le) <= last_le)
          continue;
        if (!next || pc_le(b->le) < pc_le(next->le))
          next = b;
      }
      if (!next)
        break;
      buckets++;
      if (next->value < last_v) {
        snprintf(d->err, sizeof(d->err),
                 "bucket le=%s of %s{%s} below the one before", next->le,
                 c->name, c->labels);
        rc = -1;
        break;
      }
      last_v = next->value;
      last_le = pc_le(next->le);
      seen_inf = isinf(last_le);
    }
    if (rc == 0 && !seen_inf) {
      snprintf(d->err, sizeof(d->err), "no +Inf bucket for %s{%s} (%zu)",
               c->name, c->labels, buckets);
      rc = -1;
    } else if (rc == 0 && last_v != c->value) {
      snprintf(d->err, sizeof(d->err), "_count %g != +Inf bucket %g for %s",
               c->value, last_v, c->name);
      rc = -1;
    }
  }
  for (size_t i = 0; i < nf; i++) {
    if (rc == 0 && !helps[i]) {
      snprintf(d->err, sizeof(d->err), "no HELP for %s", fams[i]);
      rc = -1;
    }
    free(fams[i]);
    free(types[i]);
  }
  return rc;
}

/* The sum of the samples named |name| whose labels contain every one of
 * the |n| texts in |want| (such as "response_code=\"200\""); |le| NULL
 * for samples without le. -1 when none matched. */
static inline double prom_sum(const prom_doc *d, const char *name,
                              const char *le, const char *const *want,
                              size_t n) {
  double sum = 0;
  int found = 0;
  for (size_t i = 0; i < d->n; i++) {
    const prom_sample *s = &d->s[i];
    if (strcmp(s->name, name) != 0)
      continue;
    if ((le == NULL) != (s->le == NULL) || (le && strcmp(le, s->le) != 0))
      continue;
    size_t k = 0;
    while (k < n && strstr(s->labels, want[k]))
      k++;
    if (k < n)
      continue;
    sum += s->value;
    found = 1;
  }
  return found ? sum : -1;
}

/* The number of samples named |name|. */
static inline size_t prom_count(const prom_doc *d, const char *name) {
  size_t n = 0;
  for (size_t i = 0; i < d->n; i++)
    n += strcmp(d->s[i].name, name) == 0;
  return n;
}

/* promtool check metrics on |text|. Its linter (exit status 3) objects
 * to Istio's own metric name istio_request_duration_milliseconds (not in
 * seconds): that complaint alone is accepted, as the name is Istio's.
 * Returns 0 when promtool accepts, 1 when it is not installed, -1 with
 * its output in |err|. */
static inline int promtool_check(const char *text, char *err, size_t err_cap) {
  if (system("command -v promtool >/dev/null 2>&1") != 0)
    return 1;
  char in[] = "/tmp/meshlib-prom-XXXXXX";
  int fd = mkstemp(in);
  if (fd < 0)
    return -1;
  size_t len = strlen(text);
  if (write(fd, text, len) != (ssize_t)len) {
    close(fd);
    unlink(in);
    return -1;
  }
  close(fd);
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", in);
  FILE *f = popen(cmd, "r");
  if (!f) {
    unlink(in);
    return -1;
  }
  char out[8192];
  size_t n = fread(out, 1, sizeof(out) - 1, f);
  out[n] = '\0';
  int status = pclose(f);
  unlink(in);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == 0)
    return 0;
  if (code == 3) { /* lint findings only: each must be the accepted one */
    int ok = 1;
    const char *accepted = "istio_request_duration_milliseconds use base "
                           "unit \"seconds\" instead of \"milliseconds\"";
    char copy[8192];
    snprintf(copy, sizeof(copy), "%s", out);
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
      if (strcmp(line, accepted) != 0)
        ok = 0;
    if (ok)
      return 0;
  }
  snprintf(err, err_cap, "promtool exit %d: %.2000s", code, out);
  return -1;
}

#endif
