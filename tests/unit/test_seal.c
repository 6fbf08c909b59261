/* SMB3 encryption: the AES-128-CCM (SMB 3.0) and AES-128-GCM (SMB 3.1.1) examples Microsoft's
 * Open Specifications team published, both directions; AES-256 known answers computed with the
 * Python `cryptography` package; round trips and tamper detection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hex.h"

#include "crypto/kdf.h"
#include "crypto/seal.h"
#include "smbgate/err.h"

struct transform {
	uint8_t *msg; /* the whole TRANSFORM_HEADER message */
	size_t len;
	uint8_t *sig;	/* bytes 4..19 */
	uint8_t *nonce; /* bytes 20..35 */
	uint8_t *aad;	/* bytes 20..51 */
	uint8_t *body;	/* bytes 52.. */
	size_t body_len;
};

static void transform_split(const char *hex, struct transform *t)
{
	t->msg = unhex(hex, &t->len);
	assert_true(t->len > 52);
	assert_memory_equal(t->msg, "\xfdSMB", 4);
	t->sig = t->msg + 4;
	t->nonce = t->msg + 20;
	t->aad = t->msg + 20;
	t->body = t->msg + 52;
	t->body_len = t->len - 52;
	/* OriginalMessageSize */
	assert_int_equal(t->msg[36] | t->msg[37] << 8 | t->msg[38] << 16 | t->msg[39] << 24,
			 t->body_len);
}

/* Encrypts plain with key under the header of the expected transform, compares everything, then
 * decrypts it back. */
static void check_encrypt(enum smb2_cipher c, const char *key_hex, const char *plain_hex,
			  const char *transform_hex)
{
	struct transform t;
	size_t kn, pn;
	uint8_t *key = unhex(key_hex, &kn), *plain = unhex(plain_hex, &pn), tag[16];

	transform_split(transform_hex, &t);
	assert_int_equal(kn, smb2_cipher_key_len(c));
	assert_int_equal(pn, t.body_len);
	uint8_t *buf = malloc(pn);
	memcpy(buf, plain, pn);
	assert_int_equal(smb2_seal(c, key, t.nonce, t.aad, buf, pn, tag), 0);
	assert_memory_equal(buf, t.body, pn);
	assert_memory_equal(tag, t.sig, 16);
	assert_int_equal(smb2_unseal(c, key, t.nonce, t.aad, buf, pn, tag), 0);
	assert_memory_equal(buf, plain, pn);
	free(buf);
	free(key);
	free(plain);
	free(t.msg);
}

static void check_decrypt(enum smb2_cipher c, const char *key_hex, const char *transform_hex,
			  const char *plain_hex)
{
	struct transform t;
	size_t kn, pn;
	uint8_t *key = unhex(key_hex, &kn), *plain = unhex(plain_hex, &pn);

	transform_split(transform_hex, &t);
	assert_int_equal(pn, t.body_len);
	assert_int_equal(smb2_unseal(c, key, t.nonce, t.aad, t.body, t.body_len, t.sig), 0);
	assert_memory_equal(t.body, plain, pn);
	free(key);
	free(plain);
	free(t.msg);
}

static void test_smb30_ccm(void **state)
{
	(void)state;
	/* A WRITE request, client to server. */
	check_encrypt(SMB2_CIPHER_AES128_CCM, "261B72350558F2E9DCF613070383EDBF",
		      "FE534D4240000100000000000900400008000000000000000400000000000000"
		      "FFFE0000010000001100001400E4080000000000000000000000000000000000"
		      "3100700017000000000000000000000015010000390000020100000039020000"
		      "00000000000000007000000000000000536D623320656E6372797074696F6E20"
		      "74657374696E67",
		      "FD534D4281A286535415445DAE393921E44FA42E66E69A111892584FB5ED524A"
		      "744DA3EE87000000000001001100001400E4080025C8FEE16605A437832D1CD5"
		      "2DA9F4645333482A175FE5384563F45FCDAFAEF38BC62BA4D5C62897996625A4"
		      "4C29BE5658DE2E6117585779E7B59FFD971278D08580D7FA899E410E910EABF5"
		      "AA1DB43050B33B49182637759AC15D84BFCDF5B6B238993C0F4CF4D6012023F6"
		      "C627297075D84B7803912D0A9639634453595EF3E33FFE4E7AC2AB");
	/* Its response, server to client. */
	check_decrypt(SMB2_CIPHER_AES128_CCM, "8FE2B57EC34D2DB5B1A9727F526BBDB5",
		      "FD534D42A6015530A18F6D9AFFE22AFAE8E66484860000000000000011000014"
		      "00E4080050000000000001001100001400E40800DBF46435C5F14169293CE079"
		      "E344479BF670227E49873F458672C3098DAC467DD5809F369D67409166515787"
		      "1483E01F7BECD02064EAC3E235F913668BBC2F097980D4B378F1993EFF6E60D1"
		      "77309E5B",
		      "FE534D4240000100000000000900210009000000000000000400000000000000"
		      "FFFE0000010000001100001400E4080000000000000000000000000000000000"
		      "11000000170000000000000000000000");
}

