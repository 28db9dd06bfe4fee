/* ugc.c: the UGC control-plane model of the emulator. See ugc.h. */
#include "emu/ugc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/util.h"

static const char MSG_REQUEST[] = "ugc upload | invalid request";
static const char MSG_SIGNATURE[] = "ugc upload | invalid signature";
static const char MSG_DUPLICATE[] = "duplicate vod signature";
static const char MSG_SESSION[] = "ugc upload | invalid vodSessionKey";

void ugc_config_init(struct ugc_config *c)
{
  memset(c, 0, sizeof(*c));
  c->app_id = 1500000000;
  c->storage_app_id = 1250000000;
  snprintf(c->bucket, sizeof(c->bucket), "%s", "b1a2c3d4vodgzp1500000000");
  snprintf(c->region, sizeof(c->region), "%s", "ap-guangzhou");
  snprintf(c->region_short, sizeof(c->region_short), "%s", "gzp");
  snprintf(c->domain, sizeof(c->domain), "%s", "vod2.qcloud.com");
  snprintf(c->media_base, sizeof(c->media_base), "%s", "http://1500000000.vod2.myqcloud.com");
  c->cert_ttl = 3600;
  c->session_ttl = 86400;
  c->verify_ttl = 86400;
}

static void rng_fill(const struct ugc_rng *rng, void *p, size_t n)
{
  if (rng && rng->fill)
    rng->fill(rng->ctx, p, n);
  else
    random_bytes(p, n);
}

/* Uniform choice from an alphabet by rejection sampling. */
static void rng_chars(const struct ugc_rng *rng, const char *alpha, char *out, size_t n)
{
  size_t an = strlen(alpha), lim = 256 - 256 % an, i = 0;
  while (i < n) {
    unsigned char b[16];
    rng_fill(rng, b, sizeof(b));
    for (size_t j = 0; j < sizeof(b) && i < n; j++)
      if (b[j] < lim)
        out[i++] = alpha[b[j] % an];
  }
  out[n] = '\0';
}

static void mac256(const unsigned char *key, const char *label, const char *msg,
                   unsigned char out[32])
{
  unsigned int ml = 0;
  char buf[256];
  int n = snprintf(buf, sizeof(buf), "%s\n%s", label, msg);
  if (n < 0 || (size_t)n >= sizeof(buf) ||
      !HMAC(EVP_sha256(), key, UGC_KEY_LEN, (unsigned char *)buf, (size_t)n, out, &ml))
    abort(); /* fixed, bounded inputs */
}

static void iso8601(int64_t t, char out[32])
{
  time_t tt = (time_t)t;
  struct tm tm;
  if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
    snprintf(out, 32, "%s", "1970-01-01T00:00:00Z");
}

/* ---- envelopes ---- */

json_t *ugc_envelope(int code, const char *message, json_t *data)
{
  return json_pack("{s:i, s:s, s:o}", "code", code, "message", message, "data",
                   data ? data : json_object());
}

json_t *ugc_error_envelope(enum ugc_error kind)
{
  switch (kind) {
  case UGC_ERR_REQUEST: return ugc_envelope(UGC_E_REQUEST, MSG_REQUEST, NULL);
  case UGC_ERR_SIGNATURE: return ugc_envelope(UGC_E_SIGNATURE, MSG_SIGNATURE, NULL);
  case UGC_ERR_DUPLICATE: return ugc_envelope(UGC_E_SIGNATURE, MSG_DUPLICATE, NULL);
  case UGC_ERR_SESSION: return ugc_envelope(UGC_E_SESSION, MSG_SESSION, NULL);
  }
  return ugc_envelope(UGC_E_REQUEST, MSG_REQUEST, NULL);
}

/* ---- requests ---- */

static bool name_ok(const char *s, size_t n)
{
  if (n == 0 || n > UGC_MAX_NAME || !utf8_valid(s, n))
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f || strchr("\\/:*?\"<>|", c))
      return false;
  }
  return true;
}

static bool type_ok(const char *s, size_t n)
{
  if (n == 0 || n > UGC_MAX_TYPE)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
      return false;
  return true;
}

/* Optional string member: 0 absent, 1 copied, -1 bad (type, size, check). */
static int get_str(json_t *o, const char *k, char *dst, size_t dstsz,
                   bool (*ok)(const char *, size_t))
{
  json_t *v = json_object_get(o, k);
  const char *s;
  size_t n;
  if (!v || json_is_null(v))
    return 0;
  if (!json_is_string(v))
    return -1;
  s = json_string_value(v);
  n = json_string_length(v);
  if (n >= dstsz || memchr(s, 0, n) || (ok && !ok(s, n)))
    return -1;
  memcpy(dst, s, n);
  dst[n] = '\0';
  return 1;
}

/* Optional non-negative integer member: 0 absent, 1 ok, -1 bad. Accepts a
 * JSON integer or a real with an integral value (JS numbers). */
