/* SPDX-License-Identifier: ISC */
/*
 * scram - SCRAM-SHA-256(-PLUS) server exchange and stored keys.
 *
 * SECURITY: auth process only; pure apart from randombytes_buf in
 * scram_keys_derive and scram_nonce_new. Both client messages are checked
 * as a whole (length, NUL, UTF-8) and then field by field against the RFC
 * 5802 grammar before anything is copied into the state, whose buffers are
 * all fixed-size and bounded by the limits in scram.h. The proof and the
 * channel binding are compared with CRYPTO_memcmp; an unknown user's
 * exchange does the same work as a real one and fails at the end. Every
 * intermediate secret (SaltedPassword, ClientKey, signatures) is wiped;
 * the state's copy of the keys is wiped when the exchange fails or is
 * cleared.
 * STANDARDS: RFC 5802 sections 3, 5, 6, 7; RFC 7677; RFC 9266; RFC 8018
 * section 5.2; RFC 4648 section 4; Dovecot's "{SCRAM-SHA-256}" scheme.
 */
#include "auth/scram.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "lib/log.h"
#include "lib/util.h"

#define CB_NAME "tls-exporter"
#define SNONCE_RAW 18 /* random bytes in scram_nonce_new: 24 base64 characters */

_Static_assert(sodium_base64_ENCODED_LEN(SNONCE_RAW, sodium_base64_VARIANT_ORIGINAL) ==
		       SCRAM_SNONCE_LEN + 1,
	       "SCRAM_SNONCE_LEN");
_Static_assert(SCRAM_SNONCE_LEN <= SCRAM_SNONCE_MAX, "SCRAM_SNONCE_MAX");
/* "r=" nonce ",s=" salt ",i=" 7 digits must fit server_first[]. */
_Static_assert(2 + SCRAM_CNONCE_MAX + SCRAM_SNONCE_MAX + 3 +
			       sodium_base64_ENCODED_LEN(SCRAM_SALT_MAX,
							 sodium_base64_VARIANT_ORIGINAL) +
			       3 + 7 <
		       SCRAM_SERVER_FIRST_MAX,
	       "SCRAM_SERVER_FIRST_MAX");
_Static_assert(SCRAM_ITER_MAX <= 9999999 && SCRAM_ITER_MAX <= INT_MAX, "ITER digits");
_Static_assert(SCRAM_SALT_LEN >= SCRAM_SALT_MIN && SCRAM_SALT_LEN <= SCRAM_SALT_MAX,
	       "SCRAM_SALT_LEN");

/* A run of bytes inside a message; p NULL once the message is used up. */
struct span {
	const char *p;
	size_t n;
};

enum cbflag {
	CBF_N,	   /* "n": client does not support channel binding */
	CBF_Y,	   /* "y": client does, but thinks the server does not */
	CBF_P,	   /* "p=tls-exporter" */
	CBF_P_OTHER, /* "p=" another well-formed cb-name */
};

/* ---- primitives ---- */

/* hmac256 - HMAC-SHA-256; an OpenSSL failure is a broken environment. */
static void
hmac256(const uint8_t *key, size_t keylen, const void *msg, size_t n,
	uint8_t out[SCRAM_HASH_LEN])
{
	unsigned int len = 0;

	if (HMAC(EVP_sha256(), key, (int)keylen, msg, n, out, &len) == NULL ||
	    len != SCRAM_HASH_LEN)
		log_fatalx("scram: HMAC-SHA-256 failed");
}

static void
sha256(const void *in, size_t n, uint8_t out[SCRAM_HASH_LEN])
{
	unsigned int len = 0;

	if (EVP_Digest(in, n, out, &len, EVP_sha256(), NULL) != 1 || len != SCRAM_HASH_LEN)
		log_fatalx("scram: SHA-256 failed");
}

