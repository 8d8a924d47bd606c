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
#include "util/regex.h"
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
  rt_map wild;        /* "*.example.com" stored as "example.com" */
  const void *any;    /* the host "*" */
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

/* A VirtualService compiles into one flat array of conditions, so that a
 * decision is a single forward loop with no nesting. The conditions of a
 * match are ANDed and stored cheapest first (a failing literal compare
 * skips the regexes); the matches follow each other in rule order, the
 * matches of one rule ORed. A condition that fails jumps to the end of its
 * match (the next match); the last condition of a match, when it holds,
 * picks the match's rule. */

enum {
  RT_OP_TRUE, /* a match with no condition left, or a rule with none */
  /* The filters: what istiod decides per sidecar and listener port when
   * it builds the routes. A match they reject does not exist for the
   * request; they come first in their match. */
  RT_OP_PORT,
  RT_OP_SRC_NS,
  RT_OP_SRC_LABEL,
  RT_OP_VALUE,      /* a request field or a header; the header must exist */
  RT_OP_NOT_HEADER, /* withoutHeaders */
  RT_OP_QUERY,
  RT_OP_FALSE /* a match that exists but can never hold (a JWT claim) */
};

static inline int is_filter(uint8_t op) {
  return op >= RT_OP_PORT && op <= RT_OP_SRC_LABEL;
}

/* How a value is compared. Case-insensitive uri matches (ignoreUriCase)
 * are kinds of their own so that the common kinds test no flag. */
enum {
  RT_K_PRESENT, /* existence is enough */
  RT_K_EXACT,
  RT_K_PREFIX,
  RT_K_REGEX,
  RT_K_EXACT_ICASE,
  RT_K_PREFIX_ICASE
};

/* Value slots of a decision: the request fields first, then one per
 * distinct header name of the VirtualService, so that a rule list which
 * tests the same few headers again and again looks each up once. A
 * decision marks the slots it has filled in a 64-bit mask. Header names
 * beyond the last slot share the scratch slot, which is never marked and
 * so is looked up afresh each time. */
enum {
  RT_SLOT_METHOD,
  RT_SLOT_SCHEME,
  RT_SLOT_URI,
  RT_SLOT_AUTHORITY,
  RT_SLOT_HEADER0,
  RT_SLOT_SCRATCH = 63,
  RT_SLOTS
};

/* Most compares fail within the first bytes. So the first 8 bytes of a
 * value (zero-padded) are kept as a word, and the request's values get the
 * same word once per decision: a compare is then one AND and one compare,
 * and only values longer than 8 bytes look at the rest. Words are loaded
 * with memcpy on both sides, so byte order does not matter. */
typedef struct rt_cond {
  uint64_t head;     /* first 8 bytes of value, zero-padded */
  uint64_t mask;     /* 0xff for each of those bytes that counts */
  const char *value; /* exact text, prefix, or a regex's literal start;
                        lower-case for the ICASE kinds */
  const ml_regex *re;
  const char *name; /* header, query parameter or label name */
  uint32_t len;     /* of value; the port for RT_OP_PORT */
  uint32_t name_len;
  uint32_t next; /* where to go when this fails: the next match */
  int32_t pick;  /* the rule (index in vs->http) picked when this
                    holds and is its match's last condition; else -1 */
  int32_t match; /* the match's index in the rule's matches; -1 for a
                    rule without any */
  uint8_t slot;  /* RT_OP_VALUE, RT_OP_NOT_HEADER */
  uint8_t op;
  uint8_t kind;
  uint8_t cost; /* sort key within a match */
} rt_cond;

