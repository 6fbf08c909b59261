#include "crypto/sign.h"

#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "smbgate/err.h"

#define SMB2_HDR_LEN		   64
#define SMB2_HDR_OFF_COMMAND	   12
#define SMB2_HDR_OFF_FLAGS	   16
#define SMB2_HDR_OFF_MESSAGE_ID	   24
#define SMB2_FLAGS_SERVER_TO_REDIR 0x00000001u
#define SMB2_CANCEL		   0x000C

/* Fetched once: a fetch walks the provider tables, too slow to repeat for every message. */
static EVP_MAC *mac_hmac, *mac_cmac;
static EVP_CIPHER *cipher_gcm;
static pthread_once_t sign_once = PTHREAD_ONCE_INIT;

static void sign_init(void)
{
	mac_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	mac_cmac = EVP_MAC_fetch(NULL, "CMAC", NULL);
	cipher_gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
}

static int mac_iov(EVP_MAC *mac, const char *pname, const char *alg, const uint8_t key[16],
		   const struct iovec *iov, int iovcnt, uint8_t *out, size_t outsize)
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx;
	size_t olen = 0;
	int ok;

	if (!mac)
		return SMBG_ECRYPTO;
	ctx = EVP_MAC_CTX_new(mac);
	if (!ctx)
		return SMBG_ENOMEM;
	params[0] = OSSL_PARAM_construct_utf8_string(pname, (char *)alg, 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = EVP_MAC_init(ctx, key, 16, params);
	for (int i = 0; ok && i < iovcnt; i++)
		if (iov[i].iov_len)
			ok = EVP_MAC_update(ctx, iov[i].iov_base, iov[i].iov_len);
	ok = ok && EVP_MAC_final(ctx, out, &olen, outsize) && olen == outsize;
	EVP_MAC_CTX_free(ctx);
	return ok ? 0 : SMBG_ECRYPTO;
}

/* Copies the first n bytes of the message, which may straddle iovecs. */
static int iov_peek(const struct iovec *iov, int iovcnt, uint8_t *dst, size_t n)
{
	size_t got = 0;

	for (int i = 0; i < iovcnt && got < n; i++) {
		size_t take = iov[i].iov_len < n - got ? iov[i].iov_len : n - got;
		if (take)
			memcpy(dst + got, iov[i].iov_base, take);
		got += take;
	}
	return got == n ? 0 : SMBG_EINVAL;
}

/* AES-128-GMAC = AES-128-GCM with the whole message as AAD and nothing to encrypt. The nonce
 * (MS-SMB2 3.1.4.1): MessageId, then a 32-bit LE word whose bit 0 says the sender is the
 * server and bit 1 that the message is a CANCEL request. */
static int sign_gmac(const uint8_t key[16], const struct iovec *iov, int iovcnt, uint8_t sig[16])
{
	uint8_t hdr[SMB2_HDR_LEN], nonce[12] = {0};
	EVP_CIPHER_CTX *ctx;
	int olen = 0, ok, rc;

	rc = iov_peek(iov, iovcnt, hdr, sizeof(hdr));
	if (rc)
		return rc;
	memcpy(nonce, hdr + SMB2_HDR_OFF_MESSAGE_ID, 8);
	if (hdr[SMB2_HDR_OFF_FLAGS] & SMB2_FLAGS_SERVER_TO_REDIR)
		nonce[8] |= 0x01;
	if ((hdr[SMB2_HDR_OFF_COMMAND] | hdr[SMB2_HDR_OFF_COMMAND + 1] << 8) == SMB2_CANCEL)
		nonce[8] |= 0x02;
	if (!cipher_gcm)
		return SMBG_ECRYPTO;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return SMBG_ENOMEM;
	ok = EVP_EncryptInit_ex2(ctx, cipher_gcm, key, nonce, NULL);
	for (int i = 0; ok && i < iovcnt; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;
		while (ok && left > 0) {
			int chunk = left > INT_MAX / 2 ? INT_MAX / 2 : (int)left;
			ok = EVP_EncryptUpdate(ctx, NULL, &olen, p, chunk);
			p += chunk;
			left -= (size_t)chunk;
		}
	}
	ok = ok && EVP_EncryptFinal_ex(ctx, NULL, &olen) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, sig);
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : SMBG_ECRYPTO;
}

int smb2_sign(enum smb2_sign_alg alg, const uint8_t key[16], const struct iovec *iov, int iovcnt,
	      uint8_t sig[16])
{
	uint8_t full[32];
	int rc;

	if (!key || !sig || iovcnt < 0 || (iovcnt > 0 && !iov))
		return SMBG_EINVAL;
	if (pthread_once(&sign_once, sign_init) != 0)
		return SMBG_ECRYPTO;
	switch (alg) {
	case SMB2_SIGN_HMAC_SHA256:
		/* 2.0.2 and 2.1: the first 16 bytes of HMAC-SHA256. */
		rc = mac_iov(mac_hmac, OSSL_MAC_PARAM_DIGEST, "SHA256", key, iov, iovcnt, full,
			     sizeof(full));
		if (rc == 0)
			memcpy(sig, full, 16);
		OPENSSL_cleanse(full, sizeof(full));
		return rc;
	case SMB2_SIGN_AES_CMAC:
		return mac_iov(mac_cmac, OSSL_MAC_PARAM_CIPHER, "AES-128-CBC", key, iov, iovcnt,
			       sig, 16);
	case SMB2_SIGN_AES_GMAC:
		return sign_gmac(key, iov, iovcnt, sig);
	}
	return SMBG_EINVAL;
}
