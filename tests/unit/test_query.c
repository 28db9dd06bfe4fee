/* Unit tests for core/query: RFC 3986 escaping and lenient parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/query.h"

static char store[QUERY_STORE_SIZE(4096)];

static enum query_error parse(struct query *q, const char *s)
{
  return query_parse(q, s, strlen(s), store, sizeof(store), QUERY_MAX_PAIRS);
}

/* The spec 1.3 test value, encoded by RFC 3986: only A-Za-z0-9-._~ raw. */
static void escape_rfc3986(void **state)
{
  struct buf b;
  buf_init(&b, 1000);
  const char *v = "a b~*'()!@#$&=+/?:;,\"\xe4\xb8\xad\xe6\x96\x87-._";
  assert_int_equal(query_escape(&b, v, strlen(v)), VG_OK);
  assert_string_equal(b.ptr, "a%20b~%2A%27%28%29%21%40%23%24%26%3D%2B%2F%3F%3A%3B%2C%22%E4%B8%AD%"
                             "E6%96%87-._");
  buf_reset(&b);
  assert_int_equal(query_escape(&b, "\0\x7f\xff", 3), VG_OK);
  assert_string_equal(b.ptr, "%00%7F%FF");
  buf_release(&b);
}

static void escape_all_bytes(void **state)
{
  struct buf b;
  char in[256];
  buf_init(&b, 1000);
  for (int i = 0; i < 256; i++)
    in[i] = (char)i;
  assert_int_equal(query_escape(&b, in, 256), VG_OK);
  /* 66 unreserved raw, 190 escaped. */
  assert_int_equal(b.len, 66 + 190 * 3);
  buf_release(&b);
}

static void escape_is_bounded(void **state)
{
  struct buf b;
  buf_init(&b, 8);
  assert_int_equal(query_append(&b, "k", "v", 1), VG_OK);
  assert_int_equal(query_append(&b, "k2", "  ", 2), VG_TOOBIG); /* "&k2=%20%20" */
  assert_string_equal(b.ptr, "k=v");
  assert_int_equal(query_escape(&b, "  ", 2), VG_TOOBIG); /* 3 + 6 > 8 */
  assert_string_equal(b.ptr, "k=v");
  buf_release(&b);
}

static void parse_decodes_every_style(void **state)
{
  struct query q;
  /* Node, PHP, lower-case hex, raw ~*'()!, Go-sorted: all the same value. */
  const char *forms[] = {
      "v=a%20b~*'()!%40%E4%B8%AD",
      "v=a+b%7E%2A%27%28%29%21%40%E4%B8%AD",
      "v=a+b%7e%2a%27%28%29%21%40%e4%b8%ad",
      "v=a b~*'()!@\xe4\xb8\xad",
  };
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(parse(&q, forms[i]), QUERY_OK);
    assert_int_equal(q.n, 1);
    assert_string_equal(q.pairs[0].key, "v");
    assert_string_equal(q.pairs[0].val, "a b~*'()!@\xe4\xb8\xad");
  }
  assert_int_equal(parse(&q, forms[0]), QUERY_OK);
  assert_int_equal(q.flags, 0);
  assert_int_equal(parse(&q, forms[1]), QUERY_OK);
  assert_int_equal(q.flags, QUERY_F_PLUS);
  assert_int_equal(parse(&q, forms[2]), QUERY_OK);
  assert_int_equal(q.flags, QUERY_F_PLUS | QUERY_F_LOWER_HEX);
  assert_int_equal(parse(&q, forms[3]), QUERY_OK);
  assert_int_equal(q.flags, QUERY_F_RAW_SPECIAL);
}

