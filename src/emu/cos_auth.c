/* cos_auth.c: COS q-sign-algorithm=sha1 request signatures. See cos_auth.h. */
#include "emu/cos_auth.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/util.h"

static bool is_unreserved(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

static int hexval(unsigned char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Percent-encode like the SDK's camSafeUrlEncode (encodeURIComponent plus
 * !'()*): only RFC 3986 unreserved bytes stay. lower=true lower-cases the
 * result, as the SDK does for keys (so escapes become "%2f").
 * TODO: use core/query.h once merged. */
static int pct_encode(struct buf *b, const char *s, size_t n, bool lower)
{
  static const char up[] = "0123456789ABCDEF";
  static const char lo[] = "0123456789abcdef";
  const char *hx = lower ? lo : up;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (is_unreserved(c)) {
      char o = (lower && c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : (char)c;
      if (buf_appendc(b, o) != VG_OK)
        return -1;
    } else {
      char e[3] = {'%', hx[c >> 4], hx[c & 15]};
      if (buf_append(b, e, 3) != VG_OK)
        return -1;
    }
  }
  return 0;
}

/* Percent-decode [s, s+n) into a fresh NUL-terminated string; '+' stays '+'
 * (RFC 3986: the SDKs encode '+' as %2B). Rejects bad escapes and NUL.
 * TODO: use core/query.h once merged. */
static char *pct_decode(const char *s, size_t n, size_t *outlen)
{
  char *o = xmalloc(n + 1);
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '%') {
      int h, l;
      if (i + 2 >= n || (h = hexval((unsigned char)s[i + 1])) < 0 ||
          (l = hexval((unsigned char)s[i + 2])) < 0) {
        free(o);
        return NULL;
      }
      c = (unsigned char)(h << 4 | l);
      i += 2;
    }
    if (c == 0) {
      free(o);
      return NULL;
    }
    o[j++] = (char)c;
  }
  o[j] = '\0';
  if (outlen)
    *outlen = j;
  return o;
}

static int parse_window(const char *v, size_t n, char *dst, int64_t *start, int64_t *end)
{
  const char *semi = memchr(v, ';', n);
  uint64_t a, b;
  if (n == 0 || n > COS_AUTH_MAX_TIME || !semi)
    return -1;
  if (parse_u64(v, (size_t)(semi - v), &a) != 0 ||
      parse_u64(semi + 1, n - (size_t)(semi - v) - 1, &b) != 0)
    return -1;
  if (a > (uint64_t)INT64_MAX || b > (uint64_t)INT64_MAX || a > b)
    return -1;
  memcpy(dst, v, n);
  dst[n] = '\0';
  *start = (int64_t)a;
  *end = (int64_t)b;
  return 0;
}

/* A ';'-joined list of encoded lower-case names; empty allowed. */
static int parse_list(const char *v, size_t n, char *dst)
{
  if (n > COS_AUTH_MAX_LIST)
    return -1;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)v[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '%' || c == '.' ||
              c == '_' || c == '~' || c == '-' || c == ';';
    if (!ok)
      return -1;
    if (c == ';' && (i == 0 || i + 1 == n || v[i + 1] == ';'))
      return -1;
  }
  memcpy(dst, v, n);
  dst[n] = '\0';
  return 0;
}

enum cos_auth_result cos_auth_parse(const char *value, size_t len, struct cos_auth *out)
{
  enum { F_ALG, F_AK, F_ST, F_KT, F_HL, F_PL, F_SIG, F_N };
  static const char *const names[F_N] = {"q-sign-algorithm", "q-ak",          "q-sign-time",
                                         "q-key-time",       "q-header-list", "q-url-param-list",
                                         "q-signature"};
  bool seen[F_N] = {false};
  size_t pos = 0;

