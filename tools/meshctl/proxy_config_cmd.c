/* SPDX-License-Identifier: MIT */
/* meshctl proxy-config: read a running mesh's admin listener over HTTP
 * (libcurl) and show its routes, clusters or endpoints as tables, the way
 * `istioctl proxy-config` reads Envoy's admin interface; -o json prints
 * the listener's JSON as it came. The JSON is read with libyaml (JSON is
 * YAML's flow style). */
#include "meshctl.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

void usage_proxy_config(FILE *f) {
  fputs("Usage: meshctl proxy-config routes|clusters|endpoints [options]\n"
        "\n"
        "Show the live state of a mesh that serves its admin listener\n"
        "(meshlib_options_set_admin_address()), as `istioctl proxy-config`\n"
        "shows an Envoy's:\n"
        "  routes     the VirtualService routes in force: name, hosts,\n"
        "             match, destinations and weights\n"
        "  clusters   one line per service, port and subset: balancer,\n"
        "             healthy endpoints\n"
        "  endpoints  one line per endpoint of each cluster: health,\n"
        "             outlier ejection, requests in flight, weight\n"
        "\n"
        "Options:\n"
        "      --admin HOST:PORT  the admin listener (default\n"
        "                         127.0.0.1:15000)\n"
        "      --fqdn HOST        clusters, endpoints: only this service\n"
        "      --subset NAME      clusters, endpoints: only this subset\n"
        "      --cluster NAME     endpoints: only this cluster\n"
        "                         (outbound|port|subset|host)\n"
        "  -o, --output FORMAT    table (default) or json (the listener's\n"
        "                         /routes or /clusters body as it is)\n"
        "  -h, --help             show this help\n"
        "\n"
        "Exit status: 0 shown; 1 the listener could not be read; 2 bad\n"
        "arguments.\n",
        f);
}

/* ---- HTTP ---------------------------------------------------------------- */

typedef struct body {
  char *data;
  size_t len;
} body;

static size_t on_data(char *p, size_t size, size_t n, void *ud) {
  body *b = ud;
  char *d = realloc(b->data, b->len + size * n + 1);
  if (!d)
    return 0;
  memcpy(d + b->len, p, size * n);
  b->len += size * n;
  d[b->len] = '\0';
  b->data = d;
  return size * n;
}

/* GET http://|admin||path| into |out|: 0, or -1 after saying why. */
static int fetch(const char *admin, const char *path, body *out) {
  char url[512];
  snprintf(url, sizeof(url), "http://%s%s", admin, path);
  CURL *c = curl_easy_init();
  if (!c) {
    fprintf(stderr, "meshctl proxy-config: cannot start libcurl\n");
    return -1;
  }
  char err[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*"); /* the listener is local */
  CURLcode rc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK) {
    fprintf(stderr, "meshctl proxy-config: cannot read %s: %s\n", url,
            err[0] ? err : curl_easy_strerror(rc));
    return -1;
  }
  if (status != 200) {
    fprintf(stderr, "meshctl proxy-config: %s answered %ld\n", url, status);
    return -1;
  }
  if (!out->data) {
    fprintf(stderr, "meshctl proxy-config: %s sent nothing\n", url);
    return -1;
  }
  return 0;
}

/* ---- JSON as a tree, through libyaml's events -------------------------- */

typedef enum { J_SCALAR, J_MAP, J_SEQ } jkind;

typedef struct jnode {
  jkind kind;
  char *text;         /* scalars */
  char **keys;        /* maps */
  struct jnode **kid; /* maps and sequences */
  size_t n;
} jnode;

static void jfree(jnode *j) {
  if (!j)
    return;
  for (size_t i = 0; i < j->n; i++) {
    jfree(j->kid[i]);
    if (j->keys)
      free(j->keys[i]);
  }
  free(j->kid);
  free(j->keys);
  free(j->text);
  free(j);
}

static int next_event(yaml_parser_t *p, yaml_event_t *e) {
  return yaml_parser_parse(p, e) ? 0 : -1;
}

static jnode *parse_node(yaml_parser_t *p, yaml_event_t *e);

static int push_kid(jnode *j, char *key, jnode *kid) {
  jnode **k = realloc(j->kid, (j->n + 1) * sizeof(*k));
  if (!k)
    return -1;
  j->kid = k;
  if (j->kind == J_MAP) {
    char **keys = realloc(j->keys, (j->n + 1) * sizeof(*keys));
    if (!keys)
      return -1;
    j->keys = keys;
    keys[j->n] = key;
  }
  k[j->n++] = kid;
  return 0;
}

