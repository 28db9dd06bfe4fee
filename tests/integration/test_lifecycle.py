"""`vodgate serve` lifecycle against the real daemon: what SIGTERM past the
drain timeout, and signals arriving during start-up, do to the process and
to what it has already acknowledged."""
import http.client
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
import unittest

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
{vod_extra}

[auth]
jwt_issuer = https://idp.example
jwt_audience = vodgate
"""


def token(sub):
    return jwtmint.hs256(HS_SECRET, jwtmint.claims(sub, iss="https://idp.example", aud="vodgate"))


class DrainTimeoutKeepsAcknowledged(unittest.TestCase):
    def test_signature_records_committed_when_requests_are_cut(self):
        """A SIGTERM whose drain times out (a request still running) used to
        _exit at once: signature records written behind (up to
        signature_flush_ms, here 1000 ms) were lost although their
        signatures had been answered 200; the upload sessions were missing
        from the database after the exit."""
        tmp = vgtest.TempDir()
        try:
            cfg = tmp.file("v.ini", INI.format(
                dir=tmp.path, vod_extra="",
                server_extra="drain_timeout = 0\nsignature_flush_ms = 1000"))
            d = vgtest.Daemon(["serve", "--config", cfg], env=dict(ENV, VODGATE_TEST_ROUTES="1"))
            c = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10)
            ids = []
            for _ in range(3):
                c.request("POST", "/v1/upload-signatures", body="{}",
                          headers={"Authorization": "Bearer " + token("dora"),
                                   "Content-Type": "application/json"})
                r = c.getresponse()
                doc = json.loads(r.read())
                self.assertEqual(r.status, 200, doc)
                ids.append(doc["data"]["uploadId"])

            def slow():
                try:
                    s = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
                    s.request("GET", "/test/slow?ms=8000")
                    s.getresponse().read()
                except OSError:
                    pass  # cut by the drain timeout: expected

            t = threading.Thread(target=slow, daemon=True)
            t.start()
            d.wait_log(lambda x: x.get("msg", "").startswith("test_slow: started"))
            d.signal(signal.SIGTERM)
            self.assertEqual(d.wait(), 0)
            d.wait_log(lambda x: "drain timeout" in x.get("msg", ""))
            con = sqlite3.connect(os.path.join(tmp.path, "vg.db"))
            try:
                got = sorted(r[0] for r in con.execute("SELECT upload_id FROM upload_session"))
                quota = con.execute("SELECT SUM(used) FROM quota").fetchone()[0]
            finally:
                con.close()
            self.assertEqual(got, sorted(ids))
            self.assertEqual(quota, 3)
        finally:
            tmp.cleanup()


class SignalsDuringStartup(unittest.TestCase):
    def start_blocked_in_config(self, tmp):
        """Starts serve with its VOD secret key file a FIFO, and returns once
        the process is reading it (inside the configuration load, before any
        thread or the listening socket exists), with the FIFO's write end."""
        fifo = os.path.join(tmp.path, "vod.key")
        os.mkfifo(fifo, 0o600)
        cfg = tmp.file("v.ini", INI.format(dir=tmp.path, server_extra="",
                                           vod_extra=f"secret_key_file = {fifo}"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("VODGATE_")
               or k in ("VODGATE_BIN", "VODGATE_SRC")}
        env["VODGATE_AUTH_JWT_HS256_SECRET"] = HS_SECRET
        p = subprocess.Popen([vgtest.BIN, "serve", "--config", cfg], env=env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        try:
            return p, self.open_when_read(p, fifo)
        except AssertionError:
            p.kill()
            raise

    @staticmethod
    def open_when_read(p, fifo):
        """The FIFO's write end, once serve (p) opened it for reading: a
        non-blocking open for writing succeeds only then (the daemon is then
        in its configuration load, reading the key)."""
        deadline = time.monotonic() + 15
        while True:
            try:
                return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                if p.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("serve never opened its key file (exit %r): %s"
                                         % (p.poll(), p.stderr.read() if p.poll() is not None
                                            else ""))
                time.sleep(0.01)

    def finish(self, p, wfd):
        os.write(wfd, (VOD_KEY + "\n").encode())
        os.close(wfd)
        try:
            _, err = p.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            _, err = p.communicate()
        msgs = [json.loads(x).get("msg") for x in err.splitlines() if x.startswith("{")]
        return p.returncode, msgs

    def test_sigterm_while_loading_config_drains_after_start(self):
        """The signals used to be blocked only after the configuration was
        loaded: a SIGTERM, SIGINT or SIGHUP while a key file was being read
        killed the process (exit by signal). Now it stays pending: the server
        starts, then drains and exits 0. Twice in a row is the same."""
        tmp = vgtest.TempDir()
        try:
            p, wfd = self.start_blocked_in_config(tmp)
            p.send_signal(signal.SIGTERM)
            p.send_signal(signal.SIGTERM)
            rc, msgs = self.finish(p, wfd)
            self.assertEqual(rc, 0, msgs)
            self.assertIn("listening", msgs)
            self.assertIn("draining", msgs)
            self.assertEqual(msgs[-1], "stopped")
        finally:
            tmp.cleanup()

    def test_sighup_while_loading_config_reloads_after_start(self):
        tmp = vgtest.TempDir()
        try:
            p, wfd = self.start_blocked_in_config(tmp)
            p.send_signal(signal.SIGHUP)
            # Blocked, not taken: pending for the main thread's sigwait.
            blk = vgtest.sig_blocked(p.pid)
            self.assertTrue({signal.SIGTERM, signal.SIGINT, signal.SIGHUP} <= blk, blk)
            os.write(wfd, (VOD_KEY + "\n").encode())
            os.close(wfd)
            # The pending SIGHUP reloads once listening: the key file again.
            # (Not before: until then the start-up may still hold the FIFO.)
            seen = []
            while "listening" not in seen:
                line = p.stderr.readline()
                self.assertTrue(line, "serve exited before listening: %s" % seen)
                seen.append(json.loads(line).get("msg"))
            wfd = self.open_when_read(p, os.path.join(tmp.path, "vod.key"))
            p.send_signal(signal.SIGTERM)
            rc, msgs = self.finish(p, wfd)
            msgs = seen + msgs
            self.assertEqual(rc, 0, msgs)
            self.assertEqual([m for m in msgs if m in ("listening", "configuration reloaded",
                                                       "draining", "stopped")],
                             ["listening", "configuration reloaded", "draining", "stopped"])
        finally:
            tmp.cleanup()


if __name__ == "__main__":
    vgtest.main()
