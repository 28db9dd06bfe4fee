/*
 * hmac.h: a keyed HMAC made once and used by any number of threads.
 *
 * OpenSSL 3's one-shot HMAC() fetches the algorithm and sets the key up on
 * every call, which costs about as much as hashing a short message. A
 * struct hmac_key holds a context keyed once (the template), only ever
 * read, so threads share it; each thread MACs with a duplicate of its own
 * that it keeps for the next MAC with that key (hmac.c). Used where one key
 * signs every request (upload signatures, attribution tokens, HS256 JWTs).
 *
 * Ownership: hmac_key_new() copies nothing it keeps but the OpenSSL
 * context (the key lives inside it); the caller frees the key bytes as it
 * likes. hmac_key_free() releases the context (OpenSSL wipes the key).
 */
#ifndef VG_CORE_HMAC_H
#define VG_CORE_HMAC_H

#include <stddef.h>

#include "core/err.h"

struct hmac_key;

/* digest: an OpenSSL digest name, "SHA1" or "SHA256". key must be 1 or more
 * bytes. Returns VG_OK, VG_INVALID (no key, unknown digest) or VG_NOMEM. */
int hmac_key_new(const char *digest, const void *key, size_t len,
                 struct hmac_key **out) WARN_UNUSED;
/* NULL: no-op. Threads' contexts for k are not freed with it (a thread
 * frees them when it exits, or reuses their slot for another key); they
 * are never used again, keys having unique ids. */
void hmac_key_free(struct hmac_key *k);

/* HMAC of msg[0..len) into out[cap] (20 bytes for SHA1, 32 for SHA256);
 * *outlen receives its length. Returns VG_OK, or VG_ERR on an OpenSSL
 * failure or when cap is too small. */
int hmac_key_mac(const struct hmac_key *k, const void *msg, size_t len, unsigned char *out,
                 size_t cap, size_t *outlen) WARN_UNUSED;

#endif
