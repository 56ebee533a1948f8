# SPDX-License-Identifier: ISC
"""SMTP smuggling (CVE-2023-51764 class): every malformed end-of-data
sequence the public scanners send, in place of the real CRLF.CRLF and
followed by a pipelined second transaction, must never produce a second
message. Strict mode (the default) answers any bare CR or LF with 521 and
closes; normalize mode takes a bare LF as a line end but still only
CRLF.CRLF ends the data. Sequences: data/end-of-data-sequences.json."""
import json
import os
import unittest

from harness import Daemon, ProtoClient, Sink, queued_id, sink_wait, wait_for

DATA_FILE = os.path.join(os.path.dirname(__file__), "data", "end-of-data-sequences.json")


def load_sequences():
    """(name, bytes) for every distinct sequence in the data file."""
    with open(DATA_FILE) as f:
        d = json.load(f)
    found = []
    for name, v in d["hannob_smtpsmug"].items():
        # Skip prose ("source", and "pipelining", which is not a sequence).
        if isinstance(v, str) and v and set(v) <= set("\r\n.\0"):
            found.append(("hannob-" + name, v))
    for group in ("sec_consult_scanner_inbound", "sec_consult_scanner_outbound"):
        for i, v in enumerate(d[group]["sequences"]):
            found.append((f"{group}-{i}", v))
    out, seen = [], set()
    for name, v in found:
        if v not in seen and v != d["valid_end_of_data"]:
            seen.add(v)
            out.append((name, v.encode("latin-1")))
    return out


SEQUENCES = load_sequences()
SMUGGLED = (b"MAIL FROM:<x@evil.example>\r\nRCPT TO:<smuggled@example.test>\r\nDATA\r\n"
            b"From: x@evil.example\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n")


def has_bare_cr(seq):
    return b"\r" in seq.replace(b"\r\n", b"")


def has_bare_lf(seq):
    return b"\n" in seq.replace(b"\r\n", b"")


class SequenceFile(unittest.TestCase):
    def test_all_sequences_loaded(self):
        # 10 from smtpsmug, 2 more from the outbound list; the rest repeat them.
        self.assertEqual(len(SEQUENCES), 12, SEQUENCES)
        self.assertIn(b"\n.\r\n", [s for _, s in SEQUENCES])
        self.assertIn(b"\r\r\n.\r\r\n", [s for _, s in SEQUENCES])


