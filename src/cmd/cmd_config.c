/*
 * cmd_config.c: `vodgate config`: check, print or document the
 * configuration. Secret values are never printed.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cfg/cfg.h"
#include "cmd/cmd.h"
#include "svc/state.h"
#include "svc/workers.h"

extern char **environ;

static void config_usage(FILE *f)
{
  fprintf(f, "usage: vodgate config [--config FILE] [--check | --dump | --schema]\n\n"
             "  -c, --config FILE  INI file (default: $VODGATE_CONFIG); the environment\n"
             "                     (VODGATE_<SECTION>_<KEY>) is applied on top\n"
             "      --check        validate, print \"ok\" (default)\n"
             "      --dump         print the effective configuration, secrets redacted\n"
             "      --schema       print every known key as a Markdown table\n"
             "  -h, --help         this help\n\n"
             "Exit status: 0 valid, 1 invalid (the message names the key), 2 usage.\n");
}

int cmd_config(int argc, char **argv)
{
  enum { CHECK, DUMP, SCHEMA } mode = CHECK;
  static const struct option opts[] = {
      {"config", required_argument, NULL, 'c'}, {"check", no_argument, NULL, 'k'},
      {"dump", no_argument, NULL, 'd'},         {"schema", no_argument, NULL, 's'},
      {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
  const char *path = getenv("VODGATE_CONFIG");
  char err[CFG_ERR_MAX];
  struct cfg *cfg;
  int c;

  optind = 1;
  while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
    switch (c) {
    case 'c': path = optarg; break;
    case 'k': mode = CHECK; break;
    case 'd': mode = DUMP; break;
    case 's': mode = SCHEMA; break;
    case 'h': config_usage(stdout); return 0;
    default: config_usage(stderr); return EXIT_USAGE;
    }
  }
  if (optind != argc) {
    config_usage(stderr);
    return EXIT_USAGE;
  }
  if (mode == SCHEMA) {
    cfg_schema_markdown(stdout);
    return 0;
  }
  if (path && !*path)
    path = NULL;
  if (cfg_load(path, environ, &cfg, err, sizeof(err))) {
    fprintf(stderr, "vodgate config: %s\n", err);
    return 1;
  }
  if (mode == DUMP) {
    cfg_dump(cfg, stdout);
    cfg_unref(cfg);
    return 0;
  }
  /* What serve's start-up would refuse, short of the database and the
   * listening socket: key files parsed, policies, the workers' settings. */
  if (svc_state_check(cfg, err, sizeof(err)) || webhook_check_cfg(cfg, err, sizeof(err)) ||
      puller_check_cfg(cfg, err, sizeof(err)) || retention_check_cfg(cfg, err, sizeof(err))) {
    fprintf(stderr, "vodgate config: %s\n", err);
    cfg_unref(cfg);
    return 1;
  }
  printf("ok\n");
  cfg_unref(cfg);
  return 0;
}
