/* libFuzzer target: the CompleteMultipartUpload reader, and the writers
 * over whatever it accepted (round trip: every parsed part must be written
 * back and re-read identically). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "emu/cos_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct cos_complete_part *p = NULL, *q = NULL;
  size_t n = 0, m = 0;
  const char *why = NULL;
  struct buf b;

  if (cos_xml_parse_complete((const char *)data, size, &p, &n, &why) != VG_OK) {
    if (!why || p || n)
      abort();
    return 0;
  }
  buf_init(&b, COS_MAX_COMPLETE_BODY);
  if (buf_appends(&b, "<CompleteMultipartUpload>") != VG_OK)
    abort();
  for (size_t i = 0; i < n; i++) {
    if (p[i].number < 1 || p[i].number > COS_MAX_PARTS || strlen(p[i].etag_hex) != 32 ||
        (i && p[i].number <= p[i - 1].number))
      abort();
    if (buf_printf(&b, "<Part><PartNumber>%u</PartNumber><ETag>&quot;%s&quot;</ETag></Part>",
                   p[i].number, p[i].etag_hex) != VG_OK)
      abort();
  }
  if (buf_appends(&b, "</CompleteMultipartUpload>") != VG_OK)
    abort();
  if (cos_xml_parse_complete(b.ptr, b.len, &q, &m, NULL) != VG_OK || m != n ||
      memcmp(p, q, n * sizeof(*p)) != 0)
    abort();
  buf_reset(&b);
  if (cos_xml_error(&b, (const char *)"MalformedXML", why ? why : "ok", "r") != VG_OK)
    abort();
  buf_release(&b);
  free(p);
  free(q);
  return 0;
}
