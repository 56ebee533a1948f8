# SPDX-License-Identifier: ISC
"""postern under systemd: the unit in contrib/systemd/ passes
`systemd-analyze verify` and `security` (skipped, saying so, where
systemd-analyze is missing), its users file makes the user, and the daemon
speaks the notify protocol the unit's Type=notify relies on: READY=1 only
once the smtp process answers on its port, RELOADING=1 (with
MONOTONIC_USEC) then READY=1 around SIGHUP, also when the new config is
refused, STOPPING=1 at SIGTERM. The notify socket is a datagram socket of
the test's own, named by $NOTIFY_SOCKET as systemd would."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from harness import POSTERN, Daemon, free_port, proc_pid

HERE = os.path.dirname(os.path.abspath(__file__))
UNIT_DIR = os.path.join(HERE, "..", "..", "contrib", "systemd")
ANALYZE = shutil.which("systemd-analyze")
NO_ANALYZE = "systemd-analyze is not installed (package systemd): the unit is not verified"


def unit_text():
    with open(os.path.join(UNIT_DIR, "postern.service")) as f:
        return f.read()


def settings(text):
    """The unit's Key=value lines (the last one of a key wins)."""
    return dict(re.findall(r"^([A-Za-z]+)=(.*)$", text, re.M))


class Unit(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="postern-unit-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        # verify checks that ExecStart's program exists: use the one under test
        self.unit = os.path.join(self.dir, "postern.service")
        with open(self.unit, "w") as f:
            f.write(unit_text().replace("/usr/local/bin/postern", os.path.abspath(POSTERN)))

    def test_hardening(self):
        s = settings(unit_text())
        want = {"Type": "notify", "NotifyAccess": "main", "User": "postern",
                "AmbientCapabilities": "CAP_NET_BIND_SERVICE",
                "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE", "NoNewPrivileges": "yes",
                "ProtectSystem": "strict", "ReadWritePaths": "/var/lib/postern",
                "StateDirectory": "postern", "PrivateTmp": "yes", "PrivateDevices": "yes",
                "ProtectHome": "yes", "ProtectKernelTunables": "yes",
                "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes",
                "ProtectControlGroups": "yes", "ProtectClock": "yes",
                "ProtectHostname": "yes", "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
                "RestrictNamespaces": "yes", "RestrictRealtime": "yes",
                "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
                "MemoryDenyWriteExecute": "yes", "SystemCallArchitectures": "native",
                "UMask": "0077", "ExecReload": "/bin/kill -HUP $MAINPID",
                "Restart": "on-failure", "KillMode": "mixed"}
        for k, v in want.items():
            self.assertEqual(s.get(k), v, k)
        # every setting says why, in the comment above it
        lines = unit_text().splitlines()
        for i, line in enumerate(lines):
            if re.match(r"^[A-Za-z]+=", line) and i > 0 and not lines[i - 1].startswith("#"):
                self.assertRegex(lines[i - 1], r"^[A-Za-z]+=", f"no comment above {line}")

    @unittest.skipIf(ANALYZE is None, NO_ANALYZE)
    def test_verify(self):
        p = subprocess.run([ANALYZE, "verify", self.unit], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout + p.stderr, "")

    @unittest.skipIf(ANALYZE is None, NO_ANALYZE)
    def test_verify_nftables_dropin(self):
        d = os.path.join(self.dir, "postern.service.d")
        os.mkdir(d)
        shutil.copy(os.path.join(UNIT_DIR, "nftables.conf"), d)
        env = dict(os.environ, SYSTEMD_UNIT_PATH=self.dir + ":")
        p = subprocess.run([ANALYZE, "verify", self.unit], capture_output=True, text=True,
                           timeout=60, env=env)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout + p.stderr, "")
        # (the drop-in is read: a broken line in it is reported)
        with open(os.path.join(d, "nftables.conf"), "a") as f:
            f.write("NoSuchSetting=1\n")
        p = subprocess.run([ANALYZE, "verify", self.unit], capture_output=True, text=True,
                           timeout=60, env=env)
        self.assertIn("NoSuchSetting", p.stdout + p.stderr)

    @unittest.skipIf(ANALYZE is None, NO_ANALYZE)
    def test_security_exposure(self):
        """systemd's own rating: at most 2.5 of 10 ("OK")."""
        p = subprocess.run([ANALYZE, "security", "--offline=yes", "--threshold=25",
                            self.unit], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr)
        m = re.search(r"Overall exposure level for postern.service: (\d+\.\d+)", p.stdout)
        self.assertTrue(m, p.stdout[-2000:])
        self.assertLessEqual(float(m.group(1)), 2.5)

    @unittest.skipIf(shutil.which("systemd-sysusers") is None,
                     "systemd-sysusers is not installed: the users file is not checked")
    def test_sysusers_makes_the_user(self):
        root = os.path.join(self.dir, "root")
        os.makedirs(os.path.join(root, "etc"))
        p = subprocess.run(["systemd-sysusers", f"--root={root}",
                            os.path.join(UNIT_DIR, "postern.sysusers")],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(root, "etc", "passwd")) as f:
            self.assertRegex(f.read(), r"(?m)^postern:x:\d+:\d+:postern SMTP gateway:"
                                       r"/nonexistent:/usr/sbin/nologin$")


