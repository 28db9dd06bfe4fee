/* jscan.c: the strict flat JSON scanner (rules in jscan.h). */
#include "core/jscan.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Bytes a string may hold as they are: printable ASCII but '"' and '\\'. */
static const unsigned char plain[256] = {
    ['\x20'] = 1, ['\x21'] = 1, ['\x23'] = 1, ['\x24'] = 1, ['\x25'] = 1, ['\x26'] = 1,
    ['\x27'] = 1, ['\x28'] = 1, ['\x29'] = 1, ['\x2a'] = 1, ['\x2b'] = 1, ['\x2c'] = 1,
    ['\x2d'] = 1, ['\x2e'] = 1, ['\x2f'] = 1, ['\x30'] = 1, ['\x31'] = 1, ['\x32'] = 1,
    ['\x33'] = 1, ['\x34'] = 1, ['\x35'] = 1, ['\x36'] = 1, ['\x37'] = 1, ['\x38'] = 1,
    ['\x39'] = 1, ['\x3a'] = 1, ['\x3b'] = 1, ['\x3c'] = 1, ['\x3d'] = 1, ['\x3e'] = 1,
    ['\x3f'] = 1, ['\x40'] = 1, ['\x41'] = 1, ['\x42'] = 1, ['\x43'] = 1, ['\x44'] = 1,
    ['\x45'] = 1, ['\x46'] = 1, ['\x47'] = 1, ['\x48'] = 1, ['\x49'] = 1, ['\x4a'] = 1,
    ['\x4b'] = 1, ['\x4c'] = 1, ['\x4d'] = 1, ['\x4e'] = 1, ['\x4f'] = 1, ['\x50'] = 1,
    ['\x51'] = 1, ['\x52'] = 1, ['\x53'] = 1, ['\x54'] = 1, ['\x55'] = 1, ['\x56'] = 1,
    ['\x57'] = 1, ['\x58'] = 1, ['\x59'] = 1, ['\x5a'] = 1, ['\x5b'] = 1, ['\x5d'] = 1,
    ['\x5e'] = 1, ['\x5f'] = 1, ['\x60'] = 1, ['\x61'] = 1, ['\x62'] = 1, ['\x63'] = 1,
    ['\x64'] = 1, ['\x65'] = 1, ['\x66'] = 1, ['\x67'] = 1, ['\x68'] = 1, ['\x69'] = 1,
    ['\x6a'] = 1, ['\x6b'] = 1, ['\x6c'] = 1, ['\x6d'] = 1, ['\x6e'] = 1, ['\x6f'] = 1,
    ['\x70'] = 1, ['\x71'] = 1, ['\x72'] = 1, ['\x73'] = 1, ['\x74'] = 1, ['\x75'] = 1,
    ['\x76'] = 1, ['\x77'] = 1, ['\x78'] = 1, ['\x79'] = 1, ['\x7a'] = 1, ['\x7b'] = 1,
    ['\x7c'] = 1, ['\x7d'] = 1, ['\x7e'] = 1, ['\x7f'] = 1,
};