static bool
valid_keys(const struct scram_keys *k)
{
	return k->iter >= SCRAM_ITER_MIN && k->iter <= SCRAM_ITER_MAX &&
	       k->saltlen >= SCRAM_SALT_MIN && k->saltlen <= SCRAM_SALT_MAX;
}

/* ---- stored keys ---- */

int
scram_keys_derive_salt(const char *pw, size_t pwlen, uint32_t iter, const uint8_t *salt,
		       size_t saltlen, struct scram_keys *out)
{
	uint8_t salted[SCRAM_HASH_LEN], client_key[SCRAM_HASH_LEN];

	explicit_bzero(out, sizeof(*out));
	out->iter = iter;
	out->saltlen = saltlen;
	if (pwlen == 0 || pwlen > SCRAM_PW_MAX || !valid_keys(out))
		goto fail;
	memcpy(out->salt, salt, saltlen);
	if (PKCS5_PBKDF2_HMAC(pw, (int)pwlen, salt, (int)saltlen, (int)iter, EVP_sha256(),
			      (int)sizeof(salted), salted) != 1)
		goto fail;
	hmac256(salted, sizeof(salted), "Client Key", 10, client_key);
	sha256(client_key, sizeof(client_key), out->stored_key);
	hmac256(salted, sizeof(salted), "Server Key", 10, out->server_key);
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(client_key, sizeof(client_key));
	return 0;
fail:
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(out, sizeof(*out));
	return -1;
}

int
scram_keys_derive(const char *pw, size_t pwlen, uint32_t iter, struct scram_keys *out)
{
	uint8_t salt[SCRAM_SALT_LEN];

	randombytes_buf(salt, sizeof(salt));
	return scram_keys_derive_salt(pw, pwlen, iter, salt, sizeof(salt), out);
}

int
scram_keys_check_password(const struct scram_keys *k, const char *pw, size_t pwlen)
{
	struct scram_keys t;
	int r = -1;

	if (scram_keys_derive_salt(pw, pwlen, k->iter, k->salt, k->saltlen, &t) == 0 &&
	    CRYPTO_memcmp(t.stored_key, k->stored_key, SCRAM_HASH_LEN) == 0)
		r = 0;
	explicit_bzero(&t, sizeof(t));
	return r;
}

int
scram_keys_format(const struct scram_keys *k, char *out, size_t outsz)
{
	struct buf b = BUF_INIT;
	int r = -1;

	if (outsz > 0)
		out[0] = '\0';
	if (!valid_keys(k))
		return -1;
	buf_addf(&b, "%s%u,", SCRAM_PREFIX, (unsigned)k->iter);
	sasl_b64_encode(k->salt, k->saltlen, &b);
	buf_addc(&b, ',');
	sasl_b64_encode(k->stored_key, SCRAM_HASH_LEN, &b);
	buf_addc(&b, ',');
	sasl_b64_encode(k->server_key, SCRAM_HASH_LEN, &b);
	if (b.len < outsz) {
		memcpy(out, b.data, b.len + 1);
		r = 0;
	}
	buf_wipe_free(&b);
	return r;
}

/* field_next - cut *rest at its first ',': *f gets the bytes before it and
 * *rest those after (rest->p NULL when there was no ','). -1 when *rest
 * is used up. "a," yields "a" and then "" (which no attribute accepts). */
static int
field_next(struct span *rest, struct span *f)
{
	const char *c;

	if (rest->p == NULL)
		return -1;
	f->p = rest->p;
	c = memchr(rest->p, ',', rest->n);
	if (c == NULL) {
		f->n = rest->n;
		rest->p = NULL;
		rest->n = 0;
		return 0;
	}
	f->n = (size_t)(c - rest->p);
	rest->n -= f->n + 1;
	rest->p = c + 1;
	return 0;
}

/* b64_field - strict, canonical base64 of f into out; 0 if it decodes to
 * min..max bytes, else -1. */
