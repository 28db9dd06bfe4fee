/*
 * bench_jwt_verify: microseconds per jwt_verify() for HS256, RS256 (2048)
 * and ES256 tokens (process CPU time, steadier than wall time on a shared
 * machine), through vodgate's verifier and, for comparison, through
 * libjwt alone (jwt_libjwt_verifies, which re-parses the PEM key per call).
 * Build: ninja -C build bench/bench_jwt_verify; run: build/bench/bench_jwt_verify
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "auth/b64url.h"
#include "auth/jwt.h"

static const char claims[] = "{\"sub\":\"user-42\",\"exp\":1750003600,\"iat\":1750000000}";

static double now_s(void)
{
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char *pem(EVP_PKEY *k)
{
  BIO *b = BIO_new(BIO_s_mem());
  BUF_MEM *m;
  char *o;
  PEM_write_bio_PUBKEY(b, k);
  BIO_get_mem_ptr(b, &m);
  o = strndup(m->data, m->length);
  BIO_free(b);
  return o;
}

static char *mint(const char *header, EVP_PKEY *k, int es)
{
  char *o = malloc(4096);
  unsigned char sig[600];
  size_t n, sl = sizeof(sig);
  EVP_MD_CTX *c = EVP_MD_CTX_new();

  n = auth_b64url_encode((const unsigned char *)header, strlen(header), o);
  o[n++] = '.';
  n += auth_b64url_encode((const unsigned char *)claims, strlen(claims), o + n);
  if (EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, k) != 1 ||
      EVP_DigestSign(c, sig, &sl, (unsigned char *)o, n) != 1)
    abort();
  EVP_MD_CTX_free(c);
  if (es) {
    const unsigned char *p = sig;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)sl);
    unsigned char raw[64];
    BN_bn2binpad(ECDSA_SIG_get0_r(s), raw, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(s), raw + 32, 32);
    ECDSA_SIG_free(s);
    memcpy(sig, raw, 64);
    sl = 64;
  }
  o[n++] = '.';
  auth_b64url_encode(sig, sl, o + n);
  return o;
}

static void run(const char *name, struct jwt_verifier *v, const char *t, int n, int via_libjwt)
{
  double t0 = now_s(), dt;
  for (int i = 0; i < n; i++) {
    struct jwt_identity id;
    if (via_libjwt) {
      if (!jwt_libjwt_verifies(v, t, strlen(t)))
        abort();
      continue;
    }
    if (jwt_verify(v, t, strlen(t), 1750000000, &id) != AUTH_OK)
      abort();
    jwt_identity_release(&id);
  }
  dt = now_s() - t0;
  printf("%-6s %-8s %8.2f us/token  (%d tokens)\n", name, via_libjwt ? "libjwt" : "vodgate",
         dt / n * 1e6, n);
}

int main(void)
{
  const char *sec = "0123456789abcdef0123456789abcdef";
  EVP_PKEY *r = EVP_RSA_gen(2048), *e = EVP_EC_gen("P-256");
  char *rp = pem(r), *ep = pem(e), err[256];
  size_t rl = strlen(rp), el = strlen(ep);
  char *both = malloc(rl + el + 1);
  struct jwt_config c;
  struct jwt_verifier *v;
  char *th, *tr, *te;

  memcpy(both, rp, rl);
  memcpy(both + rl, ep, el + 1);
  jwt_config_init(&c);
  c.hs256_secret = (const unsigned char *)sec;
  c.hs256_secret_len = strlen(sec);
  c.public_key_pem = both;
  v = jwt_verifier_new(&c, err, sizeof(err));
  if (!v) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  th = jwt_sign_hs256((const unsigned char *)sec, strlen(sec), claims);
  tr = mint("{\"alg\":\"RS256\"}", r, 0);
  te = mint("{\"alg\":\"ES256\"}", e, 1);
  run("HS256", v, th, 200000, 0);
  run("HS256", v, th, 50000, 1);
  run("RS256", v, tr, 20000, 0);
  run("RS256", v, tr, 2000, 1);
  run("ES256", v, te, 20000, 0);
  run("ES256", v, te, 2000, 1);
  free(th);
  free(tr);
  free(te);
  free(both);
  free(rp);
  free(ep);
  EVP_PKEY_free(r);
  EVP_PKEY_free(e);
  jwt_verifier_free(v);
  return 0;
}
