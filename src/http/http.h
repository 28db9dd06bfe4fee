/*
 * http.h: vodgate's HTTP server: libmicrohttpd 0.9.75 behind a small router.
 * This module (http.c) is the only code that includes microhttpd.h.
 *
 * Threading: handlers run on the server's worker threads (thread pool of
 * http_opts.threads), several at once; they may block briefly (an SQLite
 * write) but must be thread-safe. A handler gets a request that is complete
 * (the whole body, bounded by the route's max_body) and fills a response;
 * the server sends it after the handler returns.
 *
 * Ownership: struct http_req and everything it points to belong to the
 * server and live until the handler returns. struct http_res is owned by
 * the server; handlers set it through http_res_* / http_error, which copy
 * or take what they are given as documented.
 *
 * Hardening done here for every route: framing checks (duplicate or
 * conflicting Content-Length, Content-Length with Transfer-Encoding,
 * Transfer-Encoding other than "chunked", header names that are not RFC
 * 9110 tokens, such as "Content-Length " with a space before the colon) ->
 * 400; body over the route limit -> 413 (at once when Content-Length says
 * so); connection, per-IP, idle-timeout and memory limits; a header
 * deadline against slow-header clients; CORS; request ids; one JSON log
 * line per request (method, path without query, status, bytes,
 * duration_ms, request_id, remote; never headers); Prometheus metrics.
 */
#ifndef VG_HTTP_H
#define VG_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "http/errors.h"

struct http_server;

#define HTTP_REQUEST_ID_MAX 64

struct http_req {
  const char *method;     /* "GET", "POST", ... */
  const char *path;       /* decoded path, without the query string */
  const char *remote;     /* client IP address as text */
  const char *request_id; /* sanitised incoming X-Request-Id or generated */
  const char *body;       /* NUL-terminated; "" when there is none */
  size_t body_len;        /* <= the route's max_body */
  void *user;             /* http_server_start()'s user pointer (the app) */
  void *route_ctx;        /* the matched route's ctx */
  void *priv;             /* the server's; do not touch */
};

/* First value of a request header (case-insensitive name), or NULL. */
const char *http_req_header(const struct http_req *req, const char *name);
/* A decoded query-string argument, or NULL. An argument given without a
 * value ("?a") gives "". */
const char *http_req_query(const struct http_req *req, const char *name);

/* One query-string argument as received, decoded (value NULL when the
 * argument has no '=', "?uploads"). Borrowed from the request. */
struct http_kv {
  const char *key, *value;
};
/* The request's query arguments in received order; writes at most max and
 * returns how many there are (more than max: the caller refuses). */
size_t http_req_query_list(const struct http_req *req, struct http_kv *out, size_t max);

struct http_res;

/* Parse the body as one JSON object (duplicate keys refused, nesting at most
 * JSON_MAX_DEPTH, UTF-8, no trailing data). An empty body gives *out = NULL
 * and 0. On a bad body answers 400 (code 4000, message saying what is wrong)
 * into res and returns -1. *out is the caller's to json_decref(). */
int http_req_json(const struct http_req *req, json_t **out, struct http_res *res) WARN_UNUSED;

struct http_hdr {
  char *name, *value;
};

#define HTTP_RES_MAX_HEADERS 16

struct http_res {
  int status; /* 0 until set: the server answers 500 */
  char *body; /* malloc'd; owned by the response */
  size_t body_len;
  const char *content_type; /* static string */
  struct http_hdr hdrs[HTTP_RES_MAX_HEADERS];
  size_t nhdrs;
  const char *request_id; /* set by the server before the handler runs */
};

/* Answer with a JSON document; steals the reference to body (NULL: 500). */
void http_res_json(struct http_res *res, int status, json_t *body);
/* Answer with bytes (copied); content_type must be a static string. */
void http_res_body(struct http_res *res, int status, const char *content_type, const void *body,
                   size_t len);
/* Add a response header (both copied). Returns -1 when full or when the
 * name or value holds CR/LF. */
int http_res_header(struct http_res *res, const char *name, const char *value);
/* The service's error body: {"code":code,"message":message,"requestId":id}. */
void http_error(struct http_res *res, int status, int code, const char *message);

