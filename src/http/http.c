/*
 * http.c: the libmicrohttpd 0.9.75 wrapper. The MHD pitfalls of
 * STACK.md section 2 are handled here once:
 *  - the access handler's first call (headers only) never answers, except
 *    to refuse the request (then MHD closes the connection, as wanted);
 *  - the body is accumulated in a bounded buffer, answered on the last call;
 *  - responses are built with MHD_create_response_from_buffer;
 *  - the daemon binds the configured address explicitly, with connection,
 *    per-IP, timeout and memory limits;
 *  - duplicate Content-Length and friends are refused in the first call,
 *    since MHD 0.9.75 accepts them (STACK.md 3.3).
 * MHD's idle timeout does not stop a client that sends one header byte per
 * second, so a watchdog thread shuts down connections whose request headers
 * are not complete in time (see struct http_conn).
 */
#include "http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cfg/cfg.h"
#include "core/buf.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/util.h"
#include "http/metrics.h"

/* Bytes of an oversized chunked body read and dropped so that the client can
 * still get its 413; past this the connection is simply closed. MHD cannot
 * answer while a body is still arriving. */
#define HTTP_MAX_DISCARD (64 * 1024)
#define WATCHDOG_TICK_MS 200

/* One per TCP connection (MHD socket context), in the server's list while
 * open. Guarded by the server's conn_mu. */
struct http_conn {
  struct http_conn *prev, *next;
  int fd;
  bool awaiting; /* between connection open / last response and headers */
  bool in_body;  /* headers done, body not yet complete */
  bool cut;      /* shut down by the watchdog */
  bool first;    /* no request completed yet on this connection */
  struct timespec since;
  char remote[INET6_ADDRSTRLEN];
};

#define HTTP_MAX_DAEMONS 64 /* [server] threads at most */

/* Open connections of one client address, across all daemons (the per-IP
 * limit with threads > 1). Guarded by conn_mu. */
struct ip_count {
  struct ip_count *next;
  unsigned n;
  char ip[INET6_ADDRSTRLEN];
};

struct http_server {
  /* One libmicrohttpd daemon per thread, each with its own listening
   * socket on the same address (SO_REUSEPORT): see http_server_start. */
  struct MHD_Daemon *d[HTTP_MAX_DAEMONS];
  int quiesced_fd[HTTP_MAX_DAEMONS];
  unsigned nd;
  unsigned per_ip_limit; /* 0: none; across all daemons (on_accept) */
  /* CPUs for the threads to pin to (thread i: cpus[i % ncpus]); ncpus 0:
   * no pinning. */
  int cpus[HTTP_MAX_DAEMONS];
  unsigned ncpus;
  struct http_route *routes;
  size_t nroutes;
  void *user;
  uint16_t port;
  char addr[INET6_ADDRSTRLEN];
  unsigned header_timeout_s, timeout_s;
  atomic_uint inflight;
  atomic_bool draining;

  pthread_mutex_t cors_mu;
  char **cors;
  size_t ncors;
  bool cors_any;
  atomic_bool cors_on; /* ncors > 0, read without cors_mu per answer */
  bool own_preflight;
  unsigned cors_max_age;

  pthread_mutex_t conn_mu;
  pthread_mutex_t defer_mu; /* http_rctx deferral flags */
  atomic_uint suspended;    /* deferred connections not resumed yet */
  pthread_cond_t conn_cv;
  struct http_conn *conns;
  struct ip_count **ipc; /* hash by address; NULL when not counted */
  size_t ipc_mask;       /* buckets - 1 */
  bool wd_stop;
  bool wd_started;
  pthread_t wd;
};

/* One per request (MHD *req_cls). */
struct http_rctx {
  struct http_server *srv;
  struct MHD_Connection *conn;
  struct http_conn *hc;
  struct http_req req;
  struct buf body;
  const struct http_route *route;
  bool path_known; /* some route has this path (for 405) */
  char allow[64];
  size_t limit;
  bool too_big;
  size_t discarded;
  bool answered;
  struct timespec t0;
  char method[16];
  char *path; /* points to path_buf */
  char rid[HTTP_REQUEST_ID_MAX + 1];
  char remote[INET6_ADDRSTRLEN];
  int status;
  size_t bytes;
  /* Deferred answer (http_defer); guarded by the server's defer_mu. */
  bool deferred;   /* the handler called http_defer */
  bool dsuspended; /* the connection is suspended, waiting for http_resume */
  bool dcompleted; /* http_resume was called */
  bool dclosed;    /* MHD finished the request before http_resume: it frees rc */
  struct http_res dres;
  char path_buf[]; /* the path, allocated with rc: one malloc per request */
};

/* Seconds http_server_stop waits for deferred answers (store commits take
 * milliseconds; a stuck store must not hang shutdown forever). */
#define HTTP_STOP_DEFER_WAIT_S 30.0

static double elapsed_between(const struct timespec *t0, const struct timespec *t)
{
  return (double)(t->tv_sec - t0->tv_sec) + (double)(t->tv_nsec - t0->tv_nsec) / 1e9;
}

static double elapsed(const struct timespec *t0)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return elapsed_between(t0, &t);
}

/* ---- responses ---- */

/* Compact JSON written by hand for the common answers (a flat object of
 * ASCII strings, integers, booleans and nulls), byte for byte what
 * json_dumps(JSON_COMPACT) writes: json_dumps pays a loop-check table,
 * an snprintf per object and a second copy of the text. The text goes to a
 * stack buffer; past it only its length is counted, for a second pass into
 * a buffer of the right size. */
struct jw {
  char *p;
  size_t n;   /* bytes of the text so far */
  size_t cap; /* bytes of p: the text is in p only if n <= cap */
};

/* Bytes tried on the stack first: most answers fit, and are written once. */
#define JW_STACK 512

static void jw_put(struct jw *w, const char *s, size_t n)
{
  if (n <= w->cap && w->n <= w->cap - n)
    memcpy(w->p + w->n, s, n);
  w->n += n;
}

/* jansson's dump_string without JSON_ENSURE_ASCII / JSON_ESCAPE_SLASH.
 * False on a byte >= 0x80: jansson validates UTF-8 there, and does it. */
static bool jw_str(struct jw *w, const char *s, size_t n)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t run = 0; /* start of the bytes not yet written */

  jw_put(w, "\"", 1);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[6];
    size_t el = 2;
    if (c >= 0x80)
      return false;
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    esc[0] = '\\';
    esc[1] = 'u';
    esc[2] = esc[3] = '0';
    esc[4] = hex[c >> 4];
    esc[5] = hex[c & 15];
    jw_put(w, s + run, i - run);
    run = i + 1;
    switch (c) {
    case '"': esc[1] = '"'; break;
    case '\\': esc[1] = '\\'; break;
    case '\b': esc[1] = 'b'; break;
    case '\f': esc[1] = 'f'; break;
    case '\n': esc[1] = 'n'; break;
    case '\r': esc[1] = 'r'; break;
    case '\t': esc[1] = 't'; break;
    default: el = 6; break;
    }
    jw_put(w, esc, el);
  }
  jw_put(w, s + run, n - run);
  jw_put(w, "\"", 1);
  return true;
}

