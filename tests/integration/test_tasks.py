# SPDX-License-Identifier: ISC
"""Scheduled tasks of the queue process: backup { every } runs `postern
backup --scheduled` and check { mail_to } runs `postern check` and mails
its report through our own queue. The schedule survives a restart (the
last runs are kept in state_dir/tasks.state)."""
import os
import pwd
import re
import shutil
import tempfile
import time
import unittest

from harness import Daemon, Sink, wait_for
from testdns import Knot


class Schedules(unittest.TestCase):
    def test_backup_and_check_run_by_themselves(self):
        sink = Sink().start()
        self.addCleanup(sink.stop)
        dns = Knot({"example.test": 'mx A 127.0.0.1\n'}).start()
        self.addCleanup(dns.stop)
        bdir = tempfile.mkdtemp(prefix="postern-backups-")
        self.addCleanup(shutil.rmtree, bdir, True)
        os.chmod(bdir, 0o777)  # written by the daemon's user
        pw = os.path.join(bdir, "pass")
        with open(pw, "w") as f:
            f.write("a long passphrase for the test backups\n")
        os.chmod(pw, 0o600)
        if os.geteuid() == 0:  # the daemon's user reads it
            u = pwd.getpwnam("postern")
            os.chown(pw, u.pw_uid, u.pw_gid)
        extra = (f"resolver 127.0.0.1:{dns.port}\n"
                 f"backup {{\n    dir {bdir}\n    every 1m\n    keep 2\n"
                 f"    passphrase_file {pw}\n}}\n"
                 "check {\n    mail_to security@example.test\n}\n")
        d = Daemon(deliver=f"smtp://127.0.0.1:{sink.port}", extra=extra)
        self.addCleanup(d.cleanup)
        d.start()
        # both are due shortly after the first start
        self.assertTrue(wait_for(lambda: [f for f in os.listdir(bdir)
                                          if f.endswith(".backup")], 60), d.log())
        self.assertTrue(d.wait_log(r"queue task=backup status=0", 30), d.log())
        msgs = sink.wait_messages(1, timeout=90)
        report = [m for m in msgs if b"Subject: postern check on mx.example.test" in m.data]
        self.assertTrue(report, d.log())
        self.assertRegex(report[0].data.decode(errors="replace"),
                         r"Subject: postern check on mx\.example\.test: "
                         r"(nothing above low|worst finding: \w+)")
        self.assertIn(b"Auto-Submitted: auto-generated", report[0].data)
        with open(os.path.join(d.state, "tasks.state")) as f:
            state = f.read()
        self.assertRegex(state, r"backup [1-9]\d+\n")
        self.assertRegex(state, r"check [1-9]\d+\n")
        # a restart does not run them again at once: they ran just now
        d.stop()
        n = len(sink.messages)
        d.start()
        time.sleep(15)
        self.assertEqual(len(sink.messages), n)
        self.assertEqual(len(re.findall(r"queue task=check status=", d.log())), 1)


if __name__ == "__main__":
    unittest.main()
