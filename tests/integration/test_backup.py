# SPDX-License-Identifier: ISC
"""Backup and restore (practice 15) with the real daemon and real clients.

A gateway with three accounts (a password; TOTP 2FA; 2FA with an app
password), a DKIM key and mail deferred for a destination that is down is
backed up while mail and logins keep coming (`postern backup`). The backup
is restored into a fresh state_dir with the daemon stopped, a daemon started
on it: the same passwords, TOTP codes and app password log in, and the
deferred mail is delivered once the destination is up. A changed byte, a cut
file, the wrong passphrase and a state_dir that is not empty are each refused
with their own message and leave the state_dir empty. The disaster case (no
config, no state_dir, no TLS files) comes back from the backup alone.
Scheduled backups keep the last `keep`; key files work, the wrong one or
the wrong kind is named."""
import os
import re
import shutil
import smtplib
import stat
import subprocess
import threading
import time
import unittest

from harness import POSTERN, Daemon, Sink, free_port, sink_wait, wait_for
from test_auth import PW, add_user, login, totp_now, user

PASSPHRASE = "a long passphrase for the backups\n"
# Small Argon2 parameters for the accounts keep the tests quick; the guard
# only watches (the load below would trip its rate limits).
EXTRA = ("auth {\n    argon2_memory 8M\n    argon2_ops 1\n}\n"
         "guard {\n    ip_failures 100000\n    net_failures 100000\n    pair_failures 100000\n"
         "    tarpit 0\n    auth_rate 0\n    conn_rate 0\n    user_messages 0\n"
         "    greet_delay 0\n}\n")
DAMAGED = re.compile(r"backup \S+ is damaged or was modified \(at byte \d+")


def postern(*args, conf, timeout=120):
    return subprocess.run([POSTERN, *args, "-c", conf], capture_output=True, text=True,
                          timeout=timeout)


def secret_file(path, text, mode=0o600):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    return path


def gateway(live_port, down_port):
    """A daemon delivering example.test to live_port and down.test to
    down_port, signing sign.test, with its TLS files in its own directory
    (so that the disaster test can lose them)."""
    d = Daemon(deliver=f"smtp://127.0.0.1:{live_port}",
               extra=EXTRA + f"domain down.test {{\n    deliver smtp://127.0.0.1:{down_port}\n}}\n"
               "domain sign.test {\n    dkim selector s1\n}\n")
    tls = os.path.join(d.dir, "tls")
    os.mkdir(tls)
    cert, key = os.path.join(tls, "mx.crt"), os.path.join(tls, "mx.key")
    shutil.copy(d.cert, cert)
    shutil.copy(d.key, key)
    os.chmod(key, 0o600)
    with open(d.conf) as f:
        text = f.read()
    d.write_conf(text.replace(d.cert, cert).replace(d.key, key))
    d.cert, d.key = cert, key
    return d


def state_files(d):
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


class Load:
    """Mail and logins through the gateway until stopped."""

    def __init__(self, d):
        self.d = d
        self.stop = threading.Event()
        self.sent = 0
        self.logins = 0
        self.threads = [threading.Thread(target=self.mail, daemon=True),
                        threading.Thread(target=self.auth, daemon=True)]

    def mail(self):
        while not self.stop.is_set():
            try:
                with smtplib.SMTP("127.0.0.1", self.d.mx_port, timeout=30) as s:
                    for _ in range(5):
                        self.sent += 1
                        s.sendmail("load@example.org", ["bob@example.test"],
                                   f"Subject: load {self.sent}\r\n\r\nload\r\n")
            except (OSError, smtplib.SMTPException):
                time.sleep(0.1)

    def auth(self):
        while not self.stop.is_set():
            if login(self.d, "alice@example.test", PW)[0] == 235:
                self.logins += 1

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *a):
        self.stop.set()
        for t in self.threads:
            t.join(60)


