#include "policy/ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

#define RL_SHARDS  16
#define RL_MIN_CAP 16 /* slots of an empty shard */

struct rl_entry {
  char *key;
  uint64_t hash;
  int64_t tat;     /* theoretical arrival time, ms */
  int64_t expires; /* when the entry is equivalent to absent */
};

struct rl_shard {
  pthread_mutex_t lock;
  struct rl_entry *slots; /* open addressing, linear probing, at most half full */
  size_t cap;             /* power of two, RL_MIN_CAP..max_cap */
  size_t used;            /* live + tombstones never: we rebuild on sweep */
  size_t max;             /* keys */
  size_t max_cap;
  /* Full of live keys at the last rebuild: no rebuild (a walk of the whole
   * table) can make room before the earliest of them expires, so until then
   * a new key is refused at once instead of walking the table every time. */
  int64_t full_until;
  size_t rebuilds;
};

struct ratelimit {
  struct rl_shard shards[RL_SHARDS];
};

static uint64_t rl_hash(const char *s)
{
  /* FNV-1a 64: keys are authenticated user ids, not attacker-chosen at
   * scale, and a probe sequence is bounded by the shard's size. */
  uint64_t h = 1469598103934665603ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

/* Shards start small and grow with their keys (rl_rebuild): a table made
 * for max_keys at once (64 MB for a million) would be touched at random
 * places by the first few thousand users, each touch a page of memory. */
struct ratelimit *ratelimit_new(size_t max_keys)
{
  struct ratelimit *rl = xcalloc(1, sizeof(*rl));
  size_t per = max_keys / RL_SHARDS + 1;
  size_t max_cap = RL_MIN_CAP;

  while (max_cap < per * 2)
    max_cap *= 2;
  for (int i = 0; i < RL_SHARDS; i++) {
    pthread_mutex_init(&rl->shards[i].lock, NULL);
    rl->shards[i].slots = xcalloc(RL_MIN_CAP, sizeof(struct rl_entry));
    rl->shards[i].cap = RL_MIN_CAP;
    rl->shards[i].max = per;
    rl->shards[i].max_cap = max_cap;
  }
  return rl;
}

void ratelimit_free(struct ratelimit *rl)
{
  if (!rl)
    return;
  for (int i = 0; i < RL_SHARDS; i++) {
    struct rl_shard *s = &rl->shards[i];
    for (size_t k = 0; k < s->cap; k++)
      free(s->slots[k].key);
    free(s->slots);
    pthread_mutex_destroy(&s->lock);
  }
  free(rl);
}

static struct rl_entry *rl_find(struct rl_shard *s, const char *key, uint64_t h)
{
  size_t mask = s->cap - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    struct rl_entry *e = &s->slots[i];
    if (!e->key || (e->hash == h && strcmp(e->key, key) == 0))
      return e;
  }
}

/* Room for one more key without passing half the table or max. */
static bool rl_room(const struct rl_shard *s)
{
  return s->used < s->max && s->used + 1 <= s->cap / 2;
}

/* Drops the entries that have expired by now and rehashes the others into
 * a table sized for them: at most a quarter full (unless at max_cap), so
 * the next rebuild is at least a quarter of the table's inserts away and
 * the rebuilds cost O(1) per insert; it shrinks after a burst of keys. */
static void rl_rebuild(struct rl_shard *s, int64_t now)
{
  struct rl_entry *old = s->slots;
  size_t old_cap = s->cap, live = 0, cap = RL_MIN_CAP;
  int64_t first_expiry = INT64_MAX;

  for (size_t i = 0; i < old_cap; i++)
    if (old[i].key && old[i].expires > now) {
      live++;
      if (old[i].expires < first_expiry)
        first_expiry = old[i].expires;
    }
  while (cap < live * 4 && cap < s->max_cap)
    cap *= 2;
  s->slots = xcalloc(cap, sizeof(struct rl_entry));
  s->cap = cap;
  s->used = 0;
  for (size_t i = 0; i < old_cap; i++) {
    if (!old[i].key)
      continue;
    if (old[i].expires <= now) {
      free(old[i].key);
      continue;
    }
    *rl_find(s, old[i].key, old[i].hash) = old[i];
    s->used++;
  }
  free(old);
  s->full_until = rl_room(s) ? 0 : first_expiry;
  s->rebuilds++;
}

bool ratelimit_allow(struct ratelimit *rl, const char *key, uint64_t per_minute, int64_t now,
                     int64_t *retry_after_ms)
{
  uint64_t h;
  struct rl_shard *s;
  struct rl_entry *e;
  int64_t interval, burst_window, tat, allow_at;
  bool ok;

  if (per_minute == 0)
    return true;
  if (per_minute > 60000)
    per_minute = 60000; /* finer than 1 ms per event is no limit at all */
  interval = (int64_t)(60000 / per_minute);
  burst_window = interval * (int64_t)per_minute; /* ~ one minute */
  h = rl_hash(key);
  s = &rl->shards[h % RL_SHARDS];

  pthread_mutex_lock(&s->lock);
  e = rl_find(s, key, h);
  if (!e->key) {
    if (!rl_room(s) && now >= s->full_until) {
      rl_rebuild(s, now);
      e = rl_find(s, key, h);
    }
    if (!rl_room(s)) {
      pthread_mutex_unlock(&s->lock);
      if (retry_after_ms)
        *retry_after_ms = 1000;
      return false;
    }
    e->key = xstrdup(key);
    e->hash = h;
    e->tat = now;
    s->used++;
  }
  tat = e->tat > now ? e->tat : now;
  /* Allowed if, after this event, the backlog stays within one burst. */
  allow_at = tat + interval - burst_window;
  ok = allow_at <= now;
  if (ok) {
    e->tat = tat + interval;
    e->expires = e->tat;
  } else if (retry_after_ms) {
    *retry_after_ms = allow_at - now;
  }
  pthread_mutex_unlock(&s->lock);
  return ok;
}

/* The shards' figures added up, each shard read under its lock. */
struct rl_totals {
  size_t used, cap, rebuilds;
};

static struct rl_totals rl_totals(struct ratelimit *rl)
{
  struct rl_totals t = {0, 0, 0};
  for (int i = 0; i < RL_SHARDS; i++) {
    pthread_mutex_lock(&rl->shards[i].lock);
    t.used += rl->shards[i].used;
    t.cap += rl->shards[i].cap;
    t.rebuilds += rl->shards[i].rebuilds;
    pthread_mutex_unlock(&rl->shards[i].lock);
  }
  return t;
}

size_t ratelimit_rebuilds(struct ratelimit *rl)
{
  return rl_totals(rl).rebuilds;
}

size_t ratelimit_slots(struct ratelimit *rl)
{
  return rl_totals(rl).cap;
}

size_t ratelimit_size(struct ratelimit *rl)
{
  return rl_totals(rl).used;
}
