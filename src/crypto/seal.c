#include "crypto/seal.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "smbgate/err.h"

#define SEAL_AAD_LEN 32
#define SEAL_TAG_LEN 16

static EVP_CIPHER *ciphers[5]; /* indexed by enum smb2_cipher */
static pthread_once_t seal_once = PTHREAD_ONCE_INIT;

static void seal_init(void)
{
	ciphers[SMB2_CIPHER_AES128_CCM] = EVP_CIPHER_fetch(NULL, "AES-128-CCM", NULL);
	ciphers[SMB2_CIPHER_AES128_GCM] = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
	ciphers[SMB2_CIPHER_AES256_CCM] = EVP_CIPHER_fetch(NULL, "AES-256-CCM", NULL);
	ciphers[SMB2_CIPHER_AES256_GCM] = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
}

size_t smb2_cipher_key_len(enum smb2_cipher c)
{
	switch (c) {
	case SMB2_CIPHER_AES128_CCM:
	case SMB2_CIPHER_AES128_GCM:
		return 16;
	case SMB2_CIPHER_AES256_CCM:
	case SMB2_CIPHER_AES256_GCM:
		return 32;
	case SMB2_CIPHER_NONE:
		break;
	}
	return 0;
}

size_t smb2_cipher_nonce_len(enum smb2_cipher c)
{
	switch (c) {
	case SMB2_CIPHER_AES128_CCM:
	case SMB2_CIPHER_AES256_CCM:
		return 11;
	case SMB2_CIPHER_AES128_GCM:
	case SMB2_CIPHER_AES256_GCM:
		return 12;
	case SMB2_CIPHER_NONE:
		break;
	}
	return 0;
}

static bool cipher_is_ccm(enum smb2_cipher c)
{
	return c == SMB2_CIPHER_AES128_CCM || c == SMB2_CIPHER_AES256_CCM;
}

/* One AEAD pass in place. CCM wants its nonce and tag length set before the key, the total
 * message length before the AAD, and the data in a single update; on decryption it checks the
 * tag inside that update. GCM checks the tag in the final call. */
static int seal_run(enum smb2_cipher c, bool enc, const uint8_t *key, const uint8_t *nonce,
		    const uint8_t aad[SEAL_AAD_LEN], uint8_t *buf, size_t len, uint8_t tag[16])
{
	EVP_CIPHER_CTX *ctx;
	uint8_t fin[16]; /* AEAD finals write nothing; never point past a possibly NULL buf */
	bool ccm = cipher_is_ccm(c);
	int nlen = (int)smb2_cipher_nonce_len(c);
	int olen = 0, rc = SMBG_ECRYPTO;

	if (!key || !nonce || !aad || !tag || (len && !buf) || nlen == 0)
		return SMBG_EINVAL;
	/* SMB caps a message far below this; EVP takes int lengths. */
	if (len > INT_MAX)
		return SMBG_EINVAL;
	if (pthread_once(&seal_once, seal_init) != 0 || !ciphers[c])
		return SMBG_ECRYPTO;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return SMBG_ENOMEM;
	if (!EVP_CipherInit_ex2(ctx, ciphers[c], NULL, NULL, enc ? 1 : 0, NULL) ||
	    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, nlen, NULL))
		goto out;
	if (ccm && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, SEAL_TAG_LEN,
					enc ? NULL : (void *)tag))
		goto out;
	if (!EVP_CipherInit_ex2(ctx, NULL, key, nonce, enc ? 1 : 0, NULL))
		goto out;
	if (ccm && !EVP_CipherUpdate(ctx, NULL, &olen, NULL, (int)len))
		goto out;
	if (!EVP_CipherUpdate(ctx, NULL, &olen, aad, SEAL_AAD_LEN))
		goto out;
	if (len > 0 || ccm) {
		/* An empty CCM message still needs this call: it is where the tag is checked. */
		if (!EVP_CipherUpdate(ctx, buf, &olen, buf, (int)len) || olen != (int)len)
			goto out;
	}
	if (!ccm) {
		if (!enc &&
		    !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, SEAL_TAG_LEN, (void *)tag))
			goto out;
		if (!EVP_CipherFinal_ex(ctx, fin, &olen))
			goto out;
	} else if (enc && !EVP_CipherFinal_ex(ctx, fin, &olen)) {
		goto out;
	}
	if (enc && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, SEAL_TAG_LEN, tag))
		goto out;
	rc = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	/* Unauthenticated plaintext must not reach the caller. */
	if (rc && !enc && len)
		OPENSSL_cleanse(buf, len);
	return rc;
}

int smb2_seal(enum smb2_cipher c, const uint8_t *key, const uint8_t *nonce, const uint8_t aad[32],
	      uint8_t *buf, size_t len, uint8_t tag[16])
{
	return seal_run(c, true, key, nonce, aad, buf, len, tag);
}

int smb2_unseal(enum smb2_cipher c, const uint8_t *key, const uint8_t *nonce, const uint8_t aad[32],
		uint8_t *buf, size_t len, const uint8_t tag[16])
{
	return seal_run(c, false, key, nonce, aad, buf, len, (uint8_t *)tag);
}
