# SPDX-License-Identifier: ISC
"""The smtp process's seccomp sandbox (src/proc/sandbox.c), seen from
outside.

- The process that tries (POSTERN_SANDBOX_SELFTEST=1: right after loading
  its filter, the smtp process opens a file in state_dir, starts a process
  and executes /bin/true, and logs what happened) is refused: open=EACCES
  exec=EACCES fork=EPERM. Run as the systemd unit runs it (unprivileged,
  no chroot), the same tries succeed with `smtp { sandbox no }`: what
  refuses them is the filter. A call outside the allow-list kills the
  process, and the parent stops the gateway.
- With the sandbox on, a gateway's day works: EHLO, STARTTLS, AUTH through
  the auth process, mail to a sink, SPF and DNSBL lookups through a local
  knot, the metrics endpoint, a reload with a new certificate, a graceful
  stop; as root (chroot too) and as the unprivileged service user on
  privileged ports, a new one bound at reload."""
import os
import random
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import unittest
import urllib.request

from harness import (POSTERN, Daemon, Sink, as_service_user, can_run_as_service_user,
                     free_port, no_verify, proc_pid, proc_status, sink_wait, test_cert,
                     wait_for, wait_port)
from testdns import Knot

SELFTEST = {"POSTERN_SANDBOX_SELFTEST": "1"}
REFUSED = "smtp sandbox selftest open=EACCES exec=EACCES fork=EPERM"
PW = "correct horse battery staple 9"
FAST = ("auth {\n    argon2_memory 8M\n    argon2_ops 1\n}\n"
        "guard {\n    greet_delay 0\n    dnsbl bl.test 1\n}\n")
ZONES = {
    "sender.test": '@ TXT "v=spf1 ip4:127.0.0.0/8 -all"\n',
    "bl.test": "5.5.0.127 A 127.0.0.2\n",
}
NOT_ROOT = can_run_as_service_user()


def privileged_port():
    """A free loopback port below 1024 (binding it needs the capability)."""
    ports = list(range(600, 1024))
    random.shuffle(ports)
    for p in ports:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
                return p
            except OSError:
                continue
    raise RuntimeError("no free port below 1024")


def selftest_line(d):
    m = d.wait_log(r"smtp sandbox selftest .*$", 15)
    return m.group(0) if m else d.log()


def add_user(d, name):
    subprocess.run([POSTERN, "user", "add", name, "--password-stdin", "-c", d.conf],
                   input=PW + "\n", text=True, check=True, capture_output=True, timeout=60)


