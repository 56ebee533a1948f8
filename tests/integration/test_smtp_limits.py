# SPDX-License-Identifier: ISC
"""Session limits from the smtp { } block: max_message_size (RFC 1870),
max_recipients (RFC 5321 4.5.3.1.8), max_errors, max_connections_per_ip
and command_timeout."""
import smtplib
import time
import unittest

from harness import Daemon, ProtoClient, Sink, queued_id, sink_wait, smtp_send, wait_for

SMALL = b"From: a@example.org\r\nSubject: small\r\n\r\nsmall\r\n"


def big_message(kib=100):
    line = b"x" * 98 + b"\r\n"
    return b"From: a@example.org\r\nSubject: big\r\n\r\n" + line * (kib * 1024 // len(line))


class Limits(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sink = Sink().start()
        cls.d = Daemon(deliver=f"smtp://127.0.0.1:{cls.sink.port}",
                       extra="smtp {\n max_message_size 64k\n max_recipients 3\n"
                             " max_errors 4\n}\n").start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.sink.stop()

    def client(self):
        c = ProtoClient(self.d.mx_port)
        self.addCleanup(c.close)
        c.ehlo()
        return c

    def test_size_advertised(self):
        self.assertIn("250-SIZE 65536", self.client().ehlo())

    def test_declared_size_over_limit(self):
        c = self.client()
        r = c.cmd("MAIL FROM:<declared@example.org> SIZE=100000")
        self.assertTrue(r.startswith("552 5.3.4"), r)
        r = c.cmd("MAIL FROM:<declared@example.org> SIZE=60000")
        self.assertTrue(r.startswith("250"), r)

    def test_declared_size_over_limit_smtplib(self):
        with smtplib.SMTP("127.0.0.1", self.d.mx_port, timeout=10) as s:
            s.ehlo("client.example.org")
            self.assertEqual(s.esmtp_features["size"], "65536")
            code, text = s.mail("declared2@example.org", ["SIZE=100000"])
            self.assertEqual(code, 552)
            self.assertTrue(text.startswith(b"5.3.4"), text)
        # smtplib's sendmail declares the real size itself: the limit shows there too.
        with self.assertRaises(smtplib.SMTPSenderRefused) as cm:
            smtp_send(self.d.mx_port, "declared3@example.org", ["b@example.test"],
                      big_message(70))
        self.assertEqual(cm.exception.smtp_code, 552)

    def test_oversized_content_refused_and_session_continues(self):
        c = self.client()
        self.assertTrue(c.cmd("MAIL FROM:<big@example.org>").startswith("250"))
        self.assertTrue(c.cmd("RCPT TO:<b@example.test>").startswith("250"))
        self.assertTrue(c.cmd("DATA").startswith("354"))
        c.send(big_message(100) + b".\r\n")
        r = c.reply()
        self.assertTrue(r.startswith("552 5.3.4"), r)
        self.assertEqual(self.d.queue_ids(), [])
        # The same session goes on and a small message is accepted.
        self.assertTrue(c.cmd("MAIL FROM:<afterbig@example.org>").startswith("250"))
        self.assertTrue(c.cmd("RCPT TO:<b@example.test>").startswith("250"))
        self.assertTrue(c.cmd("DATA").startswith("354"))
        r = c.cmd(SMALL.decode() + ".")
        self.assertTrue(r.startswith("250 2.0.0") and queued_id(r), r)
        self.assertEqual(len(sink_wait(self.sink,
                                       lambda m: m.mail_from == "afterbig@example.org")), 1)
        self.assertEqual(sink_wait(self.sink, lambda m: m.mail_from == "big@example.org",
                                   timeout=0), [])

    def test_oversized_bdat_refused(self):
        c = self.client()
        self.assertTrue(c.cmd("MAIL FROM:<bigbdat@example.org>").startswith("250"))
        self.assertTrue(c.cmd("RCPT TO:<b@example.test>").startswith("250"))
        c.bdat(big_message(100), last=True)
        r = c.reply()
        self.assertTrue(r.startswith("552 5.3.4"), r)
        self.assertEqual(c.cmd("NOOP"), "250 2.0.0 Ok")
        self.assertEqual(self.d.queue_ids(), [])

    def test_max_recipients(self):
        c = self.client()
        self.assertTrue(c.cmd("MAIL FROM:<many@example.org>").startswith("250"))
        for i in range(3):
            self.assertTrue(c.cmd(f"RCPT TO:<r{i}@example.test>").startswith("250"))
        r = c.cmd("RCPT TO:<r3@example.test>")
        self.assertTrue(r.startswith("452 4.5.3"), r)
        self.assertTrue(c.cmd("DATA").startswith("354"))
        self.assertTrue(c.cmd(SMALL.decode() + ".").startswith("250"))
        [m] = sink_wait(self.sink, lambda m: m.mail_from == "many@example.org")
        self.assertEqual(sorted(a for a, _ in m.rcpts),
                         ["r0@example.test", "r1@example.test", "r2@example.test"])

    def test_max_errors(self):
        c = self.client()
        for i in range(3):
            r = c.cmd("BOGUS")
            self.assertTrue(r.startswith("500"), r)
        replies, closed = c.drain(0.5)
        self.assertEqual(replies, [])  # nothing unasked for
        self.assertFalse(closed)
        c.send("BOGUS\r\n")
        replies, closed = c.drain(5)
        self.assertEqual(len(replies), 2, replies)
        self.assertTrue(replies[0].startswith("500"), replies)
        self.assertTrue(replies[1].startswith("421"), replies)
        self.assertTrue(closed)

    def test_max_errors_reached_by_refused_content(self):
        # The last allowed error is a refused message; a command pipelined
        # behind it must not be served after the 421.
        c = self.client()
        for i in range(3):
            self.assertTrue(c.cmd("BOGUS").startswith("500"))
        self.assertTrue(c.cmd("MAIL FROM:<toomany@example.org>").startswith("250"))
        self.assertTrue(c.cmd("RCPT TO:<b@example.test>").startswith("250"))
        self.assertTrue(c.cmd("DATA").startswith("354"))
        c.send(big_message(100) + b".\r\nMAIL FROM:<toomany@example.org>\r\n")
        replies, closed = c.drain(5)
        self.assertEqual(len(replies), 2, replies)
        self.assertTrue(replies[0].startswith("552 5.3.4"), replies)
        self.assertTrue(replies[1].startswith("421"), replies)
        self.assertTrue(closed)


class ConnectionsPerIp(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(deliver="smtp://127.0.0.1:9",
                        extra="smtp {\n max_connections_per_ip 2\n}\n").start()

    def tearDown(self):
        self.d.cleanup()

    def test_extra_connection_refused(self):
        a = ProtoClient(self.d.mx_port)
        b = ProtoClient(self.d.sub_port)  # the limit is per address, any listener
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        self.assertTrue(a.greeting.startswith("220") and b.greeting.startswith("220"))
        c = ProtoClient(self.d.mx_port)
        self.addCleanup(c.close)
        self.assertTrue(c.greeting.startswith("421"), c.greeting)
        self.assertTrue(c.closed())
        # The first two are unaffected, and a slot frees up when one leaves.
        self.assertTrue(a.cmd("NOOP").startswith("250"))
        self.assertTrue(b.cmd("QUIT").startswith("221"))
        self.assertTrue(b.closed())

        def fourth():
            d = ProtoClient(self.d.mx_port)
            ok = d.greeting.startswith("220")
            d.close()
            return ok
        self.assertTrue(wait_for(fourth, 5))


class CommandTimeout(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(deliver="smtp://127.0.0.1:9",
                        extra="smtp {\n command_timeout 2s\n}\n").start()

    def tearDown(self):
        self.d.cleanup()

    def test_idle_client_is_dropped(self):
        c = ProtoClient(self.d.mx_port)
        self.addCleanup(c.close)
        c.ehlo()
        t = time.time()
        replies, closed = c.drain(6)
        waited = time.time() - t
        self.assertEqual(len(replies), 1, replies)
        self.assertTrue(replies[0].startswith("421 4.4.2"), replies)
        self.assertTrue(closed)
        self.assertGreaterEqual(waited, 1.5)
        self.assertLess(waited, 5)


if __name__ == "__main__":
    unittest.main()
