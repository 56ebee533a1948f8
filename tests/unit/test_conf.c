/* SPDX-License-Identifier: ISC */
/*
 * test_conf - the config lexer/parser (src/conf/confparse.c) and schema
 * (src/conf/conf.c): the tree, defaults, both block styles, quoted strings,
 * every value type, and the error a user sees for each kind of mistake
 * ("file:line: message"), including an open relay refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>

#include "conf/conf.h"
#include "conf/confparse.h"

#define BASE "state_dir /var/lib/postern\nlisten 127.0.0.1:25 { role mx }\n"
#define TLS "\ntls { cert /etc/postern/mx.crt; key /etc/postern/mx.key }\n"

static int
parse(const char *text, struct conf *cf, char *err, size_t errsz)
{
	err[0] = '\0';
	return conf_parse("t.conf", text, strlen(text), cf, err, errsz);
}

static void
test_tree(void **state)
{
	const char text[] = "a 1 \"two words\" {\n\tb; c d\n}\n# comment { }\ne \"\" x#y\n";
	struct conf_node root;
	char err[CONF_ERR_MAX];
	const struct conf_node *a, *e;

	(void)state;
	assert_int_equal(conf_parse_text("t.conf", text, sizeof(text) - 1, &root, err, sizeof(err)),
			 0);
	assert_int_equal(root.nchildren, 2);
	a = &root.children[0];
	assert_string_equal(a->name, "a");
	assert_int_equal(a->line, 1);
	assert_int_equal(a->nargs, 2);
	assert_string_equal(a->args[0], "1");
	assert_string_equal(a->args[1], "two words");
	assert_true(a->has_block);
	assert_int_equal(a->nchildren, 2);
	assert_string_equal(a->children[0].name, "b");
	assert_int_equal(a->children[0].nargs, 0);
	assert_int_equal(a->children[0].line, 2);
	assert_string_equal(a->children[1].name, "c");
	assert_string_equal(a->children[1].args[0], "d");
	e = &root.children[1];
	assert_string_equal(e->name, "e");
	assert_int_equal(e->line, 5);
	/* an empty quoted string is an argument; '#' inside a word starts a comment */
	assert_int_equal(e->nargs, 2);
	assert_string_equal(e->args[0], "");
	assert_string_equal(e->args[1], "x");
	assert_false(e->has_block);
	conf_node_free(&root);
}

static void
test_defaults(void **state)
{
	struct conf cf;
	char err[CONF_ERR_MAX + 64];

	(void)state;
	assert_int_equal(parse(BASE, &cf, err, sizeof(err)), 0);
	assert_string_equal(cf.path, "t.conf");
	assert_string_equal(cf.hostname, "localhost");
	assert_string_equal(cf.state_dir, "/var/lib/postern");
	assert_string_equal(cf.user, "postern");
	assert_false(cf.log_syslog);
	assert_false(cf.log_debug);
	assert_int_equal(cf.nlisteners, 1);
	assert_string_equal(cf.listeners[0].spec, "127.0.0.1:25");
	assert_int_equal(cf.listeners[0].role, ROLE_MX);
	assert_int_equal(cf.listeners[0].line, 2);
	assert_int_equal(cf.ndomains, 0);
	assert_false(cf.has_smarthost);
	assert_int_equal(cf.ntrusted, 0);
	assert_int_equal(cf.nresolvers, 0);
	assert_int_equal(cf.limits.max_command_length, 2048);
	assert_int_equal(cf.limits.max_data_line_length, 65536);
	assert_int_equal(cf.limits.max_recipients, 100);
	assert_int_equal(cf.limits.max_message_size, 50 * 1024 * 1024);
	assert_int_equal(cf.limits.max_errors, 10);
	assert_int_equal(cf.limits.command_timeout, 300);
	assert_int_equal(cf.limits.data_timeout, 180);
	assert_int_equal(cf.limits.session_timeout, 1800);
	assert_int_equal(cf.limits.max_connections, 1000);
	assert_int_equal(cf.limits.max_connections_per_ip, 20);
	assert_int_equal(cf.limits.shutdown_timeout, 30);
	assert_int_equal(cf.limits.line_endings, LINE_ENDINGS_STRICT);
	assert_int_equal(cf.queue.max_lifetime, 5 * 86400);
	assert_int_equal(cf.queue.retry_min, 300);
	assert_int_equal(cf.queue.retry_max, 4000);
	assert_int_equal(cf.queue.delay_warning, 4 * 3600);
	assert_int_equal(cf.queue.max_per_destination, 20);
	assert_int_equal(cf.queue.max_deliveries, 100);
	assert_int_equal(cf.queue.connect_timeout, 30);
	assert_int_equal(cf.queue.reply_timeout, 300);
	assert_int_equal(cf.queue.idle_reuse, 2);
	conf_free(&cf);
}

/* The same config in every layout the syntax allows. */
static void
test_block_styles(void **state)
{
	static const char *const texts[] = {
		"state_dir /q\nlisten 127.0.0.1:25 {\n\trole submission\n\ttls implicit\n}\n" TLS,
		"state_dir /q\nlisten 127.0.0.1:25 { role submission; tls implicit; }\n" TLS,
		TLS "state_dir /q\nlisten 127.0.0.1:25 { role submission; tls implicit }",
		"state_dir /q\nlisten 127.0.0.1:25 {role submission;tls implicit;}" TLS,
		"state_dir /q; listen 127.0.0.1:25 { role submission; tls implicit; };" TLS,
		"  state_dir\t/q   # the queue\r\n\nlisten 127.0.0.1:25 {\r\n role submission ;\r\n"
		" tls implicit\r\n}\r\n" TLS,
		"state_dir \"/q\"\nlisten \"127.0.0.1:25\" { \"role\" \"submission\"; tls \"implicit\" }\n"
		TLS,
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct conf cf;
		char err[CONF_ERR_MAX + 64];

		if (parse(texts[i], &cf, err, sizeof(err)) != 0)
			fail_msg("row %zu: %s", i, err);
		assert_string_equal(cf.state_dir, "/q");
		assert_int_equal(cf.nlisteners, 1);
		assert_string_equal(cf.listeners[0].spec, "127.0.0.1:25");
		assert_int_equal(cf.listeners[0].role, ROLE_SUBMISSION);
		assert_int_equal(cf.listeners[0].tls, LTLS_IMPLICIT);
		conf_free(&cf);
	}
}

