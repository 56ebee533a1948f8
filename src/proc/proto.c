/* SPDX-License-Identifier: ISC */
/*
 * proto - envelope encoding for IPC.
 *
 * SECURITY: decoding re-validates addresses and bounds, because the
 * sender is the process that parses network input.
 */
#include "proc/proto.h"

#include "mailauth/dmarc_report.h"

#include "lib/metrics.h"

#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"
#include "mail/syntax.h"
#include "queue/spool.h"
#include "tls/tls.h"

void
proto_add_envelope(struct ipc_out *out, const struct envelope *env)
{
	uint32_t i;

	ipc_add_u64(out, env->arrival);
	ipc_add_str(out, env->sender);
	ipc_add_u8(out, (uint8_t)env->ret);
	ipc_add_str(out, env->envid);
	ipc_add_u8(out, (uint8_t)env->body);
	ipc_add_u8(out, env->smtputf8);
	ipc_add_str(out, env->client_ip);
	ipc_add_str(out, env->helo);
	ipc_add_str(out, env->proto);
	ipc_add_u8(out, env->submission);
	ipc_add_u8(out, env->originated);
	ipc_add_u32(out, env->nrcpts);
	for (i = 0; i < env->nrcpts; i++) {
		ipc_add_str(out, env->rcpts[i].addr);
		ipc_add_str(out, env->rcpts[i].domain);
		ipc_add_u8(out, (uint8_t)env->rcpts[i].notify);
		ipc_add_str(out, env->rcpts[i].orcpt);
	}
}

static bool
valid_addr(const char *a, bool allow_empty)
{
	const char *at = strrchr(a, '@');

	if (*a == '\0')
		return allow_empty;
	return at != NULL && at != a && at[1] != '\0' && strchr(a, '\n') == NULL &&
	       strchr(a, '\r') == NULL;
}

void
proto_get_envelope(struct ipc_msg *m, struct envelope *env, uint32_t max_rcpts)
{
	uint32_t i, n;
	uint8_t v;

	memset(env, 0, sizeof(*env));
	env->arrival = ipc_get_u64(m);
	ipc_get_strbuf(m, env->sender, sizeof(env->sender));
	v = ipc_get_u8(m);
	if (v > RET_HDRS)
		log_bug("ipc %s: bad ret", m->peer);
	env->ret = (enum dsn_ret)v;
	ipc_get_strbuf(m, env->envid, sizeof(env->envid));
	v = ipc_get_u8(m);
	if (v > BODY_8BITMIME)
		log_bug("ipc %s: bad body", m->peer);
	env->body = (enum body_type)v;
	env->smtputf8 = ipc_get_u8(m) != 0;
	ipc_get_strbuf(m, env->client_ip, sizeof(env->client_ip));
	ipc_get_strbuf(m, env->helo, sizeof(env->helo));
	ipc_get_strbuf(m, env->proto, sizeof(env->proto));
	env->submission = ipc_get_u8(m) != 0;
	env->originated = ipc_get_u8(m) != 0;
	n = ipc_get_u32(m);
	if (n == 0 || n > max_rcpts || n > SPOOL_MAX_RCPTS)
		log_bug("ipc %s: %u recipients", m->peer, n);
	if (!valid_addr(env->sender, true) || !valid_xtext(env->envid, strlen(env->envid)))
		log_bug("ipc %s: bad sender", m->peer);
	env->rcpts = xcalloc(n, sizeof(*env->rcpts));
	for (i = 0; i < n; i++) {
		struct env_rcpt *r = &env->rcpts[i];

		ipc_get_strbuf(m, r->addr, sizeof(r->addr));
		ipc_get_strbuf(m, r->domain, sizeof(r->domain));
		r->notify = ipc_get_u8(m);
		ipc_get_strbuf(m, r->orcpt, sizeof(r->orcpt));
		if (!valid_addr(r->addr, false) || r->notify > 0xf)
			log_bug("ipc %s: bad recipient", m->peer);
	}
	env->nrcpts = n;
}

