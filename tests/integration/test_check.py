# SPDX-License-Identifier: ISC
"""postern check, the self-audit, against the real daemon and a real DNS
(knot): the hardened example config (contrib/postern.conf.example) reports
nothing above low; a deliberately weak config reports each planted
weakness with its severity, in text and in JSON; a listener that is not
postern (a fake server offering AUTH in clear text, relaying anything and
speaking TLS 1.0) is caught by the probes, which never send DATA; a
listener nobody answers on is skipped; every run is audited."""
import json
import os
import re
import shutil
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import warnings

from harness import POSTERN, Daemon, free_port, test_ca, test_cert
from testdns import Knot

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "..", "contrib", "postern.conf.example")
PW = "correct horse battery staple 2026"
HIGHER = ("critical", "high", "medium")


def run(conf, *args, stdin=None, timeout=300):
    return subprocess.run([POSTERN, *args, "-c", conf], input=stdin, capture_output=True,
                          text=True, timeout=timeout)


def check(conf, json_out=False):
    """postern check (text or JSON): (exit status, output)."""
    p = run(conf, "check", *(["--json"] if json_out else []))
    if p.returncode not in (0, 3, 4, 5):
        raise AssertionError(f"postern check failed ({p.returncode}): {p.stdout}{p.stderr}")
    return p.returncode, json.loads(p.stdout) if json_out else p.stdout


def text_findings(out):
    """{(id, severity)} from the text report."""
    return {(m.group(2), m.group(1).lower())
            for m in re.finditer(r"^(CRITICAL|HIGH|MEDIUM|LOW|INFO) +([a-z0-9.-]+):", out, re.M)}


def json_findings(doc):
    return {(f["id"], f["severity"]) for f in doc["findings"]}


def txt(value):
    return " ".join('"%s"' % value[i:i + 200] for i in range(0, len(value), 200))


def chown_postern(path):
    import pwd
    pw = pwd.getpwnam("postern")
    os.chown(path, pw.pw_uid, pw.pw_gid)


