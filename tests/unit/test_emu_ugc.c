/*
 * Unit tests for emu/ugc: the UGC control-plane model and the pushed events.
 *
 * Randomness comes from a seeded LCG, so every minted value is fixed. The
 * MAC-derived values in the literals below (vodSessionKey, temp secretKey
 * and token, verify_content) were recomputed independently with Python's
 * hmac/hashlib/base64 from the formats in ugc.h; the verify_content HMAC and
 * the Sign MD5 also match the vectors of tencent-vod.md section 7 / 5.3.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "emu/ugc.h"

static const char want_apply[] =
    "{\"code\":0,\"message\":\"\\u6210\\u529F\",\"data\":{\"video\":{\"storageSignature\":\"\","
    "\"storagePath\":\"/b1a2c3d4vodgzp1500000000/ea56137b5285891192645132590/YJle8WXv3ynd.mp4\""
    "},\"storageAppId\":1250000000,\"storageBucket\":\"b1a2c3d4vodgzp1500000000\",\"storageRegi"
    "on\":\"gzp\",\"storageRegionV5\":\"ap-guangzhou\",\"StorageRegionV5\":\"ap-guangzhou\",\"d"
    "omain\":\"vod2.qcloud.com\",\"vodSessionKey\":\"vsk1c67e816b4bfbe2fb54f6bddf7c1ce1876b0c4d"
    "5236dc8200b4f94922901e06f925d9debd667c331f\",\"tempCertificate\":{\"secretId\":\"AKIDvgc67"
    "e816b4bfbe2fb54f6bddf7c1ce1876b0b09e2cce31a76\",\"secretKey\":\"165b40b77808ee91a274373dad"
    "9905cb6e954826\",\"token\":\"05de4a49bc0df95fae82c3b8cb5efe18a704bd654ce5bd756d8d55a897178"
    "a6d\",\"expiredTime\":1795885538},\"appId\":1500000000,\"timestamp\":1795881938}}";
static const char want_commit[] =
    "{\"code\":0,\"message\":\"\\u6210\\u529F\",\"data\":{\"fileId\":\"5285891192645132590\",\""
    "video\":{\"url\":\"http://1500000000.vod2.myqcloud.com/b1a2c3d4vodgzp1500000000/ea56137b52"
    "85891192645132590/YJle8WXv3ynd.mp4\",\"verify_content\":\"uwDSBe6nWNSFtp1hgWK94YWZ+GVFeHBU"
    "aW1lPTE3OTU5Njg0MDAmRmlsZUlkPTUyODU4OTExOTI2NDUxMzI1OTA=\"}}}";
static const char want_nfu[] =
    "{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":\"5285891192645132590\",\""
    "MediaBasicInfo\":{\"Name\":\"probe video\",\"Description\":\"\",\"CreateTime\":\"2026-11-2"
    "8T16:06:40Z\",\"UpdateTime\":\"2026-11-28T16:06:41Z\",\"ExpireTime\":\"9999-12-31T23:59:59"
    "Z\",\"ClassId\":0,\"ClassName\":\"\\u5176\\u4ED6\",\"ClassPath\":\"\\u5176\\u4ED6\",\"Cove"
    "rUrl\":\"\",\"Type\":\"mp4\",\"MediaUrl\":\"http://1500000000.vod2.myqcloud.com/b1a2c3d4vo"
    "dgzp1500000000/ea56137b5285891192645132590/YJle8WXv3ynd.mp4\",\"TagSet\":[],\"StorageRegio"
    "n\":\"ap-guangzhou\",\"StoragePath\":\"\",\"SourceInfo\":{\"SourceType\":\"Upload\",\"Sour"
    "ceContext\":\"{\\\"uid\\\":\\\"u_42\\\"}\"},\"Vid\":\"\",\"Category\":\"Video\",\"Status\""
    ":\"Normal\",\"StorageClass\":\"STANDARD\"},\"ProcedureTaskId\":\"1500000000-procedurev2-8e"
    "5fd9998f1f3f36ee43784d0dfabea6tt0\",\"ReviewAudioVideoTaskId\":\"\",\"MetaData\":{\"Size\""
    ":2621440,\"Container\":\"mov,mp4,m4a,3gp,3g2,mj2\",\"Bitrate\":0,\"Height\":0,\"Width\":0,"
    "\"Duration\":0,\"Rotate\":0,\"VideoDuration\":0,\"AudioDuration\":0,\"VideoStreamSet\":[],"
    "\"AudioStreamSet\":[]}}}";
static const char want_processing[] =
    "{\"EventType\":\"ProcedureStateChanged\",\"ProcedureStateChangeEvent\":{\"TaskId\":\"15000"
    "00000-procedurev2-8e5fd9998f1f3f36ee43784d0dfabea6tt0\",\"Status\":\"PROCESSING\",\"ErrCod"
    "e\":0,\"Message\":\"\",\"FileId\":\"5285891192645132590\",\"FileName\":\"probe video\",\"F"
    "ileUrl\":\"http://1500000000.vod2.myqcloud.com/b1a2c3d4vodgzp1500000000/ea56137b5285891192"
    "645132590/YJle8WXv3ynd.mp4\",\"MetaData\":{\"Size\":2621440,\"Container\":\"mov,mp4,m4a,3g"
    "p,3g2,mj2\",\"Bitrate\":0,\"Height\":0,\"Width\":0,\"Duration\":0,\"Rotate\":0,\"VideoDura"
    "tion\":0,\"AudioDuration\":0,\"VideoStreamSet\":[],\"AudioStreamSet\":[]},\"MediaProcessRe"
    "sultSet\":[],\"AiContentReviewResultSet\":[{\"Type\":\"Porn\",\"PornTask\":{\"Status\":\"P"
    "ROCESSING\",\"ErrCodeExt\":\"\",\"ErrCode\":0,\"Message\":\"\",\"Progress\":0,\"Input\":{\""
    "Definition\":10},\"Output\":null}},{\"Type\":\"Terrorism\",\"TerrorismTask\":{\"Status\":\""
    "PROCESSING\",\"ErrCodeExt\":\"\",\"ErrCode\":0,\"Message\":\"\",\"Progress\":0,\"Input\":{"
    "\"Definition\":10},\"Output\":null}},{\"Type\":\"Political\",\"PoliticalTask\":{\"Status\""
    ":\"PROCESSING\",\"ErrCodeExt\":\"\",\"ErrCode\":0,\"Message\":\"\",\"Progress\":0,\"Input\""
    ":{\"Definition\":10},\"Output\":null}}],\"AiAnalysisResultSet\":[],\"AiRecognitionResultSe"
    "t\":[],\"TasksPriority\":0,\"TasksNotifyMode\":\"Change\",\"SessionContext\":\"sess-ctx\","
    "\"SessionId\":\"\"}}";
static const char want_finish_block[] =
    "{\"EventType\":\"ProcedureStateChanged\",\"ProcedureStateChangeEvent\":{\"TaskId\":\"15000"
    "00000-procedurev2-8e5fd9998f1f3f36ee43784d0dfabea6tt0\",\"Status\":\"FINISH\",\"ErrCode\":"
    "0,\"Message\":\"\",\"FileId\":\"5285891192645132590\",\"FileName\":\"probe video\",\"FileU"
    "rl\":\"http://1500000000.vod2.myqcloud.com/b1a2c3d4vodgzp1500000000/ea56137b52858911926451"
    "32590/YJle8WXv3ynd.mp4\",\"MetaData\":{\"Size\":2621440,\"Container\":\"mov,mp4,m4a,3gp,3g"
    "2,mj2\",\"Bitrate\":0,\"Height\":0,\"Width\":0,\"Duration\":0,\"Rotate\":0,\"VideoDuration"
    "\":0,\"AudioDuration\":0,\"VideoStreamSet\":[],\"AudioStreamSet\":[]},\"MediaProcessResult"
    "Set\":[],\"AiContentReviewResultSet\":[{\"Type\":\"Porn\",\"PornTask\":{\"Status\":\"SUCCE"
    "SS\",\"ErrCodeExt\":\"\",\"ErrCode\":0,\"Message\":\"\",\"Progress\":100,\"Input\":{\"Defi"
    "nition\":10},\"Output\":{\"Confidence\":97,\"Suggestion\":\"block\",\"Label\":\"porn\",\"S"
    "egmentSet\":[{\"StartTimeOffset\":0.0,\"EndTimeOffset\":5.0,\"Confidence\":97,\"Label\":\""
    "porn\",\"Suggestion\":\"block\",\"Url\":\"http://1500000000.vod2.myqcloud.com/review/52858"
    "91192645132590-porn-1.jpg\",\"PicUrlExpireTime\":\"2026-12-05T16:06:42Z\"}]}}},{\"Type\":\""
    "Terrorism\",\"TerrorismTask\":{\"Status\":\"SUCCESS\",\"ErrCodeExt\":\"\",\"ErrCode\":0,\""
    "Message\":\"\",\"Progress\":100,\"Input\":{\"Definition\":10},\"Output\":{\"Confidence\":0"
    ",\"Suggestion\":\"pass\",\"Label\":\"\",\"SegmentSet\":[]}}},{\"Type\":\"Political\",\"Pol"
    "iticalTask\":{\"Status\":\"SUCCESS\",\"ErrCodeExt\":\"\",\"ErrCode\":0,\"Message\":\"\",\""
    "Progress\":100,\"Input\":{\"Definition\":10},\"Output\":{\"Confidence\":0,\"Suggestion\":\""
    "pass\",\"Label\":\"\",\"SegmentSet\":[]}}}],\"AiAnalysisResultSet\":[],\"AiRecognitionResu"
    "ltSet\":[],\"TasksPriority\":0,\"TasksNotifyMode\":\"Change\",\"SessionContext\":\"sess-ct"
    "x\",\"SessionId\":\"\"}}";
static const char want_prepare[] =
    "{\"appId\":1500000000,\"cosRegionList\":[{\"region\":\"ap-guangzhou\",\"domain\":\"b1a2c3d"
    "4vodgzp1500000000-1250000000.cos.ap-guangzhou.myqcloud.com\"}]}";

#define NOW 1795881938

static void lcg(void *ctx, void *buf, size_t n)
{
  unsigned *st = ctx;
  unsigned char *p = buf;
  for (size_t i = 0; i < n; i++) {
    *st = *st * 1103515245u + 12345u;
    p[i] = (unsigned char)(*st >> 16);
  }
}

static char *dump(json_t *j)
{
  char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
  json_decref(j);
  assert_non_null(s);
  return s;
}

static void check_dump(json_t *j, const char *want)
{
  char *s = dump(j);
  assert_string_equal(s, want);
  free(s);
}

static void setup_cfg(struct ugc_config *c)
{
  ugc_config_init(c);
  memset(c->key, 'K', UGC_KEY_LEN);
  memcpy(c->verify_key, "6367c48dd193d56ea7b0baad25b19455e529f5ee", 40);
  c->verify_key_len = 40;
}

static const char apply_body[] = "{\"signature\":\"SIG\",\"videoName\":\"probe video\","
                                 "\"videoType\":\"mp4\",\"videoSize\":2621440,"
                                 "\"uploadFromWeb\":true}";

/* Session as in the probe: policy with a procedure and Change mode. */
static void make_session(struct ugc_config *c, unsigned *seed, struct ugc_session *s,
                         const char *mode)
{
  struct ugc_rng rng = {lcg, seed};
  struct ugc_request r;
  struct ugc_policy pol = {"LongVideoPreset", mode, "{\"uid\":\"u_42\"}", "sess-ctx", 0, 0, 0};
  *seed = 1;
  setup_cfg(c);
  assert_int_equal(ugc_request_parse(UGC_APPLY, apply_body, strlen(apply_body), &r), UGC_OK);
  assert_string_equal(r.signature, "SIG");
  assert_int_equal(ugc_session_new(c, &rng, &r, &pol, NOW, s), UGC_OK);
  ugc_request_release(&r);
}