static void
test_quoted_strings(void **state)
{
	static const struct {
		const char *line, *user;
	} rows[] = {
		{"user \"two words\"\n", "two words"},
		{"user \"a\\\"b\\\\c\"\n", "a\"b\\c"},
		{"user \"x#y; {z}\"\n", "x#y; {z}"},
		{"user plain # a comment\n", "plain"},
		{"user back\\slash\n", "back\\slash"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char text[256], err[CONF_ERR_MAX + 64];
		struct conf cf;

		snprintf(text, sizeof(text), "%s%s", BASE, rows[i].line);
		if (parse(text, &cf, err, sizeof(err)) != 0)
			fail_msg("row %zu: %s", i, err);
		assert_string_equal(cf.user, rows[i].user);
		conf_free(&cf);
	}
}

/* What `postern config check` prints for each mistake. */
static void
test_errors(void **state)
{
	static const struct {
		const char *text, *err;
	} rows[] = {
		{BASE "bogus 1\n", "t.conf:3: unknown directive 'bogus'"},
		{"state_dir /x\nlisten 127.0.0.1:25 {\n\trole mx\n\tcolour red\n}\n",
		 "t.conf:4: unknown directive 'colour' in listen"},
		{BASE "smtp {\n max_recipient 5\n}\n",
		 "t.conf:4: unknown directive 'max_recipient' in smtp"},
		{BASE "hostname a.example b.example\n", "t.conf:3: hostname takes 1 argument, not 2"},
		{BASE "log\n", "t.conf:3: log takes 1 to 3 arguments, not 0"},
		{BASE "relay x { }\n", "t.conf:3: relay takes 0 arguments, not 1"},
		{BASE "listen 127.0.0.1:26\n", "t.conf:3: listen needs a { ... } block"},
		{BASE "hostname mx.example { }\n", "t.conf:3: hostname takes no block"},
		{"state_dir /q\nlisten 127.0.0.1:587 { role submission }\n",
		 "t.conf:2: listen 127.0.0.1:587: tls starttls-required needs a certificate: add a "
		 "tls { cert FILE; key FILE } block (plaintext submission cannot be configured)"},
		{"state_dir /q\nlisten 127.0.0.1:587 { role submission; tls none }\n" TLS,
		 "t.conf:2: listen 127.0.0.1:587: a submission listener needs 'tls "
		 "starttls-required' or 'tls implicit': plaintext submission cannot be configured"},
		{"state_dir /q\nlisten 127.0.0.1:587 { role submission; tls starttls }\n" TLS,
		 "t.conf:2: listen 127.0.0.1:587: a submission listener needs 'tls "
		 "starttls-required' or 'tls implicit': plaintext submission cannot be configured"},
		{BASE "listen 127.0.0.1:26 { role mx; tls implicit }\n",
		 "t.conf:3: listen 127.0.0.1:26: tls implicit needs a certificate: add a tls { cert "
		 "FILE; key FILE } block"},
		{BASE "listen 127.0.0.1:26 { role mx; tls sometimes }\n",
		 "t.conf:3: tls: 'sometimes' is not one of none, starttls, starttls-required, implicit"},
		{BASE "tls { cert /a.crt }\n", "t.conf:3: tls: needs both 'cert FILE' and 'key FILE'"},
		{BASE "tls { cert a.crt; key /a.key }\n",
		 "t.conf:3: cert: 'a.crt' must be an absolute path"},
		{BASE "tls { cert /a; key /b; min_version TLSv1.1 }\n",
		 "t.conf:3: min_version: 'TLSv1.1' is not TLSv1.2 or TLSv1.3"},
		{BASE "tls { cert /a; key /b; min_version TLSv1.2 }\ntls { cert /c; key /d; "
		      "min_version TLSv1.3 }\n",
		 "t.conf:4: min_version: set twice (it applies to every certificate)"},
		{BASE "auth { min_length 6 }\n",
		 "t.conf:3: min_length must be at least 8 (NIST SP 800-63B)"},
		{BASE "auth { max_length 64 }\n",
		 "t.conf:3: max_length must be at least 128 (NIST SP 800-63B: at least 64)"},
		{BASE "auth { argon2_memory 512M; argon2_ops 3 }\n",
		 "t.conf: auth: argon2_memory must be 8M to 1G, argon2_ops 1 to 16, and "
		 "argon2_memory x argon2_ops at most 1G (about a second a hash)"},
		{BASE "auth { scram_iterations 100 }\n",
		 "t.conf: auth: scram_iterations must be 0 (no SCRAM) or 4096 to 1000000"},
		{BASE "guard {\n ip_failures 0\n}\n", "t.conf:4: ip_failures must be at least 1"},
		{BASE "guard {\n enabled maybe\n}\n", "t.conf:4: enabled: 'maybe' is not yes or no"},
		{BASE "guard {\n window 10s\n}\n", "t.conf:4: window must be at least 60"},
		{BASE "guard {\n deny 10.0.0.1/8\n}\n",
		 "t.conf:4: deny: '10.0.0.1/8' is not a network (like 192.0.2.0/24 or 2001:db8::/32; "
		 "host bits must be zero)"},
		{"state_dir /x\nlisten 127.0.0.1:25 {\n role mx\n allow nowhere\n}\n",
		 "t.conf:4: allow: 'nowhere' is not a network (like 192.0.2.0/24 or 2001:db8::/32; "
		 "host bits must be zero)"},
		{BASE "guard {\n alert_to security\n}\n",
		 "t.conf:4: alert_to: 'security' is not a mail address (like security@example.org)"},
		{BASE "guard {\n nftables_set inet filter a b\n}\n",
		 "t.conf:4: nftables_set takes 3 arguments, not 4"},
		{BASE "guard {\n nftables_set inet filter \"bad name\"\n}\n",
		 "t.conf:4: nftables_set: table and set names are letters, digits, '_' and '-'"},
		{BASE "guard {\n nftables_set arp filter x\n}\n",
		 "t.conf:4: nftables_set: family 'arp' is not one of inet, ip, ip6"},
		{BASE "guard {\n spray_accounts 40\n}\n",
		 "t.conf:3: guard: spray_accounts, stuffing_sources and stuffing_accounts are at most "
		 "32"},
		{BASE "guard {\n ban_time 1d\n ban_max 1h\n}\n",
		 "t.conf:3: guard: ban_max must be at least ban_time"},
		{BASE "guard {\n tarpit_max 2m\n}\n",
		 "t.conf:3: guard: tarpit_max is at most 60s (clients give up after that)"},
		{BASE "guard {\n abuse_tarpit 9\n}\n",
		 "t.conf:3: guard: abuse_tarpit <= abuse_disconnect <= abuse_ban, please"},
		{BASE "auth { banned_file banned.txt }\n",
		 "t.conf:3: banned_file: 'banned.txt' must be an absolute path"},
		{BASE "relay { tls sometimes }\n",
		 "t.conf:3: tls: 'sometimes' is not one of none, may, encrypt, verify"},
		{BASE "hostname -mx.example\n",
		 "t.conf:3: hostname: '-mx.example' is not a valid host name"},
		{BASE "domain x-.test { deliver smtp://127.0.0.1:25 }\n",
		 "t.conf:3: domain: 'x-.test' is not a valid domain name"},
		{BASE "user \"\"\n", "t.conf:3: user: '' is not a user name"},
		{BASE "trusted_networks 10.0.0.0/8 0.0.0.0/0\n",
		 "t.conf:3: trusted_networks: '0.0.0.0/0' trusts a large part of the internet: "
		 "that is an open relay (list your own networks, /8 or longer)"},
		{BASE "trusted_networks 0.0.0.0/1 128.0.0.0/1\n",
		 "t.conf:3: trusted_networks: '0.0.0.0/1' trusts a large part of the internet: "
		 "that is an open relay (list your own networks, /8 or longer)"},
		{BASE "trusted_networks ::/0\n",
		 "t.conf:3: trusted_networks: '::/0' trusts a large part of the internet: "
		 "that is an open relay (list your own networks, /7 or longer)"},
		{BASE "trusted_networks 10.0.0.0/7\n",
		 "t.conf:3: trusted_networks: '10.0.0.0/7' trusts a large part of the internet: "
		 "that is an open relay (list your own networks, /8 or longer)"},
		{BASE "trusted_networks fc00::/6\n",
		 "t.conf:3: trusted_networks: 'fc00::/6' trusts a large part of the internet: "
		 "that is an open relay (list your own networks, /7 or longer)"},
		{BASE "trusted_networks 10.0.0.1/8\n",
		 "t.conf:3: trusted_networks: '10.0.0.1/8' is not a network (like 10.0.0.0/8 or "
		 "::1/128; host bits must be zero)"},
		{BASE "trusted_networks example.test\n",
		 "t.conf:3: trusted_networks: 'example.test' is not a network (like 10.0.0.0/8 or "
		 "::1/128; host bits must be zero)"},
		{BASE "listen localhost:25 { role mx }\n",
		 "t.conf:3: listen: 'localhost:25' is not a numeric address and port (like "
		 "127.0.0.1:25 or [::1]:25)"},
		{BASE "listen ::1:25 { role mx }\n",
		 "t.conf:3: listen: '::1:25' is not a numeric address and port (like 127.0.0.1:25 "
		 "or [::1]:25)"},
		{BASE "listen 127.0.0.1:26 { }\n",
		 "t.conf:3: listen 127.0.0.1:26: missing 'role mx' or 'role submission'"},
		{BASE "listen 127.0.0.1:26 { role relay }\n",
		 "t.conf:3: role: 'relay' is not one of mx, submission"},
		{"state_dir /x\nlisten 127.0.0.1:25 { role mx }\nlisten 127.0.0.1:25 { role "
		 "submission }\n",
		 "t.conf:3: listen 127.0.0.1:25: already defined at line 2"},
		{BASE "state_dir var/lib\n", "t.conf:3: state_dir: 'var/lib' must be an absolute path"},
		{BASE "log stderr loud\n", "t.conf:3: log: 'loud' is not one of stderr, syslog, debug"},
		{BASE "hostname mx_1.example\n",
		 "t.conf:3: hostname: 'mx_1.example' is not a valid host name"},
		{BASE "domain example.test { }\n",
		 "t.conf:3: domain example.test: missing 'deliver' (where its mail goes) or 'dkim "
		 "selector' (to sign its mail)"},
		{BASE "domain x..test { deliver smtp://h }\n",
		 "t.conf:3: domain: 'x..test' is not a valid domain name"},
		{BASE "domain x.test {\n deliver ftp://h\n}\n",
		 "t.conf:4: deliver: 'ftp://h' is not smtp://host:port, lmtp://host:port or "
		 "lmtp:unix:/path"},
		{BASE "domain A.test { deliver smtp://h }\ndomain a.TEST { deliver smtp://h }\n",
		 "t.conf:4: domain a.test: defined twice"},
		{BASE "domain x.test {\n deliver smtp://h\n dkim s1\n}\n",
		 "t.conf:5: dkim: write it as 'dkim selector NAME...'"},
		{BASE "domain x.test {\n deliver smtp://h\n dkim\n}\n",
		 "t.conf:5: dkim: write it as 'dkim selector NAME...'"},
		{BASE "domain x.test {\n deliver smtp://h\n dkim selector\n}\n",
		 "t.conf:5: dkim selector: name a selector (like dkim selector s2026)"},
		{BASE "domain x.test {\n deliver smtp://h\n dkim selector s_1\n}\n",
		 "t.conf:5: dkim selector: 's_1' is not a selector (letters, digits and hyphens "
		 "between dots, like s2026)"},
		{BASE "domain x.test {\n deliver smtp://h\n dkim selector ../s1\n}\n",
		 "t.conf:5: dkim selector: '../s1' is not a selector (letters, digits and hyphens "
		 "between dots, like s2026)"},
		{BASE "domain x.test {\n deliver smtp://h\n dkim selector s1 S1\n}\n",
		 "t.conf:5: dkim selector: 's1' is listed twice for x.test"},
		{BASE "domain x.test {\n dkim selector s1\n deliver smtp://h\n dkim selector s1\n}\n",
		 "t.conf:6: dkim selector: 's1' is listed twice for x.test"},
		{BASE "domain x.test {\n deliver smtp://h\n dkim selector a b c\n dkim selector d e\n}\n",
		 "t.conf:6: dkim selector: more than 4 selectors for x.test"},
		{BASE "domain x.test {\n dkim selector s1 { }\n deliver smtp://h\n}\n",
		 "t.conf:4: dkim takes no block"},
		{BASE "dkim selector s1\n", "t.conf:3: unknown directive 'dkim'"},
		{BASE "relay { smarthost lmtp:unix:/run/lmtp }\n",
		 "t.conf:3: smarthost: 'lmtp:unix:/run/lmtp' is not smtp://host:port or "
		 "lmtp://host:port"},
		{BASE "resolver dns.example\n",
		 "t.conf:3: resolver: 'dns.example' is not an address or address:port (like "
		 "127.0.0.1:5353)"},
		{BASE "smtp { max_message_size 10X }\n",
		 "t.conf:3: max_message_size: '10X' is not a size (like 4096, 64k, 50M)"},
		{BASE "smtp { command_timeout soon }\n",
		 "t.conf:3: command_timeout: 'soon' is not a duration (like 30s, 5m, 2h, 5d)"},
		{BASE "smtp { max_recipients -1 }\n", "t.conf:3: max_recipients: '-1' is not a number"},
		{BASE "smtp { line_endings lax }\n",
		 "t.conf:3: line_endings: 'lax' is not one of strict, normalize"},
		/* lexer and parser errors name the line too */
		{"state_dir \"/x\nlisten 127.0.0.1:25 { role mx }\n", "t.conf:1: unterminated string"},
		{BASE "user \"a\\nb\"\n", "t.conf:3: bad escape in string"},
		{"state_dir /x\nlisten 127.0.0.1:25 {\n role mx\n", "t.conf:2: block opened here is "
								     "never closed"},
		{BASE "}\n", "t.conf:3: unexpected '}'"},
		{BASE "listen 127.0.0.1:26\n{ role mx }\n", "t.conf:4: '{' without a directive"},
		{"a { b { c { d { e { f { g { h { } } } } } } } }\n", "t.conf:1: blocks nested too "
								       "deeply"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct conf cf;
		char err[CONF_ERR_MAX + 64];

		if (parse(rows[i].text, &cf, err, sizeof(err)) != -1)
			fail_msg("row %zu: accepted", i);
		if (strcmp(err, rows[i].err) != 0)
			fail_msg("row %zu: got \"%s\", want \"%s\"", i, err, rows[i].err);
		/* nothing is left allocated in a refused config */
		assert_null(cf.state_dir);
		assert_null(cf.listeners);
	}
}

/* Range checks name the line of the value; only what is missing from the
 * whole file is reported without a line. */
static void
test_validation(void **state)
{
	static const struct {
		const char *text, *err;
	} rows[] = {
		{"listen 127.0.0.1:25 { role mx }\n",
		 "t.conf: missing 'state_dir' (where postern keeps its queue)"},
		{"state_dir /x\n", "t.conf: no 'listen' directive: postern would accept nothing"},
		{BASE "smtp { max_command_length 511 }\n",
		 "t.conf:3: max_command_length must be at least 512 (RFC 5321 4.5.3.1.4)"},
		{BASE "smtp {\n\tmax_recipients 5\n\tmax_data_line_length 999\n}\n",
		 "t.conf:5: max_data_line_length must be at least 1000 (RFC 5321 4.5.3.1.6)"},
		{BASE "smtp { max_recipients 0 }\n", "t.conf:3: max_recipients must be at least 1"},
		{BASE "admin { admin bad/name }\n",
		 "t.conf:3: admin: 'bad/name' is not a user or @group name or number"},
		{BASE "admin { operator @ }\n",
		 "t.conf:3: operator: '@' is not a user or @group name or number"},
		{BASE "admin { root alice }\n", "t.conf:3: unknown directive 'root' in admin"},
		{BASE "admin { api_account bob superuser }\n",
		 "t.conf:3: api_account: 'superuser' is not admin, operator or auditor"},
		{BASE "admin { api 127.0.0.1:8443\napi_account bob admin }\n",
		 "t.conf: admin: the api listener needs a certificate (tls { cert; key })"},
		{BASE "audit { anchor_every 5s }\n",
		 "t.conf:3: anchor_every must be at least 10 (ten seconds)"},
		{BASE "smtp { max_message_size 4095 }\n",
		 "t.conf:3: max_message_size must be at least 4096"},
		{BASE "smtp { data_timeout 0 }\n", "t.conf:3: data_timeout must be at least 1"},
		{BASE "\nqueue {\n\tretry_min 1h\n\tretry_max 5m\n}\n",
		 "t.conf:4: queue: retry_max must be at least retry_min"},
		{BASE "queue { max_deliveries 0 }\n", "t.conf:3: max_deliveries must be at least 1"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct conf cf;
		char err[CONF_ERR_MAX + 64];

		if (parse(rows[i].text, &cf, err, sizeof(err)) != -1)
			fail_msg("row %zu: accepted", i);
		if (strcmp(err, rows[i].err) != 0)
			fail_msg("row %zu: got \"%s\", want \"%s\"", i, err, rows[i].err);
	}
	/* the minimums themselves are accepted */
	{
		struct conf cf;
		char err[CONF_ERR_MAX + 64];

		assert_int_equal(parse(BASE "smtp { max_command_length 512; max_data_line_length "
					    "1000; max_message_size 4k }\n",
				       &cf, err, sizeof(err)),
				 0);
		conf_free(&cf);
	}
}

static const char full[] =
	"# every directive\n"
	"hostname MX.Example.TEST\n"
	"state_dir \"/var/lib/my postern\"\n"
	"user \"_post\\\"ern\"\n"
	"log syslog debug\n"
	"listen 127.0.0.1:25 { role mx }\n"
	"listen [::1]:25 { role mx }\n"
	"listen [::]:587 { role submission }\n"
	"listen [::]:465 { role submission; tls implicit }\n"
	"tls {\n\tcert /etc/postern/mx.crt\n\tkey \"/etc/postern/my key\"\n\tmin_version TLSv1.3\n"
	"\tciphersuites TLS_AES_256_GCM_SHA384\n}\n"
	"tls { cert /etc/postern/other.crt; key /etc/postern/other.key }\n"
	"domain Example.TEST { deliver lmtp:unix:/run/dovecot/lmtp }\n"
	"domain other.test { deliver \"lmtp:unix:/run/with space\" }\n"
	"domain third.test { tls encrypt; deliver smtp://[::1]:2525 }\n"
	"domain fourth.test { deliver lmtp://Mail.Example.TEST }\n"
	"domain signed.test {\n\tdeliver smtp://127.0.0.1:2526\n\tdkim selector S2026 ed2026\n"
	"\tdkim selector s2027.rotation\n}\n"
	"relay { smarthost smtp://smart.example.test:587; tls verify; ca_file /etc/ca.pem }\n"
	"trusted_networks 10.0.0.0/8 192.168.1.7 fd00::/8\n"
	"resolver 127.0.0.1:5353 ::1 [::1]:5300\n"
	"smtp {\n"
	"\tmax_command_length 4k\n"
	"\tmax_data_line_length 64K\n"
	"\tmax_recipients 50\n"
	"\tmax_message_size 25M\n"
	"\tmax_errors 5\n"
	"\tcommand_timeout 5m\n"
	"\tdata_timeout 3m\n"
	"\tsession_timeout 1h\n"
	"\tmax_connections 500\n"
	"\tmax_connections_per_ip 10\n"
	"\tshutdown_timeout 45\n"
	"\tline_endings normalize\n"
	"}\n"
	"auth {\n\targon2_memory 32M\n\targon2_ops 2\n\thash_threads 4\n\tcache_ttl 30m\n"
	"\tmin_length 14\n\tmax_length 200\n\tbanned_file /etc/postern/banned.txt\n"
	"\thistory 3\n\tmax_age 90d\n\twarn_before 7d\n}\n"
	"queue {\n"
	"\tmax_lifetime 1w\n"
	"\tretry_min 5m\n"
	"\tretry_max 2h\n"
	"\tdelay_warning 4h\n"
	"\tmax_per_destination 10\n"
	"\tmax_deliveries 50\n"
	"\tconnect_timeout 30s\n"
	"\treply_timeout 5m\n"
	"\tidle_reuse 1d\n"
	"}\n"
	"admin {\n\tadmin root @wheel\n\toperator 1001 @mailops\n\tauditor aud_1\n"
	"\tapi_allow 10.0.0.0/8\n\tapi_token_ttl 5m\n}\n"
	"audit { anchor_every 10m }\n";

static void
test_values(void **state)
{
	struct conf cf;
	char err[CONF_ERR_MAX + 64];
	const struct conf_domain *d;

	(void)state;
	if (parse(full, &cf, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(cf.hostname, "mx.example.test");
	assert_string_equal(cf.state_dir, "/var/lib/my postern");
	assert_string_equal(cf.user, "_post\"ern");
	assert_true(cf.log_syslog);
	assert_true(cf.log_debug);
	assert_int_equal(cf.nlisteners, 4);
	assert_int_equal(cf.listeners[0].tls, LTLS_STARTTLS); /* mx default with a cert */
	assert_int_equal(cf.listeners[2].tls, LTLS_REQUIRED); /* submission default */
	assert_int_equal(cf.listeners[3].tls, LTLS_IMPLICIT);
	assert_int_equal(cf.auth.argon2_memory, 32 * 1024 * 1024);
	assert_int_equal(cf.auth.argon2_ops, 2);
	assert_int_equal(cf.auth.hash_threads, 4);
	assert_int_equal(cf.auth.hash_queue, 64);
	assert_int_equal(cf.auth.cache_ttl, 1800);
	assert_int_equal(cf.auth.min_length, 14);
	assert_int_equal(cf.auth.max_length, 200);
	assert_string_equal(cf.auth.banned_file, "/etc/postern/banned.txt");
	assert_int_equal(cf.auth.history, 3);
	assert_int_equal(cf.auth.max_age, 90 * 86400);
	assert_int_equal(cf.auth.warn_before, 7 * 86400);
	assert_int_equal(cf.tls.ncerts, 2);
	assert_string_equal(cf.tls.certs[0].key, "/etc/postern/my key");
	assert_string_equal(cf.tls.certs[1].cert, "/etc/postern/other.crt");
	assert_int_equal(cf.tls.min_version, 13);
	assert_string_equal(cf.tls.ciphersuites, "TLS_AES_256_GCM_SHA384");
	assert_null(cf.tls.ciphers);
	assert_string_equal(cf.tls.ca_file, "/etc/ca.pem");
	assert_int_equal(cf.tls.relay_policy, TLSP_VERIFY);
	assert_int_equal(cf.smarthost.tls, TLSP_VERIFY);
	assert_int_equal(conf_find_domain(&cf, "third.test")->deliver.tls, TLSP_ENCRYPT);
	assert_int_equal(conf_find_domain(&cf, "other.test")->deliver.tls, TLSP_MAY);
	assert_string_equal(cf.listeners[1].spec, "[::1]:25");
	assert_int_equal(cf.listeners[1].addr.ss_family, AF_INET6);
	assert_int_equal(net_port((struct sockaddr *)&cf.listeners[1].addr), 25);
	assert_int_equal(cf.listeners[1].line, 7);
	assert_string_equal(cf.listeners[2].spec, "[::]:587");
	assert_int_equal(cf.listeners[2].role, ROLE_SUBMISSION);
	assert_int_equal(cf.ndomains, 5);
	d = conf_find_domain(&cf, "EXAMPLE.test");
	assert_non_null(d);
	assert_string_equal(d->name, "example.test");
	assert_int_equal(d->deliver.kind, ROUTE_LMTP_UNIX);
	assert_string_equal(d->deliver.path, "/run/dovecot/lmtp");
	d = conf_find_domain(&cf, "other.test");
	assert_string_equal(d->deliver.path, "/run/with space");
	d = conf_find_domain(&cf, "third.test");
	assert_int_equal(d->deliver.kind, ROUTE_SMTP);
	assert_string_equal(d->deliver.host, "::1");
	assert_int_equal(d->deliver.port, 2525);
	d = conf_find_domain(&cf, "fourth.test");
	assert_int_equal(d->deliver.kind, ROUTE_LMTP);
	assert_string_equal(d->deliver.host, "mail.example.test");
	assert_int_equal(d->deliver.port, 24);
	assert_int_equal(d->ndkim, 0);
	/* several selectors on a line, several lines: all of them sign */
	d = conf_find_domain(&cf, "signed.test");
	assert_int_equal(d->ndkim, 3);
	assert_string_equal(d->dkim[0].name, "s2026");
	assert_string_equal(d->dkim[1].name, "ed2026");
	assert_string_equal(d->dkim[2].name, "s2027.rotation");
	assert_int_equal(d->dkim[0].line, 23);
	assert_int_equal(d->dkim[2].line, 24);
	assert_null(conf_find_domain(&cf, "example.org"));
	assert_true(cf.has_smarthost);
	assert_string_equal(cf.smarthost.host, "smart.example.test");
	assert_int_equal(cf.smarthost.port, 587);
	assert_int_equal(cf.ntrusted, 3);
	assert_int_equal(cf.trusted[1].prefix, 32);
	assert_int_equal(cf.nresolvers, 3);
	assert_string_equal(cf.resolvers[0], "127.0.0.1@5353");
	assert_string_equal(cf.resolvers[1], "::1@53");
	assert_string_equal(cf.resolvers[2], "::1@5300");
	assert_int_equal(cf.limits.max_command_length, 4096);
	assert_int_equal(cf.limits.max_data_line_length, 65536);
	assert_int_equal(cf.limits.max_recipients, 50);
	assert_int_equal(cf.limits.max_message_size, 25 * 1024 * 1024);
	assert_int_equal(cf.limits.max_errors, 5);
	assert_int_equal(cf.limits.command_timeout, 300);
	assert_int_equal(cf.limits.data_timeout, 180);
	assert_int_equal(cf.limits.session_timeout, 3600);
	assert_int_equal(cf.limits.max_connections, 500);
	assert_int_equal(cf.limits.max_connections_per_ip, 10);
	assert_int_equal(cf.limits.shutdown_timeout, 45);
	assert_int_equal(cf.limits.line_endings, LINE_ENDINGS_NORMALIZE);
	assert_int_equal(cf.queue.max_lifetime, 7 * 86400);
	assert_int_equal(cf.queue.retry_min, 300);
	assert_int_equal(cf.queue.retry_max, 7200);
	assert_int_equal(cf.queue.delay_warning, 4 * 3600);
	assert_int_equal(cf.queue.max_per_destination, 10);
	assert_int_equal(cf.queue.max_deliveries, 50);
	assert_int_equal(cf.queue.connect_timeout, 30);
	assert_int_equal(cf.queue.reply_timeout, 300);
	assert_int_equal(cf.queue.idle_reuse, 86400);
	conf_free(&cf);
}

static void
test_trusted_match(void **state)
{
	static const struct {
		const char *ip;
		bool trusted;
	} rows[] = {
		{"10.1.2.3", true},	    {"::ffff:10.1.2.3", true}, /* IPv4-mapped */
		{"11.0.0.1", false},	    {"192.168.1.7", true},     {"192.168.1.8", false},
		{"fd12::1", true},	    {"fe80::1", false},	       {"::ffff:11.0.0.1", false},
		{"fc00::1", true}, /* fc00::/7, the widest IPv6 network allowed */
		{"::10.1.2.3", false}, /* IPv4-compatible is not IPv4 */
	};
	struct conf cf;
	char err[CONF_ERR_MAX + 64];
	size_t i;

	(void)state;
	assert_int_equal(parse(BASE "trusted_networks 10.0.0.0/8 192.168.1.7 fc00::/7\n", &cf,
			       err, sizeof(err)),
			 0);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sockaddr_storage ss;
		socklen_t len;

		assert_int_equal(net_parse_ip(rows[i].ip, &ss, &len), 0);
		if (conf_is_trusted(&cf, (struct sockaddr *)&ss) != rows[i].trusted)
			fail_msg("row %zu (%s)", i, rows[i].ip);
	}
	conf_free(&cf);
}

/* `postern config dump` prints a config that reads back to itself. */
static void
test_dump_round_trip(void **state)
{
	struct conf cf, again;
	struct buf d1 = BUF_INIT, d2 = BUF_INIT;
	char err[CONF_ERR_MAX + 64];

	(void)state;
	assert_int_equal(parse(full, &cf, err, sizeof(err)), 0);
	conf_dump(&cf, &d1);
	assert_non_null(strstr(buf_cstr(&d1), "state_dir \"/var/lib/my postern\"\n"));
	assert_non_null(strstr(buf_cstr(&d1), "user \"_post\\\"ern\"\n"));
	assert_non_null(strstr(buf_cstr(&d1), "\tdeliver \"lmtp:unix:/run/with space\"\n"));
	assert_non_null(strstr(buf_cstr(&d1), "\tline_endings normalize\n"));
	assert_non_null(strstr(buf_cstr(&d1), "domain signed.test {\n\tdeliver "
					      "smtp://127.0.0.1:2526\n\ttls may\n\tdkim selector "
					      "s2026 ed2026 s2027.rotation\n}\n"));
	assert_non_null(strstr(buf_cstr(&d1), "domain other.test {\n\tdeliver \"lmtp:unix:/run/"
					      "with space\"\n\ttls may\n}\n"));
	assert_non_null(strstr(buf_cstr(&d1), "\tmax_message_size 26214400\n"));
	assert_non_null(strstr(buf_cstr(&d1), "resolver 127.0.0.1:5353\nresolver [::1]:53\n"));
	assert_non_null(strstr(buf_cstr(&d1), "admin {\n\tauditor aud_1\n\toperator 1001 "
					      "@mailops\n\tadmin root @wheel\n\tapi_allow "
					      "10.0.0.0/8\n\tapi_token_ttl 300\n}\naudit {\n\t"
					      "anchor_every 600\n}\n"));
	if (parse(buf_cstr(&d1), &again, err, sizeof(err)) != 0)
		fail_msg("dump does not parse: %s\n%s", err, buf_cstr(&d1));
	conf_dump(&again, &d2);
	assert_string_equal(buf_cstr(&d1), buf_cstr(&d2));
	assert_string_equal(again.state_dir, cf.state_dir);
	assert_string_equal(again.user, cf.user);
	conf_free(&cf);
	conf_free(&again);
	buf_free(&d1);
	buf_free(&d2);
}

static void
test_route_parse(void **state)
{
	static const struct {
		const char *spec;
		int ok;
		enum route_kind kind;
		const char *host;
		unsigned port;
	} rows[] = {
		{"smtp://127.0.0.1:25", 0, ROUTE_SMTP, "127.0.0.1", 25},
		{"smtp://mail.example.test", 0, ROUTE_SMTP, "mail.example.test", 25},
		{"smtp://Mail.Example.TEST:2525", 0, ROUTE_SMTP, "mail.example.test", 2525},
		{"lmtp://mail.example.test", 0, ROUTE_LMTP, "mail.example.test", 24},
		{"smtp://[::1]:2525", 0, ROUTE_SMTP, "::1", 2525},
		{"lmtp:unix:/run/lmtp", 0, ROUTE_LMTP_UNIX, "", 0},
		{"lmtp:unix:run/lmtp", -1, 0, NULL, 0},
		{"smtp://[::1]", -1, 0, NULL, 0},
		{"smtp://h.example:0", -1, 0, NULL, 0},
		{"smtp://h.example:65536", -1, 0, NULL, 0},
		{"smtp://h.example:", -1, 0, NULL, 0},
		{"smtp://", -1, 0, NULL, 0},
		{"smtp://bad_host.example", -1, 0, NULL, 0},
		{"smtp://user@h.example", -1, 0, NULL, 0},
		{"http://h.example", -1, 0, NULL, 0},
		{"h.example:25", -1, 0, NULL, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct route r;
		int rc = route_parse(rows[i].spec, &r);

		if (rc != rows[i].ok)
			fail_msg("row %zu (%s): got %d", i, rows[i].spec, rc);
		if (rc != 0)
			continue;
		assert_int_equal(r.kind, rows[i].kind);
		assert_string_equal(r.host, rows[i].host);
		assert_int_equal(r.port, rows[i].port);
		assert_string_equal(r.spec, rows[i].spec);
	}
}

static void
test_limits(void **state)
{
	char text[8192], err[CONF_ERR_MAX + 64];
	struct conf cf;
	size_t n, i;

	(void)state;
	/* CONF_MAX_ARGS arguments are fine, one more is not */
	n = (size_t)snprintf(text, sizeof(text), "%strusted_networks", BASE);
	for (i = 0; i < CONF_MAX_ARGS; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, " 10.0.%zu.0/24", i);
	snprintf(text + n, sizeof(text) - n, "\n");
	assert_int_equal(parse(text, &cf, err, sizeof(err)), 0);
	assert_int_equal(cf.ntrusted, CONF_MAX_ARGS);
	conf_free(&cf);
	snprintf(text + n, sizeof(text) - n, " 10.1.0.0/16\n");
	assert_int_equal(parse(text, &cf, err, sizeof(err)), -1);
	assert_string_equal(err, "t.conf:3: too many arguments to 'trusted_networks'");
	/* a word longer than CONF_MAX_TOKEN */
	{
		static char big[CONF_MAX_TOKEN + 64];

		memcpy(big, "user ", 5);
		memset(big + 5, 'u', CONF_MAX_TOKEN + 1);
		big[5 + CONF_MAX_TOKEN + 1] = '\0';
		assert_int_equal(parse(big, &cf, err, sizeof(err)), -1);
		assert_string_equal(err, "t.conf:1: word too long");
	}
	/* a NUL byte is an error, not the end of the file */
	{
		static const char nul[] = BASE "user a\0b\n";
		static const char qnul[] = BASE "user \"a\0b\"\n";

		assert_int_equal(conf_parse("t.conf", nul, sizeof(nul) - 1, &cf, err, sizeof(err)),
				 -1);
		assert_string_equal(err, "t.conf:3: NUL byte in config");
		assert_int_equal(conf_parse("t.conf", qnul, sizeof(qnul) - 1, &cf, err, sizeof(err)),
				 -1);
		assert_string_equal(err, "t.conf:3: unterminated string");
	}
}

/* A domain with selectors and no deliver is signed, not received: mx
 * listeners do not take its mail and delivery to it goes by MX. */
static void
test_signing_only_domain(void **state)
{
	struct conf cf;
	struct buf out = BUF_INIT;
	char err[CONF_ERR_MAX];

	(void)state;
	assert_int_equal(parse(BASE "domain sign.test {\n dkim selector s2026\n}\n"
				    "domain in.test {\n deliver smtp://h\n dkim selector s1\n}\n",
			       &cf, err, sizeof(err)),
			 0);
	assert_non_null(conf_find_domain(&cf, "sign.test"));
	assert_null(conf_find_receiving(&cf, "sign.test"));
	assert_non_null(conf_find_receiving(&cf, "in.test"));
	conf_dump(&cf, &out);
	assert_non_null(strstr(buf_cstr(&out), "domain sign.test {\n\tdkim selector s2026\n}\n"));
	buf_free(&out);
	conf_free(&cf);
}

/* check { every; mail_to }: the scheduled self-audit. */
static void
test_check_block(void **state)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
		{BASE "check {\n every 24h\n}\n",
		 "t.conf:3: check: add 'mail_to ADDRESS' (who gets the report)"},
		{BASE "check {\n every 10m\n mail_to a@example.test\n}\n",
		 "t.conf:4: every must be at least 3600 (a check probes the listeners and looks up "
		 "DNS: 1h at the most often)"},
		{BASE "check {\n mail_to security\n}\n",
		 "t.conf:4: mail_to: 'security' is not a mail address (like security@example.org)"},
		{BASE "check {\n mail_to a@x.test b@x.test c@x.test d@x.test e@x.test f@x.test\n"
		      " mail_to g@x.test h@x.test i@x.test\n}\n",
		 "t.conf:5: mail_to: more than 8 addresses"},
		{BASE "check {\n every\n}\n", "t.conf:4: every takes 1 argument, not 0"},
		{BASE "check {\n daily yes\n}\n", "t.conf:4: unknown directive 'daily' in check"},
	};
	struct conf cf, again;
	struct buf d1 = BUF_INIT, d2 = BUF_INIT;
	char err[CONF_ERR_MAX + 64];
	size_t i;

	(void)state;
	/* not scheduled by default, and not in the dump */
	assert_int_equal(parse(BASE, &cf, err, sizeof(err)), 0);
	assert_int_equal(cf.check.every, 0);
	assert_int_equal(cf.check.nmail_to, 0);
	conf_dump(&cf, &d1);
	assert_null(strstr(buf_cstr(&d1), "check {"));
	conf_free(&cf);
	buf_reset(&d1);
	/* mail_to alone: daily */
	assert_int_equal(parse(BASE "check { mail_to sec@example.test }\n", &cf, err, sizeof(err)), 0);
	assert_int_equal(cf.check.every, 86400);
	assert_int_equal(cf.check.nmail_to, 1);
	assert_string_equal(cf.check.mail_to[0], "sec@example.test");
	conf_free(&cf);
	assert_int_equal(parse(BASE "check {\n every 12h\n mail_to a@example.test b@example.test\n"
				    " mail_to c@example.test\n}\n",
			       &cf, err, sizeof(err)),
			 0);
	assert_int_equal(cf.check.every, 12 * 3600);
	assert_int_equal(cf.check.nmail_to, 3);
	conf_dump(&cf, &d1);
	assert_non_null(strstr(buf_cstr(&d1), "check {\n\tevery 43200s\n\tmail_to a@example.test "
					      "b@example.test c@example.test\n}\n"));
	if (parse(buf_cstr(&d1), &again, err, sizeof(err)) != 0)
		fail_msg("dump does not parse: %s\n%s", err, buf_cstr(&d1));
	conf_dump(&again, &d2);
	assert_string_equal(buf_cstr(&d1), buf_cstr(&d2));
	conf_free(&cf);
	conf_free(&again);
	buf_free(&d1);
	buf_free(&d2);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i].text, &cf, err, sizeof(err)) != -1)
			fail_msg("row %zu parses", i);
		if (strcmp(err, bad[i].err) != 0)
			fail_msg("row %zu: got '%s'", i, err);
	}
}

