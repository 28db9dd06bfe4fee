/* libFuzzer target: COS Authorization parsing, HttpString construction and
 * operation classification.
 * Input: "<authorization>\n<method> <path>?<query>\n<name>: <value>\n...". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "emu/cos_auth.h"
#include "emu/cos_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_H 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s, *line, *next, *sp, *q;
  struct cos_auth a;
  struct cos_header h[MAX_H];
  struct cos_request r;
  size_t nh = 0;
  struct buf b;
  char hex[41];

  if (size > 16384)
    return 0;
  s = malloc(size + 1);
  memcpy(s, data, size);
  s[size] = '\0';
  line = s;
  next = strchr(line, '\n');
  if (next)
    *next++ = '\0';
  if (cos_auth_parse(line, strlen(line), &a) != COS_AUTH_OK) {
    /* Parsing alone must not crash; a failed parse leaves a zeroed struct. */
    for (size_t i = 0; i < sizeof(a); i++)
      if (((unsigned char *)&a)[i])
        abort();
    free(s);
    return 0;
  }
  memset(&r, 0, sizeof(r));
  r.method = "GET";
  r.path = "/";
  r.path_len = 1;
  if (next) {
    line = next;
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    sp = strchr(line, ' ');
    if (sp) {
      *sp = '\0';
      r.method = line;
      r.path = sp + 1;
      q = strchr(sp + 1, '?');
      if (q) {
        *q = '\0';
        r.query = q + 1;
        r.query_len = strlen(q + 1);
      }
      r.path_len = strlen(r.path);
    }
  }
  while (next && nh < MAX_H) {
    char *c;
    line = next;
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    c = strstr(line, ": ");
    if (!c)
      continue;
    *c = '\0';
    h[nh].name = line;
    h[nh].value = c + 2;
    nh++;
  }
  {
    struct cos_op op;
    if (cos_op_parse(r.method, r.path, r.path_len, r.query, r.query_len, &op) == VG_OK &&
        op.kind == COS_OP_UPLOAD_PART && (op.part_number < 1 || op.part_number > COS_MAX_PARTS))
      abort();
  }
  r.headers = h;
  r.n_headers = nh;
  buf_init(&b, COS_MAX_HTTPSTRING);
  (void)cos_auth_http_string(&a, &r, &b);
  buf_release(&b);
  if (cos_auth_sign(&a, &r, "k", 1, hex) == COS_AUTH_OK && strlen(hex) != 40)
    abort();
  (void)cos_auth_verify(&a, &r, "k", 1, a.sign_start, 0);
  free(s);
  return 0;
}
