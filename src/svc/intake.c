/*
 * intake.c: one event -> event row + ledger row + outbox row, in one
 * transaction (see intake.h).
 */
#include "svc/intake.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attr/attr.h"
#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "event/ledger.h"
#include "policy/policy.h"
#include "store/store.h"
#include "svc/state.h"

/* Drop every "SegmentSet" member below j: the review's per-segment detail,
 * up to 100 entries per subtask, is what makes bodies large, and nothing
 * here reads it (VOD keeps the full list at SegmentSetFileUrl). */
static void strip_segments(json_t *j)
{
  const char *k;
  json_t *v;
  void *tmp;
  size_t i;

  if (json_is_object(j)) {
    json_object_del(j, "SegmentSet");
    json_object_del(j, "segments");
    json_object_foreach_safe(j, tmp, k, v) strip_segments(v);
  } else if (json_is_array(j)) {
    json_array_foreach(j, i, v) strip_segments(v);
  }
}

/* True if the body as received can be stored as it is: small enough, no
 * NUL byte, and none of the top-level members stored_body() removes (the
 * parser noted them: ev->has_volatile_keys). The body already parsed as
 * JSON (event_parse), so it is valid UTF-8 JSON. */
static bool storable_as_is(const char *raw, size_t len, const struct vod_event *ev)
{
  return len <= STORE_MAX_BODY && !ev->has_volatile_keys && !memchr(raw, 0, len);
}

static char *stored_body(const char *raw, size_t len, const struct vod_event *ev)
{
  json_t *j;
  char *s;

  /* The common cases: the parser's copy without null and volatile
   * top-level members (event.h), or the bytes as received when it left
   * nothing out. Either spares a second parse and dump of every event (a
   * third of the CPU per event with 3 KB bodies). */
  if (ev->stored_body && ev->stored_len <= STORE_MAX_BODY)
    return xstrndup(ev->stored_body, ev->stored_len);
  if (!ev->stored_body && storable_as_is(raw, len, ev))
    return xstrndup(raw, len);
  j = json_loadb(raw, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);

  if (!json_is_object(j)) {
    json_decref(j);
    return NULL;
  }
  /* Sign/T are a credential valid until T; EventHandle is a pull receipt:
   * neither belongs to the event's content. */
  json_object_del(j, "Sign");
  json_object_del(j, "T");
  json_object_del(j, "sign");
  json_object_del(j, "t");
  json_object_del(j, "EventHandle");
  s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
  if (s && strlen(s) > STORE_MAX_BODY) {
    free(s);
    strip_segments(j);
    s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
  }
  if (s && strlen(s) > STORE_MAX_BODY) {
    free(s);
    json_decref(j);
    j = json_pack("{s:s,s:s,s:b}", ev->format == EVENT_FORMAT_LEGACY ? "eventType" : "EventType",
                  ev->type_str, "vodgateTruncated", 1);
    s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
  }
  json_decref(j);
  return s;
}

/* The attribution token of ev: SourceContext (NewFileUpload), or the part
 * of SessionContext before '|' (ProcedureStateChanged). */
static void verify_attribution(struct intake *in, const struct vod_event *ev,
                               const struct attr_keyring *kr)
{
  const char *ctx =
      ev->type == EVENT_TYPE_NEW_FILE_UPLOAD ? ev->source_context : ev->session_context;
  struct attr_claims claims;
  enum attr_status as;
  size_t n;

  in->upload_id[0] = '\0';
  if (!ctx || !*ctx) {
    in->attr = "missing";
    return;
  }
  n = strcspn(ctx, "|");
  if (n > ATTR_MAX_TOKEN) {
    in->attr = attr_status_str(ATTR_MALFORMED);
    return;
  }
  as = attr_verify(kr, ctx, n, &claims);
  in->attr = attr_status_str(as);
  if (as == ATTR_OK)
    snprintf(in->upload_id, sizeof(in->upload_id), "%s", claims.upload_id);
}

int intake_prepare(struct intake *in, const struct vod_event *ev, const char *source,
                   const char *raw, size_t raw_len, const struct svc_state *st, bool webhook,
                   int64_t now, char *reason, size_t cap)
{
  memset(in, 0, sizeof(*in));
  in->ev = ev;
  in->source = source;
  in->st = st;
  in->webhook = webhook;
  in->now = now;
  in->attr = "missing";
  /* The store keeps ids of at most STORE_MAX_ID bytes; VOD's are < 40. */
  if (strlen(ev->type_str) > STORE_MAX_ID) {
    snprintf(reason, cap, "bad_value:EventType");
    return VG_INVALID;
  }
  if (strlen(ev->file_id) > STORE_MAX_ID) {
    snprintf(reason, cap, "bad_value:FileId");
    return VG_INVALID;
  }
  in->body_json = stored_body(raw, raw_len, ev);
  if (!in->body_json) {
    snprintf(reason, cap, "not_json");
    return VG_INVALID;
  }
  if (ev->type == EVENT_TYPE_NEW_FILE_UPLOAD || ev->type == EVENT_TYPE_PROCEDURE_STATE_CHANGED)
    verify_attribution(in, ev, &st->attr);
  return VG_OK;
}

void intake_release(struct intake *in)
{
  free(in->body_json);
  in->body_json = NULL;
}

static const char *opt_id(const char *s)
{
  return s && *s && strlen(s) <= STORE_MAX_ID ? s : NULL;
}

