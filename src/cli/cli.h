/* SPDX-License-Identifier: ISC */
/*
 * cli - the `postern` command: subcommand dispatch, usage text.
 *
 * SECURITY: runs with the caller's privileges; talks to a running daemon
 * only through the control socket.
 */
#ifndef POSTERN_CLI_H
#define POSTERN_CLI_H

/* cli_main - run the command line; returns the exit status. */
int cli_main(int argc, char **argv);

#endif
