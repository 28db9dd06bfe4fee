/*
 * webhook.c: the webhook forwarder (see workers.h and docs/api.md
 * "Webhooks"). One thread; it owns its libcurl handles: up to
 * [webhook] concurrency deliveries in flight at once (libcurl multi), at
 * most one per file, each file's webhooks started in the order they were
 * written.
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
#include "core/jscan.h"
#include "core/log.h"
#include "core/util.h"
#include "http/metrics.h"
#include "net/http_client.h"
#include "store/store.h"
#include "svc/app.h"

#define WH_LEASE      "webhook-forwarder"
#define WH_LEASE_TTL  30          /* seconds; renewed every WH_LEASE_TTL / 3 */
#define WH_BATCH      32          /* rows read from the outbox at once, beyond those held */
#define WH_MAX_SCHED  32          /* retry_schedule entries at most */
#define WH_MAX_RESP   (64 * 1024) /* the receiver's answer is only logged by status */
#define WH_MAX_SECRET 1024
/* Seconds between recounts of the outbox for vodgate_outbox_pending. The
 * count walks every pending row: after every batch, as it was, draining a
 * backlog of 120,000 rows spent most of the forwarder's time counting
 * (760 deliveries/s), and the cost per row grew with the backlog. Between
 * recounts the gauge follows this process's own rows (depth_add). */
#define WH_DEPTH_RECOUNT_S 5

enum wh_state { WH_FREE, WH_QUEUED, WH_FLYING };

/* An outbox row taken in: queued until it may start, then in flight. */
struct wh_item {
  enum wh_state st;
  uint64_t seq; /* the order it was read in (oldest due first, then id) */
  int64_t id;
  int64_t attempts;
  char *event_key;
  char *payload;
  char *order; /* what it is about (its file, else its upload): one in flight each */
  char msg_id[96];
};

/* The outcome of one attempt, recorded with the others of its round. */
struct wh_result {
  struct wh_item *it;
  bool ok;
  bool dead;
  bool found; /* the row was still pending when recorded */
  int64_t next;
  long status;
  char why[256 + 32];
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
  unsigned conc;         /* [webhook] concurrency */
  struct http_multi *hm; /* conc transfers */
  struct wh_item *items; /* conc + WH_BATCH */
  size_t n_items;
  uint64_t seq;
  struct wh_result *res;  /* n_items: this round's outcomes */
  struct wh_item **order; /* n_items: start_ready's scratch */
  size_t n_res;
};

