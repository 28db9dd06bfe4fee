#include "core/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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

int write_file_atomic(const char *path, const void *p, size_t n, mode_t mode, bool sync)
{
  const char *b = p;
  unsigned char r[8];
  char tmp[4200], rh[17];
  size_t off = 0;
  int fd, saved;

  random_bytes(r, sizeof(r));
  hex_encode(r, sizeof(r), rh);
  if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%s.tmp", path, rh) >= sizeof(tmp)) {
    errno = ENAMETOOLONG;
    return VG_IO;
  }
  fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0)
    return VG_IO;
  while (off < n) {
    ssize_t w = write(fd, b + off, n - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      if (w == 0)
        errno = EIO;
      goto fail;
    }
    off += (size_t)w;
  }
  if ((sync && fsync(fd) != 0))
    goto fail;
  if (close(fd) != 0) {
    fd = -1;
    goto fail;
  }
  fd = -1;
  if (rename(tmp, path) != 0)
    goto fail;
  return VG_OK;
fail:
  saved = errno;
  if (fd >= 0)
    close(fd);
  unlink(tmp);
  errno = saved;
  return VG_IO;
}
