/* Unit tests for cfg: schema defaults, file and environment layers, policy
 * sections, secrets, and that every error names where and which key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg/cfg.h"

static char dir[] = "/tmp/vgcfg-XXXXXX";
static char err[CFG_ERR_MAX];

static const char *write_tmp(const char *name, const char *text)
{
  static char path[4][512];
  static int k;
  char *p = path[k++ % 4];
  FILE *f;

  snprintf(p, 512, "%s/%s", dir, name);
  f = fopen(p, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
  return p;
}

static struct cfg *load_ok(const char *ini, char **env)
{
  struct cfg *c = NULL;
  const char *p = ini ? write_tmp("ok.ini", ini) : NULL;
  err[0] = '\0';
  if (cfg_load(p, env, &c, err, sizeof(err)) != 0)
    fail_msg("cfg_load failed: %s", err);
  return c;
}

/* Load must fail; err must contain every one of the NULL-terminated
 * fragments. */
static void load_fails(const char *ini, char **env, ...)
{
  struct cfg *c = NULL;
  const char *p = ini ? write_tmp("bad.ini", ini) : NULL;
  va_list ap;
  const char *frag;

  err[0] = '\0';
  assert_int_equal(cfg_load(p, env, &c, err, sizeof(err)), -1);
  assert_null(c);
  va_start(ap, env);
  while ((frag = va_arg(ap, const char *)) != NULL) {
    if (!strstr(err, frag))
      fail_msg("error '%s' lacks '%s'", err, frag);
  }
  va_end(ap);
}

static int setup(void **state)
{
  assert_non_null(mkdtemp(dir));
  return 0;
}

static int teardown(void **state)
{
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "%s/ok.ini", dir);
  unlink(cmd);
  snprintf(cmd, sizeof(cmd), "%s/bad.ini", dir);
  unlink(cmd);
  snprintf(cmd, sizeof(cmd), "%s/secret", dir);
  unlink(cmd);
  snprintf(cmd, sizeof(cmd), "%s/empty", dir);
  unlink(cmd);
  rmdir(dir);
  return 0;
}

static void defaults(void **state)
{
  struct cfg *c = load_ok(NULL, NULL);
  size_t n;

  assert_string_equal(cfg_get_str(c, "server", "listen"), "127.0.0.1:8080");
  assert_string_equal(cfg_get_str(c, "server", "db"), "./var/vodgate.db");
  assert_int_equal(cfg_get_int(c, "server", "threads"), 2);
  assert_int_equal(cfg_get_int(c, "server", "memory_limit"), 32768);
  assert_false(cfg_get_bool(c, "auth", "allow_anonymous"));
  assert_false(cfg_get_bool(c, "events", "allow_unauthenticated"));
  assert_string_equal(cfg_get_str(c, "events", "mode"), "push");
  assert_null(cfg_get_str(c, "vod", "secret_id"));
  assert_null(cfg_get_secret(c, "vod", "secret_key", NULL));
  cfg_get_list(c, "server", "cors_origins", &n);
  assert_int_equal(n, 0);
  assert_int_equal(cfg_policy_count(c), 1);
  assert_string_equal(cfg_policy_section(c, 0), "policy default");
  assert_string_equal(cfg_policy_name(c, 0), "default");
  assert_int_equal(cfg_get_int(c, "policy default", "validity"), 3600);
  assert_string_equal(cfg_get_str(c, "policy default", "task_notify_mode"), "Finish");
  assert_false(cfg_is_set(c, "server", "listen"));
  assert_string_equal(cfg_source(c, "server", "listen"), "default");
  assert_null(cfg_path(c));
  cfg_unref(c);
}

