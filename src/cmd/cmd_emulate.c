/*
 * cmd_emulate.c: `vodgate emulate`: the VOD side (VOD-UGC, COS, API 3.0,
 * event push) on local listeners, for tests and app developers. See
 * docs/emulator.md and src/emu/emu.h. Runs until SIGTERM/SIGINT.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "core/buf.h"
#include "core/io.h"
#include "core/log.h"
#include "core/util.h"
#include "emu/emu.h"
#include "http/http.h"

static void emulate_usage(FILE *f)
{
  fprintf(f, "usage: vodgate emulate --listen ADDR --secret-id ID --data-dir DIR [options]\n\n"
             "Emulate Tencent Cloud VOD on local listeners: VOD-UGC (vod2.qcloud.com), COS XML\n"
             "(<bucket>.cos.<region>.myqcloud.com), API 3.0 (vod.tencentcloudapi.com: PullEvents,\n"
             "ConfirmEvents, DescribeMediaInfos, DeleteMedia) and event pushes. Requests are told\n"
             "apart by Host, as the real hosts are. Not for production.\n\n"
             "  -l, --listen ADDR          plain HTTP listener (host:port, :port, [v6]:port)\n"
             "      --tls-listen ADDR      HTTPS listener serving the same endpoints\n"
             "      --tls-cert FILE        PEM certificate (chain) for --tls-listen\n"
             "      --tls-key FILE         PEM private key for --tls-listen\n"
             "      --secret-id ID         the VOD API SecretId signatures must name\n"
             "      --secret-key-file F    its SecretKey (else $VODGATE_VOD_SECRET_KEY)\n"
             "      --callback-url URL     push events there (omit: pull mode only)\n"
             "      --sign-key-file F      callback sign key: adds Sign/T to pushed events\n"
             "                             (else $VODGATE_VOD_SIGN_KEY, else none)\n"
             "  -d, --data-dir DIR         uploaded objects and parts are stored here\n"
             "      --threads N            worker threads (default 8)\n"
             "Fault injection (also at runtime: POST /__emu/faults from loopback):\n"
             "      --drop-events N        drop the next N pushed events\n"
             "      --duplicate-events N   push the next N events twice\n"
             "      --reorder-events N     swap the next N events with the one after each\n"
             "      --delay-events MS      delay every push by MS milliseconds\n"
             "      --event-lease S        PullEvents handle lease (default 30 s, VOD's)\n"
             "  -h, --help                 this help\n");
}

static char *read_pem(const char *path)
{
  struct buf b;
  buf_init(&b, 1024 * 1024);
  if (read_file(path, &b) || buf_append(&b, "", 1)) {
    buf_release(&b);
    return NULL;
  }
  return buf_detach(&b, NULL);
}

static int opt_uint(const char *name, const char *v, unsigned *out)
{
  uint64_t x;
  if (parse_u64z(v, &x) || x > 1000000) {
    fprintf(stderr, "vodgate emulate: %s: expected a number 0..1000000\n", name);
    return -1;
  }
  *out = (unsigned)x;
  return 0;
}

static void log_listening(const char *key, struct http_server *s)
{
  enum log_level lvl = log_get_level();
  log_set_level(LOG_INFO);
  log_json(LOG_INFO, json_pack("{s:s,s:i,s:s}", "msg", "listening", key, (int)http_server_port(s),
                               "addr", http_server_addr(s)));
  log_set_level(lvl);
}

int cmd_emulate(int argc, char **argv)
{
  enum {
    O_TLS_LISTEN = 256,
    O_LEASE,
    O_CERT,
    O_KEY,
    O_SID,
    O_SKF,
    O_CB,
    O_SIGNF,
    O_THREADS,
    O_DROP,
    O_DUP,
    O_REORDER,
    O_DELAY
  };
  static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                       {"tls-listen", required_argument, NULL, O_TLS_LISTEN},
                                       {"tls-cert", required_argument, NULL, O_CERT},
                                       {"tls-key", required_argument, NULL, O_KEY},
                                       {"secret-id", required_argument, NULL, O_SID},
                                       {"secret-key-file", required_argument, NULL, O_SKF},
                                       {"callback-url", required_argument, NULL, O_CB},
                                       {"sign-key-file", required_argument, NULL, O_SIGNF},
                                       {"data-dir", required_argument, NULL, 'd'},
                                       {"threads", required_argument, NULL, O_THREADS},
                                       {"drop-events", required_argument, NULL, O_DROP},
                                       {"duplicate-events", required_argument, NULL, O_DUP},
                                       {"reorder-events", required_argument, NULL, O_REORDER},
                                       {"delay-events", required_argument, NULL, O_DELAY},
                                       {"event-lease", required_argument, NULL, O_LEASE},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *listen = NULL, *tls_listen = NULL, *cert = NULL, *key = NULL, *skf = NULL,
             *signf = NULL;
  struct emu_opts eo;
  struct emu *e = NULL;
  struct http_server *plain = NULL, *tls = NULL;
  char *secret = NULL, *sign = NULL, *cert_pem = NULL, *key_pem = NULL;
  unsigned threads = 8;
  const struct http_route *routes;
  size_t nroutes;
  sigset_t set;
  int c, rc = 1, sig;

  memset(&eo, 0, sizeof(eo));
  optind = 1;
  while ((c = getopt_long(argc, argv, "l:d:h", opts, NULL)) != -1) {
    switch (c) {
    case 'l': listen = optarg; break;
    case O_TLS_LISTEN: tls_listen = optarg; break;
    case O_CERT: cert = optarg; break;
    case O_KEY: key = optarg; break;
    case O_SID: eo.secret_id = optarg; break;
    case O_SKF: skf = optarg; break;
    case O_CB: eo.callback_url = optarg; break;
    case O_SIGNF: signf = optarg; break;
    case 'd': eo.data_dir = optarg; break;
    case O_THREADS:
      if (opt_uint("--threads", optarg, &threads) || threads == 0 || threads > 256)
        return EXIT_USAGE;
      break;
    case O_DROP:
      if (opt_uint("--drop-events", optarg, &eo.drop))
        return EXIT_USAGE;
      break;
    case O_DUP:
      if (opt_uint("--duplicate-events", optarg, &eo.duplicate))
        return EXIT_USAGE;
      break;
    case O_REORDER:
      if (opt_uint("--reorder-events", optarg, &eo.reorder))
        return EXIT_USAGE;
      break;
    case O_DELAY:
      if (opt_uint("--delay-events", optarg, &eo.delay_ms))
        return EXIT_USAGE;
      break;
    case O_LEASE:
      if (opt_uint("--event-lease", optarg, &eo.lease_s) || eo.lease_s == 0)
        return EXIT_USAGE;
      break;
    case 'h': emulate_usage(stdout); return 0;
    default: emulate_usage(stderr); return EXIT_USAGE;
    }
  }
  if (optind != argc || !listen || !eo.secret_id || !eo.data_dir ||
      (tls_listen && (!cert || !key))) {
    fprintf(stderr, "vodgate emulate: --listen, --secret-id and --data-dir are required; "
                    "--tls-listen needs --tls-cert and --tls-key\n");
    emulate_usage(stderr);
    return EXIT_USAGE;
  }
  if (skf) {
    secret = read_secret_file(skf);
    if (!secret) {
      fprintf(stderr, "vodgate emulate: cannot read --secret-key-file %s\n", skf);
      return 1;
    }
  } else if (getenv("VODGATE_VOD_SECRET_KEY") && *getenv("VODGATE_VOD_SECRET_KEY")) {
    secret = xstrdup(getenv("VODGATE_VOD_SECRET_KEY"));
  } else {
    fprintf(stderr, "vodgate emulate: no secret key: --secret-key-file or "
                    "VODGATE_VOD_SECRET_KEY\n");
    return EXIT_USAGE;
  }
  if (signf) {
    sign = read_secret_file(signf);
    if (!sign) {
      fprintf(stderr, "vodgate emulate: cannot read --sign-key-file %s\n", signf);
      goto out;
    }
  } else if (getenv("VODGATE_VOD_SIGN_KEY") && *getenv("VODGATE_VOD_SIGN_KEY")) {
    sign = xstrdup(getenv("VODGATE_VOD_SIGN_KEY"));
  }
  if (tls_listen) {
    cert_pem = read_pem(cert);
    key_pem = read_pem(key);
    if (!cert_pem || !key_pem) {
      fprintf(stderr, "vodgate emulate: cannot read --tls-cert/--tls-key\n");
      goto out;
    }
  }
  eo.secret_key = secret;
  eo.sign_key = sign;

  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);

  if (emu_new(&eo, &e)) {
    log_error("emulate: cannot start (options or data dir)");
    goto out;
  }
  routes = emu_routes(&nroutes);
  {
    struct http_opts ho;
    memset(&ho, 0, sizeof(ho));
    ho.threads = threads;
    ho.max_connections = 256;
    ho.per_ip_limit = 0;
    ho.timeout_s = 60;
    ho.header_timeout_s = 10;
    ho.memory_limit = 256 * 1024;
    ho.own_preflight = true;
    ho.listen = listen;
    if (http_server_start(&ho, routes, nroutes, e, &plain))
      goto out;
    log_listening("port", plain);
    if (tls_listen) {
      ho.listen = tls_listen;
      ho.tls_cert_pem = cert_pem;
      ho.tls_key_pem = key_pem;
      if (http_server_start(&ho, routes, nroutes, e, &tls))
        goto out;
      log_listening("tls_port", tls);
    }
  }
  while (sigwait(&set, &sig) != 0)
    ;
  log_info("emulate: stopping");
  rc = 0;
out:
  emu_stop(e);
  http_server_stop(tls);
  http_server_stop(plain);
  emu_free(e);
  if (secret) {
    secure_zero(secret, strlen(secret));
    free(secret);
  }
  if (sign) {
    secure_zero(sign, strlen(sign));
    free(sign);
  }
  if (key_pem) {
    secure_zero(key_pem, strlen(key_pem));
    free(key_pem);
  }
  free(cert_pem);
  return rc;
}
