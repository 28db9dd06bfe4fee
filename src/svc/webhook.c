/*
 * webhook.c: the webhook forwarder (see workers.h and docs/api.md
 * "Webhooks"). One thread; it owns its libcurl handle.
 *
 * Delivery: at-least-once. A row is marked delivered only after a 2xx, so a
 * crash between the answer and the mark sends it again with the same
 * webhook-id; receivers dedupe on webhook-id.
 */
#include "svc/workers.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfg/cfg.h"
#include "core/b64.h"
#include "core/log.h"
#include "core/util.h"
#include "http/metrics.h"
#include "net/http_client.h"
#include "store/store.h"
#include "svc/app.h"

#define WH_LEASE      "webhook-forwarder"
#define WH_LEASE_TTL  30          /* seconds; renewed every WH_LEASE_TTL / 3 */
#define WH_BATCH      32          /* rows claimed per round */
#define WH_MAX_SCHED  32          /* retry_schedule entries at most */
#define WH_MAX_RESP   (64 * 1024) /* the receiver's answer is only logged by status */
#define WH_MAX_SECRET 1024
/* Seconds between recounts of the outbox for vodgate_outbox_pending. The
 * count walks every pending row: after every batch, as it was, draining a
 * backlog of 120,000 rows spent most of the forwarder's time counting
 * (760 deliveries/s), and the cost per row grew with the backlog. Between
 * recounts the gauge follows this process's own rows (depth_add). */
#define WH_DEPTH_RECOUNT_S 5

struct wh_item {
  int64_t id;
  int64_t attempts;
  char *event_key;
  char *payload;
};

struct webhook {
  struct app *app;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool poked;
  atomic_bool stop;
  char owner[96];
  int64_t sched[WH_MAX_SCHED];
  size_t n_sched;
  int64_t retry_for;
  int64_t poll;
  long timeout_ms;
  struct http_client *hc;
};

static struct webhook *g_wh;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER; /* guards g_wh for wake/metrics */
static atomic_llong g_depth = -1;                        /* pending rows; -1: unknown */

/* Moves the gauge by d (rows added, delivered or dead-lettered here), never
 * below 0; nothing while it is unknown (no count yet). */
static void depth_add(long long d)
{
  long long v = atomic_load(&g_depth);
  while (v >= 0 && !atomic_compare_exchange_weak(&g_depth, &v, v + d > 0 ? v + d : 0))
    ;
}

/* ---- signing ---- */

int webhook_sign(const void *key, size_t key_len, const char *id, int64_t ts, const char *body,
                 size_t body_len, char *out, size_t cap)
{
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  struct buf msg;
  int rc;

  if (cap < 3 + b64_encoded_len(SHA256_DIGEST_LENGTH) + 1)
    return VG_ERR;
  buf_init(&msg, body_len + 128);
  rc = buf_printf(&msg, "%s.%lld.", id, (long long)ts);
  if (!rc)
    rc = buf_append(&msg, body, body_len);
  if (rc) {
    buf_release(&msg);
    return VG_ERR;
  }
  if (!HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg.ptr, msg.len, mac,
            &mac_len)) {
    buf_release(&msg);
    return VG_ERR;
  }
  buf_release(&msg);
  memcpy(out, "v1,", 3);
  b64_encode(mac, mac_len, out + 3);
  secure_zero(mac, sizeof(mac));
  return VG_OK;
}

int webhook_secret_key(const char *secret, size_t len, unsigned char **out, size_t *out_len)
{
  unsigned flags = 0;

  *out = NULL;
  *out_len = 0;
  if (!secret || len == 0 || len > WH_MAX_SECRET)
    return VG_INVALID;
  if (len > 6 && memcmp(secret, "whsec_", 6) == 0) {
    size_t max = b64_decoded_max(len - 6), n = 0;
    unsigned char *k = xmalloc(max + 1);
    if (b64_decode(secret + 6, len - 6, k, max, &n, &flags) || n == 0) {
      secure_zero(k, max + 1);
      free(k);
      return VG_INVALID;
    }
    *out = k;
    *out_len = n;
    return VG_OK;
  }
  *out = xmalloc(len);
  memcpy(*out, secret, len);
  *out_len = len;
  return VG_OK;
}

