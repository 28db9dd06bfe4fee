/*
 * issuing.c: sessions and quota counters in memory, records written behind
 * the answer in batches (see issuing.h for the invariants).
 *
 * Shape: two chained hash tables (sessions by upload id, quota counters by
 * user and day) under one mutex; a list of dirty entries and a list of
 * audit records waiting for the store. A flush is one callback queued on
 * the store's writer (store_submit): when it runs it takes everything
 * waiting at that moment (a snapshot of each dirty entry's count), writes
 * it inside the writer's group transaction, and its done callback marks
 * the snapshot committed, or puts it all back if the commit failed. At
 * most one flush is queued and not yet started at any time; a record made
 * after a flush took its snapshot queues the next one.
 *
 * Pacing: with a flush interval (issuing_new's flush_ms), a record does not
 * queue the flush itself; it wakes the pacer thread, which queues it
 * flush_ms after the first record that is waiting. A commit then carries
 * every signature of that interval instead of the few that arrived during
 * the previous fsync: at tens of thousands of signatures per second that
 * is the difference between thousands of commits (each rewriting the
 * indexes' right-edge pages into the WAL, each fsync'd, each page copied
 * again by the checkpointer) and a hundred. A backlog of
 * ISSUING_FLUSH_NOW records queues it at once.
 *
 * Eviction: a session is kept for reuse (the web SDK asks again for each
 * part of an upload) until ISSUING_MAX_CACHED are held; then each new one
 * evicts the oldest clean ones (committed, in no flush), at most two per
 * insert. A sweep of the whole table at the bound used to hold the mutex
 * for about a millisecond every 4096 sessions, stalling every request
 * thread at once: a step in the latency tail. Quota counters (one per user
 * and day) are kept and evicted the same way: their sweep at the bound
 * freed the 4096 clean ones under the mutex in 0.8-1.1 ms, once every 4096
 * users.
 */
#include "svc/issuing.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/limits.h"
#include "core/log.h"
#include "core/util.h"

#define ISSUING_BUCKETS   8192 /* a power of two; chains stay short below 4x */
#define ISSUING_FLUSH_NOW 8192 /* records waiting that queue the flush without delay */

struct sess_e {
  struct sess_e *next;    /* hash chain */
  struct store_session s; /* s.params_json owned; only the count changes */
  /* The session's first signature, recorded with the session's row (a
   * store_session.first built by flush_tx; its user and time are the
   * session's): no audit record of its own. Kept after the row commits. */
  char first_rid[STORE_MAX_ID + 1];
  int64_t first_exp;
  uint32_t first_random;
  int64_t flushed;   /* s.signatures_issued as committed */
  bool in_db;        /* the session row is committed */
  bool dirty;        /* listed in is->dirty_sess */
  bool in_cq;        /* in the clean queue (cq_next) */
  unsigned inflight; /* flushes holding a snapshot of this entry */
  struct sess_e *cq_next;
};

struct quota_e {
  struct quota_e *next;
  char user[STORE_MAX_USER + 1];
  int64_t day, used;
  int64_t flushed; /* used as committed */
  bool dirty;
  bool in_cq; /* in the clean queue (cq_next) */
  unsigned inflight;
  struct quota_e *cq_next;
};

struct audit_r {
  struct audit_r *next;
  char upload_id[STORE_MAX_ID + 1];
  char user[STORE_MAX_USER + 1];
  char request_id[STORE_MAX_ID + 1];
  int64_t expire_time, created_at;
  int64_t n; /* the signature's ordinal in its session (store_audit.n) */
  uint32_t random;
};

struct ptrvec {
  void **v;
  size_t n, cap;
};

