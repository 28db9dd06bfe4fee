/*
 * issue.c: POST (and GET) /v1/upload-signatures, the signature distribution
 * service. The handler reads as the flow it implements:
 *
 *   authenticate -> pick the policy -> read what the client asks for ->
 *   rate limit -> open (or continue) the upload session, spending quota,
 *   in one transaction -> sign -> answer.
 *
 * Upload sessions: the official web SDK calls getSignature three or more
 * times per upload. The first call opens a session (one unit of the daily
 * quota) and returns its uploadId; a call that passes uploadId gets a fresh
 * signature for the same session, counted against signatures_per_upload,
 * with the same attribution token in sourceContext (and sessionContext
 * when a procedure runs), so the event receiver can tie the file to the
 * user whatever signature the SDK finally used.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attr/attr.h"
#include "auth/apitoken.h"
#include "auth/jwt.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "http/metrics.h"
#include "policy/ratelimit.h"
#include "sig/sig.h"
#include "store/store.h"
#include "svc/app.h"
#include "svc/auth_user.h"
#include "svc/issue.h"
#include "svc/issuing.h"
#include "svc/state.h"

/* A session outlives its signatures: the SDK resumes an interrupted upload
 * with the same vodSessionKey for up to a day (spec 3.6). */
#define ISSUE_SESSION_TTL 86400

/* What a request may choose, as received (validated against the policy). */
struct ask {
  json_t *body; /* the request's JSON object, or NULL */
  const char *upload_id;
};

/* A session's resolved parameters: the policy's, overridden by what the
 * client chose and the policy allows. Stored with the session (as JSON,
 * params_json()) so that every signature of the session says the same.
 * Strings are borrowed (policy, request body, stored JSON) except token.
 * NULL / has_* false: not set. */
struct params {
  const char *procedure, *storage_region, *task_notify_mode;
  const char *app_source_ctx, *app_session_ctx; /* the app's own context */
  bool has_class_id, has_sub_app_id, has_task_priority, one_time;
  int64_t class_id, sub_app_id, task_priority;
  char token[ATTR_MAX_TOKEN + 1]; /* the attribution token; "" until minted */
};

/* One issuing in flight: everything the transaction callback needs. */
struct issue {
  struct svc_identity who_copy;
  const struct svc_identity *who;
  struct svc_state *st;     /* one reference, held until the answer is sent */
  const struct policy *pol; /* inside st */
  struct http_res *later;   /* the deferred response (http_defer) */
  char request_id[HTTP_REQUEST_ID_MAX + 1];
  int64_t now;
  bool reuse;
  char upload_id[STORE_MAX_ID + 1];
  struct params params; /* resolved, stored with the session */
  char *params_s;       /* their JSON text (malloc'd) */
  struct sig_result sig;
  /* outputs of the transaction */
  int fail_code, fail_status;
  const char *fail_msg;
};

static int64_t now_s(void)
{
  return (int64_t)time(NULL);
}

/* A new upload id: 48 bits of the time in milliseconds, then 80 random
 * bits (the layout of a UUIDv7). Ids made later sort later, so the
 * session and audit indexes grow at their right edge and a group commit
 * rewrites a few pages instead of one random page per signature; 80
 * random bits keep ids of one millisecond apart and unguessable (a
 * session is its owner's only anyway: anyone else gets 404). */
static void upload_id_new(unsigned char raw[16])
{
  struct timespec ts;
  uint64_t ms;

  clock_gettime(CLOCK_REALTIME, &ts);
  ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
  for (int i = 0; i < 6; i++)
    raw[i] = (unsigned char)(ms >> (40 - 8 * i));
  random_small(raw + 6, 10);
}

/* The request fields, their JSON types and the policy bit that allows them. */
static const struct {
  const char *name;
  json_type type; /* JSON_STRING or JSON_INTEGER */
  unsigned field;
} client_fields[] = {
    {"procedure", JSON_STRING, POLICY_F_PROCEDURE},
    {"classId", JSON_INTEGER, POLICY_F_CLASS_ID},
    {"storageRegion", JSON_STRING, POLICY_F_STORAGE_REGION},
    {"sourceContext", JSON_STRING, POLICY_F_SOURCE_CONTEXT},
    {"sessionContext", JSON_STRING, POLICY_F_SESSION_CONTEXT},
    {"taskPriority", JSON_INTEGER, POLICY_F_TASK_PRIORITY},
    {"taskNotifyMode", JSON_STRING, POLICY_F_TASK_NOTIFY_MODE},
};

