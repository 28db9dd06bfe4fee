/*
 * cmd.h: the subcommands of the vodgate binary. Each takes argc/argv with
 * argv[0] being the subcommand name, and returns the process exit code:
 * 0 success, 1 failure (the thing checked is invalid, a request failed),
 * 2 usage error.
 */
#ifndef VG_CMD_H
#define VG_CMD_H

#define EXIT_USAGE 2

struct cmd {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *summary;
};

int cmd_sign(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_jwt(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_events(int argc, char **argv);
int cmd_uploads(int argc, char **argv);
int cmd_emulate(int argc, char **argv);
int cmd_upload(int argc, char **argv);
int cmd_webhooks(int argc, char **argv);

#endif
