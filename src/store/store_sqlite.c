/*
 * store_sqlite.c: the SQLite backend of store.h.
 *
 * Connections: one writer connection, owned by the writer thread after
 * open, and a pool of reader connections (query_only) lent to reading
 * threads. WAL mode lets readers run while the writer commits. Each
 * connection caches its prepared statements (lazily, by enum sq_stmt).
 *
 * Group commit: store_run() queues a request {fn, arg} and waits on the
 * request's own condition variable. The writer takes everything queued (up
 * to STORE_MAX_GROUP), opens one transaction, runs each fn inside its own
 * SAVEPOINT (a failing fn rolls back only itself), commits once, and then
 * wakes each caller. While it commits, new requests pile up for the next
 * group, so the number of fsyncs adapts to the load instead of growing with
 * it. A caller is woken only after COMMIT returned, i.e. its data is on disk
 * (synchronous=FULL).
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/log.h"
#include "core/util.h"
#include "store/store_impl.h"

/* Schema migrations: element i brings the schema from version i to i+1.
 * Never edit a released migration; append a new one. */
static const char *const sq_migrations[] = {
    /* 1: issue 3 (signature service) */
    "CREATE TABLE upload_session ("
    " upload_id TEXT PRIMARY KEY,"
    " user_id TEXT NOT NULL,"
    " policy TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " signatures_issued INTEGER NOT NULL DEFAULT 0 CHECK (signatures_issued >= 0),"
    " params TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(params))"
    ") STRICT;"
    "CREATE INDEX upload_session_user ON upload_session(user_id, created_at);"
    "CREATE TABLE audit ("
    " id INTEGER PRIMARY KEY,"
    " upload_id TEXT NOT NULL REFERENCES upload_session(upload_id),"
    " user_id TEXT NOT NULL,"
    " request_id TEXT NOT NULL,"
    " expire_time INTEGER NOT NULL,"
    " random INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX audit_upload ON audit(upload_id);"
    "CREATE TABLE api_token ("
    " id TEXT PRIMARY KEY,"
    " hash TEXT NOT NULL UNIQUE,"
    " user_id TEXT NOT NULL,"
    " policy TEXT NOT NULL,"
    " label TEXT NOT NULL DEFAULT '',"
    " created_at INTEGER NOT NULL,"
    " revoked_at INTEGER"
    ") STRICT;"
    "CREATE TABLE quota ("
    " user_id TEXT NOT NULL,"
    " day INTEGER NOT NULL,"
    " used INTEGER NOT NULL,"
    " PRIMARY KEY (user_id, day)"
    ") STRICT, WITHOUT ROWID;",
    /* 2: issue 4 (event intake) */
    "CREATE TABLE event ("
    " event_key TEXT PRIMARY KEY,"
    " source TEXT NOT NULL CHECK (source IN ('push', 'pull')),"
    " type TEXT NOT NULL,"
    " file_id TEXT,"
    " task_id TEXT,"
    " status TEXT,"
    " body TEXT NOT NULL CHECK (json_valid(body)),"
    " received_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX event_file ON event(file_id);"
    "CREATE TABLE ledger ("
    " file_id TEXT PRIMARY KEY,"
    " upload_id TEXT,"
    " user_id TEXT,"
    " state TEXT NOT NULL,"
    " detail TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),"
    " updated_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX ledger_upload ON ledger(upload_id);"
    "CREATE INDEX ledger_user ON ledger(user_id, state);"
    "CREATE TABLE outbox ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " event_key TEXT NOT NULL,"
    " payload TEXT NOT NULL CHECK (json_valid(payload)),"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " due_at INTEGER NOT NULL,"
    " delivered_at INTEGER,"
    " dead INTEGER NOT NULL DEFAULT 0"
    ") STRICT;"
    "CREATE INDEX outbox_due ON outbox(due_at) WHERE delivered_at IS NULL AND dead = 0;"
    "CREATE TABLE quarantine ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " reason TEXT NOT NULL,"
    " body BLOB NOT NULL,"
    " received_at INTEGER NOT NULL"
    ") STRICT;",
    /* 3: leases (one puller / forwarder per database), event listing */
    "CREATE TABLE lease ("
    " name TEXT PRIMARY KEY,"
    " owner TEXT NOT NULL,"
    " expires_at INTEGER NOT NULL"
    ") STRICT;"
    "CREATE INDEX event_received ON event(received_at);",
    /* 4: no json_valid() CHECK on event.body, ledger.detail, outbox.payload.
     * SQLite parsed every stored body again in the writer thread (a fifth
     * of its time per 3 KB event); vodgate only stores JSON it parsed with
     * its strict parser or wrote with jansson (docs/store.md). SQLite cannot
     * drop a CHECK in place: each table is rebuilt (rowids, ids and the
     * AUTOINCREMENT counter kept) and its indexes made again. */
    "CREATE TABLE event_v4 ("
    " event_key TEXT PRIMARY KEY,"
    " source TEXT NOT NULL CHECK (source IN ('push', 'pull')),"
    " type TEXT NOT NULL,"
    " file_id TEXT,"
    " task_id TEXT,"
    " status TEXT,"
    " body TEXT NOT NULL,"
    " received_at INTEGER NOT NULL"
    ") STRICT;"
    "INSERT INTO event_v4 (rowid, event_key, source, type, file_id, task_id, status, body,"
    " received_at) SELECT rowid, event_key, source, type, file_id, task_id, status, body,"
    " received_at FROM event;"
    "DROP TABLE event;"
    "ALTER TABLE event_v4 RENAME TO event;"
    "CREATE INDEX event_file ON event(file_id);"
    "CREATE INDEX event_received ON event(received_at);"
    "CREATE TABLE ledger_v4 ("
    " file_id TEXT PRIMARY KEY,"
    " upload_id TEXT,"
    " user_id TEXT,"
    " state TEXT NOT NULL,"
    " detail TEXT NOT NULL DEFAULT '{}',"
    " updated_at INTEGER NOT NULL"
    ") STRICT;"
    "INSERT INTO ledger_v4 (rowid, file_id, upload_id, user_id, state, detail, updated_at)"
    " SELECT rowid, file_id, upload_id, user_id, state, detail, updated_at FROM ledger;"
    "DROP TABLE ledger;"
    "ALTER TABLE ledger_v4 RENAME TO ledger;"
    "CREATE INDEX ledger_upload ON ledger(upload_id);"
    "CREATE INDEX ledger_user ON ledger(user_id, state);"
    "CREATE TABLE outbox_v4 ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " event_key TEXT NOT NULL,"
    " payload TEXT NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " due_at INTEGER NOT NULL,"
    " delivered_at INTEGER,"
    " dead INTEGER NOT NULL DEFAULT 0"
    ") STRICT;"
    "INSERT INTO outbox_v4 (id, event_key, payload, attempts, due_at, delivered_at, dead)"
    " SELECT id, event_key, payload, attempts, due_at, delivered_at, dead FROM outbox;"
    /* The counter, not max(id): an id once given is never given again. */
    "DELETE FROM sqlite_sequence WHERE name = 'outbox_v4';"
    "UPDATE sqlite_sequence SET name = 'outbox_v4' WHERE name = 'outbox';"
    "DROP TABLE outbox;"
    "ALTER TABLE outbox_v4 RENAME TO outbox;"
    "CREATE INDEX outbox_due ON outbox(due_at) WHERE delivered_at IS NULL AND dead = 0;",
    /* 5: upload_session WITHOUT ROWID (its rows live in the upload_id
     * b-tree instead of a rowid table plus an index on upload_id: one
     * b-tree fewer to write per signature) and without the json_valid()
     * CHECK on params (vodgate writes that text itself, svc/issue.c). Run
     * with foreign keys off (audit rows name sessions): sq_migrate. */
    "CREATE TABLE upload_session_v5 ("
    " upload_id TEXT PRIMARY KEY,"
    " user_id TEXT NOT NULL,"
    " policy TEXT NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " signatures_issued INTEGER NOT NULL DEFAULT 0 CHECK (signatures_issued >= 0),"
    " params TEXT NOT NULL DEFAULT '{}'"
    ") STRICT, WITHOUT ROWID;"
    "INSERT INTO upload_session_v5 (upload_id, user_id, policy, created_at, expires_at,"
    " signatures_issued, params) SELECT upload_id, user_id, policy, created_at, expires_at,"
    " signatures_issued, params FROM upload_session;"
    "DROP TABLE upload_session;"
    "ALTER TABLE upload_session_v5 RENAME TO upload_session;"
    "CREATE INDEX upload_session_user ON upload_session(user_id, created_at);",
    /* 6: audit WITHOUT ROWID, keyed by (upload_id, n), n the signature's
     * ordinal within its session (store.h): its rows live in that one
     * b-tree instead of a rowid table plus the audit_upload index (upload
     * ids are time-ordered, so the inserts land at its right edge). Never
     * keyed by request_id or random: request ids may come from clients,
     * and a duplicate key would fail a whole batched transaction.
     * No REFERENCES upload_session any more: that check looked the parent
     * up for every audit row and cost more writer time than the dropped
     * index saved (docs/store.md, schema 6). Nothing relied on it: every
     * writer inserts the session (or counts the signature on it, which
     * fails for an unknown one) before its audit row in the same
     * transaction, and no session is ever deleted.
     * Existing rows keep their order (n by id within each session). A
     * session whose count is below its number of audit rows (no vodgate
     * writes that: count and row commit together) is raised to it, so
     * the next signature's n is free. */
    "CREATE TABLE audit_v6 ("
    " upload_id TEXT NOT NULL,"
    " n INTEGER NOT NULL CHECK (n >= 1),"
    " user_id TEXT NOT NULL,"
    " request_id TEXT NOT NULL,"
    " expire_time INTEGER NOT NULL,"
    " random INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL,"
    " PRIMARY KEY (upload_id, n)"
    ") STRICT, WITHOUT ROWID;"
    "INSERT INTO audit_v6 (upload_id, n, user_id, request_id, expire_time, random, created_at)"
    " SELECT upload_id, ROW_NUMBER() OVER (PARTITION BY upload_id ORDER BY id), user_id,"
    " request_id, expire_time, random, created_at FROM audit ORDER BY upload_id, id;"
    "DROP TABLE audit;"
    "ALTER TABLE audit_v6 RENAME TO audit;"
    "UPDATE upload_session SET signatures_issued = k FROM (SELECT upload_id AS u, count(*) AS k"
    " FROM audit GROUP BY upload_id) WHERE upload_id = u AND signatures_issued < k;",
    /* 7: no index on upload_session(user_id, created_at): no query ever
     * used it, and keeping it cost each new session a third b-tree insert
     * (the writer's CPU per signature 6.6-8.1 -> 5.3-6.3 us without it,
     * docs/store.md). A listing of a user's sessions would bring it back. */
    "DROP INDEX IF EXISTS upload_session_user;",
    /* 8: a session's first signature is recorded in the session's own row
     * (first_request_id, first_expire_time, first_random; NULL when none
     * was recorded) instead of an audit row: one b-tree insert per new
     * session instead of two (docs/store.md, schema 8). Its user and time
     * are the session's. Existing n = 1 rows move into their session's
     * row; one whose user or time differ from its session's (vodgate never
     * wrote one) stays in audit. The view `signatures` reads both as one
     * table, one row per signature, as audit read before. */
    "ALTER TABLE upload_session ADD COLUMN first_request_id TEXT;"
    "ALTER TABLE upload_session ADD COLUMN first_expire_time INTEGER;"
    "ALTER TABLE upload_session ADD COLUMN first_random INTEGER;"
    "UPDATE upload_session SET first_request_id = a.request_id, first_expire_time = a.expire_time,"
    " first_random = a.random FROM audit AS a WHERE a.upload_id = upload_session.upload_id"
    " AND a.n = 1 AND a.user_id = upload_session.user_id"
    " AND a.created_at = upload_session.created_at;"
    "DELETE FROM audit WHERE n = 1 AND EXISTS (SELECT 1 FROM upload_session AS s"
    " WHERE s.upload_id = audit.upload_id AND s.first_request_id IS NOT NULL);"
    "CREATE VIEW signatures AS"
    " SELECT upload_id, 1 AS n, user_id, first_request_id AS request_id,"
    " first_expire_time AS expire_time, first_random AS random, created_at"
    " FROM upload_session WHERE first_request_id IS NOT NULL"
    " UNION ALL SELECT upload_id, n, user_id, request_id, expire_time, random, created_at"
    " FROM audit;",
    /* 9: [retention] webhooks deletes delivered outbox rows by delivery
     * time; without an index each sweep would read the whole table. Only
     * delivered rows are in it, appended at its right edge. outbox_dead:
     * `vodgate webhooks list --dead` (and retry --dead) read the dead
     * rows only, not every row the outbox ever held. */
    ("CREATE INDEX outbox_delivered ON outbox(delivered_at) WHERE delivered_at IS NOT NULL;"
     "CREATE INDEX outbox_dead ON outbox(id) WHERE dead = 1;"),
};

