/* Unit tests for core/buf and core/util. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
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

static void ct_equal_lengths(void **state)
{
  assert_true(ct_equal("abc", 3, "abc", 3));
  assert_false(ct_equal("abc", 3, "abd", 3));
  assert_false(ct_equal("abc", 3, "ab", 2));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(buf_respects_max),    cmocka_unit_test(buf_printf_grows),
      cmocka_unit_test(parse_u64_is_strict), cmocka_unit_test(parse_i64_signs),
      cmocka_unit_test(utf8_checks),         cmocka_unit_test(ct_equal_lengths),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
