#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Turn an OpenSPF suite (JSON copy of the YAML) into the line format that
tests/unit/test_spf_suite.c reads. Run from this folder:
    /usr/bin/python3 convert.py rfc7208-tests.json > rfc7208-tests.txt

Format: one record per line, fields separated by one space, each field
escaped (bytes outside 0x21-0x7e and backslash as \\xNN; the empty string
as a lone "-", a literal "-" as \\x2d).
  S description                    a scenario starts
  Z name TYPE value                a zone record; TYPE is TXT (strings of a
                                   multi-string record already joined, RFC
                                   7208 3.3), A, AAAA, MX ("pref host"),
                                   PTR, CNAME, EXISTS (the name exists, no
                                   value), TIMEOUT (value: a type, or "-"
                                   for every type)
  T id host mailfrom helo results explanation
                                   a test; results is a comma list (first
                                   preferred); explanation "-" when absent
Zone rules of pyspf's driver: SPF records are served as TXT unless the name
has TXT entries of its own; "NONE" means no record of that type.
"""
import json
import sys


def esc(s):
    if s is None or s == "":
        return "-"
    out = []
    for b in str(s).encode("utf-8"):
        if 0x21 <= b <= 0x7e and b != 0x5c and not (b == 0x2d and len(s) == 1):
            out.append(chr(b))
        else:
            out.append("\\x%02x" % b)
    return "".join(out)


def zone_lines(name, recs):
    lines = [("EXISTS", "")]
    has_txt = any(isinstance(r, dict) and "TXT" in r for r in recs)
    for r in recs:
        if not isinstance(r, dict):
            if r == "TIMEOUT":
                lines.append(("TIMEOUT", ""))
                continue
            raise SystemExit(f"unknown zone entry {r!r} at {name}")
        for typ, val in r.items():
            if val == "TIMEOUT":
                lines.append(("TIMEOUT", typ if typ != "SPF" else "TXT"))
                continue
            if val == "NONE":
                continue
            if typ == "SPF":
                if has_txt:
                    continue
                typ = "TXT"
            if typ == "TXT" and isinstance(val, list):
                val = "".join(val)
            if typ == "MX":
                val = f"{val[0]} {val[1]}"
            lines.append((typ, val))
    return [f"Z {esc(name)} {t} {esc(v)}" for t, v in lines]


def main():
    for sc in json.load(open(sys.argv[1])):
        print("S " + esc(sc.get("description", "")))
        for name, recs in sc.get("zonedata", {}).items():
            for line in zone_lines(name, recs):
                print(line)
        for tid, t in sc["tests"].items():
            res = t["result"]
            res = ",".join(res) if isinstance(res, list) else res
            print(" ".join(["T", esc(tid), esc(t.get("host")), esc(t.get("mailfrom")),
                            esc(t.get("helo")), res, esc(t.get("explanation"))]))


main()
