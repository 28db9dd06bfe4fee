"""[retention]: the real daemon takes events in and delivers their webhooks;
the rows are then aged in the database (as if days had passed), and a
daemon started with a retention of a day deletes exactly the old events and
the old delivered webhooks, keeping the fresh ones, pending and dead rows,
the ledger and the upload sessions. A retention under a day is refused at
start, by `config --check` and by a reload (which leaves the server as it
was)."""
import json
import os
import signal
import sqlite3
import time
import unittest
import urllib.request

import test_webhook as tw
import vgtest

DAY = 86400


class Retention(unittest.TestCase):
    def setUp(self):
        self.tmp = vgtest.TempDir()
        self.db = os.path.join(self.tmp.path, "vg.db")
        self.daemons = []
        self.receivers = []

    def tearDown(self):
        for d in self.daemons:
            d.stop()
        for r in self.receivers:
            r.close()
        self.tmp.cleanup()

    def ini(self, extra):
        return self.tmp.file("vodgate.ini", f"""
[server]
listen = 127.0.0.1:0
db = {self.db}
data_dir = {self.tmp.path}/data

[events]
mode = push
allow_unauthenticated = true
{extra}
""")

    def start(self, extra, env=None):
        d = vgtest.Daemon(["serve", "--config", self.ini(extra)], env=env)
        self.daemons.append(d)
        return d

    def push(self, d, obj):
        req = urllib.request.Request(d.base + "/v1/vod/events", data=json.dumps(obj).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req) as resp:
            self.assertEqual(resp.status, 200)

    def rows(self, sql):
        return tw.db_rows(self.db, sql)

    def wait_rows(self, sql, pred, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline and not pred(self.rows(sql)):
            time.sleep(0.05)
        self.assertTrue(pred(self.rows(sql)), self.rows(sql))

    def age(self, sql, args):
        c = sqlite3.connect(self.db, timeout=10)
        try:
            c.execute(sql, args)
            c.commit()
        finally:
            c.close()

    def metric(self, d, what):
        with urllib.request.urlopen(d.base + "/metrics") as resp:
            text = resp.read().decode()
        for line in text.splitlines():
            if line.startswith('vodgate_retention_deleted_total{what="%s"} ' % what):
                return int(line.split()[-1])
        return None

    def test_deletes_only_old_events_and_delivered_webhooks(self):
        r = tw.Receiver(tw.KEY_BYTES)
        self.receivers.append(r)
        d = self.start(f"[webhook]\nurl = {r.url}\npoll_interval = 1\n",
                       env={"VODGATE_WEBHOOK_SECRET": tw.WHSEC})
        fids = [tw.new_file_id() for _ in range(6)]
        for f in fids:
            self.push(d, tw.nfu(f))
        self.wait_rows("SELECT count(*) FROM outbox WHERE delivered_at IS NOT NULL",
                       lambda x: x[0][0] == 6)
        self.assertEqual(d.stop(), 0)
        keys = [row[0] for row in self.rows("SELECT event_key FROM event ORDER BY event_key")]
        self.assertEqual(len(keys), 6)
        ids = [row[0] for row in self.rows("SELECT id FROM outbox ORDER BY id")]
        now = int(time.time())
        # Events 0-2 received three days ago; webhook 0 delivered three days
        # ago, 1 a day and a half ago (kept: webhooks = 2d), 2 dead-lettered
        # and 3 pending (both three days old: never deleted), 4-5 delivered
        # now.
        for k in keys[:3]:
            self.age("UPDATE event SET received_at = ? WHERE event_key = ?", (now - 3 * DAY, k))
        self.age("UPDATE outbox SET delivered_at = ?, due_at = ? WHERE id = ?",
                 (now - 3 * DAY, now - 3 * DAY, ids[0]))
        self.age("UPDATE outbox SET delivered_at = ?, due_at = ? WHERE id = ?",
                 (now - 3 * DAY // 2, now - 3 * DAY // 2, ids[1]))
        self.age("UPDATE outbox SET delivered_at = NULL, dead = 1, due_at = ? WHERE id = ?",
                 (now - 3 * DAY, ids[2]))
        self.age("UPDATE outbox SET delivered_at = NULL, due_at = ? WHERE id = ?",
                 (now - 3 * DAY, ids[3]))
        ledger = self.rows("SELECT file_id, state FROM ledger ORDER BY file_id")
        self.assertEqual(len(ledger), 6)

        # No [webhook] url this time: the pending row stays pending.
        d = self.start("[retention]\nevents = 1d\nwebhooks = 2d\ninterval = 1\n")
        d.wait_log(lambda x: x.get("msg") == "retention: deleted 1 webhooks older than 172800 s")
        d.wait_log(lambda x: x.get("msg") == "retention: deleted 3 events older than 86400 s")
        self.assertEqual([row[0] for row in self.rows("SELECT event_key FROM event ORDER BY 1")],
                         keys[3:])
        self.assertEqual([row[0] for row in self.rows("SELECT id FROM outbox ORDER BY id")],
                         ids[1:])
        self.assertEqual(self.rows("SELECT ledger.file_id, state FROM ledger ORDER BY 1"), ledger)
        self.assertEqual(self.metric(d, "events"), 3)
        self.assertEqual(self.metric(d, "webhooks"), 1)
        # A second sweep (1 s later) finds nothing more.
        time.sleep(2.5)
        self.assertEqual(self.metric(d, "events"), 3)
        self.assertEqual(len(self.rows("SELECT 1 FROM event")), 3)

    def test_under_a_day_refused(self):
        ini = self.ini("[retention]\nevents = 23h\n")
        p = vgtest.run(["config", "--check", "--config", ini], check=1)
        self.assertIn("[retention] events: 82800 s is too short: 0 (keep forever) or at least 1d",
                      p.stderr)
        p = vgtest.run(["serve", "--config", ini], check=1, timeout=30)
        self.assertIn("[retention] events: 82800 s is too short", p.stderr)
        p = vgtest.run(["config", "--check", "--config", self.ini("")],
                       env={"VODGATE_RETENTION_WEBHOOKS": "60"}, check=1)
        self.assertIn("[retention] webhooks: 60 s is too short", p.stderr)

        # A reload that would set one is refused; the server keeps its own.
        d = self.start("[retention]\nwebhooks = 30d\n")
        self.ini("[retention]\nwebhooks = 1h\n")
        d.signal(signal.SIGHUP)
        rec = d.wait_log(lambda x: "too short" in x.get("msg", ""))
        self.assertIn("[retention] webhooks: 3600 s is too short", rec["msg"])
        with urllib.request.urlopen(d.base + "/healthz") as resp:
            self.assertEqual(resp.status, 200)
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    vgtest.main()
