/*
 * puller.c: the reliable-callback (PULL) worker, spec tencent-vod.md 5.2:
 *
 *   PullEvents (long poll, client timeout [events] pull_timeout)
 *     -> for each event: svc_ingest_event (durable: event + effects)
 *     -> ConfirmEvents with the handles of what was committed, 16 a call.
 *
 * Never confirm what is not committed: an event whose commit failed is left
 * unconfirmed, VOD offers it again after 30 s, and its idempotency key makes
 * the second intake a no-op if the first one did commit after all.
 * Malformed items (event_parse_pull gave an error) are quarantined and THEN
 * confirmed: VOD would otherwise hand them back forever. An item without a
 * usable EventHandle cannot be confirmed; it is quarantined once per pull.
 *
 * Signing (TC3-HMAC-SHA256, service "vod"): the Host we sign is exactly the
 * Host header we send, the endpoint URL's authority with its port if the
 * URL has one (we set Host ourselves so libcurl cannot drop a ":443"). The
 * official SDKs do the same for a default endpoint; the Node SDK signs the
 * name without the port for a custom one, and the emulator accepts both.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfg/cfg.h"
#include "core/log.h"
#include "core/util.h"
#include "event/event.h"
#include "http/metrics.h"
#include "net/http_client.h"
#include "store/store.h"
#include "svc/app.h"
#include "svc/ingest.h"
#include "svc/workers.h"
#include "tc3/tc3.h"

#define PL_LEASE        "event-puller"
#define PL_LEASE_TTL    30 /* a crashed puller is replaced after this; renewed every 10 s */
#define PL_CONFIRM_MAX  16 /* ConfirmEvents takes at most 16 handles */
#define PL_VERSION      "2018-07-17"
#define PL_CONTENT_TYPE "application/json"

struct puller {
  struct app *app;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  atomic_bool stop;
  char owner[96];
  char *url;       /* endpoint with a trailing "/" */
  char host[256];  /* signed and sent as Host */
  long timeout_ms; /* PullEvents client timeout */
  int64_t idle;    /* pause after an empty pull */
  int64_t backoff_max;
  struct http_client *hc;
};

static struct puller *g_pl;

/* Sleep up to ms, returning early when stopping. */
static void pl_sleep_ms(struct puller *p, int64_t ms)
{
  (void)worker_wait(&p->mu, &p->cv, &p->stop, NULL, ms);
}

/*
 * One API 3.0 call. Returns VG_OK with *out (caller frees) holding a 200
 * body; otherwise logs why (never a secret) and returns VG_IO / VG_AGAIN.
 */
static int api_call(struct puller *p, const char *action, const char *body, long timeout_ms,
                    char **out)
{
  struct cfg *c = app_cfg_get(p->app);
  const char *sid = cfg_get_str(c, "vod", "secret_id");
  const char *sk = cfg_get_secret(c, "vod", "secret_key", NULL);
  const char *region = cfg_get_str(c, "vod", "region");
  int64_t ts = (int64_t)time(NULL);
  struct tc3_request r = {.method = "POST",
                          .host = p->host,
                          .content_type = PL_CONTENT_TYPE,
                          .payload = body,
                          .payload_len = strlen(body),
                          .service = "vod",
                          .timestamp = ts};
  struct buf auth;
  char h_auth[1024], h_host[300], h_action[64], h_ts[48], h_region[96];
  const char *hdrs[8];
  size_t nh = 0;
  struct http_client_resp resp;
  int rc;

  *out = NULL;
  h_region[0] = '\0';
  if (region && *region)
    snprintf(h_region, sizeof(h_region), "X-TC-Region: %s", region);
  buf_init(&auth, 900);
  rc = sid && sk ? tc3_authorization(&r, sid, sk, &auth) : VG_INVALID;
  cfg_unref(c); /* nothing of c (sid, sk, region) is used past this point */
  if (rc) {
    buf_release(&auth);
    log_error("puller: cannot sign %s (%s): check [vod] secret_id and the secret key", action,
              vg_strerror(rc));
    return VG_IO;
  }
  snprintf(h_auth, sizeof(h_auth), "Authorization: %.*s", (int)auth.len, auth.ptr);
  buf_release(&auth);
  snprintf(h_host, sizeof(h_host), "Host: %s", p->host);
  snprintf(h_action, sizeof(h_action), "X-TC-Action: %s", action);
  snprintf(h_ts, sizeof(h_ts), "X-TC-Timestamp: %lld", (long long)ts);
  hdrs[nh++] = h_host;
  hdrs[nh++] = "Content-Type: " PL_CONTENT_TYPE;
  hdrs[nh++] = h_action;
  hdrs[nh++] = "X-TC-Version: " PL_VERSION;
  hdrs[nh++] = h_ts;
  hdrs[nh++] = "X-TC-RequestClient: vodgate/" VODGATE_VERSION;
  if (h_region[0])
    hdrs[nh++] = h_region;
  hdrs[nh++] = h_auth;
  rc = http_client_post(p->hc, p->url, hdrs, nh, body, strlen(body), timeout_ms, &resp);
  secure_zero(h_auth, sizeof(h_auth));
  if (rc == VG_AGAIN) {
    http_client_resp_release(&resp);
    return VG_AGAIN;
  }
  if (rc) {
    log_warn("puller: %s failed: %s", action, resp.error);
    http_client_resp_release(&resp);
    return VG_IO;
  }
  if (resp.status != 200) {
    log_warn("puller: %s answered HTTP %ld", action, resp.status);
    http_client_resp_release(&resp);
    return VG_IO;
  }
  *out = resp.body.ptr ? buf_detach(&resp.body, NULL) : xstrdup("");
  http_client_resp_release(&resp);
  return VG_OK;
}

