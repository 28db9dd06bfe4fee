/* Differential tests: core/jscan.h against jansson, and event_parse (over
 * jscan) against the jansson reference event_parse_jansson, on the spec
 * 4.4 examples (tests/data/events), the fuzz seed corpus
 * (fuzz/corpus/event), hand-written edge cases of the JSON grammar, and
 * generated variants (every prefix, seeded random splices of JSON
 * fragments). Every comparison asserts the same rc, reason and event,
 * field by field (fuzz/oracle.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../fuzz/oracle.h"
#include "core/buf.h"
#include "core/io.h"
#include "core/util.h"

static const struct event_review_policy pol = {.block_at = 90, .review_at = 50};

/* <source root>/rel, from VODGATE_SRC or from this file's path. */
static void src_path(char *out, size_t cap, const char *rel)
{
  const char *src = getenv("VODGATE_SRC");

  if (src)
    snprintf(out, cap, "%s/%s", src, rel);
  else
    snprintf(out, cap, "%.*s%s", (int)(strlen(__FILE__) - strlen("tests/unit/test_event_oracle.c")),
             __FILE__, rel);
}

struct body {
  char *p;
  size_t n;
};

/* Every regular file of the directory rel (sorted by name). */
static size_t load_dir(const char *rel, struct body **out)
{
  char dir[4096], path[8192];
  struct dirent **names;
  int n = 0;
  size_t k = 0;

  src_path(dir, sizeof(dir), rel);
  n = scandir(dir, &names, NULL, alphasort);
  if (n < 0) {
    fail_msg("cannot list %s", dir);
    return 0;
  }
  *out = calloc((size_t)n + 1, sizeof(**out));
  for (int i = 0; i < n; i++) {
    struct buf b;
    if (names[i]->d_name[0] != '.') {
      snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
      buf_init(&b, EVENT_MAX_PULL_BODY);
      if (read_file(path, &b) == VG_OK) {
        (*out)[k].p = buf_detach(&b, &(*out)[k].n);
        k++;
      } else {
        buf_release(&b);
      }
    }
    free(names[i]);
  }
  free(names);
  return k;
}

static void free_bodies(struct body *b, size_t n)
{
  for (size_t i = 0; i < n; i++)
    free(b[i].p);
  free(b);
}

static void check(const char *s, size_t n)
{
  char why[256];

  if (jscan_oracle_diff(s, n, why, sizeof(why)))
    fail_msg("jscan vs jansson on \"%.*s\": %s", (int)(n > 200 ? 200 : n), s, why);
  if (event_oracle_diff(s, n, NULL, why, sizeof(why)) ||
      event_oracle_diff(s, n, &pol, why, sizeof(why)))
    fail_msg("event_parse vs jansson on \"%.*s\": %s", (int)(n > 200 ? 200 : n), s, why);
}

static void checkz(const char *s)
{
  check(s, strlen(s));
}

static void data_files(void **state)
{
  struct body *b;
  size_t n = load_dir("tests/data/events", &b);

  (void)state;
  assert_true(n >= 10);
  for (size_t i = 0; i < n; i++)
    check(b[i].p, b[i].n);
  free_bodies(b, n);
}

static void fuzz_seeds(void **state)
{
  struct body *b;
  size_t n = load_dir("fuzz/corpus/event", &b);

  (void)state;
  assert_true(n >= 10);
  for (size_t i = 0; i < n; i++)
    check(b[i].p, b[i].n);
  free_bodies(b, n);
}

