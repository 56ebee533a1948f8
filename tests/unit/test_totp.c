/* SPDX-License-Identifier: ISC */
/*
 * test_totp - base32, HOTP/TOTP, the validation window and replay guard,
 * otpauth:// URIs, the terminal QR code, sealing and the seal key file.
 * Table-driven: each row is input and the expected outcome.
 *
 * Reference values come from RFC 4226 Appendix D, RFC 6238 Appendix B and
 * oathtool 2.6.7 (OATH Toolkit, Debian 12), run once by hand; oathtool is not
 * needed at test time. The commands are given above each table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <qrencode.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/totp.h"
#include "lib/buf.h"
#include "lib/util.h"

/* The RFC 4226 / RFC 6238 SHA1 key, "12345678901234567890". */
static const uint8_t rfc_key[20] = "12345678901234567890";
#define RFC_KEY_B32 "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"

/* hex - decode a hex string of a test table into out; returns its length. */
static size_t
hex(const char *s, uint8_t *out, size_t outsz)
{
	size_t n = strlen(s) / 2, i;
	unsigned v;

	assert_true(n <= outsz);
	for (i = 0; i < n; i++) {
		assert_int_equal(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return n;
}

/* RFC 4226 Appendix D, plus counters past 32 bits from
 * `oathtool --hotp -b GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ -c COUNTER`
 * (which also prints the ten Appendix D values for counters 0-9). */
static void
test_hotp_vectors(void **state)
{
	static const struct {
		uint64_t counter;
		uint32_t hotp;
	} rows[] = {
		{0, 755224},	      {1, 287082},	    {2, 359152}, {3, 969429},
		{4, 338314},	      {5, 254676},	    {6, 287922}, {7, 162583},
		{8, 399871},	      {9, 520489},
		/* oathtool */
		{4294967295u, 117190}, {4294967296u, 999456}, {4294967297u, 108930},
		{UINT64_MAX, 94451},
	};
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rows); i++)
		if (totp_at(rfc_key, sizeof(rfc_key), rows[i].counter) != rows[i].hotp)
			fail_msg("counter %ju: %06u, want %06u", (uintmax_t)rows[i].counter,
				 totp_at(rfc_key, sizeof(rfc_key), rows[i].counter), rows[i].hotp);
}

/* RFC 6238 Appendix B, SHA1 rows (8 digits there; the last six are the
 * 6-digit code). Same six codes from
 * `oathtool --totp -b GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ --now=@TIME`. */
static void
test_totp_rfc6238(void **state)
{
	static const struct {
		uint64_t time;
		uint32_t rfc8; /* as printed in RFC 6238 */
		const char *code;
	} rows[] = {
		{59, 94287082, "287082"},	  {1111111109, 7081804, "081804"},
		{1111111111, 14050471, "050471"}, {1234567890, 89005924, "005924"},
		{2000000000, 69279037, "279037"}, {20000000000, 65353130, "353130"},
	};
	uint64_t step;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rows); i++) {
		assert_int_equal(totp_at(rfc_key, sizeof(rfc_key), rows[i].time / 30),
				 rows[i].rfc8 % 1000000);
		step = 0;
		assert_int_equal(totp_check(rfc_key, sizeof(rfc_key), rows[i].code, rows[i].time,
					    0, 0, &step),
				 0);
		assert_int_equal(step, rows[i].time / 30);
	}
}

/* Other keys (16, 20 and 64 bytes, and a 10-byte one that totp_at accepts
 * but totp_check refuses as shorter than RFC 4226 R6 allows), from
 * `oathtool --totp HEXKEY --now=@TIME`; the 20-, 64- and 10-byte keys are
 * from /dev/urandom. The base32 column is oathtool -v's "Base32 secret". */
