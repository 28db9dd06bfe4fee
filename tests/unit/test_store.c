/*
 * The store test-suite, run against every backend: the URL comes from
 * VODGATE_STORE_URL (set by scripts/pg-test-server.sh for PostgreSQL); without
 * it, a SQLite file in a fresh temporary directory. Ids are unique per run so
 * that the suite can share one database across tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/io.h"
#include "core/limits.h"
#include "core/util.h"
#include "store/store.h"

static char tmpdir[256];
static char url[512];
static struct store *st;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  return remove(path);
}

static int suite_setup(void **state)
{
  const char *env = getenv("VODGATE_STORE_URL");
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/vg-store-XXXXXX");
  if (!mkdtemp(tmpdir))
    return -1;
  if (env && *env)
    snprintf(url, sizeof(url), "%s", env);
  else
    snprintf(url, sizeof(url), "sqlite:%s/db/vodgate.db", tmpdir);
  return store_open(url, NULL, &st) == VG_OK ? 0 : -1;
}

static int suite_teardown(void **state)
{
  store_close(st);
  st = NULL;
  nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  return 0;
}

static void reopen(void)
{
  store_close(st);
  st = NULL;
  assert_int_equal(store_open(url, NULL, &st), VG_OK);
}

static struct store_session mk_session(const char *id, const char *user)
{
  struct store_session s = {.created_at = 1000, .expires_at = 1000 + 86400};
  snprintf(s.upload_id, sizeof(s.upload_id), "%s", id);
  snprintf(s.user_id, sizeof(s.user_id), "%s", user);
  snprintf(s.policy, sizeof(s.policy), "default");
  return s;
}

/* ---- lifecycle ---- */

static void schema_is_current(void **state)
{
  int64_t v = 0;
  assert_int_equal(store_schema_version(st, &v), VG_OK);
  assert_int_equal(v, STORE_SCHEMA_VERSION);
  reopen(); /* migrations are idempotent */
  assert_int_equal(store_schema_version(st, &v), VG_OK);
  assert_int_equal(v, STORE_SCHEMA_VERSION);
}

static void backend_matches_url(void **state)
{
  bool pg = !strncmp(url, "postgres", 8);
  assert_string_equal(store_backend(st), pg ? "postgres" : "sqlite");
}

static void open_rejects_bad_urls(void **state)
{
  struct store *s = (struct store *)1;
  assert_int_equal(store_open("", NULL, &s), VG_INVALID);
  assert_null(s);
  assert_int_equal(store_open("mysql://x/y", NULL, &s), VG_INVALID);
  assert_int_equal(store_open("sqlite:", NULL, &s), VG_INVALID);
  assert_int_equal(store_open("sqlite::memory:", NULL, &s), VG_INVALID);
  /* Nothing listens on port 1: a clear VG_IO, not a hang or a crash. */
  assert_int_equal(store_open("postgresql://vg@127.0.0.1:1/vg?connect_timeout=2", NULL, &s), VG_IO);
  assert_null(s);
}

static void sqlite_creates_parent_dirs(void **state)
{
  char path[600], dir[300];
  snprintf(dir, sizeof(dir), "%s/a/b", tmpdir);
  snprintf(path, sizeof(path), "%s/x.db", dir);
  struct store *s;
  assert_int_equal(store_open(path, NULL, &s), VG_OK);
  assert_string_equal(store_backend(s), "sqlite");
  store_close(s);
  struct stat sb;
  assert_int_equal(stat(dir, &sb), 0);
  assert_true(S_ISDIR(sb.st_mode));
  assert_int_equal(sb.st_mode & 0777, 0700);
  /* A regular file where a directory should be: a clear error. */
  snprintf(path, sizeof(path), "sqlite:%s/x.db/y.db", dir);
  assert_int_equal(store_open(path, NULL, &s), VG_IO);
}

/* ---- sessions ---- */

static void session_roundtrip(void **state)
{
  struct store_session s = mk_session("sess-rt", "user-1");
  s.signatures_issued = 1;
  s.params_json = "{\"procedure\":\"review\",\"classId\":3,\"subAppId\":1500000001}";
  assert_int_equal(store_session_create(st, &s), VG_OK);
  assert_int_equal(store_session_create(st, &s), VG_CONFLICT);

  struct store_session g;
  assert_int_equal(store_session_get(st, "sess-rt", &g), VG_OK);
  assert_string_equal(g.upload_id, "sess-rt");
  assert_string_equal(g.user_id, "user-1");
  assert_string_equal(g.policy, "default");
  assert_int_equal(g.created_at, 1000);
  assert_int_equal(g.expires_at, 1000 + 86400);
  assert_int_equal(g.signatures_issued, 1);
  assert_string_equal(g.params_json, s.params_json);
  store_session_release(&g);

  assert_int_equal(store_session_get(st, "sess-none", &g), VG_NOTFOUND);
  assert_null(g.params_json);

  struct store_session d = mk_session("sess-defaults", "user-1");
  assert_int_equal(store_session_create(st, &d), VG_OK);
  assert_int_equal(store_session_get(st, "sess-defaults", &g), VG_OK);
  assert_string_equal(g.params_json, "{}");
  assert_int_equal(g.signatures_issued, 0);
  store_session_release(&g);
}

static void session_rejects_bad_input(void **state)
{
  struct store_session s = mk_session("", "u");
  assert_int_equal(store_session_create(st, &s), VG_INVALID);
  s = mk_session("sess-bad", "");
  assert_int_equal(store_session_create(st, &s), VG_INVALID);
  s = mk_session("sess-bad", "u");
  s.expires_at = s.created_at - 1;
  assert_int_equal(store_session_create(st, &s), VG_INVALID);
  s = mk_session("sess-bad", "u");
  s.params_json = "{not json";
  assert_int_equal(store_session_create(st, &s), VG_INVALID);
  char longid[STORE_MAX_ID + 2];
  memset(longid, 'a', sizeof(longid) - 1);
  longid[sizeof(longid) - 1] = '\0';
  struct store_session g;
  assert_int_equal(store_session_get(st, longid, &g), VG_INVALID);
  assert_int_equal(store_session_get(st, "sess-bad", &g), VG_NOTFOUND);
}

static void session_signature_limit(void **state)
{
  struct store_session s = mk_session("sess-lim", "user-2");
  s.signatures_issued = 1;
  assert_int_equal(store_session_create(st, &s), VG_OK);
  int64_t n = 0;
  assert_int_equal(store_session_add_signature(st, "sess-lim", 3, &n), VG_OK);
  assert_int_equal(n, 2);
  assert_int_equal(store_session_add_signature(st, "sess-lim", 3, &n), VG_OK);
  assert_int_equal(n, 3);
  n = 99;
  assert_int_equal(store_session_add_signature(st, "sess-lim", 3, &n), VG_CONFLICT);
  assert_int_equal(n, 99);
  assert_int_equal(store_session_add_signature(st, "sess-lim", 0, &n), VG_OK); /* no limit */
  assert_int_equal(n, 4);
  assert_int_equal(store_session_add_signature(st, "sess-nope", 3, &n), VG_NOTFOUND);
  assert_int_equal(store_session_add_signature(st, "sess-lim", -1, &n), VG_INVALID);
  struct store_session g;
  assert_int_equal(store_session_get(st, "sess-lim", &g), VG_OK);
  assert_int_equal(g.signatures_issued, 4);
  store_session_release(&g);
}

/* ---- audit ---- */

/* A session's first signature is recorded with the session (its `first`),
 * the later ones as audit rows; the two count together. */
static void audit_rows(void **state)
{
  struct store_session s = mk_session("sess-audit", "user-3");
  struct store_audit a = {"sess-audit", "user-3", "req-1", 2000, 4294967295u, 1000, 1};
  s.signatures_issued = 1;
  s.first = &a;
  assert_int_equal(store_session_create(st, &s), VG_OK);
  a.request_id = "req-2";
  a.created_at = 1001;
  a.n = 2;
  assert_int_equal(store_audit_append(st, &a), VG_OK);
  int64_t n;
  assert_int_equal(store_audit_count(st, "sess-audit", &n), VG_OK);
  assert_int_equal(n, 2);
  a.request_id = "";
  a.n = 3;
  assert_int_equal(store_audit_append(st, &a), VG_INVALID);
  a.request_id = "req-3";
  a.n = 1; /* the first is the session's */
  assert_int_equal(store_audit_append(st, &a), VG_INVALID);
  a.n = 0; /* ordinals start at 1 */
  assert_int_equal(store_audit_append(st, &a), VG_INVALID);
  a.n = -1;
  assert_int_equal(store_audit_append(st, &a), VG_INVALID);
  assert_int_equal(store_audit_count(st, "sess-audit", &n), VG_OK);
  assert_int_equal(n, 2);

  /* A first signature must be the session's own: n 1, its id, its user,
   * its time, and counted. Nothing of a refused one is written. */
  struct store_session t = mk_session("sess-audit-f", "user-3");
  struct store_audit f = {"sess-audit-f", "user-3", "req-f", 2000, 7, 1000, 1};
  t.signatures_issued = 1;
  t.first = &f;
  f.n = 2;
  assert_int_equal(store_session_create(st, &t), VG_INVALID);
  f.n = 1;
  f.upload_id = "sess-audit";
  assert_int_equal(store_session_create(st, &t), VG_INVALID);
  f.upload_id = "sess-audit-f";
  f.user_id = "user-4";
  assert_int_equal(store_session_create(st, &t), VG_INVALID);
  f.user_id = "user-3";
  f.created_at = 1001;
  assert_int_equal(store_session_create(st, &t), VG_INVALID);
  f.created_at = 1000;
  f.request_id = "";
  assert_int_equal(store_session_create(st, &t), VG_INVALID);
  f.request_id = "req-f";
  t.signatures_issued = 0;
  assert_int_equal(store_session_create(st, &t), VG_INVALID);
  struct store_session g;
  assert_int_equal(store_session_get(st, "sess-audit-f", &g), VG_NOTFOUND);
  t.signatures_issued = 1;
  assert_int_equal(store_session_create(st, &t), VG_OK);
  assert_int_equal(store_audit_count(st, "sess-audit-f", &n), VG_OK);
  assert_int_equal(n, 1);
  assert_int_equal(store_session_get(st, "sess-audit-f", &g), VG_OK);
  assert_null(g.first); /* input only */
  store_session_release(&g);
}

/* (upload_id, n) is the audit row's key: a second row with the same pair
 * is refused whatever its other fields, nothing of it written; the same
 * request id or random under another n is a separate row (those may come
 * from clients and repeat). */
static void audit_ordinal_is_unique(void **state)
{
  struct store_session s = mk_session("sess-audit-n", "user-4");
  assert_int_equal(store_session_create(st, &s), VG_OK);
  struct store_session o = mk_session("sess-audit-o", "user-4");
  assert_int_equal(store_session_create(st, &o), VG_OK);
  struct store_audit a = {"sess-audit-n", "user-4", "req-same", 10, 20, 30, 2};
  assert_int_equal(store_audit_append(st, &a), VG_OK);
  a.n = 3; /* same request id and random, next ordinal */
  assert_int_equal(store_audit_append(st, &a), VG_OK);
  struct store_audit dup = {"sess-audit-n", "user-5", "req-other", 11, 21, 31, 3};
  assert_int_equal(store_audit_append(st, &dup), VG_CONFLICT);
  dup.n = 2;
  assert_int_equal(store_audit_append(st, &dup), VG_CONFLICT);
  dup.upload_id = "sess-audit-o"; /* n is per session */
  assert_int_equal(store_audit_append(st, &dup), VG_OK);
  int64_t n;
  assert_int_equal(store_audit_count(st, "sess-audit-n", &n), VG_OK);
  assert_int_equal(n, 2);
  assert_int_equal(store_audit_count(st, "sess-audit-o", &n), VG_OK);
  assert_int_equal(n, 1);
}

