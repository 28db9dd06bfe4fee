#!/usr/bin/env python3
"""HTTP benchmark of vodgate against its reference peers, side by side.

Signatures: POST /v1/upload-signatures with an HS256 bearer token against
  vodgate, the official Tencent Node sample on Express (bench/peers/express-sign.js,
  no authentication) and nginx `return 200` (the machine's ceiling).
Events: POST /v1/vod/events with ~3 KB v3 bodies, a new idempotency key per
  request, against vodgate and an Express + better-sqlite3@12 receiver
  (bench/peers/express-events.js, WAL + synchronous=FULL).

Method (shared/STACK.md section 3): wrk -t1 -c64 --latency on loopback, one
warm-up per server, then ROUNDS rounds alternating forward/reverse server order;
each measurement is a 1 s warm-up then a DURATION run; server CPU per request is
the utime+stime delta (process tree, children included) from /proc/PID/stat over
the measured run divided by the requests wrk completed; peak RSS is VmHWM from
/proc/PID/status, summed over the process tree. A report, not a test: it exits 0
whenever it measured something, and prints PASS/MISS per target.

Usage: bench/http.sh [path/to/vodgate]        (default build/vodgate)
Env: ROUNDS (3) DURATION (10) CONNS (64) WRK_THREADS (1) WARMUP (1) TIMEOUT (10)
     QUIET_WAIT (30: seconds to wait for other jobs to leave the CPUs)
     BUSY_LIMIT (0.3 cores) BUSY_RETRIES (1): re-measure when other jobs ran
     WARMUP_FIRST (3, once per server: lets V8 JIT the peers)
     ONLY (all | sig | events)  MAX_SECONDS (600: bound on the measuring phase;
       measurements due after it are skipped and reported as such)
     NPM_CI (1 forces `npm ci`; otherwise only when node_modules is stale)
     VODGATE_CONF_TEMPLATE (a file replacing the built-in vodgate config;
       @PORT@ and @SCRATCH@ are substituted)  KEEP (1 keeps the scratch dir)
     OUT (directory for the report files; default bench/out)
The caller's VODGATE_* variables are not passed to vodgate: it runs on the
scratch config plus the two secrets set here.
Everything binds 127.0.0.1; every process started here is stopped by its PID.
"""

import base64
import hashlib
import hmac
import json
import os
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS = os.path.join(HERE, "peers")
WRK_DIR = os.path.join(HERE, "wrk")

ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "10"))
CONNS = int(os.environ.get("CONNS", "64"))
WRK_THREADS = int(os.environ.get("WRK_THREADS", "1"))  # not THREADS: bench/store.sh uses that name
WARMUP = int(os.environ.get("WARMUP", "1"))
WARMUP_FIRST = int(os.environ.get("WARMUP_FIRST", "3"))
# wrk's default 2 s timeout would drop the slowest answers from the latency
# histogram (they count as errors instead); 10 s keeps them in the p99.
TIMEOUT = int(os.environ.get("TIMEOUT", "10"))
# Wait up to QUIET_WAIT seconds for the machine to be idle (< 0.2 cores busy)
# before measuring; other jobs on a 2-core box distort req/s.
QUIET_WAIT = int(os.environ.get("QUIET_WAIT", "30"))
# A measurement during which other jobs used more than BUSY_LIMIT cores is
# taken again, at most BUSY_RETRIES more times (the least disturbed is kept).
BUSY_LIMIT = float(os.environ.get("BUSY_LIMIT", "0.3"))
BUSY_RETRIES = int(os.environ.get("BUSY_RETRIES", "1"))
ONLY = os.environ.get("ONLY", "all")
MAX_SECONDS = int(os.environ.get("MAX_SECONDS", "600"))
OUT = os.environ.get("OUT", os.path.join(HERE, "out"))

# Bench-only credentials: dummies, never real keys. Passed to servers by env.
SECRET_ID = "AKIDbenchbenchbenchbenchbenchbench00"
SECRET_KEY = "bench-vod-secret-key-not-a-real-one"
JWT_SECRET = "bench-hs256-secret-0123456789abcdef0123456789abcdef"

