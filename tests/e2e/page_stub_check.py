#!/usr/bin/env python3
"""Check the e2e page end to end against a throw-away Python stub of the VOD side.

This is NOT the emulator (that is `vodgate emulate`, src/emu): it is the
smallest model of vod2 (over TLS with a self-signed certificate) and of COS
multipart that lets the real vod-js-sdk-v6 complete in headless Chromium, so
the page (page/app.js) and the Chromium recipe can be checked on their own.
Every COS request's q-sign signature is recomputed (the algorithm of
src/emu/cos_auth.h) and counted.

Runs two scenarios: a plain 2.5 MiB upload with the review marker, and a
cancelled then resumed 6 MB upload. Prints TAP. Needs `npm ci` here,
Debian's chromium and the openssl CLI. Python 3 stdlib only.
Usage: tests/e2e/page_stub_check.py
"""
import hashlib
import hmac
import http.server
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse as up

E2E = os.path.dirname(os.path.abspath(__file__))
SK = "STUBSECRETKEY"
BUCKET = "b1a2c3d4vodgzp1500000000"
PATH = "/%s/ea56137b5285891192645132590/YJle8WXv3ynd.mp4" % BUCKET
st = {"uploads": {}, "sigs": 0, "log": [], "result": None, "badsig": 0, "goodsig": 0}
done = threading.Event()
lock = threading.Lock()

