# SPDX-License-Identifier: ISC
"""TLS: STARTTLS and implicit TLS with real clients, the STARTTLS-required
rule, AUTH never before TLS, STARTTLS command injection, SNI, certificate
reload, handshake failures, and the outbound TLS policies."""
import os
import re
import signal
import smtplib
import socket
import ssl
import subprocess
import time
import unittest

from harness import (Daemon, ProtoClient, Sink, no_verify, sink_wait, smtp_send, swaks,
                     test_ca, test_cert, wait_for)

MSG = b"From: a@example.org\r\nSubject: tls\r\n\r\nover TLS\r\n"


def peer_cert_subject(port, servername=None, starttls=True):
    """The subject of the certificate the server presents (openssl s_client)."""
    args = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-brief"]
    if starttls:
        args += ["-starttls", "smtp"]
    if servername:
        args += ["-servername", servername]
    else:
        args += ["-noservername"]
    p = subprocess.run(args, input=b"QUIT\r\n", capture_output=True, timeout=30)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    m = re.search(r"Peer certificate: (.*)", out) or re.search(r"subject=(.*)", out)
    return m.group(1) if m else out


class Inbound(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sink = Sink().start()
        cls.d = Daemon(deliver=f"smtp://127.0.0.1:{cls.sink.port}", implicit=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.sink.stop()

    def test_starttls_with_swaks_on_mx(self):
        p = swaks("--server", f"127.0.0.1:{self.d.mx_port}", "--tls", "--from",
                  "sw1@example.org", "--to", "b@example.test")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        [m] = sink_wait(self.sink, lambda m: m.mail_from == "sw1@example.org")
        rec = m.header("Received")
        self.assertIn("with ESMTPS", rec)
        self.assertRegex(rec, r"\(TLSv1\.[23] with cipher \S+ \(\d+/\d+ bits\)\)")

    def test_starttls_with_smtplib_on_submission(self):
        with smtplib.SMTP("127.0.0.1", self.d.sub_port, timeout=20) as s:
            s.ehlo()
            self.assertTrue(s.has_extn("starttls"))
            self.assertFalse(s.has_extn("auth"))
            code, _ = s.starttls(context=no_verify())
            self.assertEqual(code, 220)
            s.ehlo()
            self.assertFalse(s.has_extn("starttls"))
            self.assertEqual(s.sendmail("py1@example.test", ["b@example.test"], MSG), {})
        [m] = sink_wait(self.sink, lambda m: m.mail_from == "py1@example.test")
        self.assertIn("with ESMTPS", m.header("Received"))

    def test_implicit_tls_with_smtplib_and_swaks(self):
        with smtplib.SMTP_SSL("127.0.0.1", self.d.implicit_port, timeout=20,
                              context=no_verify()) as s:
            self.assertEqual(s.ehlo()[0], 250)
            self.assertFalse(s.has_extn("starttls"))
            self.assertEqual(s.sendmail("imp@example.test", ["b@example.test"], MSG), {})
        [m] = sink_wait(self.sink, lambda m: m.mail_from == "imp@example.test")
        self.assertIn("with ESMTPS", m.header("Received"))
        p = swaks("--server", f"127.0.0.1:{self.d.implicit_port}", "--tlsc", "--from",
                  "sw2@example.test", "--to", "b@example.test")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_plaintext_on_the_implicit_port_goes_nowhere(self):
        c = socket.create_connection(("127.0.0.1", self.d.implicit_port), timeout=10)
        c.sendall(b"EHLO plain.example\r\n")
        c.settimeout(10)
        try:
            data = c.recv(4096)
        except (ConnectionResetError, socket.timeout):
            data = b""
        c.close()
        self.assertNotIn(b"250", data)
        self.assertTrue(self.d.wait_log(r"tls-handshake-failed ip=127\.0\.0\.1 reason="))

    def test_required_listener_refuses_everything_but_the_basics(self):
        c = ProtoClient(self.d.sub_port)
        self.addCleanup(c.close)
        r = c.ehlo()
        self.assertIn("STARTTLS", r)
        self.assertNotIn("AUTH", r)
        for cmd in ("MAIL FROM:<a@example.test>", "RCPT TO:<b@example.test>", "DATA",
                    "VRFY postmaster", "HELP", "EXPN x", "BDAT 0 LAST"):
            self.assertEqual(c.cmd(cmd), "530 5.7.0 Must issue a STARTTLS command first", cmd)
        for cmd in ("NOOP", "RSET"):
            self.assertTrue(c.cmd(cmd).startswith("250"), cmd)
        self.assertTrue(c.cmd("HELO again.example").startswith("250"))
        self.assertTrue(c.cmd("QUIT").startswith("221"))

    def test_auth_is_538_before_tls_on_every_listener(self):
        for port in (self.d.mx_port, self.d.sub_port):
            c = ProtoClient(port)
            self.addCleanup(c.close)
            self.assertNotIn("AUTH", c.ehlo())
            self.assertTrue(c.cmd("AUTH PLAIN AGFAYg==").startswith("538 5.7.11"), port)

    def test_starttls_injection_ends_the_session(self):
        # CVE-2011-0411: plaintext pipelined behind STARTTLS must not be
        # executed after the handshake.
        c = ProtoClient(self.d.mx_port)
        self.addCleanup(c.close)
        c.ehlo()
        c.send("STARTTLS\r\nMAIL FROM:<inject@example.org>\r\n")
        r = c.reply()
        self.assertTrue(r.startswith("554 5.5.0"), r)
        self.assertTrue(c.closed())
        self.assertTrue(self.d.wait_log(r"reject reason=pipelining .*after=STARTTLS"))

    def test_session_starts_over_after_starttls(self):
        c = ProtoClient(self.d.mx_port)
        self.addCleanup(c.close)
        c.ehlo()
        self.assertTrue(c.cmd("MAIL FROM:<before@example.org>").startswith("250"))
        self.assertTrue(c.starttls().startswith("220"))
        # no EHLO yet, and the transaction from before is gone
        self.assertTrue(c.cmd("RCPT TO:<b@example.test>").startswith("503"))
        c.ehlo()
        self.assertTrue(c.cmd("RCPT TO:<b@example.test>").startswith("503"))
        self.assertTrue(c.cmd("MAIL FROM:<after@example.org>").startswith("250"))

    def test_close_without_close_notify_is_an_ordinary_disconnect(self):
        raw = socket.create_connection(("127.0.0.1", self.d.implicit_port), timeout=10)
        t = no_verify().wrap_socket(raw)
        t.recv(1000)
        # drop the TCP connection under TLS, no close_notify
        t.detach()  # keep the fd, lose the TLS layer
        raw.close()
        self.assertTrue(self.d.wait_log(r"smtp disconnect ip=127\.0\.0\.1 reason=eof"))


class StalledHandshake(unittest.TestCase):
    def test_a_stalled_handshake_is_bounded_and_logged(self):
        d = Daemon(deliver="smtp://127.0.0.1:9", implicit=True,
                   extra="smtp {\n tls_handshake_timeout 1s\n}\n").start()
        try:
            c = socket.create_connection(("127.0.0.1", d.implicit_port), timeout=10)
            c.settimeout(10)
            try:
                data = c.recv(100)  # we send nothing; the server must give up
            except ConnectionResetError:
                data = b""
            self.assertEqual(data, b"")
            c.close()
            self.assertTrue(d.wait_log(r"tls-handshake-failed ip=127\.0\.0\.1 "
                                       r"reason=\"handshake timed out\""))
        finally:
            d.cleanup()


class SniAndReload(unittest.TestCase):
    def setUp(self):
        self.sink = Sink().start()
        self.d = Daemon(deliver=f"smtp://127.0.0.1:{self.sink.port}")
        self.other = test_cert("other.example.test")
        self.conf_with(self.d.cert, self.d.key)

    def tearDown(self):
        self.d.cleanup()
        self.sink.stop()

    def conf_with(self, cert, key):
        d = self.d
        d.write_conf(f"hostname mx.example.test\nstate_dir {d.state}\n"
                     f"tls {{\n cert {cert}\n key {key}\n}}\n"
                     f"tls {{\n cert {self.other[0]}\n key {self.other[1]}\n}}\n"
                     f"listen 127.0.0.1:{d.mx_port} {{ role mx; tls starttls }}\n"
                     f"listen 127.0.0.1:{d.sub_port} {{ role submission }}\n"
                     f"domain example.test {{\n deliver smtp://127.0.0.1:{self.sink.port}\n}}\n"
                     "trusted_networks 127.0.0.1/32\n")

    def test_sni_picks_the_certificate(self):
        self.d.start()
        self.assertIn("CN = mx.example.test", peer_cert_subject(self.d.mx_port))
        self.assertIn("CN = other.example.test",
                      peer_cert_subject(self.d.mx_port, "other.example.test"))
        self.assertIn("CN = mx.example.test",
                      peer_cert_subject(self.d.mx_port, "unknown.example.test"))

    def test_reload_swaps_the_certificate_without_dropping_sessions(self):
        self.d.start()
        self.assertIn("CN = mx.example.test", peer_cert_subject(self.d.mx_port))
        # a session in TLS before the reload
        s = smtplib.SMTP("127.0.0.1", self.d.mx_port, timeout=20)
        s.starttls(context=no_verify())
        s.ehlo()
        s.mail("during@example.org")
        new = test_cert("mx.example.test", key="rsa")
        self.conf_with(*new)
        self.d.signal(signal.SIGHUP)
        self.assertTrue(self.d.wait_log(r"parent reloaded"))
        time.sleep(0.5)
        out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{self.d.mx_port}",
                              "-starttls", "smtp", "-noservername"], input=b"QUIT\r\n",
                             capture_output=True, timeout=30).stdout.decode()
        self.assertRegex(out, r"Server public key is 2048 bit")  # the RSA one now
        # the old session goes on
        s.rcpt("b@example.test")
        self.assertEqual(s.data(MSG)[0], 250)
        s.quit()
        self.assertEqual(len(sink_wait(self.sink, lambda m: m.mail_from == "during@example.org")), 1)

    def test_reload_with_a_broken_key_is_refused(self):
        self.d.start()
        bad = os.path.join(self.d.dir, "bad.key")
        with open(bad, "w") as f:
            f.write("not a key\n")
        self.conf_with(self.d.cert, bad)
        self.d.signal(signal.SIGHUP)
        self.assertTrue(self.d.wait_log(r"reload-refused reason=.*bad\.key"))
        self.assertIn("CN = mx.example.test", peer_cert_subject(self.d.mx_port))


