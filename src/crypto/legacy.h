/* NTLM-era primitives over OpenSSL: MD4, MD5, HMAC-MD5, RC4 and single DES. OpenSSL 3 keeps MD4,
 * RC4 and DES in its "legacy" provider; they are fetched from a private library context with the
 * "legacy" and "default" providers loaded, so the process's default context (which libssh also
 * uses) is left alone. Every function returns 0, SMBG_ENOTSUP when the legacy provider cannot be
 * loaded, or SMBG_ECRYPTO / SMBG_ENOMEM. */
#ifndef SMBGATE_LEGACY_H
#define SMBGATE_LEGACY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

int smb_md4(const void *p, size_t n, uint8_t out[16]);
int smb_md5(const struct iovec *iov, int iovcnt, uint8_t out[16]);
int smb_hmac_md5(const uint8_t *key, size_t keylen, const struct iovec *iov, int iovcnt,
		 uint8_t out[16]);

/* An RC4 key stream that keeps its state across calls (the NTLMSSP sealing "handle"). */
struct smb_rc4;
/* Returns NULL on allocation failure or when RC4 is unavailable (*err says which). */
struct smb_rc4 *smb_rc4_new(const uint8_t *key, size_t keylen, int *err);
/* out may equal in. */
int smb_rc4_update(struct smb_rc4 *r, const uint8_t *in, uint8_t *out, size_t n);
void smb_rc4_free(struct smb_rc4 *r); /* NULL is a no-op */
/* One-shot RC4 with a fresh key stream (RC4K in MS-NLMP). out may equal in. */
int smb_rc4(const uint8_t *key, size_t keylen, const uint8_t *in, uint8_t *out, size_t n);

/* DES-ECB encryption of one block with a 7-byte key spread over 8 bytes (parity bits ignored),
 * as MS-NLMP's DES() and LM hashing use it. */
int smb_des7(const uint8_t key7[7], const uint8_t in[8], uint8_t out[8]);

#endif
