#include "sig/sig.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/b64.h"
#include "core/hmac.h"
#include "core/util.h"

static const struct {
  const char *reason;
  const char *msg;
} sig_errors[SIG_ERR__COUNT] = {
    [SIG_OK] = {"ok", "ok"},
    [SIG_ERR_MISSING_PARAM] = {"missing_param", "a required parameter is missing"},
    [SIG_ERR_BAD_SECRET_ID] = {"bad_secret_id", "secretId must be 1..128 bytes of valid UTF-8"},
    [SIG_ERR_FLOAT_TIMESTAMP] = {"float_timestamp",
                                 "timestamps must be integer seconds; VOD rejects a decimal point"},
    [SIG_ERR_BAD_TIMESTAMP] = {"bad_timestamp",
                               "timestamps must be non-negative integers of Unix seconds"},
    [SIG_ERR_EXPIRE_NOT_AFTER_START] = {"expire_not_after_start",
                                        "expireTime must be after currentTimeStamp"},
    [SIG_ERR_VALIDITY_TOO_LONG] = {"validity_too_long",
                                   "expireTime - currentTimeStamp exceeds 7776000 s (90 days)"},
    [SIG_ERR_BAD_RANDOM] = {"bad_random", "random must be an integer in 0..4294967295"},
    [SIG_ERR_BAD_CLASS_ID] = {"bad_class_id", "classId must be a non-negative integer"},
    [SIG_ERR_BAD_PROCEDURE] = {"bad_procedure",
                               "procedure must be at most 128 bytes of valid UTF-8"},
    [SIG_ERR_BAD_TASK_PRIORITY] = {"bad_task_priority",
                                   "taskPriority must be an integer in -10..10"},
    [SIG_ERR_BAD_TASK_NOTIFY_MODE] = {"bad_task_notify_mode",
                                      "taskNotifyMode must be Finish, Change or None"},
    [SIG_ERR_SOURCE_CONTEXT_TOO_LONG] = {"source_context_too_long",
                                         "sourceContext exceeds 250 characters"},
    [SIG_ERR_SESSION_CONTEXT_TOO_LONG] = {"session_context_too_long",
                                          "sessionContext exceeds 1000 characters"},
    [SIG_ERR_BAD_UTF8] = {"bad_utf8", "sourceContext and sessionContext must be valid UTF-8"},
    [SIG_ERR_BAD_ONE_TIME_VALID] = {"bad_one_time_valid", "oneTimeValid must be 0 or 1"},
    [SIG_ERR_BAD_SUB_APP_ID] = {"bad_sub_app_id", "vodSubAppId must be a non-negative integer"},
    [SIG_ERR_BAD_STORAGE_REGION] = {"bad_storage_region",
                                    "storageRegion must be a region short name like "
                                    "ap-chongqing ([a-z0-9-], 1..64)"},
    [SIG_ERR_BAD_LEGACY_FLAG] = {"bad_legacy_flag",
                                 "isTranscode, isScreenshot and isWatermark must be 0 or 1"},
    [SIG_ERR_TOO_LONG] = {"too_long", "signature longer than the limit"},
    [SIG_ERR_BAD_BASE64] = {"bad_base64", "signature is not Base64"},
    [SIG_ERR_TOO_SHORT] = {"too_short",
                           "decoded signature must be longer than the 20-byte HMAC-SHA1"},
    [SIG_ERR_BAD_QUERY] = {"bad_query", "original is not a well-formed query string"},
    [SIG_ERR_DUPLICATE_PARAM] = {"duplicate_param", "a parameter appears twice"},
    [SIG_ERR_TOO_MANY_PARAMS] = {"too_many_params", "more than 32 parameters"},
    [SIG_ERR_BAD_ENCODING] = {"bad_encoding", "a decoded parameter is not valid UTF-8"},
    [SIG_ERR_BAD_MAC] = {"bad_mac",
                         "HMAC-SHA1 does not match: wrong SecretKey or altered signature"},
    [SIG_ERR_EXPIRED] = {"expired", "the signature has expired (expireTime <= now)"},
    [SIG_ERR_NOT_YET_VALID] = {"not_yet_valid",
                               "currentTimeStamp is in the future beyond the allowed clock skew"},
    [SIG_ERR_NO_KEY] = {"no_key", "an empty SecretKey was given"},
    [SIG_ERR_TOO_BIG] = {"too_big", "the parameters do not fit in the signature size limit"},
};

