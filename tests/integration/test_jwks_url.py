"""[auth] jwks_url against a real HTTP server playing the identity provider:
the daemon fetches the JWKS at start, verifies RS256/ES256 tokens by kid,
picks up a rotated key at the next refresh or at once when a token names an
unknown kid, keeps its keys when the provider fails or serves a JWKS it
cannot use, starts from its cached copy when the provider is down, and
refuses what would be unsafe (plain http to another host, credentials in the
URL, jwks_url with jwks_file, changing the URL on reload). Tokens are signed
by Node's crypto (tests/lib/jwtmint.py), not by vodgate."""
import http.client
import http.server
import json
import os
import signal
import threading
import time
import unittest

import jwtmint
import vgtest

ENV = {"VODGATE_VOD_SECRET_ID": "AKIDjwks", "VODGATE_VOD_SECRET_KEY": "k" * 32}


class Provider:
    """Serves whatever JWKS it holds at /jwks (status 200), or fails."""

    def __init__(self):
        self.mu = threading.Lock()
        self.body = b""
        self.status = 200
        self.hits = 0
        self.delay = 0
        p = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                with p.mu:
                    p.hits += 1
                    status, body, delay = p.status, p.body, p.delay
                time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/jwks" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def serve(self, keys, status=200):
        with self.mu:
            self.body = json.dumps({"keys": keys}).encode() if keys is not None else b"not json"
            self.status = status

    def fail(self, status=503):
        with self.mu:
            self.status = status

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def jwk(key, kid, alg):
    return dict(key["jwk"], kid=kid, alg=alg, use="sig")