/* Response.Error.Code of an API answer, or NULL (sets *code_out, malloc'd). */
static int api_error(const char *body, char **code_out)
{
  json_error_t je;
  json_t *root = json_loads(body, JSON_REJECT_DUPLICATES, &je), *err;
  const char *code;

  *code_out = NULL;
  if (!json_is_object(root) || !json_is_object(json_object_get(root, "Response"))) {
    json_decref(root);
    return VG_INVALID;
  }
  err = json_object_get(json_object_get(root, "Response"), "Error");
  code = json_string_value(json_object_get(err, "Code"));
  if (err && !json_is_null(err))
    *code_out = xstrdup(code ? code : "(no code)");
  json_decref(root);
  return VG_OK;
}

static char *req_body(struct puller *p, json_t *handles)
{
  struct cfg *c = app_cfg_get(p->app);
  int64_t sub = cfg_get_int(c, "vod", "sub_app_id");
  json_t *o = json_object();
  char *s;

  cfg_unref(c);
  if (handles)
    json_object_set(o, "EventHandles", handles);
  if (sub > 0)
    json_object_set_new(o, "SubAppId", json_integer(sub));
  s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(o);
  return s ? s : xstrdup("{}");
}

/* Confirm handles in calls of at most 16. Returns the number confirmed. */
static size_t confirm(struct puller *p, char **handles, size_t n)
{
  size_t done = 0;

  for (size_t i = 0; i < n; i += PL_CONFIRM_MAX) {
    json_t *arr = json_array();
    char *body, *resp = NULL, *code = NULL;
    size_t k = n - i < PL_CONFIRM_MAX ? n - i : PL_CONFIRM_MAX;
    int rc;

    for (size_t j = 0; j < k; j++)
      json_array_append_new(arr, json_string(handles[i + j]));
    body = req_body(p, arr);
    json_decref(arr);
    rc = api_call(p, "ConfirmEvents", body, 0, &resp);
    free(body);
    if (rc == VG_OK && api_error(resp, &code) == VG_OK && !code) {
      done += k;
      metrics_add("vodgate_pull_confirmed_total", NULL, NULL, k);
    } else {
      /* The events stay stored; VOD offers them again, their keys dedupe. */
      if (code)
        log_warn("puller: ConfirmEvents error %s; %zu events will be pulled again", code, k);
      else if (rc == VG_OK)
        log_warn("puller: ConfirmEvents answer is not API JSON; %zu events will be pulled again",
                 k);
      metrics_inc("vodgate_pull_requests_total", "result", "confirm_error");
    }
    free(code);
    free(resp);
  }
  return done;
}

/* One PullEvents round. Returns VG_OK (with *n_events), or an error after
 * which the caller backs off. */
