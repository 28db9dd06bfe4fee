/*
 * intake.h: committing one VOD event (push or pull) with its effects: the
 * event row (idempotency), the upload ledger row of its FileId, and an
 * outbox row per state change, all in ONE transaction (one group commit).
 * The push receiver (svc/events.c), the puller and `vodgate events replay`
 * use the same two calls:
 *
 *   struct intake in;
 *   intake_prepare(&in, &ev, "push", raw, raw_len, st, webhook, now);  // no store I/O
 *   rc = store_run(store, intake_tx, &in);                          // or store_submit
 *   ... in.is_new, in.state_changed, in.state ...
 *   intake_release(&in);
 *
 * intake_prepare does the CPU work outside the writer: the attribution
 * token check and the normalised body to store. intake_tx does the rest on
 * the writer: insert the event (a duplicate key stops there: no second
 * effect), read the ledger row, merge (event/ledger.h), look up the upload
 * session of a verified token for its user and policy, apply the policy's
 * caps, write the row, and add the outbox row if the state changed and
 * webhooks are on.
 *
 * Ownership: struct intake borrows ev and st (both must outlive the
 * store_run/store_submit) and owns body_json; intake_release frees it.
 */
#ifndef VG_SVC_INTAKE_H
#define VG_SVC_INTAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"
#include "event/event.h"

struct store_tx;
struct svc_state;

struct intake {
  /* inputs */
  const struct vod_event *ev;
  const char *source; /* "push" or "pull" */
  const struct svc_state *st;
  bool webhook;       /* [webhook] url set: write outbox rows */
  bool replay;        /* re-apply a stored event: no insert, effects again */
  bool force_webhook; /* add an outbox row even without a state change */
  int64_t now;
  char *body_json;                        /* what the event row stores (owned) */
  const char *attr;                       /* attribution status: "ok", "missing", ... (static) */
  char upload_id[ATTR_MAX_UPLOAD_ID + 1]; /* from a verified token, else "" */
  /* outputs, meaningful when the transaction committed */
  bool is_new;        /* the event key was new (or replay) */
  bool state_changed; /* the ledger state of the file changed, or this event
                       * attributed it (its upload was "issued" until now) */
  char state[24];     /* the file's state after the event ("" if no ledger effect) */
  char old_state[24]; /* before ("issued" when there was no row or this
                       * event attributed the file) */
  /* The upload the file is attributed to after the event, "" when none:
   * the only long poll (GET /v1/uploads/<id>?wait) a change can answer. */
  char ledger_upload[ATTR_MAX_UPLOAD_ID + 1];
  int64_t outbox_id; /* > 0 if an outbox row was added */
};

/* Prepare in for ev (which the caller parsed). raw/raw_len: the body or
 * pull item as received (for the stored copy: compact JSON without Sign,
 * T and EventHandle; bodies over STORE_MAX_BODY lose their review
 * SegmentSets, then, if still too big, all but the envelope). Returns
 * VG_OK, VG_INVALID with a reason ("bad_value:FileId" when an id does not
 * fit the store) or VG_NOMEM. */
int intake_prepare(struct intake *in, const struct vod_event *ev, const char *source,
                   const char *raw, size_t raw_len, const struct svc_state *st, bool webhook,
                   int64_t now, char *reason, size_t cap);
void intake_release(struct intake *in);

/* The transaction callback (store_tx_fn); arg is a struct intake *. */
int intake_tx(struct store_tx *tx, void *arg);

#endif
