/*
 * routes.c: the service's route table. A new endpoint is one line here and
 * one handler `void fn(struct http_req *req, struct http_res *res, void
 * *user)` where user is the struct app *.
 */
#include "svc/app.h"

#include "core/util.h"
#include "core/limits.h"
#include "svc/events.h"
#include "svc/issue.h"

/* clang-format off */
static const struct http_route routes[] = {
  /* method  path        prefix max_body handler      ctx   name  redact_path */
  {"GET",   "/healthz",  false, 0,      svc_healthz, NULL, "healthz", false},
  {"GET",   "/readyz",   false, 0,      svc_readyz,  NULL, "readyz", false},
  {"GET",   "/metrics",  false, 0,      svc_metrics, NULL, "metrics", false},
  {"POST",  "/v1/upload-signatures", false, 16384, svc_issue_signature, NULL, "upload_signatures", false},
  {"GET",   "/v1/upload-signatures", false, 0,     svc_issue_signature, NULL, "upload_signatures", false},
  /* Any method: with a path token, a wrong token must look like an unknown
   * path whatever the method (svc/events.c answers 404/405 itself). */
  {NULL,    "/v1/vod/events", true, EVENT_MAX_BODY, svc_vod_events, NULL, "vod_events", true},
  {"GET",   "/v1/uploads", true, 0, svc_uploads, NULL, "uploads", false},
};

/* Only with VODGATE_TEST_ROUTES=1 (tests/integration); never by default. */
static const struct http_route test_routes[] = {
  {"GET",   "/test/slow", false, 0,     svc_test_slow, NULL, "test_slow", false},
  {"POST",  "/test/echo", false, 1024,  svc_test_echo, NULL, "test_echo", false},
  {"POST",  "/test/json", false, 4096,  svc_test_json, NULL, "test_json", false},
  {"GET",   "/test/thread", false, 0,   svc_test_thread, NULL, "test_thread", false},
};
/* clang-format on */

const struct http_route *app_routes(const struct app *app, size_t *n)
{
  static struct http_route all[ARRAY_SIZE(routes) + ARRAY_SIZE(test_routes)];
  size_t k = 0;

  for (size_t i = 0; i < ARRAY_SIZE(routes); i++)
    all[k++] = routes[i];
  if (app->test_routes)
    for (size_t i = 0; i < ARRAY_SIZE(test_routes); i++)
      all[k++] = test_routes[i];
  *n = k;
  return all;
}
