/*
 * sig.h: the Tencent Cloud VOD upload signature ("client upload signature",
 * spec tencent-vod.md section 1): build, validate, emit, parse and verify.
 *
 *   signature = Base64( HMAC-SHA1(SecretKey, original) || original )
 *
 * where original is a URL query string of the parameters below. This module
 * is pure: no I/O, no clock (callers pass `now`), and no shared mutable
 * state (only a per-thread pool of CSPRNG bytes for `random`). It is safe to
 * use from many threads on distinct objects.
 *
 * Issuing (the hot path of a signature server):
 *     struct sig_params p;  sig_params_init(&p);  p.secret_id = ...;
 *     struct sig_result r;  sig_result_init(&r);
 *     if (sig_emit(&p, key, key_len, &r) == SIG_OK) use r.signature.ptr;
 *     sig_result_release(&r);      (or keep r and call sig_emit again)
 *
 * Verifying (an emulator that looks the key up by secretId):
 *     struct sig_parsed *s = malloc(sizeof *s);   (about 24 KiB; no pointers
 *                                                  out of it, no release)
 *     sig_parse(s, text, len, now);                decode + parse + lints
 *     key = lookup(s->params.secret_id);           exposed before the MAC
 *     err = sig_verify(s, key, key_len, now);      MAC, then time checks
 *
 * Character counts: sourceContext (250) and sessionContext (1000) are limited
 * in *characters*, counted as Unicode code points of the decoded, valid UTF-8
 * value. The VOD documents (S1/S2) state both limits in characters (字符),
 * and the official SCF demo truncates sourceContext to 250 Python str
 * characters, i.e. code points. Only the retired 2.0 callback document says
 * "256 bytes"; counting bytes would reject legitimate CJK contexts of 84+
 * characters that VOD accepts. Validity of UTF-8 is required first so that
 * the count is well defined.
 */
#ifndef VG_SIG_H
#define VG_SIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/limits.h"
#include "core/query.h"

#define SIG_MAC_LEN 20 /* HMAC-SHA1 */

/* Every failure has a code; sig_error_reason() gives its stable short
 * reason string ("validity_too_long") for APIs and logs, sig_error_str() a
 * human sentence. Never renumber: values may be stored. */
enum sig_error {
  SIG_OK = 0,
  /* Parameter rules (spec 1.1), from sig_validate() and sig_verify(). */
  SIG_ERR_MISSING_PARAM,            /* missing_param */
  SIG_ERR_BAD_SECRET_ID,            /* bad_secret_id: empty, too long, not UTF-8 */
  SIG_ERR_FLOAT_TIMESTAMP,          /* float_timestamp: "1551113065.5" */
  SIG_ERR_BAD_TIMESTAMP,            /* bad_timestamp: not a non-negative integer */
  SIG_ERR_EXPIRE_NOT_AFTER_START,   /* expire_not_after_start */
  SIG_ERR_VALIDITY_TOO_LONG,        /* validity_too_long: > SIG_MAX_VALIDITY */
  SIG_ERR_BAD_RANDOM,               /* bad_random: not an integer 0..4294967295 */
  SIG_ERR_BAD_CLASS_ID,             /* bad_class_id */
  SIG_ERR_BAD_PROCEDURE,            /* bad_procedure: too long or not UTF-8 */
  SIG_ERR_BAD_TASK_PRIORITY,        /* bad_task_priority: not -10..10 */
  SIG_ERR_BAD_TASK_NOTIFY_MODE,     /* bad_task_notify_mode: not Finish/Change/None */
  SIG_ERR_SOURCE_CONTEXT_TOO_LONG,  /* source_context_too_long: > 250 chars */
  SIG_ERR_SESSION_CONTEXT_TOO_LONG, /* session_context_too_long: > 1000 chars */
  SIG_ERR_BAD_UTF8,                 /* bad_utf8: a context is not valid UTF-8 */
  SIG_ERR_BAD_ONE_TIME_VALID,       /* bad_one_time_valid: not 0/1 */
  SIG_ERR_BAD_SUB_APP_ID,           /* bad_sub_app_id */
  SIG_ERR_BAD_STORAGE_REGION,       /* bad_storage_region: not [a-z0-9-]{1,64} */
  SIG_ERR_BAD_LEGACY_FLAG,          /* bad_legacy_flag: isTranscode.. not 0/1 */
  /* Decoding and parsing (sig_parse()). */
  SIG_ERR_TOO_LONG,        /* too_long: over SIG_MAX_ENCODED/ORIGINAL */
  SIG_ERR_BAD_BASE64,      /* bad_base64 */
  SIG_ERR_TOO_SHORT,       /* too_short: not more than 20 bytes */
  SIG_ERR_BAD_QUERY,       /* bad_query: malformed escape, empty key */
  SIG_ERR_DUPLICATE_PARAM, /* duplicate_param */
  SIG_ERR_TOO_MANY_PARAMS, /* too_many_params: > SIG_MAX_PARAMS */
  SIG_ERR_BAD_ENCODING,    /* bad_encoding: decoded bytes not UTF-8 */
  /* Verification (sig_verify()). */
  SIG_ERR_BAD_MAC,       /* bad_mac: wrong key or altered bytes */
  SIG_ERR_EXPIRED,       /* expired: expireTime <= now */
  SIG_ERR_NOT_YET_VALID, /* not_yet_valid: currentTimeStamp > now + skew */
  SIG_ERR_NO_KEY,        /* no_key: empty key given */
  SIG_ERR_TOO_BIG,       /* too_big: emitted original over the limit */
  SIG_ERR__COUNT
};

