"""End-to-end #2: the official browser SDK (vod-js-sdk-v6 1.8.0, npm) in
headless Chromium (Debian `chromium`), its getSignature fetching from
`vodgate serve`, vod2.qcloud.com and *.myqcloud.com mapped to `vodgate
emulate` with --host-resolver-rules (upload-protocol.md section 6). The SDK
and its hosts are unmodified: vod2 over the emulator's TLS listener, COS
over its plain one. The ledger must show the file attributed to the
signed-in user with the review decided by the file's marker.

Skipped (not failed) when chromium, openssl or tests/e2e/node_modules
(`npm ci` in tests/e2e) is missing.
"""
import http.client
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import vgtest

KEY = "emu-secret-key-0123456789abcdef"
SID = "AKIDemulatetest0000000000000000000000"
SIGN_KEY = "MySignKey123"
HS_SECRET = "hs256-secret-for-tests-0123456789abcdef"
E2E = os.path.join(vgtest.SRC, "tests", "e2e")
SDK = os.path.join(E2E, "node_modules", "vod-js-sdk-v6", "dist", "vod-js-sdk-v6.js")

SERVE_INI = """
[server]
listen = 127.0.0.1:0
db = {dir}/vg.db
data_dir = {dir}/sdata

[vod]
secret_id = {sid}

[auth]
jwt_issuer = https://idp.example
jwt_audience = vodgate

[policy default]
procedure = ReviewFlow
one_time = true
"""


def missing():
    if not shutil.which("chromium"):
        return "chromium not installed"
    if not shutil.which("openssl"):
        return "openssl not installed"
    if not os.path.isfile(SDK):
        return "tests/e2e/node_modules missing (run npm ci in tests/e2e)"
    return None


class Page:
    """Serves the test page and the SDK, relays getSignature to vodgate
    serve (same origin for the page; one upload session per page, as an app
    would do by passing uploadId), and takes the page's result."""

    def __init__(self, serve_port):
        self.result = None
        self.done = threading.Event()
        self.sig_calls = 0
        self.upload_id = None
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, code, body, ctype):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                path = self.path.split("?")[0]
                if path == "/sig":
                    body = {"uploadId": outer.upload_id} if outer.upload_id else {}
                    c = http.client.HTTPConnection("127.0.0.1", serve_port, timeout=10)
                    c.request("POST", "/v1/upload-signatures", body=json.dumps(body),
                              headers={"Authorization": self.headers.get("Authorization", ""),
                                       "Content-Type": "application/json"})
                    r = c.getresponse()
                    data = r.read()
                    c.close()
                    outer.sig_calls += 1
                    if r.status == 200 and not outer.upload_id:
                        outer.upload_id = json.loads(data)["data"]["uploadId"]
                    return self.reply(r.status, data, "application/json")
                for prefix, root in (("/page/", os.path.join(E2E, "page")),
                                     ("/node_modules/", os.path.join(E2E, "node_modules"))):
                    if path.startswith(prefix) and ".." not in path:
                        f = os.path.join(root, path[len(prefix):])
                        if os.path.isfile(f):
                            with open(f, "rb") as fh:
                                return self.reply(200, fh.read(), "text/html" if f.endswith(
                                    ".html") else "application/javascript")
                self.reply(404, b"", "text/plain")

            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                outer.result = json.loads(self.rfile.read(n))
                outer.done.set()
                self.reply(200, b"{}", "application/json")

        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.srv.server_port}"

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