def peer_cert(port):
    """The DER certificate the server shows after STARTTLS."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.starttls(context=no_verify())
        return s.sock.getpeercert(binary_form=True)


def der(pem_path):
    with open(pem_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


class Selftest(unittest.TestCase):
    def run_selftest(self, extra="", service=False, env=SELFTEST):
        d = Daemon(deliver="smtp://127.0.0.1:9", extra=extra)
        self.addCleanup(d.cleanup)
        prefix = as_service_user(d) if service else ()
        d.start(env=env, prefix=prefix)
        self.assertTrue(d.wait_log(r"parent ready", 15), d.log())
        return d

    def test_root_start_refused(self):
        """Started as root (chroot and the filter): both refused by the filter."""
        d = self.run_selftest()
        self.assertIn("smtp sandbox on", d.log())
        self.assertIn(REFUSED, selftest_line(d))
        # refusals are errors, not kills: the process serves on
        with smtplib.SMTP("127.0.0.1", d.mx_port, timeout=30) as s:
            self.assertEqual(s.ehlo()[0], 250)
        self.assertEqual(d.stop(), 0)

    @unittest.skipIf(NOT_ROOT, NOT_ROOT)
    def test_service_user_refused(self):
        """As the unit runs it (no chroot), the filter is what refuses."""
        d = self.run_selftest(service=True)
        line = selftest_line(d)
        self.assertIn(REFUSED, line)
        self.assertIn(f"file={d.state}/postern.lock", line)
        self.assertEqual(d.stop(), 0)

    @unittest.skipIf(NOT_ROOT, NOT_ROOT)
    def test_service_user_without_sandbox_succeeds(self):
        """The same tries without the filter: the file opens, /bin/true runs.
        (So the test above cannot pass without the filter.)"""
        d = self.run_selftest(extra="smtp {\n    sandbox no\n}\n", service=True)
        self.assertIn("smtp sandbox off (smtp { sandbox no }): for debugging only", d.log())
        self.assertIn("smtp sandbox selftest open=ok exec=ok fork=ok", selftest_line(d))
        self.assertEqual(d.stop(), 0)

    def test_reload_cannot_turn_it_off(self):
        """A filter cannot be unloaded: a reload that says `sandbox no` is
        refused and the running config kept."""
        d = self.run_selftest(env=None)
        with open(d.conf) as f:
            text = f.read()
        d.write_conf(text + "smtp {\n    sandbox no\n}\n")
        d.signal(signal.SIGHUP)
        self.assertTrue(d.wait_log(r'parent reload-refused reason="state_dir, user and '
                                   r'smtp \{ sandbox \} change only with a restart"'), d.log())
        self.assertEqual(proc_status(proc_pid(d, "smtp"))["Seccomp"], "2")
        with smtplib.SMTP("127.0.0.1", d.mx_port, timeout=30) as s:
            self.assertEqual(s.ehlo()[0], 250)

    def test_forbidden_call_kills(self):
        """A call outside the allow-list (a netlink socket) kills the smtp
        process; the parent says why and stops the gateway."""
        d = Daemon(deliver="smtp://127.0.0.1:9")
        self.addCleanup(d.cleanup)
        d.start(wait=False, env={"POSTERN_SANDBOX_SELFTEST": "kill"})
        self.assertTrue(wait_for(lambda: d.proc.poll() is not None, 30), d.log())
        self.assertEqual(d.proc.returncode, 1, d.log())
        self.assertIn("smtp sandbox selftest trying socket(AF_NETLINK)", d.log())
        self.assertNotIn("kill=survived", d.log())
        self.assertRegex(d.log(), r"parent: smtp process was killed by signal 31 \(SIGSYS: "
                                  r"a system call its sandbox forbids\); stopping")


class GatewayDay(unittest.TestCase):
    """Everything the smtp process does, under its filter."""

    def setUp(self):
        self.dns = Knot(ZONES).start()
        self.addCleanup(self.dns.stop)
        self.sink = Sink().start()
        self.addCleanup(self.sink.stop)
        self.metrics = free_port()
        self.d = Daemon(deliver=f"smtp://127.0.0.1:{self.sink.port}", trusted="",
                        extra=f"resolver 127.0.0.1:{self.dns.port}\n"
                              f"metrics 127.0.0.1:{self.metrics}\n" + FAST)
        self.addCleanup(self.d.cleanup)

    def use_ports(self, mx, sub):
        """Listen on mx and sub instead of the ports the harness chose."""
        d = self.d
        with open(d.conf) as f:
            text = f.read()
        text = text.replace(f"127.0.0.1:{d.mx_port} ", f"127.0.0.1:{mx} ")
        d.write_conf(text.replace(f"127.0.0.1:{d.sub_port} ", f"127.0.0.1:{sub} "))
        d.mx_port, d.sub_port = mx, sub

    def check_confined(self):
        st = proc_status(proc_pid(self.d, "smtp"))
        self.assertEqual(st["Seccomp"], "2")  # SECCOMP_MODE_FILTER
        self.assertEqual(st["NoNewPrivs"], "1")
        self.assertEqual(int(st["CapEff"], 16), 0)
        self.assertEqual(int(st["CapPrm"], 16), 0)
        self.assertEqual(int(st["CapAmb"], 16), 0)

    def mx_mail(self):
        """SPF through knot: sender.test allows loopback."""
        with smtplib.SMTP("127.0.0.1", self.d.mx_port, timeout=30) as s:
            s.ehlo("mail.sender.test")
            s.sendmail("alice@sender.test", ["user@example.test"],
                       "From: alice@sender.test\r\nSubject: mx\r\n\r\nhello\r\n")
        [m] = sink_wait(self.sink, lambda m: m.mail_from == "alice@sender.test")
        self.assertRegex(m.header("Authentication-Results") or "", r"spf=pass")

    def dnsbl(self):
        s = socket.create_connection(("127.0.0.1", self.d.mx_port), timeout=10,
                                     source_address=("127.0.5.5", 0))
        with s:
            got = s.recv(512).decode(errors="replace")
        self.assertTrue(got.startswith("554 5.7.1"), got)
        self.assertIn("blocked using bl.test", got)

    def submission(self, port=None, implicit=False):
        """STARTTLS (or implicit TLS), AUTH through the auth process, mail."""
        if implicit:
            s = smtplib.SMTP_SSL("127.0.0.1", port, timeout=30, context=no_verify())
        else:
            s = smtplib.SMTP("127.0.0.1", port or self.d.sub_port, timeout=30)
            s.starttls(context=no_verify())
        with s:
            s.ehlo("client.example.org")
            self.assertEqual(s.login("bo@example.test", PW)[0], 235)
            subject = f"sub {port}"
            s.sendmail("bo@example.test", ["user@example.test"],
                       f"From: bo@example.test\r\nSubject: {subject}\r\n\r\nhi\r\n")
        self.assertEqual(len(sink_wait(self.sink, lambda m: m.header("Subject") == subject)), 1)

    def scrape(self):
        """The metrics endpoint, with the auth process's counters in it."""
        url = f"http://127.0.0.1:{self.metrics}/metrics"

        def text():
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.read().decode()
        want = ["postern_connections_total",
                'postern_auth_attempts_total{mechanism="PLAIN",result="ok"} 1']
        self.assertTrue(wait_for(lambda: all(w in text() for w in want), 5), text())

    def reload_new_cert(self, service=False, new_listener=None):
        """SIGHUP with another certificate (and maybe one more listener)."""
        d = self.d
        cert, key = test_cert("new.example.test")
        if service:
            shutil.copyfile(key, os.path.join(d.dir, "new.key"))
            key = os.path.join(d.dir, "new.key")
            st = os.stat(d.state)
            os.chown(key, st.st_uid, st.st_gid)
        with open(d.conf) as f:
            text = f.read().replace(d.cert, cert).replace(d.key, key)
        if new_listener:
            text += f"listen 127.0.0.1:{new_listener} {{\n    role submission\n    tls implicit\n}}\n"
        d.write_conf(text)
        ready = len(re.findall(r"parent ready", d.log()))
        d.signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: len(re.findall(r"parent ready", d.log())) > ready, 15),
                        d.log())
        self.assertEqual(peer_cert(d.mx_port), der(cert))

    def day(self, service=False):
        d = self.d
        self.check_confined()
        self.assertNotEqual(peer_cert(d.mx_port), der(test_cert("new.example.test")[0]))
        self.mx_mail()
        self.dnsbl()
        self.submission()
        self.scrape()
        port = privileged_port() if service else free_port()
        self.reload_new_cert(service, new_listener=port)
        self.assertTrue(wait_port("127.0.0.1", port))
        self.submission(port, implicit=True)
        self.check_confined()
        self.assertEqual(d.stop(), 0, d.log())
        self.assertIn("smtp stopped", d.log())
        self.assertNotIn("killed by signal", d.log())
        self.assertNotIn("sandbox off", d.log())

    def test_as_root(self):
        add_user(self.d, "bo@example.test")
        self.d.start()
        self.assertTrue(self.d.wait_log(r"parent ready", 15), self.d.log())
        self.day()

    @unittest.skipIf(NOT_ROOT, NOT_ROOT)
    def test_as_service_user_on_privileged_ports(self):
        """No root at all: User=postern with CAP_NET_BIND_SERVICE only."""
        self.use_ports(privileged_port(), privileged_port())
        prefix = as_service_user(self.d)
        add_user(self.d, "bo@example.test")
        self.d.start(prefix=prefix)
        self.assertTrue(self.d.wait_log(r"parent ready", 15), self.d.log())
        self.assertIn("user=(unchanged)", self.d.log())
        st = proc_status(self.d.proc.pid)
        self.assertEqual(st["Uid"].split()[0], str(os.stat(self.d.state).st_uid))
        self.assertEqual(int(st["CapEff"], 16), 1 << 10)  # CAP_NET_BIND_SERVICE only
        for name in ("queue", "auth"):
            self.assertEqual(int(proc_status(proc_pid(self.d, name))["CapEff"], 16), 0)
        self.day(service=True)


if __name__ == "__main__":
    unittest.main()
