"""POST /v1/vod/events and the upload ledger against the real daemon.

Bodies are the examples of spec 4.4 (tests/data/events) with their FileId,
contexts and Sign/T rewritten per test. The ledger is read through
GET /v1/uploads (user and admin), the event, outbox and quarantine tables
directly with Python's sqlite3 (an independent reader of what was
committed), and with the `vodgate events|uploads` CLI.
"""
import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import threading
import time
import unittest
import urllib.parse
import base64

import jwtmint
import vgtest

VOD_KEY = "vod-secret-key-for-tests-0123456789"
HS_SECRET = "hs256-secret-for-tests-0123456789abcdef"
SIGN_KEY = "MySignKey123"
ADMIN = "admin-token-for-tests-0123456789"
PATH_TOKEN = "pathTokenForTests0123456789abcdef"

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

{extra}

[policy default]
procedure = ReviewFlow
client_may_set = sourceContext, sessionContext

[policy small]
procedure = ReviewFlow
max_size = 1000000

[policy short]
procedure = ReviewFlow
max_duration = 30

[policy webm]
procedure = ReviewFlow
containers = webm, mkv
"""

SIGNED_EXTRA = """
[webhook]
url = http://127.0.0.1:9/hook
"""

BASE_ENV = {"VODGATE_VOD_SECRET_KEY": VOD_KEY, "VODGATE_AUTH_JWT_HS256_SECRET": HS_SECRET,
            "VODGATE_AUTH_ADMIN_TOKEN": ADMIN}

_fid = [int(time.time() * 1000) % 10**9]


def new_file_id():
    _fid[0] += 1
    return "52858907%011d" % _fid[0]


load = vgtest.event_body


def member(body):
    if "data" in body and "version" in body:
        return body["data"]
    for k in ("FileUploadEvent", "ProcedureStateChangeEvent"):
        if body.get(k):
            return body[k]
    raise KeyError("no member")


def nfu(file_id, ctx=None, **meta):
    b = load("newfileupload.json")
    m = b["FileUploadEvent"]
    m["FileId"] = file_id
    if ctx is not None:
        m["MediaBasicInfo"]["SourceInfo"]["SourceContext"] = ctx
    m["MetaData"].update(meta)
    return b


def psc(name, file_id, ctx=None, task=None):
    b = load(name)
    m = b["ProcedureStateChangeEvent"]
    m["FileId"] = file_id
    m["TaskId"] = task or ("1500000001-procedurev2-%st0" % file_id)
    if ctx is not None:
        m["SessionContext"] = ctx
    return b


def sign(t):
    return vgtest.callback_sign(SIGN_KEY, t)


class Base(unittest.TestCase):
    extra = SIGNED_EXTRA
    env = dict(BASE_ENV, VODGATE_VOD_SIGN_KEY=SIGN_KEY)

    @classmethod
    def setUpClass(cls):
        cls.tmp = vgtest.TempDir()
        cls.cfg = cls.tmp.file("vodgate.ini", INI.format(dir=cls.tmp.path, extra=cls.extra))
        cls.db = os.path.join(cls.tmp.path, "vg.db")
        cls.d = vgtest.Daemon(["serve", "--config", cls.cfg], env=cls.env)

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        cls.tmp.cleanup()
        assert rc == 0, "\n".join(cls.d.logs[-30:])

    def call(self, method, path, body=None, headers=None, token=None):
        c = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=40)
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = None
        return r.status, doc

    def post(self, body, t=None, signed=True, path="/v1/vod/events", headers=None):
        if signed and isinstance(body, dict):
            body = dict(body)
            t = t if t is not None else int(time.time()) + 600
            body["Sign"] = sign(t)
            body["T"] = t
        return self.call("POST", path, body, headers)

    def ok_post(self, body, **kw):
        st, doc = self.post(body, **kw)
        self.assertEqual(st, 200, doc)
        self.assertEqual(doc["code"], 0)
        return doc["data"]

    def hs(self, sub="alice", **kw):
        c = jwtmint.claims(sub, iss="https://idp.example", aud="vodgate")
        c.update(kw)
        return jwtmint.hs256(HS_SECRET, c)

    def session(self, sub="alice", **kw):
        """Open an upload session; return (uploadId, attribution token)."""
        st, doc = self.call("POST", "/v1/upload-signatures", {}, token=self.hs(sub, **kw))
        self.assertEqual(st, 200, doc)
        raw = base64.b64decode(doc["data"]["signature"])[20:]
        p = dict(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True))
        return doc["data"]["uploadId"], p["sourceContext"]

    def upload(self, upload_id, sub="alice", query=""):
        return self.call("GET", "/v1/uploads/" + upload_id + query, token=self.hs(sub))

    def admin(self, query=""):
        st, doc = self.call("GET", "/v1/uploads" + query, token=ADMIN)
        self.assertEqual(st, 200, doc)
        return doc["data"]["uploads"]

    def by_file(self, file_id):
        rows = [u for u in self.admin("?limit=1000") if u["fileId"] == file_id]
        self.assertEqual(len(rows), 1, rows)
        return rows[0]

    def sql(self, q, *args):
        con = sqlite3.connect(self.db, timeout=10)
        try:
            return con.execute(q, args).fetchall()
        finally:
            con.close()

    def outbox(self, file_id):
        rows = self.sql("SELECT payload FROM outbox ORDER BY id")
        out = []
        for (p,) in rows:
            d = json.loads(p)
            if d["data"]["fileId"] == file_id:
                out.append(d["data"]["state"])
        return out

    def events_of(self, file_id):
        return self.sql("SELECT event_key FROM event WHERE file_id = ?", file_id)


class Intake(Base):
    def test_example_bodies_unattributed(self):
        f = new_file_id()
        d = self.ok_post(nfu(f))
        self.assertEqual(d, {"eventKey": "NewFileUpload/" + f, "duplicate": False,
                             "state": "uploaded"})
        d = self.ok_post(psc("procedure_block.json", f))
        self.assertEqual(d["state"], "blocked")
        u = self.by_file(f)
        # The example's SourceContext is app JSON, not a vodgate token: the
        # file is recorded but credited to nobody.
        self.assertIsNone(u["user"])
        self.assertIsNone(u["uploadId"])
        self.assertEqual(u["state"], "blocked")
        self.assertEqual(u["review"], {"suggestion": "block", "label": "sexy", "confidence": 97})
        self.assertTrue(u["mediaUrl"].endswith("/AbCdEfGhIjKL.mp4"))
        self.assertEqual(self.outbox(f), ["uploaded", "blocked"])
        self.assertEqual(len(self.events_of(f)), 2)

    def test_duplicates_have_one_effect(self):
        f = new_file_id()
        body = nfu(f)
        self.assertFalse(self.ok_post(body)["duplicate"])
        for _ in range(3):
            self.assertTrue(self.ok_post(body)["duplicate"])
        p = psc("procedure_pass.json", f)
        self.ok_post(p)
        self.assertTrue(self.ok_post(p)["duplicate"])
        self.assertEqual(len(self.events_of(f)), 2)
        self.assertEqual(self.outbox(f), ["uploaded", "passed"])

    def test_any_order_same_result(self):
        results = []
        for order in ((0, 1, 2), (2, 1, 0), (1, 2, 0), (2, 0, 1)):
            f = new_file_id()
            bodies = [nfu(f), psc("procedure_processing.json", f),
                      psc("procedure_review.json", f)]
            for i in order:
                self.ok_post(bodies[i])
            u = self.by_file(f)
            results.append((u["state"], u["review"], u["mediaUrl"], u["reason"]))
            # Exactly one outbox row per state change, never one for a
            # duplicate; the last one always carries the final state.
            self.assertEqual(self.outbox(f)[-1], "review")
            self.assertEqual(len(self.events_of(f)), 3)
        self.assertEqual(len(set(json.dumps(r) for r in results)), 1, results)
        self.assertEqual(results[0][0], "review")

    def test_processing_after_finish_does_not_regress(self):
        f = new_file_id()
        self.ok_post(nfu(f))
        self.assertEqual(self.ok_post(psc("procedure_pass.json", f))["state"], "passed")
        self.assertEqual(self.ok_post(psc("procedure_processing.json", f))["state"], "passed")
        self.assertEqual(self.outbox(f), ["uploaded", "passed"])

    def test_worst_finish_wins(self):
        f = new_file_id()
        self.ok_post(psc("procedure_block.json", f, task="t-a-" + f))
        self.assertEqual(self.ok_post(psc("procedure_pass.json", f, task="t-b-" + f))["state"],
                         "blocked")
        self.assertEqual(self.by_file(f)["state"], "blocked")

    def test_failed_review(self):
        f = new_file_id()
        self.ok_post(psc("procedure_fail.json", f))
        u = self.by_file(f)
        self.assertEqual(u["state"], "failed")
        self.assertTrue(u["reason"].startswith("content review did not complete"))

    def test_no_review_passes(self):
        f = new_file_id()
        self.assertEqual(self.ok_post(psc("procedure_noreview.json", f))["state"], "passed")

    def test_legacy_and_v3_deduplicate(self):
        f = new_file_id()
        leg = load("legacy_newfileupload.json")
        leg["data"]["fileId"] = f
        d = self.ok_post(leg)
        self.assertEqual(d["eventKey"], "NewFileUpload/" + f)
        self.assertTrue(self.ok_post(nfu(f))["duplicate"])
        lp = load("legacy_procedure.json")
        lp["data"]["fileId"] = f
        lp["data"]["vodTaskId"] = "legacy-task-" + f
        self.assertIn(self.ok_post(lp)["state"], ("blocked", "passed", "review", "failed"))
        self.assertEqual(len(self.events_of(f)), 2)

    def test_nulls_and_unknown_fields(self):
        f = new_file_id()
        b = load("newfileupload_nulls.json")
        b["FileUploadEvent"]["FileId"] = f
        self.assertEqual(self.ok_post(b)["state"], "uploaded")

    def test_other_event_types_are_stored_only(self):
        b = load("filedeleted.json")
        b["FileDeleteEvent"]["FileIdSet"] = [new_file_id()]
        d = self.ok_post(b)
        self.assertTrue(d["eventKey"].startswith("FileDeleted/sha256:"))
        self.assertNotIn("state", d)
        self.assertTrue(self.ok_post(b)["duplicate"])

    def test_malformed_bodies_400_and_quarantined(self):
        before = self.sql("SELECT count(*) FROM quarantine")[0][0]
        cases = [b"{not json", b"[]", b'{"EventType":"NewFileUpload"}',
                 b'{"EventType":"NewFileUpload","FileUploadEvent":{"FileId":5}}',
                 b'{"a":1,"a":2}']
        reasons = []
        for body in cases:
            st, doc = self.post(body, signed=False)
            self.assertEqual(st, 400, body)
            self.assertEqual(doc["code"], 4000)
            self.assertTrue(doc["message"].startswith("malformed event: "), doc)
            reasons.append(doc["message"])
        self.assertEqual(reasons[0], "malformed event: not_json")
        self.assertEqual(reasons[2], "malformed event: missing_field:FileUploadEvent")
        rows = self.sql("SELECT reason, body FROM quarantine ORDER BY id DESC LIMIT ?", len(cases))
        self.assertEqual(self.sql("SELECT count(*) FROM quarantine")[0][0], before + len(cases))
        self.assertEqual([bytes(b) for _, b in reversed(rows)], cases)

    def test_huge_body_413(self):
        f = new_file_id()
        b = nfu(f)
        b["Padding"] = "x" * (1024 * 1024)
        body = json.dumps(b).encode()
        # The server answers 413 from Content-Length alone and closes; send
        # the headers only so the answer is read, not a broken pipe.
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
        s.sendall(b"POST /v1/vod/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                  b"\r\nContent-Length: %d\r\n\r\n" % len(body))
        resp = s.recv(4096).decode()
        s.close()
        self.assertTrue(resp.startswith("HTTP/1.1 413 "), resp)
        self.assertEqual(len(self.events_of(f)), 0)
        # Exactly at the limit is not refused for its size.
        st, doc = self.post(b"{" + b" " * (1024 * 1024 - 2) + b"}", signed=False)
        self.assertEqual((st, doc["message"]), (400, "malformed event: unknown_format"))

    def test_large_review_body_is_stored(self):
        # 10 subtasks x 100 segments: over the store's 64 KiB body cap, so
        # the stored copy loses its SegmentSets, but the event counts.
        f = new_file_id()
        b = psc("procedure_block.json", f)
        tasks = b["ProcedureStateChangeEvent"]["AiContentReviewResultSet"]
        seg = tasks[0]["PornTask"]["Output"]["SegmentSet"][0]
        tasks[0]["PornTask"]["Output"]["SegmentSet"] = [dict(seg, Url=seg["Url"] + "?%d" % i)
                                                        for i in range(1000)]
        self.assertEqual(self.ok_post(b)["state"], "blocked")
        (body,) = self.sql("SELECT body FROM event WHERE file_id = ?", f)[0]
        self.assertLess(len(body), 65536)
        self.assertFalse('"SegmentSet":' in body)
        self.assertFalse('"Sign"' in body)

    def test_sign_required_and_checked(self):
        f = new_file_id()
        now = int(time.time())
        cases = [
            (nfu(f), False, None, "event signature: missing"),
            (dict(nfu(f), Sign="0" * 32, T=now + 600), False, None, "event signature: bad_sign"),
            (dict(nfu(f), Sign="zz", T=now + 600), False, None, "event signature: malformed"),
            (nfu(f), True, now - 3600, "event signature: expired"),
        ]
        for body, signed, t, msg in cases:
            st, doc = self.post(body, signed=signed, t=t)
            self.assertEqual(st, 401, msg)
            self.assertEqual(doc["code"], 4011)
            self.assertEqual(doc["message"], msg)
        self.assertEqual(len(self.events_of(f)), 0)
        # Within the skew: T a little in the past is still fine.
        self.ok_post(nfu(f), t=now - 5)

    def test_sign_in_headers_and_upper_case(self):
        f = new_file_id()
        t = int(time.time()) + 300
        d = self.ok_post(nfu(f), signed=False,
                         headers={"Sign": sign(t).upper(), "T": str(t)})
        self.assertFalse(d["duplicate"])

    def test_unknown_path_is_404(self):
        st, doc = self.post(nfu(new_file_id()), path="/v1/vod/events/something")
        self.assertEqual(st, 404)
        st, doc = self.post(nfu(new_file_id()), path="/v1/vod/eventsX")
        self.assertEqual(st, 404)
        st, doc = self.call("GET", "/v1/vod/events")
        self.assertEqual(st, 405)


class Attribution(Base):
    def test_full_flow_blocked(self):
        uid, token = self.session("alice")
        st, doc = self.upload(uid)
        self.assertEqual(st, 200, doc)
        self.assertEqual(doc["data"]["state"], "issued")
        self.assertIsNone(doc["data"]["fileId"])
        f = new_file_id()
        self.assertEqual(self.ok_post(nfu(f, ctx=token))["state"], "uploaded")
        self.assertEqual(self.upload(uid)[1]["data"]["state"], "uploaded")
        self.ok_post(psc("procedure_block.json", f, ctx=token))
        st, doc = self.upload(uid)
        self.assertEqual(st, 200)
        u = doc["data"]
        self.assertEqual(sorted(u), sorted(["uploadId", "user", "state", "fileId", "mediaUrl",
                                            "coverUrl", "review", "reason", "updatedAt"]))
        self.assertEqual((u["uploadId"], u["user"], u["state"], u["fileId"]),
                         (uid, "alice", "blocked", f))
        self.assertEqual(u["review"], {"suggestion": "block", "label": "sexy", "confidence": 97})
        self.assertIsNone(u["reason"])
        self.assertIsNone(u["coverUrl"])
        # Nobody else sees it.
        self.assertEqual(self.upload(uid, "bob")[0], 404)
        self.assertEqual(self.upload("nope0000", "alice")[0], 404)
        self.assertEqual(self.call("GET", "/v1/uploads/" + uid)[0], 401)
        self.assertEqual([x["fileId"] for x in self.admin("?user=alice&state=blocked")
                          if x["uploadId"] == uid], [f])

    def test_flow_passed_via_session_context_first(self):
        uid, token = self.session("carol")
        f = new_file_id()
        # The ProcedureStateChanged (with "token|app ctx") before the upload.
        self.ok_post(psc("procedure_pass.json", f, ctx=token + "|{\"post\":1}"))
        self.ok_post(nfu(f, ctx="garbage"))
        u = self.upload(uid, "carol")[1]["data"]
        self.assertEqual((u["state"], u["user"], u["fileId"]), ("passed", "carol", f))

    def test_late_attribution_gets_a_webhook(self):
        """The result without a token before the NewFileUpload with one:
        the file's state stays "passed", but its upload moves from issued
        to passed and the app hears of it (found by test_events_model)."""
        uid, token = self.session("carol")
        f = new_file_id()
        self.assertEqual(self.ok_post(psc("procedure_pass.json", f, ctx=""))["state"], "passed")
        self.assertEqual(self.upload(uid, "carol")[1]["data"]["state"], "issued")
        self.assertEqual(self.ok_post(nfu(f, ctx=token))["state"], "passed")
        rows = [json.loads(p) for (p,) in self.sql("SELECT payload FROM outbox ORDER BY id")]
        rows = [(r["eventKey"], r["previousState"], r["data"]["state"], r["data"]["user"],
                 r["data"]["uploadId"]) for r in rows if r["data"]["fileId"] == f]
        self.assertEqual(rows, [
            ("ProcedureStateChanged/1500000001-procedurev2-%st0/FINISH" % f, "issued", "passed",
             None, None),
            ("NewFileUpload/" + f, "issued", "passed", "carol", uid)])
        # A duplicate adds nothing.
        self.assertTrue(self.ok_post(nfu(f, ctx=token))["duplicate"])
        self.assertEqual(self.outbox(f), ["passed", "passed"])

    def test_first_valid_token_keeps_the_file(self):
        """A file credited to one session is never moved to another by a
        later event carrying another user's valid token (a client that
        reuses a token, or two uploads sharing a file): the first verified
        attribution stays, and the other session still answers issued."""
        uid, token = self.session("frank")
        other_uid, other_token = self.session("grace")
        f = new_file_id()
        self.ok_post(nfu(f, ctx=token))
        self.ok_post(psc("procedure_pass.json", f, ctx=other_token))
        u = self.upload(uid, "frank")[1]["data"]
        self.assertEqual((u["state"], u["user"], u["fileId"]), ("passed", "frank", f))
        self.assertEqual(self.upload(other_uid, "grace")[1]["data"]["state"], "issued")
        self.assertEqual(self.by_file(f)["user"], "frank")
        self.assertEqual(self.sql("SELECT upload_id, user_id FROM ledger WHERE file_id = ?", f),
                         [(uid, "frank")])

    def test_forged_token_is_not_credited(self):
        uid, token = self.session("dave")
        head, mac = token.rsplit(".", 1)
        forged = head + "." + ("A" if mac[0] != "A" else "B") + mac[1:]
        f = new_file_id()
        self.ok_post(nfu(f, ctx=forged))
        self.ok_post(psc("procedure_pass.json", f, ctx=forged))
        self.assertEqual(self.upload(uid, "dave")[1]["data"]["state"], "issued")
        u = self.by_file(f)
        self.assertIsNone(u["user"])
        self.assertEqual(self.sql("SELECT json_extract(detail, '$.attribution') FROM ledger "
                                  "WHERE file_id = ?", f)[0][0], "bad_mac")

    def test_over_cap_rejected(self):
        for plan, meta, reason in (
                ("small", {}, "size 7700180 exceeds max_size 1000000"),
                ("short", {}, "duration 60.000 exceeds max_duration 30"),
                ("webm", {}, "container mp4 is not accepted")):
            uid, token = self.session("erin-" + plan, plan=plan)
            f = new_file_id()
            self.assertEqual(self.ok_post(nfu(f, ctx=token, **meta))["state"], "rejected")
            self.ok_post(psc("procedure_pass.json", f, ctx=token))
            u = self.upload(uid, "erin-" + plan)[1]["data"]
            self.assertEqual((u["state"], u["reason"]), ("rejected", reason))
            self.assertEqual(u["review"]["suggestion"], "pass")
            self.assertEqual(self.outbox(f), ["rejected"])

    def test_under_cap_passes(self):
        uid, token = self.session("frank", plan="small")
        f = new_file_id()
        self.ok_post(nfu(f, ctx=token, Size=999999))
        self.ok_post(psc("procedure_pass.json", f, ctx=token))
        # The procedure's MetaData says 7700180, but NewFileUpload's value wins.
        self.assertEqual(self.upload(uid, "frank")[1]["data"]["state"], "passed")

    def test_long_poll(self):
        uid, token = self.session("gina")
        f = new_file_id()
        self.ok_post(nfu(f, ctx=token))
        got = {}

        def waiter():
            got["r"] = self.upload(uid, "gina", "?wait=20")

        th = threading.Thread(target=waiter)
        th.start()
        time.sleep(0.5)
        self.ok_post(psc("procedure_pass.json", f, ctx=token))
        th.join(30)
        self.assertEqual(got["r"][0], 200)
        self.assertEqual(got["r"][1]["data"]["state"], "passed")
        # Terminal already: answers at once.
        self.assertEqual(self.upload(uid, "gina", "?wait=20")[1]["data"]["state"], "passed")
        self.assertEqual(self.upload(uid, "gina", "?wait=x")[0], 400)
        # since=uploaded: the state already differs, so no wait.
        self.assertEqual(self.upload(uid, "gina", "?wait=20&since=uploaded")[1]["data"]["state"],
                         "passed")

    def test_many_long_polls_hold_no_threads(self):
        # 4 worker threads, 24 waiters: each waiter is a suspended
        # connection, so the event that wakes them still gets in.
        uid, token = self.session("judy")
        f = te_file = new_file_id()
        self.ok_post(nfu(f, ctx=token))
        got = []

        def waiter():
            got.append(self.upload(uid, "judy", "?wait=25"))

        ths = [threading.Thread(target=waiter) for _ in range(24)]
        for t in ths:
            t.start()
        time.sleep(1)
        self.ok_post(psc("procedure_block.json", te_file, ctx=token))
        for t in ths:
            t.join(40)
        self.assertEqual(len(got), 24)
        self.assertEqual({(st, doc["data"]["state"]) for st, doc in got}, {(200, "blocked")})

    def test_long_poll_times_out_unchanged(self):
        uid, _ = self.session("kim")
        st, doc = self.upload(uid, "kim", "?wait=1")
        self.assertEqual((st, doc["data"]["state"]), (200, "issued"))

    def test_admin_auth(self):
        self.assertEqual(self.call("GET", "/v1/uploads")[0], 401)
        self.assertEqual(self.call("GET", "/v1/uploads", token="wrong")[0], 401)
        self.assertEqual(self.call("GET", "/v1/uploads", token=self.hs())[0], 401)
        self.assertEqual(self.call("GET", "/v1/uploads?state=bogus", token=ADMIN)[0], 400)
        self.assertEqual(self.call("GET", "/v1/uploads?limit=0", token=ADMIN)[0], 400)


class Cli(Base):
    def vg(self, *args, check=0):
        return vgtest.run(list(args) + ["--config", self.cfg], env=self.env, check=check)

    def test_events_and_uploads_cli(self):
        uid, token = self.session("ivan")
        f = new_file_id()
        self.ok_post(nfu(f, ctx=token))
        self.ok_post(psc("procedure_review.json", f, ctx=token))
        lst = json.loads(self.vg("events", "list", "--file", f, "--json").stdout)
        self.assertEqual(sorted(e["eventKey"] for e in lst),
                         ["NewFileUpload/" + f, "ProcedureStateChanged/1500000001-procedurev2-%st0/"
                          "FINISH" % f])
        self.assertEqual({e["source"] for e in lst}, {"push"})
        ev = json.loads(self.vg("events", "show", "NewFileUpload/" + f, "--json").stdout)
        self.assertEqual(ev["body"]["FileUploadEvent"]["FileId"], f)
        self.assertNotIn("Sign", ev["body"])
        self.assertIn("NewFileUpload/" + f, self.vg("events", "list").stdout)
        api = self.upload(uid, "ivan")[1]["data"]
        for ident in (uid, f):
            self.assertEqual(json.loads(self.vg("uploads", "show", ident, "--json").stdout), api)
        self.assertEqual(api["state"], "review")
        rows = json.loads(self.vg("uploads", "list", "--user", "ivan", "--state", "review",
                                  "--json").stdout)
        self.assertEqual([r["fileId"] for r in rows], [f])
        self.assertIn("ivan", self.vg("uploads", "list").stdout)
        # Replay: the same code path again changes nothing, adds no webhook...
        before = self.outbox(f)
        r = json.loads(self.vg("events", "replay", "NewFileUpload/" + f, "--json").stdout)
        self.assertEqual((r["previousState"], r["state"], r["changed"], r["outboxId"]),
                         ("review", "review", False, 0))
        self.assertEqual(self.outbox(f), before)
        # ...unless asked to re-send the current state.
        r = json.loads(self.vg("events", "replay", "--webhook", "NewFileUpload/" + f,
                               "--json").stdout)
        self.assertGreater(r["outboxId"], 0)
        self.assertEqual(self.outbox(f), before + ["review"])
        # An issued session shows as such. The CLI reads the database, where a
        # signature's session row lands a few milliseconds after the answer
        # (write-behind, docs/store.md), so it may take a moment to appear.
        uid2, _ = self.session("ivan")
        deadline = time.time() + 10
        while True:
            r = self.vg("uploads", "show", uid2, "--json", check=None)
            if r.returncode == 0 or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(json.loads(r.stdout)["state"], "issued")

    def test_cli_errors(self):
        self.assertIn("no event", self.vg("events", "show", "NewFileUpload/0", check=1).stderr)
        self.vg("events", "replay", "NewFileUpload/0", check=1)
        self.vg("uploads", "show", "nothing-here", check=1)
        self.vg("events", check=2)
        self.vg("events", "frob", check=2)
        self.vg("uploads", "list", "--state", "issued", check=2)
        self.vg("events", "list", "--limit", "0", check=2)
        self.assertIn("usage: vodgate events", self.vg("events", "--help").stdout)
        self.assertIn("usage: vodgate uploads", self.vg("uploads", "--help").stdout)


class QuarantineRate(Base):
    """[events] quarantine_per_minute 10: a burst of 10 rows, then one every
    6 s. Every malformed body is answered 400; only those within the limit
    are written (a body that does not parse cannot be authenticated), the
    rest counted."""
    env = dict(Base.env, VODGATE_EVENTS_QUARANTINE_PER_MINUTE="10")

    def test_flood_not_all_written(self):
        t0 = time.monotonic()
        for i in range(40):
            st, doc = self.post(b"{flood %d" % i, signed=False)
            self.assertEqual((st, doc["code"]), (400, 4000))
        elapsed = time.monotonic() - t0
        kept = self.sql("SELECT count(*) FROM quarantine")[0][0]
        self.assertGreaterEqual(kept, 10)
        self.assertLessEqual(kept, 10 + int(elapsed / 6) + 1)
        c = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=10)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        c.close()
        self.assertIn("vodgate_events_quarantine_skipped_total %d\n" % (40 - kept), text)
        self.assertIn('vodgate_events_rejected_total{reason="malformed"} 40\n', text)
        self.d.wait_log(lambda x: "over [events] quarantine_per_minute (10): not kept" in
                        x.get("msg", ""))


class PathToken(Base):
    extra = ""
    env = dict(BASE_ENV, VODGATE_EVENTS_PATH_TOKEN=PATH_TOKEN)

    def test_path_token(self):
        f = new_file_id()
        for p in ("/v1/vod/events", "/v1/vod/events/", "/v1/vod/events/wrong",
                  "/v1/vod/events/" + PATH_TOKEN + "x", "/v1/vod/events/" + PATH_TOKEN[:-1]):
            st, doc = self.post(nfu(f), signed=False, path=p)
            self.assertEqual((st, doc), (404, {"code": 4040, "message": "not found",
                                               "requestId": doc["requestId"]}), p)
            st, doc = self.call("GET", p)
            self.assertEqual(st, 404, p)
        d = self.ok_post(nfu(f), signed=False, path="/v1/vod/events/" + PATH_TOKEN)
        self.assertFalse(d["duplicate"])
        self.assertEqual(self.outbox(f), [])  # no [webhook] url: no outbox rows
        self.d.wait_log(lambda r: "/v1/vod/events/<redacted>" in json.dumps(r))
        self.assertNotIn(PATH_TOKEN, "\n".join(self.d.logs))


class Unauthenticated(Base):
    extra = ""
    env = dict(BASE_ENV)

    def test_receiver_refused(self):
        st, doc = self.post(nfu(new_file_id()), signed=False)
        self.assertEqual(st, 503)
        self.assertEqual(doc["code"], 5030)
        self.assertIn("allow_unauthenticated", doc["message"])
        self.assertTrue(any(r.get("level") == "error" and "event receiver not started"
                            in r.get("msg", "") for r in self.d.records()))
        # Signatures are still served.
        self.session("hank")


class WaiterCap(Base):
    env = dict(BASE_ENV, VODGATE_VOD_SIGN_KEY=SIGN_KEY, VODGATE_EVENTS_MAX_WAITERS="1")

    def test_cap_and_drain(self):
        uid, _ = self.session("lee")
        got = {}

        def waiter():
            got["r"] = self.upload(uid, "lee", "?wait=30")

        th = threading.Thread(target=waiter)
        th.start()
        time.sleep(0.5)
        st, doc = self.upload(uid, "lee", "?wait=30")
        self.assertEqual((st, doc["code"]), (503, 5030))
        self.assertEqual(self.upload(uid, "lee")[1]["data"]["state"], "issued")  # no wait: fine
        # SIGTERM: the waiter is answered at once and the daemon exits 0.
        self.d.signal(signal.SIGTERM)
        th.join(20)
        self.assertEqual((got["r"][0], got["r"][1]["data"]["state"]), (200, "issued"))
        self.assertEqual(self.d.wait(20), 0)


class AllowUnauthenticated(Base):
    extra = "[events]\nallow_unauthenticated = true\n"
    env = dict(BASE_ENV)

    def test_allowed(self):
        self.assertFalse(self.ok_post(nfu(new_file_id()), signed=False)["duplicate"])



class PacedSignatures(Base):
    """An event arriving while its signature's records still wait for their
    paced flush (a whole second here) is applied after them: the file is
    credited to the user, not 'unknown_session'."""
    env = dict(Base.env, VODGATE_SERVER_SIGNATURE_FLUSH_MS="1000")

    def test_event_right_after_the_signature_is_attributed(self):
        for i in range(3):
            uid, token = self.session("erin")
            f = new_file_id()
            self.assertEqual(self.ok_post(nfu(f, ctx=token))["state"], "uploaded")
            u = self.upload(uid, "erin")[1]["data"]
            self.assertEqual((u["state"], u["user"], u["fileId"]), ("uploaded", "erin", f), i)
            rows = self.sql("SELECT upload_id, user_id FROM ledger WHERE file_id = ?", f)
            self.assertEqual(rows, [(uid, "erin")], i)

if __name__ == "__main__":
    vgtest.main()
