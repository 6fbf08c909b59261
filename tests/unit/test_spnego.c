/* SPNEGO: encoding compared byte for byte with the tokens a Windows client sent in Microsoft's
 * published SMB 3.1.1 example, parsing of the server's tokens from the same capture, a Samba
 * style NegTokenInit2 hint, and malformed input (truncation, lengths that overrun their
 * container, indefinite lengths, wrong tags). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hex.h"

#include "auth/spnego.h"
#include "smbgate/err.h"

static const char win_init[] = /* first SESSION_SETUP: NegTokenInit with NTLMSSP NEGOTIATE */
    "604806062b0601050502a03e303ca00e300c060a2b06010401823702020aa22a04284e544c4d5353"
    "500001000000978208e200000000000000000000000000000000060380250000000f";
static const char win_challenge[] = /* the server's NegTokenResp with the CHALLENGE */
    "a181b03081ada0030a0101a10c060a2b06010401823702020aa281970481944e544c4d5353500002"
    "0000000c000c003800000015828ae20d1d8ba31179d008000000000000000050005000440000000a"
    "0092270000000f53005500540033003100310002000c0053005500540033003100310001000c0053"
    "005500540033003100310004000c0053005500540033003100310003000c00530055005400330031"
    "00310007000800a1a1f5adcbaed00100000000";
static const char win_auth[] = /* NegTokenResp: AUTHENTICATE and mechListMIC */
    "a18201cb308201c7a0030a0101a28201aa048201a64e544c4d535350000300000018001800900000"
    "00ee00ee00a80000000c000c00580000001a001a0064000000120012007e00000010001000960100"
    "00158288e2060380250000000fecac77a5f385a8bf9c38c706eeeddcd35300550054003300310031"
    "00610064006d0069006e006900730074007200610074006f00720044005200490056004500520033"
    "003100310000000000000000000000000000000000000000000000000063078eb639fe03e20a231c"
    "3ae3bf23080101000000000000a1a1f5adcbaed001bc4ad05f223cc90f0000000002000c00530055"
    "00540033003100310001000c0053005500540033003100310004000c005300550054003300310031"
    "0003000c0053005500540033003100310007000800a1a1f5adcbaed0010600040002000000080030"
    "0030000000000000000000000000300000b61fefcaa857ea57bf1edcebf8974b8e0eba5a6dfd9d07"
    "a31d11b548f8c9d0cc0a001000000000000000000000000000000000000900160063006900660073"
    "002f005300550054003300310031000000000000000000000000003b9bdff38f5ee8f9663f11a0f4"
    "c03a78a31204100100000063775a9a5fd97f0600000000";
static const char win_final[] = /* accept-completed with the server's mechListMIC */
    "a11b3019a0030a0100a3120410010000003b453cdc3524164200000000";
static const char win_hint[] = /* NEGOTIATE response: NegTokenInit2, NEGOEX and NTLMSSP */
    "6082013c06062b0601050502a08201303082012ca01a3018060a2b06010401823702021e060a2b06"
    "010401823702020aa282010c048201084e45474f4558545301000000000000006000000070000000"
    "7c7cc0fd06d6362d02dde1cf343bfe292900f49750b4aa97934d9c4296b26e51fd370471b235e15a"
    "50dae15bd5489c870000000000000000600000000100000000000000000000005c33530deaf90d4d"
    "b2ec4ae3786ec3084e45474f45585453030000000100000040000000980000007c7cc0fd06d6362d"
    "02dde1cf343bfe295c33530deaf90d4db2ec4ae3786ec30840000000580000003056a05430523027"
    "802530233121301f06035504031318546f6b656e205369676e696e67205075626c6963204b657930"
    "27802530233121301f06035504031318546f6b656e205369676e696e67205075626c6963204b6579";
