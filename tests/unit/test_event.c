/* Unit tests for event: the example bodies of spec 4.4 (tests/data/events,
 * shared with the integration tests), their variants, the idempotency key,
 * the review verdict and the callback Sign. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/io.h"
#include "core/util.h"
#include "event/event.h"

/* The data directory, from VODGATE_SRC or from this file's path (meson
 * compiles it as ../tests/unit/test_event.c relative to the build dir,
 * which is where tests run). */
static char *load(const char *name, size_t *len)
{
  const char *src = getenv("VODGATE_SRC");
  char path[4096];
  struct buf b;

  if (src)
    snprintf(path, sizeof(path), "%s/tests/data/events/%s", src, name);
  else
    snprintf(path, sizeof(path), "%.*sdata/events/%s",
             (int)(strlen(__FILE__) - strlen("unit/test_event.c")), __FILE__, name);
  buf_init(&b, EVENT_MAX_PULL_BODY);
  if (read_file(path, &b) != VG_OK)
    fail_msg("cannot read %s", path);
  return buf_detach(&b, len);
}

/* Parse a data file; returns the rc and fills ev and reason. */
static int parse_file(const char *name, const struct event_review_policy *pol, struct vod_event *ev,
                      char *reason)
{
  size_t len;
  char *body = load(name, &len);
  int rc = event_parse(body, len, pol, ev, reason, EVENT_REASON_MAX);
  free(body);
  return rc;
}

static int parse_str(const char *s, struct vod_event *ev, char *reason)
{
  return event_parse(s, strlen(s), NULL, ev, reason, EVENT_REASON_MAX);
}

#define MEDIA_URL                                                                                  \
  "https://1500000001.vod2.myqcloud.com/6c1a2b3cvodcq1500000001/8f2e9a1b5285890799999999999/"      \
  "AbCdEfGhIjKL.mp4"
#define TASK_ID "1500000001-procedurev2-0a1b2c3d4e5f60718293a4b5c6d7e8f9tt0"

static void v3_newfileupload(void **state)
{
  struct vod_event ev;
  char reason[EVENT_REASON_MAX];

  assert_int_equal(parse_file("newfileupload.json", NULL, &ev, reason), VG_OK);
  assert_string_equal(reason, "");
  assert_int_equal(ev.format, EVENT_FORMAT_V3);
  assert_int_equal(ev.type, EVENT_TYPE_NEW_FILE_UPLOAD);
  assert_string_equal(ev.type_str, "NewFileUpload");
  assert_string_equal(ev.file_id, "5285890799999999999");
  assert_string_equal(ev.task_id, TASK_ID);
  assert_int_equal(ev.status, EVENT_STATUS_NONE);
  assert_string_equal(ev.status_str, "");
  assert_string_equal(ev.source_context, "{\"uid\":\"u_42\",\"course\":7}");
  assert_string_equal(ev.session_context, "");
  assert_string_equal(ev.media_url, MEDIA_URL);
  assert_string_equal(ev.cover_url, "");
  assert_string_equal(ev.name, "my-first-clip");
  assert_string_equal(ev.media_type, "mp4");
  assert_true(ev.meta.present);
  assert_int_equal(ev.meta.size, 7700180);
  assert_true(ev.meta.duration == 60.0);
  assert_int_equal(ev.meta.width, 640);
  assert_int_equal(ev.meta.height, 480);
  assert_string_equal(ev.meta.container, "mov,mp4,m4a,3gp,3g2,mj2");
  assert_int_equal(ev.n_tasks, 0);
  assert_int_equal(ev.review.verdict, EVENT_VERDICT_NONE);
  assert_string_equal(ev.event_handle, "");
  assert_string_equal(ev.sign, "");
  assert_false(ev.has_t);
  assert_string_equal(ev.key, "NewFileUpload/5285890799999999999");
  event_release(&ev);
  assert_null(ev.file_id);
  event_release(&ev); /* twice is fine */
}

static void v3_nulls_and_unknown_fields(void **state)
{
  struct vod_event ev;
  char reason[EVENT_REASON_MAX];

  assert_int_equal(parse_file("newfileupload_nulls.json", NULL, &ev, reason), VG_OK);
  assert_string_equal(ev.key, "NewFileUpload/5285890799999999999");
  assert_string_equal(ev.source_context, "{\"uid\":\"u_42\",\"course\":7}");
  assert_string_equal(ev.sign, "9c88f0346e3c64e8cde4871eb5c032ba");
  assert_true(ev.has_t);
  assert_int_equal(ev.t, 1551113665);
  assert_int_equal(event_check_sign("MySignKey123", ev.sign, ev.t, 1551113665, 0), EVENT_SIGN_OK);
  event_release(&ev);
}

