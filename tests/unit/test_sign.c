/* SMB2 signing: AES-CMAC against RFC 4493 and against the signed SESSION_SETUP messages of
 * Microsoft's published SMB 3.1.1 key derivation example; HMAC-SHA256 and AES-GMAC against values
 * computed independently (Python's hmac module and the `cryptography` package's AESGCM). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hex.h"

#include "crypto/sign.h"
#include "smbgate/err.h"

/* Signs msg with its signature field zeroed, split into iovecs at every offset in splits[]. */
static void sign_split(enum smb2_sign_alg alg, const uint8_t key[16], const uint8_t *msg,
		       size_t len, uint8_t sig[16])
{
	uint8_t *copy = malloc(len ? len : 1);
	uint8_t again[16];

	assert_non_null(copy);
	memcpy(copy, msg, len);
	if (len >= 64)
		memset(copy + 48, 0, 16);
	assert_int_equal(smb2_sign(alg, key, &(struct iovec){copy, len}, 1, sig), 0);
	/* The same bytes cut into pieces give the same signature. */
	for (size_t cut = 0; cut <= len; cut += (len / 7) + 1) {
		struct iovec iov[3] = {{copy, cut}, {copy + cut, 0}, {copy + cut, len - cut}};
		assert_int_equal(smb2_sign(alg, key, iov, 3, again), 0);
		assert_memory_equal(sig, again, 16);
	}
	free(copy);
}

static void test_cmac_rfc4493(void **state)
{
	(void)state;
	static const char *const msgs[] = {
	    "",
	    "6bc1bee22e409f96e93d7e117393172a",
	    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411",
	    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
	    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
	};
	static const char *const macs[] = {
	    "bb1d6929e95937287fa37d129b756746",
	    "070a16b46b4d4144f79bdd9dd04a287c",
	    "dfa66747de9ae63030ca32611497c827",
	    "51f0bebf7e3b9d92fc49741779363cfe",
	};
	size_t kn, n;
	uint8_t *key = unhex("2b7e151628aed2a6abf7158809cf4f3c", &kn);
	uint8_t sig[16];

	for (int i = 0; i < 4; i++) {
		uint8_t *m = unhex(msgs[i], &n);
		/* Below 64 bytes there is no SMB2 header to zero: plain CMAC. */
		assert_int_equal(smb2_sign(SMB2_SIGN_AES_CMAC, key, &(struct iovec){m, n}, 1, sig),
				 0);
		assert_hex(sig, 16, macs[i]);
		if (n >= 2) {
			struct iovec iov[2] = {{m, n / 2}, {m + n / 2, n - n / 2}};
			assert_int_equal(smb2_sign(SMB2_SIGN_AES_CMAC, key, iov, 2, sig), 0);
			assert_hex(sig, 16, macs[i]);
		}
		free(m);
	}
	free(key);
}

/* Signed SESSION_SETUP messages from the SMB 3.1.1 multichannel example: the final response
 * of the first session (Session.SigningKey), the binding request of the second channel (signed
 * with the first session's key) and the second channel's final response (its own key). */
