"""Shared helpers for vodgate's integration tests (stdlib only).

- main(): runs the unittest cases of the calling module and prints TAP, one
  line per test method, so CI counts individual cases.
- run(): runs the vodgate binary (VODGATE_BIN) and captures its output.
- Daemon: starts `vodgate <cmd>` on an ephemeral loopback port, waits for its
  "listening" log line, and stops it by PID.
"""
import hashlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import unittest

BIN = os.environ.get("VODGATE_BIN", os.path.join(os.getcwd(), "build", "vodgate"))
SRC = os.environ.get("VODGATE_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
EVENTS = os.path.join(SRC, "tests", "data", "events")


def event_body(name):
    """A VOD event body from tests/data/events (a fresh object each call)."""
    with open(os.path.join(EVENTS, name)) as f:
        return json.load(f)


def callback_sign(key, t):
    """The Sign of a key-authenticated VOD callback: md5(key + str(T)) in hex
    (spec tencent-vod.md, callback authentication)."""
    return hashlib.md5((key + str(t)).encode()).hexdigest()


def sig_blocked(pid, tid=None):
    """The signals a process's thread (default: its main thread) blocks, from
    /proc: a set of signal numbers."""
    with open(f"/proc/{pid}/task/{tid or pid}/status") as f:
        for line in f:
            if line.startswith("SigBlk:"):
                mask = int(line.split(":", 1)[1], 16)
                return {n for n in range(1, 65) if mask >> (n - 1) & 1}
    raise AssertionError("no SigBlk")


def run(args, env=None, input=None, check=None, timeout=60, cwd=None):
    """Run `vodgate ARGS` (in cwd, default the current directory). Returns
    CompletedProcess with text stdout/stderr."""
    e = dict(os.environ)
    for k in list(e):
        if k.startswith("VODGATE_") and k not in ("VODGATE_BIN", "VODGATE_SRC"):
            del e[k]
    if env:
        e.update(env)
    p = subprocess.run([BIN] + list(args), env=e, input=input, capture_output=True,
                       text=True, timeout=timeout, cwd=cwd)
    if check is not None and p.returncode != check:
        raise AssertionError(f"vodgate {' '.join(args)} exited {p.returncode}, want {check}\n"
                             f"stdout: {p.stdout}\nstderr: {p.stderr}")
    return p


class TempDir:
    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="vgtest-")

    def file(self, name, content, mode=0o600):
        p = os.path.join(self.path, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w" if isinstance(content, str) else "wb") as f:
            f.write(content)
        os.chmod(p, mode)
        return p

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


class Daemon:
    """A vodgate server process. The command must log a JSON line with
    "msg":"listening" and a "port" field once it accepts connections."""

    def __init__(self, args, env=None, name="vodgate", startup_timeout=15, cwd=None):
        e = dict(os.environ)
        for k in list(e):
            if k.startswith("VODGATE_") and k not in ("VODGATE_BIN", "VODGATE_SRC"):
                del e[k]
        if env:
            e.update(env)
        self.name = name
        self.logs = []
        self._lines = queue.Queue()
        # Relative paths (the default ./var/vodgate.db) land in a directory
        # of this daemon's own unless the test shares one on purpose.
        self._own_cwd = cwd is None
        self.cwd = cwd or tempfile.mkdtemp(prefix="vgd-")
        self.proc = subprocess.Popen([BIN] + list(args), env=e, stdin=subprocess.DEVNULL, cwd=self.cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._t = threading.Thread(target=self._reader, args=(self.proc.stderr,), daemon=True)
        self._t.start()
        self._t2 = threading.Thread(target=self._reader, args=(self.proc.stdout,), daemon=True)
        self._t2.start()
        self.port = None
        deadline = time.time() + startup_timeout
        while time.time() < deadline:
            try:
                line = self._lines.get(timeout=0.1)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            rec = self._parse(line)
            if rec and rec.get("msg") == "listening" and "port" in rec:
                self.port = int(rec["port"])
                break
        if self.port is None:
            self.stop()
            raise RuntimeError(f"{name} did not start:\n" + "\n".join(self.logs[-40:]))
        self.base = f"http://127.0.0.1:{self.port}"

    @staticmethod
    def _parse(line):
        try:
            return json.loads(line)
        except ValueError:
            return None

    def _reader(self, stream):
        for line in stream:
            line = line.rstrip("\n")
            self.logs.append(line)
            self._lines.put(line)

    def records(self):
        return [r for r in (self._parse(l) for l in list(self.logs)) if r]

    def wait_log(self, pred, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for r in self.records():
                if pred(r):
                    return r
            time.sleep(0.05)
        raise AssertionError("log record not seen; last logs:\n" + "\n".join(self.logs[-20:]))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=15):
        return self.proc.wait(timeout=timeout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._own_cwd:
            shutil.rmtree(self.cwd, ignore_errors=True)
        return self.proc.returncode


def wait_upload_state(port, token, upload_id, want, timeout=20):
    """Poll GET /v1/uploads/{upload_id} as the bearer of token until its
    state is want; returns the upload's "data". Fails with the last answer
    after timeout seconds."""
    import http.client
    deadline = time.time() + timeout
    while True:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/v1/uploads/" + upload_id, headers={"Authorization": "Bearer " + token})
        r = c.getresponse()
        doc = json.loads(r.read())
        c.close()
        if r.status == 200 and doc["data"]["state"] == want:
            return doc["data"]
        if time.time() > deadline:
            raise AssertionError(f"state {want} not reached: {r.status} {doc}")
        time.sleep(0.1)


class _TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0

    def _name(self, test):
        # setUpClass/tearDownClass errors come as an _ErrorHolder.
        m = getattr(test, "_testMethodName", None)
        return f"{type(test).__name__}.{m}" if m else str(getattr(test, "description", test))

    def addSuccess(self, test):
        self.n += 1
        print(f"ok {self.n} - {self._name(test)}", flush=True)

    def _fail(self, test, err):
        self.n += 1
        print(f"not ok {self.n} - {self._name(test)}", flush=True)
        for l in "".join(traceback.format_exception(*err)).splitlines():
            print(f"# {l}", flush=True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._fail(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._fail(test, err)

    def addSubTest(self, test, subtest, err):
        # A failed subTest fails its test: unittest then never calls
        # addSuccess for it, so report it here (once per failing subtest).
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._fail(test, err)

    def addSkip(self, test, reason):
        self.n += 1
        print(f"ok {self.n} - {self._name(test)} # SKIP {reason}", flush=True)

    def addExpectedFailure(self, test, err):
        self.addSuccess(test)

    def addUnexpectedSuccess(self, test):
        self._fail(test, (AssertionError, AssertionError("unexpected success"), None))


def main():
    """Run the unittest cases of __main__ and print TAP."""
    loader = unittest.TestLoader()
    suite = loader.loadTestsFromModule(sys.modules["__main__"])
    if len(sys.argv) > 1:  # optional name filter
        suite = unittest.TestSuite(t for t in _flatten(suite) if sys.argv[1] in t.id())
    result = _TapResult()
    suite.run(result)
    print(f"1..{result.n}", flush=True)
    sys.exit(0 if result.wasSuccessful() else 1)


def _flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t