/* ---- tokens ---- */

static struct store_token mk_token(const char *id, char hexdigit, int64_t at)
{
  struct store_token t = {.created_at = at};
  snprintf(t.id, sizeof(t.id), "%s", id);
  memset(t.hash_hex, hexdigit, STORE_HASH_HEX);
  snprintf(t.user_id, sizeof(t.user_id), "svc-%s", id);
  snprintf(t.policy, sizeof(t.policy), "batch");
  snprintf(t.label, sizeof(t.label), "label of %s", id);
  return t;
}

struct list_acc {
  int n;
  char ids[8][STORE_MAX_ID + 1];
  int64_t revoked[8];
};

static int list_cb(const struct store_token *t, void *arg)
{
  struct list_acc *acc = arg;
  if (acc->n < 8) {
    snprintf(acc->ids[acc->n], sizeof(acc->ids[0]), "%s", t->id);
    acc->revoked[acc->n] = t->revoked_at;
  }
  acc->n++;
  return 0;
}

static int stop_cb(const struct store_token *t, void *arg)
{
  return 42;
}

static void tokens(void **state)
{
  struct store_token a = mk_token("tok-a", 'a', 50), b = mk_token("tok-b", 'b', 40);
  assert_int_equal(store_token_add(st, &a), VG_OK);
  assert_int_equal(store_token_add(st, &b), VG_OK);
  assert_int_equal(store_token_add(st, &a), VG_CONFLICT); /* same id */
  struct store_token c = mk_token("tok-c", 'a', 60);
  assert_int_equal(store_token_add(st, &c), VG_CONFLICT); /* same hash */
  c = mk_token("tok-c", 'A', 60);
  assert_int_equal(store_token_add(st, &c), VG_INVALID); /* upper-case hex */
  c.hash_hex[10] = '\0';
  assert_int_equal(store_token_add(st, &c), VG_INVALID);

  struct store_token f;
  char hash[STORE_HASH_HEX + 1];
  memset(hash, 'a', STORE_HASH_HEX);
  hash[STORE_HASH_HEX] = '\0';
  assert_int_equal(store_token_find(st, hash, &f), VG_OK);
  assert_string_equal(f.id, "tok-a");
  assert_string_equal(f.hash_hex, hash);
  assert_string_equal(f.user_id, "svc-tok-a");
  assert_string_equal(f.policy, "batch");
  assert_string_equal(f.label, "label of tok-a");
  assert_int_equal(f.created_at, 50);
  assert_int_equal(f.revoked_at, 0);

  struct list_acc acc = {0};
  assert_int_equal(store_token_list(st, list_cb, &acc), VG_OK);
  assert_int_equal(acc.n, 2);
  assert_string_equal(acc.ids[0], "tok-b"); /* by created_at */
  assert_string_equal(acc.ids[1], "tok-a");
  assert_int_equal(store_token_list(st, stop_cb, NULL), 42);

  assert_int_equal(store_token_revoke(st, "tok-a", 70), VG_OK);
  assert_int_equal(store_token_find(st, hash, &f), VG_NOTFOUND);
  assert_int_equal(store_token_revoke(st, "tok-a", 71), VG_CONFLICT);
  assert_int_equal(store_token_revoke(st, "tok-zz", 71), VG_NOTFOUND);
  memset(&acc, 0, sizeof(acc));
  assert_int_equal(store_token_list(st, list_cb, &acc), VG_OK);
  assert_int_equal(acc.n, 2);
  assert_int_equal(acc.revoked[1], 70);
  assert_int_equal(acc.revoked[0], 0);
  memset(hash, 'b', STORE_HASH_HEX);
  assert_int_equal(store_token_find(st, hash, &f), VG_OK);
  assert_string_equal(f.id, "tok-b");
  memset(hash, 'c', STORE_HASH_HEX);
  assert_int_equal(store_token_find(st, hash, &f), VG_NOTFOUND);
}

/* ---- quota ---- */

static void quota_basic(void **state)
{
  int64_t used = -1, day = store_utc_day(1700000000);
  assert_int_equal(day, 19675);
  assert_int_equal(store_utc_day(-1), -1);
  assert_int_equal(store_quota_get(st, "q-user", day, &used), VG_OK);
  assert_int_equal(used, 0);
  assert_int_equal(store_quota_consume(st, "q-user", day, 2, &used), VG_OK);
  assert_int_equal(used, 1);
  assert_int_equal(store_quota_consume(st, "q-user", day, 2, &used), VG_OK);
  assert_int_equal(used, 2);
  assert_int_equal(store_quota_consume(st, "q-user", day, 2, &used), VG_CONFLICT);
  assert_int_equal(store_quota_get(st, "q-user", day, &used), VG_OK);
  assert_int_equal(used, 2);
  assert_int_equal(store_quota_consume(st, "q-user", day + 1, 2, &used), VG_OK); /* next day */
  assert_int_equal(used, 1);
  assert_int_equal(store_quota_consume(st, "q-user", day, 0, &used), VG_OK); /* no limit */
  assert_int_equal(used, 3);
  assert_int_equal(store_quota_consume(st, "q-user", day, 3, NULL), VG_CONFLICT);
  assert_int_equal(store_quota_consume(st, "", day, 3, NULL), VG_INVALID);
}

/* ---- concurrency ---- */

#define THREADS 16
#define TRIES   20

struct race {
  pthread_barrier_t *go;
  int which; /* 0 quota, 1 session signatures, 2 audit */
  int id;
  int ok, conflict, other;
};

static void *race_main(void *arg)
{
  struct race *r = arg;
  pthread_barrier_wait(r->go);
  for (int i = 0; i < TRIES; i++) {
    int rc;
    if (r->which == 0) {
      rc = store_quota_consume(st, "race-user", 7, 37, NULL);
    } else if (r->which == 1) {
      rc = store_session_add_signature(st, "sess-race", 53, NULL);
    } else {
      char req[32];
      snprintf(req, sizeof(req), "req-%d-%d", r->id, i);
      struct store_audit a = {
          "sess-race", "race-user", req, 1, (uint32_t)i, 1, (int64_t)r->id * TRIES + i + 2};
      rc = store_audit_append(st, &a);
    }
    if (rc == VG_OK)
      r->ok++;
    else if (rc == VG_CONFLICT)
      r->conflict++;
    else
      r->other++;
  }
  return NULL;
}

static void race(int which, int *ok, int *conflict)
{
  pthread_t th[THREADS];
  struct race r[THREADS];
  pthread_barrier_t go;
  pthread_barrier_init(&go, NULL, THREADS);
  for (int i = 0; i < THREADS; i++) {
    r[i] = (struct race){.go = &go, .which = which, .id = i};
    assert_int_equal(pthread_create(&th[i], NULL, race_main, &r[i]), 0);
  }
  *ok = *conflict = 0;
  int other = 0;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(th[i], NULL);
    *ok += r[i].ok;
    *conflict += r[i].conflict;
    other += r[i].other;
  }
  pthread_barrier_destroy(&go);
  assert_int_equal(other, 0);
}

struct quota_add_arg {
  const char *user;
  int64_t day, n;
};

static int quota_add_fn(struct store_tx *tx, void *arg)
{
  struct quota_add_arg *a = arg;
  return store_tx_quota_add(tx, a->user, a->day, a->n);
}

/* Batched counts (svc/issuing.c): n units at once, no limit, added to what
 * is there. */
static void quota_add_adds_n(void **state)
{
  struct quota_add_arg a = {"add-user", 11, 3};
  int64_t used;
  assert_int_equal(store_run(st, quota_add_fn, &a), VG_OK);
  assert_int_equal(store_quota_get(st, "add-user", 11, &used), VG_OK);
  assert_int_equal(used, 3);
  a.n = 2;
  assert_int_equal(store_run(st, quota_add_fn, &a), VG_OK);
  assert_int_equal(store_quota_consume(st, "add-user", 11, 0, &used), VG_OK);
  assert_int_equal(used, 6);
  a.n = 0;
  assert_int_equal(store_run(st, quota_add_fn, &a), VG_INVALID);
  a.n = 1;
  a.user = "";
  assert_int_equal(store_run(st, quota_add_fn, &a), VG_INVALID);
  assert_int_equal(store_quota_get(st, "add-user", 12, &used), VG_OK);
  assert_int_equal(used, 0); /* another day is another counter */
}

static void quota_under_concurrency(void **state)
{
  int ok, conflict;
  race(0, &ok, &conflict);
  assert_int_equal(ok, 37);
  assert_int_equal(conflict, THREADS * TRIES - 37);
  int64_t used;
  assert_int_equal(store_quota_get(st, "race-user", 7, &used), VG_OK);
  assert_int_equal(used, 37);
}

static void session_limit_under_concurrency(void **state)
{
  struct store_session s = mk_session("sess-race", "race-user");
  assert_int_equal(store_session_create(st, &s), VG_OK);
  int ok, conflict;
  race(1, &ok, &conflict);
  assert_int_equal(ok, 53);
  assert_int_equal(conflict, THREADS * TRIES - 53);
  struct store_session g;
  assert_int_equal(store_session_get(st, "sess-race", &g), VG_OK);
  assert_int_equal(g.signatures_issued, 53);
  store_session_release(&g);
}

static void acknowledged_writes_survive_reopen(void **state)
{
  int ok, conflict;
  race(2, &ok, &conflict);
  assert_int_equal(ok, THREADS * TRIES);
  reopen();
  int64_t n;
  assert_int_equal(store_audit_count(st, "sess-race", &n), VG_OK);
  assert_int_equal(n, THREADS * TRIES);
  int64_t used;
  assert_int_equal(store_quota_get(st, "race-user", 7, &used), VG_OK);
  assert_int_equal(used, 37);
  struct store_token f;
  char hash[STORE_HASH_HEX + 1];
  memset(hash, 'b', STORE_HASH_HEX);
  hash[STORE_HASH_HEX] = '\0';
  assert_int_equal(store_token_find(st, hash, &f), VG_OK);
  assert_string_equal(f.id, "tok-b");
}

/* ---- transactions ---- */

/* Opens a session with its first signature, consumes quota, counts a
 * second signature and writes its audit row as one unit, then fails if
 * asked to. */
struct first_sig {
  const char *upload_id;
  int fail_with;
  int64_t used;
};

static int first_sig_fn(struct store_tx *tx, void *arg)
{
  struct first_sig *a = arg;
  int rc = store_tx_quota_consume(tx, "tx-user", 9, 2, &a->used);
  if (rc != VG_OK)
    return rc;
  struct store_session s = mk_session(a->upload_id, "tx-user");
  struct store_audit au = {a->upload_id, "tx-user", "req-tx", 5, 6, s.created_at, 1};
  s.signatures_issued = 1;
  s.first = &au;
  rc = store_tx_session_create(tx, &s);
  if (rc != VG_OK)
    return rc;
  struct store_session g;
  rc = store_tx_session_get(tx, a->upload_id, &g); /* sees its own write */
  if (rc != VG_OK)
    return rc;
  store_session_release(&g);
  rc = store_tx_session_add_signature(tx, a->upload_id, 0, &au.n);
  if (rc != VG_OK)
    return rc;
  au.request_id = "req-tx-2";
  rc = store_tx_audit_append(tx, &au); /* n 2 */
  return rc != VG_OK ? rc : a->fail_with;
}

