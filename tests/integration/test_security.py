"""Adversarial checks of what vodgate does with input from outside and with
its secrets (docs/security review): each test reproduces a problem found in
the review and pins the fix.
"""
import json
import os
import socket
import time
import unittest

import vgtest

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
