"""`vodgate emulate`: VOD-UGC, COS and API 3.0 on loopback, checked through
their wire interfaces with signatures computed independently here (COS
q-sign, TC3), and the events pushed to a Python receiver."""
import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import sys
import threading
import time
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import vgtest

KEY = "emu-secret-key-0123456789abcdef"
SID = "AKIDemulatetest0000000000000000000000"
SIGN_KEY = "MySignKey123"
UGC_HOST = "vod2.qcloud.com"
API_HOST = "vod.tencentcloudapi.com"


class Receiver:
    """Records the JSON bodies POSTed to it."""

    def __init__(self):
        self.events = []
        self.raw = []  # (headers as a dict, body bytes), in arrival order
        self.cv = threading.Condition()
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                data = self.rfile.read(n)
                body = json.loads(data)
                with outer.cv:
                    outer.raw.append(({k.lower(): v for k, v in self.headers.items()}, data))
                    outer.events.append(body)
                    outer.cv.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.srv.server_port}/cb"

    def wait(self, pred, timeout=15):
        deadline = time.time() + timeout
        with self.cv:
            while True:
                hits = [e for e in self.events if pred(e)]
                if hits:
                    return hits
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError(f"event not received; have {self.events}")
                self.cv.wait(left)

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def cos_enc(s):
    return urllib.parse.quote(s, safe="-_.~")


def cos_authorization(cert, method, path, params, headers, now=None):
    """q-sign-algorithm=sha1 exactly as cos-js-sdk-v5 computes it."""
    now = int(now or time.time())
    kt = f"{now - 60};{now + 600}"
    sign_key = hmac.new(cert["secretKey"].encode(), kt.encode(), hashlib.sha1).hexdigest()
    p = sorted((cos_enc(k).lower(), cos_enc(v or "")) for k, v in params)
    h = sorted((cos_enc(k).lower(), cos_enc(v)) for k, v in headers.items())
    hs = f"{method.lower()}\n{path}\n" + "&".join(f"{k}={v}" for k, v in p) + "\n" + \
        "&".join(f"{k}={v}" for k, v in h) + "\n"
    sts = f"sha1\n{kt}\n{hashlib.sha1(hs.encode()).hexdigest()}\n"
    sig = hmac.new(sign_key.encode(), sts.encode(), hashlib.sha1).hexdigest()
    return (f"q-sign-algorithm=sha1&q-ak={cert['secretId']}&q-sign-time={kt}&q-key-time={kt}"
            f"&q-header-list={';'.join(k for k, _ in h)}&q-url-param-list={';'.join(k for k, _ in p)}"
            f"&q-signature={sig}")


def tc3_headers(action, body, host=API_HOST, key=KEY, ts=None):
    ts = int(ts or time.time())
    date = datetime.datetime.utcfromtimestamp(ts).strftime("%Y-%m-%d")
    service = "vod"
    ct = "application/json"
    canon = (f"POST\n/\n\ncontent-type:{ct}\nhost:{host.split(':')[0]}\n\ncontent-type;host\n"
             + hashlib.sha256(body).hexdigest())
    sts = f"TC3-HMAC-SHA256\n{ts}\n{date}/{service}/tc3_request\n" + \
        hashlib.sha256(canon.encode()).hexdigest()

    def h(k, m):
        return hmac.new(k, m.encode(), hashlib.sha256).digest()
    k = h(h(h(("TC3" + key).encode(), date), service), "tc3_request")
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    return {"Host": host, "Content-Type": ct, "X-TC-Action": action, "X-TC-Timestamp": str(ts),
            "X-TC-Version": "2018-07-17",
            "Authorization": f"TC3-HMAC-SHA256 Credential={SID}/{date}/{service}/tc3_request, "
                             f"SignedHeaders=content-type;host, Signature={sig}"}


