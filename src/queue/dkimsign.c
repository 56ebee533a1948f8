/* SPDX-License-Identifier: ISC */
/*
 * dkimsign - DKIM signatures for committed messages, made in the queue
 * process. See dkimsign.h for the contract, SECURITY and STANDARDS.
 */
#include "queue/dkimsign.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/file.h"
#include "lib/util.h"
#include "mail/addrlist.h"
#include "mail/data.h"
#include "mailauth/dkim.h"
#include "mailauth/dkim_canon.h"
#include "mailauth/dkimkey.h"

struct sigkey {
	char domain[CONF_HOSTNAME_MAX + 1];
	char selector[CONF_SELECTOR_MAX + 1];
	enum dkim_alg alg;
	/* parsed once here, not per message (OpenSSL 3.0 takes longer to
	 * decode a PEM key than to sign with it); the committer's threads
	 * sign with it at the same time, which OpenSSL allows for a key that
	 * nobody changes */
	struct dkim_privkey *key;
};

struct dkimsign {
	int refs;
	struct sigkey *keys; /* in config order */
	size_t n;
};

/* The message in the spool file, read back without its dot-stuffing. */
struct spool_reader {
	int fd;
	uint64_t pos, end;
	struct data_unstuff u;
	char *raw; /* DKIMSIGN_CHUNK bytes */
};

/* sigkey_load - the key of (domain, selector) from the store, parsed for
 * signing into k; the PEM text is wiped at once. 0, or -1 with why. */
static int
sigkey_load(const char *state_dir, const char *domain, const char *selector,
	    struct sigkey *k, char *why, size_t whysz)
{
	struct dkimkey dk;
	const char *reason;
	int rc = 0;

	if (dkimkey_load(state_dir, domain, selector, &dk, why, whysz) == -1)
		return -1;
	if (dkim_privkey_load(dk.pem, dk.alg, &k->key, &reason) == -1) {
		snprintf(why, whysz, "%s", reason);
		rc = -1;
	}
	k->alg = dk.alg;
	dkimkey_clear(&dk);
	return rc;
}

struct dkimsign *
dkimsign_load(const struct conf *cf, char *err, size_t errsz)
{
	struct dkimsign *ks = xcalloc(1, sizeof(*ks));
	char why[PATH_MAX + 512];
	size_t i, j, total = 0;

	ks->refs = 1;
	for (i = 0; i < cf->ndomains; i++)
		total += cf->domains[i].ndkim;
	ks->keys = xcalloc(total > 0 ? total : 1, sizeof(*ks->keys));
	for (i = 0; i < cf->ndomains; i++) {
		const struct conf_domain *d = &cf->domains[i];

		for (j = 0; j < d->ndkim; j++) {
			struct sigkey *k = &ks->keys[ks->n];

			if (sigkey_load(cf->state_dir, d->name, d->dkim[j].name, k, why,
					sizeof(why)) == -1) {
				snprintf(err, errsz, "domain %s: dkim selector %s: %s", d->name,
					 d->dkim[j].name, why);
				dkimsign_unref(ks);
				return NULL;
			}
			str_copy(k->domain, d->name, sizeof(k->domain));
			str_copy(k->selector, d->dkim[j].name, sizeof(k->selector));
			ks->n++;
		}
	}
	return ks;
}

struct dkimsign *
dkimsign_ref(struct dkimsign *ks)
{
	ks->refs++;
	return ks;
}

void
dkimsign_unref(struct dkimsign *ks)
{
	size_t i;

	if (ks == NULL || --ks->refs > 0)
		return;
	for (i = 0; i < ks->n; i++)
		dkim_privkey_free(ks->keys[i].key);
	free(ks->keys);
	free(ks);
}

size_t
dkimsign_count(const struct dkimsign *ks)
{
	return ks->n;
}

/* read_more - the next chunk of the message, unstuffed, appended to out:
 * the number of stored bytes read, 0 at the end, -1 with errno. */
