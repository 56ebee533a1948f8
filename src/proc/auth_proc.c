/* SPDX-License-Identifier: ISC */
/*
 * auth_proc - the auth process: answers the smtp process's AUTH requests
 * through authd.
 *
 * SECURITY: unprivileged, no network. Requests come from the smtp process
 * (possibly compromised): every field is bounded, mechanisms are checked,
 * and the answers carry only a verdict and the account's own addresses.
 */
#include <event2/event.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/authd.h"
#include "auth/sasl.h"
#include "lib/ipc.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/util.h"
#include "proc/procs.h"
#include "proc/proto.h"

struct auth_proc {
	struct event_base *base;
	struct conf *cf;
	struct ipc *parent;
	struct ipc *smtp;
	struct authd *authd;
	struct metrics *metrics; /* NULL when metrics are off */
	struct event *ev_metrics;
};

static struct auth_proc ap_global;

static void
on_answer(void *arg, uint64_t sid, const struct auth_answer *ans)
{
	struct auth_proc *ap = arg;
	struct ipc_out out;
	size_t i;

	if (ap->smtp == NULL)
		return;
	ipc_begin(&out, IMSG_AUTH_ANSWER);
	ipc_add_u64(&out, sid);
	ipc_add_u8(&out, (uint8_t)ans->status);
	ipc_add_data(&out, ans->challenge, ans->challenge_len);
	ipc_add_str(&out, ans->status == AUTH_OK ? ans->user : "");
	ipc_add_u32(&out, (uint32_t)ans->naddresses);
	for (i = 0; i < ans->naddresses; i++)
		ipc_add_str(&out, ans->addresses[i]);
	ipc_add_u32(&out, ans->expires_days < 0 ? UINT32_MAX : (uint32_t)ans->expires_days);
	ipc_add_u32(&out, ans->delay_ms);
	ipc_send(ap->smtp, &out);
}

/* send_ban - a ban (until != 0) or its end, to the smtp process and, for
 * the firewall, to the parent. */
static void
send_ban(struct auth_proc *ap, const char *net, uint64_t until, const char *reason)
{
	struct ipc *to[2] = {ap->smtp, ap->cf->guard.nftables_set ? ap->parent : NULL};
	struct ipc_out out;
	size_t i;

	for (i = 0; i < 2; i++) {
		if (to[i] == NULL)
			continue;
		ipc_begin(&out, until ? IMSG_GUARD_BAN : IMSG_GUARD_UNBAN);
		ipc_add_str(&out, net);
		if (until) {
			ipc_add_u64(&out, until);
			ipc_add_str(&out, reason);
		}
		ipc_send(to[i], &out);
	}
}

static void
on_ban(void *arg, const char *net, uint64_t until, const char *reason)
{
	send_ban(arg, net, until, reason);
}

static void
on_unban(void *arg, const char *net)
{
	send_ban(arg, net, 0, NULL);
}

/* on_notice - a mail for the queue, through the parent. */
static void
on_notice(void *arg, const char *to, const char *subject, const char *body)
{
	struct auth_proc *ap = arg;
	struct ipc_out out;

	ipc_begin(&out, IMSG_NOTICE);
	ipc_add_str(&out, to);
	ipc_add_str(&out, subject);
	ipc_add_str(&out, body);
	ipc_send(ap->parent, &out);
}

/* on_user_notice - a notice from a template, through the parent. An
 * account name longer than a mailbox can be is no address to mail. */
static void
on_user_notice(void *arg, const char *kind, const char *to, const struct template_var *vars,
	       size_t nvars)
{
	struct auth_proc *ap = arg;
	struct ipc_out out;

	if (strlen(to) > SMTP_PATH_MAX - 2) {
		log_warnx("auth notice-refused kind=%s reason=address-too-long", kind);
		return;
	}
	ipc_begin(&out, IMSG_USER_NOTICE);
	proto_add_user_notice(&out, kind, to, vars, nvars);
	ipc_send(ap->parent, &out);
}

static const struct authd_ops ap_ops = {on_answer, on_ban, on_unban, on_notice, on_user_notice};

/* do_abuse - protocol abuse the smtp process scored. */
static void
do_abuse(struct auth_proc *ap, struct ipc_msg *m)
{
	char ip[NET_ADDRSTRLEN], check[32];
	uint32_t weight;

	ipc_get_strbuf(m, ip, sizeof(ip));
	ipc_get_strbuf(m, check, sizeof(check));
	weight = ipc_get_u32(m);
	ipc_end(m);
	if (weight > 1000)
		log_bug("auth: bad GUARD_ABUSE from %s", m->peer);
	authd_abuse(ap->authd, ip, check, weight);
}