static void transaction_is_all_or_nothing(void **state)
{
  struct first_sig a = {"sess-tx-1", VG_ERR, 0};
  assert_int_equal(store_run(st, first_sig_fn, &a), VG_ERR);
  int64_t used, n;
  assert_int_equal(store_quota_get(st, "tx-user", 9, &used), VG_OK);
  assert_int_equal(used, 0);
  struct store_session g;
  assert_int_equal(store_session_get(st, "sess-tx-1", &g), VG_NOTFOUND);

  a.fail_with = VG_OK;
  assert_int_equal(store_run(st, first_sig_fn, &a), VG_OK);
  assert_int_equal(a.used, 1);
  assert_int_equal(store_session_get(st, "sess-tx-1", &g), VG_OK);
  store_session_release(&g);
  assert_int_equal(store_audit_count(st, "sess-tx-1", &n), VG_OK);
  assert_int_equal(n, 2);

  /* Same upload id again: the session insert conflicts, so the quota unit
   * consumed before it in the same callback is given back. */
  assert_int_equal(store_run(st, first_sig_fn, &a), VG_CONFLICT);
  assert_int_equal(store_quota_get(st, "tx-user", 9, &used), VG_OK);
  assert_int_equal(used, 1);
  a.upload_id = "sess-tx-2";
  assert_int_equal(store_run(st, first_sig_fn, &a), VG_OK);
  a.upload_id = "sess-tx-3";
  assert_int_equal(store_run(st, first_sig_fn, &a), VG_CONFLICT); /* quota of 2 */
  assert_int_equal(store_session_get(st, "sess-tx-3", &g), VG_NOTFOUND);
}

/* ---- events ---- */

struct intake {
  const struct store_event *ev;
  bool is_new;
  int64_t outbox_id;
};

/* The issue-4 event path: event + ledger + outbox in one transaction. */
static int intake_fn(struct store_tx *tx, void *arg)
{
  struct intake *in = arg;
  int rc = store_tx_event_insert(tx, in->ev, &in->is_new);
  if (rc != VG_OK || !in->is_new)
    return rc;
  struct store_ledger l = {.updated_at = in->ev->received_at};
  snprintf(l.file_id, sizeof(l.file_id), "%s", in->ev->file_id);
  snprintf(l.state, sizeof(l.state), "uploaded");
  l.detail_json = "{\"mediaUrl\":\"https://example.invalid/a.mp4\"}";
  rc = store_tx_ledger_put(tx, &l);
  if (rc != VG_OK)
    return rc;
  return store_tx_outbox_add(tx, in->ev->event_key, "{\"state\":\"uploaded\"}", in->ev->received_at,
                             &in->outbox_id);
}

static void events_are_idempotent(void **state)
{
  struct store_event ev = {
      .event_key = "NewFileUpload/5285890799999999999/",
      .source = "push",
      .type = "NewFileUpload",
      .file_id = "5285890799999999999",
      .body_json = "{\"EventType\":\"NewFileUpload\"}",
      .received_at = 1234,
  };
  int64_t events0, outbox0, n;
  assert_int_equal(store_event_count(st, &events0), VG_OK);
  assert_int_equal(store_outbox_count(st, &outbox0), VG_OK);
  struct intake in = {.ev = &ev};
  assert_int_equal(store_run(st, intake_fn, &in), VG_OK);
  assert_true(in.is_new);
  assert_true(in.outbox_id > 0);
  ev.source = "pull"; /* the same event taken in twice: one effect */
  ev.received_at = 9999;
  in = (struct intake){.ev = &ev};
  assert_int_equal(store_run(st, intake_fn, &in), VG_OK);
  assert_false(in.is_new);
  assert_int_equal(in.outbox_id, 0);
  assert_int_equal(store_event_count(st, &n), VG_OK);
  assert_int_equal(n, events0 + 1);
  assert_int_equal(store_outbox_count(st, &n), VG_OK);
  assert_int_equal(n, outbox0 + 1);

  struct store_event_record r;
  assert_int_equal(store_event_get(st, ev.event_key, &r), VG_OK);
  assert_string_equal(r.source, "push");
  assert_string_equal(r.type, "NewFileUpload");
  assert_string_equal(r.file_id, "5285890799999999999");
  assert_null(r.task_id);
  assert_null(r.status);
  assert_string_equal(r.body_json, ev.body_json);
  assert_int_equal(r.received_at, 1234);
  store_event_record_release(&r);
  assert_int_equal(store_event_get(st, "nope", &r), VG_NOTFOUND);

  struct store_ledger l;
  assert_int_equal(store_ledger_get(st, "5285890799999999999", &l), VG_OK);
  assert_string_equal(l.state, "uploaded");
  assert_string_equal(l.upload_id, "");
  assert_string_equal(l.user_id, "");
  assert_string_equal(l.detail_json, "{\"mediaUrl\":\"https://example.invalid/a.mp4\"}");
  assert_int_equal(l.updated_at, 1234);
  store_ledger_release(&l);
  assert_int_equal(store_ledger_get(st, "0", &l), VG_NOTFOUND);

  bool is_new = true;
  ev.source = "carrier-pigeon";
  assert_int_equal(store_event_insert(st, &ev, &is_new), VG_INVALID);
  assert_false(is_new);
  ev.source = "push";
  ev.event_key = "ProcedureStateChanged/task-1/FINISH";
  ev.file_id = NULL;
  ev.task_id = "task-1";
  ev.status = "FINISH";
  assert_int_equal(store_event_insert(st, &ev, &is_new), VG_OK);
  assert_true(is_new);
  assert_int_equal(store_event_insert(st, &ev, &is_new), VG_OK);
  assert_false(is_new);
}

static void event_bounds(void **state)
{
  char task[STORE_MAX_EVENT_ID + 2], key[STORE_MAX_EVENT_KEY + 2];
  memset(task, 't', sizeof(task));
  task[STORE_MAX_EVENT_ID] = '\0'; /* longest allowed */
  memset(key, 'k', sizeof(key));
  key[STORE_MAX_EVENT_KEY] = '\0';
  struct store_event ev = {.event_key = key,
                           .source = "pull",
                           .type = "ProcedureStateChanged",
                           .task_id = task,
                           .status = "FINISH",
                           .body_json = "{}",
                           .received_at = 1};
  bool is_new;
  assert_int_equal(store_event_insert(st, &ev, &is_new), VG_OK);
  assert_true(is_new);
  struct store_event_record r;
  assert_int_equal(store_event_get(st, key, &r), VG_OK);
  assert_string_equal(r.task_id, task);
  store_event_record_release(&r);
  key[STORE_MAX_EVENT_KEY] = 'k'; /* one over */
  key[STORE_MAX_EVENT_KEY + 1] = '\0';
  assert_int_equal(store_event_insert(st, &ev, &is_new), VG_INVALID);
  key[STORE_MAX_EVENT_KEY] = '\0';
  task[STORE_MAX_EVENT_ID] = 't';
  task[STORE_MAX_EVENT_ID + 1] = '\0';
  assert_int_equal(store_event_insert(st, &ev, &is_new), VG_INVALID);
}

struct flood {
  int n;
};

static int flood_fn(struct store_tx *tx, void *arg)
{
  struct flood *f = arg;
  for (int i = 0; i < f->n; i++) {
    char body[32];
    int len = snprintf(body, sizeof(body), "junk\x01\xff%d", i);
    int rc = store_tx_quarantine_add(tx, "invalid JSON", body, (size_t)len, i);
    if (rc != VG_OK)
      return rc;
  }
  return VG_OK;
}

static void quarantine_is_bounded(void **state)
{
  int64_t n;
  assert_int_equal(store_quarantine_add(st, "invalid JSON", "\0\x80{", 3, 1), VG_OK);
  assert_int_equal(store_quarantine_count(st, &n), VG_OK);
  assert_int_equal(n, 1);
  struct flood f = {STORE_QUARANTINE_KEEP + 10};
  assert_int_equal(store_run(st, flood_fn, &f), VG_OK);
  assert_int_equal(store_quarantine_count(st, &n), VG_OK);
  assert_int_equal(n, STORE_QUARANTINE_KEEP);
  assert_int_equal(store_quarantine_add(st, "", "x", 1, 1), VG_INVALID);
}

/* ---- listings, outbox worker, leases ---- */

struct ledger_acc {
  int n;
  char files[4][STORE_MAX_ID + 1];
  char detail[4][64];
};

static int ledger_cb(const struct store_ledger *l, void *arg)
{
  struct ledger_acc *acc = arg;
  if (acc->n < 4) {
    snprintf(acc->files[acc->n], sizeof(acc->files[0]), "%s", l->file_id);
    snprintf(acc->detail[acc->n], sizeof(acc->detail[0]), "%s", l->detail_json);
  }
  acc->n++;
  return 0;
}

static int put_ledgers(struct store_tx *tx, void *arg)
{
  static const struct {
    const char *file, *upload, *user, *state;
    int64_t at;
  } rows[] = {
      {"L1", "up-1", "alice", "passed", 10},
      {"L2", "up-2", "alice", "uploaded", 30},
      {"L3", "up-3", "bob", "passed", 20},
      {"L4", "", "", "passed", 40}, /* unattributed */
  };
  for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
    struct store_ledger l = {.updated_at = rows[i].at};
    snprintf(l.file_id, sizeof(l.file_id), "%s", rows[i].file);
    snprintf(l.upload_id, sizeof(l.upload_id), "%s", rows[i].upload);
    snprintf(l.user_id, sizeof(l.user_id), "%s", rows[i].user);
    snprintf(l.state, sizeof(l.state), "%s", rows[i].state);
    l.detail_json = "{\"n\":1}";
    int rc = store_tx_ledger_put(tx, &l);
    if (rc != VG_OK)
      return rc;
  }
  struct store_ledger g;
  int rc = store_tx_ledger_get(tx, "L2", &g);
  store_ledger_release(&g);
  return rc;
}

static void ledger_listing(void **state)
{
  assert_int_equal(store_run(st, put_ledgers, NULL), VG_OK);
  struct store_ledger l;
  assert_int_equal(store_ledger_get_by_upload(st, "up-2", &l), VG_OK);
  assert_string_equal(l.file_id, "L2");
  assert_string_equal(l.user_id, "alice");
  assert_string_equal(l.state, "uploaded");
  store_ledger_release(&l);
  assert_int_equal(store_ledger_get_by_upload(st, "up-9", &l), VG_NOTFOUND);

  struct ledger_acc acc = {0};
  assert_int_equal(store_ledger_list(st, "alice", NULL, 10, ledger_cb, &acc), VG_OK);
  assert_int_equal(acc.n, 2);
  assert_string_equal(acc.files[0], "L2"); /* newest first */
  assert_string_equal(acc.files[1], "L1");
  assert_string_equal(acc.detail[0], "{\"n\":1}");
  memset(&acc, 0, sizeof(acc));
  assert_int_equal(store_ledger_list(st, NULL, "passed", 2, ledger_cb, &acc), VG_OK);
  assert_int_equal(acc.n, 2);
  assert_string_equal(acc.files[0], "L4");
  assert_string_equal(acc.files[1], "L3");
  memset(&acc, 0, sizeof(acc));
  assert_int_equal(store_ledger_list(st, "bob", "uploaded", 10, ledger_cb, &acc), VG_OK);
  assert_int_equal(acc.n, 0);
  assert_int_equal(store_ledger_list(st, NULL, NULL, 0, ledger_cb, &acc), VG_INVALID);
  assert_int_equal(store_ledger_list(st, NULL, NULL, STORE_MAX_LIST + 1, ledger_cb, &acc),
                   VG_INVALID);
}