class Emu:
    def __init__(self, tmp, callback=None, extra=()):
        args = ["emulate", "--listen", "127.0.0.1:0", "--secret-id", SID, "--data-dir",
                os.path.join(tmp.path, "data")]
        if callback:
            args += ["--callback-url", callback]
        self.d = vgtest.Daemon(args + list(extra), env={"VODGATE_VOD_SECRET_KEY": KEY,
                                                        "VODGATE_VOD_SIGN_KEY": SIGN_KEY})
        self.port = self.d.port

    def req(self, method, host, path, body=b"", headers=None, timeout=15):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Host": host}
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        b = r.read()
        c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, b

    def ugc(self, action, obj):
        s, h, b = self.req("POST", UGC_HOST, f"/v3/index.php?Action={action}",
                           json.dumps(obj).encode(), {"Content-Type": "application/json"})
        assert s == 200, (s, b)
        return json.loads(b)

    def api(self, action, obj, **kw):
        body = json.dumps(obj).encode()
        s, h, b = self.req("POST", kw.pop("host", API_HOST), "/", body,
                           tc3_headers(action, body, **kw))
        assert s == 200, (s, b)
        return json.loads(b)["Response"]

    def cos(self, data, method, path, params=(), body=b"", headers=None, cert=None, auth=True):
        host = f"{data['storageBucket']}-{data['storageAppId']}.cos.{data['storageRegionV5']}.myqcloud.com"
        cert = cert or data["tempCertificate"]
        h = dict(headers or {})
        if auth:
            h["Authorization"] = cos_authorization(cert, method, path, params,
                                                   {k.lower(): v for k, v in h.items()})
            h["x-cos-security-token"] = cert["token"]
        q = "&".join(cos_enc(k) if v is None else f"{cos_enc(k)}={cos_enc(v)}" for k, v in params)
        url = urllib.parse.quote(path) + ("?" + q if q else "")
        return self.req(method, host, url, body, h)

    def stop(self):
        rc = self.d.stop()
        # Exit 0 also means no leak or sanitizer report under `make asan`.
        assert rc == 0, f"emulate exited {rc}:\n" + "\n".join(self.d.logs[-30:])


def sign(*extra):
    return vgtest.run(["sign", "--secret-id", SID, *extra], env={"VODGATE_VOD_SECRET_KEY": KEY},
                      check=0).stdout.strip()


