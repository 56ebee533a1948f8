/* SPDX-License-Identifier: ISC */
/*
 * test_dkimsign - the queue's DKIM signer (src/queue/dkimsign.c) on spool
 * files written here: one signature per selector of the From: domain, in
 * the config's order, made over the unstuffed message (dot lines, bodies
 * longer than a read chunk) and verified by our verifier against the
 * keys' own records; everything that is left unsigned and why; an I/O
 * failure is an error; keys that do not load.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "lib/buf.h"
#include "lib/file.h"
#include "mail/data.h"
#include "mailauth/dkim.h"
#include "mailauth/dkimkey.h"
#include "queue/dkimsign.h"

/* Bytes before the message in the file, as a spool file's envelope. */
#define PREFIX "ENVELOPE RECORDS\n"
#define NOW 1700000000

struct fixture {
	char sd[64];
	struct conf cf;
	struct dkimkey keys[2]; /* s1 RSA, s2 Ed25519 */
	struct dkimsign *ks;
};

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	char text[1024], err[2048];
	const char *why;

	snprintf(fx->sd, sizeof(fx->sd), "/tmp/test_dkimsign.XXXXXX");
	assert_non_null(mkdtemp(fx->sd));
	assert_int_equal(dkimkey_generate(DKIMKEY_RSA2048, &fx->keys[0], &why), 0);
	assert_int_equal(dkimkey_generate(DKIMKEY_ED25519, &fx->keys[1], &why), 0);
	assert_int_equal(dkimkey_save(fx->sd, "example.test", "s1", &fx->keys[0], false, err,
				      sizeof(err)),
			 0);
	assert_int_equal(dkimkey_save(fx->sd, "example.test", "s2", &fx->keys[1], false, err,
				      sizeof(err)),
			 0);
	snprintf(text, sizeof(text),
		 "state_dir %s\nlisten 127.0.0.1:25 { role mx }\n"
		 "domain example.test { deliver smtp://127.0.0.1:2525; dkim selector s1 s2 }\n"
		 "domain plain.test { deliver smtp://127.0.0.1:2525 }\n",
		 fx->sd);
	if (conf_parse("t.conf", text, strlen(text), &fx->cf, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	fx->ks = dkimsign_load(&fx->cf, err, sizeof(err));
	if (fx->ks == NULL)
		fail_msg("%s", err);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;

	dkimsign_unref(fx->ks);
	dkimkey_clear(&fx->keys[0]);
	dkimkey_clear(&fx->keys[1]);
	conf_free(&fx->cf);
	nftw(fx->sd, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* sign_wire - put wire (stored, dot-stuffed) after PREFIX in a file and
 * sign it; extra is added to the length read (past the end: an I/O error). */
static enum dkimsign_result
sign_wire(struct fixture *fx, const char *wire, size_t len, size_t extra, struct buf *out,
	  struct dkimsign_outcome *o)
{
	char path[128];
	enum dkimsign_result r;
	int fd;

	snprintf(path, sizeof(path), "%s/msg", fx->sd);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd != -1);
	assert_int_equal(write_all(fd, PREFIX, strlen(PREFIX)), 0);
	assert_int_equal(write_all(fd, wire, len), 0);
	r = dkimsign_spool(fx->ks, fd, strlen(PREFIX), len + extra, NOW, out, o);
	close(fd);
	return r;
}

/* verify_signed - sigs + the unstuffed wire verify with both keys. */
static void
verify_signed(struct fixture *fx, const struct buf *sigs, const char *wire, size_t len)
{
	struct buf msg = BUF_INIT, txt[2] = {BUF_INIT, BUF_INIT};
	struct data_unstuff u;
	struct dkim_verify *v;
	struct dkim_sigres res;
	const char *why;
	size_t i;

	buf_add(&msg, sigs->data, sigs->len);
	data_unstuff_init(&u);
	data_unstuff(&u, wire, len, &msg);
	assert_int_equal(dkim_verify_begin(msg.data, msg.len, &v, &why), 0);
	assert_int_equal(dkim_verify_count(v), 2);
	for (i = 0; i < 2; i++) {
		struct dkim_keyans ans;
		char q[DKIM_QNAME_MAX + 1];

		assert_int_equal(dkim_verify_qname(v, i, q, sizeof(q)), 0);
		/* signatures in the config's order */
		assert_string_equal(q, i == 0 ? "s1._domainkey.example.test"
					      : "s2._domainkey.example.test");
		dkimkey_txt(&fx->keys[i], &txt[i]);
		ans = (struct dkim_keyans){DKIM_DNS_FOUND, txt[i].data, txt[i].len};
		dkim_verify_sig(v, i, &ans, NOW + 5, &res);
		if (res.result != DKIM_PASS)
			fail_msg("signature %zu: %s", i, res.reason);
	}
	dkim_verify_free(v);
	buf_free(&msg);
	buf_free(&txt[0]);
	buf_free(&txt[1]);
}

static void
test_signs_every_selector(void **state)
{
	static const char wire[] =
		"Received: from client\r\n\tby us\r\nFrom: Joe\r\n <Joe@Example.TEST>\r\n"
		"To: b@example.org\r\nSubject: dots\r\n\r\n..leading dot\r\n...two\r\nend.\r\n";
	struct fixture *fx = *state;
	struct dkimsign_outcome o;
	struct buf out = BUF_INIT;

	assert_int_equal(dkimsign_count(fx->ks), 2);
	assert_int_equal(sign_wire(fx, wire, sizeof(wire) - 1, 0, &out, &o), DKIMSIGN_SIGNED);
	assert_string_equal(o.domain, "example.test");
	assert_string_equal(o.selectors, "s1,s2");
	assert_non_null(strstr(out.data, "d=example.test;"));
	assert_null(strstr(out.data, "\n."));
	verify_signed(fx, &out, wire, sizeof(wire) - 1);
	buf_free(&out);
}

/* A body longer than a read chunk, with stuffed dots on the boundaries. */
static void
test_long_body(void **state)
{
	struct fixture *fx = *state;
	struct dkimsign_outcome o;
	struct buf wire = BUF_INIT, out = BUF_INIT;

	buf_adds(&wire, "From: a@example.test\r\n\r\n");
	while (wire.len < 3 * DKIMSIGN_CHUNK + 100) {
		buf_adds(&wire, "..a line that began with a dot\r\n");
		buf_adds(&wire, "x\r\n");
	}
	assert_int_equal(sign_wire(fx, wire.data, wire.len, 0, &out, &o), DKIMSIGN_SIGNED);
	verify_signed(fx, &out, wire.data, wire.len);
	/* a message without a body: its header section is all there is */
	buf_reset(&out);
	assert_int_equal(sign_wire(fx, "From: a@example.test\r\n", 22, 0, &out, &o),
			 DKIMSIGN_SIGNED);
	verify_signed(fx, &out, "From: a@example.test\r\n", 22);
	buf_free(&wire);
	buf_free(&out);
}

static void
test_unsigned(void **state)
{
	static const struct {
		const char *wire, *reason, *domain;
	} rows[] = {
		{"To: a@example.test\r\n\r\nbody\r\n", "no From: field", ""},
		{"From: a@example.test\r\nFrom: b@example.test\r\n\r\nx\r\n",
		 "more than one From: field", ""},
		{"From: a@example.test, b@example.org\r\n\r\nx\r\n",
		 "From: addresses in more than one domain", ""},
		{"From: a@plain.test\r\n\r\nx\r\n", "no dkim selector for the From: domain",
		 "plain.test"},
		{"From: a@sub.example.test\r\n\r\nx\r\n", "no dkim selector for the From: domain",
		 "sub.example.test"},
		{"From: friends: a@example.test;\r\n\r\nx\r\n",
		 "no single mailbox list in the From: field", ""},
		{"From: <<<\r\n\r\nx\r\n", "cannot read the From: field", ""},
		{"\r\nFrom: a@example.test\r\n", "no From: field", ""},
		{"", "no From: field", ""},
	};
	struct fixture *fx = *state;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct dkimsign_outcome o;
		struct buf out = BUF_INIT;
		enum dkimsign_result r =
			sign_wire(fx, rows[i].wire, strlen(rows[i].wire), 0, &out, &o);

		if (r != DKIMSIGN_UNSIGNED || strcmp(o.reason, rows[i].reason) != 0)
			fail_msg("row %zu: %d \"%s\"", i, r, o.reason ? o.reason : "");
		assert_string_equal(o.domain, rows[i].domain);
		assert_int_equal(out.len, 0);
		buf_free(&out);
	}
}

static void
test_limits_and_errors(void **state)
{
	struct fixture *fx = *state;
	struct dkimsign_outcome o;
	struct buf wire = BUF_INIT, out = BUF_INIT;
	struct dkimsign *none;
	struct conf cf;
	char err[2048], text[512];

	/* a header section longer than we read */
	buf_adds(&wire, "From: a@example.test\r\n");
	while (wire.len <= DKIMSIGN_HEADER_MAX + DKIMSIGN_CHUNK)
		buf_adds(&wire, "X-Filler: 0123456789012345678901234567890123456789\r\n");
	buf_adds(&wire, "\r\nbody\r\n");
	assert_int_equal(sign_wire(fx, wire.data, wire.len, 0, &out, &o), DKIMSIGN_UNSIGNED);
	assert_string_equal(o.reason, "header section longer than 1 MiB");
	/* a line that is no field: the DKIM parser's reason */
	assert_int_equal(sign_wire(fx, "From: a@example.test\r\nbogus\r\n\r\nx\r\n", 34, 0, &out,
				   &o),
			 DKIMSIGN_UNSIGNED);
	assert_non_null(o.reason);
	/* the file is shorter than the commit says: an error, not unsigned */
	assert_int_equal(sign_wire(fx, "From: a@example.test\r\n\r\nx\r\n", 27, 10, &out, &o),
			 DKIMSIGN_ERROR);
	assert_int_equal(o.err, EIO);
	assert_int_equal(out.len, 0);
	/* without selectors nothing is read or signed */
	snprintf(text, sizeof(text), "state_dir %s\nlisten 127.0.0.1:25 { role mx }\n", fx->sd);
	assert_int_equal(conf_parse("n.conf", text, strlen(text), &cf, err, sizeof(err)), 0);
	none = dkimsign_load(&cf, err, sizeof(err));
	assert_non_null(none);
	assert_int_equal(dkimsign_count(none), 0);
	dkimsign_unref(dkimsign_ref(none));
	assert_int_equal(dkimsign_spool(none, -1, 0, 10, NOW, &out, &o), DKIMSIGN_UNSIGNED);
	assert_string_equal(o.reason, "no dkim selector is configured");
	dkimsign_unref(none);
	conf_free(&cf);
	/* a selector whose key is gone */
	snprintf(text, sizeof(text),
		 "state_dir %s\nlisten 127.0.0.1:25 { role mx }\n"
		 "domain example.test { deliver smtp://127.0.0.1:2525; dkim selector s1 s3 }\n",
		 fx->sd);
	assert_int_equal(conf_parse("m.conf", text, strlen(text), &cf, err, sizeof(err)), 0);
	assert_null(dkimsign_load(&cf, err, sizeof(err)));
	assert_non_null(strstr(err, "domain example.test: dkim selector s3: "));
	assert_non_null(strstr(err, "s3.key: no key file"));
	conf_free(&cf);
	buf_free(&wire);
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_signs_every_selector, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unsigned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits_and_errors, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
