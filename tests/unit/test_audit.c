/* SPDX-License-Identifier: ISC */
/*
 * test_audit - the hash-chained audit log (src/audit/audit.c): appending,
 * the record format against lines sealed by Python's json and hashlib (an
 * independent oracle), two processes appending at once, every single-bit
 * flip of a small log reported at the record holding the byte, deleted,
 * swapped, duplicated, forged and torn lines, untrusted field values,
 * refused names and values, tail, follow and the recovery of a torn tail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "audit/audit.h"
#include "audit/auditsearch.h"
#include "lib/file.h"

/* Sealed by /usr/bin/python3: json.dumps(sort_keys=True,
 * separators=(',', ':'), ensure_ascii=False), hash = sha256 of the same
 * without "hash". */
static const char golden1[] =
	"{\"count\":3,\"event\":\"auth\",\"hash\":"
	"\"b547bc5ebcf1efe309a494a7a961c5f635f4569179422f5d283635d6337aa01e\",\"ip\":\"192.0.2.7\","
	"\"ok\":false,\"prev\":"
	"\"0000000000000000000000000000000000000000000000000000000000000000\",\"result\":\"fail\","
	"\"seq\":1,\"ts\":\"2024-05-01T12:00:00.123Z\",\"user\":\"bob\"}";
static const char golden2[] =
	"{\"by\":\"admin\",\"event\":\"user.add\",\"hash\":"
	"\"0c32f49d1d9a1a58d943f9cbadc7411ecb988bce9b4c017c6fd77ef3be0b31ca\",\"note\":null,"
	"\"prev\":\"b547bc5ebcf1efe309a494a7a961c5f635f4569179422f5d283635d6337aa01e\",\"seq\":2,"
	"\"ts\":\"2024-05-01T12:00:01.000Z\",\"user\":\"alice\"}";

struct tdir {
	char dir[64];
	char log[128];
};

static int
setup(void **state)
{
	struct tdir *t = calloc(1, sizeof(*t));

	snprintf(t->dir, sizeof(t->dir), "/tmp/test_audit.XXXXXX");
	if (mkdtemp(t->dir) == NULL)
		return -1;
	snprintf(t->log, sizeof(t->log), "%s/%s", t->dir, AUDIT_FILE);
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct tdir *t = *state;

	(void)unlink(t->log);
	if (rmdir(t->dir) == -1)
		return -1; /* a test left something behind */
	free(t);
	return 0;
}

static struct audit *
xopen(const char *path, int flags)
{
	char err[256];
	struct audit *a = audit_open(path, flags, err, sizeof(err));

	if (a == NULL)
		fail_msg("%s", err);
	return a;
}

/* append - event with fields ip/user/n; asserts success. */
static void
append(struct audit *a, const char *event, const char *user, long n)
{
	json_t *f = json_pack("{s:s, s:s, s:I, s:b}", "ip", "192.0.2.7", "user", user, "n",
			      (json_int_t)n, "ok", n % 2);

	if (audit_append(a, event, f) == -1)
		fail_msg("append: %s", audit_error(a));
	json_decref(f);
}

/* make_log - a log of n records at path. */
static void
make_log(const char *path, int n)
{
	struct audit *a = xopen(path, 0);
	int i;

	for (i = 1; i <= n; i++)
		append(a, i % 2 ? "auth" : "user.add", i == 2 ? "o'brien \"x\"" : "bob", i);
	audit_close(a);
}

static void
read_log(const char *path, struct buf *out)
{
	buf_reset(out);
	if (file_read(path, 1 << 24, out) == -1)
		fail_msg("read %s", path);
}

static void
write_log(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CREAT, 0600);

	assert_true(fd != -1);
	assert_int_equal(write_all(fd, data, len), 0);
	close(fd);
}

/* report_line - the line number a failure report names. */
static unsigned long
report_line(const char *rep)
{
	const char *p = strncmp(rep, "line ", 5) == 0 ? rep + 5 : strstr(rep, "(line ");

	if (p == NULL)
		fail_msg("report names no line: %s", rep);
	if (*p == '(')
		p += 6;
	return strtoul(p, NULL, 10);
}

/* line_of - the 1-based line holding byte off (a newline belongs to the
 * line it ends). */
static unsigned long
line_of(const char *data, size_t off)
{
	unsigned long line = 1;
	size_t i;

	for (i = 0; i < off; i++)
		if (data[i] == '\n')
			line++;
	return line;
}