class JwksUrl(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rsa1 = jwtmint.keygen("rsa")
        cls.rsa2 = jwtmint.keygen("rsa")
        cls.ec = jwtmint.keygen("ec")

    def setUp(self):
        self.tmp = vgtest.TempDir()
        self.p = Provider()
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            d.stop()
        self.p.close()
        self.tmp.cleanup()

    def ini(self, auth, name="vodgate.ini"):
        return self.tmp.file(name, f"""
[server]
listen = 127.0.0.1:0
db = {self.tmp.path}/vg.db
data_dir = {self.tmp.path}/data

[auth]
{auth}
""")

    def start(self, auth):
        self.cfg = self.ini(auth)
        d = vgtest.Daemon(["serve", "--config", self.cfg], env=ENV)
        self.daemons.append(d)
        return d

    def sign(self, d, key, kid, alg="RS256"):
        tok = jwtmint.sign_asym(key["private_pem"], jwtmint.claims(sub="u-" + kid), alg, kid)
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
        c.request("POST", "/v1/upload-signatures", body="{}",
                  headers={"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
        r = c.getresponse()
        body = json.loads(r.read() or b"{}")
        c.close()
        return r.status, body.get("code")

    def wait_status(self, d, key, kid, want, timeout=15, alg="RS256"):
        deadline = time.time() + timeout
        got = None
        while time.time() < deadline:
            got = self.sign(d, key, kid, alg)
            if got[0] == want:
                return
            time.sleep(0.2)
        self.fail("token %s: %s, wanted %d" % (kid, got, want))

    def test_fetch_rotate_and_fall_back(self):
        self.p.serve([jwk(self.rsa1, "k1", "RS256"), jwk(self.ec, "e1", "ES256")])
        d = self.start(f"jwks_url = {self.p.url}\njwks_refresh = 1\n")
        d.wait_log(lambda r: r.get("msg", "").startswith("jwks: keys fetched from 127.0.0.1:"))
        self.assertEqual(self.sign(d, self.rsa1, "k1")[0], 200)
        self.assertEqual(self.sign(d, self.ec, "e1", "ES256")[0], 200)
        self.assertEqual(self.sign(d, self.rsa2, "k2"), (401, 4011))  # unknown kid
        cache = os.path.join(self.tmp.path, "data", "jwks-cache.json")
        self.assertEqual(os.stat(cache).st_mode & 0o777, 0o600)

        # Rotation: k2 published, k1 withdrawn: picked up within a refresh.
        self.p.serve([jwk(self.rsa2, "k2", "RS256")])
        self.wait_status(d, self.rsa2, "k2", 200)
        self.assertEqual(self.sign(d, self.rsa1, "k1")[0], 401)
        d.wait_log(lambda r: r.get("msg", "").startswith("jwks: new keys from 127.0.0.1:"))

        # The provider fails, then serves garbage, then a JWKS without a
        # usable key: the keys in use stay, each time said in the log.
        self.p.fail(503)
        d.wait_log(lambda r: "cannot fetch the JWKS" in r.get("msg", "") and "503" in r["msg"])
        self.assertEqual(self.sign(d, self.rsa2, "k2")[0], 200)
        self.p.serve(None)
        d.wait_log(lambda r: "cannot be used" in r.get("msg", ""))
        self.p.serve([{"kty": "oct", "k": "AAAA", "kid": "h1"}])
        time.sleep(2.5)
        self.assertEqual(self.sign(d, self.rsa2, "k2")[0], 200)
        self.assertEqual(d.stop(), 0)

        # Restart while the provider is down: the cached copy (k2) is used.
        self.p.fail(500)
        d = vgtest.Daemon(["serve", "--config", self.cfg], env=ENV)
        self.daemons.append(d)
        rec = d.wait_log(lambda r: "using the cached copy" in r.get("msg", ""))
        self.assertIn("HTTP status 500", rec["msg"])
        self.assertEqual(self.sign(d, self.rsa2, "k2")[0], 200)
        self.assertEqual(self.sign(d, self.rsa1, "k1")[0], 401)

    def test_cache_mode_whatever_was_left_there(self):
        # A temporary file left in data_dir (mode 0644): the cache is
        # written anew through a file of its own (never that one), 0600 as
        # documented, and nothing of its own is left beside it.
        os.makedirs(os.path.join(self.tmp.path, "data"), mode=0o700)
        cache = os.path.join(self.tmp.path, "data", "jwks-cache.json")
        with open(cache + ".tmp", "w") as f:
            f.write("left over")
        os.chmod(cache + ".tmp", 0o644)
        self.p.serve([jwk(self.rsa1, "k1", "RS256")])
        d = self.start(f"jwks_url = {self.p.url}\n")
        self.assertEqual(self.sign(d, self.rsa1, "k1")[0], 200)
        self.assertEqual(os.stat(cache).st_mode & 0o777, 0o600)
        with open(cache + ".tmp") as f:
            self.assertEqual(f.read(), "left over")
        self.assertEqual(sorted(os.listdir(os.path.dirname(cache))),
                         ["attribution.key", "jwks-cache.json", "jwks-cache.json.tmp"])

    def test_unusable_at_start_keeps_the_cached_copy(self):
        # A first start caches k1.
        self.p.serve([jwk(self.rsa1, "k1", "RS256")])
        d = self.start(f"jwks_url = {self.p.url}\n")
        self.assertEqual(self.sign(d, self.rsa1, "k1")[0], 200)
        self.assertEqual(d.stop(), 0)
        cache = os.path.join(self.tmp.path, "data", "jwks-cache.json")
        with open(cache, "rb") as f:
            good = f.read()
        # The provider answers 200 with something that is no JWKS: the
        # cached copy is used and stays as it was (it is the last good one).
        self.p.serve(None)
        d = vgtest.Daemon(["serve", "--config", self.cfg], env=ENV)
        self.daemons.append(d)
        rec = d.wait_log(lambda r: "using the cached copy" in r.get("msg", ""))
        self.assertIn("it serves one that cannot be used: JWKS: invalid JSON", rec["msg"])
        self.assertEqual(self.sign(d, self.rsa1, "k1")[0], 200)
        self.assertEqual(d.stop(), 0)
        with open(cache, "rb") as f:
            self.assertEqual(f.read(), good)
        # So a restart while the provider is down still has k1.
        self.p.fail(503)
        d = vgtest.Daemon(["serve", "--config", self.cfg], env=ENV)
        self.daemons.append(d)
        self.assertEqual(self.sign(d, self.rsa1, "k1")[0], 200)
        self.assertEqual(d.stop(), 0)
        # A cached copy that was damaged is named as such.
        with open(cache, "wb") as f:
            f.write(good[: len(good) // 2])
        p = vgtest.run(["serve", "--config", self.cfg], env=ENV, check=1, timeout=60)
        self.assertIn("(HTTP status 503), and the cached copy %s cannot be used (JWKS: invalid JSON"
                      % cache, p.stderr)
        # One too large, or not readable, is not "no cached copy" either.
        with open(cache, "wb") as f:
            f.write(b" " * (256 * 1024 + 1))
        p = vgtest.run(["serve", "--config", self.cfg], env=ENV, check=1, timeout=60)
        self.assertIn("and the cached copy %s cannot be used (over 262144 bytes)" % cache, p.stderr)
        os.unlink(cache)
        os.mkdir(cache)
        p = vgtest.run(["serve", "--config", self.cfg], env=ENV, check=1, timeout=60)
        self.assertIn("and the cached copy %s cannot be used (Is a directory)" % cache, p.stderr)

    def test_fetch_failure_says_why(self):
        # Nothing listens there: libcurl's reason, not just "no answer".
        self.p.close()
        p = vgtest.run(["jwt", "verify", "--jwks-url", self.p.url], input="x.y.z\n", check=1)
        self.assertEqual(p.stderr, "vodgate jwt verify: --jwks-url: no answer: "
                         "Couldn't connect to server\n")
        self.p = Provider()
        # A NUL byte (no JSON text has one) is refused, not cut short there.
        with self.p.mu:
            self.p.body = json.dumps({"keys": [jwk(self.rsa1, "k1", "RS256")]}).encode() + b"\0x"
            self.p.status = 200
        p = vgtest.run(["jwt", "verify", "--jwks-url", self.p.url], input="x.y.z\n", check=1)
        self.assertEqual(p.stderr, "vodgate jwt verify: --jwks-url: a NUL byte in the answer\n")

    def test_refused_with_the_rest_of_the_configuration(self):
        # A good new JWKS that the state cannot be rebuilt with, because
        # jwt_public_key_file went away: the log says that, not that the
        # JWKS cannot be used.
        pem = self.tmp.file("pub.pem", self.ec["public_pem"])
        self.p.serve([jwk(self.rsa1, "k1", "RS256")])
        d = self.start(f"jwks_url = {self.p.url}\njwks_refresh = 1\njwt_public_key_file = {pem}\n")
        self.assertEqual(self.sign(d, self.rsa1, "k1")[0], 200)
        os.unlink(pem)
        self.p.serve([jwk(self.rsa2, "k2", "RS256")])
        rec = d.wait_log(lambda r: r.get("msg", "").startswith("jwks: the keys cannot be rebuilt"))
        self.assertIn("[auth] jwt_public_key_file", rec["msg"])
        self.assertFalse([r for r in d.records() if "cannot be used" in r.get("msg", "")])
        self.assertEqual(self.sign(d, self.rsa1, "k1")[0], 200)

    def test_stop_during_a_fetch(self):
        # SIGTERM while a refresh waits for the provider: the fetch is
        # abandoned, and that is no failure to log.
        self.p.serve([jwk(self.rsa1, "k1", "RS256")])
        d = self.start(f"jwks_url = {self.p.url}\njwks_refresh = 1\n")
        with self.p.mu:
            self.p.delay = 8
            hits = self.p.hits
        deadline = time.time() + 10
        while self.p.hits == hits and time.time() < deadline:
            time.sleep(0.05)
        self.assertGreater(self.p.hits, hits)
        self.assertEqual(d.stop(), 0)
        d._t.join(5)  # every line read
        self.assertEqual([r["msg"] for r in d.records() if "jwks:" in r.get("msg", "")],
                         ["jwks: keys fetched from " + self.p.url.split("/")[2]])

    def test_skipped_entries_logged_once(self):
        # An entry vodgate does not use (an encryption key) is logged once
        # per JWKS that brings it: not again by the check made before the
        # build that uses it.
        enc = dict(self.ec["jwk"], kid="x1", use="enc")
        self.p.serve([jwk(self.rsa1, "k1", "RS256"), enc])
        d = self.start(f"jwks_url = {self.p.url}\njwks_refresh = 1\n")
        self.assertEqual(self.sign(d, self.rsa1, "k1")[0], 200)

        def skipped():
            return [r for r in d.records() if r.get("msg", "").startswith("jwks: skipping")]
        self.assertEqual(len(skipped()), 1, skipped())
        self.assertIn('kid x1', skipped()[0]["msg"])
        self.p.serve([jwk(self.rsa2, "k2", "RS256"), enc])
        self.wait_status(d, self.rsa2, "k2", 200)
        d.wait_log(lambda r: r.get("msg", "").startswith("jwks: new keys from"))
        self.assertEqual(len(skipped()), 2, skipped())

    def test_unknown_kid_fetches_at_once(self):
        # A refresh interval far away: only the unknown kid can bring k2 in.
        self.p.serve([jwk(self.rsa1, "k1", "RS256")])
        d = self.start(f"jwks_url = {self.p.url}\njwks_refresh = 1h\n")
        self.assertEqual(self.sign(d, self.rsa1, "k1")[0], 200)
        hits = self.p.hits
        self.p.serve([jwk(self.rsa1, "k1", "RS256"), jwk(self.rsa2, "k2", "RS256")])
        self.assertEqual(self.sign(d, self.rsa2, "k2"), (401, 4011))
        self.wait_status(d, self.rsa2, "k2", 200, timeout=10)
        self.assertEqual(self.p.hits, hits + 1)
        # Another unknown kid within 30 s: no second fetch.
        self.assertEqual(self.sign(d, self.ec, "e9", "ES256"), (401, 4011))
        time.sleep(1)
        self.assertEqual(self.p.hits, hits + 1)

    def test_refused(self):
        cases = [
            ("jwks_url = http://idp.example.com/jwks", "must be https://"),
            ("jwks_url = https://user:pw@idp.example.com/jwks", "without credentials"),
            # Names the resolver answers, not loopback addresses.
            ("jwks_url = http://127.0.0.1./jwks", "must be https://"),
            ("jwks_url = http://127.1.2.3.4:8080/jwks", "must be https://"),
            ("jwks_url = ftp://idp.example.com/jwks", "must be an https:// URL"),
            (f"jwks_url = https://idp.example.com/jwks\njwks_file = {self.tmp.path}/x.json",
             "set one of them"),
        ]
        for auth, want in cases:
            with self.subTest(auth=auth):
                ini = self.ini(auth, "bad.ini")
                p = vgtest.run(["config", "--check", "--config", ini], check=1)
                self.assertIn(want, p.stderr)
                self.assertNotIn("pw@", p.stderr)
        # The other [auth] keys are checked without the JWKS (not fetched
        # by --check), as serve checks them.
        cases = [
            ("jwt_audience = a, b", "[auth] jwt_audience: give one audience"),
            ("jwt_policy_claim = " + "c" * 65, "[auth] jwt_policy_claim: must be a claim name"),
        ]
        for extra, want in cases:
            with self.subTest(extra=extra):
                ini = self.ini(f"jwks_url = https://idp.example.com/jwks\n{extra}\n", "bad.ini")
                p = vgtest.run(["config", "--check", "--config", ini], check=1)
                self.assertIn(want, p.stderr)
        ini = self.ini("jwks_url = https://idp.example.com/jwks\njwt_audience = vodgate\n",
                       "good.ini")
        self.assertEqual(vgtest.run(["config", "--check", "--config", ini], check=0).stdout,
                         "ok\n")
        # Provider down and no cached copy: serve does not start.
        self.p.fail(502)
        ini = self.ini(f"jwks_url = {self.p.url}", "down.ini")
        p = vgtest.run(["serve", "--config", ini], env=ENV, check=1, timeout=60)
        self.assertIn("[auth] jwks_url: cannot fetch the JWKS from 127.0.0.1:", p.stderr)
        self.assertIn("(HTTP status 502), and there is no cached copy", p.stderr)

    def test_cli_verify_with_jwks_url(self):
        self.p.serve([jwk(self.rsa1, "k1", "RS256")])
        tok = jwtmint.sign_asym(self.rsa1["private_pem"], jwtmint.claims(sub="cli"), "RS256", "k1")
        p = vgtest.run(["jwt", "verify", "--jwks-url", self.p.url], input=tok + "\n", check=0)
        self.assertEqual(json.loads(p.stdout)["sub"], "cli")
        other = jwtmint.sign_asym(self.rsa2["private_pem"], jwtmint.claims(), "RS256", "k2")
        p = vgtest.run(["jwt", "verify", "--jwks-url", self.p.url], input=other + "\n", check=1)
        self.assertEqual(json.loads(p.stdout), {"result": "unknown_kid"})
        p = vgtest.run(["jwt", "verify", "--jwks-url", "http://idp.example.com/jwks"],
                       input=tok + "\n", check=1)
        self.assertIn("--jwks-url: must be https://", p.stderr)
        self.p.fail(404)
        p = vgtest.run(["jwt", "verify", "--jwks-url", self.p.url], input=tok + "\n", check=1)
        self.assertEqual(p.stderr, "vodgate jwt verify: --jwks-url: HTTP status 404\n")
        p = vgtest.run(["jwt", "verify", "--jwks-url", self.p.url, "--jwks-file", "x.json"],
                       input=tok + "\n", check=2)
        self.assertIn("not both", p.stderr)

    def test_reload_cannot_change_the_url(self):
        self.p.serve([jwk(self.rsa1, "k1", "RS256")])
        d = self.start(f"jwks_url = {self.p.url}\n")
        self.ini(f"jwks_url = {self.p.url}?other\n")
        d.signal(signal.SIGHUP)
        rec = d.wait_log(lambda r: "jwks_url changed" in r.get("msg", ""))
        self.assertIn("takes a restart", rec["msg"])
        self.assertEqual(self.sign(d, self.rsa1, "k1")[0], 200)
        # The same URL reloads fine: the JWKS in use is kept, not fetched
        # again, also one that replaced the first (k2, brought in by its
        # unknown kid) while the provider now serves nothing usable.
        self.p.serve([jwk(self.rsa2, "k2", "RS256")])
        self.wait_status(d, self.rsa2, "k2", 200)
        self.p.serve(None)
        hits = self.p.hits
        self.ini(f"jwks_url = {self.p.url}\njwt_leeway = 10\n")
        d.signal(signal.SIGHUP)
        d.wait_log(lambda r: r.get("msg") == "configuration reloaded")
        self.assertEqual(self.sign(d, self.rsa2, "k2")[0], 200)
        self.assertEqual(self.sign(d, self.rsa1, "k1")[0], 401)
        self.assertEqual(self.p.hits, hits)


if __name__ == "__main__":
    vgtest.main()