/* ---- schedule ---- */

/* The delay before retry number n (n = failed attempts so far, >= 1): the
 * schedule's entry n-1, its last entry once past its end. */
static int64_t sched_delay(const struct webhook *w, int64_t n)
{
  size_t i = n < 1 ? 0 : (size_t)(n - 1);
  return w->sched[i < w->n_sched ? i : w->n_sched - 1];
}

/* Sum of the first n delays: how long after the first attempt retry n+1 is
 * due, without jitter. Dead-lettering compares this with retry_for, so the
 * number of attempts does not depend on jitter or on how late we ran. */
static int64_t sched_total(const struct webhook *w, int64_t n)
{
  int64_t t = 0;
  for (int64_t i = 1; i <= n && t <= w->retry_for; i++)
    t += sched_delay(w, i);
  return t;
}

/* delay * [0.8, 1.2): receivers that failed together are not retried in
 * lockstep. */
static int64_t jitter(int64_t d)
{
  uint32_t r;
  int64_t j;

  random_bytes(&r, sizeof(r));
  j = d * 8 / 10 + (int64_t)((double)d * 0.4 * ((double)r / 4294967296.0));
  return j < 1 ? 1 : j;
}

static int parse_schedule(const struct cfg *c, struct webhook *w, char *err, size_t errlen)
{
  size_t n = 0;
  const char *const *items = cfg_get_list(c, "webhook", "retry_schedule", &n);

  if (n == 0 || n > WH_MAX_SCHED) {
    snprintf(err, errlen, "[webhook] retry_schedule: 1..%d durations", WH_MAX_SCHED);
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    const char *s = items[i];
    size_t len = strlen(s);
    int64_t mult = 1, v;
    if (len > 1 && strchr("smhd", s[len - 1])) {
      mult = s[len - 1] == 's' ? 1 : s[len - 1] == 'm' ? 60 : s[len - 1] == 'h' ? 3600 : 86400;
      len--;
    }
    if (parse_i64(s, len, &v) || v < 1 || v > 7 * 86400 / mult) {
      snprintf(err, errlen,
               "[webhook] retry_schedule: item %zu is not a duration of 1s..7d (\"90\", "
               "\"30s\", \"2m\", \"1h\")",
               i + 1);
      return -1;
    }
    w->sched[i] = v * mult;
  }
  w->n_sched = n;
  return 0;
}

/* ---- the thread ---- */

static int collect_cb(const struct store_outbox_item *item, void *arg)
{
  struct wh_item *it = arg;
  size_t i = 0;

  while (it[i].event_key)
    i++;
  it[i].id = item->id;
  it[i].attempts = item->attempts;
  it[i].event_key = xstrdup(item->event_key);
  it[i].payload = xstrdup(item->payload_json);
  return 0;
}

static void items_free(struct wh_item *it, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free(it[i].event_key);
    free(it[i].payload);
  }
  memset(it, 0, n * sizeof(*it));
}

/* Stable per row: the row id, and a hash of the event key so that ids do
 * not repeat if the database is ever recreated. */
static void msg_id(const struct wh_item *it, char *out, size_t cap)
{
  unsigned char h[SHA256_DIGEST_LENGTH];
  char hex[2 * SHA256_DIGEST_LENGTH + 1];

  SHA256((const unsigned char *)it->event_key, strlen(it->event_key), h);
  hex_encode(h, 8, hex);
  snprintf(out, cap, "msg_%lld_%s", (long long)it->id, hex);
}

