/* Unit tests for http/metrics: exposition format, escaping, the series
 * bound, and counts under concurrent increments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/metrics.h"

static char *render(void)
{
  struct buf b;
  buf_init(&b, 1 << 24);
  assert_int_equal(metrics_render(&b), VG_OK);
  return buf_detach(&b, NULL);
}

static void counters_and_help(void **state)
{
  char *t;

  metrics_reset();
  metrics_describe("vodgate_auth_failures_total", "Authentication failures by reason.");
  metrics_inc("vodgate_auth_failures_total", "reason", "expired");
  metrics_inc("vodgate_auth_failures_total", "reason", "expired");
  metrics_inc("vodgate_auth_failures_total", "reason", "bad_signature");
  metrics_add("vodgate_signatures_issued_total", NULL, NULL, 5);
  metrics_inc2("vodgate_quota_rejections_total", "kind", "daily", "policy", "default");
  assert_int_equal(metrics_get("vodgate_auth_failures_total", "reason", "expired"), 2);
  assert_int_equal(metrics_get("vodgate_signatures_issued_total", NULL, NULL), 5);
  assert_int_equal(metrics_get("vodgate_nothing_total", NULL, NULL), 0);
  t = render();
  assert_non_null(strstr(t, "# HELP vodgate_auth_failures_total Authentication failures by "
                            "reason.\n# TYPE vodgate_auth_failures_total counter\n"
                            "vodgate_auth_failures_total{reason=\"expired\"} 2\n"
                            "vodgate_auth_failures_total{reason=\"bad_signature\"} 1\n"));
  assert_non_null(strstr(t, "# TYPE vodgate_signatures_issued_total counter\n"
                            "vodgate_signatures_issued_total 5\n"));
  assert_non_null(
      strstr(t, "vodgate_quota_rejections_total{kind=\"daily\",policy=\"default\"} 1\n"));
  free(t);
  metrics_reset();
}

static void label_escaping(void **state)
{
  char *t;
  metrics_reset();
  metrics_inc("vodgate_x_total", "v", "a\"b\\c\nd");
  t = render();
  assert_non_null(strstr(t, "vodgate_x_total{v=\"a\\\"b\\\\c\\nd\"} 1\n"));
  free(t);
  metrics_reset();
}

static void histogram(void **state)
{
  char *t;
  metrics_reset();
  metrics_observe_request("healthz", 200, 0.0003);
  metrics_observe_request("healthz", 200, 0.003);
  metrics_observe_request("healthz", 500, 10.0);
  t = render();
  assert_non_null(strstr(t, "vodgate_http_requests_total{route=\"healthz\",status=\"200\"} 2\n"));
  assert_non_null(strstr(t, "vodgate_http_requests_total{route=\"healthz\",status=\"500\"} 1\n"));
  assert_non_null(strstr(
      t, "vodgate_http_request_duration_seconds_bucket{route=\"healthz\",le=\"0.0005\"} 1\n"));
  assert_non_null(strstr(
      t, "vodgate_http_request_duration_seconds_bucket{route=\"healthz\",le=\"0.005\"} 2\n"));
  assert_non_null(
      strstr(t, "vodgate_http_request_duration_seconds_bucket{route=\"healthz\",le=\"2.5\"} 2\n"));
  assert_non_null(
      strstr(t, "vodgate_http_request_duration_seconds_bucket{route=\"healthz\",le=\"+Inf\"} 3\n"));
  assert_non_null(strstr(t, "vodgate_http_request_duration_seconds_count{route=\"healthz\"} 3\n"));
  free(t);
  metrics_reset();
}

static void series_are_bounded(void **state)
{
  char v[32], *t;
  metrics_reset();
  for (int i = 0; i < METRICS_MAX_SERIES + 10; i++) {
    snprintf(v, sizeof(v), "%d", i);
    metrics_inc("vodgate_many_total", "n", v);
  }
  assert_int_equal(metrics_get("vodgate_many_total", "n", "0"), 1);
  assert_int_equal(metrics_get("vodgate_many_total", "n", "2047"), 1);
  assert_int_equal(metrics_get("vodgate_many_total", "n", "2048"), 0);
  t = render();
  assert_non_null(strstr(t, "vodgate_metrics_dropped_total 10\n"));
  free(t);
  metrics_reset();
}

/* A series is its name plus its rendered labels: the same labels under
 * another name, a name without labels, and label sets that render alike
 * only up to escaping are all distinct; a label set rendering to more than
 * 1024 bytes makes no series (and is not counted as dropped). */
