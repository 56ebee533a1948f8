# SPDX-License-Identifier: ISC
"""DKIM signing keys end to end, with the real `postern` executable:

- `postern dkim keygen` for RSA-2048 and Ed25519: key files 0600 in 0700
  directories, owned by the daemon's user; the printed TXT record and
  zone-file line (strings of at most 255 bytes that join to the record);
  an existing selector is never replaced without --force;
- `postern dkim sign` (LF input, CRLF output) makes signatures that dkimpy
  (and OpenDKIM, when installed) verify against the records keygen printed,
  for RSA, Ed25519 and both selectors at once (dual signing); a changed
  body fails them;
- `postern dkim list` shows configured selectors, unconfigured keys and
  missing ones (exit 1);
- the daemon and `config check` refuse a configured selector without a
  usable key and name the config line; a reload that loses a key is
  refused and the running config kept.

No DNS: dkimpy and OpenDKIM read the key records from a zone file
(tests/integration/dkimpy_helper.py, opendkim TestPublicKeys).
"""
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import unittest

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
HELPER = os.path.join(HERE, "dkimpy_helper.py")
PY = "/usr/bin/python3"

MESSAGE = (b"From: Joe SixPack <joe@example.test>\n"
           b"To: Suzie Q <suzie@example.org>\n"
           b"Subject: Is dinner ready?\n"
           b"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\n"
           b"Message-ID: <20030712040037.46341.5F8J@example.test>\n"
           b"\n"
           b"Hi.\n"
           b"\n"
           b"We lost the game.  Are you hungry yet?\n"
           b"\n"
           b"Joe.\n")


def have_dkimpy():
    return subprocess.run([PY, "-c", "import dkim, nacl"], capture_output=True).returncode == 0


