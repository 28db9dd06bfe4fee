/*
 * jwt.c: the JWT verifier. See jwt.h for the contract.
 *
 * Division of labour. libjwt 1.10.2 gets the checks wrong or leaves them
 * out (it takes the algorithm from the header, validates no claim, decodes
 * base64 leniently), so structure, strict base64url, algorithm pinning, kid
 * and claims are ours. The signature itself is checked with OpenSSL against
 * keys parsed once at start-up (verify_signature): libjwt 1.10.2 takes a key
 * only as PEM text and re-parses it on every call, and OpenSSL 3.0's PEM
 * decoder is slow. bench/jwt_verify.c, CPU time per token on the 2-core VM:
 * RS256 28-39 us here against 980-1280 us through libjwt, ES256 97-119 us
 * against 1790-1990 us; HS256 2.2-2.9 us for the whole verification here
 * (3.4-4.7 us while the header and claims went through jansson's tree)
 * against 5.3-8.4 us for libjwt's signature check alone. libjwt stays as an
 * independent second implementation:
 * jwt_libjwt_verifies() runs a token through it, and the fuzz target and
 * unit tests require both to agree.
 */
#include "auth/jwt.h"

#include <errno.h>
#include <jansson.h>
#include <jwt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/b64url.h"
#include "core/buf.h"
#include "core/hmac.h"
#include "core/jscan.h"
#include "core/io.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/util.h"

/* The algorithms we accept, one per key. */
enum key_alg { KEY_HS256, KEY_RS256, KEY_ES256 };

static const char *const key_alg_names[] = {"HS256", "RS256", "ES256"};
static const jwt_alg_t key_alg_libjwt[] = {JWT_ALG_HS256, JWT_ALG_RS256, JWT_ALG_ES256};

struct jwt_key {
  enum key_alg alg;
  char *kid;               /* NULL when the key has none */
  unsigned char *material; /* HS256: the secret; RS/ES: SPKI PEM text, NUL-terminated */
  EVP_PKEY *pkey;          /* RS/ES: the parsed key, shared read-only by all threads */
  struct hmac_key *hmac;   /* HS256: keyed once (core/hmac.h), shared by all threads */
  size_t material_len;     /* bytes handed to libjwt (PEM: without the NUL) */
  size_t sig_len;          /* raw signature length: 32, modulus bytes, or 64 */
  char *source;            /* "jwks_file key 2" etc., for messages */
};

struct jwt_verifier {
  struct jwt_key keys[JWT_MAX_KEYS];
  size_t nkeys;
  char *issuer;
  char *audience;
  char *policy_claim;
  int64_t leeway;
  bool require_exp;
  size_t max_token;
  uint64_t id; /* unique for the process's lifetime (the cache's key) */
  bool quiet;  /* jwt_config.quiet, while building */
};

static _Atomic uint64_t verifier_next_id = 1;

static const char *const reason_names[AUTH_ERROR_COUNT] = {
    "ok",          "missing",  "malformed",     "bad_signature", "alg_not_allowed",
    "unknown_kid", "expired",  "not_yet_valid", "bad_issuer",    "bad_audience",
    "missing_sub", "too_long", "missing_exp",   "unknown_token", "internal",
};

const char *auth_error_str(enum auth_error e)
{
  if ((int)e < 0 || (int)e >= AUTH_ERROR_COUNT)
    return "unknown";
  return reason_names[e];
}

/* RFC 6750 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static bool b64token_char(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

enum auth_error auth_bearer_parse(const char *value, size_t max, const char **token, size_t *len)
{
  size_t n, start, end, i;

  *token = NULL;
  *len = 0;
  if (max == 0 || max > AUTH_MAX_TOKEN)
    max = AUTH_MAX_TOKEN;
  if (!value)
    return AUTH_MISSING;
  /* Bound the scan itself: a header can be no longer than this anyway. */
  n = strnlen(value, max + 64);
  while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
    n--;
  start = 0;
  while (start < n && (value[start] == ' ' || value[start] == '\t'))
    start++;
  if (start == n)
    return AUTH_MISSING;
  if (n - start < 6 || strncasecmp(value + start, "bearer", 6) != 0)
    return AUTH_MALFORMED;
  start += 6;
  if (start == n)
    return AUTH_MISSING; /* "Bearer" alone */
  if (value[start] != ' ')
    return AUTH_MALFORMED; /* "Bearerx", "Bearer\t..." */
  while (start < n && value[start] == ' ')
    start++;
  if (start == n)
    return AUTH_MISSING;
  end = n;
  if (end - start > max)
    return AUTH_TOO_LONG;
  for (i = start; i < end && b64token_char((unsigned char)value[i]); i++)
    ;
  while (i < end && value[i] == '=')
    i++;
  if (i != end)
    return AUTH_MALFORMED;
  *token = value + start;
  *len = end - start;
  return AUTH_OK;
}

void jwt_config_init(struct jwt_config *c)
{
  memset(c, 0, sizeof(*c));
  c->leeway = JWT_DEFAULT_LEEWAY;
  c->require_exp = true;
  c->max_token = AUTH_MAX_TOKEN;
}

/* ---- building the verifier ------------------------------------------------------------ */

static void key_release(struct jwt_key *k)
{
  if (k->material) {
    secure_zero(k->material, k->material_len);
    free(k->material);
  }
  EVP_PKEY_free(k->pkey);
  hmac_key_free(k->hmac);
  free(k->kid);
  free(k->source);
  memset(k, 0, sizeof(*k));
}

void jwt_verifier_free(struct jwt_verifier *v)
{
  if (!v)
    return;
  for (size_t i = 0; i < v->nkeys; i++)
    key_release(&v->keys[i]);
  free(v->issuer);
  free(v->audience);
  free(v->policy_claim);
  free(v);
}

