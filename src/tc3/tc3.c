/* tc3.c: TC3-HMAC-SHA256 signing and verification. See tc3.h. */
#include "tc3/tc3.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <string.h>

#include "core/util.h"

#define SHA256_LEN 32
/* Canonical request: method, "/", query, two or three headers, the signed
 * header list and a hash; bounded by the query and host we accept. */
#define TC3_MAX_CANONICAL (HTTP_MAX_URL + 2 * TC3_MAX_HOST + 512)

/* The headers we can rebuild. Bit set, in canonical (sorted) order. */
enum { SH_CT = 1, SH_HOST = 2, SH_ACTION = 4 };

static const char sh_ct_host[] = "content-type;host";

int tc3_date(int64_t ts, char *out)
{
  int64_t days, z, era, doe, yoe, y, doy, mp, d, m;

  if (ts < 0 || ts > TC3_TS_MAX)
    return -1;
  /* Civil date from days since 1970-01-01 (H. Hinnant's algorithm), so no
   * dependency on gmtime_r or the TZ environment. */
  days = ts / 86400;
  z = days + 719468;
  era = z / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = yoe + era * 400;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  out[0] = (char)('0' + y / 1000);
  out[1] = (char)('0' + y / 100 % 10);
  out[2] = (char)('0' + y / 10 % 10);
  out[3] = (char)('0' + y % 10);
  out[4] = '-';
  out[5] = (char)('0' + m / 10);
  out[6] = (char)('0' + m % 10);
  out[7] = '-';
  out[8] = (char)('0' + d / 10);
  out[9] = (char)('0' + d % 10);
  out[10] = '\0';
  return 0;
}

static bool valid_service(const char *s)
{
  size_t n = s ? strlen(s) : 0;

  if (n == 0 || n > TC3_MAX_SERVICE)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.'))
      return false;
  }
  return true;
}

static int sha256_hex(const void *p, size_t n, char *hex)
{
  unsigned char md[SHA256_LEN];
  unsigned int len = 0;

  if (EVP_Digest(p ? p : "", n, md, &len, EVP_sha256(), NULL) != 1 || len != SHA256_LEN)
    return VG_ERR;
  hex_encode(md, SHA256_LEN, hex);
  return VG_OK;
}

/* Append s lower-cased with leading/trailing spaces and tabs trimmed. */
static int append_lower_trim(struct buf *b, const char *s)
{
  size_t n = s ? strlen(s) : 0;

  while (n && (*s == ' ' || *s == '\t'))
    s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    n--;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    int rc = buf_appendc(b, (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c);
    if (rc)
      return rc;
  }
  return VG_OK;
}

static int check_request(const struct tc3_request *r)
{
  if (!r->method || (strcmp(r->method, "POST") != 0 && strcmp(r->method, "GET") != 0))
    return VG_INVALID;
  if (!r->host || !r->host[0] || strlen(r->host) > TC3_MAX_HOST || !r->content_type)
    return VG_INVALID;
  if (!valid_service(r->service) || r->timestamp < 0 || r->timestamp > TC3_TS_MAX)
    return VG_INVALID;
  if (r->query && strlen(r->query) > HTTP_MAX_URL)
    return VG_TOOBIG;
  return VG_OK;
}

/* The canonical request for the header set `sh`, using `host` (which may
 * differ from r->host when the verifier retries without the port). */
static int canonical(const struct tc3_request *r, const char *host, unsigned sh, const char *action,
                     struct buf *out)
{
  char hash[2 * SHA256_LEN + 1];
  int rc;

  if ((rc = sha256_hex(r->payload, r->payload ? r->payload_len : 0, hash)))
    return rc;
  if ((rc = buf_printf(out, "%s\n/\n%s\n", r->method, r->query ? r->query : "")))
    return rc;
  if ((rc = buf_appends(out, "content-type:")) || (rc = append_lower_trim(out, r->content_type)) ||
      (rc = buf_appends(out, "\nhost:")) || (rc = append_lower_trim(out, host)) ||
      (rc = buf_appendc(out, '\n')))
    return rc;
  if (sh & SH_ACTION) {
    if ((rc = buf_appends(out, "x-tc-action:")) || (rc = append_lower_trim(out, action)) ||
        (rc = buf_appendc(out, '\n')))
      return rc;
  }
  return buf_printf(out, "\n%s%s\n%s", sh_ct_host, (sh & SH_ACTION) ? ";x-tc-action" : "", hash);
}