static void v3_procedure_block(void **state)
{
  struct vod_event ev;
  char reason[EVENT_REASON_MAX];

  assert_int_equal(parse_file("procedure_block.json", NULL, &ev, reason), VG_OK);
  assert_int_equal(ev.type, EVENT_TYPE_PROCEDURE_STATE_CHANGED);
  assert_string_equal(ev.task_id, TASK_ID);
  assert_int_equal(ev.status, EVENT_STATUS_FINISH);
  assert_string_equal(ev.status_str, "FINISH");
  assert_string_equal(ev.file_id, "5285890799999999999");
  assert_string_equal(ev.name, "my-first-clip");
  assert_string_equal(ev.media_url, MEDIA_URL);
  assert_string_equal(ev.session_context, "{\"uid\":\"u_42\",\"course\":7}");
  assert_string_equal(ev.source_context, "");
  assert_int_equal(ev.meta.size, 7700180);
  assert_int_equal(ev.n_tasks, 3);
  assert_string_equal(ev.tasks[0].type, "Porn");
  assert_string_equal(ev.tasks[0].suggestion, "block");
  assert_string_equal(ev.tasks[0].label, "sexy");
  assert_true(ev.tasks[0].confidence == 97);
  assert_int_equal(ev.tasks[0].state, EVENT_TASK_SUCCESS);
  assert_string_equal(ev.tasks[1].type, "Terrorism");
  assert_string_equal(ev.tasks[2].type, "Political");
  assert_int_equal(ev.review.verdict, EVENT_VERDICT_BLOCKED);
  assert_string_equal(event_verdict_str(ev.review.verdict), "blocked");
  assert_string_equal(ev.review.type, "Porn");
  assert_string_equal(ev.review.label, "sexy");
  assert_string_equal(ev.review.suggestion, "block");
  assert_true(ev.review.confidence == 97);
  assert_string_equal(ev.key, "ProcedureStateChanged/" TASK_ID "/FINISH");
  event_release(&ev);
}

static void v3_procedure_verdicts(void **state)
{
  static const struct {
    const char *file;
    enum event_verdict v;
    const char *type, *label;
    double conf;
    const char *key_status;
  } cases[] = {
      {"procedure_pass.json", EVENT_VERDICT_PASSED, "Porn", "porn", 3, "FINISH"},
      {"procedure_review.json", EVENT_VERDICT_REVIEW, "Terrorism", "guns", 71, "FINISH"},
      {"procedure_fail.json", EVENT_VERDICT_FAILED, "Political", "", -1, "FINISH"},
      {"procedure_processing.json", EVENT_VERDICT_PENDING, "", "", -1, "PROCESSING"},
      {"procedure_noreview.json", EVENT_VERDICT_PASSED, "", "", -1, "FINISH"},
  };

  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    struct vod_event ev;
    char reason[EVENT_REASON_MAX], key[EVENT_MAX_KEY];

    assert_int_equal(parse_file(cases[i].file, NULL, &ev, reason), VG_OK);
    if (ev.review.confidence != cases[i].conf)
      fail_msg("%s: confidence %g", cases[i].file, ev.review.confidence);
    assert_int_equal(ev.review.verdict, cases[i].v);
    assert_string_equal(ev.review.type, cases[i].type);
    assert_string_equal(ev.review.label, cases[i].label);
    assert_true(ev.review.confidence == cases[i].conf);
    snprintf(key, sizeof(key), "ProcedureStateChanged/" TASK_ID "/%s", cases[i].key_status);
    assert_string_equal(ev.key, key);
    event_release(&ev);
  }
}

/* Thresholds escalate only. */
static void review_thresholds(void **state)
{
  struct vod_event ev;
  char reason[EVENT_REASON_MAX];
  struct event_review_policy strict = {.block_at = 70, .review_at = 0};
  struct event_review_policy rev = {.block_at = 0, .review_at = 2};
  struct event_review_policy lax = {.block_at = 99, .review_at = 98};

  /* review_procedure has Terrorism review @71: block_at 70 makes it block */
  assert_int_equal(parse_file("procedure_review.json", &strict, &ev, reason), VG_OK);
  assert_int_equal(ev.review.verdict, EVENT_VERDICT_BLOCKED);
  assert_string_equal(ev.review.type, "Terrorism");
  /* recompute under the default policy and then a lax one: VOD's review stays */
  event_review_eval(&ev, NULL);
  assert_int_equal(ev.review.verdict, EVENT_VERDICT_REVIEW);
  event_review_eval(&ev, &lax);
  assert_int_equal(ev.review.verdict, EVENT_VERDICT_REVIEW);
  event_release(&ev);

  /* pass @3 with review_at 2 -> review; the block @97 is never relaxed */
  assert_int_equal(parse_file("procedure_pass.json", &rev, &ev, reason), VG_OK);
  assert_int_equal(ev.review.verdict, EVENT_VERDICT_REVIEW);
  assert_string_equal(ev.review.type, "Porn");
  event_release(&ev);
  assert_int_equal(parse_file("procedure_block.json", &lax, &ev, reason), VG_OK);
  assert_int_equal(ev.review.verdict, EVENT_VERDICT_BLOCKED);
  event_release(&ev);
}

