/*
 * cmd_upload.c: `vodgate upload FILE`: the "upload from client" flow as a
 * CLI: signatures from a vodgate signature service (one upload session,
 * reused through its uploadId), ApplyUploadUGC, the bytes to COS (one PUT,
 * or multipart with parallel parts), CommitUploadUGC.
 *
 * Resume: the vodSessionKey, the COS UploadId and the file's size/mtime are
 * kept in a small JSON state file (default FILE.vgupload) while the upload
 * runs; a second run with the same file resumes (Apply with vodSessionKey,
 * ListParts, only the missing parts), and the file is removed on success.
 *
 * Redirection for tests and local development: --emulator HOST:PORT sends
 * every VOD and COS request there over plain HTTP with the production Host
 * names (http_client_opts.connect_to), so the emulator sees what VOD would.
 *
 * HTTP goes through net/http_client: one client for the signature service
 * and one for VOD and COS on the main thread, and one per part-upload
 * thread (a client is single-threaded), each keeping its connection alive.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/io.h"
#include "core/util.h"
#include "emu/cos_auth.h"
#include "net/http_client.h"

#define UP_DEFAULT_PART    (8u * 1024 * 1024) /* above it: multipart */
#define UP_MIN_PART        (1024u * 1024)     /* COS needs >= 1 MiB but the last */
#define UP_MAX_PART        (64u * 1024 * 1024)
#define UP_MAX_PARALLEL    16
#define UP_MAX_RESPONSE    (4u * 1024 * 1024)
#define UP_REQUEST_TIMEOUT 300000L /* ms: one part of up to 64 MiB on a slow link */
#define UP_CONNECT_TIMEOUT 10000L  /* ms */
#define UP_ATTEMPTS        3

struct up {
  const char *file, *cover, *sig_url, *emulator, *state_path;
  char *token;
  char ugc_base[256];
  const char *scheme; /* "https" or "http" (emulator) */
  char connect_to[300];
  struct http_client *sig_hc, *vod_hc; /* main thread's */
  uint64_t part_size;
  unsigned parallel;
  bool progress;
  char upload_id[128]; /* the signature service's session */
  /* Apply answer */
  char session_key[256], bucket_host[256], media_path[512], cover_path[512];
  char ak[COS_AUTH_MAX_AK + 1], sk[80], token_cos[160];
  int64_t key_start, key_end;
  /* multipart */
  uint64_t size;
  int fd;
  char cos_upload_id[128];
  size_t nparts;
  char (*etags)[33];
  uint64_t done_bytes;
  size_t next_part;
  bool failed;
  char fail_msg[512];
  pthread_mutex_t mu;
};

static void upload_usage(FILE *f)
{
  fprintf(f, "usage: vodgate upload FILE [--cover IMG] --signature-url URL [options]\n\n"
             "Upload FILE to Tencent Cloud VOD with signatures from a vodgate signature\n"
             "service; prints the FileId and media URL.\n\n"
             "  --signature-url URL    the service's POST /v1/upload-signatures URL\n"
             "  --token-file F         bearer token (JWT or vg_ API token) for it\n"
             "                         (else $VODGATE_UPLOAD_TOKEN; never on the command line)\n"
             "  --cover IMG            also upload a cover image\n"
             "  --part-size BYTES      multipart above this size, parts of it (default 8 MiB)\n"
             "  --parallel N           parts uploaded at once (default 4, max 16)\n"
             "  --state-file F         resume state (default FILE.vgupload)\n"
             "  --emulator HOST:PORT   send VOD and COS requests to `vodgate emulate` there\n"
             "                         (plain HTTP, production Host names)\n"
             "  --ugc-endpoint URL     VOD-UGC base URL (default https://vod2.qcloud.com)\n"
             "  -h, --help             this help\n\n"
             "Exit status: 0 uploaded, 1 failed (the VOD or COS error is printed), 2 usage.\n");
}

/* ---- HTTP ---- */

/* A client for the signature service (vod false) or for VOD and COS (vod:
 * the emulator redirection applies). Free with http_client_free. */
static struct http_client *up_client(const struct up *u, bool vod)
{
  return http_client_new(&(struct http_client_opts){
      .connect_timeout_ms = UP_CONNECT_TIMEOUT,
      .timeout_ms = UP_REQUEST_TIMEOUT,
      .max_body = UP_MAX_RESPONSE,
      .user_agent = "vodgate-upload/" VODGATE_VERSION,
      .connect_to = vod && u->connect_to[0] ? u->connect_to : NULL,
  });
}

