/*
 * store_impl.h: the interface a store backend implements (not for callers:
 * they use store.h).
 *
 * A backend defines a struct that begins with `struct store` (so a
 * struct store * can be cast to it) and a static const struct store_ops.
 * store.c validates every argument (lengths, required fields) before it
 * calls an op, so ops may assume bounded, NUL-terminated strings and
 * non-NULL required pointers.
 *
 * Transactions: ops that take a struct store_tx * run on a connection the
 * backend chose. run() hands a writable tx to the caller's callback;
 * read_begin()/read_end() lend a read-only tx for the store_* read
 * functions. A backend's tx struct begins with `struct store_tx`.
 */
#ifndef VG_STORE_IMPL_H
#define VG_STORE_IMPL_H

#include "store/store.h"

struct store_ops {
  const char *name;
  void (*close)(struct store *s);
  int (*run)(struct store *s, store_tx_fn fn, void *arg);
  int (*submit)(struct store *s, store_tx_fn fn, void *arg, store_done_fn done, void *done_arg);
  /* Lends a connection for reads of committed data; VG_IO if none can be
   * opened. read_end gives it back. */
  int (*read_begin)(struct store *s, struct store_tx **tx);
  void (*read_end)(struct store *s, struct store_tx *tx);

  int (*schema_version)(struct store_tx *tx, int64_t *out);

  int (*session_create)(struct store_tx *tx, const struct store_session *sess);
  int (*session_add_signature)(struct store_tx *tx, const char *upload_id, int64_t limit,
                               int64_t *count);
  int (*session_get)(struct store_tx *tx, const char *upload_id, struct store_session *out);

  int (*audit_append)(struct store_tx *tx, const struct store_audit *a);
  int (*audit_count)(struct store_tx *tx, const char *upload_id, int64_t *out);

  int (*token_add)(struct store_tx *tx, const struct store_token *t);
  int (*token_revoke)(struct store_tx *tx, const char *id, int64_t now);
  int (*token_find)(struct store_tx *tx, const char *hash_hex, struct store_token *out);
  int (*token_list)(struct store_tx *tx, store_token_cb cb, void *arg);

  int (*quota_consume)(struct store_tx *tx, const char *user_id, int64_t day, int64_t limit,
                       int64_t *used);
  int (*quota_get)(struct store_tx *tx, const char *user_id, int64_t day, int64_t *used);
  int (*quota_add)(struct store_tx *tx, const char *user_id, int64_t day, int64_t n);

  int (*event_insert)(struct store_tx *tx, const struct store_event *ev, bool *is_new);
  int (*event_get)(struct store_tx *tx, const char *event_key, struct store_event_record *out);
  int (*event_count)(struct store_tx *tx, int64_t *out);
  int (*ledger_put)(struct store_tx *tx, const struct store_ledger *l);
  int (*ledger_get)(struct store_tx *tx, const char *file_id, struct store_ledger *out);
  int (*outbox_add)(struct store_tx *tx, const char *event_key, const char *payload_json,
                    int64_t due_at, int64_t *id);
  int (*outbox_count)(struct store_tx *tx, int64_t *pending);
  int (*quarantine_add)(struct store_tx *tx, const char *reason, const void *body, size_t body_len,
                        int64_t received_at);
  int (*quarantine_count)(struct store_tx *tx, int64_t *out);

  int (*ledger_get_by_upload)(struct store_tx *tx, const char *upload_id, struct store_ledger *out);
  int (*ledger_list)(struct store_tx *tx, const char *user_id, const char *state, int64_t limit,
                     store_ledger_cb cb, void *arg);
  int (*event_list)(struct store_tx *tx, const char *file_id, int64_t limit, store_event_cb cb,
                    void *arg);
  int (*outbox_due)(struct store_tx *tx, int64_t now, int64_t limit, store_outbox_cb cb, void *arg);
  int (*outbox_delivered)(struct store_tx *tx, int64_t id, int64_t now);
  int (*outbox_failed)(struct store_tx *tx, int64_t id, int64_t next_due_at, bool dead);
  int (*outbox_dead_count)(struct store_tx *tx, int64_t *out);
  /* id > 0: that row only (state ANY, file_id NULL, limit 1). */
  int (*outbox_list)(struct store_tx *tx, enum store_outbox_state state, const char *file_id,
                     int64_t id, int64_t limit, store_outbox_cb cb, void *arg);
  int (*outbox_retry)(struct store_tx *tx, int64_t id, int64_t now, int64_t *changed);
  int (*prune)(struct store_tx *tx, enum store_prune_what what, int64_t before, int64_t limit,
               int64_t *deleted);
  int (*quarantine_list)(struct store_tx *tx, int64_t limit, store_quarantine_cb cb, void *arg);
  int (*lease_acquire)(struct store_tx *tx, const char *name, const char *owner, int64_t now,
                       int64_t ttl);
  int (*lease_release)(struct store_tx *tx, const char *name, const char *owner);
};

struct store {
  const struct store_ops *ops;
};

struct store_tx {
  struct store *store;
  bool writable; /* false for read_begin() connections */
};

/* Backend constructors, called by store_open() with the url's target. */
int store_sqlite_open(const char *path, const struct store_options *opt, struct store **out);
int store_pg_open(const char *conninfo, const struct store_options *opt, struct store **out);

/* Shared schema checks used by both backends' callers: see store.c. */
bool store_valid_str(const char *s, size_t max, bool required);

#endif