struct conf *
proto_get_conf(struct ipc_msg *m)
{
	char err[CONF_ERR_MAX + 64], *file;
	const char *text;
	struct conf *cf;
	size_t len;

	file = ipc_get_str(m, PATH_MAX);
	text = ipc_get_data(m, &len);
	ipc_end(m);
	cf = conf_new_shared(file ? file : "?", text, len, err, sizeof(err));
	if (cf == NULL)
		log_bug("ipc %s: a config that does not parse: %s", m->peer, err);
	free(file);
	return cf;
}

void
proto_send_cert(struct ipc *ipc, const struct tls_pem *p)
{
	struct ipc_out out;

	ipc_begin(&out, IMSG_TLS_CERT);
	ipc_add_str(&out, p->cert_path);
	ipc_add_data(&out, p->cert, p->certlen);
	ipc_add_data(&out, p->key, p->keylen);
	ipc_add_u64(&out, (uint64_t)p->not_after);
	ipc_send_secret(ipc, &out);
}

void
proto_get_cert(struct ipc_msg *m, struct tls_pem *p)
{
	const void *d;
	size_t n;

	memset(p, 0, sizeof(*p));
	p->cert_path = ipc_get_str(m, PATH_MAX);
	d = ipc_get_data(m, &n);
	p->cert = xstrndup(d, n);
	p->certlen = n;
	d = ipc_get_data(m, &n);
	p->key = xstrndup(d, n);
	p->keylen = n;
	explicit_bzero((void *)(uintptr_t)d, n); /* the receive buffer held the key */
	p->not_after = (time_t)ipc_get_u64(m);
	ipc_end(m);
	if (p->cert_path == NULL)
		log_bug("ipc %s: certificate without a path", m->peer);
}

void
proto_send_metrics(struct ipc *ipc, const struct metrics *m)
{
	struct buf snap = BUF_INIT;
	struct ipc_out out;

	metrics_encode(m, &snap);
	ipc_begin(&out, IMSG_METRICS);
	ipc_add_data(&out, snap.data, snap.len);
	ipc_send(ipc, &out);
	buf_free(&snap);
}

void
proto_add_dmarc_eval(struct ipc_out *out, const struct dmarc_eval *e)
{
	ipc_add_data(out, e, sizeof(*e));
}

/* terminated - the fixed string field f of size n ends inside itself. */
static void
terminated(const char *f, size_t n, const char *what)
{
	if (memchr(f, '\0', n) == NULL)
		log_bug("ipc: dmarc evaluation: %s not terminated", what);
}

void
proto_get_dmarc_eval(struct ipc_msg *m, struct dmarc_eval *e)
{
	const struct dmarc_published *p = &e->policy;
	const void *d;
	size_t n, i;

	d = ipc_get_data(m, &n);
	if (n != sizeof(*e))
		log_bug("ipc: dmarc evaluation of %zu bytes", n);
	memcpy(e, d, n);
	ipc_end(m);
	terminated(e->source_ip, sizeof(e->source_ip), "source_ip");
	terminated(e->header_from, sizeof(e->header_from), "header_from");
	terminated(e->envelope_from, sizeof(e->envelope_from), "envelope_from");
	terminated(e->envelope_to, sizeof(e->envelope_to), "envelope_to");
	terminated(e->override_comment, sizeof(e->override_comment), "comment");
	terminated(p->domain, sizeof(p->domain), "policy domain");
	terminated(p->fo, sizeof(p->fo), "fo");
	terminated(e->spf.domain, sizeof(e->spf.domain), "spf domain");
	if (p->nrua > DMARC_URIS_MAX || e->ndkim > DMARC_REPORT_DKIM_MAX ||
	    (unsigned)p->p > DMARC_P_REJECT || (unsigned)p->sp > DMARC_P_REJECT ||
	    (unsigned)p->np > DMARC_P_REJECT || (unsigned)e->disposition > DMARC_P_REJECT ||
	    (unsigned)e->override > DMARC_OVERRIDE_OTHER || (unsigned)e->spf.scope > DMARC_SPF_HELO ||
	    (unsigned)e->spf.result > SPF_PERMERROR || p->pct > 100)
		log_bug("ipc: dmarc evaluation out of range");
	for (i = 0; i < p->nrua; i++)
		terminated(p->rua[i].uri, sizeof(p->rua[i].uri), "rua");
	for (i = 0; i < e->ndkim; i++) {
		terminated(e->dkim[i].domain, sizeof(e->dkim[i].domain), "dkim domain");
		terminated(e->dkim[i].selector, sizeof(e->dkim[i].selector), "dkim selector");
		if ((unsigned)e->dkim[i].result > DMARC_DKIM_PERMERROR)
			log_bug("ipc: dmarc evaluation: dkim result out of range");
	}
}

