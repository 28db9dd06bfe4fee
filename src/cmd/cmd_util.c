/*
 * cmd_util.c: what the operators' subcommands (token, events, uploads,
 * webhooks) share: opening the store a configuration names, and printing
 * JSON. See cmd.h.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cfg/cfg.h"
#include "cmd/cmd.h"
#include "core/err.h"
#include "store/store.h"

extern char **environ;

int cmd_open_store(const char *who, const char *cfg_path, const char *db, struct store **s)
{
  struct cfg *c = NULL;
  char err[CFG_ERR_MAX];
  int rc;

  if (!db) {
    if (cfg_load(cfg_path, environ, &c, err, sizeof(err))) {
      fprintf(stderr, "%s: configuration: %s\n", who, err);
      return -1;
    }
    db = cfg_get_str(c, "server", "db");
  }
  rc = store_open(db, NULL, s);
  if (rc)
    fprintf(stderr, "%s: cannot open the database (%s)\n", who, vg_strerror(rc));
  cfg_unref(c);
  return rc ? -1 : 0;
}

void cmd_print_json(json_t *j)
{
  char *out = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);

  printf("%s\n", out ? out : "null");
  free(out);
  json_decref(j);
}
