"""vodgate serve / vodgate config: configuration at start-up, from the
outside: bad files and variables stop start-up with a message naming the
key, secrets are never printed, listen address forms."""
import http.client
import json
import os
import re
import resource
import signal
import socket
import subprocess
import unittest

import vgtest


def messages(p):
    """The error text of a failed start: JSON log lines' msg, or raw text."""
    out = []
    for line in (p.stderr or "").splitlines():
        try:
            out.append(json.loads(line).get("msg", ""))
        except ValueError:
            out.append(line)
    return "\n".join(out)


class StartupErrors(unittest.TestCase):
    def setUp(self):
        self.tmp = vgtest.TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def serve_fails(self, ini, env=None, *fragments):
        args = ["serve"]
        if ini is not None:
            args += ["--config", self.tmp.file("v.ini", ini)]
        p = vgtest.run(args, env=env, timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        m = messages(p)
        for f in fragments:
            self.assertIn(f, m)
        return m

    def test_unknown_key(self):
        self.serve_fails("[server]\nlisten = 127.0.0.1:0\nthread = 2\n", None,
                         "v.ini:3", "[server] thread: unknown key")

    def test_unknown_section(self):
        self.serve_fails("[sever]\nlisten = 127.0.0.1:0\n", None, "v.ini:1",
                         "unknown section [sever]")

    def test_bad_value(self):
        self.serve_fails("[server]\nlisten = 127.0.0.1:0\nmax_connections = -1\n", None,
                         "v.ini:3", "[server] max_connections", "out of range")

    def test_bad_policy_value(self):
        self.serve_fails("[server]\nlisten = 127.0.0.1:0\n[policy gold]\none_time = perhaps\n",
                         None, "v.ini:4", "[policy gold] one_time", "not a boolean")

    def test_bad_env_value(self):
        self.serve_fails("[server]\nlisten = 127.0.0.1:0\n",
                         {"VODGATE_POLICY_DEFAULT_UPLOADS_PER_DAY": "many"},
                         "env VODGATE_POLICY_DEFAULT_UPLOADS_PER_DAY",
                         "[policy default] uploads_per_day", "not an integer")

    def test_bad_value_of_each_type_names_the_key(self):
        """One bad value per type of docs/configuration.md's table: serve
        stops with exit 1 and a line naming the variable, the key and the
        rule."""
        cases = [
            ("VODGATE_SERVER_THREADS", "007", "[server] threads: '007' is not an integer"),
            ("VODGATE_AUTH_ALLOW_ANONYMOUS", "TRUE",
             "[auth] allow_anonymous: 'TRUE' is not a boolean"),
            ("VODGATE_SERVER_TIMEOUT", "1.5m", "[server] timeout: '1.5m' is not a duration"),
            ("VODGATE_SERVER_TIMEOUT", "2h", "[server] timeout: 7200 is out of range [1, 3600]"),
            ("VODGATE_SERVER_MEMORY_LIMIT", "64kb",
             "[server] memory_limit: '64kb' is not a size"),
            ("VODGATE_SERVER_LOG_LEVEL", "INFO",
             "[server] log_level: 'INFO' is not one of: debug, info, warn, error"),
            ("VODGATE_SERVER_LISTEN", "example.com:80",
             "[server] listen: 'example.com:80': host must be an IPv4 address"),
            ("VODGATE_POLICY_DEFAULT_CLIENT_MAY_SET", "procedure,foo",
             "[policy default] client_may_set: unknown item 'foo'"),
            ("VODGATE_SERVER_CORS_ORIGINS", "a,,b", "[server] cors_origins: empty list item"),
            ("VODGATE_VOD_SECRET_KEY_FILE", "/nonexistent/k",
             "[vod] secret_key_file: cannot read secret file '/nonexistent/k'"),
        ]
        got = []
        for var, value, frag in cases:
            p = vgtest.run(["serve", "--listen", "127.0.0.1:0"], env={var: value}, timeout=30)
            got.append((var, p.returncode, ("env %s: " % var) + frag in messages(p)))
        self.assertEqual(got, [(var, 1, True) for var, _, _ in cases])

    def test_unknown_env_key(self):
        self.serve_fails(None, {"VODGATE_SERVER_LISTEN": "127.0.0.1:0", "VODGATE_AUTH_JWT_ISSUR": "x"},
                         "env VODGATE_AUTH_JWT_ISSUR", "[auth]: unknown key")

    def test_non_config_variables_are_ignored(self):
        # docs/configuration.md lists the VODGATE_* variables that are not
        # configuration; each must leave start-up alone. VODGATE_UPLOAD_TOKEN
        # is `vodgate upload`'s token: exported for an upload, it stopped
        # `serve` and `config` ("unknown configuration section").
        for var in ["VODGATE_CONFIG", "VODGATE_UPLOAD_TOKEN", "VODGATE_BIN", "VODGATE_SRC"]:
            p = vgtest.run(["config", "--check"], env={var: ""} if var == "VODGATE_CONFIG"
                           else {var: "x"})
            self.assertEqual((var, p.returncode, p.stdout), (var, 0, "ok\n"), p.stderr)
        d = vgtest.Daemon(["serve", "--listen", "127.0.0.1:0"],
                          env={"VODGATE_UPLOAD_TOKEN": "vg_notconfig"})
        self.assertEqual(d.stop(), 0)

    def test_missing_file(self):
        p = vgtest.run(["serve", "--config", "/nonexistent/vodgate.ini"])
        self.assertEqual(p.returncode, 1)
        self.assertIn("/nonexistent/vodgate.ini: cannot read", messages(p))

    def test_missing_secret_file_named_not_printed(self):
        m = self.serve_fails("[server]\nlisten = 127.0.0.1:0\n[vod]\nsecret_id = AKIDx\n"
                             "secret_key_file = /nonexistent/k\n", None,
                             "v.ini:5", "[vod] secret_key_file", "/nonexistent/k")
        self.assertNotIn("AKIDx", m.replace("secret_id", ""))  # ids are not in errors either

    def test_secret_id_without_key(self):
        self.serve_fails(None, {"VODGATE_SERVER_LISTEN": "127.0.0.1:0",
                                "VODGATE_VOD_SECRET_ID": "AKIDx"},
                         "env VODGATE_VOD_SECRET_ID", "[vod] secret_id and secret_key_file",
                         "VODGATE_VOD_SECRET_KEY")

    def test_short_bearer_tokens_refused(self):
        # vodgate's own bearer secrets are guessed online: 16 bytes at least;
        # the length is named, never the value.
        for var, key in (("VODGATE_AUTH_ADMIN_TOKEN", "[auth] admin_token_file"),
                         ("VODGATE_EVENTS_PATH_TOKEN", "[events] path_token_file")):
            m = self.serve_fails(None, {"VODGATE_SERVER_LISTEN": "127.0.0.1:0",
                                        "VODGATE_SERVER_DATA_DIR": self.tmp.path,
                                        "VODGATE_SERVER_DB": self.tmp.path + "/v.db",
                                        var: "hunter2hunter2x"},
                                 key, "15 bytes", "at least 16")
            self.assertNotIn("hunter2", m)
            p = vgtest.run(["config", "--check"], env={var: "hunter2hunter2x"}, timeout=30)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertNotIn("hunter2", p.stdout + p.stderr)

    def test_bind_failure(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        try:
            p = vgtest.run(["serve", "--listen", f"127.0.0.1:{port}"])
            self.assertEqual(p.returncode, 1)
            self.assertIn(f"cannot listen on 127.0.0.1:{port}", messages(p))
        finally:
            s.close()

    def test_usage(self):
        self.assertEqual(vgtest.run(["serve", "--bogus"]).returncode, 2)
        self.assertEqual(vgtest.run(["serve", "extra"]).returncode, 2)
        p = vgtest.run(["serve", "--listen", "nonsense"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("--listen 'nonsense'", p.stderr)
        p = vgtest.run(["serve", "--help"])
        self.assertEqual(p.returncode, 0)
        self.assertIn("usage: vodgate serve", p.stdout)


class ConfigCommand(unittest.TestCase):
    def setUp(self):
        self.tmp = vgtest.TempDir()

    def tearDown(self):
        self.tmp.cleanup()

    def test_check_ok_and_bad(self):
        good = self.tmp.file("g.ini", "[server]\nthreads = 3\n")
        p = vgtest.run(["config", "--check", "--config", good], check=0)
        self.assertEqual(p.stdout, "ok\n")
        bad = self.tmp.file("b.ini", "[server]\nthreads = 300\n")
        p = vgtest.run(["config", "--config", bad], check=1)
        self.assertIn("b.ini:2: [server] threads: 300 is out of range [1, 64]", p.stderr)

    def test_dump_redacts_secrets_and_shows_precedence(self):
        key = self.tmp.file("key", "file-secret-1234567\n")
        ini = self.tmp.file("v.ini", f"[server]\nthreads = 3\n[vod]\nsecret_id = AKIDtest\n"
                            f"secret_key_file = {key}\n")
        p = vgtest.run(["config", "--dump", "--config", ini],
                       env={"VODGATE_SERVER_THREADS": "5",
                            "VODGATE_AUTH_JWT_HS256_SECRET": "env-secret-abcdef"}, check=0)
        self.assertNotIn("file-secret-1234567", p.stdout + p.stderr)
        self.assertNotIn("env-secret-abcdef", p.stdout + p.stderr)
        self.assertIn("threads = 5    ; env VODGATE_SERVER_THREADS\n", p.stdout)
        self.assertIn(";   secret_key: <redacted, 19 bytes, from file>\n", p.stdout)
        self.assertIn(";   jwt_hs256_secret: <redacted, 17 bytes, from env "
                      "VODGATE_AUTH_JWT_HS256_SECRET>\n", p.stdout)

    def test_check_finds_what_start_up_refuses(self):
        """--check refuses what serve's start-up refuses, short of the
        database (it said "ok" to each of these, and serve then exited 1),
        and creates nothing (no generated attribution key)."""
        hs = {"VODGATE_AUTH_JWT_HS256_SECRET": "s" * 32}
        cases = [
            ({"VODGATE_AUTH_JWT_PUBLIC_KEY_FILE": "/nonexistent/idp.pem"},
             "[auth] jwt_public_key_file /nonexistent/idp.pem: No such file or directory"),
            ({"VODGATE_ATTRIBUTION_KEY_FILE": "/nonexistent/attr.key"},
             "[attribution] key file /nonexistent/attr.key: No such file or directory"),
            (dict(hs, VODGATE_AUTH_JWT_AUDIENCE="a,b"),
             "[auth] jwt_audience: give one audience (vodgate's own name)"),
            ({"VODGATE_AUTH_JWT_HS256_SECRET": "short"},
             "[auth] jwt_hs256_secret: 5 bytes is too short; use at least 32 random bytes"),
            ({"VODGATE_WEBHOOK_URL": "ftp://app/h"},
             "[webhook] url: must be an http:// or https:// URL"),
            ({"VODGATE_WEBHOOK_URL": "http://app/h", "VODGATE_WEBHOOK_SECRET": "whk",
              "VODGATE_WEBHOOK_RETRY_SCHEDULE": "1s, 8d"},
             "[webhook] retry_schedule: item 2 is not a duration of 1s..7d"),
            ({"VODGATE_EVENTS_MODE": "pull"},
             "[events] mode = pull needs [vod] secret_id and secret_key_file"),
        ]
        served = vgtest.TempDir()  # serve opens its database before these checks
        got, want = [], []
        try:
            for env, msg in cases:
                p = vgtest.run(["config", "--check"], env=env, cwd=self.tmp.path)
                got.append(("check", p.returncode, p.stdout, msg in p.stderr))
                want.append(("check", 1, "", True))
                p = vgtest.run(["serve", "--listen", "127.0.0.1:0"], env=env, cwd=served.path)
                got.append(("serve", p.returncode, msg in messages(p)))
                want.append(("serve", 1, True))
        finally:
            served.cleanup()
        self.assertEqual(got, want)
        p = vgtest.run(["config", "--check"], env=hs, cwd=self.tmp.path)
        self.assertEqual((p.returncode, p.stdout), (0, "ok\n"), p.stderr)
        # Suffixes in either case, as every other duration.
        p = vgtest.run(["config", "--check"], cwd=self.tmp.path,
                       env=dict(hs, VODGATE_WEBHOOK_URL="http://app/h",
                                VODGATE_WEBHOOK_SECRET="whk",
                                VODGATE_WEBHOOK_RETRY_SCHEDULE="5S, 2M, 1H, 1D"))
        self.assertEqual((p.returncode, p.stdout), (0, "ok\n"), p.stderr)
        self.assertEqual(os.listdir(self.tmp.path), [])

    def test_docs_table_is_current(self):
        # docs/configuration.md ends with `vodgate config --schema`; regenerate
        # it when a key changes.
        p = vgtest.run(["config", "--schema"], check=0)
        with open(os.path.join(vgtest.SRC, "docs", "configuration.md")) as f:
            doc = f.read()
        self.assertIn(p.stdout, doc, "docs/configuration.md is stale: paste `vodgate config --schema`")

    def test_schema_lists_every_key(self):
        p = vgtest.run(["config", "--schema"], check=0)
        for k in ["`listen`", "`cors_origins`", "`secret_key_file`", "`jwt_policy_claim`",
                  "`uploads_per_day`", "`client_may_set`", "`path_token_file`"]:
            self.assertIn(k, p.stdout)


class EveryCommandHelp(unittest.TestCase):
    def test_every_command_has_help(self):
        """Each command `vodgate help` lists answers --help with its usage on
        stdout and exit 0 (README.md: "Every subcommand has --help");
        `version --help` printed the version instead."""
        p = vgtest.run(["help"], check=0)
        names = [line.split()[0] for line in p.stdout.split("commands:\n")[1].split("\n\n")[0]
                 .splitlines()]
        self.assertIn("version", names)
        got = {}
        for n in names:
            p = vgtest.run([n, "--help"])
            got[n] = (p.returncode, p.stdout.startswith("usage: vodgate " + n))
        self.assertEqual(got, {n: (0, True) for n in names})
        self.assertEqual(vgtest.run(["version", "extra"]).returncode, 2)


class DocsMetrics(unittest.TestCase):
    def test_every_emitted_metric_is_documented(self):
        """Each metric family /metrics emits (after a signature, an auth
        failure, an event, a long poll and a reload) is named in
        docs/api.md (its table lacked some, and one label was wrong)."""
        tmp = vgtest.TempDir()
        ini = tmp.file("v.ini", "[server]\nlisten = 127.0.0.1:0\n[events]\n"
                       "allow_unauthenticated = true\n")
        env = {"VODGATE_VOD_SECRET_ID": "AKIDdocs", "VODGATE_VOD_SECRET_KEY": "k" * 32,
               "VODGATE_AUTH_JWT_HS256_SECRET": "s" * 32}
        d = vgtest.Daemon(["serve", "--config", ini], env=env)
        try:
            tok = vgtest.run(["jwt", "--sub", "docs"], env=env, check=0).stdout.strip()

            def req(method, path, body=None, token=None):
                c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=20)
                c.request(method, path, body=body,
                          headers={"Authorization": "Bearer " + token} if token else {})
                r = c.getresponse()
                data = r.read()
                c.close()
                return r.status, data

            st, data = req("POST", "/v1/upload-signatures", "{}", tok)
            self.assertEqual(st, 200, data)
            up = json.loads(data)["data"]["uploadId"]
            self.assertEqual(req("POST", "/v1/upload-signatures")[0], 401)
            self.assertEqual(req("GET", "/v1/uploads/%s?wait=1" % up, token=tok)[0], 200)
            self.assertEqual(req("POST", "/v1/vod/events", "not json")[0], 400)
            d.signal(signal.SIGHUP)
            d.wait_log(lambda r: r.get("msg") == "configuration reloaded")
            st, data = req("GET", "/metrics")
        finally:
            self.assertEqual(d.stop(), 0)
            tmp.cleanup()
        names = set()
        for line in data.decode().splitlines():
            if line.startswith("# TYPE "):
                names.add(line.split()[2])
        with open(os.path.join(vgtest.SRC, "docs", "api.md")) as f:
            doc = f.read()
        self.assertIn("vodgate_signatures_issued_total", names)
        self.assertEqual(sorted(n for n in names if "`%s`" % n not in doc), [])


class DocsErrorCodes(unittest.TestCase):
    def test_error_table_matches_the_code(self):
        """docs/api.md's error table lists exactly the codes of
        src/http/errors.h, each with its HTTP status (code / 10; 0 is 200)
        and the name vg_code_name() gives it."""
        def src(path):
            with open(os.path.join(vgtest.SRC, path)) as f:
                return f.read()
        codes = dict(re.findall(r"(VG_CODE_\w+) = (\d+)", src("src/http/errors.h")))
        names = dict(re.findall(r'case (VG_CODE_\w+): return "(\w+)";', src("src/http/http.c")))
        want = sorted((int(v), int(v) // 10 or 200, names[k]) for k, v in codes.items())
        doc = src("docs/api.md")
        table = doc[doc.index("| code | HTTP | name | meaning |"):]
        table = table[:table.index("\n\n")]
        got = sorted((int(c), int(h), n) for c, h, n in
                     re.findall(r"^\| (\d+) \| (\d+) \| (\w+) \|", table, re.M))
        self.assertEqual(len(want), 14)
        self.assertEqual(got, want)


class DocsRoutes(unittest.TestCase):
    def test_every_route_is_documented(self):
        """Each route of src/svc/routes.c is documented with its method:
        the service's in docs/api.md, the test-only ones in
        docs/configuration.md."""
        def src(path):
            with open(os.path.join(vgtest.SRC, path)) as f:
                return f.read()
        routes = re.findall(r'\{(NULL|"[A-Z]+"),\s+"(/[^"]*)"', src("src/svc/routes.c"))
        api, conf = src("docs/api.md"), src("docs/configuration.md")
        missing = []
        for method, path in routes:
            doc = conf if path.startswith("/test/") else api
            m = method.strip('"')
            if method == "NULL":  # any method: the receiver documents POST
                m = "POST"
            if not re.search(re.escape(m) + r" " + re.escape(path) + r"\b", doc):
                missing.append((m, path))
        self.assertEqual(len(routes), 11)
        self.assertEqual(missing, [])


class OpenFileLimit(unittest.TestCase):
    """Past RLIMIT_NOFILE new connections waited unanswered with nothing in
    the log (systemd's default soft limit, 1024, is below max_connections'
    default plus what serve needs besides). serve raises the soft limit
    toward the hard one, and warns when that is not enough."""

    def start(self, soft, hard):
        def limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        tmp = vgtest.TempDir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("VODGATE_")}
        p = subprocess.Popen([vgtest.BIN, "serve", "--listen", "127.0.0.1:0"], env=env,
                             cwd=tmp.path, preexec_fn=limit, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        msgs = []
        try:
            for line in p.stderr:
                msgs.append(json.loads(line)["msg"])
                if msgs[-1] == "listening":
                    break
            with open("/proc/%d/limits" % p.pid) as f:
                now = [int(x) for x in
                       [l for l in f if l.startswith("Max open files")][0].split()[3:5]]
        finally:
            p.send_signal(signal.SIGTERM)
            p.communicate(timeout=30)
            tmp.cleanup()
        self.assertEqual(p.returncode, 0)
        return [m for m in msgs if "open file limit" in m], now

    def test_raised_to_the_hard_limit(self):
        got, now = self.start(100, 4096)
        self.assertEqual(got, ["raised the open file limit from 100 to 1152 for [server] "
                               "max_connections 1024"])
        self.assertEqual(now, [1152, 4096])

    def test_warns_when_the_hard_limit_is_too_low(self):
        got, now = self.start(64, 200)
        self.assertEqual(got, ["the open file limit (200, hard 200) is below [server] "
                               "max_connections 1024 + 128: connections past it wait "
                               "unanswered; raise it (systemd LimitNOFILE=, ulimit -n) or "
                               "lower max_connections"])
        self.assertEqual(now, [200, 200])


class ReloadRestartKeys(unittest.TestCase):
    """A reload that changes a key only read at start-up says so (it used to
    be silent for the workers' keys: the puller's and the forwarder's)."""

    def test_worker_keys_warn(self):
        tmp = vgtest.TempDir()
        try:
            base = "[server]\nlisten = 127.0.0.1:0\n"
            ini = tmp.file("v.ini", base + "[events]\npull_interval = 1\n"
                           "[webhook]\nretry_for = 1d\n")
            d = vgtest.Daemon(["serve", "--config", ini])
            try:
                tmp.file("v.ini", base + "[events]\npull_interval = 2\n"
                         "[webhook]\nretry_for = 2d\nurl = http://127.0.0.1:9/h\n"
                         "[policy default]\nuploads_per_day = 5\n")
                d.signal(signal.SIGHUP)
                d.wait_log(lambda r: r.get("msg") == "configuration reloaded")
                warned = sorted(r["msg"] for r in d.records()
                                if r.get("msg", "").startswith("reload:"))
            finally:
                self.assertEqual(d.stop(), 0)
        finally:
            tmp.cleanup()
        self.assertEqual(warned, [
            "reload: [events] pull_interval changed; it takes effect on restart",
            "reload: [webhook] retry_for changed; it takes effect on restart",
            "reload: [webhook] url or secret was set or unset; the webhook forwarder starts "
            "or stops on restart",
        ])


class Listen(unittest.TestCase):
    def get(self, host, port, path="/healthz"):
        c = http.client.HTTPConnection(host, port, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        c.close()
        return r.status

    def test_colon_port_binds_loopback(self):
        d = vgtest.Daemon(["serve", "--listen", ":0"])
        try:
            rec = [r for r in d.records() if r.get("msg") == "listening"][0]
            self.assertEqual(rec["addr"], "127.0.0.1")
            self.assertEqual(self.get("127.0.0.1", d.port), 200)
        finally:
            self.assertEqual(d.stop(), 0)

    def test_env_listen(self):
        d = vgtest.Daemon(["serve"], env={"VODGATE_SERVER_LISTEN": "127.0.0.1:0"})
        try:
            self.assertEqual(self.get("127.0.0.1", d.port), 200)
        finally:
            self.assertEqual(d.stop(), 0)

    def test_ipv6_loopback(self):
        try:
            s = socket.socket(socket.AF_INET6)
            s.bind(("::1", 0))
            s.close()
        except OSError:
            self.skipTest("no IPv6 loopback here")
        d = vgtest.Daemon(["serve", "--listen", "[::1]:0"])
        try:
            rec = [r for r in d.records() if r.get("msg") == "listening"][0]
            self.assertEqual(rec["addr"], "::1")
            self.assertEqual(self.get("::1", d.port), 200)
        finally:
            self.assertEqual(d.stop(), 0)

    def test_listen_option_overrides_config(self):
        tmp = vgtest.TempDir()
        try:
            ini = tmp.file("v.ini", "[server]\nlisten = 127.0.0.1:1\n")
            d = vgtest.Daemon(["serve", "--config", ini, "--listen", "127.0.0.1:0"])
            try:
                self.assertNotEqual(d.port, 1)
                self.assertEqual(self.get("127.0.0.1", d.port), 200)
            finally:
                self.assertEqual(d.stop(), 0)
        finally:
            tmp.cleanup()

    def test_secret_not_in_serve_logs(self):
        d = vgtest.Daemon(["serve", "--listen", "127.0.0.1:0"],
                          env={"VODGATE_VOD_SECRET_ID": "AKIDx",
                               "VODGATE_VOD_SECRET_KEY": "serve-secret-987654",
                               "VODGATE_SERVER_LOG_LEVEL": "debug"})
        try:
            self.assertEqual(self.get("127.0.0.1", d.port), 200)
        finally:
            self.assertEqual(d.stop(), 0)
        self.assertFalse(any("serve-secret-987654" in l for l in d.logs))


if __name__ == "__main__":
    vgtest.main()
