/*
 * emu.c: the running emulator (see emu.h). The protocol decisions live in
 * the pure core (ugc.c, cos_auth.c, cos_xml.c, sig.c, tc3.c); this file
 * keeps state, touches files, pushes events (net/http_client) and answers.
 */
#include "emu/emu.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/buf.h"
#include "core/io.h"
#include "core/log.h"
#include "core/util.h"
#include "emu/cos_auth.h"
#include "emu/cos_xml.h"
#include "emu/ugc.h"
#include "net/http_client.h"
#include "sig/sig.h"
#include "tc3/tc3.h"

#define EMU_PULL_MAX      16    /* PullEvents: at most 16 events (VOD doc) */
#define EMU_LEASE_S       30    /* an unconfirmed handle is redelivered after 30 s */
#define EMU_POLL_MS       5000  /* PullEvents holds an empty poll up to 5 s */
#define EMU_PUSH_TIMEOUT  5000L /* VOD's callback timeout: 5 s */
#define EMU_PUSH_MAX_BODY 65536 /* of a receiver's answer: VOD reads only the status */
#define EMU_PUSH_ATTEMPTS 3     /* 1 + 2 retries (VOD doc) */
#define EMU_SIGN_TTL      600   /* T = now + 10 min, VOD's default */
#define EMU_MAX_FAIL      16    /* distinct actions with injected failures */
#define EMU_COS_SKEW      900   /* q-sign start may be this far in the future */
#define EMU_MAX_MP        4096  /* multipart uploads kept */
#define EMU_MAX_SESSIONS  65536 /* sessions kept in memory */

struct emu_part {
  uint32_t number;
  char etag[33];
  uint64_t size;
  int64_t at;
};

struct emu_mp {
  char id[33];
  char key[UGC_MAX_PATH + 1]; /* "/bucket/..." */
  unsigned char sess[16];
  int64_t initiated;
  struct emu_part *parts;
  size_t nparts, cap;
};

struct emu_used {
  unsigned char digest[32];
  int64_t expires;
};

struct emu_pev { /* an event kept for PullEvents */
  json_t *ev;
  uint64_t seq;
  char handle[33];
  int64_t lease_until; /* 0: never pulled */
  bool confirmed;
};

struct emu_push {
  json_t *ev;
  int64_t due_ms;
  struct emu_push *next;
};

struct emu_waiter {
  struct http_res *p;
  int64_t deadline_ms;
  struct emu_waiter *next;
};

struct emu_fail {
  char action[40];
  unsigned n;
};

struct emu {
  struct ugc_config cfg;
  char *secret_id, *secret_key, *callback_url, *sign_key, *data_dir;

  pthread_mutex_t mu;
  pthread_cond_t push_cv, poll_cv;
  bool stopping;
  atomic_bool cancel; /* set by emu_stop: abandons a push in flight */
  pthread_t push_thr, poll_thr;

  struct ugc_session **sessions;
  size_t nsessions;
  struct emu_mp *mps;
  size_t nmps;
  struct emu_used *used;
  size_t nused;
  struct emu_pev *pevs;
  size_t npevs;
  uint64_t seq;
  struct emu_push *pushq, *held;
  struct emu_waiter *waiters;
  char **deleted;
  size_t ndeleted;

  /* faults */
  unsigned f_drop, f_dup, f_reorder, f_delay_ms;
  unsigned lease_s;
  struct emu_fail fails[EMU_MAX_FAIL];
  /* counters for /__emu/state */
  unsigned long pushed_ok, pushed_failed, pushes_dropped;
};

static int64_t now_s(void)
{
  return (int64_t)time(NULL);
}

static int64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* mkdir -p; a path too long for it is left alone (opening a file there
 * then fails and says so), never cut short into another directory. */
static void mkdirs(const char *path)
{
  char tmp[1024];
  if ((size_t)snprintf(tmp, sizeof(tmp), "%s", path) >= sizeof(tmp))
    return;
  for (char *p = tmp + 1; *p; p++) {
    if (*p == '/') {
      *p = '\0';
      mkdir(tmp, 0700);
      *p = '/';
    }
  }
  mkdir(tmp, 0700);
}

/* ---- faults ---- */

/* Consume one injected failure of action; true if this request must fail. */
static bool fail_take(struct emu *e, const char *action)
{
  bool hit = false;
  pthread_mutex_lock(&e->mu);
  for (size_t i = 0; i < EMU_MAX_FAIL; i++) {
    if (e->fails[i].n && strcmp(e->fails[i].action, action) == 0) {
      e->fails[i].n--;
      hit = true;
      break;
    }
  }
  pthread_mutex_unlock(&e->mu);
  return hit;
}

/* ---- sessions (locked) ---- */

static struct ugc_session *session_find(struct emu *e, const unsigned char id[16])
{
  for (size_t i = 0; i < e->nsessions; i++)
    if (memcmp(e->sessions[i]->id, id, 16) == 0)
      return e->sessions[i];
  return NULL;
}

static struct ugc_session *session_by_file(struct emu *e, const char *file_id)
{
  for (size_t i = 0; i < e->nsessions; i++)
    if (e->sessions[i]->committed && strcmp(e->sessions[i]->file_id, file_id) == 0)
      return e->sessions[i];
  return NULL;
}

static bool is_deleted(struct emu *e, const char *file_id)
{
  for (size_t i = 0; i < e->ndeleted; i++)
    if (strcmp(e->deleted[i], file_id) == 0)
      return true;
  return false;
}

static void object_file(const struct emu *e, const char *path, char *out, size_t n)
{
  snprintf(out, n, "%s/objects%s", e->data_dir, path);
}

/* ---- events ---- */

static void push_insert(struct emu *e, struct emu_push *p)
{
  struct emu_push **pp = &e->pushq;
  while (*pp && (*pp)->due_ms <= p->due_ms)
    pp = &(*pp)->next;
  p->next = *pp;
  *pp = p;
}

/* Queue one event for push (with faults applied) and for pull. Steals ev.
 * Locked by the caller. */
static void event_emit(struct emu *e, json_t *ev)
{
  struct emu_pev *pv;

  e->pevs = xrealloc(e->pevs, (e->npevs + 1) * sizeof(*e->pevs));
  pv = &e->pevs[e->npevs++];
  memset(pv, 0, sizeof(*pv));
  pv->ev = json_incref(ev);
  pv->seq = ++e->seq;
  pthread_cond_broadcast(&e->poll_cv);

  if (!e->callback_url || e->f_drop) {
    if (e->callback_url) {
      e->f_drop--;
      e->pushes_dropped++;
      log_info("emulate: fault: push dropped");
    }
    json_decref(ev);
    return;
  }
  {
    struct emu_push *p = xcalloc(1, sizeof(*p));
    p->ev = ev;
    p->due_ms = now_ms() + e->f_delay_ms;
    if (e->f_reorder && !e->held) {
      e->f_reorder--;
      e->held = p; /* sent right after the next event */
      return;
    }
    push_insert(e, p);
    if (e->held) {
      e->held->due_ms = p->due_ms;
      push_insert(e, e->held);
      e->held = NULL;
    }
    if (e->f_dup) {
      struct emu_push *d = xcalloc(1, sizeof(*d));
      e->f_dup--;
      d->ev = json_incref(ev);
      d->due_ms = p->due_ms;
      push_insert(e, d);
    }
  }
  pthread_cond_broadcast(&e->push_cv);
}

