/* SPDX-License-Identifier: ISC */
/*
 * nft - the guard's bans pushed into nftables sets, so that the host's
 * firewall drops a banned client's packets before they reach us
 * (`guard { nftables_set inet filter postern_ban }`). IPv4 bans go to the
 * named set, IPv6 bans to the same name with a "6" appended; the operator
 * creates both with `flags interval, timeout` (docs/operations.md).
 *
 * SECURITY: runs in the parent (root, CAP_NET_ADMIN). Runs nft(8) with an
 * argument vector, never a shell; the set names were checked by the config
 * parser and networks are parsed and printed again here.
 */
#ifndef POSTERN_NFT_H
#define POSTERN_NFT_H

#include <stdint.h>

/* nft_ban - add net (until: unix seconds) to the set of setspec ("family
 * table set"); errors are logged. 0 or -1. */
int nft_ban(const char *setspec, const char *net, uint64_t until);
/* nft_unban - remove net from the set; 0 or -1. */
int nft_unban(const char *setspec, const char *net);

#endif
