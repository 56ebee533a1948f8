/* SPDX-License-Identifier: ISC */
/*
 * fuzz_config - the config lexer/parser (confparse.c) and the schema
 * (conf.c) on arbitrary text.
 *
 * Checked: every error is one line "fuzz.conf:N: message" whose N is a line
 * of the input ("fuzz.conf: message" only for what the whole file lacks,
 * from the schema, never from the parser), the tree's node lines are lines
 * of the input, and an accepted config survives `postern config dump`: the
 * dump parses again to the same dump.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "conf/confparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FILE_NAME "fuzz.conf"

/* check_err - "fuzz.conf:N: text" with 1 <= N <= lines, or, when
 * whole_file, also "fuzz.conf: text" (something missing from the file). */
static void
check_err(const char *err, size_t lines, bool whole_file)
{
	size_t flen = strlen(FILE_NAME), i;
	unsigned long line = 0;

	if (strncmp(err, FILE_NAME ":", flen + 1) != 0)
		abort();
	i = flen + 1;
	if (whole_file && err[i] == ' ' && err[i + 1] != '\0' && strchr(err, '\n') == NULL)
		return;
	if (err[i] < '0' || err[i] > '9')
		abort();
	for (; err[i] >= '0' && err[i] <= '9'; i++)
		line = line * 10 + (unsigned long)(err[i] - '0');
	if (err[i] != ':' || err[i + 1] != ' ' || err[i + 2] == '\0')
		abort();
	if (line < 1 || line > lines)
		abort();
	if (strchr(err, '\n') != NULL)
		abort();
}

static void
check_tree(const struct conf_node *n, size_t lines)
{
	size_t i;

	for (i = 0; i < n->nchildren; i++) {
		const struct conf_node *c = &n->children[i];

		if (c->line < 1 || (size_t)c->line > lines || c->name == NULL)
			abort();
		if (c->nargs > CONF_MAX_ARGS || (c->nchildren > 0 && !c->has_block))
			abort();
		check_tree(c, lines);
	}
}

static void
check_dump(const struct conf *cf)
{
	struct buf d1 = BUF_INIT, d2 = BUF_INIT;
	struct conf again;
	char err[CONF_ERR_MAX + 64];

	conf_dump(cf, &d1);
	if (conf_parse("dump.conf", buf_cstr(&d1), d1.len, &again, err, sizeof(err)) == -1)
		abort();
	conf_dump(&again, &d2);
	if (d1.len != d2.len || memcmp(d1.data, d2.data, d1.len) != 0)
		abort();
	conf_free(&again);
	buf_free(&d1);
	buf_free(&d2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[CONF_ERR_MAX + 64];
	struct conf_node root;
	struct conf cf;
	const char *text = (const char *)data;
	size_t lines = 1, i;
	int rc;

	if (size > 65536)
		return 0;
	for (i = 0; i < size; i++)
		lines += data[i] == '\n';
	memset(err, 0, sizeof(err));
	rc = conf_parse_text(FILE_NAME, text, size, &root, err, sizeof(err));
	if (rc == 0) {
		check_tree(&root, lines);
		conf_node_free(&root);
	} else {
		check_err(err, lines, false);
	}
	memset(err, 0, sizeof(err));
	if (conf_parse(FILE_NAME, text, size, &cf, err, sizeof(err)) == 0) {
		if (rc != 0 || cf.nlisteners == 0 || cf.state_dir == NULL)
			abort();
		check_dump(&cf);
		conf_free(&cf);
	} else {
		check_err(err, lines, true);
	}
	return 0;
}
