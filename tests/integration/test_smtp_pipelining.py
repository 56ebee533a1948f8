# SPDX-License-Identifier: ISC
"""PIPELINING (RFC 2920): legal command groups work; input that arrives
behind a command that must end a group (EHLO, DATA, NOOP, QUIT, ...) or from
a client that never said EHLO is a protocol synchronization error: 554 5.5.0
and the connection is closed."""
import socket
import threading
import time
import unittest

from harness import DaemonAndSink, Daemon, ProtoClient, Sink, sink_wait, wait_for

BODY = "From: a@example.org\r\nSubject: piped\r\n\r\nhello\r\n"


class Pipelining(DaemonAndSink):
    def client(self):
        c = ProtoClient(self.d.mx_port)
        self.addCleanup(c.close)
        return c

    def assert_sync_error(self, c, expect_before):
        """The replies before the error, then 554 5.5.0 and a closed connection."""
        replies, closed = c.drain(5)
        self.assertTrue(closed, f"connection left open; replies {replies}")
        self.assertEqual(len(replies), len(expect_before) + 1, replies)
        for r, code in zip(replies, expect_before):
            self.assertTrue(r.startswith(code), replies)
        self.assertTrue(replies[-1].startswith("554 5.5.0"), replies)

    def test_mail_rcpt_rcpt_data_in_one_write(self):
        c = self.client()
        c.ehlo()
        c.send("MAIL FROM:<group@example.org>\r\nRCPT TO:<b@example.test>\r\n"
               "RCPT TO:<c@example.test>\r\nDATA\r\n")
        r = c.replies(4)
        self.assertEqual([x[:3] for x in r], ["250", "250", "250", "354"], r)
        r = c.cmd(BODY + ".")
        self.assertTrue(r.startswith("250 2.0.0"), r)
        [m] = sink_wait(self.sink, lambda m: m.mail_from == "group@example.org")
        self.assertEqual(sorted(a for a, _ in m.rcpts), ["b@example.test", "c@example.test"])
        self.assertIn(b"\r\n\r\nhello\r\n", m.content)

    def test_next_transaction_right_after_end_of_data(self):
        c = self.client()
        c.ehlo()
        c.send("MAIL FROM:<first@example.org>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n")
        self.assertEqual([x[:3] for x in c.replies(3)], ["250", "250", "354"])
        # End of data and the whole next group in one write.
        c.send(BODY + ".\r\nMAIL FROM:<second@example.org>\r\nRCPT TO:<b@example.test>\r\n"
               "DATA\r\n")
        r = c.replies(4)
        self.assertEqual([x[:3] for x in r], ["250", "250", "250", "354"], r)
        self.assertIn("queued as", r[0])
        r = c.cmd(BODY + ".")
        self.assertTrue(r.startswith("250 2.0.0"), r)
        self.assertEqual(c.cmd("QUIT")[:3], "221")
        for sender in ("first@example.org", "second@example.org"):
            self.assertEqual(len(sink_wait(self.sink, lambda m: m.mail_from == sender)), 1)

    def test_content_before_354_is_refused(self):
        c = self.client()
        c.ehlo()
        c.send("MAIL FROM:<eager@example.org>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n" + BODY
               + ".\r\n")
        self.assert_sync_error(c, ["250", "250"])
        self.assertTrue(self.d.wait_log(r"reject reason=pipelining .*after=DATA"))
        time.sleep(0.5)
        self.assertEqual(sink_wait(self.sink, lambda m: m.mail_from == "eager@example.org",
                                   timeout=0), [])

    def test_command_after_ehlo_is_refused(self):
        c = self.client()
        c.send("EHLO client.example.org\r\nMAIL FROM:<a@example.org>\r\n")
        self.assert_sync_error(c, [])

    def test_command_after_noop_is_refused(self):
        c = self.client()
        c.ehlo()
        c.send("NOOP\r\nMAIL FROM:<a@example.org>\r\n")
        self.assert_sync_error(c, [])

    def test_command_after_quit_is_refused(self):
        c = self.client()
        c.ehlo()
        c.send("QUIT\r\nNOOP\r\n")
        self.assert_sync_error(c, [])

    def test_helo_client_must_not_pipeline(self):
        c = self.client()
        self.assertTrue(c.cmd("HELO client.example.org").startswith("250"))
        c.send("MAIL FROM:<helo-pipe@example.org>\r\nRCPT TO:<b@example.test>\r\n")
        self.assert_sync_error(c, [])

    def test_helo_client_in_lock_step_works(self):
        c = self.client()
        self.assertTrue(c.cmd("HELO client.example.org").startswith("250"))
        self.assertTrue(c.cmd("MAIL FROM:<helo-step@example.org>").startswith("250"))
        self.assertTrue(c.cmd("RCPT TO:<b@example.test>").startswith("250"))
        self.assertTrue(c.cmd("DATA").startswith("354"))
        self.assertTrue(c.cmd(BODY + ".").startswith("250"))
        self.assertEqual(len(sink_wait(self.sink,
                                       lambda m: m.mail_from == "helo-step@example.org")), 1)

    def test_client_that_never_reads_is_throttled(self):
        # RSET may be pipelined anywhere. A client that sends them without
        # ever reading the replies must meet back-pressure (the server stops
        # reading), not make the server buffer replies without bound.
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10)
        s.connect(("127.0.0.1", self.d.mx_port))
        s.sendall(b"EHLO client.example.org\r\n")
        got = b""
        while b"250 CHUNKING\r\n" not in got:
            got += s.recv(4096)
        s.settimeout(2)
        chunk = b"RSET\r\n" * 10000
        sent, blocked, t0 = 0, False, time.time()
        while sent < 64 * 1024 * 1024 and time.time() - t0 < 15:
            try:
                s.sendall(chunk)
            except socket.timeout:
                blocked = True
                break
            sent += len(chunk)
        self.assertTrue(blocked, f"sent {sent} bytes in {time.time() - t0:.1f}s unthrottled")
        self.assertLess(sent, 32 * 1024 * 1024)
        s.close()
        # The server is fine and serves the next client.
        c = self.client()
        c.ehlo()
        self.assertEqual(c.cmd("NOOP"), "250 2.0.0 Ok")

    def test_many_pipelined_commands_all_answered(self):
        # The other side of the back-pressure: a client that does read gets
        # every reply, in order, however far ahead it writes.
        n = 100000
        c = self.client()
        c.ehlo()
        writer = threading.Thread(target=c.send, args=(b"RSET\r\n" * n + b"QUIT\r\n",),
                                  daemon=True)
        writer.start()
        c.s.settimeout(20)
        data = b""
        while True:
            d = c.s.recv(1 << 20)
            if not d:
                break
            data += d
        writer.join(5)
        lines = data.split(b"\r\n")
        self.assertEqual(lines.count(b"250 2.0.0 Ok"), n)
        self.assertEqual(lines[-2], b"221 2.0.0 Bye")

    def test_refused_groups_queue_nothing(self):
        # Runs the refused variants above once more and checks the queue stays empty.
        c = self.client()
        c.ehlo()
        c.send("MAIL FROM:<eager2@example.org>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n"
               "Subject: x\r\n\r\n.\r\n")
        self.assert_sync_error(c, ["250", "250"])
        self.assertTrue(wait_for(lambda: self.d.queue_ids() == [], 10))
        self.assertNotRegex(self.d.log(), r"accepted .*from=<eager2@example.org>")


if __name__ == "__main__":
    unittest.main()
