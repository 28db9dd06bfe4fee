#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg/cfg.h"
#include "core/util.h"

static const struct {
  enum policy_field f;
  const char *name;
} fields[] = {
    {POLICY_F_PROCEDURE, "procedure"},
    {POLICY_F_CLASS_ID, "classId"},
    {POLICY_F_STORAGE_REGION, "storageRegion"},
    {POLICY_F_SOURCE_CONTEXT, "sourceContext"},
    {POLICY_F_SESSION_CONTEXT, "sessionContext"},
    {POLICY_F_TASK_PRIORITY, "taskPriority"},
    {POLICY_F_TASK_NOTIFY_MODE, "taskNotifyMode"},
};

const char *policy_field_name(enum policy_field f)
{
  for (size_t i = 0; i < ARRAY_SIZE(fields); i++)
    if (fields[i].f == f)
      return fields[i].name;
  return "?";
}

static char *dup_or_null(const char *s)
{
  return s && *s ? xstrdup(s) : NULL;
}

static void policy_release(struct policy *p)
{
  free(p->name);
  free(p->procedure);
  free(p->storage_region);
  if (p->containers)
    for (char **c = p->containers; *c; c++)
      free(*c);
  free(p->containers);
  memset(p, 0, sizeof(*p));
}

static int policy_load(struct policy *p, const struct cfg *c, size_t i, char *err, size_t errlen)
{
  const char *sec = cfg_policy_section(c, i);
  const char *mode = cfg_get_str(c, sec, "task_notify_mode");
  const char *const *list;
  size_t n;

  memset(p, 0, sizeof(*p));
  p->name = xstrdup(cfg_policy_name(c, i));
  p->validity = cfg_get_int(c, sec, "validity");
  p->procedure = dup_or_null(cfg_get_str(c, sec, "procedure"));
  p->class_id = (uint64_t)cfg_get_int(c, sec, "class_id");
  p->storage_region = dup_or_null(cfg_get_str(c, sec, "storage_region"));
  p->sub_app_id = (uint64_t)cfg_get_int(c, sec, "sub_app_id");
  if (!p->sub_app_id)
    p->sub_app_id = (uint64_t)cfg_get_int(c, "vod", "sub_app_id");
  p->task_priority = cfg_get_int(c, sec, "task_priority");
  p->task_notify_mode = !mode                         ? SIG_NOTIFY_UNSET
                        : strcmp(mode, "Change") == 0 ? SIG_NOTIFY_CHANGE
                        : strcmp(mode, "None") == 0   ? SIG_NOTIFY_NONE
                                                      : SIG_NOTIFY_FINISH;
  p->one_time = cfg_get_bool(c, sec, "one_time");
  p->uploads_per_day = cfg_get_int(c, sec, "uploads_per_day");
  p->signatures_per_minute = cfg_get_int(c, sec, "signatures_per_minute");
  p->signatures_per_upload = cfg_get_int(c, sec, "signatures_per_upload");
  p->max_size = cfg_get_int(c, sec, "max_size");
  p->max_duration = cfg_get_int(c, sec, "max_duration");

  list = cfg_get_list(c, sec, "client_may_set", &n);
  for (size_t k = 0; k < n; k++) {
    bool known = false;
    for (size_t f = 0; f < ARRAY_SIZE(fields); f++) {
      if (strcmp(list[k], fields[f].name) == 0) {
        p->client_may_set |= (unsigned)fields[f].f;
        known = true;
      }
    }
    if (!known) {
      snprintf(err, errlen, "[%s] client_may_set: unknown field '%s'", sec, list[k]);
      return -1;
    }
  }
  list = cfg_get_list(c, sec, "containers", &n);
  if (n) {
    p->containers = xcalloc(n + 1, sizeof(char *));
    for (size_t k = 0; k < n; k++)
      p->containers[k] = xstrdup(list[k]);
  }
  /* The checks sig_validate() would make on every request, made once. */
  {
    struct sig_params sp;
    enum sig_error e;
    sig_params_init(&sp);
    sp.secret_id = sig_str_of("x");
    sp.current_time = 1;
    sp.expire_time = 1 + p->validity;
    sp.procedure = sig_str_of(p->procedure);
    sp.storage_region = sig_str_of(p->storage_region);
    sp.task_priority = p->task_priority;
    sp.has |= SIG_HAS_TASK_PRIORITY;
    e = sig_validate(&sp);
    if (e != SIG_OK) {
      snprintf(err, errlen, "[%s]: %s", sec, sig_error_str(e));
      return -1;
    }
  }
  return 0;
}

int policies_load(struct policies *p, const struct cfg *c, char *err, size_t errlen)
{
  size_t n = cfg_policy_count(c);

  p->v = xcalloc(n, sizeof(struct policy));
  p->n = 0;
  for (size_t i = 0; i < n; i++) {
    if (policy_load(&p->v[i], c, i, err, errlen)) {
      policy_release(&p->v[i]);
      policies_release(p);
      return -1;
    }
    p->n++;
  }
  return 0;
}

void policies_release(struct policies *p)
{
  for (size_t i = 0; i < p->n; i++)
    policy_release(&p->v[i]);
  free(p->v);
  p->v = NULL;
  p->n = 0;
}

const struct policy *policies_find(const struct policies *p, const char *name)
{
  for (size_t i = 0; i < p->n; i++)
    if (strcmp(p->v[i].name, name) == 0)
      return &p->v[i];
  return NULL;
}
