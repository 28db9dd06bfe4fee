/* cos_xml.c: COS XML writers and the CompleteMultipartUpload reader. */
#include "emu/cos_xml.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "core/util.h"

#define XML_DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

static int put_text(struct buf *b, const char *s)
{
  size_t n = strlen(s);
  if (!utf8_valid(s, n))
    return VG_INVALID;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    const char *e = NULL;
    int rc;
    switch (c) {
    case '&': e = "&amp;"; break;
    case '<': e = "&lt;"; break;
    case '>': e = "&gt;"; break;
    case '"': e = "&quot;"; break;
    case '\'': e = "&apos;"; break;
    default:
      if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
        return VG_INVALID;
    }
    rc = e ? buf_appends(b, e) : buf_appendc(b, (char)c);
    if (rc != VG_OK)
      return rc;
  }
  return VG_OK;
}

/* <name>escaped text</name> */
static int elem(struct buf *b, const char *name, const char *text)
{
  int rc;
  if ((rc = buf_printf(b, "<%s>", name)) != VG_OK || (rc = put_text(b, text)) != VG_OK)
    return rc;
  return buf_printf(b, "</%s>", name);
}

int cos_xml_initiate(struct buf *out, const char *bucket, const char *key, const char *upload_id)
{
  int rc;
  if ((rc = buf_appends(out, XML_DECL "<InitiateMultipartUploadResult>")) != VG_OK ||
      (rc = elem(out, "Bucket", bucket)) != VG_OK || (rc = elem(out, "Key", key)) != VG_OK ||
      (rc = elem(out, "UploadId", upload_id)) != VG_OK)
    return rc;
  return buf_appends(out, "</InitiateMultipartUploadResult>");
}

int cos_xml_list_uploads(struct buf *out, const char *bucket, const char *prefix,
                         const struct cos_xml_upload *uploads, size_t n)
{
  int rc;
  if ((rc = buf_appends(out, XML_DECL "<ListMultipartUploadsResult>")) != VG_OK ||
      (rc = elem(out, "Bucket", bucket)) != VG_OK || (rc = elem(out, "Encoding-Type", "")) ||
      (rc = elem(out, "KeyMarker", "")) != VG_OK || (rc = elem(out, "UploadIdMarker", "")) ||
      (rc = elem(out, "NextKeyMarker", "")) != VG_OK ||
      (rc = elem(out, "NextUploadIdMarker", "")) != VG_OK ||
      (rc = elem(out, "MaxUploads", "1000")) != VG_OK ||
      (rc = elem(out, "IsTruncated", "false")) != VG_OK ||
      (rc = elem(out, "Prefix", prefix)) != VG_OK || (rc = elem(out, "Delimiter", "")))
    return rc;
  for (size_t i = 0; i < n; i++) {
    if ((rc = buf_appends(out, "<Upload>")) != VG_OK ||
        (rc = elem(out, "Key", uploads[i].key)) != VG_OK ||
        (rc = elem(out, "UploadId", uploads[i].upload_id)) != VG_OK ||
        (rc = elem(out, "StorageClass", "STANDARD")) != VG_OK ||
        (rc = buf_appends(out, "<Initiator><ID>vodgate-emulator</ID><DisplayName>vodgate-emulator"
                               "</DisplayName></Initiator><Owner><ID>vodgate-emulator</ID>"
                               "<DisplayName>vodgate-emulator</DisplayName></Owner>")) != VG_OK ||
        (rc = elem(out, "Initiated", uploads[i].initiated)) != VG_OK ||
        (rc = buf_appends(out, "</Upload>")) != VG_OK)
      return rc;
  }
  return buf_appends(out, "</ListMultipartUploadsResult>");
}

