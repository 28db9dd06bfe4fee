/*
 * cmd_sign.c: `vodgate sign`, one VOD upload signature from flags.
 *
 * The SecretKey is read from VODGATE_VOD_SECRET_KEY or --secret-key-file
 * only: argv is visible to every user of the machine (ps, /proc), so a
 * --secret-key flag exists solely to refuse it with an explanation.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cmd.h"
#include "core/io.h"
#include "core/util.h"
#include "sig/sig.h"

#define DEFAULT_VALIDITY 3600 /* within the 600..7200 s spec 1.5 recommends */

static void sign_usage(FILE *f)
{
  fprintf(f,
          "usage: vodgate sign [options]\n"
          "\n"
          "Creates a Tencent Cloud VOD upload signature and prints it.\n"
          "The SecretKey comes from $VODGATE_VOD_SECRET_KEY or --secret-key-file, never\n"
          "from the command line.\n"
          "\n"
          "  --secret-id ID            secretId (default $VODGATE_VOD_SECRET_ID)\n"
          "  --secret-key-file FILE    read the SecretKey from FILE\n"
          "  --validity SECONDS        expireTime = now + SECONDS (default %d, max 7776000)\n"
          "  --expire-time T           expireTime as Unix seconds (instead of --validity)\n"
          "  --now T                   currentTimeStamp (default: the clock)\n"
          "  --random N                random, 0..4294967295 (default: from the CSPRNG)\n"
          "  --procedure NAME          task flow to run after upload\n"
          "  --class-id N              media category id\n"
          "  --task-priority N         -10..10\n"
          "  --task-notify-mode MODE   Finish, Change or None\n"
          "  --source-context S        at most 250 characters, returned in NewFileUpload\n"
          "  --session-context S       at most 1000 characters, returned in\n"
          "                            ProcedureStateChanged\n"
          "  --one-time                oneTimeValid=1: the signature works once\n"
          "  --sub-app-id N            vodSubAppId\n"
          "  --storage-region R        e.g. ap-chongqing\n"
          "  --json                    print {\"signature\",\"original\",\"expireTime\"}\n"
          "  -h, --help                this text\n"
          "\n"
          "Exit status: 0 printed, 1 the key file could not be read, 2 bad usage\n"
          "(each message names the flag and the rule it breaks).\n",
          DEFAULT_VALIDITY);
}

enum {
  O_SECRET_ID = 256,
  O_KEY_FILE,
  O_SECRET_KEY,
  O_VALIDITY,
  O_EXPIRE,
  O_NOW,
  O_RANDOM,
  O_PROCEDURE,
  O_CLASS_ID,
  O_PRIORITY,
  O_NOTIFY,
  O_SOURCE,
  O_SESSION,
  O_ONE_TIME,
  O_SUB_APP,
  O_REGION,
  O_JSON,
};

