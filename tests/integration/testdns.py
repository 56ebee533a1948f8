# SPDX-License-Identifier: ISC
"""A local authoritative DNS server for tests: knot on a free loopback port
serving zones written by the test. postern is pointed at it with
`resolver 127.0.0.1:PORT`. Nothing leaves the machine."""
import os
import shutil
import subprocess
import tempfile
import time

from harness import free_port, wait_for

KNOTD = shutil.which("knotd") or "/usr/sbin/knotd"
KDIG = shutil.which("kdig") or "/usr/bin/kdig"


class Knot:
    def __init__(self, zones):
        """zones: {"dest.test": "zone file text without $ORIGIN"}"""
        self.dir = tempfile.mkdtemp(prefix="postern-knot-")
        self.port = free_port()
        self.zones = zones
        self.proc = None

    def start(self):
        conf = [
            "server:",
            f"    listen: 127.0.0.1@{self.port}",
            f"    rundir: {self.dir}",
            "    user: root:root",
            "log:",
            "  - target: stderr",
            "    any: warning",
            "database:",
            f"    storage: {self.dir}",
            "template:",
            "  - id: default",
            f"    storage: {self.dir}",
            '    file: "%s.zone"',
            "zone:",
        ]
        for name, text in self.zones.items():
            with open(os.path.join(self.dir, f"{name}.zone"), "w") as f:
                f.write(f"$ORIGIN {name}.\n$TTL 60\n")
                f.write(f"@ SOA ns.{name}. hostmaster.{name}. 1 3600 600 86400 60\n")
                f.write(f"@ NS ns.{name}.\nns A 127.0.0.1\n")
                f.write(text)
            conf.append(f"  - domain: {name}")
        path = os.path.join(self.dir, "knot.conf")
        with open(path, "w") as f:
            f.write("\n".join(conf) + "\n")
        self.log = open(os.path.join(self.dir, "knot.log"), "wb")
        self.proc = subprocess.Popen([KNOTD, "-c", path], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        first = next(iter(self.zones))
        ok = wait_for(lambda: self.query(first, "SOA") != "", 10)
        if not ok:
            raise RuntimeError("knotd did not start: " + open(self.log.name).read())
        return self

    def query(self, name, rtype):
        p = subprocess.run([KDIG, "+short", "-p", str(self.port), "@127.0.0.1", name, rtype],
                           capture_output=True, text=True, timeout=10)
        return p.stdout.strip()

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()