static int string_to_sign(const struct tc3_request *r, const char *host, unsigned sh,
                          const char *action, struct buf *out)
{
  struct buf cr;
  char date[TC3_DATE_LEN + 1], hash[2 * SHA256_LEN + 1];
  int rc;

  if (tc3_date(r->timestamp, date))
    return VG_INVALID;
  buf_init(&cr, TC3_MAX_CANONICAL);
  rc = canonical(r, host, sh, action, &cr);
  if (rc == VG_OK)
    rc = sha256_hex(cr.ptr, cr.len, hash);
  buf_release(&cr);
  if (rc)
    return rc;
  return buf_printf(out, TC3_ALGORITHM "\n%lld\n%s/%s/tc3_request\n%s", (long long)r->timestamp,
                    date, r->service, hash);
}

int tc3_canonical_request(const struct tc3_request *r, struct buf *out)
{
  int rc = check_request(r);
  return rc ? rc : canonical(r, r->host, SH_CT | SH_HOST, NULL, out);
}

int tc3_string_to_sign(const struct tc3_request *r, struct buf *out)
{
  int rc = check_request(r);
  return rc ? rc : string_to_sign(r, r->host, SH_CT | SH_HOST, NULL, out);
}

static int hmac256(const void *key, size_t klen, const void *msg, size_t mlen, unsigned char *md)
{
  unsigned int len = 0;

  if (!HMAC(EVP_sha256(), key, (int)klen, msg, mlen, md, &len) || len != SHA256_LEN)
    return VG_ERR;
  return VG_OK;
}

/* Signature over an already-built string to sign, with date and service
 * taken from the request. */
static int sign_sts(const struct tc3_request *r, const char *secret_key, const struct buf *sts,
                    char *sig)
{
  unsigned char k1[SHA256_LEN], k2[SHA256_LEN], k3[SHA256_LEN], md[SHA256_LEN];
  char date[TC3_DATE_LEN + 1];
  struct buf key;
  int rc;

  if (tc3_date(r->timestamp, date))
    return VG_INVALID;
  buf_init(&key, 4096 + 3);
  if ((rc = buf_appends(&key, "TC3")) || (rc = buf_appends(&key, secret_key))) {
    secure_zero(key.ptr, key.len);
    buf_release(&key);
    return rc == VG_TOOBIG ? VG_INVALID : rc;
  }
  rc = hmac256(key.ptr, key.len, date, TC3_DATE_LEN, k1);
  if (!rc)
    rc = hmac256(k1, SHA256_LEN, r->service, strlen(r->service), k2);
  if (!rc)
    rc = hmac256(k2, SHA256_LEN, "tc3_request", 11, k3);
  if (!rc)
    rc = hmac256(k3, SHA256_LEN, sts->ptr, sts->len, md);
  if (!rc)
    hex_encode(md, SHA256_LEN, sig);
  secure_zero(key.ptr, key.len);
  buf_release(&key);
  secure_zero(k1, sizeof(k1));
  secure_zero(k2, sizeof(k2));
  secure_zero(k3, sizeof(k3));
  return rc;
}

static int sign_with(const struct tc3_request *r, const char *host, unsigned sh, const char *action,
                     const char *secret_key, char *sig)
{
  struct buf sts;
  int rc;

  buf_init(&sts, TC3_MAX_CANONICAL);
  rc = string_to_sign(r, host, sh, action, &sts);
  if (!rc)
    rc = sign_sts(r, secret_key, &sts, sig);
  buf_release(&sts);
  return rc;
}

int tc3_sign(const struct tc3_request *r, const char *secret_key, char *sig)
{
  int rc = check_request(r);

  sig[0] = '\0';
  if (rc)
    return rc;
  if (!secret_key || !secret_key[0])
    return VG_INVALID;
  return sign_with(r, r->host, SH_CT | SH_HOST, NULL, secret_key, sig);
}

static bool valid_secret_id(const char *s, size_t n)
{
  if (n == 0 || n > TC3_MAX_SECRET_ID)
    return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] <= ' ' || s[i] > '~' || s[i] == '/' || s[i] == ',' || s[i] == '=')
      return false;
  return true;
}

int tc3_authorization(const struct tc3_request *r, const char *secret_id, const char *secret_key,
                      struct buf *out)
{
  char sig[TC3_SIG_LEN + 1], date[TC3_DATE_LEN + 1];
  int rc;

  if (!secret_id || !valid_secret_id(secret_id, strlen(secret_id)))
    return VG_INVALID;
  if ((rc = tc3_sign(r, secret_key, sig)))
    return rc;
  if (tc3_date(r->timestamp, date))
    return VG_INVALID;
  return buf_printf(out,
                    TC3_ALGORITHM " Credential=%s/%s/%s/tc3_request, SignedHeaders=%s, "
                                  "Signature=%s",
                    secret_id, date, r->service, sh_ct_host, sig);
}

/* ---- verification ---- */

