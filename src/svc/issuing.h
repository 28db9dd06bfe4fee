/*
 * issuing.h: the signature service's state in memory, persisted behind the
 * answer (write-behind), for the SQLite backend.
 *
 * Why: every signature opens or continues an upload session, spends a unit
 * of the user's daily quota and leaves an audit row. Committing those before
 * answering made each signature wait for a group commit and cross two
 * threads (park the connection, commit, resume). Here the checks run in
 * memory on the request thread, the answer goes out at once, and the records
 * of each flush_ms interval (issuing_new) are committed together shortly
 * after: one commit per interval, not one per signature or per fsync.
 *
 * Invariants
 * - This process is the only writer of sessions and quota counters in its
 *   SQLite database (one `vodgate serve` per database), so the table below
 *   is authoritative: an entry, once loaded, is never re-read from the
 *   store while it lives. Limits (uploads_per_day, signatures_per_upload)
 *   are checked and counted under one mutex: exact under any concurrency.
 * - Entries are loaded on a miss from committed data and evicted only when
 *   clean (everything they counted is committed), so a later miss reads
 *   the same numbers back.
 * - Ordering: the event intake calls issuing_flush_now before it queues
 *   an event's transaction on the store's single FIFO writer, so the
 *   records of every signature answered before that call (the one that
 *   allowed the upload the event is about, in particular) are written
 *   before the event is applied, however the flushes are paced.
 * - Crash window: a crash (SIGKILL, power loss) loses what the last flush
 *   had not committed yet: the signatures of the last flush_ms plus one
 *   commit (session rows, audit rows, quota units). A clean stop
 *   (SIGTERM) flushes all, also one past the drain timeout (issuing_seal).
 * - A new session's upload_id must be new: issuing_open refuses one it
 *   holds in memory, but does not read the store for one evicted from it
 *   (a read per signature); svc/issue.c makes ids of 48 bits of time and
 *   80 random bits. A duplicate would fail every flush after it.
 * - Records are checked with the store's own checks (store_session_check,
 *   store_audit_check) before they are acknowledged, for the same reason.
 * - A failing flush keeps its records and is retried, with the records
 *   made since, after ISSUING_RETRY_MIN_MS doubling to ISSUING_RETRY_MAX_MS:
 *   by the pacer thread when no request comes, never sooner by a request
 *   (issuing_flush_now does not wait: an event's ordering). While more than
 *   ISSUING_MAX_PENDING records wait, new signatures are refused (VG_AGAIN)
 *   instead of piling up in memory.
 *
 * Thread safety: every function may be called from any thread, except
 * issuing_free (the owner, after the HTTP server stopped).
 */
#ifndef VG_SVC_ISSUING_H
#define VG_SVC_ISSUING_H

#include "core/buf.h"

#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

struct issuing;

/* A new, empty state over s (which must outlive it). Never NULL.
 * flush_ms > 0: records are committed in batches, the first record of a
 * batch waiting at most flush_ms before its flush is queued (a thread,
 * vg-issuing, paces them); 0: each flush is queued as soon as the previous
 * one started. The same thread retries failed flushes in both cases. */
struct issuing *issuing_new(struct store *s, int flush_ms);

/* Queues the flush of every record waiting now (if any, and unless a
 * flush is already queued and not started): a transaction queued on the
 * store after this call runs after them. Cheap when nothing waits. */
void issuing_flush_now(struct issuing *is);

/* Appends this state's series in Prometheus text format to out:
 * vodgate_upload_sessions_cached (gauge), vodgate_upload_sessions_evicted_total
 * (clean sessions dropped from memory; a later reuse reads them back) and
 * vodgate_signature_records_pending (gauge: records not committed yet).
 * Returns VG_OK or VG_TOOBIG (out is full). */
int issuing_metrics_render(struct issuing *is, struct buf *out) WARN_UNUSED;

/* For a stop that cannot call issuing_free (requests still running past
 * the drain timeout): refuses every new record from now on (issuing_open
 * and issuing_next return VG_AGAIN: 503, nothing answered that would not
 * be written), then commits every record waiting and waits for that
 * commit. Returns the records still not committed (a failed commit keeps
 * them; logged); NULL: 0. */
size_t issuing_seal(struct issuing *is);

/* Commits every pending record (waits for it), then frees. NULL: no-op.
 * Call before store_close. */
void issuing_free(struct issuing *is);

/*
 * The session upload_id as this process knows it, into *out (release with
 * store_session_release): from memory, else from the store (and then kept
 * in memory). VG_NOTFOUND if there is no such session; store errors as
 * store_session_get.
 */
int issuing_session_get(struct issuing *is, const char *upload_id,
                        struct store_session *out) WARN_UNUSED;

/*
 * Opens a new upload session: spends one unit of (sess->user_id, day) if
 * fewer than quota_limit were used (0: no limit), records the session (its
 * signatures_issued counts this first signature, so it is 1) with a as its
 * first signature (the session row records it, store_session.first; a->n
 * is ignored). Returns VG_OK; VG_CONFLICT (quota used up; nothing
 * recorded); VG_AGAIN (too many records wait for the store, or sealed); VG_INVALID
 * (bad strings, a count other than 1, expires_at before created_at, a not
 * of this session's id, user and created_at); VG_IO (the quota could not
 * be read).
 */
int issuing_open(struct issuing *is, const struct store_session *sess, int64_t day,
                 int64_t quota_limit, const struct store_audit *a) WARN_UNUSED;

/*
 * The next signature of session upload_id for user: VG_NOTFOUND (no such
 * session, someone else's, or expired at now), VG_CONFLICT (limit
 * signatures reached; 0: no limit), VG_AGAIN, VG_INVALID, VG_IO as above.
 * On VG_OK the count went up by one and the audit row a is recorded with
 * that new count as its ordinal (a->n is ignored).
 */
int issuing_next(struct issuing *is, const char *upload_id, const char *user, int64_t now,
                 int64_t limit, const struct store_audit *a) WARN_UNUSED;

#endif
