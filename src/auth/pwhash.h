/* SPDX-License-Identifier: ISC */
/*
 * pwhash - password hashes: new ones are Argon2id, stored ones may be in
 * any of the Dovecot schemes an installation is likely to import, and a
 * successful login says when the stored hash should be replaced.
 *
 * A stored hash is "{SCHEME}data" as Dovecot writes it (the scheme name in
 * any case) or a bare crypt(3)/PHC string ("$argon2id$...", "$6$...",
 * "$2y$..."). Supported: ARGON2ID, ARGON2I, BLF-CRYPT, SHA512-CRYPT,
 * SHA256-CRYPT, MD5-CRYPT, DES-CRYPT, CRYPT (any of the crypt forms before),
 * SSHA512 and PBKDF2. New hashes are always
 * "{ARGON2ID}$argon2id$v=19$m=<KiB>,t=<passes>,p=1$<salt>$<hash>".
 *
 * SECURITY: auth process, on the hash pool's threads (every function is
 * thread-safe). The password comes from the network (SASL) and is only
 * hashed, never parsed. The stored string comes from the account store,
 * which may hold imported data: it is parsed strictly (canonical encodings
 * only, one form per scheme) and bounded in length and in work factor, so
 * no stored string makes one verification cost more than about a second or
 * PWHASH_MEMLIMIT_MAX of memory. Digests are compared in constant time and
 * base64/hex digits of stored digests are decoded without data-dependent
 * branches; intermediate copies of passwords and digests are wiped.
 * Verification takes the same time for a wrong password, an overlong one
 * and a malformed stored hash, and pwhash_dummy() takes it for an unknown
 * account, so the timing does not say whether an account exists (except
 * that a legacy scheme is faster than Argon2id until it is rehashed).
 * STANDARDS: RFC 9106 (Argon2) in the PHC string format as libsodium and
 * Dovecot write it; RFC 8018 section 5.2 (PBKDF2); RFC 4648 section 4
 * (base64); crypt(5) of libxcrypt for sha512crypt, sha256crypt, bcrypt
 * ($2a$, $2b$, $2y$), md5crypt and traditional DES; Dovecot 2.3 password
 * schemes ("doveadm pw").
 */
#ifndef POSTERN_PWHASH_H
#define POSTERN_PWHASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PWHASH_PW_MAX 256      /* bytes of password; longer ones never match */
#define PWHASH_STORED_MAX 256  /* characters of a stored hash, prefix included */
#define PWHASH_STR_MAX 160     /* buffer for any string pwhash_create writes */
#define PWHASH_SCHEME_MAX 16   /* buffer for any scheme name pwhash_scheme writes */

#define PWHASH_MEMLIMIT_DEFAULT (64ULL << 20) /* bytes: m=65536 */
#define PWHASH_OPSLIMIT_DEFAULT 3	       /* passes: t=3 */
#define PWHASH_MEMLIMIT_MIN (8ULL << 20)       /* what pwhash_create accepts */
#define PWHASH_OPSLIMIT_MIN 1
#define PWHASH_MEMLIMIT_MAX (1ULL << 30) /* also the cap on a stored Argon2 m= */
#define PWHASH_OPSLIMIT_MAX 16		 /* also the cap on a stored Argon2 t= */
/* Argon2 work, m= (KiB) times t=, of new and stored hashes: 1 GiB once,
 * 256 MiB 4 times (libsodium's MODERATE is 3) or 64 MiB 16 times, on the
 * order of a second. What `doveadm pw -s ARGON2ID -r 4` or more writes
 * (1 GiB, t >= 4; libsodium's SENSITIVE) costs many and is refused. */
#define PWHASH_ARGON2_WORK_MAX (1ULL << 20)
#define PWHASH_BCRYPT_COST_MAX 14	 /* stored $2y$NN$: 2^14 rounds, ~1 s */
#define PWHASH_SHACRYPT_ROUNDS_MAX 1000000 /* stored rounds=N of $5$ and $6$ */
#define PWHASH_PBKDF2_ROUNDS_MAX 1000000   /* stored PBKDF2 iterations */

/* Argon2id cost of new hashes and of pwhash_dummy(). */
struct pwhash_params {
	uint64_t memlimit; /* bytes (a multiple of 1024; libsodium rounds down) */
	uint64_t opslimit; /* passes over the memory */
};

enum pwhash_result {
	PWHASH_MATCH,
	PWHASH_MISMATCH,   /* wrong password (or one over PWHASH_PW_MAX or with a NUL) */
	PWHASH_BAD_FORMAT, /* stored is not a hash pwhash_scheme() accepts */
	PWHASH_ERROR,	   /* no memory for the hash: a temporary failure, not a wrong password */
};

/* pwhash_params_default - 64 MiB, 3 passes: the cost Dovecot's ARGON2ID
 * scheme uses, so imported Dovecot hashes need no rehash. */
void pwhash_params_default(struct pwhash_params *p);

/* valid_pwhash_params - within [PWHASH_*_MIN, PWHASH_*_MAX], and the work
 * memlimit / 1024 * opslimit at most PWHASH_ARGON2_WORK_MAX, so that
 * pwhash_verify() accepts every hash pwhash_create() writes. */
bool valid_pwhash_params(const struct pwhash_params *p);

/* pwhash_create - hash pw (pwlen bytes, no NUL, at most PWHASH_PW_MAX) with
 * Argon2id at cost p (NULL: the defaults) and a random salt into out (outsz
 * >= PWHASH_STR_MAX is always enough) as a NUL-terminated
 * "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$..." string. 0, or -1 on bad
 * arguments, a short buffer or no memory (out is then ""). */
int pwhash_create(const char *pw, size_t pwlen, const struct pwhash_params *p, char *out,
		  size_t outsz);

/* pwhash_verify - check pw (pwlen bytes) against the stored hash in any
 * supported scheme. On PWHASH_MATCH, *rehash (may be NULL) says that the
 * caller should store pwhash_create(pw) instead: the scheme is not Argon2id,
 * or its m= or t= is below p (NULL: the defaults); otherwise *rehash is
 * false. pw NULL never matches. A malformed stored hash or a password over
 * PWHASH_PW_MAX still costs about one verification (with p for the
 * former). */
enum pwhash_result pwhash_verify(const char *stored, const char *pw, size_t pwlen,
				 const struct pwhash_params *p, bool *rehash);

/* pwhash_scheme - copy the canonical (upper-case Dovecot) scheme name of
 * stored into scheme (schemesz >= PWHASH_SCHEME_MAX is always enough): the
 * name in its {PREFIX}, or the one a bare string implies ("$6$..." gives
 * SHA512-CRYPT). 0, or -1 when stored is malformed, unsupported, over
 * PWHASH_STORED_MAX or beyond a work-factor cap, or scheme is too small.
 * Pure and cheap: syntax only, nothing is hashed. pwhash_verify() answers
 * PWHASH_BAD_FORMAT exactly when this returns -1 (for a big enough buffer). */
int pwhash_scheme(const char *stored, char *scheme, size_t schemesz);

/* pwhash_dummy - spend the time of one Argon2id verification at cost p
 * (NULL: the defaults; clamped to the valid range, by cutting passes when
 * only the work is over), for accounts that do not exist, so that their
 * failures look like wrong passwords. */
void pwhash_dummy(const struct pwhash_params *p);

#endif
