/* SPDX-License-Identifier: ISC */
/*
 * scram - the server side of SCRAM-SHA-256 and SCRAM-SHA-256-PLUS for SMTP
 * AUTH: the stored credentials (derivation, their text form, which is also
 * the form Dovecot and GNU SASL write, and a PLAIN-style password check
 * against them) and the exchange as pure functions over a struct
 * scram_server: no I/O, no globals, no allocation except the caller's
 * output buffer (bounded by SCRAM_SERVER_FIRST_MAX / SCRAM_SERVER_FINAL_MAX).
 *
 * The exchange, on decoded (not base64) SASL messages:
 *
 *   scram_server_init(&st, plus, plus_advertised);
 *   scram_server_parse_first(&st, client_first, len)      -> username
 *   look the user up, then either
 *     scram_server_first(&st, &keys, snonce, &out)          -> 334 base64(out)
 *   or, for an unknown user or one without SCRAM keys,
 *     scram_server_first_unknown(&st, secret, iter, snonce, &out)
 *   scram_server_final(&st, client_final, len, cb, cblen, &out)
 *                                                          -> 0: 334 base64(out)
 *                                                             (v=...), then 235
 *                                                          -> -1: 535
 *   scram_server_clear(&st);
 *
 * Any -1 puts the state in SCRAM_S_FAILED for good, wipes the keys, and
 * records why (scram_server_error) for the log or an "e=" server-final.
 *
 * SECURITY: auth process only (unprivileged, no network). Untrusted: both
 * client messages (from the SMTP client before authentication) and the
 * stored string given to scram_keys_parse (the account store may hold
 * imported data). Messages are bounded by SASL_MAX, every field by a named
 * limit below, and checked for NUL, UTF-8 and the RFC 5802 grammar before
 * use. The stored string is parsed strictly (canonical base64, decimal
 * iteration count without leading zeros, bounded salt and iteration count,
 * exactly four fields), so no stored string makes a password check cost
 * more than SCRAM_ITER_MAX PBKDF2 rounds. The server side of an exchange
 * does no PBKDF2 at all (the client does), so an exchange costs a few
 * HMACs whatever the input. The proof check (SHA256(ClientKey) against
 * StoredKey) and the channel binding comparison are constant time.
 * Unknown users get a salt derived from their name under a secret the
 * caller keeps, so repeated probes see a stable salt as for a real user,
 * and the proof check runs and then fails; the timing is the same as for a
 * real user. Keys, ClientKey, signatures and salted passwords are wiped
 * after use; scram_server_clear() wipes the state. No globals: every
 * function is thread-safe on its own struct scram_server.
 * Passwords are taken as their UTF-8 bytes without SASLprep (as Dovecot
 * does); ASCII passwords are unaffected, a client that applies SASLprep to
 * a non-ASCII password that SASLprep changes will fail. The username is
 * returned as sent (after =2C/=3D decoding), also without SASLprep.
 *
 * Channel binding (-PLUS) uses tls-exporter only: the caller supplies the
 * 32 bytes of
 *   SSL_export_keying_material(ssl, cb, 32, "EXPORTER-Channel-Binding", 24,
 *                              NULL, 0, 0)
 * and should advertise -PLUS only on TLS 1.3 (or TLS 1.2 with the extended
 * master secret, RFC 9266 section 3; there "no context" and "empty context"
 * differ, and GnuTLS-based clients such as gsasl use no context).
 *
 * STANDARDS: RFC 5802 (SCRAM; sections 3 and 5.1 attributes, 6 channel
 * binding and the "y" downgrade rule, 7 ABNF, 5.1 "e=" values), RFC 7677
 * (SCRAM-SHA-256, section 3 test vector), RFC 9266 (tls-exporter), RFC 8018
 * section 5.2 (PBKDF2), RFC 2104 (HMAC), RFC 4648 section 4 (base64),
 * RFC 4954 (SMTP AUTH); Dovecot 2.3 "{SCRAM-SHA-256}" password scheme.
 */
