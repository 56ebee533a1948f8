/* SPDX-License-Identifier: ISC */
/*
 * findings - the catalogue of what `postern check` can report, and the
 * report as text and JSON (see findings.h).
 *
 * SECURITY: see findings.h; findings_clean() is the one place untrusted
 * text enters a finding.
 * STANDARDS: RFC 8259, RFC 3339.
 */
#include "cli/findings.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

#define FIX_TLS_CIPHERS                                                                    \
	"Remove 'ciphers' from the tls block: postern's own list is ECDHE key exchange with " \
	"AES-GCM or ChaCha20-Poly1305 only."
#define FIX_PUBLISH "Publish the record shown under it at your DNS provider."

/* The catalogue, in the order docs/operations.md lists it. */
static const struct findings_kind kinds[] = {
	/* listeners, TLS and relaying */
	{"auth.plaintext", SEV_CRITICAL, "AUTH is possible without TLS",
	 "Passwords can cross the network in clear text (PLAIN and LOGIN are only base64), where "
	 "anyone on the path can read them.",
	 "postern never offers AUTH before TLS, so the program answering on this address is not "
	 "this postern: find it with 'ss -ltnp' and stop it, or move postern's listener there."},
	{"relay.open", SEV_CRITICAL, "Open relay: mail for outside domains is accepted without AUTH",
	 "Anyone can send mail to anywhere through this gateway; it will be used for spam and "
	 "blocklisted within hours.",
	 "Remove from trusted_networks every network that is not yours, and check with 'ss -ltnp' "
	 "that postern is what answers on this address."},
	{"relay.refused", SEV_INFO, "The open-relay test was refused, as it should be",
	 "Mail for an outside domain without AUTH was not accepted.", ""},
	{"relay.probe-inconclusive", SEV_INFO, "The open-relay test could not decide",
	 "The test connects from this host; when this host is in trusted_networks, or the server "
	 "refused the test sender, the answer says nothing about other clients.",
	 "Test from a host outside trusted_networks: swaks --server GATEWAY --to "
	 "relay-test@example.net (a refusal at RCPT is right)."},
	{"relay.trusted-wide", SEV_HIGH, "trusted_networks includes a wide public network",
	 "Every address in trusted_networks may relay to any domain without AUTH; a public network "
	 "wider than a /24 (IPv6 /48) is mostly other people's machines.",
	 "List only your own hosts and networks in trusted_networks, as narrow as they are, and let "
	 "users authenticate on the submission port instead."},
	{"smtp.sandbox-off", SEV_HIGH, "The smtp process runs without its sandbox",
	 "smtp { sandbox no }: the process that parses everything the internet sends may open "
	 "files and start programs, so a bug in it is a foothold on the gateway.",
	 "Remove 'sandbox no' from smtp { } (it is meant for debugging only) and restart postern."},
	{"admin.api-exposed", SEV_HIGH, "The admin API answers a wide public network",
	 "admin { api_allow } lets a public network wider than a /24 (IPv6 /48) reach the HTTPS "
	 "admin API: anyone there can try admin passwords and codes, and every weakness of the API "
	 "is theirs to find.",
	 "List only the hosts admins work from in api_allow (the default is loopback), or reach the "
	 "API through an SSH tunnel or a VPN."},
	{"admin.api-not-loopback", SEV_LOW, "The admin API listens beyond this host",
	 "admin { api } is bound to an address other hosts can reach; api_allow decides who is "
	 "answered.",
	 "Keep api_allow to the admins' own hosts, or bind the API to 127.0.0.1 and use an SSH "
	 "tunnel."},
	{"tls.mx-plaintext", SEV_MEDIUM, "An mx listener does not offer STARTTLS",
	 "Mail from the internet to this listener travels in clear text, and senders that require "
	 "TLS (MTA-STS, DANE) cannot deliver to it.",
	 "Add a tls { cert FILE; key FILE } block and remove 'tls none' from the listener "
	 "(starttls is the default once a certificate is configured)."},
	{"tls.no-starttls", SEV_HIGH, "A listener does not offer STARTTLS although configured to",
	 "Its EHLO reply does not list STARTTLS, so clients stay in clear text or cannot "
	 "authenticate.",
	 "Check with 'ss -ltnp' that postern answers on this address and with 'postern config "
	 "check' that the certificates load."},
	{"tls.handshake-failed", SEV_HIGH, "TLS does not work on a listener",
	 "A TLS 1.2 or 1.3 handshake failed, so clients that insist on TLS cannot connect.",
	 "Look for 'tls-handshake-failed' in the log and check the certificate and key with "
	 "'postern config check'."},
	{"tls.min-version", SEV_HIGH, "A listener accepts TLS 1.0 or 1.1",
	 "TLS 1.0 and 1.1 are deprecated (RFC 8996): their handshakes rest on MD5 and SHA-1 and "
	 "clients can be pushed down to them.",
	 "postern never accepts less than TLS 1.2 ('min_version' in the tls block), so the program "
	 "answering here is not this postern: find it with 'ss -ltnp'."},
	{"tls.versions", SEV_INFO, "TLS versions a listener accepts",
	 "What a handshake with each TLS version gave.", ""},
	{"tls.ciphers-broken", SEV_HIGH, "The TLS 1.2 cipher list allows broken ciphers",
	 "NULL, anonymous, export, RC4, DES, 3DES, IDEA or MD5 cipher suites let an attacker read "
	 "or change the traffic.",
	 FIX_TLS_CIPHERS},
	{"tls.ciphers-no-forward-secrecy", SEV_MEDIUM,
	 "The TLS 1.2 cipher list allows key exchange without forward secrecy",
	 "With RSA key exchange, whoever obtains the certificate's key later can decrypt every "
	 "recorded session.",
	 FIX_TLS_CIPHERS},
	{"tls.ciphers-cbc", SEV_LOW, "The TLS 1.2 cipher list allows CBC-mode ciphers",
	 "CBC suites have a long history of padding-oracle attacks (Lucky 13); AEAD suites do not.",
	 FIX_TLS_CIPHERS},
	{"tls.cert-unreadable", SEV_HIGH, "A certificate file cannot be read",
	 "postern cannot start or reload with a certificate it cannot read.",
	 "Check the path in the tls block and that the file is a PEM certificate: 'postern config "
	 "check' says more."},
	{"tls.cert-expired", SEV_CRITICAL, "A certificate has expired",
	 "Clients that verify certificates refuse the connection, and senders with MTA-STS or DANE "
	 "do not deliver.",
	 "Renew it (e.g. certbot renew), install it at the configured path and reload postern "
	 "(kill -HUP the parent): certificates are read again without a restart."},
	{"tls.cert-expiring", SEV_HIGH, "A certificate expires within 30 days",
	 "When it expires, clients that verify certificates refuse the connection.",
	 "Renew it now (e.g. certbot renew) and reload postern (kill -HUP the parent)."},
	{"tls.cert-self-signed", SEV_MEDIUM, "A certificate is self-signed",
	 "No client can verify it: mail clients warn or refuse, senders with MTA-STS do not "
	 "deliver, and a man in the middle goes unnoticed.",
	 "Use a certificate from a CA (e.g. Let's Encrypt: certbot certonly -d HOSTNAME) and point "
	 "'cert' and 'key' at it."},
	{"tls.cert-key-small", SEV_HIGH, "A certificate's key is too small",
	 "RSA keys under 2048 bits and elliptic curves under 256 bits can be broken, and OpenSSL's "
	 "default security level refuses them.",
	 "Make a new key (RSA 3072 or ECDSA P-256) and have the certificate reissued for it."},
	{"tls.cert-weak-signature", SEV_HIGH, "A certificate is signed with SHA-1 or MD5",
	 "Collisions in these hashes let a forged certificate carry a valid signature; clients "
	 "refuse them.",
	 "Have the certificate reissued with a SHA-256 signature."},
	{"tls.cert-name", SEV_MEDIUM, "The default certificate does not name this host",
	 "Clients that check the name (mail clients, senders with MTA-STS) refuse a certificate "
	 "that does not cover 'hostname'.",
	 "Get a certificate whose subjectAltName includes the hostname, or set 'hostname' to a name "
	 "it covers."},
	{"tls.relay-plaintext", SEV_MEDIUM, "Outbound mail is sent without TLS",
	 "'relay { tls none }' sends every message in clear text, even to servers that offer "
	 "STARTTLS.",
	 "Remove 'tls none' from the relay block ('may', the default, uses TLS whenever it is "
	 "offered; 'verify' requires it)."},
	/* the guard */
	{"guard.off", SEV_HIGH, "The guard is off",
	 "'guard { enabled no }' turns off failure counting, bans, account locks, rate limits and "
	 "protocol-abuse checks: password guessing goes unchecked.",
	 "Remove 'enabled no' from the guard block."},
	{"guard.lockout-loose", SEV_MEDIUM, "Lockout thresholds are far above the defaults",
	 "An attacker may try many more passwords before the address is banned or the account "
	 "locked.",
	 "Remove the directive named under it from the guard block (the defaults: ip_failures 5, "
	 "net_failures 20, account_failures 100)."},
	{"guard.ban-short", SEV_MEDIUM, "Bans are very short",
	 "A ban that ends within a minute or two hardly slows a password guesser down.",
	 "Remove ban_time and ban_max from the guard block (10 minutes, doubling for repeat "
	 "offenders up to 7 days)."},
	{"guard.rate-off", SEV_MEDIUM, "A connection or AUTH rate limit is off",
	 "Without conn_rate and auth_rate one address may connect and try passwords as fast as "
	 "the network allows.",
	 "Remove the directive named under it from the guard block (conn_rate 120 and auth_rate 30 "
	 "a minute are the defaults)."},
	{"guard.rate-loose", SEV_LOW, "A rate limit is far above its default",
	 "At ten times the default the limit rarely stops anything.",
	 "Lower the directive named under it, or remove it to get the default."},
	{"guard.user-rate-off", SEV_LOW, "Per-user sending limits are off",
	 "A stolen account can send without limit until someone notices.",
	 "Remove 'user_messages 0' and 'user_recipients 0' from the guard block (500 messages and "
	 "1000 recipients an hour are the defaults)."},
	{"guard.tarpit-off", SEV_LOW, "Failed logins are answered at once",
	 "Without the tarpit a guesser gets each answer immediately.",
	 "Remove 'tarpit 0' from the guard block (1 second, doubling per failure)."},
	{"guard.no-alerts", SEV_LOW, "Nobody is told of attacks",
	 "Bans, account locks, password spraying and credential stuffing are only logged.",
	 "Add 'alert_to security@YOUR-DOMAIN' to the guard block."},
	/* the password policy */
	{"auth.strength-off", SEV_HIGH, "Password strength is not checked",
	 "With min_entropy 0, passwords like 'Summer2026!' are accepted; they fall to an "
	 "attacker's first guesses.",
	 "Set 'min_entropy 40' (the default) in the auth block."},
	{"auth.strength-weak", SEV_MEDIUM, "The password strength bar is low",
	 "Below 30 bits zxcvbn accepts passwords that an offline attack finds quickly.",
	 "Set 'min_entropy 40' (the default) in the auth block."},
	{"auth.min-length", SEV_LOW, "Short passwords are allowed",
	 "NIST SP 800-63B allows 8 characters with a strength check; passphrases of 12 or more "
	 "resist guessing far better.",
	 "Set 'min_length 12' (the default) in the auth block."},
	{"auth.breached-list-off", SEV_LOW, "No breached-password list",
	 "NIST SP 800-63B asks to refuse passwords known from breaches; zxcvbn knows common ones, "
	 "a breach list knows millions more.",
	 "Set 'banned_file /etc/postern/breached.txt' in the auth block (SHA-1 hashes or words, one "
	 "a line, e.g. from the Pwned Passwords list)."},
	{"auth.breached-list-unreadable", SEV_MEDIUM, "The breached-password list cannot be read",
	 "Setting and changing passwords fails while the list named by banned_file does not load.",
	 "Check the path of banned_file and that the daemon's user can read it."},
	{"auth.history-off", SEV_LOW, "Old passwords may be reused",
	 "With history 0 a user forced to change a leaked password can set the same one again.",
	 "Set 'history 5' (the default) in the auth block."},
	{"auth.hash-weak", SEV_LOW, "Password hashing is cheaper than recommended",
	 "Argon2id with less than 19 MiB or a single pass (OWASP's minimum) makes a leaked "
	 "database faster to crack.",
	 "Set 'argon2_memory 64M' and 'argon2_ops 3' (the defaults) in the auth block; passwords "
	 "set from then on use them."},
	{"auth.totp-window", SEV_LOW, "TOTP codes are accepted long after they change",
	 "Each step of totp_window accepts codes 30 seconds older or newer, giving a guesser or "
	 "an eavesdropper more time.",
	 "Set 'totp_window 1' (the default) in the auth block."},
	/* SPF, DKIM and DMARC on mx listeners */
	{"mailauth.spf-off", SEV_MEDIUM, "SPF is not checked",
	 "Mail with a forged envelope sender is accepted, and DMARC has only DKIM to go on.",
	 "Remove 'spf no' from the mailauth block."},
	{"mailauth.spf-fail-accepted", SEV_LOW, "Mail that fails SPF is accepted",
	 "A domain that says its mail never comes from elsewhere (-all) is ignored.",
	 "Remove 'spf_fail accept' from the mailauth block (reject is the default; dmarc lets "
	 "DMARC decide)."},
	{"mailauth.dkim-off", SEV_LOW, "DKIM signatures are not verified",
	 "Forged mail from signing domains is not recognised, and DMARC has only SPF to go on.",
	 "Remove 'dkim_verify no' from the mailauth block."},
	{"mailauth.dmarc-off", SEV_MEDIUM, "DMARC is not evaluated",
	 "Mail with a forged From: of a domain that publishes p=reject is delivered.",
	 "Remove 'dmarc no' from the mailauth block."},
	{"mailauth.dmarc-not-enforced", SEV_MEDIUM, "DMARC policies are not enforced",
	 "Mail that a domain's p=reject or p=quarantine asks to refuse is delivered anyway.",
	 "Remove 'dmarc_enforce no' from the mailauth block."},
	/* probes */
	{"probe.skipped", SEV_INFO, "A listener was not probed",
	 "Nothing answers on its address (is postern running?), so AUTH, STARTTLS, TLS versions "
	 "and relaying were not tested there; the rest of the check ran.",
	 "Start postern (postern serve) and run the check again."},
	{"probe.inconclusive", SEV_INFO, "A listener's answers could not be judged",
	 "It did not greet with 220 in time or its replies did not parse (a ban, an access list, a "
	 "slow DNSBL lookup).",
	 "Read the reply quoted under it and the daemon's log for this connection."},
	/* accounts and keys */
	{"accounts.none", SEV_INFO, "No accounts",
	 "There is no account store yet (or it is empty), so nobody can log in.", ""},
	{"accounts.unreadable", SEV_MEDIUM, "The account store cannot be read",
	 "The accounts, their hashes and 2FA could not be checked.",
	 "Run the check as root or as the daemon's user, and see the error under it."},
	{"accounts.legacy-hash", SEV_MEDIUM, "Accounts still on legacy password hashes",
	 "Imported crypt, SSHA or PBKDF2 hashes are much cheaper to crack than Argon2id if the "
	 "database leaks; each is upgraded at the account's next successful login.",
	 "Ask these users to log in once, or make them choose a new password: postern user passwd "
	 "NAME --reset."},
	{"accounts.no-2fa", SEV_LOW, "Accounts without two-factor authentication",
	 "A guessed or phished password is enough to send mail as these users.",
	 "postern user 2fa enable NAME, then give the user app passwords for their mail clients "
	 "(postern user app-password add NAME --label DEVICE --expires 365d)."},
	{"accounts.app-password-no-expiry", SEV_LOW, "App passwords that never expire",
	 "A lost or forgotten device keeps its access for good.",
	 "Replace each: postern user app-password revoke NAME LABEL, then postern user "
	 "app-password add NAME --label LABEL --expires 365d."},
	{"accounts.app-password-unused", SEV_LOW, "App passwords unused for 90 days",
	 "An app password nobody uses is access nobody misses: one for a device that is gone.",
	 "postern user app-password revoke NAME LABEL."},
	{"dkim.key-missing", SEV_HIGH, "A configured DKIM key does not load",
	 "postern does not start (or reload) while a configured selector has no usable key.",
	 "postern dkim keygen DOMAIN SELECTOR, publish the record it prints, or remove the selector "
	 "from the domain block."},
	{"dkim.key-size", SEV_HIGH, "A DKIM key is under 2048 bits",
	 "RSA keys of 1024 bits are within reach of a determined attacker, who could then sign "
	 "mail as your domain (RFC 8301 asks for 2048).",
	 "Rotate to a new key: postern dkim keygen DOMAIN NEWSELECTOR (see \"Rotating a key\" in "
	 "docs/operations.md)."},
	{"dkim.key-age", SEV_LOW, "A DKIM key is older than a year",
	 "The longer a key signs, the longer a leaked copy can be used; M3AAWG advises rotating at "
	 "least yearly.",
	 "Rotate to a new key: postern dkim keygen DOMAIN NEWSELECTOR (see \"Rotating a key\" in "
	 "docs/operations.md)."},
	/* what the domains publish */
	{"dns.spf.missing", SEV_HIGH, "A domain publishes no SPF record",
	 "Receivers cannot tell mail from this gateway from forgeries.", FIX_PUBLISH},
	{"dns.spf.invalid", SEV_HIGH, "A domain's SPF record is invalid",
	 "Receivers get permerror: the record protects nothing and may count against your mail.",
	 FIX_PUBLISH},
	{"dns.spf.mismatch", SEV_HIGH, "A domain's SPF record does not authorize this gateway",
	 "Mail this gateway sends for the domain fails SPF and may be refused.",
	 "Add the gateway's addresses to the record, as shown under it."},
	{"dns.spf.weak", SEV_HIGH, "A domain's SPF record lets anyone send",
	 "With +all or ?all every address passes (or is neutral), so SPF stops no forgery.",
	 FIX_PUBLISH},
	{"dns.spf.unknown", SEV_INFO, "A domain's SPF record could not be evaluated",
	 "It parses, but no public address of this gateway is known to test it with.",
	 "postern dns check DOMAIN --ip PUBLIC-ADDRESS"},
	{"dns.spf.error", SEV_LOW, "A domain's SPF record could not be looked up",
	 "The DNS lookup failed or timed out, so the record was not judged.",
	 "Check the resolver directive and run the check again."},
	{"dns.dkim.missing", SEV_HIGH, "A DKIM selector has no key record",
	 "Receivers cannot verify the signatures this gateway makes, so DMARC has only SPF.",
	 FIX_PUBLISH},
	{"dns.dkim.invalid", SEV_HIGH, "A DKIM key record does not parse",
	 "Receivers cannot verify the signatures this gateway makes.", FIX_PUBLISH},
	{"dns.dkim.mismatch", SEV_HIGH, "A DKIM key record is not this gateway's key",
	 "Every signature this gateway makes with the selector fails at the receiver.",
	 FIX_PUBLISH},
	{"dns.dkim.revoked", SEV_HIGH, "A DKIM selector that signs is revoked in DNS",
	 "The record has an empty p=, so every signature with the selector fails.",
	 "Sign with another selector, or publish the key shown under it."},
	{"dns.dkim.unknown", SEV_LOW, "A domain's DKIM could not be judged",
	 "No selector signs the domain here, or the local key cannot be read.",
	 "postern dkim keygen DOMAIN SELECTOR, add 'dkim selector SELECTOR' to the domain block "
	 "and publish the record it prints."},
	{"dns.dkim.error", SEV_LOW, "A DKIM key record could not be looked up",
	 "The DNS lookup failed or timed out, so the record was not judged.",
	 "Check the resolver directive and run the check again."},
	{"dns.dmarc.missing", SEV_HIGH, "A domain publishes no DMARC policy",
	 "Anyone may put the domain in the From: of their mail, and receivers have no policy "
	 "telling them to refuse it.",
	 FIX_PUBLISH},
	{"dns.dmarc.invalid", SEV_HIGH, "A domain's DMARC record is invalid",
	 "Receivers ignore it, as if there were none.", FIX_PUBLISH},
	{"dns.dmarc.weak", SEV_MEDIUM, "A domain's DMARC policy only monitors",
	 "p=none (or pct below 100) asks receivers to deliver forged mail anyway.",
	 "Once the aggregate reports show your own mail passing, publish the record shown under "
	 "it."},
	{"dns.dmarc.error", SEV_LOW, "A domain's DMARC record could not be looked up",
	 "The DNS lookup failed or timed out, so the record was not judged.",
	 "Check the resolver directive and run the check again."},
	{"dns.mta-sts.missing", SEV_LOW, "A domain has no MTA-STS",
	 "Senders cannot insist on TLS to this gateway, so an attacker on the path can strip "
	 "STARTTLS.",
	 FIX_PUBLISH},
	{"dns.mta-sts.invalid", SEV_MEDIUM, "A domain's MTA-STS record is invalid",
	 "Senders ignore it, or fail to fetch the policy it announces.", FIX_PUBLISH},
	{"dns.mta-sts.error", SEV_LOW, "A domain's MTA-STS record could not be looked up",
	 "The DNS lookup failed or timed out, so the record was not judged.",
	 "Check the resolver directive and run the check again."},
	{"dns.tls-rpt.missing", SEV_LOW, "A domain has no TLS reporting address",
	 "You never hear when senders fail to reach you over TLS.", FIX_PUBLISH},
	{"dns.tls-rpt.invalid", SEV_LOW, "A domain's TLS-RPT record is invalid",
	 "Senders cannot send their TLS reports.", FIX_PUBLISH},
	{"dns.tls-rpt.error", SEV_LOW, "A domain's TLS-RPT record could not be looked up",
	 "The DNS lookup failed or timed out, so the record was not judged.",
	 "Check the resolver directive and run the check again."},
	{"dns.unavailable", SEV_LOW, "The domains' DNS could not be checked",
	 "No resolver could be set up, so SPF, DKIM, DMARC, MTA-STS and TLS-RPT were not judged.",
	 "Check the resolver directive (or /etc/resolv.conf) and run the check again."},
	/* software (practice 12) */
	{"version.postern", SEV_INFO, "postern version", "The version running and when it was built.",
	 ""},
	{"version.library", SEV_INFO, "Library version",
	 "A library postern runs on, as loaded, and the version it was built against.", ""},
	{"version.mismatch", SEV_LOW, "A library differs from the one postern was built against",
	 "Usually a security update of the library since the build, which is fine; otherwise the "
	 "binary and the system are out of step.",
	 "Rebuild postern against the installed libraries (or install the package built for this "
	 "system)."},
	{"version.openssl-old", SEV_HIGH, "OpenSSL is older than 3.0",
	 "OpenSSL 1.1.1 and older no longer get security fixes.",
	 "Upgrade OpenSSL to a supported 3.x release and rebuild postern."},
};

