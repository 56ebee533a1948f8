# SPDX-License-Identifier: ISC
"""Admin roles through the control socket (practice 17) and the audit of
every admin act (practice 13): local callers are told apart by the kernel
(SO_PEERCRED, SO_PEERGROUPS), mapped to admin, operator or auditor by
admin { }, and each is allowed and refused exactly what its row of the role
table says. The callers are real processes running the real CLI under uids
and groups of their own."""
import json
import os
import pwd
import re
import subprocess
import unittest

from harness import POSTERN, Daemon, wait_for
from testdns import Knot

PW = "correct horse battery staple 9"
AUTH_CONF = "auth {\n    argon2_memory 8M\n    argon2_ops 1\n}\n"
# Ids nobody on the machine has: the mapping is by number.
ADMIN, OPERATOR, AUDITOR, NOBODY = 60701, 60702, 60703, 60704
OPS_GROUP, AUDIT_GROUP = 60710, 60711
ADMIN_CONF = (f"admin {{\n    admin {ADMIN}\n    operator @{OPS_GROUP}\n"
              f"    auditor {AUDITOR} @{AUDIT_GROUP}\n}}\n")
CALLERS = {
    "admin": (ADMIN, [ADMIN]),
    "operator": (OPERATOR, [OPERATOR, OPS_GROUP]),  # by its group
    "auditor": (AUDITOR, [AUDITOR]),
    "auditor-by-group": (60706, [60706, AUDIT_GROUP]),
    "unmapped": (NOBODY, [NOBODY]),
}
NEEDS = re.compile(r"needs the (\w+) role; you are (\w+)")


def as_caller(uid, groups):
    def become():
        os.setgroups(groups)
        os.setgid(groups[0])
        os.setuid(uid)
    return become


def audit(d):
    with open(os.path.join(d.state, "audit.log")) as f:
        return [json.loads(line) for line in f]


