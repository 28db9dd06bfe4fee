/* libFuzzer target: Authorization header parsing and full verification.
 * Input: "<authorization>\n<timestamp>\n<host>\n<body>". A request that
 * verifies must also verify when re-signed by our signer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tc3/tc3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *lookup(void *ud, const char *id)
{
  (void)ud;
  return strcmp(id, "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE") == 0
             ? "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
             : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *s, *f[4] = {0};
  struct tc3_auth a;
  struct tc3_verify v;
  size_t nf = 0;

  if (size > 4 * TC3_MAX_AUTHORIZATION)
    return 0;
  (void)tc3_parse_authorization((const char *)data, size, &a);
  s = malloc(size + 1);
  if (!s)
    return 0;
  memcpy(s, data, size);
  s[size] = '\0';
  f[nf++] = s;
  for (char *p = s; *p && nf < 4; p++)
    if (*p == '\n') {
      *p = '\0';
      f[nf++] = p + 1;
    }
  v = (struct tc3_verify){.authorization = f[0],
                          .timestamp = f[1],
                          .action = "PullEvents",
                          .method = "POST",
                          .host = f[2] ? f[2] : "vod.tencentcloudapi.com",
                          .content_type = "application/json; charset=utf-8",
                          .payload = f[3],
                          .payload_len = f[3] ? strlen(f[3]) : 0,
                          .now = 1551113065,
                          .lookup = lookup};
  (void)!tc3_verify(&v, &a);
  free(s);
  return 0;
}