static const char *const sev_names[FINDINGS_SEVS] = {"info", "low", "medium", "high",
						     "critical"};

const struct findings_kind *
findings_kind(const char *id)
{
	size_t i;

	for (i = 0; i < nitems(kinds); i++)
		if (strcmp(kinds[i].id, id) == 0)
			return &kinds[i];
	return NULL;
}

const struct findings_kind *
findings_kinds(size_t *n)
{
	*n = nitems(kinds);
	return kinds;
}

const char *
findings_sev_name(enum findings_sev sev)
{
	return (unsigned)sev < FINDINGS_SEVS ? sev_names[sev] : "?";
}

void
findings_init(struct findings *f)
{
	memset(f, 0, sizeof(*f));
}

void
findings_free(struct findings *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free(f->v[i].detail);
		free(f->v[i].fix);
	}
	free(f->v);
	memset(f, 0, sizeof(*f));
}

/* utf8_cut - the longest prefix of s[0..n) (n <= len) that does not end
 * inside a UTF-8 sequence. */
static size_t
utf8_cut(const char *s, size_t n, size_t len)
{
	if (n >= len)
		return len;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* findings_clean - a copy of s fit for a terminal and for JSON: control
 * characters (but '\n' when multiline) become '?' (a tab a space), bytes
 * of invalid UTF-8 become '?', at most FINDINGS_TEXT_MAX bytes. NULL in,
 * NULL out. */
static char *
findings_clean(const char *s, bool multiline)
{
	size_t len, i;
	bool utf8;
	char *out;

	if (s == NULL)
		return NULL;
	len = strlen(s);
	utf8 = valid_utf8(s, len);
	if (utf8)
		len = utf8_cut(s, FINDINGS_TEXT_MAX, len);
	else if (len > FINDINGS_TEXT_MAX)
		len = FINDINGS_TEXT_MAX;
	out = xmalloc(len + 1);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\t')
			c = ' ';
		else if ((c < 0x20 && !(multiline && c == '\n')) || c == 0x7f || (!utf8 && c >= 0x80))
			c = '?';
		else if (c == 0xc2 && i + 1 < len && (unsigned char)s[i + 1] < 0xa0) {
			out[i++] = '?'; /* U+0080..U+009F, the C1 controls (CSI is U+009B) */
			c = '?';
		}
		out[i] = (char)c;
	}
	out[len] = '\0';
	return out;
}

