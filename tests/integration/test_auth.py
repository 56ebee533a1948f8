# SPDX-License-Identifier: ISC
"""SMTP AUTH end to end (RFC 4954): accounts made with the real CLI, logins
with real clients (Python's smtplib, swaks, oathtool for TOTP codes,
doveadm for imported hashes), sender ownership, expiry, app passwords and
the audit log's hash chain."""
import base64
import os
import re
import smtplib
import sqlite3
import subprocess
import time
import unittest

from harness import (POSTERN, Daemon, ProtoClient, Sink, no_verify, sink_wait, swaks,
                     wait_for)

PW = "correct horse battery staple 9"
MSG = "From: {f}\r\nTo: bob@example.test\r\nSubject: auth test\r\n\r\nhello\r\n"
# Small Argon2 parameters keep the tests quick; the code path is the same.
AUTH_CONF = "auth {\n    argon2_memory 8M\n    argon2_ops 1\n}\n"
# These tests fail logins on purpose, many from one address: the guard
# (test_guard.py) would throttle them; here it only watches.
GUARD_WATCHES = ("guard {\n    ip_failures 100000\n    net_failures 100000\n"
                 "    pair_failures 100000\n    tarpit 0\n    auth_rate 0\n}\n")
AUTH_CONF += GUARD_WATCHES


def user(d, *args, password=None, check=True):
    p = subprocess.run([POSTERN, "user", *args, "-c", d.conf], capture_output=True, text=True,
                       input=password, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"postern user {' '.join(args)}: {p.stdout}{p.stderr}")
    return p


def add_user(d, name, pw=PW):
    return user(d, "add", name, "--password-stdin", password=pw + "\n")


def login(d, name, pw, port=None, implicit=False, source=None):
    """(code, text) of a login over STARTTLS (or implicit TLS), from the
    loopback address source if given."""
    src = (source, 0) if source else None
    if implicit:
        s = smtplib.SMTP_SSL("127.0.0.1", port, timeout=30, context=no_verify(),
                             source_address=src)
    else:
        s = smtplib.SMTP("127.0.0.1", port or d.sub_port, timeout=30, source_address=src)
        s.starttls(context=no_verify())
    try:
        s.ehlo("client.example.org")
        try:
            code, text = s.login(name, pw)
        except smtplib.SMTPAuthenticationError as e:
            code, text = e.smtp_code, e.smtp_error
        except smtplib.SMTPResponseException as e:
            code, text = e.smtp_code, e.smtp_error
        return code, text.decode()
    finally:
        s.close()


def plain(name, pw):
    return base64.b64encode(b"\0" + name.encode() + b"\0" + pw.encode()).decode()


def totp_now(secret, offset=0):
    t = time.time() + offset
    return subprocess.run(["oathtool", "--totp", "-b", "-N", f"@{int(t)}", secret],
                          capture_output=True, text=True, check=True).stdout.strip()


def audit(d):
    with open(os.path.join(d.state, "audit.log")) as f:
        return [line for line in f]


