/* SPDX-License-Identifier: MIT */
/* The route table: a compiled, read-only index over one ml_config.
 *
 * Shaped like Envoy's route configuration as istiod writes it for a
 * sidecar: every VirtualService host becomes a virtual host reachable by
 * each domain form the sidecar accepts (FQDN, trailing-dot FQDN,
 * name.ns.svc, name.ns, and name in the client's own namespace), holding
 * the http[] rules in order, first match wins. DestinationRules are merged
 * per host into views, Istio's way.
 *
 * Lookups cost O(length of the host) whatever the number of hosts: one
 * right-to-left pass hashes the host and, at once, every suffix that
 * starts after a dot, so that the exact table and the wildcard-suffix
 * table are probed without rehashing. Decisions never allocate. */
#include "route/route.h"

#include <string.h>
#include "meshlib/error.h"
#include "meshlib/request.h"
#include "route/regex.h"
#include "util/str.h"

#define RT_FNV_BASIS 1469598103934665603ULL
#define RT_FNV_PRIME 1099511628211ULL
/* A DNS name has at most 127 labels (253 bytes). */
#define RT_MAX_LABELS 128
#define RT_ROOT_NAMESPACE "istio-system"
#define RT_DEFAULT_SUFFIX "cluster.local"

/* ---- host index ------------------------------------------------------ */

/* A key is a slice: the domain forms of one host are all prefixes of one
 * stored string ("name.ns.svc.cluster.local."), so they share it. */
typedef struct rt_key {
  const char *s;
  uint32_t len;
  const void *val;
} rt_key;

/* Open addressing; a slot holds the key's index + 1 (0 = empty) and the
 * hash's upper half to skip most string compares. */
typedef struct rt_slot {
  uint32_t idx1;
  uint32_t tag;
} rt_slot;

typedef struct rt_map {
  rt_slot *slots;
  rt_key *keys;
  uint32_t mask;
  uint32_t count;
  uint32_t cap;
} rt_map;

typedef struct rt_hosts {
  rt_map exact;
  rt_map wild;     /* "*.example.com" stored as "example.com" */
  const void *any; /* the host "*" */
  uint64_t wild_lens; /* bit (len % 64) of every wildcard suffix */
} rt_hosts;

/* FNV-1a over the lower-cased bytes, last byte first: a right-to-left
 * pass then yields the hash of every suffix on the way. */
static uint64_t rt_hash(const char *s, size_t n) {
  uint64_t h = RT_FNV_BASIS;
  for (size_t i = n; i-- > 0;) {
    h ^= (unsigned char)ml_tolower(s[i]);
    h *= RT_FNV_PRIME;
  }
  return h;
}

static int rt_caseeq(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (ml_tolower(a[i]) != b[i])
      return 0;
  return 1;
}

static int map_init(ml_arena *a, rt_map *m, size_t n) {
  size_t cap = 8;
  while (cap < n * 2)
    cap <<= 1;
  m->slots = ml_arena_alloc(a, cap * sizeof(*m->slots));
  m->keys = ml_arena_alloc(a, (n ? n : 1) * sizeof(*m->keys));
  if (!m->slots || !m->keys)
    return -1;
  m->mask = (uint32_t)(cap - 1);
  m->count = 0;
  m->cap = (uint32_t)n;
  return 0;
}

/* |s| is compared case-insensitively against stored (lower-case) keys. */
static const rt_key *map_find(const rt_map *m, uint64_t h, const char *s,
                              size_t n) {
  if (!m->count)
    return NULL;
  uint32_t tag = (uint32_t)(h >> 32);
  for (uint32_t i = (uint32_t)h & m->mask;; i = (i + 1) & m->mask) {
    const rt_slot *sl = &m->slots[i];
    if (!sl->idx1)
      return NULL;
    if (sl->tag == tag) {
      const rt_key *k = &m->keys[sl->idx1 - 1];
      if (k->len == n && rt_caseeq(s, k->s, n))
        return k;
    }
  }
}

/* Insert unless present: the first definition of a domain wins.
 * Returns 1 when inserted, 0 when the key was already there. The map is
 * sized beforehand, so this cannot run out of room. */
static int map_insert(rt_map *m, const char *s, size_t n, const void *val) {
  uint64_t h = rt_hash(s, n);
  if (map_find(m, h, s, n) || m->count >= m->cap)
    return 0;
  uint32_t i = (uint32_t)h & m->mask;
  while (m->slots[i].idx1)
    i = (i + 1) & m->mask;
  m->keys[m->count] = (rt_key){s, (uint32_t)n, val};
  m->slots[i].idx1 = ++m->count;
  m->slots[i].tag = (uint32_t)(h >> 32);
  return 1;
}

/* Envoy's domain precedence: exact, then the longest "*.suffix", then
 * "*". A wildcard needs at least one character before its dot. */