typedef struct rt_vs {
  const ml_virtual_service *vs;
  const rt_cond *conds;
  uint32_t cond_count;
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

/* Relative costs: the filters first whatever they cost (a decision
 * must know whether a match exists before it fails on a request value),
 * then a request field (measured once per decision), a header (one lookup
 * per decision and name), then query parameters (a scan each time); a
 * regex after every literal compare. */
enum {
  RT_COST_PORT,
  RT_COST_SOURCE,
  RT_COST_FIELD,
  RT_COST_HEADER,
  RT_COST_SCAN,
  RT_COST_REGEX = 10
};

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

/* The first min(n, 8) bytes of |s| as a word, zero-padded. */
static inline uint64_t head_word(const char *s, size_t n) {
  uint64_t w = 0;
  memcpy(&w, s, n < 8 ? n : 8);
  return w;
}

typedef struct rt_slots {
  const char *names[RT_SLOT_SCRATCH - RT_SLOT_HEADER0];
  uint32_t count;
} rt_slots;

static uint8_t slot_of(rt_slots *sl, const char *name) {
  for (uint32_t i = 0; i < sl->count; i++)
    if (!strcmp(sl->names[i], name))
      return (uint8_t)(RT_SLOT_HEADER0 + i);
  if (sl->count == sizeof(sl->names) / sizeof(sl->names[0]))
    return RT_SLOT_SCRATCH;
  sl->names[sl->count] = name;
  return (uint8_t)(RT_SLOT_HEADER0 + sl->count++);
}

/* Sets the compare of |c| from |sm|; |cost| is the subject's. */
static int set_compare(ml_arena *a, rt_cond *c, const ml_string_match *sm,
                       int icase, uint8_t cost) {
  const char *v = sm->value ? sm->value : "";
  c->cost = cost;
  switch (sm->kind) {
  case ML_MATCH_EXACT:
  case ML_MATCH_PREFIX:
    c->kind = sm->kind == ML_MATCH_EXACT ? RT_K_EXACT : RT_K_PREFIX;
    if (icase) {
      c->kind = c->kind == RT_K_EXACT ? RT_K_EXACT_ICASE : RT_K_PREFIX_ICASE;
      v = ml_arena_strdup_lower(a, v);
      if (!v)
        return -1;
    }
    c->value = v;
    c->len = (uint32_t)strlen(v);
    break;
  case ML_MATCH_REGEX:
    c->kind = RT_K_REGEX;
    c->re = sm->re;
    c->len = regex_literal_prefix(v, &c->value);
    c->cost = (uint8_t)(cost + RT_COST_REGEX);
    break;
  default: /* PRESENT, or an empty StringMatch: existence is enough */
    c->kind = RT_K_PRESENT;
    break;
  }
  /* The ICASE and PRESENT kinds keep a zero mask: every value passes the
   * word test, and val_match() decides. */
  if (c->kind == RT_K_EXACT || c->kind == RT_K_PREFIX ||
      c->kind == RT_K_REGEX) {
    c->head = head_word(c->value, c->len);
    memset(&c->mask, 0xff, c->len < 8 ? c->len : 8);
  }
  return 0;
}

/* Istio's special keys in headers/withoutHeaders. A key
 * "@request.auth.claims.<claim>" matches a JWT claim, which an outbound
 * call never carries: as a header condition it never holds, negated it
 * always holds. The keys "uri", "scheme", "method" and "authority", which
 * the API says are ignored, are plain header names to istiod (its
 * TranslateRouteMatch gives them an Envoy header matcher like any other):
 * so here too. */
enum { RT_KEY_HEADER, RT_KEY_CLAIM };

static int header_key(const char *name) {
  static const char claims[] = "@request.auth.claims.";
  if (!strncmp(name, claims, sizeof(claims) - 1))
    return RT_KEY_CLAIM;
  return RT_KEY_HEADER;
}

/* At most the conditions a match can produce: one each, or the one
 * RT_OP_TRUE of a match without any (or with only ignored keys). */
static size_t match_cond_bound(const ml_http_match *m) {
  size_t n =
      (m->port != 0) + (m->source_namespace != NULL) + m->source_labels.count +
      (m->method.kind != ML_MATCH_NONE) + (m->scheme.kind != ML_MATCH_NONE) +
      (m->uri.kind != ML_MATCH_NONE) + (m->authority.kind != ML_MATCH_NONE) +
      m->headers.count + m->without_headers.count + m->query_params.count;
  return n ? n : 1;
}

/* Writes the conditions of |m| at |cs| (room for match_cond_bound()),
 * the filters first, then cheapest first. Returns how many (at least
 * one), -1 when out of memory. */
static int compile_match(ml_arena *a, rt_slots *sl, const ml_http_match *m,
                         rt_cond *cs) {
  memset(cs, 0, match_cond_bound(m) * sizeof(*cs));
  size_t k = 0;
  if (m->port) {
    cs[k].op = RT_OP_PORT;
    cs[k].len = m->port;
    cs[k++].cost = RT_COST_PORT;
  }
  /* istiod's sourceMatchHTTP: a match that lists gateways (here, one of
   * them is "mesh") holds for every sidecar, whatever its sourceLabels
   * and sourceNamespace say. */
  if (!m->gateways.count) {
    if (m->source_namespace) {
      cs[k].op = RT_OP_SRC_NS;
      cs[k].value = m->source_namespace;
      cs[k++].cost = RT_COST_SOURCE;
    }
    for (size_t i = 0; i < m->source_labels.count; i++) {
      const ml_kv *kv = &m->source_labels.items[i];
      cs[k].op = RT_OP_SRC_LABEL;
      cs[k].name = kv->key ? kv->key : "";
      cs[k].value = kv->value ? kv->value : "";
      cs[k++].cost = RT_COST_SOURCE;
    }
  }
  const size_t nfilters = k;
  const struct {
    uint8_t slot;
    uint8_t cost;
    const ml_string_match *sm;
    int icase;
  } fields[] = {
      {RT_SLOT_METHOD, RT_COST_FIELD, &m->method, 0},
      {RT_SLOT_SCHEME, RT_COST_FIELD, &m->scheme, 0},
      {RT_SLOT_URI, RT_COST_FIELD, &m->uri, m->ignore_uri_case},
      {RT_SLOT_AUTHORITY, RT_COST_FIELD, &m->authority, 0},
  };
  for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
    if (fields[i].sm->kind == ML_MATCH_NONE)
      continue;
    cs[k].op = RT_OP_VALUE;
    cs[k].slot = fields[i].slot;
    if (set_compare(a, &cs[k++], fields[i].sm, fields[i].icase, fields[i].cost))
      return -1;
  }
  const struct {
    uint8_t op;
    const ml_named_match_list *l;
  } named[] = {
      {RT_OP_VALUE, &m->headers},
      {RT_OP_NOT_HEADER, &m->without_headers},
      {RT_OP_QUERY, &m->query_params},
  };
  for (size_t j = 0; j < sizeof(named) / sizeof(named[0]); j++) {
    for (size_t i = 0; i < named[j].l->count; i++) {
      const ml_named_match *nm = &named[j].l->items[i];
      const char *name = nm->name ? nm->name : "";
      uint8_t cost = RT_COST_SCAN;
      if (named[j].op != RT_OP_QUERY) {
        /* Header names are lower-case in the model and in the input. */
        int key = header_key(name);
        if (key == RT_KEY_CLAIM && named[j].op == RT_OP_VALUE) {
          /* Still a route for the sidecar (its filters hold), one that
           * never matches. */
          memset(&cs[nfilters], 0, sizeof(*cs));
          cs[nfilters].op = RT_OP_FALSE;
          cs[nfilters].cost = RT_COST_FIELD;
          return (int)nfilters + 1;
        }
        if (key != RT_KEY_HEADER) /* a negated claim always holds */
          continue;
        cs[k].slot = slot_of(sl, name);
        cost = RT_COST_HEADER;
      }
      cs[k].op = named[j].op;
      cs[k].name = name;
      cs[k].name_len = (uint32_t)strlen(name);
      if (set_compare(a, &cs[k++], &nm->match, 0, cost))
        return -1;
    }
  }
  if (!k) /* every request matches */
    cs[k++].op = RT_OP_TRUE;
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
  return (int)k;
}