static int
b64_field(const struct span *f, uint8_t *out, size_t min, size_t max, size_t *outlen)
{
	uint8_t tmp[SASL_MAX];
	size_t n = 0;
	int r = -1;

	if (f->n > 0 && sasl_b64_chars(f->p, f->n) && sasl_b64_decode(f->p, f->n, tmp, &n) == 0 &&
	    n >= min && n <= max) {
		memcpy(out, tmp, n);
		*outlen = n;
		r = 0;
	}
	explicit_bzero(tmp, sizeof(tmp)); /* a failed decode may have written some */
	return r;
}

/* parse_iter - decimal without sign or leading zero, in range. */
static int
parse_iter(const struct span *f, uint32_t *iter)
{
	uint32_t v = 0;
	size_t i;

	if (f->n == 0 || f->n > 7 || f->p[0] == '0')
		return -1;
	for (i = 0; i < f->n; i++) {
		if (f->p[i] < '0' || f->p[i] > '9')
			return -1;
		v = v * 10 + (uint32_t)(f->p[i] - '0');
	}
	if (v < SCRAM_ITER_MIN || v > SCRAM_ITER_MAX)
		return -1;
	*iter = v;
	return 0;
}

int
scram_keys_parse(const char *s, struct scram_keys *out)
{
	const size_t plen = sizeof(SCRAM_PREFIX) - 1;
	struct span rest, f[4], extra;
	size_t len = strnlen(s, SCRAM_STORED_MAX + 1), n1 = 0, n2 = 0;
	int i;

	explicit_bzero(out, sizeof(*out));
	if (len > SCRAM_STORED_MAX || len < plen || strncasecmp(s, SCRAM_PREFIX, plen) != 0)
		goto fail;
	rest.p = s + plen;
	rest.n = len - plen;
	for (i = 0; i < 4; i++)
		if (field_next(&rest, &f[i]) == -1)
			goto fail;
	if (field_next(&rest, &extra) == 0 || parse_iter(&f[0], &out->iter) == -1 ||
	    b64_field(&f[1], out->salt, SCRAM_SALT_MIN, SCRAM_SALT_MAX, &out->saltlen) == -1 ||
	    b64_field(&f[2], out->stored_key, SCRAM_HASH_LEN, SCRAM_HASH_LEN, &n1) == -1 ||
	    b64_field(&f[3], out->server_key, SCRAM_HASH_LEN, SCRAM_HASH_LEN, &n2) == -1)
		goto fail;
	return 0;
fail:
	explicit_bzero(out, sizeof(*out));
	return -1;
}

/* dummy_mac - HMAC-SHA256(secret, label NUL username), the username cut at
 * SCRAM_NAME_MAX bytes (longer names never get past parsing anyway). */
static void
dummy_mac(const uint8_t secret[SCRAM_DUMMY_SECRET_LEN], const char *label, const char *username,
	  uint8_t out[SCRAM_HASH_LEN])
{
	char msg[32 + SCRAM_NAME_MAX];
	size_t ll = strlen(label) + 1, ul = strnlen(username, SCRAM_NAME_MAX);

	if (ll > 32)
		log_bug("scram: dummy label too long");
	memcpy(msg, label, ll);
	memcpy(msg + ll, username, ul);
	hmac256(secret, SCRAM_DUMMY_SECRET_LEN, msg, ll + ul, out);
}

void
scram_keys_dummy(const uint8_t secret[SCRAM_DUMMY_SECRET_LEN], const char *username,
		 uint32_t iter, struct scram_keys *out)
{
	uint8_t mac[SCRAM_HASH_LEN];

	explicit_bzero(out, sizeof(*out));
	out->iter = iter;
	dummy_mac(secret, "postern scram salt", username, mac);
	memcpy(out->salt, mac, SCRAM_SALT_LEN);
	out->saltlen = SCRAM_SALT_LEN;
	/* A real key set for a password nobody knows: only a holder of the
	 * secret can compute the ClientKey, which lets the tests show that
	 * the dummy flag alone refuses the exchange. */
	dummy_mac(secret, "postern scram client", username, mac);
	sha256(mac, sizeof(mac), out->stored_key);
	dummy_mac(secret, "postern scram server", username, out->server_key);
	explicit_bzero(mac, sizeof(mac));
}