/* The backup block: defaults, values, what its directives need of each
 * other, and a dump that reads back. */
static void
test_backup_block(void **state)
{
	static const struct {
		const char *text;
		const char *err; /* NULL: parses */
	} rows[] = {
		{"backup {\n dir /b\n every 24h\n keep 3\n key_file /k\n}\n", NULL},
		{"backup { passphrase_file /p; every off }\n", NULL},
		{"backup { dir /b }\n", NULL},
		{"backup {\n dir /b\n every 24h\n}\n",
		 "t.conf:3: backup: 'every' needs 'key_file' or 'passphrase_file' (backups are "
		 "always encrypted)"},
		{"backup {\n every 1h\n key_file /k\n}\n",
		 "t.conf:3: backup: 'every' needs 'dir' (where the backups go)"},
		{"backup {\n key_file /k\n passphrase_file /p\n}\n",
		 "t.conf:3: backup: key_file or passphrase_file, not both"},
		{"backup {\n every 30s\n}\n", "t.conf:4: every: at least 60s (or off)"},
		{"backup {\n every soon\n}\n",
		 "t.conf:4: every: 'soon' is not a duration (like 30s, 5m, 2h, 5d)"},
		{"backup {\n keep 0\n}\n",
		 "t.conf:4: keep must be at least 1 (a backup that is deleted at once is none)"},
		{"backup {\n dir backups\n}\n", "t.conf:4: dir: 'backups' must be an absolute path"},
		{"backup {\n often 1h\n}\n", "t.conf:4: unknown directive 'often' in backup"},
	};
	char text[512], err[CONF_ERR_MAX + 64];
	struct buf d1 = BUF_INIT, d2 = BUF_INIT;
	struct conf cf, again;
	size_t i;

	(void)state;
	assert_int_equal(parse(BASE, &cf, err, sizeof(err)), 0);
	assert_int_equal(cf.backup.every, 0);
	assert_int_equal(cf.backup.keep, 7);
	assert_null(cf.backup.dir);
	assert_null(cf.backup.key_file);
	conf_dump(&cf, &d1);
	assert_non_null(strstr(buf_cstr(&d1), "backup {\n\tevery off\n\tkeep 7\n}\n"));
	conf_free(&cf);
	buf_reset(&d1);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int rc;

		snprintf(text, sizeof(text), "%s%s", BASE, rows[i].text);
		rc = parse(text, &cf, err, sizeof(err));
		if (rows[i].err == NULL && rc != 0)
			fail_msg("row %zu: %s", i, err);
		if (rows[i].err != NULL && (rc != -1 || strcmp(err, rows[i].err) != 0))
			fail_msg("row %zu: got %d '%s'", i, rc, err);
		if (rc == 0)
			conf_free(&cf);
	}
	snprintf(text, sizeof(text), "%s%s", BASE, rows[0].text);
	assert_int_equal(parse(text, &cf, err, sizeof(err)), 0);
	assert_int_equal(cf.backup.every, 86400);
	assert_int_equal(cf.backup.keep, 3);
	assert_string_equal(cf.backup.dir, "/b");
	assert_string_equal(cf.backup.key_file, "/k");
	assert_null(cf.backup.passphrase_file);
	conf_dump(&cf, &d1);
	assert_non_null(strstr(buf_cstr(&d1), "backup {\n\tevery 86400s\n\tkeep 3\n\tdir /b\n"
					      "\tkey_file /k\n}\n"));
	assert_int_equal(parse(buf_cstr(&d1), &again, err, sizeof(err)), 0);
	conf_dump(&again, &d2);
	assert_string_equal(buf_cstr(&d1), buf_cstr(&d2));
	conf_free(&cf);
	conf_free(&again);
	buf_free(&d1);
	buf_free(&d2);
}

