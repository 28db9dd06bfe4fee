#include "core/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/util.h"

/* Atomic: SIGHUP reloads change it while worker threads log. */
static _Atomic(enum log_level) log_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level lvl)
{
  log_level = lvl;
}

enum log_level log_get_level(void)
{
  return log_level;
}

int log_parse_level(const char *s, enum log_level *out)
{
  for (int i = 0; i < 4; i++) {
    if (strcmp(s, level_names[i]) == 0) {
      *out = (enum log_level)i;
      return 0;
    }
  }
  return -1;
}

/* Digits of v (0 <= v < 10^w) in exactly w places, zero-padded. */
static char *put_digits(char *p, unsigned v, int w)
{
  for (int i = w - 1; i >= 0; i--) {
    p[i] = (char)('0' + v % 10);
    v /= 10;
  }
  return p + w;
}

/* The part before the milliseconds changes once a second: each thread keeps
 * it, so most lines cost one clock_gettime and three digits (gmtime_r takes
 * a process-wide lock and snprintf is slow). */
size_t log_timestamp(char out[LOG_TS_MAX])
{
  static _Thread_local time_t last = (time_t)-1;
  static _Thread_local char prefix[LOG_TS_MAX - 8]; /* "YYYY-MM-DDTHH:MM:SS" */
  static _Thread_local size_t plen;
  struct timespec ts;
  char *p;

  clock_gettime(CLOCK_REALTIME, &ts);
  if (ts.tv_sec != last) {
    struct tm tm;
    int n;
    if (!gmtime_r(&ts.tv_sec, &tm))
      memset(&tm, 0, sizeof(tm));
    n = snprintf(prefix, sizeof(prefix), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    plen = n < 0 ? 0 : (size_t)n < sizeof(prefix) ? (size_t)n : sizeof(prefix) - 1;
    last = ts.tv_sec;
  }
  memcpy(out, prefix, plen);
  p = out + plen;
  *p++ = '.';
  p = put_digits(p, (unsigned)(ts.tv_nsec / 1000000), 3);
  *p++ = 'Z';
  *p = '\0';
  return (size_t)(p - out);
}

static void write_all(const char *s, size_t n)
{
  while (n > 0) {
    ssize_t w = write(STDERR_FILENO, s, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return;
    s += w;
    n -= (size_t)w;
  }
}

/* Batched output (log_async_start): lines go into `front` under the lock;
 * the vg-log thread swaps it with `back` at most flush_ms after the first
 * line went in (or at once when it is half full) and writes `back` with one
 * write(2), outside the lock. A line is copied whole, so lines never
 * interleave and keep the order in which they were logged. When `front` is
 * full the caller waits for the swap: nothing is dropped. */
#define LOG_BATCH_CAP (256 * 1024)

static struct {
  pthread_mutex_t mu;
  pthread_cond_t wake;  /* the logger: first line, urgent or stop */
  pthread_cond_t space; /* callers waiting for room in front */
  pthread_t thread;
  char *front, *back;
  size_t nfront;
  unsigned flush_ms;
  bool running; /* lines go through front; read and written under mu */
  bool urgent;  /* front is half full or a caller waits */
  bool writing; /* the logger is writing back (outside the lock) */
  bool stop;
} la = {.mu = PTHREAD_MUTEX_INITIALIZER, .space = PTHREAD_COND_INITIALIZER};

static void *log_main(void *arg)
{
  (void)arg;
  thread_name("vg-log");
  pthread_mutex_lock(&la.mu);
  for (;;) {
    while (la.nfront == 0 && !la.stop)
      pthread_cond_wait(&la.wake, &la.mu);
    if (la.nfront == 0)
      break; /* stopping and everything written */
    if (!la.urgent && !la.stop && la.flush_ms > 0) {
      struct timespec until;
      clock_gettime(CLOCK_MONOTONIC, &until);
      until.tv_nsec += (long)(la.flush_ms % 1000) * 1000000L;
      until.tv_sec += (time_t)(la.flush_ms / 1000) + until.tv_nsec / 1000000000L;
      until.tv_nsec %= 1000000000L;
      while (!la.urgent && !la.stop)
        if (pthread_cond_timedwait(&la.wake, &la.mu, &until) == ETIMEDOUT)
          break;
    }
    char *out = la.front;
    size_t n = la.nfront;
    la.front = la.back;
    la.back = out;
    la.nfront = 0;
    la.urgent = false;
    la.writing = true;
    pthread_cond_broadcast(&la.space);
    pthread_mutex_unlock(&la.mu);
    write_all(out, n);
    pthread_mutex_lock(&la.mu);
    la.writing = false;
    pthread_cond_broadcast(&la.space);
  }
  la.running = false;
  pthread_cond_broadcast(&la.space);
  pthread_mutex_unlock(&la.mu);
  return NULL;
}

/* A child of fork() has no logger thread: it writes directly. */
static void log_atfork_child(void)
{
  la.running = false;
  la.nfront = 0;
}

/* Once per process: the logger's condition variable times out on the
 * monotonic clock (a wall-clock step must not hold a batch back). */
static void log_once(void)
{
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  pthread_cond_init(&la.wake, &a);
  pthread_condattr_destroy(&a);
  (void)pthread_atfork(NULL, NULL, log_atfork_child);
}

int log_async_start(unsigned flush_ms)
{
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  int rc = 0;

  if (flush_ms == 0)
    return 0;
  (void)pthread_once(&once, log_once);
  pthread_mutex_lock(&la.mu);
  if (la.running) {
    pthread_mutex_unlock(&la.mu);
    return 0;
  }
  if (!la.front) {
    la.front = xmalloc(LOG_BATCH_CAP);
    la.back = xmalloc(LOG_BATCH_CAP);
  }
  la.flush_ms = flush_ms;
  la.stop = false;
  la.urgent = false;
  la.running = true;
  if (pthread_create(&la.thread, NULL, log_main, NULL) != 0) {
    la.running = false;
    rc = -1;
  }
  pthread_mutex_unlock(&la.mu);
  return rc;
}

void log_async_stop(void)
{
  pthread_mutex_lock(&la.mu);
  if (!la.running || la.stop) {
    pthread_mutex_unlock(&la.mu);
    return;
  }
  la.stop = true;
  pthread_cond_signal(&la.wake);
  pthread_mutex_unlock(&la.mu);
  pthread_join(la.thread, NULL);
  pthread_mutex_lock(&la.mu);
  la.stop = false;
  pthread_mutex_unlock(&la.mu);
}

void log_write(const char *s, size_t n)
{
  pthread_mutex_lock(&la.mu);
  if (n > LOG_BATCH_CAP / 2) {
    /* Larger than any line vodgate makes: written directly, once whatever
     * was logged before it is out, so the order holds. */
    while (la.running && (la.nfront > 0 || la.writing)) {
      la.urgent = true;
      pthread_cond_signal(&la.wake);
      pthread_cond_wait(&la.space, &la.mu);
    }
    write_all(s, n);
    pthread_mutex_unlock(&la.mu);
    return;
  }
  while (la.running && la.nfront + n > LOG_BATCH_CAP) {
    la.urgent = true;
    pthread_cond_signal(&la.wake);
    pthread_cond_wait(&la.space, &la.mu);
  }
  if (!la.running) {
    /* Not started, or stopped (everything before is written): direct,
     * under the lock so that it cannot overtake a batch. */
    write_all(s, n);
    pthread_mutex_unlock(&la.mu);
    return;
  }
  memcpy(la.front + la.nfront, s, n);
  la.nfront += n;
  if (la.nfront == n) {
    pthread_cond_signal(&la.wake);
  } else if (!la.urgent && la.nfront > LOG_BATCH_CAP / 2) {
    la.urgent = true;
    pthread_cond_signal(&la.wake);
  }
  pthread_mutex_unlock(&la.mu);
}

void log_json(enum log_level lvl, json_t *obj)
{
  char ts[LOG_TS_MAX];
  char *line;
  size_t n;

  if (!obj)
    return;
  if (lvl < log_level) {
    json_decref(obj);
    return;
  }
  log_timestamp(ts);
  json_object_set_new(obj, "ts", json_string(ts));
  json_object_set_new(obj, "level", json_string(level_names[lvl]));
  line = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
  json_decref(obj);
  if (!line)
    return;
  n = strlen(line);
  line[n] = '\0';
  {
    struct buf b;
    buf_init(&b, n + 2);
    if (buf_append(&b, line, n) == 0 && buf_appendc(&b, '\n') == 0)
      log_write(b.ptr, b.len);
    buf_release(&b);
  }
  free(line);
}

static void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
  char msg[2048];
  json_t *o;

  if (lvl < log_level)
    return;
  vsnprintf(msg, sizeof(msg), fmt, ap);
  o = json_object();
  json_object_set_new(o, "msg", json_string(msg));
  if (!json_object_get(o, "msg")) /* message was not UTF-8 */
    json_object_set_new(o, "msg", json_string("(unprintable message)"));
  log_json(lvl, o);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  log_vmsg(lvl, fmt, ap);
  va_end(ap);
}

int error(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  log_vmsg(LOG_ERROR, fmt, ap);
  va_end(ap);
  return -1;
}