/* One POST of body to the callback URL; true on a 2xx answer. */
static bool push_once(struct emu *e, struct http_client *hc, const char *body, long *status)
{
  static const char *const hdrs[] = {"Content-Type: application/json"};
  struct http_client_resp resp;
  int rc = http_client_post(hc, e->callback_url, hdrs, 1, body, strlen(body), 0, &resp);

  /* A longer answer than EMU_PUSH_MAX_BODY still carries its status, and
   * the status is all VOD reads. */
  *status = rc == VG_OK || (rc == VG_TOOBIG && resp.status != 0) ? resp.status : 0;
  http_client_resp_release(&resp);
  return *status >= 200 && *status < 300;
}

static void *push_main(void *arg)
{
  struct emu *e = arg;
  /* One client (and kept-alive connection) for this thread's pushes. */
  struct http_client *hc = http_client_new(&(struct http_client_opts){
      .timeout_ms = EMU_PUSH_TIMEOUT,
      .max_body = EMU_PUSH_MAX_BODY,
      .user_agent = "vodgate-emulate",
      .cancel = &e->cancel,
  });

  thread_name("vg-emu-push");

  pthread_mutex_lock(&e->mu);
  while (!e->stopping) {
    struct emu_push *p = e->pushq;
    int64_t t = now_ms();
    if (!p || p->due_ms > t) {
      if (!p) {
        pthread_cond_wait(&e->push_cv, &e->mu);
      } else {
        struct timespec ts = {(time_t)(p->due_ms / 1000), (long)(p->due_ms % 1000) * 1000000};
        pthread_cond_timedwait(&e->push_cv, &e->mu, &ts);
      }
      continue;
    }
    e->pushq = p->next;
    pthread_mutex_unlock(&e->mu);
    {
      bool ok = false;
      long status = 0;
      for (int i = 0; i < EMU_PUSH_ATTEMPTS && !ok; i++) {
        json_t *copy = json_deep_copy(p->ev);
        char *body;
        if (e->sign_key)
          ugc_event_sign(copy, e->sign_key, now_s() + EMU_SIGN_TTL);
        body = json_dumps(copy, JSON_COMPACT);
        json_decref(copy);
        ok = body && push_once(e, hc, body, &status);
        free(body);
        log_json(LOG_INFO, json_pack("{s:s,s:s,s:i,s:i,s:b}", "msg", "event push", "event_type",
                                     json_string_value(json_object_get(p->ev, "EventType")),
                                     "attempt", i + 1, "status", (int)status, "ok", ok));
        if (!ok && i + 1 < EMU_PUSH_ATTEMPTS)
          usleep(200 * 1000);
      }
      pthread_mutex_lock(&e->mu);
      if (ok)
        e->pushed_ok++;
      else
        e->pushed_failed++;
    }
    json_decref(p->ev);
    free(p);
  }
  pthread_mutex_unlock(&e->mu);
  http_client_free(hc);
  return NULL;
}

/* ---- API 3.0 answers ---- */

static void rid_new(char out[37])
{
  unsigned char r[16];
  random_bytes(r, sizeof(r));
  snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
           r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
           r[15]);
}

/* {"Response":{...body..., "RequestId"}}; steals body (NULL: {}). */
static void api_answer(struct http_res *res, json_t *body)
{
  char rid[37];
  rid_new(rid);
  if (!body)
    body = json_object();
  json_object_set_new(body, "RequestId", json_string(rid));
  http_res_json(res, 200, json_pack("{s:o}", "Response", body));
}

static void api_error(struct http_res *res, const char *code, const char *msg)
{
  api_answer(res, json_pack("{s:{s:s,s:s}}", "Error", "Code", code, "Message", msg));
}

/* Locked: up to EMU_PULL_MAX deliverable events, leased now; NULL if none. */
static json_t *pull_take(struct emu *e)
{
  int64_t t = now_s();
  json_t *set = NULL;
  size_t n = 0;

  for (size_t i = 0; i < e->npevs && n < EMU_PULL_MAX; i++) {
    struct emu_pev *pv = &e->pevs[i];
    json_t *item;
    unsigned char r[16];
    if (pv->confirmed || (pv->lease_until && pv->lease_until > t))
      continue;
    random_bytes(r, sizeof(r));
    hex_encode(r, sizeof(r), pv->handle);
    pv->lease_until = t + e->lease_s;
    item = json_deep_copy(pv->ev);
    json_object_set_new(item, "EventHandle", json_string(pv->handle));
    if (!set)
      set = json_array();
    json_array_append_new(set, item);
    n++;
  }
  return set;
}

static void pull_answer(struct http_res *res, json_t *set)
{
  api_answer(res, json_pack("{s:o}", "EventSet", set ? set : json_array()));
}

static void *poll_main(void *arg)
{
  struct emu *e = arg;

  thread_name("vg-emu-poll");

  pthread_mutex_lock(&e->mu);
  for (;;) {
    struct emu_waiter **wp = &e->waiters;
    int64_t t = now_ms(), next = t + 1000;
    while (*wp) {
      struct emu_waiter *w = *wp;
      json_t *set = e->stopping ? NULL : pull_take(e);
      if (set || e->stopping || w->deadline_ms <= t) {
        *wp = w->next;
        pull_answer(w->p, set);
        http_resume(w->p);
        free(w);
        continue;
      }
      if (w->deadline_ms < next)
        next = w->deadline_ms;
      wp = &w->next;
    }
    if (e->stopping)
      break;
    {
      /* Leases also expire with time: look again at least every second. */
      struct timespec ts = {(time_t)(next / 1000), (long)(next % 1000) * 1000000};
      pthread_cond_timedwait(&e->poll_cv, &e->mu, &ts);
    }
  }
  pthread_mutex_unlock(&e->mu);
  return NULL;
}

static const char *api_lookup(void *ud, const char *secret_id)
{
  struct emu *e = ud;
  return strcmp(secret_id, e->secret_id) == 0 ? e->secret_key : NULL;
}

static json_t *media_info(struct emu *e, const struct ugc_session *s)
{
  char url[256], file[1200];
  struct stat st;
  uint64_t size = 0;
  ugc_media_url(&e->cfg, s->media_path, url, sizeof(url));
  object_file(e, s->media_path, file, sizeof(file));
  if (stat(file, &st) == 0)
    size = (uint64_t)st.st_size;
  return json_pack("{s:s,s:{s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s}},s:{s:I}}", "FileId", s->file_id,
                   "BasicInfo", "Name", s->media_name, "Type", s->media_type, "MediaUrl", url,
                   "StoragePath", s->media_path, "SourceInfo", "SourceType", "Upload",
                   "SourceContext", s->source_context, "SessionContext", s->session_context,
                   "MetaData", "Size", (json_int_t)size);
}

