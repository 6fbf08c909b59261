/* UTF-8 <-> UTF-16LE: the BMP, surrogate pairs, every class of invalid input, the slash and
 * uppercase flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smbgate/err.h"
#include "util/utf16.h"
#include "util/wbuf.h"

/* Converts and compares against the expected UTF-16LE bytes. */
static void expect_to16(const char *s, size_t len, int flags, const uint8_t *want, size_t wlen)
{
	struct wbuf b;
	wbuf_init(&b);
	assert_int_equal(utf16_from_utf8(&b, s, len, flags), 0);
	assert_int_equal(b.len, wlen);
	if (wlen)
		assert_memory_equal(b.p, want, wlen);
	wbuf_free(&b);
}

static void expect_to8(const uint8_t *p, size_t len, int flags, const char *want)
{
	char *s = (char *)"sentinel";
	assert_int_equal(utf16_to_utf8(p, len, &s, flags), 0);
	assert_non_null(s);
	assert_string_equal(s, want);
	free(s);
}

static void test_ascii_bmp(void **state)
{
	static const uint8_t ascii[] = {'a', 0, 'B', 0, '/', 0, '1', 0};
	expect_to16("aB/1", 4, 0, ascii, sizeof(ascii));
	expect_to8(ascii, sizeof(ascii), 0, "aB/1");

	/* é (2 bytes), € (3 bytes), 日本 (3 bytes each), U+FFFD, U+FFFF, U+E000 (private use). */
	static const uint8_t bmp[] = {0xe9, 0x00, 0xac, 0x20, 0xe5, 0x65, 0x2c,
				      0x67, 0xfd, 0xff, 0xff, 0xff, 0x00, 0xe0};
	const char *s = "\xc3\xa9\xe2\x82\xac\xe6\x97\xa5\xe6\x9c\xac\xef\xbf\xbd\xef\xbf\xbf"
			"\xee\x80\x80";
	expect_to16(s, strlen(s), 0, bmp, sizeof(bmp));
	expect_to8(bmp, sizeof(bmp), 0, s);

	/* Boundaries of each length: U+007F, U+0080, U+07FF, U+0800, U+D7FF. */
	static const uint8_t edges[] = {0x7f, 0x00, 0x80, 0x00, 0xff, 0x07, 0x00, 0x08, 0xff, 0xd7};
	const char *e = "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf";
	expect_to16(e, strlen(e), 0, edges, sizeof(edges));
	expect_to8(edges, sizeof(edges), 0, e);
}

static void test_astral(void **state)
{
	/* U+1F600 (D83D DE00), U+10000 (D800 DC00), U+10FFFF (DBFF DFFF). */
	static const uint8_t want[] = {0x3d, 0xd8, 0x00, 0xde, 0x00, 0xd8,
				       0x00, 0xdc, 0xff, 0xdb, 0xff, 0xdf};
	const char *s = "\xf0\x9f\x98\x80\xf0\x90\x80\x80\xf4\x8f\xbf\xbf";
	expect_to16(s, strlen(s), 0, want, sizeof(want));
	expect_to8(want, sizeof(want), 0, s);
}

static void test_empty(void **state)
{
	struct wbuf b;
	wbuf_init(&b);
	assert_int_equal(utf16_from_utf8(&b, "", 0, 0), 0);
	assert_int_equal(b.len, 0);
	wbuf_free(&b);
	expect_to8(NULL, 0, 0, "");
	assert_true(utf8_valid("", 0));
}

