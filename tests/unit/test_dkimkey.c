/* SPDX-License-Identifier: ISC */
/*
 * test_dkimkey - the DKIM key store (src/mailauth/dkimkey.c): names that
 * may become paths, the key record and zone line of known keys (RFC 8463
 * A.2, dkimpy's RSA test key), generated keys that sign and verify, keys
 * that are refused and why, and the files: 0600 in 0700 directories, never
 * overwritten without force, no temp file left, unsafe files refused.
 * Data files come from tests/data/dkim (DKIM_DATA is set by meson).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "conf/conf.h"
#include "lib/buf.h"
#include "lib/file.h"
#include "mailauth/dkim.h"
#include "mailauth/dkimkey.h"

/* dkimpy's 2048_testkey: its public key as published in
 * 2048_testkey_wo_markers.pub.txt (without the g=* tag). */
#define RSA_TEST_P                                                                         \
	"MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA5Ru5WVhkPiBuE+mOf29uqontUfoQpcWX04sA/"   \
	"V6dRmZ0I2kRHOSKYXLW84sqPiWyfKH4WaP7f0p6RvENyIqFjCYWDPxSX5Ck/rj0jUzQ6FKloUb9M/"      \
	"0hhdUy2xa7przy7wudLu7WpgxyMLogPZfWMV369vvPefyvuXF8B3rCuy5qSNyvnDf0Dn4/"             \
	"blILfyw5df4JWJIj0FfXxc3LMMLQM+Nn8q71iJmH5qXuB78GWUjT7erEXnrXdWKZimM9l6fMSOb6EBm0AwN" \
	"VR+mOGwt05LPrSHFrwKJSNRB5gBOzXfmjdUpghIq+wLF1trz+oJt5CcZs45GPjiuyUomI+HgFpQIDAQAB"
/* RFC 8463 A.2: the public half of the Appendix A Ed25519 key. */
#define ED_TEST_P "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

#define MSG                                                                                \
	"From: Joe <joe@example.test>\r\nTo: Suzie <suzie@example.org>\r\n"                \
	"Subject: keys\r\nDate: Fri, 10 May 2024 10:00:00 +0000\r\n\r\nHi.\r\n"

static void
load(const char *name, struct buf *out)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", DKIM_DATA, name);
	if (file_read(path, 1 << 20, out) != 0)
		fail_msg("cannot read %s", path);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
