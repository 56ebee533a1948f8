# SPDX-License-Identifier: ISC
"""User notices (practice 14): the lockout and new-address notices written
from templates the operator edited, a broken template refused at start, by
`postern config check` and at reload (the running texts stay), the
password-expiry reminder and the two-step sign-in instructions, which never
carry the secret. Every notice reaches a sink as a mail from the null
sender."""
import email
import email.header
import email.policy
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

from harness import POSTERN, Daemon, Sink, sink_wait, wait_for
from test_auth import PW, add_user, login
from test_guard import attempt

FAST_HASH = "auth {\n    argon2_memory 8M\n    argon2_ops 1\n}\n"


def notices_dir(files):
    d = tempfile.mkdtemp(prefix="postern-notices-")
    os.chmod(d, 0o755)
    for name, text in files.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    return d


def postern(d, *args, check=False):
    return subprocess.run([POSTERN, *args, "-c", d.conf], capture_output=True, text=True,
                          timeout=60, check=check)


def to(sink, rcpt):
    """The messages the sink got for rcpt, parsed."""
    with sink.lock:
        return [email.message_from_bytes(m.content, policy=email.policy.default)
                for m in sink.messages if any(r == rcpt for r, _ in m.rcpts)]


def audit_notices(d):
    with open(os.path.join(d.state, "audit.log")) as f:
        recs = [json.loads(line) for line in f]
    return [r for r in recs if r.get("event") == "notice"]


LOCKOUT = """# Example IT's wording (edited by the operator)
Subject: [Example IT] {account} locked after {failures} tries

Dear colleague,

we locked {account} against new places until {until}.
The last try came from {ip}. Questions: call 1234.
{{literal braces}}
-- Example IT on {hostname}
"""

NEW_IP = ("Subject: Neue Anmeldung von {ip} \u2013 bitte pr\u00fcfen\n\n"
          "{account} hat sich von {ip} angemeldet ({time}).\n")


class OperatorTemplates(unittest.TestCase):
    def test_lockout_and_new_ip_from_edited_templates(self):
        sink = Sink().start()
        tdir = notices_dir({"lockout.txt": LOCKOUT, "new-ip.txt": NEW_IP})
        d = Daemon(deliver=f"smtp://127.0.0.1:{sink.port}", trusted="",
                   extra=FAST_HASH + "guard {\n    tarpit 0\n    account_failures 6\n"
                         "    ip_failures 3\n}\n" + f"notices {{\n    dir {tdir}\n}}\n")
        try:
            add_user(d, "hana@example.test")
            d.start()
            self.assertEqual(login(d, "hana@example.test", PW)[0], 235)
            self.assertEqual(attempt(d, "hana@example.test", PW, "127.0.5.80")[0], 235)
            for i in range(6):
                attempt(d, "hana@example.test", f"guess {i}", f"127.0.6.{81 + i // 3}")
            self.assertTrue(wait_for(lambda: len(to(sink, "hana@example.test")) >= 2, 30),
                            d.log())
            mails = to(sink, "hana@example.test")
            by_subject = {str(m["Subject"]): m for m in mails}
            new_ip = by_subject.get("Neue Anmeldung von 127.0.5.80 \u2013 bitte pr\u00fcfen")
            self.assertIsNotNone(new_ip, list(by_subject))
            # the non-ASCII subject travels as RFC 2047 encoded words
            self.assertTrue(any(b"\r\nSubject: =?utf-8?b?" in m.content
                                for m in sink.messages))
            self.assertIn("hana@example.test hat sich von 127.0.5.80 angemeldet (",
                          new_ip.get_content())
            lock = by_subject.get("[Example IT] hana@example.test locked after 6 tries")
            self.assertIsNotNone(lock, list(by_subject))
            body = lock.get_content()
            self.assertIn("we locked hana@example.test against new places until 20", body)
            self.assertIn("The last try came from 127.0.6.8", body)
            self.assertIn("{literal braces}", body)
            self.assertIn("-- Example IT on mx.example.test", body)
            self.assertNotIn("# Example IT", body)
            self.assertEqual(lock["Auto-Submitted"], "auto-generated")
            for m in sink.messages:
                self.assertEqual(m.mail_from, "")
            kinds = [r.get("kind") for r in audit_notices(d)]
            self.assertIn("new-source", kinds)
            self.assertIn("lock", kinds)
            self.assertTrue(d.wait_log(r"queue notice-sent kind=lockout to=<hana@example.test>"))
            # postern notice list says where each text comes from
            out = postern(d, "notice", "list")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertRegex(out.stdout, r"lockout +" + re.escape(tdir) + r"/lockout\.txt")
            self.assertRegex(out.stdout, r"password-expiry +built-in")
            self.assertIn("{account} {ip} {failures} {until} {time} {hostname}", out.stdout)
        finally:
            d.cleanup()
            sink.stop()