static const void *hosts_find(const rt_hosts *hs, const char *s, size_t n) {
  uint64_t suf_hash[RT_MAX_LABELS];
  uint32_t suf_pos[RT_MAX_LABELS];
  size_t nsuf = 0;
  int wild = hs->wild.count > 0;
  uint64_t h = RT_FNV_BASIS;
  for (size_t i = n; i-- > 0;) {
    h ^= (unsigned char)ml_tolower(s[i]);
    h *= RT_FNV_PRIME;
    if (wild && i >= 2 && s[i - 1] == '.' && nsuf < RT_MAX_LABELS) {
      suf_hash[nsuf] = h;
      suf_pos[nsuf] = (uint32_t)i;
      nsuf++;
    }
  }
  const rt_key *k = map_find(&hs->exact, h, s, n);
  if (k)
    return k->val;
  /* Recorded right to left: the last one is the longest suffix. */
  for (size_t j = nsuf; j-- > 0;) {
    size_t len = n - suf_pos[j];
    if (!((hs->wild_lens >> (len & 63)) & 1))
      continue;
    k = map_find(&hs->wild, suf_hash[j], s + suf_pos[j], len);
    if (k)
      return k->val;
  }
  return hs->any;
}

/* Adds a host as written (already lower-case, possibly a wildcard); the
 * exact forms go through |add_exact|. Returns 1 when |val| took it. */
static int hosts_add_wild(rt_hosts *hs, const char *host, const void *val) {
  if (strcmp(host, "*") == 0) {
    if (hs->any)
      return 0;
    hs->any = val;
    return 1;
  }
  const char *suffix = host + 2; /* after "*." */
  size_t len = strlen(suffix);
  if (!map_insert(&hs->wild, suffix, len, val))
    return 0;
  hs->wild_lens |= 1ULL << (len & 63);
  return 1;
}

static int is_wildcard(const char *host) {
  return host[0] == '*' && (host[1] == '\0' || host[1] == '.');
}

/* For "name.ns.svc.<suffix>", the length of "name", of "name.ns" and of
 * "name.ns.svc"; 0 when |fqdn| is not a Kubernetes service name. */
static int k8s_split(const char *fqdn, const char *suffix, size_t *name_len,
                     size_t *ns_end, size_t *svc_end) {
  size_t n = strlen(fqdn), sl = strlen(suffix);
  if (n < sl + 6 || strcmp(fqdn + n - sl, suffix) != 0)
    return 0;
  size_t svc = n - sl - 1; /* index of the dot before the suffix */
  if (fqdn[svc] != '.' || svc < 4 || memcmp(fqdn + svc - 4, ".svc", 4))
    return 0;
  size_t nsd = svc - 4; /* end of "name.ns" */
  const char *dot = memchr(fqdn, '.', nsd);
  if (!dot || dot == fqdn || (size_t)(dot - fqdn) + 1 >= nsd ||
      memchr(dot + 1, '.', nsd - (size_t)(dot - fqdn) - 1))
    return 0;
  *name_len = (size_t)(dot - fqdn);
  *ns_end = nsd;
  *svc_end = svc;
  return 1;
}

/* ---- compiled rules -------------------------------------------------- */

enum {
  RT_OP_PORT,
  RT_OP_SRC_NS,
  RT_OP_SRC_LABEL,
  RT_OP_METHOD,
  RT_OP_SCHEME,
  RT_OP_URI,
  RT_OP_AUTHORITY,
  RT_OP_HEADER,
  RT_OP_NOT_HEADER,
  RT_OP_QUERY
};

/* One condition of a match. Conditions of a match are ANDed, so they are
 * stored cheapest first: a failing literal compare skips the regexes. */
typedef struct rt_cond {
  const char *value; /* exact text or prefix; lower-case when icase */
  const char *name;  /* header, query parameter or label name */
  const ml_regex *re;
  const char *pre;   /* a regex's leading literal text (see below) */
  uint32_t pre_len;
  uint32_t len;      /* of value; the port for RT_OP_PORT */
  uint32_t name_len;
  uint16_t slot;     /* header names: index in the decision's cache */
  uint8_t op;
  uint8_t kind;      /* ml_match_kind */
  uint8_t icase;
  uint8_t cost;
} rt_cond;

typedef struct rt_match {
  const rt_cond *conds;
  uint32_t count;
} rt_match;

typedef struct rt_route {
  const ml_http_route *route;
  const rt_match *matches;
  uint32_t match_count; /* 0: the rule matches every request */
  int32_t index;        /* in vs->http */
} rt_route;

/* A rule list tests the same few headers again and again; a decision
 * looks each distinct name up once and caches the value in a slot. */
#define RT_MAX_SLOTS 64
#define RT_NO_SLOT 0xffffu

typedef struct rt_slots {
  const char *names[RT_MAX_SLOTS];
  uint32_t count;
} rt_slots;

typedef struct rt_vs {
  const ml_virtual_service *vs;
  const rt_route *routes;
  size_t route_count;
  uint32_t header_slots;
} rt_vs;

typedef struct rt_vhost {
  const rt_vs *vs;
  const char *fqdn;
} rt_vhost;

