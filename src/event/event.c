/* event.c: VOD event parsing and normalisation. Rules in event.h. */
#include "event/event.h"

#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/jscan.h"
#include "core/util.h"

/* Parse state: the first error wins and is kept with its reason. */
struct pctx {
  char *reason;
  size_t cap;
  int rc;
  const struct jscan *js; /* the fast path's tokens (NULL for jansson) */
  bool delegate;          /* the fast path hands this body to jansson */
  struct vod_event *ev;   /* the fast path's event (its string block) */
};

static int fail(struct pctx *c, int rc, const char *what, const char *path)
{
  if (c->rc == VG_OK) {
    c->rc = rc;
    if (c->reason && c->cap)
      snprintf(c->reason, c->cap, "%s%s%s", what, path ? ":" : "", path ? path : "");
  }
  return c->rc;
}

/* Replace *dst with a copy of [s, s+n). */
static int set_strn(struct pctx *c, char **dst, const char *s, size_t n)
{
  char *p = malloc(n + 1);

  if (!p)
    return fail(c, VG_NOMEM, "no_memory", NULL);
  memcpy(p, s, n);
  p[n] = '\0';
  free(*dst);
  *dst = p;
  return VG_OK;
}

static int set_str(struct pctx *c, char **dst, const char *s)
{
  return set_strn(c, dst, s, strlen(s));
}

/* obj[key], with JSON null treated as absent. */
static json_t *member(json_t *obj, const char *key)
{
  json_t *v = json_is_object(obj) ? json_object_get(obj, key) : NULL;
  return json_is_null(v) ? NULL : v;
}

/* A string member into *dst; absent keeps *dst. */
static int get_str(struct pctx *c, json_t *obj, const char *key, const char *path, bool required,
                   char **dst)
{
  json_t *v = member(obj, key);

  if (c->rc)
    return c->rc;
  if (!v)
    return required ? fail(c, VG_INVALID, "missing_field", path) : VG_OK;
  if (!json_is_string(v))
    return fail(c, VG_INVALID, "bad_type", path);
  return set_strn(c, dst, json_string_value(v), json_string_length(v));
}

/* An object member (NULL when absent). */
static json_t *get_obj(struct pctx *c, json_t *obj, const char *key, const char *path,
                       bool required)
{
  json_t *v = member(obj, key);

  if (c->rc)
    return NULL;
  if (!v) {
    if (required)
      fail(c, VG_INVALID, "missing_field", path);
    return NULL;
  }
  if (!json_is_object(v)) {
    fail(c, VG_INVALID, "bad_type", path);
    return NULL;
  }
  return v;
}

/* A number member: JSON integer or real, or a decimal string (legacy
 * payloads are loosely typed). Finite and >= 0. Absent keeps *out. */
static int get_num(struct pctx *c, json_t *obj, const char *key, const char *path, double *out)
{
  json_t *v = member(obj, key);
  double d;

  if (c->rc || !v)
    return c->rc;
  if (json_is_number(v)) {
    d = json_number_value(v);
  } else if (json_is_string(v)) {
    const char *s = json_string_value(v);
    char *end;
    if (!s[0] || json_string_length(v) > 32 || strspn(s, "0123456789.") != strlen(s))
      return fail(c, VG_INVALID, "bad_type", path);
    d = strtod(s, &end);
    if (*end)
      return fail(c, VG_INVALID, "bad_type", path);
  } else {
    return fail(c, VG_INVALID, "bad_type", path);
  }
  if (!isfinite(d) || d < 0)
    return fail(c, VG_INVALID, "bad_value", path);
  *out = d;
  return VG_OK;
}

/* An integer-valued number member (see get_num), at most 2^53. */
static int get_i64(struct pctx *c, json_t *obj, const char *key, const char *path, int64_t *out)
{
  double d = -1;

  if (get_num(c, obj, key, path, &d) || d < 0)
    return c->rc;
  if (d > 9007199254740992.0)
    return fail(c, VG_INVALID, "bad_value", path);
  *out = (int64_t)d;
  return VG_OK;
}

/* Ids that go into the idempotency key: printable ASCII, no '/' or ' '. */
static int check_id(struct pctx *c, const char *s, const char *path)
{
  size_t n = strlen(s);

  if (c->rc)
    return c->rc;
  if (n == 0 || n > EVENT_MAX_ID)
    return fail(c, VG_INVALID, "bad_value", path);
  for (size_t i = 0; i < n; i++)
    if (s[i] <= ' ' || s[i] > '~' || s[i] == '/')
      return fail(c, VG_INVALID, "bad_value", path);
  return VG_OK;
}

/* Nesting depth of a JSON text, counted before jansson builds anything
 * (jansson's own limit is 2048 and not configurable at run time). */
static bool depth_ok(const char *s, size_t n, int max)
{
  int d = 0;
  bool in_str = false;

  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (in_str) {
      if (ch == '\\')
        i++;
      else if (ch == '"')
        in_str = false;
    } else if (ch == '"') {
      in_str = true;
    } else if (ch == '{' || ch == '[') {
      if (++d > max)
        return false;
    } else if (ch == '}' || ch == ']') {
      d--;
    }
  }
  return true;
}

static json_t *load(struct pctx *c, const char *body, size_t len, size_t max)
{
  json_error_t jerr;
  json_t *root;

  if (len > max) {
    fail(c, VG_TOOBIG, "too_big", NULL);
    return NULL;
  }
  if (!body || !depth_ok(body, len, JSON_MAX_DEPTH)) {
    fail(c, VG_INVALID, body ? "too_deep" : "not_json", NULL);
    return NULL;
  }
  /* jansson drops a NUL byte that directly follows a number or a literal
   * ("1\0" loads as 1); JSON never holds one outside a string, and never
   * raw inside one, so any NUL refuses the text (as core/jscan.h does). */
  if (memchr(body, '\0', len)) {
    fail(c, VG_INVALID, "not_json", NULL);
    return NULL;
  }
  root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
  if (!root) {
    fail(c, VG_INVALID, "not_json", NULL);
    return NULL;
  }
  if (!json_is_object(root)) {
    json_decref(root);
    fail(c, VG_INVALID, "not_object", NULL);
    return NULL;
  }
  return root;
}

void event_init(struct vod_event *ev)
{
  memset(ev, 0, sizeof(*ev));
  ev->meta.size = ev->meta.width = ev->meta.height = -1;
  ev->meta.duration = -1;
  ev->review.type = ev->review.label = ev->review.suggestion = "";
  ev->review.confidence = -1;
}

/* Is p inside ev's string block? (Compared as integers: p may point into
 * another object.) */
static bool in_strings(const struct vod_event *ev, const char *p)
{
  uintptr_t a = (uintptr_t)ev->strings, x = (uintptr_t)p;
  return ev->strings && x >= a && x < a + ev->strings_cap;
}

/* Frees a string of ev unless it lives in ev's string block. */
static void free_str(const struct vod_event *ev, char *p)
{
  if (!in_strings(ev, p))
    free(p);
}

static void task_release(const struct vod_event *ev, struct event_review_task *t)
{
  free_str(ev, t->type);
  free_str(ev, t->suggestion);
  free_str(ev, t->label);
}

