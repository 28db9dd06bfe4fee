"""The webhook forwarder: events come in through the real intake path (the
puller, against tests/lib/fakevod.py), their outbox rows are POSTed to a
receiver here that checks the Standard Webhooks signature on its own
(HMAC-SHA256 over id.timestamp.body, base64), fails on purpose, and counts
effects per webhook-id: retried deliveries keep their id and have one
effect; a row that never succeeds is dead-lettered after the configured
schedule; undelivered rows survive a restart."""
import base64
import hashlib
import hmac
import http.server
import json
import os
import re
import signal
import sqlite3
import threading
import time
import unittest
import urllib.request

import fakevod
import vgtest

SECRET_ID = "AKIDwebhooktest"
SECRET_KEY = "webhookTestSecretKey0123456789ab"
KEY_BYTES = bytes(range(1, 33))
WHSEC = "whsec_" + base64.b64encode(KEY_BYTES).decode()

_fid = [int(time.time() * 1000) % 10**9 + 500000]


def new_file_id():
    _fid[0] += 1
    return "52858907%011d" % _fid[0]


def nfu(fid):
    return {"EventType": "NewFileUpload",
            "FileUploadEvent": {"FileId": fid, "MediaBasicInfo": {"Name": "c", "Type": "mp4"}}}


def db_rows(path, sql, args=()):
    c = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


def psc_pass(fid):
    with open(os.path.join(vgtest.SRC, "tests", "data", "events", "procedure_pass.json")) as f:
        b = json.load(f)
    m = b["ProcedureStateChangeEvent"]
    m["FileId"] = fid
    m["TaskId"] = "1500000001-procedurev2-%st0" % fid
    return b