/* Other query arguments are ignored (cache-busters such as "?_=1"), but
 * one that reads as uploadId spelt otherwise ("uploadid", "upload_id")
 * would open a new session and spend quota where the client meant to go on
 * with its upload: 400. */
static bool uploadid_misspelt(struct http_req *req, struct http_res *res)
{
  struct http_kv kv[16];
  size_t n = http_req_query_list(req, kv, ARRAY_SIZE(kv));
  char msg[128];

  for (size_t i = 0; i < n && i < ARRAY_SIZE(kv); i++) {
    const char *k = kv[i].key, *want = "uploadid";
    size_t j = 0;
    if (strcmp(k, "uploadId") == 0)
      continue;
    for (; *k && want[j]; k++) {
      if (*k == '_' || *k == '-')
        continue;
      if ((*k | 0x20) != want[j])
        break;
      j++;
    }
    if (*k == '\0' && want[j] == '\0') {
      snprintf(msg, sizeof(msg), "unknown query argument '%.32s': the session's id is uploadId",
               kv[i].key);
      http_error(res, 400, VG_CODE_BAD_REQUEST, msg);
      return true;
    }
  }
  return false;
}

/* Read and check the request against the policy: unknown fields and wrong
 * types are 400, fields the policy does not let the client set are 403. */
static int read_ask(struct http_req *req, struct http_res *res, const struct policy *pol,
                    struct ask *ask)
{
  const char *key;
  json_t *val;
  char msg[160];

  memset(ask, 0, sizeof(*ask));
  if (http_req_json(req, &ask->body, res))
    return -1;
  if (ask->body && !json_is_object(ask->body)) {
    http_error(res, 400, VG_CODE_BAD_REQUEST, "the body must be a JSON object");
    return -1;
  }
  ask->upload_id = http_req_query(req, "uploadId");
  if (uploadid_misspelt(req, res))
    return -1;
  json_object_foreach(ask->body, key, val)
  {
    bool known = false;
    if (strcmp(key, "uploadId") == 0) {
      if (!json_is_string(val)) {
        http_error(res, 400, VG_CODE_BAD_REQUEST, "uploadId must be a string");
        return -1;
      }
      if (ask->upload_id && strcmp(ask->upload_id, json_string_value(val)) != 0) {
        http_error(res, 400, VG_CODE_BAD_REQUEST, "uploadId differs between query and body");
        return -1;
      }
      ask->upload_id = json_string_value(val);
      continue;
    }
    for (size_t i = 0; i < ARRAY_SIZE(client_fields); i++) {
      if (strcmp(key, client_fields[i].name) != 0)
        continue;
      known = true;
      if (json_typeof(val) != client_fields[i].type) {
        snprintf(msg, sizeof(msg), "%s must be %s", key,
                 client_fields[i].type == JSON_STRING ? "a string" : "an integer");
        http_error(res, 400, VG_CODE_BAD_REQUEST, msg);
        return -1;
      }
      if (!(pol->client_may_set & client_fields[i].field)) {
        snprintf(msg, sizeof(msg), "policy '%s' does not let the client set %s", pol->name, key);
        http_error(res, 403, VG_CODE_POLICY_VIOLATION, msg);
        return -1;
      }
    }
    if (!known) {
      snprintf(msg, sizeof(msg), "unknown field '%.64s'", key);
      http_error(res, 400, VG_CODE_BAD_REQUEST, msg);
      return -1;
    }
  }
  if (ask->upload_id && !attr_upload_id_valid(ask->upload_id)) {
    http_error(res, 400, VG_CODE_BAD_REQUEST, "uploadId is malformed");
    return -1;
  }
  return 0;
}

/* The session's parameters from the policy and the client's choices
 * (already checked against client_may_set by read_ask). */