def enc(s): return up.quote(s, safe='-_.~')
def cos_sig(method, path, params, headers, kt):
    sk = hmac.new(SK.encode(), kt.encode(), hashlib.sha1).hexdigest()
    ps = '&'.join(enc(k).lower()+'='+enc(v) for k, v in sorted(params.items(), key=lambda kv: enc(kv[0]).lower()))
    hs = '&'.join(enc(k).lower()+'='+enc(v) for k, v in sorted(headers.items(), key=lambda kv: enc(kv[0]).lower()))
    hsx = method.lower()+'\n'+path+'\n'+ps+'\n'+hs+'\n'
    sts = 'sha1\n'+kt+'\n'+hashlib.sha1(hsx.encode()).hexdigest()+'\n'
    return hmac.new(sk.encode(), sts.encode(), hashlib.sha1).hexdigest()

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def cors(self):
        self.send_header("Access-Control-Allow-Origin", self.headers.get("Origin") or "*")
        self.send_header("Access-Control-Allow-Methods", "GET,POST,PUT,HEAD,DELETE,OPTIONS")
        self.send_header("Access-Control-Allow-Headers", self.headers.get("Access-Control-Request-Headers") or "*")
        self.send_header("Access-Control-Expose-Headers", "ETag")
    def reply(self, code, body=b"", ctype="application/json", extra=()):
        self.send_response(code)
        self.cors()
        for k, v in extra: self.send_header(k, v)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def body(self):
        n = int(self.headers.get("Content-Length", "0")); return self.rfile.read(n)
    def host(self): return (self.headers.get("Host") or "").split(":")[0]
    def do_OPTIONS(self): self.reply(204)
    def route(self, method):
        h = self.host(); u = up.urlsplit(self.path)
        with lock: st["log"].append((method, h, self.path[:100]))
        if h.endswith("myqcloud.com") or h.endswith("tencentcos.cn"): return self.cos(method, u)
        if h in ("vod2.qcloud.com", "vod2.dnsv1.com"): return self.ugc(method, u)
        if h == "vodreport.qcloud.com": return self.reply(200, b"{}")
        if u.path == "/sig":
            st["sigs"] += 1
            return self.reply(200, json.dumps({"signature": "STUB-SIG-%d" % st["sigs"]}).encode())
        if u.path == "/result":
            st["result"] = json.loads(self.body()); done.set(); return self.reply(200, b"{}")
        f = os.path.join(E2E, u.path.lstrip("/"))
        if os.path.isfile(f):
            return self.reply(200, open(f, "rb").read(), "text/html" if f.endswith(".html") else "application/javascript")
        self.reply(404, b"")
    def do_GET(self): self.route("GET")
    def do_POST(self): self.route("POST")
    def do_PUT(self): self.route("PUT")
    def do_DELETE(self): self.route("DELETE")
    def ugc(self, method, u):
        q = up.parse_qs(u.query); act = q.get("Action", [""])[0]; b = json.loads(self.body() or b"{}")
        now = int(time.time())
        if act == "ApplyUploadUGC":
            data = {"video": {"storageSignature": "", "storagePath": PATH}, "storageAppId": 1250000000,
                    "storageBucket": BUCKET, "storageRegion": "gzp", "storageRegionV5": "ap-guangzhou",
                    "StorageRegionV5": "ap-guangzhou", "domain": "vod2.qcloud.com", "vodSessionKey": "vsk-stub",
                    "tempCertificate": {"secretId": "AKIDSTUB", "secretKey": SK, "token": "TOK", "expiredTime": now + 3600},
                    "appId": 1500000000, "timestamp": now}
            st["applies"].append(b)
        elif act == "CommitUploadUGC":
            data = {"fileId": "5285891192645132590", "video": {"url": "http://x" + PATH, "verify_content": "v"}}
        else:
            data = {"appId": 1500000000, "cosRegionList": []}
        self.reply(200, json.dumps({"code": 0, "message": "ok", "data": data}).encode())
    def check(self, method, u):
        a = self.headers.get("Authorization", "")
        f = dict(x.split("=", 1) for x in a.split("&"))
        params = {k: v for k, v in up.parse_qsl(u.query, keep_blank_values=True)}
        hdrs = {k: self.headers.get(k) for k in f["q-header-list"].split(";") if k}
        want = cos_sig(method, up.unquote(u.path), params, hdrs, f["q-key-time"])
        ok = hmac.compare_digest(want, f["q-signature"]) and self.headers.get("x-cos-security-token") == "TOK"
        with lock: st["goodsig" if ok else "badsig"] += 1
        return ok
    def cos(self, method, u):
        q = dict(up.parse_qsl(u.query, keep_blank_values=True))
        if not self.check(method, u):
            return self.reply(403, b"<Error><Code>SignatureDoesNotMatch</Code><Message>x</Message><RequestId>r</RequestId></Error>", "application/xml")
        x = '<?xml version="1.0" encoding="UTF-8"?>\n'
        if method == "GET" and "uploads" in q:
            ups = "".join("<Upload><Key>%s</Key><UploadId>%s</UploadId><StorageClass>STANDARD</StorageClass></Upload>" % (k, i)
                          for i, (k, parts) in st["uploads"].items() if k.startswith(q.get("prefix", "")))
            return self.reply(200, (x + "<ListMultipartUploadsResult><IsTruncated>false</IsTruncated>%s</ListMultipartUploadsResult>" % ups).encode(), "application/xml")
        if method == "POST" and "uploads" in q:
            self.body(); uid = "uid%d" % len(st["uploads"]); st["uploads"][uid] = (u.path.lstrip("/"), {})
            return self.reply(200, (x + "<InitiateMultipartUploadResult><UploadId>%s</UploadId></InitiateMultipartUploadResult>" % uid).encode(), "application/xml")
        if method == "PUT" and "partNumber" in q:
            d = self.body(); m = hashlib.md5(d).hexdigest()
            st["uploads"][q["uploadId"]][1][int(q["partNumber"])] = (m, len(d))
            return self.reply(200, b"", "application/xml", [("ETag", '"%s"' % m)])
        if method == "GET" and "uploadId" in q:
            parts = st["uploads"][q["uploadId"]][1]
            ps = "".join("<Part><PartNumber>%d</PartNumber><ETag>&quot;%s&quot;</ETag><Size>%d</Size></Part>" % (n, m, s) for n, (m, s) in sorted(parts.items()))
            return self.reply(200, (x + "<ListPartsResult><IsTruncated>false</IsTruncated>%s</ListPartsResult>" % ps).encode(), "application/xml")
        if method == "POST" and "uploadId" in q:
            body = self.body(); st["complete_body"] = body.decode()
            st["uploads"].pop(q["uploadId"], None)
            return self.reply(200, (x + "<CompleteMultipartUploadResult><Location>l</Location><Bucket>b</Bucket><Key>k</Key><ETag>&quot;e-1&quot;</ETag></CompleteMultipartUploadResult>").encode(), "application/xml")
        if method == "DELETE":
            return self.reply(204)
        self.reply(400, b"")


