#include "crypto/legacy.h"

#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>

#include "smbgate/err.h"

/* Fetched once, shared read-only by every thread (EVP objects are safe to share once fetched). */
static struct {
	OSSL_LIB_CTX *libctx;
	EVP_MD *md4;
	EVP_MD *md5;
	EVP_MAC *hmac;
	EVP_CIPHER *rc4;
	EVP_CIPHER *des;
} L;
static pthread_once_t legacy_once_ctl = PTHREAD_ONCE_INIT;

static void legacy_init(void)
{
	L.libctx = OSSL_LIB_CTX_new();
	if (!L.libctx)
		return;
	/* Both are needed: the legacy provider alone has no MD5 or HMAC. A missing legacy module
	 * leaves md4/rc4/des NULL and only the NTLM paths that need them fail. */
	(void)OSSL_PROVIDER_load(L.libctx, "default");
	(void)OSSL_PROVIDER_load(L.libctx, "legacy");
	L.md4 = EVP_MD_fetch(L.libctx, "MD4", NULL);
	L.md5 = EVP_MD_fetch(L.libctx, "MD5", NULL);
	L.hmac = EVP_MAC_fetch(L.libctx, "HMAC", NULL);
	L.rc4 = EVP_CIPHER_fetch(L.libctx, "RC4", NULL);
	L.des = EVP_CIPHER_fetch(L.libctx, "DES-ECB", NULL);
}

/* Runs the one-time fetch, then says whether alg (read only after it) is there. The macro
 * keeps the read after the pthread_once call. */
static int legacy_once(void)
{
	return pthread_once(&legacy_once_ctl, legacy_init) == 0 ? 0 : SMBG_ECRYPTO;
}
#define legacy_ready(alg) (legacy_once() != 0 ? SMBG_ECRYPTO : (alg) ? 0 : SMBG_ENOTSUP)

static int digest_iov(const EVP_MD *md, const struct iovec *iov, int iovcnt, uint8_t out[16])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int olen = 0;
	int ok;

	if (!ctx)
		return SMBG_ENOMEM;
	ok = EVP_DigestInit_ex(ctx, md, NULL);
	for (int i = 0; ok && i < iovcnt; i++)
		if (iov[i].iov_len)
			ok = EVP_DigestUpdate(ctx, iov[i].iov_base, iov[i].iov_len);
	ok = ok && EVP_DigestFinal_ex(ctx, out, &olen) && olen == 16;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : SMBG_ECRYPTO;
}

int smb_md4(const void *p, size_t n, uint8_t out[16])
{
	struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
	int rc = legacy_ready(L.md4);

	return rc ? rc : digest_iov(L.md4, &iov, 1, out);
}

int smb_md5(const struct iovec *iov, int iovcnt, uint8_t out[16])
{
	int rc = legacy_ready(L.md5);

	return rc ? rc : digest_iov(L.md5, iov, iovcnt, out);
}

int smb_hmac_md5(const uint8_t *key, size_t keylen, const struct iovec *iov, int iovcnt,
		 uint8_t out[16])
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx;
	size_t olen = 0;
	int ok, rc = legacy_ready(L.hmac);

	if (rc)
		return rc;
	ctx = EVP_MAC_CTX_new(L.hmac);
	if (!ctx)
		return SMBG_ENOMEM;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "MD5", 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = EVP_MAC_init(ctx, key, keylen, params);
	for (int i = 0; ok && i < iovcnt; i++)
		if (iov[i].iov_len)
			ok = EVP_MAC_update(ctx, iov[i].iov_base, iov[i].iov_len);
	ok = ok && EVP_MAC_final(ctx, out, &olen, 16) && olen == 16;
	EVP_MAC_CTX_free(ctx);
	return ok ? 0 : SMBG_ECRYPTO;
}

struct smb_rc4 {
	EVP_CIPHER_CTX *ctx;
};

struct smb_rc4 *smb_rc4_new(const uint8_t *key, size_t keylen, int *err)
{
	struct smb_rc4 *r;
	int rc = legacy_ready(L.rc4);
	OSSL_PARAM params[2];
	size_t klen = keylen;

	*err = rc;
	if (rc)
		return NULL;
	*err = SMBG_ENOMEM;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->ctx = EVP_CIPHER_CTX_new();
	if (!r->ctx)
		goto fail;
	*err = SMBG_ECRYPTO;
	/* RC4 is variable-length: set the key length before the key (NTLM uses 5, 7 or 16). */
	params[0] = OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_KEYLEN, &klen);
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_EncryptInit_ex2(r->ctx, L.rc4, NULL, NULL, params) ||
	    !EVP_EncryptInit_ex2(r->ctx, NULL, key, NULL, NULL))
		goto fail;
	*err = 0;
	return r;
fail:
	smb_rc4_free(r);
	return NULL;
}

int smb_rc4_update(struct smb_rc4 *r, const uint8_t *in, uint8_t *out, size_t n)
{
	while (n > 0) {
		int chunk = n > INT_MAX / 2 ? INT_MAX / 2 : (int)n;
		int olen = 0;
		if (!EVP_EncryptUpdate(r->ctx, out, &olen, in, chunk) || olen != chunk)
			return SMBG_ECRYPTO;
		in += chunk;
		out += chunk;
		n -= (size_t)chunk;
	}
	return 0;
}

void smb_rc4_free(struct smb_rc4 *r)
{
	if (!r)
		return;
	EVP_CIPHER_CTX_free(r->ctx); /* cleanses the key schedule */
	free(r);
}

int smb_rc4(const uint8_t *key, size_t keylen, const uint8_t *in, uint8_t *out, size_t n)
{
	int rc;
	struct smb_rc4 *r = smb_rc4_new(key, keylen, &rc);

	if (!r)
		return rc;
	rc = smb_rc4_update(r, in, out, n);
	smb_rc4_free(r);
	return rc;
}

int smb_des7(const uint8_t k[7], const uint8_t in[8], uint8_t out[8])
{
	uint8_t key[8];
	EVP_CIPHER_CTX *ctx;
	int olen = 0, ok, rc = legacy_ready(L.des);

	if (rc)
		return rc;
	/* Spread 56 key bits over the high 7 bits of 8 bytes; DES ignores the low (parity) bit. */
	key[0] = k[0];
	key[1] = (uint8_t)(k[0] << 7 | k[1] >> 1);
	key[2] = (uint8_t)(k[1] << 6 | k[2] >> 2);
	key[3] = (uint8_t)(k[2] << 5 | k[3] >> 3);
	key[4] = (uint8_t)(k[3] << 4 | k[4] >> 4);
	key[5] = (uint8_t)(k[4] << 3 | k[5] >> 5);
	key[6] = (uint8_t)(k[5] << 2 | k[6] >> 6);
	key[7] = (uint8_t)(k[6] << 1);
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx) {
		OPENSSL_cleanse(key, sizeof(key));
		return SMBG_ENOMEM;
	}
	ok = EVP_EncryptInit_ex2(ctx, L.des, key, NULL, NULL) &&
	     EVP_CIPHER_CTX_set_padding(ctx, 0) && EVP_EncryptUpdate(ctx, out, &olen, in, 8) &&
	     olen == 8;
	EVP_CIPHER_CTX_free(ctx);
	OPENSSL_cleanse(key, sizeof(key));
	return ok ? 0 : SMBG_ECRYPTO;
}
