# SPDX-License-Identifier: ISC
"""dkimpy as an oracle for our DKIM code, with no DNS at all: key records
come from a zone file ("<name> <TXT value>" lines) through dkimpy's dnsfunc
hook. Run with /usr/bin/python3 (Debian's python3-dkim, python3-nacl).

  dkimpy_helper.py verify ZONE MSG
      prints "N pass|fail [error]" per DKIM-Signature; exit 0 if all pass
  dkimpy_helper.py sign rsa|ed25519 relaxed|simple DOMAIN SELECTOR KEY MSG [length]
      writes MSG with dkimpy's signature prepended
"""
import sys

import dkim


def load_zone(path):
    zone = {}
    for line in open(path):
        line = line.strip()
        if line and not line.startswith("#"):
            name, value = line.split(None, 1)
            zone[name.rstrip(".").lower() + "."] = value.encode()
    return zone


def verify(zone_path, msg_path):
    zone = load_zone(zone_path)
    msg = open(msg_path, "rb").read()
    d = dkim.DKIM(msg, minkey=1024)
    n = sum(1 for h in d.headers if h[0].lower() == b"dkim-signature")
    ok = n > 0
    for i in range(n):
        try:
            r = d.verify(idx=i, dnsfunc=lambda name, timeout=5: zone.get(name.decode().lower()))
            print(i, "pass" if r else "fail")
        except dkim.DKIMException as e:
            r = False
            print(i, "fail", e)
        ok = ok and bool(r)
    return 0 if ok else 1


def sign(alg, canon, domain, selector, key_path, msg_path, length=False):
    msg = open(msg_path, "rb").read()
    key = open(key_path, "rb").read()
    sig = dkim.sign(msg, selector.encode(), domain.encode(), key,
                    canonicalize=(canon.encode(), canon.encode()),
                    signature_algorithm=b"ed25519-sha256" if alg == "ed25519" else b"rsa-sha256",
                    length=length)
    sys.stdout.buffer.write(sig + msg)
    return 0


def main(argv):
    if len(argv) == 4 and argv[1] == "verify":
        return verify(argv[2], argv[3])
    if len(argv) in (8, 9) and argv[1] == "sign":
        return sign(*argv[2:8], length=len(argv) == 9)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