/* One request. Returns 0 when a response arrived (any status; the caller
 * releases r), -1 on a transport error (msg written, r released). */
static int http_do(struct http_client *hc, const char *method, const char *url,
                   const char *const *hdrs, size_t nh, const void *body, size_t len,
                   struct http_client_resp *r, char *msg, size_t msgsz)
{
  if (http_client_request(hc, method, url, hdrs, nh, body, len, 0, r) != VG_OK) {
    snprintf(msg, msgsz, "%.200s: %.250s", url, r->error); /* both fit in 512 */
    http_client_resp_release(r);
    return -1;
  }
  return 0;
}

/* The ETag of a COS answer without its quotes into out[33]; false unless
 * it is 32 characters (an MD5 in hex). */
static bool resp_etag(const struct http_client_resp *r, char out[33])
{
  char v[64];
  const char *p = v;
  size_t n;

  if (http_client_resp_header(r, "ETag", v, sizeof(v)) != VG_OK)
    return false;
  while (*p == '"')
    p++;
  n = strcspn(p, "\"");
  if (n != 32)
    return false;
  memcpy(out, p, 32);
  out[32] = '\0';
  return true;
}

/* ---- signature service ---- */

static char *get_signature(struct up *u)
{
  struct http_client_resp r;
  char auth[8300], msg[512];
  const char *h[2] = {auth, "Content-Type: application/json"};
  int rc;
  json_t *req = json_object(), *j;
  char *body, *sig = NULL;

  if (u->upload_id[0])
    json_object_set_new(req, "uploadId", json_string(u->upload_id));
  body = json_dumps(req, JSON_COMPACT);
  json_decref(req);
  snprintf(auth, sizeof(auth), "Authorization: Bearer %s", u->token);
  rc = http_do(u->sig_hc, "POST", u->sig_url, h, 2, body, strlen(body), &r, msg, sizeof(msg));
  secure_zero(auth, sizeof(auth));
  if (rc) {
    fprintf(stderr, "vodgate upload: signature service: %s\n", msg);
    free(body);
    return NULL;
  }
  free(body);
  j = json_loadb(r.body.ptr ? r.body.ptr : "", r.body.len, 0, NULL);
  if (r.status == 200 && json_is_string(json_object_get(json_object_get(j, "data"), "signature"))) {
    json_t *d = json_object_get(j, "data");
    sig = xstrdup(json_string_value(json_object_get(d, "signature")));
    if (json_is_string(json_object_get(d, "uploadId")))
      snprintf(u->upload_id, sizeof(u->upload_id), "%s",
               json_string_value(json_object_get(d, "uploadId")));
  } else {
    fprintf(stderr,
            "vodgate upload: the signature service refused: HTTP %ld, code %lld: %s\n"
            "  (401: the token is missing, expired or wrong; 403: your policy forbids it; "
            "429: a quota or rate limit)\n",
            r.status, (long long)json_integer_value(json_object_get(j, "code")),
            json_string_value(json_object_get(j, "message"))
                ? json_string_value(json_object_get(j, "message"))
                : "(no message)");
  }
  json_decref(j);
  http_client_resp_release(&r);
  return sig;
}

/* ---- VOD-UGC ---- */

static const char *ugc_explain(long long code, const char *message)
{
  if (message && strstr(message, "duplicate"))
    return "the signature was already used (oneTimeValid): each request needs a new one";
  switch (code) {
  case 10004:
    return "VOD refused the upload signature: wrong SecretKey, unknown SecretId, expired, or "
           "malformed timestamps. Check the signature service's [vod] settings";
  case 10001: return "VOD refused the request as invalid (fields, or the file is not uploaded)";
  case 10005: return "the upload session (vodSessionKey) is unknown or expired: start again";
  default: return "VOD refused the request";
  }
}

/* POST an action; returns the data object (new reference) or NULL after
 * printing the error. */
