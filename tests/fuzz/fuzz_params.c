/* SPDX-License-Identifier: ISC */
/*
 * fuzz_params - the MAIL and RCPT argument parsers, BDAT arguments, HELO
 * and xtext, called directly (no verb split). The first byte picks the
 * parser; the rest is the argument string.
 *
 * Checked: a refusal always comes with a complete "5yz x.y.z text" reply
 * (the session sends it as is), success leaves every field within its RFC
 * limit and syntax (ENVID xtext, ORCPT "type;value", NOTIFY=NEVER alone),
 * and xtext encoding round-trips.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/syntax.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_reply - "5yz 5.y.z text": what a client will read. */
static void
check_reply(const char *reply)
{
	size_t len = strnlen(reply, SMTP_REPLY_MAX), i;

	if (len >= SMTP_REPLY_MAX || len < 12)
		abort();
	if (reply[0] != '5' || reply[1] < '0' || reply[1] > '5' || reply[2] < '0' ||
	    reply[2] > '9' || reply[3] != ' ' || reply[4] != '5' || reply[5] != '.')
		abort();
	for (i = 0; i < len; i++)
		if ((unsigned char)reply[i] < 0x20 || (unsigned char)reply[i] >= 0x7f)
			abort();
}

static void
check_path(const struct smtp_path *p)
{
	if (strnlen(p->addr, sizeof(p->addr)) > SMTP_PATH_MAX ||
	    strnlen(p->domain, sizeof(p->domain)) > SMTP_DOMAIN_MAX)
		abort();
}

static void
do_mail(const char *s, size_t n)
{
	char reply[SMTP_REPLY_MAX];
	struct smtp_path p;
	struct mail_params mp;
	char dec[SMTP_ENVID_MAX + 1];

	memset(reply, 0, sizeof(reply));
	if (smtp_parse_mail(s, n, &p, &mp, reply) == -1) {
		check_reply(reply);
		return;
	}
	check_path(&p);
	if (p.postmaster)
		abort(); /* <Postmaster> is a recipient only */
	if (mp.body != BODY_UNSET && mp.body != BODY_7BIT && mp.body != BODY_8BITMIME)
		abort();
	if (mp.ret != RET_UNSET && mp.ret != RET_FULL && mp.ret != RET_HDRS)
		abort();
	if (strnlen(mp.envid, sizeof(mp.envid)) > SMTP_ENVID_MAX ||
	    !valid_xtext(mp.envid, strlen(mp.envid)))
		abort();
	if (mp.envid[0] != '\0')
		(void)xtext_decode(mp.envid, dec, sizeof(dec));
}

static void
do_rcpt(const char *s, size_t n)
{
	char reply[SMTP_REPLY_MAX];
	struct smtp_path p;
	struct rcpt_params rp;

	memset(reply, 0, sizeof(reply));
	if (smtp_parse_rcpt(s, n, &p, &rp, reply) == -1) {
		check_reply(reply);
		return;
	}
	check_path(&p);
	if (p.null)
		abort(); /* RCPT TO:<> is never a recipient */
	if (rp.notify & ~0xfu)
		abort();
	if ((rp.notify & NOTIFY_NEVER) && rp.notify != NOTIFY_NEVER)
		abort();
	if (rp.orcpt[0] != '\0') {
		const char *semi = strchr(rp.orcpt, ';');

		if (semi == NULL || semi == rp.orcpt || semi[1] == '\0' ||
		    strnlen(rp.orcpt, sizeof(rp.orcpt)) > SMTP_ORCPT_MAX ||
		    !valid_utf8(rp.orcpt, strlen(rp.orcpt)))
			abort();
	}
}

static void
do_bdat(const char *s, size_t n)
{
	char reply[SMTP_REPLY_MAX];
	uint64_t sz = 0;
	bool last = false;

	memset(reply, 0, sizeof(reply));
	if (smtp_parse_bdat(s, n, &sz, &last, reply) == -1) {
		check_reply(reply);
		return;
	}
	if (n == 0 || s[0] < '0' || s[0] > '9')
		abort();
}

/* do_xtext - encode/decode round trip of the input as a C string. */
static void
do_xtext(const char *s, size_t n)
{
	char enc[3 * 256 + 1], dec[256 + 1], str[256 + 1];

	if (n > 256)
		n = 256;
	memcpy(str, s, n);
	str[n] = '\0';
	if (xtext_encode(str, enc, sizeof(enc)) == -1)
		abort(); /* room for 3 bytes per input byte */
	if (!valid_xtext(enc, strlen(enc)))
		abort();
	if (xtext_decode(enc, dec, sizeof(dec)) == -1 || strcmp(dec, str) != 0)
		abort();
	if (valid_xtext(str, strlen(str)) && xtext_decode(str, dec, sizeof(dec)) == 0)
		if (strlen(dec) > strlen(str))
			abort(); /* decoding never grows */
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	size_t n;

	if (size < 1 || size > 4096)
		return 0;
	/* exactly n bytes, no NUL after them: ASan sees any read past the end */
	n = size - 1;
	s = malloc(n ? n : 1);
	memcpy(s, data + 1, n);
	switch (data[0] % 5) {
	case 0:
		do_mail(s, n);
		break;
	case 1:
		do_rcpt(s, n);
		break;
	case 2:
		do_bdat(s, n);
		break;
	case 3:
		(void)smtp_parse_helo(s, n);
		break;
	default:
		do_xtext(s, n);
		break;
	}
	free(s);
	return 0;
}