size_t jwt_verifier_key_count(const struct jwt_verifier *v)
{
  return v ? v->nkeys : 0;
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;
  if (err && errlen) {
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  ERR_clear_error();
  return -1;
}

static struct jwt_key *key_slot(struct jwt_verifier *v, const char *source, char *err,
                                size_t errlen)
{
  if (v->nkeys >= JWT_MAX_KEYS) {
    fail(err, errlen, "%s: more than %d keys configured", source, JWT_MAX_KEYS);
    return NULL;
  }
  return &v->keys[v->nkeys];
}

/*
 * Check that pkey is a key we support, derive its algorithm and store it as
 * an SPKI PEM (the only form libjwt's PEM_read_bio_PUBKEY reads) in a new
 * key slot. Takes a borrowed pkey.
 */
static int add_public_key(struct jwt_verifier *v, EVP_PKEY *pkey, const char *kid,
                          const char *source, char *err, size_t errlen)
{
  struct jwt_key *k = key_slot(v, source, err, errlen);
  enum key_alg alg;
  size_t sig_len;
  BIO *bio;
  BUF_MEM *mem = NULL;
  EVP_PKEY_CTX *ctx;
  int ok;

  if (!k)
    return -1;
  if (EVP_PKEY_is_a(pkey, "RSA")) {
    int bits = EVP_PKEY_get_bits(pkey);
    if (bits < JWT_MIN_RSA_BITS || bits > JWT_MAX_RSA_BITS)
      return fail(err, errlen, "%s: RSA key of %d bits; need %d to %d bits", source, bits,
                  JWT_MIN_RSA_BITS, JWT_MAX_RSA_BITS);
    alg = KEY_RS256;
    sig_len = (size_t)EVP_PKEY_get_size(pkey);
  } else if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[64];
    size_t glen = 0;
    if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                        &glen))
      return fail(err, errlen, "%s: EC key without a named curve (only P-256 is supported)",
                  source);
    if (strcmp(group, "prime256v1") != 0)
      return fail(err, errlen, "%s: EC key on curve %s; only P-256 (ES256) is supported", source,
                  group);
    alg = KEY_ES256;
    sig_len = 64;
  } else {
    const char *type = EVP_PKEY_get0_type_name(pkey);
    return fail(err, errlen,
                "%s: unsupported key type %s (only RSA for RS256 and EC P-256 for ES256)", source,
                type ? type : "?");
  }
  /* Reject points off the curve and nonsense RSA exponents now, not per request. */
  ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
  ok = ctx && EVP_PKEY_public_check(ctx) == 1;
  EVP_PKEY_CTX_free(ctx);
  if (!ok)
    return fail(err, errlen, "%s: the public key fails OpenSSL's consistency check", source);

  bio = BIO_new(BIO_s_mem());
  if (!bio || !PEM_write_bio_PUBKEY(bio, pkey)) {
    BIO_free(bio);
    return fail(err, errlen, "%s: cannot encode the key as PEM", source);
  }
  BIO_get_mem_ptr(bio, &mem);
  memset(k, 0, sizeof(*k));
  k->alg = alg;
  k->sig_len = sig_len;
  k->material = (unsigned char *)xstrndup(mem->data, mem->length);
  k->material_len = mem->length;
  k->kid = kid ? xstrdup(kid) : NULL;
  k->source = xstrdup(source);
  if (!EVP_PKEY_up_ref(pkey))
    abort(); /* only fails on a corrupt key object */
  k->pkey = pkey;
  BIO_free(bio);
  v->nkeys++;
  return 0;
}

/* Read a key file, bounded by JWT_MAX_KEY_FILE; returns a NUL-terminated buffer. */
static char *slurp(const char *what, const char *path, char *err, size_t errlen)
{
  struct buf b;
  int rc;

  buf_init(&b, JWT_MAX_KEY_FILE);
  rc = read_file(path, &b);
  if (rc == VG_TOOBIG) {
    buf_release(&b);
    fail(err, errlen, "%s %s: larger than %d bytes", what, path, JWT_MAX_KEY_FILE);
    return NULL;
  }
  if (rc) {
    int e = errno;
    buf_release(&b);
    fail(err, errlen, "%s %s: %s", what, path, strerror(e));
    return NULL;
  }
  return buf_detach(&b, NULL);
}

/* One PEM block -> public key. Private keys are refused outright: a
 * verifier never needs one, so its presence is a deployment mistake. */
static EVP_PKEY *pem_block_key(const char *name, const unsigned char *data, long len,
                               const char *source, char *err, size_t errlen)
{
  const unsigned char *p = data;
  EVP_PKEY *pkey = NULL;

  if (strcmp(name, "PUBLIC KEY") == 0) {
    pkey = d2i_PUBKEY(NULL, &p, len);
  } else if (strcmp(name, "RSA PUBLIC KEY") == 0) {
    pkey = d2i_PublicKey(EVP_PKEY_RSA, NULL, &p, len);
  } else if (strcmp(name, "CERTIFICATE") == 0) {
    X509 *x = d2i_X509(NULL, &p, len);
    if (x)
      pkey = X509_get_pubkey(x);
    X509_free(x);
  } else if (strstr(name, "PRIVATE KEY")) {
    fail(err, errlen, "%s: is a private key (%s); give the public key only", source, name);
    return NULL;
  } else {
    fail(err, errlen, "%s: unsupported PEM block \"%.40s\"", source, name);
    return NULL;
  }
  if (!pkey || p != data + len) {
    EVP_PKEY_free(pkey);
    fail(err, errlen, "%s: invalid %s", source, name);
    return NULL;
  }
  return pkey;
}

static int load_pem(struct jwt_verifier *v, const char *label, const char *text, char *err,
                    size_t errlen)
{
  BIO *bio = BIO_new_mem_buf(text, -1);
  int count = 0, rc = 0;

  if (!bio)
    return fail(err, errlen, "%s: out of memory", label);
  for (;;) {
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long len = 0;
    char source[700];
    EVP_PKEY *pkey;

    if (!PEM_read_bio(bio, &name, &header, &data, &len)) {
      unsigned long e = ERR_peek_last_error();
      ERR_clear_error();
      if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
        break; /* end of input */
      rc = fail(err, errlen, "%s: PEM block %d is malformed", label, count + 1);
      break;
    }
    count++;
    snprintf(source, sizeof(source), "%s: PEM block %d", label, count);
    pkey = pem_block_key(name, data, len, source, err, errlen);
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    if (!pkey) {
      rc = -1;
      break;
    }
    rc = add_public_key(v, pkey, NULL, source, err, errlen);
    EVP_PKEY_free(pkey);
    if (rc)
      break;
  }
  BIO_free(bio);
  if (rc == 0 && count == 0)
    rc = fail(err, errlen, "%s: no PEM public key found", label);
  return rc;
}