@unittest.skipIf(missing(), missing() or "")
class BrowserSDK(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import jwtmint
        cls.jwtmint = jwtmint
        cls.tmp = vgtest.TempDir()
        cert, key = os.path.join(cls.tmp.path, "c.pem"), os.path.join(cls.tmp.path, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "1", "-subj", "/CN=vod2.qcloud.com", "-addext",
                        "subjectAltName=DNS:vod2.qcloud.com,DNS:vod2.dnsv1.com,"
                        "DNS:vodreport.qcloud.com"], check=True, capture_output=True)
        cfg = cls.tmp.file("vodgate.ini", SERVE_INI.format(dir=cls.tmp.path, sid=SID))
        cls.serve = vgtest.Daemon(["serve", "--config", cfg],
                                  env={"VODGATE_VOD_SECRET_KEY": KEY,
                                       "VODGATE_AUTH_JWT_HS256_SECRET": HS_SECRET,
                                       "VODGATE_VOD_SIGN_KEY": SIGN_KEY})
        cls.emu = vgtest.Daemon(
            ["emulate", "--listen", "127.0.0.1:0", "--tls-listen", "127.0.0.1:0", "--tls-cert",
             cert, "--tls-key", key, "--secret-id", SID, "--data-dir",
             os.path.join(cls.tmp.path, "emu"), "--callback-url",
             f"http://127.0.0.1:{cls.serve.port}/v1/vod/events"],
            env={"VODGATE_VOD_SECRET_KEY": KEY, "VODGATE_VOD_SIGN_KEY": SIGN_KEY})
        cls.tls_port = cls.emu.wait_log(lambda r: "tls_port" in r)["tls_port"]

    @classmethod
    def tearDownClass(cls):
        rc1 = cls.emu.stop()
        rc2 = cls.serve.stop()
        cls.tmp.cleanup()
        assert rc1 == 0 and rc2 == 0, (rc1, rc2)

    def token(self, sub):
        return self.jwtmint.hs256(HS_SECRET, self.jwtmint.claims(sub, iss="https://idp.example",
                                                                 aud="vodgate"))

    def browse(self, sub, extra):
        page = Page(self.serve.port)
        url = (f"{page.base}/page/index.html?sig={page.base}/sig&token={self.token(sub)}"
               f"&result={page.base}/result{extra}")
        T, E = self.tls_port, self.emu.port
        rules = (f"MAP vod2.qcloud.com 127.0.0.1:{T}, MAP vod2.dnsv1.com 127.0.0.1:{T}, "
                 f"MAP vodreport.qcloud.com 127.0.0.1:{T}, MAP *.myqcloud.com 127.0.0.1:{E}, "
                 f"MAP *.tencentcos.cn 127.0.0.1:{E}, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1")
        prof = tempfile.mkdtemp(prefix="vg-chromium-")
        p = subprocess.Popen(["chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                              "--disable-quic", "--no-first-run", "--disable-background-networking",
                              "--disable-component-update", "--disable-sync",
                              "--user-data-dir=" + prof, "--host-resolver-rules=" + rules,
                              "--ignore-certificate-errors", url],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            page.done.wait(90)
        finally:
            p.kill()
            p.wait()
            shutil.rmtree(prof, ignore_errors=True)
            page.close()
        return page

    def ledger(self, sub, upload_id, want, timeout=20):
        return vgtest.wait_upload_state(self.serve.port, self.token(sub), upload_id, want,
                                        timeout)

    def test_sdk_upload_blocked_and_attributed(self):
        page = self.browse("erin", "&size=2621440&marker=block")
        r = page.result
        self.assertIsNotNone(r, "the page reported nothing")
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["signatureErrors"], 0)
        # oneTimeValid policy: every getSignature call got a fresh signature.
        self.assertGreaterEqual(r["getSignatureCalls"], 2)
        u = self.ledger("erin", page.upload_id, "blocked")
        self.assertEqual((u["user"], u["fileId"]), ("erin", r["fileId"]))

    def test_sdk_resumed_upload_passes(self):
        page = self.browse("frank", "&resume=1&size=6000000&chunk=1048576")
        r = page.result
        self.assertIsNotNone(r, "the page reported nothing")
        self.assertTrue(r["ok"], r)
        self.assertTrue(r["cancelled"] and r["resumed"], r)
        u = self.ledger("frank", page.upload_id, "passed")
        self.assertEqual((u["user"], u["fileId"]), ("frank", r["fileId"]))


NODE_SDK = os.path.join(E2E, "node_modules", "tencentcloud-sdk-nodejs-vod")


@unittest.skipIf(not shutil.which("node") or not os.path.isdir(NODE_SDK),
                 "node or tests/e2e/node_modules/tencentcloud-sdk-nodejs-vod missing")
class NodeAPISDK(unittest.TestCase):
    """End-to-end #3 (client half): the official API 3.0 Node SDK pulls and
    confirms the emulator's events (TC3 with the scope service "127" and the
    host signed without its port, as the SDK does with an IP endpoint)."""

    def test_pull_and_confirm_with_the_official_sdk(self):
        import test_emulate as te
        tmp = vgtest.TempDir()
        emu = te.Emu(tmp)
        try:
            fids = []
            for _ in range(2):
                a = emu.ugc("ApplyUploadUGC", {"signature": te.sign("--procedure", "ReviewFlow"),
                                               "videoName": "n", "videoType": "mp4",
                                               "videoSize": 3})
                d = a["data"]
                emu.cos(d, "PUT", d["video"]["storagePath"], body=b"abc")
                c = emu.ugc("CommitUploadUGC", {"signature": te.sign(),
                                                "vodSessionKey": d["vodSessionKey"]})
                fids.append(c["data"]["fileId"])
            env = {"VOD_ENDPOINT": f"127.0.0.1:{emu.port}", "VOD_SECRET_ID": te.SID,
                   "VOD_SECRET_KEY": te.KEY, "PATH": os.environ.get("PATH", "")}
            p = subprocess.run(["node", os.path.join(E2E, "pull_client.js")], env=env,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            rounds = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
            evs = rounds[0]["events"]
            self.assertEqual(sorted(e["EventType"] for e in evs),
                             ["NewFileUpload", "NewFileUpload", "ProcedureStateChanged",
                              "ProcedureStateChanged"])
            self.assertEqual(sorted({e.get("FileUploadEvent", e.get("ProcedureStateChangeEvent"))
                                     ["FileId"] for e in evs}), sorted(fids))
            self.assertEqual(sorted(rounds[0]["confirmed"]), sorted(e["EventHandle"] for e in evs))
            # Confirmed: nothing is delivered again.
            r = emu.api("PullEvents", {})
            self.assertEqual(r["EventSet"], [])
        finally:
            emu.stop()
            tmp.cleanup()


if __name__ == "__main__":
    vgtest.main()
