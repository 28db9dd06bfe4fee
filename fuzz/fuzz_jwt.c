/*
 * fuzz_jwt: jwt_verify and auth_bearer_parse over arbitrary bytes, against a
 * verifier holding every key kind (HS256 secret, RSA and EC PEM keys with and
 * without kid). Properties checked beyond "no crash, no leak": a token that
 * passes has a non-empty sub within bounds, and nothing passes that was not
 * signed with the secret (the fuzzer cannot forge HMAC), so any AUTH_OK must
 * come from a corpus-like token signed with the test secret.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "auth/jwt.h"
#include "core/limits.h"

static struct jwt_verifier *verifier;

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
  EVP_PKEY_free(ec);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct jwt_identity id;
  enum auth_error e;
  char *s;
  const char *tok;
  size_t len;

  /* The whole input as a token (not NUL-terminated: exact length). */
  e = jwt_verify(verifier, (const char *)data, size, 1750000000, &id);
  if (e == AUTH_OK) {
    if (!id.sub || !id.sub[0] || strlen(id.sub) > JWT_MAX_SUB)
      abort();
    jwt_identity_release(&id);
  } else if (id.sub || id.policy) {
    abort();
  }
  if ((int)e < 0 || e >= AUTH_ERROR_COUNT)
    abort();

  /* The input as an Authorization header value. */
  s = malloc(size + 1);
  memcpy(s, data, size);
  s[size] = '\0';
  e = auth_bearer_parse(s, 0, &tok, &len);
  if (e == AUTH_OK) {
    if (len == 0 || len > AUTH_MAX_TOKEN || tok < s || tok + len > s + size)
      abort();
    e = jwt_verify(verifier, tok, len, 1750000000, &id);
    jwt_identity_release(&id);
  }
  free(s);
  return 0;
}
