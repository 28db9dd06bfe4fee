/*
 * event.h: VOD event notifications, normalised (spec tencent-vod.md 4, 5).
 *
 * Parses a push body (v3 `EventType` + matching member, or the legacy 2.0
 * `{"version":"4.0","eventType","data"}` envelope) or a PullEvents
 * response (`Response.EventSet[]` items with `EventHandle`) into struct
 * vod_event. Pure: jansson and OpenSSL only; `now` is an argument.
 *
 * Tolerance and strictness: unknown fields are ignored and null counts as
 * absent, everywhere. A field we use that has the wrong JSON type is an
 * error (bad_type:<path>), as is a required one that is absent
 * (missing_field:<path>). Duplicate object keys, trailing bytes and NUL
 * bytes are rejected (not_json): two parsers must never disagree about one
 * body.
 *
 * Ownership: after a successful parse every char * field of struct
 * vod_event is a non-NULL, NUL-terminated string ("" when the event does
 * not carry it) owned by the event, either its own malloc'd block or a
 * part of the event's string block (`strings`); event_release() frees
 * them all. Callers read them and never free or replace one. After a
 * failed parse the event is empty (released).
 *
 * Idempotency key (spec 5.4), identical for v3 and legacy deliveries of
 * the same event, push or pull, so that any two of them dedupe:
 *   NewFileUpload            "NewFileUpload/<FileId>"
 *   ProcedureStateChanged    "ProcedureStateChanged/<TaskId>/<Status>"
 *                            (with taskNotifyMode=Change, PROCESSING and
 *                            FINISH of one task are distinct events)
 *   any other type           "<EventType>/sha256:<first 32 hex of SHA-256
 *                            of the event object, compact with sorted
 *                            keys, without EventHandle, Sign and T>"
 * Ids used in keys are 1..EVENT_MAX_ID printable ASCII without '/' or
 * space (bad_value:<path> otherwise), so a key parses back unambiguously.
 *
 * Review verdict (ProcedureStateChanged only; EVENT_VERDICT_NONE for every
 * other type):
 *   - Status PROCESSING (taskNotifyMode=Change) or unknown: PENDING.
 *   - Status FINISH: each AiContentReviewResultSet (legacy:
 *     contentReviewList) subtask gets a severity: its Output.Suggestion
 *     (pass < review < block; an unknown suggestion counts as review), a
 *     subtask with Status FAIL, still PROCESSING, or without an Output is
 *     failed. The worst wins, ordered pass < review < failed < block: a
 *     definite block is never downgraded to "failed" because another
 *     subtask broke. Ties go to the higher confidence. The deciding
 *     subtask's Type, Label, Suggestion and Confidence are kept.
 *   - FINISH with no review subtask at all: PASSED (the procedure had no
 *     review to hold the file back; the ledger's post-upload caps still
 *     apply).
 *   - Thresholds (struct event_review_policy, 0 = unset) only escalate:
 *     confidence >= block_at makes a subtask block, confidence >= review_at
 *     makes a pass a review. They never relax VOD's own suggestion.
 */
#ifndef VG_EVENT_H
#define VG_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/limits.h"

#define EVENT_REASON_MAX 96 /* "missing_field:" + the longest path we use */

enum event_format { EVENT_FORMAT_V3 = 1, EVENT_FORMAT_LEGACY = 2 };

enum event_type {
  EVENT_TYPE_OTHER = 0, /* a valid event of a type we only store */
  EVENT_TYPE_NEW_FILE_UPLOAD,
  EVENT_TYPE_PROCEDURE_STATE_CHANGED,
};

enum event_status {
  EVENT_STATUS_NONE = 0, /* the event type has no Status */
  EVENT_STATUS_PROCESSING,
  EVENT_STATUS_FINISH,
  EVENT_STATUS_OTHER, /* a Status string we do not know; see status_str */
};

enum event_verdict {
  EVENT_VERDICT_NONE = 0, /* not a ProcedureStateChanged */
  EVENT_VERDICT_PENDING,
  EVENT_VERDICT_PASSED,
  EVENT_VERDICT_REVIEW,
  EVENT_VERDICT_FAILED,
  EVENT_VERDICT_BLOCKED,
};

