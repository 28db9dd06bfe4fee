/*
 * uploads.c: the uploads API.
 *
 *   GET /v1/uploads/<uploadId>[?wait=SECONDS[&since=STATE]]
 *       the owning user (svc_authenticate: JWT or API token); anyone else,
 *       or an unknown id: 404. A session without a file yet is "issued".
 *   GET /v1/uploads[?user=&state=&limit=]
 *       operators, with the [auth] admin_token_file bearer token.
 *
 * Long poll (?wait): the handler defers its answer (http_defer: the
 * connection is suspended, no worker thread is held) and queues a waiter;
 * one watcher thread re-reads the waiting uploads after each committed
 * change (svc_uploads_notify) and at least every second, and answers each
 * waiter when its state changed, when its time is up, or when the server
 * drains. At most [events] max_waiters wait at once; beyond: 503 with
 * Retry-After; at most [events] max_waiters_per_user of one user's; beyond:
 * 429 with Retry-After.
 *
 * A change re-reads only the waiters of the upload that changed (notify
 * passes its id): re-reading every waiter after every committed event cost
 * a store read per waiter per event, 1000 waiters under 5,000 events/s kept
 * the watcher busy on 65% of a CPU, re-reading uploads nothing had touched.
 */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfg/cfg.h"
#include "attr/attr.h"
#include "core/log.h"
#include "core/util.h"
#include "event/ledger.h"
#include "http/http.h"
#include "http/metrics.h"
#include "store/store.h"
#include "svc/app.h"
#include "svc/auth_user.h"
#include "svc/events.h"
#include "svc/issuing.h"
#include "svc/state.h"

#define UPLOADS_PATH "/v1/uploads"

/* One long poll: its connection is suspended (http_defer) until the
 * watcher thread answers it. */
struct waiter {
  struct waiter *next;
  char upload_id[ATTR_MAX_UPLOAD_ID + 1];
  char user[STORE_MAX_USER + 1];
  char first[24];       /* answer once the state differs from this */
  struct timespec due;  /* CLOCK_MONOTONIC: answer anyway then */
  bool fresh;           /* not checked since it was queued */
  json_t *last;         /* the upload as last read */
  struct http_res *res; /* the deferred answer */
};

/* Upload ids changed since the watcher last looked, kept while anyone
 * waits; past this many in one round the watcher re-reads every waiter
 * instead (as often as the watcher's rounds are slower than the commits
 * that change uploads: a round of reads takes a few milliseconds). */
#define WATCH_MAX_CHANGED 256