class EmulateTest(unittest.TestCase):
    def setUp(self):
        self.tmp = vgtest.TempDir()
        self.rx = Receiver()
        self.emu = Emu(self.tmp, self.rx.url)

    def tearDown(self):
        self.emu.stop()
        self.rx.close()
        self.tmp.cleanup()

    def apply(self, name="clip", size=11, *sigargs):
        a = self.emu.ugc("ApplyUploadUGC", {"signature": sign(*sigargs), "videoName": name,
                                            "videoType": "mp4", "videoSize": size})
        self.assertEqual(a["code"], 0, a)
        return a["data"]

    def test_help(self):
        p = vgtest.run(["emulate", "--help"], check=0)
        self.assertIn("--tls-listen", p.stdout)
        p = vgtest.run(["emulate", "--listen", "127.0.0.1:0"], check=2)

    def test_put_commit_pushes_signed_event(self):
        d = self.apply("clean clip", 11, "--source-context", "user-7")
        self.assertEqual(d["storageRegionV5"], d["StorageRegionV5"])
        path = d["video"]["storagePath"]
        s, h, b = self.emu.cos(d, "PUT", path, body=b"hello world")
        self.assertEqual(s, 200, b)
        self.assertEqual(h["etag"], '"%s"' % hashlib.md5(b"hello world").hexdigest())
        c = self.emu.ugc("CommitUploadUGC", {"signature": sign(),
                                             "vodSessionKey": d["vodSessionKey"]})
        self.assertEqual(c["code"], 0, c)
        fid = c["data"]["fileId"]
        self.assertTrue(c["data"]["video"]["url"].endswith(path))
        ev = self.rx.wait(lambda e: e.get("EventType") == "NewFileUpload")[0]
        self.assertEqual(ev["FileUploadEvent"]["FileId"], fid)
        self.assertEqual(ev["FileUploadEvent"]["MediaBasicInfo"]["SourceInfo"]["SourceContext"],
                         "user-7")
        self.assertEqual(ev["Sign"], hashlib.md5(f"{SIGN_KEY}{ev['T']}".encode()).hexdigest())
        self.assertGreater(ev["T"], time.time())
        # A second Commit answers the same and pushes nothing new.
        c2 = self.emu.ugc("CommitUploadUGC", {"signature": sign(),
                                              "vodSessionKey": d["vodSessionKey"]})
        self.assertEqual(c2["data"]["fileId"], fid)
        time.sleep(0.5)
        self.assertEqual(len([e for e in self.rx.events if e["EventType"] == "NewFileUpload"]), 1)

    def test_multipart_and_review_block(self):
        d = self.apply("marked", 0, "--procedure", "ReviewFlow", "--session-context", "sess-9")
        path = d["video"]["storagePath"]
        key = path[1:]
        s, h, b = self.emu.cos(d, "POST", path, [("uploads", None)],
                               headers={"Content-Type": "video/mp4"})
        self.assertEqual(s, 200, b)
        uid = b.split(b"<UploadId>")[1].split(b"</UploadId>")[0].decode()
        p1 = b"VODGATE-REVIEW:block\n" + b"a" * 1000
        p2 = b"b" * 500
        etags = []
        for n, part in ((1, p1), (2, p2)):
            s, h, b = self.emu.cos(d, "PUT", path, [("partNumber", str(n)), ("uploadId", uid)],
                                   body=part, headers={"Content-Length": str(len(part))})
            self.assertEqual(s, 200, b)
            etags.append(h["etag"].strip('"'))
        s, h, b = self.emu.cos(d, "GET", "/", [("prefix", key), ("uploads", None)])
        self.assertEqual(s, 200, b)
        self.assertIn(uid.encode(), b)
        s, h, b = self.emu.cos(d, "GET", path, [("uploadId", uid)])
        self.assertIn(b"<PartNumber>2</PartNumber>", b)
        xml = ("<CompleteMultipartUpload>" + "".join(
            f"<Part><PartNumber>{i + 1}</PartNumber><ETag>&quot;{e}&quot;</ETag></Part>"
            for i, e in enumerate(etags)) + "</CompleteMultipartUpload>").encode()
        md5 = base64.b64encode(hashlib.md5(xml).digest()).decode()
        s, h, b = self.emu.cos(d, "POST", path, [("uploadId", uid)], body=xml,
                               headers={"Content-MD5": md5, "Content-Type": "application/xml"})
        self.assertEqual(s, 200, b)
        self.assertIn(b"-2&quot;</ETag>", b)
        c = self.emu.ugc("CommitUploadUGC", {"signature": sign(),
                                             "vodSessionKey": d["vodSessionKey"]})
        self.assertEqual(c["code"], 0, c)
        ev = self.rx.wait(lambda e: e.get("EventType") == "ProcedureStateChanged")[0]
        pe = ev["ProcedureStateChangeEvent"]
        self.assertEqual(pe["FileId"], c["data"]["fileId"])
        self.assertEqual(pe["SessionContext"], "sess-9")
        self.assertIn('"block"', json.dumps(pe))
        self.assertEqual(self.rx.wait(lambda e: e.get("EventType") == "NewFileUpload")[0]
                         ["FileUploadEvent"]["MetaData"]["Size"], len(p1) + len(p2))

    def test_signature_checks(self):
        base = {"videoName": "x", "videoType": "mp4", "videoSize": 1}
        other = vgtest.run(["sign", "--secret-id", SID],
                           env={"VODGATE_VOD_SECRET_KEY": "another-key-000000000"},
                           check=0).stdout.strip()
        a = self.emu.ugc("ApplyUploadUGC", dict(base, signature=other))
        self.assertEqual((a["code"], a["message"]), (10004, "ugc upload | invalid signature"))
        now = int(time.time())
        expired = sign("--now", str(now - 7200), "--expire-time", str(now - 3600))
        self.assertEqual(self.emu.ugc("ApplyUploadUGC", dict(base, signature=expired))["code"],
                         10004)
        once = sign("--one-time")
        self.assertEqual(self.emu.ugc("ApplyUploadUGC", dict(base, signature=once))["code"], 0)
        a = self.emu.ugc("ApplyUploadUGC", dict(base, signature=once))
        self.assertEqual((a["code"], a["message"]), (10004, "duplicate vod signature"))
        # Reusable signatures stay reusable.
        many = sign()
        for _ in range(2):
            self.assertEqual(self.emu.ugc("ApplyUploadUGC", dict(base, signature=many))["code"], 0)
        a = self.emu.ugc("ApplyUploadUGC", {"signature": many})
        self.assertEqual((a["code"], a["message"]), (10001, "ugc upload | invalid request"))
        a = self.emu.ugc("CommitUploadUGC", {"signature": many, "vodSessionKey": "vsk1" + "0" * 80})
        self.assertEqual(a["code"], 10005)

    def test_resume_by_session_key(self):
        d = self.apply()
        r = self.emu.ugc("ApplyUploadUGC", {"signature": sign(),
                                            "vodSessionKey": d["vodSessionKey"]})
        self.assertEqual(r["code"], 0, r)
        self.assertEqual(r["data"]["video"]["storagePath"], d["video"]["storagePath"])
        self.assertEqual(r["data"]["vodSessionKey"], d["vodSessionKey"])
        # Commit before the bytes arrived is refused.
        c = self.emu.ugc("CommitUploadUGC", {"signature": sign(),
                                             "vodSessionKey": d["vodSessionKey"]})
        self.assertEqual(c["code"], 10001)

    def test_cos_refusals_and_confinement(self):
        d = self.apply()
        d2 = self.apply()
        path = d["video"]["storagePath"]
        s, h, b = self.emu.cos(d, "PUT", path, body=b"x", auth=False)
        self.assertEqual(s, 403)
        self.assertIn(b"<Code>AccessDenied</Code>", b)
        bad = dict(d["tempCertificate"], secretKey="0" * 40)
        s, h, b = self.emu.cos(d, "PUT", path, body=b"x", cert=bad)
        self.assertEqual(s, 403)
        self.assertIn(b"<Code>SignatureDoesNotMatch</Code>", b)
        # The other session's object, a made-up key, and a traversal.
        for p in (d2["video"]["storagePath"], path + "x", path.rsplit("/", 1)[0] + "/../../etc"):
            s, h, b = self.emu.cos(d, "PUT", p, body=b"x")
            self.assertEqual(s, 403, p)
            self.assertIn(b"AccessDenied", b)
        self.assertFalse(os.path.exists(os.path.join(self.tmp.path, "etc")))
        s, h, b = self.emu.cos(d, "PUT", path, body=b"x", headers={"Content-MD5": "AAAA"})
        self.assertEqual(s, 400)
        self.assertIn(b"BadDigest", b)

    def test_cors(self):
        s, h, b = self.emu.req("OPTIONS", UGC_HOST, "/v3/index.php?Action=ApplyUploadUGC", b"",
                               {"Origin": "http://app.example", "Access-Control-Request-Method": "POST",
                                "Access-Control-Request-Headers": "content-type"})
        self.assertEqual(s, 204)
        self.assertEqual(h["access-control-allow-origin"], "http://app.example")
        self.assertIn("POST", h["access-control-allow-methods"])
        self.assertEqual(h["access-control-allow-headers"], "content-type")
        d = self.apply()
        host = f"{d['storageBucket']}-{d['storageAppId']}.cos.ap-guangzhou.myqcloud.com"
        s, h, b = self.emu.req("OPTIONS", host, d["video"]["storagePath"] + "?uploads", b"",
                               {"Origin": "http://app.example", "Access-Control-Request-Method": "PUT",
                                "Access-Control-Request-Headers": "authorization,x-cos-security-token"})
        self.assertEqual(s, 204)
        self.assertIn("PUT", h["access-control-allow-methods"])
        self.assertIn("ETag", h["access-control-expose-headers"])
        s, h, b = self.emu.cos(d, "PUT", d["video"]["storagePath"], body=b"x",
                               headers={"Origin": "http://app.example"})
        self.assertEqual(s, 200)
        self.assertIn("ETag", h["access-control-expose-headers"])

    def test_pull_confirm_describe_delete(self):
        d = self.apply()
        self.emu.cos(d, "PUT", d["video"]["storagePath"], body=b"abc")
        fid = self.emu.ugc("CommitUploadUGC", {"signature": sign(),
                                               "vodSessionKey": d["vodSessionKey"]})["data"]["fileId"]
        r = self.emu.api("PullEvents", {})
        self.assertEqual([e["EventType"] for e in r["EventSet"]], ["NewFileUpload"])
        h1 = r["EventSet"][0]["EventHandle"]
        # Leased: a second pull sees nothing (it waits, then answers empty).
        self.assertEqual(self.emu.api("PullEvents", {})["EventSet"], [])
        self.assertNotIn("Error", self.emu.api("ConfirmEvents", {"EventHandles": [h1]}))
        r = self.emu.api("ConfirmEvents", {"EventHandles": ["nope"]})
        self.assertEqual(r["Error"]["Code"], "InvalidParameterValue.EventHandles")
        r = self.emu.api("DescribeMediaInfos", {"FileIds": [fid, "123"]})
        self.assertEqual(r["MediaInfoSet"][0]["FileId"], fid)
        self.assertEqual(r["MediaInfoSet"][0]["MetaData"]["Size"], 3)
        self.assertEqual(r["NotExistFileIdSet"], ["123"])
        self.assertNotIn("Error", self.emu.api("DeleteMedia", {"FileId": fid}))
        r = self.emu.api("PullEvents", {})
        self.assertEqual(r["EventSet"][0]["EventType"], "FileDeleted")

    def test_unconfirmed_event_is_redelivered(self):
        self.emu.stop()
        self.emu = Emu(self.tmp, None, ["--event-lease", "1"])
        d = self.apply()
        self.emu.cos(d, "PUT", d["video"]["storagePath"], body=b"abc")
        self.emu.ugc("CommitUploadUGC", {"signature": sign(), "vodSessionKey": d["vodSessionKey"]})
        first = self.emu.api("PullEvents", {})["EventSet"]
        self.assertEqual(len(first), 1)
        deadline = time.time() + 10
        again = []
        while not again and time.time() < deadline:
            again = self.emu.api("PullEvents", {})["EventSet"]
        self.assertEqual(len(again), 1)
        self.assertEqual(again[0]["FileUploadEvent"], first[0]["FileUploadEvent"])
        self.assertNotEqual(again[0]["EventHandle"], first[0]["EventHandle"])
        r = self.emu.api("ConfirmEvents", {"EventHandles": [again[0]["EventHandle"]]})
        self.assertNotIn("Error", r)

    def test_tc3_refusals(self):
        r = self.emu.api("PullEvents", {}, key="wrong-key")
        self.assertEqual(r["Error"]["Code"], "AuthFailure.SignatureFailure")
        r = self.emu.api("PullEvents", {}, ts=time.time() - 600)
        self.assertEqual(r["Error"]["Code"], "AuthFailure.SignatureExpire")
        # The host is signed without its port, as the Node SDK does.
        r = self.emu.api("DescribeMediaInfos", {"FileIds": ["1"]}, host=f"127.0.0.1:{self.emu.port}")
        self.assertEqual(r["NotExistFileIdSet"], ["1"])

    def faults(self, **kw):
        s, h, b = self.emu.req("POST", "127.0.0.1", "/__emu/faults", json.dumps(kw).encode())
        self.assertEqual(s, 200, b)

    def committed_with_procedure(self):
        d = self.apply("p", 3, "--procedure", "ReviewFlow")
        self.emu.cos(d, "PUT", d["video"]["storagePath"], body=b"abc")
        c = self.emu.ugc("CommitUploadUGC", {"signature": sign(),
                                             "vodSessionKey": d["vodSessionKey"]})
        self.assertEqual(c["code"], 0, c)
        return c["data"]["fileId"]

    def test_reorder_and_drop(self):
        self.faults(reorder=1)
        fid = self.committed_with_procedure()
        self.rx.wait(lambda e: len(self.rx.events) >= 2)
        self.assertEqual([e["EventType"] for e in self.rx.events],
                         ["ProcedureStateChanged", "NewFileUpload"])
        self.faults(drop=1)
        fid2 = self.committed_with_procedure()
        self.rx.wait(lambda e: e.get("ProcedureStateChangeEvent", {}).get("FileId") == fid2)
        time.sleep(0.3)
        self.assertEqual([e["EventType"] for e in self.rx.events[2:]], ["ProcedureStateChanged"])
        # The dropped push is still there for PullEvents.
        pulled = self.emu.api("PullEvents", {})["EventSet"]
        self.assertIn(("NewFileUpload", fid2),
                      [(e["EventType"], e.get("FileUploadEvent", {}).get("FileId")) for e in pulled])
        self.assertNotEqual(fid, fid2)

    def test_prepare_and_tls_listener(self):
        import ssl
        import subprocess
        cert, key = os.path.join(self.tmp.path, "c.pem"), os.path.join(self.tmp.path, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "1", "-subj", "/CN=vod2.qcloud.com", "-addext",
                        "subjectAltName=DNS:vod2.qcloud.com,DNS:*.myqcloud.com"],
                       check=True, capture_output=True)
        d = vgtest.Daemon(["emulate", "--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0",
                           "--tls-cert", cert, "--tls-key", key, "--secret-id", SID,
                           "--data-dir", os.path.join(self.tmp.path, "tlsdata")],
                          env={"VODGATE_VOD_SECRET_KEY": KEY})
        try:
            tls_port = d.wait_log(lambda r: "tls_port" in r)["tls_port"]
            ctx = ssl.create_default_context(cafile=cert)
            ctx.check_hostname = False  # connecting to 127.0.0.1 with SNI-less Host mapping
            c = http.client.HTTPSConnection("127.0.0.1", tls_port, timeout=10, context=ctx)
            c.request("POST", "/v3/index.php?Action=PrepareUploadUGC",
                      body=json.dumps({"signature": sign()}),
                      headers={"Host": UGC_HOST, "Content-Type": "application/json"})
            r = c.getresponse()
            doc = json.loads(r.read())
            c.close()
            self.assertEqual(r.status, 200)
            self.assertEqual(doc["code"], 0, doc)
            self.assertEqual(doc["data"]["appId"], 1500000000)
            self.assertEqual(len(doc["data"]["cosRegionList"]), 1)
        finally:
            d.stop()

    def test_faults(self):
        s, h, b = self.emu.req("POST", "127.0.0.1", "/__emu/faults",
                               json.dumps({"fail": {"ApplyUploadUGC": 1}, "duplicate": 1}).encode(),
                               {"Content-Type": "application/json"})
        self.assertEqual(s, 200, b)
        a = self.emu.ugc("ApplyUploadUGC", {"signature": sign(), "videoName": "x",
                                            "videoType": "mp4", "videoSize": 1})
        self.assertEqual(a["code"], 10001)
        d = self.apply()
        self.emu.cos(d, "PUT", d["video"]["storagePath"], body=b"abc")
        self.emu.ugc("CommitUploadUGC", {"signature": sign(), "vodSessionKey": d["vodSessionKey"]})
        evs = self.rx.wait(lambda e: len([x for x in self.rx.events
                                          if x["EventType"] == "NewFileUpload"]) >= 2)
        self.assertEqual(evs[0]["FileUploadEvent"]["FileId"], evs[1]["FileUploadEvent"]["FileId"])