struct ml_route_table {
  const ml_mem *mem;
  ml_arena arena;
  rt_hosts vhosts;
  rt_hosts drs;
  size_t vs_used;
  size_t http_routes;
};

/* ---- build helpers --------------------------------------------------- */

static int streq0(const char *a, const char *b) {
  return a && b && strcmp(a, b) == 0;
}

/* gateways: empty means "mesh"; otherwise sidecars apply only when "mesh"
 * is listed. */
static int applies_to_mesh(const ml_str_list *gw) {
  if (!gw->count)
    return 1;
  for (size_t i = 0; i < gw->count; i++)
    if (streq0(gw->items[i], "mesh"))
      return 1;
  return 0;
}

/* exportTo: empty or "*" is everyone, "." the object's own namespace,
 * a name that namespace; "~" nobody. */
static int visible_to(const ml_str_list *export_to, const char *obj_ns,
                      const char *client_ns) {
  if (!export_to->count)
    return 1;
  for (size_t i = 0; i < export_to->count; i++) {
    const char *e = export_to->items[i];
    if (streq0(e, "*") || streq0(e, client_ns) ||
        (streq0(e, ".") && streq0(obj_ns, client_ns)))
      return 1;
  }
  return 0;
}

static uint8_t cond_cost(uint8_t op, uint8_t kind) {
  uint8_t c;
  switch (op) {
  case RT_OP_PORT:
    c = 0;
    break;
  case RT_OP_METHOD:
  case RT_OP_SCHEME:
  case RT_OP_URI:
    c = 1;
    break;
  case RT_OP_AUTHORITY:
  case RT_OP_SRC_NS:
    c = 2;
    break;
  case RT_OP_HEADER:
  case RT_OP_NOT_HEADER:
  case RT_OP_SRC_LABEL:
    c = 3;
    break;
  default:
    c = 4;
    break;
  }
  return kind == ML_MATCH_REGEX ? (uint8_t)(c + 10) : c;
}

/* A PCRE2 call costs tens of nanoseconds even when the first character
 * already fails, and a rule list is mostly misses. So each regex keeps
 * its leading literal text as a rejection test: a full match must start
 * with it. This is a prefilter, not a regex parser: only characters that
 * are literal in every PCRE2 context count, anything else ends the run,
 * a quantifier after the run takes its last character back, and a '|'
 * anywhere disables the test. PCRE2 decides every subject that passes. */
static int regex_plain(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') ||
         (c != '\0' && strchr("/-_:=,@%~!&;<>", c) != NULL);
}

static uint32_t regex_literal_prefix(const char *p, const char **start) {
  *start = p;
  if (!p || strchr(p, '|'))
    return 0;
  if (p[0] == '^') /* redundant in a full match; not a literal */
    *start = ++p;
  size_t i = 0;
  while (regex_plain(p[i]))
    i++;
  if (i && (p[i] == '?' || p[i] == '*' || p[i] == '{'))
    i--;
  return (uint32_t)i;
}

static uint16_t slot_of(rt_slots *sl, const char *name) {
  for (uint32_t i = 0; i < sl->count; i++)
    if (!strcmp(sl->names[i], name))
      return (uint16_t)i;
  if (sl->count == RT_MAX_SLOTS)
    return RT_NO_SLOT;
  sl->names[sl->count] = name;
  return (uint16_t)sl->count++;
}

static int set_cond(ml_arena *a, rt_slots *sl, rt_cond *c, uint8_t op,
                    const ml_string_match *sm, const char *name, int icase) {
  memset(c, 0, sizeof(*c));
  c->slot = RT_NO_SLOT;
  if (op == RT_OP_HEADER || op == RT_OP_NOT_HEADER)
    c->slot = slot_of(sl, name);
  c->op = op;
  c->kind = (uint8_t)sm->kind;
  c->re = sm->re;
  if (name) {
    c->name = name;
    c->name_len = (uint32_t)strlen(name);
  }
  if (sm->kind == ML_MATCH_REGEX)
    c->pre_len = regex_literal_prefix(sm->value, &c->pre);
  if (sm->value &&
      (sm->kind == ML_MATCH_EXACT || sm->kind == ML_MATCH_PREFIX)) {
    if (icase) {
      char *v = ml_arena_strdup_lower(a, sm->value);
      if (!v)
        return -1;
      c->value = v;
      c->icase = 1;
    } else {
      c->value = sm->value;
    }
    c->len = (uint32_t)strlen(sm->value);
  } else {
    c->value = sm->value ? sm->value : "";
  }
  c->cost = cond_cost(op, c->kind);
  return 0;
}

static size_t match_cond_count(const ml_http_match *m) {
  return (m->port != 0) + (m->source_namespace != NULL) +
         m->source_labels.count + (m->method.kind != ML_MATCH_NONE) +
         (m->scheme.kind != ML_MATCH_NONE) + (m->uri.kind != ML_MATCH_NONE) +
         (m->authority.kind != ML_MATCH_NONE) + m->headers.count +
         m->without_headers.count + m->query_params.count;
}

