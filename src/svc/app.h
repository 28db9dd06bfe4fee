/*
 * app.h: the running service: configuration, HTTP server and the slots the
 * issuing and event services fill. One struct app per process, created by
 * `vodgate serve` (cmd/cmd_serve.c) and passed to every handler as the
 * `user` argument: `struct app *app = user;`.
 *
 * Configuration and reload: app->cfg is swapped on SIGHUP by app_reload()
 * on the main thread. A handler that reads configuration takes a reference
 * with app_cfg_get() and drops it with cfg_unref() before returning, so it
 * sees one consistent configuration even if a reload happens meanwhile.
 * Modules that derive state from the configuration (keys, policies) hook
 * app->on_reload, which builds the new state from the new cfg and either
 * accepts it (return 0; the new cfg is then swapped in) or refuses it
 * (return -1 with a reason; the old cfg and state stay).
 */
#ifndef VG_SVC_APP_H
#define VG_SVC_APP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "cfg/cfg.h"
#include "http/http.h"

struct store;
struct auth;
struct policies;
struct attr_keys;

struct app {
  pthread_mutex_t cfg_mu; /* guards the cfg pointer, not its contents */
  struct cfg *cfg;        /* current configuration; never NULL once running */
  char *cfg_path;         /* file reloaded on SIGHUP; NULL: none */
  char *listen_override;  /* --listen, kept across reloads */
  struct http_server *http;
  atomic_bool ready;    /* GET /readyz answers 200 */
  atomic_bool draining; /* SIGTERM received: /readyz answers 503 */
  bool test_routes;     /* VODGATE_TEST_ROUTES=1: /test/... routes exist */

  /* Called by app_reload() with the candidate cfg, before the swap. */
  int (*on_reload)(struct app *app, struct cfg *next, char *err, size_t errlen);

  /* Slots for the services built on top of this one; NULL until set. */
  struct store *store;
  struct auth *auth;
  struct policies *policies;
  struct attr_keys *attr;
  void *ext; /* anything else a service needs to hang off the app */
};

/* The current configuration with one reference taken; cfg_unref() it. */
struct cfg *app_cfg_get(struct app *app);

/* Load cfg_path (and the environment) again; on success run on_reload,
 * swap, and apply what the server itself uses (log level, CORS). On failure
 * keep everything as it was. Returns 0 or -1 with err set. */
int app_reload(struct app *app, char *err, size_t errlen);

/* Apply the parts of cfg the server uses directly (log level, CORS). */
void app_apply_cfg(struct app *app, struct cfg *cfg);

/* Build the services on top of the server (store, auth, policies, workers)
 * from app->cfg and set app->on_reload; called once before the server
 * starts. Returns 0, or -1 with a reason in err (start-up fails, exit 1).
 * svc/services.c; the issuing and event services fill it in. */
int app_services_init(struct app *app, char *err, size_t errlen);
/* Stop workers and free what app_services_init built; called after the
 * HTTP server has drained and stopped. Must cope with a partial init. */
void app_services_release(struct app *app);

/* The stop past [server] drain_timeout, when requests still run and
 * app_services_release cannot (it would wait for them): commits what was
 * acknowledged but is still held in memory (signature records written
 * behind), so that the process may _exit. Workers are not stopped (their
 * leases expire). */
void app_services_cut(struct app *app);

/* The route table: health, readiness, metrics, the services' routes and,
 * if app->test_routes, the test-only ones. *n receives the count. */
const struct http_route *app_routes(const struct app *app, size_t *n);

/* Handlers (svc/health.c). */
void svc_healthz(struct http_req *req, struct http_res *res, void *user);
void svc_readyz(struct http_req *req, struct http_res *res, void *user);
void svc_metrics(struct http_req *req, struct http_res *res, void *user);
void svc_test_slow(struct http_req *req, struct http_res *res, void *user);
void svc_test_echo(struct http_req *req, struct http_res *res, void *user);
void svc_test_thread(struct http_req *req, struct http_res *res, void *user);
void svc_test_json(struct http_req *req, struct http_res *res, void *user);

#endif
