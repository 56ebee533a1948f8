# SPDX-License-Identifier: ISC
"""DKIM interoperability: our signer and verifier (tests/unit/dkim_tool,
built on src/mailauth/dkim.c) against two independent implementations,
dkimpy (python3-dkim, through tests/integration/dkimpy_helper.py and its
dnsfunc hook) and OpenDKIM (opendkim -t with TestPublicKeys). No DNS: keys
come from a zone file written here.

- our RSA-2048 and Ed25519 signatures, alone and both on one message
  (dual signing), relaxed/relaxed and simple/simple: dkimpy and OpenDKIM
  say pass; a changed body makes them say fail;
- messages signed by dkimpy (RSA-2048, Ed25519, both canonicalizations,
  and with l=): we say pass; a footer appended after an l= signature
  gives neutral, never pass;
- the RFC 8463 Appendix A.3 message passes with its key records.
"""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "dkim")
TOOL = os.path.join(os.path.dirname(harness.POSTERN), "tests", "unit", "dkim_tool")
HELPER = os.path.join(HERE, "dkimpy_helper.py")
PY = "/usr/bin/python3"
ED_PUB = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
KEYS = {"rsa": os.path.join(DATA, "2048_testkey.key"),
        "ed25519": os.path.join(DATA, "ed25519-rfc8463.pem")}
DKIMPY_KEYS = {"rsa": os.path.join(DATA, "2048_testkey.key"),
               "ed25519": os.path.join(DATA, "rfc8032_7_1.key")}


def have_dkimpy():
    return subprocess.run([PY, "-c", "import dkim, nacl"], capture_output=True).returncode == 0


def crlf(path):
    with open(path, "rb") as f:
        return f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


@unittest.skipUnless(have_dkimpy(), "python3-dkim and python3-nacl are not installed")
class DkimInterop(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="postern-dkim-")
        self.addCleanup(shutil.rmtree, self.dir)
        with open(os.path.join(DATA, "2048_testkey_wo_markers.pub.txt")) as f:
            rsa = f.read().strip()
        self.zone = os.path.join(self.dir, "zone")
        with open(self.zone, "w") as f:
            f.write(f"rsa._domainkey.example.org {rsa}\n")
            f.write(f"ed25519._domainkey.example.org v=DKIM1; k=ed25519; p={ED_PUB}\n")
        self.msg = crlf(os.path.join(DATA, "rfc6376.msg"))

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def our_sign(self, msg, alg, canon):
        p = subprocess.run([TOOL, "sign", alg, canon, "example.org", alg, KEYS[alg]],
                           input=msg, capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def our_verify(self, msg, zone=None, now=None):
        p = subprocess.run([TOOL, "verify", zone or self.zone, str(now or int(time.time()))],
                           input=msg, capture_output=True, timeout=30)
        return [line.split(" ", 2)[1] for line in p.stdout.decode().splitlines()]

    def dkimpy_verify(self, msg):
        path = self.write("v.eml", msg)
        p = subprocess.run([PY, HELPER, "verify", self.zone, path], capture_output=True,
                           timeout=60)
        return [line.split()[1] for line in p.stdout.decode().splitlines()]

    def opendkim_verify(self, msg):
        if shutil.which("opendkim") is None:
            self.skipTest("opendkim is not installed")
        conf = self.write("od.conf", (f"Mode v\nTestPublicKeys {self.zone}\n"
                                      "AlwaysAddARHeader yes\nSyslog no\n"
                                      "MinimumKeyBits 1024\n").encode())
        path = self.write("o.eml", msg)
        p = subprocess.run(["opendkim", "-x", conf, "-t", path, "-vvv"], capture_output=True,
                           timeout=60)
        out = (p.stdout + p.stderr).decode(errors="replace")
        return [w.split("=", 1)[1].split()[0].rstrip(";")
                for w in out.split() if w.startswith("dkim=")]

    def dkimpy_sign(self, msg, alg, canon, length=False):
        path = self.write("u.eml", msg)
        args = [PY, HELPER, "sign", alg, canon, "example.org", alg, DKIMPY_KEYS[alg], path]
        p = subprocess.run(args + (["length"] if length else []), capture_output=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_our_signatures_verified_by_dkimpy_and_opendkim(self):
        for canon in ("relaxed", "simple"):
            for algs in (("rsa",), ("ed25519",), ("rsa", "ed25519")):
                with self.subTest(canon=canon, algs=algs):
                    msg = self.msg
                    for alg in algs:
                        msg = self.our_sign(msg, alg, canon)
                    want = ["pass"] * len(algs)
                    self.assertEqual(self.dkimpy_verify(msg), want)
                    self.assertEqual(sorted(self.opendkim_verify(msg)), want)
                    self.assertEqual(self.our_verify(msg), want)
                    bad = msg.replace(b"hungry", b"HUNGRY")
                    self.assertEqual(self.dkimpy_verify(bad), ["fail"] * len(algs))
                    self.assertEqual(self.our_verify(bad), ["fail"] * len(algs))

    def test_dkimpy_signatures_verified_by_us(self):
        for canon in ("relaxed", "simple"):
            for alg in ("rsa", "ed25519"):
                with self.subTest(canon=canon, alg=alg):
                    msg = self.dkimpy_sign(self.msg, alg, canon)
                    self.assertEqual(self.our_verify(msg), ["pass"])
                    self.assertEqual(self.our_verify(msg.replace(b"game", b"GAME")),
                                     ["fail"])

    def test_dkimpy_dual_signature(self):
        msg = self.dkimpy_sign(self.dkimpy_sign(self.msg, "rsa", "relaxed"), "ed25519",
                               "relaxed")
        self.assertEqual(self.our_verify(msg), ["pass", "pass"])

    def test_body_length_is_safe(self):
        msg = self.dkimpy_sign(self.msg, "rsa", "relaxed", length=True)
        self.assertIn(b"l=", msg)
        self.assertEqual(self.our_verify(msg), ["pass"])
        # content appended after the signed length is not vouched for
        tampered = msg + b"Click http://evil.example/ now\r\n"
        self.assertEqual(self.dkimpy_verify(tampered), ["pass"])  # dkimpy accepts it
        self.assertEqual(self.our_verify(tampered), ["neutral"])

    def test_rfc8463_example(self):
        msg = crlf(os.path.join(DATA, "rfc6376.signed.msg"))
        self.assertEqual(self.our_verify(msg, os.path.join(DATA, "rfc8463.zone"), 1528637909),
                         ["pass", "pass"])


if __name__ == "__main__":
    unittest.main()
