/*
 * store_pg.c: the PostgreSQL backend of store.h (libpq).
 *
 * Connections: a mutex-protected pool of at most pg_pool_size connections;
 * a thread borrows one for a store_run() transaction or a read and gives it
 * back. A connection found broken is closed instead of pooled.
 *
 * Server restarts: an idle pooled connection does not notice that its
 * server went away until it is used. When the first statement of a borrow
 * (BEGIN of a store_run() transaction, or the one SELECT of a read) fails
 * on a connection libpq now reports CONNECTION_BAD, nothing of the caller's
 * work ran on the server (BEGIN has no effect; a SELECT has no effect), so
 * the connection is reset (PQreset) and the statement sent once more. Any
 * later failure is the caller's error as before: a statement of a
 * transaction already under way is never re-sent (no double effect).
 *
 * Queries: PQexecParams with $n parameters only (never SQL built from
 * values); the constant schema DDL goes through PQexec. Parameters and
 * results travel as text, except quarantined bodies (binary bytea).
 *
 * Concurrency: transactions run under READ COMMITTED. Every
 * check-and-increment is one statement (UPDATE .. WHERE count < limit
 * RETURNING, INSERT .. ON CONFLICT DO UPDATE .. WHERE), which PostgreSQL
 * re-evaluates against the latest row version after waiting for a
 * concurrent writer, so limits hold exactly without SERIALIZABLE retries.
 * Expected conflicts use ON CONFLICT DO NOTHING, so they do not abort the
 * transaction; an unexpected error does, and the transaction is rolled back
 * even if the callback ignores the error.
 */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/util.h"
#include "store/store_impl.h"

static const char *const pg_migrations[] = {
    /* 1: issue 3 (signature service) */
    "CREATE TABLE upload_session ("
    " upload_id text PRIMARY KEY,"
    " user_id text NOT NULL,"
    " policy text NOT NULL,"
    " created_at bigint NOT NULL,"
    " expires_at bigint NOT NULL,"
    " signatures_issued bigint NOT NULL DEFAULT 0 CHECK (signatures_issued >= 0),"
    " params json NOT NULL DEFAULT '{}');"
    "CREATE INDEX upload_session_user ON upload_session(user_id, created_at);"
    "CREATE TABLE audit ("
    " id bigserial PRIMARY KEY,"
    " upload_id text NOT NULL REFERENCES upload_session(upload_id),"
    " user_id text NOT NULL,"
    " request_id text NOT NULL,"
    " expire_time bigint NOT NULL,"
    " random bigint NOT NULL,"
    " created_at bigint NOT NULL);"
    "CREATE INDEX audit_upload ON audit(upload_id);"
    "CREATE TABLE api_token ("
    " id text PRIMARY KEY,"
    " hash text NOT NULL UNIQUE,"
    " user_id text NOT NULL,"
    " policy text NOT NULL,"
    " label text NOT NULL DEFAULT '',"
    " created_at bigint NOT NULL,"
    " revoked_at bigint);"
    "CREATE TABLE quota ("
    " user_id text NOT NULL,"
    " day bigint NOT NULL,"
    " used bigint NOT NULL,"
    " PRIMARY KEY (user_id, day));",
    /* 2: issue 4 (event intake) */
    "CREATE TABLE event ("
    " event_key text PRIMARY KEY,"
    " source text NOT NULL CHECK (source IN ('push', 'pull')),"
    " type text NOT NULL,"
    " file_id text,"
    " task_id text,"
    " status text,"
    " body json NOT NULL,"
    " received_at bigint NOT NULL);"
    "CREATE INDEX event_file ON event(file_id);"
    "CREATE TABLE ledger ("
    " file_id text PRIMARY KEY,"
    " upload_id text,"
    " user_id text,"
    " state text NOT NULL,"
    " detail json NOT NULL DEFAULT '{}',"
    " updated_at bigint NOT NULL);"
    "CREATE INDEX ledger_upload ON ledger(upload_id);"
    "CREATE INDEX ledger_user ON ledger(user_id, state);"
    "CREATE TABLE outbox ("
    " id bigserial PRIMARY KEY,"
    " event_key text NOT NULL,"
    " payload json NOT NULL,"
    " attempts integer NOT NULL DEFAULT 0,"
    " due_at bigint NOT NULL,"
    " delivered_at bigint,"
    " dead boolean NOT NULL DEFAULT false);"
    "CREATE INDEX outbox_due ON outbox(due_at) WHERE delivered_at IS NULL AND NOT dead;"
    "CREATE TABLE quarantine ("
    " id bigserial PRIMARY KEY,"
    " reason text NOT NULL,"
    " body bytea NOT NULL,"
    " received_at bigint NOT NULL);",
    /* 3: leases (one puller / forwarder per database), event listing */
    "CREATE TABLE lease ("
    " name text PRIMARY KEY,"
    " owner text NOT NULL,"
    " expires_at bigint NOT NULL);"
    "CREATE INDEX event_received ON event(received_at);",
    /* 4: SQLite dropped its json_valid() CHECKs; nothing changes here. */
    "SELECT 1;",
    /* 5: SQLite's upload_session became WITHOUT ROWID; nothing changes here. */
    "SELECT 1;",
    /* 6: each audit row carries n, the signature's ordinal within its
     * session (store.h), unique per session as in SQLite (where
     * (upload_id, n) became the table's key). id stays the primary key;
     * the unique index on (upload_id, n) replaces audit_upload. The
     * reference to upload_session goes, as in SQLite (where it cost more
     * than it guarded: every writer inserts the session first in the same
     * transaction, and none is deleted), so both stores accept and refuse
     * the same rows. Existing rows get n by id within each session; a
     * session counting fewer signatures than it has audit rows is raised
     * to that number, so the next signature's n is free. */
    "ALTER TABLE audit ADD COLUMN n bigint;"
    "UPDATE audit SET n = r.n FROM (SELECT id, row_number() OVER (PARTITION BY upload_id"
    " ORDER BY id) AS n FROM audit) r WHERE audit.id = r.id;"
    "ALTER TABLE audit ALTER COLUMN n SET NOT NULL;"
    "ALTER TABLE audit ADD CONSTRAINT audit_n_check CHECK (n >= 1);"
    "ALTER TABLE audit ADD CONSTRAINT audit_upload_n UNIQUE (upload_id, n);"
    "DROP INDEX audit_upload;"
    "ALTER TABLE audit DROP CONSTRAINT audit_upload_id_fkey;"
    "UPDATE upload_session s SET signatures_issued = c.k FROM (SELECT upload_id, count(*) AS k"
    " FROM audit GROUP BY upload_id) c WHERE s.upload_id = c.upload_id"
    " AND s.signatures_issued < c.k;",
    /* 7: the unused index on upload_session(user_id, created_at) goes, as
     * in SQLite (each new session paid an insert into it). */
    "DROP INDEX IF EXISTS upload_session_user;",
    /* 8: a session's first signature in the session's own row, its audit
     * row gone, and the view `signatures` over both, as in SQLite (where
     * it saves a b-tree insert per new session); both stores keep the
     * same records. */
    "ALTER TABLE upload_session ADD COLUMN first_request_id text,"
    " ADD COLUMN first_expire_time bigint, ADD COLUMN first_random bigint;"
    "UPDATE upload_session s SET first_request_id = a.request_id,"
    " first_expire_time = a.expire_time, first_random = a.random FROM audit a"
    " WHERE a.upload_id = s.upload_id AND a.n = 1 AND a.user_id = s.user_id"
    " AND a.created_at = s.created_at;"
    "DELETE FROM audit a USING upload_session s WHERE a.n = 1 AND s.upload_id = a.upload_id"
    " AND s.first_request_id IS NOT NULL;"
    "CREATE VIEW signatures AS"
    " SELECT upload_id, 1::bigint AS n, user_id, first_request_id AS request_id,"
    " first_expire_time AS expire_time, first_random AS random, created_at"
    " FROM upload_session WHERE first_request_id IS NOT NULL"
    " UNION ALL SELECT upload_id, n, user_id, request_id, expire_time, random, created_at"
    " FROM audit;",
    /* 9: indexes for [retention] webhooks and for the dead rows, as in
     * SQLite (the list's state is a parameter, which PostgreSQL folds
     * before planning an unnamed statement, so the index applies). */
    ("CREATE INDEX outbox_delivered ON outbox(delivered_at) WHERE delivered_at IS NOT NULL;"
     "CREATE INDEX outbox_dead ON outbox(id) WHERE dead;"),
};