@unittest.skipUnless(os.geteuid() == 0, "runs callers under other uids")
class Roles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Mail for a domain whose server is down stays queued: something
        # for the queue commands to act on.
        cls.d = Daemon(deliver="smtp://127.0.0.1:9", extra=AUTH_CONF + ADMIN_CONF).start()
        for name in ("alice@example.test", "bob@example.test"):
            subprocess.run([POSTERN, "user", "add", name, "--password-stdin", "-c", cls.d.conf],
                           input=PW + "\n", text=True, check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def run_as(self, who, *args, input=None, cwd=None):
        uid, groups = CALLERS[who]
        return subprocess.run([POSTERN, *args, "-c", self.d.conf], capture_output=True,
                              text=True, input=input, timeout=60, cwd=cwd,
                              preexec_fn=as_caller(uid, groups))

    def allowed(self, who, *args, input=None, cwd=None):
        p = self.run_as(who, *args, input=input, cwd=cwd)
        self.assertIsNone(NEEDS.search(p.stderr), f"{who}: {args}: {p.stderr}")
        self.assertNotIn("no admin role", p.stderr)
        return p

    def refused(self, who, need, *args, input=None):
        p = self.run_as(who, *args, input=input)
        self.assertEqual(p.returncode, 1, f"{who}: {args}: {p.stdout}{p.stderr}")
        m = NEEDS.search(p.stderr)
        self.assertIsNotNone(m, f"{who}: {args}: {p.stderr}")
        self.assertEqual(m.group(1), need)
        return p

    def queue_one(self):
        import smtplib
        with smtplib.SMTP("127.0.0.1", self.d.mx_port, timeout=30) as s:
            s.sendmail("sender@example.org", ["alice@example.test"],
                       "From: sender@example.org\r\nSubject: q\r\n\r\nx\r\n")
        ids = []
        wait_for(lambda: ids.extend(self.d.queue_ids()) or ids, 10)
        return ids[-1]

    def test_role_command_says_who_you_are(self):
        self.assertEqual(self.run_as("operator", "role").stdout.split()[0], "operator")
        self.assertIn(f"group {OPS_GROUP}", self.run_as("operator", "role").stdout)
        self.assertEqual(self.run_as("auditor-by-group", "role").stdout.split()[0], "auditor")
        p = self.run_as("unmapped", "role")
        self.assertEqual((p.returncode, p.stdout.split()[0]), (1, "none"))

    def test_unmapped_caller_is_refused_everything(self):
        for args in (("queue", "list"), ("audit", "verify"), ("ban", "list")):
            p = self.run_as("unmapped", *args)
            self.assertEqual(p.returncode, 1)
            self.assertIn("no admin role", p.stderr)
        denied = [r for r in audit(self.d) if r["event"] == "admin.denied"
                  and r["actor"] == f"uid:{NOBODY}"]
        self.assertTrue(denied)
        self.assertEqual(denied[-1]["role"], "none")
        self.assertIn(f"uid={NOBODY}", denied[-1]["from"])

    def test_auditor_reads_only(self):
        for who in ("auditor", "auditor-by-group"):
            p = self.allowed(who, "audit", "verify")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("ok:", p.stdout)
            p = self.allowed(who, "audit", "search", "--event", "user.")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("alice@example.test", p.stdout)
            self.assertEqual(self.allowed(who, "config", "dump").returncode, 0)
            self.refused(who, "operator", "queue", "list")
            self.refused(who, "operator", "ban", "add", "192.0.2.0/24")
            self.refused(who, "operator", "user", "unlock", "alice@example.test")
            self.refused(who, "admin", "user", "add", "eve@example.test", "--password-stdin",
                         input=PW + "\n")
            self.refused(who, "admin", "dkim", "keygen", "example.test", "s1")

    def test_operator_runs_the_queue_bans_and_resets(self):
        qid = self.queue_one()
        p = self.allowed("operator", "queue", "list")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(qid, p.stdout)
        self.assertEqual(self.allowed("operator", "queue", "hold", qid).returncode, 0)
        rec = [r for r in audit(self.d) if r["event"] == "admin.request"
               and r.get("message") == qid][-1]
        self.assertEqual((rec["before"], rec["after"], rec["role"], rec["status"]),
                         ("queued", "held", "operator", 0))
        self.assertEqual(rec["actor"], f"uid:{OPERATOR}")
        self.assertEqual(self.allowed("operator", "queue", "delete", qid).returncode, 0)

        p = self.allowed("operator", "ban", "add", "192.0.2.0/24", "--reason", "two words")
        self.assertEqual(p.returncode, 0, p.stderr)
        ban = [r for r in audit(self.d) if r["event"] == "ban.add"][-1]
        self.assertEqual(ban["actor"], f"uid:{OPERATOR}")
        self.assertEqual(ban["reason"], "two words")
        self.assertEqual(ban["before"], "none")
        self.assertIn(f"by=uid:{OPERATOR}", ban["after"])
        self.assertIn("192.0.2.0/24", self.allowed("operator", "ban", "list").stdout)
        self.assertEqual(self.allowed("operator", "ban", "del", "192.0.2.0/24").returncode, 0)

        self.assertEqual(self.allowed("operator", "user", "lock", "bob@example.test")
                         .returncode, 0)
        lock = [r for r in audit(self.d) if r["event"] == "user.lock"][-1]
        self.assertIn("locked=no ", lock["before"])
        self.assertIn("locked=yes ", lock["after"])
        self.assertIn("password=ARGON2ID", lock["after"])
        self.assertEqual(self.allowed("operator", "user", "unlock", "bob@example.test")
                         .returncode, 0)
        p = self.allowed("operator", "user", "passwd", "bob@example.test", "--reset",
                         "--password-stdin", input="temporary horse battery 71\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.allowed("operator", "audit", "verify").returncode, 0)

        self.refused("operator", "admin", "user", "passwd", "bob@example.test",
                     "--password-stdin", input=PW + "\n")
        self.refused("operator", "admin", "user", "add", "eve@example.test",
                     "--password-stdin", input=PW + "\n")
        self.refused("operator", "admin", "user", "del", "alice@example.test")
        self.refused("operator", "admin", "user", "2fa", "disable", "alice@example.test")
        self.refused("operator", "admin", "dkim", "keygen", "example.test", "s1")
        self.refused("operator", "admin", "user", "address", "add", "bob@example.test",
                     "ceo@example.test")

    def test_admin_does_everything(self):
        p = self.allowed("admin", "user", "add", "carol@example.test", "--password-stdin",
                         input=PW + "\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        add = [r for r in audit(self.d) if r["event"] == "user.add"][-1]
        self.assertEqual((add["account"], add["actor"]), ("carol@example.test", f"uid:{ADMIN}"))
        self.assertEqual(add["before"], "absent")
        self.assertIn("2fa=off", add["after"])
        req = [r for r in audit(self.d) if r["event"] == "admin.request"][-1]
        self.assertEqual(req["command"], "user add carol@example.test --password-stdin")
        with open(os.path.join(self.d.state, "audit.log")) as f:
            self.assertNotIn(PW, f.read())
        p = self.allowed("admin", "dkim", "keygen", "example.test", "s1", "--algo", "ed25519")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("v=DKIM1", p.stdout)
        gen = [r for r in audit(self.d) if r["event"] == "dkim.keygen"][-1]
        self.assertEqual((gen["before"], gen["after"]), ("none", "ed25519"))
        self.assertEqual(self.allowed("admin", "user", "del", "carol@example.test")
                         .returncode, 0)
        # a backup through the daemon, to a file named relative to the caller
        bdir = os.path.join(self.d.dir, "backups")
        os.mkdir(bdir)
        os.chmod(bdir, 0o777)
        pw = os.path.join(bdir, "pass")
        with open(pw, "w") as f:
            f.write("a passphrase long enough\n")
        os.chmod(pw, 0o600)
        u = pwd.getpwnam("postern")
        os.chown(pw, u.pw_uid, u.pw_gid)
        p = self.allowed("admin", "backup", "mine.backup", "--passphrase-file", pw, cwd=bdir)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(os.path.exists(os.path.join(bdir, "mine.backup")))
        self.refused("operator", "admin", "backup", "theirs.backup", "--passphrase-file", pw)
        # what never runs through the daemon
        p = self.run_as("admin", "audit", "tail", "-f")
        self.assertEqual(p.returncode, 2)
        self.assertIn("does not run through the daemon", p.stderr)

    def test_root_still_works_on_state_directly(self):
        p = self.d.ctl("ban", "list")
        self.assertEqual(p.returncode, 0)
        p = self.d.ctl("role")
        self.assertTrue(p.stdout.startswith("admin"), p.stdout)

    def test_socket_refuses_garbage(self):
        import socket
        path = os.path.join(self.d.state, "control.sock")
        for req in (b"queue list\n", b'{"argv":["queue","\\u001b"]}\n', b"{" * 100 + b"\n"):
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            s.sendall(req)
            out = b""
            while chunk := s.recv(4096):
                out += chunk
            s.close()
            ans = json.loads(out)
            self.assertEqual(ans["status"], 2, out)
        # still serving
        self.assertEqual(self.d.ctl("queue", "list").returncode, 0)


@unittest.skipUnless(os.geteuid() == 0, "runs callers under other uids")
class Busy(unittest.TestCase):
    def test_commands_at_once_are_bounded(self):
        dns = Knot({"example.test": "mx A 127.0.0.1\n"}).start()
        self.addCleanup(dns.stop)
        with Daemon(deliver="smtp://127.0.0.1:9",
                    extra=AUTH_CONF + ADMIN_CONF + f"resolver 127.0.0.1:{dns.port}\n") as d:
            d.start()
            uid, groups = CALLERS["auditor"]
            procs = [subprocess.Popen([POSTERN, "check", "-c", d.conf], stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True,
                                      preexec_fn=as_caller(uid, groups)) for _ in range(8)]
            outs = [p.communicate(timeout=300) for p in procs]
            busy = [e for _, e in outs if "busy: 4 commands are running" in e]
            ran = [o for o, _ in outs if "postern check" in o or "finding" in o.lower()]
            self.assertTrue(busy, outs)
            self.assertGreaterEqual(len(ran), 4, outs)
            self.assertEqual(len(busy) + len(ran), 8, outs)
            # and when they are done, the next one runs
            p = subprocess.run([POSTERN, "check", "-c", d.conf], capture_output=True, text=True,
                               timeout=300, preexec_fn=as_caller(uid, groups))
            self.assertNotIn("busy", p.stderr)


class Anchors(unittest.TestCase):
    """The chain head is written down regularly (audit.anchor and a log
    line a SIEM keeps), so cutting records off the end is detected."""

    def test_truncation_is_detected(self):
        with Daemon(deliver="smtp://127.0.0.1:9",
                    extra=AUTH_CONF + "audit {\n    anchor_every 10s\n}\n") as d:
            for name in ("a@example.test", "b@example.test"):
                subprocess.run([POSTERN, "user", "add", name, "--password-stdin", "-c", d.conf],
                               input=PW + "\n", text=True, check=True, capture_output=True)
            d.start()
            self.assertTrue(d.wait_log(r"audit anchor seq=2 hash=[0-9a-f]{64}"), d.log())
            d.ctl("ban", "add", "192.0.2.0/24")
            # the next anchor, within anchor_every
            self.assertTrue(d.wait_log(r"audit anchor seq=3 hash=", timeout=20), d.log())
            shipped = re.findall(r"audit anchor (seq=3 hash=[0-9a-f]{64})", d.log())[-1]
            d.stop()
            with open(os.path.join(d.state, "audit.anchor")) as f:
                self.assertEqual(f.read().strip(), shipped)
            p = d.ctl("audit", "verify")
            self.assertIn("anchor seq=3: ok", p.stdout)
            # cut the last record off: the chain alone would not notice
            log = os.path.join(d.state, "audit.log")
            with open(log) as f:
                lines = f.readlines()
            with open(log, "w") as f:
                f.writelines(lines[:-1])
            p = d.ctl("audit", "verify", check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn("ok: 2 records", p.stdout)
            self.assertIn("truncated", p.stderr)
            # and against the line shipped off the machine, in either form
            os.unlink(os.path.join(d.state, "audit.anchor"))
            p = d.ctl("audit", "verify", "--anchor", shipped, check=False)
            self.assertEqual(p.returncode, 1)
            self.assertIn("the log ends at record 2", p.stderr)
            seq, h = re.match(r"seq=(\d+) hash=(\w+)", shipped).groups()
            p = d.ctl("audit", "verify", "--anchor", "2:" + h, check=False)
            self.assertIn("another hash", p.stderr)
            p = d.ctl("audit", "verify", "--anchor", "nonsense", check=False)
            self.assertIn("not an anchor", p.stderr)


if __name__ == "__main__":
    unittest.main()
