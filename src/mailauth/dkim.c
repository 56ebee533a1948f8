/* SPDX-License-Identifier: ISC */
/*
 * dkim - DKIM signing and verification of whole messages. See dkim.h for
 * the contract, SECURITY and STANDARDS.
 */
#include <string.h>
#include <strings.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "lib/util.h"
#include "mailauth/dkim.h"
#include "mailauth/dkim_canon.h"

#define SHA256_LEN 32

struct sigslot {
	size_t field;	  /* index of the DKIM-Signature field */
	size_t value_off; /* offset of its value inside the field */
	int rc;		  /* dkim_sig_parse result */
	const char *why;
	struct dkim_sig sig;
};

/* A body hash computed as the body streams past (dkim_verify_body). */
struct bodyhash {
	struct dkim_body b;
	EVP_MD_CTX *md;
	enum dkim_canon c;
	bool has_l;
	uint64_t l;
	unsigned char bh[SHA256_LEN];
	int rc; /* 0 once final, -1 on a hash error */
};

struct dkim_verify {
	const char *msg;
	size_t len;
	struct dkim_field *f;
	size_t nf, body_off, nsig;
	struct dkim_keycache *cache; /* or NULL */
	struct sigslot slot[DKIM_SIGS_MAX];
	/* streaming: the body is fed separately, one hash per distinct
	 * (canonicalization, l=) pair, shared by the signatures using it */
	bool stream, stream_done;
	struct bodyhash hash[DKIM_SIGS_MAX];
	size_t nhash;
	size_t slot_hash[DKIM_SIGS_MAX];
};

/* A usable public key and the record text it came from. */
struct keyslot {
	char *txt;
	size_t len;
	uint64_t hash, used;
	struct dkim_key key;
	EVP_PKEY *pk;
	EVP_PKEY_CTX *ctx; /* RSA: ready for EVP_PKEY_verify(), or NULL */
};

struct dkim_keycache {
	struct keyslot *slot;
	size_t n, max;
	uint64_t clock;
	EVP_MD *sha256; /* fetched once, or NULL */
};

/* The key a signature is checked with: borrowed from the cache, or owned. */
struct keyref {
	const struct dkim_key *key;
	EVP_PKEY *pk;
	EVP_PKEY_CTX *ctx;
	struct dkim_key *own; /* when not from the cache, with pk */
};

struct dkim_privkey {
	enum dkim_alg alg;
	EVP_PKEY *pk;
	EVP_MD *sha256; /* fetched once, or NULL */
};

const char *
dkim_result_name(enum dkim_result r)
{
	static const char *const names[] = {"pass", "fail", "neutral", "temperror", "permerror"};

	return (size_t)r < nitems(names) ? names[r] : "permerror";
}

static void
sink_md(void *arg, const void *p, size_t n)
{
	if (EVP_DigestUpdate(arg, p, n) != 1)
		abort(); /* SHA-256 update cannot fail short of a broken library */
}

/* body_hash - SHA-256 (sha) of the canonical body; b keeps the lengths. */
static int
body_hash(const EVP_MD *sha, const char *body, size_t n, enum dkim_canon c, bool has_l,
	  uint64_t l, unsigned char *out, struct dkim_body *b)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int rc = -1;

	if (md == NULL || EVP_DigestInit_ex(md, sha, NULL) != 1)
		goto fail;
	dkim_body_init(b, c, has_l, l, sink_md, md);
	dkim_body_update(b, body, n);
	dkim_body_final(b);
	if (EVP_DigestFinal_ex(md, out, NULL) != 1)
		goto fail;
	rc = 0;
fail:
	EVP_MD_CTX_free(md);
	return rc;
}

static int
sha256(const EVP_MD *sha, const void *p, size_t n, unsigned char *out)
{
	return EVP_Digest(p, n, out, NULL, sha, NULL) == 1 ? 0 : -1;
}

/* sha_of - SHA-256 fetched once by the long-lived object that holds it
 * (OpenSSL 3 looks EVP_sha256() up in its provider store on every use),
 * or EVP_sha256(). */
static const EVP_MD *
sha_of(EVP_MD *fetched)
{
	return fetched != NULL ? fetched : EVP_sha256();
}

/* header_data - the canonical fields named by h= and the signature field
 * (its b= value removed, no final CRLF), in the order hashed. */
static void
header_data(const char *msg, const struct dkim_field *f, size_t nf, size_t self,
	    const char (*h)[DKIM_HNAME_MAX + 1], size_t nh, enum dkim_canon c, const char *sigf,
	    size_t siglen, struct buf *out)
{
	size_t idx[DKIM_HNAMES_MAX], j;

	dkim_select_verify(msg, f, nf, self, h, nh, idx);
	for (j = 0; j < nh; j++) {
		if (idx[j] == DKIM_NO_FIELD)
			continue;
		dkim_canon_header(c, msg + f[idx[j]].off, f[idx[j]].len, out);
		buf_adds(out, "\r\n");
	}
	dkim_canon_header(c, sigf, siglen, out);
}

