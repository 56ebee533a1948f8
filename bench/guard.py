#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""The guard's cost and capacity, on loopback: how many connections per
second postern turns away from a banned address, and what the guard adds to
an allowed connection and to a whole SMTP session, side by side with a
second postern whose guard is off (`guard { enabled no }`).

Started by bench/run.sh (ONLY_GUARD=1, or after the other parts unless
GUARD=0), which builds build-bench and compiles bench/conn-source.c and
bench/tls-source.c; see bench/README.md ("The guard"). Both instances run
at once and the measurements alternate between them, so the machine's
noise falls on both; medians of RUNS are quoted, and the ratio on / off.
Every process started here is recorded in TMP/pids and stopped by PID.
"""
import argparse
import datetime
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402  (helpers only)

log, now, median = B.log, B.now, B.median
DOMAIN = "bench.test"
BANNED = "127.0.5.1"   # banned on the guarded instance
ALLOWED = "127.0.6.1"  # a client the guard lets in (not trusted: every check runs)


class Instance:
    def __init__(self, args, procs, tmp, sink_port, tag, guard):
        self.dir = os.path.join(tmp, f"postern-{tag}")
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.port = B.free_port()
        self.conf = os.path.join(self.dir, "postern.conf")
        # Rate limits far above the load (they are counted, never hit);
        # everything else as shipped: bans, abuse scoring, the pregreet
        # test with its pass list (the first connection waits 2 s).
        body = ("guard {\n    conn_rate 1000000000\n    auth_rate 1000000000\n}\n" if guard
                else "guard {\n    enabled no\n}\n")
        with open(self.conf, "w") as f:
            f.write(f"hostname bench.postern.test\nstate_dir {self.dir}/state\n"
                    f"listen 127.0.0.1:{self.port} {{\n    role mx\n}}\n"
                    f"domain {DOMAIN} {{\n    deliver smtp://127.0.0.1:{sink_port}\n}}\n"
                    "smtp {\n    max_connections 5000\n    max_connections_per_ip 5000\n}\n"
                    + body)
        subprocess.run([args.postern, "config", "check", "-c", self.conf], check=True,
                       stdout=subprocess.DEVNULL)
        self.logf = open(os.path.join(self.dir, "postern.log"), "ab")
        self.p = subprocess.Popen([args.postern, "serve", "-c", self.conf], stdout=self.logf,
                                  stderr=self.logf, stdin=subprocess.DEVNULL)
        procs.add(self.p.pid, f"postern {tag}")
        self.procs = procs
        B.wait_port(self.port, what=f"postern {tag}")

    def cpu(self):
        return B.cpu_of_tree(self.p.pid)

    def stop(self):
        self.procs.stop(self.p.pid)
        self.logf.close()


def conn_source(args, port, src, conc, secs):
    r = subprocess.run([args.conn_source, "-c", str(conc), "-d", str(secs), "-b", src,
                        f"127.0.0.1:{port}"], capture_output=True, text=True)
    return json.loads(r.stdout)


def sessions(args, port, conc, count):
    r = subprocess.run([args.tls_source, "-P", "-c", str(conc), "-n", str(count), "-s", "4096",
                        "-f", "a@example.test", "-t", f"b@{DOMAIN}", "-T", "60",
                        f"127.0.0.1:{port}"], capture_output=True, text=True)
    return json.loads(r.stdout)


def measure(inst, fn):
    """fn() under inst, with the CPU all of inst's processes used."""
    c0 = inst.cpu()
    r = fn()
    r["cpu_s"] = inst.cpu() - c0
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--postern", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--conn-source", required=True)
    ap.add_argument("--tls-source", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    secs = 2 if args.quick else 5
    nsess = 500 if args.quick else 2000
    procs = B.Procs(args.tmp)
    os.makedirs(args.results, exist_ok=True)
    sink = B.Sink(procs, B.free_port(), "guard")
    on = off = None
    rows = {k: {"on": [], "off": []} for k in ("refused", "greeted", "session")}
    try:
        on = Instance(args, procs, args.tmp, sink.port, "guard-on", True)
        off = Instance(args, procs, args.tmp, sink.port, "guard-off", False)
        out = subprocess.run([args.postern, "ban", "add", BANNED, "--for", "1h", "-c", on.conf],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError("postern ban add: " + out.stderr)
        # The ban reaches the smtp process within a second; the first allowed
        # connection to each instance waits for the pregreet test once.
        t_end = now() + 10
        while now() < t_end and conn_source(args, on.port, BANNED, 1, 0.2)["codes"]["4"] == 0:
            pass
        for inst in (on, off):
            conn_source(args, inst.port, ALLOWED, 1, 3)
            sessions(args, inst.port, 1, 5)
        for run in range(args.runs):
            log(f"guard bench run {run + 1}/{args.runs}")
            rows["refused"]["on"].append(measure(on, lambda: conn_source(
                args, on.port, BANNED, 8, secs)))
            for tag, inst in (("on", on), ("off", off)) if run % 2 == 0 else \
                    (("off", off), ("on", on)):
                rows["greeted"][tag].append(measure(inst, lambda: conn_source(
                    args, inst.port, ALLOWED, 8, secs)))
                rows["session"][tag].append(measure(inst, lambda: sessions(
                    args, inst.port, 20, nsess)))
    finally:
        for inst in (on, off):
            if inst is not None:
                inst.stop()
        sink.stop()

    def med(key, tag, field):
        xs = [r[field] for r in rows[key][tag]]
        return median(xs) if xs else None

    def cpu_us(key, tag, count_field):
        xs = [r["cpu_s"] * 1e6 / max(r[count_field], 1) for r in rows[key][tag]]
        return median(xs) if xs else None

    refused = rows["refused"]["on"]
    bad = [r for r in refused if r["codes"]["4"] != r["conns"]]
    table = [
        "| measurement | guard on | guard off | on / off |",
        "|---|---:|---:|---:|",
        f"| connections turned away from a banned address, /s (c=8) | "
        f"{med('refused', 'on', 'rate'):.0f} | n/a | |",
        f"| ... connect to 421, p50 / p99 ms | {med('refused', 'on', 'p50_ms'):.2f} / "
        f"{med('refused', 'on', 'p99_ms'):.2f} | | |",
        f"| ... postern CPU per refused connection, us | {cpu_us('refused', 'on', 'conns'):.0f}"
        " | | |",
    ]
    g_on, g_off = med("greeted", "on", "rate"), med("greeted", "off", "rate")
    table.append(f"| connections greeted (220) and closed, /s (c=8) | {g_on:.0f} | {g_off:.0f} | "
                 f"{g_on / g_off:.2f} |")
    c_on, c_off = cpu_us("greeted", "on", "conns"), cpu_us("greeted", "off", "conns")
    table.append(f"| ... postern CPU per greeted connection, us | {c_on:.0f} | {c_off:.0f} | "
                 f"{c_on / c_off:.2f} |")
    s_on, s_off = med("session", "on", "rate"), med("session", "off", "rate")
    table.append(f"| SMTP sessions with one 4 KiB message, /s (c=20) | {s_on:.0f} | {s_off:.0f} | "
                 f"{s_on / s_off:.2f} |")
    table.append(f"| ... session p50 / p99 ms | {med('session', 'on', 'p50_ms'):.1f} / "
                 f"{med('session', 'on', 'p99_ms'):.1f} | {med('session', 'off', 'p50_ms'):.1f} / "
                 f"{med('session', 'off', 'p99_ms'):.1f} | |")
    c_on, c_off = cpu_us("session", "on", "ok"), cpu_us("session", "off", "ok")
    table.append(f"| ... postern CPU per session (all processes), us | {c_on:.0f} | {c_off:.0f} | "
                 f"{c_on / c_off:.2f} |")
    text = "\n".join(table)
    print(text)
    if bad:
        print(f"\nWARNING: {len(bad)} refused-connection runs saw replies other than 4xx")
    failed = sum(r["failed"] for k in ("greeted", "session") for t in ("on", "off")
                 for r in rows[k][t])
    if failed:
        print(f"\nWARNING: {failed} connections or sessions failed")
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(args.results, f"guard-{stamp}.md"), "w") as f:
        f.write(f"# guard bench {stamp}, runs={args.runs}, medians\n\n{text}\n")
    with open(os.path.join(args.results, f"guard-{stamp}.json"), "w") as f:
        json.dump(rows, f, indent=1)
    return 1 if bad or failed else 0


if __name__ == "__main__":
    sys.exit(main())
