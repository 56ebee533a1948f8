/* SPDX-License-Identifier: ISC */
/*
 * dkimkey - the DKIM signing key store: one private key per (domain,
 * selector) at STATE_DIR/dkim/DOMAIN/SELECTOR.key (PEM, mode 0600, the
 * directories 0700), the algorithm read from the key itself; key
 * generation; the DNS TXT record that publishes the public half, as text
 * and as a zone-file line.
 *
 * Pure: the name checks, dkimkey_path(), dkimkey_parse(), dkimkey_txt()
 * and dkimkey_zone_line(). dkimkey_generate() uses only the CSPRNG;
 * dkimkey_save(), dkimkey_load() and dkimkey_check_conf() do the file I/O.
 *
 * SECURITY: private keys are held only by the queue process (which signs)
 * and by the `postern dkim` commands; the smtp process never sees them. A
 * key is written durably and never replaced by accident: temp file (O_EXCL,
 * 0600) -> fsync -> link (or rename with force) -> fsync of the directory,
 * so a selector that is published keeps its key unless the operator says
 * --force. A key file that group or others may read, a symlink, an
 * encrypted key (we would need a passphrase prompt in a daemon), a key that
 * is not RSA or Ed25519, and RSA shorter than DKIM_RSA_MIN_BITS are refused
 * with a reason. Every buffer that held private key bytes is wiped.
 * Domain and selector names become path components, so only DNS labels of
 * letters, digits and inner hyphens are accepted (no '/', no leading '.').
 * STANDARDS: RFC 6376 3.1 (selectors), 3.6.1 (key record: v, k, p),
 * 3.6.2.1 (the _domainkey name); RFC 8301 (RSA at least 1024 bits, 2048
 * generated); RFC 8463 3 (Ed25519 p= is the raw 32-byte public key);
 * RFC 1035 3.3.14 and 5.1 (TXT character-strings of at most 255 bytes,
 * master-file syntax).
 */
#ifndef POSTERN_DKIMKEY_H
#define POSTERN_DKIMKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/buf.h"
#include "mailauth/dkim_tags.h"

/* The directory under state_dir that holds the keys. */
#define DKIMKEY_SUBDIR "dkim"
/* The file name suffix of a key: SELECTOR.key. */
#define DKIMKEY_SUFFIX ".key"
/* A key file larger than this is not a DKIM key (RSA-8192 PEM is ~6.4k). */
#define DKIMKEY_FILE_MAX (16 * 1024)
/* RSA keys we make (RFC 8301 3.2: signers SHOULD use at least 2048). */
#define DKIMKEY_RSA_BITS 2048
/* RSA keys we accept: the p= of a longer one does not fit DKIM_P_MAX. */
#define DKIMKEY_RSA_MAX_BITS 8192
/* One character-string of a TXT record (RFC 1035 3.3). */
#define DKIMKEY_TXT_CHUNK 255
/* One label of a domain or selector (RFC 1035 2.3.4). */
#define DKIMKEY_LABEL_MAX 63

enum dkimkey_algo {
	DKIMKEY_RSA2048,
	DKIMKEY_ED25519,
};

struct dkimkey {
	enum dkim_alg alg; /* DKIM_ALG_RSA_SHA256 or DKIM_ALG_ED25519_SHA256 */
	unsigned bits;	   /* RSA modulus bits; 256 for Ed25519 */
	char *pem;	   /* the private key, NUL-terminated; wiped by dkimkey_clear */
	size_t pem_len;
	unsigned char pub[DKIM_P_MAX]; /* p=: DER SubjectPublicKeyInfo, or raw Ed25519 */
	size_t pub_len;
};

/* valid_dkim_name - a domain or selector as we store and sign it: dot-
 * separated labels of ASCII letters, digits and inner hyphens, each 1 to
 * DKIMKEY_LABEL_MAX bytes, at most max bytes in all. */
bool valid_dkim_name(const char *s, size_t max);

/* dkimkey_algo_parse - "rsa2048" or "ed25519"; 0 or -1. */
int dkimkey_algo_parse(const char *s, enum dkimkey_algo *out);
/* dkimkey_alg_label - "rsa2048", "rsa4096", "ed25519": what `dkim list`
 * shows for a loaded key (RSA with its size). Returns out. */
const char *dkimkey_alg_label(const struct dkimkey *k, char *out, size_t outsz);

/* dkimkey_path - STATE_DIR/dkim/DOMAIN/SELECTOR.key into out, domain and
 * selector lower-cased (DNS names are case-insensitive, file names are
 * not). -1 when a name is not valid_dkim_name() or out is too small. */
int dkimkey_path(const char *state_dir, const char *domain, const char *selector, char *out,
		 size_t outsz);

/* dkimkey_parse - read the private key in pem[0..len) (PKCS#8 or PKCS#1,
 * unencrypted), detect its algorithm and take its public half. out gets a
 * copy of the PEM (free with dkimkey_clear). Returns 0, or -1 with *why
 * (static text). */
int dkimkey_parse(const char *pem, size_t len, struct dkimkey *out, const char **why);

/* dkimkey_generate - a new key (RSA-2048 or Ed25519) from the system's
 * CSPRNG, as PKCS#8 PEM in out. Returns 0, or -1 with *why. */
int dkimkey_generate(enum dkimkey_algo algo, struct dkimkey *out, const char **why);

/* dkimkey_save - write k's private key durably to its path under
 * state_dir, making STATE_DIR/dkim and STATE_DIR/dkim/DOMAIN (0700) when
 * missing. An existing key file is kept, and -1 returned with errno
 * EEXIST, unless force. On -1, err says what failed (file named) and errno
 * is kept; no temp file is left behind. */
int dkimkey_save(const char *state_dir, const char *domain, const char *selector,
		 const struct dkimkey *k, bool force, char *err, size_t errsz);

/* dkimkey_load - read and check the key of (domain, selector) under
 * state_dir into out (dkimkey_clear it). Returns 0, or -1 with err naming
 * the file and the reason (errno ENOENT when there is no key file). */
int dkimkey_load(const char *state_dir, const char *domain, const char *selector,
		 struct dkimkey *out, char *err, size_t errsz);

struct conf;

/* dkimkey_check_conf - every `dkim selector` of every domain in cf has a
 * key under cf->state_dir that loads, owned by owner (the user the queue
 * process signs as) unless owner is (uid_t)-1. The daemon calls it at
 * start and on reload, `config check` too. Returns 0, or -1 with err as
 * "FILE:LINE: domain D: dkim selector S: FILE: reason". */
int dkimkey_check_conf(const struct conf *cf, uid_t owner, char *err, size_t errsz);

/* dkimkey_lower_name - s lower-cased into out, if it is a valid name
 * (valid_dkim_name) of at most max bytes; 0 or -1. */
int dkimkey_lower_name(const char *s, size_t max, char *out, size_t outsz);

/* dkimkey_txt - append the key record to publish, "v=DKIM1; k=rsa;
 * p=BASE64" (or k=ed25519), one line without a newline. */
void dkimkey_txt(const struct dkimkey *k, struct buf *out);

/* dkimkey_zone_line - append `SELECTOR._domainkey.DOMAIN. IN TXT ( "..."
 * "..." )`: the record of dkimkey_txt() cut into character-strings of at
 * most DKIMKEY_TXT_CHUNK bytes, without a newline. -1 on invalid names. */
int dkimkey_zone_line(const char *domain, const char *selector, const struct dkimkey *k,
		      struct buf *out);

/* dkimkey_clear - wipe and free the private key; k is zeroed. NULL is
 * fine. */
void dkimkey_clear(struct dkimkey *k);

#endif
