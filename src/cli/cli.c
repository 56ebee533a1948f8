/* SPDX-License-Identifier: ISC */
/*
 * cli - `postern` subcommands.
 *
 * Every subcommand takes -c FILE (anywhere after its words); the default is
 * /etc/postern/postern.conf. Exit status: 0 success, 1 failure, 2 usage.
 *
 * SECURITY: see cli.h.
 */
#include "cli/cli.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mailauth/dkimkey.h"
#include "proc/control.h"
#include "proc/privsep.h"
#include "proc/procs.h"
#include "tls/tls.h"

static const char usage_text[] =
	"usage: postern COMMAND [ARGS] [-c FILE]\n"
	"\n"
	"A secure SMTP gateway: MX gateway on port 25, submission on 587/465.\n"
	"\n"
	"Commands:\n"
	"  serve [-d]                 run the gateway in the foreground (-d: debug logging);\n"
	"                             tells systemd when it is ready (contrib/systemd/)\n"
	"  config check               validate the config; errors name the file and line\n"
	"  config dump                print the effective config, defaults included\n"
	"  queue list                 list queued messages and their recipients\n"
	"  queue show ID              envelope, delivery state and headers of a message\n"
	"  queue flush                retry every deferred message now\n"
	"  queue delete ID            remove a message without a bounce\n"
	"  queue hold ID              keep a message from being delivered\n"
	"  queue release ID           deliver a held (or quarantined) message again\n"
	"  queue quarantine           messages held by a DMARC quarantine policy, with why\n"
	"  user add NAME              create an account (password prompted, or --password-stdin)\n"
	"  user list | show NAME      accounts; one account's addresses, networks, app passwords\n"
	"  user del NAME              delete an account\n"
	"  user passwd NAME [--reset] set a new password (--reset: must change at next login)\n"
	"  user lock NAME [--reason T] | unlock NAME\n"
	"  user address add|del NAME ADDRESS   addresses NAME may send as (@domain: all of it)\n"
	"  user allow-from NAME CIDR [--remove] networks NAME may log in from (none: any)\n"
	"  user import FILE           accounts from a Dovecot passwd-file (hashes kept)\n"
	"  user 2fa enable NAME [--reset] | disable NAME\n"
	"                             TOTP: prints the secret, otpauth URI and QR code once\n"
	"  user app-password add NAME --label L [--expires 90d] [--from CIDR]\n"
	"                             a generated password for one device, shown once\n"
	"  user app-password list NAME | revoke NAME LABEL\n"
	"  ban list                   bans in force: network, until, reason, how many so far\n"
	"  ban add CIDR [--for 1h] [--reason T]   refuse a network (default: until removed)\n"
	"  ban del CIDR               lift a ban (and forget the network's earlier bans)\n"
	"  spf IP MAILFROM HELO       the SPF result for a client, with the reason\n"
	"  dkim verify < MESSAGE      check every DKIM signature of a message\n"
	"  dkim keygen DOMAIN SELECTOR [--algo rsa2048|ed25519] [--force]\n"
	"                             a signing key in STATE_DIR/dkim; prints its DNS record\n"
	"  dkim list                  configured selectors, their keys and DNS records\n"
	"  dkim sign --domain D [--selector S]... < MESSAGE\n"
	"                             print MESSAGE with DKIM-Signature(s) (default: D's selectors)\n"
	"  dmarc check [--ip IP --mail-from ADDR --helo NAME] < MESSAGE\n"
	"                             SPF, DKIM and the DMARC verdict and policy for a message\n"
	"  dmarc report               send the DMARC aggregate reports recorded so far, now\n"
	"  dns check DOMAIN [--ip A]  the domain's SPF, DKIM, DMARC, MTA-STS and TLS-RPT records:\n"
	"                             present, valid, matching this gateway, what to publish\n"
	"  audit verify               check the audit log's hash chain\n"
	"  audit tail [-f]            the last audit records (-f: keep following)\n"
	"  audit search [--since 2026-11-28|24h] [--actor A] [--event E|user.] [--format json|syslog]\n"
	"                             records that match, as JSON lines or RFC 5424 syslog\n"
	"  version                    print the version\n"
	"  help                       this text\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE          config file (default " CONF_DEFAULT_PATH ")\n"
	"  -h, --help                 this text\n"
	"\n"
	"Queue commands talk to the running daemon over STATE_DIR/control.sock; user, ban, dkim\n"
	"and audit commands work on STATE_DIR directly, whether the daemon runs or not (a\n"
	"running daemon applies a ban within a second, and reads DKIM keys at start and reload).\n"
	"Documentation: docs/ in the source tree (configuration, operations, queue).\n";