static const struct {
	const char *hexkey, *b32;
	uint64_t time[7];
	const char *code[7];
} oath_rows[] = {
	{"00112233445566778899aabbccddeeff",
	 "AAISEM2EKVTHPCEZVK54ZXPO74======",
	 {0, 29, 30, 1700000000, 4102444800, 128849018880, 253402300799},
	 {"166448", "166448", "738396", "678654", "554796", "196689", "394424"}},
	{"95d92dd2f79a2fcae543fba909e387f805c0d3a3",
	 "SXMS3UXXTIX4VZKD7OUQTY4H7AC4BU5D",
	 {0, 29, 30, 1700000000, 4102444800, 128849018880, 253402300799},
	 {"200252", "200252", "798910", "356092", "862663", "909953", "088334"}},
	{"ecc6bd8a7c5298593b26d0a10896122e5f33ac103943e9b62777684b3ddddab3"
	 "6779f06ac5e30dc9f3cd9f6e558c897effa81b5cb49c4c91cfa68bbf2a9618cf",
	 "5TDL3CT4KKMFSOZG2CQQRFQSFZPTHLAQHFB6TNRHO5UEWPO53KZWO6PQNLC6GDOJ"
	 "6PGZ63SVRSEX575IDNOLJHCMSHH2NC57FKLBRTY=",
	 {0, 29, 30, 1700000000, 4102444800, 128849018880, 253402300799},
	 {"199299", "199299", "167345", "942834", "194686", "571258", "072552"}},
	{"2a92e14719fa1d1cdad6",
	 "FKJOCRYZ7IORZWWW",
	 {0, 29, 30, 1700000000, 4102444800, 128849018880, 253402300799},
	 {"665192", "665192", "620881", "503332", "892164", "872818", "001277"}},
};

static void
test_totp_oathtool(void **state)
{
	uint8_t key[TOTP_KEY_MAX];
	char want[8];
	uint64_t step;
	size_t i, j, n;
	int rc;

	(void)state;
	for (i = 0; i < nitems(oath_rows); i++) {
		n = hex(oath_rows[i].hexkey, key, sizeof(key));
		for (j = 0; j < nitems(oath_rows[i].time); j++) {
			uint64_t t = oath_rows[i].time[j];

			snprintf(want, sizeof(want), "%06u", totp_at(key, n, t / 30));
			if (strcmp(want, oath_rows[i].code[j]) != 0)
				fail_msg("key %zu time %ju: %s, want %s", i, (uintmax_t)t, want,
					 oath_rows[i].code[j]);
			rc = totp_check(key, n, oath_rows[i].code[j], t, 0, 0, &step);
			if (n < TOTP_KEY_MIN) {
				assert_int_equal(rc, -1);
				continue;
			}
			/* Step 0 (t < 30) is never above last_used 0: refused. */
			assert_int_equal(rc, t < 30 ? -1 : 0);
			if (rc == 0)
				assert_int_equal(step, t / 30);
		}
	}
}

/* Our base32 of the same keys equals oathtool's (padding dropped), and
 * oathtool's padded form decodes back to the key. */
static void
test_base32_oathtool(void **state)
{
	uint8_t key[TOTP_KEY_MAX], back[TOTP_KEY_MAX];
	char b32[BASE32_LEN(TOTP_KEY_MAX) + 1];
	size_t i, n, m, nopad;

	(void)state;
	for (i = 0; i < nitems(oath_rows); i++) {
		n = hex(oath_rows[i].hexkey, key, sizeof(key));
		assert_int_equal(base32_encode(key, n, b32, sizeof(b32)), 0);
		nopad = strcspn(oath_rows[i].b32, "=");
		assert_int_equal(strlen(b32), nopad);
		assert_memory_equal(b32, oath_rows[i].b32, nopad);
		assert_int_equal(base32_decode(oath_rows[i].b32, back, sizeof(back), &m), 0);
		assert_int_equal(m, n);
		assert_memory_equal(back, key, n);
	}
	assert_int_equal(base32_encode(rfc_key, sizeof(rfc_key), b32, sizeof(b32)), 0);
	assert_string_equal(b32, RFC_KEY_B32);
}

/* The window around now = 1111111109 (step 37037036). Codes from
 * `oathtool --hotp -b GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ -c STEP`; oathtool
 * agrees on the window: `oathtool --totp -b ... --now=@1111111109 -w 1 CODE`
 * finds 731029 and 050471 at offset 1 and refuses 150727 and 266759. */
static void
test_window(void **state)
{
	static const struct {
		const char *code;
		unsigned window;
		int rc;
		uint64_t step;
	} rows[] = {
		{"081804", 0, 0, 37037036},
		{"050471", 0, -1, 0},
		{"731029", 0, -1, 0},
		{"731029", 1, 0, 37037035},
		{"050471", 1, 0, 37037037},
		{"150727", 1, -1, 0},
		{"266759", 1, -1, 0},
		{"150727", 2, 0, 37037034},
		{"266759", 2, 0, 37037038},
		{"081804", 10, 0, 37037036},
		{"081804", 11, -1, 0}, /* above TOTP_WINDOW_MAX */
		{"000000", 2, -1, 0},
	};
	uint64_t step;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rows); i++) {
		step = 42;
		assert_int_equal(totp_check(rfc_key, sizeof(rfc_key), rows[i].code, 1111111109,
					    rows[i].window, 0, &step),
				 rows[i].rc);
		assert_int_equal(step, rows[i].rc == 0 ? rows[i].step : 42);
	}
}

