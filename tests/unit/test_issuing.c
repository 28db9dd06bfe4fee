/*
 * The signature service's write-behind state (svc/issuing.c) under
 * concurrency, over a real SQLite store in a fresh temporary directory.
 *
 * Several threads ("actors") issue a seeded random mix of operations
 * (issuing_open, issuing_next, issuing_session_get) and each keeps a model
 * of what it was told: which sessions it opened, each one's count, the
 * ordinal of every signature it was given, the quota units of its own
 * users. Every answer is compared with the model at once (each actor's
 * users and sessions are its own, so the answer is exact); the shared
 * parts (one quota pool, sessions every thread hammers) are checked by
 * their totals. After issuing_free the database file is read with sqlite3
 * and must hold exactly what was acknowledged: each session's count, audit
 * rows numbered 1..k carrying the acknowledged requests, quota units; a
 * refused operation left nothing.
 *
 * More sessions than ISSUING_MAX_CACHED are opened and old ones revisited,
 * so sessions are evicted and read back from the store; quota entries over
 * many days make the quota table sweep. Store failures are real: triggers
 * installed on the database through a second connection make the writer's
 * statements fail while the threads keep issuing.
 *
 * The worker threads never call cmocka (its asserts are not thread-safe):
 * a mismatch is written to the actor's err (with the seed) and the main
 * thread fails with it. VG_ISSUING_SEED=n replays a seed (the interleaving
 * of the threads is not replayed, the choices of each one are).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/limits.h"
#include "core/util.h"
#include "store/store.h"
#include "svc/issuing.h"

#define NOW ((int64_t)1700000000)
#define D0  ((int64_t)19000)
/* Sessions are created before NOW: some expire around it (the store
 * refuses a session that expires before it was created). */
#define CREATED (NOW - 100)

/* Users of a session (struct msess.user): 0..NUSERS-1 are the actor's own
 * "u<actor>-<k>"; the others are shared by name. */
#define NUSERS    4
#define U_POOL    4    /* "pool": one daily quota every thread spends */
#define U_SHARED  5    /* "shared": the hammered sessions (main actor) */
#define U_BULK    6    /* "bulk": the main actor's backlog (store_failures) */
#define LIM_DAYS  3    /* days of the limited users (k = 0, 1): CONFLICT happens */
#define FREE_DAYS 1500 /* days of the unlimited ones (k = 2, 3): thousands of quota entries */
#define NSHARED   2
#define POOL_Q    150
#define MAX_ACT   9

static const int64_t user_limit[NUSERS] = {6, 20, 0, 0};
static const int64_t shared_limit[NSHARED] = {40, 97};
static const int64_t sess_limits[] = {0, 1, 2, 3, 5, 8};

enum { S_NONE, S_OPEN, S_REFUSED };

struct msess {
  int user;
  int state;
  int64_t day, expires_at, limit;
  int64_t count; /* signatures acknowledged (the open is the first) */
};

/* One signature request, by its sequence number in the actor (its
 * request_id is "r<actor>-<seq>"): the session it was for and the ordinal
 * it got (0: refused; -1: acknowledged, ordinal unknown (shared session)). */
struct opl {
  int32_t owner, idx, n;
};

struct actor {
  int a;
  uint64_t rng;
  struct msess *s;
  size_t ns, caps;
  struct opl *op;
  uint32_t nop, capop;
  int32_t quota[NUSERS][FREE_DAYS];
  int64_t shared_acks[NSHARED];
  bool shared_full[NSHARED];
  int64_t pool_acks;
  bool pool_full;
  uint64_t acks, conflicts, notfound, again, gets;
  char err[600];
};

enum wmode {
  W_STRICT,    /* VG_AGAIN is an error (pending cannot reach ISSUING_MAX_PENDING) */
  W_AGAIN_OK,  /* VG_AGAIN is a refusal (the store just recovered) */
  W_ALL_AGAIN, /* every signature must be refused with VG_AGAIN */
};

static struct {
  char dir[128], path[200], url[220];
  struct store *st;
  struct issuing *is;
  int nw; /* workers are actors 0..nw-1, the main thread is actor nw */
  struct actor *act;
  uint64_t seed;
  enum wmode mode;
  uint32_t budget;
  uint64_t ack_cap; /* workers stop once this many signatures were acknowledged (0: no cap) */
  long pause_us;    /* between operations: more flushes fail while failures are on */
  int revisit_pct;  /* next/get on a uniformly chosen own session, else a recent one */
  atomic_bool stop;
  atomic_ullong acks;
  atomic_int finished;
  bool running; /* workers started, not joined */
  sqlite3 *ctl; /* store_failures' second connection */
  pthread_t th[MAX_ACT];
} R;

/* ---- small things ---- */

static uint64_t splitmix(uint64_t *x)
{
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static uint32_t rnd(struct actor *ac, uint32_t n)
{
  return (uint32_t)(splitmix(&ac->rng) % n);
}

static void sess_id(char *out, size_t cap, int owner, size_t idx)
{
  snprintf(out, cap, "s%d-%zu", owner, idx);
}

static void user_name(char *out, size_t cap, int a, int user)
{
  if (user < NUSERS)
    snprintf(out, cap, "u%d-%d", a, user);
  else
    snprintf(out, cap, "%s", user == U_POOL ? "pool" : user == U_SHARED ? "shared" : "bulk");
}

static int64_t exp_of(int a, uint32_t seq)
{
  return NOW + 3600 + a * 1000000 + seq;
}

static uint32_t random_of(int a, uint32_t seq)
{
  return (uint32_t)a * 2654435761u ^ seq * 40503u;
}

/* "<tag><x>-<y>" */
static bool parse_pair(const char *s, char tag, uint64_t *x, uint64_t *y)
{
  const char *dash;
  if (!s || s[0] != tag || !(dash = strchr(s + 1, '-')))
    return false;
  return parse_u64(s + 1, (size_t)(dash - s - 1), x) == 0 && parse_u64z(dash + 1, y) == 0;
}

static void actor_fail(struct actor *ac, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void actor_fail(struct actor *ac, const char *fmt, ...)
{
  va_list ap;
  int n;
  if (ac->err[0])
    return;
  n = snprintf(ac->err, sizeof(ac->err), "seed %llu actor %d: ", (unsigned long long)R.seed, ac->a);
  va_start(ap, fmt);
  vsnprintf(ac->err + n, sizeof(ac->err) - (size_t)n, fmt, ap);
  va_end(ap);
  atomic_store(&R.stop, true);
}

#define CHECK(ac, cond, ...)                                                                       \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      actor_fail((ac), __VA_ARGS__);                                                               \
      return false;                                                                                \
    }                                                                                              \
  } while (0)

static size_t sess_new(struct actor *ac)
{
  if (ac->ns == ac->caps) {
    ac->caps = ac->caps ? ac->caps * 2 : 256;
    ac->s = xrealloc(ac->s, ac->caps * sizeof(*ac->s));
  }
  memset(&ac->s[ac->ns], 0, sizeof(ac->s[0]));
  return ac->ns++;
}