class BrokenTemplates(unittest.TestCase):
    def test_refused_at_start_by_check_and_at_reload(self):
        sink = Sink().start()
        tdir = notices_dir({"2fa-enrolment.txt": "Subject: v1 for {account}\n\nversion one\n"})
        d = Daemon(deliver=f"smtp://127.0.0.1:{sink.port}",
                   extra=f"notices {{\n    dir {tdir}\n}}\n")
        try:
            d.start()
            self.assertEqual(postern(d, "notice", "send", "2fa-enrolment",
                                     "ann@example.test").returncode, 0)
            self.assertTrue(sink.wait_messages(1, 20))
            self.assertIn(b"version one", sink.messages[0].content)
            # a typo in a placeholder: the reload is refused, naming the line
            path = os.path.join(tdir, "2fa-enrolment.txt")
            with open(path, "w") as f:
                f.write("# line 1\nSubject: v2\n\nHello {acount}\n")
            d.signal(signal.SIGHUP)
            self.assertTrue(d.wait_log(r"parent reload-refused reason=\"" + re.escape(path) +
                                       r":4: unknown placeholder \{acount\}"), d.log())
            out = postern(d, "config", "check")
            self.assertEqual(out.returncode, 1)
            self.assertIn(path + ":4: unknown placeholder {acount} (this notice knows "
                          "{account}, {time} and {hostname})", out.stderr)
            # ... and the running text stays
            self.assertEqual(postern(d, "notice", "send", "2fa-enrolment",
                                     "ann@example.test").returncode, 0)
            self.assertTrue(sink.wait_messages(2, 20))
            self.assertIn(b"version one", sink.messages[1].content)
            # fixed: the reload takes it
            with open(path, "w") as f:
                f.write("Subject: v2\n\nversion two for {account}\n")
            d.signal(signal.SIGHUP)
            self.assertTrue(d.wait_log(r"parent reloaded"), d.log())
            time.sleep(0.5)
            self.assertIn("version two for {account}",
                          postern(d, "notice", "show", "2fa-enrolment").stdout)
            self.assertEqual(postern(d, "notice", "send", "2fa-enrolment",
                                     "ann@example.test").returncode, 0)
            self.assertTrue(sink.wait_messages(3, 20))
            self.assertIn(b"version two for ann@example.test", sink.messages[2].content)
            d.stop()
            # a broken template keeps the daemon from starting
            with open(path, "w") as f:
                f.write("Subject: v3\nno blank line\n")
            d.start(wait=False)
            self.assertEqual(d.proc.wait(30), 1)
            self.assertIn(path + ":2: a blank line must follow the Subject line", d.log())
            d.proc = None
            d.log_fd.close()
            # so does a file that names no kind (a typo in the file name)
            os.unlink(path)
            with open(os.path.join(tdir, "lockuot.txt"), "w") as f:
                f.write("Subject: x\n\ny\n")
            out = postern(d, "config", "check")
            self.assertEqual(out.returncode, 1)
            self.assertIn("lockuot.txt: not a notice kind", out.stderr)
        finally:
            d.cleanup()
            sink.stop()