static int
usage(FILE *f, int status)
{
	fputs(usage_text, f);
	return status;
}

/* Options that take a value, and the field of struct cli it goes to. */
static const struct {
	const char *name;
	size_t off;
} value_opts[] = {
	{"--reason", offsetof(struct cli, reason)}, {"--label", offsetof(struct cli, label)},
	{"--expires", offsetof(struct cli, expires)}, {"--from", offsetof(struct cli, from)},
	{"--for", offsetof(struct cli, duration)},    {"--algo", offsetof(struct cli, algo)},
	{"--domain", offsetof(struct cli, domain)},   {"--ip", offsetof(struct cli, ip)},
	{"--mail-from", offsetof(struct cli, mail_from)}, {"--helo", offsetof(struct cli, helo)},
	{"--since", offsetof(struct cli, since)},     {"--actor", offsetof(struct cli, actor)},
	{"--event", offsetof(struct cli, event)},     {"--format", offsetof(struct cli, format)},
};

/* value_slot - where the value of option a goes (--selector: the next
 * free one; the caller checks there is room), or NULL when a takes none. */
static const char **
value_slot(struct cli *c, const char *a)
{
	size_t i;

	if (strcmp(a, "--selector") == 0)
		return &c->selectors[c->nselectors < CLI_SELECTORS_MAX ? c->nselectors : 0];
	for (i = 0; i < nitems(value_opts); i++)
		if (strcmp(a, value_opts[i].name) == 0)
			return (const char **)(void *)((char *)c + value_opts[i].off);
	return NULL;
}

/* parse_args - options anywhere, the rest are words. */
static int
parse_args(struct cli *c, int argc, char **argv)
{
	int i;

	memset(c, 0, sizeof(*c));
	c->config = CONF_DEFAULT_PATH;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (++i >= argc) {
				fprintf(stderr, "postern: %s needs a file name\n", a);
				return -1;
			}
			c->config = argv[i];
		} else if (strncmp(a, "--config=", 9) == 0) {
			c->config = a + 9;
		} else if (strcmp(a, "-d") == 0 || strcmp(a, "--debug") == 0) {
			c->debug = true;
		} else if (strcmp(a, "--password-stdin") == 0) {
			c->password_stdin = true;
		} else if (strcmp(a, "--reset") == 0) {
			c->reset = true;
		} else if (strcmp(a, "--remove") == 0) {
			c->remove = true;
		} else if (strcmp(a, "-f") == 0 || strcmp(a, "--follow") == 0) {
			c->follow = true;
		} else if (strcmp(a, "--force") == 0) {
			c->force = true;
		} else if (value_slot(c, a) != NULL) {
			if (++i >= argc) {
				fprintf(stderr, "postern: %s needs a value\n", a);
				return -1;
			}
			if (strcmp(a, "--selector") == 0 && c->nselectors == CLI_SELECTORS_MAX) {
				fprintf(stderr, "postern: more than %d --selector options\n",
					CLI_SELECTORS_MAX);
				return -1;
			}
			*value_slot(c, a) = argv[i];
			if (strcmp(a, "--selector") == 0)
				c->nselectors++;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			c->words[0] = "help";
			c->nwords = 1;
			return 0;
		} else if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "postern: unknown option %s\n", a);
			return -1;
		} else if (c->nwords < (int)nitems(c->words)) {
			c->words[c->nwords++] = argv[i];
		} else {
			fprintf(stderr, "postern: too many arguments\n");
			return -1;
		}
	}
	return 0;
}

/* config_check - what the daemon checks beyond the syntax: certificates
 * and keys, and every configured DKIM selector's key; 0 or 1. */