static void file_values(void **state)
{
  struct cfg *c = load_ok("; comment\n"
                          "# another\n"
                          "[server]\n"
                          "listen = [::1]:0\n"
                          "threads = 4 ; inline comment\n"
                          "timeout = 2m\n"
                          "memory_limit = 64k\n"
                          "cors_origins = https://a.example,\n"
                          "  https://b.example\n"
                          "  https://c.example\n"
                          "log_level = debug\n"
                          "[auth]\n"
                          "allow_anonymous = yes\n"
                          "jwt_audience = app\n"
                          "[policy default]\n"
                          "validity = 1d\n"
                          "max_size = 1g\n"
                          "client_may_set = procedure, classId\n"
                          "task_priority = -10\n",
                          NULL);
  size_t n;
  const char *const *l;

  assert_string_equal(cfg_get_str(c, "server", "listen"), "[::1]:0");
  assert_int_equal(cfg_get_int(c, "server", "threads"), 4);
  assert_int_equal(cfg_get_int(c, "server", "timeout"), 120);
  assert_int_equal(cfg_get_int(c, "server", "memory_limit"), 65536);
  l = cfg_get_list(c, "server", "cors_origins", &n);
  assert_int_equal(n, 3);
  assert_string_equal(l[0], "https://a.example");
  assert_string_equal(l[1], "https://b.example");
  assert_string_equal(l[2], "https://c.example");
  assert_null(l[3]);
  assert_true(cfg_get_bool(c, "auth", "allow_anonymous"));
  assert_int_equal(cfg_get_int(c, "policy default", "validity"), 86400);
  assert_int_equal(cfg_get_int(c, "policy default", "max_size"), 1073741824);
  assert_int_equal(cfg_get_int(c, "policy default", "task_priority"), -10);
  l = cfg_get_list(c, "policy default", "client_may_set", &n);
  assert_int_equal(n, 2);
  assert_string_equal(l[1], "classId");
  assert_true(cfg_is_set(c, "server", "threads"));
  assert_non_null(strstr(cfg_source(c, "server", "threads"), "ok.ini:5"));
  cfg_unref(c);
}

/* docs/configuration.md's own example: an inline comment on a continuation
 * line is a comment there too (it was kept in the last list item, so the
 * second CORS origin never matched). */
static void continuation_inline_comment(void **state)
{
  struct cfg *c = load_ok("[server]\n"
                          "cors_origins = https://app.example.com,\n"
                          "  https://admin.example.com          ; an indented line continues\n"
                          "  https://x.example;y\t; tab before the comment\n"
                          "[auth]\n"
                          "jwt_audience = a ; one\n",
                          NULL);
  size_t n;
  const char *const *l = cfg_get_list(c, "server", "cors_origins", &n);

  assert_int_equal(n, 3);
  assert_string_equal(l[0], "https://app.example.com");
  assert_string_equal(l[1], "https://admin.example.com");
  assert_string_equal(l[2], "https://x.example;y"); /* no space before ';': a value */
  assert_string_equal(cfg_get_str(c, "auth", "jwt_audience"), "a");
  cfg_unref(c);
}

/* Origins are compared byte for byte with the browser's Origin header: an
 * item that can never match is refused (it was accepted and ignored). */
static void cors_origins_checked(void **state)
{
  struct cfg *c = load_ok("[server]\ncors_origins = *, http://localhost:3000, "
                          "https://app.example.com\n",
                          NULL);
  size_t n;

  cfg_get_list(c, "server", "cors_origins", &n);
  assert_int_equal(n, 3);
  cfg_unref(c);
  load_fails("[server]\ncors_origins = https://a.example,\n  https://b.example/\n", NULL,
             "bad.ini:2: [server] cors_origins: 'https://b.example/' is not an origin", NULL);
  load_fails("[server]\ncors_origins = https://App.example.com\n", NULL,
             "'https://App.example.com'", NULL);
  load_fails("[server]\ncors_origins = app.example.com\n", NULL, "'app.example.com'", NULL);
  load_fails("[server]\ncors_origins = https://\n", NULL, "'https://'", NULL);
  {
    char *env[] = {"VODGATE_SERVER_CORS_ORIGINS=https://a.example/x", NULL};
    load_fails(NULL, env, "env VODGATE_SERVER_CORS_ORIGINS: [server] cors_origins", NULL);
  }
}