/* Decode a base64url JWK member into a new buffer. */
static unsigned char *jwk_bytes(json_t *jwk, const char *member, size_t *n)
{
  const char *s = json_string_value(json_object_get(jwk, member));
  unsigned char *out;
  size_t len;

  if (!s)
    return NULL;
  len = strlen(s);
  out = xmalloc(B64URL_DECODED_MAX(len));
  if (len == 0 || auth_b64url_decode(s, len, out, n) != 0) {
    free(out);
    return NULL;
  }
  return out;
}

static EVP_PKEY *pkey_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
  OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
  EVP_PKEY *pkey = NULL;

  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
      EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    pkey = NULL;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  return pkey;
}

static EVP_PKEY *jwk_rsa(json_t *jwk, const char *source, char *err, size_t errlen)
{
  size_t nlen = 0, elen = 0;
  unsigned char *n = jwk_bytes(jwk, "n", &nlen), *e = jwk_bytes(jwk, "e", &elen);
  BIGNUM *bn_n = NULL, *bn_e = NULL;
  OSSL_PARAM_BLD *bld = NULL;
  EVP_PKEY *pkey = NULL;

  if (!n || !e) {
    fail(err, errlen, "%s: RSA key needs base64url \"n\" and \"e\"", source);
    goto done;
  }
  bn_n = BN_bin2bn(n, (int)nlen, NULL);
  bn_e = BN_bin2bn(e, (int)elen, NULL);
  bld = OSSL_PARAM_BLD_new();
  if (!bn_n || !bn_e || !bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
      !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) ||
      !(pkey = pkey_fromdata("RSA", bld)))
    fail(err, errlen, "%s: invalid RSA key", source);
done:
  OSSL_PARAM_BLD_free(bld);
  BN_free(bn_n);
  BN_free(bn_e);
  free(n);
  free(e);
  return pkey;
}

static EVP_PKEY *jwk_ec(json_t *jwk, const char *source, char *err, size_t errlen)
{
  size_t xlen = 0, ylen = 0;
  unsigned char *x = jwk_bytes(jwk, "x", &xlen), *y = jwk_bytes(jwk, "y", &ylen);
  unsigned char point[65];
  OSSL_PARAM_BLD *bld = NULL;
  EVP_PKEY *pkey = NULL;

  if (!x || !y || xlen != 32 || ylen != 32) {
    fail(err, errlen, "%s: P-256 key needs 32-byte base64url \"x\" and \"y\"", source);
    goto done;
  }
  point[0] = 0x04; /* uncompressed point, SEC 1 2.3.3 */
  memcpy(point + 1, x, 32);
  memcpy(point + 33, y, 32);
  bld = OSSL_PARAM_BLD_new();
  if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point)) ||
      !(pkey = pkey_fromdata("EC", bld)))
    fail(err, errlen, "%s: invalid P-256 key (point not on the curve?)", source);
done:
  OSSL_PARAM_BLD_free(bld);
  free(x);
  free(y);
  return pkey;
}

/* Returns 0 (added), 1 (skipped with a warning) or -1 (error in err). */
static int load_jwk(struct jwt_verifier *v, json_t *jwk, const char *source, char *err,
                    size_t errlen)
{
  static const char *const private_members[] = {"d", "p", "q", "dp", "dq", "qi", "k", "oth"};
  const char *kty, *kid = NULL, *use, *alg, *want;
  json_t *jkid;
  EVP_PKEY *pkey;
  int rc;

  if (!json_is_object(jwk))
    return fail(err, errlen, "%s: not a JSON object", source);
  kty = json_string_value(json_object_get(jwk, "kty"));
  if (!kty)
    return fail(err, errlen, "%s: missing \"kty\"", source);
  jkid = json_object_get(jwk, "kid");
  if (jkid) {
    kid = json_string_value(jkid);
    if (!kid || kid[0] == '\0' || json_string_length(jkid) > JWT_MAX_KID ||
        strlen(kid) != json_string_length(jkid))
      return fail(err, errlen, "%s: \"kid\" must be a non-empty string of at most %d bytes", source,
                  JWT_MAX_KID);
  }
  for (size_t i = 0; i < ARRAY_SIZE(private_members); i++)
    if (json_object_get(jwk, private_members[i]) && strcmp(kty, "oct") != 0)
      return fail(err, errlen,
                  "%s: contains private key material (\"%s\"); publish public keys only", source,
                  private_members[i]);
  use = json_string_value(json_object_get(jwk, "use"));
  if (json_object_get(jwk, "use") && (!use || strcmp(use, "sig") != 0)) {
    if (!v->quiet)
      log_warn("jwks: skipping %s (kid %s): \"use\" is not \"sig\"", source, kid ? kid : "-");
    return 1;
  }
  if (strcmp(kty, "RSA") == 0) {
    want = "RS256";
  } else if (strcmp(kty, "EC") == 0) {
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    if (!crv || strcmp(crv, "P-256") != 0) {
      if (!v->quiet)
        log_warn("jwks: skipping %s (kid %s): curve %s is not supported (only P-256)", source,
                 kid ? kid : "-", crv ? crv : "missing");
      return 1;
    }
    want = "ES256";
  } else {
    /* "oct" (shared secrets never come from a JWKS here), "OKP", others. */
    if (!v->quiet)
      log_warn("jwks: skipping %s (kid %s): kty %.16s is not supported", source, kid ? kid : "-",
               kty);
    return 1;
  }
  alg = json_string_value(json_object_get(jwk, "alg"));
  if (json_object_get(jwk, "alg") && (!alg || strcmp(alg, want) != 0)) {
    if (!v->quiet)
      log_warn("jwks: skipping %s (kid %s): alg is not %s", source, kid ? kid : "-", want);
    return 1;
  }
  pkey = want[0] == 'R' ? jwk_rsa(jwk, source, err, errlen) : jwk_ec(jwk, source, err, errlen);
  if (!pkey)
    return -1;
  rc = add_public_key(v, pkey, kid, source, err, errlen);
  EVP_PKEY_free(pkey);
  return rc;
}

