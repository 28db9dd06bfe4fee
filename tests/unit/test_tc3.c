/* Unit tests for tc3: every TC3 vector of spec tencent-vod.md section 7,
 * the date derivation, and each verification failure with its API code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "core/util.h"
#include "tc3/tc3.h"

#define KEY "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
#define ID  "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
#define CT  "application/json; charset=utf-8"
#define CVM_P                                                                                      \
  "{\"Limit\": 1, \"Filters\": [{\"Values\": [\"\\u672a\\u547d\\u540d\"], \"Name\": "              \
  "\"instance-name\"}]}"

static void sha256hex(const char *s, size_t n, char *out)
{
  unsigned char md[32];
  unsigned int len;
  assert_int_equal(EVP_Digest(s, n, md, &len, EVP_sha256(), NULL), 1);
  hex_encode(md, 32, out);
}

static struct tc3_request post(const char *host, const char *service, const char *body)
{
  return (struct tc3_request){.method = "POST",
                              .host = host,
                              .content_type = CT,
                              .payload = body,
                              .payload_len = strlen(body),
                              .service = service,
                              .timestamp = 1551113065};
}

static void official_post(void **state)
{
  struct tc3_request r = post("cvm.tencentcloudapi.com", "cvm", CVM_P);
  struct buf b;
  char hash[65], sig[65];

  buf_init(&b, 65536);
  assert_int_equal(tc3_canonical_request(&r, &b), VG_OK);
  assert_string_equal(b.ptr, "POST\n/\n\ncontent-type:application/json; charset=utf-8\n"
                             "host:cvm.tencentcloudapi.com\n\ncontent-type;host\n"
                             "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064");
  sha256hex(b.ptr, b.len, hash);
  assert_string_equal(hash, "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031");
  buf_reset(&b);
  assert_int_equal(tc3_string_to_sign(&r, &b), VG_OK);
  assert_string_equal(b.ptr, "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
                             "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031");
  assert_int_equal(tc3_sign(&r, KEY, sig), VG_OK);
  assert_string_equal(sig, "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168");
  buf_reset(&b);
  assert_int_equal(tc3_authorization(&r, ID, KEY, &b), VG_OK);
  assert_string_equal(b.ptr,
                      "TC3-HMAC-SHA256 Credential=" ID "/2019-02-25/cvm/tc3_request, "
                      "SignedHeaders=content-type;host, "
                      "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168");
  buf_release(&b);
}

static void official_get(void **state)
{
  struct tc3_request r = {.method = "GET",
                          .host = "cvm.tencentcloudapi.com",
                          .query = "Limit=10&Offset=0",
                          .content_type = "application/x-www-form-urlencoded",
                          .service = "cvm",
                          .timestamp = 1539084154};
  struct buf b;
  char hash[65], sig[65];

  buf_init(&b, 65536);
  assert_int_equal(tc3_canonical_request(&r, &b), VG_OK);
  assert_string_equal(b.ptr, "GET\n/\nLimit=10&Offset=0\n"
                             "content-type:application/x-www-form-urlencoded\n"
                             "host:cvm.tencentcloudapi.com\n\ncontent-type;host\n"
                             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  sha256hex(b.ptr, b.len, hash);
  assert_string_equal(hash, "91c9c192c14460df6c1ffc69e34e6c5e90708de2a6d282cccf957dbf1aa7f3a7");
  assert_int_equal(tc3_sign(&r, KEY, sig), VG_OK);
  assert_string_equal(sig, "5da7a33f6993f0614b047e5df4582db9e9bf4672ba50567dba16c6ccf174c474");
  buf_reset(&b);
  assert_int_equal(tc3_string_to_sign(&r, &b), VG_OK);
  assert_memory_equal(b.ptr, "TC3-HMAC-SHA256\n1539084154\n2018-10-09/cvm/tc3_request\n", 52);
  buf_release(&b);
}

static void vod_vectors(void **state)
{
  static const struct {
    const char *host, *body, *payload_hash, *canon_hash, *sig;
  } v[] = {
      {"vod.tencentcloudapi.com", "{}",
       "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
       "7aac441261bf5d7cc57a034d23fa2915c11afd2ea4c7caf841555b613712e810",
       "1380c31fb07a8e99580795600a0e306091c40e01facf95b9641bf1852cd7b285"},
      {"vod.tencentcloudapi.com", "{\"EventHandles\":[\"EventHandle1\"]}",
       "1950996ee05cec5b65efd635181c13e1db2256cf0d24d12d44a8ea2fa89c6ec8",
       "2448dbb27ba599c9a9ba47beaedf15b36aa5bf9de0d46d03232b4ebeb7ddb93b",
       "88581d64a8696ee0f5ceca4e65d2adbf03b10b571d395807817ff068994698be"},
      {"127.0.0.1:8080", "{}", "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
       "89a68e1e3884dd55f75be4a5480b6ddd996b1c9f60fc7ed0e94049eddf38a9ef",
       "dde1497860200ff7a01024b0da9236b9d8cffcf115531167ccde765787f0c143"},
  };

  for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
    struct tc3_request r = post(v[i].host, "vod", v[i].body);
    struct buf b;
    char hash[65], sig[65];

    buf_init(&b, 65536);
    assert_int_equal(tc3_canonical_request(&r, &b), VG_OK);
    assert_string_equal(b.ptr + b.len - 64, v[i].payload_hash);
    sha256hex(b.ptr, b.len, hash);
    assert_string_equal(hash, v[i].canon_hash);
    assert_int_equal(tc3_sign(&r, KEY, sig), VG_OK);
    assert_string_equal(sig, v[i].sig);
    buf_release(&b);
  }
}

/* Header values are lower-cased and trimmed before signing. */
static void header_normalisation(void **state)
{
  struct tc3_request r = post(" CVM.tencentcloudapi.com", "cvm", CVM_P);
  char sig[65];

  r.content_type = "  Application/JSON; charset=UTF-8 \t";
  assert_int_equal(tc3_sign(&r, KEY, sig), VG_OK);
  assert_string_equal(sig, "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168");
}

