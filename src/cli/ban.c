/* SPDX-License-Identifier: ISC */
/*
 * ban - `postern ban list | add CIDR [--for D] [--reason T] | del CIDR`:
 * the guard's bans, edited in the account store. A running daemon's auth
 * process notices the change within a second and tells the smtp process;
 * bans outlive restarts because they live in the store.
 *
 * SECURITY: runs as the daemon's user (cli_ctx_open); networks are parsed
 * (host bits must be zero) and stored in canonical form; every change is
 * audited with the actor.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "audit/audit.h"
#include "auth/banstore.h"
#include "auth/store.h"
#include "cli/cli.h"
#include "cli/ctx.h"
#include "lib/net.h"
#include "lib/util.h"

/* A ban without --for lasts until it is removed (stored as the year 9999). */
#define BAN_FOREVER ((int64_t)253402300799)

static void
fmt_until(int64_t t, char *out, size_t outsz)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t >= BAN_FOREVER) {
		str_copy(out, "until removed", outsz);
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
list_cb(const struct store_ban *b, void *arg)
{
	char until[32];

	(void)arg;
	fmt_until(b->until, until, sizeof(until));
	printf("%-24s %-21s %-16s %-6lld %s\n", b->net, until, b->reason, (long long)b->count,
	       b->actor[0] ? b->actor : "-");
	return 0;
}

/* ban_state - a ban as one line for before/after: "none" or its terms. */
static void
ban_state(const struct store_ban *b, char *out, size_t outsz)
{
	if (b == NULL || b->until == 0)
		snprintf(out, outsz, "none");
	else
		snprintf(out, outsz, "until=%lld reason=%s by=%s count=%lld", (long long)b->until,
			 b->reason, b->actor, (long long)b->count);
}

static int
audit_ban(struct cli_ctx *x, const char *event, const char *net, const char *reason,
	  int64_t until, const struct store_ban *before, const struct store_ban *after)
{
	char st[256];
	json_t *f = json_object();
	int rc;

	ban_state(before, st, sizeof(st));
	json_object_set_new(f, "before", audit_str(st, strlen(st)));
	ban_state(after, st, sizeof(st));
	json_object_set_new(f, "after", audit_str(st, strlen(st)));
	json_object_set_new(f, "actor", json_string(x->actor));
	json_object_set_new(f, "net", json_string(net));
	if (reason != NULL)
		json_object_set_new(f, "reason", audit_str(reason, strlen(reason)));
	if (until != 0)
		json_object_set_new(f, "until", json_integer(until));
	rc = audit_append(x->audit, event, f);
	json_decref(f);
	if (rc == -1)
		cli_say("audit log: %s", audit_error(x->audit));
	return rc;
}

/* canonical - the network as the store keys it, or -1 with a message. */
static int
canonical(const char *arg, char *out, size_t outsz)
{
	struct cidr c;

	if (net_parse_cidr(arg, &c) == -1) {
		cli_say("'%s' is not a network (like 192.0.2.7, 192.0.2.0/24 or 2001:db8::/48; "
			"host bits must be zero)",
			arg);
		return -1;
	}
	net_cidr_format(&c, out, outsz);
	return 0;
}

static int
ban_add(struct cli_ctx *x, struct banstore *bs, const char *arg)
{
	char net[NET_ADDRSTRLEN + 8], until_s[32];
	const char *reason = x->c->reason ? x->c->reason : "admin";
	int64_t now = (int64_t)time(NULL), until = BAN_FOREVER;
	struct store_ban old;
	uint64_t secs;

	if (canonical(arg, net, sizeof(net)) == -1)
		return 1;
	if (x->c->duration != NULL) {
		if (parse_duration(x->c->duration, &secs) == -1 || secs == 0 ||
		    secs > (uint64_t)(BAN_FOREVER - now))
			return cli_say("--for '%s' is not a duration (like 30m, 1h, 7d)",
				       x->c->duration);
		until = now + (int64_t)secs;
	}
	if (strlen(reason) > 60)
		return cli_say("--reason is at most 60 characters");
	if (banstore_get(bs, net, &old) == -1 ||
	    banstore_put(bs, net, until, reason, x->actor, old.count + 1, now) == -1)
		return cli_say("%s", banstore_error(bs));
	{
		struct store_ban now_ban;

		if (banstore_get(bs, net, &now_ban) == -1)
			memset(&now_ban, 0, sizeof(now_ban));
		audit_ban(x, "ban.add", net, reason, until, &old, &now_ban);
	}
	fmt_until(until, until_s, sizeof(until_s));
	printf("banned %s %s\n", net, until_s);
	return 0;
}

static int
ban_del(struct cli_ctx *x, struct banstore *bs, const char *arg)
{
	char net[NET_ADDRSTRLEN + 8];
	struct store_ban old;
	int rc;

	if (canonical(arg, net, sizeof(net)) == -1)
		return 1;
	if (banstore_get(bs, net, &old) == -1)
		memset(&old, 0, sizeof(old));
	rc = banstore_del(bs, net);
	if (rc == -1)
		return cli_say("%s", banstore_error(bs));
	if (rc == 1)
		return cli_say("%s is not banned", net);
	audit_ban(x, "ban.del", net, NULL, 0, &old, NULL);
	printf("lifted %s\n", net);
	return 0;
}

int
cli_ban(struct cli *c)
{
	struct cli_ctx x;
	const char *verb = c->nwords > 1 ? c->words[1] : "";
	struct banstore *bs;
	char err[256];
	int rc;

	if (cli_ctx_open(&x, c, true) != 0) {
		cli_ctx_close(&x);
		return 1;
	}
	bs = banstore_open(&x.cf, x.st, err, sizeof(err));
	if (bs == NULL) {
		cli_ctx_close(&x);
		return cli_say("%s", err);
	}
	if (strcmp(verb, "list") == 0 && c->nwords == 2) {
		printf("%-24s %-21s %-16s %-6s %s\n", "NETWORK", "UNTIL", "REASON", "BANS", "BY");
		rc = banstore_each(bs, (int64_t)time(NULL), list_cb, NULL) == 0
			     ? 0
			     : cli_say("%s", banstore_error(bs));
	} else if (strcmp(verb, "add") == 0 && c->nwords == 3) {
		rc = ban_add(&x, bs, c->words[2]);
	} else if (strcmp(verb, "del") == 0 && c->nwords == 3) {
		rc = ban_del(&x, bs, c->words[2]);
	} else {
		cli_say("usage: postern ban list | add CIDR [--for 1h] [--reason T] | del CIDR");
		rc = 2;
	}
	banstore_close(bs);
	cli_ctx_close(&x);
	return rc;
}
