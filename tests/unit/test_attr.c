/* Unit tests for attr: the attribution token, its keyring and key file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "attr/attr.h"
#include "core/util.h"

/* Key bytes 0x00..0x1f; the vectors below were computed independently
 * with Python's hmac/base64 modules. */
static void ring_k1(struct attr_keyring *kr)
{
  unsigned char key[32];
  for (int i = 0; i < 32; i++)
    key[i] = (unsigned char)i;
  attr_keyring_init(kr);
  assert_int_equal(attr_keyring_add(kr, "k1", key, sizeof(key)), VG_OK);
}

static enum attr_status verify_str(const struct attr_keyring *kr, const char *t,
                                   struct attr_claims *c)
{
  return attr_verify(kr, t, strlen(t), c);
}

static void mint_vectors(void **state)
{
  struct attr_keyring kr;
  struct attr_claims c;
  char tok[ATTR_MAX_TOKEN + 1];

  ring_k1(&kr);
  assert_int_equal(attr_mint(&kr, "u123", NULL, tok, sizeof(tok)), VG_OK);
  assert_string_equal(tok, "vg1.k1.u123.bywIVlKfS4MHrJg1WlTCHA");
  assert_int_equal(attr_mint(&kr, "u123", "", tok, sizeof(tok)), VG_OK);
  assert_string_equal(tok, "vg1.k1.u123.bywIVlKfS4MHrJg1WlTCHA");
  assert_int_equal(verify_str(&kr, tok, &c), ATTR_OK);
  assert_string_equal(c.kid, "k1");
  assert_string_equal(c.upload_id, "u123");
  assert_string_equal(c.app_ctx, "");
  assert_int_equal(c.app_ctx_len, 0);

  assert_int_equal(attr_mint(&kr, "u123", "{\"uid\":\"u_42\",\"course\":7}", tok, sizeof(tok)),
                   VG_OK);
  assert_string_equal(tok, "vg1.k1.u123.eyJ1aWQiOiJ1XzQyIiwiY291cnNlIjo3fQ.WLR8IxaeR9Yqec8ILYB7Og");
  assert_int_equal(verify_str(&kr, tok, &c), ATTR_OK);
  assert_string_equal(c.upload_id, "u123");
  assert_string_equal(c.app_ctx, "{\"uid\":\"u_42\",\"course\":7}");
  assert_int_equal(c.app_ctx_len, 25);
  attr_keyring_release(&kr);
}

