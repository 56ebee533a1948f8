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
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin/request.h"
#include "conf/conf.h"
#include "lib/buf.h"
#include "lib/log.h"
#include "lib/util.h"
#include "mailauth/dkimkey.h"
#include "proc/control.h"
#include "proc/privsep.h"
#include "proc/procs.h"
#include "queue/notices.h"
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
	"  user 2fa enable NAME [--reset] [--no-mail] | disable NAME\n"
	"                             TOTP: prints the secret, otpauth URI and QR code once;\n"
	"                             mails NAME how to set it up (never the secret itself)\n"
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
	"  check [--json]             the self-audit: config, certificates, accounts, keys, its own\n"
	"                             listeners (AUTH before TLS, TLS versions, open relay), DNS,\n"
	"                             library versions; each finding with what it means and the\n"
	"                             fix. Exit 0: nothing above low, 3 medium, 4 high, 5 critical\n"
	"  audit verify [--anchor N:HASH]\n"
	"                             check the audit log's hash chain, and that it still holds\n"
	"                             the last anchor (and N:HASH, from a shipped log line)\n"
	"  audit tail [-f]            the last audit records (-f: keep following)\n"
	"  audit search [--since 2026-11-28|24h] [--actor A] [--event E|user.] [--format json|syslog]\n"
	"                             records that match, as JSON lines or RFC 5424 syslog\n"
	"  backup FILE [--passphrase-file F | --key-file F] [--force]\n"
	"                             an encrypted snapshot of the running gateway: accounts, keys,\n"
	"                             config, audit log, queue (key: the option, or backup { })\n"
	"  backup --scheduled         the same into backup { dir }, keeping the last `keep`\n"
	"  backup keygen FILE         a new random backup key (for backup { key_file })\n"
	"  backup verify FILE [--passphrase-file F | --key-file F]\n"
	"                             read a backup through and check it, writing nothing\n"
	"  restore FILE [--passphrase-file F | --key-file F]\n"
	"                             bring a backup back into an empty state_dir (and the config,\n"
	"                             if -c FILE does not exist yet); its queued mail is delivered\n"
	"  notice list                the notice kinds, where each text comes from, placeholders\n"
	"  notice show KIND           the template in use (lockout, new-ip, password-expiry,\n"
	"                             2fa-enrolment): a start for your own (notices { dir })\n"
	"  notice send 2fa-enrolment ACCOUNT\n"
	"                             mail the two-step sign-in instructions (again)\n"
	"  role                       the admin role the daemon gives you (admin { } in the config)\n"
	"  version                    print the version\n"
	"  help                       this text\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE          config file (default " CONF_DEFAULT_PATH ")\n"
	"  -h, --help                 this text\n"
	"\n"
	"Queue and notice commands talk to the running daemon over STATE_DIR/control.sock;\n"
	"user, ban, dkim, check, audit and backup commands run by root or the daemon's user\n"
	"work on STATE_DIR directly, whether the daemon runs or not (a running daemon applies\n"
	"a ban within a second, and reads DKIM keys and notice templates at start and reload).\n"
	"Other users' commands go through the daemon, which allows what their admin role\n"
	"allows (auditor, operator, admin) and audits every request.\n"
	"The same commands are offered over HTTPS to admins with 2FA: admin { api } in the config.\n"
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
	{"--anchor", offsetof(struct cli, anchor)},
	{"--passphrase-file", offsetof(struct cli, passphrase_file)},
	{"--key-file", offsetof(struct cli, key_file)},
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
		} else if (strcmp(a, "--json") == 0) {
			c->json = true;
		} else if (strcmp(a, "--scheduled") == 0) {
			c->scheduled = true;
		} else if (strcmp(a, "--no-mail") == 0) {
			c->no_mail = true;
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

/* check_notices - the operator's notice templates load (as at start). */
static int
check_notices(const struct conf *cf)
{
	char err[PATH_MAX + 600];
	struct notices *ns = notices_load(cf->notices.dir, err, sizeof(err));

	if (ns == NULL) {
		fprintf(stderr, "postern: %s\n", err);
		return 1;
	}
	notices_free(ns);
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
	if (check_notices(cf) != 0)
		return 1;
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

/* forward_argv - the command line without -c FILE, as the daemon runs it. */
static int
forward_argv(int argc, char **argv, char **out, int max)
{
	int i, n = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
			i++;
			continue;
		}
		if (strncmp(argv[i], "--config=", 9) == 0)
			continue;
		if (n == max)
			return -1;
		out[n++] = argv[i];
	}
	return n;
}

