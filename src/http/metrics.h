/*
 * metrics.h: a small, thread-safe Prometheus registry (text format 0.0.4).
 *
 * Counters are identified by name plus label pairs; the first use creates
 * the series. The number of series is bounded (METRICS_MAX_SERIES): past
 * it new series are dropped and counted in vodgate_metrics_dropped_total,
 * so label values taken from outside input cannot grow memory without end.
 * Label values are escaped on output. All functions may be called from any
 * thread; names must be static strings matching [a-z_][a-z0-9_]*.
 */
#ifndef VG_METRICS_H
#define VG_METRICS_H

#include <stdint.h>

#include "core/buf.h"

#define METRICS_MAX_SERIES 2048

/* Give a metric its # HELP / # TYPE lines (type "counter"); optional. */
void metrics_describe(const char *name, const char *help);

/* Add n to the counter name{label="value"} (label NULL: no labels). */
void metrics_add(const char *name, const char *label, const char *value, uint64_t n);
/* metrics_add(name, label, value, 1). Example:
 * metrics_inc("vodgate_auth_failures_total", "reason", "expired"). */
void metrics_inc(const char *name, const char *label, const char *value);
/* Two labels: name{l1="v1",l2="v2"} += 1. */
void metrics_inc2(const char *name, const char *l1, const char *v1, const char *l2, const char *v2);

/* Record one HTTP request: vodgate_http_requests_total{route,status} and
 * the vodgate_http_request_duration_seconds{route} histogram. */
void metrics_observe_request(const char *route, int status, double seconds);

/* Current value of a counter, 0 if absent (tests). */
uint64_t metrics_get(const char *name, const char *label, const char *value);

/* Append the whole registry in Prometheus text format. */
int metrics_render(struct buf *out) WARN_UNUSED;

/* Drop every series (tests, and exit so leak checkers stay quiet). */
void metrics_reset(void);

#endif