/* block > failed > review > pass, ties by confidence, unknown suggestion
 * counts as review, a task without output as failed. */
static void review_ordering(void **state)
{
  static const struct {
    const char *body;
    enum event_verdict v;
    const char *type;
  } cases[] = {
      {"[{\"Type\":\"Porn\",\"PornTask\":{\"Status\":\"FAIL\",\"Output\":null}},"
       "{\"Type\":\"Terrorism\",\"TerrorismTask\":{\"Status\":\"SUCCESS\",\"Output\":"
       "{\"Suggestion\":\"block\",\"Confidence\":60,\"Label\":\"guns\"}}}]",
       EVENT_VERDICT_BLOCKED, "Terrorism"},
      {"[{\"Type\":\"Porn\",\"PornTask\":{\"Status\":\"FAIL\"}},"
       "{\"Type\":\"Terrorism\",\"TerrorismTask\":{\"Status\":\"SUCCESS\",\"Output\":"
       "{\"Suggestion\":\"review\",\"Confidence\":60}}}]",
       EVENT_VERDICT_FAILED, "Porn"},
      {"[{\"Type\":\"Porn\",\"PornTask\":{\"Status\":\"SUCCESS\",\"Output\":"
       "{\"Suggestion\":\"review\",\"Confidence\":50}}},"
       "{\"Type\":\"Political\",\"PoliticalTask\":{\"Status\":\"SUCCESS\",\"Output\":"
       "{\"Suggestion\":\"review\",\"Confidence\":80}}}]",
       EVENT_VERDICT_REVIEW, "Political"},
      {"[{\"Type\":\"Porn\",\"PornTask\":{\"Status\":\"SUCCESS\",\"Output\":"
       "{\"Suggestion\":\"maybe\",\"Confidence\":50}}}]",
       EVENT_VERDICT_REVIEW, "Porn"},
      {"[{\"Type\":\"Porn\",\"PornTask\":{\"Status\":\"SUCCESS\"}}]", EVENT_VERDICT_FAILED, "Porn"},
      {"[{\"Type\":\"Porn\",\"PornTask\":{\"Status\":\"PROCESSING\"}}]", EVENT_VERDICT_FAILED,
       "Porn"},
      {"[{\"Type\":\"Porn\"}]", EVENT_VERDICT_FAILED, "Porn"},
      /* member found by name rule for dotted types, and by the *Task scan */
      {"[{\"Type\":\"Porn.Asr\",\"PornAsrTask\":{\"Status\":\"SUCCESS\",\"Output\":"
       "{\"Suggestion\":\"block\",\"Confidence\":90}},\"PornTask\":null}]",
       EVENT_VERDICT_BLOCKED, "Porn.Asr"},
      {"[{\"Type\":\"Future.Kind\",\"PornTask\":null,\"SomethingTask\":{\"Status\":\"SUCCESS\","
       "\"Output\":{\"Suggestion\":\"pass\",\"Confidence\":1}}}]",
       EVENT_VERDICT_PASSED, "Future.Kind"},
      {"[null,{\"Type\":\"Porn\",\"PornTask\":{\"Output\":{\"Suggestion\":\"pass\"}}}]",
       EVENT_VERDICT_PASSED, "Porn"},
      {"null", EVENT_VERDICT_PASSED, ""},
  };

  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    struct vod_event ev;
    char reason[EVENT_REASON_MAX], body[2048];

    snprintf(body, sizeof(body),
             "{\"EventType\":\"ProcedureStateChanged\",\"ProcedureStateChangeEvent\":"
             "{\"TaskId\":\"t-1\",\"Status\":\"FINISH\",\"AiContentReviewResultSet\":%s}}",
             cases[i].body);
    assert_int_equal(parse_str(body, &ev, reason), VG_OK);
    assert_int_equal(ev.review.verdict, cases[i].v);
    assert_string_equal(ev.review.type, cases[i].type);
    event_release(&ev);
  }
}