static json_t *ugc_call(struct up *u, const char *action, json_t *req, long long *code_out)
{
  static const char *const hdrs[] = {"Content-Type: application/json"};
  char url[512], msg[512];
  struct http_client_resp r;
  char *body = json_dumps(req, JSON_COMPACT);
  json_t *j, *data = NULL;
  long long code;

  *code_out = -1;
  snprintf(url, sizeof(url), "%s/v3/index.php?Action=%s", u->ugc_base, action);
  if (http_do(u->vod_hc, "POST", url, hdrs, 1, body, strlen(body), &r, msg, sizeof(msg))) {
    fprintf(stderr, "vodgate upload: %s: %s\n", action, msg);
    free(body);
    return NULL;
  }
  free(body);
  j = json_loadb(r.body.ptr ? r.body.ptr : "", r.body.len, 0, NULL);
  code = json_integer_value(json_object_get(j, "code"));
  if (r.status == 200 && json_is_integer(json_object_get(j, "code")) && code == 0) {
    data = json_incref(json_object_get(j, "data"));
  } else {
    const char *m = json_string_value(json_object_get(j, "message"));
    *code_out = code;
    fprintf(stderr, "vodgate upload: %s failed: HTTP %ld, VOD code %lld \"%s\"\n  %s\n", action,
            r.status, code, m ? m : "", ugc_explain(code, m));
  }
  json_decref(j);
  http_client_resp_release(&r);
  return data;
}

/* ---- COS ---- */

static int pct_append(struct buf *b, const char *s, bool keep_slash)
{
  static const char hx[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    bool un = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.' || *p == '~' || (keep_slash && *p == '/');
    char t[3] = {'%', hx[*p >> 4], hx[*p & 15]};
    if (buf_append(b, un ? (const char *)p : t, un ? 1 : 3))
      return -1;
  }
  return 0;
}

/* One signed COS request on hc. query: raw "k=v&k" (keys already
 * lower-case), plist: its signed key list. */
static int cos_do(struct up *u, struct http_client *hc, const char *method, const char *path,
                  const char *query, const char *plist, const void *body, size_t len,
                  const char *ctype, struct http_client_resp *r, char *msg, size_t msgsz)
{
  struct cos_auth a;
  struct buf p, url, h, ht, hct;
  char sig[41];
  const char *hl[3];
  size_t nh = 0;
  int rc = -1;

  memset(&a, 0, sizeof(a));
  memset(r, 0, sizeof(*r));
  buf_init(&p, 4096);
  buf_init(&url, 8192);
  buf_init(&h, 8192);
  buf_init(&ht, 8192);
  buf_init(&hct, 8192);
  snprintf(a.ak, sizeof(a.ak), "%s", u->ak);
  snprintf(a.key_time, sizeof(a.key_time), "%lld;%lld", (long long)u->key_start,
           (long long)u->key_end);
  memcpy(a.sign_time, a.key_time, sizeof(a.sign_time));
  snprintf(a.param_list, sizeof(a.param_list), "%s", plist);
  if (pct_append(&p, path, true) || buf_append(&p, "", 1)) {
    snprintf(msg, msgsz, "object path too long");
    goto out;
  }
  {
    struct cos_request cq = {method, p.ptr, p.len - 1, query, strlen(query), NULL, 0};
    if (cos_auth_sign(&a, &cq, u->sk, strlen(u->sk), sig) != COS_AUTH_OK) {
      snprintf(msg, msgsz, "cannot sign the COS request");
      goto out;
    }
  }
  if (buf_printf(&url, "%s://%s%s%s%s", u->scheme, u->bucket_host, p.ptr, query[0] ? "?" : "",
                 query) ||
      buf_printf(&h,
                 "Authorization: q-sign-algorithm=sha1&q-ak=%s&q-sign-time=%s&q-key-time=%s"
                 "&q-header-list=&q-url-param-list=%s&q-signature=%s",
                 a.ak, a.sign_time, a.key_time, plist, sig)) {
    snprintf(msg, msgsz, "URL too long");
    goto out;
  }
  hl[nh++] = h.ptr;
  if (buf_printf(&ht, "x-cos-security-token: %s", u->token_cos) == VG_OK)
    hl[nh++] = ht.ptr;
  if (!ctype)
    hl[nh++] = "Content-Type:"; /* not libcurl's default for a body */
  else if (buf_printf(&hct, "Content-Type: %s", ctype) == VG_OK)
    hl[nh++] = hct.ptr;
  rc = http_do(hc, method, url.ptr, hl, nh, body ? body : "", len, r, msg, msgsz);
out:
  buf_release(&p);
  buf_release(&url);
  buf_release(&h);
  buf_release(&ht);
  buf_release(&hct);
  return rc;
}