/* Returns false when the forwarder is stopping (the row stays as it was). */
static bool deliver(struct webhook *w, const struct wh_item *it)
{
  struct cfg *c = app_cfg_get(w->app);
  const char *url = cfg_get_str(c, "webhook", "url");
  size_t slen = 0;
  const char *secret = cfg_get_secret(c, "webhook", "secret", &slen);
  unsigned char *key = NULL;
  size_t key_len = 0;
  char id[96], sig[128], h_id[128], h_ts[64], h_sig[160];
  const char *hdrs[4];
  int64_t ts = (int64_t)time(NULL), n, next;
  struct http_client_resp resp;
  bool ok, dead, go_on = true;
  int rc;

  if (!url || webhook_secret_key(secret, slen, &key, &key_len)) {
    cfg_unref(c);
    return false; /* configuration changed under us: wait for a restart */
  }
  msg_id(it, id, sizeof(id));
  rc = webhook_sign(key, key_len, id, ts, it->payload, strlen(it->payload), sig, sizeof(sig));
  secure_zero(key, key_len);
  free(key);
  if (rc) {
    cfg_unref(c);
    return false;
  }
  snprintf(h_id, sizeof(h_id), "webhook-id: %s", id);
  snprintf(h_ts, sizeof(h_ts), "webhook-timestamp: %lld", (long long)ts);
  snprintf(h_sig, sizeof(h_sig), "webhook-signature: %s", sig);
  hdrs[0] = "Content-Type: application/json";
  hdrs[1] = h_id;
  hdrs[2] = h_ts;
  hdrs[3] = h_sig;
  rc =
      http_client_post(w->hc, url, hdrs, 4, it->payload, strlen(it->payload), w->timeout_ms, &resp);
  cfg_unref(c);
  if (rc == VG_AGAIN) { /* stopping: the row stays due, sent again next start */
    http_client_resp_release(&resp);
    return false;
  }
  ok = rc == VG_OK && resp.status >= 200 && resp.status < 300;
  if (ok) {
    rc = store_outbox_delivered(w->app->store, it->id, (int64_t)time(NULL));
    if (rc == VG_OK)
      depth_add(-1);
    if (rc && rc != VG_NOTFOUND)
      log_error("webhook: %s delivered but not marked (%s); it will be sent again", id,
                vg_strerror(rc));
    metrics_inc("vodgate_webhook_deliveries_total", "result", "delivered");
    log_info("webhook: delivered %s (%s) status %ld, attempt %lld", id, it->event_key, resp.status,
             (long long)it->attempts + 1);
    http_client_resp_release(&resp);
    return go_on;
  }
  n = it->attempts + 1;
  dead = sched_total(w, n) > w->retry_for;
  next = (int64_t)time(NULL) + jitter(sched_delay(w, n));
  rc = store_outbox_failed(w->app->store, it->id, next, dead);
  if (rc == VG_OK && dead)
    depth_add(-1);
  if (rc && rc != VG_NOTFOUND)
    log_error("webhook: cannot record the failure of %s (%s)", id, vg_strerror(rc));
  metrics_inc("vodgate_webhook_deliveries_total", "result", "failed");
  char why[sizeof(resp.error) + 32];
  if (resp.status)
    snprintf(why, sizeof(why), "status %ld", resp.status);
  else
    snprintf(why, sizeof(why), "%s", resp.error);
  if (dead) {
    metrics_inc("vodgate_webhook_dead_letters_total", NULL, NULL);
    log_error("webhook: %s (%s) dead-lettered after %lld attempts (last: %s)", id, it->event_key,
              (long long)n, why);
  } else {
    log_warn("webhook: %s (%s) attempt %lld failed (%s), retry in ~%llds", id, it->event_key,
             (long long)n, why, (long long)(next - (int64_t)time(NULL)));
  }
  http_client_resp_release(&resp);
  return go_on;
}

static void wait_for(struct webhook *w, int64_t seconds)
{
  struct timespec dl;

  clock_gettime(CLOCK_MONOTONIC, &dl);
  dl.tv_sec += seconds;
  pthread_mutex_lock(&w->mu);
  while (!w->poked && !atomic_load(&w->stop)) {
    if (pthread_cond_timedwait(&w->cv, &w->mu, &dl) == ETIMEDOUT)
      break;
  }
  w->poked = false;
  pthread_mutex_unlock(&w->mu);
}

