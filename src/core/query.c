#include "core/query.h"

#include <string.h>

#include "core/util.h"

/* Byte classes for encoding and linting. */
enum { C_UNRESERVED = 1, C_LENIENT = 2 };

/* C_UNRESERVED: RFC 3986 unreserved (A-Z a-z 0-9 - . _ ~). C_LENIENT: also
 * left raw by at least one common encoder (Node querystring leaves * ' ( ) !
 * raw), so seeing them raw is not an irregularity. Generated once, constant,
 * so that threads share it without initialisation. */
static const unsigned char query_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 2, 0, 0, 0, 0, 0, 2, 2, 2, 2, 0, 0, 3, 3, 0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0, 0, 0,
    0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 0, 3,
    0, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 0, 0, 0, 3, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};
static const char hexu[] = "0123456789ABCDEF";

int query_escape(struct buf *b, const char *s, size_t n)
{
  const unsigned char *p = (const unsigned char *)s;
  size_t out = 0;
  char *w;
  int rc;

  for (size_t i = 0; i < n; i++)
    out += (query_class[p[i]] & C_UNRESERVED) ? 1 : 3;
  /* Checked and reserved up front: a too-long value leaves b as it was,
   * and the escaped text is written in place. */
  if (out > b->max - b->len)
    return VG_TOOBIG;
  rc = buf_reserve(b, out);
  if (rc)
    return rc;
  w = b->ptr + b->len;
  if (out == n) {
    memcpy(w, s, n); /* nothing to escape: the common case */
  } else {
    for (size_t i = 0; i < n; i++) {
      unsigned char c = p[i];
      if (query_class[c] & C_UNRESERVED) {
        *w++ = (char)c;
      } else {
        *w++ = '%';
        *w++ = hexu[c >> 4];
        *w++ = hexu[c & 15];
      }
    }
  }
  b->len += out;
  b->ptr[b->len] = '\0';
  return VG_OK;
}

int query_append(struct buf *b, const char *key, const char *val, size_t val_len)
{
  size_t old = b->len;
  int rc = VG_OK;

  if (b->len)
    rc = buf_appendc(b, '&');
  if (!rc)
    rc = query_escape(b, key, strlen(key));
  if (!rc)
    rc = buf_appendc(b, '=');
  if (!rc)
    rc = query_escape(b, val, val_len);
  if (rc) {
    b->len = old; /* all or nothing */
    b->ptr[old] = '\0';
  }
  return rc;
}

static int hexval(unsigned char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* Decode [s+from, s+to) into out; returns bytes written or -1 with *bad set
 * to the offset of a malformed escape. */
static long decode_part(const char *s, size_t from, size_t to, char *out, unsigned *flags,
                        size_t *bad)
{
  size_t o = 0;

  for (size_t i = from; i < to; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '%') {
      int hi, lo;
      if (to - i < 3 || (hi = hexval((unsigned char)s[i + 1])) < 0 ||
          (lo = hexval((unsigned char)s[i + 2])) < 0) {
        *bad = i;
        return -1;
      }
      if ((s[i + 1] >= 'a' && s[i + 1] <= 'f') || (s[i + 2] >= 'a' && s[i + 2] <= 'f'))
        *flags |= QUERY_F_LOWER_HEX;
      out[o++] = (char)(hi << 4 | lo);
      i += 2;
    } else if (c == '+') {
      *flags |= QUERY_F_PLUS;
      out[o++] = ' ';
    } else {
      if (!(query_class[c] & C_LENIENT))
        *flags |= QUERY_F_RAW_SPECIAL;
      out[o++] = (char)c;
    }
  }
  return (long)o;
}

