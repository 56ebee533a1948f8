/* SPDX-License-Identifier: ISC */
/*
 * dkim-bench - DKIM signatures and verifications per second with
 * src/mailauth/dkim.c, next to the raw public-key operations they wrap,
 * measured in the same process so that the ratio needs no second run.
 *
 * For RSA-2048 (rsa-sha256) and Ed25519 (ed25519-sha256), and for
 * messages of 4 KiB and 100 KiB in all (a dozen header fields, a text body
 * of CRLF lines, relaxed/relaxed unless -c), it times:
 *   sign          dkim_sign(): header split, field selection, body
 *                 canonicalization and hash, header hash, signature,
 *                 base64 and folding, with the private key loaded once by
 *                 dkim_privkey_load(), as a signer keeps it
 *   verify        dkim_verify_begin() + dkim_verify_qname() +
 *                 dkim_verify_sig(), the key record answered from memory
 *                 (no DNS) and parsed every time, as a fresh DNS answer is
 *   verify-cached the same with a dkim_keycache that holds the key
 *   raw-sign      EVP_PKEY_sign() of a 32-byte SHA-256 digest (RSA,
 *                 PKCS#1 v1.5 with the SHA-256 DigestInfo) or
 *                 EVP_DigestSign() of a 32-byte header hash (Ed25519, which
 *                 RFC 8463 signs); key and context set up once, as
 *                 openssl speed does
 *   raw-verify    the same, verifying
 * Each cell runs for a fixed time per round, in slices of 25 ms that take
 * turns with the other cells, so that noise from the rest of the machine
 * falls on all cells alike; ROUNDS rounds, medians. Every signature made
 * at start is verified (it must pass), and every verification must pass.
 * Output: one JSON object per cell on stdout with every round's rate
 * (ops per wall-clock second) and CPU time per op, and their medians.
 *
 *   dkim-bench [-t SECONDS] [-r ROUNDS] [-c relaxed|simple] [-s SIZE,...]
 *              [-a rsa|ed25519] [-o OP] [-P] [-B]
 *   dkim-bench -M SIZE      print the message of that size and exit
 * Defaults: -t 1 -r 5 -s 4k,100k. -a and -o keep one algorithm or one
 * operation (for perf record). -P adds sign-pem (dkim_sign() parsing the
 * PEM key every call); -B adds the body alone (with the RSA cells; it does
 * not depend on the key): canon (canonicalization into a sink that drops
 * it) and body-hash (canonicalization and SHA-256), to tell
 * canonicalization, hashing and public-key work apart.
 *
 * SECURITY: a benchmark, not part of the daemon; keys are generated at
 * start and never leave the process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "lib/buf.h"
#include "lib/util.h"
#include "mailauth/dkim.h"
#include "mailauth/dkim_canon.h"

#define ROUNDS_MAX 50
#define SIZES_MAX 8
#define DIGEST_LEN 32
/* Cells take turns in slices this long (seconds). */
#define SLICE_S 0.025

enum op {
	OP_SIGN,
	OP_SIGN_PEM,
	OP_VERIFY,
	OP_VERIFY_CACHED,
	OP_RAW_SIGN,
	OP_RAW_VERIFY,
	OP_CANON,
	OP_BODYHASH,
};

static const char *const op_names[] = {
	"sign", "sign-pem", "verify", "verify-cached", "raw-sign", "raw-verify", "canon", "body-hash",
};

struct keyset {
	enum dkim_alg alg;
	EVP_PKEY *pk;
	struct dkim_privkey *priv;   /* loaded once, for dkim_sign */
	struct dkim_keycache *cache; /* for verify-cached */
	struct buf pem;		   /* PKCS#8 PEM of pk */
	struct buf record;	   /* "v=DKIM1; k=...; p=..." */
	EVP_PKEY_CTX *sctx, *vctx; /* raw RSA */
	EVP_MD_CTX *smd, *vmd;	   /* raw Ed25519 */
	unsigned char sig[512];
	size_t siglen;
	bool reinit; /* Ed25519 contexts are not reusable (OpenSSL >= 3.2) */
};

