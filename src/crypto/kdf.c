#include "crypto/kdf.h"

#include <limits.h>
#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "smbgate/err.h"

#define SMB2_DIALECT_202 0x0202
#define SMB2_DIALECT_210 0x0210
#define SMB2_DIALECT_300 0x0300
#define SMB2_DIALECT_302 0x0302
#define SMB2_DIALECT_311 0x0311

static EVP_KDF *kdf_kbkdf;
static EVP_MD *md_sha512;
static pthread_once_t kdf_once = PTHREAD_ONCE_INIT;

static void kdf_init(void)
{
	kdf_kbkdf = EVP_KDF_fetch(NULL, "KBKDF", NULL);
	md_sha512 = EVP_MD_fetch(NULL, "SHA512", NULL);
}

/* OpenSSL's KBKDF in counter mode is exactly SP800-108 5.1 as SMB uses it: PRF input is
 * [i]32 || Label || 0x00 || Context || [L]32, with L = out_len * 8. */
int smb_kdf_sp800_108(const uint8_t *ki, size_t ki_len, const void *label, size_t label_len,
		      const void *context, size_t context_len, uint8_t *out, size_t out_len)
{
	OSSL_PARAM params[8], *p = params;
	EVP_KDF_CTX *ctx;
	int ok;

	if (!ki || ki_len == 0 || !out || out_len == 0 || out_len > UINT32_MAX / 8 ||
	    (label_len && !label) || (context_len && !context))
		return SMBG_EINVAL;
	if (pthread_once(&kdf_once, kdf_init) != 0 || !kdf_kbkdf)
		return SMBG_ECRYPTO;
	ctx = EVP_KDF_CTX_new(kdf_kbkdf);
	if (!ctx)
		return SMBG_ENOMEM;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, "counter", 0);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, "HMAC", 0);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, "SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ki, ki_len);
	/* KBKDF calls the label "salt" and the context "info". */
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)label, label_len);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)context, context_len);
	*p = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(ctx, out, out_len, params);
	EVP_KDF_CTX_free(ctx);
	if (!ok) {
		OPENSSL_cleanse(out, out_len);
		return SMBG_ECRYPTO;
	}
	return 0;
}

/* Labels and contexts of MS-SMB2 3.2.5.3.1; the trailing NULs are part of each string. */
#define LIT(s) s, sizeof(s)
struct kdf_input {
	const char *label;
	size_t label_len;
	const char *context; /* NULL: the preauth hash */
	size_t context_len;
};
static const struct kdf_input k30_sign = {LIT("SMB2AESCMAC"), LIT("SmbSign")};
static const struct kdf_input k30_enc = {LIT("SMB2AESCCM"), LIT("ServerIn ")};
static const struct kdf_input k30_dec = {LIT("SMB2AESCCM"), LIT("ServerOut")};
static const struct kdf_input k30_app = {LIT("SMB2APP"), LIT("SmbRpc")};
static const struct kdf_input k311_sign = {LIT("SMBSigningKey"), NULL, 0};
static const struct kdf_input k311_enc = {LIT("SMBC2SCipherKey"), NULL, 0};
static const struct kdf_input k311_dec = {LIT("SMBS2CCipherKey"), NULL, 0};
static const struct kdf_input k311_app = {LIT("SMBAppKey"), NULL, 0};

static int derive_one(const uint8_t *ki, size_t ki_len, const struct kdf_input *in,
		      const uint8_t preauth[64], uint8_t *out, size_t out_len)
{
	const void *ctx = in->context ? (const void *)in->context : (const void *)preauth;
	size_t ctx_len = in->context ? in->context_len : 64;

	return smb_kdf_sp800_108(ki, ki_len, in->label, in->label_len, ctx, ctx_len, out, out_len);
}

