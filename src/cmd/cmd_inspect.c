/*
 * cmd_inspect.c: `vodgate inspect`, decode, lint and verify a signature.
 *
 * With a key (--secret-key-file, VODGATE_VOD_SECRET_KEY, or with --config
 * the configured pair whose SecretId the signature names: [vod] secret_id
 * or previous_secret_id) it runs the full sig_verify(); without one it runs every check that needs
 * no key (sig_check()) and says the MAC was not checked. Lints never change the exit status: they
 * explain, the checks decide.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cfg/cfg.h"
#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/io.h"
#include "core/util.h"
#include "sig/sig.h"

static void inspect_usage(FILE *f)
{
  fprintf(f, "usage: vodgate inspect [--secret-key-file FILE | -c FILE] [--now T] [--json] "
             "SIGNATURE|-\n"
             "\n"
             "Decodes a VOD upload signature ('-' reads it from stdin), prints every\n"
             "parameter and warnings (float timestamps, validity over 90 days, expired,\n"
             "over-long contexts, unknown keys, irregular encoding), and verifies the\n"
             "HMAC-SHA1 when a SecretKey is available ($VODGATE_VOD_SECRET_KEY or\n"
             "--secret-key-file). Without a key every other check still runs.\n"
             "\n"
             "  --secret-key-file FILE  read the SecretKey from FILE\n"
             "  -c, --config FILE       use the key pair of FILE whose SecretId the signature\n"
             "                          names: [vod] secret_id or previous_secret_id (a\n"
             "                          signature made before a key rotation)\n"
             "  --now T                 judge expiry at Unix time T (default: the clock)\n"
             "  --json                  print {\"valid\",\"reason\",\"params\",\"warnings\",...}\n"
             "  -h, --help              this text\n"
             "\n"
             "Exit status: 0 valid (well-formed and unexpired when no key is given),\n"
             "1 invalid, 2 bad usage.\n");
}

enum { O_KEY_FILE = 256, O_SECRET_KEY, O_NOW, O_JSON };

static const struct option inspect_options[] = {
    {"secret-key-file", required_argument, NULL, O_KEY_FILE},
    {"config", required_argument, NULL, 'c'},
    {"secret-key", optional_argument, NULL, O_SECRET_KEY},
    {"key", optional_argument, NULL, O_SECRET_KEY},
    {"now", required_argument, NULL, O_NOW},
    {"json", no_argument, NULL, O_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Text output: values are untrusted, so control bytes are escaped rather
 * than sent to the terminal. */
static void put_escaped(FILE *f, const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f || c == '\\')
      fprintf(f, c == '\\' ? "\\\\" : "\\x%02x", c);
    else
      fputc(c, f);
  }
}

static const char *verdict_detail(const struct sig_parsed *s, enum sig_error e)
{
  if (e == s->error && s->error_detail[0])
    return s->error_detail;
  if (e == s->param_error && s->param_detail[0])
    return s->param_detail;
  return sig_error_str(e);
}