struct sample {
	struct buf msg;	    /* the message to sign */
	struct buf signed_; /* its DKIM-Signature field + the message */
};

struct cell {
	enum op op;
	struct keyset *k;
	struct sample *m; /* NULL for the raw operations */
	size_t size;
	unsigned long ops; /* this round's */
	double wall, cpu;  /* this round's, seconds */
	size_t nr;
	double rate[ROUNDS_MAX];
	double cpu_us[ROUNDS_MAX];
};

static enum dkim_canon canon = DKIM_CANON_RELAXED;
static unsigned char digest[DIGEST_LEN];
static struct buf scratch = BUF_INIT;

static void
die(const char *what)
{
	fprintf(stderr, "dkim-bench: %s\n", what);
	exit(1);
}

/* ---- messages ---- */

static const char *const words[] = {
	"the", "gateway", "message", "queue", "delivery", "of", "and", "to", "a", "report",
	"quarterly", "meeting", "please", "find", "attached", "figures", "for", "review",
	"we", "will", "discuss", "on", "Thursday", "budget", "in", "with", "team", "is",
	"thanks", "regards", "project", "schedule", "update", "server", "migration",
	"that", "as", "discussed", "yesterday,", "next", "steps", "are", "below.", "I",
	"think", "should", "be", "fine,", "but", "let", "me", "know", "if", "not.",
};

static unsigned long rng = 12345;

static const char *
word(void)
{
	rng = rng * 6364136223846793005UL + 1442695040888963407UL;
	return words[(rng >> 33) % nitems(words)];
}

static void
add_headers(struct buf *m)
{
	buf_adds(m, "Received: from mail.example.org (mail.example.org [192.0.2.25])\r\n"
		    "\tby mx.example.com with ESMTPS id 4Q2x7k0z3Hz9sWc\r\n"
		    "\tfor <bob@example.com>; Tue, 14 May 2024 09:12:44 +0000\r\n"
		    "Received: from [10.1.2.3] (laptop.example.org [10.1.2.3])\r\n"
		    "\tby mail.example.org with ESMTPSA; Tue, 14 May 2024 09:12:43 +0000\r\n"
		    "Date: Tue, 14 May 2024 11:12:40 +0200\r\n"
		    "From: Alice Example <alice@example.org>\r\n"
		    "To: Bob Example <bob@example.com>, Carol Example <carol@example.com>,\r\n"
		    " Dave Example <dave@example.com>\r\n"
		    "Cc: team@example.org\r\n"
		    "Reply-To: alice@example.org\r\n"
		    "Subject: Re: quarterly figures and the migration schedule\r\n"
		    "Message-ID: <20240514091240.4f2a9c@laptop.example.org>\r\n"
		    "In-Reply-To: <20240513170233.1b7e@mail.example.com>\r\n"
		    "MIME-Version: 1.0\r\n"
		    "Content-Type: text/plain; charset=utf-8; format=flowed\r\n"
		    "Content-Transfer-Encoding: 8bit\r\n"
		    "\r\n");
}

/* add_line - words to about 60-70 columns and CRLF (at most 76 bytes);
 * quoted starts the line with "> ", flowed ends it with an SP (a soft line
 * break of format=flowed, RFC 3676, which relaxed canonicalization drops). */
static void
add_line(struct buf *m, bool quoted, bool flowed)
{
	size_t start = m->len;

	if (quoted)
		buf_adds(m, ">");
	while (m->len - start < 60) {
		buf_addc(m, ' ');
		buf_adds(m, word());
	}
	if (!quoted) /* no SP before the first word */
		memmove(m->data + start, m->data + start + 1, --m->len - start);
	if (flowed)
		buf_addc(m, ' ');
	buf_adds(m, "\r\n");
}

