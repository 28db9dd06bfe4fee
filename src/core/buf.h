/*
 * buf.h: a growable, bounded byte buffer.
 *
 * Invariants after buf_init(): ptr is never NULL, ptr[len] == '\0', and
 * len <= max. Appending past max fails with VG_TOOBIG and leaves the buffer
 * unchanged: the limit is part of the buffer, set once by its owner, so a
 * buffer filled from outside input can never grow without bound.
 * buf_detach() is the only way to take ownership of the bytes.
 */
#ifndef VG_BUF_H
#define VG_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "core/err.h"

struct buf {
  char *ptr;
  size_t len;
  size_t cap;
  size_t max;
};

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b);
void buf_reset(struct buf *b); /* len = 0, keeps the allocation */
/* Room for n more bytes now (one allocation instead of doublings from
 * 64); VG_TOOBIG past max, VG_NOMEM. */
int buf_reserve(struct buf *b, size_t n) WARN_UNUSED;
int buf_append(struct buf *b, const void *p, size_t n) WARN_UNUSED;
int buf_appends(struct buf *b, const char *s) WARN_UNUSED;
int buf_appendc(struct buf *b, char c) WARN_UNUSED;
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3))) WARN_UNUSED;
int buf_vprintf(struct buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0))) WARN_UNUSED;
char *buf_detach(struct buf *b, size_t *len); /* caller frees; b is re-inited */

#endif
