/*
 * uploads.c: the uploads API.
 *
 *   GET /v1/uploads/<uploadId>[?wait=SECONDS[&since=STATE]]
 *       the owning user (svc_authenticate: JWT or API token); anyone else,
 *       or an unknown id: 404. A session without a file yet is "issued".
 *   GET /v1/uploads[?user=&state=&limit=]
 *       operators, with the [auth] admin_token_file bearer token.
 *
 * Long poll (?wait): a bounded blocking wait on a condition variable,
 * woken by svc_uploads_notify() after each committed state change and
 * re-checking the store at least every second (so changes committed by
 * another process, e.g. `vodgate events replay`, are seen too). It holds an
 * HTTP worker thread, so the number of waiters is capped ([uploads]
 * max_waiters, default threads - 1: one thread always stays free for event
 * intake); beyond the cap: 503 with Retry-After. Why not MHD
 * suspend/resume: it needs a resumable handler API in http.c, which the
 * router does not have yet; this keeps the handler contract unchanged.
 */
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cfg/cfg.h"
#include "core/log.h"
#include "core/util.h"
#include "event/ledger.h"
#include "http/http.h"
#include "store/store.h"
#include "svc/app.h"
#include "svc/auth_user.h"
#include "svc/events.h"
#include "svc/state.h"

#define UPLOADS_PATH "/v1/uploads"

/* Waiters' state: one per process (one struct app per process). */
static struct {
  pthread_mutex_t mu;
  pthread_cond_t cond;
  unsigned waiters;
  unsigned long generation; /* bumped by every notify */
  bool stopping;
} watch = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, false};

void svc_uploads_init(struct app *app)
{
  (void)app;
  pthread_mutex_lock(&watch.mu);
  watch.stopping = false;
  pthread_mutex_unlock(&watch.mu);
}

void svc_uploads_release(void)
{
  pthread_mutex_lock(&watch.mu);
  watch.stopping = true;
  pthread_cond_broadcast(&watch.cond);
  pthread_mutex_unlock(&watch.mu);
}

void svc_uploads_notify(void)
{
  pthread_mutex_lock(&watch.mu);
  watch.generation++;
  pthread_cond_broadcast(&watch.cond);
  pthread_mutex_unlock(&watch.mu);
}

static bool valid_id(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > ATTR_MAX_UPLOAD_ID)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
          (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '-' || s[i] == '_'))
      return false;
  return true;
}

/* The upload of upload_id as `user` sees it: a new JSON object, or NULL
 * with *rc VG_NOTFOUND (absent or someone else's) or another error. */
static json_t *load_upload(struct store *s, const char *upload_id, const char *user, int *rc)
{
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
  *rc = store_session_get(s, upload_id, &sess);
  if (*rc != VG_OK)
    return NULL;
  if (strcmp(sess.user_id, user) == 0)
    out = ledger_upload_json(sess.upload_id, sess.user_id, "issued", NULL, NULL, sess.created_at);
  else
    *rc = VG_NOTFOUND;
  store_session_release(&sess);
  return out;
}

static const char *state_of(const json_t *u)
{
  return json_string_value(json_object_get(u, "state"));
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
  if (!valid_id(upload_id)) {
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
  u = load_upload(app->store, upload_id, who.user, &rc);
  if (!u) {
    if (rc == VG_NOTFOUND)
      http_error(res, 404, VG_CODE_NOT_FOUND, "no such upload");
    else
      http_error(res, 503, VG_CODE_UNAVAILABLE, "store unavailable");
    return;
  }
  if (wait > 0) {
    char first[24];
    enum ledger_state cur;
    struct timespec deadline;
    int64_t cap = cfg_get_int(st->cfg, "events", "max_waiters");
    bool slot;

    if (cap == 0)
      cap = cfg_get_int(st->cfg, "server", "threads") - 1;
    snprintf(first, sizeof(first), "%s", since ? since : state_of(u));
    (void)ledger_state_parse(state_of(u), &cur);
    if (strcmp(first, state_of(u)) != 0 || (!since && ledger_state_terminal(cur)))
      goto answer; /* already changed, or nothing more will happen */
    pthread_mutex_lock(&watch.mu);
    slot = (int64_t)watch.waiters < cap;
    if (slot)
      watch.waiters++;
    pthread_mutex_unlock(&watch.mu);
    if (!slot) {
      json_decref(u);
      http_error(res, 503, VG_CODE_UNAVAILABLE, "too many long polls; retry");
      (void)http_res_header(res, "Retry-After", "1");
      return;
    }
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)wait;
    for (;;) {
      struct timespec now, slice;
      unsigned long gen;
      json_t *v;
      bool stop;

      clock_gettime(CLOCK_REALTIME, &now);
      if (now.tv_sec > deadline.tv_sec ||
          (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec))
        break;
      slice = now;
      slice.tv_sec += 1;
      if (slice.tv_sec > deadline.tv_sec ||
          (slice.tv_sec == deadline.tv_sec && slice.tv_nsec > deadline.tv_nsec))
        slice = deadline;
      pthread_mutex_lock(&watch.mu);
      gen = watch.generation;
      while (!watch.stopping && gen == watch.generation &&
             pthread_cond_timedwait(&watch.cond, &watch.mu, &slice) != ETIMEDOUT)
        ;
      stop = watch.stopping;
      pthread_mutex_unlock(&watch.mu);
      if (stop || atomic_load(&app->draining))
        break;
      v = load_upload(app->store, upload_id, who.user, &rc);
      if (!v)
        break;
      json_decref(u);
      u = v;
      if (strcmp(first, state_of(u)) != 0)
        break;
    }
    pthread_mutex_lock(&watch.mu);
    watch.waiters--;
    pthread_mutex_unlock(&watch.mu);
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
