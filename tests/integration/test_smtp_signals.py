# SPDX-License-Identifier: ISC
"""Signals as an operator uses them: SIGHUP reloads the config for new
sessions without disturbing the ones in progress, and refuses a broken
config; SIGTERM lets a client in the middle of DATA finish, refuses new
connections, exits 0 and keeps what it accepted in the queue."""
import signal
import time
import unittest

from harness import Daemon, ProtoClient, Sink, queued_id, sink_wait, wait_for

BODY = "From: a@example.org\r\nSubject: signals\r\n\r\nline one\r\n"


def conf_text(d, sink_port, domains, extra=""):
    lines = ["hostname mx.example.test", f"state_dir {d.state}",
             f"tls {{\n    cert {d.cert}\n    key {d.key}\n}}",
             f"listen 127.0.0.1:{d.mx_port} {{\n    role mx\n}}",
             f"listen 127.0.0.1:{d.sub_port} {{\n    role submission\n}}",
             "trusted_networks 10.0.0.0/8"]
    for dom in domains:
        lines.append(f"domain {dom} {{\n    deliver smtp://127.0.0.1:{sink_port}\n}}")
    return "\n".join(lines) + "\n" + extra


def rcpt_reply(port, rcpt):
    c = ProtoClient(port)
    try:
        c.ehlo()
        assert c.cmd("MAIL FROM:<probe@example.org>").startswith("250")
        return c.cmd(f"RCPT TO:<{rcpt}>")
    finally:
        c.close()


class Reload(unittest.TestCase):
    def setUp(self):
        self.sink = Sink().start()
        self.d = Daemon(trusted="10.0.0.0/8")
        self.d.write_conf(conf_text(self.d, self.sink.port, ["example.test"]))
        self.d.start()

    def tearDown(self):
        self.d.cleanup()
        self.sink.stop()

    def open_session_in_data(self, sender):
        c = ProtoClient(self.d.mx_port)
        self.addCleanup(c.close)
        c.ehlo()
        self.assertTrue(c.cmd(f"MAIL FROM:<{sender}>").startswith("250"))
        self.assertTrue(c.cmd("RCPT TO:<b@example.test>").startswith("250"))
        self.assertTrue(c.cmd("DATA").startswith("354"))
        c.send(BODY)
        return c

    def test_hup_adds_domain_without_dropping_session(self):
        self.assertTrue(rcpt_reply(self.d.mx_port, "x@new.test").startswith("554 5.7.1"))
        old = self.open_session_in_data("old@example.org")
        self.d.write_conf(conf_text(self.d, self.sink.port, ["example.test", "new.test"],
                                    "smtp {\n    max_message_size 64k\n}\n"))
        self.d.signal(signal.SIGHUP)
        self.assertTrue(self.d.wait_log(r"parent reloaded"), self.d.log())
        self.assertTrue(wait_for(
            lambda: rcpt_reply(self.d.mx_port, "x@new.test").startswith("250"), 10),
            self.d.log())
        with ProtoClient(self.d.mx_port) as n:
            self.assertIn("250-SIZE 65536", n.ehlo())
        # The session that was open across the reload finishes normally.
        old.send("line two\r\n")
        r = old.cmd(".")
        self.assertTrue(r.startswith("250 2.0.0") and queued_id(r), r)
        self.assertEqual(old.cmd("QUIT"), "221 2.0.0 Bye")
        [m] = sink_wait(self.sink, lambda m: m.mail_from == "old@example.org")
        self.assertIn(b"line one\r\nline two\r\n", m.content)
        # And mail for the new domain is delivered by its new route.
        c = ProtoClient(self.d.mx_port)
        self.addCleanup(c.close)
        c.ehlo()
        self.assertTrue(c.cmd("MAIL FROM:<new@example.org>").startswith("250"))
        self.assertTrue(c.cmd("RCPT TO:<x@new.test>").startswith("250"))
        self.assertTrue(c.cmd("DATA").startswith("354"))
        self.assertTrue(c.cmd(BODY + ".").startswith("250"))
        [m] = sink_wait(self.sink, lambda m: m.mail_from == "new@example.org")
        self.assertEqual([a for a, _ in m.rcpts], ["x@new.test"])
        self.assertIsNone(self.d.proc.poll())

    def test_hup_with_broken_config_keeps_old_one(self):
        self.d.write_conf(conf_text(self.d, self.sink.port, ["example.test", "new.test"])
                          + "frobnicate yes\n")
        self.d.signal(signal.SIGHUP)
        self.assertTrue(self.d.wait_log(r"reload-refused"), self.d.log())
        self.assertRegex(self.d.log(), r"reload-refused reason=\".*frobnicate")
        self.assertIsNone(self.d.proc.poll())
        # The running config is unchanged: example.test works, new.test is not ours.
        self.assertTrue(rcpt_reply(self.d.mx_port, "x@new.test").startswith("554 5.7.1"))
        c = ProtoClient(self.d.mx_port)
        self.addCleanup(c.close)
        c.ehlo()
        self.assertTrue(c.cmd("MAIL FROM:<still@example.org>").startswith("250"))
        self.assertTrue(c.cmd("RCPT TO:<b@example.test>").startswith("250"))
        self.assertTrue(c.cmd("DATA").startswith("354"))
        self.assertTrue(c.cmd(BODY + ".").startswith("250"))
        self.assertEqual(len(sink_wait(self.sink, lambda m: m.mail_from == "still@example.org")),
                         1)


