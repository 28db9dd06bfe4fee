/* Unit tests for core/buf and core/util. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "core/buf.h"
#include "core/util.h"

static void buf_respects_max(void **state)
{
  struct buf b;
  buf_init(&b, 8);
  assert_string_equal(b.ptr, "");
  assert_int_equal(buf_appends(&b, "12345678"), VG_OK);
  assert_int_equal(buf_appendc(&b, '9'), VG_TOOBIG);
  assert_int_equal(b.len, 8);
  assert_string_equal(b.ptr, "12345678");
  buf_release(&b);
}

static void buf_printf_grows(void **state)
{
  struct buf b;
  buf_init(&b, 1000);
  for (int i = 0; i < 50; i++)
    assert_int_equal(buf_printf(&b, "%02d", i), VG_OK);
  assert_int_equal(b.len, 100);
  assert_int_equal(buf_printf(&b, "%0999d", 1), VG_TOOBIG);
  assert_int_equal(b.len, 100);
  buf_release(&b);
}

static void parse_u64_is_strict(void **state)
{
  uint64_t v;
  assert_int_equal(parse_u64z("0", &v), 0);
  assert_int_equal(v, 0);
  assert_int_equal(parse_u64z("18446744073709551615", &v), 0);
  assert_true(v == UINT64_MAX);
  assert_int_equal(parse_u64z("18446744073709551616", &v), -1);
  assert_int_equal(parse_u64z("01", &v), -1);
  assert_int_equal(parse_u64z("+1", &v), -1);
  assert_int_equal(parse_u64z(" 1", &v), -1);
  assert_int_equal(parse_u64z("1.0", &v), -1);
  assert_int_equal(parse_u64z("", &v), -1);
}

static void parse_i64_signs(void **state)
{
  int64_t v;
  assert_int_equal(parse_i64z("-10", &v), 0);
  assert_int_equal(v, -10);
  assert_int_equal(parse_i64z("-9223372036854775808", &v), 0);
  assert_true(v == INT64_MIN);
  assert_int_equal(parse_i64z("9223372036854775808", &v), -1);
  assert_int_equal(parse_i64z("-0", &v), -1);
  assert_int_equal(parse_i64z("-", &v), -1);
}

static void utf8_checks(void **state)
{
  assert_true(utf8_valid("a\xc3\xa9\xe4\xb8\xad", 6));
  assert_int_equal(utf8_count("a\xc3\xa9\xe4\xb8\xad", 6), 3);
  assert_false(utf8_valid("\xc0\xaf", 2));         /* overlong */
  assert_false(utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
  assert_false(utf8_valid("\xe4\xb8", 2));         /* truncated */
  assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
}

/* fmt_u64/fmt_i64 say what snprintf says, at the edges and between. */
static void fmt_decimal_like_snprintf(void **state)
{
  static const int64_t i[] = {0,  1,          -1,        9,         10,           -10,
                              99, 1000000007, INT64_MAX, INT64_MIN, INT64_MIN + 1};
  char ours[32], theirs[32];
  size_t n;

  for (size_t k = 0; k < sizeof(i) / sizeof(i[0]); k++) {
    n = fmt_i64(ours, i[k]);
    ours[n] = '\0';
    snprintf(theirs, sizeof(theirs), "%lld", (long long)i[k]);
    assert_string_equal(ours, theirs);
  }
  for (uint64_t v = 1; v; v = v * 3 + 1) { /* up to overflow */
    n = fmt_u64(ours, v);
    ours[n] = '\0';
    snprintf(theirs, sizeof(theirs), "%llu", (unsigned long long)v);
    assert_string_equal(ours, theirs);
    if (v > UINT64_MAX / 4)
      break;
  }
  n = fmt_u64(ours, UINT64_MAX);
  assert_int_equal(n, 20);
  ours[n] = '\0';
  assert_string_equal(ours, "18446744073709551615");
}

/* str_copy cuts to the room and always terminates. */
static void str_copy_cuts(void **state)
{
  char d[4];
  assert_int_equal(str_copy(d, sizeof(d), "ab"), 2);
  assert_string_equal(d, "ab");
  assert_int_equal(str_copy(d, sizeof(d), "abcdef"), 3);
  assert_string_equal(d, "abc");
  assert_int_equal(str_copy(d, 1, "abc"), 0);
  assert_string_equal(d, "");
}

static void ct_equal_lengths(void **state)
{
  assert_true(ct_equal("abc", 3, "abc", 3));
  assert_false(ct_equal("abc", 3, "abd", 3));
  assert_false(ct_equal("abc", 3, "ab", 2));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(buf_respects_max),
      cmocka_unit_test(buf_printf_grows),
      cmocka_unit_test(parse_u64_is_strict),
      cmocka_unit_test(parse_i64_signs),
      cmocka_unit_test(utf8_checks),
      cmocka_unit_test(ct_equal_lengths),
      cmocka_unit_test(fmt_decimal_like_snprintf),
      cmocka_unit_test(str_copy_cuts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