class Notify(unittest.TestCase):
    """A stand-in for systemd's notify socket."""

    def listen(self, abstract):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(self.sock.close)
        if abstract:
            name = f"postern-test-notify-{os.getpid()}-{time.monotonic_ns()}"
            self.sock.bind("\0" + name)
            return "@" + name
        path = os.path.join(self.d.dir, "notify.sock")
        self.sock.bind(path)
        return path

    def next(self, timeout=20):
        """The next notification as a dict (READY, STATUS, ...)."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(4096).decode()
        except socket.timeout:
            self.fail("no notification; log:\n" + self.d.log())
        return dict(line.split("=", 1) for line in data.split("\n") if "=" in line)

    def start(self, abstract):
        self.d = Daemon(deliver="smtp://127.0.0.1:9")
        self.addCleanup(self.d.cleanup)
        env = {"NOTIFY_SOCKET": self.listen(abstract)}
        self.d.start(wait=False, env=env)

    def greets(self, port):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            return s.recv(512).decode(errors="replace")

    def test_ready_reload_stop(self):
        self.start(abstract=True)
        ready = self.next()
        self.assertEqual(ready.get("READY"), "1", ready)
        self.assertEqual(ready.get("STATUS"), "Accepting mail on 2 listeners")
        # READY=1 came once the smtp process serves: it answers at once
        self.assertTrue(self.greets(self.d.mx_port).startswith("220 "))
        log = self.d.log()
        for before in ("auth ready", "smtp sandbox on", "parent started"):
            self.assertLess(log.index(before), log.index("parent ready"), before)
        # a reload that adds a listener: RELOADING=1, then READY=1 when it serves
        port = free_port()
        with open(self.d.conf) as f:
            text = f.read()
        self.d.write_conf(text + f"listen 127.0.0.1:{port} {{\n    role mx\n}}\n")
        t0 = time.monotonic()
        self.d.signal(signal.SIGHUP)
        reloading = self.next()
        self.assertEqual(reloading.get("RELOADING"), "1", reloading)
        usec = int(reloading["MONOTONIC_USEC"])  # CLOCK_MONOTONIC, as Python's
        self.assertLess(abs(usec / 1e6 - t0), 5)
        self.assertIn("Reloading", reloading.get("STATUS", ""))
        ready = self.next()
        self.assertEqual(ready.get("READY"), "1", ready)
        self.assertEqual(ready.get("STATUS"), "Accepting mail on 3 listeners")
        self.assertTrue(self.greets(port).startswith("220 "))
        self.d.signal(signal.SIGTERM)
        stopping = self.next()
        self.assertEqual(stopping.get("STOPPING"), "1", stopping)
        self.assertEqual(self.d.stop(), 0)

    def test_refused_reload_and_a_path_socket(self):
        self.start(abstract=False)
        self.assertEqual(self.next().get("READY"), "1")
        with open(self.d.conf) as f:
            text = f.read()
        self.d.write_conf(text + "frobnicate yes\n")
        self.d.signal(signal.SIGHUP)
        self.assertEqual(self.next().get("RELOADING"), "1")
        ready = self.next()
        self.assertEqual(ready.get("READY"), "1", ready)
        self.assertRegex(ready.get("STATUS", ""), r"^Reload refused, running the previous "
                                                  r"config: .*frobnicate")
        self.assertTrue(self.greets(self.d.mx_port).startswith("220 "))

    def test_child_death_says_stopping(self):
        """A dying child: STOPPING=1 and why, then exit status 1."""
        self.start(abstract=True)
        self.assertEqual(self.next().get("READY"), "1")
        os.kill(proc_pid(self.d, "queue"), signal.SIGKILL)
        stopping = self.next()
        self.assertEqual(stopping.get("STOPPING"), "1", stopping)
        self.assertEqual(stopping.get("STATUS"),
                         "Stopping: the queue process was killed by signal 9")
        self.d.proc.wait(30)
        self.assertEqual(self.d.proc.returncode, 1)

    def test_bad_socket_name(self):
        d = Daemon(deliver="smtp://127.0.0.1:9")
        self.addCleanup(d.cleanup)
        p = subprocess.run([POSTERN, "serve", "-c", d.conf], capture_output=True, text=True,
                           timeout=30, env=dict(os.environ, NOTIFY_SOCKET="relative/notify"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("NOTIFY_SOCKET 'relative/notify' is not an absolute path", p.stderr)


if __name__ == "__main__":
    unittest.main()
