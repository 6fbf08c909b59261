/* SP800-108 counter-mode KDF with HMAC-SHA256 and the SMB3 key derivations (MS-SMB2 3.1.4.2),
 * plus the SHA-512 preauth integrity hash chain (MS-SMB2 3.2.5.2). */
#ifndef SMBGATE_KDF_H
#define SMBGATE_KDF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "crypto/seal.h"

/* out_len bytes of KDF(Ki, Label, Context) with L = out_len * 8, r = 32, i counting from 1. */
int smb_kdf_sp800_108(const uint8_t *ki, size_t ki_len, const void *label, size_t label_len,
		      const void *context, size_t context_len, uint8_t *out, size_t out_len);

struct smb2_keys {
	uint8_t signing[16];
	uint8_t encrypt[32]; /* client -> server */
	uint8_t decrypt[32]; /* server -> client */
	uint8_t application[16];
	size_t cipher_key_len; /* 16 or 32 */
};

/* Derives the session's keys for the dialect. For 2.0.2/2.1 the signing key is the session key
 * and no cipher keys exist. For 3.1.1 preauth is the 64-byte preauth integrity hash of the
 * session. cipher selects the encryption key length (AES-256 ciphers: 32 bytes). */
int smb2_derive_keys(uint16_t dialect, const uint8_t *session_key, size_t session_key_len,
		     const uint8_t preauth[64], enum smb2_cipher cipher, struct smb2_keys *out);

/* hash = SHA-512(hash || message), the message given as iovecs. */
int smb2_preauth_update(uint8_t hash[64], const struct iovec *iov, int iovcnt);

/* Cryptographically random bytes (OpenSSL RAND_bytes). */
int smb_random(void *buf, size_t len);

#endif
