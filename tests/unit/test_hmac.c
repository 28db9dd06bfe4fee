/* Unit tests for core/hmac: RFC vectors, and the per-thread contexts (keys
 * alternating, more keys than slots, a freed key's successor, threads)
 * always give what one-shot HMAC() gives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/hmac.h"

static void mac_of(const struct hmac_key *k, const char *msg, unsigned char *out, size_t *n)
{
  assert_int_equal(hmac_key_mac(k, msg, strlen(msg), out, EVP_MAX_MD_SIZE, n), VG_OK);
}

/* What OpenSSL's one-shot HMAC() says. */
static void reference(const char *digest, const char *key, const char *msg, unsigned char *out,
                      size_t *n)
{
  unsigned int len = 0;
  assert_non_null(HMAC(strcmp(digest, "SHA1") == 0 ? EVP_sha1() : EVP_sha256(), key,
                       (int)strlen(key), (const unsigned char *)msg, strlen(msg), out, &len));
  *n = len;
}

static void rfc_vectors(void **state)
{
  /* RFC 4231 test case 2 and RFC 2202 test case 2 ("Jefe"). */
  static const unsigned char sha256[] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e,
                                         0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
                                         0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83,
                                         0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
  static const unsigned char sha1[] = {0xef, 0xfc, 0xdf, 0x6a, 0xe5, 0xeb, 0x2f, 0xa2, 0xd2, 0x74,
                                       0x16, 0xd5, 0xf1, 0x84, 0xdf, 0x9c, 0x25, 0x9a, 0x7c, 0x79};
  struct hmac_key *k256, *k1;
  unsigned char out[EVP_MAX_MD_SIZE];
  size_t n;

  assert_int_equal(hmac_key_new("SHA256", "Jefe", 4, &k256), VG_OK);
  assert_int_equal(hmac_key_new("SHA1", "Jefe", 4, &k1), VG_OK);
  for (int round = 0; round < 3; round++) { /* first use, then the thread's context */
    mac_of(k256, "what do ya want for nothing?", out, &n);
    assert_int_equal(n, 32);
    assert_memory_equal(out, sha256, 32);
    mac_of(k1, "what do ya want for nothing?", out, &n);
    assert_int_equal(n, 20);
    assert_memory_equal(out, sha1, 20);
  }
  hmac_key_free(k256);
  hmac_key_free(k1);
  assert_int_equal(hmac_key_new("MD-nope", "k", 1, &k1), VG_INVALID);
  assert_int_equal(hmac_key_new("SHA256", "", 0, &k1), VG_INVALID);
}

/* More keys than a thread keeps, used in turns, freed and replaced: every
 * MAC equals the reference. */
static void many_keys_and_successors(void **state)
{
  enum { KEYS = 13 };
  struct hmac_key *k[KEYS];
  char key[KEYS][32], msg[64];
  unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
  size_t na, nb;

  for (int i = 0; i < KEYS; i++) {
    snprintf(key[i], sizeof(key[i]), "key-%d", i);
    assert_int_equal(hmac_key_new(i % 2 ? "SHA1" : "SHA256", key[i], strlen(key[i]), &k[i]), VG_OK);
  }
  for (int round = 0; round < 200; round++) {
    int i = (round * 7) % KEYS;
    snprintf(msg, sizeof(msg), "message %d", round);
    mac_of(k[i], msg, a, &na);
    reference(i % 2 ? "SHA1" : "SHA256", key[i], msg, b, &nb);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    if (round % 17 == 0) { /* a new key, quite possibly at the freed one's address */
      hmac_key_free(k[i]);
      snprintf(key[i], sizeof(key[i]), "key-%d-%d", i, round);
      assert_int_equal(hmac_key_new(i % 2 ? "SHA1" : "SHA256", key[i], strlen(key[i]), &k[i]),
                       VG_OK);
    }
  }
  for (int i = 0; i < KEYS; i++)
    hmac_key_free(k[i]);
}

struct worker {
  const struct hmac_key *k;
  int id, bad;
};

static void *work(void *arg)
{
  struct worker *w = arg;
  char msg[64];
  unsigned char a[EVP_MAX_MD_SIZE], b[EVP_MAX_MD_SIZE];
  size_t na = 0, nb = 0;
  unsigned int len = 0;

  for (int i = 0; i < 2000; i++) {
    snprintf(msg, sizeof(msg), "thread %d message %d", w->id, i);
    if (hmac_key_mac(w->k, msg, strlen(msg), a, sizeof(a), &na) != VG_OK)
      w->bad++;
    HMAC(EVP_sha256(), "shared", 6, (const unsigned char *)msg, strlen(msg), b, &len);
    nb = len;
    if (na != nb || memcmp(a, b, na) != 0)
      w->bad++;
  }
  return NULL;
}

/* One key, four threads, each with its own context: no interference. */
static void threads_share_a_key(void **state)
{
  struct hmac_key *k;
  pthread_t th[4];
  struct worker w[4];

  assert_int_equal(hmac_key_new("SHA256", "shared", 6, &k), VG_OK);
  for (int i = 0; i < 4; i++) {
    w[i] = (struct worker){k, i, 0};
    assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(w[i].bad, 0);
  }
  hmac_key_free(k);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(rfc_vectors),
      cmocka_unit_test(many_keys_and_successors),
      cmocka_unit_test(threads_share_a_key),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