static void api_handle(struct emu *e, struct http_req *req, struct http_res *res)
{
  const char *action = http_req_header(req, "X-TC-Action");
  struct tc3_verify v;
  struct tc3_auth auth;
  enum tc3_status st;
  json_t *body = NULL;
  json_error_t jerr;

  if (strcmp(req->method, "POST") != 0 || !action) {
    api_error(res, "InvalidAction", "POST / with X-TC-Action expected");
    return;
  }
  memset(&v, 0, sizeof(v));
  v.authorization = http_req_header(req, "Authorization");
  v.timestamp = http_req_header(req, "X-TC-Timestamp");
  v.action = action;
  v.method = "POST";
  v.host = http_req_header(req, "Host");
  v.content_type = http_req_header(req, "Content-Type");
  v.payload = req->body;
  v.payload_len = req->body_len;
  v.now = now_s();
  v.lookup = api_lookup;
  v.ud = e;
  if (!v.host || !v.content_type) {
    api_error(res, "AuthFailure.InvalidAuthorization", "Host and Content-Type are required");
    return;
  }
  st = tc3_verify(&v, &auth);
  if (st != TC3_OK) {
    api_error(res, tc3_status_code(st), tc3_status_message(st));
    return;
  }
  if (fail_take(e, action)) {
    api_error(res, "InternalError", "injected failure (emulator fault injection)");
    return;
  }
  body = json_loadb(req->body_len ? req->body : "{}", req->body_len ? req->body_len : 2,
                    JSON_REJECT_DUPLICATES, &jerr);
  if (!json_is_object(body)) {
    json_decref(body);
    api_error(res, "InvalidParameter", "the body must be a JSON object");
    return;
  }
  if (strcmp(action, "PullEvents") == 0) {
    json_t *set;
    pthread_mutex_lock(&e->mu);
    set = pull_take(e);
    if (!set && !e->stopping) {
      struct emu_waiter *w = xcalloc(1, sizeof(*w));
      w->p = http_defer(req);
      w->deadline_ms = now_ms() + EMU_POLL_MS;
      w->next = e->waiters;
      e->waiters = w;
      pthread_cond_broadcast(&e->poll_cv);
      pthread_mutex_unlock(&e->mu);
      json_decref(body);
      return;
    }
    pthread_mutex_unlock(&e->mu);
    pull_answer(res, set);
  } else if (strcmp(action, "ConfirmEvents") == 0) {
    json_t *hs = json_object_get(body, "EventHandles"), *h;
    size_t i, bad = 0;
    if (!json_is_array(hs) || json_array_size(hs) == 0 || json_array_size(hs) > EMU_PULL_MAX) {
      api_error(res, "InvalidParameterValue.EventHandles", "EventHandles: 1 to 16 handles");
    } else {
      int64_t t = now_s();
      pthread_mutex_lock(&e->mu);
      json_array_foreach(hs, i, h)
      {
        bool found = false;
        for (size_t k = 0; k < e->npevs && json_is_string(h); k++) {
          struct emu_pev *pv = &e->pevs[k];
          if (pv->handle[0] && strcmp(pv->handle, json_string_value(h)) == 0) {
            if (pv->confirmed || pv->lease_until > t) {
              pv->confirmed = true;
              found = true;
            }
            break;
          }
        }
        if (!found)
          bad++;
      }
      pthread_mutex_unlock(&e->mu);
      if (bad)
        api_error(res, "InvalidParameterValue.EventHandles",
                  "an EventHandle is unknown or its 30 s lease expired");
      else
        api_answer(res, NULL);
    }
  } else if (strcmp(action, "DescribeMediaInfos") == 0) {
    json_t *ids = json_object_get(body, "FileIds"), *id;
    size_t i;
    if (!json_is_array(ids) || json_array_size(ids) == 0 || json_array_size(ids) > 20) {
      api_error(res, "InvalidParameterValue.FileIds", "FileIds: 1 to 20 ids");
    } else {
      json_t *set = json_array(), *missing = json_array();
      pthread_mutex_lock(&e->mu);
      json_array_foreach(ids, i, id)
      {
        const char *fid = json_string_value(id);
        struct ugc_session *s = fid ? session_by_file(e, fid) : NULL;
        if (s && !is_deleted(e, fid))
          json_array_append_new(set, media_info(e, s));
        else
          json_array_append_new(missing, json_string(fid ? fid : ""));
      }
      pthread_mutex_unlock(&e->mu);
      api_answer(res, json_pack("{s:o,s:o}", "MediaInfoSet", set, "NotExistFileIdSet", missing));
    }
  } else if (strcmp(action, "DeleteMedia") == 0) {
    const char *fid = json_string_value(json_object_get(body, "FileId"));
    struct ugc_session *s;
    pthread_mutex_lock(&e->mu);
    s = fid ? session_by_file(e, fid) : NULL;
    if (!s || is_deleted(e, fid)) {
      pthread_mutex_unlock(&e->mu);
      api_error(res, "ResourceNotFound.FileNotExist", "no such FileId");
    } else {
      char file[1200];
      object_file(e, s->media_path, file, sizeof(file));
      unlink(file);
      e->deleted = xrealloc(e->deleted, (e->ndeleted + 1) * sizeof(char *));
      e->deleted[e->ndeleted++] = xstrdup(fid);
      event_emit(e, json_pack("{s:s,s:{s:[s]}}", "EventType", "FileDeleted", "FileDeleteEvent",
                              "FileIdSet", fid));
      pthread_mutex_unlock(&e->mu);
      api_answer(res, NULL);
    }
  } else {
    api_error(res, "InvalidAction", "action not emulated");
  }
  json_decref(body);
}

/* ---- VOD-UGC ---- */

static void ugc_cors(struct http_req *req, struct http_res *res)
{
  const char *origin = http_req_header(req, "Origin");
  http_res_header(res, "Access-Control-Allow-Origin", origin ? origin : "*");
  http_res_header(res, "Vary", "Origin");
}

static void ugc_answer(struct http_req *req, struct http_res *res, json_t *env)
{
  ugc_cors(req, res);
  http_res_json(res, 200, env);
}

static void preflight(struct http_req *req, struct http_res *res, const char *methods,
                      const char *expose)
{
  const char *hdrs = http_req_header(req, "Access-Control-Request-Headers");
  ugc_cors(req, res);
  http_res_header(res, "Access-Control-Allow-Methods", methods);
  if (hdrs && *hdrs)
    http_res_header(res, "Access-Control-Allow-Headers", hdrs);
  if (expose)
    http_res_header(res, "Access-Control-Expose-Headers", expose);
  http_res_header(res, "Access-Control-Max-Age", "600");
  http_res_body(res, 204, NULL, "", 0);
}

/* SHA-256 of (secretId, random, currentTimeStamp): identifies a signature
 * for oneTimeValid. */
static void used_digest(const struct sig_params *p, unsigned char out[32])
{
  char tail[48];
  EVP_MD_CTX *m = EVP_MD_CTX_new();
  unsigned int n = 32;
  int tl = snprintf(tail, sizeof(tail), "|%llu|%lld", (unsigned long long)p->random,
                    (long long)p->current_time);
  if (!m)
    abort();
  EVP_DigestInit_ex(m, EVP_sha256(), NULL);
  EVP_DigestUpdate(m, p->secret_id.ptr, p->secret_id.len);
  EVP_DigestUpdate(m, tail, (size_t)tl);
  EVP_DigestFinal_ex(m, out, &n);
  EVP_MD_CTX_free(m);
}

/* Returns UGC_OK, or the error kind to answer (as -1 - kind). */
static int check_signature(struct emu *e, const char *sigtext, struct sig_parsed *sp,
                           struct ugc_policy *pol, char *bufs, size_t bufsz)
{
  int64_t t = now_s();
  enum sig_error err = sig_parse(sp, sigtext, strlen(sigtext), t);
  const struct sig_params *p = &sp->params;