static bool is_ws(unsigned char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int hexval(unsigned char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* The 4 hex digits at p (p + 4 <= end checked by the caller), or -1. */
static int32_t hex4(const unsigned char *p)
{
  int32_t v = 0;

  for (int k = 0; k < 4; k++) {
    int h = hexval(p[k]);
    if (h < 0)
      return -1;
    v = v * 16 + h;
  }
  return v;
}

/* Length of the well-formed UTF-8 sequence at p (first byte >= 0x80), or 0. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
  unsigned char c = p[0];
  size_t n;
  uint32_t cp;

  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if ((size_t)(end - p) < n)
    return 0;
  for (size_t k = 1; k < n; k++) {
    if ((p[k] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (p[k] & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

/* Scan the string whose opening quote is at *pi; on success *pi is past the
 * closing quote. Sets *escaped. */
static bool scan_string(const unsigned char *s, size_t len, size_t *pi, bool *escaped)
{
  const unsigned char *p = s + *pi + 1, *end = s + len;

  for (;;) {
    while (p < end && plain[*p])
      p++;
    if (p >= end)
      return false;
    if (*p == '"') {
      *pi = (size_t)(p + 1 - s);
      return true;
    }
    if (*p == '\\') {
      *escaped = true;
      if (end - p < 2)
        return false;
      switch (p[1]) {
      case '"':
      case '\\':
      case '/':
      case 'b':
      case 'f':
      case 'n':
      case 'r':
      case 't': p += 2; continue;
      case 'u': break;
      default: return false;
      }
      int32_t v;
      if (end - p < 6 || (v = hex4(p + 2)) < 0 || v == 0)
        return false;
      p += 6;
      if (v >= 0xDC00 && v <= 0xDFFF)
        return false;
      if (v >= 0xD800 && v <= 0xDBFF) {
        int32_t lo;
        if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || (lo = hex4(p + 2)) < 0 || lo < 0xDC00 ||
            lo > 0xDFFF)
          return false;
        p += 6;
      }
      continue;
    }
    if (*p < 0x20)
      return false;
    /* >= 0x80 */
    size_t n = utf8_seq(p, end);
    if (!n)
      return false;
    p += n;
  }
}

/* Does the integer lexeme [p, p+n) (optional '-', digits) fit int64_t? */
static bool int_fits(const unsigned char *p, size_t n)
{
  bool neg = p[0] == '-';
  const char *lim = neg ? "9223372036854775808" : "9223372036854775807";
  size_t d = n - (neg ? 1 : 0);

  if (d < 19)
    return true;
  if (d > 19)
    return false;
  return memcmp(p + (neg ? 1 : 0), lim, 19) <= 0;
}

/* strtod of the lexeme [p, p+n) (which is a valid JSON number). */
static int lex_strtod(const unsigned char *p, size_t n, double *out)
{
  char small[64], *b = small;

  if (n >= sizeof(small)) {
    b = malloc(n + 1);
    if (!b)
      return VG_NOMEM;
  }
  memcpy(b, p, n);
  b[n] = '\0';
  errno = 0;
  *out = strtod(b, NULL);
  if (b != small)
    free(b);
  if (errno == ERANGE && (*out == HUGE_VAL || *out == -HUGE_VAL))
    return VG_INVALID;
  return VG_OK;
}

/* Scan the number at *pi; sets *real. */
static int scan_number(const unsigned char *s, size_t len, size_t *pi, bool *real)
{
  size_t i = *pi, start = i;
  bool has_exp = false;

  if (s[i] == '-')
    i++;
  if (i >= len)
    return VG_INVALID;
  if (s[i] == '0') {
    i++;
    if (i < len && s[i] >= '0' && s[i] <= '9')
      return VG_INVALID;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < len && s[i] >= '0' && s[i] <= '9')
      i++;
  } else {
    return VG_INVALID;
  }
  if (i < len && s[i] == '.') {
    *real = true;
    i++;
    if (i >= len || s[i] < '0' || s[i] > '9')
      return VG_INVALID;
    while (i < len && s[i] >= '0' && s[i] <= '9')
      i++;
  }
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    *real = has_exp = true;
    i++;
    if (i < len && (s[i] == '+' || s[i] == '-'))
      i++;
    if (i >= len || s[i] < '0' || s[i] > '9')
      return VG_INVALID;
    while (i < len && s[i] >= '0' && s[i] <= '9')
      i++;
  }
  *pi = i;
  if (!*real)
    return int_fits(s + start, i - start) ? VG_OK : VG_INVALID;
  /* Without an exponent, fewer than 300 characters cannot reach DBL_MAX. */
  if (has_exp || i - start >= 300) {
    double d;
    return lex_strtod(s + start, i - start, &d);
  }
  return VG_OK;
}

struct keyref {
  const char *p;
  size_t n;
};

static int keyref_cmp(const void *a, const void *b)
{
  const struct keyref *x = a, *y = b;
  int c;

  if (x->n != y->n)
    return x->n < y->n ? -1 : 1;
  c = memcmp(x->p, y->p, x->n);
  return c;
}

/* Objects with at most this many keys, none escaped, are checked with a
 * hash table on the stack (an event's top level has about 35). */
#define JSCAN_HASH_KEYS 128

/* keys_distinct for unescaped keys: open addressing over key tokens. */
static int keys_distinct_hash(const struct jscan *js, uint32_t obj)
{
  const struct jscan_tok *t = js->tok;
  uint32_t slot[2 * JSCAN_HASH_KEYS] = {0}; /* key token index, 0 = empty */
  const uint32_t mask = 2 * JSCAN_HASH_KEYS - 1;
  uint32_t k = obj + 1;

  for (uint32_t j = 0; j < t[obj].n; j++, k = t[k + 1].next) {
    const unsigned char *p = (const unsigned char *)js->s + t[k].start;
    uint32_t h = 2166136261u, i;
    for (uint32_t b = 0; b < t[k].len; b++)
      h = (h ^ p[b]) * 16777619u;
    for (i = h & mask; slot[i]; i = (i + 1) & mask) {
      const struct jscan_tok *o = &t[slot[i]];
      if (o->len == t[k].len && memcmp(js->s + o->start, p, o->len) == 0)
        return VG_INVALID;
    }
    slot[i] = k; /* k > obj >= 0: never 0 */
  }
  return VG_OK;
}

