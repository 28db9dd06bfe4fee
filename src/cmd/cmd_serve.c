/*
 * cmd_serve.c: `vodgate serve`: load the configuration, start the HTTP
 * server, then wait for signals on the main thread:
 *   SIGHUP           reload the configuration (a bad file keeps the old one);
 *   SIGTERM, SIGINT  stop accepting, drain in-flight requests (at most
 *                    [server] drain_timeout), exit 0.
 * Signals are blocked before any thread starts, so only sigwait() here sees
 * them and no handler runs in async-signal context.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cfg/cfg.h"
#include "cmd/cmd.h"
#include "core/log.h"
#include "core/util.h"
#include "http/http.h"
#include "http/metrics.h"
#include "svc/app.h"

extern char **environ;

static void serve_usage(FILE *f)
{
  fprintf(f, "usage: vodgate serve [--config FILE] [--listen ADDR]\n\n"
             "Run the HTTP service (upload signatures, health, metrics).\n\n"
             "  -c, --config FILE   INI configuration (default: $VODGATE_CONFIG, else none:\n"
             "                      defaults and VODGATE_<SECTION>_<KEY> variables only)\n"
             "  -l, --listen ADDR   override [server] listen: host:port, :port, [v6]:port\n"
             "  -h, --help          this help\n\n"
             "Signals: SIGHUP reloads the configuration; SIGTERM/SIGINT drain and exit 0.\n"
             "See docs/configuration.md for every key.\n");
}

/* Descriptors serve needs besides its connections: a listening socket per
 * HTTP thread (at most 64), the database, its WAL and lock, the PostgreSQL
 * pool, MHD's and the workers' wake-up pipes, libcurl's sockets. */
#define SERVE_FD_RESERVE 128

/* Past RLIMIT_NOFILE, accept(2) fails and new connections wait unanswered
 * in the listen queue, with nothing in the log; systemd starts services
 * with a soft limit of 1024, below [server] max_connections' default plus
 * the reserve. Raise the soft limit toward the hard one (no privilege
 * needed; every descriptor is polled with epoll, so numbers past
 * FD_SETSIZE are fine), and say so when it cannot be raised enough. */
/* True for an address only this host can connect to (127.0.0.0/8, ::1,
 * ::ffff:127.x). */
static bool listen_is_loopback(const char *listen)
{
  struct sockaddr_storage ss;
  socklen_t len;
  const char *why;

  return listen && cfg_parse_addr(listen, &ss, &len, &why) == 0 && cfg_addr_is_loopback(&ss);
}

