# SPDX-License-Identifier: ISC
"""Independent TLS assessment of both kinds of listener: testssl.sh (no
SSLv2/3, TLS 1.0 or 1.1, no finding of severity MEDIUM or higher beyond the
trust of our self-signed test certificate) and sslscan agreeing."""
import json
import os
import re
import shutil
import subprocess
import unittest
import xml.etree.ElementTree as ET

from harness import Daemon, test_cert

TESTSSL = shutil.which("testssl") or "/usr/bin/testssl"
SSLSCAN = shutil.which("sslscan") or "/usr/bin/sslscan"

# Findings about trusting a self-signed certificate for 127.0.0.1: expected
# for a test certificate, and not about postern's TLS configuration.
CERT_TRUST = {"cert_trust", "cert_chain_of_trust", "cert_revocation"}
BAD = {"MEDIUM", "HIGH", "CRITICAL"}


class Scan(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(deliver="smtp://127.0.0.1:9", implicit=True)
        cert, key = test_cert("scan.example.test", days=365)
        d = cls.d
        d.write_conf(f"hostname scan.example.test\nstate_dir {d.state}\n"
                     f"tls {{\n cert {cert}\n key {key}\n}}\n"
                     f"listen 127.0.0.1:{d.mx_port} {{ role mx; tls starttls }}\n"
                     f"listen 127.0.0.1:{d.sub_port} {{ role submission }}\n"
                     f"listen 127.0.0.1:{d.implicit_port} {{ role submission; tls implicit }}\n"
                     "smtp {\n max_errors 1000\n}\n"
                     # a scanner probes like an attacker: the guard would ban it
                     "guard {\n enabled no\n}\n")
        d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def run_testssl(self, port, starttls):
        out = os.path.join(self.d.dir, f"testssl-{port}.json")
        args = [TESTSSL, "--quiet", "--warnings", "batch", "--color", "0", "--nodns", "none",
                "--connect-timeout", "10", "--openssl-timeout", "10",
                "--jsonfile-pretty", out]
        if starttls:
            args += ["--starttls", "smtp"]
        subprocess.run(args + [f"127.0.0.1:{port}"], capture_output=True, timeout=600)
        with open(out) as f:
            data = json.load(f)
        findings = [f for r in data["scanResult"] for v in r.values() if isinstance(v, list)
                    for f in v]
        self.assertGreater(len(findings), 50, "testssl produced too little")
        by_id = {f["id"]: f for f in findings}
        for proto in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
            self.assertIn("not offered", by_id[proto]["finding"], proto)
        self.assertIn("offered", by_id["TLS1_2"]["finding"])
        self.assertIn("offered", by_id["TLS1_3"]["finding"])
        bad = [(f["severity"], f["id"], f["finding"]) for f in findings
               if f["severity"] in BAD and f["id"] not in CERT_TRUST]
        self.assertEqual(bad, [])
        return by_id

    def test_testssl_starttls_listener(self):
        by_id = self.run_testssl(self.d.mx_port, True)
        self.assertIn("not vulnerable", by_id["secure_client_renego"]["finding"])
        self.assertEqual(by_id["cipher_order"]["severity"], "OK")

    def test_testssl_implicit_listener(self):
        self.run_testssl(self.d.implicit_port, False)

    def run_sslscan(self, port, starttls):
        args = [SSLSCAN, "--no-colour", "--xml=-"]
        if starttls:
            args.append("--starttls-smtp")
        p = subprocess.run(args + [f"127.0.0.1:{port}"], capture_output=True, timeout=300)
        xml = p.stdout.decode("utf-8", "replace")
        root = ET.fromstring(xml[xml.index("<?xml"):])
        protos = {(e.get("type"), e.get("version")): e.get("enabled")
                  for e in root.iter("protocol")}
        self.assertEqual(protos[("ssl", "2")], "0")
        self.assertEqual(protos[("ssl", "3")], "0")
        self.assertEqual(protos[("tls", "1.0")], "0")
        self.assertEqual(protos[("tls", "1.1")], "0")
        self.assertEqual(protos[("tls", "1.2")], "1")
        self.assertEqual(protos[("tls", "1.3")], "1")
        for reneg in root.iter("renegotiation"):
            self.assertEqual(reneg.get("supported"), "0")
        ciphers = [(c.get("sslversion"), c.get("cipher")) for c in root.iter("cipher")]
        self.assertTrue(ciphers)
        for version, name in ciphers:
            if version == "TLSv1.2":
                self.assertRegex(name, r"^ECDHE-(ECDSA|RSA)-(AES\d+-GCM|CHACHA20-POLY1305)")
            else:
                self.assertEqual(version, "TLSv1.3", name)

    def test_sslscan_agrees(self):
        self.run_sslscan(self.d.mx_port, True)
        self.run_sslscan(self.d.implicit_port, False)


if __name__ == "__main__":
    unittest.main()
