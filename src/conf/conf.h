/* SPDX-License-Identifier: ISC */
/*
 * conf - postern's configuration: the schema that gives the parsed tree its
 * meaning, defaults, and validation with errors naming file and line.
 *
 * SECURITY: runs in the parent (as root) on the operator's file, and in the
 * children on the same text passed over IPC. Pure apart from conf_load().
 */
#ifndef POSTERN_CONF_H
#define POSTERN_CONF_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conf/confparse.h"
#include "lib/buf.h"
#include "lib/net.h"

#define CONF_DEFAULT_PATH "/etc/postern/postern.conf"
#define CONF_MAX_FILE (128 * 1024)
#define CONF_HOSTNAME_MAX 255

enum listen_role { ROLE_MX, ROLE_SUBMISSION };
/* How a listener offers TLS. */
enum listen_tls { LTLS_UNSET, LTLS_NONE, LTLS_STARTTLS, LTLS_REQUIRED, LTLS_IMPLICIT };
/* Outbound TLS for a next hop: may (opportunistic, the default), none,
 * encrypt (TLS required, any certificate), verify (TLS with a certificate
 * that chains to a trusted CA and names the host). */
enum tls_policy { TLSP_MAY, TLSP_NONE, TLSP_ENCRYPT, TLSP_VERIFY };
enum line_endings { LINE_ENDINGS_STRICT, LINE_ENDINGS_NORMALIZE };

/* A next hop: smtp://host:port, lmtp://host:port or lmtp:unix:/path. */
enum route_kind { ROUTE_SMTP, ROUTE_LMTP, ROUTE_LMTP_UNIX };
struct route {
	enum route_kind kind;
	char host[CONF_HOSTNAME_MAX + 1]; /* a numeric address or a name */
	uint16_t port;
	char path[108];
	char spec[400]; /* as written, for logs */
	enum tls_policy tls;
};

/* Networks a rule lists (allow, deny, exempt). */
#define CONF_ACL_MAX 64
struct conf_acl {
	struct cidr net[CONF_ACL_MAX];
	size_t n;
};

struct conf_listener {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char spec[NET_ADDRSTRLEN + 8];
	enum listen_role role;
	enum listen_tls tls; /* never LTLS_UNSET after conf_parse */
	struct conf_acl allow; /* empty: anyone (subject to the global rules) */
	struct conf_acl deny;
	int line;
};

/* One certificate and its key (several are chosen by SNI). */
struct conf_cert {
	char cert[PATH_MAX];
	char key[PATH_MAX];
	int line;
};

struct conf_tls {
	struct conf_cert *certs; /* the first is the default */
	size_t ncerts;
	int min_version;    /* 12 or 13 */
	char *ciphers;	    /* TLS 1.2 cipher list, NULL for ours */
	char *ciphersuites; /* TLS 1.3 suites, NULL for OpenSSL's */
	char *ca_file;	    /* outbound verification, NULL: system store */
	enum tls_policy relay_policy; /* smarthost and MX delivery */
};

/* DKIM selectors that sign one domain's mail: each signs, so two give a
 * rotation (old and new key) or dual signing (RSA and Ed25519). */
#define CONF_DKIM_SELECTORS_MAX 4
/* A selector is a DNS name (RFC 6376 3.1). */
#define CONF_SELECTOR_MAX 253

struct conf_dkim_selector {
	char name[CONF_SELECTOR_MAX + 1]; /* lower case */
	int line;			  /* of its `dkim selector`, for errors about its key */
};

struct conf_domain {
	char name[CONF_HOSTNAME_MAX + 1]; /* lower case */
	struct route deliver;		  /* deliver.tls: the domain's `tls` */
	struct conf_dkim_selector dkim[CONF_DKIM_SELECTORS_MAX];
	size_t ndkim; /* 0: mail from this domain is not signed */
};