/* Replay: a step at or below last_used is refused even inside the window. */
static void
test_replay(void **state)
{
	static const struct {
		const char *code;
		uint64_t last_used;
		int rc;
	} rows[] = {
		{"081804", 0, 0},	   {"081804", 37037035, 0},  {"081804", 37037036, -1},
		{"081804", 37037037, -1}, {"050471", 37037036, 0},  {"731029", 37037035, -1},
		{"731029", 37037034, 0},  {"050471", UINT64_MAX, -1},
	};
	uint64_t step, last = 0;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rows); i++)
		assert_int_equal(totp_check(rfc_key, sizeof(rfc_key), rows[i].code, 1111111109, 1,
					    rows[i].last_used, &step),
				 rows[i].rc);
	/* A session: each accepted step becomes last_used; the same code twice
	 * is refused, the next step's code is not. */
	assert_int_equal(totp_check(rfc_key, 20, "081804", 1111111109, 1, last, &step), 0);
	last = step;
	assert_int_equal(totp_check(rfc_key, 20, "081804", 1111111109, 1, last, &step), -1);
	assert_int_equal(totp_check(rfc_key, 20, "081804", 1111111111, 1, last, &step), -1);
	assert_int_equal(totp_check(rfc_key, 20, "050471", 1111111111, 1, last, &step), 0);
	assert_int_equal(step, 37037037);
	/* The window is clipped at step 0, and step 0 is never above 0. */
	assert_int_equal(totp_check(rfc_key, 20, "287082", 29, 1, 0, &step), 0);
	assert_int_equal(step, 1);
	assert_int_equal(totp_check(rfc_key, 20, "755224", 29, 1, 0, &step), -1);
}

/* Only exactly six ASCII digits, and only keys of a sane length. */
static void
test_code_syntax(void **state)
{
	static const char *const bad[] = {
		"",	   "08180",    "0818044",  "081804 ", " 081804", "08 1804", "+81804",
		"-81804", "0x1804",   "08180a",	  "081804\n", "\t081804", "\xd9\xa0" "81804",
		"081804\xff",
	};
	uint8_t key[TOTP_KEY_MAX + 1];
	uint64_t step = 7;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(bad); i++)
		if (totp_check(rfc_key, sizeof(rfc_key), bad[i], 1111111109, 10, 0, &step) != -1)
			fail_msg("code \"%s\" accepted", bad[i]);
	assert_int_equal(step, 7);
	/* "081804" checked against a 15- and a 65-byte key: refused unseen. */
	memset(key, 0, sizeof(key));
	memcpy(key, rfc_key, sizeof(rfc_key));
	assert_int_equal(totp_check(key, TOTP_KEY_MIN - 1, "081804", 1111111109, 1, 0, &step), -1);
	assert_int_equal(totp_check(key, TOTP_KEY_MAX + 1, "081804", 1111111109, 1, 0, &step), -1);
}

/* RFC 4648 section 10 vectors, then every length 0..64 both ways, in
 * lower case, with spaces and with padding. */