static void apply_commit_exact(void **state)
{
  struct ugc_config c;
  struct ugc_session s;
  unsigned seed;
  struct ugc_rng rng = {lcg, &seed};
  make_session(&c, &seed, &s, "Change");
  check_dump(ugc_envelope(0, "\xe6\x88\x90\xe5\x8a\x9f", ugc_apply_data(&c, &s)), want_apply);
  assert_int_equal(strlen(s.file_id), 19);
  ugc_session_commit(&c, &rng, &s, 1795882000);
  check_dump(ugc_envelope(0, "\xe6\x88\x90\xe5\x8a\x9f", ugc_commit_data(&c, &s)), want_commit);
  check_dump(ugc_prepare_data(&c), want_prepare);
  /* Commit twice changes nothing (Commit retries). */
  char task[96];
  memcpy(task, s.task_id, sizeof(task));
  ugc_session_commit(&c, &rng, &s, 1795882999);
  assert_string_equal(s.task_id, task);
  assert_int_equal(s.committed_at, 1795882000);
}

static void events_exact_change_mode(void **state)
{
  struct ugc_config c;
  struct ugc_session s;
  unsigned seed;
  struct ugc_rng rng = {lcg, &seed};
  json_t *ev[2];
  make_session(&c, &seed, &s, "Change");
  ugc_session_commit(&c, &rng, &s, 1795882000);
  check_dump(ugc_event_new_file_upload(&c, &s, 2621440, 1795882001), want_nfu);
  assert_int_equal(ugc_event_procedure(&c, &s, UGC_REVIEW_BLOCK, 2621440, 1795882002, ev), 2);
  check_dump(ev[0], want_processing);
  check_dump(ev[1], want_finish_block);
}