class PasswordExpiry(unittest.TestCase):
    def test_reminder_once(self):
        sink = Sink().start()
        d = Daemon(deliver=f"smtp://127.0.0.1:{sink.port}",
                   extra="auth {\n    argon2_memory 8M\n    argon2_ops 1\n    max_age 10d\n"
                         "    warn_before 30d\n}\nnotices {\n    expiry_check_every 10s\n}\n")
        try:
            add_user(d, "ivy@example.test")
            d.start()
            got = sink_wait(sink, lambda m: m.rcpts[0][0] == "ivy@example.test", timeout=30)
            self.assertEqual(len(got), 1, d.log())
            m = email.message_from_bytes(got[0].content, policy=email.policy.default)
            self.assertEqual(str(m["Subject"]), "Your mail password expires soon")
            body = m.get_content()
            self.assertIn("The password of your mail account ivy@example.test expires on 20",
                          body)
            self.assertIn("(days left: 10)", body)
            self.assertEqual(got[0].mail_from, "")
            self.assertTrue(d.wait_log(r'auth notice kind=password-expiry '
                                       r'user="ivy@example.test" days=10'))
            recs = [r for r in audit_notices(d) if r.get("kind") == "password-expiry"]
            self.assertEqual([(r["account"], r["actor"], r["days"]) for r in recs],
                             [("ivy@example.test", "auth", 10)])
            # the next passes and a restart say nothing new
            d.stop()
            d.start()
            time.sleep(12)
            self.assertEqual(len(sink.messages), 1, d.log())
            self.assertEqual(d.log().count("auth notice kind=password-expiry"), 1)
        finally:
            d.cleanup()
            sink.stop()


class Enrolment(unittest.TestCase):
    def test_instructions_without_the_secret(self):
        sink = Sink().start()
        d = Daemon(deliver=f"smtp://127.0.0.1:{sink.port}", extra=FAST_HASH)
        try:
            add_user(d, "kim@example.test")
            d.start()
            out = postern(d, "user", "2fa", "enable", "kim@example.test")
            self.assertEqual(out.returncode, 0, out.stderr)
            secret = re.search(r"secret \(base32\): ([A-Z2-7]+)", out.stdout).group(1)
            self.assertIn("Instructions for setting it up were mailed to kim@example.test",
                          out.stdout)
            got = sink_wait(sink, lambda m: m.rcpts[0][0] == "kim@example.test", timeout=20)
            self.assertEqual(len(got), 1, d.log())
            raw = got[0].content.decode()
            m = email.message_from_bytes(got[0].content, policy=email.policy.default)
            self.assertEqual(str(m["Subject"]),
                             "Set up two-step sign-in for your mail account")
            body = m.get_content()
            self.assertIn("authenticator app", body)
            self.assertIn("your password immediately followed by the current 6-digit", body)
            self.assertIn('shows "mx.example.test"', body)
            # mail is not a safe channel: no secret, no otpauth URI, in any form
            for s in (secret, secret.lower(), "otpauth", "secret="):
                self.assertNotIn(s, raw)
            self.assertEqual(got[0].mail_from, "")
            self.assertTrue(d.wait_log(r"queue notice-sent kind=2fa-enrolment "
                                       r"to=<kim@example.test>"))
            # --no-mail: none
            out = postern(d, "user", "2fa", "enable", "kim@example.test", "--reset",
                          "--no-mail")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertNotIn("mailed", out.stdout)
            # only the enrolment is sent by hand
            out = postern(d, "notice", "send", "lockout", "kim@example.test")
            self.assertEqual(out.returncode, 1)
            self.assertIn("only 2fa-enrolment notices are sent by hand", out.stderr)
            out = postern(d, "notice", "show", "nope")
            self.assertEqual(out.returncode, 1)
            time.sleep(1)
            self.assertEqual(len(sink.messages), 1)
            # the daemon stopped: 2FA is still turned on, and the way to mail later said
            d.stop()
            add_user(d, "max@example.test")
            out = postern(d, "user", "2fa", "enable", "max@example.test")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("No instructions were mailed (cannot reach the daemon", out.stdout)
            self.assertIn("postern notice send 2fa-enrolment max@example.test", out.stdout)
        finally:
            d.cleanup()
            sink.stop()


if __name__ == "__main__":
    unittest.main()