static void legacy_formats(void **state)
{
  struct vod_event ev, v3;
  char reason[EVENT_REASON_MAX];

  assert_int_equal(parse_file("legacy_newfileupload.json", NULL, &ev, reason), VG_OK);
  assert_int_equal(ev.format, EVENT_FORMAT_LEGACY);
  assert_string_equal(event_format_str(ev.format), "legacy");
  assert_int_equal(ev.type, EVENT_TYPE_NEW_FILE_UPLOAD);
  assert_string_equal(ev.file_id, "5285890799999999999");
  assert_string_equal(ev.task_id, TASK_ID);
  assert_string_equal(ev.source_context, "{\"uid\":\"u_42\",\"course\":7}");
  assert_string_equal(ev.media_url, MEDIA_URL);
  assert_string_equal(ev.name, "my-first-clip");
  assert_int_equal(ev.meta.size, 7700180);
  assert_true(ev.meta.duration == 60);
  assert_int_equal(ev.meta.width, 640);
  assert_int_equal(ev.meta.height, 480);
  assert_string_equal(ev.meta.container, "mov,mp4,m4a,3gp,3g2,mj2");
  /* the same key as the v3 delivery of the same upload */
  assert_int_equal(parse_file("newfileupload.json", NULL, &v3, reason), VG_OK);
  assert_string_equal(ev.key, v3.key);
  event_release(&ev);
  event_release(&v3);

  assert_int_equal(parse_file("legacy_procedure.json", NULL, &ev, reason), VG_OK);
  assert_int_equal(ev.type, EVENT_TYPE_PROCEDURE_STATE_CHANGED);
  assert_int_equal(ev.status, EVENT_STATUS_FINISH);
  assert_int_equal(ev.n_tasks, 1);
  assert_int_equal(ev.review.verdict, EVENT_VERDICT_BLOCKED);
  assert_string_equal(ev.review.type, "Porn");
  assert_string_equal(ev.review.label, "sexy");
  assert_true(ev.review.confidence == 97);
  assert_int_equal(parse_file("procedure_block.json", NULL, &v3, reason), VG_OK);
  assert_string_equal(ev.key, v3.key);
  event_release(&ev);
  event_release(&v3);
}

static void other_types(void **state)
{
  struct vod_event ev, ev2;
  char reason[EVENT_REASON_MAX];

  assert_int_equal(parse_file("filedeleted.json", NULL, &ev, reason), VG_OK);
  assert_int_equal(ev.type, EVENT_TYPE_OTHER);
  assert_string_equal(ev.type_str, "FileDeleted");
  assert_int_equal(ev.review.verdict, EVENT_VERDICT_NONE);
  assert_memory_equal(ev.key, "FileDeleted/sha256:", 19);
  assert_int_equal(strlen(ev.key), 19 + 32);
  /* key order, whitespace, EventHandle and Sign/T do not change the key */
  assert_int_equal(
      parse_str("{\"Sign\":\"x\",\"T\":1,\"EventHandle\":\"h2\",\"FileDeleteEvent\":{"
                "\"FileDelInfoSet\":[{\"DeleteParts\":[],\"FileId\":\"5285890799999999999\"}],"
                "\"FileIdSet\":[\"5285890799999999999\"]},   \"EventType\":\"FileDeleted\"}",
                &ev2, reason),
      VG_OK);
  assert_string_equal(ev.key, ev2.key);
  event_release(&ev2);
  assert_int_equal(parse_str("{\"EventType\":\"FileDeleted\",\"FileDeleteEvent\":{\"FileIdSet\":"
                             "[\"5285890799999999998\"]}}",
                             &ev2, reason),
                   VG_OK);
  assert_string_not_equal(ev.key, ev2.key);
  event_release(&ev2);
  event_release(&ev);
}

