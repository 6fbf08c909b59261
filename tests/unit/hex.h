/* Hex helpers shared by the unit tests that compare against published test vectors.
 * Include after <cmocka.h>. */
#ifndef SMBGATE_TEST_HEX_H
#define SMBGATE_TEST_HEX_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Decodes a hex string (whitespace and other separators ignored) into a malloc'd buffer. */
static inline uint8_t *unhex(const char *s, size_t *len)
{
	uint8_t *out = malloc(strlen(s) / 2 + 1);
	size_t n = 0;
	int hi = -1;

	assert_non_null(out);
	for (; *s; s++) {
		int v;
		if (*s >= '0' && *s <= '9')
			v = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			v = *s - 'A' + 10;
		else
			continue;
		if (hi < 0) {
			hi = v;
		} else {
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	assert_int_equal(hi, -1);
	*len = n;
	return out;
}

/* Asserts that got[0..got_len) equals the bytes written in want_hex. */
static inline void assert_hex(const uint8_t *got, size_t got_len, const char *want_hex)
{
	size_t n;
	uint8_t *want = unhex(want_hex, &n);
	assert_int_equal(got_len, n);
	assert_memory_equal(got, want, n);
	free(want);
}

#endif
