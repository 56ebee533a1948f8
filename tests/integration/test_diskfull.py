# SPDX-License-Identifier: ISC
"""A full disk gives a 4xx and a log line, never a 250 and never a crash;
once space is back, mail flows again."""
import os
import resource
import smtplib
import subprocess
import time
import unittest

from harness import Daemon, Sink, wait_for

SMALL = b"From: a@example.org\r\nSubject: small\r\n\r\nfits\r\n"


def big(kib):
    line = b"y" * 76 + b"\r\n"
    return b"From: a@example.org\r\nSubject: big\r\n\r\n" + line * (kib * 1024 // 78)


class DiskFull(unittest.TestCase):
    # 1 MiB: room for the account store and audit log the auth process
    # creates in state_dir (SQLite with its WAL), not for the big message.
    def setUp(self):
        self.sink = Sink().start()
        self.d = Daemon(deliver=f"smtp://127.0.0.1:{self.sink.port}")
        os.makedirs(self.d.state)
        self.mounted = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m,mode=755", "tmpfs", self.d.state],
            capture_output=True).returncode == 0

    def tearDown(self):
        self.d.cleanup() if not self.mounted else self.d.stop()
        if self.mounted:
            subprocess.run(["umount", self.d.state])
            self.d.cleanup()
        self.sink.stop()

    def start(self):
        if self.mounted:
            self.d.start()
            return
        # No tmpfs here: a file size limit fails the spool write the same way.
        lim = 1024 * 1024
        old = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (lim, old[1]))
        try:
            self.d.start()
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, old)

    def test_full_disk_gives_452_then_recovers(self):
        self.start()
        with smtplib.SMTP("127.0.0.1", self.d.mx_port, timeout=30) as s:
            s.ehlo()
            s.mail("a@example.org")
            s.rcpt("b@example.test")
            code, text = s.data(big(1400))
            self.assertEqual(code, 452, text)
            self.assertIn(b"4.3.1", text)
            # the same session goes on and the next message fits, once the
            # failed message's file is truncated: the file pool does that on
            # its thread, so the space may come back a moment after the 452
            # (a client retries a 4xx; this one retries at once, briefly)
            for attempt in range(20):
                s.rset()
                try:
                    s.sendmail("a@example.org", ["b@example.test"], SMALL)
                    break
                except smtplib.SMTPDataError as e:
                    self.assertEqual(e.smtp_code, 452)
                    self.assertLess(attempt, 19, "the space never came back")
                    time.sleep(0.1)
        self.assertEqual(len(self.sink.wait_messages(1)), 1)
        self.assertIn(b"fits", self.sink.messages[0].content)
        self.assertTrue(self.d.wait_log(r"spool-write-failed .*error=\"(No space left|File too large)"))
        self.assertTrue(wait_for(lambda: self.d.queue_ids() == []))
        self.assertEqual(self.d.stop(), 0, self.d.log())


if __name__ == "__main__":
    unittest.main()