static void cos_fail(struct up *u, const char *what, const struct http_client_resp *r)
{
  const char *b = r->body.ptr ? r->body.ptr : "";
  const char *c = strstr(b, "<Code>"), *ce = c ? strstr(c, "</Code>") : NULL;
  pthread_mutex_lock(&u->mu);
  if (!u->failed) {
    u->failed = true;
    snprintf(u->fail_msg, sizeof(u->fail_msg), "COS %s: HTTP %ld %.*s", what, r->status,
             c && ce ? (int)(ce - c - 6) : 0, c ? c + 6 : "");
  }
  pthread_mutex_unlock(&u->mu);
}

static void progress(struct up *u)
{
  if (!u->progress || !u->size)
    return;
  {
    unsigned pctv = (unsigned)(u->done_bytes * 100 / u->size);
    char bar[41];
    unsigned fill = pctv * 40 / 100;
    for (unsigned i = 0; i < 40; i++)
      bar[i] = i < fill ? '#' : ' ';
    bar[40] = '\0';
    fprintf(stderr, "\r[%s] %3u%% %.1f/%.1f MiB", bar, pctv, (double)u->done_bytes / 1048576.0,
            (double)u->size / 1048576.0);
    fflush(stderr);
  }
}

static int read_range(int fd, uint64_t off, size_t len, char *out)
{
  size_t got = 0;
  while (got < len) {
    ssize_t n = pread(fd, out + got, len - got, (off_t)(off + got));
    if (n <= 0)
      return -1;
    got += (size_t)n;
  }
  return 0;
}

static void *part_worker(void *arg)
{
  struct up *u = arg;
  char *chunk = xmalloc(u->part_size);
  struct http_client *hc = up_client(u, true);

  for (;;) {
    size_t i;
    uint64_t off, len;
    pthread_mutex_lock(&u->mu);
    while (u->next_part < u->nparts && u->etags[u->next_part][0])
      u->next_part++;
    if (u->failed || u->next_part >= u->nparts) {
      pthread_mutex_unlock(&u->mu);
      break;
    }
    i = u->next_part++;
    pthread_mutex_unlock(&u->mu);
    off = (uint64_t)i * u->part_size;
    len = u->size - off < u->part_size ? u->size - off : u->part_size;
    if (read_range(u->fd, off, (size_t)len, chunk)) {
      struct http_client_resp r = {.status = 0};
      cos_fail(u, "read of the file", &r);
      break;
    }
    {
      char q[300], msg[512], etag[33];
      struct http_client_resp r;
      bool ok = false;
      snprintf(q, sizeof(q), "partNumber=%zu&uploadId=%s", i + 1, u->cos_upload_id);
      for (int t = 0; t < UP_ATTEMPTS && !ok; t++) {
        if (cos_do(u, hc, "PUT", u->media_path, q, "partnumber;uploadid", chunk, (size_t)len, NULL,
                   &r, msg, sizeof(msg)))
          continue;
        ok = r.status == 200 && resp_etag(&r, etag);
        if (ok) {
          pthread_mutex_lock(&u->mu);
          memcpy(u->etags[i], etag, 33);
          u->done_bytes += len;
          progress(u);
          pthread_mutex_unlock(&u->mu);
        } else if (t + 1 == UP_ATTEMPTS) {
          cos_fail(u, "UploadPart", &r);
        }
        http_client_resp_release(&r);
      }
      if (!ok) {
        pthread_mutex_lock(&u->mu);
        if (!u->failed) {
          u->failed = true;
          snprintf(u->fail_msg, sizeof(u->fail_msg), "COS UploadPart %zu failed: %.400s", i + 1,
                   msg);
        }
        pthread_mutex_unlock(&u->mu);
        break;
      }
    }
  }
  free(chunk);
  http_client_free(hc);
  return NULL;
}

/* Text between <tag> and </tag> after *from; advances *from. */
static bool xml_next(const char **from, const char *tag, char *out, size_t outsz)
{
  char open[48], close[48];
  const char *a, *b;
  snprintf(open, sizeof(open), "<%s>", tag);
  snprintf(close, sizeof(close), "</%s>", tag);
  a = strstr(*from, open);
  if (!a)
    return false;
  a += strlen(open);
  b = strstr(a, close);
  if (!b || (size_t)(b - a) >= outsz)
    return false;
  memcpy(out, a, (size_t)(b - a));
  out[b - a] = '\0';
  *from = b + strlen(close);
  return true;
}