/* The node that |e| (taken) starts. */
static jnode *parse_node(yaml_parser_t *p, yaml_event_t *e) {
  jnode *j = calloc(1, sizeof(*j));
  if (!j) {
    yaml_event_delete(e);
    return NULL;
  }
  if (e->type == YAML_SCALAR_EVENT) {
    j->kind = J_SCALAR;
    j->text =
        strndup((const char *)e->data.scalar.value, e->data.scalar.length);
    yaml_event_delete(e);
    if (!j->text) {
      free(j);
      return NULL;
    }
    return j;
  }
  yaml_event_type_t end;
  if (e->type == YAML_MAPPING_START_EVENT) {
    j->kind = J_MAP;
    end = YAML_MAPPING_END_EVENT;
  } else if (e->type == YAML_SEQUENCE_START_EVENT) {
    j->kind = J_SEQ;
    end = YAML_SEQUENCE_END_EVENT;
  } else {
    yaml_event_delete(e);
    free(j);
    return NULL;
  }
  yaml_event_delete(e);
  for (;;) {
    yaml_event_t ev;
    if (next_event(p, &ev) < 0)
      goto bad;
    if (ev.type == end) {
      yaml_event_delete(&ev);
      return j;
    }
    char *key = NULL;
    if (j->kind == J_MAP) {
      if (ev.type != YAML_SCALAR_EVENT) {
        yaml_event_delete(&ev);
        goto bad;
      }
      key = strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
      yaml_event_delete(&ev);
      if (!key || next_event(p, &ev) < 0) {
        free(key);
        goto bad;
      }
    }
    jnode *kid = parse_node(p, &ev);
    if (!kid || push_kid(j, key, kid) < 0) {
      jfree(kid);
      free(key);
      goto bad;
    }
  }
bad:
  jfree(j);
  return NULL;
}

static jnode *parse_json(const char *text, size_t len) {
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p))
    return NULL;
  yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
  jnode *root = NULL;
  yaml_event_t e;
  while (!root && next_event(&p, &e) == 0) {
    yaml_event_type_t t = e.type;
    if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT ||
        t == YAML_SCALAR_EVENT) {
      root = parse_node(&p, &e);
      break;
    }
    yaml_event_delete(&e);
    if (t == YAML_STREAM_END_EVENT)
      break;
  }
  yaml_parser_delete(&p);
  return root;
}

static const jnode *jget(const jnode *j, const char *key) {
  if (!j || j->kind != J_MAP)
    return NULL;
  for (size_t i = 0; i < j->n; i++)
    if (strcmp(j->keys[i], key) == 0)
      return j->kid[i];
  return NULL;
}

static const char *jstr(const jnode *j, const char *key) {
  const jnode *v = jget(j, key);
  return v && v->kind == J_SCALAR ? v->text : "";
}

/* ---- tables -------------------------------------------------------------- */

#define MAX_COLS 8

typedef struct table {
  size_t cols;
  char **cells; /* rows x cols, owned */
  size_t rows, cap;
} table;

static int table_add(table *t, const char *const *cells) {
  if (t->rows == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    char **c = realloc(t->cells, cap * t->cols * sizeof(*c));
    if (!c)
      return -1;
    t->cells = c;
    t->cap = cap;
  }
  for (size_t i = 0; i < t->cols; i++) {
    t->cells[t->rows * t->cols + i] = strdup(cells[i] ? cells[i] : "");
    if (!t->cells[t->rows * t->cols + i]) {
      for (size_t k = 0; k < i; k++)
        free(t->cells[t->rows * t->cols + k]);
      return -1;
    }
  }
  t->rows++;
  return 0;
}

static void table_print(const table *t) {
  size_t w[MAX_COLS] = {0};
  for (size_t r = 0; r < t->rows; r++)
    for (size_t c = 0; c < t->cols; c++) {
      size_t n = strlen(t->cells[r * t->cols + c]);
      if (n > w[c])
        w[c] = n;
    }
  for (size_t r = 0; r < t->rows; r++) {
    for (size_t c = 0; c < t->cols; c++) {
      const char *s = t->cells[r * t->cols + c];
      if (c + 1 == t->cols)
        printf("%s\n", s);
      else
        printf("%-*s  ", (int)w[c], s);
    }
  }
}

static void table_free(table *t) {
  for (size_t i = 0; i < t->rows * t->cols; i++)
    free(t->cells[i]);
  free(t->cells);
}

