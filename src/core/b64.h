/*
 * b64.h: RFC 4648 Base64.
 *
 * Encoding is strict: the standard alphabet (`+` `/`) with `=` padding, the
 * form every official VOD signature sample produces. Decoding is lenient,
 * because signatures reach us through hands that mangle them: URL-safe
 * `-` `_`, a space where a `+` was URL-decoded, CR/LF/TAB line breaks (the
 * old Java sample's 76-column sun.misc.BASE64Encoder) and missing padding
 * are all accepted; what was tolerated is reported in flags so that callers
 * can lint it. Both functions write into caller-owned memory of a size the
 * caller computes with the *_len helpers: no allocation, no I/O.
 */
#ifndef VG_B64_H
#define VG_B64_H

#include <stddef.h>

/* Flags reported by b64_decode() for every leniency it applied. */
enum {
  B64_F_URLSAFE = 1 << 0,    /* saw '-' or '_' (read as '+' and '/') */
  B64_F_SPACE_PLUS = 1 << 1, /* saw ' ' (read as '+': a URL-decoded '+') */
  B64_F_LINEBREAK = 1 << 2,  /* skipped CR, LF or TAB */
  B64_F_NOPAD = 1 << 3,      /* final quantum had no '=' padding */
  B64_F_NONCANON = 1 << 4,   /* unused trailing bits were not zero */
};

/* Length of the encoding of n bytes, without the NUL: 4 * ceil(n / 3).
 * n must be below SIZE_MAX / 2. */
size_t b64_encoded_len(size_t n);

/* Upper bound of the decoded length of n input characters. */
size_t b64_decoded_max(size_t n);

/* Encode [in, in+n) into out, which must hold b64_encoded_len(n) + 1 bytes.
 * Writes a NUL terminator and returns the length (without it). */
size_t b64_encode(const void *in, size_t n, char *out);

/* Decode [in, in+n) leniently (see above) into out, which holds outmax bytes.
 * On success returns 0, stores the decoded length in *outlen and, when flags
 * is not NULL, the B64_F_* leniencies seen. Returns -1 for anything that is
 * not Base64 even leniently (a character outside both alphabets, '=' not at
 * the end, a lone final character, data after padding) and -2 if the result
 * would exceed outmax. out's contents are unspecified after an error. */
int b64_decode(const char *in, size_t n, void *out, size_t outmax, size_t *outlen, unsigned *flags);

#endif