  if (err == SIG_OK && (!p->secret_id.ptr || p->secret_id.len != strlen(e->secret_id) ||
                        memcmp(p->secret_id.ptr, e->secret_id, p->secret_id.len) != 0))
    err = SIG_ERR_BAD_MAC; /* unknown secretId: VOD says invalid signature */
  if (err == SIG_OK)
    err = sig_verify(sp, e->secret_key, strlen(e->secret_key), t);
  if (err != SIG_OK) {
    log_json(LOG_INFO,
             json_pack("{s:s,s:s}", "msg", "signature refused", "reason", sig_error_reason(err)));
    return -1 - UGC_ERR_SIGNATURE;
  }
  if ((p->has & SIG_HAS_ONE_TIME_VALID) && p->one_time_valid == 1) {
    unsigned char d[32];
    size_t w = 0;
    bool dup = false;
    used_digest(p, d);
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < e->nused; i++) {
      if (e->used[i].expires <= t)
        continue; /* expired: forget it (the signature is refused anyway) */
      if (memcmp(e->used[i].digest, d, 32) == 0)
        dup = true;
      e->used[w++] = e->used[i];
    }
    e->nused = w;
    if (!dup) {
      e->used = xrealloc(e->used, (e->nused + 1) * sizeof(*e->used));
      memcpy(e->used[e->nused].digest, d, 32);
      e->used[e->nused++].expires = p->expire_time;
    }
    pthread_mutex_unlock(&e->mu);
    if (dup)
      return -1 - UGC_ERR_DUPLICATE;
  }
  /* Policy strings: NUL-terminated copies in bufs (4 slots). */
  memset(pol, 0, sizeof(*pol));
  {
    const struct sig_str *src[4] = {&p->procedure, &p->source_context, &p->session_context, NULL};
    const char **dst[4] = {&pol->procedure, &pol->source_context, &pol->session_context, NULL};
    size_t slot = bufsz / 3;
    for (int i = 0; src[i]; i++) {
      char *b = bufs + (size_t)i * slot;
      size_t n = src[i]->ptr ? src[i]->len : 0;
      if (n >= slot)
        n = slot - 1;
      if (n)
        memcpy(b, src[i]->ptr, n);
      b[n] = '\0';
      *dst[i] = b;
    }
  }
  pol->task_notify_mode =
      p->task_notify_mode == SIG_NOTIFY_UNSET ? NULL : sig_notify_mode_str(p->task_notify_mode);
  pol->class_id = (p->has & SIG_HAS_CLASS_ID) ? (int64_t)p->class_id : 0;
  pol->task_priority = (p->has & SIG_HAS_TASK_PRIORITY) ? p->task_priority : 0;
  pol->sub_app_id = (p->has & SIG_HAS_SUB_APP_ID) ? p->vod_sub_app_id : 0;
  return UGC_OK;
}

/* Locked. Queue the events of a session that has just been committed. */
static void commit_events(struct emu *e, const struct ugc_session *s)
{
  char file[1200];
  unsigned char head[64];
  size_t hn = 0;
  uint64_t size = 0;
  struct stat st;
  int fd;
  json_t *evs[2];
  size_t n;
  enum ugc_review r;
  int64_t t = now_s();

  object_file(e, s->media_path, file, sizeof(file));
  if (stat(file, &st) == 0)
    size = (uint64_t)st.st_size;
  fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t got = read(fd, head, sizeof(head));
    hn = got > 0 ? (size_t)got : 0;
    close(fd);
  }
  r = ugc_review_decide(s->media_name, head, hn);
  event_emit(e, ugc_event_new_file_upload(&e->cfg, s, size, t));
  n = ugc_event_procedure(&e->cfg, s, r, size, t, evs);
  for (size_t i = 0; i < n; i++)
    event_emit(e, evs[i]);
  log_json(LOG_INFO,
           json_pack("{s:s,s:s,s:s,s:i}", "msg", "upload committed", "file_id", s->file_id,
                     "review", ugc_review_name(r), "procedure_events", (int)n));
}

static bool object_exists(struct emu *e, const char *path)
{
  char file[1200];
  struct stat st;
  object_file(e, path, file, sizeof(file));
  return stat(file, &st) == 0 && S_ISREG(st.st_mode);
}

static void ugc_handle(struct emu *e, struct http_req *req, struct http_res *res)
{
  const char *act = http_req_query(req, "Action");
  enum ugc_action a;
  struct ugc_request r;
  struct sig_parsed *sp;
  struct ugc_policy pol;
  char *polbuf;
  int rc;
  json_t *env = NULL;

  if (strcmp(req->method, "OPTIONS") == 0) {
    preflight(req, res, "POST, OPTIONS", NULL);
    return;
  }
  if (strcmp(req->path, "/v3/index.php") != 0 || strcmp(req->method, "POST") != 0 || !act) {
    ugc_answer(req, res, ugc_error_envelope(UGC_ERR_REQUEST));
    return;
  }
  if (strcmp(act, "PrepareUploadUGC") == 0)
    a = UGC_PREPARE;
  else if (strcmp(act, "ApplyUploadUGC") == 0)
    a = UGC_APPLY;
  else if (strcmp(act, "CommitUploadUGC") == 0)
    a = UGC_COMMIT;
  else {
    ugc_answer(req, res, ugc_error_envelope(UGC_ERR_REQUEST));
    return;
  }
  if (fail_take(e, act)) {
    ugc_answer(req, res, ugc_envelope(UGC_E_REQUEST, "ugc upload | injected failure", NULL));
    return;
  }
  if (ugc_request_parse(a, req->body, req->body_len, &r) != UGC_OK) {
    ugc_answer(req, res, ugc_error_envelope(UGC_ERR_REQUEST));
    return;
  }
  sp = xmalloc(sizeof(*sp));
  polbuf = xmalloc(3 * (4 * SIG_MAX_SESSION_CONTEXT + 2));
  rc = check_signature(e, r.signature, sp, &pol, polbuf, 3 * (4 * SIG_MAX_SESSION_CONTEXT + 2));
  if (rc != UGC_OK) {
    env = ugc_error_envelope((enum ugc_error)(-1 - rc));
    goto out;
  }
  if (a == UGC_PREPARE) {
    env = ugc_envelope(UGC_OK, "成功", ugc_prepare_data(&e->cfg));
  } else if (a == UGC_APPLY && !r.vod_session_key[0]) {
    struct ugc_session *s = xcalloc(1, sizeof(*s));
    if (ugc_session_new(&e->cfg, NULL, &r, &pol, now_s(), s) != UGC_OK) {
      free(s);
      env = ugc_error_envelope(UGC_ERR_REQUEST);
      goto out;
    }
    pthread_mutex_lock(&e->mu);
    if (e->nsessions >= EMU_MAX_SESSIONS) {
      pthread_mutex_unlock(&e->mu);
      free(s);
      env = ugc_error_envelope(UGC_ERR_REQUEST);
      goto out;
    }
    e->sessions = xrealloc(e->sessions, (e->nsessions + 1) * sizeof(*e->sessions));
    e->sessions[e->nsessions++] = s;
    env = ugc_envelope(UGC_OK, "成功", ugc_apply_data(&e->cfg, s));
    pthread_mutex_unlock(&e->mu);
  } else {
    unsigned char id[16];
    struct ugc_session *s;
    if (ugc_session_key_check(&e->cfg, r.vod_session_key, strlen(r.vod_session_key), now_s(), id) !=
        UGC_OK) {
      env = ugc_error_envelope(UGC_ERR_SESSION);
      goto out;
    }
    pthread_mutex_lock(&e->mu);
    s = session_find(e, id);
    if (!s || (a == UGC_APPLY && s->committed)) {
      pthread_mutex_unlock(&e->mu);
      env = ugc_error_envelope(UGC_ERR_SESSION);
      goto out;
    }
    if (a == UGC_APPLY) {
      ugc_session_issue_cert(&e->cfg, NULL, s, now_s());
      env = ugc_envelope(UGC_OK, "成功", ugc_apply_data(&e->cfg, s));
    } else if ((s->media_path[0] && !object_exists(e, s->media_path)) ||
               (s->cover_path[0] && !object_exists(e, s->cover_path))) {
      env = ugc_envelope(UGC_E_REQUEST, "ugc upload | media file not uploaded", NULL);
    } else {
      if (!s->committed) {
        ugc_session_commit(&e->cfg, NULL, s, now_s());
        commit_events(e, s);
      }
      env = ugc_envelope(UGC_OK, "成功", ugc_commit_data(&e->cfg, s));
    }
    pthread_mutex_unlock(&e->mu);
  }
out:
  secure_zero(polbuf, 3 * (4 * SIG_MAX_SESSION_CONTEXT + 2));
  free(polbuf);
  free(sp);
  ugc_request_release(&r);
  ugc_answer(req, res, env);
}