static int load_jwks(struct jwt_verifier *v, const char *label, const char *text, char *err,
                     size_t errlen)
{
  json_error_t jerr;
  json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
  json_t *keys;
  size_t i, added = 0;
  int rc = 0;

  if (!root)
    return fail(err, errlen, "%s: invalid JSON at line %d: %.80s", label, jerr.line, jerr.text);
  keys = json_object_get(root, "keys");
  if (!json_is_object(root) || !json_is_array(keys)) {
    json_decref(root);
    return fail(err, errlen, "%s: not a JWK set (need {\"keys\":[...]})", label);
  }
  for (i = 0; i < json_array_size(keys) && rc >= 0; i++) {
    char source[700];
    snprintf(source, sizeof(source), "%s: key %zu", label, i + 1);
    rc = load_jwk(v, json_array_get(keys, i), source, err, errlen);
    if (rc == 0)
      added++;
  }
  json_decref(root);
  if (rc < 0)
    return -1;
  if (added == 0)
    return fail(err, errlen, "%s: no usable key (RSA RS256 or EC P-256 ES256 with use \"sig\")",
                label);
  return 0;
}

static bool plain_string(const char *s, size_t max)
{
  size_t n = s ? strnlen(s, max + 1) : 0;
  if (n == 0 || n > max || !utf8_valid(s, n))
    return false;
  /* C0, DEL and C1 (U+0080..U+009F, UTF-8 C2 80..C2 9F: a terminal takes
   * U+009B for CSI, as it takes ESC [, when `vodgate uploads list` prints
   * the user) */
  for (size_t i = 0; i < n; i++) {
    const unsigned char *u = (const unsigned char *)s + i;
    if (u[0] < 0x20 || u[0] == 0x7f || (u[0] == 0xc2 && u[1] < 0xa0))
      return false;
    /* Bidirectional controls (U+061C, U+200E, U+200F, U+202A..U+202E,
     * U+2066..U+2069) make a printed user id read as another one ("Trojan
     * Source"); utf8_valid() has checked the continuation bytes. */
    if ((u[0] == 0xd8 && u[1] == 0x9c) ||
        (u[0] == 0xe2 && u[1] == 0x80 &&
         (u[2] == 0x8e || u[2] == 0x8f || (u[2] >= 0xaa && u[2] <= 0xae))) ||
        (u[0] == 0xe2 && u[1] == 0x81 && u[2] >= 0xa6 && u[2] <= 0xa9))
      return false;
  }
  return true;
}

struct jwt_verifier *jwt_verifier_new(const struct jwt_config *c, char *err, size_t errlen)
{
  struct jwt_verifier *v = xcalloc(1, sizeof(*v));
  char *text;
  int rc;

  v->id = atomic_fetch_add(&verifier_next_id, 1);
  v->quiet = c->quiet;
  if (err && errlen)
    err[0] = '\0';
  v->leeway = c->leeway;
  v->require_exp = c->require_exp;
  v->max_token = c->max_token ? c->max_token : AUTH_MAX_TOKEN;
  if (c->leeway < 0 || c->leeway > JWT_MAX_LEEWAY) {
    fail(err, errlen, "jwt_leeway: must be 0 to %d seconds", JWT_MAX_LEEWAY);
    goto bad;
  }
  if (v->max_token > AUTH_MAX_TOKEN) {
    fail(err, errlen, "max token length: must be at most %d", AUTH_MAX_TOKEN);
    goto bad;
  }
  if (c->issuer) {
    if (!plain_string(c->issuer, 1024)) {
      fail(err, errlen, "jwt_issuer: must be a non-empty printable string");
      goto bad;
    }
    v->issuer = xstrdup(c->issuer);
  }
  if (c->audience) {
    if (!plain_string(c->audience, 1024)) {
      fail(err, errlen, "jwt_audience: must be a non-empty printable string");
      goto bad;
    }
    v->audience = xstrdup(c->audience);
  }
  if (c->policy_claim) {
    if (!plain_string(c->policy_claim, JWT_MAX_CLAIM_NAME)) {
      fail(err, errlen, "jwt_policy_claim: must be a claim name of 1 to %d characters",
           JWT_MAX_CLAIM_NAME);
      goto bad;
    }
    v->policy_claim = xstrdup(c->policy_claim);
  }

  if (c->hs256_secret) {
    struct jwt_key *k = &v->keys[0];
    if (c->hs256_secret_len < JWT_MIN_HS256_SECRET) {
      fail(err, errlen, "jwt_hs256_secret: %zu bytes is too short; use at least %d random bytes",
           c->hs256_secret_len, JWT_MIN_HS256_SECRET);
      goto bad;
    }
    /* libjwt takes the length as an int. */
    if (c->hs256_secret_len > CFG_MAX_SECRET_FILE) {
      fail(err, errlen, "jwt_hs256_secret: longer than %d bytes", CFG_MAX_SECRET_FILE);
      goto bad;
    }
    k->alg = KEY_HS256;
    k->sig_len = 32;
    if (hmac_key_new("SHA256", c->hs256_secret, c->hs256_secret_len, &k->hmac) != VG_OK) {
      fail(err, errlen, "jwt_hs256_secret: OpenSSL has no HMAC-SHA256");
      goto bad;
    }
    k->material = xmalloc(c->hs256_secret_len);
    memcpy(k->material, c->hs256_secret, c->hs256_secret_len);
    k->material_len = c->hs256_secret_len;
    k->source = xstrdup("jwt_hs256_secret");
    v->nkeys = 1;
  }

  if (c->public_key_file || c->public_key_pem) {
    char label[600];
    if (c->public_key_pem) {
      text = xstrdup(c->public_key_pem);
      snprintf(label, sizeof(label), "jwt_public_key_file");
    } else {
      text = slurp("jwt_public_key_file", c->public_key_file, err, errlen);
      if (!text)
        goto bad;
      snprintf(label, sizeof(label), "jwt_public_key_file %.500s", c->public_key_file);
    }
    rc = load_pem(v, label, text, err, errlen);
    free(text);
    if (rc)
      goto bad;
  }

