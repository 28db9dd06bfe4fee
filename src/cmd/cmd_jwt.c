/*
 * cmd_jwt.c: `vodgate jwt --sub USER`: mint an HS256 development token.
 *
 * The secret comes from VODGATE_AUTH_JWT_HS256_SECRET or --secret-file,
 * never from argv (visible in ps and shell history). The token is checked
 * with the same verifier the server uses before it is printed, so a token
 * this command prints is one the server (with the same secret, issuer and
 * audience) accepts.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/jwt.h"
#include "cmd/cmd.h"
#include "core/io.h"
#include "core/limits.h"
#include "core/util.h"

#define JWT_CMD_DEFAULT_TTL 3600
#define JWT_CMD_MAX_TTL     (30 * 86400) /* a development token, not a credential for life */

static void usage(FILE *f)
{
  fprintf(f,
          "usage: vodgate jwt --sub USER [options]\n"
          "\n"
          "Mint an HS256 JWT for development and tests, signed with the [auth] shared secret.\n"
          "The secret is read from VODGATE_AUTH_JWT_HS256_SECRET or --secret-file, never from\n"
          "the command line. The token is printed on stdout.\n"
          "\n"
          "options:\n"
          "  --sub USER            user id (the \"sub\" claim; required)\n"
          "  --policy NAME         policy name, put in the policy claim\n"
          "  --policy-claim CLAIM  name of the policy claim (default \"policy\"; match\n"
          "                        [auth] jwt_policy_claim)\n"
          "  --ttl SECONDS         lifetime, 1 to %d (default %d)\n"
          "  --iss ISSUER          \"iss\" claim (match [auth] jwt_issuer)\n"
          "  --aud AUDIENCE        \"aud\" claim (match [auth] jwt_audience)\n"
          "  --secret-file FILE    read the HS256 secret from FILE\n"
          "  -h, --help            show this help\n",
          JWT_CMD_MAX_TTL, JWT_CMD_DEFAULT_TTL);
}

int cmd_jwt(int argc, char **argv)
{
  static const struct option opts[] = {
      {"sub", required_argument, NULL, 's'},
      {"policy", required_argument, NULL, 'p'},
      {"policy-claim", required_argument, NULL, 'c'},
      {"ttl", required_argument, NULL, 't'},
      {"iss", required_argument, NULL, 'i'},
      {"aud", required_argument, NULL, 'a'},
      {"secret-file", required_argument, NULL, 'f'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *sub = NULL, *policy = NULL, *claim = "policy", *iss = NULL, *aud = NULL;
  const char *secret_file = NULL;
  uint64_t ttl = JWT_CMD_DEFAULT_TTL;
  char *secret = NULL, *claims_text = NULL, *token = NULL;
  json_t *claims = NULL;
  struct jwt_config cfg;
  struct jwt_verifier *v = NULL;
  struct jwt_identity id;
  char err[512];
  int64_t now;
  int c, rc = 1;
  enum auth_error e;

  /* getopt_long accepts unique prefixes, so "--secret VALUE" would be read
   * as --secret-file and the secret echoed in an error. Refuse it outright. */
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0)
      break;
    if (strncmp(argv[i], "--sec", 5) == 0 && strcmp(argv[i], "--secret-file") != 0 &&
        strncmp(argv[i], "--secret-file=", 14) != 0) {
      fprintf(stderr, "vodgate jwt: the secret is never taken from the command line; use "
                      "--secret-file FILE or VODGATE_AUTH_JWT_HS256_SECRET\n");
      return EXIT_USAGE;
    }
  }
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 's': sub = optarg; break;
    case 'p': policy = optarg; break;
    case 'c': claim = optarg; break;
    case 'i': iss = optarg; break;
    case 'a': aud = optarg; break;
    case 'f': secret_file = optarg; break;
    case 't':
      if (parse_u64z(optarg, &ttl) || ttl == 0 || ttl > JWT_CMD_MAX_TTL) {
        fprintf(stderr, "vodgate jwt: --ttl must be 1 to %d seconds\n", JWT_CMD_MAX_TTL);
        return EXIT_USAGE;
      }
      break;
    case 'h': usage(stdout); return 0;
    default: usage(stderr); return EXIT_USAGE;
    }
  }
  if (optind != argc || !sub) {
    if (!sub)
      fprintf(stderr, "vodgate jwt: --sub is required\n");
    usage(stderr);
    return EXIT_USAGE;
  }

  if (secret_file) {
    secret = read_secret_file(secret_file);
    if (!secret) {
      fprintf(stderr, "vodgate jwt: cannot read the secret from --secret-file %s\n", secret_file);
      return 1;
    }
  } else {
    const char *env = getenv("VODGATE_AUTH_JWT_HS256_SECRET");
    if (!env || !env[0]) {
      fprintf(stderr, "vodgate jwt: set VODGATE_AUTH_JWT_HS256_SECRET or use --secret-file\n");
      return 1;
    }
    secret = xstrdup(env);
  }

  jwt_config_init(&cfg);
  cfg.hs256_secret = (const unsigned char *)secret;
  cfg.hs256_secret_len = strlen(secret);
  cfg.issuer = iss;
  cfg.audience = aud;
  cfg.policy_claim = claim;
  v = jwt_verifier_new(&cfg, err, sizeof(err));
  if (!v) {
    fprintf(stderr, "vodgate jwt: %s\n", err);
    goto done;
  }

  now = (int64_t)time(NULL);
  claims = json_pack("{s:s, s:I, s:I}", "sub", sub, "iat", (json_int_t)now, "exp",
                     (json_int_t)(now + (int64_t)ttl));
  if (!claims) {
    fprintf(stderr, "vodgate jwt: --sub must be valid UTF-8\n");
    goto done;
  }
  if ((iss && json_object_set_new(claims, "iss", json_string(iss))) ||
      (aud && json_object_set_new(claims, "aud", json_string(aud))) ||
      (policy && json_object_set_new(claims, claim, json_string(policy)))) {
    fprintf(stderr, "vodgate jwt: --iss, --aud and --policy must be valid UTF-8\n");
    goto done;
  }
  claims_text = json_dumps(claims, JSON_COMPACT);
  token = claims_text ? jwt_sign_hs256((const unsigned char *)secret, strlen(secret), claims_text)
                      : NULL;
  if (!token) {
    fprintf(stderr, "vodgate jwt: cannot build the token\n");
    goto done;
  }
  /* Refuse to print a token the server would refuse (bad sub, policy...). */
  e = jwt_verify(v, token, strlen(token), now, &id);
  if (e != AUTH_OK) {
    fprintf(stderr, "vodgate jwt: the token would be refused (%s); check --sub and --policy\n",
            auth_error_str(e));
    goto done;
  }
  jwt_identity_release(&id);
  printf("%s\n", token);
  rc = 0;
done:
  jwt_verifier_free(v);
  json_decref(claims);
  free(claims_text);
  free(token);
  if (secret) {
    secure_zero(secret, strlen(secret));
    free(secret);
  }
  return rc;
}
