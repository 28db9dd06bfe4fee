#include "core/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/limits.h"
#include "core/util.h"

int read_file(const char *path, struct buf *b)
{
  char chunk[8192];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  int rc = VG_OK;

  if (fd < 0)
    return VG_IO;
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      rc = VG_IO;
      break;
    }
    if (n == 0)
      break;
    rc = buf_append(b, chunk, (size_t)n);
    if (rc)
      break;
  }
  secure_zero(chunk, sizeof(chunk));
  {
    int saved = errno;
    close(fd);
    errno = saved;
  }
  return rc;
}

char *read_secret_file(const char *path)
{
  struct buf b;
  char *s;
  size_t n;

  buf_init(&b, CFG_MAX_SECRET_FILE);
  if (read_file(path, &b)) {
    if (b.len > 0)
      errno = EFBIG;
    secure_zero(b.ptr, b.len);
    buf_release(&b);
    return NULL;
  }
  while (b.len > 0 && (b.ptr[b.len - 1] == '\n' || b.ptr[b.len - 1] == '\r' ||
                       b.ptr[b.len - 1] == ' ' || b.ptr[b.len - 1] == '\t'))
    b.ptr[--b.len] = '\0';
  if (b.len == 0) {
    buf_release(&b);
    errno = EINVAL;
    return NULL;
  }
  s = buf_detach(&b, &n);
  return s;
}
