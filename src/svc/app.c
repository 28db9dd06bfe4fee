#include "svc/app.h"

#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "svc/app.h"

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

/* Keys read once at start-up; a reload that changes them only warns. */
static const char *const restart_keys[] = {"listen",
                                           "threads",
                                           "max_connections",
                                           "per_ip_connections",
                                           "timeout",
                                           "header_timeout",
                                           "memory_limit",
                                           "db",
                                           "signature_records",
                                           "signature_flush_ms",
                                           "log_buffer_ms",
                                           "cpu_affinity"};

int app_reload(struct app *app, char *err, size_t errlen)
{
  struct cfg *next, *old;

  if (cfg_load(app->cfg_path, environ, &next, err, errlen))
    return -1;
  if (app->on_reload && app->on_reload(app, next, err, errlen)) {
    cfg_unref(next);
    return -1;
  }
  pthread_mutex_lock(&app->cfg_mu);
  old = app->cfg;
  app->cfg = next;
  pthread_mutex_unlock(&app->cfg_mu);
  for (size_t i = 0; i < ARRAY_SIZE(restart_keys); i++) {
    const char *a = cfg_get_str(old, "server", restart_keys[i]);
    const char *b = cfg_get_str(next, "server", restart_keys[i]);
    if ((a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0))
      log_warn("reload: [server] %s changed; it takes effect on restart", restart_keys[i]);
  }
  /* Logged before the new log level applies, so that it is always seen. */
  log_info("configuration reloaded");
  app_apply_cfg(app, next);
  cfg_unref(old);
  return 0;
}
