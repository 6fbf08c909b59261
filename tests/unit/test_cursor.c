/* The bounded reader: every getter at the exact end, one byte short, with offsets near SIZE_MAX,
 * and consuming nothing when it fails. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "util/cursor.h"

static const uint8_t data[16] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
				 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};

/* A getter of n bytes, applied to a cursor; returns its result. */
typedef int (*getter)(struct cursor *c);

static int get_u8(struct cursor *c)
{
	uint8_t v;
	return cursor_get_u8(c, &v);
}
static int get_le16(struct cursor *c)
{
	uint16_t v;
	return cursor_get_le16(c, &v);
}
static int get_le32(struct cursor *c)
{
	uint32_t v;
	return cursor_get_le32(c, &v);
}
static int get_le64(struct cursor *c)
{
	uint64_t v;
	return cursor_get_le64(c, &v);
}
static int get_be16(struct cursor *c)
{
	uint16_t v;
	return cursor_get_be16(c, &v);
}
static int get_be32(struct cursor *c)
{
	uint32_t v;
	return cursor_get_be32(c, &v);
}
static int get_bytes3(struct cursor *c)
{
	uint8_t v[3];
	return cursor_get_bytes(c, v, 3);
}
static int get_ptr3(struct cursor *c)
{
	const uint8_t *p;
	return cursor_get_ptr(c, 3, &p);
}
static int skip3(struct cursor *c)
{
	return cursor_skip(c, 3);
}

static const struct {
	const char *name;
	getter fn;
	size_t n;
} getters[] = {
    {"u8", get_u8, 1},	       {"le16", get_le16, 2}, {"le32", get_le32, 4},
    {"le64", get_le64, 8},     {"be16", get_be16, 2}, {"be32", get_be32, 4},
    {"bytes3", get_bytes3, 3}, {"ptr3", get_ptr3, 3}, {"skip3", skip3, 3},
};