static void dates(void **state)
{
  char d[TC3_DATE_LEN + 1];
  static const struct {
    int64_t ts;
    const char *date;
  } v[] = {
      {0, "1970-01-01"},          {86399, "1970-01-01"},      {86400, "1970-01-02"},
      {951782400, "2000-02-29"},  {951868799, "2000-02-29"},  {951868800, "2000-03-01"},
      {1551052799, "2019-02-24"}, {1551052800, "2019-02-25"}, {1551113065, "2019-02-25"},
      {1539084154, "2018-10-09"}, {4107542400, "2100-03-01"}, {253402300799, "9999-12-31"},
  };
  for (size_t i = 0; i < ARRAY_SIZE(v); i++) {
    assert_int_equal(tc3_date(v[i].ts, d), 0);
    assert_string_equal(d, v[i].date);
  }
  assert_int_equal(tc3_date(-1, d), -1);
  assert_int_equal(tc3_date(253402300800LL, d), -1);
}

static void signer_rejects(void **state)
{
  struct tc3_request r = post("vod.tencentcloudapi.com", "vod", "{}");
  struct buf b;
  char sig[65];

  buf_init(&b, 65536);
  r.method = "PUT";
  assert_int_equal(tc3_sign(&r, KEY, sig), VG_INVALID);
  r.method = "post";
  assert_int_equal(tc3_sign(&r, KEY, sig), VG_INVALID);
  r = post("", "vod", "{}");
  assert_int_equal(tc3_sign(&r, KEY, sig), VG_INVALID);
  r = post("vod.tencentcloudapi.com", "vod/x", "{}");
  assert_int_equal(tc3_sign(&r, KEY, sig), VG_INVALID);
  r = post("vod.tencentcloudapi.com", "", "{}");
  assert_int_equal(tc3_canonical_request(&r, &b), VG_INVALID);
  r = post("vod.tencentcloudapi.com", "vod", "{}");
  r.timestamp = -5;
  assert_int_equal(tc3_string_to_sign(&r, &b), VG_INVALID);
  r.timestamp = 1551113065;
  assert_int_equal(tc3_sign(&r, "", sig), VG_INVALID);
  assert_int_equal(tc3_authorization(&r, "AKID/x", KEY, &b), VG_INVALID);
  assert_int_equal(tc3_authorization(&r, "", KEY, &b), VG_INVALID);
  assert_int_equal(tc3_authorization(&r, "AK ID", KEY, &b), VG_INVALID);
  assert_int_equal(b.len, 0);
  /* a bounded output buffer */
  buf_release(&b);
  buf_init(&b, 100);
  assert_int_equal(tc3_authorization(&r, ID, KEY, &b), VG_TOOBIG);
  buf_release(&b);
}