class BackupRestore(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.live = Sink().start()
        cls.down_port = free_port()  # nothing listens here until the restore test
        cls.d = gateway(cls.live.port, cls.down_port)
        d = cls.d
        cls.pass_file = secret_file(os.path.join(d.dir, "passphrase"), PASSPHRASE)
        add_user(d, "alice@example.test")
        add_user(d, "carol@example.test")
        out = user(d, "2fa", "enable", "carol@example.test").stdout
        cls.secret = re.search(r"secret \(base32\): ([A-Z2-7]+)", out).group(1)
        add_user(d, "dave@example.test")
        user(d, "2fa", "enable", "dave@example.test")
        out = user(d, "app-password", "add", "dave@example.test", "--label", "phone").stdout
        cls.app = re.search(r"\(phone\): ([a-z0-9-]{19})", out).group(1)
        p = postern("dkim", "keygen", "sign.test", "s1", conf=d.conf)
        assert p.returncode == 0, p.stderr
        d.start()
        # mail for a destination that is down: deferred, in the queue
        with smtplib.SMTP("127.0.0.1", d.mx_port, timeout=30) as s:
            for i in range(3):
                s.sendmail("a@example.org", [f"x{i}@down.test"],
                           f"Subject: deferred {i}\r\n\r\nwaiting\r\n")
        assert wait_for(lambda: d.log().count("relay deferred") >= 3, 30), d.log()
        cls.backup = os.path.join(d.dir, "gateway.backup")
        with Load(d) as load:
            wait_for(lambda: load.sent > 20 and load.logins > 3, 30)
            cls.out = postern("backup", cls.backup, "--passphrase-file", cls.pass_file,
                              conf=d.conf)
            cls.load = (load.sent, load.logins)
        assert d.stop() == 0, d.log()
        cls.live.stop()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def fresh(self, name):
        """A config like the gateway's whose state_dir is a new, empty path."""
        state = os.path.join(self.d.dir, name)
        conf = os.path.join(self.d.dir, name + ".conf")
        with open(self.d.conf) as f:
            text = f.read()
        with open(conf, "w") as f:
            f.write(text.replace(f"state_dir {self.d.state}\n", f"state_dir {state}\n"))
        return conf, state

    def test_backup_under_load(self):
        p = self.out
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertGreater(self.load[0], 20)
        self.assertRegex(p.stdout, r"backup \S+gateway\.backup: \d+ bytes: 3 accounts \(2 with "
                                   r"2FA, 1 app passwords\), \d+ queued messages")
        st = os.stat(self.backup)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        with open(self.backup, "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"PSTNBKUP"))
        for plain in (b"BEGIN", b"SQLite format", self.secret.encode(), b"POSTERN-QUEUE",
                      b"state_dir"):
            self.assertNotIn(plain, data)
        v = postern("backup", "verify", self.backup, "--passphrase-file", self.pass_file,
                    conf=self.d.conf)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assertRegex(v.stdout, r"is intact: made \S+Z on mx\.example\.test by postern .*"
                                   r"\(\d+ queued messages\), 3 outside it")
        with open(os.path.join(self.d.state, "audit.log")) as f:
            recs = [line for line in f if '"event":"backup.create"' in line]
        self.assertEqual(len(recs), 1)
        self.assertIn('"actor":"cli:', recs[0])
        self.assertIn('"file":"' + self.backup, recs[0])

    def test_restore_serves_the_same_accounts_and_mail(self):
        conf, state = self.fresh("restored")
        p = postern("restore", self.backup, "--passphrase-file", self.pass_file, conf=conf)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("3 accounts (2 with 2FA, 1 app passwords)", p.stdout)
        self.assertRegex(p.stdout, r"audit log ok: \d+ records")
        self.assertNotIn(".restore", state_files(state))
        for f in ("accounts.db", "audit.log", "totp.key", "dkim", "spool"):
            self.assertIn(f, state_files(state))
        key = os.path.join(state, "dkim", "sign.test", "s1.key")
        self.assertEqual(stat.S_IMODE(os.stat(key).st_mode), 0o600)
        self.assertEqual(os.stat(key).st_uid, os.stat(os.path.join(self.d.state, "dkim",
                                                                    "sign.test", "s1.key")).st_uid)
        v = postern("audit", "verify", conf=conf)
        self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
        self.assertRegex(v.stdout, r"anchor seq=\d+: ok")  # the daemon's anchor came along
        with open(os.path.join(state, "audit.log")) as f:
            self.assertIn('"event":"backup.restore"', f.readlines()[-1])
        # a daemon on the restored state_dir
        with open(conf) as f:
            d2 = Daemon(body=f.read())
        d2.mx_port, d2.sub_port = self.d.mx_port, self.d.sub_port
        d2.conf = conf
        try:
            d2.start()
            self.assertEqual(login(d2, "alice@example.test", PW)[0], 235)
            self.assertEqual(login(d2, "alice@example.test", PW + "x")[0], 535)
            self.assertEqual(login(d2, "carol@example.test", PW)[0], 535)  # 2FA
            self.assertEqual(login(d2, "carol@example.test", PW + totp_now(self.secret))[0],
                             235)
            self.assertEqual(login(d2, "dave@example.test", self.app)[0], 235)
            self.assertEqual(login(d2, "dave@example.test", PW)[0], 535)
            # the destination comes up: the deferred mail is delivered
            with Sink(port=self.down_port) as down:
                d2.ctl("queue", "flush")
                got = sink_wait(down, lambda m: (m.header("Subject") or "").startswith(
                    "deferred "), n=3, timeout=60)
                self.assertEqual(sorted(m.header("Subject") for m in got),
                                 ["deferred 0", "deferred 1", "deferred 2"], d2.log())
        finally:
            d2.stop()
            shutil.rmtree(d2.dir, ignore_errors=True)

    def refused(self, backup, pattern, name):
        """restore of backup into a new state_dir fails with pattern and
        leaves nothing there."""
        conf, state = self.fresh(name)
        p = postern("restore", backup, "--passphrase-file", self.pass_file, conf=conf)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertRegex(p.stderr, pattern)
        self.assertEqual(state_files(state), [])
        return p

    def copy(self, name, edit):
        with open(self.backup, "rb") as f:
            data = bytearray(f.read())
        data = edit(data)
        path = os.path.join(self.d.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_a_changed_byte_is_refused(self):
        def flip(data):
            data[len(data) // 2] ^= 0x01
            return data
        path = self.copy("flipped.backup", flip)
        p = self.refused(path, DAMAGED, name="flipped")
        self.assertNotIn("wrong passphrase", p.stderr)
        v = postern("backup", "verify", path, "--passphrase-file", self.pass_file,
                    conf=self.d.conf)
        self.assertEqual(v.returncode, 1)
        self.assertRegex(v.stderr, DAMAGED)

    def test_a_cut_file_is_refused(self):
        for i, keep in enumerate((lambda n: n - 100, lambda n: n - 17, lambda n: n // 3)):
            path = self.copy(f"cut{i}.backup", lambda d: d[:keep(len(d))])
            self.refused(path, DAMAGED, name=f"cut{i}")

    def test_wrong_passphrase_is_refused(self):
        wrong = secret_file(os.path.join(self.d.dir, "wrong"), "not the passphrase at all\n")
        conf, state = self.fresh("wrongpass")
        p = postern("restore", self.backup, "--passphrase-file", wrong, conf=conf)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"wrong passphrase or key for backup {self.backup}", p.stderr)
        self.assertEqual(state_files(state), [])

    def test_not_empty_state_dir_is_refused(self):
        conf, state = self.fresh("busy")
        os.mkdir(state)
        with open(os.path.join(state, "leftover"), "w") as f:
            f.write("x")
        p = postern("restore", self.backup, "--passphrase-file", self.pass_file, conf=conf)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"state_dir {state} is not empty ({state}/leftover is in the way)",
                      p.stderr)
        self.assertEqual(state_files(state), ["leftover"])

    def test_not_a_backup(self):
        path = self.copy("junk.backup", lambda d: b"hello\n" + d)
        self.refused(path, r"junk\.backup is not a postern backup", name="junk")

    def test_zz_disaster_recovery(self):
        """No config, no state_dir, no TLS files: all of it from the backup."""
        d = self.d
        os.rename(d.state, d.state + ".lost")
        with open(d.conf) as f:
            text = f.read()
        for f in (d.conf, d.cert, d.key):
            os.unlink(f)
        p = postern("restore", self.backup, "--passphrase-file", self.pass_file, conf=d.conf)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(f"{d.key}: written", p.stdout)
        with open(d.conf) as f:
            self.assertEqual(f.read(), text)
        self.assertEqual(stat.S_IMODE(os.stat(d.key).st_mode), 0o600)
        d.start()
        self.assertEqual(login(d, "alice@example.test", PW)[0], 235)
        self.assertEqual(login(d, "dave@example.test", self.app)[0], 235)
        d.stop()


class KeysAndSchedules(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(deliver="smtp://127.0.0.1:9", extra=EXTRA)
        self.dir = self.d.dir
        add_user(self.d, "alice@example.test")

    def tearDown(self):
        self.d.cleanup()

    def test_key_files(self):
        key = os.path.join(self.dir, "backup.key")
        other = os.path.join(self.dir, "other.key")
        for k in (key, other):
            p = postern("backup", "keygen", k, conf=self.d.conf)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(stat.S_IMODE(os.stat(k).st_mode), 0o600)
        self.assertIn("exists already", postern("backup", "keygen", key,
                                                conf=self.d.conf).stderr)
        # the key named in the config
        with open(self.d.conf, "a") as f:
            f.write(f"backup {{\n    key_file {key}\n}}\n")
        bk = os.path.join(self.dir, "k.backup")
        p = postern("backup", bk, conf=self.d.conf)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("exists already (--force replaces it)",
                      postern("backup", bk, conf=self.d.conf).stderr)
        self.assertEqual(postern("backup", bk, "--force", conf=self.d.conf).returncode, 0)
        conf = os.path.join(self.dir, "r.conf")
        with open(self.d.conf) as f:
            text = f.read().replace(f"state_dir {self.d.state}\n",
                                    f"state_dir {self.dir}/r\n")
        with open(conf, "w") as f:
            f.write(text)
        p = postern("restore", bk, "--key-file", other, conf=conf)
        self.assertIn("wrong passphrase or key", p.stderr)
        pf = secret_file(os.path.join(self.dir, "pass"), PASSPHRASE)
        p = postern("restore", bk, "--passphrase-file", pf, conf=conf)
        self.assertIn("was made with a key file: give --key-file FILE", p.stderr)
        self.assertEqual(state_files(os.path.join(self.dir, "r")), [])
        p = postern("restore", bk, conf=conf)  # the key_file of the config
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("1 accounts", p.stdout)

    def test_help_and_usage(self):
        p = subprocess.run([POSTERN, "--help"], capture_output=True, text=True)
        for cmd in ("backup FILE [--passphrase-file F | --key-file F]", "backup --scheduled",
                    "backup keygen FILE", "backup verify FILE",
                    "restore FILE [--passphrase-file F | --key-file F]"):
            self.assertIn(cmd, p.stdout)
        for args in (["backup"], ["backup", "a", "b"], ["restore"], ["backup", "--scheduled", "x"]):
            p = postern(*args, conf=self.d.conf)
            self.assertEqual(p.returncode, 2, args)
            self.assertIn("usage: postern " + args[0], p.stderr)
        p = postern("backup", "--scheduled", "--passphrase-file", "/nonexistent",
                    conf=self.d.conf)
        self.assertIn("--scheduled needs backup { dir DIR } in the config", p.stderr)

    def test_secret_files_must_be_private(self):
        pf = secret_file(os.path.join(self.dir, "pass"), PASSPHRASE, mode=0o644)
        p = postern("backup", os.path.join(self.dir, "x.backup"), "--passphrase-file", pf,
                    conf=self.d.conf)
        self.assertEqual(p.returncode, 1)
        self.assertIn(f"{pf}: group or others may read it (mode 644): chmod 600", p.stderr)
        short = secret_file(os.path.join(self.dir, "short"), "hunter2\n")
        p = postern("backup", os.path.join(self.dir, "x.backup"), "--passphrase-file", short,
                    conf=self.d.conf)
        self.assertIn("shorter than 12 characters", p.stderr)
        p = postern("backup", os.path.join(self.dir, "x.backup"), conf=self.d.conf)
        self.assertIn("no key: give --passphrase-file FILE", p.stderr)
        pf = secret_file(os.path.join(self.dir, "pass2"), PASSPHRASE)
        p = postern("backup", os.path.join(self.d.state, "x.backup"), "--passphrase-file", pf,
                    conf=self.d.conf)
        self.assertIn("is in state_dir", p.stderr)
        self.assertEqual([f for f in os.listdir(self.dir) if f.endswith(".backup") or
                          ".backup." in f], [])

    def test_scheduled_keeps_the_last(self):
        bdir = os.path.join(self.dir, "backups")
        os.mkdir(bdir)
        pf = secret_file(os.path.join(self.dir, "pass"), PASSPHRASE)
        with open(self.d.conf, "a") as f:
            f.write(f"backup {{\n    dir {bdir}\n    keep 2\n    every 24h\n"
                    f"    passphrase_file {pf}\n}}\n")
        made = []
        for _ in range(3):
            second = int(time.time())
            wait_for(lambda: int(time.time()) != second, 2)
            p = postern("backup", "--scheduled", conf=self.d.conf)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            made.append(re.search(r"backup (\S+): ", p.stdout).group(1))
        left = sorted(os.listdir(bdir))
        self.assertEqual(len(left), 2, left)
        for name in left:
            self.assertRegex(name, r"^postern-\d{8}T\d{6}Z\.backup$")
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(bdir, name)).st_mode), 0o600)
        self.assertEqual([os.path.join(bdir, n) for n in left], made[1:])
        with open(os.path.join(self.d.state, "audit.log")) as f:
            recs = [line for line in f if '"event":"backup.create"' in line]
        self.assertEqual(len(recs), 3)
        self.assertTrue(all('"scheduled":true' in r for r in recs))


if __name__ == "__main__":
    unittest.main()