class Receiver:
    """The app's webhook endpoint. mode: "ok", "fail" (500), "hang" (never
    answers in time). fail_first: the first N attempts of each id fail.
    While gate is cleared, answers wait for it (requests in flight pile up:
    in_flight, max_in_flight; overlap lists files with two at once)."""

    def __init__(self, key, fail_first=0, mode="ok"):
        self.key = key
        self.fail_first = fail_first
        self.mode = mode
        self.mu = threading.Lock()
        self.attempts = {}   # webhook-id -> number of POSTs
        self.effects = {}    # webhook-id -> payload, applied once (dedupe on webhook-id)
        self.bad = []        # signature problems
        self.gate = threading.Event()
        self.gate.set()
        self.in_flight = 0
        self.max_in_flight = 0
        self.files_in_flight = set()
        self.overlap = []    # files with two webhooks in flight at once
        self.arrivals = []   # (fileId, state) in order of arrival
        r = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                code = r.handle(self.headers, body)
                if code is None:
                    return
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/hooks/vod" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def verify(self, h, body):
        wid, ts, sigs = h.get("webhook-id"), h.get("webhook-timestamp"), h.get("webhook-signature")
        if not wid or not ts or not sigs or not re.fullmatch(r"[0-9]+", ts):
            return "missing headers"
        if abs(int(ts) - time.time()) > 300:
            return "stale timestamp"
        want = base64.b64encode(hmac.new(self.key, b"%s.%s.%s" % (wid.encode(), ts.encode(), body),
                                         hashlib.sha256).digest()).decode()
        for s in sigs.split(" "):
            v, _, sig = s.partition(",")
            if v == "v1" and hmac.compare_digest(sig, want):
                return None
        return "bad signature"

    def handle(self, h, body):
        why = self.verify(h, body)
        wid = h.get("webhook-id")
        with self.mu:
            if why:
                self.bad.append(why)
                return 401
            if h.get("Content-Type") != "application/json":
                self.bad.append("content-type")
            n = self.attempts[wid] = self.attempts.get(wid, 0) + 1
            mode = self.mode
            data = json.loads(body)["data"]
            fid = data["fileId"]
            self.arrivals.append((fid, data["state"]))
            if fid in self.files_in_flight:
                self.overlap.append(fid)
            self.files_in_flight.add(fid)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            self.gate.wait(60)
            return self.answer(mode, n, wid, body)
        finally:
            with self.mu:
                self.in_flight -= 1
                self.files_in_flight.discard(fid)

    def answer(self, mode, n, wid, body):
        if mode == "hang":
            time.sleep(20)
            return None
        if mode == "fail" or n <= self.fail_first:
            return 500
        with self.mu:
            if wid not in self.effects:
                self.effects[wid] = json.loads(body)
        return 204

    def wait(self, pred, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.mu:
                if pred(self):
                    return
            time.sleep(0.05)
        raise AssertionError("receiver condition not met: attempts=%r effects=%d bad=%r" %
                             (self.attempts, len(self.effects), self.bad))


class Webhooks(unittest.TestCase):
    def setUp(self):
        self.tmp = vgtest.TempDir()
        self.db = os.path.join(self.tmp.path, "vg.db")
        self.fake = fakevod.FakeVod(SECRET_ID, SECRET_KEY, lease=5.0, hold=0.3)
        self.daemons = []
        self.receivers = []

    def tearDown(self):
        for d in self.daemons:
            d.stop()
        for r in self.receivers:
            r.close()
        self.fake.close()
        self.tmp.cleanup()

    def receiver(self, **kw):
        r = Receiver(kw.pop("key", KEY_BYTES), **kw)
        self.receivers.append(r)
        return r

    def start(self, url, secret=WHSEC, schedule="1", retry_for="1h", timeout="2", mode="pull",
              concurrency=None, poll="1", previous=None):
        ini = f"""
[server]
listen = 127.0.0.1:0
db = {self.tmp.path}/vg.db
data_dir = {self.tmp.path}/data

[vod]
secret_id = {SECRET_ID}
api_endpoint = {self.fake.url}

[events]
mode = {mode}
allow_unauthenticated = true
pull_timeout = 2
pull_interval = 0

[webhook]
url = {url}
retry_schedule = {schedule}
retry_for = {retry_for}
timeout = {timeout}
poll_interval = {poll}
"""
        if concurrency is not None:
            ini += "concurrency = %d\n" % concurrency
        path = self.tmp.file("vodgate.ini", ini)
        env = {"VODGATE_VOD_SECRET_KEY": SECRET_KEY}
        if secret is not None:
            env["VODGATE_WEBHOOK_SECRET"] = secret
        if previous is not None:
            env["VODGATE_WEBHOOK_PREVIOUS_SECRET"] = previous
        d = vgtest.Daemon(["serve", "--config", path], env=env)
        self.daemons.append(d)
        return d

    def outbox(self):
        return db_rows(self.db, "SELECT event_key, attempts, delivered_at IS NOT NULL, dead "
                                "FROM outbox ORDER BY id")

    def test_signed_retried_exactly_once(self):
        r = self.receiver(fail_first=2)
        fids = [new_file_id() for _ in range(5)]
        for f in fids:
            self.fake.add(nfu(f))
        d = self.start(r.url)
        r.wait(lambda x: len(x.effects) == 5)
        self.assertEqual(r.bad, [])
        # One effect per state change, whatever the retries.
        keys = sorted(p["eventKey"] for p in r.effects.values())
        self.assertEqual(keys, sorted("NewFileUpload/" + f for f in fids))
        self.assertTrue(all(re.fullmatch(r"msg_[0-9]+_[0-9a-f]{16}", w) for w in r.effects))
        for p in r.effects.values():
            self.assertEqual(p["type"], "upload.state_changed")
            self.assertEqual(p["previousState"], "issued")
            self.assertEqual(p["data"]["state"], "uploaded")
            self.assertEqual("NewFileUpload/" + p["data"]["fileId"], p["eventKey"])
        deadline = time.time() + 30
        while time.time() < deadline and not all(o[2] for o in self.outbox()):
            time.sleep(0.05)
        self.assertEqual(d.stop(), 0)
        # Two failures then a success, with the same webhook-id each time;
        # a delivered row is never sent again.
        self.assertEqual(sorted(r.attempts.values()), [3] * 5)
        self.assertEqual([o[1:] for o in self.outbox()], [(2, 1, 0)] * 5)

    def pending_gauge(self, d):
        with urllib.request.urlopen(d.base + "/metrics") as resp:
            m = re.search(r"^vodgate_outbox_pending (\d+)$", resp.read().decode(), re.M)
        return int(m.group(1)) if m else None

    def wait_gauge(self, d, want, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline and self.pending_gauge(d) != want:
            time.sleep(0.05)
        self.assertEqual(self.pending_gauge(d), want)

    def test_pending_gauge_follows_rows(self):
        # The gauge is recounted every few seconds (not after every batch:
        # the count walks every pending row) and follows this process's own
        # rows in between: 30 added, failed, then delivered.
        r = self.receiver(mode="fail")
        d = self.start(r.url, schedule="3", mode="push")
        for _ in range(30):
            req = urllib.request.Request(d.base + "/v1/vod/events",
                                         data=json.dumps(nfu(new_file_id())).encode(),
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req) as resp:
                self.assertEqual(resp.status, 200)
        r.wait(lambda x: len(x.attempts) == 30)
        self.wait_gauge(d, 30)
        self.assertEqual(len(self.outbox()), 30)
        with r.mu:
            r.mode = "ok"
        r.wait(lambda x: len(x.effects) == 30)
        self.wait_gauge(d, 0)
        self.assertTrue(all(o[2] for o in self.outbox()))
        self.assertEqual(d.stop(), 0)

    def test_dead_letter_after_retry_for(self):
        r = self.receiver(mode="fail")
        f = new_file_id()
        self.fake.add(nfu(f))
        # Delays 1 s; retry_for 2 s: attempt 1, retry at +1, retry at +2,
        # then the next retry (+3) is past retry_for: dead after 3 attempts.
        d = self.start(r.url, schedule="1", retry_for="2")
        deadline = time.time() + 60
        while time.time() < deadline and self.outbox() != [("NewFileUpload/" + f, 3, 0, 1)]:
            time.sleep(0.05)
        self.assertEqual(self.outbox(), [("NewFileUpload/" + f, 3, 0, 1)])
        self.assertEqual(list(r.attempts.values()), [3])
        d.wait_log(lambda x: "dead-lettered after 3 attempts" in x.get("msg", ""))
        with urllib.request.urlopen(d.base + "/metrics") as resp:
            m = resp.read().decode()
        self.assertIn("vodgate_webhook_dead_letters_total 1\n", m)
        self.assertIn('vodgate_webhook_deliveries_total{result="failed"} 3\n', m)
        self.assertIn("vodgate_outbox_pending 0\n", m)
        self.assertEqual(d.stop(), 0)

    def test_transport_failure_logged(self):
        # An endpoint that refuses connections: each failed attempt is logged
        # with the transport's error as its reason (no status), and the row
        # stays pending for its retry.
        f = new_file_id()
        self.fake.add(nfu(f))
        d = self.start("http://127.0.0.1:1/hook", schedule="30")
        rec = d.wait_log(lambda x: "attempt 1 failed" in x.get("msg", ""), timeout=30)
        m = re.fullmatch(r"webhook: \S+ \(NewFileUpload/%s\) attempt 1 failed \((.+)\), retry in"
                         r" ~\d+s" % f, rec["msg"])
        self.assertIsNotNone(m, rec["msg"])
        self.assertNotIn("status", m.group(1))
        self.assertFalse(m.group(1).endswith("0"), rec["msg"])  # no status glued on
        self.assertEqual(self.outbox(), [("NewFileUpload/" + f, 1, 0, 0)])
        self.assertEqual(d.stop(), 0)

    def test_resumes_after_restart_raw_secret(self):
        raw = "my raw webhook secret"
        r = self.receiver(key=raw.encode(), mode="fail")
        fids = [new_file_id() for _ in range(3)]
        for f in fids:
            self.fake.add(nfu(f))
        d = self.start(r.url, secret=raw, schedule="1")
        r.wait(lambda x: len(x.attempts) == 3)
        self.assertEqual(d.stop(), 0)
        pending = self.outbox()
        self.assertEqual(len(pending), 3)
        self.assertTrue(all(o[1] >= 1 and o[2] == 0 and o[3] == 0 for o in pending))
        ids_before = set(r.attempts)
        r.mode = "ok"
        d2 = self.start(r.url, secret=raw, schedule="1")
        r.wait(lambda x: len(x.effects) == 3)
        self.assertEqual(set(r.effects), ids_before)  # same webhook-id across restarts
        self.assertEqual(r.bad, [])
        self.assertEqual(d2.stop(), 0)

    def test_sigterm_abandons_inflight_post(self):
        r = self.receiver(mode="hang")
        f = new_file_id()
        self.fake.add(nfu(f))
        d = self.start(r.url, timeout="60")
        r.wait(lambda x: len(x.attempts) == 1)
        # Stops within its drain bound, the POST in flight is abandoned and
        # the row stays pending with no failed attempt counted.
        self.assertEqual(d.stop(), 0)
        d.wait_log(lambda x: "webhook: forwarder stopped" in x.get("msg", ""))
        self.assertEqual(self.outbox(), [("NewFileUpload/" + f, 0, 0, 0)])

    def test_push_and_pull_one_effect(self):
        """mode = both: the same event pushed and pulled is one event, one
        ledger change, one webhook."""
        r = self.receiver()
        fids = [new_file_id() for _ in range(4)]
        d = self.start(r.url, mode="both")
        for f in fids[:2]:  # pushed first, then pulled
            self.push(d, nfu(f))
        for f in fids:
            self.fake.add(nfu(f))
        self.fake.wait_all_confirmed()
        for f in fids[2:]:  # pulled first, then pushed: a duplicate
            self.assertEqual(self.push(d, nfu(f))["data"]["duplicate"], True)
        r.wait(lambda x: len(x.effects) == 4)
        self.assertEqual(sorted(p["eventKey"] for p in r.effects.values()),
                         sorted("NewFileUpload/" + f for f in fids))
        self.assertEqual(db_rows(self.db, "SELECT source, COUNT(*) FROM event GROUP BY source ORDER BY source"),
                         [("pull", 2), ("push", 2)])
        self.assertEqual(len(self.outbox()), 4)
        self.assertEqual(d.stop(), 0)
        self.assertEqual(sorted(r.attempts.values()), [1] * 4)

    def test_deliveries_in_flight_bounded(self):
        # 12 webhooks of 12 files to a receiver that holds its answers:
        # exactly `concurrency` (4) arrive at once and no more until one is
        # answered; then all are delivered once.
        r = self.receiver()
        r.gate.clear()
        d = self.start(r.url, mode="push", concurrency=4, timeout="30")
        fids = [new_file_id() for _ in range(12)]
        for f in fids:
            self.push(d, nfu(f))
        r.wait(lambda x: x.in_flight == 4)
        with urllib.request.urlopen(d.base + "/metrics") as resp:
            self.assertIn("vodgate_webhook_inflight 4\n", resp.read().decode())
        time.sleep(0.5)
        with r.mu:
            self.assertEqual((r.in_flight, len(r.attempts)), (4, 4))
        r.gate.set()
        r.wait(lambda x: len(x.effects) == 12)
        self.assertEqual(r.max_in_flight, 4)
        self.assertEqual(sorted(p["data"]["fileId"] for p in r.effects.values()), sorted(fids))
        deadline = time.time() + 30
        while time.time() < deadline and not all(o[2] for o in self.outbox()):
            time.sleep(0.05)
        self.assertEqual([o[1:] for o in self.outbox()], [(0, 1, 0)] * 12)
        self.assertEqual(d.stop(), 0)
        self.assertEqual(sorted(r.attempts.values()), [1] * 12)
        self.assertEqual(r.bad, [])

    def test_backlog_beyond_slots_drains(self):
        # More rows due than the forwarder holds at once (concurrency 1: 33
        # slots), and no poll to fall back on: the rows it could not take
        # are read as soon as slots free up, not an hour later.
        r = self.receiver()
        r.gate.clear()
        d = self.start(r.url, mode="push", concurrency=1, timeout="30", poll="3600")
        fids = [new_file_id() for _ in range(40)]
        for f in fids:
            self.push(d, nfu(f))
        r.wait(lambda x: x.in_flight == 1)
        r.gate.set()
        r.wait(lambda x: len(x.effects) == 40)
        self.assertEqual(r.max_in_flight, 1)
        self.assertEqual(d.stop(), 0)

    def test_one_file_at_a_time_in_order(self):
        # Two webhooks for each of 3 files (uploaded, then passed): the three
        # files go at once, but a file's second webhook waits for its first.
        r = self.receiver()
        r.gate.clear()
        d = self.start(r.url, mode="push", concurrency=8, timeout="30")
        fids = [new_file_id() for _ in range(3)]
        for f in fids:
            self.push(d, nfu(f))
            self.push(d, psc_pass(f))
        r.wait(lambda x: x.in_flight == 3)
        time.sleep(0.5)
        with r.mu:
            self.assertEqual(sorted(r.arrivals), sorted((f, "uploaded") for f in fids))
        r.gate.set()
        r.wait(lambda x: len(x.effects) == 6)
        self.assertEqual(r.overlap, [])
        for f in fids:
            self.assertEqual([s for fid, s in r.arrivals if fid == f], ["uploaded", "passed"])
        self.assertEqual(d.stop(), 0)

    def test_rotation_signs_with_both_secrets(self):
        # [webhook] previous_secret: each webhook carries a signature under
        # each secret, so a receiver still on the previous one verifies it.
        old_key = bytes(range(100, 132))
        r = self.receiver(key=old_key)
        d = self.start(r.url, mode="push",
                       previous="whsec_" + base64.b64encode(old_key).decode())
        fids = [new_file_id() for _ in range(3)]
        for f in fids:
            self.push(d, nfu(f))
        r.wait(lambda x: len(x.effects) == 3)
        self.assertEqual(r.bad, [])
        self.assertEqual(d.stop(), 0)
        # A previous secret that cannot be used stops start-up (it would
        # silently sign without it).
        p = vgtest.run(["serve", "--config", self.tmp.path + "/vodgate.ini"],
                       env={"VODGATE_VOD_SECRET_KEY": SECRET_KEY, "VODGATE_WEBHOOK_SECRET": WHSEC,
                            "VODGATE_WEBHOOK_PREVIOUS_SECRET": "whsec_***"}, timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("[webhook] previous_secret_file: not a valid secret", p.stderr)
        self.assertNotIn("whsec_***", p.stderr)

    def test_reload_with_unusable_secret_refused(self):
        # The forwarder reads its secrets at each delivery: a reload that
        # would leave it none it can use is refused, and deliveries go on
        # under the previous configuration.
        r = self.receiver()
        d = self.start(r.url, mode="push", secret=None)
        # start() without a secret: the forwarder would not run; give it one
        # in a file instead, then break the file.
        d.stop()
        sf = self.tmp.file("whsec", WHSEC)
        ini = self.tmp.path + "/vodgate.ini"
        with open(ini, "a") as f:
            f.write("secret_file = %s\n" % sf)
        d = vgtest.Daemon(["serve", "--config", ini], env={"VODGATE_VOD_SECRET_KEY": SECRET_KEY})
        self.daemons.append(d)
        self.push(d, nfu(new_file_id()))
        r.wait(lambda x: len(x.effects) == 1)
        self.tmp.file("whsec", "whsec_***")
        d.signal(signal.SIGHUP)
        d.wait_log(lambda x: "reload failed" in x.get("msg", "") and
                   "[webhook] secret_file: not a valid secret" in x.get("msg", ""))
        self.push(d, nfu(new_file_id()))
        r.wait(lambda x: len(x.effects) == 2)
        self.assertEqual(r.bad, [])
        self.assertEqual(d.stop(), 0)
        self.assertNotIn("whsec_***", "\n".join(d.logs))

    def push(self, d, obj):
        req = urllib.request.Request(d.base + "/v1/vod/events", data=json.dumps(obj).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req) as resp:
            self.assertEqual(resp.status, 200)
            return json.loads(resp.read())

    def test_no_secret_no_webhooks(self):
        f = new_file_id()
        self.fake.add(nfu(f))
        d = self.start("http://127.0.0.1:9/hook", secret=None)
        d.wait_log(lambda x: "is unset; webhooks are never sent unsigned" in x.get("msg", ""))
        self.fake.wait_all_confirmed()
        self.assertEqual(self.outbox(), [("NewFileUpload/" + f, 0, 0, 0)])
        self.assertEqual(d.stop(), 0)
        # A whsec_ secret must be base64: no guessing at what was meant.
        d = self.start("http://127.0.0.1:9/hook", secret="whsec_***")
        d.wait_log(lambda x: "is not a valid whsec_<base64> secret" in x.get("msg", ""))
        self.assertEqual(d.stop(), 0)
        for line in d.logs:
            self.assertNotIn("whsec_***", line)


if __name__ == "__main__":
    vgtest.main()
