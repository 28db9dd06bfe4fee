/*
 * main.c: the git-style dispatcher. Adding a subcommand means one line in
 * the table below and one cmd_<name>.c file.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "core/util.h"

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct cmd commands[] = {
    {"sign", cmd_sign, "create a VOD upload signature"},
    {"inspect", cmd_inspect, "decode, lint and verify an upload signature"},
    {"serve", cmd_serve, "run the HTTP service"},
    {"config", cmd_config, "check or print the configuration (secrets redacted)"},
    {"jwt", cmd_jwt, "mint an HS256 development token for the [auth] secret"},
    {"token", cmd_token, "add, list or revoke static API tokens"},
    {"events", cmd_events, "list, show or replay the VOD events received"},
    {"uploads", cmd_uploads, "list or show the upload ledger"},
    {"webhooks", cmd_webhooks, "list webhooks to the app, show one, retry dead letters"},
    {"emulate", cmd_emulate, "emulate the VOD side (UGC, COS, API 3.0, events) locally"},
    {"upload", cmd_upload, "upload a file to VOD with signatures from a vodgate service"},
    {"version", cmd_version, "print the version"},
    {"help", cmd_help, "list the subcommands, or show one's --help"},
};

static void usage(FILE *f)
{
  fprintf(f, "usage: vodgate <command> [options]\n\ncommands:\n");
  for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\n'vodgate <command> --help' describes a command.\n");
}

static const struct cmd *find(const char *name)
{
  for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
    if (strcmp(commands[i].name, name) == 0)
      return &commands[i];
  return NULL;
}

static int cmd_version(int argc, char **argv)
{
  if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    printf("usage: vodgate version\n\nPrint the version (also: vodgate --version).\n");
    return 0;
  }
  if (argc > 1) {
    fprintf(stderr, "usage: vodgate version\n");
    return EXIT_USAGE;
  }
  printf("vodgate %s\n", VODGATE_VERSION);
  return 0;
}

static int cmd_help(int argc, char **argv)
{
  if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    printf("usage: vodgate help [COMMAND]\n\nList the commands, or show COMMAND's --help.\n");
    return 0;
  }
  if (argc > 1) {
    const struct cmd *c = find(argv[1]);
    char help[] = "--help";
    char *av[] = {argv[1], help, NULL};
    if (!c) {
      fprintf(stderr, "vodgate: unknown command '%s'\n", argv[1]);
      return EXIT_USAGE;
    }
    return c->fn(2, av);
  }
  usage(stdout);
  return 0;
}

int main(int argc, char **argv)
{
  const struct cmd *c;

  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
    return cmd_help(1, argv);
  if (strcmp(argv[1], "--version") == 0)
    return cmd_version(1, argv);
  c = find(argv[1]);
  if (!c) {
    fprintf(stderr, "vodgate: unknown command '%s'; see 'vodgate help'\n", argv[1]);
    return EXIT_USAGE;
  }
  return c->fn(argc - 1, argv + 1);
}