_Static_assert(ARRAY_SIZE(pg_migrations) == STORE_SCHEMA_VERSION, "one migration per version");

struct pg_conn {
  struct store_tx tx; /* first */
  PGconn *conn;
  bool failed; /* a statement failed: the transaction is aborted */
  /* The next statement may be re-sent on a fresh connection if it fails on
   * a dead one: true only for the first statement of a borrow that has no
   * effect (BEGIN, or a read's SELECT); cleared once it ran. */
  bool may_reset;
  struct pg_conn *next;
};

struct pg_store {
  struct store base; /* first */
  char *conninfo;    /* may hold a password: never logged */
  unsigned max, open;
  pthread_mutex_t mu; /* guards idle, open */
  pthread_cond_t cv;  /* a connection was returned */
  struct pg_conn *idle;
};

#define PG(s)    ((struct pg_store *)(s))
#define CONN(tx) ((struct pg_conn *)(tx))

#define LEDGER_COLS                                                                                \
  "file_id, coalesce(upload_id, ''), coalesce(user_id, ''), state, detail, updated_at"
#define EVENT_COLS "event_key, source, type, file_id, task_id, status, body, received_at"

/* ---- parameters ---- */

#define PG_MAX_ARGS 10

struct pg_args {
  int n;
  const char *v[PG_MAX_ARGS];
  int len[PG_MAX_ARGS];
  int fmt[PG_MAX_ARGS];
  char num[PG_MAX_ARGS][24];
};

static void arg_s(struct pg_args *a, const char *s)
{
  a->v[a->n++] = s; /* NULL is SQL NULL */
}

/* Optional string: "" is stored as NULL, as in the SQLite backend. */
static void arg_opt(struct pg_args *a, const char *s)
{
  arg_s(a, s && *s ? s : NULL);
}

static void arg_i(struct pg_args *a, int64_t v)
{
  snprintf(a->num[a->n], sizeof(a->num[0]), "%lld", (long long)v);
  a->v[a->n] = a->num[a->n];
  a->n++;
}

static void arg_bin(struct pg_args *a, const void *p, size_t n)
{
  a->v[a->n] = p;
  a->len[a->n] = (int)n; /* n <= STORE_MAX_BODY */
  a->fmt[a->n] = 1;
  a->n++;
}

/* Maps a failed result to a vg_err by SQLSTATE; logs unexpected ones. */
static int pg_err(struct pg_conn *c, const PGresult *res, const char *what)
{
  const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
  if (state) {
    if (!strcmp(state, "23505"))
      return VG_CONFLICT;
    /* foreign key, check, not null, and data exceptions (bad JSON, bad
     * UTF-8): the caller's input was refused */
    if (!strcmp(state, "23503") || !strcmp(state, "23514") || !strcmp(state, "23502") ||
        !strncmp(state, "22", 2))
      return VG_INVALID;
  }
  const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  log_error("store: postgres %s: %s (%s)", what, msg ? msg : PQerrorMessage(c->conn),
            state ? state : "no sqlstate");
  if (state && (!strcmp(state, "40001") || !strcmp(state, "40P01")))
    return VG_AGAIN;
  return VG_IO;
}

static void pg_quiet(void *arg, const char *msg);

/* Runs sql with a's parameters. Returns the result (caller PQclear()s) and
 * *err = VG_OK, or NULL with *err set. A failure marks the transaction
 * aborted. */
static PGresult *pg_exec(struct pg_conn *c, const char *sql, const struct pg_args *a,
                         const char *what, int *err)
{
  if (c->failed) {
    *err = VG_IO;
    return NULL;
  }
  PGresult *res = PQexecParams(c->conn, sql, a ? a->n : 0, NULL, a ? a->v : NULL, a ? a->len : NULL,
                               a ? a->fmt : NULL, 0);
  ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && c->may_reset &&
      PQstatus(c->conn) == CONNECTION_BAD) {
    /* A pooled connection whose server restarted (see the top comment). */
    PQclear(res);
    res = NULL;
    log_warn("store: postgres connection lost (server restarted?); reconnecting");
    PQreset(c->conn);
    if (PQstatus(c->conn) == CONNECTION_OK) {
      PQsetNoticeProcessor(c->conn, pg_quiet, NULL);
      res = PQexecParams(c->conn, sql, a ? a->n : 0, NULL, a ? a->v : NULL, a ? a->len : NULL,
                         a ? a->fmt : NULL, 0);
    }
    s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  }
  c->may_reset = false;
  if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
    *err = VG_OK;
    return res;
  }
  *err = pg_err(c, res, what);
  PQclear(res);
  if (PQtransactionStatus(c->conn) != PQTRANS_IDLE)
    c->failed = true;
  return NULL;
}

/* A statement returning at most one row with an integer first column. */
static int pg_exec_int(struct pg_conn *c, const char *sql, const struct pg_args *a,
                       const char *what, int64_t *v, bool *found)
{
  int err;
  PGresult *res = pg_exec(c, sql, a, what, &err);
  if (!res)
    return err;
  bool row = PQntuples(res) > 0;
  if (found)
    *found = row;
  if (row && v && parse_i64z(PQgetvalue(res, 0, 0), v) != 0) {
    log_error("store: postgres %s: not an integer", what);
    err = VG_IO;
  }
  PQclear(res);
  return err;
}

/* Rows affected by the last command, from its result. */
static int pg_exec_changes(struct pg_conn *c, const char *sql, const struct pg_args *a,
                           const char *what, int64_t *changes)
{
  int err;
  PGresult *res = pg_exec(c, sql, a, what, &err);
  if (!res)
    return err;
  const char *t = PQcmdTuples(res);
  if (parse_i64z(t, changes) != 0)
    *changes = 0;
  PQclear(res);
  return VG_OK;
}

static void val_copy(const PGresult *res, int col, char *dst, size_t size)
{
  const char *v = PQgetvalue(res, 0, col);
  size_t n = (size_t)PQgetlength(res, 0, col);
  if (n >= size)
    n = size - 1; /* cannot happen: store.c bounds what goes in */
  memcpy(dst, v, n);
  dst[n] = '\0';
}

