/*
 * Unit tests for auth/jwt: the verifier against hand-minted tokens.
 *
 * Keys are generated here with OpenSSL and written to temporary PEM/JWKS
 * files. Tokens are assembled by hand (our own base64url, HMAC/RSA/ECDSA
 * signatures straight from OpenSSL), so the attacks below do not depend on
 * libjwt being willing to produce them. Time is a fixed NOW: no clocks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "auth/b64url.h"
#include "auth/jwt.h"
#include "core/limits.h"

#define NOW 1750000000LL

static const char secret[] = "0123456789abcdef0123456789abcdef-test-secret";

/* Keys and files shared by all tests (generated once: RSA is slow). */
static EVP_PKEY *rsa, *rsa2, *ec, *ec384;
static char *rsa_pem, *ec_pem, *ec384_pem, *ec_priv_pem;
static char dir[] = "/tmp/vg-test-jwt-XXXXXX";
static char rsa_file[128], ec_file[128], both_file[128], jwks_file[128];

/* ---- helpers: independent base64url, signing, files ---- */

static char *b64url(const unsigned char *in, size_t n)
{
  char *out = malloc(((n + 2) / 3) * 4 + 1);
  int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
  int o = 0;
  for (int i = 0; i < len; i++) {
    if (out[i] == '=')
      break;
    out[o++] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
  }
  out[o] = '\0';
  return out;
}

static char *b64s(const char *s)
{
  return b64url((const unsigned char *)s, strlen(s));
}

static char *join3(const char *a, const char *b, const char *c)
{
  size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
  char *out = malloc(n);
  snprintf(out, n, "%s.%s.%s", a, b, c);
  return out;
}

/* Signing input "b64(header).b64(payload)". */
static char *signing_input(const char *header, const char *payload)
{
  char *h = b64s(header), *p = b64s(payload);
  size_t n = strlen(h) + strlen(p) + 2;
  char *out = malloc(n);
  snprintf(out, n, "%s.%s", h, p);
  free(h);
  free(p);
  return out;
}

static char *with_sig(char *input, const unsigned char *sig, size_t siglen)
{
  char *s = b64url(sig, siglen);
  size_t n = strlen(input) + strlen(s) + 2;
  char *out = malloc(n);
  snprintf(out, n, "%s.%s", input, s);
  free(s);
  free(input);
  return out;
}

static char *mint_hs(const char *header, const char *payload, const void *key, size_t keylen)
{
  char *in = signing_input(header, payload);
  unsigned char mac[32];
  unsigned int maclen = 0;
  assert_non_null(
      HMAC(EVP_sha256(), key, (int)keylen, (unsigned char *)in, strlen(in), mac, &maclen));
  return with_sig(in, mac, maclen);
}

static size_t sign_raw(EVP_PKEY *key, const char *in, unsigned char *sig, size_t cap)
{
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  size_t len = cap;
  assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
  assert_int_equal(EVP_DigestSign(ctx, sig, &len, (const unsigned char *)in, strlen(in)), 1);
  EVP_MD_CTX_free(ctx);
  return len;
}

static char *mint_rs(const char *header, const char *payload, EVP_PKEY *key)
{
  char *in = signing_input(header, payload);
  unsigned char sig[1024];
  size_t len = sign_raw(key, in, sig, sizeof(sig));
  return with_sig(in, sig, len);
}

/* JWS ES256 wants r || s, each padded to the curve size; OpenSSL gives DER. */
static char *mint_es(const char *header, const char *payload, EVP_PKEY *key, int size)
{
  char *in = signing_input(header, payload);
  unsigned char der[256], raw[132];
  size_t len = sign_raw(key, in, der, sizeof(der));
  const unsigned char *p = der;
  ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
  assert_non_null(es);
  BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, size);
  BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + size, size);
  ECDSA_SIG_free(es);
  return with_sig(in, raw, (size_t)(2 * size));
}

static char *pubkey_pem(EVP_PKEY *key)
{
  BIO *bio = BIO_new(BIO_s_mem());
  BUF_MEM *mem;
  char *out;
  assert_int_equal(PEM_write_bio_PUBKEY(bio, key), 1);
  BIO_get_mem_ptr(bio, &mem);
  out = strndup(mem->data, mem->length);
  BIO_free(bio);
  return out;
}

static void write_file(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static char *bn_b64(EVP_PKEY *key, const char *param, int pad)
{
  BIGNUM *bn = NULL;
  unsigned char buf[1024];
  int n;
  char *out;
  assert_int_equal(EVP_PKEY_get_bn_param(key, param, &bn), 1);
  n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
  out = b64url(buf, (size_t)n);
  BN_free(bn);
  return out;
}

/* JWK text of a public key, with an optional kid and extra members. */
static char *jwk(EVP_PKEY *key, const char *kid, const char *extra)
{
  char *out = malloc(4096);
  char kidm[300] = "";
  if (kid)
    snprintf(kidm, sizeof(kidm), "\"kid\":\"%s\",", kid);
  if (EVP_PKEY_is_a(key, "RSA")) {
    char *n = bn_b64(key, OSSL_PKEY_PARAM_RSA_N, 0), *e = bn_b64(key, OSSL_PKEY_PARAM_RSA_E, 0);
    snprintf(out, 4096, "{\"kty\":\"RSA\",%s\"n\":\"%s\",\"e\":\"%s\"%s}", kidm, n, e,
             extra ? extra : "");
    free(n);
    free(e);
  } else {
    int size = EVP_PKEY_get_bits(key) > 256 ? 48 : 32;
    char *x = bn_b64(key, OSSL_PKEY_PARAM_EC_PUB_X, size);
    char *y = bn_b64(key, OSSL_PKEY_PARAM_EC_PUB_Y, size);
    snprintf(out, 4096, "{\"kty\":\"EC\",%s\"crv\":\"%s\",\"x\":\"%s\",\"y\":\"%s\"%s}", kidm,
             size == 32 ? "P-256" : "P-384", x, y, extra ? extra : "");
    free(x);
    free(y);
  }
  return out;
}

static int setup(void **state)
{
  char *j1, *j2, *jwks;
  size_t n;
  BIO *bio;
  BUF_MEM *mem;

  rsa = EVP_RSA_gen(2048);
  rsa2 = EVP_RSA_gen(2048);
  ec = EVP_EC_gen("P-256");
  ec384 = EVP_EC_gen("P-384");
  assert_true(rsa && rsa2 && ec && ec384);
  rsa_pem = pubkey_pem(rsa);
  ec_pem = pubkey_pem(ec);
  ec384_pem = pubkey_pem(ec384);
  bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, ec, NULL, NULL, 0, NULL, NULL);
  BIO_get_mem_ptr(bio, &mem);
  ec_priv_pem = strndup(mem->data, mem->length);
  BIO_free(bio);

  assert_non_null(mkdtemp(dir));
  snprintf(rsa_file, sizeof(rsa_file), "%s/rsa.pem", dir);
  snprintf(ec_file, sizeof(ec_file), "%s/ec.pem", dir);
  snprintf(both_file, sizeof(both_file), "%s/both.pem", dir);
  snprintf(jwks_file, sizeof(jwks_file), "%s/jwks.json", dir);
  write_file(rsa_file, rsa_pem);
  write_file(ec_file, ec_pem);
  {
    char *both = malloc(strlen(rsa_pem) + strlen(ec_pem) + 32);
    n = (size_t)snprintf(both, strlen(rsa_pem) + strlen(ec_pem) + 32, "comment\n%s%s", rsa_pem,
                         ec_pem);
    assert_true(n > 0);
    write_file(both_file, both);
    free(both);
  }
  j1 = jwk(rsa, "rsa-1", ",\"alg\":\"RS256\",\"use\":\"sig\"");
  j2 = jwk(ec, "ec-1", NULL);
  jwks = malloc(10000);
  snprintf(jwks, 10000, "{\"keys\":[%s,%s]}", j1, j2);
  write_file(jwks_file, jwks);
  free(j1);
  free(j2);
  free(jwks);
  return 0;
}