static void
do_begin(struct auth_proc *ap, struct ipc_msg *m)
{
	char ip[NET_ADDRSTRLEN];
	uint64_t sid = ipc_get_u64(m);
	uint8_t mech = ipc_get_u8(m), tls = ipc_get_u8(m), has = ipc_get_u8(m), plus;
	const void *data, *cb;
	size_t len, cblen;

	ipc_get_strbuf(m, ip, sizeof(ip));
	data = ipc_get_data(m, &len);
	cb = ipc_get_data(m, &cblen);
	plus = ipc_get_u8(m);
	ipc_end(m);
	if (mech < MECH_PLAIN || mech > MECH_ADMIN || len > SASL_MAX || has > 1 ||
	    plus > 1 || (cblen != 0 && cblen != 32) || (mech == MECH_SCRAM_PLUS) != (cblen != 0))
		log_bug("auth: bad AUTH_BEGIN from %s", m->peer);
	authd_begin(ap->authd, sid, (enum auth_mech)mech, ip, tls != 0, data, len, has != 0, cb,
		    cblen, plus != 0);
}

static void
on_smtp(struct ipc *ipc, struct ipc_msg *m, void *arg)
{
	struct auth_proc *ap = arg;
	const void *data;
	uint64_t sid;
	size_t len;

	(void)ipc;
	if (m == NULL) {
		log_debug("auth: smtp process closed its channel");
		ipc_free(ap->smtp);
		ap->smtp = NULL;
		return;
	}
	switch (m->type) {
	case IMSG_AUTH_BEGIN:
		do_begin(ap, m);
		break;
	case IMSG_AUTH_STEP:
		sid = ipc_get_u64(m);
		data = ipc_get_data(m, &len);
		ipc_end(m);
		if (len > SASL_MAX)
			log_bug("auth: oversized AUTH_STEP");
		authd_step(ap->authd, sid, data, len);
		break;
	case IMSG_AUTH_CANCEL:
		sid = ipc_get_u64(m);
		ipc_end(m);
		authd_cancel(ap->authd, sid);
		break;
	case IMSG_GUARD_ABUSE:
		do_abuse(ap, m);
		break;
	default:
		log_bug("auth: unexpected message %u from smtp", m->type);
	}
}

static void
on_parent(struct ipc *ipc, struct ipc_msg *m, void *arg)
{
	struct auth_proc *ap = arg;
	struct ipc_out out;
	struct conf *cf;

	(void)ipc;
	if (m == NULL)
		log_fatalx("auth: parent went away");
	switch (m->type) {
	case IMSG_CONF:
		cf = proto_get_conf(m);
		conf_unref(ap->cf);
		ap->cf = cf;
		authd_set_conf(ap->authd, cf);
		log_set_level(cf->log_debug ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
		proto_send_ready(ap->parent);
		break;
	case IMSG_STOP:
		ipc_end(m);
		authd_free(ap->authd);
		log_info("auth stopped");
		ipc_begin(&out, IMSG_STOPPED);
		ipc_send(ap->parent, &out);
		ipc_flush(ap->parent);
		exit(0);
	default:
		log_bug("auth: unexpected message %u from parent", m->type);
	}
}

static void
on_metrics_timer(evutil_socket_t fd, short what, void *arg)
{
	struct auth_proc *ap = arg;

	(void)fd;
	(void)what;
	if (ap->smtp != NULL)
		proto_send_metrics(ap->smtp, ap->metrics);
}

void
auth_proc_main(struct conf *cf, struct proc_fds *fds, const struct privsep_user *pu)
{
	struct auth_proc *ap = &ap_global;
	char err[512];

	log_set_procname("auth");
	privsep_drop(pu, NULL);
	proc_watch_parent(fds->ppid);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	memset(ap, 0, sizeof(*ap));
	ap->base = event_base_new();
	if (ap->base == NULL)
		log_fatalx("auth: event_base_new failed");
	ap->cf = cf;
	ap->authd = authd_new(ap->base, cf, &ap_ops, ap, err, sizeof(err));
	if (ap->authd == NULL)
		log_fatalx("auth: %s", err);
	authd_set_api_key(ap->authd, fds->api_key);
	sodium_memzero(fds->api_key, sizeof(fds->api_key));
	ap->parent = ipc_new(ap->base, fds->parent, "parent", on_parent, ap);
	ap->smtp = ipc_new(ap->base, fds->peer, "smtp", on_smtp, ap);
	if (cf->metrics_len > 0) {
		ap->metrics = metrics_new();
		authd_set_metrics(ap->authd, ap->metrics);
		ap->ev_metrics = event_new(ap->base, -1, EV_PERSIST, on_metrics_timer, ap);
		event_add(ap->ev_metrics, &(struct timeval){1, 0});
	}
	log_info("auth ready state_dir=%s", cf->state_dir);
	proto_send_ready(ap->parent);
	authd_sync(ap->authd); /* the smtp process learns the bans in force */
	event_base_dispatch(ap->base);
	log_fatalx("auth: event loop ended");
}
