/* rclone-style durations and sizes (util/units.c): every unit, sums, bare numbers, "off", and
 * what must be refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/units.h"

static void test_duration(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int64_t ms;
	} ok[] = {
	    {"90", 90000},	{"5s", 5000},	     {"500ms", 500},	 {"1h30m5s", 5405000},
	    {"1.5h", 5400000},	{"1m", 60000},	     {"1M", 2592000000}, {"2d", 172800000},
	    {"1w", 604800000},	{"1y", 31536000000}, {"1us", 1},	 {"1ns", 1},
	    {"0", 0},		{"0s", 0},	     {".5s", 500},	 {"off", UNITS_OFF},
	    {"OFF", UNITS_OFF}, {"1h0m0s", 3600000}, {"10ms5us", 11},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		int64_t v = -42;
		assert_int_equal(units_parse_duration_ms(ok[i].in, &v), 0);
		assert_int_equal(v, ok[i].ms);
	}
	static const char *bad[] = {"",
				    "s",
				    "-5s",
				    "5x",
				    "1h-5m",
				    "5 s",
				    "1e3",
				    "0x10",
				    "inf",
				    "nan",
				    "5s ",
				    "1..5s",
				    "99999999999999999999y",
				    "1hh"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t v = 7;
		assert_int_equal(units_parse_duration_ms(bad[i], &v), -1);
		assert_int_equal(v, 7); /* untouched on error */
	}
	assert_int_equal(units_parse_duration_ms(NULL, &(int64_t){0}), -1);
}

static void test_size(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int64_t bytes;
	} ok[] = {
	    {"10", 10240},
	    {"100B", 100},
	    {"100b", 100},
	    {"512k", 524288},
	    {"512K", 524288},
	    {"16M", 16777216},
	    {"16Mi", 16777216},
	    {"16MiB", 16777216},
	    {"1G", 1073741824},
	    {"1.5G", 1610612736},
	    {"2T", 2199023255552},
	    {"1P", 1125899906842624},
	    {"0", 0},
	    {"off", UNITS_OFF},
	};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		int64_t v = -42;
		assert_int_equal(units_parse_size(ok[i].in, &v), 0);
		assert_int_equal(v, ok[i].bytes);
	}
	static const char *bad[] = {"",	     "M",    "-1M", "10X",  "10MM",
				    "1 M",   "0x10", "inf", "10Mx", "99999999999999999999P",
				    "1.2.3M"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int64_t v = 7;
		assert_int_equal(units_parse_size(bad[i], &v), -1);
		assert_int_equal(v, 7);
	}
}

static void test_format(void **state)
{
	(void)state;
	char b[32];
	units_format_size(16777216, b, sizeof b);
	assert_string_equal(b, "16Mi");
	units_format_size(1610612736, b, sizeof b);
	assert_string_equal(b, "1.500Gi");
	units_format_size(UNITS_OFF, b, sizeof b);
	assert_string_equal(b, "off");
	units_format_size(100, b, sizeof b);
	assert_string_equal(b, "100");
	units_format_duration(3600000, b, sizeof b);
	assert_string_equal(b, "1h0m0s");
	units_format_duration(5000, b, sizeof b);
	assert_string_equal(b, "5s");
	units_format_duration(500, b, sizeof b);
	assert_string_equal(b, "500ms");
	units_format_duration(61500, b, sizeof b);
	assert_string_equal(b, "1m1.500s");
	units_format_duration(UNITS_OFF, b, sizeof b);
	assert_string_equal(b, "off");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_duration),
	    cmocka_unit_test(test_size),
	    cmocka_unit_test(test_format),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
