/* SPDX-License-Identifier: ISC */
/*
 * auditsearch - choosing and exporting audit records. See auditsearch.h.
 */
#include "audit/auditsearch.h"

#include <jansson.h>
#include <string.h>

/* member - the string member name of o, or NULL. */
static const char *
member(json_t *o, const char *name)
{
	json_t *v = json_object_get(o, name);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool
event_matches(const char *ev, const char *want)
{
	size_t n = strlen(want);

	if (n > 0 && want[n - 1] == '.')
		return strncmp(ev, want, n) == 0;
	return strcmp(ev, want) == 0;
}

bool
audit_match(const char *line, size_t len, const struct audit_filter *f)
{
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	const char *ts, *ev, *actor, *user;
	bool ok = false;

	if (!json_is_object(o))
		goto done;
	ts = member(o, "ts");
	ev = member(o, "event");
	actor = member(o, "actor");
	user = member(o, "user");
	if (ts == NULL || ev == NULL)
		goto done;
	if (f->since != NULL && strcmp(ts, f->since) < 0)
		goto done;
	if (f->event != NULL && !event_matches(ev, f->event))
		goto done;
	if (f->actor != NULL && !(actor != NULL && strcmp(actor, f->actor) == 0) &&
	    !(user != NULL && strcmp(user, f->actor) == 0))
		goto done;
	ok = true;
done:
	json_decref(o);
	return ok;
}

/* sd_value - an SD-PARAM value: '"', '\' and ']' escaped (RFC 5424 6.3.3). */
static void
sd_value(struct buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\' || *s == ']')
			buf_addc(out, '\\');
		buf_addc(out, *s);
	}
}

int
audit_export(const char *line, size_t len, enum audit_format fmt, const char *host,
	     struct buf *out)
{
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	const char *ts = json_is_object(o) ? member(o, "ts") : NULL;
	const char *ev = json_is_object(o) ? member(o, "event") : NULL;
	json_t *seq = json_is_object(o) ? json_object_get(o, "seq") : NULL;

	if (ts == NULL || ev == NULL || !json_is_integer(seq) || memchr(line, '\n', len) != NULL) {
		json_decref(o);
		return -1;
	}
	if (fmt == AUDIT_FMT_SYSLOG) {
		buf_addf(out, "<110>1 %s %s postern - audit [audit@32473 seq=\"%lld\" event=\"", ts,
			 host, (long long)json_integer_value(seq));
		sd_value(out, ev);
		buf_adds(out, "\"] ");
	}
	buf_add(out, line, len);
	buf_addc(out, '\n');
	json_decref(o);
	return 0;
}