void
scram_nonce_new(char out[SCRAM_SNONCE_LEN + 1])
{
	uint8_t raw[SNONCE_RAW];

	randombytes_buf(raw, sizeof(raw));
	sodium_bin2base64(out, SCRAM_SNONCE_LEN + 1, raw, sizeof(raw),
			  sodium_base64_VARIANT_ORIGINAL);
}

/* ---- exchange: states and errors ---- */

const char *
scram_error_name(enum scram_error e)
{
	static const char *const names[] = {
		[SCRAM_E_OK] = "",
		[SCRAM_E_INVALID_ENCODING] = "invalid-encoding",
		[SCRAM_E_EXTENSIONS_NOT_SUPPORTED] = "extensions-not-supported",
		[SCRAM_E_INVALID_PROOF] = "invalid-proof",
		[SCRAM_E_CHANNEL_BINDINGS_DONT_MATCH] = "channel-bindings-dont-match",
		[SCRAM_E_SERVER_DOES_SUPPORT_CB] = "server-does-support-channel-binding",
		[SCRAM_E_CB_NOT_SUPPORTED] = "channel-binding-not-supported",
		[SCRAM_E_UNSUPPORTED_CB_TYPE] = "unsupported-channel-binding-type",
		[SCRAM_E_INVALID_USERNAME] = "invalid-username-encoding",
		[SCRAM_E_OTHER] = "other-error",
	};

	if ((unsigned)e >= sizeof(names) / sizeof(names[0]))
		return "other-error";
	return names[e];
}

/* enter_state - the one place the state changes. Entering FAILED wipes
 * the keys and the nonce; nothing leaves FAILED or DONE. */
static void
enter_state(struct scram_server *st, enum scram_state to)
{
	if (st->state == SCRAM_S_FAILED || st->state == SCRAM_S_DONE)
		log_bug("scram: transition from final state %d to %d", st->state, to);
	st->state = to;
	if (to == SCRAM_S_FAILED) {
		explicit_bzero(&st->keys, sizeof(st->keys));
		explicit_bzero(st->nonce, sizeof(st->nonce));
		st->noncelen = 0;
	}
}

/* fail - record why, enter FAILED (once), return -1. */
static int
fail(struct scram_server *st, enum scram_error e)
{
	if (st->state == SCRAM_S_FAILED || st->state == SCRAM_S_DONE) {
		if (st->error == SCRAM_E_OK)
			st->error = SCRAM_E_OTHER;
		return -1;
	}
	st->error = e;
	enter_state(st, SCRAM_S_FAILED);
	return -1;
}

void
scram_server_init(struct scram_server *st, bool plus, bool plus_advertised)
{
	memset(st, 0, sizeof(*st));
	st->state = SCRAM_S_START;
	st->error = SCRAM_E_OK;
	st->plus = plus;
	st->plus_advertised = plus || plus_advertised;
}

enum scram_error
scram_server_error(const struct scram_server *st)
{
	return st->error;
}

const char *
scram_server_username(const struct scram_server *st)
{
	return st->username;
}

const char *
scram_server_authzid(const struct scram_server *st)
{
	return st->authzid;
}

void
scram_server_clear(struct scram_server *st)
{
	if (st != NULL)
		explicit_bzero(st, sizeof(*st));
}

/* ---- exchange: grammar (RFC 5802 section 7) ---- */

/* valid_message - 1..SASL_MAX bytes of UTF-8 without NUL. */
static bool
valid_message(const uint8_t *msg, size_t len)
{
	return len > 0 && len <= SASL_MAX && memchr(msg, '\0', len) == NULL &&
	       valid_utf8((const char *)msg, len);
}