struct conf_limits {
	uint64_t max_command_length;   /* bytes, CRLF excluded */
	uint64_t max_data_line_length; /* bytes of one DATA line */
	uint64_t max_recipients;       /* per message */
	uint64_t max_message_size;     /* bytes, advertised in SIZE */
	uint64_t max_errors;           /* then 421 and close */
	uint64_t command_timeout;      /* seconds waiting for a command */
	uint64_t data_timeout;         /* seconds between DATA reads */
	uint64_t session_timeout;      /* seconds for a whole session */
	uint64_t max_connections;      /* in total */
	uint64_t max_connections_per_ip;
	uint64_t shutdown_timeout; /* seconds sessions get to finish at stop */
	uint64_t tls_handshake_timeout;
	uint64_t max_header_size; /* bytes of a message's header section */
	enum line_endings line_endings;
};

struct conf_queue {
	uint64_t max_lifetime;   /* seconds before a bounce */
	uint64_t retry_min;      /* first retry delay, seconds */
	uint64_t retry_max;      /* retry delay ceiling, seconds */
	uint64_t delay_warning;  /* seconds before a delay DSN (NOTIFY=DELAY) */
	uint64_t max_per_destination; /* concurrent connections per next hop */
	uint64_t max_deliveries; /* concurrent outbound connections in total */
	uint64_t connect_timeout;
	uint64_t reply_timeout;
	uint64_t idle_reuse;     /* seconds an idle outbound connection is kept */
};

/* Accounts and SMTP AUTH. */
struct conf_auth {
	uint64_t argon2_memory; /* bytes */
	uint64_t argon2_ops;
	uint64_t hash_threads; /* 0: one per CPU */
	uint64_t hash_queue;   /* verifications waiting; beyond: 454 */
	uint64_t cache_ttl;    /* seconds a verified credential is remembered; 0: never */
	uint64_t min_length;
	uint64_t max_length;
	uint64_t min_entropy; /* zxcvbn bits */
	char *banned_file;    /* SHA-1 hex or words, one per line */
	uint64_t history;     /* previous passwords refused */
	uint64_t max_age;     /* seconds; 0: passwords do not expire */
	uint64_t warn_before; /* seconds before max_age to warn */
	uint64_t totp_window; /* steps either side */
	uint64_t scram_iterations; /* PBKDF2 rounds of stored SCRAM keys; 0: no SCRAM */
};

struct dnsbl_list;

/* What to do with a message given an SPF result. */
enum mailauth_action {
	MA_ACCEPT, /* accept and record it */
	MA_REJECT, /* 550 5.7.23 at MAIL FROM */
	MA_DEFER,  /* 451 4.7.24 at MAIL FROM */
	MA_DMARC,  /* accept; DMARC decides at the end of DATA */
};

/* SPF, DKIM and DMARC on mx listeners (the `mailauth` block). */
struct conf_mailauth {
	char *authserv_id; /* NULL: the hostname */
	bool spf;
	enum mailauth_action spf_fail, spf_softfail, spf_permerror, spf_temperror;
	bool dkim_verify;
	bool dmarc;
	bool dmarc_enforce; /* reject and quarantine as the policy says */
	char *psl;	    /* Public Suffix List path */
	uint64_t dns_timeout; /* seconds for the lookups of one check */
	char *dmarc_report_from; /* aggregate reports: From: address; NULL: off */
	char *dmarc_report_org;	 /* org_name in reports; NULL: the hostname */
	uint64_t dmarc_report_rows; /* store rows per day (0: the default) */
};

#define CONF_PSL_DEFAULT "/usr/share/publicsuffix/public_suffix_list.dat"

