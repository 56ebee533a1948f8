/* SPDX-License-Identifier: ISC */
/*
 * fuzz_msgauth - a hostile message through the whole DKIM and DMARC
 * evaluation (src/mailauth/msgauth.c): header splitting, From parsing,
 * DKIM-Signature tags, streamed body hashing, key and DMARC records.
 * The input's first byte picks the resolver's behaviour (answers at once,
 * later, or not at all and the deadline ends it); every *._domainkey name
 * answers the RFC 8463 Ed25519 key and an RSA key, every _dmarc name a
 * reject policy with pct=50. Keys go through a DKIM key cache of one,
 * new for each input (so a crash reproduces alone), which the two key
 * records keep evicting: misses, hits and evictions within one message.
 * Checks: the callback runs exactly once, the verdict is consistent, the
 * Authentication-Results field has no bare CR or LF and ends in CRLF.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mailauth/msgauth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ed_key[] = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
static const char rsa_key[] =
	"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qh"
	"dR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hs"
	"tT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB";
static const char dmarc_rec[] = "v=DMARC1; p=reject; sp=quarantine; np=reject; pct=50";

struct fz {
	int mode; /* 0 at once, 1 later, 2 never */
	spf_answer_cb cb;
	void *cbarg;
	int type;
	char name[300];
};

static void
answer(const struct fz *z, spf_answer_cb cb, void *cbarg, int type, const char *name)
{
	struct spf_rr rr[2];

	memset(rr, 0, sizeof(rr));
	if (type == SPF_RR_TXT && strstr(name, "._domainkey.") != NULL) {
		rr[0].text = ed_key;
		rr[0].len = strlen(ed_key);
		rr[1].text = rsa_key;
		rr[1].len = strlen(rsa_key);
		cb(cbarg, SPF_DNS_OK, rr, 2);
	} else if (type == SPF_RR_TXT && strncmp(name, "_dmarc.", 7) == 0 &&
		   strstr(name, "org") == NULL) {
		rr[0].text = dmarc_rec;
		rr[0].len = strlen(dmarc_rec);
		cb(cbarg, SPF_DNS_OK, rr, 1);
	} else {
		cb(cbarg, strlen(name) % 2 ? SPF_DNS_NXDOMAIN : SPF_DNS_TEMPFAIL, NULL, 0);
	}
	(void)z;
}

static void
query(void *ctx, int type, const char *name, spf_answer_cb cb, void *cbarg)
{
	struct fz *z = ctx;

	if (z->mode == 0) {
		answer(z, cb, cbarg, type, name);
		return;
	}
	if (z->cb != NULL)
		abort(); /* one lookup at a time */
	z->cb = cb;
	z->cbarg = cbarg;
	z->type = type;
	strncpy(z->name, name, sizeof(z->name) - 1);
	z->name[sizeof(z->name) - 1] = '\0';
}

static int calls;
static void
done(void *arg, const struct msgauth_result *r)
{
	(void)arg;
	calls++;
	if (r->ndkim > DKIM_SIGS_MAX || r->ndmarc > MSGAUTH_FROM_MAX ||
	    (r->action != DMARC_ACT_NONE && r->dmarc_result != DMARC_FAIL))
		abort();
}

static unsigned
half(void)
{
	return 49;
}

static struct dmarc_psl *psl;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz z = {0};
	struct spf_resolver res = {query, &z};
	struct msgauth_params p = {0};
	struct buf ar = BUF_INIT;
	struct dkim_keycache *keys;
	struct msgauth *m;
	const uint8_t *e;
	size_t h, i;
	char err[128];

	if (size < 1 || size > 65536)
		return 0;
	if (psl == NULL && (psl = dmarc_psl_load("/usr/share/publicsuffix/public_suffix_list.dat",
						 err, sizeof(err))) == NULL)
		abort();
	z.mode = data[0] % 3;
	data++;
	size--;
	p.authserv_id = "mx.fuzz.test";
	p.ip = "192.0.2.1";
	p.helo = "helo.fuzz.test";
	p.mailfrom = "a@fuzz.example.com";
	p.spf = SPF_PASS;
	p.spf_checked = true;
	p.psl = psl;
	p.dkim = true;
	p.dkim_keys = keys = dkim_keycache_new(1);
	p.now = 1700000000;
	p.rand100 = half;
	m = msgauth_new(&res, &p);
	e = memmem(data, size, "\r\n\r\n", 4);
	h = e != NULL ? (size_t)(e - data) + 4 : size;
	msgauth_header(m, (const char *)data, h);
	for (i = h; i < size; i += 7)
		msgauth_body(m, data + i, size - i < 7 ? size - i : 7);
	calls = 0;
	msgauth_run(m, done, NULL);
	while (z.mode == 1 && z.cb != NULL) {
		spf_answer_cb cb = z.cb;

		z.cb = NULL;
		answer(&z, cb, z.cbarg, z.type, z.name);
	}
	if (z.mode == 2)
		msgauth_deadline(m);
	if (calls != 1)
		abort();
	if (msgauth_authres(m, &ar) == 0) {
		for (i = 0; i < ar.len; i++)
			if ((ar.data[i] == '\r' && (i + 1 == ar.len || ar.data[i + 1] != '\n')) ||
			    (ar.data[i] == '\n' && (i == 0 || ar.data[i - 1] != '\r')))
				abort();
		if (ar.len < 2 || ar.data[ar.len - 1] != '\n')
			abort();
	}
	buf_free(&ar);
	msgauth_free(m);
	if (z.mode == 2 && z.cb != NULL) {
		spf_answer_cb cb = z.cb; /* the late answer is dropped and frees */

		z.cb = NULL;
		answer(&z, cb, z.cbarg, z.type, z.name);
	}
	dkim_keycache_free(keys);
	return 0;
}