static char *val_dup(const PGresult *res, int row, int col)
{
  if (PQgetisnull(res, row, col))
    return NULL;
  return xstrndup(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
}

static int64_t val_int(const PGresult *res, int row, int col)
{
  int64_t v = 0;
  if (!PQgetisnull(res, row, col))
    (void)parse_i64z(PQgetvalue(res, row, col), &v);
  return v;
}

/* ---- pool ---- */

static void pg_quiet(void *arg, const char *msg)
{
  /* NOTICEs (e.g. "relation already exists, skipping") are not errors. */
}

static int pg_connect(struct pg_store *ps, struct pg_conn **out)
{
  struct pg_conn *c = xcalloc(1, sizeof(*c));
  c->tx.store = &ps->base;
  c->tx.writable = true;
  /* The defaults first: the URL (expanded from dbname) overrides them. */
  static const char *const keys[] = {
      "connect_timeout",  "keepalives",       "keepalives_idle", "keepalives_interval",
      "keepalives_count", "tcp_user_timeout", "dbname",          NULL};
  const char *const vals[] = {STORE_PG_CONNECT_TIMEOUT_S,
                              "1",
                              STORE_PG_KEEPALIVES_IDLE_S,
                              STORE_PG_KEEPALIVES_INTERVAL,
                              STORE_PG_KEEPALIVES_COUNT,
                              STORE_PG_TCP_USER_TIMEOUT_MS,
                              ps->conninfo,
                              NULL};
  c->conn = PQconnectdbParams(keys, vals, 1);
  if (!c->conn || PQstatus(c->conn) != CONNECTION_OK) {
    /* PQerrorMessage names host and user, never the password. */
    log_error("store: cannot connect to postgres: %s",
              c->conn ? PQerrorMessage(c->conn) : "out of memory");
    PQfinish(c->conn);
    free(c);
    return VG_IO;
  }
  PQsetNoticeProcessor(c->conn, pg_quiet, NULL);
  *out = c;
  return VG_OK;
}

static int pg_acquire(struct pg_store *ps, struct pg_conn **out)
{
  pthread_mutex_lock(&ps->mu);
  while (!ps->idle && ps->open >= ps->max)
    pthread_cond_wait(&ps->cv, &ps->mu);
  struct pg_conn *c = ps->idle;
  if (c) {
    ps->idle = c->next;
    pthread_mutex_unlock(&ps->mu);
    *out = c;
    return VG_OK;
  }
  ps->open++;
  pthread_mutex_unlock(&ps->mu);
  int rc = pg_connect(ps, &c);
  if (rc != VG_OK) {
    pthread_mutex_lock(&ps->mu);
    ps->open--;
    pthread_cond_signal(&ps->cv);
    pthread_mutex_unlock(&ps->mu);
    return rc;
  }
  *out = c;
  return VG_OK;
}

static void pg_release(struct pg_store *ps, struct pg_conn *c)
{
  bool broken = PQstatus(c->conn) != CONNECTION_OK || PQtransactionStatus(c->conn) != PQTRANS_IDLE;
  if (broken) {
    PQfinish(c->conn);
    free(c);
  }
  pthread_mutex_lock(&ps->mu);
  if (broken) {
    ps->open--;
  } else {
    c->failed = false;
    c->may_reset = false;
    c->next = ps->idle;
    ps->idle = c;
  }
  pthread_cond_signal(&ps->cv);
  pthread_mutex_unlock(&ps->mu);
}

static int pg_read_begin(struct store *s, struct store_tx **tx)
{
  struct pg_conn *c;
  int rc = pg_acquire(PG(s), &c);
  if (rc == VG_OK) {
    c->may_reset = true; /* a read op's first statement is a SELECT */
    *tx = &c->tx;
  }
  return rc;
}

static void pg_read_end(struct store *s, struct store_tx *tx)
{
  pg_release(PG(s), CONN(tx));
}

/* ---- transactions ---- */

static int pg_simple(struct pg_conn *c, const char *sql)
{
  int err;
  PGresult *res = pg_exec(c, sql, NULL, sql, &err);
  PQclear(res);
  return err;
}

static int pg_run(struct store *s, store_tx_fn fn, void *arg)
{
  struct pg_store *ps = PG(s);
  struct pg_conn *c;
  int rc = pg_acquire(ps, &c);
  if (rc != VG_OK)
    return rc;
  c->failed = false;
  c->may_reset = true; /* BEGIN has no effect: safe to re-send */
  rc = pg_simple(c, "BEGIN");
  if (rc == VG_OK) {
    rc = fn(&c->tx, arg);
    if (rc == VG_OK && c->failed) {
      log_error("store: a transaction callback ignored a database error; rolled back");
      rc = VG_IO;
    }
    if (rc == VG_OK) {
      int err;
      PGresult *res = pg_exec(c, "COMMIT", NULL, "commit", &err);
      /* COMMIT of an aborted transaction "succeeds" as ROLLBACK. */
      if (!res || strcmp(PQcmdStatus(res), "COMMIT") != 0)
        rc = VG_IO;
      PQclear(res);
    } else {
      c->failed = false; /* ROLLBACK works on an aborted transaction */
      (void)pg_simple(c, "ROLLBACK");
    }
  }
  pg_release(ps, c);
  return rc;
}

/* No writer thread: the transaction runs here and done is called before
 * returning (store.h allows it). */
static int pg_submit(struct store *s, store_tx_fn fn, void *arg, store_done_fn done, void *done_arg)
{
  done(pg_run(s, fn, arg), done_arg);
  return VG_OK;
}

/* ---- schema ---- */

static int pg_exec_script(struct pg_conn *c, const char *sql)
{
  PGresult *res = PQexec(c->conn, sql);
  int rc = VG_OK;
  if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
    rc = pg_err(c, res, "migration");
    c->failed = true;
  }
  PQclear(res);
  return rc;
}

static const char pg_version_sql[] = "SELECT coalesce(max(version), 0) FROM schema_version";

static int pg_migrate(struct pg_conn *c)
{
  int rc = pg_simple(c, "BEGIN");
  if (rc != VG_OK)
    return rc;
  /* Serialises concurrent openers (several daemons, a CLI): the key is an
   * arbitrary constant, "vodgate" in ASCII. */
  rc = pg_simple(c, "SELECT pg_advisory_xact_lock(118111100103097116)");
  if (rc == VG_OK)
    rc = pg_exec_script(c, "CREATE TABLE IF NOT EXISTS schema_version ("
                           " version bigint PRIMARY KEY,"
                           " applied_at timestamptz NOT NULL DEFAULT now())");
  int64_t have = 0;
  if (rc == VG_OK)
    rc = pg_exec_int(c, pg_version_sql, NULL, "schema version", &have, NULL);
  if (rc == VG_OK && have > STORE_SCHEMA_VERSION) {
    log_error("store: database schema version %lld is newer than this vodgate (%d)",
              (long long)have, STORE_SCHEMA_VERSION);
    rc = VG_IO;
  }
  for (int64_t v = have; rc == VG_OK && v < STORE_SCHEMA_VERSION; v++) {
    rc = pg_exec_script(c, pg_migrations[v]);
    if (rc == VG_OK) {
      struct pg_args a = {0};
      arg_i(&a, v + 1);
      int64_t n;
      rc = pg_exec_changes(c, "INSERT INTO schema_version (version) VALUES ($1::bigint)", &a,
                           "schema version", &n);
    }
    if (rc == VG_OK)
      log_info("store: migrated schema to version %lld", (long long)(v + 1));
  }
  c->failed = false;
  int end = pg_simple(c, rc == VG_OK ? "COMMIT" : "ROLLBACK");
  return rc != VG_OK ? rc : end;
}