void event_release(struct vod_event *ev)
{
  char **s[] = {
      &ev->type_str,        &ev->file_id,      &ev->task_id,   &ev->status_str, &ev->source_context,
      &ev->session_context, &ev->media_url,    &ev->cover_url, &ev->name,       &ev->media_type,
      &ev->meta.container,  &ev->event_handle, &ev->sign};

  for (size_t i = 0; i < ARRAY_SIZE(s); i++)
    free_str(ev, *s[i]);
  for (size_t i = 0; i < ev->n_tasks; i++)
    task_release(ev, &ev->tasks[i]);
  free(ev->tasks);
  free(ev->strings);
  free(ev->stored_body);
  event_init(ev);
}

/* Every string field starts as "" so that none is NULL after a parse. */
static int init_strings(struct pctx *c, struct vod_event *ev)
{
  char **s[] = {
      &ev->type_str,        &ev->file_id,      &ev->task_id,   &ev->status_str, &ev->source_context,
      &ev->session_context, &ev->media_url,    &ev->cover_url, &ev->name,       &ev->media_type,
      &ev->meta.container,  &ev->event_handle, &ev->sign};

  for (size_t i = 0; i < ARRAY_SIZE(s); i++)
    if (set_str(c, s[i], ""))
      return c->rc;
  return VG_OK;
}

/* Field names of the two formats. */
struct names {
  const char *size, *duration, *duration2, *width, *height, *container;
  const char *meta_path;
};
static const struct names v3_names = {"Size",   "Duration",  NULL,      "Width",
                                      "Height", "Container", "MetaData"};
static const struct names legacy_names = {"size",   "duration",  "floatDuration", "width",
                                          "height", "container", "data.metaData"};

static int parse_meta(struct pctx *c, json_t *m, const struct names *nm, struct event_meta *out)
{
  char path[64];

  if (!m)
    return c->rc;
  out->present = true;
#define P(f) (snprintf(path, sizeof(path), "%s.%s", nm->meta_path, f), path)
  get_i64(c, m, nm->size, P(nm->size), &out->size);
  get_num(c, m, nm->duration, P(nm->duration), &out->duration);
  if (nm->duration2 && out->duration < 0)
    get_num(c, m, nm->duration2, P(nm->duration2), &out->duration);
  get_i64(c, m, nm->width, P(nm->width), &out->width);
  get_i64(c, m, nm->height, P(nm->height), &out->height);
  get_str(c, m, nm->container, P(nm->container), false, &out->container);
#undef P
  return c->rc;
}

static enum event_task_state task_state(const char *s)
{
  if (strcmp(s, "SUCCESS") == 0)
    return EVENT_TASK_SUCCESS;
  if (strcmp(s, "FAIL") == 0)
    return EVENT_TASK_FAIL;
  if (strcmp(s, "PROCESSING") == 0)
    return EVENT_TASK_PROCESSING;
  return EVENT_TASK_UNKNOWN;
}

/* The task object of a v3 review item: "<Type without dots>Task" (Porn.Asr
 * -> PornAsrTask), else the first non-null object member named *Task. */
static json_t *find_task(json_t *item, const char *type)
{
  char name[80];
  size_t o = 0;
  const char *k;
  json_t *v;

  for (const char *p = type; *p && o + 5 < sizeof(name); p++)
    if (*p != '.')
      name[o++] = *p;
  memcpy(name + o, "Task", 5);
  v = member(item, name);
  if (json_is_object(v))
    return v;
  json_object_foreach(item, k, v)
  {
    size_t kl = strlen(k);
    if (kl > 4 && strcmp(k + kl - 4, "Task") == 0 && json_is_object(v))
      return v;
  }
  return NULL;
}

/* Review subtasks. v3: AiContentReviewResultSet[{Type, XTask{Status,
 * Output{Suggestion,Label,Confidence}}}]; legacy: contentReviewList[
 * {taskType, status, output{suggestion,label,confidence}}]. */
static int parse_reviews(struct pctx *c, json_t *arr, bool legacy, const char *path,
                         struct vod_event *ev)
{
  size_t i, n;
  json_t *item;
  char p[96];

  if (c->rc || !arr)
    return c->rc;
  if (!json_is_array(arr))
    return fail(c, VG_INVALID, "bad_type", path);
  n = json_array_size(arr);
  if (n > EVENT_MAX_REVIEW_TASKS)
    return fail(c, VG_INVALID, "too_big", path);
  if (n == 0)
    return VG_OK;
  ev->tasks = calloc(n, sizeof(*ev->tasks));
  if (!ev->tasks)
    return fail(c, VG_NOMEM, "no_memory", NULL);
  json_array_foreach(arr, i, item)
  {
    struct event_review_task *t;
    json_t *task, *out;
    char *status = NULL;
    double conf = -1;

    if (json_is_null(item))
      continue;
    snprintf(p, sizeof(p), "%s[%zu]", path, i);
    if (!json_is_object(item))
      return fail(c, VG_INVALID, "bad_type", p);
    t = &ev->tasks[ev->n_tasks++];
    if (set_str(c, &t->type, "") || set_str(c, &t->suggestion, "") || set_str(c, &t->label, ""))
      return c->rc;
    snprintf(p, sizeof(p), "%s[%zu].%s", path, i, legacy ? "taskType" : "Type");
    if (get_str(c, item, legacy ? "taskType" : "Type", p, false, &t->type))
      return c->rc;
    task = legacy ? item : find_task(item, t->type);
    t->state = EVENT_TASK_UNKNOWN;
    t->confidence = -1;
    if (!task)
      continue; /* no result at all: counted as failed */
    snprintf(p, sizeof(p), "%s[%zu].%s", path, i, legacy ? "status" : "Status");
    if (get_str(c, task, legacy ? "status" : "Status", p, false, &status))
      return c->rc;
    t->state = status ? task_state(status) : EVENT_TASK_UNKNOWN;
    free(status);
    snprintf(p, sizeof(p), "%s[%zu].%s", path, i, legacy ? "output" : "Output");
    out = get_obj(c, task, legacy ? "output" : "Output", p, false);
    if (c->rc)
      return c->rc;
    if (!out)
      continue;
    t->has_output = true;
    snprintf(p, sizeof(p), "%s[%zu].%s", path, i,
             legacy ? "output.suggestion" : "Output.Suggestion");
    get_str(c, out, legacy ? "suggestion" : "Suggestion", p, false, &t->suggestion);
    snprintf(p, sizeof(p), "%s[%zu].%s", path, i, legacy ? "output.label" : "Output.Label");
    get_str(c, out, legacy ? "label" : "Label", p, false, &t->label);
    snprintf(p, sizeof(p), "%s[%zu].%s", path, i,
             legacy ? "output.confidence" : "Output.Confidence");
    get_num(c, out, legacy ? "confidence" : "Confidence", p, &conf);
    t->confidence = conf;
    if (c->rc)
      return c->rc;
  }
  return VG_OK;
}

