#include "auth/apitoken.h"

#include <string.h>

#include <openssl/evp.h>

#include "auth/b64url.h"
#include "core/limits.h"
#include "core/util.h"

_Static_assert(APITOKEN_LEN == APITOKEN_PREFIX_LEN + (APITOKEN_RAW_BYTES * 4 + 2) / 3,
               "APITOKEN_LEN must match APITOKEN_RAW_BYTES");

void apitoken_generate(char out[APITOKEN_LEN + 1])
{
  unsigned char raw[APITOKEN_RAW_BYTES];

  random_bytes(raw, sizeof(raw));
  memcpy(out, APITOKEN_PREFIX, APITOKEN_PREFIX_LEN);
  auth_b64url_encode(raw, sizeof(raw), out + APITOKEN_PREFIX_LEN);
  secure_zero(raw, sizeof(raw));
}

bool apitoken_looks_like(const char *s, size_t n)
{
  return s && n >= APITOKEN_PREFIX_LEN && memcmp(s, APITOKEN_PREFIX, APITOKEN_PREFIX_LEN) == 0;
}

bool apitoken_valid(const char *s, size_t n)
{
  unsigned char raw[B64URL_DECODED_MAX(APITOKEN_LEN)];
  size_t len = 0;
  bool ok;

  if (n != APITOKEN_LEN || !apitoken_looks_like(s, n))
    return false;
  ok = auth_b64url_decode(s + APITOKEN_PREFIX_LEN, n - APITOKEN_PREFIX_LEN, raw, &len) == 0 &&
       len == APITOKEN_RAW_BYTES;
  secure_zero(raw, sizeof(raw));
  return ok;
}

int apitoken_hash(const char *s, size_t n, char out[APITOKEN_HASH_LEN + 1])
{
  unsigned char md[32];
  unsigned int mdlen = 0;

  out[0] = '\0';
  if (!apitoken_valid(s, n))
    return -1;
  if (!EVP_Digest(s, n, md, &mdlen, EVP_sha256(), NULL) || mdlen != sizeof(md))
    return -1;
  hex_encode(md, sizeof(md), out);
  return 0;
}

bool apitoken_hash_valid(const char *s)
{
  size_t i;

  if (!s)
    return false;
  for (i = 0; i < APITOKEN_HASH_LEN; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return false;
  return s[i] == '\0';
}

bool apitoken_hash_equal(const char *a, const char *b)
{
  if (!apitoken_hash_valid(a) || !apitoken_hash_valid(b))
    return false;
  return ct_equal(a, APITOKEN_HASH_LEN, b, APITOKEN_HASH_LEN);
}