/* ---- COS ---- */

#define COS_EXPOSE "ETag, Content-Length, x-cos-request-id, Date"

static void cos_cors(struct http_req *req, struct http_res *res)
{
  ugc_cors(req, res);
  http_res_header(res, "Access-Control-Expose-Headers", COS_EXPOSE);
}

static void cos_err(struct http_req *req, struct http_res *res, int status, const char *code,
                    const char *msg)
{
  struct buf b;
  buf_init(&b, 4096);
  cos_cors(req, res);
  if (cos_xml_error(&b, code, msg, req->request_id) != VG_OK) {
    buf_release(&b);
    http_res_body(res, status, "application/xml", "", 0);
    return;
  }
  http_res_body(res, status, "application/xml", b.ptr, b.len);
  buf_release(&b);
}

static void cos_xml_ok(struct http_req *req, struct http_res *res, struct buf *b, int rc)
{
  if (rc != VG_OK) {
    cos_err(req, res, 500, "InternalError", "response too large");
  } else {
    cos_cors(req, res);
    http_res_body(res, 200, "application/xml", b->ptr, b->len);
  }
  buf_release(b);
}

static bool unreserved(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

static int pct(struct buf *b, const char *s, bool keep_slash)
{
  static const char hx[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char t[3] = {'%', hx[*p >> 4], hx[*p & 15]};
    int rc =
        unreserved(*p) || (keep_slash && *p == '/') ? buf_append(b, p, 1) : buf_append(b, t, 3);
    if (rc)
      return rc;
  }
  return VG_OK;
}

static void md5_hex(const void *p, size_t n, char out[33])
{
  unsigned char d[16];
  unsigned int dl = 16;
  EVP_Digest(p, n, d, &dl, EVP_md5(), NULL);
  hex_encode(d, 16, out);
}

/* Last write wins when two PUTs of one key run at once (each writes a
 * file of its own, then renames it). Not synced: emulator data. */
static int write_file(const char *path, const void *p, size_t n)
{
  char dir[1200];
  char *slash;
  snprintf(dir, sizeof(dir), "%s", path);
  slash = strrchr(dir, '/');
  if (slash) {
    *slash = '\0';
    mkdirs(dir);
  }
  return write_file_atomic(path, p, n, 0644, false) == VG_OK ? 0 : -1;
}

static struct emu_mp *mp_find(struct emu *e, const char *id)
{
  for (size_t i = 0; i < e->nmps; i++)
    if (strcmp(e->mps[i].id, id) == 0)
      return &e->mps[i];
  return NULL;
}

static void mp_remove(struct emu *e, struct emu_mp *m)
{
  char dir[1200];
  for (size_t i = 0; i < m->nparts; i++) {
    char f[1300];
    snprintf(f, sizeof(f), "%s/parts/%s/%u", e->data_dir, m->id, m->parts[i].number);
    unlink(f);
  }
  snprintf(dir, sizeof(dir), "%s/parts/%s", e->data_dir, m->id);
  rmdir(dir);
  free(m->parts);
  *m = e->mps[--e->nmps];
}

static void iso_now(int64_t t, char out[32])
{
  struct tm tm;
  time_t tt = (time_t)t;
  gmtime_r(&tt, &tm);
  strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

/* The request's identity: check Authorization against the session's
 * temporary credential. On success *sess_id is set. */
static bool cos_authorize(struct emu *e, struct http_req *req, struct http_res *res,
                          unsigned char sess_id[16])
{
  const char *authz = http_req_header(req, "Authorization");
  struct cos_auth a;
  struct http_kv kv[COS_AUTH_MAX_PARAMS];
  size_t nkv = http_req_query_list(req, kv, COS_AUTH_MAX_PARAMS);
  struct buf path, query;
  struct cos_header hdrs[16];
  size_t nh = 0;
  char sk[UGC_SK_LEN + 1];
  enum ugc_cert_result cr;
  enum cos_auth_result ar;
  int64_t t = now_s();
  bool ok = false;

  if (!authz) {
    cos_err(req, res, 403, "AccessDenied", "Access Denied: no Authorization");
    return false;
  }
  if (nkv > COS_AUTH_MAX_PARAMS) {
    cos_err(req, res, 400, "InvalidArgument", "too many query parameters");
    return false;
  }
  ar = cos_auth_parse(authz, strlen(authz), &a);
  if (ar != COS_AUTH_OK) {
    cos_err(req, res, cos_auth_http_status(ar), cos_auth_error_code(ar),
            cos_auth_error_message(ar));
    return false;
  }
  cr = ugc_cert_check(&e->cfg, a.ak, http_req_header(req, "x-cos-security-token"), t, sess_id, sk);
  if (cr != UGC_CERT_OK) {
    cos_err(req, res, 403,
            cr == UGC_CERT_MALFORMED ? "InvalidAccessKeyId"
            : cr == UGC_CERT_EXPIRED ? "AccessDenied"
                                     : "InvalidToken",
            cr == UGC_CERT_EXPIRED ? "Request has expired" : "the credential is not valid");
    return false;
  }
  /* Rebuild the wire form of the path and query from the decoded ones. */
  buf_init(&path, HTTP_MAX_URL * 3);
  buf_init(&query, HTTP_MAX_URL * 3);
  ok = pct(&path, req->path, true) == VG_OK;
  for (size_t i = 0; ok && i < nkv; i++) {
    ok = (i == 0 || buf_append(&query, "&", 1) == VG_OK) && pct(&query, kv[i].key, false) == 0 &&
         (!kv[i].value ||
          (buf_append(&query, "=", 1) == VG_OK && pct(&query, kv[i].value, false) == 0));
  }
  {
    /* The signed headers, looked up by name. */
    char list[COS_AUTH_MAX_LIST + 1];
    char *n = list;
    snprintf(list, sizeof(list), "%s", a.header_list);
    while (ok && *n && nh < 16) {
      char *semi = strchr(n, ';');
      const char *v;
      if (semi)
        *semi = '\0';
      v = http_req_header(req, n);
      if (v) {
        hdrs[nh].name = n;
        hdrs[nh].value = v;
        nh++;
      }
      if (!semi)
        break;
      n = semi + 1;
    }
    if (ok) {
      struct cos_request cq = {
          req->method, path.ptr ? path.ptr : "/", path.len, query.ptr, query.len, hdrs, nh};
      ar = cos_auth_verify(&a, &cq, sk, strlen(sk), t, EMU_COS_SKEW);
      ok = ar == COS_AUTH_OK;
      if (!ok)
        cos_err(req, res, cos_auth_http_status(ar), cos_auth_error_code(ar),
                cos_auth_error_message(ar));
    } else {
      cos_err(req, res, 400, "InvalidURI", "request URI too long");
    }
  }
  secure_zero(sk, sizeof(sk));
  buf_release(&path);
  buf_release(&query);
  return ok;
}

static void cos_handle(struct emu *e, struct http_req *req, struct http_res *res)
{
  unsigned char sid[16];
  struct ugc_session *s;
  const char *upload_id = http_req_query(req, "uploadId");
  const char *part = http_req_query(req, "partNumber");
  bool uploads = http_req_query(req, "uploads") != NULL;
  const char *m = req->method;
  const char *action;
  char file[1300];
  int64_t t = now_s();

  if (strcmp(m, "OPTIONS") == 0) {
    preflight(req, res, "GET, POST, PUT, HEAD, DELETE", COS_EXPOSE);
    return;
  }
  if (strcmp(req->path, "/") == 0 && strcmp(m, "GET") == 0 && uploads)
    action = "ListMultipartUploads";
  else if (strcmp(m, "POST") == 0 && uploads)
    action = "InitiateMultipartUpload";
  else if (strcmp(m, "PUT") == 0 && upload_id && part)
    action = "UploadPart";
  else if (strcmp(m, "GET") == 0 && upload_id)
    action = "ListParts";
  else if (strcmp(m, "POST") == 0 && upload_id)
    action = "CompleteMultipartUpload";
  else if (strcmp(m, "DELETE") == 0 && upload_id)
    action = "AbortMultipartUpload";
  else if (strcmp(m, "PUT") == 0 && !upload_id && !part)
    action = "PutObject";
  else if ((strcmp(m, "HEAD") == 0 || strcmp(m, "GET") == 0) && !upload_id)
    action = "HeadObject";
  else {
    cos_err(req, res, 400, "InvalidRequest", "operation not emulated");
    return;
  }
  if (!cos_authorize(e, req, res, sid))
    return;
  if (fail_take(e, action)) {
    cos_err(req, res, 503, "ServiceUnavailable", "injected failure (emulator fault injection)");
    return;
  }
  pthread_mutex_lock(&e->mu);
  s = session_find(e, sid);
  if (!s) {
    pthread_mutex_unlock(&e->mu);
    cos_err(req, res, 403, "AccessDenied", "unknown session");
    return;
  }
  /* Confinement: only the session's own object keys (or, for a listing,
   * a prefix equal to one of them). */
  {
    char pfx[COS_MAX_KEY + 2];
    const char *target = req->path;
    if (strcmp(action, "ListMultipartUploads") == 0) {
      const char *p = http_req_query(req, "prefix");
      snprintf(pfx, sizeof(pfx), "/%s", p ? p : "");
      target = pfx;
    }
    if (!ugc_session_object(s, target)) {
      pthread_mutex_unlock(&e->mu);
      cos_err(req, res, 403, "AccessDenied", "Access Denied: outside the session's storage path");
      return;
    }
  }
  if (strcmp(action, "ListMultipartUploads") == 0) {
    struct cos_xml_upload ups[16];
    char when[16][32];
    size_t n = 0;
    struct buf b;
    const char *pfx = http_req_query(req, "prefix");
    for (size_t i = 0; i < e->nmps && n < 16; i++) {
      if (memcmp(e->mps[i].sess, sid, 16) != 0 || strcmp(e->mps[i].key + 1, pfx) != 0)
        continue;
      iso_now(e->mps[i].initiated, when[n]);
      ups[n].key = e->mps[i].key + 1;
      ups[n].upload_id = e->mps[i].id;
      ups[n].initiated = when[n];
      n++;
    }
    buf_init(&b, 1 << 20);
    {
      int rc = cos_xml_list_uploads(&b, e->cfg.bucket, pfx, ups, n);
      pthread_mutex_unlock(&e->mu);
      cos_xml_ok(req, res, &b, rc);
    }
    return;
  }
  if (strcmp(action, "InitiateMultipartUpload") == 0) {
    struct emu_mp *mp;
    unsigned char r[16];
    struct buf b;
    int rc;
    if (e->nmps >= EMU_MAX_MP) {
      pthread_mutex_unlock(&e->mu);
      cos_err(req, res, 503, "SlowDown", "too many multipart uploads");
      return;
    }
    e->mps = xrealloc(e->mps, (e->nmps + 1) * sizeof(*e->mps));
    mp = &e->mps[e->nmps++];
    memset(mp, 0, sizeof(*mp));
    random_bytes(r, sizeof(r));
    hex_encode(r, sizeof(r), mp->id);
    snprintf(mp->key, sizeof(mp->key), "%s", req->path);
    memcpy(mp->sess, sid, 16);
    mp->initiated = t;
    buf_init(&b, 8192);
    rc = cos_xml_initiate(&b, e->cfg.bucket, mp->key + 1, mp->id);
    pthread_mutex_unlock(&e->mu);
    cos_xml_ok(req, res, &b, rc);
    return;
  }
  if (strcmp(action, "PutObject") == 0 || strcmp(action, "HeadObject") == 0) {
    const char *md5 = http_req_header(req, "Content-MD5");
    char etag[40], hex[33];
    int wr;
    object_file(e, req->path, file, sizeof(file));
    if (strcmp(action, "HeadObject") == 0) {
      struct stat st;
      bool found = stat(file, &st) == 0;
      pthread_mutex_unlock(&e->mu);
      if (!found) {
        cos_err(req, res, 404, "NoSuchKey", "The specified key does not exist.");
      } else {
        char len[32];
        snprintf(len, sizeof(len), "%lld", (long long)st.st_size);
        cos_cors(req, res);
        http_res_header(res, "x-cos-object-size", len);
        http_res_body(res, 200, "application/octet-stream", "", 0);
      }
      return;
    }
    pthread_mutex_unlock(&e->mu);
    if (md5 && !cos_content_md5_ok(req->body, req->body_len, md5)) {
      cos_err(req, res, 400, "BadDigest", "The Content-MD5 you specified did not match.");
      return;
    }
    md5_hex(req->body, req->body_len, hex);
    wr = write_file(file, req->body, req->body_len);
    if (wr) {
      cos_err(req, res, 500, "InternalError", "could not store the object");
      return;
    }
    snprintf(etag, sizeof(etag), "\"%s\"", hex);
    cos_cors(req, res);
    http_res_header(res, "ETag", etag);
    http_res_body(res, 200, "application/xml", "", 0);
    return;
  }
  /* The rest name an upload id of this key. */
  {
    struct emu_mp *mp = mp_find(e, upload_id);
    if (!mp || memcmp(mp->sess, sid, 16) != 0 || strcmp(mp->key, req->path) != 0) {
      pthread_mutex_unlock(&e->mu);
      cos_err(req, res, 404, "NoSuchUpload", "The specified multipart upload does not exist.");
      return;
    }
    if (strcmp(action, "AbortMultipartUpload") == 0) {
      mp_remove(e, mp);
      pthread_mutex_unlock(&e->mu);
      cos_cors(req, res);
      http_res_body(res, 204, NULL, "", 0);
      return;
    }
    if (strcmp(action, "ListParts") == 0) {
      struct cos_xml_part *ps = xcalloc(mp->nparts + 1, sizeof(*ps));
      char(*when)[32] = xcalloc(mp->nparts + 1, 32);
      struct buf b;
      int rc;
      for (size_t i = 0; i < mp->nparts; i++) {
        iso_now(mp->parts[i].at, when[i]);
        ps[i].number = mp->parts[i].number;
        ps[i].etag_hex = mp->parts[i].etag;
        ps[i].size = mp->parts[i].size;
        ps[i].last_modified = when[i];
      }
      buf_init(&b, 4 << 20);
      rc = cos_xml_list_parts(&b, e->cfg.bucket, mp->key + 1, mp->id, ps, mp->nparts);
      pthread_mutex_unlock(&e->mu);
      free(ps);
      free(when);
      cos_xml_ok(req, res, &b, rc);
      return;
    }
    if (strcmp(action, "UploadPart") == 0) {
      uint64_t num;
      const char *md5 = http_req_header(req, "Content-MD5");
      char hex[33], etag[40];
      size_t i;
      if (parse_u64z(part, &num) || num < 1 || num > COS_MAX_PARTS) {
        pthread_mutex_unlock(&e->mu);
        cos_err(req, res, 400, "InvalidArgument", "partNumber must be 1..10000");
        return;
      }
      if (md5 && !cos_content_md5_ok(req->body, req->body_len, md5)) {
        pthread_mutex_unlock(&e->mu);
        cos_err(req, res, 400, "BadDigest", "The Content-MD5 you specified did not match.");
        return;
      }
      md5_hex(req->body, req->body_len, hex);
      snprintf(file, sizeof(file), "%s/parts/%s/%u", e->data_dir, mp->id, (unsigned)num);
      /* Written under the lock: parts of one upload are small files and
       * the emulator is a test tool, not a throughput target. */
      if (write_file(file, req->body, req->body_len)) {
        pthread_mutex_unlock(&e->mu);
        cos_err(req, res, 500, "InternalError", "could not store the part");
        return;
      }
      for (i = 0; i < mp->nparts && mp->parts[i].number != num; i++)
        ;
      if (i == mp->nparts) {
        if (mp->nparts == mp->cap) {
          mp->cap = mp->cap ? mp->cap * 2 : 8;
          mp->parts = xrealloc(mp->parts, mp->cap * sizeof(*mp->parts));
        }
        /* keep ascending order */
        i = mp->nparts;
        while (i > 0 && mp->parts[i - 1].number > num) {
          mp->parts[i] = mp->parts[i - 1];
          i--;
        }
        mp->nparts++;
      }
      mp->parts[i].number = (uint32_t)num;
      memcpy(mp->parts[i].etag, hex, 33);
      mp->parts[i].size = req->body_len;
      mp->parts[i].at = t;
      pthread_mutex_unlock(&e->mu);
      snprintf(etag, sizeof(etag), "\"%s\"", hex);
      cos_cors(req, res);
      http_res_header(res, "ETag", etag);
      http_res_body(res, 200, "application/xml", "", 0);
      return;
    }
    /* CompleteMultipartUpload */
    {
      struct cos_complete_part *cp = NULL;
      size_t n = 0;
      const char *why = NULL;
      const char *md5 = http_req_header(req, "Content-MD5");
      char etag[50], loc[512], tmp[1400];
      FILE *out;
      struct buf b;
      int rc;
      if (md5 && !cos_content_md5_ok(req->body, req->body_len, md5)) {
        pthread_mutex_unlock(&e->mu);
        cos_err(req, res, 400, "BadDigest", "The Content-MD5 you specified did not match.");
        return;
      }
      if (cos_xml_parse_complete(req->body, req->body_len, &cp, &n, &why) != VG_OK) {
        pthread_mutex_unlock(&e->mu);
        cos_err(req, res, 400, why ? why : "MalformedXML", "bad CompleteMultipartUpload body");
        return;
      }
      for (size_t i = 0; i < n; i++) {
        size_t k;
        for (k = 0; k < mp->nparts && mp->parts[k].number != cp[i].number; k++)
          ;
        if (k == mp->nparts || strcmp(mp->parts[k].etag, cp[i].etag_hex) != 0) {
          pthread_mutex_unlock(&e->mu);
          free(cp);
          cos_err(req, res, 400, "InvalidPart", "a part is missing or its ETag differs");
          return;
        }
      }
      object_file(e, req->path, file, sizeof(file));
      {
        char dir[1300], *sl;
        snprintf(dir, sizeof(dir), "%s", file);
        sl = strrchr(dir, '/');
        if (sl) {
          *sl = '\0';
          mkdirs(dir);
        }
      }
      snprintf(tmp, sizeof(tmp), "%s.tmp", file);
      out = fopen(tmp, "wbe");
      rc = out ? 0 : -1;
      for (size_t i = 0; rc == 0 && i < n; i++) {
        char pf[1300], chunk[65536];
        FILE *in;
        size_t got;
        snprintf(pf, sizeof(pf), "%s/parts/%s/%u", e->data_dir, mp->id, cp[i].number);
        in = fopen(pf, "rbe");
        if (!in) {
          rc = -1;
          break;
        }
        while ((got = fread(chunk, 1, sizeof(chunk), in)) > 0)
          if (fwrite(chunk, 1, got, out) != got)
            rc = -1;
        fclose(in);
      }
      if (out && fclose(out) != 0)
        rc = -1;
      if (rc == 0)
        rc = rename(tmp, file);
      else
        unlink(tmp);
      if (rc) {
        pthread_mutex_unlock(&e->mu);
        free(cp);
        cos_err(req, res, 500, "InternalError", "could not assemble the object");
        return;
      }
      cos_multipart_etag(cp, n, etag);
      free(cp);
      snprintf(loc, sizeof(loc), "%s-%llu.cos.%s.myqcloud.com%s", e->cfg.bucket,
               (unsigned long long)e->cfg.storage_app_id, e->cfg.region, mp->key);
      buf_init(&b, 8192);
      rc = cos_xml_complete_result(&b, loc, e->cfg.bucket, mp->key + 1, etag);
      mp_remove(e, mp);
      pthread_mutex_unlock(&e->mu);
      cos_xml_ok(req, res, &b, rc);
    }
  }
}

/* ---- control (loopback only) ---- */

static bool loopback(const char *ip)
{
  return strcmp(ip, "127.0.0.1") == 0 || strcmp(ip, "::1") == 0 ||
         strncmp(ip, "::ffff:127.", 11) == 0;
}

static void ctl_handle(struct emu *e, struct http_req *req, struct http_res *res)
{
  if (!loopback(req->remote)) {
    http_error(res, 404, 4040, "not found");
    return;
  }
  if (strcmp(req->path, "/__emu/faults") == 0 && strcmp(req->method, "POST") == 0) {
    json_t *j = NULL, *fail;
    if (http_req_json(req, &j, res))
      return;
    if (!json_is_object(j)) {
      json_decref(j);
      http_error(res, 400, 4000, "a JSON object is expected");
      return;
    }
    pthread_mutex_lock(&e->mu);
#define SETU(name, field)                                                                          \
  if (json_is_integer(json_object_get(j, name)))                                                   \
  e->field = (unsigned)json_integer_value(json_object_get(j, name))
    SETU("drop", f_drop);
    SETU("duplicate", f_dup);
    SETU("reorder", f_reorder);
    SETU("delay_ms", f_delay_ms);
#undef SETU
    fail = json_object_get(j, "fail");
    if (json_is_object(fail)) {
      const char *k;
      json_t *v;
      json_object_foreach(fail, k, v)
      {
        size_t i, freei = EMU_MAX_FAIL;
        for (i = 0; i < EMU_MAX_FAIL; i++) {
          if (strcmp(e->fails[i].action, k) == 0)
            break;
          if (!e->fails[i].n && freei == EMU_MAX_FAIL)
            freei = i;
        }
        if (i == EMU_MAX_FAIL)
          i = freei;
        if (i < EMU_MAX_FAIL && strlen(k) < sizeof(e->fails[i].action)) {
          snprintf(e->fails[i].action, sizeof(e->fails[i].action), "%s", k);
          e->fails[i].n = (unsigned)json_integer_value(v);
        }
      }
    }
    pthread_mutex_unlock(&e->mu);
    json_decref(j);
    http_res_json(res, 200, json_pack("{s:b}", "ok", 1));
    return;
  }
  if (strcmp(req->path, "/__emu/state") == 0) {
    json_t *o;
    size_t pending = 0, committed = 0;
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < e->npevs; i++)
      pending += !e->pevs[i].confirmed;
    for (size_t i = 0; i < e->nsessions; i++)
      committed += e->sessions[i]->committed;
    o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "sessions", (json_int_t)e->nsessions,
                  "committed", (json_int_t)committed, "events", (json_int_t)e->npevs, "unconfirmed",
                  (json_int_t)pending, "pushed_ok", (json_int_t)e->pushed_ok, "pushed_failed",
                  (json_int_t)e->pushed_failed, "pushes_dropped", (json_int_t)e->pushes_dropped,
                  "multipart_uploads", (json_int_t)e->nmps);
    pthread_mutex_unlock(&e->mu);
    http_res_json(res, 200, o);
    return;
  }
  http_error(res, 404, 4040, "not found");
}

