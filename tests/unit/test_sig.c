/* Unit tests for sig/: the spec's vectors to the byte, every validation
 * rule, every verification failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/hmac.h>

#include "core/b64.h"
#include "core/hmac.h"
#include "core/util.h"
#include "sig/sig.h"

/* Spec 7: official Python/Go sample. */
#define PY_SIG                                                                                     \
  "aG6ZX3aZf+6tg/yRDZdRSNtM39lzZWNyZXRJZD1JYW1TZWNyZXRJZCZjdXJyZW50VGltZVN0YW1wPTE1NzEyMTUwOTUmZX" \
  "hwaXJlVGltZT0xODg2NTc1MDk1JnJhbmRvbT0yMjA2MjU="
#define PY_ORIGINAL                                                                                \
  "secretId=IamSecretId&currentTimeStamp=1571215095&expireTime=1886575095&random=220625"
/* Spec 7: ours, V1. */
#define V1_ID  "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
#define V1_KEY "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
#define V1_SIG                                                                                     \
  "O2M6rhoeqKbb/KQsxcgEu//HBAdzZWNyZXRJZD1BS0lEejhrcmJzSjV5S0JaUXBuNzRXRmttTFB4M0VYQU1QTEUmY3Vyc"  \
  "mVudFRpbWVTdGFtcD0xNTUxMTEzMDY1JmV4cGlyZVRpbWU9MTU1MTE5OTQ2NSZyYW5kb209MTIzNDU2Nzg5MA=="
/* Spec 7: ours, V2, Node and PHP encodings. */
#define V2_NODE                                                                                    \
  "uwxTKBZ4nptVIRniZPCWA63o7uZzZWNyZXRJZD1BS0lEejhrcmJzSjV5S0JaUXBuNzRXRmttTFB4M0VYQU1QTEUmY3Vyc"  \
  "mVudFRpbWVTdGFtcD0xNTUxMTEzMDY1JmV4cGlyZVRpbWU9MTU1MTE5OTQ2NSZyYW5kb209MTIzNDU2Nzg5MCZwcm9jZW"  \
  "R1cmU9TG9uZ1ZpZGVvUHJlc2V0JnRhc2tQcmlvcml0eT0wJnRhc2tOb3RpZnlNb2RlPUZpbmlzaCZzb3VyY2VDb250ZXh"  \
  "0PSU3QiUyMnVpZCUyMiUzQSUyMnUlMjAxJTIyJTdEJm9uZVRpbWVWYWxpZD0xJnZvZFN1YkFwcElkPTE1MDAwMDAwMDE="
#define V2_PHP                                                                                     \
  "/H8w8ULJf115RqLXu8gwm45cs8hzZWNyZXRJZD1BS0lEejhrcmJzSjV5S0JaUXBuNzRXRmttTFB4M0VYQU1QTEUmY3Vyc"  \
  "mVudFRpbWVTdGFtcD0xNTUxMTEzMDY1JmV4cGlyZVRpbWU9MTU1MTE5OTQ2NSZyYW5kb209MTIzNDU2Nzg5MCZwcm9jZW"  \
  "R1cmU9TG9uZ1ZpZGVvUHJlc2V0JnRhc2tQcmlvcml0eT0wJnRhc2tOb3RpZnlNb2RlPUZpbmlzaCZzb3VyY2VDb250ZXh"  \
  "0PSU3QiUyMnVpZCUyMiUzQSUyMnUrMSUyMiU3RCZvbmVUaW1lVmFsaWQ9MSZ2b2RTdWJBcHBJZD0xNTAwMDAwMDAx"
#define V1_NOW 1551113100 /* inside V1/V2's validity */
#define PY_NOW 1571215100

static struct sig_parsed *S; /* 17 KiB: heap, not the test's stack */

static void v1_params(struct sig_params *p)
{
  sig_params_init(p);
  p->secret_id = sig_str_of(V1_ID);
  p->current_time = 1551113065;
  p->expire_time = 1551199465;
  p->random = 1234567890;
  p->has |= SIG_HAS_RANDOM;
}

static void v2_params(struct sig_params *p)
{
  v1_params(p);
  p->procedure = sig_str_of("LongVideoPreset");
  p->task_priority = 0;
  p->has |= SIG_HAS_TASK_PRIORITY | SIG_HAS_ONE_TIME_VALID | SIG_HAS_SUB_APP_ID;
  p->task_notify_mode = SIG_NOTIFY_FINISH;
  p->source_context = sig_str_of("{\"uid\":\"u 1\"}");
  p->one_time_valid = 1;
  p->vod_sub_app_id = 1500000001;
}

static enum sig_error parse_verify(const char *sig, const char *key, int64_t now)
{
  sig_parse(S, sig, strlen(sig), now);
  return sig_verify(S, key, strlen(key), now);
}