  if (c->jwks_file || c->jwks_json) {
    char label[600];
    if (c->jwks_json) {
      text = xstrdup(c->jwks_json);
      snprintf(label, sizeof(label), "%.500s", c->jwks_source ? c->jwks_source : "jwks_file");
    } else {
      text = slurp("jwks_file", c->jwks_file, err, errlen);
      if (!text)
        goto bad;
      snprintf(label, sizeof(label), "jwks_file %.500s", c->jwks_file);
    }
    rc = load_jwks(v, label, text, err, errlen);
    free(text);
    if (rc)
      goto bad;
  }

  if (v->nkeys == 0 && !c->keys_later) {
    fail(err, errlen,
         "no JWT key configured (jwt_hs256_secret_file, jwt_public_key_file or jwks_file)");
    goto bad;
  }
  /* A kid must name one key, or "kid selects the key" means nothing. */
  for (size_t i = 0; i < v->nkeys; i++)
    for (size_t j = i + 1; j < v->nkeys; j++)
      if (v->keys[i].kid && v->keys[j].kid && strcmp(v->keys[i].kid, v->keys[j].kid) == 0) {
        fail(err, errlen, "%s: duplicate kid \"%.100s\" (also %s)", v->keys[j].source,
             v->keys[j].kid, v->keys[i].source);
        goto bad;
      }
  return v;
bad:
  jwt_verifier_free(v);
  return NULL;
}

/* ---- verification ----------------------------------------------------------------------- */

/* One decoded segment (header or claims) and its scan. jscan accepts
 * exactly what jansson's json_loadb(JSON_REJECT_DUPLICATES) does (core/
 * jscan.h), which is what libjwt reads, so the two implementations still
 * see the same JSON; it just does it in one pass without a tree of
 * allocated nodes (this runs on every authenticated request). */
struct seg {
  unsigned char *raw; /* the decoded bytes: stack, or malloc'd when large */
  unsigned char stack[1024];
  struct jscan js;
  struct jscan_tok tok[64];
};

/* Decode one base64url segment that must hold a JSON object. */
static bool seg_parse(struct seg *g, const char *s, size_t n)
{
  size_t need = B64URL_DECODED_MAX(n) + 1, len = 0;

  memset(&g->js, 0, sizeof(g->js));
  g->raw = need <= sizeof(g->stack) ? g->stack : malloc(need);
  if (!g->raw)
    return false;
  /* jansson silently skips raw NUL bytes (found by fuzz_jwt), where libjwt
   * stops at them: refuse them so that both read the same JSON. */
  if (auth_b64url_decode(s, n, g->raw, &len) != 0 || memchr(g->raw, '\0', len))
    return false;
  if (jscan_parse(&g->js, (const char *)g->raw, len, g->tok, ARRAY_SIZE(g->tok), JSCAN_MAX_DEPTH) !=
      VG_OK)
    return false;
  return g->js.tok[0].type == JSCAN_OBJECT;
}

static void seg_release(struct seg *g)
{
  jscan_release(&g->js);
  if (g->raw != g->stack)
    free(g->raw);
  g->raw = NULL;
}

/* Member name of the top-level object: its token, or -1 when absent. */
static int seg_get(const struct seg *g, const char *name)
{
  return jscan_get(&g->js, 0, name);
}

static bool seg_is(const struct seg *g, int t, enum jscan_type type)
{
  return t >= 0 && g->js.tok[t].type == type;
}

/* A string member decoded (malloc'd) when it is at most max bytes: 1 and
 * *out set; 0 absent; -1 not a string, or longer than max. */
static int seg_string(const struct seg *g, int t, size_t max, char **out)
{
  size_t len;

  *out = NULL;
  if (t < 0)
    return 0;
  if (!seg_is(g, t, JSCAN_STRING))
    return -1;
  /* Decoding never lengthens a string, and one decoded byte takes at most
   * six raw ones (\u0041): beyond 6 * max it cannot fit, whatever it says. */
  if (g->js.tok[t].len > 6 * max || jscan_str(&g->js, t, out, &len) != VG_OK)
    return -1;
  if (len > max) {
    free(*out);
    *out = NULL;
    return -1;
  }
  return 1;
}

/* A NumericDate (RFC 7519 2): a JSON number, here bounded to [0, year 9999]
 * so that adding the leeway cannot overflow. Returns 1 present, 0 absent,
 * -1 wrong type or out of range. */
static int numeric_date(const struct seg *payload, const char *name, int64_t *out)
{
  int t = seg_get(payload, name);
  double d;
  int64_t i;

  if (t < 0)
    return 0;
  if (!seg_is(payload, t, JSCAN_NUMBER))
    return -1;
  jscan_num(&payload->js, t, &d, &i);
  if (!(payload->js.tok[t].flags & JSCAN_REAL)) {
    if (i < 0 || i > JWT_MAX_NUMERIC_DATE)
      return -1;
    *out = i;
    return 1;
  }
  if (!(d >= 0.0 && d <= (double)JWT_MAX_NUMERIC_DATE))
    return -1;
  *out = (int64_t)d; /* truncation = floor for non-negative values */
  return 1;
}

/* The claims that depend on the time: a token's verdict on them is
 * recomputed for every use, a cached one's too. */
struct jwt_times {
  int64_t exp, nbf, iat;
  bool has_exp, has_nbf, has_iat;
};

static enum auth_error check_times(const struct jwt_verifier *v, const struct jwt_times *tm,
                                   int64_t now)
{
  if (now < 0 || now > JWT_MAX_NUMERIC_DATE)
    return AUTH_INTERNAL;
  if (!tm->has_exp && v->require_exp)
    return AUTH_MISSING_EXP;
  if (tm->has_exp && now >= tm->exp + v->leeway)
    return AUTH_EXPIRED;
  if (tm->has_nbf && tm->nbf > now + v->leeway)
    return AUTH_NOT_YET_VALID;
  if (tm->has_iat && tm->iat > now + v->leeway)
    return AUTH_NOT_YET_VALID;
  return AUTH_OK;
}

