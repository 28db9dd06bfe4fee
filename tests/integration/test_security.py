"""Adversarial checks of what vodgate does with input from outside and with
its secrets (docs/security review): each test reproduces a problem found in
the review and pins the fix.
"""
import base64
import http.client
import json
import os
import signal
import socket
import time
import unittest
import urllib.parse

import jwtmint
import vgtest

HS_SECRET = "hs256-secret-for-security-tests-0123456789"

PG_PASSWORD = "Pg-Secret-Passw0rd"


class PostgresUrlPassword(unittest.TestCase):
    """libpq's message for a URL that does not parse quotes the URL (or the
    failing part), password included; vodgate logged it as it was."""

    URLS = [
        # "end of string reached when looking for matching "]" ... in URI: "<whole URL>""
        "postgres://bob:%s@[::1/vodgate" % PG_PASSWORD,
        # "invalid percent-encoded token: "<the password>""
        "postgres://bob:%s%%zz@db.example/vodgate" % PG_PASSWORD,
        "postgresql://db.example/vodgate?password=%s%%zz" % PG_PASSWORD,
        "postgresql://bob:%s@[db.example/vodgate?password=%s&x=1" % (PG_PASSWORD, PG_PASSWORD),
    ]

    def test_cli_never_logs_the_password(self):
        for url in self.URLS:
            p = vgtest.run(["token", "list", "--db", url], check=1)
            self.assertNotIn(PG_PASSWORD, p.stdout + p.stderr, url)
            self.assertIn("store: the postgres URL does not parse", p.stderr, url)
            self.assertIn("cannot open the database", p.stderr, url)

    def test_what_is_wrong_is_still_said(self):
        p = vgtest.run(["token", "list", "--db", self.URLS[0]], check=1)
        self.assertIn('matching \\"]\\" in IPv6 host address in URI: '
                      '\\"postgres://bob:xxxxx@[::1/vodgate\\"', p.stderr)
        p = vgtest.run(["token", "list", "--db", self.URLS[1]], check=1)
        self.assertIn("a password in it is malformed", p.stderr)

    def test_serve_never_logs_the_password(self):
        tmp = vgtest.TempDir()
        try:
            cfg = tmp.file("v.ini", "[server]\nlisten = 127.0.0.1:0\ndb = %s\ndata_dir = %s\n"
                           % (self.URLS[0], tmp.path))
            p = vgtest.run(["serve", "--config", cfg], check=1)
            self.assertNotIn(PG_PASSWORD, p.stdout + p.stderr)
            self.assertIn("store: the postgres URL does not parse", p.stderr)
        finally:
            tmp.cleanup()


class ConfigDumpUrlPasswords(unittest.TestCase):
    """`vodgate config --dump` redacts every secret file and variable, but
    printed a password written in the database or webhook URL as it was."""

    def test_url_passwords_redacted(self):
        tmp = vgtest.TempDir()
        try:
            cfg = tmp.file("v.ini", "[server]\n"
                           "db = postgresql://bob:%s@db.example:5432/vg?sslmode=require&password=%s\n"
                           "[webhook]\nurl = https://hook:%s@hooks.example/in?x=1\n"
                           % (PG_PASSWORD, PG_PASSWORD, PG_PASSWORD))
            p = vgtest.run(["config", "--dump", "--config", cfg], check=0)
            self.assertNotIn(PG_PASSWORD, p.stdout + p.stderr)
            self.assertIn("db = postgresql://bob:<redacted>@db.example:5432/vg?sslmode=require"
                          "&password=<redacted>    ; ", p.stdout)
            self.assertIn("url = https://hook:<redacted>@hooks.example/in?x=1    ; ", p.stdout)
            self.assertIn("listen = 127.0.0.1:8080    ; default\n", p.stdout)
        finally:
            tmp.cleanup()


SESSION_INI = """
[server]
listen = 127.0.0.1:0
db = {dir}/vg.db
data_dir = {dir}/data

[vod]
secret_id = AKIDsecuritytest

[auth]
jwt_policy_claim = plan

[policy default]
procedure = ReviewFlow
{default_extra}

[policy trusted]
procedure =
"""


