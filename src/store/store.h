/*
 * store.h: vodgate's persistent state behind one interface that both the
 * SQLite backend (store_sqlite.c) and the PostgreSQL backend (store_pg.c)
 * implement: upload sessions, the signature audit trail, API tokens, daily
 * quota counters, and the event intake tables (events, ledger, outbox,
 * quarantine).
 *
 * Backends implement struct store_ops (store_impl.h, the ops vtable); this
 * header is what callers use, whatever the backend.
 *
 * Model
 * - Reads (store_session_get, store_token_find, ...) run on the calling
 *   thread against a reader connection and see committed data only.
 * - Every write runs inside a transaction callback given to store_run().
 *   The callback receives a struct store_tx and calls store_tx_* functions
 *   on it; it either returns VG_OK (its writes commit together) or an error
 *   (all of its writes are rolled back and store_run returns that error).
 *   store_run returns only after the outcome is durable: VG_OK means
 *   committed with the backend's durability (SQLite: synchronous=FULL).
 *   store_submit() is the same without blocking: a callback reports the
 *   outcome. The store_* write functions without _tx_ are one-callback
 *   conveniences over store_run.
 * - SQLite: one writer thread owns the only write connection. It drains a
 *   queue and runs every callback queued while the previous commit was in
 *   flight inside ONE transaction (each callback in its own SAVEPOINT), then
 *   commits once and wakes each caller. So N concurrent requests cost one
 *   fsync, not N, and check-and-increment (quota, signature limits) is
 *   atomic because only one thread writes.
 * - PostgreSQL: the callback runs on the calling thread inside
 *   BEGIN..COMMIT on a pooled connection; the SQL is written so that
 *   concurrent transactions stay correct under READ COMMITTED (atomic
 *   UPSERT / UPDATE .. WHERE .. RETURNING).
 *
 * Rules for transaction callbacks (store_tx_fn)
 * - Keep them short and free of side effects outside the store: on SQLite
 *   they run on the writer thread and delay every other writer; on any
 *   backend a callback that returned VG_OK may still see its transaction fail
 *   at COMMIT (store_run then returns VG_IO), so results written to *arg are
 *   meaningful only when store_run returns VG_OK.
 * - Never call store_run (or any non-tx store_* function) from inside a
 *   callback: on SQLite that deadlocks the writer.
 * - The struct store_tx is valid only during the callback.
 * - VG_CONFLICT and VG_NOTFOUND from a store_tx_* call are outcomes the
 *   callback may act on and carry on. After VG_INVALID or VG_IO it must
 *   return an error: on PostgreSQL the transaction is already aborted (and
 *   is rolled back with VG_IO even if the callback returns VG_OK).
 *
 * Strings: every string argument is NUL-terminated UTF-8 whose length is
 * bounded by limits.h (STORE_MAX_*); longer or empty required strings give
 * VG_INVALID before any SQL runs. Times are Unix seconds given by the caller
 * (the store never reads the clock, so tests are deterministic).
 *
 * Thread safety: a struct store may be used by any number of threads at
 * once, except store_close(), which the owner calls after every other thread
 * has stopped using the store.
 *
 * Errors (enum vg_err): VG_OK; VG_INVALID (argument rejected); VG_NOTFOUND;
 * VG_CONFLICT (a limit was hit or a unique key exists, as documented per
 * function); VG_AGAIN (the store is shutting down); VG_IO (database error,
 * already logged without any argument values).
 */
#ifndef VG_STORE_H
#define VG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/limits.h"

struct store;    /* opaque handle, from store_open() */
struct store_tx; /* opaque transaction, valid inside a store_tx_fn only */

/* ------------------------------------------------------------------ */
/* Lifecycle                                                           */

struct store_options {
  /* SQLite: synchronous=NORMAL instead of FULL. Loses the last commits on
   * power failure (not on a process crash). For benchmarks only: vodgate
   * acknowledges events with 200 and must not forget them. */
  bool sync_normal;
  /* SQLite: one transaction per store_run instead of group commit. For
   * benchmarks (the baseline the group commit is measured against). */
  bool no_group_commit;
  /* PostgreSQL: maximum pooled connections (0: STORE_PG_POOL_DEFAULT). */
  unsigned pg_pool_size;
};

