# SPDX-License-Identifier: ISC
"""Test harness: start the real postern daemon on free loopback ports with a
throwaway state dir, a scriptable SMTP/LMTP sink for it to deliver to, and
helpers for talking to both. Everything stays on 127.0.0.1 / ::1."""
import os
import pwd
import re
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

POSTERN = os.environ.get("POSTERN_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "postern")
SWAKS = shutil.which("swaks") or "/usr/bin/swaks"


_CERTS = {}
_CERT_DIR = None


def test_cert(name="mx.example.test", key="ec", days=30, ca=None):
    """A certificate for name (cached per process): (cert, key) paths.
    key: "ec" (P-256) or "rsa". ca: (ca_cert, ca_key) to sign with, or
    None for self-signed."""
    global _CERT_DIR
    k = (name, key, days, ca)
    if k in _CERTS:
        return _CERTS[k]
    if _CERT_DIR is None:
        _CERT_DIR = tempfile.mkdtemp(prefix="postern-certs-")
        os.chmod(_CERT_DIR, 0o755)
    base = os.path.join(_CERT_DIR, f"{name}-{key}-{days}-{len(_CERTS)}")
    newkey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if key == "ec" \
        else ["-newkey", "rsa:2048"]
    if ca is None:
        cmd = ["openssl", "req", "-x509", *newkey, "-nodes", "-days", str(days),
               "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
               "-keyout", base + ".key", "-out", base + ".crt"]
        subprocess.run(cmd, check=True, capture_output=True)
    else:
        subprocess.run(["openssl", "req", "-new", *newkey, "-nodes", "-subj", f"/CN={name}",
                        "-keyout", base + ".key", "-out", base + ".csr"],
                       check=True, capture_output=True)
        with open(base + ".ext", "w") as f:
            f.write(f"subjectAltName=DNS:{name}\n")
        subprocess.run(["openssl", "x509", "-req", "-in", base + ".csr", "-CA", ca[0],
                        "-CAkey", ca[1], "-CAcreateserial", "-days", str(days),
                        "-extfile", base + ".ext", "-out", base + ".crt"],
                       check=True, capture_output=True)
    _CERTS[k] = (base + ".crt", base + ".key")
    return _CERTS[k]


def test_ca(name="Postern Test CA"):
    """A CA certificate and key (cached): (cert, key) paths."""
    k = ("ca", name)
    if k in _CERTS:
        return _CERTS[k]
    test_cert()  # makes the directory
    base = os.path.join(_CERT_DIR, "ca-" + str(len(_CERTS)))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj", f"/CN={name}",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                    "-keyout", base + ".key", "-out", base + ".crt"],
                   check=True, capture_output=True)
    _CERTS[k] = (base + ".crt", base + ".key")
    return _CERTS[k]


