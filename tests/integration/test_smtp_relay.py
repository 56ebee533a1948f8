# SPDX-License-Identifier: ISC
"""Relay control (RFC 5321 3.6.2, 3.9; RFC 2505): an untrusted client may
send to the configured domains on the mx listener and nowhere else, whatever
address trick it uses; the submission listener wants authentication; a
trusted network relays everywhere through the smarthost. Checked with our own
raw client and with nmap's smtp-open-relay script."""
import os
import shutil
import subprocess
import unittest

from harness import Daemon, ProtoClient, Sink, sink_wait, smtp_send, wait_for

MSG = b"From: a@example.org\r\nSubject: relay\r\n\r\nrelay test\r\n"

# Recipient forms that name another destination than a configured domain.
# mx.example.test is the server's own host name, [127.0.0.1] its address:
# neither is a domain postern accepts mail for.
RELAY_TRICKS = [
    "victim@example.net",
    "VICTIM@EXAMPLE.NET",
    "victim%example.net@mx.example.test",       # %-hack
    "victim%example.net@[127.0.0.1]",
    "example.net!victim@mx.example.test",       # bang path
    "example.net!victim@[127.0.0.1]",
    "@mx.example.test:victim@example.net",      # source route
    "@[127.0.0.1]:victim@example.net",
    "@example.test:victim@example.net",         # source route via a local domain
    "\"victim@example.net\"@[127.0.0.1]",       # quoted local part
    "\"victim@example.net\"@mx.example.test",
    "victim@[127.0.0.1]",                       # address literal
    "victim@[IPv6:::1]",
    "victim@example.test.example.net",          # a local domain as a prefix
]
# Forms that are not addresses at all: refused as syntax errors.
MALFORMED = [
    "victim@example.net@example.test",          # two @
    "example.net!victim",                       # bang path without a domain
    "\"victim%example.net\"",                   # no domain at all
]