static void *wh_main(void *arg)
{
  struct webhook *w = arg;
  struct wh_item items[WH_BATCH];
  int64_t lease_at = 0, counted_at = 0;
  bool held = false, told = false;

  thread_name("vg-webhook");

  memset(items, 0, sizeof(items));
  while (!atomic_load(&w->stop)) {
    int64_t now = (int64_t)time(NULL), pending = 0;
    size_t n = 0;
    int rc;

    if (!held || now - lease_at >= WH_LEASE_TTL / 3) {
      rc = store_lease_acquire(w->app->store, WH_LEASE, w->owner, now, WH_LEASE_TTL);
      held = rc == VG_OK;
      if (held) {
        lease_at = now;
        if (told)
          log_info("webhook: forwarder lease taken");
        told = false;
      } else {
        if (!told)
          log_warn("webhook: another forwarder holds the lease on this database (%s); waiting",
                   vg_strerror(rc));
        told = true;
        wait_for(w, w->poll);
        continue;
      }
    }
    rc = store_outbox_due(w->app->store, now, WH_BATCH, collect_cb, items);
    if (rc)
      log_error("webhook: cannot read the outbox (%s)", vg_strerror(rc));
    while (n < WH_BATCH && items[n].event_key)
      n++;
    for (size_t i = 0; i < n && !atomic_load(&w->stop); i++) {
      /* A batch of slow receivers can outlast the lease: renew it between
       * deliveries, and stop if another forwarder took over meanwhile. */
      int64_t t = (int64_t)time(NULL);
      if (t - lease_at >= WH_LEASE_TTL / 3) {
        if (store_lease_acquire(w->app->store, WH_LEASE, w->owner, t, WH_LEASE_TTL) != VG_OK) {
          held = false;
          break;
        }
        lease_at = t;
      }
      if (!deliver(w, &items[i]))
        break;
    }
    items_free(items, n);
    now = (int64_t)time(NULL);
    if ((now - counted_at >= WH_DEPTH_RECOUNT_S || now < counted_at || atomic_load(&g_depth) < 0) &&
        store_outbox_count(w->app->store, &pending) == VG_OK) {
      atomic_store(&g_depth, pending);
      counted_at = now;
    }
    if (n == WH_BATCH)
      continue; /* more may be due */
    wait_for(w, w->poll);
  }
  if (held && store_lease_release(w->app->store, WH_LEASE, w->owner))
    log_warn("webhook: cannot release the lease");
  return NULL;
}

void webhook_wake(void)
{
  pthread_mutex_lock(&g_mu);
  if (g_wh) {
    depth_add(1);
    pthread_mutex_lock(&g_wh->mu);
    g_wh->poked = true;
    pthread_cond_signal(&g_wh->cv);
    pthread_mutex_unlock(&g_wh->mu);
  }
  pthread_mutex_unlock(&g_mu);
}

int webhook_metrics_render(struct buf *out)
{
  long long d = atomic_load(&g_depth);

  if (d < 0)
    return VG_OK;
  return buf_printf(out,
                    "# HELP vodgate_outbox_pending Webhook outbox rows not yet delivered nor "
                    "dead-lettered.\n# TYPE vodgate_outbox_pending gauge\n"
                    "vodgate_outbox_pending %lld\n",
                    d);
}

