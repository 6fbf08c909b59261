/* A growable little-endian writer. Errors are sticky: after an allocation failure or a cap
 * overflow every put is a no-op and wbuf_error() reports it once at the end of encoding. */
#ifndef SMBGATE_WBUF_H
#define SMBGATE_WBUF_H

#include <stddef.h>
#include <stdint.h>

struct wbuf {
	uint8_t *p; /* owned */
	size_t len;
	size_t cap;
	size_t max; /* 0 = no cap */
	int err;
};

void wbuf_init(struct wbuf *b);
/* Frees the buffer and resets b; wipes the contents first when b held secrets. */
void wbuf_free(struct wbuf *b);
void wbuf_free_secret(struct wbuf *b);
/* Takes the buffer out of b (caller frees), leaving b empty. */
uint8_t *wbuf_take(struct wbuf *b, size_t *len);
int wbuf_reserve(struct wbuf *b, size_t n);
void wbuf_reset(struct wbuf *b); /* len = 0, keeps capacity, clears err */

void wbuf_put_u8(struct wbuf *b, uint8_t v);
void wbuf_put_le16(struct wbuf *b, uint16_t v);
void wbuf_put_le32(struct wbuf *b, uint32_t v);
void wbuf_put_le64(struct wbuf *b, uint64_t v);
void wbuf_put_be16(struct wbuf *b, uint16_t v);
void wbuf_put_be32(struct wbuf *b, uint32_t v);
void wbuf_put_bytes(struct wbuf *b, const void *p, size_t n);
void wbuf_put_zero(struct wbuf *b, size_t n);
/* Pads with zeros to a multiple of `align` (a power of two). */
void wbuf_align(struct wbuf *b, size_t align);
/* Patches already-written bytes (e.g. an offset or length field); ignored when out of range. */
void wbuf_set_le16(struct wbuf *b, size_t off, uint16_t v);
void wbuf_set_le32(struct wbuf *b, size_t off, uint32_t v);
/* Returns a pointer to n new bytes at the end (zeroed), or NULL after an error. */
uint8_t *wbuf_append(struct wbuf *b, size_t n);
/* 0 or the sticky error (SMBG_ENOMEM / SMBG_ETOOBIG). */
int wbuf_error(const struct wbuf *b);

#endif
