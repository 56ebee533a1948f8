# SPDX-License-Identifier: ISC
"""dns_a() and the DNSBL/DNSWL checker (src/guard/dnsbl.c) against a real
DNS server: knot serving a block list bl.test and an allow list wl.test,
asked through libunbound by tests/unit/dnsbl_probe. Scores and the zones
that listed, NXDOMAIN and NODATA, answer codes, 127.0.0.1 and the error
codes, IPv6 and IPv4-mapped clients, a dead resolver and a slow one (the
deadline), and a cancel while the answers are on their way. The probe runs
with ASan's leak check where every answer has come in by the time it exits,
so a check that is never freed fails the test."""
import os
import socket
import subprocess
import threading
import time
import unittest

import harness
from testdns import Knot

PROBE = os.environ.get("POSTERN_DNSBL_PROBE") or os.path.join(
    os.path.dirname(harness.POSTERN), "tests", "unit", "dnsbl_probe")

MANY = 40  # A records at one name, more than DNS_MAX_A (32)

BL = "\n".join([
    "2.0.0.127 A 127.0.0.2",                 # RFC 5782 test entry
    "5.5.0.127 A 127.0.0.4",
    "5.5.0.127 A 10.0.0.1",                  # outside 127/8: ignored
    "1.0.0.127 A 127.0.0.1",                 # never a listing by default
    "9.9.0.127 A 127.255.255.254",           # "query refused" error code
    "7.7.0.127 TXT \"no address here\"",     # NODATA for A
    "2.0.0.10 A 10.0.0.2",                   # only an answer outside 127/8
    # 2001:db8::1, RFC 5782 2.4 nibble order
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2 A 127.0.0.2",
] + [f"8.8.0.127 A 127.0.1.{i}" for i in range(1, MANY + 1)]) + "\n"

WL = "2.0.0.127 A 127.0.10.2\n3.3.0.127 A 127.0.10.3\n"


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SlowRelay:
    """A UDP relay in front of knot that holds every query for `delay`
    seconds: a DNS list that answers, but late."""

    def __init__(self, upstream, delay):
        self.upstream = upstream
        self.delay = delay
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                data, peer = self.sock.recvfrom(65535)
            except OSError:
                return
            self.queries += 1
            threading.Timer(self.delay, self._relay, (data, peer)).start()

    def _relay(self, data, peer):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.settimeout(5)
            try:
                u.sendto(data, ("127.0.0.1", self.upstream))
                answer, _ = u.recvfrom(65535)
                self.sock.sendto(answer, peer)
            except OSError:
                pass

    def stop(self):
        self.sock.close()


