# SPDX-License-Identifier: ISC
"""Outbound delivery by MX lookup (no smarthost) through libunbound, with
the test DNS (knot) as `resolver`: MX preference and fallback, implicit MX,
null MX (RFC 7505) and a domain that does not exist."""
import smtplib
import unittest

from harness import Daemon, Sink, wait_for
from testdns import Knot

MSG = b"From: a@example.org\r\nTo: x@dest.test\r\nSubject: mx\r\n\r\nby MX\r\n"

# Sinks listen on port 25 of otherwise unused loopback addresses.
PRIMARY = "127.77.0.25"
DOWN = "127.77.0.26"
BACKUP = "127.77.0.27"


def send(port, rcpts, sender="a@example.org"):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.sendmail(sender, rcpts, MSG)


class MX(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = Knot({
            "dest.test": f"@ MX 10 mx1\n@ MX 20 mx2\nmx1 A {PRIMARY}\nmx2 A {BACKUP}\n",
            "fallback.test": f"@ MX 10 dead\n@ MX 20 alive\ndead A {DOWN}\n"
                             f"alive A {BACKUP}\n",
            "implicit.test": f"@ A {PRIMARY}\n",
            "nullmx.test": "@ MX 0 .\n",
            "bounces.test": f"@ MX 10 mx\nmx A {PRIMARY}\n",
        }).start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def setUp(self):
        self.primary = Sink(host=PRIMARY, port=25).start()
        self.backup = Sink(host=BACKUP, port=25).start()
        self.d = Daemon(domains=(), trusted="127.0.0.1/32",
                        extra=f"resolver 127.0.0.1:{self.dns.port}\n").start()

    def tearDown(self):
        self.d.cleanup()
        self.primary.stop()
        self.backup.stop()

    def test_lowest_preference_first(self):
        send(self.d.mx_port, ["x@dest.test"])
        self.assertEqual(len(self.primary.wait_messages(1)), 1, self.d.log())
        self.assertEqual(self.backup.messages, [])
        self.assertTrue(self.d.wait_log(r"relay sent to=<x@dest.test> relay=mx1.dest.test\["))

    def test_falls_back_to_next_mx(self):
        send(self.d.mx_port, ["y@fallback.test"])
        self.assertEqual(len(self.backup.wait_messages(1)), 1, self.d.log())

    def test_implicit_mx(self):
        send(self.d.mx_port, ["z@implicit.test"])
        self.assertEqual(len(self.primary.wait_messages(1)), 1, self.d.log())

    def test_null_mx_bounces(self):
        send(self.d.mx_port, ["nobody@nullmx.test"], sender="s@bounces.test")
        msgs = self.primary.wait_messages(1)
        self.assertEqual(len(msgs), 1, self.d.log())
        self.assertEqual(msgs[0].mail_from, "")
        self.assertIn(b"Status: 5.1.10", msgs[0].content)

    def test_nxdomain_bounces(self):
        send(self.d.mx_port, ["nobody@missing.dest.test"], sender="s@bounces.test")
        msgs = self.primary.wait_messages(1)
        self.assertEqual(len(msgs), 1, self.d.log())
        self.assertIn(b"Status: 5.1.2", msgs[0].content)
        self.assertTrue(wait_for(lambda: self.d.queue_ids() == []))


if __name__ == "__main__":
    unittest.main()