static int
config_check(const char *path, const struct conf *cf)
{
	struct privsep_user pu;
	struct tls_certs certs;
	char err[CONF_ERR_MAX + 1024];

	if (tls_certs_load(cf, &certs, err, sizeof(err)) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		return 1;
	}
	tls_certs_free(&certs);
	if (privsep_lookup(cf->user, &pu, err, sizeof(err)) == -1 ||
	    dkimkey_check_conf(cf, pu.drop ? pu.uid : (uid_t)-1, err, sizeof(err)) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		return 1;
	}
	printf("%s: ok (%zu listener%s, %zu domain%s)\n", path, cf->nlisteners,
	       cf->nlisteners == 1 ? "" : "s", cf->ndomains, cf->ndomains == 1 ? "" : "s");
	return 0;
}

static int
cmd_config(struct cli *c)
{
	char err[CONF_ERR_MAX + 64];
	struct conf cf;
	struct buf out = BUF_INIT;
	int rc = 0;

	if (c->nwords != 2 || (strcmp(c->words[1], "check") != 0 &&
			       strcmp(c->words[1], "dump") != 0))
		return usage(stderr, 2);
	if (conf_load(c->config, &cf, err, sizeof(err)) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		return 1;
	}
	if (strcmp(c->words[1], "check") == 0) {
		rc = config_check(c->config, &cf);
	} else {
		conf_dump(&cf, &out);
		fputs(buf_cstr(&out), stdout);
		buf_free(&out);
	}
	conf_free(&cf);
	return rc;
}

static int
cmd_queue(struct cli *c)
{
	char err[CONF_ERR_MAX + 64], path[PATH_MAX];
	struct conf cf;
	struct buf out = BUF_INIT;
	int rc;

	if (c->nwords < 2)
		return usage(stderr, 2);
	if (conf_load(c->config, &cf, err, sizeof(err)) == -1) {
		fprintf(stderr, "postern: %s\n", err);
		return 1;
	}
	control_path(&cf, path, sizeof(path));
	conf_free(&cf);
	rc = control_request(path, c->nwords, c->words, &out);
	if (rc == 0) {
		fputs(buf_cstr(&out), stdout);
	} else {
		fprintf(stderr, "postern: %s\n", buf_cstr(&out));
	}
	buf_free(&out);
	return rc == 0 ? 0 : 1;
}

int
cli_main(int argc, char **argv)
{
	struct cli c;

	log_init("cli", false, LOG_LEVEL_INFO);
	if (parse_args(&c, argc, argv) == -1)
		return usage(stderr, 2);
	if (c.nwords == 0)
		return usage(stderr, 2);
	if (strcmp(c.words[0], "help") == 0)
		return usage(stdout, 0);
	if (strcmp(c.words[0], "version") == 0) {
		printf("postern %s\n", POSTERN_VERSION);
		return 0;
	}
	if (strcmp(c.words[0], "serve") == 0) {
		if (c.nwords != 1)
			return usage(stderr, 2);
		return parent_main(c.config, c.debug);
	}
	if (strcmp(c.words[0], "config") == 0)
		return cmd_config(&c);
	if (strcmp(c.words[0], "queue") == 0)
		return cmd_queue(&c);
	if (strcmp(c.words[0], "user") == 0)
		return cli_user(&c);
	if (strcmp(c.words[0], "audit") == 0)
		return cli_audit(&c);
	if (strcmp(c.words[0], "ban") == 0)
		return cli_ban(&c);
	if (strcmp(c.words[0], "spf") == 0)
		return cli_spf(&c);
	if (strcmp(c.words[0], "dmarc") == 0 && c.nwords == 2 && strcmp(c.words[1], "report") == 0)
		return cmd_queue(&c); /* a request to the daemon, like the queue's */
	if (strcmp(c.words[0], "dmarc") == 0)
		return cli_dmarc(&c);
	if (strcmp(c.words[0], "dns") == 0)
		return cli_dns_check(&c);
	if (strcmp(c.words[0], "dkim") == 0 && c.nwords >= 2 && strcmp(c.words[1], "verify") == 0)
		return cli_dkim_verify(&c);
	if (strcmp(c.words[0], "dkim") == 0)
		return cli_dkim(&c);
	fprintf(stderr, "postern: unknown command '%s'\n\n", c.words[0]);
	return usage(stderr, 2);
}