/* Severity of one subtask: 0 pass, 1 review, 2 failed, 3 block. */
static int task_severity(const struct event_review_task *t, const struct event_review_policy *pol)
{
  int s;

  if (t->state == EVENT_TASK_FAIL || t->state == EVENT_TASK_PROCESSING || !t->has_output)
    return 2;
  if (strcmp(t->suggestion, "pass") == 0)
    s = 0;
  else if (strcmp(t->suggestion, "block") == 0)
    s = 3;
  else
    s = 1; /* "review", or a suggestion we do not know: a human looks */
  if (pol && pol->block_at > 0 && t->confidence >= pol->block_at)
    s = 3;
  if (pol && pol->review_at > 0 && t->confidence >= pol->review_at && s == 0)
    s = 1;
  return s;
}

void event_review_eval(struct vod_event *ev, const struct event_review_policy *pol)
{
  static const enum event_verdict by_sev[] = {EVENT_VERDICT_PASSED, EVENT_VERDICT_REVIEW,
                                              EVENT_VERDICT_FAILED, EVENT_VERDICT_BLOCKED};
  const struct event_review_task *best = NULL;
  int worst = -1;

  ev->review.type = ev->review.label = ev->review.suggestion = "";
  ev->review.confidence = -1;
  if (ev->type != EVENT_TYPE_PROCEDURE_STATE_CHANGED) {
    ev->review.verdict = EVENT_VERDICT_NONE;
    return;
  }
  if (ev->status != EVENT_STATUS_FINISH) {
    ev->review.verdict = EVENT_VERDICT_PENDING;
    return;
  }
  for (size_t i = 0; i < ev->n_tasks; i++) {
    const struct event_review_task *t = &ev->tasks[i];
    int s = task_severity(t, pol);
    if (s > worst || (s == worst && t->confidence > best->confidence)) {
      worst = s;
      best = t;
    }
  }
  if (!best) {
    ev->review.verdict = EVENT_VERDICT_PASSED;
    return;
  }
  ev->review.verdict = by_sev[worst];
  ev->review.type = best->type;
  ev->review.label = best->label;
  ev->review.suggestion = best->suggestion;
  ev->review.confidence = best->confidence;
}

static enum event_status status_of(const char *s)
{
  if (strcmp(s, "FINISH") == 0)
    return EVENT_STATUS_FINISH;
  if (strcmp(s, "PROCESSING") == 0)
    return EVENT_STATUS_PROCESSING;
  return EVENT_STATUS_OTHER;
}

static int parse_v3(struct pctx *c, json_t *root, struct vod_event *ev)
{
  json_t *m, *mbi, *si;

  if (strcmp(ev->type_str, "NewFileUpload") == 0) {
    ev->type = EVENT_TYPE_NEW_FILE_UPLOAD;
    m = get_obj(c, root, "FileUploadEvent", "FileUploadEvent", true);
    get_str(c, m, "FileId", "FileUploadEvent.FileId", true, &ev->file_id);
    check_id(c, ev->file_id, "FileUploadEvent.FileId");
    get_str(c, m, "ProcedureTaskId", "FileUploadEvent.ProcedureTaskId", false, &ev->task_id);
    mbi = get_obj(c, m, "MediaBasicInfo", "FileUploadEvent.MediaBasicInfo", false);
    get_str(c, mbi, "Name", "FileUploadEvent.MediaBasicInfo.Name", false, &ev->name);
    get_str(c, mbi, "MediaUrl", "FileUploadEvent.MediaBasicInfo.MediaUrl", false, &ev->media_url);
    get_str(c, mbi, "CoverUrl", "FileUploadEvent.MediaBasicInfo.CoverUrl", false, &ev->cover_url);
    get_str(c, mbi, "Type", "FileUploadEvent.MediaBasicInfo.Type", false, &ev->media_type);
    si = get_obj(c, mbi, "SourceInfo", "FileUploadEvent.MediaBasicInfo.SourceInfo", false);
    get_str(c, si, "SourceContext", "FileUploadEvent.MediaBasicInfo.SourceInfo.SourceContext",
            false, &ev->source_context);
    if (!c->rc) {
      struct names nm = v3_names;
      nm.meta_path = "FileUploadEvent.MetaData";
      parse_meta(c, get_obj(c, m, "MetaData", nm.meta_path, false), &nm, &ev->meta);
    }
    return c->rc;
  }
  if (strcmp(ev->type_str, "ProcedureStateChanged") == 0) {
    ev->type = EVENT_TYPE_PROCEDURE_STATE_CHANGED;
    m = get_obj(c, root, "ProcedureStateChangeEvent", "ProcedureStateChangeEvent", true);
    get_str(c, m, "TaskId", "ProcedureStateChangeEvent.TaskId", true, &ev->task_id);
    check_id(c, ev->task_id, "ProcedureStateChangeEvent.TaskId");
    get_str(c, m, "Status", "ProcedureStateChangeEvent.Status", true, &ev->status_str);
    check_id(c, ev->status_str, "ProcedureStateChangeEvent.Status");
    get_str(c, m, "FileId", "ProcedureStateChangeEvent.FileId", false, &ev->file_id);
    get_str(c, m, "FileName", "ProcedureStateChangeEvent.FileName", false, &ev->name);
    get_str(c, m, "FileUrl", "ProcedureStateChangeEvent.FileUrl", false, &ev->media_url);
    get_str(c, m, "SessionContext", "ProcedureStateChangeEvent.SessionContext", false,
            &ev->session_context);
    if (!c->rc) {
      struct names nm = v3_names;
      ev->status = status_of(ev->status_str);
      nm.meta_path = "ProcedureStateChangeEvent.MetaData";
      parse_meta(c, get_obj(c, m, "MetaData", nm.meta_path, false), &nm, &ev->meta);
      parse_reviews(c, member(m, "AiContentReviewResultSet"), false,
                    "ProcedureStateChangeEvent.AiContentReviewResultSet", ev);
    }
    return c->rc;
  }
  ev->type = EVENT_TYPE_OTHER;
  return c->rc;
}

static int parse_legacy(struct pctx *c, json_t *root, struct vod_event *ev)
{
  json_t *d = get_obj(c, root, "data", "data", true);

  if (strcmp(ev->type_str, "NewFileUpload") == 0) {
    ev->type = EVENT_TYPE_NEW_FILE_UPLOAD;
    get_str(c, d, "fileId", "data.fileId", true, &ev->file_id);
    check_id(c, ev->file_id, "data.fileId");
    get_str(c, d, "procedureTaskId", "data.procedureTaskId", false, &ev->task_id);
    get_str(c, d, "fileName", "data.fileName", false, &ev->name);
    get_str(c, d, "fileUrl", "data.fileUrl", false, &ev->media_url);
    get_str(c, d, "coverUrl", "data.coverUrl", false, &ev->cover_url);
    get_str(c, d, "sourceContext", "data.sourceContext", false, &ev->source_context);
    parse_meta(c, get_obj(c, d, "metaData", "data.metaData", false), &legacy_names, &ev->meta);
    return c->rc;
  }
  if (strcmp(ev->type_str, "ProcedureStateChanged") == 0) {
    ev->type = EVENT_TYPE_PROCEDURE_STATE_CHANGED;
    get_str(c, d, "vodTaskId", "data.vodTaskId", true, &ev->task_id);
    check_id(c, ev->task_id, "data.vodTaskId");
    get_str(c, d, "status", "data.status", true, &ev->status_str);
    check_id(c, ev->status_str, "data.status");
    get_str(c, d, "fileId", "data.fileId", false, &ev->file_id);
    get_str(c, d, "fileName", "data.fileName", false, &ev->name);
    get_str(c, d, "fileUrl", "data.fileUrl", false, &ev->media_url);
    get_str(c, d, "sessionContext", "data.sessionContext", false, &ev->session_context);
    if (!c->rc) {
      ev->status = status_of(ev->status_str);
      parse_meta(c, get_obj(c, d, "metaData", "data.metaData", false), &legacy_names, &ev->meta);
      parse_reviews(c, member(d, "contentReviewList"), true, "data.contentReviewList", ev);
    }
    return c->rc;
  }
  ev->type = EVENT_TYPE_OTHER;
  return c->rc;
}

