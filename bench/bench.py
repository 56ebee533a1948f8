#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""postern vs Postfix on loopback: throughput, time to sink, idle memory.

Started by bench/run.sh (which installs packages, builds build-bench and
makes the temp dir); see bench/README.md. Needs root. Standard library only.

Every process this script starts is recorded in TMP/pids (pid and the
start time from /proc/PID/stat) so run.sh's trap can end exactly those if
this script dies; normally they are stopped here, by PID.
"""
import argparse
import datetime
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

MSG_FROM = "a@example.test"
MSG_TO = "b@example.test"

# postern log lines we expect under load; anything else is reported.
POSTERN_NORMAL = re.compile(
    r" (smtp connect|smtp disconnect ip=\S+ reason=quit|smtp accepted|queue queued|"
    r"smtp disconnect ip=\S+ reason=eof messages=0|"
    r"relay sent|queue removed reason=done|queue recovered|parent listening|parent started|"
    r"parent stopping|parent stopped|smtp stopping|queue stopping|"
    r"smtp tls ip=\S+ version=TLSv1\.3 cipher=TLS_AES_256_GCM_SHA384 )\b")
POSTFIX_NORMAL = re.compile(
    r"postfix/((?:tls-bench/)?smtpd\[\d+\]: (connect from|disconnect from|[0-9A-F]+: client=)|"
    r"tls-bench/smtpd\[\d+\]: Anonymous TLS connection established from \S+: "
    r"TLSv1\.3 with cipher TLS_AES_256_GCM_SHA384 |"
    r"cleanup\[\d+\]: [0-9A-F]+: message-id=|"
    r"qmgr\[\d+\]: [0-9A-F]+: (from=|removed)|"
    r"smtp\[\d+\]: [0-9A-F]+: to=<[^>]*>.*status=sent|"
    r"postfix-script\[\d+\]: starting|master\[\d+\]: (daemon started|terminating)|"
    r"postlogd\[\d+\]: |"
    r"postfix-script\[\d+\]: warning: symlink leaves directory)")


# One line per TLS session in each MTA's log (postern always logs it; Postfix with
# smtpd_tls_loglevel=1): (any TLS session, TLS 1.3 with the cipher we asked for).
POSTERN_TLS = (re.compile(r" smtp tls ip="),
               re.compile(r" smtp tls ip=\S+ version=TLSv1\.3 cipher=TLS_AES_256_GCM_SHA384 "))
POSTFIX_TLS = (re.compile(r"TLS connection established from"),
               re.compile(r"TLS connection established from \S+: TLSv1\.3 with cipher "
                          r"TLS_AES_256_GCM_SHA384 "))
CIPHER = "TLS_AES_256_GCM_SHA384"


def log(*a):
    print("bench:", *a, file=sys.stderr, flush=True)


def now():
    return time.monotonic()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def proc_starttime(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except OSError:
        return None


def pid_alive(pid, starttime=None):
    st = proc_starttime(pid)
    return st is not None and (starttime is None or st == starttime)


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            out.append(int(d))
    return out


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_of_tree(root):
    """CPU seconds used so far by root and its children: root's own and reaped
    children's (cutime/cstime) plus every live child's. The difference of two
    readings is the CPU the tree used in between, even if children came and went."""
    def stat(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return [int(x) for x in f.read().rsplit(")", 1)[1].split()[11:15]]
        except (OSError, ValueError):
            return [0, 0, 0, 0]
    total = sum(stat(root))
    for c in children(root):
        total += sum(stat(c)[:2])
    return total / CLK_TCK


def create_latency(d, n=200):
    """Mean time of open(O_CREAT) in directory d, in microseconds."""
    t0 = now()
    for i in range(n):
        os.close(os.open(os.path.join(d, f"probe{i}"), os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    t1 = now()
    for i in range(n):
        os.unlink(os.path.join(d, f"probe{i}"))
    return (t1 - t0) / n * 1e6


def wait_port(port, timeout=20.0, what="server"):
    t_end = now() + timeout
    while now() < t_end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.settimeout(5)
                if s.recv(512).startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer with 220 on 127.0.0.1:{port}")


def median(xs):
    return statistics.median(xs) if xs else float("nan")


class Procs:
    """Processes we started: recorded for run.sh's trap, stopped by PID."""

    def __init__(self, tmp):
        self.path = os.path.join(tmp, "pids")
        self.started = {}

    def add(self, pid, name):
        st = proc_starttime(pid)
        self.started[pid] = (name, st)
        with open(self.path, "a") as f:
            f.write(f"{pid} {st} {name}\n")

    def stop(self, pid, sig=signal.SIGTERM, timeout=15.0, extra=()):
        """SIGTERM pid, wait; then SIGKILL pid and the recorded extra PIDs if they linger."""
        name, st = self.started.get(pid, ("?", None))
        if pid_alive(pid, st):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        t_end = now() + timeout
        watch = [(pid, st)] + [(p, proc_starttime(p)) for p in extra]
        while now() < t_end and any(pid_alive(p, s) for p, s in watch if s):
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass
            time.sleep(0.05)
        for p, s in watch:
            if s and pid_alive(p, s):
                log(f"{name} pid {p} still running after SIGTERM; SIGKILL")
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        self.started.pop(pid, None)


