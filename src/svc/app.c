#include "svc/app.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "svc/app.h"
#include "svc/jwks.h"
#include "svc/workers.h"

extern char **environ;

struct cfg *app_cfg_get(struct app *app)
{
  struct cfg *c;
  pthread_mutex_lock(&app->cfg_mu);
  c = cfg_ref(app->cfg);
  pthread_mutex_unlock(&app->cfg_mu);
  return c;
}

void app_apply_cfg(struct app *app, struct cfg *cfg)
{
  enum log_level lvl;
  size_t n;
  const char *const *origins = cfg_get_list(cfg, "server", "cors_origins", &n);

  if (log_parse_level(cfg_get_str(cfg, "server", "log_level"), &lvl) == 0)
    log_set_level(lvl);
  if (app->http)
    http_server_set_cors(app->http, origins, n,
                         (unsigned)cfg_get_int(cfg, "server", "cors_max_age"));
}

/* Keys read once at start-up; a reload that changes them only warns. The
 * [server] ones configure the HTTP server and the store; the others the
 * background workers (svc/workers.h), which are started once: the puller
 * ([events] mode, pull_*, [vod] api_endpoint) and the webhook forwarder
 * (its timing; its url and secret are read at each delivery, but whether it
 * runs at all is decided at start-up, see below). */
static const struct {
  const char *section, *key;
} restart_keys[] = {
    {"server", "listen"},
    {"server", "threads"},
    {"server", "max_connections"},
    {"server", "per_ip_connections"},
    {"server", "timeout"},
    {"server", "header_timeout"},
    {"server", "memory_limit"},
    {"server", "db"},
    {"server", "signature_records"},
    {"server", "signature_flush_ms"},
    {"server", "log_buffer_ms"},
    {"server", "cpu_affinity"},
    {"events", "mode"},
    {"events", "pull_timeout"},
    {"events", "pull_interval"},
    {"events", "pull_backoff_max"},
    {"vod", "api_endpoint"},
    {"webhook", "timeout"},
    {"webhook", "retry_schedule"},
    {"webhook", "retry_for"},
    {"webhook", "poll_interval"},
    {"webhook", "concurrency"},
};

static void warn_restart_keys(const struct cfg *old, const struct cfg *next)
{
  for (size_t i = 0; i < ARRAY_SIZE(restart_keys); i++) {
    const char *a = cfg_get_str(old, restart_keys[i].section, restart_keys[i].key);
    const char *b = cfg_get_str(next, restart_keys[i].section, restart_keys[i].key);
    if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0))
      log_warn("reload: [%s] %s changed; it takes effect on restart", restart_keys[i].section,
               restart_keys[i].key);
  }
  /* The forwarder starts only with a url and a secret at start-up: setting
   * either where there was none (or removing it) needs a restart; a new
   * url or secret in place of another applies at the next delivery. */
  if ((cfg_get_str(old, "webhook", "url") == NULL) !=
          (cfg_get_str(next, "webhook", "url") == NULL) ||
      (cfg_get_secret(old, "webhook", "secret", NULL) == NULL) !=
          (cfg_get_secret(next, "webhook", "secret", NULL) == NULL))
    log_warn("reload: [webhook] url or secret was set or unset; the webhook forwarder starts "
             "or stops on restart");
}

int app_reload(struct app *app, char *err, size_t errlen)
{
  struct cfg *next, *old;

  if (cfg_load(app->cfg_path, environ, &next, err, errlen))
    return -1;
  if (jwks_reload_check(app->cfg, next, err, errlen) || webhook_reload_check(next, err, errlen) ||
      retention_check_cfg(next, err, errlen) ||
      (app->on_reload && app->on_reload(app, next, err, errlen))) {
    cfg_unref(next);
    return -1;
  }
  pthread_mutex_lock(&app->cfg_mu);
  old = app->cfg;
  app->cfg = next;
  pthread_mutex_unlock(&app->cfg_mu);
  warn_restart_keys(old, next);
  /* Logged before the new log level applies, so that it is always seen. */
  log_info("configuration reloaded");
  app_apply_cfg(app, next);
  cfg_unref(old);
  return 0;
}
