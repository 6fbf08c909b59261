/* The growable writer: byte order, growth, patching, alignment, sticky errors and the cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smbgate/err.h"
#include "util/cursor.h"
#include "util/wbuf.h"

static void test_byte_order(void **state)
{
	struct wbuf b;
	wbuf_init(&b);
	wbuf_put_u8(&b, 0x01);
	wbuf_put_le16(&b, 0x0302);
	wbuf_put_le32(&b, 0x07060504);
	wbuf_put_le64(&b, 0x0f0e0d0c0b0a0908ull);
	wbuf_put_be16(&b, 0x1011);
	wbuf_put_be32(&b, 0x12131415);
	static const uint8_t want[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
				       0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
				       0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15};
	assert_int_equal(wbuf_error(&b), 0);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.p, want, sizeof(want));
	wbuf_free(&b);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
}

/* What the writer writes, the cursor reads back. */
static void test_round_trip_with_cursor(void **state)
{
	struct wbuf b;
	struct cursor c;
	uint8_t u8;
	uint16_t u16, b16;
	uint32_t u32, b32;
	uint64_t u64;
	wbuf_init(&b);
	wbuf_put_u8(&b, 0xfe);
	wbuf_put_le16(&b, 0xbeef);
	wbuf_put_le32(&b, 0xdeadbeef);
	wbuf_put_le64(&b, 0xfedcba9876543210ull);
	wbuf_put_be16(&b, 0xcafe);
	wbuf_put_be32(&b, 0x8badf00d);
	cursor_init(&c, b.p, b.len);
	assert_int_equal(cursor_get_u8(&c, &u8), 0);
	assert_int_equal(cursor_get_le16(&c, &u16), 0);
	assert_int_equal(cursor_get_le32(&c, &u32), 0);
	assert_int_equal(cursor_get_le64(&c, &u64), 0);
	assert_int_equal(cursor_get_be16(&c, &b16), 0);
	assert_int_equal(cursor_get_be32(&c, &b32), 0);
	assert_int_equal(u8, 0xfe);
	assert_int_equal(u16, 0xbeef);
	assert_true(u32 == 0xdeadbeefu);
	assert_true(u64 == 0xfedcba9876543210ull);
	assert_int_equal(b16, 0xcafe);
	assert_true(b32 == 0x8badf00du);
	assert_int_equal(cursor_left(&c), 0);
	wbuf_free(&b);
}

static void test_growth(void **state)
{
	struct wbuf b;
	wbuf_init(&b);
	for (unsigned i = 0; i < 100000; i++)
		wbuf_put_le32(&b, i);
	assert_int_equal(wbuf_error(&b), 0);
	assert_int_equal(b.len, 400000);
	assert_true(b.cap >= b.len);
	for (unsigned i = 0; i < 100000; i += 997) {
		uint32_t v = (uint32_t)b.p[4 * i] | (uint32_t)b.p[4 * i + 1] << 8 |
			     (uint32_t)b.p[4 * i + 2] << 16 | (uint32_t)b.p[4 * i + 3] << 24;
		assert_int_equal(v, i);
	}
	wbuf_free(&b);
}

static void test_zero_align_append(void **state)
{
	struct wbuf b;
	wbuf_init(&b);
	wbuf_put_u8(&b, 0xff);
	wbuf_align(&b, 8);
	assert_int_equal(b.len, 8);
	for (int i = 1; i < 8; i++)
		assert_int_equal(b.p[i], 0);
	wbuf_align(&b, 8); /* already aligned: nothing */
	assert_int_equal(b.len, 8);
	wbuf_put_zero(&b, 3);
	assert_int_equal(b.len, 11);
	wbuf_align(&b, 4);
	assert_int_equal(b.len, 12);
	uint8_t *p = wbuf_append(&b, 5);
	assert_non_null(p);
	assert_ptr_equal(p, b.p + 12);
	for (int i = 0; i < 5; i++)
		assert_int_equal(p[i], 0);
	assert_int_equal(b.len, 17);
	wbuf_put_bytes(&b, NULL, 0); /* no-op */
	assert_int_equal(b.len, 17);
	wbuf_free(&b);
}

