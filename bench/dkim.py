#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""DKIM signatures and verifications per second, next to the raw public-key
operations: `dkim-bench` (bench/dkim-bench.c, built by meson) times
dkim_sign() and dkim_verify_*() and, in the same process and the same
rounds, the raw EVP operations they wrap; `openssl speed -seconds S rsa2048
ed25519` runs before and after it, for the figures people know.

Started by bench/run.sh (ONLY_DKIM=1, or after the other parts unless
DKIM=0), which builds build-bench; see bench/README.md ("DKIM"). No daemon,
no network, no root. One table to stdout and bench/results/dkim-DATE.md, the
raw figures in dkim-DATE.json.
"""
import argparse
import datetime
import json
import math
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402  (helpers only)

log, median = B.log, B.median
GOAL = 0.85  # the issue: DKIM within 15% of the raw crypto, 4 KiB messages
ALGS = (("rsa-sha256", "RSA-2048", "rsa"), ("ed25519-sha256", "Ed25519", "ed25519"))

# "rsa 2048 bits 0.000885s 0.000027s   1130.5  37086.4"
# " 253 bits EdDSA (Ed25519)   0.0001s   0.0001s  15041.2   6837.0"
SPEED_RE = {
    "rsa": re.compile(r"^rsa\s+2048 bits\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)\s*$"),
    "ed25519": re.compile(r"^\s*253 bits EdDSA \(Ed25519\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)\s*$"),
}


def openssl_speed(secs):
    """sign/s and verify/s per algorithm from one `openssl speed` run."""
    log(f"openssl speed -seconds {secs} rsa2048 ed25519")
    r = subprocess.run(["openssl", "speed", "-seconds", str(secs), "rsa2048", "ed25519"],
                       capture_output=True, text=True, check=True)
    out = {}
    for line in r.stdout.splitlines():
        for key, rx in SPEED_RE.items():
            m = rx.match(line)
            if m:
                out[key] = {"sign": float(m.group(1)), "verify": float(m.group(2))}
    if set(out) != set(SPEED_RE):
        raise RuntimeError("cannot parse openssl speed output:\n" + r.stdout)
    return out


def dkim_bench(args):
    cmd = [args.bench, "-t", str(args.seconds), "-r", str(args.rounds), "-P", "-B"]
    log(" ".join(cmd))
    r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
    cells = {}
    for line in r.stdout.splitlines():
        c = json.loads(line)
        cells[(c["alg"], c["op"], c["size"])] = c
    return cells


def same_round(cells, a, b):
    """Median and range of the per-round ratios of cell a's rate to b's."""
    xs = [x / y for x, y in zip(cells[a]["rates"], cells[b]["rates"])]
    return median(xs), min(xs), max(xs)


def size_name(n):
    return f"{n // 1024} KiB" if n % 1024 == 0 else f"{n} B"


def fmt_ratio(r, goal=False):
    """A same-round ratio; against the goal with three decimals and a mark."""
    med, lo, hi = r
    if goal:  # three decimals, rounded down: 0.8497 is not shown as 0.850
        return f"{math.floor(med * 1000) / 1000:.3f} ({lo:.2f}-{hi:.2f}) " + \
            ("✓" if med >= GOAL else "✗")
    return f"{med:.2f} ({lo:.2f}-{hi:.2f})"


def main_table(cells, speed, sizes):
    w = ["| algorithm | message | sign/s | verify/s | verify/s, key cached "
         "| openssl sign/s | openssl verify/s | sign / raw | verify / raw | "
         "cached / raw | sign / openssl | verify / openssl | cached / openssl |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for alg, name, key in ALGS:
        o = speed[key]
        for size in sizes:
            def rate(op):
                return cells[(alg, op, size)]["median"]

            def raw(op, raw_op):
                return same_round(cells, (alg, op, size), (alg, raw_op, 0))

            goal = size == 4096
            w.append(
                f"| {name} | {size_name(size)} | {rate('sign'):.0f} | {rate('verify'):.0f} | "
                f"{rate('verify-cached'):.0f} | {o['sign']:.0f} | {o['verify']:.0f} | "
                f"{fmt_ratio(raw('sign', 'raw-sign'), goal)} | "
                f"{fmt_ratio(raw('verify', 'raw-verify'), goal)} | "
                f"{fmt_ratio(raw('verify-cached', 'raw-verify'), goal)} | "
                f"{rate('sign') / o['sign']:.2f} | {rate('verify') / o['verify']:.2f} | "
                f"{rate('verify-cached') / o['verify']:.2f} |")
    return w


def detail_table(cells, sizes):
    """Where the time goes: CPU time per operation (medians), in us."""
    w = ["| algorithm | message | raw sign | sign | sign, key from PEM | raw verify | verify "
         "| verify, key cached | body: canonicalize | body: + SHA-256 |",
         "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for alg, name, _ in ALGS:
        for size in sizes:
            def us(op, sz=size, a=alg):
                c = cells.get((a, op, sz))
                return f"{c['cpu_us_median']:.1f}" if c else ""

            w.append(f"| {name} | {size_name(size)} | {us('raw-sign', 0)} | {us('sign')} | "
                     f"{us('sign-pem')} | {us('raw-verify', 0)} | {us('verify')} | "
                     f"{us('verify-cached')} | {us('canon', a='rsa-sha256')} | "
                     f"{us('body-hash', a='rsa-sha256')} |")
    return w


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True, help="the dkim-bench executable")
    ap.add_argument("--results", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.0, help="per cell and round")
    ap.add_argument("--openssl-seconds", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.openssl_seconds = min(args.seconds, 0.3), 1
    os.makedirs(args.results, exist_ok=True)
    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": f"{os.uname().nodename}, {os.cpu_count()} CPUs, {os.uname().release}",
        "cpu": next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                     if ln.startswith("model name")), "?"),
        "openssl": subprocess.run(["openssl", "version"], capture_output=True,
                                  text=True).stdout.strip(),
        "load": " ".join(open("/proc/loadavg").read().split()[:3]),
        "postern": subprocess.run(
            ["git", "-C", os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
             "describe", "--always", "--dirty"], capture_output=True, text=True).stdout.strip(),
    }
    # openssl speed before and after dkim-bench: the median of the two
    speeds = [openssl_speed(args.openssl_seconds)]
    cells = dkim_bench(args)
    speeds.append(openssl_speed(args.openssl_seconds))
    info["load_end"] = " ".join(open("/proc/loadavg").read().split()[:3])
    speed = {k: {op: median([s[k][op] for s in speeds]) for op in ("sign", "verify")}
             for k in SPEED_RE}
    sizes = sorted({size for (_, op, size) in cells if op == "sign"})
    canon = next(iter(cells.values()))["canon"]
    lines = [
        f"# DKIM bench {info['date']}",
        "",
        f"{info['host']} · {info['cpu']} · {info['openssl']} · postern {info['postern']} · "
        f"load avg {info['load']} -> {info['load_end']}",
        "",
        f"dkim-bench: {args.rounds} rounds x {args.seconds:g} s per cell, in 25 ms slices "
        f"taking turns; c={canon}; medians. openssl speed -seconds {args.openssl_seconds}: "
        "median of a run before and one after. Ratios \"/ raw\" are dkim-bench's own raw EVP "
        "operations in the same rounds (median of the per-round ratios, range in brackets); "
        f"goal (4 KiB): >= {GOAL:.2f}.",
        "",
    ]
    lines += main_table(cells, speed, sizes)
    lines += ["", "CPU time per operation, us (medians; body columns: the message body alone, "
              "the same for both algorithms):", ""]
    lines += detail_table(cells, sizes)
    text = "\n".join(lines)
    print(text)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(args.results, f"dkim-{stamp}.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(args.results, f"dkim-{stamp}.json"), "w") as f:
        json.dump({"info": info, "openssl_speed": speeds,
                   "dkim_bench": list(cells.values())}, f, indent=1)
    log(f"dkim bench: results in {args.results}/dkim-{stamp}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