static int compile_match(ml_arena *a, rt_slots *sl, const ml_http_match *m,
                         rt_match *out) {
  size_t n = match_cond_count(m);
  rt_cond *cs = n ? ml_arena_alloc(a, n * sizeof(*cs)) : NULL;
  if (n && !cs)
    return -1;
  size_t k = 0;
  if (m->port) {
    memset(&cs[k], 0, sizeof(cs[k]));
    cs[k].slot = RT_NO_SLOT;
    cs[k].op = RT_OP_PORT;
    cs[k].len = m->port;
    cs[k].cost = cond_cost(RT_OP_PORT, ML_MATCH_EXACT);
    k++;
  }
  if (m->source_namespace) {
    memset(&cs[k], 0, sizeof(cs[k]));
    cs[k].slot = RT_NO_SLOT;
    cs[k].op = RT_OP_SRC_NS;
    cs[k].value = m->source_namespace;
    cs[k].len = (uint32_t)strlen(m->source_namespace);
    cs[k].cost = cond_cost(RT_OP_SRC_NS, ML_MATCH_EXACT);
    k++;
  }
  for (size_t i = 0; i < m->source_labels.count; i++) {
    const ml_kv *kv = &m->source_labels.items[i];
    memset(&cs[k], 0, sizeof(cs[k]));
    cs[k].slot = RT_NO_SLOT;
    cs[k].op = RT_OP_SRC_LABEL;
    cs[k].name = kv->key ? kv->key : "";
    cs[k].value = kv->value ? kv->value : "";
    cs[k].cost = cond_cost(RT_OP_SRC_LABEL, ML_MATCH_EXACT);
    k++;
  }
  struct {
    uint8_t op;
    const ml_string_match *sm;
    int icase;
  } pseudo[] = {
      {RT_OP_METHOD, &m->method, 0},
      {RT_OP_SCHEME, &m->scheme, 0},
      {RT_OP_URI, &m->uri, m->ignore_uri_case},
      {RT_OP_AUTHORITY, &m->authority, 0},
  };
  for (size_t i = 0; i < sizeof(pseudo) / sizeof(pseudo[0]); i++) {
    if (pseudo[i].sm->kind == ML_MATCH_NONE)
      continue;
    if (set_cond(a, sl, &cs[k++], pseudo[i].op, pseudo[i].sm, NULL,
                 pseudo[i].icase))
      return -1;
  }
  const struct {
    uint8_t op;
    const ml_named_match_list *l;
  } named[] = {
      {RT_OP_HEADER, &m->headers},
      {RT_OP_NOT_HEADER, &m->without_headers},
      {RT_OP_QUERY, &m->query_params},
  };
  for (size_t j = 0; j < sizeof(named) / sizeof(named[0]); j++) {
    for (size_t i = 0; i < named[j].l->count; i++) {
      const ml_named_match *nm = &named[j].l->items[i];
      const char *name = nm->name ? nm->name : "";
      if (named[j].op != RT_OP_QUERY) {
        /* Header names are case-insensitive; inputs are lower-case. */
        name = ml_arena_strdup_lower(a, name);
        if (!name)
          return -1;
      }
      if (set_cond(a, sl, &cs[k++], named[j].op, &nm->match, name, 0))
        return -1;
    }
  }
  /* Stable insertion sort by cost: AND does not care about order. */
  for (size_t i = 1; i < k; i++) {
    rt_cond c = cs[i];
    size_t j = i;
    while (j > 0 && cs[j - 1].cost > c.cost) {
      cs[j] = cs[j - 1];
      j--;
    }
    cs[j] = c;
  }
  out->conds = cs;
  out->count = (uint32_t)k;
  return 0;
}

static int compile_vs(ml_arena *a, const ml_virtual_service *vs, rt_vs *out,
                      size_t *nroutes) {
  rt_route *rs = vs->http_count
                     ? ml_arena_alloc(a, vs->http_count * sizeof(*rs))
                     : NULL;
  if (vs->http_count && !rs)
    return -1;
  size_t n = 0;
  rt_slots sl;
  sl.count = 0;
  for (size_t i = 0; i < vs->http_count; i++) {
    const ml_http_route *r = &vs->http[i];
    rt_route *cr = &rs[n];
    cr->route = r;
    cr->index = (int32_t)i;
    cr->match_count = 0;
    cr->matches = NULL;
    if (r->match_count) {
      rt_match *ms = ml_arena_alloc(a, r->match_count * sizeof(*ms));
      if (!ms)
        return -1;
      uint32_t nm = 0;
      for (size_t j = 0; j < r->match_count; j++) {
        /* A match bound to gateways other than mesh is not the
         * sidecar's (istiod drops it when building sidecar routes). */
        if (!applies_to_mesh(&r->matches[j].gateways))
          continue;
        if (compile_match(a, &sl, &r->matches[j], &ms[nm]))
          return -1;
        nm++;
      }
      /* Every match was for gateways only: the rule never applies. */
      if (!nm)
        continue;
      cr->matches = ms;
      cr->match_count = nm;
    }
    n++;
  }
  out->vs = vs;
  out->routes = rs;
  out->route_count = n;
  out->header_slots = sl.count;
  *nroutes += n;
  return 0;
}