_Static_assert(ARRAY_SIZE(sq_migrations) == STORE_SCHEMA_VERSION, "one migration per version");

enum sq_stmt {
  Q_BEGIN,
  Q_COMMIT,
  Q_ROLLBACK,
  Q_SAVEPOINT,
  Q_RELEASE,
  Q_ROLLBACK_TO,
  Q_SCHEMA_VERSION,
  Q_SESSION_INSERT,
  Q_SESSION_ADD_SIG,
  Q_SESSION_EXISTS,
  Q_SESSION_GET,
  Q_AUDIT_INSERT,
  Q_AUDIT_COUNT,
  Q_TOKEN_INSERT,
  Q_TOKEN_REVOKE,
  Q_TOKEN_STATE,
  Q_TOKEN_FIND,
  Q_TOKEN_LIST,
  Q_QUOTA_CONSUME,
  Q_QUOTA_GET,
  Q_QUOTA_ADD,
  Q_EVENT_INSERT,
  Q_EVENT_GET,
  Q_EVENT_COUNT,
  Q_LEDGER_PUT,
  Q_LEDGER_GET,
  Q_OUTBOX_ADD,
  Q_OUTBOX_COUNT,
  Q_QUARANTINE_ADD,
  Q_QUARANTINE_TRIM,
  Q_QUARANTINE_COUNT,
  Q_LEDGER_BY_UPLOAD,
  Q_LEDGER_LIST,
  Q_EVENT_LIST,
  Q_OUTBOX_DUE,
  Q_OUTBOX_DELIVERED,
  Q_OUTBOX_FAILED,
  Q_OUTBOX_DEAD_COUNT,
  Q_OUTBOX_LIST,
  Q_OUTBOX_LIST_PENDING,
  Q_OUTBOX_LIST_DEAD,
  Q_OUTBOX_GET,
  Q_OUTBOX_RETRY_DEAD,
  Q_OUTBOX_RETRY_ONE,
  Q_PRUNE_EVENTS,
  Q_PRUNE_WEBHOOKS,
  Q_OUTBOX_EXISTS,
  Q_QUARANTINE_LIST,
  Q_LEASE_ACQUIRE,
  Q_LEASE_RELEASE,
  Q__COUNT
};

#define LEDGER_COLS                                                                                \
  "file_id, coalesce(upload_id, ''), coalesce(user_id, ''), state, detail, updated_at"
#define EVENT_COLS  "event_key, source, type, file_id, task_id, status, body, received_at"
#define OUTBOX_COLS "id, event_key, payload, attempts, due_at, coalesce(delivered_at, 0), dead"
/* The outbox listing's file filter, order and limit (?2, ?3). */
#define OUTBOX_FILE_FILTER                                                                         \
  " AND (?2 IS NULL OR CASE WHEN json_valid(payload)"                                              \
  " THEN json_extract(payload, '$.data.fileId') END = ?2) ORDER BY id DESC LIMIT ?3"