/* Samba's shape: mechTypes (MS-KRB5, KRB5, NTLMSSP) and negHints with hintName. */
static const char samba_hint[] =
    "606a06062b0601050502a060305ea030302e060a2b06010401823702021e06092a864882f7120102"
    "0206092a864886f712010202060a2b06010401823702020aa32a3028a0261b246e6f745f64656669"
    "6e65645f696e5f5246433431373840706c656173655f69676e6f7265";

/* Captured from Samba 4.17's smbd (no Kerberos configured): NTLMSSP only, negHints. */
static const char samba417_hint[] =
    "604806062b0601050502a03e303ca00e300c060a2b06010401823702020aa32a3028a0261b246e6f745f"
    "646566696e65645f696e5f5246433431373840706c656173655f69676e6f7265";

static void test_encode_matches_windows(void **state)
{
	(void)state;
	size_t n, tn;
	uint8_t *want = unhex(win_init, &n), *resp;
	struct wbuf out;
	struct spnego_resp r;

	/* The NTLMSSP NEGOTIATE inside is the last 40 bytes. */
	wbuf_init(&out);
	assert_int_equal(spnego_encode_init(&out, want + n - 40, 40), 0);
	assert_int_equal(out.len, n);
	assert_memory_equal(out.p, want, n);
	free(want);

	/* Re-encoding the parsed third token gives the same bytes. */
	resp = unhex(win_auth, &tn);
	assert_int_equal(spnego_parse_resp(resp, tn, &r), 0);
	assert_int_equal(r.neg_state, SPNEGO_ACCEPT_INCOMPLETE);
	assert_int_equal(r.response_token_len, 0x1a6);
	assert_int_equal(r.mech_list_mic_len, 16);
	wbuf_reset(&out);
	assert_int_equal(spnego_encode_resp(&out, r.neg_state, r.response_token,
					    r.response_token_len, r.mech_list_mic,
					    r.mech_list_mic_len),
			 0);
	assert_int_equal(out.len, tn);
	assert_memory_equal(out.p, resp, tn);
	free(resp);
	wbuf_free(&out);
}

static void test_parse_server_tokens(void **state)
{
	(void)state;
	size_t n;
	uint8_t *p = unhex(win_challenge, &n);
	struct spnego_resp r;

	assert_int_equal(spnego_parse_resp(p, n, &r), 0);
	assert_int_equal(r.neg_state, SPNEGO_ACCEPT_INCOMPLETE);
	assert_true(spnego_oid_is_ntlmssp(r.supported_mech, r.supported_mech_len));
	assert_int_equal(r.response_token_len, 0x94);
	assert_memory_equal(r.response_token, "NTLMSSP\0\2\0\0\0", 12);
	assert_null(r.mech_list_mic);
	free(p);

	p = unhex(win_final, &n);
	assert_int_equal(spnego_parse_resp(p, n, &r), 0);
	assert_int_equal(r.neg_state, SPNEGO_ACCEPT_COMPLETED);
	assert_null(r.response_token);
	assert_null(r.supported_mech);
	assert_hex(r.mech_list_mic, r.mech_list_mic_len, "010000003b453cdc3524164200000000");
	free(p);
}

static void test_parse_hints(void **state)
{
	(void)state;
	size_t n;
	uint8_t *p = unhex(win_hint, &n);
	struct spnego_init h;

	assert_int_equal(spnego_parse_init(p, n, &h), 0);
	assert_int_equal(h.mech_count, 2);
	assert_true(h.offers_ntlmssp);
	assert_int_equal(h.mech_token_len, 0x108);
	free(p);

	p = unhex(samba_hint, &n);
	assert_int_equal(spnego_parse_init(p, n, &h), 0);
	assert_int_equal(h.mech_count, 4);
	assert_true(h.offers_ntlmssp);
	assert_null(h.mech_token);
	free(p);

	p = unhex(samba417_hint, &n);
	assert_int_equal(spnego_parse_init(p, n, &h), 0);
	assert_int_equal(h.mech_count, 1);
	assert_true(h.offers_ntlmssp);
	assert_null(h.mech_token);
	free(p);

	/* Our own first token parses as an init token offering NTLMSSP only. */
	p = unhex(win_init, &n);
	assert_int_equal(spnego_parse_init(p, n, &h), 0);
	assert_int_equal(h.mech_count, 1);
	assert_true(h.offers_ntlmssp);
	assert_int_equal(h.mech_token_len, 40);
	free(p);
}

