/* SPDX-License-Identifier: ISC */
/*
 * request - admin request and answer codec.
 *
 * SECURITY: see request.h.
 */
#include "admin/request.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/util.h"

#define B64 sodium_base64_VARIANT_ORIGINAL

void
admin_b64_set(json_t *o, const char *key, const void *p, size_t n)
{
	size_t cap = sodium_base64_ENCODED_LEN(n, B64);
	char *s = xmalloc(cap);

	sodium_bin2base64(s, cap, p, n, B64);
	json_object_set_new(o, key, json_string(s));
	free(s);
}

/* b64_get - decode member key of o (absent: nothing) into out, at most max
 * bytes; 0 or -1. */
static int
b64_get(const json_t *o, const char *key, size_t max, struct buf *out)
{
	const json_t *v = json_object_get(o, key);
	const char *s;
	size_t len, got;

	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	len = json_string_length(v);
	if (len / 4 * 3 > max + 2)
		return -1;
	buf_reset(out);
	buf_reserve(out, len / 4 * 3 + 3);
	if (sodium_base642bin((unsigned char *)out->data, len / 4 * 3 + 3, s, len, NULL, &got,
			      NULL, B64) != 0 ||
	    got > max)
		return -1;
	out->len = got;
	out->data[got] = '\0';
	return 0;
}

static bool
valid_arg(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > ADMIN_ARG_MAX || strlen(s) != len)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

int
admin_req_from_json(const json_t *o, struct admin_req *r, char *err, size_t errsz)
{
	const json_t *argv = json_object_get(o, "argv");
	size_t i;

	memset(r, 0, sizeof(*r));
	buf_init(&r->in);
	if (!json_is_object(o) || !json_is_array(argv) || json_array_size(argv) == 0) {
		snprintf(err, errsz, "a request needs \"argv\": [words]");
		return -1;
	}
	if (json_array_size(argv) > ADMIN_ARGS_MAX) {
		snprintf(err, errsz, "more than %d words", ADMIN_ARGS_MAX);
		return -1;
	}
	for (i = 0; i < json_array_size(argv); i++) {
		const json_t *w = json_array_get(argv, i);

		if (!json_is_string(w) || !valid_arg(json_string_value(w), json_string_length(w))) {
			snprintf(err, errsz, "word %zu is empty, too long or has control characters",
				 i + 1);
			admin_req_free(r);
			return -1;
		}
		r->argv[r->argc++] = xstrdup(json_string_value(w));
	}
	if (b64_get(o, "stdin", ADMIN_STDIN_MAX, &r->in) == -1) {
		snprintf(err, errsz, "\"stdin\" is not base64 of at most %d bytes", ADMIN_STDIN_MAX);
		admin_req_free(r);
		return -1;
	}
	return 0;
}

int
admin_req_decode(const char *text, size_t len, struct admin_req *r, char *err, size_t errsz)
{
	json_error_t je;
	json_t *o;
	int rc;

	memset(r, 0, sizeof(*r));
	buf_init(&r->in);
	if (len > ADMIN_REQUEST_MAX) {
		snprintf(err, errsz, "request longer than %d bytes", ADMIN_REQUEST_MAX);
		return -1;
	}
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (o == NULL) {
		snprintf(err, errsz, "request is not JSON: %s", je.text);
		return -1;
	}
	rc = admin_req_from_json(o, r, err, errsz);
	json_decref(o);
	return rc;
}

void
admin_req_free(struct admin_req *r)
{
	int i;

	for (i = 0; i < r->argc; i++)
		free(r->argv[i]);
	r->argc = 0;
	r->argv[0] = NULL;
	buf_wipe_free(&r->in);
}

void
admin_req_encode(int argc, char *const *argv, const void *in, size_t inlen, struct buf *out)
{
	json_t *o = json_object(), *a = json_array();
	char *s;
	int i;

	for (i = 0; i < argc; i++)
		json_array_append_new(a, json_string(argv[i]));
	json_object_set_new(o, "argv", a);
	if (in != NULL)
		admin_b64_set(o, "stdin", in, inlen);
	s = json_dumps(o, JSON_COMPACT);
	if (s == NULL)
		log_fatalx("admin: cannot encode a request");
	buf_adds(out, s);
	buf_adds(out, "\n");
	sodium_memzero(s, strlen(s));
	free(s);
	json_decref(o);
}

void
admin_resp_encode(int status, const struct buf *out, const struct buf *err, struct buf *line)
{
	json_t *o = json_object();
	char *s;

	json_object_set_new(o, "status", json_integer(status));
	admin_b64_set(o, "stdout", out->data, out->len);
	admin_b64_set(o, "stderr", err->data, err->len);
	s = json_dumps(o, JSON_COMPACT);
	if (s == NULL)
		log_fatalx("admin: cannot encode an answer");
	buf_adds(line, s);
	buf_adds(line, "\n");
	free(s);
	json_decref(o);
}

int
admin_resp_decode(const char *text, size_t len, int *status, struct buf *out, struct buf *err)
{
	json_t *o = json_loadb(text, len, 0, NULL);
	const json_t *st = json_object_get(o, "status");
	int rc = -1;

	if (json_is_integer(st) && json_integer_value(st) >= 0 && json_integer_value(st) <= 255 &&
	    b64_get(o, "stdout", ADMIN_OUTPUT_MAX, out) == 0 &&
	    b64_get(o, "stderr", ADMIN_OUTPUT_MAX, err) == 0) {
		*status = (int)json_integer_value(st);
		rc = 0;
	}
	json_decref(o);
	return rc;
}