static void env_overrides_file(void **state)
{
  char *env[] = {"PATH=/bin",      "VODGATE_SERVER_THREADS=8", "VODGATE_SERVER_LOG_LEVEL=warn",
                 "VODGATE_BIN=/x", "VODGATE_TEST_ROUTES=1",    NULL};
  struct cfg *c = load_ok("[server]\nthreads = 3\nlog_level = debug\nmax_connections = 7\n", env);

  assert_int_equal(cfg_get_int(c, "server", "threads"), 8);
  assert_string_equal(cfg_source(c, "server", "threads"), "env VODGATE_SERVER_THREADS");
  assert_string_equal(cfg_get_str(c, "server", "log_level"), "warn");
  assert_int_equal(cfg_get_int(c, "server", "max_connections"), 7);
  cfg_unref(c);
}

static void env_empty_value_unsets(void **state)
{
  char *env[] = {"VODGATE_SERVER_CORS_ORIGINS=", NULL};
  struct cfg *c = load_ok("[server]\ncors_origins = https://a.example\n", env);
  size_t n;
  cfg_get_list(c, "server", "cors_origins", &n);
  assert_int_equal(n, 0);
  cfg_unref(c);
}

static void policy_env_resolution(void **state)
{
  char *env[] = {
      "VODGATE_POLICY_DEFAULT_UPLOADS_PER_DAY=10", "VODGATE_POLICY_MY_TEAM_SIGNATURES_PER_MINUTE=5",
      "VODGATE_POLICY_PRO_MAX_SIZE=10m", "VODGATE_POLICY_SUB_APP_ID_SUB_APP_ID=99", NULL};
  struct cfg *c = load_ok("[policy default]\nuploads_per_day = 3\nsignatures_per_upload = 6\n"
                          "[policy my-team]\nvalidity = 60\n",
                          env);

  assert_int_equal(cfg_get_int(c, "policy default", "uploads_per_day"), 10);
  /* Env name MY_TEAM matches the file's [policy my-team]. */
  assert_int_equal(cfg_policy_count(c), 4);
  assert_string_equal(cfg_policy_section(c, 1), "policy my-team");
  assert_int_equal(cfg_get_int(c, "policy my-team", "signatures_per_minute"), 5);
  assert_int_equal(cfg_get_int(c, "policy my-team", "validity"), 60);
  /* Inherited from [policy default], including its env override. */
  assert_int_equal(cfg_get_int(c, "policy my-team", "uploads_per_day"), 10);
  assert_int_equal(cfg_get_int(c, "policy my-team", "signatures_per_upload"), 6);
  assert_string_equal(cfg_source(c, "policy my-team", "uploads_per_day"), "[policy default]");
  /* A policy only the environment names is created, lower-cased. */
  assert_string_equal(cfg_policy_find(c, "pro"), "policy pro");
  assert_int_equal(cfg_get_int(c, "policy pro", "max_size"), 10 * 1024 * 1024);
  assert_int_equal(cfg_get_int(c, "policy pro", "validity"), 3600);
  /* The longest key suffix wins: policy "sub_app_id", key sub_app_id. */
  assert_string_equal(cfg_policy_find(c, "sub_app_id"), "policy sub_app_id");
  assert_int_equal(cfg_get_int(c, "policy sub_app_id", "sub_app_id"), 99);
  assert_null(cfg_policy_find(c, "nope"));
  cfg_unref(c);
}

