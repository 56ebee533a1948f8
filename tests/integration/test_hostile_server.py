# SPDX-License-Identifier: ISC
"""The outbound client is as strict as the server: a hostile downstream
cannot inject into our logs, queue files or bounces (CVE-2020-8794 class),
and oversized or malformed replies end the connection with a deferral."""
import glob
import os
import re
import smtplib
import socket
import threading
import time
import unittest

from harness import Daemon, free_port, wait_for

MSG = b"From: a@example.org\r\nSubject: hostile\r\n\r\nbody\r\n"


class Hostile:
    """A server that answers RCPT with whatever bytes the test chooses."""

    def __init__(self, rcpt_reply, greeting=b"220 evil.test ESMTP\r\n"):
        self.port = free_port()
        self.rcpt_reply = rcpt_reply
        self.greeting = greeting
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(16)
        self.sessions = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(c,), daemon=True).start()

    def session(self, c):
        self.sessions += 1
        f = c.makefile("rb")
        try:
            c.sendall(self.greeting)
            for line in f:
                verb = line[:4].upper()
                if verb == b"EHLO":
                    c.sendall(b"250-evil.test\r\n250 8BITMIME\r\n")
                elif verb == b"MAIL":
                    c.sendall(b"250 ok\r\n")
                elif verb == b"RCPT":
                    c.sendall(self.rcpt_reply)
                elif verb == b"QUIT":
                    c.sendall(b"221 bye\r\n")
                    break
                else:
                    c.sendall(b"250 ok\r\n")
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.sock.close()


def send(port):
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.sendmail("sender@example.org", ["victim@example.test"], MSG)


class HostileServer(unittest.TestCase):
    def run_with(self, reply, **kw):
        self.h = Hostile(reply, **kw)
        self.d = Daemon(deliver=f"smtp://127.0.0.1:{self.h.port}",
                        extra="queue {\n retry_min 1h\n}\n").start()
        send(self.d.mx_port)
        self.assertTrue(self.d.wait_log(r"relay (deferred|bounced) to=<victim@example.test>"),
                        self.d.log())
        return self.d

    def tearDown(self):
        self.d.cleanup()
        self.h.stop()

    def test_injection_in_reply_is_escaped(self):
        d = self.run_with(b"450 4.7.1 \x1b[31mred\x00 fake\rline relay sent to=<x@y>\r\n")
        # one log line, with the control bytes escaped
        lines = [l for l in d.log().splitlines() if "victim@example.test" in l and "relay" in l]
        self.assertEqual(len(lines), 1)
        self.assertNotIn("\x1b", d.log())
        self.assertIn("?[31mred? fake?line", lines[0])
        # the text stays inside reply="...": no line reports a delivery
        self.assertFalse(re.search(r"^\S+ postern/\w+\[\d+\]: \S+ relay sent", d.log(), re.M))
        # the queue's view and the state file are clean too
        [qid] = d.queue_ids()
        show = d.ctl("queue", "show", qid).stdout
        self.assertNotIn("\x1b", show)
        self.assertNotIn("\r", show)
        for st in glob.glob(os.path.join(d.state, "spool", "queue", "*.st")):
            with open(st, "rb") as f:
                data = f.read()
            self.assertNotIn(b"\x1b", data)
            self.assertNotIn(b"\r", data)
            self.assertEqual(data.count(b"\nrcpt "), 1)

    def test_reply_with_too_many_lines_defers(self):
        many = b"".join(b"450-line %d\r\n" % i for i in range(150)) + b"450 end\r\n"
        d = self.run_with(many)
        self.assertTrue(d.wait_log(r"relay deferred to=<victim@example.test>.*malformed reply"))
        self.assertEqual(len(d.queue_ids()), 1)

    def test_overlong_reply_line_defers(self):
        d = self.run_with(b"250 " + b"A" * 5000 + b"\r\n")
        self.assertTrue(d.wait_log(r"relay deferred to=<victim@example.test>.*(too long|malformed)"))
        self.assertEqual(len(d.queue_ids()), 1)

    def test_mixed_codes_in_multiline_reply_defers(self):
        d = self.run_with(b"550-5.1.1 no\r\n250 2.0.0 yes\r\n")
        self.assertTrue(d.wait_log(r"relay deferred to=<victim@example.test>.*malformed"))
        self.assertEqual(len(d.queue_ids()), 1)

    def test_bad_greeting_defers(self):
        d = self.run_with(b"250 ok\r\n", greeting=b"554 go away \x07\r\n")
        self.assertTrue(d.wait_log(r"relay deferred to=<victim@example.test>.*greeting: 554"))
        self.assertNotIn("\x07", d.log())


if __name__ == "__main__":
    unittest.main()