static void
test_base32_roundtrip(void **state)
{
	static const struct {
		const char *plain, *enc, *padded;
	} rows[] = {
		{"", "", ""},
		{"f", "MY", "MY======"},
		{"fo", "MZXQ", "MZXQ===="},
		{"foo", "MZXW6", "MZXW6==="},
		{"foob", "MZXW6YQ", "MZXW6YQ="},
		{"fooba", "MZXW6YTB", "MZXW6YTB"},
		{"foobar", "MZXW6YTBOI", "MZXW6YTBOI======"},
	};
	uint8_t in[64], back[64];
	char enc[BASE32_LEN(64) + 1], alt[3 * sizeof(enc)];
	size_t i, j, n, m, k;

	(void)state;
	for (i = 0; i < nitems(rows); i++) {
		n = strlen(rows[i].plain);
		assert_int_equal(base32_encode((const uint8_t *)rows[i].plain, n, enc, sizeof(enc)),
				 0);
		assert_string_equal(enc, rows[i].enc);
		assert_int_equal(base32_decode(rows[i].padded, back, sizeof(back), &m), 0);
		assert_int_equal(m, n);
		assert_memory_equal(back, rows[i].plain, n);
	}
	for (n = 0; n <= sizeof(in); n++) {
		for (i = 0; i < n; i++)
			in[i] = (uint8_t)(i * 37 + n * 101 + 7);
		assert_int_equal(base32_encode(in, n, enc, sizeof(enc)), 0);
		assert_int_equal(strlen(enc), BASE32_LEN(n));
		assert_int_equal(strspn(enc, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), strlen(enc));
		assert_int_equal(base32_decode(enc, back, sizeof(back), &m), 0);
		assert_int_equal(m, n);
		assert_memory_equal(back, in, n);
		/* lower case, a space every 4 characters, padding to a multiple of 8 */
		for (i = j = 0; enc[i] != '\0'; i++) {
			if (i % 4 == 0)
				alt[j++] = ' ';
			alt[j++] = (char)tolower((unsigned char)enc[i]);
		}
		for (k = i; k % 8 != 0; k++)
			alt[j++] = '=';
		alt[j] = '\0';
		assert_int_equal(base32_decode(alt, back, sizeof(back), &m), 0);
		assert_int_equal(m, n);
		assert_memory_equal(back, in, n);
	}
	/* Too small an output buffer for the encoder. */
	assert_int_equal(base32_encode((const uint8_t *)"foobar", 6, enc, 10), -1);
	assert_int_equal(base32_encode((const uint8_t *)"foobar", 6, enc, 11), 0);
}

static void
test_base32_malformed(void **state)
{
	static const char *const bad[] = {
		"M",	     "MZX",	    "MZXW6Y",	   /* lengths 1, 3, 6 mod 8 */
		"MZ",	     "MZXR",	    "MZXW7",	   /* non-zero unused bits */
		"MY=",	     "MY=====",	    "MY=======",  /* wrong amount of padding */
		"=",	     "========",    "MZXW6YTB========",
		"MY======A", "MY==A===",    "MZXW6=YQ",
		"MZ1W",	     "MZ8W",	    "MZ0W",	  "MZ-W", "MZ\tW",
		"MZ\nW",     "MZ_W",	    "M\xc3\x89", "MZ\xffW",
	};
	static const char *const good[] = {"MY= =====", "  MY  ", "my======", "M Y"};
	uint8_t out[16];
	size_t i, n;

	(void)state;
	for (i = 0; i < nitems(bad); i++) {
		n = 99;
		if (base32_decode(bad[i], out, sizeof(out), &n) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(n, 0);
	}
	for (i = 0; i < nitems(good); i++) {
		assert_int_equal(base32_decode(good[i], out, sizeof(out), &n), 0);
		assert_int_equal(n, 1);
		assert_int_equal(out[0], 'f');
	}
	/* Output one byte short: refused, and the bytes written are wiped. */
	memset(out, 0xaa, sizeof(out));
	assert_int_equal(base32_decode("MZXW6YTB", out, 4, &n), -1);
	assert_int_equal(n, 0);
	assert_memory_equal(out, "\0\0\0\0\xaa", 5);
	assert_int_equal(base32_decode("MZXW6YTB", out, 5, &n), 0);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "fooba", 5);
}

/* Expected escapes checked with Python's urllib.parse.quote(s, safe=""),
 * which keeps exactly the RFC 3986 unreserved set. */