static const char *const sq_sql[Q__COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_ROLLBACK] = "ROLLBACK",
    [Q_SAVEPOINT] = "SAVEPOINT w",
    [Q_RELEASE] = "RELEASE w",
    [Q_ROLLBACK_TO] = "ROLLBACK TO w",
    [Q_SCHEMA_VERSION] = "SELECT coalesce(max(version), 0) FROM schema_version",
    [Q_SESSION_INSERT] = "INSERT INTO upload_session (upload_id, user_id, policy, created_at,"
                         " expires_at, signatures_issued, params, first_request_id,"
                         " first_expire_time, first_random) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
                         " coalesce(?7, '{}'), ?8, ?9, ?10)",
    [Q_SESSION_ADD_SIG] = "UPDATE upload_session SET signatures_issued = signatures_issued + 1"
                          " WHERE upload_id = ?1 AND (?2 = 0 OR signatures_issued < ?2)"
                          " RETURNING signatures_issued",
    [Q_SESSION_EXISTS] = "SELECT 1 FROM upload_session WHERE upload_id = ?1",
    [Q_SESSION_GET] = "SELECT upload_id, user_id, policy, created_at, expires_at,"
                      " signatures_issued, params FROM upload_session WHERE upload_id = ?1",
    [Q_AUDIT_INSERT] = "INSERT INTO audit (upload_id, n, user_id, request_id, expire_time,"
                       " random, created_at) VALUES (?1, ?7, ?2, ?3, ?4, ?5, ?6)",
    [Q_AUDIT_COUNT] = "SELECT count(*) FROM signatures WHERE upload_id = ?1",
    [Q_TOKEN_INSERT] = "INSERT INTO api_token (id, hash, user_id, policy, label, created_at)"
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [Q_TOKEN_REVOKE] = "UPDATE api_token SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
    [Q_TOKEN_STATE] = "SELECT revoked_at FROM api_token WHERE id = ?1",
    [Q_TOKEN_FIND] = "SELECT id, hash, user_id, policy, label, created_at, coalesce(revoked_at, 0)"
                     " FROM api_token WHERE hash = ?1 AND revoked_at IS NULL",
    [Q_TOKEN_LIST] = "SELECT id, hash, user_id, policy, label, created_at, coalesce(revoked_at, 0)"
                     " FROM api_token ORDER BY created_at, id",
    [Q_QUOTA_CONSUME] = "INSERT INTO quota (user_id, day, used) VALUES (?1, ?2, 1)"
                        " ON CONFLICT (user_id, day) DO UPDATE SET used = used + 1"
                        " WHERE ?3 = 0 OR quota.used < ?3 RETURNING used",
    [Q_QUOTA_GET] = "SELECT used FROM quota WHERE user_id = ?1 AND day = ?2",
    [Q_QUOTA_ADD] = "INSERT INTO quota (user_id, day, used) VALUES (?1, ?2, ?3)"
                    " ON CONFLICT (user_id, day) DO UPDATE SET used = used + excluded.used",
    [Q_EVENT_INSERT] = "INSERT INTO event (event_key, source, type, file_id, task_id, status,"
                       " body, received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                       " ON CONFLICT (event_key) DO NOTHING",
    [Q_EVENT_GET] = "SELECT " EVENT_COLS " FROM event WHERE event_key = ?1",
    [Q_EVENT_COUNT] = "SELECT count(*) FROM event",
    [Q_LEDGER_PUT] = "INSERT INTO ledger (file_id, upload_id, user_id, state, detail, updated_at)"
                     " VALUES (?1, ?2, ?3, ?4, coalesce(?5, '{}'), ?6)"
                     " ON CONFLICT (file_id) DO UPDATE SET upload_id = excluded.upload_id,"
                     " user_id = excluded.user_id, state = excluded.state,"
                     " detail = excluded.detail, updated_at = excluded.updated_at",
    [Q_LEDGER_GET] = "SELECT " LEDGER_COLS " FROM ledger WHERE file_id = ?1",
    [Q_OUTBOX_ADD] = "INSERT INTO outbox (event_key, payload, due_at) VALUES (?1, ?2, ?3)",
    [Q_OUTBOX_COUNT] = "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND dead = 0",
    [Q_QUARANTINE_ADD] = "INSERT INTO quarantine (reason, body, received_at) VALUES (?1, ?2, ?3)",
    [Q_QUARANTINE_TRIM] = "DELETE FROM quarantine WHERE id <= (SELECT id FROM quarantine"
                          " ORDER BY id DESC LIMIT 1 OFFSET ?1)",
    [Q_QUARANTINE_COUNT] = "SELECT count(*) FROM quarantine",
    [Q_LEDGER_BY_UPLOAD] = "SELECT " LEDGER_COLS " FROM ledger WHERE upload_id = ?1"
                           " ORDER BY updated_at DESC, file_id LIMIT 1",
    [Q_LEDGER_LIST] = "SELECT " LEDGER_COLS " FROM ledger WHERE (?1 IS NULL OR user_id = ?1)"
                      " AND (?2 IS NULL OR state = ?2) ORDER BY updated_at DESC, file_id LIMIT ?3",
    [Q_EVENT_LIST] = "SELECT " EVENT_COLS " FROM event WHERE ?1 IS NULL OR file_id = ?1"
                     " ORDER BY received_at DESC, event_key LIMIT ?2",
    [Q_OUTBOX_DUE] = "SELECT " OUTBOX_COLS " FROM outbox"
                     " WHERE delivered_at IS NULL AND dead = 0 AND due_at <= ?1"
                     " ORDER BY due_at, id LIMIT ?2",
    [Q_OUTBOX_DELIVERED] = "UPDATE outbox SET delivered_at = ?2"
                           " WHERE id = ?1 AND delivered_at IS NULL AND dead = 0",
    [Q_OUTBOX_FAILED] = "UPDATE outbox SET attempts = attempts + 1, due_at = ?2, dead = ?3"
                        " WHERE id = ?1 AND delivered_at IS NULL AND dead = 0",
    [Q_OUTBOX_DEAD_COUNT] = "SELECT count(*) FROM outbox WHERE dead = 1",
    /* ?1: enum store_outbox_state. The file is the payload's data.fileId
     * (no column, no index: a scan, newest first, until ?3 rows matched);
     * CASE keeps a payload that is not JSON from failing the walk. */
    [Q_OUTBOX_LIST] =
        "SELECT " OUTBOX_COLS " FROM outbox WHERE (?1 = 0"
        " OR (?1 = 1 AND delivered_at IS NULL AND dead = 0)"
        " OR (?1 = 2 AND delivered_at IS NOT NULL) OR (?1 = 3 AND dead = 1))" OUTBOX_FILE_FILTER,
    /* One statement per state that has an index of its own: SQLite plans a
     * statement before its parameters are bound, so the generic one above
     * reads every row. */
    [Q_OUTBOX_LIST_PENDING] =
        "SELECT " OUTBOX_COLS " FROM outbox INDEXED BY outbox_due"
        " WHERE delivered_at IS NULL AND dead = 0 AND ?1 = 1" OUTBOX_FILE_FILTER,
    [Q_OUTBOX_LIST_DEAD] = "SELECT " OUTBOX_COLS " FROM outbox INDEXED BY outbox_dead"
                           " WHERE dead = 1 AND ?1 = 3" OUTBOX_FILE_FILTER,
    [Q_OUTBOX_GET] = "SELECT " OUTBOX_COLS " FROM outbox WHERE id = ?1",
    [Q_OUTBOX_RETRY_DEAD] = "UPDATE outbox SET dead = 0, attempts = 0, due_at = ?1 WHERE dead = 1",
    [Q_OUTBOX_RETRY_ONE] = "UPDATE outbox SET dead = 0, attempts = 0, due_at = ?2"
                           " WHERE id = ?1 AND delivered_at IS NULL",
    [Q_PRUNE_EVENTS] = "DELETE FROM event WHERE event_key IN (SELECT event_key FROM event"
                       " WHERE received_at < ?1 ORDER BY received_at LIMIT ?2)",
    [Q_PRUNE_WEBHOOKS] = "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
                         " WHERE delivered_at IS NOT NULL AND delivered_at < ?1"
                         " ORDER BY delivered_at LIMIT ?2)",
    [Q_OUTBOX_EXISTS] = "SELECT 1 FROM outbox WHERE id = ?1",
    [Q_QUARANTINE_LIST] = "SELECT id, reason, body, received_at FROM quarantine"
                          " ORDER BY id DESC LIMIT ?1",
    [Q_LEASE_ACQUIRE] = "INSERT INTO lease (name, owner, expires_at) VALUES (?1, ?2, ?3 + ?4)"
                        " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
                        " expires_at = excluded.expires_at"
                        " WHERE lease.owner = excluded.owner OR lease.expires_at <= ?3"
                        " RETURNING 1",
    [Q_LEASE_RELEASE] = "DELETE FROM lease WHERE name = ?1 AND owner = ?2",
};

struct sq_conn {
  struct store_tx tx; /* first: a struct store_tx * is a struct sq_conn * */
  sqlite3 *db;
  sqlite3_stmt *stmt[Q__COUNT];
  struct sq_conn *next; /* reader pool link */
};

struct sq_req {
  store_tx_fn fn;
  void *arg;
  int rc;
  /* Posted by the writer once rc is final. A semaphore rather than a
   * condition variable under sq_store.mu: waking 64 callers must not make
   * them all fight for the queue mutex (measured: half the writer's time
   * went to futex contention). */
  sem_t done;
  /* store_submit(): called instead of posting `done`; the request is then
   * heap-allocated and freed by the writer. */
  store_done_fn done_fn;
  void *done_arg;
  struct sq_req *next;
};

struct sq_store {
  struct store base; /* first */
  char *path;
  struct store_options opt;

  pthread_mutex_t mu;     /* guards queue, stopping, done flags */
  pthread_cond_t work_cv; /* writer waits for work */
  struct sq_req *head;    /* FIFO of pending requests */
  struct sq_req **tail;
  bool stopping;
  pthread_t writer;
  struct sq_conn *wconn; /* used only by the writer thread after open */

  pthread_mutex_t rmu;  /* guards idle */
  struct sq_conn *idle; /* idle reader connections */

  /* The checkpointer (see sq_wal_hook): its own connection and thread. */
  pthread_mutex_t ckmu;      /* guards ck_pending, ck_running, ck_stop */
  pthread_cond_t ck_cv;      /* the checkpointer waits for work */
  pthread_cond_t ck_idle_cv; /* the writer waits for a pass to end */
  bool ck_pending;           /* the WAL passed STORE_WAL_AUTOCHECKPOINT pages */
  bool ck_running;           /* the checkpointer is in a pass */
  bool ck_stop;
  bool ck_started;
  pthread_t ckpt;
  sqlite3 *ckdb;
};

#define SQ(s)    ((struct sq_store *)(s))
#define CONN(tx) ((struct sq_conn *)(tx))

/* ---- connections ---- */

/* Maps an SQLite result to a vg_err, logging what is not an expected
 * outcome. Never logs bound values: sqlite3_errmsg does not contain them. */
static int sq_err(struct sq_conn *c, int rc, const char *what)
{
  switch (rc) {
  case SQLITE_OK:
  case SQLITE_DONE:
  case SQLITE_ROW: return VG_OK;
  case SQLITE_CONSTRAINT_PRIMARYKEY:
  case SQLITE_CONSTRAINT_UNIQUE: return VG_CONFLICT;
  case SQLITE_CONSTRAINT_FOREIGNKEY:
  case SQLITE_CONSTRAINT_CHECK:
  case SQLITE_CONSTRAINT_NOTNULL:
  case SQLITE_CONSTRAINT_DATATYPE: return VG_INVALID;
  default: break;
  }
  log_error("store: sqlite %s: %s (%d)", what, c ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc), rc);
  if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
    return VG_AGAIN;
  return VG_IO;
}

