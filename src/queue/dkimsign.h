/* SPDX-License-Identifier: ISC */
/*
 * dkimsign - the queue process's DKIM signer: the keys of every configured
 * selector, and the signatures of a message read back from its spool file
 * while it is being committed.
 *
 * A message is signed when the smtp process marked it originated (an
 * authenticated user or a trusted network sent it, see envelope.h) and
 * its From: field names one domain that has `dkim selector`s: one
 * DKIM-Signature per selector, in the config's order, relaxed/relaxed,
 * t= the commit time, d= that domain. The header section is read first
 * (so a message we do not sign costs one small read), then the body
 * streams through one body hash shared by every selector.
 *
 * SECURITY: runs in the queue process, the only one that holds private
 * keys: they are loaded from state_dir/dkim at start and on reload,
 * parsed once (dkim_privkey_load; the PEM text is wiped at once), and
 * freed, which wipes them, when the last commit that uses a key set is
 * done. Signing runs in the committer's threads, which only read a key
 * set (OpenSSL lets several threads sign with one key); its reference
 * count is changed on the event loop only. The spool file's content came from
 * the network: the header section we read is bounded by
 * DKIMSIGN_HEADER_MAX and parsed by the bounded DKIM and address parsers.
 * Signing is a service to our own senders, not a check: a message we
 * cannot or need not sign (no From:, several From: fields or domains, a
 * domain without selectors, a malformed header section) is committed
 * unsigned with the reason; only an I/O or crypto failure fails the
 * commit (a 4xx, the client retries), so mail of a signing domain never
 * leaves unsigned by accident. Which mail is "originated" is the smtp
 * process's word: a compromised smtp process could have any mail for our
 * domains signed, but never read a key.
 * STANDARDS: RFC 6376 5 (signer actions), 5.4.1 (fields signed), 3.7
 * (hashes); RFC 8463 (Ed25519); RFC 5322 3.6.2 (From:); RFC 5321 4.5.2
 * (the stored wire form is dot-stuffed).
 */
#ifndef POSTERN_DKIMSIGN_H
#define POSTERN_DKIMSIGN_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conf/conf.h"
#include "lib/buf.h"

/* The header section we read to sign (1 MiB); a longer one is left
 * unsigned. */
#define DKIMSIGN_HEADER_MAX (1024 * 1024)
/* Bytes read from the spool file at a time. */
#define DKIMSIGN_CHUNK (64 * 1024)

struct dkimsign;

enum dkimsign_result {
	DKIMSIGN_SIGNED,   /* out holds the signatures */
	DKIMSIGN_UNSIGNED, /* nothing to sign, o->reason says why */
	DKIMSIGN_ERROR,	   /* o->err (errno) or o->reason: fail the commit */
};

/* What happened to one message, for the log line on the event loop. */
struct dkimsign_outcome {
	char domain[CONF_HOSTNAME_MAX + 1]; /* the From: domain, "" if none */
	char selectors[CONF_DKIM_SELECTORS_MAX * (CONF_SELECTOR_MAX + 1)]; /* "s1,s2" */
	const char *reason; /* static text: why unsigned, or what failed */
	int err;	    /* an I/O failure's errno, or 0 */
};

/* dkimsign_load - the keys of every `dkim selector` of cf, with one
 * reference. NULL with err when a key does not load (the parent checks
 * the keys before it starts us or sends a new config, so this is a key
 * removed or damaged in between). */
struct dkimsign *dkimsign_load(const struct conf *cf, char *err, size_t errsz);
/* dkimsign_ref, dkimsign_unref - on the event loop only; the last unref
 * wipes the keys. unref takes NULL. */
struct dkimsign *dkimsign_ref(struct dkimsign *ks);
void dkimsign_unref(struct dkimsign *ks);
/* dkimsign_count - the number of keys: 0 means nothing is ever signed. */
size_t dkimsign_count(const struct dkimsign *ks);

/* dkimsign_spool - sign the message stored (wire form) at fd's offsets
 * [off, off + len) with the keys of its From: domain, appending the
 * DKIM-Signature fields to out. Thread-safe for a set nobody unrefs
 * meanwhile. */
enum dkimsign_result dkimsign_spool(const struct dkimsign *ks, int fd, uint64_t off,
				    uint64_t len, time_t now, struct buf *out,
				    struct dkimsign_outcome *o);

#endif
