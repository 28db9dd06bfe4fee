/*
 * jscan.h: a strict, allocation-light JSON scanner (RFC 8259).
 *
 * One pass over the bytes validates the whole text and records every value
 * as a flat token (no tree of nodes, no per-value allocation: the token
 * array is the caller's buffer, or ONE malloc when that is too small).
 * Strings stay raw (offsets into the caller's bytes) until a caller asks
 * for one: decoding happens only for the values actually used.
 *
 * Acceptance is jansson's json_loadb(JSON_REJECT_DUPLICATES |
 * JSON_DECODE_ANY) without JSON_ALLOW_NUL, so that the two never disagree
 * about a body (event.c keeps jansson as the reference, tests/unit and
 * fuzz/ compare them):
 *   - any value at the top, whitespace (space, tab, CR, LF) around it, and
 *     nothing else after it;
 *   - strings: no control character below 0x20, escapes \" \\ \/ \b \f \n
 *     \r \t \uXXXX only, a \u high surrogate must be followed by a \u low
 *     one, a lone low surrogate and \u0000 are refused, raw bytes must be
 *     well-formed UTF-8 (no overlong forms, no surrogates, <= U+10FFFF);
 *   - numbers: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?; an integer
 *     (no fraction, no exponent) must fit int64_t, a real must not
 *     overflow a double (underflow to 0 is accepted);
 *   - duplicate keys (compared after decoding) are refused in every object;
 *   - nesting deeper than max_depth is refused.
 *
 * Token layout: values in document order. A container's members follow it;
 * tok[i].next is the index just past value i and everything inside it, so
 * siblings are walked with i = tok[i].next. An object's members are (key,
 * value) pairs: key k (a string token), its value k + 1, the next key
 * tok[k + 1].next. Offsets and lengths are uint32_t: texts are at most
 * JSCAN_MAX_LEN bytes.
 */
#ifndef VG_JSCAN_H
#define VG_JSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define JSCAN_MAX_LEN   ((size_t)1 << 30)
#define JSCAN_MAX_DEPTH 64 /* the largest max_depth jscan_parse accepts */

enum jscan_type {
  JSCAN_NULL = 1,
  JSCAN_FALSE,
  JSCAN_TRUE,
  JSCAN_NUMBER,
  JSCAN_STRING,
  JSCAN_ARRAY,
  JSCAN_OBJECT,
};

#define JSCAN_ESCAPED 1u /* string: holds a backslash escape */
#define JSCAN_REAL    2u /* number: has a fraction or an exponent */

struct jscan_tok {
  uint32_t start; /* strings: the byte after the opening quote; else first byte */
  uint32_t len;   /* strings: raw bytes between the quotes; else the lexeme/span */
  uint32_t next;  /* index of the first token after this value */
  uint32_t n;     /* arrays: elements; objects: members; else 0 */
  uint8_t type;   /* enum jscan_type */
  uint8_t flags;  /* JSCAN_ESCAPED, JSCAN_REAL */
};

/* A scanned text. Borrows the bytes (they must outlive it); owns tok when
 * it had to allocate. */
struct jscan {
  const char *s;
  size_t len;
  struct jscan_tok *tok;
  size_t n;   /* tokens used; tok[0] is the top-level value */
  size_t cap; /* tokens available */
  bool owned; /* tok was malloc'd by jscan_parse */
};

/* Scan [s, s+len) with the caller's buf[cap] as the first token array (buf
 * may be NULL, cap 0); when it is too small, one array big enough for any
 * text of this length is malloc'd. max_depth: 1..JSCAN_MAX_DEPTH, the
 * deepest nesting accepted ({} alone is depth 1). Returns VG_OK, VG_INVALID
 * (not JSON as defined above, or deeper than max_depth), VG_TOOBIG (len >
 * JSCAN_MAX_LEN) or VG_NOMEM. Release with jscan_release() in every case. */
int jscan_parse(struct jscan *js, const char *s, size_t len, struct jscan_tok *buf, size_t cap,
                int max_depth) WARN_UNUSED;
void jscan_release(struct jscan *js);

/* The value of member key (NUL-terminated, compared with the decoded key)
 * of object token obj, or -1 when obj is not an object token or has no such
 * member. A JSON null is returned as a JSCAN_NULL token. */
int jscan_get(const struct jscan *js, int obj, const char *key);

/* True if string token t decodes to exactly [key, key+klen). */
bool jscan_str_eq(const struct jscan *js, int t, const char *key, size_t klen);

/* The decoded bytes of string token t as a malloc'd NUL-terminated string
 * (*len, when not NULL, is its length; the text holds no NUL, \u0000 being
 * refused). Returns VG_OK or VG_NOMEM (*out NULL). */
int jscan_str(const struct jscan *js, int t, char **out, size_t *len) WARN_UNUSED;

/* Decode string token t into out, which has room for at least
 * tok[t].len + 1 bytes (decoding never lengthens a string); writes a NUL
 * after it and returns the decoded length. */
size_t jscan_str_copy(const struct jscan *js, int t, char *out);

/* Number token t: *d gets its value as a double (an integer converted as
 * (double)int64_t); *i (may be NULL) its int64_t value when it is an
 * integer (not JSCAN_REAL), else 0. */
void jscan_num(const struct jscan *js, int t, double *d, int64_t *i);

#endif