class HardenedExampleTest(unittest.TestCase):
    """contrib/postern.conf.example, with its placeholders made real."""

    def config(self, d, dns_port=None):
        with open(EXAMPLE) as f:
            text = f.read()
        cert, key = test_cert("mx.example.org", ca=test_ca(), days=90)
        banned = os.path.join(d.dir, "breached.txt")
        with open(banned, "w") as f:
            f.write("password\n5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8\nletmein\n")
        self.ports = {"mx": free_port(), "sub": free_port(), "smtps": free_port()}
        subs = [
            ("state_dir /var/lib/postern", f"state_dir {d.state}"),
            ("log syslog", "log stderr"),
            ("/etc/postern/tls/mx.example.org.crt", cert),
            ("/etc/postern/tls/mx.example.org.key", key),
            ("listen 0.0.0.0:25 {", f"listen 127.0.0.1:{self.ports['mx']} {{"),
            ("listen 0.0.0.0:587 {", f"listen 127.0.0.1:{self.ports['sub']} {{"),
            ("listen 0.0.0.0:465 {", f"listen 127.0.0.1:{self.ports['smtps']} {{"),
            ("/etc/postern/breached.txt", banned),
            ("metrics 127.0.0.1:9925", f"metrics 127.0.0.1:{free_port()}"),
        ]
        try:
            self.ports["mx6"] = free_port("::1")
            subs.append(("listen [::]:25 {", f"listen [::1]:{self.ports['mx6']} {{"))
        except OSError:  # no IPv6 loopback here: drop that listener
            subs.append(("listen [::]:25 {\n    role mx\n    tls starttls\n}\n", ""))
        for old, new in subs:
            self.assertIn(old, text)
            text = text.replace(old, new)
        if dns_port:
            text += f"resolver 127.0.0.1:{dns_port}\n"
        d.write_conf(text)
        d.mx_port = self.ports["mx"]

    def test_example_reports_nothing_above_low(self):
        d = Daemon(body="# replaced below\n")
        self.addCleanup(d.cleanup)
        self.config(d)
        # the DKIM key of the example's selector, published below
        p = run(d.conf, "dkim", "keygen", "example.org", "s2026")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        dkim = [l for l in p.stdout.splitlines() if l.startswith("v=DKIM1")][0]
        zone = ('mx A 192.0.2.25\n'
                '@ TXT "v=spf1 ip4:192.0.2.25 -all"\n'
                f"s2026._domainkey TXT {txt(dkim)}\n"
                '_dmarc TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.org"\n'
                '_mta-sts TXT "v=STSv1; id=2026112801"\n'
                '_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tls-reports@example.org"\n')
        dns = Knot({"example.org": zone}).start()
        self.addCleanup(dns.stop)
        self.config(d, dns.port)
        p = run(d.conf, "dkim", "list")  # the key made above is still there
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # an account as the example asks for: 2FA and an app password that expires
        p = run(d.conf, "user", "add", "alice@example.org", "--password-stdin", stdin=PW + "\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(run(d.conf, "user", "2fa", "enable", "alice@example.org").returncode, 0)
        p = run(d.conf, "user", "app-password", "add", "alice@example.org", "--label", "phone",
                "--expires", "365d")
        self.assertEqual(p.returncode, 0, p.stderr)
        d.start()

        rc, out = check(d.conf)
        self.assertEqual(rc, 0, out)
        found = text_findings(out)
        self.assertFalse([f for f in found if f[1] in HIGHER], out)
        self.assertRegex(out, r"0 critical, 0 high, 0 medium, \d+ low, \d+ info: exit status 0")
        # it did look: the probes refused relaying and old TLS, DNS was judged
        self.assertIn(("relay.refused", "info"), found)
        self.assertIn(("tls.versions", "info"), found)
        self.assertRegex(out, r"relay.refused: listen 127.0.0.1:\d+ \(mx\): RCPT "
                              r"TO:<relay-test@example.net> without AUTH got 554")
        self.assertRegex(out, r"relay.refused: listen 127.0.0.1:\d+ \(submission\): MAIL FROM "
                              r"without AUTH got 530")
        self.assertRegex(out, r"TLSv1 refused, TLSv1.1 refused, TLSv1.2 accepted, "
                              r"TLSv1.3 accepted")
        self.assertNotIn("dns.", out)
        self.assertNotIn("accounts.", out)
        self.assertIn(("version.postern", "info"), found)
        self.assertIn("version.library: OpenSSL 3.", out)

        rc, doc = check(d.conf, json_out=True)
        self.assertEqual(rc, 0)
        self.assertEqual([doc["summary"][s] for s in HIGHER], [0, 0, 0])
        self.assertEqual(doc["summary"]["exit"], 0)
        self.assertEqual(doc["hostname"], "mx.example.org")
        self.assertEqual(json_findings(doc), found)

        # the probes were sessions like any other: the relay attempt never got to DATA
        self.assertTrue(d.wait_log(r"smtp reject reason=relay-denied ip=127.0.0.1 "
                                   r'rcpt="relay-test@example.net"'))
        self.assertNotRegex(d.log(), r"smtp (accepted|abuse)")
        # both runs are on the record
        p = run(d.conf, "audit", "search", "--event", "check.run")
        runs = [json.loads(l) for l in p.stdout.splitlines()]
        self.assertEqual(len(runs), 2, p.stdout)
        self.assertEqual(runs[0]["actor"], "cli:root")
        self.assertEqual([runs[0][s] for s in HIGHER], [0, 0, 0])
        self.assertEqual(runs[0]["worst"], "low" if runs[0]["low"] else "info")


WEAK_ZONE = ('@ TXT "v=spf1 +all"\n'
             '_dmarc TXT "v=DMARC1; p=none"\n')

# Each planted weakness and the severity it must be reported with.
PLANTED = {
    ("tls.ciphers-broken", "high"), ("tls.ciphers-no-forward-secrecy", "medium"),
    ("tls.cert-self-signed", "medium"), ("tls.cert-expiring", "high"),
    ("tls.mx-plaintext", "medium"), ("tls.relay-plaintext", "medium"),
    ("relay.trusted-wide", "high"), ("relay.probe-inconclusive", "info"),
    ("guard.rate-off", "medium"), ("guard.lockout-loose", "medium"),
    ("guard.ban-short", "medium"), ("guard.tarpit-off", "low"),
    ("guard.user-rate-off", "low"), ("guard.no-alerts", "low"),
    ("auth.strength-off", "high"), ("auth.min-length", "low"),
    ("auth.breached-list-off", "low"), ("auth.history-off", "low"),
    ("auth.hash-weak", "low"), ("auth.totp-window", "low"),
    ("mailauth.spf-off", "medium"), ("mailauth.dkim-off", "low"),
    ("mailauth.dmarc-not-enforced", "medium"),
    ("accounts.legacy-hash", "medium"), ("accounts.no-2fa", "medium"),
    ("accounts.app-password-no-expiry", "low"), ("accounts.app-password-unused", "low"),
    ("dkim.key-size", "high"), ("dkim.key-age", "low"),
    ("dns.spf.weak", "high"), ("dns.dmarc.weak", "medium"), ("dns.dkim.missing", "high"),
    ("dns.mta-sts.missing", "low"), ("dns.tls-rpt.missing", "low"),
    ("tls.versions", "info"), ("version.postern", "info"), ("version.library", "info"),
    ("admin.api-exposed", "high"), ("smtp.sandbox-off", "high"),
}


class WeakConfigTest(unittest.TestCase):
    def setUp(self):
        self.dns = Knot({"weak.test": WEAK_ZONE}).start()
        self.addCleanup(self.dns.stop)

    def plant_dkim_key(self, d):
        """An RSA-1024 key for selector old, made 400 days ago."""
        keydir = os.path.join(d.state, "dkim", "weak.test")
        os.makedirs(keydir, mode=0o700)
        path = os.path.join(keydir, "old.key")
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:1024", "-out", path], check=True, capture_output=True)
        os.chmod(path, 0o600)
        for p in (os.path.join(d.state, "dkim"), keydir, path):
            chown_postern(p)
        old = time.time() - 400 * 86400
        os.utime(path, (old, old))

    def plant_accounts(self, d):
        h = subprocess.run(["doveadm", "pw", "-s", "SHA512-CRYPT", "-p", PW],
                           capture_output=True, text=True, check=True).stdout.strip()
        path = os.path.join(d.dir, "old.passwd")
        with open(path, "w") as f:
            f.write(f"legacy@weak.test:{h}\n")
        self.assertEqual(run(d.conf, "user", "import", path).returncode, 0)
        p = run(d.conf, "user", "add", "bob@weak.test", "--password-stdin", stdin="password9\n")
        self.assertEqual(p.returncode, 0, p.stderr)
        for label in ("phone", "old-laptop"):
            p = run(d.conf, "user", "app-password", "add", "bob@weak.test", "--label", label)
            self.assertEqual(p.returncode, 0, p.stderr)
        import sqlite3
        db = sqlite3.connect(os.path.join(d.state, "accounts.db"))
        db.execute("UPDATE app_passwords SET created = ? WHERE label = 'old-laptop'",
                   (int(time.time()) - 200 * 86400,))
        db.commit()
        db.close()
        for name in os.listdir(d.state):
            if name.startswith("accounts.db"):
                chown_postern(os.path.join(d.state, name))

    def test_planted_weaknesses(self):
        cert, key = test_cert("mx.weak.test", days=10)  # self-signed, expiring
        d = Daemon(body="# replaced below\n")
        self.addCleanup(d.cleanup)
        d.mx_port = free_port()
        plain = free_port()
        d.write_conf(f"""hostname mx.weak.test
state_dir {d.state}
tls {{
    cert {cert}
    key {key}
    ciphers "AES128-SHA:NULL-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:@SECLEVEL=0"
}}
listen 127.0.0.1:{d.mx_port} {{ role mx }}
listen 127.0.0.1:{plain} {{ role mx; tls none }}
listen 127.0.0.1:{d.sub_port} {{ role submission }}
domain weak.test {{
    deliver smtp://127.0.0.1:9
    dkim selector old
}}
relay {{ tls none }}
trusted_networks 127.0.0.1 8.0.0.0/8
resolver 127.0.0.1:{self.dns.port}
smtp {{
    sandbox no
}}
admin {{
    api 127.0.0.1:{free_port()}
    api_allow 0.0.0.0/0
    api_account bob@weak.test admin
}}
auth {{
    min_length 8
    min_entropy 0
    history 0
    argon2_memory 8M
    argon2_ops 1
    totp_window 5
}}
guard {{
    conn_rate 0
    ip_failures 500
    ban_time 30s
    tarpit 0
    user_messages 0
    greet_delay 0
}}
mailauth {{
    spf no
    dkim_verify no
    dmarc_enforce no
    dns_timeout 3s
}}
""")
        os.makedirs(d.state, exist_ok=True)
        self.plant_dkim_key(d)
        self.plant_accounts(d)
        d.start()

        rc, out = check(d.conf)
        found = text_findings(out)
        missing = PLANTED - found
        self.assertFalse(missing, f"not reported: {sorted(missing)}\n{out}")
        self.assertEqual(rc, 4, out)  # the worst is high
        self.assertNotIn("CRITICAL", out)
        # where each was found, and the fix that goes with it
        self.assertRegex(out, r"tls.cert-expiring: .*\n +where: +\S+mx.weak.test\S+crt: "
                              r"(9|10) days left")
        self.assertIn("AES128-SHA", out)
        self.assertIn("NULL-SHA256", out)
        self.assertRegex(out, r"where: +weak.test selector old: RSA of 1024 bits")
        self.assertRegex(out, r"where: +1 of 2 accounts: legacy@weak.test \(SHA512-CRYPT\)")
        self.assertRegex(out, r"where: +2 of 2 active accounts: ")
        self.assertRegex(out, r"bob@weak.test/old-laptop \(made, never used, 200 days ago\)")
        self.assertIn("fix:     publish: weak.test. IN TXT \"v=spf1 mx -all\"", out)
        self.assertIn("trusted_networks 8.0.0.0/8: public", out)
        self.assertIn("the probe comes from 127.0.0.1, which is in trusted_networks", out)
        self.assertIn("guard { conn_rate 0 } (the default is 120)", out)

        rc, doc = check(d.conf, json_out=True)
        self.assertEqual(rc, 4)
        self.assertFalse(PLANTED - json_findings(doc))
        self.assertEqual(json_findings(doc), found)
        self.assertEqual(doc["summary"]["worst"], "high")
        self.assertEqual(doc["summary"]["critical"], 0)
        self.assertEqual(doc["summary"]["high"],
                         sum(1 for f in doc["findings"] if f["severity"] == "high"))
        byid = {f["id"]: f for f in doc["findings"]}
        self.assertIn("postern dkim keygen", byid["dkim.key-size"]["fix"])
        self.assertTrue(byid["auth.strength-off"]["meaning"])
        # the run is audited, with the counts
        p = run(d.conf, "audit", "search", "--event", "check.run")
        last = json.loads(p.stdout.splitlines()[-1])
        self.assertEqual(last["high"], doc["summary"]["high"])
        self.assertEqual(last["worst"], "high")


class FakeServer:
    """Something that is not postern on a listener's port: offers AUTH before
    TLS, takes any recipient, and speaks TLS 1.0. Records what it was sent."""

    def __init__(self, cert, greeting="220 fake.example.test ESMTP",
                 ehlo=("AUTH PLAIN LOGIN", "STARTTLS", "8BITMIME"), rcpt="250 ok"):
        self.greeting, self.ehlo, self.rcpt = greeting, ehlo, rcpt
        self.port = free_port()
        self.commands = []
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(*cert)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.ctx.minimum_version = ssl.TLSVersion.TLSv1
        self.ctx.set_ciphers("ALL:@SECLEVEL=0")
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                try:
                    fake.session(self.connection)
                except (OSError, ssl.SSLError):
                    pass

        class S(socketserver.ThreadingMixIn, socketserver.TCPServer):
            daemon_threads = True
            allow_reuse_address = True
        self.server = S(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def session(self, conn):
        opened = []  # the TLS socket, once there is one
        try:
            self.dialogue(conn, opened)
        finally:
            for c in opened:
                c.close()

    def dialogue(self, conn, opened):
        r, w = conn.makefile("rb"), conn.makefile("wb")

        def send(line):
            w.write(line.encode() + b"\r\n")
            w.flush()
        send(self.greeting)
        while not self.greeting.startswith("220"):
            if not r.readline(2000):
                return
        while True:
            line = r.readline(2000)
            if not line:
                return
            text = line.decode(errors="replace").rstrip("\r\n")
            self.commands.append(text)
            verb = text.split(" ")[0].upper()
            if verb == "EHLO":
                lines = ["fake.example.test", *self.ehlo]
                send("\r\n".join(("250 " if i == len(lines) - 1 else "250-") + l
                                  for i, l in enumerate(lines)))
            elif verb == "RCPT":
                send(self.rcpt)
            elif verb == "AUTH":
                send("334 ")
            elif text == "*":
                send("501 5.7.0 cancelled")
            elif verb == "STARTTLS":
                send("220 go ahead")
                conn = self.ctx.wrap_socket(conn, server_side=True)
                opened.append(conn)
                r, w = conn.makefile("rb"), conn.makefile("wb")
            elif verb == "QUIT":
                send("221 bye")
                return
            elif verb == "DATA":
                send("354 go ahead")
            else:
                send("250 ok")

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class ProbeTest(unittest.TestCase):
    def test_open_relay_plaintext_auth_old_tls(self):
        cert = test_cert("fake.example.test", ca=test_ca(), days=90)
        fake = FakeServer(cert)
        self.addCleanup(fake.stop)
        d = Daemon(body="# replaced below\n")
        self.addCleanup(d.cleanup)
        dead = free_port()
        d.write_conf(f"hostname fake.example.test\nstate_dir {d.state}\n"
                     f"tls {{ cert {cert[0]}; key {cert[1]} }}\n"
                     f"listen 127.0.0.1:{fake.port} {{ role mx }}\n"
                     f"listen 127.0.0.1:{dead} {{ role submission }}\n"
                     "guard { alert_to sec@example.test }\n")
        # the daemon is not running: only the fake answers
        rc, out = check(d.conf)
        found = text_findings(out)
        for want in (("auth.plaintext", "critical"), ("relay.open", "critical"),
                     ("tls.min-version", "high"), ("probe.skipped", "info")):
            self.assertIn(want, found, out)
        self.assertEqual(rc, 5, out)
        self.assertRegex(out, rf"auth.plaintext: .*\n +where: +listen 127.0.0.1:{fake.port} "
                              r"\(mx\): EHLO lists AUTH before STARTTLS")
        self.assertRegex(out, r"relay.open: .*\n +where: .*RCPT TO:<relay-test@example.net> "
                              r"without AUTH got 250 ok")
        self.assertRegex(out, r"tls.min-version: .*\n +where: .*a handshake with TLSv1 and "
                              r"TLSv1.1 worked")
        self.assertRegex(out, rf"probe.skipped: listen 127.0.0.1:{dead} \(submission\): "
                              r"Connection refused")
        # the rest of the check still ran
        self.assertIn("version.postern", out)
        # what the probes sent: never DATA, never a credential; each session ends
        cmds = fake.commands
        self.assertNotIn("DATA", [c.split(" ")[0].upper() for c in cmds])
        self.assertIn("MAIL FROM:<relay-test@example.com>", cmds)
        self.assertIn("RCPT TO:<relay-test@example.net>", cmds)
        self.assertIn("RSET", cmds)
        self.assertTrue(all(not c.upper().startswith("AUTH") or c == "AUTH PLAIN" for c in cmds))
        self.assertGreaterEqual(cmds.count("QUIT"), 3)
        rc, doc = check(d.conf, json_out=True)
        self.assertEqual(rc, 5)
        self.assertEqual(doc["summary"]["critical"], 2)
        self.assertEqual(json_findings(doc), found)

    def test_refusing_and_without_starttls(self):
        """A listener that refuses the probe is inconclusive; one configured for
        STARTTLS that does not offer it is reported, and so is AUTH that is
        answered before TLS though not advertised; a refused RCPT is no relay."""
        cert = test_cert("fake.example.test", ca=test_ca(), days=90)
        refusing = FakeServer(cert, greeting="554 5.7.1 go away")
        self.addCleanup(refusing.stop)
        bare = FakeServer(cert, ehlo=("8BITMIME",), rcpt="550 5.7.1 relaying denied")
        self.addCleanup(bare.stop)
        d = Daemon(body="# replaced below\n")
        self.addCleanup(d.cleanup)
        d.write_conf(f"hostname fake.example.test\nstate_dir {d.state}\n"
                     f"tls {{ cert {cert[0]}; key {cert[1]} }}\n"
                     f"listen 127.0.0.1:{refusing.port} {{ role mx }}\n"
                     f"listen 127.0.0.1:{bare.port} {{ role mx; tls starttls }}\n"
                     "guard { alert_to sec@example.test }\n")
        rc, out = check(d.conf)
        found = text_findings(out)
        self.assertIn(("probe.inconclusive", "info"), found, out)
        self.assertRegex(out, rf"probe.inconclusive: listen 127.0.0.1:{refusing.port} \(mx\): "
                              r"554 5.7.1 go away")
        self.assertIn(("tls.no-starttls", "high"), found, out)
        self.assertRegex(out, rf"relay.refused: listen 127.0.0.1:{bare.port} \(mx\): RCPT "
                              r"TO:<relay-test@example.net> without AUTH got 550 5.7.1")
        self.assertNotIn("relay.open", out)
        self.assertRegex(out, rf"auth.plaintext: .*\n +where: +listen 127.0.0.1:{bare.port} "
                              r"\(mx\): AUTH PLAIN before STARTTLS got 334")
        self.assertEqual(rc, 5)
        self.assertEqual(refusing.commands, [])  # nothing sent after a 554 greeting
        # asked though not advertised, cancelled without a credential
        self.assertEqual(bare.commands[1:3], ["AUTH PLAIN", "*"])
        self.assertIn("QUIT", bare.commands)

    def test_cannot_run_and_usage(self):
        d = Daemon(body="listen nowhere\n")
        self.addCleanup(d.cleanup)
        p = run(d.conf, "check")
        self.assertEqual(p.returncode, 1)
        self.assertIn("postern.conf:1: listen", p.stderr)
        p = run(d.conf, "check", "now")
        self.assertEqual(p.returncode, 2)
        self.assertIn("usage: postern check [--json]", p.stderr)


if __name__ == "__main__":
    unittest.main()