static void test_values(void **state)
{
	struct cursor c;
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	cursor_init(&c, data, sizeof(data));
	assert_int_equal(cursor_get_u8(&c, &u8), 0);
	assert_int_equal(u8, 0x01);
	assert_int_equal(cursor_get_le16(&c, &u16), 0);
	assert_int_equal(u16, 0x0302);
	assert_int_equal(cursor_get_be16(&c, &u16), 0);
	assert_int_equal(u16, 0x0405);
	assert_int_equal(cursor_get_le32(&c, &u32), 0);
	assert_int_equal(u32, 0x09080706);
	assert_int_equal(cursor_get_be32(&c, &u32), 0);
	assert_int_equal(u32, 0x0a0b0c0d);
	assert_int_equal(cursor_left(&c), 3);
	cursor_init(&c, data, sizeof(data));
	assert_int_equal(cursor_get_le64(&c, &u64), 0);
	assert_true(u64 == 0x0807060504030201ull);
	assert_int_equal(cursor_get_le64(&c, &u64), 0);
	assert_true(u64 == 0x100f0e0d0c0b0a09ull);
	assert_int_equal(cursor_left(&c), 0);
	/* High bits must not sign-extend. */
	static const uint8_t ff[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
	cursor_init(&c, ff, sizeof(ff));
	assert_int_equal(cursor_get_le32(&c, &u32), 0);
	assert_true(u32 == 0xffffffffu);
	assert_int_equal(cursor_get_be32(&c, &u32), 0);
	assert_true(u32 == 0xffffffffu);
}

/* Each getter succeeds when exactly n bytes are left and leaves the cursor at the end. */
static void test_exact_end(void **state)
{
	for (size_t i = 0; i < sizeof(getters) / sizeof(getters[0]); i++) {
		struct cursor c;
		cursor_init(&c, data, sizeof(data));
		c.off = sizeof(data) - getters[i].n;
		assert_int_equal(getters[i].fn(&c), 0);
		assert_int_equal(c.off, sizeof(data));
		assert_int_equal(cursor_left(&c), 0);
	}
}

/* One byte short: fails with SMBG_EPROTO and does not move. */
static void test_one_short(void **state)
{
	for (size_t i = 0; i < sizeof(getters) / sizeof(getters[0]); i++) {
		struct cursor c;
		size_t off = sizeof(data) - getters[i].n + 1;
		cursor_init(&c, data, sizeof(data));
		c.off = off;
		assert_int_equal(getters[i].fn(&c), SMBG_EPROTO);
		assert_int_equal(c.off, off);
		/* And an empty buffer. */
		cursor_init(&c, data, 0);
		assert_int_equal(getters[i].fn(&c), SMBG_EPROTO);
		assert_int_equal(c.off, 0);
	}
}

/* A corrupt cursor (off > len) must not wrap around into a huge "left". */
static void test_off_past_len(void **state)
{
	for (size_t i = 0; i < sizeof(getters) / sizeof(getters[0]); i++) {
		struct cursor c;
		cursor_init(&c, data, 4);
		c.off = 5;
		assert_int_equal(getters[i].fn(&c), SMBG_EPROTO);
		assert_int_equal(c.off, 5);
		c.off = SIZE_MAX;
		assert_int_equal(getters[i].fn(&c), SMBG_EPROTO);
		assert_int_equal(c.off, SIZE_MAX);
	}
}

/* Lengths that overflow off + n. */
static void test_overflow_lengths(void **state)
{
	struct cursor c;
	uint8_t buf[4];
	/* volatile: a constant SIZE_MAX makes GCC warn about the memcpy the check prevents */
	volatile size_t huge = SIZE_MAX;
	const uint8_t *p = NULL;
	cursor_init(&c, data, sizeof(data));
	assert_int_equal(cursor_skip(&c, 1), 0);
	assert_int_equal(cursor_need(&c, SIZE_MAX), SMBG_EPROTO);
	assert_int_equal(cursor_skip(&c, SIZE_MAX), SMBG_EPROTO);
	assert_int_equal(cursor_skip(&c, SIZE_MAX - 0), SMBG_EPROTO);
	assert_int_equal(cursor_get_ptr(&c, SIZE_MAX, &p), SMBG_EPROTO);
	assert_null(p);
	assert_int_equal(cursor_get_bytes(&c, buf, huge), SMBG_EPROTO);
	assert_int_equal(cursor_get_ptr(&c, SIZE_MAX - 14, &p), SMBG_EPROTO);
	assert_int_equal(cursor_get_ptr(&c, 16, &p), SMBG_EPROTO); /* one more than left */
	assert_int_equal(c.off, 1);
	assert_int_equal(cursor_get_ptr(&c, 15, &p), 0);
	assert_ptr_equal(p, data + 1);
	assert_int_equal(cursor_left(&c), 0);
}

/* Zero-length reads are fine anywhere, including at the end. */
static void test_zero_length(void **state)
{
	struct cursor c;
	const uint8_t *p;
	cursor_init(&c, data, sizeof(data));
	c.off = sizeof(data);
	assert_int_equal(cursor_need(&c, 0), 0);
	assert_int_equal(cursor_skip(&c, 0), 0);
	assert_int_equal(cursor_get_bytes(&c, NULL, 0), 0);
	assert_int_equal(cursor_get_ptr(&c, 0, &p), 0);
	assert_int_equal(c.off, sizeof(data));
	cursor_init(&c, NULL, 0);
	assert_int_equal(cursor_skip(&c, 0), 0);
	assert_int_equal(cursor_skip(&c, 1), SMBG_EPROTO);
}

/* get_bytes must not write the destination when it fails. */
static void test_bytes_untouched(void **state)
{
	struct cursor c;
	uint8_t buf[8];
	memset(buf, 0xaa, sizeof(buf));
	cursor_init(&c, data, 7);
	assert_int_equal(cursor_get_bytes(&c, buf, 8), SMBG_EPROTO);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xaa);
	uint64_t v = 42;
	assert_int_equal(cursor_get_le64(&c, &v), SMBG_EPROTO);
	assert_true(v == 42);
	assert_int_equal(c.off, 0);
}