static void secrets(void **state)
{
  const char *sf = write_tmp("secret", "file-secret-value\n");
  char ini[700], *out = NULL;
  size_t len = 0, sl;
  struct cfg *c;
  FILE *f;

  snprintf(ini, sizeof(ini),
           "[vod]\nsecret_id = AKIDexample\nsecret_key_file = %s\n[auth]\n"
           "jwt_hs256_secret_file = %s\n",
           sf, sf);
  c = load_ok(ini, NULL);
  assert_string_equal(cfg_get_secret(c, "vod", "secret_key", &sl), "file-secret-value");
  assert_int_equal(sl, 17);
  f = open_memstream(&out, &len);
  cfg_dump(c, f);
  fclose(f);
  assert_null(strstr(out, "file-secret-value"));
  assert_non_null(strstr(out, "secret_key: <redacted, 17 bytes, from file>"));
  free(out);
  cfg_unref(c);

  {
    char *env[] = {"VODGATE_VOD_SECRET_KEY=env-secret-value", NULL};
    c = load_ok(ini, env);
    assert_string_equal(cfg_get_secret(c, "vod", "secret_key", NULL), "env-secret-value");
    assert_string_equal(cfg_get_secret(c, "auth", "jwt_hs256_secret", NULL), "file-secret-value");
    out = NULL;
    f = open_memstream(&out, &len);
    cfg_dump(c, f);
    fclose(f);
    assert_null(strstr(out, "env-secret-value"));
    assert_non_null(strstr(out, "from env VODGATE_VOD_SECRET_KEY"));
    free(out);
    cfg_unref(c);
  }
}

static void secret_errors(void **state)
{
  char ini[700];
  const char *ef = write_tmp("empty", "\n");

  load_fails("[vod]\nsecret_id = AKID\nsecret_key_file = /nonexistent/key\n", NULL, "bad.ini:3",
             "[vod] secret_key_file", "cannot read secret file '/nonexistent/key'", "No such file",
             NULL);
  snprintf(ini, sizeof(ini), "[webhook]\nsecret_file = %s\n", ef);
  load_fails(ini, NULL, "bad.ini:2", "[webhook] secret_file", "empty", NULL);
  load_fails("[vod]\nsecret_id = AKID\n", NULL, "bad.ini:2", "[vod] secret_id and secret_key_file",
             "VODGATE_VOD_SECRET_KEY", NULL);
  {
    char *env[] = {"VODGATE_VOD_PREVIOUS_SECRET_KEY=abc", NULL};
    load_fails(NULL, env, "env VODGATE_VOD_PREVIOUS_SECRET_KEY",
               "previous_secret_id and previous_secret_key_file", NULL);
  }
  {
    char *env[] = {"VODGATE_AUTH_JWT_HS256_SECRET=", NULL};
    load_fails(NULL, env, "env VODGATE_AUTH_JWT_HS256_SECRET", "secret must be", NULL);
  }
  /* A secret written inline is refused, not silently accepted. */
  load_fails("[vod]\nsecret_key = abc\n", NULL, "bad.ini:2", "[vod] secret_key: unknown key", NULL);
}