/* ---- verification ---- */

static bool
is_sig_field(const char *msg, const struct dkim_field *f)
{
	return f->name_len == 14 && strncasecmp(msg + f->off, "DKIM-Signature", 14) == 0;
}

/* stream_setup - a body hash for each parsed signature, shared when two
 * hash the body the same way. EVP_sha256() here: a key cache, which holds
 * SHA-256 fetched once, is attached only after this (one look-up a message
 * per distinct hash, not per signature or per key). */
static void
stream_setup(struct dkim_verify *v)
{
	size_t i, j;

	v->stream = true;
	for (i = 0; i < v->nsig; i++) {
		const struct dkim_sig *sig = &v->slot[i].sig;
		struct bodyhash *h;

		if (v->slot[i].rc != 0)
			continue;
		for (j = 0; j < v->nhash; j++)
			if (v->hash[j].c == sig->bcanon && v->hash[j].has_l == sig->has_l &&
			    (!sig->has_l || v->hash[j].l == sig->l))
				break;
		v->slot_hash[i] = j;
		if (j < v->nhash)
			continue;
		h = &v->hash[v->nhash++];
		h->c = sig->bcanon;
		h->has_l = sig->has_l;
		h->l = sig->l;
		h->rc = -1;
		h->md = EVP_MD_CTX_new();
		if (h->md == NULL || EVP_DigestInit_ex(h->md, EVP_sha256(), NULL) != 1)
			abort(); /* out of memory in OpenSSL */
		dkim_body_init(&h->b, h->c, h->has_l, h->l, sink_md, h->md);
	}
}

int
dkim_verify_begin_stream(const char *hdr, size_t len, struct dkim_verify **out, const char **why)
{
	if (dkim_verify_begin(hdr, len, out, why) != 0)
		return -1;
	stream_setup(*out);
	return 0;
}

void
dkim_verify_body(struct dkim_verify *v, const void *p, size_t n)
{
	size_t j;

	for (j = 0; j < v->nhash; j++)
		dkim_body_update(&v->hash[j].b, p, n);
}

void
dkim_verify_body_end(struct dkim_verify *v)
{
	size_t j;

	for (j = 0; j < v->nhash && !v->stream_done; j++) {
		dkim_body_final(&v->hash[j].b);
		v->hash[j].rc = EVP_DigestFinal_ex(v->hash[j].md, v->hash[j].bh, NULL) == 1 ? 0 : -1;
	}
	v->stream_done = true;
}

int
dkim_verify_begin(const char *msg, size_t len, struct dkim_verify **out, const char **why)
{
	/* not zeroed: the slots (64 KiB), the stream's hashes (33 KiB) and the
	 * fields (23 KiB) are filled as they are used */
	struct dkim_verify *v = xmalloc(sizeof(*v));
	size_t k;

	v->msg = msg;
	v->len = len;
	v->nf = v->body_off = v->nsig = v->nhash = 0;
	v->cache = NULL;
	v->stream = v->stream_done = false;
	v->f = xreallocarray(NULL, DKIM_FIELDS_MAX, sizeof(*v->f));
	if (dkim_split_header(msg, len, v->f, DKIM_FIELDS_MAX, &v->nf, &v->body_off, why) != 0) {
		dkim_verify_free(v);
		return -1;
	}
	for (k = 0; k < v->nf && v->nsig < DKIM_SIGS_MAX; k++) {
		struct sigslot *s = &v->slot[v->nsig];
		const char *colon;

		if (!is_sig_field(msg, &v->f[k]))
			continue;
		colon = memchr(msg + v->f[k].off, ':', v->f[k].len);
		s->field = k;
		s->value_off = (size_t)(colon + 1 - (msg + v->f[k].off));
		s->rc = dkim_sig_parse(colon + 1, v->f[k].len - s->value_off, &s->sig, &s->why);
		v->nsig++;
	}
	*out = v;
	return 0;
}

size_t
dkim_verify_count(const struct dkim_verify *v)
{
	return v->nsig;
}

int
dkim_verify_qname(const struct dkim_verify *v, size_t i, char *out, size_t outsz)
{
	if (i >= v->nsig || v->slot[i].rc != 0)
		return -1;
	return str_fmt(out, outsz, "%s._domainkey.%s", v->slot[i].sig.s, v->slot[i].sig.d);
}

void
dkim_verify_free(struct dkim_verify *v)
{
	size_t j;

	if (v == NULL)
		return;
	for (j = 0; j < v->nhash; j++)
		EVP_MD_CTX_free(v->hash[j].md);
	free(v->f);
	free(v);
}

/* der_seq - the elements of the SEQUENCE p[0..n), which must fill it.
 * The tag is checked here: OpenSSL takes a primitive one (0x10) as well. */