static bool is_hex32(const char *s)
{
  if (strlen(s) != 32)
    return false;
  for (int i = 0; i < 32; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return false;
  return true;
}

int cos_xml_list_parts(struct buf *out, const char *bucket, const char *key, const char *upload_id,
                       const struct cos_xml_part *parts, size_t n)
{
  int rc;
  if ((rc = buf_appends(out, XML_DECL "<ListPartsResult>")) != VG_OK ||
      (rc = elem(out, "Bucket", bucket)) != VG_OK || (rc = elem(out, "Encoding-type", "")) ||
      (rc = elem(out, "Key", key)) != VG_OK || (rc = elem(out, "UploadId", upload_id)) != VG_OK ||
      (rc = buf_appends(out, "<Initiator><ID>vodgate-emulator</ID><DisplayName>vodgate-emulator"
                             "</DisplayName></Initiator><Owner><ID>vodgate-emulator</ID>"
                             "<DisplayName>vodgate-emulator</DisplayName></Owner>")) != VG_OK ||
      (rc = elem(out, "PartNumberMarker", "0")) != VG_OK ||
      (rc = buf_printf(out, "<NextPartNumberMarker>%u</NextPartNumberMarker>",
                       n ? parts[n - 1].number : 0u)) != VG_OK ||
      (rc = elem(out, "StorageClass", "STANDARD")) != VG_OK ||
      (rc = elem(out, "MaxParts", "1000")) != VG_OK ||
      (rc = elem(out, "IsTruncated", "false")) != VG_OK)
    return rc;
  for (size_t i = 0; i < n; i++) {
    if (!is_hex32(parts[i].etag_hex))
      return VG_INVALID;
    if ((rc = buf_printf(out, "<Part><PartNumber>%u</PartNumber><LastModified>",
                         parts[i].number)) != VG_OK ||
        (rc = put_text(out, parts[i].last_modified)) != VG_OK ||
        (rc = buf_printf(out, "</LastModified><ETag>&quot;%s&quot;</ETag><Size>%llu</Size></Part>",
                         parts[i].etag_hex, (unsigned long long)parts[i].size)) != VG_OK)
      return rc;
  }
  return buf_appends(out, "</ListPartsResult>");
}

int cos_xml_complete_result(struct buf *out, const char *location, const char *bucket,
                            const char *key, const char *etag)
{
  int rc;
  if ((rc = buf_appends(out, XML_DECL "<CompleteMultipartUploadResult>")) != VG_OK ||
      (rc = elem(out, "Location", location)) != VG_OK ||
      (rc = elem(out, "Bucket", bucket)) != VG_OK || (rc = elem(out, "Key", key)) != VG_OK ||
      (rc = buf_appends(out, "<ETag>&quot;")) != VG_OK || (rc = put_text(out, etag)) != VG_OK ||
      (rc = buf_appends(out, "&quot;</ETag>")) != VG_OK)
    return rc;
  return buf_appends(out, "</CompleteMultipartUploadResult>");
}

int cos_xml_error(struct buf *out, const char *code, const char *message, const char *request_id)
{
  int rc;
  if ((rc = buf_appends(out, XML_DECL "<Error>")) != VG_OK ||
      (rc = elem(out, "Code", code)) != VG_OK || (rc = elem(out, "Message", message)) != VG_OK ||
      (rc = elem(out, "RequestId", request_id)) != VG_OK)
    return rc;
  return buf_appends(out, "</Error>");
}

/* ---- the reader ---- */

struct scan {
  const char *p, *end;
};

static void skip_ws(struct scan *s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n'))
    s->p++;
}

/* Consume the literal lit if it is next. */
static bool eat(struct scan *s, const char *lit)
{
  size_t n = strlen(lit);
  if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
    return false;
  s->p += n;
  return true;
}

/* The optional declaration: "<?xml" ... "?>" with no '<' or '>' inside. */
static bool skip_decl(struct scan *s)
{
  if (!eat(s, "<?xml"))
    return true;
  if (s->p < s->end && *s->p != ' ' && *s->p != '\t' && *s->p != '\r' && *s->p != '\n')
    return false;
  while (s->p + 1 < s->end) {
    if (*s->p == '<' || *s->p == '>')
      return false;
    if (s->p[0] == '?' && s->p[1] == '>') {
      s->p += 2;
      return true;
    }
    s->p++;
  }
  return false;
}

/* "<CompleteMultipartUpload" then '>' or attributes (no '<'; a self-closing
 * root "/>" is refused) up to '>'. */
static bool root_open(struct scan *s)
{
  if (!eat(s, "<CompleteMultipartUpload"))
    return false;
  if (s->p < s->end && *s->p == '>') {
    s->p++;
    return true;
  }
  if (s->p >= s->end || (*s->p != ' ' && *s->p != '\t' && *s->p != '\r' && *s->p != '\n'))
    return false;
  while (s->p < s->end && *s->p != '>') {
    if (*s->p == '<')
      return false;
    s->p++;
  }
  if (s->p >= s->end || s->p[-1] == '/')
    return false;
  s->p++;
  return true;
}

static bool read_number(struct scan *s, uint32_t *out)
{
  const char *q = s->p;
  uint64_t v;
  while (q < s->end && q - s->p < 6 && *q >= '0' && *q <= '9')
    q++;
  if (parse_u64(s->p, (size_t)(q - s->p), &v) != 0 || v < 1 || v > COS_MAX_PARTS)
    return false;
  *out = (uint32_t)v;
  s->p = q;
  return true;
}

static bool read_hex32(struct scan *s, char out[33])
{
  if (s->end - s->p < 32)
    return false;
  for (int i = 0; i < 32; i++) {
    char c = s->p[i];
    if (c >= 'A' && c <= 'F')
      c = (char)(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return false;
    out[i] = c;
  }
  out[32] = '\0';
  s->p += 32;
  return true;
}

static bool read_etag(struct scan *s, char out[33])
{
  if (eat(s, "&quot;"))
    return read_hex32(s, out) && eat(s, "&quot;");
  if (eat(s, "\""))
    return read_hex32(s, out) && eat(s, "\"");
  return read_hex32(s, out);
}

int cos_xml_parse_complete(const char *body, size_t len, struct cos_complete_part **parts,
                           size_t *n, const char **why)
{
  struct scan s = {body, body + len};
  struct cos_complete_part *v = NULL;
  size_t cnt = 0, cap = 0;
  const char *w = "MalformedXML";
  int rc = VG_INVALID;

  *parts = NULL;
  *n = 0;
  if (len > COS_MAX_COMPLETE_BODY) {
    w = "EntityTooLarge";
    rc = VG_TOOBIG;
    goto fail;
  }
  if (!body)
    goto fail;
  /* A UTF-8 byte order mark is legal before the declaration. */
  (void)eat(&s, "\xEF\xBB\xBF");
  if (!skip_decl(&s))
    goto fail;
  skip_ws(&s);
  if (!root_open(&s))
    goto fail;
  for (;;) {
    bool have_num = false, have_tag = false;
    struct cos_complete_part p = {0, {0}};
    skip_ws(&s);
    if (eat(&s, "</CompleteMultipartUpload>"))
      break;
    if (!eat(&s, "<Part>"))
      goto fail;
    for (;;) {
      skip_ws(&s);
      if (eat(&s, "</Part>"))
        break;
      if (eat(&s, "<PartNumber>")) {
        if (have_num || !read_number(&s, &p.number) || !eat(&s, "</PartNumber>"))
          goto fail;
        have_num = true;
      } else if (eat(&s, "<ETag>")) {
        if (have_tag || !read_etag(&s, p.etag_hex) || !eat(&s, "</ETag>"))
          goto fail;
        have_tag = true;
      } else {
        goto fail;
      }
    }
    if (!have_num || !have_tag) {
      w = "InvalidPart";
      goto fail;
    }
    if (cnt && p.number <= v[cnt - 1].number) {
      w = "InvalidPartOrder";
      goto fail;
    }
    if (cnt == COS_MAX_PARTS) {
      w = "EntityTooLarge";
      rc = VG_TOOBIG;
      goto fail;
    }
    if (cnt == cap) {
      cap = cap ? cap * 2 : 16;
      v = xrealloc(v, cap * sizeof(*v));
    }
    v[cnt++] = p;
  }
  skip_ws(&s);
  if (s.p != s.end || cnt == 0)
    goto fail;
  *parts = v;
  *n = cnt;
  if (why)
    *why = NULL;
  return VG_OK;
fail:
  free(v);
  if (why)
    *why = w;
  return rc;
}

void cos_multipart_etag(const struct cos_complete_part *parts, size_t n, char out[50])
{
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned char d[16], raw[16];
  char hx[33];
  if (!ctx || !EVP_DigestInit_ex(ctx, EVP_md5(), NULL))
    abort();
  for (size_t i = 0; i < n; i++) {
    for (int k = 0; k < 16; k++) {
      const char *h = parts[i].etag_hex + 2 * k;
      int hi = h[0] <= '9' ? h[0] - '0' : h[0] - 'a' + 10;
      int lo = h[1] <= '9' ? h[1] - '0' : h[1] - 'a' + 10;
      raw[k] = (unsigned char)(hi << 4 | lo);
    }
    if (!EVP_DigestUpdate(ctx, raw, 16))
      abort();
  }
  if (!EVP_DigestFinal_ex(ctx, d, NULL))
    abort();
  EVP_MD_CTX_free(ctx);
  hex_encode(d, 16, hx);
  snprintf(out, 50, "%s-%zu", hx, n);
}

bool cos_content_md5_ok(const void *body, size_t len, const char *b64)
{
  unsigned char d[16];
  char want[25];
  if (!b64 || !EVP_Digest(body, len, d, NULL, EVP_md5(), NULL))
    return false;
  /* TODO: use core/b64.h once merged. */
  EVP_EncodeBlock((unsigned char *)want, d, 16);
  return ct_equal(want, 24, b64, strlen(b64));
}

/* ---- operations ---- */

static int hexdig(char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Percent-decode into dst (dstsz bounds it); '+' stays '+'; NUL refused.
 * TODO: use core/query.h once merged. */
static int pct_decode_into(const char *s, size_t n, char *dst, size_t dstsz)
{
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)s[i];
    if (c == '%') {
      int h, l;
      if (i + 2 >= n || (h = hexdig(s[i + 1])) < 0 || (l = hexdig(s[i + 2])) < 0)
        return -1;
      c = h << 4 | l;
      i += 2;
    }
    if (c == 0 || j + 1 >= dstsz)
      return -1;
    dst[j++] = (char)c;
  }
  dst[j] = '\0';
  return 0;
}

static bool upload_id_ok(const char *s)
{
  size_t n = strlen(s);
  if (n == 0 || n > COS_MAX_UPLOAD_ID)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
          c == '_' || c == '-'))
      return false;
  }
  return true;
}

