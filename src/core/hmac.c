/*
 * hmac.c: keyed HMAC templates (see hmac.h).
 *
 * Per-thread contexts. Duplicating the template for every MAC (OpenSSL 3:
 * one MAC context and three digest contexts allocated, copied and freed)
 * cost more than the hashing. Each thread therefore keeps, for the last
 * few keys it used, a context of its own: the first MAC with a key on a
 * thread duplicates the template once, later ones re-initialise that
 * context with the key it holds (EVP_MAC_init with no key: HMAC restarts
 * from its stored inner state). Keys are told apart by an id never
 * reused, so a key freed and another allocated at the same address is not
 * mistaken for it. A thread's contexts are freed when it exits.
 */
#include "core/hmac.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

struct hmac_key {
  EVP_MAC_CTX *tpl; /* keyed; only ever duplicated */
  uint64_t id;      /* unique for the process's lifetime */
};

#define HMAC_THREAD_SLOTS 6 /* keys in use at once: VOD, attribution, JWT, their predecessors */

struct hmac_slot {
  uint64_t id; /* 0: empty */
  EVP_MAC_CTX *ctx;
};

struct hmac_thread {
  struct hmac_slot slot[HMAC_THREAD_SLOTS];
  unsigned next; /* the slot to reuse when all are taken */
};

static _Atomic uint64_t hmac_next_id = 1;
static pthread_key_t hmac_tls;
static pthread_once_t hmac_tls_once = PTHREAD_ONCE_INIT;
static bool hmac_tls_ok;

static void hmac_thread_free(void *p)
{
  struct hmac_thread *t = p;

  for (size_t i = 0; i < HMAC_THREAD_SLOTS; i++)
    EVP_MAC_CTX_free(t->slot[i].ctx);
  free(t);
}

static void hmac_tls_init(void)
{
  hmac_tls_ok = pthread_key_create(&hmac_tls, hmac_thread_free) == 0;
}

/* This thread's context for k, ready for EVP_MAC_update; NULL on failure
 * (the caller falls back to a duplicate of its own). */
static EVP_MAC_CTX *hmac_thread_ctx(const struct hmac_key *k)
{
  struct hmac_thread *t;
  struct hmac_slot *s;

  pthread_once(&hmac_tls_once, hmac_tls_init);
  if (!hmac_tls_ok)
    return NULL;
  t = pthread_getspecific(hmac_tls);
  if (!t) {
    t = calloc(1, sizeof(*t));
    if (!t || pthread_setspecific(hmac_tls, t) != 0) {
      free(t);
      return NULL;
    }
  }
  for (size_t i = 0; i < HMAC_THREAD_SLOTS; i++) {
    s = &t->slot[i];
    if (s->id == k->id)
      return EVP_MAC_init(s->ctx, NULL, 0, NULL) == 1 ? s->ctx : NULL;
  }
  s = &t->slot[t->next];
  t->next = (t->next + 1) % HMAC_THREAD_SLOTS;
  EVP_MAC_CTX_free(s->ctx);
  s->id = 0;
  s->ctx = EVP_MAC_CTX_dup(k->tpl);
  if (!s->ctx)
    return NULL;
  s->id = k->id;
  return s->ctx;
}

int hmac_key_new(const char *digest, const void *key, size_t len, struct hmac_key **out)
{
  EVP_MAC *mac;
  EVP_MAC_CTX *ctx;
  char name[16];
  OSSL_PARAM params[2];

  *out = NULL;
  if (!key || len == 0 || !digest || strlen(digest) >= sizeof(name))
    return VG_INVALID;
  memcpy(name, digest, strlen(digest) + 1);
  params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, name, 0);
  params[1] = OSSL_PARAM_construct_end();
  mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
  ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
  EVP_MAC_free(mac); /* the context keeps its own reference */
  if (!ctx)
    return VG_NOMEM;
  if (EVP_MAC_init(ctx, key, len, params) != 1) {
    EVP_MAC_CTX_free(ctx);
    return VG_INVALID;
  }
  *out = xcalloc(1, sizeof(**out));
  (*out)->tpl = ctx;
  (*out)->id = atomic_fetch_add(&hmac_next_id, 1);
  return VG_OK;
}

void hmac_key_free(struct hmac_key *k)
{
  if (!k)
    return;
  EVP_MAC_CTX_free(k->tpl);
  free(k);
}

int hmac_key_mac(const struct hmac_key *k, const void *msg, size_t len, unsigned char *out,
                 size_t cap, size_t *outlen)
{
  EVP_MAC_CTX *c = hmac_thread_ctx(k), *own = NULL;
  int ok;

  *outlen = 0;
  if (!c)
    c = own = EVP_MAC_CTX_dup(k->tpl);
  if (!c)
    return VG_ERR;
  ok = EVP_MAC_update(c, msg, len) == 1 && EVP_MAC_final(c, out, outlen, cap) == 1;
  EVP_MAC_CTX_free(own);
  return ok ? VG_OK : VG_ERR;
}
