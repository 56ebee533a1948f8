/* SPDX-License-Identifier: ISC */
/*
 * dkimkey - DKIM signing keys on disk, key generation, and the DNS record
 * that publishes them. See dkimkey.h for the contract, SECURITY and
 * STANDARDS.
 */
#include "mailauth/dkimkey.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "conf/conf.h"
#include "lib/file.h"
#include "lib/util.h"
#include "mailauth/dkim.h"

/* The raw Ed25519 public key (RFC 8032 5.1.5). */
#define ED25519_PUB_LEN 32

static bool
is_ldh(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-';
}

bool
valid_dkim_name(const char *s, size_t max)
{
	size_t len = strlen(s), label = 0, i;
	bool ok = len > 0 && len <= max;

	for (i = 0; ok && i <= len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '.' || ch == '\0') {
			if (label == 0 || s[i - 1] == '-')
				ok = false;
			label = 0;
		} else if (!is_ldh(ch) || (label == 0 && ch == '-') ||
			   ++label > DKIMKEY_LABEL_MAX) {
			ok = false;
		}
	}
	return ok;
}

int
dkimkey_lower_name(const char *s, size_t max, char *out, size_t outsz)
{
	size_t i;

	if (!valid_dkim_name(s, max) || str_copy(out, s, outsz) == -1)
		return -1;
	for (i = 0; out[i] != '\0'; i++)
		if (out[i] >= 'A' && out[i] <= 'Z')
			out[i] = (char)(out[i] - 'A' + 'a');
	return 0;
}

int
dkimkey_algo_parse(const char *s, enum dkimkey_algo *out)
{
	if (strcmp(s, "rsa2048") == 0)
		*out = DKIMKEY_RSA2048;
	else if (strcmp(s, "ed25519") == 0)
		*out = DKIMKEY_ED25519;
	else
		return -1;
	return 0;
}

const char *
dkimkey_alg_label(const struct dkimkey *k, char *out, size_t outsz)
{
	if (k->alg == DKIM_ALG_ED25519_SHA256)
		(void)str_copy(out, "ed25519", outsz);
	else
		(void)str_fmt(out, outsz, "rsa%u", k->bits);
	return out;
}

/* key_paths - the key directory STATE_DIR/dkim/DOMAIN and the key file in
 * it (top is STATE_DIR/dkim); each buffer PATH_MAX bytes. 0 or -1. */
static int
key_paths(const char *state_dir, const char *domain, const char *selector, char *top,
	  char *dir, char *file)
{
	char d[DKIM_DOMAIN_MAX + 1], s[DKIM_SELECTOR_MAX + 1];

	if (dkimkey_lower_name(domain, DKIM_DOMAIN_MAX, d, sizeof(d)) == -1 ||
	    dkimkey_lower_name(selector, DKIM_SELECTOR_MAX, s, sizeof(s)) == -1)
		return -1;
	if (str_fmt(top, PATH_MAX, "%s/%s", state_dir, DKIMKEY_SUBDIR) == -1 ||
	    str_fmt(dir, PATH_MAX, "%s/%s", top, d) == -1 ||
	    str_fmt(file, PATH_MAX, "%s/%s%s", dir, s, DKIMKEY_SUFFIX) == -1)
		return -1;
	return 0;
}

int
dkimkey_path(const char *state_dir, const char *domain, const char *selector, char *out,
	     size_t outsz)
{
	char top[PATH_MAX], dir[PATH_MAX], file[PATH_MAX];

	if (key_paths(state_dir, domain, selector, top, dir, file) == -1)
		return -1;
	return str_copy(out, file, outsz);
}