enum event_task_state {
  EVENT_TASK_SUCCESS = 0,
  EVENT_TASK_FAIL,
  EVENT_TASK_PROCESSING,
  EVENT_TASK_UNKNOWN, /* no or an unknown Status; decided by its Output */
};

/* One content-review subtask as VOD reported it. */
struct event_review_task {
  char *type;        /* "Porn", "Terrorism", "Porn.Asr", ... */
  char *suggestion;  /* "pass", "review", "block", or "" without Output */
  char *label;       /* "sexy", "", ... */
  double confidence; /* 0..100; -1 when absent */
  enum event_task_state state;
  bool has_output;
};

struct event_review_policy {
  double block_at;  /* 0 = unset; else 0 < x <= 100 */
  double review_at; /* 0 = unset */
};

struct event_review {
  enum event_verdict verdict;
  /* The deciding subtask: borrowed from the event's tasks[] (valid while
   * the event lives), "" and -1 when no subtask decided. */
  const char *type;
  const char *label;
  const char *suggestion;
  double confidence;
};

struct event_meta {
  bool present;    /* a MetaData object was there */
  int64_t size;    /* bytes; -1 unknown */
  double duration; /* seconds; -1 unknown */
  int64_t width;   /* px; -1 unknown */
  int64_t height;  /* px; -1 unknown */
  char *container; /* MetaData.Container, e.g. "mov,mp4,m4a,3gp,3g2,mj2" */
};

struct vod_event {
  enum event_format format;
  enum event_type type;
  char *type_str; /* EventType as received, e.g. "NewFileUpload" */
  char *file_id;
  /* ProcedureStateChanged: TaskId (legacy vodTaskId); NewFileUpload: the
   * ProcedureTaskId it started (legacy procedureTaskId), "" if none. */
  char *task_id;
  enum event_status status;
  char *status_str;
  char *source_context;  /* MediaBasicInfo.SourceInfo.SourceContext */
  char *session_context; /* ProcedureStateChangeEvent.SessionContext */
  char *media_url;       /* MediaBasicInfo.MediaUrl / FileUrl / fileUrl */
  char *cover_url;
  char *name;       /* MediaBasicInfo.Name / FileName / fileName */
  char *media_type; /* MediaBasicInfo.Type, e.g. "mp4" */
  struct event_meta meta;
  struct event_review_task *tasks; /* review subtasks, n_tasks of them */
  size_t n_tasks;
  struct event_review review; /* computed with the policy given to parse */
  char *event_handle;         /* pull only; "" for push */
  char *sign;                 /* top-level Sign (or sign), "" if absent */
  bool has_t;
  int64_t t; /* top-level T (or t), number or decimal string */
  /* The object has a top-level Sign, T, sign, t or EventHandle member (any
   * value, null too): the members a stored copy leaves out (svc/intake.h). */
  bool has_volatile_keys;
  /* The copy of the body to store (event_parse only, NULL otherwise, and
   * NULL when it would equal the body): the body without its top-level
   * members whose value is null or that are volatile (above), every other
   * member's text verbatim and in order. VOD's v3 bodies list each of
   * about 35 EventContent members, all null but one: a third of a 3 KB
   * body. stored_len is its length (no NUL inside; NUL-terminated). */
  char *stored_body;
  size_t stored_len;
  /* Internal: one malloc'd block holding the strings event_parse decoded
   * (fewer allocations per event); NULL when every string is its own. */
  char *strings;
  size_t strings_cap;
  size_t strings_used;
  char key[EVENT_MAX_KEY + 1];
};

/* A zeroed event that event_release() accepts. */
void event_init(struct vod_event *ev);
/* Frees every string and the task array; leaves the event as after init. */
void event_release(struct vod_event *ev);