struct event_acc {
  int n;
  char keys[4][64];
  bool task_null[4];
};

static int event_cb(const struct store_event_record *r, void *arg)
{
  struct event_acc *acc = arg;
  if (acc->n < 4) {
    snprintf(acc->keys[acc->n], sizeof(acc->keys[0]), "%s", r->event_key);
    acc->task_null[acc->n] = r->task_id == NULL;
  }
  acc->n++;
  return 0;
}

static void event_listing(void **state)
{
  static const char *const keys[] = {"E/f9/a", "E/f9/b", "E/f8/a"};
  static const char *const files[] = {"f9", "f9", "f8"};
  for (int i = 0; i < 3; i++) {
    struct store_event ev = {.event_key = keys[i],
                             .source = "pull",
                             .type = "E",
                             .file_id = files[i],
                             .body_json = "[]",
                             .received_at = 20000 + i};
    bool is_new;
    assert_int_equal(store_event_insert(st, &ev, &is_new), VG_OK);
    assert_true(is_new);
  }
  struct event_acc acc = {0};
  assert_int_equal(store_event_list(st, "f9", 10, event_cb, &acc), VG_OK);
  assert_int_equal(acc.n, 2);
  assert_string_equal(acc.keys[0], "E/f9/b");
  assert_string_equal(acc.keys[1], "E/f9/a");
  assert_true(acc.task_null[0]);
  memset(&acc, 0, sizeof(acc));
  assert_int_equal(store_event_list(st, NULL, 1, event_cb, &acc), VG_OK);
  assert_int_equal(acc.n, 1);
  assert_string_equal(acc.keys[0], "E/f8/a");
}

struct due_acc {
  int n;
  int64_t ids[8], attempts[8];
  char payload[8][32];
};

static int due_cb(const struct store_outbox_item *it, void *arg)
{
  struct due_acc *acc = arg;
  if (acc->n < 8) {
    acc->ids[acc->n] = it->id;
    acc->attempts[acc->n] = it->attempts;
    snprintf(acc->payload[acc->n], sizeof(acc->payload[0]), "%s", it->payload_json);
  }
  acc->n++;
  return 0;
}

struct add3 {
  int64_t ids[3];
};

static int add3_fn(struct store_tx *tx, void *arg)
{
  struct add3 *a = arg;
  static const char *const payloads[] = {"{\"i\":0}", "{\"i\":1}", "{\"i\":2}"};
  for (int i = 0; i < 3; i++) {
    int rc = store_tx_outbox_add(tx, "ob-key", payloads[i], 100 + i, &a->ids[i]);
    if (rc != VG_OK)
      return rc;
  }
  return VG_OK;
}

static void outbox_worker(void **state)
{
  int64_t pending0, dead0, n;
  assert_int_equal(store_outbox_count(st, &pending0), VG_OK);
  assert_int_equal(store_outbox_dead_count(st, &dead0), VG_OK);
  struct add3 a;
  assert_int_equal(store_run(st, add3_fn, &a), VG_OK);
  assert_true(a.ids[0] < a.ids[1] && a.ids[1] < a.ids[2]);

  /* Only rows due by `now` (101): the first two, oldest first. Rows of
   * other tests are due at 1234 and later. */
  struct due_acc acc = {0};
  assert_int_equal(store_outbox_due(st, 101, 10, due_cb, &acc), VG_OK);
  assert_int_equal(acc.n, 2);
  assert_int_equal(acc.ids[0], a.ids[0]);
  assert_int_equal(acc.ids[1], a.ids[1]);
  assert_string_equal(acc.payload[1], "{\"i\":1}");
  assert_int_equal(acc.attempts[0], 0);

  assert_int_equal(store_outbox_delivered(st, a.ids[0], 101), VG_OK);
  assert_int_equal(store_outbox_delivered(st, a.ids[0], 101), VG_NOTFOUND); /* not pending */
  assert_int_equal(store_outbox_failed(st, a.ids[1], 500, false), VG_OK);   /* retry later */
  memset(&acc, 0, sizeof(acc));
  assert_int_equal(store_outbox_due(st, 101, 10, due_cb, &acc), VG_OK);
  assert_int_equal(acc.n, 0);
  memset(&acc, 0, sizeof(acc));
  assert_int_equal(store_outbox_due(st, 500, 2, due_cb, &acc), VG_OK);
  assert_int_equal(acc.n, 2);
  assert_int_equal(acc.ids[0], a.ids[2]); /* due 102 */
  assert_int_equal(acc.ids[1], a.ids[1]); /* due 500, one failure */
  assert_int_equal(acc.attempts[1], 1);
  assert_int_equal(store_outbox_failed(st, a.ids[1], 900, true), VG_OK); /* dead-letter */
  assert_int_equal(store_outbox_failed(st, a.ids[1], 900, false), VG_NOTFOUND);
  assert_int_equal(store_outbox_dead_count(st, &n), VG_OK);
  assert_int_equal(n, dead0 + 1);
  assert_int_equal(store_outbox_count(st, &n), VG_OK);
  assert_int_equal(n, pending0 + 1);
  assert_int_equal(store_outbox_delivered(st, 0, 1), VG_INVALID);
}

/* ---- the operators' outbox view (vodgate webhooks) ---- */

struct ob_acc {
  int n;
  struct {
    int64_t id, attempts, due_at, delivered_at;
    bool dead;
    char key[32], payload[64];
  } r[8];
  bool all_dead;   /* every row seen was dead */
  int64_t last_id; /* ids strictly descending */
  bool descending;
};

static int ob_cb(const struct store_outbox_item *it, void *arg)
{
  struct ob_acc *acc = arg;
  if (acc->n == 0) {
    acc->all_dead = acc->descending = true;
  } else if (it->id >= acc->last_id) {
    acc->descending = false;
  }
  acc->last_id = it->id;
  acc->all_dead = acc->all_dead && it->dead;
  if (acc->n < 8) {
    acc->r[acc->n].id = it->id;
    acc->r[acc->n].attempts = it->attempts;
    acc->r[acc->n].due_at = it->due_at;
    acc->r[acc->n].delivered_at = it->delivered_at;
    acc->r[acc->n].dead = it->dead;
    snprintf(acc->r[acc->n].key, sizeof(acc->r[0].key), "%s", it->event_key);
    snprintf(acc->r[acc->n].payload, sizeof(acc->r[0].payload), "%s", it->payload_json);
  }
  acc->n++;
  return 0;
}

static const char *const oa_payloads[] = {
    "{\"data\":{\"fileId\":\"oa-f1\"},\"n\":0}", "{\"data\":{\"fileId\":\"oa-f2\"},\"n\":1}",
    "{\"data\":{\"fileId\":\"oa-f1\"},\"n\":2}",
    "[\"oa-f1\"]", /* no data.fileId: never matches a file */
};

struct add4 {
  int64_t ids[4];
};

static int add4_fn(struct store_tx *tx, void *arg)
{
  struct add4 *a = arg;
  static const char *const keys[] = {"OA/1", "OA/2", "OA/3", "OA/4"};
  for (int i = 0; i < 4; i++) {
    int rc = store_tx_outbox_add(tx, keys[i], oa_payloads[i], 5000, &a->ids[i]);
    if (rc != VG_OK)
      return rc;
  }
  return VG_OK;
}

static void ob_list(enum store_outbox_state state, const char *file, int64_t limit,
                    struct ob_acc *acc)
{
  memset(acc, 0, sizeof(*acc));
  assert_int_equal(store_outbox_list(st, state, file, limit, ob_cb, acc), VG_OK);
}

static void ob_get(int64_t id, struct ob_acc *acc)
{
  memset(acc, 0, sizeof(*acc));
  assert_int_equal(store_outbox_get(st, id, ob_cb, acc), VG_OK);
  assert_int_equal(acc->n, 1);
  assert_int_equal(acc->r[0].id, id);
}

static void outbox_listing(void **state)
{
  struct add4 a;
  struct ob_acc acc;
  int64_t dead0;

  assert_int_equal(store_run(st, add4_fn, &a), VG_OK);
  assert_int_equal(store_outbox_delivered(st, a.ids[0], 6000), VG_OK);
  assert_int_equal(store_outbox_failed(st, a.ids[1], 6500, true), VG_OK);
  assert_int_equal(store_outbox_failed(st, a.ids[2], 7000, false), VG_OK);

  /* Newest first: the last row written by this test is the newest one. */
  ob_list(STORE_OUTBOX_ANY, NULL, 2, &acc);
  assert_int_equal(acc.n, 2);
  assert_int_equal(acc.r[0].id, a.ids[3]);
  assert_int_equal(acc.r[1].id, a.ids[2]);
  assert_string_equal(acc.r[0].payload, oa_payloads[3]);

  /* By file (the payload's data.fileId), each state. */
  ob_list(STORE_OUTBOX_ANY, "oa-f1", 10, &acc);
  assert_int_equal(acc.n, 2);
  assert_int_equal(acc.r[0].id, a.ids[2]);
  assert_int_equal(acc.r[0].attempts, 1);
  assert_int_equal(acc.r[0].due_at, 7000);
  assert_int_equal(acc.r[0].delivered_at, 0);
  assert_false(acc.r[0].dead);
  assert_string_equal(acc.r[0].key, "OA/3");
  assert_int_equal(acc.r[1].id, a.ids[0]);
  assert_int_equal(acc.r[1].delivered_at, 6000);
  assert_int_equal(acc.r[1].attempts, 0);
  assert_false(acc.r[1].dead);
  ob_list(STORE_OUTBOX_DELIVERED, "oa-f1", 10, &acc);
  assert_int_equal(acc.n, 1);
  assert_int_equal(acc.r[0].id, a.ids[0]);
  ob_list(STORE_OUTBOX_PENDING, "oa-f1", 10, &acc);
  assert_int_equal(acc.n, 1);
  assert_int_equal(acc.r[0].id, a.ids[2]);
  ob_list(STORE_OUTBOX_DEAD, "oa-f1", 10, &acc);
  assert_int_equal(acc.n, 0);
  ob_list(STORE_OUTBOX_DEAD, "oa-f2", 10, &acc);
  assert_int_equal(acc.n, 1);
  assert_int_equal(acc.r[0].id, a.ids[1]);
  assert_true(acc.r[0].dead);
  assert_int_equal(acc.r[0].attempts, 1);
  assert_int_equal(acc.r[0].delivered_at, 0);
  ob_list(STORE_OUTBOX_ANY, "oa-none", 10, &acc);
  assert_int_equal(acc.n, 0);

  /* Every dead row of the database (outbox_worker left one too). */
  assert_int_equal(store_outbox_dead_count(st, &dead0), VG_OK);
  assert_true(dead0 >= 2);
  ob_list(STORE_OUTBOX_DEAD, NULL, STORE_MAX_LIST, &acc);
  assert_int_equal(acc.n, dead0);
  assert_true(acc.all_dead);
  assert_true(acc.descending);
  assert_int_equal(acc.r[0].id, a.ids[1]);

  /* One row, whatever its state. */
  ob_get(a.ids[1], &acc);
  assert_string_equal(acc.r[0].key, "OA/2");
  assert_string_equal(acc.r[0].payload, oa_payloads[1]);
  assert_true(acc.r[0].dead);
  assert_int_equal(acc.r[0].due_at, 6500);
  ob_get(a.ids[0], &acc);
  assert_int_equal(acc.r[0].delivered_at, 6000);
  memset(&acc, 0, sizeof(acc));
  assert_int_equal(store_outbox_get(st, a.ids[3] + 1000000, ob_cb, &acc), VG_NOTFOUND);
  assert_int_equal(acc.n, 0);

  /* Bounds. */
  char longid[STORE_MAX_ID + 2];
  memset(longid, 'f', sizeof(longid) - 1);
  longid[sizeof(longid) - 1] = '\0';
  assert_int_equal(store_outbox_get(st, 0, ob_cb, &acc), VG_INVALID);
  assert_int_equal(store_outbox_list(st, STORE_OUTBOX_ANY, NULL, 0, ob_cb, &acc), VG_INVALID);
  assert_int_equal(store_outbox_list(st, STORE_OUTBOX_ANY, NULL, STORE_MAX_LIST + 1, ob_cb, &acc),
                   VG_INVALID);
  assert_int_equal(store_outbox_list(st, (enum store_outbox_state)4, NULL, 1, ob_cb, &acc),
                   VG_INVALID);
  assert_int_equal(store_outbox_list(st, STORE_OUTBOX_ANY, longid, 1, ob_cb, &acc), VG_INVALID);
}