static void fd_limit_check(unsigned max_connections)
{
  struct rlimit rl;
  rlim_t want = (rlim_t)max_connections + SERVE_FD_RESERVE, old;

  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
    return;
  old = rl.rlim_cur;
  rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
  if (rl.rlim_cur > old && setrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur >= want) {
    log_info("raised the open file limit from %llu to %llu for [server] max_connections %u",
             (unsigned long long)old, (unsigned long long)want, max_connections);
    return;
  }
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    rl.rlim_cur = old;
  log_warn("the open file limit (%llu, hard %llu) is below [server] max_connections %u + %d: "
           "connections past it wait unanswered; raise it (systemd LimitNOFILE=, ulimit -n) or "
           "lower max_connections",
           (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max, max_connections,
           SERVE_FD_RESERVE);
}

static void describe_metrics(void)
{
  metrics_describe("vodgate_http_requests_total", "HTTP requests by route and status.");
  metrics_describe("vodgate_http_header_timeouts_total",
                   "Connections closed because request headers came too slowly.");
  metrics_describe("vodgate_signatures_issued_total", "Upload signatures issued.");
  metrics_describe("vodgate_auth_failures_total", "Authentication failures by reason.");
  metrics_describe("vodgate_quota_rejections_total", "Requests refused by a quota or rate limit.");
  metrics_describe("vodgate_config_reloads_total", "Configuration reloads by result.");
}

static int serve_loop(struct app *app, const sigset_t *set)
{
  for (;;) {
    int sig;
    if (sigwait(set, &sig) != 0)
      continue;
    if (sig == SIGHUP) {
      char err[CFG_ERR_MAX];
      if (app_reload(app, err, sizeof(err))) {
        log_error("reload failed, keeping the previous configuration: %s", err);
        metrics_inc("vodgate_config_reloads_total", "result", "failed");
      } else {
        metrics_inc("vodgate_config_reloads_total", "result", "ok");
      }
      continue;
    }
    if (sig == SIGTERM || sig == SIGINT) {
      struct cfg *c = app_cfg_get(app);
      unsigned ms = (unsigned)cfg_get_int(c, "server", "drain_timeout") * 1000u;
      unsigned left;
      json_t *o;
      cfg_unref(c);
      atomic_store(&app->draining, true);
      o = json_pack("{s:s,s:s,s:i}", "msg", "draining", "signal",
                    sig == SIGTERM ? "SIGTERM" : "SIGINT", "inflight",
                    (int)http_server_inflight(app->http));
      log_json(LOG_INFO, o);
      left = http_server_drain(app->http, ms);
      if (left) {
        /* A handler still running would block MHD_stop_daemon() (it joins
         * the worker threads) past the bound the operator asked for. */
        log_warn("drain timeout: %u request(s) still in flight are cut", left);
        app_services_cut(app);
        log_async_stop();
        _exit(0);
      }
      return 0;
    }
  }
}

int cmd_serve(int argc, char **argv)
{
  static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                       {"listen", required_argument, NULL, 'l'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
  const char *path = getenv("VODGATE_CONFIG");
  const char *listen = NULL;
  struct app app;
  struct http_opts ho;
  char err[CFG_ERR_MAX];
  sigset_t set;
  const struct http_route *routes;
  size_t nroutes;
  const char *tr;
  int c, rc;

  optind = 1;
  while ((c = getopt_long(argc, argv, "c:l:h", opts, NULL)) != -1) {
    switch (c) {
    case 'c': path = optarg; break;
    case 'l': listen = optarg; break;
    case 'h': serve_usage(stdout); return 0;
    default: serve_usage(stderr); return EXIT_USAGE;
    }
  }
  if (optind != argc) {
    serve_usage(stderr);
    return EXIT_USAGE;
  }
  /* glibc gives freed memory back to the kernel as soon as the top of a
   * thread's heap exceeds 128 KiB, with madvise(MADV_DONTNEED); with
   * several request threads every such call is a TLB shootdown across
   * cores, and under load it happened thousands of times a second (8 % of
   * the CPU of a signature run in perf). Keep up to 8 MiB per heap instead:
   * resident memory stays well under the 30 MB budget (docs/benchmarks.md). */
  (void)mallopt(M_TRIM_THRESHOLD, 8 * 1024 * 1024);
  if (path && !*path)
    path = NULL;
  if (listen) {
    struct sockaddr_storage ss;
    socklen_t sl;
    const char *why;
    if (cfg_parse_addr(listen, &ss, &sl, &why)) {
      fprintf(stderr, "vodgate serve: --listen '%s': %s\n", listen, why);
      return EXIT_USAGE;
    }
  }

  /* Block the signals we wait for before any thread exists (the logger's
   * is the first), so that every thread inherits the mask: a thread that
   * did not block SIGTERM would take it whenever the main thread is not in
   * its sigtimedwait, and die of it (exit by signal, no drain). And before
   * the configuration is read: start-up can wait (a secret file on a slow
   * mount, a FIFO), and a SIGHUP meanwhile (logrotate, `systemctl reload`)
   * killed the process; now it stays pending and is taken once listening,
   * like a SIGTERM (drain, exit 0). */
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);

  memset(&app, 0, sizeof(app));
  pthread_mutex_init(&app.cfg_mu, NULL);
  atomic_init(&app.ready, false);
  atomic_init(&app.draining, false);
  if (cfg_load(path, environ, &app.cfg, err, sizeof(err))) {
    log_error("configuration: %s", err);
    return 1;
  }
  app.cfg_path = path ? xstrdup(path) : NULL;
  app.listen_override = listen ? xstrdup(listen) : NULL;
  tr = getenv("VODGATE_TEST_ROUTES");
  app.test_routes = tr && strcmp(tr, "1") == 0;
  app_apply_cfg(&app, app.cfg);
  describe_metrics();

  /* From here on log lines are batched (one write per batch, not per
   * request); everything is written before serve returns. */
  if (log_async_start((unsigned)cfg_get_int(app.cfg, "server", "log_buffer_ms")))
    log_warn("log batching unavailable (thread): writing each line at once");

  memset(&ho, 0, sizeof(ho));
  ho.listen = listen ? listen : cfg_get_str(app.cfg, "server", "listen");
  ho.threads = (unsigned)cfg_get_int(app.cfg, "server", "threads");
  ho.max_connections = (unsigned)cfg_get_int(app.cfg, "server", "max_connections");
  ho.per_ip_limit = (unsigned)cfg_get_int(app.cfg, "server", "per_ip_connections");
  /* On a loopback address every client is this host: the proxy in front
   * (which the default would cap at 128 connections for all its clients:
   * nginx answers 502 beyond) or a test. The default limit is for clients
   * that connect directly; a value set explicitly applies anyway. */
  if (ho.per_ip_limit && !cfg_is_set(app.cfg, "server", "per_ip_connections") &&
      listen_is_loopback(ho.listen)) {
    ho.per_ip_limit = 0;
    log_info("http: per_ip_connections not applied on the loopback address %s (every client "
             "is this host: a proxy in front); set it to apply it anyway",
             ho.listen);
  }
  ho.timeout_s = (unsigned)cfg_get_int(app.cfg, "server", "timeout");
  ho.header_timeout_s = (unsigned)cfg_get_int(app.cfg, "server", "header_timeout");
  ho.memory_limit = (size_t)cfg_get_int(app.cfg, "server", "memory_limit");
  {
    const char *pin = cfg_get_str(app.cfg, "server", "cpu_affinity");
    ho.cpu_affinity = strcmp(pin, "off") == 0  ? HTTP_PIN_OFF
                      : strcmp(pin, "on") == 0 ? HTTP_PIN_ON
                                               : HTTP_PIN_AUTO;
  }
  fd_limit_check(ho.max_connections);
  if (app_services_init(&app, err, sizeof(err))) {
    log_error("start-up: %s", err);
    rc = 1;
    goto out;
  }
  routes = app_routes(&app, &nroutes);
  if (app.test_routes)
    log_warn("VODGATE_TEST_ROUTES=1: test-only routes are enabled");
  if (http_server_start(&ho, routes, nroutes, &app, &app.http)) {
    rc = 1;
    goto out;
  }
  app_apply_cfg(&app, app.cfg); /* CORS now that the server exists */
  atomic_store(&app.ready, true);
  {
    /* Always written, whatever log_level: supervisors and tests wait for it. */
    enum log_level lvl = log_get_level();
    log_set_level(LOG_INFO);
    log_json(LOG_INFO, json_pack("{s:s,s:i,s:s,s:i}", "msg", "listening", "port",
                                 (int)http_server_port(app.http), "addr",
                                 http_server_addr(app.http), "threads", (int)ho.threads));
    log_set_level(lvl);
  }
  rc = serve_loop(&app, &set);
  http_server_stop(app.http);
  log_info("stopped");
out:
  app_services_release(&app);
  cfg_unref(app.cfg);
  free(app.cfg_path);
  free(app.listen_override);
  pthread_mutex_destroy(&app.cfg_mu);
  metrics_reset();
  log_async_stop();
  return rc;
}