static void test_set(void **state)
{
	struct wbuf b;
	wbuf_init(&b);
	wbuf_put_zero(&b, 8);
	wbuf_set_le16(&b, 1, 0x2211);
	wbuf_set_le32(&b, 4, 0x66554433);
	static const uint8_t want[] = {0, 0x11, 0x22, 0, 0x33, 0x44, 0x55, 0x66};
	assert_memory_equal(b.p, want, 8);
	/* Out of range, including at the very end and with overflowing offsets: ignored. */
	wbuf_set_le16(&b, 7, 0xffff);
	wbuf_set_le32(&b, 5, 0xffffffff);
	wbuf_set_le32(&b, SIZE_MAX, 0xffffffff);
	wbuf_set_le16(&b, SIZE_MAX - 1, 0xffff);
	assert_memory_equal(b.p, want, 8);
	assert_int_equal(b.len, 8);
	wbuf_set_le16(&b, 6, 0x8877); /* exactly at the end fits */
	assert_int_equal(b.p[6], 0x77);
	assert_int_equal(b.p[7], 0x88);
	wbuf_free(&b);
}

/* A cap turns an oversized put into a sticky SMBG_ETOOBIG; later puts do nothing. */
static void test_cap_sticky(void **state)
{
	struct wbuf b;
	wbuf_init(&b);
	b.max = 10;
	wbuf_put_zero(&b, 8);
	assert_int_equal(wbuf_error(&b), 0);
	wbuf_put_le32(&b, 1); /* 12 > 10 */
	assert_int_equal(wbuf_error(&b), SMBG_ETOOBIG);
	assert_int_equal(b.len, 8);
	wbuf_put_u8(&b, 1); /* would fit, but the error is sticky */
	assert_int_equal(b.len, 8);
	assert_null(wbuf_append(&b, 1));
	assert_int_equal(wbuf_reserve(&b, 1), SMBG_ETOOBIG);
	wbuf_reset(&b);
	assert_int_equal(wbuf_error(&b), 0);
	assert_int_equal(b.len, 0);
	wbuf_put_zero(&b, 10); /* exactly the cap */
	assert_int_equal(wbuf_error(&b), 0);
	wbuf_put_u8(&b, 0); /* one past it */
	assert_int_equal(wbuf_error(&b), SMBG_ETOOBIG);
	assert_int_equal(b.len, 10);
	wbuf_free(&b);
}

static void test_huge_request(void **state)
{
	struct wbuf b;
	wbuf_init(&b);
	wbuf_put_u8(&b, 1);
	assert_int_equal(wbuf_reserve(&b, SIZE_MAX), SMBG_ETOOBIG);
	assert_int_equal(b.len, 1);
	wbuf_free(&b);
	wbuf_init(&b);
	assert_null(wbuf_append(&b, SIZE_MAX - 1));
	assert_int_equal(wbuf_error(&b), SMBG_ETOOBIG);
	wbuf_free(&b);
}

static void test_take_and_secret(void **state)
{
	struct wbuf b;
	size_t len = 0;
	wbuf_init(&b);
	wbuf_put_bytes(&b, "secret", 6);
	uint8_t *p = wbuf_take(&b, &len);
	assert_int_equal(len, 6);
	assert_memory_equal(p, "secret", 6);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	free(p);
	wbuf_put_bytes(&b, "again", 5);
	wbuf_free_secret(&b);
	assert_null(b.p);
	wbuf_free_secret(&b); /* empty: no-op */
	wbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_byte_order),	 cmocka_unit_test(test_round_trip_with_cursor),
	    cmocka_unit_test(test_growth),	 cmocka_unit_test(test_zero_align_append),
	    cmocka_unit_test(test_set),		 cmocka_unit_test(test_cap_sticky),
	    cmocka_unit_test(test_huge_request), cmocka_unit_test(test_take_and_secret),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