/* is_attr - f is "X=..." for the attribute letter a. */
static bool
is_attr(const struct span *f, char a)
{
	return f->n >= 2 && f->p[0] == a && f->p[1] == '=';
}

/* valid_ext - attr-val = ALPHA "=" 1*value-char (NUL, ',' and UTF-8 are
 * checked for the whole message already). */
static bool
valid_ext(const struct span *f)
{
	char a = f->n > 0 ? f->p[0] : '\0';

	return f->n >= 3 && ((a >= 'a' && a <= 'z') || (a >= 'A' && a <= 'Z')) && f->p[1] == '=';
}

/* valid_printable - 1..max characters of %x21-2B / %x2D-7E (no ','). */
static bool
valid_printable(const char *p, size_t n, size_t max)
{
	size_t i;

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++)
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
			return false;
	return true;
}

/* saslname_decode - the value of f (after "X=") into out, "=2C" -> ','
 * and "=3D" -> '=' (upper case, as RFC 5802 section 5.1 writes them); any
 * other '=' is SCRAM_E_INVALID_USERNAME; an empty name or one longer than
 * SCRAM_NAME_MAX decoded bytes is SCRAM_E_INVALID_ENCODING. */
static enum scram_error
saslname_decode(const struct span *f, char out[SCRAM_NAME_MAX + 1])
{
	size_t i, o = 0;
	char c;

	out[0] = '\0';
	if (f->n <= 2)
		return SCRAM_E_INVALID_ENCODING;
	for (i = 2; i < f->n; i++) {
		c = f->p[i];
		if (c == '=') {
			if (f->n - i >= 3 && f->p[i + 1] == '2' && f->p[i + 2] == 'C')
				c = ',';
			else if (f->n - i >= 3 && f->p[i + 1] == '3' && f->p[i + 2] == 'D')
				c = '=';
			else
				return SCRAM_E_INVALID_USERNAME;
			i += 2;
		}
		if (o == SCRAM_NAME_MAX)
			return SCRAM_E_INVALID_ENCODING;
		out[o++] = c;
	}
	out[o] = '\0';
	return SCRAM_E_OK;
}

/* parse_cbflag - gs2-cbind-flag: "n", "y" or "p=" cb-name, where cb-name
 * is 1*(ALPHA / DIGIT / "." / "-"). -1 if malformed. */
static int
parse_cbflag(const struct span *f, enum cbflag *flag)
{
	size_t i;

	if (f->n == 1 && (f->p[0] == 'n' || f->p[0] == 'y')) {
		*flag = f->p[0] == 'n' ? CBF_N : CBF_Y;
		return 0;
	}
	if (!is_attr(f, 'p') || f->n == 2)
		return -1;
	for (i = 2; i < f->n; i++) {
		char c = f->p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-'))
			return -1;
	}
	*flag = f->n - 2 == strlen(CB_NAME) && memcmp(f->p + 2, CB_NAME, f->n - 2) == 0
			? CBF_P
			: CBF_P_OTHER;
	return 0;
}

/* cbflag_policy - may this flag be used with this mechanism (RFC 5802
 * section 6)? SCRAM_E_OK or the error to fail with. */
static enum scram_error
cbflag_policy(const struct scram_server *st, enum cbflag flag)
{
	if (st->plus) {
		if (flag == CBF_P)
			return SCRAM_E_OK;
		return flag == CBF_P_OTHER ? SCRAM_E_UNSUPPORTED_CB_TYPE : SCRAM_E_OTHER;
	}
	switch (flag) {
	case CBF_N:
		return SCRAM_E_OK;
	case CBF_Y:
		/* The client could bind but believes we cannot: either we did
		 * not offer -PLUS, or someone removed it from EHLO. */
		return st->plus_advertised ? SCRAM_E_SERVER_DOES_SUPPORT_CB : SCRAM_E_OK;
	default:
		return st->plus_advertised ? SCRAM_E_OTHER : SCRAM_E_CB_NOT_SUPPORTED;
	}
}