static void hex_mac_is(const char *hex)
{
  char h[41];
  hex_encode(S->raw, 20, h);
  assert_string_equal(h, hex);
}

static void vector_official_python_go(void **state)
{
  struct sig_params p;
  struct sig_result r;

  sig_params_init(&p);
  p.secret_id = sig_str_of("IamSecretId");
  p.current_time = 1571215095;
  p.expire_time = 1886575095;
  p.random = 220625;
  p.has = SIG_HAS_RANDOM;
  /* The sample's 10-year validity breaks the 90-day rule: we refuse to emit. */
  sig_result_init(&r);
  assert_int_equal(sig_emit(&p, "IamSecretKey", 12, &r), SIG_ERR_VALIDITY_TOO_LONG);
  sig_result_release(&r);

  assert_int_equal(sig_parse(S, PY_SIG, strlen(PY_SIG), PY_NOW), SIG_OK);
  assert_string_equal(S->original, PY_ORIGINAL);
  hex_mac_is("686e995f76997feead83fc910d975148db4cdfd9");
  assert_string_equal(S->params.secret_id.ptr, "IamSecretId");
  assert_int_equal(S->params.current_time, 1571215095);
  assert_int_equal(S->params.expire_time, 1886575095);
  assert_int_equal(S->params.random, 220625);
  /* The MAC is right; the 90-day rule is what fails. */
  assert_int_equal(sig_verify(S, "IamSecretKey", 12, PY_NOW), SIG_ERR_VALIDITY_TOO_LONG);
  assert_int_equal(sig_verify(S, "IamSecretKez", 12, PY_NOW), SIG_ERR_BAD_MAC);
  assert_int_equal(S->n_lints, 1);
  assert_string_equal(S->lints[0].code, "validity_too_long");
}

/* The server's keyed path gives the vector's bytes too; a key made for
 * another digest, or none, is refused rather than signing wrongly. */
static void vector_v1_emit_keyed(void **state)
{
  struct sig_params p;
  struct sig_result r;
  struct hmac_key *k, *k256;

  v1_params(&p);
  sig_result_init(&r);
  assert_int_equal(hmac_key_new("SHA1", V1_KEY, strlen(V1_KEY), &k), VG_OK);
  for (int i = 0; i < 2; i++) {
    assert_int_equal(sig_emit_keyed(&p, k, &r), SIG_OK);
    assert_string_equal(r.signature.ptr, V1_SIG);
  }
  assert_int_equal(hmac_key_new("SHA256", V1_KEY, strlen(V1_KEY), &k256), VG_OK);
  assert_int_equal(sig_emit_keyed(&p, k256, &r), SIG_ERR_NO_KEY);
  hmac_key_free(k256);
  assert_int_equal(sig_emit_keyed(&p, NULL, &r), SIG_ERR_NO_KEY);
  assert_int_equal(hmac_key_new("SHA1", V1_KEY, 0, &k256), VG_INVALID);
  assert_int_equal(hmac_key_new("NO-SUCH-DIGEST", V1_KEY, 3, &k256), VG_INVALID);
  assert_null(k256);
  hmac_key_free(k);
  sig_result_release(&r);
}

static void vector_v1_emit_and_verify(void **state)
{
  struct sig_params p;
  struct sig_result r;

  v1_params(&p);
  sig_result_init(&r);
  assert_int_equal(sig_emit(&p, V1_KEY, strlen(V1_KEY), &r), SIG_OK);
  assert_string_equal(r.signature.ptr, V1_SIG);
  assert_string_equal(r.original.ptr, "secretId=" V1_ID "&currentTimeStamp=1551113065"
                                      "&expireTime=1551199465&random=1234567890");
  assert_int_equal(r.random, 1234567890);
  assert_int_equal(r.expire_time, 1551199465);
  /* Reusing the result keeps working (and replaces the contents). */
  assert_int_equal(sig_emit(&p, V1_KEY, strlen(V1_KEY), &r), SIG_OK);
  assert_string_equal(r.signature.ptr, V1_SIG);
  sig_result_release(&r);

  assert_int_equal(parse_verify(V1_SIG, V1_KEY, V1_NOW), SIG_OK);
  hex_mac_is("3b633aae1a1ea8a6dbfca42cc5c804bbffc70407");
  assert_int_equal(S->n_lints, 0);
}

static void check_v2_parsed(void)
{
  assert_string_equal(S->params.secret_id.ptr, V1_ID);
  assert_string_equal(S->params.procedure.ptr, "LongVideoPreset");
  assert_int_equal(S->params.source_context.len, 13);
  assert_string_equal(S->params.source_context.ptr, "{\"uid\":\"u 1\"}");
  assert_int_equal(S->params.task_priority, 0);
  assert_int_equal(S->params.task_notify_mode, SIG_NOTIFY_FINISH);
  assert_int_equal(S->params.one_time_valid, 1);
  assert_int_equal(S->params.vod_sub_app_id, 1500000001);
  assert_int_equal(S->params.has, SIG_HAS_RANDOM | SIG_HAS_TASK_PRIORITY | SIG_HAS_ONE_TIME_VALID |
                                      SIG_HAS_SUB_APP_ID);
}

