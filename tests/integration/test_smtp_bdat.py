# SPDX-License-Identifier: ISC
"""CHUNKING (RFC 3030) over raw sockets (smtplib has no BDAT): chunks,
BDAT LAST, BDAT 0 LAST, lines starting with ".", chunks that split lines,
pipelined BDAT, BDAT without recipients, DATA after BDAT, bare LF."""
import time
import unittest

from harness import DaemonAndSink, Daemon, ProtoClient, Sink, queued_id, sink_wait, wait_for


class Bdat(DaemonAndSink):
    def client(self, sender):
        c = ProtoClient(self.d.mx_port)
        self.addCleanup(c.close)
        c.ehlo()
        self.assertTrue(c.cmd(f"MAIL FROM:<{sender}>").startswith("250"))
        self.assertTrue(c.cmd("RCPT TO:<b@example.test>").startswith("250"))
        return c

    def delivered(self, sender):
        [m] = sink_wait(self.sink, lambda m: m.mail_from == sender)
        return m

    @staticmethod
    def without_received(content):
        """The message as the client sent it: our Received header removed."""
        assert content.startswith(b"Received: "), content[:80]
        i = content.index(b"\r\n", 0)
        while content[i + 2:i + 3] in (b" ", b"\t"):
            i = content.index(b"\r\n", i + 2)
        return content[i + 2:]

    def test_several_chunks_then_last(self):
        c = self.client("chunks@example.org")
        parts = [b"From: a@example.org\r\nSubject: chunks\r\n\r\n", b"one\r\n", b"two\r\n",
                 b"three\r\n"]
        for p in parts[:-1]:
            c.bdat(p)
            r = c.reply()
            self.assertTrue(r.startswith("250"), r)
        c.bdat(parts[-1], last=True)
        r = c.reply()
        self.assertTrue(r.startswith("250 2.0.0") and queued_id(r), r)
        m = self.delivered("chunks@example.org")
        self.assertEqual(self.without_received(m.content), b"".join(parts))
        self.assertIn(f"id {queued_id(r)}", m.header("Received"))

    def test_bdat_0_last_ends_the_message(self):
        c = self.client("zero@example.org")
        body = b"Subject: zero\r\n\r\nbody\r\n"
        c.bdat(body)
        self.assertTrue(c.reply().startswith("250"))
        c.bdat(b"", last=True)
        r = c.reply()
        self.assertTrue(r.startswith("250 2.0.0") and queued_id(r), r)
        m = self.delivered("zero@example.org")
        self.assertEqual(self.without_received(m.content), body)

    def test_dot_lines_survive(self):
        # In BDAT a leading "." is data: nothing is unstuffed on the way in,
        # and whatever the relay stuffs, the delivered content has it intact.
        body = (b"Subject: dots\r\n\r\n.hidden\r\n..two dots\r\n.\r\nafter a lone dot\r\n"
                b"...\r\n")
        c = self.client("dots@example.org")
        c.bdat(body, last=True)
        r = c.reply()
        self.assertTrue(r.startswith("250 2.0.0"), r)
        m = self.delivered("dots@example.org")
        self.assertEqual(self.without_received(m.content), body)

    def test_chunks_that_split_lines(self):
        c = self.client("split@example.org")
        c.bdat(b"Subject: spl")
        self.assertTrue(c.reply().startswith("250"))
        c.bdat(b"it\r\n\r\nhel")
        self.assertTrue(c.reply().startswith("250"))
        c.bdat(b"lo\r")
        self.assertTrue(c.reply().startswith("250"))
        c.bdat(b"\nno final newline", last=True)
        r = c.reply()
        self.assertTrue(r.startswith("250 2.0.0"), r)
        m = self.delivered("split@example.org")
        # A last line without CRLF is completed: the stored message is lines.
        self.assertEqual(self.without_received(m.content),
                         b"Subject: split\r\n\r\nhello\r\nno final newline\r\n")

    def test_pipelined_bdat(self):
        c = ProtoClient(self.d.mx_port)
        self.addCleanup(c.close)
        c.ehlo()
        c1 = b"Subject: piped bdat\r\n\r\n"
        c2 = b"line\r\n"
        c.send(b"MAIL FROM:<pbdat@example.org>\r\nRCPT TO:<b@example.test>\r\n"
               + f"BDAT {len(c1)}\r\n".encode() + c1
               + f"BDAT {len(c2)} LAST\r\n".encode() + c2
               + b"MAIL FROM:<pbdat2@example.org>\r\nRCPT TO:<b@example.test>\r\n"
               + f"BDAT {len(c2)} LAST\r\n".encode() + c2 + b"QUIT\r\n")
        replies, closed = c.drain(10)
        self.assertEqual([r[:3] for r in replies], ["250"] * 7 + ["221"], replies)
        self.assertTrue(queued_id(replies[3]) and queued_id(replies[6]), replies)
        self.assertTrue(closed)
        m = self.delivered("pbdat@example.org")
        self.assertEqual(self.without_received(m.content), c1 + c2)
        self.assertEqual(self.without_received(self.delivered("pbdat2@example.org").content),
                         c2)

    def test_bdat_without_rcpt_consumes_the_chunk(self):
        c = ProtoClient(self.d.mx_port)
        self.addCleanup(c.close)
        c.ehlo()
        self.assertTrue(c.cmd("MAIL FROM:<norcpt@example.org>").startswith("250"))
        # The chunk looks like commands; they must be read as chunk data.
        c.bdat(b"QUIT\r\nRCPT TO:<b@example.test>\r\n", last=True)
        r = c.reply()
        self.assertTrue(r.startswith("554"), r)
        self.assertEqual(c.cmd("NOOP"), "250 2.0.0 Ok")  # still in sync, not closed
        # Without MAIL at all: 503, the chunk is consumed as well.
        c.bdat(b"NOOP\r\n")
        r = c.reply()
        self.assertTrue(r.startswith("503"), r)
        self.assertEqual(c.cmd("NOOP"), "250 2.0.0 Ok")
        # And a transaction works afterwards on the same session.
        self.assertTrue(c.cmd("MAIL FROM:<norcpt@example.org>").startswith("250"))
        self.assertTrue(c.cmd("RCPT TO:<b@example.test>").startswith("250"))
        c.bdat(b"Subject: after\r\n\r\nok\r\n", last=True)
        self.assertTrue(c.reply().startswith("250 2.0.0"))
        m = self.delivered("norcpt@example.org")
        self.assertEqual(self.without_received(m.content), b"Subject: after\r\n\r\nok\r\n")

    def test_data_after_bdat(self):
        c = self.client("mixed@example.org")
        c.bdat(b"Subject: mixed\r\n\r\n")
        self.assertTrue(c.reply().startswith("250"))
        r = c.cmd("DATA")
        self.assertTrue(r.startswith("503"), r)
        # The BDAT transaction is still open and can be finished.
        c.bdat(b"end\r\n", last=True)
        self.assertTrue(c.reply().startswith("250 2.0.0"))
        m = self.delivered("mixed@example.org")
        self.assertEqual(self.without_received(m.content), b"Subject: mixed\r\n\r\nend\r\n")

    def test_bare_lf_in_chunk(self):
        c = self.client("barelf@example.org")
        c.bdat(b"Subject: bare\r\n\r\nline\nmore\r\n", last=True)
        replies, closed = c.drain(5)
        self.assertEqual(len(replies), 1, replies)
        self.assertTrue(replies[0].startswith("521"), replies)
        self.assertTrue(closed)
        self.assertTrue(wait_for(lambda: self.d.queue_ids() == [], 5))
        time.sleep(0.5)
        self.assertEqual(sink_wait(self.sink, lambda m: m.mail_from == "barelf@example.org",
                                   timeout=0), [])
        self.assertNotRegex(self.d.log(), r"accepted .*from=<barelf@example.org>")

    def test_bad_bdat_size_closes(self):
        # Without a valid size the server cannot find the next command.
        c = self.client("badsize@example.org")
        c.send("BDAT lots\r\n")
        replies, closed = c.drain(5)
        self.assertTrue(replies and replies[0][0] == "5", replies)
        self.assertTrue(closed)


if __name__ == "__main__":
    unittest.main()