class Auth(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sink = Sink().start()
        cls.d = Daemon(deliver=f"smtp://127.0.0.1:{cls.sink.port}", trusted="", implicit=True,
                       extra=AUTH_CONF)
        add_user(cls.d, "alice@example.test")
        user(cls.d, "address", "add", "alice@example.test", "sales@example.test")
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.sink.stop()

    def test_plain_and_login_with_smtplib(self):
        for mech in ("PLAIN", "LOGIN"):
            s = smtplib.SMTP("127.0.0.1", self.d.sub_port, timeout=30)
            s.starttls(context=no_verify())
            s.ehlo()
            self.assertIn(mech, s.esmtp_features["auth"])
            s.user, s.password = "alice@example.test", PW
            code, text = s.auth(mech, getattr(s, "auth_" + mech.lower()),
                                initial_response_ok=(mech == "PLAIN"))
            self.assertEqual((code, text[:5]), (235, b"2.7.0"))
            s.quit()
        code, text = login(self.d, "alice@example.test", "not the password at all")
        self.assertEqual(code, 535)
        self.assertTrue(text.startswith("5.7.8"), text)

    def test_implicit_tls(self):
        self.assertEqual(login(self.d, "alice@example.test", PW, port=self.d.implicit_port,
                               implicit=True)[0], 235)

    def test_swaks_plain_and_login_and_send(self):
        for mech in ("PLAIN", "LOGIN"):
            p = swaks("--server", f"127.0.0.1:{self.d.sub_port}", "--tls", "--auth", mech,
                      "--auth-user", "alice@example.test", "--auth-password", PW,
                      "--from", "alice@example.test", "--to", "bob@example.test",
                      "--header", f"Subject: swaks {mech}")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        sink_wait(self.sink, lambda m: m.header("Subject") == "swaks LOGIN")

    def test_no_auth_before_tls(self):
        c = ProtoClient(self.d.sub_port)
        self.assertNotIn("AUTH", c.cmd("EHLO client.example.org"))
        self.assertTrue(c.cmd("AUTH PLAIN " + plain("alice@example.test", PW))
                        .startswith("538 5.7.11"))
        c.close()

    def test_no_auth_on_mx(self):
        c = ProtoClient(self.d.mx_port)
        c.cmd("EHLO client.example.org")
        c.starttls()
        self.assertNotIn("AUTH", c.cmd("EHLO client.example.org"))
        self.assertTrue(c.cmd("AUTH PLAIN " + plain("alice@example.test", PW))
                        .startswith("502"))
        c.close()

    def test_protocol_errors(self):
        c = ProtoClient(self.d.sub_port)
        c.cmd("EHLO client.example.org")
        c.starttls()
        c.cmd("EHLO client.example.org")
        self.assertTrue(c.cmd("AUTH CRAM-MD5").startswith("504 5.5.4"))
        self.assertTrue(c.cmd("AUTH PLAIN !!!notbase64").startswith("501"))
        self.assertTrue(c.cmd("AUTH PLAIN " + base64.b64encode(b"no-nuls").decode())
                        .startswith("501"))
        self.assertTrue(c.cmd("AUTH LOGIN").startswith("334 VXNlcm5hbWU6"))
        self.assertTrue(c.cmd("*").startswith("501"))
        self.assertTrue(c.cmd("AUTH PLAIN").startswith("334"))
        self.assertTrue(c.cmd(plain("alice@example.test", PW)).startswith("235 2.7.0"))
        self.assertTrue(c.cmd("AUTH PLAIN " + plain("alice@example.test", PW))
                        .startswith("503"))
        # AUTH= on MAIL (RFC 4954 5) is accepted
        self.assertTrue(c.cmd("MAIL FROM:<alice@example.test> AUTH=<>").startswith("250"))
        c.close()

    def test_unauthenticated_submission_refused(self):
        c = ProtoClient(self.d.sub_port)
        c.cmd("EHLO client.example.org")
        c.starttls()
        c.cmd("EHLO client.example.org")
        self.assertTrue(c.cmd("MAIL FROM:<alice@example.test>").startswith("530 5.7.0"))
        c.close()

    def test_unknown_account(self):
        code, _ = login(self.d, "nobody@example.test", PW)
        self.assertEqual(code, 535)
        self.assertTrue(self.d.wait_log(r'auth failed user="nobody@example.test".*'
                                        r'reason=unknown-account'))

    def test_sender_ownership(self):
        with smtplib.SMTP("127.0.0.1", self.d.sub_port, timeout=30) as s:
            s.starttls(context=no_verify())
            s.login("alice@example.test", PW)
            # her own address and the one granted to her
            for f in ("alice@example.test", "sales@example.test"):
                s.sendmail(f, ["bob@example.test"], MSG.format(f=f))
            # someone else's, in MAIL FROM
            with self.assertRaises(smtplib.SMTPSenderRefused) as e:
                s.sendmail("bob@example.test", ["bob@example.test"],
                           MSG.format(f="alice@example.test"))
            self.assertEqual(e.exception.smtp_code, 553)
            self.assertIn(b"5.7.1", e.exception.smtp_error)
            # someone else's, in From:
            for f in ("bob@example.test", "Alice <alice@example.test>, eve@example.test",
                      '"alice@example.test" <eve@example.test>',
                      "ceo@bank.test: alice@example.test;"):
                with self.assertRaises(smtplib.SMTPDataError) as e:
                    s.sendmail("alice@example.test", ["bob@example.test"], MSG.format(f=f))
                self.assertEqual(e.exception.smtp_code, 553, f)
            s.sendmail("alice@example.test", ["bob@example.test"],
                       MSG.format(f='"Alice Smith" <Alice@Example.Test>'))

    def test_domain_grant(self):
        add_user(self.d, "boss@example.test")
        user(self.d, "address", "add", "boss@example.test", "@example.test")
        with smtplib.SMTP("127.0.0.1", self.d.sub_port, timeout=30) as s:
            s.starttls(context=no_verify())
            s.login("boss@example.test", PW)
            s.sendmail("anyone@example.test", ["bob@example.test"],
                       MSG.format(f="anyone@example.test"))
            with self.assertRaises(smtplib.SMTPSenderRefused):
                s.sendmail("anyone@other.test", ["bob@example.test"],
                           MSG.format(f="anyone@other.test"))

    def test_lock_and_unlock(self):
        add_user(self.d, "locked@example.test")
        self.assertEqual(login(self.d, "locked@example.test", PW)[0], 235)
        user(self.d, "lock", "locked@example.test", "--reason", "left")
        # also when the password is in the verified-credential cache
        self.assertEqual(login(self.d, "locked@example.test", PW)[0], 535)
        user(self.d, "unlock", "locked@example.test")
        self.assertEqual(login(self.d, "locked@example.test", PW)[0], 235)

    def test_password_change_drops_cache(self):
        add_user(self.d, "change@example.test")
        self.assertEqual(login(self.d, "change@example.test", PW)[0], 235)
        self.assertEqual(login(self.d, "change@example.test", PW)[0], 235)
        user(self.d, "passwd", "change@example.test", "--password-stdin",
             password="another long passphrase 42\n")
        self.assertEqual(login(self.d, "change@example.test", PW)[0], 535)
        self.assertEqual(login(self.d, "change@example.test", "another long passphrase 42")[0],
                         235)

    def test_allow_from(self):
        add_user(self.d, "office@example.test")
        user(self.d, "allow-from", "office@example.test", "10.0.0.0/8")
        self.assertEqual(login(self.d, "office@example.test", PW)[0], 535)
        self.assertTrue(self.d.wait_log(r'user="office@example.test".*source-not-allowed'))
        user(self.d, "allow-from", "office@example.test", "127.0.0.0/8")
        self.assertEqual(login(self.d, "office@example.test", PW)[0], 235)

    def test_must_change_gets_432(self):
        add_user(self.d, "reset@example.test")
        user(self.d, "passwd", "reset@example.test", "--reset", "--password-stdin",
             password="temporary passphrase 77\n")
        code, text = login(self.d, "reset@example.test", "temporary passphrase 77")
        self.assertEqual(code, 432)
        self.assertTrue(text.startswith("4.7.12"), text)
        self.assertTrue(any('"reason":"must-change"' in r and '"result":"expired"' in r
                            for r in audit(self.d)))

    def test_policy_refuses_weak_passwords(self):
        for pw, why in (("short", "at least 12"), ("alicealicealice", "guess"),
                        ("passwordpassword", "guess")):
            p = user(self.d, "add", "weak@example.test", "--password-stdin", password=pw + "\n",
                     check=False)
            self.assertNotEqual(p.returncode, 0, pw)
            self.assertIn("password refused", p.stderr)
        self.assertNotIn("weak@example.test", user(self.d, "list").stdout)

    def test_history(self):
        add_user(self.d, "hist@example.test")
        p = user(self.d, "passwd", "hist@example.test", "--password-stdin", password=PW + "\n",
                 check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("last", p.stderr)

    def test_totp_and_app_passwords(self):
        add_user(self.d, "carol@example.test")
        out = user(self.d, "2fa", "enable", "carol@example.test").stdout
        secret = re.search(r"secret \(base32\): ([A-Z2-7]+)", out).group(1)
        self.assertIn("otpauth://totp/", out)
        self.assertIn("\u2588", out)  # the QR code
        with open(os.path.join(self.d.state, "accounts.db"), "rb") as f:
            self.assertNotIn(secret.encode(), f.read())
        # the password alone no longer works
        self.assertEqual(login(self.d, "carol@example.test", PW)[0], 535)
        # wait for a fresh step so the code below is the first of its step
        while int(time.time()) % 30 > 25:
            time.sleep(1)
        code = totp_now(secret)
        self.assertEqual(login(self.d, "carol@example.test", PW + code)[0], 235)
        self.assertEqual(login(self.d, "carol@example.test", PW + code)[0], 535)
        self.assertTrue(self.d.wait_log(r'user="carol@example.test".*reason=code-reused'))
        wrong = "%06d" % ((int(code) + 1) % 1000000)
        self.assertEqual(login(self.d, "carol@example.test", PW + wrong)[0], 535)
        self.assertEqual(login(self.d, "carol@example.test", "wrong password " + code)[0], 535)
        # app passwords
        out = user(self.d, "app-password", "add", "carol@example.test", "--label", "phone",
                   "--expires", "90d").stdout
        app = re.search(r"\(phone\): ([a-z0-9-]{19})", out).group(1)
        self.assertEqual(login(self.d, "carol@example.test", app)[0], 235)
        self.assertEqual(login(self.d, "carol@example.test", app.upper().replace("-", " "))[0],
                         235)
        listing = user(self.d, "app-password", "list", "carol@example.test").stdout
        self.assertRegex(listing, r"phone .*last-used=\d{4}-.* last-ip=127\.0\.0\.1")
        out = user(self.d, "app-password", "add", "carol@example.test", "--label", "laptop",
                   "--from", "10.1.0.0/16").stdout
        bound = re.search(r"\(laptop\): ([a-z0-9-]{19})", out).group(1)
        self.assertEqual(login(self.d, "carol@example.test", bound)[0], 535)
        user(self.d, "app-password", "revoke", "carol@example.test", "phone")
        self.assertEqual(login(self.d, "carol@example.test", app)[0], 535)
        self.assertIn("revoked", user(self.d, "show", "carol@example.test").stdout)
        recs = audit(self.d)
        self.assertTrue(any('"credential":"app-password"' in r and '"app_password":"phone"' in r
                            and '"result":"ok"' in r for r in recs))
        self.assertTrue(any('"event":"user.2fa.enable"' in r for r in recs))
        self.assertFalse(any(secret in r or app in r for r in recs))
        # turning 2FA off brings the password back
        user(self.d, "2fa", "disable", "carol@example.test")
        self.assertEqual(login(self.d, "carol@example.test", PW)[0], 235)

    def test_zz_audit_verify_names_a_tampered_record(self):
        p = subprocess.run([POSTERN, "audit", "verify", "-c", self.d.conf], capture_output=True,
                           text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        tail = subprocess.run([POSTERN, "audit", "tail", "-c", self.d.conf],
                              capture_output=True, text=True)
        self.assertIn('"event":"auth"', tail.stdout)
        # a copy with one byte changed in record 3
        copy = os.path.join(self.d.dir, "tampered")
        os.makedirs(os.path.join(copy, "state"))
        lines = audit(self.d)
        n = next(k for k, r in enumerate(lines) if '"ip":"127.0.0.1"' in r)
        i = lines[n].index('"ip":"127.0.0.1"') + len('"ip":"127.0.0.')
        lines[n] = lines[n][:i] + "2" + lines[n][i + 1:]
        with open(os.path.join(copy, "state", "audit.log"), "w") as f:
            f.writelines(lines)
        conf = os.path.join(copy, "postern.conf")
        with open(self.d.conf) as f:
            body = f.read().replace(self.d.state, os.path.join(copy, "state"))
        with open(conf, "w") as f:
            f.write(body)
        subprocess.run(["chown", "-R", "postern:postern", copy], check=True)
        p = subprocess.run([POSTERN, "audit", "verify", "-c", conf], capture_output=True,
                           text=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(f"record {n + 1} (line {n + 1})", p.stdout + p.stderr)


def gsasl(d, mech, name, pw, cb=True):
    """A SCRAM login by GNU SASL's client (GnuTLS; an implementation
    independent of ours): (returncode, transcript)."""
    args = ["gsasl", "--smtp", "--connect", f"127.0.0.1:{d.sub_port}", "--starttls",
            "--x509-ca-file=", "-m", mech, "-a", name, "-p", pw, "--verbose"]
    if not cb:
        args.append("--no-cb")
    p = subprocess.run(args, capture_output=True, text=True, timeout=60, input="")
    return p.returncode, p.stdout + p.stderr


def scram_first(c, gs2, name, nonce="clientnonce0123456789"):
    """Send a SCRAM client-first on an authenticated-ready raw client;
    returns the decoded server-first or the reply line."""
    msg = f"{gs2}n={name},r={nonce}".encode()
    r = c.cmd("AUTH SCRAM-SHA-256 " + base64.b64encode(msg).decode())
    if not r.startswith("334 "):
        return r
    return base64.b64decode(r[4:]).decode()


class Scram(unittest.TestCase):
    """SCRAM-SHA-256 and -PLUS (tls-exporter) against gsasl."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(deliver="smtp://127.0.0.1:9", trusted="", extra=AUTH_CONF)
        add_user(cls.d, "sam@example.test")
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def tls_client(self):
        c = ProtoClient(self.d.sub_port)
        c.cmd("EHLO client.example.org")
        c.starttls()
        ehlo = c.cmd("EHLO client.example.org")
        self.assertIn("AUTH PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS", ehlo)
        return c

    def test_gsasl(self):
        for mech, cb in (("SCRAM-SHA-256", False), ("SCRAM-SHA-256-PLUS", True)):
            rc, out = gsasl(self.d, mech, "sam@example.test", PW, cb=cb)
            self.assertEqual(rc, 0, out)
            self.assertIn("235 2.7.0", out)
            rc, out = gsasl(self.d, mech, "sam@example.test", PW + "x", cb=cb)
            self.assertNotEqual(rc, 0, out)
            self.assertIn("535 5.7.8", out)
        self.assertTrue(self.d.wait_log(r'auth ok user="sam@example.test".*'
                                        r'mechanism=SCRAM-SHA-256-PLUS'))

    def test_unknown_account_looks_real(self):
        c = self.tls_client()
        a = scram_first(c, "n,,", "ghost@example.test")
        self.assertTrue(a.startswith("r=clientnonce0123456789"), a)
        c.cmd("*")
        b = scram_first(c, "n,,", "ghost@example.test")
        c.close()
        salt = lambda m: re.search(r",s=([^,]+),i=(\d+)", m).groups()
        self.assertEqual(salt(a), salt(b))  # a stable made-up salt
        c = self.tls_client()
        real = scram_first(c, "n,,", "sam@example.test")
        c.close()
        self.assertEqual(salt(a)[1], salt(real)[1])  # the same iteration count

    def test_downgrade_and_bad_messages(self):
        c = self.tls_client()
        # "y": the client thinks we cannot do channel binding, but we offered -PLUS
        self.assertTrue(scram_first(c, "y,,", "sam@example.test").startswith("501"))
        self.assertTrue(scram_first(c, "p=tls-unique,,", "sam@example.test").startswith("501"))
        self.assertTrue(scram_first(c, "n,,m=ext,", "sam@example.test").startswith("501"))
        self.assertTrue(scram_first(c, "n,,", "sam@example.test", nonce="a,b")
                        .startswith("501"))
        # a wrong proof after a valid first message
        first = scram_first(c, "n,,", "sam@example.test")
        nonce = re.search(r"r=([^,]+)", first).group(1)
        final = f"c=biws,r={nonce},p=" + base64.b64encode(b"x" * 32).decode()
        self.assertTrue(c.cmd(base64.b64encode(final.encode()).decode()).startswith("535"))
        c.close()

    def test_two_factor_account_gets_534(self):
        add_user(self.d, "tfa@example.test")
        user(self.d, "2fa", "enable", "tfa@example.test")
        rc, out = gsasl(self.d, "SCRAM-SHA-256-PLUS", "tfa@example.test", PW)
        self.assertIn("534 5.7.9", out)
        # a wrong password gets 535, as for anyone
        rc, out = gsasl(self.d, "SCRAM-SHA-256-PLUS", "tfa@example.test", PW + "x")
        self.assertIn("535 5.7.8", out)

    def test_keys_made_at_first_plain_login(self):
        h = subprocess.run(["doveadm", "pw", "-s", "SHA512-CRYPT", "-p", PW],
                           capture_output=True, text=True, check=True).stdout.strip()
        path = os.path.join(self.d.dir, "one.passwd")
        with open(path, "w") as f:
            f.write(f"imported@example.test:{h}\n")
        user(self.d, "import", path)
        rc, out = gsasl(self.d, "SCRAM-SHA-256", "imported@example.test", PW, cb=False)
        self.assertIn("535", out)
        self.assertTrue(self.d.wait_log(r'user="imported@example.test".*no-scram-keys'))
        self.assertEqual(login(self.d, "imported@example.test", PW)[0], 235)
        self.assertTrue(self.d.wait_log(r"scram-keys-made user=imported@example.test"))
        rc, out = gsasl(self.d, "SCRAM-SHA-256", "imported@example.test", PW, cb=False)
        self.assertEqual(rc, 0, out)

    def test_password_change_replaces_keys(self):
        add_user(self.d, "rot@example.test")
        user(self.d, "passwd", "rot@example.test", "--password-stdin",
             password="a completely new passphrase 5\n")
        rc, out = gsasl(self.d, "SCRAM-SHA-256-PLUS", "rot@example.test", PW)
        self.assertIn("535", out)
        rc, out = gsasl(self.d, "SCRAM-SHA-256-PLUS", "rot@example.test",
                        "a completely new passphrase 5")
        self.assertEqual(rc, 0, out)


class Flood(unittest.TestCase):
    """A burst of AUTH attempts waits in the bounded hashing queue or gets
    454 4.7.0; memory stays bounded and the daemon keeps answering."""

    def test_bounded_queue(self):
        import concurrent.futures
        d = Daemon(deliver="smtp://127.0.0.1:9", trusted="",
                   extra="auth {\n    argon2_memory 32M\n    argon2_ops 2\n"
                         "    hash_threads 1\n    hash_queue 1\n}\n" + GUARD_WATCHES)
        try:
            add_user(d, "flood@example.test")
            d.start()

            def attempt(i):
                return login(d, "flood@example.test", f"wrong password number {i}")[0]
            with concurrent.futures.ThreadPoolExecutor(12) as ex:
                codes = list(ex.map(attempt, range(12)))
            self.assertIn(454, codes)
            self.assertIn(535, codes)
            self.assertEqual(set(codes), {454, 535})
            self.assertTrue(d.wait_log(r"auth tempfail .*reason=busy"))
            self.assertEqual(login(d, "flood@example.test", PW)[0], 235)
        finally:
            d.cleanup()

    def test_trusted_pair_goes_first(self):
        """Attackers from 127.0.5.0/24 keep the normal lane full; the user
        logging in from where she logged in before is served first (the
        cache is off, so each of her logins needs a hash too)."""
        import threading
        d = Daemon(deliver="smtp://127.0.0.1:9", trusted="",
                   extra="auth {\n    argon2_memory 32M\n    argon2_ops 2\n"
                         "    hash_threads 1\n    hash_queue 1\n    cache_ttl 0\n}\n" +
                   GUARD_WATCHES)
        try:
            add_user(d, "victim@example.test")
            add_user(d, "other@example.test")
            d.start()
            self.assertEqual(login(d, "victim@example.test", PW)[0], 235)  # now trusted
            stop = threading.Event()
            codes = []

            def attack(n):
                while not stop.is_set():
                    codes.append(login(d, "victim@example.test", f"guess {n} {len(codes)}",
                                       source=f"127.0.5.{n}")[0])
            threads = [threading.Thread(target=attack, args=(n,)) for n in range(1, 9)]
            for t in threads:
                t.start()
            try:
                wait_for(lambda: 454 in codes, 20)
                mine = [login(d, "victim@example.test", PW)[0] for _ in range(5)]
            finally:
                stop.set()
                for t in threads:
                    t.join()
            self.assertIn(454, codes)  # the normal lane was full...
            self.assertEqual(mine, [235] * 5)  # ...and she got in every time
        finally:
            d.cleanup()


class Expiry(unittest.TestCase):
    """max_age: an old password gets 432 4.7.12, a fresh one works."""

    def test_max_age(self):
        d = Daemon(deliver="smtp://127.0.0.1:9", trusted="",
                   extra=AUTH_CONF.replace("}", "    max_age 30d\n}", 1))
        try:
            add_user(d, "old@example.test")
            add_user(d, "new@example.test")
            add_user(d, "soon@example.test")
            db = sqlite3.connect(os.path.join(d.state, "accounts.db"))
            db.execute("UPDATE accounts SET pw_changed = ? WHERE name = ?",
                       (int(time.time()) - 31 * 86400, "old@example.test"))
            db.execute("UPDATE accounts SET pw_changed = ? WHERE name = ?",
                       (int(time.time()) - 25 * 86400 - 3600, "soon@example.test"))
            db.commit()
            db.close()
            d.start()
            code, text = login(d, "old@example.test", PW)
            self.assertEqual((code, text[:6]), (432, "4.7.12"))
            self.assertEqual(login(d, "new@example.test", PW), (235, "2.7.0 Authentication "
                                                                 "successful"))
            # within warn_before (14 days by default): a warning in the 235
            code, text = login(d, "soon@example.test", PW)
            self.assertEqual(code, 235)
            self.assertIn("expires in 5 days", text)
            self.assertIn("(expired", user(d, "show", "old@example.test").stdout)
            self.assertTrue(d.wait_log(r'user="old@example.test".*reason=expired'))
        finally:
            d.cleanup()


class Import(unittest.TestCase):
    """user import reads Dovecot passwd-file lines made by doveadm pw; each
    legacy scheme logs in and is rehashed to Argon2id."""

    SCHEMES = ("ARGON2ID", "ARGON2I", "BLF-CRYPT", "SHA512-CRYPT", "SHA256-CRYPT",
               "SSHA512", "PBKDF2")

    def test_import(self):
        d = Daemon(deliver="smtp://127.0.0.1:9", trusted="", extra=AUTH_CONF)
        try:
            lines = ["# made by doveadm pw"]
            for i, scheme in enumerate(self.SCHEMES):
                h = subprocess.run(["doveadm", "pw", "-s", scheme, "-p", f"{PW} {i}"],
                                   capture_output=True, text=True, check=True).stdout.strip()
                lines.append(f"u{i}@example.test:{h}:1000:1000::/home/u{i}::")
            path = os.path.join(d.dir, "users.passwd")
            with open(path, "w") as f:
                f.write("\n".join(lines) + "\n")
            bad = os.path.join(d.dir, "bad.passwd")
            with open(bad, "w") as f:
                f.write(lines[1] + "\nnot a line\n")
            p = user(d, "import", bad, check=False)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("bad.passwd:2", p.stderr)
            self.assertIn("nothing imported", p.stderr)
            self.assertIn(f"imported {len(self.SCHEMES)} accounts", user(d, "import", path).stdout)
            d.start()
            for i, scheme in enumerate(self.SCHEMES):
                self.assertEqual(login(d, f"u{i}@example.test", f"{PW} {i} wrong")[0], 535)
                self.assertEqual(login(d, f"u{i}@example.test", f"{PW} {i}")[0], 235, scheme)
            listing = user(d, "list").stdout
            for i in range(1, len(self.SCHEMES)):
                self.assertRegex(listing, rf"u{i}@example.test .*ARGON2ID")
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()
