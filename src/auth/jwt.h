/*
 * jwt.h: verification of the app users' JWT bearer tokens (RFC 7519, JWS
 * compact serialisation). This module is the only code that includes
 * <jwt.h>. libjwt 1.10.2 takes the algorithm from the token header and
 * validates no claim, so every check is ours, and signatures are verified
 * with OpenSSL against keys parsed once (libjwt re-parses a PEM key per call:
 * 20 to 35 times the cost; see jwt.c). libjwt is kept as an independent oracle:
 * jwt_libjwt_verifies(), which tests and the fuzz target compare against.
 *
 * Ownership and invariants:
 * - A struct jwt_verifier is built once from a struct jwt_config, is
 *   immutable afterwards, and may be used by any number of threads at once
 *   (each verification decodes into its own objects). Replace it as a whole
 *   to reload keys (SIGHUP): build the new one, swap a pointer, free the old
 *   one once no request uses it.
 * - Each key is bound to exactly one algorithm, derived from the key itself:
 *   the shared secret to HS256, an RSA key (>= 2048 bits) to RS256, an EC
 *   P-256 key to ES256. A token is only ever checked against keys of the
 *   algorithm its header names, so "alg":"none" and HS256-signed-with-the-
 *   RSA-public-key never verify.
 * - Nothing here logs or returns a token, a secret or a signature; error
 *   texts name configuration keys, files, kids and key types only.
 */
#ifndef VG_AUTH_JWT_H
#define VG_AUTH_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Why a request failed authentication. The numeric values and the strings of
 * auth_error_str() are stable: they appear in metrics and logs.
 */
enum auth_error {
  AUTH_OK = 0,
  AUTH_MISSING = 1,         /* "missing": no Authorization header / empty token */
  AUTH_MALFORMED = 2,       /* "malformed": not a well-formed JWS/JWT, bad claim type */
  AUTH_BAD_SIGNATURE = 3,   /* "bad_signature": no configured key verifies it */
  AUTH_ALG_NOT_ALLOWED = 4, /* "alg_not_allowed": none, unknown, or no key of that alg */
  AUTH_UNKNOWN_KID = 5,     /* "unknown_kid": header kid names no configured key */
  AUTH_EXPIRED = 6,         /* "expired": now >= exp + leeway */
  AUTH_NOT_YET_VALID = 7,   /* "not_yet_valid": nbf or iat later than now + leeway */
  AUTH_BAD_ISSUER = 8,      /* "bad_issuer": iss missing or not the configured one */
  AUTH_BAD_AUDIENCE = 9,    /* "bad_audience": aud does not contain the configured one */
  AUTH_MISSING_SUB = 10,    /* "missing_sub": no or empty sub */
  AUTH_TOO_LONG = 11,       /* "too_long": token over the configured maximum */
  AUTH_MISSING_EXP = 12,    /* "missing_exp": exp required but absent */
  AUTH_UNKNOWN_TOKEN = 13,  /* "unknown_token": API token unknown or revoked (store) */
  AUTH_INTERNAL = 14,       /* "internal": out of memory in the JWT library */
};
#define AUTH_ERROR_COUNT 15

/* Stable lower-case reason string; "unknown" for values outside the enum. */
const char *auth_error_str(enum auth_error e);

/*
 * Parse the value of an Authorization header (without the "Authorization:"
 * name): the scheme "Bearer" in any case, one or more spaces, the token, then
 * optional trailing spaces/tabs. On AUTH_OK *token and *len point into value
 * (not copied, not NUL-terminated at *len). Errors: AUTH_MISSING (value NULL,
 * empty, or "Bearer" without a token), AUTH_MALFORMED (another scheme, or a
 * character outside RFC 6750 b64token), AUTH_TOO_LONG (token longer than
 * max; 0 means AUTH_MAX_TOKEN).
 */
enum auth_error auth_bearer_parse(const char *value, size_t max, const char **token, size_t *len);

/* The configuration a verifier is built from. Strings are borrowed during
 * jwt_verifier_new() only; the verifier keeps copies. */