static void test_smb311_gcm(void **state)
{
	(void)state;
	check_encrypt(
	    SMB2_CIPHER_AES128_GCM, "A2F5E80E5D59103034F32E52F698E5EC",
	    "FE534D4240000100000000000900010008000000000000000500000000000000FFFE000001000000"
	    "25000000001000000000000000000000000000000000000031007000170000000000000000000000"
	    "0600000004000000010000000400000000000000000000007000000000000000536D623320656E63"
	    "72797074696F6E2074657374696E67",
	    "FD534D42BD73D97D2BC9001BCAFAC0FDFF5FEEBCC7D6822D269CAF48904C664C0000000087000000"
	    "0000010025000000001000006ECDD2A7AFC7B47763057A041B8FD4DAFFE990B70C9E09D36C084E02"
	    "D14EF247F8BDE38ACF6256F8B1D3B56F77FBDEB312FEA5E92CBCC1ED8FB2EBBFAA75E49A4A394BB4"
	    "4576545567C24D4C014D47C9FBDFDAFD2C4F9B72F8D256452620A299F48E29E53D6B61D1C13A19E9"
	    "1AF013F00D17E3ABC2FC3D36C8C1B6B93973253852DBD442E46EE8");
	check_decrypt(
	    SMB2_CIPHER_AES128_GCM, "748C50868C90F302962A5C35F5F9A8BF",
	    "FD534D42ACBE1CB7ED343ADF1725EF144D90D4B0E06831DD2E8EB7B4000000000000000050000000"
	    "00000100250000000010000026BBBF949983A6C1C796559D0F2C510CB651D1F7B6AC8DED32A2A0B8"
	    "F2D793A815C6F6B848D69767A215841A42D400AE6DDB5F0B44173A014973321FDD7950DA6179159B"
	    "82E03C9E18A050FF0EA1C967",
	    "FE534D4240000100000000000900010001000000000000000500000000000000FFFE000001000000"
	    "25000000001000000000000000000000000000000000000011000000170000000000000000000000");
}

static void test_aes256(void **state)
{
	(void)state;
	static const char pt[] = "SMB3 AES-256 known answer test vector, 48 bytes"; /* 47 */
	static const struct {
		enum smb2_cipher c;
		const char *out; /* ciphertext || tag */
	} cases[] = {
	    {SMB2_CIPHER_AES256_GCM,
	     "b1f4ec10067dc250e0f62200bb0f7d340ea8723dd946784605673a80e467cdadfd6b87c3ac95ff60"
	     "19d46916e568acb179564ffa73ba21e7c402fe50e1d0c9"},
	    {SMB2_CIPHER_AES256_CCM,
	     "264031992babc76747eafdbda1cf245ffff5c72b1f1721accf711f861c12ef824d776fed1ca63ff9"
	     "0194fcf32cd0bda07cee54dee580f0a06a3d4c2e7cdc1b"},
	};
	uint8_t key[32], nonce[12], aad[32], buf[47], tag[16];
	size_t n;

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i, aad[i] = (uint8_t)(0x80 + i);
	for (int i = 0; i < 12; i++)
		nonce[i] = (uint8_t)(0x40 + i);
	for (int i = 0; i < 2; i++) {
		uint8_t *want = unhex(cases[i].out, &n);
		assert_int_equal(n, sizeof(buf) + 16);
		memcpy(buf, pt, sizeof(buf));
		assert_int_equal(smb2_seal(cases[i].c, key, nonce, aad, buf, sizeof(buf), tag), 0);
		assert_memory_equal(buf, want, sizeof(buf));
		assert_memory_equal(tag, want + sizeof(buf), 16);
		assert_int_equal(smb2_unseal(cases[i].c, key, nonce, aad, buf, sizeof(buf), tag),
				 0);
		assert_memory_equal(buf, pt, sizeof(buf));
		free(want);
	}
}

/* Every cipher and several sizes: decrypting what was encrypted gives it back; any flipped bit
 * in data, tag, AAD, nonce or key is refused and the output is wiped. */