static STACK_OF(ASN1_TYPE) *
der_seq(const unsigned char *p, long n)
{
	const unsigned char *q = p;
	STACK_OF(ASN1_TYPE) *seq =
		n > 0 && p[0] == 0x30 ? d2i_ASN1_SEQUENCE_ANY(NULL, &q, n) : NULL;

	if (seq != NULL && q != p + n) {
		sk_ASN1_TYPE_pop_free(seq, ASN1_TYPE_free);
		seq = NULL;
	}
	return seq;
}

static const ASN1_TYPE *
der_elem(STACK_OF(ASN1_TYPE) * seq, int i, int type)
{
	const ASN1_TYPE *t = sk_ASN1_TYPE_value(seq, i);

	return t != NULL && t->type == type ? t : NULL;
}

/* spki_rsa - the RSAPublicKey inside a SubjectPublicKeyInfo whose
 * algorithm is rsaEncryption (RFC 3279 2.3.1), or NULL. Neither the
 * parameters nor the unused-bits count are looked at: d2i_PUBKEY(), which
 * this replaces, does not look at them either. */
static const ASN1_BIT_STRING *
spki_rsa(STACK_OF(ASN1_TYPE) * spki, STACK_OF(ASN1_TYPE) * *alg)
{
	const ASN1_TYPE *a = der_elem(spki, 0, V_ASN1_SEQUENCE), *k, *oid;

	if (sk_ASN1_TYPE_num(spki) != 2 || a == NULL ||
	    (k = der_elem(spki, 1, V_ASN1_BIT_STRING)) == NULL ||
	    (*alg = der_seq(a->value.sequence->data, a->value.sequence->length)) == NULL ||
	    sk_ASN1_TYPE_num(*alg) > 2 || (oid = der_elem(*alg, 0, V_ASN1_OBJECT)) == NULL ||
	    OBJ_obj2nid(oid->value.object) != NID_rsaEncryption)
		return NULL;
	return k->value.bit_string;
}

/* rsa_pkcs1 - the key of an RSAPublicKey (RFC 8017 A.1.1) that fills
 * p[0..len). */
static EVP_PKEY *
rsa_pkcs1(const unsigned char *p, long len)
{
	const unsigned char *q = p;
	EVP_PKEY *pk = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, len);

	if (pk != NULL && q != p + len) {
		EVP_PKEY_free(pk);
		pk = NULL;
	}
	return pk;
}

/* load_pubkey - the EVP key of a parsed record: Ed25519 raw, RSA as
 * SubjectPublicKeyInfo or bare RSAPublicKey (RFC 6376 3.6.1 says the
 * former; some publish the latter). OpenSSL 3.0's d2i_PUBKEY() runs its
 * decoder framework, about 200 us a call (8 RSA-2048 verifications); the
 * SubjectPublicKeyInfo is unwrapped here and the RSAPublicKey read with
 * d2i_PublicKey(), which takes about 1 us. */
static EVP_PKEY *
load_pubkey(const struct dkim_key *key)
{
	STACK_OF(ASN1_TYPE) *spki, *alg = NULL;
	const ASN1_BIT_STRING *bits;
	EVP_PKEY *pk;

	if (key->k == DKIM_KEY_ED25519)
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, key->p, key->p_len);
	spki = der_seq(key->p, (long)key->p_len);
	if (spki != NULL && (bits = spki_rsa(spki, &alg)) != NULL)
		pk = rsa_pkcs1(bits->data, bits->length);
	else
		pk = rsa_pkcs1(key->p, (long)key->p_len);
	sk_ASN1_TYPE_pop_free(alg, ASN1_TYPE_free);
	sk_ASN1_TYPE_pop_free(spki, ASN1_TYPE_free);
	return pk;
}

/* rsa_verify_ctx - a context ready to verify RSA-SHA256 (PKCS#1 v1.5);
 * EVP_PKEY_verify() may be called on it again and again. */
static EVP_PKEY_CTX *
rsa_verify_ctx(EVP_PKEY *pk)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);

	if (ctx != NULL && (EVP_PKEY_verify_init(ctx) != 1 ||
			    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
			    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) != 1)) {
		EVP_PKEY_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

/* check_sig - verify sig over the 32-byte hash with kr's key (and its
 * ready RSA context when it has one); 0 when it matches. */
static int
check_sig(const struct keyref *kr, enum dkim_alg alg, const unsigned char *hash,
	  const unsigned char *sig, size_t siglen)
{
	int ok = 0;

	if (alg == DKIM_ALG_ED25519_SHA256) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		ok = md != NULL && EVP_DigestVerifyInit(md, NULL, NULL, NULL, kr->pk) == 1 &&
		     EVP_DigestVerify(md, sig, siglen, hash, SHA256_LEN) == 1;
		EVP_MD_CTX_free(md);
	} else {
		EVP_PKEY_CTX *ctx = kr->ctx != NULL ? kr->ctx : rsa_verify_ctx(kr->pk);

		ok = ctx != NULL && EVP_PKEY_verify(ctx, sig, siglen, hash, SHA256_LEN) == 1;
		if (ctx != kr->ctx)
			EVP_PKEY_CTX_free(ctx);
	}
	return ok ? 0 : -1;
}