def slurp(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def daemon_uid():
    """The uid the daemon's files belong to: postern's when we are root."""
    return pwd.getpwnam("postern").pw_uid if os.geteuid() == 0 else os.geteuid()


class KeyTest(unittest.TestCase):
    selectors = "rsa ed"

    def setUp(self):
        self.sink_port = harness.free_port()
        self.d = harness.Daemon(domains=(), extra=(
            f"domain example.test {{\n    deliver smtp://127.0.0.1:{self.sink_port}\n"
            f"    dkim selector {self.selectors}\n}}\n"))
        self.addCleanup(self.d.cleanup)
        self.keydir = os.path.join(self.d.state, "dkim", "example.test")

    def postern(self, *args, stdin=b"", check=True):
        p = subprocess.run([harness.POSTERN, *args, "-c", self.d.conf], input=stdin,
                           capture_output=True, timeout=60)
        if check and p.returncode != 0:
            raise AssertionError(f"postern {' '.join(args)}: {p.returncode} "
                                 f"{p.stdout.decode()}{p.stderr.decode()}")
        return p

    def keygen(self, selector, algo=None, *extra, check=True):
        args = ["dkim", "keygen", "example.test", selector, *extra]
        if algo:
            args += ["--algo", algo]
        return self.postern(*args, check=check)

    @staticmethod
    def record(out):
        """The TXT record keygen printed (the line that starts v=DKIM1)."""
        m = re.search(rb"^(v=DKIM1; [^\n]*)$", out, re.M)
        assert m, out
        return m.group(1).decode()

    def zone(self, records):
        path = os.path.join(self.d.dir, "zone")
        with open(path, "w") as f:
            for sel, rec in records.items():
                f.write(f"{sel}._domainkey.example.test {rec}\n")
        return path


class Keygen(KeyTest):
    def test_keygen_writes_private_files_and_prints_the_records(self):
        outs = {}
        for sel, algo, k in (("rsa", None, "rsa"), ("ed", "ed25519", "ed25519"),
                             ("rsa2", "rsa2048", "rsa")):
            with self.subTest(algo=algo):
                out = outs[sel] = self.keygen(sel, algo).stdout
                rec = self.record(out)
                self.assertRegex(rec, rf"^v=DKIM1; k={k}; p=[A-Za-z0-9+/]+=*$")
                if k == "ed25519":
                    self.assertEqual(len(rec.split("p=")[1]), 44)  # 32 bytes
                path = os.path.join(self.keydir, sel + ".key")
                self.assertIn(path.encode(), out)
                st = os.lstat(path)
                self.assertTrue(stat.S_ISREG(st.st_mode))
                self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
                self.assertEqual(st.st_uid, daemon_uid())
                self.assertTrue(slurp(path).startswith(b"-----BEGIN PRIVATE KEY-----\n"))
                # the zone line: the same record in strings of at most 255 bytes
                m = re.search(rb"^" + sel.encode() +
                              rb"\._domainkey\.example\.test\. IN TXT \( (.*) \)$", out, re.M)
                self.assertIsNotNone(m, out)
                strings = re.findall(rb'"([^"]*)"', m.group(1))
                self.assertTrue(all(len(s) <= 255 for s in strings))
                self.assertEqual(b"".join(strings).decode(), rec)
                self.assertEqual(len(strings), 2 if k == "rsa" else 1)
        for dirpath in (os.path.dirname(self.keydir), self.keydir):
            st = os.lstat(dirpath)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o700)
            self.assertEqual(st.st_uid, daemon_uid())
        # nothing but the keys (no temp files)
        self.assertEqual(sorted(os.listdir(self.keydir)), ["ed.key", "rsa.key", "rsa2.key"])
        # what to do next: a configured selector needs a reload, a new one a
        # rotation with both selectors listed
        self.assertIn(b"domain example.test lists rsa already: reload the daemon", outs["rsa"])
        self.assertIn(b"\n    dkim selector rsa ed rsa2\n", outs["rsa2"])
        audit = slurp(os.path.join(self.d.state, "audit.log"), "r")
        self.assertIn('"event":"dkim.keygen"', audit)
        self.assertIn('"selector":"ed"', audit)

    def test_existing_selector_is_kept_unless_forced(self):
        self.keygen("rsa")
        path = os.path.join(self.keydir, "rsa.key")
        before = slurp(path)
        p = self.keygen("rsa", "ed25519", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"rsa.key: exists already", p.stderr)
        self.assertIn(b"--force", p.stderr)
        self.assertEqual(slurp(path), before)
        self.assertEqual(os.listdir(self.keydir), ["rsa.key"])
        out = self.keygen("rsa", "ed25519", "--force").stdout
        self.assertIn(b"(replaced)", out)
        self.assertIn(b"k=ed25519", out)
        self.assertNotEqual(slurp(path), before)
        self.assertEqual(stat.S_IMODE(os.lstat(path).st_mode), 0o600)

    def test_bad_arguments(self):
        for args, msg in ((["dkim", "keygen", "example.test", "../x"], b"is not a selector"),
                          (["dkim", "keygen", "bad_domain", "s1"], b"is not a domain name"),
                          (["dkim", "keygen", "example.test", "s1", "--algo", "dsa"],
                           b"--algo 'dsa' is not rsa2048 or ed25519"),
                          (["dkim", "sign"], b"usage: postern dkim"),
                          (["dkim", "frobnicate"], b"usage: postern dkim")):
            with self.subTest(args=args):
                p = self.postern(*args, check=False)
                self.assertNotEqual(p.returncode, 0)
                self.assertIn(msg, p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.d.state, "dkim", "x")))