/* "%lld" */
static void jw_int(struct jw *w, long long v)
{
  char d[21];
  jw_put(w, d, fmt_i64(d, (int64_t)v));
}

/* The object's members in jansson's iteration (= insertion) order. False
 * when a member is not a flat, ASCII value. */
static bool jw_flat_object(struct jw *w, json_t *o)
{
  bool first = true;

  jw_put(w, "{", 1);
  for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
    json_t *v = json_object_iter_value(it);
    if (!first)
      jw_put(w, ",", 1);
    first = false;
    if (!jw_str(w, json_object_iter_key(it), json_object_iter_key_len(it)))
      return false;
    jw_put(w, ":", 1);
    switch (json_typeof(v)) {
    case JSON_STRING:
      if (!jw_str(w, json_string_value(v), json_string_length(v)))
        return false;
      break;
    case JSON_INTEGER: jw_int(w, (long long)json_integer_value(v)); break;
    case JSON_TRUE: jw_put(w, "true", 4); break;
    case JSON_FALSE: jw_put(w, "false", 5); break;
    case JSON_NULL: jw_put(w, "null", 4); break;
    default: return false;
    }
  }
  jw_put(w, "}", 1);
  return true;
}

/* json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER), by hand when the
 * body is a flat object. NULL when jansson fails. */
static char *dump_compact(json_t *body, size_t *len)
{
  char tmp[JW_STACK];
  struct jw w = {tmp, 0, sizeof(tmp)};
  char *s;

  if (json_is_object(body) && jw_flat_object(&w, body)) {
    s = xmalloc(w.n + 1);
    if (w.n <= w.cap) {
      memcpy(s, tmp, w.n);
    } else {
      w = (struct jw){s, 0, w.n};
      (void)jw_flat_object(&w, body); /* the same walk: cannot fail now */
    }
    s[w.n] = '\0';
    *len = w.n;
    return s;
  }
  s = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
  *len = s ? strlen(s) : 0;
  return s;
}

void http_res_json(struct http_res *res, int status, json_t *body)
{
  char *s;
  size_t n;

  free(res->body);
  res->body = NULL;
  res->body_len = 0;
  if (!body) {
    http_error(res, 500, VG_CODE_INTERNAL, "internal error");
    return;
  }
  s = dump_compact(body, &n);
  json_decref(body);
  if (!s) {
    http_error(res, 500, VG_CODE_INTERNAL, "internal error");
    return;
  }
  res->status = status;
  res->body = s;
  res->body_len = n;
  res->content_type = "application/json";
}

void http_res_body(struct http_res *res, int status, const char *content_type, const void *body,
                   size_t len)
{
  free(res->body);
  res->body = xmalloc(len + 1);
  memcpy(res->body, body, len);
  res->body[len] = '\0';
  res->body_len = len;
  res->status = status;
  res->content_type = content_type;
}

int http_res_header(struct http_res *res, const char *name, const char *value)
{
  if (res->nhdrs >= HTTP_RES_MAX_HEADERS || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
    return -1;
  res->hdrs[res->nhdrs].name = xstrdup(name);
  res->hdrs[res->nhdrs].value = xstrdup(value);
  res->nhdrs++;
  return 0;
}

/* {"code":code,"message":...,"requestId":...} written by hand when both
 * strings are ASCII (as json_dumps would); false otherwise. */
static bool error_body(struct http_res *res, int code, const char *message)
{
  const char *rid = res->request_id ? res->request_id : "";
  size_t ml = strlen(message), rl = strlen(rid);
  char tmp[JW_STACK], *s = NULL;
  struct jw w = {tmp, 0, sizeof(tmp)};

  for (;;) {
    jw_put(&w, "{\"code\":", 8);
    jw_int(&w, code);
    jw_put(&w, ",\"message\":", 11);
    if (!jw_str(&w, message, ml))
      return false;
    jw_put(&w, ",\"requestId\":", 13);
    if (!jw_str(&w, rid, rl))
      return false;
    jw_put(&w, "}", 1);
    if (s)
      break; /* the second pass, into s */
    s = xmalloc(w.n + 1);
    if (w.n <= w.cap) {
      memcpy(s, tmp, w.n);
      break;
    }
    w = (struct jw){s, 0, w.n};
  }
  s[w.n] = '\0';
  free(res->body);
  res->body = s;
  res->body_len = w.n;
  return true;
}

void http_error(struct http_res *res, int status, int code, const char *message)
{
  json_t *o;
  char *s;

  if (!message)
    message = "";
  res->status = status;
  res->content_type = "application/json";
  if (error_body(res, code, message))
    return;
  /* Not ASCII: jansson checks the UTF-8 (a member that is not valid UTF-8
   * is left out, as before). */
  o = json_object();
  json_object_set_new(o, "code", json_integer(code));
  json_object_set_new(o, "message", json_string(message));
  json_object_set_new(o, "requestId", json_string(res->request_id ? res->request_id : ""));
  s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(o);
  free(res->body);
  res->body = s ? s : xstrdup("{\"code\":5000}");
  res->body_len = strlen(res->body);
}

static void res_release(struct http_res *res)
{
  free(res->body);
  for (size_t i = 0; i < res->nhdrs; i++) {
    free(res->hdrs[i].name);
    free(res->hdrs[i].value);
  }
  memset(res, 0, sizeof(*res));
}

/* ---- requests ---- */

const char *http_req_header(const struct http_req *req, const char *name)
{
  const struct http_rctx *rc = req->priv;
  return MHD_lookup_connection_value(rc->conn, MHD_HEADER_KIND, name);
}

const char *http_req_query(const struct http_req *req, const char *name)
{
  const struct http_rctx *rc = req->priv;
  const char *v = MHD_lookup_connection_value(rc->conn, MHD_GET_ARGUMENT_KIND, name);
  if (!v && MHD_YES == MHD_lookup_connection_value_n(rc->conn, MHD_GET_ARGUMENT_KIND, name,
                                                     strlen(name), NULL, NULL))
    return "";
  return v;
}

struct kv_walk {
  struct http_kv *out;
  size_t max, n;
};

static enum MHD_Result kv_collect(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
  struct kv_walk *w = cls;
  (void)kind;
  if (w->n < w->max) {
    w->out[w->n].key = key;
    w->out[w->n].value = value;
  }
  w->n++;
  return MHD_YES;
}

size_t http_req_query_list(const struct http_req *req, struct http_kv *out, size_t max)
{
  const struct http_rctx *rc = req->priv;
  struct kv_walk w = {out, max, 0};
  MHD_get_connection_values(rc->conn, MHD_GET_ARGUMENT_KIND, kv_collect, &w);
  return w.n;
}

static bool json_too_deep(const char *s, size_t n)
{
  int depth = 0;
  bool str = false, esc = false;

  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (str) {
      if (esc)
        esc = false;
      else if (c == '\\')
        esc = true;
      else if (c == '"')
        str = false;
    } else if (c == '"') {
      str = true;
    } else if (c == '{' || c == '[') {
      if (++depth > JSON_MAX_DEPTH)
        return true;
    } else if (c == '}' || c == ']') {
      depth--;
    }
  }
  return false;
}