static enum dkim_result
set_res(struct dkim_sigres *res, enum dkim_result r, const char *reason)
{
	res->result = r;
	res->reason = reason;
	return r;
}

/* check_time - x= and t= against the clock. */
static int
check_time(const struct dkim_sig *sig, time_t now, struct dkim_sigres *res)
{
	if (sig->has_x && (uint64_t)now > sig->x) {
		set_res(res, DKIM_FAIL, "signature expired");
		return -1;
	}
	if (sig->has_t && sig->t > (uint64_t)now + DKIM_CLOCK_SKEW) {
		set_res(res, DKIM_FAIL, "signature timestamp in the future");
		return -1;
	}
	return 0;
}

/* check_answer - the DNS outcome. */
static int
check_answer(const struct dkim_keyans *ans, struct dkim_sigres *res)
{
	if (ans == NULL || ans->status == DKIM_DNS_TEMPFAIL)
		set_res(res, DKIM_TEMPERROR, "key lookup failed");
	else if (ans->status == DKIM_DNS_NOTFOUND)
		set_res(res, DKIM_PERMERROR, "no key record");
	else
		return 0;
	return -1;
}

/* check_key - the key record against the signature. */
static int
check_key(const struct dkim_sig *sig, const struct dkim_key *key, struct dkim_sigres *res)
{
	const char *at = strrchr(sig->i, '@');

	res->testing = key->testing;
	if (key->revoked)
		set_res(res, DKIM_PERMERROR, "key revoked");
	else if (!key->sha256_ok || !key->email_ok)
		set_res(res, DKIM_PERMERROR, "key not for this hash or service");
	else if ((key->k == DKIM_KEY_ED25519) != (sig->alg == DKIM_ALG_ED25519_SHA256))
		set_res(res, DKIM_PERMERROR, "key type does not match a=");
	else if (key->strict && (at == NULL || strcasecmp(at + 1, sig->d) != 0))
		set_res(res, DKIM_PERMERROR, "i= not equal to d= under t=s");
	else
		return 0;
	return -1;
}

/* ---- the key cache ---- */

static uint64_t
text_hash(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
	return h;
}

struct dkim_keycache *
dkim_keycache_new(size_t max)
{
	struct dkim_keycache *c = xcalloc(1, sizeof(*c));

	c->max = max < 1 ? 1 : max > DKIM_KEYCACHE_MAX ? DKIM_KEYCACHE_MAX : max;
	c->slot = xcalloc(c->max, sizeof(*c->slot));
	c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	return c;
}

static void
keyslot_clear(struct keyslot *k)
{
	EVP_PKEY_CTX_free(k->ctx);
	EVP_PKEY_free(k->pk);
	free(k->txt);
	memset(k, 0, sizeof(*k));
}

void
dkim_keycache_free(struct dkim_keycache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->n; i++)
		keyslot_clear(&c->slot[i]);
	EVP_MD_free(c->sha256);
	free(c->slot);
	free(c);
}

void
dkim_verify_use_cache(struct dkim_verify *v, struct dkim_keycache *c)
{
	v->cache = c;
}

static struct keyslot *
cache_find(struct dkim_keycache *c, const char *txt, size_t len, uint64_t hash)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		struct keyslot *k = &c->slot[i];

		if (k->hash == hash && k->len == len && memcmp(k->txt, txt, len) == 0) {
			k->used = ++c->clock;
			return k;
		}
	}
	return NULL;
}

/* cache_put - move kr's own key into c (the least recently used entry
 * goes when c is full); kr then borrows it. */
static void
cache_put(struct dkim_keycache *c, const char *txt, size_t len, uint64_t hash, struct keyref *kr)
{
	struct keyslot *k = &c->slot[c->n];
	size_t i;

	if (c->n == c->max) {
		for (k = &c->slot[0], i = 1; i < c->n; i++)
			if (c->slot[i].used < k->used)
				k = &c->slot[i];
		keyslot_clear(k);
	} else
		c->n++;
	k->txt = xmalloc(len + 1);
	memcpy(k->txt, txt, len);
	k->txt[len] = '\0';
	k->len = len;
	k->hash = hash;
	k->used = ++c->clock;
	k->key = *kr->own;
	k->pk = kr->pk;
	k->ctx = kr->key->k == DKIM_KEY_RSA ? rsa_verify_ctx(kr->pk) : NULL;
	free(kr->own);
	*kr = (struct keyref){&k->key, k->pk, k->ctx, NULL};
}

/* key_load - parse the record and make its public key, into kr (owned). */
static int
key_load(const struct dkim_sig *sig, const struct dkim_keyans *ans, struct keyref *kr,
	 struct dkim_sigres *res)
{
	const char *why;