class Term(unittest.TestCase):
    def setUp(self):
        self.sink_port = Sink().port  # not started: the next hop is down
        self.sink = None
        self.d = Daemon(deliver=f"smtp://127.0.0.1:{self.sink_port}",
                        extra="smtp {\n shutdown_timeout 10s\n}\n"
                              "queue {\n retry_min 1s\n retry_max 2s\n}\n").start()

    def tearDown(self):
        self.d.cleanup()
        if self.sink:
            self.sink.stop()

    def test_term_during_data(self):
        c = ProtoClient(self.d.mx_port)
        self.addCleanup(c.close)
        c.ehlo()
        self.assertTrue(c.cmd("MAIL FROM:<term@example.org>").startswith("250"))
        self.assertTrue(c.cmd("RCPT TO:<b@example.test>").startswith("250"))
        self.assertTrue(c.cmd("DATA").startswith("354"))
        c.send(BODY)
        idle = ProtoClient(self.d.mx_port)
        self.addCleanup(idle.close)
        idle.ehlo()
        t0 = time.time()
        self.d.signal(signal.SIGTERM)
        self.assertTrue(self.d.wait_log(r"smtp stopping"), self.d.log())
        # A session with nothing in progress is told at once and closed.
        replies, closed = idle.drain(5)
        self.assertEqual(len(replies), 1, replies)
        self.assertTrue(replies[0].startswith("421 4.3.2"), replies)
        self.assertTrue(closed)

        # New connections are refused (closed listener, or a 421 greeting).
        def refused():
            try:
                n = ProtoClient(self.d.mx_port, timeout=3)
            except OSError:
                return True
            try:
                return n.greeting.startswith("421") or n.greeting == ""
            finally:
                n.close()
        self.assertTrue(refused())
        self.assertIsNone(self.d.proc.poll(), "exited before the session finished")

        # The client in DATA finishes and its message is accepted.
        c.send("line two\r\n")
        r = c.cmd(".")
        self.assertTrue(r.startswith("250 2.0.0"), r)
        qid = queued_id(r)
        self.assertIsNotNone(qid)
        # Then the session is told the service is going away.
        replies, closed = c.drain(5)
        self.assertTrue(closed)
        self.assertTrue(all(x.startswith("421") for x in replies), replies)

        proc = self.d.proc
        rc = proc.wait(20)
        self.assertEqual(rc, 0, self.d.log())
        self.assertLess(time.time() - t0, 10 + 5)
        self.assertTrue(self.d.wait_log(r"parent stopped status=0"))
        self.d.stop()

        # After a restart the message is still queued (the next hop is down) ...
        self.d.start()
        self.assertEqual(self.d.queue_ids(), [qid])
        # ... and it is delivered once the next hop is back.
        self.sink = Sink(port=self.sink_port).start()
        self.d.ctl("queue", "flush")
        [m] = sink_wait(self.sink, lambda m: m.mail_from == "term@example.org", timeout=20)
        self.assertIn(f"id {qid}", m.header("Received"))
        self.assertIn(b"line one\r\nline two\r\n", m.content)
        self.assertTrue(wait_for(lambda: self.d.queue_ids() == [], 10))


if __name__ == "__main__":
    unittest.main()