static void file_errors(void **state)
{
  load_fails("[serve]\nlisten = :1\n", NULL, "bad.ini:1", "unknown section [serve]", NULL);
  load_fails("[server]\nlisen = :1\n", NULL, "bad.ini:2", "[server] lisen: unknown key", NULL);
  load_fails("threads = 2\n", NULL, "bad.ini:1", "outside of any [section]", NULL);
  load_fails("[server]\nthreads = 2\nthreads = 3\n", NULL, "bad.ini:3",
             "[server] threads: set twice (first at", "bad.ini:2", NULL);
  load_fails("[server]\nthreads = two\n", NULL, "bad.ini:2", "[server] threads",
             "'two' is not an integer", NULL);
  load_fails("[server]\nthreads = 0\n", NULL, "bad.ini:2", "[server] threads",
             "out of range [1, 64]", NULL);
  load_fails("[server]\nthreads =\n", NULL, "bad.ini:2", "[server] threads: empty value", NULL);
  load_fails("[server]\nthreads = 1e3\n", NULL, "[server] threads", "not an integer", NULL);
  load_fails("[auth]\nallow_anonymous = maybe\n", NULL, "bad.ini:2", "[auth] allow_anonymous",
             "not a boolean", NULL);
  load_fails("[server]\nlog_level = verbose\n", NULL, "bad.ini:2", "[server] log_level",
             "not one of: debug, info, warn, error", NULL);
  load_fails("[server]\ntimeout = 5 minutes\n", NULL, "bad.ini:2", "[server] timeout",
             "not a duration", NULL);
  load_fails("[server]\nmemory_limit = 1t\n", NULL, "[server] memory_limit", "not a size", NULL);
  load_fails("[server]\nlisten = 127.0.0.1\n", NULL, "bad.ini:2", "[server] listen",
             "expected host:port", NULL);
  load_fails("[server]\nlisten = 127.0.0.1:70000\n", NULL, "[server] listen", "port", NULL);
  load_fails("[server]\nlisten = ::1:80\n", NULL, "[server] listen", "needs brackets", NULL);
  load_fails("[server]\nlisten = example.com:80\n", NULL, "[server] listen", "IPv4", NULL);
  load_fails("[server]\ncors_origins = a,,b\n", NULL, "[server] cors_origins", "empty list item",
             NULL);
  load_fails("[policy default]\nclient_may_set = procedure, secretId\n", NULL, "bad.ini:2",
             "[policy default] client_may_set", "unknown item 'secretId'", NULL);
  load_fails("[policy default]\nvalidity = 91d\n", NULL, "[policy default] validity",
             "out of range", NULL);
  load_fails("[policy default]\ntask_notify_mode = finish\n", NULL,
             "[policy default] task_notify_mode", "Finish, Change, None", NULL);
  load_fails("[policy bad name!]\nvalidity = 1\n", NULL, "bad.ini:1", "policy name", NULL);
  load_fails("[policy a-b]\n[policy a_b]\n", NULL, "bad.ini:2", "same environment name", NULL);
  load_fails("[server]\n[]\n", NULL, "bad.ini:2", "empty section name", NULL);
  {
    /* An empty [policy NAME] still defines the policy. */
    struct cfg *c = load_ok("[policy free]\n", NULL);
    assert_string_equal(cfg_policy_find(c, "free"), "policy free");
    cfg_unref(c);
  }
  load_fails("[policy x]\nbogus = 1\n", NULL, "bad.ini:2", "[policy x] bogus: unknown key", NULL);
  load_fails("[server]\nthis line has no equals\n", NULL, "bad.ini:2", "syntax error", NULL);
  load_fails("[server]\nthreads = 2\n  3\n", NULL, "bad.ini:3", "[server] threads",
             "only lists may continue", NULL);
  load_fails("[vod]\nsecret_id = a\x01b\n", NULL, "[vod] secret_id", "control character", NULL);
  {
    char big[400];
    memset(big, 'a', sizeof(big));
    memcpy(big, "[server]\ndb = ", 14);
    big[sizeof(big) - 2] = '\n';
    big[sizeof(big) - 1] = '\0';
    load_fails(big, NULL, "bad.ini:2", "line longer than", NULL);
  }
  {
    struct cfg *c = NULL;
    assert_int_equal(cfg_load("/nonexistent/vodgate.ini", NULL, &c, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/vodgate.ini: cannot read"));
  }
}

static void env_errors(void **state)
{
  char *e1[] = {"VODGATE_SERVER_THREADS=abc", NULL};
  char *e2[] = {"VODGATE_SERVER_NOPE=1", NULL};
  char *e3[] = {"VODGATE_SERVR_THREADS=1", NULL};
  char *e4[] = {"VODGATE_POLICY_PRO_NOPE=1", NULL};
  char *e5[] = {"VODGATE_POLICY_UPLOADS_PER_DAY=1", NULL};
  char *e6[] = {"VODGATE_POLICY_DEFAULT_VALIDITY=0", NULL};

  load_fails(NULL, e1, "env VODGATE_SERVER_THREADS", "[server] threads", "not an integer", NULL);
  load_fails(NULL, e2, "env VODGATE_SERVER_NOPE", "[server]: unknown key", NULL);
  load_fails(NULL, e3, "env VODGATE_SERVR_THREADS", "unknown configuration section", NULL);
  load_fails(NULL, e4, "env VODGATE_POLICY_PRO_NOPE", "no known [policy NAME] key", NULL);
  load_fails(NULL, e5, "env VODGATE_POLICY_UPLOADS_PER_DAY", "no known [policy NAME] key", NULL);
  load_fails(NULL, e6, "env VODGATE_POLICY_DEFAULT_VALIDITY", "[policy default] validity",
             "out of range", NULL);
}

static void env_names(void **state)
{
  char b[128];
  assert_string_equal(cfg_env_name("policy default", "uploads_per_day", b, sizeof(b)),
                      "VODGATE_POLICY_DEFAULT_UPLOADS_PER_DAY");
  assert_string_equal(cfg_env_name("policy my-team", "max_size", b, sizeof(b)),
                      "VODGATE_POLICY_MY_TEAM_MAX_SIZE");
  assert_string_equal(cfg_env_name("vod", "secret_key", b, sizeof(b)), "VODGATE_VOD_SECRET_KEY");
}

static void addresses(void **state)
{
  struct sockaddr_storage ss;
  socklen_t sl;
  const char *why;

  assert_int_equal(cfg_parse_addr("127.0.0.1:8080", &ss, &sl, &why), 0);
  assert_int_equal(ss.ss_family, AF_INET);
  assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 8080);
  assert_int_equal(cfg_parse_addr(":0", &ss, &sl, &why), 0);
  assert_int_equal(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr), 0x7f000001);
  assert_int_equal(cfg_parse_addr("0.0.0.0:1", &ss, &sl, &why), 0);
  assert_int_equal(cfg_parse_addr("[::1]:443", &ss, &sl, &why), 0);
  assert_int_equal(ss.ss_family, AF_INET6);
  assert_int_equal(sl, sizeof(struct sockaddr_in6));
  assert_int_equal(cfg_parse_addr("localhost:9", &ss, &sl, &why), 0);
  assert_int_equal(cfg_parse_addr("[::1]", &ss, &sl, &why), -1);
  assert_int_equal(cfg_parse_addr("1.2.3.4:", &ss, &sl, &why), -1);
  assert_int_equal(cfg_parse_addr("1.2.3.4:+80", &ss, &sl, &why), -1);
  assert_int_equal(cfg_parse_addr("8080", &ss, &sl, &why), -1);
}

