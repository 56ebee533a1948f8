/* SPDX-License-Identifier: ISC */
/*
 * confparse - lexer and parser for the block-structured config syntax.
 *
 * SECURITY: pure; input comes from the operator's file but is still treated
 * as untrusted (fuzzed, bounded depth, bounded tokens).
 */
#include "conf/confparse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/util.h"

enum tok { TOK_WORD, TOK_OPEN, TOK_CLOSE, TOK_END, TOK_EOF, TOK_ERROR };

struct lexer {
	const char *file;
	const char *p, *end;
	int line;
	struct buf word;
	char *err;
	size_t errsz;
};

static int __attribute__((format(printf, 3, 4)))
lex_error(struct lexer *lx, int line, const char *fmt, ...)
{
	char msg[CONF_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(lx->err, lx->errsz, "%s:%d: %s", lx->file, line, msg);
	return TOK_ERROR;
}

static int
is_word_char(char c)
{
	return c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '{' && c != '}' &&
	       c != ';' && c != '#' && c != '"';
}

static enum tok
lex_quoted(struct lexer *lx)
{
	int start = lx->line;

	lx->p++;
	while (lx->p < lx->end && *lx->p != '"') {
		char c = *lx->p++;

		if (c == '\n' || c == '\0')
			return lex_error(lx, start, "unterminated string");
		if (c == '\\') {
			if (lx->p >= lx->end || (*lx->p != '"' && *lx->p != '\\'))
				return lex_error(lx, lx->line, "bad escape in string");
			c = *lx->p++;
		}
		if (lx->word.len >= CONF_MAX_TOKEN)
			return lex_error(lx, lx->line, "string too long");
		buf_addc(&lx->word, c);
	}
	if (lx->p >= lx->end)
		return lex_error(lx, start, "unterminated string");
	lx->p++;
	return TOK_WORD;
}

/* lex_next - the next token; words land in lx->word. */
static enum tok
lex_next(struct lexer *lx)
{
	buf_reset(&lx->word);
	for (;;) {
		if (lx->p >= lx->end)
			return TOK_EOF;
		if (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r') {
			lx->p++;
		} else if (*lx->p == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		} else {
			break;
		}
	}
	switch (*lx->p) {
	case '\n':
		lx->p++;
		lx->line++;
		return TOK_END;
	case ';':
		lx->p++;
		return TOK_END;
	case '{':
		lx->p++;
		return TOK_OPEN;
	case '}':
		lx->p++;
		return TOK_CLOSE;
	case '"':
		return lex_quoted(lx);
	case '\0':
		return lex_error(lx, lx->line, "NUL byte in config");
	}
	while (lx->p < lx->end && is_word_char(*lx->p)) {
		if (*lx->p == '\0')
			return lex_error(lx, lx->line, "NUL byte in config");
		if (lx->word.len >= CONF_MAX_TOKEN)
			return lex_error(lx, lx->line, "word too long");
		buf_addc(&lx->word, *lx->p++);
	}
	return TOK_WORD;
}

static struct conf_node *
node_append(struct conf_node *parent, const char *name, int line)
{
	struct conf_node *n;

	parent->children =
		xreallocarray(parent->children, parent->nchildren + 1, sizeof(*parent->children));
	n = &parent->children[parent->nchildren++];
	memset(n, 0, sizeof(*n));
	n->name = xstrdup(name);
	n->line = line;
	return n;
}

static int parse_block(struct lexer *lx, struct conf_node *parent, int depth, int open_line);

/* parse_statement - the rest of a statement whose name was just read. */
static int
parse_statement(struct lexer *lx, struct conf_node *parent, int depth, enum tok *last)
{
	struct conf_node *n = node_append(parent, buf_cstr(&lx->word), lx->line);
	enum tok t;

	for (;;) {
		t = lex_next(lx);
		if (t == TOK_ERROR)
			return -1;
		if (t != TOK_WORD)
			break;
		if (n->nargs >= CONF_MAX_ARGS) {
			lex_error(lx, lx->line, "too many arguments to '%s'", n->name);
			return -1;
		}
		n->args = xreallocarray(n->args, n->nargs + 1, sizeof(*n->args));
		n->args[n->nargs++] = xstrdup(buf_cstr(&lx->word));
	}
	if (t == TOK_OPEN) {
		if (depth + 1 >= CONF_MAX_DEPTH) {
			lex_error(lx, lx->line, "blocks nested too deeply");
			return -1;
		}
		n->has_block = 1;
		if (parse_block(lx, n, depth + 1, lx->line) == -1)
			return -1;
		t = TOK_END;
	}
	*last = t;
	return 0;
}

/* parse_block - statements until '}' (depth > 0) or end of input. */
static int
parse_block(struct lexer *lx, struct conf_node *parent, int depth, int open_line)
{
	enum tok t;

	for (;;) {
		t = lex_next(lx);
	again:
		switch (t) {
		case TOK_ERROR:
			return -1;
		case TOK_END:
			continue;
		case TOK_EOF:
			if (depth > 0) {
				lex_error(lx, open_line, "block opened here is never closed");
				return -1;
			}
			return 0;
		case TOK_CLOSE:
			if (depth == 0) {
				lex_error(lx, lx->line, "unexpected '}'");
				return -1;
			}
			return 0;
		case TOK_OPEN:
			lex_error(lx, lx->line, "'{' without a directive");
			return -1;
		case TOK_WORD:
			if (parse_statement(lx, parent, depth, &t) == -1)
				return -1;
			if (t == TOK_CLOSE || t == TOK_EOF)
				goto again;
			continue;
		}
	}
}

int
conf_parse_text(const char *file, const char *text, size_t len, struct conf_node *root,
		char *err, size_t errsz)
{
	struct lexer lx;
	int rc;

	memset(root, 0, sizeof(*root));
	memset(&lx, 0, sizeof(lx));
	lx.file = file;
	lx.p = text;
	lx.end = text + len;
	lx.line = 1;
	lx.err = err;
	lx.errsz = errsz;
	buf_init(&lx.word);
	rc = parse_block(&lx, root, 0, 1);
	buf_free(&lx.word);
	if (rc == -1) {
		conf_node_free(root);
		return -1;
	}
	return 0;
}

void
conf_node_free(struct conf_node *root)
{
	size_t i;

	if (root == NULL)
		return;
	for (i = 0; i < root->nchildren; i++) {
		conf_node_free(&root->children[i]);
		free(root->children[i].name);
	}
	for (i = 0; i < root->nargs; i++)
		free(root->args[i]);
	free(root->args);
	free(root->children);
	root->children = NULL;
	root->nchildren = 0;
	root->args = NULL;
	root->nargs = 0;
}