static int get_size(json_t *o, const char *k, int64_t *out)
{
  json_t *v = json_object_get(o, k);
  if (!v || json_is_null(v))
    return 0;
  if (json_is_integer(v) && json_integer_value(v) >= 0) {
    *out = json_integer_value(v);
    return 1;
  }
  if (json_is_real(v)) {
    double d = json_real_value(v);
    if (d >= 0 && d < 9e15 && d == (double)(int64_t)d) {
      *out = (int64_t)d;
      return 1;
    }
  }
  return -1;
}

static bool digits_ok(const char *s, size_t n)
{
  if (n == 0 || n > UGC_FILE_ID_LEN)
    return false;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9')
      return false;
  return true;
}

static bool region_ok(const char *s, size_t n)
{
  if (n == 0 || n > UGC_MAX_REGION)
    return false;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
      return false;
  return true;
}

static bool skey_ok(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
      return false;
  return n > 0;
}

static bool printable_ok(const char *s, size_t n)
{
  return skey_ok(s, n);
}

/* Nesting depth of a JSON text (brackets outside strings), so that deep
 * input is refused before the recursive parser sees it. */
static bool depth_ok(const char *s, size_t n, int max)
{
  int d = 0;
  bool in_str = false, esc = false;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (in_str) {
      if (esc)
        esc = false;
      else if (ch == '\\')
        esc = true;
      else if (ch == '"')
        in_str = false;
    } else if (ch == '"') {
      in_str = true;
    } else if (ch == '[' || ch == '{') {
      if (++d > max)
        return false;
    } else if (ch == ']' || ch == '}') {
      d--;
    }
  }
  return true;
}

int ugc_request_parse(enum ugc_action action, const char *body, size_t len, struct ugc_request *out)
{
  json_t *root, *sig;
  json_error_t err;
  int rc = UGC_E_REQUEST, r;

  memset(out, 0, sizeof(*out));
  out->action = action;
  out->video_size = out->cover_size = -1;
  if (!body || len == 0 || len > UGC_MAX_BODY || !depth_ok(body, len, JSON_MAX_DEPTH))
    return UGC_E_REQUEST;
  root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
  if (!root)
    return UGC_E_REQUEST;
  if (!json_is_object(root))
    goto out;
  sig = json_object_get(root, "signature");
  if (!json_is_string(sig) || json_string_length(sig) == 0 ||
      json_string_length(sig) > SIG_MAX_ENCODED)
    goto out;
  if (get_str(root, "vodSessionKey", out->vod_session_key, sizeof(out->vod_session_key), skey_ok) <
      0)
    goto out;
  if (action == UGC_COMMIT && !out->vod_session_key[0])
    goto out;
  if (action == UGC_APPLY) {
    int vn, vt, vs, cn, ct, cs, fi;
    vn = get_str(root, "videoName", out->video_name, sizeof(out->video_name), name_ok);
    vt = get_str(root, "videoType", out->video_type, sizeof(out->video_type), type_ok);
    vs = get_size(root, "videoSize", &out->video_size);
    cn = get_str(root, "coverName", out->cover_name, sizeof(out->cover_name), name_ok);
    ct = get_str(root, "coverType", out->cover_type, sizeof(out->cover_type), type_ok);
    cs = get_size(root, "coverSize", &out->cover_size);
    fi = get_str(root, "fileId", out->file_id, sizeof(out->file_id), digits_ok);
    if (vn < 0 || vt < 0 || vs < 0 || cn < 0 || ct < 0 || cs < 0 || fi < 0)
      goto out;
    if (get_str(root, "storageRegion", out->storage_region, sizeof(out->storage_region),
                region_ok) < 0 ||
        get_str(root, "ExpireTime", out->expire_time, sizeof(out->expire_time), printable_ok) < 0)
      goto out;
    out->has_video = vt == 1;
    out->has_cover = ct == 1;
    if ((vn == 1 || vs == 1) && vt != 1)
      goto out;
    if ((cn == 1 || cs == 1) && ct != 1)
      goto out;
    r = out->vod_session_key[0] || out->has_video || (fi == 1 && out->has_cover);
    if (!r)
      goto out;
  }
  out->signature = xstrndup(json_string_value(sig), json_string_length(sig));
  rc = UGC_OK;
out:
  json_decref(root);
  if (rc != UGC_OK) {
    memset(out, 0, sizeof(*out));
    out->video_size = out->cover_size = -1;
  }
  return rc;
}

void ugc_request_release(struct ugc_request *r)
{
  if (r->signature) {
    secure_zero(r->signature, strlen(r->signature));
    free(r->signature);
  }
  r->signature = NULL;
}

/* ---- sessions ---- */

static void session_key_mac(const struct ugc_config *c, const char *prefix, char hex40[41])
{
  unsigned char m[32];
  char h[65];
  mac256(c->key, "vodgate-vsk", prefix, m);
  hex_encode(m, 32, h);
  memcpy(hex40, h, 40);
  hex40[40] = '\0';
}