static int add_outbox(struct store_tx *tx, struct intake *in, const struct store_ledger *row,
                      json_t *detail)
{
  json_t *p = json_object();
  char *s;
  int rc;

  json_object_set_new(p, "type", json_string("upload.state_changed"));
  json_object_set_new(p, "eventType", json_string(in->ev->type_str));
  json_object_set_new(p, "eventKey", json_string(in->ev->key));
  json_object_set_new(p, "previousState", json_string(in->old_state));
  json_object_set_new(p, "data",
                      ledger_upload_json(row->upload_id, row->user_id, row->state, row->file_id,
                                         detail, row->updated_at));
  s = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(p);
  if (!s)
    return VG_NOMEM;
  rc = store_tx_outbox_add(tx, in->ev->key, s, in->now, &in->outbox_id);
  free(s);
  return rc;
}

int intake_tx(struct store_tx *tx, void *arg)
{
  struct intake *in = arg;
  const struct vod_event *ev = in->ev;
  struct store_ledger row;
  struct store_session sess;
  bool have_row, have_sess = false, attributed_now = false, changed;
  json_t *detail = NULL;
  enum ledger_state before, after;
  int rc;

  in->is_new = in->state_changed = false;
  in->state[0] = in->old_state[0] = in->ledger_upload[0] = '\0';
  in->outbox_id = 0;
  if (!in->replay) {
    struct store_event se = {
        .event_key = ev->key,
        .source = in->source,
        .type = ev->type_str,
        .file_id = opt_id(ev->file_id),
        .task_id = opt_id(ev->task_id),
        .status = opt_id(ev->status_str),
        .body_json = in->body_json,
        .received_at = in->now,
    };
    rc = store_tx_event_insert(tx, &se, &in->is_new);
    if (rc || !in->is_new)
      return rc; /* a duplicate: stored once, applied once */
  } else {
    in->is_new = true;
  }
  if ((ev->type != EVENT_TYPE_NEW_FILE_UPLOAD && ev->type != EVENT_TYPE_PROCEDURE_STATE_CHANGED) ||
      !*ev->file_id)
    return VG_OK; /* stored for the record; no ledger effect */

  rc = store_tx_ledger_get(tx, ev->file_id, &row);
  if (rc == VG_NOTFOUND) {
    have_row = false;
    memset(&row, 0, sizeof(row));
    snprintf(row.file_id, sizeof(row.file_id), "%s", ev->file_id);
    detail = json_object();
    before = LEDGER_ISSUED;
  } else if (rc) {
    return rc;
  } else {
    have_row = true;
    detail = json_loads(row.detail_json ? row.detail_json : "{}", 0, NULL);
    store_ledger_release(&row);
    if (!json_is_object(detail)) {
      json_decref(detail);
      detail = json_object(); /* unreadable facts: start again from this event */
    }
    before = ledger_state_of(detail);
  }

  changed = ledger_merge_event(detail, ev);
  /* Attribution: the first verified token whose session exists names the
   * upload; a verified row is never re-attributed by a later token. */
  if (!row.upload_id[0] && in->upload_id[0]) {
    rc = store_tx_session_get(tx, in->upload_id, &sess);
    if (rc == VG_OK) {
      have_sess = true;
      snprintf(row.upload_id, sizeof(row.upload_id), "%s", sess.upload_id);
      snprintf(row.user_id, sizeof(row.user_id), "%s", sess.user_id);
      changed |= ledger_merge_attribution(detail, "ok");
      attributed_now = true;
    } else if (rc == VG_NOTFOUND) {
      changed |= ledger_merge_attribution(detail, "unknown_session");
    } else {
      json_decref(detail);
      return rc;
    }
  } else if (row.upload_id[0]) {
    rc = store_tx_session_get(tx, row.upload_id, &sess);
    if (rc && rc != VG_NOTFOUND) {
      json_decref(detail);
      return rc;
    }
    have_sess = rc == VG_OK;
  } else {
    changed |= ledger_merge_attribution(detail, in->attr);
  }
  /* Post-upload policy: the uploader's caps, known once attributed. */
  if (have_sess) {
    const struct policy *pol = policies_find(&in->st->policies, sess.policy);
    if (pol)
      changed |= ledger_apply_caps(detail, pol->max_size, pol->max_duration,
                                   (const char *const *)pol->containers);
    store_session_release(&sess);
  }
  after = ledger_state_of(detail);
  /* A file attributed by this event is news for its upload even when the
   * file's state stays the same (its earlier events carried no token):
   * until now GET /v1/uploads/<id> answered "issued", and the app hears
   * of the file and its user only by this webhook. */
  if (attributed_now)
    before = LEDGER_ISSUED;
  snprintf(in->old_state, sizeof(in->old_state), "%s", ledger_state_str(before));
  snprintf(in->state, sizeof(in->state), "%s", ledger_state_str(after));
  in->state_changed = !have_row || before != after;
  str_copy(in->ledger_upload, sizeof(in->ledger_upload), row.upload_id);
  rc = VG_OK;
  snprintf(row.state, sizeof(row.state), "%s", ledger_state_str(after));
  if (changed || !have_row) {
    char *d = json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS);
    row.updated_at = in->now;
    row.detail_json = d;
    rc = d ? store_tx_ledger_put(tx, &row) : VG_NOMEM;
    free(d);
    row.detail_json = NULL;
  }
  if (rc == VG_OK && ((in->state_changed && in->webhook) || in->force_webhook))
    rc = add_outbox(tx, in, &row, detail);
  json_decref(detail);
  return rc;
}