struct jwt_config {
  /* HS256 shared secret (at least JWT_MIN_HS256_SECRET bytes); NULL = none. */
  const unsigned char *hs256_secret;
  size_t hs256_secret_len;
  /* PEM file with one or more public keys or certificates; NULL = none.
   * public_key_pem (NUL-terminated text) may be given instead of a file. */
  const char *public_key_file;
  const char *public_key_pem;
  /* JWKS file (RFC 7517 {"keys":[...]}); NULL = none. jwks_json (text) may
   * be given instead of a file. */
  const char *jwks_file;
  const char *jwks_json;
  /* What jwks_json came from, for messages ("jwks_url"); NULL: "jwks_file". */
  const char *jwks_source;
  /* No key at all is no error: the keys come later (`vodgate config
   * --check` with [auth] jwks_url, which is not fetched), the rest is
   * checked. Such a verifier refuses every token. */
  bool keys_later;
  /* Skipped JWKS entries are not logged: a check of a JWKS on its own
   * before the build that uses it (svc/jwks.c), which logs them. */
  bool quiet;
  /* Required "iss" value; NULL = not checked. */
  const char *issuer;
  /* Required member of "aud" (string or array); NULL = the token must carry
   * no "aud" at all (RFC 7519 4.1.3: we cannot identify with any value). */
  const char *audience;
  /* Claim naming the user's policy (string); NULL = not read. */
  const char *policy_claim;
  /* Clock skew tolerated on exp/nbf/iat, 0..JWT_MAX_LEEWAY seconds. */
  int64_t leeway;
  /* Whether a token without "exp" is refused (default true). */
  bool require_exp;
  /* Longest token accepted, 1..AUTH_MAX_TOKEN (0 = AUTH_MAX_TOKEN). */
  size_t max_token;
};

/* Defaults: no keys, no iss/aud/policy, leeway JWT_DEFAULT_LEEWAY,
 * require_exp true, max_token AUTH_MAX_TOKEN. */
void jwt_config_init(struct jwt_config *c);

struct jwt_verifier;

/*
 * Build a verifier: read and check every key. Returns a new verifier (free
 * with jwt_verifier_free) or NULL with a one-line message in err (naming the
 * configuration key and the problem, never secret material). Fails if no key
 * at all is configured, on an unreadable file, a malformed PEM/JWKS, a
 * private key, an unsupported key type or curve, an RSA key under 2048 bits,
 * a short secret, duplicate kids, or out-of-range options. JWKS entries that
 * are not signature keys we support (use other than "sig", kty "oct", other
 * curves) are skipped with a warning; a JWKS with no usable key fails.
 */
struct jwt_verifier *jwt_verifier_new(const struct jwt_config *c, char *err, size_t errlen);
void jwt_verifier_free(struct jwt_verifier *v);
/* Number of keys loaded (for the start-up log line). */
size_t jwt_verifier_key_count(const struct jwt_verifier *v);

/* The authenticated identity; members are malloc'd and owned by the struct. */
struct jwt_identity {
  char *sub;    /* user id: non-empty, <= JWT_MAX_SUB bytes, UTF-8, no controls */
  char *policy; /* value of the policy claim, or NULL when absent/unconfigured */
  int64_t exp;  /* expiry (seconds since the epoch); 0 if the token has none */
};

/*
 * Verify token [token, token+len) at time now (seconds since the epoch;
 * callers pass time(NULL), tests a fixed value). Checks, in order: length,
 * structure (three strict base64url segments, JSON objects, no duplicate
 * members, header alg a string, typ absent or "JWT", no "crit"), algorithm
 * and kid against the configured keys, the signature (libjwt, with the key
 * pinned to its algorithm), then exp/nbf/iat with leeway, iss, aud, sub and
 * the policy claim. On AUTH_OK fills *out (release with
 * jwt_identity_release); on any error *out is zeroed and holds nothing.
 * v may be NULL (no JWT keys configured): every token is then refused with
 * AUTH_ALG_NOT_ALLOWED, after the AUTH_MISSING check.
 */
enum auth_error jwt_verify(const struct jwt_verifier *v, const char *token, size_t len, int64_t now,
                           struct jwt_identity *out);

void jwt_identity_release(struct jwt_identity *id);

/*
 * Testing and fuzzing only (not on the request path; slow): true if libjwt
 * verifies the token's signature with one of v's keys, the algorithm pinned
 * to the key. Claims are not looked at. Used to check that jwt_verify's own
 * signature verification agrees with an independent implementation.
 */
bool jwt_libjwt_verifies(const struct jwt_verifier *v, const char *token, size_t len);

/*
 * Mint an HS256 token {"alg":"HS256","typ":"JWT"}.claims for tests and the
 * `vodgate jwt` development command. claims_json must be a JSON object; it
 * is re-serialised compactly. Returns a malloc'd NUL-terminated token, or
 * NULL if claims_json is not an object or the secret is empty.
 */
char *jwt_sign_hs256(const unsigned char *secret, size_t secret_len, const char *claims_json);

#endif