static void parse_pairs_and_positions(void **state)
{
  struct query q;
  const char *s = "b=2&a=&c&d=x=y";
  assert_int_equal(parse(&q, s), QUERY_OK);
  assert_int_equal(q.n, 4);
  assert_string_equal(q.pairs[0].key, "b");
  assert_string_equal(q.pairs[1].key, "a");
  assert_int_equal(q.pairs[1].val_len, 0);
  assert_string_equal(q.pairs[2].key, "c");
  assert_int_equal(q.pairs[2].flags, QUERY_F_NO_EQUALS);
  assert_string_equal(q.pairs[3].val, "x=y");
  assert_int_equal(q.pairs[3].flags, QUERY_F_RAW_SPECIAL);
  assert_int_equal(q.pairs[3].raw_off, 9);
  assert_int_equal(q.pairs[3].raw_len, 5);
  assert_non_null(query_get(&q, "a"));
  assert_null(query_get(&q, "e"));
  assert_int_equal(parse(&q, "&a=1&&b=2&"), QUERY_OK);
  assert_int_equal(q.n, 2);
  assert_true(q.flags & QUERY_F_EMPTY_SEGMENT);
  assert_int_equal(parse(&q, ""), QUERY_OK);
  assert_int_equal(q.n, 0);
  assert_int_equal(q.flags, 0);
  /* %00 decodes to a NUL inside the value; lengths carry it. */
  assert_int_equal(parse(&q, "k=a%00b"), QUERY_OK);
  assert_int_equal(q.pairs[0].val_len, 3);
  assert_memory_equal(q.pairs[0].val, "a\0b", 3);
}

static void parse_rejects(void **state)
{
  struct query q;
  assert_int_equal(parse(&q, "a=1&b=%4"), QUERY_BAD_ESCAPE);
  assert_int_equal(q.err_off, 6);
  assert_int_equal(parse(&q, "a=%zz"), QUERY_BAD_ESCAPE);
  assert_int_equal(parse(&q, "a=%"), QUERY_BAD_ESCAPE);
  assert_int_equal(parse(&q, "a%G1=1"), QUERY_BAD_ESCAPE);
  assert_int_equal(parse(&q, "=1"), QUERY_EMPTY_KEY);
  assert_int_equal(parse(&q, "a=1&a=2"), QUERY_DUP_KEY);
  assert_int_equal(parse(&q, "a=1&%61=2"), QUERY_DUP_KEY); /* same decoded key */
  assert_int_equal(q.err_pair, 0);
  assert_int_equal(parse(&q, "a=%C3%28"), QUERY_BAD_UTF8);
  assert_int_equal(parse(&q, "a=%ED%A0%80"), QUERY_BAD_UTF8); /* surrogate */
  assert_int_equal(parse(&q, "a=\xff"), QUERY_BAD_UTF8);
  assert_int_equal(parse(&q, "%FF=1"), QUERY_BAD_UTF8);
}

static void parse_limits(void **state)
{
  struct query q;
  char s[400];
  size_t n = 0;
  for (int i = 0; i < 33; i++)
    n += (size_t)snprintf(s + n, sizeof(s) - n, "%sk%d=1", i ? "&" : "", i);
  assert_int_equal(query_parse(&q, s, n, store, sizeof(store), 33), QUERY_OK);
  assert_int_equal(query_parse(&q, s, n, store, sizeof(store), 32), QUERY_TOO_MANY);
  assert_int_equal(query_parse(&q, s, n, store, 10, 33), QUERY_NO_ROOM);
  {
    char *big = calloc(1, QUERY_MAX_INPUT + 2);
    memset(big, 'a', QUERY_MAX_INPUT + 1);
    assert_int_equal(query_parse(&q, big, QUERY_MAX_INPUT + 1, NULL, 0, 1), QUERY_TOO_LONG);
    free(big);
  }
}

/* Whatever we escape parses back to the same bytes. */
static void escape_parse_roundtrip(void **state)
{
  struct buf b;
  struct query q;
  char v[200];
  buf_init(&b, 4096);
  for (int round = 0; round < 200; round++) {
    size_t n = (size_t)round % 50;
    for (size_t i = 0; i < n; i++)
      v[i] = (char)(0x20 + (round * 31 + (int)i * 7) % 95); /* printable ASCII */
    buf_reset(&b);
    assert_int_equal(query_append(&b, "key", v, n), VG_OK);
    assert_int_equal(query_parse(&q, b.ptr, b.len, store, sizeof(store), 4), QUERY_OK);
    assert_int_equal(q.n, 1);
    assert_int_equal(q.pairs[0].val_len, n);
    assert_memory_equal(q.pairs[0].val, v, n);
    assert_int_equal(q.flags, 0);
  }
  buf_release(&b);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(escape_rfc3986),
      cmocka_unit_test(escape_all_bytes),
      cmocka_unit_test(escape_is_bounded),
      cmocka_unit_test(parse_decodes_every_style),
      cmocka_unit_test(parse_pairs_and_positions),
      cmocka_unit_test(parse_rejects),
      cmocka_unit_test(parse_limits),
      cmocka_unit_test(escape_parse_roundtrip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