/* Are the keys of object token obj distinct (after decoding)? */
static int keys_distinct(struct jscan *js, uint32_t obj)
{
  const struct jscan_tok *t = js->tok;
  uint32_t m = t[obj].n, k;
  bool any_esc = false;
  struct keyref small[16], *refs = small;
  char **dec = NULL;
  int rc = VG_OK;

  if (m < 2)
    return VG_OK;
  k = obj + 1;
  for (uint32_t j = 0; j < m; j++, k = t[k + 1].next)
    any_esc |= (t[k].flags & JSCAN_ESCAPED) != 0;
  if (!any_esc && m <= 8) {
    uint32_t a = obj + 1;
    for (uint32_t x = 0; x < m; x++, a = t[a + 1].next) {
      uint32_t b = t[a + 1].next;
      for (uint32_t y = x + 1; y < m; y++, b = t[b + 1].next)
        if (t[a].len == t[b].len && memcmp(js->s + t[a].start, js->s + t[b].start, t[a].len) == 0)
          return VG_INVALID;
    }
    return VG_OK;
  }
  if (!any_esc && m <= JSCAN_HASH_KEYS)
    return keys_distinct_hash(js, obj);
  if (m > sizeof(small) / sizeof(small[0])) {
    refs = malloc(m * sizeof(*refs));
    if (!refs)
      return VG_NOMEM;
  }
  if (any_esc) {
    dec = calloc(m, sizeof(*dec));
    if (!dec) {
      rc = VG_NOMEM;
      goto out;
    }
  }
  k = obj + 1;
  for (uint32_t j = 0; j < m; j++, k = t[k + 1].next) {
    if (dec && (t[k].flags & JSCAN_ESCAPED)) {
      size_t n;
      if (jscan_str(js, (int)k, &dec[j], &n)) {
        rc = VG_NOMEM;
        goto out;
      }
      refs[j].p = dec[j];
      refs[j].n = n;
    } else {
      refs[j].p = js->s + t[k].start;
      refs[j].n = t[k].len;
    }
  }
  qsort(refs, m, sizeof(*refs), keyref_cmp);
  for (uint32_t j = 1; j < m && rc == VG_OK; j++)
    if (keyref_cmp(&refs[j - 1], &refs[j]) == 0)
      rc = VG_INVALID;
out:
  if (dec)
    for (uint32_t j = 0; j < m; j++)
      free(dec[j]);
  free(dec);
  if (refs != small)
    free(refs);
  return rc;
}

static struct jscan_tok *new_tok(struct jscan *js, uint8_t type, size_t start)
{
  struct jscan_tok *t;

  if (js->n >= js->cap)
    return NULL; /* cannot happen: cap bounds any text of this length */
  t = &js->tok[js->n];
  t->start = (uint32_t)start;
  t->len = 0;
  t->next = (uint32_t)js->n + 1;
  t->n = 0;
  t->type = type;
  t->flags = 0;
  js->n++;
  return t;
}

