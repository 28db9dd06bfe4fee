#!/usr/bin/env python3
"""Webhook delivery benchmark (docs/benchmarks.md, "Webhook delivery").

How fast the forwarder drains a backlog of outbox rows into a receiver
that takes LATENCY milliseconds to answer each webhook (an app's endpoint
across a network), for each [webhook] concurrency given, in one run; the
reference peer is concurrency 1 (one delivery at a time, as vodgate did
before `concurrency` existed), and each result is reported as a ratio to
it. --peer OLD_BINARY adds an older vodgate (its ini without the
`concurrency` key) to the same run.

Each round: a fresh database; `vodgate serve` in push mode without a
webhook secret takes EVENTS NewFileUpload events (the forwarder does not
run, so the rows wait in the outbox); it stops; `vodgate serve` with the
secret starts, and the time from its "listening" line to the receiver's
EVENTS-th delivery is measured. The receiver is asyncio (one thread, any
number of keep-alive connections), answers 204 after LATENCY ms, and
counts each webhook-id once.

Usage: bench/webhook.py [path/to/vodgate] [--events N] [--latency MS]
                        [--concurrency 1,8,32] [--rounds R] [--peer OLD]
"""
import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = "whsec_" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="


class Receiver:
    def __init__(self, latency_ms):
        self.latency = latency_ms / 1000.0
        self.ids = set()
        self.max_conns = 0
        self.conns = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        threading.Thread(target=self._run, daemon=True).start()
        self.ready.wait()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._conn, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    async def _conn(self, r, w):
        self.conns += 1
        self.max_conns = max(self.max_conns, self.conns)
        try:
            while True:
                head = await r.readuntil(b"\r\n\r\n")
                n, wid = 0, None
                for line in head.split(b"\r\n"):
                    k, _, v = line.partition(b":")
                    if k.lower() == b"content-length":
                        n = int(v)
                    elif k.lower() == b"webhook-id":
                        wid = v.strip()
                await r.readexactly(n)
                await asyncio.sleep(self.latency)
                self.ids.add(wid)
                w.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await w.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.conns -= 1
            w.close()

    def reset(self):
        self.ids = set()
        self.max_conns = 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def serve(binary, ini, env):
    p = subprocess.Popen([binary, "serve", "--config", ini], env=env, stderr=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, text=True)
    for line in p.stderr:
        if '"msg":"listening"' in line:
            t = time.monotonic()
            threading.Thread(target=lambda: [None for _ in p.stderr], daemon=True).start()
            return p, t
    raise SystemExit("vodgate serve did not start")


def fill(base, n):
    body = ('{"EventType":"NewFileUpload","FileUploadEvent":{"FileId":"%s",'
            '"MediaBasicInfo":{"Name":"c","Type":"mp4"}}}')
    for i in range(n):
        req = urllib.request.Request(base + "/v1/vod/events",
                                     data=(body % ("5285890%012d" % i)).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            r.read()


def one(binary, rx, conc, events, latency):
    tmp = tempfile.mkdtemp(prefix="vg-bench-wh-")
    try:
        port = free_port()
        ini = os.path.join(tmp, "vg.ini")
        with open(ini, "w") as f:
            f.write(f"""[server]
listen = 127.0.0.1:{port}
db = {tmp}/vg.db
data_dir = {tmp}/data
[events]
mode = push
allow_unauthenticated = true
[webhook]
url = http://127.0.0.1:{rx.port}/hook
timeout = 60
""")
            if conc:
                f.write("concurrency = %d\n" % conc)
        env = {k: v for k, v in os.environ.items() if not k.startswith("VODGATE_")}
        p, _ = serve(binary, ini, env)
        fill("http://127.0.0.1:%d" % port, events)
        p.terminate()
        p.wait(30)
        rx.reset()
        env["VODGATE_WEBHOOK_SECRET"] = SECRET
        p, t0 = serve(binary, ini, env)
        deadline = t0 + 600
        while len(rx.ids) < events and time.monotonic() < deadline:
            time.sleep(0.005)
        dt = time.monotonic() - t0
        got = len(rx.ids)
        p.terminate()
        p.wait(30)
        return {"concurrency": conc, "events": events, "latency_ms": latency,
                "delivered": got, "seconds": round(dt, 3),
                "per_s": round(got / dt, 1), "receiver_conns": rx.max_conns}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binary", nargs="?", default=os.path.join(HERE, "..", "build", "vodgate"))
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--latency", type=float, default=20.0, help="receiver's answer time, ms")
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--peer", help="an older vodgate binary, run with its defaults")
    a = ap.parse_args()
    rx = Receiver(a.latency)
    runs = [("concurrency %d" % int(c), a.binary, int(c)) for c in a.concurrency.split(",")]
    if a.peer:
        runs.insert(0, ("peer %s" % a.peer, a.peer, 0))
    res = {}
    for _ in range(a.rounds):  # rounds alternate over the settings
        for label, binary, c in runs:
            r = one(binary, rx, c, a.events, a.latency)
            r["run"] = label
            print(json.dumps(r), flush=True)
            res.setdefault(label, []).append(r["per_s"])
    med = {k: sorted(v)[len(v) // 2] for k, v in res.items()}
    ref = min((c, label) for label, _, c in runs if c)[1]
    print("\n%d webhooks, receiver answers in %g ms, median of %d rounds\n" %
          (a.events, a.latency, a.rounds))
    print("| run | deliveries/s | x %s |" % ref)
    print("| --- | --- | --- |")
    for label, _, _ in runs:
        print("| %s | %.1f | %.2fx |" % (label, med[label], med[label] / med[ref]))


if __name__ == "__main__":
    sys.exit(main())