/* ---- dispatch ---- */

static void emu_dispatch(struct http_req *req, struct http_res *res, void *user)
{
  struct emu *e = user;
  const char *host = http_req_header(req, "Host");
  enum ugc_host h = host ? ugc_classify_host(&e->cfg, host) : UGC_HOST_OTHER;

  if (strncmp(req->path, "/__emu/", 7) == 0) {
    ctl_handle(e, req, res);
    return;
  }
  switch (h) {
  case UGC_HOST_UGC: ugc_handle(e, req, res); return;
  case UGC_HOST_COS: cos_handle(e, req, res); return;
  case UGC_HOST_REPORT:
    ugc_cors(req, res);
    if (strcmp(req->method, "OPTIONS") == 0)
      preflight(req, res, "POST, OPTIONS", NULL);
    else
      http_res_json(res, 200, json_pack("{s:i}", "code", 0));
    return;
  case UGC_HOST_API:
  case UGC_HOST_OTHER:
    if (strcmp(req->path, "/") == 0 && http_req_header(req, "X-TC-Action")) {
      api_handle(e, req, res);
      return;
    }
    http_error(res, 404, 4040, "not found (unknown host or path)");
    return;
  }
}

/* COS parts are held in memory while they arrive: 64 MiB per request is
 * above every SDK's part size (the browser SDK uses 1 MiB, cos-nodejs
 * 1-8 MiB; vodgate upload 8 MiB) and keeps a test machine safe. */