static const char *suggestion_of(json_t *ev)
{
  json_t *set =
      json_object_get(json_object_get(ev, "ProcedureStateChangeEvent"), "AiContentReviewResultSet");
  json_t *porn = json_object_get(json_array_get(set, 0), "PornTask");
  json_t *out = json_object_get(porn, "Output");
  if (json_is_null(out))
    return json_string_value(json_object_get(porn, "Status"));
  return json_string_value(json_object_get(out, "Suggestion"));
}

static void notify_modes_and_review_results(void **state)
{
  struct ugc_config c;
  struct ugc_session s;
  unsigned seed;
  struct ugc_rng rng = {lcg, &seed};
  json_t *ev[2];
  static const struct {
    enum ugc_review r;
    const char *want;
  } cases[] = {{UGC_REVIEW_PASS, "pass"},
               {UGC_REVIEW_REVIEW, "review"},
               {UGC_REVIEW_BLOCK, "block"},
               {UGC_REVIEW_FAIL, "FAIL"}};

  make_session(&c, &seed, &s, "Finish");
  ugc_session_commit(&c, &rng, &s, 1795882000);
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(ugc_event_procedure(&c, &s, cases[i].r, 1, NOW, ev), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(ev[0], "ProcedureStateChangeEvent"), "Status")),
                        "FINISH");
    assert_string_equal(suggestion_of(ev[0]), cases[i].want);
    json_decref(ev[0]);
  }
  make_session(&c, &seed, &s, "None");
  ugc_session_commit(&c, &rng, &s, 1795882000);
  assert_int_equal(ugc_event_procedure(&c, &s, UGC_REVIEW_BLOCK, 1, NOW, ev), 0);
  make_session(&c, &seed, &s, NULL);
  assert_string_equal(s.notify_mode, "Finish");
  s.procedure[0] = '\0';
  ugc_session_commit(&c, &rng, &s, 1795882000);
  assert_string_equal(s.task_id, "");
  assert_int_equal(ugc_event_procedure(&c, &s, UGC_REVIEW_BLOCK, 1, NOW, ev), 0);
}