/* ---- DestinationRule views ------------------------------------------- */

typedef struct rt_dr_group {
  const char *host; /* lower-case, as the index stores it */
  size_t head;      /* first DR index; DRs chained through next[] */
  size_t tail;
} rt_dr_group;

/* The namespace part of "name.ns.svc.<suffix>", as a slice. */
static int host_namespace(const char *fqdn, const char *suffix,
                          const char **ns, size_t *ns_len) {
  size_t name_len, ns_end, svc_end;
  if (!k8s_split(fqdn, suffix, &name_len, &ns_end, &svc_end))
    return 0;
  *ns = fqdn + name_len + 1;
  *ns_len = ns_end - name_len - 1;
  return 1;
}

static int ns_is(const char *ns, const char *want, size_t want_len) {
  return ns && want && strlen(ns) == want_len && !memcmp(ns, want, want_len);
}

/* Istio looks DestinationRules up by namespace: the client's, then the
 * service's, then the root namespace; DRs of one namespace merge, several
 * namespaces do not. Others (not reachable that way in Istio) come last,
 * the namespace of the first in load order. */
static const char *pick_namespace(const ml_config *c, const size_t *next,
                                  const rt_dr_group *g,
                                  const ml_route_settings *s,
                                  const char *suffix, size_t *len_out) {
  const char *cands[3] = {s->client_namespace, NULL, RT_ROOT_NAMESPACE};
  size_t lens[3] = {s->client_namespace ? strlen(s->client_namespace) : 0, 0,
                    strlen(RT_ROOT_NAMESPACE)};
  host_namespace(g->host, suffix, &cands[1], &lens[1]);
  for (size_t k = 0; k < 3; k++) {
    if (!cands[k])
      continue;
    for (size_t i = g->head; i != SIZE_MAX; i = next[i])
      if (ns_is(c->destination_rules[i]->meta.namespace_, cands[k],
                lens[k])) {
        *len_out = lens[k];
        return cands[k];
      }
  }
  const char *ns = c->destination_rules[g->head]->meta.namespace_;
  *len_out = ns ? strlen(ns) : 0;
  return ns;
}

static ml_dr_view *build_view(ml_arena *a, const ml_config *c,
                              const size_t *next, const rt_dr_group *g,
                              const ml_route_settings *s,
                              const char *suffix) {
  size_t ns_len;
  const char *ns = pick_namespace(c, next, g, s, suffix, &ns_len);
  size_t nsub = 0;
  for (size_t i = g->head; i != SIZE_MAX; i = next[i])
    if (ns_is(c->destination_rules[i]->meta.namespace_, ns, ns_len))
      nsub += c->destination_rules[i]->subset_count;
  ml_dr_view *v = ml_arena_alloc(a, sizeof(*v));
  const ml_subset **subs =
      nsub ? ml_arena_alloc(a, nsub * sizeof(*subs)) : NULL;
  if (!v || (nsub && !subs))
    return NULL;
  v->host_fqdn = g->host;
  v->subsets = subs;
  for (size_t i = g->head; i != SIZE_MAX; i = next[i]) {
    const ml_destination_rule *dr = c->destination_rules[i];
    if (!ns_is(dr->meta.namespace_, ns, ns_len))
      continue;
    if (!v->first)
      v->first = dr;
    if (!v->traffic_policy)
      v->traffic_policy = dr->traffic_policy;
    for (size_t j = 0; j < dr->subset_count; j++) {
      const ml_subset *sub = &dr->subsets[j];
      size_t k = 0;
      while (k < v->subset_count && !streq0(subs[k]->name, sub->name))
        k++;
      if (k == v->subset_count) /* the first definition wins */
        subs[v->subset_count++] = sub;
    }
  }
  return v;
}

