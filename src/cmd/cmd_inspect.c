#include <stdio.h>

#include "cmd/cmd.h"

int cmd_inspect(int argc, char **argv)
{
  fprintf(stderr, "vodgate inspect: not built yet\n");
  return 1;
}
