/* Unit tests for core/io's write_file_atomic: the file is replaced whole,
 * with the mode given, whatever was there; nothing is left beside it; a
 * failure leaves the old content and no temporary file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/io.h"

static char dir[64];

static int setup(void **state)
{
  snprintf(dir, sizeof(dir), "/tmp/vg-io-XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "%s", dir);
  DIR *d = opendir(dir);
  struct dirent *e;
  while (d && (e = readdir(d))) {
    char p[512];
    if (e->d_name[0] == '.')
      continue;
    snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
    unlink(p);
  }
  if (d)
    closedir(d);
  return rmdir(cmd);
}

static int entries(void)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  assert_non_null(d);
  while ((e = readdir(d)))
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static void content_is(const char *path, const char *want)
{
  struct buf b;
  buf_init(&b, 1024);
  assert_int_equal(read_file(path, &b), VG_OK);
  assert_int_equal(b.len, strlen(want));
  assert_memory_equal(b.ptr, want, b.len);
  buf_release(&b);
}

static void replaces_whole_with_mode(void **state)
{
  char path[128];
  struct stat st;

  snprintf(path, sizeof(path), "%s/f.json", dir);
  assert_int_equal(write_file_atomic(path, "first", 5, 0600, true), VG_OK);
  content_is(path, "first");
  /* Another mode there before: the new file has the one asked for. */
  assert_int_equal(chmod(path, 0666), 0);
  assert_int_equal(write_file_atomic(path, "second!", 7, 0600, false), VG_OK);
  content_is(path, "second!");
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(entries(), 1); /* no temporary file left */
  assert_int_equal(write_file_atomic(path, "", 0, 0600, true), VG_OK);
  content_is(path, "");
}

static void failure_keeps_the_old_file(void **state)
{
  char path[128];

  snprintf(path, sizeof(path), "%s/none/f.json", dir);
  errno = 0;
  assert_int_equal(write_file_atomic(path, "x", 1, 0600, true), VG_IO);
  assert_int_equal(errno, ENOENT);
  /* A directory in the way: rename fails, the new file goes, the old stays. */
  snprintf(path, sizeof(path), "%s/d", dir);
  assert_int_equal(mkdir(path, 0700), 0);
  assert_int_equal(write_file_atomic(path, "x", 1, 0600, true), VG_IO);
  assert_int_equal(errno, EISDIR);
  assert_int_equal(rmdir(path), 0);
  assert_int_equal(entries(), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(replaces_whole_with_mode, setup, teardown),
      cmocka_unit_test_setup_teardown(failure_keeps_the_old_file, setup, teardown),
  };
  return cmocka_run_group_tests_name("io", tests, NULL, NULL);
}
