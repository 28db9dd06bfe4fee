/*
 * services.c: where the services built on the HTTP foundation are created
 * and torn down. `vodgate serve` calls app_services_init() after loading the
 * configuration and blocking signals (the store starts a writer thread,
 * which must inherit the mask) and before listening, and
 * app_services_release() after the server has drained, so a service needs
 * one init block and one release block here plus its routes in routes.c.
 */
#include "svc/app.h"

#include <stdio.h>
#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "http/metrics.h"
#include "store/store.h"
#include "svc/events.h"
#include "svc/issuing.h"
#include "svc/jwks.h"
#include "svc/state.h"
#include "svc/workers.h"

int app_services_init(struct app *app, char *err, size_t errlen)
{
  int rc = store_open(cfg_get_str(app->cfg, "server", "db"), NULL, &app->store);

  if (rc) {
    snprintf(err, errlen, "[server] db: cannot open the database (%s)", vg_strerror(rc));
    return -1;
  }
  /* Signing keys, JWT verifier (with [auth] jwks_url fetched first),
   * attribution keys, policies (svc/state.c). */
  if (jwks_start(app, err, errlen))
    return -1;
  if (svc_init(app, err, errlen) || jwks_run(err, errlen))
    return -1;
  /* The push receiver (svc/events.c): refuse to run it unauthenticated. */
  {
    const char *why;
    if (!svc_events_receiver_ok(app->cfg, &why) &&
        strcmp(cfg_get_str(app->cfg, "events", "mode"), "pull") != 0)
      log_error("%s; POST /v1/vod/events answers 503", why);
  }
  metrics_describe("vodgate_events_total",
                   "VOD events committed, by type and result (new, duplicate).");
  metrics_describe(
      "vodgate_events_rejected_total",
      "VOD event requests refused, by reason (malformed, path_token, missing, bad_sign, ...).");
  metrics_describe("vodgate_events_quarantine_skipped_total",
                   "Malformed event bodies not kept in the quarantine table ([events] "
                   "quarantine_per_minute exceeded); each was answered 400.");
  metrics_describe("vodgate_upload_watch_reads_total",
                   "Uploads re-read for long polls, by cause (new waiter, change of its upload, "
                   "recheck every second, time up).");
  if (svc_uploads_init(app)) {
    snprintf(err, errlen, "cannot start the long-poll watcher thread");
    return -1;
  }
  /* Background workers (svc/workers.h): after the store, before listening. */
  if (webhook_start(app, err, errlen) || puller_start(app, err, errlen) ||
      retention_start(app, err, errlen))
    return -1;
  return 0;
}

void app_services_release(struct app *app)
{
  /* Workers first: the puller's commits notify the uploads watcher. */
  puller_stop();
  webhook_stop();
  retention_stop();
  jwks_stop();
  svc_uploads_release();
  svc_release(app);
  store_close(app->store);
  app->store = NULL;
}

void app_services_cut(struct app *app)
{
  struct svc *svc = svc_of(app);

  if (!svc)
    return;
  /* Signatures already answered: their records (session row, quota unit,
   * audit) must be in the database before the process goes. */
  (void)issuing_seal(svc->issuing); /* logs what it could not commit */
}