#ifndef POSTERN_SCRAM_H
#define POSTERN_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/sasl.h"
#include "lib/buf.h"

#define SCRAM_HASH_LEN 32	  /* SHA-256 output: StoredKey, ServerKey, proof */
#define SCRAM_SALT_LEN 16	  /* salt of new keys (Dovecot's size) */
#define SCRAM_SALT_MIN 8	  /* stored salts accepted: gsasl writes 12, Dovecot 16 */
#define SCRAM_SALT_MAX 64
#define SCRAM_ITER_MIN 4096	  /* RFC 7677 section 4 minimum; Dovecot's too */
#define SCRAM_ITER_MAX 1000000	  /* bounds the cost of scram_keys_check_password */
#define SCRAM_ITER_DEFAULT 10000  /* new keys: a client does this many rounds per login */
#define SCRAM_PW_MAX 256	  /* bytes of password accepted by derive and check */
#define SCRAM_STORED_MAX 256	  /* characters of a stored string, prefix included */
#define SCRAM_PREFIX "{SCRAM-SHA-256}"
#define SCRAM_NAME_MAX 255	  /* bytes of decoded username or authzid */
#define SCRAM_CNONCE_MAX 256	  /* characters of client nonce */
#define SCRAM_SNONCE_MAX 64	  /* characters of server nonce */
#define SCRAM_SNONCE_LEN 24	  /* characters scram_nonce_new writes (18 random bytes) */
#define SCRAM_CB_LEN 32		  /* tls-exporter channel binding data (RFC 9266) */
#define SCRAM_DUMMY_SECRET_LEN 32 /* the caller's secret for unknown users' salts */
#define SCRAM_SERVER_FIRST_MAX 512
#define SCRAM_SERVER_FINAL_MAX 64 /* "v=" + 44 base64, or "e=" + the longest error */

/* Stored credentials of one account (RFC 5802 section 3). */
struct scram_keys {
	uint32_t iter;
	size_t saltlen;
	uint8_t salt[SCRAM_SALT_MAX];
	uint8_t stored_key[SCRAM_HASH_LEN]; /* SHA256(HMAC(SaltedPassword, "Client Key")) */
	uint8_t server_key[SCRAM_HASH_LEN]; /* HMAC(SaltedPassword, "Server Key") */
};

/* scram_keys_derive - new keys for pw (pwlen bytes, 1..SCRAM_PW_MAX) with
 * iter PBKDF2 rounds (SCRAM_ITER_MIN..SCRAM_ITER_MAX; SCRAM_ITER_DEFAULT is
 * the recommended value) and a random SCRAM_SALT_LEN-byte salt (libsodium's
 * randombytes_buf). 0, or -1 (out wiped) on bad arguments or a PBKDF2
 * failure. */
int scram_keys_derive(const char *pw, size_t pwlen, uint32_t iter, struct scram_keys *out);
/* scram_keys_derive_salt - the same with the given salt (SCRAM_SALT_MIN..
 * SCRAM_SALT_MAX bytes): for tests and for re-deriving imported keys. */
int scram_keys_derive_salt(const char *pw, size_t pwlen, uint32_t iter, const uint8_t *salt,
			   size_t saltlen, struct scram_keys *out);
/* scram_keys_check_password - 0 if pw derives k's StoredKey (compared in
 * constant time), -1 if not or if pwlen is 0 or over SCRAM_PW_MAX. Costs
 * k->iter PBKDF2 rounds: for PLAIN/LOGIN against SCRAM-only accounts; k
 * must come from scram_keys_parse or scram_keys_derive. */
int scram_keys_check_password(const struct scram_keys *k, const char *pw, size_t pwlen);
/* scram_keys_format - write "{SCRAM-SHA-256}ITER,SALT,STOREDKEY,SERVERKEY"
 * (decimal, then three padded base64 fields; what `doveadm pw -s
 * SCRAM-SHA-256` and `gsasl --mkpasswd -m SCRAM-SHA-256` print) into out,
 * NUL-terminated. outsz >= SCRAM_STORED_MAX is always enough. 0, or -1 (out
 * is "" when outsz > 0) when k is out of range or out is too small. */
