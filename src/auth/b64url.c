#include "auth/b64url.h"

#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* -1 for characters outside the url-safe alphabet. */
static int value_of(unsigned char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

size_t auth_b64url_encode(const unsigned char *in, size_t n, char *out)
{
  size_t o = 0, i = 0;

  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = alphabet[(v >> 18) & 63];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = alphabet[(v >> 6) & 63];
    out[o++] = alphabet[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)in[i] << 16;
    out[o++] = alphabet[(v >> 18) & 63];
    out[o++] = alphabet[(v >> 12) & 63];
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    out[o++] = alphabet[(v >> 18) & 63];
    out[o++] = alphabet[(v >> 12) & 63];
    out[o++] = alphabet[(v >> 6) & 63];
  }
  out[o] = '\0';
  return o;
}

int auth_b64url_decode(const char *in, size_t n, unsigned char *out, size_t *outlen)
{
  size_t o = 0, i = 0;
  size_t rem = n % 4;

  if (rem == 1)
    return -1;
  for (; i + 4 <= n; i += 4) {
    int a = value_of((unsigned char)in[i]), b = value_of((unsigned char)in[i + 1]);
    int c = value_of((unsigned char)in[i + 2]), d = value_of((unsigned char)in[i + 3]);
    uint32_t v;
    if ((a | b | c | d) < 0)
      return -1;
    v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
    out[o++] = (unsigned char)(v >> 16);
    out[o++] = (unsigned char)(v >> 8);
    out[o++] = (unsigned char)v;
  }
  if (rem == 2) {
    int a = value_of((unsigned char)in[i]), b = value_of((unsigned char)in[i + 1]);
    if ((a | b) < 0 || (b & 15) != 0) /* the 4 unused bits must be zero */
      return -1;
    out[o++] = (unsigned char)(a << 2 | b >> 4);
  } else if (rem == 3) {
    int a = value_of((unsigned char)in[i]), b = value_of((unsigned char)in[i + 1]);
    int c = value_of((unsigned char)in[i + 2]);
    uint32_t v;
    if ((a | b | c) < 0 || (c & 3) != 0) /* the 2 unused bits must be zero */
      return -1;
    v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6;
    out[o++] = (unsigned char)(v >> 16);
    out[o++] = (unsigned char)(v >> 8);
  }
  *outlen = o;
  return 0;
}

bool auth_b64url_alphabet(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (value_of((unsigned char)s[i]) < 0)
      return false;
  return true;
}