static ssize_t
read_more(struct spool_reader *rd, struct buf *out)
{
	size_t n = rd->end - rd->pos < DKIMSIGN_CHUNK ? (size_t)(rd->end - rd->pos)
						      : DKIMSIGN_CHUNK;

	if (n == 0)
		return 0;
	if (pread_all(rd->fd, rd->raw, n, (off_t)rd->pos) == -1)
		return -1;
	rd->pos += n;
	data_unstuff(&rd->u, rd->raw, n, out);
	return (ssize_t)n;
}

/* header_ends - does hdr hold the whole header section (the empty line,
 * or the end of the message)? */
static bool
header_ends(const struct buf *hdr, const struct spool_reader *rd)
{
	return rd->pos == rd->end || (hdr->len >= 2 && memcmp(hdr->data, "\r\n", 2) == 0) ||
	       (hdr->len >= 4 && memmem(hdr->data, hdr->len, "\r\n\r\n", 4) != NULL);
}

/* read_header - read until hdr holds the header section (and perhaps the
 * start of the body). */
static enum dkimsign_result
read_header(struct spool_reader *rd, struct buf *hdr, struct dkimsign_outcome *o)
{
	while (!header_ends(hdr, rd)) {
		if (hdr->len > DKIMSIGN_HEADER_MAX) {
			o->reason = "header section longer than 1 MiB";
			return DKIMSIGN_UNSIGNED;
		}
		if (read_more(rd, hdr) == -1) {
			o->err = errno;
			o->reason = "cannot read the spool file";
			return DKIMSIGN_ERROR;
		}
	}
	return DKIMSIGN_SIGNED;
}

/* from_value - the unfolded value of the one From: field into out, or the
 * reason there is none. */
static const char *
from_value(const char *hdr, size_t len, struct buf *out)
{
	struct dkim_field *f = xcalloc(DKIM_FIELDS_MAX, sizeof(*f));
	const char *why = NULL, *p, *e;
	size_t nf, body_off, i, which = 0, nfrom = 0;

	if (dkim_split_header(hdr, len, f, DKIM_FIELDS_MAX, &nf, &body_off, &why) != 0)
		goto out;
	for (i = 0; i < nf; i++)
		if (f[i].name_len == 4 && strncasecmp(hdr + f[i].off, "From", 4) == 0) {
			which = i;
			nfrom++;
		}
	if (nfrom != 1) {
		why = nfrom == 0 ? "no From: field" : "more than one From: field";
		goto out;
	}
	p = memchr(hdr + f[which].off, ':', f[which].len);
	e = hdr + f[which].off + f[which].len;
	for (p = p + 1; p < e; p++)
		if (*p != '\r' && *p != '\n')
			buf_addc(out, *p);
out:
	free(f);
	return why;
}

/* from_domain - the one domain of the From: addresses, lower-cased, into
 * o->domain; the reason when there is not exactly one. */
static const char *
from_domain(const char *hdr, size_t len, struct dkimsign_outcome *o)
{
	struct addrlist *l = xcalloc(1, sizeof(*l));
	struct buf v = BUF_INIT;
	const char *why;
	size_t i, k;

	why = from_value(hdr, len, &v);
	if (why == NULL && addrlist_parse(buf_cstr(&v), v.len, l) == -1)
		why = "cannot read the From: field";
	if (why == NULL && (l->n == 0 || l->groups > 0))
		why = "no single mailbox list in the From: field";
	for (i = 0; why == NULL && i < l->n; i++) {
		const char *at = strrchr(l->addr[i], '@');
		char d[CONF_HOSTNAME_MAX + 1];

		if (at == NULL || str_copy(d, at + 1, sizeof(d)) == -1) {
			why = "a From: address without a usable domain";
			break;
		}
		for (k = 0; d[k] != '\0'; k++)
			if (d[k] >= 'A' && d[k] <= 'Z')
				d[k] = (char)(d[k] - 'A' + 'a');
		if (i > 0 && strcmp(d, o->domain) != 0)
			why = "From: addresses in more than one domain";
		str_copy(o->domain, d, sizeof(o->domain));
	}
	if (why != NULL)
		o->domain[0] = '\0';
	buf_free(&v);
	free(l);
	return why;
}

