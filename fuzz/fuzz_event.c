/* libFuzzer target: event push bodies and PullEvents responses. Checks
 * the invariants callers rely on: every string of a parsed event is
 * non-NULL, the key is non-empty and bounded, the verdict is in range. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct vod_event *ev)
{
  const char *s[] = {
      ev->type_str,       ev->file_id,         ev->task_id,        ev->status_str,
      ev->source_context, ev->session_context, ev->media_url,      ev->cover_url,
      ev->name,           ev->media_type,      ev->meta.container, ev->event_handle,
      ev->sign,           ev->review.type,     ev->review.label,   ev->review.suggestion};
  for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
    if (!s[i])
      abort();
  if (!ev->key[0] || strlen(ev->key) > EVENT_MAX_KEY)
    abort();
  if (ev->review.verdict > EVENT_VERDICT_BLOCKED)
    abort();
  if ((ev->type == EVENT_TYPE_PROCEDURE_STATE_CHANGED) !=
      (ev->review.verdict != EVENT_VERDICT_NONE))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const struct event_review_policy pol = {.block_at = 90, .review_at = 50};
  struct vod_event ev;
  struct event_pull p;
  char reason[EVENT_REASON_MAX];

  if (event_parse((const char *)data, size, NULL, &ev, reason, sizeof(reason)) == VG_OK) {
    check(&ev);
    event_review_eval(&ev, &pol);
    check(&ev);
    event_release(&ev);
  } else if (!reason[0]) {
    abort();
  }
  if (event_parse_pull((const char *)data, size, &pol, &p, reason, sizeof(reason)) == VG_OK) {
    for (size_t i = 0; i < p.n; i++) {
      if (!p.items[i].raw)
        abort();
      if (p.items[i].rc == VG_OK)
        check(&p.items[i].ev);
      else if (!p.items[i].reason[0])
        abort();
    }
  }
  event_pull_release(&p);
  return 0;
}
