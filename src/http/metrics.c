/*
 * metrics.c: one mutex over a flat array of series (kept in creation order
 * for /metrics) with a hash index beside it. A few thousand series at most
 * and one hashed probe per update cost less than a lock-free design would
 * cost to get right; the key (name plus rendered labels) is built on the
 * caller's stack before the lock is taken. /metrics renders under the lock.
 */
#include "http/metrics.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                 0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))
#define MAX_HIST 128
/* Rendered label set at most this long; longer ones are not worth a series
 * (routes are a fixed table; "none" takes the rest). */
#define METRICS_MAX_LABELS 1024
/* Open-addressing index over the series: a power of two, more than twice
 * METRICS_MAX_SERIES so that probe runs stay short when the registry is full. */
#define INDEX_SLOTS 4096
_Static_assert(INDEX_SLOTS >= 2 * METRICS_MAX_SERIES && (INDEX_SLOTS & (INDEX_SLOTS - 1)) == 0,
               "the index needs free slots (probes end at one) and a power-of-two size");

struct series {
  const char *name;
  char *labels; /* rendered: l1="v1",l2="v2" */
  size_t labels_len;
  uint64_t hash; /* of name and labels */
  uint64_t value;
};

struct hist {
  char *route;
  uint64_t counts[NBUCKETS + 1];
  uint64_t count;
  double sum;
};