	kr->own = xmalloc(sizeof(*kr->own)); /* dkim_key_parse() clears it */
	kr->key = kr->own;
	if (dkim_key_parse(ans->txt, ans->len, kr->own, &why) != 0) {
		set_res(res, DKIM_PERMERROR, why);
		return -1;
	}
	if (check_key(sig, kr->key, res) != 0)
		return -1;
	if ((kr->pk = load_pubkey(kr->key)) == NULL)
		set_res(res, DKIM_PERMERROR, "unusable public key");
	else if (kr->key->k == DKIM_KEY_RSA && EVP_PKEY_get_bits(kr->pk) < DKIM_RSA_MIN_BITS)
		set_res(res, DKIM_PERMERROR, "RSA key shorter than 1024 bits (RFC 8301)");
	else
		return 0;
	return -1;
}

/* key_find - the usable key of answer ans for sig, from cache c when it
 * has it (c may be NULL); a key parsed here goes into c. */
static int
key_find(struct dkim_keycache *c, const struct dkim_sig *sig, const struct dkim_keyans *ans,
	 struct keyref *kr, struct dkim_sigres *res)
{
	uint64_t hash = 0;
	struct keyslot *k;

	if (check_answer(ans, res) != 0)
		return -1;
	if (c != NULL) {
		hash = text_hash(ans->txt, ans->len);
		if ((k = cache_find(c, ans->txt, ans->len, hash)) != NULL) {
			*kr = (struct keyref){&k->key, k->pk, k->ctx, NULL};
			return check_key(sig, kr->key, res);
		}
	}
	if (key_load(sig, ans, kr, res) != 0)
		return -1;
	if (c != NULL)
		cache_put(c, ans->txt, ans->len, hash, kr);
	return 0;
}

static void
key_release(struct keyref *kr)
{
	if (kr->own == NULL)
		return; /* borrowed from the cache */
	EVP_PKEY_free(kr->pk);
	free(kr->own);
}

/* judge_body - compare a computed body hash with bh= and check l=. */
static int
judge_body(const struct dkim_sig *sig, const unsigned char *bh, const struct dkim_body *b,
	   struct dkim_sigres *res)
{
	res->body_len = b->total;
	res->body_hashed = b->hashed;
	if (sig->has_l && sig->l > b->total)
		set_res(res, DKIM_FAIL, "l= is longer than the body");
	else if (memcmp(bh, sig->bh, SHA256_LEN) != 0)
		set_res(res, DKIM_FAIL, "body hash mismatch");
	else
		return 0;
	return -1;
}

/* check_body - the body hash and l=: computed now from the whole message,
 * or taken from the stream. */
static int
check_body(const struct dkim_verify *v, size_t slot, const struct dkim_sig *sig,
	   struct dkim_sigres *res)
{
	unsigned char bh[SHA256_LEN];
	struct dkim_body *b;
	int rc = -1;

	if (v->stream) {
		const struct bodyhash *h = &v->hash[v->slot_hash[slot]];

		if (!v->stream_done)
			abort(); /* the caller's bug: dkim_verify_body_end first */
		if (h->rc != 0) {
			set_res(res, DKIM_TEMPERROR, "hash failed");
			return -1;
		}
		return judge_body(sig, h->bh, &h->b, res);
	}
	b = xmalloc(sizeof(*b));
	if (body_hash(sha_of(v->cache != NULL ? v->cache->sha256 : NULL), v->msg + v->body_off,
		      v->len - v->body_off, sig->bcanon, sig->has_l, sig->l, bh, b) != 0)
		set_res(res, DKIM_TEMPERROR, "hash failed");
	else
		rc = judge_body(sig, bh, b, res);
	free(b);
	return rc;
}

/* check_headers - the signature over the header data. */
static int
check_headers(const struct dkim_verify *v, const struct sigslot *s, const struct keyref *kr,
	      struct dkim_sigres *res)
{
	const struct dkim_field *sf = &v->f[s->field];
	const char *field = v->msg + sf->off;
	struct buf sigf = BUF_INIT, data = BUF_INIT;
	unsigned char hash[SHA256_LEN];
	int rc = -1;

	buf_add(&sigf, field, s->value_off + s->sig.b_off);
	buf_add(&sigf, field + s->value_off + s->sig.b_end, sf->len - s->value_off - s->sig.b_end);
	header_data(v->msg, v->f, v->nf, s->field, (const char(*)[DKIM_HNAME_MAX + 1])s->sig.h,
		    s->sig.nh, s->sig.hcanon, sigf.data, sigf.len, &data);
	if (sha256(sha_of(v->cache != NULL ? v->cache->sha256 : NULL), data.data, data.len, hash) !=
	    0)
		set_res(res, DKIM_TEMPERROR, "hash failed");
	else if (check_sig(kr, s->sig.alg, hash, s->sig.b, s->sig.b_len) != 0)
		set_res(res, DKIM_FAIL, "signature did not verify");
	else
		rc = 0;
	buf_free(&sigf);
	buf_free(&data);
	return rc;
}

static void
copy_ids(const struct dkim_sig *sig, struct dkim_sigres *res)
{
	(void)str_copy(res->d, sig->d, sizeof(res->d));
	(void)str_copy(res->s, sig->s, sizeof(res->s));
	(void)str_copy(res->i, sig->i, sizeof(res->i));
	res->alg = sig->alg;
}

