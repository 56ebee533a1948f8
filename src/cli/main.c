/* SPDX-License-Identifier: ISC */
/*
 * main - the postern executable.
 *
 * SECURITY: nothing here; cli.c parses the command line.
 */
#include "cli/cli.h"

int
main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