static int copy_policy_str(char *dst, size_t dstsz, const char *s, size_t max_chars)
{
  size_t n = s ? strlen(s) : 0;
  if (n == 0) {
    dst[0] = '\0';
    return 0;
  }
  if (n >= dstsz || !utf8_valid(s, n) || utf8_count(s, n) > max_chars)
    return -1;
  memcpy(dst, s, n + 1);
  return 0;
}

static void object_path(const struct ugc_config *c, const struct ugc_rng *rng, const char *dir,
                        const char *type, char *out)
{
  char name[13];
  rng_chars(rng, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", name, 12);
  snprintf(out, UGC_MAX_PATH + 1, "/%s/%s/%s.%s", c->bucket, dir, name, type);
}

int ugc_session_new(const struct ugc_config *c, const struct ugc_rng *rng,
                    const struct ugc_request *req, const struct ugc_policy *pol, int64_t now,
                    struct ugc_session *out)
{
  unsigned char p8[4];
  char dir[8 + UGC_FILE_ID_LEN + 1], prefix[4 + 32 + 8 + 1], mac[41], idhex[33], hx[9];
  const char *mode =
      pol && pol->task_notify_mode && pol->task_notify_mode[0] ? pol->task_notify_mode : "Finish";

  memset(out, 0, sizeof(*out));
  if (strcmp(mode, "Finish") != 0 && strcmp(mode, "Change") != 0 && strcmp(mode, "None") != 0)
    return UGC_E_REQUEST;
  if (pol && (copy_policy_str(out->procedure, sizeof(out->procedure), pol->procedure,
                              SIG_MAX_PROCEDURE) != 0 ||
              copy_policy_str(out->source_context, sizeof(out->source_context), pol->source_context,
                              SIG_MAX_SOURCE_CONTEXT) != 0 ||
              copy_policy_str(out->session_context, sizeof(out->session_context),
                              pol->session_context, SIG_MAX_SESSION_CONTEXT) != 0)) {
    memset(out, 0, sizeof(*out));
    return UGC_E_REQUEST;
  }
  snprintf(out->notify_mode, sizeof(out->notify_mode), "%s", mode);
  out->class_id = pol ? pol->class_id : 0;
  out->task_priority = pol ? pol->task_priority : 0;
  out->app_id = pol && pol->sub_app_id ? pol->sub_app_id : c->app_id;

  rng_fill(rng, out->id, sizeof(out->id));
  out->created = now;
  out->expires = now + c->session_ttl;
  hex_encode(out->id, 16, idhex);
  snprintf(prefix, sizeof(prefix), "vsk1%s%08llx", idhex,
           (unsigned long long)(uint32_t)out->expires);
  session_key_mac(c, prefix, mac);
  snprintf(out->session_key, sizeof(out->session_key), "%s%s", prefix, mac);

  /* A 19-digit FileId in the style of real ones (5285890...). */
  memcpy(out->file_id, "528589", 6);
  rng_chars(rng, "0123456789", out->file_id + 6, UGC_FILE_ID_LEN - 6);
  rng_fill(rng, p8, sizeof(p8));
  hex_encode(p8, 4, hx);
  snprintf(dir, sizeof(dir), "%s%s", hx, out->file_id);

  if (req->has_video) {
    snprintf(out->media_name, sizeof(out->media_name), "%s", req->video_name);
    snprintf(out->media_type, sizeof(out->media_type), "%s", req->video_type);
    out->media_size = req->video_size;
    object_path(c, rng, dir, out->media_type, out->media_path);
  } else {
    out->media_size = -1;
  }
  if (req->has_cover) {
    snprintf(out->cover_type, sizeof(out->cover_type), "%s", req->cover_type);
    object_path(c, rng, dir, out->cover_type, out->cover_path);
  }
  ugc_session_issue_cert(c, rng, out, now);
  return UGC_OK;
}

static void derive_cert(const struct ugc_config *c, const char *ak, char sk[UGC_SK_LEN + 1],
                        char tok[UGC_TOKEN_LEN + 1])
{
  unsigned char m[32];
  char h[65];
  if (sk) {
    mac256(c->key, "vodgate-cos-sk", ak, m);
    hex_encode(m, 32, h);
    memcpy(sk, h, UGC_SK_LEN);
    sk[UGC_SK_LEN] = '\0';
  }
  if (tok) {
    mac256(c->key, "vodgate-cos-token", ak, m);
    hex_encode(m, 32, tok);
  }
  secure_zero(m, sizeof(m));
  secure_zero(h, sizeof(h));
}

void ugc_session_issue_cert(const struct ugc_config *c, const struct ugc_rng *rng,
                            struct ugc_session *s, int64_t now)
{
  unsigned char nonce[4];
  char idhex[33], nhex[9];
  rng_fill(rng, nonce, sizeof(nonce));
  hex_encode(s->id, 16, idhex);
  hex_encode(nonce, 4, nhex);
  s->cert_start = now;
  s->cert_exp = now + c->cert_ttl;
  snprintf(s->secret_id, sizeof(s->secret_id), "AKIDvg%s%08llx%s", idhex,
           (unsigned long long)(uint32_t)s->cert_exp, nhex);
  derive_cert(c, s->secret_id, s->secret_key, s->token);
}

static int unhex(const char *s, size_t n, unsigned char *out)
{
  for (size_t i = 0; i < n; i++) {
    int v[2];
    for (int k = 0; k < 2; k++) {
      char ch = s[2 * i + k];
      v[k] = (ch >= '0' && ch <= '9') ? ch - '0' : (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10 : -1;
      if (v[k] < 0)
        return -1;
    }
    out[i] = (unsigned char)(v[0] << 4 | v[1]);
  }
  return 0;
}

static int hex8_val(const char *s, int64_t *out)
{
  unsigned char b[4];
  if (unhex(s, 4, b) != 0)
    return -1;
  *out = (int64_t)((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]);
  return 0;
}

int ugc_session_key_check(const struct ugc_config *c, const char *key, size_t len, int64_t now,
                          unsigned char id[16])
{
  char prefix[4 + 32 + 8 + 1], mac[41];
  int64_t exp;
  if (!key || len != UGC_SESSION_KEY_LEN || memcmp(key, "vsk1", 4) != 0)
    return UGC_E_SESSION;
  memcpy(prefix, key, 44);
  prefix[44] = '\0';
  if (unhex(key + 4, 16, id) != 0 || hex8_val(key + 36, &exp) != 0)
    goto bad;
  session_key_mac(c, prefix, mac);
  if (!ct_equal(mac, 40, key + 44, 40) || now > exp)
    goto bad;
  return UGC_OK;
bad:
  memset(id, 0, 16);
  return UGC_E_SESSION;
}

enum ugc_cert_result ugc_cert_check(const struct ugc_config *c, const char *ak, const char *token,
                                    int64_t now, unsigned char id[16],
                                    char secret_key[UGC_SK_LEN + 1])
{
  char tok[UGC_TOKEN_LEN + 1];
  int64_t exp;
  unsigned char nonce[4];
  if (!ak || strlen(ak) != UGC_AK_LEN || memcmp(ak, "AKIDvg", 6) != 0 ||
      unhex(ak + 6, 16, id) != 0 || hex8_val(ak + 38, &exp) != 0 || unhex(ak + 46, 4, nonce) != 0)
    return UGC_CERT_MALFORMED;
  derive_cert(c, ak, secret_key, tok);
  if (!token || !ct_equal(tok, UGC_TOKEN_LEN, token, strlen(token))) {
    secure_zero(secret_key, UGC_SK_LEN + 1);
    return UGC_CERT_BAD_TOKEN;
  }
  if (now > exp) {
    secure_zero(secret_key, UGC_SK_LEN + 1);
    return UGC_CERT_EXPIRED;
  }
  return UGC_CERT_OK;
}

const char *ugc_cert_error_code(enum ugc_cert_result r)
{
  switch (r) {
  case UGC_CERT_OK: return "";
  case UGC_CERT_MALFORMED: return "InvalidAccessKeyId";
  case UGC_CERT_EXPIRED: return "AccessDenied";
  case UGC_CERT_BAD_TOKEN: return "InvalidToken";
  }
  return "AccessDenied";
}

const char *ugc_cert_error_message(enum ugc_cert_result r)
{
  switch (r) {
  case UGC_CERT_OK: return "";
  case UGC_CERT_MALFORMED: return "The access key Id you provided does not exist in our records.";
  /* cos-js-sdk-v5 retries with a corrected clock on exactly this text. */
  case UGC_CERT_EXPIRED: return "Request has expired";
  case UGC_CERT_BAD_TOKEN: return "The provided token is malformed or otherwise invalid.";
  }
  return "Access Denied.";
}

int ugc_session_object(const struct ugc_session *s, const char *path)
{
  if (!path || !path[0])
    return 0;
  if (s->media_path[0] && strcmp(path, s->media_path) == 0)
    return 1;
  if (s->cover_path[0] && strcmp(path, s->cover_path) == 0)
    return 2;
  return 0;
}

void ugc_session_commit(const struct ugc_config *c, const struct ugc_rng *rng,
                        struct ugc_session *s, int64_t now)
{
  unsigned char t[16];
  char th[33];
  if (s->committed)
    return;
  s->committed = true;
  s->committed_at = now;
  if (s->procedure[0]) {
    rng_fill(rng, t, sizeof(t));
    hex_encode(t, 16, th);
    snprintf(s->task_id, sizeof(s->task_id), "%llu-procedurev2-%stt0",
             (unsigned long long)s->app_id, th);
  }
}

/* ---- persistence ---- */

json_t *ugc_session_to_json(const struct ugc_session *s)
{
  char idhex[33];
  hex_encode(s->id, 16, idhex);
  return json_pack(
      "{s:s, s:I, s:I, s:s, s:I, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, "
      "s:s, s:s, s:s, s:s, s:I, s:I, s:b, s:I, s:s}",
      "id", idhex, "created", (json_int_t)s->created, "expires", (json_int_t)s->expires,
      "session_key", s->session_key, "app_id", (json_int_t)s->app_id, "file_id", s->file_id,
      "media_name", s->media_name, "media_type", s->media_type, "media_size",
      (json_int_t)s->media_size, "media_path", s->media_path, "cover_type", s->cover_type,
      "cover_path", s->cover_path, "secret_id", s->secret_id, "secret_key", s->secret_key, "token",
      s->token, "cert_start", (json_int_t)s->cert_start, "cert_exp", (json_int_t)s->cert_exp,
      "procedure", s->procedure, "notify_mode", s->notify_mode, "source_context", s->source_context,
      "session_context", s->session_context, "class_id", (json_int_t)s->class_id, "task_priority",
      (json_int_t)s->task_priority, "committed", s->committed, "committed_at",
      (json_int_t)s->committed_at, "task_id", s->task_id);
}

static int jstr(const json_t *j, const char *k, char *dst, size_t dstsz)
{
  json_t *v = json_object_get(j, k);
  size_t n;
  if (!json_is_string(v))
    return -1;
  n = json_string_length(v);
  if (n >= dstsz || memchr(json_string_value(v), 0, n))
    return -1;
  memcpy(dst, json_string_value(v), n + 1);
  return 0;
}

static int jint(const json_t *j, const char *k, int64_t *out)
{
  json_t *v = json_object_get(j, k);
  if (!json_is_integer(v))
    return -1;
  *out = json_integer_value(v);
  return 0;
}

int ugc_session_from_json(const json_t *j, struct ugc_session *s)
{
  char idhex[33];
  int64_t app, committed_at;
  json_t *cm = json_object_get(j, "committed");
  memset(s, 0, sizeof(*s));
  if (!json_is_object(j) || !json_is_boolean(cm) || jstr(j, "id", idhex, sizeof(idhex)) ||
      strlen(idhex) != 32 || unhex(idhex, 16, s->id) || jint(j, "created", &s->created) ||
      jint(j, "expires", &s->expires) ||
      jstr(j, "session_key", s->session_key, sizeof(s->session_key)) || jint(j, "app_id", &app) ||
      app < 0 || jstr(j, "file_id", s->file_id, sizeof(s->file_id)) ||
      jstr(j, "media_name", s->media_name, sizeof(s->media_name)) ||
      jstr(j, "media_type", s->media_type, sizeof(s->media_type)) ||
      jint(j, "media_size", &s->media_size) ||
      jstr(j, "media_path", s->media_path, sizeof(s->media_path)) ||
      jstr(j, "cover_type", s->cover_type, sizeof(s->cover_type)) ||
      jstr(j, "cover_path", s->cover_path, sizeof(s->cover_path)) ||
      jstr(j, "secret_id", s->secret_id, sizeof(s->secret_id)) ||
      jstr(j, "secret_key", s->secret_key, sizeof(s->secret_key)) ||
      jstr(j, "token", s->token, sizeof(s->token)) || jint(j, "cert_start", &s->cert_start) ||
      jint(j, "cert_exp", &s->cert_exp) ||
      jstr(j, "procedure", s->procedure, sizeof(s->procedure)) ||
      jstr(j, "notify_mode", s->notify_mode, sizeof(s->notify_mode)) ||
      jstr(j, "source_context", s->source_context, sizeof(s->source_context)) ||
      jstr(j, "session_context", s->session_context, sizeof(s->session_context)) ||
      jint(j, "class_id", &s->class_id) || jint(j, "task_priority", &s->task_priority) ||
      jint(j, "committed_at", &committed_at) ||
      jstr(j, "task_id", s->task_id, sizeof(s->task_id))) {
    memset(s, 0, sizeof(*s));
    return -1;
  }
  s->app_id = (uint64_t)app;
  s->committed = json_is_true(cm);
  s->committed_at = committed_at;
  return 0;
}

/* ---- response data ---- */

void ugc_media_url(const struct ugc_config *c, const char *path, char *out, size_t outsz)
{
  snprintf(out, outsz, "%s%s", c->media_base, path);
}

json_t *ugc_prepare_data(const struct ugc_config *c)
{
  char dom[192];
  snprintf(dom, sizeof(dom), "%s-%llu.cos.%s.myqcloud.com", c->bucket,
           (unsigned long long)c->storage_app_id, c->region);
  return json_pack("{s:I, s:[{s:s, s:s}]}", "appId", (json_int_t)c->app_id, "cosRegionList",
                   "region", c->region, "domain", dom);
}

json_t *ugc_apply_data(const struct ugc_config *c, const struct ugc_session *s)
{
  json_t *d = json_object();
  if (s->media_path[0])
    json_object_set_new(
        d, "video", json_pack("{s:s, s:s}", "storageSignature", "", "storagePath", s->media_path));
  if (s->cover_path[0])
    json_object_set_new(
        d, "cover", json_pack("{s:s, s:s}", "storageSignature", "", "storagePath", s->cover_path));
  json_object_set_new(d, "storageAppId", json_integer((json_int_t)c->storage_app_id));
  json_object_set_new(d, "storageBucket", json_string(c->bucket));
  json_object_set_new(d, "storageRegion", json_string(c->region_short));
  json_object_set_new(d, "storageRegionV5", json_string(c->region));
  json_object_set_new(d, "StorageRegionV5", json_string(c->region));
  json_object_set_new(d, "domain", json_string(c->domain));
  json_object_set_new(d, "vodSessionKey", json_string(s->session_key));
  json_object_set_new(d, "tempCertificate",
                      json_pack("{s:s, s:s, s:s, s:I}", "secretId", s->secret_id, "secretKey",
                                s->secret_key, "token", s->token, "expiredTime",
                                (json_int_t)s->cert_exp));
  json_object_set_new(d, "appId", json_integer((json_int_t)s->app_id));
  json_object_set_new(d, "timestamp", json_integer((json_int_t)s->cert_start));
  return d;
}

int ugc_verify_content(const unsigned char *key, size_t keylen, const char *file_id,
                       int64_t exp_time, char *out, size_t outsz)
{
  unsigned char raw[20 + 96];
  unsigned int ml = 0;
  int n = snprintf((char *)raw + 20, sizeof(raw) - 20, "ExpTime=%lld&FileId=%s",
                   (long long)exp_time, file_id);
  size_t total;
  if (n < 0 || (size_t)n >= sizeof(raw) - 20)
    return -1;
  total = 20 + (size_t)n;
  if (outsz < 4 * ((total + 2) / 3) + 1)
    return -1;
  if (!HMAC(EVP_sha1(), key, (int)keylen, raw + 20, (size_t)n, raw, &ml))
    abort();
  /* TODO: use core/b64.h once merged. */
  EVP_EncodeBlock((unsigned char *)out, raw, (int)total);
  return 0;
}

static json_t *file_obj(const struct ugc_config *c, const struct ugc_session *s, const char *path)
{
  char url[256], vc[256];
  ugc_media_url(c, path, url, sizeof(url));
  if (ugc_verify_content(c->verify_key, c->verify_key_len, s->file_id,
                         s->committed_at + c->verify_ttl, vc, sizeof(vc)) != 0)
    vc[0] = '\0';
  return json_pack("{s:s, s:s}", "url", url, "verify_content", vc);
}

json_t *ugc_commit_data(const struct ugc_config *c, const struct ugc_session *s)
{
  json_t *d = json_pack("{s:s}", "fileId", s->file_id);
  if (s->media_path[0])
    json_object_set_new(d, "video", file_obj(c, s, s->media_path));
  if (s->cover_path[0])
    json_object_set_new(d, "cover", file_obj(c, s, s->cover_path));
  return d;
}

/* ---- events ---- */

enum ugc_review ugc_review_decide(const char *name, const unsigned char *head, size_t head_len)
{
  static const char mark[] = "VODGATE-REVIEW:";
  static const struct {
    const char *word;
    enum ugc_review r;
  } words[] = {{"pass", UGC_REVIEW_PASS},
               {"review", UGC_REVIEW_REVIEW},
               {"block", UGC_REVIEW_BLOCK},
               {"fail", UGC_REVIEW_FAIL}};
  size_t ml = sizeof(mark) - 1;
  if (head_len > 64)
    head_len = 64;
  if (head && head_len > ml && memcmp(head, mark, ml) == 0) {
    for (size_t i = 0; i < ARRAY_SIZE(words); i++) {
      size_t wl = strlen(words[i].word);
      if (head_len - ml >= wl && memcmp(head + ml, words[i].word, wl) == 0)
        return words[i].r;
    }
  }
  if (name) {
    if (strstr(name, "[review]"))
      return UGC_REVIEW_REVIEW;
    if (strstr(name, "[block]"))
      return UGC_REVIEW_BLOCK;
    if (strstr(name, "[fail]"))
      return UGC_REVIEW_FAIL;
  }
  return UGC_REVIEW_PASS;
}

const char *ugc_review_name(enum ugc_review r)
{
  switch (r) {
  case UGC_REVIEW_PASS: return "pass";
  case UGC_REVIEW_REVIEW: return "review";
  case UGC_REVIEW_BLOCK: return "block";
  case UGC_REVIEW_FAIL: return "fail";
  }
  return "pass";
}

static const char *category_of(const char *type)
{
  static const char *const audio[] = {"mp3", "aac", "wav", "flac", "m4a", "ogg", "wma", "amr"};
  static const char *const image[] = {"jpg", "jpeg", "png", "gif", "webp", "bmp"};
  for (size_t i = 0; i < ARRAY_SIZE(audio); i++)
    if (strcmp(type, audio[i]) == 0)
      return "Audio";
  for (size_t i = 0; i < ARRAY_SIZE(image); i++)
    if (strcmp(type, image[i]) == 0)
      return "Image";
  return "Video";
}

/* The emulator does not probe media: only Size and Container are real. */
static json_t *meta_data(const struct ugc_session *s, uint64_t size)
{
  const char *container = strcmp(s->media_type, "mp4") == 0 || strcmp(s->media_type, "mov") == 0
                              ? "mov,mp4,m4a,3gp,3g2,mj2"
                              : s->media_type;
  return json_pack("{s:I, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:[], s:[]}", "Size",
                   (json_int_t)size, "Container", container, "Bitrate", 0, "Height", 0, "Width", 0,
                   "Duration", 0, "Rotate", 0, "VideoDuration", 0, "AudioDuration", 0,
                   "VideoStreamSet", "AudioStreamSet");
}

json_t *ugc_event_new_file_upload(const struct ugc_config *c, const struct ugc_session *s,
                                  uint64_t size, int64_t now)
{
  char url[256], cover[256], created[32], updated[32];
  json_t *basic;
  ugc_media_url(c, s->media_path, url, sizeof(url));
  if (s->cover_path[0])
    ugc_media_url(c, s->cover_path, cover, sizeof(cover));
  else
    cover[0] = '\0';
  iso8601(s->committed ? s->committed_at : now, created);
  iso8601(now, updated);
  basic = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:[], s:s, s:s, "
                    "s:{s:s, s:s}, s:s, s:s, s:s, s:s}",
                    "Name", s->media_name, "Description", "", "CreateTime", created, "UpdateTime",
                    updated, "ExpireTime", "9999-12-31T23:59:59Z", "ClassId",
                    (json_int_t)s->class_id, "ClassName", s->class_id == 0 ? "其他" : "",
                    "ClassPath", s->class_id == 0 ? "其他" : "", "CoverUrl", cover, "Type",
                    s->media_type, "MediaUrl", url, "TagSet", "StorageRegion", c->region,
                    "StoragePath", "", "SourceInfo", "SourceType", "Upload", "SourceContext",
                    s->source_context, "Vid", "", "Category", category_of(s->media_type), "Status",
                    "Normal", "StorageClass", "STANDARD");
  return json_pack("{s:s, s:{s:s, s:o, s:s, s:s, s:o}}", "EventType", "NewFileUpload",
                   "FileUploadEvent", "FileId", s->file_id, "MediaBasicInfo", basic,
                   "ProcedureTaskId", s->task_id, "ReviewAudioVideoTaskId", "", "MetaData",
                   meta_data(s, size));
}

/* One AiContentReviewResult. status: "PROCESSING", "SUCCESS" or "FAIL". */
static json_t *review_item(const char *type, const char *member, const char *status, json_t *output)
{
  bool fail = strcmp(status, "FAIL") == 0;
  bool done = strcmp(status, "PROCESSING") != 0;
  return json_pack("{s:s, s:{s:s, s:s, s:i, s:s, s:i, s:{s:i}, s:o}}", "Type", type, member,
                   "Status", status, "ErrCodeExt", fail ? "InternalError" : "", "ErrCode",
                   fail ? 30010 : 0, "Message", fail ? "emulated review failure" : "", "Progress",
                   done ? 100 : 0, "Input", "Definition", 10, "Output",
                   output ? output : json_null());
}

static json_t *pass_output(void)
{
  return json_pack("{s:i, s:s, s:s, s:[]}", "Confidence", 0, "Suggestion", "pass", "Label", "",
                   "SegmentSet");
}

static json_t *porn_output(const struct ugc_config *c, const struct ugc_session *s,
                           enum ugc_review r, int64_t now)
{
  char url[320], exp[32];
  int conf = r == UGC_REVIEW_BLOCK ? 97 : 62;
  const char *label = r == UGC_REVIEW_BLOCK ? "porn" : "sexy";
  const char *sug = ugc_review_name(r);
  if (r == UGC_REVIEW_PASS)
    return pass_output();
  snprintf(url, sizeof(url), "%s/review/%s-porn-1.jpg", c->media_base, s->file_id);
  iso8601(now + 7 * 86400, exp);
  return json_pack("{s:i, s:s, s:s, s:[{s:f, s:f, s:i, s:s, s:s, s:s, s:s}]}", "Confidence", conf,
                   "Suggestion", sug, "Label", label, "SegmentSet", "StartTimeOffset", 0.0,
                   "EndTimeOffset", 5.0, "Confidence", conf, "Label", label, "Suggestion", sug,
                   "Url", url, "PicUrlExpireTime", exp);
}

static json_t *procedure_event(const struct ugc_config *c, const struct ugc_session *s,
                               enum ugc_review r, uint64_t size, int64_t now, bool finish)
{
  char url[256];
  json_t *set;
  const char *st = finish ? "SUCCESS" : "PROCESSING";
  ugc_media_url(c, s->media_path, url, sizeof(url));
  if (!finish)
    set = json_pack("[o, o, o]", review_item("Porn", "PornTask", st, NULL),
                    review_item("Terrorism", "TerrorismTask", st, NULL),
                    review_item("Political", "PoliticalTask", st, NULL));
  else
    set = json_pack("[o, o, o]",
                    r == UGC_REVIEW_FAIL
                        ? review_item("Porn", "PornTask", "FAIL", NULL)
                        : review_item("Porn", "PornTask", st, porn_output(c, s, r, now)),
                    review_item("Terrorism", "TerrorismTask", st, pass_output()),
                    review_item("Political", "PoliticalTask", st, pass_output()));
  return json_pack("{s:s, s:{s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:o, s:[], s:o, s:[], s:[], "
                   "s:I, s:s, s:s, s:s}}",
                   "EventType", "ProcedureStateChanged", "ProcedureStateChangeEvent", "TaskId",
                   s->task_id, "Status", finish ? "FINISH" : "PROCESSING", "ErrCode", 0, "Message",
                   "", "FileId", s->file_id, "FileName", s->media_name, "FileUrl", url, "MetaData",
                   meta_data(s, size), "MediaProcessResultSet", "AiContentReviewResultSet", set,
                   "AiAnalysisResultSet", "AiRecognitionResultSet", "TasksPriority",
                   (json_int_t)s->task_priority, "TasksNotifyMode", s->notify_mode,
                   "SessionContext", s->session_context, "SessionId", "");
}

size_t ugc_event_procedure(const struct ugc_config *c, const struct ugc_session *s,
                           enum ugc_review review, uint64_t size, int64_t now, json_t *out[2])
{
  size_t n = 0;
  if (!s->procedure[0] || !s->task_id[0] || strcmp(s->notify_mode, "None") == 0)
    return 0;
  if (strcmp(s->notify_mode, "Change") == 0)
    out[n++] = procedure_event(c, s, review, size, now, false);
  out[n++] = procedure_event(c, s, review, size, now, true);
  return n;
}

void ugc_event_sign(json_t *ev, const char *sign_key, int64_t t)
{
  char msg[128], hex[33];
  unsigned char d[16];
  int n = snprintf(msg, sizeof(msg), "%s%lld", sign_key, (long long)t);
  if (n < 0 || (size_t)n >= sizeof(msg) || !EVP_Digest(msg, (size_t)n, d, NULL, EVP_md5(), NULL))
    abort(); /* SignKey is at most 32 characters (spec 5.3); callers check */
  hex_encode(d, 16, hex);
  json_object_set_new(ev, "Sign", json_string(hex));
  json_object_set_new(ev, "T", json_integer((json_int_t)t));
  secure_zero(msg, sizeof(msg));
}

/* ---- routing ---- */

enum ugc_host ugc_classify_host(const struct ugc_config *c, const char *host)
{
  char h[256], cos[192];
  size_t n = 0, bl;
  bool ip = true;
  if (!host)
    return UGC_HOST_OTHER;
  /* Lower-case up to the port; refuse anything odd (IPv6 literals too). */
  for (const char *p = host; *p && *p != ':'; p++) {
    char ch = *p;
    if (n + 1 >= sizeof(h))
      return UGC_HOST_OTHER;
    if (ch >= 'A' && ch <= 'Z')
      ch = (char)(ch - 'A' + 'a');
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
      return UGC_HOST_OTHER;
    if (!((ch >= '0' && ch <= '9') || ch == '.'))
      ip = false;
    h[n++] = ch;
  }
  if (n && h[n - 1] == '.')
    n--;
  h[n] = '\0';
  if (n == 0)
    return UGC_HOST_OTHER;
  if (strcmp(h, "vod2.qcloud.com") == 0 || strcmp(h, "vod2.dnsv1.com") == 0)
    return UGC_HOST_UGC;
  if (strcmp(h, "vodreport.qcloud.com") == 0)
    return UGC_HOST_REPORT;
  if (strcmp(h, "vod.tencentcloudapi.com") == 0 || strcmp(h, "localhost") == 0 || ip)
    return UGC_HOST_API;
  bl = (size_t)snprintf(cos, sizeof(cos), "%s-%llu.cos.%s.", c->bucket,
                        (unsigned long long)c->storage_app_id, c->region);
  if (bl < sizeof(cos) && n > bl && memcmp(h, cos, bl) == 0 &&
      (strcmp(h + bl, "myqcloud.com") == 0 || strcmp(h + bl, "tencentcos.cn") == 0))
    return UGC_HOST_COS;
  return UGC_HOST_OTHER;
}
