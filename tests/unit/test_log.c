/* Unit tests for core/log's batching (log_async_start): every line comes
 * out exactly once, whole, in the order each thread logged it, including
 * when stderr stalls and the batch fills up, with a line too large for a
 * batch in between, and without log_async_stop() (the interval). stderr is
 * a pipe read by a thread of the test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"

#define THREADS 4
#define LINES   20000 /* per thread: ~560 KB in all, twice the batch */

struct reader {
  int fd;
  unsigned delay_ms; /* before the first read: stderr stalls */
  struct buf got;    /* read by the test once the reader is joined */
  _Atomic size_t n;  /* bytes read so far, for the test to poll */
  bool overflow;
};

static void *reader_main(void *arg)
{
  struct reader *r = arg;
  char chunk[65536];
  ssize_t n;

  if (r->delay_ms) {
    struct timespec d = {(time_t)(r->delay_ms / 1000), (long)(r->delay_ms % 1000) * 1000000L};
    nanosleep(&d, NULL);
  }
  /* No cmocka assertion here: they may only fail on the test's thread. */
  while ((n = read(r->fd, chunk, sizeof(chunk))) > 0) {
    if (buf_append(&r->got, chunk, (size_t)n) != 0)
      r->overflow = true;
    r->n += (size_t)n;
  }
  return NULL;
}

struct capture {
  int saved;
  pthread_t t;
  struct reader r;
};

/* stderr becomes a pipe read into c->r.got until capture_end(). */
static void capture_begin(struct capture *c, unsigned delay_ms)
{
  int p[2];
  assert_int_equal(pipe(p), 0);
  c->saved = dup(STDERR_FILENO);
  assert_true(c->saved >= 0);
  assert_true(dup2(p[1], STDERR_FILENO) >= 0);
  close(p[1]);
  c->r.fd = p[0];
  c->r.delay_ms = delay_ms;
  c->r.n = 0;
  c->r.overflow = false;
  buf_init(&c->r.got, 64u << 20);
  assert_int_equal(pthread_create(&c->t, NULL, reader_main, &c->r), 0);
}

static void capture_end(struct capture *c)
{
  assert_true(dup2(c->saved, STDERR_FILENO) >= 0); /* closes the write end */
  close(c->saved);
  pthread_join(c->t, NULL);
  close(c->r.fd);
  assert_false(c->r.overflow);
}

static void *writer_main(void *arg)
{
  int id = (int)(intptr_t)arg;
  char line[64];
  for (int i = 0; i < LINES; i++) {
    int n = snprintf(line, sizeof(line), "t%d %d\n", id, i);
    log_write(line, (size_t)n);
  }
  return NULL;
}

/* Each thread's lines, whole and in order; returns how many lines in all. */
static int check_lines(const char *s, size_t len, int threads, int lines)
{
  int next[THREADS] = {0};
  int total = 0;
  const char *end = s + len;

  while (s < end) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    int id = -1, i = -1;
    assert_non_null(nl);
    if (s[0] == 't') {
      char *after;
      id = (int)strtol(s + 1, &after, 10);
      assert_int_equal(*after, ' ');
      i = (int)strtol(after + 1, &after, 10);
      assert_ptr_equal(after, nl);
      assert_true(id >= 0 && id < threads);
      assert_int_equal(i, next[id]);
      next[id]++;
      total++;
    }
    s = nl + 1;
  }
  for (int t = 0; t < threads; t++)
    assert_int_equal(next[t], lines);
  return total;
}

/* THREADS x LINES lines through batches of flush_ms, stderr read from
 * delay_ms on: each thread's lines all out, whole, in order. */
static void threads_through_batches(unsigned delay_ms, unsigned flush_ms)
{
  pthread_t t[THREADS];
  struct capture c;

  capture_begin(&c, delay_ms);
  assert_int_equal(log_async_start(flush_ms), 0);
  for (int i = 0; i < THREADS; i++)
    assert_int_equal(pthread_create(&t[i], NULL, writer_main, (void *)(intptr_t)i), 0);
  for (int i = 0; i < THREADS; i++)
    pthread_join(t[i], NULL);
  log_async_stop();
  capture_end(&c);
  assert_int_equal(check_lines(c.r.got.ptr, c.r.got.len, THREADS, LINES), THREADS * LINES);
  buf_release(&c.r.got);
}

static void every_line_once_in_order(void **state)
{
  (void)state;
  threads_through_batches(0, 5);
}

/* The reader starts late: the logger blocks in write(2), the batch fills
 * and the threads wait for room; nothing is lost or reordered. */
static void stalled_stderr_loses_nothing(void **state)
{
  (void)state;
  threads_through_batches(300, 1000);
}

/* A line larger than a batch goes out directly, after what came before it
 * and before what comes after. Formatted lines (log_info) share the order. */
static void large_line_keeps_the_order(void **state)
{
  struct capture c;
  size_t big = 200 * 1024;
  char *line = malloc(big);
  const char *s, *b, *a;
  (void)state;
  assert_non_null(line);
  memset(line, 'x', big - 1);
  line[big - 1] = '\n';
  capture_begin(&c, 0);
  assert_int_equal(log_async_start(50), 0);
  log_write("before\n", 7);
  log_write(line, big);
  log_info("after");
  log_async_stop();
  log_write("direct\n", 7);
  capture_end(&c);
  s = c.r.got.ptr;
  assert_true(c.r.got.len > 7 + big);
  assert_memory_equal(s, "before\n", 7);
  assert_memory_equal(s + 7, line, big);
  a = s + 7 + big; /* log_info's line, then "direct" */
  b = memchr(a, '\n', c.r.got.len - 7 - big);
  assert_non_null(b);
  assert_memory_equal(a, "{\"msg\":\"after\",", 15);
  assert_int_equal(c.r.got.len - (size_t)(b + 1 - s), 7);
  assert_memory_equal(b + 1, "direct\n", 7);
  free(line);
  buf_release(&c.r.got);
}

/* Without log_async_stop(), a line still comes out on its own (the batch's
 * interval elapses); the test waits for it with a generous bound. */
static void lines_come_out_without_stop(void **state)
{
  struct capture c;
  bool seen = false;
  (void)state;
  capture_begin(&c, 0);
  assert_int_equal(log_async_start(20), 0);
  log_write("alone\n", 6);
  for (int i = 0; i < 1000 && !seen; i++) {
    struct timespec d = {0, 10 * 1000000L};
    nanosleep(&d, NULL);
    seen = c.r.n >= 6;
  }
  assert_true(seen);
  log_async_stop();
  capture_end(&c);
  assert_int_equal(c.r.got.len, 6);
  assert_memory_equal(c.r.got.ptr, "alone\n", 6);
  buf_release(&c.r.got);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_line_once_in_order),
      cmocka_unit_test(stalled_stderr_loses_nothing),
      cmocka_unit_test(large_line_keeps_the_order),
      cmocka_unit_test(lines_come_out_without_stop),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
