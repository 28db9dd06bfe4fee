/*
 * ingest.h: the one call that commits a parsed VOD event, used by the event
 * puller (svc/puller.c) and meant to be the same path the push receiver
 * uses (svc/events.c: intake_prepare + intake_tx).
 *
 * Contract (what the puller relies on; any implementation must keep it):
 * - svc_ingest_event() returns VG_OK only once the event row (idempotency
 *   key ev->key), its effects (ledger, outbox rows) are DURABLE, in one
 *   transaction. A key already stored returns VG_OK with *is_new = false and
 *   has no second effect. Only after VG_OK may the puller confirm the
 *   event's handle.
 * - VG_INVALID: the event can never be stored as it is (e.g. an id longer
 *   than the store allows); reason says why. The caller quarantines it.
 * - Any other error (VG_IO, VG_AGAIN, VG_NOMEM): nothing was committed; the
 *   caller must not confirm (the event is pulled again later).
 * - When an outbox row was added, the webhook forwarder is woken.
 *
 * Implementation (ingest.c): intake_prepare + store_run(intake_tx), the
 * push receiver's own code path (svc/intake.h), then svc_uploads_notify()
 * of the file's upload on a state change and webhook_wake() when an outbox row was added.
 */
#ifndef VG_SVC_INGEST_H
#define VG_SVC_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "event/event.h"

struct app;

/* Commit ev (parsed by the caller; borrowed). raw/raw_len: the event as
 * received (a pull item: compact JSON). source: "push" or "pull". now: Unix
 * seconds. *is_new: the key was new. reason[cap] on VG_INVALID. */
int svc_ingest_event(struct app *app, const struct vod_event *ev, const char *raw, size_t raw_len,
                     const char *source, int64_t now, bool *is_new, char *reason,
                     size_t cap) WARN_UNUSED;

/* Keep a malformed event for inspection (store_quarantine_add); durable on
 * VG_OK. */
int svc_ingest_quarantine(struct app *app, const char *reason, const char *raw, size_t raw_len,
                          int64_t now) WARN_UNUSED;

#endif
