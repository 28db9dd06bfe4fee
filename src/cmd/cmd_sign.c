#include <stdio.h>

#include "cmd/cmd.h"

int cmd_sign(int argc, char **argv)
{
  fprintf(stderr, "vodgate sign: not built yet\n");
  return 1;
}