static uint32_t op_new(struct actor *ac, int owner, size_t idx)
{
  if (ac->nop == ac->capop) {
    ac->capop = ac->capop ? ac->capop * 2 : 1024;
    ac->op = xrealloc(ac->op, ac->capop * sizeof(*ac->op));
  }
  ac->op[ac->nop] = (struct opl){owner, (int32_t)idx, 0};
  return ac->nop++;
}

static const char *rc_name(int rc)
{
  switch (rc) {
  case VG_OK: return "OK";
  case VG_NOTFOUND: return "NOTFOUND";
  case VG_CONFLICT: return "CONFLICT";
  case VG_AGAIN: return "AGAIN";
  case VG_INVALID: return "INVALID";
  case VG_IO: return "IO";
  default: return "other";
  }
}

static void ack(struct actor *ac)
{
  ac->acks++;
  atomic_fetch_add(&R.acks, 1);
}

/* A refusal that the mode allows instead of the model's answer. */
static bool again_ok(int rc)
{
  return rc == VG_AGAIN && R.mode == W_AGAIN_OK;
}

/* ---- operations: each checks the answer against the model ---- */

/* Opens a session for user on day; the answer is exact except for the
 * pool (shared with the other threads): OK or CONFLICT, and CONFLICT for
 * good once seen. Returns false on a mismatch; *rc_out gets the answer. */
static bool do_open(struct actor *ac, int user, int64_t day, int64_t limit, int64_t expires,
                    int *rc_out)
{
  size_t idx = sess_new(ac);
  struct msess *m = &ac->s[idx];
  struct store_session s = {.created_at = CREATED, .expires_at = expires, .signatures_issued = 1};
  char rid[40], params[64];
  int64_t qlimit = user < NUSERS ? user_limit[user] : user == U_POOL ? POOL_Q : 0;
  uint32_t seq = op_new(ac, ac->a, idx);
  int rc, want;

  m->user = user;
  m->day = day;
  m->limit = limit;
  m->expires_at = expires;
  sess_id(s.upload_id, sizeof(s.upload_id), ac->a, idx);
  user_name(s.user_id, sizeof(s.user_id), ac->a, user);
  snprintf(s.policy, sizeof(s.policy), "p%d", user);
  snprintf(params, sizeof(params), "{\"a\":%d,\"i\":%zu}", ac->a, idx);
  s.params_json = params;
  snprintf(rid, sizeof(rid), "r%d-%u", ac->a, seq);
  struct store_audit au = {s.upload_id,           s.user_id, rid, exp_of(ac->a, seq),
                           random_of(ac->a, seq), CREATED,   0};

  rc = issuing_open(R.is, &s, day, qlimit, &au);
  *rc_out = rc;
  if (R.mode == W_ALL_AGAIN)
    want = VG_AGAIN;
  else if (user < NUSERS)
    want = qlimit && ac->quota[user][day - D0] >= qlimit ? VG_CONFLICT : VG_OK;
  else if (user == U_POOL)
    want = ac->pool_full || rc == VG_CONFLICT ? VG_CONFLICT : VG_OK;
  else
    want = VG_OK;
  CHECK(ac, rc == want || again_ok(rc), "open %s (user %s day %lld): %s, expected %s", s.upload_id,
        s.user_id, (long long)day, rc_name(rc), rc_name(want));
  if (rc != VG_OK) {
    m->state = S_REFUSED;
    ac->conflicts += rc == VG_CONFLICT;
    ac->again += rc == VG_AGAIN;
    if (user == U_POOL && rc == VG_CONFLICT)
      ac->pool_full = true;
    return true;
  }
  m->state = S_OPEN;
  m->count = 1;
  ac->op[seq].n = 1;
  if (user < NUSERS)
    ac->quota[user][day - D0]++;
  else if (user == U_POOL)
    ac->pool_acks++;
  ack(ac);
  return true;
}

/* The next signature of the actor's own session idx: exact. wrong_user
 * asks as another user (must be NOTFOUND). */
static bool do_next_own(struct actor *ac, size_t idx, bool wrong_user, int *rc_out)
{
  struct msess *m = &ac->s[idx];
  char id[40], user[40], rid[40];
  int64_t now = NOW + rnd(ac, 11);
  uint32_t seq = op_new(ac, ac->a, idx);
  int rc, want;

  sess_id(id, sizeof(id), ac->a, idx);
  user_name(user, sizeof(user), ac->a,
            wrong_user ? (m->user < NUSERS ? (m->user + 1) % NUSERS : 0) : m->user);
  snprintf(rid, sizeof(rid), "r%d-%u", ac->a, seq);
  struct store_audit au = {id, user, rid, exp_of(ac->a, seq), random_of(ac->a, seq), NOW, 0};

  rc = issuing_next(R.is, id, user, now, m->limit, &au);
  *rc_out = rc;
  if (R.mode == W_ALL_AGAIN)
    want = VG_AGAIN;
  else if (m->state != S_OPEN || wrong_user || m->expires_at <= now)
    want = VG_NOTFOUND;
  else if (m->limit && m->count >= m->limit)
    want = VG_CONFLICT;
  else
    want = VG_OK;
  CHECK(ac, rc == want || again_ok(rc),
        "next %s as %s (count %lld limit %lld expires %lld now %lld): %s, expected %s", id, user,
        (long long)m->count, (long long)m->limit, (long long)m->expires_at, (long long)now,
        rc_name(rc), rc_name(want));
  ac->conflicts += rc == VG_CONFLICT;
  ac->notfound += rc == VG_NOTFOUND;
  ac->again += rc == VG_AGAIN;
  if (rc == VG_OK) {
    m->count++;
    ac->op[seq].n = (int32_t)m->count;
    ack(ac);
  }
  return true;
}

/* A signature on another actor's session (or one that does not exist),
 * asked as one of our users: NOTFOUND, whatever that session is. */
static bool do_next_other(struct actor *ac)
{
  int o = (int)rnd(ac, (uint32_t)R.nw + 1);
  char id[40], user[40], rid[40];
  uint32_t seq;
  int rc;

  if (o == ac->a)
    o = (o + 1) % (R.nw + 1);
  sess_id(id, sizeof(id), o, rnd(ac, 3000));
  user_name(user, sizeof(user), ac->a, (int)rnd(ac, NUSERS));
  seq = op_new(ac, -1, 0);
  snprintf(rid, sizeof(rid), "r%d-%u", ac->a, seq);
  struct store_audit au = {id, user, rid, exp_of(ac->a, seq), random_of(ac->a, seq), NOW, 0};
  rc = issuing_next(R.is, id, user, NOW, 0, &au);
  CHECK(ac, rc == (R.mode == W_ALL_AGAIN ? VG_AGAIN : VG_NOTFOUND) || again_ok(rc),
        "next on someone else's %s as %s: %s", id, user, rc_name(rc));
  ac->notfound += rc == VG_NOTFOUND;
  return true;
}

/* A session of the main actor every thread hammers: OK until its limit,
 * then CONFLICT for good; the totals are checked after the join. */
