"""`vodgate webhooks list|show|retry` against the real daemon's outbox: the
daemon (push mode) sends webhooks to a receiver that fails until it is
"fixed", with a retry_for so short that the rows are dead-lettered; the CLI
lists them with the exact webhook-ids the forwarder sent, makes them due
again while the daemon runs, and the receiver then gets each exactly once,
with the same webhook-id. Receiver and helpers: test_webhook.py."""
import hashlib
import json
import os
import re
import sqlite3
import time
import unittest
import urllib.request

import test_webhook as tw
import vgtest

ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def msg_id(row_id, key):
    return "msg_%d_%s" % (row_id, hashlib.sha256(key.encode()).hexdigest()[:16])


class WebhooksCli(unittest.TestCase):
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

    def start(self, url):
        # Delays of 1 s and retry_for 2 s: attempts at 0, +1, +2, then the
        # next (+3) is past retry_for: dead after 3 attempts.
        self.ini = self.tmp.file("vodgate.ini", f"""
[server]
listen = 127.0.0.1:0
db = {self.db}
data_dir = {self.tmp.path}/data

[events]
mode = push
allow_unauthenticated = true

[webhook]
url = {url}
retry_schedule = 1
retry_for = 2
timeout = 2
poll_interval = 1
""")
        d = vgtest.Daemon(["serve", "--config", self.ini],
                          env={"VODGATE_WEBHOOK_SECRET": tw.WHSEC})
        self.daemons.append(d)
        return d

    def push(self, d, obj):
        req = urllib.request.Request(d.base + "/v1/vod/events", data=json.dumps(obj).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req) as resp:
            self.assertEqual(resp.status, 200)

    def cli(self, *args, check=0):
        return vgtest.run(["webhooks"] + list(args), check=check)

    def cli_json(self, *args):
        return json.loads(self.cli(*args, "--json", "-d", self.db).stdout)

    def outbox(self):
        return tw.db_rows(self.db, "SELECT id, event_key, attempts, delivered_at IS NOT NULL, dead"
                                   " FROM outbox ORDER BY id")

    def wait_outbox(self, pred, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline and not pred(self.outbox()):
            time.sleep(0.05)
        self.assertTrue(pred(self.outbox()), self.outbox())

    def test_dead_letters_listed_retried_delivered_once(self):
        r = tw.Receiver(tw.KEY_BYTES, mode="fail")
        self.receivers.append(r)
        d = self.start(r.url)
        fids = [tw.new_file_id() for _ in range(3)]
        keys = ["NewFileUpload/" + f for f in fids]
        for f in fids:
            self.push(d, tw.nfu(f))
        self.wait_outbox(lambda rows: len(rows) == 3 and all(x[4] for x in rows))
        rows = self.outbox()
        self.assertEqual([(x[1], x[2], x[3], x[4]) for x in rows], [(k, 3, 0, 1) for k in keys])
        ids = [x[0] for x in rows]
        wids = [msg_id(i, k) for i, k in zip(ids, keys)]
        # The forwarder sent exactly these webhook-ids, 3 times each.
        self.assertEqual(r.attempts, {w: 3 for w in wids})

        # list --dead: newest first, the forwarder's ids, states, attempts.
        listed = self.cli_json("list", "--dead")
        self.assertEqual([(x["id"], x["webhookId"], x["eventKey"], x["fileId"], x["state"],
                           x["attempts"], x["deliveredAt"], x["delivered"]) for x in listed],
                         [(i, w, k, f, "dead", 3, None, None)
                          for i, w, k, f in reversed(list(zip(ids, wids, keys, fids)))])
        for x in listed:
            self.assertRegex(x["due"], "^" + ISO + "$")
            self.assertEqual(x["due"], time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                     time.gmtime(x["dueAt"])))
        # The table, through the configuration's [server] db.
        out = self.cli("list", "--dead", "-c", self.ini).stdout.splitlines()
        self.assertEqual(out[0].split(), ["ID", "WEBHOOK-ID", "STATE", "ATTEMPTS",
                                          "DUE/DELIVERED", "(UTC)", "EVENT", "KEY"])
        self.assertEqual(len(out), 4)
        for line, i, w, k in zip(out[1:], reversed(ids), reversed(wids), reversed(keys)):
            self.assertRegex(line, r"^%d +%s +dead +3  %s  %s$" % (i, w, ISO, re.escape(k)))
        self.assertEqual(self.cli_json("list", "--pending"), [])
        self.assertEqual(self.cli_json("list", "--delivered"), [])
        self.assertEqual([x["id"] for x in self.cli_json("list", "--file", fids[1])], [ids[1]])
        self.assertEqual([x["id"] for x in self.cli_json("list", "--limit", "2")], ids[:0:-1])

        # show: the row and its payload.
        shown = self.cli_json("show", str(ids[1]))
        self.assertEqual((shown["id"], shown["webhookId"], shown["state"], shown["attempts"]),
                         (ids[1], wids[1], "dead", 3))
        self.assertEqual(shown["payload"]["eventKey"], keys[1])
        self.assertEqual(shown["payload"]["data"]["fileId"], fids[1])
        self.assertEqual(shown["payload"]["data"]["state"], "uploaded")
        text = self.cli("show", str(ids[1]), "-d", self.db).stdout
        self.assertIn("webhook-id: %s\n" % wids[1], text)
        self.assertIn("state:      dead\n", text)
        self.assertIn('"fileId": "%s"' % fids[1], text)

        # All or nothing: a missing id leaves the dead ones dead.
        p = self.cli("retry", str(ids[0]), str(ids[-1] + 1000), "-d", self.db, check=1)
        self.assertEqual(p.stderr, "vodgate webhooks retry: no webhook %d; nothing changed\n"
                         % (ids[-1] + 1000))
        self.assertEqual(p.stdout, "")
        self.assertEqual([x[2:] for x in self.outbox()], [(3, 0, 1)] * 3)

        # The receiver is fixed; retry the dead letters while the daemon runs.
        with r.mu:
            r.mode = "ok"
        p = self.cli("retry", "--dead", "-d", self.db)
        self.assertEqual(p.stdout, "3 webhooks due again; a running server sends them within"
                                   " [webhook] poll_interval\n")
        self.wait_outbox(lambda rows: all(x[3] for x in rows))
        # Each exactly once more, with its webhook-id, and applied once.
        self.assertEqual(r.attempts, {w: 4 for w in wids})
        self.assertEqual(sorted(r.effects), sorted(wids))
        self.assertEqual(r.bad, [])

        delivered = self.cli_json("list", "--delivered")
        self.assertEqual([(x["id"], x["webhookId"], x["state"], x["attempts"]) for x in delivered],
                         [(i, w, "delivered", 0) for i, w in zip(ids[::-1], wids[::-1])])
        for x in delivered:
            self.assertIsInstance(x["deliveredAt"], int)
            self.assertRegex(x["delivered"], "^" + ISO + "$")
        self.assertEqual(self.cli_json("list", "--dead"), [])

        # A delivered row is never sent again.
        p = self.cli("retry", str(ids[0]), "-d", self.db, check=1)
        self.assertEqual(p.stderr, "vodgate webhooks retry: webhook %d was delivered already and"
                                   " is never sent again; nothing changed\n" % ids[0])
        self.assertEqual(self.cli("retry", "--dead", "--json", "-d", self.db).stdout,
                         '{\n  "due": 0\n}\n')
        with urllib.request.urlopen(d.base + "/metrics") as resp:
            m = resp.read().decode()
        self.assertIn("vodgate_webhook_dead_letters_total 3\n", m)
        self.assertIn('vodgate_webhook_deliveries_total{result="delivered"} 3\n', m)
        self.assertEqual(d.stop(), 0)
        self.assertEqual(r.attempts, {w: 4 for w in wids})

    def test_retry_one_pending_row_and_show_missing(self):
        # A pending row (as a failing receiver leaves it) is made due now,
        # its attempts forgotten; an id given twice counts once; unknown
        # ids are exit 1 with a message.
        self.assertEqual(self.cli_json("list"), [])  # creates the database
        c = sqlite3.connect(self.db)
        with c:
            c.execute("INSERT INTO outbox (event_key, payload, attempts, due_at) VALUES"
                      " ('K/1', '{\"data\":{\"fileId\":\"F1\"}}', 5, 99999999999)")
        c.close()
        before = time.time()
        p = self.cli("retry", "1", "1", "-d", self.db)  # one row, counted once
        self.assertEqual(p.stdout, "1 webhook due again; a running server sends it within"
                                   " [webhook] poll_interval\n")
        [row] = self.cli_json("list", "--pending", "--file", "F1")
        self.assertEqual((row["id"], row["attempts"], row["webhookId"]), (1, 0, msg_id(1, "K/1")))
        self.assertTrue(int(before) <= row["dueAt"] <= time.time() + 1)
        p = self.cli("show", "7", "-d", self.db, check=1)
        self.assertEqual(p.stderr, "vodgate webhooks show: no webhook 7\n")

    def test_bad_arguments_exit_2(self):
        db = os.path.join(self.tmp.path, "never.db")
        cases = [
            ([], "usage: vodgate webhooks list"),
            (["frob"], "usage: vodgate webhooks list"),
            (["list", "extra"], "usage: vodgate webhooks list"),
            (["list", "--bogus"], "usage: vodgate webhooks list"),
            (["list", "--dead", "--pending"], "give at most one of --dead, --pending, --delivered"),
            (["list", "--limit", "0"], "--limit must be 1..1000"),
            (["list", "--limit", "1001"], "--limit must be 1..1000"),
            (["list", "--limit", "x"], "--limit must be 1..1000"),
            (["list", "--file", ""], "--file must be 1..64 bytes"),
            (["show"], "usage: vodgate webhooks list"),
            (["show", "1", "2"], "usage: vodgate webhooks list"),
            (["show", "abc"], "'abc' is not a row id (an integer > 0)"),
            (["show", "0"], "'0' is not a row id (an integer > 0)"),
            (["show", "1", "--dead"], "usage: vodgate webhooks list"),
            (["retry"], "give --dead or row ids (not both)"),
            (["retry", "--dead", "3"], "give --dead or row ids (not both)"),
            (["retry", "--pending"], "give --dead or row ids (not both)"),
            (["retry", "--dead", "--file", "F"], "give --dead or row ids (not both)"),
            (["retry", "1x"], "'1x' is not a row id (an integer > 0)"),
            (["retry", "2", "-5"], "usage: vodgate webhooks list"),
        ]
        for args, msg in cases:
            with self.subTest(args=args):
                p = self.cli(*args, "-d", db, check=2)
                self.assertIn(msg, p.stderr)
                self.assertEqual(p.stdout, "")
        self.assertFalse(os.path.exists(db))  # refused before opening anything
        p = self.cli("--help")
        self.assertTrue(p.stdout.startswith("usage: vodgate webhooks list"))
        self.assertIn("retry", p.stdout)
        self.assertTrue(vgtest.run(["webhooks", "retry", "--help"], check=0).stdout.startswith(
            "usage: vodgate webhooks"))


if __name__ == "__main__":
    vgtest.main()
