# SPDX-License-Identifier: ISC
"""LMTP delivery (RFC 2033) over TCP and a unix socket, with one reply per
recipient after the data; and an IPv6 listener on [::1]."""
import os
import socket
import tempfile
import unittest

from harness import Daemon, Sink, sink_wait, smtp_send, wait_for

MSG = b"From: sender@example.test\r\nSubject: lmtp\r\n\r\nlmtp body\r\n"


def reject_bad(cmd, arg, st):
    """LMTP server answer: 550 at end of data for bad@ only."""
    if cmd == "DOT" and arg == "bad@example.test":
        return "550 5.2.1 mailbox disabled"
    return None


class LmtpBase:
    def check_per_recipient_replies(self):
        self.assertEqual(smtp_send(self.d.mx_port, "sender@example.test",
                                   ["good@example.test", "bad@example.test"], MSG), {})
        good = sink_wait(self.sink, lambda m: m.mail_from == "sender@example.test")
        self.assertEqual([[a for a, _ in m.rcpts] for m in good], [["good@example.test"]])
        self.assertIn(b"lmtp body", good[0].content)
        self.assertIn("with ESMTP", good[0].header("Received"))
        bounces = sink_wait(self.sink, lambda m: m.mail_from == "")
        self.assertEqual(len(bounces), 1, self.d.log())
        b = bounces[0]
        self.assertEqual([a for a, _ in b.rcpts], ["sender@example.test"])
        self.assertIn(b"Final-Recipient: rfc822; bad@example.test", b.content)
        self.assertNotIn(b"Final-Recipient: rfc822; good@example.test", b.content)
        self.assertIn(b"Action: failed", b.content)
        self.assertIn(b"Status: 5.2.1", b.content)
        self.assertIn(b"550 5.2.1 mailbox disabled", b.content)
        self.assertTrue(self.d.wait_log(r"relay sent to=<good@example.test>"))
        self.assertTrue(self.d.wait_log(r"relay bounced to=<bad@example.test>"))
        self.assertTrue(wait_for(lambda: self.d.queue_ids() == [], 10), self.d.queue_ids())


class LmtpTcp(LmtpBase, unittest.TestCase):
    def setUp(self):
        self.sink = Sink(lmtp=True, reply=reject_bad).start()
        self.d = Daemon(deliver=f"lmtp://127.0.0.1:{self.sink.port}").start()

    def tearDown(self):
        self.d.cleanup()
        self.sink.stop()

    def test_per_recipient_replies(self):
        self.check_per_recipient_replies()


class LmtpUnix(LmtpBase, unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="postern-lmtp-")
        os.chmod(self.tmp, 0o755)
        path = os.path.join(self.tmp, "lmtp.sock")
        self.sink = Sink(lmtp=True, unix_path=path, reply=reject_bad).start()
        os.chmod(path, 0o777)  # the delivering process runs unprivileged
        self.d = Daemon(deliver=f"lmtp:unix:{path}").start()

    def tearDown(self):
        self.d.cleanup()
        self.sink.stop()
        for f in os.listdir(self.tmp):
            os.unlink(os.path.join(self.tmp, f))
        os.rmdir(self.tmp)

    def test_per_recipient_replies(self):
        self.check_per_recipient_replies()


def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@unittest.skipUnless(have_ipv6(), "no ::1 here")
class Ipv6(unittest.TestCase):
    def setUp(self):
        self.sink = Sink().start()
        self.d = Daemon(deliver=f"smtp://127.0.0.1:{self.sink.port}", v6=True).start()

    def tearDown(self):
        self.d.cleanup()
        self.sink.stop()

    def test_listens_on_v6_loopback(self):
        self.assertIn(f"listening on [::1]:{self.d.v6_port} role=mx", self.d.log())
        self.assertEqual(smtp_send(self.d.v6_port, "six@example.org", ["b@example.test"], MSG,
                                   host="::1"), {})
        [m] = sink_wait(self.sink, lambda m: m.mail_from == "six@example.org")
        self.assertIn("with ESMTP", m.header("Received"))
        self.assertTrue(self.d.wait_log(r"smtp connect ip=::1 .*listener=\[::1\]:"))

    # RFC 5321 4.4 TCP-info: an IPv6 address literal is "[IPv6:...]".
    def test_received_names_v6_client_as_address_literal(self):
        smtp_send(self.d.v6_port, "six2@example.org", ["b@example.test"], MSG, host="::1")
        [m] = sink_wait(self.sink, lambda m: m.mail_from == "six2@example.org")
        self.assertIn("([IPv6:::1])", m.header("Received"))


if __name__ == "__main__":
    unittest.main()
