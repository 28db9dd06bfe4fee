"""A small fake TencentCloud API 3.0 server for the event puller's tests
(stdlib only). It serves PullEvents / ConfirmEvents on 127.0.0.1:0 with
the semantics of spec tencent-vod.md 5.2, and verifies TC3-HMAC-SHA256 on
every request with its own implementation (tc3_signature below, checked
against the spec's section 7 vectors by the tests).

Queue model: every event added with add() is pending. PullEvents hands out
up to 16 pending events (and leased ones whose lease ran out), each with a
NEW EventHandle, leased for `lease` seconds. ConfirmEvents accepts only the
current, unexpired handle of an event and marks it confirmed; anything else
is an InvalidParameter error (as VOD after 30 s). If no event is pending,
PullEvents holds the request up to `hold` seconds (long poll).

Failure injection: push names on `pull_faults` / `confirm_faults` (one per
call, in order): "500" (HTTP 500), "error" (Response.Error
InternalError), "malformed" (a 200 that is not JSON), "delay" (sleep
`delay` seconds before answering: beyond the client timeout), "authcheck"
(not a fault: nothing).

Test hooks: on_confirm(handles_events) is called before a ConfirmEvents is
accepted, with the events being confirmed; it may raise AssertionError to
record a violation (kept in `violations`).
"""
import datetime
import hashlib
import hmac
import http.server
import json
import threading
import time
import uuid


def _sha256_hex(b):
    return hashlib.sha256(b).hexdigest()


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def tc3_signature(secret_key, host, content_type, payload, ts, service):
    """TC3-HMAC-SHA256 of a POST, computed from the spec (section 6)."""
    ct = content_type.strip().lower()
    canonical = "POST\n/\n\ncontent-type:%s\nhost:%s\n\ncontent-type;host\n%s" % (
        ct, host, _sha256_hex(payload))
    date = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%d")
    sts = "TC3-HMAC-SHA256\n%d\n%s/%s/tc3_request\n%s" % (ts, date, service,
                                                        _sha256_hex(canonical.encode()))
    k = _hmac(("TC3" + secret_key).encode(), date)
    k = _hmac(k, service)
    k = _hmac(k, "tc3_request")
    return hmac.new(k, sts.encode(), hashlib.sha256).hexdigest(), date