/* make_message - headers and a body of paragraphs of seven lines, every
 * third one quoted, size bytes in all (the last line fills up). */
static void
make_message(size_t size, struct buf *m)
{
	size_t lines = 0;

	add_headers(m);
	while (m->len + 2 < size) {
		if (size - m->len < 80) {
			while (m->len + 2 < size)
				buf_addc(m, '-');
			buf_adds(m, "\r\n");
		} else if (++lines % 8 == 0)
			buf_adds(m, "\r\n"); /* paragraph break */
		else
			add_line(m, lines / 8 % 3 == 2, lines % 8 != 7);
	}
	if (m->len != size)
		die("message size");
}

/* ---- keys ---- */

static void
b64(const unsigned char *p, size_t n, struct buf *out)
{
	char *tmp = xmalloc(n * 4 / 3 + 8);

	EVP_EncodeBlock((unsigned char *)tmp, p, (int)n);
	buf_adds(out, tmp);
	free(tmp);
}

static void
key_texts(struct keyset *k)
{
	BIO *bio = BIO_new(BIO_s_mem());
	unsigned char raw[64], *der = NULL;
	char *p;
	long n;
	int dlen;
	size_t rlen = sizeof(raw);

	if (bio == NULL || PEM_write_bio_PrivateKey(bio, k->pk, NULL, NULL, 0, NULL, NULL) != 1)
		die("PEM");
	n = BIO_get_mem_data(bio, &p);
	buf_add(&k->pem, p, (size_t)n);
	BIO_free(bio);
	if (k->alg == DKIM_ALG_RSA_SHA256) {
		if ((dlen = i2d_PUBKEY(k->pk, &der)) <= 0)
			die("i2d_PUBKEY");
		buf_adds(&k->record, "v=DKIM1; k=rsa; p=");
		b64(der, (size_t)dlen, &k->record);
		OPENSSL_free(der);
	} else {
		if (EVP_PKEY_get_raw_public_key(k->pk, raw, &rlen) != 1)
			die("raw public key");
		buf_adds(&k->record, "v=DKIM1; k=ed25519; p=");
		b64(raw, rlen, &k->record);
	}
}

