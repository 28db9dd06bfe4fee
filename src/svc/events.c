/*
 * events.c: POST /v1/vod/events[/<path-token>], the push receiver:
 *
 *   path token -> parse (400 + quarantine when malformed) -> Sign/T ->
 *   commit event + ledger + outbox in one group-committed transaction ->
 *   200 (only after the commit is durable).
 *
 * Authentication modes and status codes: events.h and docs/api.md.
 */
#include "svc/events.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cfg/cfg.h"
#include "core/log.h"
#include "core/util.h"
#include "event/event.h"
#include "http/http.h"
#include "http/metrics.h"
#include "policy/ratelimit.h"
#include "store/store.h"
#include "svc/app.h"
#include "svc/intake.h"
#include "svc/issuing.h"
#include "svc/state.h"
#include "svc/workers.h"

#define EVENTS_PATH "/v1/vod/events"

bool svc_events_receiver_ok(const struct cfg *c, const char **why)
{
  *why = NULL;
  if (strcmp(cfg_get_str(c, "events", "mode"), "pull") == 0) {
    *why = "the push receiver is off ([events] mode = pull)";
    return false;
  }
  if (cfg_get_secret(c, "vod", "sign_key", NULL) ||
      cfg_get_secret(c, "events", "path_token", NULL) ||
      cfg_get_bool(c, "events", "allow_unauthenticated"))
    return true;
  *why = "event receiver not started: anyone could post events. Set [vod] sign_key_file "
         "(VODGATE_VOD_SIGN_KEY) or [events] path_token_file (VODGATE_EVENTS_PATH_TOKEN), or "
         "[events] allow_unauthenticated = true";
  return false;
}

static void not_found(struct http_res *res)
{
  /* Byte for byte what the router answers for an unknown path. */
  http_error(res, 404, VG_CODE_NOT_FOUND, "not found");
}

/* The path token check: the part after EVENTS_PATH must be "" when no
 * token is configured, "/<token>" when one is. */
static bool path_ok(const struct cfg *c, const char *path)
{
  size_t tlen = 0;
  const char *tok = cfg_get_secret(c, "events", "path_token", &tlen);
  const char *rest = path + strlen(EVENTS_PATH);

  if (strncmp(path, EVENTS_PATH, strlen(EVENTS_PATH)) != 0)
    return false;
  if (!tok)
    return *rest == '\0';
  if (*rest != '/')
    return false;
  rest++;
  /* Compare digests so that neither the content nor the length of the
   * token leaks through timing. */
  {
    unsigned char a[32], b[32];
    unsigned int alen = 0, blen = 0;
    if (!EVP_Digest(rest, strlen(rest), a, &alen, EVP_sha256(), NULL) ||
        !EVP_Digest(tok, tlen, b, &blen, EVP_sha256(), NULL))
      return false;
    return ct_equal(a, alen, b, blen);
  }
}

static int64_t header_t(const struct http_req *req, bool *has)
{
  const char *h = http_req_header(req, "T");
  int64_t t = 0;
  *has = h && parse_i64z(h, &t) == 0;
  return *has ? t : 0;
}

/* The quarantine's limit ([events] quarantine_per_minute), one key of the
 * same GCRA limiter as signatures_per_minute: process-wide, as the store it
 * protects. Made on first use. */
static struct ratelimit *q_rl;
static pthread_once_t q_once = PTHREAD_ONCE_INIT;
static _Atomic int64_t q_told; /* the second a skip was last logged */
static _Atomic uint64_t q_skipped;

static void q_init(void)
{
  q_rl = ratelimit_new(16);
}

/* May one more malformed body be written now? Also says when not (a log
 * line a second at most, with the count so far). */
