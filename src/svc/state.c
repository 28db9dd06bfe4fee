#include "svc/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/jwt.h"
#include "cfg/cfg.h"
#include "core/hmac.h"
#include "core/io.h"
#include "core/log.h"
#include "core/util.h"
#include "policy/ratelimit.h"
#include "store/store.h"
#include "svc/app.h"
#include "svc/issuing.h"
#include "svc/jwks.h"

/* Distinct users tracked by the per-minute rate limiter. */
#define SVC_RATELIMIT_KEYS 1000000

static int load_keyfile(struct attr_keyring *kr, const char *path, bool current, char *err,
                        size_t errlen)
{
  struct buf b;
  struct attr_keyring tmp;
  char why[160];
  int rc = -1;

  buf_init(&b, ATTR_MAX_KEYFILE);
  attr_keyring_init(&tmp);
  if (read_file(path, &b)) {
    snprintf(err, errlen, "[attribution] key file %s: %s", path,
             b.len >= ATTR_MAX_KEYFILE ? "too large" : strerror(errno));
    goto out;
  }
  if (attr_keyring_parse(&tmp, b.ptr, b.len, why, sizeof(why))) {
    snprintf(err, errlen, "[attribution] key file %s: %s", path, why);
    goto out;
  }
  for (size_t i = 0; i < tmp.n; i++) {
    int arc = attr_keyring_add(kr, tmp.keys[i].kid, tmp.keys[i].key, tmp.keys[i].len);
    if (arc) {
      snprintf(err, errlen, "[attribution] key file %s: key '%s' %s", path, tmp.keys[i].kid,
               arc == VG_NOMEM ? "cannot be set up (out of memory)" : "repeated or too many keys");
      goto out;
    }
  }
  if (current && attr_keyring_set_current(kr, tmp.keys[tmp.current].kid))
    goto out;
  rc = 0;
out:
  secure_zero(b.ptr, b.len);
  buf_release(&b);
  attr_keyring_release(&tmp);
  return rc;
}

/* First start without [attribution] key_file: make one in data_dir, once.
 * O_EXCL so two processes starting together cannot both write a key. */
static int ensure_generated_key(const char *dir, char *path, size_t pathlen, char *err,
                                size_t errlen)
{
  char line[ATTR_KEYLINE_MAX];
  int fd;
  size_t len;

  snprintf(path, pathlen, "%s/attribution.key", dir);
  if (access(path, F_OK) == 0)
    return 0;
  if (mkdir(dir, 0700) && errno != EEXIST) {
    snprintf(err, errlen, "[server] data_dir %s: %s", dir, strerror(errno));
    return -1;
  }
  fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST)
      return 0;
    snprintf(err, errlen, "[attribution] cannot create %s: %s", path, strerror(errno));
    return -1;
  }
  if (attr_key_generate("k1", line, sizeof(line))) {
    close(fd);
    snprintf(err, errlen, "[attribution] key generation failed");
    return -1;
  }
  len = strlen(line);
  if (write(fd, line, len) != (ssize_t)len || fsync(fd) != 0) {
    secure_zero(line, sizeof(line));
    close(fd);
    unlink(path);
    snprintf(err, errlen, "[attribution] cannot write %s: %s", path, strerror(errno));
    return -1;
  }
  secure_zero(line, sizeof(line));
  close(fd);
  log_info("generated the attribution key %s (keep it: it proves which user uploaded a file)",
           path);
  return 0;
}

/* generate: make the key of an unset key_file (start-up and reload); a
 * check (`vodgate config --check`) leaves data_dir alone. */
static int load_attr(struct svc_state *s, bool generate, char *err, size_t errlen)
{
  const char *kf = cfg_get_str(s->cfg, "attribution", "key_file");
  const char *prev = cfg_get_str(s->cfg, "attribution", "previous_key_file");
  char gen[4096];

  if (!kf && !generate) {
    if (prev && load_keyfile(&s->attr, prev, false, err, errlen))
      return -1;
    return 0;
  }
  if (!kf) {
    if (ensure_generated_key(cfg_get_str(s->cfg, "server", "data_dir"), gen, sizeof(gen), err,
                             errlen))
      return -1;
    kf = gen;
  }
  if (load_keyfile(&s->attr, kf, true, err, errlen))
    return -1;
  if (prev && load_keyfile(&s->attr, prev, false, err, errlen))
    return -1;
  return 0;
}