static int pull_once(struct puller *p, size_t *n_events)
{
  char *body = req_body(p, NULL), *resp = NULL;
  char reason[EVENT_REASON_MAX];
  struct event_pull pull;
  char *handles[EVENT_MAX_PULL_EVENTS];
  size_t nh = 0;
  bool commit_failed = false;
  int rc;

  *n_events = 0;
  rc = api_call(p, "PullEvents", body, p->timeout_ms, &resp);
  free(body);
  if (rc) {
    metrics_inc("vodgate_pull_requests_total", "result", "error");
    return rc;
  }
  memset(&pull, 0, sizeof(pull));
  {
    /* The review thresholds of the push receiver (svc/events.c). */
    struct cfg *c = app_cfg_get(p->app);
    struct event_review_policy rp = {
        .block_at = (double)cfg_get_int(c, "events", "review_block_at"),
        .review_at = (double)cfg_get_int(c, "events", "review_review_at"),
    };
    cfg_unref(c);
    rc = event_parse_pull(resp, strlen(resp), &rp, &pull, reason, sizeof(reason));
  }
  free(resp);
  if (rc) {
    log_warn("puller: PullEvents answer refused (%s)", reason);
    metrics_inc("vodgate_pull_requests_total", "result", "bad_answer");
    event_pull_release(&pull);
    return VG_IO;
  }
  if (*pull.error_code) {
    /* The code and RequestId only: the message may echo request values. */
    log_warn("puller: PullEvents error %s (RequestId %s)", pull.error_code, pull.request_id);
    metrics_inc("vodgate_pull_requests_total", "result", "api_error");
    event_pull_release(&pull);
    return VG_IO;
  }
  metrics_inc("vodgate_pull_requests_total", "result", "ok");
  *n_events = pull.n;
  for (size_t i = 0; i < pull.n && !atomic_load(&p->stop); i++) {
    struct event_pull_item *it = &pull.items[i];
    const char *handle = it->ev.event_handle;
    int64_t now = (int64_t)time(NULL);
    bool is_new = false;

    if (it->rc == VG_OK) {
      rc = svc_ingest_event(p->app, &it->ev, it->raw, strlen(it->raw), "pull", now, &is_new, reason,
                            sizeof(reason));
      if (rc == VG_OK) {
        metrics_inc("vodgate_pull_events_total", "result", is_new ? "new" : "duplicate");
        log_info("puller: event %s %s", it->ev.key, is_new ? "committed" : "duplicate");
        handles[nh++] = it->ev.event_handle;
        continue;
      }
      if (rc != VG_INVALID) {
        log_error("puller: cannot commit %s (%s); not confirmed", it->ev.key, vg_strerror(rc));
        metrics_inc("vodgate_pull_events_total", "result", "commit_failed");
        commit_failed = true;
        continue;
      }
    } else {
      snprintf(reason, sizeof(reason), "%s", it->reason);
    }
    /* Malformed: keep it for inspection, then confirm it (once kept). */
    rc = svc_ingest_quarantine(p->app, reason, it->raw ? it->raw : "",
                               it->raw ? strlen(it->raw) : 0, now);
    if (rc) {
      log_error("puller: cannot quarantine a malformed event (%s); not confirmed", vg_strerror(rc));
      commit_failed = true;
      continue;
    }
    metrics_inc("vodgate_pull_events_total", "result", "quarantined");
    log_warn("puller: malformed event quarantined (%s)%s", reason,
             handle && *handle ? "" : "; it has no EventHandle to confirm");
    if (handle && *handle)
      handles[nh++] = (char *)handle;
  }
  if (nh)
    (void)confirm(p, handles, nh);
  event_pull_release(&pull);
  return commit_failed ? VG_IO : VG_OK;
}

static void *pl_main(void *arg)
{
  struct puller *p = arg;
  int64_t lease_at = 0, backoff_ms = 0;
  bool held = false, told = false;

  thread_name("vg-puller");

  while (!atomic_load(&p->stop)) {
    int64_t now = (int64_t)time(NULL);
    size_t n = 0;
    int rc;

    if (!held || now - lease_at >= PL_LEASE_TTL / 3) {
      rc = store_lease_acquire(p->app->store, PL_LEASE, p->owner, now, PL_LEASE_TTL);
      held = rc == VG_OK;
      if (!held) {
        if (!told)
          log_warn("puller: another puller holds the lease on this database (%s); waiting",
                   vg_strerror(rc));
        told = true;
        pl_sleep_ms(p, 5000);
        continue;
      }
      if (told)
        log_info("puller: lease taken");
      told = false;
      lease_at = now;
    }
    rc = pull_once(p, &n);
    if (rc == VG_AGAIN)
      break;
    if (rc) {
      uint32_t r;
      int64_t ms;
      backoff_ms = backoff_ms ? backoff_ms * 2 : 1000;
      if (backoff_ms > p->backoff_max * 1000)
        backoff_ms = p->backoff_max * 1000;
      random_bytes(&r, sizeof(r));
      ms = backoff_ms * 8 / 10 + (int64_t)((double)backoff_ms * 0.4 * ((double)r / 4294967296.0));
      log_info("puller: retrying in %lld ms", (long long)ms);
      pl_sleep_ms(p, ms);
      continue;
    }
    backoff_ms = 0;
    if (n == 0 && p->idle > 0)
      pl_sleep_ms(p, p->idle * 1000);
  }
  if (held && store_lease_release(p->app->store, PL_LEASE, p->owner))
    log_warn("puller: cannot release the lease");
  return NULL;
}