static struct webhook *g_wh;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER; /* guards g_wh for wake/metrics */
static atomic_llong g_depth = -1;                        /* pending rows; -1: unknown */
static atomic_uint g_inflight;                           /* deliveries in flight */

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
    if (len > 1 && strchr("smhdSMHD", s[len - 1])) {
      char u = (char)(s[len - 1] | 0x20); /* either case, as every other duration */
      mult = u == 's' ? 1 : u == 'm' ? 60 : u == 'h' ? 3600 : 86400;
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

/* The file a webhook is about (else its upload, else its event): webhooks
 * of one file never overlap and start in the order they were written, so
 * a receiver sees "uploaded" before "passed" unless the first one failed. */
static char *order_key(const char *payload, const char *event_key)
{
  static const char *const keys[] = {"fileId", "uploadId"};
  struct jscan_tok tok[64];
  struct jscan js;
  char *out = NULL;

  if (jscan_parse(&js, payload, strlen(payload), tok, 64, JSCAN_MAX_DEPTH) == VG_OK) {
    int d = jscan_get(&js, 0, "data");
    for (size_t i = 0; i < 2 && d >= 0 && !out; i++) {
      int t = jscan_get(&js, d, keys[i]);
      char *v = NULL;
      if (t >= 0 && js.tok[t].type == JSCAN_STRING && jscan_str(&js, t, &v, NULL) == VG_OK) {
        size_t n = strlen(v) + 3;
        out = xmalloc(n);
        snprintf(out, n, "%c:%s", keys[i][0], v);
      }
      free(v);
    }
  }
  jscan_release(&js);
  return out ? out : xstrdup(event_key);
}

static void item_free(struct wh_item *it)
{
  free(it->event_key);
  free(it->payload);
  free(it->order);
  memset(it, 0, sizeof(*it));
}

struct wh_claim {
  struct webhook *w;
  size_t seen;
  size_t left; /* due rows read but not taken: no free slot */
};

/* Takes in a due row unless it is held already. */
static int claim_cb(const struct store_outbox_item *item, void *arg)
{
  struct wh_claim *c = arg;
  struct webhook *w = c->w;
  struct wh_item *free_it = NULL;

  c->seen++;
  for (size_t i = 0; i < w->n_items; i++) {
    if (w->items[i].st != WH_FREE && w->items[i].id == item->id)
      return 0;
    if (w->items[i].st == WH_FREE && !free_it)
      free_it = &w->items[i];
  }
  if (!free_it) {
    c->left++;
    return 0;
  }
  free_it->st = WH_QUEUED;
  free_it->seq = ++w->seq;
  free_it->id = item->id;
  free_it->attempts = item->attempts;
  free_it->event_key = xstrdup(item->event_key);
  free_it->payload = xstrdup(item->payload_json);
  free_it->order = order_key(item->payload_json, item->event_key);
  return 0;
}

static size_t count_state(const struct webhook *w, enum wh_state st)
{
  size_t n = 0;
  for (size_t i = 0; i < w->n_items; i++)
    n += w->items[i].st == st;
  return n;
}

/* Reads due rows into the free slots; true when the outbox may hold more
 * due rows than were read. */
static bool claim(struct webhook *w, int64_t now)
{
  size_t held = w->n_items - count_state(w, WH_FREE);
  struct wh_claim c = {w, 0, 0};
  int64_t limit = (int64_t)(held + WH_BATCH);
  int rc = store_outbox_due(w->app->store, now, limit, claim_cb, &c);

  if (rc)
    log_error("webhook: cannot read the outbox (%s)", vg_strerror(rc));
  return rc == VG_OK && ((int64_t)c.seen == limit || c.left > 0);
}

/* Stable per row: the row id, and a hash of the event key so that ids do
 * not repeat if the database is ever recreated. */
void webhook_msg_id(int64_t id, const char *event_key, char *out, size_t cap)
{
  unsigned char h[SHA256_DIGEST_LENGTH];
  char hex[2 * SHA256_DIGEST_LENGTH + 1];

  SHA256((const unsigned char *)event_key, strlen(event_key), h);
  hex_encode(h, 8, hex);
  snprintf(out, cap, "msg_%lld_%s", (long long)id, hex);
}

/* A failed attempt's schedule and reason into r. */
static void result_failed(struct webhook *w, struct wh_result *r, long status, const char *error)
{
  int64_t n = r->it->attempts + 1;

  r->ok = false;
  r->status = status;
  r->dead = sched_total(w, n) > w->retry_for;
  r->next = (int64_t)time(NULL) + jitter(sched_delay(w, n));
  if (status)
    snprintf(r->why, sizeof(r->why), "status %ld", status);
  else
    snprintf(r->why, sizeof(r->why), "%s", error);
}

static struct wh_result *result_new(struct webhook *w, struct wh_item *it)
{
  struct wh_result *r = &w->res[w->n_res++]; /* one per item in flight: never full */

  memset(r, 0, sizeof(*r));
  r->it = it;
  return r;
}

/* The signing keys of this round: the secret's, and the previous
 * secret's while a rotation is under way (len 0: none). */
struct wh_keys {
  unsigned char *key, *prev;
  size_t key_len, prev_len;
};

static void keys_release(struct wh_keys *k)
{
  if (k->key)
    secure_zero(k->key, k->key_len);
  if (k->prev)
    secure_zero(k->prev, k->prev_len);
  free(k->key);
  free(k->prev);
  memset(k, 0, sizeof(*k));
}

/* The keys of c; false (nothing held) when the secret, or a previous
 * secret that is set, cannot be used. */
static bool keys_load(const struct cfg *c, struct wh_keys *k)
{
  size_t slen = 0, plen = 0;
  const char *secret = cfg_get_secret(c, "webhook", "secret", &slen);
  const char *prev = cfg_get_secret(c, "webhook", "previous_secret", &plen);

  memset(k, 0, sizeof(*k));
  if (webhook_secret_key(secret, slen, &k->key, &k->key_len) ||
      (prev && webhook_secret_key(prev, plen, &k->prev, &k->prev_len))) {
    keys_release(k);
    return false;
  }
  return true;
}

/* Signs it (under each key: "v1,<sig> v1,<sig under the previous key>",
 * as Standard Webhooks does during a rotation) and starts its POST. */
static void start(struct webhook *w, struct wh_item *it, const char *url, const struct wh_keys *k)
{
  char sig[128], sig2[128], h_id[128], h_ts[64], h_sig[300], err[256];
  const char *hdrs[4];
  int64_t ts = (int64_t)time(NULL);
  size_t plen = strlen(it->payload);
  int rc;

  webhook_msg_id(it->id, it->event_key, it->msg_id, sizeof(it->msg_id));
  it->st = WH_FLYING;
  atomic_fetch_add(&g_inflight, 1);
  rc = webhook_sign(k->key, k->key_len, it->msg_id, ts, it->payload, plen, sig, sizeof(sig));
  if (rc == VG_OK && k->prev)
    rc = webhook_sign(k->prev, k->prev_len, it->msg_id, ts, it->payload, plen, sig2, sizeof(sig2));
  if (rc == VG_OK) {
    snprintf(h_id, sizeof(h_id), "webhook-id: %s", it->msg_id);
    snprintf(h_ts, sizeof(h_ts), "webhook-timestamp: %lld", (long long)ts);
    snprintf(h_sig, sizeof(h_sig), "webhook-signature: %s%s%s", sig, k->prev ? " " : "",
             k->prev ? sig2 : "");
    hdrs[0] = "Content-Type: application/json";
    hdrs[1] = h_id;
    hdrs[2] = h_ts;
    hdrs[3] = h_sig;
    rc = http_multi_add(w->hm, "POST", url, hdrs, 4, it->payload, plen, w->timeout_ms, it, err,
                        sizeof(err));
  } else {
    snprintf(err, sizeof(err), "cannot sign");
  }
  secure_zero(sig2, sizeof(sig2));
  if (rc) /* never sent: a failed attempt like any other */
    result_failed(w, result_new(w, it), 0, err);
}

static int by_seq_desc(const void *a, const void *b)
{
  const struct wh_item *x = *(const struct wh_item *const *)a,
                       *y = *(const struct wh_item *const *)b;
  return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;
}

/* The queued rows into w->order, newest first (taken from the end). */
static size_t sort_queued(struct webhook *w)
{
  size_t n = 0;

  for (size_t i = 0; i < w->n_items; i++)
    if (w->items[i].st == WH_QUEUED)
      w->order[n++] = &w->items[i];
  qsort(w->order, n, sizeof(*w->order), by_seq_desc);
  return n;
}

/* Starts the queued rows that may go: oldest first, while fewer than conc
 * are in flight, and none while an earlier one of its file is held. */
static void start_ready(struct webhook *w)
{
  struct cfg *c;
  const char *url;
  struct wh_keys k;
  size_t flying = count_state(w, WH_FLYING);

  if (flying >= w->conc || count_state(w, WH_QUEUED) == 0)
    return;
  c = app_cfg_get(w->app);
  url = cfg_get_str(c, "webhook", "url");
  if (!url || !keys_load(c, &k)) {
    cfg_unref(c);
    return; /* configuration changed under us: wait for a restart */
  }
  /* One pass in the order read: a row is held back by an earlier held row
   * of its file (queued or in flight), including one started just now. */
  for (size_t n = sort_queued(w); n > 0 && flying < w->conc; n--) {
    struct wh_item *it = w->order[n - 1];
    bool blocked = false;
    for (size_t j = 0; j < w->n_items && !blocked; j++) {
      const struct wh_item *o = &w->items[j];
      blocked = o != it && o->st != WH_FREE && (o->st == WH_FLYING || o->seq < it->seq) &&
                strcmp(o->order, it->order) == 0;
    }
    if (blocked)
      continue;
    start(w, it, url, &k);
    flying++;
  }
  keys_release(&k);
  cfg_unref(c);
}

static void on_done(void *tag, int rc, const struct http_client_resp *resp, void *arg)
{
  struct webhook *w = arg;
  struct wh_item *it = tag;
  struct wh_result *r;

  if (rc == VG_AGAIN) { /* stopping: the row stays due, sent again next start */
    it->st = WH_QUEUED;
    atomic_fetch_sub(&g_inflight, 1);
    return;
  }
  r = result_new(w, it);
  if (rc == VG_OK && resp->status >= 200 && resp->status < 300) {
    r->ok = true;
    r->status = resp->status;
  } else {
    result_failed(w, r, resp->status, resp->error);
  }
}

static int settle_tx(struct store_tx *tx, void *arg)
{
  struct webhook *w = arg;
  int64_t now = (int64_t)time(NULL);

  for (size_t i = 0; i < w->n_res; i++) {
    struct wh_result *r = &w->res[i];
    int rc = r->ok ? store_tx_outbox_delivered(tx, r->it->id, now)
                   : store_tx_outbox_failed(tx, r->it->id, r->next, r->dead);
    r->found = rc == VG_OK;
    if (rc && rc != VG_NOTFOUND)
      return rc;
  }
  return VG_OK;
}

/* Records this round's outcomes in one transaction, then says so. */
static void settle(struct webhook *w)
{
  int rc;

  if (w->n_res == 0)
    return;
  rc = store_run(w->app->store, settle_tx, w);
  for (size_t i = 0; i < w->n_res; i++) {
    struct wh_result *r = &w->res[i];
    struct wh_item *it = r->it;
    if (r->ok) {
      if (rc == VG_OK && r->found)
        depth_add(-1);
      if (rc)
        log_error("webhook: %s delivered but not marked (%s); it will be sent again", it->msg_id,
                  vg_strerror(rc));
      metrics_inc("vodgate_webhook_deliveries_total", "result", "delivered");
      log_info("webhook: delivered %s (%s) status %ld, attempt %lld", it->msg_id, it->event_key,
               r->status, (long long)it->attempts + 1);
    } else {
      int64_t n = it->attempts + 1;
      if (rc == VG_OK && r->found && r->dead)
        depth_add(-1);
      if (rc)
        log_error("webhook: cannot record the failure of %s (%s)", it->msg_id, vg_strerror(rc));
      metrics_inc("vodgate_webhook_deliveries_total", "result", "failed");
      if (r->dead) {
        metrics_inc("vodgate_webhook_dead_letters_total", NULL, NULL);
        log_error("webhook: %s (%s) dead-lettered after %lld attempts (last: %s)", it->msg_id,
                  it->event_key, (long long)n, r->why);
      } else {
        log_warn("webhook: %s (%s) attempt %lld failed (%s), retry in ~%llds", it->msg_id,
                 it->event_key, (long long)n, r->why, (long long)(r->next - (int64_t)time(NULL)));
      }
    }
    atomic_fetch_sub(&g_inflight, 1);
    item_free(it);
  }
  w->n_res = 0;
}

/* Drops the rows not yet started (they stay due in the outbox). */
static void drop_queued(struct webhook *w)
{
  for (size_t i = 0; i < w->n_items; i++)
    if (w->items[i].st == WH_QUEUED)
      item_free(&w->items[i]);
}

static void wait_for(struct webhook *w, int64_t seconds)
{
  (void)worker_wait(&w->mu, &w->cv, &w->stop, &w->poked, seconds * 1000);
}

static bool take_poke(struct webhook *w)
{
  bool p;

  pthread_mutex_lock(&w->mu);
  p = w->poked;
  w->poked = false;
  pthread_mutex_unlock(&w->mu);
  return p;
}

static void *wh_main(void *arg)
{
  struct webhook *w = arg;
  int64_t lease_at = 0, counted_at = 0, read_at = 0;
  bool held = false, told = false, want_read = true, more = false;

  thread_name("vg-webhook");

  while (!atomic_load(&w->stop)) {
    int64_t now = (int64_t)time(NULL), pending = 0;
    size_t flying;
    int rc;

    /* A round of slow receivers can outlast the lease: it is renewed
     * between rounds; rows are only taken and started while it is held. */
    if (!held || now - lease_at >= WH_LEASE_TTL / 3) {
      rc = store_lease_acquire(w->app->store, WH_LEASE, w->owner, now, WH_LEASE_TTL);
      held = rc == VG_OK;
      if (held) {
        lease_at = now;
        if (told)
          log_info("webhook: forwarder lease taken");
        told = false;
      } else {
        drop_queued(w);
        if (!told)
          log_warn("webhook: another forwarder holds the lease on this database (%s); waiting",
                   vg_strerror(rc));
        told = true;
      }
    }
    if (held && want_read) {
      more = claim(w, now);
      read_at = now;
      want_read = false;
    }
    if (held)
      start_ready(w);
    settle(w); /* attempts that could not even start */
    if ((now - counted_at >= WH_DEPTH_RECOUNT_S || now < counted_at || atomic_load(&g_depth) < 0) &&
        store_outbox_count(w->app->store, &pending) == VG_OK) {
      atomic_store(&g_depth, pending);
      counted_at = now;
    }
    flying = count_state(w, WH_FLYING);
    if (flying == 0) {
      if (held && count_state(w, WH_QUEUED) == 0 && more) {
        want_read = true; /* more may be due */
        continue;
      }
      wait_for(w, w->poll);
      want_read = true;
      continue;
    }
    if (http_multi_run(w->hm, 1000, on_done, w)) {
      /* It failed without waiting: pause, or the loop would spin (and log)
       * as fast as it fails. */
      struct timespec pause = {1, 0};
      log_error("webhook: libcurl failed; transfers resume in a second");
      nanosleep(&pause, NULL); /* not wait_for: that would take a poke meant for later */
    }
    settle(w);
    now = (int64_t)time(NULL);
    if (take_poke(w) || now - read_at >= w->poll || now < read_at ||
        (more && count_state(w, WH_FREE) >= WH_BATCH / 2) ||
        (count_state(w, WH_QUEUED) == 0 && more))
      want_read = true;
  }
  /* Stopping: transfers in flight are abandoned within about a second
   * (the cancel flag); those that ended meanwhile are recorded. */
  {
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    t = t0;
    while (http_multi_inflight(w->hm) > 0 && t.tv_sec - t0.tv_sec < 5) {
      if (http_multi_run(w->hm, 200, on_done, w))
        break;
      settle(w);
      clock_gettime(CLOCK_MONOTONIC, &t);
    }
  }
  for (size_t i = 0; i < w->n_items; i++)
    if (w->items[i].st != WH_FREE) {
      if (w->items[i].st == WH_FLYING)
        atomic_fetch_sub(&g_inflight, 1);
      item_free(&w->items[i]);
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
    http_multi_wakeup(g_wh->hm);
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
                    "vodgate_outbox_pending %lld\n"
                    "# HELP vodgate_webhook_inflight Webhook deliveries in flight.\n"
                    "# TYPE vodgate_webhook_inflight gauge\n"
                    "vodgate_webhook_inflight %u\n",
                    d, atomic_load(&g_inflight));
}

/* A previous secret that is set must be usable (it is only ever read with
 * the secret: a typo would silently sign without it). */
static bool previous_bad(const struct cfg *c, char *err, size_t errlen)
{
  size_t plen = 0, klen = 0;
  const char *prev = cfg_get_secret(c, "webhook", "previous_secret", &plen);
  unsigned char *k = NULL;

  if (!prev)
    return false;
  if (webhook_secret_key(prev, plen, &k, &klen)) {
    snprintf(err, errlen,
             "[webhook] previous_secret_file: not a valid secret (whsec_<base64>, or raw bytes)");
    return true;
  }
  secure_zero(k, klen);
  free(k);
  return false;
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

  /* What webhook_start refuses (it calls this): no url, no forwarder; a
   * url that cannot be used stops start-up; without a usable secret the
   * forwarder only logs that it does not start; then the previous secret
   * and the schedule. */
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
  if (previous_bad(c, err, errlen))
    return -1;
  w = xcalloc(1, sizeof(*w));
  rc = parse_schedule(c, w, err, errlen);
  free(w);
  return rc;
}

int webhook_reload_check(const struct cfg *next, char *err, size_t errlen)
{
  struct wh_keys k;

  if (webhook_check_cfg(next, err, errlen))
    return -1;
  if (cfg_get_str(next, "webhook", "url") && cfg_get_secret(next, "webhook", "secret", NULL)) {
    if (!keys_load(next, &k)) {
      snprintf(err, errlen,
               "[webhook] secret_file: not a valid secret (whsec_<base64>, or raw "
               "bytes); the forwarder would stop signing");
      return -1;
    }
    keys_release(&k);
  }
  return 0;
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

  /* webhook_check_cfg refuses what stops start-up; a secret that cannot
   * be used only keeps the forwarder from starting (said below). */
  if (!url || webhook_check_cfg(c, err, errlen) || http_client_url_host(url, host, sizeof(host))) {
    cfg_unref(c);
    return url ? -1 : 0;
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
  w->conc = (unsigned)cfg_get_int(c, "webhook", "concurrency");
  cfg_unref(c);
  w->n_items = w->conc + WH_BATCH;
  w->items = xcalloc(w->n_items, sizeof(*w->items));
  w->res = xcalloc(w->n_items, sizeof(*w->res));
  w->order = xcalloc(w->n_items, sizeof(*w->order));
  worker_owner_id(w->owner, sizeof(w->owner));
  pthread_mutex_init(&w->mu, NULL);
  worker_cond_init(&w->cv);
  atomic_init(&w->stop, false);
  if (http_client_global_init()) {
    snprintf(err, errlen, "cannot initialise libcurl");
    goto fail;
  }
  w->hm = http_multi_new(&(struct http_client_opts){.timeout_ms = w->timeout_ms,
                                                    .max_body = WH_MAX_RESP,
                                                    .cancel = &w->stop},
                         w->conc);
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
  log_info("webhook: forwarder started (host %s, %u at once, retries for %llds)", host, w->conc,
           (long long)w->retry_for);
  return 0;
fail:
  http_multi_free(w->hm);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
  free(w->items);
  free(w->res);
  free(w->order);
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
  worker_signal_stop(&w->mu, &w->cv, &w->stop);
  http_multi_wakeup(w->hm);
  pthread_join(w->th, NULL);
  http_multi_free(w->hm);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
  free(w->items);
  free(w->res);
  free(w->order);
  free(w);
  atomic_store(&g_depth, -1);
  log_info("webhook: forwarder stopped");
}