static void
test_uri(void **state)
{
	static const struct {
		const char *issuer, *account, *want;
	} rows[] = {
		{"Example Mail", "alice@example.test",
		 "otpauth://totp/Example%20Mail:alice%40example.test?secret=" RFC_KEY_B32
		 "&issuer=Example%20Mail&algorithm=SHA1&digits=6&period=30"},
		{"P\xc3\xb6stern", "Jos\xc3\xa9 M\xc3\xbcller",
		 "otpauth://totp/P%C3%B6stern:Jos%C3%A9%20M%C3%BCller?secret=" RFC_KEY_B32
		 "&issuer=P%C3%B6stern&algorithm=SHA1&digits=6&period=30"},
		{"a&b=c?d/e#f+g%h -._~", "x",
		 "otpauth://totp/a%26b%3Dc%3Fd%2Fe%23f%2Bg%25h%20-._~:x?secret=" RFC_KEY_B32
		 "&issuer=a%26b%3Dc%3Fd%2Fe%23f%2Bg%25h%20-._~&algorithm=SHA1&digits=6&period=30"},
	};
	struct buf b = BUF_INIT;
	size_t i;

	(void)state;
	for (i = 0; i < nitems(rows); i++) {
		buf_reset(&b);
		assert_int_equal(totp_uri(rows[i].issuer, rows[i].account, rfc_key, 20, &b), 0);
		assert_string_equal(buf_cstr(&b), rows[i].want);
	}
	/* Appends. */
	buf_reset(&b);
	buf_adds(&b, "uri=");
	assert_int_equal(totp_uri("I", "a", rfc_key, 20, &b), 0);
	assert_true(strncmp(buf_cstr(&b), "uri=otpauth://totp/I:a?secret=", 30) == 0);
	buf_wipe_free(&b);
}

static void
test_uri_refused(void **state)
{
	static const struct {
		const char *issuer, *account;
		size_t keylen;
	} rows[] = {
		{"Ex:ample", "alice", 20}, {"Example", "al:ice", 20},  {"", "alice", 20},
		{"Example", "", 20},	   {"Ex\nample", "alice", 20}, {"Example", "al\x7f", 20},
		{"Example", "\x1b[2J", 20}, {"Example", "alice", 15},  {"Example", "alice", 65},
	};
	char longname[TOTP_LABEL_MAX + 2];
	uint8_t key[TOTP_KEY_MAX + 1] = {0};
	struct buf b = BUF_INIT;
	size_t i;

	(void)state;
	buf_adds(&b, "kept");
	for (i = 0; i < nitems(rows); i++) {
		if (totp_uri(rows[i].issuer, rows[i].account, key, rows[i].keylen, &b) != -1)
			fail_msg("row %zu accepted", i);
		assert_string_equal(buf_cstr(&b), "kept");
	}
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(totp_uri(longname, "alice", key, 20, &b), -1);
	longname[TOTP_LABEL_MAX] = '\0';
	assert_int_equal(totp_uri(longname, longname, key, TOTP_KEY_MAX, &b), 0);
	buf_wipe_free(&b);
}

/* qr_cell - which of the four glyphs starts at s (2 bits: top, bottom
 * light), and its length; -1 for anything else. */
static int
qr_cell(const char *s, size_t *len)
{
	static const char *const glyph[4] = {" ", "\xe2\x96\x84", "\xe2\x96\x80", "\xe2\x96\x88"};
	int g;

	for (g = 0; g < 4; g++) {
		*len = strlen(glyph[g]);
		if (strncmp(s, glyph[g], *len) == 0)
			return g;
	}
	return -1;
}

/* The drawing is made only of the four glyphs and newlines, and read back
 * it is libqrencode's matrix (ECC M, 8-bit) inside a 4-module light border
 * (plus the light half row that completes the last line). Checked once by
 * hand as well: for this URI the output is byte for byte that of
 * `qrencode -t UTF8 -l M -m 4 -8 URI` (ANSI colour codes removed), and
 * zbarimg reads the URI back from it rendered as an image. */
static void
test_qr(void **state)
{
	struct buf uri = BUF_INIT, b = BUF_INIT;
	QRcode *qr;
	const char *p;
	size_t len;
	int x, y, w, size, g, light, want;

	(void)state;
	assert_int_equal(totp_uri("Example Mail", "alice@example.test", rfc_key, 20, &uri), 0);
	assert_int_equal(totp_qr_terminal(buf_cstr(&uri), &b), 0);
	assert_true(b.len > 0);
	qr = QRcode_encodeString8bit(buf_cstr(&uri), 0, QR_ECLEVEL_M);
	assert_non_null(qr);
	w = qr->width;
	size = w + 8;
	p = buf_cstr(&b);
	for (y = 0; y < size; y += 2) {
		for (x = 0; x < size; x++) {
			g = qr_cell(p, &len);
			if (g == -1)
				fail_msg("unexpected byte 0x%02x at line %d cell %d",
					 (unsigned char)*p, y / 2, x);
			for (int half = 0; half < 2; half++) {
				int yy = y + half - 4, xx = x - 4;

				light = (g >> (1 - half)) & 1;
				if (xx < 0 || yy < 0 || xx >= w || yy >= w)
					want = 1; /* quiet zone */
				else
					want = !(qr->data[yy * w + xx] & 1);
				if (light != want)
					fail_msg("module (%d,%d): %d, want %d", x, y + half, light,
						 want);
			}
			p += len;
		}
		assert_int_equal(*p, '\n');
		p++;
	}
	assert_int_equal(*p, '\0');
	QRcode_free(qr);
	buf_wipe_free(&b);
	buf_wipe_free(&uri);
}