static const struct option sign_options[] = {
    {"secret-id", required_argument, NULL, O_SECRET_ID},
    {"secret-key-file", required_argument, NULL, O_KEY_FILE},
    /* Exact names so that getopt's prefix matching can never map a secret
     * given on the command line to --secret-key-file. */
    {"secret-key", optional_argument, NULL, O_SECRET_KEY},
    {"key", optional_argument, NULL, O_SECRET_KEY},
    {"validity", required_argument, NULL, O_VALIDITY},
    {"expire-time", required_argument, NULL, O_EXPIRE},
    {"now", required_argument, NULL, O_NOW},
    {"random", required_argument, NULL, O_RANDOM},
    {"procedure", required_argument, NULL, O_PROCEDURE},
    {"class-id", required_argument, NULL, O_CLASS_ID},
    {"task-priority", required_argument, NULL, O_PRIORITY},
    {"task-notify-mode", required_argument, NULL, O_NOTIFY},
    {"source-context", required_argument, NULL, O_SOURCE},
    {"session-context", required_argument, NULL, O_SESSION},
    {"one-time", no_argument, NULL, O_ONE_TIME},
    {"sub-app-id", required_argument, NULL, O_SUB_APP},
    {"storage-region", required_argument, NULL, O_REGION},
    {"json", no_argument, NULL, O_JSON},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static int bad_number(const char *flag, const char *what)
{
  fprintf(stderr, "vodgate sign: %s must be %s\n", flag, what);
  return EXIT_USAGE;
}

/* The flag a validation error is about, for messages. */
static const char *flag_of(enum sig_error e)
{
  switch (e) {
  case SIG_ERR_MISSING_PARAM:
  case SIG_ERR_BAD_SECRET_ID: return "--secret-id";
  case SIG_ERR_BAD_TIMESTAMP: return "--now/--expire-time";
  case SIG_ERR_EXPIRE_NOT_AFTER_START:
  case SIG_ERR_VALIDITY_TOO_LONG: return "--validity/--expire-time";
  case SIG_ERR_BAD_RANDOM: return "--random";
  case SIG_ERR_BAD_CLASS_ID: return "--class-id";
  case SIG_ERR_BAD_PROCEDURE: return "--procedure";
  case SIG_ERR_BAD_TASK_PRIORITY: return "--task-priority";
  case SIG_ERR_BAD_TASK_NOTIFY_MODE: return "--task-notify-mode";
  case SIG_ERR_SOURCE_CONTEXT_TOO_LONG: return "--source-context";
  case SIG_ERR_SESSION_CONTEXT_TOO_LONG: return "--session-context";
  case SIG_ERR_BAD_UTF8: return "--source-context/--session-context";
  case SIG_ERR_BAD_SUB_APP_ID: return "--sub-app-id";
  case SIG_ERR_BAD_STORAGE_REGION: return "--storage-region";
  default: return "parameters";
  }
}

/* Print an option name without any "=value" part: the value may be a
 * secret someone typed where it does not belong. */
static void print_bad_option(const char *arg)
{
  size_t n = strcspn(arg, "=");
  fprintf(stderr, "vodgate sign: unknown, ambiguous or incomplete option '%.*s'; see --help\n",
          (int)(n > 60 ? 60 : n), arg);
}

int cmd_sign(int argc, char **argv)
{
  struct sig_params p;
  struct sig_result r;
  const char *key_file = NULL, *env_key;
  char *key = NULL;
  int64_t now = (int64_t)time(NULL), validity = DEFAULT_VALIDITY, expire = 0, v;
  uint64_t u;
  bool has_validity = false, has_expire = false, json = false;
  enum sig_error e;
  int c, rc = 0;

  sig_params_init(&p);
  p.secret_id = sig_str_of(getenv("VODGATE_VOD_SECRET_ID"));
  opterr = 0;
  optind = 1;
  while ((c = getopt_long(argc, argv, "+h", sign_options, NULL)) != -1) {
    switch (c) {
    case 'h': sign_usage(stdout); return 0;
    case O_SECRET_ID: p.secret_id = sig_str_of(optarg); break;
    case O_KEY_FILE: key_file = optarg; break;
    case O_SECRET_KEY:
      fprintf(stderr, "vodgate sign: the SecretKey is never accepted on the command line "
                      "(other users can read argv); set VODGATE_VOD_SECRET_KEY or use "
                      "--secret-key-file FILE\n");
      return EXIT_USAGE;
    case O_VALIDITY:
      if (parse_i64z(optarg, &validity) || validity <= 0)
        return bad_number("--validity", "a positive integer number of seconds (at most "
                                        "7776000)");
      has_validity = true;
      break;
    case O_EXPIRE:
      if (parse_i64z(optarg, &expire) || expire < 0)
        return bad_number("--expire-time", "integer Unix seconds");
      has_expire = true;
      break;
    case O_NOW:
      if (parse_i64z(optarg, &now) || now < 0)
        return bad_number("--now", "integer Unix seconds (no decimal point: VOD rejects it)");
      break;
    case O_RANDOM:
      if (parse_u64z(optarg, &u) || u > UINT32_MAX)
        return bad_number("--random", "an integer in 0..4294967295");
      p.random = u;
      p.has |= SIG_HAS_RANDOM;
      break;
    case O_PROCEDURE: p.procedure = sig_str_of(optarg); break;
    case O_CLASS_ID:
      if (parse_u64z(optarg, &u) || u > INT64_MAX)
        return bad_number("--class-id", "a non-negative integer");
      p.class_id = u;
      p.has |= SIG_HAS_CLASS_ID;
      break;
    case O_PRIORITY:
      if (parse_i64z(optarg, &v) || v < -10 || v > 10)
        return bad_number("--task-priority", "an integer in -10..10");
      p.task_priority = v;
      p.has |= SIG_HAS_TASK_PRIORITY;
      break;
    case O_NOTIFY:
      if (strcmp(optarg, "Finish") == 0)
        p.task_notify_mode = SIG_NOTIFY_FINISH;
      else if (strcmp(optarg, "Change") == 0)
        p.task_notify_mode = SIG_NOTIFY_CHANGE;
      else if (strcmp(optarg, "None") == 0)
        p.task_notify_mode = SIG_NOTIFY_NONE;
      else
        return bad_number("--task-notify-mode", "Finish, Change or None (case matters)");
      break;
    case O_SOURCE: p.source_context = sig_str_of(optarg); break;
    case O_SESSION: p.session_context = sig_str_of(optarg); break;
    case O_ONE_TIME:
      p.one_time_valid = 1;
      p.has |= SIG_HAS_ONE_TIME_VALID;
      break;
    case O_SUB_APP:
      if (parse_u64z(optarg, &u) || u > INT64_MAX)
        return bad_number("--sub-app-id", "a non-negative integer");
      p.vod_sub_app_id = u;
      p.has |= SIG_HAS_SUB_APP_ID;
      break;
    case O_REGION: p.storage_region = sig_str_of(optarg); break;
    case O_JSON: json = true; break;
    default: print_bad_option(argv[optind - 1]); return EXIT_USAGE;
    }
  }
  if (optind < argc) {
    /* Not echoed: a stray argument may be a pasted secret. */
    fprintf(stderr,
            "vodgate sign: unexpected argument #%d; every value goes with a flag "
            "(see --help)\n",
            optind);
    return EXIT_USAGE;
  }
  if (has_validity && has_expire) {
    fprintf(stderr, "vodgate sign: give --validity or --expire-time, not both\n");
    return EXIT_USAGE;
  }
  if (!p.secret_id.ptr || p.secret_id.len == 0) {
    fprintf(stderr, "vodgate sign: --secret-id (or VODGATE_VOD_SECRET_ID) is required\n");
    return EXIT_USAGE;
  }
  p.current_time = now;
  if (has_expire) {
    p.expire_time = expire;
  } else {
    if (validity > SIG_MAX_VALIDITY) {
      fprintf(stderr,
              "vodgate sign: --validity %lld exceeds the 90-day maximum of 7776000 seconds\n",
              (long long)validity);
      return EXIT_USAGE;
    }
    p.expire_time = now + validity;
  }
  e = sig_validate(&p);
  if (e) {
    fprintf(stderr, "vodgate sign: %s: %s (%s)\n", flag_of(e), sig_error_str(e),
            sig_error_reason(e));
    return EXIT_USAGE;
  }

  env_key = getenv("VODGATE_VOD_SECRET_KEY");
  if (key_file) {
    key = read_secret_file(key_file);
    if (!key) {
      fprintf(stderr, "vodgate sign: --secret-key-file %s: cannot read a non-empty key: %s\n",
              key_file, strerror(errno));
      return 1;
    }
  } else if (env_key && *env_key) {
    key = xstrdup(env_key);
  } else {
    fprintf(stderr, "vodgate sign: no SecretKey: set VODGATE_VOD_SECRET_KEY or pass "
                    "--secret-key-file FILE\n");
    return EXIT_USAGE;
  }

  sig_result_init(&r);
  e = sig_emit(&p, key, strlen(key), &r);
  secure_zero(key, strlen(key));
  free(key);
  if (e) {
    fprintf(stderr, "vodgate sign: %s: %s (%s)\n", flag_of(e), sig_error_str(e),
            sig_error_reason(e));
    rc = EXIT_USAGE;
  } else if (json) {
    json_t *o = json_pack("{s:s, s:s, s:I}", "signature", r.signature.ptr, "original",
                          r.original.ptr, "expireTime", (json_int_t)r.expire_time);
    char *text = o ? json_dumps(o, JSON_PRESERVE_ORDER) : NULL;
    if (!text) {
      fprintf(stderr, "vodgate sign: cannot format JSON\n");
      rc = 1;
    } else {
      printf("%s\n", text);
    }
    free(text);
    json_decref(o);
  } else {
    printf("%s\n", r.signature.ptr);
  }
  sig_result_release(&r);
  if (fflush(stdout) != 0)
    rc = 1;
  return rc;
}