static enum auth_error check_claims(const struct jwt_verifier *v, const struct seg *payload,
                                    int64_t now, struct jwt_identity *out, struct jwt_times *tm)
{
  const struct jscan *js = &payload->js;
  int has, t;
  char *sub = NULL, *policy = NULL;
  enum auth_error res;

  memset(tm, 0, sizeof(*tm));
  if (now < 0 || now > JWT_MAX_NUMERIC_DATE)
    return AUTH_INTERNAL;
  /* Read all three first; the checks keep their order (exp, nbf, iat). */
  has = numeric_date(payload, "exp", &tm->exp);
  if (has < 0)
    return AUTH_MALFORMED;
  tm->has_exp = has == 1;
  if (!tm->has_exp && v->require_exp)
    return AUTH_MISSING_EXP;
  if (tm->has_exp && now >= tm->exp + v->leeway)
    return AUTH_EXPIRED;
  has = numeric_date(payload, "nbf", &tm->nbf);
  if (has < 0)
    return AUTH_MALFORMED;
  tm->has_nbf = has == 1;
  if (tm->has_nbf && tm->nbf > now + v->leeway)
    return AUTH_NOT_YET_VALID;
  has = numeric_date(payload, "iat", &tm->iat);
  if (has < 0)
    return AUTH_MALFORMED;
  tm->has_iat = has == 1;
  res = check_times(v, tm, now);
  if (res != AUTH_OK)
    return res;

  if (v->issuer) {
    t = seg_get(payload, "iss");
    if (!seg_is(payload, t, JSCAN_STRING) || !jscan_str_eq(js, t, v->issuer, strlen(v->issuer)))
      return AUTH_BAD_ISSUER;
  }
  t = seg_get(payload, "aud");
  if (v->audience) {
    size_t alen = strlen(v->audience);
    bool found = false;
    if (seg_is(payload, t, JSCAN_STRING)) {
      found = jscan_str_eq(js, t, v->audience, alen);
    } else if (seg_is(payload, t, JSCAN_ARRAY)) {
      uint32_t e = (uint32_t)t + 1;
      for (uint32_t k = 0; k < js->tok[t].n; k++, e = js->tok[e].next)
        if (js->tok[e].type == JSCAN_STRING && jscan_str_eq(js, (int)e, v->audience, alen))
          found = true;
    }
    if (!found)
      return AUTH_BAD_AUDIENCE;
  } else if (t >= 0) {
    return AUTH_BAD_AUDIENCE; /* RFC 7519 4.1.3: we cannot identify with any value */
  }

  t = seg_get(payload, "sub");
  if (t < 0 || (seg_is(payload, t, JSCAN_STRING) && js->tok[t].len == 0))
    return AUTH_MISSING_SUB;
  if (seg_string(payload, t, JWT_MAX_SUB, &sub) != 1 || !plain_string(sub, JWT_MAX_SUB)) {
    free(sub);
    return AUTH_MALFORMED;
  }

  if (v->policy_claim) {
    t = seg_get(payload, v->policy_claim);
    if (t >= 0 && !seg_is(payload, t, JSCAN_NULL) &&
        (seg_string(payload, t, JWT_MAX_POLICY, &policy) != 1 ||
         !plain_string(policy, JWT_MAX_POLICY))) {
      free(sub);
      free(policy);
      return AUTH_MALFORMED;
    }
  }
  out->sub = sub;
  out->policy = policy;
  out->exp = tm->exp;
  return AUTH_OK;
}

/*
 * Tokens verified on this thread. A client keeps its token for many
 * requests (the web SDK asks for a signature three or more times per
 * upload), and verifying one costs a base64 pass, two JSON scans and an
 * HMAC (HS256: ~2 us) or a public-key operation (RS256, ES256: tens of us).
 * An entry holds the exact bytes of a token that passed every check under
 * one verifier (its id: a rebuilt verifier, after a reload or key rotation,
 * never matches), with what came out; a hit re-checks only exp, nbf and
 * iat against the time, in the same order, so the answer is the one a full
 * verification gives. Only successes are kept; a slot is picked from the
 * token's signature, and a token is compared in constant time.
 */
#define JWT_CACHE_SLOTS     32   /* per thread: ~48 KiB */
#define JWT_CACHE_TOKEN_MAX 1024 /* longer tokens are verified every time */

struct jwt_cached {
  uint64_t verifier; /* 0: empty */
  size_t len;
  struct jwt_times tm;
  bool has_policy;
  char sub[JWT_MAX_SUB + 1];
  char policy[JWT_MAX_POLICY + 1];
  char token[JWT_CACHE_TOKEN_MAX];
};

/* Allocated by the first token a thread verifies (only the HTTP threads
 * ever do; a static per-thread array would cost every thread of the
 * process its ~48 KiB), freed when the thread exits. */
static _Thread_local struct jwt_cached *jwt_cache;
static pthread_key_t jwt_cache_key;
static pthread_once_t jwt_cache_once = PTHREAD_ONCE_INIT;
static bool jwt_cache_key_ok;

/* The tokens are credentials: wiped before the memory goes back. */
static void jwt_cache_free(void *p)
{
  secure_zero(p, JWT_CACHE_SLOTS * sizeof(struct jwt_cached));
  free(p);
}

static void jwt_cache_key_init(void)
{
  jwt_cache_key_ok = pthread_key_create(&jwt_cache_key, jwt_cache_free) == 0;
}

/* The slot for the token, NULL when this thread has no cache (create:
 * make it, unless that fails: then nothing is cached). */
static struct jwt_cached *cache_slot(const char *token, size_t len, bool create)
{
  uint32_t h = 2166136261u;

  if (!jwt_cache && create) {
    pthread_once(&jwt_cache_once, jwt_cache_key_init);
    if (jwt_cache_key_ok && (jwt_cache = calloc(JWT_CACHE_SLOTS, sizeof(*jwt_cache))) &&
        pthread_setspecific(jwt_cache_key, jwt_cache) != 0) {
      free(jwt_cache);
      jwt_cache = NULL;
    }
  }
  if (!jwt_cache)
    return NULL;
  /* the end of the signature segment: as good as random for real tokens;
   * a chosen collision only costs its sender a verification */
  for (size_t i = len > 16 ? len - 16 : 0; i < len; i++)
    h = (h ^ (unsigned char)token[i]) * 16777619u;
  return &jwt_cache[h % JWT_CACHE_SLOTS];
}

/* 1 and *res set: answered from the cache (*out filled when AUTH_OK). */
static int cache_lookup(const struct jwt_verifier *v, const char *token, size_t len, int64_t now,
                        struct jwt_identity *out, enum auth_error *res)
{
  const struct jwt_cached *c;

