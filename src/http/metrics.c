/*
 * metrics.c: one mutex over a flat array of series. A few thousand series at
 * most and a lookup per request cost less than a lock-free design would cost
 * to get right; /metrics renders under the same lock.
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
#define METRICS_MAX_LABELS                                                                         \
  1024 /* rendered label set; longer ones are dropped */ /* routes are a fixed table; "none" takes \
                                                            the rest */

struct series {
  const char *name;
  char *labels; /* rendered: l1="v1",l2="v2" */
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
static struct hist *hists;
static size_t nhists;
static struct desc *descs;
static size_t ndescs;
static uint64_t dropped;

static int esc_label(struct buf *b, const char *v)
{
  for (; *v; v++) {
    int rc;
    if (*v == '\\')
      rc = buf_appends(b, "\\\\");
    else if (*v == '"')
      rc = buf_appends(b, "\\\"");
    else if (*v == '\n')
      rc = buf_appends(b, "\\n");
    else
      rc = buf_appendc(b, *v);
    if (rc)
      return rc;
  }
  return 0;
}

/* Render l1="v1",l2="v2" into b. Returns 0, or VG_TOOBIG past b's max. */
static int render_labels(struct buf *b, const char *l1, const char *v1, const char *l2,
                         const char *v2)
{
  if (!l1)
    return 0;
  if (buf_printf(b, "%s=\"", l1) || esc_label(b, v1 ? v1 : "") || buf_appendc(b, '"'))
    return VG_TOOBIG;
  if (l2 && (buf_printf(b, ",%s=\"", l2) || esc_label(b, v2 ? v2 : "") || buf_appendc(b, '"')))
    return VG_TOOBIG;
  return 0;
}

/* labels is only copied when the series is new: the hot path of a known
 * series allocates nothing beyond the rendering buffer. */
static void add_locked(const char *name, const char *labels, uint64_t n)
{
  for (size_t i = 0; i < nseries; i++) {
    if ((series[i].name == name || strcmp(series[i].name, name) == 0) &&
        strcmp(series[i].labels, labels) == 0) {
      series[i].value += n;
      return;
    }
  }
  if (nseries >= METRICS_MAX_SERIES) {
    dropped++;
    return;
  }
  if (nseries == capseries) {
    capseries = capseries ? capseries * 2 : 64;
    series = xrealloc(series, capseries * sizeof(*series));
  }
  series[nseries].name = name;
  series[nseries].labels = xstrdup(labels);
  series[nseries].value = n;
  nseries++;
}

static void add2(const char *name, const char *l1, const char *v1, const char *l2, const char *v2,
                 uint64_t n)
{
  struct buf b;

  buf_init(&b, METRICS_MAX_LABELS);
  if (render_labels(&b, l1, v1, l2, v2) == 0) { /* else: not worth a series */
    pthread_mutex_lock(&mu);
    add_locked(name, b.ptr, n);
    pthread_mutex_unlock(&mu);
  }
  buf_release(&b);
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
  char st[16];
  struct hist *h = NULL;

  snprintf(st, sizeof(st), "%d", status);
  add2("vodgate_http_requests_total", "route", route, "status", st, 1);
  pthread_mutex_lock(&mu);
  for (size_t i = 0; i < nhists; i++)
    if (strcmp(hists[i].route, route) == 0)
      h = &hists[i];
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
  struct buf b;
  uint64_t v = 0;

  buf_init(&b, METRICS_MAX_LABELS);
  if (render_labels(&b, label, value, NULL, NULL) == 0) {
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nseries; i++)
      if (strcmp(series[i].name, name) == 0 && strcmp(series[i].labels, b.ptr) == 0)
        v = series[i].value;
    pthread_mutex_unlock(&mu);
  }
  buf_release(&b);
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
      struct buf r;
      buf_init(&r, 1024);
      if (esc_label(&r, h->route)) {
        buf_release(&r);
        continue;
      }
      for (size_t b = 0; b < NBUCKETS; b++) {
        cum += h->counts[b];
        rc |= buf_printf(
            out, "vodgate_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
            r.ptr, buckets[b], (unsigned long long)cum);
      }
      cum += h->counts[NBUCKETS];
      rc |= buf_printf(
          out,
          "vodgate_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
          "vodgate_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
          "vodgate_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
          r.ptr, (unsigned long long)cum, r.ptr, h->sum, r.ptr, (unsigned long long)h->count);
      buf_release(&r);
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
