/* SP800-108 KDF, SMB3 key derivation and the SHA-512 preauth chain, against the test vectors
 * Microsoft's Open Specifications team published for MS-SMB2 ("SMB 2 and SMB 3 security in
 * Windows 10: the anatomy of signing and cryptographic keys", "Encryption in SMB 3.0: a protocol
 * perspective", "SMB 3.1.1 encryption in Windows 10"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hex.h"

#include <openssl/hmac.h>

#include "crypto/kdf.h"
#include "smbgate/err.h"

/* --- SMB 3.0 (dialect 0x0300): the "anatomy of signing" multichannel example ------------- */
static void test_smb30_keys(void **state)
{
	(void)state;
	size_t n;
	uint8_t *sk = unhex("7CD451825D0450D235424E44BA6E78CC", &n);
	struct smb2_keys k;

	assert_int_equal(smb2_derive_keys(0x0300, sk, n, NULL, SMB2_CIPHER_AES128_CCM, &k), 0);
	assert_hex(k.signing, 16, "0B7E9C5CAC36C0F6EA9AB275298CEDCE");
	assert_hex(k.encrypt, 16, "FAD27796665B313EBB578F388632B4F7");
	assert_hex(k.decrypt, 16, "B0F0427F7CEB416D1D9DCC0CD4F99447");
	assert_hex(k.application, 16, "BB23A4575AA26C721AF525AF15A87B4F");
	assert_int_equal(k.cipher_key_len, 16);
	free(sk);

	/* The second channel's own signing key. */
	sk = unhex("4E01A2B313BCF660CC250BEF021AEDE6", &n);
	assert_int_equal(smb2_derive_keys(0x0302, sk, n, NULL, SMB2_CIPHER_NONE, &k), 0);
	assert_hex(k.signing, 16, "BA1A17DBBFEC349BCA105563D598952F");
	free(sk);

	/* "Encryption in SMB 3.0: a protocol perspective". */
	sk = unhex("B4546771B515F766A86735532DD6C4F0", &n);
	assert_int_equal(smb2_derive_keys(0x0300, sk, n, NULL, SMB2_CIPHER_AES128_CCM, &k), 0);
	assert_hex(k.encrypt, 16, "261B72350558F2E9DCF613070383EDBF");
	assert_hex(k.decrypt, 16, "8FE2B57EC34D2DB5B1A9727F526BBDB5");
	free(sk);
}