static bool do_next_shared(struct actor *ac, int j)
{
  struct actor *mn = &R.act[R.nw];
  char id[40], rid[40];
  uint32_t seq = op_new(ac, R.nw, (size_t)j);
  int rc, want;

  sess_id(id, sizeof(id), R.nw, (size_t)j);
  snprintf(rid, sizeof(rid), "r%d-%u", ac->a, seq);
  struct store_audit au = {id, "shared", rid, exp_of(ac->a, seq), random_of(ac->a, seq), NOW, 0};
  rc = issuing_next(R.is, id, "shared", NOW, mn->s[j].limit, &au);
  if (R.mode == W_ALL_AGAIN)
    want = VG_AGAIN;
  else if (ac->shared_full[j] || rc == VG_CONFLICT)
    want = VG_CONFLICT;
  else
    want = VG_OK;
  CHECK(ac, rc == want || again_ok(rc), "next on shared %s: %s, expected %s", id, rc_name(rc),
        rc_name(want));
  if (rc == VG_CONFLICT)
    ac->shared_full[j] = true;
  if (rc == VG_OK) {
    ac->op[seq].n = -1;
    ac->shared_acks[j]++;
    ack(ac);
  }
  return true;
}

/* The session as issuing knows it: exact for our own. */
static bool do_get_own(struct actor *ac, size_t idx)
{
  struct msess *m = &ac->s[idx];
  struct store_session g;
  char id[40], user[40], params[64];
  int rc;

  sess_id(id, sizeof(id), ac->a, idx);
  rc = issuing_session_get(R.is, id, &g);
  ac->gets++;
  if (m->state != S_OPEN) {
    store_session_release(&g);
    CHECK(ac, rc == VG_NOTFOUND, "get of refused %s: %s", id, rc_name(rc));
    return true;
  }
  CHECK(ac, rc == VG_OK, "get %s: %s", id, rc_name(rc));
  user_name(user, sizeof(user), ac->a, m->user);
  snprintf(params, sizeof(params), "{\"a\":%d,\"i\":%zu}", ac->a, idx);
  bool same = !strcmp(g.upload_id, id) && !strcmp(g.user_id, user) &&
              g.expires_at == m->expires_at && g.created_at == CREATED &&
              g.signatures_issued == m->count && g.params_json && !strcmp(g.params_json, params);
  int64_t got = g.signatures_issued;
  store_session_release(&g);
  CHECK(ac, same, "get %s: count %lld (model %lld) or another field differs", id, (long long)got,
        (long long)m->count);
  return true;
}

static bool do_get_other(struct actor *ac)
{
  int o = (int)rnd(ac, (uint32_t)R.nw);
  char id[40], pfx[16];
  struct store_session g;
  int rc;

  sess_id(id, sizeof(id), o, rnd(ac, 3000));
  rc = issuing_session_get(R.is, id, &g);
  snprintf(pfx, sizeof(pfx), "u%d-", o);
  bool ok =
      rc == VG_NOTFOUND || (rc == VG_OK && !strcmp(g.upload_id, id) && g.signatures_issued >= 1 &&
                            (!strncmp(g.user_id, pfx, strlen(pfx)) || !strcmp(g.user_id, "pool")));
  store_session_release(&g);
  CHECK(ac, ok, "get of another's %s: %s or a wrong row", id, rc_name(rc));
  return true;
}

/* An own session: mostly a recent one (several signatures each), else any
 * (old ones were evicted: read back from the store). */
static size_t pick_own(struct actor *ac)
{
  if ((int)rnd(ac, 100) < R.revisit_pct)
    return rnd(ac, (uint32_t)ac->ns);
  return ac->ns - 1 - rnd(ac, ac->ns < 16 ? (uint32_t)ac->ns : 16);
}

static bool worker_op(struct actor *ac)
{
  uint32_t r = rnd(ac, 100);
  int rc;

  if (r < 25 || ac->ns == 0) {
    uint32_t u = rnd(ac, 100);
    int user = u < 12 ? 0 : u < 24 ? 1 : u < 30 ? U_POOL : u < 65 ? 2 : 3;
    int64_t day = user == U_POOL ? D0 : D0 + rnd(ac, user < 2 ? LIM_DAYS : FREE_DAYS);
    int64_t expires = rnd(ac, 100) < 85 ? NOW + 3600 : NOW - 5 + rnd(ac, 16);
    return do_open(ac, user, day, sess_limits[rnd(ac, 6)], expires, &rc);
  }
  if (r < 72)
    return do_next_own(ac, pick_own(ac), false, &rc);
  if (r < 76)
    return do_next_own(ac, pick_own(ac), true, &rc);
  if (r < 81)
    return do_next_other(ac);
  if (r < 90)
    return do_get_own(ac, pick_own(ac));
  if (r < 93)
    return do_get_other(ac);
  return do_next_shared(ac, (int)rnd(ac, NSHARED));
}

static void *worker_main(void *arg)
{
  struct actor *ac = arg;
  for (uint32_t i = 0;
       i < R.budget && !atomic_load(&R.stop) && (!R.ack_cap || atomic_load(&R.acks) < R.ack_cap);
       i++) {
    if (!worker_op(ac))
      break;
    if (R.pause_us) {
      struct timespec ts = {0, R.pause_us * 1000L};
      nanosleep(&ts, NULL);
    }
  }
  atomic_fetch_add(&R.finished, 1);
  return NULL;
}

static void workers_start(uint32_t budget)
{
  R.budget = budget;
  atomic_store(&R.stop, false);
  atomic_store(&R.finished, 0);
  for (int i = 0; i < R.nw; i++)
    assert_int_equal(pthread_create(&R.th[i], NULL, worker_main, &R.act[i]), 0);
  R.running = true;
}

static void workers_join(void)
{
  for (int i = 0; i < R.nw; i++)
    pthread_join(R.th[i], NULL);
  R.running = false;
  for (int i = 0; i <= R.nw; i++)
    if (R.act[i].err[0])
      fail_msg("%s", R.act[i].err);
}

/* ---- the main thread's view ---- */

