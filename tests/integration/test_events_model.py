"""A randomized, concurrent model test of the event intake (POST /v1/vod/events)
against one real daemon.

About 160 upload sessions for five users (one of them on a policy whose
max_size every file exceeds) get real signatures; then 12 client threads
(keep-alive connections) deliver for each file its NewFileUpload and 0-2
ProcedureStateChanged FINISH events (pass or block), each 1-4 times, in a
random global order (so often the result before the upload), some copies
side by side on two threads at once, interleaved with GET /v1/uploads/<id>
reads. Part-way the daemon is SIGKILLed and restarted on the same database;
everything not acknowledged with a 2xx, and a quarter of what was, is sent
again. Then the exact invariants:

- every event is stored once and answered "duplicate":false at most once
  (exactly once when no kill could have cut its answer off); no 5xx;
- each file's ledger state is the join of its events (docs/api.md "The
  upload ledger": blocked > passed > uploaded, rejected over all for the
  capped policy), whatever the order and duplicates;
- each file is credited to the user whose session's token it carries (on
  any of its events), or to nobody when none of them carries one;
- a read that starts after an acknowledgement sees at least its state;
- the outbox holds, per file, a chain of state changes from "issued" to the
  final state, one row per changing event, none for a duplicate, and a row
  for the event that attributed the file (previousState "issued", the
  user), also when the file's state did not change then;
- the daemon exits 0 on SIGTERM.

The seed is printed and is in every failure message; VODGATE_MODEL_SEED
reruns one.
"""
import base64
import http.client
import json
import os
import random
import signal
import sqlite3
import sys
import threading
import time
import unittest
import urllib.parse

import jwtmint
import vgtest

VOD_KEY = "vod-secret-key-for-tests-0123456789"
HS_SECRET = "hs256-secret-for-tests-0123456789abcdef"
SIGN_KEY = "ModelSignKey77"
ADMIN = "admin-token-for-tests-0123456789"

INI = """
[server]
listen = 127.0.0.1:0
db = {dir}/vg.db
data_dir = {dir}/data
threads = 4

[vod]
secret_id = AKIDvodgatetest

[auth]
jwt_issuer = https://idp.example
jwt_audience = vodgate
jwt_policy_claim = plan

[webhook]
url = http://127.0.0.1:9/hook

[policy default]
procedure = ReviewFlow

[policy small]
procedure = ReviewFlow
max_size = 1000000
"""
ENV = {"VODGATE_VOD_SECRET_KEY": VOD_KEY, "VODGATE_AUTH_JWT_HS256_SECRET": HS_SECRET,
       "VODGATE_AUTH_ADMIN_TOKEN": ADMIN, "VODGATE_VOD_SIGN_KEY": SIGN_KEY}

# user -> plan claim (None: the default policy). dave's files (7.7 MB)
# exceed the small policy's max_size: they end "rejected".
USERS = {"alice": None, "bob": None, "carol": None, "erin": None, "dave": "small"}
SESSIONS = 200
UNATTRIBUTED = 12  # files whose events carry no token at all
THREADS = 12
RANK = {"issued": 0, "uploaded": 1, "processing": 2, "passed": 3, "blocked": 4, "rejected": 5}


load = vgtest.event_body


NFU = load("newfileupload.json")
PSC = {"pass": load("procedure_pass.json"), "block": load("procedure_block.json"),
       "processing": load("procedure_processing.json")}


def signed(body):
    t = int(time.time()) + 600
    b = dict(body, Sign=vgtest.callback_sign(SIGN_KEY, t), T=t)
    return json.dumps(b).encode()


def forge(token):
    """The token with one character of its MAC changed (a forgery)."""
    head, mac = token.rsplit(".", 1)
    i = len(mac) // 2
    return head + "." + mac[:i] + ("B" if mac[i] == "A" else "A") + mac[i + 1:]