static void series_identity(void **state)
{
  char v[1100], *t;

  metrics_reset();
  metrics_inc("vodgate_a_total", "k", "v");
  metrics_inc("vodgate_b_total", "k", "v");
  metrics_inc("vodgate_b_total", "k", "v");
  metrics_add("vodgate_a_total", NULL, NULL, 7);
  metrics_inc("vodgate_a_total", "k", "v\"");
  metrics_inc2("vodgate_a_total", "k", "v", "s", "200");
  metrics_observe_request("r", 200, 0.001);
  metrics_observe_request("r", 200, 0.001);
  metrics_observe_request("r", -1, 0.001);
  assert_int_equal(metrics_get("vodgate_a_total", "k", "v"), 1);
  assert_int_equal(metrics_get("vodgate_b_total", "k", "v"), 2);
  assert_int_equal(metrics_get("vodgate_a_total", NULL, NULL), 7);
  assert_int_equal(metrics_get("vodgate_a_total", "k", "v\""), 1);
  assert_int_equal(metrics_get("vodgate_c_total", "k", "v"), 0);
  /* k="..." with 1020 bytes inside is exactly 1024 bytes: kept; 1021: not. */
  memset(v, 'x', sizeof(v));
  v[1020] = '\0';
  metrics_inc("vodgate_long_total", "k", v);
  assert_int_equal(metrics_get("vodgate_long_total", "k", v), 1);
  v[1020] = 'x';
  v[1021] = '\0';
  metrics_inc("vodgate_long_total", "k", v);
  assert_int_equal(metrics_get("vodgate_long_total", "k", v), 0);
  t = render();
  assert_non_null(strstr(t, "# TYPE vodgate_a_total counter\n"
                            "vodgate_a_total{k=\"v\"} 1\n"
                            "vodgate_a_total 7\n"
                            "vodgate_a_total{k=\"v\\\"\"} 1\n"
                            "vodgate_a_total{k=\"v\",s=\"200\"} 1\n"
                            "# TYPE vodgate_b_total counter\n"
                            "vodgate_b_total{k=\"v\"} 2\n"));
  assert_non_null(strstr(t, "vodgate_http_requests_total{route=\"r\",status=\"200\"} 2\n"
                            "vodgate_http_requests_total{route=\"r\",status=\"-1\"} 1\n"));
  assert_non_null(strstr(t, "vodgate_http_request_duration_seconds_count{route=\"r\"} 3\n"));
  assert_non_null(strstr(t, "vodgate_metrics_dropped_total 0\n"));
  free(t);
  metrics_reset();
  assert_int_equal(metrics_get("vodgate_b_total", "k", "v"), 0);
  metrics_inc("vodgate_b_total", "k", "v");
  assert_int_equal(metrics_get("vodgate_b_total", "k", "v"), 1);
  metrics_reset();
}

static void *bump(void *arg)
{
  for (int i = 0; i < 10000; i++)
    metrics_inc("vodgate_race_total", "reason", (i & 1) ? "odd" : "even");
  return NULL;
}

static void concurrent(void **state)
{
  pthread_t th[8];
  metrics_reset();
  for (int i = 0; i < 8; i++)
    assert_int_equal(pthread_create(&th[i], NULL, bump, NULL), 0);
  for (int i = 0; i < 8; i++)
    pthread_join(th[i], NULL);
  assert_int_equal(metrics_get("vodgate_race_total", "reason", "odd"), 40000);
  assert_int_equal(metrics_get("vodgate_race_total", "reason", "even"), 40000);
  metrics_reset();
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(counters_and_help), cmocka_unit_test(label_escaping),
      cmocka_unit_test(histogram),         cmocka_unit_test(series_are_bounded),
      cmocka_unit_test(concurrent),        cmocka_unit_test(series_identity),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
