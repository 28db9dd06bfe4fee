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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static void audit_rows(void **state)
{
  struct store_session s = mk_session("sess-audit", "user-3");
  assert_int_equal(store_session_create(st, &s), VG_OK);
  struct store_audit a = {"sess-audit", "user-3", "req-1", 2000, 4294967295u, 1001};
  assert_int_equal(store_audit_append(st, &a), VG_OK);
  a.request_id = "req-2";
  assert_int_equal(store_audit_append(st, &a), VG_OK);
  int64_t n;
  assert_int_equal(store_audit_count(st, "sess-audit", &n), VG_OK);
  assert_int_equal(n, 2);
  a.upload_id = "sess-missing"; /* every signature belongs to a session */
  assert_int_equal(store_audit_append(st, &a), VG_INVALID);
  a.upload_id = "sess-audit";
  a.request_id = "";
  assert_int_equal(store_audit_append(st, &a), VG_INVALID);
  assert_int_equal(store_audit_count(st, "sess-audit", &n), VG_OK);
  assert_int_equal(n, 2);
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
      struct store_audit a = {"sess-race", "race-user", req, 1, (uint32_t)i, 1};
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

/* Opens a session, consumes quota and writes the first audit row as one
 * unit, then fails if asked to: the signature service's first call. */
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
  s.signatures_issued = 1;
  rc = store_tx_session_create(tx, &s);
  if (rc != VG_OK)
    return rc;
  struct store_session g;
  rc = store_tx_session_get(tx, a->upload_id, &g); /* sees its own write */
  if (rc != VG_OK)
    return rc;
  store_session_release(&g);
  struct store_audit au = {a->upload_id, "tx-user", "req-tx", 5, 6, 7};
  rc = store_tx_audit_append(tx, &au);
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
  assert_int_equal(n, 1);

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
      cmocka_unit_test(tokens),
      cmocka_unit_test(quota_basic),
      cmocka_unit_test(quota_under_concurrency),
      cmocka_unit_test(session_limit_under_concurrency),
      cmocka_unit_test(acknowledged_writes_survive_reopen),
      cmocka_unit_test(transaction_is_all_or_nothing),
      cmocka_unit_test(events_are_idempotent),
      cmocka_unit_test(quarantine_is_bounded),
  };
  return cmocka_run_group_tests_name("store", tests, suite_setup, suite_teardown);
}