/* Login monitoring and intrusion defense (the guard). Times in seconds. */
struct conf_guard {
	bool enabled;		   /* off: no counting, bans, rate limits, abuse checks */
	uint64_t window;	   /* failures and abuse are counted over this */
	uint64_t ip_failures;	   /* failed AUTH from one address: then a ban */
	uint64_t net_failures;	   /* from one /24 or /64: AUTH refused to untrusted */
	uint64_t pair_failures;	   /* from a trusted (account, address): that pair waits */
	uint64_t account_failures; /* consecutive: then locked against untrusted sources */
	uint64_t account_lock_time;
	uint64_t ban_time; /* first ban; doubled for each earlier one */
	uint64_t ban_max;
	uint64_t tarpit; /* delay of the first failed AUTH, doubled per failure */
	uint64_t tarpit_max;
	uint64_t spray_accounts;    /* distinct accounts failed from one source */
	uint64_t stuffing_sources;  /* distinct addresses failing in a window ... */
	uint64_t stuffing_accounts; /* ... on this many distinct accounts */
	uint64_t trust_time;	    /* a successful (account, address) stays trusted */
	uint64_t conn_rate;	    /* connections per address per minute; 0: no limit */
	uint64_t auth_rate;	    /* AUTH commands per address per minute */
	uint64_t user_messages;	    /* per authenticated user per hour */
	uint64_t user_recipients;
	uint64_t greet_delay; /* mx: wait before the greeting; talkers are refused */
	uint64_t abuse_tarpit, abuse_disconnect, abuse_ban; /* protocol-abuse scores */
	struct conf_acl allow, deny, exempt;
	struct dnsbl_list *dnsbl; /* DNSBL (weight > 0) and DNSWL (< 0) lists */
	size_t ndnsbl;
	uint64_t dnsbl_threshold; /* a total weight this high refuses the client */
	uint64_t dnsbl_timeout;	  /* seconds the greeting waits for the answers */
	char *alert_to;	     /* security address for alerts, NULL: none */
	bool notify_users;   /* mail account owners about locks and new addresses */
	char *nftables_set;  /* "family table set", NULL: none */
	char *store;	     /* "redis://host:port[/db]" shared by gateways, NULL: local */
};

/* Admin roles (see src/admin/role.h for what each may do). */
enum admin_role { ROLE_NONE = 0, ROLE_AUDITOR, ROLE_OPERATOR, ROLE_ADMIN };

#define CONF_PRINCIPALS_MAX 64
#define CONF_PRINCIPAL_MAX 64
#define CONF_API_ACCOUNTS_MAX 64

/* A local caller mapped to a role: a Unix user or, with group, a group;
 * by name or number. Names are looked up when a caller connects (children
 * parse the config inside a chroot, where there is no /etc/passwd). */
struct conf_principal {
	char name[CONF_PRINCIPAL_MAX + 1];
	bool group;
	enum admin_role role;
};

/* An account of the account store allowed into the admin API. */
struct conf_api_account {
	char name[CONF_PRINCIPAL_MAX + 1];
	enum admin_role role;
};

/* admin { }: who may administer the gateway, and the HTTPS admin API. */
struct conf_admin {
	struct conf_principal principals[CONF_PRINCIPALS_MAX];
	size_t nprincipals;
	struct sockaddr_storage api; /* api_len 0: no API listener */
	socklen_t api_len;
	struct conf_acl api_allow;   /* default: loopback */
	struct conf_api_account api_accounts[CONF_API_ACCOUNTS_MAX];
	size_t napi_accounts;
	uint64_t api_token_ttl;	     /* seconds */
};

/* The scheduled self-audit (the `check` block): the queue process runs
 * `postern check` every `every` seconds and mails the report to mail_to. */
#define CONF_CHECK_MAIL_TO_MAX 8
#define CONF_CHECK_EVERY_MIN 3600 /* it probes listeners and looks up DNS */
#define CONF_CHECK_EVERY_DEFAULT 86400
struct conf_check {
	uint64_t every; /* seconds; 0: not scheduled */
	char *mail_to[CONF_CHECK_MAIL_TO_MAX];
	size_t nmail_to;
};

/* audit { }: the audit log's anchors. */
struct conf_audit {
	uint64_t anchor_every; /* seconds between chain-head anchors */
};

/* Encrypted backups (the `backup` block). */
#define CONF_BACKUP_EVERY_MIN 60 /* seconds: a schedule tighter than this is a mistake */
struct conf_backup {
	char *dir;	       /* where `postern backup --scheduled` writes; NULL: nowhere */
	uint64_t every;	       /* seconds between scheduled backups; 0: none */
	uint64_t keep;	       /* scheduled backups kept in dir (the oldest go) */
	char *key_file;	       /* a key made by `postern backup keygen`, or NULL */
	char *passphrase_file; /* a passphrase on the file's first line, or NULL */
};