const char *sig_error_reason(enum sig_error e); /* "validity_too_long" */
const char *sig_error_str(enum sig_error e);    /* human sentence */

enum sig_notify_mode {
  SIG_NOTIFY_UNSET = 0,
  SIG_NOTIFY_FINISH,
  SIG_NOTIFY_CHANGE,
  SIG_NOTIFY_NONE,
  SIG_NOTIFY_INVALID, /* only after sig_parse() of an unknown word */
};

/* "is set" bits for the optional integer parameters. */
enum {
  SIG_HAS_RANDOM = 1 << 0, /* required on the wire; sig_emit() draws one if unset */
  SIG_HAS_CLASS_ID = 1 << 1,
  SIG_HAS_TASK_PRIORITY = 1 << 2,
  SIG_HAS_ONE_TIME_VALID = 1 << 3,
  SIG_HAS_SUB_APP_ID = 1 << 4,
  SIG_HAS_IS_TRANSCODE = 1 << 5,
  SIG_HAS_IS_SCREENSHOT = 1 << 6,
  SIG_HAS_IS_WATERMARK = 1 << 7,
};

/* A byte string that need not be NUL-terminated; ptr == NULL means "not
 * set". An empty set string is treated as not set (never emitted). */
struct sig_str {
  const char *ptr;
  size_t len;
};

/* The typed parameter set. Strings are borrowed: the caller keeps them alive
 * while the struct is used. Integers are wide so that out-of-range input is
 * representable and rejected by sig_validate() rather than truncated. */
struct sig_params {
  struct sig_str secret_id; /* required */
  int64_t current_time;     /* required: currentTimeStamp, Unix seconds */
  int64_t expire_time;      /* required: expireTime, Unix seconds */
  uint64_t random;          /* required (see SIG_HAS_RANDOM), 0..4294967295 */
  unsigned has;             /* SIG_HAS_* */
  uint64_t class_id;        /* classId >= 0 */
  struct sig_str procedure; /* task-flow template name */
  int64_t task_priority;    /* -10..10 */
  enum sig_notify_mode task_notify_mode;
  struct sig_str source_context;                     /* <= 250 characters */
  int64_t one_time_valid;                            /* 0 or 1 */
  uint64_t vod_sub_app_id;                           /* sub-application id */
  struct sig_str session_context;                    /* <= 1000 characters */
  struct sig_str storage_region;                     /* "ap-chongqing" */
  int64_t is_transcode, is_screenshot, is_watermark; /* legacy 0/1 */
};

/* All unset, times 0. */
void sig_params_init(struct sig_params *p);
/* {s, strlen(s)}, or {NULL, 0} for NULL. */
struct sig_str sig_str_of(const char *s);

/* Check p against every rule of spec 1.1 (not against a clock: see
 * sig_verify for expiry). Returns SIG_OK or the first broken rule, in the
 * order of the parameter table. A missing random is allowed here (sig_emit
 * draws one). */
enum sig_error sig_validate(const struct sig_params *p);

/* Output of sig_emit(). Both buffers are owned by the struct; reusing one
 * struct across calls keeps their allocations (no malloc per signature). */
struct sig_result {
  struct buf original;  /* the query string, NUL-terminated */
  struct buf signature; /* standard Base64 with padding, NUL-terminated */
  uint64_t random;      /* the random used (drawn when p had none) */
  int64_t expire_time;
};
void sig_result_init(struct sig_result *r);
void sig_result_release(struct sig_result *r);