/*
 * Opens the store named by url and brings its schema to the current version
 * (idempotent; concurrent openers are serialised by the database).
 *   "sqlite:PATH" or a bare PATH  -> SQLite file PATH (the parent directory
 *                                    is created with mode 0700 if missing)
 *   "postgres://..." / "postgresql://..." -> PostgreSQL (libpq URI)
 * opt may be NULL (defaults: FULL, group commit). On success *out owns the
 * store (free with store_close). The url may hold a password: it is never
 * logged. Errors: VG_INVALID (bad url), VG_IO (cannot open/migrate; logged).
 */
int store_open(const char *url, const struct store_options *opt, struct store **out) WARN_UNUSED;

/* Commits and acknowledges every queued write, stops the writer, closes all
 * connections and frees s. NULL is a no-op. */
void store_close(struct store *s);

/* "sqlite" or "postgres"; static string. */
const char *store_backend(const struct store *s);

/* Schema version the store is at after store_open (STORE_SCHEMA_VERSION). */
#define STORE_SCHEMA_VERSION 9
int store_schema_version(struct store *s, int64_t *out) WARN_UNUSED;

/* UTC day number used as the quota period: floor(unix_time / 86400). */
int64_t store_utc_day(int64_t unix_time);

/* ------------------------------------------------------------------ */
/* Transactions                                                        */

typedef int (*store_tx_fn)(struct store_tx *tx, void *arg);

/*
 * Runs fn(tx, arg) in a write transaction and waits until it is durable.
 * Returns fn's error if fn failed (its writes are rolled back), VG_IO if the
 * commit failed, VG_AGAIN if the store is closing, else VG_OK. fn is called
 * exactly once (not called at all on VG_AGAIN).
 */
int store_run(struct store *s, store_tx_fn fn, void *arg) WARN_UNUSED;

/*
 * The asynchronous form of store_run, for request handlers that suspend
 * their connection instead of blocking a thread (a thread pool of 4 that
 * blocks on the store caps every group commit at 4 writes; 64 suspended
 * connections fill a group of 64). Queues fn(tx, arg); once its outcome is
 * durable, calls done(rc, done_arg) exactly once, with rc as store_run would
 * return it. Both fn and arg must stay valid until done runs.
 *
 * done runs on a store thread (SQLite: the writer, so it must be short and
 * must not block or call the store: e.g. MHD_resume_connection), or, on
 * PostgreSQL, on the calling thread BEFORE store_submit returns. So suspend
 * the connection first, then submit. Returns VG_OK if queued; VG_AGAIN if
 * the store is closing (done is then never called). store_close() runs all
 * queued callbacks before it returns.
 */
typedef void (*store_done_fn)(int rc, void *done_arg);
int store_submit(struct store *s, store_tx_fn fn, void *arg, store_done_fn done,
                 void *done_arg) WARN_UNUSED;

/* ------------------------------------------------------------------ */
/* Upload sessions                                                     */

struct store_audit; /* below */

struct store_session {
  char upload_id[STORE_MAX_ID + 1]; /* random, chosen by the caller */
  char user_id[STORE_MAX_USER + 1];
  char policy[STORE_MAX_POLICY + 1];
  int64_t created_at;
  int64_t expires_at;
  int64_t signatures_issued;
  /* JSON object text (procedure, classId, storageRegion, subAppId, ...).
   * As input: borrowed, NULL means "{}". As output of a get: owned by the
   * struct, free with store_session_release(). */
  char *params_json;
  /* Input to a create only (a get leaves it NULL): the session's first
   * signature, recorded in the session's own row (schema 8: one b-tree
   * insert per new session instead of two). NULL: none recorded (then the
   * audit trail starts at n = 2, if ever). Otherwise its n must be 1, its
   * upload_id and user_id the session's, its created_at the session's. */
  const struct store_audit *first;
};

/* Frees what a get put in *sess (params_json); leaves the rest. */
void store_session_release(struct store_session *sess);

/* VG_OK if store_tx_session_create would accept sess as far as its fields
 * go (strings present and bounded, params_json NULL or one JSON object,
 * signatures_issued >= 0, expires_at >= created_at, first as above, with
 * signatures_issued >= 1 when it is given), else VG_INVALID: what
 * a caller that records sessions later (svc/issuing.c) checks before it
 * acknowledges one. */