int cos_op_parse(const char *method, const char *path, size_t path_len, const char *query,
                 size_t query_len, struct cos_op *out)
{
  bool uploads = false, has_part = false, has_uid = false, has_prefix = false;
  bool root = path_len == 1 && path[0] == '/';
  size_t pos = 0;

  memset(out, 0, sizeof(*out));
  if (!method || !path || path_len == 0 || path[0] != '/' || query_len > HTTP_MAX_URL)
    return VG_INVALID;
  while (query && query_len && pos <= query_len) {
    const char *f = query + pos;
    const char *amp = memchr(f, '&', query_len - pos);
    size_t flen = amp ? (size_t)(amp - f) : query_len - pos;
    const char *eq = memchr(f, '=', flen);
    size_t klen = eq ? (size_t)(eq - f) : flen;
    const char *v = eq ? eq + 1 : f + flen;
    size_t vlen = eq ? flen - klen - 1 : 0;
    char val[COS_MAX_KEY + 1];

    if (klen == 0 || pct_decode_into(v, vlen, val, sizeof(val)) != 0)
      return VG_INVALID;
    if (klen == 7 && memcmp(f, "uploads", 7) == 0) {
      if (uploads || val[0])
        return VG_INVALID;
      uploads = true;
    } else if (klen == 10 && memcmp(f, "partNumber", 10) == 0) {
      uint64_t pn;
      if (has_part || parse_u64(val, strlen(val), &pn) != 0 || pn < 1 || pn > COS_MAX_PARTS)
        return VG_INVALID;
      out->part_number = (uint32_t)pn;
      has_part = true;
    } else if (klen == 8 && memcmp(f, "uploadId", 8) == 0) {
      if (has_uid || !upload_id_ok(val))
        return VG_INVALID;
      memcpy(out->upload_id, val, strlen(val) + 1);
      has_uid = true;
    } else if (klen == 6 && memcmp(f, "prefix", 6) == 0) {
      if (has_prefix)
        return VG_INVALID;
      memcpy(out->prefix, val, strlen(val) + 1);
      has_prefix = true;
    }
    if (!amp)
      break;
    pos += flen + 1;
  }
  if (root) {
    if (strcmp(method, "GET") != 0 || !uploads || has_part || has_uid)
      return VG_INVALID;
    out->kind = COS_OP_LIST_UPLOADS;
    return VG_OK;
  }
  if (has_prefix)
    return VG_INVALID;
  if (uploads) {
    if (strcmp(method, "POST") != 0 || has_part || has_uid)
      return VG_INVALID;
    out->kind = COS_OP_INITIATE;
    return VG_OK;
  }
  if (has_part) {
    if (strcmp(method, "PUT") != 0 || !has_uid)
      return VG_INVALID;
    out->kind = COS_OP_UPLOAD_PART;
    return VG_OK;
  }
  if (has_uid) {
    if (strcmp(method, "GET") == 0)
      out->kind = COS_OP_LIST_PARTS;
    else if (strcmp(method, "POST") == 0)
      out->kind = COS_OP_COMPLETE;
    else if (strcmp(method, "DELETE") == 0)
      out->kind = COS_OP_ABORT;
    else
      return VG_INVALID;
    return VG_OK;
  }
  if (strcmp(method, "PUT") == 0)
    out->kind = COS_OP_PUT_OBJECT;
  else if (strcmp(method, "GET") == 0)
    out->kind = COS_OP_GET_OBJECT;
  else if (strcmp(method, "HEAD") == 0)
    out->kind = COS_OP_HEAD_OBJECT;
  else
    return VG_INVALID;
  return VG_OK;
}