class Quiet(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the SDK aborts in-flight parts on cancel: broken pipes are expected


def run(mode, certdir):
    st.update({"uploads": {}, "sigs": 0, "log": [], "result": None, "badsig": 0, "goodsig": 0,
               "applies": []})
    done.clear()
    plain = Quiet(("127.0.0.1", 0), H)
    tls = Quiet(("127.0.0.1", 0), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(certdir, "cert.pem"), os.path.join(certdir, "key.pem"))
    tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
    for s in (plain, tls):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    E, T = plain.server_address[1], tls.server_address[1]
    base = "http://127.0.0.1:%d" % E
    extra = "&resume=1&size=6000000&chunk=1048576" if mode == "resume" else "&size=2621440&marker=block"
    url = base + "/page/index.html?sig=%s/sig&token=t&result=%s/result%s" % (base, base, extra)
    prof = tempfile.mkdtemp(prefix="vg-chromium-")
    rules = ("MAP vod2.qcloud.com 127.0.0.1:%d, MAP vod2.dnsv1.com 127.0.0.1:%d, "
             "MAP vodreport.qcloud.com 127.0.0.1:%d, MAP *.myqcloud.com 127.0.0.1:%d, "
             "MAP *.tencentcos.cn 127.0.0.1:%d, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1") % (T, T, T, E, E)
    p = subprocess.Popen(["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                          "--no-first-run", "--disable-background-networking",
                          "--disable-component-update", "--disable-sync", "--user-data-dir=" + prof,
                          "--host-resolver-rules=" + rules, "--ignore-certificate-errors", url],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        done.wait(90)
    finally:
        p.kill()
        p.wait()
        shutil.rmtree(prof, ignore_errors=True)
        plain.shutdown()
        tls.shutdown()
    return st["result"] or {}


def main():
    certdir = tempfile.mkdtemp(prefix="vg-cert-")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    os.path.join(certdir, "key.pem"), "-out", os.path.join(certdir, "cert.pem"),
                    "-days", "1", "-subj", "/CN=vod2.qcloud.com", "-addext",
                    "subjectAltName=DNS:vod2.qcloud.com,DNS:vod2.dnsv1.com,DNS:vodreport.qcloud.com"],
                   check=True, capture_output=True)
    fails = 0
    print("1..4")
    r = run("plain", certdir)
    ok = r.get("ok") is True and r.get("fileId") == "5285891192645132590" and st["badsig"] == 0 \
        and st["goodsig"] >= 6 and r.get("getSignatureCalls") == 2
    print("%s 1 - upload completes, %d COS signatures verified, 0 bad: %s"
          % ("ok" if ok else "not ok", st["goodsig"], json.dumps(r)))
    fails += not ok
    parts = [b for b in [st.get("complete_body", "")] if "CompleteMultipartUpload" in b]
    ok = bool(parts) and len(st["applies"]) == 1 and st["applies"][0].get("videoSize") == 2621440
    print("%s 2 - one Apply with the file fields, one Complete" % ("ok" if ok else "not ok"))
    fails += not ok
    r = run("resume", certdir)
    ok = r.get("ok") is True and r.get("cancelled") and r.get("resumed") and st["badsig"] == 0
    print("%s 3 - cancelled upload resumed and completed: %s" % ("ok" if ok else "not ok", json.dumps(r)))
    fails += not ok
    seq = [m + " " + ("list-parts" if "uploadId=" in pth and m == "GET" else "")
           for m, h, pth in st["log"] if "myqcloud" in h]
    ok = len(st["applies"]) == 2 and set(st["applies"][1]) == {"signature", "vodSessionKey", "uploadFromWeb"} \
        and "GET list-parts" in seq
    print("%s 4 - resume Apply sent only signature + vodSessionKey, then ListParts" % ("ok" if ok else "not ok"))
    fails += not ok
    shutil.rmtree(certdir, ignore_errors=True)
    print("%d passed, %d failed" % (4 - fails, fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