const char *tc3_status_code(enum tc3_status s)
{
  switch (s) {
  case TC3_OK: return "OK";
  case TC3_INVALID_AUTHORIZATION: return "AuthFailure.InvalidAuthorization";
  case TC3_MISSING_TIMESTAMP: return "MissingParameter";
  case TC3_BAD_TIMESTAMP: return "InvalidParameterValue";
  case TC3_SIGNATURE_EXPIRE: return "AuthFailure.SignatureExpire";
  case TC3_DATE_MISMATCH: return "AuthFailure.SignatureFailure";
  case TC3_SECRET_ID_NOT_FOUND: return "AuthFailure.SecretIdNotFound";
  case TC3_SIGNATURE_FAILURE: return "AuthFailure.SignatureFailure";
  }
  return "AuthFailure.InvalidAuthorization";
}

const char *tc3_status_message(enum tc3_status s)
{
  switch (s) {
  case TC3_OK: return "ok";
  case TC3_INVALID_AUTHORIZATION:
    return "The Authorization header is missing or not a valid TC3-HMAC-SHA256 header.";
  case TC3_MISSING_TIMESTAMP: return "The X-TC-Timestamp header is missing.";
  case TC3_BAD_TIMESTAMP: return "The X-TC-Timestamp header is not a valid Unix timestamp.";
  case TC3_SIGNATURE_EXPIRE:
    return "The request timestamp differs from the server time by more than 5 minutes.";
  case TC3_DATE_MISMATCH: return "The credential scope date is not the UTC date of X-TC-Timestamp.";
  case TC3_SECRET_ID_NOT_FOUND: return "The SecretId is not found.";
  case TC3_SIGNATURE_FAILURE: return "The request signature does not match.";
  }
  return "The Authorization header is not valid.";
}

/* Copy [s, s+n) into dst[cap] if it fits. */
static bool copy_field(char *dst, size_t cap, const char *s, size_t n)
{
  if (n >= cap)
    return false;
  memcpy(dst, s, n);
  dst[n] = '\0';
  return true;
}

static bool is_lower_hex(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return false;
  return true;
}

static bool parse_credential(const char *s, size_t n, struct tc3_auth *out)
{
  const char *p[4];
  size_t pl[4], np = 0, start = 0;

  for (size_t i = 0; i <= n; i++) {
    if (i == n || s[i] == '/') {
      if (np == 4)
        return false;
      p[np] = s + start;
      pl[np++] = i - start;
      start = i + 1;
    }
  }
  if (np != 4 || !valid_secret_id(p[0], pl[0]))
    return false;
  if (pl[1] != TC3_DATE_LEN || p[1][4] != '-' || p[1][7] != '-')
    return false;
  for (size_t i = 0; i < TC3_DATE_LEN; i++)
    if (i != 4 && i != 7 && (p[1][i] < '0' || p[1][i] > '9'))
      return false;
  if (pl[3] != 11 || memcmp(p[3], "tc3_request", 11) != 0)
    return false;
  if (!copy_field(out->secret_id, sizeof(out->secret_id), p[0], pl[0]) ||
      !copy_field(out->date, sizeof(out->date), p[1], pl[1]) ||
      !copy_field(out->service, sizeof(out->service), p[2], pl[2]))
    return false;
  return valid_service(out->service);
}

/* Bit set of a SignedHeaders value, or 0 if unsupported. Headers must be
 * sorted, lower case, without duplicates, and include content-type;host. */
static unsigned parse_signed_headers(const char *s, size_t n)
{
  if (n == strlen(sh_ct_host) && memcmp(s, sh_ct_host, n) == 0)
    return SH_CT | SH_HOST;
  if (n == strlen(sh_ct_host) + 12 && memcmp(s, "content-type;host;x-tc-action", n) == 0)
    return SH_CT | SH_HOST | SH_ACTION;
  return 0;
}

enum tc3_status tc3_parse_authorization(const char *hdr, size_t len, struct tc3_auth *out)
{
  const size_t alen = strlen(TC3_ALGORITHM);
  bool have_cred = false, have_sh = false, have_sig = false;
  size_t i;