static void sq_conn_free(struct sq_conn *c)
{
  if (!c)
    return;
  for (size_t i = 0; i < Q__COUNT; i++)
    sqlite3_finalize(c->stmt[i]);
  sqlite3_close(c->db);
  free(c);
}

static int sq_exec(struct sq_conn *c, const char *sql)
{
  char *msg = NULL;
  int rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) {
    log_error("store: sqlite: %s", msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return VG_IO;
  }
  return VG_OK;
}

/* Before SQLite initialises (the first open does it): without memory
 * statistics, which nothing reads, sqlite3_malloc and sqlite3_free skip a
 * process-wide mutex (4 % of the writer's CPU under the signature load). */
static void sq_configure(void)
{
  (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int sq_conn_open(struct sq_store *ss, bool writer, struct sq_conn **out)
{
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  (void)pthread_once(&once, sq_configure);
  struct sq_conn *c = xcalloc(1, sizeof(*c));
  c->tx.store = &ss->base;
  c->tx.writable = writer;
  /* NOMUTEX: a connection is used by one thread at a time (the writer, or
   * the reader that borrowed it from the pool). */
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(ss->path, &c->db, flags, NULL);
  if (rc != SQLITE_OK) {
    log_error("store: cannot open sqlite database '%s': %s", ss->path,
              c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
    sq_conn_free(c);
    return VG_IO;
  }
  sqlite3_extended_result_codes(c->db, 1);
  sqlite3_busy_timeout(c->db, STORE_BUSY_TIMEOUT_MS);
  const char *pragmas = writer ? (ss->opt.sync_normal ? "PRAGMA journal_mode = WAL;"
                                                        "PRAGMA synchronous = NORMAL;"
                                                        "PRAGMA foreign_keys = ON;"
                                                      : "PRAGMA journal_mode = WAL;"
                                                        "PRAGMA synchronous = FULL;"
                                                        "PRAGMA foreign_keys = ON;")
                               /* Readers do point lookups and short listings: a
                                * 1 MiB page cache each (default 2 MiB) keeps
                                * the resident size small with many threads. */
                               : "PRAGMA query_only = ON;"
                                 "PRAGMA cache_size = -1024;"
                                 "PRAGMA foreign_keys = ON;";
  if (sq_exec(c, pragmas) != VG_OK) {
    sq_conn_free(c);
    return VG_IO;
  }
  if (writer) {
    /* journal_mode=WAL silently stays "memory" for :memory: and fails on
     * some filesystems; readers in parallel with the writer need WAL. */
    sqlite3_stmt *st = NULL;
    bool wal = false;
    if (sqlite3_prepare_v2(c->db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      wal = !strcmp((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    if (!wal) {
      log_error("store: '%s' could not be switched to WAL mode", ss->path);
      sq_conn_free(c);
      return VG_IO;
    }
  }
  *out = c;
  return VG_OK;
}

/* The cached statement id, reset and ready to bind. NULL on error (logged). */
static sqlite3_stmt *sq_stmt(struct sq_conn *c, enum sq_stmt id)
{
  if (!c->stmt[id]) {
    int rc =
        sqlite3_prepare_v3(c->db, sq_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &c->stmt[id], NULL);
    if (rc != SQLITE_OK) {
      log_error("store: sqlite prepare: %s", sqlite3_errmsg(c->db));
      c->stmt[id] = NULL;
      return NULL;
    }
  }
  return c->stmt[id];
}

/* Ends a statement's use: the next use starts from a clean state. */
static void sq_done(sqlite3_stmt *st)
{
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
  if (s)
    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i);
}

/* Optional string: "" is stored as NULL. */
static void bind_opt(sqlite3_stmt *st, int i, const char *s)
{
  bind_text(st, i, s && *s ? s : NULL);
}

static void col_copy(sqlite3_stmt *st, int i, char *dst, size_t size)
{
  const unsigned char *t = sqlite3_column_text(st, i);
  size_t n = t ? (size_t)sqlite3_column_bytes(st, i) : 0;
  if (n >= size)
    n = size - 1; /* cannot happen: store.c bounds what goes in */
  if (n)
    memcpy(dst, t, n);
  dst[n] = '\0';
}

static char *col_dup(sqlite3_stmt *st, int i)
{
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? xstrndup((const char *)t, (size_t)sqlite3_column_bytes(st, i)) : NULL;
}

/* Runs a statement that returns no row or one row whose first column is an
 * integer: *v gets it (if v), *found whether there was a row. */
static int sq_step_int(struct sq_conn *c, sqlite3_stmt *st, const char *what, int64_t *v,
                       bool *found)
{
  int rc = sqlite3_step(st);
  if (found)
    *found = rc == SQLITE_ROW;
  if (rc == SQLITE_ROW) {
    if (v)
      *v = sqlite3_column_int64(st, 0);
    rc = sqlite3_step(st); /* finishes an UPDATE .. RETURNING */
    if (rc == SQLITE_ROW)
      rc = SQLITE_DONE;
  }
  int err = sq_err(c, rc, what);
  sq_done(st);
  return err;
}

/* The callback of a listing, whichever its type. */
union sq_cb {
  store_ledger_cb ledger;
  store_event_cb event;
  store_outbox_cb outbox;
  store_quarantine_cb quarantine;
};

/* Steps st to the end, calling row(st, cb, arg) for each row; stops at the
 * first non-zero return. Resets st. */
static int sq_walk(struct sq_conn *c, sqlite3_stmt *st,
                   int (*row)(sqlite3_stmt *, union sq_cb, void *), union sq_cb cb, void *arg,
                   const char *what)
{
  int rc, ret = VG_OK;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    ret = row(st, cb, arg);
    if (ret)
      break;
  }
  if (!ret && rc != SQLITE_DONE)
    ret = sq_err(c, rc, what);
  sq_done(st);
  return ret;
}

#define STMT(c, id)                                                                                \
  sqlite3_stmt *st = sq_stmt((c), (id));                                                           \
  if (!st)                                                                                         \
    return VG_IO;

/* ---- schema ---- */

/* Nonzero if PRAGMA foreign_key_check finds a row pointing nowhere. */
static bool sq_fk_broken(struct sq_conn *c)
{
  sqlite3_stmt *st = NULL;
  bool broken = true;

  if (sqlite3_prepare_v2(c->db, "PRAGMA foreign_key_check", -1, &st, NULL) == SQLITE_OK)
    broken = sqlite3_step(st) != SQLITE_DONE;
  sqlite3_finalize(st);
  return broken;
}

/* Every migration due, in one transaction. Foreign keys are off meanwhile
 * (a table that others reference is rebuilt: SQLite's documented
 * procedure) and checked as a whole before the commit. */
static int sq_migrate(struct sq_conn *c)
{
  if (sq_exec(c, "PRAGMA foreign_keys = OFF") != VG_OK)
    return VG_IO;
  if (sq_exec(c, "BEGIN IMMEDIATE") != VG_OK) {
    (void)sq_exec(c, "PRAGMA foreign_keys = ON");
    return VG_IO;
  }
  int rc = sq_exec(c, "CREATE TABLE IF NOT EXISTS schema_version ("
                      " version INTEGER PRIMARY KEY,"
                      " applied_at INTEGER NOT NULL) STRICT");
  int64_t have = 0;
  if (rc == VG_OK) {
    sqlite3_stmt *st = sq_stmt(c, Q_SCHEMA_VERSION);
    rc = st ? sq_step_int(c, st, "schema version", &have, NULL) : VG_IO;
  }
  if (rc == VG_OK && have > STORE_SCHEMA_VERSION) {
    log_error("store: database schema version %lld is newer than this vodgate (%d)",
              (long long)have, STORE_SCHEMA_VERSION);
    rc = VG_IO;
  }
  for (int64_t v = have; rc == VG_OK && v < STORE_SCHEMA_VERSION; v++) {
    rc = sq_exec(c, sq_migrations[v]);
    if (rc == VG_OK) {
      char sql[128];
      snprintf(sql, sizeof(sql),
               "INSERT INTO schema_version (version, applied_at)"
               " VALUES (%lld, CAST(strftime('%%s', 'now') AS INTEGER))",
               (long long)(v + 1));
      rc = sq_exec(c, sql);
    }
    if (rc == VG_OK)
      log_info("store: migrated schema to version %lld", (long long)(v + 1));
  }
  if (rc == VG_OK && sq_fk_broken(c)) {
    log_error("store: the migrated database has rows whose references point nowhere");
    rc = VG_IO;
  }
  if (sq_exec(c, rc == VG_OK ? "COMMIT" : "ROLLBACK") != VG_OK)
    rc = VG_IO;
  if (sq_exec(c, "PRAGMA foreign_keys = ON") != VG_OK)
    rc = VG_IO;
  return rc;
}

static int sq_schema_version(struct store_tx *tx, int64_t *out)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_SCHEMA_VERSION);
  return sq_step_int(c, st, "schema version", out, NULL);
}

/* ---- the writer ---- */

static int sq_simple(struct sq_conn *c, enum sq_stmt id)
{
  STMT(c, id);
  return sq_step_int(c, st, sq_sql[id], NULL, NULL);
}

/* Runs one group: BEGIN, each request in a savepoint, COMMIT. Sets each
 * request's rc. */
static void sq_run_group(struct sq_conn *c, struct sq_req *group)
{
  bool in_tx = sq_simple(c, Q_BEGIN) == VG_OK;
  struct sq_req *first = group; /* first request of the current transaction */
  for (struct sq_req *r = group; r; r = r->next) {
    if (!in_tx) {
      r->rc = VG_IO;
      continue;
    }
    if (sq_simple(c, Q_SAVEPOINT) != VG_OK) {
      r->rc = VG_IO;
      continue;
    }
    r->rc = r->fn(&c->tx, r->arg);
    if (sqlite3_get_autocommit(c->db)) {
      /* A severe error (disk full, I/O) made SQLite roll the whole
       * transaction back: the earlier requests of this transaction are lost
       * too. Fail them and start a new transaction for the rest. */
      for (struct sq_req *p = first; p != r; p = p->next)
        if (p->rc == VG_OK)
          p->rc = VG_IO;
      if (r->rc == VG_OK)
        r->rc = VG_IO;
      in_tx = sq_simple(c, Q_BEGIN) == VG_OK;
      first = r->next;
      continue;
    }
    if (r->rc != VG_OK && sq_simple(c, Q_ROLLBACK_TO) != VG_OK)
      log_error("store: rollback to savepoint failed");
    if (sq_simple(c, Q_RELEASE) != VG_OK)
      r->rc = r->rc == VG_OK ? VG_IO : r->rc;
  }
  if (!in_tx)
    return;
  if (sq_simple(c, Q_COMMIT) != VG_OK) {
    if (!sqlite3_get_autocommit(c->db))
      (void)sq_simple(c, Q_ROLLBACK);
    for (struct sq_req *p = first; p; p = p->next)
      if (p->rc == VG_OK)
        p->rc = VG_IO;
  }
}

/*
 * Checkpoints run beside the writer, not in it. SQLite's automatic
 * checkpoint runs in the committing connection: the writer copied the WAL
 * into the database and fsynced both while every request queued behind it
 * waited (with 3 KB events, one commit in ten or so; with a slow disk,
 * milliseconds each). Instead, after each commit this hook (run by the
 * writer thread) wakes the checkpointer thread once the WAL holds
 * STORE_WAL_AUTOCHECKPOINT pages; it runs PASSIVE checkpoints on its own
 * connection while the writer goes on appending. A passive checkpoint
 * copies what it can and never blocks the writer, but the WAL is only
 * reused from its start when a checkpoint copied everything before the
 * next write; under unbroken load that may not happen, so past
 * STORE_WAL_CHECKPOINT_HARD pages the writer checkpoints itself as SQLite
 * did (by then most pages are copied already) and the WAL stays bounded.
 * It first waits for a pass of the checkpointer to end: a passive
 * checkpoint gives up at once while another one runs, and on a loaded
 * host the checkpointer's passes could cover every commit of a burst, the
 * writer's attempts all giving up and the WAL never starting over (seen:
 * 8000 commits of 3 KB, the WAL at 25 MB). Between two commits of the only
 * writer, its own checkpoint can copy everything (unless a reader still
 * reads an older snapshot).
 */
static int sq_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
  struct sq_store *ss = arg;

  if (pages >= STORE_WAL_CHECKPOINT_HARD || !ss->ck_started) {
    if (ss->ck_started) {
      pthread_mutex_lock(&ss->ckmu);
      ss->ck_pending = false; /* this one is the writer's */
      while (ss->ck_running)
        pthread_cond_wait(&ss->ck_idle_cv, &ss->ckmu);
      pthread_mutex_unlock(&ss->ckmu);
    }
    if (pages >= STORE_WAL_AUTOCHECKPOINT)
      (void)sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return SQLITE_OK;
  }
  if (pages >= STORE_WAL_AUTOCHECKPOINT) {
    pthread_mutex_lock(&ss->ckmu);
    if (!ss->ck_pending) {
      ss->ck_pending = true;
      pthread_cond_signal(&ss->ck_cv);
    }
    pthread_mutex_unlock(&ss->ckmu);
  }
  return SQLITE_OK;
}

static void *sq_ckpt_main(void *arg)
{
  struct sq_store *ss = arg;

  thread_name("vg-ckpt");

  pthread_mutex_lock(&ss->ckmu);
  for (;;) {
    while (!ss->ck_pending && !ss->ck_stop)
      pthread_cond_wait(&ss->ck_cv, &ss->ckmu);
    if (ss->ck_stop)
      break;
    ss->ck_pending = false;
    ss->ck_running = true;
    pthread_mutex_unlock(&ss->ckmu);
    int rc = sqlite3_wal_checkpoint_v2(ss->ckdb, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
      log_warn("store: checkpoint: %s", sqlite3_errmsg(ss->ckdb));
    pthread_mutex_lock(&ss->ckmu);
    ss->ck_running = false;
    pthread_cond_broadcast(&ss->ck_idle_cv);
  }
  pthread_mutex_unlock(&ss->ckmu);
  return NULL;
}

/* Opens the checkpointer's connection and starts its thread. On failure
 * the writer keeps checkpointing itself (logged; not fatal). */
static void sq_ckpt_start(struct sq_store *ss)
{
  int rc = sqlite3_open_v2(ss->path, &ss->ckdb, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
  char *msg = NULL;
  const char *why;

  if (rc == SQLITE_OK)
    rc = sqlite3_exec(
        ss->ckdb, ss->opt.sync_normal ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL",
        NULL, NULL, &msg);
  if (rc == SQLITE_OK) {
    int err = pthread_create(&ss->ckpt, NULL, sq_ckpt_main, ss);
    if (err == 0) {
      ss->ck_started = true;
      return;
    }
    why = strerror(err);
  } else {
    why = msg ? msg : sqlite3_errstr(rc);
  }
  log_warn("store: no checkpoint thread (%s); the writer checkpoints", why);
  sqlite3_free(msg);
  sqlite3_close(ss->ckdb);
  ss->ckdb = NULL;
}

static void sq_ckpt_stop(struct sq_store *ss)
{
  if (ss->ck_started) {
    pthread_mutex_lock(&ss->ckmu);
    ss->ck_stop = true;
    pthread_cond_signal(&ss->ck_cv);
    pthread_mutex_unlock(&ss->ckmu);
    pthread_join(ss->ckpt, NULL);
    ss->ck_started = false;
  }
  sqlite3_close(ss->ckdb);
  ss->ckdb = NULL;
}

static void *sq_writer_main(void *arg)
{
  struct sq_store *ss = arg;
  size_t max_group = ss->opt.no_group_commit ? 1 : STORE_MAX_GROUP;

  thread_name("vg-writer");
  pthread_mutex_lock(&ss->mu);
  for (;;) {
    while (!ss->head && !ss->stopping)
      pthread_cond_wait(&ss->work_cv, &ss->mu);
    if (!ss->head)
      break; /* stopping and drained */
    /* Take up to max_group requests off the queue. */
    struct sq_req *group = ss->head, *last = group;
    size_t n = 1;
    while (last->next && n < max_group) {
      last = last->next;
      n++;
    }
    ss->head = last->next;
    if (!ss->head)
      ss->tail = &ss->head;
    last->next = NULL;
    pthread_mutex_unlock(&ss->mu);

    sq_run_group(ss->wconn, group);

    for (struct sq_req *r = group, *next; r; r = next) {
      next = r->next; /* r lives on its caller's stack: read before waking */
      if (r->done_fn) {
        r->done_fn(r->rc, r->done_arg);
        free(r);
      } else {
        sem_post(&r->done);
      }
    }
    pthread_mutex_lock(&ss->mu);
  }
  pthread_mutex_unlock(&ss->mu);
  return NULL;
}

/* Appends r to the queue; VG_AGAIN once the store is closing. */
static int sq_enqueue(struct sq_store *ss, struct sq_req *r)
{
  pthread_mutex_lock(&ss->mu);
  if (ss->stopping) {
    pthread_mutex_unlock(&ss->mu);
    return VG_AGAIN;
  }
  *ss->tail = r;
  ss->tail = &r->next;
  pthread_cond_signal(&ss->work_cv);
  pthread_mutex_unlock(&ss->mu);
  return VG_OK;
}

static int sq_run(struct store *s, store_tx_fn fn, void *arg)
{
  struct sq_req r = {.fn = fn, .arg = arg, .rc = VG_IO};
  if (sem_init(&r.done, 0, 0) != 0)
    return VG_IO;
  int rc = sq_enqueue(SQ(s), &r);
  if (rc == VG_OK) {
    while (sem_wait(&r.done) != 0) /* EINTR only */
      ;
    rc = r.rc;
  }
  sem_destroy(&r.done);
  return rc;
}

static int sq_submit(struct store *s, store_tx_fn fn, void *arg, store_done_fn done, void *done_arg)
{
  struct sq_req *r = xcalloc(1, sizeof(*r));
  r->fn = fn;
  r->arg = arg;
  r->rc = VG_IO;
  r->done_fn = done;
  r->done_arg = done_arg;
  int rc = sq_enqueue(SQ(s), r);
  if (rc != VG_OK)
    free(r);
  return rc;
}

/* ---- readers ---- */

static int sq_read_begin(struct store *s, struct store_tx **tx)
{
  struct sq_store *ss = SQ(s);
  pthread_mutex_lock(&ss->rmu);
  struct sq_conn *c = ss->idle;
  if (c)
    ss->idle = c->next;
  pthread_mutex_unlock(&ss->rmu);
  if (!c) {
    /* The pool grows to the number of threads that read at the same time
     * (the HTTP pool plus workers: a handful). */
    int rc = sq_conn_open(ss, false, &c);
    if (rc != VG_OK)
      return rc;
  }
  *tx = &c->tx;
  return VG_OK;
}

static void sq_read_end(struct store *s, struct store_tx *tx)
{
  struct sq_store *ss = SQ(s);
  struct sq_conn *c = CONN(tx);
  pthread_mutex_lock(&ss->rmu);
  c->next = ss->idle;
  ss->idle = c;
  pthread_mutex_unlock(&ss->rmu);
}

/* ---- sessions ---- */

static int sq_session_create(struct store_tx *tx, const struct store_session *sess)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_SESSION_INSERT);
  bind_text(st, 1, sess->upload_id);
  bind_text(st, 2, sess->user_id);
  bind_text(st, 3, sess->policy);
  sqlite3_bind_int64(st, 4, sess->created_at);
  sqlite3_bind_int64(st, 5, sess->expires_at);
  sqlite3_bind_int64(st, 6, sess->signatures_issued);
  bind_text(st, 7, sess->params_json);
  if (sess->first) {
    bind_text(st, 8, sess->first->request_id);
    sqlite3_bind_int64(st, 9, sess->first->expire_time);
    sqlite3_bind_int64(st, 10, sess->first->random);
  } else {
    sqlite3_bind_null(st, 8);
    sqlite3_bind_null(st, 9);
    sqlite3_bind_null(st, 10);
  }
  return sq_step_int(c, st, "session insert", NULL, NULL);
}

static int sq_session_add_signature(struct store_tx *tx, const char *upload_id, int64_t limit,
                                    int64_t *count)
{
  struct sq_conn *c = CONN(tx);
  bool found = false;
  {
    STMT(c, Q_SESSION_ADD_SIG);
    bind_text(st, 1, upload_id);
    sqlite3_bind_int64(st, 2, limit);
    int rc = sq_step_int(c, st, "session add signature", count, &found);
    if (rc != VG_OK || found)
      return rc;
  }
  STMT(c, Q_SESSION_EXISTS);
  bind_text(st, 1, upload_id);
  int rc = sq_step_int(c, st, "session exists", NULL, &found);
  if (rc != VG_OK)
    return rc;
  return found ? VG_CONFLICT : VG_NOTFOUND;
}

static int sq_session_get(struct store_tx *tx, const char *upload_id, struct store_session *out)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_SESSION_GET);
  bind_text(st, 1, upload_id);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    col_copy(st, 0, out->upload_id, sizeof(out->upload_id));
    col_copy(st, 1, out->user_id, sizeof(out->user_id));
    col_copy(st, 2, out->policy, sizeof(out->policy));
    out->created_at = sqlite3_column_int64(st, 3);
    out->expires_at = sqlite3_column_int64(st, 4);
    out->signatures_issued = sqlite3_column_int64(st, 5);
    out->params_json = col_dup(st, 6);
    sq_done(st);
    return VG_OK;
  }
  int err = rc == SQLITE_DONE ? VG_NOTFOUND : sq_err(c, rc, "session get");
  sq_done(st);
  return err;
}

