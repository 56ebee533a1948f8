/* SPDX-License-Identifier: ISC */
/*
 * confparse - the generic block syntax of postern's config file:
 *
 *     directive arg "quoted arg" {
 *         inner arg; other arg
 *     }
 *
 * A statement ends at a newline, a ';' or a closing '}'. '#' starts a
 * comment. Strings in double quotes may contain spaces and the escapes \"
 * and \\. This module builds a tree of nodes; conf.c gives it meaning.
 *
 * SECURITY: pure parser (bytes in, tree or error out), fuzzed. Limits on
 * nesting depth, token length and argument count keep hostile input bounded.
 */
#ifndef POSTERN_CONFPARSE_H
#define POSTERN_CONFPARSE_H

#include <stddef.h>

#define CONF_MAX_DEPTH 8
#define CONF_MAX_TOKEN 4096
#define CONF_MAX_ARGS 64
#define CONF_ERR_MAX 512

struct conf_node {
	char *name;
	char **args;
	size_t nargs;
	struct conf_node *children; /* array */
	size_t nchildren;
	int has_block;
	int line;
};

/* conf_parse_text - parse len bytes of text from the file named file
 * (for messages). On success returns 0 and a root node whose children are
 * the top-level statements; on error returns -1 and writes
 * "file:line: message" into err. */
int conf_parse_text(const char *file, const char *text, size_t len, struct conf_node *root,
		    char *err, size_t errsz);
/* conf_node_free - free a tree built by conf_parse_text (not the root). */
void conf_node_free(struct conf_node *root);

#endif
