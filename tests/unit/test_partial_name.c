/* Temporary upload names (util/partial_name.c): the form, folders kept, long names shortened at a
 * character boundary, and parsing that accepts exactly what partial_name_make produces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/partial_name.h"

static void test_make(void **state)
{
	static const struct {
		const char *path;
		uint32_t tag;
		const char *want;
	} cases[] = {
	    {"x.bin", 0x1a2b3c4d, ".x.bin.1a2b3c4d.partial"},
	    {"a/b/x.bin", 0x1a2b3c4d, "a/b/.x.bin.1a2b3c4d.partial"},
	    {"dir/.hidden", 0, "dir/..hidden.00000000.partial"},
	    {"d/f", 0xffffffff, "d/.f.ffffffff.partial"},
	    {"d/caf\xc3\xa9", 0xab, "d/.caf\xc3\xa9.000000ab.partial"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = partial_name_make(cases[i].path, cases[i].tag);
		assert_non_null(s);
		assert_string_equal(s, cases[i].want);
		free(s);
	}
	assert_null(partial_name_make("", 1));
	assert_null(partial_name_make("dir/", 1));
}

/* A 255-byte name (the most a component may have) still yields a component of at most 255
 * bytes, and a multi-byte character at the cut is dropped whole. */
static void test_make_long(void **state)
{
	char name[300], path[310];
	char *s;
	const char *comp;

	memset(name, 'a', 255);
	name[255] = '\0';
	snprintf(path, sizeof(path), "d/%s", name);
	s = partial_name_make(path, 7);
	assert_non_null(s);
	comp = strrchr(s, '/') + 1;
	assert_int_equal(strlen(comp), PARTIAL_NAME_MAX);
	assert_memory_equal(s, "d/.aaa", 6);
	assert_string_equal(comp + strlen(comp) - 17, ".00000007.partial");
	free(s);

	/* 236 'a' then a 2-byte character straddling the limit of 237 bytes for the name part */
	memset(name, 'a', 236);
	memcpy(name + 236, "\xc3\xa9", 3);
	s = partial_name_make(name, 7);
	assert_non_null(s);
	assert_int_equal(strlen(s), 236 + 18); /* "." + name + ".XXXXXXXX.partial" */
	assert_null(strstr(s, "\xc3"));
	free(s);

	/* not UTF-8 (continuation bytes only, found by fuzz_partial_name): cut at the limit, not
	 * to nothing, so that the name still parses as a temporary */
	uint32_t tag = 0;
	size_t tlen = 0;
	memset(name, 0x8d, 290);
	name[290] = '\0';
	s = partial_name_make(name, 9);
	assert_non_null(s);
	assert_int_equal(strlen(s), PARTIAL_NAME_MAX);
	assert_int_equal(partial_name_parse(s, &tlen, &tag), 1);
	assert_int_equal(tag, 9);
	free(s);
}

static void test_parse(void **state)
{
	size_t tlen = 0;
	uint32_t tag = 0;
	char *s = partial_name_make("some dir/report.pdf", 0xdeadbeef);

	assert_non_null(s);
	assert_int_equal(partial_name_parse(strrchr(s, '/') + 1, &tlen, &tag), 1);
	assert_int_equal(tlen, strlen("report.pdf"));
	assert_int_equal(tag, 0xdeadbeef);
	free(s);

	assert_int_equal(partial_name_parse(".a.00000000.partial", NULL, NULL), 1);
	assert_int_equal(partial_name_parse("a.00000000.partial", NULL, NULL), 0);   /* no dot */
	assert_int_equal(partial_name_parse("..00000000.partial", NULL, NULL), 0);   /* no name */
	assert_int_equal(partial_name_parse(".a.0000000g.partial", NULL, NULL), 0);  /* not hex */
	assert_int_equal(partial_name_parse(".a.0000000A.partial", NULL, NULL), 0);  /* upper */
	assert_int_equal(partial_name_parse(".a.000000000.partial", NULL, NULL), 0); /* 9 digits */
	assert_int_equal(partial_name_parse(".a-00000000.partial", NULL, NULL), 0);
	assert_int_equal(partial_name_parse(".a.00000000.partia", NULL, NULL), 0);
	assert_int_equal(partial_name_parse(".a.00000000.partial.x", NULL, NULL), 0);
	assert_int_equal(partial_name_parse("d/.a.00000000.partial", NULL, NULL), 0);
	assert_int_equal(partial_name_parse("", NULL, NULL), 0);
}

static void test_tag_random(void **state)
{
	uint32_t a = partial_name_tag_random(), b = partial_name_tag_random();
	uint32_t c = partial_name_tag_random();

	/* three equal 32-bit random values: a broken source, not chance */
	assert_false(a == b && b == c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_make),
	    cmocka_unit_test(test_make_long),
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_tag_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
