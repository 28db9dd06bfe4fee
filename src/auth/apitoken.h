/*
 * apitoken.h: static API tokens for server-to-server callers (pure functions;
 * the store module keeps the hashes, the CLI `vodgate token` shows a new
 * token once).
 *
 * Format: "vg_" followed by the base64url (no padding) of APITOKEN_RAW_BYTES
 * random bytes: 46 characters. The prefix lets the HTTP layer tell an API
 * token from a JWT (which has two dots and never starts with "vg_") and lets
 * secret scanners find leaked tokens.
 *
 * Only the lower-case hex SHA-256 of the whole token text is stored. A slow
 * password hash would add nothing: the token carries 256 random bits, so the
 * hash cannot be inverted by guessing, and a fast hash keeps the lookup cheap.
 * Tokens and hashes are secrets: never log them (log the first 8 hex digits
 * of the hash at most, APITOKEN_ID_LEN).
 */
#ifndef VG_AUTH_APITOKEN_H
#define VG_AUTH_APITOKEN_H

#include <stdbool.h>
#include <stddef.h>

#define APITOKEN_PREFIX     "vg_"
#define APITOKEN_PREFIX_LEN 3
#define APITOKEN_LEN        46 /* 3 + base64url(32 bytes) = 3 + 43 */
#define APITOKEN_HASH_LEN   64 /* hex SHA-256 */
#define APITOKEN_ID_LEN     8  /* hash prefix safe to show in lists and logs */

/* Write a fresh token (APITOKEN_LEN characters + NUL) into out, from the
 * OpenSSL CSPRNG (aborts if the RNG fails). The caller shows it once and
 * stores only apitoken_hash() of it; it should secure_zero() out after. */
void apitoken_generate(char out[APITOKEN_LEN + 1]);

/* True if [s, s+n) starts with the prefix, i.e. the caller should treat it
 * as an API token rather than a JWT (even if it then fails validation). */
bool apitoken_looks_like(const char *s, size_t n);

/* True if [s, s+n) is exactly a well-formed token: the prefix and 43
 * canonical base64url characters decoding to 32 bytes. */
bool apitoken_valid(const char *s, size_t n);

/* Hash a well-formed token into out (APITOKEN_HASH_LEN hex digits + NUL).
 * Returns 0, or -1 (out set to "") if the token is not well-formed, so
 * garbage never reaches the store. */
int apitoken_hash(const char *s, size_t n, char out[APITOKEN_HASH_LEN + 1]);

/* True if s is exactly APITOKEN_HASH_LEN lower-case hex digits (input check
 * for `vodgate token revoke HASH` and rows read back from the store). */
bool apitoken_hash_valid(const char *s);

/* Constant-time equality of two hashes (NUL-terminated); false if either is
 * not a valid hash. */
bool apitoken_hash_equal(const char *a, const char *b);

#endif