static void sleep_ms(long ms)
{
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static uint64_t metric(const char *name)
{
  struct buf b;
  char key[96];
  const char *p;
  uint64_t v = 0;
  size_t n;

  buf_init(&b, 8192);
  assert_int_equal(issuing_metrics_render(R.is, &b), VG_OK);
  assert_int_equal(buf_appendc(&b, '\0'), VG_OK);
  n = (size_t)snprintf(key, sizeof(key), "\n%s ", name);
  p = strstr(b.ptr, key);
  assert_non_null(p);
  p += n;
  assert_int_equal(parse_u64(p, strcspn(p, "\n"), &v), 0);
  buf_release(&b);
  return v;
}

static uint64_t pending(void)
{
  return metric("vodgate_signature_records_pending");
}

/* Waits (bounded) until every record is committed: then every entry is
 * clean. */
static void quiesce(void)
{
  for (int i = 0; i < 30000; i++) {
    issuing_flush_now(R.is);
    if (pending() == 0)
      return;
    sleep_ms(1);
  }
  fail_msg("seed %llu: records still pending after 30 s", (unsigned long long)R.seed);
}

static int noop_tx(struct store_tx *tx, void *arg)
{
  return VG_OK;
}

/* Returns once every transaction queued on the store's FIFO writer before
 * this call has run and reported (their done callbacks too). */
static void settle(void)
{
  assert_int_equal(store_run(R.st, noop_tx, NULL), VG_OK);
}

static void rm_tree(void);
static void run_teardown(void);

static void run_setup(int nw, int flush_ms, uint64_t test_no)
{
  const char *env = getenv("VG_ISSUING_SEED");
  uint64_t seed;

  run_teardown();
  memset(&R, 0, sizeof(R));
  if (!env || parse_u64z(env, &seed) != 0)
    seed = (uint64_t)time(NULL) * 1000003u ^ (uint64_t)getpid();
  R.seed = seed + test_no;
  printf("# seed %llu (VG_ISSUING_SEED=%llu replays it), %d threads, flush_ms %d\n",
         (unsigned long long)R.seed, (unsigned long long)seed, nw, flush_ms);
  snprintf(R.dir, sizeof(R.dir), "/tmp/vg-issuing-XXXXXX");
  assert_non_null(mkdtemp(R.dir));
  snprintf(R.path, sizeof(R.path), "%s/x.db", R.dir);
  snprintf(R.url, sizeof(R.url), "sqlite:%s", R.path);
  assert_int_equal(store_open(R.url, NULL, &R.st), VG_OK);
  R.is = issuing_new(R.st, flush_ms);
  R.nw = nw;
  R.act = xcalloc((size_t)nw + 1, sizeof(*R.act));
  for (int i = 0; i <= nw; i++) {
    uint64_t x = R.seed ^ ((uint64_t)(i + 1) << 40);
    R.act[i].a = i;
    R.act[i].rng = splitmix(&x);
  }
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  return remove(path);
}

static void rm_tree(void)
{
  nftw(R.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Idempotent: also the cmocka teardown, after a failure left anything
 * running or open. */
static void run_teardown(void)
{
  if (R.running) {
    atomic_store(&R.stop, true);
    for (int i = 0; i < R.nw; i++)
      pthread_join(R.th[i], NULL);
    R.running = false;
  }
  issuing_free(R.is);
  R.is = NULL;
  sqlite3_close(R.ctl);
  R.ctl = NULL;
  store_close(R.st);
  R.st = NULL;
  if (R.dir[0])
    rm_tree();
  R.dir[0] = '\0';
  for (int i = 0; R.act && i <= R.nw; i++) {
    free(R.act[i].s);
    free(R.act[i].op);
  }
  free(R.act);
  R.act = NULL;
}

static void verify_db(void);

/* The end of a run: the failure switch closed, the state freed (which
 * commits every record it still holds), the database checked against what
 * was acknowledged, everything removed. */
static void finish(void)
{
  sqlite3_close(R.ctl);
  R.ctl = NULL;
  issuing_free(R.is);
  R.is = NULL;
  verify_db();
  run_teardown();
}

static int cleanup(void **state)
{
  run_teardown();
  return 0;
}

/* The main actor opens the hammered sessions (its sessions 0..NSHARED-1). */
static void open_shared(void)
{
  struct actor *mn = &R.act[R.nw];
  int rc;
  for (int j = 0; j < NSHARED; j++) {
    assert_true(do_open(mn, U_SHARED, D0, shared_limit[j], NOW + 86400, &rc));
    assert_int_equal(rc, VG_OK);
  }
}

/* ---- the database afterwards ---- */

static int busy_spin(void *arg, int n)
{
  struct timespec ts = {0, 20000};
  if (n > 1000000) /* 20 s */
    return 0;
  nanosleep(&ts, NULL);
  return 1;
}

static sqlite3 *db_open(bool rw)
{
  sqlite3 *db = NULL;
  assert_int_equal(
      sqlite3_open_v2(R.path, &db, rw ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY, NULL),
      SQLITE_OK);
  if (rw) /* catch the writer's short gaps between commits: no backoff */
    sqlite3_busy_handler(db, busy_spin, NULL);
  else
    sqlite3_busy_timeout(db, 60000);
  return db;
}

static void db_exec(sqlite3 *db, const char *sql)
{
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK)
    fail_msg("%s: %s", sql, msg ? msg : sqlite3_errstr(rc));
}

static int64_t db_int(sqlite3 *db, const char *sql)
{
  sqlite3_stmt *st = NULL;
  int64_t v;
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_step(st), SQLITE_ROW);
  v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

/* The model session of an upload id, or NULL. */
static struct msess *model_sess(const char *id, int *owner, size_t *idx)
{
  uint64_t o, i;
  if (!parse_pair(id, 's', &o, &i) || o > (uint64_t)R.nw || i >= R.act[o].ns)
    return NULL;
  *owner = (int)o;
  *idx = (size_t)i;
  return &R.act[o].s[i];
}

static void fail_db(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail_db(const char *fmt, ...)
{
  char msg[600];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  fail_msg("seed %llu: database: %s", (unsigned long long)R.seed, msg);
}

/* The model's count of the main actor's hammered session j. */
static int64_t shared_count(int j)
{
  int64_t k = 1;
  for (int i = 0; i < R.nw; i++)
    k += R.act[i].shared_acks[j];
  return k;
}

/*
 * The database holds exactly what was acknowledged:
 * - a session row for each acknowledged open, none for a refused one, with
 *   the acknowledged count (hammered sessions: exactly their limit);
 * - signature records of each session (the view `signatures`: the first
 *   in the session's row, the others audit rows) numbered 1..count, one per
 *   acknowledged signature (its request id, user, expire_time, random), an
 *   own session's record n being the request that was told n;
 * - quota units per (user, day) = acknowledged opens, never over a limit.
 */
static void verify_db(void)
{
  sqlite3 *db = db_open(false);
  sqlite3_stmt *st = NULL;
  uint64_t sessions = 0, rows = 0, acked = 0, qrows = 0, qwant = 0;
  int64_t pool = 0, shared_opens = 0, bulk_opens = 0;
  uint8_t **seen = xcalloc((size_t)R.nw + 1, sizeof(*seen));
  char user[40];

  /* the model's own totals */
  for (int a = 0; a <= R.nw; a++) {
    struct actor *ac = &R.act[a];
    seen[a] = xcalloc(ac->nop ? ac->nop : 1, 1);
    for (uint32_t q = 0; q < ac->nop; q++)
      acked += ac->op[q].n != 0;
    for (size_t i = 0; i < ac->ns; i++) {
      sessions += ac->s[i].state == S_OPEN;
      shared_opens += ac->s[i].state == S_OPEN && ac->s[i].user == U_SHARED;
      bulk_opens += ac->s[i].state == S_OPEN && ac->s[i].user == U_BULK;
    }
    for (int k = 0; k < NUSERS; k++)
      for (int d = 0; d < FREE_DAYS; d++)
        qwant += ac->quota[k][d] > 0;
    pool += ac->pool_acks;
  }
  qwant += (pool > 0) + (shared_opens > 0) + (bulk_opens > 0);
  for (int j = 0; j < NSHARED && shared_opens; j++)
    R.act[R.nw].s[j].count = shared_count(j);

  /* sessions */
  assert_int_equal(db_int(db, "SELECT count(*) FROM upload_session"), sessions);
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT upload_id, user_id, signatures_issued, expires_at"
                                      " FROM upload_session",
                                      -1, &st, NULL),
                   SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(st, 0);
    int owner = -1;
    size_t idx;
    struct msess *m = model_sess(id, &owner, &idx);
    if (!m || m->state != S_OPEN)
      fail_db("session %s was never acknowledged", id);
    user_name(user, sizeof(user), owner, m->user);
    if (strcmp((const char *)sqlite3_column_text(st, 1), user) ||
        sqlite3_column_int64(st, 3) != m->expires_at)
      fail_db("session %s: another user or expiry", id);
    if (sqlite3_column_int64(st, 2) != m->count)
      fail_db("session %s: signatures_issued %lld, acknowledged %lld", id,
              (long long)sqlite3_column_int64(st, 2), (long long)m->count);
  }
  sqlite3_finalize(st);

  /* signature records: 1..count per session (n = 1 is the session's row,
   * audit's key is (upload_id, n): no duplicate ordinal can exist, so
   * count, min and max say it all) */
  assert_int_equal(db_int(db, "SELECT count(DISTINCT upload_id) FROM signatures"), sessions);
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT upload_id, count(*), min(n), max(n) FROM signatures"
                                      " GROUP BY upload_id",
                                      -1, &st, NULL),
                   SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(st, 0);
    int owner = -1;
    size_t idx;
    struct msess *m = model_sess(id, &owner, &idx);
    if (!m || m->state != S_OPEN)
      fail_db("audit rows of %s, never acknowledged", id);
    if (sqlite3_column_int64(st, 1) != m->count || sqlite3_column_int64(st, 2) != 1 ||
        sqlite3_column_int64(st, 3) != m->count)
      fail_db("audit of %s: %lld rows n %lld..%lld, acknowledged %lld", id,
              (long long)sqlite3_column_int64(st, 1), (long long)sqlite3_column_int64(st, 2),
              (long long)sqlite3_column_int64(st, 3), (long long)m->count);
  }
  sqlite3_finalize(st);

  /* each row is an acknowledged request, once, on its session */
  assert_int_equal(sqlite3_prepare_v2(db,
                                      "SELECT upload_id, n, user_id, request_id, expire_time,"
                                      " random FROM signatures",
                                      -1, &st, NULL),
                   SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(st, 0);
    const char *rid = (const char *)sqlite3_column_text(st, 3);
    int64_t n = sqlite3_column_int64(st, 1);
    uint64_t a, q;
    int owner = -1;
    size_t idx;
    struct msess *m = model_sess(id, &owner, &idx);
    struct opl *op;

    rows++;
    if (!parse_pair(rid, 'r', &a, &q) || a > (uint64_t)R.nw || q >= R.act[a].nop)
      fail_db("audit %s n %lld: unknown request %s", id, (long long)n, rid);
    op = &R.act[a].op[q];
    if (op->n == 0)
      fail_db("audit %s n %lld: request %s was refused", id, (long long)n, rid);
    if (seen[a][q]++)
      fail_db("audit: request %s twice", rid);
    if (!m || op->owner != owner || (size_t)op->idx != idx)
      fail_db("audit %s n %lld: request %s was for another session", id, (long long)n, rid);
    if (op->n > 0 && op->n != n)
      fail_db("audit %s: request %s was told n %d, row has %lld", id, rid, op->n, (long long)n);
    user_name(user, sizeof(user), owner, m->user);
    if (strcmp((const char *)sqlite3_column_text(st, 2), user) ||
        sqlite3_column_int64(st, 4) != exp_of((int)a, (uint32_t)q) ||
        (uint32_t)sqlite3_column_int64(st, 5) != random_of((int)a, (uint32_t)q))
      fail_db("audit %s n %lld: user, expire_time or random differs", id, (long long)n);
  }
  sqlite3_finalize(st);
  if (rows != acked)
    fail_db("%llu audit rows, %llu signatures acknowledged", (unsigned long long)rows,
            (unsigned long long)acked);

  /* quota */
  assert_int_equal(sqlite3_prepare_v2(db, "SELECT user_id, day, used FROM quota", -1, &st, NULL),
                   SQLITE_OK);
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *u = (const char *)sqlite3_column_text(st, 0);
    int64_t day = sqlite3_column_int64(st, 1), used = sqlite3_column_int64(st, 2), want;
    uint64_t a, k;
    qrows++;
    if (parse_pair(u, 'u', &a, &k) && a <= (uint64_t)R.nw && k < NUSERS && day >= D0 &&
        day < D0 + FREE_DAYS) {
      want = R.act[a].quota[k][day - D0];
      if (user_limit[k] && used > user_limit[k])
        fail_db("quota %s day %lld: %lld used, limit %lld", u, (long long)day, (long long)used,
                (long long)user_limit[k]);
    } else if (day == D0 && !strcmp(u, "pool")) {
      want = pool;
      if (used > POOL_Q)
        fail_db("pool quota: %lld used, limit %d", (long long)used, POOL_Q);
    } else if (day == D0 && !strcmp(u, "shared")) {
      want = shared_opens;
    } else if (day == D0 && !strcmp(u, "bulk")) {
      want = bulk_opens;
    } else {
      fail_db("quota row of %s day %lld: never used", u, (long long)day);
      want = -1;
    }
    if (used != want)
      fail_db("quota %s day %lld: %lld used, %lld acknowledged", u, (long long)day, (long long)used,
              (long long)want);
  }
  sqlite3_finalize(st);
  if (qrows != qwant)
    fail_db("%llu quota rows, %llu (user, day) acknowledged", (unsigned long long)qrows,
            (unsigned long long)qwant);
  sqlite3_close(db);
  for (int a = 0; a <= R.nw; a++)
    free(seen[a]);
  free(seen);
  printf("# database: %llu sessions, %llu signature records, %llu quota rows: as acknowledged\n",
         (unsigned long long)sessions, (unsigned long long)rows, (unsigned long long)qrows);
}

