/*
 * oracle.h: differential checks shared by the unit tests and the fuzz
 * targets (header-only, static functions).
 *
 *   jscan_oracle_diff(): core/jscan.h must accept exactly what jansson's
 *     json_loadb(JSON_REJECT_DUPLICATES | JSON_DECODE_ANY) accepts, and its
 *     tokens must hold the same values (types, decoded strings and keys,
 *     numbers, member order).
 *   event_oracle_diff(): event_parse (jscan) and event_parse_jansson must
 *     give the same rc, reason and struct vod_event, field by field.
 *
 * Each returns 0 when both sides agree, else 1 with a description in
 * why[cap].
 */
#ifndef VG_FUZZ_ORACLE_H
#define VG_FUZZ_ORACLE_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jscan.h"
#include "event/event.h"

/* Bracket depth as event.c counts it (strings skipped), to keep inputs
 * deeper than jscan's limit out of the comparison. */
static inline int oracle_depth(const char *s, size_t n)
{
  int d = 0, max = 0;
  int in_str = 0;

  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (in_str) {
      if (ch == '\\')
        i++;
      else if (ch == '"')
        in_str = 0;
    } else if (ch == '"') {
      in_str = 1;
    } else if (ch == '{' || ch == '[') {
      if (++d > max)
        max = d;
    } else if (ch == '}' || ch == ']') {
      d--;
    }
  }
  return max;
}

/* Compare token t with v; returns 0 if equal. */
static inline int oracle_tok(const struct jscan *js, int t, const json_t *v, char *why, size_t cap)
{
  const struct jscan_tok *k = &js->tok[t];

  switch (json_typeof(v)) {
  case JSON_NULL:
    if (k->type != JSCAN_NULL)
      goto type;
    return 0;
  case JSON_TRUE:
    if (k->type != JSCAN_TRUE)
      goto type;
    return 0;
  case JSON_FALSE:
    if (k->type != JSCAN_FALSE)
      goto type;
    return 0;
  case JSON_INTEGER: {
    double d;
    int64_t i;
    if (k->type != JSCAN_NUMBER || (k->flags & JSCAN_REAL))
      goto type;
    jscan_num(js, t, &d, &i);
    if (i != (int64_t)json_integer_value(v) || d != (double)json_integer_value(v)) {
      snprintf(why, cap, "token %d: integer %lld vs %lld", t, (long long)i,
               (long long)json_integer_value(v));
      return 1;
    }
    return 0;
  }
  case JSON_REAL: {
    double d;
    if (k->type != JSCAN_NUMBER || !(k->flags & JSCAN_REAL))
      goto type;
    jscan_num(js, t, &d, NULL);
    if (memcmp(&d, &(double){json_real_value(v)}, sizeof(d)) != 0) {
      snprintf(why, cap, "token %d: real %.17g vs %.17g", t, d, json_real_value(v));
      return 1;
    }
    return 0;
  }
  case JSON_STRING: {
    char *s;
    size_t n;
    int bad;
    if (k->type != JSCAN_STRING)
      goto type;
    if (jscan_str(js, t, &s, &n))
      abort();
    bad = n != json_string_length(v) || memcmp(s, json_string_value(v), n) != 0 ||
          !jscan_str_eq(js, t, json_string_value(v), json_string_length(v));
    free(s);
    if (bad) {
      snprintf(why, cap, "token %d: string differs", t);
      return 1;
    }
    return 0;
  }
  case JSON_ARRAY: {
    int e = t + 1;
    if (k->type != JSCAN_ARRAY || k->n != json_array_size(v))
      goto type;
    for (size_t i = 0; i < k->n; i++, e = (int)js->tok[e].next)
      if (oracle_tok(js, e, json_array_get(v, i), why, cap))
        return 1;
    if ((uint32_t)e != k->next) {
      snprintf(why, cap, "token %d: next %u vs %d", t, k->next, e);
      return 1;
    }
    return 0;
  }
  case JSON_OBJECT: {
    const char *key;
    json_t *mv;
    int e = t + 1;
    if (k->type != JSCAN_OBJECT || k->n != json_object_size(v))
      goto type;
    /* jansson iterates in insertion order: the document's. */
    json_object_foreach((json_t *)v, key, mv)
    {
      if (!jscan_str_eq(js, e, key, strlen(key))) {
        snprintf(why, cap, "token %d: key %s differs", e, key);
        return 1;
      }
      if (jscan_get(js, t, key) != e + 1) {
        snprintf(why, cap, "token %d: jscan_get(%s) differs", t, key);
        return 1;
      }
      if (oracle_tok(js, e + 1, mv, why, cap))
        return 1;
      e = (int)js->tok[e + 1].next;
    }
    if ((uint32_t)e != k->next) {
      snprintf(why, cap, "token %d: next %u vs %d", t, k->next, e);
      return 1;
    }
    return 0;
  }
  }
type:
  snprintf(why, cap, "token %d: type %d vs jansson %d", t, k->type, (int)json_typeof(v));
  return 1;
}