static void
expect_verify(const char *path, int rc, const char *want)
{
	struct buf rep = BUF_INIT;

	if (audit_verify(path, &rep) != rc || strstr(buf_cstr(&rep), want) == NULL)
		fail_msg("verify: want %d \"%s\", got \"%s\"", rc, want, buf_cstr(&rep));
	buf_free(&rep);
}

static void
test_golden(void **state)
{
	char prev[AUDIT_HASH_HEX], hash[AUDIT_HASH_HEX];
	struct buf log = BUF_INIT, rep = BUF_INIT;
	const char *why;
	uint64_t seq;

	(void)state;
	assert_int_equal(audit_check_line(golden1, strlen(golden1), &seq, prev, hash, &why), 0);
	assert_int_equal(seq, 1);
	assert_string_equal(prev,
			    "0000000000000000000000000000000000000000000000000000000000000000");
	assert_string_equal(hash,
			    "b547bc5ebcf1efe309a494a7a961c5f635f4569179422f5d283635d6337aa01e");
	assert_int_equal(audit_check_line(golden2, strlen(golden2), &seq, prev, hash, &why), 0);
	assert_int_equal(seq, 2);
	buf_addf(&log, "%s\n%s\n", golden1, golden2);
	assert_int_equal(audit_verify_mem(log.data, log.len, &rep), 0);
	assert_string_equal(buf_cstr(&rep),
			    "ok: 2 records, last seq 2, last hash "
			    "0c32f49d1d9a1a58d943f9cbadc7411ecb988bce9b4c017c6fd77ef3be0b31ca\n");
	buf_reset(&rep);
	assert_int_equal(audit_verify_mem("", 0, &rep), 0);
	assert_string_equal(buf_cstr(&rep),
			    "ok: 0 records, last seq 0, last hash "
			    "0000000000000000000000000000000000000000000000000000000000000000\n");
	buf_free(&rep);
	buf_free(&log);
}

/* The same content spelled differently, or a broken chain member, is
 * refused with the reason. */
static void
test_check_line_refusals(void **state)
{
	static const struct {
		const char *from, *to, *why;
	} rows[] = {
		{"\"count\":3,", "\"count\": 3,", "not in canonical form"},
		{"\"count\":3,", "\"count\":3.0,", "bad field"},
		{"\"count\":3,", "\"count\":[3],", "bad field"},
		{"\"count\":3,", "\"Count\":3,", "bad field"},
		{"\"count\":3,", "\"co unt\":3,", "bad field"},
		{"\"ip\":\"192.0.2.7\"", "\"ip\":\"192.0.2.\\u0037\"", "not in canonical form"},
		{"\"count\":3,", "", "hash does not match its content"},
		{"\"count\":3,", "\"count\":3,\"count\":3,", "not JSON"},
		{"\"seq\":1,", "\"seq\":0,", "missing or bad seq"},
		{"\"seq\":1,", "\"seq\":\"1\",", "missing or bad seq"},
		{"\"seq\":1,", "", "missing or bad seq"},
		{"12:00:00.123Z", "12:00:00Z", "missing or bad ts"},
		{"\"event\":\"auth\"", "\"event\":\"AUTH\"", "missing or bad event"},
		{"\"event\":\"auth\"", "\"event\":\"hash\"", "missing or bad event"},
		{"\"prev\":\"0000", "\"prev\":\"000", "missing or bad prev"},
		{"\"hash\":\"b547", "\"hash\":\"B547", "missing or bad hash"},
		{"\"count\":3,", "\"count\":3,\"truncated\":[\"nope\"],", "bad truncated list"},
		{"\"user\":\"bob\"}", "\"user\":\"bob\"}x", "not JSON"},
		{"\"user\":\"bob\"}", "\"user\":\"bob\"} ", "not in canonical form"},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char line[1024], prev[AUDIT_HASH_HEX], hash[AUDIT_HASH_HEX];
		const char *at = strstr(golden1, rows[i].from), *why = NULL;
		uint64_t seq;
		int n;

		assert_non_null(at);
		n = snprintf(line, sizeof(line), "%.*s%s%s", (int)(at - golden1), golden1,
			     rows[i].to, at + strlen(rows[i].from));
		if (audit_check_line(line, (size_t)n, &seq, prev, hash, &why) != -1 ||
		    strcmp(why, rows[i].why) != 0)
			fail_msg("row %zu: want \"%s\", got \"%s\"", i, rows[i].why,
				 why ? why : "(accepted)");
		assert_string_equal(hash, "");
	}
	{
		char prev[AUDIT_HASH_HEX], hash[AUDIT_HASH_HEX];
		const char *why;
		uint64_t seq;

		assert_int_equal(audit_check_line("[1]", 3, &seq, prev, hash, &why), -1);
		assert_string_equal(why, "not a JSON object");
		assert_int_equal(audit_check_line("", 0, &seq, prev, hash, NULL), -1);
	}
}

