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

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(burst_then_refill),
      cmocka_unit_test(zero_is_unlimited),
      cmocka_unit_test(table_is_bounded_and_swept),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
