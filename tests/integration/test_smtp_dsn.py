# SPDX-License-Identifier: ISC
"""DSN (RFC 3461): RET/ENVID and NOTIFY/ORCPT pass to a next hop that
offers DSN; with one that does not, postern reports itself (Action:
relayed) when asked; NOTIFY=NEVER means no bounce; RET=HDRS returns only
the headers (RFC 3462 text/rfc822-headers)."""
import time
import unittest

from harness import Daemon, Sink, sink_wait, smtp_send, wait_for

MSG = (b"From: sender@example.test\r\nTo: b@example.test\r\nSubject: dsn test\r\n\r\n"
       b"BODY-MARKER line\r\n.leading dot\r\n")

NO_DSN = ("PIPELINING", "8BITMIME", "SMTPUTF8", "SIZE 100000000", "ENHANCEDSTATUSCODES")


class DsnBase(unittest.TestCase):
    ehlo = ("PIPELINING", "8BITMIME", "SMTPUTF8", "DSN", "SIZE 100000000",
            "ENHANCEDSTATUSCODES")

    def setUp(self):
        self.sink = Sink(ehlo=self.ehlo).start()
        self.d = Daemon(deliver=f"smtp://127.0.0.1:{self.sink.port}",
                        extra="queue {\n retry_min 1s\n retry_max 2s\n}\n").start()

    def tearDown(self):
        self.d.cleanup()
        self.sink.stop()

    def bounces(self, n=1, timeout=15):
        return sink_wait(self.sink, lambda m: m.mail_from == "", n=n, timeout=timeout)

    def settle(self):
        """Wait until the queue is empty (every attempt and DSN done)."""
        self.assertTrue(wait_for(lambda: self.d.queue_ids() == [], 20), self.d.log())


class WithDsnDownstream(DsnBase):
    def test_parameters_passed_on(self):
        self.assertEqual(smtp_send(
            self.d.mx_port, "sender@example.test", ["b@example.test", "c@example.test"], MSG,
            mail_options=["RET=HDRS", "ENVID=QQ314159+2B"],
            rcpt_options=["NOTIFY=SUCCESS,FAILURE", "ORCPT=rfc822;orig+2Bb@example.test"]), {})
        [m] = sink_wait(self.sink, lambda m: m.mail_from == "sender@example.test")
        params = m.mail_params.split()
        self.assertIn("RET=HDRS", params)
        self.assertIn("ENVID=QQ314159+2B", params)
        self.assertEqual(len(m.rcpts), 2)
        for addr, p in m.rcpts:
            rp = p.split()
            notify = [x for x in rp if x.upper().startswith("NOTIFY=")]
            self.assertEqual(len(notify), 1, p)
            self.assertEqual(sorted(notify[0][7:].upper().split(",")), ["FAILURE", "SUCCESS"])
            self.assertIn("ORCPT=rfc822;orig+2Bb@example.test", rp)
        # The next hop does DSN itself: no report from us.
        self.settle()
        time.sleep(0.5)
        self.assertEqual(self.bounces(timeout=0), [])

    def test_notify_never_suppresses_bounce(self):
        self.sink.reply = lambda cmd, arg, st: (
            "550 5.1.1 no such user" if cmd == "RCPT" and arg == "gone@example.test" else None)
        smtp_send(self.d.mx_port, "sender@example.test", ["gone@example.test"], MSG,
                  rcpt_options=["NOTIFY=NEVER"])
        self.assertTrue(self.d.wait_log(r"relay bounced to=<gone@example.test>"), self.d.log())
        self.settle()
        time.sleep(1)
        self.assertEqual(self.bounces(timeout=0), [])
        self.assertNotIn("dsn-sent", self.d.log())

    def test_failure_bounce_by_default(self):
        # Control for the NOTIFY=NEVER test: the same failure without it bounces.
        self.sink.reply = lambda cmd, arg, st: (
            "550 5.1.1 no such user" if cmd == "RCPT" and arg == "gone@example.test" else None)
        smtp_send(self.d.mx_port, "sender@example.test", ["gone@example.test"], MSG)
        [b] = self.bounces()
        self.assertEqual([a for a, _ in b.rcpts], ["sender@example.test"])
        self.assertIn(b"Action: failed", b.content)
        self.assertIn(b"Status: 5.1.1", b.content)
        # RET not given: the full message returns, dot lines intact.
        self.assertIn(b"message/rfc822", b.content)
        self.assertIn(b"\r\nBODY-MARKER line\r\n.leading dot\r\n", b.content)

    def test_ret_hdrs_returns_headers_only(self):
        self.sink.reply = lambda cmd, arg, st: (
            "550 5.1.1 no such user" if cmd == "RCPT" and arg == "gone@example.test" else None)
        smtp_send(self.d.mx_port, "sender@example.test", ["gone@example.test"], MSG,
                  mail_options=["RET=HDRS", "ENVID=env-42"])
        [b] = self.bounces()
        self.assertIn(b"Content-Type: text/rfc822-headers", b.content)
        self.assertNotIn(b"message/rfc822", b.content)
        self.assertIn(b"Subject: dsn test", b.content)
        self.assertNotIn(b"BODY-MARKER", b.content)
        self.assertIn(b"Original-Envelope-Id: env-42", b.content)
        self.assertIn(b"Final-Recipient: rfc822; gone@example.test", b.content)


class WithoutDsnDownstream(DsnBase):
    ehlo = NO_DSN

    def test_notify_success_gives_relayed_dsn(self):
        smtp_send(self.d.mx_port, "sender@example.test", ["b@example.test", "c@example.test"],
                  MSG, rcpt_options=["NOTIFY=SUCCESS", "ORCPT=rfc822;b@example.test"])
        [m] = sink_wait(self.sink, lambda m: m.mail_from == "sender@example.test")
        # Nothing DSN-related can go to a server that does not offer it.
        self.assertNotIn("NOTIFY", " ".join(p for _, p in m.rcpts))
        self.assertNotIn("RET=", m.mail_params)
        [b] = self.bounces()
        self.assertEqual([a for a, _ in b.rcpts], ["sender@example.test"])
        self.assertIn("multipart/report", b.header("Content-Type"))
        self.assertIn("report-type=delivery-status", b.header("Content-Type"))
        self.assertEqual(b.content.count(b"Action: relayed"), 2, b.content)
        self.assertIn(b"Final-Recipient: rfc822; b@example.test", b.content)
        self.assertIn(b"Final-Recipient: rfc822; c@example.test", b.content)
        self.assertIn(b"Status: 2.", b.content)
        self.assertNotIn(b"Action: failed", b.content)

    def test_no_notify_no_success_dsn(self):
        smtp_send(self.d.mx_port, "quiet@example.test", ["b@example.test"], MSG)
        self.assertEqual(len(sink_wait(self.sink,
                                       lambda m: m.mail_from == "quiet@example.test")), 1)
        self.settle()
        time.sleep(0.5)
        self.assertEqual(self.bounces(timeout=0), [])


if __name__ == "__main__":
    unittest.main()