/* --- SMB 3.1.1: the preauth hash over NEGOTIATE and SESSION_SETUP, then the keys --------- */
static const char *const preauth_msgs[] = {
    /* NEGOTIATE request */
    "FE534D4240000100000000000000800000000000000000000100000000000000FFFE000000000000"
    "00000000000000000000000000000000000000000000000024000500000000003F000000ECD86F32"
    "6276024F9F7752B89BB33F3A70000000020000000202100200030203110300000100260000000000"
    "010020000100FA49E6578F1F3A9F4CD3E9CC14A67AA884B3D05844E0E5A118225C15887F32FF0000"
    "0200060000000000020002000100",
    /* NEGOTIATE response */
    "FE534D4240000100000000000000010001000000000000000100000000000000FFFE000000000000"
    "000000000000000000000000000000000000000000000000410001001103020039CBCAF329714942"
    "BDCE5D60F09AB3FB2F000000000080000000800000008000D8DAE5ADCBAED00109094AB095AED001"
    "80004001C00100006082013C06062B0601050502A08201303082012CA01A3018060A2B0601040182"
    "3702021E060A2B06010401823702020AA282010C048201084E45474F455854530100000000000000"
    "60000000700000007C7CC0FD06D6362D02DDE1CF343BFE292900F49750B4AA97934D9C4296B26E51"
    "FD370471B235E15A50DAE15BD5489C87000000000000000060000000010000000000000000000000"
    "5C33530DEAF90D4DB2EC4AE3786EC3084E45474F4558545303000000010000004000000098000000"
    "7C7CC0FD06D6362D02DDE1CF343BFE295C33530DEAF90D4DB2EC4AE3786EC3084000000058000000"
    "3056A05430523027802530233121301F06035504031318546F6B656E205369676E696E6720507562"
    "6C6963204B65793027802530233121301F06035504031318546F6B656E205369676E696E67205075"
    "626C6963204B6579010026000000000001002000010060A3C3B95C3C7CCD51EC536648D9B3AC74C4"
    "83CA5B65385A251117BEB30712E50000020004000000000001000200",
    /* SESSION_SETUP request (NTLMSSP NEGOTIATE) */
    "FE534D4240000100000000000100800000000000000000000200000000000000FFFE000000000000"
    "00000000000000000000000000000000000000000000000019000001010000000000000058004A00"
    "0000000000000000604806062B0601050502A03E303CA00E300C060A2B06010401823702020AA22A"
    "04284E544C4D5353500001000000978208E200000000000000000000000000000000060380250000"
    "000F",
    /* SESSION_SETUP response (MORE_PROCESSING_REQUIRED, NTLMSSP CHALLENGE) */
    "FE534D4240000100160000C00100010001000000000000000200000000000000FFFE000000000000"
    "190000000010000000000000000000000000000000000000090000004800B300A181B03081ADA003"
    "0A0101A10C060A2B06010401823702020AA281970481944E544C4D53535000020000000C000C0038"
    "00000015828AE20D1D8BA31179D008000000000000000050005000440000000A0092270000000F53"
    "005500540033003100310002000C0053005500540033003100310001000C00530055005400330031"
    "00310004000C0053005500540033003100310003000C0053005500540033003100310007000800A1"
    "A1F5ADCBAED00100000000",
    /* SESSION_SETUP request (NTLMSSP AUTHENTICATE) */
    "FE534D4240000100000000000100800000000000000000000300000000000000FFFE000000000000"
    "1900000000100000000000000000000000000000000000001900000101000000000000005800CF01"
    "0000000000000000A18201CB308201C7A0030A0101A28201AA048201A64E544C4D53535000030000"
    "001800180090000000EE00EE00A80000000C000C00580000001A001A0064000000120012007E0000"
    "001000100096010000158288E2060380250000000FECAC77A5F385A8BF9C38C706EEEDDCD3530055"
    "005400330031003100610064006D0069006E006900730074007200610074006F0072004400520049"
    "0056004500520033003100310000000000000000000000000000000000000000000000000063078E"
    "B639FE03E20A231C3AE3BF23080101000000000000A1A1F5ADCBAED001BC4AD05F223CC90F000000"
    "0002000C0053005500540033003100310001000C0053005500540033003100310004000C00530055"
    "00540033003100310003000C0053005500540033003100310007000800A1A1F5ADCBAED001060004"
    "00020000000800300030000000000000000000000000300000B61FEFCAA857EA57BF1EDCEBF8974B"
    "8E0EBA5A6DFD9D07A31D11B548F8C9D0CC0A00100000000000000000000000000000000000090016"
    "0063006900660073002F005300550054003300310031000000000000000000000000003B9BDFF38F"
    "5EE8F9663F11A0F4C03A78A31204100100000063775A9A5FD97F0600000000",
};
static const char *const preauth_after[] = {
    "DD94EFC5321BB618A2E208BA8920D2F422992526947A409B5037DE1E0FE8C7362B8C47122594CDE0"
    "CE26AA9DFC8BCDBDE0621957672623351A7540F1E54A0426",
    "324BFA92A4F3A190E466EBEA08D9C110DC88BFED758D9846ECC6F541CC1D02AE3C94A79F36011E99"
    "7E13F841B91B50957AD07B19C8E2539C0B23FDAE09D2C513",
    "AC0B0F2B9986257700365E416D142A6EDC96DF03594A19E52A15F6BD0D041CD5D432F8ED42C55E33"
    "197A50C9EC00F1462B50C592211B1471A04B56088FDFD5F9",
    "2729E3440DFDDD839E37193F6E8F20C20CEFB3469E453A70CD980EEC06B8835740A7376008563336"
    "4C8989895ECE81BF102DEEB14D4B7D48AFA76901A7A38387",
    "0DD13628CC3ED218EF9DF9772D436D0887AB9814BFAE63A80AA845F36909DB7928622DDDAD522D97"
    "51640A459762C5A9D6BB084CBB3CE6BDADEF5D5BCE3C6C01",
};

