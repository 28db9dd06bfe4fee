/*
 * cmd_jwt.c: `vodgate jwt --sub USER`: mint an HS256 development token;
 * `vodgate jwt verify < TOKEN`: check a token exactly as the server does and
 * say why it is refused (for operators and for the integration tests).
 *
 * The secret comes from VODGATE_AUTH_JWT_HS256_SECRET or --secret-file,
 * never from argv (visible in ps and shell history). The token is checked
 * with the same verifier the server uses before it is printed, so a token
 * this command prints is one the server (with the same secret, issuer and
 * audience) accepts.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/jwt.h"
#include "cfg/cfg.h"
#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/io.h"
#include "core/limits.h"
#include "core/util.h"
#include "svc/jwks.h"

#define JWT_CMD_DEFAULT_TTL 3600
#define JWT_CMD_MAX_TTL     (30 * 86400) /* a development token, not a credential for life */

static void usage(FILE *f)
{
  fprintf(f,
          "usage: vodgate jwt --sub USER [options]\n"
          "       vodgate jwt verify [options] < TOKEN   (see vodgate jwt verify --help)\n"
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

/* getopt_long accepts unique prefixes, so "--secret VALUE" would be read
 * as --secret-file and the secret echoed in an error. Refuse it outright. */
static bool secret_on_argv(int argc, char **argv)
{
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0)
      break;
    if (strncmp(argv[i], "--sec", 5) == 0 && strcmp(argv[i], "--secret-file") != 0 &&
        strncmp(argv[i], "--secret-file=", 14) != 0) {
      fprintf(stderr, "vodgate jwt: the secret is never taken from the command line; use "
                      "--secret-file FILE or VODGATE_AUTH_JWT_HS256_SECRET\n");
      return true;
    }
  }
  return false;
}

/* The HS256 secret from --secret-file or the environment; NULL if neither
 * (and *failed with a message when the file cannot be read). The caller
 * wipes and frees it with free_secret(). */
static char *load_secret(const char *secret_file, bool *failed)
{
  const char *env;
  char *secret;

  *failed = false;
  if (secret_file) {
    secret = read_secret_file(secret_file);
    if (!secret) {
      fprintf(stderr, "vodgate jwt: cannot read the secret from --secret-file %s\n", secret_file);
      *failed = true;
    }
    return secret;
  }
  env = getenv("VODGATE_AUTH_JWT_HS256_SECRET");
  return env && env[0] ? xstrdup(env) : NULL;
}

static void free_secret(char *secret)
{
  if (secret) {
    secure_zero(secret, strlen(secret));
    free(secret);
  }
}

/* [auth] jwt_leeway's default and maximum, from the schema: verify must
 * judge time claims as the server does when the key is left alone (the
 * verifier's own default, JWT_DEFAULT_LEEWAY, is wider). */
static void leeway_bounds(int64_t *def, int64_t *max)
{
  size_t n;
  const struct cfg_key_info *k = cfg_schema(&n);
  uint64_t u = 0;

  for (size_t i = 0; i < n; i++) {
    if (strcmp(k[i].section, "auth") == 0 && strcmp(k[i].key, "jwt_leeway") == 0) {
      if (parse_u64(k[i].def, strlen(k[i].def), &u))
        abort(); /* the schema's own default is a plain number */
      *def = (int64_t)u;
      *max = k[i].max;
      return;
    }
  }
  abort(); /* a programming error: the key left the schema */
}

static void verify_usage(FILE *f)
{
  int64_t def, max;

  leeway_bounds(&def, &max);
  fprintf(f,
          "usage: vodgate jwt verify [options] < TOKEN\n"
          "\n"
          "Check a JWT the way the server does. The token is read from stdin (one line; an\n"
          "\"Authorization: Bearer ...\" line is accepted too), never from the command line.\n"
          "Prints one JSON object, {\"result\":\"ok\",\"sub\":...,\"policy\":...,\"exp\":...}\n"
          "with exit status 0, or {\"result\":\"REASON\"} with exit status 1 (reasons in\n"
          "docs/auth.md).\n"
          "\n"
          "options (as the [auth] keys of the same name):\n"
          "  --secret-file FILE      HS256 secret (or VODGATE_AUTH_JWT_HS256_SECRET)\n"
          "  --public-key-file FILE  PEM public keys (RS256, ES256)\n"
          "  --jwks-file FILE        JWK set\n"
          "  --jwks-url URL          JWK set fetched from URL (https://, or http:// to loopback)\n"
          "  --iss ISSUER            required issuer\n"
          "  --aud AUDIENCE          required audience\n"
          "  --policy-claim CLAIM    claim holding the policy name\n"
          "  --leeway SECONDS        clock skew tolerated, 0 to %lld (default %lld)\n"
          "  --now EPOCH             verify as of this time instead of the clock\n"
          "  -h, --help              show this help\n",
          (long long)max, (long long)def);
}

/* Token from stdin into *tok and *len (pointing into in), or a reason. */
static enum auth_error read_token(struct buf *in, const char **tok, size_t *len)
{
  int rc = read_file("/dev/stdin", in);

  if (rc == VG_TOOBIG)
    return AUTH_TOO_LONG;
  if (rc)
    return AUTH_INTERNAL;
  while (in->len > 0 && (in->ptr[in->len - 1] == '\n' || in->ptr[in->len - 1] == '\r'))
    in->ptr[--in->len] = '\0';
  *tok = in->ptr;
  *len = in->len;
  if (*len >= 14 && strncasecmp(*tok, "Authorization:", 14) == 0) {
    *tok += 14;
    *len -= 14;
  }
  while (*len > 0 && (**tok == ' ' || **tok == '\t'))
    (*tok)++, (*len)--;
  if (*len >= 6 && strncasecmp(*tok, "bearer", 6) == 0)
    return auth_bearer_parse(*tok, 0, tok, len);
  return *len == 0 ? AUTH_MISSING : AUTH_OK;
}