/* Members that differ between deliveries of one event. */
static const char *const volatile_keys[] = {"EventHandle", "Sign", "T", "sign", "t"};

/* Key for types we do not model: a hash of the event without the fields
 * that differ between deliveries of the same event. */
static int other_key(struct pctx *c, json_t *root, struct vod_event *ev)
{
  json_t *copy = json_copy(root);
  char *dump = NULL, hex[65];
  unsigned char md[32];
  unsigned int mdlen = 0;

  if (!copy)
    return fail(c, VG_NOMEM, "no_memory", NULL);
  for (size_t i = 0; i < ARRAY_SIZE(volatile_keys); i++)
    json_object_del(copy, volatile_keys[i]);
  dump = json_dumps(copy, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  json_decref(copy);
  if (!dump)
    return fail(c, VG_NOMEM, "no_memory", NULL);
  if (EVP_Digest(dump, strlen(dump), md, &mdlen, EVP_sha256(), NULL) != 1) {
    free(dump);
    return fail(c, VG_NOMEM, "no_memory", NULL);
  }
  free(dump);
  hex_encode(md, 32, hex);
  hex[32] = '\0';
  snprintf(ev->key, sizeof(ev->key), "%s/sha256:%s", ev->type_str, hex);
  return VG_OK;
}

/* Top-level Sign/T (either capitalisation). */
static int parse_sign(struct pctx *c, json_t *root, struct vod_event *ev)
{
  const char *tk = member(root, "T") ? "T" : "t";
  json_t *t = member(root, tk);

  get_str(c, root, member(root, "Sign") ? "Sign" : "sign", "Sign", false, &ev->sign);
  if (c->rc || !t)
    return c->rc;
  if (json_is_integer(t)) {
    ev->t = json_integer_value(t);
  } else if (!json_is_string(t) || parse_i64z(json_string_value(t), &ev->t)) {
    return fail(c, VG_INVALID, "bad_type", "T");
  }
  ev->has_t = true;
  return VG_OK;
}

/* Parse one event object (push body or pull item) into ev. */
static int parse_root(struct pctx *c, json_t *root, const struct event_review_policy *pol,
                      struct vod_event *ev)
{
  json_t *tv;
  bool legacy;

  event_init(ev);
  if (init_strings(c, ev))
    return c->rc;
  if (member(root, "EventType")) {
    legacy = false;
  } else if (member(root, "eventType")) {
    legacy = true;
  } else {
    return fail(c, VG_INVALID, "unknown_format", NULL);
  }
  ev->format = legacy ? EVENT_FORMAT_LEGACY : EVENT_FORMAT_V3;
  for (size_t i = 0; i < ARRAY_SIZE(volatile_keys); i++)
    ev->has_volatile_keys |= json_object_get(root, volatile_keys[i]) != NULL;
  tv = member(root, legacy ? "eventType" : "EventType");
  if (!json_is_string(tv))
    return fail(c, VG_INVALID, "bad_type", legacy ? "eventType" : "EventType");
  if (set_strn(c, &ev->type_str, json_string_value(tv), json_string_length(tv)))
    return c->rc;
  if (check_id(c, ev->type_str, legacy ? "eventType" : "EventType"))
    return c->rc;
  if (parse_sign(c, root, ev))
    return c->rc;
  if (legacy ? parse_legacy(c, root, ev) : parse_v3(c, root, ev))
    return c->rc;
  switch (ev->type) {
  case EVENT_TYPE_NEW_FILE_UPLOAD:
    snprintf(ev->key, sizeof(ev->key), "%s/%s", ev->type_str, ev->file_id);
    break;
  case EVENT_TYPE_PROCEDURE_STATE_CHANGED:
    snprintf(ev->key, sizeof(ev->key), "%s/%s/%s", ev->type_str, ev->task_id, ev->status_str);
    break;
  case EVENT_TYPE_OTHER:
    if (other_key(c, root, ev))
      return c->rc;
    break;
  }
  event_review_eval(ev, pol);
  return VG_OK;
}

int event_parse_jansson(const char *body, size_t len, const struct event_review_policy *pol,
                        struct vod_event *ev, char *reason, size_t cap)
{
  struct pctx c = {reason, cap, VG_OK, NULL, false, NULL};
  json_t *root;

  if (reason && cap)
    reason[0] = '\0';
  event_init(ev);
  root = load(&c, body, len, EVENT_MAX_BODY);
  if (!root)
    return c.rc;
  parse_root(&c, root, pol, ev);
  json_decref(root);
  if (c.rc)
    event_release(ev);
  return c.rc;
}

/*
 * The fast path of event_parse: the same rules, in the same order (so the
 * same first error), over core/jscan.h tokens instead of a jansson tree.
 * A token is an int index; -1 is "absent" (like a NULL json_t *). Types
 * other than NewFileUpload and ProcedureStateChanged go to the jansson
 * path (their key hashes the whole object, canonically dumped).
 */

/* A field path for error reasons, formatted only when an error names it
 * (most bodies have none): a, a.b, a[i] or a[i].b (i < 0: no index). */
struct spath {
  const char *a;
  long i;
  const char *b;
};
#define SP(s) (&(const struct spath){(s), -1, NULL})

static int fail_at(struct pctx *c, int rc, const char *what, const struct spath *p)
{
  char s[128];

  if (p->i >= 0 && p->b)
    snprintf(s, sizeof(s), "%s[%ld].%s", p->a, p->i, p->b);
  else if (p->i >= 0)
    snprintf(s, sizeof(s), "%s[%ld]", p->a, p->i);
  else if (p->b)
    snprintf(s, sizeof(s), "%s.%s", p->a, p->b);
  else
    return fail(c, rc, what, p->a);
  return fail(c, rc, what, s);
}

#define JS_TOK(c, v)   (&(c)->js->tok[(v)])
#define JS_IS(c, v, t) ((v) >= 0 && JS_TOK(c, v)->type == (t))

/* obj[key], with JSON null treated as absent. */
static int s_member(struct pctx *c, int obj, const char *key)
{
  int v = jscan_get(c->js, obj, key);
  return JS_IS(c, v, JSCAN_NULL) ? -1 : v;
}

/* Replace *dst with the decoded string token v: in the event's string
 * block while it has room (it is sized for every string of the body),
 * else in a block of its own. */
static int s_set(struct pctx *c, char **dst, int v)
{
  struct vod_event *ev = c->ev;
  size_t need = (size_t)JS_TOK(c, v)->len + 1;
  char *p;

  if (ev->strings && ev->strings_cap - ev->strings_used >= need) {
    p = ev->strings + ev->strings_used;
    ev->strings_used += jscan_str_copy(c->js, v, p) + 1;
  } else if (jscan_str(c->js, v, &p, NULL)) {
    return fail(c, VG_NOMEM, "no_memory", NULL);
  }
  free_str(ev, *dst);
  *dst = p;
  return VG_OK;
}

/* The fast path's init_strings: a string block big enough for every
 * string of the body (each decodes to at most its raw length, and the
 * quotes around it leave room for its NUL), every field "" in it. */
static int s_init_strings(struct pctx *c, struct vod_event *ev)
{
  char **s[] = {
      &ev->type_str,        &ev->file_id,      &ev->task_id,   &ev->status_str, &ev->source_context,
      &ev->session_context, &ev->media_url,    &ev->cover_url, &ev->name,       &ev->media_type,
      &ev->meta.container,  &ev->event_handle, &ev->sign};

  ev->strings = malloc(c->js->len + 2);
  if (!ev->strings)
    return fail(c, VG_NOMEM, "no_memory", NULL);
  ev->strings_cap = c->js->len + 2;
  ev->strings[0] = '\0';
  ev->strings_used = 1;
  for (size_t i = 0; i < ARRAY_SIZE(s); i++)
    *s[i] = ev->strings;
  return VG_OK;
}

static int s_get_str(struct pctx *c, int obj, const char *key, const struct spath *path,
                     bool required, char **dst)
{
  int v = s_member(c, obj, key);

  if (c->rc)
    return c->rc;
  if (v < 0)
    return required ? fail_at(c, VG_INVALID, "missing_field", path) : VG_OK;
  if (!JS_IS(c, v, JSCAN_STRING))
    return fail_at(c, VG_INVALID, "bad_type", path);
  return s_set(c, dst, v);
}

static int s_get_obj(struct pctx *c, int obj, const char *key, const struct spath *path,
                     bool required)
{
  int v = s_member(c, obj, key);

  if (c->rc)
    return -1;
  if (v < 0) {
    if (required)
      fail_at(c, VG_INVALID, "missing_field", path);
    return -1;
  }
  if (!JS_IS(c, v, JSCAN_OBJECT)) {
    fail_at(c, VG_INVALID, "bad_type", path);
    return -1;
  }
  return v;
}

static int s_get_num(struct pctx *c, int obj, const char *key, const struct spath *path,
                     double *out)
{
  int v = s_member(c, obj, key);
  double d;

  if (c->rc || v < 0)
    return c->rc;
  if (JS_IS(c, v, JSCAN_NUMBER)) {
    jscan_num(c->js, v, &d, NULL);
  } else if (JS_IS(c, v, JSCAN_STRING)) {
    char *s, *end;
    size_t n;
    if (jscan_str(c->js, v, &s, &n))
      return fail(c, VG_NOMEM, "no_memory", NULL);
    if (!s[0] || n > 32 || strspn(s, "0123456789.") != n) {
      free(s);
      return fail_at(c, VG_INVALID, "bad_type", path);
    }
    d = strtod(s, &end);
    if (*end) {
      free(s);
      return fail_at(c, VG_INVALID, "bad_type", path);
    }
    free(s);
  } else {
    return fail_at(c, VG_INVALID, "bad_type", path);
  }
  if (!isfinite(d) || d < 0)
    return fail_at(c, VG_INVALID, "bad_value", path);
  *out = d;
  return VG_OK;
}

static int s_get_i64(struct pctx *c, int obj, const char *key, const struct spath *path,
                     int64_t *out)
{
  double d = -1;

  if (s_get_num(c, obj, key, path, &d) || d < 0)
    return c->rc;
  if (d > 9007199254740992.0)
    return fail_at(c, VG_INVALID, "bad_value", path);
  *out = (int64_t)d;
  return VG_OK;
}

static int s_parse_meta(struct pctx *c, int m, const struct names *nm, struct event_meta *out)
{
  if (m < 0)
    return c->rc;
  out->present = true;
#define P(f) (&(const struct spath){nm->meta_path, -1, (f)})
  s_get_i64(c, m, nm->size, P(nm->size), &out->size);
  s_get_num(c, m, nm->duration, P(nm->duration), &out->duration);
  if (nm->duration2 && out->duration < 0)
    s_get_num(c, m, nm->duration2, P(nm->duration2), &out->duration);
  s_get_i64(c, m, nm->width, P(nm->width), &out->width);
  s_get_i64(c, m, nm->height, P(nm->height), &out->height);
  s_get_str(c, m, nm->container, P(nm->container), false, &out->container);
#undef P
  return c->rc;
}

/* Does key token k (decoded) end with "Task" after at least one byte? */
static bool s_task_key(struct pctx *c, int k)
{
  const struct jscan_tok *t = JS_TOK(c, k);
  char *d;
  size_t n;
  bool r;

  if (!(t->flags & JSCAN_ESCAPED))
    return t->len > 4 && memcmp(c->js->s + t->start + t->len - 4, "Task", 4) == 0;
  if (jscan_str(c->js, k, &d, &n))
    return false;
  r = n > 4 && memcmp(d + n - 4, "Task", 4) == 0;
  free(d);
  return r;
}

/* find_task over tokens. */
static int s_find_task(struct pctx *c, int item, const char *type)
{
  char name[80];
  size_t o = 0;
  int v;
  uint32_t k;

  for (const char *p = type; *p && o + 5 < sizeof(name); p++)
    if (*p != '.')
      name[o++] = *p;
  memcpy(name + o, "Task", 5);
  v = s_member(c, item, name);
  if (JS_IS(c, v, JSCAN_OBJECT))
    return v;
  if (!JS_IS(c, item, JSCAN_OBJECT))
    return -1;
  k = (uint32_t)item + 1;
  for (uint32_t j = 0; j < JS_TOK(c, item)->n; j++, k = JS_TOK(c, k + 1)->next)
    if (JS_IS(c, (int)k + 1, JSCAN_OBJECT) && s_task_key(c, (int)k))
      return (int)k + 1;
  return -1;
}

static int s_parse_reviews(struct pctx *c, int arr, bool legacy, const char *path,
                           struct vod_event *ev)
{
  size_t n;
  uint32_t item;

  if (c->rc || arr < 0)
    return c->rc;
  if (!JS_IS(c, arr, JSCAN_ARRAY))
    return fail(c, VG_INVALID, "bad_type", path);
  n = JS_TOK(c, arr)->n;
  if (n > EVENT_MAX_REVIEW_TASKS)
    return fail(c, VG_INVALID, "too_big", path);
  if (n == 0)
    return VG_OK;
  ev->tasks = calloc(n, sizeof(*ev->tasks));
  if (!ev->tasks)
    return fail(c, VG_NOMEM, "no_memory", NULL);
  item = (uint32_t)arr + 1;
  for (size_t i = 0; i < n; i++, item = JS_TOK(c, item)->next) {
    struct event_review_task *t;
    int task, out;
    char *status = NULL;
    double conf = -1;

    if (JS_IS(c, (int)item, JSCAN_NULL))
      continue;
#define P(leaf) (&(const struct spath){path, (long)i, (leaf)})
    if (!JS_IS(c, (int)item, JSCAN_OBJECT))
      return fail_at(c, VG_INVALID, "bad_type", P(NULL));
    t = &ev->tasks[ev->n_tasks++];
    t->type = t->suggestion = t->label = ev->strings; /* "" */
    if (s_get_str(c, (int)item, legacy ? "taskType" : "Type", P(legacy ? "taskType" : "Type"),
                  false, &t->type))
      return c->rc;
    task = legacy ? (int)item : s_find_task(c, (int)item, t->type);
    t->state = EVENT_TASK_UNKNOWN;
    t->confidence = -1;
    if (task < 0)
      continue; /* no result at all: counted as failed */
    if (s_get_str(c, task, legacy ? "status" : "Status", P(legacy ? "status" : "Status"), false,
                  &status))
      return c->rc;
    t->state = status ? task_state(status) : EVENT_TASK_UNKNOWN;
    free_str(ev, status);
    out = s_get_obj(c, task, legacy ? "output" : "Output", P(legacy ? "output" : "Output"), false);
    if (c->rc)
      return c->rc;
    if (out < 0)
      continue;
    t->has_output = true;
    s_get_str(c, out, legacy ? "suggestion" : "Suggestion",
              P(legacy ? "output.suggestion" : "Output.Suggestion"), false, &t->suggestion);
    s_get_str(c, out, legacy ? "label" : "Label", P(legacy ? "output.label" : "Output.Label"),
              false, &t->label);
    s_get_num(c, out, legacy ? "confidence" : "Confidence",
              P(legacy ? "output.confidence" : "Output.Confidence"), &conf);
#undef P
    t->confidence = conf;
    if (c->rc)
      return c->rc;
  }
  return VG_OK;
}

static int s_parse_v3(struct pctx *c, int root, struct vod_event *ev)
{
  int m, mbi, si;

  if (strcmp(ev->type_str, "NewFileUpload") == 0) {
    ev->type = EVENT_TYPE_NEW_FILE_UPLOAD;
    m = s_get_obj(c, root, "FileUploadEvent", SP("FileUploadEvent"), true);
    s_get_str(c, m, "FileId", SP("FileUploadEvent.FileId"), true, &ev->file_id);
    check_id(c, ev->file_id, "FileUploadEvent.FileId");
    s_get_str(c, m, "ProcedureTaskId", SP("FileUploadEvent.ProcedureTaskId"), false, &ev->task_id);
    mbi = s_get_obj(c, m, "MediaBasicInfo", SP("FileUploadEvent.MediaBasicInfo"), false);
    s_get_str(c, mbi, "Name", SP("FileUploadEvent.MediaBasicInfo.Name"), false, &ev->name);
    s_get_str(c, mbi, "MediaUrl", SP("FileUploadEvent.MediaBasicInfo.MediaUrl"), false,
              &ev->media_url);
    s_get_str(c, mbi, "CoverUrl", SP("FileUploadEvent.MediaBasicInfo.CoverUrl"), false,
              &ev->cover_url);
    s_get_str(c, mbi, "Type", SP("FileUploadEvent.MediaBasicInfo.Type"), false, &ev->media_type);
    si = s_get_obj(c, mbi, "SourceInfo", SP("FileUploadEvent.MediaBasicInfo.SourceInfo"), false);
    s_get_str(c, si, "SourceContext", SP("FileUploadEvent.MediaBasicInfo.SourceInfo.SourceContext"),
              false, &ev->source_context);
    if (!c->rc) {
      struct names nm = v3_names;
      nm.meta_path = "FileUploadEvent.MetaData";
      s_parse_meta(c, s_get_obj(c, m, "MetaData", SP(nm.meta_path), false), &nm, &ev->meta);
    }
    return c->rc;
  }
  /* ProcedureStateChanged (the caller delegated every other type) */
  ev->type = EVENT_TYPE_PROCEDURE_STATE_CHANGED;
  m = s_get_obj(c, root, "ProcedureStateChangeEvent", SP("ProcedureStateChangeEvent"), true);
  s_get_str(c, m, "TaskId", SP("ProcedureStateChangeEvent.TaskId"), true, &ev->task_id);
  check_id(c, ev->task_id, "ProcedureStateChangeEvent.TaskId");
  s_get_str(c, m, "Status", SP("ProcedureStateChangeEvent.Status"), true, &ev->status_str);
  check_id(c, ev->status_str, "ProcedureStateChangeEvent.Status");
  s_get_str(c, m, "FileId", SP("ProcedureStateChangeEvent.FileId"), false, &ev->file_id);
  s_get_str(c, m, "FileName", SP("ProcedureStateChangeEvent.FileName"), false, &ev->name);
  s_get_str(c, m, "FileUrl", SP("ProcedureStateChangeEvent.FileUrl"), false, &ev->media_url);
  s_get_str(c, m, "SessionContext", SP("ProcedureStateChangeEvent.SessionContext"), false,
            &ev->session_context);
  if (!c->rc) {
    struct names nm = v3_names;
    ev->status = status_of(ev->status_str);
    nm.meta_path = "ProcedureStateChangeEvent.MetaData";
    s_parse_meta(c, s_get_obj(c, m, "MetaData", SP(nm.meta_path), false), &nm, &ev->meta);
    s_parse_reviews(c, s_member(c, m, "AiContentReviewResultSet"), false,
                    "ProcedureStateChangeEvent.AiContentReviewResultSet", ev);
  }
  return c->rc;
}

static int s_parse_legacy(struct pctx *c, int root, struct vod_event *ev)
{
  int d = s_get_obj(c, root, "data", SP("data"), true);

  if (strcmp(ev->type_str, "NewFileUpload") == 0) {
    ev->type = EVENT_TYPE_NEW_FILE_UPLOAD;
    s_get_str(c, d, "fileId", SP("data.fileId"), true, &ev->file_id);
    check_id(c, ev->file_id, "data.fileId");
    s_get_str(c, d, "procedureTaskId", SP("data.procedureTaskId"), false, &ev->task_id);
    s_get_str(c, d, "fileName", SP("data.fileName"), false, &ev->name);
    s_get_str(c, d, "fileUrl", SP("data.fileUrl"), false, &ev->media_url);
    s_get_str(c, d, "coverUrl", SP("data.coverUrl"), false, &ev->cover_url);
    s_get_str(c, d, "sourceContext", SP("data.sourceContext"), false, &ev->source_context);
    s_parse_meta(c, s_get_obj(c, d, "metaData", SP("data.metaData"), false), &legacy_names,
                 &ev->meta);
    return c->rc;
  }
  ev->type = EVENT_TYPE_PROCEDURE_STATE_CHANGED;
  s_get_str(c, d, "vodTaskId", SP("data.vodTaskId"), true, &ev->task_id);
  check_id(c, ev->task_id, "data.vodTaskId");
  s_get_str(c, d, "status", SP("data.status"), true, &ev->status_str);
  check_id(c, ev->status_str, "data.status");
  s_get_str(c, d, "fileId", SP("data.fileId"), false, &ev->file_id);
  s_get_str(c, d, "fileName", SP("data.fileName"), false, &ev->name);
  s_get_str(c, d, "fileUrl", SP("data.fileUrl"), false, &ev->media_url);
  s_get_str(c, d, "sessionContext", SP("data.sessionContext"), false, &ev->session_context);
  if (!c->rc) {
    ev->status = status_of(ev->status_str);
    s_parse_meta(c, s_get_obj(c, d, "metaData", SP("data.metaData"), false), &legacy_names,
                 &ev->meta);
    s_parse_reviews(c, s_member(c, d, "contentReviewList"), true, "data.contentReviewList", ev);
  }
  return c->rc;
}

static int s_parse_sign(struct pctx *c, int root, struct vod_event *ev)
{
  const char *tk = s_member(c, root, "T") >= 0 ? "T" : "t";
  int t = s_member(c, root, tk);

  s_get_str(c, root, s_member(c, root, "Sign") >= 0 ? "Sign" : "sign", SP("Sign"), false,
            &ev->sign);
  if (c->rc || t < 0)
    return c->rc;
  if (JS_IS(c, t, JSCAN_NUMBER) && !(JS_TOK(c, t)->flags & JSCAN_REAL)) {
    double d;
    jscan_num(c->js, t, &d, &ev->t);
  } else if (!JS_IS(c, t, JSCAN_STRING)) {
    return fail(c, VG_INVALID, "bad_type", "T");
  } else {
    char *s;
    int bad;
    if (jscan_str(c->js, t, &s, NULL))
      return fail(c, VG_NOMEM, "no_memory", NULL);
    bad = parse_i64z(s, &ev->t);
    free(s);
    if (bad)
      return fail(c, VG_INVALID, "bad_type", "T");
  }
  ev->has_t = true;
  return VG_OK;
}

/* Is key token k one of volatile_keys? Raw keys of another length are
 * told apart without comparing (the names have 1, 4 or 11 bytes). */
static bool s_volatile(const struct pctx *c, int k)
{
  const struct jscan_tok *t = &c->js->tok[k];

  if (!(t->flags & JSCAN_ESCAPED) && t->len != 1 && t->len != 4 && t->len != 11)
    return false;
  for (size_t i = 0; i < ARRAY_SIZE(volatile_keys); i++)
    if (jscan_str_eq(c->js, k, volatile_keys[i], strlen(volatile_keys[i])))
      return true;
  return false;
}

/* Is top-level member (key k, value k + 1) left out of the stored copy? */
static bool s_dropped(const struct pctx *c, int k)
{
  return c->js->tok[k + 1].type == JSCAN_NULL || s_volatile(c, k);
}

/* ev->stored_body: the root object's kept members, each copied from the
 * opening quote of its key to the end of its value (so "key" : value with
 * the sender's spacing), joined by commas. Never longer than the body.
 * Called only when some member is dropped. */
static int s_compact(struct pctx *c, int root, struct vod_event *ev)
{
  const struct jscan *js = c->js;
  const struct jscan_tok *t = js->tok;
  uint32_t k = (uint32_t)root + 1, j;
  bool first = true;
  char *out, *p;

  out = malloc(js->len + 1);
  if (!out)
    return fail(c, VG_NOMEM, "no_memory", NULL);
  p = out;
  *p++ = '{';
  k = (uint32_t)root + 1;
  for (j = 0; j < t[root].n; j++, k = t[k + 1].next) {
    const struct jscan_tok *v = &t[k + 1];
    size_t from = t[k].start - 1; /* the key's opening quote */
    size_t to = v->start + v->len + (v->type == JSCAN_STRING ? 1 : 0);

    if (s_dropped(c, (int)k))
      continue;
    if (!first)
      *p++ = ',';
    first = false;
    memcpy(p, js->s + from, to - from);
    p += to - from;
  }
  *p++ = '}';
  *p = '\0';
  ev->stored_body = out;
  ev->stored_len = (size_t)(p - out);
  return VG_OK;
}

/* parse_root over tokens; sets c->delegate for the types it leaves to
 * jansson. */
static int s_parse_root(struct pctx *c, int root, const struct event_review_policy *pol,
                        struct vod_event *ev)
{
  int tv;
  bool legacy, has_null = false;

  event_init(ev);
  c->ev = ev;
  if (s_init_strings(c, ev))
    return c->rc;
  if (s_member(c, root, "EventType") >= 0) {
    legacy = false;
  } else if (s_member(c, root, "eventType") >= 0) {
    legacy = true;
  } else {
    return fail(c, VG_INVALID, "unknown_format", NULL);
  }
  ev->format = legacy ? EVENT_FORMAT_LEGACY : EVENT_FORMAT_V3;
  {
    const struct jscan_tok *t = c->js->tok;
    uint32_t k = (uint32_t)root + 1;
    for (uint32_t j = 0; j < t[root].n; j++, k = t[k + 1].next) {
      ev->has_volatile_keys |= s_volatile(c, (int)k);
      has_null |= t[k + 1].type == JSCAN_NULL;
    }
  }
  tv = s_member(c, root, legacy ? "eventType" : "EventType");
  if (!JS_IS(c, tv, JSCAN_STRING))
    return fail(c, VG_INVALID, "bad_type", legacy ? "eventType" : "EventType");
  if (s_set(c, &ev->type_str, tv))
    return c->rc;
  if (check_id(c, ev->type_str, legacy ? "eventType" : "EventType"))
    return c->rc;
  if (strcmp(ev->type_str, "NewFileUpload") != 0 &&
      strcmp(ev->type_str, "ProcedureStateChanged") != 0) {
    c->delegate = true;
    return VG_OK;
  }
  if (s_parse_sign(c, root, ev))
    return c->rc;
  if (legacy ? s_parse_legacy(c, root, ev) : s_parse_v3(c, root, ev))
    return c->rc;
  if (ev->type == EVENT_TYPE_NEW_FILE_UPLOAD)
    snprintf(ev->key, sizeof(ev->key), "%s/%s", ev->type_str, ev->file_id);
  else
    snprintf(ev->key, sizeof(ev->key), "%s/%s/%s", ev->type_str, ev->task_id, ev->status_str);
  event_review_eval(ev, pol);
  return ev->has_volatile_keys || has_null ? s_compact(c, root, ev) : VG_OK;
}

/* Tokens kept on the stack: a realistic 3 KB event has about 250. */
#define EVENT_STACK_TOKENS 512

int event_parse(const char *body, size_t len, const struct event_review_policy *pol,
                struct vod_event *ev, char *reason, size_t cap)
{
  struct pctx c = {reason, cap, VG_OK, NULL, false, NULL};
  struct jscan_tok buf[EVENT_STACK_TOKENS];
  struct jscan js;
  int rc;

  if (reason && cap)
    reason[0] = '\0';
  event_init(ev);
  if (len > EVENT_MAX_BODY)
    return fail(&c, VG_TOOBIG, "too_big", NULL);
  if (!body)
    return fail(&c, VG_INVALID, "not_json", NULL);
  rc = jscan_parse(&js, body, len, buf, ARRAY_SIZE(buf), JSON_MAX_DEPTH);
  if (rc == VG_NOMEM)
    fail(&c, VG_NOMEM, "no_memory", NULL);
  else if (rc)
    fail(&c, VG_INVALID, depth_ok(body, len, JSON_MAX_DEPTH) ? "not_json" : "too_deep", NULL);
  else if (js.tok[0].type != JSCAN_OBJECT)
    fail(&c, VG_INVALID, "not_object", NULL);
  else {
    c.js = &js;
    s_parse_root(&c, 0, pol, ev);
  }
  jscan_release(&js);
  if (c.rc || c.delegate)
    event_release(ev);
  if (c.delegate && !c.rc)
    return event_parse_jansson(body, len, pol, ev, reason, cap);
  return c.rc;
}

void event_pull_release(struct event_pull *p)
{
  for (size_t i = 0; i < p->n; i++) {
    event_release(&p->items[i].ev);
    free(p->items[i].raw);
  }
  free(p->items);
  free(p->request_id);
  free(p->error_code);
  free(p->error_message);
  memset(p, 0, sizeof(*p));
}

int event_parse_pull(const char *body, size_t len, const struct event_review_policy *pol,
                     struct event_pull *out, char *reason, size_t cap)
{
  struct pctx c = {reason, cap, VG_OK, NULL, false, NULL};
  json_t *root, *resp, *err, *set, *item;
  size_t i;

  memset(out, 0, sizeof(*out));
  if (reason && cap)
    reason[0] = '\0';
  if (set_str(&c, &out->request_id, "") || set_str(&c, &out->error_code, "") ||
      set_str(&c, &out->error_message, ""))
    return c.rc;
  root = load(&c, body, len, EVENT_MAX_PULL_BODY);
  if (!root)
    goto done;
  resp = get_obj(&c, root, "Response", "Response", true);
  get_str(&c, resp, "RequestId", "Response.RequestId", false, &out->request_id);
  err = get_obj(&c, resp, "Error", "Response.Error", false);
  if (err) {
    get_str(&c, err, "Code", "Response.Error.Code", true, &out->error_code);
    get_str(&c, err, "Message", "Response.Error.Message", false, &out->error_message);
    goto done;
  }
  set = member(resp, "EventSet");
  if (c.rc || !set)
    goto done;
  if (!json_is_array(set)) {
    fail(&c, VG_INVALID, "bad_type", "Response.EventSet");
    goto done;
  }
  if (json_array_size(set) > EVENT_MAX_PULL_EVENTS) {
    fail(&c, VG_TOOBIG, "too_big", "Response.EventSet");
    goto done;
  }
  if (json_array_size(set) == 0)
    goto done;
  out->items = calloc(json_array_size(set), sizeof(*out->items));
  if (!out->items) {
    fail(&c, VG_NOMEM, "no_memory", NULL);
    goto done;
  }
  json_array_foreach(set, i, item)
  {
    struct event_pull_item *it = &out->items[out->n++];
    struct pctx ic = {it->reason, sizeof(it->reason), VG_OK, NULL, false, NULL};
    json_t *h;

    event_init(&it->ev);
    it->raw = json_dumps(item, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!it->raw) {
      fail(&c, VG_NOMEM, "no_memory", NULL);
      goto done;
    }
    if (!json_is_object(item)) {
      it->rc = fail(&ic, VG_INVALID, "not_object", NULL);
      continue;
    }
    parse_root(&ic, item, pol, &it->ev);
    h = member(item, "EventHandle");
    if (ic.rc) {
      event_release(&it->ev);
      if (json_is_string(h) && set_str(&c, &it->ev.event_handle, json_string_value(h)))
        goto done;
    } else if (!h) {
      fail(&ic, VG_INVALID, "missing_field", "EventHandle");
    } else if (!json_is_string(h)) {
      fail(&ic, VG_INVALID, "bad_type", "EventHandle");
    } else if (set_str(&ic, &it->ev.event_handle, json_string_value(h))) {
      /* ic.rc set */
    }
    it->rc = ic.rc;
    if (c.rc == VG_OK && ic.rc == VG_NOMEM)
      fail(&c, VG_NOMEM, "no_memory", NULL);
  }
done:
  json_decref(root);
  if (c.rc) {
    char keep[EVENT_REASON_MAX];
    snprintf(keep, sizeof(keep), "%s", reason && cap ? reason : "");
    event_pull_release(out);
    if (reason && cap)
      snprintf(reason, cap, "%s", keep);
  }
  return c.rc;
}

const char *event_verdict_str(enum event_verdict v)
{
  switch (v) {
  case EVENT_VERDICT_NONE: return "none";
  case EVENT_VERDICT_PENDING: return "pending";
  case EVENT_VERDICT_PASSED: return "passed";
  case EVENT_VERDICT_REVIEW: return "review";
  case EVENT_VERDICT_FAILED: return "failed";
  case EVENT_VERDICT_BLOCKED: return "blocked";
  }
  return "none";
}

const char *event_format_str(enum event_format f)
{
  return f == EVENT_FORMAT_LEGACY ? "legacy" : "v3";
}

const char *event_sign_str(enum event_sign_status s)
{
  switch (s) {
  case EVENT_SIGN_OK: return "ok";
  case EVENT_SIGN_MISSING: return "missing";
  case EVENT_SIGN_MALFORMED: return "malformed";
  case EVENT_SIGN_BAD: return "bad_sign";
  case EVENT_SIGN_EXPIRED: return "expired";
  }
  return "bad_sign";
}

enum event_sign_status event_check_sign(const char *sign_key, const char *sign_hex, int64_t t,
                                        int64_t now, int64_t skew)
{
  unsigned char md[16];
  unsigned int mdlen = 0;
  char want[33], got[33];
  struct buf msg;
  bool ok;

  if (!sign_hex || !sign_hex[0])
    return EVENT_SIGN_MISSING;
  if (strlen(sign_hex) != 32)
    return EVENT_SIGN_MALFORMED;
  for (size_t i = 0; i < 32; i++) {
    char ch = sign_hex[i];
    if (ch >= 'A' && ch <= 'F')
      ch = (char)(ch + 32);
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
      return EVENT_SIGN_MALFORMED;
    got[i] = ch;
  }
  got[32] = '\0';
  if (!sign_key || !sign_key[0])
    return EVENT_SIGN_BAD;
  buf_init(&msg, 4096);
  if (buf_printf(&msg, "%s%lld", sign_key, (long long)t) ||
      EVP_Digest(msg.ptr, msg.len, md, &mdlen, EVP_md5(), NULL) != 1 || mdlen != 16) {
    secure_zero(msg.ptr, msg.len);
    buf_release(&msg);
    return EVENT_SIGN_BAD;
  }
  secure_zero(msg.ptr, msg.len);
  buf_release(&msg);
  hex_encode(md, 16, want);
  ok = ct_equal(want, 32, got, 32);
  if (!ok)
    return EVENT_SIGN_BAD;
  if (skew < 0)
    skew = 0;
  if (now > t && now - t > skew)
    return EVENT_SIGN_EXPIRED;
  return EVENT_SIGN_OK;
}