static int build_drs(ml_route_table *t, const ml_config *c,
                     const ml_route_settings *s, const char *suffix) {
  size_t n = c->dr_count;
  if (!n)
    return 0;
  int rc = -1;
  size_t *next = ml_malloc(t->mem, n * sizeof(*next));
  rt_dr_group *groups = ml_malloc(t->mem, n * sizeof(*groups));
  rt_map tmp = {0};
  ml_arena scratch;
  ml_arena_init(&scratch, t->mem);
  if (!next || !groups || map_init(&scratch, &tmp, n))
    goto out;
  size_t ng = 0, nexact = 0, nwild = 0;
  for (size_t i = 0; i < n; i++) {
    const ml_destination_rule *dr = c->destination_rules[i];
    next[i] = SIZE_MAX;
    /* A DR with a workloadSelector applies to the selected workloads'
     * own traffic; as a client-side library we leave it out rather than
     * guess whether this process is one of them. */
    if (!dr->host_fqdn || dr->workload_selector.count ||
        !visible_to(&dr->export_to, dr->meta.namespace_,
                    s->client_namespace))
      continue;
    size_t hl = strlen(dr->host_fqdn);
    const rt_key *k = map_find(&tmp, rt_hash(dr->host_fqdn, hl),
                               dr->host_fqdn, hl);
    if (k) {
      rt_dr_group *g = &groups[(size_t)(uintptr_t)k->val];
      next[g->tail] = i;
      g->tail = i;
      continue;
    }
    char *host = ml_arena_strdup_lower(&t->arena, dr->host_fqdn);
    if (!host)
      goto out;
    groups[ng] = (rt_dr_group){host, i, i};
    map_insert(&tmp, host, hl, (const void *)(uintptr_t)ng);
    ng++;
    if (is_wildcard(host))
      nwild++;
    else
      nexact++;
  }
  if (map_init(&t->arena, &t->drs.exact, nexact) ||
      map_init(&t->arena, &t->drs.wild, nwild))
    goto out;
  for (size_t i = 0; i < ng; i++) {
    ml_dr_view *v = build_view(&t->arena, c, next, &groups[i], s, suffix);
    if (!v)
      goto out;
    if (is_wildcard(groups[i].host))
      hosts_add_wild(&t->drs, groups[i].host, v);
    else
      map_insert(&t->drs.exact, groups[i].host, strlen(groups[i].host), v);
  }
  rc = 0;
out:
  ml_arena_release(&scratch);
  ml_free(t->mem, next);
  ml_free(t->mem, groups);
  return rc;
}

/* ---- VirtualService index -------------------------------------------- */

static int build_vhosts(ml_route_table *t, const ml_config *c,
                        const ml_route_settings *s, const char *suffix) {
  size_t nexact = 0, nwild = 0, nvh = 0;
  for (size_t i = 0; i < c->vs_count; i++) {
    const ml_virtual_service *vs = c->virtual_services[i];
    for (size_t j = 0; vs->host_fqdns && j < vs->hosts.count; j++) {
      if (!vs->host_fqdns[j])
        continue;
      nvh++;
      if (is_wildcard(vs->host_fqdns[j]))
        nwild++;
      else
        nexact += 5;
    }
  }
  if (map_init(&t->arena, &t->vhosts.exact, nexact) ||
      map_init(&t->arena, &t->vhosts.wild, nwild))
    return -1;
  if (!nvh)
    return 0;
  rt_vhost *vhs = ml_arena_alloc(&t->arena, nvh * sizeof(*vhs));
  /* The stored "fqdn." string per vhost, to add alternative forms in a
   * second pass; NULL for wildcards and skipped hosts. */
  char **keys = ml_malloc(t->mem, nvh * sizeof(*keys));
  int rc = -1;
  if (!vhs || !keys)
    goto out;
  size_t v = 0;
  /* Pass 1: the FQDNs, so that an explicit host always beats another
   * service's short form. The first VirtualService loaded wins a host:
   * Istio does not merge them for sidecars. */
  for (size_t i = 0; i < c->vs_count; i++) {
    const ml_virtual_service *vs = c->virtual_services[i];
    if (!vs->host_fqdns || !vs->hosts.count)
      continue;
    if (!applies_to_mesh(&vs->gateways) ||
        !visible_to(&vs->export_to, vs->meta.namespace_,
                    s->client_namespace))
      continue;
    rt_vs *cvs = ml_arena_alloc(&t->arena, sizeof(*cvs));
    if (!cvs || compile_vs(&t->arena, vs, cvs, &t->http_routes))
      goto out;
    t->vs_used++;
    for (size_t j = 0; j < vs->hosts.count; j++) {
      if (!vs->host_fqdns[j])
        continue;
      size_t hl = strlen(vs->host_fqdns[j]);
      char *key = ml_arena_alloc(&t->arena, hl + 2);
      if (!key)
        goto out;
      for (size_t b = 0; b < hl; b++)
        key[b] = ml_tolower(vs->host_fqdns[j][b]);
      /* The result names the host as the model wrote it when that is
       * lower-case already, else a lower-case copy. */
      const char *fq = vs->host_fqdns[j];
      for (size_t b = 0; b < hl; b++)
        if (fq[b] != key[b]) {
          fq = ml_arena_strndup(&t->arena, key, hl);
          if (!fq)
            goto out;
          break;
        }
      vhs[v] = (rt_vhost){cvs, fq};
      keys[v] = NULL;
      if (is_wildcard(key)) {
        key[hl] = '\0';
        hosts_add_wild(&t->vhosts, key, &vhs[v]);
      } else {
        key[hl] = '.';
        key[hl + 1] = '\0';
        map_insert(&t->vhosts.exact, key, hl, &vhs[v]);
        map_insert(&t->vhosts.exact, key, hl + 1, &vhs[v]);
        keys[v] = key;
      }
      v++;
    }
  }
  /* Pass 2: what the sidecar also accepts for a Kubernetes service:
   * name.ns.svc and name.ns, and name for the client's own namespace. */
  for (size_t i = 0; i < v; i++) {
    if (!keys[i])
      continue;
    size_t name_len, ns_end, svc_end;
    int k8s = k8s_split(vhs[i].fqdn, suffix, &name_len, &ns_end, &svc_end);
    if (!k8s)
      continue;
    map_insert(&t->vhosts.exact, keys[i], svc_end, &vhs[i]);
    map_insert(&t->vhosts.exact, keys[i], ns_end, &vhs[i]);
    if (s->client_namespace &&
        strlen(s->client_namespace) == ns_end - name_len - 1 &&
        !memcmp(keys[i] + name_len + 1, s->client_namespace,
                ns_end - name_len - 1))
      map_insert(&t->vhosts.exact, keys[i], name_len, &vhs[i]);
  }
  rc = 0;
out:
  ml_free(t->mem, keys);
  return rc;
}

