# SPDX-License-Identifier: ISC
"""The HTTPS admin API (practice 17): admins log in with their account's
password and current TOTP code, get a short-lived token bound to their
address, and run any postern command under the role admin { api_account }
gives them, with the same table and the same audit record as the control
socket. A real HTTPS client (Python's http.client) against the real
daemon; codes from oathtool."""
import base64
import http.client
import json
import os
import re
import subprocess
import time
import unittest

from harness import POSTERN, Daemon, free_port, no_verify, wait_for

PW = "correct horse battery staple 9"
AUTH_CONF = "auth {\n    argon2_memory 8M\n    argon2_ops 1\n}\n"


def totp(secret, t=None):
    t = time.time() if t is None else t
    return subprocess.run(["oathtool", "--totp", "-b", "-N", f"@{int(t)}", secret],
                          capture_output=True, text=True, check=True).stdout.strip()


def audit(d):
    with open(os.path.join(d.state, "audit.log")) as f:
        return [json.loads(line) for line in f]


class Api(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api_port = free_port()
        conf = AUTH_CONF + (
            "admin {\n"
            f"    api 127.0.0.1:{cls.api_port}\n"
            "    api_allow 127.0.0.1/32 127.0.0.3/32\n"
            "    api_account alice@example.test admin\n"
            "    api_account olga@example.test operator\n"
            "    api_account aud@example.test auditor\n"
            "    api_account nofa@example.test admin\n"
            "    api_token_ttl 1m\n"
            "}\n")
        cls.d = Daemon(deliver="smtp://127.0.0.1:9", extra=conf)
        cls.secrets = {}
        for name in ("alice", "olga", "aud", "nofa", "bob"):
            acc = f"{name}@example.test"
            subprocess.run([POSTERN, "user", "add", acc, "--password-stdin", "-c", cls.d.conf],
                           input=PW + "\n", text=True, check=True, capture_output=True)
            if name != "nofa":
                out = cls.d.ctl("user", "2fa", "enable", acc).stdout
                cls.secrets[name] = re.search(r"secret \(base32\): ([A-Z2-7]+)", out).group(1)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def request(self, path, body=None, token=None, source="127.0.0.1", method="POST",
                raw=None):
        c = http.client.HTTPSConnection("127.0.0.1", self.api_port, timeout=30,
                                        context=no_verify(), source_address=(source, 0))
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        try:
            c.request(method, path, body=data, headers=headers)
            r = c.getresponse()
            text = r.read().decode()
            return r.status, (json.loads(text) if text else None)
        finally:
            c.close()

    def login(self, name, code=None, password=PW, source="127.0.0.1"):
        if code is None:
            code = totp(self.secrets[name])
        return self.request("/api/v1/login", {"account": f"{name}@example.test",
                                              "password": password, "code": code},
                            source=source)

    def run_cmd(self, token, *argv, stdin=None, source="127.0.0.1"):
        body = {"argv": list(argv)}
        if stdin is not None:
            body["stdin"] = base64.b64encode(stdin.encode()).decode()
        return self.request("/api/v1/run", body, token=token, source=source)

    def test_roles_through_the_api(self):
        st, r = self.login("alice")
        self.assertEqual(st, 200, r)
        self.assertEqual(r["role"], "admin")
        self.assertTrue(0 < r["expires_in"] <= 60)
        admin = r["token"]
        st, r = self.run_cmd(admin, "user", "add", "carol@example.test", "--password-stdin",
                             stdin=PW + "\n")
        self.assertEqual((st, r["status"]), (200, 0), r)
        add = [x for x in audit(self.d) if x["event"] == "user.add"][-1]
        self.assertEqual((add["account"], add["actor"]),
                         ("carol@example.test", "api:alice@example.test"))
        req = [x for x in audit(self.d) if x["event"] == "admin.request"][-1]
        self.assertEqual((req["via"], req["from"], req["role"]), ("api", "127.0.0.1", "admin"))
        st, r = self.run_cmd(admin, "role")
        self.assertTrue(r["stdout"].startswith("admin (api_account alice@example.test"), r)

        st, r = self.login("olga")
        self.assertEqual((st, r["role"]), (200, "operator"), r)
        op = r["token"]
        st, r = self.run_cmd(op, "queue", "list")
        self.assertEqual((st, r["status"]), (200, 0), r)
        st, r = self.run_cmd(op, "ban", "add", "192.0.2.0/24", "--reason", "api test")
        self.assertEqual(r["status"], 0, r)
        st, r = self.run_cmd(op, "user", "del", "carol@example.test")
        self.assertEqual(r["status"], 1)
        self.assertIn("needs the admin role; you are operator", r["stderr"])

        st, r = self.login("aud")
        self.assertEqual((st, r["role"]), (200, "auditor"), r)
        aud = r["token"]
        st, r = self.run_cmd(aud, "audit", "verify")
        self.assertEqual(r["status"], 0, r)
        self.assertIn("ok:", r["stdout"])
        st, r = self.run_cmd(aud, "ban", "del", "192.0.2.0/24")
        self.assertIn("needs the operator role; you are auditor", r["stderr"])
        denied = [x for x in audit(self.d) if x["event"] == "admin.denied"][-1]
        self.assertEqual((denied["actor"], denied["via"], denied["need"]),
                         ("api:aud@example.test", "api", "operator"))

        # a token is bound to its address, and ends at logout
        st, r = self.run_cmd(op, "queue", "list", source="127.0.0.3")
        self.assertEqual(st, 401)
        st, _ = self.request("/api/v1/logout", token=op)
        self.assertEqual(st, 204)
        st, r = self.run_cmd(op, "queue", "list")
        self.assertEqual(st, 401)
        # a forged one does nothing
        head, mac = admin.split(".")
        forged = head + "." + ("A" if mac[0] != "A" else "B") + mac[1:]
        self.assertEqual(self.run_cmd(forged, "queue", "list")[0], 401)
        self.assertEqual(self.run_cmd(None, "queue", "list")[0], 401)

    def test_logins_that_fail(self):
        # wrong code, no second factor, no API role, wrong password: all 401
        self.assertEqual(self.login("bob")[0], 401)  # 2FA, but no api_account
        self.assertEqual(self.login("nofa", code="123456")[0], 401)
        wrong = "000000" if totp(self.secrets["olga"]) != "000000" else "111111"
        self.assertEqual(self.login("olga", code=wrong)[0], 401)
        st, r = self.login("alice", password="not the password", code="123456")
        self.assertEqual((st, r["error"]), (401, "login failed"))
        reasons = {x.get("reason") for x in audit(self.d)
                   if x["event"] == "auth" and x.get("mechanism") == "ADMIN-API"}
        self.assertTrue({"no-admin-role", "admin-needs-2fa", "bad-code"} <= reasons, reasons)
        self.assertEqual(self.request("/api/v1/login", raw="{nonsense")[0], 400)

    def test_http_rules(self):
        self.assertEqual(self.request("/api/v1/run", method="GET")[0], 405)
        self.assertEqual(self.request("/nothing", {})[0], 404)
        # outside api_allow: refused whatever is asked
        st, r = self.request("/api/v1/login", {}, source="127.0.0.2")
        self.assertEqual((st, r["error"]), (403, "not allowed from this address"))
        # a network the guard bans is refused here as at the SMTP listeners
        self.d.ctl("ban", "add", "127.0.0.3/32", "--for", "10m")
        self.assertTrue(wait_for(lambda: self.request("/api/v1/login", {},
                                                      source="127.0.0.3")[0] == 403, 10))
        self.assertTrue(self.d.wait_log(r"api refused ip=127\.0\.0\.3 reason=banned"))
        self.d.ctl("ban", "del", "127.0.0.3/32")
        self.assertTrue(wait_for(lambda: self.request("/api/v1/login", {},
                                                      source="127.0.0.3")[0] == 400, 10))
        # plain HTTP on the TLS port gets no answer
        c = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=10)
        with self.assertRaises((http.client.HTTPException, ConnectionError, OSError)):
            c.request("POST", "/api/v1/login", body="{}")
            c.getresponse().read()
        c.close()


if __name__ == "__main__":
    unittest.main()