class SmugglingBase:
    mode = None  # "strict" or "normalize"

    @classmethod
    def setUpClass(cls):
        cls.sink = Sink().start()
        extra = f"smtp {{\n line_endings {cls.mode}\n}}\n" if cls.mode == "normalize" else ""
        cls.d = Daemon(deliver=f"smtp://127.0.0.1:{cls.sink.port}", extra=extra).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.sink.stop()

    def refused(self, seq):
        """Does this mode refuse the sequence outright (521 + close)?"""
        return has_bare_cr(seq) or (self.mode == "strict" and has_bare_lf(seq))

    def check_outcome(self, name, seq, sender, replies, closed):
        self.assertLessEqual(sum(r.startswith("250") for r in replies), 1, replies)
        self.assertFalse(any(r.startswith("354") for r in replies), replies)
        if self.refused(seq):
            self.assertEqual(len(replies), 1, replies)
            self.assertRegex(replies[0], r"^521 5\.5\.2 .*bare <(CR|LF)>", replies)
            self.assertTrue(closed, replies)
            return
        # Not an end of data: all of it, smuggled lines included, is one message.
        self.assertEqual(len(replies), 2, replies)
        self.assertTrue(replies[0].startswith("250 2.0.0") and queued_id(replies[0]), replies)
        self.assertTrue(replies[1].startswith("221"), replies)
        msgs = sink_wait(self.sink, lambda m: m.mail_from == sender)
        self.assertEqual(len(msgs), 1, self.d.log())
        self.assertIn(b"MAIL FROM:<x@evil.example>\r\nRCPT TO:<smuggled@example.test>\r\n",
                      msgs[0].content)
        self.assertIn(b"\r\nevil\r\n", msgs[0].content)
        # What went on to the next hop has no bare CR or LF either (RFC 5321 2.3.8).
        self.assertFalse(has_bare_cr(msgs[0].data) or has_bare_lf(msgs[0].data), msgs[0].data)

    def transaction(self, sender):
        c = ProtoClient(self.d.mx_port)
        self.addCleanup(c.close)
        c.ehlo()
        self.assertTrue(c.cmd(f"MAIL FROM:<{sender}>").startswith("250"))
        self.assertTrue(c.cmd("RCPT TO:<b@example.test>").startswith("250"))
        return c

    def test_data(self):
        for i, (name, seq) in enumerate(SEQUENCES):
            with self.subTest(sequence=name, bytes=seq):
                sender = f"data-{i}@example.org"
                c = self.transaction(sender)
                self.assertTrue(c.cmd("DATA").startswith("354"))
                c.send(b"From: a@example.org\r\nSubject: smuggling\r\n\r\nbody" + seq + SMUGGLED
                       + b"QUIT\r\n")
                replies, closed = c.drain(5)
                self.check_outcome(name, seq, sender, replies, closed)
        self.assert_nothing_smuggled()

    def test_bdat(self):
        for i, (name, seq) in enumerate(SEQUENCES):
            with self.subTest(sequence=name, bytes=seq):
                sender = f"bdat-{i}@example.org"
                c = self.transaction(sender)
                chunk = b"From: a@example.org\r\nSubject: smuggling\r\n\r\nbody" + seq + SMUGGLED
                c.send(f"BDAT {len(chunk)} LAST\r\n".encode() + chunk + b"QUIT\r\n")
                replies, closed = c.drain(5)
                self.check_outcome(name, seq, sender, replies, closed)
        self.assert_nothing_smuggled()

    def assert_nothing_smuggled(self):
        self.assertTrue(wait_for(lambda: self.d.queue_ids() == [], 15), self.d.queue_ids())
        with self.sink.lock:
            msgs = list(self.sink.messages)
        self.assertFalse([m for m in msgs if m.mail_from == "x@evil.example"])
        self.assertFalse([m for m in msgs if "smuggled@example.test" in [a for a, _ in m.rcpts]])
        self.assertNotRegex(self.d.log(), r"from=<x@evil\.example>")

    def test_bare_cr_in_command(self):
        c = ProtoClient(self.d.mx_port)
        self.addCleanup(c.close)
        c.ehlo()
        c.send("NOOP\rMAIL FROM:<x@evil.example>\r\n")
        replies, closed = c.drain(5)
        self.assertEqual(len(replies), 1, replies)
        self.assertRegex(replies[0], r"^521 5\.5\.2 .*bare <CR>")
        self.assertTrue(closed)


class Strict(SmugglingBase, unittest.TestCase):
    mode = "strict"

    def test_bare_lf_in_command(self):
        c = ProtoClient(self.d.mx_port)
        self.addCleanup(c.close)
        c.send("EHLO client.example.org\n")
        replies, closed = c.drain(5)
        self.assertEqual(len(replies), 1, replies)
        self.assertRegex(replies[0], r"^521 5\.5\.2 .*bare <LF>")
        self.assertTrue(closed)

    def test_bare_lf_in_command_mid_session(self):
        c = self.transaction("midlf@example.org")
        c.send("RCPT TO:<c@example.test>\n")
        replies, closed = c.drain(5)
        self.assertEqual(len(replies), 1, replies)
        self.assertTrue(replies[0].startswith("521"), replies)
        self.assertTrue(closed)


class Normalize(SmugglingBase, unittest.TestCase):
    mode = "normalize"

    def test_bare_lf_commands_work(self):
        c = ProtoClient(self.d.mx_port)
        self.addCleanup(c.close)
        for line, code in (("EHLO client.example.org", "250"),
                           ("MAIL FROM:<lf@example.org>", "250"),
                           ("RCPT TO:<b@example.test>", "250"), ("DATA", "354")):
            c.send(line + "\n")
            r = c.reply()
            self.assertTrue(r.startswith(code), f"{line}: {r}")
        # After a bare LF, "." CRLF is not the end (<LF>.<CR><LF>): only CRLF.CRLF is.
        c.send("Subject: lf\n\nbare lf lines\n.\r\nstill data\r\n.\r\n")
        r = c.reply()
        self.assertTrue(r.startswith("250 2.0.0"), r)
        [m] = sink_wait(self.sink, lambda m: m.mail_from == "lf@example.org")
        # Stored and sent on with CRLF line ends.
        self.assertIn(b"Subject: lf\r\n\r\nbare lf lines\r\n.\r\nstill data\r\n", m.content)


if __name__ == "__main__":
    unittest.main()