static int jwt_verify_cmd(int argc, char **argv)
{
  static const struct option opts[] = {
      {"secret-file", required_argument, NULL, 'f'},
      {"public-key-file", required_argument, NULL, 'k'},
      {"jwks-file", required_argument, NULL, 'j'},
      {"jwks-url", required_argument, NULL, 'u'},
      {"iss", required_argument, NULL, 'i'},
      {"aud", required_argument, NULL, 'a'},
      {"policy-claim", required_argument, NULL, 'c'},
      {"leeway", required_argument, NULL, 'l'},
      {"now", required_argument, NULL, 'n'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  struct jwt_config cfg;
  struct jwt_verifier *v;
  struct jwt_identity id;
  const char *secret_file = NULL, *tok = NULL, *jwks_url = NULL;
  char *secret, *text, *jwks = NULL, err[512];
  uint64_t u;
  int64_t now = (int64_t)time(NULL);
  struct buf in;
  size_t len = 0;
  enum auth_error e;
  json_t *out;
  bool failed;
  int64_t leeway_max;
  int c, rc = 1;

  if (secret_on_argv(argc, argv))
    return EXIT_USAGE;
  jwt_config_init(&cfg);
  leeway_bounds(&cfg.leeway, &leeway_max);
  optind = 1;
  while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
    switch (c) {
    case 'f': secret_file = optarg; break;
    case 'k': cfg.public_key_file = optarg; break;
    case 'j': cfg.jwks_file = optarg; break;
    case 'u': jwks_url = optarg; break;
    case 'i': cfg.issuer = optarg; break;
    case 'a': cfg.audience = optarg; break;
    case 'c': cfg.policy_claim = optarg; break;
    case 'l':
      if (parse_u64z(optarg, &u) || u > (uint64_t)leeway_max) {
        fprintf(stderr, "vodgate jwt verify: --leeway must be 0 to %lld\n", (long long)leeway_max);
        return EXIT_USAGE;
      }
      cfg.leeway = (int64_t)u;
      break;
    case 'n':
      if (parse_u64z(optarg, &u) || u > (uint64_t)JWT_MAX_NUMERIC_DATE) {
        fprintf(stderr, "vodgate jwt verify: --now must be seconds since the epoch\n");
        return EXIT_USAGE;
      }
      now = (int64_t)u;
      break;
    case 'h': verify_usage(stdout); return 0;
    default: verify_usage(stderr); return EXIT_USAGE;
    }
  }
  if (optind != argc) {
    fprintf(stderr, "vodgate jwt verify: the token is read from stdin, not the command line\n");
    return EXIT_USAGE;
  }
  if (jwks_url && cfg.jwks_file) {
    fprintf(stderr, "vodgate jwt verify: give --jwks-file or --jwks-url, not both\n");
    return EXIT_USAGE;
  }
  if (jwks_url) {
    jwks = jwks_fetch(jwks_url, err, sizeof(err));
    if (!jwks) {
      fprintf(stderr, "vodgate jwt verify: --jwks-url: %s\n", err);
      return 1;
    }
    cfg.jwks_json = jwks;
    cfg.jwks_source = "jwks_url";
  }
  secret = load_secret(secret_file, &failed);
  if (failed) {
    free(jwks);
    return 1;
  }
  if (secret) {
    cfg.hs256_secret = (const unsigned char *)secret;
    cfg.hs256_secret_len = strlen(secret);
  }
  v = jwt_verifier_new(&cfg, err, sizeof(err));
  free_secret(secret);
  free(jwks);
  if (!v) {
    fprintf(stderr, "vodgate jwt verify: %s\n", err);
    return 1;
  }

  /* Room for "Authorization: Bearer " and line ends around a maximal token. */
  buf_init(&in, AUTH_MAX_TOKEN + 64);
  e = read_token(&in, &tok, &len);
  if (e == AUTH_OK)
    e = jwt_verify(v, tok, len, now, &id);
  if (e == AUTH_OK) {
    out = json_pack("{s:s, s:s, s:s?, s:I}", "result", "ok", "sub", id.sub, "policy", id.policy,
                    "exp", (json_int_t)id.exp);
    jwt_identity_release(&id);
    rc = 0;
  } else {
    out = json_pack("{s:s}", "result", auth_error_str(e));
  }
  text = out ? json_dumps(out, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
  if (text)
    printf("%s\n", text);
  free(text);
  json_decref(out);
  secure_zero(in.ptr, in.len);
  buf_release(&in);
  jwt_verifier_free(v);
  return rc;
}

static int jwt_mint(int argc, char **argv)
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
  bool failed;

  if (secret_on_argv(argc, argv))
    return EXIT_USAGE;
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

  secret = load_secret(secret_file, &failed);
  if (failed)
    return 1;
  if (!secret) {
    fprintf(stderr, "vodgate jwt: set VODGATE_AUTH_JWT_HS256_SECRET or use --secret-file\n");
    return 1;
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
  free_secret(secret);
  return rc;
}

int cmd_jwt(int argc, char **argv)
{
  if (argc > 1 && strcmp(argv[1], "verify") == 0)
    return jwt_verify_cmd(argc - 1, argv + 1);
  return jwt_mint(argc, argv);
}