/* |items| of the sequence |seq| joined with |sep| into |buf|. */
static void join(const jnode *seq, const char *sep, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  for (size_t i = 0; seq && seq->kind == J_SEQ && i < seq->n; i++) {
    const jnode *k = seq->kid[i];
    if (k->kind != J_SCALAR)
      continue;
    int n = snprintf(buf + used, cap - used, "%s%s", used ? sep : "", k->text);
    if (n < 0 || (size_t)n >= cap - used)
      break;
    used += (size_t)n;
  }
}

typedef struct pc_args {
  const char *what;
  const char *admin;
  const char *output;
  const char *fqdn;
  const char *subset;
  const char *cluster;
} pc_args;

static int show_routes(const jnode *root, table *t) {
  const char *head[] = {"NAME", "DOMAINS", "MATCH", "DESTINATIONS",
                        "VIRTUAL SERVICE"};
  t->cols = 5;
  if (table_add(t, head) < 0)
    return -1;
  const jnode *routes = jget(root, "routes");
  for (size_t i = 0; routes && routes->kind == J_SEQ && i < routes->n; i++) {
    const jnode *r = routes->kid[i];
    char hosts[512], match[512], dests[512] = "";
    join(jget(r, "hosts"), ",", hosts, sizeof(hosts));
    join(jget(r, "match"), ", ", match, sizeof(match));
    const jnode *ds = jget(r, "destinations");
    size_t used = 0;
    for (size_t k = 0; ds && ds->kind == J_SEQ && k < ds->n; k++) {
      const jnode *d = ds->kid[k];
      const char *sub = jstr(d, "subset");
      int n = snprintf(dests + used, sizeof(dests) - used, "%s%s%s%s %s%%",
                       used ? ", " : "", jstr(d, "host"), *sub ? "|" : "", sub,
                       jstr(d, "weight"));
      if (n < 0 || (size_t)n >= sizeof(dests) - used)
        break;
      used += (size_t)n;
    }
    if (!ds || !ds->n)
      snprintf(dests, sizeof(dests), "(%s)", jstr(r, "action"));
    const char *name = jstr(r, "name");
    const char *row[] = {*name ? name : "-", hosts, match, dests,
                         jstr(r, "virtual_service")};
    if (table_add(t, row) < 0)
      return -1;
  }
  return 0;
}

static int wanted(const pc_args *a, const jnode *c) {
  return (!a->fqdn || strcmp(jstr(c, "service"), a->fqdn) == 0) &&
         (!a->subset || strcmp(jstr(c, "subset"), a->subset) == 0) &&
         (!a->cluster || strcmp(jstr(c, "name"), a->cluster) == 0);
}

static int show_clusters(const pc_args *a, const jnode *root, table *t) {
  const char *head[] = {"SERVICE FQDN", "PORT", "SUBSET",
                        "DIRECTION",    "LB",   "ENDPOINTS (HEALTHY/TOTAL)"};
  t->cols = 6;
  if (table_add(t, head) < 0)
    return -1;
  const jnode *cs = jget(root, "clusters");
  for (size_t i = 0; cs && cs->kind == J_SEQ && i < cs->n; i++) {
    const jnode *c = cs->kid[i];
    if (!wanted(a, c))
      continue;
    char eps[64];
    snprintf(eps, sizeof(eps), "%s/%s", jstr(c, "endpoints_healthy"),
             jstr(c, "endpoints_total"));
    const char *sub = jstr(c, "subset");
    const char *lb = jstr(c, "lb_policy");
    const char *row[] = {jstr(c, "service"), jstr(c, "port"),
                         *sub ? sub : "-",   jstr(c, "direction"),
                         *lb ? lb : "-",     eps};
    if (table_add(t, row) < 0)
      return -1;
  }
  return 0;
}

static int show_endpoints(const pc_args *a, const jnode *root, table *t) {
  const char *head[] = {"ENDPOINT", "STATUS", "OUTLIER CHECK",
                        "CLUSTER",  "WEIGHT", "IN FLIGHT"};
  t->cols = 6;
  if (table_add(t, head) < 0)
    return -1;
  const jnode *cs = jget(root, "clusters");
  for (size_t i = 0; cs && cs->kind == J_SEQ && i < cs->n; i++) {
    const jnode *c = cs->kid[i];
    if (!wanted(a, c))
      continue;
    const jnode *eps = jget(c, "endpoints");
    for (size_t k = 0; eps && eps->kind == J_SEQ && k < eps->n; k++) {
      const jnode *e = eps->kid[k];
      char ep[300];
      const char *addr = jstr(e, "address");
      snprintf(ep, sizeof(ep), strchr(addr, ':') ? "[%s]:%s" : "%s:%s", addr,
               jstr(e, "port"));
      const char *row[] = {ep,
                           jstr(e, "health"),
                           jstr(e, "outlier_check"),
                           jstr(c, "name"),
                           jstr(e, "weight"),
                           jstr(e, "in_flight")};
      if (table_add(t, row) < 0)
        return -1;
    }
  }
  return 0;
}