/* smtp { sandbox }: on unless turned off, a yes/no, and in the dump. */
static void
test_smtp_sandbox(void **state)
{
	static const struct {
		const char *text;
		int ok;
		bool on;
		const char *err;
	} rows[] = {
		{BASE, 0, true, NULL},
		{BASE "smtp { sandbox yes }\n", 0, true, NULL},
		{BASE "smtp { sandbox no }\n", 0, false, NULL},
		{BASE "smtp {\n max_errors 5\n sandbox no\n}\n", 0, false, NULL},
		{BASE "smtp { sandbox off }\n", -1, false, "t.conf:3: sandbox: 'off' is not yes or no"},
		{BASE "smtp { sandbox }\n", -1, false, "t.conf:3: sandbox takes 1 argument, not 0"},
		{BASE "smtp { sandbox no no }\n", -1, false,
		 "t.conf:3: sandbox takes 1 argument, not 2"},
		{BASE "sandbox no\n", -1, false, "t.conf:3: unknown directive 'sandbox'"},
	};
	char err[CONF_ERR_MAX + 64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct buf d = BUF_INIT;
		struct conf cf, again;

		if (parse(rows[i].text, &cf, err, sizeof(err)) != rows[i].ok)
			fail_msg("row %zu: %s", i, rows[i].ok == 0 ? err : "accepted");
		if (rows[i].ok != 0) {
			assert_string_equal(err, rows[i].err);
			continue;
		}
		assert_int_equal(cf.smtp_sandbox, rows[i].on);
		conf_dump(&cf, &d);
		assert_non_null(strstr(buf_cstr(&d), rows[i].on ? "\tsandbox yes\n}\n"
								  : "\tsandbox no\n}\n"));
		assert_int_equal(parse(buf_cstr(&d), &again, err, sizeof(err)), 0);
		assert_int_equal(again.smtp_sandbox, rows[i].on);
		conf_free(&again);
		conf_free(&cf);
		buf_free(&d);
	}
}

