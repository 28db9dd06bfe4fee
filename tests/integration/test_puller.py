"""The event puller (PULL mode, spec tencent-vod.md 5.2) against the fake
API 3.0 server tests/lib/fakevod.py: every event is taken in exactly once,
confirmed only after it was committed, and the puller survives errors,
timeouts and a SIGKILL between commit and confirm."""
import json
import os
import signal
import sqlite3
import time
import unittest

import fakevod
import vgtest

SECRET_ID = "AKIDpullertest"
SECRET_KEY = "pullerSecretKey0123456789abcdefg"
SUB_APP = 1500000001

_fid = [int(time.time() * 1000) % 10**9]


def new_file_id():
    _fid[0] += 1
    return "52858907%011d" % _fid[0]


def nfu(fid):
    return {"EventType": "NewFileUpload",
            "FileUploadEvent": {"FileId": fid,
                                "MediaBasicInfo": {"Name": "clip-" + fid, "Type": "mp4",
                                                   "MediaUrl": "https://x.vod2.myqcloud.com/" + fid + ".mp4",
                                                   "SourceInfo": {"SourceType": "Upload"}},
                                "MetaData": {"Size": 1000, "Duration": 3, "Container": "mp4"}}}


def cfg(dirpath, url, extra=""):
    return f"""
[server]
listen = 127.0.0.1:0
db = {dirpath}/vg.db
data_dir = {dirpath}/data

[vod]
secret_id = {SECRET_ID}
api_endpoint = {url}
sub_app_id = {SUB_APP}
region = ap-guangzhou

[events]
mode = pull
pull_timeout = 2
pull_interval = 0
pull_backoff_max = 1

[webhook]
url = http://127.0.0.1:9/hook
""" + extra


ENV = {"VODGATE_VOD_SECRET_KEY": SECRET_KEY}


def db_rows(path, sql, args=()):
    c = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


class TC3Vectors(unittest.TestCase):
    """The fake server's verifier is only as good as its signing code:
    check it against the spec's vectors (section 7), which vodgate's own
    tc3 module is also tested with."""

    def test_spec_vectors(self):
        sk = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
        ct = "application/json; charset=utf-8"
        self.assertEqual(fakevod.tc3_signature(sk, "vod.tencentcloudapi.com", ct, b"{}", 1551113065, "vod")[0],
                         "1380c31fb07a8e99580795600a0e306091c40e01facf95b9641bf1852cd7b285")
        self.assertEqual(fakevod.tc3_signature(sk, "vod.tencentcloudapi.com", ct,
                                               b'{"EventHandles":["EventHandle1"]}', 1551113065, "vod")[0],
                         "88581d64a8696ee0f5ceca4e65d2adbf03b10b571d395807817ff068994698be")
        self.assertEqual(fakevod.tc3_signature(sk, "127.0.0.1:8080", ct, b"{}", 1551113065, "vod")[0],
                         "dde1497860200ff7a01024b0da9236b9d8cffcf115531167ccde765787f0c143")