static int teardown(void **state)
{
  unlink(rsa_file);
  unlink(ec_file);
  unlink(both_file);
  unlink(jwks_file);
  rmdir(dir);
  EVP_PKEY_free(rsa);
  EVP_PKEY_free(rsa2);
  EVP_PKEY_free(ec);
  EVP_PKEY_free(ec384);
  free(rsa_pem);
  free(ec_pem);
  free(ec384_pem);
  free(ec_priv_pem);
  return 0;
}

/* ---- verifiers ---- */

static struct jwt_verifier *make(const struct jwt_config *c)
{
  char err[512];
  struct jwt_verifier *v = jwt_verifier_new(c, err, sizeof(err));
  if (!v)
    fail_msg("jwt_verifier_new: %s", err);
  return v;
}

static struct jwt_verifier *hs_only(void)
{
  struct jwt_config c;
  jwt_config_init(&c);
  c.hs256_secret = (const unsigned char *)secret;
  c.hs256_secret_len = strlen(secret);
  c.policy_claim = "vg_policy";
  return make(&c);
}

/* Everything at once: HS secret, RSA + EC PEM, JWKS, iss, aud. */
static struct jwt_verifier *full(void)
{
  struct jwt_config c;
  jwt_config_init(&c);
  c.hs256_secret = (const unsigned char *)secret;
  c.hs256_secret_len = strlen(secret);
  c.public_key_file = both_file;
  c.jwks_file = jwks_file;
  c.issuer = "https://idp.example";
  c.audience = "vodgate";
  c.policy_claim = "vg_policy";
  return make(&c);
}

