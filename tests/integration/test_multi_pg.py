"""Two `vodgate serve` instances on one PostgreSQL database (run by
scripts/pg-test-server.sh, which sets VODGATE_PG_URL, or skipped), each on
its own loopback port, driven through real HTTP: what docs/operations.md
("PostgreSQL (many instances)") promises of such a deployment.

- quotas are exact across instances: uploads_per_day under concurrent new
  sessions spread over both, signatures_per_upload of one session continued
  alternately through both;
- a session opened on one instance continues on the other;
- one event POSTed concurrently to both has one effect;
- the webhook forwarder runs in one instance (a lease): each webhook is
  delivered once, and when the holder is killed the other takes over and
  delivers what was pending, the delivery in flight included;
- with the same [attribution] key_file, a file signed through one instance
  and reported to the other is attributed to its user.

The database is read directly with psql (an independent reader of what was
committed). The lease TTL is 30 s (src/svc/webhook.c): the takeover test
expires the dead holder's lease with an UPDATE instead of waiting for it.
"""
import base64
import concurrent.futures
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse
import uuid

import jwtmint
import vgtest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_events as te  # noqa: E402
import test_webhook as tw  # noqa: E402

URL = os.environ.get("VODGATE_PG_URL")

POLICIES = """
[policy quota]
uploads_per_day = 5

[policy sigs]
signatures_per_upload = 4
"""

QUOTA = 5
SIGS = 4


def psql(sql):
    r = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "|", "-v", "ON_ERROR_STOP=1", "-d", URL,
                        "-c", sql], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def q(s):
    """A SQL string literal (the values here are generated ids)."""
    return "'" + s.replace("'", "''") + "'"


def call(port, method, path, body=None, token=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=40)
    h = {}
    if token:
        h["Authorization"] = "Bearer " + token
    if body is not None:
        body = json.dumps(body).encode()
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    try:
        doc = json.loads(data) if data else None
    except ValueError:
        doc = None
    return r.status, doc


def signed(body):
    body = dict(body)
    body["T"] = int(time.time()) + 600
    body["Sign"] = te.sign(body["T"])
    return body


def source_context(doc):
    raw = base64.b64decode(doc["data"]["signature"])[20:].decode()
    for kv in raw.split("&"):
        k, _, v = kv.partition("=")
        if k == "sourceContext":
            return urllib.parse.unquote(v)
    raise KeyError("no sourceContext in the signature")


def user(prefix):
    """A user of this run only (a database may be reused by hand)."""
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


class Pair(unittest.TestCase):
    """Two instances, A and B, on the database at URL with one config but
    their own data_dir; both given the same [attribution] key_file."""

    @classmethod
    def start_pair(cls, receiver_url):
        cls.tmp = vgtest.TempDir()
        key = cls.tmp.file("attribution.key", "k1:%s\n" % base64.b64encode(os.urandom(32)).decode())
        extra = "[webhook]\nurl = %s\npoll_interval = 1\nretry_schedule = 1\nconcurrency = 16\n\n" \
                "[attribution]\nkey_file = %s\n" % (receiver_url, key)
        cls.daemons = []
        for name in ("a", "b"):
            ini = te.INI.format(dir=os.path.join(cls.tmp.path, name), extra=extra) + POLICIES
            ini = ini.replace("db = %s/vg.db" % os.path.join(cls.tmp.path, name), "db = " + URL)
            cfg = cls.tmp.file("%s.ini" % name, ini)
            env = dict(te.BASE_ENV, VODGATE_VOD_SIGN_KEY=te.SIGN_KEY,
                       VODGATE_WEBHOOK_SECRET=tw.WHSEC)
            cls.daemons.append(vgtest.Daemon(["serve", "--config", cfg], env=env, name=name))
        cls.a, cls.b = cls.daemons
        assert cls.a.port != cls.b.port

    @classmethod
    def stop_pair(cls):
        rcs = [d.stop() for d in cls.daemons]
        cls.tmp.cleanup()
        return rcs

    @staticmethod
    def hs(sub, **kw):
        c = jwtmint.claims(sub, iss="https://idp.example", aud="vodgate")
        c.update(kw)
        return jwtmint.hs256(te.HS_SECRET, c)

    def sign(self, d, sub, upload_id=None, **kw):
        body = {"uploadId": upload_id} if upload_id else {}
        return call(d.port, "POST", "/v1/upload-signatures", body, token=self.hs(sub, **kw))

    def upload(self, d, sub, upload_id):
        st, doc = call(d.port, "GET", "/v1/uploads/" + upload_id, token=self.hs(sub))
        self.assertEqual(st, 200, doc)
        return doc["data"]


