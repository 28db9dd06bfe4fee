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


if __name__ == "__main__":
    vgtest.main()
