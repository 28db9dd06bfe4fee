/*
 * fuzz_sig.c: libFuzzer target for everything that reads an upload
 * signature from outside: lenient Base64, the query parser, sig_parse,
 * sig_check and sig_verify. Besides "no crash, no UB, no leak" it checks
 * properties that must hold for every input:
 *   - a parse that succeeds yields pairs whose decoded bytes are UTF-8, with
 *     no duplicate keys, within the limits;
 *   - escaping any bytes and parsing them back is the identity;
 *   - Base64 encode then decode is the identity;
 *   - re-signing the decoded original with the fuzz key makes sig_verify's
 *     MAC check pass, and the original signature verifies iff its MAC
 *     matches.
 */
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"
#include "core/query.h"
#include "core/util.h"
#include "sig/sig.h"

#define CHECK(x)                                                                                   \
  do {                                                                                             \
    if (!(x))                                                                                      \
      abort();                                                                                     \
  } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sig_parsed parsed;
static struct sig_parsed parsed2;
static char store[QUERY_STORE_SIZE(SIG_MAX_ENCODED)];
static const char key[] = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";

static void fuzz_query(const char *s, size_t n)
{
  struct query q;
  struct buf b;

  if (n > SIG_MAX_ENCODED)
    return;
  if (query_parse(&q, s, n, store, sizeof(store), SIG_MAX_PARAMS) == QUERY_OK) {
    CHECK(q.n <= SIG_MAX_PARAMS);
    for (size_t i = 0; i < q.n; i++) {
      CHECK(q.pairs[i].key_len > 0);
      CHECK(utf8_valid(q.pairs[i].key, q.pairs[i].key_len));
      CHECK(utf8_valid(q.pairs[i].val, q.pairs[i].val_len));
      CHECK(q.pairs[i].raw_off + q.pairs[i].raw_len <= n);
      for (size_t j = 0; j < i; j++)
        CHECK(q.pairs[j].key_len != q.pairs[i].key_len ||
              memcmp(q.pairs[j].key, q.pairs[i].key, q.pairs[i].key_len) != 0);
    }
  }
  /* escape(any bytes) parses back to the same bytes, when they are UTF-8. */
  buf_init(&b, 3 * n + 8);
  CHECK(query_append(&b, "k", s, n) == VG_OK);
  if (utf8_valid(s, n)) {
    CHECK(query_parse(&q, b.ptr, b.len, store, sizeof(store), 1) == QUERY_OK);
    CHECK(q.n == 1 && q.pairs[0].val_len == n && memcmp(q.pairs[0].val, s, n) == 0);
    CHECK(q.flags == 0);
  }
  buf_release(&b);
}

static void fuzz_b64(const uint8_t *data, size_t size)
{
  char *enc;
  unsigned char *dec;
  size_t n;

  if (size > 4096)
    return;
  enc = malloc(b64_encoded_len(size) + 1);
  dec = malloc(size + 3);
  CHECK(b64_encode(data, size, enc) == b64_encoded_len(size));
  CHECK(b64_decode(enc, strlen(enc), dec, size + 3, &n, NULL) == 0);
  CHECK(n == size && memcmp(dec, data, size) == 0);
  free(enc);
  free(dec);
}

static void fuzz_sig(const char *s, size_t n)
{
  enum sig_error pe, ve;

  pe = sig_parse(&parsed, s, n, 1551113100);
  ve = sig_verify(&parsed, key, sizeof(key) - 1, 1551113100);
  (void)sig_check(&parsed, 1551113100);
  CHECK(parsed.n_lints <= SIG_MAX_LINTS);
  if (pe != SIG_OK) {
    CHECK(ve != SIG_OK);
    return;
  }
  CHECK(parsed.raw_len > SIG_MAC_LEN && parsed.original_len == parsed.raw_len - SIG_MAC_LEN);
  /* Re-sign the decoded original with the key: its MAC must then pass, so
   * verification can only fail for a reason other than bad_mac. */
  {
    unsigned char tmp[SIG_MAC_LEN + SIG_MAX_ORIGINAL];
    char *enc = malloc(b64_encoded_len(SIG_MAC_LEN + parsed.original_len) + 1);
    unsigned int ml;
    size_t en;
    bool mac_ok;
    CHECK(HMAC(EVP_sha1(), key, sizeof(key) - 1, (const unsigned char *)parsed.original,
               parsed.original_len, tmp, &ml));
    mac_ok = memcmp(tmp, parsed.raw, SIG_MAC_LEN) == 0;
    CHECK(mac_ok == (ve != SIG_ERR_BAD_MAC));
    memcpy(tmp + SIG_MAC_LEN, parsed.original, parsed.original_len);
    en = b64_encode(tmp, SIG_MAC_LEN + parsed.original_len, enc);
    CHECK(sig_parse(&parsed2, enc, en, 1551113100) == SIG_OK);
    CHECK(sig_verify(&parsed2, key, sizeof(key) - 1, 1551113100) != SIG_ERR_BAD_MAC);
    CHECK(parsed2.query.n == parsed.query.n);
    free(enc);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *s = (const char *)data;

  fuzz_sig(s, size);
  fuzz_query(s, size);
  fuzz_b64(data, size);
  return 0;
}