int store_session_check(const struct store_session *sess) WARN_UNUSED;

/* Inserts a session. Errors: VG_CONFLICT if upload_id exists; VG_INVALID. */
int store_tx_session_create(struct store_tx *tx, const struct store_session *sess) WARN_UNUSED;

/*
 * Atomically adds one to signatures_issued if it is below limit (0: no
 * limit). *count (may be NULL) receives the new count. Errors: VG_NOTFOUND
 * (no such session), VG_CONFLICT (limit reached; nothing changed).
 */
int store_tx_session_add_signature(struct store_tx *tx, const char *upload_id, int64_t limit,
                                   int64_t *count) WARN_UNUSED;

/* Read inside a transaction (sees its own writes). *out as store_session_get. */
int store_tx_session_get(struct store_tx *tx, const char *upload_id,
                         struct store_session *out) WARN_UNUSED;

/* Fills *out (caller releases with store_session_release). VG_NOTFOUND. */
int store_session_get(struct store *s, const char *upload_id,
                      struct store_session *out) WARN_UNUSED;

/* One-transaction conveniences for the tx functions above. */
int store_session_create(struct store *s, const struct store_session *sess) WARN_UNUSED;
int store_session_add_signature(struct store *s, const char *upload_id, int64_t limit,
                                int64_t *count) WARN_UNUSED;

/* ------------------------------------------------------------------ */
/* Audit: one record per signature issued. Never a signature or a secret.
 * A session's first signature is recorded in its session row (the create's
 * `first`); each later one is an audit row. The two together read as one
 * table in the `signatures` view (docs/store.md). */

struct store_audit {
  /* The session's id. Not checked against upload_session (schema 6: the
   * lookup cost more than the rest of the row): the caller writes the
   * session, or counts this signature on it, first in the same
   * transaction. */
  const char *upload_id;
  const char *user_id;
  const char *request_id;
  int64_t expire_time; /* the signature's expireTime */
  uint32_t random;     /* the signature's random field */
  int64_t created_at;
  /* The signature's ordinal within its session, >= 1: the session's
   * signatures_issued after this signature (1 for the session's first).
   * (upload_id, n) is the row's key: a second row with the same pair is
   * refused (VG_CONFLICT), never merged. */
  int64_t n;
};

/* VG_OK if store_tx_audit_append would accept a's fields, else VG_INVALID
 * (as store_session_check). */
int store_audit_check(const struct store_audit *a) WARN_UNUSED;

/* Appends one audit row: a signature after its session's first (n >= 2;
 * the first is the session create's `first`). Errors: VG_INVALID (bad
 * strings, n < 2); VG_CONFLICT ((upload_id, n) exists; nothing written). */
int store_tx_audit_append(struct store_tx *tx, const struct store_audit *a) WARN_UNUSED;
int store_audit_append(struct store *s, const struct store_audit *a) WARN_UNUSED;
/* Number of signatures recorded for one upload session: its first (if
 * recorded with the session) and its audit rows (operators, tests). */
int store_audit_count(struct store *s, const char *upload_id, int64_t *out) WARN_UNUSED;

/* ------------------------------------------------------------------ */
/* API tokens: only the SHA-256 of a token is stored.                  */

struct store_token {
  char id[STORE_MAX_ID + 1];
  char hash_hex[STORE_HASH_HEX + 1]; /* lower-case hex SHA-256 of the token */
  char user_id[STORE_MAX_USER + 1];
  char policy[STORE_MAX_POLICY + 1];
  char label[STORE_MAX_LABEL + 1];
  int64_t created_at;
  int64_t revoked_at; /* 0: active */
};

/* Inserts an active token (revoked_at ignored). hash_hex must be 64 lower-case
 * hex digits. Errors: VG_CONFLICT (id or hash exists); VG_INVALID. */
int store_tx_token_add(struct store_tx *tx, const struct store_token *t) WARN_UNUSED;
/* Marks a token revoked at time now. VG_NOTFOUND; VG_CONFLICT if already
 * revoked (nothing changed). */
int store_tx_token_revoke(struct store_tx *tx, const char *id, int64_t now) WARN_UNUSED;
int store_token_add(struct store *s, const struct store_token *t) WARN_UNUSED;
int store_token_revoke(struct store *s, const char *id, int64_t now) WARN_UNUSED;