int http_req_json(const struct http_req *req, json_t **out, struct http_res *res)
{
  json_error_t je;
  json_t *j;
  char msg[200];

  *out = NULL;
  if (req->body_len == 0)
    return 0;
  if (json_too_deep(req->body, req->body_len)) {
    http_error(res, 400, VG_CODE_BAD_REQUEST, "JSON nested too deeply");
    return -1;
  }
  j = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &je);
  if (!j) {
    snprintf(msg, sizeof(msg), "invalid JSON at byte %d: %s", je.position, je.text);
    http_error(res, 400, VG_CODE_BAD_REQUEST, msg);
    return -1;
  }
  if (!json_is_object(j)) {
    json_decref(j);
    http_error(res, 400, VG_CODE_BAD_REQUEST, "JSON body must be an object");
    return -1;
  }
  *out = j;
  return 0;
}

/* ---- CORS ---- */

static bool cors_allowed(struct http_server *s, const char *origin, bool *any)
{
  bool ok = false;
  pthread_mutex_lock(&s->cors_mu);
  *any = s->cors_any;
  ok = s->cors_any;
  for (size_t i = 0; i < s->ncors && !ok; i++)
    ok = strcmp(s->cors[i], origin) == 0;
  pthread_mutex_unlock(&s->cors_mu);
  return ok;
}

void http_server_set_cors(struct http_server *s, const char *const *origins, size_t n,
                          unsigned max_age)
{
  char **nc = xcalloc(n + 1, sizeof(char *));
  char **old;
  size_t nold;
  bool any = false;

  for (size_t i = 0; i < n; i++) {
    nc[i] = xstrdup(origins[i]);
    if (strcmp(origins[i], "*") == 0)
      any = true;
  }
  pthread_mutex_lock(&s->cors_mu);
  old = s->cors;
  nold = s->ncors;
  s->cors = nc;
  s->ncors = n;
  s->cors_any = any;
  s->cors_max_age = max_age;
  atomic_store(&s->cors_on, n > 0);
  pthread_mutex_unlock(&s->cors_mu);
  for (size_t i = 0; i < nold; i++)
    free(old[i]);
  free(old);
}

/* ---- framing checks ---- */

struct hdr_scan {
  int n_cl, n_te;
  const char *cl, *te;
  const char *bad_name;
};

static bool is_tchar(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c && strchr("!#$%&'*+-.^_`|~", c));
}

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
  struct hdr_scan *h = cls;
  const unsigned char *k = (const unsigned char *)key;

  if (!*k && !h->bad_name)
    h->bad_name = "empty header name";
  for (; *k; k++) {
    if (!is_tchar(*k)) {
      if (!h->bad_name)
        h->bad_name = (*k == ' ' || *k == '\t') ? "whitespace in a header name"
                                                : "invalid character in a header name";
      break;
    }
  }
  if (strcasecmp(key, "Content-Length") == 0) {
    h->n_cl++;
    h->cl = value;
  } else if (strcasecmp(key, "Transfer-Encoding") == 0) {
    h->n_te++;
    h->te = value;
  }
  return MHD_YES;
}

/* NULL if the framing is acceptable, else the reason for a 400. */
static const char *check_framing(struct MHD_Connection *conn, uint64_t *clen, bool *has_cl)
{
  struct hdr_scan h;

  memset(&h, 0, sizeof(h));
  *has_cl = false;
  MHD_get_connection_values(conn, MHD_HEADER_KIND, scan_header, &h);
  if (h.bad_name)
    return h.bad_name;
  if (h.n_cl > 1)
    return "more than one Content-Length";
  if (h.n_te > 1)
    return "more than one Transfer-Encoding";
  if (h.n_cl && h.n_te)
    return "Content-Length together with Transfer-Encoding";
  if (h.n_te && strcasecmp(h.te, "chunked") != 0)
    return "unsupported Transfer-Encoding (only chunked)";
  if (h.n_cl) {
    if (parse_u64z(h.cl, clen))
      return "invalid Content-Length";
    *has_cl = true;
  }
  return NULL;
}

static bool request_id_ok(const char *s)
{
  size_t n = 0;
  for (; s[n]; n++) {
    unsigned char c = (unsigned char)s[n];
    if (n >= HTTP_REQUEST_ID_MAX || !(is_tchar(c) && c != '\'' && c != '`' && c != '|'))
      return false;
  }
  return n > 0;
}

/* ---- routing ---- */

static bool path_match(const struct http_route *r, const char *path)
{
  if (r->prefix)
    return strncmp(path, r->path, strlen(r->path)) == 0;
  return strcmp(path, r->path) == 0;
}

static bool method_match(const struct http_route *r, const char *method)
{
  if (!r->method)
    return true;
  if (strcmp(r->method, method) == 0)
    return true;
  return strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0;
}

static void route_find(struct http_rctx *rc)
{
  struct http_server *s = rc->srv;
  size_t al = 0;

  for (size_t i = 0; i < s->nroutes; i++) {
    const struct http_route *r = &s->routes[i];
    if (!path_match(r, rc->path))
      continue;
    rc->path_known = true;
    if (method_match(r, rc->method)) {
      rc->route = r;
      return;
    }
    if (r->method && al + strlen(r->method) + 3 < sizeof(rc->allow)) {
      al += (size_t)snprintf(rc->allow + al, sizeof(rc->allow) - al, "%s%s", al ? ", " : "",
                             r->method);
    }
  }
}

/* ---- the raw request line ---- */

/* MHD decodes %XX in the path and query before our handler sees them, so
 * "%00" would cut a path or value short ("/healthz%00x" -> "/healthz").
 * The URI log callback sees the raw URI first; it returns one of these
 * markers, which MHD hands to the access handler as *req_cls. Markers
 * allocate nothing, so requests MHD refuses itself leak nothing. */
static char uri_ok, uri_bad;

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
  size_t n = 0;

  for (const unsigned char *p = (const unsigned char *)uri; *p; p++, n++) {
    if (*p <= 0x20 || *p >= 0x7f || n >= HTTP_MAX_URL)
      return &uri_bad;
    if (p[0] == '%' && p[1] == '0' && p[2] == '0')
      return &uri_bad;
  }
  return &uri_ok;
}

/* ---- the access handler ---- */

static void add_header(struct MHD_Response *r, const char *n, const char *v)
{
  if (MHD_add_response_header(r, n, v) != MHD_YES)
    log_warn("http: could not add response header %s", n);
}

/* Without cors_origins no answer depends on Origin: no CORS header, and
 * no Vary (nothing to vary; every answer is no-store anyway). */
static void add_cors(struct http_rctx *rc, struct MHD_Response *r)
{
  const char *origin;
  bool any;

  if (!atomic_load(&rc->srv->cors_on))
    return;
  origin = MHD_lookup_connection_value(rc->conn, MHD_HEADER_KIND, "Origin");
  add_header(r, "Vary", "Origin");
  if (origin && cors_allowed(rc->srv, origin, &any)) {
    add_header(r, "Access-Control-Allow-Origin", any ? "*" : origin);
    add_header(r, "Access-Control-Expose-Headers", "X-Request-Id");
  }
}

static enum MHD_Result send_res(struct http_rctx *rc, struct http_res *res, bool close_conn)
{
  struct MHD_Response *r;
  enum MHD_Result q;