static const char HS[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
static const char RS[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
static const char ES[] = "{\"alg\":\"ES256\"}";
/* exp = NOW + 3600 */
static const char GOOD[] = "{\"sub\":\"user-42\",\"exp\":1750003600,\"iat\":1750000000,"
                           "\"iss\":\"https://idp.example\",\"aud\":\"vodgate\","
                           "\"vg_policy\":\"gold\"}";

static enum auth_error verify(const struct jwt_verifier *v, const char *tok)
{
  struct jwt_identity id;
  enum auth_error e = jwt_verify(v, tok, strlen(tok), NOW, &id);
  if (e == AUTH_OK)
    jwt_identity_release(&id);
  else
    assert_null(id.sub);
  return e;
}

/* Mint with HS, verify, free; returns the reason. */
static enum auth_error hs_case(const struct jwt_verifier *v, const char *header,
                               const char *payload)
{
  char *t = mint_hs(header, payload, secret, strlen(secret));
  enum auth_error e = verify(v, t);
  free(t);
  return e;
}

/* ---- good tokens ---- */

static void good_tokens_pass(void **state)
{
  struct jwt_verifier *v = full();
  struct jwt_identity id;
  char *toks[6];
  char hk[64], ek[64];

  snprintf(hk, sizeof(hk), "{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}");
  snprintf(ek, sizeof(ek), "{\"alg\":\"ES256\",\"kid\":\"ec-1\",\"typ\":\"jwt\"}");
  toks[0] = mint_hs(HS, GOOD, secret, strlen(secret));
  toks[1] = mint_rs(RS, GOOD, rsa);    /* PEM key, no kid */
  toks[2] = mint_es(ES, GOOD, ec, 32); /* PEM key, no kid */
  toks[3] = mint_rs(hk, GOOD, rsa);    /* JWKS key by kid */
  toks[4] = mint_es(ek, GOOD, ec, 32); /* JWKS key by kid */
  toks[5] = jwt_sign_hs256((const unsigned char *)secret, strlen(secret), GOOD);
  assert_non_null(toks[5]);
  assert_int_equal(jwt_verifier_key_count(v), 5);
  for (int i = 0; i < 6; i++) {
    assert_int_equal(jwt_verify(v, toks[i], strlen(toks[i]), NOW, &id), AUTH_OK);
    assert_string_equal(id.sub, "user-42");
    assert_string_equal(id.policy, "gold");
    assert_int_equal(id.exp, 1750003600);
    jwt_identity_release(&id);
    assert_null(id.sub);
    free(toks[i]);
  }
  jwt_verifier_free(v);
}

static void jwks_only_verifier(void **state)
{
  struct jwt_config c;
  struct jwt_verifier *v;
  char *t;
  jwt_config_init(&c);
  c.jwks_file = jwks_file;
  c.issuer = "https://idp.example";
  c.audience = "vodgate";
  v = make(&c);
  assert_int_equal(jwt_verifier_key_count(v), 2);
  /* No kid: keys of the token's alg are tried. */
  t = mint_rs(RS, GOOD, rsa);
  assert_int_equal(verify(v, t), AUTH_OK);
  free(t);
  t = mint_es(ES, GOOD, ec, 32);
  assert_int_equal(verify(v, t), AUTH_OK);
  free(t);
  /* No policy claim configured: policy is NULL even though the token has one. */
  {
    struct jwt_identity id;
    t = mint_rs("{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}", GOOD, rsa);
    assert_int_equal(jwt_verify(v, t, strlen(t), NOW, &id), AUTH_OK);
    assert_null(id.policy);
    jwt_identity_release(&id);
    free(t);
  }
  jwt_verifier_free(v);
}

/* ---- missing / malformed ---- */

static void missing_and_too_long(void **state)
{
  struct jwt_verifier *v = hs_only();
  struct jwt_identity id;
  char *big;

  assert_int_equal(jwt_verify(v, NULL, 0, NOW, &id), AUTH_MISSING);
  assert_int_equal(jwt_verify(v, "", 0, NOW, &id), AUTH_MISSING);
  assert_int_equal(jwt_verify(NULL, "", 0, NOW, &id), AUTH_MISSING);
  assert_int_equal(jwt_verify(NULL, "a.b.c", 5, NOW, &id), AUTH_ALG_NOT_ALLOWED);
  big = malloc(AUTH_MAX_TOKEN + 2);
  memset(big, 'A', AUTH_MAX_TOKEN + 1);
  big[10] = '.';
  big[20] = '.';
  big[AUTH_MAX_TOKEN + 1] = '\0';
  assert_int_equal(jwt_verify(v, big, AUTH_MAX_TOKEN + 1, NOW, &id), AUTH_TOO_LONG);
  /* Exactly at the limit it is judged on content, not size. */
  assert_int_equal(jwt_verify(v, big, AUTH_MAX_TOKEN, NOW, &id), AUTH_MALFORMED);
  jwt_verifier_free(v);
  /* A smaller configured maximum. */
  {
    struct jwt_config c;
    char *t = mint_hs(HS, "{\"sub\":\"u\",\"exp\":1750003600}", secret, strlen(secret));
    char err[256];
    jwt_config_init(&c);
    c.hs256_secret = (const unsigned char *)secret;
    c.hs256_secret_len = strlen(secret);
    c.max_token = strlen(t);
    v = make(&c);
    assert_int_equal(verify(v, t), AUTH_OK);
    jwt_verifier_free(v);
    c.max_token = strlen(t) - 1;
    v = make(&c);
    assert_int_equal(verify(v, t), AUTH_TOO_LONG);
    jwt_verifier_free(v);
    c.max_token = AUTH_MAX_TOKEN + 1;
    assert_null(jwt_verifier_new(&c, err, sizeof(err)));
    free(t);
  }
  free(big);
}

static void malformed_tokens(void **state)
{
  struct jwt_verifier *v = hs_only();
  char *good = mint_hs(HS, "{\"sub\":\"u\",\"exp\":1750003600}", secret, strlen(secret));
  char *t, *h, *p;
  size_t n = strlen(good);
  const char *sig = strrchr(good, '.') + 1;

  assert_int_equal(verify(v, good), AUTH_OK);
  /* Two segments, four segments, empty segments. */
  t = strndup(good, (size_t)(strrchr(good, '.') - good));
  assert_int_equal(verify(v, t), AUTH_MALFORMED);
  free(t);
  t = malloc(n + 3);
  snprintf(t, n + 3, "%s.x", good);
  assert_int_equal(verify(v, t), AUTH_MALFORMED);
  free(t);
  t = strdup(strchr(good, '.')); /* ".payload.sig" */
  assert_int_equal(verify(v, t), AUTH_MALFORMED);
  free(t);
  h = b64s(HS);
  t = join3(h, "", sig);
  assert_int_equal(verify(v, t), AUTH_MALFORMED);
  free(t);
  /* Bad base64url: a character outside the alphabet, padding, non-canonical tail. */
  t = strdup(good);
  t[3] = '+';
  assert_int_equal(verify(v, t), AUTH_MALFORMED);
  free(t);
  t = strdup(good);
  t[5] = '*';
  assert_int_equal(verify(v, t), AUTH_MALFORMED);
  free(t);
  p = b64s("{\"sub\":\"u\",\"exp\":1750003600}");
  {
    char padded[512];
    snprintf(padded, sizeof(padded), "%s.%s==.%s", h, p, sig);
    assert_int_equal(verify(v, padded), AUTH_MALFORMED);
  }
  free(p);
  /* "e30" is {}; "e31" decodes to the same bytes with a non-zero unused bit. */
  t = join3(h, "e31", sig);
  assert_int_equal(verify(v, t), AUTH_MALFORMED);
  free(t);
  /* Length 1 mod 4 cannot be base64. */
  t = join3(h, "e30Ae", sig);
  assert_int_equal(verify(v, t), AUTH_MALFORMED);
  free(t);
  free(h);
  /* NUL byte inside: the length says more than strlen. */
  t = strdup(good);
  t[n - 3] = '\0';
  {
    struct jwt_identity id;
    assert_int_equal(jwt_verify(v, t, n, NOW, &id), AUTH_MALFORMED);
  }
  free(t);
  /* A raw NUL byte in the JSON (jansson would skip it, libjwt stop at it). */
  {
    static const char hnul[] = "{\"alg\":\"HS256\",\"x\":0\0}";
    static const char pnul[] = "{\"sub\":\"u\",\"exp\":1750003600\0}";
    char *hb = b64url((const unsigned char *)hnul, sizeof(hnul) - 1);
    char *pb = b64url((const unsigned char *)pnul, sizeof(pnul) - 1);
    char *gp = b64s("{\"sub\":\"u\",\"exp\":1750003600}");
    char *gh = b64s(HS);
    t = join3(hb, gp, sig);
    assert_int_equal(verify(v, t), AUTH_MALFORMED);
    free(t);
    t = join3(gh, pb, sig);
    assert_int_equal(verify(v, t), AUTH_MALFORMED);
    free(t);
    free(hb);
    free(pb);
    free(gp);
    free(gh);
  }
  /* Bad JSON in header / payload, non-object JSON, duplicate members. */
  assert_int_equal(hs_case(v, "{\"alg\":\"HS256\"", "{\"sub\":\"u\"}"), AUTH_MALFORMED);
  assert_int_equal(hs_case(v, "[\"HS256\"]", "{\"sub\":\"u\"}"), AUTH_MALFORMED);
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"u\",\"exp\":1750003600"), AUTH_MALFORMED);
  assert_int_equal(hs_case(v, HS, "\"just a string\""), AUTH_MALFORMED);
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"u\",\"sub\":\"admin\",\"exp\":1750003600}"),
                   AUTH_MALFORMED);
  assert_int_equal(hs_case(v, "{\"alg\":\"HS256\",\"alg\":\"none\"}", "{\"sub\":\"u\"}"),
                   AUTH_MALFORMED);
  /* Header members. */
  assert_int_equal(hs_case(v, "{\"typ\":\"JWT\"}", "{\"sub\":\"u\",\"exp\":1750003600}"),
                   AUTH_MALFORMED);
  assert_int_equal(hs_case(v, "{\"alg\":256}", "{\"sub\":\"u\",\"exp\":1750003600}"),
                   AUTH_MALFORMED);
  assert_int_equal(
      hs_case(v, "{\"alg\":\"HS256\",\"typ\":\"JWE\"}", "{\"sub\":\"u\",\"exp\":1750003600}"),
      AUTH_MALFORMED);
  assert_int_equal(
      hs_case(v, "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", "{\"sub\":\"u\",\"exp\":1750003600}"),
      AUTH_MALFORMED);
  assert_int_equal(
      hs_case(v, "{\"alg\":\"HS256\",\"kid\":7}", "{\"sub\":\"u\",\"exp\":1750003600}"),
      AUTH_MALFORMED);
  /* Claims of the wrong type. */
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"u\",\"exp\":\"1750003600\"}"), AUTH_MALFORMED);
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"u\",\"exp\":-5}"), AUTH_MALFORMED);
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"u\",\"exp\":1e300}"), AUTH_MALFORMED);
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"u\",\"exp\":1750003600,\"nbf\":true}"),
                   AUTH_MALFORMED);
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"u\",\"exp\":1750003600,\"vg_policy\":5}"),
                   AUTH_MALFORMED);
  free(good);
  jwt_verifier_free(v);
}

/* ---- signatures and algorithms ---- */