/* The JSON grammar's corners, alone and inside an event. */
static const char *const grammar[] = {
    "",
    " ",
    "{}",
    "[]",
    "{ }",
    "[ ]",
    " {} ",
    "{}x",
    "{} {}",
    "{},",
    "null",
    "true",
    "false",
    "nul",
    "truex",
    "0",
    "-0",
    "-",
    "01",
    "-01",
    "1.",
    "1.5",
    ".5",
    "1e5",
    "1E+5",
    "1e-5",
    "1e",
    "1e+",
    "1.5e3",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775808",
    "-9223372036854775809",
    "12345678901234567890",
    "1e308",
    "1e309",
    "-1e400",
    "1e-400",
    "0.0000000000000000000000000001",
    "\"\"",
    "\"a\"",
    "\"\\u0041\"",
    "\"\\u00e9\"",
    "\"\\ud83d\\ude00\"",
    "\"\\ud83d\"",
    "\"\\ude00\"",
    "\"\\ud83d\\u0041\"",
    "\"\\ud83dx\"",
    "\"\\u0000\"",
    "\"\\u00\"",
    "\"\\uZZZZ\"",
    "\"\\x\"",
    "\"\\'\"",
    "\"\\/\\b\\f\\n\\r\\t\"",
    "\"a\tb\"",
    "\"a\x01\"",
    "\"\x7f\"",
    "\"\xc3\xa9\"",
    "\"\xc3\"",
    "\"\xc0\x80\"",
    "\"\xe0\x80\x80\"",
    "\"\xed\xa0\x80\"",
    "\"\xf4\x90\x80\x80\"",
    "\"\xf0\x9f\x98\x80\"",
    "\"\xff\"",
    "\"\x80\"",
    "[1,]",
    "[,1]",
    "[1 2]",
    "{\"a\":1,}",
    "{\"a\" 1}",
    "{\"a\":}",
    "{1:2}",
    "{\"a\":1,\"a\":2}",
    "{\"a\":1,\"\\u0061\":2}",
    "{\"a\":{\"b\":1,\"b\":1}}",
    "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,"
    "\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,\"a\":11}",
    "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10}",
    "{\"\":1,\"\\u0000\":2}",
    "[[[[[[[[[[]]]]]]]]]]",
    "{\"a\":[{\"b\":[null,true,false,-1.5e-3]}]}",
    "\xef\xbb\xbf{}",
    "{}\x00",
    "[\"a\"\x00]",
    "\t\r\n{}\t\r\n",
    "{\"a\":1}\f",
    /* events */
    "{\"EventType\":null}",
    "{\"eventType\":1}",
    "{\"EventType\":\"New\\u0046ileUpload\","
    "\"FileUploadEvent\":{\"FileId\":\"5285\"}}",
    "{\"Event\\u0054ype\":\"NewFileUpload\",\"FileUploadEvent\":{\"File\\u0049d\":\"52\\/85\"}}",
    "{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":\"a b\"}}",
    "{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":\"\\u00e9\"}}",
    "{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":\"x\",\"MetaData\":"
    "{\"Size\":\"12\",\"Duration\":\"1.5\",\"Width\":1e3,\"Height\":-1}}}",
    "{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":\"x\",\"MetaData\":"
    "{\"Size\":9007199254740993,\"Duration\":\"1.2.3\"}}}",
    "{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":\"x\",\"MetaData\":"
    "{\"Size\":\"\",\"Duration\":\".\"}}}",
    "{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":\"x\",\"MetaData\":"
    "{\"Duration\":\"\\u0031\"}},\"T\":\"\\u0031\",\"Sign\":\"ab\"}",
    "{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":\"x\"},\"T\":1.5}",
    "{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":\"x\"},\"t\":-5,"
    "\"sign\":\"s\"}",
    "{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":\"x\"},\"T\":null,"
    "\"t\":7}",
    "{\"EventType\":\"ProcedureStateChanged\",\"ProcedureStateChangeEvent\":{\"TaskId\":\"t\","
    "\"Status\":\"FINISH\",\"AiContentReviewResultSet\":[null,{\"Type\":\"Porn.Asr\","
    "\"PornAsrTask\":{\"Status\":\"SUCCESS\",\"Output\":{\"Suggestion\":\"pass\","
    "\"Confidence\":\"5\"}}},{\"Type\":\"X\",\"Zz\\u0054ask\":{\"Status\":\"FAIL\"}},"
    "{\"Type\":\"Y\",\"Task\":{},\"YTask\":null,\"OtherTask\":{\"Output\":{}}},1]}}",
    "{\"EventType\":\"ProcedureStateChanged\",\"ProcedureStateChangeEvent\":{\"TaskId\":\"t\","
    "\"Status\":\"FINISH\",\"AiContentReviewResultSet\":{}}}",
    "{\"eventType\":\"ProcedureStateChanged\",\"data\":{\"vodTaskId\":\"t\",\"status\":\"FINISH\","
    "\"contentReviewList\":[{\"taskType\":\"Porn\",\"status\":\"SUCCESS\",\"output\":"
    "{\"suggestion\":\"review\",\"confidence\":95}}]}}",
    "{\"EventType\":\"FileDeleted\",\"FileDeleteEvent\":{\"FileIdSet\":[\"a\"]},\"T\":1}",
    "{\"EventType\":\"File\\u0044eleted\",\"b\":1,\"a\":[1.50,\"\\u00e9\"]}",
    "{\"EventType\":\"x/y\"}",
    "{\"EventType\":\"\"}",
};