int scram_keys_format(const struct scram_keys *k, char *out, size_t outsz);
/* scram_keys_parse - pure; the reverse of scram_keys_format, also for
 * hashes imported from Dovecot or gsasl. The prefix in any case; then
 * exactly ITER,SALT,STOREDKEY,SERVERKEY: ITER decimal without sign or
 * leading zero in SCRAM_ITER_MIN..SCRAM_ITER_MAX, SALT canonical base64 of
 * SCRAM_SALT_MIN..SCRAM_SALT_MAX bytes, the keys canonical base64 of 32
 * bytes each. A fifth field (gsasl --verbose appends the salted password,
 * which must not be stored) is refused. At most SCRAM_STORED_MAX characters.
 * 0, or -1 with out wiped. */
int scram_keys_parse(const char *s, struct scram_keys *out);
/* scram_keys_dummy - pure; deterministic stand-in keys for an unknown
 * user: the salt is the first SCRAM_SALT_LEN bytes of HMAC-SHA256(secret,
 * "postern scram salt" NUL username); ClientKey is HMAC-SHA256(secret,
 * "postern scram client" NUL username) and ServerKey likewise with
 * "... server": keys of no password, usable only by someone who holds
 * secret. The username is cut at SCRAM_NAME_MAX bytes.
 * scram_server_first_unknown uses it. */
void scram_keys_dummy(const uint8_t secret[SCRAM_DUMMY_SECRET_LEN], const char *username,
		      uint32_t iter, struct scram_keys *out);
/* scram_nonce_new - a server nonce: SCRAM_SNONCE_LEN base64 characters of
 * 18 random bytes (randombytes_buf), NUL-terminated. */
void scram_nonce_new(char out[SCRAM_SNONCE_LEN + 1]);

/* RFC 5802 section 7 server-error-value, plus SCRAM_E_OK. */
enum scram_error {
	SCRAM_E_OK,
	SCRAM_E_INVALID_ENCODING,	   /* "invalid-encoding": grammar, UTF-8, NUL, base64 */
	SCRAM_E_EXTENSIONS_NOT_SUPPORTED,  /* "extensions-not-supported": m= */
	SCRAM_E_INVALID_PROOF,		   /* "invalid-proof" (also every unknown user) */
	SCRAM_E_CHANNEL_BINDINGS_DONT_MATCH, /* "channel-bindings-dont-match" */
	SCRAM_E_SERVER_DOES_SUPPORT_CB,	   /* "server-does-support-channel-binding": "y" */
	SCRAM_E_CB_NOT_SUPPORTED,	   /* "channel-binding-not-supported" */
	SCRAM_E_UNSUPPORTED_CB_TYPE,	   /* "unsupported-channel-binding-type" */
	SCRAM_E_INVALID_USERNAME,	   /* "invalid-username-encoding": bad '=' escape */
	SCRAM_E_OTHER,			   /* "other-error": nonce mismatch, misuse, mech/flag */
};

enum scram_state {
	SCRAM_S_START,	   /* after init: expects the client-first message */
	SCRAM_S_LOOKUP,	   /* username known: expects scram_server_first[_unknown] */
	SCRAM_S_FINAL,	   /* server-first sent: expects the client-final message */
	SCRAM_S_DONE,	   /* authenticated */
	SCRAM_S_FAILED,	   /* refused; every further call returns -1 */
};

/* One exchange, about 3.5 KB with no pointers into caller memory. Use the
 * functions; state may be read, nothing else should be touched. */
struct scram_server {
	enum scram_state state;
	enum scram_error error;
	bool plus;	      /* the mechanism is SCRAM-SHA-256-PLUS */
	bool plus_advertised; /* -PLUS was offered to this client */
	bool dummy;	      /* unknown user: the proof must fail */
	size_t gs2len;	      /* first gs2len bytes of first[] are the gs2 header */
	size_t firstlen;
	size_t cnoncelen, noncelen, sflen;
	char first[SASL_MAX];		      /* client-first-message */
	char nonce[SCRAM_CNONCE_MAX + SCRAM_SNONCE_MAX];
	char server_first[SCRAM_SERVER_FIRST_MAX];
	char username[SCRAM_NAME_MAX + 1];
	char authzid[SCRAM_NAME_MAX + 1];
	struct scram_keys keys;
};