static void bad_bodies(void **state)
{
  static const struct {
    const char *body;
    int rc;
    const char *reason;
  } cases[] = {
      {"", VG_INVALID, "not_json"},
      {"{", VG_INVALID, "not_json"},
      {"{\"EventType\":\"NewFileUpload\"} x", VG_INVALID, "not_json"},
      {"{\"EventType\":\"A\",\"EventType\":\"B\"}", VG_INVALID, "not_json"},
      {"{\"EventType\":\"NewFile\\u0000Upload\"}", VG_INVALID, "not_json"},
      {"[]", VG_INVALID, "not_object"},
      {"\"NewFileUpload\"", VG_INVALID, "not_object"},
      {"{}", VG_INVALID, "unknown_format"},
      {"{\"EventType\":null}", VG_INVALID, "unknown_format"},
      {"{\"type\":\"NewFileUpload\"}", VG_INVALID, "unknown_format"},
      {"{\"EventType\":7}", VG_INVALID, "bad_type:EventType"},
      {"{\"EventType\":\"\"}", VG_INVALID, "bad_value:EventType"},
      {"{\"EventType\":\"New/FileUpload\"}", VG_INVALID, "bad_value:EventType"},
      {"{\"EventType\":\"NewFileUpload\"}", VG_INVALID, "missing_field:FileUploadEvent"},
      {"{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":null}", VG_INVALID,
       "missing_field:FileUploadEvent"},
      {"{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":[]}", VG_INVALID,
       "bad_type:FileUploadEvent"},
      {"{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{}}", VG_INVALID,
       "missing_field:FileUploadEvent.FileId"},
      {"{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":528589}}", VG_INVALID,
       "bad_type:FileUploadEvent.FileId"},
      {"{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":\"\"}}", VG_INVALID,
       "bad_value:FileUploadEvent.FileId"},
      {"{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":\"1/2\"}}", VG_INVALID,
       "bad_value:FileUploadEvent.FileId"},
      {"{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":\"1\",\"MediaBasicInfo\":"
       "{\"SourceInfo\":{\"SourceContext\":{\"uid\":1}}}}}",
       VG_INVALID, "bad_type:FileUploadEvent.MediaBasicInfo.SourceInfo.SourceContext"},
      {"{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":\"1\",\"MediaBasicInfo\":"
       "\"x\"}}",
       VG_INVALID, "bad_type:FileUploadEvent.MediaBasicInfo"},
      {"{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":\"1\",\"MetaData\":"
       "{\"Size\":\"big\"}}}",
       VG_INVALID, "bad_type:FileUploadEvent.MetaData.Size"},
      {"{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":\"1\",\"MetaData\":"
       "{\"Size\":-1}}}",
       VG_INVALID, "bad_value:FileUploadEvent.MetaData.Size"},
      {"{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":\"1\",\"MetaData\":"
       "{\"Duration\":true}}}",
       VG_INVALID, "bad_type:FileUploadEvent.MetaData.Duration"},
      {"{\"EventType\":\"ProcedureStateChanged\",\"ProcedureStateChangeEvent\":{\"Status\":"
       "\"FINISH\"}}",
       VG_INVALID, "missing_field:ProcedureStateChangeEvent.TaskId"},
      {"{\"EventType\":\"ProcedureStateChanged\",\"ProcedureStateChangeEvent\":{\"TaskId\":\"t\"}}",
       VG_INVALID, "missing_field:ProcedureStateChangeEvent.Status"},
      {"{\"EventType\":\"ProcedureStateChanged\",\"ProcedureStateChangeEvent\":{\"TaskId\":\"t\","
       "\"Status\":\"FINISH\",\"AiContentReviewResultSet\":{}}}",
       VG_INVALID, "bad_type:ProcedureStateChangeEvent.AiContentReviewResultSet"},
      {"{\"EventType\":\"ProcedureStateChanged\",\"ProcedureStateChangeEvent\":{\"TaskId\":\"t\","
       "\"Status\":\"FINISH\",\"AiContentReviewResultSet\":[1]}}",
       VG_INVALID, "bad_type:ProcedureStateChangeEvent.AiContentReviewResultSet[0]"},
      {"{\"EventType\":\"ProcedureStateChanged\",\"ProcedureStateChangeEvent\":{\"TaskId\":\"t\","
       "\"Status\":\"FINISH\",\"AiContentReviewResultSet\":[{\"Type\":\"Porn\",\"PornTask\":"
       "{\"Status\":\"SUCCESS\",\"Output\":{\"Confidence\":\"high\"}}}]}}",
       VG_INVALID,
       "bad_type:ProcedureStateChangeEvent.AiContentReviewResultSet[0].Output.Confidence"},
      {"{\"EventType\":\"NewFileUpload\",\"T\":\"soon\",\"FileUploadEvent\":{\"FileId\":\"1\"}}",
       VG_INVALID, "bad_type:T"},
      {"{\"EventType\":\"NewFileUpload\",\"Sign\":5,\"FileUploadEvent\":{\"FileId\":\"1\"}}",
       VG_INVALID, "bad_type:Sign"},
      {"{\"version\":\"4.0\",\"eventType\":\"NewFileUpload\"}", VG_INVALID, "missing_field:data"},
      {"{\"version\":\"4.0\",\"eventType\":\"NewFileUpload\",\"data\":{}}", VG_INVALID,
       "missing_field:data.fileId"},
      {"{\"version\":\"4.0\",\"eventType\":\"ProcedureStateChanged\",\"data\":{\"vodTaskId\":\"t\","
       "\"status\":\"FINISH\",\"contentReviewList\":[{\"taskType\":\"Porn\",\"status\":\"SUCCESS\","
       "\"output\":{\"suggestion\":1}}]}}",
       VG_INVALID, "bad_type:data.contentReviewList[0].output.suggestion"},
  };

  for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
    struct vod_event ev;
    char reason[EVENT_REASON_MAX];
    int rc = parse_str(cases[i].body, &ev, reason);
    if (rc != cases[i].rc || strcmp(reason, cases[i].reason) != 0)
      fail_msg("case %zu: rc %d reason '%s', want %d '%s'", i, rc, reason, cases[i].rc,
               cases[i].reason);
    assert_null(ev.file_id); /* released */
  }
}