/* The waiters and their thread: one per process (one struct app). */
static struct {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  struct waiter *list;
  unsigned n;
  unsigned long generation; /* bumped by every notify that recorded a change */
  char changed[WATCH_MAX_CHANGED][ATTR_MAX_UPLOAD_ID + 1];
  size_t nchanged;
  bool changed_all; /* more than WATCH_MAX_CHANGED ids: re-read everyone */
  bool stopping, started;
  pthread_t thread;
  struct app *app;
} watch = {.mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

/* The watcher's copy of the changed ids of one round, sorted. */
static char round_ids[WATCH_MAX_CHANGED][ATTR_MAX_UPLOAD_ID + 1];

static int id_cmp(const void *a, const void *b)
{
  return strcmp(a, b);
}

static json_t *load_upload(struct app *app, const char *upload_id, const char *user, int *rc);

static const char *state_of(const json_t *u)
{
  return json_string_value(json_object_get(u, "state"));
}

static bool past(const struct timespec *now, const struct timespec *t)
{
  return now->tv_sec > t->tv_sec || (now->tv_sec == t->tv_sec && now->tv_nsec >= t->tv_nsec);
}

static void waiter_answer(struct waiter *w)
{
  http_res_json(w->res, 200,
                json_pack("{s:i,s:s,s:o}", "code", 0, "message", "ok", "data", w->last));
  w->last = NULL;
  http_resume(w->res);
  free(w);
}

/* The watcher: re-reads every waiting upload after each committed change
 * (svc_uploads_notify) and at least every WATCH_TICK_MS (changes made by
 * another process), answers those whose state changed, whose time is up,
 * and all of them when the server drains or stops. Store reads happen
 * without the lock, so notify (called by the store's writer) never waits
 * for a read. */
#define WATCH_TICK_MS   200
#define WATCH_RECHECK_S 1

static void *watch_main(void *arg)
{
  struct timespec last_check = {0, 0};
  unsigned long seen = 0;

  thread_name("vg-uploads");

  (void)arg;
  pthread_mutex_lock(&watch.mu);
  while (!watch.stopping || watch.list) {
    struct timespec now, wake;
    struct waiter *todo, *keep = NULL, *w, *next;
    bool all, draining;
    size_t nids;
    /* store reads by cause: new waiter, its upload changed, the periodic
     * re-read of all, its time is up or the server drains */
    uint64_t reads[4] = {0, 0, 0, 0};

    clock_gettime(CLOCK_REALTIME, &wake);
    wake.tv_nsec += WATCH_TICK_MS * 1000000L;
    if (wake.tv_nsec >= 1000000000L) {
      wake.tv_sec++;
      wake.tv_nsec -= 1000000000L;
    }
    if (!watch.stopping && seen == watch.generation)
      (void)pthread_cond_timedwait(&watch.cond, &watch.mu, &wake);
    todo = watch.list;
    watch.list = NULL;
    seen = watch.generation;
    all = watch.changed_all;
    nids = watch.nchanged;
    memcpy(round_ids, watch.changed, nids * sizeof(round_ids[0]));
    watch.nchanged = 0;
    watch.changed_all = false;
    draining = watch.stopping || atomic_load(&watch.app->draining);
    pthread_mutex_unlock(&watch.mu);

    qsort(round_ids, nids, sizeof(round_ids[0]), id_cmp);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - last_check.tv_sec >= WATCH_RECHECK_S) {
      all = true;
      last_check = now;
    }
    for (w = todo; w; w = next) {
      bool done = draining || past(&now, &w->due);
      bool changed =
          !all && nids && bsearch(w->upload_id, round_ids, nids, sizeof(round_ids[0]), id_cmp);
      next = w->next;
      if (all || w->fresh || done || changed) {
        int rc;
        json_t *v = load_upload(watch.app, w->upload_id, w->user, &rc);
        reads[w->fresh ? 0 : changed ? 1 : all ? 2 : 3]++;
        w->fresh = false;
        if (v) {
          json_decref(w->last);
          w->last = v;
        }
        done = done || !v || strcmp(w->first, state_of(w->last)) != 0;
      }
      if (done) {
        pthread_mutex_lock(&watch.mu);
        watch.n--;
        pthread_mutex_unlock(&watch.mu);
        waiter_answer(w);
      } else {
        w->next = keep;
        keep = w;
      }
    }
    metrics_add("vodgate_upload_watch_reads_total", "cause", "new", reads[0]);
    metrics_add("vodgate_upload_watch_reads_total", "cause", "change", reads[1]);
    metrics_add("vodgate_upload_watch_reads_total", "cause", "recheck", reads[2]);
    metrics_add("vodgate_upload_watch_reads_total", "cause", "due", reads[3]);
    pthread_mutex_lock(&watch.mu);
    for (w = keep; w; w = next) {
      next = w->next;
      w->next = watch.list;
      watch.list = w;
    }
  }
  pthread_mutex_unlock(&watch.mu);
  return NULL;
}

int svc_uploads_init(struct app *app)
{
  pthread_mutex_lock(&watch.mu);
  watch.stopping = false;
  watch.app = app;
  watch.started = pthread_create(&watch.thread, NULL, watch_main, NULL) == 0;
  pthread_mutex_unlock(&watch.mu);
  return watch.started ? 0 : -1;
}

void svc_uploads_release(void)
{
  pthread_mutex_lock(&watch.mu);
  watch.stopping = true;
  pthread_cond_broadcast(&watch.cond);
  pthread_mutex_unlock(&watch.mu);
  if (watch.started)
    pthread_join(watch.thread, NULL);
  watch.started = false;
}

void svc_uploads_notify(const char *upload_id)
{
  /* A file attributed to no upload is no waiter's: waiters ask by upload. */
  if (!upload_id || !*upload_id)
    return;
  pthread_mutex_lock(&watch.mu);
  /* Nobody waits: nothing to record, nobody to wake (the writer calls this
   * for every committed change; a new waiter reads its upload once after
   * it is queued, so a change made before that is seen all the same). */
  if (watch.n > 0) {
    if (watch.nchanged < WATCH_MAX_CHANGED)
      str_copy(watch.changed[watch.nchanged++], sizeof(watch.changed[0]), upload_id);
    else
      watch.changed_all = true;
    watch.generation++;
    pthread_cond_broadcast(&watch.cond);
  }
  pthread_mutex_unlock(&watch.mu);
}

/* The upload of upload_id as `user` sees it: a new JSON object, or NULL
 * with *rc VG_NOTFOUND (absent or someone else's) or another error. */