/* verify_slot - every check in order; the first that fails decides. */
static void
verify_slot(const struct dkim_verify *v, const struct sigslot *s,
	    const struct dkim_keyans *ans, time_t now, struct dkim_sigres *res)
{
	struct keyref kr = {NULL, NULL, NULL, NULL};

	if (check_time(&s->sig, now, res) == 0 && key_find(v->cache, &s->sig, ans, &kr, res) == 0 &&
	    check_body(v, (size_t)(s - v->slot), &s->sig, res) == 0 &&
	    check_headers(v, s, &kr, res) == 0) {
		if (res->body_hashed < res->body_len)
			set_res(res, DKIM_NEUTRAL, "body has unsigned content beyond l=");
		else
			set_res(res, DKIM_PASS, "ok");
	}
	if (res->testing && res->result == DKIM_FAIL)
		set_res(res, DKIM_NEUTRAL, "failed, but the key is in testing mode");
	key_release(&kr);
}

void
dkim_verify_sig(const struct dkim_verify *v, size_t i, const struct dkim_keyans *ans,
		time_t now, struct dkim_sigres *res)
{
	const struct sigslot *s;

	memset(res, 0, sizeof(*res));
	if (i >= v->nsig) {
		set_res(res, DKIM_PERMERROR, "no such signature");
		return;
	}
	s = &v->slot[i];
	if (s->rc != 0) {
		set_res(res, DKIM_PERMERROR, s->why);
		return;
	}
	copy_ids(&s->sig, res);
	if (s->sig.alg == DKIM_ALG_RSA_SHA1) {
		set_res(res, DKIM_PERMERROR, "rsa-sha1 is not accepted (RFC 8301)");
		return;
	}
	verify_slot(v, s, ans, now, res);
}

/* ---- signing ---- */

struct fold {
	struct buf *b;
	size_t col;
};

/* fold_put - append n bytes, after a space when sep, on a new line when
 * they would pass DKIM_FOLD_COLS. */
static void
fold_put(struct fold *f, const char *s, size_t n, bool sep)
{
	if (f->col > 1 && f->col + (sep ? 1 : 0) + n > DKIM_FOLD_COLS) {
		buf_adds(f->b, "\r\n\t");
		f->col = 1;
	} else if (sep) {
		buf_addc(f->b, ' ');
		f->col++;
	}
	buf_add(f->b, s, n);
	f->col += n;
}

static void
fold_tag(struct fold *f, const char *fmt, const char *a, const char *b)
{
	char tmp[DKIM_IDENTITY_MAX + 32];

	if (str_fmt(tmp, sizeof(tmp), fmt, a, b) != 0)
		abort(); /* callers pass bounded values */
	fold_put(f, tmp, strlen(tmp), true);
}

/* fold_b64 - a base64 value that may break anywhere. */
static void
fold_b64(struct fold *f, const char *s, size_t n)
{
	while (n > 0) {
		size_t room = f->col < DKIM_FOLD_COLS ? DKIM_FOLD_COLS - f->col : 0, k;

		if (room == 0) {
			buf_adds(f->b, "\r\n\t");
			f->col = 1;
			continue;
		}
		k = n < room ? n : room;
		buf_add(f->b, s, k);
		f->col += k;
		s += k;
		n -= k;
	}
}

/* sig_prefix - the field up to and including "b=". */
static void
sig_prefix(const struct dkim_signer *s, char (*h)[DKIM_HNAME_MAX + 1], size_t nh,
	   const char *bh64, struct buf *out)
{
	struct fold f = {out, 15};
	char num[32];
	size_t j;

	buf_adds(out, "DKIM-Signature:");
	fold_tag(&f, "v=1; a=%s;%s", dkim_alg_name(s->alg), "");
	fold_tag(&f, "c=%s/%s;", dkim_canon_name(s->hcanon), dkim_canon_name(s->bcanon));
	fold_tag(&f, "d=%s;%s", s->domain, "");
	fold_tag(&f, "s=%s;%s", s->selector, "");
	if (s->identity != NULL)
		fold_tag(&f, "i=%s;%s", s->identity, "");
	(void)str_fmt(num, sizeof(num), "%llu", (unsigned long long)s->t);
	fold_tag(&f, "t=%s;%s", num, "");
	if (s->expire > 0) {
		(void)str_fmt(num, sizeof(num), "%llu", (unsigned long long)s->t + s->expire);
		fold_tag(&f, "x=%s;%s", num, "");
	}
	for (j = 0; j < nh; j++) {
		char tmp[DKIM_HNAME_MAX + 8];

		(void)str_fmt(tmp, sizeof(tmp), "%s%s%s", j == 0 ? "h=" : "", h[j],
			      j + 1 < nh ? ":" : ";");
		fold_put(&f, tmp, strlen(tmp), j == 0);
	}
	fold_tag(&f, "bh=%s;%s", bh64, "");
	fold_put(&f, "b=", 2, true);
}