static void bad_signatures(void **state)
{
  struct jwt_verifier *v = full();
  char *t;

  /* Flip the first signature character (the last may only carry padding bits). */
  t = mint_hs(HS, GOOD, secret, strlen(secret));
  assert_int_equal(verify(v, t), AUTH_OK);
  {
    char *s = strrchr(t, '.') + 1;
    s[0] = s[0] == 'A' ? 'B' : 'A';
  }
  assert_int_equal(verify(v, t), AUTH_BAD_SIGNATURE);
  free(t);
  /* Only the last MAC byte differs: the whole MAC is compared. */
  {
    unsigned char mac[32];
    unsigned int maclen = 0;
    char *in = signing_input(HS, GOOD);
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)in, strlen(in), mac, &maclen);
    mac[31] ^= 1;
    t = with_sig(in, mac, maclen);
    assert_int_equal(verify(v, t), AUTH_BAD_SIGNATURE);
    free(t);
  }
  /* Another secret. */
  t = mint_hs(HS, GOOD, "another secret another secret another", 37);
  assert_int_equal(verify(v, t), AUTH_BAD_SIGNATURE);
  free(t);
  /* Another RSA key, with and without kid. */
  t = mint_rs(RS, GOOD, rsa2);
  assert_int_equal(verify(v, t), AUTH_BAD_SIGNATURE);
  free(t);
  t = mint_rs("{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}", GOOD, rsa2);
  assert_int_equal(verify(v, t), AUTH_BAD_SIGNATURE);
  free(t);
  /* Payload swapped after signing. */
  {
    char *a = mint_hs(HS, GOOD, secret, strlen(secret));
    char *h = b64s(HS), *p = b64s("{\"sub\":\"admin\",\"exp\":1750003600,\"iss\":"
                                  "\"https://idp.example\",\"aud\":\"vodgate\"}");
    t = join3(h, p, strrchr(a, '.') + 1);
    assert_int_equal(verify(v, t), AUTH_BAD_SIGNATURE);
    free(a);
    free(h);
    free(p);
    free(t);
  }
  /* Empty signature, truncated signature. */
  {
    char *in = signing_input(HS, GOOD);
    size_t n = strlen(in) + 2;
    t = malloc(n);
    snprintf(t, n, "%s.", in);
    assert_int_equal(verify(v, t), AUTH_BAD_SIGNATURE);
    free(t);
    free(in);
  }
  /* 86 characters (64 bytes) cut to 84 (63 bytes): canonical, but too short. */
  t = mint_es(ES, GOOD, ec, 32);
  t[strlen(t) - 2] = '\0';
  assert_int_equal(verify(v, t), AUTH_BAD_SIGNATURE);
  free(t);
  jwt_verifier_free(v);
}

static void alg_none_refused(void **state)
{
  struct jwt_verifier *v = full();
  char *h = b64s("{\"alg\":\"none\",\"typ\":\"JWT\"}"), *p = b64s(GOOD), *t;
  unsigned char junk[32] = {1, 2, 3};
  char *js = b64url(junk, sizeof(junk));

  t = join3(h, p, ""); /* unsecured JWT, RFC 7519 6.1 */
  assert_int_equal(verify(v, t), AUTH_ALG_NOT_ALLOWED);
  free(t);
  t = join3(h, p, js); /* with a signature */
  assert_int_equal(verify(v, t), AUTH_ALG_NOT_ALLOWED);
  free(t);
  free(h);
  /* Spelling variants and other algorithms. */
  assert_int_equal(hs_case(v, "{\"alg\":\"None\"}", GOOD), AUTH_ALG_NOT_ALLOWED);
  assert_int_equal(hs_case(v, "{\"alg\":\"hs256\"}", GOOD), AUTH_ALG_NOT_ALLOWED);
  assert_int_equal(hs_case(v, "{\"alg\":\"HS512\"}", GOOD), AUTH_ALG_NOT_ALLOWED);
  assert_int_equal(hs_case(v, "{\"alg\":\"PS256\"}", GOOD), AUTH_ALG_NOT_ALLOWED);
  assert_int_equal(hs_case(v, "{\"alg\":\"\"}", GOOD), AUTH_ALG_NOT_ALLOWED);
  free(p);
  free(js);
  jwt_verifier_free(v);
}

/* The classic key confusion: HS256 "signed" with the RSA public key's PEM
 * text as the HMAC secret, which an alg-from-header verifier accepts. */
static void hs256_with_rsa_public_key_refused(void **state)
{
  struct jwt_config c;
  struct jwt_verifier *v;
  char *t = mint_hs(HS, GOOD, rsa_pem, strlen(rsa_pem));

  /* RS256-only config: no HS key at all. */
  jwt_config_init(&c);
  c.public_key_file = rsa_file;
  c.issuer = "https://idp.example";
  c.audience = "vodgate";
  v = make(&c);
  assert_int_equal(verify(v, t), AUTH_ALG_NOT_ALLOWED);
  jwt_verifier_free(v);
  /* HS + RS config: HS256 is checked against the shared secret only. */
  v = full();
  assert_int_equal(verify(v, t), AUTH_BAD_SIGNATURE);
  jwt_verifier_free(v);
  /* The forgery itself is well made: with the PEM as the HS secret it passes. */
  c.public_key_file = NULL;
  c.hs256_secret = (const unsigned char *)rsa_pem;
  c.hs256_secret_len = strlen(rsa_pem);
  v = make(&c);
  assert_int_equal(verify(v, t), AUTH_OK);
  jwt_verifier_free(v);
  free(t);
  /* Same attack through a JWKS kid. */
  v = full();
  t = mint_hs("{\"alg\":\"HS256\",\"kid\":\"rsa-1\"}", GOOD, rsa_pem, strlen(rsa_pem));
  assert_int_equal(verify(v, t), AUTH_ALG_NOT_ALLOWED);
  free(t);
  jwt_verifier_free(v);
}

static void rs256_against_hs_only(void **state)
{
  struct jwt_verifier *v = hs_only();
  char *t = mint_rs(RS, "{\"sub\":\"u\",\"exp\":1750003600}", rsa);
  assert_int_equal(verify(v, t), AUTH_ALG_NOT_ALLOWED);
  free(t);
  t = mint_es(ES, "{\"sub\":\"u\",\"exp\":1750003600}", ec, 32);
  assert_int_equal(verify(v, t), AUTH_ALG_NOT_ALLOWED);
  free(t);
  jwt_verifier_free(v);
}

static void es256_wrong_curve(void **state)
{
  struct jwt_config c;
  struct jwt_verifier *v;
  char err[512];
  char *t, *j, *jwks;

  /* A P-384 key in the PEM file is refused at start-up. */
  jwt_config_init(&c);
  c.public_key_pem = ec384_pem;
  assert_null(jwt_verifier_new(&c, err, sizeof(err)));
  assert_non_null(strstr(err, "curve secp384r1"));
  assert_non_null(strstr(err, "jwt_public_key_file"));
  /* A P-384 JWK is skipped; alone it leaves no usable key. */
  j = jwk(ec384, "p384", NULL);
  jwks = malloc(4200);
  snprintf(jwks, 4200, "{\"keys\":[%s]}", j);
  jwt_config_init(&c);
  c.jwks_json = jwks;
  assert_null(jwt_verifier_new(&c, err, sizeof(err)));
  assert_non_null(strstr(err, "no usable key"));
  free(j);
  free(jwks);
  /* A token signed on P-384 (96-byte signature) against the P-256 key. */
  v = full();
  t = mint_es(ES, GOOD, ec384, 48);
  assert_int_equal(verify(v, t), AUTH_BAD_SIGNATURE);
  free(t);
  t = mint_es("{\"alg\":\"ES256\",\"kid\":\"ec-1\"}", GOOD, ec384, 48);
  assert_int_equal(verify(v, t), AUTH_BAD_SIGNATURE);
  free(t);
  jwt_verifier_free(v);
}