int smb2_derive_keys(uint16_t dialect, const uint8_t *session_key, size_t session_key_len,
		     const uint8_t preauth[64], enum smb2_cipher cipher, struct smb2_keys *out)
{
	uint8_t key16[16] = {0};
	const uint8_t *cipher_ki = key16;
	size_t cipher_ki_len = sizeof(key16);
	int rc;

	if (!out || (session_key_len && !session_key))
		return SMBG_EINVAL;
	memset(out, 0, sizeof(*out));
	/* Session.SessionKey: the first 16 bytes of the GSS key, right-padded with zeros. */
	if (session_key_len)
		memcpy(key16, session_key, session_key_len < 16 ? session_key_len : 16);

	switch (dialect) {
	case SMB2_DIALECT_202:
	case SMB2_DIALECT_210:
		memcpy(out->signing, key16, 16);
		OPENSSL_cleanse(key16, sizeof(key16));
		return 0;
	case SMB2_DIALECT_300:
	case SMB2_DIALECT_302:
		/* 3.0.x has AES-128-CCM only. */
		out->cipher_key_len = 16;
		rc = derive_one(key16, 16, &k30_sign, NULL, out->signing, 16);
		if (!rc)
			rc = derive_one(key16, 16, &k30_enc, NULL, out->encrypt, 16);
		if (!rc)
			rc = derive_one(key16, 16, &k30_dec, NULL, out->decrypt, 16);
		if (!rc)
			rc = derive_one(key16, 16, &k30_app, NULL, out->application, 16);
		break;
	case SMB2_DIALECT_311:
		if (!preauth) {
			rc = SMBG_EINVAL;
			break;
		}
		out->cipher_key_len = smb2_cipher_key_len(cipher) == 32 ? 32 : 16;
		/* AES-256 keys come from the whole GSS key (Session.FullSessionKey) with L = 256;
		 * signing and application keys stay 128-bit from the 16-byte SessionKey, as
		 * Samba and Windows do. */
		if (out->cipher_key_len == 32 && session_key_len > 16) {
			cipher_ki = session_key;
			cipher_ki_len = session_key_len;
		}
		rc = derive_one(key16, 16, &k311_sign, preauth, out->signing, 16);
		if (!rc)
			rc = derive_one(cipher_ki, cipher_ki_len, &k311_enc, preauth, out->encrypt,
					out->cipher_key_len);
		if (!rc)
			rc = derive_one(cipher_ki, cipher_ki_len, &k311_dec, preauth, out->decrypt,
					out->cipher_key_len);
		if (!rc)
			rc = derive_one(key16, 16, &k311_app, preauth, out->application, 16);
		break;
	default:
		rc = SMBG_EINVAL;
		break;
	}
	OPENSSL_cleanse(key16, sizeof(key16));
	if (rc)
		OPENSSL_cleanse(out, sizeof(*out));
	return rc;
}

int smb2_preauth_update(uint8_t hash[64], const struct iovec *iov, int iovcnt)
{
	EVP_MD_CTX *ctx;
	unsigned int olen = 0;
	int ok;

	if (!hash || iovcnt < 0 || (iovcnt > 0 && !iov))
		return SMBG_EINVAL;
	if (pthread_once(&kdf_once, kdf_init) != 0 || !md_sha512)
		return SMBG_ECRYPTO;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return SMBG_ENOMEM;
	ok = EVP_DigestInit_ex(ctx, md_sha512, NULL) && EVP_DigestUpdate(ctx, hash, 64);
	for (int i = 0; ok && i < iovcnt; i++)
		if (iov[i].iov_len)
			ok = EVP_DigestUpdate(ctx, iov[i].iov_base, iov[i].iov_len);
	ok = ok && EVP_DigestFinal_ex(ctx, hash, &olen) && olen == 64;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : SMBG_ECRYPTO;
}

int smb_random(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		int chunk = len > INT_MAX ? INT_MAX : (int)len;
		if (RAND_bytes(p, chunk) != 1)
			return SMBG_ECRYPTO;
		p += chunk;
		len -= (size_t)chunk;
	}
	return 0;
}
