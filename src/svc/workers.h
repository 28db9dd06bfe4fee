/*
 * workers.h: the background workers of the event service (webhook
 * forwarder and puller: each one thread with its own libcurl handles,
 * net/http_client.h, never on a request thread) and the retention sweep. Started by
 * app_services_init() and stopped by app_services_release() (svc/services.c); at most one of each
 * per process (process-wide state), and forwarder and puller per database (store leases).
 *
 * Webhook forwarder (svc/webhook.c): runs when [webhook] url is set. Takes
 * the due rows of the transactional outbox, POSTs each as a Standard
 * Webhook (up to [webhook] concurrency at once, one per file at a time, in
 * the order written), marks it delivered on 2xx, otherwise schedules a retry with
 * exponential backoff and jitter ([webhook] retry_schedule) and dead-letters
 * it once the schedule would pass [webhook] retry_for. Woken by
 * webhook_wake() and every [webhook] poll_interval.
 *
 * Event puller (svc/puller.c): runs when [events] mode is pull or both.
 * PullEvents (long poll) -> svc_ingest_event for each event (durable) ->
 * ConfirmEvents for the committed handles only, 16 per call.
 *
 * Shutdown: *_stop() sets a flag, wakes the thread, abandons an in-flight
 * HTTP requests within about a second, joins the thread and gives the lease
 * up. Undelivered rows stay pending; unconfirmed events are pulled again.
 */
#ifndef VG_SVC_WORKERS_H
#define VG_SVC_WORKERS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

struct app;
struct cfg;

/* Start the forwarder if [webhook] url is set (else a no-op, 0). Returns 0,
 * or -1 with err set for a configuration it cannot run with (bad
 * retry_schedule). A url without a secret logs an error and does not start
 * (webhooks are never sent unsigned; rows wait in the outbox). */
int webhook_start(struct app *app, char *err, size_t errlen);
void webhook_stop(void);
/* Wake the forwarder now: call once per outbox row committed (it counts
 * the row in vodgate_outbox_pending until the next recount). Cheap,
 * callable from any thread, a no-op when no forwarder runs. */
void webhook_wake(void);

/* Append the forwarder's gauges (vodgate_outbox_pending: recounted from
 * the database every few seconds, moved by this process's own rows in
 * between; vodgate_webhook_inflight) in Prometheus text format; nothing
 * when no forwarder runs. */
int webhook_metrics_render(struct buf *out) WARN_UNUSED;

/* The webhook-id the forwarder sends for outbox row id:
 * "msg_<id>_<16 hex of SHA-256(event_key)>", stable across retries and
 * restarts (vodgate webhooks shows the same). Into out[cap]; cap >=
 * WEBHOOK_MSG_ID_MAX never truncates. */
#define WEBHOOK_MSG_ID_MAX 48
void webhook_msg_id(int64_t id, const char *event_key, char *out, size_t cap);

/* Standard Webhooks signature: "v1," + base64(HMAC-SHA256(key, id "." ts
 * "." body)) into out[cap] (cap >= 48). Returns VG_OK or VG_ERR. */
int webhook_sign(const void *key, size_t key_len, const char *id, int64_t ts, const char *body,
                 size_t body_len, char *out, size_t cap) WARN_UNUSED;
/* The key bytes of a configured secret: "whsec_<base64>" is decoded (the
 * Standard Webhooks form), anything else is used as raw bytes. *out is
 * malloc'd (caller frees, after secure_zero). VG_INVALID: empty or bad
 * base64 after whsec_. */
int webhook_secret_key(const char *secret, size_t len, unsigned char **out,
                       size_t *out_len) WARN_UNUSED;

/* Start the puller if [events] mode is pull or both (else 0). Returns -1
 * with err set when pull is on but [vod] secret_id / secret key are missing
 * or api_endpoint is not an http(s) URL. */
/* Shared by the workers (svc/workers.c). */
/* A lease owner id unique to this process: "host:pid:random". */
void worker_owner_id(char *out, size_t n);
/* A condition variable whose timed waits use CLOCK_MONOTONIC. */
void worker_cond_init(pthread_cond_t *cv);
/* A worker's sleep: waits on cv (from worker_cond_init; mu is taken here)
 * for up to ms, or until *stop, or until *woken when woken is not NULL
 * (cleared on return). Returns false once *stop is set. */
bool worker_wait(pthread_mutex_t *mu, pthread_cond_t *cv, atomic_bool *stop, bool *woken,
                 int64_t ms);
/* Sets *stop and wakes the worker sleeping in worker_wait. */
void worker_signal_stop(pthread_mutex_t *mu, pthread_cond_t *cv, atomic_bool *stop);

int puller_start(struct app *app, char *err, size_t errlen);

/* `vodgate config --check`: the configuration errors webhook_start and
 * puller_start would stop start-up with, found in c without starting
 * anything (no thread, no connection). Return 0, or -1 with the same err. */
int webhook_check_cfg(const struct cfg *c, char *err, size_t errlen);
/* webhook_check_cfg for a reload's configuration, and the secrets a running
 * forwarder would read at its next delivery (a reload that breaks them is
 * refused rather than stalling the forwarder). */
int webhook_reload_check(const struct cfg *next, char *err, size_t errlen);
int puller_check_cfg(const struct cfg *c, char *err, size_t errlen);
void puller_stop(void);

/* Retention sweep (svc/retention.c): one thread, always started; deletes
 * events and delivered webhooks past [retention] events / webhooks (0:
 * never) every [retention] interval. retention_check_cfg: what start-up,
 * a reload and `vodgate config --check` refuse (a retention under a day). */
int retention_check_cfg(const struct cfg *c, char *err, size_t errlen);
int retention_start(struct app *app, char *err, size_t errlen);
void retention_stop(void);

#endif
