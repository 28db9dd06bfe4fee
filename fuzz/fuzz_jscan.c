/* libFuzzer target: core/jscan.h against jansson (fuzz/oracle.h): the same
 * acceptance and the same values for every input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char why[256];

  if (jscan_oracle_diff((const char *)data, size, why, sizeof(why))) {
    fprintf(stderr, "jscan differs from jansson: %s\n", why);
    abort();
  }
  return 0;
}
