"""POST/GET /v1/upload-signatures against the real daemon: authentication,
policy, upload sessions, quotas, the signature itself, reload.

Tokens are minted independently of vodgate (tests/lib/jwtmint.py: Python
hmac for HS256, Node crypto for RS256/ES256), and returned signatures are
checked with Python's hmac and with `vodgate inspect`.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import sqlite3
import struct
import time
import unittest
import urllib.parse

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
sub_app_id = 1500000001

[auth]
jwt_issuer = https://idp.example
jwt_audience = vodgate
jwt_policy_claim = plan
{auth_extra}

[policy default]
validity = 600
procedure = ReviewFlow
signatures_per_upload = 4
client_may_set = classId, sourceContext, sessionContext
{default_extra}

[policy strict]
validity = 120
uploads_per_day = 2
signatures_per_minute = 5
signatures_per_upload = 10
one_time = true

[policy open]
client_may_set = procedure, classId, storageRegion, taskPriority, taskNotifyMode
"""


def parse_sig(sig):
    raw = base64.b64decode(sig)
    mac, original = raw[:20], raw[20:]
    params = dict(urllib.parse.parse_qsl(original.decode(), keep_blank_values=True))
    return mac, original, params


class Server(unittest.TestCase):
    auth_extra = ""
    default_extra = ""
    server_extra = ""

    @classmethod
    def setUpClass(cls):
        cls.tmp = vgtest.TempDir()
        cls.rsa = jwtmint.keygen("rsa")
        cls.ec = jwtmint.keygen("ec")
        cls.tmp.file("rsa.pem", cls.rsa["public_pem"])
        jwk = dict(cls.ec["jwk"], kid="ec1", alg="ES256", use="sig")
        cls.tmp.file("jwks.json", json.dumps({"keys": [jwk]}))
        extra = cls.auth_extra.format(dir=cls.tmp.path)
        cls.ini = INI.format(dir=cls.tmp.path, auth_extra=extra, default_extra=cls.default_extra,
                             server_extra=cls.server_extra)
        cls.cfg = cls.tmp.file("vodgate.ini", cls.ini)
        cls.d = vgtest.Daemon(["serve", "--config", cls.cfg], env=ENV)

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        cls.tmp.cleanup()
        assert rc == 0, "\n".join(cls.d.logs[-30:])

    def call(self, method="POST", body=None, token=None, path="/v1/upload-signatures",
             headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=10)
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = None
        return r.status, doc, r

    def hs(self, sub="alice", **kw):
        c = jwtmint.claims(sub, iss="https://idp.example", aud="vodgate")
        c.update(kw)
        return jwtmint.hs256(HS_SECRET, {k: v for k, v in c.items() if v is not None})

    def ok(self, status, doc):
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["code"], 0)
        self.assertEqual(doc["message"], "ok")
        return doc["data"]

    def err(self, status, doc, want_status, want_code):
        self.assertEqual(status, want_status, doc)
        self.assertEqual(doc["code"], want_code, doc)
        self.assertTrue(doc["message"])
        self.assertRegex(doc["requestId"], r"^[0-9a-f]{8,}$")

    def metric(self, name, **labels):
        st, _, r = self.call("GET", path="/metrics")
        c = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=10)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        c.close()
        total = 0.0
        for line in text.splitlines():
            if not line.startswith(name):
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total


