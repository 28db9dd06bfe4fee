/* Unit tests for policy/ratelimit (GCRA). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>

#include "policy/ratelimit.h"

static void burst_then_refill(void **state)
{
  struct ratelimit *rl = ratelimit_new(100);
  int64_t retry = 0;
  int64_t t = 1000000;

  for (int i = 0; i < 6; i++)
    assert_true(ratelimit_allow(rl, "alice", 6, t, NULL));
  assert_false(ratelimit_allow(rl, "alice", 6, t, &retry));
  assert_int_equal(retry, 10000); /* one more every 10 s */
  assert_false(ratelimit_allow(rl, "alice", 6, t + 9999, NULL));
  assert_true(ratelimit_allow(rl, "alice", 6, t + 10000, NULL));
  assert_false(ratelimit_allow(rl, "alice", 6, t + 10000, NULL));
  /* Other keys are independent. */
  assert_true(ratelimit_allow(rl, "bob", 6, t, NULL));
  /* After a full minute of silence the whole burst is back. */
  for (int i = 0; i < 6; i++)
    assert_true(ratelimit_allow(rl, "alice", 6, t + 80000, NULL));
  assert_false(ratelimit_allow(rl, "alice", 6, t + 80000, NULL));
  ratelimit_free(rl);
}

static void zero_is_unlimited(void **state)
{
  struct ratelimit *rl = ratelimit_new(10);
  for (int i = 0; i < 1000; i++)
    assert_true(ratelimit_allow(rl, "x", 0, 0, NULL));
  assert_int_equal(ratelimit_size(rl), 0);
  ratelimit_free(rl);
}

static void table_is_bounded_and_swept(void **state)
{
  struct ratelimit *rl = ratelimit_new(32);
  char key[32];
  int refused = 0;

  for (int i = 0; i < 2000; i++) {
    snprintf(key, sizeof(key), "user-%d", i);
    if (!ratelimit_allow(rl, key, 60, 0, NULL))
      refused++;
  }
  assert_true(refused > 0); /* full of live entries: default deny */
  assert_true(ratelimit_size(rl) <= 32 + 16);
  /* A minute later every entry has expired and new keys get in again. */
  for (int i = 0; i < 20; i++) {
    snprintf(key, sizeof(key), "late-%d", i);
    assert_true(ratelimit_allow(rl, key, 60, 120000, NULL));
  }
  ratelimit_free(rl);
}

/* The table follows the keys it holds, not max_keys: a limiter made for a
 * million keys starts at a few hundred slots and holds 2000 keys in at
 * most 8 slots each; after those expired, 2000 new ones are taken in with
 * the expired keys dropped on the way, not kept beside them. */
static void memory_follows_the_keys(void **state)
{
  struct ratelimit *rl = ratelimit_new(1000000);
  char key[32];

  assert_true(ratelimit_slots(rl) <= 16 * 16);
  for (int i = 0; i < 2000; i++) {
    snprintf(key, sizeof(key), "user-%d", i);
    assert_true(ratelimit_allow(rl, key, 60, 0, NULL));
  }
  assert_int_equal(ratelimit_size(rl), 2000);
  size_t slots = ratelimit_slots(rl);
  assert_in_range(slots, 4000, 8 * 2000 + 16 * 16);
  for (int i = 0; i < 2000; i++) { /* every key is still known: refused */
    snprintf(key, sizeof(key), "user-%d", i);
    assert_false(ratelimit_allow(rl, key, 1, 0, NULL));
  }
  for (int i = 0; i < 2000; i++) { /* a minute later: all expired */
    snprintf(key, sizeof(key), "later-%d", i);
    assert_true(ratelimit_allow(rl, key, 60, 120000, NULL));
  }
  /* the rebuilds on the way dropped expired keys instead of keeping all */
  assert_in_range(ratelimit_size(rl), 2000, 3999);
  assert_true(ratelimit_slots(rl) <= 8 * ratelimit_size(rl) + 16 * 16);
  ratelimit_free(rl);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(burst_then_refill),
      cmocka_unit_test(zero_is_unlimited),
      cmocka_unit_test(table_is_bounded_and_swept),
      cmocka_unit_test(memory_follows_the_keys),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
