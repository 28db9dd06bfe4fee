/* Unit tests for policy/ratelimit (GCRA). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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
  /* Full shards are not walked again for every key they refuse, not before
   * the earliest of their keys expires (at 60 per minute an entry expires a
   * second after its event: t = 1000). */
  size_t rebuilds = ratelimit_rebuilds(rl);
  for (int i = 0; i < 5000; i++) {
    snprintf(key, sizeof(key), "more-%d", i);
    assert_false(ratelimit_allow(rl, key, 60, 500, NULL));
  }
  assert_int_equal(ratelimit_rebuilds(rl), rebuilds);
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

/* Random traffic against a model of GCRA kept beside it (one theoretical
 * arrival time per key, no table): with room for every key, each decision
 * and each retry time must be the model's, through the shards' growth,
 * rebuilds and expiries. Seeded; VG_RL_SEED replays a run. */
static void matches_a_model(void **state)
{
  enum { KEYS = 3000, OPS = 200000 };
  static int64_t model_tat[KEYS]; /* 0: never seen (times start at 1000000) */
  static const uint64_t limits[] = {1, 6, 60, 600, 6000};
  const char *seed_env = getenv("VG_RL_SEED");
  uint64_t seed = seed_env ? strtoull(seed_env, NULL, 10) : (uint64_t)time(NULL);
  uint64_t x = seed * 2862933555777941757ULL + 3037000493ULL;
  struct ratelimit *rl = ratelimit_new(1000000);
  int64_t now = 1000000;
  char key[32];

  printf("# seed %llu\n", (unsigned long long)seed);
  for (int i = 0; i < OPS; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    int k = (int)(x % KEYS);
    /* a fixed limit per key, as a policy gives; time moves 0-99 ms, now and
     * then a whole minute (every key's entry expires) */
    uint64_t pm = limits[k % 5];
    now += (int64_t)(x >> 40) % 100 + ((x >> 20) % 50000 == 0 ? 61000 : 0);
    int64_t interval = (int64_t)(60000 / pm), burst = interval * (int64_t)pm;
    int64_t tat = model_tat[k] > now ? model_tat[k] : now, allow_at = tat + interval - burst;
    bool want = allow_at <= now;
    int64_t retry = -1;

    snprintf(key, sizeof(key), "k%d", k);
    bool got = ratelimit_allow(rl, key, pm, now, &retry);
    if (got != want || (!got && retry != allow_at - now))
      fail_msg("seed %llu op %d key %s limit %llu at %lld: %s (retry %lld), the model says %s"
               " (retry %lld)",
               (unsigned long long)seed, i, key, (unsigned long long)pm, (long long)now,
               got ? "allowed" : "refused", (long long)retry, want ? "allowed" : "refused",
               (long long)(allow_at - now));
    if (want)
      model_tat[k] = tat + interval;
  }
  assert_true(ratelimit_size(rl) <= KEYS);
  assert_true(ratelimit_slots(rl) <= 8 * KEYS + 16 * 16);
  ratelimit_free(rl);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(burst_then_refill),
      cmocka_unit_test(zero_is_unlimited),
      cmocka_unit_test(table_is_bounded_and_swept),
      cmocka_unit_test(memory_follows_the_keys),
      cmocka_unit_test(matches_a_model),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