static void test_seek(void **state)
{
	struct cursor c;
	uint8_t v;
	cursor_init(&c, data, sizeof(data));
	assert_int_equal(cursor_seek(&c, 5), 0);
	assert_int_equal(cursor_get_u8(&c, &v), 0);
	assert_int_equal(v, 0x06);
	assert_int_equal(cursor_seek(&c, sizeof(data)), 0); /* end is a valid position */
	assert_int_equal(cursor_left(&c), 0);
	assert_int_equal(cursor_seek(&c, sizeof(data) + 1), SMBG_EPROTO);
	assert_int_equal(c.off, sizeof(data));
	assert_int_equal(cursor_seek(&c, SIZE_MAX), SMBG_EPROTO);
	assert_int_equal(cursor_seek(&c, 0), 0);
	assert_int_equal(cursor_get_u8(&c, &v), 0);
	assert_int_equal(v, 0x01);
}

static void test_sub(void **state)
{
	struct cursor c, s;
	uint32_t v;
	cursor_init(&c, data, sizeof(data));
	assert_int_equal(cursor_skip(&c, 2), 0);
	assert_int_equal(cursor_sub(&c, 4, 4, &s), 0);
	assert_int_equal(c.off, 2); /* parent not moved */
	assert_int_equal(s.off, 0);
	assert_int_equal(s.len, 4);
	assert_int_equal(cursor_get_le32(&s, &v), 0);
	assert_int_equal(v, 0x08070605);
	assert_int_equal(cursor_get_u8(&s, (uint8_t *)&v), SMBG_EPROTO); /* bounded by sub */

	/* Exactly to the end, empty at the end, and every way of going past it. */
	assert_int_equal(cursor_sub(&c, 0, sizeof(data), &s), 0);
	assert_int_equal(cursor_sub(&c, sizeof(data), 0, &s), 0);
	assert_int_equal(cursor_left(&s), 0);
	memset(&s, 0x5a, sizeof(s));
	struct cursor before = s;
	assert_int_equal(cursor_sub(&c, sizeof(data), 1, &s), SMBG_EPROTO);
	assert_int_equal(cursor_sub(&c, sizeof(data) + 1, 0, &s), SMBG_EPROTO);
	assert_int_equal(cursor_sub(&c, 1, sizeof(data), &s), SMBG_EPROTO);
	assert_int_equal(cursor_sub(&c, SIZE_MAX, 1, &s), SMBG_EPROTO);
	assert_int_equal(cursor_sub(&c, 1, SIZE_MAX, &s), SMBG_EPROTO);
	assert_int_equal(cursor_sub(&c, SIZE_MAX, SIZE_MAX, &s), SMBG_EPROTO);
	assert_int_equal(cursor_sub(&c, 8, SIZE_MAX - 7, &s), SMBG_EPROTO); /* off+n wraps to 0 */
	assert_memory_equal(&s, &before, sizeof(s));			    /* out untouched */
}

/* A typical chain: one error exit, and the cursor where the failing read found it. */
static void test_chain(void **state)
{
	struct cursor c;
	uint16_t a;
	uint32_t b;
	uint64_t d = 0;
	int r;
	cursor_init(&c, data, 13);
	if ((r = cursor_get_le16(&c, &a)) != 0 || (r = cursor_get_le32(&c, &b)) != 0 ||
	    (r = cursor_get_le64(&c, &d)) != 0)
		goto out;
out:
	assert_int_equal(r, SMBG_EPROTO);
	assert_int_equal(c.off, 6);
	assert_true(d == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_exact_end),
	    cmocka_unit_test(test_one_short),
	    cmocka_unit_test(test_off_past_len),
	    cmocka_unit_test(test_overflow_lengths),
	    cmocka_unit_test(test_zero_length),
	    cmocka_unit_test(test_bytes_untouched),
	    cmocka_unit_test(test_seek),
	    cmocka_unit_test(test_sub),
	    cmocka_unit_test(test_chain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