class Puller(unittest.TestCase):
    def setUp(self):
        self.tmp = vgtest.TempDir()
        self.db = os.path.join(self.tmp.path, "vg.db")
        self.fake = fakevod.FakeVod(SECRET_ID, SECRET_KEY, lease=2.0, hold=0.3, delay=3.0)
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            d.stop()
        self.fake.close()
        self.tmp.cleanup()

    def start(self, extra="", env=None):
        path = self.tmp.file("vodgate.ini", cfg(self.tmp.path, self.fake.url, extra))
        d = vgtest.Daemon(["serve", "--config", path], env=dict(ENV, **(env or {})))
        self.daemons.append(d)
        return d

    def committed_check(self):
        """on_confirm: every event confirmed must already be in the DB."""
        def check(objs):
            for o in objs:
                fid = o.get("FileUploadEvent", {}).get("FileId") if isinstance(o, dict) else None
                if fid is None:
                    continue  # malformed: checked through the quarantine
                rows = db_rows(self.db, "SELECT source FROM event WHERE event_key = ?",
                               ("NewFileUpload/" + fid,))
                if rows != [("pull",)]:
                    raise AssertionError("confirm before commit: " + fid)
        self.fake.on_confirm = check

    def event_keys(self):
        return sorted(r[0] for r in db_rows(self.db, "SELECT event_key FROM event"))

    def test_every_event_once_confirmed_after_commit(self):
        fids = [new_file_id() for _ in range(40)]
        self.committed_check()
        for f in fids:
            self.fake.add(nfu(f))
        # The same event delivered twice by VOD (two queue entries): one effect.
        self.fake.add(nfu(fids[0]))
        # Malformed items: quarantined, then confirmed (or they would loop).
        self.fake.add({"EventType": "NewFileUpload"})
        self.fake.add({"EventType": "ProcedureStateChanged", "ProcedureStateChangeEvent": {"TaskId": 7}})
        d = self.start()
        self.fake.wait_all_confirmed()
        self.assertEqual(self.event_keys(), sorted("NewFileUpload/" + f for f in fids))
        self.assertEqual(db_rows(self.db, "SELECT COUNT(*) FROM quarantine"), [(2,)])
        # One effect per event: one outbox row per new event, none for the duplicate.
        self.assertEqual(db_rows(self.db, "SELECT COUNT(*), COUNT(DISTINCT event_key) FROM outbox"),
                         [(40, 40)])
        self.assertEqual(self.fake.violations, [])
        self.assertEqual(self.fake.auth_failures, [])
        self.assertEqual(self.fake.confirm_rejected, 0)
        self.assertTrue(all(len(c) <= 16 for c in self.fake.confirm_calls))
        self.assertEqual(sum(len(c) for c in self.fake.confirm_calls), 43)
        self.assertEqual(self.fake.sub_app_ids, {SUB_APP})
        # What it sent: the headers of the Node SDK, signed Host = sent Host.
        action, h, body = self.fake.requests[0]
        self.assertEqual(action, "PullEvents")
        self.assertEqual(h["X-TC-Version"], "2018-07-17")
        self.assertEqual(h["Host"], "127.0.0.1:%d" % self.fake.port)
        self.assertEqual(h["Content-Type"], "application/json")
        self.assertEqual(h["X-TC-Region"], "ap-guangzhou")
        self.assertEqual(json.loads(body), {"SubAppId": SUB_APP})
        self.assertEqual(d.stop(), 0)

    def test_survives_errors_and_timeouts(self):
        fids = [new_file_id() for _ in range(20)]
        self.committed_check()
        self.fake.pull_faults = ["500", "error", "malformed", "delay", "500"]
        self.fake.confirm_faults = ["500", "error"]
        for f in fids:
            self.fake.add(nfu(f))
        d = self.start()
        self.fake.wait_all_confirmed()
        self.assertEqual(self.event_keys(), sorted("NewFileUpload/" + f for f in fids))
        self.assertEqual(db_rows(self.db, "SELECT COUNT(*) FROM outbox"), [(20,)])
        self.assertEqual(self.fake.pull_faults, [])
        self.assertEqual(self.fake.confirm_faults, [])
        # The events of the two failed confirms were pulled again (after the
        # lease) and confirmed then: their second intake was a duplicate.
        self.assertTrue(any(e["pulls"] >= 2 for e in self.fake.events))
        self.assertTrue(all(e["confirms"] == 1 for e in self.fake.events))
        self.assertEqual(self.fake.violations, [])
        self.assertEqual(self.fake.auth_failures, [])
        d.wait_log(lambda r: "PullEvents error InternalError" in r.get("msg", ""))
        d.wait_log(lambda r: "PullEvents answered HTTP 500" in r.get("msg", ""))
        d.wait_log(lambda r: "PullEvents failed" in r.get("msg", ""))  # the client timeout
        self.assertEqual(d.stop(), 0)
        for line in d.logs:
            self.assertNotIn(SECRET_KEY, line)

    def test_sigkill_between_commit_and_confirm(self):
        fids = [new_file_id() for _ in range(5)]
        self.committed_check()
        # The first ConfirmEvents hangs past the lease: kill the daemon then.
        self.fake.confirm_faults = ["delay"]
        self.fake.delay = 6.0
        for f in fids:
            self.fake.add(nfu(f))
        d = self.start()
        deadline = time.time() + 30
        while time.time() < deadline and not any(a == "ConfirmEvents" for a, _, _ in self.fake.requests):
            time.sleep(0.05)
        self.assertEqual(self.event_keys(), sorted("NewFileUpload/" + f for f in fids))
        d.signal(signal.SIGKILL)
        d.wait()
        self.assertEqual(len(self.fake.confirmed()), 0)
        # Restart: the new puller takes the dead one's lease once it expires
        # (30 s), VOD offers the events again; they are confirmed, once, and
        # have no second effect.
        d2 = self.start()
        self.fake.wait_all_confirmed(timeout=120)
        self.assertEqual(self.event_keys(), sorted("NewFileUpload/" + f for f in fids))
        self.assertEqual(db_rows(self.db, "SELECT COUNT(*) FROM outbox"), [(5,)])
        self.assertTrue(all(e["pulls"] == 2 and e["confirms"] == 1 for e in self.fake.events))
        self.assertEqual(self.fake.violations, [])
        self.assertEqual(d2.stop(), 0)

    def test_one_puller_per_database(self):
        # Two servers on one SQLite file must commit each signature before
        # answering (their in-memory counts would disagree otherwise).
        durable = {"VODGATE_SERVER_SIGNATURE_RECORDS": "durable"}
        d1 = self.start(env=durable)
        d1.wait_log(lambda r: "puller: started" in r.get("msg", ""))
        d2 = self.start(env=durable)
        d2.wait_log(lambda r: "another puller holds the lease" in r.get("msg", ""))
        f = new_file_id()
        self.fake.add(nfu(f))
        self.fake.wait_all_confirmed()
        self.assertEqual(self.event_keys(), ["NewFileUpload/" + f])
        d1.wait_log(lambda r: ("event NewFileUpload/" + f + " committed") in r.get("msg", ""))
        self.assertEqual(d2.stop(), 0)
        self.assertEqual(d1.stop(), 0)

    def test_pull_without_credentials_refuses_to_start(self):
        path = self.tmp.file("vodgate.ini", cfg(self.tmp.path, self.fake.url).replace(
            "secret_id = " + SECRET_ID, ""))
        p = vgtest.run(["serve", "--config", path], timeout=30)
        self.assertEqual(p.returncode, 1)
        self.assertIn("[events] mode = pull needs [vod] secret_id and secret_key_file", p.stderr)


if __name__ == "__main__":
    vgtest.main()