/* ---- public ---------------------------------------------------------- */

int ml_route_table_build(const ml_mem *mem, const ml_config *c,
                         const ml_route_settings *s, ml_route_table **out) {
  if (!out)
    return MESHLIB_ERR_INVALID_ARG;
  *out = NULL;
  if (!c)
    return MESHLIB_ERR_INVALID_ARG;
  ml_route_settings defaults = {"default", RT_DEFAULT_SUFFIX};
  if (!s)
    s = &defaults;
  const char *suffix = s->domain_suffix ? s->domain_suffix : RT_DEFAULT_SUFFIX;
  ml_route_table *t = ml_calloc(mem, 1, sizeof(*t));
  if (!t)
    return MESHLIB_ERR_NOMEM;
  t->mem = mem;
  ml_arena_init(&t->arena, mem);
  if (build_vhosts(t, c, s, suffix) || build_drs(t, c, s, suffix)) {
    ml_route_table_free(t);
    return MESHLIB_ERR_NOMEM;
  }
  *out = t;
  return MESHLIB_OK;
}

void ml_route_table_free(ml_route_table *t) {
  if (!t)
    return;
  ml_arena_release(&t->arena);
  ml_free(t->mem, t);
}

size_t ml_route_table_bytes(const ml_route_table *t) {
  return t ? sizeof(*t) + t->arena.reserved : 0;
}

/* ---- deciding -------------------------------------------------------- */

typedef struct rt_req {
  const ml_route_input *in;
  size_t path_len;
  size_t query_len;
  size_t method_len;
  size_t scheme_len;
  size_t authority_len;
  /* Header cache by slot: 0 not looked up, 1 absent, 2 present. */
  uint8_t hstate[RT_MAX_SLOTS];
  const char *hval[RT_MAX_SLOTS];
  size_t hlen[RT_MAX_SLOTS];
} rt_req;

/* Short compares dominate and mostly fail within a few bytes: a plain
 * loop beats a call into libc's vectorised memcmp here. */
static inline int rt_memeq(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i])
      return 0;
  return 1;
}

static int sm_match(const rt_cond *c, const char *s, size_t n) {
  switch (c->kind) {
  case ML_MATCH_EXACT:
    if (n != c->len)
      return 0;
    return c->icase ? rt_caseeq(s, c->value, n) : rt_memeq(s, c->value, n);
  case ML_MATCH_PREFIX:
    if (n < c->len)
      return 0;
    return c->icase ? rt_caseeq(s, c->value, c->len)
                    : rt_memeq(s, c->value, c->len);
  case ML_MATCH_REGEX:
    if (n < c->pre_len || !rt_memeq(s, c->pre, c->pre_len))
      return 0;
    return c->re && ml_regex_match(c->re, s, n);
  default: /* PRESENT, or an empty StringMatch: existence is enough */
    return 1;
  }
}

/* The value of header c->name, NULL when absent; several values for one
 * name: the first occurrence decides. */
static const char *find_header(rt_req *r, const rt_cond *c, size_t *len) {
  uint16_t slot = c->slot;
  if (slot != RT_NO_SLOT && r->hstate[slot]) {
    *len = r->hlen[slot];
    return r->hstate[slot] == 2 ? r->hval[slot] : NULL;
  }
  const ml_route_input *in = r->in;
  const char *v = NULL;
  for (size_t i = 0; i < in->header_count; i++) {
    const char *h = in->headers[i].name;
    if (h && h[0] == c->name[0] && !strcmp(h, c->name)) {
      v = in->headers[i].value ? in->headers[i].value : "";
      break;
    }
  }
  *len = v ? strlen(v) : 0;
  if (slot != RT_NO_SLOT) {
    r->hstate[slot] = v ? 2 : 1;
    r->hval[slot] = v;
    r->hlen[slot] = *len;
  }
  return v;
}