int puller_check_cfg(const struct cfg *c, char *err, size_t errlen)
{
  const char *mode = cfg_get_str(c, "events", "mode");
  const char *ep = cfg_get_str(c, "vod", "api_endpoint");
  char host[256];

  /* What puller_start refuses (it calls this). */
  if (strcmp(mode, "pull") != 0 && strcmp(mode, "both") != 0)
    return 0;
  if (!cfg_get_str(c, "vod", "secret_id") || !cfg_get_secret(c, "vod", "secret_key", NULL)) {
    snprintf(err, errlen,
             "[events] mode = %s needs [vod] secret_id and secret_key_file "
             "(VODGATE_VOD_SECRET_KEY) to call PullEvents",
             mode);
    return -1;
  }
  if (!ep || http_client_url_host(ep, host, sizeof(host))) {
    snprintf(err, errlen, "[vod] api_endpoint: must be an http:// or https:// URL");
    return -1;
  }
  return 0;
}

int puller_start(struct app *app, char *err, size_t errlen)
{
  struct cfg *c = app_cfg_get(app);
  const char *mode = cfg_get_str(c, "events", "mode");
  const char *ep = cfg_get_str(c, "vod", "api_endpoint");
  struct puller *p;
  size_t len;

  if (strcmp(mode, "pull") != 0 && strcmp(mode, "both") != 0) {
    cfg_unref(c);
    return 0;
  }
  if (puller_check_cfg(c, err, errlen)) {
    cfg_unref(c);
    return -1;
  }
  p = xcalloc(1, sizeof(*p));
  p->app = app;
  if (http_client_url_host(ep, p->host, sizeof(p->host))) { /* checked above: only a longer host */
    snprintf(err, errlen, "[vod] api_endpoint: host too long");
    cfg_unref(c);
    free(p);
    return -1;
  }
  len = strlen(ep);
  p->url = xmalloc(len + 2);
  memcpy(p->url, ep, len + 1);
  if (strchr(strstr(ep, "//") + 2, '/') == NULL) {
    p->url[len] = '/';
    p->url[len + 1] = '\0';
  }
  p->timeout_ms = (long)cfg_get_int(c, "events", "pull_timeout") * 1000;
  p->idle = cfg_get_int(c, "events", "pull_interval");
  p->backoff_max = cfg_get_int(c, "events", "pull_backoff_max");
  cfg_unref(c);
  worker_owner_id(p->owner, sizeof(p->owner));
  pthread_mutex_init(&p->mu, NULL);
  worker_cond_init(&p->cv);
  atomic_init(&p->stop, false);
  if (http_client_global_init()) {
    snprintf(err, errlen, "cannot initialise libcurl");
    goto fail;
  }
  /* ConfirmEvents and errors use the client's default timeout (10 s);
   * PullEvents passes pull_timeout. */
  p->hc = http_client_new(&(struct http_client_opts){
      .timeout_ms = 10000, .max_body = EVENT_MAX_PULL_BODY, .cancel = &p->stop});
  if (pthread_create(&p->th, NULL, pl_main, p)) {
    snprintf(err, errlen, "cannot start the puller thread");
    goto fail;
  }
  g_pl = p;
  metrics_describe("vodgate_pull_requests_total", "PullEvents/ConfirmEvents calls by result.");
  metrics_describe("vodgate_pull_events_total",
                   "Pulled events by outcome (new, duplicate, quarantined, commit_failed).");
  metrics_describe("vodgate_pull_confirmed_total", "Event handles confirmed with ConfirmEvents.");
  log_info("puller: started (endpoint host %s)", p->host);
  return 0;
fail:
  http_client_free(p->hc);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p->url);
  free(p);
  return -1;
}

void puller_stop(void)
{
  struct puller *p = g_pl;

  if (!p)
    return;
  g_pl = NULL;
  worker_signal_stop(&p->mu, &p->cv, &p->stop);
  pthread_join(p->th, NULL);
  http_client_free(p->hc);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p->url);
  free(p);
  log_info("puller: stopped");
}
