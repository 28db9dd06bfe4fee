#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"

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

static void log_write_line(const char *s, size_t n)
{
  while (n > 0) {
    ssize_t w = write(STDERR_FILENO, s, n);
    if (w <= 0)
      return;
    s += w;
    n -= (size_t)w;
  }
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
      log_write_line(b.ptr, b.len);
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