class TestMulti(Pair):
    @classmethod
    def setUpClass(cls):
        cls.rx = tw.Receiver(tw.KEY_BYTES)
        cls.start_pair(cls.rx.url)

    @classmethod
    def tearDownClass(cls):
        rcs = cls.stop_pair()
        cls.rx.close()
        assert rcs == [0, 0], rcs

    def test_quota_exact_across_instances(self):
        """24 concurrent first signatures of one user whose policy allows 5
        sessions a day, alternating between A and B: exactly 5 are 200
        (5 distinct sessions), 19 are 429 code 4290, and the database holds
        exactly 5 sessions and a quota count of 5 for the user."""
        sub = user("quota")
        tok = self.hs(sub, plan="quota")
        ports = [self.a.port, self.b.port]
        barrier = threading.Barrier(24)

        def one(i):
            barrier.wait(30)
            return call(ports[i % 2], "POST", "/v1/upload-signatures", {}, token=tok)

        with concurrent.futures.ThreadPoolExecutor(24) as ex:
            res = list(ex.map(one, range(24)))
        ok = [d for st, d in res if st == 200]
        refused = [(st, d["code"]) for st, d in res if st != 200]
        self.assertEqual(len(ok), QUOTA, res)
        self.assertEqual(refused, [(429, 4290)] * (24 - QUOTA), res)
        self.assertEqual(len({d["data"]["uploadId"] for d in ok}), QUOTA)
        self.assertEqual(psql("SELECT count(*) FROM upload_session WHERE user_id = %s" % q(sub)),
                         str(QUOTA))
        self.assertEqual(psql("SELECT sum(used) FROM quota WHERE user_id = %s" % q(sub)), str(QUOTA))
        # Both instances refuse the next one.
        for d in self.daemons:
            st, doc = self.sign(d, sub, plan="quota")
            self.assertEqual((st, doc["code"]), (429, 4290), doc)

    def test_signatures_per_upload_across_instances(self):
        """A session opened on A under a policy of 4 signatures per upload,
        continued by 12 concurrent requests alternating between B and A:
        exactly 3 more are 200 (4 in all), 9 are 429 code 4291; the session
        counts 4 signatures and the view `signatures` lists n = 1..4."""
        sub = user("sigs")
        st, doc = self.sign(self.a, sub, plan="sigs")
        self.assertEqual(st, 200, doc)
        up = doc["data"]["uploadId"]
        ports = [self.b.port, self.a.port]
        tok = self.hs(sub, plan="sigs")
        barrier = threading.Barrier(12)

        def one(i):
            barrier.wait(30)
            return call(ports[i % 2], "POST", "/v1/upload-signatures", {"uploadId": up}, token=tok)

        with concurrent.futures.ThreadPoolExecutor(12) as ex:
            res = list(ex.map(one, range(12)))
        ok = [d for st, d in res if st == 200]
        refused = [(st, d["code"]) for st, d in res if st != 200]
        self.assertEqual(len(ok), SIGS - 1, res)
        self.assertEqual(refused, [(429, 4291)] * (12 - SIGS + 1), res)
        self.assertEqual({d["data"]["uploadId"] for d in ok}, {up})
        self.assertEqual(psql("SELECT signatures_issued FROM upload_session WHERE upload_id = %s"
                              % q(up)), str(SIGS))
        self.assertEqual(psql("SELECT string_agg(n::text, ',' ORDER BY n) FROM signatures"
                              " WHERE upload_id = %s" % q(up)), "1,2,3,4")

    def test_session_continues_on_the_other_instance(self):
        """A session opened on A continues on B and again on A: same
        uploadId, same attribution token in sourceContext, signature count
        1, 2, 3 in the database; B answers its status too."""
        sub = user("reuse")
        st, doc = self.sign(self.a, sub)
        self.assertEqual(st, 200, doc)
        up, ctx = doc["data"]["uploadId"], source_context(doc)
        for n, d in ((2, self.b), (3, self.a)):
            st, doc = self.sign(d, sub, up)
            self.assertEqual(st, 200, doc)
            self.assertEqual(doc["data"]["uploadId"], up)
            self.assertEqual(source_context(doc), ctx)
            self.assertEqual(psql("SELECT signatures_issued FROM upload_session WHERE upload_id ="
                                  " %s" % q(up)), str(n))
        self.assertEqual(psql("SELECT string_agg(n::text, ',' ORDER BY n) FROM signatures"
                              " WHERE upload_id = %s" % q(up)), "1,2,3")
        self.assertEqual(self.upload(self.b, sub, up)["uploadId"], up)
        # Another user cannot continue it on either instance.
        for d in self.daemons:
            st, doc = self.sign(d, user("mallory"), up)
            self.assertEqual((st, doc["code"]), (404, 4040), doc)

    def test_event_idempotent_across_instances(self):
        """One NewFileUpload POSTed 10 times to each instance at once: every
        answer is 200, exactly one says duplicate=false; the database holds
        one event row, one ledger row (uploaded, attributed) and one outbox
        row for the file; the receiver gets one webhook for it."""
        sub = user("event")
        st, doc = self.sign(self.a, sub)
        self.assertEqual(st, 200, doc)
        up, ctx = doc["data"]["uploadId"], source_context(doc)
        f = te.new_file_id()
        body = signed(te.nfu(f, ctx=ctx))
        ports = [self.a.port, self.b.port]
        barrier = threading.Barrier(20)

        def one(i):
            barrier.wait(30)
            return call(ports[i % 2], "POST", "/v1/vod/events", body)

        with concurrent.futures.ThreadPoolExecutor(20) as ex:
            res = list(ex.map(one, range(20)))
        self.assertEqual([st for st, _ in res], [200] * 20, res)
        self.assertEqual(sorted(d["data"]["duplicate"] for _, d in res), [False] + [True] * 19)
        self.assertEqual(psql("SELECT count(*) FROM event WHERE file_id = %s" % q(f)), "1")
        self.assertEqual(psql("SELECT upload_id, user_id, state FROM ledger WHERE file_id = %s"
                              % q(f)), "%s|%s|uploaded" % (up, sub))
        self.assertEqual(psql("SELECT count(*) FROM outbox WHERE payload->'data'->>'fileId' = %s"
                              % q(f)), "1")
        self.rx.wait(lambda r: any(p["data"]["fileId"] == f for p in r.effects.values()))
        with self.rx.mu:
            mine = [w for w, p in self.rx.effects.items() if p["data"]["fileId"] == f]
            self.assertEqual([self.rx.attempts[w] for w in mine], [1])

    def test_attribution_across_instances(self):
        """Both instances read the same key_file: a session opened on A whose
        file's event reaches B, and one opened on B whose event reaches A,
        are both attributed (uploaded, the right user and file); neither
        instance warns about a generated key."""
        for signer, receiver in ((self.a, self.b), (self.b, self.a)):
            sub = user("attr")
            st, doc = self.sign(signer, sub)
            self.assertEqual(st, 200, doc)
            up, ctx = doc["data"]["uploadId"], source_context(doc)
            f = te.new_file_id()
            st, doc = call(receiver.port, "POST", "/v1/vod/events", signed(te.nfu(f, ctx=ctx)))
            self.assertEqual(st, 200, doc)
            u = self.upload(signer, sub, up)
            self.assertEqual((u["state"], u["user"], u["fileId"]), ("uploaded", sub, f))
            self.assertEqual(psql("SELECT user_id FROM ledger WHERE file_id = %s" % q(f)), sub)
        for d in self.daemons:
            self.assertFalse(any("[attribution] key_file is not set" in x for x in d.logs))


