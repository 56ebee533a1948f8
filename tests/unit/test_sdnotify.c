/* SPDX-License-Identifier: ISC */
/*
 * test_sdnotify - the service manager's notify protocol (src/lib/sdnotify.c):
 * $NOTIFY_SOCKET values as sd_notify(3) defines them (a table), and one
 * notification sent to an abstract socket of our own, with the variable
 * gone from the environment afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/sdnotify.h"

#define SUN_OFF offsetof(struct sockaddr_un, sun_path)

static void
test_addr(void **state)
{
	static const struct {
		const char *in;
		int ok;
		size_t len; /* expected addrlen beyond sun_path's offset */
	} rows[] = {
		{"/run/systemd/notify", 0, 20},
		{"/a", 0, 3},
		{"@/org/freedesktop/systemd1/notify/123", 0, 37},
		{"@x", 0, 2},
		{"", -1, 0},
		{"/", -1, 0},	 /* a directory, never a socket */
		{"@", -1, 0},	 /* an empty abstract name */
		{"run/notify", -1, 0}, /* relative */
		{"./notify", -1, 0},
		{"vsock:2:1234", -1, 0}, /* AF_VSOCK: not supported */
		{" /run/notify", -1, 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sockaddr_un sun;
		socklen_t len = 99;
		int rc = sdnotify_addr_parse(rows[i].in, &sun, &len);

		if (rc != rows[i].ok)
			fail_msg("row %zu (%s): got %d", i, rows[i].in, rc);
		if (rc != 0) {
			assert_int_equal(len, 0);
			assert_int_equal(sun.sun_family, 0);
			continue;
		}
		assert_int_equal(sun.sun_family, AF_UNIX);
		assert_int_equal(len, SUN_OFF + rows[i].len);
		if (rows[i].in[0] == '@') {
			assert_int_equal(sun.sun_path[0], '\0');
			assert_memory_equal(sun.sun_path + 1, rows[i].in + 1, strlen(rows[i].in) - 1);
		} else {
			assert_string_equal(sun.sun_path, rows[i].in);
		}
	}
}

/* The longest path fills sun_path with its NUL; one byte more is refused. */
static void
test_addr_long(void **state)
{
	struct sockaddr_un sun;
	char path[sizeof(sun.sun_path) + 1];
	socklen_t len;

	(void)state;
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[sizeof(sun.sun_path) - 1] = '\0';
	assert_int_equal(sdnotify_addr_parse(path, &sun, &len), 0);
	assert_int_equal(len, sizeof(sun));
	assert_string_equal(sun.sun_path, path);
	path[sizeof(sun.sun_path) - 1] = 'a';
	path[sizeof(sun.sun_path)] = '\0';
	assert_int_equal(sdnotify_addr_parse(path, &sun, &len), -1);
	path[0] = '@';
	assert_int_equal(sdnotify_addr_parse(path, &sun, &len), -1);
}

/* A datagram socket bound to a fresh abstract name; its "@name" in env. */
static int
listener(char *env, size_t envsz)
{
	struct sockaddr_un sun;
	socklen_t len;
	int fd;

	snprintf(env, envsz, "@postern-test-sdnotify-%ld", (long)getpid());
	assert_int_equal(sdnotify_addr_parse(env, &sun, &len), 0);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd != -1);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
	return fd;
}

static void
test_send(void **state)
{
	char env[64], got[SDNOTIFY_MSG_MAX + 1], err[256], big[SDNOTIFY_MSG_MAX + 1];
	struct sdnotify n;
	ssize_t r;
	int fd = listener(env, sizeof(env));

	(void)state;
	assert_int_equal(setenv("NOTIFY_SOCKET", env, 1), 0);
	assert_int_equal(sdnotify_open(&n, err, sizeof(err)), 0);
	assert_null(getenv("NOTIFY_SOCKET")); /* the children must not inherit it */
	assert_true(n.fd != -1);
	assert_int_equal(sdnotify_send(&n, "READY=1\nSTATUS=%s", "up"), 0);
	r = recv(fd, got, sizeof(got) - 1, MSG_DONTWAIT);
	assert_int_equal(r, 17);
	got[r] = '\0';
	assert_string_equal(got, "READY=1\nSTATUS=up");
	/* too long: refused whole, never cut */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(sdnotify_send(&n, "STATUS=%s", big), -1);
	assert_int_equal(recv(fd, got, sizeof(got), MSG_DONTWAIT), -1);
	sdnotify_close(&n);
	sdnotify_close(&n);
	close(fd);
}

static void
test_no_manager(void **state)
{
	char err[256];
	struct sdnotify n;

	(void)state;
	assert_int_equal(unsetenv("NOTIFY_SOCKET"), 0);
	assert_int_equal(sdnotify_open(&n, err, sizeof(err)), 0);
	assert_int_equal(n.fd, -1);
	assert_int_equal(sdnotify_send(&n, "READY=1"), 0);
	assert_int_equal(setenv("NOTIFY_SOCKET", "notify", 1), 0);
	assert_int_equal(sdnotify_open(&n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "NOTIFY_SOCKET 'notify'"));
	assert_null(getenv("NOTIFY_SOCKET"));
	assert_int_equal(n.fd, -1);
	sdnotify_close(&n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr),
		cmocka_unit_test(test_addr_long),
		cmocka_unit_test(test_send),
		cmocka_unit_test(test_no_manager),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
