# SPDX-License-Identifier: ISC
"""End to end: a message accepted by postern reaches the downstream server;
retries, bounces, restart recovery and the queue commands."""
import smtplib
import time
import unittest

from harness import Daemon, Sink, wait_for


def send(port, sender, rcpts, body, host="127.0.0.1", **kw):
    with smtplib.SMTP(host, port, timeout=30) as s:
        return s.sendmail(sender, rcpts, body, **kw)


MSG = b"From: a@example.org\r\nTo: b@example.test\r\nSubject: hi\r\n\r\nhello\r\n"


class Delivery(unittest.TestCase):
    def setUp(self):
        self.sink = Sink().start()
        self.d = Daemon(deliver=f"smtp://127.0.0.1:{self.sink.port}",
                        extra="queue {\n retry_min 1s\n retry_max 2s\n}\n").start()

    def tearDown(self):
        self.d.cleanup()
        self.sink.stop()

    def test_mx_delivers_to_domain(self):
        send(self.d.mx_port, "a@example.org", ["b@example.test"], MSG)
        msgs = self.sink.wait_messages(1)
        self.assertEqual(len(msgs), 1)
        m = msgs[0]
        self.assertEqual(m.mail_from, "a@example.org")
        self.assertEqual([r[0] for r in m.rcpts], ["b@example.test"])
        self.assertIn(b"hello", m.content)
        rec = m.header("Received")
        self.assertIsNotNone(rec)
        self.assertIn("by mx.example.test (postern) with ESMTP", rec)
        self.assertIn("[127.0.0.1]", rec)
        self.assertTrue(wait_for(lambda: self.d.queue_ids() == [], 10))

    def test_retry_after_4xx(self):
        calls = {"n": 0}

        def reply(cmd, arg, st):
            if cmd == "RCPT":
                calls["n"] += 1
                if calls["n"] <= 2:
                    return "451 4.3.0 try again"
            return None

        self.sink.reply = reply
        send(self.d.mx_port, "a@example.org", ["b@example.test"], MSG)
        msgs = self.sink.wait_messages(1, timeout=30)
        self.assertEqual(len(msgs), 1, self.d.log())
        self.assertGreaterEqual(calls["n"], 3)
        self.assertTrue(self.d.wait_log(r"relay deferred to=<b@example.test>.*451 4.3.0"))

    def test_bounce_on_5xx(self):
        def reply(cmd, arg, st):
            if cmd == "RCPT" and arg == "nobody@example.test":
                return "550 5.1.1 no such user"
            return None

        self.sink.reply = reply
        send(self.d.mx_port, "sender@example.test", ["nobody@example.test", "b@example.test"],
             MSG)
        msgs = self.sink.wait_messages(2, timeout=20)
        self.assertEqual(len(msgs), 2, self.d.log())
        bounce = [m for m in msgs if m.mail_from == ""]
        self.assertEqual(len(bounce), 1)
        b = bounce[0]
        self.assertEqual(b.rcpts[0][0], "sender@example.test")
        self.assertIn("multipart/report", b.header("Content-Type"))
        self.assertIn(b"Final-Recipient: rfc822; nobody@example.test", b.content)
        self.assertIn(b"Action: failed", b.content)
        self.assertIn(b"Status: 5.1.1", b.content)
        self.assertIn(b"550 5.1.1 no such user", b.content)

    def test_no_bounce_for_a_bounce(self):
        self.sink.reply = lambda cmd, arg, st: "550 5.1.1 gone" if cmd == "RCPT" else None
        send(self.d.mx_port, "", ["nobody@example.test"], MSG)
        self.assertTrue(self.d.wait_log(r"dsn-suppressed reason=null-sender"), self.d.log())
        time.sleep(1)
        self.assertEqual(self.sink.messages, [])

    def test_queue_survives_restart(self):
        self.sink.stop()
        send(self.d.mx_port, "a@example.org", ["b@example.test"], MSG)
        ids = self.d.queue_ids()
        self.assertEqual(len(ids), 1)
        self.assertEqual(self.d.stop(), 0, self.d.log())
        self.sink = Sink(port=self.sink.port).start()
        self.d.start()
        msgs = self.sink.wait_messages(1, timeout=30)
        self.assertEqual(len(msgs), 1, self.d.log())
        self.assertIn(f"id {ids[0]}", msgs[0].header("Received"))

    def test_queue_commands(self):
        self.sink.stop()
        send(self.d.mx_port, "a@example.org", ["b@example.test"], MSG)
        [qid] = self.d.queue_ids()
        show = self.d.ctl("queue", "show", qid).stdout
        self.assertIn("sender: <a@example.org>", show)
        self.assertIn("recipient: <b@example.test>", show)
        self.assertIn("Subject: hi", show)
        self.d.ctl("queue", "hold", qid)
        self.assertIn("held", self.d.ctl("queue", "list").stdout)
        self.sink = Sink(port=self.sink.port).start()
        self.d.ctl("queue", "flush")
        time.sleep(3)
        self.assertEqual(self.sink.messages, [])
        self.d.ctl("queue", "release", qid)
        self.assertEqual(len(self.sink.wait_messages(1)), 1)
        self.assertTrue(wait_for(lambda: self.d.queue_ids() == []))
        # delete
        self.sink.stop()
        send(self.d.mx_port, "a@example.org", ["b@example.test"], MSG)
        [qid] = self.d.queue_ids()
        self.d.ctl("queue", "delete", qid)
        self.assertEqual(self.d.queue_ids(), [])
        p = self.d.ctl("queue", "show", qid, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("no message", p.stderr)


if __name__ == "__main__":
    unittest.main()