@unittest.skipUnless(have_dkimpy(), "python3-dkim and python3-nacl are not installed")
class Sign(KeyTest):
    def setUp(self):
        super().setUp()
        self.records = {"rsa": self.record(self.keygen("rsa").stdout),
                        "ed": self.record(self.keygen("ed", "ed25519").stdout)}
        self.zonefile = self.zone(self.records)

    def sign(self, *selectors, stdin=MESSAGE):
        args = ["dkim", "sign", "--domain", "example.test"]
        for s in selectors:
            args += ["--selector", s]
        return self.postern(*args, stdin=stdin).stdout

    def dkimpy(self, msg):
        path = os.path.join(self.d.dir, "signed.eml")
        with open(path, "wb") as f:
            f.write(msg)
        p = subprocess.run([PY, HELPER, "verify", self.zonefile, path], capture_output=True,
                           timeout=60)
        return [line.split()[1] for line in p.stdout.decode().splitlines()]

    def opendkim(self, msg):
        conf = os.path.join(self.d.dir, "od.conf")
        with open(conf, "w") as f:
            f.write(f"Mode v\nTestPublicKeys {self.zonefile}\nAlwaysAddARHeader yes\n"
                    "Syslog no\nMinimumKeyBits 1024\n")
        path = os.path.join(self.d.dir, "od.eml")
        with open(path, "wb") as f:
            f.write(msg)
        p = subprocess.run(["opendkim", "-x", conf, "-t", path, "-vvv"], capture_output=True,
                           timeout=60)
        out = (p.stdout + p.stderr).decode(errors="replace")
        return sorted(w.split("=", 1)[1].split()[0].rstrip(";") for w in out.split()
                      if w.startswith("dkim="))

    def test_signatures_verify_with_dkimpy(self):
        for sels in (("rsa",), ("ed",), ("rsa", "ed")):
            with self.subTest(selectors=sels):
                out = self.sign(*sels)
                # LF in, CRLF out: no bare LF anywhere
                self.assertNotIn(b"\n", out.replace(b"\r\n", b""))
                self.assertTrue(out.endswith(MESSAGE.replace(b"\n", b"\r\n")))
                heads = re.findall(rb"^DKIM-Signature:.*?(?=^\S)", out, re.M | re.S)
                self.assertEqual(len(heads), len(sels))
                for h, sel in zip(heads, sels):
                    flat = re.sub(rb"\s+", b"", h)
                    self.assertIn(b"d=example.test;s=" + sel.encode() + b";", flat)
                    self.assertIn(b"a=ed25519-sha256" if sel == "ed" else b"a=rsa-sha256",
                                  flat)
                    # recommended fields signed, From once more than it occurs
                    self.assertIn(b"h=From:From:", flat)
                    for name in (b"Subject", b"To", b"Date", b"Message-ID"):
                        self.assertIn(name, flat.split(b"h=")[1].split(b";")[0])
                self.assertEqual(self.dkimpy(out), ["pass"] * len(sels))
                if shutil.which("opendkim"):
                    self.assertEqual(self.opendkim(out), ["pass"] * len(sels))
                bad = out.replace(b"hungry", b"HUNGRY")
                self.assertEqual(self.dkimpy(bad), ["fail"] * len(sels))
                # a From added after signing breaks every signature (oversigned)
                self.assertEqual(self.dkimpy(b"From: mallory@evil.example\r\n" + out),
                                 ["fail"] * len(sels))

    def test_configured_selectors_by_default_and_crlf_input(self):
        out = self.sign(stdin=MESSAGE.replace(b"\n", b"\r\n"))
        self.assertEqual(len(re.findall(rb"^DKIM-Signature:", out, re.M)), 2)
        self.assertEqual(self.dkimpy(out), ["pass", "pass"])
        # the CRLF input was not doubled into CR CR LF
        self.assertNotIn(b"\r\r\n", out)
        audit = slurp(os.path.join(self.d.state, "audit.log"), "r")
        self.assertEqual(audit.count('"event":"dkim.sign"'), 2)

    def test_sign_errors(self):
        p = self.postern("dkim", "sign", "--domain", "example.test", "--selector", "nope",
                         stdin=MESSAGE, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"nope.key: no key file (`postern dkim keygen example.test nope` makes "
                      b"one)", p.stderr)
        self.assertEqual(p.stdout, b"")
        p = self.postern("dkim", "sign", "--domain", "example.test", "--selector", "rsa",
                         stdin=b"To: a@example.org\n\nno From\n", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"no From", p.stderr)
        self.assertEqual(p.stdout, b"")
        p = self.postern("dkim", "sign", "--domain", "other.test", stdin=MESSAGE, check=False)
        self.assertIn(b"domain other.test has no dkim selector", p.stderr)