  if (res->status == 0)
    http_error(res, 500, VG_CODE_INTERNAL, "handler set no response");
  r = MHD_create_response_from_buffer(res->body_len, res->body, MHD_RESPMEM_MUST_FREE);
  if (!r) {
    res_release(res);
    return MHD_NO;
  }
  res->body = NULL; /* MHD frees it */
  if (res->content_type)
    add_header(r, "Content-Type", res->content_type);
  add_header(r, "X-Request-Id", rc->rid);
  add_header(r, "Cache-Control", "no-store");
  add_header(r, "X-Content-Type-Options", "nosniff");
  for (size_t i = 0; i < res->nhdrs; i++)
    add_header(r, res->hdrs[i].name, res->hdrs[i].value);
  if (!MHD_get_response_header(r, "Access-Control-Allow-Origin"))
    add_cors(rc, r);
  if (close_conn || atomic_load(&rc->srv->draining))
    add_header(r, "Connection", "close");
  rc->status = res->status;
  rc->bytes = res->body_len;
  rc->answered = true;
  /* Counted when queued, so that a client that has its answer also sees
   * it in /metrics. */
  metrics_observe_request(rc->route ? (rc->route->name ? rc->route->name : rc->route->path)
                                    : "none",
                          rc->status, elapsed(&rc->t0));
  q = MHD_queue_response(rc->conn, (unsigned)res->status, r);
  MHD_destroy_response(r);
  res_release(res);
  return q;
}

static enum MHD_Result refuse(struct http_rctx *rc, int status, int code, const char *msg)
{
  struct http_res res;
  memset(&res, 0, sizeof(res));
  res.request_id = rc->rid;
  http_error(&res, status, code, msg);
  return send_res(rc, &res, true);
}

static void preflight(struct http_rctx *rc, struct http_res *res)
{
  const char *origin = MHD_lookup_connection_value(rc->conn, MHD_HEADER_KIND, "Origin");
  bool any;
  char age[24];

  if (!origin || !cors_allowed(rc->srv, origin, &any)) {
    http_error(res, 403, VG_CODE_FORBIDDEN, "origin not allowed");
    return;
  }
  pthread_mutex_lock(&rc->srv->cors_mu);
  snprintf(age, sizeof(age), "%u", rc->srv->cors_max_age);
  pthread_mutex_unlock(&rc->srv->cors_mu);
  http_res_body(res, 204, NULL, "", 0);
  http_res_header(res, "Access-Control-Allow-Origin", any ? "*" : origin);
  http_res_header(res, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
  http_res_header(res, "Access-Control-Allow-Headers", "authorization, content-type, x-request-id");
  http_res_header(res, "Access-Control-Max-Age", age);
  http_res_header(res, "Vary", "Origin");
}

static enum MHD_Result answer(struct http_rctx *rc)
{
  struct http_res res;

  memset(&res, 0, sizeof(res));
  res.request_id = rc->rid;
  if (rc->too_big) {
    http_error(&res, 413, VG_CODE_PAYLOAD_TOO_LARGE, "request body too large");
    return send_res(rc, &res, true);
  }
  if (strcmp(rc->method, "OPTIONS") == 0 && rc->path_known &&
      !(rc->route && rc->srv->own_preflight) &&
      MHD_lookup_connection_value(rc->conn, MHD_HEADER_KIND, "Access-Control-Request-Method")) {
    preflight(rc, &res);
    return send_res(rc, &res, false);
  }
  if (!rc->route) {
    if (rc->path_known) {
      http_error(&res, 405, VG_CODE_METHOD_NOT_ALLOWED, "method not allowed");
      if (rc->allow[0])
        http_res_header(&res, "Allow", rc->allow);
    } else {
      http_error(&res, 404, VG_CODE_NOT_FOUND, "not found");
    }
    return send_res(rc, &res, false);
  }
  rc->req.body = rc->body.ptr;
  rc->req.body_len = rc->body.len;
  rc->route->fn(&rc->req, &res, rc->srv->user);
  if (rc->deferred) {
    res_release(&res); /* the deferred response is the one that counts */
    pthread_mutex_lock(&rc->srv->defer_mu);
    if (rc->dcompleted) { /* http_resume already ran (e.g. on this thread) */
      pthread_mutex_unlock(&rc->srv->defer_mu);
      return send_res(rc, &rc->dres, false);
    }
    rc->dsuspended = true;
    atomic_fetch_add(&rc->srv->suspended, 1);
    MHD_suspend_connection(rc->conn);
    pthread_mutex_unlock(&rc->srv->defer_mu);
    return MHD_YES;
  }
  return send_res(rc, &res, false);
}

struct http_res *http_defer(struct http_req *req)
{
  struct http_rctx *rc = req->priv;

  rc->deferred = true;
  memset(&rc->dres, 0, sizeof(rc->dres));
  rc->dres.request_id = rc->rid;
  return &rc->dres;
}

static void rctx_free(struct http_rctx *rc)
{
  res_release(&rc->dres);
  buf_release(&rc->body);
  free(rc);
}

void http_resume(struct http_res *res)
{
  struct http_rctx *rc =
      (struct http_rctx *)(void *)((char *)res - offsetof(struct http_rctx, dres));
  struct http_server *s = rc->srv;
  bool orphan;

  pthread_mutex_lock(&s->defer_mu);
  rc->dcompleted = true;
  orphan = rc->dclosed;
  if (!orphan && rc->dsuspended) {
    rc->dsuspended = false;
    MHD_resume_connection(rc->conn); /* MHD calls on_request, which sends dres */
    atomic_fetch_sub(&s->suspended, 1);
  }
  pthread_mutex_unlock(&s->defer_mu);
  if (orphan)
    rctx_free(rc); /* the connection is gone: nobody else holds rc */
}

/* Connection phases for the watchdog: awaiting headers (after a response),
 * receiving a body (after the headers), or neither (handler, sending).
 * now: the current CLOCK_MONOTONIC time when the caller has it; NULL reads
 * the clock. The watchdog only looks at since while awaiting or in_body. */
static void conn_mark(struct http_server *s, struct http_conn *hc, bool awaiting, bool in_body,
                      const struct timespec *now)
{
  struct timespec t = {0, 0};

  if (!hc)
    return;
  if (now)
    t = *now;
  else if (awaiting || in_body)
    clock_gettime(CLOCK_MONOTONIC, &t);
  pthread_mutex_lock(&s->conn_mu);
  hc->awaiting = awaiting;
  hc->in_body = in_body;
  if (awaiting)
    hc->first = false;
  if (now || awaiting || in_body)
    hc->since = t;
  pthread_mutex_unlock(&s->conn_mu);
}

static struct http_rctx *rctx_new(struct http_server *s, struct MHD_Connection *conn,
                                  const char *url, const char *method)
{
  /* Paths of HTTP_MAX_URL bytes or more are refused once rc exists. */
  size_t plen = strnlen(url, HTTP_MAX_URL);
  struct http_rctx *rc = xcalloc(1, sizeof(*rc) + plen + 1);
  const union MHD_ConnectionInfo *ci;
  const char *xid;

  rc->srv = s;
  rc->conn = conn;
  clock_gettime(CLOCK_MONOTONIC, &rc->t0);
  atomic_fetch_add(&s->inflight, 1);
  ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  rc->hc = ci ? ci->socket_context : NULL;
  conn_mark(s, rc->hc, false, true, &rc->t0);
  if (rc->hc)
    memcpy(rc->remote, rc->hc->remote, sizeof(rc->remote));
  str_copy(rc->method, sizeof(rc->method), method);
  memcpy(rc->path_buf, url, plen);
  rc->path = rc->path_buf;
  xid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Request-Id");
  if (xid && request_id_ok(xid)) {
    str_copy(rc->rid, sizeof(rc->rid), xid);
  } else {
    unsigned char r[16];
    random_small(r, sizeof(r));
    hex_encode(r, sizeof(r), rc->rid);
  }
  buf_init(&rc->body, 0);
  rc->req.method = rc->method;
  rc->req.path = rc->path;
  rc->req.remote = rc->remote;
  rc->req.request_id = rc->rid;
  rc->req.body = "";
  rc->req.user = s->user;
  rc->req.priv = rc;
  return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
  struct http_server *s = cls;
  struct http_rctx *rc = *req_cls;

  if (!rc || rc == (void *)&uri_ok || rc == (void *)&uri_bad) {
    uint64_t clen = 0;
    bool has_cl;
    const char *bad;
    bool raw_bad = rc == (void *)&uri_bad;

    rc = rctx_new(s, conn, url, method);
    *req_cls = rc;
    if (raw_bad)
      return refuse(rc, 400, VG_CODE_BAD_REQUEST,
                    "invalid URL (control character, %00 or too long)");
    bad = check_framing(conn, &clen, &has_cl);
    if (bad)
      return refuse(rc, 400, VG_CODE_BAD_REQUEST, bad);
    if (strlen(url) >= HTTP_MAX_URL)
      return refuse(rc, 400, VG_CODE_BAD_REQUEST, "URL too long");
    route_find(rc);
    rc->limit = rc->route ? rc->route->max_body : 0;
    if (has_cl && clen > rc->limit) {
      if (rc->route || clen > HTTP_MAX_BODY_DEFAULT)
        return refuse(rc, 413, VG_CODE_PAYLOAD_TOO_LARGE, "request body too large");
      /* An unknown path with a small body: read and drop it, then 404. */
      rc->too_big = false;
    }
    if (rc->route) {
      buf_release(&rc->body);
      buf_init(&rc->body, rc->limit);
    }
    return MHD_YES;
  }
  if (*upload_data_size > 0) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    if (!rc->route) {
      rc->discarded += n; /* 404/405: nothing reads it */
      return rc->discarded > HTTP_MAX_BODY_DEFAULT ? MHD_NO : MHD_YES;
    }
    if (!rc->too_big && buf_append(&rc->body, upload_data, n) == VG_TOOBIG) {
      rc->too_big = true;
      buf_release(&rc->body);
      buf_init(&rc->body, 0);
    }
    if (rc->too_big) {
      rc->discarded += n;
      if (rc->discarded > HTTP_MAX_DISCARD)
        return MHD_NO; /* close: a client sending this much gets no answer */
    }
    return MHD_YES;
  }
  if (rc->answered)
    return MHD_YES;
  if (rc->deferred) { /* called again after http_resume */
    bool done;
    pthread_mutex_lock(&s->defer_mu);
    done = rc->dcompleted;
    pthread_mutex_unlock(&s->defer_mu);
    return done ? send_res(rc, &rc->dres, false) : MHD_YES;
  }
  conn_mark(s, rc->hc, false, false, NULL);
  return answer(rc);
}