#define EMU_MAX_REQUEST_BODY (64u * 1024 * 1024)

static const struct http_route emu_route_table[] = {
    {NULL, "/", true, EMU_MAX_REQUEST_BODY, emu_dispatch, NULL, "emulate", false},
};

const struct http_route *emu_routes(size_t *n)
{
  *n = sizeof(emu_route_table) / sizeof(emu_route_table[0]);
  return emu_route_table;
}

/* ---- lifecycle ---- */

int emu_new(const struct emu_opts *o, struct emu **out)
{
  struct emu *e;
  char dir[1100];

  *out = NULL;
  if (!o->secret_id || !*o->secret_id || !o->secret_key || !*o->secret_key || !o->data_dir ||
      !*o->data_dir || strlen(o->data_dir) > 900)
    return VG_INVALID;
  mkdirs(o->data_dir);
  snprintf(dir, sizeof(dir), "%s/objects", o->data_dir);
  mkdirs(dir);
  snprintf(dir, sizeof(dir), "%s/parts", o->data_dir);
  mkdirs(dir);
  if (access(dir, W_OK) != 0) {
    log_error("emulate: data dir %s is not writable: %s", o->data_dir, strerror(errno));
    return VG_IO;
  }
  e = xcalloc(1, sizeof(*e));
  ugc_config_init(&e->cfg);
  random_bytes(e->cfg.key, sizeof(e->cfg.key));
  random_bytes(e->cfg.verify_key, 32);
  e->cfg.verify_key_len = 32;
  e->secret_id = xstrdup(o->secret_id);
  e->secret_key = xstrdup(o->secret_key);
  e->callback_url = o->callback_url && *o->callback_url ? xstrdup(o->callback_url) : NULL;
  e->sign_key = o->sign_key && *o->sign_key ? xstrdup(o->sign_key) : NULL;
  e->data_dir = xstrdup(o->data_dir);
  e->f_drop = o->drop;
  e->f_dup = o->duplicate;
  e->f_reorder = o->reorder;
  e->f_delay_ms = o->delay_ms;
  e->lease_s = o->lease_s ? o->lease_s : EMU_LEASE_S;
  pthread_mutex_init(&e->mu, NULL);
  pthread_cond_init(&e->push_cv, NULL);
  pthread_cond_init(&e->poll_cv, NULL);
  atomic_init(&e->cancel, false);
  if (http_client_global_init() != VG_OK)
    abort(); /* libcurl cannot start (out of memory): nothing sensible to do */
  if (pthread_create(&e->push_thr, NULL, push_main, e) ||
      pthread_create(&e->poll_thr, NULL, poll_main, e))
    abort(); /* no threads at start-up: nothing sensible to do */
  *out = e;
  return VG_OK;
}