static bool quarantine_take(int64_t per_minute, const char *request_id)
{
  struct timespec now;
  uint64_t skipped;
  int64_t sec;

  if (per_minute <= 0)
    return true;
  pthread_once(&q_once, q_init);
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (ratelimit_allow(q_rl, "quarantine", (uint64_t)per_minute,
                      (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, NULL))
    return true;
  skipped = atomic_fetch_add(&q_skipped, 1) + 1;
  sec = (int64_t)now.tv_sec;
  if (atomic_exchange(&q_told, sec) != sec)
    log_warn("events: malformed bodies over [events] quarantine_per_minute (%lld): not kept "
             "(%llu so far; request %s)",
             (long long)per_minute, (unsigned long long)skipped, request_id);
  return false;
}

static void quarantine(struct app *app, const struct cfg *c, struct http_req *req,
                       const char *reason, int64_t now)
{
  metrics_inc("vodgate_events_rejected_total", "reason", "malformed");
  if (!quarantine_take(cfg_get_int(c, "events", "quarantine_per_minute"), req->request_id)) {
    metrics_inc("vodgate_events_quarantine_skipped_total", NULL, NULL);
    return;
  }
  int rc = store_quarantine_add(app->store, reason, req->body, req->body_len, now);
  if (rc)
    log_error("events: cannot quarantine a malformed body (%s), request %s", vg_strerror(rc),
              req->request_id);
}

/* One event being committed (store_submit) while its connection waits. */
struct ev_job {
  struct vod_event ev;
  struct intake in; /* in.ev points at ev */
  struct svc_state *st;
  struct http_res *res; /* the deferred answer */
  char rid[HTTP_REQUEST_ID_MAX + 1];
};

static void job_free(struct ev_job *job)
{
  intake_release(&job->in);
  event_release(&job->ev);
  svc_state_unref(job->st);
  free(job);
}

/* 200 {"code":0,"message":"ok","data":{"eventKey","duplicate"[,"state"]}}.
 * Written directly when no byte needs escaping (a key is printable ASCII,
 * a state one of ledger.h's names), which is every key but those with '"'
 * or '\\': this runs on the store's writer thread, once per event. The
 * bytes are those of jansson's compact dump. */
static void answer_ok(struct ev_job *job)
{
  const struct vod_event *ev = &job->ev;
  char body[EVENT_MAX_KEY + 128];
  int n;

  if (!strpbrk(ev->key, "\"\\")) {
    n = snprintf(
        body, sizeof(body),
        "{\"code\":0,\"message\":\"ok\",\"data\":{\"eventKey\":\"%s\",\"duplicate\":%s%s%s%s}}",
        ev->key, job->in.is_new ? "false" : "true", job->in.state[0] ? ",\"state\":\"" : "",
        job->in.state, job->in.state[0] ? "\"" : "");
    if (n > 0 && (size_t)n < sizeof(body)) {
      http_res_body(job->res, 200, "application/json", body, (size_t)n);
      return;
    }
  }
  json_t *data = json_pack("{s:s,s:b}", "eventKey", ev->key, "duplicate", !job->in.is_new);
  if (job->in.state[0])
    json_object_set_new(data, "state", json_string(job->in.state));
  http_res_json(job->res, 200,
                json_pack("{s:i,s:s,s:o}", "code", 0, "message", "ok", "data", data));
}

/* Runs once the commit is durable (SQLite: on the store's writer thread,
 * so: short, and no store calls). */
static void ev_done(int rc, void *arg)
{
  struct ev_job *job = arg;
  const struct vod_event *ev = &job->ev;

  if (rc == VG_AGAIN) {
    http_error(job->res, 503, VG_CODE_UNAVAILABLE, "shutting down");
  } else if (rc) {
    log_error("events: cannot commit %s (%s), request %s", ev->type_str, vg_strerror(rc), job->rid);
    http_error(job->res, 500, VG_CODE_INTERNAL, "internal error");
  } else {
    metrics_inc2("vodgate_events_total", "type",
                 ev->type == EVENT_TYPE_NEW_FILE_UPLOAD           ? "NewFileUpload"
                 : ev->type == EVENT_TYPE_PROCEDURE_STATE_CHANGED ? "ProcedureStateChanged"
                                                                  : "other",
                 "result", job->in.is_new ? "new" : "duplicate");
    answer_ok(job);
    if (job->in.state_changed)
      svc_uploads_notify(job->in.ledger_upload);
    if (job->in.outbox_id > 0)
      webhook_wake(); /* cheap: a flag and a condition variable */
  }
  http_resume(job->res); /* job->res must not be touched after this */
  job_free(job);
}

void svc_vod_events(struct http_req *req, struct http_res *res, void *user)
{
  struct app *app = user;
  struct svc_state *st = svc_state_get(app);
  const struct cfg *c = st->cfg;
  struct event_review_policy rp = {
      .block_at = (double)cfg_get_int(c, "events", "review_block_at"),
      .review_at = (double)cfg_get_int(c, "events", "review_review_at"),
  };
  struct vod_event ev;
  struct intake in;
  char reason[EVENT_REASON_MAX + 32];
  const char *why, *key;
  int64_t now = (int64_t)time(NULL);
  int rc;

  event_init(&ev);
  memset(&in, 0, sizeof(in));
  if (!svc_events_receiver_ok(c, &why)) {
    if (strcmp(cfg_get_str(c, "events", "mode"), "pull") == 0)
      not_found(res);
    else
      http_error(res, 503, VG_CODE_UNAVAILABLE, why);
    goto out;
  }
  if (!path_ok(c, req->path)) {
    metrics_inc("vodgate_events_rejected_total", "reason", "path_token");
    not_found(res);
    goto out;
  }
  if (strcmp(req->method, "POST") != 0) {
    http_error(res, 405, VG_CODE_METHOD_NOT_ALLOWED, "method not allowed");
    (void)http_res_header(res, "Allow", "POST");
    goto out;
  }
  rc = event_parse(req->body, req->body_len, &rp, &ev, reason, sizeof(reason));
  if (rc == VG_NOMEM) {
    http_error(res, 503, VG_CODE_UNAVAILABLE, "out of memory");
    goto out;
  }
  if (rc) {
    char msg[sizeof(reason) + 32];
    quarantine(app, c, req, reason, now);
    snprintf(msg, sizeof(msg), "malformed event: %s", reason);
    http_error(res, 400, VG_CODE_BAD_REQUEST, msg);
    goto out;
  }
  if ((key = cfg_get_secret(c, "vod", "sign_key", NULL))) {
    const char *sign = *ev.sign ? ev.sign : http_req_header(req, "Sign");
    bool has_t = ev.has_t;
    int64_t t = has_t ? ev.t : header_t(req, &has_t);
    enum event_sign_status ss = has_t ? event_check_sign(key, sign ? sign : "", t, now,
                                                         cfg_get_int(c, "events", "sign_skew"))
                                      : EVENT_SIGN_MISSING;
    if (ss != EVENT_SIGN_OK) {
      snprintf(reason, sizeof(reason), "event signature: %s", event_sign_str(ss));
      metrics_inc("vodgate_events_rejected_total", "reason", event_sign_str(ss));
      http_error(res, 401, VG_CODE_BAD_TOKEN, reason);
      goto out;
    }
  }
  rc = intake_prepare(&in, &ev, "push", req->body, req->body_len, st,
                      cfg_get_str(c, "webhook", "url") != NULL, now, reason, sizeof(reason));
  if (rc) {
    char msg[sizeof(reason) + 32];
    quarantine(app, c, req, reason, now);
    snprintf(msg, sizeof(msg), "malformed event: %s", reason);
    http_error(res, 400, VG_CODE_BAD_REQUEST, msg);
    goto out;
  }
  /* Commit without holding this worker thread: the connection is
   * suspended and answered when the group commit holding the event is
   * durable, so concurrent senders share one fsync however few threads
   * serve HTTP. */
  {
    struct ev_job *job = xcalloc(1, sizeof(*job));
    job->ev = ev;
    event_init(&ev); /* moved into the job */
    job->in = in;
    job->in.ev = &job->ev;
    memset(&in, 0, sizeof(in));
    job->st = st;
    st = NULL; /* the job holds the reference */
    snprintf(job->rid, sizeof(job->rid), "%s", req->request_id);
    job->res = http_defer(req);
    issuing_flush_now(svc_of(app) ? svc_of(app)->issuing : NULL); /* signatures' records first */
    rc = store_submit(app->store, intake_tx, &job->in, ev_done, job);
    if (rc) { /* not queued: ev_done never runs */
      http_error(job->res, 503, VG_CODE_UNAVAILABLE, "shutting down");
      http_resume(job->res);
      job_free(job);
    }
  }
out:
  intake_release(&in);
  event_release(&ev);
  if (st)
    svc_state_unref(st);
}