static void limits(void **state)
{
  struct vod_event ev;
  char reason[EVENT_REASON_MAX];
  char *big = malloc(EVENT_MAX_BODY + 2);
  size_t n;

  /* too big: one byte over the limit, whatever the content */
  memset(big, ' ', EVENT_MAX_BODY + 1);
  memcpy(big, "{}", 2);
  assert_int_equal(event_parse(big, EVENT_MAX_BODY + 1, NULL, &ev, reason, sizeof(reason)),
                   VG_TOOBIG);
  assert_string_equal(reason, "too_big");
  /* exactly the limit parses (as far as the format) */
  assert_int_equal(event_parse(big, EVENT_MAX_BODY, NULL, &ev, reason, sizeof(reason)), VG_INVALID);
  assert_string_equal(reason, "unknown_format");

  /* depth: JSON_MAX_DEPTH levels are fine, one more is too_deep; brackets
   * inside strings do not count */
  n = 0;
  n += (size_t)snprintf(big + n, 64, "{\"EventType\":\"X/[[[{{\\\"\",\"a\":");
  for (int i = 0; i < JSON_MAX_DEPTH - 2; i++)
    big[n++] = '[';
  big[n++] = '1';
  for (int i = 0; i < JSON_MAX_DEPTH - 2; i++)
    big[n++] = ']';
  big[n++] = '}';
  assert_int_equal(event_parse(big, n, NULL, &ev, reason, sizeof(reason)), VG_INVALID);
  assert_string_equal(reason, "bad_value:EventType"); /* got past the depth check */
  n = 0;
  for (int i = 0; i < JSON_MAX_DEPTH + 1; i++)
    big[n++] = '[';
  for (int i = 0; i < JSON_MAX_DEPTH + 1; i++)
    big[n++] = ']';
  assert_int_equal(event_parse(big, n, NULL, &ev, reason, sizeof(reason)), VG_INVALID);
  assert_string_equal(reason, "too_deep");

  /* too many review subtasks */
  n = (size_t)snprintf(big, 256,
                       "{\"EventType\":\"ProcedureStateChanged\",\"ProcedureStateChangeEvent\":"
                       "{\"TaskId\":\"t\",\"Status\":\"FINISH\",\"AiContentReviewResultSet\":[");
  for (int i = 0; i <= EVENT_MAX_REVIEW_TASKS; i++)
    n += (size_t)snprintf(big + n, 64, "%s{\"Type\":\"Porn\"}", i ? "," : "");
  n += (size_t)snprintf(big + n, 8, "]}}");
  assert_int_equal(event_parse(big, n, NULL, &ev, reason, sizeof(reason)), VG_INVALID);
  assert_string_equal(reason, "too_big:ProcedureStateChangeEvent.AiContentReviewResultSet");
  /* a small reason buffer truncates, never overflows */
  assert_int_equal(event_parse(big, n, NULL, &ev, reason, 8), VG_INVALID);
  assert_string_equal(reason, "too_big");
  assert_int_equal(event_parse(NULL, 0, NULL, &ev, NULL, 0), VG_INVALID);
  free(big);
}

static void processing_change_mode(void **state)
{
  struct vod_event a, b;
  char reason[EVENT_REASON_MAX];

  assert_int_equal(parse_file("procedure_processing.json", NULL, &a, reason), VG_OK);
  assert_int_equal(a.status, EVENT_STATUS_PROCESSING);
  assert_int_equal(a.review.verdict, EVENT_VERDICT_PENDING);
  assert_int_equal(a.n_tasks, 3);
  assert_int_equal(a.tasks[0].state, EVENT_TASK_PROCESSING);
  assert_int_equal(parse_file("procedure_block.json", NULL, &b, reason), VG_OK);
  assert_string_not_equal(a.key, b.key); /* PROCESSING and FINISH are two events */
  event_release(&a);
  event_release(&b);
  /* an unknown status is kept, pending, and keyed */
  assert_int_equal(
      parse_str("{\"EventType\":\"ProcedureStateChanged\",\"ProcedureStateChangeEvent\""
                ":{\"TaskId\":\"t\",\"Status\":\"ABORTED\"}}",
                &a, reason),
      VG_OK);
  assert_int_equal(a.status, EVENT_STATUS_OTHER);
  assert_int_equal(a.review.verdict, EVENT_VERDICT_PENDING);
  assert_string_equal(a.key, "ProcedureStateChanged/t/ABORTED");
  event_release(&a);

  /* the longest ids give the longest key, never truncated; one more is refused */
  {
    char id[EVENT_MAX_ID + 2], body[1024], want[EVENT_MAX_KEY + 1];
    memset(id, 'T', sizeof(id));
    id[EVENT_MAX_ID] = '\0';
    snprintf(body, sizeof(body),
             "{\"EventType\":\"ProcedureStateChanged\",\"ProcedureStateChangeEvent\":"
             "{\"TaskId\":\"%s\",\"Status\":\"%s\"}}",
             id, id);
    assert_int_equal(parse_str(body, &a, reason), VG_OK);
    snprintf(want, sizeof(want), "ProcedureStateChanged/%s/%s", id, id);
    assert_string_equal(a.key, want);
    event_release(&a);
    id[EVENT_MAX_ID] = 'T';
    id[EVENT_MAX_ID + 1] = '\0';
    snprintf(body, sizeof(body),
             "{\"EventType\":\"ProcedureStateChanged\",\"ProcedureStateChangeEvent\":"
             "{\"TaskId\":\"%s\",\"Status\":\"FINISH\"}}",
             id);
    assert_int_equal(parse_str(body, &a, reason), VG_INVALID);
    assert_string_equal(reason, "bad_value:ProcedureStateChangeEvent.TaskId");
  }
}