class SessionReuseAfterPolicyChange(unittest.TestCase):
    """A reused upload session is signed with its stored parameters. A user
    whose policy became stricter (a new plan claim, or a reload) went on
    getting signatures the policy now refuses, e.g. without its review
    procedure, for the session's 24 hours."""

    def setUp(self):
        self.tmp = vgtest.TempDir()
        self.cfg = self.tmp.file("v.ini", SESSION_INI.format(
            dir=self.tmp.path, default_extra="client_may_set = procedure"))
        self.d = vgtest.Daemon(["serve", "--config", self.cfg],
                               env={"VODGATE_VOD_SECRET_KEY": "vod-secret-key-0123456789",
                                    "VODGATE_AUTH_JWT_HS256_SECRET": HS_SECRET})

    def tearDown(self):
        rc = self.d.stop()
        self.tmp.cleanup()
        self.assertEqual(rc, 0)

    def sign(self, plan, body):
        tok = jwtmint.hs256(HS_SECRET, jwtmint.claims("mallory", plan=plan))
        c = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=10)
        c.request("POST", "/v1/upload-signatures", body=json.dumps(body),
                  headers={"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
        r = c.getresponse()
        doc = json.loads(r.read())
        c.close()
        params = None
        if r.status == 200:
            raw = base64.b64decode(doc["data"]["signature"])[20:]
            params = dict(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True))
        return r.status, doc, params

    def test_other_policy_cannot_continue_the_session(self):
        st, doc, p = self.sign("trusted", {})
        self.assertEqual(st, 200, doc)
        self.assertNotIn("procedure", p)
        up = doc["data"]["uploadId"]
        self.assertEqual(self.sign("trusted", {"uploadId": up})[0], 200)
        # demoted: [policy default] runs ReviewFlow on every upload
        st, doc, p = self.sign(None, {"uploadId": up})
        self.assertEqual((st, doc["code"]), (403, 4031), p)
        self.assertIn("another policy", doc["message"])

    def test_reload_that_tightens_the_policy_applies_to_open_sessions(self):
        st, doc, p = self.sign(None, {"procedure": ""})  # cleared: no review
        self.assertEqual(st, 200, doc)
        self.assertNotIn("procedure", p)
        up = doc["data"]["uploadId"]
        self.assertEqual(self.sign(None, {"uploadId": up})[0], 200)
        # the operator takes the choice away again
        self.tmp.file("v.ini", SESSION_INI.format(dir=self.tmp.path, default_extra=""))
        self.d.signal(signal.SIGHUP)
        self.d.wait_log(lambda r: r.get("msg") == "configuration reloaded")
        st, doc, p = self.sign(None, {"uploadId": up})
        self.assertEqual((st, doc["code"]), (403, 4031), p)
        self.assertIn("policy 'default' no longer allows", doc["message"])
        # a session of the new rules is fine, and continues
        st, doc, p = self.sign(None, {})
        self.assertEqual((st, p["procedure"]), (200, "ReviewFlow"))
        self.assertEqual(self.sign(None, {"uploadId": doc["data"]["uploadId"]})[0], 200)


PATH_TOKEN = "pathTokenForSecurityTests0123456789"


def raw_request(port, data):
    """Send raw bytes, return the status line of the answer."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(data)
        out = b""
        while b"\r\n" not in out:
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
        return out.split(b"\r\n", 1)[0].decode()
    finally:
        s.close()


class PathTokenInRequestLog(unittest.TestCase):
    """The request log line shows /v1/vod/events/<redacted> for requests the
    route answers, but a request refused before routing (framing, a bad URL)
    was logged with its path as received: the path token in clear."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = vgtest.TempDir()
        cfg = cls.tmp.file("v.ini", "[server]\nlisten = 127.0.0.1:0\ndb = %s/vg.db\n"
                           "data_dir = %s/data\n" % (cls.tmp.path, cls.tmp.path))
        cls.d = vgtest.Daemon(["serve", "--config", cfg],
                              env={"VODGATE_EVENTS_PATH_TOKEN": PATH_TOKEN})

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        cls.tmp.cleanup()
        assert rc == 0, "\n".join(cls.d.logs[-30:])

    def test_refused_requests_are_logged_redacted(self):
        path = "/v1/vod/events/" + PATH_TOKEN
        cases = [
            (path, b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n", "400"),
            (path, b"Content-Length: abc\r\n", "400"),
            (path + "/%00", b"Content-Length: 2\r\n", "400"),
            (path, b"Content-Length: 99999999\r\n", "413"),
            (path, b"Content-Length: 2\r\n", "400"),  # routed: "{}" is no event
        ]
        for i, (p, headers, want) in enumerate(cases):
            req = (b"POST " + p.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                   b"X-Request-Id: redact-%d\r\n" % i + headers + b"\r\n{}")
            self.assertIn(" " + want + " ", raw_request(self.d.port, req), p)
        self.d.wait_log(lambda r: r.get("request_id") == "redact-%d" % (len(cases) - 1))
        logged = {r["request_id"]: r["path"] for r in self.d.records()
                  if r.get("msg") == "request" and r.get("request_id", "").startswith("redact-")}
        # redact-1 never reaches vodgate's handler: MHD refuses the
        # Content-Length itself, and logs nothing
        self.assertEqual(logged, {"redact-%d" % i: "/v1/vod/events/<redacted>" for i in (0, 2, 3, 4)})
        self.assertNotIn(PATH_TOKEN, "\n".join(self.d.logs))


if __name__ == "__main__":
    vgtest.main()
