"""Crash safety of the event receiver: 8 senders x 200 events, SIGKILL of
the daemon part-way, restart on the same database. Every event that got a
200 must be stored exactly once, and the ledger and the outbox must agree
with the events that are stored (no half-applied event). Then every event
is sent again: the acknowledged ones are duplicates, and the ledger ends
complete.
"""
import http.client
import json
import os
import sqlite3
import threading
import time
import unittest

import vgtest

SIGN_KEY = "CrashSignKey42"
INI = """
[server]
listen = 127.0.0.1:0
db = {dir}/vg.db
data_dir = {dir}/data
threads = 8

[webhook]
url = http://127.0.0.1:9/hook
"""
SENDERS = 8
PER_SENDER = 200  # 100 files x (NewFileUpload, ProcedureStateChanged)


load = vgtest.event_body


NFU = load("newfileupload.json")
PSC = load("procedure_pass.json")


def bodies(sender):
    out = []
    for i in range(PER_SENDER // 2):
        fid = "9%02d%06d" % (sender, i)
        a = json.loads(json.dumps(NFU))
        a["FileUploadEvent"]["FileId"] = fid
        b = json.loads(json.dumps(PSC))
        b["ProcedureStateChangeEvent"]["FileId"] = fid
        b["ProcedureStateChangeEvent"]["TaskId"] = "task-" + fid
        out.append(("NewFileUpload/" + fid, a))
        out.append(("ProcedureStateChanged/task-%s/FINISH" % fid, b))
    return out


def signed(body):
    t = int(time.time()) + 600
    return json.dumps(dict(body, Sign=vgtest.callback_sign(SIGN_KEY, t),
                           T=t))


class Crash(unittest.TestCase):
    def setUp(self):
        self.tmp = vgtest.TempDir()
        self.cfg = self.tmp.file("vodgate.ini", INI.format(dir=self.tmp.path))
        self.env = {"VODGATE_VOD_SIGN_KEY": SIGN_KEY}
        self.db = os.path.join(self.tmp.path, "vg.db")

    def tearDown(self):
        self.tmp.cleanup()

    def send_all(self, port, work, acked, lock, stop_after=None, killed=None):
        def sender(items):
            c = None
            for key, body in items:
                if killed is not None and killed.is_set():
                    return
                try:
                    if c is None:
                        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    c.request("POST", "/v1/vod/events", body=signed(body),
                              headers={"Content-Type": "application/json"})
                    r = c.getresponse()
                    doc = json.loads(r.read())
                except (OSError, http.client.HTTPException, ValueError):
                    return  # the daemon died: what was not answered is unknown
                if r.status != 200:
                    raise AssertionError((r.status, doc))
                self.assertEqual(doc["data"]["eventKey"], key)
                with lock:
                    acked.append(key)
                    n = len(acked)
                if stop_after and n >= stop_after and not killed.is_set():
                    killed.set()
                    self.d.proc.kill()  # SIGKILL
                    return

        threads = [threading.Thread(target=sender, args=(w,)) for w in work]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)

    def check_consistent(self):
        con = sqlite3.connect(self.db, timeout=10)
        events = {k for (k,) in con.execute("SELECT event_key FROM event")}
        n_events = con.execute("SELECT count(*) FROM event").fetchone()[0]
        ledger = dict(con.execute("SELECT file_id, state FROM ledger"))
        outbox = {}
        for (p,) in con.execute("SELECT payload FROM outbox ORDER BY id"):
            d = json.loads(p)["data"]
            outbox.setdefault(d["fileId"], []).append(d["state"])
        con.close()
        self.assertEqual(n_events, len(events))
        files = {k.split("/")[1] for k in events if k.startswith("NewFileUpload/")}
        files |= {k.split("/")[1][5:] for k in events if k.startswith("ProcedureStateChanged/")}
        self.assertEqual(set(ledger), files)
        for f in files:
            has_nfu = "NewFileUpload/" + f in events
            has_psc = "ProcedureStateChanged/task-%s/FINISH" % f in events
            want = "passed" if has_psc else "uploaded"
            self.assertEqual(ledger[f], want, f)
            # One outbox row per state change, committed with its event.
            want_rows = (["uploaded", "passed"] if has_nfu and has_psc else [want])
            if has_nfu and has_psc and outbox[f] == ["passed"]:
                want_rows = ["passed"]  # the procedure event came first
            self.assertEqual(outbox[f], want_rows, f)
        return events, ledger

    def test_sigkill_midway(self):
        work = [bodies(s) for s in range(SENDERS)]
        acked, lock, killed = [], threading.Lock(), threading.Event()
        self.d = vgtest.Daemon(["serve", "--config", self.cfg], env=self.env)
        total = SENDERS * PER_SENDER
        self.send_all(self.d.port, work, acked, lock, stop_after=total // 3, killed=killed)
        self.d.wait(10)
        self.assertTrue(killed.is_set())
        self.assertEqual(self.d.proc.returncode, -9)
        self.d.stop()
        self.assertGreaterEqual(len(acked), total // 3)
        self.assertLess(len(acked), total)

        # Restart on the same database: everything acknowledged is there.
        self.d = vgtest.Daemon(["serve", "--config", self.cfg], env=self.env)
        try:
            events, _ = self.check_consistent()
            self.assertEqual(len(acked), len(set(acked)))
            missing = set(acked) - events
            self.assertEqual(missing, set())
            # Send everything again: acknowledged events are duplicates.
            again = []
            self.send_all(self.d.port, work, again, threading.Lock())
            self.assertEqual(len(again), total)
            events, ledger = self.check_consistent()
            self.assertEqual(len(events), total)
            self.assertEqual(set(ledger.values()), {"passed"})
        finally:
            self.assertEqual(self.d.stop(), 0)


if __name__ == "__main__":
    vgtest.main()
