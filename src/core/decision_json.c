/* SPDX-License-Identifier: MIT */
/* The decision as JSON: the shape `meshctl route --json` prints. */
#include <stdio.h>
#include <string.h>
#include "core/request.h"

static void kv_object(ml_buf *b, const ml_kv_list *l) {
  ml_buf_putc(b, '{');
  for (size_t i = 0; i < l->count; i++) {
    if (i)
      ml_buf_putc(b, ',');
    ml_buf_json_str(b, l->items[i].key);
    ml_buf_putc(b, ':');
    ml_buf_json_str(b, l->items[i].value);
  }
  ml_buf_putc(b, '}');
}

static void header_ops_json(ml_buf *b, const ml_header_ops *o) {
  ml_buf_puts(b, "{\"set\":");
  kv_object(b, &o->set);
  ml_buf_puts(b, ",\"add\":");
  kv_object(b, &o->add);
  ml_buf_puts(b, ",\"remove\":[");
  for (size_t i = 0; i < o->remove.count; i++) {
    if (i)
      ml_buf_putc(b, ',');
    ml_buf_json_str(b, o->remove.items[i]);
  }
  ml_buf_puts(b, "]}");
}

static int headers_empty(const ml_headers *h) {
  const ml_header_ops *o[2] = {&h->request, &h->response};
  for (int i = 0; i < 2; i++)
    if (o[i]->set.count || o[i]->add.count || o[i]->remove.count)
      return 0;
  return 1;
}

static void headers_json(ml_buf *b, const ml_headers *h) {
  if (!h || headers_empty(h)) {
    ml_buf_puts(b, "null");
    return;
  }
  ml_buf_puts(b, "{\"request\":");
  header_ops_json(b, &h->request);
  ml_buf_puts(b, ",\"response\":");
  header_ops_json(b, &h->response);
  ml_buf_putc(b, '}');
}

static void int_or_null(ml_buf *b, int64_t v) {
  if (v < 0)
    ml_buf_puts(b, "null");
  else
    ml_buf_printf(b, "%lld", (long long)v);
}