/* ---- verification ---- */

static const char *lookup(void *ud, const char *id)
{
  (void)ud;
  return strcmp(id, ID) == 0 ? KEY : NULL;
}

#define AUTH_CVM                                                                                   \
  "TC3-HMAC-SHA256 Credential=" ID "/2019-02-25/cvm/tc3_request, "                                 \
  "SignedHeaders=content-type;host, "                                                              \
  "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"

static struct tc3_verify vreq(const char *auth)
{
  return (struct tc3_verify){.authorization = auth,
                             .timestamp = "1551113065",
                             .method = "POST",
                             .host = "cvm.tencentcloudapi.com",
                             .content_type = CT,
                             .payload = CVM_P,
                             .payload_len = strlen(CVM_P),
                             .now = 1551113065,
                             .lookup = lookup};
}

static void verify_official(void **state)
{
  struct tc3_verify v = vreq(AUTH_CVM);
  struct tc3_auth a;

  assert_int_equal(tc3_verify(&v, &a), TC3_OK);
  assert_string_equal(a.secret_id, ID);
  assert_string_equal(a.date, "2019-02-25");
  assert_string_equal(a.service, "cvm");
  assert_string_equal(a.signed_headers, "content-type;host");
  /* without spaces after the commas, and with an auth struct omitted */
  v.authorization = "TC3-HMAC-SHA256 Credential=" ID "/2019-02-25/cvm/tc3_request,"
                    "SignedHeaders=content-type;host,"
                    "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168";
  assert_int_equal(tc3_verify(&v, NULL), TC3_OK);
  /* parameters in another order */
  v.authorization = "TC3-HMAC-SHA256 "
                    "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168, "
                    "SignedHeaders=content-type;host, Credential=" ID "/2019-02-25/cvm/tc3_request";
  assert_int_equal(tc3_verify(&v, NULL), TC3_OK);
  /* the skew window is inclusive at 300 s either way */
  v.authorization = AUTH_CVM;
  v.now = 1551113065 + 300;
  assert_int_equal(tc3_verify(&v, NULL), TC3_OK);
  v.now = 1551113065 - 300;
  assert_int_equal(tc3_verify(&v, NULL), TC3_OK);

  /* official GET */
  v = vreq("TC3-HMAC-SHA256 Credential=" ID "/2018-10-09/cvm/tc3_request, "
           "SignedHeaders=content-type;host, "
           "Signature=5da7a33f6993f0614b047e5df4582db9e9bf4672ba50567dba16c6ccf174c474");
  v.method = "GET";
  v.query = "Limit=10&Offset=0";
  v.content_type = "application/x-www-form-urlencoded";
  v.payload = NULL;
  v.payload_len = 0;
  v.timestamp = "1539084154";
  v.now = 1539084154;
  assert_int_equal(tc3_verify(&v, NULL), TC3_OK);
}

