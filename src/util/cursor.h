/* A bounds-checked little-endian reader. Every byte received from the network goes through it.
 * A get either consumes its bytes and returns 0, or fails with SMBG_EPROTO and consumes nothing.
 * Checks are written so they cannot overflow: off <= len && n <= len - off. */
#ifndef SMBGATE_CURSOR_H
#define SMBGATE_CURSOR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smbgate/err.h"

#define WUR __attribute__((warn_unused_result))

struct cursor {
	const uint8_t *p; /* borrowed */
	size_t len;
	size_t off;
};

static inline void cursor_init(struct cursor *c, const void *p, size_t len)
{
	c->p = p;
	c->len = len;
	c->off = 0;
}

static inline size_t cursor_left(const struct cursor *c)
{
	return c->len - c->off;
}

static inline WUR int cursor_need(const struct cursor *c, size_t n)
{
	return (c->off <= c->len && n <= c->len - c->off) ? 0 : SMBG_EPROTO;
}

static inline WUR int cursor_get_u8(struct cursor *c, uint8_t *v)
{
	if (cursor_need(c, 1) != 0)
		return SMBG_EPROTO;
	*v = c->p[c->off++];
	return 0;
}

static inline WUR int cursor_get_le16(struct cursor *c, uint16_t *v)
{
	if (cursor_need(c, 2) != 0)
		return SMBG_EPROTO;
	const uint8_t *b = c->p + c->off;
	*v = (uint16_t)(b[0] | (b[1] << 8));
	c->off += 2;
	return 0;
}

static inline WUR int cursor_get_le32(struct cursor *c, uint32_t *v)
{
	if (cursor_need(c, 4) != 0)
		return SMBG_EPROTO;
	const uint8_t *b = c->p + c->off;
	*v = (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) |
	     ((uint32_t)b[3] << 24);
	c->off += 4;
	return 0;
}

static inline WUR int cursor_get_le64(struct cursor *c, uint64_t *v)
{
	if (cursor_need(c, 8) != 0)
		return SMBG_EPROTO;
	const uint8_t *b = c->p + c->off;
	uint64_t r = 0;
	for (int i = 7; i >= 0; i--)
		r = (r << 8) | b[i];
	*v = r;
	c->off += 8;
	return 0;
}

static inline WUR int cursor_get_be16(struct cursor *c, uint16_t *v)
{
	if (cursor_need(c, 2) != 0)
		return SMBG_EPROTO;
	const uint8_t *b = c->p + c->off;
	*v = (uint16_t)((b[0] << 8) | b[1]);
	c->off += 2;
	return 0;
}

static inline WUR int cursor_get_be32(struct cursor *c, uint32_t *v)
{
	if (cursor_need(c, 4) != 0)
		return SMBG_EPROTO;
	const uint8_t *b = c->p + c->off;
	*v = ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
	c->off += 4;
	return 0;
}

static inline WUR int cursor_get_bytes(struct cursor *c, void *dst, size_t n)
{
	if (cursor_need(c, n) != 0)
		return SMBG_EPROTO;
	if (n)
		memcpy(dst, c->p + c->off, n);
	c->off += n;
	return 0;
}

/* Borrow n bytes in place (valid as long as the underlying buffer). */
static inline WUR int cursor_get_ptr(struct cursor *c, size_t n, const uint8_t **out)
{
	if (cursor_need(c, n) != 0)
		return SMBG_EPROTO;
	*out = c->p + c->off;
	c->off += n;
	return 0;
}

static inline WUR int cursor_skip(struct cursor *c, size_t n)
{
	if (cursor_need(c, n) != 0)
		return SMBG_EPROTO;
	c->off += n;
	return 0;
}

/* Move to an absolute offset within the buffer (offset fields in SMB are from the header). */
static inline WUR int cursor_seek(struct cursor *c, size_t off)
{
	if (off > c->len)
		return SMBG_EPROTO;
	c->off = off;
	return 0;
}

/* A sub-cursor over [off, off+n) of c's buffer, validated; c is not moved. */
static inline WUR int cursor_sub(const struct cursor *c, size_t off, size_t n, struct cursor *out)
{
	if (off > c->len || n > c->len - off)
		return SMBG_EPROTO;
	cursor_init(out, c->p + off, n);
	return 0;
}

#endif