# Targets of issues 3 and 4.
SIG_X_EXPRESS = 10.0
SIG_X_NGINX = 0.5
SIG_P99_MS = 5.0
SIG_RSS_MB = 30.0
EV_MIN_RPS = 10000.0
EV_X_NODE = 5.0
EV_P99_MS = 20.0

# ---------------------------------------------------------------------------
# vodgate's interface: the ONLY place that knows its config keys, env names,
# command line and routes. Align here (or with VODGATE_CONF_TEMPLATE) when
# the server's names settle.
# ---------------------------------------------------------------------------
VODGATE_SIG_PATH = "/v1/upload-signatures"
VODGATE_EVENTS_PATH = "/v1/vod/events"

VODGATE_CONF = """\
# Scratch config written by bench/http.sh; secrets come from the environment.
[server]
listen = 127.0.0.1:@PORT@
db = @SCRATCH@/vodgate.db

[vod]
secret_id = {secret_id}
# secret key: VODGATE_VOD_SECRET_KEY

[auth]
# HS256 secret: VODGATE_AUTH_JWT_HS256_SECRET

[events]
mode = push
allow_unauthenticated = true

[policy default]
validity = 86400
uploads_per_day = 0
signatures_per_minute = 0
signatures_per_upload = 0
""".format(secret_id=SECRET_ID)


def vodgate_config(port, scratch):
    tpl = VODGATE_CONF
    path = os.environ.get("VODGATE_CONF_TEMPLATE")
    if path:
        with open(path, encoding="utf-8") as f:
            tpl = f.read()
    return tpl.replace("@PORT@", str(port)).replace("@SCRATCH@", scratch)


def vodgate_env():
    return {
        "VODGATE_VOD_SECRET_KEY": SECRET_KEY,
        "VODGATE_AUTH_JWT_HS256_SECRET": JWT_SECRET,
    }


def vodgate_argv(binary, conf_path):
    return [binary, "serve", "--config", conf_path]


