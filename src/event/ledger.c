/*
 * ledger.c: the upload ledger's merge rule (see ledger.h for the design).
 */
#include "event/ledger.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"

static const char *const state_names[] = {
    [LEDGER_ISSUED] = "issued", [LEDGER_UPLOADED] = "uploaded", [LEDGER_PROCESSING] = "processing",
    [LEDGER_PASSED] = "passed", [LEDGER_REVIEW] = "review",     [LEDGER_BLOCKED] = "blocked",
    [LEDGER_FAILED] = "failed", [LEDGER_REJECTED] = "rejected",
};

const char *ledger_state_str(enum ledger_state s)
{
  return (size_t)s < ARRAY_SIZE(state_names) ? state_names[s] : "unknown";
}

bool ledger_state_parse(const char *s, enum ledger_state *out)
{
  for (size_t i = 0; s && i < ARRAY_SIZE(state_names); i++)
    if (strcmp(s, state_names[i]) == 0) {
      *out = (enum ledger_state)i;
      return true;
    }
  return false;
}

bool ledger_state_terminal(enum ledger_state s)
{
  return s >= LEDGER_PASSED;
}

/* The verdicts a FINISH can give, in event.h's severity order. */
static int verdict_rank(const char *v)
{
  static const char *const order[] = {"passed", "review", "failed", "blocked"};
  for (size_t i = 0; v && i < ARRAY_SIZE(order); i++)
    if (strcmp(v, order[i]) == 0)
      return (int)i + 1;
  return 0;
}

static bool set_flag(json_t *detail, const char *key)
{
  if (json_is_true(json_object_get(detail, key)))
    return false;
  json_object_set_new(detail, key, json_true());
  return true;
}

/* sub[key] = value when value is known; returns true on a change. */
static bool put_str(json_t *sub, const char *key, const char *value)
{
  const char *old = json_string_value(json_object_get(sub, key));
  if (!value || !*value || (old && strcmp(old, value) == 0))
    return false;
  json_object_set_new(sub, key, json_string(value));
  return true;
}

static bool put_num(json_t *sub, const char *key, json_t *value)
{
  json_t *old = json_object_get(sub, key);
  if (old && json_equal(old, value)) {
    json_decref(value);
    return false;
  }
  json_object_set_new(sub, key, value);
  return true;
}

static bool merge_media(json_t *detail, const char *which, const struct vod_event *ev)
{
  json_t *sub = json_object_get(detail, which);
  bool changed = false;

  if (!json_is_object(sub)) {
    sub = json_object();
    json_object_set_new(detail, which, sub);
  }
  changed |= put_str(sub, "mediaUrl", ev->media_url);
  changed |= put_str(sub, "coverUrl", ev->cover_url);
  changed |= put_str(sub, "name", ev->name);
  changed |= put_str(sub, "type", ev->media_type);
  if (ev->meta.present) {
    changed |= put_str(sub, "container", ev->meta.container);
    if (ev->meta.size >= 0)
      changed |= put_num(sub, "size", json_integer((json_int_t)ev->meta.size));
    if (ev->meta.duration >= 0 && isfinite(ev->meta.duration))
      changed |= put_num(sub, "duration", json_real(ev->meta.duration));
  }
  return changed;
}

/* Is (v, conf) worse than what detail holds? Ties on verdict go to the
 * higher confidence, then to the smaller (type, label) so that the
 * outcome does not depend on the order. */
static bool worse_review(const json_t *detail, const char *v, const struct event_review *r)
{
  const json_t *old = json_object_get(detail, "review");
  int a = verdict_rank(v), b = verdict_rank(json_string_value(json_object_get(detail, "verdict")));
  double oc;
  int c;

  if (a != b)
    return a > b;
  oc = json_is_number(json_object_get(old, "confidence"))
           ? json_number_value(json_object_get(old, "confidence"))
           : -1;
  if (r->confidence != oc)
    return r->confidence > oc;
  c = strcmp(r->type ? r->type : "", json_string_value(json_object_get(old, "type"))
                                         ? json_string_value(json_object_get(old, "type"))
                                         : "");
  if (c != 0)
    return c < 0;
  c = strcmp(r->label ? r->label : "", json_string_value(json_object_get(old, "label"))
                                           ? json_string_value(json_object_get(old, "label"))
                                           : "");
  return c < 0;
}

static bool merge_verdict(json_t *detail, const struct vod_event *ev)
{
  const struct event_review *r = &ev->review;
  const char *v;
  json_t *rev;

  switch (r->verdict) {
  case EVENT_VERDICT_PASSED:
  case EVENT_VERDICT_REVIEW:
  case EVENT_VERDICT_FAILED:
  case EVENT_VERDICT_BLOCKED: break;
  default: return set_flag(detail, "processing");
  }
  v = event_verdict_str(r->verdict);
  if (json_object_get(detail, "verdict") && !worse_review(detail, v, r))
    return false;
  json_object_set_new(detail, "verdict", json_string(v));
  rev = json_object();
  json_object_set_new(rev, "type", json_string(r->type ? r->type : ""));
  json_object_set_new(rev, "suggestion", json_string(r->suggestion ? r->suggestion : ""));
  json_object_set_new(rev, "label", json_string(r->label ? r->label : ""));
  json_object_set_new(rev, "confidence",
                      r->confidence >= 0 && isfinite(r->confidence) ? json_real(r->confidence)
                                                                    : json_null());
  json_object_set_new(detail, "review", rev);
  return true;
}