static void resolve_params(const struct policy *pol, const struct ask *ask, struct params *p)
{
  json_t *b = ask->body;

  memset(p, 0, sizeof(*p));
  p->procedure = pol->procedure;
  p->has_class_id = pol->class_id != 0;
  p->class_id = (int64_t)pol->class_id;
  p->storage_region = pol->storage_region;
  p->has_sub_app_id = pol->sub_app_id != 0;
  p->sub_app_id = (int64_t)pol->sub_app_id;
  p->has_task_priority = true;
  p->task_priority = pol->task_priority;
  if (pol->task_notify_mode != SIG_NOTIFY_UNSET)
    p->task_notify_mode = sig_notify_mode_str(pol->task_notify_mode);
  p->one_time = pol->one_time;
  if (!b || json_object_size(b) == 0)
    return;
  /* Client choices; "" clears a string default. */
  for (size_t i = 0; i < ARRAY_SIZE(client_fields); i++) {
    json_t *v = json_object_get(b, client_fields[i].name);
    const char *str = json_string_value(v);
    const char *set = str && *str ? str : NULL;
    if (!v)
      continue;
    switch (client_fields[i].field) {
    case POLICY_F_PROCEDURE: p->procedure = set; break;
    case POLICY_F_CLASS_ID:
      p->has_class_id = true;
      p->class_id = (int64_t)json_integer_value(v);
      break;
    case POLICY_F_STORAGE_REGION: p->storage_region = set; break;
    case POLICY_F_SOURCE_CONTEXT: p->app_source_ctx = str; break;
    case POLICY_F_SESSION_CONTEXT: p->app_session_ctx = str; break;
    case POLICY_F_TASK_PRIORITY:
      p->has_task_priority = true;
      p->task_priority = (int64_t)json_integer_value(v);
      break;
    case POLICY_F_TASK_NOTIFY_MODE: p->task_notify_mode = set; break;
    default: break;
    }
  }
}

/* JSON string: escaped as jansson does (", \\, controls as \b.. or \u00XX;
 * UTF-8 kept). */
static int json_str_append(struct buf *b, const char *s)
{
  static const char hex[] = "0123456789ABCDEF";
  int rc = buf_appendc(b, '"');

  while (rc == VG_OK && *s) {
    size_t run = 0;
    unsigned char c;
    char e[6] = {'\\', 0, 0, 0, 0, 0};
    size_t n = 2;
    while (s[run] && (unsigned char)s[run] >= 0x20 && s[run] != '"' && s[run] != '\\')
      run++;
    if (run) {
      rc = buf_append(b, s, run);
      s += run;
      continue;
    }
    c = (unsigned char)*s++;
    switch (c) {
    case '"':
    case '\\': e[1] = (char)c; break;
    case '\b': e[1] = 'b'; break;
    case '\f': e[1] = 'f'; break;
    case '\n': e[1] = 'n'; break;
    case '\r': e[1] = 'r'; break;
    case '\t': e[1] = 't'; break;
    default: e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hex[c >> 4], e[5] = hex[c & 15]; n = 6;
    }
    rc = buf_append(b, e, n);
  }
  return rc ? rc : buf_appendc(b, '"');
}

/* The stored form: compact JSON, keys sorted (what json_dumps(JSON_COMPACT |
 * JSON_SORT_KEYS) made of the same object before). Returns malloc'd text,
 * or NULL when it would pass STORE_MAX_BODY. */
static char *params_json(const struct params *p)
{
  struct buf b;
  char num[32];
  bool first = true;
  int rc = VG_OK;

  buf_init(&b, STORE_MAX_BODY);
  rc = buf_reserve(&b, 512); /* typical parameters with a token, in one allocation */
#define KEY(k)                                                                                     \
  do {                                                                                             \
    if (rc == VG_OK)                                                                               \
      rc = buf_appends(&b, first ? "{\"" k "\":" : ",\"" k "\":");                                 \
    first = false;                                                                                 \
  } while (0)
#define STR(k, v)                                                                                  \
  do {                                                                                             \
    if (v) {                                                                                       \
      KEY(k);                                                                                      \
      if (rc == VG_OK)                                                                             \
        rc = json_str_append(&b, v);                                                               \
    }                                                                                              \
  } while (0)
#define INT(k, has, v)                                                                             \
  do {                                                                                             \
    if (has) {                                                                                     \
      KEY(k);                                                                                      \
      if (rc == VG_OK)                                                                             \
        rc = buf_append(&b, num, fmt_i64(num, (v)));                                               \
    }                                                                                              \
  } while (0)
  STR("appSessionContext", p->app_session_ctx);
  STR("appSourceContext", p->app_source_ctx);
  INT("classId", p->has_class_id, p->class_id);
  INT("oneTimeValid", p->one_time, 1);
  STR("procedure", p->procedure);
  STR("storageRegion", p->storage_region);
  STR("taskNotifyMode", p->task_notify_mode);
  INT("taskPriority", p->has_task_priority, p->task_priority);
  STR("token", p->token[0] ? p->token : NULL);
  INT("vodSubAppId", p->has_sub_app_id, p->sub_app_id);
#undef KEY
#undef STR
#undef INT
  if (rc == VG_OK)
    rc = buf_appends(&b, first ? "{}" : "}");
  if (rc != VG_OK) {
    buf_release(&b);
    return NULL;
  }
  return buf_detach(&b, NULL);
}