static void
test_qr_refused(void **state)
{
	struct buf b = BUF_INIT;
	char *big = xmalloc(4000);
	size_t i, n;

	(void)state;
	memset(big, 'A', 3999); /* above 2331 bytes, the 8-bit capacity at level M */
	big[3999] = '\0';
	buf_adds(&b, "kept");
	assert_int_equal(totp_qr_terminal("", &b), -1);
	assert_int_equal(totp_qr_terminal(big, &b), -1);
	assert_string_equal(buf_cstr(&b), "kept");
	assert_int_equal(totp_qr_terminal("x", &b), 0);
	/* version 1: 21 modules + 8 of border = 29 rows, drawn on 15 lines */
	for (i = n = 0; i < b.len; i++)
		n += b.data[i] == '\n';
	assert_int_equal(n, 15);
	free(big);
	buf_free(&b);
}

static const uint8_t seal_key_a[SEAL_KEY_LEN] = "0123456789abcdef0123456789abcdef";
#define B64_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

static void
test_seal_roundtrip(void **state)
{
	static const size_t lens[] = {0, 1, 20, 64, 1000, SEAL_PLAIN_MAX};
	uint8_t *plain = xmalloc(SEAL_PLAIN_MAX), *back = xmalloc(SEAL_PLAIN_MAX);
	struct buf a = BUF_INIT, b = BUF_INIT;
	size_t i, j, n;

	(void)state;
	for (i = 0; i < nitems(lens); i++) {
		for (j = 0; j < lens[i]; j++)
			plain[j] = (uint8_t)(j * 7 + i);
		buf_reset(&a);
		buf_reset(&b);
		assert_int_equal(seal(seal_key_a, plain, lens[i], &a), 0);
		assert_int_equal(seal(seal_key_a, plain, lens[i], &b), 0);
		assert_int_equal(a.len, SEAL_LEN(lens[i]));
		assert_int_equal(strspn(buf_cstr(&a), B64_CHARS "="), a.len);
		assert_string_not_equal(buf_cstr(&a), buf_cstr(&b)); /* fresh nonce */
		assert_int_equal(unseal(seal_key_a, buf_cstr(&a), back, lens[i], &n), 0);
		assert_int_equal(n, lens[i]);
		assert_memory_equal(back, plain, n);
		assert_int_equal(unseal(seal_key_a, buf_cstr(&b), back, SEAL_PLAIN_MAX, &n), 0);
		assert_int_equal(n, lens[i]);
		if (lens[i] > 0) /* one byte short of room */
			assert_int_equal(unseal(seal_key_a, buf_cstr(&a), back, lens[i] - 1, &n),
					 -1);
	}
	assert_int_equal(seal(seal_key_a, plain, SEAL_PLAIN_MAX + 1, &a), -1);
	buf_reset(&a);
	buf_adds(&a, "prefix:");
	assert_int_equal(seal(seal_key_a, plain, 20, &a), 0);
	assert_int_equal(a.len, 7 + SEAL_LEN(20));
	assert_int_equal(unseal(seal_key_a, buf_cstr(&a) + 7, back, 20, &n), 0);
	free(plain);
	free(back);
	buf_free(&a);
	buf_free(&b);
}

/* Every one-character change of a sealed string, each truncation and
 * extension, and a wrong key are refused, and leave out untouched. */