/* ---- the request log line ---- */

/* JSON-escape at most max bytes of s into b. Bytes >= 0x80 are escaped one
 * by one (\u00XX): the line stays valid JSON whatever the client sent. */
static size_t esc_json(char *b, size_t room, const char *s, size_t max)
{
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;

  for (size_t i = 0; s[i] && i < max; i++) {
    unsigned char c = (unsigned char)s[i];
    if (o + 7 >= room)
      break;
    if (c == '"' || c == '\\') {
      b[o++] = '\\';
      b[o++] = (char)c;
    } else if (c < 0x20 || c >= 0x7f) {
      memcpy(b + o, "\\u00", 4);
      b[o + 4] = hex[c >> 4];
      b[o + 5] = hex[c & 15];
      o += 6;
    } else {
      b[o++] = (char)c;
    }
  }
  return o;
}

#define LOG_PATH_MAX 512 /* longer paths are cut in the log line */

/* The request line under construction: pieces are appended with memcpy and
 * hand-written number formatting (snprintf cost more than the rest of the
 * line). Past cap the line is marked over and dropped, never cut. */
struct lline {
  char *p;
  size_t n, cap;
  bool over;
};

static void ll_put(struct lline *l, const char *s, size_t n)
{
  if (l->over || n > l->cap - l->n) {
    l->over = true;
    return;
  }
  memcpy(l->p + l->n, s, n);
  l->n += n;
}

#define LL_LIT(l, lit) ll_put((l), (lit), sizeof(lit) - 1)

static void ll_str(struct lline *l, const char *s)
{
  ll_put(l, s, strlen(s));
}

/* Decimal digits of v; at least min_digits of them (zero-padded). */
static void ll_u64(struct lline *l, unsigned long long v, int min_digits)
{
  char d[24];
  int i = (int)sizeof(d);

  do {
    d[--i] = (char)('0' + v % 10);
    v /= 10;
    min_digits--;
  } while (v || min_digits > 0);
  ll_put(l, d + i, sizeof(d) - (size_t)i);
}

static void ll_i64(struct lline *l, long long v)
{
  char d[21];
  ll_put(l, d, fmt_i64(d, (int64_t)v));
}

/* esc_json of at most max bytes of s, within the line's room. */
static void ll_esc(struct lline *l, const char *s, size_t max)
{
  if (!l->over)
    l->n += esc_json(l->p + l->n, l->cap - l->n, s, max);
}

/* The route under whose path a secret may follow (redact_path), by the
 * path alone: a request refused before routing (framing, a bad URL) or
 * answered 405 has no rc->route, and its path is the same secret. */
static const struct http_route *redacting_route(const struct http_rctx *rc)
{
  if (rc->route) /* the common case: what the path matched */
    return rc->route->redact_path ? rc->route : NULL;
  for (size_t i = 0; rc->path && i < rc->srv->nroutes; i++)
    if (rc->srv->routes[i].redact_path && path_match(&rc->srv->routes[i], rc->path))
      return &rc->srv->routes[i];
  return NULL;
}

/* One line per request, formatted by hand: this runs for every request and
 * jansson's object building cost more than the rest of the HTTP layer. Same
 * shape as log_json(): {"msg":"request",...,"ts":...,"level":"info"}. Never
 * a header, a query string or a body. */
static void log_request(const struct http_rctx *rc, double secs,
                        enum MHD_RequestTerminationCode toe)
{
  char line[LOG_PATH_MAX * 6 + 512], ts[LOG_TS_MAX];
  struct lline l = {line, 0, sizeof(line), false};
  const struct http_route *redact;
  long long us = (long long)(secs * 1e6);
  const char *err = NULL;
  size_t tsn;