static void review_rule(void **state)
{
  const unsigned char blk[] = "VODGATE-REVIEW:block\n....";
  const unsigned char rev[] = "VODGATE-REVIEW:review";
  const unsigned char fail[] = "VODGATE-REVIEW:fail";
  const unsigned char pass[] = "VODGATE-REVIEW:pass";
  const unsigned char junk[] = "VODGATE-REVIEW:blocx";
  assert_int_equal(ugc_review_decide("clip", blk, sizeof(blk) - 1), UGC_REVIEW_BLOCK);
  assert_int_equal(ugc_review_decide("clip", rev, sizeof(rev) - 1), UGC_REVIEW_REVIEW);
  assert_int_equal(ugc_review_decide("clip", fail, sizeof(fail) - 1), UGC_REVIEW_FAIL);
  /* Content wins over the name. */
  assert_int_equal(ugc_review_decide("clip [block]", pass, sizeof(pass) - 1), UGC_REVIEW_PASS);
  assert_int_equal(ugc_review_decide("clip [block]", junk, sizeof(junk) - 1), UGC_REVIEW_BLOCK);
  assert_int_equal(ugc_review_decide("a [review] b", NULL, 0), UGC_REVIEW_REVIEW);
  assert_int_equal(ugc_review_decide("[fail]", NULL, 0), UGC_REVIEW_FAIL);
  assert_int_equal(ugc_review_decide("[Block]", NULL, 0), UGC_REVIEW_PASS);
  assert_int_equal(ugc_review_decide("plain", (const unsigned char *)"\0\0\0", 3), UGC_REVIEW_PASS);
  assert_int_equal(ugc_review_decide(NULL, NULL, 0), UGC_REVIEW_PASS);
  assert_string_equal(ugc_review_name(UGC_REVIEW_REVIEW), "review");
}