/* Limits under concurrency: each hammered session got exactly its limit
 * (its attempts far exceed it), the pool exactly its quota. */
static void check_shared_limits(void)
{
  int64_t pool = 0;
  for (int j = 0; j < NSHARED; j++)
    if (shared_count(j) != shared_limit[j])
      fail_msg("seed %llu: hammered session %d: %lld signatures acknowledged, limit %lld",
               (unsigned long long)R.seed, j, (long long)shared_count(j),
               (long long)shared_limit[j]);
  for (int a = 0; a <= R.nw; a++)
    pool += R.act[a].pool_acks;
  if (pool != POOL_Q)
    fail_msg("seed %llu: pool quota: %lld opens acknowledged, quota %d", (unsigned long long)R.seed,
             (long long)pool, POOL_Q);
}

static uint64_t opened(void)
{
  uint64_t n = 0;
  for (int a = 0; a <= R.nw; a++)
    for (size_t i = 0; i < R.act[a].ns; i++)
      n += R.act[a].s[i].state == S_OPEN;
  return n;
}

/* Every acknowledged session through issuing_session_get, oldest first,
 * compared with the model (cached ones and ones read back). */
static void get_all(void)
{
  for (int a = 0; a < R.nw; a++)
    for (size_t i = 0; i < R.act[a].ns; i++)
      if (!do_get_own(&R.act[a], i))
        fail_msg("%s", R.act[a].err);
}

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void print_counts(const char *what, double t0)
{
  uint64_t acks = 0, conflicts = 0, notfound = 0, again = 0, gets = 0;
  for (int a = 0; a <= R.nw; a++) {
    acks += R.act[a].acks;
    conflicts += R.act[a].conflicts;
    notfound += R.act[a].notfound;
    again += R.act[a].again;
    gets += R.act[a].gets;
  }
  printf("# %s: %llu sessions, %llu signatures acknowledged, %llu CONFLICT, %llu NOTFOUND, "
         "%llu AGAIN, %llu session reads (%.2f s)\n",
         what, (unsigned long long)opened(), (unsigned long long)acks,
         (unsigned long long)conflicts, (unsigned long long)notfound, (unsigned long long)again,
         (unsigned long long)gets, now_s() - t0);
}