class Auth(Server):
    auth_extra = "jwt_public_key_file = {dir}/rsa.pem\njwks_file = {dir}/jwks.json"

    def test_missing_header(self):
        self.err(*self.call()[:2], 401, 4010)

    def test_www_authenticate(self):
        st, doc, r = self.call()
        self.assertEqual(r.getheader("WWW-Authenticate"), "Bearer")

    def test_malformed_token(self):
        self.err(*self.call(token="not-a-jwt")[:2], 401, 4011)
        self.err(*self.call(token="a.b.c")[:2], 401, 4011)

    def test_other_scheme(self):
        self.err(*self.call(headers={"Authorization": "Basic YWxpY2U6eA=="})[:2], 401, 4011)

    def test_bad_signature(self):
        t = self.hs()
        head, payload, sig = t.split(".")
        tampered = jwtmint.b64url(json.dumps(dict(jwtmint.claims("mallory"),
                                                  iss="https://idp.example", aud="vodgate")))
        self.err(*self.call(token=f"{head}.{tampered}.{sig}")[:2], 401, 4011)
        self.err(*self.call(token=jwtmint.hs256("wrong-secret-0123456789abcdef0123", {}))[:2],
                 401, 4011)

    def test_alg_none(self):
        c = jwtmint.claims("alice", iss="https://idp.example", aud="vodgate")
        self.err(*self.call(token=jwtmint.unsigned(c))[:2], 401, 4011)
        self.err(*self.call(token=jwtmint.unsigned(c, alg="None"))[:2], 401, 4011)

    def test_hs256_with_rsa_public_key_as_secret(self):
        c = jwtmint.claims("alice", iss="https://idp.example", aud="vodgate")
        t = jwtmint.hs256(self.rsa["public_pem"], c)
        self.err(*self.call(token=t)[:2], 401, 4011)

    def test_expired(self):
        now = int(time.time())
        self.err(*self.call(token=self.hs(exp=now - 3600, iat=now - 7200))[:2], 401, 4012)

    def test_not_yet_valid(self):
        now = int(time.time())
        self.err(*self.call(token=self.hs(nbf=now + 3600))[:2], 401, 4012)

    def test_wrong_issuer(self):
        self.err(*self.call(token=self.hs(iss="https://evil.example"))[:2], 401, 4011)

    def test_wrong_audience(self):
        self.err(*self.call(token=self.hs(aud="someone-else"))[:2], 401, 4011)

    def test_missing_sub(self):
        c = jwtmint.claims("x", iss="https://idp.example", aud="vodgate")
        del c["sub"]
        self.err(*self.call(token=jwtmint.hs256(HS_SECRET, c))[:2], 401, 4011)

    def test_good_hs256(self):
        self.ok(*self.call(token=self.hs())[:2])

    def test_good_rs256(self):
        c = jwtmint.claims("rsa-user", iss="https://idp.example", aud="vodgate")
        self.ok(*self.call(token=jwtmint.sign_asym(self.rsa["private_pem"], c, "RS256"))[:2])

    def test_good_es256_jwks(self):
        c = jwtmint.claims("ec-user", iss="https://idp.example", aud="vodgate")
        t = jwtmint.sign_asym(self.ec["private_pem"], c, "ES256", kid="ec1")
        self.ok(*self.call(token=t)[:2])
        t = jwtmint.sign_asym(self.ec["private_pem"], c, "ES256", kid="nope")
        self.err(*self.call(token=t)[:2], 401, 4011)

    def test_rs256_token_signed_by_other_key(self):
        other = jwtmint.keygen("rsa")
        c = jwtmint.claims("alice", iss="https://idp.example", aud="vodgate")
        self.err(*self.call(token=jwtmint.sign_asym(other["private_pem"], c, "RS256"))[:2],
                 401, 4011)

    def test_unknown_policy_claim(self):
        self.err(*self.call(token=self.hs(plan="platinum"))[:2], 403, 4030)

    def test_api_token_and_revocation(self):
        p = vgtest.run(["token", "add", "--user", "backend-1", "--label", "ci", "--config",
                        self.cfg], env=ENV, check=0)
        tok = p.stdout.strip()
        self.assertRegex(tok, r"^vg_[A-Za-z0-9_-]{43}$")
        self.ok(*self.call(token=tok)[:2])
        lst = json.loads(vgtest.run(["token", "list", "--json", "--config", self.cfg], env=ENV,
                                    check=0).stdout)
        row = [t for t in lst if t["user"] == "backend-1"][0]
        self.assertNotIn(tok, json.dumps(lst))  # only the hash is stored
        vgtest.run(["token", "revoke", row["id"], "--config", self.cfg], env=ENV, check=0)
        self.err(*self.call(token=tok)[:2], 401, 4011)
        # A well-formed token nobody issued.
        self.err(*self.call(token="vg_" + "A" * 43)[:2], 401, 4011)

    def test_api_token_policy_must_exist(self):
        # A token bound to a policy the configuration lacks would get 403
        # at every use: refused at add, nothing stored.
        before = vgtest.run(["token", "list", "--json", "--config", self.cfg], env=ENV,
                            check=0).stdout
        p = vgtest.run(["token", "add", "--user", "svc", "--policy", "platinum", "--config",
                        self.cfg], env=ENV, check=1)
        self.assertIn("has no [policy platinum]", p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertEqual(vgtest.run(["token", "list", "--json", "--config", self.cfg], env=ENV,
                                    check=0).stdout, before)
        # An existing one is fine.
        pol = [l[len("[policy "):-1] for l in open(self.cfg).read().splitlines()
               if l.startswith("[policy ") and l != "[policy default]"][0]
        tok = vgtest.run(["token", "add", "--user", "svc", "--policy", pol, "--config",
                          self.cfg], env=ENV, check=0).stdout.strip()
        self.assertRegex(tok, r"^vg_[A-Za-z0-9_-]{43}$")

    def test_auth_failures_counted_and_never_logged(self):
        before = self.metric("vodgate_auth_failures_total", reason="expired")
        now = int(time.time())
        secret_tok = self.hs(exp=now - 3600, iat=now - 7200)
        self.call(token=secret_tok)
        self.assertEqual(self.metric("vodgate_auth_failures_total", reason="expired"), before + 1)
        time.sleep(0.2)
        self.assertNotIn(secret_tok.split(".")[2], "\n".join(self.d.logs))


class Signature(Server):
    def test_signature_verifies_and_carries_policy(self):
        data = self.ok(*self.call(token=self.hs("carol"), body={"classId": 7})[:2])
        mac, original, p = parse_sig(data["signature"])
        want = hmac.new(VOD_KEY.encode(), original, hashlib.sha1).digest()
        self.assertEqual(mac, want)
        self.assertEqual(p["secretId"], "AKIDvodgatetest")
        self.assertEqual(int(p["expireTime"]) - int(p["currentTimeStamp"]), 600)
        self.assertEqual(int(p["expireTime"]), data["expireTime"])
        self.assertLessEqual(abs(int(p["currentTimeStamp"]) - time.time()), 5)
        self.assertEqual(p["procedure"], "ReviewFlow")
        self.assertEqual(p["classId"], "7")
        self.assertEqual(p["vodSubAppId"], "1500000001")
        self.assertEqual(p["taskNotifyMode"], "Finish")
        self.assertTrue(0 <= int(p["random"]) <= 4294967295)
        # The attribution token names the upload session, in both contexts.
        self.assertTrue(p["sourceContext"].startswith("vg1."))
        self.assertIn(data["uploadId"], p["sourceContext"])
        self.assertEqual(p["sessionContext"], p["sourceContext"])
        self.assertLessEqual(len(p["sourceContext"]), 250)
        self.assertRegex(data["uploadId"], r"^[A-Za-z0-9_-]{8,64}$")

    def test_inspect_accepts_it(self):
        data = self.ok(*self.call(token=self.hs())[:2])
        p = vgtest.run(["inspect", "--json", "-"], input=data["signature"],
                       env={"VODGATE_VOD_SECRET_KEY": VOD_KEY}, check=0)
        doc = json.loads(p.stdout)
        self.assertTrue(doc["valid"])
        self.assertEqual(doc["params"]["procedure"], "ReviewFlow")
        p = vgtest.run(["inspect", "-"], input=data["signature"],
                       env={"VODGATE_VOD_SECRET_KEY": "another-key"})
        self.assertEqual(p.returncode, 1)

    def test_get_without_body(self):
        st, doc, r = self.call("GET", token=self.hs())
        self.ok(st, doc)
        self.assertEqual(r.getheader("Cache-Control"), "no-store")

    def test_app_context_is_carried(self):
        data = self.ok(*self.call(token=self.hs(), body={"sourceContext": '{"post":42}',
                                                         "sessionContext": "s-ctx"})[:2])
        _, _, p = parse_sig(data["signature"])
        self.assertTrue(p["sourceContext"].startswith("vg1."))
        self.assertTrue(p["sessionContext"].endswith("|s-ctx"))
        self.assertTrue(p["sessionContext"].startswith(p["sourceContext"]))

    def test_app_context_too_long(self):
        st, doc, _ = self.call(token=self.hs(), body={"sourceContext": "x" * 240})
        self.err(st, doc, 400, 4000)
        self.assertIn("sourceContext", doc["message"])

    def test_signatures_issued_metric(self):
        before = self.metric("vodgate_signatures_issued_total")
        self.ok(*self.call(token=self.hs())[:2])
        self.assertEqual(self.metric("vodgate_signatures_issued_total"), before + 1)


class Overrides(Server):
    def test_allowed_override(self):
        data = self.ok(*self.call(token=self.hs(plan="open"),
                                  body={"procedure": "Other", "storageRegion": "ap-shanghai",
                                        "taskPriority": 5, "taskNotifyMode": "Change"})[:2])
        _, _, p = parse_sig(data["signature"])
        self.assertEqual(p["procedure"], "Other")
        self.assertEqual(p["storageRegion"], "ap-shanghai")
        self.assertEqual(p["taskPriority"], "5")
        self.assertEqual(p["taskNotifyMode"], "Change")

    def test_refused_override(self):
        st, doc, _ = self.call(token=self.hs(), body={"procedure": "Other"})
        self.err(st, doc, 403, 4031)
        self.assertIn("procedure", doc["message"])

    def test_unknown_field(self):
        self.err(*self.call(token=self.hs(), body={"secretId": "x"})[:2], 400, 4000)

    def test_wrong_types(self):
        self.err(*self.call(token=self.hs(), body={"classId": "7"})[:2], 400, 4000)
        self.err(*self.call(token=self.hs(plan="open"), body={"procedure": 1})[:2], 400, 4000)
        self.err(*self.call(token=self.hs(), body=[1, 2])[:2], 400, 4000)

    def test_invalid_values(self):
        self.err(*self.call(token=self.hs(plan="open"), body={"taskPriority": 11})[:2], 400, 4000)
        self.err(*self.call(token=self.hs(plan="open"), body={"storageRegion": "AP SH"})[:2],
                 400, 4000)
        self.err(*self.call(token=self.hs(plan="open"), body={"taskNotifyMode": "Sometimes"})[:2],
                 400, 4000)

    def test_invalid_json(self):
        self.err(*self.call(token=self.hs(), body='{"classId": ')[:2], 400, 4000)
        self.err(*self.call(token=self.hs(), body='{"classId":1,"classId":2}')[:2], 400, 4000)

    def test_oversized_body(self):
        st, doc, _ = self.call(token=self.hs(), body='{"sessionContext":"' + "x" * 20000 + '"}')
        self.err(st, doc, 413, 4130)
        self.ok(*self.call(token=self.hs())[:2])  # and the server keeps serving

    def test_framing_attack_on_this_route(self):
        t = self.hs()
        s = socket.create_connection(("127.0.0.1", self.d.port), timeout=5)
        s.sendall(("POST /v1/upload-signatures HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                   f"{t}\r\nContent-Length: 2\r\nContent-Length: 40\r\n\r\n{{}}").encode())
        resp = s.recv(4096)
        s.close()
        self.assertTrue(resp.startswith(b"HTTP/1.1 400"), resp[:80])


class Sessions(Server):
    def test_misspelt_upload_id_refused(self):
        # A query argument that reads as uploadId spelt otherwise would open
        # a new session (and spend quota) where the client meant its own:
        # 400, nothing opened. Other arguments (cache-busters) are ignored.
        tok = self.hs(sub="quinn")
        up = self.ok(*self.call(token=tok)[:2])["uploadId"]
        for k in ("uploadid", "upload_id", "UploadID", "upload-id"):
            st, doc, _ = self.call("GET", token=tok, path=f"/v1/upload-signatures?{k}={up}")
            self.err(st, doc, 400, 4000)
            self.assertIn("'%s'" % k, doc["message"])
            self.assertIn("uploadId", doc["message"])
        d = self.ok(*self.call("GET", token=tok, path=f"/v1/upload-signatures?uploadId={up}&_=17")[:2])
        self.assertEqual(d["uploadId"], up)
        self.assertNotEqual(self.ok(*self.call("GET", token=tok,
                                               path="/v1/upload-signatures?_=18")[:2])["uploadId"], up)

    def test_reuse_same_token_no_quota(self):
        tok = self.hs(sub="dave", plan="strict")
        first = self.ok(*self.call(token=tok)[:2])
        up = first["uploadId"]
        _, _, p1 = parse_sig(first["signature"])
        again = self.ok(*self.call("GET", token=tok,
                                   path=f"/v1/upload-signatures?uploadId={up}")[:2])
        body = self.ok(*self.call(token=tok, body={"uploadId": up})[:2])
        for d in (again, body):
            self.assertEqual(d["uploadId"], up)
            _, _, p = parse_sig(d["signature"])
            self.assertEqual(p["sourceContext"], p1["sourceContext"])
            self.assertNotEqual(p["random"], p1["random"])  # one-time: each unique
            self.assertEqual(p["oneTimeValid"], "1")
        # strict: 2 uploads a day; the reuses above spent none of them.
        self.ok(*self.call(token=tok)[:2])
        # third new upload of the day is refused... (rate limit of 5/min is
        # not reached yet: 4 signatures so far)
        self.err(*self.call(token=tok)[:2], 429, 4290)

    def test_session_signature_limit(self):
        tok = self.hs(sub="erin")
        up = self.ok(*self.call(token=tok)[:2])["uploadId"]
        for _ in range(3):  # signatures_per_upload = 4 in all
            self.ok(*self.call(token=tok, body={"uploadId": up})[:2])
        self.err(*self.call(token=tok, body={"uploadId": up})[:2], 429, 4291)

    def test_reused_session_audit_rows_numbered(self):
        """Each signature of a session leaves one record whose n is the
        session's count after it: 1, 2, 3, 4 in the order issued (the rows are
        committed a few ms after the answers on the write-behind path)."""
        import sqlite3
        tok = self.hs(sub="nora")
        first = self.ok(*self.call(token=tok)[:2])
        up = first["uploadId"]
        randoms = [int(parse_sig(first["signature"])[2]["random"])]
        for _ in range(3):
            d = self.ok(*self.call(token=tok, body={"uploadId": up})[:2])
            randoms.append(int(parse_sig(d["signature"])[2]["random"]))
        q = "SELECT n, random, user_id FROM signatures WHERE upload_id = ? ORDER BY n"
        want = [(i + 1, r, "nora") for i, r in enumerate(randoms)]
        deadline = time.monotonic() + 20
        while True:
            con = sqlite3.connect(f"{self.tmp.path}/vg.db")
            try:
                rows = con.execute(q, (up,)).fetchall()
            finally:
                con.close()
            if len(rows) >= 4 or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        self.assertEqual(rows, want)
        # The view reads the first from the session's row (schema 8), the
        # later ones from audit.
        con = sqlite3.connect(f"{self.tmp.path}/vg.db")
        try:
            self.assertEqual(con.execute("SELECT first_random FROM upload_session WHERE"
                                         " upload_id = ?", (up,)).fetchall(), [(randoms[0],)])
            self.assertEqual(con.execute("SELECT n FROM audit WHERE upload_id = ? ORDER BY n",
                                         (up,)).fetchall(), [(2,), (3,), (4,)])
        finally:
            con.close()

    def test_someone_elses_session_is_not_found(self):
        up = self.ok(*self.call(token=self.hs(sub="frank"))[:2])["uploadId"]
        self.err(*self.call(token=self.hs(sub="grace"), body={"uploadId": up})[:2], 404, 4040)
        self.err(*self.call(token=self.hs(sub="grace"), body={"uploadId": "nope"})[:2], 404, 4040)
        self.err(*self.call(token=self.hs(sub="grace"), body={"uploadId": "../x"})[:2], 400, 4000)

    def test_parameters_round_trip(self):
        """A session's parameters are stored and read back exactly: the same
        choices with any characters are a reuse, another value is refused."""
        tok = self.hs(sub="heinz")
        body = {"classId": 0, "sourceContext": 'q"\\/\u00e9\u20ac\U0001f600',
                "sessionContext": 't\t"x\\'}
        first = self.ok(*self.call(token=tok, body=body)[:2])
        _, _, p1 = parse_sig(first["signature"])
        self.assertEqual(p1["classId"], "0")
        app = p1["sourceContext"].split(".")[3]
        self.assertEqual(base64.urlsafe_b64decode(app + "=" * (-len(app) % 4)).decode(),
                         body["sourceContext"])
        self.assertTrue(p1["sessionContext"].endswith("|" + body["sessionContext"]), p1)
        again = self.ok(*self.call(token=tok, body=dict(body, uploadId=first["uploadId"]))[:2])
        _, _, p2 = parse_sig(again["signature"])
        for k in ("classId", "sourceContext", "sessionContext", "procedure"):
            self.assertEqual(p2[k], p1[k], k)
        for k, v in (("sessionContext", 't\t"y\\'), ("classId", 1), ("sourceContext", "q")):
            self.err(*self.call(token=tok, body=dict(body, uploadId=first["uploadId"], **{k: v}))[:2],
                     400, 4000)
        # "" clears a policy default, and is remembered as cleared.
        tok = self.hs(sub="heinz", plan="open")
        first = self.ok(*self.call(token=tok, body={"procedure": ""})[:2])
        self.assertNotIn("procedure", parse_sig(first["signature"])[2])
        self.ok(*self.call(token=tok, body={"uploadId": first["uploadId"], "procedure": ""})[:2])
        self.err(*self.call(token=tok, body={"uploadId": first["uploadId"], "procedure": "P"})[:2],
                 400, 4000)

    def test_changed_parameters_refused(self):
        tok = self.hs(sub="heidi")
        up = self.ok(*self.call(token=tok, body={"classId": 1})[:2])["uploadId"]
        self.ok(*self.call(token=tok, body={"uploadId": up, "classId": 1})[:2])
        self.err(*self.call(token=tok, body={"uploadId": up, "classId": 2})[:2], 400, 4000)

    def test_rate_limit(self):
        tok = self.hs(sub="ivan", plan="strict")
        up = self.ok(*self.call(token=tok)[:2])["uploadId"]
        for _ in range(4):
            self.ok(*self.call(token=tok, body={"uploadId": up})[:2])
        st, doc, r = self.call(token=tok, body={"uploadId": up})
        self.err(st, doc, 429, 4291)
        self.assertGreaterEqual(int(r.getheader("Retry-After")), 1)
        # Another user is not affected.
        self.ok(*self.call(token=self.hs(sub="judy", plan="strict"))[:2])


class Quota(Server):
    default_extra = "uploads_per_day = 3"

    def test_quota_concurrent(self):
        import concurrent.futures
        tok = self.hs(sub="mallory")
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            res = list(ex.map(lambda _: self.call(token=tok)[:2], range(12)))
        codes = sorted(d["code"] for _, d in res)
        self.assertEqual(codes, [0, 0, 0] + [4290] * 9)
        self.assertGreaterEqual(self.metric("vodgate_quota_rejections_total",
                                            reason="uploads_per_day"), 9)


class DurableSessions(Sessions):
    """The session and quota tests again with each signature committed
    before its answer (the path PostgreSQL always takes)."""
    server_extra = "signature_records = durable"


class DurableQuota(Quota):
    server_extra = "signature_records = durable"


class Abandoned(Server):
    """Clients that leave before their answer, on the deferred paths (the
    connection is suspended while the work finishes elsewhere, then
    resumed): signatures committed before their answer, and long polls.
    The server keeps serving everyone else, keeps the records of what it
    did, and frees what the abandoned requests held: tearDownClass requires
    exit status 0, which under ASan (make asan) also means no use after
    free and no leak."""
    server_extra = "signature_records = durable"

    def raw(self, data, rst):
        s = socket.create_connection(("127.0.0.1", self.d.port))
        if rst:  # close with a reset: unread data and the answer are dropped
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.sendall(data)
        return s

    def test_clients_leave_before_the_answer(self):
        tok = self.hs(sub="leaver")
        keep = self.hs(sub="stayer")
        first = self.ok(*self.call(token=tok)[:2])["uploadId"]
        parked = []
        for i in range(120):
            body = b"{}"
            req = (f"POST /v1/upload-signatures HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {tok}"
                   f"\r\nX-Request-Id: gone-{i}\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            self.raw(req, rst=i % 3 == 2).close()
            if i % 4 == 0:  # a long poll on the first session, left at once
                poll = (f"GET /v1/uploads/{first}?wait=1 HTTP/1.1\r\nHost: x\r\n"
                        f"Authorization: Bearer {tok}\r\nX-Request-Id: poll-{i}\r\n\r\n").encode()
                self.raw(poll, rst=i % 8 == 0).close()
            if i % 10 == 0:
                self.ok(*self.call(token=keep)[:2])
        for i in range(4):  # long polls still waiting when the server stops
            parked.append(self.raw((f"GET /v1/uploads/{first}?wait=30 HTTP/1.1\r\nHost: x\r\n"
                                    f"Authorization: Bearer {tok}\r\n\r\n").encode(), rst=False))
        self.__class__.parked = parked  # closed after the stop (tearDownClass)

        # Every request closed with FIN was read and handled: logged, and a
        # signature answered 200 had its session committed first.
        for i in range(120):
            if i % 3 != 2:
                self.d.wait_log(lambda r, i=i: r.get("request_id") == f"gone-{i}")
        for i in range(0, 120, 4):
            if i % 8 != 0:
                self.d.wait_log(lambda r, i=i: r.get("request_id") == f"poll-{i}", timeout=15)
        def state():  # a reset request read late may still be on its way
            gone = [r for r in self.d.records() if r.get("msg") == "request"
                    and str(r.get("request_id", "")).startswith("gone-")]
            db = sqlite3.connect(f"file:{self.tmp.path}/vg.db?mode=ro", uri=True)
            n = db.execute("SELECT count(*) FROM upload_session WHERE user_id = 'leaver'").fetchone()[0]
            db.close()
            return gone, n
        deadline = time.time() + 10
        gone, n = state()
        while n != len(gone) + 1 and time.time() < deadline:
            time.sleep(0.1)
            gone, n = state()
        # Answered (status 200), or left before the answer was sent (status
        # 0, "connection closed"): either way the handler ran and, durable,
        # committed its session; a request reset before it was read left
        # nothing, not even a line.
        for r in gone:
            self.assertIn((r["status"], r.get("error")),
                          [(200, None), (200, "connection closed"), (0, "connection closed")], r)
        self.assertEqual(len({r["request_id"] for r in gone}), len(gone))
        self.assertEqual(n, len(gone) + 1)  # + the first session
        self.ok(*self.call(token=keep)[:2])

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()  # waiting long polls are answered as it drains
        finally:
            for s in getattr(cls, "parked", []):
                s.close()


class WriteBehind(unittest.TestCase):
    """The default on SQLite: sessions and quotas counted in memory, their
    records committed behind the answer. A clean stop loses nothing, and a
    restart goes on counting from what was committed."""

    INI = ("[server]\nlisten = 127.0.0.1:0\ndb = {d}/w.db\ndata_dir = {d}/data\n"
           "[vod]\nsecret_id = AKIDx\n[policy default]\nuploads_per_day = 5\n"
           "signatures_per_upload = 4\n")

    def call(self, d, tok, body=None):
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
        c.request("POST", "/v1/upload-signatures", body=json.dumps(body or {}),
                  headers={"Authorization": "Bearer " + tok, "Content-Type": "application/json"})
        r = c.getresponse()
        doc = json.loads(r.read())
        c.close()
        return r.status, doc

    def sql(self, db, q):
        import sqlite3
        con = sqlite3.connect(db)
        try:
            return con.execute(q).fetchall()
        finally:
            con.close()

    def test_clean_stop_commits_everything_and_restart_resumes(self):
        import concurrent.futures
        tmp = vgtest.TempDir()
        cfg = tmp.file("w.ini", self.INI.format(d=tmp.path))
        db = f"{tmp.path}/w.db"
        tok = jwtmint.hs256(HS_SECRET, jwtmint.claims("walter"))
        d = vgtest.Daemon(["serve", "--config", cfg], env=ENV)
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            res = list(ex.map(lambda _: self.call(d, tok), range(8)))
        ok = [doc["data"]["uploadId"] for st, doc in res if st == 200]
        self.assertEqual(len(ok), 5, res)
        self.assertEqual(sorted(doc["code"] for st, doc in res if st != 200), [4290] * 3)
        for _ in range(3):  # 4 signatures per upload in all
            self.assertEqual(self.call(d, tok, {"uploadId": ok[0]})[0], 200)
        st, doc = self.call(d, tok, {"uploadId": ok[0]})
        self.assertEqual((st, doc["code"]), (429, 4291))
        self.assertEqual(d.stop(), 0)
        self.assertEqual(self.sql(db, "SELECT count(*) FROM upload_session"), [(5,)])
        self.assertEqual(self.sql(db, f"SELECT signatures_issued FROM upload_session "
                                      f"WHERE upload_id = '{ok[0]}'"), [(4,)])
        self.assertEqual(self.sql(db, "SELECT count(*) FROM signatures"), [(8,)])
        self.assertEqual(self.sql(db, f"SELECT n FROM signatures WHERE upload_id = '{ok[0]}' "
                                      f"ORDER BY n"), [(1,), (2,), (3,), (4,)])
        self.assertEqual(self.sql(db, "SELECT count(*) FROM signatures WHERE n = 1"), [(5,)])
        self.assertEqual(self.sql(db, "SELECT used FROM quota"), [(5,)])

        # A restart counts on from the database: 7 a day now, 2 left.
        tmp.file("w.ini", self.INI.format(d=tmp.path).replace("uploads_per_day = 5",
                                                              "uploads_per_day = 7"))
        d = vgtest.Daemon(["serve", "--config", cfg], env=ENV)
        codes = [self.call(d, tok)[1]["code"] for _ in range(3)]
        self.assertEqual(codes, [0, 0, 4290])
        self.assertEqual(self.call(d, tok, {"uploadId": ok[0]})[1]["code"], 4291)
        self.assertEqual(self.call(d, tok, {"uploadId": ok[1]})[1]["code"], 0)
        self.assertEqual(d.stop(), 0)
        self.assertEqual(self.sql(db, "SELECT count(*) FROM signatures"), [(11,)])
        self.assertEqual(self.sql(db, "SELECT used FROM quota"), [(7,)])
        self.assertEqual(self.sql(db, f"SELECT signatures_issued FROM upload_session "
                                      f"WHERE upload_id = '{ok[1]}'"), [(2,)])
        # The reused session's count was read back from the database: its
        # second signature is n = 2, after the n = 1 committed before.
        self.assertEqual(self.sql(db, f"SELECT n FROM signatures WHERE upload_id = '{ok[1]}' "
                                      f"ORDER BY n"), [(1,), (2,)])
        tmp.cleanup()

    def metric(self, d, name):
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        c.close()
        for line in text.splitlines():
            if line.startswith(name + " "):
                return int(line.split()[1])
        return None

    def test_evicted_sessions_count_on_from_the_database(self):
        """Past 4096 sessions in memory the oldest committed ones are dropped,
        a few per new session: a reuse of an evicted session reads it back
        and its signature limit still holds; nothing is lost."""
        tmp = vgtest.TempDir()
        cfg = tmp.file("w.ini", self.INI.format(d=tmp.path).replace(
            "uploads_per_day = 5", "uploads_per_day = 0"))
        db = f"{tmp.path}/w.db"
        tok = jwtmint.hs256(HS_SECRET, jwtmint.claims("many"))
        d = vgtest.Daemon(["serve", "--config", cfg], env=ENV)
        first = self.call(d, tok)[1]["data"]["uploadId"]
        self.assertEqual(self.call(d, tok, {"uploadId": first})[1]["code"], 0)
        c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
        hdrs = {"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
        n = 4600
        for _ in range(n):
            c.request("POST", "/v1/upload-signatures", body="{}", headers=hdrs)
            r = c.getresponse()
            self.assertEqual(r.status, 200, r.read())
            r.read()
        c.close()
        evicted = self.metric(d, "vodgate_upload_sessions_evicted_total")
        cached = self.metric(d, "vodgate_upload_sessions_cached")
        self.assertGreater(evicted, 0)
        self.assertLessEqual(cached, 4096 + 100)  # the bound, give or take the dirty ones
        # the first session went first (oldest clean); two more signatures
        # of four, then the limit
        self.assertEqual(self.call(d, tok, {"uploadId": first})[1]["code"], 0)
        self.assertEqual(self.call(d, tok, {"uploadId": first})[1]["code"], 0)
        st, doc = self.call(d, tok, {"uploadId": first})
        self.assertEqual((st, doc["code"]), (429, 4291))
        self.assertEqual(d.stop(), 0)
        self.assertEqual(self.sql(db, "SELECT count(*) FROM upload_session"), [(n + 1,)])
        self.assertEqual(self.sql(db, f"SELECT signatures_issued FROM upload_session "
                                      f"WHERE upload_id = '{first}'"), [(4,)])
        self.assertEqual(self.sql(db, "SELECT count(*) FROM signatures"), [(n + 4,)])
        tmp.cleanup()

    def test_records_follow_within_the_flush_interval(self):
        """signature_flush_ms paces the commits: a signature's records are not
        committed at once but within the interval (plus a commit), every
        signature of the interval in one go; 0 commits as soon as it can."""
        import time
        for ms in (1000, 0):
            tmp = vgtest.TempDir()
            cfg = tmp.file("w.ini", self.INI.format(d=tmp.path).replace(
                "[vod]", f"signature_flush_ms = {ms}\n[vod]"))
            db = f"{tmp.path}/w.db"
            tok = jwtmint.hs256(HS_SECRET, jwtmint.claims("pace"))
            d = vgtest.Daemon(["serve", "--config", cfg], env=ENV)
            t0 = time.monotonic()
            ids = [self.call(d, tok)[1]["data"]["uploadId"] for _ in range(3)]
            if ms and time.monotonic() - t0 < 0.7:
                # Well inside the interval: nothing committed yet.
                self.assertEqual(self.sql(db, "SELECT count(*) FROM signatures"), [(0,)], ms)
            deadline = time.monotonic() + 20
            while (self.sql(db, "SELECT count(*) FROM signatures") != [(3,)]
                   and time.monotonic() < deadline):
                time.sleep(0.05)
            self.assertEqual(self.sql(db, "SELECT count(*) FROM signatures"), [(3,)], ms)
            self.assertEqual(sorted(r[0] for r in self.sql(db, "SELECT upload_id FROM upload_session")),
                             sorted(ids), ms)
            self.assertEqual(d.stop(), 0)
            tmp.cleanup()

    def test_second_server_on_the_database_is_refused(self):
        tmp = vgtest.TempDir()
        cfg = tmp.file("w.ini", self.INI.format(d=tmp.path))
        d = vgtest.Daemon(["serve", "--config", cfg], env=ENV)
        p = vgtest.run(["serve", "--config", cfg], env=ENV, check=1, timeout=30)
        self.assertIn("another vodgate serve is using", p.stderr)
        # The CLI still works beside the server (it takes no lock).
        vgtest.run(["token", "list", "--config", cfg], env=ENV, check=0)
        self.assertEqual(d.stop(), 0)
        # Once the first has stopped, the database is free again.
        d = vgtest.Daemon(["serve", "--config", cfg], env=ENV)
        self.assertEqual(d.stop(), 0)
        tmp.cleanup()


class NoKeys(unittest.TestCase):
    def test_signing_not_configured_is_503(self):
        tmp = vgtest.TempDir()
        cfg = tmp.file("v.ini", "[server]\nlisten = 127.0.0.1:0\n[auth]\nallow_anonymous = true\n")
        d = vgtest.Daemon(["serve", "--config", cfg])
        try:
            c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=5)
            c.request("POST", "/v1/upload-signatures")
            r = c.getresponse()
            doc = json.loads(r.read())
            self.assertEqual((r.status, doc["code"]), (503, 5030))
        finally:
            self.assertEqual(d.stop(), 0)
            tmp.cleanup()


class Anonymous(unittest.TestCase):
    def test_default_deny_and_allow_anonymous(self):
        tmp = vgtest.TempDir()
        base = (f"[server]\nlisten = 127.0.0.1:0\ndb = {tmp.path}/a.db\ndata_dir = {tmp.path}\n"
                "[vod]\nsecret_id = AKIDx\n")
        for allow, want in (("false", 401), ("true", 200)):
            cfg = tmp.file("a.ini", base + f"[auth]\nallow_anonymous = {allow}\n")
            d = vgtest.Daemon(["serve", "--config", cfg], env={"VODGATE_VOD_SECRET_KEY": "k"})
            try:
                c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=5)
                c.request("POST", "/v1/upload-signatures")
                self.assertEqual(c.getresponse().status, want)
            finally:
                self.assertEqual(d.stop(), 0)
        tmp.cleanup()


class AnonymousReserved(Server):
    def test_no_token_may_name_the_anonymous_user(self):
        # Requests without credentials are user "anonymous": a token naming
        # it would share their quota and see their uploads. Refused both ways.
        self.err(*self.call(token=self.hs("anonymous"))[:2], 401, 4011)
        self.ok(*self.call(token=self.hs("anonymous2"))[:2])
        p = vgtest.run(["token", "add", "--user", "anonymous", "--config", self.cfg], env=ENV,
                       check=2)
        self.assertIn("reserved", p.stderr)
        self.assertEqual(p.stdout, "")


class Reload(unittest.TestCase):
    def test_sighup_changes_policy_and_keeps_connections(self):
        tmp = vgtest.TempDir()
        base = (f"[server]\nlisten = 127.0.0.1:0\ndb = {tmp.path}/r.db\ndata_dir = {tmp.path}\n"
                "[vod]\nsecret_id = AKIDx\n[policy default]\nvalidity = {v}\n")
        cfg = tmp.file("r.ini", base.format(v=300))
        env = dict(ENV)
        d = vgtest.Daemon(["serve", "--config", cfg], env=env)
        tok = jwtmint.hs256(HS_SECRET, jwtmint.claims("zoe"))
        try:
            c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=5)

            def validity():
                c.request("POST", "/v1/upload-signatures", headers={"Authorization": "Bearer " + tok})
                doc = json.loads(c.getresponse().read())
                _, _, p = parse_sig(doc["data"]["signature"])
                return int(p["expireTime"]) - int(p["currentTimeStamp"])

            self.assertEqual(validity(), 300)
            tmp.file("r.ini", base.format(v=900))
            d.signal(signal.SIGHUP)
            d.wait_log(lambda r: r.get("msg") == "configuration reloaded")
            self.assertEqual(validity(), 900)  # same keep-alive connection
            # A bad policy is refused and the old one stays.
            tmp.file("r.ini", base.format(v=99999999999))
            d.signal(signal.SIGHUP)
            d.wait_log(lambda r: "reload failed" in r.get("msg", ""))
            self.assertEqual(validity(), 900)
        finally:
            self.assertEqual(d.stop(), 0)
            tmp.cleanup()

    def test_attribution_key_survives_restart(self):
        tmp = vgtest.TempDir()
        cfg = tmp.file("k.ini", f"[server]\nlisten = 127.0.0.1:0\ndb = {tmp.path}/k.db\n"
                                f"data_dir = {tmp.path}/data\n[vod]\nsecret_id = AKIDx\n")
        keys = []
        for _ in range(2):
            d = vgtest.Daemon(["serve", "--config", cfg], env=ENV)
            self.assertEqual(d.stop(), 0)
            with open(f"{tmp.path}/data/attribution.key") as f:
                keys.append(f.read())
            self.assertEqual(os.stat(f"{tmp.path}/data/attribution.key").st_mode & 0o777, 0o600)
        self.assertEqual(keys[0], keys[1])
        tmp.cleanup()


if __name__ == "__main__":
    vgtest.main()