/* notices { }: the mails postern writes to users (src/queue/notices.h). */
struct conf_notices {
	char *dir;		     /* templates replacing the built-in texts; NULL: none */
	uint64_t expiry_check_every; /* seconds between password-expiry passes */
	bool password_expiry;	     /* remind owners before auth max_age (when it is set) */
};

struct conf {
	int refs; /* conf_ref/conf_unref count; 0 for an unshared conf */
	char *path;
	char hostname[CONF_HOSTNAME_MAX + 1];
	char *state_dir;
	char *user; /* unprivileged user when started as root */
	bool log_syslog;
	bool log_debug;
	struct conf_listener *listeners;
	size_t nlisteners;
	struct conf_domain *domains;
	size_t ndomains;
	struct route smarthost;
	bool has_smarthost;
	struct cidr *trusted;
	size_t ntrusted;
	char (*resolvers)[NET_ADDRSTRLEN + 8]; /* "ip@port" for libunbound */
	size_t nresolvers;
	struct conf_limits limits;
	struct conf_queue queue;
	struct conf_tls tls;
	struct conf_auth auth;
	struct conf_guard guard;
	struct conf_mailauth mailauth;
	struct conf_backup backup;
	struct conf_admin admin;
	struct conf_audit audit;
	struct conf_check check;
	struct conf_notices notices;
	/* Prometheus metrics over HTTP; metrics_len 0: off */
	struct sockaddr_storage metrics;
	socklen_t metrics_len;
	/* smtp { sandbox }: the smtp process runs under its seccomp filter
	 * (src/proc/sandbox.c); off only to debug, changed only by a restart */
	bool smtp_sandbox;
};

/* conf_parse - build cf from text (named file in messages). On error
 * returns -1 with "file:line: message" in err; cf is then left empty. */
int conf_parse(const char *file, const char *text, size_t len, struct conf *cf, char *err,
	       size_t errsz);
/* conf_load - read and parse the file at path. */
int conf_load(const char *path, struct conf *cf, char *err, size_t errsz);
/* conf_read_file - the raw text, bounded by CONF_MAX_FILE. */
int conf_read_file(const char *path, struct buf *out, char *err, size_t errsz);
void conf_free(struct conf *cf);
/* conf_new_shared - parse into a heap conf with one reference. */
struct conf *conf_new_shared(const char *file, const char *text, size_t len, char *err,
			     size_t errsz);
struct conf *conf_ref(struct conf *cf);
/* conf_unref - drop a reference; the last one frees the conf. */
void conf_unref(struct conf *cf);
/* conf_find_domain - the configured domain (case-insensitive), or NULL. */
const struct conf_domain *conf_find_domain(const struct conf *cf, const char *domain);
/* conf_find_receiving - the same, only when we receive its mail (it has
 * `deliver`; a domain with only `dkim selector` is signed, not received). */
const struct conf_domain *conf_find_receiving(const struct conf *cf, const char *domain);
/* conf_acl_match - is the address in one of the networks? */
bool conf_acl_match(const struct conf_acl *acl, const struct sockaddr *sa);
/* conf_is_trusted - is the client address in trusted_networks? */
bool conf_is_trusted(const struct conf *cf, const struct sockaddr *sa);
/* route_parse - parse a next-hop URL into r; 0 or -1. */
int route_parse(const char *s, struct route *r);
/* conf_dump - the effective configuration, defaults included, as text. */
void conf_dump(const struct conf *cf, struct buf *out);
const char *conf_role_name(enum listen_role role);
const char *conf_listen_tls_name(enum listen_tls t);
const char *conf_tls_policy_name(enum tls_policy p);
/* conf_role_name - "admin", "operator", "auditor" or "none". */
const char *conf_admin_role_name(enum admin_role r);

#endif