HS_SECRET = "hs256-secret-for-tests-0123456789abcdef"
WEBHOOK_KEY = b"webhook-key-for-the-e2e-test-0123"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(WEBHOOK_KEY).decode()


def webhook_states(hook, file_id, want, timeout=20):
    """The app's webhook deliveries for file_id, once `want` (the final
    state) arrived: each one's Standard Webhooks signature checked here,
    independently of vodgate. Returns the states in arrival order."""
    hook.wait(lambda e: e.get("data", {}).get("fileId") == file_id
              and e["data"].get("state") == want, timeout)
    states = []
    for headers, body in list(hook.raw):
        doc = json.loads(body)
        if doc.get("data", {}).get("fileId") != file_id:
            continue
        signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
        mac = base64.b64encode(hmac.new(WEBHOOK_KEY, signed, hashlib.sha256).digest()).decode()
        assert f"v1,{mac}" in headers["webhook-signature"].split(" "), headers
        assert abs(int(headers["webhook-timestamp"]) - time.time()) < 300
        states.append(doc["data"]["state"])
    return states
SERVE_INI = """
[server]
listen = 127.0.0.1:0
db = {dir}/vg.db
data_dir = {dir}/sdata
threads = 4

[vod]
secret_id = {sid}

[auth]
jwt_issuer = https://idp.example
jwt_audience = vodgate

[webhook]
url = {hook}

[policy default]
procedure = ReviewFlow
"""