/* ---- 1. the concurrent model check ---- */

static void model_check(int nw, int flush_ms, uint64_t test_no)
{
  double t0 = now_s();
  uint64_t evicted, cached, reread;

  run_setup(nw, flush_ms, test_no);
  open_shared();
  R.mode = W_STRICT; /* fewer than ISSUING_MAX_PENDING signatures in all: no AGAIN */
  R.revisit_pct = 30;
  workers_start(6500);
  workers_join();
  assert_true(opened() > ISSUING_MAX_CACHED + 1000);
  /* All clean, then more: new sessions evict (the table is past the
   * bound), and old ones are revisited, read back from the store. */
  quiesce();
  R.revisit_pct = 60;
  workers_start(1500);
  workers_join();
  check_shared_limits();
  quiesce();
  get_all();
  evicted = metric("vodgate_upload_sessions_evicted_total");
  cached = metric("vodgate_upload_sessions_cached");
  /* every entry came in by an open or by a read from the store */
  reread = cached + evicted - opened();
  printf("# evicted %llu, cached %llu, read back from the store %llu\n",
         (unsigned long long)evicted, (unsigned long long)cached, (unsigned long long)reread);
  assert_true(evicted > 0);
  assert_true(reread > 0);
  print_counts("issued", t0);
  finish();
}

static void model_flush_1ms(void **state)
{
  model_check(6, 1, 1);
}

static void model_flush_0(void **state)
{
  model_check(6, 0, 2);
}

/* ---- 2. store failures ---- */

static void set_fail(sqlite3 *db, int mode)
{
  char sql[64];
  snprintf(sql, sizeof(sql), "UPDATE ctl SET fail = %d", mode);
  db_exec(db, sql);
}

/* A second connection to the database with triggers that make the
 * writer's own statements fail, switched by the row of table ctl
 * (set_fail): 1 fails audit rows, the signatures after a session's first
 * (after the flush wrote its session rows and quota units: they must roll
 * back too), 2 session rows (insert, with the first signature, and
 * count), 3 quota units. */
static sqlite3 *fail_switch(void)
{
  sqlite3 *db = db_open(true);
  db_exec(db, "CREATE TABLE ctl (fail INTEGER NOT NULL); INSERT INTO ctl VALUES (0);"
              "CREATE TRIGGER fail_audit BEFORE INSERT ON audit WHEN (SELECT fail FROM ctl) = 1"
              " BEGIN SELECT RAISE(ABORT, 'injected'); END;"
              "CREATE TRIGGER fail_sess_ins BEFORE INSERT ON upload_session"
              " WHEN (SELECT fail FROM ctl) = 2 BEGIN SELECT RAISE(ABORT, 'injected'); END;"
              "CREATE TRIGGER fail_sess_upd BEFORE UPDATE ON upload_session"
              " WHEN (SELECT fail FROM ctl) = 2 BEGIN SELECT RAISE(ABORT, 'injected'); END;"
              "CREATE TRIGGER fail_quota_ins BEFORE INSERT ON quota"
              " WHEN (SELECT fail FROM ctl) = 3 BEGIN SELECT RAISE(ABORT, 'injected'); END;"
              "CREATE TRIGGER fail_quota_upd BEFORE UPDATE ON quota"
              " WHEN (SELECT fail FROM ctl) = 3 BEGIN SELECT RAISE(ABORT, 'injected'); END;");
  return db;
}

/* Waits (bounded) until the workers acknowledged n more signatures, or all
 * ran out of operations. */
static void wait_acks(uint64_t n)
{
  uint64_t target = atomic_load(&R.acks) + n;
  for (int i = 0; i < 600000; i++) {
    if (atomic_load(&R.acks) >= target || atomic_load(&R.finished) == R.nw || atomic_load(&R.stop))
      return;
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
  }
  fail_msg("seed %llu: workers stalled", (unsigned long long)R.seed);
}

static void store_failures(int flush_ms, uint64_t test_no)
{
  double t0 = now_s();
  struct actor *mn;
  sqlite3 *db;
  int64_t rows;
  uint64_t p, n;
  size_t bulk0;
  int rc = VG_AGAIN;

  run_setup(4, flush_ms, test_no);
  mn = &R.act[R.nw];
  /* Failures of the writer's own statements, switched by a row that a
   * second connection flips: 1 fails audit rows, i.e. later signatures of
   * a session (after the flush wrote its session rows and quota units:
   * they must roll back too), 2 session rows (insert with the first
   * signature, and count), 3 quota units. */
  db = R.ctl = fail_switch();
  open_shared();

  /* A: failures switched on and off while the threads issue. Fewer than
   * ISSUING_MAX_PENDING signatures in all: AGAIN is an error here. */
  R.mode = W_STRICT;
  R.revisit_pct = 30;
  R.ack_cap = 40000; /* + the hammered sessions' few: far below ISSUING_MAX_PENDING */
  R.pause_us = 100;
  workers_start(100000); /* stopped below */
  for (int w = 0; w < 6; w++) {
    int mode = 1 + w % 3;
    set_fail(db, mode);
    settle(); /* from here every flush fails (2) */
    rows = db_int(db, "SELECT count(*) FROM signatures");
    n = atomic_load(&R.acks);
    wait_acks(1500);
    if (mode == 2) { /* (1 fails only the flushes that carry a next, 3 an open) */
      assert_int_equal(db_int(db, "SELECT count(*) FROM signatures"), rows);
      assert_true(atomic_load(&R.acks) == n || pending() > 0);
    }
    set_fail(db, 0);
    wait_acks(600);
  }
  atomic_store(&R.stop, true);
  workers_join();
  R.ack_cap = 0;
  R.pause_us = 0;
  print_counts("A, failures on and off", t0);

  /* B: failing until ISSUING_MAX_PENDING records wait: exactly that many
   * are acknowledged, then every signature is refused with AGAIN. */
  set_fail(db, 2);
  settle();
  rows = db_int(db, "SELECT count(*) FROM signatures");
  p = pending();
  assert_true(p < ISSUING_MAX_PENDING);
  bulk0 = mn->ns;
  for (n = 0; n < 64 && p + n < ISSUING_MAX_PENDING; n++) {
    assert_true(do_open(mn, U_BULK, D0, 0, NOW + 86400, &rc));
    assert_int_equal(rc, VG_OK);
  }
  for (size_t i = 0; p + n < ISSUING_MAX_PENDING; n++, i++) {
    if (!do_next_own(mn, bulk0 + i % 64, false, &rc))
      fail_msg("%s", mn->err);
    assert_int_equal(rc, VG_OK);
  }
  assert_int_equal(pending(), ISSUING_MAX_PENDING);
  R.mode = W_ALL_AGAIN;
  assert_true(do_next_own(mn, bulk0, false, &rc));
  assert_int_equal(rc, VG_AGAIN);
  assert_true(do_open(mn, U_BULK, D0, 0, NOW + 86400, &rc));
  assert_int_equal(rc, VG_AGAIN);
  workers_start(300);
  workers_join();
  assert_int_equal(pending(), ISSUING_MAX_PENDING);
  assert_int_equal(db_int(db, "SELECT count(*) FROM signatures"), rows);
  print_counts("B, backlog full", t0);

  /* C: the store recovers: signatures are accepted again (bounded wait),
   * and the threads go on. */
  set_fail(db, 0);
  R.mode = W_AGAIN_OK;
  for (int i = 0; i < 20000; i++) {
    if (!do_next_own(mn, bulk0 + 1, false, &rc))
      fail_msg("%s", mn->err);
    if (rc != VG_AGAIN)
      break;
    sleep_ms(1);
  }
  if (rc != VG_OK)
    fail_msg("seed %llu: signatures still refused (%s) 20 s after the store recovered, %llu "
             "records pending",
             (unsigned long long)R.seed, rc_name(rc), (unsigned long long)pending());
  workers_start(1500);
  workers_join();
  print_counts("C, recovered", t0);
  finish();
}

