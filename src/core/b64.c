#include "core/b64.h"

#include <stdint.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Decoding classes beyond the 0..63 sextet values. */
enum { D_BAD = 0xFF, D_PAD = 0xFE, D_SKIP = 0xFD };

/* 256-entry table built from b64_alphabet plus the lenient extras; built
 * once at compile time by the initialiser below to keep decoding branch-light.
 */
#define R4(x)  x, x, x, x
#define R16(x) R4(x), R4(x), R4(x), R4(x)
static const unsigned char b64_dec[256] = {
    R4(D_BAD),
    R4(D_BAD),
    D_BAD,
    D_SKIP /* \t */,
    D_SKIP /* \n */,
    D_BAD,
    D_BAD,
    D_SKIP /* \r */,
    D_BAD,
    D_BAD,
    R16(D_BAD),
    /* 0x20 ' ' */ 62,
    D_BAD,
    D_BAD,
    D_BAD,
    D_BAD,
    D_BAD,
    D_BAD,
    D_BAD,
    /* 0x28 */ D_BAD,
    D_BAD,
    D_BAD,
    62 /* + */,
    D_BAD,
    62 /* - */,
    D_BAD,
    63 /* / */,
    /* 0x30 '0'..'9' */ 52,
    53,
    54,
    55,
    56,
    57,
    58,
    59,
    60,
    61,
    /* 0x3A */ D_BAD,
    D_BAD,
    D_BAD,
    D_PAD /* = */,
    D_BAD,
    D_BAD,
    /* 0x40 */ D_BAD,
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
    10,
    11,
    12,
    13,
    14,
    /* 0x50 */ 15,
    16,
    17,
    18,
    19,
    20,
    21,
    22,
    23,
    24,
    25,
    D_BAD,
    D_BAD,
    D_BAD,
    D_BAD,
    63 /* _ */,
    /* 0x60 */ D_BAD,
    26,
    27,
    28,
    29,
    30,
    31,
    32,
    33,
    34,
    35,
    36,
    37,
    38,
    39,
    40,
    /* 0x70 */ 41,
    42,
    43,
    44,
    45,
    46,
    47,
    48,
    49,
    50,
    51,
    D_BAD,
    D_BAD,
    D_BAD,
    D_BAD,
    D_BAD,
    R16(D_BAD),
    R16(D_BAD),
    R16(D_BAD),
    R16(D_BAD),
    R16(D_BAD),
    R16(D_BAD),
    R16(D_BAD),
    R16(D_BAD),
};

/* Leniency flags by character: non-zero for the stand-ins of '+' and '/'. */
static const unsigned char b64_std[256] = {
    [' '] = B64_F_SPACE_PLUS,
    ['-'] = B64_F_URLSAFE,
    ['_'] = B64_F_URLSAFE,
};

size_t b64_encoded_len(size_t n)
{
  return (n + 2) / 3 * 4;
}

size_t b64_decoded_max(size_t n)
{
  return n / 4 * 3 + 3;
}

size_t b64_encode(const void *in, size_t n, char *out)
{
  const unsigned char *s = in;
  char *o = out;
  size_t i = 0;

  for (; n - i >= 3; i += 3) {
    uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
    o[0] = b64_alphabet[v >> 18];
    o[1] = b64_alphabet[(v >> 12) & 63];
    o[2] = b64_alphabet[(v >> 6) & 63];
    o[3] = b64_alphabet[v & 63];
    o += 4;
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)s[i] << 16;
    o[0] = b64_alphabet[v >> 18];
    o[1] = b64_alphabet[(v >> 12) & 63];
    o[2] = '=';
    o[3] = '=';
    o += 4;
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
    o[0] = b64_alphabet[v >> 18];
    o[1] = b64_alphabet[(v >> 12) & 63];
    o[2] = b64_alphabet[(v >> 6) & 63];
    o[3] = '=';
    o += 4;
  }
  *o = '\0';
  return (size_t)(o - out);
}

int b64_decode(const char *in, size_t n, void *out, size_t outmax, size_t *outlen, unsigned *flags)
{
  unsigned char *o = out;
  size_t olen = 0, pads = 0;
  uint32_t acc = 0;
  unsigned nq = 0; /* sextets in the current quantum */
  unsigned fl = 0;

  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)in[i];
    unsigned char d;

    /* Fast path: whole quanta of four plain sextets, the common case. */
    while (nq == 0 && n - i >= 4) {
      const unsigned char *q = (const unsigned char *)in + i;
      unsigned a = b64_dec[q[0]], b = b64_dec[q[1]], e = b64_dec[q[2]], f = b64_dec[q[3]];
      uint32_t v;
      if ((a | b | e | f) >= 64)
        break;
      if (outmax - olen < 3)
        return -2;
      fl |= b64_std[q[0]] | b64_std[q[1]] | b64_std[q[2]] | b64_std[q[3]];
      v = a << 18 | b << 12 | e << 6 | f;
      o[olen++] = (unsigned char)(v >> 16);
      o[olen++] = (unsigned char)(v >> 8);
      o[olen++] = (unsigned char)v;
      i += 4;
    }
    if (i >= n)
      break;
    c = (unsigned char)in[i];
    d = b64_dec[c];

    if (d == D_SKIP) {
      fl |= B64_F_LINEBREAK;
      continue;
    }
    if (d == D_BAD)
      return -1;
    if (d == D_PAD) {
      /* Padding may only complete a quantum of 2 or 3 sextets. */
      if (nq + pads < 2)
        return -1;
      pads++;
      if (nq + pads > 4)
        return -1;
      continue;
    }
    if (pads)
      return -1; /* data after '=' */
    fl |= b64_std[c];
    acc = acc << 6 | d;
    if (++nq == 4) {
      if (outmax - olen < 3)
        return -2;
      o[olen++] = (unsigned char)(acc >> 16);
      o[olen++] = (unsigned char)(acc >> 8);
      o[olen++] = (unsigned char)acc;
      acc = 0;
      nq = 0;
    }
  }
  if (pads && nq + pads != 4)
    return -1;
  if (nq == 1)
    return -1;
  if (nq >= 2) {
    if (!pads)
      fl |= B64_F_NOPAD;
    if (nq == 2) {
      if (acc & 0xF)
        fl |= B64_F_NONCANON;
      if (outmax - olen < 1)
        return -2;
      o[olen++] = (unsigned char)(acc >> 4);
    } else {
      if (acc & 0x3)
        fl |= B64_F_NONCANON;
      if (outmax - olen < 2)
        return -2;
      o[olen++] = (unsigned char)(acc >> 10);
      o[olen++] = (unsigned char)(acc >> 2);
    }
  }
  *outlen = olen;
  if (flags)
    *flags = fl;
  return 0;
}
