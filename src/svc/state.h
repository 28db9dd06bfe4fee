/*
 * state.h: what the issuing service derives from one configuration
 * generation: the VOD signing key, the JWT verifier, the attribution
 * keyring and the typed policies. Built by svc_state_new() at start-up and
 * on every SIGHUP (app->on_reload); a reload whose keys or policies do not
 * load is refused as a whole and the running state stays.
 *
 * A struct svc_state is immutable and reference counted like struct cfg:
 * request handlers take svc_state_get() and drop it with svc_state_unref()
 * before returning, so a reload never changes keys under a request.
 *
 * Process-wide parts that outlive reloads (the store, the rate limiter)
 * live in struct svc, hung on app->ext.
 */
#ifndef VG_SVC_STATE_H
#define VG_SVC_STATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "attr/attr.h"
#include "policy/policy.h"

struct app;
struct cfg;
struct jwt_verifier;
struct ratelimit;

struct svc_state {
  atomic_int refs;
  struct cfg *cfg;              /* one reference: owns the secret bytes below */
  const char *secret_id;        /* [vod] secret_id; NULL: signing not configured */
  const unsigned char *vod_key; /* [vod] secret key bytes (owned by cfg) */
  size_t vod_key_len;
  struct hmac_key *vod_mac; /* the same key, ready to sign (core/hmac.h) */
  struct jwt_verifier *jwt; /* NULL: no JWT key configured */
  bool allow_anonymous;
  struct attr_keyring attr;
  struct policies policies;
};

struct svc {
  pthread_mutex_t mu;
  pthread_mutex_t rebuild_mu; /* one state build and swap at a time (state.c) */
  struct svc_state *state;    /* current generation */
  struct ratelimit *rl;
  /* Sessions and quotas in memory, written behind (svc/issuing.h); NULL:
   * each signature commits before its answer (PostgreSQL, or [server]
   * signature_records = durable). */
  struct issuing *issuing;
  int db_lock_fd; /* flock held while issuing is on; -1: none */
};

/* Build the state for c (takes its own reference on c). I/O: reads the
 * JWT key files and the attribution key file, and creates the attribution
 * key in [server] data_dir on first start when none is configured. Returns
 * 0 or -1 with err naming the key and the problem (never a secret). */
int svc_state_new(struct cfg *c, struct svc_state **out, char *err, size_t errlen);
void svc_state_unref(struct svc_state *s);

/* `vodgate config --check`: build the state for c as svc_state_new does
 * and drop it, without creating anything (an unset [attribution] key_file
 * is not generated). Returns 0, or -1 with err as svc_state_new. */
int svc_state_check(struct cfg *c, char *err, size_t errlen);

/* Build the state again from the current one's configuration and make it
 * current (svc/jwks.c, after the JWKS changed). swap(arg) puts the new
 * input in place first and, if the build fails, back (so no reload ever
 * builds with an input that a refresh refuses): both calls hold off
 * reloads. 0, or -1 with err set and the current state kept. */
int svc_state_refresh(struct app *app, void (*swap)(void *arg), void *arg, char *err,
                      size_t errlen);

/* Set up app->ext (struct svc) and app->on_reload from app->cfg. */
int svc_init(struct app *app, char *err, size_t errlen);
void svc_release(struct app *app);

/* The current state with a reference taken. */
struct svc_state *svc_state_get(struct app *app);
struct svc *svc_of(struct app *app);

#endif