static int pg_schema_version(struct store_tx *tx, int64_t *out)
{
  return pg_exec_int(CONN(tx), pg_version_sql, NULL, "schema version", out, NULL);
}

/* ---- sessions ---- */

static int pg_session_create(struct store_tx *tx, const struct store_session *sess)
{
  struct pg_args a = {0};
  arg_s(&a, sess->upload_id);
  arg_s(&a, sess->user_id);
  arg_s(&a, sess->policy);
  arg_i(&a, sess->created_at);
  arg_i(&a, sess->expires_at);
  arg_i(&a, sess->signatures_issued);
  arg_s(&a, sess->params_json);
  if (sess->first) {
    arg_s(&a, sess->first->request_id);
    arg_i(&a, sess->first->expire_time);
    arg_i(&a, sess->first->random);
  } else {
    arg_s(&a, NULL);
    arg_s(&a, NULL);
    arg_s(&a, NULL);
  }
  int64_t n = 0;
  int rc = pg_exec_changes(CONN(tx),
                           "INSERT INTO upload_session (upload_id, user_id, policy, created_at,"
                           " expires_at, signatures_issued, params, first_request_id,"
                           " first_expire_time, first_random) VALUES ($1, $2, $3,"
                           " $4::bigint, $5::bigint, $6::bigint, coalesce($7::json, '{}'), $8,"
                           " $9::bigint, $10::bigint) ON CONFLICT (upload_id) DO NOTHING",
                           &a, "session insert", &n);
  if (rc != VG_OK)
    return rc;
  return n == 1 ? VG_OK : VG_CONFLICT;
}

static int pg_session_add_signature(struct store_tx *tx, const char *upload_id, int64_t limit,
                                    int64_t *count)
{
  struct pg_args a = {0};
  arg_s(&a, upload_id);
  arg_i(&a, limit);
  bool found = false;
  int rc = pg_exec_int(CONN(tx),
                       "UPDATE upload_session SET signatures_issued = signatures_issued + 1"
                       " WHERE upload_id = $1 AND ($2::bigint = 0 OR signatures_issued <"
                       " $2::bigint) RETURNING signatures_issued",
                       &a, "session add signature", count, &found);
  if (rc != VG_OK || found)
    return rc;
  struct pg_args b = {0};
  arg_s(&b, upload_id);
  rc = pg_exec_int(CONN(tx), "SELECT 1 FROM upload_session WHERE upload_id = $1", &b,
                   "session exists", NULL, &found);
  if (rc != VG_OK)
    return rc;
  return found ? VG_CONFLICT : VG_NOTFOUND;
}

static int pg_session_get(struct store_tx *tx, const char *upload_id, struct store_session *out)
{
  struct pg_args a = {0};
  arg_s(&a, upload_id);
  int err;
  PGresult *res = pg_exec(CONN(tx),
                          "SELECT upload_id, user_id, policy, created_at, expires_at,"
                          " signatures_issued, params FROM upload_session WHERE upload_id = $1",
                          &a, "session get", &err);
  if (!res)
    return err;
  if (PQntuples(res) == 1) {
    val_copy(res, 0, out->upload_id, sizeof(out->upload_id));
    val_copy(res, 1, out->user_id, sizeof(out->user_id));
    val_copy(res, 2, out->policy, sizeof(out->policy));
    out->created_at = val_int(res, 0, 3);
    out->expires_at = val_int(res, 0, 4);
    out->signatures_issued = val_int(res, 0, 5);
    out->params_json = val_dup(res, 0, 6);
  } else {
    err = VG_NOTFOUND;
  }
  PQclear(res);
  return err;
}

/* ---- audit ---- */

static int pg_audit_append(struct store_tx *tx, const struct store_audit *au)
{
  struct pg_args a = {0};
  arg_s(&a, au->upload_id);
  arg_s(&a, au->user_id);
  arg_s(&a, au->request_id);
  arg_i(&a, au->expire_time);
  arg_i(&a, au->random);
  arg_i(&a, au->created_at);
  arg_i(&a, au->n);
  int64_t n;
  return pg_exec_changes(CONN(tx),
                         "INSERT INTO audit (upload_id, user_id, request_id, expire_time, random,"
                         " created_at, n) VALUES ($1, $2, $3, $4::bigint, $5::bigint, $6::bigint,"
                         " $7::bigint)",
                         &a, "audit insert", &n);
}

static int pg_audit_count(struct store_tx *tx, const char *upload_id, int64_t *out)
{
  struct pg_args a = {0};
  arg_s(&a, upload_id);
  return pg_exec_int(CONN(tx), "SELECT count(*) FROM signatures WHERE upload_id = $1", &a,
                     "audit count", out, NULL);
}

/* ---- tokens ---- */

static int pg_token_add(struct store_tx *tx, const struct store_token *t)
{
  struct pg_args a = {0};
  arg_s(&a, t->id);
  arg_s(&a, t->hash_hex);
  arg_s(&a, t->user_id);
  arg_s(&a, t->policy);
  arg_s(&a, t->label);
  arg_i(&a, t->created_at);
  int64_t n = 0;
  int rc = pg_exec_changes(CONN(tx),
                           "INSERT INTO api_token (id, hash, user_id, policy, label, created_at)"
                           " VALUES ($1, $2, $3, $4, $5, $6::bigint) ON CONFLICT DO NOTHING",
                           &a, "token insert", &n);
  if (rc != VG_OK)
    return rc;
  return n == 1 ? VG_OK : VG_CONFLICT;
}

static int pg_token_revoke(struct store_tx *tx, const char *id, int64_t now)
{
  struct pg_args a = {0};
  arg_s(&a, id);
  arg_i(&a, now);
  int64_t n = 0;
  int rc = pg_exec_changes(CONN(tx),
                           "UPDATE api_token SET revoked_at = $2::bigint"
                           " WHERE id = $1 AND revoked_at IS NULL",
                           &a, "token revoke", &n);
  if (rc != VG_OK || n == 1)
    return rc;
  struct pg_args b = {0};
  arg_s(&b, id);
  bool found = false;
  rc = pg_exec_int(CONN(tx), "SELECT 1 FROM api_token WHERE id = $1", &b, "token state", NULL,
                   &found);
  if (rc != VG_OK)
    return rc;
  return found ? VG_CONFLICT : VG_NOTFOUND;
}

#define TOKEN_COLS "id, hash, user_id, policy, label, created_at, coalesce(revoked_at, 0)"