int webhook_check_cfg(const struct cfg *c, char *err, size_t errlen)
{
  const char *url = cfg_get_str(c, "webhook", "url");
  size_t slen = 0;
  const char *secret = cfg_get_secret(c, "webhook", "secret", &slen);
  unsigned char *key = NULL;
  size_t key_len = 0;
  struct webhook *w;
  char host[256];
  int rc;

  /* The same order as webhook_start: no url, no forwarder; a url that
   * cannot be used stops start-up; without a usable secret the forwarder
   * only logs that it does not start; then the schedule. */
  if (!url)
    return 0;
  if (http_client_url_host(url, host, sizeof(host))) {
    snprintf(err, errlen, "[webhook] url: must be an http:// or https:// URL");
    return -1;
  }
  if (webhook_secret_key(secret, slen, &key, &key_len))
    return 0;
  secure_zero(key, key_len);
  free(key);
  w = xcalloc(1, sizeof(*w));
  rc = parse_schedule(c, w, err, errlen);
  free(w);
  return rc;
}

int webhook_start(struct app *app, char *err, size_t errlen)
{
  struct cfg *c = app_cfg_get(app);
  const char *url = cfg_get_str(c, "webhook", "url");
  size_t slen = 0;
  const char *secret = cfg_get_secret(c, "webhook", "secret", &slen);
  unsigned char *key = NULL;
  size_t key_len = 0;
  struct webhook *w;
  char host[256];
  int rc;

  if (!url) {
    cfg_unref(c);
    return 0;
  }
  if (http_client_url_host(url, host, sizeof(host))) {
    snprintf(err, errlen, "[webhook] url: must be an http:// or https:// URL");
    cfg_unref(c);
    return -1;
  }
  if (webhook_secret_key(secret, slen, &key, &key_len)) {
    log_error("webhook: forwarder not started: [webhook] secret_file / VODGATE_WEBHOOK_SECRET "
              "is %s; webhooks are never sent unsigned (rows wait in the outbox)",
              secret ? "not a valid whsec_<base64> secret" : "unset");
    cfg_unref(c);
    return 0;
  }
  secure_zero(key, key_len);
  free(key);
  w = xcalloc(1, sizeof(*w));
  w->app = app;
  if (parse_schedule(c, w, err, errlen)) {
    cfg_unref(c);
    free(w);
    return -1;
  }
  w->retry_for = cfg_get_int(c, "webhook", "retry_for");
  w->poll = cfg_get_int(c, "webhook", "poll_interval");
  w->timeout_ms = (long)cfg_get_int(c, "webhook", "timeout") * 1000;
  cfg_unref(c);
  worker_owner_id(w->owner, sizeof(w->owner));
  pthread_mutex_init(&w->mu, NULL);
  worker_cond_init(&w->cv);
  atomic_init(&w->stop, false);
  if (http_client_global_init()) {
    snprintf(err, errlen, "cannot initialise libcurl");
    goto fail;
  }
  w->hc = http_client_new(&(struct http_client_opts){
      .timeout_ms = w->timeout_ms, .max_body = WH_MAX_RESP, .cancel = &w->stop});
  rc = pthread_create(&w->th, NULL, wh_main, w);
  if (rc) {
    snprintf(err, errlen, "cannot start the webhook forwarder thread");
    goto fail;
  }
  pthread_mutex_lock(&g_mu);
  g_wh = w;
  pthread_mutex_unlock(&g_mu);
  metrics_describe("vodgate_webhook_deliveries_total",
                   "Webhook delivery attempts by result (delivered: 2xx; failed: anything else).");
  metrics_describe("vodgate_webhook_dead_letters_total",
                   "Webhooks given up after [webhook] retry_for (kept in the outbox, dead).");
  log_info("webhook: forwarder started (host %s, retries for %llds)", host,
           (long long)w->retry_for);
  return 0;
fail:
  http_client_free(w->hc);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
  free(w);
  return -1;
}

void webhook_stop(void)
{
  struct webhook *w;

  pthread_mutex_lock(&g_mu);
  w = g_wh;
  g_wh = NULL;
  pthread_mutex_unlock(&g_mu);
  if (!w)
    return;
  pthread_mutex_lock(&w->mu);
  atomic_store(&w->stop, true);
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->th, NULL);
  http_client_free(w->hc);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
  free(w);
  atomic_store(&g_depth, -1);
  log_info("webhook: forwarder stopped");
}