/* ---- audit ---- */

static int sq_audit_append(struct store_tx *tx, const struct store_audit *a)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_AUDIT_INSERT);
  bind_text(st, 1, a->upload_id);
  bind_text(st, 2, a->user_id);
  bind_text(st, 3, a->request_id);
  sqlite3_bind_int64(st, 4, a->expire_time);
  sqlite3_bind_int64(st, 5, a->random);
  sqlite3_bind_int64(st, 6, a->created_at);
  sqlite3_bind_int64(st, 7, a->n);
  return sq_step_int(c, st, "audit insert", NULL, NULL);
}

static int sq_audit_count(struct store_tx *tx, const char *upload_id, int64_t *out)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_AUDIT_COUNT);
  bind_text(st, 1, upload_id);
  return sq_step_int(c, st, "audit count", out, NULL);
}

/* ---- tokens ---- */

static int sq_token_add(struct store_tx *tx, const struct store_token *t)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_TOKEN_INSERT);
  bind_text(st, 1, t->id);
  bind_text(st, 2, t->hash_hex);
  bind_text(st, 3, t->user_id);
  bind_text(st, 4, t->policy);
  bind_text(st, 5, t->label);
  sqlite3_bind_int64(st, 6, t->created_at);
  return sq_step_int(c, st, "token insert", NULL, NULL);
}

