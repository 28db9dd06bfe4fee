/*
 * fuzz_jwt: jwt_verify and auth_bearer_parse over arbitrary bytes, against a
 * verifier holding every key kind (HS256 secret, RSA and EC PEM keys).
 *
 * Each input is used three ways: (1) as a token, (2) as an Authorization
 * header value, (3) split at the first newline into header JSON and payload
 * JSON that the harness encodes and signs with the HS256 secret, so that the
 * claim checks see arbitrary, correctly signed JSON. Properties beyond "no
 * crash, no leak": an identity exists exactly on AUTH_OK, its sub is
 * non-empty and bounded, and the reason is inside the enum.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <openssl/hmac.h>

#include "auth/b64url.h"
#include "auth/jwt.h"
#include "core/limits.h"

static struct jwt_verifier *verifier;
static EVP_PKEY *ec_key; /* signs ES256 tokens in check_signed */

/* The secret the corpus tokens are signed with (fuzz/corpus/jwt/). */
static const char secret[] = "vodgate-fuzz-secret-0123456789abcdef";

static char *pem_of(EVP_PKEY *k)
{
  BIO *bio = BIO_new(BIO_s_mem());
  BUF_MEM *mem;
  char *out;
  PEM_write_bio_PUBKEY(bio, k);
  BIO_get_mem_ptr(bio, &mem);
  out = strndup(mem->data, mem->length);
  BIO_free(bio);
  return out;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  struct jwt_config c;
  EVP_PKEY *rsa = EVP_RSA_gen(2048), *ec = EVP_EC_gen("P-256");
  char *rp = pem_of(rsa), *ep = pem_of(ec);
  size_t n = strlen(rp) + strlen(ep) + 1;
  char *both = malloc(n);
  char err[256];

  memcpy(both, rp, strlen(rp));
  memcpy(both + strlen(rp), ep, strlen(ep) + 1);
  jwt_config_init(&c);
  c.hs256_secret = (const unsigned char *)secret;
  c.hs256_secret_len = strlen(secret);
  c.public_key_pem = both;
  c.policy_claim = "vg_policy";
  verifier = jwt_verifier_new(&c, err, sizeof(err));
  if (!verifier)
    abort();
  free(both);
  free(rp);
  free(ep);
  EVP_PKEY_free(rsa);
  ec_key = ec; /* kept for the process lifetime */
  return 0;
}

/* Reasons given only after the signature verified. */
static bool after_signature(enum auth_error e)
{
  return e == AUTH_OK || e == AUTH_EXPIRED || e == AUTH_NOT_YET_VALID || e == AUTH_BAD_ISSUER ||
         e == AUTH_BAD_AUDIENCE || e == AUTH_MISSING_SUB || e == AUTH_MISSING_EXP;
}

static void check(const char *tok, size_t len)
{
  struct jwt_identity id;
  enum auth_error e = jwt_verify(verifier, tok, len, 1750000000, &id);

  if ((int)e < 0 || e >= AUTH_ERROR_COUNT)
    abort();
  /* Differential: our OpenSSL signature check against libjwt's. */
  if (after_signature(e) && !jwt_libjwt_verifies(verifier, tok, len))
    abort();
  if (e == AUTH_BAD_SIGNATURE && jwt_libjwt_verifies(verifier, tok, len))
    abort();
  if (e == AUTH_OK) {
    if (!id.sub || !id.sub[0] || strlen(id.sub) > JWT_MAX_SUB)
      abort();
    if (id.policy && strlen(id.policy) > JWT_MAX_POLICY)
      abort();
    jwt_identity_release(&id);
  } else if (id.sub || id.policy || id.exp) {
    abort();
  }
}

/* JWS ES256 signature (r||s) of [in, in+n) into sig[64]. */
static void es256_sign(const char *in, size_t n, unsigned char sig[64])
{
  unsigned char der[128];
  size_t dlen = sizeof(der);
  const unsigned char *p = der;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  ECDSA_SIG *es;

  if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, ec_key) != 1 ||
      EVP_DigestSign(ctx, der, &dlen, (const unsigned char *)in, n) != 1)
    abort();
  EVP_MD_CTX_free(ctx);
  es = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
  if (!es)
    abort();
  BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
  ECDSA_SIG_free(es);
}

/* header "\n" payload -> b64url(header).b64url(payload).sig, signed with the
 * HS256 secret, and for one input in eight also with the EC key (ES256). */
static void check_signed(const uint8_t *data, size_t size)
{
  const uint8_t *nl = memchr(data, '\n', size);
  size_t hlen, plen, n;
  char *tok;
  unsigned char mac[32], es[64];
  unsigned int maclen = 0;

  if (!nl || size > AUTH_MAX_TOKEN)
    return;
  hlen = (size_t)(nl - data);
  plen = size - hlen - 1;
  tok = malloc(B64URL_ENCODED_SIZE(hlen) + B64URL_ENCODED_SIZE(plen) + B64URL_ENCODED_SIZE(32));
  n = auth_b64url_encode(data, hlen, tok);
  tok[n++] = '.';
  n += auth_b64url_encode(nl + 1, plen, tok + n);
  if ((size & 7) == 0) {
    char *t2 = malloc(n + B64URL_ENCODED_SIZE(64) + 1);
    size_t n2 = n;
    memcpy(t2, tok, n);
    es256_sign(t2, n, es);
    t2[n2++] = '.';
    n2 += auth_b64url_encode(es, sizeof(es), t2 + n2);
    check(t2, n2);
    free(t2);
  }
  HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)tok, n, mac, &maclen);
  tok[n++] = '.';
  n += auth_b64url_encode(mac, maclen, tok + n);
  check(tok, n);
  free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s;
  const char *tok;
  size_t len;
  enum auth_error e;

  /* The whole input as a token (not NUL-terminated: exact length). */
  check((const char *)data, size);
  check_signed(data, size);

  /* The input as an Authorization header value. */
  s = malloc(size + 1);
  memcpy(s, data, size);
  s[size] = '\0';
  e = auth_bearer_parse(s, 0, &tok, &len);
  if (e == AUTH_OK) {
    if (len == 0 || len > AUTH_MAX_TOKEN || tok < s || tok + len > s + size)
      abort();
    check(tok, len);
  }
  free(s);
  return 0;
}