/* parse_gs2 - gs2-header = gs2-cbind-flag "," [authzid] ","; sets
 * st->gs2len and st->authzid and leaves *rest at client-first-message-bare. */
static enum scram_error
parse_gs2(struct scram_server *st, struct span *rest, const uint8_t *msg, enum cbflag *flag)
{
	struct span f;
	enum scram_error e;

	if (field_next(rest, &f) == -1 || parse_cbflag(&f, flag) == -1 ||
	    field_next(rest, &f) == -1 || rest->p == NULL)
		return SCRAM_E_INVALID_ENCODING;
	if (f.n > 0) {
		if (!is_attr(&f, 'a'))
			return SCRAM_E_INVALID_ENCODING;
		e = saslname_decode(&f, st->authzid);
		if (e != SCRAM_E_OK)
			return SCRAM_E_INVALID_ENCODING;
	}
	st->gs2len = (size_t)(rest->p - (const char *)msg);
	return SCRAM_E_OK;
}

/* parse_bare - client-first-message-bare = [reserved-mext ","] username
 * "," nonce ["," extensions]; sets st->username and the client nonce. */
static enum scram_error
parse_bare(struct scram_server *st, struct span *rest)
{
	struct span f;
	enum scram_error e;

	if (field_next(rest, &f) == -1)
		return SCRAM_E_INVALID_ENCODING;
	if (is_attr(&f, 'm'))
		return SCRAM_E_EXTENSIONS_NOT_SUPPORTED;
	if (!is_attr(&f, 'n'))
		return SCRAM_E_INVALID_ENCODING;
	e = saslname_decode(&f, st->username);
	if (e != SCRAM_E_OK)
		return e;
	if (field_next(rest, &f) == -1 || !is_attr(&f, 'r') ||
	    !valid_printable(f.p + 2, f.n - 2, SCRAM_CNONCE_MAX))
		return SCRAM_E_INVALID_ENCODING;
	memcpy(st->nonce, f.p + 2, f.n - 2);
	st->cnoncelen = st->noncelen = f.n - 2;
	while (field_next(rest, &f) == 0)
		if (!valid_ext(&f))
			return SCRAM_E_INVALID_ENCODING;
	return SCRAM_E_OK;
}

int
scram_server_parse_first(struct scram_server *st, const uint8_t *msg, size_t len)
{
	struct span rest = {(const char *)msg, len};
	enum cbflag flag = CBF_N;
	enum scram_error e;

	if (st->state != SCRAM_S_START)
		return fail(st, SCRAM_E_OTHER);
	if (!valid_message(msg, len))
		return fail(st, SCRAM_E_INVALID_ENCODING);
	e = parse_gs2(st, &rest, msg, &flag);
	if (e == SCRAM_E_OK)
		e = parse_bare(st, &rest);
	if (e == SCRAM_E_OK)
		e = cbflag_policy(st, flag);
	if (e != SCRAM_E_OK)
		return fail(st, e);
	memcpy(st->first, msg, len);
	st->firstlen = len;
	enter_state(st, SCRAM_S_LOOKUP);
	return 0;
}

/* ---- exchange: server-first ---- */

/* send_first - with st->keys set: append the server nonce and write
 * "r=NONCE,s=SALT,i=ITER" into st->server_first and onto out. */