static int scan(struct jscan *js, int max_depth)
{
  const unsigned char *s = (const unsigned char *)js->s;
  size_t len = js->len, i = 0;
  uint32_t stack[JSCAN_MAX_DEPTH];
  int depth = 0, rc;
  struct jscan_tok *t;
  bool flag;

value:
  while (i < len && is_ws(s[i]))
    i++;
  if (i >= len)
    return VG_INVALID;
  if (depth > 0 && js->tok[stack[depth - 1]].type == JSCAN_ARRAY)
    js->tok[stack[depth - 1]].n++;
  switch (s[i]) {
  case '{':
  case '[':
    if (depth >= max_depth)
      return VG_INVALID;
    t = new_tok(js, s[i] == '{' ? JSCAN_OBJECT : JSCAN_ARRAY, i);
    if (!t)
      return VG_INVALID;
    stack[depth++] = (uint32_t)(js->n - 1);
    i++;
    while (i < len && is_ws(s[i]))
      i++;
    if (i < len && s[i] == (t->type == JSCAN_OBJECT ? '}' : ']')) {
      i++;
      t->len = (uint32_t)(i - t->start);
      depth--;
      goto after;
    }
    if (t->type == JSCAN_OBJECT)
      goto key;
    goto value;
  case '"':
    t = new_tok(js, JSCAN_STRING, i + 1);
    if (!t)
      return VG_INVALID;
    flag = false;
    if (!scan_string(s, len, &i, &flag))
      return VG_INVALID;
    t->len = (uint32_t)(i - 1 - t->start);
    t->flags = flag ? JSCAN_ESCAPED : 0;
    goto after;
  case 't':
  case 'f':
  case 'n': {
    const char *lit = s[i] == 't' ? "true" : s[i] == 'f' ? "false" : "null";
    size_t n = strlen(lit);
    if (len - i < n || memcmp(s + i, lit, n) != 0)
      return VG_INVALID;
    t = new_tok(js, s[i] == 't' ? JSCAN_TRUE : s[i] == 'f' ? JSCAN_FALSE : JSCAN_NULL, i);
    if (!t)
      return VG_INVALID;
    t->len = (uint32_t)n;
    i += n;
    goto after;
  }
  default:
    if (s[i] != '-' && (s[i] < '0' || s[i] > '9'))
      return VG_INVALID;
    t = new_tok(js, JSCAN_NUMBER, i);
    if (!t)
      return VG_INVALID;
    flag = false;
    if ((rc = scan_number(s, len, &i, &flag)))
      return rc;
    t->len = (uint32_t)(i - t->start);
    t->flags = flag ? JSCAN_REAL : 0;
    goto after;
  }

key:
  while (i < len && is_ws(s[i]))
    i++;
  if (i >= len || s[i] != '"')
    return VG_INVALID;
  js->tok[stack[depth - 1]].n++;
  t = new_tok(js, JSCAN_STRING, i + 1);
  if (!t)
    return VG_INVALID;
  flag = false;
  if (!scan_string(s, len, &i, &flag))
    return VG_INVALID;
  t->len = (uint32_t)(i - 1 - t->start);
  t->flags = flag ? JSCAN_ESCAPED : 0;
  while (i < len && is_ws(s[i]))
    i++;
  if (i >= len || s[i] != ':')
    return VG_INVALID;
  i++;
  goto value;

after:
  while (i < len && is_ws(s[i]))
    i++;
  if (depth == 0)
    return i == len ? VG_OK : VG_INVALID;
  if (i >= len)
    return VG_INVALID;
  {
    uint32_t top = stack[depth - 1];
    struct jscan_tok *c = &js->tok[top];
    if (s[i] == ',') {
      i++;
      if (c->type == JSCAN_OBJECT)
        goto key;
      goto value;
    }
    if (s[i] != (c->type == JSCAN_OBJECT ? '}' : ']'))
      return VG_INVALID;
    i++;
    c->len = (uint32_t)(i - c->start);
    c->next = (uint32_t)js->n;
    depth--;
    if (c->type == JSCAN_OBJECT && (rc = keys_distinct(js, top)))
      return rc;
    goto after;
  }
}

int jscan_parse(struct jscan *js, const char *s, size_t len, struct jscan_tok *buf, size_t cap,
                int max_depth)
{
  /* A value takes at least 2 bytes with its separator, but one scalar at
   * the end of a container or the text: (len + 1) / 2 + 1 tokens at most. */
  size_t need = len / 2 + 2;

  memset(js, 0, sizeof(*js));
  js->s = s;
  js->len = len;
  if (len > JSCAN_MAX_LEN)
    return VG_TOOBIG;
  if (!s || max_depth < 1 || max_depth > JSCAN_MAX_DEPTH)
    return VG_INVALID;
  if (buf && cap >= need) {
    js->tok = buf;
    js->cap = cap;
  } else {
    js->tok = malloc(need * sizeof(*js->tok));
    if (!js->tok)
      return VG_NOMEM;
    js->cap = need;
    js->owned = true;
  }
  return scan(js, max_depth);
}

void jscan_release(struct jscan *js)
{
  if (js->owned)
    free(js->tok);
  memset(js, 0, sizeof(*js));
}

/* Decode string token t into out (at least t.len + 1 bytes: decoding never
 * grows a string). Returns the decoded length. */
