/*
 * jwks.c: [auth] jwks_url, the identity provider's JWKS fetched over HTTPS
 * and kept fresh (see jwks.h).
 *
 * The text of the last good JWKS lives here; svc/state.c builds the JWT
 * verifier from it like from a jwks_file. A thread fetches the URL every
 * [auth] jwks_refresh, and sooner (at most every JWKS_KICK_MIN s) when a
 * token names a kid no key has: an identity provider publishes its next
 * key before signing with it, so a refresh finds it. A changed JWKS is
 * swapped in by rebuilding the service state (svc_state_refresh); one the
 * verifier refuses (no usable key, a malformed member) leaves the previous
 * keys in place. The last good copy is written to data_dir/jwks-cache.json
 * so that a restart while the provider is unreachable still verifies
 * tokens.
 */
#include "svc/jwks.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth/jwt.h"
#include "cfg/cfg.h"
#include "core/buf.h"
#include "core/io.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/util.h"
#include "http/metrics.h"
#include "net/http_client.h"
#include "svc/app.h"
#include "svc/state.h"
#include "svc/workers.h"

#define JWKS_TIMEOUT_MS 10000
#define JWKS_KICK_MIN   30 /* seconds between fetches caused by unknown kids */
#define JWKS_CACHE      "jwks-cache.json"

struct jwks {
  struct app *app;
  char *url;
  char host[256];
  char cache[4096];
  struct http_client *hc;
  pthread_t th;
  pthread_mutex_t mu; /* text, kicked, last_kick */
  pthread_cond_t cv;
  char *text; /* the JWKS in use */
  char *next; /* refresh(): the candidate, or the text it replaced */
  bool kicked;
  int64_t last_kick;
  atomic_bool stop;
  bool fetched; /* text came from the URL at start, not from the cache */
  bool running; /* the thread was started (jwks_run) */
};

static struct jwks *g_jw;

/* A loopback host (cfg_addr_is_loopback: 127.0.0.0/8, ::1, ::ffff:127.x,
 * or localhost), written as an address: "127.0.0.1." or "127.1.2.3.4" are
 * names that libcurl asks the resolver for, which may answer anything.
 * hostport may carry a port (cfg_parse_addr needs one). */
static bool loopback(const char *hostport)
{
  const char *after = hostport[0] == '[' ? strchr(hostport, ']') : hostport;
  struct sockaddr_storage ss;
  socklen_t len;
  const char *why;
  char a[300];

  if (!after)
    return false;
  snprintf(a, sizeof(a), "%s%s", hostport, strchr(after, ':') ? "" : ":0");
  return cfg_parse_addr(a, &ss, &len, &why) == 0 && cfg_addr_is_loopback(&ss);
}

/* user[:password]@ before the host: credentials that would end up in
 * logs and dumps; a JWKS is public. */
static bool has_userinfo(const char *url)
{
  const char *a = strstr(url, "://");
  size_t n;

  if (!a)
    return false;
  a += 3;
  n = strcspn(a, "/?#");
  return memchr(a, '@', n) != NULL;
}

int jwks_url_check(const char *url, char *err, size_t errlen)
{
  char host[256];

  if (http_client_url_host(url, host, sizeof(host)) != VG_OK || has_userinfo(url)) {
    snprintf(err, errlen, "must be an https:// URL without credentials");
    return -1;
  }
  if (strncmp(url, "https://", 8) != 0 && !loopback(host)) {
    snprintf(err, errlen,
             "must be https:// (whoever can change the keys in transit can sign tokens); "
             "http:// only for a loopback host");
    return -1;
  }
  return 0;
}

int jwks_check_cfg(const struct cfg *c, char *err, size_t errlen)
{
  const char *url = cfg_get_str(c, "auth", "jwks_url");
  char why[256];

  if (!url)
    return 0;
  if (cfg_get_str(c, "auth", "jwks_file")) {
    snprintf(err, errlen, "[auth] jwks_url and jwks_file: set one of them");
    return -1;
  }
  if (jwks_url_check(url, why, sizeof(why))) {
    snprintf(err, errlen, "[auth] jwks_url: %s", why);
    return -1;
  }
  return 0;
}