/* Each SDK's way of signing a request to an emulator at 127.0.0.1:8080. */
static void verify_emulator_hosts(void **state)
{
  struct tc3_verify v = vreq(NULL);
  struct tc3_auth a;

  v.host = "127.0.0.1:8080";
  v.payload = "{}";
  v.payload_len = 2;
  /* Python/Go SDK: service vod, host with the port */
  v.authorization = "TC3-HMAC-SHA256 Credential=" ID "/2019-02-25/vod/tc3_request, "
                    "SignedHeaders=content-type;host, "
                    "Signature=dde1497860200ff7a01024b0da9236b9d8cffcf115531167ccde765787f0c143";
  assert_int_equal(tc3_verify(&v, &a), TC3_OK);
  /* Node SDK: service "127" from the endpoint, host without the port
   * (signature computed independently with Python hmac) */
  v.authorization = "TC3-HMAC-SHA256 Credential=" ID "/2019-02-25/127/tc3_request, "
                    "SignedHeaders=content-type;host, "
                    "Signature=b8e5ff1ecb3bbc22361c41710bce36f7cb1dccc641acf9449d0619c9f57e4f87";
  assert_int_equal(tc3_verify(&v, &a), TC3_OK);
  assert_string_equal(a.service, "127");
  /* the same without a port to strip fails: the host is part of the MAC */
  v.host = "127.0.0.2:8080";
  assert_int_equal(tc3_verify(&v, &a), TC3_SIGNATURE_FAILURE);
  v.host = "localhost:8080";
  assert_int_equal(tc3_verify(&v, &a), TC3_SIGNATURE_FAILURE);
}

static void verify_signed_action(void **state)
{
  struct tc3_verify v =
      vreq("TC3-HMAC-SHA256 Credential=" ID "/2019-02-25/vod/tc3_request, "
           "SignedHeaders=content-type;host;x-tc-action, "
           "Signature=ac0b01f6d6ffa6bcb0b819035d2414234a0eb0b18041ca6c802f565f537945c8");

  v.host = "vod.tencentcloudapi.com";
  v.payload = "{}";
  v.payload_len = 2;
  v.action = "PullEvents";
  assert_int_equal(tc3_verify(&v, NULL), TC3_OK);
  v.action = "ConfirmEvents";
  assert_int_equal(tc3_verify(&v, NULL), TC3_SIGNATURE_FAILURE);
  v.action = NULL;
  assert_int_equal(tc3_verify(&v, NULL), TC3_SIGNATURE_FAILURE);
}

static void verify_bad_headers(void **state)
{
  static const char *bad[] = {
      "",
      "TC3-HMAC-SHA256",
      "TC3-HMAC-SHA256 ",
      "HMAC-SHA256 Credential=" ID "/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, "
      "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
      "tc3-hmac-sha256 Credential=" ID
      "/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, "
      "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
      /* missing Signature */
      "TC3-HMAC-SHA256 Credential=" ID
      "/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host",
      /* duplicate Signature */
      "TC3-HMAC-SHA256 Credential=" ID
      "/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, "
      "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168, "
      "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
      /* unknown parameter */
      "TC3-HMAC-SHA256 Credential=" ID
      "/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, "
      "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168, Extra=1",
      /* trailing comma */
      "TC3-HMAC-SHA256 Credential=" ID
      "/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, "
      "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168,",
      /* upper-case hex, short signature */
      "TC3-HMAC-SHA256 Credential=" ID
      "/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, "
      "Signature=72E494EA809AD7A8C8F7A4507B9BDDCBAA8E581F516E8DA2F66E2C5A96525168",
      "TC3-HMAC-SHA256 Credential=" ID
      "/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, "
      "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a9652516",
      /* unsupported or unsorted signed headers */
      "TC3-HMAC-SHA256 Credential=" ID
      "/2019-02-25/cvm/tc3_request, SignedHeaders=host;content-type, "
      "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
      "TC3-HMAC-SHA256 Credential=" ID "/2019-02-25/cvm/tc3_request, SignedHeaders=host, "
      "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
      /* scope: wrong terminator, bad date, missing part, empty id, extra part */
      "TC3-HMAC-SHA256 Credential=" ID
      "/2019-02-25/cvm/tc4_request, SignedHeaders=content-type;host, "
      "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
      "TC3-HMAC-SHA256 Credential=" ID
      "/2019-2-25/cvm/tc3_request, SignedHeaders=content-type;host, "
      "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
      "TC3-HMAC-SHA256 Credential=" ID "/2019-02-25/tc3_request, SignedHeaders=content-type;host, "
      "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
      "TC3-HMAC-SHA256 Credential=/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, "
      "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
      "TC3-HMAC-SHA256 Credential=" ID
      "/x/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, "
      "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
      "TC3-HMAC-SHA256 Credential=" ID "/2019-02-25//tc3_request, SignedHeaders=content-type;host, "
      "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
      "TC3-HMAC-SHA256 Credential = " ID
      "/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, "
      "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168",
  };
  struct tc3_auth a;

  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    struct tc3_verify v = vreq(bad[i]);
    assert_int_equal(tc3_verify(&v, &a), TC3_INVALID_AUTHORIZATION);
    assert_string_equal(a.secret_id, "");
  }
  {
    struct tc3_verify v = vreq(NULL);
    char big[TC3_MAX_AUTHORIZATION + 64];
    assert_int_equal(tc3_verify(&v, &a), TC3_INVALID_AUTHORIZATION);
    snprintf(big, sizeof(big), "%s, %*s", AUTH_CVM, TC3_MAX_AUTHORIZATION - 200, "");
    v.authorization = big;
    assert_int_equal(tc3_verify(&v, &a), TC3_INVALID_AUTHORIZATION);
  }
  assert_int_equal(tc3_parse_authorization("TC3-HMAC-SHA256 Cre\0dential=", 28, &a),
                   TC3_INVALID_AUTHORIZATION);
}

