/*
 * ledger.h: the upload ledger's merge rule (issue 4), pure: jansson only.
 *
 * One ledger row per FileId keeps, in its detail JSON object, the FACTS
 * learnt from that file's events, not a sequence of transitions:
 *
 *   "uploaded": true          a NewFileUpload was seen
 *   "processing": true        a ProcedureStateChanged that is not FINISH
 *   "verdict": "passed"|...   the worst FINISH verdict seen (event.h order
 *                             pass < review < failed < block; ties: the
 *                             higher confidence), with "review":
 *                             {"type","suggestion","label","confidence"}
 *   "rejected": "<reason>"    a post-upload policy cap was exceeded (sticky)
 *   "upload": {...}           media fields reported by NewFileUpload
 *   "procedure": {...}        media fields reported by ProcedureStateChanged
 *                             (mediaUrl, coverUrl, name, type, size,
 *                             duration, container; a known value replaces,
 *                             an unknown one never erases)
 *   "attribution": "ok"|"missing"|"malformed"|"unknown_key"|"bad_mac"|
 *                  "unknown_session"   (informational)
 *
 * Every merge is a join (commutative, associative, idempotent): flags only
 * turn on, the verdict only gets worse, the rejection never goes away. So
 * the same set of events gives the same detail in any order, duplicates
 * change nothing, and replaying a stored event is harmless.
 *
 * The state is DERIVED from the facts, never stored as the only truth:
 *   rejected   if "rejected"
 *   else the verdict (passed | review | failed | blocked) if one is known
 *   else processing if "processing"
 *   else uploaded
 * "issued" is the state of an upload session without any file yet (the
 * ledger has no row; svc answers it from the session). Hence a PROCESSING
 * after FINISH (taskNotifyMode=Change) never regresses, a
 * ProcedureStateChanged before its NewFileUpload ends up the same, and a
 * terminal state only ever moves to a "worse" one (e.g. passed -> rejected
 * when a later event reveals the file is over a cap).
 *
 * Media fields shown to users prefer NewFileUpload's ("upload") over
 * ProcedureStateChanged's ("procedure").
 */
#ifndef VG_EVENT_LEDGER_H
#define VG_EVENT_LEDGER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event/event.h"

enum ledger_state {
  LEDGER_ISSUED = 0,
  LEDGER_UPLOADED,
  LEDGER_PROCESSING,
  LEDGER_PASSED,
  LEDGER_REVIEW,
  LEDGER_BLOCKED,
  LEDGER_FAILED,
  LEDGER_REJECTED,
};

/* "issued", "uploaded", "processing", "passed", "review", "blocked",
 * "failed", "rejected". */
const char *ledger_state_str(enum ledger_state s);
/* The state named s; false for an unknown name. */
bool ledger_state_parse(const char *s, enum ledger_state *out);
/* passed, review, blocked, failed and rejected: no event moves a file out
 * of them except to a worse one. */
bool ledger_state_terminal(enum ledger_state s);

/* Merge what ev says about its file into detail (a JSON object owned by
 * the caller). Types other than NewFileUpload and ProcedureStateChanged
 * change nothing. Returns true if detail changed. */
bool ledger_merge_event(json_t *detail, const struct vod_event *ev);

/* Record the attribution status (a stable string, see above). Returns true
 * if detail changed. "ok" is sticky: a later forged token does not undo a
 * verified one. */
bool ledger_merge_attribution(json_t *detail, const char *status);

/* Post-upload policy caps (0 / NULL: no cap). containers: NULL-terminated
 * list of accepted names, compared case-insensitively with the file's
 * MediaBasicInfo.Type (e.g. "mp4") when known, else with each item of
 * MetaData.Container ("mov,mp4,m4a,..."). Checks the effective size,
 * duration and container; an unknown value passes (it cannot be judged).
 * If a cap is exceeded and detail has no "rejected" yet, sets it to a
 * reason like "size 7700180 exceeds max_size 1000000" and returns true. */
bool ledger_apply_caps(json_t *detail, int64_t max_size, int64_t max_duration,
                       const char *const *containers);

/* The state derived from detail (see above). */
enum ledger_state ledger_state_of(const json_t *detail);

/* The API's upload object: {"uploadId","user","state","fileId","mediaUrl",
 * "coverUrl","review":{"suggestion","label","confidence"},"reason",
 * "updatedAt"}; absent values are null. upload_id, user and file_id may be
 * NULL or "" (null), detail may be NULL (a session without a file). New
 * reference; never NULL. */
json_t *ledger_upload_json(const char *upload_id, const char *user, const char *state,
                           const char *file_id, const json_t *detail, int64_t updated_at);

#endif
