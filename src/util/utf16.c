#include "util/utf16.h"

#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <wctype.h>

#include "smbgate/err.h"

/* Decodes one code point starting at s[*i], strictly (Unicode 15 table 3-7: no overlong forms, no
 * surrogates, nothing above U+10FFFF, no truncated sequence). Advances *i on success. */
static int utf8_decode_one(const uint8_t *s, size_t len, size_t *i, uint32_t *cp)
{
	size_t k = *i;
	uint8_t b0 = s[k];
	uint32_t c;
	size_t n;
	uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the first continuation byte */

	if (b0 < 0x80) {
		*cp = b0;
		*i = k + 1;
		return 0;
	} else if (b0 >= 0xc2 && b0 <= 0xdf) {
		n = 1;
		c = b0 & 0x1f;
	} else if (b0 >= 0xe0 && b0 <= 0xef) {
		n = 2;
		c = b0 & 0x0f;
		if (b0 == 0xe0)
			lo = 0xa0; /* overlong below U+0800 */
		else if (b0 == 0xed)
			hi = 0x9f; /* U+D800..U+DFFF are surrogates */
	} else if (b0 >= 0xf0 && b0 <= 0xf4) {
		n = 3;
		c = b0 & 0x07;
		if (b0 == 0xf0)
			lo = 0x90; /* overlong below U+10000 */
		else if (b0 == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return -1; /* continuation byte, C0/C1 overlong lead, or F5..FF */
	}
	if (n > len - k - 1)
		return -1;
	for (size_t j = 1; j <= n; j++) {
		uint8_t b = s[k + j];
		if (j == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xbf))
			return -1;
		c = (c << 6) | (b & 0x3f);
	}
	*cp = c;
	*i = k + 1 + n;
	return 0;
}

int utf8_valid(const char *s, size_t len)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0;
	uint32_t cp;
	while (i < len) {
		/* ASCII runs are the common case in paths. */
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if (utf8_decode_one(p, len, &i, &cp) != 0)
			return 0;
	}
	return 1;
}

/* towupper depends on the process locale, which a library must not assume or change; a private
 * C.UTF-8 locale object gives the same answer everywhere. */
static locale_t utf16_upper_locale;
static pthread_once_t utf16_upper_once = PTHREAD_ONCE_INIT;

static void utf16_upper_init(void)
{
	utf16_upper_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* Simple (1:1) uppercase mapping of the BMP only: Windows' and Samba's upcase tables work on UTF-16
 * code units, so astral characters are left alone, as they do (NTLM hashes the uppercased user name
 * and must agree with the server). */
static uint32_t utf16_upper(uint32_t cp)
{
	if (cp < 0x80)
		return (cp >= 'a' && cp <= 'z') ? cp - ('a' - 'A') : cp;
	if (cp > 0xffff)
		return cp;
	pthread_once(&utf16_upper_once, utf16_upper_init);
	if (utf16_upper_locale == (locale_t)0)
		return cp; /* no C.UTF-8 locale: ASCII only */
	uint32_t u = (uint32_t)towupper_l((wint_t)cp, utf16_upper_locale);
	if (u > 0xffff || (u >= 0xd800 && u <= 0xdfff))
		return cp;
	return u;
}

static void put_unit(uint8_t *o, uint32_t u)
{
	o[0] = (uint8_t)u;
	o[1] = (uint8_t)(u >> 8);
}

int utf16_from_utf8(struct wbuf *out, const char *s, size_t len, int flags)
{
	const uint8_t *p = (const uint8_t *)s;
	int err;

	/* At most one UTF-16 unit (2 bytes) per input byte; reserve once. */
	if (len > SIZE_MAX / 2)
		return SMBG_ETOOBIG;
	if ((err = wbuf_reserve(out, 2 * len)) != 0)
		return err;
	if (len == 0)
		return 0;

	uint8_t *o = out->p + out->len;
	size_t i = 0;
	while (i < len) {
		uint32_t cp;
		if (utf8_decode_one(p, len, &i, &cp) != 0)
			return SMBG_ENAME; /* out->len is only moved on success */
		if ((flags & UTF16_SLASH_TO_BACKSLASH) && cp == '/')
			cp = '\\';
		if (flags & UTF16_UPPERCASE)
			cp = utf16_upper(cp);
		if (cp < 0x10000) {
			put_unit(o, cp);
			o += 2;
		} else {
			cp -= 0x10000;
			put_unit(o, 0xd800 | (cp >> 10));
			put_unit(o + 2, 0xdc00 | (cp & 0x3ff));
			o += 4;
		}
	}
	out->len = (size_t)(o - out->p);
	return 0;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

int utf16_to_utf8(const uint8_t *p, size_t len, char **out, int flags)
{
	*out = NULL;
	if (len % 2 != 0)
		return SMBG_EPROTO;
	size_t units = len / 2;
	/* Some peers count a terminating NUL in the length: drop trailing ones. */
	while (units > 0 && p[2 * units - 2] == 0 && p[2 * units - 1] == 0)
		units--;
	/* Each unit yields at most 3 bytes (a pair: 4 bytes for 2 units). */
	if (units > (SIZE_MAX - 1) / 3)
		return SMBG_ETOOBIG;
	char *s = malloc(units * 3 + 1);
	if (!s)
		return SMBG_ENOMEM;

	size_t o = 0;
	for (size_t i = 0; i < units; i++) {
		uint32_t cp = (uint32_t)p[2 * i] | ((uint32_t)p[2 * i + 1] << 8);
		if (cp >= 0xd800 && cp <= 0xdbff) {
			uint32_t lo;
			if (i + 1 >= units)
				goto bad;
			lo = (uint32_t)p[2 * i + 2] | ((uint32_t)p[2 * i + 3] << 8);
			if (lo < 0xdc00 || lo > 0xdfff)
				goto bad;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			i++;
		} else if (cp >= 0xdc00 && cp <= 0xdfff) {
			goto bad;
		} else if (cp == 0) {
			/* An embedded NUL would silently cut the C string short. */
			goto bad;
		}
		if ((flags & UTF16_SLASH_TO_BACKSLASH) && cp == '\\')
			cp = '/';
		if (flags & UTF16_UPPERCASE)
			cp = utf16_upper(cp);
		o += put_utf8(s + o, cp);
	}
	s[o] = '\0';
	*out = s;
	return 0;
bad:
	free(s);
	return SMBG_ENAME;
}
