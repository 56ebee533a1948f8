# SPDX-License-Identifier: ISC
"""The fail2ban filter in contrib/fail2ban, run by fail2ban's own
fail2ban-regex against what the real daemon logs: failed logins from a few
loopback addresses (wrong password, unknown user, user names that try to
plant another address in the line) are matched with the right address, a
successful login and a refused connection are not. The same log is tried as
syslog shows it, and as syslog shows postern's stderr passed on by journald.
The guard's lines, not written by the daemon yet, are checked in their exact
formats; the jail is read by fail2ban-client next to the system's config."""
import ast
import calendar
import os
import re
import shutil
import smtplib
import socket
import subprocess
import tempfile
import time
import unittest

from harness import Daemon, no_verify, wait_for
from test_auth import AUTH_CONF, PW, add_user, login

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
FILTER = os.path.join(TOP, "contrib", "fail2ban", "filter.d", "postern.conf")
JAIL = os.path.join(TOP, "contrib", "fail2ban", "jail.d", "postern.conf")
FAIL2BAN_REGEX = "/usr/bin/fail2ban-regex"
FAIL2BAN_CLIENT = "/usr/bin/fail2ban-client"

# What a client may put in its user name to make the filter ban someone else.
PLANTED = "10.9.9.9"
HOSTILE = (f'x" ip={PLANTED}',
           f'mallory" ip={PLANTED} mechanism=PLAIN credential=password reason=bad-password')
# Longer than the log shows (200 bytes, then "..."): the planted part is cut.
LONG_HOSTILE = "a" * 250 + f'" ip={PLANTED} mechanism=LOGIN'

FILE_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.\d{3}Z postern/(\w+)\[(\d+)\]: (.*)$")