  if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED)
    err = "timeout";
  else if (toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN)
    err = "shutdown";
  else if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
    err = "connection closed";
  tsn = log_timestamp(ts);
  LL_LIT(&l, "{\"msg\":\"request\",\"method\":\"");
  ll_esc(&l, rc->method, sizeof(rc->method));
  LL_LIT(&l, "\",\"path\":\"");
  if ((redact = redacting_route(rc))) {
    ll_esc(&l, redact->path, LOG_PATH_MAX);
    if (rc->path && strlen(rc->path) > strlen(redact->path))
      LL_LIT(&l, "/<redacted>");
  } else {
    ll_esc(&l, rc->path, LOG_PATH_MAX);
  }
  LL_LIT(&l, "\",\"status\":");
  ll_i64(&l, rc->status);
  LL_LIT(&l, ",\"bytes\":");
  ll_u64(&l, rc->bytes, 1);
  /* us / 1000 "." us % 1000 as %lld.%03lld; the monotonic clock keeps us
   * >= 0. */
  LL_LIT(&l, ",\"duration_ms\":");
  ll_u64(&l, us > 0 ? (unsigned long long)us / 1000 : 0, 1);
  LL_LIT(&l, ".");
  ll_u64(&l, us > 0 ? (unsigned long long)us % 1000 : 0, 3);
  LL_LIT(&l, ",\"request_id\":\"");
  ll_str(&l, rc->rid);
  LL_LIT(&l, "\",\"remote\":\"");
  ll_str(&l, rc->remote);
  LL_LIT(&l, "\"");
  if (rc->route) {
    LL_LIT(&l, ",\"route\":\"");
    ll_esc(&l, rc->route->name ? rc->route->name : rc->route->path, 128);
    LL_LIT(&l, "\"");
  }
  if (err) {
    LL_LIT(&l, ",\"error\":\"");
    ll_str(&l, err);
    LL_LIT(&l, "\"");
  }
  LL_LIT(&l, ",\"ts\":\"");
  ll_put(&l, ts, tsn);
  LL_LIT(&l, "\",\"level\":\"info\"}\n");
  if (l.over)
    return; /* cannot happen: every part above is bounded */
  log_write(line, l.n);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
  struct http_server *s = cls;
  struct http_rctx *rc = *req_cls;
  struct timespec now;

  if (!rc || rc == (void *)&uri_ok || rc == (void *)&uri_bad)
    return;
  *req_cls = NULL;
  clock_gettime(CLOCK_MONOTONIC, &now);
  if (log_get_level() <= LOG_INFO)
    log_request(rc, elapsed_between(&rc->t0, &now), toe);
  if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
    conn_mark(s, rc->hc, true, false, &now);
  if (rc->deferred) {
    bool pending;
    pthread_mutex_lock(&s->defer_mu);
    pending = !rc->dcompleted;
    rc->dclosed = pending; /* http_resume will free rc */
    pthread_mutex_unlock(&s->defer_mu);
    atomic_fetch_sub(&s->inflight, 1);
    if (!pending)
      rctx_free(rc);
    return;
  }
  buf_release(&rc->body);
  free(rc);
  atomic_fetch_sub(&s->inflight, 1);
}

/* ---- connections and the header watchdog ---- */

/* A client's IP address as text (the per-IP limit and the log compare
 * these); "" for other families. */
static void addr_text(const struct sockaddr *sa, char out[INET6_ADDRSTRLEN])
{
  out[0] = '\0';
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
              INET6_ADDRSTRLEN);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
              INET6_ADDRSTRLEN);
}

/* Where the count of ip's open connections is, or would be inserted
 * (chained hash by FNV-1a of the text). Caller holds conn_mu; s->ipc is
 * set. */
static struct ip_count **ipc_slot(struct http_server *s, const char *ip)
{
  uint32_t h = 2166136261u;
  struct ip_count **e;

  for (const unsigned char *p = (const unsigned char *)ip; *p; p++)
    h = (h ^ *p) * 16777619u;
  for (e = &s->ipc[h & s->ipc_mask]; *e; e = &(*e)->next)
    if (strcmp((*e)->ip, ip) == 0)
      break;
  return e;
}

static void ipc_add(struct http_server *s, const char *ip)
{
  struct ip_count **e;
  if (!s->ipc || !ip[0])
    return;
  e = ipc_slot(s, ip);
  if (!*e) {
    *e = xcalloc(1, sizeof(**e));
    str_copy((*e)->ip, sizeof((*e)->ip), ip);
  }
  (*e)->n++;
}

static void ipc_remove(struct http_server *s, const char *ip)
{
  struct ip_count **e, *gone;
  if (!s->ipc || !ip[0])
    return;
  e = ipc_slot(s, ip);
  if (!*e || --(*e)->n > 0)
    return;
  gone = *e;
  *e = gone->next;
  free(gone);
}

/* Once per HTTP thread, on its first connection (libmicrohttpd starts the
 * threads): names it vg-http-N after its daemon and pins it (ncpus). */
static void thread_setup(struct http_server *s, struct MHD_Connection *conn)
{
  static _Thread_local const struct http_server *done;
  const union MHD_ConnectionInfo *di;
  unsigned i = 0;
  char name[16];

  if (done == s)
    return;
  done = s;
  di = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_DAEMON);
  while (di && i < s->nd && s->d[i] != di->daemon)
    i++;
  if (!di || i == s->nd)
    return;
  snprintf(name, sizeof(name), "vg-http-%u", i);
  thread_name(name);
  if (s->ncpus) {
    cpu_set_t set;
    int err;
    CPU_ZERO(&set);
    CPU_SET(s->cpus[i % s->ncpus], &set);
    err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
    if (err)
      log_warn("http: thread %u not pinned to CPU %d: %s", i, s->cpus[i % s->ncpus], strerror(err));
  }
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
  struct http_server *s = cls;

  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    thread_setup(s, conn);
    struct http_conn *hc = xcalloc(1, sizeof(*hc));
    const union MHD_ConnectionInfo *fd =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    const union MHD_ConnectionInfo *ad =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    hc->fd = fd ? fd->connect_fd : -1;
    hc->awaiting = true;
    hc->first = true;
    clock_gettime(CLOCK_MONOTONIC, &hc->since);
    if (ad && ad->client_addr)
      addr_text(ad->client_addr, hc->remote);
    pthread_mutex_lock(&s->conn_mu);
    hc->next = s->conns;
    if (s->conns)
      s->conns->prev = hc;
    s->conns = hc;
    ipc_add(s, hc->remote);
    pthread_mutex_unlock(&s->conn_mu);
    *socket_context = hc;
  } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
    struct http_conn *hc = *socket_context;
    if (!hc)
      return;
    /* MHD closes the fd after this notification, so while hc is in the
     * list (and we hold conn_mu) the watchdog's shutdown() hits this
     * connection's socket and no other. */
    pthread_mutex_lock(&s->conn_mu);
    if (hc->prev)
      hc->prev->next = hc->next;
    else
      s->conns = hc->next;
    if (hc->next)
      hc->next->prev = hc->prev;
    ipc_remove(s, hc->remote);
    pthread_mutex_unlock(&s->conn_mu);
    free(hc);
    *socket_context = NULL;
  }
}