static int pc_positional(void *args, const char *arg) {
  pc_args *a = args;
  if (a->what) {
    fprintf(stderr,
            "meshctl proxy-config: one of routes, clusters or "
            "endpoints, not both \"%s\" and \"%s\"\n",
            a->what, arg);
    return MESHCTL_USAGE;
  }
  a->what = arg;
  return 0;
}

static int run(const pc_args *a) {
  int routes = strcmp(a->what, "routes") == 0;
  int clusters = strcmp(a->what, "clusters") == 0;
  int endpoints = strcmp(a->what, "endpoints") == 0 ||
                  strcmp(a->what, "endpoint") == 0 ||
                  strcmp(a->what, "ep") == 0;
  if (strcmp(a->what, "route") == 0 || strcmp(a->what, "r") == 0)
    routes = 1;
  if (strcmp(a->what, "cluster") == 0 || strcmp(a->what, "c") == 0)
    clusters = 1;
  if (!routes && !clusters && !endpoints) {
    fprintf(stderr,
            "meshctl proxy-config: unknown type \"%s\" (routes, clusters, "
            "endpoints)\n",
            a->what);
    return MESHCTL_USAGE;
  }
  int json = 0;
  if (a->output && strcmp(a->output, "json") == 0)
    json = 1;
  else if (a->output && strcmp(a->output, "table") != 0 &&
           strcmp(a->output, "short") != 0) {
    fprintf(stderr,
            "meshctl proxy-config: unknown output \"%s\" (table, "
            "json)\n",
            a->output);
    return MESHCTL_USAGE;
  }
  body b = {0};
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    fprintf(stderr, "meshctl proxy-config: cannot start libcurl\n");
    return 1;
  }
  int code = 1;
  if (fetch(a->admin, routes ? "/routes" : "/clusters", &b) < 0)
    goto out;
  if (json) {
    fwrite(b.data, 1, b.len, stdout);
    code = MESHCTL_OK;
    goto out;
  }
  jnode *root = parse_json(b.data, b.len);
  if (!root || root->kind != J_MAP) {
    fprintf(stderr, "meshctl proxy-config: %s sent no JSON object\n", a->admin);
    jfree(root);
    goto out;
  }
  table t = {0};
  int rc = routes     ? show_routes(root, &t)
           : clusters ? show_clusters(a, root, &t)
                      : show_endpoints(a, root, &t);
  if (rc < 0)
    fprintf(stderr, "meshctl proxy-config: out of memory\n");
  else {
    table_print(&t);
    code = MESHCTL_OK;
  }
  table_free(&t);
  jfree(root);
out:
  free(b.data);
  curl_global_cleanup();
  return code;
}

int cmd_proxy_config(int argc, char **argv) {
  pc_args a = {0};
  a.admin = "127.0.0.1:15000";
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    int r = 0;
    if (opt_flag(arg, "-h", "--help")) {
      usage_proxy_config(stdout);
      return MESHCTL_OK;
    }
    if ((r = opt_value(argc, argv, &i, NULL, "--admin", &a.admin)) ||
        (r = opt_value(argc, argv, &i, "-o", "--output", &a.output)) ||
        (r = opt_value(argc, argv, &i, NULL, "--fqdn", &a.fqdn)) ||
        (r = opt_value(argc, argv, &i, NULL, "--subset", &a.subset)) ||
        (r = opt_value(argc, argv, &i, NULL, "--cluster", &a.cluster))) {
      if (r < 0)
        return MESHCTL_USAGE;
      continue;
    }
    if (arg[0] == '-' && arg[1]) {
      fprintf(stderr,
              "meshctl proxy-config: unknown option \"%s\"\n"
              "Run `meshctl proxy-config --help` for usage.\n",
              arg);
      return MESHCTL_USAGE;
    }
    int code = pc_positional(&a, arg);
    if (code)
      return code;
  }
  if (!a.what) {
    fprintf(stderr, "meshctl proxy-config: say routes, clusters or "
                    "endpoints\nRun `meshctl proxy-config --help` for "
                    "usage.\n");
    return MESHCTL_USAGE;
  }
  return run(&a);
}