enum query_error query_parse(struct query *q, const char *s, size_t n, char *store,
                             size_t store_size, size_t max_pairs)
{
  size_t pos = 0, used = 0;

  q->n = 0;
  q->flags = 0;
  q->err_off = 0;
  q->err_pair = 0;
  if (max_pairs > QUERY_MAX_PAIRS)
    max_pairs = QUERY_MAX_PAIRS;
  if (n > QUERY_MAX_INPUT) {
    q->err_off = QUERY_MAX_INPUT;
    return QUERY_TOO_LONG;
  }
  if (store_size < QUERY_STORE_SIZE(n))
    return QUERY_NO_ROOM;

  while (pos <= n) {
    const char *amp = pos < n ? memchr(s + pos, '&', n - pos) : NULL;
    size_t end = amp ? (size_t)(amp - s) : n;
    const char *eq;
    size_t kend, vstart;
    struct query_pair *pr;
    unsigned fl = 0;
    long kl, vl;

    if (end == pos) { /* empty segment */
      if (n > 0)
        q->flags |= QUERY_F_EMPTY_SEGMENT;
      if (!amp)
        break;
      pos = end + 1;
      continue;
    }
    if (q->n == max_pairs) {
      q->err_off = pos;
      return QUERY_TOO_MANY;
    }
    eq = memchr(s + pos, '=', end - pos);
    if (eq) {
      kend = (size_t)(eq - s);
      vstart = kend + 1;
    } else {
      kend = end;
      vstart = end;
      fl |= QUERY_F_NO_EQUALS;
    }
    if (kend == pos) {
      q->err_off = pos;
      return QUERY_EMPTY_KEY;
    }
    pr = &q->pairs[q->n];
    /* Room: key + NUL + value + NUL <= raw length + 2 (see QUERY_STORE_SIZE). */
    if (store_size - used < (end - pos) + 2)
      return QUERY_NO_ROOM;
    kl = decode_part(s, pos, kend, store + used, &fl, &q->err_off);
    if (kl < 0)
      return QUERY_BAD_ESCAPE;
    pr->key = store + used;
    pr->key_len = (size_t)kl;
    used += (size_t)kl;
    store[used++] = '\0';
    vl = decode_part(s, vstart, end, store + used, &fl, &q->err_off);
    if (vl < 0)
      return QUERY_BAD_ESCAPE;
    pr->val = store + used;
    pr->val_len = (size_t)vl;
    used += (size_t)vl;
    store[used++] = '\0';
    pr->raw_off = pos;
    pr->raw_len = end - pos;
    /* '=' inside a value is legal in practice but every encoder escapes it. */
    if (eq && memchr(s + vstart, '=', end - vstart))
      fl |= QUERY_F_RAW_SPECIAL;
    pr->flags = fl;
    if (!utf8_valid(pr->key, pr->key_len) || !utf8_valid(pr->val, pr->val_len)) {
      q->err_off = pos;
      q->err_pair = q->n;
      return QUERY_BAD_UTF8;
    }
    for (size_t j = 0; j < q->n; j++) {
      if (q->pairs[j].key_len == pr->key_len &&
          memcmp(q->pairs[j].key, pr->key, pr->key_len) == 0) {
        q->err_off = pos;
        q->err_pair = j;
        return QUERY_DUP_KEY;
      }
    }
    q->flags |= fl;
    q->n++;
    if (!amp)
      break;
    pos = end + 1;
  }
  return QUERY_OK;
}

const struct query_pair *query_get(const struct query *q, const char *key)
{
  size_t kl = strlen(key);
  for (size_t i = 0; i < q->n; i++)
    if (q->pairs[i].key_len == kl && memcmp(q->pairs[i].key, key, kl) == 0)
      return &q->pairs[i];
  return NULL;
}

const char *query_error_str(enum query_error e)
{
  switch (e) {
  case QUERY_OK: return "ok";
  case QUERY_BAD_ESCAPE: return "malformed percent-escape ('%' needs two hex digits)";
  case QUERY_EMPTY_KEY: return "empty parameter name";
  case QUERY_DUP_KEY: return "parameter given twice";
  case QUERY_BAD_UTF8: return "decoded parameter is not valid UTF-8";
  case QUERY_TOO_MANY: return "too many parameters";
  case QUERY_TOO_LONG: return "query string too long";
  case QUERY_NO_ROOM: return "decode store too small";
  }
  return "unknown query error";
}