static size_t decode(const struct jscan *js, int t, char *out)
{
  const struct jscan_tok *k = &js->tok[t];
  const unsigned char *p = (const unsigned char *)js->s + k->start, *end = p + k->len;
  char *o = out;

  if (!(k->flags & JSCAN_ESCAPED)) {
    memcpy(out, p, k->len);
    return k->len;
  }
  while (p < end) {
    const unsigned char *q = memchr(p, '\\', (size_t)(end - p));
    uint32_t cp;
    if (!q)
      q = end;
    memcpy(o, p, (size_t)(q - p));
    o += q - p;
    p = q;
    if (p >= end)
      break;
    switch (p[1]) {
    case 'b': *o++ = '\b'; break;
    case 'f': *o++ = '\f'; break;
    case 'n': *o++ = '\n'; break;
    case 'r': *o++ = '\r'; break;
    case 't': *o++ = '\t'; break;
    case 'u': break;
    default: *o++ = (char)p[1]; break;
    }
    if (p[1] != 'u') {
      p += 2;
      continue;
    }
    cp = (uint32_t)hex4(p + 2);
    p += 6;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)hex4(p + 2) - 0xDC00);
      p += 6;
    }
    if (cp < 0x80) {
      *o++ = (char)cp;
    } else if (cp < 0x800) {
      *o++ = (char)(0xC0 | (cp >> 6));
      *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      *o++ = (char)(0xE0 | (cp >> 12));
      *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
      *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
      *o++ = (char)(0xF0 | (cp >> 18));
      *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
      *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
      *o++ = (char)(0x80 | (cp & 0x3F));
    }
  }
  return (size_t)(o - out);
}

size_t jscan_str_copy(const struct jscan *js, int t, char *out)
{
  size_t n = decode(js, t, out);

  out[n] = '\0';
  return n;
}

int jscan_str(const struct jscan *js, int t, char **out, size_t *len)
{
  char *p = malloc((size_t)js->tok[t].len + 1);
  size_t n;

  *out = NULL;
  if (!p)
    return VG_NOMEM;
  n = decode(js, t, p);
  p[n] = '\0';
  *out = p;
  if (len)
    *len = n;
  return VG_OK;
}

bool jscan_str_eq(const struct jscan *js, int t, const char *key, size_t klen)
{
  const struct jscan_tok *k = &js->tok[t];
  char tmp[128];
  size_t n;

  if (!(k->flags & JSCAN_ESCAPED))
    return k->len == klen && memcmp(js->s + k->start, key, klen) == 0;
  /* Decoding maps 1..6 raw bytes to each output byte. */
  if (k->len < klen || k->len > 6 * klen)
    return false;
  if (k->len < sizeof(tmp)) {
    n = decode(js, t, tmp);
    return n == klen && memcmp(tmp, key, klen) == 0;
  }
  {
    char *d = NULL;
    bool eq;
    if (jscan_str(js, t, &d, &n))
      return false;
    eq = n == klen && memcmp(d, key, klen) == 0;
    free(d);
    return eq;
  }
}

int jscan_get(const struct jscan *js, int obj, const char *key)
{
  const struct jscan_tok *t = js->tok;
  size_t klen = strlen(key);
  uint32_t k;

  if (obj < 0 || t[obj].type != JSCAN_OBJECT)
    return -1;
  k = (uint32_t)obj + 1;
  for (uint32_t j = 0; j < t[obj].n; j++, k = t[k + 1].next) {
    if (!(t[k].flags & JSCAN_ESCAPED)) { /* the common case, inline */
      if (t[k].len == klen && memcmp(js->s + t[k].start, key, klen) == 0)
        return (int)k + 1;
    } else if (jscan_str_eq(js, (int)k, key, klen)) {
      return (int)k + 1;
    }
  }
  return -1;
}

void jscan_num(const struct jscan *js, int t, double *d, int64_t *i)
{
  const struct jscan_tok *k = &js->tok[t];
  const unsigned char *p = (const unsigned char *)js->s + k->start;

  if (!(k->flags & JSCAN_REAL)) {
    bool neg = p[0] == '-';
    uint64_t u = 0;
    int64_t v;
    for (uint32_t j = neg ? 1 : 0; j < k->len; j++)
      u = u * 10 + (uint64_t)(p[j] - '0');
    v = neg ? (int64_t)(0 - u) : (int64_t)u;
    if (i)
      *i = v;
    *d = (double)v;
    return;
  }
  if (i)
    *i = 0;
  if (lex_strtod(p, k->len, d))
    *d = 0; /* cannot happen: scanned; or out of memory for a > 64 byte real */
}
