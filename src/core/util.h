/*
 * util.h: allocation wrappers, strict number parsing, constant-time compare.
 *
 * Allocation policy: x*alloc() abort the process on OOM (start-up and small
 * fixed-size allocations). Code whose allocation size comes from outside
 * input uses struct buf (bounded) or plain malloc and returns VG_NOMEM.
 */
#ifndef VG_UTIL_H
#define VG_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* Strict decimal parsing of the whole of [s, s+n): digits only (with an
 * optional leading '-' for the signed form), no spaces, no '+', no leading
 * zeros beyond a single "0", no overflow. Return 0 or -1. */
int parse_u64(const char *s, size_t n, uint64_t *out);
int parse_i64(const char *s, size_t n, int64_t *out);
/* NUL-terminated conveniences. */
int parse_u64z(const char *s, uint64_t *out);
int parse_i64z(const char *s, int64_t *out);

/* Constant-time comparison of two byte strings; lengths are not secret. */
bool ct_equal(const void *a, size_t alen, const void *b, size_t blen);
/* Wipe a secret; not optimised away. */
void secure_zero(void *p, size_t n);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void hex_encode(const unsigned char *in, size_t n, char *out);

/* Fill with bytes from the OpenSSL CSPRNG; aborts if the RNG fails. */
void random_bytes(void *p, size_t n);
/* The same CSPRNG bytes for small draws on hot paths (n <= 64): taken from
 * a per-thread pool refilled 2048 bytes at a time, since in OpenSSL 3 one
 * RAND_bytes() call costs about as much as an HMAC. Taken bytes are wiped
 * from the pool, and a forked child starts with an empty pool
 * (pthread_atfork), so it never repeats its parent's values. For keys use
 * random_bytes. */
void random_small(void *p, size_t n);

/* Decimal text of v into out, without a NUL; returns its length (at most
 * 20). snprintf's "%llu"/"%lld" without the format machinery, for hot
 * paths (the signature's query string, stored parameters). */
size_t fmt_u64(char out[20], uint64_t v);
size_t fmt_i64(char out[21], int64_t v);

/* Copies the string src into dst[cap] (cap >= 1), cut to cap - 1 bytes,
 * always NUL-terminated: snprintf(dst, cap, "%s", src) without the format
 * machinery, for hot paths. Returns the length written. */
size_t str_copy(char *dst, size_t cap, const char *src);

/* Names the calling thread (at most 15 bytes shown), for top -H, perf and
 * gdb: vg-writer, vg-ckpt, ... Best effort. */
void thread_name(const char *name);

/* True if [s, s+n) is well-formed UTF-8 (no overlongs, no surrogates). */
bool utf8_valid(const char *s, size_t n);
/* Number of code points of valid UTF-8. */
size_t utf8_count(const char *s, size_t n);

#endif