static void pg_token_row(const PGresult *res, int row, struct store_token *t)
{
  char *f[5];
  for (int i = 0; i < 5; i++)
    f[i] = PQgetvalue(res, row, i);
  snprintf(t->id, sizeof(t->id), "%s", f[0]);
  snprintf(t->hash_hex, sizeof(t->hash_hex), "%s", f[1]);
  snprintf(t->user_id, sizeof(t->user_id), "%s", f[2]);
  snprintf(t->policy, sizeof(t->policy), "%s", f[3]);
  snprintf(t->label, sizeof(t->label), "%s", f[4]);
  t->created_at = val_int(res, row, 5);
  t->revoked_at = val_int(res, row, 6);
}

static int pg_token_find(struct store_tx *tx, const char *hash_hex, struct store_token *out)
{
  struct pg_args a = {0};
  arg_s(&a, hash_hex);
  int err;
  PGresult *res = pg_exec(
      CONN(tx), "SELECT " TOKEN_COLS " FROM api_token WHERE hash = $1 AND revoked_at IS NULL", &a,
      "token find", &err);
  if (!res)
    return err;
  if (PQntuples(res) == 1)
    pg_token_row(res, 0, out);
  else
    err = VG_NOTFOUND;
  PQclear(res);
  return err;
}

static int pg_token_list(struct store_tx *tx, store_token_cb cb, void *arg)
{
  int err;
  PGresult *res = pg_exec(CONN(tx), "SELECT " TOKEN_COLS " FROM api_token ORDER BY created_at, id",
                          NULL, "token list", &err);
  if (!res)
    return err;
  struct store_token t;
  for (int i = 0; i < PQntuples(res) && !err; i++) {
    memset(&t, 0, sizeof(t));
    pg_token_row(res, i, &t);
    err = cb(&t, arg);
  }
  PQclear(res);
  return err;
}

/* ---- quota ---- */

static int pg_quota_consume(struct store_tx *tx, const char *user_id, int64_t day, int64_t limit,
                            int64_t *used)
{
  struct pg_args a = {0};
  arg_s(&a, user_id);
  arg_i(&a, day);
  arg_i(&a, limit);
  bool found = false;
  int rc = pg_exec_int(CONN(tx),
                       "INSERT INTO quota AS q (user_id, day, used) VALUES ($1, $2::bigint, 1)"
                       " ON CONFLICT (user_id, day) DO UPDATE SET used = q.used + 1"
                       " WHERE $3::bigint = 0 OR q.used < $3::bigint RETURNING used",
                       &a, "quota consume", used, &found);
  if (rc != VG_OK)
    return rc;
  return found ? VG_OK : VG_CONFLICT;
}

static int pg_quota_get(struct store_tx *tx, const char *user_id, int64_t day, int64_t *used)
{
  struct pg_args a = {0};
  arg_s(&a, user_id);
  arg_i(&a, day);
  *used = 0;
  return pg_exec_int(CONN(tx), "SELECT used FROM quota WHERE user_id = $1 AND day = $2::bigint", &a,
                     "quota get", used, NULL);
}

static int pg_quota_add(struct store_tx *tx, const char *user_id, int64_t day, int64_t n)
{
  struct pg_args a = {0};
  arg_s(&a, user_id);
  arg_i(&a, day);
  arg_i(&a, n);
  return pg_exec_int(
      CONN(tx),
      "INSERT INTO quota AS q (user_id, day, used) VALUES ($1, $2::bigint, $3::bigint)"
      " ON CONFLICT (user_id, day) DO UPDATE SET used = q.used + EXCLUDED.used",
      &a, "quota add", NULL, NULL);
}

/* ---- events ---- */

static int pg_event_insert(struct store_tx *tx, const struct store_event *ev, bool *is_new)
{
  struct pg_args a = {0};
  arg_s(&a, ev->event_key);
  arg_s(&a, ev->source);
  arg_s(&a, ev->type);
  arg_opt(&a, ev->file_id);
  arg_opt(&a, ev->task_id);
  arg_opt(&a, ev->status);
  arg_s(&a, ev->body_json);
  arg_i(&a, ev->received_at);
  int64_t n = 0;
  int rc = pg_exec_changes(CONN(tx),
                           "INSERT INTO event (event_key, source, type, file_id, task_id, status,"
                           " body, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7::json,"
                           " $8::bigint) ON CONFLICT (event_key) DO NOTHING",
                           &a, "event insert", &n);
  *is_new = rc == VG_OK && n == 1;
  return rc;
}

static int pg_event_get(struct store_tx *tx, const char *key, struct store_event_record *out)
{
  struct pg_args a = {0};
  arg_s(&a, key);
  int err;
  PGresult *res = pg_exec(CONN(tx), "SELECT " EVENT_COLS " FROM event WHERE event_key = $1", &a,
                          "event get", &err);
  if (!res)
    return err;
  if (PQntuples(res) == 1) {
    out->event_key = val_dup(res, 0, 0);
    out->source = val_dup(res, 0, 1);
    out->type = val_dup(res, 0, 2);
    out->file_id = val_dup(res, 0, 3);
    out->task_id = val_dup(res, 0, 4);
    out->status = val_dup(res, 0, 5);
    out->body_json = val_dup(res, 0, 6);
    out->received_at = val_int(res, 0, 7);
  } else {
    err = VG_NOTFOUND;
  }
  PQclear(res);
  return err;
}

static int pg_event_count(struct store_tx *tx, int64_t *out)
{
  return pg_exec_int(CONN(tx), "SELECT count(*) FROM event", NULL, "event count", out, NULL);
}

static int pg_ledger_put(struct store_tx *tx, const struct store_ledger *l)
{
  struct pg_args a = {0};
  arg_s(&a, l->file_id);
  arg_opt(&a, l->upload_id);
  arg_opt(&a, l->user_id);
  arg_s(&a, l->state);
  arg_s(&a, l->detail_json);
  arg_i(&a, l->updated_at);
  int64_t n;
  return pg_exec_changes(CONN(tx),
                         "INSERT INTO ledger (file_id, upload_id, user_id, state, detail,"
                         " updated_at) VALUES ($1, $2, $3, $4, coalesce($5::json, '{}'),"
                         " $6::bigint) ON CONFLICT (file_id) DO UPDATE SET"
                         " upload_id = excluded.upload_id, user_id = excluded.user_id,"
                         " state = excluded.state, detail = excluded.detail,"
                         " updated_at = excluded.updated_at",
                         &a, "ledger put", &n);
}

/* Fills *l from row `row` of a LEDGER_COLS result; detail_json is a copy if
 * dup, else points into res. */
static void pg_ledger_row(PGresult *res, int row, struct store_ledger *l, bool dup)
{
  snprintf(l->file_id, sizeof(l->file_id), "%s", PQgetvalue(res, row, 0));
  snprintf(l->upload_id, sizeof(l->upload_id), "%s", PQgetvalue(res, row, 1));
  snprintf(l->user_id, sizeof(l->user_id), "%s", PQgetvalue(res, row, 2));
  snprintf(l->state, sizeof(l->state), "%s", PQgetvalue(res, row, 3));
  l->detail_json = dup ? val_dup(res, row, 4) : PQgetvalue(res, row, 4);
  l->updated_at = val_int(res, row, 5);
}

static int pg_ledger_one(struct store_tx *tx, const char *sql, const char *key,
                         struct store_ledger *out)
{
  struct pg_args a = {0};
  arg_s(&a, key);
  int err;
  PGresult *res = pg_exec(CONN(tx), sql, &a, "ledger get", &err);
  if (!res)
    return err;
  if (PQntuples(res) == 1)
    pg_ledger_row(res, 0, out, true);
  else
    err = VG_NOTFOUND;
  PQclear(res);
  return err;
}

