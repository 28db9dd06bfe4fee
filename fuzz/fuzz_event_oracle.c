/* libFuzzer target: event_parse (over core/jscan.h) against the jansson
 * reference event_parse_jansson (fuzz/oracle.h): the same rc, reason and
 * event, field by field, with and without a review policy. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const struct event_review_policy pol = {.block_at = 90, .review_at = 50};
  char why[256];

  if (event_oracle_diff((const char *)data, size, NULL, why, sizeof(why)) ||
      event_oracle_diff((const char *)data, size, &pol, why, sizeof(why))) {
    fprintf(stderr, "event_parse differs from event_parse_jansson: %s\n", why);
    abort();
  }
  return 0;
}