/* Every proper prefix of every token is rejected. */
static void test_truncated(void **state)
{
	(void)state;
	const char *resps[] = {win_challenge, win_auth, win_final};
	const char *inits[] = {win_hint, samba_hint, win_init, samba417_hint};
	struct spnego_resp r;
	struct spnego_init h;
	size_t n;

	for (size_t i = 0; i < sizeof(resps) / sizeof(resps[0]); i++) {
		uint8_t *p = unhex(resps[i], &n);
		for (size_t k = 0; k < n; k++) {
			uint8_t *cut = malloc(k ? k : 1);
			memcpy(cut, p, k);
			assert_int_equal(spnego_parse_resp(cut, k, &r), SMBG_EPROTO);
			free(cut);
		}
		free(p);
	}
	for (size_t i = 0; i < sizeof(inits) / sizeof(inits[0]); i++) {
		uint8_t *p = unhex(inits[i], &n);
		for (size_t k = 0; k < n; k++) {
			uint8_t *cut = malloc(k ? k : 1);
			memcpy(cut, p, k);
			assert_int_equal(spnego_parse_init(cut, k, &h), SMBG_EPROTO);
			free(cut);
		}
		free(p);
	}
	assert_int_equal(spnego_parse_resp(NULL, 0, &r), SMBG_EPROTO);
}

/* An init token whose mechTypes list holds n one-byte OIDs (two-byte DER lengths). */
static int parse_n_mechs(size_t n, struct spnego_init *h)
{
	struct wbuf w;
	size_t l30 = n * 3, la0 = l30 + 4, lseq = la0 + 4, lctx = lseq + 4, lapp = lctx + 4 + 8;
	const uint8_t hdr[] = {0x60,
			       0x82,
			       (uint8_t)(lapp >> 8),
			       (uint8_t)lapp,
			       0x06,
			       0x06,
			       0x2b,
			       0x06,
			       0x01,
			       0x05,
			       0x05,
			       0x02,
			       0xa0,
			       0x82,
			       (uint8_t)(lctx >> 8),
			       (uint8_t)lctx,
			       0x30,
			       0x82,
			       (uint8_t)(lseq >> 8),
			       (uint8_t)lseq,
			       0xa0,
			       0x82,
			       (uint8_t)(la0 >> 8),
			       (uint8_t)la0,
			       0x30,
			       0x82,
			       (uint8_t)(l30 >> 8),
			       (uint8_t)l30};
	int rc;

	wbuf_init(&w);
	wbuf_put_bytes(&w, hdr, sizeof(hdr));
	for (size_t i = 0; i < n; i++)
		wbuf_put_bytes(&w, "\x06\x01\x2a", 3);
	assert_int_equal(wbuf_error(&w), 0);
	rc = spnego_parse_init(w.p, w.len, h);
	wbuf_free(&w);
	return rc;
}