/* Under READ COMMITTED, two transactions merging events of one file into its
 * row (get, merge, put) would lose one update, even when the row does not
 * exist yet (FOR UPDATE locks no absent row). So the read takes a
 * transaction-scoped advisory lock on the file id first: the second merger
 * waits for the first to commit and then reads its row. (Outside a
 * transaction the lock is released at once: a plain read just waits for a
 * merge in progress.) */
static int pg_ledger_get(struct store_tx *tx, const char *file_id, struct store_ledger *out)
{
  struct pg_args a = {0};
  int err;
  PGresult *res;

  arg_s(&a, file_id);
  res = pg_exec(CONN(tx), "SELECT pg_advisory_xact_lock(hashtextextended($1, 4))", &a,
                "ledger lock", &err);
  if (!res)
    return err;
  PQclear(res);
  return pg_ledger_one(tx, "SELECT " LEDGER_COLS " FROM ledger WHERE file_id = $1", file_id, out);
}

static int pg_ledger_get_by_upload(struct store_tx *tx, const char *upload_id,
                                   struct store_ledger *out)
{
  return pg_ledger_one(tx,
                       "SELECT " LEDGER_COLS " FROM ledger WHERE upload_id = $1"
                       " ORDER BY updated_at DESC, file_id LIMIT 1",
                       upload_id, out);
}

static int pg_ledger_list(struct store_tx *tx, const char *user_id, const char *state,
                          int64_t limit, store_ledger_cb cb, void *arg)
{
  struct pg_args a = {0};
  arg_s(&a, user_id);
  arg_s(&a, state);
  arg_i(&a, limit);
  int err;
  PGresult *res = pg_exec(CONN(tx),
                          "SELECT " LEDGER_COLS " FROM ledger WHERE ($1::text IS NULL OR"
                          " user_id = $1) AND ($2::text IS NULL OR state = $2)"
                          " ORDER BY updated_at DESC, file_id LIMIT $3::bigint",
                          &a, "ledger list", &err);
  if (!res)
    return err;
  struct store_ledger l;
  for (int i = 0; i < PQntuples(res) && !err; i++) {
    memset(&l, 0, sizeof(l));
    pg_ledger_row(res, i, &l, false);
    err = cb(&l, arg);
  }
  PQclear(res);
  return err;
}

static int pg_event_list(struct store_tx *tx, const char *file_id, int64_t limit, store_event_cb cb,
                         void *arg)
{
  struct pg_args a = {0};
  arg_s(&a, file_id);
  arg_i(&a, limit);
  int err;
  PGresult *res = pg_exec(CONN(tx),
                          "SELECT " EVENT_COLS " FROM event WHERE $1::text IS NULL OR"
                          " file_id = $1 ORDER BY received_at DESC, event_key LIMIT $2::bigint",
                          &a, "event list", &err);
  if (!res)
    return err;
  for (int i = 0; i < PQntuples(res) && !err; i++) {
    struct store_event_record r;
    char **f[] = {&r.event_key, &r.source, &r.type,     &r.file_id,
                  &r.task_id,   &r.status, &r.body_json};
    for (int j = 0; j < (int)ARRAY_SIZE(f); j++)
      *f[j] = PQgetisnull(res, i, j) ? NULL : PQgetvalue(res, i, j);
    r.received_at = val_int(res, i, 7);
    err = cb(&r, arg);
  }
  PQclear(res);
  return err;
}

static int pg_outbox_add(struct store_tx *tx, const char *event_key, const char *payload,
                         int64_t due_at, int64_t *id)
{
  struct pg_args a = {0};
  arg_s(&a, event_key);
  arg_s(&a, payload);
  arg_i(&a, due_at);
  return pg_exec_int(CONN(tx),
                     "INSERT INTO outbox (event_key, payload, due_at) VALUES ($1, $2::json,"
                     " $3::bigint) RETURNING id",
                     &a, "outbox add", id, NULL);
}

static int pg_outbox_count(struct store_tx *tx, int64_t *out)
{
  return pg_exec_int(CONN(tx),
                     "SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND NOT dead", NULL,
                     "outbox count", out, NULL);
}

static int pg_quarantine_add(struct store_tx *tx, const char *reason, const void *body, size_t len,
                             int64_t received_at)
{
  struct pg_args a = {0};
  arg_s(&a, reason);
  arg_bin(&a, body, len);
  arg_i(&a, received_at);
  int64_t n;
  int rc = pg_exec_changes(CONN(tx),
                           "INSERT INTO quarantine (reason, body, received_at)"
                           " VALUES ($1, $2::bytea, $3::bigint)",
                           &a, "quarantine add", &n);
  if (rc != VG_OK)
    return rc;
  struct pg_args b = {0};
  arg_i(&b, STORE_QUARANTINE_KEEP);
  return pg_exec_changes(CONN(tx),
                         "DELETE FROM quarantine WHERE id <= (SELECT id FROM quarantine"
                         " ORDER BY id DESC OFFSET $1::bigint LIMIT 1)",
                         &b, "quarantine trim", &n);
}

static int pg_quarantine_count(struct store_tx *tx, int64_t *out)
{
  return pg_exec_int(CONN(tx), "SELECT count(*) FROM quarantine", NULL, "quarantine count", out,
                     NULL);
}

#define OUTBOX_LIST_COLS                                                                           \
  "SELECT id, event_key, payload, attempts, due_at, coalesce(delivered_at, 0), dead::int"          \
  " FROM outbox"

/* Calls cb for each row of res (OUTBOX_LIST_COLS) and frees it; res NULL:
 * err, the failure of its query. */
static int outbox_rows(PGresult *res, int err, store_outbox_cb cb, void *arg)
{
  if (!res)
    return err;
  for (int i = 0; i < PQntuples(res) && !err; i++) {
    struct store_outbox_item it = {
        .id = val_int(res, i, 0),
        .event_key = PQgetvalue(res, i, 1),
        .payload_json = PQgetvalue(res, i, 2),
        .attempts = val_int(res, i, 3),
        .due_at = val_int(res, i, 4),
        .delivered_at = val_int(res, i, 5),
        .dead = val_int(res, i, 6) != 0,
    };
    err = cb(&it, arg);
  }
  PQclear(res);
  return err;
}

static int pg_outbox_due(struct store_tx *tx, int64_t now, int64_t limit, store_outbox_cb cb,
                         void *arg)
{
  struct pg_args a = {0};
  arg_i(&a, now);
  arg_i(&a, limit);
  int err;
  PGresult *res =
      pg_exec(CONN(tx),
              OUTBOX_LIST_COLS " WHERE delivered_at IS NULL AND NOT dead AND due_at <= $1::bigint"
                               " ORDER BY due_at, id LIMIT $2::bigint",
              &a, "outbox due", &err);
  return outbox_rows(res, err, cb, arg);
}