/* Each class of invalid UTF-8 is refused, and appends nothing to what was already there. */
static void test_invalid_utf8(void **state)
{
	static const struct {
		const char *what;
		const char *s;
	} bad[] = {
	    {"lone continuation", "\x80"},
	    {"continuation at end of a run", "a\xbf"},
	    {"C0 overlong lead", "\xc0\xaf"},
	    {"C1 overlong lead", "\xc1\xbf"},
	    {"overlong 3-byte '/'", "\xe0\x80\xaf"},
	    {"overlong 3-byte U+07FF", "\xe0\x9f\xbf"},
	    {"overlong 4-byte U+FFFF", "\xf0\x8f\xbf\xbf"},
	    {"surrogate D800", "\xed\xa0\x80"},
	    {"surrogate DFFF", "\xed\xbf\xbf"},
	    {"CESU-8 pair", "\xed\xa0\xbd\xed\xb8\x80"},
	    {"above U+10FFFF", "\xf4\x90\x80\x80"},
	    {"F5 lead", "\xf5\x80\x80\x80"},
	    {"FF byte", "\xff"},
	    {"FE byte", "\xfe"},
	    {"truncated 2-byte", "\xc3"},
	    {"truncated 3-byte", "\xe2\x82"},
	    {"truncated 4-byte", "\xf0\x9f\x98"},
	    {"bad second byte", "\xc3\x28"},
	    {"bad third byte", "\xe2\x82\x28"},
	    {"bad fourth byte", "\xf0\x9f\x98\x28"},
	    {"third byte above BF", "\xe2\x82\xc0"},
	    {"fourth byte above BF", "\xf0\x9f\x98\xc0"},
	    {"second byte above BF", "\xc3\xc0"},
	    {"5-byte form", "\xf8\x88\x80\x80\x80"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct wbuf b;
		size_t n = strlen(bad[i].s);
		wbuf_init(&b);
		wbuf_put_bytes(&b, "XY", 2);
		print_message("  invalid: %s\n", bad[i].what);
		assert_int_equal(utf16_from_utf8(&b, bad[i].s, n, 0), SMBG_ENAME);
		assert_int_equal(b.len, 2);
		assert_false(utf8_valid(bad[i].s, n));
		/* Also after a valid prefix. */
		char buf[16];
		memcpy(buf, "ok", 2);
		memcpy(buf + 2, bad[i].s, n);
		assert_int_equal(utf16_from_utf8(&b, buf, n + 2, 0), SMBG_ENAME);
		assert_int_equal(b.len, 2);
		assert_false(utf8_valid(buf, n + 2));
		wbuf_free(&b);
	}
	/* A truncated sequence must not be read past len even when valid bytes follow. */
	assert_false(utf8_valid("\xc3\xa9", 1));
	assert_true(utf8_valid("\xc3\xa9", 2));
}

static void test_invalid_utf16(void **state)
{
	char *s = (char *)"sentinel";
	static const uint8_t odd[] = {'a', 0, 'b'};
	assert_int_equal(utf16_to_utf8(odd, sizeof(odd), &s, 0), SMBG_EPROTO);
	assert_null(s);
	static const uint8_t lone_high[] = {'a', 0, 0x3d, 0xd8};
	assert_int_equal(utf16_to_utf8(lone_high, sizeof(lone_high), &s, 0), SMBG_ENAME);
	assert_null(s);
	static const uint8_t high_then_a[] = {0x3d, 0xd8, 'a', 0};
	assert_int_equal(utf16_to_utf8(high_then_a, sizeof(high_then_a), &s, 0), SMBG_ENAME);
	static const uint8_t high_high[] = {0x3d, 0xd8, 0x3d, 0xd8, 0x00, 0xde};
	assert_int_equal(utf16_to_utf8(high_high, sizeof(high_high), &s, 0), SMBG_ENAME);
	static const uint8_t lone_low[] = {0x00, 0xde, 'a', 0};
	assert_int_equal(utf16_to_utf8(lone_low, sizeof(lone_low), &s, 0), SMBG_ENAME);
	static const uint8_t high_then_e000[] = {0x3d, 0xd8, 0x00, 0xe0};
	assert_int_equal(utf16_to_utf8(high_then_e000, sizeof(high_then_e000), &s, 0), SMBG_ENAME);
	static const uint8_t lone_dfff[] = {0xff, 0xdf};
	assert_int_equal(utf16_to_utf8(lone_dfff, sizeof(lone_dfff), &s, 0), SMBG_ENAME);
	static const uint8_t swapped[] = {0x00, 0xde, 0x3d, 0xd8};
	assert_int_equal(utf16_to_utf8(swapped, sizeof(swapped), &s, 0), SMBG_ENAME);
	/* An embedded NUL would cut the C string short: refused. */
	static const uint8_t nul[] = {'a', 0, 0, 0, 'b', 0};
	assert_int_equal(utf16_to_utf8(nul, sizeof(nul), &s, 0), SMBG_ENAME);
	assert_null(s);
}

/* A terminating NUL counted in the length (some peers do) is dropped. */
static void test_trailing_nul(void **state)
{
	static const uint8_t t1[] = {'a', 0, 'b', 0, 0, 0};
	expect_to8(t1, sizeof(t1), 0, "ab");
	static const uint8_t t2[] = {'a', 0, 0, 0, 0, 0};
	expect_to8(t2, sizeof(t2), 0, "a");
	static const uint8_t t3[] = {0, 0};
	expect_to8(t3, sizeof(t3), 0, "");
}

static void test_slash(void **state)
{
	static const uint8_t want[] = {'a', 0, '\\', 0, 'b', 0, '\\', 0, 'c', 0};
	expect_to16("a/b\\c", 5, UTF16_SLASH_TO_BACKSLASH, want, sizeof(want));
	static const uint8_t plain[] = {'a', 0, '/', 0, 'b', 0, '\\', 0, 'c', 0};
	expect_to16("a/b\\c", 5, 0, plain, sizeof(plain));
	expect_to8(want, sizeof(want), UTF16_SLASH_TO_BACKSLASH, "a/b/c");
	expect_to8(want, sizeof(want), 0, "a\\b\\c");
}

static void test_uppercase(void **state)
{
	/* ASCII; é->É; ÿ->Ÿ (U+0178); Greek α->Α; Cyrillic я->Я; ß has no 1:1 upper; fullwidth
	 * ａ->Ａ; an astral letter (Deseret U+10428) stays as it is, as on Windows. */
	const char *s = "user\xc3\xa9\xc3\xbf\xce\xb1\xd1\x8f\xc3\x9f\xef\xbd\x81\xf0\x90\x90\xa8"
			"Zaz9_{";
	static const uint8_t want[] = {'U',  0,	   'S',	 0,    'E',  0,	   'R',	 0,    0xc9,
				       0x00, 0x78, 0x01, 0x91, 0x03, 0x2f, 0x04, 0xdf, 0x00,
				       0x21, 0xff, 0x01, 0xd8, 0x28, 0xdc, 'Z',	 0,    'A',
				       0,    'Z',  0,	 '9',  0,    '_',  0,	 '{',  0};
	expect_to16(s, strlen(s), UTF16_UPPERCASE, want, sizeof(want));
	expect_to8(want, sizeof(want), 0,
		   "USER\xc3\x89\xc5\xb8\xce\x91\xd0\xaf\xc3\x9f\xef\xbc\xa1\xf0\x90"
		   "\x90\xa8ZAZ9_{");
	/* Both flags at once. */
	static const uint8_t both[] = {'A', 0, '\\', 0, 'B', 0};
	expect_to16("a/b", 3, UTF16_UPPERCASE | UTF16_SLASH_TO_BACKSLASH, both, sizeof(both));
	/* And in the other direction. */
	static const uint8_t lower[] = {'a', 0, 0xe9, 0x00};
	expect_to8(lower, sizeof(lower), UTF16_UPPERCASE, "A\xc3\x89");
}

/* Appending keeps what was there. */
static void test_append(void **state)
{
	struct wbuf b;
	wbuf_init(&b);
	wbuf_put_u8(&b, 0x55);
	assert_int_equal(utf16_from_utf8(&b, "ab", 2, 0), 0);
	assert_int_equal(utf16_from_utf8(&b, "c", 1, 0), 0);
	static const uint8_t want[] = {0x55, 'a', 0, 'b', 0, 'c', 0};
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.p, want, sizeof(want));
	wbuf_free(&b);
}

