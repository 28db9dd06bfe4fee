/* Unit tests for event/ledger: the merge rule is a join (every order of the
 * same events gives the same facts; duplicates change nothing), the derived
 * state, the post-upload caps and the API object. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event/event.h"
#include "event/ledger.h"

static const char *const bodies[] = {
    /* 0: NewFileUpload */
    "{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":\"528\","
    "\"MediaBasicInfo\":{\"MediaUrl\":\"https://v/a.mp4\",\"CoverUrl\":\"https://v/c.jpg\","
    "\"Type\":\"mp4\",\"Name\":\"clip\",\"SourceInfo\":{\"SourceContext\":\"x\"}},"
    "\"ProcedureTaskId\":\"t1\",\"MetaData\":{\"Size\":5000,\"Duration\":12.5,"
    "\"Container\":\"mov,mp4,m4a\"}}}",
    /* 1: PROCESSING */
    "{\"EventType\":\"ProcedureStateChanged\",\"ProcedureStateChangeEvent\":{\"TaskId\":\"t1\","
    "\"Status\":\"PROCESSING\",\"FileId\":\"528\",\"FileUrl\":\"https://v/other.mp4\"}}",
    /* 2: FINISH, review (Porn 80) */
    "{\"EventType\":\"ProcedureStateChanged\",\"ProcedureStateChangeEvent\":{\"TaskId\":\"t1\","
    "\"Status\":\"FINISH\",\"FileId\":\"528\",\"MetaData\":{\"Size\":9000},"
    "\"AiContentReviewResultSet\":[{\"Type\":\"Porn\",\"PornTask\":{\"Status\":\"SUCCESS\","
    "\"Output\":{\"Confidence\":80,\"Suggestion\":\"review\",\"Label\":\"sexy\"}}}]}}",
    /* 3: another task's FINISH, pass */
    "{\"EventType\":\"ProcedureStateChanged\",\"ProcedureStateChangeEvent\":{\"TaskId\":\"t2\","
    "\"Status\":\"FINISH\",\"FileId\":\"528\",\"AiContentReviewResultSet\":[{\"Type\":"
    "\"Terrorism\",\"TerrorismTask\":{\"Status\":\"SUCCESS\",\"Output\":{\"Confidence\":3,"
    "\"Suggestion\":\"pass\",\"Label\":\"\"}}}]}}",
};
#define N 4

static struct vod_event evs[N];

static int setup(void **state)
{
  char reason[EVENT_REASON_MAX];
  for (int i = 0; i < N; i++)
    if (event_parse(bodies[i], strlen(bodies[i]), NULL, &evs[i], reason, sizeof(reason))) {
      fprintf(stderr, "body %d: %s\n", i, reason);
      return -1;
    }
  return 0;
}

static int teardown(void **state)
{
  for (int i = 0; i < N; i++)
    event_release(&evs[i]);
  return 0;
}

static char *apply(const int *order, int n, bool dup)
{
  json_t *d = json_object();
  char *s;
  for (int i = 0; i < n; i++) {
    ledger_merge_event(d, &evs[order[i]]);
    if (dup)
      assert_false(ledger_merge_event(d, &evs[order[i]]));
  }
  s = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
  json_decref(d);
  return s;
}