class Sink:
    """smtp-sink -c; a thread reads its counter line ("sess=N quit=N mesg=N\\r")."""

    def __init__(self, procs, port, name):
        self.port, self.name = port, name
        self.count = 0
        self.cv = threading.Condition()
        self.p = subprocess.Popen(
            ["smtp-sink", "-u", "nobody", "-c", "-m", "1000", f"127.0.0.1:{port}", "1024"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        procs.add(self.p.pid, f"smtp-sink {name}")
        self.procs = procs
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        self.other = []

    def _read(self):
        fd = self.p.stdout.fileno()
        pending = b""
        rx = re.compile(rb"mesg=(\d+)")
        while True:
            data = os.read(fd, 65536)
            if not data:
                return
            pending += data
            *parts, pending = re.split(rb"[\r\n]", pending)
            last = None
            for part in parts:
                m = rx.search(part)
                if m:
                    last = int(m.group(1))
                elif part.strip():
                    self.other.append(part.decode(errors="replace"))
            if last is not None:
                with self.cv:
                    self.count = last
                    self.cv.notify_all()

    def wait_for(self, target, timeout):
        """Block until count >= target; return the monotonic time it got there (or None)."""
        t_end = now() + timeout
        with self.cv:
            while self.count < target:
                left = t_end - now()
                if left <= 0:
                    return None
                self.cv.wait(left)
            return now()

    def stop(self):
        self.procs.stop(self.p.pid)


class Postern:
    def __init__(self, args, procs, tmp, sink_port, tag, tls=None):
        """tls: (cert, key) to offer STARTTLS on the mx listener; None: the plain
        config of README.md, unchanged."""
        self.args, self.procs = args, procs
        self.dir = os.path.join(tmp, f"postern-{tag}")
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.conf = os.path.join(self.dir, "postern.conf")
        self.logpath = os.path.join(self.dir, "postern.log")
        tls_block = (f"tls {{\n    cert {tls[0]}\n    key {tls[1]}\n}}\n" if tls else "")
        tls_listen = "    tls starttls\n" if tls else ""
        with open(self.conf, "w") as f:
            f.write(f"""hostname bench.postern.test
state_dir {self.dir}/state
{tls_block}listen 127.0.0.1:{self.port} {{
    role mx
{tls_listen}}}
relay {{
    smarthost smtp://127.0.0.1:{sink_port}
}}
trusted_networks 127.0.0.0/8
smtp {{
    max_connections 5000
    max_connections_per_ip 5000
}}
""")
        subprocess.run([args.postern, "config", "check", "-c", self.conf], check=True,
                       stdout=subprocess.DEVNULL)
        self.logf = open(self.logpath, "ab")
        self.p = subprocess.Popen([args.postern, "serve", "-c", self.conf],
                                  stdout=self.logf, stderr=self.logf, stdin=subprocess.DEVNULL)
        procs.add(self.p.pid, "postern")
        wait_port(self.port, what="postern")
        self.smtp_pid = self.queue_pid = None
        t_end = now() + 10
        while now() < t_end and (self.smtp_pid is None or self.queue_pid is None):
            with open(self.logpath, errors="replace") as f:
                text = f.read()
            m = re.search(r"postern/smtp\[(\d+)\]", text)
            self.smtp_pid = int(m.group(1)) if m else None
            m = re.search(r"postern/queue\[(\d+)\]", text)
            self.queue_pid = int(m.group(1)) if m else None
            time.sleep(0.1)
        kids = children(self.p.pid)
        if self.smtp_pid not in kids:  # no "smtp connect" logged yet: the child that is not queue
            others = [k for k in kids if k != self.queue_pid]
            self.smtp_pid = others[0] if len(others) == 1 else None
        if self.smtp_pid is None:
            raise RuntimeError(f"cannot tell postern's smtp process among {kids}")

    def log_offset(self):
        return os.path.getsize(self.logpath)

    def log_since(self, off):
        with open(self.logpath, "rb") as f:
            f.seek(off)
            return f.read().decode(errors="replace")

    def cpu(self):
        return cpu_of_tree(self.p.pid)

    @staticmethod
    def count_accepted(text):
        return text.count(" smtp accepted ")

    @staticmethod
    def count_delivered(text):
        return text.count(" relay sent ")

    @staticmethod
    def unusual(text):
        return [l for l in text.splitlines() if l and not POSTERN_NORMAL.search(l)]

    @staticmethod
    def count_tls(text):
        """(TLS sessions, of which TLS 1.3 with CIPHER) in the log text."""
        return tuple(len(rx.findall(text)) for rx in POSTERN_TLS)

    def stop(self):
        kids = children(self.p.pid)
        self.procs.stop(self.p.pid, extra=kids)
        self.logf.close()


def postfix_instance(d, smtp_service, relay_port, writer):
    """A Postfix instance's files under d (conf/, spool/, data/, maillog):
    Debian's master.cf with every chroot column n and its smtp inet line
    replaced by smtp_service (master.cf text), and the team's baseline
    loopback relay main.cf relaying to 127.0.0.1:relay_port. Returns
    (confdir, spool, data, logpath)."""
    confdir, spool, data = (os.path.join(d, x) for x in ("conf", "spool", "data"))
    for x in (confdir, spool, data):
        os.makedirs(x)
    os.chmod(d, 0o755)
    shutil.chown(data, "postfix")
    os.chmod(data, 0o700)
    logpath = os.path.join(d, "maillog")
    out = []
    with open("/etc/postfix/master.cf") as f:
        for line in f:
            fl = line.split()
            if line.startswith("#") or line[:1].isspace() or len(fl) < 8:
                out.append(line)
            elif fl[0] == "smtp" and fl[1] == "inet":
                out.append(smtp_service)
            else:
                fl[4] = "n"
                out.append(" ".join(fl) + "\n")
    with open(os.path.join(confdir, "master.cf"), "w") as f:
        f.writelines(out)
    if os.path.exists("/etc/postfix/dynamicmaps.cf"):
        shutil.copy("/etc/postfix/dynamicmaps.cf", confdir)
    with open(os.path.join(confdir, "main.cf"), "w") as f:
        f.write(f"""# written by postern bench/{writer}: Postfix as a loopback relay
compatibility_level = 3.6
queue_directory = {spool}
data_directory = {data}
meta_directory = /etc/postfix
myhostname = mta-postfix.bench.test
mydomain = bench.test
myorigin = $myhostname
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mynetworks_style = host
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relay_domains =
relayhost = [127.0.0.1]:{relay_port}
default_transport = smtp:[127.0.0.1]:{relay_port}
relay_transport = smtp:[127.0.0.1]:{relay_port}
transport_maps =
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_client_restrictions =
smtpd_helo_restrictions =
smtpd_sender_restrictions =
smtp_dns_support_level = disabled
smtp_host_lookup = native
lmtp_host_lookup = native
smtpd_peername_lookup = no
smtp_tls_security_level = none
smtpd_tls_security_level = none
maillog_file = {logpath}
default_process_limit = 100
smtp_destination_concurrency_limit = 20
message_size_limit = 10240000
biff = no
append_dot_mydomain = no
readme_directory = no
""")
    return confdir, spool, data, logpath


def postfix_start(confdir, spool, logpath):
    """postfix check and start for the instance in confdir; the master's
    PID once it has written it (RuntimeError after 20 s)."""
    env = dict(os.environ, MAIL_CONFIG=confdir)
    subprocess.run(["postfix", "-c", confdir, "check"], check=True, env=env)
    subprocess.run(["postfix", "-c", confdir, "start"], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pidfile = os.path.join(spool, "pid", "master.pid")
    t_end = now() + 20
    while now() < t_end:
        try:
            with open(pidfile) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            time.sleep(0.1)
    raise RuntimeError("postfix master did not start; see " + logpath)


class Postfix:
    def __init__(self, args, procs, tmp, sink_port, tls=None):
        """tls: (cert, key): add a second smtpd service on self.tls_port offering
        STARTTLS (security level may) with that certificate."""
        self.procs = procs
        self.port = free_port()
        self.tls_port = free_port() if tls else None
        # master.cf: Debian's, every chroot column n, smtpd on our port only.
        service = f"127.0.0.1:{self.port} inet n - n - - smtpd\n"
        if tls:
            # The STARTTLS service of the TLS part: the same smtpd with TLS
            # offered; no server-side session cache (fresh handshakes only);
            # one log line per TLS session.
            service += (f"127.0.0.1:{self.tls_port} inet n - n - - smtpd\n"
                        f"  -o syslog_name=postfix/tls-bench\n"
                        f"  -o smtpd_tls_security_level=may\n"
                        f"  -o smtpd_tls_cert_file={tls[0]}\n"
                        f"  -o smtpd_tls_key_file={tls[1]}\n"
                        f"  -o smtpd_tls_session_cache_database=\n"
                        f"  -o smtpd_tls_loglevel=1\n")
        self.confdir, self.spool, self.data, self.logpath = postfix_instance(
            os.path.join(tmp, "postfix"), service, sink_port, "bench.py")
        self.master = postfix_start(self.confdir, self.spool, self.logpath)
        procs.add(self.master, "postfix master")
        wait_port(self.port, what="postfix")
        if self.tls_port:
            wait_port(self.tls_port, what="postfix (STARTTLS service)")

    def log_offset(self):
        return os.path.getsize(self.logpath)

    def log_since(self, off):
        with open(self.logpath, "rb") as f:
            f.seek(off)
            return f.read().decode(errors="replace")

    def cpu(self):
        return cpu_of_tree(self.master)

    @staticmethod
    def count_accepted(text):
        return len(re.findall(r"postfix/qmgr\[\d+\]: [0-9A-F]+: from=<[^>]*>, size=\d+, "
                              r"nrcpt=\d+ \(queue active\)", text))

    @staticmethod
    def count_delivered(text):
        return len(re.findall(r"postfix/smtp\[\d+\]: [0-9A-F]+: to=<[^>]*>.*status=sent", text))

    @staticmethod
    def unusual(text):
        return [l for l in text.splitlines() if l and not POSTFIX_NORMAL.search(l)]

    @staticmethod
    def count_tls(text):
        """(TLS sessions, of which TLS 1.3 with CIPHER) in the log text."""
        return tuple(len(rx.findall(text)) for rx in POSTFIX_TLS)

    def stop(self):
        kids = children(self.master)
        self.procs.stop(self.master, extra=kids)


def smtp_source(port, conc, size, count, helo=None):
    cmd = ["smtp-source", "-s", str(conc), "-l", str(size), "-m", str(count),
           "-f", MSG_FROM, "-t", MSG_TO, f"127.0.0.1:{port}"]
    t0 = now()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL)
    t1 = now()
    return t0, t1, r.returncode, r.stdout.decode(errors="replace").strip()


def one_run(mta, sink, conc, size, count, settle_timeout):
    """Send count messages; returns a dict with accept rate, time to sink and counts."""
    off = mta.log_offset()
    base = sink.count
    cpu0 = mta.cpu()
    t0, t1, rc, out = smtp_source(mta.port, conc, size, count)
    t_sink = sink.wait_for(base + count, timeout=max(settle_timeout, 20 * (t1 - t0)))
    cpu1 = mta.cpu()
    time.sleep(0.5)  # let late log lines (and any duplicate deliveries) land
    text = mta.log_since(off)
    res = {
        "sent": count, "rc": rc, "source_out": out,
        "accept_s": t1 - t0, "rate": count / (t1 - t0) if rc == 0 else 0.0,
        "sink_s": (t_sink - t0) if t_sink else None,
        "at_sink": sink.count - base,
        "cpu_ms": (cpu1 - cpu0) * 1000 / count,
        "accepted_log": mta.count_accepted(text),
        "delivered_log": mta.count_delivered(text),
        "unusual": mta.unusual(text),
    }
    res["ok"] = (rc == 0 and not out and res["at_sink"] == count and t_sink is not None)
    return res


def mem_of(pid):
    out = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("Rss", "Pss", "Private_Dirty", "Anonymous"):
                    out[k] = int(v.split()[0]) * 1024
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    out["VmRSS"] = int(line.split()[1]) * 1024
    except OSError:
        pass
    return out


def idle_test(args, pst, n):
    """Open n connections to postern from spread 127/8 sources, read the greeting, idle."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = n + 100
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(need, soft), hard), hard))
    pids = {"smtp": pst.smtp_pid, "queue": pst.queue_pid, "parent": pst.p.pid}
    time.sleep(1.0)
    before = {k: mem_of(p) for k, p in pids.items()}
    socks, greeted, failed = [], 0, []
    t0 = now()
    for i in range(n):
        src = f"127.{1 + i // 250 % 250}.{i % 250 + 1}.{1 + i // 62500}"
        s = socket.socket()
        try:
            s.bind((src, 0))
            s.settimeout(10)
            s.connect(("127.0.0.1", pst.port))
            socks.append(s)
        except OSError as e:
            failed.append(f"connect {src}: {e}")
            s.close()
    for s in socks:
        try:
            buf = b""
            while not buf.endswith(b"\r\n"):
                d = s.recv(512)
                if not d:
                    break
                buf += d
            if buf.startswith(b"220"):
                greeted += 1
            else:
                failed.append(f"greeting {buf[:80]!r}")
        except OSError as e:
            failed.append(f"read: {e}")
    t_open = now() - t0
    time.sleep(args.idle_settle)
    during = {k: mem_of(p) for k, p in pids.items()}
    # still connected? (a read would block: nothing sent, nothing closed)
    alive = 0
    for s in socks:
        s.setblocking(False)
        try:
            d = s.recv(1)
            if d:
                alive += 1  # unexpected data, but open
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    for s in socks:
        s.close()
    time.sleep(1.5)
    after = {k: mem_of(p) for k, p in pids.items()}
    return {"n": n, "greeted": greeted, "alive": alive, "failed": failed[:10],
            "nfailed": len(failed), "open_s": t_open,
            "before": before, "during": during, "after": after}


def fmt_rate(x):
    return f"{x:,.0f}" if x == x else "n/a"


def fmt_s(x):
    return f"{x:.2f}" if x is not None and x == x else "n/a"


# ---- the STARTTLS part (bench/tls-source.c as the client) ----

def make_cert(tmp):
    """One self-signed ECDSA P-256 certificate and key for this run, for both MTAs."""
    d = os.path.join(tmp, "tls")
    os.makedirs(d)
    os.chmod(d, 0o755)
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "365",
                        "-subj", "/CN=bench.postern.test",
                        "-addext", "subjectAltName=DNS:bench.postern.test"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        raise RuntimeError("openssl req failed: " + r.stdout.decode(errors="replace"))
    os.chmod(key, 0o600)  # read by root: postern's parent, Postfix's smtpd before dropping
    os.chmod(cert, 0o644)
    return cert, key


def tls_source(args, port, conc, count, plain):
    """Run bench/tls-source; returns (exit status, its JSON report or None, its stderr)."""
    cmd = [args.tls_source, "-c", str(conc), "-n", str(count), "-s", "4096",
           "-f", MSG_FROM, "-t", MSG_TO, "-C", CIPHER, "-T", "60"]
    if plain:
        cmd.append("-P")
    cmd.append(f"127.0.0.1:{port}")
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       stdin=subprocess.DEVNULL)
    try:
        j = json.loads(r.stdout)
    except ValueError:
        j = None
    return r.returncode, j, r.stderr.decode(errors="replace").strip()


def tls_one_run(args, mta, port, sink, conc, count, plain, settle_timeout):
    """count full sessions at concurrency conc (STARTTLS unless plain); checks that
    every one succeeded, the sink got every message, and (TLS) the MTA logged a
    TLS 1.3 session with CIPHER for every one."""
    off = mta.log_offset()
    base = sink.count
    cpu0 = mta.cpu()
    t0 = now()
    rc, j, err = tls_source(args, port, conc, count, plain)
    t1 = now()
    if j is None:
        j = {"ok": 0, "failed": count, "accepted": 0, "rate": 0.0, "wall_s": t1 - t0,
             "p50_ms": -1, "p99_ms": -1, "hs_p50_ms": -1, "hs_p99_ms": -1,
             "cpu_user_s": 0, "cpu_sys_s": 0, "tickets": 0, "handshakes": 0, "tls": {},
             "errors": [[f"tls-source exit {rc}, no report: {err[:200]}", count]]}
    t_sink = sink.wait_for(base + j["accepted"],
                           timeout=max(settle_timeout, 20 * (t1 - t0))) if j["accepted"] else None
    cpu1 = mta.cpu()
    time.sleep(0.5)  # late log lines (Postfix logs through postlogd), duplicate deliveries
    text = mta.log_since(off)
    ntls, ntls13 = mta.count_tls(text)
    res = {
        "sent": count, "rc": rc, "j": j, "stderr": err, "plain": plain,
        "rate": j["rate"] if j["ok"] == count else 0.0,
        "sink_s": (t_sink - t0) if t_sink else None,
        "at_sink": sink.count - base,
        "cpu_ms": (cpu1 - cpu0) * 1000 / count,
        "client_cpu_ms": (j["cpu_user_s"] + j["cpu_sys_s"]) * 1000 / count,
        "accepted_log": mta.count_accepted(text),
        "tls_log": ntls, "tls13_log": ntls13,
        "unusual": mta.unusual(text),
    }
    res["ok"] = (rc == 0 and j["ok"] == count and j["failed"] == 0 and j["accepted"] == count
                 and res["at_sink"] == count and t_sink is not None and not err
                 and (plain or (ntls == count and ntls13 == count
                                and j["tls"].get("version") == "TLSv1.3"
                                and j["tls"].get("cipher") == CIPHER)))
    return res


def tls_describe(t):
    if not t or not t.get("version"):
        return "no TLS session"
    return (f"{t['version']} {t['cipher']}, key exchange {t.get('group', '?')}, "
            f"server signature {t.get('sig', '?')}, certificate {t.get('cert', '?')} "
            f"(SHA-256 {t.get('cert_sha256', '?')}...)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--postern", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--idle", type=int, default=1000)
    ap.add_argument("--idle-settle", type=float, default=2.0)
    ap.add_argument("--only", default="", help="postern|postfix: skip the other MTA")
    ap.add_argument("--profile", action="store_true",
                    help="perf record postern's smtp and queue processes in the last c=100 run")
    ap.add_argument("--tls-source", default="",
                    help="compiled bench/tls-source.c: run the STARTTLS part with it")
    ap.add_argument("--only-tls", action="store_true",
                    help="only the STARTTLS part (no plain smtp-source tests, no idle test)")
    ap.add_argument("--no-tls-plain", action="store_true",
                    help="STARTTLS part: skip the reference rows of the same client without TLS")
    args = ap.parse_args()
    do_plain = not args.only_tls
    do_tls = bool(args.tls_source)
    if args.only_tls and not do_tls:
        ap.error("--only-tls needs --tls-source")

    def on_term(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)

    n1 = int(os.environ.get("N1", 100 if args.quick else 600))
    n20 = int(os.environ.get("N20", 400 if args.quick else 4000))
    n100 = int(os.environ.get("N100", 500 if args.quick else 5000))
    nbig = int(os.environ.get("NBIG", 200 if args.quick else 2000))
    scenarios = [  # (key, label, concurrency, body bytes, count, goal ratio)
        ("c1", "c=1, 4 KiB", 1, 4096, n1, 1.0),
        ("c20", "c=20, 4 KiB", 20, 4096, n20, 2.0),
        ("c100", "c=100, 4 KiB", 100, 4096, n100, 2.0),
        ("c20big", "c=20, 100 KiB", 20, 102400, nbig, None),
    ]
    nt20 = int(os.environ.get("NT20", 300 if args.quick else 3000))
    nt100 = int(os.environ.get("NT100", 400 if args.quick else 4000))
    np20 = int(os.environ.get("NP20", 400 if args.quick else 3000))
    np100 = int(os.environ.get("NP100", 500 if args.quick else 4000))
    tls_scenarios = [  # (key, label, concurrency, sessions, plain, goal ratio)
        ("t20", "STARTTLS c=20", 20, nt20, False, 1.5),
        ("t100", "STARTTLS c=100", 100, nt100, False, 1.5),
    ]
    if not args.no_tls_plain:
        tls_scenarios += [
            ("p20", "no TLS c=20 (same client)", 20, np20, True, None),
            ("p100", "no TLS c=100 (same client)", 100, np100, True, None),
        ]
    procs = Procs(args.tmp)
    os.chmod(args.tmp, 0o755)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    os.makedirs(args.results, exist_ok=True)

    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host": f"{os.uname().nodename}, {os.cpu_count()} CPUs, {os.uname().release}",
        "load": " ".join(open("/proc/loadavg").read().split()[:3]),
    }
    try:
        info["postern"] = subprocess.run(
            ["git", "-C", os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
             "describe", "--always", "--dirty"], capture_output=True, text=True).stdout.strip()
    except OSError:
        info["postern"] = "?"
    info["postfix"] = subprocess.run(["postconf", "-d", "-h", "mail_version"],
                                     capture_output=True, text=True).stdout.strip()

    info["create_us"] = create_latency(args.tmp)
    mtas = {}
    sinks = {}
    results = {k: {"postern": [], "postfix": []} for k, *_ in scenarios}
    tls_results = {k: {"postern": [], "postfix": []} for k, *_ in tls_scenarios}
    idle = None
    perf_out = tls_perf_out = None
    if not do_plain:
        scenarios = []
    try:
        names = [n for n in ("postern", "postfix") if args.only in ("", n)]
        for name in names:
            sinks[name] = Sink(procs, free_port(), name)
        for name in names:
            wait_port(sinks[name].port, what=f"smtp-sink for {name}")
        cert = make_cert(args.tmp) if do_tls else None
        if "postern" in names and do_plain:
            log("starting postern")
            mtas["postern"] = Postern(args, procs, args.tmp, sinks["postern"].port, "load")
        if "postfix" in names:
            # With the TLS part, the same instance also gets the STARTTLS service.
            log("starting postfix")
            mtas["postfix"] = Postfix(args, procs, args.tmp, sinks["postfix"].port, tls=cert)

        # Smoke: one message each, and it must reach the sink.
        for name, mta in (mtas.items() if do_plain else ()):
            base = sinks[name].count
            t0, t1, rc, out = smtp_source(mta.port, 1, 1024, 1)
            if rc != 0 or sinks[name].wait_for(base + 1, 30) is None:
                raise RuntimeError(f"smoke test: {name} did not deliver one message to the sink "
                                   f"(smtp-source rc={rc} {out})")
            log(f"smoke ok: {name} delivered 1 message to its sink")
        # Warm-up: start the processes Postfix spawns on demand, fault in postern's heap.
        for name, mta in (mtas.items() if do_plain else ()):
            r = one_run(mta, sinks[name], 100, 4096, 200, 60)
            log(f"warm-up {name}: {r['rate']:.0f} msg/s, ok={r['ok']}")

        for run in range(args.runs):
            order = list(mtas) if run % 2 == 0 else list(reversed(mtas))
            for key, label, conc, size, count, _ in scenarios:
                for name in order:
                    mta = mtas[name]
                    prof = None
                    if (args.profile and name == "postern" and key == "c100"
                            and run == args.runs - 1 and shutil.which("perf")):
                        perf_out = os.path.join(args.tmp, "perf.data")
                        prof = subprocess.Popen(
                            ["perf", "record", "-g", "-o", perf_out, "-p",
                             f"{mta.smtp_pid},{mta.queue_pid}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                        procs.add(prof.pid, "perf record")
                        time.sleep(1)
                    r = one_run(mta, sinks[name], conc, size, count, 120)
                    if prof:
                        procs.stop(prof.pid, sig=signal.SIGINT)
                    results[key][name].append(r)
                    log(f"run {run + 1}/{args.runs} {label:14s} {name:8s} "
                        f"{r['rate']:8.0f} msg/s  sink {fmt_s(r['sink_s'])} s  "
                        f"cpu {r['cpu_ms']:.2f} ms/msg  "
                        f"at_sink={r['at_sink']}/{count} ok={r['ok']}"
                        + (f"  smtp-source: {r['source_out'][:200]}" if r['source_out'] else ""))
                    time.sleep(1)

        if do_plain and "postern" in mtas:
            # Idle memory on a fresh postern: earlier load would leave freed heap
            # for new sessions to reuse and understate the per-connection cost.
            mtas["postern"].stop()
            del mtas["postern"]
            log(f"idle test: fresh postern, {args.idle} idle connections")
            fresh = Postern(args, procs, args.tmp, sinks["postern"].port, "idle")
            mtas["postern-idle"] = fresh
            idle = idle_test(args, fresh, args.idle)
            idle["unusual"] = fresh.unusual(fresh.log_since(0))
            fresh.stop()
            del mtas["postern-idle"]

        if do_tls:
            # The STARTTLS part: postern gets a TLS-enabled instance of its own (the
            # plain one above keeps the README's config); Postfix's STARTTLS
            # service runs in the same instance as its plain one.
            tls_mtas = {}
            if "postern" in names:
                log("starting postern with TLS")
                mtas["postern-tls"] = Postern(args, procs, args.tmp, sinks["postern"].port,
                                              "tls", tls=cert)
                tls_mtas["postern"] = (mtas["postern-tls"], mtas["postern-tls"].port)
            if "postfix" in names:
                tls_mtas["postfix"] = (mtas["postfix"], mtas["postfix"].tls_port)
            # Smoke: one STARTTLS session each, TLS 1.3 with CIPHER, message at the sink.
            for name, (mta, port) in tls_mtas.items():
                r = tls_one_run(args, mta, port, sinks[name], 1, 1, False, 30)
                if not r["ok"]:
                    raise RuntimeError(
                        f"TLS smoke test: {name} failed: tls-source rc={r['rc']} "
                        f"errors={r['j']['errors']} at_sink={r['at_sink']} "
                        f"server log TLS lines={r['tls_log']} (TLS 1.3 {CIPHER}: "
                        f"{r['tls13_log']}) client saw: {tls_describe(r['j']['tls'])} "
                        f"{r['stderr'][:200]} unusual log: {r['unusual'][:3]}")
                log(f"TLS smoke ok: {name}: {tls_describe(r['j']['tls'])}")
            # Warm-up (Postfix forks its smtpd processes, each loading the certificate).
            for name, (mta, port) in tls_mtas.items():
                r = tls_one_run(args, mta, port, sinks[name], 100, 200, False, 60)
                log(f"TLS warm-up {name}: {r['rate']:.0f} sessions/s, ok={r['ok']}")
            for run in range(args.runs):
                order = list(tls_mtas) if run % 2 == 0 else list(reversed(tls_mtas))
                for key, label, conc, count, plain, _ in tls_scenarios:
                    for name in order:
                        mta, port = tls_mtas[name]
                        prof = None
                        if (args.profile and name == "postern" and key == "t100"
                                and run == args.runs - 1 and shutil.which("perf")):
                            tls_perf_out = os.path.join(args.tmp, "perf-tls.data")
                            prof = subprocess.Popen(
                                ["perf", "record", "-g", "-o", tls_perf_out, "-p",
                                 f"{mta.smtp_pid},{mta.queue_pid}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                            procs.add(prof.pid, "perf record")
                            time.sleep(1)
                        r = tls_one_run(args, mta, port, sinks[name], conc, count, plain, 120)
                        if prof:
                            procs.stop(prof.pid, sig=signal.SIGINT)
                        tls_results[key][name].append(r)
                        j = r["j"]
                        log(f"run {run + 1}/{args.runs} {label:26s} {name:8s} "
                            f"{j['rate']:7.0f} sessions/s  p50 {j['p50_ms']:.1f} ms  "
                            f"p99 {j['p99_ms']:.1f} ms  cpu {r['cpu_ms']:.2f} ms/session  "
                            f"client cpu {r['client_cpu_ms']:.2f} ms/session  "
                            f"failed={j['failed']} at_sink={r['at_sink']}/{count} "
                            + ("" if plain else f"tls_log={r['tls13_log']}/{count} ")
                            + f"ok={r['ok']}"
                            + (f"  errors: {j['errors'][:3]}" if j['errors'] else ""))
                        time.sleep(1)
        info["create_us_end"] = create_latency(args.tmp)
        info["load_end"] = " ".join(open("/proc/loadavg").read().split()[:3])
    finally:
        for name in list(mtas):
            try:
                mtas[name].stop()
            except Exception as e:  # keep stopping the rest
                log(f"stopping {name}: {e}")
        for s in sinks.values():
            s.stop()

    # ---- report ----
    lines = []
    w = lines.append
    w(f"## postern vs Postfix, {'' if do_plain else 'STARTTLS sessions, '}loopback, "
      f"{args.runs} run(s) per cell, medians")
    w("")
    w(f"{info['date']} · {info['host']} · load avg at start {info['load']} · "
      f"postern {info['postern']} (build-bench, release) · Postfix {info['postfix']}")
    w("")
    w(f"File creation in the temp dir ({args.tmp}): {info['create_us']:.0f} us per open(O_CREAT) "
      f"before the runs, {info.get('create_us_end', float('nan')):.0f} us after; "
      f"load avg at end {info.get('load_end', '?')}.")
    w("")
    if do_plain:
        w("| test | msgs/run | postern msg/s | Postfix msg/s | postern/Postfix (same run) "
          "| goal | postern s to sink | Postfix s to sink | postern CPU ms/msg | Postfix CPU ms/msg "
          "| all delivered? |")
        w("|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|")
        goal_summary = []
        for key, label, conc, size, count, goal in scenarios:
            rp, rf = results[key]["postern"], results[key]["postfix"]
            mp = median([r["rate"] for r in rp])
            mf = median([r["rate"] for r in rf])
            ratios = [a["rate"] / b["rate"] for a, b in zip(rp, rf) if b["rate"] > 0]
            mr = median(ratios)
            rtxt = (f"**{mr:.2f}x** ({min(ratios):.2f}-{max(ratios):.2f})" if len(ratios) > 1
                    else (f"**{mr:.2f}x**" if ratios else "n/a"))
            if goal is None:
                gtxt = "-"
            elif not ratios:
                gtxt = f">= {goal:g}x: n/a"
            else:
                gtxt = f">= {goal:g}x: {'met' if mr >= goal else '**not met**'}"
                goal_summary.append((label, goal, mr))
            sp = median([r["sink_s"] for r in rp if r["sink_s"] is not None])
            sf = median([r["sink_s"] for r in rf if r["sink_s"] is not None])

            def chk(rs, name):
                if not rs:
                    return None
                sent = sum(r["sent"] for r in rs)
                at = sum(r["at_sink"] for r in rs)
                acc = sum(r["accepted_log"] for r in rs)
                bad = sum(1 for r in rs if not r["ok"])
                s = f"{name} {at}/{sent}"
                if acc != sent:
                    s += f" (log: {acc} accepted)"
                return s + (" ok" if not bad and at == sent else f" **{bad} bad run(s)**")
            ctxt = "; ".join(x for x in (chk(rp, "postern"), chk(rf, "Postfix")) if x)
            cp = median([r["cpu_ms"] for r in rp])
            cf = median([r["cpu_ms"] for r in rf])
            w(f"| {label} | {count:,} | {fmt_rate(mp)} | {fmt_rate(mf)} | {rtxt} | {gtxt} "
              f"| {fmt_s(sp)} | {fmt_s(sf)} | {fmt_s(cp)} | {fmt_s(cf)} | {ctxt} |")
        if idle:
            w("")
            w(f"### postern memory with {idle['n']:,} idle connections "
              f"(fresh postern, greeting read, then idle {args.idle_settle:g} s)")
            w("")
            w("| process | metric | before | with idle conns | after close | per idle connection | goal |")
            w("|---|---|---:|---:|---:|---:|---|")
            for proc in ("smtp", "queue", "parent"):
                for metric in ("Rss", "Pss", "Private_Dirty"):
                    b = idle["before"][proc].get(metric)
                    d = idle["during"][proc].get(metric)
                    a = idle["after"][proc].get(metric)
                    if b is None or d is None:
                        continue
                    per = (d - b) / idle["n"]
                    goal = ""
                    if proc == "smtp" and metric in ("Rss", "Pss"):
                        goal = f"< 32 KiB: {'met' if per < 32 * 1024 else '**not met**'}"
                    if proc != "smtp" and metric != "Rss":
                        continue
                    w(f"| {proc} | {metric} | {b / 1024:,.0f} KiB | {d / 1024:,.0f} KiB | "
                      f"{a / 1024:,.0f} KiB | **{per / 1024:.1f} KiB** | {goal} |")
            w("")
            w(f"Connections: {idle['greeted']}/{idle['n']} got a 220 greeting, "
              f"{idle['alive']}/{idle['n']} still open before close, {idle['nfailed']} failures"
              + (f" (e.g. {idle['failed'][0]})" if idle['failed'] else "")
              + f"; opening took {idle['open_s']:.1f} s.")
        w("")
        if goal_summary:
            w("Goals: " + "; ".join(f"{l}: {mr:.2f}x vs >= {g:g}x "
                                     f"{'met' if mr >= g else 'NOT met'}"
                                     for l, g, mr in goal_summary) + ".")
        # unusual log lines
        notes = []
        for key, label, *_ in scenarios:
            for name in ("postern", "postfix"):
                for i, r in enumerate(results[key][name]):
                    if r["unusual"]:
                        notes.append(f"- {name} {label} run {i + 1}: {len(r['unusual'])} unusual "
                                     f"log line(s), e.g. `{r['unusual'][0][:300]}`")
                    if r["source_out"]:
                        notes.append(f"- {name} {label} run {i + 1}: smtp-source said: "
                                     f"`{r['source_out'][:300]}`")
        if idle and idle.get("unusual"):
            notes.append(f"- postern idle test: {len(idle['unusual'])} unusual log line(s), e.g. "
                         f"`{idle['unusual'][0][:300]}`")
        for name, s in sinks.items():
            if s.other:
                notes.append(f"- smtp-sink ({name}) printed: `{s.other[0][:200]}`")
        w("")
        w("Log check: " + ("no unusual log lines, no smtp-source errors." if not notes
                           else f"{len(notes)} finding(s):"))
        lines.extend(notes)

    raw = []
    if do_plain:
        # per-run raw numbers
        raw = ["", "### Per-run figures (msg/s accepted; seconds from smtp-source start to the "
               "last message at the sink)", "",
               "| test | run | postern msg/s | postern s to sink | postern CPU ms/msg | Postfix msg/s "
               "| Postfix s to sink | Postfix CPU ms/msg | ratio |",
               "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for key, label, *_ in scenarios:
            rp, rf = results[key]["postern"], results[key]["postfix"]
            for i in range(max(len(rp), len(rf))):
                a = rp[i] if i < len(rp) else None
                b = rf[i] if i < len(rf) else None
                ratio = (f"{a['rate'] / b['rate']:.2f}x" if a and b and b["rate"] else "")
                raw.append(f"| {label} | {i + 1} | {fmt_rate(a['rate']) if a else ''} | "
                           f"{fmt_s(a['sink_s']) if a else ''} | {fmt_s(a['cpu_ms']) if a else ''} | "
                           f"{fmt_rate(b['rate']) if b else ''} | "
                           f"{fmt_s(b['sink_s']) if b else ''} | {fmt_s(b['cpu_ms']) if b else ''} | "
                           f"{ratio} |")
    tls_raw = []
    if do_tls:
        ossl = subprocess.run(["openssl", "version"], capture_output=True,
                              text=True).stdout.strip() or "OpenSSL"
        w("")
        w(f"### Full STARTTLS sessions per second ({args.runs} run(s) per cell, medians)")
        w("")
        w("Each session: connect, 220, EHLO, STARTTLS, 220, TLS 1.3 handshake, EHLO, MAIL, RCPT, "
          "DATA, 4 KiB body, 250, QUIT, 221, close_notify, close; a fresh TLS session every "
          "time (no resumption). Client: `bench/tls-source.c`, one blocking thread per "
          f"connection, {ossl}, TLS 1.3 only, ciphersuite {CIPHER} only, certificate not "
          "verified; it runs on the same two cores. Both servers use the same self-signed "
          "ECDSA P-256 certificate, made for this run; postern with `tls starttls` on an mx "
          "listener, Postfix with a second smtpd service (`smtpd_tls_security_level=may`, no "
          "session cache). *no TLS* rows: the same client, same ports, without STARTTLS. "
          "Latency: one whole session, as the client sees it. CPU: the MTA's processes "
          "(until the last message reached the sink), and the client's own.")
        w("")
        w("| test | sessions/run | postern sessions/s | Postfix sessions/s "
          "| postern/Postfix (same run) | goal | postern latency p50 / p99 ms "
          "| Postfix latency p50 / p99 ms | postern CPU ms/session | Postfix CPU ms/session "
          "| client CPU ms/session (postern / Postfix) | all delivered? |")
        w("|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|")
        tls_goals = []
        for key, label, conc, count, plain, goal in tls_scenarios:
            rp, rf = tls_results[key]["postern"], tls_results[key]["postfix"]
            mp = median([r["rate"] for r in rp])
            mf = median([r["rate"] for r in rf])
            ratios = [a["rate"] / b["rate"] for a, b in zip(rp, rf) if b["rate"] > 0]
            mr = median(ratios)
            rtxt = (f"**{mr:.2f}x** ({min(ratios):.2f}-{max(ratios):.2f})" if len(ratios) > 1
                    else (f"**{mr:.2f}x**" if ratios else "n/a"))
            if goal is None:
                gtxt = "-"
            elif not ratios:
                gtxt = f">= {goal:g}x: n/a"
            else:
                gtxt = f">= {goal:g}x: {'met' if mr >= goal else '**not met**'}"
                tls_goals.append((label, goal, mr))

            def lat(rs):
                if not rs:
                    return "n/a"
                return (f"{median([r['j']['p50_ms'] for r in rs]):.1f} / "
                        f"{median([r['j']['p99_ms'] for r in rs]):.1f}")

            def tchk(rs, name, plain=plain):
                if not rs:
                    return None
                sent = sum(r["sent"] for r in rs)
                at = sum(r["at_sink"] for r in rs)
                failed = sum(r["j"]["failed"] for r in rs)
                bad = sum(1 for r in rs if not r["ok"])
                t = f"{name} {at}/{sent}"
                if failed:
                    t += f" ({failed} sessions failed)"
                if not plain:
                    tl = sum(r["tls13_log"] for r in rs)
                    if tl != sent:
                        t += f" (log: {tl} TLS 1.3 {CIPHER})"
                return t + (" ok" if not bad and at == sent else f" **{bad} bad run(s)**")
            ctxt = "; ".join(x for x in (tchk(rp, "postern"), tchk(rf, "Postfix")) if x)
            cp = median([r["cpu_ms"] for r in rp])
            cf = median([r["cpu_ms"] for r in rf])
            clp = median([r["client_cpu_ms"] for r in rp])
            clf = median([r["client_cpu_ms"] for r in rf])
            w(f"| {label} | {count:,} | {fmt_rate(mp)} | {fmt_rate(mf)} | {rtxt} | {gtxt} "
              f"| {lat(rp)} | {lat(rf)} | {fmt_s(cp)} | {fmt_s(cf)} | {fmt_s(clp)} / {fmt_s(clf)} "
              f"| {ctxt} |")
        w("")
        w("Negotiated (client's view; the TLS 1.3 / cipher count is from each server's own log):")
        w("")
        fprs = set()
        nseen = 0
        for name, disp in (("postern", "postern"), ("postfix", "Postfix")):
            rs = [r for key, _, _, _, plain, _ in tls_scenarios if not plain
                  for r in tls_results[key][name]]
            if not rs:
                continue
            nseen += 1
            descs = sorted({tls_describe(r["j"]["tls"]) for r in rs})
            fprs |= {r["j"]["tls"].get("cert_sha256") for r in rs}
            hsk = sum(r["j"]["handshakes"] for r in rs)
            tickets = sum(r["j"]["tickets"] for r in rs) / hsk if hsk else float("nan")
            sent = sum(r["sent"] for r in rs)
            tl = sum(r["tls13_log"] for r in rs)
            hs50 = median([r["j"]["hs_p50_ms"] for r in rs])
            hs99 = median([r["j"]["hs_p99_ms"] for r in rs])
            w(f"- **{disp}**: {' **/** '.join(descs)}; {tickets:.2f} session tickets sent per "
              f"handshake (received, never used); handshake (SSL_connect) p50 {hs50:.1f} ms, "
              f"p99 {hs99:.1f} ms (medians over runs and concurrencies); server log: "
              f"{tl:,}/{sent:,} sessions TLSv1.3 {CIPHER}.")
        if nseen == 2 and len(fprs) == 1 and None not in fprs:
            w(f"- Both servers presented the same certificate (SHA-256 {fprs.pop()}...).")
        elif len(fprs) > 1:
            w(f"- **Different certificates seen**: {sorted(str(x) for x in fprs)}.")
        w("")
        if tls_goals:
            w("STARTTLS goals: " + "; ".join(f"{l}: {mr:.2f}x vs >= {g:g}x "
                                              f"{'met' if mr >= g else 'NOT met'}"
                                              for l, g, mr in tls_goals) + ".")
        tnotes = []
        for key, label, *_ in tls_scenarios:
            for name in ("postern", "postfix"):
                for i, r in enumerate(tls_results[key][name]):
                    if r["unusual"]:
                        tnotes.append(f"- {name} {label} run {i + 1}: {len(r['unusual'])} "
                                      f"unusual log line(s), e.g. `{r['unusual'][0][:300]}`")
                    if r["j"]["errors"]:
                        tnotes.append(f"- {name} {label} run {i + 1}: tls-source failures: "
                                      + ", ".join(f"`{e}` x{n}" for e, n in r["j"]["errors"][:5]))
                    if r["stderr"]:
                        tnotes.append(f"- {name} {label} run {i + 1}: tls-source said: "
                                      f"`{r['stderr'][:300]}`")
        if not do_plain:
            for name, sk in sinks.items():
                if sk.other:
                    tnotes.append(f"- smtp-sink ({name}) printed: `{sk.other[0][:200]}`")
        w("")
        w("Log check (STARTTLS part): " + ("no unusual log lines, no failed sessions."
                                           if not tnotes else f"{len(tnotes)} finding(s):"))
        lines.extend(tnotes)

        tls_raw = ["", "### Per-run figures, STARTTLS part (sessions/s; latency and handshake "
                   "p50 / p99 in ms; CPU ms/session)", "",
                   "| test | run | postern sessions/s | postern latency | postern handshake "
                   "| postern CPU | Postfix sessions/s | Postfix latency | Postfix handshake "
                   "| Postfix CPU | ratio |",
                   "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]

        def cells(r):
            if r is None:
                return ["", "", "", ""]
            j = r["j"]
            hs = "-" if r["plain"] else f"{j['hs_p50_ms']:.1f} / {j['hs_p99_ms']:.1f}"
            return [fmt_rate(r["rate"]) + ("" if r["ok"] else " **bad**"),
                    f"{j['p50_ms']:.1f} / {j['p99_ms']:.1f}", hs, fmt_s(r["cpu_ms"])]
        for key, label, *_ in tls_scenarios:
            rp, rf = tls_results[key]["postern"], tls_results[key]["postfix"]
            for i in range(max(len(rp), len(rf))):
                a = rp[i] if i < len(rp) else None
                b = rf[i] if i < len(rf) else None
                ratio = (f"{a['rate'] / b['rate']:.2f}x" if a and b and b["rate"] else "")
                tls_raw.append("| " + " | ".join([label, str(i + 1)] + cells(a) + cells(b)
                                                 + [ratio]) + " |")
    raw += tls_raw
    table = "\n".join(lines)
    print(table + "\n" + "\n".join(raw), flush=True)
    out = os.path.join(args.results, f"bench-{stamp}.md")
    with open(out, "w") as f:
        f.write(table + "\n" + "\n".join(raw) + "\n")
    # the unusual lines in full, for whoever reads the results
    with open(os.path.join(args.results, f"bench-{stamp}-logs.txt"), "w") as f:
        for key, label, *_ in scenarios:
            for name in ("postern", "postfix"):
                for i, r in enumerate(results[key][name]):
                    for l in r["unusual"][:200]:
                        f.write(f"[{name} {label} run {i + 1}] {l}\n")
        if idle:
            for l in idle.get("unusual", [])[:200]:
                f.write(f"[postern idle] {l}\n")
        for key, label, *_ in tls_scenarios:
            for name in ("postern", "postfix"):
                for i, r in enumerate(tls_results[key][name]):
                    for l in r["unusual"][:200]:
                        f.write(f"[{name} {label} run {i + 1}] {l}\n")
    for pout, suffix in ((perf_out, "perf"), (tls_perf_out, "tls-perf")):
        if not pout or not os.path.exists(pout):
            continue
        rep = ""
        for sort in ("pid", "pid,dso,sym"):  # pid = thread id here
            rep += subprocess.run(["perf", "report", "-i", pout, "--no-children", "--stdio",
                                   "--sort", sort, "--percent-limit", "0.5", "-g", "none"],
                                  capture_output=True, text=True).stdout
        rep += subprocess.run(["perf", "report", "-i", pout, "--children", "--stdio",
                               "--sort", "sym", "--percent-limit", "3", "-g", "none"],
                              capture_output=True, text=True).stdout
        with open(os.path.join(args.results, f"bench-{stamp}-{suffix}.txt"), "w") as f:
            f.write(rep)
        log(f"perf report written to {args.results}/bench-{stamp}-{suffix}.txt")
    log(f"results written to {out}")
    bad = any(not r["ok"] for res in (results, tls_results)
              for k in res for n in res[k] for r in res[k][n])
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