static void grammar_cases(void **state)
{
  (void)state;
  for (size_t i = 0; i < ARRAY_SIZE(grammar); i++)
    checkz(grammar[i]);
  /* with NUL bytes inside */
  check("{\"a\":\"\0\"}", 8);
  check("{\"a\"\0:1}", 8);
  check("{}\0", 3);
  /* jansson itself would load these (it drops a NUL after a number or a
   * literal); both event parsers refuse them */
  check("2\0", 2);
  check("{\"a\":1\0}", 8);
  check("[null\0]", 7);
}

/* Nesting around the limit, valid and not. */
static void depth_cases(void **state)
{
  char s[256];

  (void)state;
  for (int d = 28; d <= 36; d++) {
    size_t o = 0;
    for (int i = 0; i < d; i++)
      s[o++] = i ? '[' : '{';
    if (d == 1) {
      s[o++] = '}';
    } else {
      memmove(s + 1, s, o);
      memcpy(s, "{\"a\":", 5);
      o = 5 + (size_t)d - 1;
      memset(s + 5, '[', (size_t)d - 1);
      for (int i = 1; i < d; i++)
        s[o++] = ']';
      s[o++] = '}';
    }
    check(s, o);
    check(s, o - 1); /* unterminated */
  }
}

/* Objects of every size class of the duplicate check (pairwise, hash,
 * sort; escaped keys), with and without a duplicate. */
static void key_counts(void **state)
{
  static const int sizes[] = {1, 2, 8, 9, 33, 128, 129, 300};
  struct buf b;

  (void)state;
  for (size_t si = 0; si < ARRAY_SIZE(sizes); si++)
    for (int dup = 0; dup < 3; dup++)
      for (int esc = 0; esc < 2; esc++) {
        int n = sizes[si];
        buf_init(&b, 1 << 20);
        assert_int_equal(buf_append(&b, "{", 1), VG_OK);
        for (int i = 0; i < n; i++) {
          /* dup 1: the last key repeats the first; dup 2: a middle one */
          int k = dup == 1 && i == n - 1 && n > 1 ? 0 : dup == 2 && i == n - 1 && n > 2 ? n / 2 : i;
          assert_int_equal(buf_printf(&b, "%s\"%sk%d\":%d", i ? "," : "",
                                      esc && i == n / 3 ? "\\u0041" : "", k, i),
                           VG_OK);
        }
        assert_int_equal(buf_append(&b, "}", 1), VG_OK);
        check(b.ptr, b.len);
        buf_release(&b);
      }
}

/* Every prefix of every example. */
static void prefixes(void **state)
{
  struct body *b;
  size_t n = load_dir("tests/data/events", &b);

  (void)state;
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < b[i].n; k++)
      check(b[i].p, k);
  free_bodies(b, n);
}

/* Seeded random splices: replace a random span of an example by a JSON
 * fragment, or flip a byte. */