static void kid_rules(void **state)
{
  struct jwt_verifier *v = full();
  char *t;

  t = mint_rs("{\"alg\":\"RS256\",\"kid\":\"rsa-9\"}", GOOD, rsa);
  assert_int_equal(verify(v, t), AUTH_UNKNOWN_KID);
  free(t);
  /* A kid on an HS token: the shared secret has no kid. */
  assert_int_equal(hs_case(v, "{\"alg\":\"HS256\",\"kid\":\"k\"}", GOOD), AUTH_UNKNOWN_KID);
  /* A kid naming a key of another algorithm. */
  t = mint_es("{\"alg\":\"ES256\",\"kid\":\"rsa-1\"}", GOOD, ec, 32);
  assert_int_equal(verify(v, t), AUTH_ALG_NOT_ALLOWED);
  free(t);
  /* The right key by kid works; the same signature under the other kid does not. */
  t = mint_rs("{\"alg\":\"RS256\",\"kid\":\"rsa-1\"}", GOOD, rsa);
  assert_int_equal(verify(v, t), AUTH_OK);
  free(t);
  jwt_verifier_free(v);
}

/* ---- claims ---- */

static void time_claims_with_leeway(void **state)
{
  struct jwt_verifier *v = hs_only();
  char p[256];

  /* exp: valid while now < exp + 60. */
  snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%lld}", NOW - 59);
  assert_int_equal(hs_case(v, HS, p), AUTH_OK);
  snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%lld}", NOW - 60);
  assert_int_equal(hs_case(v, HS, p), AUTH_EXPIRED);
  snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%lld}", NOW - 86400);
  assert_int_equal(hs_case(v, HS, p), AUTH_EXPIRED);
  snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%lld.9}", NOW - 60);
  assert_int_equal(hs_case(v, HS, p), AUTH_EXPIRED);
  /* nbf: valid once nbf <= now + 60. */
  snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%lld,\"nbf\":%lld}", NOW + 600, NOW + 60);
  assert_int_equal(hs_case(v, HS, p), AUTH_OK);
  snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%lld,\"nbf\":%lld}", NOW + 600, NOW + 61);
  assert_int_equal(hs_case(v, HS, p), AUTH_NOT_YET_VALID);
  /* iat in the future beyond the leeway. */
  snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%lld,\"iat\":%lld}", NOW + 600, NOW + 60);
  assert_int_equal(hs_case(v, HS, p), AUTH_OK);
  snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%lld,\"iat\":%lld}", NOW + 600, NOW + 61);
  assert_int_equal(hs_case(v, HS, p), AUTH_NOT_YET_VALID);
  /* exp missing. */
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"u\"}"), AUTH_MISSING_EXP);
  jwt_verifier_free(v);

  /* leeway 0: exactly at exp is expired, one second before is fine. */
  {
    struct jwt_config c;
    jwt_config_init(&c);
    c.hs256_secret = (const unsigned char *)secret;
    c.hs256_secret_len = strlen(secret);
    c.leeway = 0;
    c.require_exp = false;
    v = make(&c);
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%lld}", NOW);
    assert_int_equal(hs_case(v, HS, p), AUTH_EXPIRED);
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"exp\":%lld}", NOW + 1);
    assert_int_equal(hs_case(v, HS, p), AUTH_OK);
    snprintf(p, sizeof(p), "{\"sub\":\"u\",\"nbf\":%lld}", NOW + 1);
    assert_int_equal(hs_case(v, HS, p), AUTH_NOT_YET_VALID);
    /* require_exp = false. */
    assert_int_equal(hs_case(v, HS, "{\"sub\":\"u\"}"), AUTH_OK);
    jwt_verifier_free(v);
  }
}

/* Verified tokens are cached per thread: a hit must give what a full
 * verification gives (time re-checked in the same order, nothing carried
 * over to another verifier, a changed byte verified afresh). */
static void cache_gives_the_full_answer(void **state)
{
  struct jwt_verifier *v = hs_only();
  struct jwt_identity id;
  struct jwt_config c;
  char p[2048], *t, *t2, *big;
  size_t n;

  snprintf(p, sizeof(p),
           "{\"sub\":\"u-cache\",\"exp\":%lld,\"nbf\":%lld,\"iat\":%lld,\"vg_policy\":\"gold\"}",
           NOW + 100, NOW - 10, NOW - 10);
  t = mint_hs(HS, p, secret, strlen(secret));
  n = strlen(t);
  for (int i = 0; i < 3; i++) { /* verified, then answered from the cache */
    assert_int_equal(jwt_verify(v, t, n, NOW, &id), AUTH_OK);
    assert_string_equal(id.sub, "u-cache");
    assert_string_equal(id.policy, "gold");
    assert_int_equal(id.exp, NOW + 100);
    jwt_identity_release(&id);
  }
  assert_int_equal(jwt_verify(v, t, n, NOW + 100 + 60, &id), AUTH_EXPIRED);
  assert_null(id.sub);
  assert_int_equal(jwt_verify(v, t, n, NOW + 100 + 59, &id), AUTH_OK);
  jwt_identity_release(&id);
  assert_int_equal(jwt_verify(v, t, n, NOW - 10 - 61, &id), AUTH_NOT_YET_VALID);
  assert_null(id.sub);
  /* one character of the signature changed (still base64url) */
  t2 = strdup(t);
  t2[n - 3] = t2[n - 3] == 'A' ? 'B' : 'A';
  assert_int_equal(verify(v, t2), AUTH_BAD_SIGNATURE);
  /* a prefix of the cached token */
  assert_int_not_equal(jwt_verify(v, t, n - 1, NOW, &id), AUTH_OK);
  jwt_verifier_free(v);

  /* Rebuilt verifiers (perhaps at the same address) decide afresh: another
   * secret, then the same secret with an issuer the token lacks. */
  jwt_config_init(&c);
  c.hs256_secret = (const unsigned char *)"another-secret-another-secret-another";
  c.hs256_secret_len = strlen((const char *)c.hs256_secret);
  v = make(&c);
  assert_int_equal(verify(v, t), AUTH_BAD_SIGNATURE);
  jwt_verifier_free(v);
  jwt_config_init(&c);
  c.hs256_secret = (const unsigned char *)secret;
  c.hs256_secret_len = strlen(secret);
  c.issuer = "https://idp.example";
  v = make(&c);
  assert_int_equal(verify(v, t), AUTH_BAD_ISSUER);
  jwt_verifier_free(v);

  /* A token longer than the cache keeps gives the same answers. */
  v = hs_only();
  big = malloc(1500);
  assert_non_null(big);
  memset(big, 'x', 1499);
  big[1499] = '\0';
  snprintf(p, sizeof(p), "{\"sub\":\"u-big\",\"exp\":%lld,\"pad\":\"%s\"}", NOW + 100, big);
  free(t);
  t = mint_hs(HS, p, secret, strlen(secret));
  assert_true(strlen(t) > 1024);
  assert_int_equal(verify(v, t), AUTH_OK);
  assert_int_equal(verify(v, t), AUTH_OK);
  assert_int_equal(jwt_verify(v, t, strlen(t), NOW + 160, &id), AUTH_EXPIRED);
  jwt_verifier_free(v);
  free(big);
  free(t);
  free(t2);
}

