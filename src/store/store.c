/*
 * store.c: the backend-independent half of the store: url dispatch,
 * argument validation (so that backends only ever see bounded strings) and
 * the one-transaction conveniences built on store_run().
 */
#include <stdlib.h>
#include <string.h>

#include "core/jscan.h"
#include "core/log.h"
#include "core/util.h"
#include "store/store_impl.h"

bool store_valid_str(const char *s, size_t max, bool required)
{
  if (!s)
    return !required;
  size_t n = strnlen(s, max + 1);
  if (n > max)
    return false;
  return n > 0 || !required;
}

static bool valid_json_arg(const char *s)
{
  return store_valid_str(s, STORE_MAX_BODY, false);
}

/* NULL (meaning "{}") or the text of one JSON object. Checked here, not by
 * the database (SQLite's schema 5 has no json_valid() CHECK on it). */
static bool valid_json_object_arg(const char *s)
{
  struct jscan js;
  /* 5 KiB of stack: a session's parameters (a few hundred bytes; checked
   * per new session on the request path, svc/issuing.c) scan without a
   * malloc. */
  struct jscan_tok tok[256];
  bool ok;

  if (!s)
    return true;
  if (!valid_json_arg(s))
    return false;
  ok = jscan_parse(&js, s, strlen(s), tok, ARRAY_SIZE(tok), JSCAN_MAX_DEPTH) == VG_OK &&
       js.tok[0].type == JSCAN_OBJECT;
  jscan_release(&js);
  return ok;
}