  memset(out, 0, sizeof(*out));
  if (!value || len == 0 || len > COS_AUTH_MAX_VALUE)
    return COS_AUTH_MALFORMED;
  while (pos <= len) {
    const char *f = value + pos;
    const char *amp = memchr(f, '&', len - pos);
    size_t flen = amp ? (size_t)(amp - f) : len - pos;
    const char *eq = memchr(f, '=', flen);
    size_t nlen, vlen;
    const char *v;
    int which = -1;

    if (!eq)
      goto bad;
    nlen = (size_t)(eq - f);
    v = eq + 1;
    vlen = flen - nlen - 1;
    for (int i = 0; i < F_N; i++)
      if (strlen(names[i]) == nlen && memcmp(names[i], f, nlen) == 0)
        which = i;
    if (which < 0 || seen[which])
      goto bad;
    seen[which] = true;
    switch (which) {
    case F_ALG:
      if (vlen != 4 || memcmp(v, "sha1", 4) != 0)
        goto bad;
      break;
    case F_AK:
      if (vlen == 0 || vlen > COS_AUTH_MAX_AK)
        goto bad;
      for (size_t i = 0; i < vlen; i++)
        if (!is_unreserved((unsigned char)v[i]))
          goto bad;
      memcpy(out->ak, v, vlen);
      out->ak[vlen] = '\0';
      break;
    case F_ST:
      if (parse_window(v, vlen, out->sign_time, &out->sign_start, &out->sign_end) != 0)
        goto bad;
      break;
    case F_KT:
      if (parse_window(v, vlen, out->key_time, &out->key_start, &out->key_end) != 0)
        goto bad;
      break;
    case F_HL:
      if (parse_list(v, vlen, out->header_list) != 0)
        goto bad;
      break;
    case F_PL:
      if (parse_list(v, vlen, out->param_list) != 0)
        goto bad;
      break;
    case F_SIG:
      if (vlen != 40)
        goto bad;
      for (size_t i = 0; i < 20; i++) {
        int h = hexval((unsigned char)v[2 * i]), l = hexval((unsigned char)v[2 * i + 1]);
        if (h < 0 || l < 0)
          goto bad;
        out->signature[i] = (unsigned char)(h << 4 | l);
      }
      break;
    default: goto bad;
    }
    if (!amp)
      break;
    pos += flen + 1;
  }
  for (int i = 0; i < F_N; i++)
    if (!seen[i])
      goto bad;
  return COS_AUTH_OK;
bad:
  memset(out, 0, sizeof(*out));
  return COS_AUTH_MALFORMED;
}

struct kv {
  char *k; /* encoded, lower-cased */
  char *v; /* encoded */
};

static int kv_cmp(const void *a, const void *b)
{
  return strcmp(((const struct kv *)a)->k, ((const struct kv *)b)->k);
}

static void kv_free(struct kv *kv, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    free(kv[i].k);
    free(kv[i].v);
  }
}

static char *encode_dup(const char *s, size_t n, bool lower)
{
  struct buf b;
  buf_init(&b, 3 * n + 1);
  if (pct_encode(&b, s, n, lower) != 0) {
    buf_release(&b);
    return NULL;
  }
  return buf_detach(&b, NULL);
}

/* Is name (NUL-terminated) one of the ';'-separated entries of list? */
static bool list_has(const char *list, const char *name)
{
  size_t nl = strlen(name);
  const char *p = list;
  while (*p) {
    const char *e = strchr(p, ';');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    if (l == nl && memcmp(p, name, l) == 0)
      return true;
    if (!e)
      break;
    p = e + 1;
  }
  return false;
}

static size_t list_count(const char *list)
{
  size_t n = *list ? 1 : 0;
  for (const char *p = list; *p; p++)
    n += *p == ';';
  return n;
}

static int append_kvs(struct buf *out, struct kv *kv, size_t n)
{
  qsort(kv, n, sizeof(*kv), kv_cmp);
  for (size_t i = 0; i < n; i++)
    if ((i && buf_appendc(out, '&') != VG_OK) || buf_appends(out, kv[i].k) != VG_OK ||
        buf_appendc(out, '=') != VG_OK || buf_appends(out, kv[i].v) != VG_OK)
      return -1;
  return 0;
}

static enum cos_auth_result params_part(const struct cos_auth *a, const struct cos_request *req,
                                        struct buf *out)
{
  struct kv kv[COS_AUTH_MAX_PARAMS];
  size_t n = 0, pos = 0, qlen = req->query ? req->query_len : 0;
  enum cos_auth_result r = COS_AUTH_OK;