class Untrusted(unittest.TestCase):
    """Trusted networks exclude 127.0.0.1: we are a stranger on the internet."""

    @classmethod
    def setUpClass(cls):
        cls.sink = Sink().start()
        cls.smarthost = Sink().start()
        cls.d = Daemon(deliver=f"smtp://127.0.0.1:{cls.sink.port}",
                       smarthost=f"smtp://127.0.0.1:{cls.smarthost.port}",
                       trusted="10.0.0.0/8",
                       extra="smtp {\n max_errors 100\n}\n").start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.sink.stop()
        cls.smarthost.stop()

    def client(self, port=None):
        c = ProtoClient(port or self.d.mx_port)
        self.addCleanup(c.close)
        c.ehlo()
        return c

    def test_mail_for_the_domain_is_accepted(self):
        self.assertEqual(smtp_send(self.d.mx_port, "in@example.org", ["b@example.test",
                                                                      "c@EXAMPLE.TEST"], MSG),
                         {})
        [m] = sink_wait(self.sink, lambda m: m.mail_from == "in@example.org")
        self.assertEqual(sorted(a.lower() for a, _ in m.rcpts),
                         ["b@example.test", "c@example.test"])

    def test_other_domain_is_relay_denied(self):
        c = self.client()
        self.assertTrue(c.cmd("MAIL FROM:<a@example.org>").startswith("250"))
        r = c.cmd("RCPT TO:<x@example.net>")
        self.assertTrue(r.startswith("554 5.7.1"), r)
        self.assertIn("Relay access denied", r)
        self.assertTrue(c.cmd("RCPT TO:<b@example.test>").startswith("250"))

    def test_relay_tricks_refused(self):
        c = self.client()
        self.assertTrue(c.cmd("MAIL FROM:<tricks@example.org>").startswith("250"))
        for rcpt in RELAY_TRICKS + MALFORMED:
            with self.subTest(rcpt=rcpt):
                r = c.cmd(f"RCPT TO:<{rcpt}>")
                self.assertEqual(r[:1], "5", f"{rcpt}: {r}")
        # Nothing was accepted, so there is nothing to send.
        self.assertFalse(c.cmd("DATA").startswith("354"))
        self.assertNotRegex(self.d.log(), r"accepted .*from=<tricks@example.org>")

    def test_well_formed_tricks_get_relay_denied(self):
        c = self.client()
        self.assertTrue(c.cmd("MAIL FROM:<tricks@example.org>").startswith("250"))
        for rcpt in RELAY_TRICKS:
            with self.subTest(rcpt=rcpt):
                r = c.cmd(f"RCPT TO:<{rcpt}>")
                self.assertTrue(r.startswith("554 5.7.1") and "Relay access denied" in r,
                                f"{rcpt}: {r}")

    def test_postmaster_is_always_accepted(self):
        c = self.client()
        self.assertTrue(c.cmd("MAIL FROM:<pm@example.org>").startswith("250"))
        self.assertTrue(c.cmd("RCPT TO:<Postmaster>").startswith("250"))

    def test_submission_requires_authentication(self):
        c = self.client(self.d.sub_port)
        self.assertTrue(c.cmd("MAIL FROM:<a@example.test>").startswith(
            "530 5.7.0 Must issue a STARTTLS command first"))
        self.assertTrue(c.starttls().startswith("220"))
        c.ehlo()
        r = c.cmd("MAIL FROM:<a@example.test>")
        self.assertTrue(r.startswith("530 5.7.0"), r)
        self.assertIn("Authentication required", r)
        r = c.cmd("RCPT TO:<b@example.test>")
        self.assertTrue(r.startswith("503") or r.startswith("530"), r)

    @unittest.skipUnless(shutil.which("nmap"), "nmap not installed")
    def test_nmap_smtp_open_relay(self):
        # smtp-open-relay only runs on ports nmap believes are SMTP; -sV would
        # find out but costs ~25 s, so a one-line services file names our port
        # (--servicedb implies -F, i.e. it scans the ports in that file).
        services = os.path.join(self.d.dir, "nmap-services")
        with open(services, "w") as f:
            f.write(f"smtp\t{self.d.mx_port}/tcp\t0.5\n")
        p = subprocess.run(["nmap", "-Pn", "-n", "--servicedb", services, "--script",
                            "smtp-open-relay", "--script-args",
                            "smtp-open-relay.domain=example.net,smtp-open-relay.ip=127.0.0.1",
                            "127.0.0.1"], capture_output=True, text=True, timeout=120)
        out = p.stdout + p.stderr
        self.assertEqual(p.returncode, 0, out)
        self.assertIn(f"{self.d.mx_port}/tcp open  smtp", out)
        self.assertIn("smtp-open-relay", out)
        self.assertNotIn("Server is an open relay", out)
        self.assertRegex(out, r"doesn't seem to be an open relay|all tests failed", out)
        self.assertEqual(self.smarthost.messages, [])


class Trusted(unittest.TestCase):
    """127.0.0.1 is trusted: everything relays through the smarthost."""

    @classmethod
    def setUpClass(cls):
        cls.sink = Sink().start()
        cls.smarthost = Sink().start()
        cls.d = Daemon(deliver=f"smtp://127.0.0.1:{cls.sink.port}",
                       smarthost=f"smtp://127.0.0.1:{cls.smarthost.port}").start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.sink.stop()
        cls.smarthost.stop()

    def test_relay_through_smarthost_on_mx(self):
        self.assertEqual(smtp_send(self.d.mx_port, "out@example.test", ["x@example.net"], MSG),
                         {})
        [m] = sink_wait(self.smarthost, lambda m: m.mail_from == "out@example.test")
        self.assertEqual([a for a, _ in m.rcpts], ["x@example.net"])

    def test_relay_through_smarthost_on_submission(self):
        self.assertEqual(smtp_send(self.d.sub_port, "sub@example.test",
                                   ["x@example.net", "b@example.test"], MSG, starttls=True), {})
        [m] = sink_wait(self.smarthost, lambda m: m.mail_from == "sub@example.test")
        self.assertEqual([a for a, _ in m.rcpts], ["x@example.net"])
        # The local recipient goes to the domain's own server, not the smarthost.
        [m] = sink_wait(self.sink, lambda m: m.mail_from == "sub@example.test")
        self.assertEqual([a for a, _ in m.rcpts], ["b@example.test"])
        self.assertTrue(wait_for(lambda: self.d.queue_ids() == [], 10))


if __name__ == "__main__":
    unittest.main()