static void save_state(const struct up *u, const struct stat *st)
{
  json_t *j = json_pack("{s:s,s:s,s:s,s:I,s:I}", "vodSessionKey", u->session_key, "uploadId",
                        u->upload_id, "cosUploadId", u->cos_upload_id, "size",
                        (json_int_t)st->st_size, "mtime", (json_int_t)st->st_mtime);
  if (json_dump_file(j, u->state_path, JSON_COMPACT))
    fprintf(stderr, "vodgate upload: warning: cannot write the state file %s\n", u->state_path);
  json_decref(j);
}

static int upload_media(struct up *u, const struct stat *st)
{
  char msg[512];
  struct http_client_resp r;

  if (u->size <= u->part_size) {
    char *data = xmalloc(u->size ? u->size : 1);
    int rc = -1;
    if (read_range(u->fd, 0, (size_t)u->size, data)) {
      fprintf(stderr, "vodgate upload: cannot read %s\n", u->file);
      free(data);
      return -1;
    }
    for (int t = 0; t < UP_ATTEMPTS && rc; t++) {
      if (cos_do(u, u->vod_hc, "PUT", u->media_path, "", "", data, (size_t)u->size, NULL, &r, msg,
                 sizeof(msg)))
        continue;
      if (r.status == 200)
        rc = 0;
      else if (t + 1 == UP_ATTEMPTS)
        cos_fail(u, "PutObject", &r);
      http_client_resp_release(&r);
    }
    free(data);
    if (rc && !u->failed)
      fprintf(stderr, "vodgate upload: %s\n", msg);
    u->done_bytes = u->size;
    progress(u);
    return rc;
  }
  u->nparts = (size_t)((u->size + u->part_size - 1) / u->part_size);
  u->etags = xcalloc(u->nparts, sizeof(*u->etags));
  if (u->cos_upload_id[0]) {
    /* Resume: which parts does COS have? */
    char q[200];
    snprintf(q, sizeof(q), "uploadId=%s", u->cos_upload_id);
    if (cos_do(u, u->vod_hc, "GET", u->media_path, q, "uploadid", NULL, 0, NULL, &r, msg,
               sizeof(msg)) == 0) {
      if (r.status == 200) {
        const char *p = r.body.ptr;
        char num[16], etag[80];
        while (xml_next(&p, "PartNumber", num, sizeof(num)) &&
               xml_next(&p, "ETag", etag, sizeof(etag))) {
          uint64_t n;
          const char *e = etag;
          if (strncmp(e, "&quot;", 6) == 0)
            e += 6;
          if (parse_u64z(num, &n) == 0 && n >= 1 && n <= u->nparts && strlen(e) >= 32) {
            memcpy(u->etags[n - 1], e, 32);
            u->etags[n - 1][32] = '\0';
            u->done_bytes += n == u->nparts ? u->size - (n - 1) * u->part_size : u->part_size;
          }
        }
      } else {
        u->cos_upload_id[0] = '\0'; /* gone: start a new multipart upload */
      }
      http_client_resp_release(&r);
    }
  }
  if (!u->cos_upload_id[0]) {
    const char *p;
    memset(u->etags, 0, u->nparts * sizeof(*u->etags));
    u->done_bytes = 0;
    if (cos_do(u, u->vod_hc, "POST", u->media_path, "uploads", "uploads", "", 0,
               "application/octet-stream", &r, msg, sizeof(msg))) {
      fprintf(stderr, "vodgate upload: %s\n", msg);
      return -1;
    }
    p = r.body.ptr ? r.body.ptr : "";
    if (r.status != 200 || !xml_next(&p, "UploadId", u->cos_upload_id, sizeof(u->cos_upload_id))) {
      cos_fail(u, "InitiateMultipartUpload", &r);
      http_client_resp_release(&r);
      fprintf(stderr, "vodgate upload: %s\n", u->fail_msg);
      return -1;
    }
    http_client_resp_release(&r);
    save_state(u, st);
  }
  progress(u);
  {
    pthread_t th[UP_MAX_PARALLEL];
    unsigned n = u->parallel;
    for (unsigned i = 0; i < n; i++)
      if (pthread_create(&th[i], NULL, part_worker, u))
        abort();
    for (unsigned i = 0; i < n; i++)
      pthread_join(th[i], NULL);
  }
  if (u->failed) {
    fprintf(stderr, "%svodgate upload: %s\n  (run the same command again to resume)\n",
            u->progress ? "\n" : "", u->fail_msg);
    return -1;
  }
  {
    struct buf x;
    char q[200];
    int rc = -1;
    buf_init(&x, 1 << 20);
    if (buf_printf(&x, "<CompleteMultipartUpload>") != VG_OK)
      abort();
    for (size_t i = 0; i < u->nparts; i++)
      if (buf_printf(&x, "<Part><PartNumber>%zu</PartNumber><ETag>&quot;%s&quot;</ETag></Part>",
                     i + 1, u->etags[i]) != VG_OK)
        abort();
    if (buf_printf(&x, "</CompleteMultipartUpload>") != VG_OK)
      abort();
    snprintf(q, sizeof(q), "uploadId=%s", u->cos_upload_id);
    if (cos_do(u, u->vod_hc, "POST", u->media_path, q, "uploadid", x.ptr, x.len, "application/xml",
               &r, msg, sizeof(msg)) == 0) {
      if (r.status == 200)
        rc = 0;
      else
        cos_fail(u, "CompleteMultipartUpload", &r);
      http_client_resp_release(&r);
    }
    buf_release(&x);
    if (rc)
      fprintf(stderr, "%svodgate upload: %s\n", u->progress ? "\n" : "",
              u->failed ? u->fail_msg : msg);
    return rc;
  }
}