static void refcount_and_schema(void **state)
{
  struct cfg *c = load_ok(NULL, NULL);
  size_t n;
  const struct cfg_key_info *s = cfg_schema(&n);
  char *out = NULL;
  size_t len = 0;
  FILE *f;

  assert_ptr_equal(cfg_ref(c), c);
  cfg_unref(c);
  assert_int_equal(cfg_get_int(c, "server", "threads"), 2); /* still alive */
  cfg_unref(c);
  /* Every default in the schema is valid for its own key. */
  for (size_t i = 0; i < n; i++)
    assert_non_null(s[i].doc);
  f = open_memstream(&out, &len);
  cfg_schema_markdown(f);
  fclose(f);
  assert_non_null(strstr(out, "| policy NAME | `uploads_per_day` | "
                              "`VODGATE_POLICY_<NAME>_UPLOADS_PER_DAY` |"));
  assert_non_null(strstr(out, "value: `VODGATE_VOD_SECRET_KEY`"));
  free(out);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(defaults),
      cmocka_unit_test(file_values),
      cmocka_unit_test(continuation_inline_comment),
      cmocka_unit_test(cors_origins_checked),
      cmocka_unit_test(env_overrides_file),
      cmocka_unit_test(env_empty_value_unsets),
      cmocka_unit_test(policy_env_resolution),
      cmocka_unit_test(secrets),
      cmocka_unit_test(secret_errors),
      cmocka_unit_test(file_errors),
      cmocka_unit_test(env_errors),
      cmocka_unit_test(env_names),
      cmocka_unit_test(addresses),
      cmocka_unit_test(refcount_and_schema),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
