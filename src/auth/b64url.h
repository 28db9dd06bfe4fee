/*
 * b64url.h: strict base64url (RFC 4648 section 5) without padding, as JOSE
 * uses it (RFC 7515 section 2).
 *
 * Decoding is canonical: only the 64 url-safe characters, no '=' padding, no
 * whitespace, a length that is not 1 modulo 4, and zero unused trailing bits.
 * So every byte string has exactly one accepted encoding, and what we verify
 * is byte-for-byte what libjwt (whose own decoder is lenient) verifies.
 * Both functions write into caller-owned memory and never allocate.
 */
#ifndef VG_AUTH_B64URL_H
#define VG_AUTH_B64URL_H

#include <stdbool.h>
#include <stddef.h>

/* Bytes needed to encode n bytes, including the terminating NUL. */
#define B64URL_ENCODED_SIZE(n) ((((n) + 2) / 3) * 4 + 1)
/* Upper bound of the decoded size of n characters. */
#define B64URL_DECODED_MAX(n) (((n) / 4) * 3 + 2)

/* Encode [in, in+n) into out (B64URL_ENCODED_SIZE(n) bytes), NUL-terminated,
 * no padding. Returns the length written, without the NUL. */
size_t auth_b64url_encode(const unsigned char *in, size_t n, char *out);

/* Decode [in, in+n) into out (at least B64URL_DECODED_MAX(n) bytes).
 * Returns 0 and sets *outlen, or -1 if the input is not canonical base64url
 * (out may then hold garbage). An empty input decodes to 0 bytes. */
int auth_b64url_decode(const char *in, size_t n, unsigned char *out, size_t *outlen);

/* True if every character of [s, s+n) is in the base64url alphabet. */
bool auth_b64url_alphabet(const char *s, size_t n);

#endif