struct desc {
  const char *name, *help;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct series *series;
static size_t nseries, capseries;
static uint32_t slots[INDEX_SLOTS]; /* series index + 1; 0: empty */
static struct hist *hists;
static size_t nhists;
static struct desc *descs;
static size_t ndescs;
static uint64_t dropped;

/* A series key rendered on the stack: a known series costs no allocation,
 * no printf and one hashed probe. */
struct key {
  const char *name;
  char labels[METRICS_MAX_LABELS + 1];
  size_t len;
  uint64_t hash;
};

static bool key_put(struct key *k, const char *s, size_t n)
{
  if (n > METRICS_MAX_LABELS - k->len)
    return false;
  memcpy(k->labels + k->len, s, n);
  k->len += n;
  return true;
}

#define KEY_LIT(k, lit) key_put((k), (lit), sizeof(lit) - 1)

static bool key_esc(struct key *k, const char *v)
{
  for (; *v; v++) {
    bool ok;
    if (*v == '\\')
      ok = KEY_LIT(k, "\\\\");
    else if (*v == '"')
      ok = KEY_LIT(k, "\\\"");
    else if (*v == '\n')
      ok = KEY_LIT(k, "\\n");
    else
      ok = key_put(k, v, 1);
    if (!ok)
      return false;
  }
  return true;
}

static bool key_label(struct key *k, const char *l, const char *v)
{
  return key_put(k, l, strlen(l)) && KEY_LIT(k, "=\"") && key_esc(k, v ? v : "") &&
         KEY_LIT(k, "\"");
}

/* Mixes n bytes into h, eight at a time (a byte-wise hash costs a
 * multiplication per byte on every update). Any hash is correct here: slots
 * are confirmed by comparing the name and the labels. */
static uint64_t hash_bytes(uint64_t h, const char *p, size_t n)
{
  const uint64_t m = 0x9e3779b97f4a7c15ULL;
  uint64_t w;

  for (; n >= 8; p += 8, n -= 8) {
    memcpy(&w, p, 8);
    h = (h ^ w) * m;
    h ^= h >> 32;
  }
  w = 0;
  memcpy(&w, p, n);
  h = (h ^ w ^ ((uint64_t)n << 56)) * m;
  return h ^ (h >> 29);
}

static void key_hash(struct key *k)
{
  k->hash = hash_bytes(hash_bytes(0, k->name, strlen(k->name)), k->labels, k->len);
}

/* Render l1="v1",l2="v2" into k. Returns false past METRICS_MAX_LABELS. */
static bool key_make(struct key *k, const char *name, const char *l1, const char *v1,
                     const char *l2, const char *v2)
{
  k->name = name;
  k->len = 0;
  if (l1 && (!key_label(k, l1, v1) || (l2 && (!KEY_LIT(k, ",") || !key_label(k, l2, v2)))))
    return false;
  k->labels[k->len] = '\0';
  key_hash(k);
  return true;
}

/* The slot holding k's series, or the empty slot where it would go. */
static uint32_t *find_locked(const struct key *k)
{
  size_t i = (size_t)k->hash & (INDEX_SLOTS - 1);

  for (;; i = (i + 1) & (INDEX_SLOTS - 1)) {
    const struct series *se;
    if (!slots[i])
      return &slots[i];
    se = &series[slots[i] - 1];
    if (se->hash == k->hash && se->labels_len == k->len &&
        (se->name == k->name || strcmp(se->name, k->name) == 0) &&
        memcmp(se->labels, k->labels, k->len) == 0)
      return &slots[i];
  }
}

/* labels are only copied when the series is new. */
static void add_locked(const struct key *k, uint64_t n)
{
  uint32_t *slot = find_locked(k);

  if (*slot) {
    series[*slot - 1].value += n;
    return;
  }
  if (nseries >= METRICS_MAX_SERIES) {
    dropped++;
    return;
  }
  if (nseries == capseries) {
    capseries = capseries ? capseries * 2 : 64;
    series = xrealloc(series, capseries * sizeof(*series));
  }
  series[nseries].name = k->name;
  series[nseries].labels = xstrndup(k->labels, k->len);
  series[nseries].labels_len = k->len;
  series[nseries].hash = k->hash;
  series[nseries].value = n;
  nseries++;
  *slot = (uint32_t)nseries;
}

static void add2(const char *name, const char *l1, const char *v1, const char *l2, const char *v2,
                 uint64_t n)
{
  struct key k;

  if (!key_make(&k, name, l1, v1, l2, v2))
    return; /* not worth a series */
  pthread_mutex_lock(&mu);
  add_locked(&k, n);
  pthread_mutex_unlock(&mu);
}

void metrics_add(const char *name, const char *label, const char *value, uint64_t n)
{
  add2(name, label, value, NULL, NULL, n);
}

void metrics_inc(const char *name, const char *label, const char *value)
{
  add2(name, label, value, NULL, NULL, 1);
}

void metrics_inc2(const char *name, const char *l1, const char *v1, const char *l2, const char *v2)
{
  add2(name, l1, v1, l2, v2, 1);
}

void metrics_describe(const char *name, const char *help)
{
  pthread_mutex_lock(&mu);
  for (size_t i = 0; i < ndescs; i++) {
    if (strcmp(descs[i].name, name) == 0) {
      descs[i].help = help;
      pthread_mutex_unlock(&mu);
      return;
    }
  }
  descs = xrealloc(descs, (ndescs + 1) * sizeof(*descs));
  descs[ndescs].name = name;
  descs[ndescs].help = help;
  ndescs++;
  pthread_mutex_unlock(&mu);
}

void metrics_observe_request(const char *route, int status, double seconds)
{
  char st[22];
  struct hist *h = NULL;
  struct key k;
  bool counted;

  st[fmt_i64(st, status)] = '\0'; /* "%d" */
  counted = key_make(&k, "vodgate_http_requests_total", "route", route, "status", st);
  pthread_mutex_lock(&mu);
  if (counted)
    add_locked(&k, 1);
  for (size_t j = 0; j < nhists && !h; j++)
    if (strcmp(hists[j].route, route) == 0)
      h = &hists[j];
  if (!h && nhists < MAX_HIST) {
    hists = xrealloc(hists, (nhists + 1) * sizeof(*hists));
    h = &hists[nhists++];
    memset(h, 0, sizeof(*h));
    h->route = xstrdup(route);
  }
  if (h) {
    size_t b = 0;
    while (b < NBUCKETS && seconds > buckets[b])
      b++;
    h->counts[b]++;
    h->count++;
    h->sum += seconds;
  }
  pthread_mutex_unlock(&mu);
}

uint64_t metrics_get(const char *name, const char *label, const char *value)
{
  struct key k;
  uint64_t v = 0;

  if (key_make(&k, name, label, value, NULL, NULL)) {
    const uint32_t *slot;
    pthread_mutex_lock(&mu);
    slot = find_locked(&k);
    if (*slot)
      v = series[*slot - 1].value;
    pthread_mutex_unlock(&mu);
  }
  return v;
}

static const char *help_of(const char *name)
{
  for (size_t i = 0; i < ndescs; i++)
    if (strcmp(descs[i].name, name) == 0)
      return descs[i].help;
  return NULL;
}

int metrics_render(struct buf *out)
{
  int rc = 0;
  bool *done;

  pthread_mutex_lock(&mu);
  done = xcalloc(nseries + 1, sizeof(bool));
  /* Group the series of one name under one HELP/TYPE header. */
  for (size_t i = 0; i < nseries && !rc; i++) {
    const char *help;
    if (done[i])
      continue;
    help = help_of(series[i].name);
    if (help)
      rc |= buf_printf(out, "# HELP %s %s\n", series[i].name, help);
    rc |= buf_printf(out, "# TYPE %s counter\n", series[i].name);
    for (size_t j = i; j < nseries && !rc; j++) {
      if (done[j] || strcmp(series[j].name, series[i].name) != 0)
        continue;
      done[j] = true;
      if (series[j].labels[0])
        rc |= buf_printf(out, "%s{%s} %llu\n", series[j].name, series[j].labels,
                         (unsigned long long)series[j].value);
      else
        rc |= buf_printf(out, "%s %llu\n", series[j].name, (unsigned long long)series[j].value);
    }
  }
  free(done);
  if (nhists && !rc) {
    rc |= buf_appends(out, "# HELP vodgate_http_request_duration_seconds Time from request "
                           "headers to response queued.\n"
                           "# TYPE vodgate_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < nhists && !rc; i++) {
      struct hist *h = &hists[i];
      uint64_t cum = 0;
      struct key r = {0}; /* the route's label value, escaped as series labels are */
      if (!key_esc(&r, h->route))
        continue;
      r.labels[r.len] = '\0';
      for (size_t b = 0; b < NBUCKETS; b++) {
        cum += h->counts[b];
        rc |= buf_printf(
            out, "vodgate_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
            r.labels, buckets[b], (unsigned long long)cum);
      }
      cum += h->counts[NBUCKETS];
      rc |=
          buf_printf(out,
                     "vodgate_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
                     "vodgate_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
                     "vodgate_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
                     r.labels, (unsigned long long)cum, r.labels, h->sum, r.labels,
                     (unsigned long long)h->count);
    }
  }
  if (!rc)
    rc |= buf_printf(out,
                     "# HELP vodgate_metrics_dropped_total Series not created because the "
                     "registry is full.\n# TYPE vodgate_metrics_dropped_total counter\n"
                     "vodgate_metrics_dropped_total %llu\n",
                     (unsigned long long)dropped);
  pthread_mutex_unlock(&mu);
  return rc ? VG_TOOBIG : VG_OK;
}

void metrics_reset(void)
{
  pthread_mutex_lock(&mu);
  for (size_t i = 0; i < nseries; i++)
    free(series[i].labels);
  free(series);
  series = NULL;
  nseries = capseries = 0;
  memset(slots, 0, sizeof(slots));
  for (size_t i = 0; i < nhists; i++)
    free(hists[i].route);
  free(hists);
  hists = NULL;
  nhists = 0;
  free(descs);
  descs = NULL;
  ndescs = 0;
  dropped = 0;
  pthread_mutex_unlock(&mu);
}
