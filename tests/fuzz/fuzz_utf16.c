/* UTF-8 <-> UTF-16LE on arbitrary bytes, both directions, checked against a naive reference decoder
 * written differently (decode loosely, then demand the canonical re-encoding), and round trips:
 * what converts one way must convert back to the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smbgate/err.h"
#include "util/utf16.h"
#include "util/wbuf.h"

/* Reference: 1 when s is valid UTF-8 (shortest form, no surrogates, <= U+10FFFF). */
static int ref_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t b = s[i];
		size_t len = b < 0x80	      ? 1
			     : (b >> 5) == 6  ? 2
			     : (b >> 4) == 14 ? 3
			     : (b >> 3) == 30 ? 4
					      : 0;
		if (len == 0 || n - i < len)
			return 0;
		uint32_t cp = len == 1 ? b : (uint32_t)(b & (0x7f >> len));
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		size_t canon = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
		if (canon != len || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

static void from_utf8(const uint8_t *data, size_t size, int flags)
{
	struct wbuf b;
	wbuf_init(&b);
	wbuf_put_u8(&b, 0x5a); /* something already there must survive */
	int r = utf16_from_utf8(&b, (const char *)data, size, flags);
	int valid = ref_valid(data, size);
	if (utf8_valid((const char *)data, size) != valid)
		abort();
	if ((r == 0) != valid || (r != 0 && r != SMBG_ENAME))
		abort();
	if (b.len < 1 || b.p[0] != 0x5a)
		abort();
	if (r != 0) {
		if (b.len != 1)
			abort();
		wbuf_free(&b);
		return;
	}
	if ((b.len - 1) % 2 != 0 || b.len - 1 > 2 * size)
		abort();
	/* Back again: without NUL (refused on the way back) and without the case flag, the bytes
	 * must be the same. */
	char *s = NULL;
	r = utf16_to_utf8(b.p + 1, b.len - 1, &s, flags & UTF16_SLASH_TO_BACKSLASH);
	if (memchr(data, 0, size)) {
		/* Only trailing NULs are dropped; any other NUL is refused. */
		size_t k = size;
		while (k > 0 && data[k - 1] == 0)
			k--;
		if (memchr(data, 0, k) ? r != SMBG_ENAME
				       : (r != 0 || (!(flags & UTF16_UPPERCASE) && strlen(s) != k)))
			abort();
	} else {
		if (r != 0 || !utf8_valid(s, strlen(s)))
			abort();
		if (!(flags & UTF16_UPPERCASE) && !(flags & UTF16_SLASH_TO_BACKSLASH) &&
		    (strlen(s) != size || memcmp(s, data, size) != 0))
			abort();
		if (strlen(s) != size && !(flags & UTF16_UPPERCASE))
			abort();
	}
	free(s);
	wbuf_free(&b);
}

static void to_utf8(const uint8_t *data, size_t size, int flags)
{
	char *s = (char *)data; /* sentinel: must become NULL on failure */
	int r = utf16_to_utf8(data, size, &s, flags);
	if (r != 0) {
		if (s != NULL || (r != SMBG_EPROTO && r != SMBG_ENAME && r != SMBG_ENOMEM))
			abort();
		if ((size % 2 != 0) != (r == SMBG_EPROTO))
			abort();
		return;
	}
	size_t n = strlen(s);
	if (!utf8_valid(s, n) || !ref_valid((const uint8_t *)s, n))
		abort();
	struct wbuf b;
	wbuf_init(&b);
	if (utf16_from_utf8(&b, s, n, flags & UTF16_SLASH_TO_BACKSLASH) != 0)
		abort();
	/* The same units, less any trailing NULs; '\\' and '/' both come back as '\\' with the
	 * slash flag, and case may differ with the upper flag. */
	size_t k = size;
	while (k >= 2 && data[k - 1] == 0 && data[k - 2] == 0)
		k -= 2;
	if (b.len != k)
		abort();
	if (!flags && k > 0 && memcmp(b.p, data, k) != 0)
		abort();
	wbuf_free(&b);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* First byte: direction and flags. */
	int flags = data[0] & 3;
	if (data[0] & 4)
		to_utf8(data + 1, size - 1, flags);
	else
		from_utf8(data + 1, size - 1, flags);
	return 0;
}