/* Validate p, then build original in the fixed key order
 *   secretId, currentTimeStamp, expireTime, random,
 *   classId, procedure, taskPriority, taskNotifyMode, sourceContext,
 *   oneTimeValid, vodSubAppId, sessionContext, storageRegion,
 *   isTranscode, isScreenshot, isWatermark
 * (required first, then spec 1.1's table order; unset or empty optionals are
 * omitted), values RFC 3986 percent-encoded, and the signature with
 * HMAC-SHA1 over original keyed with [key, key+key_len). When random is not
 * set, 32 bits come from the OpenSSL CSPRNG. Returns SIG_OK, a validation
 * error, SIG_ERR_NO_KEY (key_len 0) or SIG_ERR_TOO_BIG; r's previous
 * contents are replaced. The key is not copied or kept. Uses about 20 KiB of
 * stack (the largest original and its encoding) and no allocation once r's
 * buffers have grown. */
/* sig_emit with the key already set up for HMAC-SHA1 (core/hmac.h): the
 * server's path, which skips OpenSSL's per-call key setup. The same bytes
 * as sig_emit with that key. k NULL is SIG_ERR_NO_KEY. */
struct hmac_key;
enum sig_error sig_emit_keyed(const struct sig_params *p, const struct hmac_key *k,
                              struct sig_result *r);
enum sig_error sig_emit(const struct sig_params *p, const void *key, size_t key_len,
                        struct sig_result *r);

/* Lints: irregularities that do not stop parsing. code is a stable short
 * string (e.g. "float_timestamp", "unknown_param", "lowercase_hex"). */
struct sig_lint {
  const char *code;
  char msg[160];
};

/* A decoded, parsed signature. Self-contained (all pointers point inside
 * it), no allocation, so nothing to release; about 24 KiB, so heap- or
 * static-allocate it on small stacks. */
struct sig_parsed {
  enum sig_error error; /* SIG_OK if decoded and parsed; else why not */
  char error_detail[160];
  unsigned b64_flags; /* B64_F_* leniencies used */
  size_t raw_len;     /* MAC + original */
  unsigned char raw[SIG_MAX_ORIGINAL + SIG_MAC_LEN + 4];
  const char *original; /* raw + 20, NUL-terminated copy of the bytes */
  size_t original_len;
  struct query query;       /* every pair, in received order */
  struct sig_params params; /* typed values of the well-formed known keys */
  /* First parameter-level failure found while typing (missing_param,
   * float_timestamp, bad_timestamp, bad_random), checked by sig_verify()
   * after the MAC; SIG_OK if none. */
  enum sig_error param_error;
  char param_detail[160];
  struct sig_lint lints[SIG_MAX_LINTS];
  size_t n_lints;
  char store[QUERY_STORE_SIZE(SIG_MAX_ORIGINAL)];
};

/* Decode sig ([text, text+len), leniently: see core/b64.h), split the MAC,
 * parse the query and type the known parameters, collecting lints (float
 * timestamps, validity over 90 days, expired at `now`, over-long contexts,
 * out-of-range optional values, unknown keys, encoding irregularities).
 * Returns s->error: SIG_OK when the text decoded and parsed (required
 * parameters may still be missing: see param_error), else one of
 * too_long, bad_base64, too_short, bad_query, duplicate_param,
 * too_many_params, bad_encoding. params.secret_id is set whenever present,
 * so the caller can look up the key before sig_verify(). */
enum sig_error sig_parse(struct sig_parsed *s, const char *text, size_t len, int64_t now);

/* Verify a parsed signature: recompute HMAC-SHA1 with the key over the raw
 * received original bytes and compare in constant time; then the required
 * parameters (missing, float or non-integer timestamps, random 0..2^32-1),
 * expireTime after currentTimeStamp, validity <= 90 days, expireTime > now,
 * currentTimeStamp <= now + SIG_MAX_CLOCK_SKEW. Decoding errors come first,
 * then bad_mac, then parse errors, then the rest, so a forged or mangled
 * original reports bad_mac. Returns SIG_OK or the reason. */
enum sig_error sig_verify(const struct sig_parsed *s, const void *key, size_t key_len, int64_t now);

/* Every check of sig_verify() except the MAC, for a caller without the key
 * (`vodgate inspect` with no key): decoding and parse errors, then the
 * required parameters, then the time rules at `now`. */
enum sig_error sig_check(const struct sig_parsed *s, int64_t now);

/* Canonical names: "secretId" ... and the notify-mode words. */
const char *sig_notify_mode_str(enum sig_notify_mode m);

#endif