static void verify_failures(void **state)
{
  struct tc3_verify v = vreq(AUTH_CVM);
  struct tc3_auth a;

  v.timestamp = NULL;
  assert_int_equal(tc3_verify(&v, &a), TC3_MISSING_TIMESTAMP);
  v.timestamp = "";
  assert_int_equal(tc3_verify(&v, &a), TC3_MISSING_TIMESTAMP);
  v.timestamp = "+1551113065";
  assert_int_equal(tc3_verify(&v, &a), TC3_BAD_TIMESTAMP);
  v.timestamp = "1551113065.0";
  assert_int_equal(tc3_verify(&v, &a), TC3_BAD_TIMESTAMP);
  v.timestamp = "-1";
  assert_int_equal(tc3_verify(&v, &a), TC3_BAD_TIMESTAMP);
  v.timestamp = "99999999999999999999";
  assert_int_equal(tc3_verify(&v, &a), TC3_BAD_TIMESTAMP);
  v.timestamp = "1551113065";
  v.now = 1551113065 + 301;
  assert_int_equal(tc3_verify(&v, &a), TC3_SIGNATURE_EXPIRE);
  v.now = 1551113065 - 301;
  assert_int_equal(tc3_verify(&v, &a), TC3_SIGNATURE_EXPIRE);
  /* the parsed header is still reported for logging */
  assert_string_equal(a.secret_id, ID);

  /* timestamp of the day before: within skew of now, but not the scope date */
  v = vreq(AUTH_CVM);
  v.timestamp = "1551052799";
  v.now = 1551052799;
  assert_int_equal(tc3_verify(&v, &a), TC3_DATE_MISMATCH);

  v = vreq("TC3-HMAC-SHA256 Credential=AKIDunknown/2019-02-25/cvm/tc3_request, "
           "SignedHeaders=content-type;host, "
           "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168");
  assert_int_equal(tc3_verify(&v, &a), TC3_SECRET_ID_NOT_FOUND);
  assert_string_equal(a.secret_id, "AKIDunknown");
  v = vreq(AUTH_CVM);
  v.lookup = NULL;
  assert_int_equal(tc3_verify(&v, &a), TC3_SECRET_ID_NOT_FOUND);

  /* anything signed changed: payload, host, content type, method, service */
  v = vreq(AUTH_CVM);
  v.payload_len--;
  assert_int_equal(tc3_verify(&v, &a), TC3_SIGNATURE_FAILURE);
  v = vreq(AUTH_CVM);
  v.host = "cvm.tencentcloudapi.com:443";
  assert_int_equal(tc3_verify(&v, &a), TC3_OK); /* port stripped: the Node SDK form */
  v.host = "vod.tencentcloudapi.com";
  assert_int_equal(tc3_verify(&v, &a), TC3_SIGNATURE_FAILURE);
  v = vreq(AUTH_CVM);
  v.content_type = "application/json";
  assert_int_equal(tc3_verify(&v, &a), TC3_SIGNATURE_FAILURE);
  v = vreq(AUTH_CVM);
  v.method = "GET";
  assert_int_equal(tc3_verify(&v, &a), TC3_SIGNATURE_FAILURE);
  v.method = "DELETE";
  assert_int_equal(tc3_verify(&v, &a), TC3_SIGNATURE_FAILURE);
  v = vreq("TC3-HMAC-SHA256 Credential=" ID "/2019-02-25/vod/tc3_request, "
           "SignedHeaders=content-type;host, "
           "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168");
  assert_int_equal(tc3_verify(&v, &a), TC3_SIGNATURE_FAILURE);
  v = vreq("TC3-HMAC-SHA256 Credential=" ID "/2019-02-25/cvm/tc3_request, "
           "SignedHeaders=content-type;host, "
           "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525169");
  assert_int_equal(tc3_verify(&v, &a), TC3_SIGNATURE_FAILURE);
}