static void
raw_setup(struct keyset *k)
{
	if (k->alg == DKIM_ALG_RSA_SHA256) {
		k->sctx = EVP_PKEY_CTX_new(k->pk, NULL);
		k->vctx = EVP_PKEY_CTX_new(k->pk, NULL);
		if (k->sctx == NULL || k->vctx == NULL || EVP_PKEY_sign_init(k->sctx) != 1 ||
		    EVP_PKEY_verify_init(k->vctx) != 1 ||
		    EVP_PKEY_CTX_set_rsa_padding(k->sctx, RSA_PKCS1_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_rsa_padding(k->vctx, RSA_PKCS1_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(k->sctx, EVP_sha256()) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(k->vctx, EVP_sha256()) != 1)
			die("RSA context");
	} else {
		k->smd = EVP_MD_CTX_new();
		k->vmd = EVP_MD_CTX_new();
		if (k->smd == NULL || k->vmd == NULL ||
		    EVP_DigestSignInit(k->smd, NULL, NULL, NULL, k->pk) != 1 ||
		    EVP_DigestVerifyInit(k->vmd, NULL, NULL, NULL, k->pk) != 1)
			die("Ed25519 context");
	}
}

static void
key_make(struct keyset *k, enum dkim_alg alg)
{
	const char *why;

	memset(k, 0, sizeof(*k));
	k->alg = alg;
	k->pk = alg == DKIM_ALG_RSA_SHA256 ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
					   : EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (k->pk == NULL)
		die("keygen");
	key_texts(k);
	if (dkim_privkey_load(buf_cstr(&k->pem), alg, &k->priv, &why) != 0)
		die(why);
	k->cache = dkim_keycache_new(16);
	raw_setup(k);
}

static void
key_free(struct keyset *k)
{
	dkim_privkey_free(k->priv);
	dkim_keycache_free(k->cache);
	EVP_PKEY_CTX_free(k->sctx);
	EVP_PKEY_CTX_free(k->vctx);
	EVP_MD_CTX_free(k->smd);
	EVP_MD_CTX_free(k->vmd);
	EVP_PKEY_free(k->pk);
	buf_wipe_free(&k->pem);
	buf_free(&k->record);
}

/* ---- the operations ---- */

static void
signer(const struct keyset *k, bool pem, struct dkim_signer *s)
{
	memset(s, 0, sizeof(*s));
	s->domain = "example.org";
	s->selector = "bench";
	s->alg = k->alg;
	s->hcanon = s->bcanon = canon;
	if (pem)
		s->key_pem = buf_cstr(&k->pem);
	else
		s->key = k->priv;
	s->t = time(NULL);
}

static void
do_sign(const struct keyset *k, const struct sample *m, bool pem, struct buf *out)
{
	struct dkim_signer s;
	const char *why;

	signer(k, pem, &s);
	buf_reset(out);
	if (dkim_sign(m->msg.data, m->msg.len, &s, out, &why) != 0)
		die(why);
}

static void
do_verify(const struct keyset *k, const struct sample *m, bool cached)
{
	struct dkim_keyans ans = {DKIM_DNS_FOUND, k->record.data, k->record.len};
	struct dkim_verify *v;
	struct dkim_sigres res;
	char qname[DKIM_QNAME_MAX + 1];
	const char *why;

	if (dkim_verify_begin(m->signed_.data, m->signed_.len, &v, &why) != 0)
		die(why);
	if (cached)
		dkim_verify_use_cache(v, k->cache);
	if (dkim_verify_count(v) != 1 || dkim_verify_qname(v, 0, qname, sizeof(qname)) != 0 ||
	    strcmp(qname, "bench._domainkey.example.org") != 0)
		die("qname");
	dkim_verify_sig(v, 0, &ans, time(NULL), &res);
	if (res.result != DKIM_PASS)
		die(res.reason);
	dkim_verify_free(v);
}

static void
do_raw(struct keyset *k, enum op op)
{
	size_t len = sizeof(k->sig);
	int ok;

	if (k->alg == DKIM_ALG_RSA_SHA256)
		ok = op == OP_RAW_SIGN
			     ? EVP_PKEY_sign(k->sctx, k->sig, &len, digest, DIGEST_LEN)
			     : EVP_PKEY_verify(k->vctx, k->sig, k->siglen, digest, DIGEST_LEN);
	else
		ok = op == OP_RAW_SIGN
			     ? EVP_DigestSign(k->smd, k->sig, &len, digest, DIGEST_LEN)
			     : EVP_DigestVerify(k->vmd, k->sig, k->siglen, digest, DIGEST_LEN);
	if (ok != 1 && k->alg != DKIM_ALG_RSA_SHA256 && !k->reinit) {
		/* OpenSSL 3.2 and later want a new Init before every one-shot
		 * Ed25519 operation (3.0, like openssl speed, reuses the context) */
		k->reinit = true;
		fprintf(stderr, "dkim-bench: raw Ed25519 re-initialises its context every time\n");
	}
	if (ok != 1 && k->reinit)
		ok = op == OP_RAW_SIGN
			     ? EVP_DigestSignInit(k->smd, NULL, NULL, NULL, k->pk) == 1 &&
				       EVP_DigestSign(k->smd, k->sig, &len, digest, DIGEST_LEN)
			     : EVP_DigestVerifyInit(k->vmd, NULL, NULL, NULL, k->pk) == 1 &&
				       EVP_DigestVerify(k->vmd, k->sig, k->siglen, digest, DIGEST_LEN);
	if (ok != 1)
		die("raw operation failed");
	if (op == OP_RAW_SIGN)
		k->siglen = len;
}

static void
sink_null(void *arg, const void *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
}

static void
sink_md(void *arg, const void *p, size_t n)
{
	if (EVP_DigestUpdate(arg, p, n) != 1)
		die("sha256");
}

/* do_body - the body of m canonicalized, and with md its SHA-256, as
 * dkim_sign and dkim_verify_sig do it. */
static void
do_body(const struct sample *m, bool md)
{
	static struct dkim_body b;
	static EVP_MD_CTX *ctx;
	const char *body = strstr(m->msg.data, "\r\n\r\n") + 4;
	unsigned char out[DIGEST_LEN];

	if (ctx == NULL && (ctx = EVP_MD_CTX_new()) == NULL)
		die("EVP_MD_CTX_new");
	if (md && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		die("sha256");
	dkim_body_init(&b, canon, false, 0, md ? sink_md : sink_null, ctx);
	dkim_body_update(&b, body, m->msg.len - (size_t)(body - m->msg.data));
	dkim_body_final(&b);
	if (md && EVP_DigestFinal_ex(ctx, out, NULL) != 1)
		die("sha256");
}

static void
run_op(struct cell *c)
{
	switch (c->op) {
	case OP_SIGN:
	case OP_SIGN_PEM:
		do_sign(c->k, c->m, c->op == OP_SIGN_PEM, &scratch);
		break;
	case OP_VERIFY:
	case OP_VERIFY_CACHED:
		do_verify(c->k, c->m, c->op == OP_VERIFY_CACHED);
		break;
	case OP_RAW_SIGN:
	case OP_RAW_VERIFY:
		do_raw(c->k, c->op);
		break;
	case OP_CANON:
	case OP_BODYHASH:
		do_body(c->m, c->op == OP_BODYHASH);
		break;
	}
}

/* ---- timing ---- */

static double
clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* slice - run c's operation for secs of wall time (at least once), adding
 * to what the round has counted. */
static void
slice(struct cell *c, double secs)
{
	double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), w;

	do {
		run_op(c);
		c->ops++;
	} while ((w = clock_s(CLOCK_MONOTONIC)) - w0 < secs);
	c->wall += w - w0;
	c->cpu += clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
}

/* round - every cell for secs in all, in slices of SLICE_S taking turns
 * (in reverse order every other slice), so that whatever else the machine
 * does falls on all of them alike; one more rate and CPU time per cell. */
static void
round_run(struct cell *cells, size_t n, double secs)
{
	size_t i, k, nslice = secs > SLICE_S ? (size_t)(secs / SLICE_S + 0.5) : 1;

	for (i = 0; i < n; i++) {
		run_op(&cells[i]); /* warm: caches, lazily computed key data */
		cells[i].ops = 0;
		cells[i].wall = cells[i].cpu = 0;
	}
	for (k = 0; k < nslice; k++)
		for (i = 0; i < n; i++)
			slice(&cells[k % 2 ? n - 1 - i : i], secs / (double)nslice);
	for (i = 0; i < n; i++) {
		struct cell *c = &cells[i];

		c->rate[c->nr] = (double)c->ops / c->wall;
		c->cpu_us[c->nr] = c->cpu * 1e6 / (double)c->ops;
		c->nr++;
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(const double *v, size_t n)
{
	double t[ROUNDS_MAX];

	memcpy(t, v, n * sizeof(*v));
	qsort(t, n, sizeof(*t), cmp_double);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static void
print_list(const char *name, const double *v, size_t n, int prec)
{
	size_t i;

	printf(", \"%s\": [", name);
	for (i = 0; i < n; i++)
		printf("%s%.*f", i ? ", " : "", prec, v[i]);
	printf("]");
}

static void
report(const struct cell *c, double secs)
{
	printf("{\"alg\": \"%s\", \"op\": \"%s\", \"size\": %zu, \"canon\": \"%s/%s\", "
	       "\"seconds\": %.2f, \"median\": %.1f, \"cpu_us_median\": %.2f",
	       dkim_alg_name(c->k->alg), op_names[c->op], c->size, dkim_canon_name(canon),
	       dkim_canon_name(canon), secs, median(c->rate, c->nr), median(c->cpu_us, c->nr));
	print_list("rates", c->rate, c->nr, 1);
	print_list("cpu_us", c->cpu_us, c->nr, 2);
	printf("}\n");
}

/* ---- setup ---- */

static void
sample_make(struct sample *m, const struct keyset *k, size_t size)
{
	memset(m, 0, sizeof(*m));
	rng = 12345 + size; /* the same text for both algorithms */
	make_message(size, &m->msg);
	do_sign(k, m, false, &m->signed_);
	buf_add(&m->signed_, m->msg.data, m->msg.len);
	do_verify(k, m, false); /* it passes, or we stop here */
}

static size_t
parse_sizes(const char *arg, size_t *sizes)
{
	size_t n = 0;
	uint64_t v;
	char tok[32];

	while (*arg != '\0') {
		size_t len = strcspn(arg, ",");

		if (n == SIZES_MAX || len >= sizeof(tok))
			die("bad -s: at most 8 sizes, comma-separated");
		memcpy(tok, arg, len);
		tok[len] = '\0';
		if (parse_size(tok, &v) != 0 || v < 1024 || v > (64u << 20))
			die("bad -s: sizes from 1k to 64m");
		sizes[n++] = (size_t)v;
		arg += len + (arg[len] == ',');
	}
	if (n == 0)
		die("bad -s: no size");
	return n;
}

/* print_message - the message dkim-bench signs at that size, as it is. */
static void
print_message(const char *arg)
{
	struct buf m = BUF_INIT;
	size_t size;

	if (parse_sizes(arg, &size) != 1)
		die("-M takes one size");
	rng = 12345 + size;
	make_message(size, &m);
	fwrite(m.data, 1, m.len, stdout);
	exit(0);
}

static void
usage(void)
{
	fprintf(stderr, "usage: dkim-bench [-t SECONDS] [-r ROUNDS] [-c relaxed|simple] "
			"[-s SIZE,...] [-a rsa|ed25519] [-o OP] [-P] [-B]\n"
			"       dkim-bench -M SIZE\n");
	exit(2);
}

struct opts {
	double secs;
	size_t rounds, nsizes;
	size_t sizes[SIZES_MAX];
	bool pem;  /* also time dkim_sign with the key parsed from PEM each call */
	bool body; /* also time the body alone */
	const char *alg, *op; /* only this algorithm ("rsa", "ed25519"), operation */
};

static void
parse_opts(int argc, char **argv, struct opts *o)
{
	uint64_t v;
	int ch;

	o->secs = 1.0;
	o->rounds = 5;
	o->sizes[0] = 4096;
	o->sizes[1] = 102400;
	o->nsizes = 2;
	o->pem = o->body = false;
	o->alg = o->op = NULL;
	while ((ch = getopt(argc, argv, "t:r:c:s:a:o:PBM:")) != -1) {
		if (ch == 't') {
			char *end;

			o->secs = strtod(optarg, &end);
			if (*end != '\0' || !(o->secs > 0 && o->secs <= 600))
				usage();
		} else if (ch == 'r' && parse_u64(optarg, ROUNDS_MAX, &v) == 0 && v > 0)
			o->rounds = (size_t)v;
		else if (ch == 'c' && strcmp(optarg, "relaxed") == 0)
			canon = DKIM_CANON_RELAXED;
		else if (ch == 'c' && strcmp(optarg, "simple") == 0)
			canon = DKIM_CANON_SIMPLE;
		else if (ch == 's')
			o->nsizes = parse_sizes(optarg, o->sizes);
		else if (ch == 'P')
			o->pem = true;
		else if (ch == 'B')
			o->body = true;
		else if (ch == 'a' && (strcmp(optarg, "rsa") == 0 || strcmp(optarg, "ed25519") == 0))
			o->alg = optarg;
		else if (ch == 'o')
			o->op = optarg;
		else if (ch == 'M')
			print_message(optarg);
		else
			usage();
	}
	if (optind != argc)
		usage();
}

static size_t
add_cells(struct cell *cells, struct keyset *k, struct sample *m, const struct opts *o)
{
	size_t n = 0, j;

	cells[n++] = (struct cell){.op = OP_RAW_SIGN, .k = k};
	cells[n++] = (struct cell){.op = OP_RAW_VERIFY, .k = k};
	for (j = 0; j < o->nsizes; j++) {
		sample_make(&m[j], k, o->sizes[j]);
		cells[n++] = (struct cell){.op = OP_SIGN, .k = k, .m = &m[j], .size = o->sizes[j]};
		if (o->pem)
			cells[n++] = (struct cell){
				.op = OP_SIGN_PEM, .k = k, .m = &m[j], .size = o->sizes[j]};
		cells[n++] = (struct cell){.op = OP_VERIFY, .k = k, .m = &m[j], .size = o->sizes[j]};
		cells[n++] = (struct cell){
			.op = OP_VERIFY_CACHED, .k = k, .m = &m[j], .size = o->sizes[j]};
		if (o->body && k->alg == DKIM_ALG_RSA_SHA256) {
			cells[n++] = (struct cell){
				.op = OP_CANON, .k = k, .m = &m[j], .size = o->sizes[j]};
			cells[n++] = (struct cell){
				.op = OP_BODYHASH, .k = k, .m = &m[j], .size = o->sizes[j]};
		}
	}
	return n;
}

/* keep_cells - drop the cells that -a and -o leave out. */
static size_t
keep_cells(struct cell *cells, size_t n, const struct opts *o)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		bool rsa = cells[i].k->alg == DKIM_ALG_RSA_SHA256;

		if (o->alg != NULL && rsa != (strcmp(o->alg, "rsa") == 0))
			continue;
		if (o->op != NULL && strcmp(o->op, op_names[cells[i].op]) != 0)
			continue;
		cells[k++] = cells[i];
	}
	if (k == 0)
		die("-a/-o leave nothing to measure");
	return k;
}

int
main(int argc, char **argv)
{
	static struct cell cells[2 * (2 + 6 * SIZES_MAX)];
	struct keyset keys[2];
	struct sample samples[2][SIZES_MAX];
	struct opts o;
	size_t ncell = 0, r, i, j;

	parse_opts(argc, argv, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);
	key_make(&keys[0], DKIM_ALG_RSA_SHA256);
	key_make(&keys[1], DKIM_ALG_ED25519_SHA256);
	/* the raw digest: the SHA-256 of a header section, as DKIM would sign it */
	if (EVP_Digest("From: a@example.org\r\n", 21, digest, NULL, EVP_sha256(), NULL) != 1)
		die("sha256");
	for (i = 0; i < 2; i++)
		ncell += add_cells(cells + ncell, &keys[i], samples[i], &o);
	ncell = keep_cells(cells, ncell, &o);
	for (i = 0; i < 2; i++) /* a signature for raw-verify to check */
		do_raw(&keys[i], OP_RAW_SIGN);
	for (r = 0; r < o.rounds; r++) {
		round_run(cells, ncell, o.secs);
		fprintf(stderr, "dkim-bench: round %zu/%zu done\n", r + 1, o.rounds);
	}
	for (j = 0; j < ncell; j++)
		report(&cells[j], o.secs);
	for (i = 0; i < 2; i++) {
		for (j = 0; j < o.nsizes; j++) {
			buf_free(&samples[i][j].msg);
			buf_free(&samples[i][j].signed_);
		}
		key_free(&keys[i]);
	}
	buf_free(&scratch);
	return 0;
}
