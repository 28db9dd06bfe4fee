/* Unit tests for emu/cos_xml: exact bytes of the writers, the strict reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "emu/cos_xml.h"

#define DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

/* upload-protocol.md 2.1 request 17, byte for byte. */
static const char body17[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><CompleteMultipartUpload><Part>"
    "<PartNumber>1</PartNumber><ETag>&quot;7f7c12275593cb68a99d7a3be057eefb&quot;</ETag></Part>"
    "<Part><PartNumber>2</PartNumber><ETag>&quot;7f7c12275593cb68a99d7a3be057eefb&quot;</ETag>"
    "</Part><Part><PartNumber>3</PartNumber><ETag>&quot;09cc21fef48e9ad67608d530df98cbf5&quot;"
    "</ETag></Part></CompleteMultipartUpload>";

static void writes_initiate_and_error(void **state)
{
  struct buf b;
  buf_init(&b, 4096);
  assert_int_equal(cos_xml_initiate(&b, "bkt-1250000000", "a/b&c.mp4", "uid1"), VG_OK);
  assert_string_equal(b.ptr, DECL "<InitiateMultipartUploadResult><Bucket>bkt-1250000000</Bucket>"
                                  "<Key>a/b&amp;c.mp4</Key><UploadId>uid1</UploadId>"
                                  "</InitiateMultipartUploadResult>");
  buf_reset(&b);
  assert_int_equal(cos_xml_error(&b, "SignatureDoesNotMatch", "a<b>\"c'", "rid-1"), VG_OK);
  assert_string_equal(b.ptr, DECL "<Error><Code>SignatureDoesNotMatch</Code><Message>a&lt;b&gt;"
                                  "&quot;c&apos;</Message><RequestId>rid-1</RequestId></Error>");
  buf_reset(&b);
  assert_int_equal(cos_xml_error(&b, "X", "bad\x01", "r"), VG_INVALID);
  buf_reset(&b);
  assert_int_equal(cos_xml_error(&b, "X", "bad\xff", "r"), VG_INVALID);
  buf_release(&b);
  buf_init(&b, 40);
  assert_int_equal(cos_xml_error(&b, "X", "Y", "Z"), VG_TOOBIG);
  buf_release(&b);
}

static void writes_lists_and_complete(void **state)
{
  struct buf b;
  struct cos_xml_part parts[] = {
      {1, "7f7c12275593cb68a99d7a3be057eefb", 1048576, "2026-11-28T17:00:00.000Z"},
      {2, "09cc21fef48e9ad67608d530df98cbf5", 524288, "2026-11-28T17:00:01.000Z"}};
  struct cos_xml_upload up[] = {{"b/k.mp4", "uid1", "2026-11-28T17:00:00.000Z"}};
  buf_init(&b, 8192);
  assert_int_equal(cos_xml_list_parts(&b, "bkt-1", "b/k.mp4", "uid1", parts, 2), VG_OK);
  assert_string_equal(
      b.ptr,
      DECL "<ListPartsResult><Bucket>bkt-1</Bucket><Encoding-type></Encoding-type><Key>b/k.mp4"
           "</Key><UploadId>uid1</UploadId><Initiator><ID>vodgate-emulator</ID><DisplayName>"
           "vodgate-emulator</DisplayName></Initiator><Owner><ID>vodgate-emulator</ID>"
           "<DisplayName>vodgate-emulator</DisplayName></Owner><PartNumberMarker>0"
           "</PartNumberMarker><NextPartNumberMarker>2</NextPartNumberMarker><StorageClass>"
           "STANDARD</StorageClass><MaxParts>1000</MaxParts><IsTruncated>false</IsTruncated>"
           "<Part><PartNumber>1</PartNumber><LastModified>2026-11-28T17:00:00.000Z</LastModified>"
           "<ETag>&quot;7f7c12275593cb68a99d7a3be057eefb&quot;</ETag><Size>1048576</Size></Part>"
           "<Part><PartNumber>2</PartNumber><LastModified>2026-11-28T17:00:01.000Z</LastModified>"
           "<ETag>&quot;09cc21fef48e9ad67608d530df98cbf5&quot;</ETag><Size>524288</Size></Part>"
           "</ListPartsResult>");
  buf_reset(&b);
  assert_int_equal(cos_xml_list_uploads(&b, "bkt-1", "b/k.mp4", up, 1), VG_OK);
  assert_non_null(strstr(b.ptr, "<IsTruncated>false</IsTruncated><Prefix>b/k.mp4</Prefix>"));
  assert_non_null(strstr(b.ptr, "<Upload><Key>b/k.mp4</Key><UploadId>uid1</UploadId>"
                                "<StorageClass>STANDARD</StorageClass>"));
  assert_non_null(strstr(b.ptr, "<Initiated>2026-11-28T17:00:00.000Z</Initiated></Upload>"
                                "</ListMultipartUploadsResult>"));
  buf_reset(&b);
  assert_int_equal(cos_xml_list_uploads(&b, "bkt-1", "", NULL, 0), VG_OK);
  assert_null(strstr(b.ptr, "<Upload>"));
  buf_reset(&b);
  assert_int_equal(cos_xml_complete_result(&b, "bkt-1.cos.ap-guangzhou.myqcloud.com/b/k.mp4",
                                           "bkt-1", "b/k.mp4", "0123-2"),
                   VG_OK);
  assert_string_equal(b.ptr, DECL "<CompleteMultipartUploadResult><Location>bkt-1.cos.ap-guangzhou."
                                  "myqcloud.com/b/k.mp4</Location><Bucket>bkt-1</Bucket><Key>b/"
                                  "k.mp4</Key><ETag>&quot;0123-2&quot;</ETag>"
                                  "</CompleteMultipartUploadResult>");
  buf_reset(&b);
  parts[0].etag_hex = "not-hex";
  assert_int_equal(cos_xml_list_parts(&b, "bkt-1", "k", "u", parts, 1), VG_INVALID);
  buf_release(&b);
}

static void parses_captured_body(void **state)
{
  struct cos_complete_part *p;
  size_t n;
  const char *why = "unset";
  assert_int_equal(cos_xml_parse_complete(body17, strlen(body17), &p, &n, &why), VG_OK);
  assert_null(why);
  assert_int_equal(n, 3);
  assert_int_equal(p[0].number, 1);
  assert_string_equal(p[0].etag_hex, "7f7c12275593cb68a99d7a3be057eefb");
  assert_int_equal(p[2].number, 3);
  assert_string_equal(p[2].etag_hex, "09cc21fef48e9ad67608d530df98cbf5");
  free(p);
}

static void parses_node_sdk_and_pretty_forms(void **state)
{
  /* No declaration (cos-nodejs-sdk-v5), pretty-printed, ETag first, quotes. */
  static const char b1[] =
      "<CompleteMultipartUpload xmlns=\"http://www.qcloud.com/document/product/436/7751\">\n"
      "  <Part>\n    <ETag>\"7F7C12275593CB68A99D7A3BE057EEFB\"</ETag>\n"
      "    <PartNumber>2</PartNumber>\n  </Part>\n"
      "  <Part><PartNumber>10000</PartNumber><ETag>09cc21fef48e9ad67608d530df98cbf5</ETag></Part>\n"
      "</CompleteMultipartUpload>\n";
  struct cos_complete_part *p;
  size_t n;
  assert_int_equal(cos_xml_parse_complete(b1, strlen(b1), &p, &n, NULL), VG_OK);
  assert_int_equal(n, 2);
  assert_int_equal(p[0].number, 2);
  assert_string_equal(p[0].etag_hex, "7f7c12275593cb68a99d7a3be057eefb");
  assert_int_equal(p[1].number, 10000);
  free(p);
}

static void rejects_everything_else(void **state)
{
  static const struct {
    const char *body;
    const char *why;
  } bad[] = {
      {"", "MalformedXML"},
      {"<CompleteMultipartUpload></CompleteMultipartUpload>", "MalformedXML"},
      {"<CompleteMultipartUpload/>", "MalformedXML"},
      {"<CompleteMultipartUpload a=\"b\"/>", "MalformedXML"},
      {"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part>"
       "</CompleteMultipartUpload>",
       "InvalidPart"},
      {"<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>"
       "09cc21fef48e9ad67608d530df98cbf5</ETag></Part><Part><PartNumber>1</PartNumber><ETag>"
       "09cc21fef48e9ad67608d530df98cbf5</ETag></Part></CompleteMultipartUpload>",
       "InvalidPartOrder"},
      {"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><PartNumber>1</PartNumber><ETag>"
       "09cc21fef48e9ad67608d530df98cbf5</ETag></Part></CompleteMultipartUpload>",
       "MalformedXML"},
      {"<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>"
       "09cc21fef48e9ad67608d530df98cbf5</ETag></Part></CompleteMultipartUpload>",
       "MalformedXML"},
      {"<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber><ETag>"
       "09cc21fef48e9ad67608d530df98cbf5</ETag></Part></CompleteMultipartUpload>",
       "MalformedXML"},
      {"<CompleteMultipartUpload><Part><PartNumber>01</PartNumber><ETag>"
       "09cc21fef48e9ad67608d530df98cbf5</ETag></Part></CompleteMultipartUpload>",
       "MalformedXML"},
      {"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;"
       "09cc21fef48e9ad67608d530df98cbf5\"</ETag></Part></CompleteMultipartUpload>",
       "MalformedXML"},
      {"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"
       "09cc21fef48e9ad67608d530df98cbf</ETag></Part></CompleteMultipartUpload>",
       "MalformedXML"},
      {"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"
       "09cc21fef48e9ad67608d530df98cbf5</ETag></Part></CompleteMultipartUpload>x",
       "MalformedXML"},
      {"<?xml version=\"1.0\"><CompleteMultipartUpload></CompleteMultipartUpload>", "MalformedXML"},
      {"<CompleteMultipartUpload><!-- c --><Part><PartNumber>1</PartNumber><ETag>"
       "09cc21fef48e9ad67608d530df98cbf5</ETag></Part></CompleteMultipartUpload>",
       "MalformedXML"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    struct cos_complete_part *p = (void *)1;
    size_t n = 99;
    const char *why = NULL;
    assert_int_equal(cos_xml_parse_complete(bad[i].body, strlen(bad[i].body), &p, &n, &why),
                     VG_INVALID);
    assert_null(p);
    assert_int_equal(n, 0);
    assert_string_equal(why, bad[i].why);
  }
}

static void bounded(void **state)
{
  struct cos_complete_part *p;
  size_t n;
  const char *why;
  assert_int_equal(cos_xml_parse_complete(body17, COS_MAX_COMPLETE_BODY + 1, &p, &n, &why),
                   VG_TOOBIG);
  assert_string_equal(why, "EntityTooLarge");
}

/* The captured Content-MD5 of request 17 matches its body; the multipart
 * ETag was computed with Python's hashlib over the raw part digests. */
static void content_md5_and_multipart_etag(void **state)
{
  struct cos_complete_part *p;
  size_t n;
  char etag[50];
  assert_true(cos_content_md5_ok(body17, strlen(body17), "JiDbR3NEp+Z9LMdkjQg9Bw=="));
  assert_false(cos_content_md5_ok(body17, strlen(body17) - 1, "JiDbR3NEp+Z9LMdkjQg9Bw=="));
  assert_false(cos_content_md5_ok(body17, strlen(body17), "JiDbR3NEp+Z9LMdkjQg9Bw="));
  assert_false(cos_content_md5_ok(body17, strlen(body17), NULL));
  assert_int_equal(cos_xml_parse_complete(body17, strlen(body17), &p, &n, NULL), VG_OK);
  cos_multipart_etag(p, n, etag);
  assert_string_equal(etag, "8d215db87a5779f51b295dcae1340722-3");
  free(p);
}

#define K "/b1a2c3d4vodgzp1500000000/5285890784246869321/f0.mp4"

static int op(const char *m, const char *path, const char *q, struct cos_op *o)
{
  return cos_op_parse(m, path, strlen(path), q, q ? strlen(q) : 0, o);
}

/* The request lines of upload-protocol.md 2.1 and the Node SDK variants. */
static void classifies_operations(void **state)
{
  struct cos_op o;
  assert_int_equal(
      op("GET", "/", "uploads&prefix=b1a2c3d4vodgzp1500000000%2F5285890784246869321%2Ff0.mp4", &o),
      VG_OK);
  assert_int_equal(o.kind, COS_OP_LIST_UPLOADS);
  assert_string_equal(o.prefix, "b1a2c3d4vodgzp1500000000/5285890784246869321/f0.mp4");
  assert_int_equal(op("GET", "/", "uploads=&prefix=a", &o), VG_OK);
  assert_int_equal(o.kind, COS_OP_LIST_UPLOADS);
  assert_int_equal(op("POST", K, "uploads", &o), VG_OK);
  assert_int_equal(o.kind, COS_OP_INITIATE);
  assert_int_equal(op("POST", K, "uploads=", &o), VG_OK);
  assert_int_equal(op("PUT", K, "partNumber=3&uploadId=uid9x34bc4604e600", &o), VG_OK);
  assert_int_equal(o.kind, COS_OP_UPLOAD_PART);
  assert_int_equal(o.part_number, 3);
  assert_string_equal(o.upload_id, "uid9x34bc4604e600");
  assert_int_equal(op("GET", K, "uploadId=uid9x34bc4604e600", &o), VG_OK);
  assert_int_equal(o.kind, COS_OP_LIST_PARTS);
  assert_int_equal(op("POST", K, "uploadId=uid9x34bc4604e600", &o), VG_OK);
  assert_int_equal(o.kind, COS_OP_COMPLETE);
  assert_int_equal(op("DELETE", K, "uploadId=u", &o), VG_OK);
  assert_int_equal(o.kind, COS_OP_ABORT);
  assert_int_equal(op("PUT", K, NULL, &o), VG_OK);
  assert_int_equal(o.kind, COS_OP_PUT_OBJECT);
  assert_int_equal(op("HEAD", K, "", &o), VG_OK);
  assert_int_equal(o.kind, COS_OP_HEAD_OBJECT);
  assert_int_equal(op("GET", K, "uploadId=u&max-parts=1000", &o), VG_OK);

  assert_int_equal(op("PUT", K, "partNumber=0&uploadId=u", &o), VG_INVALID);
  assert_int_equal(op("PUT", K, "partNumber=10001&uploadId=u", &o), VG_INVALID);
  assert_int_equal(op("PUT", K, "partNumber=1", &o), VG_INVALID);
  assert_int_equal(op("PUT", K, "partNumber=1&partNumber=2&uploadId=u", &o), VG_INVALID);
  assert_int_equal(op("PUT", K, "partNumber=1&uploadId=a%2Fb", &o), VG_INVALID);
  assert_int_equal(op("GET", K, "uploads", &o), VG_INVALID);
  assert_int_equal(op("POST", "/", "uploads", &o), VG_INVALID);
  assert_int_equal(op("GET", "/", NULL, &o), VG_INVALID);
  assert_int_equal(op("GET", K, "prefix=a", &o), VG_INVALID);
  assert_int_equal(op("POST", K, "uploads=x", &o), VG_INVALID);
  assert_int_equal(op("PATCH", K, NULL, &o), VG_INVALID);
  assert_int_equal(op("GET", "/", "uploads&prefix=%00", &o), VG_INVALID);
  assert_int_equal(op("GET", "/", "uploads&&prefix=a", &o), VG_INVALID);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(writes_initiate_and_error),
      cmocka_unit_test(writes_lists_and_complete),
      cmocka_unit_test(parses_captured_body),
      cmocka_unit_test(parses_node_sdk_and_pretty_forms),
      cmocka_unit_test(rejects_everything_else),
      cmocka_unit_test(bounded),
      cmocka_unit_test(content_md5_and_multipart_etag),
      cmocka_unit_test(classifies_operations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
