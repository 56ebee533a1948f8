/* SPDX-License-Identifier: ISC */
/*
 * dkim - sign and verify whole messages (DKIM, RFC 6376) with RSA-SHA256
 * and Ed25519-SHA256 on OpenSSL EVP.
 *
 * No I/O: the caller hands in the message in wire form (CRLF, dot-stuffing
 * removed), asks dkim_verify_qname() which key records to look up, does
 * the DNS itself (asynchronously, as it likes) and hands each answer to
 * dkim_verify_sig() together with the clock. Signing takes the private key
 * as PEM text or loaded once (dkim_privkey_load) and returns the
 * DKIM-Signature field to prepend; like verification it can take the
 * header section first and stream the body, hashing it once for several
 * keys (dkim_sign_begin).
 *
 * SECURITY: verification handles hostile messages and hostile DNS answers:
 * at most DKIM_SIGS_MAX signatures are examined per message, header fields
 * are capped at DKIM_FIELDS_MAX, and every parser is bounded. rsa-sha1 and
 * RSA keys below DKIM_RSA_MIN_BITS never pass (RFC 8301). A signature whose
 * l= leaves part of the body unsigned never passes either: it is "neutral",
 * because anything could have been appended. A key in testing mode (t=y)
 * turns a failure into "neutral" (RFC 6376 3.6.1). Signing runs in the
 * queue process, the only one that holds the private keys; a key given as
 * PEM is not kept after dkim_sign() or dkim_sign_add() returns, a loaded
 * one until dkim_privkey_free().
 * STANDARDS: RFC 6376 (3.5 tags, 3.7 hashes, 5 signing, 6 verifying);
 * RFC 8301 (sha1 and short keys); RFC 8463 (ed25519-sha256: Ed25519 over
 * the SHA-256 hash of the header data); RFC 8601 2.7.1 (result names).
 *
 * Cost: a verifier can keep parsed keys in a dkim_keycache (keyed by the
 * exact record text), so that a sender's key is decoded and set up once,
 * not for every message; a signer loads its private key once with
 * dkim_privkey_load(). Both save more than the public-key operation itself
 * costs (bench/dkim-bench.c measures it).
 */
#ifndef POSTERN_DKIM_H
#define POSTERN_DKIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/buf.h"
#include "mailauth/dkim_tags.h"

/* Signatures examined per message; further ones are ignored. */
#define DKIM_SIGS_MAX 8
/* RFC 8301 3.2: verifiers MUST NOT accept shorter RSA keys. */
#define DKIM_RSA_MIN_BITS 1024
/* How far t= may lie in the future before we refuse it (seconds). */
#define DKIM_CLOCK_SKEW 300
/* Column at which the DKIM-Signature we write is folded. */
#define DKIM_FOLD_COLS 78
/* A key-record query name: selector, "._domainkey.", domain. */
#define DKIM_QNAME_MAX (DKIM_SELECTOR_MAX + 12 + DKIM_DOMAIN_MAX)
/* Entries a key cache may hold (each about 1.5 KiB plus its record, at most 4 KiB). */
#define DKIM_KEYCACHE_MAX 4096

enum dkim_result {
	DKIM_PASS,
	DKIM_FAIL,
	DKIM_NEUTRAL,
	DKIM_TEMPERROR,
	DKIM_PERMERROR,
};

enum dkim_dns {
	DKIM_DNS_FOUND,	   /* txt holds the key record (TXT strings joined) */
	DKIM_DNS_NOTFOUND, /* NXDOMAIN or no TXT record */
	DKIM_DNS_TEMPFAIL, /* timeout, SERVFAIL */
};

struct dkim_keyans {
	enum dkim_dns status;
	const char *txt;
	size_t len;
};

struct dkim_sigres {
	enum dkim_result result;
	const char *reason; /* static text, "ok" on pass */
	enum dkim_alg alg;
	char d[DKIM_DOMAIN_MAX + 1];
	char s[DKIM_SELECTOR_MAX + 1];
	char i[DKIM_IDENTITY_MAX + 1];
	bool testing;	    /* key record had t=y */
	uint64_t body_len;  /* canonical body length */
	uint64_t body_hashed; /* of which covered by the signature */
};

struct dkim_verify;

/* dkim_verify_begin - split msg[0..len) and parse its DKIM-Signature
 * fields (the first DKIM_SIGS_MAX). msg must outlive the returned object.
 * Returns 0 and *out (free with dkim_verify_free), or -1 with *why when
 * the header section is malformed. */
int dkim_verify_begin(const char *msg, size_t len, struct dkim_verify **out, const char **why);
/* dkim_verify_begin_stream - the same for a header section alone (hdr,
 * ending with the empty line, must outlive the object); the body is then
 * fed with dkim_verify_body() and ended with dkim_verify_body_end()
 * before any dkim_verify_sig(). Signatures that hash the body the same
 * way share one hash. */
int dkim_verify_begin_stream(const char *hdr, size_t len, struct dkim_verify **out,
			     const char **why);
/* dkim_verify_body - n more bytes of the body (CRLF lines, not
 * dot-stuffed); chunks may split anywhere. */
