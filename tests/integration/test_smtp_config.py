# SPDX-License-Identifier: ISC
"""postern config check / config dump: a broken config is refused with
"FILE:LINE: message" naming the offending line and a non-zero exit; dump
shows every default."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import POSTERN

HEAD = "hostname mx.example.test\nstate_dir /var/lib/postern-test\n"
LISTEN = "listen 127.0.0.1:2525 {\n    role mx\n}\n"


class ConfigCheck(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="postern-conf-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def write(self, text, name="postern.conf"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def run_cli(self, *args):
        return subprocess.run([POSTERN, *args], capture_output=True, text=True, timeout=30)

    def assert_refused(self, text, line, words):
        path = self.write(text)
        p = self.run_cli("config", "check", "-c", path)
        out = p.stdout + p.stderr
        self.assertNotEqual(p.returncode, 0, out)
        self.assertIn(f"{path}:{line}: ", out)
        for w in words:
            self.assertIn(w, out)
        self.assertNotIn(": ok", p.stdout)
        return out

    def test_valid_config(self):
        path = self.write(HEAD + LISTEN
                          + "domain example.test {\n deliver smtp://127.0.0.1:25\n}\n")
        p = self.run_cli("config", "check", "-c", path)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn(f"{path}: ok", p.stdout)

    def test_unknown_directive(self):
        self.assert_refused(HEAD + "frobnicate yes\n" + LISTEN, 3, ["frobnicate"])

    def test_unknown_directive_in_block(self):
        self.assert_refused(HEAD + "listen 127.0.0.1:2525 {\n    role mx\n    colour red\n}\n",
                            5, ["colour"])

    def test_listen_without_role(self):
        self.assert_refused(HEAD + "\n# the listener\nlisten 127.0.0.1:2525 {\n}\n", 5,
                            ["role"])

    def test_listen_bad_address(self):
        for addr in ("127.0.0.1:99999", "localhost:25", "127.0.0.1", "[::1]25", "300.1.1.1:25"):
            with self.subTest(addr=addr):
                self.assert_refused(HEAD + LISTEN.replace("127.0.0.1:2525", addr), 3, [addr])

    def test_missing_state_dir(self):
        path = self.write("hostname mx.example.test\n" + LISTEN)
        p = self.run_cli("config", "check", "-c", path)
        out = p.stdout + p.stderr
        self.assertNotEqual(p.returncode, 0, out)
        self.assertRegex(out, re.escape(path) + r"(:\d+)?: missing 'state_dir'")

    def test_trusted_networks_whole_internet(self):
        for net in ("0.0.0.0/0", "::/0"):
            with self.subTest(net=net):
                out = self.assert_refused(
                    HEAD + LISTEN + f"trusted_networks 127.0.0.1/32 {net}\n", 6, [net])
                self.assertIn("open relay", out)

    def test_bad_values_name_their_line(self):
        cases = [
            (HEAD + LISTEN + "smtp {\n    max_message_size lots\n}\n", 7, "lots"),
            (HEAD + LISTEN + "smtp {\n    command_timeout soon\n}\n", 7, "soon"),
            (HEAD + LISTEN + "smtp {\n    line_endings lax\n}\n", 7, "lax"),
            (HEAD + LISTEN + "domain example.test {\n    deliver ftp://x\n}\n", 7, "ftp://x"),
            (HEAD + LISTEN + "domain example.test {\n}\n", 6, "deliver"),
            (HEAD + LISTEN + "hostname bad_host!\n", 6, "bad_host!"),
            (HEAD + LISTEN + LISTEN, 6, "already defined"),
        ]
        for text, line, word in cases:
            with self.subTest(word=word):
                self.assert_refused(text, line, [word])

    def test_out_of_range_limit_names_its_line(self):
        self.assert_refused(HEAD + LISTEN + "smtp {\n    max_message_size 1k\n}\n", 7,
                            ["max_message_size"])
        self.assert_refused(HEAD + LISTEN + "queue {\n    retry_min 1h\n    retry_max 5m\n}\n",
                            6, ["retry_max must be at least retry_min"])

    def test_trusting_half_the_internet_is_refused(self):
        self.assert_refused(HEAD + LISTEN + "trusted_networks 0.0.0.0/1 128.0.0.0/1\n", 6,
                            ["open relay"])

    def test_unclosed_block(self):
        self.assert_refused(HEAD + "listen 127.0.0.1:2525 {\n    role mx\n", 3, ["never closed"])

    def test_missing_file(self):
        p = self.run_cli("config", "check", "-c", os.path.join(self.dir, "nope.conf"))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("nope.conf", p.stderr)


class ConfigDump(unittest.TestCase):
    def test_dump_shows_defaults(self):
        d = tempfile.mkdtemp(prefix="postern-conf-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "postern.conf")
        with open(path, "w") as f:
            f.write(HEAD + LISTEN)
        p = subprocess.run([POSTERN, "config", "dump", "-c", path], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout
        for line in ("hostname mx.example.test", "state_dir /var/lib/postern-test",
                     "user postern", "listen 127.0.0.1:2525 {", "role mx",
                     "max_command_length 2048", "max_data_line_length 65536",
                     "max_recipients 100", "max_message_size 52428800", "max_errors 10",
                     "command_timeout 300s", "data_timeout 180s", "session_timeout 1800s",
                     "max_connections 1000", "max_connections_per_ip 20",
                     "shutdown_timeout 30s", "line_endings strict", "max_lifetime 432000s",
                     "retry_min 300s", "retry_max 4000s"):
            self.assertRegex(out, r"(?m)^\s*" + re.escape(line) + r"\s*$", out)
        # What dump prints is itself a valid config that means the same.
        again = os.path.join(d, "dumped.conf")
        with open(again, "w") as f:
            f.write(out)
        p2 = subprocess.run([POSTERN, "config", "dump", "-c", again], capture_output=True,
                            text=True, timeout=30)
        self.assertEqual(p2.returncode, 0, p2.stderr)
        self.assertEqual(p2.stdout, out)

    def test_dump_shows_overrides(self):
        d = tempfile.mkdtemp(prefix="postern-conf-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "postern.conf")
        with open(path, "w") as f:
            f.write(HEAD + LISTEN + "smtp {\n max_message_size 64k\n line_endings normalize\n}\n")
        p = subprocess.run([POSTERN, "config", "dump", "-c", path], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"(?m)^\s*max_message_size 65536$")
        self.assertRegex(p.stdout, r"(?m)^\s*line_endings normalize$")


if __name__ == "__main__":
    unittest.main()
