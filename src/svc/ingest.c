/*
 * ingest.c: svc/ingest.h over the receiver's intake (svc/intake.h): the
 * puller commits an event exactly as POST /v1/vod/events does (event row,
 * ledger merge, outbox row per state change, in one transaction), then
 * wakes the uploads watcher and the webhook forwarder.
 */
#include "svc/ingest.h"

#include <string.h>

#include "cfg/cfg.h"
#include "store/store.h"
#include "svc/app.h"
#include "svc/events.h"
#include "svc/intake.h"
#include "svc/issuing.h"
#include "svc/state.h"
#include "svc/workers.h"

int svc_ingest_event(struct app *app, const struct vod_event *ev, const char *raw, size_t raw_len,
                     const char *source, int64_t now, bool *is_new, char *reason, size_t cap)
{
  struct svc_state *st = svc_state_get(app);
  struct intake in;
  int rc;

  *is_new = false;
  memset(&in, 0, sizeof(in));
  rc = intake_prepare(&in, ev, source, raw, raw_len, st,
                      cfg_get_str(st->cfg, "webhook", "url") != NULL, now, reason, cap);
  if (rc == VG_OK) {
    issuing_flush_now(svc_of(app) ? svc_of(app)->issuing : NULL); /* signatures' records first */
    rc = store_run(app->store, intake_tx, &in);
    if (rc == VG_INVALID)
      snprintf(reason, cap, "bad_value:event (refused by the store)");
  }
  if (rc == VG_OK) {
    *is_new = in.is_new;
    if (in.state_changed)
      svc_uploads_notify(in.ledger_upload);
    if (in.outbox_id > 0)
      webhook_wake();
  }
  intake_release(&in);
  svc_state_unref(st);
  return rc;
}

int svc_ingest_quarantine(struct app *app, const char *reason, const char *raw, size_t raw_len,
                          int64_t now)
{
  return store_quarantine_add(app->store, reason, raw, raw_len, now);
}