static void store_failures_flush_1ms(void **state)
{
  store_failures(1, 3);
}

static void store_failures_flush_0(void **state)
{
  store_failures(0, 6);
}

/* Records a failed flush kept are committed once the store recovers, with
 * no request after the failure to trigger it (the pacer retries), and the
 * retries are paced: a few failed commits, not one per millisecond. */
static void store_recovers_without_requests(int flush_ms, uint64_t test_no)
{
  struct actor *mn;
  sqlite3 *db;
  uint64_t failures, max_failures;
  double t0;
  int rc;

  run_setup(0, flush_ms, test_no);
  mn = &R.act[0];
  db = R.ctl = fail_switch();
  set_fail(db, 2);
  for (int i = 0; i < 50; i++) {
    assert_true(do_open(mn, U_BULK, D0, 0, NOW + 86400, &rc));
    assert_int_equal(rc, VG_OK);
  }
  for (int i = 0; i < 30000 && metric("vodgate_signature_flush_failures_total") == 0; i++)
    sleep_ms(1);
  t0 = now_s();
  settle();
  assert_true(pending() >= 1);
  assert_int_equal(db_int(db, "SELECT count(*) FROM signatures"), 0);
  /* Failing all along: retried after 100, 200, 400 ms..., never every
   * millisecond. The bound follows the time that really passed (a loaded
   * machine only makes it larger): k failures need 100 * (2^(k-1) - 1) ms. */
  sleep_ms(300);
  failures = metric("vodgate_signature_flush_failures_total");
  max_failures = 2;
  for (double span = 100; span <= (now_s() - t0) * 1000; span = span * 2 + 100)
    max_failures++;
  assert_in_range(failures, 1, max_failures);
  set_fail(db, 0);
  for (int i = 0; i < 30000 && pending() > 0; i++)
    sleep_ms(1); /* nothing else calls into the state meanwhile */
  if (pending() > 0)
    fail_msg("seed %llu: %llu records still pending 30 s after the store recovered",
             (unsigned long long)R.seed, (unsigned long long)pending());
  assert_int_equal(db_int(db, "SELECT count(*) FROM signatures"), 50);
  finish();
}

static void recovers_without_requests_flush_1ms(void **state)
{
  store_recovers_without_requests(1, 7);
}

static void recovers_without_requests_flush_0(void **state)
{
  store_recovers_without_requests(0, 8);
}

/* A session the store would refuse (expiring before its creation) is
 * refused at once: acknowledged, its record would fail every flush. */
static void open_refuses_what_the_store_refuses(void **state)
{
  struct actor *mn;
  struct store_session s = {.created_at = NOW, .expires_at = NOW - 1, .signatures_issued = 1};
  struct store_audit au = {s.upload_id, "bulk", "r0-999999", NOW, 1, NOW, 0};
  int rc;

  run_setup(0, 1, 5);
  mn = &R.act[0];
  size_t bad = sess_new(mn);
  mn->s[bad].state = S_REFUSED; /* s0-0 */
  snprintf(s.upload_id, sizeof(s.upload_id), "s0-0");
  snprintf(s.user_id, sizeof(s.user_id), "bulk");
  snprintf(s.policy, sizeof(s.policy), "p");
  assert_int_equal(issuing_open(R.is, &s, D0, 0, &au), VG_INVALID);
  /* Parameters that are not one JSON object, an audit row without a user:
   * whatever the store's checks refuse (store_session_check,
   * store_audit_check) is refused before it is acknowledged. */
  s.expires_at = NOW + 60;
  static char bad_params[][8] = {"[1]", "{", "", "{} {}", "\"x\""};
  static char good_params[] = "{\"classId\":1}";
  for (size_t i = 0; i < sizeof(bad_params) / sizeof(bad_params[0]); i++) {
    s.params_json = bad_params[i];
    assert_int_equal(issuing_open(R.is, &s, D0, 0, &au), VG_INVALID);
  }
  s.params_json = good_params;
  au.user_id = "";
  assert_int_equal(issuing_open(R.is, &s, D0, 0, &au), VG_INVALID);
  /* The first signature is recorded in the session's row (schema 8): it
   * must be the session's own, by its user, at its time. */
  au.user_id = "other";
  assert_int_equal(issuing_open(R.is, &s, D0, 0, &au), VG_INVALID);
  au.user_id = "bulk";
  au.created_at = NOW + 1;
  assert_int_equal(issuing_open(R.is, &s, D0, 0, &au), VG_INVALID);
  au.created_at = NOW;
  s.signatures_issued = 2;
  assert_int_equal(issuing_open(R.is, &s, D0, 0, &au), VG_INVALID);
  s.signatures_issued = 1;
  assert_true(do_open(mn, U_BULK, D0, 0, NOW + 60, &rc));
  assert_int_equal(rc, VG_OK);
  char id1[32];
  sess_id(id1, sizeof(id1), 0, bad + 1);
  struct store_audit next = {id1, "", "r0-999998", NOW, 1, NOW, 0};
  assert_int_equal(issuing_next(R.is, next.upload_id, "bulk", NOW, 0, &next), VG_INVALID);
  finish();
}

/* issuing_open of a session id by user with one signature (request rid),
 * at NOW, against a quota limit of limit (0: none): the rc. */
static int open_plain(const char *id, const char *user, const char *rid, int64_t limit)
{
  struct store_session s = {.created_at = NOW, .expires_at = NOW + 60, .signatures_issued = 1};
  struct store_audit au = {s.upload_id, s.user_id, rid, NOW + 60, 1, NOW, 0};
  str_copy(s.upload_id, sizeof(s.upload_id), id);
  str_copy(s.user_id, sizeof(s.user_id), user);
  str_copy(s.policy, sizeof(s.policy), "p");
  return issuing_open(R.is, &s, D0, limit, &au);
}