int jwks_reload_check(const struct cfg *old, const struct cfg *next, char *err, size_t errlen)
{
  const char *a = cfg_get_str(old, "auth", "jwks_url"), *b = cfg_get_str(next, "auth", "jwks_url");

  if ((a == NULL) == (b == NULL) && (!a || strcmp(a, b) == 0))
    return 0;
  snprintf(err, errlen, "[auth] jwks_url changed: that takes a restart");
  return -1;
}

static struct http_client *new_client(atomic_bool *cancel)
{
  return http_client_new(&(struct http_client_opts){
      .timeout_ms = JWKS_TIMEOUT_MS, .max_body = JWT_MAX_KEY_FILE, .cancel = cancel});
}

/* GETs url: the body (caller frees) on a 200 with a body, else NULL and
 * why in err. */
static char *get(struct http_client *hc, const char *url, char *err, size_t errlen)
{
  static const char *const hdr[] = {"Accept: application/json"};
  struct http_client_resp r;
  char *text = NULL;
  int rc = http_client_request(hc, "GET", url, hdr, 1, NULL, 0, 0, &r);

  /* libcurl's reason (never the URL): "no answer" alone would hide a
   * certificate that does not verify behind a provider that is down. */
  if (rc != VG_OK && r.error[0] == '\0')
    snprintf(err, errlen, "no answer");
  else if (rc != VG_OK)
    snprintf(err, errlen, "%s%s", rc == VG_TOOBIG ? "" : "no answer: ", r.error);
  else if (r.status != 200)
    snprintf(err, errlen, "HTTP status %ld", r.status);
  else if (r.body.len == 0)
    snprintf(err, errlen, "an empty answer");
  else if (strlen(r.body.ptr) != r.body.len)
    snprintf(err, errlen, "a NUL byte in the answer"); /* JSON text has none */
  else
    text = xstrdup(r.body.ptr);
  http_client_resp_release(&r);
  return text;
}

static char *fetch(struct jwks *j, char *err, size_t errlen)
{
  return get(j->hc, j->url, err, errlen);
}

char *jwks_fetch(const char *url, char *err, size_t errlen)
{
  struct http_client *hc;
  char *text;

  if (jwks_url_check(url, err, errlen))
    return NULL;
  if (http_client_global_init()) {
    snprintf(err, errlen, "cannot initialise libcurl");
    return NULL;
  }
  hc = new_client(NULL);
  text = get(hc, url, err, errlen);
  http_client_free(hc);
  return text;
}

/* data_dir/jwks-cache.json, written whole or not at all (0600, whatever
 * a file left there had). */
static void cache_write(struct jwks *j, const char *text)
{
  if (write_file_atomic(j->cache, text, strlen(text), 0600, true) != VG_OK)
    log_warn("jwks: cannot write %s (%s); a restart while %s is unreachable would have no keys",
             j->cache, strerror(errno), j->host);
}

char *jwks_text(void)
{
  struct jwks *j = g_jw;
  char *t = NULL;

  if (!j)
    return NULL;
  pthread_mutex_lock(&j->mu);
  if (j->text)
    t = xstrdup(j->text);
  pthread_mutex_unlock(&j->mu);
  return t;
}

/* Seconds on the monotonic clock: a wall clock set back would stop kicks
 * until it caught up. */
static int64_t mono_s(void)
{
  struct timespec t;

  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec;
}

void jwks_kick(void)
{
  struct jwks *j = g_jw;
  int64_t now = mono_s();

  if (!j)
    return;
  pthread_mutex_lock(&j->mu);
  if (now - j->last_kick >= JWKS_KICK_MIN) {
    j->last_kick = now;
    j->kicked = true;
    pthread_cond_signal(&j->cv);
  }
  pthread_mutex_unlock(&j->mu);
}

/* Waits up to seconds or a kick; false once stop is set. */
static bool jw_wait(struct jwks *j, int64_t seconds)
{
  return worker_wait(&j->mu, &j->cv, &j->stop, &j->kicked, seconds * 1000);
}

