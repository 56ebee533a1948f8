/* SPDX-License-Identifier: ISC */
/*
 * fuzz_dkimsign - the queue's DKIM signer (src/queue/dkimsign.c) on a
 * stored message that came from the network: the input is the wire form
 * (dot-stuffed) after a fake envelope in a memory file, signed with an
 * Ed25519 key for example.test made at start in a throwaway state_dir.
 *
 * Checked: a readable file is never an error; unsigned means nothing was
 * written and a reason is given; signed means the From: domain is
 * example.test and the one signature verifies, with our verifier and the
 * key's own record, over the message with its stuffing dots removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf/conf.h"
#include "lib/buf.h"
#include "lib/file.h"
#include "mail/data.h"
#include "mailauth/dkim.h"
#include "mailauth/dkimkey.h"
#include "queue/dkimsign.h"

#define PREFIX "ENVELOPE\n"
#define NOW 1700000000

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct dkimsign *keys;
static struct buf record = BUF_INIT;
static int fd = -1;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char sd[] = "/tmp/fuzz_dkimsign.XXXXXX", text[512], err[2048], path[600];
	struct dkimkey k;
	struct conf cf;
	const char *why;

	(void)argc;
	(void)argv;
	if (mkdtemp(sd) == NULL || dkimkey_generate(DKIMKEY_ED25519, &k, &why) != 0 ||
	    dkimkey_save(sd, "example.test", "s", &k, false, err, sizeof(err)) != 0)
		abort();
	dkimkey_txt(&k, &record);
	dkimkey_clear(&k);
	snprintf(text, sizeof(text),
		 "state_dir %s\nlisten 127.0.0.1:25 { role mx }\n"
		 "domain example.test { deliver smtp://127.0.0.1:2525; dkim selector s }\n",
		 sd);
	if (conf_parse("f.conf", text, strlen(text), &cf, err, sizeof(err)) != 0 ||
	    (keys = dkimsign_load(&cf, err, sizeof(err))) == NULL)
		abort();
	conf_free(&cf);
	/* the key is in memory now: leave nothing behind */
	snprintf(path, sizeof(path), "%s/dkim/example.test/s.key", sd);
	unlink(path);
	snprintf(path, sizeof(path), "%s/dkim/example.test", sd);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/dkim", sd);
	rmdir(path);
	rmdir(sd);
	fd = memfd_create("fuzz_dkimsign", MFD_CLOEXEC);
	if (fd == -1)
		abort();
	return 0;
}

static void
check_signed(const struct buf *sig, const uint8_t *data, size_t size)
{
	struct buf msg = BUF_INIT;
	struct data_unstuff u;
	struct dkim_verify *v;
	struct dkim_sigres res;
	struct dkim_keyans ans = {DKIM_DNS_FOUND, record.data, record.len};
	const char *why;

	buf_add(&msg, sig->data, sig->len);
	data_unstuff_init(&u);
	data_unstuff(&u, (const char *)data, size, &msg);
	if (dkim_verify_begin(msg.data, msg.len, &v, &why) != 0 || dkim_verify_count(v) < 1)
		abort();
	dkim_verify_sig(v, 0, &ans, NOW + 1, &res);
	if (res.result != DKIM_PASS || strcmp(res.d, "example.test") != 0)
		abort();
	dkim_verify_free(v);
	buf_free(&msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dkimsign_outcome o;
	struct buf out = BUF_INIT;
	enum dkimsign_result r;

	if (ftruncate(fd, 0) != 0 || pwrite_all(fd, PREFIX, strlen(PREFIX), 0) != 0 ||
	    (size > 0 && pwrite_all(fd, data, size, (off_t)strlen(PREFIX)) != 0))
		abort();
	r = dkimsign_spool(keys, fd, strlen(PREFIX), size, NOW, &out, &o);
	if (r == DKIMSIGN_ERROR)
		abort();
	if (r == DKIMSIGN_UNSIGNED && (out.len != 0 || o.reason == NULL))
		abort();
	if (r == DKIMSIGN_SIGNED) {
		if (strcmp(o.domain, "example.test") != 0 || strcmp(o.selectors, "s") != 0 ||
		    strncmp(out.data, "DKIM-Signature:", 15) != 0)
			abort();
		check_signed(&out, data, size);
	}
	buf_free(&out);
	return 0;
}