struct retry2 {
  int64_t first, second, changed;
};

/* Retries two rows in one transaction: the second's refusal undoes the
 * first. */
static int retry2_fn(struct store_tx *tx, void *arg)
{
  struct retry2 *r = arg;
  int64_t n;
  int rc = store_tx_outbox_retry(tx, r->first, 7777, &n);
  if (rc != VG_OK)
    return rc;
  r->changed = n;
  return store_tx_outbox_retry(tx, r->second, 7777, &n);
}

static void outbox_retry(void **state)
{
  struct add4 a;
  struct ob_acc acc;
  int64_t changed = -1, dead0, n;

  assert_int_equal(store_run(st, add4_fn, &a), VG_OK);
  assert_int_equal(store_outbox_delivered(st, a.ids[0], 6000), VG_OK);
  assert_int_equal(store_outbox_failed(st, a.ids[1], 6500, false), VG_OK);
  assert_int_equal(store_outbox_failed(st, a.ids[1], 6600, true), VG_OK); /* dead, 2 attempts */
  assert_int_equal(store_outbox_failed(st, a.ids[2], 7000, false), VG_OK);

  /* A delivered row is refused and left alone; a missing one is not found. */
  assert_int_equal(store_outbox_retry(st, a.ids[0], 8000, &changed), VG_CONFLICT);
  assert_int_equal(changed, 0);
  ob_get(a.ids[0], &acc);
  assert_int_equal(acc.r[0].delivered_at, 6000);
  assert_int_equal(acc.r[0].due_at, 5000);
  changed = -1;
  assert_int_equal(store_outbox_retry(st, a.ids[3] + 1000000, 8000, &changed), VG_NOTFOUND);
  assert_int_equal(changed, 0);
  assert_int_equal(store_outbox_retry(st, -1, 8000, &changed), VG_INVALID);

  /* A pending row: due now, its attempts forgotten. */
  assert_int_equal(store_outbox_retry(st, a.ids[2], 8000, &changed), VG_OK);
  assert_int_equal(changed, 1);
  ob_get(a.ids[2], &acc);
  assert_int_equal(acc.r[0].attempts, 0);
  assert_int_equal(acc.r[0].due_at, 8000);
  assert_false(acc.r[0].dead);

  /* All or nothing: the dead row's retry is undone by the refusal of the
   * delivered one in the same transaction. */
  struct retry2 r2 = {a.ids[1], a.ids[0], 0};
  assert_int_equal(store_run(st, retry2_fn, &r2), VG_CONFLICT);
  ob_get(a.ids[1], &acc);
  assert_true(acc.r[0].dead);
  assert_int_equal(acc.r[0].attempts, 2);
  assert_int_equal(acc.r[0].due_at, 6600);

  /* Every dead row at once (those of the other tests too). */
  assert_int_equal(store_outbox_dead_count(st, &dead0), VG_OK);
  assert_true(dead0 >= 1);
  assert_int_equal(store_outbox_retry(st, 0, 9000, &changed), VG_OK);
  assert_int_equal(changed, dead0);
  assert_int_equal(store_outbox_dead_count(st, &n), VG_OK);
  assert_int_equal(n, 0);
  ob_get(a.ids[1], &acc);
  assert_false(acc.r[0].dead);
  assert_int_equal(acc.r[0].attempts, 0);
  assert_int_equal(acc.r[0].due_at, 9000);
  assert_int_equal(acc.r[0].delivered_at, 0);
  ob_list(STORE_OUTBOX_PENDING, "oa-f2", 10, &acc); /* this test's and outbox_listing's */
  assert_int_equal(acc.n, 2);
  assert_int_equal(acc.r[0].id, a.ids[1]);
  /* Due again for the forwarder, and its to fail and dead-letter again. */
  memset(&acc, 0, sizeof(acc));
  assert_int_equal(store_outbox_failed(st, a.ids[1], 9100, true), VG_OK);
  assert_int_equal(store_outbox_retry(st, 0, 9500, &changed), VG_OK);
  assert_int_equal(changed, 1);
  assert_int_equal(store_outbox_retry(st, 0, 9600, &changed), VG_OK);
  assert_int_equal(changed, 0);
  assert_int_equal(store_outbox_retry(st, a.ids[1], 9700, NULL), VG_OK);
  assert_int_equal(store_outbox_delivered(st, a.ids[1], 9800), VG_OK);
  assert_int_equal(store_outbox_retry(st, a.ids[1], 9900, &changed), VG_CONFLICT);
}

static int rt_outbox_fn(struct store_tx *tx, void *arg)
{
  int64_t *ids = arg;
  for (int i = 0; i < 4; i++) {
    int rc = store_tx_outbox_add(tx, "RT/ob", "{\"data\":{\"fileId\":\"rt-f\"}}", 50, &ids[i]);
    if (rc != VG_OK)
      return rc;
  }
  return VG_OK;
}

/* [retention]: the oldest events and delivered webhooks go, a bounded
 * batch at a time; nothing else. Runs last: it deletes the old events of
 * the tests before it too. */
static void retention_prunes_oldest(void **state)
{
  char key[32];
  bool is_new;
  int64_t n0, n1, n, total = 0, ids[4];
  struct store_event_record rec;
  struct ob_acc acc;

  for (int i = 0; i < 600; i++) {
    snprintf(key, sizeof(key), "RT/old/%d", i);
    struct store_event ev = {
        .event_key = key, .source = "push", .type = "T", .body_json = "{}", .received_at = 100 + i};
    assert_int_equal(store_event_insert(st, &ev, &is_new), VG_OK);
  }
  struct store_event fresh = {
      .event_key = "RT/new", .source = "push", .type = "T", .body_json = "{}", .received_at = 5000};
  assert_int_equal(store_event_insert(st, &fresh, &is_new), VG_OK);
  assert_int_equal(store_event_count(st, &n0), VG_OK);

  /* One batch: exactly limit rows, oldest first (the newest old one stays). */
  assert_int_equal(store_prune(st, STORE_PRUNE_EVENTS, 800, 256, &n), VG_OK);
  assert_int_equal(n, 256);
  assert_int_equal(store_event_get(st, "RT/old/599", &rec), VG_OK);
  store_event_record_release(&rec);
  total = n;
  do {
    assert_int_equal(store_prune(st, STORE_PRUNE_EVENTS, 800, 256, &n), VG_OK);
    total += n;
  } while (n == 256);
  assert_int_equal(store_event_count(st, &n1), VG_OK);
  assert_int_equal(n0 - n1, total);
  assert_true(total >= 600);
  assert_int_equal(store_event_get(st, "RT/old/0", &rec), VG_NOTFOUND);
  assert_int_equal(store_event_get(st, "RT/old/599", &rec), VG_NOTFOUND);
  assert_int_equal(store_event_get(st, "RT/new", &rec), VG_OK);
  store_event_record_release(&rec);
  assert_int_equal(store_prune(st, STORE_PRUNE_EVENTS, 800, 256, &n), VG_OK);
  assert_int_equal(n, 0);
  /* Delivered again after its record went: new again. */
  struct store_event again = {.event_key = "RT/old/0",
                              .source = "push",
                              .type = "T",
                              .body_json = "{}",
                              .received_at = 6000};
  assert_int_equal(store_event_insert(st, &again, &is_new), VG_OK);
  assert_true(is_new);

  /* Webhooks: delivered before the cutoff go; delivered after, pending and
   * dead stay, however old. */
  assert_int_equal(store_run(st, rt_outbox_fn, ids), VG_OK);
  assert_int_equal(store_outbox_delivered(st, ids[0], 700), VG_OK);
  assert_int_equal(store_outbox_delivered(st, ids[1], 900), VG_OK);
  assert_int_equal(store_outbox_failed(st, ids[2], 60, true), VG_OK); /* dead */
  assert_int_equal(store_prune(st, STORE_PRUNE_WEBHOOKS, 800, 256, &n), VG_OK);
  assert_true(n >= 1); /* and those the earlier tests delivered before 800 */
  memset(&acc, 0, sizeof(acc));
  assert_int_equal(store_outbox_get(st, ids[0], ob_cb, &acc), VG_NOTFOUND);
  ob_get(ids[1], &acc);
  ob_get(ids[2], &acc);
  assert_true(acc.r[0].dead);
  ob_get(ids[3], &acc);
  assert_int_equal(acc.r[0].delivered_at, 0);
  assert_int_equal(store_prune(st, STORE_PRUNE_WEBHOOKS, 800, 256, &n), VG_OK);
  assert_int_equal(n, 0);

  /* Bounds. */
  assert_int_equal(store_prune(st, STORE_PRUNE_EVENTS, 800, 0, &n), VG_INVALID);
  assert_int_equal(store_prune(st, STORE_PRUNE_EVENTS, 800, STORE_MAX_LIST + 1, &n), VG_INVALID);
  assert_int_equal(store_prune(st, (enum store_prune_what)7, 800, 1, &n), VG_INVALID);
}

struct sweep_a {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int stage; /* 1: A holds its batch; 2: A may commit */
  int64_t deleted;
  int rc;
};

/* Sweep A: deletes a batch and holds its rows until told to commit. */
static int sweep_a_fn(struct store_tx *tx, void *arg)
{
  struct sweep_a *a = arg;
  int rc = store_tx_prune(tx, STORE_PRUNE_EVENTS, 900, 5, &a->deleted);
  pthread_mutex_lock(&a->mu);
  a->stage = 1;
  pthread_cond_broadcast(&a->cv);
  while (a->stage < 2)
    pthread_cond_wait(&a->cv, &a->mu);
  pthread_mutex_unlock(&a->mu);
  return rc;
}

static void *sweep_a_main(void *arg)
{
  struct sweep_a *a = arg;
  a->rc = store_run(st, sweep_a_fn, a);
  return NULL;
}

/* Two instances sweeping one PostgreSQL database at once take disjoint
 * batches: the second neither waits for the first's rows nor deletes
 * them (FOR UPDATE SKIP LOCKED; without it this test hangs). SQLite has
 * one writer, so there is nothing to check. */