static void test_round_trip_and_tamper(void **state)
{
	(void)state;
	static const enum smb2_cipher all[] = {SMB2_CIPHER_AES128_CCM, SMB2_CIPHER_AES128_GCM,
					       SMB2_CIPHER_AES256_CCM, SMB2_CIPHER_AES256_GCM};
	static const size_t sizes[] = {1, 15, 16, 17, 4096, 1 << 20};
	uint8_t key[32], nonce[12], aad[32], tag[16], tag2[16];

	assert_int_equal(smb_random(key, sizeof(key)), 0);
	assert_int_equal(smb_random(nonce, sizeof(nonce)), 0);
	assert_int_equal(smb_random(aad, sizeof(aad)), 0);
	for (size_t ci = 0; ci < 4; ci++) {
		for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
			size_t len = sizes[si];
			enum smb2_cipher c = all[ci];
			uint8_t *plain = malloc(len), *buf = malloc(len);
			assert_int_equal(smb_random(plain, len), 0);
			memcpy(buf, plain, len);
			assert_int_equal(smb2_seal(c, key, nonce, aad, buf, len, tag), 0);
			if (len >= 16)
				assert_memory_not_equal(buf, plain, len);
			uint8_t *sealed = malloc(len);
			memcpy(sealed, buf, len);

			assert_int_equal(smb2_unseal(c, key, nonce, aad, buf, len, tag), 0);
			assert_memory_equal(buf, plain, len);

			/* data */
			memcpy(buf, sealed, len);
			buf[len / 2] ^= 0x01;
			assert_int_equal(smb2_unseal(c, key, nonce, aad, buf, len, tag),
					 SMBG_ECRYPTO);
			for (size_t i = 0; i < len; i++)
				assert_int_equal(buf[i], 0);
			/* tag */
			memcpy(buf, sealed, len);
			memcpy(tag2, tag, 16);
			tag2[15] ^= 0x80;
			assert_int_equal(smb2_unseal(c, key, nonce, aad, buf, len, tag2),
					 SMBG_ECRYPTO);
			/* AAD (the transform header: a changed SessionId, say) */
			memcpy(buf, sealed, len);
			aad[31] ^= 0x01;
			assert_int_equal(smb2_unseal(c, key, nonce, aad, buf, len, tag),
					 SMBG_ECRYPTO);
			aad[31] ^= 0x01;
			/* nonce */
			memcpy(buf, sealed, len);
			nonce[0] ^= 0x01;
			assert_int_equal(smb2_unseal(c, key, nonce, aad, buf, len, tag),
					 SMBG_ECRYPTO);
			nonce[0] ^= 0x01;
			/* key */
			memcpy(buf, sealed, len);
			key[3] ^= 0x01;
			assert_int_equal(smb2_unseal(c, key, nonce, aad, buf, len, tag),
					 SMBG_ECRYPTO);
			key[3] ^= 0x01;
			free(plain);
			free(buf);
			free(sealed);
		}
	}
}

/* CCM uses 11 nonce bytes: the 12th must not matter. GCM uses 12. */
static void test_nonce_lengths(void **state)
{
	(void)state;
	uint8_t key[16] = {1}, n1[12] = {0}, n2[12] = {0}, aad[32] = {0}, a[20] = {0}, b[20] = {0},
		ta[16], tb[16];

	assert_int_equal(smb2_cipher_nonce_len(SMB2_CIPHER_AES128_CCM), 11);
	assert_int_equal(smb2_cipher_nonce_len(SMB2_CIPHER_AES256_CCM), 11);
	assert_int_equal(smb2_cipher_nonce_len(SMB2_CIPHER_AES128_GCM), 12);
	assert_int_equal(smb2_cipher_nonce_len(SMB2_CIPHER_AES256_GCM), 12);
	assert_int_equal(smb2_cipher_key_len(SMB2_CIPHER_AES128_GCM), 16);
	assert_int_equal(smb2_cipher_key_len(SMB2_CIPHER_AES256_CCM), 32);
	assert_int_equal(smb2_cipher_key_len(SMB2_CIPHER_NONE), 0);
	n2[11] = 0xff;
	assert_int_equal(smb2_seal(SMB2_CIPHER_AES128_CCM, key, n1, aad, a, sizeof(a), ta), 0);
	assert_int_equal(smb2_seal(SMB2_CIPHER_AES128_CCM, key, n2, aad, b, sizeof(b), tb), 0);
	assert_memory_equal(a, b, sizeof(a));
	assert_memory_equal(ta, tb, 16);
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	assert_int_equal(smb2_seal(SMB2_CIPHER_AES128_GCM, key, n1, aad, a, sizeof(a), ta), 0);
	assert_int_equal(smb2_seal(SMB2_CIPHER_AES128_GCM, key, n2, aad, b, sizeof(b), tb), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(smb2_seal(SMB2_CIPHER_NONE, key, n1, aad, a, sizeof(a), ta), SMBG_EINVAL);
	assert_int_equal(smb2_seal((enum smb2_cipher)9, key, n1, aad, a, sizeof(a), ta),
			 SMBG_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_smb30_ccm),	  cmocka_unit_test(test_smb311_gcm),
	    cmocka_unit_test(test_aes256),	  cmocka_unit_test(test_round_trip_and_tamper),
	    cmocka_unit_test(test_nonce_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