static void status_codes(void **state)
{
  assert_string_equal(tc3_status_code(TC3_OK), "OK");
  assert_string_equal(tc3_status_code(TC3_INVALID_AUTHORIZATION),
                      "AuthFailure.InvalidAuthorization");
  assert_string_equal(tc3_status_code(TC3_MISSING_TIMESTAMP), "MissingParameter");
  assert_string_equal(tc3_status_code(TC3_BAD_TIMESTAMP), "InvalidParameterValue");
  assert_string_equal(tc3_status_code(TC3_SIGNATURE_EXPIRE), "AuthFailure.SignatureExpire");
  assert_string_equal(tc3_status_code(TC3_DATE_MISMATCH), "AuthFailure.SignatureFailure");
  assert_string_equal(tc3_status_code(TC3_SECRET_ID_NOT_FOUND), "AuthFailure.SecretIdNotFound");
  assert_string_equal(tc3_status_code(TC3_SIGNATURE_FAILURE), "AuthFailure.SignatureFailure");
  assert_string_equal(tc3_status_message(TC3_DATE_MISMATCH),
                      "The credential scope date is not the UTC date of X-TC-Timestamp.");
}

/* The signer and the verifier agree for random payloads and times. */
static void sign_verify_roundtrip(void **state)
{
  for (int i = 0; i < 200; i++) {
    unsigned char rnd[40];
    char body[64], ts[24];
    struct tc3_request r;
    struct tc3_verify v;
    struct buf auth;
    int64_t t;

    random_bytes(rnd, sizeof(rnd));
    hex_encode(rnd, 20, body);
    t = (int64_t)(((uint64_t)rnd[20] << 24 | (uint64_t)rnd[21] << 16 | rnd[22] << 8 | rnd[23]) %
                  4000000000u);
    snprintf(ts, sizeof(ts), "%lld", (long long)t);
    r = post("vod.tencentcloudapi.com", "vod", body);
    r.timestamp = t;
    buf_init(&auth, 1024);
    assert_int_equal(tc3_authorization(&r, ID, KEY, &auth), VG_OK);
    v = (struct tc3_verify){.authorization = auth.ptr,
                            .timestamp = ts,
                            .method = "POST",
                            .host = "vod.tencentcloudapi.com",
                            .content_type = CT,
                            .payload = body,
                            .payload_len = strlen(body),
                            .now = t + (rnd[24] % 200),
                            .lookup = lookup};
    assert_int_equal(tc3_verify(&v, NULL), TC3_OK);
    body[rnd[25] % 40] ^= 1;
    assert_int_equal(tc3_verify(&v, NULL), TC3_SIGNATURE_FAILURE);
    buf_release(&auth);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(official_post),
      cmocka_unit_test(official_get),
      cmocka_unit_test(vod_vectors),
      cmocka_unit_test(header_normalisation),
      cmocka_unit_test(dates),
      cmocka_unit_test(signer_rejects),
      cmocka_unit_test(verify_official),
      cmocka_unit_test(verify_emulator_hosts),
      cmocka_unit_test(verify_signed_action),
      cmocka_unit_test(verify_bad_headers),
      cmocka_unit_test(verify_failures),
      cmocka_unit_test(status_codes),
      cmocka_unit_test(sign_verify_roundtrip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