static void print_text(const struct sig_parsed *s, enum sig_error e, bool have_key)
{
  if (e == SIG_OK)
    printf("status:   %s\n",
           have_key ? "valid (MAC verified)" : "well-formed (MAC not checked: no SecretKey given)");
  else
    printf("status:   invalid: %s: %s\n", sig_error_reason(e), verdict_detail(s, e));
  if (s->raw_len > SIG_MAC_LEN) {
    char hex[2 * SIG_MAC_LEN + 1];
    hex_encode(s->raw, SIG_MAC_LEN, hex);
    printf("mac:      %s\n", hex);
    printf("original: ");
    put_escaped(stdout, s->original, s->original_len);
    printf("\n");
  }
  if (s->query.n) {
    printf("params:\n");
    for (size_t i = 0; i < s->query.n; i++) {
      const struct query_pair *pr = &s->query.pairs[i];
      printf("  %-17s = ", pr->key);
      put_escaped(stdout, pr->val, pr->val_len);
      if (strcmp(pr->key, "currentTimeStamp") == 0 || strcmp(pr->key, "expireTime") == 0) {
        int64_t t = pr->key[0] == 'e' ? s->params.expire_time : s->params.current_time;
        time_t tt = (time_t)t;
        struct tm tm;
        char when[32];
        if (t > 0 && gmtime_r(&tt, &tm) && strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
          printf("  (%s)", when);
      }
      printf("\n");
    }
  }
  if (s->n_lints) {
    printf("warnings:\n");
    for (size_t i = 0; i < s->n_lints; i++)
      printf("  %s: %s\n", s->lints[i].code, s->lints[i].msg);
  }
}

static int print_json(const struct sig_parsed *s, enum sig_error e, bool have_key)
{
  json_t *o = json_object(), *params = json_object(), *warnings = json_array();
  char *text;

  json_object_set_new(o, "valid", json_boolean(e == SIG_OK));
  json_object_set_new(o, "reason", e ? json_string(sig_error_reason(e)) : json_null());
  json_object_set_new(o, "message", e ? json_string(verdict_detail(s, e)) : json_null());
  json_object_set_new(o, "mac_checked", json_boolean(have_key));
  if (s->raw_len > SIG_MAC_LEN) {
    char hex[2 * SIG_MAC_LEN + 1];
    json_t *orig = json_stringn(s->original, s->original_len);
    hex_encode(s->raw, SIG_MAC_LEN, hex);
    json_object_set_new(o, "mac", json_string(hex));
    /* null when the bytes are not UTF-8 (then reason says so) */
    json_object_set_new(o, "original", orig ? orig : json_null());
  } else {
    json_object_set_new(o, "mac", json_null());
    json_object_set_new(o, "original", json_null());
  }
  for (size_t i = 0; i < s->query.n; i++) {
    const struct query_pair *pr = &s->query.pairs[i];
    json_object_setn_new(params, pr->key, pr->key_len, json_stringn(pr->val, pr->val_len));
  }
  json_object_set_new(o, "params", params);
  for (size_t i = 0; i < s->n_lints; i++)
    json_array_append_new(
        warnings, json_pack("{s:s, s:s}", "code", s->lints[i].code, "message", s->lints[i].msg));
  json_object_set_new(o, "warnings", warnings);
  text = json_dumps(o, JSON_PRESERVE_ORDER);
  json_decref(o);
  if (!text)
    return -1;
  printf("%s\n", text);
  free(text);
  return 0;
}

/* The key of the configured pair whose SecretId s names, into *key
 * (malloc'd): [vod] secret_id, else previous_secret_id. A signature without
 * a SecretId gets no key (the checks say why); one naming neither pair is
 * refused here, false, said on stderr (never a key). */
static bool config_key(const struct cfg *c, const char *path, const struct sig_parsed *s,
                       char **key)
{
  static const char *const ids[] = {"secret_id", "previous_secret_id"};
  static const char *const keys[] = {"secret_key", "previous_secret_key"};
  const struct sig_str *sid = &s->params.secret_id;

  *key = NULL;
  if (!sid->ptr || sid->len == 0)
    return true;
  for (size_t i = 0; i < 2; i++) {
    const char *id = cfg_get_str(c, "vod", ids[i]);
    size_t klen = 0;
    const char *k = cfg_get_secret(c, "vod", keys[i], &klen);
    if (id && strlen(id) == sid->len && memcmp(id, sid->ptr, sid->len) == 0) {
      if (!k || klen == 0) {
        fprintf(stderr,
                "vodgate inspect: %s: [vod] %s names this signature's SecretId but "
                "its key is not set\n",
                path, ids[i]);
        return false;
      }
      *key = xmalloc(klen + 1);
      memcpy(*key, k, klen);
      (*key)[klen] = '\0';
      return true;
    }
  }
  {
    bool printable = sid->len <= 128;
    for (size_t i = 0; i < sid->len && printable; i++)
      printable = sid->ptr[i] > 0x20 && sid->ptr[i] < 0x7f;
    fprintf(stderr,
            "vodgate inspect: %s holds no key for SecretId %.*s (neither [vod] secret_id nor "
            "previous_secret_id)\n",
            path, printable ? (int)sid->len : 17, printable ? sid->ptr : "(not printable)");
  }
  return false;
}

int cmd_inspect(int argc, char **argv)
{
  struct sig_parsed *s;
  struct buf in;
  const char *key_file = NULL, *cfg_path = NULL, *env_key, *text;
  struct cfg *cfg = NULL;
  char *key = NULL;
  size_t text_len;
  int64_t now = (int64_t)time(NULL);
  bool json = false, have_key;
  enum sig_error e;
  int c, rc;

  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, "+hc:", inspect_options, NULL)) != -1) {
    switch (c) {
    case 'h': inspect_usage(stdout); return 0;
    case O_KEY_FILE: key_file = optarg; break;
    case 'c': cfg_path = optarg; break;
    case O_SECRET_KEY:
      fprintf(stderr, "vodgate inspect: the SecretKey is never accepted on the command line "
                      "(other users can read argv); set VODGATE_VOD_SECRET_KEY or use "
                      "--secret-key-file FILE\n");
      return EXIT_USAGE;
    case O_NOW:
      if (parse_i64z(optarg, &now) || now < 0) {
        fprintf(stderr, "vodgate inspect: --now must be integer Unix seconds\n");
        return EXIT_USAGE;
      }
      break;
    case O_JSON: json = true; break;
    default: {
      size_t n = strcspn(argv[optind - 1], "=");
      fprintf(stderr,
              "vodgate inspect: unknown, ambiguous or incomplete option '%.*s'; see "
              "--help\n",
              (int)(n > 60 ? 60 : n), argv[optind - 1]);
      return EXIT_USAGE;
    }
    }
  }
  if (argc - optind != 1) {
    fprintf(stderr, "vodgate inspect: give exactly one SIGNATURE (or '-' to read stdin); see "
                    "--help\n");
    return EXIT_USAGE;
  }

  if (key_file && cfg_path) {
    fprintf(stderr, "vodgate inspect: give --secret-key-file or --config, not both\n");
    return EXIT_USAGE;
  }
  if (cfg_path) {
    char err[CFG_ERR_MAX];
    if (cfg_load(cfg_path, environ, &cfg, err, sizeof(err))) {
      fprintf(stderr, "vodgate inspect: configuration: %s\n", err);
      return EXIT_USAGE;
    }
  }
  env_key = getenv("VODGATE_VOD_SECRET_KEY");
  if (cfg) {
    /* chosen once the signature's SecretId is known */
  } else if (key_file) {
    key = read_secret_file(key_file);
    if (!key) {
      fprintf(stderr, "vodgate inspect: --secret-key-file %s: cannot read a non-empty key: %s\n",
              key_file, strerror(errno));
      return EXIT_USAGE;
    }
  } else if (env_key && *env_key) {
    key = xstrdup(env_key);
  }

  /* Room for a maximal signature plus line breaks; more is too_long. */
  buf_init(&in, SIG_MAX_ENCODED + SIG_MAX_ENCODED / 64 + 8);
  if (strcmp(argv[optind], "-") == 0) {
    int r = read_file("/dev/stdin", &in);
    bool too_long = r == VG_TOOBIG;
    if (r && !too_long) {
      fprintf(stderr, "vodgate inspect: cannot read stdin: %s\n", strerror(errno));
      buf_release(&in);
      if (key) {
        secure_zero(key, strlen(key));
        free(key);
      }
      return 1;
    }
    /* The newline that echo and editors add is not part of it. */
    while (in.len > 0 && (in.ptr[in.len - 1] == '\n' || in.ptr[in.len - 1] == '\r'))
      in.len--;
    text = in.ptr;
    text_len = in.len;
    /* More than the buffer holds: sig_parse() rejects any length over
     * SIG_MAX_ENCODED before reading a byte, so this reports too_long like
     * an over-long argument. (in.len is what was read, maybe less than the
     * length given here: nothing past it is read.) */
    if (too_long)
      text_len = SIG_MAX_ENCODED + 1;
  } else {
    text = argv[optind];
    text_len = strlen(text);
  }

  s = xmalloc(sizeof(*s));
  sig_parse(s, text, text_len, now);
  if (cfg && !config_key(cfg, cfg_path, s, &key)) {
    cfg_unref(cfg);
    free(s);
    buf_release(&in);
    return 1;
  }
  cfg_unref(cfg);
  have_key = key != NULL;
  if (key) {
    e = sig_verify(s, key, strlen(key), now);
    secure_zero(key, strlen(key));
    free(key);
  } else {
    e = sig_check(s, now);
  }
  if (json)
    rc = print_json(s, e, have_key);
  else
    rc = (print_text(s, e, have_key), 0);
  free(s);
  buf_release(&in);
  if (rc || fflush(stdout) != 0) {
    fprintf(stderr, "vodgate inspect: cannot write the report\n");
    return 1;
  }
  return e == SIG_OK ? 0 : 1;
}