static json_t *load_upload(struct app *app, const char *upload_id, const char *user, int *rc)
{
  struct store *s = app->store;
  struct svc *svc = svc_of(app);
  struct store_ledger l;
  struct store_session sess;
  json_t *out = NULL;

  *rc = store_ledger_get_by_upload(s, upload_id, &l);
  if (*rc == VG_OK) {
    if (strcmp(l.user_id, user) == 0) {
      json_t *d = json_loads(l.detail_json ? l.detail_json : "{}", 0, NULL);
      out = ledger_upload_json(l.upload_id, l.user_id, l.state, l.file_id, d, l.updated_at);
      json_decref(d);
    } else {
      *rc = VG_NOTFOUND;
    }
    store_ledger_release(&l);
    return out;
  }
  if (*rc != VG_NOTFOUND)
    return NULL;
  /* A session opened a moment ago may still be on its way to the store. */
  *rc = svc && svc->issuing ? issuing_session_get(svc->issuing, upload_id, &sess)
                            : store_session_get(s, upload_id, &sess);
  if (*rc != VG_OK)
    return NULL;
  if (strcmp(sess.user_id, user) == 0)
    out = ledger_upload_json(sess.upload_id, sess.user_id, "issued", NULL, NULL, sess.created_at);
  else
    *rc = VG_NOTFOUND;
  store_session_release(&sess);
  return out;
}

/* How many long polls user has waiting; under watch.mu. A walk of at most
 * max_waiters entries, once per new long poll. */
static int64_t user_waiters(const char *user)
{
  int64_t n = 0;

  for (const struct waiter *w = watch.list; w; w = w->next)
    n += strcmp(w->user, user) == 0;
  return n;
}

static void get_one(struct app *app, struct svc_state *st, struct http_req *req,
                    struct http_res *res, const char *upload_id)
{
  struct svc_identity who;
  const char *wait_s = http_req_query(req, "wait");
  const char *since = http_req_query(req, "since");
  enum ledger_state ls;
  int64_t wait = 0, max_wait = cfg_get_int(st->cfg, "events", "max_wait");
  json_t *u;
  int rc;

  if (svc_authenticate(app, st, req, res, &who))
    return;
  if (!attr_upload_id_valid(upload_id)) {
    http_error(res, 404, VG_CODE_NOT_FOUND, "no such upload");
    return;
  }
  if (wait_s && (parse_i64z(wait_s, &wait) || wait < 0)) {
    http_error(res, 400, VG_CODE_BAD_REQUEST, "wait must be a number of seconds");
    return;
  }
  if (since && !ledger_state_parse(since, &ls)) {
    http_error(res, 400, VG_CODE_BAD_REQUEST, "since must be an upload state");
    return;
  }
  if (wait > max_wait)
    wait = max_wait;
  u = load_upload(app, upload_id, who.user, &rc);
  if (!u) {
    if (rc == VG_NOTFOUND)
      http_error(res, 404, VG_CODE_NOT_FOUND, "no such upload");
    else
      http_error(res, 503, VG_CODE_UNAVAILABLE, "store unavailable");
    return;
  }
  if (wait > 0) {
    enum ledger_state cur;
    const char *first = since ? since : state_of(u);
    int64_t cap = cfg_get_int(st->cfg, "events", "max_waiters");
    int64_t per_user = cfg_get_int(st->cfg, "events", "max_waiters_per_user");
    struct waiter *w;

    (void)ledger_state_parse(state_of(u), &cur);
    if (strcmp(first, state_of(u)) != 0 || (!since && ledger_state_terminal(cur)))
      goto answer; /* already changed, or nothing more will happen */
    pthread_mutex_lock(&watch.mu);
    if ((int64_t)watch.n >= cap || watch.stopping || !watch.started) {
      pthread_mutex_unlock(&watch.mu);
      json_decref(u);
      http_error(res, 503, VG_CODE_UNAVAILABLE, "too many long polls; retry");
      (void)http_res_header(res, "Retry-After", "1");
      return;
    }
    if (per_user > 0 && user_waiters(who.user) >= per_user) {
      pthread_mutex_unlock(&watch.mu);
      json_decref(u);
      http_error(res, 429, VG_CODE_RATE_LIMITED, "too many long polls of this user; retry");
      (void)http_res_header(res, "Retry-After", "1");
      return;
    }
    w = xcalloc(1, sizeof(*w));
    snprintf(w->upload_id, sizeof(w->upload_id), "%s", upload_id);
    snprintf(w->user, sizeof(w->user), "%s", who.user);
    snprintf(w->first, sizeof(w->first), "%s", first);
    clock_gettime(CLOCK_MONOTONIC, &w->due);
    w->due.tv_sec += (time_t)wait;
    w->fresh = true; /* a change may have committed since the read above */
    w->last = u;
    w->res = http_defer(req); /* the watcher answers; no worker thread waits */
    w->next = watch.list;
    watch.list = w;
    watch.n++;
    pthread_cond_broadcast(&watch.cond);
    pthread_mutex_unlock(&watch.mu);
    return;
  }
answer:
  http_res_json(res, 200, json_pack("{s:i,s:s,s:o}", "code", 0, "message", "ok", "data", u));
}

