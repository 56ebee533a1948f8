/* SPDX-License-Identifier: ISC */
/*
 * main - the postern executable.
 */
#include "cli/cli.h"

int
main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
