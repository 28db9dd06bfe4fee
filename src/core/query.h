/*
 * query.h: URL query strings (application/x-www-form-urlencoded and RFC 3986
 * percent-encoding), shared by the upload signature, TC3 and COS code.
 *
 * Encoding is strict RFC 3986: the unreserved set A-Z a-z 0-9 - . _ ~ is
 * copied, every other byte becomes %XX with upper-case hex (so a space is
 * %20, never '+').
 *
 * Parsing is lenient about style and strict about meaning, so that the query
 * strings of every common encoder (Node querystring, PHP http_build_query,
 * Java URLEncoder, Python urlencode, Go url.Values) parse to the same pairs:
 * '+' and %20 are both a space, hex may be either case, characters that
 * some encoders leave raw (~ * ' ( ) ! and others) are taken as they are, and
 * keys may come in any order. It rejects what has no single meaning: a '%'
 * not followed by two hex digits, an empty key, a key given twice, decoded
 * bytes that are not UTF-8, too many pairs. Stylistic irregularities are
 * reported as QUERY_F_* flags per pair, for linting.
 *
 * Memory: struct query holds no allocation. Decoded keys and values live in
 * a caller-provided store of QUERY_STORE_SIZE(n) bytes, each NUL-terminated
 * (values may also contain NUL bytes from %00: use the lengths). The pairs
 * point into that store, and raw_off/raw_len locate each pair's bytes in the
 * input, which the parser never modifies or keeps.
 */
#ifndef VG_QUERY_H
#define VG_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/limits.h"

/* Per-pair style flags (none of them is an error). */
enum {
  QUERY_F_PLUS = 1 << 0,          /* '+' used for a space (PHP, Java, Python) */
  QUERY_F_LOWER_HEX = 1 << 1,     /* an escape with lower-case hex digits */
  QUERY_F_RAW_SPECIAL = 1 << 2,   /* a raw byte that every encoder escapes:
                                     space, control, non-ASCII, or one of
                                     " # / : ; < > ? @ [ \ ] ^ ` { | } , $ = */
  QUERY_F_NO_EQUALS = 1 << 3,     /* "key" without '=': value is empty */
  QUERY_F_EMPTY_SEGMENT = 1 << 4, /* set in query.flags only: "&&" or a
                                     leading/trailing '&' */
};

enum query_error {
  QUERY_OK = 0,
  QUERY_BAD_ESCAPE, /* '%' not followed by two hex digits */
  QUERY_EMPTY_KEY,  /* "=value" */
  QUERY_DUP_KEY,    /* the same decoded key twice */
  QUERY_BAD_UTF8,   /* a decoded key or value is not valid UTF-8 */
  QUERY_TOO_MANY,   /* more pairs than the caller's maximum */
  QUERY_TOO_LONG,   /* input longer than QUERY_MAX_INPUT */
  QUERY_NO_ROOM,    /* store smaller than QUERY_STORE_SIZE(n) (a bug) */
};

struct query_pair {
  const char *key; /* decoded, NUL-terminated, in the store */
  size_t key_len;
  const char *val; /* decoded, NUL-terminated, in the store */
  size_t val_len;
  size_t raw_off; /* the raw "key=value" bytes in the input */
  size_t raw_len;
  unsigned flags; /* QUERY_F_* */
};

struct query {
  struct query_pair pairs[QUERY_MAX_PAIRS];
  size_t n;
  unsigned flags;  /* OR of the pairs' flags, plus QUERY_F_EMPTY_SEGMENT */
  size_t err_off;  /* after an error: offset in the input where it is */
  size_t err_pair; /* after QUERY_DUP_KEY / QUERY_BAD_UTF8: pair index */
};

/* Bytes of store query_parse() needs for an input of n bytes. */
#define QUERY_STORE_SIZE(n) ((n) + 2 * QUERY_MAX_PAIRS + 2)

/* Append the RFC 3986 encoding of [s, s+n) to b. Returns VG_OK or VG_TOOBIG
 * (b unchanged beyond what it held). */
int query_escape(struct buf *b, const char *s, size_t n) WARN_UNUSED;

/* Append "key=escaped(val)" to b, preceded by '&' unless b is empty. The key
 * is escaped too. Returns VG_OK or VG_TOOBIG. */
int query_append(struct buf *b, const char *key, const char *val, size_t val_len) WARN_UNUSED;

/* Parse [s, s+n) into q, decoding into store (store_size bytes, at least
 * QUERY_STORE_SIZE(n)). At most max_pairs (<= QUERY_MAX_PAIRS) pairs. Empty
 * segments are skipped. Returns QUERY_OK, or the first error with
 * q->err_off (and q->err_pair where it applies) set; q->n then counts the
 * pairs parsed before the error. */
enum query_error query_parse(struct query *q, const char *s, size_t n, char *store,
                             size_t store_size, size_t max_pairs);

/* The pair whose decoded key is key (NUL-terminated), or NULL. */
const struct query_pair *query_get(const struct query *q, const char *key);

/* A stable short English description of e ("malformed percent-escape"). */
const char *query_error_str(enum query_error e);

#endif
