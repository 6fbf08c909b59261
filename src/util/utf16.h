/* UTF-8 <-> UTF-16LE for SMB names. Invalid input is an error (SMBG_ENAME), never replaced. */
#ifndef SMBGATE_UTF16_H
#define SMBGATE_UTF16_H

#include <stddef.h>
#include <stdint.h>

#include "util/wbuf.h"

#define UTF16_SLASH_TO_BACKSLASH 1 /* '/' becomes '\\' (SMB path separator) */
#define UTF16_UPPERCASE		 2 /* simple 1:1 uppercase of the BMP (NTLM user names) */

/* Appends the UTF-16LE form of s[0..len) to out (no terminator). SMBG_ENAME on invalid UTF-8
 * (overlong forms, surrogates, > U+10FFFF, truncated sequences). */
int utf16_from_utf8(struct wbuf *out, const char *s, size_t len, int flags);

/* Converts len bytes of UTF-16LE to a NUL-terminated UTF-8 string (caller frees; *out is NULL
 * on failure). '\\' becomes '/' when flags has UTF16_SLASH_TO_BACKSLASH. Trailing U+0000 units
 * (a terminator counted in the length) are dropped. SMBG_EPROTO on odd length, SMBG_ENAME on
 * an unpaired surrogate or an embedded U+0000 (it would cut the C string short). */
int utf16_to_utf8(const uint8_t *p, size_t len, char **out, int flags);

/* 1 when s[0..len) is valid UTF-8. */
int utf8_valid(const char *s, size_t len);

#endif