void
findings_add_as(struct findings *f, const char *id, enum findings_sev sev, const char *detail,
		const char *fix)
{
	const struct findings_kind *k = findings_kind(id);
	struct finding *x;

	if (k == NULL || (unsigned)sev >= FINDINGS_SEVS)
		log_bug("findings: no kind '%s' in the catalogue", id);
	f->count[sev]++;
	if (f->n == FINDINGS_MAX) {
		f->dropped++;
		return;
	}
	f->v = xreallocarray(f->v, f->n + 1, sizeof(*f->v));
	x = &f->v[f->n++];
	x->kind = k;
	x->sev = sev;
	x->detail = findings_clean(detail, true);
	x->fix = findings_clean(fix, true);
}

void
findings_add(struct findings *f, const char *id, const char *detail)
{
	const struct findings_kind *k = findings_kind(id);

	if (k == NULL)
		log_bug("findings: no kind '%s' in the catalogue", id);
	findings_add_as(f, id, k->sev, detail, NULL);
}

void
findings_addf(struct findings *f, const char *id, const char *fmt, ...)
{
	struct buf b = BUF_INIT;
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(&b, fmt, ap);
	va_end(ap);
	findings_add(f, id, buf_cstr(&b));
	buf_free(&b);
}

bool
findings_has(const struct findings *f, const char *id)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (strcmp(f->v[i].kind->id, id) == 0)
			return true;
	return false;
}