  if (len > JWT_CACHE_TOKEN_MAX)
    return 0;
  c = cache_slot(token, len, false);
  if (!c || c->verifier != v->id || c->len != len || CRYPTO_memcmp(c->token, token, len) != 0)
    return 0;
  *res = check_times(v, &c->tm, now);
  if (*res == AUTH_OK) {
    out->sub = xstrdup(c->sub);
    out->policy = c->has_policy ? xstrdup(c->policy) : NULL;
    out->exp = c->tm.exp;
  }
  return 1;
}

static void cache_store(const struct jwt_verifier *v, const char *token, size_t len,
                        const struct jwt_times *tm, const struct jwt_identity *id)
{
  struct jwt_cached *c;

  if (len > JWT_CACHE_TOKEN_MAX || strlen(id->sub) > JWT_MAX_SUB ||
      (id->policy && strlen(id->policy) > JWT_MAX_POLICY))
    return;
  c = cache_slot(token, len, true);
  if (!c)
    return;
  c->verifier = v->id;
  c->len = len;
  c->tm = *tm;
  memcpy(c->token, token, len);
  str_copy(c->sub, sizeof(c->sub), id->sub);
  c->has_policy = id->policy != NULL;
  str_copy(c->policy, sizeof(c->policy), id->policy ? id->policy : "");
}

/*
 * Verify the signature of [tbs, tbs+tbslen) ("header.payload") with one key,
 * pinned to its algorithm. HS256: one HMAC and a constant-time compare.
 * RS256: RSASSA-PKCS1-v1_5 with SHA-256. ES256: the JWS form r||s (RFC 7518
 * 3.4) re-encoded as the DER ECDSA-Sig-Value that OpenSSL verifies.
 */
static enum auth_error verify_signature(const struct jwt_key *k, const char *tbs, size_t tbslen,
                                        const unsigned char *sig, size_t siglen)
{
  unsigned char der[80];
  const unsigned char *vsig = sig;
  size_t vlen = siglen;
  EVP_MD_CTX *ctx;
  int rc;

  if (siglen != k->sig_len)
    return AUTH_BAD_SIGNATURE;
  if (k->alg == KEY_HS256) {
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    bool same;
    if (hmac_key_mac(k->hmac, tbs, tbslen, mac, sizeof(mac), &maclen) != VG_OK)
      return AUTH_INTERNAL;
    same = ct_equal(mac, maclen, sig, siglen);
    secure_zero(mac, sizeof(mac));
    return same ? AUTH_OK : AUTH_BAD_SIGNATURE;
  }
  if (k->alg == KEY_ES256) {
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    unsigned char *p = der;
    int n;
    if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
      ECDSA_SIG_free(es);
      BN_free(r);
      BN_free(s);
      return AUTH_INTERNAL;
    }
    /* r, s < 2^256: the DER form is at most 72 bytes. */
    n = i2d_ECDSA_SIG(es, NULL) <= (int)sizeof(der) ? i2d_ECDSA_SIG(es, &p) : -1;
    ECDSA_SIG_free(es); /* frees r and s */
    if (n <= 0)
      return AUTH_INTERNAL;
    vsig = der;
    vlen = (size_t)n;
  }
  ctx = EVP_MD_CTX_new();
  if (!ctx)
    return AUTH_INTERNAL;
  rc = EVP_DigestVerifyInit_ex(ctx, NULL, "SHA256", NULL, NULL, k->pkey, NULL) == 1 &&
       EVP_DigestVerify(ctx, vsig, vlen, (const unsigned char *)tbs, tbslen) == 1;
  EVP_MD_CTX_free(ctx);
  return rc ? AUTH_OK : AUTH_BAD_SIGNATURE;
}

enum auth_error jwt_verify(const struct jwt_verifier *v, const char *token, size_t len, int64_t now,
                           struct jwt_identity *out)
{
  const char *dot1, *dot2, *hdr, *pay, *sig;
  size_t hlen, plen, slen, i;
  struct seg hp[2]; /* [0] header, [1] claims */
  const struct seg *header, *payload;
  char kid_buf[6 * JWT_MAX_KID + 1]; /* raw room: decoding never lengthens */
  const char *kid = NULL;
  int t;
  int alg_idx = -1;
  const struct jwt_key *candidates[JWT_MAX_KEYS];
  size_t ncand = 0;
  unsigned char sigstack[1100], *sigbuf = NULL; /* an RSA-8192 signature fits the stack */
  size_t siglen = 0;
  enum auth_error res;

  struct jwt_times tm;

  memset(out, 0, sizeof(*out));
  if (!token || len == 0)
    return AUTH_MISSING;
  if (!v)
    return AUTH_ALG_NOT_ALLOWED; /* no key configured for any algorithm */
  if (len > v->max_token)
    return AUTH_TOO_LONG;
  if (cache_lookup(v, token, len, now, out, &res))
    return res;

  /* Structure: exactly three segments of base64url characters (which also
   * rules out NUL bytes, spaces and any other separator). */
  dot1 = memchr(token, '.', len);
  dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
  if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
    return AUTH_MALFORMED;
  hdr = token;
  hlen = (size_t)(dot1 - token);
  pay = dot1 + 1;
  plen = (size_t)(dot2 - pay);
  sig = dot2 + 1;
  slen = len - (size_t)(sig - token);
  if (hlen == 0 || plen == 0 || !auth_b64url_alphabet(hdr, hlen) ||
      !auth_b64url_alphabet(pay, plen) || !auth_b64url_alphabet(sig, slen))
    return AUTH_MALFORMED;

