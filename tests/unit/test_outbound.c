/* Unit tests for the outbound side: Standard Webhooks signing (the spec's
 * published vector), webhook secrets (whsec_ and raw), and the libcurl
 * client against a one-shot loopback server (status and body, the body
 * cap, no redirects followed, only http/https, header injection; other
 * methods, response headers and their cap, connect_to). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/limits.h"
#include "core/util.h"
#include "net/http_client.h"
#include "svc/workers.h"

/* Standard Webhooks reference vector (standard-webhooks libraries' tests). */
static void test_sign_vector(void **state)
{
  unsigned char *key;
  size_t key_len;
  char sig[128];
  const char *body = "{\"test\": 2432232314}";

  (void)state;
  assert_int_equal(webhook_secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 38, &key, &key_len),
                   VG_OK);
  assert_int_equal(key_len, 24);
  assert_int_equal(webhook_sign(key, key_len, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                                strlen(body), sig, sizeof(sig)),
                   VG_OK);
  assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  free(key);
  assert_int_equal(webhook_sign("k", 1, "id", 1, "b", 1, sig, 40), VG_ERR); /* too small */
}

static void test_secret_forms(void **state)
{
  unsigned char *key;
  size_t key_len;

  (void)state;
  assert_int_equal(webhook_secret_key("raw-secret", 10, &key, &key_len), VG_OK);
  assert_int_equal(key_len, 10);
  assert_memory_equal(key, "raw-secret", 10);
  free(key);
  assert_int_equal(webhook_secret_key("whsec_***", 9, &key, &key_len), VG_INVALID);
  assert_null(key);
  assert_int_equal(webhook_secret_key("", 0, &key, &key_len), VG_INVALID);
  assert_int_equal(webhook_secret_key(NULL, 0, &key, &key_len), VG_INVALID);
}

static void test_url_host(void **state)
{
  char h[64];

  (void)state;
  assert_int_equal(http_client_url_host("https://vod.tencentcloudapi.com", h, sizeof(h)), VG_OK);
  assert_string_equal(h, "vod.tencentcloudapi.com");
  assert_int_equal(http_client_url_host("http://127.0.0.1:8080/x?y", h, sizeof(h)), VG_OK);
  assert_string_equal(h, "127.0.0.1:8080");
  assert_int_equal(http_client_url_host("http://u:p@[::1]:9/", h, sizeof(h)), VG_OK);
  assert_string_equal(h, "[::1]:9");
  assert_int_equal(http_client_url_host("ftp://x/", h, sizeof(h)), VG_INVALID);
  assert_int_equal(http_client_url_host("http:///", h, sizeof(h)), VG_INVALID);
  assert_int_equal(http_client_url_host("http://aaaaaaaaaaaaaaaaaaaa", h, 8), VG_TOOBIG);
}

/* A server that answers one connection with a fixed response and keeps
 * what it received. */
struct one_shot {
  int fd;
  int port;
  const char *response;
  char got[8192];
  pthread_t th;
};

static void *serve_one(void *arg)
{
  struct one_shot *s = arg;
  int c = accept(s->fd, NULL, NULL);
  size_t n = 0;

  if (c < 0)
    return NULL;
  /* Read until the headers and the (small) body are in. */
  while (n < sizeof(s->got) - 1) {
    ssize_t r = read(c, s->got + n, sizeof(s->got) - 1 - n);
    char *eoh;
    if (r <= 0)
      break;
    n += (size_t)r;
    s->got[n] = '\0';
    eoh = strstr(s->got, "\r\n\r\n");
    if (eoh) {
      const char *cl = strstr(s->got, "Content-Length: ");
      size_t want = cl ? strtoul(cl + 16, NULL, 10) : 0;
      if (n - (size_t)(eoh + 4 - s->got) >= want)
        break;
    }
  }
  {
    /* MSG_NOSIGNAL: the client may have gone (e.g. it gave up on an
     * over-long header block), which must not kill the test with SIGPIPE. */
    ssize_t w = send(c, s->response, strlen(s->response), MSG_NOSIGNAL);
    (void)w;
  }
  close(c);
  return NULL;
}

