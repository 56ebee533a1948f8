# SPDX-License-Identifier: ISC
"""The SMTP command set as a client sees it: the EHLO keywords, HELO, HELP,
NOOP, RSET, VRFY, EXPN, unknown commands and bad command sequences
(RFC 5321 4.1, 4.3.2; RFC 1869 EHLO keywords)."""
import smtplib
import unittest

from harness import DaemonAndSink, no_verify, Daemon, ProtoClient, Sink, sink_wait, swaks, wait_for

MSG = b"From: a@example.org\r\nTo: b@example.test\r\nSubject: cmds\r\n\r\nhello\r\n"


class Commands(DaemonAndSink):
    def client(self):
        c = ProtoClient(self.d.mx_port)
        self.addCleanup(c.close)
        self.assertTrue(c.greeting.startswith("220 mx.example.test"), c.greeting)
        return c

    def test_ehlo_advertises_exactly_the_offered_extensions(self):
        with smtplib.SMTP("127.0.0.1", self.d.mx_port, timeout=10) as s:
            code, text = s.ehlo("client.example.org")
            self.assertEqual(code, 250)
            lines = text.decode().split("\n")
            self.assertEqual(lines[0], "mx.example.test")
            self.assertEqual(lines[1:], ["STARTTLS", "PIPELINING", "SIZE 52428800", "8BITMIME",
                                         "SMTPUTF8", "ENHANCEDSTATUSCODES", "DSN", "CHUNKING"])
            self.assertFalse(s.has_extn("auth"))
            self.assertEqual(s.esmtp_features["size"], "52428800")
            # after STARTTLS: no STARTTLS again, and still no AUTH (not yet)
            s.starttls(context=no_verify())
            code, text = s.ehlo("client.example.org")
            self.assertEqual(text.decode().split("\n")[1:],
                             ["PIPELINING", "SIZE 52428800", "8BITMIME", "SMTPUTF8",
                              "ENHANCEDSTATUSCODES", "DSN", "CHUNKING"])

    def test_auth_before_tls_is_538_and_not_yet_available_after(self):
        c = self.client()
        c.ehlo()
        self.assertTrue(c.cmd("AUTH PLAIN AGFAYg==").startswith("538 5.7.11"))
        self.assertTrue(c.cmd("NOOP").startswith("250"))
        self.assertTrue(c.starttls().startswith("220"))
        c.ehlo()
        self.assertTrue(c.cmd("STARTTLS").startswith("503 5.5.1"))
        self.assertTrue(c.cmd("AUTH PLAIN AGFAYg==").startswith("502 5.5.1"))

    def test_helo_session_delivers(self):
        with smtplib.SMTP("127.0.0.1", self.d.mx_port, timeout=10) as s:
            code, text = s.helo("client.example.org")
            self.assertEqual((code, text), (250, b"mx.example.test"))
            self.assertEqual(s.sendmail("helo@example.org", ["b@example.test"], MSG), {})
        [m] = sink_wait(self.sink, lambda m: m.mail_from == "helo@example.org")
        self.assertIn("with SMTP", m.header("Received"))
        self.assertIn(b"\r\n\r\nhello\r\n", m.content)

    def test_helo_refuses_esmtp_parameters(self):
        c = self.client()
        self.assertEqual(c.cmd("HELO client.example.org"), "250 mx.example.test")
        r = c.cmd("MAIL FROM:<a@example.org> SIZE=100")
        self.assertTrue(r.startswith("555 5.5.4"), r)

    def test_help(self):
        c = self.client()
        r = c.cmd("HELP")
        lines = r.split("\n")
        self.assertTrue(all(l.startswith("214") for l in lines), r)
        self.assertTrue(lines[-1].startswith("214 "), r)
        for verb in ("EHLO", "MAIL", "RCPT", "DATA", "BDAT", "QUIT"):
            self.assertIn(verb, r)

    def test_noop_rset_vrfy_expn(self):
        c = self.client()
        c.ehlo()
        self.assertEqual(c.cmd("NOOP"), "250 2.0.0 Ok")
        self.assertTrue(c.cmd("MAIL FROM:<a@example.org>").startswith("250"))
        self.assertEqual(c.cmd("RSET"), "250 2.0.0 Ok")
        # RSET ended the transaction: RCPT needs a new MAIL.
        self.assertTrue(c.cmd("RCPT TO:<b@example.test>").startswith("503"))
        r = c.cmd("VRFY b@example.test")
        self.assertTrue(r.startswith("252 2."), r)
        r = c.cmd("EXPN staff")
        self.assertTrue(r.startswith("502 5."), r)
        self.assertEqual(c.cmd("QUIT"), "221 2.0.0 Bye")
        self.assertTrue(c.closed())

    def test_unknown_command(self):
        c = self.client()
        c.ehlo()
        r = c.cmd("XYZZY plugh")
        self.assertTrue(r.startswith("500 5.5.2"), r)
        self.assertTrue(c.cmd("NOOP").startswith("250"))  # the session goes on

    def test_mail_before_ehlo(self):
        c = self.client()
        r = c.cmd("MAIL FROM:<a@example.org>")
        self.assertTrue(r.startswith("503 5.5.1"), r)
        c.ehlo()
        self.assertTrue(c.cmd("MAIL FROM:<a@example.org>").startswith("250"))

    def test_rcpt_before_mail(self):
        c = self.client()
        c.ehlo()
        r = c.cmd("RCPT TO:<b@example.test>")
        self.assertTrue(r.startswith("503 5.5.1"), r)

    def test_data_without_rcpt(self):
        c = self.client()
        c.ehlo()
        r = c.cmd("DATA")
        self.assertTrue(r.startswith("503 5.5.1"), r)
        self.assertTrue(c.cmd("MAIL FROM:<a@example.org>").startswith("250"))
        r = c.cmd("DATA")
        self.assertTrue(r[:3] in ("503", "554"), r)
        self.assertFalse(r.startswith("354"))
        # Still in the transaction: a RCPT and DATA now work.
        self.assertTrue(c.cmd("RCPT TO:<b@example.test>").startswith("250"))
        self.assertTrue(c.cmd("DATA").startswith("354"))
        r = c.cmd("Subject: t\r\n\r\nx\r\n.")
        self.assertTrue(r.startswith("250 2.0.0"), r)

    def test_nested_mail(self):
        c = self.client()
        c.ehlo()
        self.assertTrue(c.cmd("MAIL FROM:<a@example.org>").startswith("250"))
        self.assertTrue(c.cmd("MAIL FROM:<a@example.org>").startswith("503 5.5.1"))

    def test_swaks_delivers(self):
        p = swaks("--server", f"127.0.0.1:{self.d.mx_port}", "--from", "swaks@example.org",
                  "--to", "b@example.test", "--helo", "client.example.org",
                  "--header", "Subject: via swaks", "--body", "swaks body", timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        [m] = sink_wait(self.sink, lambda m: m.mail_from == "swaks@example.org")
        self.assertEqual(m.header("Subject"), "via swaks")
        self.assertIn(b"swaks body", m.content)
        self.assertTrue(wait_for(lambda: self.d.queue_ids() == [], 10), self.d.queue_ids())


if __name__ == "__main__":
    unittest.main()