struct issuing {
  pthread_mutex_t mu;
  struct store *store;
  struct sess_e *sess[ISSUING_BUCKETS];
  struct quota_e *quota[ISSUING_BUCKETS];
  size_t n_sess, n_quota;
  /* Sessions that became clean (committed, not in a flush), oldest first:
   * past ISSUING_MAX_CACHED each new entry evicts the oldest, a few at a
   * time, so the table never stops every thread for a sweep. An entry
   * dirtied again stays queued and is skipped; it is queued again once
   * clean. */
  struct sess_e *cq_head, **cq_tail;
  uint32_t sess_gen[ISSUING_BUCKETS]; /* evictions from each bucket (sess_load) */
  uint64_t evicted;                   /* sessions evicted in all (metrics) */
  /* Quota counters that became clean, oldest first, evicted past
   * ISSUING_MAX_CACHED as sessions are. */
  struct quota_e *qcq_head, **qcq_tail;
  uint32_t quota_gen[ISSUING_BUCKETS]; /* evictions from each bucket (quota_load) */
  struct ptrvec dirty_sess, dirty_quota;
  struct audit_r *audit, **audit_tail; /* waiting, oldest first */
  size_t n_audit;                      /* in the list */
  size_t pending;                      /* records not committed yet: audit records, and new
                                        * sessions' rows with their first signatures */
  bool queued;                         /* a flush is queued, not started */
  /* the pacer thread: paces flushes (flush_ms > 0; 0 also when the thread
   * could not start) and retries a failed one at retry_at; backoff_ms is
   * the pause after the last flush, 0 when it succeeded (not failing) */
  int flush_ms;
  pthread_t pacer;
  pthread_cond_t pacer_cv;
  bool pacer_started, pacer_armed, pacer_stop;
  bool pacer_timed; /* the pacer waits for a due time (not for a signal) */
  int backoff_ms;
  struct timespec retry_at;
  uint64_t failures; /* failed flushes (metrics) */
  bool sealed;       /* issuing_seal: new records refused (VG_AGAIN) */
};

/* One flush: what it took, to mark committed or to put back. */
struct snap_s {
  struct sess_e *e;
  int64_t issued, base;
  bool in_db;
};
struct snap_q {
  struct quota_e *e;
  int64_t used, base;
};
struct flush {
  struct issuing *is;
  struct snap_s *ss;
  size_t nss;
  struct snap_q *qs;
  size_t nqs;
  struct audit_r *audit;
  size_t naudit;
};

static uint32_t fnv1a(const char *s, uint64_t salt)
{
  uint32_t h = 2166136261u ^ (uint32_t)salt ^ (uint32_t)(salt >> 32);
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 16777619u;
  return h & (ISSUING_BUCKETS - 1);
}

static void vec_push(struct ptrvec *v, void *p)
{
  if (v->n == v->cap) {
    v->cap = v->cap ? v->cap * 2 : 64;
    v->v = xrealloc(v->v, v->cap * sizeof(*v->v));
  }
  v->v[v->n++] = p;
}

static void flush_kick(struct issuing *is);

/* The pacer thread: once armed by a record, waits flush_ms, then queues
 * the flush (see the top of this file). */