static void one_shot_start(struct one_shot *s, const char *response)
{
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(a);

  memset(s->got, 0, sizeof(s->got));
  s->response = response;
  s->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(s->fd >= 0);
  assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(listen(s->fd, 1), 0);
  assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
  s->port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&s->th, NULL, serve_one, s), 0);
}

static void one_shot_end(struct one_shot *s)
{
  pthread_join(s->th, NULL);
  close(s->fd);
}

static void test_client_post(void **state)
{
  struct http_client *c = http_client_new(&(struct http_client_opts){.max_body = 64});
  struct http_client_resp r;
  struct one_shot s;
  char url[64];
  const char *hdrs[] = {"X-Test: 1", "Content-Type: application/json"};

  (void)state;
  one_shot_start(&s, "HTTP/1.1 201 Created\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello");
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/path", s.port);
  assert_int_equal(http_client_post(c, url, hdrs, 2, "{\"a\":1}", 7, 0, &r), VG_OK);
  one_shot_end(&s);
  assert_int_equal(r.status, 201);
  assert_int_equal(r.body.len, 5);
  assert_string_equal(r.body.ptr, "hello");
  assert_string_equal(r.error, "");
  assert_non_null(strstr(s.got, "POST /path HTTP/1.1\r\n"));
  assert_non_null(strstr(s.got, "\r\nX-Test: 1\r\n"));
  assert_non_null(strstr(s.got, "\r\n\r\n{\"a\":1}"));
  assert_null(strstr(s.got, "Expect:"));
  http_client_resp_release(&r);

  /* A body over the cap fails the request. */
  one_shot_start(&s, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
                     "0123456789012345678901234567890123456789012345678901234567890123456789");
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
  assert_int_equal(http_client_post(c, url, NULL, 0, NULL, 0, 0, &r), VG_TOOBIG);
  one_shot_end(&s);
  assert_non_null(strstr(r.error, "over 64 bytes"));
  http_client_resp_release(&r);

  /* Redirects are answers, never followed. */
  one_shot_start(&s, "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: "
                     "0\r\nConnection: close\r\n\r\n");
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
  assert_int_equal(http_client_post(c, url, NULL, 0, NULL, 0, 0, &r), VG_OK);
  one_shot_end(&s);
  assert_int_equal(r.status, 302);
  http_client_resp_release(&r);

  /* Only http and https; no header injection. */
  assert_int_equal(http_client_post(c, "file:///etc/passwd", NULL, 0, NULL, 0, 0, &r), VG_INVALID);
  http_client_resp_release(&r);
  {
    const char *bad[] = {"X-A: 1\r\nX-B: 2"};
    assert_int_equal(http_client_post(c, url, bad, 1, NULL, 0, 0, &r), VG_INVALID);
    http_client_resp_release(&r);
  }
  /* Nothing listens on port 1 here: a transport error, status 0. */
  assert_int_equal(http_client_post(c, "http://127.0.0.1:1/", NULL, 0, NULL, 0, 0, &r), VG_IO);
  assert_int_equal(r.status, 0);
  assert_true(r.error[0] != '\0');
  http_client_resp_release(&r);
  http_client_free(c);
}

