/*
 * Unit tests for emu/cos_auth: the COS q-sign signature.
 *
 * The four captured browser requests of upload-protocol.md 2.1 (7, 9, 13,
 * 17) verify with the stub's temporary key "TMPSECRETKEY" (the secretKey of
 * the captured ApplyUploadUGC answer; q-ak AKIDTMPSECRETID matches). The
 * last vector was computed independently with Python's hmac/hashlib/
 * urllib.parse.quote(safe='-_.~') from the algorithm in cos_auth.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "emu/cos_auth.h"

#define KT  "1795882069;1795885669"
#define KEY "TMPSECRETKEY"
#define OBJ "/b1a2c3d4vodgzp1500000000/5285890784246869321/f0.mp4"
#define NOW 1795882100

static const char auth7[] =
    "q-sign-algorithm=sha1&q-ak=AKIDTMPSECRETID&q-sign-time=" KT "&q-key-time=" KT
    "&q-header-list=&q-url-param-list=prefix;uploads&q-signature="
    "2ac10a66170092d1de8433f0c1456a254f8ade7b";
static const char auth9[] =
    "q-sign-algorithm=sha1&q-ak=AKIDTMPSECRETID&q-sign-time=" KT "&q-key-time=" KT
    "&q-header-list=&q-url-param-list=uploads&q-signature="
    "a164c14fc590861b843997dad9aa2af7ba9f24fa";
static const char auth13[] =
    "q-sign-algorithm=sha1&q-ak=AKIDTMPSECRETID&q-sign-time=" KT "&q-key-time=" KT
    "&q-header-list=content-length&q-url-param-list=partnumber;uploadid&q-signature="
    "aa079598547ff7616e19cb38b7e66a64aa698995";
static const char auth17[] =
    "q-sign-algorithm=sha1&q-ak=AKIDTMPSECRETID&q-sign-time=" KT "&q-key-time=" KT
    "&q-header-list=content-md5&q-url-param-list=uploadid&q-signature="
    "5b322f00edd66b16aeb783df43ff5950795bb955";

static struct cos_request mkreq(const char *method, const char *path, const char *query,
                                const struct cos_header *h, size_t nh)
{
  struct cos_request r = {method, path, strlen(path), query, query ? strlen(query) : 0, h, nh};
  return r;
}

static void parses_captured_authorization(void **state)
{
  struct cos_auth a;
  assert_int_equal(cos_auth_parse(auth13, strlen(auth13), &a), COS_AUTH_OK);
  assert_string_equal(a.ak, "AKIDTMPSECRETID");
  assert_string_equal(a.sign_time, KT);
  assert_string_equal(a.key_time, KT);
  assert_int_equal(a.sign_start, 1795882069);
  assert_int_equal(a.sign_end, 1795885669);
  assert_string_equal(a.header_list, "content-length");
  assert_string_equal(a.param_list, "partnumber;uploadid");
  assert_int_equal(a.signature[0], 0xaa);
  assert_int_equal(a.signature[19], 0x95);
  assert_int_equal(cos_auth_parse(auth9, strlen(auth9), &a), COS_AUTH_OK);
  assert_string_equal(a.header_list, "");
}

static void http_string_order_of_captured_put(void **state)
{
  struct cos_auth a;
  struct cos_header h[] = {{"Content-Length", "1048576"}, {"Origin", "http://127.0.0.1:18080"}};
  struct cos_request r = mkreq("PUT", OBJ, "partNumber=1&uploadId=uid9x34bc4604e600", h, 2);
  struct buf b;
  assert_int_equal(cos_auth_parse(auth13, strlen(auth13), &a), COS_AUTH_OK);
  buf_init(&b, 4096);
  assert_int_equal(cos_auth_http_string(&a, &r, &b), COS_AUTH_OK);
  assert_string_equal(b.ptr, "put\n" OBJ "\npartnumber=1&uploadid=uid9x34bc4604e600\n"
                             "content-length=1048576\n");
  buf_release(&b);
}

static void http_string_list_uploads_prefix_encoded(void **state)
{
  struct cos_auth a;
  struct cos_request r =
      mkreq("GET", "/", "uploads&prefix=b1a2c3d4vodgzp1500000000%2F5285890784246869321%2Ff0.mp4",
            NULL, 0);
  struct buf b;
  assert_int_equal(cos_auth_parse(auth7, strlen(auth7), &a), COS_AUTH_OK);
  buf_init(&b, 4096);
  assert_int_equal(cos_auth_http_string(&a, &r, &b), COS_AUTH_OK);
  assert_string_equal(b.ptr, "get\n/\nprefix=b1a2c3d4vodgzp1500000000%2F5285890784246869321%2Ff0."
                             "mp4&uploads=\n\n");
  buf_release(&b);
}

static void verifies_the_four_captured_requests(void **state)
{
  struct cos_auth a;
  struct cos_header h13[] = {{"Host", "b1a2c3d4vodgzp1500000000-1250000000.cos.ap-guangzhou."
                                      "myqcloud.com"},
                             {"Content-Length", "1048576"},
                             {"x-cos-security-token", "TMPTOKEN"}};
  struct cos_header h17[] = {{"Content-Length", "394"},
                             {"Content-MD5", "JiDbR3NEp+Z9LMdkjQg9Bw=="},
                             {"Content-Type", "application/xml"}};
  struct cos_header h9[] = {{"Content-Length", "0"}, {"Cache-Control", ""}};
  struct cos_request r7 =
      mkreq("GET", "/", "uploads&prefix=b1a2c3d4vodgzp1500000000%2F5285890784246869321%2Ff0.mp4",
            NULL, 0);
  struct cos_request r9 = mkreq("POST", OBJ, "uploads", h9, 2);
  struct cos_request r13 = mkreq("PUT", OBJ, "partNumber=1&uploadId=uid9x34bc4604e600", h13, 3);
  struct cos_request r17 = mkreq("POST", OBJ, "uploadId=uid9x34bc4604e600", h17, 3);

  assert_int_equal(cos_auth_parse(auth7, strlen(auth7), &a), COS_AUTH_OK);
  assert_int_equal(cos_auth_verify(&a, &r7, KEY, strlen(KEY), NOW, 0), COS_AUTH_OK);
  assert_int_equal(cos_auth_parse(auth9, strlen(auth9), &a), COS_AUTH_OK);
  assert_int_equal(cos_auth_verify(&a, &r9, KEY, strlen(KEY), NOW, 0), COS_AUTH_OK);
  assert_int_equal(cos_auth_parse(auth13, strlen(auth13), &a), COS_AUTH_OK);
  assert_int_equal(cos_auth_verify(&a, &r13, KEY, strlen(KEY), NOW, 0), COS_AUTH_OK);
  assert_int_equal(cos_auth_parse(auth17, strlen(auth17), &a), COS_AUTH_OK);
  assert_int_equal(cos_auth_verify(&a, &r17, KEY, strlen(KEY), NOW, 0), COS_AUTH_OK);

  /* Each can fail: wrong key, tampered part number, other length. */
  assert_int_equal(cos_auth_verify(&a, &r17, "TMPSECRETKEX", 12, NOW, 0), COS_AUTH_MISMATCH);
  assert_int_equal(cos_auth_parse(auth13, strlen(auth13), &a), COS_AUTH_OK);
  r13.query = "partNumber=2&uploadId=uid9x34bc4604e600";
  assert_int_equal(cos_auth_verify(&a, &r13, KEY, strlen(KEY), NOW, 0), COS_AUTH_MISMATCH);
  r13.query = "partNumber=1&uploadId=uid9x34bc4604e600";
  h13[1].value = "1048575";
  assert_int_equal(cos_auth_verify(&a, &r13, KEY, strlen(KEY), NOW, 0), COS_AUTH_MISMATCH);
}

