# SPDX-License-Identifier: ISC
"""DMARC aggregate reports end to end: tests/unit/dmarc_report_tool records
sample evaluations in a store, writes each domain's report and the mail
carrying it; this test reads the mail as a receiver would and checks:

- the mail: RFC 7489 7.2.1.1 Subject, From, To (only authorised mailto:
  destinations), Auto-Submitted, multipart/mixed with a text part and an
  application/gzip attachment named submitter!domain!begin!end!id.xml.gz,
  CRLF lines;
- the attachment: gunzipped, it is byte for byte the report the tool wrote;
- the report: well-formed, a plain <feedback> root, the escaped strings
  read back as they were recorded, and valid against the RFC 7489
  Appendix C schema (tests/data/dmarc/rua-schema.xsd) with xmllint;
- the schema check can fail: reports spoiled in ways the schema forbids
  (a compressed IPv6 address, a missing <sp>, an <np>) are refused.
"""
import email
import email.policy
import gzip
import os
import re
import shutil
import subprocess
import tempfile
import unittest
import xml.etree.ElementTree as ET

import harness

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA = os.path.join(HERE, "..", "data", "dmarc", "rua-schema.xsd")
TOOL = os.path.join(os.path.dirname(harness.POSTERN), "tests", "unit", "dmarc_report_tool")
NS = "http://dmarc.org/dmarc-xml/0.1"


def qualify_root(xml):
    """The schema puts only the root element in its target namespace
    (elementFormDefault is unqualified); reports carry none. Put the root,
    and only it, there (see tests/data/dmarc/README.md)."""
    out, n = re.subn(rb"<feedback>", b'<d:feedback xmlns:d="' + NS.encode() + b'">', xml,
                     count=1)
    assert n == 1
    out, n = re.subn(rb"</feedback>\s*$", b"</d:feedback>\n", out)
    assert n == 1
    return out


@unittest.skipUnless(shutil.which("xmllint"), "xmllint (libxml2-utils) is not installed")
class DmarcReport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="postern-dmarc-")
        p = subprocess.run([TOOL, cls.dir], capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            shutil.rmtree(cls.dir)
            raise AssertionError(f"dmarc_report_tool: {p.returncode} {p.stderr}")
        cls.lines = {}
        for line in p.stdout.splitlines():
            f = line.split(" ")
            cls.lines[f[0]] = (int(f[1]), int(f[2]), f[3:])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def read(self, name):
        with open(os.path.join(self.dir, name), "rb") as f:
            return f.read()

    def validate(self, xml):
        path = os.path.join(self.dir, "check.xml")
        with open(path, "wb") as f:
            f.write(qualify_root(xml))
        return subprocess.run(["xmllint", "--noout", "--nonet", "--schema", SCHEMA, path],
                              capture_output=True, text=True, timeout=60)

    def test_domains_and_targets(self):
        self.assertEqual(sorted(self.lines), ["example.org", "other.example"])
        begin, end, targets = self.lines["example.org"]
        self.assertEqual((begin, end), (1700006400, 1700092800))
        self.assertEqual(targets, ["send:dmarc@example.org", "send:agg@reports.example",
                                   "not-mailto:"])

    def test_mail(self):
        for domain, (begin, end, targets) in self.lines.items():
            with self.subTest(domain=domain):
                raw = self.read(domain + ".eml")
                self.assertNotIn(b"\n", raw.replace(b"\r\n", b""), "bare LF")
                self.assertFalse(re.search(rb"\r\n\.", raw), "a line starts with a dot")
                msg = email.message_from_bytes(raw, policy=email.policy.default)
                self.assertEqual(
                    msg["Subject"],
                    f"Report Domain: {domain} Submitter: example.net Report-ID: <a1b2c3>")
                self.assertEqual(msg["From"], "dmarc-reports@example.net")
                to = sorted(a.addr_spec for a in msg["To"].addresses)
                want = sorted(t.split(":", 1)[1] for t in targets if t.startswith("send:"))
                self.assertEqual(to, want)
                self.assertEqual(msg["Auto-Submitted"], "auto-generated")
                self.assertEqual(msg["Message-ID"], "<a1b2c3.dmarc@mx.example.net>")
                self.assertIsNotNone(msg["Date"].datetime)
                self.assertEqual(msg.get_content_type(), "multipart/mixed")
                parts = list(msg.iter_parts())
                self.assertEqual([p.get_content_type() for p in parts],
                                 ["text/plain", "application/gzip"])
                self.assertIn(f"for the domain {domain}.", parts[0].get_content())
                att = parts[1]
                self.assertEqual(att.get_content_disposition(), "attachment")
                self.assertEqual(att["Content-Transfer-Encoding"], "base64")
                self.assertEqual(att.get_filename(),
                                 f"example.net!{domain}!{begin}!{end - 1}!a1b2c3.xml.gz")
                xml = gzip.decompress(att.get_content())
                self.assertEqual(xml, self.read(domain + ".xml"))

    def test_schema(self):
        for domain in self.lines:
            with self.subTest(domain=domain):
                xml = self.read(domain + ".xml")
                root = ET.fromstring(xml)
                self.assertEqual(root.tag, "feedback")  # no namespace
                p = self.validate(xml)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn("validates", p.stderr)

    def test_content(self):
        root = ET.fromstring(self.read("example.org.xml"))
        meta = root.find("report_metadata")
        self.assertEqual(meta.findtext("date_range/begin"), "1700006400")
        self.assertEqual(meta.findtext("date_range/end"), "1700092799")
        pol = root.find("policy_published")
        self.assertEqual([pol.findtext(k) for k in ("domain", "adkim", "p", "sp", "pct", "fo")],
                         ["example.org", "s", "quarantine", "none", "50", "1"])
        rows = {r.findtext("row/source_ip"): r for r in root.findall("record")}
        self.assertEqual(rows["192.0.2.10"].findtext("row/count"), "2")  # mapped IPv4 joins
        v6 = rows["2001:db8:1:0:0:0:0:25"]
        self.assertEqual(v6.findtext("row/policy_evaluated/reason/type"), "sampled_out")
        self.assertEqual(v6.findtext("row/policy_evaluated/reason/comment"),
                         "pct=50 & <not> \"sampled\" 'in'")
        self.assertEqual([d.findtext("domain") for d in v6.findall("auth_results/dkim")],
                         ["example.org", "esp.example"])
        null = rows["198.51.100.7"]
        self.assertEqual(null.findtext("identifiers/envelope_from"), "")  # there, empty
        self.assertEqual(null.findtext("auth_results/spf/scope"), "helo")
        self.assertEqual(rows["203.0.113.5"].findtext("identifiers/header_from"),
                         "b\u00fccher.example.org")

    def test_schema_refuses_spoiled(self):
        xml = self.read("example.org.xml")
        spoiled = {
            "compressed IPv6": xml.replace(b"2001:db8:1:0:0:0:0:25", b"2001:db8:1::25"),
            "no sp": re.sub(rb"\s*<sp>none</sp>", b"", xml),
            "np": xml.replace(b"<sp>none</sp>", b"<sp>none</sp><np>reject</np>"),
            "bad disposition": xml.replace(b"<disposition>quarantine<",
                                           b"<disposition>discard<"),
        }
        for what, bad in spoiled.items():
            with self.subTest(what=what):
                self.assertNotEqual(bad, xml)
                p = self.validate(bad)
                self.assertNotEqual(p.returncode, 0, what + " validated")


if __name__ == "__main__":
    unittest.main()