/* Finds the ACTIVE token whose hash is hash_hex. The hash of a random
 * 256-bit token is looked up by index: its timing reveals nothing usable.
 * VG_NOTFOUND if absent or revoked. */
int store_token_find(struct store *s, const char *hash_hex, struct store_token *out) WARN_UNUSED;

/* Calls cb for every token (revoked ones too) ordered by created_at, id.
 * *t is valid during the call only. A non-zero return from cb stops the walk
 * and is returned. */
typedef int (*store_token_cb)(const struct store_token *t, void *arg);
int store_token_list(struct store *s, store_token_cb cb, void *arg) WARN_UNUSED;

/* ------------------------------------------------------------------ */
/* Quota: uploads per (user, UTC day).                                  */

/* Atomically consumes one unit of (user_id, day) if fewer than limit were
 * used (0: no limit). *used (may be NULL) receives the new count. VG_CONFLICT
 * when the limit is reached (nothing changed). */
int store_tx_quota_consume(struct store_tx *tx, const char *user_id, int64_t day, int64_t limit,
                           int64_t *used) WARN_UNUSED;
int store_quota_consume(struct store *s, const char *user_id, int64_t day, int64_t limit,
                        int64_t *used) WARN_UNUSED;
/* Adds n >= 1 units to (user_id, day) without a limit: for a caller that
 * already enforced the limit itself and persists its counts later in
 * batches (svc/issuing.c). VG_INVALID for n < 1 or a bad user_id. */
int store_tx_quota_add(struct store_tx *tx, const char *user_id, int64_t day,
                       int64_t n) WARN_UNUSED;
/* Units used; 0 when none. */
int store_quota_get(struct store *s, const char *user_id, int64_t day, int64_t *used) WARN_UNUSED;

/* ------------------------------------------------------------------ */
/* Events (issue 4). An event, its ledger change and its outbox rows are
 * written by ONE callback so that they commit together in one group commit. */

struct store_event {
  const char *event_key; /* idempotency key (<= STORE_MAX_EVENT_KEY): spec 5.4 */
  const char *source;    /* "push" or "pull" */
  const char *type;      /* EventType */
  const char *file_id;   /* may be NULL */
  const char *task_id;   /* may be NULL */
  const char *status;    /* may be NULL */
  const char *body_json; /* the event as received, normalised JSON text */
  int64_t received_at;
};

/* INSERT .. ON CONFLICT DO NOTHING: *is_new is true if the key was new, false
 * if it was already stored (then nothing changed and the caller must not
 * apply the event's effects a second time). */
int store_tx_event_insert(struct store_tx *tx, const struct store_event *ev,
                          bool *is_new) WARN_UNUSED;

/* Read back an event (operators, tests). Output strings are heap copies the
 * caller frees with store_event_record_release. VG_NOTFOUND. */
struct store_event_record {
  char *event_key, *source, *type, *file_id, *task_id, *status, *body_json; /* NULL if unset */
  int64_t received_at;
};
int store_event_get(struct store *s, const char *event_key,
                    struct store_event_record *out) WARN_UNUSED;
void store_event_record_release(struct store_event_record *r);
int store_event_count(struct store *s, int64_t *out) WARN_UNUSED;
/* Calls cb for at most limit (1..STORE_MAX_LIST) events, newest received
 * first (ties: key order), only those of file_id when it is non-NULL. *r is
 * valid during the call only (do not release). A non-zero return from cb
 * stops the walk and is returned. */
typedef int (*store_event_cb)(const struct store_event_record *r, void *arg);
int store_event_list(struct store *s, const char *file_id, int64_t limit, store_event_cb cb,
                     void *arg) WARN_UNUSED;

/* The upload ledger: one row per FileId. upload_id/user_id are NULL for an
 * unattributed file. state is one of issued, uploaded, processing, passed,
 * review, blocked, failed, rejected (checked by the caller, not the store). */