static void retention_concurrent_sweeps(void **state)
{
  struct sweep_a a = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, -1};
  pthread_t th;
  char key[32];
  bool is_new;
  int64_t n;

  if (strcmp(store_backend(st), "postgres") != 0)
    return; /* (a cmocka skip reads as a failure in TAP) */
  for (int i = 0; i < 20; i++) {
    snprintf(key, sizeof(key), "SK/%d", i);
    struct store_event ev = {
        .event_key = key, .source = "push", .type = "T", .body_json = "{}", .received_at = 850 + i};
    assert_int_equal(store_event_insert(st, &ev, &is_new), VG_OK);
  }
  assert_int_equal(pthread_create(&th, NULL, sweep_a_main, &a), 0);
  pthread_mutex_lock(&a.mu);
  while (a.stage < 1)
    pthread_cond_wait(&a.cv, &a.mu);
  pthread_mutex_unlock(&a.mu);
  /* A holds the 5 oldest: this sweep gets the 15 others, at once. */
  assert_int_equal(store_prune(st, STORE_PRUNE_EVENTS, 900, 256, &n), VG_OK);
  assert_int_equal(n, 15);
  pthread_mutex_lock(&a.mu);
  a.stage = 2;
  pthread_cond_broadcast(&a.cv);
  pthread_mutex_unlock(&a.mu);
  pthread_join(th, NULL);
  assert_int_equal(a.rc, VG_OK);
  assert_int_equal(a.deleted, 5);
  assert_int_equal(store_prune(st, STORE_PRUNE_EVENTS, 900, 256, &n), VG_OK);
  assert_int_equal(n, 0);
}

struct q_acc {
  int n;
  size_t len0;
  unsigned char body0[8];
  char reason0[32];
};

static int q_cb(const struct store_quarantine_item *it, void *arg)
{
  struct q_acc *acc = arg;
  if (acc->n == 0) {
    acc->len0 = it->body_len;
    memcpy(acc->body0, it->body, it->body_len < 8 ? it->body_len : 8);
    snprintf(acc->reason0, sizeof(acc->reason0), "%s", it->reason);
  }
  acc->n++;
  return 0;
}

static void quarantine_listing(void **state)
{
  assert_int_equal(store_quarantine_add(st, "bad Sign", "\0\xff\x01", 3, 77), VG_OK);
  struct q_acc acc = {0};
  assert_int_equal(store_quarantine_list(st, 5, q_cb, &acc), VG_OK);
  assert_int_equal(acc.n, 5);
  assert_int_equal(acc.len0, 3);
  assert_memory_equal(acc.body0, "\0\xff\x01", 3);
  assert_string_equal(acc.reason0, "bad Sign");
}

static void leases(void **state)
{
  assert_int_equal(store_lease_acquire(st, "puller", "host-a", 1000, 30), VG_OK);
  assert_int_equal(store_lease_acquire(st, "puller", "host-b", 1010, 30), VG_CONFLICT);
  assert_int_equal(store_lease_acquire(st, "puller", "host-a", 1020, 30), VG_OK); /* renew */
  assert_int_equal(store_lease_acquire(st, "puller", "host-b", 1049, 30), VG_CONFLICT);
  assert_int_equal(store_lease_acquire(st, "puller", "host-b", 1050, 30), VG_OK); /* expired */
  assert_int_equal(store_lease_acquire(st, "forwarder", "host-a", 1050, 30), VG_OK);
  assert_int_equal(store_lease_release(st, "puller", "host-a"), VG_OK); /* not the holder */
  assert_int_equal(store_lease_acquire(st, "puller", "host-a", 1051, 30), VG_CONFLICT);
  assert_int_equal(store_lease_release(st, "puller", "host-b"), VG_OK);
  assert_int_equal(store_lease_acquire(st, "puller", "host-a", 1052, 30), VG_OK);
  assert_int_equal(store_lease_acquire(st, "puller", "", 1052, 30), VG_INVALID);
  assert_int_equal(store_lease_acquire(st, "puller", "x", 1052, 0), VG_INVALID);
}

/* ---- asynchronous submission ---- */

#define SUBMITS 200

struct submit_state {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int done, ok;
};

struct submit_one {
  char key[32];
  struct store_event ev;
  struct event_arg_t {
    bool is_new;
  } out;
  struct submit_state *state;
  int rc;
};

static int submit_fn(struct store_tx *tx, void *arg)
{
  struct submit_one *o = arg;
  return store_tx_event_insert(tx, &o->ev, &o->out.is_new);
}

static void submit_done(int rc, void *arg)
{
  struct submit_one *o = arg;
  pthread_mutex_lock(&o->state->mu);
  o->rc = rc;
  o->state->done++;
  if (rc == VG_OK && o->out.is_new)
    o->state->ok++;
  pthread_cond_signal(&o->state->cv);
  pthread_mutex_unlock(&o->state->mu);
}

static void submit_acknowledges_each_write(void **state)
{
  static struct submit_one ones[SUBMITS];
  struct submit_state ss = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
  for (int i = 0; i < SUBMITS; i++) {
    struct submit_one *o = &ones[i];
    snprintf(o->key, sizeof(o->key), "submit/%d", i);
    o->ev = (struct store_event){
        .event_key = o->key, .source = "push", .type = "T", .body_json = "{}", .received_at = 3};
    o->state = &ss;
    o->rc = 12345;
    assert_int_equal(store_submit(st, submit_fn, o, submit_done, o), VG_OK);
  }
  pthread_mutex_lock(&ss.mu);
  while (ss.done < SUBMITS)
    pthread_cond_wait(&ss.cv, &ss.mu);
  pthread_mutex_unlock(&ss.mu);
  assert_int_equal(ss.ok, SUBMITS);
  for (int i = 0; i < SUBMITS; i++)
    assert_int_equal(ones[i].rc, VG_OK);
  /* A duplicate through the same path: acknowledged, not new. */
  ss.done = ss.ok = 0;
  assert_int_equal(store_submit(st, submit_fn, &ones[7], submit_done, &ones[7]), VG_OK);
  pthread_mutex_lock(&ss.mu);
  while (ss.done < 1)
    pthread_cond_wait(&ss.cv, &ss.mu);
  pthread_mutex_unlock(&ss.mu);
  assert_int_equal(ones[7].rc, VG_OK);
  assert_false(ones[7].out.is_new);
  struct store_event_record r;
  assert_int_equal(store_event_get(st, "submit/199", &r), VG_OK);
  store_event_record_release(&r);
}

/* ---- crash safety ---- */

#define CRASH_THREADS 8
#define CRASH_ACKS    400

static int crash_pipe;

static void *crash_writer(void *arg)
{
  int t = (int)(intptr_t)arg;
  for (uint32_t i = 0;; i++) {
    char key[64];
    snprintf(key, sizeof(key), "crash/%d/%u", t, i);
    struct store_event ev = {
        .event_key = key, .source = "push", .type = "T", .body_json = "{}", .received_at = 1};
    bool is_new;
    if (store_event_insert(st, &ev, &is_new) != VG_OK || !is_new)
      _exit(3);
    uint32_t rec[2] = {(uint32_t)t, i}; /* < PIPE_BUF: each write is atomic */
    if (write(crash_pipe, rec, sizeof(rec)) != (ssize_t)sizeof(rec))
      _exit(4);
  }
  return NULL;
}

/* A child process writes events from several threads and reports each
 * acknowledged one; it is killed with SIGKILL mid-stream. Every event it
 * reported must be in the store afterwards. */
static void acknowledged_writes_survive_sigkill(void **state)
{
  store_close(st); /* no threads of ours across fork() */
  st = NULL;
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    crash_pipe = fds[1];
    if (store_open(url, NULL, &st) != VG_OK)
      _exit(2);
    pthread_t th[CRASH_THREADS];
    for (int i = 0; i < CRASH_THREADS; i++)
      pthread_create(&th[i], NULL, crash_writer, (void *)(intptr_t)i);
    pthread_join(th[0], NULL); /* never returns: killed */
    _exit(5);
  }
  close(fds[1]);
  static uint32_t acked[CRASH_THREADS * CRASH_ACKS * 4][2];
  size_t n = 0;
  uint32_t rec[2];
  while (n < CRASH_ACKS && read(fds[0], rec, sizeof(rec)) == (ssize_t)sizeof(rec)) {
    acked[n][0] = rec[0];
    acked[n][1] = rec[1];
    n++;
  }
  kill(pid, SIGKILL);
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status)); /* it did not exit on an error first */
  while (n < sizeof(acked) / sizeof(acked[0]) &&
         read(fds[0], rec, sizeof(rec)) == (ssize_t)sizeof(rec)) {
    acked[n][0] = rec[0];
    acked[n][1] = rec[1];
    n++;
  }
  close(fds[0]);
  assert_true(n >= CRASH_ACKS);

  assert_int_equal(store_open(url, NULL, &st), VG_OK);
  for (size_t i = 0; i < n; i++) {
    char key[64];
    snprintf(key, sizeof(key), "crash/%u/%u", acked[i][0], acked[i][1]);
    struct store_event_record r;
    int rc = store_event_get(st, key, &r);
    if (rc != VG_OK)
      fail_msg("acknowledged event %s lost (%d)", key, rc);
    store_event_record_release(&r);
  }
}

static void refuses_newer_schema(void **state)
{
  char path[300];
  snprintf(path, sizeof(path), "%s/newer.db", tmpdir);
  sqlite3 *db;
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db,
                                "CREATE TABLE schema_version (version INTEGER PRIMARY KEY,"
                                " applied_at INTEGER NOT NULL) STRICT;"
                                "INSERT INTO schema_version VALUES (99, 0);",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);
  struct store *s = NULL;
  assert_int_equal(store_open(path, NULL, &s), VG_IO);
  assert_null(s);
}

static int add_outbox_row(struct store_tx *tx, void *arg)
{
  return store_tx_outbox_add(tx, "test/upgrade", "{\"a\":1}", 1, arg);
}

static int64_t sql_int(sqlite3 *db, const char *sql)
{
  sqlite3_stmt *q = NULL;
  int64_t v = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
    v = sqlite3_column_int64(q, 0);
  sqlite3_finalize(q);
  return v;
}

/* Sustained writes with no pause for the checkpoint thread to catch up:
 * the WAL must stay bounded (STORE_WAL_CHECKPOINT_HARD pages, then the
 * writer checkpoints itself), never grow with the data written. */
struct wal_load {
  struct store *s;
  int id;
};

static void *wal_load_main(void *arg)
{
  struct wal_load *w = arg;
  static char body[3001];
  memset(body, ' ', sizeof(body) - 1);
  body[0] = '{';
  body[sizeof(body) - 2] = '}';
  for (int i = 0; i < 1000; i++) {
    char key[64];
    bool is_new;
    snprintf(key, sizeof(key), "wal/%d/%d", w->id, i);
    struct store_event ev = {
        .event_key = key, .source = "push", .type = "Test", .body_json = body, .received_at = 1};
    if (store_event_insert(w->s, &ev, &is_new) != VG_OK || !is_new)
      return (void *)1;
  }
  return NULL;
}