static void test_smb311_preauth_and_keys(void **state)
{
	(void)state;
	uint8_t hash[64] = {0};
	struct smb2_keys k;
	size_t n;

	for (size_t i = 0; i < sizeof(preauth_msgs) / sizeof(preauth_msgs[0]); i++) {
		uint8_t *m = unhex(preauth_msgs[i], &n);
		/* Split each message over three iovecs: the chain must not care. */
		struct iovec iov[3] = {{m, 10}, {m + 10, 0}, {m + 10, n - 10}};
		assert_int_equal(smb2_preauth_update(hash, iov, 3), 0);
		assert_hex(hash, 64, preauth_after[i]);
		free(m);
	}

	uint8_t *sk = unhex("270E1BA896585EEB7AF3472D3B4C75A7", &n);
	assert_int_equal(smb2_derive_keys(0x0311, sk, n, hash, SMB2_CIPHER_AES128_GCM, &k), 0);
	assert_hex(k.signing, 16, "73FE7A9A77BEF0BDE49C650D8CCB5F76");
	assert_hex(k.encrypt, 16, "629BCBC54422A0F572B97F45989B6073");
	assert_hex(k.decrypt, 16, "E2AF0DCEFAC68DA71A0DFBD0D1350D74");
	assert_hex(k.application, 16, "6D7AD7954E9EC61E907B4D473DC178FF");
	assert_int_equal(k.cipher_key_len, 16);
	free(sk);
}

/* "SMB 3.1.1 encryption in Windows 10": keys for its AES-128-GCM example. */
static void test_smb311_encryption_keys(void **state)
{
	(void)state;
	size_t n, pn;
	uint8_t *sk = unhex("419FDDF34C1E001909D362AE7FB6AF79", &n);
	uint8_t *pa = unhex("B23F3CBFD69487D9832B79B1594A367CDD950909B774C3A4C412B4FCEA9EDDDB"
			    "A7DB256BA2EA30E977F11F9B113247578E0E915C6D2A513B8F2FCA5707DC8770",
			    &pn);
	struct smb2_keys k;

	assert_int_equal(pn, 64);
	assert_int_equal(smb2_derive_keys(0x0311, sk, n, pa, SMB2_CIPHER_AES128_GCM, &k), 0);
	assert_hex(k.encrypt, 16, "A2F5E80E5D59103034F32E52F698E5EC");
	assert_hex(k.decrypt, 16, "748C50868C90F302962A5C35F5F9A8BF");
	free(sk);
	free(pa);
}

/* The KDF against a direct HMAC-SHA256 evaluation of SP800-108 5.1 (counter mode, r = 32):
 * K(i) = HMAC(Ki, [i]32 || Label || 0x00 || Context || [L]32), big-endian counters. Two blocks
 * exercise the counter and L = 256. */