def probe(resolver_port, *args, leaks=True, timeout=60):
    """Run the probe; returns (exit status, stdout line, stderr, seconds)."""
    env = dict(os.environ,
               ASAN_OPTIONS=f"detect_leaks={1 if leaks else 0}:abort_on_error=1",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    start = time.monotonic()
    p = subprocess.run([PROBE, f"127.0.0.1:{resolver_port}", *args], env=env,
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout.strip(), p.stderr, time.monotonic() - start


def fields(line):
    return dict(kv.split("=", 1) for kv in line.split())


class DnsblProbe(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(PROBE, os.X_OK):
            raise unittest.SkipTest(f"{PROBE} not built")
        cls.dns = Knot({"bl.test": BL, "wl.test": WL}).start()

    @classmethod
    def tearDownClass(cls):
        cls.dns.stop()

    def check(self, *args, **kw):
        rc, out, err, secs = probe(self.dns.port, "check", *args, **kw)
        self.assertEqual(rc, 0, err)
        return fields(out)

    def test_a_records(self):
        rows = [
            ("2.0.0.127.bl.test", "status=ok addrs=127.0.0.2"),
            ("missing.bl.test", "status=nxdomain"),
            ("7.7.0.127.bl.test", "status=nodata"),
            ("bl.test", "status=nodata"),
        ]
        for name, want in rows:
            with self.subTest(name=name):
                rc, out, err, _ = probe(self.dns.port, "a", name)
                self.assertEqual(rc, 0, err)
                self.assertEqual(out, want)
        rc, out, err, _ = probe(self.dns.port, "a", "5.5.0.127.bl.test")
        self.assertEqual(sorted(fields(out)["addrs"].split(",")), ["10.0.0.1", "127.0.0.4"])

    def test_a_answer_is_bounded(self):
        rc, out, err, _ = probe(self.dns.port, "a", "8.8.0.127.BL.test")
        self.assertEqual(rc, 0, err)
        addrs = fields(out)["addrs"].split(",")
        self.assertEqual(len(addrs), 32)
        self.assertEqual(len(set(addrs)), 32)
        self.assertTrue(set(addrs) <= {f"127.0.1.{i}" for i in range(1, MANY + 1)})

    def test_scores(self):
        rows = [
            # client, lists, score, listed on
            ("127.0.0.2", ["bl.test/5", "wl.test/-3"], 2, "bl.test,wl.test"),
            ("127.0.3.3", ["bl.test/5", "wl.test/-3"], -3, "wl.test"),
            ("192.0.2.1", ["bl.test/5", "wl.test/-3"], 0, ""),        # NXDOMAIN
            ("127.0.5.5", ["bl.test/5"], 5, "bl.test"),
            ("127.0.5.5", ["bl.test/5/127.0.0.2"], 0, ""),
            ("127.0.5.5", ["bl.test/5/127.0.0.3-127.0.0.4"], 5, "bl.test"),
            ("127.0.5.5", ["bl.test/5/127.0.0.2", "bl.test/3/127.0.0.4"], 3, "bl.test"),
            ("127.0.0.1", ["bl.test/5"], 0, ""),
            ("127.0.0.1", ["bl.test/5/127.0.0.1"], 5, "bl.test"),
            ("127.0.9.9", ["bl.test/5"], 0, ""),
            ("127.0.9.9", ["bl.test/5/127.255.255.254"], 5, "bl.test"),
            ("127.0.7.7", ["bl.test/5"], 0, ""),                        # NODATA
            ("10.0.0.2", ["bl.test/5"], 0, ""),
            ("127.0.8.8", ["bl.test/4"], 4, "bl.test"),
            ("2001:db8::1", ["bl.test/7", "wl.test/-1"], 7, "bl.test"),
            ("2001:db8::2", ["bl.test/7"], 0, ""),
            ("::ffff:127.0.0.2", ["bl.test/7", "wl.test/-1"], 6, "bl.test,wl.test"),
            ("127.0.0.2", [], 0, ""),
        ]
        for client, lists, score, listed in rows:
            with self.subTest(client=client, lists=lists):
                r = self.check(client, *lists)
                self.assertEqual(int(r["score"]), score, r)
                self.assertEqual(r["listed"], listed, r)
        rc, out, err, _ = probe(self.dns.port, "check", "127.0.5.5", "bl.test/5/10.0.0.1")
        self.assertEqual(rc, 2)
        self.assertIn("dnsbl: code '10.0.0.1' is outside 127.0.0.0/8", err)

    def test_dead_resolver(self):
        # nothing listens there: libunbound alone would take ~17 s
        dead = free_udp_port()
        rc, out, err, secs = probe(dead, "check", "-t", "1500", "127.0.0.2", "bl.test/5",
                                   "wl.test/-3", leaks=False)
        self.assertEqual(rc, 0, err)
        r = fields(out)
        self.assertEqual((r["score"], r["listed"]), ("0", ""))
        self.assertGreaterEqual(int(r["ms"]), 1400)
        self.assertLess(secs, 6)

    def test_slow_list(self):
        relay = SlowRelay(self.dns.port, 0.3)
        try:
            # in time
            rc, out, err, _ = probe(relay.port, "check", "-t", "8000", "127.0.0.2",
                                    "bl.test/5", "wl.test/-3")
            self.assertEqual(rc, 0, err)
            r = fields(out)
            self.assertEqual((r["score"], r["listed"]), ("2", "bl.test,wl.test"))
            self.assertGreaterEqual(int(r["ms"]), 250)
            # too late: score 0, and the answers that come in afterwards
            # free the check (the leak check would fail otherwise)
            rc, out, err, _ = probe(relay.port, "check", "-t", "100", "-l", "4000",
                                    "127.0.0.2", "bl.test/5", "wl.test/-3")
            self.assertEqual(rc, 0, err)
            r = fields(out)
            self.assertEqual((r["score"], r["listed"]), ("0", ""))
            self.assertLess(int(r["ms"]), 250)
        finally:
            relay.stop()

    def test_cancel(self):
        rc, out, err, _ = probe(self.dns.port, "cancel", "127.0.0.2", "bl.test/5", "wl.test/-3")
        self.assertEqual((rc, out), (0, "cancelled"), err)
        relay = SlowRelay(self.dns.port, 0.3)
        try:
            rc, out, err, _ = probe(relay.port, "cancel", "-l", "4000", "127.0.0.3",
                                    "bl.test/5", "wl.test/-3")
            self.assertEqual((rc, out), (0, "cancelled"), err)
            self.assertGreaterEqual(relay.queries, 2)
        finally:
            relay.stop()


if __name__ == "__main__":
    unittest.main()
