#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Run `postern dkim verify` over the Mail::DKIM verifier corpus and compare
with Mail::DKIM's expected results, judged by today's rules (RFC 8301).

    tests/oracles/maildkim_corpus.py CORPUS_DIR [--postern PATH]

CORPUS_DIR holds corpus/*.txt, FAKE_DNS.dat and expected.tsv (see
README.md beside this script). The corpus is Artistic/GPL licensed: it is
read where it lies and never copied into this repository, which is why this
is not part of `make check`.

DNS: knot (tests/integration/testdns.py) serves every FAKE_DNS.dat record as
TXT, one zone per domain after `_domainkey.`. A small proxy in front of it,
the only server postern is given, adds what an authoritative server cannot:
it drops the queries for names marked `~~Query timed out~~` (postern's
`dns_timeout` then ends the lookup: temperror), answers SERVFAIL for names
marked `~~SERVFAIL~~` (temperror too), and NXDOMAIN for names outside every
zone (the DMARC lookups of domains the corpus has no records for). Names
marked NXDOMAIN are simply absent from their zone.

Rules, per message (expected.tsv gives Mail::DKIM's word and, per
signature, the algorithm and key):
- never a crash, a sanitizer report or a hang;
- DomainKeys only: "dkim: none" (a DKIM verifier ignores DomainKey-Signature);
- rsa-sha1: permerror (RFC 8301 3.1), whatever Mail::DKIM says;
- no v=1 tag (draft-era signatures): permerror (RFC 6376 3.5, 6.1.1);
- Mail::DKIM pass, rsa-sha256 with an RSA key of 1024 bits or more, or
  ed25519-sha256: we pass (one such signature of several is enough);
- Mail::DKIM pass, an RSA key under 1024 bits: permerror (RFC 8301 3.2);
- Mail::DKIM fail or invalid: not pass; a DNS timeout or SERVFAIL for the
  key: temperror (RFC 6376 6.1.2); fail with a modern key: fail;
- the exit status is 0 exactly when every signature passed, and an
  Authentication-Results field is printed.
Then `postern dmarc check` runs once over every message: it must not crash
or hang (there are no expected values).

Prints a table and ends with "N agree, N differ"; exit status 0 when
nothing differs.
"""
import argparse
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))

from harness import free_port  # noqa: E402
from testdns import Knot  # noqa: E402

TIMEOUT_MARK = "~~Query timed out~~"
SERVFAIL_MARK = "~~SERVFAIL~~"
DNS_TIMEOUT = 3
SAN_ENV = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1",
           "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}
SAN_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")


# ---- DNS ----

def read_fake_dns(path):
    """[(name, value)] from FAKE_DNS.dat; value may be a special mark."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            name, _, value = line.partition(" ")
            value = value.strip()
            if value == '""':
                value = ""  # an empty TXT string, as the file writes it
            out.append((name.rstrip(".").lower(), value))
    return out


def zone_of(name):
    """The zone a key name lives in: the domain after `_domainkey.`."""
    head, sep, tail = name.partition("._domainkey.")
    return tail if sep else name.partition(".")[2]


def txt_rdata(value):
    """A zone-file TXT RDATA: strings of at most 255 bytes, quoted."""
    raw = value.encode("utf-8")
    chunks = [raw[i:i + 255] for i in range(0, len(raw), 255)] or [b""]
    out = []
    for c in chunks:
        s = ""
        for b in c:
            if b in (0x22, 0x5c):
                s += "\\" + chr(b)
            elif 0x20 <= b < 0x7f:
                s += chr(b)
            else:
                s += "\\%03d" % b
        out.append('"' + s + '"')
    return " ".join(out)


def build_zones(records):
    """(zones for Knot, names to drop, names to SERVFAIL)."""
    zones, drop, servfail = {}, set(), set()
    for name, value in records:
        if value == "NXDOMAIN":
            zones.setdefault(zone_of(name), "")
        elif value == TIMEOUT_MARK:
            drop.add(name)
        elif value == SERVFAIL_MARK:
            servfail.add(name)
        else:
            zones[zone_of(name)] = zones.get(zone_of(name), "") + \
                f"{name}. TXT {txt_rdata(value)}\n"
    return zones, drop, servfail


def qname(msg):
    """The lowercased question name of a DNS query, or None."""
    labels, i = [], 12
    try:
        while msg[i] != 0:
            n = msg[i]
            if n & 0xC0:
                return None
            labels.append(msg[i + 1:i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        return ".".join(labels).lower(), i + 5
    except IndexError:
        return None


def synth(query, end, rcode):
    """An answer with no records and rcode, echoing the question."""
    flags = struct.unpack("!H", query[2:4])[0]
    flags = 0x8000 | (flags & 0x7900) | 0x0080 | rcode  # QR, opcode, RD; RA
    return query[:2] + struct.pack("!HHHHH", flags, 1, 0, 0, 0) + query[12:end]


class Proxy:
    """UDP and TCP on one loopback port, forwarding to knot except for the
    names it drops, fails or (outside every zone) denies."""

    def __init__(self, upstream, zones, drop, servfail):
        self.upstream = upstream
        self.zones = set(zones)
        self.drop = drop
        self.servfail = servfail
        self.port = free_port()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(16)
        self.dropped = self.failed = 0

    def in_zone(self, name):
        return any(name == z or name.endswith("." + z) for z in self.zones)

    def decide(self, query):
        """("drop"|"answer"|"forward", bytes or None)."""
        q = qname(query) if len(query) >= 12 else None
        if q is None:
            return "drop", None
        name, end = q
        if name in self.drop:
            self.dropped += 1
            return "drop", None
        if name in self.servfail:
            self.failed += 1
            return "answer", synth(query, end, 2)
        if not self.in_zone(name):
            return "answer", synth(query, end, 3)
        return "forward", None

    def start(self):
        threading.Thread(target=self._udp_loop, daemon=True).start()
        threading.Thread(target=self._tcp_loop, daemon=True).start()
        return self

    def _udp_loop(self):
        while True:
            try:
                query, peer = self.udp.recvfrom(65535)
            except OSError:
                return
            threading.Thread(target=self._udp_one, args=(query, peer), daemon=True).start()

    def _udp_one(self, query, peer):
        what, ans = self.decide(query)
        if what == "forward":
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(2)
                try:
                    s.sendto(query, self.upstream)
                    ans = s.recv(65535)
                except OSError:
                    return
        if ans is not None:
            try:
                self.udp.sendto(ans, peer)
            except OSError:
                pass

    def _tcp_loop(self):
        while True:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            threading.Thread(target=self._tcp_one, args=(conn,), daemon=True).start()

    @staticmethod
    def _read_msg(conn):
        def exact(n):
            b = b""
            while len(b) < n:
                c = conn.recv(n - len(b))
                if not c:
                    return None
                b += c
            return b
        h = exact(2)
        return exact(struct.unpack("!H", h)[0]) if h else None

    def _tcp_one(self, conn):
        with conn:
            conn.settimeout(30)
            try:
                while (query := self._read_msg(conn)) is not None:
                    what, ans = self.decide(query)
                    if what == "forward":
                        with socket.create_connection(self.upstream, timeout=2) as s:
                            s.sendall(struct.pack("!H", len(query)) + query)
                            ans = self._read_msg(s)
                    if ans is not None:
                        conn.sendall(struct.pack("!H", len(ans)) + ans)
            except OSError:
                pass

    def stop(self):
        for s in (self.udp, self.tcp):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()


# ---- expectations ----

class Row:
    def __init__(self, cols):
        cols += [""] * (6 - len(cols))
        self.file = cols[0]
        self.expected = cols[1]
        self.word = cols[1].split()[0]
        self.kinds = cols[2].split(",")
        n = len(self.kinds)
        self.algs = (cols[3].split(",") + [""] * n)[:n]
        self.keys = (cols[4].split(",") + [""] * n)[:n]
        self.comment = cols[5]

    def dkim_sigs(self):
        """[(alg, key)] of the DKIM signatures, in header order."""
        return [(a, k) for kind, a, k in zip(self.kinds, self.algs, self.keys) if kind == "DKIM"]


def read_expected(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line and not line.startswith("#"):
                rows.append(Row(line.split("\t")))
    return rows


def rsa_bits(key):
    m = re.match(r"(\d+)-bit rsa$", key)
    return int(m.group(1)) if m else None


def is_modern(alg, key):
    """Acceptable under RFC 8301 and RFC 8463."""
    if alg == "ed25519-sha256":
        return key == "ed25519"
    bits = rsa_bits(key)
    return alg == "rsa-sha256" and bits is not None and bits >= 1024


# ---- running postern ----

SIG_RE = re.compile(r"^dkim signature (\d+): d=(.*?) s=(.*?): "
                    r"(pass|fail|neutral|temperror|permerror) \((.*)\)( \[testing key\])?$")


class Run:
    def __init__(self, argv, stdin_path, timeout):
        self.hang = self.crash = False
        self.sigs, self.none, self.authres = [], False, False
        self.rc, self.stdout, self.stderr = None, "", ""
        env = dict(os.environ, **SAN_ENV)
        start = time.monotonic()
        with open(stdin_path, "rb") as f:
            try:
                p = subprocess.run(argv, stdin=f, capture_output=True, timeout=timeout, env=env)
            except subprocess.TimeoutExpired:
                self.hang = True
                return
            finally:
                self.seconds = time.monotonic() - start
        self.rc = p.returncode
        self.stdout = p.stdout.decode("utf-8", "replace")
        self.stderr = p.stderr.decode("utf-8", "replace")
        self.crash = self.rc not in (0, 1) or any(m in self.stderr for m in SAN_MARKS)
        for line in self.stdout.splitlines():
            m = SIG_RE.match(line)
            if m:
                self.sigs.append((m.group(4), m.group(5)))
            elif line.startswith("dkim: none"):
                self.none = True
            elif line.startswith("Authentication-Results:"):
                self.authres = True

    def summary(self):
        if self.hang:
            return "HANG"
        if self.crash:
            return f"CRASH (exit {self.rc})"
        if self.none:
            return "none"
        return ", ".join(f"{r} ({why})" for r, why in self.sigs) or "no output"


def judge(row, run, versions):
    """(ok, reason). versions: the v= of each DKIM-Signature, None if absent."""
    if run.hang:
        return False, "did not finish in time"
    if run.crash:
        tail = run.stderr.strip().splitlines()[-1:] or [""]
        return False, f"exit status {run.rc}: {tail[0][:120]}"
    if not run.authres:
        return False, "no Authentication-Results field"
    sigs = row.dkim_sigs()
    results = [r for r, _ in run.sigs]
    if run.rc != (0 if results and all(r == "pass" for r in results) else 1):
        return False, f"exit status {run.rc} does not match the results"
    if not sigs:
        return (True, "DomainKeys only: no DKIM signature") if run.none else \
            (False, "DomainKeys only, yet DKIM results reported")
    if len(results) != len(sigs) or len(versions) != len(sigs):
        return False, f"{len(results)} results for {len(sigs)} DKIM signatures"
    want = [expect(row.word, a, k, v) for (a, k), v in zip(sigs, versions)]
    if row.word == "pass":
        # Mail::DKIM's pass is the message's: one good signature of several
        # is enough, so of the modern ones one pass suffices.
        modern = [i for i, w in enumerate(want) if w[0] == "pass"]
        if modern and not any(results[i] == "pass" for i in modern):
            return False, "Mail::DKIM pass with a modern key, ours does not pass"
        want = [("any", "") if w[0] == "pass" and len(modern) > 1 else w for w in want]
    for i, (w, why) in enumerate(want):
        if w == "pass" and results[i] != "pass" or \
                w not in ("pass", "any", "not pass") and results[i] != w or \
                w == "not pass" and results[i] == "pass":
            return False, f"sig {i + 1}: want {w}: {why}"
    return True, "; ".join(sorted({why for _, why in want if why}))


def expect(word, alg, key, version):
    """(what we must say for one signature, why), by RFC 6376 and RFC 8301,
    given Mail::DKIM's word for the message."""
    if alg == "rsa-sha1":
        return "permerror", "RFC 8301 3.1: rsa-sha1"
    if version != "1":
        return ("permerror", "RFC 6376 6.1.1: " +
                ("no v= tag (draft-era or malformed)" if version is None
                 else f"v={version}, not 1 (draft-era)"))
    if word == "pass":
        bits = rsa_bits(key)
        if bits is not None and bits < 1024:
            return "permerror", "RFC 8301 3.2: RSA key under 1024 bits"
        if is_modern(alg, key):
            return "pass", "modern key passes"
        return "not pass", f"Mail::DKIM pass with {alg or '?'}/{key or 'no key'}"
    if key in (TIMEOUT_MARK, SERVFAIL_MARK):
        return "temperror", "RFC 6376 6.1.2: key lookup failed temporarily"
    if word == "fail" and is_modern(alg, key):
        return "fail", "does not verify, as Mail::DKIM"
    return "not pass", f"Mail::DKIM {word}"


def sig_versions(path):
    """The v= value of each DKIM-Signature field of a message, in order
    (None when a field has no v= tag)."""
    with open(path, "rb") as f:
        head = f.read().split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    out = []
    for field in re.split(r"\r\n(?![ \t])", head):
        name, sep, value = field.partition(":")
        if not sep or name.strip().lower() != "dkim-signature":
            continue
        tags = {}
        for t in re.sub(r"\r\n[ \t]", " ", value).split(";"):
            k, eq, v = t.partition("=")
            if eq:
                tags.setdefault(k.strip(), v.strip())
        out.append(tags.get("v"))
    return out


def write_conf(d, port):
    path = os.path.join(d, "postern.conf")
    with open(path, "w") as f:
        f.write(f"hostname verifier.corpus.test\nstate_dir {os.path.join(d, 'state')}\n"
                f"listen 127.0.0.1:{free_port()} {{\n    role mx\n}}\n"
                f"resolver 127.0.0.1:{port}\n"
                f"mailauth {{\n    dns_timeout {DNS_TIMEOUT}s\n}}\n")
    return path


def print_table(rows):
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])


def run_dkim(postern, conf, corpus, rows):
    """The table of `dkim verify` against expected.tsv: (agree, differ)."""
    table = [("file", "Mail::DKIM", "ours", "verdict")]
    agree = differ = 0
    slowest = ("", 0.0)
    for row in rows:
        path = os.path.join(corpus, row.file)
        run = Run([postern, "dkim", "verify", "-c", conf], path, DNS_TIMEOUT + 30)
        ok, why = judge(row, run, sig_versions(path))
        slowest = max(slowest, (row.file, run.seconds), key=lambda x: x[1])
        agree, differ = agree + ok, differ + (not ok)
        table.append((row.file, row.expected, run.summary(),
                      ("OK" if ok else "MISMATCH") + (f" ({why})" if why else "")))
    print_table(table)
    known = {row.file for row in rows}
    for name in sorted(os.listdir(corpus)):
        if name in known:
            continue
        run = Run([postern, "dkim", "verify", "-c", conf], os.path.join(corpus, name),
                  DNS_TIMEOUT + 30)
        bad = run.hang or run.crash
        print(f"{name}: not in expected.tsv; dkim verify {run.summary()}"
              f"{': MISMATCH' if bad else ''}")
        differ += bad
    print(f"slowest dkim verify: {slowest[1]:.1f}s ({slowest[0]})")
    return agree, differ


def run_dmarc(postern, conf, corpus):
    """`dmarc check` once over every message; the number that crashed or
    hung."""
    files = sorted(os.listdir(corpus))
    bad = 0
    for name in files:
        run = Run([postern, "dmarc", "check", "-c", conf], os.path.join(corpus, name),
                  DNS_TIMEOUT + 30)
        if run.hang or run.crash or "dmarc:" not in run.stdout:
            tail = (run.stderr.strip().splitlines() or [""])[-1][:160]
            print(f"dmarc check {name}: MISMATCH {run.summary()} {tail}")
            bad += 1
    print(f"dmarc check: {len(files) - bad} of {len(files)} messages ran to the end")
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus_dir", help="directory with corpus/, FAKE_DNS.dat, expected.tsv")
    ap.add_argument("--postern", default=os.path.join(TOP, "build", "postern"),
                    help="the postern binary (default: build/postern)")
    args = ap.parse_args()

    postern = os.path.abspath(args.postern)
    corpus = os.path.join(args.corpus_dir, "corpus")
    rows = read_expected(os.path.join(args.corpus_dir, "expected.tsv"))
    zones, drop, servfail = build_zones(read_fake_dns(os.path.join(args.corpus_dir,
                                                                   "FAKE_DNS.dat")))
    with Knot(zones) as knot:
        proxy = Proxy(("127.0.0.1", knot.port), zones, drop, servfail).start()
        tmp = tempfile.mkdtemp(prefix="postern-maildkim-")
        try:
            conf = write_conf(tmp, proxy.port)
            agree, differ = run_dkim(postern, conf, corpus, rows)
            differ += run_dmarc(postern, conf, corpus)
            print(f"DNS: {proxy.dropped} queries dropped (timeout), "
                  f"{proxy.failed} answered SERVFAIL")
        finally:
            proxy.stop()
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{agree} agree, {differ} differ")
    return 0 if differ == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