static void pull_eventset(void **state)
{
  struct event_pull p;
  struct vod_event push;
  char reason[EVENT_REASON_MAX];
  size_t len;
  char *body = load("pull_eventset.json", &len);

  assert_int_equal(event_parse_pull(body, len, NULL, &p, reason, sizeof(reason)), VG_OK);
  free(body);
  assert_string_equal(p.request_id, "6ca31e3a-6b8e-4b4e-9256-fdc700064ef3");
  assert_string_equal(p.error_code, "");
  assert_int_equal(p.n, 2);
  assert_int_equal(p.items[0].rc, VG_OK);
  assert_string_equal(p.items[0].ev.event_handle, "EventHandle-0001-6f1c2e");
  assert_string_equal(p.items[0].ev.key, "NewFileUpload/5285890799999999999");
  assert_string_equal(p.items[0].ev.source_context, "{\"uid\":\"u_42\",\"course\":7}");
  assert_memory_equal(p.items[0].raw, "{\"EventHandle\":\"EventHandle-0001-6f1c2e\",", 41);
  assert_int_equal(p.items[1].rc, VG_OK);
  assert_string_equal(p.items[1].ev.event_handle, "EventHandle-0002-9ab3d4");
  assert_int_equal(p.items[1].ev.review.verdict, EVENT_VERDICT_BLOCKED);
  /* a pull and a push of the same event share the key */
  assert_int_equal(parse_file("procedure_block.json", NULL, &push, reason), VG_OK);
  assert_string_equal(p.items[1].ev.key, push.key);
  event_release(&push);
  event_pull_release(&p);
  assert_int_equal(p.n, 0);

  body = load("pull_empty.json", &len);
  assert_int_equal(event_parse_pull(body, len, NULL, &p, reason, sizeof(reason)), VG_OK);
  free(body);
  assert_int_equal(p.n, 0);
  assert_string_equal(p.request_id, "c5a4a2f6-1b6c-4a9a-9a1e-3f3c9c3b1d10");
  event_pull_release(&p);

  body = load("pull_error.json", &len);
  assert_int_equal(event_parse_pull(body, len, NULL, &p, reason, sizeof(reason)), VG_OK);
  free(body);
  assert_int_equal(p.n, 0);
  assert_string_equal(p.error_code, "AuthFailure.SignatureFailure");
  assert_string_equal(p.error_message, "The provided credentials could not be validated.");
  event_pull_release(&p);
}

static void pull_bad_items(void **state)
{
  struct event_pull p;
  char reason[EVENT_REASON_MAX], *big;
  const char *body =
      "{\"Response\":{\"RequestId\":\"r\",\"EventSet\":["
      "{\"EventHandle\":\"h1\",\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":null},"
      "{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":\"1\"}},"
      "7,"
      "{\"EventHandle\":\"h4\",\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":"
      "\"2\"}}]}}";
  size_t n;

  assert_int_equal(event_parse_pull(body, strlen(body), NULL, &p, reason, sizeof(reason)), VG_OK);
  assert_int_equal(p.n, 4);
  assert_int_equal(p.items[0].rc, VG_INVALID);
  assert_string_equal(p.items[0].reason, "missing_field:FileUploadEvent");
  assert_string_equal(p.items[0].ev.event_handle, "h1"); /* still confirmable */
  assert_int_equal(p.items[1].rc, VG_INVALID);
  assert_string_equal(p.items[1].reason, "missing_field:EventHandle");
  assert_int_equal(p.items[2].rc, VG_INVALID);
  assert_string_equal(p.items[2].reason, "not_object");
  assert_string_equal(p.items[2].raw, "7");
  assert_int_equal(p.items[3].rc, VG_OK);
  assert_string_equal(p.items[3].ev.key, "NewFileUpload/2");
  event_pull_release(&p);

  static const struct {
    const char *body;
    const char *reason;
  } bad[] = {
      {"[]", "not_object"},
      {"{}", "missing_field:Response"},
      {"{\"Response\":[]}", "bad_type:Response"},
      {"{\"Response\":{\"EventSet\":{}}}", "bad_type:Response.EventSet"},
      {"{\"Response\":{\"Error\":{\"Message\":\"x\"}}}", "missing_field:Response.Error.Code"},
  };
  for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
    assert_int_equal(
        event_parse_pull(bad[i].body, strlen(bad[i].body), NULL, &p, reason, sizeof(reason)),
        VG_INVALID);
    assert_string_equal(reason, bad[i].reason);
    assert_int_equal(p.n, 0);
    assert_null(p.request_id);
  }
  big = malloc(64 * (EVENT_MAX_PULL_EVENTS + 2));
  n = (size_t)snprintf(big, 64, "{\"Response\":{\"EventSet\":[");
  for (int i = 0; i <= EVENT_MAX_PULL_EVENTS; i++)
    n += (size_t)snprintf(big + n, 8, "%s{}", i ? "," : "");
  n += (size_t)snprintf(big + n, 8, "]}}");
  assert_int_equal(event_parse_pull(big, n, NULL, &p, reason, sizeof(reason)), VG_TOOBIG);
  assert_string_equal(reason, "too_big:Response.EventSet");
  free(big);
}

