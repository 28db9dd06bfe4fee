/* Unit tests for the JSON answers of http/http.c: http_res_json and
 * http_error write flat objects by hand, and must give exactly the bytes of
 * json_dumps(JSON_COMPACT | JSON_PRESERVE_ORDER) for every input, including
 * the ones that go back to jansson (nesting, reals, non-ASCII, invalid
 * UTF-8). Compared on generated inputs from a fixed seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Bytes biased towards the ones JSON escapes. */
static size_t gen_bytes(char *s, size_t max, int ascii_only)
{
  static const char special[] = "\"\\/\b\f\n\r\t\x01\x1f\x7f {}:,";
  size_t n = next() % max;
  for (size_t i = 0; i < n; i++) {
    uint64_t r = next() % 10;
    if (r < 4)
      s[i] = special[next() % (sizeof(special) - 1)];
    else if (r < 9 || ascii_only)
      s[i] = (char)(0x20 + next() % 95);
    else
      s[i] = (char)(0x80 + next() % 0x80); /* often invalid UTF-8 */
  }
  return n;
}

static json_t *gen_value(int depth)
{
  char s[40];
  size_t n;
  switch (next() % (depth ? 7 : 9)) {
  case 0: return json_true();
  case 1: return json_false();
  case 2: return json_null();
  case 3: {
    static const long long edge[] = {0, -1, 1, LLONG_MIN, LLONG_MAX, 1000, -1000};
    return json_integer(next() % 2 ? edge[next() % 7] : (long long)next());
  }
  case 4:
  case 5: n = gen_bytes(s, sizeof(s), 1); return json_stringn_nocheck(s, n);
  case 6: {
    json_t *v;
    n = gen_bytes(s, sizeof(s), 0);
    v = json_stringn(s, n); /* NULL when not UTF-8 */
    return v ? v : json_string("x");
  }
  case 7: return json_real((double)(next() % 1000) / 7.0);
  default: {
    json_t *a = json_array();
    json_array_append_new(a, gen_value(depth + 1));
    return a;
  }
  }
}

static json_t *gen_object(void)
{
  json_t *o = json_object();
  size_t members = next() % 6;
  for (size_t i = 0; i < members; i++) {
    char k[16];
    size_t n = gen_bytes(k, sizeof(k), next() % 8 != 0);
    json_object_setn_new_nocheck(o, k, n, gen_value(0));
  }
  return o;
}

static void res_free(struct http_res *res)
{
  free(res->body);
  for (size_t i = 0; i < res->nhdrs; i++) {
    free(res->hdrs[i].name);
    free(res->hdrs[i].value);
  }
  memset(res, 0, sizeof(*res));
}

static void res_json_matches_json_dumps(void **state)
{
  for (int i = 0; i < 20000; i++) {
    struct http_res res;
    json_t *o = gen_object();
    char *want = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

    memset(&res, 0, sizeof(res));
    res.request_id = "rid";
    http_res_json(&res, 201, o); /* steals o */
    if (want) {
      assert_int_equal(res.status, 201);
      assert_int_equal(res.body_len, strlen(want));
      assert_memory_equal(res.body, want, res.body_len);
      assert_int_equal(res.body[res.body_len], '\0');
    } else { /* jansson refuses it (invalid UTF-8 in a key): 500 */
      assert_int_equal(res.status, 500);
    }
    free(want);
    res_free(&res);
  }
}

static char *old_error(int code, const char *message, const char *rid)
{
  json_t *o = json_object();
  char *s;
  json_object_set_new(o, "code", json_integer(code));
  json_object_set_new(o, "message", json_string(message ? message : ""));
  json_object_set_new(o, "requestId", json_string(rid ? rid : ""));
  s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(o);
  return s;
}

static void res_json_exact_bytes(void **state)
{
  struct http_res res;

  memset(&res, 0, sizeof(res));
  http_res_json(&res, 200, json_pack("{s:s}", "status", "ok"));
  assert_string_equal(res.body, "{\"status\":\"ok\"}");
  assert_int_equal(res.body_len, 15);
  assert_string_equal(res.content_type, "application/json");
  res_free(&res);
  http_res_json(&res, 200,
                json_pack("{s:I,s:b,s:n,s:s%}", "n", (json_int_t)LLONG_MIN, "t", 1, "z", "s",
                          "a\0\"\\\x1f\x7f/", (size_t)7));
  assert_string_equal(res.body, "{\"n\":-9223372036854775808,\"t\":true,\"z\":null,"
                                "\"s\":\"a\\u0000\\\"\\\\\\u001F\x7f/\"}");
  res_free(&res);
  http_res_json(&res, 200, json_object());
  assert_string_equal(res.body, "{}");
  res_free(&res);
  { /* longer than the writer's stack buffer: written in a second pass */
    char big[3000];
    char *want;
    json_t *o;
    for (size_t i = 0; i < sizeof(big) - 1; i++)
      big[i] = (i % 7) ? 'a' : '\n';
    big[sizeof(big) - 1] = '\0';
    o = json_pack("{s:s,s:i}", "big", big, "n", 7);
    want = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    http_res_json(&res, 200, o);
    assert_string_equal(res.body, want);
    assert_int_equal(res.body_len, strlen(want));
    res_free(&res);
    free(want);
    res.request_id = "r-1";
    http_error(&res, 400, 4000, big);
    want = old_error(4000, big, "r-1");
    assert_string_equal(res.body, want);
    assert_int_equal(res.body_len, strlen(want));
    res_free(&res);
    free(want);
  }
  http_res_json(&res, 200, NULL);
  assert_int_equal(res.status, 500);
  assert_string_equal(res.body,
                      "{\"code\":5000,\"message\":\"internal error\",\"requestId\":\"\"}");
  res_free(&res);
}

static void error_matches_jansson(void **state)
{
  for (int i = 0; i < 20000; i++) {
    struct http_res res;
    char msg[64], rid[24];
    int code = (int)(next() % 3 ? next() % 6000 : next());
    const char *m;
    char *want;

    msg[gen_bytes(msg, sizeof(msg) - 1, next() % 4 != 0)] = '\0';
    rid[gen_bytes(rid, sizeof(rid) - 1, 1)] = '\0';
    memset(&res, 0, sizeof(res));
    res.request_id = next() % 8 ? rid : NULL;
    m = next() % 16 ? msg : NULL;
    want = old_error(code, m, res.request_id);
    if (next() % 2)
      http_res_body(&res, 200, "text/plain", "old", 3); /* replaced */
    http_error(&res, 400 + (int)(next() % 100), code, m);
    assert_non_null(want);
    assert_string_equal(res.body, want);
    assert_int_equal(res.body_len, strlen(want));
    assert_string_equal(res.content_type, "application/json");
    free(want);
    res_free(&res);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(res_json_exact_bytes),
      cmocka_unit_test(res_json_matches_json_dumps),
      cmocka_unit_test(error_matches_jansson),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