/* The admin credential: Bearer <[auth] admin_token>, compared as SHA-256
 * digests in constant time. */
static bool admin_ok(const struct cfg *c, struct http_req *req, struct http_res *res)
{
  size_t tlen = 0;
  const char *tok = cfg_get_secret(c, "auth", "admin_token", &tlen);
  const char *h = http_req_header(req, "Authorization");
  unsigned char a[32], b[32];
  unsigned int alen = 0, blen = 0;

  if (!tok) {
    http_error(res, 403, VG_CODE_FORBIDDEN,
               "the admin API is off: set [auth] admin_token_file (VODGATE_AUTH_ADMIN_TOKEN)");
    return false;
  }
  if (!h || strncmp(h, "Bearer ", 7) != 0 || !h[7]) {
    http_error(res, 401, VG_CODE_MISSING_CREDENTIALS, "missing credentials: admin bearer token");
    (void)http_res_header(res, "WWW-Authenticate", "Bearer");
    return false;
  }
  h += 7;
  if (!EVP_Digest(h, strlen(h), a, &alen, EVP_sha256(), NULL) ||
      !EVP_Digest(tok, tlen, b, &blen, EVP_sha256(), NULL) || !ct_equal(a, alen, b, blen)) {
    http_error(res, 401, VG_CODE_BAD_TOKEN, "bad token: not the admin token");
    (void)http_res_header(res, "WWW-Authenticate", "Bearer error=\"invalid_token\"");
    return false;
  }
  return true;
}

static int list_cb(const struct store_ledger *l, void *arg)
{
  json_t *d = json_loads(l->detail_json ? l->detail_json : "{}", 0, NULL);
  json_array_append_new(
      arg, ledger_upload_json(l->upload_id, l->user_id, l->state, l->file_id, d, l->updated_at));
  json_decref(d);
  return 0;
}

static void list_all(struct app *app, struct svc_state *st, struct http_req *req,
                     struct http_res *res)
{
  const char *user = http_req_query(req, "user");
  const char *state = http_req_query(req, "state");
  const char *lim = http_req_query(req, "limit");
  enum ledger_state ls;
  int64_t limit = 100;
  json_t *arr;
  int rc;

  if (!admin_ok(st->cfg, req, res))
    return;
  if (lim && (parse_i64z(lim, &limit) || limit < 1 || limit > STORE_MAX_LIST)) {
    http_error(res, 400, VG_CODE_BAD_REQUEST, "limit must be 1..1000");
    return;
  }
  if (state && (!ledger_state_parse(state, &ls) || ls == LEDGER_ISSUED)) {
    http_error(res, 400, VG_CODE_BAD_REQUEST,
               "state must be one of uploaded, processing, passed, review, blocked, failed, "
               "rejected (issued sessions have no file to list)");
    return;
  }
  if (user && (!*user || strlen(user) > STORE_MAX_USER)) {
    http_error(res, 400, VG_CODE_BAD_REQUEST, "user is empty or too long");
    return;
  }
  arr = json_array();
  rc = store_ledger_list(app->store, user, state, limit, list_cb, arr);
  if (rc) {
    json_decref(arr);
    http_error(res, 503, VG_CODE_UNAVAILABLE, "store unavailable");
    return;
  }
  http_res_json(res, 200,
                json_pack("{s:i,s:s,s:{s:o}}", "code", 0, "message", "ok", "data", "uploads", arr));
}

void svc_uploads(struct http_req *req, struct http_res *res, void *user)
{
  struct app *app = user;
  struct svc_state *st = svc_state_get(app);
  const char *rest = req->path + strlen(UPLOADS_PATH);

  if (strncmp(req->path, UPLOADS_PATH, strlen(UPLOADS_PATH)) != 0)
    http_error(res, 404, VG_CODE_NOT_FOUND, "not found");
  else if (*rest == '\0')
    list_all(app, st, req, res);
  else if (*rest == '/' && rest[1] && !strchr(rest + 1, '/'))
    get_one(app, st, req, res, rest + 1);
  else
    http_error(res, 404, VG_CODE_NOT_FOUND, "not found");
  svc_state_unref(st);
}
