/*
 * fuzz_cfg: cfg_load over arbitrary INI text and environment. The input is
 * the file's bytes, optionally followed by a NUL and newline-separated
 * VODGATE_* variables. A loaded cfg is dumped and every policy is read, so
 * that getters run over whatever the parser accepted.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cfg/cfg.h"
#include "core/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static FILE *devnull;
  const uint8_t *nul = memchr(data, '\0', size);
  size_t flen = nul ? (size_t)(nul - data) : size;
  char path[64], err[CFG_ERR_MAX];
  char *envbuf = NULL, *env[33];
  size_t nenv = 0;
  struct cfg *c = NULL;
  int fd;

  if (!devnull) {
    devnull = fopen("/dev/null", "w");
    log_set_level(LOG_ERROR);
  }
  fd = memfd_create("fuzz_cfg", 0);
  if (fd < 0)
    return 0;
  if (write(fd, data, flen) != (ssize_t)flen) {
    close(fd);
    return 0;
  }
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  if (nul) {
    size_t elen = size - flen - 1;
    envbuf = malloc(elen + 1);
    memcpy(envbuf, nul + 1, elen);
    envbuf[elen] = '\0';
    for (char *p = envbuf; *p && nenv < 32;) {
      char *e = strchr(p, '\n');
      if (e)
        *e = '\0';
      env[nenv++] = p;
      if (!e)
        break;
      p = e + 1;
    }
  }
  env[nenv] = NULL;
  if (cfg_load(path, env, &c, err, sizeof(err)) == 0) {
    cfg_dump(c, devnull);
    for (size_t i = 0; i < cfg_policy_count(c); i++) {
      size_t n;
      const char *sec = cfg_policy_section(c, i);
      (void)cfg_get_int(c, sec, "validity");
      (void)cfg_get_list(c, sec, "client_may_set", &n);
      (void)cfg_get_str(c, sec, "procedure");
    }
    (void)cfg_get_secret(c, "vod", "secret_key", NULL);
    cfg_unref(c);
  } else if (strlen(err) == 0) {
    abort(); /* every failure must say why */
  }
  close(fd);
  free(envbuf);
  return 0;
}