enum findings_sev
findings_worst(const struct findings *f)
{
	int s;

	for (s = SEV_CRITICAL; s > SEV_INFO; s--)
		if (f->count[s] > 0)
			break;
	return (enum findings_sev)s;
}

int
findings_exit_status(const struct findings *f)
{
	switch (findings_worst(f)) {
	case SEV_CRITICAL:
		return FINDINGS_EXIT_CRITICAL;
	case SEV_HIGH:
		return FINDINGS_EXIT_HIGH;
	case SEV_MEDIUM:
		return FINDINGS_EXIT_MEDIUM;
	default:
		return FINDINGS_EXIT_OK;
	}
}

static int
strcmp_null(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "");
}

static int
cmp_finding(const void *pa, const void *pb)
{
	const struct finding *a = pa, *b = pb;
	int c;

	if (a->sev != b->sev)
		return a->sev > b->sev ? -1 : 1;
	if ((c = strcmp(a->kind->id, b->kind->id)) != 0)
		return c;
	if ((c = strcmp_null(a->detail, b->detail)) != 0)
		return c;
	return strcmp_null(a->fix, b->fix);
}

void
findings_sort(struct findings *f)
{
	if (f->n > 1)
		qsort(f->v, f->n, sizeof(*f->v), cmp_finding);
}