static void issuer_and_audience(void **state)
{
  struct jwt_verifier *v = full();

#define P(extra) "{\"sub\":\"u\",\"exp\":1750003600" extra "}"
  assert_int_equal(hs_case(v, HS, P(",\"iss\":\"https://idp.example\",\"aud\":\"vodgate\"")),
                   AUTH_OK);
  assert_int_equal(hs_case(v, HS, P(",\"iss\":\"https://evil.example\",\"aud\":\"vodgate\"")),
                   AUTH_BAD_ISSUER);
  assert_int_equal(hs_case(v, HS, P(",\"aud\":\"vodgate\"")), AUTH_BAD_ISSUER);
  assert_int_equal(hs_case(v, HS, P(",\"iss\":[\"https://idp.example\"],\"aud\":\"vodgate\"")),
                   AUTH_BAD_ISSUER);
  assert_int_equal(hs_case(v, HS, P(",\"iss\":\"https://idp.example\",\"aud\":\"other\"")),
                   AUTH_BAD_AUDIENCE);
  assert_int_equal(hs_case(v, HS, P(",\"iss\":\"https://idp.example\"")), AUTH_BAD_AUDIENCE);
  assert_int_equal(hs_case(v, HS, P(",\"iss\":\"https://idp.example\",\"aud\":[\"a\",\"b\"]")),
                   AUTH_BAD_AUDIENCE);
  assert_int_equal(
      hs_case(v, HS, P(",\"iss\":\"https://idp.example\",\"aud\":[\"a\",\"vodgate\"]")), AUTH_OK);
  assert_int_equal(hs_case(v, HS, P(",\"iss\":\"https://idp.example\",\"aud\":[\"vodgatx\"]")),
                   AUTH_BAD_AUDIENCE);
  assert_int_equal(hs_case(v, HS, P(",\"iss\":\"https://idp.example\",\"aud\":[7,\"vodgate\"]")),
                   AUTH_OK);
  assert_int_equal(hs_case(v, HS, P(",\"iss\":\"https://idp.example\",\"aud\":[]")),
                   AUTH_BAD_AUDIENCE);
  assert_int_equal(hs_case(v, HS, P(",\"iss\":\"https://idp.example\",\"aud\":\"vodgatex\"")),
                   AUTH_BAD_AUDIENCE);
  jwt_verifier_free(v);
  /* No audience configured: a token naming one is not for us. */
  v = hs_only();
  assert_int_equal(hs_case(v, HS, P(",\"aud\":\"vodgate\"")), AUTH_BAD_AUDIENCE);
  assert_int_equal(hs_case(v, HS, P(",\"iss\":\"anyone\"")), AUTH_OK);
  jwt_verifier_free(v);
#undef P
}

static void subject_and_policy(void **state)
{
  struct jwt_verifier *v = hs_only();
  struct jwt_identity id;
  char p[600], sub[300];
  char *t;

  assert_int_equal(hs_case(v, HS, "{\"exp\":1750003600}"), AUTH_MISSING_SUB);
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"\",\"exp\":1750003600}"), AUTH_MISSING_SUB);
  assert_int_equal(hs_case(v, HS, "{\"sub\":42,\"exp\":1750003600}"), AUTH_MALFORMED);
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"a\\u0000b\",\"exp\":1750003600}"), AUTH_MALFORMED);
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"a\\nb\",\"exp\":1750003600}"), AUTH_MALFORMED);
  /* C1 controls too (U+009B is CSI), raw or escaped; U+00A0 and up are fine */
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"a\\u009b31mb\",\"exp\":1750003600}"), AUTH_MALFORMED);
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"a\xc2\x85\" \"b\",\"exp\":1750003600}"),
                   AUTH_MALFORMED);
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"a\\u0080\",\"exp\":1750003600}"), AUTH_MALFORMED);
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"u\",\"exp\":1750003600,\"vg_policy\":\"p\\u009f\"}"),
                   AUTH_MALFORMED);
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"a\\u00a0b\\u00ff\",\"exp\":1750003600}"), AUTH_OK);
  /* Bidirectional controls: a user id that prints as another one */
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"admin\\u202egpj\",\"exp\":1750003600}"),
                   AUTH_MALFORMED);
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"a\xe2\x81\xa6\" \"b\",\"exp\":1750003600}"),
                   AUTH_MALFORMED);
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"a\\u200fb\",\"exp\":1750003600}"), AUTH_MALFORMED);
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"a\\u061cb\",\"exp\":1750003600}"), AUTH_MALFORMED);
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"u\",\"exp\":1750003600,\"vg_policy\":\"p\\u2069\"}"),
                   AUTH_MALFORMED);
  /* ...their neighbours are fine (U+200D joins emoji, U+2010 is a hyphen) */
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"a\\u200db\\u2010c\\u2065\",\"exp\":1750003600}"),
                   AUTH_OK);
  memset(sub, 'x', JWT_MAX_SUB);
  sub[JWT_MAX_SUB] = '\0';
  snprintf(p, sizeof(p), "{\"sub\":\"%s\",\"exp\":1750003600}", sub);
  assert_int_equal(hs_case(v, HS, p), AUTH_OK);
  snprintf(p, sizeof(p), "{\"sub\":\"%sx\",\"exp\":1750003600}", sub);
  assert_int_equal(hs_case(v, HS, p), AUTH_MALFORMED);
  /* UTF-8 user ids are fine. */
  t = mint_hs(HS, "{\"sub\":\"用户\",\"exp\":1750003600}", secret, strlen(secret));
  assert_int_equal(jwt_verify(v, t, strlen(t), NOW, &id), AUTH_OK);
  assert_string_equal(id.sub, "用户");
  assert_null(id.policy);
  jwt_identity_release(&id);
  free(t);
  /* Policy claim: present, null, empty. */
  t = mint_hs(HS, "{\"sub\":\"u\",\"exp\":1750003600,\"vg_policy\":\"uploader\"}", secret,
              strlen(secret));
  assert_int_equal(jwt_verify(v, t, strlen(t), NOW, &id), AUTH_OK);
  assert_string_equal(id.policy, "uploader");
  jwt_identity_release(&id);
  free(t);
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"u\",\"exp\":1750003600,\"vg_policy\":null}"),
                   AUTH_OK);
  assert_int_equal(hs_case(v, HS, "{\"sub\":\"u\",\"exp\":1750003600,\"vg_policy\":\"\"}"),
                   AUTH_MALFORMED);
  jwt_verifier_free(v);
}

/* Claims are checked only after the signature: a forged token learns nothing. */
static void signature_checked_before_claims(void **state)
{
  struct jwt_verifier *v = hs_only();
  char *t = mint_hs(HS, "{\"sub\":\"u\",\"exp\":1}", "wrong wrong wrong wrong wrong wrong", 35);
  assert_int_equal(verify(v, t), AUTH_BAD_SIGNATURE);
  free(t);
  jwt_verifier_free(v);
}

/* ---- configuration errors ---- */

static void expect_config_error(const struct jwt_config *c, const char *needle)
{
  char err[512] = "";
  struct jwt_verifier *v = jwt_verifier_new(c, err, sizeof(err));
  if (v)
    jwt_verifier_free(v);
  assert_null(v);
  if (!strstr(err, needle))
    fail_msg("error \"%s\" lacks \"%s\"", err, needle);
}

