/*
 * routes.c: the service's route table. A new endpoint is one line here and
 * one handler `void fn(struct http_req *req, struct http_res *res, void
 * *user)` where user is the struct app *.
 */
#include "svc/app.h"

#include "core/util.h"
#include "svc/issue.h"

/* clang-format off */
static const struct http_route routes[] = {
  /* method  path        prefix max_body handler      ctx   name */
  {"GET",   "/healthz",  false, 0,      svc_healthz, NULL, "healthz"},
  {"GET",   "/readyz",   false, 0,      svc_readyz,  NULL, "readyz"},
  {"GET",   "/metrics",  false, 0,      svc_metrics, NULL, "metrics"},
  {"POST",  "/v1/upload-signatures", false, 16384, svc_issue_signature, NULL, "upload_signatures"},
  {"GET",   "/v1/upload-signatures", false, 0,     svc_issue_signature, NULL, "upload_signatures"},
  /* The event service adds its routes here. */
};

/* Only with VODGATE_TEST_ROUTES=1 (tests/integration); never by default. */
static const struct http_route test_routes[] = {
  {"GET",   "/test/slow", false, 0,     svc_test_slow, NULL, "test_slow"},
  {"POST",  "/test/echo", false, 1024,  svc_test_echo, NULL, "test_echo"},
  {"POST",  "/test/json", false, 4096,  svc_test_json, NULL, "test_json"},
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