static void sign_check(void **state)
{
  const char *good = "9c88f0346e3c64e8cde4871eb5c032ba";

  /* spec 5.3: MD5("MySignKey123" "1551113665") */
  assert_int_equal(event_check_sign("MySignKey123", good, 1551113665, 1551113000, 0),
                   EVENT_SIGN_OK);
  assert_int_equal(event_check_sign("MySignKey123", "9C88F0346E3C64E8CDE4871EB5C032BA", 1551113665,
                                    1551113665, 0),
                   EVENT_SIGN_OK);
  /* T is an expiry: now == T is fine, T + 1 is expired unless skewed */
  assert_int_equal(event_check_sign("MySignKey123", good, 1551113665, 1551113666, 0),
                   EVENT_SIGN_EXPIRED);
  assert_int_equal(event_check_sign("MySignKey123", good, 1551113665, 1551113666 + 29, 30),
                   EVENT_SIGN_OK);
  assert_int_equal(event_check_sign("MySignKey123", good, 1551113665, 1551113665 + 31, 30),
                   EVENT_SIGN_EXPIRED);
  assert_int_equal(event_check_sign("MySignKey124", good, 1551113665, 1551113000, 0),
                   EVENT_SIGN_BAD);
  assert_int_equal(event_check_sign("MySignKey123", good, 1551113666, 1551113000, 0),
                   EVENT_SIGN_BAD);
  assert_int_equal(event_check_sign("", good, 1551113665, 1551113000, 0), EVENT_SIGN_BAD);
  assert_int_equal(event_check_sign("MySignKey123", "9c88f0346e3c64e8cde4871eb5c032bb", 1551113665,
                                    1551113000, 0),
                   EVENT_SIGN_BAD);
  assert_int_equal(event_check_sign("MySignKey123", NULL, 1551113665, 1551113000, 0),
                   EVENT_SIGN_MISSING);
  assert_int_equal(event_check_sign("MySignKey123", "", 1551113665, 1551113000, 0),
                   EVENT_SIGN_MISSING);
  assert_int_equal(event_check_sign("MySignKey123", "9c88f0346e3c64e8cde4871eb5c032b", 1551113665,
                                    1551113000, 0),
                   EVENT_SIGN_MALFORMED);
  assert_int_equal(event_check_sign("MySignKey123", "9c88f0346e3c64e8cde4871eb5c032bg", 1551113665,
                                    1551113000, 0),
                   EVENT_SIGN_MALFORMED);
  /* extreme T values neither overflow nor pass */
  assert_int_equal(event_check_sign("MySignKey123", good, INT64_MIN, INT64_MAX, 0), EVENT_SIGN_BAD);
  assert_string_equal(event_sign_str(EVENT_SIGN_OK), "ok");
  assert_string_equal(event_sign_str(EVENT_SIGN_BAD), "bad_sign");
  assert_string_equal(event_sign_str(EVENT_SIGN_EXPIRED), "expired");
  assert_string_equal(event_sign_str(EVENT_SIGN_MALFORMED), "malformed");
  assert_string_equal(event_sign_str(EVENT_SIGN_MISSING), "missing");
}

/* T may come as a decimal string; lower-case sign/t are accepted too. */
static void sign_fields(void **state)
{
  struct vod_event ev;
  char reason[EVENT_REASON_MAX];

  assert_int_equal(parse_str("{\"sign\":\"ab\",\"t\":\"1551113665\",\"version\":\"4.0\","
                             "\"eventType\":\"NewFileUpload\",\"data\":{\"fileId\":\"9\"}}",
                             &ev, reason),
                   VG_OK);
  assert_string_equal(ev.sign, "ab");
  assert_true(ev.has_t);
  assert_int_equal(ev.t, 1551113665);
  assert_string_equal(ev.key, "NewFileUpload/9");
  event_release(&ev);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(v3_newfileupload),
      cmocka_unit_test(v3_nulls_and_unknown_fields),
      cmocka_unit_test(v3_procedure_block),
      cmocka_unit_test(v3_procedure_verdicts),
      cmocka_unit_test(review_thresholds),
      cmocka_unit_test(review_ordering),
      cmocka_unit_test(legacy_formats),
      cmocka_unit_test(other_types),
      cmocka_unit_test(bad_bodies),
      cmocka_unit_test(limits),
      cmocka_unit_test(processing_change_mode),
      cmocka_unit_test(pull_eventset),
      cmocka_unit_test(pull_bad_items),
      cmocka_unit_test(sign_check),
      cmocka_unit_test(sign_fields),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