static void vector_v2_node_emit_and_verify(void **state)
{
  struct sig_params p;
  struct sig_result r;

  v2_params(&p);
  sig_result_init(&r);
  assert_int_equal(sig_emit(&p, V1_KEY, strlen(V1_KEY), &r), SIG_OK);
  assert_string_equal(r.signature.ptr, V2_NODE); /* our RFC 3986 == Node here */
  assert_non_null(strstr(r.original.ptr, "&sourceContext=%7B%22uid%22%3A%22u%201%22%7D"
                                         "&oneTimeValid=1&vodSubAppId=1500000001"));
  sig_result_release(&r);

  assert_int_equal(parse_verify(V2_NODE, V1_KEY, V1_NOW), SIG_OK);
  hex_mac_is("bb0c532816789e9b552119e264f09603ade8eee6");
  check_v2_parsed();
  assert_int_equal(S->n_lints, 0);
}

static void vector_v2_php_verifies(void **state)
{
  assert_int_equal(parse_verify(V2_PHP, V1_KEY, V1_NOW), SIG_OK);
  assert_memory_equal(S->raw, "\xfc\x7f\x30\xf1\x42\xc9", 6); /* begins "/H8w8ULJ" */
  check_v2_parsed();
  assert_true(S->query.flags & QUERY_F_PLUS);
}

/* Lenient forms of a valid signature all verify, and say what was lenient. */
static void lenient_base64_forms_verify(void **state)
{
  char s[600], *o;
  size_t n = strlen(V2_NODE);

  /* URL-safe alphabet, no padding. */
  memcpy(s, V1_SIG, strlen(V1_SIG) + 1);
  for (o = s; *o; o++)
    *o = *o == '+' ? '-' : *o == '/' ? '_' : *o;
  s[strlen(V1_SIG) - 2] = '\0';
  assert_int_equal(parse_verify(s, V1_KEY, V1_NOW), SIG_OK);
  assert_int_equal(S->b64_flags, B64_F_URLSAFE | B64_F_NOPAD);
  /* '+' turned into ' ' by one URL-decode too many. */
  memcpy(s, PY_SIG, strlen(PY_SIG) + 1);
  for (o = s; *o; o++)
    *o = *o == '+' ? ' ' : *o;
  /* (The MAC passes; this sample's 10-year validity is what fails.) */
  assert_int_equal(parse_verify(s, "IamSecretKey", PY_NOW), SIG_ERR_VALIDITY_TOO_LONG);
  assert_int_equal(S->b64_flags, B64_F_SPACE_PLUS);
  /* 76-column lines as sun.misc.BASE64Encoder writes them. */
  {
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
      if (i && i % 76 == 0) {
        s[k++] = '\r';
        s[k++] = '\n';
      }
      s[k++] = V2_NODE[i];
    }
    s[k++] = '\n';
    s[k] = '\0';
  }
  assert_int_equal(parse_verify(s, V1_KEY, V1_NOW), SIG_OK);
  assert_int_equal(S->b64_flags, B64_F_LINEBREAK);
  assert_string_equal(S->lints[0].code, "base64_linebreaks");
}

/* Build a signature over an arbitrary original with a real MAC. */
static char *forge(const char *original, const char *key)
{
  unsigned char tmp[4096];
  unsigned int ml;
  size_t n = strlen(original);
  char *out = xmalloc(b64_encoded_len(n + 20) + 1);
  HMAC(EVP_sha1(), key, (int)strlen(key), (const unsigned char *)original, n, tmp, &ml);
  memcpy(tmp + 20, original, n);
  b64_encode(tmp, n + 20, out);
  return out;
}

static enum sig_error verify_original(const char *original, int64_t now)
{
  char *s = forge(original, "k");
  enum sig_error e = parse_verify(s, "k", now);
  free(s);
  return e;
}

static bool has_lint(const char *code)
{
  for (size_t i = 0; i < S->n_lints; i++)
    if (strcmp(S->lints[i].code, code) == 0)
      return true;
  return false;
}

#define BASE "secretId=id&currentTimeStamp=1000&expireTime=2000&random=5"

