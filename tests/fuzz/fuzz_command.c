/* SPDX-License-Identifier: ISC */
/*
 * fuzz_command - the SMTP command line parsers: verb split, MAIL and RCPT
 * paths with ESMTP parameters, BDAT arguments, HELO names.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/syntax.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char reply[SMTP_REPLY_MAX], *line, out[600];
	struct smtp_cmd cmd;
	struct smtp_path path;
	struct mail_params mp;
	struct rcpt_params rp;
	uint64_t n;
	bool last;

	if (size > 4096)
		return 0;
	line = malloc(size + 1);
	memcpy(line, data, size);
	line[size] = '\0';
	smtp_cmd_parse(line, size, &cmd);
	(void)smtp_is_http(line, size);
	switch (cmd.verb) {
	case VERB_MAIL:
		if (smtp_parse_mail(cmd.args, cmd.argslen, &path, &mp, reply) == 0 &&
		    mp.envid[0] != '\0')
			(void)xtext_decode(mp.envid, out, sizeof(out));
		break;
	case VERB_RCPT:
		(void)smtp_parse_rcpt(cmd.args, cmd.argslen, &path, &rp, reply);
		break;
	case VERB_BDAT:
		(void)smtp_parse_bdat(cmd.args, cmd.argslen, &n, &last, reply);
		break;
	default:
		(void)smtp_parse_helo(cmd.args, cmd.argslen);
		(void)smtp_parse_path(line, size, true, &path);
		(void)xtext_encode(line, out, sizeof(out));
		break;
	}
	free(line);
	return 0;
}