static void config_errors(void **state)
{
  struct jwt_config c;
  char buf[8192];
  char *j;
  EVP_PKEY *small;

  jwt_config_init(&c);
  expect_config_error(&c, "no JWT key configured");
  c.hs256_secret = (const unsigned char *)"short";
  c.hs256_secret_len = 5;
  expect_config_error(&c, "jwt_hs256_secret: 5 bytes is too short");
  jwt_config_init(&c);
  c.hs256_secret = (const unsigned char *)secret;
  c.hs256_secret_len = strlen(secret);
  c.leeway = 601;
  expect_config_error(&c, "jwt_leeway");
  c.leeway = 60;
  c.policy_claim = "";
  expect_config_error(&c, "jwt_policy_claim");
  c.policy_claim = NULL;
  c.audience = "a\nb";
  expect_config_error(&c, "jwt_audience");
  jwt_config_init(&c);
  c.public_key_file = "/nonexistent/key.pem";
  expect_config_error(&c, "jwt_public_key_file /nonexistent/key.pem: No such file");
  c.public_key_file = NULL;
  c.public_key_pem = ec_priv_pem;
  expect_config_error(&c, "is a private key");
  c.public_key_pem = "-----BEGIN PUBLIC KEY-----\nAAAA\n";
  expect_config_error(&c, "PEM block 1 is malformed");
  c.public_key_pem = "not a pem at all\n";
  expect_config_error(&c, "no PEM public key found");
  c.public_key_pem = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
  expect_config_error(&c, "invalid PUBLIC KEY");
  small = EVP_RSA_gen(1024);
  {
    char *pem = pubkey_pem(small);
    c.public_key_pem = pem;
    expect_config_error(&c, "RSA key of 1024 bits");
    free(pem);
  }
  EVP_PKEY_free(small);
  {
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    char *pem = pubkey_pem(ed);
    c.public_key_pem = pem;
    expect_config_error(&c, "unsupported key type ED25519");
    free(pem);
    EVP_PKEY_free(ed);
  }
  /* JWKS problems. */
  jwt_config_init(&c);
  c.jwks_json = "{\"keys\":";
  expect_config_error(&c, "jwks_file: invalid JSON");
  c.jwks_json = "[]";
  expect_config_error(&c, "not a JWK set");
  c.jwks_json = "{\"keys\":[]}";
  expect_config_error(&c, "no usable key");
  c.jwks_json = "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}";
  expect_config_error(&c, "no usable key");
  j = jwk(rsa, "a", ",\"d\":\"AAAA\"");
  snprintf(buf, sizeof(buf), "{\"keys\":[%s]}", j);
  free(j);
  c.jwks_json = buf;
  expect_config_error(&c, "private key material");
  {
    char *a = jwk(rsa, "same", NULL), *b = jwk(ec, "same", NULL);
    snprintf(buf, sizeof(buf), "{\"keys\":[%s,%s]}", a, b);
    free(a);
    free(b);
    expect_config_error(&c, "duplicate kid \"same\"");
  }
  c.jwks_json = "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}]}";
  expect_config_error(&c, "32-byte");
  /* A point that is not on the curve. */
  {
    unsigned char x[32] = {1}, y[32] = {2};
    char *xs = b64url(x, 32), *ys = b64url(y, 32);
    snprintf(buf, sizeof(buf),
             "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}]}", xs, ys);
    free(xs);
    free(ys);
    c.jwks_json = buf;
    expect_config_error(&c, "key 1");
  }
  /* Skipped entries next to a good one: the good one loads. */
  {
    char *a = jwk(rsa, "enc", ",\"use\":\"enc\""), *b = jwk(ec, "ok", NULL);
    char *d = jwk(rsa, "ps", ",\"alg\":\"PS256\"");
    struct jwt_verifier *v;
    snprintf(buf, sizeof(buf), "{\"keys\":[%s,%s,%s]}", a, b, d);
    free(a);
    free(b);
    free(d);
    c.jwks_json = buf;
    v = make(&c);
    assert_int_equal(jwt_verifier_key_count(v), 1);
    jwt_verifier_free(v);
  }
}

/* ---- strict base64url ---- */

static void b64url_is_strict(void **state)
{
  static const struct {
    const char *in;
    const char *out; /* NULL: must be refused */
  } cases[] = {
      {"", ""},           {"Zg", "f"},     {"Zm8", "fo"},   {"Zm9v", "foo"},
      {"Zm9vYg", "foob"}, {"Zh", NULL},    {"Zm9", NULL},   {"Z", NULL},
      {"Zm9vY", NULL},    {"Zg==", NULL},  {"Zm9v=", NULL}, {"Zm+v", NULL},
      {"Zm/v", NULL},     {"Zm9 v", NULL}, {"Zm\nv", NULL}, {"_-8", "\xff\xef"},
  };
  unsigned char out[64], raw[100];
  size_t n;

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc = auth_b64url_decode(cases[i].in, strlen(cases[i].in), out, &n);
    if (!cases[i].out) {
      if (rc != -1)
        fail_msg("\"%s\" was accepted", cases[i].in);
      continue;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, strlen(cases[i].out));
    assert_memory_equal(out, cases[i].out, n);
  }
  /* Round trip against OpenSSL's encoder for every tail length. */
  for (size_t len = 0; len < sizeof(raw); len++) {
    char mine[B64URL_ENCODED_SIZE(100)];
    char *theirs;
    unsigned char back[B64URL_DECODED_MAX(sizeof(mine))];
    for (size_t i = 0; i < len; i++)
      raw[i] = (unsigned char)(i * 37 + len);
    theirs = b64url(raw, len);
    assert_int_equal(auth_b64url_encode(raw, len, mine), strlen(theirs));
    assert_string_equal(mine, theirs);
    assert_int_equal(auth_b64url_decode(mine, strlen(mine), back, &n), 0);
    assert_int_equal(n, len);
    assert_memory_equal(back, raw, len);
    free(theirs);
  }
}

/* ---- bearer header, reasons, minting ---- */