/* take_public - the algorithm, size and p= bytes of pk into k. */
static int
take_public(EVP_PKEY *pk, struct dkimkey *k, const char **why)
{
	unsigned char *p = k->pub;
	size_t n = sizeof(k->pub);
	int id = EVP_PKEY_get_base_id(pk), bits = EVP_PKEY_get_bits(pk), der;

	if (id == EVP_PKEY_ED25519) {
		if (EVP_PKEY_get_raw_public_key(pk, k->pub, &n) != 1 || n != ED25519_PUB_LEN) {
			*why = "cannot read the Ed25519 public key";
			return -1;
		}
		k->alg = DKIM_ALG_ED25519_SHA256;
		k->bits = 256;
		k->pub_len = n;
		return 0;
	}
	if (id != EVP_PKEY_RSA) {
		*why = "not an RSA or Ed25519 key (the only kinds DKIM signs with)";
		return -1;
	}
	if (bits < DKIM_RSA_MIN_BITS || bits > DKIMKEY_RSA_MAX_BITS) {
		*why = bits < DKIM_RSA_MIN_BITS ? "RSA key shorter than 1024 bits (RFC 8301: "
						  "verifiers ignore its signatures)"
						: "RSA key longer than 8192 bits";
		return -1;
	}
	der = i2d_PUBKEY(pk, NULL);
	if (der <= 0 || (size_t)der > sizeof(k->pub) || i2d_PUBKEY(pk, &p) != der) {
		*why = "cannot encode the RSA public key";
		return -1;
	}
	k->alg = DKIM_ALG_RSA_SHA256;
	k->bits = (unsigned)bits;
	k->pub_len = (size_t)der;
	return 0;
}

int
dkimkey_parse(const char *pem, size_t len, struct dkimkey *out, const char **why)
{
	EVP_PKEY *pk = NULL;
	bool asked = false;
	BIO *bio;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (len == 0 || len > DKIMKEY_FILE_MAX || memchr(pem, '\0', len) != NULL) {
		*why = len > DKIMKEY_FILE_MAX ? "larger than a DKIM key file can be"
					      : "not a PEM private key";
		return -1;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio != NULL)
		pk = PEM_read_bio_PrivateKey(bio, NULL, dkim_no_passphrase, &asked);
	BIO_free(bio);
	ERR_clear_error();
	if (pk == NULL) {
		*why = asked ? "the key is encrypted: postern reads only unencrypted keys (the "
			       "file's mode 0600 protects it)"
			     : "not a PEM private key";
		goto fail;
	}
	if (take_public(pk, out, why) == -1)
		goto fail;
	out->pem = xmalloc(len + 1);
	memcpy(out->pem, pem, len);
	out->pem[len] = '\0';
	out->pem_len = len;
	rc = 0;
fail:
	EVP_PKEY_free(pk);
	if (rc == -1)
		memset(out, 0, sizeof(*out));
	return rc;
}

int
dkimkey_generate(enum dkimkey_algo algo, struct dkimkey *out, const char **why)
{
	EVP_PKEY *pk;
	BUF_MEM *mem = NULL;
	BIO *bio = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	pk = algo == DKIMKEY_ED25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
				     : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)DKIMKEY_RSA_BITS);
	/* A secure-memory BIO: its buffer is cleansed when freed. */
	if (pk != NULL)
		bio = BIO_new(BIO_s_secmem());
	if (bio == NULL || PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL, NULL) != 1 ||
	    BIO_get_mem_ptr(bio, &mem) != 1 || mem == NULL) {
		*why = "key generation failed";
		goto fail;
	}
	rc = dkimkey_parse(mem->data, mem->length, out, why);
fail:
	BIO_free(bio);
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return rc;
}

/* make_dir - path (in parent) as a 0700 directory: created (and the parent
 * fsynced, so the new entry survives a crash) or tightened. */
static int
make_dir(const char *parent, const char *path, char *err, size_t errsz)
{
	struct stat st;

	if (mkdir(path, 0700) == 0) {
		if (chmod(path, 0700) == -1 || fsync_dir(parent) == -1)
			goto fail;
		return 0;
	}
	if (errno != EEXIST || lstat(path, &st) == -1)
		goto fail;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		goto fail;
	}
	if ((st.st_mode & 077) != 0 && chmod(path, 0700) == -1)
		goto fail;
	return 0;
fail:
	snprintf(err, errsz, "%s: %s", path, strerror(errno));
	return -1;
}

/* write_temp - the PEM into a fresh 0600 file next to dst, fsynced; its
 * name goes to tmp (PATH_MAX bytes). */