class TestKill(Pair):
    """A fresh pair per test: each test kills an instance with SIGKILL. The
    webhook forwarder under a lease (one instance delivers); signatures
    committed before their answer."""

    LEASE = "webhook-forwarder"

    def setUp(self):
        self.rx = tw.Receiver(tw.KEY_BYTES)
        self.start_pair(self.rx.url)

    def tearDown(self):
        self.rx.gate.set()
        rcs = self.stop_pair()
        self.rx.close()
        # A killed instance's leases would hold the next pair's forwarder
        # back for their 30 s; no instance runs now.
        psql("DELETE FROM lease")
        self.assertTrue(all(rc in (0, -signal.SIGKILL) for rc in rcs), rcs)

    def holder(self):
        """The daemon whose pid is in the lease's owner (host:pid:random)."""
        owner = psql("SELECT owner FROM lease WHERE name = %s" % q(self.LEASE))
        pid = int(owner.split(":")[-2]) if owner else None
        mine = [d for d in self.daemons if d.proc.pid == pid]
        return mine[0] if mine else None

    def wait_for(self, pred, what, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if pred():
                return
            time.sleep(0.05)
        self.fail("not seen: " + what)

    def wids(self, f):
        with self.rx.mu:
            return {w for w, p in self.rx.effects.items() if p["data"]["fileId"] == f}

    def attempts_of(self, f):
        """POSTs the receiver got for file f (in flight or answered)."""
        with self.rx.mu:
            return sum(1 for fid, _ in self.rx.arrivals if fid == f)

    def post_nfu(self, d, f):
        st, doc = call(d.port, "POST", "/v1/vod/events", signed(te.nfu(f)))
        self.assertEqual(st, 200, doc)

    def test_one_forwarder_then_takeover(self):
        """Steady state: 8 events posted alternately to A and B give 8
        webhooks, each POSTed once (their answers held over several polls), and only one instance holds the lease
        (the other logged that it waits). Then, with a delivery in flight
        (the receiver holds its answer), the holder is killed with SIGKILL
        and another event reaches the survivor: nothing is sent while the
        dead holder's lease stands; once it expires (set here instead of
        waiting its 30 s), the survivor takes the lease and delivers both,
        the one that was in flight again with the same webhook-id (at least
        once), each with one effect."""
        self.wait_for(lambda: self.holder() is not None, "a lease holder")
        first = self.holder()
        other = self.b if first is self.a else self.a
        other.wait_log(lambda r: r.get("msg", "").startswith(
            "webhook: another forwarder holds the lease"), timeout=30)
        files = [te.new_file_id() for _ in range(8)]
        # The receiver holds its answers while a few forwarder polls (1 s)
        # pass: rows not yet marked delivered are what a second forwarder
        # would take too (not a timed assertion: the pause only gives a
        # double delivery its chance).
        self.rx.gate.clear()
        for i, f in enumerate(files):
            self.post_nfu(self.daemons[i % 2], f)
        self.wait_for(lambda: all(self.attempts_of(f) for f in files), "8 first attempts")
        time.sleep(2.5)
        self.rx.gate.set()
        self.rx.wait(lambda r: all(any(p["data"]["fileId"] == f for p in r.effects.values())
                                   for f in files))
        self.assertEqual(self.rx.bad, [])
        self.assertEqual([self.attempts_of(f) for f in files], [1] * 8)
        self.assertEqual(psql("SELECT count(*) FROM outbox WHERE delivered_at IS NOT NULL AND"
                              " payload->'data'->>'fileId' IN (%s)" % ",".join(map(q, files))),
                         "8")
        self.assertIs(self.holder(), first)

        # A delivery in flight when the holder dies.
        self.rx.gate.clear()
        p1, p2 = te.new_file_id(), te.new_file_id()
        self.post_nfu(other, p1)
        self.wait_for(lambda: self.attempts_of(p1) == 1, "the first attempt of " + p1)
        first.signal(signal.SIGKILL)
        first.wait()
        self.post_nfu(other, p2)
        self.rx.gate.set()
        # The dead holder's lease stands (30 s from its last renewal): the
        # survivor has not taken over, so p2 is not sent yet.
        self.assertIs(self.holder(), first)
        self.assertEqual(self.attempts_of(p2), 0)
        self.assertEqual(psql("UPDATE lease SET expires_at = 0 WHERE name = %s RETURNING 1"
                              % q(self.LEASE)), "1")
        self.rx.wait(lambda r: all(any(p["data"]["fileId"] == f for p in r.effects.values())
                                   for f in (p1, p2)))
        other.wait_log(lambda r: r.get("msg") == "webhook: forwarder lease taken")
        self.assertIs(self.holder(), other)
        self.assertEqual((self.attempts_of(p1), self.attempts_of(p2)), (2, 1))
        self.assertEqual((len(self.wids(p1)), len(self.wids(p2))), (1, 1))
        with self.rx.mu:
            self.assertEqual(len({w for w in self.rx.attempts
                                  if self.rx.attempts[w] == 2}), 1)
        self.assertEqual(psql("SELECT count(*) FROM outbox WHERE delivered_at IS NOT NULL AND"
                              " payload->'data'->>'fileId' IN (%s, %s)" % (q(p1), q(p2))), "2")

    def test_signatures_durable_when_killed(self):
        """Ten sessions opened concurrently on A, and A killed with SIGKILL
        right after the last answer: the database holds every session and
        signature answered (on PostgreSQL the records are committed before
        the answer, not written behind as on SQLite)."""
        subs = [user("durable") for _ in range(10)]
        ups = []
        with concurrent.futures.ThreadPoolExecutor(10) as ex:
            res = list(ex.map(lambda s: self.sign(self.a, s), subs))
        for st, doc in res:
            self.assertEqual(st, 200, doc)
            ups.append(doc["data"]["uploadId"])
        self.a.signal(signal.SIGKILL)
        self.a.wait()
        self.assertEqual(psql("SELECT count(*) FROM upload_session WHERE upload_id IN (%s)"
                              % ",".join(map(q, ups))), "10")
        self.assertEqual(psql("SELECT count(*) FROM signatures WHERE upload_id IN (%s)"
                              % ",".join(map(q, ups))), "10")


if __name__ == "__main__":
    if not URL:
        print("1..0 # SKIP no VODGATE_PG_URL (run through scripts/pg-test-server.sh)")
        sys.exit(0)
    vgtest.main()