static int
send_first(struct scram_server *st, const char *snonce, struct buf *out)
{
	size_t sn = strnlen(snonce, SCRAM_SNONCE_MAX + 1);
	struct buf b = BUF_INIT;

	if (!valid_printable(snonce, sn, SCRAM_SNONCE_MAX) || !valid_keys(&st->keys))
		return fail(st, SCRAM_E_OTHER);
	memcpy(st->nonce + st->cnoncelen, snonce, sn);
	st->noncelen = st->cnoncelen + sn;
	buf_adds(&b, "r=");
	buf_add(&b, st->nonce, st->noncelen);
	buf_adds(&b, ",s=");
	sasl_b64_encode(st->keys.salt, st->keys.saltlen, &b);
	buf_addf(&b, ",i=%u", (unsigned)st->keys.iter);
	if (b.len >= sizeof(st->server_first))
		log_bug("scram: server-first of %zu bytes", b.len);
	memcpy(st->server_first, b.data, b.len);
	st->sflen = b.len;
	buf_add(out, b.data, b.len);
	buf_free(&b);
	enter_state(st, SCRAM_S_FINAL);
	return 0;
}

int
scram_server_first(struct scram_server *st, const struct scram_keys *keys, const char *snonce,
		   struct buf *out)
{
	if (st->state != SCRAM_S_LOOKUP || keys == NULL)
		return fail(st, SCRAM_E_OTHER);
	st->keys = *keys;
	st->dummy = false;
	return send_first(st, snonce, out);
}

int
scram_server_first_unknown(struct scram_server *st,
			   const uint8_t secret[SCRAM_DUMMY_SECRET_LEN], uint32_t iter,
			   const char *snonce, struct buf *out)
{
	if (st->state != SCRAM_S_LOOKUP)
		return fail(st, SCRAM_E_OTHER);
	scram_keys_dummy(secret, st->username, iter, &st->keys);
	st->dummy = true;
	return send_first(st, snonce, out);
}

/* ---- exchange: client-final and server-final ---- */

/* check_cbind - c= must be the gs2 header, plus the channel binding data
 * for -PLUS (RFC 5802 section 6 and 7: cbind-input). */
static enum scram_error
check_cbind(const struct scram_server *st, const uint8_t *c, size_t clen, const uint8_t *cb,
	    size_t cblen)
{
	size_t want = st->gs2len + (st->plus ? SCRAM_CB_LEN : 0);
	int diff;

	if (st->plus && (cb == NULL || cblen != SCRAM_CB_LEN))
		return SCRAM_E_CB_NOT_SUPPORTED;
	if (clen != want)
		return SCRAM_E_CHANNEL_BINDINGS_DONT_MATCH;
	diff = CRYPTO_memcmp(c, st->first, st->gs2len);
	if (st->plus)
		diff |= CRYPTO_memcmp(c + st->gs2len, cb, SCRAM_CB_LEN);
	return diff == 0 ? SCRAM_E_OK : SCRAM_E_CHANNEL_BINDINGS_DONT_MATCH;
}

/* parse_final - client-final-message = channel-binding "," nonce [","
 * extensions] "," proof. *wplen is the length without ",p=...". */
static enum scram_error
parse_final(const struct scram_server *st, const uint8_t *msg, size_t len, uint8_t *c,
	    size_t *clen, uint8_t proof[SCRAM_HASH_LEN], size_t *wplen)
{
	const char *m = (const char *)msg, *comma = memrchr(m, ',', len);
	struct span rest, f;
	size_t n = 0;

	if (comma == NULL)
		return SCRAM_E_INVALID_ENCODING;
	f.p = comma + 1;
	f.n = len - (size_t)(f.p - m);
	if (!is_attr(&f, 'p'))
		return SCRAM_E_INVALID_ENCODING;
	f.p += 2;
	f.n -= 2;
	if (b64_field(&f, proof, SCRAM_HASH_LEN, SCRAM_HASH_LEN, &n) == -1)
		return SCRAM_E_INVALID_ENCODING;
	*wplen = (size_t)(comma - m);
	rest.p = m;
	rest.n = *wplen;
	if (field_next(&rest, &f) == -1 || !is_attr(&f, 'c'))
		return SCRAM_E_INVALID_ENCODING;
	f.p += 2;
	f.n -= 2;
	if (b64_field(&f, c, 1, SASL_MAX, clen) == -1 || field_next(&rest, &f) == -1 ||
	    !is_attr(&f, 'r'))
		return SCRAM_E_INVALID_ENCODING;
	if (f.n - 2 != st->noncelen || memcmp(f.p + 2, st->nonce, st->noncelen) != 0)
		return SCRAM_E_OTHER;
	while (field_next(&rest, &f) == 0)
		if (!valid_ext(&f))
			return SCRAM_E_INVALID_ENCODING;
	return SCRAM_E_OK;
}