void dkim_verify_body(struct dkim_verify *v, const void *p, size_t n);
/* dkim_verify_body_end - the body is complete. */
void dkim_verify_body_end(struct dkim_verify *v);
/* dkim_verify_count - the number of signatures to report on. */
size_t dkim_verify_count(const struct dkim_verify *v);
/* dkim_verify_qname - the TXT name to look up for signature i
 * ("s._domainkey.d"). Returns -1 when the signature did not parse: then
 * no lookup is needed and dkim_verify_sig() (ans may be NULL) says why. */
int dkim_verify_qname(const struct dkim_verify *v, size_t i, char *out, size_t outsz);
/* dkim_verify_sig - verify signature i with the key answer ans at time
 * now (seconds since the epoch) and fill *res. */
void dkim_verify_sig(const struct dkim_verify *v, size_t i, const struct dkim_keyans *ans,
		     time_t now, struct dkim_sigres *res);
/* dkim_verify_free - release v; NULL is fine. */
void dkim_verify_free(struct dkim_verify *v);

struct dkim_keycache;

/* dkim_keycache_new - a cache of at most max (1 to DKIM_KEYCACHE_MAX)
 * usable public keys, keyed by the exact key-record text: a changed record
 * is another entry, so whoever does the DNS decides how long a record
 * holds. The least recently used entry goes when it is full; hostile
 * records can only push others out. Not thread-safe: one per thread. */
struct dkim_keycache *dkim_keycache_new(size_t max);
/* dkim_keycache_free - release c and its keys; NULL is fine. */
void dkim_keycache_free(struct dkim_keycache *c);
/* dkim_verify_use_cache - let dkim_verify_sig() take keys from c and put
 * the keys it parses into c; call it before the first dkim_verify_sig(),
 * whole or streamed. c must outlive v and belong to the calling thread.
 * Results are the same with or without a cache. */
void dkim_verify_use_cache(struct dkim_verify *v, struct dkim_keycache *c);

/* dkim_no_passphrase - a PEM password callback (u: a bool set when a
 * passphrase was asked for) that never asks: an encrypted key fails, and
 * the caller can say why. A daemon must never prompt on a terminal. */
int dkim_no_passphrase(char *buf, int size, int rwflag, void *u);

/* dkim_result_name - "pass", "fail", ... as in Authentication-Results. */
const char *dkim_result_name(enum dkim_result r);

struct dkim_privkey;

/* dkim_privkey_load - parse a private key (PKCS#8 or PKCS#1 PEM,
 * NUL-terminated) for signing with alg, once: OpenSSL 3.0 takes longer to
 * decode a PEM key than to sign with it. The same checks as dkim_sign()
 * with key_pem. Returns 0 and *out (free with dkim_privkey_free), or -1
 * with *why. A loaded key may sign in several threads at once. */
int dkim_privkey_load(const char *pem, enum dkim_alg alg, struct dkim_privkey **out,
		      const char **why);
/* dkim_privkey_free - release k (OpenSSL wipes the key); NULL is fine. */
void dkim_privkey_free(struct dkim_privkey *k);

struct dkim_signer {
	const char *domain;
	const char *selector;
	const char *identity; /* i=, or NULL */
	enum dkim_alg alg;    /* DKIM_ALG_RSA_SHA256 or DKIM_ALG_ED25519_SHA256 */
	enum dkim_canon hcanon, bcanon;
	const char *key_pem; /* PKCS#8 or PKCS#1 PEM, NUL-terminated; or NULL with key */
	time_t t;	     /* signing time, written as t= */
	uint64_t expire;     /* seconds after t for x=, 0 for no x= */
	const struct dkim_privkey *key; /* loaded for alg; when set, key_pem is not read */
};

/* dkim_sign - sign msg[0..len) (wire form) and append the folded
 * "DKIM-Signature: ...\r\n" field to out; the caller prepends it to the
 * message. For dual signing call it once per key on the same message.
 * Returns 0, or -1 with *why (bad key, wrong key type, no From, ...). */
int dkim_sign(const char *msg, size_t len, const struct dkim_signer *s, struct buf *out,
	      const char **why);

struct dkim_signing;

/* dkim_sign_begin - signing that streams the body, for messages that are
 * not held in memory: hdr[0..len) is the header section up to and
 * including the empty line (bytes after it count as body); it must outlive
 * the object. The body is hashed once, canonicalized with bcanon, for
 * every signature. Returns 0 and *out (free with dkim_sign_free), or -1
 * with *why when the header section is malformed or has no From. */
int dkim_sign_begin(const char *hdr, size_t len, enum dkim_canon bcanon,
		    struct dkim_signing **out, const char **why);
/* dkim_sign_body - n more body bytes (CRLF lines, not dot-stuffed);
 * chunks may split anywhere. */
void dkim_sign_body(struct dkim_signing *g, const void *p, size_t n);
/* dkim_sign_add - after the whole body: append the signature of s (its
 * bcanon must be the one given to dkim_sign_begin; its key loaded or as
 * PEM) to out, as dkim_sign() does. Call it once per key; the same signer
 * gives the same field as dkim_sign() on the whole message. Returns 0, or
 * -1 with *why. */
int dkim_sign_add(struct dkim_signing *g, const struct dkim_signer *s, struct buf *out,
		  const char **why);
/* dkim_sign_free - release g; NULL is fine. */
void dkim_sign_free(struct dkim_signing *g);

#endif