static inline int jscan_oracle_diff(const char *s, size_t n, char *why, size_t cap)
{
  struct jscan_tok buf[64];
  struct jscan js;
  json_t *j;
  int rc, bad = 0;

  why[0] = '\0';
  if (oracle_depth(s, n) > JSCAN_MAX_DEPTH)
    return 0; /* jansson allows 2048 levels; jscan never more than 64 */
  rc = jscan_parse(&js, s, n, buf, sizeof(buf) / sizeof(buf[0]), JSCAN_MAX_DEPTH);
  if (memchr(s, '\0', n)) {
    /* jansson drops a NUL right after a number or literal ("1\0" loads);
     * JSON has no NUL outside strings, nor raw inside: jscan refuses. */
    jscan_release(&js);
    if (rc == VG_OK) {
      snprintf(why, cap, "jscan accepts a NUL byte");
      return 1;
    }
    return 0;
  }
  j = json_loadb(s, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
  if (rc == VG_NOMEM) {
    bad = 0;
  } else if ((rc == VG_OK) != (j != NULL)) {
    snprintf(why, cap, "jscan %s, jansson %s", rc == VG_OK ? "accepts" : "refuses",
             j ? "accepts" : "refuses");
    bad = 1;
  } else if (j) {
    bad = oracle_tok(&js, 0, j, why, cap);
    if (!bad && js.n != js.tok[0].next) {
      snprintf(why, cap, "%zu tokens, top next %u", js.n, js.tok[0].next);
      bad = 1;
    }
  }
  json_decref(j);
  jscan_release(&js);
  return bad;
}

static inline int oracle_streq(const char *what, const char *a, const char *b, char *why,
                               size_t cap)
{
  if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0)) {
    snprintf(why, cap, "%s: \"%.80s\" vs \"%.80s\"", what, a ? a : "(null)", b ? b : "(null)");
    return 1;
  }
  return 0;
}

static inline int oracle_numeq(const char *what, double a, double b, char *why, size_t cap)
{
  if (memcmp(&a, &b, sizeof(a)) != 0) {
    snprintf(why, cap, "%s: %.17g vs %.17g", what, a, b);
    return 1;
  }
  return 0;
}

static inline int oracle_event(const struct vod_event *a, const struct vod_event *b, char *why,
                               size_t cap)
{
#define S(f) oracle_streq(#f, a->f, b->f, why, cap)
#define N(f) oracle_numeq(#f, (double)a->f, (double)b->f, why, cap)
  if (N(format) || N(type) || S(type_str) || S(file_id) || S(task_id) || N(status) ||
      S(status_str) || S(source_context) || S(session_context) || S(media_url) || S(cover_url) ||
      S(name) || S(media_type) || N(meta.present) || N(meta.size) || N(meta.duration) ||
      N(meta.width) || N(meta.height) || S(meta.container) || N(n_tasks) || N(review.verdict) ||
      S(review.type) || S(review.label) || S(review.suggestion) || N(review.confidence) ||
      S(event_handle) || S(sign) || N(has_t) || N(t) || S(key) || N(has_volatile_keys))
    return 1;
  for (size_t i = 0; i < a->n_tasks; i++)
    if (S(tasks[i].type) || S(tasks[i].suggestion) || S(tasks[i].label) || N(tasks[i].confidence) ||
        N(tasks[i].state) || N(tasks[i].has_output))
      return 1;
#undef S
#undef N
  return 0;
}

/* ev->stored_body (event.h) against jansson: the body's object without its
 * top-level null and volatile members, or NULL when there are none (for
 * the types event_parse reads itself). Returns 0 if right. */
static inline int oracle_stored(const struct vod_event *ev, const char *body, size_t len, char *why,
                                size_t cap)
{
  static const char *const vol[] = {"EventHandle", "Sign", "T", "sign", "t"};
  json_t *want = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL), *got, *v;
  const char *k;
  void *tmp;
  size_t before;
  int bad = 0;

  if (!json_is_object(want)) {
    json_decref(want);
    snprintf(why, cap, "stored: the body is not an object for jansson");
    return 1;
  }
  before = json_object_size(want);
  json_object_foreach_safe(want, tmp, k, v)
  {
    int drop = json_is_null(v);
    for (size_t i = 0; i < sizeof(vol) / sizeof(vol[0]); i++)
      drop |= strcmp(k, vol[i]) == 0;
    if (drop)
      json_object_del(want, k);
  }
  if (!ev->stored_body) {
    if (ev->type != EVENT_TYPE_OTHER && json_object_size(want) != before) {
      snprintf(why, cap, "stored: no copy, but %zu members to leave out",
               before - json_object_size(want));
      bad = 1;
    }
  } else if (ev->stored_len > len || strlen(ev->stored_body) != ev->stored_len) {
    snprintf(why, cap, "stored: length %zu (body %zu)", ev->stored_len, len);
    bad = 1;
  } else {
    got = json_loadb(ev->stored_body, ev->stored_len, JSON_REJECT_DUPLICATES, NULL);
    if (!got || !json_equal(got, want)) {
      snprintf(why, cap, "stored copy differs: %.120s", ev->stored_body);
      bad = 1;
    }
    json_decref(got);
  }
  json_decref(want);
  return bad;
}

static inline int event_oracle_diff(const char *body, size_t len,
                                    const struct event_review_policy *pol, char *why, size_t cap)
{
  struct vod_event a, b;
  char ra[EVENT_REASON_MAX], rb[EVENT_REASON_MAX];
  int rca, rcb, bad = 0;

  why[0] = '\0';
  rca = event_parse(body, len, pol, &a, ra, sizeof(ra));
  rcb = event_parse_jansson(body, len, pol, &b, rb, sizeof(rb));
  if (rca != rcb || strcmp(ra, rb) != 0) {
    snprintf(why, cap, "rc %d \"%s\" vs jansson %d \"%s\"", rca, ra, rcb, rb);
    bad = 1;
  } else if (rca == VG_OK) {
    bad = oracle_event(&a, &b, why, cap) || oracle_stored(&a, body, len, why, cap);
  }
  event_release(&a);
  event_release(&b);
  return bad;
}

#endif