/* Parse one push body [body, body+len) (need not be NUL-terminated) into
 * *ev (which the caller has not initialised or has released). pol may be
 * NULL for VOD's suggestions as they are. Returns VG_OK, VG_TOOBIG (len >
 * EVENT_MAX_BODY, reason "too_big"), VG_INVALID or VG_NOMEM, and on error
 * writes the reason into reason[cap]: not_json, too_deep (nesting beyond
 * JSON_MAX_DEPTH), not_object, unknown_format, missing_field:<path>,
 * bad_type:<path>, bad_value:<path>, too_big:<path> (more than
 * EVENT_MAX_REVIEW_TASKS subtasks). */
int event_parse(const char *body, size_t len, const struct event_review_policy *pol,
                struct vod_event *ev, char *reason, size_t cap) WARN_UNUSED;

/* The reference implementation of event_parse over a jansson tree: same
 * contract, same results (tests/unit/test_event_oracle.c and
 * fuzz/fuzz_event_oracle.c hold event_parse to it). event_parse runs over
 * core/jscan.h tokens for NewFileUpload and ProcedureStateChanged and calls
 * this for every other type (their key hashes the canonical dump). */
int event_parse_jansson(const char *body, size_t len, const struct event_review_policy *pol,
                        struct vod_event *ev, char *reason, size_t cap) WARN_UNUSED;

/* Recompute ev->review under another policy (e.g. the uploader's, known
 * only after the attribution token was verified). */
void event_review_eval(struct vod_event *ev, const struct event_review_policy *pol);

/* One item of a PullEvents response. rc/reason as for event_parse (plus
 * missing_field:EventHandle / bad_type:EventHandle). When rc != VG_OK the
 * event is released (all fields NULL) except ev.event_handle, which is set
 * when the item had a string EventHandle, so that the puller can still
 * quarantine the raw item and confirm it. */
struct event_pull_item {
  int rc;
  char reason[EVENT_REASON_MAX];
  struct vod_event ev;
  char *raw; /* the item, compact JSON, malloc'd (for the store) */
};

struct event_pull {
  struct event_pull_item *items;
  size_t n;
  char *request_id;    /* Response.RequestId, "" if absent */
  char *error_code;    /* Response.Error.Code, "" on success */
  char *error_message; /* Response.Error.Message */
};

/* Parse a PullEvents response body (at most EVENT_MAX_PULL_BODY bytes,
 * else VG_TOOBIG "too_big"). EventSet null or absent gives n = 0.
 * The whole call fails (VG_INVALID/VG_TOOBIG/VG_NOMEM with a reason) only
 * if the envelope is bad or holds more than EVENT_MAX_PULL_EVENTS items;
 * an API error (Response.Error) is VG_OK with error_code set. Each item
 * is parsed on its own (see struct event_pull_item). Release with
 * event_pull_release() in every case. */
int event_parse_pull(const char *body, size_t len, const struct event_review_policy *pol,
                     struct event_pull *out, char *reason, size_t cap) WARN_UNUSED;
void event_pull_release(struct event_pull *p);

/* Stable lower-case names for logs, the store and the API:
 * verdict: "none", "pending", "passed", "review", "failed", "blocked". */
const char *event_verdict_str(enum event_verdict v);
const char *event_format_str(enum event_format f); /* "v3", "legacy" */

/* Callback authentication (spec 5.3): Sign = hex(MD5(sign_key + decimal
 * T)), T an expiry in Unix seconds. sign_hex is compared case-insensitively
 * and in constant time. Checks, in order: missing, malformed (not 32 hex
 * digits), bad (MAC differs), expired (now > t + skew). */
enum event_sign_status {
  EVENT_SIGN_OK = 0,
  EVENT_SIGN_MISSING,
  EVENT_SIGN_MALFORMED,
  EVENT_SIGN_BAD,
  EVENT_SIGN_EXPIRED,
};
enum event_sign_status event_check_sign(const char *sign_key, const char *sign_hex, int64_t t,
                                        int64_t now, int64_t skew) WARN_UNUSED;
/* "ok", "missing", "malformed", "bad_sign", "expired". */
const char *event_sign_str(enum event_sign_status s);

#endif