def mint_jwt(secret, sub="bench-user", ttl=3600):
    """HS256 JWT (RFC 7519) with sub, iat, nbf, exp; no iss/aud (not configured)."""

    def b64u(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {"sub": sub, "iat": now, "nbf": now - 5, "exp": now + ttl}
    signing_input = b64u(json.dumps(header, separators=(",", ":")).encode()) + "." + \
        b64u(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64u(mac)


# ---------------------------------------------------------------------------
# Processes: every one started here is recorded and stopped by PID.
# ---------------------------------------------------------------------------
STARTED = []
DEADLINE = [time.monotonic() + MAX_SECONDS]  # reset once the quiet wait is over


def log(msg):
    print(f"[http.sh {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, name, argv, port, scratch, env=None, cwd=None):
        self.name, self.argv, self.port = name, argv, port
        self.logpath = os.path.join(scratch, f"{name}.log")
        self.proc = None
        self.error = None
        e = {k: v for k, v in os.environ.items() if not k.startswith("VODGATE_")}
        if env:
            e.update(env)
        self.env, self.cwd = e, cwd

    def start(self, timeout=20):
        logf = open(self.logpath, "wb")
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=logf, env=self.env, cwd=self.cwd)
        except OSError as exc:
            self.error = f"cannot start: {exc}"
            return False
        finally:
            logf.close()
        STARTED.append(self)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                self.error = f"exited with {self.proc.returncode}: {self.tail()}"
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.1)
        self.error = f"not listening on {self.port} after {timeout}s: {self.tail()}"
        self.stop()
        return False

    def tail(self, n=6):
        try:
            with open(self.logpath, "rb") as f:
                f.seek(max(0, os.path.getsize(self.logpath) - 4000))
                lines = f.read().decode("utf-8", "replace").splitlines()
            return " | ".join(lines[-n:])
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def stop_all():
    for s in reversed(STARTED):
        try:
            s.stop()
        except Exception as exc:  # keep stopping the others
            log(f"stopping {s.name}: {exc}")


def on_signal(signum, _frame):
    stop_all()
    sys.exit(128 + signum)


# ---------------------------------------------------------------------------
# /proc sampling
# ---------------------------------------------------------------------------
CLK = os.sysconf("SC_CLK_TCK")


def tree_pids(root):
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(rest[1]), []).append(int(d))
        except (OSError, IndexError):
            continue
    out, todo = [], [root]
    while todo and len(out) < 1000:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_ticks(root):
    """utime+stime+cutime+cstime of root and its live descendants."""
    total = 0
    for p in tree_pids(root):
        try:
            with open(f"/proc/{p}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in rest[11:15])
        except (OSError, IndexError, ValueError):
            continue
    return total


def machine_ticks():
    """(user+nice+system, total) jiffies of all CPUs from /proc/stat. irq,
    softirq (loopback traffic lands there) and steal are left out of 'busy'."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return v[0] + v[1] + v[2], sum(v)


def wait_for_quiet(limit=None):
    end = time.monotonic() + (QUIET_WAIT if limit is None else limit)
    busy = None
    while True:
        b0, _ = machine_ticks()
        time.sleep(1)
        b1, _ = machine_ticks()
        busy = (b1 - b0) / CLK
        if busy < 0.2 or time.monotonic() >= end:
            break
        log(f"machine busy ({busy:.2f} cores used by other processes); waiting for quiet (QUIET_WAIT={QUIET_WAIT})")
    return busy


def wrk_child_ticks():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (ru.ru_utime + ru.ru_stime) * CLK


def peak_rss_kb(root):
    total = 0
    for p in tree_pids(root):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1])
        except (OSError, ValueError):
            continue
    return total


# ---------------------------------------------------------------------------
# wrk
# ---------------------------------------------------------------------------
RUN_COUNTER = [0]
LOAD_BEFORE = [None]


def run_wrk(url, script, seconds, env_extra):
    RUN_COUNTER[0] += 1
    env = dict(os.environ)
    env.update(env_extra)
    env["BENCH_RUN"] = str(RUN_COUNTER[0])
    cmd = ["wrk", f"-t{WRK_THREADS}", f"-c{CONNS}", f"-d{seconds}s", f"--timeout={TIMEOUT}s", "--latency", "-s", script, url]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        return None, "wrk timed out"
    for line in r.stdout.splitlines():
        if line.startswith("WRK_RESULT "):
            return json.loads(line[len("WRK_RESULT "):]), None
    return None, f"wrk exit {r.returncode}: {(r.stderr or r.stdout).strip()[-300:]}"


def probe(url, headers, body):
    """One request; returns (ok, detail)."""
    req = urllib.request.Request(url, data=body, headers=headers, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            data = resp.read(65536)
            status = resp.status
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code}: {exc.read(300).decode('utf-8', 'replace')}"
    except (OSError, urllib.error.URLError) as exc:
        return False, f"no answer: {exc}"
    if status != 200:
        return False, f"HTTP {status}"
    return True, data.decode("utf-8", "replace")


# ---------------------------------------------------------------------------
# Benchmark groups
# ---------------------------------------------------------------------------
class Target:
    def __init__(self, name, server, path, label, script=None):
        self.name, self.server, self.path, self.label = name, server, path, label
        self.script = script  # overrides the group's wrk script (e.g. a plain GET)
        self.runs = []  # dicts from WRK_RESULT + cpu_us_per_req
        self.na = None  # reason when the row cannot be measured
        self.rss_kb = None
        self.notes = []
        self.answered_2xx = 0  # every wrk run, warm-ups included, plus the probe

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.port}{self.path}"


def wrk_counted(t, script, seconds, env_extra):
    res, err = run_wrk(t.url, t.script or script, seconds, env_extra)
    if res is not None:
        t.answered_2xx += res["requests"] - res["non2xx"]
    return res, err


def measure_once(t, script, env_extra):
    if WARMUP > 0:
        wrk_counted(t, script, WARMUP, env_extra)
    pid = t.server.proc.pid
    c0, m0, w0, t0 = cpu_ticks(pid), machine_ticks(), wrk_child_ticks(), time.monotonic()
    res, err = wrk_counted(t, script, DURATION, env_extra)
    c1, m1, w1, t1 = cpu_ticks(pid), machine_ticks(), wrk_child_ticks(), time.monotonic()
    if res is None:
        return None, err
    res["cpu_us_per_req"] = ((c1 - c0) * 1e6 / CLK / res["requests"]) if res["requests"] else None
    # CPU used by anything other than the server and wrk during the run, in
    # cores: other jobs on this 2-core box make req/s noisy; CPU/req less so.
    res["other_cores"] = max(0.0, ((m1[0] - m0[0]) - (c1 - c0) - (w1 - w0)) / CLK / (t1 - t0))
    res["bad"] = res["non2xx"] + res["connect"] + res["read"] + res["write"] + res["timeout"]
    return res, None


def measure(t, script, env_extra):
    """One measurement; repeated (at most BUSY_RETRIES more times) when other
    jobs used more than BUSY_LIMIT cores during it. The least-disturbed
    attempt is kept, and its other-load figure is reported with it."""
    best = None
    for attempt in range(1 + BUSY_RETRIES):
        if time.monotonic() > DEADLINE[0]:
            t.notes.append("skipped: MAX_SECONDS reached")
            break
        if not t.server.alive():
            t.na = t.na or f"server died: {t.server.tail()}"
            return
        res, err = measure_once(t, script, env_extra)
        if res is None:
            t.notes.append(err)
            return
        log(f"  {t.name:15s} {res['rps']:10.0f} req/s  p50 {res['p50_us']/1000:.2f} ms  "
            f"p99 {res['p99_us']/1000:.2f} ms  cpu {res['cpu_us_per_req'] or 0:.1f} us/req  "
            f"other load {res['other_cores']:.2f} cores" + (f"  errors {res['bad']}" if res["bad"] else ""))
        res["attempts"] = attempt + 1
        if best is None or res["other_cores"] < best["other_cores"]:
            best = res
        if res["other_cores"] <= BUSY_LIMIT:
            break
        if attempt < BUSY_RETRIES:
            log(f"  other jobs used {res['other_cores']:.2f} cores (> {BUSY_LIMIT}): measuring again")
            wait_for_quiet(min(QUIET_WAIT, 10))
    if best is not None:
        t.runs.append(best)


def run_group(targets, script, env_extra):
    live = [t for t in targets if t.na is None]
    for t in live:
        if WARMUP_FIRST > 0 and t.server.alive():
            wrk_counted(t, script, WARMUP_FIRST, env_extra)
    for r in range(ROUNDS):
        order = live if r % 2 == 0 else list(reversed(live))
        log(f"round {r + 1}/{ROUNDS} ({'forward' if r % 2 == 0 else 'reverse'})")
        for t in order:
            measure(t, script, env_extra)
    for t in live:
        if t.server.alive():
            t.rss_kb = peak_rss_kb(t.server.proc.pid)


def summary(t):
    if t.na is not None or not t.runs:
        return None
    rps = [r["rps"] for r in t.runs]
    p99 = [r["p99_us"] / 1000 for r in t.runs]
    cpu = [r["cpu_us_per_req"] for r in t.runs if r["cpu_us_per_req"] is not None]
    reqs = sum(r["requests"] for r in t.runs)
    bad = sum(r["bad"] for r in t.runs)
    return {
        "rps": statistics.median(rps), "rps_min": min(rps), "rps_max": max(rps),
        "p50_ms": statistics.median(r["p50_us"] / 1000 for r in t.runs),
        "p99_ms": statistics.median(p99), "p99_worst_ms": max(p99),
        "cpu_us": statistics.median(cpu) if cpu else None,
        "rss_mb": t.rss_kb / 1024 if t.rss_kb else None,
        "requests": reqs, "bad": bad, "bad_frac": bad / reqs if reqs else 0,
        "other_cores_max": max(r["other_cores"] for r in t.runs),
    }


def fmt_k(x):
    return f"{x / 1000:.1f}k" if x >= 1000 else f"{x:.0f}"


def table(targets):
    lines = ["| server | req/s median (min–max) | p50 ms | p99 ms median (worst) | server CPU µs/req | peak RSS MB | errors "
             "| other load (cores, max) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for t in targets:
        s = summary(t)
        if s is None:
            why = t.na or "; ".join(dict.fromkeys(t.notes)) or "no run"
            lines.append(f"| {t.label} | n/a ({why[:160]}) | | | | | | |")
            continue
        err = f"{s['bad']} ({s['bad_frac']:.1%})" if s["bad"] else "0"
        cpu = f"{s['cpu_us']:.1f}" if s["cpu_us"] is not None else "?"
        rss = f"{s['rss_mb']:.1f}" if s["rss_mb"] is not None else "?"
        lines.append(f"| {t.label} | **{fmt_k(s['rps'])}** ({fmt_k(s['rps_min'])}–{fmt_k(s['rps_max'])}) | "
                     f"{s['p50_ms']:.2f} | {s['p99_ms']:.2f} ({s['p99_worst_ms']:.2f}) | {cpu} | {rss} | {err} "
                     f"| {s['other_cores_max']:.2f} |")
    return lines


def usable(s):
    # A run where more than 1% of requests failed does not count as a result.
    return s is not None and s["bad_frac"] <= 0.01


def verdict(ok):
    return "PASS" if ok else "MISS"


def check_rows(checks):
    lines = ["| target | measured | result |", "| --- | --- | --- |"]
    for name, measured, ok in checks:
        lines.append(f"| {name} | {measured} | {verdict(ok) if ok is not None else 'n/a'} |")
    return lines


def cpu_ratios(v, peers):
    """Informational: CPU per request is steadier than req/s on a shared box."""
    if not usable(v) or not v["cpu_us"]:
        return []
    parts = [f"{name} {p['cpu_us']:.1f} µs ({p['cpu_us'] / v['cpu_us']:.2f}× vodgate's)"
             for name, p in peers if usable(p) and p["cpu_us"]]
    if not parts:
        return []
    return [f"Server CPU per request: vodgate {v['cpu_us']:.1f} µs; " + "; ".join(parts) + "."]


def ratio(a, b):
    if not (usable(a) and usable(b)) or b["rps"] <= 0:
        return None
    return a["rps"] / b["rps"]


# ---------------------------------------------------------------------------
# Setup helpers
# ---------------------------------------------------------------------------
def ensure_node_modules():
    lock = os.path.join(PEERS, "package-lock.json")
    stamp = os.path.join(PEERS, "node_modules", ".package-lock.json")
    stale = (not os.path.exists(stamp) or os.path.getmtime(stamp) < os.path.getmtime(lock)
             or not os.path.exists(os.path.join(PEERS, "node_modules", "better-sqlite3", "build",
                                                "Release", "better_sqlite3.node")))
    if os.environ.get("NPM_CI") == "1" or stale:
        log("npm ci in bench/peers (better-sqlite3 may compile from source: ~2 min)")
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEERS, timeout=900)
        if r.returncode != 0:
            return False
    return True


def tool_version(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def npm_version(pkg):
    try:
        with open(os.path.join(PEERS, "node_modules", pkg, "package.json")) as f:
            return json.load(f)["version"]
    except (OSError, ValueError, KeyError):
        return "?"


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip() or "?"
    return {
        "cpu": f"{os.cpu_count()} × {model}", "kernel": os.uname().release,
        "wrk": " ".join(tool_version(["wrk", "-v"]).split()[:2]),
        "nginx": tool_version(["nginx", "-v"]).replace("nginx version: ", ""),
        "node": tool_version(["node", "--version"]), "express": npm_version("express"),
        "better-sqlite3": npm_version("better-sqlite3"), "git": rev,
    }


def fs_type(path):
    try:
        r = subprocess.run(["df", "--output=fstype", path], capture_output=True, text=True, timeout=10)
        return r.stdout.split()[-1] if r.stdout.split() else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def nginx_body():
    """A body shaped like vodgate's signature answer, with a real-looking signature."""
    now = int(time.time())
    original = (f"secretId={SECRET_ID}&currentTimeStamp={now}&expireTime={now + 86400}"
                f"&random=3141592653&sourceContext=vg1.u_7f3a9c2e41d84b6a.9QmXr2LkT0aZ4bN8cV1dE6fG3hJ5kP7sW0y")
    mac = hmac.new(SECRET_KEY.encode(), original.encode(), hashlib.sha1).digest()
    sig = base64.b64encode(mac + original.encode()).decode()
    return json.dumps({"code": 0, "message": "ok", "data": {
        "signature": sig, "uploadId": "u_0123456789abcdef0123", "expireTime": now + 86400}},
        separators=(",", ":"))


def count_rows(db, table_name="events"):
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute(f"SELECT count(*) FROM {table_name}").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return None


# ---------------------------------------------------------------------------
def main():
    vodgate_bin = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "vodgate"))
    if sys.argv[1:2] in (["-h"], ["--help"]):
        print(__doc__)
        return 0
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    if not shutil.which("wrk"):
        log("wrk not found (apt-get install wrk, or: make bench)")
        return 1
    do_sig = ONLY in ("all", "sig")
    do_ev = ONLY in ("all", "events")
    if do_sig or do_ev:
        if not shutil.which("node") or not ensure_node_modules():
            log("node/npm unavailable or npm ci failed: Node peers will be n/a")

    if QUIET_WAIT > 0:
        LOAD_BEFORE[0] = wait_for_quiet()
        log(f"load before start: {LOAD_BEFORE[0]:.2f} cores")
    DEADLINE[0] = time.monotonic() + MAX_SECONDS
    scratch = tempfile.mkdtemp(prefix="vodgate-bench.", dir=os.environ.get("BENCH_TMPDIR"))
    t_start = time.time()
    try:
        return run(vodgate_bin, scratch, do_sig, do_ev, t_start)
    finally:
        stop_all()
        if os.environ.get("KEEP") == "1":
            log(f"scratch kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def start_or_na(server, na_reason=None):
    if na_reason:
        server.error = na_reason
        return False
    ok = server.start()
    if not ok:
        log(f"{server.name}: {server.error}")
    return ok


def run(vodgate_bin, scratch, do_sig, do_ev, t_start):
    token = mint_jwt(JWT_SECRET)
    node_ok = os.path.exists(os.path.join(PEERS, "node_modules", "express"))
    sig_body = os.environ.get("BENCH_SIG_BODY", "{}")
    sig_headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    wrk_env = {"BENCH_TOKEN": token, "BENCH_SIG_BODY": sig_body}
    with open(os.path.join(WRK_DIR, "events.lua"), encoding="utf-8") as f:
        ev_sample = f.read().split("[==[", 1)[1].split("]==]", 1)[0].replace(
            "@FILEID@", "5285890700000000001").replace("@TASKID@", "probe5285890700000000001tt0").replace(
            "@SESSIONID@", "s-probe").encode()

    # vodgate: one instance serves both groups (signatures first, so its peak
    # RSS for the signature target is read before the events load).
    vg_port = free_port()
    conf_path = os.path.join(scratch, "vodgate.ini")
    with open(conf_path, "w", encoding="utf-8") as f:
        f.write(vodgate_config(vg_port, scratch))
    vg = Server("vodgate", vodgate_argv(vodgate_bin, conf_path), vg_port, scratch, env=vodgate_env(), cwd=scratch)
    start_or_na(vg, None if os.access(vodgate_bin, os.X_OK) else f"{vodgate_bin} not built")

    results = {"machine": machine(), "params": {
        "rounds": ROUNDS, "duration_s": DURATION, "conns": CONNS, "threads": WRK_THREADS,
        "warmup_s": WARMUP, "warmup_first_s": WARMUP_FIRST, "scratch_fs": fs_type(scratch)}, "groups": {}}
    md = []

    if do_sig:
        es = Server("express-sign", ["node", os.path.join(PEERS, "express-sign.js"), "0"], free_port(), scratch,
                    env={"VOD_SECRET_ID": SECRET_ID, "VOD_SECRET_KEY": SECRET_KEY}, cwd=PEERS)
        es.argv[-1] = str(es.port)
        start_or_na(es, None if node_ok else "node_modules missing")
        ng_port = free_port()
        ng_conf = os.path.join(scratch, "nginx.conf")
        with open(os.path.join(HERE, "nginx.conf.in"), encoding="utf-8") as f:
            conf = f.read()
        with open(ng_conf, "w", encoding="utf-8") as f:
            f.write(conf.replace("@PORT@", str(ng_port)).replace("@SCRATCH@", scratch).replace("@BODY@", nginx_body()))
        ng = Server("nginx", ["nginx", "-p", scratch, "-e", os.path.join(scratch, "error.log"), "-c", ng_conf],
                    ng_port, scratch)
        start_or_na(ng, None if shutil.which("nginx") else "nginx not installed")

        targets = [Target("vodgate", vg, VODGATE_SIG_PATH, "vodgate (HS256 bearer token)"),
                   Target("express-sign", es, "/v1/upload-signatures", f"Express {npm_version('express')} official Node sample"),
                   Target("nginx", ng, "/v1/upload-signatures", "nginx 1 worker, `return 200` (ceiling)"),
                   # Not a peer and not in the targets: what vodgate's HTTP
                   # layer (MHD, request log, metrics) costs with no work at
                   # all, the floor under every vodgate route.
                   Target("vodgate-healthz", vg, "/healthz", "vodgate `GET /healthz` (its HTTP layer alone; reference)",
                          script=os.path.join(WRK_DIR, "get.lua"))]
        for t in targets:
            if not t.server.alive():
                t.na = t.server.error or "not started"
                continue
            if t.script:
                ok, detail = probe(t.url, {}, None)
            else:
                ok, detail = probe(t.url, sig_headers, sig_body.encode())
            if ok and t.name not in ("nginx", "vodgate-healthz"):
                try:
                    ok = json.loads(detail)["data"]["signature"] != ""
                except (ValueError, KeyError, TypeError):
                    ok, detail = False, f"unexpected answer: {detail[:200]}"
            if not ok:
                t.na = f"endpoint not ready: {detail}"
                log(f"{t.name}: {t.na}")
        log("signatures: POST /v1/upload-signatures")
        run_group(targets, os.path.join(WRK_DIR, "sig.lua"), wrk_env)
        s = {t.name: summary(t) for t in targets}
        v, e, n = s["vodgate"], s["express-sign"], s["nginx"]
        rx, rn = ratio(v, e), ratio(v, n)
        checks = [
            (f"≥ {SIG_X_EXPRESS:g}× Express req/s", f"{rx:.1f}×" if rx else "n/a", rx >= SIG_X_EXPRESS if rx else None),
            (f"≥ {SIG_X_NGINX:g}× nginx req/s", f"{rn:.2f}×" if rn else "n/a", rn >= SIG_X_NGINX if rn else None),
            (f"p99 < {SIG_P99_MS:g} ms", f"{v['p99_ms']:.2f} ms (worst {v['p99_worst_ms']:.2f})" if usable(v) else "n/a",
             v["p99_ms"] < SIG_P99_MS if usable(v) else None),
            (f"peak RSS < {SIG_RSS_MB:g} MB", f"{v['rss_mb']:.1f} MB" if usable(v) and v["rss_mb"] else "n/a",
             v["rss_mb"] < SIG_RSS_MB if usable(v) and v["rss_mb"] else None),
        ]
        md += [f"### Signatures: POST /v1/upload-signatures ({CONNS} connections, {ROUNDS} rounds × {DURATION} s)", ""]
        md += table(targets) + [""]
        if e and n and usable(e) and usable(n):
            md.append(f"Peers: nginx/Express = {n['rps'] / e['rps']:.1f}×.")
        md += cpu_ratios(v, [("Express", e), ("nginx", n)])
        hz = s["vodgate-healthz"]
        if usable(v) and hz and usable(hz):
            md.append(f"vodgate's own floor: `GET /healthz` {fmt_k(hz['rps'])} req/s ({hz['cpu_us']:.1f} µs/req); "
                      f"signatures run at {v['rps'] / hz['rps']:.2f}× of it.")
        md += [""] + check_rows(checks) + [""]
        results["groups"]["signatures"] = {"summary": s, "runs": {t.name: t.runs for t in targets},
                                           "na": {t.name: t.na for t in targets if t.na}, "checks": checks}
        for srv in (es, ng):
            srv.stop()

    if do_ev:
        ev_db = os.path.join(scratch, "express-events.db")
        ee = Server("express-events", ["node", os.path.join(PEERS, "express-events.js"), "0", ev_db], free_port(),
                    scratch, cwd=PEERS)
        ee.argv[-2] = str(ee.port)
        start_or_na(ee, None if node_ok else "node_modules missing")
        targets = [Target("vodgate", vg, VODGATE_EVENTS_PATH, "vodgate"),
                   Target("express-events", ee, "/v1/vod/events",
                          f"Express {npm_version('express')} + better-sqlite3 {npm_version('better-sqlite3')} (FULL)")]
        for t in targets:
            if not t.server.alive():
                t.na = t.server.error or "not started"
                continue
            ok, detail = probe(t.url, {"Content-Type": "application/json"}, ev_sample)
            t.answered_2xx += 1 if ok else 0
            if not ok:
                t.na = f"endpoint not ready: {detail}"
                log(f"{t.name}: {t.na}")
        log("events: POST /v1/vod/events (~3 KB bodies, new key per request)")
        run_group(targets, os.path.join(WRK_DIR, "events.lua"), {})
        s = {t.name: summary(t) for t in targets}
        v, nd = s["vodgate"], s["express-events"]
        rx = ratio(v, nd)
        checks = [
            (f"≥ {EV_MIN_RPS:,.0f} events/s", f"{v['rps']:,.0f}/s" if usable(v) else "n/a",
             v["rps"] >= EV_MIN_RPS if usable(v) else None),
            (f"≥ {EV_X_NODE:g}× Node receiver", f"{rx:.1f}×" if rx else "n/a", rx >= EV_X_NODE if rx else None),
            (f"p99 < {EV_P99_MS:g} ms", f"{v['p99_ms']:.2f} ms (worst {v['p99_worst_ms']:.2f})" if usable(v) else "n/a",
             v["p99_ms"] < EV_P99_MS if usable(v) else None),
        ]
        md += [f"### Events: POST /v1/vod/events (~3 KB bodies, {CONNS} connections, {ROUNDS} rounds × {DURATION} s)", ""]
        md += table(targets) + [""]
        md += cpu_ratios(v, [("the Node receiver", nd)])
        ee.stop()  # closes the database; the rows below were committed before their 200
        rows = count_rows(ev_db) if ee.proc else None
        node_t = targets[1]
        if rows is not None:
            md.append(f"Durability check (Node receiver): {rows:,} rows in its database, {node_t.answered_2xx:,} "
                      f"2xx answers counted by wrk (warm-ups included): "
                      f"{'consistent' if rows >= node_t.answered_2xx else 'MISSING ROWS'}.")
        md += [""] + check_rows(checks) + [""]
        results["groups"]["events"] = {"summary": s, "runs": {t.name: t.runs for t in targets},
                                       "na": {t.name: t.na for t in targets if t.na}, "checks": checks,
                                       "node_db_rows": rows}

    m = results["machine"]
    head = [f"## HTTP benchmark run {time.strftime('%Y-%m-%d %H:%M:%S %Z')} (git {m['git']})", "",
            f"Machine: {m['cpu']}, kernel {m['kernel']}, scratch dir on {results['params']['scratch_fs']}; "
            f"{m['wrk']}; {m['nginx']}; node {m['node']}, "
            f"express {m['express']}, better-sqlite3 {m['better-sqlite3']}. Client: `wrk -t{WRK_THREADS} -c{CONNS} "
            f"-d{DURATION}s --timeout={TIMEOUT}s --latency`, {WARMUP} s warm-up per measurement ({WARMUP_FIRST} s first), rounds alternate "
            f"server order. CPU = server utime+stime per request (process tree); RSS = VmHWM (process tree sum). "
            f"Wall time {time.time() - t_start:.0f} s."
            + (f" Other load before start: {LOAD_BEFORE[0]:.2f} cores." if LOAD_BEFORE[0] is not None else ""), ""]
    if vg.error:
        head += [f"vodgate: {vg.error[:400]}", ""]
    text = "\n".join(head + md)
    print(text)
    os.makedirs(OUT, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(OUT, f"http-{stamp}.md"), "w", encoding="utf-8") as f:
        f.write(text + "\n")
    with open(os.path.join(OUT, f"http-{stamp}.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1, default=str)
    log(f"report: {os.path.join(OUT, f'http-{stamp}.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
