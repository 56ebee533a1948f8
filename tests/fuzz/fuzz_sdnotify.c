/* SPDX-License-Identifier: ISC */
/*
 * fuzz_sdnotify - sdnotify_addr_parse, the $NOTIFY_SOCKET value a service
 * manager hands the parent (src/lib/sdnotify.c).
 *
 * Input: the value (up to the first NUL).
 *
 * Properties checked beyond the sanitizers: an accepted value gives an
 * AF_UNIX address whose length covers exactly the name (a path with its
 * NUL, an abstract name after its leading NUL) and never more than the
 * structure; the name is the input's; a refused value leaves the address
 * zeroed and the length 0.
 * Seeds (corpus/sdnotify/, all ours, ISC): paths, abstract names, junk.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/sdnotify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_refused(const struct sockaddr_un *sun, socklen_t len)
{
	static const struct sockaddr_un zero;

	if (len != 0 || memcmp(sun, &zero, sizeof(zero)) != 0)
		abort();
}

static void
check_accepted(const char *s, const struct sockaddr_un *sun, socklen_t len)
{
	size_t n = strlen(s), off = offsetof(struct sockaddr_un, sun_path);

	if (sun->sun_family != AF_UNIX || len > sizeof(*sun) || n < 2)
		abort();
	if (s[0] == '@') {
		if (len != off + n || sun->sun_path[0] != '\0' ||
		    memcmp(sun->sun_path + 1, s + 1, n - 1) != 0)
			abort();
	} else if (s[0] != '/' || len != off + n + 1 || strcmp(sun->sun_path, s) != 0) {
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_un sun;
	socklen_t len;
	char *s;

	if (size > 4096)
		return 0;
	s = malloc(size + 1);
	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (sdnotify_addr_parse(s, &sun, &len) == 0)
		check_accepted(s, &sun, len);
	else
		check_refused(&sun, len);
	free(s);
	return 0;
}