/*
 * Deferred answers, for a handler that waits for something slow but not
 * CPU-bound (a durable commit queued with store_submit) without holding a
 * worker thread:
 *
 *   struct http_res *later = http_defer(req);   // in the handler
 *   ... queue the work; return without touching res ...
 *   // later, on any thread, exactly once:
 *   http_res_json(later, 200, ...);  http_resume(later);
 *
 * The server suspends the connection when the handler returns and sends
 * `later` once http_resume is called (at once if it was called before the
 * handler returned). `later` and req stay valid until http_resume; after
 * it, neither may be touched. If the connection ends first (client gone,
 * server stopped), http_resume only frees the request. Every deferred
 * request must be resumed eventually (the request counts as in flight for
 * http_server_drain until then).
 */
struct http_res *http_defer(struct http_req *req);
void http_resume(struct http_res *res);

typedef void (*http_handler_fn)(struct http_req *req, struct http_res *res, void *user);

struct http_route {
  const char *method; /* "GET", "POST", ...; NULL: any. GET also takes HEAD */
  const char *path;   /* exact path, or the prefix when prefix is set */
  bool prefix;
  size_t max_body; /* bytes; 0: no body accepted */
  http_handler_fn fn;
  void *ctx;        /* passed as req->route_ctx */
  const char *name; /* metrics/log label; NULL: path */
  /* The request path may carry a secret (POST /v1/vod/events/<token>):
   * the request log line shows the route's path plus "/<redacted>"
   * instead of the path received. */
  bool redact_path;
};

struct http_opts {
  const char *listen; /* cfg_parse_addr() syntax */
  unsigned threads;   /* worker threads, >= 1 */
  unsigned max_connections;
  unsigned per_ip_limit;     /* 0: none */
  unsigned timeout_s;        /* idle connection timeout */
  unsigned header_timeout_s; /* headers of a first request must be complete */
  size_t memory_limit;       /* per connection */
  /* PEM text of a certificate chain and its private key (both or neither,
   * borrowed until http_server_start returns): serve HTTPS (GnuTLS inside
   * libmicrohttpd) instead of plain HTTP. */
  const char *tls_cert_pem, *tls_key_pem;
  /* Route handlers answer CORS preflights (OPTIONS with
   * Access-Control-Request-Method) themselves instead of the server's
   * generic preflight: the emulator's COS and UGC hosts allow other methods
   * and headers than the service's API. */
  bool own_preflight;
  /* Pin HTTP thread i to the i-th CPU this process may run on (modulo
   * their number): HTTP_PIN_AUTO does it when there are at least as many
   * threads as CPUs, HTTP_PIN_ON always, HTTP_PIN_OFF (0) never. Other
   * threads are never pinned. */
  enum { HTTP_PIN_OFF = 0, HTTP_PIN_AUTO, HTTP_PIN_ON } cpu_affinity;
};

/* Start serving. routes are copied (the strings and ctx must outlive the
 * server). Returns VG_OK, or VG_INVALID (bad address) / VG_IO (bind failed,
 * logged) and *out is NULL. */
int http_server_start(const struct http_opts *opts, const struct http_route *routes, size_t nroutes,
                      void *user, struct http_server **out) WARN_UNUSED;
/* The port actually bound (useful with port 0). */
uint16_t http_server_port(const struct http_server *s);
/* The bound address as text ("127.0.0.1", "::1"). */
const char *http_server_addr(const struct http_server *s);

/* Replace the CORS origin list (copied; "*" allows any). Safe to call while
 * serving, e.g. on reload. */
void http_server_set_cors(struct http_server *s, const char *const *origins, size_t n,
                          unsigned max_age);

/* Requests received and not yet answered. */
unsigned http_server_inflight(const struct http_server *s);
/* Stop accepting connections, mark responses Connection: close, and wait
 * at most timeout_ms for in-flight requests. Returns the number still in
 * flight (0: drained). Call at most once, then http_server_stop(). */
unsigned http_server_drain(struct http_server *s, unsigned timeout_ms);
/* Stop the server (closes every connection) and free it. NULL is fine. */
void http_server_stop(struct http_server *s);

#endif
