"""`vodgate serve` lifecycle against the real daemon: what SIGTERM past the
drain timeout, and signals arriving during start-up, do to the process and
to what it has already acknowledged."""
import http.client
import json
import os
import signal
import sqlite3
import threading
import time
import unittest

import jwtmint
import vgtest

VOD_KEY = "vod-secret-key-for-tests-0123456789"
HS_SECRET = "hs256-secret-for-tests-0123456789abcdef"
ENV = {"VODGATE_VOD_SECRET_KEY": VOD_KEY, "VODGATE_AUTH_JWT_HS256_SECRET": HS_SECRET}

INI = """
[server]
listen = 127.0.0.1:0
db = {dir}/vg.db
data_dir = {dir}/data
{server_extra}

[vod]
secret_id = AKIDvodgatetest
{vod_extra}

[auth]
jwt_issuer = https://idp.example
jwt_audience = vodgate
"""


def token(sub):
    return jwtmint.hs256(HS_SECRET, jwtmint.claims(sub, iss="https://idp.example", aud="vodgate"))


class DrainTimeoutKeepsAcknowledged(unittest.TestCase):
    def test_signature_records_committed_when_requests_are_cut(self):
        """A SIGTERM whose drain times out (a request still running) used to
        _exit at once: signature records written behind (up to
        signature_flush_ms, here 1000 ms) were lost although their
        signatures had been answered 200; the upload sessions were missing
        from the database after the exit."""
        tmp = vgtest.TempDir()
        try:
            cfg = tmp.file("v.ini", INI.format(
                dir=tmp.path, vod_extra="",
                server_extra="drain_timeout = 0\nsignature_flush_ms = 1000"))
            d = vgtest.Daemon(["serve", "--config", cfg], env=dict(ENV, VODGATE_TEST_ROUTES="1"))
            c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
            ids = []
            for _ in range(3):
                c.request("POST", "/v1/upload-signatures", body="{}",
                          headers={"Authorization": "Bearer " + token("dora"),
                                   "Content-Type": "application/json"})
                r = c.getresponse()
                doc = json.loads(r.read())
                self.assertEqual(r.status, 200, doc)
                ids.append(doc["data"]["uploadId"])

            def slow():
                try:
                    s = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
                    s.request("GET", "/test/slow?ms=8000")
                    s.getresponse().read()
                except OSError:
                    pass  # cut by the drain timeout: expected

            t = threading.Thread(target=slow, daemon=True)
            t.start()
            d.wait_log(lambda x: x.get("msg", "").startswith("test_slow: started"))
            d.signal(signal.SIGTERM)
            self.assertEqual(d.wait(), 0)
            d.wait_log(lambda x: "drain timeout" in x.get("msg", ""))
            con = sqlite3.connect(os.path.join(tmp.path, "vg.db"))
            try:
                got = sorted(r[0] for r in con.execute("SELECT upload_id FROM upload_session"))
                quota = con.execute("SELECT SUM(used) FROM quota").fetchone()[0]
            finally:
                con.close()
            self.assertEqual(got, sorted(ids))
            self.assertEqual(quota, 3)
        finally:
            tmp.cleanup()


if __name__ == "__main__":
    vgtest.main()