static void session_key_and_cert_checks(void **state)
{
  struct ugc_config c;
  struct ugc_session s;
  unsigned seed;
  unsigned char id[16];
  char sk[UGC_SK_LEN + 1], k[UGC_SESSION_KEY_LEN + 1];
  make_session(&c, &seed, &s, "Finish");

  assert_int_equal(ugc_session_key_check(&c, s.session_key, strlen(s.session_key), NOW, id),
                   UGC_OK);
  assert_memory_equal(id, s.id, 16);
  assert_int_equal(ugc_session_key_check(&c, s.session_key, 84, s.expires, id), UGC_OK);
  assert_int_equal(ugc_session_key_check(&c, s.session_key, 84, s.expires + 1, id), UGC_E_SESSION);
  memcpy(k, s.session_key, sizeof(k));
  k[83] = k[83] == '0' ? '1' : '0';
  assert_int_equal(ugc_session_key_check(&c, k, 84, NOW, id), UGC_E_SESSION);
  memcpy(k, s.session_key, sizeof(k));
  k[5] = k[5] == '0' ? '1' : '0'; /* another session id, same MAC */
  assert_int_equal(ugc_session_key_check(&c, k, 84, NOW, id), UGC_E_SESSION);
  assert_int_equal(ugc_session_key_check(&c, "vsk-5", 5, NOW, id), UGC_E_SESSION);
  c.key[0] ^= 1; /* another emulator instance */
  assert_int_equal(ugc_session_key_check(&c, s.session_key, 84, NOW, id), UGC_E_SESSION);
  c.key[0] ^= 1;

  assert_int_equal(ugc_cert_check(&c, s.secret_id, s.token, NOW, id, sk), UGC_CERT_OK);
  assert_string_equal(sk, s.secret_key);
  assert_memory_equal(id, s.id, 16);
  assert_int_equal(ugc_cert_check(&c, s.secret_id, s.token, s.cert_exp + 1, id, sk),
                   UGC_CERT_EXPIRED);
  assert_int_equal(ugc_cert_check(&c, s.secret_id, "TMPTOKEN", NOW, id, sk), UGC_CERT_BAD_TOKEN);
  assert_int_equal(ugc_cert_check(&c, s.secret_id, NULL, NOW, id, sk), UGC_CERT_BAD_TOKEN);
  assert_int_equal(ugc_cert_check(&c, "AKIDTMPSECRETID", s.token, NOW, id, sk), UGC_CERT_MALFORMED);
  assert_string_equal(ugc_cert_error_code(UGC_CERT_MALFORMED), "InvalidAccessKeyId");
  assert_string_equal(ugc_cert_error_code(UGC_CERT_BAD_TOKEN), "InvalidToken");
  assert_string_equal(ugc_cert_error_message(UGC_CERT_EXPIRED), "Request has expired");

  /* A refreshed credential differs, and both stay valid until they expire. */
  {
    struct ugc_rng rng = {lcg, &seed};
    char old[UGC_AK_LEN + 1], oldtok[UGC_TOKEN_LEN + 1];
    memcpy(old, s.secret_id, sizeof(old));
    memcpy(oldtok, s.token, sizeof(oldtok));
    ugc_session_issue_cert(&c, &rng, &s, NOW + 100);
    assert_string_not_equal(old, s.secret_id);
    assert_int_equal(s.cert_exp, NOW + 100 + 3600);
    assert_int_equal(ugc_cert_check(&c, s.secret_id, s.token, NOW + 3650, id, sk), UGC_CERT_OK);
    assert_int_equal(ugc_cert_check(&c, old, oldtok, NOW + 3650, id, sk), UGC_CERT_EXPIRED);
  }
}

