/*
 * io.h: small, bounded file helpers for start-up (config, keys, secrets).
 */
#ifndef VG_IO_H
#define VG_IO_H

#include <stddef.h>

#include "core/buf.h"

/* Read the whole file into b (appending). Fails with VG_TOOBIG if it is
 * larger than b->max. Returns VG_OK or a negative vg_err; errno is kept. */
int read_file(const char *path, struct buf *b) WARN_UNUSED;

/* Read a secret from a file: at most CFG_MAX_SECRET_FILE bytes, trailing
 * CR/LF and spaces stripped. Returns a malloc'd string or NULL (errno set,
 * or EINVAL for an empty secret). The caller wipes and frees it. */
char *read_secret_file(const char *path);

#endif