static void
test_seal_tamper(void **state)
{
	static const char b64[] = B64_CHARS "= .";
	static const char *const tails[] = {"A", "=", "\n", " ", "==", "AAAA", "\x80"};
	uint8_t secret[TOTP_SECRET_LEN], out[64], wrong[SEAL_KEY_LEN];
	struct buf s = BUF_INIT;
	char *t;
	size_t i, j, n, len;

	(void)state;
	totp_new_secret(secret);
	assert_int_equal(seal(seal_key_a, secret, sizeof(secret), &s), 0);
	len = s.len;
	t = xmalloc(len + 8);
	memset(out, 0xaa, sizeof(out));
	for (i = 0; i < len; i++)
		for (j = 0; j < sizeof(b64) - 1; j++) {
			if (b64[j] == s.data[i])
				continue;
			memcpy(t, s.data, len + 1);
			t[i] = b64[j];
			if (unseal(seal_key_a, t, out, sizeof(out), &n) != -1)
				fail_msg("position %zu changed to '%c' accepted", i, b64[j]);
			assert_int_equal(n, 0);
		}
	for (i = 0; i < len; i++) {
		memcpy(t, s.data, i);
		t[i] = '\0';
		assert_int_equal(unseal(seal_key_a, t, out, sizeof(out), &n), -1);
	}
	for (i = 0; i < nitems(tails); i++) {
		snprintf(t, len + 8, "%s%s", s.data, tails[i]);
		assert_int_equal(unseal(seal_key_a, t, out, sizeof(out), &n), -1);
	}
	for (i = 0; i < sizeof(out); i++)
		assert_int_equal(out[i], 0xaa);
	for (i = 0; i < SEAL_KEY_LEN * 8; i += 37) {
		memcpy(wrong, seal_key_a, sizeof(wrong));
		wrong[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_equal(unseal(wrong, s.data, out, sizeof(out), &n), -1);
	}
	assert_int_equal(unseal(seal_key_a, s.data, out, sizeof(out), &n), 0);
	assert_int_equal(n, sizeof(secret));
	assert_memory_equal(out, secret, n);
	free(t);
	buf_free(&s);
}

/* A fresh directory under TMPDIR for the key file tests. */
static char tmpdir[256];

static int
setup_dir(void **state)
{
	const char *base = getenv("TMPDIR");

	(void)state;
	if (str_fmt(tmpdir, sizeof(tmpdir), "%s/test_totp.XXXXXX", base ? base : "/tmp") == -1 ||
	    mkdtemp(tmpdir) == NULL)
		return -1;
	return 0;
}

static int
teardown_dir(void **state)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char p[512];

	(void)state;
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (str_fmt(p, sizeof(p), "%s/%s", tmpdir, e->d_name) == 0 && unlink(p) == -1)
			(void)rmdir(p);
	}
	closedir(d);
	return rmdir(tmpdir);
}

