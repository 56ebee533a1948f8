# SPDX-License-Identifier: ISC
"""8BITMIME (RFC 6152) and SMTPUTF8 (RFC 6531): 8-bit bodies and UTF-8
addresses are accepted when declared, passed on with the same parameters,
refused when undeclared, and never downgraded: a next hop without SMTPUTF8
means a bounce (5.6.7) to the sender."""
import smtplib
import unittest

from harness import DaemonAndSink, Daemon, ProtoClient, Sink, sink_wait, smtp_send, wait_for


class EightBit(DaemonAndSink):
    def test_8bit_body_with_body_8bitmime(self):
        body = ("From: a@example.org\r\nSubject: 8bit\r\nMIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
                "\r\nGrüße, naïve café\r\n").encode()
        self.assertEqual(smtp_send(self.d.mx_port, "eight@example.org", ["b@example.test"], body,
                                   mail_options=["BODY=8BITMIME"]), {})
        [m] = sink_wait(self.sink, lambda m: m.mail_from == "eight@example.org")
        self.assertIn("BODY=8BITMIME", m.mail_params.split())
        self.assertIn("Grüße, naïve café\r\n".encode(), m.content)

    def test_utf8_addresses_with_smtputf8(self):
        sender, rcpt = "jürgen@example.org", "δοκιμή@example.test"
        body = "From: jürgen@example.org\r\nSubject: ünïcode\r\n\r\nhej\r\n".encode()
        with smtplib.SMTP("127.0.0.1", self.d.mx_port, timeout=20) as s:
            self.assertEqual(s.sendmail(sender, [rcpt], body, mail_options=["SMTPUTF8"]), {})
        [m] = sink_wait(self.sink, lambda m: m.mail_from == sender)
        self.assertIn("SMTPUTF8", m.mail_params.split())
        self.assertEqual([a for a, _ in m.rcpts], [rcpt])
        self.assertIn("with UTF8SMTP", m.header("Received"))  # RFC 6531 3.7.3
        self.assertIn("Subject: ünïcode".encode(), m.content)

    def test_utf8_sender_without_smtputf8(self):
        c = ProtoClient(self.d.mx_port)
        self.addCleanup(c.close)
        c.ehlo()
        r = c.cmd("MAIL FROM:<jürgen@example.org>")
        self.assertTrue(r.startswith("553 5.6.7"), r)

    def test_utf8_recipient_without_smtputf8(self):
        c = ProtoClient(self.d.mx_port)
        self.addCleanup(c.close)
        c.ehlo()
        self.assertTrue(c.cmd("MAIL FROM:<a@example.org>").startswith("250"))
        r = c.cmd("RCPT TO:<δοκιμή@example.test>")
        self.assertTrue(r.startswith("553 5.6.7"), r)
        r = c.cmd("RCPT TO:<user@bücher.example.test>")
        self.assertTrue(r.startswith("553 5.6.7"), r)

    def test_smtputf8_needs_ehlo(self):
        c = ProtoClient(self.d.mx_port)
        self.addCleanup(c.close)
        self.assertTrue(c.cmd("HELO client.example.org").startswith("250"))
        r = c.cmd("MAIL FROM:<jürgen@example.org> SMTPUTF8")
        self.assertTrue(r.startswith("5"), r)


class NoSmtputf8Downstream(unittest.TestCase):
    """example.test's server lacks SMTPUTF8; the sender's domain (example.org)
    is served by a second sink that has it, so the bounce can arrive."""

    def setUp(self):
        self.plain = Sink(ehlo=("PIPELINING", "8BITMIME", "DSN", "SIZE 100000000",
                                "ENHANCEDSTATUSCODES")).start()
        self.back = Sink().start()
        self.d = Daemon(domains=(), extra=(
            f"domain example.test {{\n deliver smtp://127.0.0.1:{self.plain.port}\n}}\n"
            f"domain example.org {{\n deliver smtp://127.0.0.1:{self.back.port}\n}}\n")).start()

    def tearDown(self):
        self.d.cleanup()
        self.plain.stop()
        self.back.stop()

    def test_bounce_instead_of_downgrade(self):
        sender, rcpt = "sender@example.org", "δοκιμή@example.test"
        body = "From: sender@example.org\r\nSubject: no downgrade\r\n\r\nhej\r\n".encode()
        with smtplib.SMTP("127.0.0.1", self.d.mx_port, timeout=20) as s:
            self.assertEqual(s.sendmail(sender, [rcpt], body, mail_options=["SMTPUTF8"]), {})
        bounces = sink_wait(self.back, lambda m: m.mail_from == "", timeout=20)
        self.assertEqual(len(bounces), 1, self.d.log())
        b = bounces[0]
        self.assertEqual([a for a, _ in b.rcpts], [sender])
        self.assertIn(b"Action: failed", b.content)
        self.assertIn(b"Status: 5.6.7", b.content)
        self.assertIn(rcpt.encode(), b.content)
        # Nothing reached the server that cannot take it, downgraded or not.
        self.assertEqual(self.plain.messages, [])
        self.assertTrue(self.d.wait_log(r"relay bounced .*5\.6\.7"))

    # RFC 6533 (3, 6.2): a DSN about a UTF-8 address uses the "utf-8" address
    # type in message/global-delivery-status; message/delivery-status
    # (RFC 3464) is US-ASCII only.
    def test_bounce_about_utf8_address_is_global_dsn(self):
        body = "From: sender@example.org\r\nSubject: no downgrade\r\n\r\nhej\r\n".encode()
        with smtplib.SMTP("127.0.0.1", self.d.mx_port, timeout=20) as s:
            s.sendmail("sender@example.org", ["δοκιμή@example.test"], body,
                       mail_options=["SMTPUTF8"])
        [b] = sink_wait(self.back, lambda m: m.mail_from == "", timeout=20)
        self.assertIn(b"Content-Type: message/global-delivery-status", b.content)
        self.assertIn("Final-Recipient: utf-8; δοκιμή@example.test".encode(), b.content)


class No8bitmimeDownstream(unittest.TestCase):
    def setUp(self):
        self.sink = Sink(ehlo=("PIPELINING", "SMTPUTF8", "DSN", "SIZE 100000000",
                               "ENHANCEDSTATUSCODES")).start()
        self.d = Daemon(deliver=f"smtp://127.0.0.1:{self.sink.port}").start()

    def tearDown(self):
        self.d.cleanup()
        self.sink.stop()

    # RFC 6152 section 3: to a server without 8BITMIME the client MUST NOT
    # send octets above 127; it converts to 7bit MIME or treats it as a
    # permanent failure (bounce). postern bounces (5.6.3).
    def test_8bit_never_reaches_a_7bit_server(self):
        body = ("From: sender@example.test\r\nSubject: 8bit\r\nMIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n"
                "Content-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n").encode()
        smtp_send(self.d.mx_port, "sender@example.test", ["b@example.test"], body,
                  mail_options=["BODY=8BITMIME"])
        self.assertTrue(wait_for(lambda: self.d.queue_ids() == [], 15))
        for m in self.sink.messages:
            if m.mail_from == "sender@example.test":
                self.assertFalse(any(c >= 0x80 for c in m.data), m.data)
        self.assertTrue(self.d.wait_log(r"relay bounced to=<b@example.test>.*5\.6\.3"))


if __name__ == "__main__":
    unittest.main()
