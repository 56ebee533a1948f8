# SPDX-License-Identifier: ISC
"""The metrics an operator watches beyond the guard's (test_guard.Metrics)
and DMARC's (test_mailauth): TLS versions seen inbound and outbound, the
queue's age and make-up, days left on the certificate, and the mails of our
own. Each family is scraped before and after the event that moves it."""
import re
import smtplib
import subprocess
import time
import unittest
import urllib.request

from harness import POSTERN, Daemon, Sink, free_port, no_verify, test_cert, wait_for

MSG = "From: s@example.test\r\nTo: {to}\r\nSubject: metrics\r\n\r\nhello\r\n"


def value(text, series):
    """The value of one series in a scrape, or None."""
    m = re.search("^" + re.escape(series) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


class Families(unittest.TestCase):
    def test_tls_queue_cert_and_notices_move(self):
        # the next hop offers STARTTLS; mail to slow@ is deferred there
        def reply(cmd, arg, st):
            return "451 4.3.2 later" if cmd == "RCPT" and arg.startswith("slow@") else None

        sink = Sink(tls=test_cert("sink.example.test"), reply=reply).start()
        port = free_port()
        d = Daemon(deliver=f"smtp://127.0.0.1:{sink.port}",
                   extra=f"metrics 127.0.0.1:{port}\n"
                         "guard {\n    greet_delay 0\n}\n"
                         "queue {\n    retry_min 1h\n    retry_max 2h\n}\n")

        def scrape():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                return r.read().decode()
        try:
            d.start()
            inbound = 'postern_tls_sessions_total{direction="inbound",version="TLSv1.3"}'
            outbound = 'postern_tls_sessions_total{direction="outbound",version="TLSv1.3"}'
            deferred = 'postern_queue_messages_by_state{state="deferred"}'
            enrol = 'postern_notices_total{kind="2fa-enrolment"}'
            self.assertTrue(wait_for(lambda: value(scrape(), outbound) == 0, 5), scrape())
            first = scrape()
            self.assertEqual(value(first, inbound), 0)
            self.assertEqual(value(first, "postern_queue_oldest_seconds"), 0)
            self.assertEqual(value(first, deferred), 0)
            self.assertEqual(value(first, enrol), 0)
            # the certificate: made for 30 days, so 29 whole days left
            self.assertEqual(value(first, f'postern_cert_expiry_days{{cert="{d.cert}"}}'), 29)
            # one message in over TLS, out over TLS; one stays deferred
            for rcpt in ("r@example.test", "slow@example.test"):
                with smtplib.SMTP("127.0.0.1", d.mx_port, timeout=30) as s:
                    s.starttls(context=no_verify())
                    s.sendmail("s@example.test", [rcpt], MSG.format(to=rcpt))
            self.assertTrue(sink.wait_messages(1, 20))
            self.assertEqual(sink.messages[0].tls, "TLSv1.3")
            self.assertTrue(wait_for(lambda: value(scrape(), deferred) == 1, 20), scrape())
            time.sleep(2.5)
            now = scrape()
            self.assertEqual(value(now, inbound), 2)
            self.assertGreaterEqual(value(now, outbound), 1)
            self.assertGreaterEqual(value(now, "postern_queue_oldest_seconds"), 2)
            self.assertEqual(value(now, 'postern_queue_messages_by_state{state="held"}'), 0)
            self.assertEqual(value(now, "postern_queue_messages"), 1)
            # a notice of ours
            out = subprocess.run([POSTERN, "notice", "send", "2fa-enrolment",
                                  "kim@example.test", "-c", d.conf], capture_output=True,
                                 text=True, timeout=30)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertTrue(wait_for(lambda: value(scrape(), enrol) == 1, 5), scrape())
            self.assertIn("# TYPE postern_cert_expiry_days gauge", now)
            self.assertIn("# TYPE postern_tls_sessions_total counter", now)
        finally:
            d.cleanup()
            sink.stop()


if __name__ == "__main__":
    unittest.main()