static bool ts_before(const struct timespec *a, const struct timespec *b)
{
  return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static struct timespec ts_after_ms(long ms)
{
  struct timespec t;

  clock_gettime(CLOCK_MONOTONIC, &t);
  t.tv_nsec += ms % 1000 * 1000000L;
  t.tv_sec += ms / 1000 + t.tv_nsec / 1000000000L;
  t.tv_nsec %= 1000000000L;
  return t;
}

/* A failed flush's retry is not due yet (is->mu held). */
static bool retry_later(const struct issuing *is)
{
  struct timespec now;

  if (!is->backoff_ms)
    return false;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return ts_before(&now, &is->retry_at);
}

static bool records_wait(const struct issuing *is)
{
  return is->n_audit || is->dirty_sess.n || is->dirty_quota.n;
}

/* Queues the paced flush flush_ms after the first record asked for it
 * (pacer_armed), and a failed flush's retry at retry_at, whichever is
 * later; without a request to trigger it, records left by a failure are
 * retried all the same. */
static void *pacer_main(void *arg)
{
  struct issuing *is = arg;

  thread_name("vg-issuing");
  pthread_mutex_lock(&is->mu);
  while (!is->pacer_stop) {
    struct timespec due;
    bool retry = is->backoff_ms && !is->queued && records_wait(is);
    if (!is->pacer_armed && !retry) {
      pthread_cond_wait(&is->pacer_cv, &is->mu);
      continue;
    }
    due = is->pacer_armed ? ts_after_ms(is->flush_ms) : is->retry_at;
    if (is->backoff_ms && ts_before(&due, &is->retry_at))
      due = is->retry_at;
    is->pacer_timed = true;
    while (!is->pacer_stop && !is->queued &&
           pthread_cond_timedwait(&is->pacer_cv, &is->mu, &due) == 0)
      ; /* woken early: a backlog queued it, a flush failed, or stopping */
    is->pacer_timed = false;
    if (is->pacer_stop || retry_later(is))
      continue; /* a failure while waiting: wait for its retry */
    is->pacer_armed = false;
    flush_kick(is);
  }
  pthread_mutex_unlock(&is->mu);
  return NULL;
}

struct issuing *issuing_new(struct store *s, int flush_ms)
{
  struct issuing *is = xcalloc(1, sizeof(*is));
  pthread_condattr_t ca;

  pthread_mutex_init(&is->mu, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&is->pacer_cv, &ca);
  pthread_condattr_destroy(&ca);
  is->store = s;
  is->audit_tail = &is->audit;
  is->cq_tail = &is->cq_head;
  is->qcq_tail = &is->qcq_head;
  is->flush_ms = flush_ms > 0 ? flush_ms : 0;
  int err = pthread_create(&is->pacer, NULL, pacer_main, is);
  if (err) {
    log_warn("issuing: cannot start the flush pacer (%s); records are flushed without delay, "
             "and a failed flush is retried by the next signature only",
             strerror(err));
    is->flush_ms = 0;
  } else {
    is->pacer_started = true;
  }
  return is;
}

/* ---- tables (is->mu held) ---- */

static struct sess_e *sess_find(struct issuing *is, const char *id)
{
  for (struct sess_e *e = is->sess[fnv1a(id, 0)]; e; e = e->next)
    if (strcmp(e->s.upload_id, id) == 0)
      return e;
  return NULL;
}

static struct quota_e *quota_find(struct issuing *is, const char *user, int64_t day)
{
  for (struct quota_e *e = is->quota[fnv1a(user, (uint64_t)day)]; e; e = e->next)
    if (e->day == day && strcmp(e->user, user) == 0)
      return e;
  return NULL;
}

static bool sess_clean(const struct sess_e *e)
{
  return !e->dirty && !e->inflight && e->in_db && e->flushed == e->s.signatures_issued;
}

/* Queues e if it is clean and not queued yet. */
static void cq_push(struct issuing *is, struct sess_e *e)
{
  if (e->in_cq || !sess_clean(e))
    return;
  e->in_cq = true;
  e->cq_next = NULL;
  *is->cq_tail = e;
  is->cq_tail = &e->cq_next;
}

/* Entries are allocated before the mutex is taken and freed after it is
 * released (sess_new, sess_bury): with the HTTP threads on their own CPUs
 * every request thread waits for the mutex whenever another holds it, so
 * nothing slower than pointer work runs under it. */
static struct sess_e *sess_new(struct store_session *s)
{
  struct sess_e *e = xcalloc(1, sizeof(*e));
  e->s = *s;
  e->s.first = NULL; /* first_*, by issuing_open */
  s->params_json = NULL;
  return e;
}

/* Frees a list of entries linked by next (not under is->mu). */
static void sess_bury(struct sess_e *dead)
{
  for (struct sess_e *e = dead, *next; e; e = next) {
    next = e->next;
    store_session_release(&e->s);
    free(e);
  }
}

/* Drops e from the table (a later miss reads the same from the store) onto
 * *dead, for the caller to bury after unlocking. */
static void sess_evict(struct issuing *is, struct sess_e *e, struct sess_e **dead)
{
  uint32_t b = fnv1a(e->s.upload_id, 0);
  struct sess_e **pp = &is->sess[b];

  while (*pp != e)
    pp = &(*pp)->next;
  *pp = e->next;
  is->sess_gen[b]++;
  is->n_sess--;
  is->evicted++;
  e->next = *dead;
  *dead = e;
}

/* At the bound, evicts up to two of the oldest clean entries: the table
 * shrinks back when it grew past it (entries were dirty) and never stalls
 * the threads with a sweep of the whole table. Skipped entries (dirtied
 * again) cost O(1) each and were queued once per clean transition. */
static void sess_trim(struct issuing *is, struct sess_e **dead)
{
  int evicted = 0;

  while (is->n_sess >= ISSUING_MAX_CACHED && evicted < 2 && is->cq_head) {
    struct sess_e *e = is->cq_head;
    is->cq_head = e->cq_next;
    if (!is->cq_head)
      is->cq_tail = &is->cq_head;
    e->in_cq = false;
    if (sess_clean(e)) {
      sess_evict(is, e, dead);
      evicted++;
    }
  }
}

static bool quota_clean(const struct quota_e *e)
{
  return !e->dirty && !e->inflight && e->flushed == e->used;
}

/* Queues e if it is clean and not queued yet. */
static void qcq_push(struct issuing *is, struct quota_e *e)
{
  if (e->in_cq || !quota_clean(e))
    return;
  e->in_cq = true;
  e->cq_next = NULL;
  *is->qcq_tail = e;
  is->qcq_tail = &e->cq_next;
}

/* At the bound, evicts up to two of the oldest clean counters onto *dead
 * (linked by next, for the caller to free after unlocking), as sess_trim.
 * An evicted counter is read back from the store when its user signs
 * again that day. */
static void quota_trim(struct issuing *is, struct quota_e **dead)
{
  int evicted = 0;

  while (is->n_quota >= ISSUING_MAX_CACHED && evicted < 2 && is->qcq_head) {
    struct quota_e *e = is->qcq_head, **pp;
    uint32_t b;
    is->qcq_head = e->cq_next;
    if (!is->qcq_head)
      is->qcq_tail = &is->qcq_head;
    e->in_cq = false;
    if (!quota_clean(e))
      continue;
    b = fnv1a(e->user, (uint64_t)e->day);
    for (pp = &is->quota[b]; *pp != e; pp = &(*pp)->next)
      ;
    *pp = e->next;
    is->quota_gen[b]++;
    is->n_quota--;
    e->next = *dead;
    *dead = e;
    evicted++;
  }
}

static void quota_bury(struct quota_e *dead)
{
  for (struct quota_e *e = dead, *next; e; e = next) {
    next = e->next;
    free(e);
  }
}

/* Inserts e (from sess_new). Evicts clean entries onto *dead first, so no
 * pointer the caller holds into the session table may be used after this
 * (except e). */
static void sess_insert(struct issuing *is, struct sess_e *e, bool in_db, struct sess_e **dead)
{
  uint32_t b;

  sess_trim(is, dead);
  e->in_db = in_db;
  e->flushed = in_db ? e->s.signatures_issued : 0;
  b = fnv1a(e->s.upload_id, 0);
  e->next = is->sess[b];
  is->sess[b] = e;
  is->n_sess++;
  cq_push(is, e); /* loaded from the store: clean already */
}

static struct quota_e *quota_insert(struct issuing *is, const char *user, int64_t day, int64_t used,
                                    struct quota_e **dead)
{
  struct quota_e *e;
  uint32_t b;

  quota_trim(is, dead);
  e = xcalloc(1, sizeof(*e));
  snprintf(e->user, sizeof(e->user), "%s", user);
  e->day = day;
  e->used = e->flushed = used;
  b = fnv1a(user, (uint64_t)day);
  e->next = is->quota[b];
  is->quota[b] = e;
  is->n_quota++;
  qcq_push(is, e); /* read from the store: clean already */
  return e;
}

/*
 * The entry of a session, loaded from the store on a miss. Called and
 * returns with is->mu held, but drops it around the store read. An
 * eviction during that read may have dropped an entry that was created,
 * counted and committed meanwhile, making the read stale: the generation
 * of the id's bucket tells (evictions elsewhere do not force a retry), and
 * the read is done again.
 */
static int sess_load(struct issuing *is, const char *id, struct sess_e **out, struct sess_e **dead)
{
  const uint32_t b = fnv1a(id, 0);
  for (;;) {
    struct store_session s;
    struct sess_e *e = NULL;
    uint32_t gen = is->sess_gen[b];
    int rc;

    if ((*out = sess_find(is, id)))
      return VG_OK;
    pthread_mutex_unlock(&is->mu);
    memset(&s, 0, sizeof(s));
    rc = store_session_get(is->store, id, &s);
    if (rc == VG_OK)
      e = sess_new(&s);
    pthread_mutex_lock(&is->mu);
    if ((*out = sess_find(is, id)) || rc || gen != is->sess_gen[b]) {
      if (e) { /* not needed, or stale: buried with the evicted */
        e->next = *dead;
        *dead = e;
      }
      if (*out)
        return VG_OK; /* another thread loaded or created it */
      if (rc)
        return rc;
      continue;
    }
    sess_insert(is, e, true, dead);
    *out = e;
    return VG_OK;
  }
}

/* The counter of (user, day), read from the store on a miss; is->mu held,
 * dropped around the read. An eviction of the same counter during the read
 * (it was created, counted, committed and evicted meanwhile) makes the read
 * stale: the generation of its bucket tells, and the read is done again.
 * Evicted counters go onto *dead (sess_load). */
static int quota_load(struct issuing *is, const char *user, int64_t day, struct quota_e **out,
                      struct quota_e **dead)
{
  const uint32_t b = fnv1a(user, (uint64_t)day);
  for (;;) {
    uint32_t gen = is->quota_gen[b];
    int64_t used = 0;
    int rc;

    if ((*out = quota_find(is, user, day)))
      return VG_OK;
    pthread_mutex_unlock(&is->mu);
    rc = store_quota_get(is->store, user, day, &used);
    pthread_mutex_lock(&is->mu);
    if ((*out = quota_find(is, user, day)))
      return VG_OK;
    if (rc)
      return rc;
    if (gen != is->quota_gen[b])
      continue;
    *out = quota_insert(is, user, day, used, dead);
    return VG_OK;
  }
}

static void sess_dirty(struct issuing *is, struct sess_e *e)
{
  if (!e->dirty) {
    e->dirty = true;
    vec_push(&is->dirty_sess, e);
  }
}

static void quota_dirty(struct issuing *is, struct quota_e *e)
{
  if (!e->dirty) {
    e->dirty = true;
    vec_push(&is->dirty_quota, e);
  }
}

/* An audit record for a, made before the mutex is taken. */
static struct audit_r *audit_new(const struct store_audit *a)
{
  struct audit_r *r = xmalloc(sizeof(*r));
  r->next = NULL;
  str_copy(r->upload_id, sizeof(r->upload_id), a->upload_id);
  str_copy(r->user, sizeof(r->user), a->user_id);
  str_copy(r->request_id, sizeof(r->request_id), a->request_id);
  r->expire_time = a->expire_time;
  r->created_at = a->created_at;
  r->random = a->random;
  r->n = 0;
  return r;
}

/* Queues the audit row r of the signature that brought its session's
 * count to n (is->mu held, the count just raised under it): n is that
 * count, so two signatures of one session never share it, and since a
 * session's count and its audit rows commit in the same flush, a count
 * loaded back from the store continues after the last committed n. */
static void audit_push(struct issuing *is, struct audit_r *r, int64_t n)
{
  r->n = n;
  *is->audit_tail = r;
  is->audit_tail = &r->next;
  is->n_audit++;
  is->pending++;
}

/* ---- flushing ---- */

/* Moves everything waiting into f (is->mu held). */
static void flush_take(struct issuing *is, struct flush *f)
{
  f->nss = is->dirty_sess.n;
  f->ss = f->nss ? xcalloc(f->nss, sizeof(*f->ss)) : NULL;
  for (size_t i = 0; i < f->nss; i++) {
    struct sess_e *e = is->dirty_sess.v[i];
    f->ss[i] = (struct snap_s){e, e->s.signatures_issued, e->flushed, e->in_db};
    e->dirty = false;
    e->inflight++;
  }
  is->dirty_sess.n = 0;
  f->nqs = is->dirty_quota.n;
  f->qs = f->nqs ? xcalloc(f->nqs, sizeof(*f->qs)) : NULL;
  for (size_t i = 0; i < f->nqs; i++) {
    struct quota_e *e = is->dirty_quota.v[i];
    f->qs[i] = (struct snap_q){e, e->used, e->flushed};
    e->dirty = false;
    e->inflight++;
  }
  is->dirty_quota.n = 0;
  f->audit = is->audit;
  f->naudit = is->n_audit;
  is->audit = NULL;
  is->audit_tail = &is->audit;
  is->n_audit = 0;
  is->queued = false; /* records made from now on queue the next flush */
}

/* The transaction: runs on the store's writer. Session rows first (audit
 * rows name them), then counts, quota units, audit rows. */
static int flush_tx(struct store_tx *tx, void *arg)
{
  struct flush *f = arg;
  int rc = VG_OK;

  pthread_mutex_lock(&f->is->mu);
  flush_take(f->is, f);
  pthread_mutex_unlock(&f->is->mu);
  /* The entries' strings are immutable and the entries cannot be evicted
   * while a snapshot holds them (inflight), so they are read unlocked; not
   * the count, which request threads raise under the mutex meanwhile (the
   * snapshot has it). */
  for (size_t i = 0; rc == VG_OK && i < f->nss; i++) {
    const struct snap_s *sn = &f->ss[i];
    if (!sn->in_db) {
      const struct store_session *e = &sn->e->s;
      struct store_session s = {.created_at = e->created_at,
                                .expires_at = e->expires_at,
                                .signatures_issued = sn->issued,
                                .params_json = e->params_json};
      struct store_audit a = {
          e->upload_id,  e->user_id, sn->e->first_rid, sn->e->first_exp, sn->e->first_random,
          e->created_at, 1};
      memcpy(s.upload_id, e->upload_id, sizeof(s.upload_id));
      memcpy(s.user_id, e->user_id, sizeof(s.user_id));
      memcpy(s.policy, e->policy, sizeof(s.policy));
      s.first = &a;
      rc = store_tx_session_create(tx, &s);
    } else {
      for (int64_t n = sn->base; rc == VG_OK && n < sn->issued; n++)
        rc = store_tx_session_add_signature(tx, sn->e->s.upload_id, 0, NULL);
    }
  }
  for (size_t i = 0; rc == VG_OK && i < f->nqs; i++)
    if (f->qs[i].used > f->qs[i].base)
      rc = store_tx_quota_add(tx, f->qs[i].e->user, f->qs[i].e->day, f->qs[i].used - f->qs[i].base);
  for (struct audit_r *r = f->audit; rc == VG_OK && r; r = r->next) {
    struct store_audit a = {r->upload_id, r->user,       r->request_id, r->expire_time,
                            r->random,    r->created_at, r->n};
    rc = store_tx_audit_append(tx, &a);
  }
  return rc;
}

static void flush_free(struct flush *f)
{
  free(f->ss);
  free(f->qs);
  free(f);
}

/* The outcome, once the group commit is done (writer thread; short). */
static void flush_done(int rc, void *arg)
{
  struct flush *f = arg;
  struct issuing *is = f->is;
  struct audit_r *done = NULL;

  pthread_mutex_lock(&is->mu);
  if (rc == VG_OK) {
    is->backoff_ms = 0;
    for (size_t i = 0; i < f->nss; i++) {
      f->ss[i].e->flushed = f->ss[i].issued;
      is->pending -= !f->ss[i].in_db; /* its row and first signature */
      f->ss[i].e->in_db = true;
      f->ss[i].e->inflight--;
      cq_push(is, f->ss[i].e);
    }
    for (size_t i = 0; i < f->nqs; i++) {
      f->qs[i].e->flushed = f->qs[i].used;
      f->qs[i].e->inflight--;
      qcq_push(is, f->qs[i].e);
    }
    is->pending -= f->naudit;
    done = f->audit; /* freed below, after the unlock */
  } else {
    /* Nothing of it was committed: every entry is dirty again (its base is
     * unchanged) and the audit rows go back to the front of the list. */
    for (size_t i = 0; i < f->nss; i++) {
      f->ss[i].e->inflight--;
      sess_dirty(is, f->ss[i].e);
    }
    for (size_t i = 0; i < f->nqs; i++) {
      f->qs[i].e->inflight--;
      quota_dirty(is, f->qs[i].e);
    }
    if (f->audit) {
      struct audit_r *last = f->audit;
      while (last->next)
        last = last->next;
      last->next = is->audit;
      if (!is->audit)
        is->audit_tail = &last->next;
      is->audit = f->audit;
      is->n_audit += f->naudit;
    }
    /* Retried after a pause that doubles per failure: by the pacer even
     * if no request comes, and not sooner by a request. */
    is->backoff_ms = is->backoff_ms ? is->backoff_ms * 2 : ISSUING_RETRY_MIN_MS;
    if (is->backoff_ms > ISSUING_RETRY_MAX_MS)
      is->backoff_ms = ISSUING_RETRY_MAX_MS;
    is->retry_at = ts_after_ms(is->backoff_ms);
    is->failures++;
    if (is->pacer_started)
      pthread_cond_signal(&is->pacer_cv);
    log_error("issuing: %zu signature records could not be committed (%s); kept, retried in "
              "%d ms",
              f->naudit, vg_strerror(rc), is->backoff_ms);
  }
  pthread_mutex_unlock(&is->mu);
  /* The records' memory goes back outside the mutex: hundreds of free()s
   * per batch, and a writer preempted while holding the mutex would hold
   * up every request thread until it runs again. */
  for (struct audit_r *r = done, *next; r; r = next) {
    next = r->next;
    free(r);
  }
  flush_free(f);
}

/* Queues a flush unless one is queued and has not started (is->mu held;
 * the store's queue lock nests inside it, never the other way round). */
static void flush_kick(struct issuing *is)
{
  struct flush *f;

  if (is->queued)
    return;
  f = xcalloc(1, sizeof(*f));
  f->is = is;
  is->queued = true;
  if (store_submit(is->store, flush_tx, f, flush_done, f) != VG_OK) {
    is->queued = false; /* closing: issuing_free writes what is left */
    free(f);
  }
}

/* Queues the flush now (is->mu held); an armed pacer wakes, sees it
 * queued and disarms. Ignores a failed flush's pause: issuing_flush_now
 * (an event's ordering) must not wait for it. */
static void flush_queue_now(struct issuing *is)
{
  flush_kick(is);
  if (is->pacer_armed)
    pthread_cond_signal(&is->pacer_cv);
}

/* A record was made (is->mu held): queue its flush now (no pacing, or a
 * backlog), or have the pacer queue it shortly; after a failed flush, not
 * before its retry is due (the pacer queues it then). */
static void flush_soon(struct issuing *is)
{
  if (is->queued)
    return;
  if (retry_later(is)) {
    if (is->pacer_started && !is->pacer_timed)
      pthread_cond_signal(&is->pacer_cv); /* it slept: nothing waited then */
    return;
  }
  if (!is->flush_ms || is->n_audit + is->dirty_sess.n >= ISSUING_FLUSH_NOW) {
    flush_queue_now(is);
    return;
  }
  if (!is->pacer_armed) {
    is->pacer_armed = true;
    pthread_cond_signal(&is->pacer_cv);
  }
}

/* A signature refused with VG_AGAIN (is->mu held). The failed flush that
 * put its records back queued no other, and while the backlog is full no
 * signature is recorded to queue one: without this the records would wait,
 * and every signature be refused, until an event or the shutdown flushed
 * them, however long ago the store recovered. The refused requests retry
 * the flush instead, paced like records. */
static void flush_retry(struct issuing *is)
{
  if (records_wait(is))
    flush_soon(is);
}

void issuing_flush_now(struct issuing *is)
{
  if (!is)
    return;
  pthread_mutex_lock(&is->mu);
  if (records_wait(is))
    flush_queue_now(is); /* no-op while one is queued: it takes these too */
  pthread_mutex_unlock(&is->mu);
}

/* One flush run on the store's writer, waited for. Queued after every
 * earlier flush on the FIFO writer: when it returns, they have all
 * completed. A flush queued by the pacer meanwhile is harmless: it takes
 * what is left (possibly nothing). */
static void flush_wait(struct issuing *is)
{
  struct flush *f = xcalloc(1, sizeof(*f));
  int rc;

  f->is = is;
  rc = store_run(is->store, flush_tx, f);
  if (rc == VG_AGAIN) {
    pthread_mutex_lock(&is->mu);
    flush_take(is, f); /* store closed: flush_done puts them back */
    pthread_mutex_unlock(&is->mu);
  }
  flush_done(rc, f);
}

/* The stops' last word on what their final commit could not write. */
static void log_left(size_t left)
{
  if (left)
    log_error("issuing: %zu signature records were not committed at shutdown", left);
}

size_t issuing_seal(struct issuing *is)
{
  size_t left;

  if (!is)
    return 0;
  /* Sealed first, under the mutex: every record made before is in the
   * flush below, and none is made after (none answered, then lost). */
  pthread_mutex_lock(&is->mu);
  is->sealed = true;
  pthread_mutex_unlock(&is->mu);
  flush_wait(is);
  pthread_mutex_lock(&is->mu);
  left = is->pending;
  pthread_mutex_unlock(&is->mu);
  log_left(left);
  return left;
}

void issuing_free(struct issuing *is)
{
  if (!is)
    return;
  if (is->pacer_started) {
    pthread_mutex_lock(&is->mu);
    is->pacer_stop = true;
    pthread_cond_signal(&is->pacer_cv);
    pthread_mutex_unlock(&is->mu);
    pthread_join(is->pacer, NULL);
  }
  flush_wait(is);
  log_left(is->pending);
  for (size_t b = 0; b < ISSUING_BUCKETS; b++) {
    for (struct sess_e *e = is->sess[b], *next; e; e = next) {
      next = e->next;
      store_session_release(&e->s);
      free(e);
    }
    for (struct quota_e *e = is->quota[b], *next; e; e = next) {
      next = e->next;
      free(e);
    }
  }
  for (struct audit_r *r = is->audit, *next; r; r = next) {
    next = r->next;
    free(r);
  }
  free(is->dirty_sess.v);
  free(is->dirty_quota.v);
  pthread_cond_destroy(&is->pacer_cv);
  pthread_mutex_destroy(&is->mu);
  free(is);
}

int issuing_metrics_render(struct issuing *is, struct buf *out)
{
  size_t cached, pending, quotas;
  uint64_t evicted, failures;

  pthread_mutex_lock(&is->mu);
  cached = is->n_sess;
  quotas = is->n_quota;
  pending = is->pending;
  evicted = is->evicted;
  failures = is->failures;
  pthread_mutex_unlock(&is->mu);
  return buf_printf(out,
                    "# HELP vodgate_upload_sessions_cached Upload sessions held in memory.\n"
                    "# TYPE vodgate_upload_sessions_cached gauge\n"
                    "vodgate_upload_sessions_cached %zu\n"
                    "# HELP vodgate_upload_sessions_evicted_total Committed upload sessions "
                    "dropped from memory (a reuse reads them back from the database).\n"
                    "# TYPE vodgate_upload_sessions_evicted_total counter\n"
                    "vodgate_upload_sessions_evicted_total %llu\n"
                    "# HELP vodgate_signature_records_pending Signature records (session, "
                    "quota unit, audit row) not committed yet.\n"
                    "# TYPE vodgate_signature_records_pending gauge\n"
                    "vodgate_signature_records_pending %zu\n"
                    "# HELP vodgate_signature_flush_failures_total Commits of signature records "
                    "that failed (their records are kept and retried).\n"
                    "# TYPE vodgate_signature_flush_failures_total counter\n"
                    "vodgate_signature_flush_failures_total %llu\n"
                    "# HELP vodgate_quota_counters_cached Daily quota counters (user and day) "
                    "held in memory.\n"
                    "# TYPE vodgate_quota_counters_cached gauge\n"
                    "vodgate_quota_counters_cached %zu\n",
                    cached, (unsigned long long)evicted, pending, (unsigned long long)failures,
                    quotas);
}

/* ---- the service's operations ---- */

static bool fits(const char *s, size_t max)
{
  return s && *s && strlen(s) <= max;
}

int issuing_session_get(struct issuing *is, const char *upload_id, struct store_session *out)
{
  struct sess_e *e, *dead = NULL;
  int rc;

  memset(out, 0, sizeof(*out));
  if (!fits(upload_id, STORE_MAX_ID))
    return VG_INVALID;
  pthread_mutex_lock(&is->mu);
  rc = sess_load(is, upload_id, &e, &dead);
  if (rc == VG_OK) {
    *out = e->s;
    out->params_json = e->s.params_json ? xstrdup(e->s.params_json) : NULL;
  }
  pthread_mutex_unlock(&is->mu);
  sess_bury(dead);
  return rc;
}

int issuing_open(struct issuing *is, const struct store_session *sess, int64_t day,
                 int64_t quota_limit, const struct store_audit *a)
{
  struct store_session copy;
  struct quota_e *q, *qdead = NULL;
  struct sess_e *e, *dead = NULL;
  struct store_audit a1 = *a;
  int rc;

  /* Refused here if the store would refuse the records (store.c's own
   * checks, a as the session's first signature): acknowledged, they would
   * fail every flush after them and nothing would commit again. */
  a1.n = 1;
  copy = *sess;
  copy.first = &a1;
  if (store_session_check(&copy) != VG_OK || sess->signatures_issued != 1 || quota_limit < 0)
    return VG_INVALID;
  copy.params_json = xstrdup(sess->params_json ? sess->params_json : "{}");
  e = sess_new(&copy);
  str_copy(e->first_rid, sizeof(e->first_rid), a->request_id);
  e->first_exp = a->expire_time;
  e->first_random = a->random;
  pthread_mutex_lock(&is->mu);
  rc = is->sealed || is->pending >= ISSUING_MAX_PENDING
           ? VG_AGAIN
           : quota_load(is, sess->user_id, day, &q, &qdead);
  if (rc == VG_OK && quota_limit && q->used >= quota_limit)
    rc = VG_CONFLICT;
  if (rc == VG_OK && sess_find(is, sess->upload_id))
    rc = VG_ERR; /* a 128-bit random id came up twice: refuse, never merge */
  if (rc) {
    if (rc == VG_AGAIN)
      flush_retry(is);
    pthread_mutex_unlock(&is->mu);
    sess_bury(e);
    quota_bury(qdead);
    return rc;
  }
  q->used++;
  quota_dirty(is, q);
  sess_insert(is, e, false, &dead);
  sess_dirty(is, e); /* its row carries the first signature (flush_tx) */
  is->pending++;
  flush_soon(is);
  pthread_mutex_unlock(&is->mu);
  sess_bury(dead);
  quota_bury(qdead);
  return VG_OK;
}

int issuing_next(struct issuing *is, const char *upload_id, const char *user, int64_t now,
                 int64_t limit, const struct store_audit *a)
{
  struct sess_e *e, *dead = NULL;
  struct audit_r *r;
  struct store_audit a1 = *a;
  int rc;

  a1.n = 1; /* the store's checks (issuing_open) */
  if (!fits(upload_id, STORE_MAX_ID) || !fits(user, STORE_MAX_USER) ||
      store_audit_check(&a1) != VG_OK || strcmp(a->upload_id, upload_id) != 0 || limit < 0)
    return VG_INVALID;
  r = audit_new(a);
  pthread_mutex_lock(&is->mu);
  rc = is->sealed || is->pending >= ISSUING_MAX_PENDING ? VG_AGAIN
                                                        : sess_load(is, upload_id, &e, &dead);
  if (rc == VG_OK && (strcmp(e->s.user_id, user) != 0 || e->s.expires_at <= now))
    rc = VG_NOTFOUND;
  if (rc == VG_OK && limit && e->s.signatures_issued >= limit)
    rc = VG_CONFLICT;
  if (rc == VG_OK) {
    e->s.signatures_issued++;
    sess_dirty(is, e);
    audit_push(is, r, e->s.signatures_issued);
    r = NULL;
    flush_soon(is);
  } else if (rc == VG_AGAIN) {
    flush_retry(is);
  }
  pthread_mutex_unlock(&is->mu);
  free(r);
  sess_bury(dead);
  return rc;
}
