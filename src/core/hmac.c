/*
 * hmac.c: keyed HMAC templates (see hmac.h).
 */
#include "core/hmac.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

struct hmac_key {
  EVP_MAC_CTX *tpl; /* keyed; only ever duplicated */
};

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
  EVP_MAC_CTX *c = EVP_MAC_CTX_dup(k->tpl);
  int ok;

  *outlen = 0;
  if (!c)
    return VG_ERR;
  ok = EVP_MAC_update(c, msg, len) == 1 && EVP_MAC_final(c, out, outlen, cap) == 1;
  EVP_MAC_CTX_free(c);
  return ok ? VG_OK : VG_ERR;
}
