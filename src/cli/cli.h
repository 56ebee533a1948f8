/* SPDX-License-Identifier: ISC */
/*
 * cli - the `postern` command: subcommand dispatch, usage text.
 *
 * SECURITY: runs with the caller's privileges; talks to a running daemon
 * only through the control socket.
 */
#ifndef POSTERN_CLI_H
#define POSTERN_CLI_H

#include <stdbool.h>

/* --selector may repeat (dual signing) this many times. */
#define CLI_SELECTORS_MAX 8

/* The parsed command line: words and options, options anywhere. */
struct cli {
	const char *config;
	bool debug;
	bool password_stdin; /* --password-stdin */
	bool reset;	     /* --reset: the user must change the password */
	bool remove;	     /* --remove */
	bool follow;	     /* -f */
	const char *reason;  /* --reason TEXT */
	const char *label;   /* --label TEXT */
	const char *expires; /* --expires DURATION */
	const char *from;    /* --from CIDR */
	const char *duration; /* --for DURATION */
	const char *ip;	      /* --ip ADDRESS (dmarc check) */
	const char *mail_from; /* --mail-from ADDRESS */
	const char *helo;      /* --helo NAME */
	const char *since;     /* --since TIME|DURATION (audit search) */
	const char *actor;     /* --actor NAME */
	const char *event;     /* --event NAME */
	const char *format;    /* --format json|syslog */
	const char *anchor;    /* --anchor N:HASH (audit verify) */
	bool force;	      /* --force */
	bool json;	      /* --json (check) */
	const char *algo;     /* --algo rsa2048|ed25519 */
	const char *domain;   /* --domain NAME */
	const char *passphrase_file; /* --passphrase-file FILE (backup, restore) */
	const char *key_file;	     /* --key-file FILE */
	bool scheduled;		     /* backup --scheduled */
	const char *selectors[CLI_SELECTORS_MAX]; /* --selector NAME, repeatable */
	int nselectors;
	char *words[16];
	int nwords;
};

/* cli_main - run the command line; returns the exit status. */
int cli_main(int argc, char **argv);
/* cli_user - `postern user ...`; cli_audit - `postern audit ...`. */
int cli_user(struct cli *c);
int cli_audit(struct cli *c);
/* cli_ban - `postern ban ...`. */
int cli_ban(struct cli *c);
int cli_spf(struct cli *c);
int cli_dkim_verify(struct cli *c);
int cli_dmarc(struct cli *c);
int cli_dns_check(struct cli *c);
/* cli_dkim - `postern dkim keygen|sign|list`. */
int cli_dkim(struct cli *c);
/* cli_check - `postern check [--json]`, the self-audit; the exit status
 * of its worst finding (check.c). */
int cli_check(struct cli *c);
/* cli_backup - `postern backup FILE|--scheduled|keygen FILE`; cli_restore -
 * `postern restore FILE`. */
int cli_backup(struct cli *c);
int cli_restore(struct cli *c);

#endif