  if (qlen > HTTP_MAX_URL)
    return COS_AUTH_BAD_REQUEST;
  while (qlen && pos <= qlen) {
    const char *f = req->query + pos;
    const char *amp = memchr(f, '&', qlen - pos);
    size_t flen = amp ? (size_t)(amp - f) : qlen - pos;
    const char *eq = memchr(f, '=', flen);
    size_t klen = eq ? (size_t)(eq - f) : flen;
    char *dk, *dv;
    size_t dkl, dvl;

    if (klen == 0 || n == COS_AUTH_MAX_PARAMS) {
      r = COS_AUTH_BAD_REQUEST;
      goto out;
    }
    dk = pct_decode(f, klen, &dkl);
    dv = eq ? pct_decode(eq + 1, flen - klen - 1, &dvl) : pct_decode("", 0, &dvl);
    if (!dk || !dv) {
      free(dk);
      free(dv);
      r = COS_AUTH_BAD_REQUEST;
      goto out;
    }
    kv[n].k = encode_dup(dk, dkl, true);
    kv[n].v = encode_dup(dv, dvl, false);
    free(dk);
    free(dv);
    n++;
    for (size_t i = 0; i + 1 < n; i++)
      if (strcmp(kv[i].k, kv[n - 1].k) == 0) {
        r = COS_AUTH_BAD_REQUEST;
        goto out;
      }
    if (!list_has(a->param_list, kv[n - 1].k)) {
      r = COS_AUTH_UNSIGNED_PARAM;
      goto out;
    }
    if (!amp)
      break;
    pos += flen + 1;
  }
  /* Every signed name is present: all n are in the list and unique, so the
   * counts agree exactly when the list names nothing absent. */
  if (list_count(a->param_list) != n) {
    r = COS_AUTH_MISSING;
    goto out;
  }
  if (append_kvs(out, kv, n) != 0)
    r = COS_AUTH_BAD_REQUEST;
out:
  kv_free(kv, n);
  return r;
}

static bool name_eq_ci(const char *hname, const char *lname, size_t llen)
{
  size_t i;
  for (i = 0; i < llen && hname[i]; i++) {
    char c = hname[i];
    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    if (c != lname[i])
      return false;
  }
  return i == llen && hname[i] == '\0';
}

static enum cos_auth_result headers_part(const struct cos_auth *a, const struct cos_request *req,
                                         struct buf *out)
{
  struct kv kv[COS_AUTH_MAX_PARAMS];
  size_t n = 0;
  const char *p = a->header_list;
  enum cos_auth_result r = COS_AUTH_OK;

  while (*p) {
    const char *e = strchr(p, ';');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    const struct cos_header *found = NULL;

    if (n == COS_AUTH_MAX_PARAMS) {
      r = COS_AUTH_BAD_REQUEST;
      goto out;
    }
    for (size_t i = 0; i < req->n_headers; i++) {
      if (!name_eq_ci(req->headers[i].name, p, l))
        continue;
      if (found) { /* two values for one signed header: ambiguous */
        r = COS_AUTH_BAD_REQUEST;
        goto out;
      }
      found = &req->headers[i];
    }
    if (!found) {
      r = COS_AUTH_MISSING;
      goto out;
    }
    kv[n].k = xstrndup(p, l);
    kv[n].v = encode_dup(found->value, strlen(found->value), false);
    n++;
    for (size_t i = 0; i + 1 < n; i++)
      if (strcmp(kv[i].k, kv[n - 1].k) == 0) {
        r = COS_AUTH_MALFORMED;
        goto out;
      }
    if (!e)
      break;
    p = e + 1;
  }
  if (append_kvs(out, kv, n) != 0)
    r = COS_AUTH_BAD_REQUEST;
out:
  kv_free(kv, n);
  return r;
}

enum cos_auth_result cos_auth_http_string(const struct cos_auth *a, const struct cos_request *req,
                                          struct buf *out)
{
  size_t ml = req->method ? strlen(req->method) : 0;
  char *path;
  size_t plen;
  enum cos_auth_result r;