  memset(out, 0, sizeof(*out));
  if (!hdr || len > TC3_MAX_AUTHORIZATION || len <= alen || memcmp(hdr, TC3_ALGORITHM, alen) != 0 ||
      hdr[alen] != ' ')
    goto bad;
  if (memchr(hdr, '\0', len))
    goto bad;
  i = alen;
  while (i < len) {
    const char *k, *v, *eq, *comma;
    size_t kl, vl, end;

    while (i < len && hdr[i] == ' ')
      i++;
    comma = memchr(hdr + i, ',', len - i);
    end = comma ? (size_t)(comma - hdr) : len;
    k = hdr + i;
    eq = memchr(k, '=', end - i);
    if (!eq)
      goto bad;
    kl = (size_t)(eq - k);
    v = eq + 1;
    vl = end - (size_t)(v - hdr);
    while (vl && v[vl - 1] == ' ')
      vl--;
    if (kl == 10 && memcmp(k, "Credential", 10) == 0) {
      if (have_cred || !parse_credential(v, vl, out))
        goto bad;
      have_cred = true;
    } else if (kl == 13 && memcmp(k, "SignedHeaders", 13) == 0) {
      if (have_sh || !parse_signed_headers(v, vl))
        goto bad;
      copy_field(out->signed_headers, sizeof(out->signed_headers), v, vl);
      have_sh = true;
    } else if (kl == 9 && memcmp(k, "Signature", 9) == 0) {
      if (have_sig || vl != TC3_SIG_LEN || !is_lower_hex(v, vl))
        goto bad;
      copy_field(out->signature, sizeof(out->signature), v, vl);
      have_sig = true;
    } else {
      goto bad;
    }
    if (!comma)
      break;
    i = end + 1;
    if (i == len) /* trailing comma */
      goto bad;
  }
  if (have_cred && have_sh && have_sig)
    return TC3_OK;
bad:
  memset(out, 0, sizeof(*out));
  return TC3_INVALID_AUTHORIZATION;
}

/* The host name without its port: "h:8080" -> "h", "[::1]:80" -> "[::1]".
 * Returns false if there is no port to strip. */
static bool strip_port(const char *host, char *out, size_t cap)
{
  size_t n = strlen(host), cut;
  const char *colon;

  if (host[0] == '[') {
    const char *rb = strchr(host, ']');
    if (!rb || rb[1] != ':')
      return false;
    cut = (size_t)(rb - host) + 1;
  } else {
    colon = strrchr(host, ':');
    if (!colon || strchr(host, ':') != colon) /* none, or a bare IPv6 address */
      return false;
    cut = (size_t)(colon - host);
  }
  if (cut == 0 || cut >= cap || cut >= n)
    return false;
  memcpy(out, host, cut);
  out[cut] = '\0';
  return true;
}

enum tc3_status tc3_verify(const struct tc3_verify *v, struct tc3_auth *auth)
{
  struct tc3_auth local, *a = auth ? auth : &local;
  struct tc3_request r;
  char date[TC3_DATE_LEN + 1], sig[TC3_SIG_LEN + 1], bare[TC3_MAX_HOST + 1];
  const char *key;
  unsigned sh;
  int64_t ts;
  bool match;

  if (!v->authorization ||
      tc3_parse_authorization(v->authorization, strlen(v->authorization), a) != TC3_OK) {
    memset(a, 0, sizeof(*a));
    return TC3_INVALID_AUTHORIZATION;
  }
  sh = parse_signed_headers(a->signed_headers, strlen(a->signed_headers));
  if ((sh & SH_ACTION) && !v->action)
    return TC3_SIGNATURE_FAILURE;
  if (!v->timestamp || !v->timestamp[0])
    return TC3_MISSING_TIMESTAMP;
  if (parse_i64z(v->timestamp, &ts) || ts < 0 || ts > TC3_TS_MAX)
    return TC3_BAD_TIMESTAMP;
  if (ts > v->now + TC3_MAX_SKEW || ts < v->now - TC3_MAX_SKEW)
    return TC3_SIGNATURE_EXPIRE;
  if (tc3_date(ts, date) || strcmp(date, a->date) != 0)
    return TC3_DATE_MISMATCH;
  key = v->lookup ? v->lookup(v->ud, a->secret_id) : NULL;
  if (!key || !key[0])
    return TC3_SECRET_ID_NOT_FOUND;

  r = (struct tc3_request){.method = v->method,
                           .host = v->host,
                           .query = v->query,
                           .content_type = v->content_type ? v->content_type : "",
                           .payload = v->payload,
                           .payload_len = v->payload_len,
                           .service = a->service,
                           .timestamp = ts};
  if (check_request(&r) != VG_OK)
    return TC3_SIGNATURE_FAILURE;
  if (sign_with(&r, r.host, sh, v->action, key, sig) != VG_OK)
    return TC3_SIGNATURE_FAILURE;
  match = ct_equal(sig, TC3_SIG_LEN, a->signature, TC3_SIG_LEN);
  if (!match && strip_port(r.host, bare, sizeof(bare))) {
    if (sign_with(&r, bare, sh, v->action, key, sig) != VG_OK)
      return TC3_SIGNATURE_FAILURE;
    match = ct_equal(sig, TC3_SIG_LEN, a->signature, TC3_SIG_LEN);
  }
  secure_zero(sig, sizeof(sig));
  return match ? TC3_OK : TC3_SIGNATURE_FAILURE;
}