static void wal_stays_bounded(void **state)
{
  char path[300], wal[310];
  struct store *s = NULL;
  struct wal_load w[8];
  pthread_t th[8];
  struct stat sb;

  snprintf(path, sizeof(path), "%s/wal.db", tmpdir);
  snprintf(wal, sizeof(wal), "%s-wal", path);
  assert_int_equal(store_open(path, NULL, &s), VG_OK);
  for (int i = 0; i < 8; i++) {
    w[i] = (struct wal_load){s, i};
    assert_int_equal(pthread_create(&th[i], NULL, wal_load_main, &w[i]), 0);
  }
  for (int i = 0; i < 8; i++) {
    void *rc;
    assert_int_equal(pthread_join(th[i], &rc), 0);
    assert_null(rc);
  }
  /* 8000 rows of ~3 KB: over 8000 pages went through the WAL. */
  assert_int_equal(stat(wal, &sb), 0);
  if (sb.st_size > (off_t)(STORE_WAL_CHECKPOINT_HARD + 2 * STORE_MAX_GROUP) * (4096 + 24))
    fail_msg("WAL grew to %lld bytes", (long long)sb.st_size);
  store_close(s);
  /* Everything reached the database file (the checkpointer runs on its own
   * thread, so only after the close is "all of it" certain). */
  assert_int_equal(stat(path, &sb), 0);
  assert_true(sb.st_size > 8000LL * 3000);
}

/* A database written by vodgate at schema 3 (tests/data/store-v3.sql) is
 * brought to the current schema with every row, index and the outbox's
 * AUTOINCREMENT counter kept, and no json_valid() CHECK left. */
static void upgrades_schema_3(void **state)
{
  const char *src = getenv("VODGATE_SRC");
  char path[300], fixture[4096];
  struct buf sql;
  sqlite3 *db;

  if (src)
    snprintf(fixture, sizeof(fixture), "%s/tests/data/store-v3.sql", src);
  else
    snprintf(fixture, sizeof(fixture), "%.*sdata/store-v3.sql",
             (int)(strlen(__FILE__) - strlen("unit/test_store.c")), __FILE__);
  buf_init(&sql, 1 << 20);
  assert_int_equal(read_file(fixture, &sql), VG_OK);
  snprintf(path, sizeof(path), "%s/v3.db", tmpdir);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, sql.ptr, NULL, NULL, NULL), SQLITE_OK);
  buf_release(&sql);
  assert_int_equal(sql_int(db, "SELECT max(version) FROM schema_version"), 3);
  /* The last outbox row gone: the counter (4) is above max(id) (3). */
  assert_int_equal(sqlite3_exec(db, "DELETE FROM outbox WHERE id = 4", NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);

  struct store *s = NULL;
  int64_t v = 0;
  assert_int_equal(store_open(path, NULL, &s), VG_OK);
  assert_int_equal(store_schema_version(s, &v), VG_OK);
  assert_int_equal(v, STORE_SCHEMA_VERSION);
  int64_t n = 0;
  assert_int_equal(store_event_count(s, &n), VG_OK);
  assert_int_equal(n, 4);
  struct store_event_record r;
  assert_int_equal(store_event_get(s, "NewFileUpload/5285890799999000001", &r), VG_OK);
  assert_non_null(strstr(r.body_json, "\"FileId\": \"5285890799999000001\""));
  store_event_record_release(&r);
  struct store_ledger l;
  assert_int_equal(store_ledger_get_by_upload(s, "01a224a489e1a7af70db8806c60a5986", &l), VG_OK);
  assert_string_equal(l.state, "blocked");
  assert_string_equal(l.user_id, "fixture-user");
  assert_string_equal(l.file_id, "5285890799999000001");
  store_ledger_release(&l);
  assert_int_equal(store_ledger_get(s, "5285890799999000002", &l), VG_OK);
  assert_string_equal(l.state, "passed");
  store_ledger_release(&l);
  assert_int_equal(store_outbox_count(s, &n), VG_OK);
  assert_int_equal(n, 3);
  assert_int_equal(store_quarantine_count(s, &n), VG_OK);
  assert_int_equal(n, 1);
  struct store_session sess;
  assert_int_equal(store_session_get(s, "01a224a489e1a7af70db8806c60a5986", &sess), VG_OK);
  assert_string_equal(sess.user_id, "fixture-user");
  assert_int_equal(sess.signatures_issued, 1);
  assert_non_null(strstr(sess.params_json, "\"procedure\":\"ReviewFlow\""));
  store_session_release(&sess);
  /* The audit row is kept (n = 1 since schema 6, in the session's row
   * since schema 8), and new ones follow it. */
  assert_int_equal(store_audit_count(s, "01a224a489e1a7af70db8806c60a5986", &n), VG_OK);
  assert_int_equal(n, 1);
  struct store_audit au = {
      "01a224a489e1a7af70db8806c60a5986", "fixture-user", "rid-after-v5", 1, 2, 3, 1};
  assert_int_equal(store_audit_append(s, &au), VG_INVALID); /* n = 1 is the session's */
  au.n = 2;
  assert_int_equal(store_audit_append(s, &au), VG_OK);
  assert_int_equal(store_audit_count(s, "01a224a489e1a7af70db8806c60a5986", &n), VG_OK);
  assert_int_equal(n, 2);
  int64_t id = 0;
  assert_int_equal(store_run(s, add_outbox_row, &id), VG_OK);
  assert_int_equal(id, 5); /* never 4 again */
  store_close(s);

  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN"
                               " ('event', 'ledger', 'outbox') AND sql LIKE '%json_valid%'"),
                   0);
  assert_int_equal(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name"
                               " IN ('event_file', 'event_received', 'ledger_upload',"
                               " 'ledger_user', 'outbox_due')"),
                   5);
  assert_int_equal(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE name LIKE '%_v4'"), 0);
  assert_int_equal(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE name LIKE '%_v5'"), 0);
  assert_int_equal(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'upload_session'"
                               " AND sql LIKE '%WITHOUT ROWID%' AND sql NOT LIKE '%json_valid%'"),
                   1);
  assert_int_equal(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE name ="
                               " 'upload_session_user'"),
                   0); /* schema 7 dropped it */
  assert_int_equal(sql_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
  assert_int_equal(sql_int(db, "SELECT count(*) FROM pragma_integrity_check WHERE"
                               " integrity_check != 'ok'"),
                   0);
  sqlite3_close(db);
}

/* A database written by vodgate at schema 5 (tests/data/store-v5.sql:
 * three sessions with 4, 3 and 1 signatures, their audit ids interleaved)
 * plus one audit row more than its session counted (no vodgate writes
 * that) is brought to schema 6: every audit row kept, n = 1..k per session
 * in id order, the count raised to the rows so the next n is free, and
 * the audit rows in one WITHOUT ROWID b-tree keyed by (upload_id, n). */
static void upgrades_schema_5(void **state)
{
  const char *src = getenv("VODGATE_SRC");
  char path[300], fixture[4096];
  struct buf sql;
  sqlite3 *db;
  const char *a = "01a2258f5fdc9be9b55ac75cafbc8df2", *b = "01a2258f6087824ecc14680cf4469af9",
             *c = "01a2258f6166bc3dff38aec85502bbed";

  if (src)
    snprintf(fixture, sizeof(fixture), "%s/tests/data/store-v5.sql", src);
  else
    snprintf(fixture, sizeof(fixture), "%.*sdata/store-v5.sql",
             (int)(strlen(__FILE__) - strlen("unit/test_store.c")), __FILE__);
  buf_init(&sql, 1 << 20);
  assert_int_equal(read_file(fixture, &sql), VG_OK);
  snprintf(path, sizeof(path), "%s/v5.db", tmpdir);
  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, sql.ptr, NULL, NULL, NULL), SQLITE_OK);
  buf_release(&sql);
  assert_int_equal(sql_int(db, "SELECT max(version) FROM schema_version"), 5);
  assert_int_equal(sql_int(db, "SELECT count(*) FROM audit"), 8);
  /* id 9: a second row for the session that counted one signature. */
  assert_int_equal(sqlite3_exec(db,
                                "INSERT INTO audit (upload_id, user_id, request_id, expire_time,"
                                " random, created_at) VALUES ('01a2258f6166bc3dff38aec85502bbed',"
                                " 'alice', 'extra-row', 1796012884, 77, 1795926484)",
                                NULL, NULL, NULL),
                   SQLITE_OK);
  sqlite3_close(db);

  struct store *s = NULL;
  int64_t v = 0, n = 0;
  assert_int_equal(store_open(path, NULL, &s), VG_OK);
  assert_int_equal(store_schema_version(s, &v), VG_OK);
  assert_int_equal(v, STORE_SCHEMA_VERSION);
  assert_int_equal(store_audit_count(s, a, &n), VG_OK);
  assert_int_equal(n, 4);
  assert_int_equal(store_audit_count(s, b, &n), VG_OK);
  assert_int_equal(n, 3);
  assert_int_equal(store_audit_count(s, c, &n), VG_OK);
  assert_int_equal(n, 2);
  struct store_session sess;
  assert_int_equal(store_session_get(s, a, &sess), VG_OK);
  assert_int_equal(sess.signatures_issued, 4); /* unchanged */
  store_session_release(&sess);
  assert_int_equal(store_session_get(s, b, &sess), VG_OK);
  assert_int_equal(sess.signatures_issued, 3);
  store_session_release(&sess);
  assert_int_equal(store_session_get(s, c, &sess), VG_OK);
  assert_int_equal(sess.signatures_issued, 2); /* raised from 1 to its rows */
  store_session_release(&sess);
  /* The next ordinals are free, the taken ones refused. */
  struct store_audit au = {a, "alice", "after-v6", 1, 2, 3, 5};
  assert_int_equal(store_audit_append(s, &au), VG_OK);
  au.n = 4;
  assert_int_equal(store_audit_append(s, &au), VG_CONFLICT);
  au.upload_id = c;
  au.n = 3;
  assert_int_equal(store_audit_append(s, &au), VG_OK);
  au.n = 2;
  assert_int_equal(store_audit_append(s, &au), VG_CONFLICT);
  store_close(s);

  assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
  assert_int_equal(sql_int(db, "SELECT count(*) FROM signatures"), 11);
  /* Schema 8: each session's first signature moved into its row. */
  assert_int_equal(sql_int(db, "SELECT count(*) FROM audit"), 8);
  assert_int_equal(sql_int(db, "SELECT count(*) FROM audit WHERE n = 1"), 0);
  assert_int_equal(sql_int(db, "SELECT count(*) FROM upload_session WHERE first_request_id ="
                               " 'aca0ff6c7cb4e82908e190bcdc7ee5e7' AND first_expire_time ="
                               " 1796012882 AND first_random = 2121126799"),
                   1);
  /* Every row of the fixture, all its columns, with n by id per session
   * (the view reads the first signatures from the sessions' rows). */
  assert_int_equal(
      sql_int(db,
              "SELECT count(*) FROM signatures AS audit JOIN (VALUES"
              " ('01a2258f5fdc9be9b55ac75cafbc8df2', 1, 'aca0ff6c7cb4e82908e190bcdc7ee5e7',"
              "  1796012882, 2121126799, 1795926482),"
              " ('01a2258f6087824ecc14680cf4469af9', 1, '5024fa4c9118fb827b0ccb91901420fe',"
              "  1796012883, 2957436767, 1795926483),"
              " ('01a2258f5fdc9be9b55ac75cafbc8df2', 2, '0bc4c92222e4c7418faa791b3889f8f9',"
              "  1796012883, 1943421446, 1795926483),"
              " ('01a2258f6166bc3dff38aec85502bbed', 1, '5df058f6a11efc8b922eedd5590e4d18',"
              "  1796012883, 2633482911, 1795926483),"
              " ('01a2258f6087824ecc14680cf4469af9', 2, '6717107ea4eef3128d131abc7dae9f58',"
              "  1796012883, 153258414, 1795926483),"
              " ('01a2258f5fdc9be9b55ac75cafbc8df2', 3, '28735a09f4f120ff70b8b4bacfdc9688',"
              "  1796012883, 4040316879, 1795926483),"
              " ('01a2258f6087824ecc14680cf4469af9', 3, '9f9555d1bf685ceaf85b3f72f230e757',"
              "  1796012883, 1026580842, 1795926483),"
              " ('01a2258f5fdc9be9b55ac75cafbc8df2', 4, 'b09aa48e52e9ea6c12ad100c3a771a78',"
              "  1796012883, 811550083, 1795926483),"
              " ('01a2258f6166bc3dff38aec85502bbed', 2, 'extra-row', 1796012884, 77, 1795926484)"
              ") v ON audit.upload_id = v.column1 AND audit.n = v.column2"
              " AND audit.request_id = v.column3 AND audit.expire_time = v.column4"
              " AND audit.random = v.column5 AND audit.created_at = v.column6"
              " AND audit.user_id = 'alice'"),
      9);
  assert_int_equal(sql_int(db,
                           "SELECT count(*) FROM sqlite_master WHERE name = 'audit' AND sql"
                           " LIKE '%WITHOUT ROWID%' AND sql LIKE '%PRIMARY KEY (upload_id, n)%'"),
                   1);
  /* One b-tree: no index of its own left, no leftover table. */
  assert_int_equal(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE tbl_name = 'audit'"
                               " AND type = 'index' AND name NOT LIKE 'sqlite_autoindex_%'"),
                   0);
  assert_int_equal(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE name LIKE '%_v6'"), 0);
  /* Schema 7: upload_session keeps no index besides its key. */
  assert_int_equal(sql_int(db, "SELECT count(*) FROM sqlite_master WHERE tbl_name ="
                               " 'upload_session' AND type = 'index'"),
                   0);
  /* No reference to upload_session any more (docs/store.md, schema 6). */
  assert_int_equal(sql_int(db, "SELECT count(*) FROM pragma_foreign_key_list('audit')"), 0);
  assert_int_equal(sql_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
  assert_int_equal(sql_int(db, "SELECT count(*) FROM pragma_integrity_check WHERE"
                               " integrity_check != 'ok'"),
                   0);
  sqlite3_close(db);
}

/* libpq, for the PostgreSQL upgrade test: a statement that must succeed,
 * and one that must return one integer. */
static void pg_must(PGconn *c, const char *sql)
{
  PGresult *r = PQexec(c, sql);
  ExecStatusType t = PQresultStatus(r);
  PQclear(r);
  if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK)
    fail_msg("%.80s: %s", sql, PQerrorMessage(c));
}

