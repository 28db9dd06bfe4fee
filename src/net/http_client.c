/*
 * http_client.c: libcurl easy-handle wrapper; see http_client.h.
 */
#include "net/http_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/limits.h"
#include "core/util.h"

#define HC_DEFAULT_CONNECT_MS 5000
#define HC_DEFAULT_TIMEOUT_MS 30000
#define HC_DEFAULT_MAX_BODY   (1024 * 1024)

struct http_client {
  CURL *curl;
  struct http_client_opts opts;
  char *user_agent;
  char *connect_to;
};

static pthread_mutex_t global_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned global_refs; /* successful inits not yet cleaned up */

int http_client_global_init(void)
{
  int rc = VG_OK;

  pthread_mutex_lock(&global_mu);
  if (global_refs == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    rc = VG_ERR;
  else
    global_refs++;
  pthread_mutex_unlock(&global_mu);
  return rc;
}

void http_client_global_cleanup(void)
{
  pthread_mutex_lock(&global_mu);
  if (global_refs > 0 && --global_refs == 0)
    curl_global_cleanup();
  pthread_mutex_unlock(&global_mu);
}

struct http_client *http_client_new(const struct http_client_opts *opts)
{
  struct http_client *c = xcalloc(1, sizeof(*c));

  if (opts)
    c->opts = *opts;
  if (c->opts.connect_timeout_ms <= 0)
    c->opts.connect_timeout_ms = HC_DEFAULT_CONNECT_MS;
  if (c->opts.timeout_ms <= 0)
    c->opts.timeout_ms = HC_DEFAULT_TIMEOUT_MS;
  if (c->opts.max_body == 0)
    c->opts.max_body = HC_DEFAULT_MAX_BODY;
  c->user_agent = xstrdup(c->opts.user_agent ? c->opts.user_agent : "vodgate/" VODGATE_VERSION);
  c->opts.user_agent = c->user_agent;
  c->connect_to = c->opts.connect_to ? xstrdup(c->opts.connect_to) : NULL;
  c->opts.connect_to = c->connect_to;
  c->curl = curl_easy_init();
  if (!c->curl) {
    fprintf(stderr, "curl_easy_init failed\n");
    abort();
  }
  return c;
}

void http_client_free(struct http_client *c)
{
  if (!c)
    return;
  curl_easy_cleanup(c->curl);
  free(c->user_agent);
  free(c->connect_to);
  free(c);
}

void http_client_resp_release(struct http_client_resp *resp)
{
  buf_release(&resp->body);
  buf_release(&resp->headers);
}

struct sink {
  struct buf *b;
  bool too_big;
};

/* One header line per call (with its CRLF). A status line starts a new
 * response (after a 1xx or on a retried connection): only the final
 * response's lines are kept. */
static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
  struct sink *s = ud;
  size_t len = size * n;

  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
    buf_reset(s->b);
    return len;
  }
  if (len <= 2 && (len == 0 || p[0] == '\r' || p[0] == '\n'))
    return len; /* the blank line ending the block */
  if (buf_append(s->b, p, len) != VG_OK) {
    s->too_big = true;
    return 0; /* makes curl fail with CURLE_WRITE_ERROR */
  }
  return len;
}

int http_client_resp_header(const struct http_client_resp *resp, const char *name, char *out,
                            size_t cap)
{
  const char *p = resp->headers.ptr, *end = p + resp->headers.len;
  size_t nlen = strlen(name);

  while (p && p < end) {
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    const char *le = eol ? eol : end;
    if ((size_t)(le - p) > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
      const char *v = p + nlen + 1, *ve = le;
      size_t vlen;
      while (v < ve && (*v == ' ' || *v == '\t'))
        v++;
      while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
        ve--;
      vlen = (size_t)(ve - v);
      if (vlen >= cap)
        return VG_TOOBIG;
      memcpy(out, v, vlen);
      out[vlen] = '\0';
      return VG_OK;
    }
    p = le + 1;
  }
  return VG_NOTFOUND;
}

static size_t write_cb(char *p, size_t size, size_t n, void *ud)
{
  struct sink *s = ud;
  size_t len = size * n;

  if (buf_append(s->b, p, len) != VG_OK) {
    s->too_big = true;
    return 0; /* makes curl fail with CURLE_WRITE_ERROR */
  }
  return len;
}