test_names(void **state)
{
	static const struct {
		const char *s;
		bool ok;
	} rows[] = {
		{"s2026", true},     {"example.test", true}, {"a-b.c1", true},
		{"S2026", true},     {"x", true},	     {"", false},
		{"..", false},	     {".hidden", false},     {"a/b", false},
		{"../etc", false},   {"a..b", false},	     {"trailing.", false},
		{"-a", false},	     {"a-", false},	     {"a_b", false},
		{"a b", false},	     {"caf\xc3\xa9", false}, {"a\\b", false},
		{"a.-b", false},     {"a%2fb", false},
	};
	char label[DKIMKEY_LABEL_MAX + 2], path[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (valid_dkim_name(rows[i].s, DKIM_SELECTOR_MAX) != rows[i].ok)
			fail_msg("row %zu (%s)", i, rows[i].s);
	memset(label, 'a', sizeof(label) - 1);
	label[DKIMKEY_LABEL_MAX] = '\0';
	assert_true(valid_dkim_name(label, DKIM_SELECTOR_MAX));
	label[DKIMKEY_LABEL_MAX] = 'a';
	label[DKIMKEY_LABEL_MAX + 1] = '\0';
	assert_false(valid_dkim_name(label, DKIM_SELECTOR_MAX));
	assert_false(valid_dkim_name("abc.def", 6));
	/* paths: lower-cased, and nothing that leaves the key directory */
	assert_int_equal(dkimkey_path("/var/lib/postern", "Example.TEST", "S2026", path,
				      sizeof(path)),
			 0);
	assert_string_equal(path, "/var/lib/postern/dkim/example.test/s2026.key");
	assert_int_equal(dkimkey_path("/s", "example.test", "../x", path, sizeof(path)), -1);
	assert_int_equal(dkimkey_path("/s", "../../etc", "passwd", path, sizeof(path)), -1);
	assert_int_equal(dkimkey_path("/s", "example.test", "s1", path, 20), -1);
}

static void
test_algo_parse(void **state)
{
	enum dkimkey_algo a;

	(void)state;
	assert_int_equal(dkimkey_algo_parse("rsa2048", &a), 0);
	assert_int_equal(a, DKIMKEY_RSA2048);
	assert_int_equal(dkimkey_algo_parse("ed25519", &a), 0);
	assert_int_equal(a, DKIMKEY_ED25519);
	assert_int_equal(dkimkey_algo_parse("rsa", &a), -1);
	assert_int_equal(dkimkey_algo_parse("RSA2048", &a), -1);
	assert_int_equal(dkimkey_algo_parse("rsa1024", &a), -1);
}

/* parse_file - a data file as a key; fails the test if refused. */
static void
parse_file(const char *name, struct dkimkey *k)
{
	struct buf pem = BUF_INIT;
	const char *why = NULL;

	load(name, &pem);
	if (dkimkey_parse(pem.data, pem.len, k, &why) != 0)
		fail_msg("%s: %s", name, why);
	buf_free(&pem);
}

/* Known keys give the records their publishers give: dkimpy's RSA-2048
 * test key (PKCS#1 PEM) and the RFC 8463 Ed25519 key (PKCS#8). */
static void
test_known_records(void **state)
{
	struct dkimkey k;
	struct dkim_key rec;
	struct buf txt = BUF_INIT;
	const char *why;
	char label[16];

	(void)state;
	parse_file("2048_testkey.key", &k);
	assert_int_equal(k.alg, DKIM_ALG_RSA_SHA256);
	assert_int_equal(k.bits, 2048);
	assert_string_equal(dkimkey_alg_label(&k, label, sizeof(label)), "rsa2048");
	dkimkey_txt(&k, &txt);
	assert_string_equal(buf_cstr(&txt), "v=DKIM1; k=rsa; p=" RSA_TEST_P);
	/* the verifier's parser reads it back */
	assert_int_equal(dkim_key_parse(txt.data, txt.len, &rec, &why), 0);
	assert_int_equal(rec.k, DKIM_KEY_RSA);
	assert_memory_equal(rec.p, k.pub, k.pub_len);
	dkimkey_clear(&k);
	buf_reset(&txt);

	parse_file("ed25519-rfc8463.pem", &k);
	assert_int_equal(k.alg, DKIM_ALG_ED25519_SHA256);
	assert_string_equal(dkimkey_alg_label(&k, label, sizeof(label)), "ed25519");
	dkimkey_txt(&k, &txt);
	assert_string_equal(buf_cstr(&txt), "v=DKIM1; k=ed25519; p=" ED_TEST_P);
	assert_int_equal(dkim_key_parse(txt.data, txt.len, &rec, &why), 0);
	assert_int_equal(rec.k, DKIM_KEY_ED25519);
	dkimkey_clear(&k);
	buf_free(&txt);
}

/* The zone line: one name, the record in strings of at most 255 bytes
 * that concatenate back to it (RFC 6376 3.6.2.2). */
static void
test_zone_line(void **state)
{
	struct dkimkey k;
	struct buf line = BUF_INIT, txt = BUF_INIT, joined = BUF_INIT;
	const char *p, *q;
	size_t strings = 0;

	(void)state;
	parse_file("ed25519-rfc8463.pem", &k);
	assert_int_equal(dkimkey_zone_line("Example.Test", "S2026", &k, &line), 0);
	assert_string_equal(buf_cstr(&line), "s2026._domainkey.example.test. IN TXT ( "
					     "\"v=DKIM1; k=ed25519; p=" ED_TEST_P "\" )");
	assert_int_equal(dkimkey_zone_line("example.test", "bad/sel", &k, &line), -1);
	dkimkey_clear(&k);
	buf_reset(&line);

	parse_file("2048_testkey.key", &k);
	dkimkey_txt(&k, &txt);
	assert_int_equal(dkimkey_zone_line("example.test", "rsa", &k, &line), 0);
	p = buf_cstr(&line);
	assert_true(strncmp(p, "rsa._domainkey.example.test. IN TXT ( \"", 39) == 0);
	assert_true(strcmp(p + line.len - 3, "\" )") == 0);
	for (p = strchr(p, '"'); p != NULL; p = strchr(q + 1, '"')) {
		q = strchr(p + 1, '"');
		assert_non_null(q);
		assert_true(q - p - 1 <= DKIMKEY_TXT_CHUNK);
		buf_add(&joined, p + 1, (size_t)(q - p - 1));
		strings++;
	}
	assert_int_equal(strings, 2); /* 410 bytes: 255 + 155 */
	assert_string_equal(buf_cstr(&joined), buf_cstr(&txt));
	dkimkey_clear(&k);
	buf_free(&line);
	buf_free(&txt);
	buf_free(&joined);
}

/* sign_verify - sign MSG with k and verify it against k's own record. */
static void
sign_verify(const struct dkimkey *k)
{
	struct dkim_signer s = {"example.test", "s1",	    NULL, k->alg, DKIM_CANON_RELAXED,
				DKIM_CANON_RELAXED, k->pem, time(NULL), 0, NULL};
	struct buf sig = BUF_INIT, msg = BUF_INIT, txt = BUF_INIT;
	struct dkim_keyans ans;
	struct dkim_sigres res;
	struct dkim_verify *v;
	const char *why = NULL;

	if (dkim_sign(MSG, strlen(MSG), &s, &sig, &why) != 0)
		fail_msg("sign: %s", why);
	buf_add(&msg, sig.data, sig.len);
	buf_adds(&msg, MSG);
	dkimkey_txt(k, &txt);
	ans = (struct dkim_keyans){DKIM_DNS_FOUND, txt.data, txt.len};
	assert_int_equal(dkim_verify_begin(msg.data, msg.len, &v, &why), 0);
	assert_int_equal(dkim_verify_count(v), 1);
	dkim_verify_sig(v, 0, &ans, time(NULL), &res);
	if (res.result != DKIM_PASS)
		fail_msg("verify: %s", res.reason);
	assert_int_equal(res.alg, k->alg);
	dkim_verify_free(v);
	buf_free(&sig);
	buf_free(&msg);
	buf_free(&txt);
}

static void
test_generate(void **state)
{
	struct dkimkey a, b;
	const char *why = NULL;

	(void)state;
	assert_int_equal(dkimkey_generate(DKIMKEY_RSA2048, &a, &why), 0);
	assert_int_equal(a.alg, DKIM_ALG_RSA_SHA256);
	assert_int_equal(a.bits, DKIMKEY_RSA_BITS);
	assert_true(strncmp(a.pem, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
	assert_int_equal(strlen(a.pem), a.pem_len);
	sign_verify(&a);
	assert_int_equal(dkimkey_generate(DKIMKEY_ED25519, &b, &why), 0);
	assert_int_equal(b.alg, DKIM_ALG_ED25519_SHA256);
	assert_int_equal(b.pub_len, 32);
	assert_true(strncmp(b.pem, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
	sign_verify(&b);
	dkimkey_clear(&b);
	/* two Ed25519 keys are not the same key */
	assert_int_equal(dkimkey_generate(DKIMKEY_ED25519, &b, &why), 0);
	{
		struct dkimkey c;

		assert_int_equal(dkimkey_generate(DKIMKEY_ED25519, &c, &why), 0);
		assert_memory_not_equal(b.pub, c.pub, 32);
		dkimkey_clear(&c);
	}
	dkimkey_clear(&a);
	dkimkey_clear(&b);
	/* clear zeroes, and takes NULL */
	assert_null(a.pem);
	assert_int_equal(a.pub_len, 0);
	dkimkey_clear(NULL);
}

/* pem_of - pk as PKCS#8 PEM, encrypted with pass when not NULL. */
static void
pem_of(EVP_PKEY *pk, const char *pass, struct buf *out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data;
	long n;

	assert_non_null(bio);
	assert_int_equal(PEM_write_bio_PrivateKey(bio, pk, pass ? EVP_aes_256_cbc() : NULL, NULL,
						  0, NULL, (void *)pass),
			 1);
	n = BIO_get_mem_data(bio, &data);
	buf_add(out, data, (size_t)n);
	BIO_free(bio);
}

static void
expect_refused(const char *pem, size_t len, const char *reason)
{
	struct dkimkey k;
	const char *why = NULL;

	if (dkimkey_parse(pem, len, &k, &why) != -1)
		fail_msg("accepted (want \"%s\")", reason);
	if (strstr(why, reason) == NULL)
		fail_msg("got \"%s\", want \"%s\"", why, reason);
	assert_null(k.pem);
}

static void
test_refused_keys(void **state)
{
	struct buf pem = BUF_INIT, big = BUF_INIT;
	EVP_PKEY *pk;

	(void)state;
	expect_refused("", 0, "not a PEM private key");
	expect_refused("hello\n", 6, "not a PEM private key");
	/* a public key is not a private one */
	load("rsa512.pub.b64", &pem);
	expect_refused(pem.data, pem.len, "not a PEM private key");
	buf_reset(&pem);
	load("rsa512.pem", &pem);
	expect_refused(pem.data, pem.len, "shorter than 1024 bits");
	buf_reset(&pem);
	/* a NUL inside the text is not PEM */
	load("ed25519-rfc8463.pem", &pem);
	expect_refused(pem.data, pem.len + 1, "not a PEM private key");
	/* too large, even with a good key first */
	buf_add(&big, pem.data, pem.len);
	while (big.len <= DKIMKEY_FILE_MAX)
		buf_adds(&big, "# padding padding padding padding padding padding padding\n");
	expect_refused(big.data, big.len, "larger than");
	buf_reset(&pem);
	/* not a DKIM algorithm */
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	assert_non_null(pk);
	pem_of(pk, NULL, &pem);
	expect_refused(pem.data, pem.len, "not an RSA or Ed25519 key");
	EVP_PKEY_free(pk);
	buf_reset(&pem);
	/* encrypted: refused with the reason, never a passphrase prompt */
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	assert_non_null(pk);
	pem_of(pk, "secret", &pem);
	assert_non_null(strstr(pem.data, "ENCRYPTED"));
	expect_refused(pem.data, pem.len, "the key is encrypted");
	EVP_PKEY_free(pk);
	buf_free(&pem);
	buf_free(&big);
}

/* new_state_dir - a throwaway state_dir in out (64 bytes). */
static void
new_state_dir(char *out)
{
	snprintf(out, 64, "/tmp/test_dkimkey.XXXXXX");
	assert_non_null(mkdtemp(out));
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0)
		fail_msg("%s: %s", path, strerror(errno));
	return st.st_mode & 07777;
}

/* only_entry - dir holds exactly one entry, name (no temp files). */
static void
only_entry(const char *dir, const char *name)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (strcmp(e->d_name, name) != 0)
			fail_msg("%s: unexpected entry %s", dir, e->d_name);
		n++;
	}
	closedir(d);
	assert_int_equal(n, 1);
}

static void
test_save_load(void **state)
{
	char sd[64], path[512], err[1024];
	struct dkimkey a, b, got;
	const char *why;

	(void)state;
	new_state_dir(sd);
	assert_int_equal(dkimkey_generate(DKIMKEY_ED25519, &a, &why), 0);
	assert_int_equal(dkimkey_generate(DKIMKEY_ED25519, &b, &why), 0);
	/* names are stored lower-case */
	if (dkimkey_save(sd, "Example.Test", "S1", &a, false, err, sizeof(err)) != 0)
		fail_msg("save: %s", err);
	snprintf(path, sizeof(path), "%s/dkim", sd);
	assert_int_equal(mode_of(path), 0700);
	snprintf(path, sizeof(path), "%s/dkim/example.test", sd);
	assert_int_equal(mode_of(path), 0700);
	only_entry(path, "s1.key");
	snprintf(path, sizeof(path), "%s/dkim/example.test/s1.key", sd);
	assert_int_equal(mode_of(path) & 0777, 0600);
	assert_int_equal(dkimkey_load(sd, "example.test", "s1", &got, err, sizeof(err)), 0);
	assert_string_equal(got.pem, a.pem);
	assert_memory_equal(got.pub, a.pub, 32);
	dkimkey_clear(&got);
	/* an existing selector is kept, untouched, without force */
	errno = 0;
	assert_int_equal(dkimkey_save(sd, "example.test", "s1", &b, false, err, sizeof(err)), -1);
	assert_int_equal(errno, EEXIST);
	assert_non_null(strstr(err, "s1.key: exists already"));
	assert_int_equal(dkimkey_load(sd, "example.test", "s1", &got, err, sizeof(err)), 0);
	assert_memory_equal(got.pub, a.pub, 32);
	dkimkey_clear(&got);
	snprintf(path, sizeof(path), "%s/dkim/example.test", sd);
	only_entry(path, "s1.key");
	/* force replaces it */
	assert_int_equal(dkimkey_save(sd, "example.test", "s1", &b, true, err, sizeof(err)), 0);
	assert_int_equal(dkimkey_load(sd, "EXAMPLE.test", "S1", &got, err, sizeof(err)), 0);
	assert_memory_equal(got.pub, b.pub, 32);
	dkimkey_clear(&got);
	only_entry(path, "s1.key");
	/* a key directory someone loosened is tightened again */
	snprintf(path, sizeof(path), "%s/dkim", sd);
	assert_int_equal(chmod(path, 0755), 0);
	assert_int_equal(dkimkey_save(sd, "example.test", "s2", &a, false, err, sizeof(err)), 0);
	assert_int_equal(mode_of(path), 0700);
	/* bad names never reach the file system */
	assert_int_equal(dkimkey_save(sd, "example.test", "../s3", &a, false, err, sizeof(err)),
			 -1);
	assert_int_equal(errno, EINVAL);
	dkimkey_clear(&a);
	dkimkey_clear(&b);
	rm_rf(sd);
}

static void
expect_load_error(const char *sd, const char *sel, const char *reason, int eno)
{
	struct dkimkey k;
	char err[1024];

	errno = 0;
	if (dkimkey_load(sd, "example.test", sel, &k, err, sizeof(err)) != -1)
		fail_msg("%s: loaded (want \"%s\")", sel, reason);
	if (strstr(err, reason) == NULL)
		fail_msg("%s: got \"%s\", want \"%s\"", sel, err, reason);
	assert_int_equal(errno, eno);
	assert_null(k.pem);
}

static void
test_load_refused(void **state)
{
	char sd[64], path[512], target[512], err[1024];
	struct buf pem = BUF_INIT;
	struct dkimkey k;
	const char *why;
	FILE *fp;

	(void)state;
	new_state_dir(sd);
	expect_load_error(sd, "nosuch", "no key file (`postern dkim keygen example.test nosuch`",
			  ENOENT);
	assert_int_equal(dkimkey_generate(DKIMKEY_ED25519, &k, &why), 0);
	assert_int_equal(dkimkey_save(sd, "example.test", "s1", &k, false, err, sizeof(err)), 0);
	dkimkey_clear(&k);
	snprintf(path, sizeof(path), "%s/dkim/example.test/s1.key", sd);
	/* readable by others: refused with the fix */
	assert_int_equal(chmod(path, 0644), 0);
	expect_load_error(sd, "s1", "group or others may access it (mode 644): chmod 600 it",
			  EPERM);
	assert_int_equal(chmod(path, 0600), 0);
	/* a symbolic link, even to a good key */
	snprintf(target, sizeof(target), "%s/dkim/example.test/link.key", sd);
	assert_int_equal(symlink(path, target), 0);
	expect_load_error(sd, "link", "is a symbolic link", ELOOP);
	/* a directory */
	snprintf(target, sizeof(target), "%s/dkim/example.test/dir.key", sd);
	assert_int_equal(mkdir(target, 0700), 0);
	expect_load_error(sd, "dir", "not a regular file", EINVAL);
	/* too large */
	snprintf(target, sizeof(target), "%s/dkim/example.test/big.key", sd);
	fp = fopen(target, "w");
	assert_non_null(fp);
	for (int i = 0; i <= DKIMKEY_FILE_MAX / 8; i++)
		fputs("########", fp);
	fclose(fp);
	assert_int_equal(chmod(target, 0600), 0);
	expect_load_error(sd, "big", "larger than 16384 bytes", EFBIG);
	/* not a key: the reason and the file */
	load("rsa512.pem", &pem);
	snprintf(target, sizeof(target), "%s/dkim/example.test/short.key", sd);
	fp = fopen(target, "w");
	assert_non_null(fp);
	fwrite(pem.data, 1, pem.len, fp);
	fclose(fp);
	assert_int_equal(chmod(target, 0600), 0);
	snprintf(err, sizeof(err), "%s: RSA key shorter than 1024 bits", target);
	expect_load_error(sd, "short", err, EINVAL);
	expect_load_error(sd, "../s1", "are not a domain and a selector", EINVAL);
	/* the good one still loads */
	assert_int_equal(dkimkey_load(sd, "example.test", "s1", &k, err, sizeof(err)), 0);
	dkimkey_clear(&k);
	buf_free(&pem);
	rm_rf(sd);
}

/* What the daemon checks at start and on reload: each configured
 * selector's key, named by the config line that asks for it. */
static void
test_check_conf(void **state)
{
	char sd[64], text[1024], err[2048], want[1024];
	struct dkimkey k;
	struct conf cf;
	const char *why;

	(void)state;
	new_state_dir(sd);
	snprintf(text, sizeof(text),
		 "state_dir %s\nlisten 127.0.0.1:25 { role mx }\n"
		 "domain example.test {\n deliver smtp://127.0.0.1:2525\n dkim selector s1\n"
		 " dkim selector s2\n}\ndomain plain.test { deliver smtp://127.0.0.1:2525 }\n",
		 sd);
	if (conf_parse("k.conf", text, strlen(text), &cf, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(dkimkey_check_conf(&cf, (uid_t)-1, err, sizeof(err)), -1);
	snprintf(want, sizeof(want),
		 "k.conf:5: domain example.test: dkim selector s1: %s/dkim/example.test/s1.key: "
		 "no key file (`postern dkim keygen example.test s1` makes one)",
		 sd);
	assert_string_equal(err, want);
	assert_int_equal(dkimkey_generate(DKIMKEY_ED25519, &k, &why), 0);
	assert_int_equal(dkimkey_save(sd, "example.test", "s1", &k, false, err, sizeof(err)), 0);
	assert_int_equal(dkimkey_check_conf(&cf, (uid_t)-1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "k.conf:6: domain example.test: dkim selector s2: "));
	assert_int_equal(dkimkey_save(sd, "example.test", "s2", &k, false, err, sizeof(err)), 0);
	if (dkimkey_check_conf(&cf, (uid_t)-1, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(dkimkey_check_conf(&cf, getuid(), err, sizeof(err)), 0);
	/* a key the queue's user does not own would not be readable by it */
	snprintf(want, sizeof(want), "owned by uid %u, but the queue process signs as postern "
				     "(uid %u): chown postern %s/dkim/example.test/s1.key",
		 (unsigned)getuid(), (unsigned)getuid() + 1, sd);
	assert_int_equal(dkimkey_check_conf(&cf, getuid() + 1, err, sizeof(err)), -1);
	if (strstr(err, want) == NULL)
		fail_msg("got \"%s\", want \"%s\"", err, want);
	dkimkey_clear(&k);
	conf_free(&cf);
	rm_rf(sd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),	      cmocka_unit_test(test_algo_parse),
		cmocka_unit_test(test_known_records), cmocka_unit_test(test_zone_line),
		cmocka_unit_test(test_generate),      cmocka_unit_test(test_refused_keys),
		cmocka_unit_test(test_save_load),     cmocka_unit_test(test_load_refused),
		cmocka_unit_test(test_check_conf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
