# SPDX-License-Identifier: ISC
"""Durability under crashes: load postern (smtp-source plus clients that
record every 250), kill -9 every postern process mid-run, restart, and check
that every message that got a 250 reaches the downstream at least once and
that nothing truncated or half-written is ever delivered."""
import hashlib
import random
import shutil
import smtplib
import subprocess
import threading
import time
import unittest

from harness import Daemon, Sink, wait_for

SMTP_SOURCE = shutil.which("smtp-source") or "/usr/sbin/smtp-source"


def make_message(tag, n):
    body = "".join(f"line {i} of message {tag}-{n} " + "x" * (n % 70) + "\r\n"
                   for i in range(20 + n % 200))
    digest = hashlib.sha256(body.encode()).hexdigest()
    head = (f"From: load@example.org\r\nTo: sink@example.test\r\n"
            f"Message-ID: <{tag}-{n}@load.test>\r\nX-Body-SHA256: {digest}\r\n"
            f"Subject: crash test {n}\r\n\r\n")
    return f"{tag}-{n}", (head + body).encode()


class Loader(threading.Thread):
    """Sends messages until stopped or the server goes away; records 250s."""

    def __init__(self, port, tag, acked):
        super().__init__(daemon=True)
        self.port, self.tag, self.acked = port, tag, acked
        self.stop = threading.Event()

    def run(self):
        n = 0
        try:
            with smtplib.SMTP("127.0.0.1", self.port, timeout=20) as s:
                while not self.stop.is_set():
                    mid, msg = make_message(self.tag, n)
                    n += 1
                    s.sendmail("load@example.org", ["sink@example.test"], msg)
                    self.acked.add(mid)  # only after the 250
        except (OSError, smtplib.SMTPException):
            return


class Crash(unittest.TestCase):
    def test_kill9_under_load_loses_nothing(self):
        sink = Sink().start()
        d = Daemon(deliver=f"smtp://127.0.0.1:{sink.port}",
                   extra="queue {\n retry_min 1s\n retry_max 2s\n}\n")
        acked = set()
        rnd = random.Random(20261128)
        try:
            for cycle in range(3):
                d.start()
                loaders = [Loader(d.mx_port, f"c{cycle}t{i}", acked) for i in range(6)]
                for l in loaders:
                    l.start()
                src = subprocess.Popen([SMTP_SOURCE, "-s", "10", "-l", "4096", "-m", "100000",
                                        "-f", "source@example.org", "-t", "sink@example.test",
                                        f"127.0.0.1:{d.mx_port}"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1.0 + rnd.random() * 2.0)
                d.kill9()
                for l in loaders:
                    l.stop.set()
                    l.join(30)
                src.kill()
                src.wait()
            # Restart once more and let the queue drain.
            d.start()
            self.assertGreater(len(acked), 50, "the load generator got too few 250s")

            def arrived():
                return {m.header("Message-ID").strip("<>").split("@")[0]
                        for m in list(sink.messages) if m.header("Message-ID")}

            wait_for(lambda: acked <= arrived(), 90)
            missing = acked - arrived()
            self.assertEqual(missing, set(), f"{len(missing)} acknowledged messages lost\n"
                             + d.log()[-5000:])
            for m in list(sink.messages):
                digest = m.header("X-Body-SHA256")
                content = m.content
                if digest is not None:
                    body = content.split(b"\r\n\r\n", 1)[1]
                    self.assertEqual(hashlib.sha256(body).hexdigest(), digest.strip(),
                                     f"damaged message {m.header('Message-ID')}")
                else:  # smtp-source: headers, then its body of 4096 bytes
                    self.assertIn(b"\r\n\r\n", content)
                    self.assertTrue(content.endswith(b"\r\n"))
                    self.assertGreaterEqual(len(content.split(b"\r\n\r\n", 1)[1]), 4000)
            self.assertEqual(d.stop(), 0, d.log()[-3000:])
        finally:
            d.cleanup()
            sink.stop()


if __name__ == "__main__":
    unittest.main()