static void object_confinement(void **state)
{
  struct ugc_config c;
  struct ugc_session s;
  unsigned seed;
  make_session(&c, &seed, &s, "Finish");
  assert_int_equal(ugc_session_object(&s, s.media_path), 1);
  assert_int_equal(ugc_session_object(&s, "/b1a2c3d4vodgzp1500000000/other.mp4"), 0);
  assert_int_equal(ugc_session_object(&s, ""), 0);
  assert_int_equal(ugc_session_object(&s, s.media_path + 1), 0);
  assert_int_equal(strncmp(s.media_path, "/b1a2c3d4vodgzp1500000000/", 26), 0);
}

static void request_parsing(void **state)
{
  static const char *bad_apply[] = {
      "",
      "[]",
      "{\"videoType\":\"mp4\"}",
      "{\"signature\":\"\",\"videoType\":\"mp4\"}",
      "{\"signature\":1,\"videoType\":\"mp4\"}",
      "{\"signature\":\"S\"}",
      "{\"signature\":\"S\",\"videoName\":\"a\"}",
      "{\"signature\":\"S\",\"videoType\":\"MP4\"}",
      "{\"signature\":\"S\",\"videoType\":\"mp4\",\"videoName\":\"a/b\"}",
      "{\"signature\":\"S\",\"videoType\":\"mp4\",\"videoName\":\"a|b\"}",
      "{\"signature\":\"S\",\"videoType\":\"mp4\",\"videoSize\":-1}",
      "{\"signature\":\"S\",\"videoType\":\"mp4\",\"videoSize\":1.5}",
      "{\"signature\":\"S\",\"videoType\":\"mp4\",\"videoSize\":\"1\"}",
      "{\"signature\":\"S\",\"videoType\":\"mp4\",\"coverName\":\"c\"}",
      "{\"signature\":\"S\",\"fileId\":\"12x\",\"coverType\":\"png\"}",
      "{\"signature\":\"S\",\"videoType\":\"mp4\",\"storageRegion\":\"AP\"}",
      "{\"signature\":\"S\",\"signature\":\"T\",\"videoType\":\"mp4\"}",
      "{\"signature\":\"S\",\"vodSessionKey\":\"a b\"}",
  };
  struct ugc_request r;
  for (size_t i = 0; i < sizeof(bad_apply) / sizeof(bad_apply[0]); i++) {
    assert_int_equal(ugc_request_parse(UGC_APPLY, bad_apply[i], strlen(bad_apply[i]), &r),
                     UGC_E_REQUEST);
    assert_null(r.signature);
  }
  /* Nesting deeper than JSON_MAX_DEPTH is refused before parsing. */
  {
    char deep[2 * JSON_MAX_DEPTH + 96];
    size_t n = (size_t)snprintf(deep, sizeof(deep), "%s",
                                "{\"signature\":\"S\",\"videoType\":\"mp4\",\"x\":");
    for (int i = 0; i < JSON_MAX_DEPTH; i++)
      deep[n++] = '[';
    for (int i = 0; i < JSON_MAX_DEPTH; i++)
      deep[n++] = ']';
    deep[n++] = '}';
    assert_int_equal(ugc_request_parse(UGC_APPLY, deep, n, &r), UGC_E_REQUEST);
    /* One level less is fine; brackets inside a string do not count. */
    n = (size_t)snprintf(deep, sizeof(deep), "%s",
                         "{\"signature\":\"[[[\\\"[\",\"videoType\":\"mp4\",\"x\":");
    for (int i = 0; i < JSON_MAX_DEPTH - 1; i++)
      deep[n++] = '[';
    for (int i = 0; i < JSON_MAX_DEPTH - 1; i++)
      deep[n++] = ']';
    deep[n++] = '}';
    assert_int_equal(ugc_request_parse(UGC_APPLY, deep, n, &r), UGC_OK);
    assert_string_equal(r.signature, "[[[\"[");
    ugc_request_release(&r);
  }
  /* Resume: only signature + vodSessionKey (the browser SDK). */
  const char *resume = "{\"signature\":\"S\",\"vodSessionKey\":\"vsk-5\",\"uploadFromWeb\":true}";
  assert_int_equal(ugc_request_parse(UGC_APPLY, resume, strlen(resume), &r), UGC_OK);
  assert_string_equal(r.vod_session_key, "vsk-5");
  assert_false(r.has_video);
  ugc_request_release(&r);
  /* Mini program: no videoSize; a cover; a race region; JS float size. */
  const char *mp = "{\"signature\":\"S\",\"videoName\":\"\xe8\xa7\x86\xe9\xa2\x91\","
                   "\"videoType\":\"mp4\",\"coverName\":\"c\",\"coverType\":\"png\","
                   "\"coverSize\":10.0,\"storageRegion\":\"ap-chongqing\"}";
  assert_int_equal(ugc_request_parse(UGC_APPLY, mp, strlen(mp), &r), UGC_OK);
  assert_int_equal(r.video_size, -1);
  assert_int_equal(r.cover_size, 10);
  assert_true(r.has_cover);
  assert_string_equal(r.storage_region, "ap-chongqing");
  ugc_request_release(&r);
  /* Cover replacement. */
  const char *cv = "{\"signature\":\"S\",\"fileId\":\"5285890784246869321\",\"coverType\":\"png\"}";
  assert_int_equal(ugc_request_parse(UGC_APPLY, cv, strlen(cv), &r), UGC_OK);
  ugc_request_release(&r);
  /* Commit needs vodSessionKey; Prepare only a signature. */
  assert_int_equal(ugc_request_parse(UGC_COMMIT, "{\"signature\":\"S\"}", 17, &r), UGC_E_REQUEST);
  assert_int_equal(ugc_request_parse(UGC_PREPARE, "{\"signature\":\"S\"}", 17, &r), UGC_OK);
  ugc_request_release(&r);
  const char *cm = "{\"signature\":\"S\",\"vodSessionKey\":\"vsk-5\"}";
  assert_int_equal(ugc_request_parse(UGC_COMMIT, cm, strlen(cm), &r), UGC_OK);
  ugc_request_release(&r);
}

