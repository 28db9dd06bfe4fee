/*
 * workers.c: what the background workers (webhook forwarder, puller,
 * retention sweep, JWKS refresh) share.
 */
#include "svc/workers.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"

void worker_owner_id(char *out, size_t n)
{
  char host_name[64] = "host";
  unsigned char r[4];
  char rh[9];

  (void)gethostname(host_name, sizeof(host_name) - 1);
  random_bytes(r, sizeof(r));
  hex_encode(r, sizeof(r), rh);
  snprintf(out, n, "%s:%ld:%s", host_name, (long)getpid(), rh);
}

void worker_cond_init(pthread_cond_t *cv)
{
  pthread_condattr_t ca;

  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(cv, &ca);
  pthread_condattr_destroy(&ca);
}

bool worker_wait(pthread_mutex_t *mu, pthread_cond_t *cv, atomic_bool *stop, bool *woken,
                 int64_t ms)
{
  struct timespec dl;

  clock_gettime(CLOCK_MONOTONIC, &dl);
  dl.tv_sec += ms / 1000;
  dl.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (dl.tv_nsec >= 1000000000L) {
    dl.tv_sec++;
    dl.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(mu);
  while (!atomic_load(stop) && !(woken && *woken)) {
    if (pthread_cond_timedwait(cv, mu, &dl) == ETIMEDOUT)
      break;
  }
  if (woken)
    *woken = false;
  pthread_mutex_unlock(mu);
  return !atomic_load(stop);
}

void worker_signal_stop(pthread_mutex_t *mu, pthread_cond_t *cv, atomic_bool *stop)
{
  pthread_mutex_lock(mu);
  atomic_store(stop, true);
  pthread_cond_signal(cv);
  pthread_mutex_unlock(mu);
}
