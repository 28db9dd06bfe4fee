#!/usr/bin/env python3
"""Smoke check of the end-to-end clients, before the emulator exists.

1. Headless Chromium loads page/index.html with the SDK's dist build; the
   VOD and COS hosts resolve to nothing (MAP * ~NOTFOUND), so the upload must
   fail the way the SDK fails on a network error (code 500 after its retries),
   having called getSignature with our bearer token once per Apply attempt,
   and the page must POST that result to us.
2. pull_client.js (tencentcloud-sdk-nodejs-vod) calls PullEvents then
   ConfirmEvents against a stub that checks the X-TC-Action header and the
   TC3 Authorization shape and echoes the handle back.

Needs `npm ci` in this directory and Debian's chromium. Python 3 stdlib only.
Prints TAP. Usage: tests/e2e/smoke.py [--chromium PATH]
"""
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
TOKEN = "smoke-token"


class State:
    def __init__(self):
        self.results = []
        self.sig_auth = []
        self.pull_requests = []
        self.done = threading.Event()


ST = State()


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **kw):
        super().__init__(*a, directory=HERE, **kw)

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/sig"):
            ST.sig_auth.append(self.headers.get("Authorization"))
            if self.headers.get("Authorization") != "Bearer " + TOKEN:
                self.send_response(401)
                self.end_headers()
                return
            body = json.dumps({"signature": "SMOKE-SIGNATURE"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        if self.path == "/result":
            ST.results.append(json.loads(body))
            ST.done.set()
            out = b"{}"
        else:  # API 3.0 stub for pull_client.js
            action = self.headers.get("X-TC-Action")
            ST.pull_requests.append((action, self.headers.get("Authorization", ""),
                                     json.loads(body or b"{}")))
            if action == "PullEvents":
                resp = {"EventSet": [{"EventHandle": "h-1", "EventType": "NewFileUpload",
                                      "FileUploadEvent": {"FileId": "5285890784246869321"}}]}
            else:
                resp = {}
            resp["RequestId"] = "smoke-1"
            out = json.dumps({"Response": resp}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def main():
    chromium = "chromium"
    if len(sys.argv) == 3 and sys.argv[1] == "--chromium":
        chromium = sys.argv[2]
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = srv.server_address[1]
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = "http://127.0.0.1:%d" % port
    failures = 0
    print("1..4")

    prof = tempfile.mkdtemp(prefix="vg-chromium-")
    url = ("%s/page/index.html?sig=%s/sig&token=%s&result=%s/result&size=100000"
           % (base, base, TOKEN, base))
    cmd = [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--user-data-dir=" + prof,
           "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
           "--ignore-certificate-errors", url]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        got = ST.done.wait(90)
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(prof, ignore_errors=True)
    r = ST.results[0] if ST.results else {}
    ok = got and r.get("ok") is False and (r.get("error") or {}).get("code") == 500
    print("%s 1 - page loaded the SDK and reported the network failure: %s"
          % ("ok" if ok else "not ok", json.dumps(r)))
    failures += not ok
    ok = r.get("getSignatureCalls", 0) >= 1 and ST.sig_auth and all(
        a == "Bearer " + TOKEN for a in ST.sig_auth) and len(ST.sig_auth) == r["getSignatureCalls"]
    print("%s 2 - getSignature fetched with the bearer token (%d calls)"
          % ("ok" if ok else "not ok", len(ST.sig_auth)))
    failures += not ok

    env = dict(os.environ, VOD_ENDPOINT="127.0.0.1:%d" % port, VOD_SECRET_ID="AKIDsmoke",
               VOD_SECRET_KEY="smoke-key")
    p = subprocess.run(["node", os.path.join(HERE, "pull_client.js")], env=env,
                       capture_output=True, text=True, timeout=60)
    line = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else {}
    ok = p.returncode == 0 and line.get("confirmed") == ["h-1"]
    print("%s 3 - pull_client pulled and confirmed: %s" % ("ok" if ok else "not ok", p.stdout.strip()))
    failures += not ok
    acts = [a for a, _, _ in ST.pull_requests]
    auth_ok = all(x.startswith("TC3-HMAC-SHA256 Credential=AKIDsmoke/") and "/127/tc3_request" in x
                  for _, x, _ in ST.pull_requests)
    ok = acts == ["PullEvents", "ConfirmEvents"] and auth_ok and \
        ST.pull_requests[1][2] == {"EventHandles": ["h-1"]}
    print("%s 4 - API 3.0 requests: actions %s, TC3 scope service 127" % ("ok" if ok else "not ok", acts))
    failures += not ok
    srv.shutdown()
    print("%d passed, %d failed" % (4 - failures, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