struct store_ledger {
  char file_id[STORE_MAX_ID + 1];
  char upload_id[STORE_MAX_ID + 1]; /* "" when unattributed */
  char user_id[STORE_MAX_USER + 1]; /* "" when unattributed */
  char state[STORE_MAX_STATE + 1];
  char *detail_json; /* mediaUrl, coverUrl, review, reason...: as store_session.params_json */
  int64_t updated_at;
};
void store_ledger_release(struct store_ledger *l);
/* Inserts or replaces the row of l->file_id. */
int store_tx_ledger_put(struct store_tx *tx, const struct store_ledger *l) WARN_UNUSED;
int store_tx_ledger_get(struct store_tx *tx, const char *file_id,
                        struct store_ledger *out) WARN_UNUSED;
int store_ledger_get(struct store *s, const char *file_id, struct store_ledger *out) WARN_UNUSED;
/* The row of an upload session (the newest if a session produced several
 * files). VG_NOTFOUND. */
int store_ledger_get_by_upload(struct store *s, const char *upload_id,
                               struct store_ledger *out) WARN_UNUSED;
/* Calls cb for at most limit (1..STORE_MAX_LIST) rows, most recently updated
 * first, filtered by user_id and state when they are non-NULL. *l and its
 * detail_json are valid during the call only (do not release). A non-zero
 * return from cb stops the walk and is returned. */
typedef int (*store_ledger_cb)(const struct store_ledger *l, void *arg);
int store_ledger_list(struct store *s, const char *user_id, const char *state, int64_t limit,
                      store_ledger_cb cb, void *arg) WARN_UNUSED;

/* Transactional outbox: a row per webhook to deliver. *id (may be NULL)
 * receives the row id (> 0). */
int store_tx_outbox_add(struct store_tx *tx, const char *event_key, const char *payload_json,
                        int64_t due_at, int64_t *id) WARN_UNUSED;
int store_outbox_count(struct store *s, int64_t *pending) WARN_UNUSED;

/* The forwarder's side. A pending row is neither delivered nor dead. */
struct store_outbox_item {
  int64_t id;
  const char *event_key;
  const char *payload_json;
  int64_t attempts; /* failed deliveries so far */
  int64_t due_at;
  /* Set by store_outbox_list/store_outbox_get only (store_outbox_due reads
   * pending rows: 0 and false there). */
  int64_t delivered_at; /* 0 while not delivered */
  bool dead;
};
/* Calls cb for at most limit (1..STORE_MAX_LIST) pending rows with
 * due_at <= now, oldest due first (ties: id). *item is valid during the call
 * only. Run one forwarder per database (see store_lease_acquire): two would
 * both deliver a row (harmless for idempotent receivers, but wasteful). */
typedef int (*store_outbox_cb)(const struct store_outbox_item *item, void *arg);
int store_outbox_due(struct store *s, int64_t now, int64_t limit, store_outbox_cb cb,
                     void *arg) WARN_UNUSED;
/* Ends a pending row: delivered at now. VG_NOTFOUND if not pending. */
int store_tx_outbox_delivered(struct store_tx *tx, int64_t id, int64_t now) WARN_UNUSED;
/* A failed attempt: attempts + 1, and either due again at next_due_at, or,
 * with dead = true, dead-lettered (kept, never due again). VG_NOTFOUND if not
 * pending. */
int store_tx_outbox_failed(struct store_tx *tx, int64_t id, int64_t next_due_at,
                           bool dead) WARN_UNUSED;
int store_outbox_delivered(struct store *s, int64_t id, int64_t now) WARN_UNUSED;
int store_outbox_failed(struct store *s, int64_t id, int64_t next_due_at, bool dead) WARN_UNUSED;
/* Dead-lettered rows (operators, tests). */
int store_outbox_dead_count(struct store *s, int64_t *out) WARN_UNUSED;

/* The operators' side (vodgate webhooks). A row is in exactly one state:
 * pending (neither delivered nor dead), delivered, or dead. */
enum store_outbox_state {
  STORE_OUTBOX_ANY = 0,
  STORE_OUTBOX_PENDING,
  STORE_OUTBOX_DELIVERED,
  STORE_OUTBOX_DEAD,
};
/* Calls cb for at most limit (1..STORE_MAX_LIST) rows in state, newest
 * first (id descending), only those whose payload's data.fileId is file_id
 * when it is non-NULL (<= STORE_MAX_ID). The outbox has no file column: the
 * file filter reads each row's payload (no index), so it costs a scan of
 * the outbox, newest first, until limit rows matched. *item is valid
 * during the call only. A non-zero return from cb stops the walk and is
 * returned. VG_INVALID: bad state, limit or file_id. */