static void *watchdog(void *arg)
{
  struct http_server *s = arg;

  thread_name("vg-watchdog");

  pthread_mutex_lock(&s->conn_mu);
  while (!s->wd_stop) {
    struct timespec now, dl;
    clock_gettime(CLOCK_MONOTONIC, &now);
    for (struct http_conn *hc = s->conns; hc; hc = hc->next) {
      double age =
          (double)(now.tv_sec - hc->since.tv_sec) + (double)(now.tv_nsec - hc->since.tv_nsec) / 1e9;
      /* A first request gets header_timeout; a kept-alive connection may
       * idle up to the idle timeout before its next request. */
      unsigned limit = hc->first ? s->header_timeout_s : s->timeout_s;
      if (hc->awaiting && !hc->cut && hc->fd >= 0 && age > (double)limit) {
        hc->cut = true;
        shutdown(hc->fd, SHUT_RDWR);
        metrics_inc("vodgate_http_header_timeouts_total", NULL, NULL);
        if (hc->first)
          log_warn("http: closed a connection from %s: request headers not complete in %us",
                   hc->remote, limit);
      }
      /* A body trickled in slower than the idle timeout can notice. */
      if (hc->in_body && !hc->cut && hc->fd >= 0 && age > (double)s->timeout_s) {
        hc->cut = true;
        shutdown(hc->fd, SHUT_RDWR);
        metrics_inc("vodgate_http_body_timeouts_total", NULL, NULL);
        log_warn("http: closed a connection from %s: request body not complete in %us", hc->remote,
                 s->timeout_s);
      }
    }
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_nsec += WATCHDOG_TICK_MS * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
      dl.tv_sec++;
      dl.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&s->conn_cv, &s->conn_mu, &dl);
  }
  pthread_mutex_unlock(&s->conn_mu);
  return NULL;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
static void mhd_logger(void *cls, const char *fm, va_list ap)
{
  char msg[512];
  size_t n;
  vsnprintf(msg, sizeof(msg), fm, ap);
  n = strlen(msg);
  while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
    msg[--n] = '\0';
  log_debug("mhd: %s", msg);
}
#pragma GCC diagnostic pop

/* ---- lifecycle ---- */

static void server_free(struct http_server *s)
{
  for (size_t i = 0; s->ipc && i <= s->ipc_mask; i++)
    for (struct ip_count *e = s->ipc[i], *next; e; e = next) {
      next = e->next;
      free(e);
    }
  free(s->ipc);
  for (size_t i = 0; i < s->ncors; i++)
    free(s->cors[i]);
  free(s->cors);
  free(s->routes);
  pthread_mutex_destroy(&s->cors_mu);
  pthread_mutex_destroy(&s->conn_mu);
  pthread_cond_destroy(&s->conn_cv);
  free(s);
}

/* The per-IP limit across daemons. Each daemon enforces it for its own
 * connections (MHD_OPTION_PER_IP_CONNECTION_LIMIT), but the kernel spreads
 * one client's connections over every daemon's socket: here the open
 * connections of the address in all of them are counted (the table that
 * on_connection keeps). Two connections of one address accepted at the same
 * instant by two threads may both pass; the bound is then off by at most
 * threads - 1, for an instant. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
  struct http_server *s = cls;
  char ip[INET6_ADDRSTRLEN] = "";
  struct ip_count **e;
  unsigned n;

  if (!s->ipc || !addr ||
      addrlen < (socklen_t)(addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                        : sizeof(struct sockaddr_in)))
    return MHD_YES;
  addr_text(addr, ip);
  if (!ip[0])
    return MHD_YES;
  pthread_mutex_lock(&s->conn_mu);
  e = ipc_slot(s, ip);
  n = *e ? (*e)->n : 0;
  pthread_mutex_unlock(&s->conn_mu);
  return n < s->per_ip_limit ? MHD_YES : MHD_NO;
}

static uint16_t sockaddr_port(const struct sockaddr_storage *ss)
{
  return ntohs(ss->ss_family == AF_INET6
                   ? ((const struct sockaddr_in6 *)(const void *)ss)->sin6_port
                   : ((const struct sockaddr_in *)(const void *)ss)->sin_port);
}

static void sockaddr_set_port(struct sockaddr_storage *ss, uint16_t port)
{
  if (ss->ss_family == AF_INET6)
    ((struct sockaddr_in6 *)(void *)ss)->sin6_port = htons(port);
  else
    ((struct sockaddr_in *)(void *)ss)->sin_port = htons(port);
}

/* Is the address taken by a socket that is not ours? With SO_REUSEPORT
 * on our sockets, a second vodgate (same user) would otherwise bind the
 * same port as well and silently take part of the connections. */
static bool addr_in_use(const struct sockaddr_storage *ss, socklen_t sl)
{
  int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  bool used;

  if (fd < 0)
    return false; /* the daemons' own bind will say what is wrong */
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  used = bind(fd, (const struct sockaddr *)ss, sl) != 0 && errno == EADDRINUSE;
  close(fd);
  return used;
}

