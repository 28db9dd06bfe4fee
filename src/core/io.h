/*
 * io.h: small, bounded file helpers for start-up (config, keys, secrets).
 */
#ifndef VG_IO_H
#define VG_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/buf.h"

/* Read the whole file into b (appending). Fails with VG_TOOBIG if it is
 * larger than b->max. Returns VG_OK or a negative vg_err; errno is kept. */
int read_file(const char *path, struct buf *b) WARN_UNUSED;

/* Read a secret from a file: at most CFG_MAX_SECRET_FILE bytes, trailing
 * CR/LF and spaces stripped. Returns a malloc'd string or NULL (errno set,
 * or EINVAL for an empty secret). The caller wipes and frees it. */
char *read_secret_file(const char *path);

/* Replace path with n bytes from p, whole or not at all: a new file beside
 * it (a random name, O_EXCL|O_NOFOLLOW, so nothing left there or linked
 * there is reused, created with mode), then rename. sync: fsync before the
 * rename, so that a power loss leaves the old or the new content. Returns
 * VG_OK, or VG_IO with errno set (the new file removed). */
int write_file_atomic(const char *path, const void *p, size_t n, mode_t mode,
                      bool sync) WARN_UNUSED;

#endif