static void test_sp800_108_direct(void **state)
{
	(void)state;
	const uint8_t ki[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
	const char label[] = "SMBC2SCipherKey"; /* with its NUL */
	uint8_t ctx[64], want[64], got[48], in[128];
	unsigned int mlen = 0;

	for (int i = 0; i < 64; i++)
		ctx[i] = (uint8_t)(0xA0 + i);
	for (uint32_t blk = 1; blk <= 2; blk++) {
		size_t len = 0;
		uint32_t bits = sizeof(got) * 8;
		in[len++] = 0, in[len++] = 0, in[len++] = 0, in[len++] = (uint8_t)blk;
		memcpy(in + len, label, sizeof(label)), len += sizeof(label);
		in[len++] = 0;
		memcpy(in + len, ctx, sizeof(ctx)), len += sizeof(ctx);
		in[len++] = (uint8_t)(bits >> 24), in[len++] = (uint8_t)(bits >> 16);
		in[len++] = (uint8_t)(bits >> 8), in[len++] = (uint8_t)bits;
		assert_non_null(
		    HMAC(EVP_sha256(), ki, sizeof(ki), in, len, want + 32 * (blk - 1), &mlen));
	}
	assert_int_equal(smb_kdf_sp800_108(ki, sizeof(ki), label, sizeof(label), ctx, sizeof(ctx),
					   got, sizeof(got)),
			 0);
	assert_memory_equal(got, want, sizeof(got));

	/* L is part of the input: a 16-byte derivation is not a prefix of the 48-byte one. */
	uint8_t short16[16];
	assert_int_equal(smb_kdf_sp800_108(ki, sizeof(ki), label, sizeof(label), ctx, sizeof(ctx),
					   short16, sizeof(short16)),
			 0);
	assert_memory_not_equal(short16, got, 16);
}

/* AES-256 ciphers: 32-byte cipher keys with L = 256; the signing key does not change. */
static void test_smb311_aes256_keys(void **state)
{
	(void)state;
	uint8_t sk[16], pa[64], want[32];
	struct smb2_keys k128, k256;

	for (int i = 0; i < 16; i++)
		sk[i] = (uint8_t)(0x11 * i);
	for (int i = 0; i < 64; i++)
		pa[i] = (uint8_t)(255 - i);
	assert_int_equal(smb2_derive_keys(0x0311, sk, 16, pa, SMB2_CIPHER_AES128_GCM, &k128), 0);
	assert_int_equal(smb2_derive_keys(0x0311, sk, 16, pa, SMB2_CIPHER_AES256_GCM, &k256), 0);
	assert_int_equal(k256.cipher_key_len, 32);
	assert_memory_equal(k128.signing, k256.signing, 16);
	assert_memory_equal(k128.application, k256.application, 16);
	assert_int_equal(smb_kdf_sp800_108(sk, 16, "SMBC2SCipherKey", 16, pa, 64, want, 32), 0);
	assert_memory_equal(k256.encrypt, want, 32);
	assert_int_equal(smb_kdf_sp800_108(sk, 16, "SMBS2CCipherKey", 16, pa, 64, want, 32), 0);
	assert_memory_equal(k256.decrypt, want, 32);
	assert_memory_not_equal(k256.encrypt, k128.encrypt, 16);
}

static void test_smb2x_keys(void **state)
{
	(void)state;
	const uint8_t sk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	const uint8_t want[16] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct smb2_keys k;

	/* The signing key is the session key, right-padded to 16 bytes. */
	assert_int_equal(smb2_derive_keys(0x0210, sk, sizeof(sk), NULL, SMB2_CIPHER_NONE, &k), 0);
	assert_memory_equal(k.signing, want, 16);
	assert_int_equal(k.cipher_key_len, 0);
	assert_int_equal(smb2_derive_keys(0x0202, sk, sizeof(sk), NULL, SMB2_CIPHER_NONE, &k), 0);
	assert_memory_equal(k.signing, want, 16);
}

static void test_bad_args(void **state)
{
	(void)state;
	uint8_t sk[16] = {0}, out[16];
	struct smb2_keys k;

	assert_int_equal(smb2_derive_keys(0x0222, sk, 16, NULL, SMB2_CIPHER_NONE, &k), SMBG_EINVAL);
	assert_int_equal(smb2_derive_keys(0x0311, sk, 16, NULL, SMB2_CIPHER_NONE, &k), SMBG_EINVAL);
	assert_int_equal(smb_kdf_sp800_108(sk, 0, "a", 1, "b", 1, out, 16), SMBG_EINVAL);
	assert_int_equal(smb_kdf_sp800_108(sk, 16, "a", 1, "b", 1, out, 0), SMBG_EINVAL);
}

static void test_random(void **state)
{
	(void)state;
	uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};

	assert_int_equal(smb_random(a, sizeof(a)), 0);
	assert_int_equal(smb_random(b, sizeof(b)), 0);
	assert_memory_not_equal(a, zero, sizeof(a));
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(smb_random(a, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_smb30_keys),
	    cmocka_unit_test(test_smb311_preauth_and_keys),
	    cmocka_unit_test(test_smb311_encryption_keys),
	    cmocka_unit_test(test_sp800_108_direct),
	    cmocka_unit_test(test_smb311_aes256_keys),
	    cmocka_unit_test(test_smb2x_keys),
	    cmocka_unit_test(test_bad_args),
	    cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