static void
test_append_and_format(void **state)
{
	struct tdir *t = *state;
	struct buf log = BUF_INIT;
	char prev[AUDIT_HASH_HEX] =
		"0000000000000000000000000000000000000000000000000000000000000000";
	const char *p;
	struct stat st;
	long i;

	make_log(t->log, 5);
	assert_int_equal(stat(t->log, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	expect_verify(t->log, 0, "ok: 5 records, last seq 5");
	read_log(t->log, &log);
	p = log.data;
	for (i = 1; i <= 5; i++) {
		const char *nl = strchr(p, '\n');
		json_t *rec = json_loadb(p, (size_t)(nl - p), 0, NULL);
		const char *ts;

		assert_non_null(rec);
		assert_int_equal(json_integer_value(json_object_get(rec, "seq")), i);
		assert_int_equal(json_integer_value(json_object_get(rec, "n")), i);
		assert_string_equal(json_string_value(json_object_get(rec, "event")),
				    i % 2 ? "auth" : "user.add");
		assert_string_equal(json_string_value(json_object_get(rec, "prev")), prev);
		snprintf(prev, sizeof(prev), "%s", json_string_value(json_object_get(rec, "hash")));
		ts = json_string_value(json_object_get(rec, "ts"));
		assert_int_equal(strlen(ts), 24);
		assert_true(ts[4] == '-' && ts[10] == 'T' && ts[19] == '.' && ts[23] == 'Z');
		assert_true(strncmp(ts, "20", 2) == 0);
		json_decref(rec);
		p = nl + 1;
	}
	assert_int_equal(*p, '\0');
	buf_free(&log);
}

/* Two handles in one process take turns: each re-reads what the other
 * wrote. */
static void
test_two_handles(void **state)
{
	struct tdir *t = *state;
	struct audit *a = xopen(t->log, 0), *b = xopen(t->log, AUDIT_SYNC);
	int i;

	for (i = 0; i < 10; i++)
		append(i % 3 ? a : b, "auth", "bob", i);
	assert_int_equal(audit_sync(a), 0);
	assert_int_equal(audit_sync(b), 0);
	audit_close(a);
	audit_close(b);
	audit_close(NULL);
	expect_verify(t->log, 0, "ok: 10 records, last seq 10");
}

#define CHILD_RECORDS 400

static void
test_two_processes(void **state)
{
	struct tdir *t = *state;
	struct buf log = BUF_INIT;
	pid_t pid[2];
	int i, status, per[2] = {0, 0}, switches = 0, last = -1, go[2];
	const char *p;
	char c;

	make_log(t->log, 1);
	assert_int_equal(pipe(go), 0);
	for (i = 0; i < 2; i++) {
		if ((pid[i] = fork()) == 0) {
			struct audit *a = audit_open(t->log, 0, NULL, 0);
			int k;

			/* both start together, when the parent closes the pipe */
			close(go[1]);
			if (read(go[0], &c, 1) != 0)
				_exit(3);
			for (k = 0; a != NULL && k < CHILD_RECORDS; k++) {
				json_t *f = json_pack("{s:i, s:i}", "child", i, "k", k);

				if (audit_append(a, "auth", f) == -1)
					_exit(1);
				json_decref(f);
			}
			audit_close(a);
			_exit(a == NULL ? 2 : 0);
		}
		assert_true(pid[i] > 0);
	}
	close(go[0]);
	close(go[1]);
	for (i = 0; i < 2; i++) {
		assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	expect_verify(t->log, 0, "ok: 801 records, last seq 801");
	read_log(t->log, &log);
	for (p = log.data; (p = strstr(p, "\"child\":")) != NULL; p++) {
		switches += last != -1 && last != p[8] - '0';
		last = p[8] - '0';
		per[last]++;
	}
	/* the test means something only if the appends did interleave */
	if (switches < 2)
		fail_msg("the two children did not interleave (%d switches)", switches);
	fprintf(stderr, "# %d switches\n", switches);
	assert_int_equal(per[0], CHILD_RECORDS);
	assert_int_equal(per[1], CHILD_RECORDS);
	buf_free(&log);
}

/* Every single-bit flip of every byte is reported, at the line that holds
 * the byte; a flip of each byte in the file is reported by audit_verify. */
static void
test_flip_every_byte(void **state)
{
	struct tdir *t = *state;
	struct buf log = BUF_INIT, rep = BUF_INIT;
	size_t off;
	int bit;

	make_log(t->log, 4);
	read_log(t->log, &log);
	for (off = 0; off < log.len; off++) {
		unsigned long want = line_of(log.data, off);
		char *copy = malloc(log.len);

		for (bit = 0; bit < 8; bit++) {
			memcpy(copy, log.data, log.len);
			copy[off] ^= (char)(1 << bit);
			buf_reset(&rep);
			if (audit_verify_mem(copy, log.len, &rep) != -1 ||
			    report_line(buf_cstr(&rep)) != want)
				fail_msg("bit %d of byte %zu (line %lu): %s", bit, off, want,
					 buf_cstr(&rep));
		}
		copy[off] = log.data[off] ^ 0x20;
		write_log(t->log, copy, log.len);
		buf_reset(&rep);
		if (audit_verify(t->log, &rep) != -1 || report_line(buf_cstr(&rep)) != want)
			fail_msg("file, byte %zu (line %lu): %s", off, want, buf_cstr(&rep));
		free(copy);
	}
	buf_free(&rep);
	buf_free(&log);
}

/* line_span - offset and length (newline included) of 1-based line n. */
static void
line_span(const struct buf *log, int n, size_t *off, size_t *len)
{
	const char *p = log->data, *nl;

	while (--n > 0)
		p = strchr(p, '\n') + 1;
	nl = strchr(p, '\n');
	*off = (size_t)(p - log->data);
	*len = (size_t)(nl - p) + 1;
}

static void
test_lines_moved(void **state)
{
	struct tdir *t = *state;
	struct buf log = BUF_INIT, edit = BUF_INIT, other = BUF_INIT;
	size_t o2, l2, o3, l3, o5, l5;
	char other_path[160];

	make_log(t->log, 5);
	read_log(t->log, &log);
	line_span(&log, 2, &o2, &l2);
	line_span(&log, 3, &o3, &l3);
	line_span(&log, 5, &o5, &l5);

	/* delete line 3 */
	buf_reset(&edit);
	buf_add(&edit, log.data, o3);
	buf_add(&edit, log.data + o3 + l3, log.len - o3 - l3);
	write_log(t->log, edit.data, edit.len);
	expect_verify(t->log, -1, "record 4 (line 3): out of sequence, expected record 3");

	/* delete line 1 */
	write_log(t->log, log.data + o2, log.len - o2);
	expect_verify(t->log, -1, "record 2 (line 1): out of sequence, expected record 1");

	/* swap lines 2 and 3 */
	buf_reset(&edit);
	buf_add(&edit, log.data, o2);
	buf_add(&edit, log.data + o3, l3);
	buf_add(&edit, log.data + o2, l2);
	buf_add(&edit, log.data + o3 + l3, log.len - o3 - l3);
	write_log(t->log, edit.data, edit.len);
	expect_verify(t->log, -1, "record 3 (line 2): out of sequence, expected record 2");

	/* line 3 twice */
	buf_reset(&edit);
	buf_add(&edit, log.data, o3 + l3);
	buf_add(&edit, log.data + o3, log.len - o3);
	write_log(t->log, edit.data, edit.len);
	expect_verify(t->log, -1, "record 3 (line 4): out of sequence, expected record 4");

	/* the last line cut anywhere, its newline included */
	for (size_t cut = 1; cut <= l5; cut++) {
		write_log(t->log, log.data, log.len - cut);
		expect_verify(t->log, cut == l5 ? 0 : -1,
			      cut == l5 ? "ok: 4 records" : "line 5: truncated last line");
	}

	/* record 3 replaced by a record 3 sealed in another log: its own hash
	 * holds, its prev does not */
	snprintf(other_path, sizeof(other_path), "%s/other.log", t->dir);
	make_log(other_path, 2);
	{
		struct audit *o = xopen(other_path, 0);

		append(o, "auth", "mallory", 3);
		audit_close(o);
	}
	read_log(other_path, &other);
	(void)unlink(other_path);
	{
		size_t oo3, ol3;

		line_span(&other, 3, &oo3, &ol3);
		buf_reset(&edit);
		buf_add(&edit, log.data, o3);
		buf_add(&edit, other.data + oo3, ol3);
		buf_add(&edit, log.data + o3 + l3, log.len - o3 - l3);
		write_log(t->log, edit.data, edit.len);
		expect_verify(t->log, -1, "record 3 (line 3): prev does not match record 2");
		/* and as the first line of a log of its own */
		write_log(t->log, other.data + oo3, ol3);
		expect_verify(t->log, -1, "record 3 (line 1): out of sequence, expected record 1");
		write_log(t->log, golden1, strlen(golden1));
		expect_verify(t->log, -1, "line 1: truncated last line");
	}
	/* a line that is not JSON, and a missing file */
	write_log(t->log, "{\"seq\":1}\nhello\n", 16);
	expect_verify(t->log, -1, "record 1 (line 1): missing or bad ts");
	(void)unlink(t->log);
	expect_verify(t->log, -1, "No such file or directory");
	buf_free(&edit);
	buf_free(&other);
	buf_free(&log);
}

/* untrusted_values - hostile strings, valid UTF-8 each. */
static const char *const untrusted[] = {
	"quote \" backslash \\ slash / end",
	"new\nline\r\nand tab\t",
	"\x01\x02\x07\x08\x0b\x0c\x0e\x1b[2J\x1f\x7f",
	"Gr\xc3\xbc\xc3\x9f" "e \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x94\x92",
	"\xe2\x80\xa8 line separator \xe2\x80\xa9",
	"\",\"seq\":99,\"x\":\"",
	"}\n{\"seq\":2}",
	"",
};

static void
test_untrusted_values(void **state)
{
	struct tdir *t = *state;
	struct audit *a = xopen(t->log, 0);
	struct buf log = BUF_INIT;
	const char *p, *nl;
	size_t i, lines = 0;

	for (i = 0; i < sizeof(untrusted) / sizeof(untrusted[0]); i++) {
		json_t *f = json_object();

		json_object_set_new(f, "user", json_string(untrusted[i]));
		json_object_set_new(f, "ip", audit_str(untrusted[i], strlen(untrusted[i])));
		if (audit_append(a, "auth", f) == -1)
			fail_msg("%s", audit_error(a));
		json_decref(f);
	}
	audit_close(a);
	expect_verify(t->log, 0, "ok: 8 records");
	read_log(t->log, &log);
	for (p = log.data; (nl = strchr(p, '\n')) != NULL; p = nl + 1, lines++) {
		json_t *rec = json_loadb(p, (size_t)(nl - p), 0, NULL);

		assert_non_null(rec);
		assert_string_equal(json_string_value(json_object_get(rec, "user")),
				    untrusted[lines]);
		assert_string_equal(json_string_value(json_object_get(rec, "ip")),
				    untrusted[lines]);
		assert_int_equal(json_integer_value(json_object_get(rec, "seq")), lines + 1);
		assert_null(json_object_get(rec, "x"));
		json_decref(rec);
	}
	assert_int_equal(lines, 8);
	assert_int_equal(*p, '\0');
	buf_free(&log);
}

/* Invalid UTF-8 and NUL become U+FFFD; long values are cut on a character
 * boundary and named in "truncated". */
static void
test_clean_and_cut(void **state)
{
	struct tdir *t = *state;
	struct audit *a = xopen(t->log, 0);
	struct buf log = BUF_INIT;
	char longv[3000];
	json_t *f = json_object(), *rec, *s;
	const char *v;

	s = audit_str("a\xff" "b\0c\xc3", 6);
	assert_string_equal(json_string_value(s), "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd");
	json_decref(s);
	/* a surrogate, an overlong form, a code point over U+10FFFF */
	s = audit_str("\xed\xa0\x80\xc0\xaf\xf4\x90\x80\x80", 9);
	assert_int_equal(json_string_length(s), 9 * 3);
	json_decref(s);

	memset(longv, 'x', sizeof(longv));
	memcpy(longv + 1022, "\xe2\x82\xac", 3); /* a euro sign across the 1024-byte cut */
	json_object_set_new(f, "user", json_stringn(longv, sizeof(longv)));
	json_object_set_new(f, "ip", json_stringn("a\0b", 3));
	json_object_set_new(f, "short", json_string("ok"));
	assert_int_equal(audit_append(a, "auth", f), 0);
	json_decref(f);
	audit_close(a);
	expect_verify(t->log, 0, "ok: 1 records");
	read_log(t->log, &log);
	rec = json_loads(log.data, 0, NULL);
	assert_non_null(rec);
	v = json_string_value(json_object_get(rec, "user"));
	assert_int_equal(strlen(v), 1022);
	assert_int_equal(memcmp(v, longv, 1022), 0);
	assert_string_equal(json_string_value(json_object_get(rec, "ip")), "a\xef\xbf\xbd" "b");
	assert_int_equal(json_array_size(json_object_get(rec, "truncated")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(rec, "truncated"), 0)),
			    "user");
	json_decref(rec);
	buf_free(&log);
}

static void
test_refused(void **state)
{
	static const char *const bad_names[] = {
		"seq", "hash", "prev", "ts", "event", "truncated", "", "User", "a b", "a\"b",
		"0123456789012345678901234567890123456789012345678901234567890123x",
	};
	struct tdir *t = *state;
	struct audit *a = xopen(t->log, 0);
	json_t *f;
	size_t i;
	struct stat st;

	for (i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++) {
		f = json_object();
		json_object_set_new(f, bad_names[i], json_string("x"));
		errno = 0;
		if (audit_append(a, "auth", f) != -1 || errno != EINVAL)
			fail_msg("field name \"%s\" accepted", bad_names[i]);
		json_decref(f);
		if (audit_append(a, bad_names[i], NULL) != -1 || errno != EINVAL)
			fail_msg("event \"%s\" accepted", bad_names[i]);
	}
	f = json_pack("{s:f}", "x", 1.5);
	assert_int_equal(audit_append(a, "auth", f), -1);
	json_decref(f);
	f = json_pack("{s:{s:i}}", "x", "y", 1);
	assert_int_equal(audit_append(a, "auth", f), -1);
	json_decref(f);
	f = json_pack("[i]", 1);
	assert_int_equal(audit_append(a, "auth", f), -1);
	json_decref(f);
	f = json_object();
	for (i = 0; i <= AUDIT_FIELDS_MAX; i++) {
		char k[16];

		snprintf(k, sizeof(k), "f%zu", i);
		json_object_set_new(f, k, json_integer((json_int_t)i));
	}
	assert_int_equal(audit_append(a, "auth", f), -1);
	json_object_del(f, "f0");
	assert_int_equal(audit_append(a, "auth", f), 0); /* exactly the maximum */
	json_decref(f);
	assert_int_equal(audit_append(a, "auth", NULL), 0);
	audit_close(a);
	assert_int_equal(stat(t->log, &st), 0);
	expect_verify(t->log, 0, "ok: 2 records");
	/* not through a symlink, not a directory */
	{
		char err[256], link[160];

		snprintf(link, sizeof(link), "%s/link", t->dir);
		assert_int_equal(symlink(t->log, link), 0);
		assert_null(audit_open(link, 0, err, sizeof(err)));
		assert_non_null(strstr(err, "open"));
		assert_int_equal(unlink(link), 0);
		assert_null(audit_open(t->dir, 0, err, sizeof(err)));
	}
}

static void
test_tail(void **state)
{
	struct tdir *t = *state;
	struct buf all = BUF_INIT, out = BUF_INIT;
	size_t o4, l4;

	make_log(t->log, 5);
	read_log(t->log, &all);
	line_span(&all, 4, &o4, &l4);
	assert_int_equal(audit_tail(t->log, 2, &out), 0);
	assert_string_equal(out.data, all.data + o4);
	buf_reset(&out);
	assert_int_equal(audit_tail(t->log, 0, &out), 0);
	assert_int_equal(out.len, 0);
	assert_int_equal(audit_tail(t->log, 100, &out), 0);
	assert_string_equal(out.data, all.data);
	/* a torn last line is not shown */
	buf_reset(&out);
	write_log(t->log, all.data, all.len - 10);
	assert_int_equal(audit_tail(t->log, 1, &out), 0);
	line_span(&all, 4, &o4, &l4);
	assert_int_equal(out.len, l4);
	assert_memory_equal(out.data, all.data + o4, l4);
	(void)unlink(t->log);
	assert_int_equal(audit_tail(t->log, 1, &out), -1);
	buf_free(&all);
	buf_free(&out);
}

/* test_anchor - the head of the chain, its text form, and the check that
 * catches what the chain cannot: records cut off the end. */
static void
test_anchor(void **state)
{
	struct tdir *t = *state;
	struct buf all = BUF_INIT, out = BUF_INIT, text = BUF_INIT;
	char hash[AUDIT_HASH_HEX], h2[AUDIT_HASH_HEX];
	struct audit *a;
	uint64_t seq, s2;
	size_t o4, l4;

	a = xopen(t->log, 0);
	assert_int_equal(audit_head(a, &seq, hash), 0);
	assert_int_equal(seq, 0);
	audit_close(a);
	make_log(t->log, 5);
	a = xopen(t->log, 0);
	assert_int_equal(audit_head(a, &seq, hash), 0);
	audit_close(a);
	assert_int_equal(seq, 5);
	audit_anchor_format(seq, hash, &text);
	assert_int_equal(audit_anchor_parse(text.data, text.len, &s2, h2), 0);
	assert_int_equal(s2, 5);
	assert_string_equal(h2, hash);
	assert_int_equal(audit_anchor_check(t->log, seq, hash, &out), 0);
	assert_string_equal(buf_cstr(&out), "anchor seq=5: ok");
	/* the short form, and what is not an anchor */
	buf_reset(&text);
	buf_addf(&text, " 5:%s\n", hash);
	assert_int_equal(audit_anchor_parse(text.data, text.len, &s2, h2), 0);
	assert_int_equal(audit_anchor_parse("0:x", 3, &s2, h2), -1);
	assert_int_equal(audit_anchor_parse("seq=5 hash=abc", 14, &s2, h2), -1);
	assert_int_equal(audit_anchor_parse("", 0, &s2, h2), -1);
	buf_reset(&text);
	buf_addf(&text, "0:%s", hash);
	assert_int_equal(audit_anchor_parse(text.data, text.len, &s2, h2), -1);
	/* cut the last record off: the chain still checks, the anchor does not */
	read_log(t->log, &all);
	line_span(&all, 4, &o4, &l4);
	write_log(t->log, all.data, o4 + l4);
	buf_reset(&out);
	assert_int_equal(audit_verify(t->log, &out), 0);
	buf_reset(&out);
	assert_int_equal(audit_anchor_check(t->log, 5, hash, &out), -1);
	assert_non_null(strstr(buf_cstr(&out), "ends at record 4"));
	/* a different record 4 */
	buf_reset(&out);
	assert_int_equal(audit_anchor_check(t->log, 4, hash, &out), -1);
	assert_non_null(strstr(buf_cstr(&out), "another hash"));
	buf_free(&all);
	buf_free(&out);
	buf_free(&text);
}

struct follow_state {
	struct audit *a;
	int seen;
	int stop_after;
	int fail_at;
	volatile sig_atomic_t stop;
	struct buf lines;
};

static int
on_line(const char *line, size_t len, void *arg)
{
	struct follow_state *fs = arg;

	fs->seen++;
	buf_add(&fs->lines, line, len);
	buf_addc(&fs->lines, '\n');
	if (fs->seen == fs->fail_at)
		return 1;
	if (fs->seen == 2) { /* both old lines seen: write three new ones */
		append(fs->a, "auth", "carol", 10);
		append(fs->a, "auth", "dave", 11);
		append(fs->a, "auth", "erin", 12);
	}
	if (fs->seen == fs->stop_after)
		fs->stop = 1;
	return 0;
}

static void
test_follow(void **state)
{
	struct tdir *t = *state;
	struct follow_state fs;
	struct buf all = BUF_INIT, rep = BUF_INIT;
	size_t o3, l3;

	make_log(t->log, 4);
	memset(&fs, 0, sizeof(fs));
	fs.a = xopen(t->log, 0);
	fs.stop_after = 5;
	assert_int_equal(audit_follow(t->log, 2, on_line, &fs, &fs.stop), 0);
	assert_int_equal(fs.seen, 5);
	read_log(t->log, &all);
	line_span(&all, 3, &o3, &l3);
	assert_string_equal(buf_cstr(&fs.lines), all.data + o3);
	assert_non_null(strstr(buf_cstr(&fs.lines), "\"user\":\"erin\""));
	assert_int_equal(audit_verify_mem(fs.lines.data, fs.lines.len, &rep), -1); /* starts at 3 */
	/* emit asks to stop */
	buf_reset(&fs.lines);
	fs.seen = 0;
	fs.fail_at = 1;
	fs.stop = 0;
	errno = 0;
	assert_int_equal(audit_follow(t->log, 1, on_line, &fs, &fs.stop), -1);
	assert_int_equal(errno, ECANCELED);
	audit_close(fs.a);
	buf_free(&fs.lines);
	buf_free(&rep);
	buf_free(&all);
}

/* A torn last line (a crash during a write) is cut off by the next append,
 * which records that it did; a damaged last record stops appends. */
static void
test_torn_and_damaged(void **state)
{
	struct tdir *t = *state;
	struct buf log = BUF_INIT, tail = BUF_INIT;
	struct audit *a;
	int fd;

	make_log(t->log, 3);
	fd = open(t->log, O_WRONLY | O_APPEND);
	assert_int_equal(write_all(fd, "{\"seq\":4,\"ev", 12), 0);
	close(fd);
	expect_verify(t->log, -1, "line 4: truncated last line");
	a = xopen(t->log, 0);
	append(a, "auth", "bob", 5);
	audit_close(a);
	expect_verify(t->log, 0, "ok: 5 records");
	assert_int_equal(audit_tail(t->log, 2, &tail), 0);
	assert_non_null(strstr(tail.data, "\"dropped_bytes\":12,\"event\":\"audit.recover\""));

	/* flip a byte of the last record: appending is refused, nothing written */
	read_log(t->log, &log);
	log.data[log.len - 20] ^= 1;
	write_log(t->log, log.data, log.len);
	a = xopen(t->log, 0);
	errno = 0;
	assert_int_equal(audit_append(a, "auth", NULL), -1);
	assert_int_equal(errno, EBADMSG);
	assert_non_null(strstr(audit_error(a), "damaged"));
	audit_close(a);
	buf_reset(&tail);
	read_log(t->log, &tail);
	assert_int_equal(tail.len, log.len);
	expect_verify(t->log, -1, "record 5 (line 5): hash does not match its content");
	buf_free(&log);
	buf_free(&tail);
}

/* audit search: which records match, and the two export forms. */
static void
test_search(void **state)
{
	static const char add[] = "{\"account\":\"bob\",\"actor\":\"cli:root\",\"event\":"
				  "\"user.add\",\"seq\":2,\"ts\":\"2026-11-28T13:42:09.749Z\"}";
	static const char auth[] = "{\"event\":\"auth\",\"result\":\"fail\",\"seq\":3,"
				   "\"ts\":\"2026-11-29T00:00:01.000Z\",\"user\":\"bob\"}";
	static const struct {
		const char *since, *actor, *event;
		bool add, auth;
	} rows[] = {
		{NULL, NULL, NULL, true, true},
		{"2026-11-29", NULL, NULL, false, true},
		{"2026-11-28T13:42:09.749Z", NULL, NULL, true, true},
		{"2026-11-28T13:42:10", NULL, NULL, false, true},
		{NULL, "cli:root", NULL, true, false},
		{NULL, "bob", NULL, false, true}, /* the user of an auth record */
		{NULL, NULL, "user.", true, false},
		{NULL, NULL, "user", false, false}, /* exact unless it ends in '.' */
		{NULL, NULL, "auth", false, true},
		{"2026-11-01", "cli:root", "user.add", true, false},
	};
	struct buf out = BUF_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct audit_filter f = {rows[i].since, rows[i].actor, rows[i].event};

		if (audit_match(add, strlen(add), &f) != rows[i].add ||
		    audit_match(auth, strlen(auth), &f) != rows[i].auth)
			fail_msg("row %zu", i);
	}
	assert_false(audit_match("not json", 8, &(struct audit_filter){NULL, NULL, NULL}));
	assert_false(audit_match("{\"seq\":1}", 9, &(struct audit_filter){NULL, NULL, NULL}));
	assert_int_equal(audit_export(add, strlen(add), AUDIT_FMT_JSON, "mx.test", &out), 0);
	assert_string_equal(buf_cstr(&out), "{\"account\":\"bob\",\"actor\":\"cli:root\",\"event\":"
					    "\"user.add\",\"seq\":2,\"ts\":\"2026-11-28T13:42:09.749Z\"}\n");
	buf_reset(&out);
	assert_int_equal(audit_export(add, strlen(add), AUDIT_FMT_SYSLOG, "mx.test", &out), 0);
	assert_true(strncmp(buf_cstr(&out),
			    "<110>1 2026-11-28T13:42:09.749Z mx.test postern - audit "
			    "[audit@32473 seq=\"2\" event=\"user.add\"] {\"account\"",
			    90) == 0);
	buf_reset(&out);
	/* a hostile event name cannot close the structured data early */
	{
		static const char evil[] = "{\"event\":\"a\\\"]x\",\"seq\":1,\"ts\":\"2026\"}";

		assert_int_equal(audit_export(evil, strlen(evil), AUDIT_FMT_SYSLOG, "h", &out), 0);
		assert_non_null(strstr(buf_cstr(&out), "event=\"a\\\"\\]x\"]"));
	}
	buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_search),
		cmocka_unit_test(test_check_line_refusals),
		cmocka_unit_test_setup_teardown(test_append_and_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_handles, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_processes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flip_every_byte, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lines_moved, setup, teardown),
		cmocka_unit_test_setup_teardown(test_untrusted_values, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clean_and_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_anchor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_follow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_and_damaged, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
