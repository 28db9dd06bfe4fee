/* libFuzzer target: the UGC JSON request parser (all three actions) and the
 * vodSessionKey / temporary-credential checkers, which see client bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "emu/ugc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const enum ugc_action acts[] = {UGC_PREPARE, UGC_APPLY, UGC_COMMIT};
  struct ugc_config c;
  struct ugc_request r;
  unsigned char id[16];
  char sk[UGC_SK_LEN + 1], *z;

  ugc_config_init(&c);
  memset(c.key, 7, sizeof(c.key));
  for (size_t i = 0; i < 3; i++) {
    if (ugc_request_parse(acts[i], (const char *)data, size, &r) == UGC_OK) {
      if (!r.signature || !r.signature[0])
        abort();
      if (acts[i] == UGC_COMMIT && !r.vod_session_key[0])
        abort();
      (void)ugc_session_key_check(&c, r.vod_session_key, strlen(r.vod_session_key), 0, id);
      ugc_request_release(&r);
    } else if (r.signature) {
      abort();
    }
  }
  z = malloc(size + 1);
  memcpy(z, data, size);
  z[size] = '\0';
  (void)ugc_session_key_check(&c, z, size, 0, id);
  (void)ugc_cert_check(&c, z, z, 0, id, sk);
  (void)ugc_classify_host(&c, z);
  (void)ugc_review_decide(z, data, size);
  free(z);
  return 0;
}