/* reads_stdin - does the command read its standard input? */
static bool
reads_stdin(const struct cli *c)
{
	const char *w0 = c->words[0], *w1 = c->nwords > 1 ? c->words[1] : "";

	return c->password_stdin ||
	       (strcmp(w0, "dkim") == 0 && (strcmp(w1, "sign") == 0 || strcmp(w1, "verify") == 0)) ||
	       (strcmp(w0, "dmarc") == 0 && strcmp(w1, "check") == 0);
}

/* read_input - all of stdin, at most ADMIN_STDIN_MAX bytes; 0 or -1. */
static int
read_input(struct buf *in)
{
	char chunk[8192];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
		if (in->len + n > ADMIN_STDIN_MAX) {
			fprintf(stderr, "postern: more than %d bytes on standard input\n",
				ADMIN_STDIN_MAX);
			return -1;
		}
		buf_add(in, chunk, n);
	}
	return ferror(stdin) ? -1 : 0;
}

/* absolute_file_arg - the file of `backup FILE` and `user import FILE`
 * made absolute: the daemon runs the command elsewhere than our cwd. */
static void
absolute_file_arg(const struct cli *c, char **fwd, int n, char *abs, size_t abssz)
{
	const char *file = NULL;
	char cwd[PATH_MAX];
	int i, w;

	if (strcmp(c->words[0], "backup") == 0 && c->nwords == 2)
		file = c->words[1];
	else if (strcmp(c->words[0], "user") == 0 && c->nwords == 3 &&
		 strcmp(c->words[1], "import") == 0)
		file = c->words[2];
	if (file == NULL || file[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		return;
	w = snprintf(abs, abssz, "%s/%s", cwd, file);
	if (w < 0 || (size_t)w >= abssz)
		return;
	for (i = 0; i < n; i++)
		if (fwd[i] == file)
			fwd[i] = abs;
}

/* cmd_forward - have the daemon run the command (queue requests always;
 * the others for callers who cannot work on state_dir themselves): it
 * decides by the caller's role and audits the request. */
static int
cmd_forward(struct cli *c, const struct conf *cf, int argc, char **argv)
{
	char path[PATH_MAX], *fwd[ADMIN_ARGS_MAX], abs[PATH_MAX];
	struct buf in = BUF_INIT, out = BUF_INIT, err = BUF_INIT;
	bool with_input = reads_stdin(c);
	int n, status;

	n = forward_argv(argc, argv, fwd, ADMIN_ARGS_MAX);
	if (n < 1) {
		fprintf(stderr, "postern: too many arguments\n");
		return 2;
	}
	if (strcmp(c->words[0], "user") == 0 && c->nwords >= 2 &&
	    (strcmp(c->words[1], "add") == 0 || strcmp(c->words[1], "passwd") == 0) &&
	    !c->password_stdin) {
		fprintf(stderr, "postern: through the daemon, give the password on standard input "
				"with --password-stdin\n");
		return 2;
	}
	absolute_file_arg(c, fwd, n, abs, sizeof(abs));
	if (with_input && read_input(&in) == -1) {
		buf_wipe_free(&in);
		return 1;
	}
	control_path(cf, path, sizeof(path));
	status = control_request(path, n, fwd, with_input ? in.data : NULL, in.len, &out, &err);
	buf_wipe_free(&in);
	fwrite(out.data, 1, out.len, stdout);
	if (status == -1)
		fprintf(stderr, "postern: %s\n", buf_cstr(&err));
	else
		fwrite(err.data, 1, err.len, stderr);
	buf_free(&out);
	buf_free(&err);
	return status == -1 ? 1 : status;
}

/* via_daemon - should this command go through the control socket? Queue,
 * DMARC report and notice requests always do (the queue process holds the
 * notice templates and queues the mail); the others when the caller is
 * neither root nor the daemon's user (so cannot read state_dir). A child
 * the daemon started for such a request runs the command itself. */
static bool
via_daemon(const struct cli *c, const struct conf *cf, int argc, char **argv)
{
	char *fwd[ADMIN_ARGS_MAX];
	struct passwd *pw;
	int n;

	if (strcmp(c->words[0], "queue") == 0 ||
	    (strcmp(c->words[0], "dmarc") == 0 && c->nwords == 2 &&
	     strcmp(c->words[1], "report") == 0) ||
	    strcmp(c->words[0], "role") == 0 || strcmp(c->words[0], "notice") == 0)
		return true;
	if (getenv("POSTERN_VIA_DAEMON") != NULL || geteuid() == 0)
		return false;
	pw = getpwnam(cf->user);
	if (pw != NULL && pw->pw_uid == geteuid())
		return false;
	/* everything, even what never runs through the daemon: it says so */
	n = forward_argv(argc, argv, fwd, ADMIN_ARGS_MAX);
	return n > 0;
}

/* maybe_forward - run the command through the daemon when via_daemon()
 * says so: 1 and *status set, or 0 to run it here. */
static int
maybe_forward(struct cli *c, int argc, char **argv, int *status)
{
	char err[CONF_ERR_MAX + 64];
	struct conf cf;

	if (conf_load(c->config, &cf, err, sizeof(err)) == -1) {
		if (strcmp(c->words[0], "queue") != 0 && strcmp(c->words[0], "role") != 0 &&
		    strcmp(c->words[0], "dmarc") != 0 && strcmp(c->words[0], "notice") != 0)
			return 0; /* the command says what is wrong with the config */
		fprintf(stderr, "postern: %s\n", err);
		*status = 1;
		return 1;
	}
	if (!via_daemon(c, &cf, argc, argv)) {
		conf_free(&cf);
		return 0;
	}
	*status = cmd_forward(c, &cf, argc, argv);
	conf_free(&cf);
	return 1;
}

int
cli_main(int argc, char **argv)
{
	struct cli c;
	int status;

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
	if (maybe_forward(&c, argc, argv, &status) == 1)
		return status;
	if (strcmp(c.words[0], "config") == 0)
		return cmd_config(&c);
	if (strcmp(c.words[0], "user") == 0)
		return cli_user(&c);
	if (strcmp(c.words[0], "audit") == 0)
		return cli_audit(&c);
	if (strcmp(c.words[0], "ban") == 0)
		return cli_ban(&c);
	if (strcmp(c.words[0], "spf") == 0)
		return cli_spf(&c);
	if (strcmp(c.words[0], "dmarc") == 0)
		return cli_dmarc(&c);
	if (strcmp(c.words[0], "dns") == 0)
		return cli_dns_check(&c);
	if (strcmp(c.words[0], "dkim") == 0 && c.nwords >= 2 && strcmp(c.words[1], "verify") == 0)
		return cli_dkim_verify(&c);
	if (strcmp(c.words[0], "dkim") == 0)
		return cli_dkim(&c);
	if (strcmp(c.words[0], "check") == 0)
		return cli_check(&c);
	if (strcmp(c.words[0], "backup") == 0)
		return cli_backup(&c);
	if (strcmp(c.words[0], "restore") == 0)
		return cli_restore(&c);
	fprintf(stderr, "postern: unknown command '%s'\n\n", c.words[0]);
	return usage(stderr, 2);
}