static void verify_failures(void **state)
{
  char s[600];
  size_t n = strlen(V1_SIG);

  assert_int_equal(verify_original(BASE, 1500), SIG_OK);
  /* Tampered MAC: flip one bit of byte 0 ("O2M6" -> "O2M7" changes the
   * third byte's low bits). */
  memcpy(s, V1_SIG, n + 1);
  s[3] = '7';
  assert_int_equal(parse_verify(s, V1_KEY, V1_NOW), SIG_ERR_BAD_MAC);
  /* Tampered original: random=1234567890 -> 1234567891 ("MA==" -> "MQ=="). */
  memcpy(s, V1_SIG, n + 1);
  s[n - 3] = 'Q';
  assert_int_equal(sig_parse(S, s, n, V1_NOW), SIG_OK);
  assert_int_equal(S->params.random, 1234567891);
  assert_int_equal(sig_verify(S, V1_KEY, strlen(V1_KEY), V1_NOW), SIG_ERR_BAD_MAC);
  /* Truncated: a whole quantum less (still Base64, shorter original). */
  memcpy(s, V1_SIG, n + 1);
  s[n - 4] = '\0';
  assert_int_equal(parse_verify(s, V1_KEY, V1_NOW), SIG_ERR_BAD_MAC);
  s[n - 7] = '\0'; /* a lone final sextet: not even lenient Base64 */
  assert_int_equal(parse_verify(s, V1_KEY, V1_NOW), SIG_ERR_BAD_BASE64);
  /* Wrong key. */
  assert_int_equal(parse_verify(V1_SIG, "Gu5t9xGARNpq86cd98joQYCN3EXAMPLF", V1_NOW),
                   SIG_ERR_BAD_MAC);
  assert_int_equal(sig_verify(S, "", 0, V1_NOW), SIG_ERR_NO_KEY);
  /* Too short: 20 bytes or fewer. */
  assert_int_equal(parse_verify("AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "k", 0), SIG_ERR_TOO_SHORT);
  assert_int_equal(parse_verify("", "k", 0), SIG_ERR_TOO_SHORT);
  assert_int_equal(parse_verify("not base64!", "k", 0), SIG_ERR_BAD_BASE64);
  /* Expired, at exactly expireTime and after. */
  assert_int_equal(verify_original(BASE, 2000), SIG_ERR_EXPIRED);
  assert_true(has_lint("expired"));
  assert_int_equal(verify_original(BASE, 1999), SIG_OK);
  /* Over 90 days (and exactly 90 days is fine). */
  assert_int_equal(verify_original("secretId=id&currentTimeStamp=1000&expireTime=7777001"
                                   "&random=5",
                                   2000),
                   SIG_ERR_VALIDITY_TOO_LONG);
  assert_true(has_lint("validity_too_long"));
  assert_int_equal(verify_original("secretId=id&currentTimeStamp=1000&expireTime=7777000"
                                   "&random=5",
                                   2000),
                   SIG_OK);
  assert_int_equal(
      verify_original("secretId=id&currentTimeStamp=2000&expireTime=2000&random=5", 1000),
      SIG_ERR_EXPIRE_NOT_AFTER_START);
  /* Float timestamps (with the MAC right: what issue #13's clients send). */
  assert_int_equal(verify_original("secretId=id&currentTimeStamp=1000.0&expireTime=2000"
                                   "&random=5",
                                   1500),
                   SIG_ERR_FLOAT_TIMESTAMP);
  assert_true(has_lint("float_timestamp"));
  assert_int_equal(verify_original("secretId=id&currentTimeStamp=1000&expireTime=2000.5"
                                   "&random=5",
                                   1500),
                   SIG_ERR_FLOAT_TIMESTAMP);
  assert_int_equal(
      verify_original("secretId=id&currentTimeStamp=1e3&expireTime=2000&random=5", 1500),
      SIG_ERR_FLOAT_TIMESTAMP);
  assert_int_equal(verify_original("secretId=id&currentTimeStamp=-1000&expireTime=2000"
                                   "&random=5",
                                   1500),
                   SIG_ERR_BAD_TIMESTAMP);
  assert_int_equal(
      verify_original("secretId=id&currentTimeStamp=now&expireTime=2000&random=5", 1500),
      SIG_ERR_BAD_TIMESTAMP);
  /* Random: numeric and within 32 bits (the Node sample's 2^32 is out). */
  assert_int_equal(verify_original("secretId=id&currentTimeStamp=1000&expireTime=2000"
                                   "&random=4294967295",
                                   1500),
                   SIG_OK);
  assert_int_equal(verify_original("secretId=id&currentTimeStamp=1000&expireTime=2000"
                                   "&random=4294967296",
                                   1500),
                   SIG_ERR_BAD_RANDOM);
  assert_int_equal(verify_original("secretId=id&currentTimeStamp=1000&expireTime=2000"
                                   "&random=12ab",
                                   1500),
                   SIG_ERR_BAD_RANDOM);
  assert_int_equal(
      verify_original("secretId=id&currentTimeStamp=1000&expireTime=2000&random=", 1500),
      SIG_ERR_BAD_RANDOM);
  /* Missing required parameters. */
  assert_int_equal(verify_original("currentTimeStamp=1000&expireTime=2000&random=5", 1500),
                   SIG_ERR_MISSING_PARAM);
  assert_int_equal(
      verify_original("secretId=&currentTimeStamp=1000&expireTime=2000&random=5", 1500),
      SIG_ERR_MISSING_PARAM);
  assert_int_equal(verify_original("secretId=id&expireTime=2000&random=5", 1500),
                   SIG_ERR_MISSING_PARAM);
  assert_int_equal(verify_original("secretId=id&currentTimeStamp=1000&random=5", 1500),
                   SIG_ERR_MISSING_PARAM);
  assert_int_equal(verify_original("secretId=id&currentTimeStamp=1000&expireTime=2000", 1500),
                   SIG_ERR_MISSING_PARAM);
  /* A currentTimeStamp from the future, beyond the clock skew. */
  assert_int_equal(verify_original(BASE, 1000 - SIG_MAX_CLOCK_SKEW), SIG_OK);
  assert_int_equal(verify_original(BASE, 1000 - SIG_MAX_CLOCK_SKEW - 1), SIG_ERR_NOT_YET_VALID);
  /* Query errors under a valid MAC. */
  assert_int_equal(verify_original(BASE "&random=6", 1500), SIG_ERR_DUPLICATE_PARAM);
  assert_int_equal(verify_original(BASE "&x=%zz", 1500), SIG_ERR_BAD_QUERY);
  assert_int_equal(verify_original(BASE "&x=%FF", 1500), SIG_ERR_BAD_ENCODING);
  assert_int_equal(verify_original(BASE "&=1", 1500), SIG_ERR_BAD_QUERY);
  {
    char q[1024];
    size_t k = (size_t)snprintf(q, sizeof(q), "%s", BASE);
    for (int i = 0; i < 29; i++)
      k += (size_t)snprintf(q + k, sizeof(q) - k, "&k%d=1", i);
    assert_int_equal(verify_original(q, 1500), SIG_ERR_TOO_MANY_PARAMS);
    q[k - 6] = '\0'; /* exactly 32 */
    assert_int_equal(verify_original(q, 1500), SIG_OK);
  }
  /* Any key order, '+' and %20, lower-case hex: the MAC is all that counts. */
  assert_int_equal(verify_original("random=5&expireTime=2000&secretId=i%64&currentTimeStamp=1000"
                                   "&sourceContext=a+b%2c",
                                   1500),
                   SIG_OK);
  assert_string_equal(S->params.secret_id.ptr, "id");
  assert_string_equal(S->params.source_context.ptr, "a b,");
  assert_true(has_lint("lowercase_hex"));
}

static void too_long_inputs(void **state)
{
  char *big = xmalloc(SIG_MAX_ENCODED + 2);
  memset(big, 'A', SIG_MAX_ENCODED + 1);
  big[SIG_MAX_ENCODED + 1] = '\0';
  assert_int_equal(parse_verify(big, "k", 0), SIG_ERR_TOO_LONG);
  /* Within the character limit but decoding past SIG_MAX_ORIGINAL + 20. */
  big[11100] = '\0';
  assert_int_equal(parse_verify(big, "k", 0), SIG_ERR_TOO_LONG);
  free(big);
}

static void lints_are_collected(void **state)
{
  char *s = forge("secretId=id&currentTimeStamp=1000&expireTime=2000&random=5&foo=1"
                  "&taskPriority=11&taskNotifyMode=Sometimes&oneTimeValid=2&classId=-1"
                  "&storageRegion=AP_X&procedure=&a=b=c&&flag",
                  "k");
  assert_int_equal(sig_parse(S, s, strlen(s), 1500), SIG_OK);
  assert_true(has_lint("unknown_param"));
  assert_true(has_lint("bad_value"));
  assert_true(has_lint("empty_value"));
  assert_true(has_lint("unescaped_char"));
  assert_true(has_lint("missing_equals"));
  assert_true(has_lint("empty_segment"));
  assert_true(has_lint("unused_param"));
  /* Lints do not fail verification: VOD ignores what it does not use. */
  assert_int_equal(sig_verify(S, "k", 1, 1500), SIG_OK);
  assert_int_equal(S->params.has, SIG_HAS_RANDOM);
  assert_int_equal(S->params.task_notify_mode, SIG_NOTIFY_INVALID);
  free(s);
}

static void context_lints_count_characters(void **state)
{
  struct buf o;
  char *s;
  buf_init(&o, 8192);
  assert_int_equal(buf_appends(&o, BASE "&sourceContext="), 0);
  for (int i = 0; i < 250; i++) /* 250 CJK characters = 750 bytes: fine */
    assert_int_equal(buf_appends(&o, "%E4%B8%AD"), 0);
  s = forge(o.ptr, "k");
  assert_int_equal(sig_parse(S, s, strlen(s), 1500), SIG_OK);
  assert_int_equal(S->params.source_context.len, 750);
  assert_false(has_lint("source_context_too_long"));
  free(s);
  assert_int_equal(buf_appends(&o, "x&sessionContext="), 0);
  for (int i = 0; i < 1001; i++)
    assert_int_equal(buf_appendc(&o, 'y'), 0);
  s = forge(o.ptr, "k");
  assert_int_equal(sig_parse(S, s, strlen(s), 1500), SIG_OK);
  assert_true(has_lint("source_context_too_long"));
  assert_true(has_lint("session_context_too_long"));
  free(s);
  buf_release(&o);
}

/* ---- validation: one test per rule of spec 1.1 ---- */

static void base_params(struct sig_params *p)
{
  sig_params_init(p);
  p->secret_id = sig_str_of("AKIDx");
  p->current_time = 1000;
  p->expire_time = 2000;
}

static void validate_rules(void **state)
{
  struct sig_params p;
  char ctx[3100];

#define EXPECT(setup, err)                                                                         \
  do {                                                                                             \
    base_params(&p);                                                                               \
    setup;                                                                                         \
    assert_int_equal(sig_validate(&p), err);                                                       \
  } while (0)

  EXPECT((void)0, SIG_OK);
  EXPECT(p.secret_id = sig_str_of(NULL), SIG_ERR_MISSING_PARAM);
  EXPECT(p.secret_id = sig_str_of(""), SIG_ERR_MISSING_PARAM);
  EXPECT(p.secret_id = sig_str_of("\xff"), SIG_ERR_BAD_SECRET_ID);
  memset(ctx, 'a', 129);
  ctx[129] = '\0';
  EXPECT(p.secret_id = sig_str_of(ctx), SIG_ERR_BAD_SECRET_ID);
  EXPECT(p.current_time = -1, SIG_ERR_BAD_TIMESTAMP);
  EXPECT(p.expire_time = 1000, SIG_ERR_EXPIRE_NOT_AFTER_START);
  EXPECT(p.expire_time = 999, SIG_ERR_EXPIRE_NOT_AFTER_START);
  EXPECT(p.expire_time = 1000 + SIG_MAX_VALIDITY, SIG_OK);
  EXPECT(p.expire_time = 1000 + SIG_MAX_VALIDITY + 1, SIG_ERR_VALIDITY_TOO_LONG);
  EXPECT((p.random = UINT32_MAX, p.has |= SIG_HAS_RANDOM), SIG_OK);
  EXPECT((p.random = (uint64_t)UINT32_MAX + 1, p.has |= SIG_HAS_RANDOM), SIG_ERR_BAD_RANDOM);
  EXPECT((p.class_id = (uint64_t)INT64_MAX + 1, p.has |= SIG_HAS_CLASS_ID), SIG_ERR_BAD_CLASS_ID);
  memset(ctx, 'p', 129);
  ctx[129] = '\0';
  EXPECT(p.procedure = sig_str_of(ctx), SIG_ERR_BAD_PROCEDURE);
  EXPECT(p.procedure = sig_str_of("\xc3"), SIG_ERR_BAD_PROCEDURE);
  EXPECT((p.task_priority = 10, p.has |= SIG_HAS_TASK_PRIORITY), SIG_OK);
  EXPECT((p.task_priority = -10, p.has |= SIG_HAS_TASK_PRIORITY), SIG_OK);
  EXPECT((p.task_priority = 11, p.has |= SIG_HAS_TASK_PRIORITY), SIG_ERR_BAD_TASK_PRIORITY);
  EXPECT((p.task_priority = -11, p.has |= SIG_HAS_TASK_PRIORITY), SIG_ERR_BAD_TASK_PRIORITY);
  EXPECT(p.task_notify_mode = SIG_NOTIFY_NONE, SIG_OK);
  EXPECT(p.task_notify_mode = SIG_NOTIFY_INVALID, SIG_ERR_BAD_TASK_NOTIFY_MODE);
  /* sourceContext: 250 characters, counted as code points. */
  ctx[0] = '\0';
  for (int i = 0; i < 250; i++)
    memcpy(ctx + 3 * i, "\xe4\xb8\xad", 4);
  EXPECT(p.source_context = sig_str_of(ctx), SIG_OK); /* 750 bytes, 250 chars */
  memcpy(ctx + 750, "x", 2);
  EXPECT(p.source_context = sig_str_of(ctx), SIG_ERR_SOURCE_CONTEXT_TOO_LONG);
  EXPECT(p.source_context = sig_str_of("ok\xe4\xb8"), SIG_ERR_BAD_UTF8);
  memset(ctx, 's', 1000);
  ctx[1000] = '\0';
  EXPECT(p.session_context = sig_str_of(ctx), SIG_OK);
  memcpy(ctx + 1000, "\xc3\xa9", 3);
  EXPECT(p.session_context = sig_str_of(ctx), SIG_ERR_SESSION_CONTEXT_TOO_LONG);
  EXPECT(p.session_context = sig_str_of("\xed\xa0\x80"), SIG_ERR_BAD_UTF8);
  EXPECT((p.one_time_valid = 1, p.has |= SIG_HAS_ONE_TIME_VALID), SIG_OK);
  EXPECT((p.one_time_valid = 2, p.has |= SIG_HAS_ONE_TIME_VALID), SIG_ERR_BAD_ONE_TIME_VALID);
  EXPECT((p.vod_sub_app_id = UINT64_MAX, p.has |= SIG_HAS_SUB_APP_ID), SIG_ERR_BAD_SUB_APP_ID);
  EXPECT(p.storage_region = sig_str_of("ap-chongqing"), SIG_OK);
  EXPECT(p.storage_region = sig_str_of("ap chongqing"), SIG_ERR_BAD_STORAGE_REGION);
  EXPECT(p.storage_region = sig_str_of("AP-CHONGQING"), SIG_ERR_BAD_STORAGE_REGION);
  EXPECT((p.is_transcode = 2, p.has |= SIG_HAS_IS_TRANSCODE), SIG_ERR_BAD_LEGACY_FLAG);
  EXPECT((p.is_screenshot = -1, p.has |= SIG_HAS_IS_SCREENSHOT), SIG_ERR_BAD_LEGACY_FLAG);
  EXPECT((p.is_watermark = 1, p.has |= SIG_HAS_IS_WATERMARK), SIG_OK);
#undef EXPECT
}

static void error_strings_are_distinct(void **state)
{
  for (int i = 0; i < SIG_ERR__COUNT; i++) {
    assert_string_not_equal(sig_error_reason((enum sig_error)i), "unknown");
    assert_string_not_equal(sig_error_str((enum sig_error)i), "unknown error");
    for (int j = 0; j < i; j++)
      assert_string_not_equal(sig_error_reason((enum sig_error)i),
                              sig_error_reason((enum sig_error)j));
  }
  assert_string_equal(sig_error_reason(SIG_ERR_VALIDITY_TOO_LONG), "validity_too_long");
  assert_string_equal(sig_error_reason(SIG_ERR__COUNT), "unknown");
}

/* Every optional parameter, in the documented order, round-trips. */
static void emit_all_params_roundtrip(void **state)
{
  struct sig_params p;
  struct sig_result r;
  const char *ctx = "a b~*'()!@#$&=+/?:;,\"\xe4\xb8\xad\xe6\x96\x87";

  base_params(&p);
  p.has = SIG_HAS_CLASS_ID | SIG_HAS_TASK_PRIORITY | SIG_HAS_ONE_TIME_VALID | SIG_HAS_SUB_APP_ID |
          SIG_HAS_IS_TRANSCODE | SIG_HAS_IS_SCREENSHOT | SIG_HAS_IS_WATERMARK;
  p.class_id = 7;
  p.procedure = sig_str_of("QCVB_SimpleProcessFile(1, 1)");
  p.task_priority = -10;
  p.task_notify_mode = SIG_NOTIFY_CHANGE;
  p.source_context = sig_str_of(ctx);
  p.one_time_valid = 0;
  p.vod_sub_app_id = 0;
  p.session_context = sig_str_of("s");
  p.storage_region = sig_str_of("ap-chongqing");
  p.is_transcode = 1;
  p.is_screenshot = 0;
  p.is_watermark = 1;
  sig_result_init(&r);
  assert_int_equal(sig_emit(&p, "key", 3, &r), SIG_OK);
  assert_true(r.random <= UINT32_MAX);
  {
    char want[600];
    snprintf(want, sizeof(want),
             "secretId=AKIDx&currentTimeStamp=1000&expireTime=2000&random=%llu&classId=7"
             "&procedure=QCVB_SimpleProcessFile%%281%%2C%%201%%29&taskPriority=-10"
             "&taskNotifyMode=Change&sourceContext=a%%20b~%%2A%%27%%28%%29%%21%%40%%23%%24%%26%%3D"
             "%%2B%%2F%%3F%%3A%%3B%%2C%%22%%E4%%B8%%AD%%E6%%96%%87&oneTimeValid=0&vodSubAppId=0"
             "&sessionContext=s&storageRegion=ap-chongqing&isTranscode=1&isScreenshot=0"
             "&isWatermark=1",
             (unsigned long long)r.random);
    assert_string_equal(r.original.ptr, want);
  }
  assert_int_equal(sig_parse(S, r.signature.ptr, r.signature.len, 1500), SIG_OK);
  assert_int_equal(sig_verify(S, "key", 3, 1500), SIG_OK);
  assert_int_equal(S->n_lints, 0);
  assert_int_equal(S->params.has, p.has | SIG_HAS_RANDOM);
  assert_string_equal(S->params.source_context.ptr, ctx);
  assert_string_equal(S->params.procedure.ptr, "QCVB_SimpleProcessFile(1, 1)");
  assert_int_equal(S->params.task_priority, -10);
  assert_int_equal(S->params.task_notify_mode, SIG_NOTIFY_CHANGE);
  assert_int_equal(S->params.is_watermark, 1);
  /* Empty optional strings are not emitted. */
  base_params(&p);
  p.procedure = sig_str_of("");
  p.source_context = sig_str_of("");
  assert_int_equal(sig_emit(&p, "key", 3, &r), SIG_OK);
  assert_null(strstr(r.original.ptr, "procedure"));
  assert_null(strstr(r.original.ptr, "sourceContext"));
  assert_int_equal(sig_emit(&p, "", 0, &r), SIG_ERR_NO_KEY);
  sig_result_release(&r);
}

/* random comes from the CSPRNG when not given: 64 draws are not all equal. */
static void emit_draws_random(void **state)
{
  struct sig_params p;
  struct sig_result r;
  uint64_t first = 0;
  bool differ = false;
  base_params(&p);
  sig_result_init(&r);
  for (int i = 0; i < 64; i++) {
    assert_int_equal(sig_emit(&p, "key", 3, &r), SIG_OK);
    if (i == 0)
      first = r.random;
    else if (r.random != first)
      differ = true;
  }
  assert_true(differ);
  sig_result_release(&r);
}

/* A forked child never draws what its parent draws next (oneTimeValid
 * uniqueness across a fork): the per-thread pool is emptied in the child.
 * Four draws each so that a false failure needs 2^-128 luck. */
static void emit_random_after_fork(void **state)
{
  struct sig_params p;
  struct sig_result r;
  uint64_t mine[4], child[4];
  int fds[2], status;
  pid_t pid;

  base_params(&p);
  sig_result_init(&r);
  assert_int_equal(sig_emit(&p, "key", 3, &r), SIG_OK); /* fills the pool */
  assert_int_equal(pipe(fds), 0);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    for (int i = 0; i < 4; i++) {
      if (sig_emit(&p, "key", 3, &r) != SIG_OK)
        _exit(2);
      child[i] = r.random;
    }
    _exit(write(fds[1], child, sizeof(child)) == (ssize_t)sizeof(child) ? 0 : 3);
  }
  close(fds[1]);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(sig_emit(&p, "key", 3, &r), SIG_OK);
    mine[i] = r.random;
  }
  assert_int_equal(read(fds[0], child, sizeof(child)), (ssize_t)sizeof(child));
  close(fds[0]);
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_memory_not_equal(mine, child, sizeof(mine));
  sig_result_release(&r);
}