/* check_proof - AuthMessage = client-first-message-bare "," server-first
 * "," client-final-without-proof; ClientKey = proof XOR HMAC(StoredKey,
 * AuthMessage) must hash to StoredKey. Always computes the server
 * signature too, so a dummy exchange does the same work. */
static enum scram_error
check_proof(struct scram_server *st, const uint8_t *wp, size_t wplen,
	    const uint8_t proof[SCRAM_HASH_LEN], uint8_t server_sig[SCRAM_HASH_LEN])
{
	uint8_t am[SASL_MAX + 1 + SCRAM_SERVER_FIRST_MAX + 1 + SASL_MAX];
	uint8_t sig[SCRAM_HASH_LEN], key[SCRAM_HASH_LEN], h[SCRAM_HASH_LEN];
	size_t n = 0, i;
	int diff;

	memcpy(am, st->first + st->gs2len, st->firstlen - st->gs2len);
	n = st->firstlen - st->gs2len;
	am[n++] = ',';
	memcpy(am + n, st->server_first, st->sflen);
	n += st->sflen;
	am[n++] = ',';
	memcpy(am + n, wp, wplen);
	n += wplen;
	hmac256(st->keys.stored_key, SCRAM_HASH_LEN, am, n, sig);
	for (i = 0; i < SCRAM_HASH_LEN; i++)
		key[i] = proof[i] ^ sig[i];
	sha256(key, sizeof(key), h);
	diff = CRYPTO_memcmp(h, st->keys.stored_key, SCRAM_HASH_LEN);
	hmac256(st->keys.server_key, SCRAM_HASH_LEN, am, n, server_sig);
	explicit_bzero(sig, sizeof(sig));
	explicit_bzero(key, sizeof(key));
	explicit_bzero(h, sizeof(h));
	explicit_bzero(am, n);
	return diff == 0 && !st->dummy ? SCRAM_E_OK : SCRAM_E_INVALID_PROOF;
}

int
scram_server_final(struct scram_server *st, const uint8_t *msg, size_t len, const uint8_t *cb,
		   size_t cblen, struct buf *out)
{
	uint8_t c[SASL_MAX], proof[SCRAM_HASH_LEN], server_sig[SCRAM_HASH_LEN];
	size_t clen = 0, wplen = 0;
	enum scram_error e;

	if (st->state != SCRAM_S_FINAL)
		return fail(st, SCRAM_E_OTHER);
	if (!valid_message(msg, len))
		return fail(st, SCRAM_E_INVALID_ENCODING);
	e = parse_final(st, msg, len, c, &clen, proof, &wplen);
	if (e == SCRAM_E_OK)
		e = check_cbind(st, c, clen, cb, cblen);
	if (e == SCRAM_E_OK)
		e = check_proof(st, msg, wplen, proof, server_sig);
	explicit_bzero(c, clen);
	explicit_bzero(proof, sizeof(proof));
	if (e != SCRAM_E_OK) {
		explicit_bzero(server_sig, sizeof(server_sig));
		return fail(st, e);
	}
	buf_adds(out, "v=");
	sasl_b64_encode(server_sig, sizeof(server_sig), out);
	explicit_bzero(server_sig, sizeof(server_sig));
	explicit_bzero(&st->keys, sizeof(st->keys));
	enter_state(st, SCRAM_S_DONE);
	return 0;
}