static int progress_cb(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
  atomic_bool *cancel = ud;

  (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
  return cancel && atomic_load(cancel) ? 1 : 0; /* non-zero aborts the transfer */
}

int http_client_url_host(const char *url, char *out, size_t cap)
{
  const char *p, *end, *at;
  size_t n;

  if (strncmp(url, "http://", 7) == 0)
    p = url + 7;
  else if (strncmp(url, "https://", 8) == 0)
    p = url + 8;
  else
    return VG_INVALID;
  end = p + strcspn(p, "/?#");
  /* userinfo@host: never part of Host */
  at = memchr(p, '@', (size_t)(end - p));
  if (at)
    p = at + 1;
  n = (size_t)(end - p);
  if (n == 0)
    return VG_INVALID;
  if (n >= cap)
    return VG_TOOBIG;
  memcpy(out, p, n);
  out[n] = '\0';
  return VG_OK;
}

static bool method_valid(const char *m)
{
  size_t n = 0;

  for (; m[n]; n++)
    if (m[n] < 'A' || m[n] > 'Z')
      return false;
  return n > 0 && n < HTTP_CLIENT_MAX_METHOD;
}

/* One transfer: what must outlive curl_easy_perform or a multi handle's
 * run. resp is the caller's. */
struct hc_xfer {
  struct curl_slist *hl, *ct;
  struct sink sink, hsink;
  struct http_client_resp *resp;
  size_t max_body;
};

/* Sets up easy handle h for one request (see http_client_request) into
 * *resp. copy_body: libcurl keeps its own copy of the body (a multi
 * transfer outlives the caller's buffer). Returns VG_OK or the argument's
 * error with resp->error set (nothing to undo then). */
static int xfer_setup(struct hc_xfer *x, CURL *h, const struct http_client_opts *o,
                      const char *method, const char *url, const char *const *headers,
                      size_t n_headers, const void *body, size_t body_len, long timeout_ms,
                      bool copy_body, struct http_client_resp *resp)
{
  struct curl_slist *tmp;
  bool post = strcmp(method, "POST") == 0;

  memset(x, 0, sizeof(*x));
  memset(resp, 0, sizeof(*resp));
  buf_init(&resp->body, o->max_body);
  buf_init(&resp->headers, HTTP_CLIENT_MAX_HEADERS);
  x->resp = resp;
  x->max_body = o->max_body;
  if (!method_valid(method)) {
    snprintf(resp->error, sizeof(resp->error), "bad HTTP method");
    return VG_INVALID;
  }
  if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
    snprintf(resp->error, sizeof(resp->error), "URL scheme must be http or https");
    return VG_INVALID;
  }
  for (size_t i = 0; i < n_headers; i++) {
    if (strpbrk(headers[i], "\r\n")) {
      snprintf(resp->error, sizeof(resp->error), "header with CR or LF");
      curl_slist_free_all(x->hl);
      return VG_INVALID;
    }
    tmp = curl_slist_append(x->hl, headers[i]);
    if (!tmp) {
      curl_slist_free_all(x->hl);
      snprintf(resp->error, sizeof(resp->error), "out of memory");
      return VG_NOMEM;
    }
    x->hl = tmp;
  }
  /* libcurl sends "Expect: 100-continue" for larger bodies: one more round
   * trip for nothing, and some receivers mishandle it. */
  tmp = curl_slist_append(x->hl, "Expect:");
  if (tmp)
    x->hl = tmp;
  if (o->connect_to) {
    x->ct = curl_slist_append(NULL, o->connect_to);
    if (!x->ct) {
      curl_slist_free_all(x->hl);
      snprintf(resp->error, sizeof(resp->error), "out of memory");
      return VG_NOMEM;
    }
  }

  x->sink.b = &resp->body;
  x->hsink.b = &resp->headers;
  /* Options are reset per request: nothing leaks from the previous one;
   * the connection cache survives curl_easy_reset. */
  curl_easy_reset(h);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : o->timeout_ms);
  curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_body);
  curl_easy_setopt(h, CURLOPT_USERAGENT, o->user_agent);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hl);
  if (x->ct)
    curl_easy_setopt(h, CURLOPT_CONNECT_TO, x->ct);
  if (post || body) {
    /* A body goes as POSTFIELDS (no read callback); another method than
     * POST replaces the request line's. The size first: COPYPOSTFIELDS
     * copies that many bytes. */
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
    curl_easy_setopt(h, copy_body ? CURLOPT_COPYPOSTFIELDS : CURLOPT_POSTFIELDS,
                     body ? (const char *)body : "");
    if (!post)
      curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  } else if (strcmp(method, "HEAD") == 0) {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L); /* a custom HEAD would wait for a body */
  } else if (strcmp(method, "GET") != 0) {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  }
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &x->sink);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &x->hsink);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, o->cancel);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
  return VG_OK;
}

