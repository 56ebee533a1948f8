/* SPDX-License-Identifier: ISC */
/*
 * fuzz_adminreq - admin_req_decode (src/admin/request.c), the parser of
 * what any local user may write to the control socket and any API client
 * may post, admin_verb_role over whatever words it accepts, and
 * api_login_parse (src/admin/api.c) on the same bytes as a login body.
 *
 * Properties checked beyond the sanitizers: an accepted request has 1 to
 * ADMIN_ARGS_MAX words, each non-empty, at most ADMIN_ARG_MAX bytes and
 * free of control characters, a NULL after the last, and at most
 * ADMIN_STDIN_MAX bytes of input; encoding it again and decoding that
 * gives the same request (the codec is lossless); the role table answers
 * one of the four roles; a refused request is left empty; an accepted
 * login is NUL, an account without NUL, NUL, then a password and code of
 * bounded length.
 * Seeds (corpus/adminreq/, ours, ISC): requests valid and not.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admin/api.h"
#include "admin/request.h"
#include "admin/role.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_words(const struct admin_req *r)
{
	int i;
	size_t j;

	if (r->argc < 1 || r->argc > ADMIN_ARGS_MAX || r->argv[r->argc] != NULL ||
	    r->in.len > ADMIN_STDIN_MAX)
		abort();
	for (i = 0; i < r->argc; i++) {
		size_t len = strlen(r->argv[i]);

		if (len == 0 || len > ADMIN_ARG_MAX)
			abort();
		for (j = 0; j < len; j++)
			if ((unsigned char)r->argv[i][j] < 0x20 || r->argv[i][j] == 0x7f)
				abort();
	}
}

static void
check_login(const uint8_t *data, size_t size)
{
	struct buf plain = BUF_INIT;
	char err[128];
	const char *nul;

	if (api_login_parse((const char *)data, size, &plain, err, sizeof(err)) == 0) {
		nul = plain.len > 1 ? memchr(plain.data + 1, '\0', plain.len - 1) : NULL;
		if (plain.data[0] != '\0' || nul == NULL ||
		    plain.len - (size_t)(nul + 1 - plain.data) > API_PASSWORD_MAX + API_CODE_MAX ||
		    plain.len - (size_t)(nul + 1 - plain.data) < 7)
			abort();
	} else if (plain.len != 0) {
		abort();
	}
	buf_wipe_free(&plain);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct admin_req r, again;
	struct buf line = BUF_INIT;
	char err[256];
	enum admin_role role;
	int i;

	check_login(data, size);
	if (admin_req_decode((const char *)data, size, &r, err, sizeof(err)) == -1) {
		if (r.argc != 0 || r.in.len != 0)
			abort();
		admin_req_free(&r);
		return 0;
	}
	check_words(&r);
	role = admin_verb_role(r.argc, r.argv);
	if (role != ROLE_NONE && role != ROLE_AUDITOR && role != ROLE_OPERATOR &&
	    role != ROLE_ADMIN)
		abort();
	admin_req_encode(r.argc, r.argv, r.in.len ? r.in.data : NULL, r.in.len, &line);
	if (admin_req_decode(line.data, line.len, &again, err, sizeof(err)) == -1 ||
	    again.argc != r.argc || again.in.len != r.in.len ||
	    (r.in.len && memcmp(again.in.data, r.in.data, r.in.len) != 0))
		abort();
	for (i = 0; i < r.argc; i++)
		if (strcmp(again.argv[i], r.argv[i]) != 0)
			abort();
	admin_req_free(&again);
	admin_req_free(&r);
	buf_free(&line);
	return 0;
}
