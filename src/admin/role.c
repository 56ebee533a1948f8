/* SPDX-License-Identifier: ISC */
/*
 * role - the admin roles' verb table and the mapping of callers to roles.
 *
 * SECURITY: see role.h.
 */
#include "admin/role.h"

#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>

#include "lib/util.h"

/* One row: argv[0], argv[1] (NULL: any), an option that must be present
 * (NULL: none) and the role needed. The first matching row wins, so a row
 * with an option comes before the same verb without it. */
struct verb_row {
	const char *w0, *w1, *opt;
	enum admin_role role;
};

static const struct verb_row verbs[] = {
	/* read-only */
	{"audit", "verify", NULL, ROLE_AUDITOR},
	{"audit", "tail", "-f", ROLE_NONE}, /* follows forever: run it locally */
	{"audit", "tail", "--follow", ROLE_NONE},
	{"audit", "tail", NULL, ROLE_AUDITOR},
	{"audit", "search", NULL, ROLE_AUDITOR},
	{"check", NULL, NULL, ROLE_AUDITOR},
	{"config", "check", NULL, ROLE_AUDITOR},
	{"config", "dump", NULL, ROLE_AUDITOR},
	{"role", NULL, NULL, ROLE_AUDITOR},
	{"spf", NULL, NULL, ROLE_AUDITOR},
	{"dkim", "verify", NULL, ROLE_AUDITOR},
	{"dmarc", "check", NULL, ROLE_AUDITOR},
	{"dns", "check", NULL, ROLE_AUDITOR},
	/* operations */
	{"queue", NULL, NULL, ROLE_OPERATOR},
	{"ban", NULL, NULL, ROLE_OPERATOR},
	{"dmarc", "report", NULL, ROLE_OPERATOR},
	{"dkim", "list", NULL, ROLE_OPERATOR},
	{"user", "list", NULL, ROLE_OPERATOR},
	{"user", "show", NULL, ROLE_OPERATOR},
	{"user", "lock", NULL, ROLE_OPERATOR},
	{"user", "unlock", NULL, ROLE_OPERATOR},
	{"user", "passwd", "--reset", ROLE_OPERATOR},
	/* changes to accounts, keys and what the gateway trusts */
	{"user", NULL, NULL, ROLE_ADMIN},
	{"dkim", NULL, NULL, ROLE_ADMIN},
	{"backup", NULL, NULL, ROLE_ADMIN},
};

static bool
has_word(int argc, char *const *argv, const char *w)
{
	int i;

	for (i = 0; i < argc; i++)
		if (strcmp(argv[i], w) == 0)
			return true;
	return false;
}

enum admin_role
admin_verb_role(int argc, char *const *argv)
{
	size_t i;

	if (argc < 1)
		return ROLE_NONE;
	for (i = 0; i < nitems(verbs); i++) {
		const struct verb_row *r = &verbs[i];

		if (strcmp(argv[0], r->w0) != 0)
			continue;
		if (r->w1 != NULL && (argc < 2 || strcmp(argv[1], r->w1) != 0))
			continue;
		if (r->opt != NULL && !has_word(argc, argv, r->opt))
			continue;
		return r->role;
	}
	return ROLE_NONE;
}

/* principal_is - does name (a name or a number) denote id? */
static bool
principal_is(const char *name, unsigned long id, const char *idname)
{
	uint64_t n;

	if (parse_u64(name, UINT32_MAX, &n) == 0)
		return n == id;
	return idname != NULL && strcmp(name, idname) == 0;
}

static bool
in_group(const struct conf_principal *p, const gid_t *gids, size_t ngids)
{
	struct group *gr;
	uint64_t n;
	size_t i;

	if (parse_u64(p->name, UINT32_MAX, &n) == -1) {
		gr = getgrnam(p->name);
		if (gr == NULL)
			return false;
		n = gr->gr_gid;
	}
	for (i = 0; i < ngids; i++)
		if (gids[i] == (gid_t)n)
			return true;
	return false;
}

enum admin_role
admin_local_role(const struct conf_admin *a, uid_t uid, uid_t daemon_uid, const gid_t *gids,
		 size_t ngids, char *why, size_t whysz)
{
	struct passwd *pw = getpwuid(uid);
	char uname[CONF_PRINCIPAL_MAX + 1] = "";
	enum admin_role best = ROLE_NONE;
	size_t i;

	if (pw != NULL)
		(void)str_copy(uname, pw->pw_name, sizeof(uname));
	snprintf(why, whysz, "unmapped");
	if (uid == 0 || uid == daemon_uid) {
		snprintf(why, whysz, "uid %lu owns the state", (unsigned long)uid);
		return ROLE_ADMIN;
	}
	for (i = 0; i < a->nprincipals; i++) {
		const struct conf_principal *p = &a->principals[i];
		bool hit = p->group ? in_group(p, gids, ngids)
				    : principal_is(p->name, uid, uname[0] ? uname : NULL);

		if (hit && p->role > best) {
			best = p->role;
			snprintf(why, whysz, "%s %s", p->group ? "group" : "user", p->name);
		}
	}
	return best;
}

enum admin_role
admin_api_role(const struct conf_admin *a, const char *account)
{
	size_t i;

	for (i = 0; i < a->napi_accounts; i++)
		if (strcmp(a->api_accounts[i].name, account) == 0)
			return a->api_accounts[i].role;
	return ROLE_NONE;
}