class ListAndCheck(KeyTest):
    selectors = "rsa ed"

    def test_list(self):
        rsa = self.record(self.keygen("rsa").stdout)
        p = self.postern("dkim", "list", check=False)
        self.assertEqual(p.returncode, 1)  # ed has no key yet
        out = p.stdout.decode()
        self.assertIn(f"example.test rsa rsa2048 signing {self.keydir}/rsa.key\n"
                      f"    rsa._domainkey.example.test TXT {rsa}\n", out)
        self.assertRegex(out, r"example.test ed - MISSING .*/ed.key: no key file")
        self.assertIn(b"no usable key", p.stderr)
        ed = self.record(self.keygen("ed", "ed25519").stdout)
        new = self.record(self.keygen("s2027", "ed25519").stdout)
        p = self.postern("dkim", "list")
        out = p.stdout.decode()
        self.assertIn(f"example.test ed ed25519 signing {self.keydir}/ed.key\n"
                      f"    ed._domainkey.example.test TXT {ed}\n", out)
        self.assertIn(f"example.test s2027 ed25519 not-configured {self.keydir}/s2027.key\n"
                      f"    s2027._domainkey.example.test TXT {new}\n", out)

    def test_config_check_and_serve_need_every_key(self):
        self.keygen("rsa")
        for cmd in (["config", "check"], ["serve"]):
            with self.subTest(cmd=cmd):
                proc = subprocess.Popen([harness.POSTERN, *cmd, "-c", self.d.conf],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        start_new_session=True)
                try:
                    out, err = proc.communicate(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.communicate()
                    self.fail(f"postern {cmd[0]} started without the key of selector ed")
                self.assertEqual(proc.returncode, 1)
                self.assertIn(f"postern: {self.d.conf}:{self.line_of('dkim selector')}: "
                              f"domain example.test: dkim selector ed: {self.keydir}/ed.key: "
                              f"no key file (`postern dkim keygen example.test ed` makes one)",
                              err.decode())
        self.keygen("ed", "ed25519")
        self.assertIn(b": ok", self.postern("config", "check").stdout)
        # a key others may read is refused, with the fix
        os.chmod(os.path.join(self.keydir, "ed.key"), 0o644)
        p = self.postern("config", "check", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn(b"ed.key: group or others may access it (mode 644): chmod 600 it",
                      p.stderr)
        os.chmod(os.path.join(self.keydir, "ed.key"), 0o600)
        if os.geteuid() == 0:
            # a key the queue's user could not read
            os.chown(os.path.join(self.keydir, "ed.key"), 0, 0)
            p = self.postern("config", "check", check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn(b"ed.key: owned by uid 0, but the queue process signs as postern",
                          p.stderr)
            os.chown(os.path.join(self.keydir, "ed.key"), daemon_uid(), daemon_uid())
        self.assertEqual(self.postern("config", "check").returncode, 0)

    def test_reload_that_loses_a_key_is_refused(self):
        self.keygen("rsa")
        self.keygen("ed", "ed25519")
        self.d.start()
        # the queue process has read the keys (it starts after the parent)
        self.assertTrue(self.d.wait_log(r"queue dkim-keys loaded=2"), self.d.log())
        os.rename(os.path.join(self.keydir, "ed.key"), os.path.join(self.keydir, "old.bak"))
        self.d.signal(signal.SIGHUP)
        self.assertTrue(self.d.wait_log(r"parent reload-refused reason=.*dkim selector ed: "
                                        r".*ed\.key: no key file"), self.d.log())
        self.assertIsNone(self.d.proc.poll())
        self.assertEqual(self.d.stop(), 0)

    def line_of(self, text):
        with open(self.d.conf) as f:
            for n, line in enumerate(f, 1):
                if text in line:
                    return n
        raise AssertionError(text)


PW = "correct horse battery staple 42"
# Small Argon2 parameters keep the test quick; no greeting delay on mx.
SIGN_CONF = ("auth {\n    argon2_memory 8M\n    argon2_ops 1\n}\n"
             "guard {\n    greet_delay 0\n}\n")
# Dot-stuffed on the wire and in the spool: the signature covers the
# unstuffed lines.
BODY = (b"Subject: Is dinner ready?\r\nTo: Suzie Q <suzie@example.test>\r\n"
        b"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
        b"Message-ID: <20030712040037.46341.5F8J@example.test>\r\n\r\n"
        b"Hi.\r\n.leading dot\r\n..two dots\r\n\r\nJoe.\r\n")


@unittest.skipUnless(have_dkimpy(), "python3-dkim and python3-nacl are not installed")
class QueueSigning(unittest.TestCase):
    """The queue signs mail of authenticated users and trusted networks
    (127.0.0.2 here) whose From: domain has selectors; nothing else."""

    @classmethod
    def setUpClass(cls):
        cls.sink = harness.Sink().start()
        deliver = f"smtp://127.0.0.1:{cls.sink.port}"
        cls.d = harness.Daemon(domains=(), trusted="127.0.0.2/32", extra=(
            SIGN_CONF +
            f"domain example.test {{\n    deliver {deliver}\n    dkim selector rsa ed\n}}\n"
            f"domain plain.test {{\n    deliver {deliver}\n}}\n"))
        cls.records = {}
        for sel, algo in (("rsa", "rsa2048"), ("ed", "ed25519")):
            cls.records[sel] = KeyTest.record(cls.cli("dkim", "keygen", "example.test", sel,
                                                      "--algo", algo).stdout)
        cls.cli("user", "add", "alice@example.test", "--password-stdin", stdin=PW + "\n")
        cls.cli("user", "address", "add", "alice@example.test", "@plain.test")
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.sink.stop()

    @classmethod
    def cli(cls, *args, stdin=""):
        p = subprocess.run([harness.POSTERN, *args, "-c", cls.d.conf], input=stdin.encode(),
                           capture_output=True, timeout=60)
        if p.returncode != 0:
            raise AssertionError(f"postern {' '.join(args)}: {p.stdout}{p.stderr}")
        return p

    def send(self, sender, body, port=None, source=None, login=False):
        import smtplib
        src = (source, 0) if source else None
        with smtplib.SMTP("127.0.0.1", port or self.d.mx_port, timeout=30,
                          source_address=src) as s:
            s.ehlo("client.example.org")
            if login:
                s.starttls(context=harness.no_verify())
                s.ehlo("client.example.org")
                s.login("alice@example.test", PW)
            s.mail(sender)
            s.rcpt("suzie@example.test")
            code, text = s.data(body)
            self.assertEqual(code, 250, text)
            return harness.queued_id(text.decode())

    def delivered(self, qid):
        msgs = harness.sink_wait(self.sink, lambda m: f"id {qid}".encode() in m.content)
        self.assertEqual(len(msgs), 1, self.d.log()[-3000:])
        return msgs[0].content

    def verify(self, content, records=None):
        zone = os.path.join(self.d.dir, "zone")
        with open(zone, "w") as f:
            for sel, rec in (records or self.records).items():
                f.write(f"{sel}._domainkey.example.test {rec}\n")
        path = os.path.join(self.d.dir, "delivered.eml")
        with open(path, "wb") as f:
            f.write(content)
        p = subprocess.run([PY, HELPER, "verify", zone, path], capture_output=True, timeout=60)
        return [line.split()[1] for line in p.stdout.decode().splitlines()]

    @staticmethod
    def selectors(content):
        """The s= of each DKIM-Signature field of the header section, in order."""
        head = content.split(b"\r\n\r\n", 1)[0]
        head = re.sub(rb"\r\n[ \t]", b" ", head)  # unfold
        return [re.search(rb"\bs=([^;]+);", line).group(1).decode()
                for line in head.split(b"\r\n") if line.lower().startswith(b"dkim-signature:")]

    def test_authenticated_user_is_signed_with_every_selector(self):
        qid = self.send("alice@example.test", b"From: Alice <alice@example.test>\r\n" + BODY,
                        port=self.d.sub_port, login=True)
        content = self.delivered(qid)
        # the signatures come first, in the config's order, then Received
        self.assertTrue(content.startswith(b"DKIM-Signature: "), content[:200])
        self.assertEqual(self.selectors(content), ["rsa", "ed"])
        self.assertIn(b"\r\n.leading dot\r\n..two dots\r\n", content)
        self.assertEqual(self.verify(content), ["pass", "pass"])
        self.assertEqual(self.verify(content.replace(b"Joe.", b"Moe.")), ["fail", "fail"])
        log = self.d.log()
        self.assertIn(f"{qid} queue dkim-signed domain=example.test selectors=rsa,ed", log)
        # the 250 (smtp accepted) came after the signed file was committed
        self.assertLess(log.index(f"{qid} queue dkim-signed"),
                        log.index(f"{qid} smtp accepted"))

    def test_trusted_network_is_signed(self):
        qid = self.send("joe@example.test", b"From: joe@Example.TEST\r\n" + BODY,
                        source="127.0.0.2")
        content = self.delivered(qid)
        self.assertEqual(self.selectors(content), ["rsa", "ed"])
        self.assertEqual(self.verify(content), ["pass", "pass"])

    def test_inbound_mail_is_never_signed(self):
        # from the internet to our domain, claiming to be from it
        qid = self.send("alice@example.test", b"From: alice@example.test\r\n" + BODY)
        content = self.delivered(qid)
        self.assertEqual(self.selectors(content), [])
        self.assertNotIn(f"{qid} queue dkim", self.d.log())

    def test_mail_we_need_not_or_cannot_sign_is_sent_unsigned(self):
        for from_, reason in ((b"alice@plain.test", "no dkim selector for the From: domain"),
                              (b"joe@example.test, ann@example.org",
                               "From: addresses in more than one domain")):
            with self.subTest(from_=from_):
                qid = self.send("joe@example.test", b"From: " + from_ + b"\r\n" + BODY,
                                source="127.0.0.2")
                self.assertEqual(self.selectors(self.delivered(qid)), [])
                self.assertIn(f'{qid} queue dkim-unsigned', self.d.log())
                self.assertIn(f'reason="{reason}"', self.d.log())

    def test_a_new_selector_signs_after_reload(self):
        rec = KeyTest.record(self.cli("dkim", "keygen", "example.test", "s2027", "--algo",
                                      "ed25519").stdout)
        with open(self.d.conf) as f:
            conf = f.read()
        self.d.write_conf(conf.replace("dkim selector rsa ed", "dkim selector rsa ed s2027"))
        try:
            n = self.d.log().count("queue reloaded")
            self.d.signal(signal.SIGHUP)
            self.assertTrue(harness.wait_for(
                lambda: self.d.log().count("queue reloaded") > n, 15), self.d.log()[-2000:])
            qid = self.send("joe@example.test", b"From: joe@example.test\r\n" + BODY,
                            source="127.0.0.2")
            content = self.delivered(qid)
            self.assertEqual(self.selectors(content), ["rsa", "ed", "s2027"])
            self.assertEqual(self.verify(content, dict(self.records, s2027=rec)),
                             ["pass", "pass", "pass"])
        finally:
            n = self.d.log().count("queue reloaded")
            self.d.write_conf(conf)
            self.d.signal(signal.SIGHUP)
            harness.wait_for(lambda: self.d.log().count("queue reloaded") > n, 15)


if __name__ == "__main__":
    unittest.main()