/* dir_entries - the number of entries in tmpdir, "." and ".." excluded. */
static int
dir_entries(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

static void
write_file(const char *path, size_t n, mode_t mode)
{
	uint8_t data[64];
	int fd;

	memset(data, 0x5a, sizeof(data));
	(void)unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	assert_true(fd != -1);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void
test_key_file(void **state)
{
	static const uint8_t zero[SEAL_KEY_LEN];
	uint8_t k1[SEAL_KEY_LEN], k2[SEAL_KEY_LEN], secret[20] = "twenty bytes secret", out[20];
	char path[512], other[512];
	struct buf s = BUF_INIT;
	struct stat st;
	size_t n;

	(void)state;
	assert_int_equal(str_fmt(path, sizeof(path), "%s/seal.key", tmpdir), 0);
	assert_int_equal(seal_key_create(path, k1), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_size, SEAL_KEY_LEN);
	assert_int_equal(dir_entries(), 1); /* no temp file left */
	assert_memory_not_equal(k1, zero, SEAL_KEY_LEN);
	assert_int_equal(seal_key_load(path, k2), 0);
	assert_memory_equal(k1, k2, SEAL_KEY_LEN);
	/* sealed under the created key, unsealed under the loaded one */
	assert_int_equal(seal(k1, secret, sizeof(secret), &s), 0);
	assert_int_equal(unseal(k2, s.data, out, sizeof(out), &n), 0);
	assert_memory_equal(out, secret, sizeof(secret));
	/* never replaced */
	memset(k2, 0xaa, sizeof(k2));
	errno = 0;
	assert_int_equal(seal_key_create(path, k2), -1);
	assert_int_equal(errno, EEXIST);
	assert_memory_equal(k2, zero, SEAL_KEY_LEN);
	assert_int_equal(dir_entries(), 1);
	assert_int_equal(seal_key_load(path, k2), 0);
	assert_memory_equal(k1, k2, SEAL_KEY_LEN);
	/* nor through a dangling symlink */
	assert_int_equal(str_fmt(other, sizeof(other), "%s/link.key", tmpdir), 0);
	assert_int_equal(symlink("/nonexistent/postern-test-target", other), 0);
	assert_int_equal(seal_key_create(other, k2), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(unlink(other), 0);
	/* a missing directory, an empty file name */
	assert_int_equal(str_fmt(other, sizeof(other), "%s/nodir/seal.key", tmpdir), 0);
	assert_int_equal(seal_key_create(other, k2), -1);
	assert_int_equal(str_fmt(other, sizeof(other), "%s/", tmpdir), 0);
	assert_int_equal(seal_key_create(other, k2), -1);
	assert_int_equal(dir_entries(), 1);
	buf_free(&s);
}

static void
test_key_file_refused(void **state)
{
	static const struct {
		size_t size;
		mode_t mode;
		int rc, err;
	} rows[] = {
		{32, 0600, 0, 0},	 {32, 0400, 0, 0},	   {32, 0640, -1, EPERM},
		{32, 0604, -1, EPERM},	 {32, 0700, -1, EPERM},	   {32, 0660, -1, EPERM},
		{32, 04600, -1, EPERM}, {31, 0600, -1, EINVAL},  {33, 0600, -1, EINVAL},
		{0, 0600, -1, EINVAL},	 {64, 0600, -1, EINVAL},
	};
	static const uint8_t zero[SEAL_KEY_LEN];
	uint8_t key[SEAL_KEY_LEN];
	char path[512], link_path[512];
	size_t i;

	(void)state;
	assert_int_equal(str_fmt(path, sizeof(path), "%s/k", tmpdir), 0);
	for (i = 0; i < nitems(rows); i++) {
		write_file(path, rows[i].size, rows[i].mode);
		memset(key, 0xaa, sizeof(key));
		errno = 0;
		if (seal_key_load(path, key) != rows[i].rc)
			fail_msg("row %zu: size %zu mode %o", i, rows[i].size,
				 (unsigned)rows[i].mode);
		if (rows[i].rc == -1) {
			assert_int_equal(errno, rows[i].err);
			assert_memory_equal(key, zero, SEAL_KEY_LEN);
		}
	}
	/* a symlink to a good key file, a directory, a FIFO, nothing at all */
	write_file(path, 32, 0600);
	assert_int_equal(str_fmt(link_path, sizeof(link_path), "%s/l", tmpdir), 0);
	assert_int_equal(symlink(path, link_path), 0);
	assert_int_equal(seal_key_load(link_path, key), -1);
	assert_int_equal(errno, ELOOP);
	assert_int_equal(unlink(link_path), 0);
	assert_int_equal(seal_key_load(tmpdir, key), -1);
	assert_int_equal(mkfifo(link_path, 0600), 0);
	assert_int_equal(seal_key_load(link_path, key), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(unlink(link_path), 0);
	assert_int_equal(seal_key_load(link_path, key), -1);
	assert_int_equal(errno, ENOENT);
	/* owned by someone else (root can set that up; others skip it) */
	if (geteuid() == 0) {
		assert_int_equal(chown(path, 1, 1), 0);
		assert_int_equal(seal_key_load(path, key), -1);
		assert_int_equal(errno, EPERM);
	}
	assert_int_equal(unlink(path), 0);
}

static void
test_new_secret(void **state)
{
	static const uint8_t zero[TOTP_SECRET_LEN];
	uint8_t a[TOTP_SECRET_LEN], b[TOTP_SECRET_LEN];

	(void)state;
	totp_new_secret(a);
	totp_new_secret(b);
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_memory_not_equal(a, b, sizeof(a));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hotp_vectors),
		cmocka_unit_test(test_totp_rfc6238),
		cmocka_unit_test(test_totp_oathtool),
		cmocka_unit_test(test_base32_oathtool),
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_code_syntax),
		cmocka_unit_test(test_base32_roundtrip),
		cmocka_unit_test(test_base32_malformed),
		cmocka_unit_test(test_uri),
		cmocka_unit_test(test_uri_refused),
		cmocka_unit_test(test_qr),
		cmocka_unit_test(test_qr_refused),
		cmocka_unit_test(test_seal_roundtrip),
		cmocka_unit_test(test_seal_tamper),
		cmocka_unit_test_setup_teardown(test_key_file, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_key_file_refused, setup_dir, teardown_dir),
		cmocka_unit_test(test_new_secret),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
