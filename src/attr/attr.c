/* attr.c: the attribution token. Grammar and rationale in attr.h. */
#include "attr/attr.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "core/hmac.h"
#include "core/util.h"

#define ATTR_PREFIX    "vg1."
#define ATTR_MAC_CHARS 22 /* base64url of ATTR_MAC_BYTES without padding */

static const char b64std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

const char *attr_status_str(enum attr_status s)
{
  switch (s) {
  case ATTR_OK: return "ok";
  case ATTR_MALFORMED: return "malformed";
  case ATTR_UNKNOWN_KEY: return "unknown_key";
  case ATTR_BAD_MAC: return "bad_mac";
  }
  return "malformed";
}

static bool is_idchar(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

static bool valid_id(const char *s, size_t n, size_t max)
{
  if (n == 0 || n > max)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!is_idchar(s[i]))
      return false;
  return true;
}

bool attr_upload_id_valid(const char *s)
{
  return s && valid_id(s, strlen(s), ATTR_MAX_UPLOAD_ID);
}

/* Encode n bytes; pad adds '=' to a multiple of 4. Returns the length
 * written (out needs 4*ceil(n/3)+1 bytes). */
static size_t b64_encode(const char *alpha, bool pad, const unsigned char *in, size_t n, char *out)
{
  size_t o = 0, i = 0;

  for (; i + 3 <= n; i += 3) {
    unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
    out[o++] = alpha[v >> 18];
    out[o++] = alpha[(v >> 12) & 63];
    out[o++] = alpha[(v >> 6) & 63];
    out[o++] = alpha[v & 63];
  }
  if (n - i == 1) {
    unsigned v = (unsigned)in[i] << 16;
    out[o++] = alpha[v >> 18];
    out[o++] = alpha[(v >> 12) & 63];
    if (pad) {
      out[o++] = '=';
      out[o++] = '=';
    }
  } else if (n - i == 2) {
    unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
    out[o++] = alpha[v >> 18];
    out[o++] = alpha[(v >> 12) & 63];
    out[o++] = alpha[(v >> 6) & 63];
    if (pad)
      out[o++] = '=';
  }
  out[o] = '\0';
  return o;
}

static int b64_value(const char *alpha, char c)
{
  const char *p = c ? strchr(alpha, c) : NULL;
  return p ? (int)(p - alpha) : -1;
}

/* Strict decoder: canonical input only (unused trailing bits zero; with
 * pad, exact '=' padding to a multiple of 4; without pad, none). Returns
 * the decoded length or -1; writes at most cap bytes. */
static long b64_decode(const char *alpha, bool pad, const char *in, size_t n, unsigned char *out,
                       size_t cap)
{
  size_t o = 0, rem;
  unsigned acc = 0;
  int bits = 0;

  if (pad) {
    if (n % 4)
      return -1;
    if (n && in[n - 1] == '=')
      n--;
    if (n && in[n - 1] == '=')
      n--;
  }
  rem = n % 4;
  if (rem == 1)
    return -1;
  for (size_t i = 0; i < n; i++) {
    int v = b64_value(alpha, in[i]);
    if (v < 0)
      return -1;
    acc = (acc << 6) | (unsigned)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (o >= cap)
        return -1;
      out[o++] = (unsigned char)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) /* non-zero unused bits: not the canonical encoding */
    return -1;
  return (long)o;
}

void attr_keyring_init(struct attr_keyring *kr)
{
  memset(kr, 0, sizeof(*kr));
}

void attr_keyring_release(struct attr_keyring *kr)
{
  for (size_t i = 0; i < kr->n; i++)
    hmac_key_free(kr->keys[i].mac);
  secure_zero(kr, sizeof(*kr));
}

static const struct attr_key *find_key(const struct attr_keyring *kr, const char *kid, size_t n)
{
  for (size_t i = 0; i < kr->n; i++)
    if (strlen(kr->keys[i].kid) == n && memcmp(kr->keys[i].kid, kid, n) == 0)
      return &kr->keys[i];
  return NULL;
}

int attr_keyring_add(struct attr_keyring *kr, const char *kid, const unsigned char *key, size_t len)
{
  size_t kl = kid ? strlen(kid) : 0;
  struct attr_key *k;

  if (!valid_id(kid, kl, ATTR_MAX_KID) || !key || len < ATTR_KEY_MIN || len > ATTR_KEY_MAX)
    return VG_INVALID;
  if (find_key(kr, kid, kl))
    return VG_CONFLICT;
  if (kr->n >= ATTR_MAX_KEYS)
    return VG_TOOBIG;
  k = &kr->keys[kr->n];
  if (hmac_key_new("SHA256", key, len, &k->mac) != VG_OK)
    return VG_NOMEM;
  memcpy(k->kid, kid, kl + 1);
  memcpy(k->key, key, len);
  k->len = len;
  if (kr->n == 0)
    kr->current = 0;
  kr->n++;
  return VG_OK;
}

