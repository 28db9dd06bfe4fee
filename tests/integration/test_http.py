"""vodgate serve: the HTTP layer, end to end, against the real daemon.

Test-only routes (VODGATE_TEST_ROUTES=1): GET /test/slow?ms=N sleeps on a
worker thread; POST /test/echo (body limit 1024) answers the body length.
"""
import http.client
import json
import os
import signal
import socket
import threading
import time
import unittest

import vgtest

BASE_INI = """
[server]
listen = 127.0.0.1:0
threads = 4
header_timeout = 1
drain_timeout = 10
cors_origins = https://app.example, https://other.example
"""


def raw(port, data, timeout=5.0):
    """Send raw bytes, return everything the server sends until it closes
    or stays silent for `timeout`."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
            if b"\r\n\r\n" in out:
                head, _, body = out.partition(b"\r\n\r\n")
                cl = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
                if cl and len(body) >= int(cl[0].split(b":")[1]):
                    break
    except socket.timeout:
        pass
    s.close()
    return out


def status_of(resp):
    return int(resp.split(b" ", 2)[1]) if resp.startswith(b"HTTP/1.") else None


def body_of(resp):
    return json.loads(resp.partition(b"\r\n\r\n")[2])


class Base(unittest.TestCase):
    ini = BASE_INI
    env = {"VODGATE_TEST_ROUTES": "1"}

    def setUp(self):
        self.tmp = vgtest.TempDir()
        self.cfg = self.tmp.file("vodgate.ini", self.ini)
        self.d = vgtest.Daemon(["serve", "--config", self.cfg], env=self.env)

    def tearDown(self):
        rc = self.d.stop()
        self.tmp.cleanup()
        # Exit 0 after SIGTERM; under ASan a leak or error makes this fail.
        self.assertEqual(rc, 0, "\n".join(self.d.logs[-30:]))

    def conn(self):
        return http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=10)

    def threads_seen(self, n=32):
        """The HTTP threads (ids) that answered n fresh connections."""
        conns = [self.conn() for _ in range(n)]
        tids = set()
        for c in conns:
            r, data = self.req("GET", "/test/thread", conn=c)
            self.assertEqual(r.status, 200)
            tids.add(json.loads(data)["thread"])
        for c in conns:
            c.close()
        return tids

    def req(self, method, path, body=None, headers=None, conn=None):
        c = conn or self.conn()
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        return r, data

    def assert_error(self, r, data, status, code):
        self.assertEqual(r.status, status, data)
        self.assertEqual(r.getheader("Content-Type"), "application/json")
        j = json.loads(data)
        self.assertEqual(sorted(j), ["code", "message", "requestId"])
        self.assertEqual(j["code"], code)
        self.assertEqual(j["requestId"], r.getheader("X-Request-Id"))
        return j


class Endpoints(Base):
    def test_healthz(self):
        r, data = self.req("GET", "/healthz")
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(data), {"status": "ok"})
        self.assertEqual(r.getheader("Cache-Control"), "no-store")

    def test_readyz(self):
        r, data = self.req("GET", "/readyz")
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(data), {"status": "ready"})

    def test_metrics(self):
        self.req("GET", "/healthz")
        self.req("GET", "/nowhere")
        r, data = self.req("GET", "/metrics")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.getheader("Content-Type").startswith("text/plain; version=0.0.4"))
        text = data.decode()
        self.assertIn('vodgate_http_requests_total{route="healthz",status="200"} 1\n', text)
        self.assertIn('vodgate_http_requests_total{route="none",status="404"} 1\n', text)
        self.assertIn('vodgate_http_request_duration_seconds_bucket{route="healthz",le="+Inf"} 1\n',
                      text)
        self.assertIn('vodgate_http_request_duration_seconds_count{route="healthz"} 1\n', text)
        self.assertIn("# TYPE vodgate_http_request_duration_seconds histogram\n", text)

    def test_not_found(self):
        r, data = self.req("GET", "/v1/nothing?x=1")
        j = self.assert_error(r, data, 404, 4040)
        self.assertEqual(j["message"], "not found")

    def test_method_not_allowed(self):
        r, data = self.req("DELETE", "/healthz")
        self.assert_error(r, data, 405, 4050)
        self.assertEqual(r.getheader("Allow"), "GET")

    def test_head_is_get(self):
        r, data = self.req("HEAD", "/healthz")
        self.assertEqual(r.status, 200)
        self.assertEqual(data, b"")

    def test_request_id_generated(self):
        r, _ = self.req("GET", "/healthz")
        rid = r.getheader("X-Request-Id")
        self.assertRegex(rid, r"^[0-9a-f]{32}$")
        r2, _ = self.req("GET", "/healthz")
        self.assertNotEqual(rid, r2.getheader("X-Request-Id"))

    def test_request_id_kept_when_sane(self):
        r, _ = self.req("GET", "/healthz", headers={"X-Request-Id": "abc-123.XYZ_9"})
        self.assertEqual(r.getheader("X-Request-Id"), "abc-123.XYZ_9")
        self.d.wait_log(lambda x: x.get("msg") == "request" and x.get("request_id") == "abc-123.XYZ_9")

    def test_request_id_replaced_when_not_sane(self):
        for bad in ["a b", "x" * 65, "<script>", "a\"b"]:
            r, _ = self.req("GET", "/healthz", headers={"X-Request-Id": bad})
            self.assertRegex(r.getheader("X-Request-Id"), r"^[0-9a-f]{32}$", bad)

    def test_body_at_limit_accepted(self):
        r, data = self.req("POST", "/test/echo", body=b"a" * 1024)
        self.assertEqual(r.status, 200, data)
        self.assertEqual(json.loads(data)["len"], 1024)

    def test_oversized_body_413_and_keeps_serving(self):
        r, data = self.req("POST", "/test/echo", body=b"a" * 1025)
        self.assert_error(r, data, 413, 4130)
        # A huge declared body is refused from the headers alone, before the
        # body is read (a client that keeps sending then sees the close).
        resp = raw(self.d.port, b"POST /test/echo HTTP/1.1\r\nHost: x\r\n"
                   b"Content-Length: 10000000000\r\n\r\n" + b"a" * 1000)
        self.assertEqual(status_of(resp), 413, resp)
        self.assertEqual(body_of(resp)["code"], 4130)
        r, _ = self.req("GET", "/healthz")
        self.assertEqual(r.status, 200)

    def test_oversized_chunked_body_413(self):
        body = b"".join(b"100\r\n" + b"b" * 256 + b"\r\n" for _ in range(8)) + b"0\r\n\r\n"
        resp = raw(self.d.port, b"POST /test/echo HTTP/1.1\r\nHost: x\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n" + body)
        self.assertEqual(status_of(resp), 413, resp)
        self.assertEqual(body_of(resp)["code"], 4130)

    def test_chunked_body_within_limit(self):
        resp = raw(self.d.port, b"POST /test/echo HTTP/1.1\r\nHost: x\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n")
        self.assertEqual(status_of(resp), 200, resp)
        self.assertEqual(body_of(resp)["len"], 8)

    def test_json_body_helper(self):
        r, data = self.req("POST", "/test/json", body=b'{"procedure":"p","n":[1,{"a":null}]}')
        self.assertEqual(r.status, 200, data)
        self.assertEqual(json.loads(data), {"got": {"procedure": "p", "n": [1, {"a": None}]}})
        r, data = self.req("POST", "/test/json", body=b"")
        self.assertEqual(json.loads(data), {"got": None})
        for body, msg in [(b'{"a":1', "invalid JSON"), (b'[1]', "JSON body must be an object"),
                          (b'{"a":1,"a":2}', "duplicate"), (b'{"a":1} x', "invalid JSON"),
                          (b'{"a":"\xff"}', "invalid JSON"),
                          (b'{"a":' * 40 + b'1' + b'}' * 40, "nested too deeply")]:
            r, data = self.req("POST", "/test/json", body=body)
            j = self.assert_error(r, data, 400, 4000)
            self.assertIn(msg, j["message"], body)

    def test_body_on_bodyless_route_413(self):
        r, data = self.req("GET", "/healthz", body=b"x")
        self.assert_error(r, data, 413, 4130)

    def test_many_concurrent_connections(self):
        n, per = 100, 5
        results = []
        lock = threading.Lock()
        start = threading.Barrier(n)

        def worker():
            c = self.conn()
            start.wait()
            ok = 0
            for _ in range(per):
                c.request("GET", "/healthz")
                r = c.getresponse()
                r.read()
                ok += r.status == 200
            c.close()
            with lock:
                results.append(ok)

        ts = [threading.Thread(target=worker) for _ in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
        self.assertEqual(results, [per] * n)


class Framing(Base):
    """Requests MHD 0.9.75 itself accepts (STACK.md 3.3); vodgate refuses
    them with 400 and closes the connection."""

    def check(self, request, reason):
        resp = raw(self.d.port, request)
        self.assertEqual(status_of(resp), 400, resp)
        j = body_of(resp)
        self.assertEqual(j["code"], 4000)
        self.assertEqual(j["message"], reason)
        self.assertIn(b"\r\nConnection: close\r\n", resp.partition(b"\r\n\r\n")[0])
        r, _ = self.req("GET", "/healthz")
        self.assertEqual(r.status, 200)

    def test_duplicate_content_length(self):
        self.check(b"POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                   b"Content-Length: 10\r\n\r\nhello", "more than one Content-Length")

    def test_same_content_length_twice(self):
        self.check(b"POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                   b"Content-Length: 5\r\n\r\nhello", "more than one Content-Length")

    def test_content_length_with_transfer_encoding(self):
        self.check(b"POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                   "Content-Length together with Transfer-Encoding")

    def test_space_before_colon(self):
        self.check(b"POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\nhello",
                   "whitespace in a header name")

    def test_tab_before_colon(self):
        self.check(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Foo\t: 1\r\n\r\n",
                   "whitespace in a header name")

    def test_space_inside_header_name(self):
        self.check(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX Foo: 1\r\n\r\n",
                   "whitespace in a header name")

    def test_bad_transfer_encoding(self):
        self.check(b"POST /test/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n"
                   b"5\r\nhello\r\n0\r\n\r\n", "unsupported Transfer-Encoding (only chunked)")

    def test_transfer_encoding_list(self):
        self.check(b"POST /test/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                   b"5\r\nhello\r\n0\r\n\r\n", "unsupported Transfer-Encoding (only chunked)")

    def test_two_transfer_encodings(self):
        self.check(b"POST /test/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
                   "more than one Transfer-Encoding")

    def test_plus_content_length(self):
        resp = raw(self.d.port, b"POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello")
        self.assertEqual(status_of(resp), 400, resp)

    def test_nul_in_url(self):
        # MHD would decode %00 and cut the path short ("/healthz%00x" ->
        # "/healthz"); vodgate refuses it.
        for target in [b"/healthz%00x", b"/healthz?x=%00", b"/healthz?%00=1"]:
            resp = raw(self.d.port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(status_of(resp), 400, target)
            self.assertEqual(body_of(resp)["code"], 4000)
        r, _ = self.req("GET", "/healthz?x=%41")
        self.assertEqual(r.status, 200)

    def test_huge_headers_431(self):
        resp = raw(self.d.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" +
                   b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 200) for i in range(200)) + b"\r\n")
        self.assertEqual(status_of(resp), 431, resp)
        r, _ = self.req("GET", "/healthz")
        self.assertEqual(r.status, 200)

    def test_huge_url_414(self):
        resp = raw(self.d.port, b"GET /" + b"a" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(status_of(resp), 414, resp)

    def test_missing_host(self):
        resp = raw(self.d.port, b"GET /healthz HTTP/1.1\r\n\r\n")
        self.assertEqual(status_of(resp), 400, resp)


class SlowClients(Base):
    def test_slow_headers_cut_off_while_others_served(self):
        s = socket.create_connection(("127.0.0.1", self.d.port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Drip: ")
        closed = False
        served = 0
        # Drip a header byte every 0.1 s for up to 30 s; header_timeout is 1 s.
        for i in range(300):
            try:
                s.sendall(b"a" if i % 20 else b"\r\nX-Drip: ")
            except OSError:
                closed = True
                break
            s.settimeout(0.1)
            try:
                if s.recv(1024) == b"":
                    closed = True
                    break
            except socket.timeout:
                pass
            except OSError:
                closed = True
                break
            if i % 10 == 0:
                r, _ = self.req("GET", "/healthz")
                served += r.status == 200
        s.close()
        self.assertTrue(closed, "slow-header connection was not closed")
        self.assertGreaterEqual(served, 1)
        self.d.wait_log(lambda x: "request headers not complete" in x.get("msg", ""))
        r, data = self.req("GET", "/metrics")
        self.assertIn(b"vodgate_http_header_timeouts_total 1\n", data)

    def test_idle_keepalive_connection_survives_header_timeout(self):
        c = self.conn()
        r, _ = self.req("GET", "/healthz", conn=c)
        sock = c.sock
        # Longer than header_timeout (1 s) but shorter than timeout (30 s).
        time.sleep(1.6)
        r, _ = self.req("GET", "/healthz", conn=c)
        self.assertEqual(r.status, 200)
        self.assertIs(c.sock, sock)
        c.close()


class SlowBody(Base):
    ini = BASE_INI + "timeout = 2\n"

    def test_slow_body_cut_off(self):
        s = socket.create_connection(("127.0.0.1", self.d.port))
        s.sendall(b"POST /test/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        closed = False
        for _ in range(300):  # one body byte every 0.1 s: 30 s for 300 bytes
            try:
                s.sendall(b"a")
            except OSError:
                closed = True
                break
            s.settimeout(0.1)
            try:
                if s.recv(1024) == b"":
                    closed = True
                    break
            except socket.timeout:
                pass
            except OSError:
                closed = True
                break
        s.close()
        self.assertTrue(closed, "slow-body connection was not closed")
        self.d.wait_log(lambda x: "request body not complete" in x.get("msg", ""))
        r, _ = self.req("GET", "/healthz")
        self.assertEqual(r.status, 200)


class LoopbackPerIpDefault(Base):
    """On a loopback address every client is this host (the proxy in front):
    the default per-IP limit (128) is not applied unless set, so 140
    connections at once from 127.0.0.1 are all served."""

    def test_more_than_the_default_from_one_address(self):
        held = [self.conn() for _ in range(140)]
        try:
            for c in held:
                r, _ = self.req("GET", "/healthz", conn=c)
                self.assertEqual(r.status, 200)
        finally:
            for c in held:
                c.close()
        self.d.wait_log(lambda x: "per_ip_connections not applied on the loopback address"
                        in x.get("msg", ""))


class PerIpLimit(Base):
    ini = BASE_INI + "per_ip_connections = 3\n"

    def test_fourth_connection_refused(self):
        held = [self.conn() for _ in range(3)]
        for c in held:
            r, _ = self.req("GET", "/healthz", conn=c)
            self.assertEqual(r.status, 200)
        extra = self.conn()
        with self.assertRaises((ConnectionError, http.client.RemoteDisconnected, OSError)):
            self.req("GET", "/healthz", conn=extra)
        held[0].close()
        time.sleep(0.2)  # let the server see the close before the next connect
        for _ in range(50):
            try:
                r, _ = self.req("GET", "/healthz")
                break
            except (ConnectionError, http.client.RemoteDisconnected, OSError):
                time.sleep(0.1)
        self.assertEqual(r.status, 200)
        for c in held[1:]:
            c.close()

    def test_counts_follow_closes(self):
        # Connections opened and closed many times over the four threads:
        # the count of the address goes back down each time (a count that
        # leaked would refuse a connection within the limit).
        for _ in range(15):
            held = [self.conn() for _ in range(3)]
            for c in held:
                r, _ = self.req("GET", "/healthz", conn=c)
                self.assertEqual(r.status, 200)
            for c in held:
                c.close()
            time.sleep(0.05)
        deadline = time.time() + 5
        while True:
            held = [self.conn() for _ in range(3)]
            try:
                for c in held:
                    r, _ = self.req("GET", "/healthz", conn=c)
                    self.assertEqual(r.status, 200)
                break
            except (ConnectionError, http.client.RemoteDisconnected, OSError):
                # the server may not have seen the last closes yet
                for c in held:
                    c.close()
                self.assertLess(time.time(), deadline, "3 connections refused after closes")
                time.sleep(0.1)
        extra = self.conn()
        with self.assertRaises((ConnectionError, http.client.RemoteDisconnected, OSError)):
            self.req("GET", "/healthz", conn=extra)
        for c in held:
            c.close()


class Threads(Base):
    """One listening socket per HTTP thread (SO_REUSEPORT): connections are
    spread by the kernel, not taken by whichever thread wakes first; and
    another server cannot join the port."""

    def test_connections_spread_over_threads(self):
        seen = self.threads_seen()
        # 4 threads: all 32 on one of them has a chance of 4^-31.
        self.assertGreaterEqual(len(seen), 2, seen)

    def test_second_server_on_the_port_is_refused(self):
        cfg = self.tmp.file("other.ini", BASE_INI.replace("127.0.0.1:0", f"127.0.0.1:{self.d.port}")
                            + f"db = {self.tmp.path}/other.db\ndata_dir = {self.tmp.path}/other\n")
        p = vgtest.run(["serve", "--config", cfg], timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(f"cannot listen on 127.0.0.1:{self.d.port}", p.stderr)
        r, _ = self.req("GET", "/healthz")
        self.assertEqual(r.status, 200)


def cpus_allowed(pid, tid):
    """The CPUs a thread may run on, from /proc (a set of ints)."""
    with open(f"/proc/{pid}/task/{tid}/status") as f:
        for line in f:
            if line.startswith("Cpus_allowed_list:"):
                out = set()
                for part in line.split(":", 1)[1].strip().split(","):
                    lo, _, hi = part.partition("-")
                    out.update(range(int(lo), int(hi or lo) + 1))
                return out
    raise AssertionError("no Cpus_allowed_list")


class CpuAffinity(Base):
    """[server] cpu_affinity: each HTTP thread on one CPU of the process's
    set (thread i on the i-th, modulo), named vg-http-N; off leaves them
    free."""
    ini = BASE_INI + "cpu_affinity = on\n"

    def test_each_thread_on_one_cpu(self):
        allowed = os.sched_getaffinity(0)
        tids = self.threads_seen()
        self.assertGreaterEqual(len(tids), 2, tids)
        used = set()
        for tid in tids:
            cpus = cpus_allowed(self.d.proc.pid, tid)
            self.assertEqual(len(cpus), 1, (tid, cpus))
            self.assertTrue(cpus <= allowed, (cpus, allowed))
            used |= cpus
            with open(f"/proc/{self.d.proc.pid}/task/{tid}/comm") as f:
                self.assertRegex(f.read().strip(), r"^vg-http-[0-3]$")
        # 4 threads over the CPUs in turn: more than one CPU when there are
        self.assertEqual(len(used) > 1, len(allowed) > 1 and len(tids) > 1, used)

    def test_off_leaves_threads_free(self):
        self.d.stop()
        self.cfg = self.tmp.file("vodgate.ini", BASE_INI + "cpu_affinity = off\n")
        self.d = vgtest.Daemon(["serve", "--config", self.cfg], env=self.env)
        for tid in self.threads_seen():
            self.assertEqual(cpus_allowed(self.d.proc.pid, tid), os.sched_getaffinity(0))


class ConnectionLimit(Base):
    # One worker thread: libmicrohttpd splits max_connections between the
    # workers of its pool, so the limit is exact only with one.
    ini = BASE_INI.replace("threads = 4", "threads = 1") + "per_ip_connections = 0\nmax_connections = 3\n"

    def test_connection_over_limit_waits_for_a_slot(self):
        held = [self.conn() for _ in range(3)]
        for c in held:
            r, _ = self.req("GET", "/healthz", conn=c)
            self.assertEqual(r.status, 200)
        # At the limit the server stops accepting: the 4th connection stays
        # in the kernel's backlog and gets no answer...
        s = socket.create_connection(("127.0.0.1", self.d.port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(1.0)
        with self.assertRaises(socket.timeout):
            s.recv(100)
        # ...until a slot frees.
        held[0].close()
        s.settimeout(10)
        self.assertEqual(status_of(s.recv(100)), 200)
        s.close()
        for c in held[1:]:
            c.close()


class Cors(Base):
    def preflight(self, origin, method="POST", path="/test/echo"):
        return self.req("OPTIONS", path, headers={
            "Origin": origin, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type"})

    def test_preflight_allowed(self):
        r, data = self.preflight("https://app.example")
        self.assertEqual(r.status, 204, data)
        self.assertEqual(data, b"")
        self.assertEqual(r.getheader("Access-Control-Allow-Origin"), "https://app.example")
        self.assertEqual(r.getheader("Access-Control-Allow-Methods"), "GET, POST, OPTIONS")
        allow = [h.strip() for h in r.getheader("Access-Control-Allow-Headers").split(",")]
        self.assertIn("authorization", allow)
        self.assertIn("content-type", allow)
        self.assertEqual(r.getheader("Access-Control-Max-Age"), "600")
        self.assertEqual(r.getheader("Vary"), "Origin")

    def test_preflight_refused(self):
        r, data = self.preflight("https://evil.example")
        self.assert_error(r, data, 403, 4030)
        self.assertIsNone(r.getheader("Access-Control-Allow-Origin"))

    def test_preflight_unknown_path_404(self):
        r, data = self.preflight("https://app.example", path="/nowhere")
        self.assert_error(r, data, 404, 4040)

    def test_simple_request_allowed_origin(self):
        r, _ = self.req("GET", "/healthz", headers={"Origin": "https://other.example"})
        self.assertEqual(r.getheader("Access-Control-Allow-Origin"), "https://other.example")
        self.assertEqual(r.getheader("Access-Control-Expose-Headers"), "X-Request-Id")
        self.assertEqual(r.getheader("Vary"), "Origin")

    def test_simple_request_other_origin(self):
        r, _ = self.req("GET", "/healthz", headers={"Origin": "https://evil.example"})
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.getheader("Access-Control-Allow-Origin"))
        self.assertEqual(r.getheader("Vary"), "Origin")


class NoCors(Base):
    ini = BASE_INI.replace("cors_origins = https://app.example, https://other.example\n", "")

    def test_no_cors_headers_and_no_vary(self):
        self.assertNotIn("cors_origins", self.ini)
        r, _ = self.req("GET", "/healthz", headers={"Origin": "https://app.example"})
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.getheader("Access-Control-Allow-Origin"))
        self.assertIsNone(r.getheader("Vary"))
        self.assertEqual(r.getheader("Cache-Control"), "no-store")
        r, data = self.req("OPTIONS", "/healthz", headers={
            "Origin": "https://app.example", "Access-Control-Request-Method": "GET"})
        self.assert_error(r, data, 403, 4030)


class CorsAny(Base):
    ini = BASE_INI.replace("cors_origins = https://app.example, https://other.example",
                           "cors_origins = *")

    def test_star(self):
        r, _ = self.req("OPTIONS", "/healthz", headers={
            "Origin": "https://anything.example", "Access-Control-Request-Method": "GET"})
        self.assertEqual(r.status, 204)
        self.assertEqual(r.getheader("Access-Control-Allow-Origin"), "*")


class Logging(Base):
    def test_request_line_fields_and_no_secrets(self):
        token = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0LXRva2Vu.SIGNATURE-xyz-1234"
        r, data = self.req("POST", "/test/echo?access_token=querysecret42", body=b"{}",
                           headers={"Authorization": "Bearer " + token, "X-Request-Id": "log-test-1"})
        self.assertEqual(r.status, 200)
        self.assertTrue(json.loads(data)["authorization"])
        rec = self.d.wait_log(lambda x: x.get("request_id") == "log-test-1")
        self.assertEqual(rec["msg"], "request")
        self.assertEqual(rec["method"], "POST")
        self.assertEqual(rec["path"], "/test/echo")
        self.assertEqual(rec["status"], 200)
        self.assertEqual(rec["bytes"], len(data))
        self.assertEqual(rec["remote"], "127.0.0.1")
        self.assertIsInstance(rec["duration_ms"], (int, float))
        self.assertEqual(rec["level"], "info")
        r, _ = self.req("GET", "/nowhere", headers={"Authorization": "Bearer " + token})
        self.d.wait_log(lambda x: x.get("path") == "/nowhere")
        for line in self.d.logs:
            self.assertNotIn("SIGNATURE-xyz", line)
            self.assertNotIn("querysecret42", line)
            self.assertNotIn("Bearer", line)


class Reload(Base):
    def test_sighup_changes_cors_and_log_level_keeps_connections(self):
        c = self.conn()
        r, _ = self.req("GET", "/healthz", conn=c)
        sock = c.sock
        r, _ = self.req("OPTIONS", "/healthz", headers={
            "Origin": "https://new.example", "Access-Control-Request-Method": "GET"})
        self.assertEqual(r.status, 403)
        with open(self.cfg, "w") as f:
            f.write(BASE_INI.replace("https://other.example", "https://new.example")
                    + "log_level = warn\n")
        self.d.signal(signal.SIGHUP)
        self.d.wait_log(lambda x: x.get("msg") == "configuration reloaded")
        r, _ = self.req("OPTIONS", "/healthz", headers={
            "Origin": "https://new.example", "Access-Control-Request-Method": "GET"}, conn=c)
        self.assertEqual(r.status, 204)
        self.assertEqual(r.getheader("Access-Control-Allow-Origin"), "https://new.example")
        self.assertIs(c.sock, sock, "connection was dropped by the reload")
        # log_level = warn: request lines (info) are no longer written.
        r, _ = self.req("GET", "/healthz", headers={"X-Request-Id": "after-reload"}, conn=c)
        self.assertEqual(r.status, 200)
        r, data = self.req("GET", "/metrics", conn=c)
        self.assertIn(b'vodgate_config_reloads_total{result="ok"} 1\n', data)
        self.d.stop()
        self.assertFalse(any(x.get("request_id") == "after-reload" for x in self.d.records()))
        c.close()

    def test_bad_config_on_reload_keeps_old(self):
        with open(self.cfg, "w") as f:
            f.write(BASE_INI.replace("https://other.example", "https://new.example")
                    + "threads = lots\n")
        self.d.signal(signal.SIGHUP)
        rec = self.d.wait_log(lambda x: "reload failed" in x.get("msg", ""))
        self.assertIn("[server] threads", rec["msg"])
        self.assertIn("vodgate.ini:8", rec["msg"])
        self.assertEqual(rec["level"], "error")
        r, _ = self.req("OPTIONS", "/healthz", headers={
            "Origin": "https://other.example", "Access-Control-Request-Method": "GET"})
        self.assertEqual(r.status, 204)
        r, _ = self.req("OPTIONS", "/healthz", headers={
            "Origin": "https://new.example", "Access-Control-Request-Method": "GET"})
        self.assertEqual(r.status, 403)
        r, data = self.req("GET", "/metrics")
        self.assertIn(b'vodgate_config_reloads_total{result="failed"} 1\n', data)


class Drain(Base):
    def test_signals_blocked_in_every_thread(self):
        """SIGTERM, SIGINT and SIGHUP are blocked in every thread but the
        main one (which takes them in its sigtimedwait): a thread that did not
        block SIGTERM would take it whenever the main thread was elsewhere,
        and the process would die of it instead of draining (seen as exit
        status -15 under ASan, the log thread having started before the
        mask was set)."""
        pid = self.d.proc.pid
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid]
        self.assertGreaterEqual(len(tids), 4, tids)  # HTTP threads, writer, logger, ...
        for tid in tids:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            want = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
            self.assertTrue(want <= vgtest.sig_blocked(pid, tid), (name, vgtest.sig_blocked(pid, tid)))

    def test_sigterm_completes_in_flight_request_and_exits_0(self):
        keep = self.conn()
        r, _ = self.req("GET", "/readyz", conn=keep)
        self.assertEqual(r.status, 200)
        out = {}

        def slow():
            try:
                out["r"] = self.req("GET", "/test/slow?ms=1500")
            except Exception as e:  # noqa: BLE001 - reported below
                out["e"] = e

        t = threading.Thread(target=slow)
        t.start()
        self.d.wait_log(lambda x: x.get("msg", "").startswith("test_slow: started"))
        self.d.signal(signal.SIGTERM)
        self.d.wait_log(lambda x: x.get("msg") == "draining")
        # While draining, an existing connection sees /readyz fail.
        r, data = self.req("GET", "/readyz", conn=keep)
        self.assert_error(r, data, 503, 5030)
        self.assertEqual(r.getheader("Connection"), "close")
        t.join(30)
        self.assertNotIn("e", out)
        r, data = out["r"]
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(data), {"slept_ms": 1500})
        self.assertEqual(self.d.wait(), 0)
        self.assertTrue(any(x.get("msg") == "stopped" for x in self.d.records()))

    def test_new_connections_refused_after_sigterm(self):
        t = threading.Thread(target=lambda: self.req("GET", "/test/slow?ms=1500"))
        t.start()
        self.d.wait_log(lambda x: x.get("msg", "").startswith("test_slow: started"))
        self.d.signal(signal.SIGTERM)
        self.d.wait_log(lambda x: x.get("msg") == "draining")
        with self.assertRaises(OSError):
            self.req("GET", "/healthz")
        t.join(30)
        self.assertEqual(self.d.wait(), 0)


class DrainTimeout(Base):
    ini = BASE_INI.replace("drain_timeout = 10", "drain_timeout = 1")

    def test_drain_timeout_bounds_shutdown(self):
        out = {}

        def slow():
            try:
                out["r"] = self.req("GET", "/test/slow?ms=8000")
            except Exception as e:  # noqa: BLE001 - the server cuts it
                out["e"] = e

        t = threading.Thread(target=slow)
        t.start()
        self.d.wait_log(lambda x: x.get("msg", "").startswith("test_slow: started"))
        self.d.signal(signal.SIGTERM)
        # Exits 0 once the 1 s drain timeout has passed, long before the
        # handler's 8 s; the request gets no answer.
        self.assertEqual(self.d.wait(timeout=7), 0)
        self.d.wait_log(lambda x: "drain timeout" in x.get("msg", ""))
        t.join(30)
        self.assertIn("e", out)


class NoTestRoutes(unittest.TestCase):
    def test_test_routes_off_by_default(self):
        tmp = vgtest.TempDir()
        try:
            cfg = tmp.file("v.ini", BASE_INI)
            d = vgtest.Daemon(["serve", "--config", cfg])
            try:
                c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
                c.request("GET", "/test/slow?ms=0")
                self.assertEqual(c.getresponse().status, 404)
            finally:
                self.assertEqual(d.stop(), 0)
        finally:
            tmp.cleanup()


if __name__ == "__main__":
    vgtest.main()