static void policy_limits(void **state)
{
  struct ugc_config c;
  struct ugc_session s;
  struct ugc_request r;
  unsigned seed = 1;
  struct ugc_rng rng = {lcg, &seed};
  char big[4 * SIG_MAX_SOURCE_CONTEXT + 8];
  struct ugc_policy pol = {"P", "Sometimes", NULL, NULL, 0, 0, 0};
  setup_cfg(&c);
  assert_int_equal(ugc_request_parse(UGC_APPLY, apply_body, strlen(apply_body), &r), UGC_OK);
  assert_int_equal(ugc_session_new(&c, &rng, &r, &pol, NOW, &s), UGC_E_REQUEST);
  memset(big, 'x', SIG_MAX_SOURCE_CONTEXT + 1);
  big[SIG_MAX_SOURCE_CONTEXT + 1] = '\0';
  pol.task_notify_mode = "Finish";
  pol.source_context = big;
  assert_int_equal(ugc_session_new(&c, &rng, &r, &pol, NOW, &s), UGC_E_REQUEST);
  big[SIG_MAX_SOURCE_CONTEXT] = '\0';
  pol.sub_app_id = 1500000001;
  assert_int_equal(ugc_session_new(&c, &rng, &r, &pol, NOW, &s), UGC_OK);
  assert_int_equal(strlen(s.source_context), SIG_MAX_SOURCE_CONTEXT);
  assert_int_equal(s.app_id, 1500000001);
  ugc_request_release(&r);
}

static void session_json_round_trip(void **state)
{
  struct ugc_config c;
  struct ugc_session s, t;
  unsigned seed;
  struct ugc_rng rng = {lcg, &seed};
  json_t *j;
  make_session(&c, &seed, &s, "Change");
  ugc_session_commit(&c, &rng, &s, 1795882000);
  j = ugc_session_to_json(&s);
  assert_int_equal(ugc_session_from_json(j, &t), 0);
  assert_memory_equal(&s, &t, sizeof(s));
  json_object_set_new(j, "file_id", json_integer(5));
  assert_int_equal(ugc_session_from_json(j, &t), -1);
  json_decref(j);
}