class File:
    """One file: its session (or none), its events and what they imply.
    sess_id/sess_user: the session; upload_id/user: the attribution
    expected (None when none of its events carries a valid token)."""

    def __init__(self, rng, fid, upload_id, user, token):
        self.fid, self.sess_id, self.sess_user = fid, upload_id, user
        self.events = []  # (key, kind, body)
        self.carries = {}  # key -> does that event carry a valid token
        # Tasks: 0-2, each a FINISH (pass/block), sometimes also a
        # PROCESSING of the same task, sometimes only a PROCESSING.
        kinds = ["nfu"]
        for t in range(rng.choices([0, 1, 2], [15, 65, 20])[0]):
            r = rng.random()
            if r < 0.15:
                kinds.append(("processing", t))
            else:
                kinds.append((rng.choices(["pass", "block"], [60, 40])[0], t))
                if r < 0.35:
                    kinds.append(("processing", t))
        # Which events carry the token: all, or only one (the first
        # verified token attributes the file, whichever event brings it);
        # now and then a forged one instead.
        carries = [True] * len(kinds)
        if token and rng.random() < 0.2:
            carries = [False] * len(kinds)
            carries[rng.randrange(len(kinds))] = True
        for i, kind in enumerate(kinds):
            ctx = token if token and carries[i] else ""
            if ctx and rng.random() < 0.04:
                ctx = forge(ctx)
                carries[i] = False
            if kind == "nfu":
                b = json.loads(json.dumps(NFU))
                m = b["FileUploadEvent"]
                m["FileId"] = fid
                m["MediaBasicInfo"]["SourceInfo"]["SourceContext"] = ctx
                key = "NewFileUpload/" + fid
            else:
                b = json.loads(json.dumps(PSC[kind[0]]))
                m = b["ProcedureStateChangeEvent"]
                task = "1500000001-procedurev2-%st%d" % (fid, kind[1])
                m["FileId"], m["TaskId"] = fid, task
                if ctx and rng.random() < 0.5:
                    ctx += "|app-context-%d" % i
                m["SessionContext"] = ctx
                key = "ProcedureStateChanged/%s/%s" % (task, m["Status"])
            self.events.append((key, kind, b))
            self.carries[key] = carries[i]
        self.kinds = [k if k == "nfu" else k[0] for k in kinds]
        ok = any(carries)
        self.upload_id, self.user = (upload_id, user) if ok else (None, None)

    def final_state(self, capped):
        if self.user and capped:
            return "rejected"
        for s in ("block", "pass", "processing"):
            if s in self.kinds:
                return {"block": "blocked", "pass": "passed"}.get(s, s)
        return "uploaded"


