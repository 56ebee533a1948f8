/* SPDX-License-Identifier: ISC */
/*
 * dkim_tool - not a unit test: a command-line face of src/mailauth/dkim.c
 * for tests/integration/test_dkim_interop.py, which checks it against
 * dkimpy and OpenDKIM.
 *
 *   dkim_tool sign rsa|ed25519 relaxed|simple DOMAIN SELECTOR KEY.pem [T [EXPIRE]]
 *       reads a message (CRLF) on stdin, writes the signed message
 *   dkim_tool verify ZONEFILE NOW
 *       reads a message on stdin, prints "N RESULT REASON" per signature,
 *       looking keys up in ZONEFILE ("<name> <TXT value>" lines)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "mailauth/dkim.h"

static void
read_all(FILE *fp, struct buf *b)
{
	char chunk[4096];
	size_t n;

	while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
		buf_add(b, chunk, n);
}

static int
do_sign(int argc, char **argv)
{
	struct buf msg = BUF_INIT, key = BUF_INIT, sig = BUF_INIT;
	struct dkim_signer s;
	const char *why;
	FILE *fp;
	uint64_t n;

	memset(&s, 0, sizeof(s));
	s.alg = strcmp(argv[2], "ed25519") == 0 ? DKIM_ALG_ED25519_SHA256 : DKIM_ALG_RSA_SHA256;
	s.hcanon = s.bcanon =
		strcmp(argv[3], "simple") == 0 ? DKIM_CANON_SIMPLE : DKIM_CANON_RELAXED;
	s.domain = argv[4];
	s.selector = argv[5];
	s.t = argc > 7 && parse_u64(argv[7], UINT64_MAX, &n) == 0 ? (time_t)n : time(NULL);
	if (argc > 8 && parse_u64(argv[8], UINT64_MAX, &n) == 0)
		s.expire = n;
	if ((fp = fopen(argv[6], "rb")) == NULL)
		return 2;
	read_all(fp, &key);
	fclose(fp);
	s.key_pem = buf_cstr(&key);
	read_all(stdin, &msg);
	if (dkim_sign(msg.data, msg.len, &s, &sig, &why) != 0) {
		fprintf(stderr, "sign: %s\n", why);
		return 1;
	}
	fwrite(sig.data, 1, sig.len, stdout);
	fwrite(msg.data, 1, msg.len, stdout);
	buf_free(&msg);
	buf_wipe_free(&key);
	buf_free(&sig);
	return 0;
}

/* zone_find - the value for name in the zone text, or NULL. */
static const char *
zone_find(const char *zone, const char *name, size_t *len)
{
	size_t nl = strlen(name);
	const char *p = zone;

	while (p != NULL && *p != '\0') {
		const char *e = strchr(p, '\n');

		if (strncasecmp(p, name, nl) == 0 && p[nl] == ' ') {
			*len = (e != NULL ? (size_t)(e - p) : strlen(p)) - nl - 1;
			return p + nl + 1;
		}
		p = e != NULL ? e + 1 : NULL;
	}
	return NULL;
}

static int
do_verify(char **argv)
{
	struct buf msg = BUF_INIT, zone = BUF_INIT;
	struct dkim_verify *v;
	const char *why;
	uint64_t now;
	size_t i, bad = 0;
	FILE *fp;

	if (parse_u64(argv[3], UINT64_MAX, &now) != 0 || (fp = fopen(argv[2], "rb")) == NULL)
		return 2;
	read_all(fp, &zone);
	fclose(fp);
	read_all(stdin, &msg);
	if (dkim_verify_begin(msg.data, msg.len, &v, &why) != 0) {
		printf("- permerror %s\n", why);
		return 1;
	}
	for (i = 0; i < dkim_verify_count(v); i++) {
		char q[DKIM_QNAME_MAX + 1];
		struct dkim_keyans ans = {DKIM_DNS_NOTFOUND, NULL, 0};
		struct dkim_sigres res;

		if (dkim_verify_qname(v, i, q, sizeof(q)) == 0 &&
		    (ans.txt = zone_find(buf_cstr(&zone), q, &ans.len)) != NULL)
			ans.status = DKIM_DNS_FOUND;
		dkim_verify_sig(v, i, &ans, (time_t)now, &res);
		printf("%zu %s %s\n", i, dkim_result_name(res.result), res.reason);
		bad += res.result != DKIM_PASS;
	}
	dkim_verify_free(v);
	buf_free(&msg);
	buf_free(&zone);
	return bad == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (argc >= 7 && strcmp(argv[1], "sign") == 0)
		return do_sign(argc, argv);
	if (argc == 4 && strcmp(argv[1], "verify") == 0)
		return do_verify(argv);
	fprintf(stderr, "usage: dkim_tool sign ALG CANON DOMAIN SELECTOR KEY [T [EXPIRE]]\n"
			"       dkim_tool verify ZONEFILE NOW\n");
	return 2;
}
