#include "core/util.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
  fprintf(stderr, "vodgate: out of memory allocating %zu bytes\n", n);
  abort();
}

void *xmalloc(size_t n)
{
  void *p = malloc(n ? n : 1);
  if (!p)
    oom(n);
  return p;
}

void *xcalloc(size_t n, size_t size)
{
  void *p = calloc(n ? n : 1, size ? size : 1);
  if (!p)
    oom(n * size);
  return p;
}

void *xrealloc(void *p, size_t n)
{
  void *q = realloc(p, n ? n : 1);
  if (!q)
    oom(n);
  return q;
}

char *xstrdup(const char *s)
{
  return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
  char *p = xmalloc(n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

int parse_u64(const char *s, size_t n, uint64_t *out)
{
  uint64_t v = 0;

  if (!s || n == 0 || n > 20)
    return -1;
  if (n > 1 && s[0] == '0')
    return -1;
  for (size_t i = 0; i < n; i++) {
    unsigned d;
    if (s[i] < '0' || s[i] > '9')
      return -1;
    d = (unsigned)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10)
      return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

int parse_i64(const char *s, size_t n, int64_t *out)
{
  uint64_t v;
  bool neg = n > 0 && s[0] == '-';

  if (neg && (n < 2 || (s[1] == '0')))
    return -1;
  if (parse_u64(s + neg, n - neg, &v))
    return -1;
  if (neg) {
    if (v > (uint64_t)INT64_MAX + 1)
      return -1;
    *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
  } else {
    if (v > (uint64_t)INT64_MAX)
      return -1;
    *out = (int64_t)v;
  }
  return 0;
}

int parse_u64z(const char *s, uint64_t *out)
{
  return s ? parse_u64(s, strlen(s), out) : -1;
}

int parse_i64z(const char *s, int64_t *out)
{
  return s ? parse_i64(s, strlen(s), out) : -1;
}

bool ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
  if (alen != blen)
    return false;
  return CRYPTO_memcmp(a, b, alen) == 0;
}

void secure_zero(void *p, size_t n)
{
  if (p && n)
    OPENSSL_cleanse(p, n);
}

void hex_encode(const unsigned char *in, size_t n, char *out)
{
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

void random_bytes(void *p, size_t n)
{
  if (RAND_bytes(p, (int)n) != 1) {
    fprintf(stderr, "vodgate: the OpenSSL random generator failed\n");
    abort();
  }
}

static _Thread_local unsigned char
    rnd_pool[2048]; /* RAND_bytes costs ~1.7 us per call, 256 or 2048 bytes */
static _Thread_local size_t rnd_left;
static pthread_once_t rnd_once = PTHREAD_ONCE_INIT;

static void rnd_forget(void)
{
  secure_zero(rnd_pool, sizeof(rnd_pool));
  rnd_left = 0;
}

static void rnd_init(void)
{
  /* The child of a fork has only the forking thread: the handler empties
   * that thread's pool, the only one left. */
  if (pthread_atfork(NULL, NULL, rnd_forget) != 0)
    abort(); /* cannot promise fresh values after fork */
}

void random_small(void *p, size_t n)
{
  if (n > 64) {
    random_bytes(p, n);
    return;
  }
  pthread_once(&rnd_once, rnd_init);
  if (rnd_left < n) {
    random_bytes(rnd_pool, sizeof(rnd_pool));
    rnd_left = sizeof(rnd_pool);
  }
  rnd_left -= n;
  memcpy(p, rnd_pool + rnd_left, n);
  secure_zero(rnd_pool + rnd_left, n);
}

bool utf8_valid(const char *str, size_t n)
{
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;

  while (i < n) {
    unsigned c = s[i];
    size_t len;
    uint32_t cp, min;

    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (n - i < len)
      return false;
    for (size_t k = 1; k < len; k++) {
      if ((s[i + k] & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

size_t utf8_count(const char *s, size_t n)
{
  size_t count = 0;
  for (size_t i = 0; i < n; i++)
    if (((unsigned char)s[i] & 0xC0) != 0x80)
      count++;
  return count;
}

void thread_name(const char *name)
{
  char n[16];

  snprintf(n, sizeof(n), "%s", name);
  (void)pthread_setname_np(pthread_self(), n);
}

size_t str_copy(char *dst, size_t cap, const char *src)
{
  size_t n = strnlen(src, cap - 1);

  memcpy(dst, src, n);
  dst[n] = '\0';
  return n;
}

size_t fmt_u64(char out[20], uint64_t v)
{
  char tmp[20];
  size_t n = 0;

  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++)
    out[i] = tmp[n - 1 - i];
  return n;
}

size_t fmt_i64(char out[21], int64_t v)
{
  if (v < 0) {
    out[0] = '-';
    return 1 + fmt_u64(out + 1, (uint64_t)0 - (uint64_t)v);
  }
  return fmt_u64(out, (uint64_t)v);
}