def fail2ban_regex(log):
    """Run fail2ban-regex on the file log with our filter; returns
    (matches, matched, missed): matches is one (ip, time, data) per matched
    line from `-o row`, matched the count from the summary, missed the
    missed lines (all of them)."""
    rows = subprocess.run([FAIL2BAN_REGEX, "-o", "row", log, FILTER], capture_output=True,
                          text=True, timeout=120, check=True).stdout
    matches = [ast.literal_eval(line.rstrip(",")) for line in rows.splitlines()
               if line.startswith("[")]
    out = subprocess.run([FAIL2BAN_REGEX, "--print-all-missed", log, FILTER],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    m = re.search(r"^Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed", out, re.M)
    if m is None:
        raise AssertionError("no summary in the output of fail2ban-regex:\n" + out)
    block = re.search(r"^\|- Missed line\(s\):\n(.*?)^`-", out, re.M | re.S)
    missed = [line[3:] for line in block.group(1).splitlines()] if block else []
    return matches, int(m.group(3)), missed


def syslog_date(iso):
    """The RFC 3164 date syslog writes, in local time, for a UTC ISO time."""
    t = time.localtime(calendar.timegm(time.strptime(iso, "%Y-%m-%dT%H:%M:%S")))
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    return f"{months[t.tm_mon - 1]} {t.tm_mday:2d} {time.strftime('%H:%M:%S', t)}"


def as_syslog(src, dst, journald=False):
    """Copy the file log src to dst as a syslog file would hold it: with
    `log syslog` ("postern[pid]: auth: msg"), or, with journald=True, with
    `log stderr` under systemd (the whole stderr line is the message)."""
    with open(src) as f, open(dst, "w") as out:
        for line in f:
            m = FILE_LINE.match(line.rstrip("\n"))
            if m is None:
                continue
            when, proc, pid, msg = m.groups()
            if journald:
                out.write(f"{syslog_date(when)} mx postern[{pid}]: {line.rstrip()}\n")
            else:
                out.write(f"{syslog_date(when)} mx postern[{pid}]: {proc}: {msg}\n")


def login_with(d, mech, name, pw, source):
    """The reply code of AUTH with mechanism mech (PLAIN or LOGIN)."""
    s = smtplib.SMTP("127.0.0.1", d.sub_port, timeout=30, source_address=(source, 0))
    try:
        s.starttls(context=no_verify())
        s.ehlo("client.example.org")
        s.user, s.password = name, pw
        try:
            return s.auth(mech, getattr(s, "auth_" + mech.lower()),
                          initial_response_ok=(mech == "PLAIN"))[0]
        except smtplib.SMTPResponseException as e:
            return e.smtp_code
    finally:
        s.close()


@unittest.skipUnless(os.access(FAIL2BAN_REGEX, os.X_OK),
                     f"{FAIL2BAN_REGEX} missing (apt-get install fail2ban)")
class Fail2banFilter(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="postern-f2b-")
        cls.d = Daemon(deliver="smtp://127.0.0.1:9", trusted="", extra=AUTH_CONF)
        try:
            cls.attack()
        except BaseException:
            cls.d.cleanup()
            cls.tmp.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.tmp.cleanup()

    @classmethod
    def attack(cls):
        """Log in once, then fail from four addresses. At most four failures
        an address: postern's own guard may ban at five."""
        d = cls.d
        add_user(d, "alice@example.test")
        d.start()
        cls.t0 = time.time()
        cls.good_ip = "127.0.5.7"
        cls.ok = login(d, "alice@example.test", PW, source=cls.good_ip)[0]
        tries = [("PLAIN", "alice@example.test", f"wrong password {i}", "127.0.5.3")
                 for i in range(3)]
        tries += [("PLAIN", f"{who}@example.test", PW, "127.0.5.4") for who in ("nobody", "ghost")]
        tries += [("PLAIN", name, PW, "127.0.5.5") for name in HOSTILE]
        tries += [("LOGIN", LONG_HOSTILE, PW, "127.0.5.6")]
        cls.tries = tries
        cls.codes = [login_with(d, *t) for t in tries]
        cls.refused = cls.refuse("127.0.5.8")
        wait_for(lambda: len(re.findall(r" auth failed ", d.log())) >= len(tries), 15)
        wait_for(lambda: "smtp refuse " in d.log(), 15)
        cls.t1 = time.time()

    @classmethod
    def refuse(cls, ip):
        """Fill ip's share of connections (max_connections_per_ip, 20 by
        default) and try one more: the reply to that one."""
        socks = []
        try:
            for _ in range(21):
                s = socket.create_connection(("127.0.0.1", cls.d.mx_port), timeout=10,
                                             source_address=(ip, 0))
                socks.append(s)
                greeting = s.recv(512).decode(errors="replace")
            return greeting
        finally:
            for s in socks:
                s.close()

    def check(self, log, form):
        matches, matched, missed = fail2ban_regex(log)
        want = {}
        for _, _, _, ip in self.tries:
            want[ip] = want.get(ip, 0) + 1
        got = {}
        for ip, _, _ in matches:
            got[ip] = got.get(ip, 0) + 1
        self.assertEqual(matched, len(self.tries), f"{form}: matched lines")
        self.assertEqual(got, want, f"{form}: the addresses fail2ban would ban")
        self.assertNotIn(PLANTED, got)
        self.assertNotIn(self.good_ip, got)
        # fail2ban reads the time right, or findtime would skip the lines
        for ip, when, _ in matches:
            self.assertTrue(self.t0 - 2 <= when <= self.t1 + 2,
                            f"{form}: {ip} at {when}, not in [{self.t0}, {self.t1}]")
        # the planted address stays in the user name, where it was typed
        users = [data.get("user", "") for ip, _, data in matches if ip == "127.0.5.5"]
        self.assertEqual(len(users), 2)
        for u in users:
            self.assertIn(f"\\x22 ip={PLANTED}", u)
        self.assertEqual(len([m for m in missed if " auth ok " in m]), 1, f"{form}: auth ok")
        self.assertEqual(len([m for m in missed if " smtp refuse " in m]), 1,
                         f"{form}: smtp refuse")
        self.assertFalse([m for m in missed if " auth failed " in m], f"{form}: missed failures")

    def test_clients_saw_what_the_log_says(self):
        self.assertEqual(self.ok, 235)
        # 535 today; 454 once the guard throttles (then logged as a tempfail
        # the filter matches as well)
        for t, code in zip(self.tries, self.codes):
            self.assertIn(code, (535, 454), t)
        self.assertTrue(self.refused.startswith("421 "), self.refused)
        log = self.d.log()
        self.assertIn(f'user="mallory\\x22 ip={PLANTED} mechanism=PLAIN', log)
        self.assertRegex(log, r'user="a{200}\.\.\." ip=127\.0\.5\.6 mechanism=LOGIN')

    def test_file_log(self):
        self.check(self.d.logfile, "log stderr")

    def test_syslog(self):
        path = os.path.join(self.tmp.name, "mail.log")
        as_syslog(self.d.logfile, path)
        self.check(path, "log syslog")

    def test_stderr_through_journald_to_syslog(self):
        path = os.path.join(self.tmp.name, "syslog")
        as_syslog(self.d.logfile, path, journald=True)
        self.check(path, "log stderr under systemd")


# The lines postern's guard writes, in their exact formats (Fail2banRealGuard
# below gets the common ones from the daemon itself), with the rarer cases.
GUARD_LINES = [
    ("2026-11-28T08:00:00.123Z postern/auth[1234]: guard ban ip=127.0.5.20 for=600s "
     "reason=auth-failures count=5", "127.0.5.20"),
    ("2026-11-28T08:00:01.456Z postern/smtp[1235]: 0123456789abcdef smtp abuse ip=127.0.5.21 "
     "score=12 check=pipelining action=disconnect", "127.0.5.21"),
    ("2026-11-28T08:00:02.789Z postern/auth[1234]: 0123456789abcdef auth tempfail "
     'user="bob@example.test" ip=127.0.5.22 mechanism=PLAIN credential=password '
     "reason=account-locked", "127.0.5.22"),
    ("2026-11-28T08:00:03.000Z postern/auth[1234]: 0123456789abcdef auth tempfail "
     'user="x\\x22 ip=10.9.9.9" ip=127.0.5.23 mechanism=LOGIN reason=network-throttled',
     "127.0.5.23"),
    ("2026-11-28T08:00:04.001Z postern/auth[1234]: guard ban ip=::1 for=600s reason=abuse "
     "count=3", "::1"),
]
# ...and lines that must not match.
OTHER_LINES = [
    "2026-11-28T08:00:05.000Z postern/auth[1234]: 0123456789abcdef auth tempfail "
    'user="bob@example.test" ip=127.0.5.30 mechanism=PLAIN reason=busy',
    "2026-11-28T08:00:05.100Z postern/smtp[1235]: smtp refuse reason=max-connections "
    "ip=127.0.5.31",
    "2026-11-28T08:00:05.200Z postern/auth[1234]: 0123456789abcdef auth ok "
    'user="bob@example.test" ip=127.0.5.32 mechanism=PLAIN credential=password',
    # the right words from the wrong process
    "2026-11-28T08:00:05.300Z postern/smtp[1235]: guard ban ip=127.0.5.33 for=600s "
    "reason=auth-failures count=5",
    "2026-11-28T08:00:05.400Z postern/auth[1234]: 0123456789abcdef smtp abuse ip=127.0.5.34 "
    "score=12 check=pipelining action=disconnect",
]


@unittest.skipUnless(os.access(FAIL2BAN_REGEX, os.X_OK),
                     f"{FAIL2BAN_REGEX} missing (apt-get install fail2ban)")
class Fail2banRealGuard(unittest.TestCase):
    """A ban, a tempfail and an abuse score from the daemon's own log."""

    def test_guard_lines_from_the_daemon(self):
        d = Daemon(deliver="smtp://127.0.0.1:9", trusted="",
                   extra=AUTH_CONF.replace("ip_failures 100000", "ip_failures 2")
                   .replace("guard {", "guard {\n    greet_delay 0"))
        try:
            add_user(d, "kim@example.test")
            d.start()
            for i in range(2):
                self.assertEqual(login_with(d, "PLAIN", "kim@example.test", f"no {i}",
                                            "127.0.5.25"), 535)
            s = socket.create_connection(("127.0.0.1", d.mx_port), timeout=10,
                                         source_address=("127.0.5.26", 0))
            s.recv(512)
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            s.recv(512)
            s.close()
            self.assertTrue(d.wait_log(r"guard ban ip=127\.0\.5\.25 "))
            self.assertTrue(d.wait_log(r"smtp abuse ip=127\.0\.5\.26 "))
            matches, _, _ = fail2ban_regex(d.logfile)
            hosts = [ip for ip, _, _ in matches]
            self.assertEqual(hosts.count("127.0.5.25"), 3, hosts)  # 2 failed + 1 ban
            self.assertEqual(hosts.count("127.0.5.26"), 1, hosts)  # the abuse score
        finally:
            d.cleanup()


@unittest.skipUnless(os.access(FAIL2BAN_REGEX, os.X_OK),
                     f"{FAIL2BAN_REGEX} missing (apt-get install fail2ban)")
class Fail2banGuardLines(unittest.TestCase):

    def test_guard_lines(self):
        with tempfile.TemporaryDirectory(prefix="postern-f2b-") as tmp:
            path = os.path.join(tmp, "postern.log")
            with open(path, "w") as f:
                for line, _ in GUARD_LINES:
                    f.write(line + "\n")
                for line in OTHER_LINES:
                    f.write(line + "\n")
            for form, log in (("file", path), ("syslog", path + ".syslog")):
                if form == "syslog":
                    as_syslog(path, log)
                matches, matched, missed = fail2ban_regex(log)
                self.assertEqual([ip for ip, _, _ in matches], [ip for _, ip in GUARD_LINES],
                                 form)
                self.assertEqual(matched, len(GUARD_LINES), form)
                self.assertEqual(len(missed), len(OTHER_LINES), form)
                if form == "file":  # the ISO time with its milliseconds and Z is UTC
                    self.assertEqual(int(matches[0][1]),
                                     calendar.timegm((2026, 11, 28, 8, 0, 0, 0, 0, 0)))


@unittest.skipUnless(os.access(FAIL2BAN_CLIENT, os.X_OK) and
                     os.path.isfile("/etc/fail2ban/jail.conf"),
                     f"{FAIL2BAN_CLIENT} or /etc/fail2ban missing (apt-get install fail2ban)")
class Fail2banJail(unittest.TestCase):
    """The jail as fail2ban-client reads it, next to the system's own
    configuration: off until enabled, then with our limits and ports."""

    def dump(self, conf, local=None):
        shutil.copytree("/etc/fail2ban", conf, symlinks=True)
        shutil.copy(FILTER, os.path.join(conf, "filter.d"))
        shutil.copy(JAIL, os.path.join(conf, "jail.d"))
        if local is not None:
            with open(os.path.join(conf, "jail.d", "postern.local"), "w") as f:
                f.write(local)
        p = subprocess.run([FAIL2BAN_CLIENT, "-c", conf, "-d"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return [ast.literal_eval(line) for line in p.stdout.splitlines()
                if line.startswith("[") and "'postern'" in line]

    def test_jail(self):
        with tempfile.TemporaryDirectory(prefix="postern-f2b-") as tmp:
            self.assertEqual(self.dump(os.path.join(tmp, "off")), [])
            log = os.path.join(tmp, "mail.log")
            open(log, "w").close()
            cmds = self.dump(os.path.join(tmp, "on"),
                             f"[postern]\nenabled = true\nlogpath = {log}\n")
        sets = {c[2]: c[3] for c in cmds if c[0] == "set" and len(c) >= 4}
        self.assertIn(["add", "postern", "auto"], cmds)
        self.assertEqual((sets["maxretry"], sets["findtime"], sets["bantime"], sets["usedns"]),
                         (5, "10m", "10m", "no"))
        self.assertIn(["set", "postern", "addlogpath", log, "head"], cmds)
        regexes = [c[3] for c in cmds if c[:3] == ["multi-set", "postern", "addfailregex"]]
        self.assertEqual(len(regexes[0]), 4)
        actions = [c for c in cmds if c[:2] == ["multi-set", "postern"] and c[2] == "action"]
        self.assertTrue(actions)
        self.assertIn(["port", "smtp,submission,submissions"], actions[0][4])


if __name__ == "__main__":
    unittest.main()