static int compile_vs(ml_arena *a, const ml_virtual_service *vs, rt_vs *out,
                      size_t *nroutes) {
  size_t bound = 0;
  for (size_t i = 0; i < vs->http_count; i++) {
    const ml_http_route *r = &vs->http[i];
    bound += r->match_count ? 0 : 1;
    for (size_t j = 0; j < r->match_count; j++)
      bound += match_cond_bound(&r->matches[j]);
  }
  rt_cond *cs = bound ? ml_arena_alloc(a, bound * sizeof(*cs)) : NULL;
  if (bound && !cs)
    return -1;
  size_t k = 0, used = 0;
  rt_slots sl;
  sl.count = 0;
  for (size_t i = 0; i < vs->http_count; i++) {
    const ml_http_route *r = &vs->http[i];
    size_t rule_start = k;
    if (!r->match_count) { /* no match: every request */
      cs[k] = (rt_cond){.op = RT_OP_TRUE};
      cs[k].next = (uint32_t)(k + 1);
      cs[k].match = -1;
      cs[k++].pick = (int32_t)i;
    }
    for (size_t j = 0; j < r->match_count; j++) {
      /* A match bound to gateways other than mesh is not the
       * sidecar's (istiod drops it when building sidecar routes). */
      if (!applies_to_mesh(&r->matches[j].gateways))
        continue;
      int n = compile_match(a, &sl, &r->matches[j], &cs[k]);
      if (n < 0)
        return -1;
      size_t end = k + (size_t)n;
      for (; k < end; k++) {
        cs[k].next = (uint32_t)end;
        cs[k].pick = k + 1 == end ? (int32_t)i : -1;
        cs[k].match = (int32_t)j;
      }
    }
    /* A rule whose matches are all bound to gateways never applies. */
    if (k > rule_start)
      used++;
  }
  out->vs = vs;
  out->conds = cs;
  out->cond_count = (uint32_t)k;
  *nroutes += used;
  return 0;
}