class FakeVod:
    def __init__(self, secret_id, secret_key, lease=30.0, hold=0.5, delay=4.0):
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.lease = lease
        self.hold = hold
        self.delay = delay
        self.mu = threading.Condition()
        self.events = []        # [{"obj", "state", "handle", "until", "pulls", "confirms"}]
        self.pull_faults = []
        self.confirm_faults = []
        self.auth_failures = []  # reasons
        self.requests = []       # (action, headers dict, body bytes)
        self.confirm_calls = []  # list of handle lists accepted
        self.confirm_rejected = 0
        self.on_confirm = None
        self.violations = []
        self.sub_app_ids = set()
        fake = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                code, out = fake._handle(self.headers, body)
                if isinstance(out, str):
                    out = out.encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self._t = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._t.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    # ---- queue ----
    def add(self, obj):
        """Queue an event object (without EventHandle). Returns its index."""
        with self.mu:
            self.events.append({"obj": obj, "state": "pending", "handle": None, "until": 0,
                                "pulls": 0, "confirms": 0})
            self.mu.notify_all()
            return len(self.events) - 1

    def confirmed(self):
        with self.mu:
            return [e for e in self.events if e["state"] == "confirmed"]

    def wait_all_confirmed(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.mu:
                if all(e["state"] == "confirmed" for e in self.events):
                    return True
            time.sleep(0.05)
        raise AssertionError("not all events confirmed: " + json.dumps(
            [(i, e["state"], e["pulls"]) for i, e in enumerate(self.events)]))

    # ---- protocol ----
    def _error(self, code, msg):
        return 200, json.dumps({"Response": {"Error": {"Code": code, "Message": msg},
                                             "RequestId": str(uuid.uuid4())}})

    def _verify(self, h, body):
        auth = h.get("Authorization", "")
        ts = h.get("X-TC-Timestamp", "")
        host = h.get("Host", "")
        ct = h.get("Content-Type", "")
        if h.get("X-TC-Version") != "2018-07-17":
            return "version"
        if not auth.startswith("TC3-HMAC-SHA256 "):
            return "algorithm"
        parts = dict(p.strip().split("=", 1) for p in auth[len("TC3-HMAC-SHA256 "):].split(","))
        cred = parts.get("Credential", "").split("/")
        if len(cred) != 4 or cred[3] != "tc3_request":
            return "credential"
        if cred[0] != self.secret_id:
            return "secret_id"
        if parts.get("SignedHeaders") != "content-type;host":
            return "signed_headers"
        if not ts.isdigit() or abs(int(ts) - time.time()) > 300:
            return "timestamp"
        want, date = tc3_signature(self.secret_key, host, ct, body, int(ts), cred[2])
        if cred[1] != date or cred[2] != "vod":
            return "scope"
        if not hmac.compare_digest(want, parts.get("Signature", "")):
            return "signature"
        return None

    def _fault(self, faults):
        with self.mu:
            f = faults.pop(0) if faults else None
        if f == "500":
            return 500, '{"message":"internal"}'
        if f == "error":
            return self._error("InternalError", "injected")
        if f == "malformed":
            return 200, '{"Response": {"EventSet": [ oops'
        if f == "delay":
            time.sleep(self.delay)
        return None

    def _handle(self, h, body):
        action = h.get("X-TC-Action", "")
        self.requests.append((action, dict(h), body))
        why = self._verify(h, body)
        if why:
            self.auth_failures.append(why)
            return self._error("AuthFailure.SignatureFailure", why)
        try:
            req = json.loads(body)
        except ValueError:
            return self._error("InvalidParameter", "body")
        if "SubAppId" in req:
            self.sub_app_ids.add(req["SubAppId"])
        if action == "PullEvents":
            f = self._fault(self.pull_faults)
            if f:
                return f
            return 200, json.dumps({"Response": {"EventSet": self._pull(),
                                                 "RequestId": str(uuid.uuid4())}})
        if action == "ConfirmEvents":
            f = self._fault(self.confirm_faults)
            if f:
                return f
            return self._confirm(req.get("EventHandles"))
        return self._error("InvalidAction", action)

    def _available(self, now):
        return [e for e in self.events
                if e["state"] == "pending" or (e["state"] == "leased" and e["until"] < now)]

    def _pull(self):
        deadline = time.time() + self.hold
        with self.mu:
            while True:
                now = time.time()
                av = self._available(now)
                if av or now >= deadline:
                    break
                self.mu.wait(min(0.05, deadline - now))
            out = []
            for e in av[:16]:
                e["state"] = "leased"
                e["handle"] = "h-" + uuid.uuid4().hex
                e["until"] = now + self.lease
                e["pulls"] += 1
                item = dict(e["obj"]) if isinstance(e["obj"], dict) else e["obj"]
                if isinstance(item, dict):
                    item["EventHandle"] = e["handle"]
                out.append(item)
            return out or None

    def _confirm(self, handles):
        if not isinstance(handles, list) or not 1 <= len(handles) <= 16:
            self.confirm_rejected += 1
            return self._error("InvalidParameter", "EventHandles")
        now = time.time()
        with self.mu:
            found = []
            for hd in handles:
                m = [e for e in self.events if e["handle"] == hd and e["state"] == "leased"
                     and e["until"] >= now]
                if not m:
                    self.confirm_rejected += 1
                    return self._error("InvalidParameterValue.EventHandle", "expired")
                found.append(m[0])
            if self.on_confirm:
                try:
                    self.on_confirm([e["obj"] for e in found])
                except AssertionError as ex:
                    self.violations.append(str(ex))
            for e in found:
                e["state"] = "confirmed"
                e["confirms"] += 1
            self.confirm_calls.append(list(handles))
        return 200, json.dumps({"Response": {"RequestId": str(uuid.uuid4())}})