/* Every valid BMP code point and a sample of astral ones survive both directions. */
static void test_round_trip_all(void **state)
{
	for (uint32_t cp = 1; cp <= 0x10ffff; cp += (cp < 0x10000 ? 1 : 37)) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		uint8_t u16[4];
		size_t n16;
		if (cp < 0x10000) {
			u16[0] = (uint8_t)cp;
			u16[1] = (uint8_t)(cp >> 8);
			n16 = 2;
		} else {
			uint32_t v = cp - 0x10000;
			uint16_t hi = (uint16_t)(0xd800 | (v >> 10)),
				 lo = (uint16_t)(0xdc00 | (v & 0x3ff));
			u16[0] = (uint8_t)hi;
			u16[1] = (uint8_t)(hi >> 8);
			u16[2] = (uint8_t)lo;
			u16[3] = (uint8_t)(lo >> 8);
			n16 = 4;
		}
		char *s = NULL;
		assert_int_equal(utf16_to_utf8(u16, n16, &s, 0), 0);
		size_t n8 = strlen(s);
		assert_int_equal(n8, cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4);
		assert_true(utf8_valid(s, n8));
		struct wbuf b;
		wbuf_init(&b);
		assert_int_equal(utf16_from_utf8(&b, s, n8, 0), 0);
		assert_int_equal(b.len, n16);
		assert_memory_equal(b.p, u16, n16);
		wbuf_free(&b);
		free(s);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ascii_bmp),	  cmocka_unit_test(test_astral),
	    cmocka_unit_test(test_empty),	  cmocka_unit_test(test_invalid_utf8),
	    cmocka_unit_test(test_invalid_utf16), cmocka_unit_test(test_trailing_nul),
	    cmocka_unit_test(test_slash),	  cmocka_unit_test(test_uppercase),
	    cmocka_unit_test(test_append),	  cmocka_unit_test(test_round_trip_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