static bool
has_keys(const struct dkimsign *ks, const char *domain)
{
	size_t i;

	for (i = 0; i < ks->n; i++)
		if (strcmp(ks->keys[i].domain, domain) == 0)
			return true;
	return false;
}

/* add_signatures - one per key of o->domain, from the hashed body. */
static int
add_signatures(const struct dkimsign *ks, struct dkim_signing *g, time_t now, struct buf *out,
	       struct dkimsign_outcome *o)
{
	const char *why;
	size_t i, used = 0;

	for (i = 0; i < ks->n; i++) {
		const struct sigkey *k = &ks->keys[i];
		struct dkim_signer s;

		if (strcmp(k->domain, o->domain) != 0)
			continue;
		memset(&s, 0, sizeof(s));
		s.domain = k->domain;
		s.selector = k->selector;
		s.alg = k->alg;
		s.hcanon = s.bcanon = DKIM_CANON_RELAXED;
		s.key = k->key;
		s.t = now;
		if (dkim_sign_add(g, &s, out, &why) != 0) {
			o->reason = why;
			return -1;
		}
		used += (size_t)snprintf(o->selectors + used, sizeof(o->selectors) - used, "%s%s",
					 used > 0 ? "," : "", k->selector);
		if (used >= sizeof(o->selectors))
			used = sizeof(o->selectors) - 1;
	}
	return 0;
}

/* sign_stream - hash the body as it is read, then sign with each key. */
static enum dkimsign_result
sign_stream(const struct dkimsign *ks, struct spool_reader *rd, const struct buf *hdr,
	    time_t now, struct buf *out, struct dkimsign_outcome *o)
{
	struct buf chunk = BUF_INIT, sigs = BUF_INIT;
	enum dkimsign_result r = DKIMSIGN_ERROR;
	struct dkim_signing *g;
	const char *why;
	ssize_t n;

	if (dkim_sign_begin(hdr->data, hdr->len, DKIM_CANON_RELAXED, &g, &why) != 0) {
		o->reason = why;
		return DKIMSIGN_UNSIGNED;
	}
	while ((n = read_more(rd, &chunk)) > 0) {
		dkim_sign_body(g, chunk.data, chunk.len);
		buf_reset(&chunk);
	}
	if (n == -1) {
		o->err = errno;
		o->reason = "cannot read the spool file";
	} else if (add_signatures(ks, g, now, &sigs, o) == 0) {
		buf_add(out, sigs.data, sigs.len);
		r = DKIMSIGN_SIGNED;
	}
	dkim_sign_free(g);
	buf_free(&chunk);
	buf_free(&sigs);
	return r;
}

enum dkimsign_result
dkimsign_spool(const struct dkimsign *ks, int fd, uint64_t off, uint64_t len, time_t now,
	       struct buf *out, struct dkimsign_outcome *o)
{
	struct spool_reader rd = {fd, off, off + len, {true, false}, NULL};
	struct buf hdr = BUF_INIT;
	enum dkimsign_result r;

	memset(o, 0, sizeof(*o));
	if (ks->n == 0) {
		o->reason = "no dkim selector is configured";
		return DKIMSIGN_UNSIGNED;
	}
	rd.raw = xmalloc(DKIMSIGN_CHUNK);
	data_unstuff_init(&rd.u);
	r = read_header(&rd, &hdr, o);
	if (r == DKIMSIGN_SIGNED && (o->reason = from_domain(buf_cstr(&hdr), hdr.len, o)) != NULL)
		r = DKIMSIGN_UNSIGNED;
	if (r == DKIMSIGN_SIGNED && !has_keys(ks, o->domain)) {
		o->reason = "no dkim selector for the From: domain";
		r = DKIMSIGN_UNSIGNED;
	}
	if (r == DKIMSIGN_SIGNED)
		r = sign_stream(ks, &rd, &hdr, now, out, o);
	buf_free(&hdr);
	free(rd.raw);
	return r;
}