static void every_order_same_facts(void **state)
{
  int p[N] = {0, 1, 2, 3};
  char *want = apply(p, N, false);
  int count = 0;

  /* All 24 permutations (Heap's algorithm, iterative). */
  int c[N] = {0};
  for (int i = 0; i < N;) {
    if (c[i] < i) {
      int j = i % 2 ? c[i] : 0, t = p[j];
      p[j] = p[i];
      p[i] = t;
      char *got = apply(p, N, count % 2 == 0);
      assert_string_equal(got, want);
      free(got);
      count++;
      c[i]++;
      i = 0;
    } else {
      c[i++] = 0;
    }
  }
  assert_int_equal(count, 23);
  {
    json_t *d = json_loads(want, 0, NULL);
    assert_int_equal(ledger_state_of(d), LEDGER_REVIEW);
    /* NewFileUpload's media fields win over the procedure's. */
    json_t *u = ledger_upload_json("up1", "alice", "review", "528", d, 77);
    char *s = json_dumps(u, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(s, "{\"coverUrl\":\"https://v/c.jpg\",\"fileId\":\"528\",\"mediaUrl\":"
                           "\"https://v/a.mp4\",\"reason\":null,\"review\":{\"confidence\":80.0,"
                           "\"label\":\"sexy\",\"suggestion\":\"review\"},\"state\":\"review\","
                           "\"updatedAt\":77,\"uploadId\":\"up1\",\"user\":\"alice\"}");
    free(s);
    json_decref(u);
    json_decref(d);
  }
  free(want);
}

static void states_progress_and_never_regress(void **state)
{
  json_t *d = json_object();
  assert_int_equal(ledger_state_of(d), LEDGER_UPLOADED);
  ledger_merge_event(d, &evs[0]);
  assert_int_equal(ledger_state_of(d), LEDGER_UPLOADED);
  ledger_merge_event(d, &evs[1]);
  assert_int_equal(ledger_state_of(d), LEDGER_PROCESSING);
  ledger_merge_event(d, &evs[3]);
  assert_int_equal(ledger_state_of(d), LEDGER_PASSED);
  assert_false(ledger_merge_event(d, &evs[1])); /* PROCESSING after FINISH */
  assert_int_equal(ledger_state_of(d), LEDGER_PASSED);
  ledger_merge_event(d, &evs[2]); /* a worse FINISH */
  assert_int_equal(ledger_state_of(d), LEDGER_REVIEW);
  assert_false(ledger_merge_event(d, &evs[3]));
  assert_int_equal(ledger_state_of(d), LEDGER_REVIEW);
  json_decref(d);
}

static void caps(void **state)
{
  static const char *const mov[] = {"MOV", NULL};
  static const char *const mp4[] = {"webm", "mp4", NULL};
  json_t *d = json_object();

  ledger_merge_event(d, &evs[2]); /* procedure says 9000 bytes */
  assert_false(ledger_apply_caps(d, 9000, 0, NULL));
  ledger_merge_event(d, &evs[0]); /* upload says 5000: it wins */
  assert_false(ledger_apply_caps(d, 6000, 13, mp4));
  assert_true(ledger_apply_caps(d, 0, 12, NULL));
  assert_string_equal(json_string_value(json_object_get(d, "rejected")),
                      "duration 12.500 exceeds max_duration 12");
  assert_false(ledger_apply_caps(d, 1, 0, NULL)); /* the first reason sticks */
  assert_int_equal(ledger_state_of(d), LEDGER_REJECTED);
  json_decref(d);

  d = json_object();
  ledger_merge_event(d, &evs[0]);
  assert_true(ledger_apply_caps(d, 4999, 0, NULL));
  assert_string_equal(json_string_value(json_object_get(d, "rejected")),
                      "size 5000 exceeds max_size 4999");
  json_decref(d);
  d = json_object();
  ledger_merge_event(d, &evs[0]);
  assert_true(ledger_apply_caps(d, 0, 0, mov)); /* Type "mp4" decides, not Container */
  assert_string_equal(json_string_value(json_object_get(d, "rejected")),
                      "container mp4 is not accepted");
  json_decref(d);
}

static void attribution_ok_is_sticky(void **state)
{
  json_t *d = json_object();
  assert_true(ledger_merge_attribution(d, "bad_mac"));
  assert_true(ledger_merge_attribution(d, "ok"));
  assert_false(ledger_merge_attribution(d, "missing"));
  assert_string_equal(json_string_value(json_object_get(d, "attribution")), "ok");
  json_decref(d);
}

static void state_names(void **state)
{
  enum ledger_state s;
  for (int i = LEDGER_ISSUED; i <= LEDGER_REJECTED; i++) {
    assert_true(ledger_state_parse(ledger_state_str((enum ledger_state)i), &s));
    assert_int_equal(s, i);
  }
  assert_false(ledger_state_parse("Passed", &s));
  assert_false(ledger_state_parse(NULL, &s));
  assert_false(ledger_state_terminal(LEDGER_PROCESSING));
  assert_true(ledger_state_terminal(LEDGER_FAILED));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_order_same_facts),
      cmocka_unit_test(states_progress_and_never_regress),
      cmocka_unit_test(caps),
      cmocka_unit_test(attribution_ok_is_sticky),
      cmocka_unit_test(state_names),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