/* notices { }: defaults, values, errors and the dump. */
static void
test_notices(void **state)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
		{BASE "notices { expiry_check_every 5s }\n",
		 "t.conf:3: expiry_check_every must be at least 10 (ten seconds)"},
		{BASE "notices { dir notices }\n",
		 "t.conf:3: dir: 'notices' must be an absolute path"},
		{BASE "notices { password_expiry maybe }\n",
		 "t.conf:3: password_expiry: 'maybe' is not yes or no"},
		{BASE "notices {\n\tsubject hello\n}\n",
		 "t.conf:4: unknown directive 'subject' in notices"},
	};
	struct conf cf, again;
	struct buf d = BUF_INIT, d2 = BUF_INIT;
	char err[CONF_ERR_MAX + 64];
	size_t i;

	(void)state;
	assert_int_equal(parse(BASE, &cf, err, sizeof(err)), 0);
	assert_null(cf.notices.dir);
	assert_int_equal(cf.notices.expiry_check_every, 3600);
	assert_true(cf.notices.password_expiry);
	conf_dump(&cf, &d);
	assert_non_null(strstr(buf_cstr(&d), "notices {\n\texpiry_check_every 3600s\n"
					     "\tpassword_expiry yes\n}\n"));
	conf_free(&cf);
	buf_reset(&d);
	assert_int_equal(parse(BASE "notices {\n\tdir \"/etc/postern/my notices\"\n"
				    "\texpiry_check_every 30s\n\tpassword_expiry no\n}\n",
			       &cf, err, sizeof(err)),
			 0);
	assert_string_equal(cf.notices.dir, "/etc/postern/my notices");
	assert_int_equal(cf.notices.expiry_check_every, 30);
	assert_false(cf.notices.password_expiry);
	conf_dump(&cf, &d);
	assert_non_null(strstr(buf_cstr(&d), "notices {\n\tdir \"/etc/postern/my notices\"\n"
					     "\texpiry_check_every 30s\n\tpassword_expiry no\n}\n"));
	assert_int_equal(parse(buf_cstr(&d), &again, err, sizeof(err)), 0);
	conf_dump(&again, &d2);
	assert_string_equal(buf_cstr(&d), buf_cstr(&d2));
	conf_free(&cf);
	conf_free(&again);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i].text, &cf, err, sizeof(err)), -1);
		assert_string_equal(err, bad[i].err);
	}
	buf_free(&d);
	buf_free(&d2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_signing_only_domain),
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_block_styles),
		cmocka_unit_test(test_quoted_strings),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_trusted_match),
		cmocka_unit_test(test_dump_round_trip),
		cmocka_unit_test(test_route_parse),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_smtp_sandbox),
		cmocka_unit_test(test_check_block),
		cmocka_unit_test(test_backup_block),
		cmocka_unit_test(test_notices),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