/* A stored session's parameters back from their JSON (root stays the
 * owner of the strings). Members of another type than written are
 * ignored, as json_string_value/json_integer_value did. */
static void params_from_json(json_t *root, struct params *p)
{
  json_t *v;

  memset(p, 0, sizeof(*p));
  p->procedure = json_string_value(json_object_get(root, "procedure"));
  p->storage_region = json_string_value(json_object_get(root, "storageRegion"));
  p->task_notify_mode = json_string_value(json_object_get(root, "taskNotifyMode"));
  p->app_source_ctx = json_string_value(json_object_get(root, "appSourceContext"));
  p->app_session_ctx = json_string_value(json_object_get(root, "appSessionContext"));
  if ((v = json_object_get(root, "classId")))
    p->has_class_id = true, p->class_id = (int64_t)json_integer_value(v);
  if ((v = json_object_get(root, "vodSubAppId")))
    p->has_sub_app_id = true, p->sub_app_id = (int64_t)json_integer_value(v);
  if ((v = json_object_get(root, "taskPriority")))
    p->has_task_priority = true, p->task_priority = (int64_t)json_integer_value(v);
  p->one_time = json_object_get(root, "oneTimeValid") != NULL;
  {
    const char *token = json_string_value(json_object_get(root, "token"));
    str_copy(p->token, sizeof(p->token), token ? token : "");
  }
}