/* Quota counters past ISSUING_MAX_CACHED are evicted a few per new one,
 * oldest clean first, as sessions are: the table stays at the bound. A
 * sweep of the whole table at the bound (what it did before) freed every
 * clean counter under the mutex at once, 0.8-1.1 ms every 4096 users with
 * every request thread waiting, and the table dropped to the few dirty
 * ones. Each user signs once: every counter is read, counted, committed,
 * then only evicted; a user signing again after eviction reads the
 * committed count back. */
static void quota_counters_evicted_a_few_at_a_time(void **state)
{
  const int users = 2 * ISSUING_MAX_CACHED + 500, batch = 64;
  uint64_t q, lowest = UINT64_MAX, highest = 0;
  char uid[32], user[32], rid[32];
  int i;

  run_setup(0, 0, 8);
  for (i = 0; i < users; i++) {
    snprintf(uid, sizeof(uid), "qs-%d", i);
    snprintf(user, sizeof(user), "qu-%d", i);
    snprintf(rid, sizeof(rid), "qr-%d", i);
    assert_int_equal(open_plain(uid, user, rid, 1), VG_OK);
    if (i % batch != batch - 1)
      continue;
    issuing_flush_now(R.is);
    settle();
    q = metric("vodgate_quota_counters_cached");
    assert_true(q <= (uint64_t)i + 1);
    if (i + 1 >= ISSUING_MAX_CACHED + batch) {
      lowest = q < lowest ? q : lowest;
      highest = q > highest ? q : highest;
    }
  }
  printf("# %d users: %llu..%llu quota counters held once past the bound\n", users,
         (unsigned long long)lowest, (unsigned long long)highest);
  assert_true(lowest >= ISSUING_MAX_CACHED - 2);
  assert_true(highest <= ISSUING_MAX_CACHED);
  /* The first users' counters were evicted: their limit of 1 is read back. */
  for (i = 0; i < 3; i++) {
    snprintf(uid, sizeof(uid), "qs-again-%d", i);
    snprintf(user, sizeof(user), "qu-%d", i);
    snprintf(rid, sizeof(rid), "qr-again-%d", i);
    assert_int_equal(open_plain(uid, user, rid, 1), VG_CONFLICT);
  }
}

/* The stop past the drain timeout (issuing_seal): what was acknowledged
 * is committed although no flush was due yet (flush_ms 1000), and nothing
 * is acknowledged after it (a record made then would be answered and
 * lost with the process). */
static void seal_commits_then_refuses(void **state)
{
  char uid[32], rid[32];
  struct store_session got;

  run_setup(0, 1000, 9);
  for (int i = 0; i < 3; i++) {
    snprintf(uid, sizeof(uid), "seal-%d", i);
    snprintf(rid, sizeof(rid), "sr-%d", i);
    assert_int_equal(open_plain(uid, "su", rid, 0), VG_OK);
  }
  {
    struct store_audit au = {"seal-0", "su", "sr-next", NOW + 60, 2, NOW, 0};
    assert_int_equal(issuing_next(R.is, "seal-0", "su", NOW, 0, &au), VG_OK);
  }
  assert_int_equal(store_session_get(R.st, "seal-0", &got), VG_NOTFOUND); /* not due yet */
  assert_int_equal(issuing_seal(R.is), 0);
  assert_int_equal(metric("vodgate_signature_records_pending"), 0);
  for (int i = 0; i < 3; i++) {
    snprintf(uid, sizeof(uid), "seal-%d", i);
    assert_int_equal(store_session_get(R.st, uid, &got), VG_OK);
    assert_int_equal(got.signatures_issued, i == 0 ? 2 : 1);
    store_session_release(&got);
  }
  {
    struct store_audit an = {"seal-1", "su", "sr-late2", NOW + 60, 2, NOW, 0};
    assert_int_equal(open_plain("seal-late", "su", "sr-late", 0), VG_AGAIN);
    assert_int_equal(issuing_next(R.is, "seal-1", "su", NOW, 0, &an), VG_AGAIN);
  }
  assert_int_equal(metric("vodgate_signature_records_pending"), 0);
}

/* ---- 3. restart ---- */

static void restart(void **state)
{
  double t0 = now_s();
  struct actor *mn;
  int rc;

  run_setup(4, 2, 4);
  mn = &R.act[R.nw];
  open_shared();
  R.mode = W_STRICT;
  R.revisit_pct = 30;
  workers_start(8000);
  workers_join();
  assert_true(opened() > ISSUING_MAX_CACHED + 1000);
  check_shared_limits(); /* used up: they stay so after the restart */
  print_counts("before the restart", t0);
  issuing_free(R.is);
  R.is = NULL;
  store_close(R.st);
  R.st = NULL;
  verify_db();

  assert_int_equal(store_open(R.url, NULL, &R.st), VG_OK);
  R.is = issuing_new(R.st, 2);
  /* The counts go on from what was committed: every session (evicted
   * before the stop or not) by issuing_session_get, then the next
   * signature of each actor's oldest and newest sessions, the pool (used
   * up before the stop) and the hammered sessions (at their limits). */
  get_all();
  for (int a = 0; a < R.nw; a++) {
    struct actor *ac = &R.act[a];
    for (size_t i = 0; i<ac->ns; i += ac->ns - 1> 0 ? ac->ns - 1 : 1)
      if (!do_next_own(ac, i, false, &rc))
        fail_msg("%s", ac->err);
  }
  assert_true(do_open(mn, U_POOL, D0, 0, NOW + 86400, &rc));
  assert_int_equal(rc, VG_CONFLICT);
  for (int j = 0; j < NSHARED; j++) {
    struct store_session g;
    char id[40];
    sess_id(id, sizeof(id), R.nw, (size_t)j);
    assert_int_equal(issuing_session_get(R.is, id, &g), VG_OK);
    assert_int_equal(g.signatures_issued, shared_limit[j]);
    store_session_release(&g);
    assert_true(do_next_shared(&R.act[0], j));
  }
  R.revisit_pct = 50;
  workers_start(3000);
  workers_join();
  check_shared_limits();
  print_counts("after the restart", t0);
  finish();
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(model_flush_1ms, cleanup),
      cmocka_unit_test_teardown(model_flush_0, cleanup),
      cmocka_unit_test_teardown(store_failures_flush_1ms, cleanup),
      cmocka_unit_test_teardown(store_failures_flush_0, cleanup),
      cmocka_unit_test_teardown(recovers_without_requests_flush_1ms, cleanup),
      cmocka_unit_test_teardown(recovers_without_requests_flush_0, cleanup),
      cmocka_unit_test_teardown(open_refuses_what_the_store_refuses, cleanup),
      cmocka_unit_test_teardown(quota_counters_evicted_a_few_at_a_time, cleanup),
      cmocka_unit_test_teardown(restart, cleanup),
      cmocka_unit_test_teardown(seal_commits_then_refuses, cleanup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