static void test_cmac_ms_smb311_example(void **state)
{
	(void)state;
	static const struct {
		const char *key, *msg, *sig;
	} cases[] = {
	    {"73FE7A9A77BEF0BDE49C650D8CCB5F76",
	     "FE534D4240000100000000000100800009000000000000000300000000000000FFFE000000000000"
	     "1900000000100000EBE146DA120BA25FC3376A49DFE31BC10900000048001D00A11B3019A0030A01"
	     "00A3120410010000003B453CDC3524164200000000",
	     "EBE146DA120BA25FC3376A49DFE31BC1"},
	    {"73FE7A9A77BEF0BDE49C650D8CCB5F76",
	     "FE534D4240000100000000000100800008000000000000000200000000000000FFFE000000000000"
	     "190000000010000068BD0C58F613CE1334B1EB51C68D39EA19000101010000000000000058004A00"
	     "0000000000000000604806062B0601050502A03E303CA00E300C060A2B06010401823702020AA22A"
	     "04284E544C4D5353500001000000978208E200000000000000000000000000000000060380250000"
	     "000F",
	     "68BD0C58F613CE1334B1EB51C68D39EA"},
	    {"C962BCA1A9DD1697B030644199705431",
	     "FE534D4240000100000000000100800009000000000000000300000000000000FFFE000000000000"
	     "19000000001000008D604217FFBACF40635BF9D8729921500900000048001D00A11B3019A0030A01"
	     "00A312041001000000CFB046FC5D368E2200000000",
	     "8D604217FFBACF40635BF9D872992150"},
	};
	uint8_t sig[16];
	size_t n, kn;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *key = unhex(cases[i].key, &kn);
		uint8_t *m = unhex(cases[i].msg, &n);
		sign_split(SMB2_SIGN_AES_CMAC, key, m, n, sig);
		assert_hex(sig, 16, cases[i].sig);
		/* One flipped bit anywhere changes it. */
		m[n - 1] ^= 1;
		sign_split(SMB2_SIGN_AES_CMAC, key, m, n, sig);
		assert_memory_not_equal(sig, m + 48, 16);
		free(key);
		free(m);
	}
}

/* A TREE_CONNECT request; its signature field is zero already. */
static const char tree_connect[] =
    "fe534d4240000100000000000300010000000000000000000500000000000000fffe0000010000001900"
    "0000001000000000000000000000000000000000000009000000480022005c005c003100320037002e00"
    "30002e0030002e0031005c0073006800610072006500";
static const char sign_key[] = "73FE7A9A77BEF0BDE49C650D8CCB5F76";

static void test_hmac_sha256(void **state)
{
	(void)state;
	size_t n, kn;
	uint8_t *m = unhex(tree_connect, &n), *key = unhex(sign_key, &kn), sig[16];

	sign_split(SMB2_SIGN_HMAC_SHA256, key, m, n, sig);
	assert_hex(sig, 16, "f116e5e85d0083fb69b220ad43dc6973");
	free(m);
	free(key);
}

static void test_gmac(void **state)
{
	(void)state;
	size_t n, kn;
	uint8_t *m = unhex(tree_connect, &n), *key = unhex(sign_key, &kn), sig[16];

	/* Client request: nonce = MessageId 5, then 0. */
	sign_split(SMB2_SIGN_AES_GMAC, key, m, n, sig);
	assert_hex(sig, 16, "7798c7b5c686d3d5a7cd369d4985a84c");
	/* The same bytes sent by the server (Flags bit 0): nonce bit 0 set. */
	m[16] |= 0x01;
	sign_split(SMB2_SIGN_AES_GMAC, key, m, n, sig);
	assert_hex(sig, 16, "c750b3bc56cccd9a051d22cccee9b533");
	/* A CANCEL request: nonce bit 1 set. */
	m[16] &= (uint8_t)~0x01;
	m[12] = 0x0c;
	m[13] = 0x00;
	sign_split(SMB2_SIGN_AES_GMAC, key, m, n, sig);
	assert_hex(sig, 16, "a8e143c633f5217bd6942b92d06495aa");
	/* GMAC needs the header for its nonce. */
	assert_int_equal(smb2_sign(SMB2_SIGN_AES_GMAC, key, &(struct iovec){m, 63}, 1, sig),
			 SMBG_EINVAL);
	free(m);
	free(key);
}

static void test_bad_alg(void **state)
{
	(void)state;
	uint8_t key[16] = {0}, msg[64] = {0}, sig[16];

	assert_int_equal(smb2_sign((enum smb2_sign_alg)7, key, &(struct iovec){msg, 64}, 1, sig),
			 SMBG_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cmac_rfc4493), cmocka_unit_test(test_cmac_ms_smb311_example),
	    cmocka_unit_test(test_hmac_sha256),	 cmocka_unit_test(test_gmac),
	    cmocka_unit_test(test_bad_alg),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