  memset(&hp[0].js, 0, sizeof(hp[0].js));
  memset(&hp[1].js, 0, sizeof(hp[1].js));
  hp[0].raw = hp[1].raw = NULL;
  header = &hp[0];
  payload = &hp[1];
  if (!seg_parse(&hp[0], hdr, hlen) || !seg_parse(&hp[1], pay, plen)) {
    res = AUTH_MALFORMED;
    goto done;
  }
  /* Header (RFC 7515 4.1). */
  t = seg_get(header, "alg");
  if (!seg_is(header, t, JSCAN_STRING)) {
    res = AUTH_MALFORMED;
    goto done;
  }
  for (i = 0; i < ARRAY_SIZE(key_alg_names); i++)
    if (jscan_str_eq(&header->js, t, key_alg_names[i], strlen(key_alg_names[i])))
      alg_idx = (int)i;
  t = seg_get(header, "typ");
  if (t >= 0) {
    /* "JWT" in any case; three characters take at most 18 raw bytes. */
    char typ[19];
    if (!seg_is(header, t, JSCAN_STRING) || header->js.tok[t].len >= sizeof(typ) ||
        jscan_str_copy(&header->js, t, typ) != 3 || strcasecmp(typ, "JWT") != 0) {
      res = AUTH_MALFORMED; /* libjwt would refuse it too; say why */
      goto done;
    }
  }
  if (seg_get(header, "crit") >= 0) {
    res = AUTH_MALFORMED; /* RFC 7515 4.1.11: we understand no extension */
    goto done;
  }
  t = seg_get(header, "kid");
  if (t >= 0) {
    const struct jscan_tok *kt = &header->js.tok[t];
    if (kt->type != JSCAN_STRING || kt->len == 0 || kt->len > 6 * JWT_MAX_KID) {
      res = AUTH_MALFORMED;
      goto done;
    }
    size_t n = jscan_str_copy(&header->js, t, kid_buf);
    if (n == 0 || n > JWT_MAX_KID) {
      res = AUTH_MALFORMED;
      goto done;
    }
    kid = kid_buf;
  }
  if (alg_idx < 0) {
    res = AUTH_ALG_NOT_ALLOWED; /* "none", "HS512", "PS256", "hs256"... */
    goto done;
  }

  /* Key selection: the algorithm is the key's, never the token's choice. */
  if (kid) {
    const struct jwt_key *k = NULL;
    for (i = 0; i < v->nkeys && !k; i++)
      if (v->keys[i].kid && strcmp(v->keys[i].kid, kid) == 0)
        k = &v->keys[i];
    if (!k) {
      res = AUTH_UNKNOWN_KID;
      goto done;
    }
    if ((int)k->alg != alg_idx) {
      res = AUTH_ALG_NOT_ALLOWED;
      goto done;
    }
    candidates[ncand++] = k;
  } else {
    for (i = 0; i < v->nkeys; i++)
      if ((int)v->keys[i].alg == alg_idx)
        candidates[ncand++] = &v->keys[i];
    if (ncand == 0) {
      res = AUTH_ALG_NOT_ALLOWED;
      goto done;
    }
  }

  /* Signature: canonical base64url of the exact length the key produces. */
  sigbuf = B64URL_DECODED_MAX(slen) + 1 <= sizeof(sigstack) ? sigstack
                                                            : malloc(B64URL_DECODED_MAX(slen) + 1);
  if (!sigbuf) {
    res = AUTH_INTERNAL;
    goto done;
  }
  if (slen == 0 || auth_b64url_decode(sig, slen, sigbuf, &siglen) != 0) {
    res = slen == 0 ? AUTH_BAD_SIGNATURE : AUTH_MALFORMED;
    goto done;
  }
  res = AUTH_BAD_SIGNATURE;
  for (i = 0; i < ncand && res != AUTH_OK && res != AUTH_INTERNAL; i++)
    res = verify_signature(candidates[i], token, (size_t)(dot2 - token), sigbuf, siglen);
  /* A failed verification leaves OpenSSL errors queued on this thread. */
  ERR_clear_error();
  if (res != AUTH_OK)
    goto done;

  res = check_claims(v, payload, now, out, &tm);
  if (res == AUTH_OK)
    cache_store(v, token, len, &tm, out);
done:
  if (sigbuf != sigstack)
    free(sigbuf);
  seg_release(&hp[0]);
  seg_release(&hp[1]);
  if (res != AUTH_OK)
    jwt_identity_release(out);
  return res;
}

bool jwt_libjwt_verifies(const struct jwt_verifier *v, const char *token, size_t len)
{
  char *copy;
  bool ok = false;

  if (!v || !token || len == 0 || len > v->max_token || memchr(token, '\0', len))
    return false;
  copy = xstrndup(token, len); /* libjwt wants a C string */
  for (size_t i = 0; i < v->nkeys && !ok; i++) {
    const struct jwt_key *k = &v->keys[i];
    jwt_t *j = NULL;
    /* Pin the algorithm here too, or libjwt would HMAC with a PEM key. */
    if (jwt_decode(&j, copy, k->material, (int)k->material_len) == 0 && j &&
        jwt_get_alg(j) == key_alg_libjwt[k->alg])
      ok = true;
    jwt_free(j);
  }
  ERR_clear_error();
  free(copy);
  return ok;
}

void jwt_identity_release(struct jwt_identity *id)
{
  if (!id)
    return;
  free(id->sub);
  free(id->policy);
  memset(id, 0, sizeof(*id));
}

/* ---- minting (tests, `vodgate jwt`) ----------------------------------------------------- */

char *jwt_sign_hs256(const unsigned char *secret, size_t secret_len, const char *claims_json)
{
  static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
  json_t *claims;
  char *payload, *out;
  size_t plen, hlen, n;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int maclen = 0;

  if (!secret || secret_len == 0 || secret_len > CFG_MAX_SECRET_FILE || !claims_json)
    return NULL;
  claims = json_loads(claims_json, JSON_REJECT_DUPLICATES, NULL);
  if (!json_is_object(claims)) {
    json_decref(claims);
    return NULL;
  }
  payload = json_dumps(claims, JSON_COMPACT);
  json_decref(claims);
  if (!payload)
    return NULL;
  plen = strlen(payload);
  hlen = sizeof(header) - 1;
  out = xmalloc(B64URL_ENCODED_SIZE(hlen) + B64URL_ENCODED_SIZE(plen) + B64URL_ENCODED_SIZE(32));
  n = auth_b64url_encode((const unsigned char *)header, hlen, out);
  out[n++] = '.';
  n += auth_b64url_encode((const unsigned char *)payload, plen, out + n);
  free(payload);
  if (!HMAC(EVP_sha256(), secret, (int)secret_len, (const unsigned char *)out, n, mac, &maclen)) {
    free(out);
    return NULL;
  }
  out[n++] = '.';
  auth_b64url_encode(mac, maclen, out + n);
  secure_zero(mac, sizeof(mac));
  return out;
}