int meshlib_decision_to_json(const meshlib_decision *d, char **out) {
  if (!d || !out || !d->snap)
    return MESHLIB_ERR_INVALID_ARG;
  *out = NULL;
  ml_buf b;
  ml_buf_init(&b, d->snap->mem);
  const ml_http_route *r = d->res.route;

  ml_buf_puts(&b, "{\"host\":");
  ml_buf_json_str(&b, d->host);
  ml_buf_printf(&b, ",\"port\":%u,\"virtual_service\":", d->port);
  if (d->res.vs) {
    ml_buf_putc(&b, '"');
    ml_buf_printf(&b, "%s/%s", d->res.vs->meta.namespace_,
                  d->res.vs->meta.name);
    ml_buf_putc(&b, '"');
  } else {
    ml_buf_puts(&b, "null");
  }
  ml_buf_puts(&b, ",\"route\":");
  ml_buf_json_str(&b, meshlib_decision_route_name(d));
  ml_buf_puts(&b, ",\"route_index\":");
  int_or_null(&b, r ? d->res.route_index : -1);

  ml_buf_puts(&b, ",\"destinations\":[");
  for (size_t i = 0; i < d->dest_count; i++) {
    const ml_decision_dest *x = &d->dests[i];
    if (i)
      ml_buf_putc(&b, ',');
    ml_buf_puts(&b, "{\"host\":");
    ml_buf_json_str(&b, x->host);
    ml_buf_puts(&b, ",\"subset\":");
    ml_buf_json_str(&b, x->subset);
    ml_buf_puts(&b, ",\"port\":");
    int_or_null(&b, x->port ? (int64_t)x->port : -1);
    ml_buf_printf(&b, ",\"weight\":%u,\"cluster\":", x->weight);
    ml_buf_json_str(&b, meshlib_decision_destination_cluster(d, i));
    ml_buf_puts(&b, ",\"destination_rule\":");
    ml_buf_json_str(&b, meshlib_decision_destination_rule(d, i));
    ml_buf_printf(&b, ",\"subset_found\":%s",
                  x->subset ? (x->missing_subset ? "false" : "true") : "null");
    if (x->config && !headers_empty(&x->config->headers)) {
      ml_buf_puts(&b, ",\"headers\":");
      headers_json(&b, &x->config->headers);
    }
    ml_buf_putc(&b, '}');
  }
  ml_buf_putc(&b, ']');

  ml_buf_puts(&b, ",\"rewrite\":");
  if (r && r->rewrite) {
    ml_buf_puts(&b, "{\"uri\":");
    ml_buf_json_str(&b, r->rewrite->uri);
    ml_buf_puts(&b, ",\"authority\":");
    ml_buf_json_str(&b, r->rewrite->authority);
    ml_buf_puts(&b, ",\"uri_regex_rewrite\":");
    if (r->rewrite->regex_match) {
      ml_buf_puts(&b, "{\"match\":");
      ml_buf_json_str(&b, r->rewrite->regex_match);
      ml_buf_puts(&b, ",\"rewrite\":");
      ml_buf_json_str(&b, r->rewrite->regex_rewrite);
      ml_buf_putc(&b, '}');
    } else {
      ml_buf_puts(&b, "null");
    }
    ml_buf_putc(&b, '}');
  } else {
    ml_buf_puts(&b, "null");
  }

  ml_buf_puts(&b, ",\"timeout_ms\":");
  int_or_null(&b, r ? r->timeout_ms : -1);

  ml_buf_puts(&b, ",\"retries\":");
  if (r && r->retries) {
    ml_buf_puts(&b, "{\"attempts\":");
    int_or_null(&b, r->retries->attempts);
    ml_buf_puts(&b, ",\"per_try_timeout_ms\":");
    int_or_null(&b, r->retries->per_try_timeout_ms);
    ml_buf_puts(&b, ",\"retry_on\":");
    ml_buf_json_str(&b, r->retries->retry_on);
    ml_buf_putc(&b, '}');
  } else {
    ml_buf_puts(&b, "null");
  }

  ml_buf_puts(&b, ",\"fault\":");
  if (r && r->fault) {
    ml_buf_puts(&b, "{\"delay\":");
    if (r->fault->has_delay)
      ml_buf_printf(&b, "{\"fixed_delay_ms\":%lld,\"percentage\":%g}",
                    (long long)r->fault->delay_fixed_ms,
                    meshlib_decision_fault_delay_percent(d));
    else
      ml_buf_puts(&b, "null");
    ml_buf_puts(&b, ",\"abort\":");
    if (r->fault->has_abort) {
      ml_buf_puts(&b, "{\"http_status\":");
      int_or_null(&b, r->fault->abort_http_status ? r->fault->abort_http_status
                                                  : -1);
      ml_buf_puts(&b, ",\"grpc_status\":");
      ml_buf_json_str(&b, r->fault->abort_grpc_status);
      ml_buf_printf(&b, ",\"percentage\":%g}",
                    meshlib_decision_fault_abort_percent(d));
    } else {
      ml_buf_puts(&b, "null");
    }
    ml_buf_putc(&b, '}');
  } else {
    ml_buf_puts(&b, "null");
  }

  ml_buf_puts(&b, ",\"direct_response\":");
  if (r && r->direct_response) {
    ml_buf_printf(&b, "{\"status\":%d,\"body\":", r->direct_response->status);
    ml_buf_json_strn(&b, r->direct_response->body,
                     r->direct_response->body_len);
    ml_buf_putc(&b, '}');
  } else {
    ml_buf_puts(&b, "null");
  }

  ml_buf_puts(&b, ",\"redirect\":");
  if (r && r->redirect) {
    ml_buf_puts(&b, "{\"uri\":");
    ml_buf_json_str(&b, r->redirect->uri);
    ml_buf_puts(&b, ",\"authority\":");
    ml_buf_json_str(&b, r->redirect->authority);
    ml_buf_puts(&b, ",\"scheme\":");
    ml_buf_json_str(&b, r->redirect->scheme);
    ml_buf_puts(&b, ",\"port\":");
    int_or_null(&b, r->redirect->port ? (int64_t)r->redirect->port : -1);
    ml_buf_printf(&b, ",\"redirect_code\":%d}", r->redirect->redirect_code);
  } else {
    ml_buf_puts(&b, "null");
  }

  ml_buf_puts(&b, ",\"headers\":");
  headers_json(&b, r ? &r->headers : NULL);

  char flags[64];
  meshlib_response_flags_str(d->flags, flags, sizeof(flags));
  ml_buf_puts(&b, ",\"response_flags\":");
  ml_buf_json_str(&b, flags);
  ml_buf_printf(&b, ",\"config_version\":%llu}",
                (unsigned long long)d->snap->version);

  *out = ml_buf_steal(&b);
  return *out ? MESHLIB_OK : MESHLIB_ERR_NOMEM;
}