void
proto_send_ready(struct ipc *parent)
{
	struct ipc_out out;

	ipc_begin(&out, IMSG_READY);
	ipc_send(parent, &out);
}

void
proto_add_user_notice(struct ipc_out *out, const char *kind, const char *to,
		      const struct template_var *vars, size_t nvars)
{
	char v[NOTICES_VALUE_MAX + 1];
	size_t i;

	if (nvars > NOTICES_VARS_MAX)
		log_bug("proto: a notice with %zu values", nvars);
	ipc_add_str(out, kind);
	ipc_add_str(out, to);
	ipc_add_u32(out, (uint32_t)nvars);
	for (i = 0; i < nvars; i++) {
		(void)str_copy(v, vars[i].value != NULL ? vars[i].value : "", sizeof(v));
		ipc_add_str(out, vars[i].name);
		ipc_add_str(out, v);
	}
}

/* allowed - is name a placeholder of kind k? */
static bool
allowed(enum notices_kind k, const char *name)
{
	const char *const *v;

	for (v = notices_kind_vars(k); *v != NULL; v++)
		if (strcmp(*v, name) == 0)
			return true;
	return false;
}

void
proto_get_user_notice(struct ipc_msg *m, struct user_notice *un)
{
	char kind[32];
	uint32_t n, i;

	memset(un, 0, sizeof(*un));
	ipc_get_strbuf(m, kind, sizeof(kind));
	ipc_get_strbuf(m, un->to, sizeof(un->to));
	n = ipc_get_u32(m);
	if (notices_kind_parse(kind, &un->kind) == -1 || n > NOTICES_VARS_MAX)
		log_bug("ipc %s: a notice of kind \"%.32s\" with %u values", m->peer, kind, n);
	for (i = 0; i < n; i++) {
		ipc_get_strbuf(m, un->name[i], sizeof(un->name[i]));
		ipc_get_strbuf(m, un->value[i], sizeof(un->value[i]));
		if (!allowed(un->kind, un->name[i]))
			log_bug("ipc %s: a %s notice with {%s}", m->peer, kind, un->name[i]);
		un->vars[i].name = un->name[i];
		un->vars[i].value = un->value[i];
	}
	un->nvars = n;
	ipc_end(m);
}

void
proto_send_notices(struct ipc *ipc, const struct notices *ns)
{
	struct ipc_out out;
	const char *source, *text;
	unsigned k;

	ipc_begin(&out, IMSG_NOTICES);
	ipc_add_u32(&out, NK_COUNT);
	for (k = 0; k < NK_COUNT; k++) {
		text = notices_text(ns, (enum notices_kind)k, &source);
		ipc_add_str(&out, source);
		ipc_add_data(&out, text, strlen(text));
	}
	ipc_send(ipc, &out);
}

struct notices *
proto_get_notices(struct ipc_msg *m)
{
	struct notices *ns = notices_new();
	char source[PATH_MAX], err[PATH_MAX + 600];
	const void *text;
	size_t len;
	unsigned k;

	if (ipc_get_u32(m) != NK_COUNT)
		log_bug("ipc %s: NOTICES for another set of kinds", m->peer);
	for (k = 0; k < NK_COUNT; k++) {
		ipc_get_strbuf(m, source, sizeof(source));
		text = ipc_get_data(m, &len);
		if (notices_set(ns, (enum notices_kind)k, source, text, len, err, sizeof(err)) == -1)
			log_bug("ipc %s: a notice template that does not parse: %s", m->peer, err);
	}
	ipc_end(m);
	return ns;
}
