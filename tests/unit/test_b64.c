/* Unit tests for core/b64: RFC 4648 vectors and every leniency of decode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/b64.h"

static void encode_rfc4648(void **state)
{
  static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
  static const char *const out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
  char buf[64];
  for (size_t i = 0; i < 7; i++) {
    size_t n = b64_encode(in[i], strlen(in[i]), buf);
    assert_int_equal(n, strlen(out[i]));
    assert_int_equal(n, b64_encoded_len(strlen(in[i])));
    assert_string_equal(buf, out[i]);
  }
}

/* Our encoder and OpenSSL's agree on every length and every byte value. */
static void encode_matches_openssl(void **state)
{
  unsigned char in[300];
  char ours[420], theirs[420];
  for (size_t i = 0; i < sizeof(in); i++)
    in[i] = (unsigned char)(i * 151 + 7);
  for (size_t n = 0; n <= sizeof(in); n++) {
    b64_encode(in, n, ours);
    EVP_EncodeBlock((unsigned char *)theirs, in, (int)n);
    assert_string_equal(ours, theirs);
  }
}

static void decode_roundtrip_all_lengths(void **state)
{
  unsigned char in[100], out[100];
  char enc[200];
  size_t n;
  unsigned fl;
  for (size_t i = 0; i < sizeof(in); i++)
    in[i] = (unsigned char)(255 - i * 3);
  for (size_t len = 0; len <= sizeof(in); len++) {
    b64_encode(in, len, enc);
    assert_int_equal(b64_decode(enc, strlen(enc), out, sizeof(out), &n, &fl), 0);
    assert_int_equal(n, len);
    assert_memory_equal(out, in, len);
    assert_int_equal(fl, 0);
  }
}

static int dec(const char *s, char *out, size_t *n, unsigned *fl)
{
  int rc = b64_decode(s, strlen(s), out, 64, n, fl);
  if (rc == 0)
    out[*n] = '\0';
  return rc;
}

static void decode_lenient(void **state)
{
  char out[65];
  size_t n;
  unsigned fl;
  /* 0xfb 0xff 0xbf encodes as "+/+/"; check each stand-in. */
  assert_int_equal(dec("+/+/", out, &n, &fl), 0);
  assert_memory_equal(out, "\xfb\xff\xbf", 3);
  assert_int_equal(dec("-_-_", out, &n, &fl), 0);
  assert_memory_equal(out, "\xfb\xff\xbf", 3);
  assert_int_equal(fl, B64_F_URLSAFE);
  assert_int_equal(dec(" / /", out, &n, &fl), 0);
  assert_memory_equal(out, "\xfb\xff\xbf", 3);
  assert_int_equal(fl, B64_F_SPACE_PLUS);
  assert_int_equal(dec("Zm9v\r\nYmFy\n", out, &n, &fl), 0);
  assert_string_equal(out, "foobar");
  assert_int_equal(fl, B64_F_LINEBREAK);
  assert_int_equal(dec("Zm9vYg", out, &n, &fl), 0);
  assert_string_equal(out, "foob");
  assert_int_equal(fl, B64_F_NOPAD);
  assert_int_equal(dec("Zm9vYmE", out, &n, &fl), 0);
  assert_string_equal(out, "fooba");
  assert_int_equal(fl, B64_F_NOPAD);
  assert_int_equal(dec("Zh==", out, &n, &fl), 0); /* 'h' leaves bits set */
  assert_string_equal(out, "f");
  assert_int_equal(fl, B64_F_NONCANON);
  assert_int_equal(dec("", out, &n, &fl), 0);
  assert_int_equal(n, 0);
}

static void decode_rejects(void **state)
{
  char out[65];
  size_t n;
  unsigned fl;
  assert_int_equal(dec("Zm9v!", out, &n, &fl), -1);    /* outside both alphabets */
  assert_int_equal(dec("Z", out, &n, &fl), -1);        /* lone final sextet */
  assert_int_equal(dec("Zm9vY", out, &n, &fl), -1);    /* ditto after a quantum */
  assert_int_equal(dec("Zg=", out, &n, &fl), -1);      /* half the padding */
  assert_int_equal(dec("Zg===", out, &n, &fl), -1);    /* too much padding */
  assert_int_equal(dec("=Zg=", out, &n, &fl), -1);     /* padding first */
  assert_int_equal(dec("Zg==Zg==", out, &n, &fl), -1); /* data after padding */
  assert_int_equal(dec("Zm9v=", out, &n, &fl), -1);    /* padding a full quantum */
  assert_int_equal(dec("Zm\x80v", out, &n, &fl), -1);
  assert_int_equal(b64_decode("Zm9vYmFy", 8, out, 5, &n, &fl), -2); /* 6 > 5 */
  assert_int_equal(b64_decode("Zm9vYmE=", 8, out, 4, &n, &fl), -2);
  assert_int_equal(b64_decode("Zm9vYmE=", 8, out, 5, &n, &fl), 0);
}

/* Every byte value is classified: exactly 64 + 4 stand-ins + '=' + 3 skips
 * decode; everything else is rejected. */
static void decode_alphabet_is_exact(void **state)
{
  int accepted = 0;
  for (int c = 0; c < 256; c++) {
    char in[4] = {(char)c, 'A', 'A', 'A'};
    unsigned char out[8];
    size_t n;
    if (b64_decode(in, 4, out, sizeof(out), &n, NULL) == 0)
      accepted++;
  }
  /* 64 letters + '-' '_' ' ' + '\r' '\n' '\t' (skipped: "AAA" then NOPAD). */
  assert_int_equal(accepted, 64 + 3 + 3);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(encode_rfc4648),
      cmocka_unit_test(encode_matches_openssl),
      cmocka_unit_test(decode_roundtrip_all_lengths),
      cmocka_unit_test(decode_lenient),
      cmocka_unit_test(decode_rejects),
      cmocka_unit_test(decode_alphabet_is_exact),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
