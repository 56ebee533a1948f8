# SPDX-License-Identifier: ISC
"""SPF, DKIM and DMARC end to end: the real daemon on an mx listener, its
resolver pointed at knot serving the sender domains, real clients, a sink
as the protected mail server. Spoofed mail is refused, aligned mail arrives
with our Authentication-Results (and a forged one is gone), a quarantined
message waits in `postern queue quarantine` until released."""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

from harness import Client, Daemon, Sink, smtp_send, wait_for
from testdns import Knot

HERE = os.path.dirname(os.path.abspath(__file__))
DKIM_DATA = os.path.join(HERE, "..", "data", "dkim")
PY = "/usr/bin/python3"


def txt(value):
    """A TXT RDATA in zone-file form, split into strings of at most 200 bytes."""
    return " ".join('"%s"' % value[i:i + 200] for i in range(0, len(value), 200))


def dkim_record():
    with open(os.path.join(DKIM_DATA, "2048_testkey_wo_markers.pub.txt")) as f:
        return f.read().strip()


ZONES = {
    # the sender of the good mail: SPF allows loopback, s1 signs, p=reject
    "sender.test": f'@ TXT "v=spf1 ip4:127.0.0.0/8 -all"\n'
                   f"s1._domainkey TXT {txt(dkim_record())}\n"
                   f'_dmarc TXT "v=DMARC1; p=reject"\n'
                   f'_mta-sts TXT "v=STSv1; id=20261128"\n'
                   f'_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tls@sender.test"\n'
                   # sender.test agrees to get shop.test's reports (RFC 7489 7.1)
                   f'shop.test._report._dmarc TXT "v=DMARC1"\n',
    # a bank someone pretends to be: its mail never comes from here
    "bank.test": '@ TXT "v=spf1 ip4:192.0.2.0/24 -all"\n'
                 '_dmarc TXT "v=DMARC1; p=reject; rua=mailto:dmarc@bank.test"\n',
    # a domain that asks for quarantine
    "shop.test": '@ TXT "v=spf1 ip4:192.0.2.0/24 ~all"\n'
                 '_dmarc TXT "v=DMARC1; p=quarantine; '
                 'rua=mailto:reports@sender.test,mailto:nobody@nodmarc.test"\n',
    # SPF fail, but no DMARC policy
    "nodmarc.test": '@ TXT "v=spf1 -all"\n',
    # IPv6: only ::1 may send
    "six.test": '@ TXT "v=spf1 ip6:::1/128 -all"\n',
    # SPF that lets anyone pass
    "open.test": '@ TXT "v=spf1 a +all"\n',
}


def message(from_addr, subject="hello", extra=""):
    return (f"From: Sender <{from_addr}>\r\nTo: <user@example.test>\r\n"
            f"Subject: {subject}\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@{from_addr.split('@')[1]}>\r\n"
            f"{extra}\r\nHi,\r\n.line with a dot\r\nbye\r\n")


def dkim_sign(msg):
    """msg signed by dkimpy as s1._domainkey.sender.test (relaxed)."""
    with tempfile.NamedTemporaryFile("wb", delete=False) as f:
        f.write(msg.encode())
        path = f.name
    try:
        out = subprocess.run([PY, os.path.join(HERE, "dkimpy_helper.py"), "sign", "rsa",
                              "relaxed", "sender.test", "s1",
                              os.path.join(DKIM_DATA, "2048_testkey.key"), path],
                             check=True, capture_output=True).stdout
    finally:
        os.unlink(path)
    return out.decode()


def send_raw(port, sender, rcpt, data, host="127.0.0.1"):
    """One transaction by hand: the replies to MAIL, RCPT and the end of DATA."""
    c = Client(port, host=host)
    try:
        c.reply()
        c.cmd("EHLO client.sender.test")
        r_mail = c.cmd(f"MAIL FROM:<{sender}>")
        if not r_mail.startswith("250"):
            return r_mail, None, None
        r_rcpt = c.cmd(f"RCPT TO:<{rcpt}>")
        r = c.cmd("DATA")
        if not r.startswith("354"):
            return r_mail, r_rcpt, r
        body = data.replace("\r\n.", "\r\n..")
        c.send(body.encode() + b".\r\n")
        r_data = c.reply()
        c.cmd("QUIT")
        return r_mail, r_rcpt, r_data
    finally:
        c.close()


class MailAuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dns = Knot(ZONES).start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def start(self, sink, mailauth=""):
        d = Daemon(deliver=f"smtp://127.0.0.1:{sink.port}", trusted="",
                   extra=f"resolver 127.0.0.1:{self.dns.port}\n"
                         "guard {\n    greet_delay 0\n}\n"
                         "mailauth {\n    dns_timeout 3s\n" + mailauth + "}\n")
        d.start()
        self.addCleanup(d.cleanup)
        return d

    def test_aligned_mail_arrives_with_results(self):
        with Sink() as sink:
            d = self.start(sink)
            # a forged result with our name goes; a foreign one stays
            msg = dkim_sign(message("alice@sender.test", "aligned")) \
                .replace("\r\n\r\n", "\r\nAuthentication-Results: mx.example.test; "
                         "dkim=pass header.d=bank.test\r\n"
                         "Authentication-Results: other.example; spf=pass\r\n\r\n", 1)
            r_mail, _, r_data = send_raw(d.mx_port, "bounce@sender.test",
                                         "user@example.test", msg)
            self.assertTrue(r_mail.startswith("250"), r_mail)
            self.assertTrue(r_data.startswith("250"), r_data)
            self.assertTrue(sink.wait_messages(1))
            m = sink.messages[0]
            content = m.content.decode()
            head = content.split("\r\n\r\n", 1)[0]
            ar = m.header("Authentication-Results")
            self.assertIn("mx.example.test;", ar)
            self.assertIn("spf=pass smtp.mailfrom=bounce@sender.test", ar)
            self.assertIn("dkim=pass header.d=sender.test header.s=s1", ar)
            self.assertIn("dmarc=pass", ar)
            self.assertIn("header.from=sender.test", ar)
            self.assertEqual(head.count("Authentication-Results: mx.example.test"), 1, head)
            self.assertIn("Authentication-Results: other.example; spf=pass", head)
            self.assertNotIn("header.d=bank.test", head)
            self.assertTrue(m.header("Received-SPF").startswith("pass"), head)
            # ours come first, above our Received
            self.assertLess(head.index("Authentication-Results: mx.example.test"),
                            head.index("Received: from"))
            # the body arrives as sent, dot line included
            self.assertIn("\r\n.line with a dot\r\n", content)
            self.assertIn("removed-header name=Authentication-Results", d.log())
            self.assertNotIn("unwritable", d.log())

    def test_spf_fail_refused_at_mail(self):
        with Sink() as sink:
            d = self.start(sink)
            r_mail, _, _ = send_raw(d.mx_port, "ceo@bank.test", "user@example.test",
                                    message("ceo@bank.test"))
            self.assertTrue(r_mail.startswith("550 5.7.23"), r_mail)
            self.assertIn("spf ip=127.0.0.1 from=<ceo@bank.test>", d.log())
            self.assertIn("result=fail action=reject", d.log())
            time.sleep(0.5)
            self.assertEqual(sink.messages, [])

    def test_dmarc_reject_at_end_of_data(self):
        with Sink() as sink:
            d = self.start(sink)
            # SPF passes for the envelope, but the From domain is the bank's
            r_mail, _, r_data = send_raw(d.mx_port, "bounce@sender.test",
                                         "user@example.test", message("ceo@bank.test"))
            self.assertTrue(r_mail.startswith("250"), r_mail)
            self.assertTrue(r_data.startswith("550 5.7.1"), r_data)
            self.assertIn("DMARC policy of bank.test", r_data)
            self.assertIn("dmarc=fail from=bank.test action=reject", d.log())
            # a DKIM signature by another domain does not help
            r_mail, _, r_data = send_raw(
                d.mx_port, "bounce@sender.test", "user@example.test",
                dkim_sign(message("ceo@bank.test", "signed by another")))
            self.assertTrue(r_data.startswith("550 5.7.1"), r_data)
            time.sleep(0.5)
            self.assertEqual(sink.messages, [])
            self.assertEqual(d.queue_ids(), [])

    def test_quarantine_list_release(self):
        with Sink() as sink:
            d = self.start(sink)
            r_mail, _, r_data = send_raw(d.mx_port, "bounce@sender.test",
                                         "user@example.test", message("news@shop.test", "sale"))
            self.assertTrue(r_data.startswith("250"), r_data)
            qid = r_data.split()[-1]
            out = d.ctl("queue", "quarantine").stdout
            self.assertIn(qid, out)
            self.assertIn("quarantined", out)
            self.assertIn("dmarc=fail policy=quarantine header.from=shop.test", out)
            time.sleep(1)
            self.assertEqual(sink.messages, [])
            self.assertIn("Authentication-Results: mx.example.test;", d.ctl("queue", "show", qid).stdout)
            # held across a restart too
            d.stop()
            d.start()
            self.assertIn(qid, d.ctl("queue", "quarantine").stdout)
            out = d.ctl("queue", "release", qid).stdout
            self.assertIn("released", out)
            self.assertTrue(sink.wait_messages(1))
            ar = sink.messages[0].header("Authentication-Results")
            self.assertIn("dmarc=fail", ar)
            self.assertIn("header.from=shop.test", ar)
            self.assertNotIn(qid, d.ctl("queue", "quarantine").stdout)

    def test_spf_fail_left_to_dmarc(self):
        with Sink() as sink:
            d = self.start(sink, "    spf_fail dmarc\n")
            # SPF fails, the bank's DMARC rejects at the end of DATA
            r_mail, _, r_data = send_raw(d.mx_port, "ceo@bank.test", "user@example.test",
                                         message("ceo@bank.test"))
            self.assertTrue(r_mail.startswith("250"), r_mail)
            self.assertTrue(r_data.startswith("550 5.7.1"), r_data)
            # SPF fails and there is no policy to decide: refused as SPF fail
            r_mail, _, r_data = send_raw(d.mx_port, "x@nodmarc.test", "user@example.test",
                                         message("x@nodmarc.test"))
            self.assertTrue(r_mail.startswith("250"), r_mail)
            self.assertTrue(r_data.startswith("550 5.7.23"), r_data)
            self.assertEqual(sink.messages, [])

    def test_dns_down_defers(self):
        with Sink() as sink:
            dead = Knot({"other.test": ""}).start()
            port = dead.port
            dead.stop()  # nothing answers there now
            d = Daemon(deliver=f"smtp://127.0.0.1:{sink.port}", trusted="",
                       extra=f"resolver 127.0.0.1:{port}\n"
                             "guard {\n    greet_delay 0\n}\n"
                             "mailauth {\n    dns_timeout 2s\n}\n")
            d.start()
            self.addCleanup(d.cleanup)
            t = time.time()
            r_mail, _, _ = send_raw(d.mx_port, "a@sender.test", "user@example.test",
                                    message("a@sender.test"))
            self.assertTrue(r_mail.startswith("451 4.7.24"), r_mail)
            self.assertLess(time.time() - t, 15)
            # the daemon still serves others meanwhile: a trusted-free check
            c = Client(d.mx_port)
            self.assertTrue(c.reply().startswith("220"))
            c.close()

    def test_ipv6_client(self):
        with Sink() as sink:
            d = Daemon(deliver=f"smtp://127.0.0.1:{sink.port}", trusted="", v6=True,
                       extra=f"resolver 127.0.0.1:{self.dns.port}\n"
                             "guard {\n    greet_delay 0\n}\n")
            d.start()
            self.addCleanup(d.cleanup)
            r_mail, _, r_data = send_raw(d.v6_port, "a@six.test", "user@example.test",
                                         message("a@six.test"), host="::1")
            self.assertTrue(r_data.startswith("250"), r_data)
            r_mail, _, _ = send_raw(d.mx_port, "a@six.test", "user@example.test",
                                    message("a@six.test"))
            self.assertTrue(r_mail.startswith("550 5.7.23"), r_mail)
            self.assertTrue(sink.wait_messages(1))
            self.assertIn("client-ip=\"::1\"", sink.messages[0].header("Received-SPF"))
            self.assertNotIn("unwritable", d.log())

    def test_off(self):
        with Sink() as sink:
            d = self.start(sink, "    spf no\n    dkim_verify no\n    dmarc no\n")
            r_mail, _, r_data = send_raw(d.mx_port, "ceo@bank.test", "user@example.test",
                                         message("ceo@bank.test"))
            self.assertTrue(r_data.startswith("250"), r_data)
            self.assertTrue(sink.wait_messages(1))
            self.assertIsNone(sink.messages[0].header("Received-SPF"))

    def test_operator_tools(self):
        with Sink() as sink:
            d = self.start(sink)

            def run(*args, stdin=None):
                return subprocess.run([os.environ.get("POSTERN_BIN", "postern"), *args, "-c",
                                       d.conf], input=stdin, capture_output=True, text=True,
                                      timeout=30)
            p = run("spf", "127.0.0.1", "bounce@sender.test", "client.sender.test")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("result: pass", p.stdout)
            self.assertIn("Received-SPF: pass", p.stdout)
            p = run("spf", "127.0.0.1", "ceo@bank.test", "client.sender.test")
            self.assertEqual(p.returncode, 1)
            self.assertIn("result: fail", p.stdout)
            self.assertIn("explanation: 127.0.0.1 is not one of bank.test's designated",
                          p.stdout)
            p = run("spf", "192.0.2.7", "<>", "bank.test")
            self.assertIn("identity: helo", p.stdout)
            self.assertIn("result: pass", p.stdout)
            # DKIM: our verifier on a dkimpy signature, then a tampered copy
            signed = dkim_sign(message("alice@sender.test", "tool")).replace("\r\n", "\n")
            p = run("dkim", "verify", stdin=signed)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("d=sender.test s=s1: pass", p.stdout)
            p = run("dkim", "verify", stdin=signed.replace("bye", "BYE"))
            self.assertEqual(p.returncode, 1)
            self.assertIn("fail (body hash mismatch)", p.stdout)
            # DMARC: the spoofed bank mail, with and without the envelope
            p = run("dmarc", "check", "--ip", "127.0.0.1", "--mail-from", "bounce@sender.test",
                    "--helo", "client.sender.test", stdin=message("ceo@bank.test"))
            self.assertEqual(p.returncode, 1)
            self.assertIn("spf: pass", p.stdout)
            self.assertIn("dmarc bank.test: fail", p.stdout)
            self.assertIn("record at _dmarc.bank.test: p=reject", p.stdout)
            self.assertIn("dmarc: fail, action reject", p.stdout)
            p = run("dmarc", "check", stdin=signed)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("dmarc sender.test: pass (aligned DKIM signature)", p.stdout)
            self.assertIn("Authentication-Results: mx.example.test;", p.stdout)
            p = run("spf", "not-an-ip", "a@b.test", "x")
            self.assertEqual(p.returncode, 1)
            self.assertIn("is not an IP address", p.stderr)

    def test_dns_check(self):
        with Sink() as sink:
            d = self.start(sink)

            def check(domain):
                return subprocess.run([os.environ.get("POSTERN_BIN", "postern"), "dns", "check",
                                       domain, "--ip", "127.0.0.1", "-c", d.conf],
                                      capture_output=True, text=True, timeout=60)
            p = check("sender.test")
            self.assertRegex(p.stdout, r"SPF +ok .*authorizes this gateway")
            self.assertRegex(p.stdout, r"DMARC +ok .*p=reject \(no rua=")
            self.assertRegex(p.stdout, r"MTA-STS +ok")
            self.assertRegex(p.stdout, r"TLS-RPT +ok")
            p = check("bank.test")
            self.assertEqual(p.returncode, 1)
            self.assertRegex(p.stdout, r"SPF +mismatch .* gives fail for this gateway's 127.0.0.1")
            self.assertIn("add the addresses above to it, e.g.: v=spf1 mx ip4:127.0.0.1 -all",
                          p.stdout)
            self.assertRegex(p.stdout, r"MTA-STS +missing")
            self.assertIn("publish: _mta-sts.bank.test. IN TXT \"v=STSv1; id=", p.stdout)
            self.assertIn("publish: _smtp._tls.bank.test. IN TXT \"v=TLSRPTv1; "
                          "rua=mailto:tls-reports@bank.test\"", p.stdout)
            p = check("nodmarc.test")
            self.assertRegex(p.stdout, r"DMARC +missing")
            self.assertIn("publish: _dmarc.nodmarc.test. IN TXT \"v=DMARC1; p=quarantine; "
                          "rua=mailto:dmarc-reports@nodmarc.test\"", p.stdout)
            p = check("void.shop.test")
            self.assertRegex(p.stdout, r"SPF +missing")
            self.assertIn("publish: void.shop.test. IN TXT \"v=spf1 mx ip4:127.0.0.1 -all\"",
                          p.stdout)
            p = check("open.test")
            self.assertEqual(p.returncode, 1)
            self.assertRegex(p.stdout, r"SPF +weak +\"v=spf1 a \+all\" ends in \+all or \?all: "
                                       r"anyone may send as open.test")
            self.assertIn("publish: open.test. IN TXT \"v=spf1 mx ip4:127.0.0.1 -all\"", p.stdout)

    def test_aggregate_reports(self):
        import gzip
        import email
        from email import policy
        from test_dmarc_report import SCHEMA, qualify_root
        with Sink() as sink:
            routes = "".join(f"domain {d} {{\n    deliver smtp://127.0.0.1:{sink.port}\n}}\n"
                             for d in ("bank.test", "sender.test", "nodmarc.test"))
            d = Daemon(deliver=f"smtp://127.0.0.1:{sink.port}", trusted="",
                       extra=f"resolver 127.0.0.1:{self.dns.port}\n" + routes +
                             "domain reports.test {\n    dkim selector r1\n}\n"
                             "guard {\n    greet_delay 0\n}\n"
                             "mailauth {\n    dns_timeout 3s\n"
                             "    dmarc_report_from dmarc-reports@reports.test\n"
                             '    dmarc_report_org "Example Gateway"\n}\n')
            # the reports are signed: their From: domain has a key
            p = subprocess.run([os.environ.get("POSTERN_BIN", "postern"), "dkim", "keygen",
                                "reports.test", "r1", "--algo", "ed25519", "-c", d.conf],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            key = [l for l in p.stdout.splitlines() if l.startswith("v=DKIM1")][0]
            d.start()
            self.addCleanup(d.cleanup)
            for i in range(3):  # refused: p=reject
                send_raw(d.mx_port, "bounce@sender.test", "user@example.test",
                         message("ceo@bank.test", f"wire {i}"))
            r = send_raw(d.mx_port, "bounce@sender.test", "user@example.test",
                         message("news@shop.test", "sale"))[2]
            self.assertTrue(r.startswith("250"), r)  # quarantined
            p = d.ctl("dmarc", "report")
            self.assertIn("reporting on 2 domains", p.stdout)
            self.assertTrue(sink.wait_messages(2, timeout=20), d.log())
            reports = {}
            for m in sink.messages:
                for rcpt, _ in m.rcpts:
                    reports[rcpt] = m
            self.assertEqual(sorted(reports), ["dmarc@bank.test", "reports@sender.test"])
            tmp = tempfile.mkdtemp(prefix="postern-rua-")
            self.addCleanup(shutil.rmtree, tmp)
            self.assertIn("to=<nobody@nodmarc.test> status=unauthorized", d.log())
            for rcpt, m in reports.items():
                self.assertEqual(m.mail_from, "")  # the null sender: no bounce loops
                msg = email.message_from_bytes(m.content, policy=policy.default)
                self.assertIn("Report Domain:", msg["Subject"])
                self.assertEqual(msg["From"], "dmarc-reports@reports.test")
                # DKIM-signed by the gateway, verified by dkimpy
                self.assertIn("d=reports.test", m.header("DKIM-Signature"))
                zf, mf = os.path.join(tmp, "zone"), os.path.join(tmp, "msg")
                with open(zf, "w") as f:
                    f.write(f"r1._domainkey.reports.test {key}\n")
                with open(mf, "wb") as f:
                    f.write(m.content)
                v = subprocess.run([PY, os.path.join(HERE, "dkimpy_helper.py"), "verify", zf, mf],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
                part = [p for p in msg.iter_attachments()][0]
                self.assertTrue(part.get_filename().startswith("mx.example.test!"))
                xml = gzip.decompress(part.get_payload(decode=True))
                path = os.path.join(tmp, "r.xml")
                with open(path, "wb") as f:
                    f.write(qualify_root(xml))
                v = subprocess.run(["xmllint", "--noout", "--nonet", "--schema", SCHEMA, path],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(v.returncode, 0, v.stderr + xml.decode())
                text = xml.decode()
                self.assertIn("<org_name>Example Gateway</org_name>", text)
                self.assertIn("<email>dmarc-reports@reports.test</email>", text)
                self.assertIn("<source_ip>127.0.0.1</source_ip>", text)
                if rcpt == "dmarc@bank.test":
                    self.assertIn("<domain>bank.test</domain>", text)
                    self.assertIn("<count>3</count>", text)
                    self.assertIn("<disposition>reject</disposition>", text)
                else:
                    self.assertIn("<domain>shop.test</domain>", text)
                    self.assertIn("<disposition>quarantine</disposition>", text)
            # reported once: a second run has nothing
            self.assertIn("reporting on 0 domains", d.ctl("dmarc", "report").stdout)

    def test_dns_check_dkim(self):
        """The DKIM part of dns check: each configured selector's record
        against its key file. k1 published right, k2 publishes k1's key,
        k3 is not published."""
        with Sink() as sink:
            d = Daemon(deliver=f"smtp://127.0.0.1:{sink.port}", trusted="",
                       extra="domain sign.test {\n    dkim selector k1 k2 k3\n}\n")
            bin_ = os.environ.get("POSTERN_BIN", "postern")
            zone = {}
            for sel in ("k1", "k2", "k3"):
                p = subprocess.run([bin_, "dkim", "keygen", "sign.test", sel, "--algo",
                                    "ed25519" if sel == "k3" else "rsa2048", "-c", d.conf],
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                zone[sel] = [l for l in p.stdout.splitlines()
                             if l.startswith(f"{sel}._domainkey.sign.test. IN TXT")][0]
            text = zone["k1"].replace("k1._domainkey.sign.test.", "k1._domainkey") + "\n"
            text += zone["k1"].replace("k1._domainkey.sign.test.", "k2._domainkey") + "\n"
            with Knot({"sign.test": text}) as dns:
                with open(d.conf, "a") as f:
                    f.write(f"resolver 127.0.0.1:{dns.port}\n")
                d.start()
                self.addCleanup(d.cleanup)
                p = subprocess.run([bin_, "dns", "check", "sign.test", "--ip", "127.0.0.1",
                                    "-c", d.conf], capture_output=True, text=True, timeout=60)
            out = p.stdout
            self.assertRegex(out, r"DKIM +ok +k1._domainkey.sign.test matches the key")
            self.assertRegex(out, r"DKIM +mismatch +k2._domainkey.sign.test is not the public half")
            self.assertRegex(out, r"DKIM +missing +k3._domainkey.sign.test: no key record")
            self.assertIn("publish: " + zone["k2"], out)
            self.assertIn("publish: " + zone["k3"], out)
            self.assertNotIn("publish: " + zone["k1"], out)
            self.assertEqual(p.returncode, 1)


if __name__ == "__main__":
    unittest.main()