static void split_name(const char *path, char *name, size_t nsz, char *type, size_t tsz)
{
  const char *base = strrchr(path, '/');
  const char *dot;
  base = base ? base + 1 : path;
  dot = strrchr(base, '.');
  snprintf(name, nsz, "%.*s", dot && dot != base ? (int)(dot - base) : (int)strlen(base), base);
  type[0] = '\0';
  if (dot && dot != base) {
    size_t i = 0;
    for (const char *p = dot + 1; *p && i + 1 < tsz; p++)
      type[i++] = (char)((*p >= 'A' && *p <= 'Z') ? *p + 32 : *p);
    type[i] = '\0';
  }
}

static int apply_fields(struct up *u, json_t *d)
{
  json_t *cert = json_object_get(d, "tempCertificate");
  const char *bucket = json_string_value(json_object_get(d, "storageBucket"));
  const char *region = json_string_value(json_object_get(d, "storageRegionV5"));
  json_int_t appid = json_integer_value(json_object_get(d, "storageAppId"));
  const char *mp = json_string_value(json_object_get(json_object_get(d, "video"), "storagePath"));
  const char *cp = json_string_value(json_object_get(json_object_get(d, "cover"), "storagePath"));
  const char *sk = json_string_value(json_object_get(d, "vodSessionKey"));

  if (!bucket || !region || !mp || !sk || !json_is_object(cert)) {
    fprintf(stderr, "vodgate upload: ApplyUploadUGC answer lacks fields\n");
    return -1;
  }
  snprintf(u->bucket_host, sizeof(u->bucket_host), "%s-%lld.cos.%s.myqcloud.com", bucket,
           (long long)appid, region);
  snprintf(u->media_path, sizeof(u->media_path), "%s", mp);
  snprintf(u->cover_path, sizeof(u->cover_path), "%s", cp ? cp : "");
  snprintf(u->session_key, sizeof(u->session_key), "%s", sk);
  snprintf(u->ak, sizeof(u->ak), "%s", json_string_value(json_object_get(cert, "secretId")));
  snprintf(u->sk, sizeof(u->sk), "%s", json_string_value(json_object_get(cert, "secretKey")));
  snprintf(u->token_cos, sizeof(u->token_cos), "%s",
           json_string_value(json_object_get(cert, "token")));
  u->key_start = (int64_t)json_integer_value(json_object_get(d, "timestamp"));
  u->key_end = (int64_t)json_integer_value(json_object_get(cert, "expiredTime"));
  if (!u->key_start)
    u->key_start = (int64_t)time(NULL) - 60;
  return 0;
}

