/*
 * cmd_token.c: `vodgate token add|list|revoke`: static API tokens for
 * server-to-server callers. Only the SHA-256 of a token is stored; the token
 * itself is printed once, by `add`, and cannot be shown again.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/apitoken.h"
#include "cfg/cfg.h"
#include "cmd/cmd.h"
#include "core/util.h"
#include "store/store.h"

extern char **environ;

static void token_usage(FILE *f)
{
  fprintf(f, "usage: vodgate token add --user USER [--policy NAME] [--label TEXT] [DB]\n"
             "       vodgate token list [--json] [DB]\n"
             "       vodgate token revoke ID [DB]\n\n"
             "Manage static API tokens for server-to-server callers. A caller sends\n"
             "'Authorization: Bearer vg_...' and acts as USER under policy NAME\n"
             "(default: the [policy default] section); NAME must be a [policy NAME]\n"
             "section of the configuration (not checked with only --db).\n\n"
             "DB is chosen by:\n"
             "  -c, --config FILE   the [server] db of this configuration (default:\n"
             "                      $VODGATE_CONFIG, else defaults and VODGATE_* variables)\n"
             "  -d, --db URL        a database directly (SQLite path or postgresql://...)\n\n"
             "'add' prints the token once on stdout; only its SHA-256 is stored.\n");
}

static bool valid_name(const char *s, size_t max)
{
  size_t n = strlen(s);
  if (n == 0 || n > max || !utf8_valid(s, n))
    return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
      return false;
  return true;
}

/* A token bound to a policy the configuration lacks would be refused at
 * every use (403 4030): check the name against the configuration the server
 * reads. With only --db there may be none: said, not refused. True when
 * missing (said on stderr). */
static bool policy_missing(const char *cfg_path, bool db_only, const char *policy)
{
  struct cfg *c = NULL;
  char err[CFG_ERR_MAX];
  bool missing;

  if (strcmp(policy, "default") == 0)
    return false;
  if (db_only && !cfg_path) {
    fprintf(stderr, "vodgate token add: policy '%s' not checked (no configuration: -c FILE)\n",
            policy);
    return false;
  }
  if (cfg_load(cfg_path, environ, &c, err, sizeof(err))) {
    fprintf(stderr, "vodgate token: configuration: %s\n", err);
    return true;
  }
  missing = cfg_policy_find(c, policy) == NULL;
  if (missing)
    fprintf(stderr,
            "vodgate token add: %s has no [policy %s]; a token bound to it would be refused "
            "(403 4030) at every use\n",
            cfg_path ? cfg_path : "the configuration", policy);
  cfg_unref(c);
  return missing;
}

static int token_add(struct store *s, const char *user, const char *policy, const char *label)
{
  char tok[APITOKEN_LEN + 1];
  struct store_token t;
  int rc;

  for (int attempt = 0; attempt < 3; attempt++) {
    memset(&t, 0, sizeof(t));
    apitoken_generate(tok);
    if (apitoken_hash(tok, strlen(tok), t.hash_hex))
      return 1;
    memcpy(t.id, t.hash_hex, APITOKEN_ID_LEN);
    t.id[APITOKEN_ID_LEN] = '\0';
    snprintf(t.user_id, sizeof(t.user_id), "%s", user);
    snprintf(t.policy, sizeof(t.policy), "%s", policy ? policy : "default");
    snprintf(t.label, sizeof(t.label), "%s", label ? label : "");
    t.created_at = (int64_t)time(NULL);
    rc = store_token_add(s, &t);
    if (rc == VG_CONFLICT)
      continue; /* an id (hash prefix) already taken: draw again */
    if (rc) {
      secure_zero(tok, sizeof(tok));
      fprintf(stderr, "vodgate token: cannot store the token (%s)\n", vg_strerror(rc));
      return 1;
    }
    printf("%s\n", tok);
    fflush(stdout);
    secure_zero(tok, sizeof(tok));
    fprintf(stderr, "token %s added for user '%s' (policy %s); it is shown only this once\n", t.id,
            user, policy ? policy : "default");
    return 0;
  }
  return 1;
}