/* The checks a JWKS gets on its own (those of a jwks_file): 0, or -1 with
 * why in err. */
static int usable(const char *text, char *err, size_t errlen)
{
  struct jwt_config jc;
  struct jwt_verifier *v;

  jwt_config_init(&jc);
  jc.jwks_json = text;
  jc.jwks_source = "JWKS";
  jc.quiet = true; /* the build that uses it logs what it skips */
  v = jwt_verifier_new(&jc, err, errlen);
  jwt_verifier_free(v);
  return v ? 0 : -1;
}

/* svc_state_refresh's swap: the candidate JWKS (next) for the one in use,
 * or back. */
static void swap_text(void *arg)
{
  struct jwks *j = arg;
  char *t;

  pthread_mutex_lock(&j->mu);
  t = j->text;
  j->text = j->next;
  j->next = t;
  pthread_mutex_unlock(&j->mu);
}

/* One refresh: fetch, and if the JWKS changed, swap it in. */
static void refresh(struct jwks *j)
{
  char err[512], *text = fetch(j, err, sizeof(err));
  bool same;

  if (!text) {
    if (atomic_load(&j->stop))
      return; /* the fetch was cancelled by jwks_stop: nothing failed */
    log_warn("jwks: cannot fetch the JWKS from %s (%s); keeping the keys in use", j->host, err);
    metrics_inc("vodgate_jwks_fetches_total", "result", "error");
    return;
  }
  pthread_mutex_lock(&j->mu);
  same = j->text && strcmp(j->text, text) == 0;
  pthread_mutex_unlock(&j->mu);
  if (same) {
    free(text);
    metrics_inc("vodgate_jwks_fetches_total", "result", "unchanged");
    return;
  }
  if (usable(text, err, sizeof(err))) {
    free(text);
    log_error("jwks: the JWKS now served by %s cannot be used (%s); keeping the keys in use",
              j->host, err);
    metrics_inc("vodgate_jwks_fetches_total", "result", "invalid");
    return;
  }
  /* The new text is in use (jwks_text) only inside svc_state_refresh,
   * which holds off reloads: a reload never builds with a JWKS that this
   * refresh is about to refuse. Refused now, with the rest of the
   * configuration (a kid that jwt_public_key_file has too, a key file
   * that is gone): said as such, not blamed on the JWKS alone. */
  j->next = text;
  if (svc_state_refresh(j->app, swap_text, j, err, sizeof(err))) {
    free(j->next); /* the refused text, swapped back */
    j->next = NULL;
    log_error("jwks: the keys cannot be rebuilt with the JWKS now served by %s (%s); keeping "
              "the keys in use",
              j->host, err);
    metrics_inc("vodgate_jwks_fetches_total", "result", "invalid");
    return;
  }
  free(j->next); /* the previous text */
  j->next = NULL;
  cache_write(j, text);
  log_info("jwks: new keys from %s in use", j->host);
  metrics_inc("vodgate_jwks_fetches_total", "result", "changed");
}

static void *jw_main(void *arg)
{
  struct jwks *j = arg;

  thread_name("vg-jwks");
  for (;;) {
    struct cfg *c = app_cfg_get(j->app);
    int64_t every = cfg_get_int(c, "auth", "jwks_refresh");

    cfg_unref(c);
    if (!jw_wait(j, every))
      return NULL;
    refresh(j);
  }
}

static void jw_free(struct jwks *j)
{
  http_client_free(j->hc);
  pthread_cond_destroy(&j->cv);
  pthread_mutex_destroy(&j->mu);
  free(j->text);
  free(j->next);
  free(j->url);
  free(j);
}

