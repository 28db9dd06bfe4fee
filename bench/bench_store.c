/*
 * bench_store: acknowledged single-row writes per second through store.h.
 *
 * T threads each call store_event_insert() W times with a unique key and a
 * ~130-byte JSON body (the row of STACK.md 3.4); a write counts when
 * store_event_insert returned VG_OK, i.e. after its COMMIT. Prints one JSON
 * line with the rate and the per-write latency percentiles.
 *
 *   bench_store --url sqlite:/tmp/x.db [--threads 64] [--writes 500]
 *               [--mode group|single|async] [--sync full|normal] [--body-bytes 130]
 *
 * group: T threads block in store_run (group commit); single: the same with
 * one commit per write; async: one thread keeps T store_submit() writes in
 * flight (what an HTTP server that suspends connections does).
 *
 * --body-bytes pads the JSON body (issue 4's realistic events are ~3 KB).
 */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "store/store.h"

static struct store *st;
static uint64_t nwrites = 500;
static pthread_barrier_t go;
static int64_t run_id;
static char *body; /* the JSON body every write stores */

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

/* async mode */
struct aop {
  char key[96];
  struct store_event ev;
  bool is_new;
  double t0;
  double *lat;
};
static pthread_mutex_t amu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t acv = PTHREAD_COND_INITIALIZER;
static uint64_t inflight, afailed;

static int aop_fn(struct store_tx *tx, void *arg)
{
  struct aop *o = arg;
  return store_tx_event_insert(tx, &o->ev, &o->is_new);
}

static void aop_done(int rc, void *arg)
{
  struct aop *o = arg;
  *o->lat = (now_s() - o->t0) * 1e6;
  pthread_mutex_lock(&amu);
  if (rc != VG_OK || !o->is_new)
    afailed++;
  inflight--;
  pthread_cond_signal(&acv);
  pthread_mutex_unlock(&amu);
}

static void run_async(uint64_t window, uint64_t total, double *lat)
{
  struct aop *ops = xcalloc(total, sizeof(*ops));
  for (uint64_t i = 0; i < total; i++) {
    struct aop *o = &ops[i];
    pthread_mutex_lock(&amu);
    while (inflight >= window)
      pthread_cond_wait(&acv, &amu);
    inflight++;
    pthread_mutex_unlock(&amu);
    snprintf(o->key, sizeof(o->key), "bench/%lld/a/%llu", (long long)run_id, (unsigned long long)i);
    o->ev = (struct store_event){.event_key = o->key,
                                 .source = "push",
                                 .type = "NewFileUpload",
                                 .file_id = o->key + 6,
                                 .body_json = body,
                                 .received_at = 1};
    o->lat = &lat[i];
    o->t0 = now_s();
    if (store_submit(st, aop_fn, o, aop_done, o) != VG_OK) {
      pthread_mutex_lock(&amu);
      afailed++;
      inflight--;
      pthread_mutex_unlock(&amu);
    }
  }
  pthread_mutex_lock(&amu);
  while (inflight)
    pthread_cond_wait(&acv, &amu);
  pthread_mutex_unlock(&amu);
  free(ops);
}