static int load_jwt(struct svc_state *s, char *err, size_t errlen)
{
  struct jwt_config jc;
  size_t hs_len = 0, naud = 0;
  const char *hs = cfg_get_secret(s->cfg, "auth", "jwt_hs256_secret", &hs_len);
  const char *const *aud = cfg_get_list(s->cfg, "auth", "jwt_audience", &naud);
  char why[256], *jwks = NULL;
  bool later = false;

  jwt_config_init(&jc);
  jc.hs256_secret = (const unsigned char *)hs;
  jc.hs256_secret_len = hs_len;
  jc.public_key_file = cfg_get_str(s->cfg, "auth", "jwt_public_key_file");
  jc.jwks_file = cfg_get_str(s->cfg, "auth", "jwks_file");
  if (jwks_check_cfg(s->cfg, err, errlen))
    return -1;
  /* [auth] jwks_url: the JWKS fetched by svc/jwks.c (none in `vodgate
   * config --check`, which does not fetch: the rest is checked without). */
  if (cfg_get_str(s->cfg, "auth", "jwks_url")) {
    jwks = jwks_text();
    later = !jwks;
  }
  jc.jwks_json = jwks;
  jc.jwks_source = "jwks_url";
  jc.keys_later = later;
  if (!jc.hs256_secret && !jc.public_key_file && !jc.jwks_file && !jc.jwks_json && !later)
    return 0; /* API tokens only (or anonymous) */
  jc.issuer = cfg_get_str(s->cfg, "auth", "jwt_issuer");
  if (naud > 1) {
    snprintf(err, errlen, "[auth] jwt_audience: give one audience (vodgate's own name)");
    free(jwks);
    return -1;
  }
  jc.audience = naud ? aud[0] : NULL;
  jc.policy_claim = cfg_get_str(s->cfg, "auth", "jwt_policy_claim");
  jc.leeway = cfg_get_int(s->cfg, "auth", "jwt_leeway");
  s->jwt = jwt_verifier_new(&jc, why, sizeof(why));
  free(jwks);
  if (!s->jwt) {
    snprintf(err, errlen, "[auth] %s", why);
    return -1;
  }
  return 0;
}

/* vodgate's own bearer secrets (the admin token, the events path token)
 * are guessed online, one request at a time, and nothing slows the guesses:
 * refuse fewer than SVC_MIN_TOKEN bytes (the length is named, never the
 * value). */
#define SVC_MIN_TOKEN 16

static int short_token(const struct cfg *c, const char *section, const char *name, char *err,
                       size_t errlen)
{
  size_t len = 0;

  if (cfg_get_secret(c, section, name, &len) && len < SVC_MIN_TOKEN) {
    snprintf(err, errlen,
             "[%s] %s_file: %zu bytes; use at least %d random ones (openssl rand -hex 16)", section,
             name, len, SVC_MIN_TOKEN);
    return -1;
  }
  return 0;
}

static int state_build(struct cfg *c, bool generate, struct svc_state **out, char *err,
                       size_t errlen)
{
  struct svc_state *s = xcalloc(1, sizeof(*s));
  size_t klen = 0;
  const char *key;

  atomic_init(&s->refs, 1);
  s->cfg = cfg_ref(c);
  attr_keyring_init(&s->attr);
  s->secret_id = cfg_get_str(c, "vod", "secret_id");
  key = cfg_get_secret(c, "vod", "secret_key", &klen);
  if (s->secret_id && !key) {
    snprintf(err, errlen,
             "[vod] secret_id is set but no secret key: set [vod] secret_key_file "
             "or VODGATE_VOD_SECRET_KEY");
    goto fail;
  }
  if (key && !s->secret_id) {
    snprintf(err, errlen, "[vod] a secret key is set but no secret_id");
    goto fail;
  }
  s->vod_key = (const unsigned char *)key;
  s->vod_key_len = klen;
  if (key && hmac_key_new("SHA1", key, klen, &s->vod_mac) != VG_OK) {
    snprintf(err, errlen, "[vod] the secret key cannot be used for HMAC-SHA1");
    goto fail;
  }
  s->allow_anonymous = cfg_get_bool(c, "auth", "allow_anonymous");
  if (short_token(c, "auth", "admin_token", err, errlen) ||
      short_token(c, "events", "path_token", err, errlen))
    goto fail;
  if (load_jwt(s, err, errlen) || load_attr(s, generate, err, errlen) ||
      policies_load(&s->policies, c, err, errlen))
    goto fail;
  *out = s;
  return 0;
fail:
  svc_state_unref(s);
  *out = NULL;
  return -1;
}

int svc_state_new(struct cfg *c, struct svc_state **out, char *err, size_t errlen)
{
  return state_build(c, true, out, err, errlen);
}

int svc_state_check(struct cfg *c, char *err, size_t errlen)
{
  struct svc_state *s;

  if (state_build(c, false, &s, err, errlen))
    return -1;
  svc_state_unref(s);
  return 0;
}

void svc_state_unref(struct svc_state *s)
{
  if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
    return;
  jwt_verifier_free(s->jwt);
  hmac_key_free(s->vod_mac);
  attr_keyring_release(&s->attr);
  policies_release(&s->policies);
  cfg_unref(s->cfg);
  free(s);
}

struct svc *svc_of(struct app *app)
{
  return app->ext;
}

struct svc_state *svc_state_get(struct app *app)
{
  struct svc *svc = svc_of(app);
  struct svc_state *s;

  pthread_mutex_lock(&svc->mu);
  s = svc->state;
  atomic_fetch_add(&s->refs, 1);
  pthread_mutex_unlock(&svc->mu);
  return s;
}

/* Builds the state for c and makes it current. Reloads and JWKS refreshes
 * are serialised by rebuild_mu, so that neither swaps in a state built
 * before the other's change (a refresh builds from the current state's
 * configuration, which a reload may have just replaced). */