static void splices(void **state)
{
  static const char *const frag[] = {"null",
                                     "1",
                                     "-2.5",
                                     "1e400",
                                     "\"x\"",
                                     "\"\\u0041\"",
                                     "{}",
                                     "[]",
                                     "true",
                                     ",",
                                     ":",
                                     "\"",
                                     "\\",
                                     "{\"a\":1}",
                                     "[null]",
                                     "\"FINISH\"",
                                     "\"Task\"",
                                     "\"PornTask\"",
                                     ",\"FileId\":\"d\"",
                                     ",\"T\":12",
                                     ",\"Sign\":\"0\"",
                                     "\"\\ud800\"",
                                     "\xc3\xa9",
                                     "\xff",
                                     "9223372036854775808",
                                     "\"Status\":\"PROCESSING\"",
                                     "\"NewFileUpload\"",
                                     "\"ProcedureStateChanged\"",
                                     "\"eventType\"",
                                     "\"EventType\"",
                                     "\"FileDeleted\""};
  struct body *b;
  size_t n = load_dir("tests/data/events", &b);
  uint64_t x = 0x9E3779B97F4A7C15ull;
  char *s = malloc(1 << 16);

  (void)state;
  for (int round = 0; round < 6000; round++) {
    const struct body *e;
    size_t at, cut, o = 0;
    const char *f;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    e = &b[x % n];
    if (e->n + 64 > (1 << 16) || e->n == 0)
      continue;
    at = (size_t)(x >> 16) % e->n;
    cut = (size_t)(x >> 40) % 24;
    if (at + cut > e->n)
      cut = e->n - at;
    f = frag[(x >> 8) % ARRAY_SIZE(frag)];
    memcpy(s, e->p, at);
    o = at;
    if ((x >> 60) == 0) {
      s[o++] = (char)(x >> 24); /* a byte flip */
      cut = 1;
    } else {
      memcpy(s + o, f, strlen(f));
      o += strlen(f);
    }
    if (at + cut <= e->n) {
      memcpy(s + o, e->p + at + cut, e->n - at - cut);
      o += e->n - at - cut;
    }
    check(s, o);
  }
  free(s);
  free_bodies(b, n);
}

/* The token layout the header promises. */
static void jscan_layout(void **state)
{
  const char *s = "{\"a\":[1,{\"b\":null}],\"c\":\"x\\ny\"}";
  struct jscan js;
  char *str;
  size_t n;

  (void)state;
  assert_int_equal(jscan_parse(&js, s, strlen(s), NULL, 0, 4), VG_OK);
  assert_int_equal(js.n, 9);
  assert_int_equal(js.tok[0].type, JSCAN_OBJECT);
  assert_int_equal(js.tok[0].n, 2);
  assert_int_equal(js.tok[0].next, 9);
  assert_int_equal(jscan_get(&js, 0, "a"), 2);
  assert_int_equal(js.tok[2].type, JSCAN_ARRAY);
  assert_int_equal(js.tok[2].n, 2);
  assert_int_equal(js.tok[2].next, 7);
  assert_int_equal(jscan_get(&js, 4, "b"), 6);
  assert_int_equal(js.tok[5].type, JSCAN_STRING); /* the key "b" */
  assert_int_equal(jscan_get(&js, 0, "c"), 8);
  assert_int_equal(jscan_get(&js, 0, "d"), -1);
  assert_int_equal(jscan_get(&js, 2, "a"), -1); /* not an object */
  assert_int_equal(jscan_str(&js, 8, &str, &n), VG_OK);
  assert_string_equal(str, "x\ny");
  assert_int_equal(n, 3);
  free(str);
  jscan_release(&js);
  /* deeper than allowed */
  assert_int_equal(jscan_parse(&js, "[[[]]]", 6, NULL, 0, 2), VG_INVALID);
  jscan_release(&js);
  assert_int_equal(jscan_parse(&js, "[[[]]]", 6, NULL, 0, 3), VG_OK);
  jscan_release(&js);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(jscan_layout),  cmocka_unit_test(data_files),  cmocka_unit_test(fuzz_seeds),
      cmocka_unit_test(grammar_cases), cmocka_unit_test(depth_cases), cmocka_unit_test(prefixes),
      cmocka_unit_test(splices),       cmocka_unit_test(key_counts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