/* Runs an UPDATE/DELETE; VG_NOTFOUND if it changed no row. */
static int pg_exec_changed(struct pg_conn *c, const char *sql, const struct pg_args *a,
                           const char *what)
{
  int64_t n = 0;
  int rc = pg_exec_changes(c, sql, a, what, &n);
  if (rc != VG_OK)
    return rc;
  return n > 0 ? VG_OK : VG_NOTFOUND;
}

static int pg_outbox_delivered(struct store_tx *tx, int64_t id, int64_t now)
{
  struct pg_args a = {0};
  arg_i(&a, id);
  arg_i(&a, now);
  return pg_exec_changed(CONN(tx),
                         "UPDATE outbox SET delivered_at = $2::bigint"
                         " WHERE id = $1::bigint AND delivered_at IS NULL AND NOT dead",
                         &a, "outbox delivered");
}

static int pg_outbox_failed(struct store_tx *tx, int64_t id, int64_t next_due_at, bool dead)
{
  struct pg_args a = {0};
  arg_i(&a, id);
  arg_i(&a, next_due_at);
  arg_s(&a, dead ? "true" : "false");
  return pg_exec_changed(CONN(tx),
                         "UPDATE outbox SET attempts = attempts + 1, due_at = $2::bigint,"
                         " dead = $3::boolean"
                         " WHERE id = $1::bigint AND delivered_at IS NULL AND NOT dead",
                         &a, "outbox failed");
}

static int pg_outbox_dead_count(struct store_tx *tx, int64_t *out)
{
  return pg_exec_int(CONN(tx), "SELECT count(*) FROM outbox WHERE dead", NULL, "outbox dead", out,
                     NULL);
}

/* As SQLite's Q_OUTBOX_LIST: $1 is an enum store_outbox_state; the file is
 * the payload's data.fileId (no column, no index). */

static int pg_outbox_list(struct store_tx *tx, enum store_outbox_state state, const char *file_id,
                          int64_t id, int64_t limit, store_outbox_cb cb, void *arg)
{
  struct pg_args a = {0};
  int err;
  PGresult *res;

  if (id > 0) {
    arg_i(&a, id);
    res = pg_exec(CONN(tx), OUTBOX_LIST_COLS " WHERE id = $1::bigint", &a, "outbox get", &err);
  } else {
    arg_i(&a, (int64_t)state);
    arg_s(&a, file_id);
    arg_i(&a, limit);
    res = pg_exec(CONN(tx),
                  OUTBOX_LIST_COLS " WHERE ($1::int = 0"
                                   " OR ($1::int = 1 AND delivered_at IS NULL AND NOT dead)"
                                   " OR ($1::int = 2 AND delivered_at IS NOT NULL)"
                                   " OR ($1::int = 3 AND dead))"
                                   " AND ($2::text IS NULL OR payload->'data'->>'fileId' = $2)"
                                   " ORDER BY id DESC LIMIT $3::bigint",
                  &a, "outbox list", &err);
  }
  return outbox_rows(res, err, cb, arg);
}

/* SKIP LOCKED: instances sweeping at once take disjoint batches instead
 * of waiting on each other's rows (or deadlocking on them in another
 * order); a row another transaction holds (a forwarder marking it) is
 * left for the next batch. */
static int pg_prune(struct store_tx *tx, enum store_prune_what what, int64_t before, int64_t limit,
                    int64_t *deleted)
{
  struct pg_args a = {0};

  arg_i(&a, before);
  arg_i(&a, limit);
  if (what == STORE_PRUNE_EVENTS)
    return pg_exec_changes(CONN(tx),
                           "DELETE FROM event WHERE event_key IN (SELECT event_key FROM event"
                           " WHERE received_at < $1::bigint ORDER BY received_at"
                           " LIMIT $2::bigint FOR UPDATE SKIP LOCKED)",
                           &a, "prune", deleted);
  return pg_exec_changes(CONN(tx),
                         "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
                         " WHERE delivered_at IS NOT NULL AND delivered_at < $1::bigint"
                         " ORDER BY delivered_at LIMIT $2::bigint FOR UPDATE SKIP LOCKED)",
                         &a, "prune", deleted);
}

static int pg_outbox_retry(struct store_tx *tx, int64_t id, int64_t now, int64_t *changed)
{
  struct pg_args a = {0};
  bool found = false;
  int rc;

  if (id == 0) {
    arg_i(&a, now);
    return pg_exec_changes(CONN(tx),
                           "UPDATE outbox SET dead = false, attempts = 0, due_at = $1::bigint"
                           " WHERE dead",
                           &a, "outbox retry", changed);
  }
  arg_i(&a, id);
  arg_i(&a, now);
  rc = pg_exec_changes(CONN(tx),
                       "UPDATE outbox SET dead = false, attempts = 0, due_at = $2::bigint"
                       " WHERE id = $1::bigint AND delivered_at IS NULL",
                       &a, "outbox retry", changed);
  if (rc != VG_OK || *changed > 0)
    return rc;
  /* Not changed: delivered (never sent again), or no such row. */
  struct pg_args b = {0};
  arg_i(&b, id);
  rc = pg_exec_int(CONN(tx), "SELECT 1 FROM outbox WHERE id = $1::bigint", &b, "outbox exists",
                   NULL, &found);
  if (rc != VG_OK)
    return rc;
  return found ? VG_CONFLICT : VG_NOTFOUND;
}

static int pg_quarantine_list(struct store_tx *tx, int64_t limit, store_quarantine_cb cb, void *arg)
{
  struct pg_args a = {0};
  arg_i(&a, limit);
  int err;
  PGresult *res = pg_exec(CONN(tx),
                          "SELECT id, reason, body, received_at FROM quarantine"
                          " ORDER BY id DESC LIMIT $1::bigint",
                          &a, "quarantine list", &err);
  if (!res)
    return err;
  for (int i = 0; i < PQntuples(res) && !err; i++) {
    size_t len = 0;
    unsigned char *body = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 2), &len);
    if (!body) {
      err = VG_NOMEM;
      break;
    }
    struct store_quarantine_item it = {
        .id = val_int(res, i, 0),
        .reason = PQgetvalue(res, i, 1),
        .body = body,
        .body_len = len,
        .received_at = val_int(res, i, 3),
    };
    err = cb(&it, arg);
    PQfreemem(body);
  }
  PQclear(res);
  return err;
}

static int pg_lease_acquire(struct store_tx *tx, const char *name, const char *owner, int64_t now,
                            int64_t ttl)
{
  struct pg_args a = {0};
  arg_s(&a, name);
  arg_s(&a, owner);
  arg_i(&a, now);
  arg_i(&a, ttl);
  bool found = false;
  int rc = pg_exec_int(CONN(tx),
                       "INSERT INTO lease AS l (name, owner, expires_at)"
                       " VALUES ($1, $2, $3::bigint + $4::bigint)"
                       " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
                       " expires_at = excluded.expires_at"
                       " WHERE l.owner = excluded.owner OR l.expires_at <= $3::bigint RETURNING 1",
                       &a, "lease acquire", NULL, &found);
  if (rc != VG_OK)
    return rc;
  return found ? VG_OK : VG_CONFLICT;
}

static int pg_lease_release(struct store_tx *tx, const char *name, const char *owner)
{
  struct pg_args a = {0};
  arg_s(&a, name);
  arg_s(&a, owner);
  int64_t n;
  return pg_exec_changes(CONN(tx), "DELETE FROM lease WHERE name = $1 AND owner = $2", &a,
                         "lease release", &n);
}