static void
fmt_time(time_t t, char *out, size_t outsz)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* text_lines - s and a newline, its further lines indented to the text. */
static void
text_lines(struct buf *out, const char *s)
{
	const char *nl;

	while ((nl = strchr(s, '\n')) != NULL) {
		buf_add(out, s, (size_t)(nl - s));
		buf_adds(out, "\n             ");
		s = nl + 1;
	}
	buf_addf(out, "%s\n", s);
}

/* text_field - "    name:    first line" and the further lines of s
 * indented under it. */
static void
text_field(struct buf *out, const char *name, const char *s)
{
	buf_addf(out, "    %-8s ", name);
	text_lines(out, s);
}

/* header_clean - the header fields, cleaned like details (the config
 * path is the operator's, but may hold anything). Free with header_free. */
static void
header_clean(const struct findings_meta *m, char *out[3])
{
	out[0] = findings_clean(m->hostname != NULL ? m->hostname : "", false);
	out[1] = findings_clean(m->config != NULL ? m->config : "", false);
	out[2] = findings_clean(m->version != NULL ? m->version : "", false);
}

static void
header_free(char *h[3])
{
	free(h[0]);
	free(h[1]);
	free(h[2]);
}

void
findings_text(const struct findings *f, const struct findings_meta *m, struct buf *out)
{
	char when[32], upper[16], *h[3];
	size_t i, j;

	fmt_time(m->now, when, sizeof(when));
	header_clean(m, h);
	buf_addf(out, "postern check of %s (%s, postern %s) at %s\n", h[0], h[1], h[2], when);
	header_free(h);
	buf_addf(out, "%zu critical, %zu high, %zu medium, %zu low, %zu info: exit status %d\n",
		 f->count[SEV_CRITICAL], f->count[SEV_HIGH], f->count[SEV_MEDIUM], f->count[SEV_LOW],
		 f->count[SEV_INFO], findings_exit_status(f));
	for (i = 0; i < f->n; i++) {
		const struct finding *x = &f->v[i];
		const char *fix = x->fix != NULL ? x->fix : x->kind->fix;

		for (j = 0; sev_names[x->sev][j] != '\0' && j + 1 < sizeof(upper); j++)
			upper[j] = (char)(sev_names[x->sev][j] - 'a' + 'A');
		upper[j] = '\0';
		if (x->sev == SEV_INFO) { /* one line: there is nothing to fix */
			buf_addf(out, "%s%-8s %s: ", i > 0 && f->v[i - 1].sev == SEV_INFO ? "" : "\n",
				 upper, x->kind->id);
			text_lines(out, x->detail != NULL ? x->detail : x->kind->title);
			continue;
		}
		buf_addf(out, "\n%-8s %s: %s\n", upper, x->kind->id, x->kind->title);
		if (x->detail != NULL && x->detail[0] != '\0')
			text_field(out, "where:", x->detail);
		text_field(out, "means:", x->kind->meaning);
		if (fix[0] != '\0')
			text_field(out, "fix:", fix);
	}
	if (f->dropped > 0)
		buf_addf(out, "\n(%zu more findings not shown)\n", f->dropped);
}