  if (ml == 0 || ml > 16 || !req->path || req->path_len == 0 || req->path_len > HTTP_MAX_URL ||
      req->path[0] != '/')
    return COS_AUTH_BAD_REQUEST;
  for (size_t i = 0; i < ml; i++) {
    char c = req->method[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
      return COS_AUTH_BAD_REQUEST;
    if (buf_appendc(out, (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c) != VG_OK)
      return COS_AUTH_BAD_REQUEST;
  }
  path = pct_decode(req->path, req->path_len, &plen);
  if (!path)
    return COS_AUTH_BAD_REQUEST;
  if (buf_appendc(out, '\n') != VG_OK || buf_append(out, path, plen) != VG_OK ||
      buf_appendc(out, '\n') != VG_OK) {
    free(path);
    return COS_AUTH_BAD_REQUEST;
  }
  free(path);
  if ((r = params_part(a, req, out)) != COS_AUTH_OK)
    return r;
  if (buf_appendc(out, '\n') != VG_OK)
    return COS_AUTH_BAD_REQUEST;
  if ((r = headers_part(a, req, out)) != COS_AUTH_OK)
    return r;
  if (buf_appendc(out, '\n') != VG_OK)
    return COS_AUTH_BAD_REQUEST;
  return COS_AUTH_OK;
}

static enum cos_auth_result compute(const struct cos_auth *a, const struct cos_request *req,
                                    const char *secret_key, size_t key_len, unsigned char mac[20])
{
  unsigned char k[20], d[20];
  char khex[41], dhex[41];
  unsigned int ml = 0;
  struct buf hs, sts;
  enum cos_auth_result r;

  buf_init(&hs, COS_MAX_HTTPSTRING);
  r = cos_auth_http_string(a, req, &hs);
  if (r != COS_AUTH_OK) {
    buf_release(&hs);
    return r;
  }
  if (!EVP_Digest(hs.ptr, hs.len, d, NULL, EVP_sha1(), NULL))
    abort();
  buf_release(&hs);
  hex_encode(d, 20, dhex);
  if (!HMAC(EVP_sha1(), secret_key, (int)key_len, (const unsigned char *)a->key_time,
            strlen(a->key_time), k, &ml))
    abort();
  hex_encode(k, 20, khex);
  buf_init(&sts, 256);
  if (buf_printf(&sts, "sha1\n%s\n%s\n", a->sign_time, dhex) != VG_OK)
    abort(); /* bounded inputs: cannot exceed 256 */
  if (!HMAC(EVP_sha1(), khex, 40, (const unsigned char *)sts.ptr, sts.len, mac, &ml))
    abort();
  buf_release(&sts);
  secure_zero(k, sizeof(k));
  secure_zero(khex, sizeof(khex));
  return COS_AUTH_OK;
}

enum cos_auth_result cos_auth_sign(const struct cos_auth *a, const struct cos_request *req,
                                   const char *secret_key, size_t key_len, char hex_out[41])
{
  unsigned char mac[20];
  enum cos_auth_result r = compute(a, req, secret_key, key_len, mac);
  if (r == COS_AUTH_OK)
    hex_encode(mac, 20, hex_out);
  return r;
}

enum cos_auth_result cos_auth_verify(const struct cos_auth *a, const struct cos_request *req,
                                     const char *secret_key, size_t key_len, int64_t now,
                                     int64_t skew)
{
  unsigned char mac[20];
  enum cos_auth_result r;

  if (skew < 0)
    skew = 0;
  if (a->sign_start > now + skew || a->key_start > now + skew)
    return COS_AUTH_NOT_YET;
  if (now > a->sign_end || now > a->key_end)
    return COS_AUTH_EXPIRED;
  r = compute(a, req, secret_key, key_len, mac);
  if (r != COS_AUTH_OK)
    return r;
  return ct_equal(mac, 20, a->signature, 20) ? COS_AUTH_OK : COS_AUTH_MISMATCH;
}

int cos_auth_http_status(enum cos_auth_result r)
{
  switch (r) {
  case COS_AUTH_OK: return 200;
  case COS_AUTH_BAD_REQUEST: return 400;
  default: return 403;
  }
}

const char *cos_auth_error_code(enum cos_auth_result r)
{
  switch (r) {
  case COS_AUTH_OK: return "";
  case COS_AUTH_MALFORMED: return "AccessDenied";
  case COS_AUTH_EXPIRED: return "AccessDenied";
  case COS_AUTH_NOT_YET: return "RequestTimeTooSkewed";
  case COS_AUTH_BAD_REQUEST: return "InvalidArgument";
  case COS_AUTH_UNSIGNED_PARAM:
  case COS_AUTH_MISSING:
  case COS_AUTH_MISMATCH: return "SignatureDoesNotMatch";
  }
  return "AccessDenied";
}

const char *cos_auth_error_message(enum cos_auth_result r)
{
  switch (r) {
  case COS_AUTH_OK: return "";
  case COS_AUTH_MALFORMED: return "Authorization header is malformed.";
  case COS_AUTH_EXPIRED: return "Request has expired";
  case COS_AUTH_NOT_YET:
    return "The difference between the request time and the server's time is too large.";
  case COS_AUTH_BAD_REQUEST: return "The request path or query is malformed.";
  case COS_AUTH_UNSIGNED_PARAM: return "A query parameter is not in q-url-param-list.";
  case COS_AUTH_MISSING: return "A signed header or parameter is missing from the request.";
  case COS_AUTH_MISMATCH: return "The Signature you specified does not match what we calculated.";
  }
  return "Access Denied.";
}