/* ---- lifecycle ---- */

static void pg_close(struct store *s)
{
  struct pg_store *ps = PG(s);
  while (ps->idle) {
    struct pg_conn *c = ps->idle;
    ps->idle = c->next;
    PQfinish(c->conn);
    free(c);
  }
  pthread_mutex_destroy(&ps->mu);
  pthread_cond_destroy(&ps->cv);
  secure_zero(ps->conninfo, strlen(ps->conninfo));
  free(ps->conninfo);
  free(ps);
}

static const struct store_ops pg_ops = {
    .name = "postgres",
    .close = pg_close,
    .run = pg_run,
    .submit = pg_submit,
    .read_begin = pg_read_begin,
    .read_end = pg_read_end,
    .schema_version = pg_schema_version,
    .session_create = pg_session_create,
    .session_add_signature = pg_session_add_signature,
    .session_get = pg_session_get,
    .audit_append = pg_audit_append,
    .audit_count = pg_audit_count,
    .token_add = pg_token_add,
    .token_revoke = pg_token_revoke,
    .token_find = pg_token_find,
    .token_list = pg_token_list,
    .quota_consume = pg_quota_consume,
    .quota_get = pg_quota_get,
    .quota_add = pg_quota_add,
    .event_insert = pg_event_insert,
    .event_get = pg_event_get,
    .event_count = pg_event_count,
    .ledger_put = pg_ledger_put,
    .ledger_get = pg_ledger_get,
    .outbox_add = pg_outbox_add,
    .outbox_count = pg_outbox_count,
    .quarantine_add = pg_quarantine_add,
    .quarantine_count = pg_quarantine_count,
    .ledger_get_by_upload = pg_ledger_get_by_upload,
    .ledger_list = pg_ledger_list,
    .event_list = pg_event_list,
    .outbox_due = pg_outbox_due,
    .outbox_delivered = pg_outbox_delivered,
    .outbox_failed = pg_outbox_failed,
    .outbox_dead_count = pg_outbox_dead_count,
    .outbox_list = pg_outbox_list,
    .outbox_retry = pg_outbox_retry,
    .prune = pg_prune,
    .quarantine_list = pg_quarantine_list,
    .lease_acquire = pg_lease_acquire,
    .lease_release = pg_lease_release,
};

/* Logs where the store connects and the network settings in effect (the
 * defaults above or the URL's), once at open: never the password. */
static void pg_log_settings(PGconn *conn)
{
  static const char *const shown[] = {"host",
                                      "port",
                                      "dbname",
                                      "user",
                                      "sslmode",
                                      "connect_timeout",
                                      "keepalives",
                                      "keepalives_idle",
                                      "keepalives_interval",
                                      "keepalives_count",
                                      "tcp_user_timeout"};
  PQconninfoOption *opts = PQconninfo(conn);
  char line[512];
  size_t n = 0;

  line[0] = '\0';
  for (PQconninfoOption *o = opts; o && o->keyword; o++)
    for (size_t i = 0; i < ARRAY_SIZE(shown); i++)
      if (strcmp(o->keyword, shown[i]) == 0 && o->val && *o->val && n < sizeof(line)) {
        int w =
            snprintf(line + n, sizeof(line) - n, "%s%s=%.64s", n ? " " : "", o->keyword, o->val);
        n += w > 0 ? (size_t)w : 0;
      }
  PQconninfoFree(opts);
  log_info("store: postgres %s", line);
}

/*
 * libpq's message for a URL that does not parse quotes the URL, or the part
 * of it that failed, password included ("end of string reached when looking
 * for matching \"]\" ... in URI: \"postgres://u:PASSWORD@[::1/db\"",
 * "invalid percent-encoded token: \"PASSWORD\""). So the URL is parsed
 * first, and a failure is reported from a copy whose passwords (userinfo,
 * password= in the query) read "xxxxx": libpq's message then quotes only
 * that. Returns VG_OK, or VG_INVALID after logging what is wrong.
 */
static char *pg_url_redacted(const char *url)
{
  const char *auth = strstr(url, "://"), *p;
  size_t n, at, colon;
  struct buf b;
  int rc;

  buf_init(&b, strlen(url) + 64);
  /* userinfo: from "://" to the first '@' before any '/' (libpq's reading);
   * the password follows its first ':' */
  auth = auth ? auth + 3 : url;
  n = strcspn(auth, "/");
  at = strcspn(auth, "@");
  colon = strcspn(auth, ":");
  if (at < n && colon < at) {
    rc = buf_append(&b, url, (size_t)(auth - url) + colon + 1) || buf_appends(&b, "xxxxx");
    p = auth + at;
  } else {
    rc = VG_OK;
    p = url;
  }
  /* query parameters: password=VALUE up to the next '&' */
  while (rc == VG_OK && *p) {
    size_t k = strcspn(p, "?&");
    bool sep = p[k] != '\0';
    rc = buf_append(&b, p, k + sep);
    p += k + sep;
    if (rc == VG_OK && sep && strncmp(p, "password=", 9) == 0) {
      rc = buf_appends(&b, "password=xxxxx");
      p += 9 + strcspn(p + 9, "&");
    }
  }
  if (rc != VG_OK) {
    buf_release(&b);
    return NULL;
  }
  return buf_detach(&b, NULL);
}

static int pg_url_check(const char *conninfo)
{
  char *msg = NULL, *copy;
  PQconninfoOption *o = PQconninfoParse(conninfo, &msg);

  if (o) {
    PQconninfoFree(o);
    return VG_OK;
  }
  PQfreemem(msg);
  msg = NULL;
  copy = pg_url_redacted(conninfo);
  o = copy ? PQconninfoParse(copy, &msg) : NULL;
  if (msg) /* libpq ends its messages with a newline */
    msg[strcspn(msg, "\n")] = '\0';
  if (o || !copy)
    log_error("store: the postgres URL does not parse: a password in it is malformed "
              "(%%-encode reserved characters)");
  else
    log_error("store: the postgres URL does not parse: %s", msg ? msg : "out of memory");
  PQconninfoFree(o);
  PQfreemem(msg);
  free(copy);
  return VG_INVALID;
}

int store_pg_open(const char *conninfo, const struct store_options *opt, struct store **out)
{
  if (pg_url_check(conninfo) != VG_OK)
    return VG_INVALID;
  if (PQisthreadsafe() != 1) {
    log_error("store: this libpq was built without thread safety");
    return VG_IO;
  }
  struct pg_store *ps = xcalloc(1, sizeof(*ps));
  ps->base.ops = &pg_ops;
  ps->conninfo = xstrdup(conninfo);
  ps->max = opt->pg_pool_size ? opt->pg_pool_size : STORE_PG_POOL_DEFAULT;
  pthread_mutex_init(&ps->mu, NULL);
  pthread_cond_init(&ps->cv, NULL);
  struct pg_conn *c;
  int rc = pg_acquire(ps, &c);
  if (rc == VG_OK) {
    pg_log_settings(c->conn);
    rc = pg_migrate(c);
    pg_release(ps, c);
  }
  if (rc != VG_OK) {
    pg_close(&ps->base);
    return rc;
  }
  *out = &ps->base;
  return VG_OK;
}