static int run_upload(struct up *u)
{
  struct stat st;
  char name[256], type[20], cname[256], ctype[20];
  json_t *req, *d = NULL, *st_j;
  char *sig;
  long long code;
  int rc = 1;

  u->fd = open(u->file, O_RDONLY | O_CLOEXEC);
  if (u->fd < 0 || fstat(u->fd, &st) || !S_ISREG(st.st_mode)) {
    fprintf(stderr, "vodgate upload: cannot open %s: %s\n", u->file, strerror(errno));
    return 1;
  }
  u->size = (uint64_t)st.st_size;
  split_name(u->file, name, sizeof(name), type, sizeof(type));
  if (!type[0]) {
    fprintf(stderr, "vodgate upload: %s has no extension: VOD needs the media type\n", u->file);
    goto out;
  }
  /* Resume state of the same file? */
  st_j = json_load_file(u->state_path, 0, NULL);
  if (st_j && json_integer_value(json_object_get(st_j, "size")) == (json_int_t)st.st_size &&
      json_integer_value(json_object_get(st_j, "mtime")) == (json_int_t)st.st_mtime) {
    snprintf(u->session_key, sizeof(u->session_key), "%s",
             json_string_value(json_object_get(st_j, "vodSessionKey")));
    snprintf(u->upload_id, sizeof(u->upload_id), "%s",
             json_string_value(json_object_get(st_j, "uploadId")));
    snprintf(u->cos_upload_id, sizeof(u->cos_upload_id), "%s",
             json_string_value(json_object_get(st_j, "cosUploadId")));
  }
  json_decref(st_j);

  if (!(sig = get_signature(u)))
    goto out;
  if (u->session_key[0]) {
    req = json_pack("{s:s,s:s}", "signature", sig, "vodSessionKey", u->session_key);
    d = ugc_call(u, "ApplyUploadUGC", req, &code);
    json_decref(req);
    free(sig);
    if (!d && code == 10005) {
      fprintf(stderr, "vodgate upload: starting a new upload\n");
      u->session_key[0] = u->cos_upload_id[0] = '\0';
      if (!(sig = get_signature(u)))
        goto out;
    } else if (!d) {
      goto out;
    } else {
      sig = NULL;
    }
  }
  if (!d) {
    req = json_pack("{s:s,s:s,s:s,s:I}", "signature", sig, "videoName", name, "videoType", type,
                    "videoSize", (json_int_t)st.st_size);
    if (u->cover) {
      struct stat cs;
      if (stat(u->cover, &cs)) {
        fprintf(stderr, "vodgate upload: cannot read the cover %s\n", u->cover);
        json_decref(req);
        free(sig);
        goto out;
      }
      split_name(u->cover, cname, sizeof(cname), ctype, sizeof(ctype));
      json_object_set_new(req, "coverName", json_string(cname));
      json_object_set_new(req, "coverType", json_string(ctype));
      json_object_set_new(req, "coverSize", json_integer((json_int_t)cs.st_size));
    }
    d = ugc_call(u, "ApplyUploadUGC", req, &code);
    json_decref(req);
    free(sig);
    if (!d)
      goto out;
  }
  if (apply_fields(u, d)) {
    json_decref(d);
    goto out;
  }
  json_decref(d);
  save_state(u, &st);
  if (upload_media(u, &st))
    goto out;
  if (u->progress)
    fputc('\n', stderr);
  if (u->cover && u->cover_path[0]) {
    struct buf cb;
    struct http_client_resp r;
    char msg[512];
    buf_init(&cb, 64u * 1024 * 1024);
    if (read_file(u->cover, &cb) ||
        cos_do(u, u->vod_hc, "PUT", u->cover_path, "", "", cb.ptr ? cb.ptr : "", cb.len, NULL, &r,
               msg, sizeof(msg))) {
      fprintf(stderr, "vodgate upload: cover: cannot upload %s\n", u->cover);
      buf_release(&cb);
      goto out;
    }
    buf_release(&cb);
    if (r.status != 200) {
      cos_fail(u, "PutObject (cover)", &r);
      fprintf(stderr, "vodgate upload: %s\n", u->fail_msg);
      http_client_resp_release(&r);
      goto out;
    }
    http_client_resp_release(&r);
  }
  if (!(sig = get_signature(u)))
    goto out;
  req = json_pack("{s:s,s:s}", "signature", sig, "vodSessionKey", u->session_key);
  d = ugc_call(u, "CommitUploadUGC", req, &code);
  json_decref(req);
  free(sig);
  if (!d)
    goto out;
  {
    json_t *o =
        json_pack("{s:O?,s:O?,s:s}", "fileId", json_object_get(d, "fileId"), "mediaUrl",
                  json_object_get(json_object_get(d, "video"), "url"), "uploadId", u->upload_id);
    char *s = json_dumps(o, JSON_COMPACT);
    printf("FileId: %s\nMediaUrl: %s\n%s\n", json_string_value(json_object_get(d, "fileId")),
           json_string_value(json_object_get(json_object_get(d, "video"), "url")), s);
    free(s);
    json_decref(o);
  }
  json_decref(d);
  unlink(u->state_path);
  rc = 0;
out:
  free(u->etags);
  secure_zero(u->sk, sizeof(u->sk));
  close(u->fd);
  return rc;
}