/* The first "name[=value]" pair of the raw query, compared in place. The
 * value is not percent-decoded: Envoy matches the raw text. */
static int find_query(const char *q, size_t qn, const char *name, size_t nl,
                      const char **v, size_t *vn) {
  const char *p = q, *end = q + qn;
  while (p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *seg_end = amp ? amp : end;
    const char *eq = memchr(p, '=', (size_t)(seg_end - p));
    const char *key_end = eq ? eq : seg_end;
    if ((size_t)(key_end - p) == nl && rt_memeq(p, name, nl)) {
      *v = eq ? eq + 1 : seg_end;
      *vn = (size_t)(seg_end - *v);
      return 1;
    }
    p = seg_end + 1;
  }
  return 0;
}

static int cond_match(const rt_cond *c, rt_req *r) {
  const ml_route_input *in = r->in;
  switch (c->op) {
  case RT_OP_PORT:
    return in->port == c->len;
  case RT_OP_SRC_NS:
    return streq0(in->source_namespace, c->value);
  case RT_OP_SRC_LABEL:
    for (size_t i = 0; i < in->source_label_count; i++)
      if (streq0(in->source_labels[i].key, c->name))
        return streq0(in->source_labels[i].value, c->value);
    return 0;
  case RT_OP_METHOD:
    return sm_match(c, in->method ? in->method : "", r->method_len);
  case RT_OP_SCHEME:
    return sm_match(c, in->scheme ? in->scheme : "", r->scheme_len);
  case RT_OP_URI:
    return sm_match(c, in->path ? in->path : "", r->path_len);
  case RT_OP_AUTHORITY:
    return sm_match(c, in->authority ? in->authority : "", r->authority_len);
  case RT_OP_HEADER: {
    size_t n;
    const char *v = find_header(r, c, &n);
    return v && sm_match(c, v, n);
  }
  case RT_OP_NOT_HEADER: {
    size_t n;
    const char *v = find_header(r, c, &n);
    if (c->kind == ML_MATCH_PRESENT || c->kind == ML_MATCH_NONE)
      return v == NULL;
    /* Envoy's treat_missing_header_as_empty, as istiod sets it. */
    return !sm_match(c, v ? v : "", n);
  }
  case RT_OP_QUERY: {
    const char *v;
    size_t vn;
    if (!in->query ||
        !find_query(in->query, r->query_len, c->name, c->name_len, &v, &vn))
      return 0;
    return sm_match(c, v, vn);
  }
  default:
    return 0;
  }
}

static int match_ok(const rt_match *m, rt_req *r) {
  for (uint32_t i = 0; i < m->count; i++)
    if (!cond_match(&m->conds[i], r))
      return 0;
  return 1;
}

static int route_ok(const rt_route *rt, rt_req *r) {
  if (!rt->match_count)
    return 1;
  for (uint32_t i = 0; i < rt->match_count; i++)
    if (match_ok(&rt->matches[i], r))
      return 1;
  return 0;
}

int ml_route_decide(const ml_route_table *t, const ml_route_input *in,
                    ml_route_result *out) {
  if (!out)
    return MESHLIB_ERR_INVALID_ARG;
  out->vs = NULL;
  out->route = NULL;
  out->route_index = -1;
  out->host_fqdn = NULL;
  out->flags = 0;
  if (!t || !in)
    return MESHLIB_ERR_INVALID_ARG;
  if (!in->host)
    return MESHLIB_OK;
  const rt_vhost *vh = hosts_find(&t->vhosts, in->host, strlen(in->host));
  if (!vh)
    return MESHLIB_OK;
  out->vs = vh->vs->vs;
  out->host_fqdn = vh->fqdn;
  const rt_vs *vs = vh->vs;
  rt_req r;
  r.in = in;
  r.path_len = in->path ? strlen(in->path) : 0;
  r.query_len = in->query ? strlen(in->query) : 0;
  r.method_len = in->method ? strlen(in->method) : 0;
  r.scheme_len = in->scheme ? strlen(in->scheme) : 0;
  r.authority_len = in->authority ? strlen(in->authority) : 0;
  memset(r.hstate, 0, vs->header_slots);
  for (size_t i = 0; i < vs->route_count; i++) {
    if (route_ok(&vs->routes[i], &r)) {
      out->route = vs->routes[i].route;
      out->route_index = vs->routes[i].index;
      return MESHLIB_OK;
    }
  }
  out->flags = MESHLIB_RF_NR;
  return MESHLIB_OK;
}

const ml_dr_view *ml_route_table_find_dr(const ml_route_table *t,
                                         const char *fqdn) {
  if (!t || !fqdn)
    return NULL;
  return hosts_find(&t->drs, fqdn, strlen(fqdn));
}

const ml_subset *ml_dr_view_subset(const ml_dr_view *v, const char *name) {
  if (!v || !name)
    return NULL;
  for (size_t i = 0; i < v->subset_count; i++)
    if (streq0(v->subsets[i]->name, name))
      return v->subsets[i];
  return NULL;
}