static void envelopes_and_signing(void **state)
{
  char vc[256];
  json_t *ev;
  check_dump(ugc_error_envelope(UGC_ERR_SIGNATURE),
             "{\"code\":10004,\"message\":\"ugc upload | invalid signature\",\"data\":{}}");
  check_dump(ugc_error_envelope(UGC_ERR_DUPLICATE),
             "{\"code\":10004,\"message\":\"duplicate vod signature\",\"data\":{}}");
  check_dump(ugc_error_envelope(UGC_ERR_REQUEST),
             "{\"code\":10001,\"message\":\"ugc upload | invalid request\",\"data\":{}}");
  check_dump(ugc_error_envelope(UGC_ERR_SESSION),
             "{\"code\":10005,\"message\":\"ugc upload | invalid vodSessionKey\",\"data\":{}}");
  /* tencent-vod.md 7: HMAC hex 3329644b0598a76c6c49c597a2a73d8a5f07abe9. */
  assert_int_equal(ugc_verify_content((const unsigned char *)"6367c48dd193d56ea7b0baad25b19455e5"
                                                             "29f5ee",
                                      40, "7031868222808505913", 1488160264, vc, sizeof(vc)),
                   0);
  assert_string_equal(vc, "MylkSwWYp2xsScWXoqc9il8Hq+lFeHBUaW1lPTE0ODgxNjAyNjQmRmlsZUlkPTcwMzE4N"
                          "jgyMjI4MDg1MDU5MTM=");
  assert_int_equal(ugc_verify_content((const unsigned char *)"k", 1, "1", 1, vc, 10), -1);
  /* tencent-vod.md 5.3: MD5("MySignKey1231551113665"). */
  ev = json_object();
  ugc_event_sign(ev, "MySignKey123", 1551113665);
  check_dump(ev, "{\"Sign\":\"9c88f0346e3c64e8cde4871eb5c032ba\",\"T\":1551113665}");
}

static void host_classification(void **state)
{
  struct ugc_config c;
  setup_cfg(&c);
  assert_int_equal(ugc_classify_host(&c, "vod2.qcloud.com"), UGC_HOST_UGC);
  assert_int_equal(ugc_classify_host(&c, "VOD2.dnsv1.com:443"), UGC_HOST_UGC);
  assert_int_equal(ugc_classify_host(&c, "vodreport.qcloud.com"), UGC_HOST_REPORT);
  assert_int_equal(ugc_classify_host(&c, "vod.tencentcloudapi.com."), UGC_HOST_API);
  assert_int_equal(ugc_classify_host(&c, "127.0.0.1:18081"), UGC_HOST_API);
  assert_int_equal(
      ugc_classify_host(&c, "b1a2c3d4vodgzp1500000000-1250000000.cos.ap-guangzhou.myqcloud.com"),
      UGC_HOST_COS);
  assert_int_equal(ugc_classify_host(
                       &c, "b1a2c3d4vodgzp1500000000-1250000000.cos.ap-guangzhou.tencentcos.cn:80"),
                   UGC_HOST_COS);
  assert_int_equal(ugc_classify_host(&c, "otherbucket-1250000000.cos.ap-guangzhou.myqcloud.com"),
                   UGC_HOST_OTHER);
  assert_int_equal(
      ugc_classify_host(&c, "b1a2c3d4vodgzp1500000000-1250000000.cos.ap-chongqing.myqcloud.com"),
      UGC_HOST_OTHER);
  assert_int_equal(ugc_classify_host(&c, "b1a2c3d4vodgzp1500000000-1250000000.cos.ap-guangzhou."
                                         "myqcloud.com.evil.example"),
                   UGC_HOST_OTHER);
  assert_int_equal(ugc_classify_host(&c, "[::1]:80"), UGC_HOST_OTHER);
  assert_int_equal(ugc_classify_host(&c, ""), UGC_HOST_OTHER);
  assert_int_equal(ugc_classify_host(&c, NULL), UGC_HOST_OTHER);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(apply_commit_exact),
      cmocka_unit_test(events_exact_change_mode),
      cmocka_unit_test(notify_modes_and_review_results),
      cmocka_unit_test(review_rule),
      cmocka_unit_test(session_key_and_cert_checks),
      cmocka_unit_test(object_confinement),
      cmocka_unit_test(request_parsing),
      cmocka_unit_test(policy_limits),
      cmocka_unit_test(session_json_round_trip),
      cmocka_unit_test(envelopes_and_signing),
      cmocka_unit_test(host_classification),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
