/*
 * retention.c: the retention sweep ([retention] in the configuration).
 *
 * Without it the database keeps every event body and every delivered
 * webhook forever: about 4 KB and 0.7 KB per event with their indexes
 * (docs/operations.md "Disk"), the bulk of what grows.
 * One thread wakes every [retention] interval, reads the current
 * configuration (so a reload applies at the next sweep) and deletes the
 * events received and the webhooks delivered before now minus their
 * retention, oldest first, 256 rows per transaction with a pause between
 * transactions: on SQLite each one holds the only writer, so requests
 * waiting for a commit wait for at most one batch. Upload sessions,
 * signature records, the ledger, pending and dead webhooks and API tokens
 * are never deleted. With several instances on one PostgreSQL database
 * each sweeps; their batches are disjoint (store_pg.c, SKIP LOCKED).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cfg/cfg.h"
#include "core/log.h"
#include "core/util.h"
#include "http/metrics.h"
#include "store/store.h"
#include "svc/app.h"
#include "svc/workers.h"

#define RETENTION_BATCH       256
#define RETENTION_PAUSE_MS    20    /* between batches: other writers go first */
#define RETENTION_FIRST_DELAY 60    /* seconds from start to the first sweep, at most */
#define RETENTION_MIN         86400 /* a retention other than 0 is at least a day */

struct retention {
  struct app *app;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  atomic_bool stop;
};

static struct retention *g_rt;

static const struct {
  const char *key; /* [retention] key, also the metric's label */
  enum store_prune_what what;
} kinds[] = {{"events", STORE_PRUNE_EVENTS}, {"webhooks", STORE_PRUNE_WEBHOOKS}};

int retention_check_cfg(const struct cfg *c, char *err, size_t errlen)
{
  for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
    int64_t v = cfg_get_int(c, "retention", kinds[i].key);
    if (v != 0 && v < RETENTION_MIN) {
      snprintf(err, errlen,
               "[retention] %s: %lld s is too short: 0 (keep forever) or at least 1d "
               "(VOD may deliver an event again, and an operator needs time to look at "
               "what happened)",
               kinds[i].key, (long long)v);
      return -1;
    }
  }
  return 0;
}

static bool rt_wait(struct retention *r, int64_t ms)
{
  return worker_wait(&r->mu, &r->cv, &r->stop, NULL, ms);
}

/* Deletes every row of one kind older than its cutoff, a batch at a time.
 * Returns false once stop is set. */
static bool sweep_one(struct retention *r, const char *key, enum store_prune_what what,
                      int64_t keep)
{
  const int64_t before = (int64_t)time(NULL) - keep;
  int64_t total = 0, n;
  int rc;

  for (;;) {
    rc = store_prune(r->app->store, what, before, RETENTION_BATCH, &n);
    if (rc != VG_OK) {
      /* Logged by the store (without values); tried again next sweep. */
      log_warn("retention: deleting old %s failed (%s); next sweep tries again", key,
               vg_strerror(rc));
      metrics_inc("vodgate_retention_failures_total", "what", key);
      break;
    }
    total += n;
    metrics_add("vodgate_retention_deleted_total", "what", key, (uint64_t)n);
    if (n < RETENTION_BATCH || !rt_wait(r, RETENTION_PAUSE_MS))
      break;
  }
  if (total > 0)
    log_info("retention: deleted %lld %s older than %lld s", (long long)total, key,
             (long long)keep);
  return !atomic_load(&r->stop);
}

static void *rt_main(void *arg)
{
  struct retention *r = arg;
  struct cfg *c = app_cfg_get(r->app);
  int64_t interval = cfg_get_int(c, "retention", "interval");

  cfg_unref(c);
  thread_name("vg-retention");
  if (!rt_wait(r, (interval < RETENTION_FIRST_DELAY ? interval : RETENTION_FIRST_DELAY) * 1000))
    return NULL;
  for (;;) {
    int64_t keep[ARRAY_SIZE(kinds)];

    /* Checked by retention_check_cfg at start and at each reload. */
    c = app_cfg_get(r->app);
    interval = cfg_get_int(c, "retention", "interval");
    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
      keep[i] = cfg_get_int(c, "retention", kinds[i].key);
    cfg_unref(c);
    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
      if (keep[i] > 0 && !sweep_one(r, kinds[i].key, kinds[i].what, keep[i]))
        return NULL;
    if (!rt_wait(r, interval * 1000))
      return NULL;
  }
}

int retention_start(struct app *app, char *err, size_t errlen)
{
  struct cfg *c = app_cfg_get(app);
  struct retention *r;
  int rc = retention_check_cfg(c, err, errlen);

  cfg_unref(c);
  if (rc)
    return -1;
  r = xcalloc(1, sizeof(*r));
  r->app = app;
  pthread_mutex_init(&r->mu, NULL);
  worker_cond_init(&r->cv);
  atomic_init(&r->stop, false);
  if (pthread_create(&r->th, NULL, rt_main, r)) {
    snprintf(err, errlen, "cannot start the retention thread");
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
    return -1;
  }
  g_rt = r;
  metrics_describe("vodgate_retention_deleted_total",
                   "Rows deleted by the retention sweep, by what ([retention] events, webhooks).");
  metrics_describe("vodgate_retention_failures_total",
                   "Retention batches that failed (tried again at the next sweep).");
  return 0;
}

void retention_stop(void)
{
  struct retention *r = g_rt;

  if (!r)
    return;
  g_rt = NULL;
  worker_signal_stop(&r->mu, &r->cv, &r->stop);
  pthread_join(r->th, NULL);
  pthread_cond_destroy(&r->cv);
  pthread_mutex_destroy(&r->mu);
  free(r);
}