void emu_stop(struct emu *e)
{
  if (!e)
    return;
  pthread_mutex_lock(&e->mu);
  if (e->stopping) {
    pthread_mutex_unlock(&e->mu);
    return;
  }
  e->stopping = true;
  atomic_store(&e->cancel, true);
  pthread_cond_broadcast(&e->push_cv);
  pthread_cond_broadcast(&e->poll_cv);
  pthread_mutex_unlock(&e->mu);
  pthread_join(e->push_thr, NULL);
  pthread_join(e->poll_thr, NULL);
}

void emu_free(struct emu *e)
{
  if (!e)
    return;
  emu_stop(e);
  while (e->pushq) {
    struct emu_push *p = e->pushq;
    e->pushq = p->next;
    json_decref(p->ev);
    free(p);
  }
  if (e->held) {
    json_decref(e->held->ev);
    free(e->held);
  }
  for (size_t i = 0; i < e->nsessions; i++) {
    secure_zero(e->sessions[i], sizeof(*e->sessions[i]));
    free(e->sessions[i]);
  }
  free(e->sessions);
  for (size_t i = 0; i < e->nmps; i++)
    free(e->mps[i].parts);
  free(e->mps);
  free(e->used);
  for (size_t i = 0; i < e->npevs; i++)
    json_decref(e->pevs[i].ev);
  free(e->pevs);
  for (size_t i = 0; i < e->ndeleted; i++)
    free(e->deleted[i]);
  free(e->deleted);
  secure_zero(e->secret_key, strlen(e->secret_key));
  free(e->secret_key);
  if (e->sign_key) {
    secure_zero(e->sign_key, strlen(e->sign_key));
    free(e->sign_key);
  }
  free(e->secret_id);
  free(e->callback_url);
  free(e->data_dir);
  secure_zero(&e->cfg, sizeof(e->cfg));
  pthread_mutex_destroy(&e->mu);
  pthread_cond_destroy(&e->push_cv);
  pthread_cond_destroy(&e->poll_cv);
  http_client_global_cleanup();
  free(e);
}