/* dkim_no_passphrase - the PEM password callback. OpenSSL's default one asks
 * on the terminal, which a daemon must never do: an encrypted key fails,
 * and says so. */
int
dkim_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	*(bool *)u = true;
	return -1;
}

/* load_privkey - the PEM key, checked against the algorithm. */
static EVP_PKEY *
load_privkey(const char *pem, enum dkim_alg alg, const char **why)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	bool asked = false;
	EVP_PKEY *pk = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, dkim_no_passphrase, &asked)
				   : NULL;
	int want = alg == DKIM_ALG_ED25519_SHA256 ? EVP_PKEY_ED25519 : EVP_PKEY_RSA;

	BIO_free(bio);
	ERR_clear_error();
	if (pk == NULL)
		*why = asked ? "the private key is encrypted" : "cannot read the private key";
	else if (alg == DKIM_ALG_RSA_SHA1)
		*why = "rsa-sha1 is not used for signing (RFC 8301)";
	else if (EVP_PKEY_get_base_id(pk) != want)
		*why = "private key type does not match the algorithm";
	else if (want == EVP_PKEY_RSA && EVP_PKEY_get_bits(pk) < DKIM_RSA_MIN_BITS)
		*why = "RSA key shorter than 1024 bits (RFC 8301)";
	else
		return pk;
	EVP_PKEY_free(pk);
	return NULL;
}

int
dkim_privkey_load(const char *pem, enum dkim_alg alg, struct dkim_privkey **out,
		  const char **why)
{
	EVP_PKEY *pk = load_privkey(pem, alg, why);

	if (pk == NULL)
		return -1;
	*out = xcalloc(1, sizeof(**out));
	(*out)->alg = alg;
	(*out)->pk = pk;
	(*out)->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	return 0;
}

void
dkim_privkey_free(struct dkim_privkey *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pk);
	EVP_MD_free(k->sha256);
	free(k);
}

/* signer_key - the key to sign with: the loaded one (a new reference),
 * or the PEM parsed now. */
static EVP_PKEY *
signer_key(const struct dkim_signer *s, const char **why)
{
	if (s->key == NULL)
		return load_privkey(s->key_pem, s->alg, why);
	if (s->key->alg != s->alg) {
		*why = "private key type does not match the algorithm";
		return NULL;
	}
	if (EVP_PKEY_up_ref(s->key->pk) != 1) {
		*why = "cannot use the private key";
		return NULL;
	}
	return s->key->pk;
}

/* signer_sha - SHA-256 as the loaded key fetched it, or EVP_sha256(). */
static const EVP_MD *
signer_sha(const struct dkim_signer *s)
{
	return sha_of(s->key != NULL ? s->key->sha256 : NULL);
}

/* make_sig - sign the 32-byte hash into sig (room for DKIM_B_MAX bytes). */
static int
make_sig(EVP_PKEY *pk, enum dkim_alg alg, const unsigned char *hash, unsigned char *sig,
	 size_t *siglen)
{
	int ok;

	*siglen = DKIM_B_MAX;
	if (alg == DKIM_ALG_ED25519_SHA256) {
		EVP_MD_CTX *md = EVP_MD_CTX_new();

		ok = md != NULL && EVP_DigestSignInit(md, NULL, NULL, NULL, pk) == 1 &&
		     EVP_DigestSign(md, sig, siglen, hash, SHA256_LEN) == 1;
		EVP_MD_CTX_free(md);
	} else {
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pk, NULL);

		ok = ctx != NULL && EVP_PKEY_sign_init(ctx) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
		     EVP_PKEY_sign(ctx, NULL, siglen, hash, SHA256_LEN) == 1 &&
		     *siglen <= DKIM_B_MAX &&
		     EVP_PKEY_sign(ctx, sig, siglen, hash, SHA256_LEN) == 1;
		EVP_PKEY_CTX_free(ctx);
	}
	return ok ? 0 : -1;
}

static void
b64(const unsigned char *p, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
}

/* sign_fields - hash the selected fields plus the prefix, sign, append. */
static int
sign_fields(const char *msg, const struct dkim_field *f, size_t nf,
	    char (*h)[DKIM_HNAME_MAX + 1], size_t nh, const struct dkim_signer *s,
	    EVP_PKEY *pk, struct buf *prefix, const char **why)
{
	struct buf data = BUF_INIT;
	unsigned char hash[SHA256_LEN], sig[DKIM_B_MAX];
	char sig64[DKIM_B_MAX * 4 / 3 + 4];
	size_t siglen;
	int rc = -1;

	header_data(msg, f, nf, DKIM_NO_FIELD, (const char(*)[DKIM_HNAME_MAX + 1])h, nh,
		    s->hcanon, prefix->data, prefix->len, &data);
	if (sha256(signer_sha(s), data.data, data.len, hash) != 0 ||
	    make_sig(pk, s->alg, hash, sig, &siglen) != 0) {
		*why = "signing failed";
		goto fail;
	}
	b64(sig, siglen, sig64);
	{
		const char *nl = strrchr(prefix->data, '\n');
		struct fold fo = {prefix, nl != NULL ? (size_t)(prefix->data + prefix->len - nl) :
						      prefix->len};

		fold_b64(&fo, sig64, strlen(sig64));
	}
	buf_adds(prefix, "\r\n");
	rc = 0;
fail:
	buf_free(&data);
	return rc;
}