class Expiry(unittest.TestCase):
    def test_a_certificate_near_expiry_is_logged_at_start(self):
        cert, key = test_cert("soon.example.test", days=5)
        d = Daemon(deliver="smtp://127.0.0.1:9")
        d.write_conf(f"state_dir {d.state}\ntls {{\n cert {cert}\n key {key}\n}}\n"
                     f"listen 127.0.0.1:{d.mx_port} {{ role mx }}\n")
        try:
            d.start()
            self.assertTrue(d.wait_log(r"tls certificate-expires-soon cert=\S+ days=[45]\b"))
        finally:
            d.cleanup()


class Outbound(unittest.TestCase):
    def run_policy(self, policy, sink_tls, ca_file=None, expect_delivery=True):
        self.sink = Sink(tls=sink_tls).start()
        extra = f"relay {{\n ca_file {ca_file}\n}}\n" if ca_file else ""
        self.d = Daemon(body=None, domains=(), trusted="127.0.0.1/32", extra="")
        d = self.d
        d.write_conf(f"hostname mx.example.test\nstate_dir {d.state}\n"
                     f"tls {{\n cert {d.cert}\n key {d.key}\n}}\n"
                     f"listen 127.0.0.1:{d.mx_port} {{ role mx }}\n"
                     f"domain example.test {{\n deliver smtp://localhost:{self.sink.port}\n"
                     f" tls {policy}\n}}\n{extra}trusted_networks 127.0.0.1/32\n"
                     "queue {\n retry_min 1h\n}\n")
        d.start()
        smtp_send(d.mx_port, f"{policy}@example.org", ["b@example.test"], MSG)
        if expect_delivery:
            [m] = sink_wait(self.sink, lambda m: m.mail_from == f"{policy}@example.org")
            return m
        self.assertTrue(d.wait_log(r"relay deferred to=<b@example.test>"), d.log())
        return None

    def tearDown(self):
        self.d.cleanup()
        self.sink.stop()

    def test_may_uses_tls_when_offered(self):
        m = self.run_policy("may", test_cert("localhost"))
        self.assertIsNotNone(m.tls)
        self.assertTrue(self.d.wait_log(r"relay sent to=<b@example.test> .*tls=\"TLSv1\.3"))

    def test_none_stays_in_plaintext(self):
        m = self.run_policy("none", test_cert("localhost"))
        self.assertIsNone(m.tls)

    def test_verify_defers_on_a_bad_certificate(self):
        self.run_policy("verify", test_cert("localhost"), expect_delivery=False)
        self.assertTrue(self.d.wait_log(r"4\.7\.5 TLS handshake with .* failed: certificate "
                                        r"verification failed"))
        self.assertEqual(len(self.d.queue_ids()), 1)
        self.assertEqual(self.sink.messages, [])

    def test_verify_defers_on_the_wrong_name(self):
        ca = test_ca()
        self.run_policy("verify", test_cert("wrong.example.test", ca=ca), ca_file=ca[0],
                        expect_delivery=False)
        self.assertTrue(self.d.wait_log(r"certificate verification failed: hostname mismatch"))

    def test_verify_delivers_with_a_trusted_certificate(self):
        ca = test_ca()
        m = self.run_policy("verify", test_cert("localhost", ca=ca), ca_file=ca[0])
        self.assertIsNotNone(m.tls)

    def test_encrypt_defers_without_starttls(self):
        self.run_policy("encrypt", None, expect_delivery=False)
        self.assertTrue(self.d.wait_log(r"4\.7\.4 TLS is required \(policy encrypt\)"))
        self.assertEqual(self.sink.messages, [])


if __name__ == "__main__":
    unittest.main()