const char *sig_error_reason(enum sig_error e)
{
  if ((unsigned)e < SIG_ERR__COUNT && sig_errors[e].reason)
    return sig_errors[e].reason;
  return "unknown";
}

const char *sig_error_str(enum sig_error e)
{
  if ((unsigned)e < SIG_ERR__COUNT && sig_errors[e].msg)
    return sig_errors[e].msg;
  return "unknown error";
}

const char *sig_notify_mode_str(enum sig_notify_mode m)
{
  switch (m) {
  case SIG_NOTIFY_FINISH: return "Finish";
  case SIG_NOTIFY_CHANGE: return "Change";
  case SIG_NOTIFY_NONE: return "None";
  case SIG_NOTIFY_UNSET:
  case SIG_NOTIFY_INVALID: break;
  }
  return NULL;
}

void sig_params_init(struct sig_params *p)
{
  memset(p, 0, sizeof(*p));
}

struct sig_str sig_str_of(const char *s)
{
  struct sig_str r = {s, s ? strlen(s) : 0};
  return r;
}

static bool str_set(struct sig_str s)
{
  return s.ptr && s.len > 0;
}

/* [a-z0-9-]{1,SIG_MAX_STORAGE_REGION}: every VOD region short name. */
static bool region_ok(struct sig_str s)
{
  if (s.len > SIG_MAX_STORAGE_REGION)
    return false;
  for (size_t i = 0; i < s.len; i++) {
    char c = s.ptr[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
      return false;
  }
  return true;
}

static bool flag01(int64_t v)
{
  return v == 0 || v == 1;
}

/* The rules of spec 1.1, in table order. */
enum sig_error sig_validate(const struct sig_params *p)
{
  if (!str_set(p->secret_id))
    return SIG_ERR_MISSING_PARAM;
  if (p->secret_id.len > SIG_MAX_SECRET_ID || !utf8_valid(p->secret_id.ptr, p->secret_id.len))
    return SIG_ERR_BAD_SECRET_ID;
  if (p->current_time < 0 || p->expire_time < 0)
    return SIG_ERR_BAD_TIMESTAMP;
  if (p->expire_time <= p->current_time)
    return SIG_ERR_EXPIRE_NOT_AFTER_START;
  if (p->expire_time - p->current_time > SIG_MAX_VALIDITY)
    return SIG_ERR_VALIDITY_TOO_LONG;
  if ((p->has & SIG_HAS_RANDOM) && p->random > UINT32_MAX)
    return SIG_ERR_BAD_RANDOM;
  if ((p->has & SIG_HAS_CLASS_ID) && p->class_id > INT64_MAX)
    return SIG_ERR_BAD_CLASS_ID;
  if (str_set(p->procedure) &&
      (p->procedure.len > SIG_MAX_PROCEDURE || !utf8_valid(p->procedure.ptr, p->procedure.len)))
    return SIG_ERR_BAD_PROCEDURE;
  if ((p->has & SIG_HAS_TASK_PRIORITY) && (p->task_priority < -10 || p->task_priority > 10))
    return SIG_ERR_BAD_TASK_PRIORITY;
  if (p->task_notify_mode != SIG_NOTIFY_UNSET && !sig_notify_mode_str(p->task_notify_mode))
    return SIG_ERR_BAD_TASK_NOTIFY_MODE;
  if (str_set(p->source_context)) {
    if (!utf8_valid(p->source_context.ptr, p->source_context.len))
      return SIG_ERR_BAD_UTF8;
    if (utf8_count(p->source_context.ptr, p->source_context.len) > SIG_MAX_SOURCE_CONTEXT)
      return SIG_ERR_SOURCE_CONTEXT_TOO_LONG;
  }
  if ((p->has & SIG_HAS_ONE_TIME_VALID) && !flag01(p->one_time_valid))
    return SIG_ERR_BAD_ONE_TIME_VALID;
  if ((p->has & SIG_HAS_SUB_APP_ID) && p->vod_sub_app_id > INT64_MAX)
    return SIG_ERR_BAD_SUB_APP_ID;
  if (str_set(p->session_context)) {
    if (!utf8_valid(p->session_context.ptr, p->session_context.len))
      return SIG_ERR_BAD_UTF8;
    if (utf8_count(p->session_context.ptr, p->session_context.len) > SIG_MAX_SESSION_CONTEXT)
      return SIG_ERR_SESSION_CONTEXT_TOO_LONG;
  }
  if (str_set(p->storage_region) && !region_ok(p->storage_region))
    return SIG_ERR_BAD_STORAGE_REGION;
  if (((p->has & SIG_HAS_IS_TRANSCODE) && !flag01(p->is_transcode)) ||
      ((p->has & SIG_HAS_IS_SCREENSHOT) && !flag01(p->is_screenshot)) ||
      ((p->has & SIG_HAS_IS_WATERMARK) && !flag01(p->is_watermark)))
    return SIG_ERR_BAD_LEGACY_FLAG;
  return SIG_OK;
}

void sig_result_init(struct sig_result *r)
{
  buf_init(&r->original, SIG_MAX_ORIGINAL);
  buf_init(&r->signature, SIG_MAX_ENCODED);
  r->random = 0;
  r->expire_time = 0;
}

void sig_result_release(struct sig_result *r)
{
  buf_release(&r->original);
  buf_release(&r->signature);
}

static int put_str(struct buf *b, const char *key, struct sig_str v)
{
  if (!str_set(v))
    return VG_OK;
  return query_append(b, key, v.ptr, v.len);
}

static int put_u64(struct buf *b, const char *key, uint64_t v)
{
  char d[22];
  return query_append(b, key, d, fmt_u64(d, v));
}

static int put_i64(struct buf *b, const char *key, int64_t v)
{
  char d[22];
  return query_append(b, key, d, fmt_i64(d, v));
}

/* 32 bits from the OpenSSL CSPRNG, through the per-thread pool of
 * random_small() (fork-safe: a child never repeats its parent's values,
 * which would break oneTimeValid uniqueness). */
static uint32_t sig_random32(void)
{
  uint32_t v;

  random_small(&v, sizeof(v));
  return v;
}

/* Either key bytes (one-shot HMAC) or a keyed template (hk). */
static enum sig_error emit(const struct sig_params *p, const void *key, size_t key_len,
                           const struct hmac_key *hk, struct sig_result *r)
{
  unsigned char tmp[SIG_MAC_LEN + SIG_MAX_ORIGINAL];
  char enc[SIG_MAX_ENCODED + 1];
  unsigned int mac_len = 0;
  struct buf *o = &r->original;
  enum sig_error e;
  uint64_t random;
  size_t n;
  int rc = VG_OK;

  e = sig_validate(p);
  if (e)
    return e;
  if (!hk && (!key || key_len == 0 || key_len > INT32_MAX))
    return SIG_ERR_NO_KEY;
  if (p->has & SIG_HAS_RANDOM) {
    random = p->random;
  } else {
    random = sig_random32();
  }
  buf_reset(o);
  buf_reset(&r->signature);
  rc |= buf_reserve(o, 512); /* a typical signature's query string in one allocation */
  rc |= put_str(o, "secretId", p->secret_id);
  rc |= put_i64(o, "currentTimeStamp", p->current_time);
  rc |= put_i64(o, "expireTime", p->expire_time);
  rc |= put_u64(o, "random", random);
  if (p->has & SIG_HAS_CLASS_ID)
    rc |= put_u64(o, "classId", p->class_id);
  rc |= put_str(o, "procedure", p->procedure);
  if (p->has & SIG_HAS_TASK_PRIORITY)
    rc |= put_i64(o, "taskPriority", p->task_priority);
  if (p->task_notify_mode != SIG_NOTIFY_UNSET)
    rc |= put_str(o, "taskNotifyMode", sig_str_of(sig_notify_mode_str(p->task_notify_mode)));
  rc |= put_str(o, "sourceContext", p->source_context);
  if (p->has & SIG_HAS_ONE_TIME_VALID)
    rc |= put_i64(o, "oneTimeValid", p->one_time_valid);
  if (p->has & SIG_HAS_SUB_APP_ID)
    rc |= put_u64(o, "vodSubAppId", p->vod_sub_app_id);
  rc |= put_str(o, "sessionContext", p->session_context);
  rc |= put_str(o, "storageRegion", p->storage_region);
  if (p->has & SIG_HAS_IS_TRANSCODE)
    rc |= put_i64(o, "isTranscode", p->is_transcode);
  if (p->has & SIG_HAS_IS_SCREENSHOT)
    rc |= put_i64(o, "isScreenshot", p->is_screenshot);
  if (p->has & SIG_HAS_IS_WATERMARK)
    rc |= put_i64(o, "isWatermark", p->is_watermark);
  if (rc) /* query_append is all-or-nothing, but a later key must not follow a
             dropped one: fail the whole signature */
    return SIG_ERR_TOO_BIG;

  if (hk) {
    size_t ml = 0;
    if (hmac_key_mac(hk, o->ptr, o->len, tmp, SIG_MAC_LEN, &ml) != VG_OK || ml != SIG_MAC_LEN)
      return SIG_ERR_NO_KEY; /* a key made for another digest, or OpenSSL failed */
  } else if (!HMAC(EVP_sha1(), key, (int)key_len, (const unsigned char *)o->ptr, o->len, tmp,
                   &mac_len) ||
             mac_len != SIG_MAC_LEN) {
    return SIG_ERR_NO_KEY; /* only on an OpenSSL failure; not reachable with SHA-1 */
  }
  memcpy(tmp + SIG_MAC_LEN, o->ptr, o->len);
  n = b64_encode(tmp, SIG_MAC_LEN + o->len, enc);
  if (buf_append(&r->signature, enc, n))
    return SIG_ERR_TOO_BIG;
  r->random = random;
  r->expire_time = p->expire_time;
  return SIG_OK;
}

enum sig_error sig_emit(const struct sig_params *p, const void *key, size_t key_len,
                        struct sig_result *r)
{
  return emit(p, key, key_len, NULL, r);
}

enum sig_error sig_emit_keyed(const struct sig_params *p, const struct hmac_key *k,
                              struct sig_result *r)
{
  if (!k)
    return SIG_ERR_NO_KEY;
  return emit(p, NULL, 0, k, r);
}

/* ---- parsing and verification ---- */

static void lint(struct sig_parsed *s, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void lint(struct sig_parsed *s, const char *code, const char *fmt, ...)
{
  va_list ap;
  struct sig_lint *l;

  if (s->n_lints == SIG_MAX_LINTS)
    return;
  l = &s->lints[s->n_lints++];
  l->code = code;
  va_start(ap, fmt);
  vsnprintf(l->msg, sizeof(l->msg), fmt, ap);
  va_end(ap);
}

static void param_fail(struct sig_parsed *s, enum sig_error e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void param_fail(struct sig_parsed *s, enum sig_error e, const char *fmt, ...)
{
  va_list ap;

  if (s->param_error != SIG_OK)
    return;
  s->param_error = e;
  va_start(ap, fmt);
  vsnprintf(s->param_detail, sizeof(s->param_detail), fmt, ap);
  va_end(ap);
}

/* ^[0-9]{1,19}$ into an int64 (leading zeros allowed: they are digits). */
static bool digits_i64(const char *v, size_t n, int64_t *out)
{
  int64_t x = 0;
  if (n == 0 || n > 19)
    return false;
  for (size_t i = 0; i < n; i++) {
    if (v[i] < '0' || v[i] > '9')
      return false;
    x = x * 10 + (v[i] - '0');
  }
  *out = x;
  return true;
}

/* Optional leading '-' then digits. */
static bool signed_i64(const char *v, size_t n, int64_t *out)
{
  if (n > 0 && v[0] == '-') {
    if (!digits_i64(v + 1, n - 1, out))
      return false;
    *out = -*out;
    return true;
  }
  return digits_i64(v, n, out);
}

/* "123.", "123.45", ".5": what a float-formatting client sends. */
static bool looks_float(const char *v, size_t n)
{
  size_t dots = 0, digits = 0;
  for (size_t i = 0; i < n; i++) {
    if (v[i] == '.')
      dots++;
    else if (v[i] >= '0' && v[i] <= '9')
      digits++;
    else if (!((v[i] == 'e' || v[i] == 'E' || v[i] == '+' || v[i] == '-') && i > 0))
      return false;
  }
  return digits > 0 && (dots == 1 || (dots == 0 && digits < n));
}

/* Shorten a value for a message: values are untrusted and unbounded. */
static int clip(size_t n)
{
  return n > 40 ? 40 : (int)n;
}

static void type_time(struct sig_parsed *s, const struct query_pair *pr, int64_t *out, bool *ok)
{
  *ok = false;
  if (!pr) {
    return;
  }
  if (digits_i64(pr->val, pr->val_len, out)) {
    *ok = true;
    return;
  }
  if (looks_float(pr->val, pr->val_len)) {
    lint(s, "float_timestamp", "%s=%.*s is not an integer; VOD answers \"invalid signature\"",
         pr->key, clip(pr->val_len), pr->val);
    param_fail(s, SIG_ERR_FLOAT_TIMESTAMP, "%s=%.*s has a decimal point", pr->key,
               clip(pr->val_len), pr->val);
  } else {
    lint(s, "bad_timestamp", "%s=%.*s is not an integer number of seconds", pr->key,
         clip(pr->val_len), pr->val);
    param_fail(s, SIG_ERR_BAD_TIMESTAMP, "%s=%.*s is not an integer", pr->key, clip(pr->val_len),
               pr->val);
  }
}

enum known_kind { K_STR, K_UINT, K_INT, K_FLAG, K_MODE, K_REQUIRED };

/* Indexes into known_keys, in the same order. */
enum known_id {
  ID_SECRET_ID,
  ID_CURRENT_TIME,
  ID_EXPIRE_TIME,
  ID_RANDOM,
  ID_CLASS_ID,
  ID_PROCEDURE,
  ID_TASK_PRIORITY,
  ID_TASK_NOTIFY_MODE,
  ID_SOURCE_CONTEXT,
  ID_ONE_TIME_VALID,
  ID_SUB_APP_ID,
  ID_SESSION_CONTEXT,
  ID_STORAGE_REGION,
  ID_IS_TRANSCODE,
  ID_IS_SCREENSHOT,
  ID_IS_WATERMARK,
};

#define KEY(s, k)                                                                                  \
  {                                                                                                \
    s, sizeof(s) - 1, k                                                                            \
  }
static const struct {
  const char *name;
  size_t len;
  enum known_kind kind;
} known_keys[] = {
    KEY("secretId", K_REQUIRED),   KEY("currentTimeStamp", K_REQUIRED),
    KEY("expireTime", K_REQUIRED), KEY("random", K_REQUIRED),
    KEY("classId", K_UINT),        KEY("procedure", K_STR),
    KEY("taskPriority", K_INT),    KEY("taskNotifyMode", K_MODE),
    KEY("sourceContext", K_STR),   KEY("oneTimeValid", K_FLAG),
    KEY("vodSubAppId", K_UINT),    KEY("sessionContext", K_STR),
    KEY("storageRegion", K_STR),   KEY("isTranscode", K_FLAG),
    KEY("isScreenshot", K_FLAG),   KEY("isWatermark", K_FLAG),
};
#undef KEY

static int known_index(const struct query_pair *pr)
{
  for (size_t i = 0; i < ARRAY_SIZE(known_keys); i++)
    if (known_keys[i].len == pr->key_len && memcmp(known_keys[i].name, pr->key, pr->key_len) == 0)
      return (int)i;
  return -1;
}

static void type_optional(struct sig_parsed *s, const struct query_pair *pr, int idx)
{
  struct sig_params *p = &s->params;
  const char *name = known_keys[idx].name;
  struct sig_str v = {pr->val, pr->val_len};
  int64_t iv = 0;
  bool ok;

  if (pr->val_len == 0) {
    lint(s, "empty_value", "%s is present with an empty value (ignored)", name);
    return;
  }
  switch (known_keys[idx].kind) {
  case K_UINT:
  case K_FLAG:
    ok = digits_i64(pr->val, pr->val_len, &iv) && (known_keys[idx].kind == K_UINT || flag01(iv));
    break;
  case K_INT: ok = signed_i64(pr->val, pr->val_len, &iv) && iv >= -10 && iv <= 10; break;
  case K_MODE:
  case K_STR:
  case K_REQUIRED:
  default: ok = true; break;
  }
  if (!ok) {
    lint(s, "bad_value", "%s=%.*s: %s", name, clip(pr->val_len), pr->val,
         known_keys[idx].kind == K_FLAG  ? "must be 0 or 1"
         : known_keys[idx].kind == K_INT ? "must be an integer in -10..10"
                                         : "must be a non-negative integer");
    return;
  }
  switch ((enum known_id)idx) {
  case ID_CLASS_ID:
    p->class_id = (uint64_t)iv;
    p->has |= SIG_HAS_CLASS_ID;
    break;
  case ID_PROCEDURE:
    p->procedure = v;
    if (pr->val_len > SIG_MAX_PROCEDURE)
      lint(s, "procedure_too_long", "procedure is %zu bytes, over %d", pr->val_len,
           SIG_MAX_PROCEDURE);
    break;
  case ID_TASK_PRIORITY:
    p->task_priority = iv;
    p->has |= SIG_HAS_TASK_PRIORITY;
    break;
  case ID_TASK_NOTIFY_MODE:
    if (strcmp(pr->val, "Finish") == 0)
      p->task_notify_mode = SIG_NOTIFY_FINISH;
    else if (strcmp(pr->val, "Change") == 0)
      p->task_notify_mode = SIG_NOTIFY_CHANGE;
    else if (strcmp(pr->val, "None") == 0)
      p->task_notify_mode = SIG_NOTIFY_NONE;
    else {
      p->task_notify_mode = SIG_NOTIFY_INVALID;
      lint(s, "bad_value", "taskNotifyMode=%.*s: must be Finish, Change or None", clip(pr->val_len),
           pr->val);
    }
    break;
  case ID_SOURCE_CONTEXT: {
    size_t chars = utf8_count(pr->val, pr->val_len);
    p->source_context = v;
    if (chars > SIG_MAX_SOURCE_CONTEXT)
      lint(s, "source_context_too_long", "sourceContext is %zu characters, over %d", chars,
           SIG_MAX_SOURCE_CONTEXT);
    break;
  }
  case ID_ONE_TIME_VALID:
    p->one_time_valid = iv;
    p->has |= SIG_HAS_ONE_TIME_VALID;
    break;
  case ID_SUB_APP_ID:
    p->vod_sub_app_id = (uint64_t)iv;
    p->has |= SIG_HAS_SUB_APP_ID;
    break;
  case ID_SESSION_CONTEXT: {
    size_t chars = utf8_count(pr->val, pr->val_len);
    p->session_context = v;
    if (chars > SIG_MAX_SESSION_CONTEXT)
      lint(s, "session_context_too_long", "sessionContext is %zu characters, over %d", chars,
           SIG_MAX_SESSION_CONTEXT);
    break;
  }
  case ID_STORAGE_REGION:
    p->storage_region = v;
    if (!region_ok(v))
      lint(s, "bad_value", "storageRegion=%.*s: not a region short name like ap-chongqing",
           clip(pr->val_len), pr->val);
    break;
  case ID_IS_TRANSCODE:
    p->is_transcode = iv;
    p->has |= SIG_HAS_IS_TRANSCODE;
    break;
  case ID_IS_SCREENSHOT:
    p->is_screenshot = iv;
    p->has |= SIG_HAS_IS_SCREENSHOT;
    break;
  case ID_IS_WATERMARK:
    p->is_watermark = iv;
    p->has |= SIG_HAS_IS_WATERMARK;
    break;
  case ID_SECRET_ID:
  case ID_CURRENT_TIME:
  case ID_EXPIRE_TIME:
  case ID_RANDOM: break; /* typed by sig_parse itself */
  }
}

static void set_error(struct sig_parsed *s, enum sig_error e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(struct sig_parsed *s, enum sig_error e, const char *fmt, ...)
{
  va_list ap;
  s->error = e;
  va_start(ap, fmt);
  vsnprintf(s->error_detail, sizeof(s->error_detail), fmt, ap);
  va_end(ap);
}

static void lint_encoding(struct sig_parsed *s)
{
  unsigned bf = s->b64_flags, qf = s->query.flags;

  if (bf & B64_F_URLSAFE)
    lint(s, "base64_urlsafe", "uses the URL-safe Base64 alphabet (-_); VOD expects +/");
  if (bf & B64_F_SPACE_PLUS)
    lint(s, "base64_space",
         "contains spaces, read as '+': the signature was URL-decoded once "
         "too often");
  if (bf & B64_F_LINEBREAK)
    lint(s, "base64_linebreaks", "contains line breaks (old Java BASE64Encoder?)");
  if (bf & B64_F_NOPAD)
    lint(s, "base64_no_padding", "Base64 '=' padding is missing");
  if (bf & B64_F_NONCANON)
    lint(s, "base64_noncanonical", "Base64 has non-zero unused trailing bits");
  if (qf & QUERY_F_LOWER_HEX)
    lint(s, "lowercase_hex", "percent-escapes use lower-case hex");
  if (qf & QUERY_F_RAW_SPECIAL)
    lint(s, "unescaped_char", "a value contains a character that should be percent-encoded");
  if (qf & QUERY_F_NO_EQUALS)
    lint(s, "missing_equals", "a parameter has no '='");
  if (qf & QUERY_F_EMPTY_SEGMENT)
    lint(s, "empty_segment", "the query string has an empty '&&' segment or a stray '&'");
}

enum sig_error sig_parse(struct sig_parsed *s, const char *text, size_t len, int64_t now)
{
  const struct query_pair *sid, *ct, *et, *rnd;
  enum query_error qe;
  bool ct_ok = false, et_ok = false;
  size_t olen;

  s->error = SIG_OK;
  s->error_detail[0] = '\0';
  s->b64_flags = 0;
  s->raw_len = 0;
  s->raw[0] = '\0';
  s->original = (const char *)s->raw + SIG_MAC_LEN;
  s->original_len = 0;
  s->query.n = 0;
  s->query.flags = 0;
  sig_params_init(&s->params);
  s->param_error = SIG_OK;
  s->param_detail[0] = '\0';
  s->n_lints = 0;

  if (len > SIG_MAX_ENCODED) {
    set_error(s, SIG_ERR_TOO_LONG, "signature is %zu characters, over the limit of %d", len,
              SIG_MAX_ENCODED);
    return s->error;
  }
  switch (
      b64_decode(text, len, s->raw, SIG_MAC_LEN + SIG_MAX_ORIGINAL, &s->raw_len, &s->b64_flags)) {
  case 0: break;
  case -2:
    set_error(s, SIG_ERR_TOO_LONG, "decoded original is over %d bytes", SIG_MAX_ORIGINAL);
    return s->error;
  default:
    set_error(s, SIG_ERR_BAD_BASE64,
              "not Base64 (even allowing -_, spaces, line breaks and "
              "missing padding)");
    return s->error;
  }
  if (s->raw_len <= SIG_MAC_LEN) {
    set_error(s, SIG_ERR_TOO_SHORT,
              "decodes to %zu bytes: no room for a 20-byte MAC and an "
              "original",
              s->raw_len);
    s->raw_len = 0;
    return s->error;
  }
  s->raw[s->raw_len] = '\0';
  olen = s->original_len = s->raw_len - SIG_MAC_LEN;

  qe = query_parse(&s->query, s->original, olen, s->store, sizeof(s->store), SIG_MAX_PARAMS);
  switch (qe) {
  case QUERY_OK: break;
  case QUERY_DUP_KEY:
    set_error(s, SIG_ERR_DUPLICATE_PARAM, "parameter '%.*s' appears twice",
              clip(s->query.pairs[s->query.err_pair].key_len),
              s->query.pairs[s->query.err_pair].key);
    break;
  case QUERY_TOO_MANY:
    set_error(s, SIG_ERR_TOO_MANY_PARAMS, "more than %d parameters", SIG_MAX_PARAMS);
    break;
  case QUERY_BAD_UTF8:
    set_error(s, SIG_ERR_BAD_ENCODING, "the parameter at byte %zu decodes to invalid UTF-8",
              s->query.err_off);
    break;
  case QUERY_BAD_ESCAPE:
  case QUERY_EMPTY_KEY:
  case QUERY_TOO_LONG:
  case QUERY_NO_ROOM:
  default:
    set_error(s, SIG_ERR_BAD_QUERY, "%s at byte %zu of the original", query_error_str(qe),
              s->query.err_off);
    break;
  }
  if (s->error)
    return s->error;

  lint_encoding(s);
  sid = ct = et = rnd = NULL;
  for (size_t i = 0; i < s->query.n; i++) {
    const struct query_pair *pr = &s->query.pairs[i];
    int idx = known_index(pr);
    switch (idx) {
    case -1:
      lint(s, "unknown_param", "unknown parameter '%.*s' (VOD ignores unknown keys)",
           clip(pr->key_len), pr->key);
      break;
    case ID_SECRET_ID: sid = pr; break;
    case ID_CURRENT_TIME: ct = pr; break;
    case ID_EXPIRE_TIME: et = pr; break;
    case ID_RANDOM: rnd = pr; break;
    default: type_optional(s, pr, idx); break;
    }
  }

  /* Required parameters, in the order VOD's verifier would need them. */
  if (sid) {
    s->params.secret_id.ptr = sid->val;
    s->params.secret_id.len = sid->val_len;
  }
  if (!sid || sid->val_len == 0)
    param_fail(s, SIG_ERR_MISSING_PARAM, "secretId is missing");
  else if (sid->val_len > SIG_MAX_SECRET_ID)
    param_fail(s, SIG_ERR_BAD_SECRET_ID, "secretId is over %d bytes", SIG_MAX_SECRET_ID);
  if (!ct)
    param_fail(s, SIG_ERR_MISSING_PARAM, "currentTimeStamp is missing");
  if (!et)
    param_fail(s, SIG_ERR_MISSING_PARAM, "expireTime is missing");
  if (!rnd)
    param_fail(s, SIG_ERR_MISSING_PARAM, "random is missing");
  type_time(s, ct, &s->params.current_time, &ct_ok);
  type_time(s, et, &s->params.expire_time, &et_ok);
  if (rnd) {
    int64_t r;
    if (digits_i64(rnd->val, rnd->val_len, &r) && r <= (int64_t)UINT32_MAX) {
      s->params.random = (uint64_t)r;
      s->params.has |= SIG_HAS_RANDOM;
    } else {
      lint(s, "bad_random", "random=%.*s is not an integer in 0..4294967295", clip(rnd->val_len),
           rnd->val);
      param_fail(s, SIG_ERR_BAD_RANDOM, "random=%.*s is not an integer in 0..4294967295",
                 clip(rnd->val_len), rnd->val);
    }
  }
  if (ct_ok && et_ok) {
    int64_t c = s->params.current_time, e = s->params.expire_time;
    if (e <= c)
      lint(s, "expire_not_after_start", "expireTime %lld is not after currentTimeStamp %lld",
           (long long)e, (long long)c);
    else if (e - c > SIG_MAX_VALIDITY)
      lint(s, "validity_too_long", "validity is %lld s, over the 90-day maximum of %ld s",
           (long long)(e - c), SIG_MAX_VALIDITY);
  }
  if (et_ok && s->params.expire_time <= now)
    lint(s, "expired", "expired %lld s ago (expireTime %lld, now %lld)",
         (long long)(now - s->params.expire_time), (long long)s->params.expire_time,
         (long long)now);
  if (ct_ok && s->params.current_time > now + SIG_MAX_CLOCK_SKEW)
    lint(s, "not_yet_valid", "currentTimeStamp is %lld s in the future",
         (long long)(s->params.current_time - now));
  if (!str_set(s->params.procedure) &&
      ((s->params.has & SIG_HAS_TASK_PRIORITY) || s->params.task_notify_mode != SIG_NOTIFY_UNSET))
    lint(s, "unused_param", "taskPriority/taskNotifyMode only apply with a procedure");
  return SIG_OK;
}

enum sig_error sig_verify(const struct sig_parsed *s, const void *key, size_t key_len, int64_t now)
{
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  bool ok;

  if (s->raw_len <= SIG_MAC_LEN) /* decoding failed: nothing to check */
    return s->error ? s->error : SIG_ERR_TOO_SHORT;
  if (!key || key_len == 0 || key_len > INT32_MAX)
    return SIG_ERR_NO_KEY;
  /* Over the bytes as received: never a re-serialisation (spec 1.2). */
  if (!HMAC(EVP_sha1(), key, (int)key_len, s->raw + SIG_MAC_LEN, s->original_len, mac, &mac_len))
    return SIG_ERR_BAD_MAC;
  ok = ct_equal(mac, mac_len, s->raw, SIG_MAC_LEN);
  secure_zero(mac, sizeof(mac));
  if (!ok)
    return SIG_ERR_BAD_MAC;
  return sig_check(s, now);
}

enum sig_error sig_check(const struct sig_parsed *s, int64_t now)
{
  int64_t c, e;

  if (s->error)
    return s->error;
  if (s->param_error)
    return s->param_error;
  c = s->params.current_time;
  e = s->params.expire_time;
  if (e <= c)
    return SIG_ERR_EXPIRE_NOT_AFTER_START;
  if (e - c > SIG_MAX_VALIDITY)
    return SIG_ERR_VALIDITY_TOO_LONG;
  if (e <= now)
    return SIG_ERR_EXPIRED;
  if (c > now + SIG_MAX_CLOCK_SKEW)
    return SIG_ERR_NOT_YET_VALID;
  return SIG_OK;
}