static void time_window(void **state)
{
  struct cos_auth a;
  struct cos_request r = mkreq("POST", OBJ, "uploads", NULL, 0);
  assert_int_equal(cos_auth_parse(auth9, strlen(auth9), &a), COS_AUTH_OK);
  assert_int_equal(cos_auth_verify(&a, &r, KEY, 12, 1795885669, 0), COS_AUTH_OK);
  assert_int_equal(cos_auth_verify(&a, &r, KEY, 12, 1795885670, 0), COS_AUTH_EXPIRED);
  assert_int_equal(cos_auth_verify(&a, &r, KEY, 12, 1795882068, 0), COS_AUTH_NOT_YET);
  assert_int_equal(cos_auth_verify(&a, &r, KEY, 12, 1795882068, 1), COS_AUTH_OK);
  assert_string_equal(cos_auth_error_message(COS_AUTH_EXPIRED), "Request has expired");
  assert_int_equal(cos_auth_http_status(COS_AUTH_MISMATCH), 403);
  assert_string_equal(cos_auth_error_code(COS_AUTH_MISMATCH), "SignatureDoesNotMatch");
}

static void unsigned_and_missing_names(void **state)
{
  struct cos_auth a;
  struct cos_request r = mkreq("POST", OBJ, "uploads&x=1", NULL, 0);
  assert_int_equal(cos_auth_parse(auth9, strlen(auth9), &a), COS_AUTH_OK);
  assert_int_equal(cos_auth_verify(&a, &r, KEY, 12, NOW, 0), COS_AUTH_UNSIGNED_PARAM);
  r = mkreq("POST", OBJ, "", NULL, 0);
  assert_int_equal(cos_auth_verify(&a, &r, KEY, 12, NOW, 0), COS_AUTH_MISSING);
  r = mkreq("POST", OBJ, "uploads&uploads", NULL, 0);
  assert_int_equal(cos_auth_verify(&a, &r, KEY, 12, NOW, 0), COS_AUTH_BAD_REQUEST);
  r = mkreq("POST", "/a%zz", "uploads", NULL, 0);
  assert_int_equal(cos_auth_verify(&a, &r, KEY, 12, NOW, 0), COS_AUTH_BAD_REQUEST);
  r = mkreq("POST", "/a%00", "uploads", NULL, 0);
  assert_int_equal(cos_auth_verify(&a, &r, KEY, 12, NOW, 0), COS_AUTH_BAD_REQUEST);
  assert_int_equal(cos_auth_parse(auth17, strlen(auth17), &a), COS_AUTH_OK);
  r = mkreq("POST", OBJ, "uploadId=uid9x34bc4604e600", NULL, 0);
  assert_int_equal(cos_auth_verify(&a, &r, KEY, 12, NOW, 0), COS_AUTH_MISSING);
}