static bool same_str(const char *a, const char *b)
{
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Does the client's choice of field differ between two parameter sets? */
static bool field_differs(unsigned field, const struct params *a, const struct params *b)
{
  switch (field) {
  case POLICY_F_PROCEDURE: return !same_str(a->procedure, b->procedure);
  case POLICY_F_CLASS_ID: return a->has_class_id != b->has_class_id || a->class_id != b->class_id;
  case POLICY_F_STORAGE_REGION: return !same_str(a->storage_region, b->storage_region);
  case POLICY_F_SOURCE_CONTEXT: return !same_str(a->app_source_ctx, b->app_source_ctx);
  case POLICY_F_SESSION_CONTEXT: return !same_str(a->app_session_ctx, b->app_session_ctx);
  case POLICY_F_TASK_PRIORITY:
    return a->has_task_priority != b->has_task_priority || a->task_priority != b->task_priority;
  case POLICY_F_TASK_NOTIFY_MODE: return !same_str(a->task_notify_mode, b->task_notify_mode);
  default: return true;
  }
}

/* Would pol open a session with these parameters now? Each must be the
 * policy's own value, except the fields the client may set under pol. A
 * session's signatures are signed with its stored parameters, so without
 * this check a session opened under a laxer policy (or before a reload
 * that tightened it) went on getting signatures the policy now refuses,
 * for the session's 24 hours (a demoted user skipping a review procedure). */
static bool params_allowed(const struct policy *pol, const struct params *p)
{
  struct ask none = {0};
  struct params own;

  resolve_params(pol, &none, &own);
  for (size_t i = 0; i < ARRAY_SIZE(client_fields); i++)
    if (!(pol->client_may_set & client_fields[i].field) &&
        field_differs(client_fields[i].field, &own, p))
      return false;
  return own.has_sub_app_id == p->has_sub_app_id && own.sub_app_id == p->sub_app_id &&
         own.one_time == p->one_time;
}

/* Turn resolved params + token into signature parameters and sign. The
 * strings borrowed by sp live in params and session_ctx. */
static enum sig_error sign_params(const struct svc_state *st, const struct policy *pol,
                                  const struct params *p, int64_t now, struct buf *session_ctx,
                                  struct sig_result *out, char *detail, size_t dlen)
{
  struct sig_params sp;
  const char *mode = p->task_notify_mode;

  sig_params_init(&sp);
  sp.secret_id = sig_str_of(st->secret_id);
  sp.current_time = now;
  sp.expire_time = now + pol->validity;
  sp.procedure = sig_str_of(p->procedure);
  sp.storage_region = sig_str_of(p->storage_region);
  if (p->has_class_id) {
    if (p->class_id < 0)
      return SIG_ERR_BAD_CLASS_ID;
    sp.class_id = (uint64_t)p->class_id;
    sp.has |= SIG_HAS_CLASS_ID;
  }
  if (p->has_sub_app_id) {
    sp.vod_sub_app_id = (uint64_t)p->sub_app_id;
    sp.has |= SIG_HAS_SUB_APP_ID;
  }
  if (p->one_time) {
    sp.one_time_valid = 1;
    sp.has |= SIG_HAS_ONE_TIME_VALID;
  }
  sp.source_context = sig_str_of(p->token[0] ? p->token : NULL);
  if (sp.procedure.ptr) {
    /* taskPriority, taskNotifyMode and sessionContext only mean something
     * with a procedure (spec 1.1); without one they are not sent. */
    const char *app_ctx = p->app_session_ctx;
    sp.task_priority = p->has_task_priority ? p->task_priority : 0;
    sp.has |= SIG_HAS_TASK_PRIORITY;
    if (mode)
      sp.task_notify_mode = strcmp(mode, "Finish") == 0   ? SIG_NOTIFY_FINISH
                            : strcmp(mode, "Change") == 0 ? SIG_NOTIFY_CHANGE
                            : strcmp(mode, "None") == 0   ? SIG_NOTIFY_NONE
                                                          : SIG_NOTIFY_INVALID;
    if (buf_appends(session_ctx, p->token) ||
        (app_ctx && *app_ctx &&
         (buf_appendc(session_ctx, '|') || buf_appends(session_ctx, app_ctx)))) {
      snprintf(detail, dlen, "sessionContext is too long");
      return SIG_ERR_SESSION_CONTEXT_TOO_LONG;
    }
    sp.session_context = (struct sig_str){session_ctx->ptr, session_ctx->len};
  }
  if (sp.task_notify_mode == SIG_NOTIFY_INVALID) {
    snprintf(detail, dlen, "taskNotifyMode must be Finish, Change or None");
    return SIG_ERR_BAD_TASK_NOTIFY_MODE;
  }
  return sig_emit_keyed(&sp, st->vod_mac, out);
}

/* The transaction: quota + new session with its first signature, or the
 * next signature of an existing one and its audit row. Runs on the store's
 * writer. */
static int issue_tx(struct store_tx *tx, void *arg)
{
  struct issue *is = arg;
  struct store_audit a = {.upload_id = is->upload_id,
                          .user_id = is->who->user,
                          .request_id = is->request_id,
                          .expire_time = is->sig.expire_time,
                          .random = (uint32_t)is->sig.random,
                          .created_at = is->now,
                          .n = 1};
  int rc;

  if (is->reuse) {
    struct store_session s;
    rc = store_tx_session_get(tx, is->upload_id, &s);
    if (rc == VG_NOTFOUND || (rc == VG_OK && strcmp(s.user_id, is->who->user) != 0)) {
      if (rc == VG_OK)
        store_session_release(&s);
      is->fail_status = 404, is->fail_code = VG_CODE_NOT_FOUND;
      is->fail_msg = "no such upload session";
      return VG_NOTFOUND;
    }
    if (rc)
      return rc;
    if (s.expires_at <= is->now) {
      store_session_release(&s);
      is->fail_status = 404, is->fail_code = VG_CODE_NOT_FOUND;
      is->fail_msg = "upload session expired; start a new upload";
      return VG_NOTFOUND;
    }
    store_session_release(&s);
    /* the audit row's ordinal: the session's count after this signature */
    rc = store_tx_session_add_signature(tx, is->upload_id, is->pol->signatures_per_upload, &a.n);
    if (rc == VG_CONFLICT) {
      is->fail_status = 429, is->fail_code = VG_CODE_RATE_LIMITED;
      is->fail_msg = "signature limit of this upload session reached";
      return rc;
    }
    if (rc)
      return rc;
    return store_tx_audit_append(tx, &a);
  } else {
    struct store_session s;
    rc = store_tx_quota_consume(tx, is->who->user, store_utc_day(is->now), is->pol->uploads_per_day,
                                NULL);
    if (rc == VG_CONFLICT) {
      is->fail_status = 429, is->fail_code = VG_CODE_QUOTA_EXCEEDED;
      is->fail_msg = "daily upload quota used up";
      return rc;
    }
    if (rc)
      return rc;
    memset(&s, 0, sizeof(s));
    snprintf(s.upload_id, sizeof(s.upload_id), "%s", is->upload_id);
    snprintf(s.user_id, sizeof(s.user_id), "%s", is->who->user);
    snprintf(s.policy, sizeof(s.policy), "%s", is->pol->name);
    s.created_at = is->now;
    s.expires_at = is->now + ISSUE_SESSION_TTL;
    s.params_json = (char *)is->params_s;
    s.signatures_issued = 1; /* this request's signature, recorded with it */
    s.first = &a;
    return store_tx_session_create(tx, &s);
  }
}

/* The answer, once the outcome of the records is settled: rc as store_run
 * returns it, is->fail_* set by the checks that refused. */
static void issue_answer(struct issue *is, struct http_res *res, int rc)
{
  if (rc != VG_OK) {
    if (is->fail_status) {
      if (is->fail_status == 429)
        metrics_inc("vodgate_quota_rejections_total", "reason",
                    is->fail_code == VG_CODE_QUOTA_EXCEEDED ? "uploads_per_day"
                                                            : "signatures_per_upload");
      http_error(res, is->fail_status, is->fail_code, is->fail_msg);
    } else if (rc == VG_AGAIN) {
      http_error(res, 503, VG_CODE_UNAVAILABLE, "shutting down");
    } else {
      log_error("issue: store error %s (request %s)", vg_strerror(rc), is->request_id);
      http_error(res, 500, VG_CODE_INTERNAL, "internal error");
    }
  } else {
    /* Formatted directly: the signature is Base64 and the upload id hex
     * (attr_upload_id_valid), so nothing needs escaping, and building a
     * jansson object to dump it cost as much as the HMAC. */
    static const char p1[] = "{\"code\":0,\"message\":\"ok\",\"data\":{\"signature\":\"";
    static const char p2[] = "\",\"uploadId\":\"";
    static const char p3[] = "\",\"expireTime\":";
    char body[SIG_MAX_ENCODED + STORE_MAX_ID + 128];
    size_t sl = is->sig.signature.len, ul = strnlen(is->upload_id, sizeof(is->upload_id)), n = 0;
    metrics_inc("vodgate_signatures_issued_total", "policy", is->pol->name);
    if (sizeof(p1) + sl + sizeof(p2) + ul + sizeof(p3) + 21 + 2 > sizeof(body)) {
      http_error(res, 500, VG_CODE_INTERNAL, "internal error");
    } else {
      memcpy(body + n, p1, sizeof(p1) - 1), n += sizeof(p1) - 1;
      memcpy(body + n, is->sig.signature.ptr, sl), n += sl;
      memcpy(body + n, p2, sizeof(p2) - 1), n += sizeof(p2) - 1;
      memcpy(body + n, is->upload_id, ul), n += ul;
      memcpy(body + n, p3, sizeof(p3) - 1), n += sizeof(p3) - 1;
      n += fmt_i64(body + n, is->sig.expire_time);
      body[n++] = '}';
      body[n++] = '}';
      http_res_body(res, 200, "application/json", body, n);
    }
  }
}

/* The deferred answer, once the transaction's outcome is durable (the
 * PostgreSQL path, or [server] signature_records = durable). Runs on a
 * store thread: short, never blocks. */
static void issue_done(int rc, void *arg)
{
  struct issue *is = arg;

  issue_answer(is, is->later, rc);
  http_resume(is->later); /* the response must not be touched after this */
  free(is->params_s);
  sig_result_release(&is->sig);
  svc_state_unref(is->st);
  free(is);
}

/* The records of a signature through the in-memory state (svc/issuing.h):
 * checked and counted at once, committed in the store's next group commit
 * without the answer waiting for it. Same outcomes as issue_tx. */
static int issue_now(struct issuing *iss, struct issue *is, const char *request_id)
{
  struct store_audit a = {is->upload_id,
                          is->who->user,
                          request_id,
                          is->sig.expire_time,
                          (uint32_t)is->sig.random,
                          is->now,
                          0 /* n: the session's count, set by issuing */};
  int rc;

  if (is->reuse) {
    rc = issuing_next(iss, is->upload_id, is->who->user, is->now, is->pol->signatures_per_upload,
                      &a);
    if (rc == VG_NOTFOUND)
      is->fail_status = 404, is->fail_code = VG_CODE_NOT_FOUND,
      is->fail_msg = "no such upload session";
    else if (rc == VG_CONFLICT)
      is->fail_status = 429, is->fail_code = VG_CODE_RATE_LIMITED,
      is->fail_msg = "signature limit of this upload session reached";
  } else {
    struct store_session s = {.first = NULL}; /* issuing records a as the first */
    str_copy(s.upload_id, sizeof(s.upload_id), is->upload_id);
    str_copy(s.user_id, sizeof(s.user_id), is->who->user);
    str_copy(s.policy, sizeof(s.policy), is->pol->name);
    s.created_at = is->now;
    s.expires_at = is->now + ISSUE_SESSION_TTL;
    s.params_json = is->params_s;
    s.signatures_issued = 1; /* this request's signature */
    rc = issuing_open(iss, &s, store_utc_day(is->now), is->pol->uploads_per_day, &a);
    if (rc == VG_CONFLICT)
      is->fail_status = 429, is->fail_code = VG_CODE_QUOTA_EXCEEDED,
      is->fail_msg = "daily upload quota used up";
  }
  if (rc == VG_AGAIN)
    is->fail_status = 503, is->fail_code = VG_CODE_UNAVAILABLE,
    is->fail_msg = "the store is behind; retry shortly";
  return rc;
}

void svc_issue_signature(struct http_req *req, struct http_res *res, void *user)
{
  struct app *app = user;
  struct svc *svc = svc_of(app);
  struct svc_state *st = svc_state_get(app);
  struct svc_identity who;
  const struct policy *pol;
  struct ask ask = {0};
  json_t *stored = NULL; /* a reused session's parameters; is.params borrows from it */
  struct issue is;
  struct buf session_ctx;
  char detail[160] = "";
  int64_t retry_ms;
  enum sig_error se;
  int rc;

  memset(&is, 0, sizeof(is));
  sig_result_init(&is.sig);
  buf_init(&session_ctx, SIG_MAX_SESSION_CONTEXT * 4);

  if (!st->secret_id) {
    http_error(res, 503, VG_CODE_UNAVAILABLE,
               "signing is not configured: set [vod] secret_id and its secret key");
    goto out;
  }
  if (svc_authenticate(app, st, req, res, &who))
    goto out;
  pol = policies_find(&st->policies, who.policy);
  if (!pol) {
    char msg[128 + STORE_MAX_POLICY];
    snprintf(msg, sizeof(msg), "no policy '%s' is configured for this user", who.policy);
    http_error(res, 403, VG_CODE_FORBIDDEN, msg);
    goto out;
  }
  if (read_ask(req, res, pol, &ask))
    goto out;
  if (!ratelimit_allow(svc->rl, who.user, (uint64_t)pol->signatures_per_minute,
                       (int64_t)time(NULL) * 1000, &retry_ms)) {
    char ra[24];
    snprintf(ra, sizeof(ra), "%lld", (long long)(retry_ms + 999) / 1000);
    metrics_inc("vodgate_quota_rejections_total", "reason", "signatures_per_minute");
    http_error(res, 429, VG_CODE_RATE_LIMITED, "too many signatures per minute");
    (void)http_res_header(res, "Retry-After", ra);
    goto out;
  }

  is.who = &who;
  is.pol = pol;
  is.now = now_s();
  if (ask.upload_id) {
    struct store_session s;
    struct params fresh;
    bool differs = false;
    /* A read first: the session's own parameters sign its next signature. */
    rc = svc->issuing ? issuing_session_get(svc->issuing, ask.upload_id, &s)
                      : store_session_get(app->store, ask.upload_id, &s);
    if (rc == VG_OK && strcmp(s.user_id, who.user) != 0) {
      store_session_release(&s);
      rc = VG_NOTFOUND; /* someone else's session does not exist for you */
    }
    if (rc == VG_NOTFOUND) {
      http_error(res, 404, VG_CODE_NOT_FOUND, "no such upload session");
      goto out;
    }
    if (rc) {
      http_error(res, 503, VG_CODE_UNAVAILABLE, "store unavailable");
      goto out;
    }
    if (s.expires_at <= is.now) {
      store_session_release(&s);
      http_error(res, 404, VG_CODE_NOT_FOUND, "upload session expired; start a new upload");
      goto out;
    }
    /* Its post-upload caps are its policy's (svc/intake.c): a session
     * continues under the policy it was opened with, or not at all. */
    if (strcmp(s.policy, pol->name) != 0) {
      store_session_release(&s);
      http_error(res, 403, VG_CODE_POLICY_VIOLATION,
                 "this upload session was opened under another policy; start a new upload");
      goto out;
    }
    is.reuse = true;
    snprintf(is.upload_id, sizeof(is.upload_id), "%s", ask.upload_id);
    stored = json_loads(s.params_json ? s.params_json : "{}", 0, NULL);
    store_session_release(&s);
    if (!json_is_object(stored)) {
      http_error(res, 500, VG_CODE_INTERNAL, "stored session is unreadable");
      goto out;
    }
    params_from_json(stored, &is.params);
    if (!params_allowed(pol, &is.params)) {
      char msg[128 + STORE_MAX_POLICY];
      snprintf(msg, sizeof(msg),
               "policy '%s' no longer allows this upload session's parameters; start a new "
               "upload",
               pol->name);
      http_error(res, 403, VG_CODE_POLICY_VIOLATION, msg);
      goto out;
    }
    /* A client that repeats its choices is fine; one that changes them is
     * asking for another upload. */
    resolve_params(pol, &ask, &fresh);
    for (size_t i = 0; i < ARRAY_SIZE(client_fields); i++)
      if (json_object_get(ask.body, client_fields[i].name) &&
          field_differs(client_fields[i].field, &fresh, &is.params))
        differs = true;
    if (differs) {
      http_error(res, 400, VG_CODE_BAD_REQUEST,
                 "this upload session was opened with other parameters; start a new upload");
      goto out;
    }
  } else {
    unsigned char raw[16];
    upload_id_new(raw);
    hex_encode(raw, sizeof(raw), is.upload_id);
    resolve_params(pol, &ask, &is.params);
    rc = attr_mint(&st->attr, is.upload_id, is.params.app_source_ctx, is.params.token,
                   sizeof(is.params.token));
    if (rc == VG_TOOBIG || rc == VG_INVALID) {
      snprintf(detail, sizeof(detail), "sourceContext: at most %zu bytes of valid UTF-8 fit",
               attr_app_ctx_room(&st->attr, strlen(is.upload_id)));
      http_error(res, 400, VG_CODE_BAD_REQUEST, detail);
      goto out;
    }
    if (rc) {
      http_error(res, 500, VG_CODE_INTERNAL, "cannot mint the attribution token");
      goto out;
    }
  }

  se = sign_params(st, pol, &is.params, is.now, &session_ctx, &is.sig, detail, sizeof(detail));
  if (se != SIG_OK) {
    char msg[256];
    snprintf(msg, sizeof(msg), "cannot sign: %s%s%s", sig_error_str(se), *detail ? ": " : "",
             detail);
    http_error(res, 400, VG_CODE_BAD_REQUEST, msg);
    goto out;
  }
  /* SQLite: counted in memory and answered now; the records follow in the
   * store's next group commit (svc/issuing.h says what a crash can lose). */
  is.params_s = params_json(&is.params); /* signed and checked above: bounded */
  if (!is.params_s) {
    http_error(res, 500, VG_CODE_INTERNAL, "internal error");
    goto out;
  }
  if (svc->issuing) {
    is.who = &who;
    rc = issue_now(svc->issuing, &is, req->request_id);
    issue_answer(&is, res, rc);
    goto out;
  }
  /* Otherwise durable before answered, without holding a worker thread:
   * the connection is parked and the write joins the store's next group
   * commit (issue_done answers). */
  {
    struct issue *heap = xmalloc(sizeof(*heap));
    *heap = is;
    heap->who_copy = who;
    heap->who = &heap->who_copy;
    heap->st = st;
    snprintf(heap->request_id, sizeof(heap->request_id), "%s", req->request_id);
    /* The parameters go on as their text (params_s, moved): the strings
     * params borrows (request body, stored session) die with this handler. */
    memset(&heap->params, 0, sizeof(heap->params));
    heap->later = http_defer(req);
    memset(&is, 0, sizeof(is)); /* moved into heap */
    sig_result_init(&is.sig);
    st = NULL;
    if (store_submit(app->store, issue_tx, heap, issue_done, heap) != VG_OK)
      issue_done(VG_AGAIN, heap);
  }
out:
  free(is.params_s);
  json_decref(ask.body);
  json_decref(stored);
  sig_result_release(&is.sig);
  buf_release(&session_ctx);
  if (st)
    svc_state_unref(st);
}
