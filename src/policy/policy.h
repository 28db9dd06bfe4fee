/*
 * policy.h: the [policy NAME] sections of the configuration, typed once per
 * (re)load, and the decision of what a signature request may carry.
 *
 * A struct policies is immutable after policies_load() and shared by the
 * request threads of one configuration generation (see svc/state.h); it owns
 * all its strings.
 */
#ifndef VG_POLICY_H
#define VG_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/limits.h"
#include "sig/sig.h"

struct cfg;

/* Signature fields a client may choose (client_may_set). */
enum policy_field {
  POLICY_F_PROCEDURE = 1 << 0,
  POLICY_F_CLASS_ID = 1 << 1,
  POLICY_F_STORAGE_REGION = 1 << 2,
  POLICY_F_SOURCE_CONTEXT = 1 << 3, /* the app's part, after the attribution token */
  POLICY_F_SESSION_CONTEXT = 1 << 4,
  POLICY_F_TASK_PRIORITY = 1 << 5,
  POLICY_F_TASK_NOTIFY_MODE = 1 << 6,
};

struct policy {
  char *name; /* "default" */
  int64_t validity;
  char *procedure;      /* NULL: none */
  uint64_t class_id;    /* 0: not sent */
  char *storage_region; /* NULL: the account default */
  uint64_t sub_app_id;  /* 0: [vod] sub_app_id, then the main application */
  int64_t task_priority;
  enum sig_notify_mode task_notify_mode;
  bool one_time;
  int64_t uploads_per_day, signatures_per_minute, signatures_per_upload; /* 0: no limit */
  unsigned client_may_set;                                               /* POLICY_F_* */
  int64_t max_size, max_duration;                                        /* 0: no limit */
  char **containers; /* NULL-terminated; NULL: any */
};

struct policies {
  struct policy *v;
  size_t n;
};

/* Type every [policy NAME] of c. Returns 0, or -1 with err naming the
 * section and key. On failure p is empty. */
int policies_load(struct policies *p, const struct cfg *c, char *err, size_t errlen);
void policies_release(struct policies *p);
/* The policy called name, or NULL. */
const struct policy *policies_find(const struct policies *p, const char *name);

/* Name of a client field as it appears in requests and client_may_set. */
const char *policy_field_name(enum policy_field f);

#endif