int store_outbox_list(struct store *s, enum store_outbox_state state, const char *file_id,
                      int64_t limit, store_outbox_cb cb, void *arg) WARN_UNUSED;
/* Calls cb once with row id, whatever its state. VG_NOTFOUND, VG_INVALID
 * (id <= 0); else cb's return. */
int store_outbox_get(struct store *s, int64_t id, store_outbox_cb cb, void *arg) WARN_UNUSED;
/* Makes rows due again, as if just written: dead = false, attempts = 0,
 * due_at = now, so the forwarder's retry schedule and [webhook] retry_for
 * start over. id 0: every dead row (none is VG_OK with *changed 0). id > 0:
 * that row if it is dead or pending; VG_CONFLICT if it was delivered (it
 * is never sent again), VG_NOTFOUND if there is no such row. *changed (may
 * be NULL) receives the number of rows changed. VG_INVALID: id < 0. */
int store_tx_outbox_retry(struct store_tx *tx, int64_t id, int64_t now,
                          int64_t *changed) WARN_UNUSED;
/* store_tx_outbox_retry in a transaction of its own. */
int store_outbox_retry(struct store *s, int64_t id, int64_t now, int64_t *changed) WARN_UNUSED;

/* Retention ([retention] in the configuration; svc/retention.c). What
 * store_prune deletes:
 * - STORE_PRUNE_EVENTS: events received before `before` (the raw record of
 *   each event; the ledger, upload sessions and outbox rows do not need
 *   it). An event deleted and delivered again is taken in again as new.
 * - STORE_PRUNE_WEBHOOKS: outbox rows delivered before `before`. Pending
 *   and dead rows are never deleted. */
enum store_prune_what { STORE_PRUNE_EVENTS, STORE_PRUNE_WEBHOOKS };
/* Deletes at most limit (1..STORE_MAX_LIST) of the oldest such rows;
 * *deleted receives how many. VG_INVALID: bad what or limit. */
int store_tx_prune(struct store_tx *tx, enum store_prune_what what, int64_t before, int64_t limit,
                   int64_t *deleted) WARN_UNUSED;
/* store_tx_prune in a transaction of its own (keep limit small: on SQLite
 * every other writer waits for it). */
int store_prune(struct store *s, enum store_prune_what what, int64_t before, int64_t limit,
                int64_t *deleted) WARN_UNUSED;

/* Quarantine: a malformed body (any bytes; only the first STORE_MAX_BODY are
 * kept) and why it was refused. Only the newest STORE_QUARANTINE_KEEP rows
 * are kept. */
int store_tx_quarantine_add(struct store_tx *tx, const char *reason, const void *body,
                            size_t body_len, int64_t received_at) WARN_UNUSED;
int store_quarantine_count(struct store *s, int64_t *out) WARN_UNUSED;
int store_event_insert(struct store *s, const struct store_event *ev, bool *is_new) WARN_UNUSED;
int store_quarantine_add(struct store *s, const char *reason, const void *body, size_t body_len,
                         int64_t received_at) WARN_UNUSED;
struct store_quarantine_item {
  int64_t id;
  const char *reason;
  const void *body;
  size_t body_len;
  int64_t received_at;
};
/* Newest first, at most limit (1..STORE_MAX_LIST); *item valid during the
 * call only. A non-zero return from cb stops the walk and is returned. */
typedef int (*store_quarantine_cb)(const struct store_quarantine_item *item, void *arg);
int store_quarantine_list(struct store *s, int64_t limit, store_quarantine_cb cb,
                          void *arg) WARN_UNUSED;

/* ------------------------------------------------------------------ */
/* Leases: at most one holder of a named role per database (the event
 * puller, the webhook forwarder), across processes and hosts. */

/* Takes or renews the lease `name` for owner until now + ttl. VG_OK if owner
 * holds it now; VG_CONFLICT if another owner holds an unexpired lease.
 * Holders renew well before ttl runs out (e.g. every ttl/3). */
int store_lease_acquire(struct store *s, const char *name, const char *owner, int64_t now,
                        int64_t ttl) WARN_UNUSED;
/* Gives the lease up if owner holds it (no error otherwise). */
int store_lease_release(struct store *s, const char *name, const char *owner) WARN_UNUSED;

#endif