def no_verify():
    """A client TLS context that accepts our self-signed test certificates."""
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def free_port(host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(host, port, timeout=10.0):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.socket(fam, socket.SOCK_STREAM) as s:
                s.settimeout(0.5)
                s.connect((host, port))
                return True
        except OSError:
            time.sleep(0.05)
    return False


def wait_for(pred, timeout=10.0, step=0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class Message:
    def __init__(self, mail_from, mail_params, rcpts, data):
        self.mail_from = mail_from        # str, without brackets
        self.mail_params = mail_params    # str after the path
        self.rcpts = rcpts                # list of (addr, params)
        self.data = data                  # bytes as on the wire, dot-stuffed, no final "."
        self.tls = None                   # the TLS version it came over, if any

    @property
    def content(self):
        """The message with dot-stuffing undone (RFC 5321 4.5.2)."""
        out = []
        for line in self.data.split(b"\r\n"):
            out.append(line[1:] if line.startswith(b".") else line)
        return b"\r\n".join(out)

    def header(self, name):
        head = self.content.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        m = re.search(r"^" + re.escape(name) + r":[ \t]*([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)",
                      head, re.M | re.I)
        return m.group(1) if m else None


class Sink:
    """A scriptable SMTP (or LMTP) server that records what it receives.

    reply(cmd, arg, state) may return a reply line to override the default;
    it is called with cmd in MAIL, RCPT, DATA, DOT (end of data; for LMTP once
    per accepted recipient with arg=recipient)."""

    def __init__(self, host="127.0.0.1", port=None, lmtp=False, unix_path=None,
                 ehlo=("PIPELINING", "8BITMIME", "SMTPUTF8", "DSN", "SIZE 100000000",
                       "ENHANCEDSTATUSCODES"), reply=None, tls=None):
        """tls: (cert, key) to offer STARTTLS with."""
        self.tls = tls
        self.host = host
        self.port = port or (None if unix_path else free_port(host))
        self.lmtp = lmtp
        self.unix_path = unix_path
        self.ehlo = ehlo
        self.reply = reply
        self.messages = []
        self.transcripts = []
        self.connections = 0
        self.open_socks = []
        self.lock = threading.Lock()
        self.server = None

    def start(self):
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                with sink.lock:
                    sink.connections += 1
                    sink.open_socks.append(self.connection)
                try:
                    sink._session(self.rfile, self.wfile, self.connection)
                except (OSError, ssl.SSLError):
                    pass

        if self.unix_path:
            class S(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
                daemon_threads = True
            self.server = S(self.unix_path, Handler)
        else:
            class S(socketserver.ThreadingMixIn, socketserver.TCPServer):
                daemon_threads = True
                allow_reuse_address = True
                address_family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            self.server = S((self.host, self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        """Stop listening and drop every open connection (a server going down)."""
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        with self.lock:
            for c in self.open_socks:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.open_socks = []

    def __enter__(self):
        return self.start()

    def __exit__(self, *a):
        self.stop()

    def _answer(self, cmd, arg, default, st):
        if self.reply:
            r = self.reply(cmd, arg, st)
            if r:
                return r
        return default

    def _session(self, rfile, wfile, conn=None):
        io = {"r": rfile, "w": wfile}

        def send(line):
            io["w"].write(line.encode() + b"\r\n")
            io["w"].flush()

        send("220 sink.test ESMTP test sink")
        tls_info = None
        st = {"from": None, "params": "", "rcpts": [], "accepted": []}
        transcript = []
        while True:
            rfile, wfile = io["r"], io["w"]
            line = rfile.readline(100000)
            if not line:
                return
            transcript.append(line)
            text = line.rstrip(b"\r\n").decode("utf-8", "replace")
            verb = text.split(" ", 1)[0].upper()
            if verb == "STARTTLS" and self.tls and tls_info is None and conn is not None:
                send("220 2.0.0 go ahead")
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.load_cert_chain(*self.tls)
                conn = ctx.wrap_socket(conn, server_side=True)
                tls_info = conn.version()
                io["r"], io["w"] = conn.makefile("rb"), conn.makefile("wb")
                continue
            if verb in ("EHLO", "LHLO"):
                lines = ["sink.test"] + list(self.ehlo)
                if self.tls and tls_info is None:
                    lines.insert(1, "STARTTLS")
                for i, l in enumerate(lines):
                    send(("250 " if i == len(lines) - 1 else "250-") + l)
            elif verb == "HELO":
                send("250 sink.test")
            elif verb == "MAIL":
                m = re.match(r"MAIL FROM:<([^>]*)>\s*(.*)", text, re.I)
                st = {"from": m.group(1) if m else "", "params": m.group(2) if m else "",
                      "rcpts": [], "accepted": []}
                send(self._answer("MAIL", st["from"], "250 2.1.0 ok", st))
            elif verb == "RCPT":
                m = re.match(r"RCPT TO:<([^>]*)>\s*(.*)", text, re.I)
                addr = m.group(1) if m else ""
                r = self._answer("RCPT", addr, "250 2.1.5 ok", st)
                st["rcpts"].append((addr, m.group(2) if m else ""))
                if r.startswith("2"):
                    st["accepted"].append((addr, m.group(2) if m else ""))
                send(r)
            elif verb == "DATA":
                r = self._answer("DATA", "", "354 go ahead" if st["accepted"]
                                 else "554 5.5.1 no valid recipients", st)
                send(r)
                if not r.startswith("354"):
                    continue
                data = b""
                while True:
                    l = rfile.readline(1000000)
                    if not l:
                        return
                    if l == b".\r\n":
                        break
                    data += l
                with self.lock:
                    msg = Message(st["from"], st["params"], list(st["accepted"]), data)
                    msg.tls = tls_info
                    if self.lmtp:
                        for addr, _ in st["accepted"]:
                            r = self._answer("DOT", addr, "250 2.0.0 delivered", st)
                            send(r)
                            if r.startswith("2"):
                                m1 = Message(st["from"], st["params"], [(addr, "")], data)
                                m1.tls = tls_info
                                self.messages.append(m1)
                    else:
                        r = self._answer("DOT", "", "250 2.0.0 queued", st)
                        if r.startswith("2"):
                            self.messages.append(msg)
                        send(r)
            elif verb == "RSET":
                st = {"from": None, "params": "", "rcpts": [], "accepted": []}
                send("250 2.0.0 ok")
            elif verb == "NOOP":
                send("250 2.0.0 ok")
            elif verb == "QUIT":
                send("221 2.0.0 bye")
                with self.lock:
                    self.transcripts.append(b"".join(transcript))
                return
            else:
                send("502 5.5.2 unknown")

    def wait_messages(self, n, timeout=15.0):
        wait_for(lambda: len(self.messages) >= n, timeout)
        return self.messages


class Daemon:
    """postern serve with a generated config in a temporary directory."""

    def __init__(self, body=None, domains=("example.test",), deliver=None, smarthost=None,
                 trusted="127.0.0.1/32", extra="", hostname="mx.example.test", v6=False,
                 implicit=False):
        self.dir = tempfile.mkdtemp(prefix="postern-test-")
        # The unprivileged user must be able to reach state_dir.
        os.chmod(self.dir, 0o755)
        self.state = os.path.join(self.dir, "state")
        self.conf = os.path.join(self.dir, "postern.conf")
        self.logfile = os.path.join(self.dir, "postern.log")
        self.host = "127.0.0.1"
        self.mx_port = free_port()
        self.sub_port = free_port()
        self.v6_port = free_port("::1") if v6 else None
        self.implicit_port = free_port() if implicit else None
        self.cert, self.key = test_cert(hostname)
        self.proc = None
        if body is None:
            lines = [f"hostname {hostname}", f"state_dir {self.state}",
                     f"tls {{\n    cert {self.cert}\n    key {self.key}\n}}",
                     f"listen 127.0.0.1:{self.mx_port} {{\n    role mx\n}}",
                     f"listen 127.0.0.1:{self.sub_port} {{\n    role submission\n}}"]
            if implicit:
                lines.append(f"listen 127.0.0.1:{self.implicit_port} {{\n    role submission\n"
                             f"    tls implicit\n}}")
            if v6:
                lines.append(f"listen [::1]:{self.v6_port} {{\n    role mx\n}}")
            for d in domains:
                lines.append(f"domain {d} {{\n    deliver {deliver}\n}}")
            if smarthost:
                lines.append(f"relay {{\n    smarthost {smarthost}\n}}")
            if trusted:
                lines.append(f"trusted_networks {trusted}")
            lines.append(extra)
            body = "\n".join(lines) + "\n"
        self.write_conf(body)

    def write_conf(self, body):
        with open(self.conf, "w") as f:
            f.write(body)

    def start(self, wait=True, env=None, prefix=()):
        """env: extra environment variables; prefix: a command that runs
        postern (like as_service_user's)."""
        before = len(self.log())
        self.log_fd = open(self.logfile, "ab")
        self.proc = subprocess.Popen([*prefix, POSTERN, "serve", "-c", self.conf],
                                     stdout=self.log_fd, stderr=subprocess.STDOUT,
                                     start_new_session=True,
                                     env=dict(os.environ, **env) if env else None)
        if wait:
            # the auth process has its store open (it writes to state_dir)
            ok = wait_for(lambda: "parent started" in self.log()[before:] and
                          "auth ready" in self.log()[before:], 15) and \
                wait_port(self.host, self.mx_port)
            if not ok:
                raise RuntimeError("postern did not start:\n" + self.log()[before:])
        return self

    def log(self):
        try:
            with open(self.logfile, "r", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern, timeout=10.0):
        return wait_for(lambda: re.search(pattern, self.log(), re.M), timeout)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=40):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill9()
        rc = self.proc.returncode
        self.proc = None
        self.log_fd.close()
        return rc

    def kill9(self):
        """A crash: every process of the daemon at once."""
        if self.proc is None:
            return
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None
        self.log_fd.close()

        def group_gone():
            try:
                os.killpg(pgid, 0)
                return False
            except ProcessLookupError:
                return True
        wait_for(group_gone, 10)

    def cleanup(self):
        if self.proc is not None:
            self.stop()
        if os.environ.get("POSTERN_KEEP_TEST_DIRS"):
            return
        shutil.rmtree(self.dir, ignore_errors=True)

    def ctl(self, *args, check=True):
        p = subprocess.run([POSTERN, *args, "-c", self.conf], capture_output=True, text=True,
                           timeout=30)
        if check and p.returncode != 0:
            raise AssertionError(f"postern {' '.join(args)} failed: {p.stdout}{p.stderr}")
        return p

    def queue_ids(self):
        out = self.ctl("queue", "list").stdout
        return re.findall(r"^([0-9a-f]{16}) ", out, re.M)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.cleanup()


SERVICE_USER = "postern"


def as_service_user(d, caps=("net_bind_service",)):
    """Prepare d to run the way contrib/systemd/postern.service runs it:
    as the unprivileged SERVICE_USER from the start, with only caps
    (ambient), its state_dir and TLS key its own. Returns the command
    prefix for Daemon.start (util-linux setpriv). Needs root."""
    pw = pwd.getpwnam(SERVICE_USER)
    key = os.path.join(d.dir, "service.key")
    shutil.copyfile(d.key, key)
    os.chown(key, pw.pw_uid, pw.pw_gid)
    os.chmod(key, 0o600)
    with open(d.conf) as f:
        text = f.read()
    d.write_conf(text.replace(d.key, key))
    d.key = key
    os.makedirs(d.state, exist_ok=True)
    os.chown(d.state, pw.pw_uid, pw.pw_gid)
    capset = ",".join(["-all"] + ["+" + c for c in caps])
    return ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups",
            f"--inh-caps={capset}", f"--ambient-caps={capset}", f"--bounding-set={capset}"]


def can_run_as_service_user():
    """None, or why as_service_user cannot be used here."""
    if os.geteuid() != 0:
        return "needs root (to start postern as the service user)"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        return f"no user {SERVICE_USER} (scripts/deps.sh creates it)"
    return None


def proc_pid(d, name):
    """The pid of d's process name (smtp, queue, auth) from its log lines."""
    m = re.findall(r"postern/" + name + r"\[(\d+)\]", d.log())
    return int(m[-1]) if m else None


def proc_status(pid):
    """/proc/PID/status as a dict."""
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


class Client:
    """A raw SMTP client for protocol tests: exact bytes in, replies out."""

    def __init__(self, port, host="127.0.0.1", timeout=10):
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.s = socket.socket(fam, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect((host, port))
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.s.sendall(data)

    def reply(self):
        """One complete (possibly multi-line) reply as text; '' on close."""
        lines = []
        while True:
            while b"\n" not in self.buf:
                try:
                    chunk = self.s.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    chunk = b""
                if not chunk:
                    return "\n".join(lines)
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            line = line.rstrip(b"\r").decode("utf-8", "replace")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return "\n".join(lines)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def starttls(self, server_hostname=None):
        """STARTTLS and the handshake; returns the 220 reply."""
        r = self.cmd("STARTTLS")
        if not r.startswith("220"):
            return r
        assert self.buf == b"", "the server sent data after its 220"
        self.s = no_verify().wrap_socket(self.s, server_hostname=server_hostname)
        return r

    def closed(self, timeout=5):
        """True once the server has closed the connection."""
        self.s.settimeout(timeout)
        try:
            while True:
                d = self.s.recv(65536)
                if not d:
                    return True
                self.buf += d
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.s.close()


def swaks(*args, timeout=60):
    return subprocess.run([SWAKS, "--hide-all", *args], capture_output=True, text=True,
                          timeout=timeout)


# Helpers for the protocol tests (tests/integration/test_smtp_*.py).

def smtp_send(port, sender, rcpts, body, host="127.0.0.1", timeout=30, starttls=False, **kw):
    """sendmail() through Python's smtplib (STARTTLS first if asked);
    returns the refused-recipients dict."""
    import smtplib
    with smtplib.SMTP(host, port, timeout=timeout) as s:
        if starttls:
            s.starttls(context=no_verify())
        return s.sendmail(sender, rcpts, body, **kw)


class ProtoClient(Client):
    """Client with the conveniences the protocol tests share."""

    def __init__(self, port, host="127.0.0.1", timeout=10, greet=True):
        super().__init__(port, host=host, timeout=timeout)
        self.greeting = self.reply() if greet else None

    def replies(self, n):
        """Exactly n replies (fewer only if the server closed)."""
        out = []
        for _ in range(n):
            r = self.reply()
            if r == "":
                break
            out.append(r)
        return out

    def drain(self, timeout=5):
        """Every reply until the server closes, or until it has been silent
        for timeout seconds; returns (replies, closed)."""
        data, self.buf, closed = self.buf, b"", False
        self.s.settimeout(timeout)
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    closed = True
                    break
                data += chunk
        except (ConnectionResetError, BrokenPipeError):
            closed = True
        except socket.timeout:
            pass
        out, lines = [], []
        for raw in data.split(b"\n"):
            if not raw:
                continue
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                out.append("\n".join(lines))
                lines = []
        if lines:
            out.append("\n".join(lines))
        return out, closed

    def ehlo(self, name="client.example.org"):
        r = self.cmd(f"EHLO {name}")
        if not r.startswith("250"):
            raise AssertionError(f"EHLO refused: {r!r}")
        return r

    def bdat(self, chunk, last=False):
        """Send one BDAT command and its chunk in a single write (no reply read)."""
        if isinstance(chunk, str):
            chunk = chunk.encode()
        self.send(f"BDAT {len(chunk)}{' LAST' if last else ''}\r\n".encode() + chunk)

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def queued_id(reply):
    """The queue id in a '250 2.0.0 Ok: queued as ID' reply, or None."""
    m = re.search(r"queued as ([0-9a-f]{16})", reply)
    return m.group(1) if m else None


def sink_wait(sink, pred, n=1, timeout=15.0):
    """The sink's messages for which pred(message) holds, once there are n of
    them (or after timeout, however many there are)."""
    def match():
        with sink.lock:
            return [m for m in sink.messages if pred(m)]
    wait_for(lambda: len(match()) >= n, timeout)
    return match()


class DaemonAndSink(unittest.TestCase):
    """A daemon delivering example.test to a Sink, shared by a test class."""

    @classmethod
    def setUpClass(cls):
        cls.sink = Sink().start()
        cls.d = Daemon(deliver=f"smtp://127.0.0.1:{cls.sink.port}").start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()
        cls.sink.stop()