int cmd_upload(int argc, char **argv)
{
  enum { O_SIG = 256, O_TOKF, O_COVER, O_PART, O_PAR, O_STATE, O_EMU, O_UGC };
  static const struct option opts[] = {{"signature-url", required_argument, NULL, O_SIG},
                                       {"token-file", required_argument, NULL, O_TOKF},
                                       {"cover", required_argument, NULL, O_COVER},
                                       {"part-size", required_argument, NULL, O_PART},
                                       {"parallel", required_argument, NULL, O_PAR},
                                       {"state-file", required_argument, NULL, O_STATE},
                                       {"emulator", required_argument, NULL, O_EMU},
                                       {"ugc-endpoint", required_argument, NULL, O_UGC},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  struct up u;
  const char *tokf = NULL, *ugc = NULL;
  char state[1024];
  uint64_t v;
  int c, rc;

  memset(&u, 0, sizeof(u));
  u.part_size = UP_DEFAULT_PART;
  u.parallel = 4;
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case O_SIG: u.sig_url = optarg; break;
    case O_TOKF: tokf = optarg; break;
    case O_COVER: u.cover = optarg; break;
    case O_PART:
      if (parse_u64z(optarg, &v) || v < UP_MIN_PART || v > UP_MAX_PART) {
        fprintf(stderr, "vodgate upload: --part-size: 1048576..67108864 bytes\n");
        return EXIT_USAGE;
      }
      u.part_size = v;
      break;
    case O_PAR:
      if (parse_u64z(optarg, &v) || v < 1 || v > UP_MAX_PARALLEL) {
        fprintf(stderr, "vodgate upload: --parallel: 1..16\n");
        return EXIT_USAGE;
      }
      u.parallel = (unsigned)v;
      break;
    case O_STATE: u.state_path = optarg; break;
    case O_EMU: u.emulator = optarg; break;
    case O_UGC: ugc = optarg; break;
    case 'h': upload_usage(stdout); return 0;
    default: upload_usage(stderr); return EXIT_USAGE;
    }
  }
  if (optind + 1 != argc || !u.sig_url) {
    upload_usage(stderr);
    return EXIT_USAGE;
  }
  u.file = argv[optind];
  if (tokf) {
    u.token = read_secret_file(tokf);
    if (!u.token) {
      fprintf(stderr, "vodgate upload: cannot read --token-file %s\n", tokf);
      return 1;
    }
  } else if (getenv("VODGATE_UPLOAD_TOKEN") && *getenv("VODGATE_UPLOAD_TOKEN")) {
    u.token = xstrdup(getenv("VODGATE_UPLOAD_TOKEN"));
  } else {
    fprintf(stderr, "vodgate upload: no token: --token-file F or VODGATE_UPLOAD_TOKEN\n");
    return EXIT_USAGE;
  }
  if (strpbrk(u.token, "\r\n")) {
    fprintf(stderr, "vodgate upload: the token holds a line break\n");
    free(u.token);
    return EXIT_USAGE;
  }
  u.scheme = u.emulator ? "http" : "https";
  if (u.emulator)
    snprintf(u.connect_to, sizeof(u.connect_to), "::%s", u.emulator);
  snprintf(u.ugc_base, sizeof(u.ugc_base), "%s",
           ugc ? ugc : (u.emulator ? "http://vod2.qcloud.com" : "https://vod2.qcloud.com"));
  if (!u.state_path) {
    snprintf(state, sizeof(state), "%s.vgupload", u.file);
    u.state_path = state;
  }
  u.progress = isatty(2);
  pthread_mutex_init(&u.mu, NULL);
  if (http_client_global_init() != VG_OK) {
    fprintf(stderr, "vodgate upload: cannot initialise libcurl\n");
    rc = 1;
  } else {
    u.sig_hc = up_client(&u, false);
    u.vod_hc = up_client(&u, true);
    rc = run_upload(&u);
    http_client_free(u.sig_hc);
    http_client_free(u.vod_hc);
    http_client_global_cleanup();
  }
  pthread_mutex_destroy(&u.mu);
  secure_zero(u.token, strlen(u.token));
  free(u.token);
  return rc;
}
