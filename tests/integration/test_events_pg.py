"""The event receiver on PostgreSQL (run by scripts/pg-test-server.sh, which
sets VODGATE_PG_URL, or skipped): the full flow, and concurrent events of
the same files (each file's NewFileUpload, PROCESSING and FINISH sent at the
same time from three threads) converging to one final state, with no lost
ledger update under READ COMMITTED. Also the signature records on
PostgreSQL (schema 8): a session's first signature in its row, the later
ones in audit, all read through the view `signatures`.
"""
import http.client
import json
import os
import subprocess
import sys
import threading
import time
import unittest

import vgtest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_events as te  # noqa: E402

URL = os.environ.get("VODGATE_PG_URL")


class Pg(te.Base):
    @classmethod
    def setUpClass(cls):
        cls.tmp = vgtest.TempDir()
        ini = te.INI.format(dir=cls.tmp.path, extra=te.SIGNED_EXTRA)
        ini = ini.replace("db = %s/vg.db" % cls.tmp.path, "db = " + URL)
        cls.cfg = cls.tmp.file("vodgate.ini", ini)
        cls.d = vgtest.Daemon(["serve", "--config", cls.cfg], env=cls.env)

    def test_flow(self):
        uid, tok = self.session("alice")
        f = te.new_file_id()
        self.ok_post(te.psc("procedure_block.json", f, ctx=tok))
        self.assertTrue(self.ok_post(te.psc("procedure_block.json", f, ctx=tok))["duplicate"])
        self.ok_post(te.nfu(f, ctx=tok))
        u = self.upload(uid)[1]["data"]
        self.assertEqual((u["state"], u["user"], u["fileId"]), ("blocked", "alice", f))
        self.assertEqual(u["review"], {"suggestion": "block", "label": "sexy", "confidence": 97})
        r = vgtest.run(["uploads", "show", f, "--json", "--config", self.cfg], env=self.env,
                       check=0)
        self.assertEqual(json.loads(r.stdout), u)

    def psql(self, sql):
        r = subprocess.run(["psql", "-X", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1", "-d", URL,
                            "-c", sql], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def test_signature_records(self):
        """Three signatures of one session, each request with its own id: the
        first is recorded in the session's row, the next two as audit rows
        2 and 3; the view reads all three with the right user and request;
        a fourth signature of another user's session is refused and leaves
        nothing."""
        tok = self.hs("sigrec")
        st, doc = self.call("POST", "/v1/upload-signatures", {}, token=tok,
                            headers={"X-Request-Id": "pg-sig-1"})
        self.assertEqual(st, 200, doc)
        up = doc["data"]["uploadId"]
        for i in (2, 3):
            st, doc = self.call("POST", "/v1/upload-signatures", {"uploadId": up}, token=tok,
                                headers={"X-Request-Id": "pg-sig-%d" % i})
            self.assertEqual(st, 200, doc)
        st, doc = self.call("POST", "/v1/upload-signatures", {"uploadId": up},
                            token=self.hs("mallory"), headers={"X-Request-Id": "pg-sig-x"})
        self.assertEqual(st, 404, doc)
        self.assertEqual(self.psql("SELECT n, user_id, request_id FROM signatures WHERE upload_id"
                                   " = '%s' ORDER BY n" % up),
                         "1|sigrec|pg-sig-1\n2|sigrec|pg-sig-2\n3|sigrec|pg-sig-3")
        self.assertEqual(self.psql("SELECT signatures_issued, first_request_id FROM upload_session"
                                   " WHERE upload_id = '%s'" % up), "3|pg-sig-1")
        self.assertEqual(self.psql("SELECT string_agg(n::text, ',' ORDER BY n) FROM audit WHERE"
                                   " upload_id = '%s'" % up), "2,3")
        self.assertEqual(self.psql("SELECT count(*) FROM signatures WHERE request_id ="
                                   " 'pg-sig-x'"), "0")

    @staticmethod
    def settings(line):
        assert line.startswith("store: postgres "), line
        return dict(kv.split("=", 1) for kv in line[len("store: postgres "):].split())

    def test_network_settings(self):
        """Connections get network timeouts unless the URL sets its own
        (a database host that stops answering fails a statement in about a
        minute, not TCP's fifteen), and the settings in effect are logged
        once at open, without the password."""
        rec = self.d.wait_log(lambda x: x.get("msg", "").startswith("store: postgres "))
        got = self.settings(rec["msg"])
        want = {"connect_timeout": "10", "keepalives": "1", "keepalives_idle": "30",
                "keepalives_interval": "10", "keepalives_count": "3",
                "tcp_user_timeout": "60000"}
        self.assertEqual({k: got.get(k) for k in want}, want)
        self.assertNotIn("password", rec["msg"])
        sep = "&" if "?" in URL else "?"
        env = dict(self.env, VODGATE_SERVER_DB=URL + sep + "connect_timeout=7&tcp_user_timeout=5000"
                   "&password=hunter2")
        r = vgtest.run(["events", "list", "--config", self.cfg], env=env, check=0)
        lines = [json.loads(x)["msg"] for x in r.stderr.splitlines() if x.startswith("{")]
        mine = [x for x in lines if x.startswith("store: postgres ")]
        self.assertEqual(len(mine), 1, r.stderr)
        got = self.settings(mine[0])
        self.assertEqual((got["connect_timeout"], got["tcp_user_timeout"], got["keepalives_idle"]),
                         ("7", "5000", "30"))
        self.assertNotIn("hunter2", r.stderr)

    def test_instances_share_the_attribution_key(self):
        """Without [attribution] key_file an instance on PostgreSQL warns that
        its generated key is its own (another instance could not attribute
        the files of its signatures). A second instance given the first's key
        as key_file does not warn, and a file whose session the first opened
        is attributed when its event reaches the second."""
        warning = "[attribution] key_file is not set"
        self.d.wait_log(lambda x: x.get("msg", "").startswith(warning))
        key = os.path.join(self.tmp.path, "data", "attribution.key")
        d2 = vgtest.Daemon(["serve", "--config", self.cfg],
                           env=dict(self.env, VODGATE_ATTRIBUTION_KEY_FILE=key))
        try:
            uid, tok = self.session("shared")
            f = te.new_file_id()
            body = te.nfu(f, ctx=tok)
            body["T"] = int(time.time()) + 600
            body["Sign"] = te.sign(body["T"])
            c = http.client.HTTPConnection("127.0.0.1", d2.port, timeout=40)
            c.request("POST", "/v1/vod/events", body=json.dumps(body))
            r = c.getresponse()
            self.assertEqual(r.status, 200, r.read())
            r.read()
            c.close()
            u = self.upload(uid, sub="shared")[1]["data"]
            self.assertEqual((u["state"], u["user"], u["fileId"]), ("uploaded", "shared", f))
        finally:
            self.assertEqual(d2.stop(), 0)
        self.assertFalse(any(warning in line for line in d2.logs))

    def test_concurrent_events_of_one_file(self):
        files = [te.new_file_id() for _ in range(40)]
        kinds = [lambda f: te.nfu(f), lambda f: te.psc("procedure_processing.json", f),
                 lambda f: te.psc("procedure_review.json", f)]
        errors = []

        def sender(k):
            for f in files:
                st, doc = self.post(kinds[k](f))
                if st != 200:
                    errors.append((st, doc))

        ts = [threading.Thread(target=sender, args=(k,)) for k in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        self.assertEqual(errors, [])
        rows = {u["fileId"]: u for u in self.admin("?limit=1000")}
        for f in files:
            u = rows[f]
            # review (FINISH) + NewFileUpload's media URL: no fact was lost.
            self.assertEqual(u["state"], "review", f)
            self.assertTrue(u["mediaUrl"].endswith(".mp4"))
            ev = json.loads(vgtest.run(["events", "list", "--file", f, "--json", "--config",
                                        self.cfg], env=self.env, check=0).stdout)
            self.assertEqual(len(ev), 3)


if __name__ == "__main__":
    if not URL:
        print("1..0 # SKIP no VODGATE_PG_URL (run through scripts/pg-test-server.sh)")
        sys.exit(0)
    vgtest.main()