static void bearer_header(void **state)
{
  const char *t;
  size_t n;
  char big[AUTH_MAX_TOKEN + 20];

  assert_int_equal(auth_bearer_parse("Bearer abc.def.ghi", 0, &t, &n), AUTH_OK);
  assert_int_equal(n, 11);
  assert_memory_equal(t, "abc.def.ghi", 11);
  assert_int_equal(auth_bearer_parse("bearer  abc ", 0, &t, &n), AUTH_OK);
  assert_int_equal(n, 3);
  assert_memory_equal(t, "abc", 3);
  assert_int_equal(auth_bearer_parse("BEARER vg_x-y_z~+/==", 0, &t, &n), AUTH_OK);
  assert_int_equal(n, 13);
  assert_int_equal(auth_bearer_parse(NULL, 0, &t, &n), AUTH_MISSING);
  assert_null(t);
  assert_int_equal(auth_bearer_parse("", 0, &t, &n), AUTH_MISSING);
  assert_int_equal(auth_bearer_parse("   ", 0, &t, &n), AUTH_MISSING);
  assert_int_equal(auth_bearer_parse("Bearer", 0, &t, &n), AUTH_MISSING);
  assert_int_equal(auth_bearer_parse("Bearer   ", 0, &t, &n), AUTH_MISSING);
  assert_int_equal(auth_bearer_parse("Basic dXNlcjpwYXNz", 0, &t, &n), AUTH_MALFORMED);
  assert_int_equal(auth_bearer_parse("Bearerabc", 0, &t, &n), AUTH_MALFORMED);
  assert_int_equal(auth_bearer_parse("Bearer\tabc", 0, &t, &n), AUTH_MALFORMED);
  assert_int_equal(auth_bearer_parse("Bearer a b", 0, &t, &n), AUTH_MALFORMED);
  assert_int_equal(auth_bearer_parse("Bearer a=b", 0, &t, &n), AUTH_MALFORMED);
  assert_int_equal(auth_bearer_parse("Bearer a\"b", 0, &t, &n), AUTH_MALFORMED);
  assert_int_equal(auth_bearer_parse("Bearer abcdef", 5, &t, &n), AUTH_TOO_LONG);
  assert_int_equal(auth_bearer_parse("Bearer abcde", 5, &t, &n), AUTH_OK);
  memcpy(big, "Bearer ", 7);
  memset(big + 7, 'a', AUTH_MAX_TOKEN + 1);
  big[AUTH_MAX_TOKEN + 8] = '\0';
  assert_int_equal(auth_bearer_parse(big, 0, &t, &n), AUTH_TOO_LONG);
  big[AUTH_MAX_TOKEN + 7] = '\0';
  assert_int_equal(auth_bearer_parse(big, 0, &t, &n), AUTH_OK);
  assert_int_equal(n, AUTH_MAX_TOKEN);
}

static void reason_strings_are_stable(void **state)
{
  static const char *const want[] = {
      "ok",          "missing",  "malformed",     "bad_signature", "alg_not_allowed",
      "unknown_kid", "expired",  "not_yet_valid", "bad_issuer",    "bad_audience",
      "missing_sub", "too_long", "missing_exp",   "unknown_token", "internal",
  };
  assert_int_equal(sizeof(want) / sizeof(want[0]), AUTH_ERROR_COUNT);
  for (int i = 0; i < AUTH_ERROR_COUNT; i++)
    assert_string_equal(auth_error_str((enum auth_error)i), want[i]);
  assert_string_equal(auth_error_str((enum auth_error)99), "unknown");
  assert_int_equal(AUTH_BAD_SIGNATURE, 3);
  assert_int_equal(AUTH_TOO_LONG, 11);
}

static void sign_hs256_helper(void **state)
{
  char *t = jwt_sign_hs256((const unsigned char *)secret, strlen(secret),
                           "{\"sub\":\"dev\",\"exp\":1750003600}");
  char *h = b64s("{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
  struct jwt_verifier *v = hs_only();

  assert_non_null(t);
  assert_memory_equal(t, h, strlen(h));
  assert_int_equal(verify(v, t), AUTH_OK);
  free(t);
  free(h);
  assert_null(jwt_sign_hs256((const unsigned char *)secret, strlen(secret), "[1]"));
  assert_null(jwt_sign_hs256((const unsigned char *)secret, strlen(secret), "{"));
  assert_null(jwt_sign_hs256((const unsigned char *)secret, 0, "{}"));
  jwt_verifier_free(v);
}

/* ---- our signature check agrees with libjwt's ---- */

static void libjwt_agrees(void **state)
{
  struct jwt_verifier *v = full();
  char *good[3] = {mint_hs(HS, GOOD, secret, strlen(secret)), mint_rs(RS, GOOD, rsa),
                   mint_es(ES, GOOD, ec, 32)};
  char *bad[4] = {mint_hs(HS, GOOD, rsa_pem, strlen(rsa_pem)), /* key confusion */
                  mint_rs(RS, GOOD, rsa2), mint_es(ES, GOOD, ec384, 48),
                  mint_hs(HS, GOOD, "another secret another secret another", 37)};
  char *flipped;

  for (int i = 0; i < 3; i++) {
    assert_int_equal(verify(v, good[i]), AUTH_OK);
    assert_true(jwt_libjwt_verifies(v, good[i], strlen(good[i])));
    /* Flip one bit of the first signature byte (first character: 6 bits, no padding bits). */
    flipped = strdup(good[i]);
    {
      char *c = strrchr(flipped, '.') + 1;
      *c = *c == 'A' ? 'Q' : 'A';
    }
    assert_int_equal(verify(v, flipped), AUTH_BAD_SIGNATURE);
    assert_false(jwt_libjwt_verifies(v, flipped, strlen(flipped)));
    free(flipped);
    free(good[i]);
  }
  for (int i = 0; i < 4; i++) {
    assert_int_not_equal(verify(v, bad[i]), AUTH_OK);
    assert_false(jwt_libjwt_verifies(v, bad[i], strlen(bad[i])));
    free(bad[i]);
  }
  assert_false(jwt_libjwt_verifies(v, "a.b.c", 5));
  assert_false(jwt_libjwt_verifies(NULL, "a.b.c", 5));
  jwt_verifier_free(v);
}

/* ---- concurrency: one verifier, several threads ---- */

struct worker {
  const struct jwt_verifier *v;
  const char *toks[3];
  int failures;
};

static void *work(void *arg)
{
  struct worker *w = arg;
  for (int i = 0; i < 150; i++) {
    struct jwt_identity id;
    const char *t = w->toks[i % 3];
    if (jwt_verify(w->v, t, strlen(t), NOW, &id) != AUTH_OK || strcmp(id.sub, "user-42") != 0)
      w->failures++;
    jwt_identity_release(&id);
  }
  return NULL;
}

static void shared_between_threads(void **state)
{
  struct jwt_verifier *v = full();
  char *toks[3] = {mint_hs(HS, GOOD, secret, strlen(secret)), mint_rs(RS, GOOD, rsa),
                   mint_es(ES, GOOD, ec, 32)};
  pthread_t th[4];
  struct worker w[4];

  for (int i = 0; i < 4; i++) {
    w[i] = (struct worker){v, {toks[0], toks[1], toks[2]}, 0};
    assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(w[i].failures, 0);
  }
  for (int i = 0; i < 3; i++)
    free(toks[i]);
  jwt_verifier_free(v);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(good_tokens_pass),
      cmocka_unit_test(cache_gives_the_full_answer),
      cmocka_unit_test(jwks_only_verifier),
      cmocka_unit_test(missing_and_too_long),
      cmocka_unit_test(malformed_tokens),
      cmocka_unit_test(bad_signatures),
      cmocka_unit_test(alg_none_refused),
      cmocka_unit_test(hs256_with_rsa_public_key_refused),
      cmocka_unit_test(rs256_against_hs_only),
      cmocka_unit_test(es256_wrong_curve),
      cmocka_unit_test(kid_rules),
      cmocka_unit_test(time_claims_with_leeway),
      cmocka_unit_test(issuer_and_audience),
      cmocka_unit_test(subject_and_policy),
      cmocka_unit_test(signature_checked_before_claims),
      cmocka_unit_test(config_errors),
      cmocka_unit_test(b64url_is_strict),
      cmocka_unit_test(bearer_header),
      cmocka_unit_test(reason_strings_are_stable),
      cmocka_unit_test(sign_hs256_helper),
      cmocka_unit_test(libjwt_agrees),
      cmocka_unit_test(shared_between_threads),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