/* ---- DestinationRule views ------------------------------------------- */

typedef struct rt_dr_group {
  const char *host; /* lower-case, as the index stores it */
  size_t head;      /* first DR index; DRs chained through next[] */
  size_t tail;
} rt_dr_group;

/* The namespace part of "name.ns.svc.<suffix>", as a slice. */
static int host_namespace(const char *fqdn, const char *suffix, const char **ns,
                          size_t *ns_len) {
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
      if (ns_is(c->destination_rules[i]->meta.namespace_, cands[k], lens[k])) {
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
                              const ml_route_settings *s, const char *suffix) {
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
        !visible_to(&dr->export_to, dr->meta.namespace_, s->client_namespace))
      continue;
    size_t hl = strlen(dr->host_fqdn);
    const rt_key *k =
        map_find(&tmp, rt_hash(dr->host_fqdn, hl), dr->host_fqdn, hl);
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
        !visible_to(&vs->export_to, vs->meta.namespace_, s->client_namespace))
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

/* A request value as the conditions compare it. */
typedef struct rt_val {
  const char *s;
  uint64_t head; /* head_word(s, len) */
  uint32_t len;
  uint32_t present; /* 0: a header the request does not carry ("") */
} rt_val;

/* Room for the values of repeated headers, joined. */
#define RT_JOIN_ROOM 2048

typedef struct rt_req {
  const ml_route_input *in;
  uint64_t loaded; /* bit per filled slot of vals */
  uint32_t join_used;
  rt_val vals[RT_SLOTS];
  char join[RT_JOIN_ROOM];
} rt_req;

/* Short compares dominate and mostly fail within a few bytes: a plain
 * loop beats a call into libc's vectorised memcmp here. */
static inline int rt_memeq(const char *a, const char *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (a[i] != b[i])
      return 0;
  return 1;
}

/* Header names mostly differ early ("x-tenant", "x-user"): inline, like
 * rt_memeq. */
static void set_val(rt_val *v, const char *s, int present) {
  size_t n = strlen(s);
  v->s = s;
  v->len = (uint32_t)n;
  v->head = head_word(s, n);
  v->present = (uint32_t)present;
}

