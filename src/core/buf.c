#include "core/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static char buf_empty[1];

void buf_init(struct buf *b, size_t max)
{
  b->ptr = buf_empty;
  b->len = 0;
  b->cap = 0;
  b->max = max;
}

void buf_release(struct buf *b)
{
  if (b->cap)
    free(b->ptr);
  buf_init(b, b->max);
}

void buf_reset(struct buf *b)
{
  b->len = 0;
  if (b->cap)
    b->ptr[0] = '\0';
}

static int buf_grow(struct buf *b, size_t extra)
{
  size_t need, cap;
  char *p;

  if (extra > b->max || b->len > b->max - extra)
    return VG_TOOBIG;
  need = b->len + extra + 1;
  if (need <= b->cap)
    return VG_OK;
  cap = b->cap ? b->cap : 64;
  while (cap < need)
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  if (cap > b->max + 1)
    cap = b->max + 1;
  p = b->cap ? realloc(b->ptr, cap) : malloc(cap);
  if (!p)
    return VG_NOMEM;
  if (!b->cap)
    p[0] = '\0';
  b->ptr = p;
  b->cap = cap;
  return VG_OK;
}

int buf_reserve(struct buf *b, size_t n)
{
  return buf_grow(b, n);
}

int buf_append(struct buf *b, const void *p, size_t n)
{
  int rc = buf_grow(b, n);
  if (rc)
    return rc;
  if (n)
    memcpy(b->ptr + b->len, p, n);
  b->len += n;
  b->ptr[b->len] = '\0';
  return VG_OK;
}

int buf_appends(struct buf *b, const char *s)
{
  return buf_append(b, s, strlen(s));
}

int buf_appendc(struct buf *b, char c)
{
  return buf_append(b, &c, 1);
}

int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
  va_list cp;
  int n, rc;

  va_copy(cp, ap);
  n = vsnprintf(NULL, 0, fmt, cp);
  va_end(cp);
  if (n < 0)
    return VG_INVALID;
  rc = buf_grow(b, (size_t)n);
  if (rc)
    return rc;
  vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return VG_OK;
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
  va_list ap;
  int rc;

  va_start(ap, fmt);
  rc = buf_vprintf(b, fmt, ap);
  va_end(ap);
  return rc;
}

char *buf_detach(struct buf *b, size_t *len)
{
  char *p;

  if (len)
    *len = b->len;
  if (!b->cap)
    p = xstrdup("");
  else
    p = b->ptr;
  buf_init(b, b->max);
  return p;
}