static void test_client_request(void **state)
{
  struct http_client *c = http_client_new(&(struct http_client_opts){.max_body = 64});
  struct http_client_resp r;
  struct one_shot s;
  char url[64], v[16];
  const char *hdrs[] = {"X-Test: 2", "Content-Type:"};

  (void)state;
  /* PUT with a body; libcurl's default Content-Type removed; response
   * headers kept and found by name, case-insensitively. */
  one_shot_start(&s,
                 "HTTP/1.1 200 OK\r\nETag: \"0123456789abcdef0123456789abcdef\"\r\n"
                 "x-cos-request-id:  id-1 \t\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/obj?x=1", s.port);
  assert_int_equal(http_client_request(c, "PUT", url, hdrs, 2, "abc\0def", 7, 0, &r), VG_OK);
  one_shot_end(&s);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body.ptr, "ok");
  assert_non_null(strstr(s.got, "PUT /obj?x=1 HTTP/1.1\r\n"));
  assert_non_null(strstr(s.got, "\r\nX-Test: 2\r\n"));
  assert_non_null(strstr(s.got, "\r\nContent-Length: 7\r\n"));
  assert_memory_equal(strstr(s.got, "\r\n\r\n") + 4, "abc\0def", 7);
  assert_null(strstr(s.got, "Content-Type"));
  assert_null(strstr(s.got, "Expect:"));
  assert_int_equal(http_client_resp_header(&r, "etag", url, sizeof(url)), VG_OK);
  assert_string_equal(url, "\"0123456789abcdef0123456789abcdef\"");
  assert_int_equal(http_client_resp_header(&r, "X-COS-Request-Id", v, sizeof(v)), VG_OK);
  assert_string_equal(v, "id-1");
  assert_int_equal(http_client_resp_header(&r, "X-Cos-Request", v, sizeof(v)), VG_NOTFOUND);
  assert_int_equal(http_client_resp_header(&r, "ETag", v, sizeof(v)), VG_TOOBIG);
  assert_int_equal(http_client_resp_header(&r, "Missing", v, sizeof(v)), VG_NOTFOUND);
  http_client_resp_release(&r);

  /* GET and DELETE without a body send none. */
  one_shot_start(&s, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/g", s.port);
  assert_int_equal(http_client_request(c, "GET", url, NULL, 0, NULL, 0, 0, &r), VG_OK);
  one_shot_end(&s);
  assert_int_equal(r.status, 404);
  assert_non_null(strstr(s.got, "GET /g HTTP/1.1\r\n"));
  assert_null(strstr(s.got, "Content-Length"));
  http_client_resp_release(&r);
  one_shot_start(&s, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/d", s.port);
  assert_int_equal(http_client_request(c, "DELETE", url, NULL, 0, NULL, 0, 0, &r), VG_OK);
  one_shot_end(&s);
  assert_int_equal(r.status, 204);
  assert_non_null(strstr(s.got, "DELETE /d HTTP/1.1\r\n"));
  http_client_resp_release(&r);

  /* HEAD: the announced length is not waited for. */
  one_shot_start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n");
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/h", s.port);
  assert_int_equal(http_client_request(c, "HEAD", url, NULL, 0, NULL, 0, 0, &r), VG_OK);
  one_shot_end(&s);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.body.len, 0);
  assert_non_null(strstr(s.got, "HEAD /h HTTP/1.1\r\n"));
  http_client_resp_release(&r);

  /* Only the final response's header lines, not an interim 100's. */
  one_shot_start(&s,
                 "HTTP/1.1 100 Continue\r\nX-Early: 1\r\n\r\n"
                 "HTTP/1.1 200 OK\r\nX-Final: 2\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
  assert_int_equal(http_client_request(c, "POST", url, NULL, 0, NULL, 0, 0, &r), VG_OK);
  one_shot_end(&s);
  assert_int_equal(r.status, 200);
  assert_int_equal(http_client_resp_header(&r, "X-Final", v, sizeof(v)), VG_OK);
  assert_string_equal(v, "2");
  assert_int_equal(http_client_resp_header(&r, "X-Early", v, sizeof(v)), VG_NOTFOUND);
  assert_non_null(strstr(s.got, "POST / HTTP/1.1\r\n"));
  assert_non_null(strstr(s.got, "\r\nContent-Length: 0\r\n"));
  http_client_resp_release(&r);

  /* Header lines over HTTP_CLIENT_MAX_HEADERS fail the request. */
  {
    struct buf big;
    buf_init(&big, 2 * HTTP_CLIENT_MAX_HEADERS);
    assert_int_equal(buf_appends(&big, "HTTP/1.1 200 OK\r\n"), VG_OK);
    for (int i = 0; i < HTTP_CLIENT_MAX_HEADERS / 1000 + 1; i++)
      assert_int_equal(buf_printf(&big, "X-Pad-%d: %0990d\r\n", i, 0), VG_OK);
    assert_int_equal(buf_appends(&big, "Content-Length: 0\r\nConnection: close\r\n\r\n"), VG_OK);
    assert_int_equal(buf_appendc(&big, '\0'), VG_OK);
    one_shot_start(&s, big.ptr);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/big", s.port);
    assert_int_equal(http_client_request(c, "GET", url, NULL, 0, NULL, 0, 0, &r), VG_TOOBIG);
    one_shot_end(&s);
    assert_non_null(strstr(r.error, "response headers over"));
    http_client_resp_release(&r);
    buf_release(&big);
  }

  /* Methods are upper-case tokens. */
  assert_int_equal(http_client_request(c, "get", url, NULL, 0, NULL, 0, 0, &r), VG_INVALID);
  http_client_resp_release(&r);
  assert_int_equal(http_client_request(c, "GET /x HTTP/1.0\r\n", url, NULL, 0, NULL, 0, 0, &r),
                   VG_INVALID);
  http_client_resp_release(&r);
  assert_int_equal(http_client_request(c, "", url, NULL, 0, NULL, 0, 0, &r), VG_INVALID);
  http_client_resp_release(&r);
  http_client_free(c);
}

/* connect_to: the URL's host in Host, the connection to the loopback. */
static void test_client_connect_to(void **state)
{
  struct http_client *c;
  struct http_client_resp r;
  struct one_shot s;
  char ct[64];

  (void)state;
  one_shot_start(&s, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
  snprintf(ct, sizeof(ct), "::127.0.0.1:%d", s.port);
  c = http_client_new(&(struct http_client_opts){.connect_to = ct, .user_agent = "ua-test/1"});
  memset(ct, 'x', sizeof(ct) - 1); /* opts are copied */
  assert_int_equal(
      http_client_post(c, "http://vod2.qcloud.com/v3/index.php?Action=A", NULL, 0, "{}", 2, 0, &r),
      VG_OK);
  one_shot_end(&s);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(s.got, "POST /v3/index.php?Action=A HTTP/1.1\r\n"));
  assert_non_null(strstr(s.got, "\r\nHost: vod2.qcloud.com\r\n"));
  assert_non_null(strstr(s.got, "\r\nUser-Agent: ua-test/1\r\n"));
  http_client_resp_release(&r);
  http_client_free(c);
}

/* Global init is reference counted: the last cleanup only, not the first,
 * runs curl_global_cleanup; a client still works in between. main() holds
 * one reference throughout. */
static void test_global_refcount(void **state)
{
  struct http_client *c;
  struct http_client_resp r;
  struct one_shot s;
  char url[64];

  (void)state;
  assert_int_equal(http_client_global_init(), VG_OK);
  assert_int_equal(http_client_global_init(), VG_OK);
  http_client_global_cleanup();
  http_client_global_cleanup();
  c = http_client_new(&(struct http_client_opts){0});
  one_shot_start(&s, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s.port);
  assert_int_equal(http_client_request(c, "PUT", url, NULL, 0, "x", 1, 0, &r), VG_OK);
  one_shot_end(&s);
  assert_int_equal(r.status, 201);
  http_client_resp_release(&r);
  http_client_free(c);
}

struct multi_seen {
  int n;
  int tags[4];
  int rcs[4];
  long status[4];
  char body[4][16];
};

static void multi_done(void *tag, int rc, const struct http_client_resp *resp, void *arg)
{
  struct multi_seen *seen = arg;

  assert_true(seen->n < 4);
  seen->tags[seen->n] = (int)(intptr_t)tag;
  seen->rcs[seen->n] = rc;
  seen->status[seen->n] = resp->status;
  snprintf(seen->body[seen->n], sizeof(seen->body[0]), "%s", resp->body.ptr ? resp->body.ptr : "");
  seen->n++;
}

/* Two POSTs in flight at once from one thread, each reported once with its
 * tag, status and body; a third is refused while two are in flight; a bad
 * URL is refused at once with a reason and never reported. The body is the
 * multi's own copy (the caller's buffer is gone before the transfer runs). */
static void test_multi(void **state)
{
  struct http_multi *m = http_multi_new(&(struct http_client_opts){.max_body = 64}, 2);
  struct one_shot a, b;
  struct multi_seen seen = {0};
  char url_a[64], url_b[64], err[128], body[16];

  (void)state;
  one_shot_start(&a, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\na");
  one_shot_start(&b, "HTTP/1.1 503 Busy\r\nContent-Length: 1\r\nConnection: close\r\n\r\nb");
  snprintf(url_a, sizeof(url_a), "http://127.0.0.1:%d/a", a.port);
  snprintf(url_b, sizeof(url_b), "http://127.0.0.1:%d/b", b.port);
  snprintf(body, sizeof(body), "{\"x\":1}");
  assert_int_equal(
      http_multi_add(m, "POST", url_a, NULL, 0, body, 7, 0, (void *)(intptr_t)1, err, sizeof(err)),
      VG_OK);
  memset(body, 'z', sizeof(body));
  assert_int_equal(
      http_multi_add(m, "POST", url_b, NULL, 0, "{}", 2, 0, (void *)(intptr_t)2, err, sizeof(err)),
      VG_OK);
  assert_int_equal(http_multi_inflight(m), 2);
  assert_int_equal(http_multi_add(m, "POST", url_b, NULL, 0, NULL, 0, 0, NULL, err, sizeof(err)),
                   VG_AGAIN);
  while (seen.n < 2)
    assert_int_equal(http_multi_run(m, 1000, multi_done, &seen), VG_OK);
  one_shot_end(&a);
  one_shot_end(&b);
  assert_int_equal(http_multi_inflight(m), 0);
  for (int i = 0; i < 2; i++) {
    int t = seen.tags[i];
    assert_true(t == 1 || t == 2);
    assert_int_equal(seen.rcs[i], VG_OK);
    assert_int_equal(seen.status[i], t == 1 ? 200 : 503);
    assert_string_equal(seen.body[i], t == 1 ? "a" : "b");
  }
  assert_int_not_equal(seen.tags[0], seen.tags[1]);
  assert_non_null(strstr(a.got, "\r\n\r\n{\"x\":1}"));
  assert_non_null(strstr(b.got, "POST /b HTTP/1.1\r\n"));
  assert_int_equal(
      http_multi_add(m, "POST", "file:///etc/passwd", NULL, 0, NULL, 0, 0, NULL, err, sizeof(err)),
      VG_INVALID);
  assert_string_equal(err, "URL scheme must be http or https");
  assert_int_equal(http_multi_inflight(m), 0);
  assert_int_equal(http_multi_run(m, 0, multi_done, &seen), VG_OK);
  assert_int_equal(seen.n, 2);
  http_multi_free(m);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sign_vector),     cmocka_unit_test(test_secret_forms),
      cmocka_unit_test(test_url_host),        cmocka_unit_test(test_client_post),
      cmocka_unit_test(test_client_request),  cmocka_unit_test(test_client_connect_to),
      cmocka_unit_test(test_global_refcount), cmocka_unit_test(test_multi),
  };
  int rc;

  if (http_client_global_init())
    return 1;
  rc = cmocka_run_group_tests(tests, NULL, NULL);
  http_client_global_cleanup();
  return rc;
}