/* The outcome of a transfer set up by xfer_setup that ended with cc. */
static int xfer_finish(struct hc_xfer *x, CURL *h, CURLcode cc)
{
  struct http_client_resp *resp = x->resp;
  int rc = VG_OK;

  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
  if (x->sink.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
    snprintf(resp->error, sizeof(resp->error), "response body over %zu bytes", x->max_body);
    rc = VG_TOOBIG;
  } else if (x->hsink.too_big) {
    snprintf(resp->error, sizeof(resp->error), "response headers over %d bytes",
             HTTP_CLIENT_MAX_HEADERS);
    rc = VG_TOOBIG;
  } else if (cc == CURLE_ABORTED_BY_CALLBACK) {
    snprintf(resp->error, sizeof(resp->error), "cancelled");
    rc = VG_AGAIN;
  } else if (cc != CURLE_OK) {
    snprintf(resp->error, sizeof(resp->error), "%s", curl_easy_strerror(cc));
    rc = cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL ? VG_INVALID : VG_IO;
  }
  /* Keep body.ptr a C string for parsers (the cap is on the payload). */
  if (rc == VG_OK) {
    resp->body.max++;
    if (buf_appendc(&resp->body, '\0') == VG_OK)
      resp->body.len--;
    resp->body.max--;
  }
  /* The lists must outlive the transfer only: unhook them before freeing. */
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
  curl_easy_setopt(h, CURLOPT_CONNECT_TO, NULL);
  curl_slist_free_all(x->hl);
  curl_slist_free_all(x->ct);
  x->hl = x->ct = NULL;
  return rc;
}

int http_client_request(struct http_client *c, const char *method, const char *url,
                        const char *const *headers, size_t n_headers, const void *body,
                        size_t body_len, long timeout_ms, struct http_client_resp *resp)
{
  struct hc_xfer x;
  int rc = xfer_setup(&x, c->curl, &c->opts, method, url, headers, n_headers, body, body_len,
                      timeout_ms, false, resp);

  if (rc)
    return rc;
  return xfer_finish(&x, c->curl, curl_easy_perform(c->curl));
}

int http_client_post(struct http_client *c, const char *url, const char *const *headers,
                     size_t n_headers, const char *body, size_t body_len, long timeout_ms,
                     struct http_client_resp *resp)
{
  return http_client_request(c, "POST", url, headers, n_headers, body, body_len, timeout_ms, resp);
}

/* ---- several transfers at once (libcurl multi) ---- */

struct hm_slot {
  CURL *h; /* kept between transfers: its setup is reused, not its options */
  struct hc_xfer x;
  struct http_client_resp resp;
  void *tag;
  bool busy;
};

struct http_multi {
  CURLM *m;
  struct http_client_opts opts;
  char *user_agent;
  char *connect_to;
  struct hm_slot *slot;
  unsigned n, busy;
};

struct http_multi *http_multi_new(const struct http_client_opts *opts, unsigned max_inflight)
{
  struct http_multi *m = xcalloc(1, sizeof(*m));

  if (opts)
    m->opts = *opts;
  if (m->opts.connect_timeout_ms <= 0)
    m->opts.connect_timeout_ms = HC_DEFAULT_CONNECT_MS;
  if (m->opts.timeout_ms <= 0)
    m->opts.timeout_ms = HC_DEFAULT_TIMEOUT_MS;
  if (m->opts.max_body == 0)
    m->opts.max_body = HC_DEFAULT_MAX_BODY;
  m->user_agent = xstrdup(m->opts.user_agent ? m->opts.user_agent : "vodgate/" VODGATE_VERSION);
  m->opts.user_agent = m->user_agent;
  m->connect_to = m->opts.connect_to ? xstrdup(m->opts.connect_to) : NULL;
  m->opts.connect_to = m->connect_to;
  m->n = max_inflight ? max_inflight : 1;
  m->slot = xcalloc(m->n, sizeof(*m->slot));
  m->m = curl_multi_init();
  if (!m->m) {
    fprintf(stderr, "curl_multi_init failed\n");
    abort();
  }
  /* At most one connection per transfer in flight, kept between them. */
  curl_multi_setopt(m->m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)m->n);
  curl_multi_setopt(m->m, CURLMOPT_MAXCONNECTS, (long)m->n);
  for (unsigned i = 0; i < m->n; i++) {
    m->slot[i].h = curl_easy_init();
    if (!m->slot[i].h) {
      fprintf(stderr, "curl_easy_init failed\n");
      abort();
    }
  }
  return m;
}

