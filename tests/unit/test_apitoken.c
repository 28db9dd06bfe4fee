/* Unit tests for auth/apitoken: format, hashing, comparison. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "auth/apitoken.h"

/* "vg_" + base64url(bytes 0..31); hash from Python's hashlib.sha256. */
static const char known_token[] = "vg_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
static const char known_hash[] = "4590cd1e54eb6c029f229f0eb0f0552ccadef68d7623c2a36b4802e02ecee1b2";

static void generate_makes_valid_distinct_tokens(void **state)
{
  char a[APITOKEN_LEN + 1], b[APITOKEN_LEN + 1];

  apitoken_generate(a);
  apitoken_generate(b);
  assert_int_equal(strlen(a), APITOKEN_LEN);
  assert_memory_equal(a, "vg_", 3);
  assert_true(apitoken_valid(a, strlen(a)));
  assert_true(apitoken_valid(b, strlen(b)));
  assert_true(apitoken_looks_like(a, strlen(a)));
  assert_string_not_equal(a, b);
}

static void hash_matches_known_vector(void **state)
{
  char h[APITOKEN_HASH_LEN + 1];

  assert_int_equal(apitoken_hash(known_token, strlen(known_token), h), 0);
  assert_string_equal(h, known_hash);
  assert_true(apitoken_hash_valid(h));
}

static void malformed_tokens_are_refused(void **state)
{
  char h[APITOKEN_HASH_LEN + 1];
  char t[64];
  const char *bad[] = {
      "",
      "vg_",
      "vg_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh",   /* 42 chars */
      "vg_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8A", /* 44 chars */
      "VG_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",  /* prefix case */
      "xx_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
      "vg_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9", /* non-zero unused bits */
      "vg_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdH+8", /* '+' is not base64url */
      "vg_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh=",
  };

  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_false(apitoken_valid(bad[i], strlen(bad[i])));
    assert_int_equal(apitoken_hash(bad[i], strlen(bad[i]), h), -1);
    assert_string_equal(h, "");
  }
  /* An embedded NUL is not hidden by a length that covers it. */
  memcpy(t, known_token, sizeof(known_token));
  t[10] = '\0';
  assert_false(apitoken_valid(t, APITOKEN_LEN));
  assert_false(apitoken_looks_like("vg", 2));
  assert_false(apitoken_looks_like("eyJhbGciOi.x.y", 14));
  assert_true(apitoken_looks_like("vg_garbage", 10));
}

static void hash_comparison(void **state)
{
  char other[APITOKEN_HASH_LEN + 1];

  memcpy(other, known_hash, sizeof(other));
  assert_true(apitoken_hash_equal(known_hash, other));
  other[63] = other[63] == '0' ? '1' : '0';
  assert_false(apitoken_hash_equal(known_hash, other));
  other[0] = 'A'; /* upper case is not the stored form */
  assert_false(apitoken_hash_valid(other));
  assert_false(apitoken_hash_equal(other, other));
  assert_false(apitoken_hash_equal(known_hash, NULL));
  assert_false(apitoken_hash_valid("abc"));
  assert_false(
      apitoken_hash_valid("4590cd1e54eb6c029f229f0eb0f0552ccadef68d7623c2a36b4802e02ecee1b20"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(generate_makes_valid_distinct_tokens),
      cmocka_unit_test(hash_matches_known_vector),
      cmocka_unit_test(malformed_tokens_are_refused),
      cmocka_unit_test(hash_comparison),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