static void test_malformed(void **state)
{
	(void)state;
	static const struct {
		const char *hex;
		const char *why;
	} bad[] = {
	    {"a1053003a00100", "negState without its ENUMERATED"},
	    {"a1083006a0040a020001", "negState of two bytes"},
	    {"a1073005a0030a0104", "negState 4 is not defined"},
	    {"a1083005a0030a0101ff", "trailing byte inside [1]"},
	    {"a1093007a2050404414243", "inner OCTET STRING longer than its [2]"},
	    {"a10c300aa2080405414243444500", "junk after the OCTET STRING inside [2]"},
	    {"a1083006a2040402", "OCTET STRING overruns"},
	    {"a1803004a0030a0100", "indefinite length"},
	    {"a185000000000530", "five length bytes"},
	    {"a184ffffffff3000", "length far beyond the buffer"},
	    {"a10c300aa2030401aaa0030a0100", "elements out of order"},
	    {"a10c300aa0030a0100a0030a0100", "element repeated"},
	    {"a1053003800100", "not a context tag"},
	    {"a1053003bf0100", "high tag number form"},
	    {"a0053003a00100", "[0] is not a NegTokenResp"},
	    {"a1043002a000", "[0] empty"},
	    {"a1023100", "SET where SEQUENCE belongs"},
	};
	struct spnego_resp r;
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t *p = unhex(bad[i].hex, &n);
		if (spnego_parse_resp(p, n, &r) != SMBG_EPROTO)
			fail_msg("accepted: %s", bad[i].why);
		free(p);
	}
	/* Init tokens: a wrong outer OID, a mechType that is not an OID, junk inside [2]. */
	static const char *const bad_init[] = {
	    "601306062b0601050503a0093007a005300306012a",
	    "601306062b0601050502a0093007a005300304012a",
	    "601a06062b0601050502a010300ea005300306012aa2050402616200",
	};
	struct spnego_init h;
	for (size_t i = 0; i < sizeof(bad_init) / sizeof(bad_init[0]); i++) {
		uint8_t *p = unhex(bad_init[i], &n);
		assert_int_equal(spnego_parse_init(p, n, &h), SMBG_EPROTO);
		free(p);
	}
	/* 64 mechTypes are accepted, 65 are over the cap. */
	assert_int_equal(parse_n_mechs(64, &h), 0);
	assert_int_equal(h.mech_count, 64);
	assert_int_equal(parse_n_mechs(65, &h), SMBG_EPROTO);
}

/* Unknown later elements are skipped; trailing bytes after the token are tolerated. */
static void test_lenient_where_harmless(void **state)
{
	(void)state;
	size_t n;
	uint8_t *p = unhex("a10e300ca0030a0100a5050403010203"
			   "0000",
			   &n);
	struct spnego_resp r;

	assert_int_equal(spnego_parse_resp(p, n, &r), 0);
	assert_int_equal(r.neg_state, SPNEGO_ACCEPT_COMPLETED);
	free(p);
}

/* Long tokens need two- and three-byte lengths; what we write, we read. */
static void test_round_trip_lengths(void **state)
{
	(void)state;
	static const size_t sizes[] = {0, 1, 100, 127, 128, 255, 256, 65535, 65536, 70000};
	struct wbuf out;

	wbuf_init(&out);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i];
		uint8_t *tok = malloc(len + 1), mic[16];
		struct spnego_resp r;
		struct spnego_init h;
		for (size_t k = 0; k < len; k++)
			tok[k] = (uint8_t)(k * 7);
		memset(mic, 0x5a, sizeof(mic));
		wbuf_reset(&out);
		assert_int_equal(
		    spnego_encode_resp(&out, SPNEGO_ACCEPT_INCOMPLETE, tok, len, mic, 16), 0);
		assert_int_equal(spnego_parse_resp(out.p, out.len, &r), 0);
		assert_int_equal(r.response_token_len, len);
		assert_memory_equal(r.response_token, tok, len);
		assert_memory_equal(r.mech_list_mic, mic, 16);
		wbuf_reset(&out);
		assert_int_equal(spnego_encode_init(&out, tok, len), 0);
		assert_int_equal(spnego_parse_init(out.p, out.len, &h), 0);
		assert_int_equal(h.mech_token_len, len);
		assert_memory_equal(h.mech_token, tok, len);
		free(tok);
	}
	/* Absent parts stay absent. */
	wbuf_reset(&out);
	assert_int_equal(spnego_encode_resp(&out, SPNEGO_ABSENT, NULL, 0, NULL, 0), 0);
	assert_hex(out.p, out.len, "a1023000");
	wbuf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode_matches_windows),
	    cmocka_unit_test(test_parse_server_tokens),
	    cmocka_unit_test(test_parse_hints),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_lenient_where_harmless),
	    cmocka_unit_test(test_round_trip_lengths),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