class EndToEnd(unittest.TestCase):
    """vodgate upload -> vodgate serve (signatures) -> vodgate emulate ->
    events pushed to vodgate serve's /v1/vod/events -> the ledger, and the
    app's webhook."""

    @classmethod
    def setUpClass(cls):
        import jwtmint
        cls.jwtmint = jwtmint
        cls.tmp = vgtest.TempDir()
        cls.hook = Receiver()
        cfg = cls.tmp.file("vodgate.ini", SERVE_INI.format(dir=cls.tmp.path, sid=SID,
                                                           hook=cls.hook.url))
        cls.serve = vgtest.Daemon(["serve", "--config", cfg],
                                  env={"VODGATE_VOD_SECRET_KEY": KEY,
                                       "VODGATE_AUTH_JWT_HS256_SECRET": HS_SECRET,
                                       "VODGATE_VOD_SIGN_KEY": SIGN_KEY,
                                       "VODGATE_WEBHOOK_SECRET": WEBHOOK_SECRET})
        cls.emu = Emu(cls.tmp, f"http://127.0.0.1:{cls.serve.port}/v1/vod/events")

    @classmethod
    def tearDownClass(cls):
        cls.emu.stop()
        rc = cls.serve.stop()
        cls.hook.close()
        cls.tmp.cleanup()
        assert rc == 0

    def token(self, sub):
        return self.jwtmint.hs256(HS_SECRET, self.jwtmint.claims(sub, iss="https://idp.example",
                                                                 aud="vodgate"))

    def upload(self, sub, path, *extra, check=0):
        return vgtest.run(["upload", path, "--signature-url",
                           f"http://127.0.0.1:{self.serve.port}/v1/upload-signatures",
                           "--emulator", f"127.0.0.1:{self.emu.port}", *extra],
                          env={"VODGATE_UPLOAD_TOKEN": self.token(sub)}, check=check)

    def ledger(self, sub, upload_id, want, timeout=20):
        return vgtest.wait_upload_state(self.serve.port, self.token(sub), upload_id, want,
                                        timeout)

    def result(self, p):
        return json.loads(p.stdout.strip().splitlines()[-1])

    def test_clean_file_passes_and_marked_file_is_blocked(self):
        clean = self.tmp.file("holiday.mp4", b"\x00\x00\x00\x18ftypmp42" + os.urandom(5000))
        marked = self.tmp.file("party.mp4", b"VODGATE-REVIEW:block\n" + os.urandom(3000))
        a = self.result(self.upload("alice", clean))
        b = self.result(self.upload("bob", marked))
        ua = self.ledger("alice", a["uploadId"], "passed")
        ub = self.ledger("bob", b["uploadId"], "blocked")
        self.assertEqual((ua["user"], ua["fileId"]), ("alice", a["fileId"]))
        self.assertEqual((ub["user"], ub["fileId"]), ("bob", b["fileId"]))
        self.assertEqual(ub["review"]["suggestion"], "block")
        self.assertEqual(ua["review"]["suggestion"], "pass")
        self.assertFalse(os.path.exists(clean + ".vgupload"))
        # Each state change of each file is queued once for the app's webhook
        # (the outbox; its delivery worker is not part of this test).
        import sqlite3
        con = sqlite3.connect(os.path.join(self.tmp.path, "vg.db"), timeout=10)
        rows = [json.loads(p)["data"] for (p,) in con.execute("SELECT payload FROM outbox")]
        con.close()
        for fid, states in ((a["fileId"], ["uploaded", "passed"]),
                            (b["fileId"], ["uploaded", "blocked"])):
            self.assertEqual([r["state"] for r in rows if r["fileId"] == fid], states)

    def test_webhooks_once_per_state_change(self):
        f = self.tmp.file("hooked.mp4", b"VODGATE-REVIEW:review\n" + os.urandom(2000))
        r = self.result(self.upload("heidi", f))
        self.ledger("heidi", r["uploadId"], "review")
        self.assertEqual(webhook_states(self.hook, r["fileId"], "review"), ["uploaded", "review"])
        time.sleep(0.5)  # nothing more arrives for this file
        self.assertEqual(webhook_states(self.hook, r["fileId"], "review"), ["uploaded", "review"])

    def test_multipart_resume_after_interruption(self):
        data = os.urandom(3 * 1024 * 1024 + 12345)
        path = self.tmp.file("long.mp4", data)
        s, h, b = self.emu.req("POST", "127.0.0.1", "/__emu/faults",
                               json.dumps({"fail": {"CompleteMultipartUpload": 1}}).encode())
        self.assertEqual(s, 200)
        p = self.upload("carol", path, "--part-size", "1048576", "--parallel", "3", check=1)
        self.assertIn("CompleteMultipartUpload", p.stderr)
        self.assertIn("ServiceUnavailable", p.stderr)
        self.assertTrue(os.path.exists(path + ".vgupload"))
        state = json.load(open(path + ".vgupload"))
        r = self.result(self.upload("carol", path, "--part-size", "1048576"))
        self.assertEqual(r["uploadId"], state["uploadId"])
        self.assertFalse(os.path.exists(path + ".vgupload"))
        u = self.ledger("carol", r["uploadId"], "passed")
        self.assertEqual(u["user"], "carol")
        info = self.emu.api("DescribeMediaInfos", {"FileIds": [r["fileId"]]})
        self.assertEqual(info["MediaInfoSet"][0]["MetaData"]["Size"], len(data))

    def test_upload_with_cover(self):
        media = self.tmp.file("withcover.mp4", b"m" * 4000)
        cover = self.tmp.file("cover.jpg", b"\xff\xd8\xff" + b"c" * 500)
        r = self.result(self.upload("gina", media, "--cover", cover))
        self.ledger("gina", r["uploadId"], "passed")
        stored = []
        for root, _, files in os.walk(os.path.join(self.tmp.path, "data", "objects")):
            stored += [os.path.join(root, f) for f in files]
        covers = [f for f in stored if f.endswith(".jpg")]
        self.assertEqual(len(covers), 1, stored)
        with open(covers[0], "rb") as f:
            self.assertEqual(f.read(), b"\xff\xd8\xff" + b"c" * 500)

    def test_vod_error_is_explained(self):
        path = self.tmp.file("x.mp4", b"abc")
        s, h, b = self.emu.req("POST", "127.0.0.1", "/__emu/faults",
                               json.dumps({"fail": {"ApplyUploadUGC": 1}}).encode())
        p = self.upload("dave", path, check=1)
        self.assertIn("VOD code 10001", p.stderr)
        p = vgtest.run(["upload", path, "--signature-url",
                        f"http://127.0.0.1:{self.serve.port}/v1/upload-signatures",
                        "--emulator", f"127.0.0.1:{self.emu.port}"],
                       env={"VODGATE_UPLOAD_TOKEN": "bad"}, check=1)
        self.assertIn("HTTP 401", p.stderr)