int http_server_start(const struct http_opts *opts, const struct http_route *routes, size_t nroutes,
                      void *user, struct http_server **out)
{
  struct http_server *s;
  struct sockaddr_storage ss;
  socklen_t sl;
  const char *why;
  const union MHD_DaemonInfo *di;
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_ALLOW_SUSPEND_RESUME;
  struct MHD_OptionItem tls[3] = {{MHD_OPTION_END, 0, NULL}};

  *out = NULL;
  if (!opts->tls_cert_pem != !opts->tls_key_pem) {
    log_error("http: TLS needs both a certificate and a key");
    return VG_INVALID;
  }
  if (opts->tls_cert_pem) {
    flags |= MHD_USE_TLS;
    tls[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)opts->tls_key_pem};
    tls[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)opts->tls_cert_pem};
  }
  if (cfg_parse_addr(opts->listen, &ss, &sl, &why)) {
    log_error("http: listen address '%s': %s", opts->listen, why);
    return VG_INVALID;
  }
  if (ss.ss_family == AF_INET6)
    flags |= MHD_USE_IPv6;
  s = xcalloc(1, sizeof(*s));
  s->routes = xcalloc(nroutes ? nroutes : 1, sizeof(*routes));
  if (nroutes)
    memcpy(s->routes, routes, nroutes * sizeof(*routes));
  s->nroutes = nroutes;
  s->user = user;
  s->header_timeout_s = opts->header_timeout_s;
  s->own_preflight = opts->own_preflight;
  s->timeout_s = opts->timeout_s;
  atomic_init(&s->inflight, 0);
  atomic_init(&s->suspended, 0);
  atomic_init(&s->draining, false);
  pthread_mutex_init(&s->cors_mu, NULL);
  pthread_mutex_init(&s->conn_mu, NULL);
  pthread_mutex_init(&s->defer_mu, NULL);
  {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_cond_init(&s->conn_cv, &ca);
    pthread_condattr_destroy(&ca);
  }
  /*
   * One daemon per thread, each with its own listening socket bound to the
   * same address with SO_REUSEPORT, so that the kernel spreads new
   * connections over the threads. libmicrohttpd's own thread pool shares
   * one socket between its workers: the first worker to wake accepts a
   * burst of connections, and on a busy machine the others may not wake in
   * time: wrk's 64 connections all landed on one of two workers in 2 runs
   * of 6, halving the throughput (docs/benchmarks.md).
   */
  s->nd = opts->threads ? opts->threads : 1;
  if (s->nd > HTTP_MAX_DAEMONS)
    s->nd = HTTP_MAX_DAEMONS;
  s->per_ip_limit = opts->per_ip_limit;
  if (opts->cpu_affinity != HTTP_PIN_OFF) {
    /* The scheduler, waking a client and a thread of ours on the same CPU
     * (loopback, nginx in front), stacks them there while the other CPU
     * idles: 10-15 % idle under full load on two CPUs. A thread per CPU
     * does not move, so the rest (the client, the store's writer) fills
     * the gaps (docs/operations.md). */
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
      unsigned n = (unsigned)CPU_COUNT(&set);
      if (opts->cpu_affinity == HTTP_PIN_ON || s->nd >= n)
        for (int c = 0; c < CPU_SETSIZE && s->ncpus < HTTP_MAX_DAEMONS; c++)
          if (CPU_ISSET(c, &set))
            s->cpus[s->ncpus++] = c;
    }
  }
  if (s->per_ip_limit && s->nd > 1) {
    /* About one bucket per connection allowed, at most 65536 (512 KiB). */
    size_t nb = 64;
    while (nb < opts->max_connections && nb < 65536)
      nb *= 2;
    s->ipc = xcalloc(nb, sizeof(*s->ipc));
    s->ipc_mask = nb - 1;
  }
  for (unsigned i = 0; i < HTTP_MAX_DAEMONS; i++)
    s->quiesced_fd[i] = -1;
  if (s->nd > 1 && sockaddr_port(&ss) != 0 && addr_in_use(&ss, sl)) {
    log_error("http: cannot listen on %s: %s", opts->listen, strerror(EADDRINUSE));
    server_free(s);
    return VG_IO;
  }
  for (unsigned i = 0; i < s->nd; i++) {
    /* max_connections split between the daemons, at least one each */
    unsigned limit = opts->max_connections / s->nd + (i < opts->max_connections % s->nd ? 1 : 0);
    if (limit == 0)
      limit = 1;
    if (i > 0)
      sockaddr_set_port(&ss, s->port); /* port 0: the one the first daemon got */
    s->d[i] = MHD_start_daemon(
        flags, 0, on_accept, s, on_request, s, MHD_OPTION_ARRAY, tls, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)(s->nd > 1 ? 1 : 0),
        MHD_OPTION_CONNECTION_LIMIT, limit, MHD_OPTION_PER_IP_CONNECTION_LIMIT, opts->per_ip_limit,
        MHD_OPTION_CONNECTION_TIMEOUT, opts->timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        opts->memory_limit, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_STRICT_FOR_CLIENT, 1,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s,
        MHD_OPTION_END);
    if (!s->d[i]) {
      log_error("http: cannot listen on %s: %s", opts->listen, strerror(errno));
      for (unsigned j = 0; j < i; j++)
        MHD_stop_daemon(s->d[j]);
      server_free(s);
      return VG_IO;
    }
    if (i == 0) {
      di = MHD_get_daemon_info(s->d[0], MHD_DAEMON_INFO_BIND_PORT);
      s->port = di ? di->port : 0;
    }
  }
  if (ss.ss_family == AF_INET6)
    inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, s->addr, sizeof(s->addr));
  else
    inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, s->addr, sizeof(s->addr));
  if (pthread_create(&s->wd, NULL, watchdog, s) == 0)
    s->wd_started = true;
  else
    log_warn("http: no header watchdog thread: slow-header clients are only cut by timeout");
  *out = s;
  return VG_OK;
}

uint16_t http_server_port(const struct http_server *s)
{
  return s->port;
}

const char *http_server_addr(const struct http_server *s)
{
  return s->addr;
}

unsigned http_server_inflight(const struct http_server *s)
{
  return atomic_load(&((struct http_server *)s)->inflight);
}

unsigned http_server_drain(struct http_server *s, unsigned timeout_ms)
{
  struct timespec t0;
  MHD_socket fd;

  atomic_store(&s->draining, true);
  for (unsigned i = 0; i < s->nd; i++) {
    fd = MHD_quiesce_daemon(s->d[i]);
    if (fd != MHD_INVALID_SOCKET)
      s->quiesced_fd[i] = fd;
  }
  clock_gettime(CLOCK_MONOTONIC, &t0);
  while (atomic_load(&s->inflight) > 0 && elapsed(&t0) * 1000.0 < (double)timeout_ms) {
    struct timespec ts = {0, 10 * 1000000L};
    nanosleep(&ts, NULL);
  }
  return atomic_load(&s->inflight);
}

void http_server_stop(struct http_server *s)
{
  if (!s)
    return;
  if (s->wd_started) {
    pthread_mutex_lock(&s->conn_mu);
    s->wd_stop = true;
    pthread_cond_signal(&s->conn_cv);
    pthread_mutex_unlock(&s->conn_mu);
    pthread_join(s->wd, NULL);
  }
  /* MHD aborts when stopped with a suspended connection: wait for the
   * deferred answers (their work, e.g. a store commit, is still running:
   * the services stop after the server). */
  {
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (atomic_load(&s->suspended) > 0 && elapsed(&t0) < HTTP_STOP_DEFER_WAIT_S) {
      struct timespec ts = {0, 10 * 1000000L};
      nanosleep(&ts, NULL);
    }
    if (atomic_load(&s->suspended) > 0) {
      log_error("http: %u deferred requests never completed; exiting without a clean stop",
                atomic_load(&s->suspended));
      return;
    }
  }
  for (unsigned i = 0; i < s->nd; i++) {
    MHD_stop_daemon(s->d[i]);
    if (s->quiesced_fd[i] >= 0)
      close(s->quiesced_fd[i]);
  }
  server_free(s);
}

/* ---- error codes ---- */

const char *vg_code_name(int code)
{
  switch (code) {
  case VG_CODE_OK: return "ok";
  case VG_CODE_BAD_REQUEST: return "bad_request";
  case VG_CODE_MISSING_CREDENTIALS: return "missing_credentials";
  case VG_CODE_BAD_TOKEN: return "bad_token";
  case VG_CODE_EXPIRED_TOKEN: return "expired_token";
  case VG_CODE_FORBIDDEN: return "forbidden";
  case VG_CODE_POLICY_VIOLATION: return "policy_violation";
  case VG_CODE_NOT_FOUND: return "not_found";
  case VG_CODE_METHOD_NOT_ALLOWED: return "method_not_allowed";
  case VG_CODE_PAYLOAD_TOO_LARGE: return "payload_too_large";
  case VG_CODE_QUOTA_EXCEEDED: return "quota_exceeded";
  case VG_CODE_RATE_LIMITED: return "rate_limited";
  case VG_CODE_INTERNAL: return "internal";
  case VG_CODE_UNAVAILABLE: return "unavailable";
  }
  return "unknown";
}
