"""What the long-poll watcher (GET /v1/uploads/<id>?wait=) reads, against the
real daemon.

A committed change wakes only the waiters of the upload that changed: events
for other uploads, or for files attributed to no upload, cost the waiters no
store read. Before, every committed change re-read every waiting upload
(1,000 waiters under 5,000 events/s kept the watcher on 65% of a CPU). The
reads are counted by cause in vodgate_upload_watch_reads_total.

The daemon and helpers are test_events.py's.
"""
import http.client
import re
import threading
import time

import vgtest
from test_events import Base, new_file_id, nfu, psc


class WatchReads(Base):
    def reads(self, cause):
        c = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=10)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        c.close()
        m = re.search(r'^vodgate_upload_watch_reads_total\{cause="%s"\} (\d+)$' % cause, text,
                      re.M)
        return int(m.group(1)) if m else -1  # -1: no such series

    def test_only_the_changed_upload_is_read(self):
        waited, wtoken = self.session("walt")
        others = [self.session("olga%d" % i) for i in range(5)]
        wfile = new_file_id()
        got = {}

        def waiter():
            got["r"] = self.upload(waited, "walt", "?wait=60")

        th = threading.Thread(target=waiter)
        th.start()
        # Queued: the watcher read it once as a new waiter.
        for _ in range(100):
            if self.reads("new") >= 1:
                break
            time.sleep(0.05)
        self.assertGreaterEqual(self.reads("new"), 1)
        before = self.reads("change")
        # Changes of other uploads (a file each, uploaded then passed), and
        # of files attributed to no upload.
        for _, token in others:
            f = new_file_id()
            self.ok_post(nfu(f, ctx=token))
            self.ok_post(psc("procedure_pass.json", f, ctx=token))
        for _ in range(10):
            self.ok_post(nfu(new_file_id()))
        self.assertEqual(self.reads("change"), before)
        self.assertTrue(th.is_alive(), got)
        # Its own change answers it.
        self.ok_post(nfu(wfile, ctx=wtoken))
        th.join(30)
        self.assertFalse(th.is_alive())
        self.assertEqual(got["r"][0], 200)
        self.assertEqual(got["r"][1]["data"]["uploadId"], waited)
        self.assertEqual(got["r"][1]["data"]["state"], "uploaded")
        self.assertEqual(got["r"][1]["data"]["fileId"], wfile)
        self.assertLessEqual(self.reads("change"), before + 1)
        # The other uploads' states are what their events made them.
        for i, (uid, _) in enumerate(others):
            self.assertEqual(self.upload(uid, "olga%d" % i)[1]["data"]["state"], "passed")


class PerUserCap(Base):
    """[events] max_waiters_per_user: one user's long polls beyond it get
    429 (code 4291, Retry-After), so one user cannot take every max_waiters
    slot; other users still wait; a slot freed can be taken again."""
    env = dict(Base.env, VODGATE_EVENTS_MAX_WAITERS_PER_USER="2")
    reads = WatchReads.reads

    def test_one_user_cannot_take_every_slot(self):
        mine = [self.session("hog") for _ in range(3)]
        theirs = self.session("polite")
        got = {}

        def wait(key, uid, sub):
            got[key] = self.upload(uid, sub, "?wait=60")

        def start(key, uid, sub):
            n = self.reads("new")
            t = threading.Thread(target=wait, args=(key, uid, sub))
            t.start()
            for _ in range(200):  # queued: the watcher read it as a new waiter
                if self.reads("new") > n:
                    break
                time.sleep(0.05)
            self.assertGreater(self.reads("new"), n)
            return t

        ths = [start(i, mine[i][0], "hog") for i in range(2)]
        st, doc = self.upload(mine[2][0], "hog", "?wait=60")
        self.assertEqual(st, 429, doc)
        self.assertEqual(doc["code"], 4291)
        self.assertIn("too many long polls of this user", doc["message"])
        # Another user still waits, and is answered by its own change.
        tp = start("p", theirs[0], "polite")
        self.ok_post(nfu(new_file_id(), ctx=theirs[1]))
        tp.join(30)
        self.assertEqual(got["p"][0], 200)
        self.assertEqual(got["p"][1]["data"]["state"], "uploaded")
        # The hog's two still wait; once one is answered, its slot is free.
        self.assertTrue(all(t.is_alive() for t in ths), got)
        self.ok_post(nfu(new_file_id(), ctx=mine[0][1]))
        ths[0].join(30)
        self.assertEqual(got[0][0], 200)
        t3 = start(3, mine[2][0], "hog")
        for k in (1, 2):
            self.ok_post(nfu(new_file_id(), ctx=mine[k][1]))
        ths[1].join(30)
        t3.join(30)
        self.assertEqual((got[1][0], got[3][0]), (200, 200))
        self.assertEqual(got[3][1]["data"]["uploadId"], mine[2][0])


if __name__ == "__main__":
    vgtest.main()