static int
write_temp(const char *dir, const struct dkimkey *k, char *tmp, char *err, size_t errsz)
{
	int fd, saved;

	if (str_fmt(tmp, PATH_MAX, "%s/.new-key.XXXXXX", dir) == -1) {
		errno = ENAMETOOLONG;
		snprintf(err, errsz, "%s: %s", dir, strerror(errno));
		return -1;
	}
	fd = mkostemp(tmp, O_CLOEXEC); /* O_EXCL, mode 0600 */
	if (fd == -1) {
		snprintf(err, errsz, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0600) == -1 || write_all(fd, k->pem, k->pem_len) == -1 || fsync(fd) == -1)
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	(void)unlink(tmp);
	snprintf(err, errsz, "%s: %s", tmp, strerror(saved));
	errno = saved;
	return -1;
}

int
dkimkey_save(const char *state_dir, const char *domain, const char *selector,
	     const struct dkimkey *k, bool force, char *err, size_t errsz)
{
	char top[PATH_MAX], dir[PATH_MAX], file[PATH_MAX], tmp[PATH_MAX];
	int saved;

	if (k->pem == NULL || key_paths(state_dir, domain, selector, top, dir, file) == -1) {
		snprintf(err, errsz, "'%s' and '%s' are not a domain and a selector (letters, "
				     "digits and hyphens between dots)",
			 domain, selector);
		errno = EINVAL;
		return -1;
	}
	if (make_dir(state_dir, top, err, errsz) == -1 || make_dir(top, dir, err, errsz) == -1 ||
	    write_temp(dir, k, tmp, err, errsz) == -1)
		return -1;
	/* link() refuses an existing name, atomically; rename() replaces it. */
	if ((force ? rename(tmp, file) : link(tmp, file)) == -1) {
		saved = errno;
		(void)unlink(tmp);
		snprintf(err, errsz, "%s: %s", file,
			 saved == EEXIST ? "exists already" : strerror(saved));
		errno = saved;
		return -1;
	}
	if ((!force && unlink(tmp) == -1) || fsync_dir(dir) == -1) {
		snprintf(err, errsz, "%s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* open_key - open the key file at path for reading and check what it is:
 * a regular file, no symlink, nobody but its owner may touch it, not too
 * large. Returns the descriptor or -1 with err. */
static int
open_key(const char *path, const char *domain, const char *selector, char *err, size_t errsz)
{
	struct stat st;
	int fd, saved;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		saved = errno;
		if (saved == ENOENT)
			snprintf(err, errsz, "%s: no key file (`postern dkim keygen %s %s` makes one)",
				 path, domain, selector);
		else
			snprintf(err, errsz, "%s: %s", path,
				 saved == ELOOP ? "is a symbolic link (keys must be files in "
						  "state_dir)"
						: strerror(saved));
		errno = saved;
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		snprintf(err, errsz, "%s: not a regular file", path);
		errno = EINVAL;
	} else if ((st.st_mode & 077) != 0) {
		snprintf(err, errsz,
			 "%s: group or others may access it (mode %03o): chmod 600 it, and make a "
			 "new key if someone else may have read this one",
			 path, (unsigned)(st.st_mode & 0777));
		errno = EPERM;
	} else if (st.st_size > DKIMKEY_FILE_MAX) {
		snprintf(err, errsz, "%s: larger than %d bytes: not a DKIM key", path,
			 DKIMKEY_FILE_MAX);
		errno = EFBIG;
	} else {
		return fd;
	}
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int
dkimkey_load(const char *state_dir, const char *domain, const char *selector,
	     struct dkimkey *out, char *err, size_t errsz)
{
	char path[PATH_MAX], *text;
	const char *why;
	ssize_t n;
	int fd, rc = -1;

	memset(out, 0, sizeof(*out));
	if (dkimkey_path(state_dir, domain, selector, path, sizeof(path)) == -1) {
		snprintf(err, errsz, "'%s' and '%s' are not a domain and a selector", domain,
			 selector);
		errno = EINVAL;
		return -1;
	}
	if ((fd = open_key(path, domain, selector, err, errsz)) == -1)
		return -1;
	text = xmalloc(DKIMKEY_FILE_MAX + 1);
	n = read_all(fd, text, DKIMKEY_FILE_MAX + 1);
	if (n == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
	} else if (dkimkey_parse(text, (size_t)n, out, &why) == -1) {
		snprintf(err, errsz, "%s: %s", path, why);
		errno = EINVAL;
	} else {
		rc = 0;
	}
	close(fd);
	wipe_free(text, DKIMKEY_FILE_MAX + 1);
	return rc;
}

/* check_owner - the key at path belongs to owner; err otherwise. */
static int
check_owner(const char *path, uid_t owner, const char *user, char *err, size_t errsz)
{
	struct stat st;

	if (owner == (uid_t)-1)
		return 0;
	if (lstat(path, &st) == -1) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (st.st_uid != owner) {
		snprintf(err, errsz,
			 "%s: owned by uid %u, but the queue process signs as %s (uid %u): chown "
			 "%s %s",
			 path, (unsigned)st.st_uid, user, (unsigned)owner, user, path);
		return -1;
	}
	return 0;
}

int
dkimkey_check_conf(const struct conf *cf, uid_t owner, char *err, size_t errsz)
{
	char why[PATH_MAX + 512], path[PATH_MAX];
	struct dkimkey k;
	size_t i, j;

	for (i = 0; i < cf->ndomains; i++) {
		const struct conf_domain *d = &cf->domains[i];

		for (j = 0; j < d->ndkim; j++) {
			int rc = dkimkey_load(cf->state_dir, d->name, d->dkim[j].name, &k, why,
					      sizeof(why));

			dkimkey_clear(&k);
			if (rc == 0 &&
			    dkimkey_path(cf->state_dir, d->name, d->dkim[j].name, path,
					 sizeof(path)) == 0)
				rc = check_owner(path, owner, cf->user, why, sizeof(why));
			if (rc == -1) {
				snprintf(err, errsz, "%s:%d: domain %s: dkim selector %s: %s",
					 cf->path, d->dkim[j].line, d->name, d->dkim[j].name, why);
				return -1;
			}
		}
	}
	return 0;
}

void
dkimkey_txt(const struct dkimkey *k, struct buf *out)
{
	char b64[(DKIM_P_MAX + 2) / 3 * 4 + 1];

	EVP_EncodeBlock((unsigned char *)b64, k->pub, (int)k->pub_len);
	buf_addf(out, "v=DKIM1; k=%s; p=%s", k->alg == DKIM_ALG_ED25519_SHA256 ? "ed25519" : "rsa",
		 b64);
}

int
dkimkey_zone_line(const char *domain, const char *selector, const struct dkimkey *k,
		  struct buf *out)
{
	char d[DKIM_DOMAIN_MAX + 1], s[DKIM_SELECTOR_MAX + 1];
	struct buf txt = BUF_INIT;
	size_t off, n;

	if (dkimkey_lower_name(domain, DKIM_DOMAIN_MAX, d, sizeof(d)) == -1 ||
	    dkimkey_lower_name(selector, DKIM_SELECTOR_MAX, s, sizeof(s)) == -1)
		return -1;
	dkimkey_txt(k, &txt);
	buf_addf(out, "%s._domainkey.%s. IN TXT (", s, d);
	/* The record has no '"' or '\\' to escape: tags, spaces, base64. */
	for (off = 0; off < txt.len; off += n) {
		n = txt.len - off < DKIMKEY_TXT_CHUNK ? txt.len - off : DKIMKEY_TXT_CHUNK;
		buf_addf(out, " \"%.*s\"", (int)n, txt.data + off);
	}
	buf_adds(out, " )");
	buf_free(&txt);
	return 0;
}

void
dkimkey_clear(struct dkimkey *k)
{
	if (k == NULL)
		return;
	if (k->pem != NULL)
		wipe_free(k->pem, k->pem_len + 1);
	memset(k, 0, sizeof(*k));
}
