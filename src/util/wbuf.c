#include "util/wbuf.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "smbgate/err.h"

void wbuf_init(struct wbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void wbuf_free(struct wbuf *b)
{
	free(b->p);
	wbuf_init(b);
}

void wbuf_free_secret(struct wbuf *b)
{
	if (b->p)
		OPENSSL_cleanse(b->p, b->cap);
	wbuf_free(b);
}

uint8_t *wbuf_take(struct wbuf *b, size_t *len)
{
	uint8_t *p = b->p;
	if (len)
		*len = b->len;
	wbuf_init(b);
	return p;
}

void wbuf_reset(struct wbuf *b)
{
	b->len = 0;
	b->err = 0;
}

int wbuf_error(const struct wbuf *b)
{
	return b->err;
}

int wbuf_reserve(struct wbuf *b, size_t n)
{
	if (b->err)
		return b->err;
	if (n > SIZE_MAX / 2 - b->len || (b->max && b->len + n > b->max)) {
		b->err = SMBG_ETOOBIG;
		return b->err;
	}
	if (b->len + n <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + n)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p) {
		b->err = SMBG_ENOMEM;
		return b->err;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

uint8_t *wbuf_append(struct wbuf *b, size_t n)
{
	if (wbuf_reserve(b, n) != 0)
		return NULL;
	uint8_t *p = b->p + b->len;
	memset(p, 0, n);
	b->len += n;
	return p;
}

void wbuf_put_bytes(struct wbuf *b, const void *p, size_t n)
{
	if (n == 0 || wbuf_reserve(b, n) != 0)
		return;
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void wbuf_put_zero(struct wbuf *b, size_t n)
{
	(void)wbuf_append(b, n);
}

void wbuf_put_u8(struct wbuf *b, uint8_t v)
{
	wbuf_put_bytes(b, &v, 1);
}

void wbuf_put_le16(struct wbuf *b, uint16_t v)
{
	uint8_t t[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
	wbuf_put_bytes(b, t, 2);
}

void wbuf_put_le32(struct wbuf *b, uint32_t v)
{
	uint8_t t[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	wbuf_put_bytes(b, t, 4);
}

void wbuf_put_le64(struct wbuf *b, uint64_t v)
{
	wbuf_put_le32(b, (uint32_t)v);
	wbuf_put_le32(b, (uint32_t)(v >> 32));
}

void wbuf_put_be16(struct wbuf *b, uint16_t v)
{
	uint8_t t[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	wbuf_put_bytes(b, t, 2);
}

void wbuf_put_be32(struct wbuf *b, uint32_t v)
{
	uint8_t t[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
	wbuf_put_bytes(b, t, 4);
}

void wbuf_align(struct wbuf *b, size_t align)
{
	size_t pad = (align - (b->len & (align - 1))) & (align - 1);
	wbuf_put_zero(b, pad);
}

void wbuf_set_le16(struct wbuf *b, size_t off, uint16_t v)
{
	if (b->err || off > b->len || 2 > b->len - off)
		return;
	b->p[off] = (uint8_t)v;
	b->p[off + 1] = (uint8_t)(v >> 8);
}

void wbuf_set_le32(struct wbuf *b, size_t off, uint32_t v)
{
	if (b->err || off > b->len || 4 > b->len - off)
		return;
	for (int i = 0; i < 4; i++)
		b->p[off + i] = (uint8_t)(v >> (8 * i));
}
