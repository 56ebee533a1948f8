#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""SMTP AUTH over STARTTLS: postern vs Postfix + Dovecot SASL, on loopback.

Started by bench/run.sh (ONLY_AUTH=1, or as the last part of a full run),
which installs packages, builds build-bench, compiles bench/auth-source.c
and makes the temp dir; see bench/README.md ("SMTP AUTH"). Needs root.
Standard library only; the helpers (process records, CPU of a process tree,
the certificate) come from bench.py.

Every process this script starts is recorded in TMP/pids (pid and the start
time from /proc/PID/stat) so run.sh's trap can end exactly those if this
script dies; normally they are stopped here, by PID. Nothing is written
outside TMP except the results: Postfix and Dovecot run as instances of
their own with every path (config, queue, base_dir, state_dir, logs) in TMP.
"""
import argparse
import concurrent.futures
import datetime
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402  (helpers only; its main() does not run)

log, now, median = B.log, B.now, B.median
CIPHER = B.CIPHER
DOMAIN = "bench.test"
HASH_PREFIX = "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$"

# postern log lines expected here; anything else is reported.
POSTERN_NORMAL = re.compile(
    r" (smtp connect |smtp tls ip=\S+ version=TLSv1\.3 cipher=TLS_AES_256_GCM_SHA384 |"
    r"smtp authenticated |auth ok user=\S+ ip=\S+ mechanism=PLAIN credential=password$|"
    r"auth scram-keys-made user=\S+$|"
    r"auth failed user=\S+ ip=\S+ mechanism=PLAIN credential=password reason=bad-password$|"
    r"smtp disconnect ip=\S+ reason=(quit|eof) messages=0$|"
    r"queue recovered|parent listening|parent started|parent stopping|parent stopped|"
    r"smtp stopping|smtp stopped|queue stopping|queue stopped|auth stopped|tls certificate )")
# Postfix: connections, the failed logins of the attacker (and its hang-ups).
POSTFIX_NORMAL = re.compile(
    r"postfix/(submission-bench(-cache)?/smtpd\[\d+\]: (connect from|disconnect from|"
    r"lost connection after AUTH from|warning: \S+: SASL PLAIN authentication failed: )|"
    r"postfix-script\[\d+\]: starting|master\[\d+\]: (daemon started|terminating)|"
    r"postlogd\[\d+\]: |postfix-script\[\d+\]: warning: symlink leaves directory)")
DOVECOT_UNUSUAL = re.compile(r"(Error|Fatal|Panic|Warning):")
# Dovecot's per-IP auth penalty (auth-penalty.c): 2 s doubling up to 15 s per
# failure level, all of it forgotten once 15 s pass without a failure. Longer
# than Postfix waits for an answer from Dovecot: after an attack on a Dovecot
# target we wait this long, or the next valid logins from that IP would pay.
DOVECOT_PENALTY_EXPIRE = 17.0


def run_quiet(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=kw.pop("stdin", subprocess.DEVNULL), **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}...: exit {r.returncode}: "
                           + r.stdout.decode(errors="replace")[:500])
    return r.stdout.decode(errors="replace")


def cpu_hogs(interval=1.0, threshold=0.2):
    """Other processes using at least threshold of a core over interval seconds:
    [(pid, share, command)]. Called when nothing of ours runs."""
    def snap():
        out = {}
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/stat") as f:
                    x = f.read().rsplit(")", 1)[1].split()
                out[int(d)] = (int(x[11]) + int(x[12]), x[19])
            except (OSError, ValueError, IndexError):
                pass
        return out
    a = snap()
    time.sleep(interval)
    b = snap()
    hogs = []
    for pid, (ticks, st) in b.items():
        if pid == os.getpid() or pid not in a or a[pid][1] != st:
            continue
        share = (ticks - a[pid][0]) / B.CLK_TCK / interval
        if share >= threshold:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            except OSError:
                cmd = "?"
            hogs.append((pid, share, cmd[:100]))
    return sorted(hogs, key=lambda h: -h[1])


def fmt_hogs(hogs):
    if not hogs:
        return "none"
    return ", ".join(f"pid {p} at {sh * 100:.0f}% (`{c}`)" for p, sh, c in hogs)


# ---- accounts ----

def make_accounts(tmp, n):
    """n first-login accounts plus 'repeat' (the measured client of the repeat and
    attack scenarios) and 'target' (the attacker's), each with its own random
    password, hashed with `doveadm pw -s ARGON2ID` (Dovecot's defaults:
    m=64 MiB, t=3, p=1) on every core. Returns a dict of paths and the two
    named accounts."""
    d = os.path.join(tmp, "accounts")
    os.makedirs(d)
    os.chmod(d, 0o755)
    accts = [(f"u{i:04d}@{DOMAIN}", secrets.token_urlsafe(15)) for i in range(n)]
    repeat = (f"repeat@{DOMAIN}", secrets.token_urlsafe(15))
    target = (f"target@{DOMAIN}", secrets.token_urlsafe(15))
    everyone = accts + [repeat, target]

    def pw_hash(pw):
        out = run_quiet(["doveadm", "-O", "pw", "-s", "ARGON2ID", "-p", pw]).strip()
        if not out.startswith(HASH_PREFIX):
            raise RuntimeError(f"doveadm pw gave an unexpected hash: {out[:60]}")
        return out
    t0 = now()
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        hashes = list(ex.map(pw_hash, [pw for _, pw in everyone]))
    log(f"{len(everyone)} Argon2id hashes made with doveadm pw in {now() - t0:.1f} s")
    # uid, gid and home for Dovecot's userdb (never used for SASL, but Dovecot
    # logs an error per user without them); postern's import reads user:hash only.
    lines = "".join(f"{u}:{h}:65534:65534::/nonexistent::\n" for (u, _), h in zip(everyone, hashes))
    paths = {"first": os.path.join(d, "first.txt"),       # "user password", for the client
             "dovecot": os.path.join(d, "dovecot-users"),  # passwd-file, read by Dovecot's auth
             "postern": os.path.join(d, "postern-users")}  # the same, for `postern user import`
    with open(paths["first"], "w") as f:
        os.fchmod(f.fileno(), 0o600)
        f.writelines(f"{u} {pw}\n" for u, pw in accts)
    for key, owner, group, mode in (("dovecot", "root", "dovecot", 0o640),
                                    ("postern", "postern", "postern", 0o600)):
        with open(paths[key], "w") as f:
            os.fchmod(f.fileno(), mode)
            f.write(lines)
        shutil.chown(paths[key], owner, group)
    return {"paths": paths, "repeat": repeat, "target": target, "n": n}


# ---- the servers ----

class AuthPostern:
    """postern with a submission listener (STARTTLS required, AUTH PLAIN), the
    accounts imported from the passwd-file, auth settings at their defaults.
    Restartable: a restart empties the verified-credential cache."""

    def __init__(self, args, procs, tmp, cert, accounts):
        self.args, self.procs = args, procs
        self.dir = os.path.join(tmp, "postern-auth")
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.port = B.free_port()
        self.conf = os.path.join(self.dir, "postern.conf")
        self.logpath = os.path.join(self.dir, "postern.log")
        with open(self.conf, "w") as f:
            f.write(f"""hostname bench.postern.test
state_dir {self.dir}/state
tls {{
    cert {cert[0]}
    key {cert[1]}
}}
listen 127.0.0.1:{self.port} {{
    role submission
}}
smtp {{
    max_connections 5000
    max_connections_per_ip 5000
}}
""")
        run_quiet([args.postern, "config", "check", "-c", self.conf])
        dump = run_quiet([args.postern, "config", "dump", "-c", self.conf])
        m = re.search(r"^auth \{\n(.*?)^\}", dump, re.S | re.M)
        self.auth_conf = " ".join(m.group(1).split()) if m else "?"
        out = run_quiet([args.postern, "user", "import", accounts["paths"]["postern"],
                         "-c", self.conf]).strip()
        log(f"postern: {out}")
        self.logf = open(self.logpath, "ab")
        self.p = None
        self.start()

    def start(self):
        self.p = subprocess.Popen([self.args.postern, "serve", "-c", self.conf],
                                  stdout=self.logf, stderr=self.logf, stdin=subprocess.DEVNULL)
        self.procs.add(self.p.pid, "postern (auth)")
        B.wait_port(self.port, what="postern")

    def restart(self):
        self.stop_proc()
        self.start()

    def stop_proc(self):
        if self.p is not None:
            self.procs.stop(self.p.pid, extra=B.children(self.p.pid))
            self.p = None

    def stop(self):
        self.stop_proc()
        self.logf.close()

    def cpu(self):
        return B.cpu_of_tree(self.p.pid)

    def log_offset(self):
        self.logf.flush()
        return os.path.getsize(self.logpath)

    def log_since(self, off):
        with open(self.logpath, "rb") as f:
            f.seek(off)
            return f.read().decode(errors="replace")

    @staticmethod
    def unusual(text):
        return [l for l in text.splitlines() if l and not POSTERN_NORMAL.search(l)]


class Dovecot:
    """A Dovecot instance that runs only the auth service (the baseline's
    dovecot-bench.conf with every path in TMP), its client socket in Postfix's
    private/ directory."""

    def __init__(self, procs, tmp, tag, users, socket_path, cache):
        self.procs, self.tag = procs, tag
        self.dir = os.path.join(tmp, f"dovecot-{tag}")
        for sub in ("", "run", "state"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, "dovecot.conf")
        self.logpath = os.path.join(self.dir, "dovecot.log")
        self.socket = socket_path
        with open(self.conf, "w") as f:
            f.write(f"""# written by postern bench/auth.py: the baseline's dovecot-bench.conf, paths in TMP
instance_name = dovecot-bench-{tag}
base_dir = {self.dir}/run
state_dir = {self.dir}/state
protocols =
ssl = no
log_path = {self.logpath}
auth_mechanisms = plain
disable_plaintext_auth = yes
auth_failure_delay = 2 secs
auth_cache_size = {'10M' if cache else '0'}
passdb {{
  driver = passwd-file
  args = scheme=ARGON2ID {users}
}}
userdb {{
  driver = passwd-file
  args = {users}
}}
service auth {{
  unix_listener {socket_path} {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
""")
        self.p = subprocess.Popen(["dovecot", "-F", "-c", self.conf],
                                  stdout=subprocess.DEVNULL, stderr=open(self.logpath, "ab"),
                                  stdin=subprocess.DEVNULL)
        procs.add(self.p.pid, f"dovecot {tag}")
        t_end = now() + 20
        while now() < t_end:
            if self.p.poll() is not None:
                raise RuntimeError(f"dovecot {tag} exited {self.p.returncode}; see {self.logpath}")
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.connect(socket_path)
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError(f"dovecot {tag}: no auth socket at {socket_path}")
        time.sleep(0.5)
        self.startup_unusual = [l for l in self.log_since(0).splitlines()
                                if DOVECOT_UNUSUAL.search(l)]

    def cpu(self):
        return B.cpu_of_tree(self.p.pid)

    def log_offset(self):
        return os.path.getsize(self.logpath)

    def log_since(self, off):
        with open(self.logpath, "rb") as f:
            f.seek(off)
            return f.read().decode(errors="replace")

    def stop(self):
        self.procs.stop(self.p.pid, extra=B.children(self.p.pid))


class AuthPostfix:
    """Postfix 3.7 instance (postfix -c TMP/postfix-auth/conf): the baseline
    main.cf, and master.cf's smtp service replaced by the baseline's
    submission service (STARTTLS required, AUTH via Dovecot) on a loopback
    port; with cache_row, a second one whose Dovecot has its auth cache on."""

    def __init__(self, procs, tmp, cert, accounts, cache_row):
        self.procs = procs
        self.ports = {"postfix": B.free_port()}
        if cache_row:
            self.ports["postfix-cache"] = B.free_port()
        services = {"postfix": ("submission-bench", "dovecot-nocache-auth"),
                    "postfix-cache": ("submission-bench-cache", "dovecot-cache-auth")}
        service = ""
        for key, port in self.ports.items():
            name, sock = services[key]
            service += (f"127.0.0.1:{port} inet n - n - - smtpd\n"
                        f"  -o syslog_name=postfix/{name}\n"
                        f"  -o smtpd_tls_security_level=encrypt\n"
                        f"  -o smtpd_tls_auth_only=yes\n"
                        f"  -o smtpd_tls_cert_file={cert[0]}\n"
                        f"  -o smtpd_tls_key_file={cert[1]}\n"
                        f"  -o smtpd_sasl_auth_enable=yes\n"
                        f"  -o smtpd_sasl_type=dovecot\n"
                        f"  -o smtpd_sasl_path=private/{sock}\n"
                        f"  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject\n"
                        f"  -o smtpd_recipient_restrictions=permit_sasl_authenticated,reject\n")
        self.confdir, self.spool, self.data, self.logpath = B.postfix_instance(
            os.path.join(tmp, "postfix-auth"), service, 10099, "auth.py")
        # private/: Dovecot puts its client sockets there before Postfix starts.
        private = os.path.join(self.spool, "private")
        os.makedirs(private)
        shutil.chown(private, "postfix", "root")
        os.chmod(private, 0o700)
        # Dovecot first (the sockets must be there when an smtpd first needs one).
        self.dovecots = {"postfix": Dovecot(procs, tmp, "nocache", accounts["paths"]["dovecot"],
                                            os.path.join(private, "dovecot-nocache-auth"), False)}
        if cache_row:
            self.dovecots["postfix-cache"] = Dovecot(
                procs, tmp, "cache", accounts["paths"]["dovecot"],
                os.path.join(private, "dovecot-cache-auth"), True)
        self.master = B.postfix_start(self.confdir, self.spool, self.logpath)
        procs.add(self.master, "postfix master (auth)")
        for port in self.ports.values():
            B.wait_port(port, what="postfix submission")

    def cpu(self, key):
        """Postfix (master and its children, all services) plus that row's Dovecot."""
        return B.cpu_of_tree(self.master) + self.dovecots[key].cpu()

    def log_offset(self):
        return os.path.getsize(self.logpath)

    def log_since(self, off):
        with open(self.logpath, "rb") as f:
            f.seek(off)
            return f.read().decode(errors="replace")

    @staticmethod
    def unusual(text):
        return [l for l in text.splitlines() if l and not POSTFIX_NORMAL.search(l)]

    def stop(self):
        kids = B.children(self.master)
        self.procs.stop(self.master, extra=kids)
        for d in self.dovecots.values():
            d.stop()


class Target:
    """One column of the table: a server (and its port) the clients talk to."""

    def __init__(self, key, label, port, cpu, log_offset, log_since, unusual, dovecot=None):
        self.key, self.label, self.port = key, label, port
        self.cpu, self.log_offset, self.log_since, self.unusual = cpu, log_offset, log_since, unusual
        self.dovecot = dovecot


# ---- the client ----

def client_cmd(args, port, conc, *, duration=None, count=None, accounts=None, account=None,
               wrong=False, src=None):
    cmd = [args.auth_source, "-c", str(conc), "-C", CIPHER, "-T", "60"]
    if duration:
        cmd += ["-d", f"{duration:g}"]
    if count:
        cmd += ["-n", str(count)]
    if accounts:
        cmd += ["-a", accounts]
    else:
        cmd += ["-u", account[0], "-p", account[1]]
    if wrong:
        cmd.append("-x")
    if src:
        cmd += ["-b", src]
    return cmd + [f"127.0.0.1:{port}"]


def parse_client(rc, out, err, what):
    try:
        j = json.loads(out)
    except ValueError:
        j = {"ok": 0, "failed": 0, "rate": 0.0, "wall_s": 0.0, "codes": {}, "p50_ms": -1,
             "p99_ms": -1, "auth_p50_ms": -1, "auth_p99_ms": -1, "auth_max_ms": -1,
             "max_ms": -1, "hs_p50_ms": -1, "hs_p99_ms": -1, "cpu_user_s": 0, "cpu_sys_s": 0,
             "accounts_used": 0,
             "errors": [[f"{what}: exit {rc}, no report: {err[:200]}", 1]]}
    j["rc"], j["stderr"] = rc, err
    return j


def run_client(args, cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL)
    return parse_client(r.returncode, r.stdout.decode(errors="replace"),
                        r.stderr.decode(errors="replace").strip(), "auth-source")


def measure(args, procs, t, cmd, attack=None):
    """One measured client run against target t; with attack (src, account), an
    attacker runs from ramp seconds before until the measured client is done."""
    att = None
    aoff = t.log_offset()  # the attacker's whole life, for the server's own count
    if attack:
        acmd = client_cmd(args, t.port, args.attackers, duration=args.duration + args.ramp + 120,
                          account=attack[1], wrong=True, src=attack[0])
        att = subprocess.Popen(acmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               stdin=subprocess.DEVNULL)
        procs.add(att.pid, "auth-source attacker")
        time.sleep(args.ramp)
    off = t.log_offset()
    doff = t.dovecot.log_offset() if t.dovecot else 0
    cpu0 = t.cpu()
    j = run_client(args, cmd)
    cpu1 = t.cpu()
    aj = None
    if att:
        try:
            att.send_signal(signal.SIGUSR1)
        except ProcessLookupError:
            pass
        try:
            aout, aerr = att.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            procs.stop(att.pid)
            aout, aerr = att.communicate()
        procs.started.pop(att.pid, None)
        aj = parse_client(att.returncode, aout.decode(errors="replace"),
                          aerr.decode(errors="replace").strip(), "attacker")
    time.sleep(0.3)  # late log lines (Postfix logs through postlogd)
    text = t.log_since(off)
    atext = t.log_since(aoff)
    unusual = t.unusual(text)
    if t.dovecot:
        unusual += [l for l in t.dovecot.log_since(doff).splitlines() if DOVECOT_UNUSUAL.search(l)]
    n = j["ok"] + j["failed"]
    res = {"j": j, "a": aj, "rate": j["rate"],  # successful logins / wall time
           "cpu_ms": (cpu1 - cpu0) * 1000 / j["ok"] if j["ok"] else float("nan"),
           "client_cpu_ms": ((j["cpu_user_s"] + j["cpu_sys_s"]) * 1000 / n) if n else float("nan"),
           "unusual": unusual,
           "log_ok": text.count(" auth ok "), "log_failed": atext.count(" auth failed "),
           "log_tempfail": atext.count(" auth tempfail "),
           "log_scram": text.count(" auth scram-keys-made ")}
    res["ok"] = j["failed"] == 0 and j["ok"] > 0 and not j["stderr"]
    return res


def fmt_lat(rs, p50="auth_p50_ms", p99="auth_p99_ms"):
    """Medians over the runs that had a successful login."""
    rs = [r for r in rs if r["j"][p50] >= 0]
    if not rs:
        return "n/a"
    return f"{median([r['j'][p50] for r in rs]):.1f} / {median([r['j'][p99] for r in rs]):.1f}"


def fnum(x, d=1):
    return f"{x:,.{d}f}" if x == x else "n/a"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--postern", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--auth-source", required=True, help="compiled bench/auth-source.c")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="", help="postern|postfix: skip the other side")
    ap.add_argument("--duration", type=float, default=None, help="seconds per measurement")
    ap.add_argument("--accounts", type=int, default=None, help="first-login accounts")
    ap.add_argument("--attackers", type=int, default=8, help="attacker connections")
    ap.add_argument("--ramp", type=float, default=2.0,
                    help="seconds the attacker runs before the measured client starts")
    ap.add_argument("--attack-account", choices=("other", "same"), default="other",
                    help="the attacker guesses the password of another account (default) "
                         "or of the measured client's own")
    ap.add_argument("--no-cache-row", action="store_true",
                    help="no Dovecot-with-auth-cache rows")
    args = ap.parse_args()
    if args.duration is None:
        args.duration = 3.0 if args.quick else 10.0
    if args.accounts is None:
        args.accounts = 60 if args.quick else 300

    def on_term(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    # (key, label, kind, concurrency, attacker source address or None)
    scenarios = [
        ("first1", "first logins, c=1", "first", 1, None),
        ("first4", "first logins, c=4", "first", 4, None),
        ("first16", "first logins, c=16", "first", 16, None),
        ("rep1", "repeat logins, c=1 (no attack; reference for the attack rows)", "repeat", 1, None),
        ("rep4", "repeat logins, c=4", "repeat", 4, None),
        ("rep16", "repeat logins, c=16", "repeat", 16, None),
        ("att2", f"under attack from 127.0.0.2 ({args.attackers} conns), valid c=1", "attack", 1,
         "127.0.0.2"),
        ("att1", f"under attack from 127.0.0.1 ({args.attackers} conns), valid c=1", "attack", 1,
         "127.0.0.1"),
    ]
    procs = B.Procs(args.tmp)
    os.chmod(args.tmp, 0o755)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    os.makedirs(args.results, exist_ok=True)
    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": f"{os.uname().nodename}, {os.cpu_count()} CPUs, {os.uname().release}",
        "load": " ".join(open("/proc/loadavg").read().split()[:3]),
        "postern": subprocess.run([args.postern, "version"], capture_output=True,
                                  text=True).stdout.strip() or "?",
        "postfix": subprocess.run(["postconf", "-d", "-h", "mail_version"], capture_output=True,
                                  text=True).stdout.strip(),
        "dovecot": subprocess.run(["dovecot", "--version"], capture_output=True,
                                  text=True).stdout.strip(),
    }
    info["hogs"] = cpu_hogs()
    if info["hogs"]:
        log("other processes busy on this machine: " + fmt_hogs(info["hogs"]))
    names = [n for n in ("postern", "postfix") if args.only in ("", n)]
    cache_row = "postfix" in names and not args.no_cache_row
    results = {}
    pst = pfx = None
    targets = {}
    smoke = {}
    try:
        cert = B.make_cert(args.tmp)
        accounts = make_accounts(args.tmp, args.accounts)
        rep_acct = accounts["repeat"]
        att_acct = rep_acct if args.attack_account == "same" else accounts["target"]
        if "postern" in names:
            log("starting postern (submission, STARTTLS required, AUTH)")
            pst = AuthPostern(args, procs, args.tmp, cert, accounts)
            info["postern_auth"] = pst.auth_conf
            targets["postern"] = Target("postern", "postern", pst.port, pst.cpu, pst.log_offset,
                                        pst.log_since, pst.unusual)
        if "postfix" in names:
            log("starting Dovecot (auth only) and Postfix (submission with Dovecot SASL)")
            pfx = AuthPostfix(procs, args.tmp, cert, accounts, cache_row)
            for key in pfx.ports:
                targets[key] = Target(
                    key, "Postfix + Dovecot" + (" (auth cache 10M)" if key != "postfix" else ""),
                    pfx.ports[key], (lambda k=key: pfx.cpu(k)), pfx.log_offset, pfx.log_since,
                    pfx.unusual, dovecot=pfx.dovecots[key])
        for sc in scenarios:
            results[sc[0]] = {k: [] for k in targets}

        # Smoke: a valid login (235) and a wrong password (535) on every target.
        for key, t in targets.items():
            j = run_client(args, client_cmd(args, t.port, 1, count=2, account=rep_acct))
            # (from 127.0.0.2: Dovecot would hold a failure from 127.0.0.1 against
            # the valid logins that follow, see DOVECOT_PENALTY_EXPIRE)
            k = run_client(args, client_cmd(args, t.port, 1, count=1, account=att_acct,
                                            wrong=True, src="127.0.0.2"))
            if j["ok"] != 2 or j["failed"] or k["ok"] != 1 or k["failed"]:
                raise RuntimeError(f"smoke test: {t.label}: valid logins {j['ok']}/2 "
                                   f"({j['errors']}), wrong password answered 535: "
                                   f"{k['ok']}/1 ({k['errors']})")
            smoke[key] = (j, k)
            log(f"smoke ok: {t.label}: 235 for a valid login "
                f"(AUTH {j['auth_max_ms']:.0f} ms), 535 for a wrong password "
                f"(AUTH {k['auth_max_ms']:.0f} ms)")

        # postern: every first-login account logs in once before the runs (untimed).
        # An imported account gets its SCRAM keys (PBKDF2, scram_iterations) at its
        # first password login; after this pass every run measures the same thing,
        # the Argon2id check of an account that is not in the cache.
        if pst is not None:
            off = pst.log_offset()
            t0 = now()
            conc = os.cpu_count() or 2
            j = run_client(args, client_cmd(args, pst.port, conc,
                                            accounts=accounts["paths"]["first"]))
            el = now() - t0
            nscram = pst.log_since(off).count(" auth scram-keys-made ")
            info["prime"] = (conc, j["ok"], j["failed"], el, nscram, j["auth_p50_ms"])
            log(f"postern priming pass: {j['ok']} logins ({j['failed']} failed) at c={conc} "
                f"in {el:.1f} s, {nscram} scram-keys-made, AUTH p50 {j['auth_p50_ms']:.0f} ms")
            pst.restart()

        for run in range(args.runs):
            order = list(targets) if run % 2 == 0 else list(reversed(targets))
            for key, label, kind, conc, src in scenarios:
                for name in order:
                    t = targets[name]
                    if kind != "repeat" and name == "postfix-cache":
                        continue
                    if kind == "first":
                        if name == "postern":
                            pst.restart()  # an empty verified-credential cache
                        # warm-up (untimed): TLS, and for Postfix the smtpd processes;
                        # the repeat account, never one of the first-login ones
                        run_client(args, client_cmd(args, t.port, conc, count=conc,
                                                    account=rep_acct))
                        cmd = client_cmd(args, t.port, conc, duration=args.duration,
                                         accounts=accounts["paths"]["first"])
                        r = measure(args, procs, t, cmd)
                    else:
                        # warm-up (untimed): the account's first login costs a hash and
                        # fills postern's cache (and Dovecot's, when on); Postfix forks
                        # its smtpd processes
                        run_client(args, client_cmd(args, t.port, conc, count=2 * conc,
                                                    account=rep_acct))
                        cmd = client_cmd(args, t.port, conc, duration=args.duration,
                                         account=rep_acct)
                        r = measure(args, procs, t, cmd,
                                    attack=(src, att_acct) if kind == "attack" else None)
                    results[key][name].append(r)
                    j, a = r["j"], r["a"]
                    log(f"run {run + 1}/{args.runs} {label[:44]:44s} {name:13s} "
                        f"{j['rate']:7.1f} logins/s  ok={j['ok']} failed={j['failed']}  "
                        f"AUTH p50 {j['auth_p50_ms']:.1f} p99 {j['auth_p99_ms']:.1f} ms  "
                        f"login p50 {j['p50_ms']:.1f} p99 {j['p99_ms']:.1f} ms  "
                        f"cpu {r['cpu_ms']:.1f} ms/login  client {r['client_cpu_ms']:.2f} ms/login"
                        + (f"  attacker {a['codes']} in {a['wall_s']:.1f} s" if a else "")
                        + (f"  errors: {j['errors'][:3]}" if j['errors'] else ""))
                    if kind == "attack" and t.dovecot is not None:
                        log(f"waiting {DOVECOT_PENALTY_EXPIRE:g} s for Dovecot's auth penalty "
                            f"on {src} to expire")
                        time.sleep(DOVECOT_PENALTY_EXPIRE)
                    time.sleep(1)
        info["load_end"] = " ".join(open("/proc/loadavg").read().split()[:3])
    finally:
        for x in (pst, pfx):
            if x is not None:
                try:
                    x.stop()
                except Exception as e:  # keep stopping the rest
                    log(f"stopping: {e}")
    info["hogs_end"] = cpu_hogs()

    # ---- report ----
    lines = []
    w = lines.append
    w(f"## SMTP AUTH PLAIN over STARTTLS: postern vs Postfix + Dovecot SASL, loopback, "
      f"{args.runs} run(s) of {args.duration:g} s per cell, medians")
    w("")
    w(f"{info['date']} · {info['host']} · load avg at start {info['load']}, at end "
      f"{info.get('load_end', '?')} · {info['postern']} (build-bench, release) · "
      f"Postfix {info['postfix']} · Dovecot {info['dovecot']}")
    w("")
    w(f"Other processes using >= 20% of a core (1 s sample, nothing of ours running): "
      f"at start {fmt_hogs(info['hogs'])}; at end {fmt_hogs(info['hogs_end'])}.")
    w("")
    w("Every login is a new connection: connect, EHLO, STARTTLS, TLS 1.3 handshake "
      f"({CIPHER}, no resumption), EHLO, AUTH PLAIN (initial response), 235, QUIT. "
      "Client: `bench/auth-source.c` (C, one blocking thread per connection) on the same "
      "two cores. Hashes: Argon2id m=64 MiB, t=3, p=1 on both sides (`doveadm pw -s "
      "ARGON2ID`, imported into postern with `postern user import`). postern: submission "
      f"listener, auth settings at their defaults (`{info.get('postern_auth', '?')}`), "
      "restarted before every first-logins measurement (empty cache). Dovecot 2.3: the "
      "baseline's auth-only config (passwd-file, `auth_failure_delay = 2 secs`, "
      "`auth_cache_size = 0`; the *auth cache* rows: a second instance with 10M), "
      "Postfix: the baseline's submission service (STARTTLS required, "
      "`smtpd_sasl_type = dovecot`).")
    w("")
    w(f"*first logins*: every login a different account ({accounts['n']} accounts, each used "
      "at most once per measurement; the run ends early if they run out). *repeat logins*: one "
      "account over and over (after an untimed warm-up). *under attack*: "
      f"{args.attackers} attacker connections loop AUTH PLAIN with a wrong password (a new one "
      f"each time) for {'the measured account itself' if args.attack_account == 'same' else 'another valid account'}, "
      f"closing and reconnecting after each 535, from {args.ramp:g} s before until after the "
      "measured client (one connection, valid logins of one account from 127.0.0.1) is done.")
    if "prime" in info:
        conc, ok, failed, el, nscram, p50 = info["prime"]
        w("")
        w(f"Before the runs, every first-login account logged in to postern once (untimed, "
          f"c={conc}): {ok} logins ({failed} failed) in {el:.1f} s = {ok / el:.1f}/s, AUTH p50 "
          f"{p50:.0f} ms, {nscram} `auth scram-keys-made` (an imported account gets its SCRAM "
          "keys, PBKDF2 with `scram_iterations`, at its first password login); postern was "
          "restarted after it, so the cache is empty and the first-logins rows measure the "
          "Argon2id check alone.")
    w("")
    w("| scenario | postern logins/s | Postfix + Dovecot logins/s | postern / Postfix (same run) "
      "| postern AUTH p50 / p99 ms | Postfix AUTH p50 / p99 ms "
      "| postern login p50 / p99 ms | Postfix login p50 / p99 ms "
      "| server CPU ms/login (postern / Postfix+Dovecot) | client CPU ms/login | failed logins |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    attack_rows = []
    for key, label, kind, conc, src in scenarios:
        cols = ["postfix"] + (["postfix-cache"] if kind == "repeat" and cache_row else [])
        for col in cols:
            rp = results.get(key, {}).get("postern", [])
            rf = results.get(key, {}).get(col, [])
            if not rp and not rf:
                continue
            rl = label + (" — Dovecot auth cache 10M" if col == "postfix-cache" else "")
            mp = median([r["rate"] for r in rp])
            mf = median([r["rate"] for r in rf])
            ratios = [a["rate"] / b["rate"] for a, b in zip(rp, rf) if b["rate"] > 0]
            mr = median(ratios)
            rtxt = (f"**{mr:.2f}x** ({min(ratios):.2f}-{max(ratios):.2f})" if len(ratios) > 1
                    else (f"**{mr:.2f}x**" if ratios else "n/a"))
            fails = []
            for nm, rs in (("postern", rp), ("Postfix", rf)):
                nf = sum(r["j"]["failed"] for r in rs)
                nok = sum(r["j"]["ok"] for r in rs)
                codes = {}
                for r in rs:
                    for c, v in r["j"]["codes"].items():
                        if c != "235" and v:
                            codes[c] = codes.get(c, 0) + v
                if rs:
                    fails.append(f"{nm} {nf}/{nok + nf}"
                                 + (" (" + ", ".join(f"{v}x {c}" for c, v in codes.items()) + ")"
                                    if codes else ""))
            cpu = (f"{fnum(median([r['cpu_ms'] for r in rp if r['cpu_ms'] == r['cpu_ms']]))} / "
                   f"{fnum(median([r['cpu_ms'] for r in rf if r['cpu_ms'] == r['cpu_ms']]))}")
            ccpu = (f"{fnum(median([r['client_cpu_ms'] for r in rp]), 2)} / "
                    f"{fnum(median([r['client_cpu_ms'] for r in rf]), 2)}")
            w(f"| {rl} | {fnum(mp)} | {fnum(mf)} | {rtxt} | {fmt_lat(rp)} | {fmt_lat(rf)} "
              f"| {fmt_lat(rp, 'p50_ms', 'p99_ms')} | {fmt_lat(rf, 'p50_ms', 'p99_ms')} "
              f"| {cpu} | {ccpu} | {'; '.join(fails)} |")
            if kind == "attack":
                attack_rows.append((label, rp, rf))
    if attack_rows:
        w("")
        w("Attackers during the *under attack* rows (all runs; attempts/s = answered attempts / "
          "the attacker's lifetime, which starts "
          f"{args.ramp:g} s before the measured client):")
        w("")
        w("| scenario | server | attempts/s | 535 | 454 | other / failed | attacker AUTH p50 / p99 ms "
          "| postern log: auth failed / tempfail |")
        w("|---|---|---:|---:|---:|---:|---:|---|")
        for label, rp, rf in attack_rows:
            for nm, rs in (("postern", rp), ("Postfix + Dovecot", rf)):
                As = [r["a"] for r in rs if r["a"]]
                if not As:
                    continue
                rate = median([(a["codes"].get("535", 0) + a["codes"].get("454", 0)
                                + a["codes"].get("other", 0)) / a["wall_s"]
                               for a in As if a["wall_s"] > 0])
                c535 = sum(a["codes"].get("535", 0) for a in As)
                c454 = sum(a["codes"].get("454", 0) for a in As)
                coth = sum(a["codes"].get("other", 0) for a in As)
                afail = sum(a["failed"] for a in As) - c454 - coth
                lat = (f"{median([a['auth_p50_ms'] for a in As]):.0f} / "
                       f"{median([a['auth_p99_ms'] for a in As]):.0f}")
                lg = (f"{sum(r['log_failed'] for r in rs)} / {sum(r['log_tempfail'] for r in rs)}"
                      if nm == "postern" else "-")
                w(f"| {label} | {nm} | {rate:,.1f} | {c535:,} | {c454:,} | {coth} / {afail} "
                  f"| {lat} | {lg} |")
    # notes: failures, unusual log lines, client errors
    notes = []
    for key, label, *_ in scenarios:
        for name, rs in results.get(key, {}).items():
            for i, r in enumerate(rs):
                j, a = r["j"], r["a"]
                if j["errors"]:
                    notes.append(f"- {name} {label} run {i + 1}: client failures: "
                                 + ", ".join(f"`{e}` x{n}" for e, n in j["errors"][:5]))
                if j["stderr"]:
                    notes.append(f"- {name} {label} run {i + 1}: client said `{j['stderr'][:200]}`")
                if a and a["errors"]:
                    notes.append(f"- {name} {label} run {i + 1}: attacker got: "
                                 + ", ".join(f"`{e}` x{n}" for e, n in a["errors"][:5]))
                if r["unusual"]:
                    notes.append(f"- {name} {label} run {i + 1}: {len(r['unusual'])} unusual "
                                 f"log line(s), e.g. `{r['unusual'][0][:300]}`")
                if name == "postern" and r["log_ok"] != j["codes"].get("235", 0):
                    notes.append(f"- postern {label} run {i + 1}: log has {r['log_ok']} `auth ok`, "
                                 f"the client got {j['codes'].get('235', 0)} 235s")
                if name == "postern" and r["log_scram"]:
                    notes.append(f"- postern {label} run {i + 1}: {r['log_scram']} "
                                 "`auth scram-keys-made` during the measurement")
    if pfx is not None:
        for d in pfx.dovecots.values():
            if d.startup_unusual:
                notes.append(f"- Dovecot ({d.tag}) at start: {len(d.startup_unusual)} "
                             f"error/warning line(s), e.g. `{d.startup_unusual[0][:300]}`")
    w("")
    w("Log check: " + ("no unusual log lines, no failed logins." if not notes
                       else f"{len(notes)} finding(s):"))
    lines.extend(notes)

    raw = ["", f"### Per-run figures (logins/s; AUTH p50 / p99 ms; server CPU ms/login)", "",
           "| scenario | run | " + " | ".join(f"{targets[k].label} logins/s | AUTH ms | CPU"
                                           for k in targets) + " |",
           "|---|---:|" + "---:|---:|---:|" * len(targets)]
    for key, label, *_ in scenarios:
        n = max((len(v) for v in results.get(key, {}).values()), default=0)
        for i in range(n):
            cells = []
            for k in targets:
                rs = results[key].get(k, [])
                if i < len(rs):
                    r = rs[i]
                    flag = ("" if r["ok"] else f" ({r['j']['failed']} failed)" if key.startswith("att")
                            else " **bad**")
                    cells += [fnum(r["rate"]) + flag,
                              f"{r['j']['auth_p50_ms']:.1f} / {r['j']['auth_p99_ms']:.1f}",
                              fnum(r["cpu_ms"])]
                else:
                    cells += ["", "", ""]
            raw.append(f"| {label} | {i + 1} | " + " | ".join(cells) + " |")
    table = "\n".join(lines)
    print(table + "\n" + "\n".join(raw), flush=True)
    out = os.path.join(args.results, f"auth-{stamp}.md")
    with open(out, "w") as f:
        f.write(table + "\n" + "\n".join(raw) + "\n")
    with open(os.path.join(args.results, f"auth-{stamp}-logs.txt"), "w") as f:
        for key, label, *_ in scenarios:
            for name, rs in results.get(key, {}).items():
                for i, r in enumerate(rs):
                    for l in r["unusual"][:200]:
                        f.write(f"[{name} {label} run {i + 1}] {l}\n")
    log(f"results written to {out}")
    # Failed valid logins under attack are a result (see the table), not a broken run.
    bad = any(not r["ok"] for k in results if not k.startswith("att")
              for n in results[k] for r in results[k][n])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
