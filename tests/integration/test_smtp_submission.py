# SPDX-License-Identifier: ISC
"""Submission fix-ups (RFC 6409 section 8.3, 8.4): a message submitted
without Date or Message-ID gets them; one that has them is left alone; mail
arriving on the mx listener is never changed. Every message gets a Received
header (RFC 5321 4.4) naming the protocol and the queue id."""
import email.utils
import smtplib
import unittest

from harness import DaemonAndSink, no_verify, Daemon, ProtoClient, Sink, queued_id, sink_wait

BARE = b"From: user@example.test\r\nTo: b@example.test\r\nSubject: bare\r\n\r\nbody\r\n"
FULL = (b"From: user@example.test\r\nTo: b@example.test\r\nSubject: full\r\n"
        b"Date: Mon, 02 Jan 2006 15:04:05 -0700\r\nMessage-ID: <keep.me@client.example>\r\n"
        b"\r\nbody\r\n")


def send_data(port, sender, body, starttls=True):
    """One message through smtplib (after STARTTLS); returns the queue id
    from the 250 reply."""
    with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
        s.ehlo("client.example.org")
        if starttls:
            s.starttls(context=no_verify())
            s.ehlo("client.example.org")
        code, _ = s.mail(sender)
        assert code == 250
        code, _ = s.rcpt("b@example.test")
        assert code == 250
        code, text = s.data(body)
        assert code == 250, text
        return queued_id(text.decode())


def strip_received(content):
    assert content.startswith(b"Received: "), content[:60]
    i = content.index(b"\r\n")
    while content[i + 2:i + 3] in (b" ", b"\t"):
        i = content.index(b"\r\n", i + 2)
    return content[i + 2:]


def headers(content):
    return content.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")


class Submission(DaemonAndSink):
    def delivered(self, sender):
        msgs = sink_wait(self.sink, lambda m: m.mail_from == sender)
        self.assertEqual(len(msgs), 1, self.d.log())
        return msgs[0]

    def assert_received(self, m, qid, proto="ESMTP"):
        rec = m.header("Received")
        self.assertIsNotNone(rec)
        self.assertIn(f"by mx.example.test (postern) with {proto}", rec)
        self.assertIn(f"id {qid}", rec)
        self.assertIn("from client.example.org ([127.0.0.1])", rec)
        self.assertIsNotNone(email.utils.parsedate_tz(rec.rsplit(";", 1)[1].strip()), rec)
        self.assertEqual(headers(m.content).count("Received:"), 1)

    def test_missing_date_and_message_id_are_added(self):
        qid = send_data(self.d.sub_port, "bare@example.test", BARE)
        m = self.delivered("bare@example.test")
        self.assert_received(m, qid)
        h = headers(m.content)
        self.assertEqual(h.count("\r\nDate: "), 1, h)
        self.assertEqual(h.count("\r\nMessage-ID: "), 1, h)
        self.assertIsNotNone(email.utils.parsedate_tz(m.header("Date")), m.header("Date"))
        self.assertRegex(m.header("Message-ID"), r"^<[^<>@\s]+@mx\.example\.test>$")
        # The rest of the message is what the client sent, in its order.
        rest = strip_received(m.content)
        self.assertTrue(rest.startswith(BARE.split(b"\r\n\r\n")[0] + b"\r\n"), rest)
        self.assertTrue(rest.endswith(b"\r\n\r\nbody\r\n"), rest)

    def test_present_headers_are_unchanged(self):
        qid = send_data(self.d.sub_port, "full@example.test", FULL)
        m = self.delivered("full@example.test")
        self.assert_received(m, qid)
        self.assertEqual(strip_received(m.content), FULL)

    def test_header_names_are_case_insensitive(self):
        body = FULL.replace(b"Date:", b"DATE:").replace(b"Message-ID:", b"message-id:")
        send_data(self.d.sub_port, "case@example.test", body)
        m = self.delivered("case@example.test")
        self.assertEqual(strip_received(m.content), body)

    def test_only_header_section_counts(self):
        # "Date:" in the body is not a Date header.
        body = BARE.replace(b"body\r\n", b"Date: in the body\r\nMessage-ID: <body@x>\r\n")
        send_data(self.d.sub_port, "inbody@example.test", body)
        m = self.delivered("inbody@example.test")
        h = headers(m.content)
        self.assertIn("\r\nDate: ", h)
        self.assertIn("@mx.example.test>", m.header("Message-ID"))

    def test_message_without_body_gets_headers(self):
        body = b"From: user@example.test\r\nSubject: no body\r\n"
        send_data(self.d.sub_port, "nobody@example.test", body)
        m = self.delivered("nobody@example.test")
        self.assertIsNotNone(m.header("Date"))
        self.assertIsNotNone(m.header("Message-ID"))
        self.assertIn(b"Subject: no body\r\n", m.content)

    def test_bdat_submission_gets_headers(self):
        c = ProtoClient(self.d.sub_port)
        self.addCleanup(c.close)
        c.ehlo()
        self.assertTrue(c.starttls().startswith("220"))
        c.ehlo()
        self.assertTrue(c.cmd("MAIL FROM:<bdatsub@example.test>").startswith("250"))
        self.assertTrue(c.cmd("RCPT TO:<b@example.test>").startswith("250"))
        c.bdat(BARE[:20])
        self.assertTrue(c.reply().startswith("250"))
        c.bdat(BARE[20:], last=True)
        r = c.reply()
        self.assertTrue(r.startswith("250 2.0.0"), r)
        m = self.delivered("bdatsub@example.test")
        self.assert_received(m, queued_id(r))
        self.assertIsNotNone(m.header("Date"))
        self.assertIsNotNone(m.header("Message-ID"))

    def test_mx_adds_nothing(self):
        qid = send_data(self.d.mx_port, "mx@example.org", BARE)
        m = self.delivered("mx@example.org")
        self.assert_received(m, qid)
        self.assertEqual(strip_received(m.content), BARE)
        self.assertIsNone(m.header("Date"))
        self.assertIsNone(m.header("Message-ID"))

    def test_received_on_every_message(self):
        for port, sender in ((self.d.mx_port, "r1@example.org"),
                             (self.d.sub_port, "r2@example.test")):
            qid = send_data(port, sender, FULL)
            self.assert_received(self.delivered(sender), qid)
        # One recipient: the Received header names it (RFC 5321 4.4 "for").
        self.assertIn("for <b@example.test>", self.delivered("r1@example.org").header("Received"))


if __name__ == "__main__":
    unittest.main()