/* The emitted original is bounded: huge inputs fail cleanly. */
static void emit_too_big(void **state)
{
  struct sig_params p;
  struct sig_result r;
  char *ctx = xmalloc(1001 * 4);
  /* 1000 four-byte characters: valid, 1000 chars, 12000 bytes escaped. */
  for (int i = 0; i < 1000; i++)
    memcpy(ctx + 4 * i, "\xf0\x9f\x98\x80", 4);
  ctx[4000] = '\0';
  base_params(&p);
  p.session_context = sig_str_of(ctx);
  sig_result_init(&r);
  assert_int_equal(sig_emit(&p, "key", 3, &r), SIG_ERR_TOO_BIG);
  sig_result_release(&r);
  free(ctx);
}

static int setup(void **state)
{
  S = xmalloc(sizeof(*S));
  return 0;
}

static int teardown(void **state)
{
  free(S);
  return 0;
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(vector_official_python_go),
      cmocka_unit_test(vector_v1_emit_and_verify),
      cmocka_unit_test(vector_v1_emit_keyed),
      cmocka_unit_test(vector_v2_node_emit_and_verify),
      cmocka_unit_test(vector_v2_php_verifies),
      cmocka_unit_test(lenient_base64_forms_verify),
      cmocka_unit_test(verify_failures),
      cmocka_unit_test(too_long_inputs),
      cmocka_unit_test(lints_are_collected),
      cmocka_unit_test(context_lints_count_characters),
      cmocka_unit_test(validate_rules),
      cmocka_unit_test(error_strings_are_distinct),
      cmocka_unit_test(emit_all_params_roundtrip),
      cmocka_unit_test(emit_draws_random),
      cmocka_unit_test(emit_random_after_fork),
      cmocka_unit_test(emit_too_big),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
