# SPDX-License-Identifier: ISC
"""Retries end: a message still undelivered after max_lifetime is bounced
(4.4.7), and a recipient that asked for NOTIFY=DELAY is told after
delay_warning that delivery is still being retried."""
import smtplib
import unittest

from harness import Daemon, Sink, sink_wait

MSG = b"From: s@example.test\r\nSubject: expires\r\n\r\nnever delivered\r\n"


class Expiry(unittest.TestCase):
    def setUp(self):
        # Mail to slow.example.test is always deferred; bounces come back here.
        def reply(cmd, arg, st):
            if cmd == "RCPT" and arg.endswith("@slow.example.test"):
                return "451 4.3.2 come back later"
            return None

        self.sink = Sink(reply=reply).start()
        deliver = f"smtp://127.0.0.1:{self.sink.port}"
        self.d = Daemon(domains=("example.test", "slow.example.test"), deliver=deliver,
                        extra="queue {\n retry_min 1s\n retry_max 1s\n max_lifetime 4s\n"
                              " delay_warning 1s\n}\n").start()

    def tearDown(self):
        self.d.cleanup()
        self.sink.stop()

    def test_delay_notice_then_expiry_bounce(self):
        with smtplib.SMTP("127.0.0.1", self.d.mx_port, timeout=30) as s:
            s.ehlo()
            s.mail("s@example.test")
            s.rcpt("r@slow.example.test", options=["NOTIFY=DELAY,FAILURE"])
            s.data(MSG)
        delayed = sink_wait(self.sink, lambda m: m.mail_from == "" and
                            b"Action: delayed" in m.content, timeout=20)
        self.assertEqual(len(delayed), 1, self.d.log())
        self.assertIn(b"Status: 4.3.2", delayed[0].content)
        failed = sink_wait(self.sink, lambda m: m.mail_from == "" and
                           b"Action: failed" in m.content, timeout=30)
        self.assertEqual(len(failed), 1, self.d.log())
        self.assertIn(b"Status: 4.4.7", failed[0].content)
        self.assertIn(b"451 4.3.2 come back later", failed[0].content)
        self.assertIn(b"never delivered", failed[0].content)
        self.assertTrue(self.d.wait_log(r"queue removed reason=done"))
        # exactly one of each
        self.assertEqual(sum(1 for m in self.sink.messages if b"Action: delayed" in m.content), 1)


if __name__ == "__main__":
    unittest.main()