int attr_keyring_set_current(struct attr_keyring *kr, const char *kid)
{
  const struct attr_key *k = kid ? find_key(kr, kid, strlen(kid)) : NULL;

  if (!k)
    return VG_NOTFOUND;
  kr->current = (size_t)(k - kr->keys);
  return VG_OK;
}

const char *attr_keyring_current_kid(const struct attr_keyring *kr)
{
  return kr->n ? kr->keys[kr->current].kid : NULL;
}

static void set_err(char *err, size_t errlen, size_t line, const char *why)
{
  if (err && errlen)
    snprintf(err, errlen, "line %zu: %s", line, why);
}

int attr_keyring_parse(struct attr_keyring *kr, const char *text, size_t len, char *err,
                       size_t errlen)
{
  size_t pos = 0, line = 0, first = kr->n;
  bool any = false;

  if (err && errlen)
    err[0] = '\0';
  if (len > ATTR_MAX_KEYFILE) {
    set_err(err, errlen, 0, "key file too large");
    return VG_TOOBIG;
  }
  while (pos < len) {
    const char *s = text + pos, *nl = memchr(s, '\n', len - pos), *colon;
    size_t n = nl ? (size_t)(nl - s) : len - pos, kl;
    unsigned char key[ATTR_KEY_MAX];
    char kid[ATTR_MAX_KID + 1];
    long kn;
    int rc;

    pos += n + (nl ? 1 : 0);
    line++;
    while (n && (s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
      n--;
    while (n && (s[0] == ' ' || s[0] == '\t'))
      s++, n--;
    if (n == 0 || s[0] == '#')
      continue;
    if (memchr(s, '\0', n)) {
      set_err(err, errlen, line, "NUL byte");
      return VG_INVALID;
    }
    colon = memchr(s, ':', n);
    if (!colon) {
      set_err(err, errlen, line, "expected <kid>:<base64 key>");
      return VG_INVALID;
    }
    kl = (size_t)(colon - s);
    if (!valid_id(s, kl, ATTR_MAX_KID)) {
      set_err(err, errlen, line, "key id must be 1-8 of A-Z a-z 0-9 _ -");
      return VG_INVALID;
    }
    memcpy(kid, s, kl);
    kid[kl] = '\0';
    kn = b64_decode(b64std, true, colon + 1, n - kl - 1, key, sizeof(key));
    if (kn < 0) {
      secure_zero(key, sizeof(key));
      set_err(err, errlen, line, "key is not canonical base64 of at most 64 bytes");
      return VG_INVALID;
    }
    rc = attr_keyring_add(kr, kid, key, (size_t)kn);
    secure_zero(key, sizeof(key));
    if (rc == VG_INVALID) {
      set_err(err, errlen, line, "key must be 32 to 64 bytes");
      return rc;
    }
    if (rc == VG_CONFLICT) {
      set_err(err, errlen, line, "duplicate key id");
      return rc;
    }
    if (rc == VG_TOOBIG) {
      set_err(err, errlen, line, "too many keys (max 16)");
      return rc;
    }
    if (rc) {
      set_err(err, errlen, line, "out of memory");
      return rc;
    }
    if (!any)
      kr->current = first;
    any = true;
  }
  if (!any) {
    set_err(err, errlen, line, "no key");
    return VG_INVALID;
  }
  return VG_OK;
}

int attr_key_generate(const char *kid, char *out, size_t cap)
{
  unsigned char key[ATTR_KEY_MIN];
  char enc[4 * ((ATTR_KEY_MAX + 2) / 3) + 1];
  size_t kl = kid ? strlen(kid) : 0;
  int n;

  if (!valid_id(kid, kl, ATTR_MAX_KID))
    return VG_INVALID;
  random_bytes(key, sizeof(key));
  b64_encode(b64std, true, key, sizeof(key), enc);
  secure_zero(key, sizeof(key));
  n = snprintf(out, cap, "%s:%s\n", kid, enc);
  secure_zero(enc, sizeof(enc));
  if (n < 0 || (size_t)n >= cap) {
    secure_zero(out, cap);
    return VG_TOOBIG;
  }
  return VG_OK;
}

/* Length of a token without app context. */
static size_t base_len(size_t kid_len, size_t uid_len)
{
  return strlen(ATTR_PREFIX) + kid_len + 1 + uid_len + 1 + ATTR_MAC_CHARS;
}

size_t attr_app_ctx_room(const struct attr_keyring *kr, size_t upload_id_len)
{
  size_t used, chars, bytes;

  if (!kr->n || upload_id_len == 0 || upload_id_len > ATTR_MAX_UPLOAD_ID)
    return 0;
  used = base_len(strlen(kr->keys[kr->current].kid), upload_id_len) + 1; /* + '.' */
  if (used >= ATTR_MAX_TOKEN)
    return 0;
  chars = ATTR_MAX_TOKEN - used;
  /* Unpadded base64url: 4 chars carry 3 bytes, 3 chars 2, 2 chars 1. */
  bytes = chars / 4 * 3 + (chars % 4 == 3 ? 2 : chars % 4 == 2 ? 1 : 0);
  return bytes > ATTR_MAX_APP_CTX ? ATTR_MAX_APP_CTX : bytes;
}

/* The first ATTR_MAC_BYTES of HMAC-SHA256(key, msg), base64url, into
 * out[ATTR_MAC_CHARS + 1]. */
static void token_mac(const struct attr_key *k, const char *msg, size_t n, char *out)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  size_t got = 0;

  if (hmac_key_mac(k->mac, msg, n, md, sizeof(md), &got) != VG_OK) {
    /* Only on a broken OpenSSL; a MAC of zeros would verify nothing it
     * should not, since minting and verifying both fail the same way. */
    memset(md, 0, sizeof(md));
  }
  b64_encode(b64url, false, md, ATTR_MAC_BYTES, out);
  secure_zero(md, sizeof(md));
}

int attr_mint(const struct attr_keyring *kr, const char *upload_id, const char *app_ctx, char *out,
              size_t cap)
{
  const struct attr_key *k;
  size_t ul = upload_id ? strlen(upload_id) : 0, cl = app_ctx ? strlen(app_ctx) : 0, n, total;
  char mac[ATTR_MAC_CHARS + 1];

  if (cap)
    out[0] = '\0';
  if (!kr->n)
    return VG_NOTFOUND;
  k = &kr->keys[kr->current];
  if (!valid_id(upload_id, ul, ATTR_MAX_UPLOAD_ID))
    return VG_INVALID;
  if (cl && !utf8_valid(app_ctx, cl))
    return VG_INVALID;
  total = base_len(strlen(k->kid), ul) + (cl ? 1 + (cl * 4 + 2) / 3 : 0);
  if (cl > ATTR_MAX_APP_CTX || total > ATTR_MAX_TOKEN || total >= cap)
    return VG_TOOBIG;
  n = (size_t)snprintf(out, cap, ATTR_PREFIX "%s.%s", k->kid, upload_id);
  if (cl) {
    out[n++] = '.';
    n += b64_encode(b64url, false, (const unsigned char *)app_ctx, cl, out + n);
  }
  token_mac(k, out, n, mac);
  out[n++] = '.';
  memcpy(out + n, mac, ATTR_MAC_CHARS + 1);
  return VG_OK;
}

enum attr_status attr_verify(const struct attr_keyring *kr, const char *token, size_t len,
                             struct attr_claims *out)
{
  const char *f[6];
  size_t fl[6], nf = 0, start = 0, signed_len;
  const struct attr_key *k;
  char mac[ATTR_MAC_CHARS + 1];
  unsigned char ctx[ATTR_MAX_APP_CTX];
  long cn = 0;

  memset(out, 0, sizeof(*out));
  if (!token || len > ATTR_MAX_TOKEN || len < strlen(ATTR_PREFIX) ||
      memcmp(token, ATTR_PREFIX, strlen(ATTR_PREFIX)) != 0)
    return ATTR_MALFORMED;
  for (size_t i = 0; i <= len; i++) {
    if (i == len || token[i] == '.') {
      if (nf == ARRAY_SIZE(f))
        return ATTR_MALFORMED;
      f[nf] = token + start;
      fl[nf++] = i - start;
      start = i + 1;
    } else if (!is_idchar(token[i])) {
      return ATTR_MALFORMED;
    }
  }
  /* f[0] is "vg1"; then kid, uid, [ctx], mac. */
  if (nf != 4 && nf != 5)
    return ATTR_MALFORMED;
  if (!valid_id(f[1], fl[1], ATTR_MAX_KID) || !valid_id(f[2], fl[2], ATTR_MAX_UPLOAD_ID) ||
      fl[nf - 1] != ATTR_MAC_CHARS)
    return ATTR_MALFORMED;
  if (nf == 5) {
    cn = b64_decode(b64url, false, f[3], fl[3], ctx, sizeof(ctx));
    if (cn <= 0)
      return ATTR_MALFORMED;
  }
  k = find_key(kr, f[1], fl[1]);
  if (!k)
    return ATTR_UNKNOWN_KEY;
  signed_len = (size_t)(f[nf - 1] - token) - 1;
  token_mac(k, token, signed_len, mac);
  if (!ct_equal(mac, ATTR_MAC_CHARS, f[nf - 1], ATTR_MAC_CHARS))
    return ATTR_BAD_MAC;
  /* Only our own minting produces a valid MAC, and it only encodes UTF-8
   * without NUL; checked again so that a leaked key cannot smuggle bytes
   * that later layers assume away. */
  if (cn > 0 && (memchr(ctx, '\0', (size_t)cn) || !utf8_valid((const char *)ctx, (size_t)cn)))
    return ATTR_MALFORMED;
  memcpy(out->kid, f[1], fl[1]);
  memcpy(out->upload_id, f[2], fl[2]);
  if (cn > 0)
    memcpy(out->app_ctx, ctx, (size_t)cn);
  out->app_ctx_len = (size_t)cn;
  return ATTR_OK;
}