static bool
valid_signer(const struct dkim_signer *s)
{
	return s->domain != NULL && s->selector != NULL && (s->key_pem != NULL || s->key != NULL) &&
	       strlen(s->domain) <= DKIM_DOMAIN_MAX && strlen(s->selector) <= DKIM_SELECTOR_MAX &&
	       (s->identity == NULL || strlen(s->identity) <= DKIM_IDENTITY_MAX);
}

struct dkim_signing {
	const char *hdr;
	struct dkim_field *f;
	size_t nf;
	char (*h)[DKIM_HNAME_MAX + 1]; /* the fields to sign, From oversigned */
	size_t nh;
	struct bodyhash body; /* c is the body canonicalization */
	bool body_done;
};

/* sign_begin - dkim_sign_begin() with the body hashed by sha. */
static int
sign_begin(const char *hdr, size_t len, enum dkim_canon bcanon, const EVP_MD *sha,
	   struct dkim_signing **out, const char **why)
{
	struct dkim_signing *g = xcalloc(1, sizeof(*g));
	size_t body_off;

	*out = NULL;
	g->hdr = hdr;
	/* not zeroed (30 KiB): filled as the fields are found */
	g->f = xreallocarray(NULL, DKIM_FIELDS_MAX, sizeof(*g->f));
	g->h = xreallocarray(NULL, DKIM_HNAMES_MAX, sizeof(*g->h));
	if (dkim_split_header(hdr, len, g->f, DKIM_FIELDS_MAX, &g->nf, &body_off, why) != 0 ||
	    dkim_select_sign(hdr, g->f, g->nf, g->h, &g->nh, why) != 0) {
		dkim_sign_free(g);
		return -1;
	}
	g->body.c = bcanon;
	g->body.rc = -1;
	g->body.md = EVP_MD_CTX_new();
	if (g->body.md == NULL || EVP_DigestInit_ex(g->body.md, sha, NULL) != 1)
		abort(); /* out of memory in OpenSSL */
	dkim_body_init(&g->body.b, bcanon, false, 0, sink_md, g->body.md);
	dkim_body_update(&g->body.b, hdr + body_off, len - body_off);
	*out = g;
	return 0;
}

int
dkim_sign_begin(const char *hdr, size_t len, enum dkim_canon bcanon, struct dkim_signing **out,
		const char **why)
{
	return sign_begin(hdr, len, bcanon, EVP_sha256(), out, why);
}

void
dkim_sign_body(struct dkim_signing *g, const void *p, size_t n)
{
	if (!g->body_done)
		dkim_body_update(&g->body.b, p, n);
}

int
dkim_sign_add(struct dkim_signing *g, const struct dkim_signer *s, struct buf *out,
	      const char **why)
{
	struct buf prefix = BUF_INIT;
	char bh64[64];
	EVP_PKEY *pk = NULL;
	int rc = -1;

	if (!g->body_done) {
		dkim_body_final(&g->body.b);
		g->body.rc = EVP_DigestFinal_ex(g->body.md, g->body.bh, NULL) == 1 ? 0 : -1;
		g->body_done = true;
	}
	if (!valid_signer(s) || s->bcanon != g->body.c) {
		*why = "incomplete signer";
		goto fail;
	}
	if (g->body.rc != 0) {
		*why = "hash failed";
		goto fail;
	}
	if ((pk = signer_key(s, why)) == NULL)
		goto fail;
	b64(g->body.bh, sizeof(g->body.bh), bh64);
	sig_prefix(s, g->h, g->nh, bh64, &prefix);
	if (sign_fields(g->hdr, g->f, g->nf, g->h, g->nh, s, pk, &prefix, why) != 0)
		goto fail;
	buf_add(out, prefix.data, prefix.len);
	rc = 0;
fail:
	EVP_PKEY_free(pk);
	buf_free(&prefix);
	return rc;
}

void
dkim_sign_free(struct dkim_signing *g)
{
	if (g == NULL)
		return;
	EVP_MD_CTX_free(g->body.md);
	free(g->h);
	free(g->f);
	free(g);
}

int
dkim_sign(const char *msg, size_t len, const struct dkim_signer *s, struct buf *out,
	  const char **why)
{
	struct dkim_signing *g;
	int rc;

	if (!valid_signer(s)) {
		*why = "incomplete signer";
		return -1;
	}
	if (sign_begin(msg, len, s->bcanon, signer_sha(s), &g, why) != 0)
		return -1;
	rc = dkim_sign_add(g, s, out, why);
	dkim_sign_free(g);
	return rc;
}
