/*
 * bench_store: acknowledged single-row writes per second through store.h.
 *
 * T threads each call store_event_insert() W times with a unique key and a
 * ~130-byte JSON body (the row of STACK.md 3.4); a write counts when
 * store_event_insert returned VG_OK, i.e. after its COMMIT. Prints one JSON
 * line with the rate and the per-write latency percentiles.
 *
 *   bench_store --url sqlite:/tmp/x.db [--threads 64] [--writes 500]
 *               [--mode group|single] [--sync full|normal]
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/util.h"
#include "store/store.h"

static struct store *st;
static uint64_t nwrites = 500;
static pthread_barrier_t go;
static int64_t run_id;

struct worker {
  int id;
  double *lat_us; /* nwrites entries */
  uint64_t failed;
};

static double now_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *worker_main(void *arg)
{
  struct worker *w = arg;
  char key[96], file[32];
  const char *body = "{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":"
                     "\"5285890799999999999\",\"MediaBasicInfo\":{\"Name\":\"clip\"}}}";
  pthread_barrier_wait(&go);
  for (uint64_t i = 0; i < nwrites; i++) {
    snprintf(key, sizeof(key), "bench/%lld/%d/%llu", (long long)run_id, w->id,
             (unsigned long long)i);
    snprintf(file, sizeof(file), "%d%llu", w->id, (unsigned long long)i);
    struct store_event ev = {.event_key = key,
                             .source = "push",
                             .type = "NewFileUpload",
                             .file_id = file,
                             .body_json = body,
                             .received_at = 1};
    bool is_new;
    double t0 = now_s();
    if (store_event_insert(st, &ev, &is_new) != VG_OK || !is_new)
      w->failed++;
    w->lat_us[i] = (now_s() - t0) * 1e6;
  }
  return NULL;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void usage(FILE *f)
{
  fprintf(f, "usage: bench_store --url URL [--threads N] [--writes N] [--mode group|single]"
             " [--sync full|normal]\n");
}

int main(int argc, char **argv)
{
  static const struct option opts[] = {
      {"url", required_argument, NULL, 'u'},
      {"threads", required_argument, NULL, 't'},
      {"writes", required_argument, NULL, 'w'},
      {"mode", required_argument, NULL, 'm'},
      {"sync", required_argument, NULL, 's'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *url = NULL, *mode = "group", *sync = "full";
  uint64_t nthreads = 64;
  int c;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'u': url = optarg; break;
    case 't':
      if (parse_u64z(optarg, &nthreads) || !nthreads || nthreads > 1024)
        return usage(stderr), 2;
      break;
    case 'w':
      if (parse_u64z(optarg, &nwrites) || !nwrites || nwrites > 1000000)
        return usage(stderr), 2;
      break;
    case 'm': mode = optarg; break;
    case 's': sync = optarg; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (!url || (strcmp(mode, "group") && strcmp(mode, "single")) ||
      (strcmp(sync, "full") && strcmp(sync, "normal"))) {
    usage(stderr);
    return 2;
  }
  struct store_options o = {.sync_normal = !strcmp(sync, "normal"),
                            .no_group_commit = !strcmp(mode, "single"),
                            .pg_pool_size = (unsigned)nthreads};
  if (store_open(url, &o, &st) != VG_OK)
    return 1;
  run_id = (int64_t)time(NULL);

  pthread_t *th = xcalloc(nthreads, sizeof(*th));
  struct worker *w = xcalloc(nthreads, sizeof(*w));
  double *lat = xcalloc(nthreads * nwrites, sizeof(*lat));
  pthread_barrier_init(&go, NULL, (unsigned)nthreads + 1);
  for (uint64_t i = 0; i < nthreads; i++) {
    w[i] = (struct worker){.id = (int)i, .lat_us = lat + i * nwrites};
    pthread_create(&th[i], NULL, worker_main, &w[i]);
  }
  pthread_barrier_wait(&go);
  double t0 = now_s();
  uint64_t failed = 0;
  for (uint64_t i = 0; i < nthreads; i++) {
    pthread_join(th[i], NULL);
    failed += w[i].failed;
  }
  double secs = now_s() - t0;
  store_close(st);

  uint64_t total = nthreads * nwrites;
  qsort(lat, total, sizeof(*lat), cmp_double);
  printf("{\"backend\":\"%s\",\"mode\":\"%s\",\"sync\":\"%s\",\"threads\":%llu,\"writes\":%llu,"
         "\"failed\":%llu,\"seconds\":%.3f,\"writes_per_s\":%.0f,\"p50_us\":%.0f,"
         "\"p99_us\":%.0f}\n",
         strncmp(url, "postgres", 8) ? "sqlite" : "postgres", mode, sync,
         (unsigned long long)nthreads, (unsigned long long)total, (unsigned long long)failed, secs,
         (double)(total - failed) / secs, lat[total / 2], lat[total * 99 / 100]);
  pthread_barrier_destroy(&go);
  free(lat);
  free(w);
  free(th);
  return failed ? 1 : 0;
}
