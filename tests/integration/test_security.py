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


if __name__ == "__main__":
    vgtest.main()
