/* SMB3 encryption (MS-SMB2 3.1.4.3): AES-128/256-CCM/GCM over OpenSSL EVP. */
#ifndef SMBGATE_SEAL_H
#define SMBGATE_SEAL_H

#include <stddef.h>
#include <stdint.h>

/* Values are the SMB2 ENCRYPTION_CAPABILITIES cipher ids. */
enum smb2_cipher {
	SMB2_CIPHER_NONE = 0,
	SMB2_CIPHER_AES128_CCM = 1,
	SMB2_CIPHER_AES128_GCM = 2,
	SMB2_CIPHER_AES256_CCM = 3,
	SMB2_CIPHER_AES256_GCM = 4
};

size_t smb2_cipher_key_len(enum smb2_cipher c);	  /* 16 or 32, 0 for NONE/unknown */
size_t smb2_cipher_nonce_len(enum smb2_cipher c); /* 11 (CCM) or 12 (GCM) */

/* Encrypts buf[0..len) in place. aad is the 32 bytes of the TRANSFORM_HEADER from Nonce to
 * SessionId (its bytes 20..51); nonce is smb2_cipher_nonce_len bytes. Writes the 16-byte tag. */
int smb2_seal(enum smb2_cipher c, const uint8_t *key, const uint8_t *nonce, const uint8_t aad[32],
	      uint8_t *buf, size_t len, uint8_t tag[16]);
/* Decrypts in place and checks the tag: SMBG_ECRYPTO when it does not match. */
int smb2_unseal(enum smb2_cipher c, const uint8_t *key, const uint8_t *nonce, const uint8_t aad[32],
		uint8_t *buf, size_t len, const uint8_t tag[16]);

#endif