/* Node SDK style: host, content-length and content-md5 signed; an encoded
 * key and value. Vector from Python (see the header comment). */
static void independent_vector_with_encoding(void **state)
{
  static const char auth[] =
      "q-sign-algorithm=sha1&q-ak=AKIDx&q-sign-time=1700000000;1700000900&q-key-time="
      "1700000000;1700000900&q-header-list=content-length;content-md5;host&q-url-param-list="
      "partnumber;uploadid&q-signature=290c3245c022e82f5bc5737def1f91737cb86286";
  struct cos_header h[] = {{"host", "bkt-1250000000.cos.ap-guangzhou.myqcloud.com"},
                           {"Content-Length", "5"},
                           {"content-md5", "XUFAKrxLKna5cZ2REBfFkg=="}};
  struct cos_request r = mkreq("PUT", "/dir/a%20b%2Bc.mp4", "partNumber=2&uploadId=x%2Fy", h, 3);
  struct cos_auth a;
  char hex[41];
  struct buf b;
  assert_int_equal(cos_auth_parse(auth, strlen(auth), &a), COS_AUTH_OK);
  assert_int_equal(cos_auth_verify(&a, &r, "SK/with+chars", 13, 1700000001, 0), COS_AUTH_OK);
  assert_int_equal(cos_auth_sign(&a, &r, "SK/with+chars", 13, hex), COS_AUTH_OK);
  assert_string_equal(hex, "290c3245c022e82f5bc5737def1f91737cb86286");
  buf_init(&b, 4096);
  assert_int_equal(cos_auth_http_string(&a, &r, &b), COS_AUTH_OK);
  assert_string_equal(b.ptr, "put\n/dir/a b+c.mp4\npartnumber=2&uploadid=x%2Fy\ncontent-length=5&"
                             "content-md5=XUFAKrxLKna5cZ2REBfFkg%3D%3D&host=bkt-1250000000.cos.ap-"
                             "guangzhou.myqcloud.com\n");
  buf_release(&b);
}

static void rejects_malformed_authorization(void **state)
{
  static const char *bad[] = {
      "",
      "q-sign-algorithm=sha256&q-ak=A&q-sign-time=1;2&q-key-time=1;2&q-header-list=&q-url-param-"
      "list=&q-signature=2ac10a66170092d1de8433f0c1456a254f8ade7b",
      /* missing q-signature */
      "q-sign-algorithm=sha1&q-ak=A&q-sign-time=1;2&q-key-time=1;2&q-header-list=&q-url-param-"
      "list=",
      /* start after end */
      "q-sign-algorithm=sha1&q-ak=A&q-sign-time=3;2&q-key-time=1;2&q-header-list=&q-url-param-"
      "list=&q-signature=2ac10a66170092d1de8433f0c1456a254f8ade7b",
      /* duplicate field */
      "q-sign-algorithm=sha1&q-ak=A&q-ak=B&q-sign-time=1;2&q-key-time=1;2&q-header-list=&q-url-"
      "param-list=&q-signature=2ac10a66170092d1de8433f0c1456a254f8ade7b",
      /* upper case in list, short signature, float time */
      "q-sign-algorithm=sha1&q-ak=A&q-sign-time=1;2&q-key-time=1;2&q-header-list=Host&q-url-param-"
      "list=&q-signature=2ac10a66170092d1de8433f0c1456a254f8ade7b",
      "q-sign-algorithm=sha1&q-ak=A&q-sign-time=1;2&q-key-time=1;2&q-header-list=&q-url-param-"
      "list=&q-signature=2ac10a66170092d1de8433f0c1456a254f8ade7",
      "q-sign-algorithm=sha1&q-ak=A&q-sign-time=1.5;2&q-key-time=1;2&q-header-list=&q-url-param-"
      "list=&q-signature=2ac10a66170092d1de8433f0c1456a254f8ade7b",
      "q-sign-algorithm=sha1&q-ak=A&q-sign-time=1;2&q-key-time=1;2&q-header-list=a;;b&q-url-param-"
      "list=&q-signature=2ac10a66170092d1de8433f0c1456a254f8ade7b",
  };
  struct cos_auth a;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(cos_auth_parse(bad[i], strlen(bad[i]), &a), COS_AUTH_MALFORMED);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parses_captured_authorization),
      cmocka_unit_test(http_string_order_of_captured_put),
      cmocka_unit_test(http_string_list_uploads_prefix_encoded),
      cmocka_unit_test(verifies_the_four_captured_requests),
      cmocka_unit_test(time_window),
      cmocka_unit_test(unsigned_and_missing_names),
      cmocka_unit_test(independent_vector_with_encoding),
      cmocka_unit_test(rejects_malformed_authorization),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
