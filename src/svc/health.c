/*
 * health.c: liveness, readiness, metrics, and the test-only routes.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"
#include "http/metrics.h"
#include "svc/app.h"
#include "svc/issuing.h"
#include "svc/state.h"
#include "svc/workers.h"

void svc_healthz(struct http_req *req, struct http_res *res, void *user)
{
  static const char ok[] = "{\"status\":\"ok\"}"; /* load balancers ask often */

  http_res_body(res, 200, "application/json", ok, sizeof(ok) - 1);
}

void svc_readyz(struct http_req *req, struct http_res *res, void *user)
{
  struct app *app = user;

  if (atomic_load(&app->draining)) {
    http_error(res, 503, VG_CODE_UNAVAILABLE, "draining");
    return;
  }
  if (!atomic_load(&app->ready)) {
    http_error(res, 503, VG_CODE_UNAVAILABLE, "starting");
    return;
  }
  http_res_json(res, 200, json_pack("{s:s}", "status", "ready"));
}

void svc_metrics(struct http_req *req, struct http_res *res, void *user)
{
  struct svc *svc = svc_of(user);
  struct buf b;

  buf_init(&b, 4 * 1024 * 1024);
  if (metrics_render(&b) || webhook_metrics_render(&b) ||
      (svc && svc->issuing && issuing_metrics_render(svc->issuing, &b))) {
    buf_release(&b);
    http_error(res, 500, VG_CODE_INTERNAL, "metrics too large");
    return;
  }
  http_res_body(res, 200, "text/plain; version=0.0.4; charset=utf-8", b.ptr, b.len);
  buf_release(&b);
}

/* GET /test/slow?ms=N: sleeps N ms (at most 30 s) on a worker thread, to
 * test draining with a request in flight. Only with VODGATE_TEST_ROUTES=1. */
void svc_test_slow(struct http_req *req, struct http_res *res, void *user)
{
  const char *ms = http_req_query(req, "ms");
  uint64_t n = 1000;
  struct timespec ts;

  if (ms && (parse_u64z(ms, &n) || n > 30000)) {
    http_error(res, 400, VG_CODE_BAD_REQUEST, "ms must be 0..30000");
    return;
  }
  log_info("test_slow: started, sleeping %llu ms", (unsigned long long)n);
  ts.tv_sec = (time_t)(n / 1000);
  ts.tv_nsec = (long)(n % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0)
    ;
  http_res_json(res, 200, json_pack("{s:I}", "slept_ms", (json_int_t)n));
}

/* POST /test/echo: answers the body length and whether Authorization was
 * present (never its value). Body limit 1 KiB. */
void svc_test_echo(struct http_req *req, struct http_res *res, void *user)
{
  http_res_json(res, 200,
                json_pack("{s:I,s:b}", "len", (json_int_t)req->body_len, "authorization",
                          http_req_header(req, "Authorization") != NULL));
}

/* GET /test/thread: the id of the thread serving this connection, to see
 * that connections are spread over the HTTP threads. */
void svc_test_thread(struct http_req *req, struct http_res *res, void *user)
{
  http_res_json(res, 200, json_pack("{s:I}", "thread", (json_int_t)gettid()));
}

/* POST /test/json: parses the body with http_req_json and returns it. */
void svc_test_json(struct http_req *req, struct http_res *res, void *user)
{
  json_t *j;

  if (http_req_json(req, &j, res))
    return;
  http_res_json(res, 200, json_pack("{s:o}", "got", j ? j : json_null()));
}