bool ledger_merge_event(json_t *detail, const struct vod_event *ev)
{
  bool changed = false;

  switch (ev->type) {
  case EVENT_TYPE_NEW_FILE_UPLOAD:
    changed |= set_flag(detail, "uploaded");
    changed |= merge_media(detail, "upload", ev);
    return changed;
  case EVENT_TYPE_PROCEDURE_STATE_CHANGED:
    changed |= merge_media(detail, "procedure", ev);
    if (ev->status == EVENT_STATUS_FINISH)
      changed |= merge_verdict(detail, ev);
    else
      changed |= set_flag(detail, "processing");
    return changed;
  default: return false;
  }
}

bool ledger_merge_attribution(json_t *detail, const char *status)
{
  const char *old = json_string_value(json_object_get(detail, "attribution"));
  if (!status || (old && (strcmp(old, "ok") == 0 || strcmp(old, status) == 0)))
    return false;
  json_object_set_new(detail, "attribution", json_string(status));
  return true;
}

/* The effective media value: NewFileUpload's, else the procedure's. */
static json_t *media(const json_t *detail, const char *key)
{
  json_t *v = json_object_get(json_object_get(detail, "upload"), key);
  return v ? v : json_object_get(json_object_get(detail, "procedure"), key);
}

static bool in_list(const char *name, size_t len, const char *const *list)
{
  for (size_t i = 0; list[i]; i++)
    if (strlen(list[i]) == len && strncasecmp(list[i], name, len) == 0)
      return true;
  return false;
}

bool ledger_apply_caps(json_t *detail, int64_t max_size, int64_t max_duration,
                       const char *const *containers)
{
  char reason[192] = "";
  json_t *v;

  if (json_object_get(detail, "rejected"))
    return false;
  v = media(detail, "size");
  if (max_size > 0 && json_is_integer(v) && json_integer_value(v) > max_size)
    snprintf(reason, sizeof(reason), "size %" PRId64 " exceeds max_size %" PRId64,
             (int64_t)json_integer_value(v), max_size);
  v = media(detail, "duration");
  if (!*reason && max_duration > 0 && json_is_number(v) &&
      json_number_value(v) > (double)max_duration)
    snprintf(reason, sizeof(reason), "duration %.3f exceeds max_duration %" PRId64,
             json_number_value(v), max_duration);
  if (!*reason && containers && containers[0]) {
    const char *type = json_string_value(media(detail, "type"));
    const char *cont = json_string_value(media(detail, "container"));
    if (type && *type) {
      if (!in_list(type, strlen(type), containers))
        snprintf(reason, sizeof(reason), "container %.64s is not accepted", type);
    } else if (cont && *cont) {
      bool ok = false;
      for (const char *p = cont; *p && !ok;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        ok = n > 0 && in_list(p, n, containers);
        p += n + (e ? 1 : 0);
      }
      if (!ok)
        snprintf(reason, sizeof(reason), "container %.64s is not accepted", cont);
    }
  }
  if (!*reason)
    return false;
  json_object_set_new(detail, "rejected", json_string(reason));
  return true;
}

enum ledger_state ledger_state_of(const json_t *detail)
{
  enum ledger_state s;

  if (json_object_get(detail, "rejected"))
    return LEDGER_REJECTED;
  if (ledger_state_parse(json_string_value(json_object_get(detail, "verdict")), &s))
    return s;
  if (json_is_true(json_object_get(detail, "processing")))
    return LEDGER_PROCESSING;
  return LEDGER_UPLOADED;
}

static json_t *str_or_null(const char *s)
{
  return s && *s ? json_string(s) : json_null();
}

json_t *ledger_upload_json(const char *upload_id, const char *user, const char *state,
                           const char *file_id, const json_t *detail, int64_t updated_at)
{
  json_t *o = json_object();
  json_t *rev = json_object_get(detail, "review");
  const char *rejected = json_string_value(json_object_get(detail, "rejected"));
  const char *verdict = json_string_value(json_object_get(detail, "verdict"));
  json_t *reason = json_null();

  json_object_set_new(o, "uploadId", str_or_null(upload_id));
  json_object_set_new(o, "user", str_or_null(user));
  json_object_set_new(o, "state", json_string(state));
  json_object_set_new(o, "fileId", str_or_null(file_id));
  json_object_set_new(o, "mediaUrl", str_or_null(json_string_value(media(detail, "mediaUrl"))));
  json_object_set_new(o, "coverUrl", str_or_null(json_string_value(media(detail, "coverUrl"))));
  if (json_is_object(rev)) {
    json_t *c = json_object_get(rev, "confidence");
    json_object_set_new(
        o, "review",
        json_pack("{s:o,s:o,s:O}", "suggestion",
                  str_or_null(json_string_value(json_object_get(rev, "suggestion"))), "label",
                  str_or_null(json_string_value(json_object_get(rev, "label"))), "confidence",
                  json_is_number(c) ? c : json_null()));
  } else {
    json_object_set_new(o, "review", json_null());
  }
  if (rejected)
    reason = json_string(rejected);
  else if (verdict && strcmp(verdict, "failed") == 0) {
    const char *t = json_string_value(json_object_get(rev, "type"));
    char msg[160];
    snprintf(msg, sizeof(msg), "content review did not complete%s%.64s", t && *t ? ": " : "",
             t ? t : "");
    reason = json_string(msg);
  }
  json_object_set_new(o, "reason", reason);
  json_object_set_new(o, "updatedAt", json_integer((json_int_t)updated_at));
  return o;
}