static int rebuild(struct svc *svc, struct cfg *c, char *err, size_t errlen)
{
  struct svc_state *s, *old;

  if (svc_state_new(c, &s, err, errlen))
    return -1;
  pthread_mutex_lock(&svc->mu);
  old = svc->state;
  svc->state = s;
  pthread_mutex_unlock(&svc->mu);
  svc_state_unref(old);
  return 0;
}

static int svc_on_reload(struct app *app, struct cfg *next, char *err, size_t errlen)
{
  struct svc *svc = svc_of(app);
  int rc;

  pthread_mutex_lock(&svc->rebuild_mu);
  rc = rebuild(svc, next, err, errlen);
  pthread_mutex_unlock(&svc->rebuild_mu);
  return rc;
}

int svc_state_refresh(struct app *app, void (*swap)(void *arg), void *arg, char *err, size_t errlen)
{
  struct svc *svc = svc_of(app);
  struct svc_state *cur;
  int rc;

  pthread_mutex_lock(&svc->rebuild_mu);
  swap(arg);
  cur = svc_state_get(app);
  rc = rebuild(svc, cur->cfg, err, errlen);
  svc_state_unref(cur);
  if (rc)
    swap(arg);
  pthread_mutex_unlock(&svc->rebuild_mu);
  return rc;
}

/* Write-behind counts are this process's own: a second `vodgate serve` on
 * the same SQLite file would count quotas and sessions apart and both would
 * be wrong. An exclusive flock on "<db>.serve-lock" (kept until exit; the
 * kernel drops it if the process dies) refuses the second one. The CLI
 * commands do not take it: they only add tokens or read. */
static int lock_database(const char *db, int *fd, char *err, size_t errlen)
{
  char path[4096];
  const char *p = strncmp(db, "sqlite:", 7) == 0 ? db + 7 : db;

  if ((size_t)snprintf(path, sizeof(path), "%s.serve-lock", p) >= sizeof(path)) {
    snprintf(err, errlen, "[server] db: path too long");
    return -1;
  }
  *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (*fd < 0) {
    snprintf(err, errlen, "[server] db: cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
    snprintf(err, errlen,
             "[server] db: another vodgate serve is using %s (%s is locked); run one server per "
             "SQLite database, or use PostgreSQL for several",
             p, path);
    close(*fd);
    *fd = -1;
    return -1;
  }
  return 0;
}

int svc_init(struct app *app, char *err, size_t errlen)
{
  struct svc *svc = xcalloc(1, sizeof(*svc));

  pthread_mutex_init(&svc->mu, NULL);
  pthread_mutex_init(&svc->rebuild_mu, NULL);
  if (svc_state_new(app->cfg, &svc->state, err, errlen)) {
    pthread_mutex_destroy(&svc->rebuild_mu);
    pthread_mutex_destroy(&svc->mu);
    free(svc);
    return -1;
  }
  svc->rl = ratelimit_new(SVC_RATELIMIT_KEYS);
  /* Several instances share a PostgreSQL database and its counters, so
   * there every signature commits before it is answered. */
  svc->db_lock_fd = -1;
  if (strcmp(store_backend(app->store), "sqlite") == 0 &&
      strcmp(cfg_get_str(app->cfg, "server", "signature_records"), "async") == 0) {
    if (lock_database(cfg_get_str(app->cfg, "server", "db"), &svc->db_lock_fd, err, errlen)) {
      ratelimit_free(svc->rl);
      svc_state_unref(svc->state);
      pthread_mutex_destroy(&svc->rebuild_mu);
      pthread_mutex_destroy(&svc->mu);
      free(svc);
      return -1;
    }
    svc->issuing =
        issuing_new(app->store, (int)cfg_get_int(app->cfg, "server", "signature_flush_ms"));
  }
  app->ext = svc;
  app->on_reload = svc_on_reload;
  if (!svc->state->secret_id)
    log_warn("[vod] secret_id and secret key are not configured: upload signatures are refused "
             "with 503 until they are");
  /* A generated key is this instance's own: another instance on the same
   * database cannot verify the tokens of its signatures, and the files VOD
   * reports to it stay unattributed. */
  if (strcmp(store_backend(app->store), "sqlite") != 0 &&
      !cfg_get_str(app->cfg, "attribution", "key_file"))
    log_warn("[attribution] key_file is not set: this instance uses its own generated key; give "
             "every instance on this database the same key_file, or files whose signature came "
             "from another instance stay unattributed");
  return 0;
}

void svc_release(struct app *app)
{
  struct svc *svc = svc_of(app);

  if (!svc)
    return;
  issuing_free(svc->issuing); /* commits what is left; before store_close */
  if (svc->db_lock_fd >= 0)
    close(svc->db_lock_fd);
  svc_state_unref(svc->state);
  ratelimit_free(svc->rl);
  pthread_mutex_destroy(&svc->rebuild_mu);
  pthread_mutex_destroy(&svc->mu);
  free(svc);
  app->ext = NULL;
  app->on_reload = NULL;
}