/* scram_server_init - a new exchange for SCRAM-SHA-256 (plus false) or
 * SCRAM-SHA-256-PLUS (plus true); plus_advertised says whether -PLUS was
 * offered on this connection (needed for RFC 5802 section 6's downgrade
 * check; plus implies it). */
void scram_server_init(struct scram_server *st, bool plus, bool plus_advertised);
/* scram_server_parse_first - the client-first-message (msg, len bytes,
 * decoded, 1..SASL_MAX). Accepted gs2 headers: "n,", "y," (only when -PLUS
 * was not advertised) and "p=tls-exporter," (only for -PLUS), each with an
 * optional "a=authzid" and then ','; then "n=username,r=cnonce" with
 * optional extensions after it, which are ignored; "m=" is refused. 0 with
 * the username and authzid available; -1 (state FAILED) otherwise. */
int scram_server_parse_first(struct scram_server *st, const uint8_t *msg, size_t len);
/* scram_server_username, scram_server_authzid - NUL-terminated UTF-8,
 * =2C and =3D decoded, no NUL, at most SCRAM_NAME_MAX bytes; authzid is ""
 * when absent. Valid from scram_server_parse_first until clear. Whether
 * the user may act as authzid is the caller's policy. */
const char *scram_server_username(const struct scram_server *st);
const char *scram_server_authzid(const struct scram_server *st);
/* scram_server_first - with keys for the user (copied into st) and
 * snonce (the server's nonce part, 1..SCRAM_SNONCE_MAX printable ASCII
 * characters without ','; normally from scram_nonce_new), append the
 * server-first-message "r=CNONCE SNONCE,s=SALT,i=ITER" to out (the caller
 * base64-encodes it). 0, or -1 (state FAILED, out unchanged) on misuse or
 * keys out of range. */
int scram_server_first(struct scram_server *st, const struct scram_keys *keys,
		       const char *snonce, struct buf *out);
/* scram_server_first_unknown - the same for a user who does not exist or
 * has no SCRAM keys: keys from scram_keys_dummy(secret, username, iter),
 * and the exchange will end in SCRAM_E_INVALID_PROOF. secret must be the
 * same for every exchange, and should survive restarts (derive it from a
 * key kept on disk), so that the salt of a name never changes; iter should
 * be what real accounts use (SCRAM_ITER_DEFAULT). */
int scram_server_first_unknown(struct scram_server *st,
			       const uint8_t secret[SCRAM_DUMMY_SECRET_LEN], uint32_t iter,
			       const char *snonce, struct buf *out);
/* scram_server_final - the client-final-message (msg, len bytes, decoded):
 * "c=CBIND,r=NONCE[,extensions],p=PROOF". c= must decode to the gs2 header
 * of the client-first message followed, for -PLUS, by cb (cblen must be
 * SCRAM_CB_LEN; cb is ignored otherwise and may be NULL); r= must be the
 * full nonce; the proof must verify against the keys. 0 (state DONE) with
 * the server-final-message "v=SIGNATURE" appended to out: the client is
 * authenticated. -1 (state FAILED, out unchanged) otherwise. */
int scram_server_final(struct scram_server *st, const uint8_t *msg, size_t len,
		       const uint8_t *cb, size_t cblen, struct buf *out);
/* scram_server_error - why the exchange failed (SCRAM_E_OK if it has not). */
enum scram_error scram_server_error(const struct scram_server *st);
/* scram_error_name - the RFC 5802 server-error-value ("invalid-proof"...),
 * "" for SCRAM_E_OK; a static string. */
const char *scram_error_name(enum scram_error e);
/* scram_server_clear - wipe st (keys included); NULL is fine. */
void scram_server_clear(struct scram_server *st);

#endif
