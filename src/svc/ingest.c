/*
 * ingest.c: TEMPORARY implementation of svc/ingest.h (see there): the event
 * row and one outbox row per new event, in one transaction. Replaced by the
 * events branch's intake_prepare/intake_tx when it is merged.
 */
#include "svc/ingest.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cfg/cfg.h"
#include "core/limits.h"
#include "store/store.h"
#include "svc/app.h"
#include "svc/workers.h"

struct ingest_tx {
  const struct store_event *se;
  const char *payload; /* NULL: no webhook */
  bool is_new;
  int64_t outbox_id;
};

static int ingest_cb(struct store_tx *tx, void *arg)
{
  struct ingest_tx *it = arg;
  int rc = store_tx_event_insert(tx, it->se, &it->is_new);

  if (rc || !it->is_new || !it->payload)
    return rc;
  return store_tx_outbox_add(tx, it->se->event_key, it->payload, it->se->received_at,
                             &it->outbox_id);
}

static const char *opt_id(const char *s)
{
  return s && *s ? s : NULL;
}

int svc_ingest_event(struct app *app, const struct vod_event *ev, const char *raw, size_t raw_len,
                     const char *source, int64_t now, bool *is_new, char *reason, size_t cap)
{
  struct cfg *c = app_cfg_get(app);
  bool webhook = cfg_get_str(c, "webhook", "url") != NULL;
  struct store_event se = {
      .event_key = ev->key,
      .source = source,
      .type = ev->type_str,
      .file_id = opt_id(ev->file_id),
      .task_id = opt_id(ev->task_id),
      .status = opt_id(ev->status_str),
      .body_json = raw,
      .received_at = now,
  };
  struct ingest_tx it = {.se = &se};
  char *payload = NULL;
  int rc;

  cfg_unref(c);
  *is_new = false;
  if (raw_len > STORE_MAX_BODY || strlen(raw) != raw_len) {
    snprintf(reason, cap, "too_big:event");
    return VG_INVALID;
  }
  if (webhook) {
    json_t *p = json_pack("{s:s,s:s,s:s,s:s}", "type", "event.received", "eventKey", ev->key,
                          "eventType", ev->type_str, "fileId", ev->file_id);
    payload = p ? json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(p);
    if (!payload)
      return VG_NOMEM;
  }
  it.payload = payload;
  rc = store_run(app->store, ingest_cb, &it);
  free(payload);
  if (rc == VG_INVALID)
    snprintf(reason, cap, "bad_value:event (does not fit the store)");
  if (rc)
    return rc;
  *is_new = it.is_new;
  if (it.outbox_id > 0)
    webhook_wake();
  return VG_OK;
}

int svc_ingest_quarantine(struct app *app, const char *reason, const char *raw, size_t raw_len,
                          int64_t now)
{
  return store_quarantine_add(app->store, reason, raw, raw_len, now);
}