static void roundtrip_unicode_ctx(void **state)
{
  struct attr_keyring kr;
  struct attr_claims c;
  char tok[ATTR_MAX_TOKEN + 1];
  const char *ctx = "\xe5\x85\xb6\xe4\xbb\x96 course=7&x=\"y\"";

  ring_k1(&kr);
  assert_int_equal(attr_mint(&kr, "0f8e-AZ_9", ctx, tok, sizeof(tok)), VG_OK);
  for (const char *p = tok; *p; p++)
    assert_non_null(
        strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-", *p));
  assert_int_equal(verify_str(&kr, tok, &c), ATTR_OK);
  assert_string_equal(c.upload_id, "0f8e-AZ_9");
  assert_string_equal(c.app_ctx, ctx);
  attr_keyring_release(&kr);
}

/* Every single-character substitution, every deletion and every
 * truncation of a valid token must fail. */
static void every_tamper_fails(void **state)
{
  struct attr_keyring kr;
  struct attr_claims c;
  char tok[ATTR_MAX_TOKEN + 1], t[ATTR_MAX_TOKEN + 2];
  const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.+/=|% ";
  const char *ctxs[] = {NULL, "{\"a\":1}"};

  ring_k1(&kr);
  for (size_t x = 0; x < ARRAY_SIZE(ctxs); x++) {
    size_t n;
    assert_int_equal(attr_mint(&kr, "upload-1", ctxs[x], tok, sizeof(tok)), VG_OK);
    n = strlen(tok);
    for (size_t i = 0; i < n; i++) {
      for (const char *a = alpha; *a; a++) {
        if (*a == tok[i])
          continue;
        memcpy(t, tok, n + 1);
        t[i] = *a;
        assert_int_not_equal(attr_verify(&kr, t, n, &c), ATTR_OK);
        assert_string_equal(c.upload_id, "");
      }
      /* deletion of character i */
      memcpy(t, tok, i);
      memcpy(t + i, tok + i + 1, n - i);
      assert_int_not_equal(attr_verify(&kr, t, n - 1, &c), ATTR_OK);
      /* truncation to i characters */
      assert_int_not_equal(attr_verify(&kr, tok, i, &c), ATTR_OK);
    }
    /* one extra character anywhere at the end */
    memcpy(t, tok, n);
    t[n] = 'A';
    assert_int_not_equal(attr_verify(&kr, t, n + 1, &c), ATTR_OK);
  }
  attr_keyring_release(&kr);
}

static void tamper_reasons(void **state)
{
  struct attr_keyring kr;
  struct attr_claims c;

  ring_k1(&kr);
  /* MAC of another upload id */
  assert_int_equal(verify_str(&kr, "vg1.k1.u124.bywIVlKfS4MHrJg1WlTCHA", &c), ATTR_BAD_MAC);
  /* the app context spliced off a valid token */
  assert_int_equal(verify_str(&kr, "vg1.k1.u123.WLR8IxaeR9Yqec8ILYB7Og", &c), ATTR_BAD_MAC);
  /* an app context spliced onto a valid token */
  assert_int_equal(verify_str(&kr, "vg1.k1.u123.eyJ1aWQiOjF9.bywIVlKfS4MHrJg1WlTCHA", &c),
                   ATTR_BAD_MAC);
  assert_int_equal(verify_str(&kr, "vg1.k2.u123.bywIVlKfS4MHrJg1WlTCHA", &c), ATTR_UNKNOWN_KEY);
  assert_int_equal(verify_str(&kr, "vg2.k1.u123.bywIVlKfS4MHrJg1WlTCHA", &c), ATTR_MALFORMED);
  assert_int_equal(verify_str(&kr, "VG1.k1.u123.bywIVlKfS4MHrJg1WlTCHA", &c), ATTR_MALFORMED);
  assert_int_equal(verify_str(&kr, "vg1.k1.u123.bywIVlKfS4MHrJg1WlTCH", &c), ATTR_MALFORMED);
  assert_int_equal(verify_str(&kr, "vg1.k1.u123.bywIVlKfS4MHrJg1WlTCHA=", &c), ATTR_MALFORMED);
  assert_int_equal(verify_str(&kr, "vg1.k1..bywIVlKfS4MHrJg1WlTCHA", &c), ATTR_MALFORMED);
  assert_int_equal(verify_str(&kr, "vg1..u123.bywIVlKfS4MHrJg1WlTCHA", &c), ATTR_MALFORMED);
  assert_int_equal(verify_str(&kr, "vg1.k1.u123..bywIVlKfS4MHrJg1WlTCHA", &c), ATTR_MALFORMED);
  assert_int_equal(verify_str(&kr, "vg1.k1.u123.a.b.bywIVlKfS4MHrJg1WlTCHA", &c), ATTR_MALFORMED);
  assert_int_equal(verify_str(&kr, "vg1.123456789.u.bywIVlKfS4MHrJg1WlTCHA", &c), ATTR_MALFORMED);
  /* non-canonical base64url for the context: 5 chars, and "eR" whose unused bits are set */
  assert_int_equal(verify_str(&kr, "vg1.k1.u123.eyJ1a.bywIVlKfS4MHrJg1WlTCHA", &c), ATTR_MALFORMED);
  assert_int_equal(verify_str(&kr, "vg1.k1.u123.eR.bywIVlKfS4MHrJg1WlTCHA", &c), ATTR_MALFORMED);
  assert_int_equal(verify_str(&kr, "", &c), ATTR_MALFORMED);
  assert_int_equal(attr_verify(&kr, NULL, 0, &c), ATTR_MALFORMED);
  /* embedded NUL */
  assert_int_equal(attr_verify(&kr, "vg1.k1.u1\0.bywIVlKfS4MHrJg1WlTCHA", 33, &c), ATTR_MALFORMED);
  assert_string_equal(attr_status_str(ATTR_OK), "ok");
  assert_string_equal(attr_status_str(ATTR_MALFORMED), "malformed");
  assert_string_equal(attr_status_str(ATTR_UNKNOWN_KEY), "unknown_key");
  assert_string_equal(attr_status_str(ATTR_BAD_MAC), "bad_mac");
  attr_keyring_release(&kr);
}

static void wrong_key_same_kid(void **state)
{
  struct attr_keyring kr, other;
  struct attr_claims c;
  unsigned char key[32];
  char tok[ATTR_MAX_TOKEN + 1];

  ring_k1(&kr);
  memset(key, 7, sizeof(key));
  attr_keyring_init(&other);
  assert_int_equal(attr_keyring_add(&other, "k1", key, sizeof(key)), VG_OK);
  assert_int_equal(attr_mint(&other, "u123", NULL, tok, sizeof(tok)), VG_OK);
  assert_int_equal(verify_str(&kr, tok, &c), ATTR_BAD_MAC);
  attr_keyring_release(&kr);
  attr_keyring_release(&other);
}

static void rotation(void **state)
{
  struct attr_keyring kr, newer;
  struct attr_claims c;
  unsigned char k2[48];
  char old[ATTR_MAX_TOKEN + 1], cur[ATTR_MAX_TOKEN + 1];

  memset(k2, 0xa5, sizeof(k2));
  ring_k1(&kr);
  assert_string_equal(attr_keyring_current_kid(&kr), "k1");
  assert_int_equal(attr_mint(&kr, "s1", NULL, old, sizeof(old)), VG_OK);
  assert_int_equal(attr_keyring_add(&kr, "k2", k2, sizeof(k2)), VG_OK);
  /* adding does not switch the minting key */
  assert_string_equal(attr_keyring_current_kid(&kr), "k1");
  assert_int_equal(attr_keyring_set_current(&kr, "k2"), VG_OK);
  assert_int_equal(attr_keyring_set_current(&kr, "k3"), VG_NOTFOUND);
  assert_string_equal(attr_keyring_current_kid(&kr), "k2");
  assert_int_equal(attr_mint(&kr, "s2", NULL, cur, sizeof(cur)), VG_OK);
  assert_memory_equal(cur, "vg1.k2.s2.", 10);
  assert_int_equal(verify_str(&kr, old, &c), ATTR_OK);
  assert_string_equal(c.kid, "k1");
  assert_string_equal(c.upload_id, "s1");
  assert_int_equal(verify_str(&kr, cur, &c), ATTR_OK);
  assert_string_equal(c.kid, "k2");

  /* k1 retired: its tokens stop verifying, k2's still do */
  attr_keyring_init(&newer);
  assert_int_equal(attr_keyring_add(&newer, "k2", k2, sizeof(k2)), VG_OK);
  assert_int_equal(verify_str(&newer, old, &c), ATTR_UNKNOWN_KEY);
  assert_int_equal(verify_str(&newer, cur, &c), ATTR_OK);
  attr_keyring_release(&kr);
  attr_keyring_release(&newer);
}

static void keyring_errors(void **state)
{
  struct attr_keyring kr;
  unsigned char key[65] = {0};
  char kid[4], tok[ATTR_MAX_TOKEN + 1];

  attr_keyring_init(&kr);
  assert_null(attr_keyring_current_kid(&kr));
  assert_int_equal(attr_mint(&kr, "u", NULL, tok, sizeof(tok)), VG_NOTFOUND);
  assert_int_equal(attr_app_ctx_room(&kr, 4), 0);
  assert_int_equal(attr_keyring_add(&kr, "k1", key, 31), VG_INVALID);
  assert_int_equal(attr_keyring_add(&kr, "k1", key, 65), VG_INVALID);
  assert_int_equal(attr_keyring_add(&kr, "", key, 32), VG_INVALID);
  assert_int_equal(attr_keyring_add(&kr, "123456789", key, 32), VG_INVALID);
  assert_int_equal(attr_keyring_add(&kr, "k.1", key, 32), VG_INVALID);
  assert_int_equal(attr_keyring_add(&kr, NULL, key, 32), VG_INVALID);
  assert_int_equal(attr_keyring_add(&kr, "12345678", key, 64), VG_OK);
  assert_int_equal(attr_keyring_add(&kr, "12345678", key, 32), VG_CONFLICT);
  for (int i = 1; i < ATTR_MAX_KEYS; i++) {
    snprintf(kid, sizeof(kid), "x%d", i);
    assert_int_equal(attr_keyring_add(&kr, kid, key, 32), VG_OK);
  }
  assert_int_equal(attr_keyring_add(&kr, "full", key, 32), VG_TOOBIG);
  assert_string_equal(attr_keyring_current_kid(&kr), "12345678");
  attr_keyring_release(&kr);
  assert_int_equal(kr.n, 0);
}

static void mint_input_errors(void **state)
{
  struct attr_keyring kr;
  char tok[ATTR_MAX_TOKEN + 1], uid[ATTR_MAX_UPLOAD_ID + 2];

  ring_k1(&kr);
  assert_int_equal(attr_mint(&kr, "", NULL, tok, sizeof(tok)), VG_INVALID);
  assert_int_equal(attr_mint(&kr, NULL, NULL, tok, sizeof(tok)), VG_INVALID);
  assert_int_equal(attr_mint(&kr, "a.b", NULL, tok, sizeof(tok)), VG_INVALID);
  assert_int_equal(attr_mint(&kr, "a b", NULL, tok, sizeof(tok)), VG_INVALID);
  assert_int_equal(attr_mint(&kr, "a", "\xff", tok, sizeof(tok)), VG_INVALID);
  memset(uid, 'u', sizeof(uid));
  uid[ATTR_MAX_UPLOAD_ID + 1] = '\0';
  assert_int_equal(attr_mint(&kr, uid, NULL, tok, sizeof(tok)), VG_INVALID);
  uid[ATTR_MAX_UPLOAD_ID] = '\0';
  assert_int_equal(attr_mint(&kr, uid, NULL, tok, sizeof(tok)), VG_OK);
  /* output buffer too small */
  assert_int_equal(attr_mint(&kr, "u123", NULL, tok, 34), VG_TOOBIG);
  assert_int_equal(attr_mint(&kr, "u123", NULL, tok, 35), VG_OK);
  assert_string_equal(tok, "vg1.k1.u123.bywIVlKfS4MHrJg1WlTCHA");
  attr_keyring_release(&kr);
}

/* The longest kid, every upload id length and every context length: the
 * token never exceeds 250, and it fits exactly when attr_app_ctx_room()
 * says so. */
static void length_budget(void **state)
{
  struct attr_keyring kr;
  struct attr_claims c;
  unsigned char key[32] = {1};
  char tok[ATTR_MAX_TOKEN + 64], uid[ATTR_MAX_UPLOAD_ID + 1], ctx[ATTR_MAX_APP_CTX + 40];
  size_t longest = 0;

  attr_keyring_init(&kr);
  assert_int_equal(attr_keyring_add(&kr, "ABCDEFGH", key, sizeof(key)), VG_OK);
  for (size_t ul = 1; ul <= ATTR_MAX_UPLOAD_ID; ul++) {
    size_t room = attr_app_ctx_room(&kr, ul);
    memset(uid, 'Z', ul);
    uid[ul] = '\0';
    for (size_t cl = 0; cl < sizeof(ctx); cl++) {
      int rc;
      memset(ctx, cl % 2 ? 'x' : '~', cl);
      ctx[cl] = '\0';
      rc = attr_mint(&kr, uid, ctx, tok, sizeof(tok));
      if (cl <= room) {
        assert_int_equal(rc, VG_OK);
        assert_true(strlen(tok) <= ATTR_MAX_TOKEN);
        if (strlen(tok) > longest)
          longest = strlen(tok);
        assert_int_equal(verify_str(&kr, tok, &c), ATTR_OK);
        assert_int_equal(c.app_ctx_len, cl);
        assert_memory_equal(c.app_ctx, ctx, cl);
      } else {
        assert_int_equal(rc, VG_TOOBIG);
      }
    }
  }
  /* with the longest kid and upload id, the room is exact: 250 - 8 - 64 -
   * 4 - 3 dots - 22 = 149 base64url chars = 111 bytes (148 chars) */
  assert_int_equal(attr_app_ctx_room(&kr, ATTR_MAX_UPLOAD_ID), 111);
  assert_int_equal(attr_app_ctx_room(&kr, 0), 0);
  assert_int_equal(attr_app_ctx_room(&kr, ATTR_MAX_UPLOAD_ID + 1), 0);
  assert_true(longest >= ATTR_MAX_TOKEN - 2);
  /* a token longer than 250 is malformed, even if otherwise fine */
  memset(tok, 'A', 251);
  memcpy(tok, "vg1.k1.", 7);
  assert_int_equal(attr_verify(&kr, tok, 251, &c), ATTR_MALFORMED);
  attr_keyring_release(&kr);
}

static void keyfile_parse(void **state)
{
  struct attr_keyring kr;
  struct attr_claims c;
  char err[128], tok[ATTR_MAX_TOKEN + 1];
  const char *text = "# vodgate attribution keys; first is current\r\n"
                     "\n"
                     "k2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n"
                     "  k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=  \n";

  attr_keyring_init(&kr);
  assert_int_equal(attr_keyring_parse(&kr, text, strlen(text), err, sizeof(err)), VG_OK);
  assert_int_equal(kr.n, 2);
  assert_string_equal(attr_keyring_current_kid(&kr), "k2");
  assert_int_equal(verify_str(&kr, "vg1.k1.u123.bywIVlKfS4MHrJg1WlTCHA", &c), ATTR_OK);
  assert_int_equal(attr_mint(&kr, "u123", NULL, tok, sizeof(tok)), VG_OK);
  assert_memory_equal(tok, "vg1.k2.u123.", 12);
  attr_keyring_release(&kr);
}

static void keyfile_errors(void **state)
{
  static const struct {
    const char *text;
    int rc;
    const char *err;
  } cases[] = {
      {"", VG_INVALID, "line 0: no key"},
      {"# only a comment\n\n", VG_INVALID, "line 2: no key"},
      {"k1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", VG_INVALID,
       "line 1: expected <kid>:<base64 key>"},
      {"k.1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", VG_INVALID,
       "line 1: key id must be 1-8 of A-Z a-z 0-9 _ -"},
      {":AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", VG_INVALID,
       "line 1: key id must be 1-8 of A-Z a-z 0-9 _ -"},
      {"#\nk1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n", VG_INVALID,
       "line 2: key is not canonical base64 of at most 64 bytes"},
      {"k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=\n", VG_INVALID,
       "line 1: key is not canonical base64 of at most 64 bytes"},
      {"k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd\n", VG_INVALID,
       "line 1: key must be 32 to 64 bytes"},
      {"k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
       "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
       VG_CONFLICT, "line 2: duplicate key id"},
  };
  struct attr_keyring kr;
  char err[128];

  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    attr_keyring_init(&kr);
    assert_int_equal(
        attr_keyring_parse(&kr, cases[i].text, strlen(cases[i].text), err, sizeof(err)),
        cases[i].rc);
    assert_string_equal(err, cases[i].err);
    /* the error never echoes key material */
    assert_null(strstr(err, "AAEC"));
    attr_keyring_release(&kr);
  }
}

