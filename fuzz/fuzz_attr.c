/* libFuzzer target: attribution token verification and key-file parsing.
 * A token that verifies under the fixed key must be one we can mint again
 * byte for byte (the MAC covers everything the receiver trusts). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attr/attr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct attr_keyring kr;
  static int ready;
  struct attr_keyring parsed;
  struct attr_claims c;
  char again[ATTR_MAX_TOKEN + 1], err[128];

  if (!ready) {
    unsigned char key[32];
    for (int i = 0; i < 32; i++)
      key[i] = (unsigned char)i;
    attr_keyring_init(&kr);
    if (attr_keyring_add(&kr, "k1", key, sizeof(key)) != VG_OK)
      abort();
    ready = 1;
  }
  if (attr_verify(&kr, (const char *)data, size, &c) == ATTR_OK) {
    if (attr_mint(&kr, c.upload_id, c.app_ctx, again, sizeof(again)) != VG_OK)
      abort();
    if (strlen(again) != size || memcmp(again, data, size) != 0)
      abort();
  }
  attr_keyring_init(&parsed);
  (void)!attr_keyring_parse(&parsed, (const char *)data, size, err, sizeof(err));
  attr_keyring_release(&parsed);
  return 0;
}