static void hm_slot_end(struct http_multi *m, struct hm_slot *s)
{
  curl_multi_remove_handle(m->m, s->h);
  s->busy = false;
  s->tag = NULL;
  m->busy--;
}

void http_multi_free(struct http_multi *m)
{
  if (!m)
    return;
  for (unsigned i = 0; i < m->n; i++) {
    struct hm_slot *s = &m->slot[i];
    if (s->busy) {
      hm_slot_end(m, s);
      (void)xfer_finish(&s->x, s->h, CURLE_ABORTED_BY_CALLBACK);
      http_client_resp_release(&s->resp);
    }
    curl_easy_cleanup(s->h);
  }
  curl_multi_cleanup(m->m);
  free(m->slot);
  free(m->user_agent);
  free(m->connect_to);
  free(m);
}

unsigned http_multi_inflight(const struct http_multi *m)
{
  return m->busy;
}

int http_multi_add(struct http_multi *m, const char *method, const char *url,
                   const char *const *headers, size_t n_headers, const void *body, size_t body_len,
                   long timeout_ms, void *tag, char *err, size_t errlen)
{
  struct hm_slot *s = NULL;
  int rc;

  if (errlen)
    err[0] = '\0';
  for (unsigned i = 0; i < m->n && !s; i++)
    if (!m->slot[i].busy)
      s = &m->slot[i];
  if (!s) {
    snprintf(err, errlen, "%u transfers in flight already", m->n);
    return VG_AGAIN;
  }
  rc = xfer_setup(&s->x, s->h, &m->opts, method, url, headers, n_headers, body, body_len,
                  timeout_ms, true, &s->resp);
  if (rc == VG_OK && curl_multi_add_handle(m->m, s->h) != CURLM_OK) {
    (void)xfer_finish(&s->x, s->h, CURLE_OUT_OF_MEMORY);
    snprintf(s->resp.error, sizeof(s->resp.error), "cannot start the transfer");
    rc = VG_NOMEM;
  }
  if (rc) {
    snprintf(err, errlen, "%s", s->resp.error);
    http_client_resp_release(&s->resp);
    return rc;
  }
  s->tag = tag;
  s->busy = true;
  m->busy++;
  return VG_OK;
}

/* Ends every finished transfer: done for each, its slot free again. */
static unsigned hm_collect(struct http_multi *m, http_multi_done_fn done, void *arg)
{
  CURLMsg *msg;
  int left;
  unsigned n = 0;

  while ((msg = curl_multi_info_read(m->m, &left))) {
    struct hm_slot *s = NULL;
    int rc;
    if (msg->msg != CURLMSG_DONE)
      continue;
    for (unsigned i = 0; i < m->n && !s; i++)
      if (m->slot[i].busy && m->slot[i].h == msg->easy_handle)
        s = &m->slot[i];
    if (!s)
      continue;
    rc = xfer_finish(&s->x, s->h, msg->data.result);
    {
      void *tag = s->tag;
      struct http_client_resp resp = s->resp;
      hm_slot_end(m, s); /* before done: it may add the next transfer */
      done(tag, rc, &resp, arg);
      http_client_resp_release(&resp);
    }
    n++;
  }
  return n;
}

int http_multi_run(struct http_multi *m, long wait_ms, http_multi_done_fn done, void *arg)
{
  int running = 0;

  if (curl_multi_perform(m->m, &running) != CURLM_OK)
    return VG_ERR;
  if (hm_collect(m, done, arg) > 0 || wait_ms <= 0)
    return VG_OK;
  /* Transfers poll the cancel flag at least once a second (progress_cb);
   * with none in flight, this is a plain wait that http_multi_wakeup ends. */
  if (curl_multi_poll(m->m, NULL, 0, wait_ms > INT32_MAX ? INT32_MAX : (int)wait_ms, NULL) !=
      CURLM_OK)
    return VG_ERR;
  if (curl_multi_perform(m->m, &running) != CURLM_OK)
    return VG_ERR;
  hm_collect(m, done, arg);
  return VG_OK;
}

void http_multi_wakeup(struct http_multi *m)
{
  curl_multi_wakeup(m->m);
}