static void keygen_roundtrip(void **state)
{
  struct attr_keyring kr;
  struct attr_claims c;
  char a[ATTR_KEYLINE_MAX], b[ATTR_KEYLINE_MAX], both[2 * ATTR_KEYLINE_MAX], err[64];
  char tok[ATTR_MAX_TOKEN + 1];

  assert_int_equal(attr_key_generate("new", a, sizeof(a)), VG_OK);
  assert_int_equal(attr_key_generate("old", b, sizeof(b)), VG_OK);
  assert_int_equal(strlen(a), 3 + 1 + 44 + 1);
  assert_memory_equal(a, "new:", 4);
  assert_int_equal(a[strlen(a) - 1], '\n');
  assert_string_not_equal(a + 4, b + 4);
  assert_int_equal(attr_key_generate("bad kid", b, sizeof(b)), VG_INVALID);
  assert_int_equal(attr_key_generate("k", b, 10), VG_TOOBIG);
  assert_int_equal(attr_key_generate("old", b, sizeof(b)), VG_OK);
  snprintf(both, sizeof(both), "%s%s", a, b);
  attr_keyring_init(&kr);
  assert_int_equal(attr_keyring_parse(&kr, both, strlen(both), err, sizeof(err)), VG_OK);
  assert_int_equal(kr.n, 2);
  assert_int_equal(kr.keys[0].len, 32);
  assert_string_equal(attr_keyring_current_kid(&kr), "new");
  assert_int_equal(attr_mint(&kr, "u1", "ctx", tok, sizeof(tok)), VG_OK);
  assert_int_equal(verify_str(&kr, tok, &c), ATTR_OK);
  assert_string_equal(c.app_ctx, "ctx");
  attr_keyring_release(&kr);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(mint_vectors),       cmocka_unit_test(roundtrip_unicode_ctx),
      cmocka_unit_test(every_tamper_fails), cmocka_unit_test(tamper_reasons),
      cmocka_unit_test(wrong_key_same_kid), cmocka_unit_test(rotation),
      cmocka_unit_test(keyring_errors),     cmocka_unit_test(mint_input_errors),
      cmocka_unit_test(length_budget),      cmocka_unit_test(keyfile_parse),
      cmocka_unit_test(keyfile_errors),     cmocka_unit_test(keygen_roundtrip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