static json_t *
json_finding(const struct finding *x)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_string(x->kind->id));
	json_object_set_new(o, "severity", json_string(sev_names[x->sev]));
	json_object_set_new(o, "title", json_string(x->kind->title));
	json_object_set_new(o, "meaning", json_string(x->kind->meaning));
	json_object_set_new(o, "fix", json_string(x->fix != NULL ? x->fix : x->kind->fix));
	json_object_set_new(o, "detail", x->detail != NULL ? json_string(x->detail) : json_null());
	return o;
}

void
findings_json(const struct findings *f, const struct findings_meta *m, struct buf *out)
{
	json_t *doc = json_object(), *sum = json_object(), *list = json_array();
	char when[32], *s, *h[3];
	size_t i;

	fmt_time(m->now, when, sizeof(when));
	header_clean(m, h);
	for (i = 0; i < FINDINGS_SEVS; i++)
		json_object_set_new(sum, sev_names[i], json_integer((json_int_t)f->count[i]));
	json_object_set_new(sum, "worst", json_string(sev_names[findings_worst(f)]));
	json_object_set_new(sum, "exit", json_integer(findings_exit_status(f)));
	json_object_set_new(sum, "not_shown", json_integer((json_int_t)f->dropped));
	for (i = 0; i < f->n; i++)
		json_array_append_new(list, json_finding(&f->v[i]));
	json_object_set_new(doc, "format", json_integer(FINDINGS_JSON_FORMAT));
	json_object_set_new(doc, "hostname", json_string(h[0]));
	json_object_set_new(doc, "config", json_string(h[1]));
	json_object_set_new(doc, "postern", json_string(h[2]));
	header_free(h);
	json_object_set_new(doc, "time", json_string(when));
	json_object_set_new(doc, "summary", sum);
	json_object_set_new(doc, "findings", list);
	s = json_dumps(doc, JSON_SORT_KEYS | JSON_INDENT(2));
	if (s == NULL)
		log_bug("findings: json_dumps failed");
	buf_addf(out, "%s\n", s);
	free(s);
	json_decref(doc);
}