static int list_cb(const struct store_token *t, void *arg)
{
  json_t *arr = arg;
  if (arr) {
    json_array_append_new(arr,
                          json_pack("{s:s,s:s,s:s,s:s,s:I,s:o}", "id", t->id, "user", t->user_id,
                                    "policy", t->policy[0] ? t->policy : "default", "label",
                                    t->label, "createdAt", (json_int_t)t->created_at, "revokedAt",
                                    t->revoked_at ? json_integer(t->revoked_at) : json_null()));
  } else {
    printf("%-10s %-24s %-12s %-8s %s\n", t->id, t->user_id, t->policy[0] ? t->policy : "default",
           t->revoked_at ? "revoked" : "active", t->label);
  }
  return 0;
}

int cmd_token(int argc, char **argv)
{
  static const struct option opts[] = {
      {"config", required_argument, NULL, 'c'}, {"db", required_argument, NULL, 'd'},
      {"user", required_argument, NULL, 'u'},   {"policy", required_argument, NULL, 'p'},
      {"label", required_argument, NULL, 'L'},  {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
  const char *cfg_path = getenv("VODGATE_CONFIG"), *db = NULL, *user = NULL, *policy = NULL,
             *label = NULL, *verb;
  bool json = false;
  struct store *s = NULL;
  int c, rc;

  optind = 1;
  while ((c = getopt_long(argc, argv, "c:d:u:p:L:jh", opts, NULL)) != -1) {
    switch (c) {
    case 'c': cfg_path = optarg; break;
    case 'd': db = optarg; break;
    case 'u': user = optarg; break;
    case 'p': policy = optarg; break;
    case 'L': label = optarg; break;
    case 'j': json = true; break;
    case 'h': token_usage(stdout); return 0;
    default: token_usage(stderr); return EXIT_USAGE;
    }
  }
  if (optind >= argc) {
    token_usage(stderr);
    return EXIT_USAGE;
  }
  verb = argv[optind++];
  if (strcmp(verb, "add") == 0) {
    if (optind != argc || !user) {
      fprintf(stderr, "vodgate token add: --user USER is required\n");
      return EXIT_USAGE;
    }
    if (strcmp(user, "anonymous") == 0) {
      fprintf(stderr, "vodgate token add: user 'anonymous' is reserved for requests without "
                      "credentials ([auth] allow_anonymous)\n");
      return EXIT_USAGE;
    }
    if (!valid_name(user, STORE_MAX_USER) || (policy && !valid_name(policy, STORE_MAX_POLICY)) ||
        (label && strlen(label) > STORE_MAX_LABEL)) {
      fprintf(stderr, "vodgate token add: --user, --policy or --label is empty, too long or not "
                      "printable UTF-8\n");
      return EXIT_USAGE;
    }
    if (policy && policy_missing(cfg_path, db != NULL, policy))
      return 1;
    if (cmd_open_store("vodgate token", cfg_path, db, &s))
      return 1;
    rc = token_add(s, user, policy, label);
  } else if (strcmp(verb, "list") == 0) {
    json_t *arr = json ? json_array() : NULL;
    if (optind != argc) {
      token_usage(stderr);
      return EXIT_USAGE;
    }
    if (cmd_open_store("vodgate token", cfg_path, db, &s)) {
      json_decref(arr);
      return 1;
    }
    if (!json)
      printf("%-10s %-24s %-12s %-8s %s\n", "ID", "USER", "POLICY", "STATE", "LABEL");
    rc = store_token_list(s, list_cb, arr) ? 1 : 0;
    if (arr) {
      char *out = json_dumps(arr, JSON_INDENT(2));
      printf("%s\n", out);
      free(out);
      json_decref(arr);
    }
  } else if (strcmp(verb, "revoke") == 0) {
    const char *id;
    if (optind + 1 != argc) {
      fprintf(stderr, "vodgate token revoke: give the token's ID (see 'vodgate token list')\n");
      return EXIT_USAGE;
    }
    id = argv[optind];
    if (cmd_open_store("vodgate token", cfg_path, db, &s))
      return 1;
    rc = store_token_revoke(s, id, (int64_t)time(NULL));
    if (rc == VG_NOTFOUND)
      fprintf(stderr, "vodgate token revoke: no token %s\n", id);
    else if (rc == VG_CONFLICT)
      fprintf(stderr, "vodgate token revoke: token %s was already revoked\n", id);
    else if (rc)
      fprintf(stderr, "vodgate token revoke: %s\n", vg_strerror(rc));
    else
      fprintf(stderr, "token %s revoked\n", id);
    rc = rc ? 1 : 0;
  } else {
    fprintf(stderr, "vodgate token: unknown action '%s' (add, list, revoke)\n", verb);
    return EXIT_USAGE;
  }
  store_close(s);
  return rc;
}
