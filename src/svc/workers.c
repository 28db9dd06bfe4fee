/*
 * workers.c: what the background workers (webhook forwarder, puller)
 * share.
 */
#include "svc/workers.h"

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