static inline int name_is(const ml_header *h, char first, const char *name) {
  return h->name && (char)(h->name[0] | 0x20) == first &&
         ml_strcaseeq(h->name, name);
}

/* The value of header |name| as Envoy's header matchers see it: a header
 * sent several times is one value, the values joined by ',' in order
 * (Envoy's fix of CVE-2020-25017). NULL when absent. The joined text
 * goes to r->join; a |keep| value stays there for the decision, another
 * (the scratch slot's) is overwritten by the next one. Values too long
 * to join there leave the first one alone. */
static const char *header_value(rt_req *r, const char *name, int keep) {
  const ml_header *h = r->in->headers;
  size_t n = r->in->header_count, i = 0;
  /* Names are letters, digits and '-': the first byte, folded, rules out
   * most fields before the comparison. */
  char first = (char)(name[0] | 0x20);
  while (i < n && !name_is(&h[i], first, name))
    i++;
  if (i == n)
    return NULL;
  const char *v0 = h[i].value ? h[i].value : "";
  size_t j = i + 1;
  while (j < n && !name_is(&h[j], first, name))
    j++;
  if (j == n)
    return v0;
  char *out = r->join + r->join_used;
  size_t room = RT_JOIN_ROOM - r->join_used, len = strlen(v0);
  if (len >= room)
    return v0;
  memcpy(out, v0, len);
  for (; j < n; j++) {
    if (!name_is(&h[j], first, name))
      continue;
    const char *v = h[j].value ? h[j].value : "";
    size_t vl = strlen(v);
    if (len + 1 + vl >= room)
      return v0;
    out[len++] = ',';
    memcpy(out + len, v, vl);
    len += vl;
  }
  out[len] = '\0';
  if (keep)
    r->join_used += (uint32_t)len + 1;
  return out;
}

/* Fills slot c->slot: a request field, or the value of header c->name. */
static void load_val(rt_req *r, const rt_cond *c) {
  const ml_route_input *in = r->in;
  rt_val *v = &r->vals[c->slot];
  const char *s = NULL;
  switch (c->slot) {
  case RT_SLOT_METHOD:
    s = in->method;
    break;
  case RT_SLOT_SCHEME:
    s = in->scheme;
    break;
  case RT_SLOT_URI:
    s = in->path;
    break;
  case RT_SLOT_AUTHORITY:
    s = in->authority;
    break;
  default:
    s = header_value(r, c->name, c->slot != RT_SLOT_SCRATCH);
    /* A missing header compares as "" (Envoy's
     * treat_missing_header_as_empty, as istiod sets it). */
    set_val(v, s ? s : "", s != NULL);
    if (c->slot != RT_SLOT_SCRATCH)
      r->loaded |= 1ULL << c->slot;
    return;
  }
  set_val(v, s ? s : "", 1);
  r->loaded |= 1ULL << c->slot;
}

static inline const rt_val *req_val(rt_req *r, const rt_cond *c) {
  if (!((r->loaded >> c->slot) & 1))
    load_val(r, c);
  return &r->vals[c->slot];
}

/* The first 8 bytes as one masked word; the rest only when longer. */
static inline int head_eq(const rt_cond *c, const rt_val *v) {
  return (v->head & c->mask) == c->head &&
         (c->len <= 8 || rt_memeq(v->s + 8, c->value + 8, c->len - 8));
}

static inline int val_match(const rt_cond *c, const rt_val *v) {
  switch (c->kind) {
  case RT_K_EXACT:
    return v->len == c->len && head_eq(c, v);
  case RT_K_PREFIX:
    return v->len >= c->len && head_eq(c, v);
  case RT_K_REGEX: /* the literal start first, PCRE2 only if it passes */
    return v->len >= c->len && head_eq(c, v) && c->re &&
           ml_regex_match(c->re, v->s, v->len);
  case RT_K_EXACT_ICASE:
    return v->len == c->len && rt_caseeq(v->s, c->value, c->len);
  case RT_K_PREFIX_ICASE:
    return v->len >= c->len && rt_caseeq(v->s, c->value, c->len);
  default:
    return v->present != 0;
  }
}