static void pg_text(PGconn *c, const char *sql, char *out, size_t outlen)
{
  PGresult *r = PQexec(c, sql);
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) != 1) {
    PQclear(r);
    fail_msg("%s: %s", sql, PQerrorMessage(c));
  }
  snprintf(out, outlen, "%s", PQgetvalue(r, 0, 0));
  PQclear(r);
}

/* PostgreSQL: a database written by vodgate at schema 5
 * (tests/data/store-pg-v5.sql: three sessions with 3, 2 and 1 signatures,
 * audit ids interleaved) plus one audit row its session did not count is
 * brought to schema 6: every row kept with n = 1..k per session in id
 * order, the count raised to the rows, (upload_id, n) unique, no foreign
 * key, no audit_upload index; then to schema 8: the n = 1 rows in their
 * sessions' rows, all read by the view. Runs in a database of its own on the test
 * server (store_pg); passes at once on the SQLite run. */
static void upgrades_pg_schema_5(void **state)
{
  const char *src = getenv("VODGATE_SRC");
  const char *a = "01a2259c659ebb340dcbc5975e40552a", *c = "01a2259c6751150276b33877eb845cbb";
  char fixture[4096], dburl[600], text[256];
  struct buf sql;

  if (strncmp(url, "postgres", 8) != 0)
    return; /* the SQLite run: upgrades_schema_5 (a cmocka skip reads as a failure in TAP) */
  /* The same server, database vg_upgrade_v5: the URL's path replaced. */
  const char *host = strstr(url, "://");
  assert_non_null(host);
  size_t end = strcspn(url, "?");
  const char *slash = strchr(host + 3, '/');
  size_t cut = slash && (size_t)(slash - url) < end ? (size_t)(slash - url) : end;
  snprintf(dburl, sizeof(dburl), "%.*s/vg_upgrade_v5%s", (int)cut, url, url + end);

  PGconn *pc = PQconnectdb(url);
  assert_int_equal(PQstatus(pc), CONNECTION_OK);
  pg_must(pc, "DROP DATABASE IF EXISTS vg_upgrade_v5 WITH (FORCE)");
  pg_must(pc, "CREATE DATABASE vg_upgrade_v5");
  PQfinish(pc);

  if (src)
    snprintf(fixture, sizeof(fixture), "%s/tests/data/store-pg-v5.sql", src);
  else
    snprintf(fixture, sizeof(fixture), "%.*sdata/store-pg-v5.sql",
             (int)(strlen(__FILE__) - strlen("unit/test_store.c")), __FILE__);
  buf_init(&sql, 1 << 20);
  assert_int_equal(read_file(fixture, &sql), VG_OK);
  pc = PQconnectdb(dburl);
  assert_int_equal(PQstatus(pc), CONNECTION_OK);
  pg_must(pc, sql.ptr);
  buf_release(&sql);
  pg_must(pc, "INSERT INTO public.audit (upload_id, user_id, request_id, expire_time, random,"
              " created_at) VALUES ('01a2259c6751150276b33877eb845cbb', 'alice', 'extra-row',"
              " 1796013737, 77, 1795927337)");
  pg_text(pc, "SELECT max(version) FROM public.schema_version", text, sizeof(text));
  assert_string_equal(text, "5");
  PQfinish(pc);

  struct store *s = NULL;
  int64_t v = 0, n = 0;
  assert_int_equal(store_open(dburl, NULL, &s), VG_OK);
  assert_int_equal(store_schema_version(s, &v), VG_OK);
  assert_int_equal(v, STORE_SCHEMA_VERSION);
  assert_int_equal(store_audit_count(s, a, &n), VG_OK);
  assert_int_equal(n, 3);
  assert_int_equal(store_audit_count(s, c, &n), VG_OK);
  assert_int_equal(n, 2);
  struct store_session sess;
  assert_int_equal(store_session_get(s, c, &sess), VG_OK);
  assert_int_equal(sess.signatures_issued, 2); /* raised from 1 to its rows */
  store_session_release(&sess);
  struct store_audit au = {a, "alice", "after-v6", 1, 2, 3, 4};
  assert_int_equal(store_audit_append(s, &au), VG_OK);
  au.n = 3; /* taken (its id from the sequence is spent all the same) */
  assert_int_equal(store_audit_append(s, &au), VG_CONFLICT);
  store_close(s);

  pc = PQconnectdb(dburl);
  assert_int_equal(PQstatus(pc), CONNECTION_OK);
  pg_text(pc, "SELECT string_agg(id || ':' || n, ',' ORDER BY id) FROM public.audit", text,
          sizeof(text));
  /* Schema 8: the n = 1 rows (ids 1, 2, 4) moved into their sessions'
   * rows; the view `signatures` reads all of them. */
  assert_string_equal(text, "3:2,5:2,6:3,7:2,8:4");
  pg_text(pc,
          "SELECT string_agg(upload_id || ':' || n, ',' ORDER BY upload_id, n) FROM"
          " public.signatures WHERE n = 1",
          text, sizeof(text));
  assert_string_equal(text, "01a2259c659ebb340dcbc5975e40552a:1,01a2259c6665605e0cd671c2c390e606:1,"
                            "01a2259c6751150276b33877eb845cbb:1");
  pg_text(pc, "SELECT count(*) FROM public.signatures", text, sizeof(text));
  assert_string_equal(text, "8");
  pg_text(pc,
          "SELECT count(*) FROM public.signatures WHERE request_id IN"
          " ('159174b27e3a39b36a0562e0e7cf3632', '111deac43656af84b5054a74b0d12f51',"
          " '8f1ab597799364764529fc5a660e1dea', '6014a92a21ae51fe191a1b359a8d5c18',"
          " 'cf715a76166f37ae77432f239d31a381', '6bade595eb2310d6a70777575c574a89')"
          " AND user_id = 'alice' AND expire_time = 1796013736 AND created_at = 1795927336",
          text, sizeof(text));
  assert_string_equal(text, "6");
  pg_text(
      pc,
      "SELECT string_agg(contype::text || ':' || conname, ',' ORDER BY conname) FROM pg_constraint"
      " WHERE conrelid = 'public.audit'::regclass",
      text, sizeof(text));
  assert_string_equal(text, "c:audit_n_check,p:audit_pkey,u:audit_upload_n");
  pg_text(pc, "SELECT count(*) FROM pg_indexes WHERE indexname = 'audit_upload'", text,
          sizeof(text));
  assert_string_equal(text, "0");
  pg_text(pc, "SELECT count(*) FROM pg_indexes WHERE indexname = 'upload_session_user'", text,
          sizeof(text));
  assert_string_equal(text, "0"); /* schema 7 */
  PQfinish(pc);

  pc = PQconnectdb(url);
  assert_int_equal(PQstatus(pc), CONNECTION_OK);
  pg_must(pc, "DROP DATABASE vg_upgrade_v5 WITH (FORCE)");
  PQfinish(pc);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(schema_is_current),
      cmocka_unit_test(backend_matches_url),
      cmocka_unit_test(open_rejects_bad_urls),
      cmocka_unit_test(sqlite_creates_parent_dirs),
      cmocka_unit_test(session_roundtrip),
      cmocka_unit_test(session_rejects_bad_input),
      cmocka_unit_test(session_signature_limit),
      cmocka_unit_test(audit_rows),
      cmocka_unit_test(audit_ordinal_is_unique),
      cmocka_unit_test(tokens),
      cmocka_unit_test(quota_basic),
      cmocka_unit_test(quota_add_adds_n),
      cmocka_unit_test(quota_under_concurrency),
      cmocka_unit_test(session_limit_under_concurrency),
      cmocka_unit_test(acknowledged_writes_survive_reopen),
      cmocka_unit_test(transaction_is_all_or_nothing),
      cmocka_unit_test(events_are_idempotent),
      cmocka_unit_test(event_bounds),
      cmocka_unit_test(quarantine_is_bounded),
      cmocka_unit_test(ledger_listing),
      cmocka_unit_test(event_listing),
      cmocka_unit_test(outbox_worker),
      cmocka_unit_test(outbox_listing),
      cmocka_unit_test(outbox_retry),
      cmocka_unit_test(quarantine_listing),
      cmocka_unit_test(leases),
      cmocka_unit_test(submit_acknowledges_each_write),
      cmocka_unit_test(acknowledged_writes_survive_sigkill),
      cmocka_unit_test(refuses_newer_schema),
      cmocka_unit_test(upgrades_schema_3),
      cmocka_unit_test(upgrades_schema_5),
      cmocka_unit_test(upgrades_pg_schema_5),
      cmocka_unit_test(wal_stays_bounded),
      cmocka_unit_test(retention_prunes_oldest),
      cmocka_unit_test(retention_concurrent_sweeps),
  };
  return cmocka_run_group_tests_name("store", tests, suite_setup, suite_teardown);
}