/* CPU seconds used by the whole machine (all cores), from /proc/stat. */
static double machine_busy_s(void)
{
  char line[512];
  FILE *f = fopen("/proc/stat", "r");
  if (!f)
    return 0;
  double busy = 0;
  if (fgets(line, sizeof(line), f) && !strncmp(line, "cpu ", 4)) {
    char *p = line + 4;
    /* user nice system idle iowait irq softirq steal */
    for (int i = 0; i < 8; i++) {
      unsigned long long v = strtoull(p, &p, 10);
      if (i != 3 && i != 4)
        busy += (double)v;
    }
  }
  fclose(f);
  return busy / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void usage(FILE *f)
{
  fprintf(f, "usage: bench_store --url URL [--threads N] [--writes N] [--mode group|single|async]"
             " [--sync full|normal] [--body-bytes N]\n");
}

int main(int argc, char **argv)
{
  static const struct option opts[] = {
      {"url", required_argument, NULL, 'u'},        {"threads", required_argument, NULL, 't'},
      {"writes", required_argument, NULL, 'w'},     {"mode", required_argument, NULL, 'm'},
      {"sync", required_argument, NULL, 's'},       {"help", no_argument, NULL, 'h'},
      {"body-bytes", required_argument, NULL, 'b'}, {NULL, 0, NULL, 0},
  };
  const char *url = NULL, *mode = "group", *sync = "full";
  uint64_t nthreads = 64, body_bytes = 130;
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
    case 'b':
      if (parse_u64z(optarg, &body_bytes) || body_bytes < 100 || body_bytes > 60000)
        return usage(stderr), 2;
      break;
    case 'm': mode = optarg; break;
    case 's': sync = optarg; break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (!url || (strcmp(mode, "group") && strcmp(mode, "single") && strcmp(mode, "async")) ||
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
  /* {"EventType":"NewFileUpload","Pad":"xxx..."}: valid JSON of the size asked */
  static const char head[] = "{\"EventType\":\"NewFileUpload\",\"Pad\":\"";
  body = xmalloc(body_bytes + 1);
  memcpy(body, head, sizeof(head) - 1);
  memset(body + sizeof(head) - 1, 'x', body_bytes - (sizeof(head) - 1) - 2);
  memcpy(body + body_bytes - 2, "\"}", 3);

  uint64_t total = nthreads * nwrites, failed = 0;
  pthread_t *th = xcalloc(nthreads, sizeof(*th));
  struct worker *w = xcalloc(nthreads, sizeof(*w));
  double *lat = xcalloc(nthreads * nwrites, sizeof(*lat));
  pthread_barrier_init(&go, NULL, (unsigned)nthreads + 1);
  double t0, busy0 = machine_busy_s(), self0 = self_cpu_s();
  if (!strcmp(mode, "async")) {
    t0 = now_s();
    run_async(nthreads, total, lat);
    failed = afailed;
  } else {
    for (uint64_t i = 0; i < nthreads; i++) {
      w[i] = (struct worker){.id = (int)i, .lat_us = lat + i * nwrites};
      pthread_create(&th[i], NULL, worker_main, &w[i]);
    }
    pthread_barrier_wait(&go);
    t0 = now_s();
    for (uint64_t i = 0; i < nthreads; i++) {
      pthread_join(th[i], NULL);
      failed += w[i].failed;
    }
  }
  double secs = now_s() - t0;
  /* Cores used by other processes during the run: the noise indicator. */
  double self_cpu = self_cpu_s() - self0;
  double other = (machine_busy_s() - busy0 - self_cpu) / secs;
  store_close(st);

  qsort(lat, total, sizeof(*lat), cmp_double);
  printf("{\"backend\":\"%s\",\"mode\":\"%s\",\"sync\":\"%s\",\"body_bytes\":%llu,\"threads\":%llu,"
         "\"writes\":%llu,"
         "\"failed\":%llu,\"seconds\":%.3f,\"writes_per_s\":%.0f,\"p50_us\":%.0f,"
         "\"p99_us\":%.0f,\"cpu_us_per_write\":%.1f,\"other_load\":%.2f}\n",
         strncmp(url, "postgres", 8) ? "sqlite" : "postgres", mode, sync,
         (unsigned long long)body_bytes, (unsigned long long)nthreads, (unsigned long long)total,
         (unsigned long long)failed, secs, (double)(total - failed) / secs, lat[total / 2],
         lat[total * 99 / 100], self_cpu * 1e6 / (double)total, other < 0 ? 0 : other);
  pthread_barrier_destroy(&go);
  free(body);
  free(lat);
  free(w);
  free(th);
  return failed ? 1 : 0;
}