class Model(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = vgtest.TempDir()
        cls.cfg = cls.tmp.file("vodgate.ini", INI.format(dir=cls.tmp.path))
        cls.db = os.path.join(cls.tmp.path, "vg.db")
        cls.d = vgtest.Daemon(["serve", "--config", cls.cfg], env=ENV)

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        cls.tmp.cleanup()
        assert rc == 0, "\n".join(cls.d.logs[-30:])

    def jwt(self, sub):
        c = jwtmint.claims(sub, iss="https://idp.example", aud="vodgate")
        if USERS[sub]:
            c["plan"] = USERS[sub]
        return jwtmint.hs256(HS_SECRET, c)

    def sql(self, q, *args):
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=10)
        try:
            return con.execute(q, args).fetchall()
        finally:
            con.close()

    def test_random_schedules_with_a_crash(self):
        seed = int(os.environ.get("VODGATE_MODEL_SEED") or random.SystemRandom().randrange(10**9))
        print("# seed %d (VODGATE_MODEL_SEED=%d reruns it)" % (seed, seed), file=sys.stderr)
        sys.stdout.write("# seed %d\n" % seed)
        rng = random.Random(seed)
        S = "seed %d: " % seed
        tokens = {u: self.jwt(u) for u in USERS}

        # Sessions: real signatures, each one's attribution token.
        conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=30)
        files = []
        base = rng.randrange(10**8)
        for i in range(SESSIONS + UNATTRIBUTED):
            fid = "5285890%012d" % (base * 1000 + i)
            if i >= SESSIONS:
                files.append(File(rng, fid, None, None, None))
                continue
            user = rng.choice(sorted(USERS))
            conn.request("POST", "/v1/upload-signatures", body=b"{}",
                         headers={"Authorization": "Bearer " + tokens[user],
                                  "Content-Type": "application/json"})
            r = conn.getresponse()
            doc = json.loads(r.read())
            self.assertEqual(r.status, 200, S + str(doc))
            raw = base64.b64decode(doc["data"]["signature"])[20:]
            p = dict(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True))
            files.append(File(rng, fid, doc["data"]["uploadId"], user, p["sourceContext"]))
        conn.close()
        by_key = {}
        for f in files:
            for key, kind, body in f.events:
                by_key[key] = (f, kind, signed(body))

        # The deliveries: each event 1-4 times; some copies adjacent in the
        # global order so that two threads send them at the same moment
        # (the list is dealt round robin), reads in between.
        jobs = []
        for key in by_key:
            n = rng.choices([1, 2, 3, 4], [40, 30, 20, 10])[0]
            jobs += [("post", key)] * n
        rng.shuffle(jobs)
        out = []
        for j in jobs:
            out.append(j)
            if rng.random() < 0.1:
                out.append(j)  # a concurrent twin on the next thread
            if rng.random() < 0.3:
                f = rng.choice(files[:SESSIONS])
                out.append(("get", f.sess_id))
            if rng.random() < 0.02:  # a long poll until it leaves "issued" (or 2 s)
                out.append(("poll", rng.choice(files[:SESSIONS]).sess_id))
        jobs = out
        sessions = {f.sess_id: f for f in files if f.sess_id}

        lock = threading.Lock()
        answers = {k: [] for k in by_key}  # key -> [(duplicate, state)]
        # A read as the owner shows the file once an event with its token
        # is stored (attributed), and then at least the state of every
        # event acknowledged before the read started.
        floor = {}  # upload_id -> max rank acknowledged
        attributed = set()  # upload_ids
        failures = []
        killed = threading.Event()
        acked = [0]
        reads = {"get": 0, "poll": 0}
        lost = set()  # keys a delivery of which the kill cut off

        def fail(msg):
            with lock:
                failures.append(S + msg)

        def worker(mine, port):
            c = None
            for op, arg in mine:
                if killed.is_set() and op != "post":
                    continue
                for attempt in (0, 1):
                    if c is None:
                        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    try:
                        if op == "post":
                            c.request("POST", "/v1/vod/events", body=by_key[arg][2],
                                      headers={"Content-Type": "application/json"})
                        else:
                            f = sessions[arg]
                            with lock:
                                lo = floor.get(arg, 0) if arg in attributed else 0
                            c.request("GET", "/v1/uploads/" + arg +
                                      ("?wait=2&since=issued" if op == "poll" else ""),
                                      headers={"Authorization": "Bearer " + tokens[f.sess_user]})
                        r = c.getresponse()
                        data = r.read()
                    except (OSError, http.client.HTTPException) as e:
                        c.close()
                        c = None
                        if killed.is_set():
                            if op == "post":
                                with lock:
                                    lost.add(arg)
                            break  # not acknowledged: sent again after the restart
                        if attempt == 0 and isinstance(e, (http.client.RemoteDisconnected,
                                                           BrokenPipeError, ConnectionResetError)):
                            continue  # a keep-alive connection the server closed
                        fail("%s %s: %r" % (op, arg, e))
                        break
                    if r.status >= 500 or r.status not in (200,):
                        fail("%s %s: %d %r" % (op, arg, r.status, data[:300]))
                        break
                    doc = json.loads(data)["data"]
                    if op != "post":
                        with lock:
                            reads[op] += 1
                        if doc["state"] not in RANK or RANK[doc["state"]] < lo:
                            fail("read %s after an ack of rank %d: %s" % (arg, lo, doc))
                        break
                    f, kind, _ = by_key[arg]
                    with lock:
                        answers[arg].append((doc["duplicate"], doc.get("state")))
                        acked[0] += 1
                        if f.carries[arg]:
                            attributed.add(f.upload_id)
                        if not doc["duplicate"] and f.upload_id:
                            st = doc.get("state")
                            floor[f.upload_id] = max(floor.get(f.upload_id, 0), RANK.get(st, 9))
                    if doc["eventKey"] != arg:
                        fail("answer for %s names %s" % (arg, doc["eventKey"]))
                    break
            if c:
                c.close()

        def run(joblist, port, kill_at=None):
            parts = [joblist[i::THREADS] for i in range(THREADS)]
            ts = [threading.Thread(target=worker, args=(p, port)) for p in parts]
            for t in ts:
                t.start()
            if kill_at is not None:
                while True:
                    with lock:
                        n = acked[0]
                    if n >= kill_at or not any(t.is_alive() for t in ts):
                        break
                    time.sleep(0.002)
                killed.set()
                self.d.proc.send_signal(signal.SIGKILL)
                self.d.proc.wait(timeout=15)
            for t in ts:
                t.join(timeout=120)
                self.assertFalse(t.is_alive(), S + "a client thread hangs")

        n_posts = sum(1 for j in jobs if j[0] == "post")
        t0 = time.time()
        run(jobs, self.d.port, kill_at=int(n_posts * rng.uniform(0.3, 0.6)))
        self.assertEqual(failures, [], "\n".join(failures[:20]))
        self.assertNotEqual(self.d.proc.returncode, 0, S + "the daemon was not killed")
        acked_1 = {k for k, a in answers.items() if a}

        # Restart on the same database; send again what was not
        # acknowledged, and a quarter of what was.
        old = self.d
        self.d = type(self).d = vgtest.Daemon(["serve", "--config", self.cfg], env=ENV)
        old.stop()
        killed.clear()
        again = [("post", k) for k in by_key if k not in acked_1]
        again += [("post", k) for k in sorted(acked_1) if rng.random() < 0.25]
        for up in rng.sample(sorted(sessions), 40):
            again.append(("get", up))
        for up in rng.sample(sorted(sessions), 10):
            again.append(("poll", up))
        rng.shuffle(again)
        run(again, self.d.port)
        self.assertEqual(failures, [], "\n".join(failures[:20]))
        elapsed = time.time() - t0
        print("# %d files (%d with a token on only some events, %d with none valid), %d events, "
              "%d+%d requests (%d reads, %d long polls answered), %d acknowledged before the kill, "
              "%.1f s"
              % (len(files), sum(1 for f in files if f.sess_id and not all(f.carries.values())),
                 sum(1 for f in files if f.sess_id and not f.user), len(by_key), len(jobs),
                 len(again), reads["get"], reads["poll"], len(acked_1), elapsed), file=sys.stderr)

        # Every event acknowledged; new exactly once, except that an event
        # whose answer the kill cut off was committed without one: then
        # only duplicates answer.
        for key, a in answers.items():
            self.assertTrue(a, S + "never acknowledged: " + key)
            new = sum(1 for dup, _ in a if not dup)
            if key in lost:
                self.assertLessEqual(new, 1, S + "%s answered new %d times: %s" % (key, new, a))
            else:
                self.assertEqual(new, 1, S + "%s answered new %d times: %s" % (key, new, a))
        stored = self.sql("SELECT event_key, file_id FROM event")
        self.assertEqual(len(stored), len({k for k, _ in stored}), S)
        self.assertEqual(sorted(k for k, _ in stored), sorted(by_key), S + "stored events")
        for k, fid in stored:
            self.assertEqual(fid, by_key[k][0].fid, S + k)

        # The ledger: state and attribution per file.
        rows = {r[0]: r[1:] for r in self.sql("SELECT file_id, upload_id, user_id, state FROM ledger")}
        self.assertEqual(sorted(rows), sorted(f.fid for f in files), S + "ledger rows")
        finals = {}
        for f in files:
            want = f.final_state(f.user is not None and USERS[f.user] == "small")
            finals[f.fid] = want
            up, user, state = rows[f.fid]
            self.assertEqual((up, user, state), (f.upload_id, f.user, want),
                             S + "file %s kinds %s" % (f.fid, f.kinds))
            for dup, st in answers[f.events[0][0]] + [x for e in f.events[1:] for x in answers[e[0]]]:
                if st is not None:
                    self.assertLessEqual(RANK[st], RANK[want], S + f.fid)

        # The same through the API, as the owner.
        c = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=30)
        for f in files[:SESSIONS]:
            c.request("GET", "/v1/uploads/" + f.sess_id,
                      headers={"Authorization": "Bearer " + tokens[f.sess_user]})
            r = c.getresponse()
            doc = json.loads(r.read())
            self.assertEqual(r.status, 200, S + str(doc))
            want = (f.fid, finals[f.fid]) if f.user else (None, "issued")
            self.assertEqual((doc["data"]["fileId"], doc["data"]["user"], doc["data"]["state"]),
                             want[:1] + (f.sess_user,) + want[1:], S + f.sess_id)
        c.close()

        # The outbox: per file, one row per state change, in commit order,
        # a chain from "issued" to the final state.
        chains = {}
        for key, payload in self.sql("SELECT event_key, payload FROM outbox ORDER BY id"):
            p = json.loads(payload)
            self.assertEqual(p["eventKey"], key, S)
            self.assertIn(key, by_key, S + "outbox row for an unknown event")
            chains.setdefault(by_key[key][0].fid, []).append(p)
        for f in files:
            ch = chains.get(f.fid, [])
            where = S + "outbox of %s (kinds %s): %s" % (
                f.fid, f.kinds, [(p["eventKey"], p["previousState"], p["data"]["state"])
                                 for p in ch])
            self.assertTrue(ch, where)
            prev, user = "issued", None
            for p in ch:
                d = p["data"]
                self.assertEqual(d["fileId"], f.fid, where)
                if d["user"] != user:
                    # The event that attributed the file: news for its
                    # upload, which was "issued" until then.
                    self.assertEqual((user, d["user"], d["uploadId"]),
                                     (None, f.user, f.upload_id), where)
                    self.assertEqual(p["previousState"], "issued", where)
                    user = d["user"]
                else:
                    self.assertEqual(p["previousState"], prev, where)
                    self.assertNotEqual(d["state"], prev, where)
                prev = d["state"]
            self.assertEqual((prev, user), (finals[f.fid], f.user), where)
            self.assertEqual(len({p["eventKey"] for p in ch}), len(ch), where)

        # A clean stop.
        rc = self.d.stop()
        self.assertEqual(rc, 0, S + "\n".join(self.d.logs[-30:]))


if __name__ == "__main__":
    vgtest.main()
