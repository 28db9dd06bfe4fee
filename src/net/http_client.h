/*
 * http_client.h: every outbound HTTP request of vodgate (the event puller,
 * the webhook forwarder, the emulator's event pushes, `vodgate upload`). A
 * thin libcurl wrapper; this module is the only code that includes
 * curl/curl.h (scripts/check-banned.sh enforces it).
 *
 * Ownership and invariants:
 * - http_client_global_init() runs curl_global_init; call it from the main
 *   thread before any client exists. It is reference counted: each
 *   successful call may be paired with one http_client_global_cleanup(),
 *   and the last one runs curl_global_cleanup (callers that never clean up
 *   keep libcurl initialised until exit).
 * - A struct http_client holds ONE easy handle and is used by ONE thread at
 *   a time (the thread that created it); it keeps the connection alive
 *   between requests (connection reuse).
 * - Every request: only http and https (also on redirects, which are never
 *   followed), connect and total timeouts, no signals (CURLOPT_NOSIGNAL),
 *   no "Expect: 100-continue", a response body capped at max_body bytes (a
 *   longer body fails the request with VG_TOOBIG; the connection is
 *   dropped) and the response's header lines capped at
 *   HTTP_CLIENT_MAX_HEADERS bytes (likewise VG_TOOBIG).
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
  /* Connect elsewhere than the URL says, keeping its Host header (and TLS
   * name): one libcurl CONNECT_TO entry "HOST:PORT:TO_HOST:TO_PORT", an
   * empty HOST or PORT matching any ("::127.0.0.1:8080": everything to
   * there). For the emulator and tests. NULL: connect where the URL says.
   * Copied by http_client_new. */
  const char *connect_to;
};

/* The outcome of one request. body is NUL-terminated (body.ptr may be NULL
 * when empty). Release with http_client_resp_release(). */
struct http_client_resp {
  long status;     /* HTTP status; 0 when no response arrived */
  struct buf body; /* the response body, at most max_body bytes */
  /* The final response's header lines as received ("Name: value\r\n"
   * each; no status line, no interim 1xx response's lines), at most
   * HTTP_CLIENT_MAX_HEADERS bytes. Read with http_client_resp_header(). */
  struct buf headers;
  char error[256]; /* why the request failed ("" on VG_OK); never a secret */
};

/* curl_global_init(CURL_GLOBAL_DEFAULT) unless already done (reference
 * counted, see above). Returns VG_OK or VG_ERR. */
int http_client_global_init(void) WARN_UNUSED;
/* Undoes one successful http_client_global_init(); the last one runs
 * curl_global_cleanup(), after every client is freed. */
void http_client_global_cleanup(void);

/* A new client (never NULL: aborts on OOM as xmalloc does). opts is copied. */
struct http_client *http_client_new(const struct http_client_opts *opts);
void http_client_free(struct http_client *c); /* NULL is a no-op */

/*
 * One request: method (upper-case letters, at most HTTP_CLIENT_MAX_METHOD-1
 * of them: "GET", "PUT", "POST", "DELETE", "HEAD"...) to url, with the
 * given header lines ("Name: value", n_headers of them; no CR/LF inside,
 * else VG_INVALID; "Name:" with no value removes a header libcurl would
 * add, e.g. its default Content-Type of a body) and body (body_len bytes;
 * NULL: no body; POST always sends one, empty when NULL). timeout_ms
 * overrides opts.timeout_ms when > 0. Fills *resp (which the caller
 * releases in every case). Returns VG_OK when a response arrived, whatever
 * its status; VG_IO for a transport error or timeout, VG_TOOBIG when the
 * body exceeded max_body or the header lines HTTP_CLIENT_MAX_HEADERS,
 * VG_AGAIN when cancelled, VG_INVALID for a bad method, URL or header.
 * resp->error says why (it names neither headers nor body: no secret).
 */
int http_client_request(struct http_client *c, const char *method, const char *url,
                        const char *const *headers, size_t n_headers, const void *body,
                        size_t body_len, long timeout_ms,
                        struct http_client_resp *resp) WARN_UNUSED;

/* http_client_request(c, "POST", ...): body NULL posts an empty body. */
int http_client_post(struct http_client *c, const char *url, const char *const *headers,
                     size_t n_headers, const char *body, size_t body_len, long timeout_ms,
                     struct http_client_resp *resp) WARN_UNUSED;

void http_client_resp_release(struct http_client_resp *resp);

/* The value of response header name (case-insensitive; the first one when
 * repeated), without surrounding blanks, into out[cap] (NUL-terminated).
 * Returns VG_OK, VG_NOTFOUND, or VG_TOOBIG when it does not fit. */
int http_client_resp_header(const struct http_client_resp *resp, const char *name, char *out,
                            size_t cap) WARN_UNUSED;

/* The host[:port] part of an http(s) URL (what curl sends as Host), into
 * out[cap]. Returns VG_OK, VG_INVALID (not http(s)://host...) or VG_TOOBIG. */
int http_client_url_host(const char *url, char *out, size_t cap) WARN_UNUSED;

/*
 * Several requests in flight at once from one thread (libcurl's multi
 * interface), each set up, bounded and reported as http_client_request
 * does. Connections are kept between transfers (at most max_inflight, to
 * any one host). One thread uses a struct http_multi, except
 * http_multi_wakeup, which any thread may call.
 */
struct http_multi;

/* A new set of at most max_inflight (0: 1) transfers (never NULL: aborts
 * on OOM). opts as for http_client_new; opts->cancel, once true, abandons
 * every transfer within ~1 s (done gets VG_AGAIN). */
struct http_multi *http_multi_new(const struct http_client_opts *opts, unsigned max_inflight);
/* Abandons the transfers in flight (their done is not called). NULL: no-op. */
void http_multi_free(struct http_multi *m);
unsigned http_multi_inflight(const struct http_multi *m);

/* Starts a request as http_client_request would make it (the body is
 * copied); tag is given back to done. Returns VG_OK, VG_AGAIN when
 * max_inflight transfers are in flight already, or the error
 * http_client_request would return for a bad method, URL or header (then
 * err[errlen] says why and done is never called for it). */
int http_multi_add(struct http_multi *m, const char *method, const char *url,
                   const char *const *headers, size_t n_headers, const void *body, size_t body_len,
                   long timeout_ms, void *tag, char *err, size_t errlen) WARN_UNUSED;

/* A transfer ended: rc and *resp as http_client_request would return and
 * fill them. resp is released after done returns (copy what you keep). done
 * may call http_multi_add. */
typedef void (*http_multi_done_fn)(void *tag, int rc, const struct http_client_resp *resp,
                                   void *arg);
/* Moves every transfer on, calling done for each that ended; when none
 * ended, waits up to wait_ms (0: not at all) for one to end or for
 * http_multi_wakeup, and moves them on once more. Returns VG_OK, or VG_ERR
 * when libcurl fails (the transfers stay as they are). */
int http_multi_run(struct http_multi *m, long wait_ms, http_multi_done_fn done, void *arg);
/* Ends a wait of http_multi_run early; any thread, at any time. */
void http_multi_wakeup(struct http_multi *m);

#endif