/* The first "name[=value]" pair of the raw query, compared in place. The
 * value is not percent-decoded: Envoy matches the raw text. */
static int find_query(const char *q, const char *name, size_t nl, rt_val *v) {
  const char *p = q, *end = q + strlen(q);
  while (p < end) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *seg_end = amp ? amp : end;
    const char *eq = memchr(p, '=', (size_t)(seg_end - p));
    const char *key_end = eq ? eq : seg_end;
    if ((size_t)(key_end - p) == nl && rt_memeq(p, name, nl)) {
      v->s = eq ? eq + 1 : seg_end;
      v->len = (uint32_t)(seg_end - v->s);
      v->head = head_word(v->s, v->len);
      v->present = 1;
      return 1;
    }
    p = seg_end + 1;
  }
  return 0;
}

/* Every op but RT_OP_VALUE, which the decision loop tests itself. */
static int cond_holds(const rt_cond *c, rt_req *r) {
  const ml_route_input *in = r->in;
  switch (c->op) {
  case RT_OP_NOT_HEADER:
    /* A missing header is "", except that a presence match only looks
     * at existence: val_match() does both. */
    return !val_match(c, req_val(r, c));
  case RT_OP_PORT:
    return in->port == c->len;
  case RT_OP_SRC_NS:
    return streq0(in->source_namespace, c->value);
  case RT_OP_SRC_LABEL:
    for (size_t i = 0; i < in->source_label_count; i++)
      if (streq0(in->source_labels[i].key, c->name))
        return streq0(in->source_labels[i].value, c->value);
    return 0;
  case RT_OP_QUERY: {
    rt_val v;
    return in->query && find_query(in->query, c->name, c->name_len, &v) &&
           val_match(c, &v);
  }
  case RT_OP_FALSE:
    return 0;
  default: /* RT_OP_TRUE */
    return 1;
  }
}

int ml_route_decide(const ml_route_table *t, const ml_route_input *in,
                    ml_route_result *out) {
  if (!out)
    return MESHLIB_ERR_INVALID_ARG;
  out->vs = NULL;
  out->route = NULL;
  out->route_index = -1;
  out->match_index = -1;
  out->host_fqdn = NULL;
  out->flags = 0;
  if (!t || !in)
    return MESHLIB_ERR_INVALID_ARG;
  if (!in->host)
    return MESHLIB_OK;
  const rt_vhost *vh = hosts_find(&t->vhosts, in->host, strlen(in->host));
  if (!vh)
    return MESHLIB_OK;
  const rt_vs *vs = vh->vs;
  out->vs = vs->vs;
  out->host_fqdn = vh->fqdn;
  rt_req r;
  r.in = in;
  r.loaded = 0;
  r.join_used = 0;
  /* Whether some match passed its filters: a condition that fails after
   * them (they come first) is a route that exists but does not match. */
  int exists = 0;
  for (uint32_t i = 0; i < vs->cond_count;) {
    const rt_cond *c = &vs->conds[i];
    int ok;
    if (c->op == RT_OP_VALUE) {
      /* Most conditions are of this kind and fail on the head word. */
      const rt_val *v = req_val(&r, c);
      ok = (v->head & c->mask) == c->head && v->present && val_match(c, v);
    } else {
      ok = cond_holds(c, &r);
    }
    if (!ok) {
      exists |= !is_filter(c->op);
      i = c->next;
    } else if (c->pick < 0) {
      i++;
    } else {
      out->route = &vs->vs->http[c->pick];
      out->route_index = c->pick;
      out->match_index = c->match;
      return MESHLIB_OK;
    }
  }
  if (!exists) {
    /* No route from this VirtualService for this client and port: the
     * host's default route, as if it had no VirtualService. */
    out->vs = NULL;
    out->host_fqdn = NULL;
    return MESHLIB_OK;
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