int jwks_start(struct app *app, char *err, size_t errlen)
{
  const char *url = cfg_get_str(app->cfg, "auth", "jwks_url");
  const char *dir = cfg_get_str(app->cfg, "server", "data_dir");
  struct jwks *j;
  char why[512], bad[400];

  if (!url)
    return 0;
  if (jwks_check_cfg(app->cfg, err, errlen))
    return -1;
  if (http_client_global_init()) {
    snprintf(err, errlen, "cannot initialise libcurl");
    return -1;
  }
  j = xcalloc(1, sizeof(*j));
  j->app = app;
  j->url = xstrdup(url);
  if (http_client_url_host(url, j->host, sizeof(j->host)) != VG_OK) /* checked above */
    str_copy(j->host, sizeof(j->host), "?");
  if ((size_t)snprintf(j->cache, sizeof(j->cache), "%s/%s", dir, JWKS_CACHE) >= sizeof(j->cache)) {
    snprintf(err, errlen, "[server] data_dir: path too long");
    free(j->url);
    free(j);
    return -1;
  }
  pthread_mutex_init(&j->mu, NULL);
  worker_cond_init(&j->cv);
  atomic_init(&j->stop, false);
  j->last_kick = mono_s() - JWKS_KICK_MIN; /* the first kick fetches */
  j->hc = new_client(&j->stop);
  j->text = fetch(j, why, sizeof(why));
  /* One the checks refuse is no better than no answer: the cached copy,
   * which is kept unchanged (a refresh keeps the keys in use likewise). */
  if (j->text && usable(j->text, bad, sizeof(bad))) {
    snprintf(why, sizeof(why), "it serves one that cannot be used: %s", bad);
    free(j->text);
    j->text = NULL;
  }
  if (j->text) {
    j->fetched = true; /* cached by jwks_run, once the state accepted it */
    log_info("jwks: keys fetched from %s", j->host);
  } else {
    struct buf b;
    int rc;

    buf_init(&b, JWT_MAX_KEY_FILE);
    rc = read_file(j->cache, &b);
    if (rc == VG_OK && b.len > 0) {
      j->text = xstrdup(b.ptr);
    } else if (rc == VG_TOOBIG) {
      snprintf(bad, sizeof(bad), "over %d bytes", JWT_MAX_KEY_FILE);
    } else if (rc == VG_OK) {
      snprintf(bad, sizeof(bad), "an empty file");
    } else if (errno == ENOENT) {
      snprintf(err, errlen,
               "[auth] jwks_url: cannot fetch the JWKS from %s (%s), and there is no cached copy "
               "(%s)",
               j->host, why, j->cache);
      buf_release(&b);
      jw_free(j);
      return -1;
    } else {
      /* There is one, which this user cannot read, for example. */
      snprintf(bad, sizeof(bad), "%s", strerror(errno));
    }
    buf_release(&b);
    if (!j->text || usable(j->text, bad, sizeof(bad))) {
      snprintf(err, errlen,
               "[auth] jwks_url: cannot fetch the JWKS from %s (%s), and the cached copy %s "
               "cannot be used (%s)",
               j->host, why, j->cache, bad);
      jw_free(j);
      return -1;
    }
    log_warn("jwks: cannot fetch the JWKS from %s (%s); using the cached copy %s until it can",
             j->host, why, j->cache);
  }
  g_jw = j; /* svc_state_new reads the text from here */
  return 0;
}

int jwks_run(char *err, size_t errlen)
{
  struct jwks *j = g_jw;

  if (!j)
    return 0;
  /* The service state was built with the fetched JWKS: now it is the last
   * good copy (never before: a JWKS the state refuses must not replace
   * it). */
  if (j->fetched) {
    const char *dir = cfg_get_str(j->app->cfg, "server", "data_dir");
    if (mkdir(dir, 0700) && errno != EEXIST)
      log_warn("jwks: cannot create %s (%s)", dir, strerror(errno));
    cache_write(j, j->text);
  }
  if (pthread_create(&j->th, NULL, jw_main, j)) {
    snprintf(err, errlen, "cannot start the JWKS thread");
    return -1;
  }
  j->running = true;
  metrics_describe("vodgate_jwks_fetches_total",
                   "Fetches of [auth] jwks_url after start, by result (unchanged, changed, "
                   "invalid: refused by the verifier, error: no good answer).");
  return 0;
}

void jwks_stop(void)
{
  struct jwks *j = g_jw;

  if (!j)
    return;
  worker_signal_stop(&j->mu, &j->cv, &j->stop);
  if (j->running)
    pthread_join(j->th, NULL);
  g_jw = NULL;
  jw_free(j);
}
