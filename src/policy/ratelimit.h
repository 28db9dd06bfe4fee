/*
 * ratelimit.h: per-key rate limiting in memory (GCRA, the "generic cell rate
 * algorithm" of ATM networks, as used by redis-cell and many API gateways).
 *
 * Each key costs one 64-bit "theoretical arrival time". A limit of N per
 * minute allows a burst of N, then one more every 60/N seconds. State lives
 * only in memory: a restart forgets it, which for a per-minute limit is
 * harmless (at worst one extra burst), and keeps the request path free of
 * disk writes. The table is sharded by key hash, each shard under its own
 * mutex, and bounded: a shard's table grows with its keys (sweeping the
 * expired ones each time it is rebuilt) up to max_keys / 16, and a key that
 * finds its shard full of live entries is refused (default deny) until the
 * earliest of them expires.
 */
#ifndef VG_RATELIMIT_H
#define VG_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ratelimit;

/* max_keys bounds memory: up to 4 slots of 32 bytes per key seen since the
 * last rebuild of its shard, plus the key itself; a few KB when empty. */
struct ratelimit *ratelimit_new(size_t max_keys);
void ratelimit_free(struct ratelimit *rl);

/* One event for key at now_ms against a limit of per_minute (0 = no limit).
 * Returns true if allowed; when refused, *retry_after_ms (if not NULL) says
 * when the next event would be allowed. Thread-safe. */
bool ratelimit_allow(struct ratelimit *rl, const char *key, uint64_t per_minute, int64_t now_ms,
                     int64_t *retry_after_ms);

/* Number of keys held (for metrics and tests). */
size_t ratelimit_size(struct ratelimit *rl);
/* Number of slots allocated, all shards (tests: memory follows the keys). */
size_t ratelimit_slots(struct ratelimit *rl);
/* Rebuilds of the shards' tables so far, each a walk of one shard (tests:
 * a full table is not walked again for every new key it refuses). */
size_t ratelimit_rebuilds(struct ratelimit *rl);

#endif
