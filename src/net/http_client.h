/*
 * http_client.h: the outbound HTTP client of the background workers (the
 * event puller, the webhook forwarder). A thin libcurl wrapper; this module
 * is the only code that includes curl/curl.h.
 *
 * Ownership and invariants:
 * - http_client_global_init() runs curl_global_init once per process; call
 *   it from the main thread before any worker starts (it is idempotent).
 * - A struct http_client holds ONE easy handle and is used by ONE thread at
 *   a time (the worker that created it); it keeps the connection alive
 *   between requests (connection reuse).
 * - Every request: only http and https (also on redirects, which are never
 *   followed), connect and total timeouts, no signals (CURLOPT_NOSIGNAL),
 *   and a response body capped at max_body bytes (a longer body fails the
 *   request with VG_TOOBIG; the connection is dropped).
 * - cancel (may be NULL) is polled while a transfer runs: once it reads
 *   true the transfer is abandoned within ~1 s (VG_AGAIN). That is how a
 *   worker stops promptly on SIGTERM.
 */
#ifndef VG_NET_HTTP_CLIENT_H
#define VG_NET_HTTP_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

struct http_client;

struct http_client_opts {
  long connect_timeout_ms; /* 0: 5000 */
  long timeout_ms;         /* whole request; 0: 30000 */
  size_t max_body;         /* response body cap in bytes; 0: 1 MiB */
  const char *user_agent;  /* NULL: "vodgate/<version>" */
  atomic_bool *cancel;     /* NULL: never cancelled */
};

/* The outcome of one request. body is NUL-terminated (body.ptr may be NULL
 * when empty). Release with http_client_resp_release(). */
struct http_client_resp {
  long status;     /* HTTP status; 0 when no response arrived */
  struct buf body; /* the response body, at most max_body bytes */
  char error[256]; /* why the request failed ("" on VG_OK); never a secret */
};

/* curl_global_init(CURL_GLOBAL_DEFAULT) once. Returns VG_OK or VG_ERR. */
int http_client_global_init(void) WARN_UNUSED;
/* curl_global_cleanup() at exit, after every client is freed. */
void http_client_global_cleanup(void);

/* A new client (never NULL: aborts on OOM as xmalloc does). opts is copied. */
struct http_client *http_client_new(const struct http_client_opts *opts);
void http_client_free(struct http_client *c); /* NULL is a no-op */

/*
 * POST body (body_len bytes; NULL = empty) to url with the given header
 * lines ("Name: value", n_headers of them; no CR/LF inside, else
 * VG_INVALID). timeout_ms overrides opts.timeout_ms when > 0. Fills *resp
 * (which the caller releases in every case). Returns VG_OK when a response
 * arrived, whatever its status; VG_IO for a transport error or timeout,
 * VG_TOOBIG when the body exceeded max_body, VG_AGAIN when cancelled,
 * VG_INVALID for a bad URL or header. resp->error says why.
 */
int http_client_post(struct http_client *c, const char *url, const char *const *headers,
                     size_t n_headers, const char *body, size_t body_len, long timeout_ms,
                     struct http_client_resp *resp) WARN_UNUSED;

void http_client_resp_release(struct http_client_resp *resp);

/* The host[:port] part of an http(s) URL (what curl sends as Host), into
 * out[cap]. Returns VG_OK, VG_INVALID (not http(s)://host...) or VG_TOOBIG. */
int http_client_url_host(const char *url, char *out, size_t cap) WARN_UNUSED;

#endif