static int sq_token_revoke(struct store_tx *tx, const char *id, int64_t now)
{
  struct sq_conn *c = CONN(tx);
  {
    STMT(c, Q_TOKEN_REVOKE);
    bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    int rc = sq_step_int(c, st, "token revoke", NULL, NULL);
    if (rc != VG_OK)
      return rc;
    if (sqlite3_changes(c->db) == 1)
      return VG_OK;
  }
  STMT(c, Q_TOKEN_STATE);
  bind_text(st, 1, id);
  bool found = false;
  int rc = sq_step_int(c, st, "token state", NULL, &found);
  if (rc != VG_OK)
    return rc;
  return found ? VG_CONFLICT : VG_NOTFOUND;
}

static void sq_token_row(sqlite3_stmt *st, struct store_token *t)
{
  col_copy(st, 0, t->id, sizeof(t->id));
  col_copy(st, 1, t->hash_hex, sizeof(t->hash_hex));
  col_copy(st, 2, t->user_id, sizeof(t->user_id));
  col_copy(st, 3, t->policy, sizeof(t->policy));
  col_copy(st, 4, t->label, sizeof(t->label));
  t->created_at = sqlite3_column_int64(st, 5);
  t->revoked_at = sqlite3_column_int64(st, 6);
}

static int sq_token_find(struct store_tx *tx, const char *hash_hex, struct store_token *out)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_TOKEN_FIND);
  bind_text(st, 1, hash_hex);
  int rc = sqlite3_step(st);
  int err = VG_OK;
  if (rc == SQLITE_ROW)
    sq_token_row(st, out);
  else
    err = rc == SQLITE_DONE ? VG_NOTFOUND : sq_err(c, rc, "token find");
  sq_done(st);
  return err;
}

static int sq_token_list(struct store_tx *tx, store_token_cb cb, void *arg)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_TOKEN_LIST);
  int rc, ret = VG_OK;
  struct store_token t;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    memset(&t, 0, sizeof(t));
    sq_token_row(st, &t);
    ret = cb(&t, arg);
    if (ret)
      break;
  }
  if (!ret && rc != SQLITE_DONE)
    ret = sq_err(c, rc, "token list");
  sq_done(st);
  return ret;
}

/* ---- quota ---- */

static int sq_quota_consume(struct store_tx *tx, const char *user_id, int64_t day, int64_t limit,
                            int64_t *used)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_QUOTA_CONSUME);
  bind_text(st, 1, user_id);
  sqlite3_bind_int64(st, 2, day);
  sqlite3_bind_int64(st, 3, limit);
  bool found = false;
  int rc = sq_step_int(c, st, "quota consume", used, &found);
  if (rc != VG_OK)
    return rc;
  return found ? VG_OK : VG_CONFLICT;
}

static int sq_quota_get(struct store_tx *tx, const char *user_id, int64_t day, int64_t *used)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_QUOTA_GET);
  bind_text(st, 1, user_id);
  sqlite3_bind_int64(st, 2, day);
  *used = 0;
  return sq_step_int(c, st, "quota get", used, NULL);
}

static int sq_quota_add(struct store_tx *tx, const char *user_id, int64_t day, int64_t n)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_QUOTA_ADD);
  bind_text(st, 1, user_id);
  sqlite3_bind_int64(st, 2, day);
  sqlite3_bind_int64(st, 3, n);
  return sq_step_int(c, st, "quota add", NULL, NULL);
}

/* ---- events ---- */

static int sq_event_insert(struct store_tx *tx, const struct store_event *ev, bool *is_new)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_EVENT_INSERT);
  bind_text(st, 1, ev->event_key);
  bind_text(st, 2, ev->source);
  bind_text(st, 3, ev->type);
  bind_opt(st, 4, ev->file_id);
  bind_opt(st, 5, ev->task_id);
  bind_opt(st, 6, ev->status);
  bind_text(st, 7, ev->body_json);
  sqlite3_bind_int64(st, 8, ev->received_at);
  int rc = sq_step_int(c, st, "event insert", NULL, NULL);
  *is_new = rc == VG_OK && sqlite3_changes(c->db) == 1;
  return rc;
}