static bool valid_hash(const char *h)
{
  if (!h || strlen(h) != STORE_HASH_HEX)
    return false;
  for (const char *p = h; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
      return false;
  return true;
}

static bool has_prefix(const char *s, const char *p)
{
  return strncmp(s, p, strlen(p)) == 0;
}

int store_open(const char *url, const struct store_options *opt, struct store **out)
{
  static const struct store_options defaults = {0};
  *out = NULL;
  if (!url || !*url)
    return error("store: empty database url"), VG_INVALID;
  if (!opt)
    opt = &defaults;
  if (has_prefix(url, "postgres://") || has_prefix(url, "postgresql://"))
    return store_pg_open(url, opt, out);
  const char *path = has_prefix(url, "sqlite:") ? url + strlen("sqlite:") : url;
  if (!*path)
    return error("store: 'sqlite:' needs a file path"), VG_INVALID;
  if (strstr(path, "://"))
    return error("store: unsupported database url scheme (use sqlite:PATH or postgres://)"),
           VG_INVALID;
  return store_sqlite_open(path, opt, out);
}

void store_close(struct store *s)
{
  if (s)
    s->ops->close(s);
}

const char *store_backend(const struct store *s)
{
  return s->ops->name;
}

int64_t store_utc_day(int64_t t)
{
  /* floor division: days before 1970 stay distinct from day 0 */
  return t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
}

int store_run(struct store *s, store_tx_fn fn, void *arg)
{
  return s->ops->run(s, fn, arg);
}

int store_submit(struct store *s, store_tx_fn fn, void *arg, store_done_fn done, void *done_arg)
{
  return s->ops->submit(s, fn, arg, done, done_arg);
}

/* Runs one read op on a lent connection. */
#define READ_OP(s, call)                                                                           \
  do {                                                                                             \
    struct store_tx *tx_;                                                                          \
    int rc_ = (s)->ops->read_begin((s), &tx_);                                                     \
    if (rc_ != VG_OK)                                                                              \
      return rc_;                                                                                  \
    struct store_tx *tx = tx_;                                                                     \
    rc_ = (call);                                                                                  \
    (s)->ops->read_end((s), tx_);                                                                  \
    return rc_;                                                                                    \
  } while (0)

#define OPS(tx) ((tx)->store->ops)

int store_schema_version(struct store *s, int64_t *out)
{
  READ_OP(s, s->ops->schema_version(tx, out));
}

/* ---- sessions ---- */

void store_session_release(struct store_session *sess)
{
  free(sess->params_json);
  sess->params_json = NULL;
}

int store_session_check(const struct store_session *sess)
{
  if (!store_valid_str(sess->upload_id, STORE_MAX_ID, true) ||
      !store_valid_str(sess->user_id, STORE_MAX_USER, true) ||
      !store_valid_str(sess->policy, STORE_MAX_POLICY, true) ||
      !valid_json_object_arg(sess->params_json))
    return VG_INVALID;
  if (sess->signatures_issued < 0 || sess->expires_at < sess->created_at)
    return VG_INVALID;
  const struct store_audit *a = sess->first;
  if (a && (store_audit_check(a) != VG_OK || a->n != 1 || sess->signatures_issued < 1 ||
            strcmp(a->upload_id, sess->upload_id) != 0 || strcmp(a->user_id, sess->user_id) != 0 ||
            a->created_at != sess->created_at))
    return VG_INVALID;
  return VG_OK;
}

int store_tx_session_create(struct store_tx *tx, const struct store_session *sess)
{
  int rc = store_session_check(sess);
  if (rc != VG_OK)
    return rc;
  return OPS(tx)->session_create(tx, sess);
}

int store_tx_session_add_signature(struct store_tx *tx, const char *upload_id, int64_t limit,
                                   int64_t *count)
{
  if (!store_valid_str(upload_id, STORE_MAX_ID, true) || limit < 0)
    return VG_INVALID;
  int64_t dummy;
  return OPS(tx)->session_add_signature(tx, upload_id, limit, count ? count : &dummy);
}

int store_tx_session_get(struct store_tx *tx, const char *upload_id, struct store_session *out)
{
  memset(out, 0, sizeof(*out));
  if (!store_valid_str(upload_id, STORE_MAX_ID, true))
    return VG_INVALID;
  return OPS(tx)->session_get(tx, upload_id, out);
}

int store_session_get(struct store *s, const char *upload_id, struct store_session *out)
{
  memset(out, 0, sizeof(*out));
  if (!store_valid_str(upload_id, STORE_MAX_ID, true))
    return VG_INVALID;
  READ_OP(s, s->ops->session_get(tx, upload_id, out));
}

static int run_session_create(struct store_tx *tx, void *arg)
{
  return store_tx_session_create(tx, arg);
}

int store_session_create(struct store *s, const struct store_session *sess)
{
  return store_run(s, run_session_create, (void *)sess);
}

struct add_sig_arg {
  const char *upload_id;
  int64_t limit;
  int64_t count;
};

static int run_add_sig(struct store_tx *tx, void *arg)
{
  struct add_sig_arg *a = arg;
  return store_tx_session_add_signature(tx, a->upload_id, a->limit, &a->count);
}

int store_session_add_signature(struct store *s, const char *upload_id, int64_t limit,
                                int64_t *count)
{
  struct add_sig_arg a = {upload_id, limit, 0};
  int rc = store_run(s, run_add_sig, &a);
  if (rc == VG_OK && count)
    *count = a.count;
  return rc;
}

/* ---- audit ---- */

int store_audit_check(const struct store_audit *a)
{
  if (!store_valid_str(a->upload_id, STORE_MAX_ID, true) ||
      !store_valid_str(a->user_id, STORE_MAX_USER, true) ||
      !store_valid_str(a->request_id, STORE_MAX_ID, true) || a->n < 1)
    return VG_INVALID;
  return VG_OK;
}

int store_tx_audit_append(struct store_tx *tx, const struct store_audit *a)
{
  /* n = 1 is the session's first signature, recorded with the session. */
  if (store_audit_check(a) != VG_OK || a->n < 2)
    return VG_INVALID;
  return OPS(tx)->audit_append(tx, a);
}

static int run_audit(struct store_tx *tx, void *arg)
{
  return store_tx_audit_append(tx, arg);
}

int store_audit_append(struct store *s, const struct store_audit *a)
{
  return store_run(s, run_audit, (void *)a);
}

int store_audit_count(struct store *s, const char *upload_id, int64_t *out)
{
  *out = 0;
  if (!store_valid_str(upload_id, STORE_MAX_ID, true))
    return VG_INVALID;
  READ_OP(s, s->ops->audit_count(tx, upload_id, out));
}

/* ---- tokens ---- */

int store_tx_token_add(struct store_tx *tx, const struct store_token *t)
{
  if (!store_valid_str(t->id, STORE_MAX_ID, true) || !valid_hash(t->hash_hex) ||
      !store_valid_str(t->user_id, STORE_MAX_USER, true) ||
      !store_valid_str(t->policy, STORE_MAX_POLICY, true) ||
      !store_valid_str(t->label, STORE_MAX_LABEL, false))
    return VG_INVALID;
  return OPS(tx)->token_add(tx, t);
}

int store_tx_token_revoke(struct store_tx *tx, const char *id, int64_t now)
{
  if (!store_valid_str(id, STORE_MAX_ID, true) || now <= 0)
    return VG_INVALID;
  return OPS(tx)->token_revoke(tx, id, now);
}

static int run_token_add(struct store_tx *tx, void *arg)
{
  return store_tx_token_add(tx, arg);
}

int store_token_add(struct store *s, const struct store_token *t)
{
  return store_run(s, run_token_add, (void *)t);
}

struct revoke_arg {
  const char *id;
  int64_t now;
};

static int run_token_revoke(struct store_tx *tx, void *arg)
{
  struct revoke_arg *a = arg;
  return store_tx_token_revoke(tx, a->id, a->now);
}

int store_token_revoke(struct store *s, const char *id, int64_t now)
{
  struct revoke_arg a = {id, now};
  return store_run(s, run_token_revoke, &a);
}

int store_token_find(struct store *s, const char *hash_hex, struct store_token *out)
{
  memset(out, 0, sizeof(*out));
  if (!valid_hash(hash_hex))
    return VG_INVALID;
  READ_OP(s, s->ops->token_find(tx, hash_hex, out));
}

int store_token_list(struct store *s, store_token_cb cb, void *arg)
{
  READ_OP(s, s->ops->token_list(tx, cb, arg));
}

/* ---- quota ---- */

int store_tx_quota_consume(struct store_tx *tx, const char *user_id, int64_t day, int64_t limit,
                           int64_t *used)
{
  if (!store_valid_str(user_id, STORE_MAX_USER, true) || limit < 0)
    return VG_INVALID;
  int64_t dummy;
  return OPS(tx)->quota_consume(tx, user_id, day, limit, used ? used : &dummy);
}

struct quota_arg {
  const char *user_id;
  int64_t day, limit, used;
};

static int run_quota(struct store_tx *tx, void *arg)
{
  struct quota_arg *a = arg;
  return store_tx_quota_consume(tx, a->user_id, a->day, a->limit, &a->used);
}

int store_quota_consume(struct store *s, const char *user_id, int64_t day, int64_t limit,
                        int64_t *used)
{
  struct quota_arg a = {user_id, day, limit, 0};
  int rc = store_run(s, run_quota, &a);
  if (rc == VG_OK && used)
    *used = a.used;
  return rc;
}

int store_tx_quota_add(struct store_tx *tx, const char *user_id, int64_t day, int64_t n)
{
  if (!store_valid_str(user_id, STORE_MAX_USER, true) || n < 1)
    return VG_INVALID;
  return OPS(tx)->quota_add(tx, user_id, day, n);
}

int store_quota_get(struct store *s, const char *user_id, int64_t day, int64_t *used)
{
  *used = 0;
  if (!store_valid_str(user_id, STORE_MAX_USER, true))
    return VG_INVALID;
  READ_OP(s, s->ops->quota_get(tx, user_id, day, used));
}

/* ---- events ---- */

int store_tx_event_insert(struct store_tx *tx, const struct store_event *ev, bool *is_new)
{
  *is_new = false;
  if (!store_valid_str(ev->event_key, STORE_MAX_EVENT_KEY, true) ||
      !(ev->source && (!strcmp(ev->source, "push") || !strcmp(ev->source, "pull"))) ||
      !store_valid_str(ev->type, STORE_MAX_EVENT_ID, true) ||
      !store_valid_str(ev->file_id, STORE_MAX_EVENT_ID, false) ||
      !store_valid_str(ev->task_id, STORE_MAX_EVENT_ID, false) ||
      !store_valid_str(ev->status, STORE_MAX_EVENT_ID, false) ||
      !store_valid_str(ev->body_json, STORE_MAX_BODY, true))
    return VG_INVALID;
  return OPS(tx)->event_insert(tx, ev, is_new);
}

struct event_arg {
  const struct store_event *ev;
  bool is_new;
};

static int run_event(struct store_tx *tx, void *arg)
{
  struct event_arg *a = arg;
  return store_tx_event_insert(tx, a->ev, &a->is_new);
}

int store_event_insert(struct store *s, const struct store_event *ev, bool *is_new)
{
  struct event_arg a = {ev, false};
  int rc = store_run(s, run_event, &a);
  *is_new = rc == VG_OK && a.is_new;
  return rc;
}

void store_event_record_release(struct store_event_record *r)
{
  free(r->event_key);
  free(r->source);
  free(r->type);
  free(r->file_id);
  free(r->task_id);
  free(r->status);
  free(r->body_json);
  memset(r, 0, sizeof(*r));
}

int store_event_get(struct store *s, const char *event_key, struct store_event_record *out)
{
  memset(out, 0, sizeof(*out));
  if (!store_valid_str(event_key, STORE_MAX_EVENT_KEY, true))
    return VG_INVALID;
  READ_OP(s, s->ops->event_get(tx, event_key, out));
}

int store_event_count(struct store *s, int64_t *out)
{
  *out = 0;
  READ_OP(s, s->ops->event_count(tx, out));
}

void store_ledger_release(struct store_ledger *l)
{
  free(l->detail_json);
  l->detail_json = NULL;
}

int store_tx_ledger_put(struct store_tx *tx, const struct store_ledger *l)
{
  if (!store_valid_str(l->file_id, STORE_MAX_ID, true) ||
      !store_valid_str(l->upload_id, STORE_MAX_ID, false) ||
      !store_valid_str(l->user_id, STORE_MAX_USER, false) ||
      !store_valid_str(l->state, STORE_MAX_STATE, true) || !valid_json_arg(l->detail_json))
    return VG_INVALID;
  return OPS(tx)->ledger_put(tx, l);
}

int store_tx_ledger_get(struct store_tx *tx, const char *file_id, struct store_ledger *out)
{
  memset(out, 0, sizeof(*out));
  if (!store_valid_str(file_id, STORE_MAX_ID, true))
    return VG_INVALID;
  return OPS(tx)->ledger_get(tx, file_id, out);
}

int store_ledger_get(struct store *s, const char *file_id, struct store_ledger *out)
{
  memset(out, 0, sizeof(*out));
  if (!store_valid_str(file_id, STORE_MAX_ID, true))
    return VG_INVALID;
  READ_OP(s, s->ops->ledger_get(tx, file_id, out));
}

int store_tx_outbox_add(struct store_tx *tx, const char *event_key, const char *payload_json,
                        int64_t due_at, int64_t *id)
{
  if (!store_valid_str(event_key, STORE_MAX_EVENT_KEY, true) ||
      !store_valid_str(payload_json, STORE_MAX_BODY, true))
    return VG_INVALID;
  int64_t dummy;
  return OPS(tx)->outbox_add(tx, event_key, payload_json, due_at, id ? id : &dummy);
}

int store_outbox_count(struct store *s, int64_t *pending)
{
  *pending = 0;
  READ_OP(s, s->ops->outbox_count(tx, pending));
}

int store_tx_quarantine_add(struct store_tx *tx, const char *reason, const void *body,
                            size_t body_len, int64_t received_at)
{
  if (!store_valid_str(reason, STORE_MAX_REASON, true) || (!body && body_len))
    return VG_INVALID;
  if (body_len > STORE_MAX_BODY)
    body_len = STORE_MAX_BODY; /* keep the head for inspection */
  return OPS(tx)->quarantine_add(tx, reason, body ? body : "", body_len, received_at);
}

struct quarantine_arg {
  const char *reason;
  const void *body;
  size_t len;
  int64_t at;
};

static int run_quarantine(struct store_tx *tx, void *arg)
{
  struct quarantine_arg *a = arg;
  return store_tx_quarantine_add(tx, a->reason, a->body, a->len, a->at);
}

int store_quarantine_add(struct store *s, const char *reason, const void *body, size_t body_len,
                         int64_t received_at)
{
  struct quarantine_arg a = {reason, body, body_len, received_at};
  return store_run(s, run_quarantine, &a);
}

int store_quarantine_count(struct store *s, int64_t *out)
{
  *out = 0;
  READ_OP(s, s->ops->quarantine_count(tx, out));
}

/* ---- listings, outbox worker, leases ---- */

static bool valid_limit(int64_t limit)
{
  return limit >= 1 && limit <= STORE_MAX_LIST;
}

int store_ledger_get_by_upload(struct store *s, const char *upload_id, struct store_ledger *out)
{
  memset(out, 0, sizeof(*out));
  if (!store_valid_str(upload_id, STORE_MAX_ID, true))
    return VG_INVALID;
  READ_OP(s, s->ops->ledger_get_by_upload(tx, upload_id, out));
}

int store_ledger_list(struct store *s, const char *user_id, const char *state, int64_t limit,
                      store_ledger_cb cb, void *arg)
{
  if (!store_valid_str(user_id, STORE_MAX_USER, false) ||
      !store_valid_str(state, STORE_MAX_STATE, false) || !valid_limit(limit))
    return VG_INVALID;
  READ_OP(s, s->ops->ledger_list(tx, user_id, state, limit, cb, arg));
}

int store_event_list(struct store *s, const char *file_id, int64_t limit, store_event_cb cb,
                     void *arg)
{
  if (!store_valid_str(file_id, STORE_MAX_EVENT_ID, false) || !valid_limit(limit))
    return VG_INVALID;
  READ_OP(s, s->ops->event_list(tx, file_id, limit, cb, arg));
}

int store_outbox_due(struct store *s, int64_t now, int64_t limit, store_outbox_cb cb, void *arg)
{
  if (!valid_limit(limit))
    return VG_INVALID;
  READ_OP(s, s->ops->outbox_due(tx, now, limit, cb, arg));
}

int store_tx_outbox_delivered(struct store_tx *tx, int64_t id, int64_t now)
{
  if (id <= 0)
    return VG_INVALID;
  return OPS(tx)->outbox_delivered(tx, id, now);
}

int store_tx_outbox_failed(struct store_tx *tx, int64_t id, int64_t next_due_at, bool dead)
{
  if (id <= 0)
    return VG_INVALID;
  return OPS(tx)->outbox_failed(tx, id, next_due_at, dead);
}

struct outbox_arg {
  int64_t id, t;
  bool dead, delivered;
};

static int run_outbox(struct store_tx *tx, void *arg)
{
  struct outbox_arg *a = arg;
  return a->delivered ? store_tx_outbox_delivered(tx, a->id, a->t)
                      : store_tx_outbox_failed(tx, a->id, a->t, a->dead);
}

int store_outbox_delivered(struct store *s, int64_t id, int64_t now)
{
  struct outbox_arg a = {id, now, false, true};
  return store_run(s, run_outbox, &a);
}

int store_outbox_failed(struct store *s, int64_t id, int64_t next_due_at, bool dead)
{
  struct outbox_arg a = {id, next_due_at, dead, false};
  return store_run(s, run_outbox, &a);
}

int store_outbox_dead_count(struct store *s, int64_t *out)
{
  *out = 0;
  READ_OP(s, s->ops->outbox_dead_count(tx, out));
}

int store_outbox_list(struct store *s, enum store_outbox_state state, const char *file_id,
                      int64_t limit, store_outbox_cb cb, void *arg)
{
  if (state < STORE_OUTBOX_ANY || state > STORE_OUTBOX_DEAD ||
      !store_valid_str(file_id, STORE_MAX_ID, false) || !valid_limit(limit))
    return VG_INVALID;
  READ_OP(s, s->ops->outbox_list(tx, state, file_id, 0, limit, cb, arg));
}

struct outbox_get_arg {
  store_outbox_cb cb;
  void *arg;
  bool found;
};

static int outbox_get_cb(const struct store_outbox_item *item, void *arg)
{
  struct outbox_get_arg *a = arg;
  a->found = true;
  return a->cb(item, a->arg);
}

static int outbox_read_one(struct store *s, int64_t id, struct outbox_get_arg *a)
{
  READ_OP(s, s->ops->outbox_list(tx, STORE_OUTBOX_ANY, NULL, id, 1, outbox_get_cb, a));
}

int store_outbox_get(struct store *s, int64_t id, store_outbox_cb cb, void *arg)
{
  struct outbox_get_arg a = {cb, arg, false};
  int rc;

  if (id <= 0)
    return VG_INVALID;
  rc = outbox_read_one(s, id, &a);
  return rc == VG_OK && !a.found ? VG_NOTFOUND : rc;
}

int store_tx_outbox_retry(struct store_tx *tx, int64_t id, int64_t now, int64_t *changed)
{
  int64_t dummy;
  if (!changed)
    changed = &dummy;
  *changed = 0;
  if (id < 0)
    return VG_INVALID;
  return OPS(tx)->outbox_retry(tx, id, now, changed);
}

struct retry_arg {
  int64_t id, now, changed;
};

static int run_retry(struct store_tx *tx, void *arg)
{
  struct retry_arg *a = arg;
  return store_tx_outbox_retry(tx, a->id, a->now, &a->changed);
}

int store_outbox_retry(struct store *s, int64_t id, int64_t now, int64_t *changed)
{
  struct retry_arg a = {id, now, 0};
  int rc = store_run(s, run_retry, &a);
  if (changed)
    *changed = rc == VG_OK ? a.changed : 0;
  return rc;
}

int store_tx_prune(struct store_tx *tx, enum store_prune_what what, int64_t before, int64_t limit,
                   int64_t *deleted)
{
  *deleted = 0;
  if ((what != STORE_PRUNE_EVENTS && what != STORE_PRUNE_WEBHOOKS) || !valid_limit(limit))
    return VG_INVALID;
  return OPS(tx)->prune(tx, what, before, limit, deleted);
}

struct prune_arg {
  enum store_prune_what what;
  int64_t before, limit, deleted;
};

static int run_prune(struct store_tx *tx, void *arg)
{
  struct prune_arg *a = arg;
  return store_tx_prune(tx, a->what, a->before, a->limit, &a->deleted);
}

int store_prune(struct store *s, enum store_prune_what what, int64_t before, int64_t limit,
                int64_t *deleted)
{
  struct prune_arg a = {what, before, limit, 0};
  int rc = store_run(s, run_prune, &a);
  *deleted = rc == VG_OK ? a.deleted : 0;
  return rc;
}

int store_quarantine_list(struct store *s, int64_t limit, store_quarantine_cb cb, void *arg)
{
  if (!valid_limit(limit))
    return VG_INVALID;
  READ_OP(s, s->ops->quarantine_list(tx, limit, cb, arg));
}

struct lease_arg {
  const char *name, *owner;
  int64_t now, ttl;
  bool release;
};

static int run_lease(struct store_tx *tx, void *arg)
{
  struct lease_arg *a = arg;
  if (a->release)
    return OPS(tx)->lease_release(tx, a->name, a->owner);
  return OPS(tx)->lease_acquire(tx, a->name, a->owner, a->now, a->ttl);
}

int store_lease_acquire(struct store *s, const char *name, const char *owner, int64_t now,
                        int64_t ttl)
{
  if (!store_valid_str(name, STORE_MAX_ID, true) || !store_valid_str(owner, STORE_MAX_ID, true) ||
      ttl <= 0)
    return VG_INVALID;
  struct lease_arg a = {name, owner, now, ttl, false};
  return store_run(s, run_lease, &a);
}

int store_lease_release(struct store *s, const char *name, const char *owner)
{
  if (!store_valid_str(name, STORE_MAX_ID, true) || !store_valid_str(owner, STORE_MAX_ID, true))
    return VG_INVALID;
  struct lease_arg a = {name, owner, 0, 0, true};
  return store_run(s, run_lease, &a);
}