class EndToEndPull(unittest.TestCase):
    """End-to-end #3 (server half): `vodgate serve` in pull mode takes the
    emulator's events in with PullEvents/ConfirmEvents (TC3), each exactly
    once, and confirms them only after its commit."""

    def test_pull_mode_takes_every_event_once(self):
        import jwtmint
        import sqlite3
        tmp = vgtest.TempDir()
        emu = Emu(tmp)  # no callback URL: events only by PullEvents
        ini = SERVE_INI.format(dir=tmp.path, sid=SID, hook="http://127.0.0.1:9/unused") + (
            f"\n[events]\nmode = pull\npull_interval = 0\n"
            f"[vod]\napi_endpoint = http://127.0.0.1:{emu.port}\n")
        ini = ini.replace("[webhook]\nurl = http://127.0.0.1:9/unused\n", "")
        serve = vgtest.Daemon(["serve", "--config", tmp.file("v.ini", ini)],
                              env={"VODGATE_VOD_SECRET_KEY": KEY,
                                   "VODGATE_AUTH_JWT_HS256_SECRET": HS_SECRET})
        try:
            tok = jwtmint.hs256(HS_SECRET, jwtmint.claims("ivan", iss="https://idp.example",
                                                         aud="vodgate"))
            ids = []
            for name, head in (("a.mp4", b"clean"), ("b.mp4", b"VODGATE-REVIEW:block\n")):
                p = vgtest.run(["upload", tmp.file(name, head + os.urandom(1500)),
                                "--signature-url",
                                f"http://127.0.0.1:{serve.port}/v1/upload-signatures",
                                "--emulator", f"127.0.0.1:{emu.port}"],
                               env={"VODGATE_UPLOAD_TOKEN": tok}, check=0)
                ids.append(json.loads(p.stdout.strip().splitlines()[-1]))
            for r, want in zip(ids, ("passed", "blocked")):
                u = vgtest.wait_upload_state(serve.port, tok, r["uploadId"], want, 30)
                self.assertEqual((u["user"], u["fileId"]), ("ivan", r["fileId"]))
            # Everything pulled was confirmed, and taken in once.
            deadline = time.time() + 15
            while True:
                s, h, b = emu.req("GET", "127.0.0.1", "/__emu/state")
                st = json.loads(b)
                if st["unconfirmed"] == 0:
                    break
                self.assertLess(time.time(), deadline, st)
                time.sleep(0.2)
            self.assertEqual(st["events"], 4)  # NewFileUpload + ProcedureStateChanged, twice
            con = sqlite3.connect(os.path.join(tmp.path, "vg.db"), timeout=10)
            n = con.execute("SELECT count(*) FROM event").fetchone()[0]
            con.close()
            self.assertEqual(n, 4)
        finally:
            self.assertEqual(serve.stop(), 0, "\n".join(serve.logs[-30:]))
            emu.stop()
            tmp.cleanup()


if __name__ == "__main__":
    vgtest.main()