static int sq_event_get(struct store_tx *tx, const char *key, struct store_event_record *out)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_EVENT_GET);
  bind_text(st, 1, key);
  int rc = sqlite3_step(st);
  int err = VG_OK;
  if (rc == SQLITE_ROW) {
    char **f[] = {&out->event_key, &out->source, &out->type,     &out->file_id,
                  &out->task_id,   &out->status, &out->body_json};
    for (int i = 0; i < (int)ARRAY_SIZE(f); i++)
      *f[i] = col_dup(st, i);
    out->received_at = sqlite3_column_int64(st, 7);
  } else {
    err = rc == SQLITE_DONE ? VG_NOTFOUND : sq_err(c, rc, "event get");
  }
  sq_done(st);
  return err;
}

static int event_row_cb(sqlite3_stmt *st, union sq_cb cb, void *arg)
{
  struct store_event_record r;
  char **f[] = {&r.event_key, &r.source, &r.type, &r.file_id, &r.task_id, &r.status, &r.body_json};
  for (int i = 0; i < (int)ARRAY_SIZE(f); i++)
    *f[i] = (char *)sqlite3_column_text(st, i);
  r.received_at = sqlite3_column_int64(st, 7);
  return cb.event(&r, arg);
}

static int sq_event_list(struct store_tx *tx, const char *file_id, int64_t limit, store_event_cb cb,
                         void *arg)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_EVENT_LIST);
  bind_text(st, 1, file_id);
  sqlite3_bind_int64(st, 2, limit);
  return sq_walk(c, st, event_row_cb, (union sq_cb){.event = cb}, arg, "event list");
}

static int sq_count(struct store_tx *tx, enum sq_stmt id, int64_t *out)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, id);
  return sq_step_int(c, st, "count", out, NULL);
}

static int sq_event_count(struct store_tx *tx, int64_t *out)
{
  return sq_count(tx, Q_EVENT_COUNT, out);
}

static int sq_ledger_put(struct store_tx *tx, const struct store_ledger *l)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_LEDGER_PUT);
  bind_text(st, 1, l->file_id);
  bind_opt(st, 2, l->upload_id);
  bind_opt(st, 3, l->user_id);
  bind_text(st, 4, l->state);
  bind_text(st, 5, l->detail_json);
  sqlite3_bind_int64(st, 6, l->updated_at);
  return sq_step_int(c, st, "ledger put", NULL, NULL);
}

/* Fills *l from a LEDGER_COLS row; detail_json is a copy if dup, else the
 * column's text (valid until the next step). */
static void sq_ledger_row(sqlite3_stmt *st, struct store_ledger *l, bool dup)
{
  col_copy(st, 0, l->file_id, sizeof(l->file_id));
  col_copy(st, 1, l->upload_id, sizeof(l->upload_id));
  col_copy(st, 2, l->user_id, sizeof(l->user_id));
  col_copy(st, 3, l->state, sizeof(l->state));
  l->detail_json = dup ? col_dup(st, 4) : (char *)sqlite3_column_text(st, 4);
  l->updated_at = sqlite3_column_int64(st, 5);
}

static int sq_ledger_one(struct store_tx *tx, enum sq_stmt id, const char *key,
                         struct store_ledger *out)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, id);
  bind_text(st, 1, key);
  int rc = sqlite3_step(st);
  int err = VG_OK;
  if (rc == SQLITE_ROW)
    sq_ledger_row(st, out, true);
  else
    err = rc == SQLITE_DONE ? VG_NOTFOUND : sq_err(c, rc, "ledger get");
  sq_done(st);
  return err;
}

static int sq_ledger_get(struct store_tx *tx, const char *file_id, struct store_ledger *out)
{
  return sq_ledger_one(tx, Q_LEDGER_GET, file_id, out);
}

static int sq_ledger_get_by_upload(struct store_tx *tx, const char *upload_id,
                                   struct store_ledger *out)
{
  return sq_ledger_one(tx, Q_LEDGER_BY_UPLOAD, upload_id, out);
}

static int ledger_row_cb(sqlite3_stmt *st, union sq_cb cb, void *arg)
{
  struct store_ledger l;
  memset(&l, 0, sizeof(l));
  sq_ledger_row(st, &l, false);
  return cb.ledger(&l, arg);
}

static int sq_ledger_list(struct store_tx *tx, const char *user_id, const char *state,
                          int64_t limit, store_ledger_cb cb, void *arg)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_LEDGER_LIST);
  bind_text(st, 1, user_id);
  bind_text(st, 2, state);
  sqlite3_bind_int64(st, 3, limit);
  return sq_walk(c, st, ledger_row_cb, (union sq_cb){.ledger = cb}, arg, "ledger list");
}

static int sq_outbox_add(struct store_tx *tx, const char *event_key, const char *payload,
                         int64_t due_at, int64_t *id)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_OUTBOX_ADD);
  bind_text(st, 1, event_key);
  bind_text(st, 2, payload);
  sqlite3_bind_int64(st, 3, due_at);
  int rc = sq_step_int(c, st, "outbox add", NULL, NULL);
  if (rc == VG_OK)
    *id = sqlite3_last_insert_rowid(c->db);
  return rc;
}

static int sq_outbox_count(struct store_tx *tx, int64_t *out)
{
  return sq_count(tx, Q_OUTBOX_COUNT, out);
}

static int sq_quarantine_add(struct store_tx *tx, const char *reason, const void *body, size_t len,
                             int64_t received_at)
{
  struct sq_conn *c = CONN(tx);
  {
    STMT(c, Q_QUARANTINE_ADD);
    bind_text(st, 1, reason);
    sqlite3_bind_blob64(st, 2, body, len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, received_at);
    int rc = sq_step_int(c, st, "quarantine add", NULL, NULL);
    if (rc != VG_OK)
      return rc;
  }
  STMT(c, Q_QUARANTINE_TRIM);
  sqlite3_bind_int64(st, 1, STORE_QUARANTINE_KEEP);
  return sq_step_int(c, st, "quarantine trim", NULL, NULL);
}

static int sq_quarantine_count(struct store_tx *tx, int64_t *out)
{
  return sq_count(tx, Q_QUARANTINE_COUNT, out);
}

static int outbox_row_cb(sqlite3_stmt *st, union sq_cb cb, void *arg)
{
  struct store_outbox_item it = {
      .id = sqlite3_column_int64(st, 0),
      .event_key = (const char *)sqlite3_column_text(st, 1),
      .payload_json = (const char *)sqlite3_column_text(st, 2),
      .attempts = sqlite3_column_int64(st, 3),
      .due_at = sqlite3_column_int64(st, 4),
      .delivered_at = sqlite3_column_int64(st, 5),
      .dead = sqlite3_column_int64(st, 6) != 0,
  };
  return cb.outbox(&it, arg);
}

static int sq_outbox_due(struct store_tx *tx, int64_t now, int64_t limit, store_outbox_cb cb,
                         void *arg)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_OUTBOX_DUE);
  sqlite3_bind_int64(st, 1, now);
  sqlite3_bind_int64(st, 2, limit);
  return sq_walk(c, st, outbox_row_cb, (union sq_cb){.outbox = cb}, arg, "outbox due");
}

/* Runs an UPDATE/DELETE; VG_NOTFOUND if it changed no row. */
static int sq_step_changed(struct sq_conn *c, sqlite3_stmt *st, const char *what)
{
  int rc = sq_step_int(c, st, what, NULL, NULL);
  if (rc != VG_OK)
    return rc;
  return sqlite3_changes(c->db) > 0 ? VG_OK : VG_NOTFOUND;
}

static int sq_outbox_delivered(struct store_tx *tx, int64_t id, int64_t now)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_OUTBOX_DELIVERED);
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int64(st, 2, now);
  return sq_step_changed(c, st, "outbox delivered");
}

static int sq_outbox_failed(struct store_tx *tx, int64_t id, int64_t next_due_at, bool dead)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_OUTBOX_FAILED);
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int64(st, 2, next_due_at);
  sqlite3_bind_int(st, 3, dead);
  return sq_step_changed(c, st, "outbox failed");
}

static int sq_outbox_dead_count(struct store_tx *tx, int64_t *out)
{
  return sq_count(tx, Q_OUTBOX_DEAD_COUNT, out);
}

static int sq_outbox_list(struct store_tx *tx, enum store_outbox_state state, const char *file_id,
                          int64_t id, int64_t limit, store_outbox_cb cb, void *arg)
{
  struct sq_conn *c = CONN(tx);
  if (id > 0) {
    STMT(c, Q_OUTBOX_GET);
    sqlite3_bind_int64(st, 1, id);
    return sq_walk(c, st, outbox_row_cb, (union sq_cb){.outbox = cb}, arg, "outbox get");
  }
  STMT(c, state == STORE_OUTBOX_PENDING ? Q_OUTBOX_LIST_PENDING
          : state == STORE_OUTBOX_DEAD  ? Q_OUTBOX_LIST_DEAD
                                        : Q_OUTBOX_LIST);
  sqlite3_bind_int(st, 1, (int)state);
  bind_text(st, 2, file_id);
  sqlite3_bind_int64(st, 3, limit);
  return sq_walk(c, st, outbox_row_cb, (union sq_cb){.outbox = cb}, arg, "outbox list");
}

static int sq_prune(struct store_tx *tx, enum store_prune_what what, int64_t before, int64_t limit,
                    int64_t *deleted)
{
  struct sq_conn *c = CONN(tx);
  int rc;

  STMT(c, what == STORE_PRUNE_EVENTS ? Q_PRUNE_EVENTS : Q_PRUNE_WEBHOOKS);
  sqlite3_bind_int64(st, 1, before);
  sqlite3_bind_int64(st, 2, limit);
  rc = sq_step_int(c, st, "prune", NULL, NULL);
  if (rc == VG_OK)
    *deleted = sqlite3_changes(c->db);
  return rc;
}

static int sq_outbox_retry(struct store_tx *tx, int64_t id, int64_t now, int64_t *changed)
{
  struct sq_conn *c = CONN(tx);
  bool found = false;
  int rc;

  if (id == 0) {
    STMT(c, Q_OUTBOX_RETRY_DEAD);
    sqlite3_bind_int64(st, 1, now);
    rc = sq_step_int(c, st, "outbox retry", NULL, NULL);
    if (rc == VG_OK)
      *changed = sqlite3_changes(c->db);
    return rc;
  }
  {
    STMT(c, Q_OUTBOX_RETRY_ONE);
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now);
    rc = sq_step_int(c, st, "outbox retry", NULL, NULL);
    if (rc != VG_OK)
      return rc;
    *changed = sqlite3_changes(c->db);
    if (*changed > 0)
      return VG_OK;
  }
  /* Not changed: delivered (never sent again), or no such row. */
  STMT(c, Q_OUTBOX_EXISTS);
  sqlite3_bind_int64(st, 1, id);
  rc = sq_step_int(c, st, "outbox exists", NULL, &found);
  if (rc != VG_OK)
    return rc;
  return found ? VG_CONFLICT : VG_NOTFOUND;
}

static int quarantine_row_cb(sqlite3_stmt *st, union sq_cb cb, void *arg)
{
  struct store_quarantine_item it = {
      .id = sqlite3_column_int64(st, 0),
      .reason = (const char *)sqlite3_column_text(st, 1),
      .body = sqlite3_column_blob(st, 2),
      .body_len = (size_t)sqlite3_column_bytes(st, 2),
      .received_at = sqlite3_column_int64(st, 3),
  };
  if (!it.body)
    it.body = ""; /* an empty blob reads as NULL */
  return cb.quarantine(&it, arg);
}

static int sq_quarantine_list(struct store_tx *tx, int64_t limit, store_quarantine_cb cb, void *arg)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_QUARANTINE_LIST);
  sqlite3_bind_int64(st, 1, limit);
  return sq_walk(c, st, quarantine_row_cb, (union sq_cb){.quarantine = cb}, arg, "quarantine list");
}

static int sq_lease_acquire(struct store_tx *tx, const char *name, const char *owner, int64_t now,
                            int64_t ttl)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_LEASE_ACQUIRE);
  bind_text(st, 1, name);
  bind_text(st, 2, owner);
  sqlite3_bind_int64(st, 3, now);
  sqlite3_bind_int64(st, 4, ttl);
  bool found = false;
  int rc = sq_step_int(c, st, "lease acquire", NULL, &found);
  if (rc != VG_OK)
    return rc;
  return found ? VG_OK : VG_CONFLICT;
}

static int sq_lease_release(struct store_tx *tx, const char *name, const char *owner)
{
  struct sq_conn *c = CONN(tx);
  STMT(c, Q_LEASE_RELEASE);
  bind_text(st, 1, name);
  bind_text(st, 2, owner);
  return sq_step_int(c, st, "lease release", NULL, NULL);
}

/* ---- lifecycle ---- */

static void sq_close(struct store *s)
{
  struct sq_store *ss = SQ(s);
  pthread_mutex_lock(&ss->mu);
  ss->stopping = true;
  pthread_cond_signal(&ss->work_cv);
  pthread_mutex_unlock(&ss->mu);
  pthread_join(ss->writer, NULL); /* the writer drains the queue first */
  sq_ckpt_stop(ss);
  pthread_mutex_destroy(&ss->ckmu);
  pthread_cond_destroy(&ss->ck_cv);
  pthread_cond_destroy(&ss->ck_idle_cv);
  while (ss->idle) {
    struct sq_conn *c = ss->idle;
    ss->idle = c->next;
    sq_conn_free(c);
  }
  sq_conn_free(ss->wconn);
  pthread_mutex_destroy(&ss->mu);
  pthread_mutex_destroy(&ss->rmu);
  pthread_cond_destroy(&ss->work_cv);
  free(ss->path);
  free(ss);
}

static const struct store_ops sq_ops = {
    .name = "sqlite",
    .close = sq_close,
    .run = sq_run,
    .submit = sq_submit,
    .read_begin = sq_read_begin,
    .read_end = sq_read_end,
    .schema_version = sq_schema_version,
    .session_create = sq_session_create,
    .session_add_signature = sq_session_add_signature,
    .session_get = sq_session_get,
    .audit_append = sq_audit_append,
    .audit_count = sq_audit_count,
    .token_add = sq_token_add,
    .token_revoke = sq_token_revoke,
    .token_find = sq_token_find,
    .token_list = sq_token_list,
    .quota_consume = sq_quota_consume,
    .quota_get = sq_quota_get,
    .quota_add = sq_quota_add,
    .event_insert = sq_event_insert,
    .event_get = sq_event_get,
    .event_count = sq_event_count,
    .ledger_put = sq_ledger_put,
    .ledger_get = sq_ledger_get,
    .outbox_add = sq_outbox_add,
    .outbox_count = sq_outbox_count,
    .quarantine_add = sq_quarantine_add,
    .quarantine_count = sq_quarantine_count,
    .ledger_get_by_upload = sq_ledger_get_by_upload,
    .ledger_list = sq_ledger_list,
    .event_list = sq_event_list,
    .outbox_due = sq_outbox_due,
    .outbox_delivered = sq_outbox_delivered,
    .outbox_failed = sq_outbox_failed,
    .outbox_dead_count = sq_outbox_dead_count,
    .outbox_list = sq_outbox_list,
    .outbox_retry = sq_outbox_retry,
    .prune = sq_prune,
    .quarantine_list = sq_quarantine_list,
    .lease_acquire = sq_lease_acquire,
    .lease_release = sq_lease_release,
};

/* Creates every missing directory above the file path (mode 0700: the
 * database holds token hashes and user ids). */
static int sq_make_parent(const char *path)
{
  char *dir = xstrdup(path);
  char *slash = strrchr(dir, '/');
  int rc = VG_OK;
  if (slash && slash != dir) {
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
      if (*p != '/' && *p != '\0')
        continue;
      char saved = *p;
      *p = '\0';
      struct stat sb;
      if (stat(dir, &sb) != 0) {
        if (errno != ENOENT || (mkdir(dir, 0700) != 0 && errno != EEXIST)) {
          log_error("store: cannot create directory '%s' for the database: %s", dir,
                    strerror(errno));
          rc = VG_IO;
          break;
        }
      } else if (!S_ISDIR(sb.st_mode)) {
        log_error("store: '%s' is not a directory (database path '%s')", dir, path);
        rc = VG_IO;
        break;
      }
      *p = saved;
      if (saved == '\0')
        break;
    }
  }
  free(dir);
  return rc;
}

int store_sqlite_open(const char *path, const struct store_options *opt, struct store **out)
{
  if (!strcmp(path, ":memory:") || !strncmp(path, "file:", 5)) {
    log_error("store: sqlite needs a plain file path (WAL does not work in memory)");
    return VG_INVALID;
  }
  if (sqlite3_threadsafe() == 0) {
    log_error("store: this SQLite library was built without thread support");
    return VG_IO;
  }
  int rc = sq_make_parent(path);
  if (rc != VG_OK)
    return rc;
  struct sq_store *ss = xcalloc(1, sizeof(*ss));
  ss->base.ops = &sq_ops;
  ss->path = xstrdup(path);
  ss->opt = *opt;
  ss->tail = &ss->head;
  rc = sq_conn_open(ss, true, &ss->wconn);
  if (rc == VG_OK)
    rc = sq_migrate(ss->wconn);
  if (rc != VG_OK) {
    sq_conn_free(ss->wconn);
    free(ss->path);
    free(ss);
    return rc;
  }
  pthread_mutex_init(&ss->mu, NULL);
  pthread_mutex_init(&ss->rmu, NULL);
  pthread_cond_init(&ss->work_cv, NULL);
  pthread_mutex_init(&ss->ckmu, NULL);
  pthread_cond_init(&ss->ck_cv, NULL);
  pthread_cond_init(&ss->ck_idle_cv, NULL);
  sq_ckpt_start(ss);
  sqlite3_wal_hook(ss->wconn->db, sq_wal_hook, ss);
  int err = pthread_create(&ss->writer, NULL, sq_writer_main, ss);
  if (err) {
    log_error("store: cannot start the writer thread: %s", strerror(err));
    sq_ckpt_stop(ss);
    pthread_mutex_destroy(&ss->ckmu);
    pthread_cond_destroy(&ss->ck_cv);
    pthread_mutex_destroy(&ss->mu);
    pthread_mutex_destroy(&ss->rmu);
    pthread_cond_destroy(&ss->work_cv);
    sq_conn_free(ss->wconn);
    free(ss->path);
    free(ss);
    return VG_IO;
  }
  *out = &ss->base;
  return VG_OK;
}
