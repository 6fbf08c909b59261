/* NTLMSSP against MS-NLMP's worked examples (4.2.2 NTLMv1, 4.2.3 NTLMv1 with extended session
 * security, 4.2.4 NTLMv2, byte for byte where the example is a whole message) and against a
 * real Windows exchange published by Microsoft (the SMB 3.1.1 key derivation example: NTLMv2
 * with a server timestamp, MIC, key exchange and SPNEGO mechListMIC in both directions); plus
 * anonymous logon and malformed challenges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hex.h"

#include "auth/auth.h"
#include "auth/ntlmssp.h"
#include "auth/spnego.h"
#include "crypto/legacy.h"
#include "smbgate/err.h"
#include "util/cursor.h"

static uint8_t *unhex16(const char *hex)
{
	size_t n;
	uint8_t *p = unhex(hex, &n);
	assert_int_equal(n, 16);
	return p;
}

/* "Plaintext" in UTF-16LE, the message of MS-NLMP's signing examples. */
static const uint8_t plaintext16[18] = {'P', 0,	  'l', 0,   'a', 0,   'i', 0,	'n',
					0,   't', 0,   'e', 0,	 'x', 0,   't', 0};
static const uint8_t server_challenge[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};
static const uint8_t cc_aa[8] = {0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa};
static const uint8_t key_55[16] = {0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
				   0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55};
static const uint8_t version_xp[8] = {0x05, 0x01, 0x28, 0x0a, 0, 0, 0, 0x0f};
static const uint64_t time_zero = 0;

/* MS-NLMP 4.2.2.3, 4.2.3.3 and 4.2.4.3 CHALLENGE_MESSAGEs. */
static const char chal_v1[] = "4e544c4d53535000020000000c000c0038000000338202e20123456789abcdef"
			      "00000000000000000000000000000000060070170000000f5300650072007600"
			      "65007200";
static const char chal_v1_ess[] = "4e544c4d53535000020000000c000c003800000033820a820123456789abcdef"
				  "00000000000000000000000000000000060070170000000f5300650072007600"
				  "65007200";
static const char chal_v2[] =
    "4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef00000000000000002400"
    "240044000000060070170000000f53006500720076006500720002000c0044006f006d00610069006e00"
    "01000c0053006500720076006500720000000000";
/* MS-NLMP 4.2.4.3 AUTHENTICATE_MESSAGE. */
static const char auth_v2[] =
    "4e544c4d5353500003000000180018006c00000054005400840000000c000c00480000000800080054"
    "000000100010005c00000010001000d8000000358288e20501280a0000000f44006f006d0061006900"
    "6e00550073006500720043004f004d005000550054004500520086c35097ac9cec102554764a57cccc"
    "19aaaaaaaaaaaaaaaa68cd0ab851e51c96aabc927bebef6a1c0101000000000000000000000000000"
    "0aaaaaaaaaaaaaaaa0000000002000c0044006f006d00610069006e0001000c005300650072007600"
    "650072000000000000000000c5dad2544fc9799094ce1ce90bc9d03e";

/* The Windows exchange (SUT311\administrator, password "Password01!"). */
static const char blog_neg[] =
    "4e544c4d5353500001000000978208e200000000000000000000000000000000060380250000000f";
static const char blog_chal[] =
    "4e544c4d53535000020000000c000c003800000015828ae20d1d8ba31179d0080000000000000000"
    "50005000440000000a0092270000000f53005500540033003100310002000c005300550054003300"
    "3100310001000c0053005500540033003100310004000c0053005500540033003100310003000c00"
    "53005500540033003100310007000800a1a1f5adcbaed00100000000";
static const char blog_auth[] =
    "4e544c4d53535000030000001800180090000000ee00ee00a80000000c000c00580000001a001a00"
    "64000000120012007e0000001000100096010000158288e2060380250000000fecac77a5f385a8bf"
    "9c38c706eeeddcd3530055005400330031003100610064006d0069006e0069007300740072006100"
    "74006f00720044005200490056004500520033003100310000000000000000000000000000000000"
    "000000000000000063078eb639fe03e20a231c3ae3bf23080101000000000000a1a1f5adcbaed001"
    "bc4ad05f223cc90f0000000002000c0053005500540033003100310001000c005300550054003300"
    "3100310004000c0053005500540033003100310003000c0053005500540033003100310007000800"
    "a1a1f5adcbaed00106000400020000000800300030000000000000000000000000300000b61fefca"
    "a857ea57bf1edcebf8974b8e0eba5a6dfd9d07a31d11b548f8c9d0cc0a0010000000000000000000"
    "00000000000000000900160063006900660073002f00530055005400330031003100000000000000"
    "0000000000003b9bdff38f5ee8f9663f11a0f4c03a78";
static const char blog_spnego_challenge[] =
    "a181b03081ada0030a0101a10c060a2b06010401823702020aa281970481944e544c4d5353500002"
    "0000000c000c003800000015828ae20d1d8ba31179d008000000000000000050005000440000000a"
    "0092270000000f53005500540033003100310002000c0053005500540033003100310001000c0053"
    "005500540033003100310004000c0053005500540033003100310003000c00530055005400330031"
    "00310007000800a1a1f5adcbaed00100000000";
static const char blog_spnego_final[] =
    "a11b3019a0030a0100a3120410010000003b453cdc3524164200000000";

/* Captured from Samba 4.17's smbd (standalone server SMBGRIG). */
static const char samba417_chal[] =
    "4e544c4d53535000020000000e000e003800000035828ae2cf9015d1a5a0dac10000000000000000"
    "4000400046000000060100000000000f53004d004200470052004900470002000e0053004d004200"
    "470052004900470001000e0053004d0042004700520049004700040000000300040076006d000700"
    "080080c2e4fe4479dd0100000000";

/* Reads one AUTHENTICATE payload field (Len, MaxLen, Offset at hdr_off). */
static const uint8_t *auth_field(const uint8_t *msg, size_t len, size_t hdr_off, size_t *flen)
{
	struct cursor c;
	uint16_t l = 0, m = 0;
	uint32_t off = 0;

	cursor_init(&c, msg, len);
	assert_int_equal(cursor_seek(&c, hdr_off), 0);
	assert_int_equal(cursor_get_le16(&c, &l), 0);
	assert_int_equal(cursor_get_le16(&c, &m), 0);
	assert_int_equal(cursor_get_le32(&c, &off), 0);
	assert_int_equal(l, m);
	assert_true(off <= len && l <= len - off);
	*flen = l;
	return msg + off;
}
#define F_LM   12
#define F_NT   20
#define F_DOM  28
#define F_USER 36
#define F_WS   44
#define F_KEY  52

static struct ntlmssp_client *client_424(int allow_v1)
{
	struct ntlmssp_client *c =
	    ntlmssp_client_new("User", "Domain", "Password", "COMPUTER", allow_v1);
	struct ntlmssp_fixed f = {.client_challenge = cc_aa,
				  .random_session_key = key_55,
				  .time = &time_zero,
				  .version = version_xp};
	assert_non_null(c);
	ntlmssp_client_set_fixed(c, &f);
	return c;
}

/* Runs NEGOTIATE then AUTHENTICATE against a hex challenge. */
static int run_client(struct ntlmssp_client *c, const uint8_t *chal, size_t chal_len,
		      struct wbuf *auth)
{
	struct wbuf neg;
	int rc;

	wbuf_init(&neg);
	assert_int_equal(ntlmssp_client_negotiate(c, &neg), 0);
	assert_int_equal(neg.len, 40);
	assert_memory_equal(neg.p, "NTLMSSP\0\1\0\0\0", 12);
	wbuf_free(&neg);
	wbuf_init(auth);
	rc = ntlmssp_client_authenticate(c, chal, chal_len, auth);
	return rc;
}

/* --- MS-NLMP 4.2.2: NTLMv1 ------------------------------------------------------------------ */
static void test_v1_primitives(void **state)
{
	(void)state;
	uint8_t nt[16], lm[16], r[24], sbk[16], enc[16];

	assert_int_equal(ntlm_nt_hash("Password", nt), 0);
	assert_hex(nt, 16, "a4f49c406510bdcab6824ee7c30fd852");
	assert_int_equal(ntlm_lm_hash("Password", lm), 0);
	assert_hex(lm, 16, "e52cac67419a9a224a3b108f3fa6cb6d");
	assert_int_equal(ntlm_desl(nt, server_challenge, r), 0);
	assert_hex(r, 24, "67c43011f30298a2ad35ece64f16331c44bdbed927841f94");
	assert_int_equal(ntlm_desl(lm, server_challenge, r), 0);
	assert_hex(r, 24, "98def7b87f88aa5dafe2df779688a172def11c7d5ccdef13");
	assert_int_equal(smb_md4(nt, 16, sbk), 0);
	assert_hex(sbk, 16, "d87262b0cde4b1cb7499becccdf10784");
	assert_int_equal(smb_rc4(sbk, 16, key_55, enc, 16), 0);
	assert_hex(enc, 16, "518822b1b3f350c8958682ecbb3e3cb7");
	/* No LM hash for a password with no OEM form. */
	assert_int_equal(ntlm_lm_hash("Pass\xc3\xa9", lm), SMBG_EINVAL);
}

static void test_v1_client(void **state)
{
	(void)state;
	size_t cn, n;
	uint8_t *chal = unhex(chal_v1, &cn), key[16];
	struct ntlmssp_client *c = client_424(1);
	struct wbuf auth;
	const uint8_t *f;

	assert_int_equal(run_client(c, chal, cn, &auth), 0);
	f = auth_field(auth.p, auth.len, F_LM, &n);
	assert_hex(f, n, "98def7b87f88aa5dafe2df779688a172def11c7d5ccdef13");
	f = auth_field(auth.p, auth.len, F_NT, &n);
	assert_hex(f, n, "67c43011f30298a2ad35ece64f16331c44bdbed927841f94");
	f = auth_field(auth.p, auth.len, F_KEY, &n);
	assert_hex(f, n, "518822b1b3f350c8958682ecbb3e3cb7");
	assert_int_equal(ntlmssp_client_session_key(c, key), 0);
	assert_memory_equal(key, key_55, 16);
	assert_false(ntlmssp_client_sent_mic(c));
	wbuf_free(&auth);
	ntlmssp_client_free(c);

	/* Not allowed: the same challenge gets NTLMv2 (no target info, an empty AV list). */
	c = client_424(0);
	assert_int_equal(run_client(c, chal, cn, &auth), 0);
	f = auth_field(auth.p, auth.len, F_NT, &n);
	assert_int_equal(n, 16 + 28 + 4 + 4);
	wbuf_free(&auth);
	ntlmssp_client_free(c);
	free(chal);
}

/* --- MS-NLMP 4.2.3: NTLMv1 with extended session security ------------------------------------ */
static void test_v1_ess_client(void **state)
{
	(void)state;
	size_t cn, n;
	uint8_t *chal = unhex(chal_v1_ess, &cn), key[16], sig[16];
	struct ntlmssp_client *c = client_424(1);
	struct wbuf auth;
	const uint8_t *f;

	assert_int_equal(run_client(c, chal, cn, &auth), 0);
	f = auth_field(auth.p, auth.len, F_LM, &n);
	assert_hex(f, n, "aaaaaaaaaaaaaaaa00000000000000000000000000000000");
	f = auth_field(auth.p, auth.len, F_NT, &n);
	assert_hex(f, n, "7537f803ae367128ca458204bde7caf81e97ed2683267232");
	/* No KEY_EXCH offered: the session key is the KeyExchangeKey. */
	f = auth_field(auth.p, auth.len, F_KEY, &n);
	assert_int_equal(n, 0);
	assert_int_equal(ntlmssp_client_session_key(c, key), 0);
	assert_hex(key, 16, "eb93429a8bd952f8b89c55b87f475edc");
	/* 4.2.3.4: the signature (56-bit sealing key, no RC4 over the checksum). */
	assert_int_equal(ntlmssp_client_sign(c, plaintext16, sizeof(plaintext16), sig), 0);
	assert_hex(sig, 16, "01000000ff2aeb52f681793a00000000");
	wbuf_free(&auth);
	ntlmssp_client_free(c);
	free(chal);

	uint8_t sk[16], seal[16];
	uint8_t *kx = unhex16("eb93429a8bd952f8b89c55b87f475edc");
	assert_int_equal(ntlm_sign_key(kx, 1, sk), 0);
	assert_hex(sk, 16, "60e799be5c72fc92922ae8ebe961fb8d");
	assert_int_equal(ntlm_seal_key(kx, 0x820a8233, 1, seal), 0);
	assert_hex(seal, 16, "04dd7f014d8504d265a25cc86a3a7c06");
	free(kx);
}

/* --- MS-NLMP 4.2.4: NTLMv2 -------------------------------------------------------------------- */
static void test_v2_primitives(void **state)
{
	(void)state;
	uint8_t nt[16], rk[16], lmv2[24], proof[16], sbk[16], enc[16], k[16];
	size_t tn;
	uint8_t *temp = unhex("0101000000000000000000000000000"
			      "0aaaaaaaaaaaaaaaa00000000"
			      "02000c0044006f006d00610069006e0001000c00530065007200760065007200"
			      "00000000"
			      "00000000",
			      &tn);

	assert_int_equal(ntlm_nt_hash("Password", nt), 0);
	assert_int_equal(ntlm_ntowfv2(nt, "User", "Domain", rk), 0);
	assert_hex(rk, 16, "0c868a403bfd7a93a3001ef22ef02e3f");
	/* The user name is uppercased, the domain is not. */
	assert_int_equal(ntlm_ntowfv2(nt, "uSeR", "Domain", k), 0);
	assert_memory_equal(k, rk, 16);
	assert_int_equal(ntlm_ntowfv2(nt, "User", "DOMAIN", k), 0);
	assert_memory_not_equal(k, rk, 16);
	assert_int_equal(ntlm_lmv2_response(rk, server_challenge, cc_aa, lmv2), 0);
	assert_hex(lmv2, 24, "86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa");
	assert_int_equal(ntlm_v2_proof(rk, server_challenge, temp, tn, proof, sbk), 0);
	assert_hex(proof, 16, "68cd0ab851e51c96aabc927bebef6a1c");
	assert_hex(sbk, 16, "8de40ccadbc14a82f15cb0ad0de95ca3");
	assert_int_equal(smb_rc4(sbk, 16, key_55, enc, 16), 0);
	assert_hex(enc, 16, "c5dad2544fc9799094ce1ce90bc9d03e");
	assert_int_equal(ntlm_sign_key(key_55, 1, k), 0);
	assert_hex(k, 16, "4788dc861b4782f35d43fd98fe1a2d39");
	assert_int_equal(ntlm_seal_key(key_55, 0xe28a8233, 1, k), 0);
	assert_hex(k, 16, "59f600973cc4960a25480a7c196e4c58");
	free(temp);
}

/* The whole AUTHENTICATE_MESSAGE of 4.2.4.3, byte for byte. */
static void test_v2_authenticate_exact(void **state)
{
	(void)state;
	size_t cn;
	uint8_t *chal = unhex(chal_v2, &cn), key[16];
	struct ntlmssp_client *c = client_424(0);
	struct wbuf auth;

	assert_int_equal(run_client(c, chal, cn, &auth), 0);
	assert_hex(auth.p, auth.len, auth_v2);
	assert_int_equal(ntlmssp_client_session_key(c, key), 0);
	assert_memory_equal(key, key_55, 16);
	assert_false(ntlmssp_client_sent_mic(c)); /* no timestamp, no MIC */
	wbuf_free(&auth);
	ntlmssp_client_free(c);
	free(chal);
}

/* --- The Windows exchange ------------------------------------------------------------------- */
static void test_windows_example_primitives(void **state)
{
	(void)state;
	size_t nn, cn, an;
	uint8_t *neg = unhex(blog_neg, &nn), *chal = unhex(blog_chal, &cn),
		*auth = unhex(blog_auth, &an);
	uint8_t nt[16], rk[16], proof[16], sbk[16], exported[16], mic[16], k[16];
	const uint8_t *ntr, *enc;
	size_t ntr_len, enc_len;
	struct ntlmssp_challenge ch;

	assert_int_equal(ntlmssp_challenge_parse(chal, cn, &ch), 0);
	assert_true(ch.has_timestamp);
	assert_hex(ch.server_challenge, 8, "0d1d8ba31179d008");
	assert_int_equal(ntlm_nt_hash("Password01!", nt), 0);
	assert_hex(nt, 16, "7c4fe5eada682714a036e39378362bab");
	assert_int_equal(ntlm_ntowfv2(nt, "administrator", "SUT311", rk), 0);
	assert_hex(rk, 16, "aee3959b44a815f1eb28c9511b4f533b");
	ntr = auth_field(auth, an, F_NT, &ntr_len);
	assert_int_equal(ntlm_v2_proof(rk, ch.server_challenge, ntr + 16, ntr_len - 16, proof, sbk),
			 0);
	assert_memory_equal(proof, ntr, 16);
	assert_hex(sbk, 16, "b4cf22566926b1c069acd80e4d73c814");
	enc = auth_field(auth, an, F_KEY, &enc_len);
	assert_int_equal(smb_rc4(sbk, 16, enc, exported, 16), 0);
	assert_hex(exported, 16, "270e1ba896585eeb7af3472d3b4c75a7");
	/* The MIC at offset 72 covers all three messages with itself zeroed. */
	memset(auth + 72, 0, 16);
	assert_int_equal(ntlm_mic(exported, neg, nn, chal, cn, auth, an, mic), 0);
	assert_hex(mic, 16, "ecac77a5f385a8bf9c38c706eeeddcd3");
	assert_int_equal(ntlm_sign_key(exported, 0, k), 0);
	assert_hex(k, 16, "e1bd8b416b0b709d295e12f2cf18e6c5");
	assert_int_equal(ntlm_sign_key(exported, 1, k), 0);
	assert_hex(k, 16, "d43f36c44bce0630250a09ea0c2e8c2c");
	assert_int_equal(ntlm_seal_key(exported, 0xe2888215, 0, k), 0);
	assert_hex(k, 16, "b0f5a0b32c81ff34a878e1409b3b0ef2");
	assert_int_equal(ntlm_seal_key(exported, 0xe2888215, 1, k), 0);
	assert_hex(k, 16, "31e5557d99be13f1b2665c7c7c52ce70");
	free(neg);
	free(chal);
	free(auth);
}

/* smb_auth end to end on the Windows capture: with the exported session key and client
 * challenge fixed to the capture's, our mechListMIC must be the one Windows sent, and the
 * server's final token (accept-completed + its mechListMIC) must verify. */
static void test_windows_example_spnego_flow(void **state)
{
	(void)state;
	struct smb_auth_creds creds = {
	    .user = "administrator", .password = "Password01!", .workstation = "DRIVER311"};
	size_t n, fn, ccn, cn, fl;
	uint8_t *srv = unhex(blog_spnego_challenge, &n), *fin = unhex(blog_spnego_final, &fn);
	uint8_t *cc = unhex("bc4ad05f223cc90f", &ccn), *chal = unhex(blog_chal, &cn);
	uint8_t *xk = unhex16("270e1ba896585eeb7af3472d3b4c75a7");
	uint8_t key[16], mic[16], nh[16], rk[16], proof[16], sbk[16], exported[16];
	struct ntlmssp_fixed fx = {.client_challenge = cc, .random_session_key = xk};
	struct smb_auth *a = smb_auth_new(&creds, 1);
	struct wbuf first, out;
	struct spnego_resp r;
	struct spnego_init h;
	const uint8_t *f;

	assert_non_null(a);
	smb_auth_set_fixed(a, &fx);
	wbuf_init(&first);
	wbuf_init(&out);
	assert_int_equal(smb_auth_step(a, NULL, 0, &first), 0);
	assert_int_equal(spnego_parse_init(first.p, first.len, &h), 0);
	assert_true(h.offers_ntlmssp);
	assert_int_equal(h.mech_token_len, 40);
	assert_int_equal(smb_auth_finish(a, fin, fn), SMBG_EINVAL); /* too early */

	assert_int_equal(smb_auth_step(a, srv, n, &out), 1);
	assert_int_equal(spnego_parse_resp(out.p, out.len, &r), 0);
	assert_int_equal(r.neg_state, SPNEGO_ACCEPT_INCOMPLETE);
	assert_non_null(r.mech_list_mic);
	assert_hex(r.mech_list_mic, r.mech_list_mic_len, "0100000063775a9a5fd97f0600000000");

	/* The AUTHENTICATE inside: domain from the challenge's target name, LM zeroed because
	 * the server sent a timestamp, payload after the MIC field. */
	const uint8_t *auth = r.response_token;
	size_t alen = r.response_token_len;
	assert_memory_equal(auth, "NTLMSSP\0\3\0\0\0", 12);
	f = auth_field(auth, alen, F_DOM, &fl);
	assert_int_equal(f - auth, 88);
	assert_int_equal(fl, 12);
	assert_memory_equal(f,
			    "S\0U\0T\0"
			    "3\0"
			    "1\0"
			    "1\0",
			    12);
	f = auth_field(auth, alen, F_USER, &fl);
	assert_int_equal(fl, 26);
	f = auth_field(auth, alen, F_LM, &fl);
	assert_int_equal(fl, 24);
	for (size_t i = 0; i < 24; i++)
		assert_int_equal(f[i], 0);
	/* The NT response proves the password: recompute it from the known hash. */
	const uint8_t *ntr = auth_field(auth, alen, F_NT, &fl);
	assert_int_equal(ntlm_nt_hash("Password01!", nh), 0);
	assert_int_equal(ntlm_ntowfv2(nh, "administrator", "SUT311", rk), 0);
	assert_int_equal(ntlm_v2_proof(rk, chal + 24, ntr + 16, fl - 16, proof, sbk), 0);
	assert_memory_equal(proof, ntr, 16);
	/* temp: the server's timestamp, our client challenge, MsvAvFlags = MIC present. */
	assert_memory_equal(ntr + 24, "\xa1\xa1\xf5\xad\xcb\xae\xd0\x01", 8);
	assert_memory_equal(ntr + 32, cc, 8);
	assert_non_null(memmem(ntr + 16, fl - 16, "\x06\x00\x04\x00\x02\x00\x00\x00", 8));
	/* The encrypted session key decrypts to the exported key. */
	f = auth_field(auth, alen, F_KEY, &fl);
	assert_int_equal(fl, 16);
	assert_int_equal(smb_rc4(sbk, 16, f, exported, 16), 0);
	assert_memory_equal(exported, xk, 16);
	/* The MIC covers our NEGOTIATE, the CHALLENGE and this message with the MIC zeroed. */
	uint8_t *copy = malloc(alen);
	memcpy(copy, auth, alen);
	memset(copy + 72, 0, 16);
	assert_int_equal(ntlm_mic(xk, h.mech_token, h.mech_token_len, chal, cn, copy, alen, mic),
			 0);
	assert_memory_equal(mic, auth + 72, 16);
	free(copy);

	assert_int_equal(smb_auth_session_key(a, key), 0);
	assert_memory_equal(key, xk, 16);
	assert_false(smb_auth_is_anonymous(a));
	assert_int_equal(smb_auth_finish(a, fin, fn), 0);
	/* Nothing more after the end. */
	assert_int_equal(smb_auth_step(a, srv, n, &out), SMBG_EINVAL);
	smb_auth_free(a);

	/* A final token whose mechListMIC was tampered with is refused. */
	a = smb_auth_new(&creds, 1);
	smb_auth_set_fixed(a, &fx);
	wbuf_reset(&out);
	assert_int_equal(smb_auth_step(a, NULL, 0, &out), 0);
	wbuf_reset(&out);
	assert_int_equal(smb_auth_step(a, srv, n, &out), 1);
	fin[fn - 6] ^= 0x01;
	assert_int_equal(smb_auth_finish(a, fin, fn), SMBG_ECRYPTO);
	smb_auth_free(a);

	wbuf_free(&first);
	wbuf_free(&out);
	free(srv);
	free(fin);
	free(cc);
	free(chal);
	free(xk);
}

/* Builds a CHALLENGE_MESSAGE: target name "Server", the given AV list. */
static void build_challenge(struct wbuf *w, uint32_t flags, const uint8_t *ti, size_t ti_len)
{
	static const uint8_t name[12] = {'S', 0, 'e', 0, 'r', 0, 'v', 0, 'e', 0, 'r', 0};

	wbuf_init(w);
	wbuf_put_bytes(w, "NTLMSSP", 8);
	wbuf_put_le32(w, 2);
	wbuf_put_le16(w, 12), wbuf_put_le16(w, 12), wbuf_put_le32(w, 56);
	wbuf_put_le32(w, flags);
	wbuf_put_bytes(w, server_challenge, 8);
	wbuf_put_zero(w, 8);
	wbuf_put_le16(w, (uint16_t)ti_len), wbuf_put_le16(w, (uint16_t)ti_len);
	wbuf_put_le32(w, 68);
	wbuf_put_bytes(w, "\x06\x00\x70\x17\x00\x00\x00\x0f", 8);
	wbuf_put_bytes(w, name, 12);
	wbuf_put_bytes(w, ti, ti_len);
	assert_int_equal(wbuf_error(w), 0);
}

static void test_anonymous(void **state)
{
	(void)state;
	static const uint8_t ti[] = {0x02, 0, 0x02, 0, 'D', 0, 0x07, 0, 0x08, 0, 1,
				     2,	   3, 4,    5, 6,   7, 8,    0, 0,    0, 0};
	struct smb_auth_creds creds = {.user = "", .password = "ignored"};
	struct ntlmssp_client *c = ntlmssp_client_new(NULL, NULL, NULL, NULL, 0);
	struct wbuf chal, auth;
	const uint8_t *f;
	uint32_t flags;
	uint8_t key[16];
	size_t n;

	build_challenge(&chal, 0xe28a8235, ti, sizeof(ti));
	assert_true(ntlmssp_client_is_anonymous(c));
	assert_int_equal(run_client(c, chal.p, chal.len, &auth), 0);
	/* MS-NLMP 3.2.5.1.2: LM = Z(1), no NT response, no user, no session key, no MIC even
	 * though the server sent a timestamp. */
	f = auth_field(auth.p, auth.len, F_LM, &n);
	assert_int_equal(n, 1);
	assert_int_equal(f[0], 0);
	auth_field(auth.p, auth.len, F_NT, &n);
	assert_int_equal(n, 0);
	auth_field(auth.p, auth.len, F_USER, &n);
	assert_int_equal(n, 0);
	auth_field(auth.p, auth.len, F_KEY, &n);
	assert_int_equal(n, 0);
	flags = auth.p[60] | auth.p[61] << 8 | auth.p[62] << 16 | (uint32_t)auth.p[63] << 24;
	assert_true(flags & NTLMSSP_ANONYMOUS);
	assert_false(flags & NTLMSSP_NEGOTIATE_KEY_EXCH);
	assert_false(ntlmssp_client_sent_mic(c));
	assert_int_equal(ntlmssp_client_session_key(c, key), SMBG_ENOENT);
	assert_int_equal(ntlmssp_client_sign(c, plaintext16, 18, key), SMBG_ENOENT);
	wbuf_free(&auth);
	ntlmssp_client_free(c);

	/* Through SPNEGO: no mechListMIC, no session key. */
	struct smb_auth *a = smb_auth_new(&creds, 1);
	struct wbuf out, srv;
	struct spnego_resp r;
	assert_true(smb_auth_is_anonymous(a));
	wbuf_init(&out);
	wbuf_init(&srv);
	assert_int_equal(smb_auth_step(a, NULL, 0, &out), 0);
	assert_int_equal(
	    spnego_encode_resp(&srv, SPNEGO_ACCEPT_INCOMPLETE, chal.p, chal.len, NULL, 0), 0);
	wbuf_reset(&out);
	assert_int_equal(smb_auth_step(a, srv.p, srv.len, &out), 1);
	assert_int_equal(spnego_parse_resp(out.p, out.len, &r), 0);
	assert_null(r.mech_list_mic);
	assert_int_equal(
	    smb_auth_finish(a, (const uint8_t *)"\xa1\x07\x30\x05\xa0\x03\x0a\x01\x00", 9), 0);
	assert_int_equal(smb_auth_session_key(a, key), SMBG_ENOENT);
	smb_auth_free(a);
	wbuf_free(&out);
	wbuf_free(&srv);
	wbuf_free(&chal);
}

/* A challenge with a timestamp: MIC present and right, Z(24) for LM, MsvAvFlags added. */
static void test_timestamp_mic(void **state)
{
	(void)state;
	static const uint8_t ti[] = {0x02, 0, 0x0c, 0, 'D',  0, 'o', 0, 'm', 0, 'a', 0, 'i', 0,
				     'n',  0, 0x07, 0, 0x08, 0, 1,   2, 3,   4, 5,   6, 7,   8,
				     0x06, 0, 0x04, 0, 0x01, 0, 0,   0, 0,   0, 0,   0};
	struct ntlmssp_client *c = client_424(0);
	struct wbuf chal, auth, neg;
	uint8_t mic[16], *copy;
	const uint8_t *ntr;
	size_t n;

	build_challenge(&chal, 0xe28a8235, ti, sizeof(ti));
	wbuf_init(&neg);
	assert_int_equal(ntlmssp_client_negotiate(c, &neg), 0);
	wbuf_init(&auth);
	assert_int_equal(ntlmssp_client_authenticate(c, chal.p, chal.len, &auth), 0);
	assert_true(ntlmssp_client_sent_mic(c));
	copy = malloc(auth.len);
	memcpy(copy, auth.p, auth.len);
	memset(copy + 72, 0, 16);
	assert_int_equal(ntlm_mic(key_55, neg.p, neg.len, chal.p, chal.len, copy, auth.len, mic),
			 0);
	assert_memory_equal(mic, auth.p + 72, 16);
	ntr = auth_field(auth.p, auth.len, F_NT, &n);
	/* The time in the blob is the server's, not ours (fixed to 0). */
	assert_memory_equal(ntr + 24, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	/* The server's MsvAvFlags (1) gets the MIC bit rather than a second pair. */
	assert_non_null(memmem(ntr + 16, n - 16, "\x06\x00\x04\x00\x03\x00\x00\x00", 8));
	assert_null(memmem(ntr + 16, n - 16, "\x06\x00\x04\x00\x02\x00\x00\x00", 8));
	free(copy);
	wbuf_free(&neg);
	wbuf_free(&auth);
	wbuf_free(&chal);
	ntlmssp_client_free(c);
}

/* Samba's challenge: parsed, timestamp found, answered with a MIC and the domain taken from
 * its target name. */
static void test_samba_challenge(void **state)
{
	(void)state;
	size_t cn, n;
	uint8_t *chal = unhex(samba417_chal, &cn);
	struct ntlmssp_challenge ch;
	struct ntlmssp_client *c = ntlmssp_client_new("smbgtest", NULL, "pw", NULL, 0);
	struct wbuf auth;
	const uint8_t *f;

	assert_int_equal(ntlmssp_challenge_parse(chal, cn, &ch), 0);
	assert_int_equal(ch.flags, 0xe28a8235);
	assert_true(ch.has_timestamp);
	assert_int_equal(ch.target_info_len, 0x40);
	assert_int_equal(ch.target_name_len, 14);
	assert_int_equal(run_client(c, chal, cn, &auth), 0);
	assert_true(ntlmssp_client_sent_mic(c));
	f = auth_field(auth.p, auth.len, F_DOM, &n);
	assert_int_equal(n, 14);
	assert_memory_equal(f, ch.target_name, 14);
	wbuf_free(&auth);
	ntlmssp_client_free(c);
	free(chal);
}

/* Every proper prefix of a challenge, and a table of corruptions, are refused. */
static void test_malformed_challenges(void **state)
{
	(void)state;
	size_t cn;
	uint8_t *good = unhex(chal_v2, &cn);
	struct ntlmssp_challenge ch;

	assert_int_equal(ntlmssp_challenge_parse(good, cn, &ch), 0);
	for (size_t k = 0; k < cn; k++) {
		uint8_t *cut = malloc(k ? k : 1);
		memcpy(cut, good, k);
		assert_int_equal(ntlmssp_challenge_parse(cut, k, &ch), SMBG_EPROTO);
		free(cut);
	}

	static const struct {
		size_t off;
		const char *bytes;
		const char *why;
	} bad[] = {
	    {0, "4e544c4d53535100", "signature"},
	    {8, "03000000", "message type"},
	    {16, "ffffffff", "target name offset past the end"},
	    {12, "ff00ff00", "target name longer than the message"},
	    {12, "0b000b00", "odd-length Unicode target name"},
	    {40, "ffffffff", "target info length"},
	    {44, "fdffffff", "target info offset wraps"},
	    {68, "02000d00", "first AV pair overruns the list"},
	    {68, "00000c00", "EOL with a length"},
	    {68, "07000c00", "timestamp of 12 bytes"},
	    {68, "06000c00", "flags of 12 bytes"},
	    {100, "0100ffff", "last AV pair overruns the list"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t bn;
		uint8_t *m = malloc(cn), *b = unhex(bad[i].bytes, &bn);
		memcpy(m, good, cn);
		memcpy(m + bad[i].off, b, bn);
		if (ntlmssp_challenge_parse(m, cn, &ch) != SMBG_EPROTO)
			fail_msg("accepted a challenge with a bad %s", bad[i].why);
		free(m);
		free(b);
	}

	/* Parsed but refused by the client: a server without Unicode. */
	struct ntlmssp_client *c = client_424(0);
	struct wbuf auth;
	good[20] &= (uint8_t)~NTLMSSP_NEGOTIATE_UNICODE;
	assert_int_equal(run_client(c, good, cn, &auth), SMBG_ENOTSUP);
	assert_int_equal(auth.len, 0);
	wbuf_free(&auth);
	ntlmssp_client_free(c);
	/* A broken challenge reports EPROTO from authenticate too. */
	c = client_424(0);
	good[20] |= NTLMSSP_NEGOTIATE_UNICODE;
	good[0] = 'X';
	assert_int_equal(run_client(c, good, cn, &auth), SMBG_EPROTO);
	wbuf_free(&auth);
	ntlmssp_client_free(c);
	free(good);
}

/* The state machine's refusals, and raw NTLMSSP without SPNEGO. */
static void test_auth_states(void **state)
{
	(void)state;
	struct smb_auth_creds creds = {.user = "User", .domain = "Domain", .password = "Password"};
	struct smb_auth *a;
	struct wbuf out, srv;
	size_t cn;
	uint8_t *chal = unhex(chal_v2, &cn);
	uint8_t key[16];

	wbuf_init(&out);
	wbuf_init(&srv);
	/* The server rejects. */
	a = smb_auth_new(&creds, 1);
	assert_int_equal(smb_auth_step(a, NULL, 0, &out), 0);
	assert_int_equal(spnego_encode_resp(&srv, SPNEGO_REJECT, NULL, 0, NULL, 0), 0);
	assert_int_equal(smb_auth_step(a, srv.p, srv.len, &out), SMBG_EAUTH);
	smb_auth_free(a);
	/* The server picks another mechanism (Kerberos). */
	a = smb_auth_new(&creds, 1);
	wbuf_reset(&out);
	assert_int_equal(smb_auth_step(a, NULL, 0, &out), 0);
	static const uint8_t krb[] = {0xa1, 0x0f, 0x30, 0x0d, 0xa1, 0x0b, 0x06, 0x09, 0x2a,
				      0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02};
	assert_int_equal(smb_auth_step(a, krb, sizeof(krb), &out), SMBG_ENOTSUP);
	smb_auth_free(a);
	/* No token in the second leg; garbage in the second leg. */
	a = smb_auth_new(&creds, 1);
	assert_int_equal(smb_auth_step(a, NULL, 0, &out), 0);
	assert_int_equal(smb_auth_step(a, NULL, 0, &out), SMBG_EPROTO);
	smb_auth_free(a);
	a = smb_auth_new(&creds, 1);
	assert_int_equal(smb_auth_step(a, (const uint8_t *)"garbage", 7, &out), 0); /* bad hint */
	assert_int_equal(smb_auth_step(a, (const uint8_t *)"garbage", 7, &out), SMBG_EPROTO);
	smb_auth_free(a);
	/* A fourth leg is refused; a final reject is reported as such. */
	a = smb_auth_new(&creds, 1);
	wbuf_reset(&srv);
	assert_int_equal(spnego_encode_resp(&srv, SPNEGO_ACCEPT_INCOMPLETE, chal, cn, NULL, 0), 0);
	assert_int_equal(smb_auth_step(a, NULL, 0, &out), 0);
	assert_int_equal(smb_auth_step(a, srv.p, srv.len, &out), 1);
	wbuf_reset(&srv);
	assert_int_equal(spnego_encode_resp(&srv, SPNEGO_REJECT, NULL, 0, NULL, 0), 0);
	assert_int_equal(smb_auth_finish(a, srv.p, srv.len), SMBG_EAUTH);
	smb_auth_free(a);
	a = smb_auth_new(&creds, 1);
	assert_int_equal(smb_auth_step(a, NULL, 0, &out), 0);
	wbuf_reset(&srv);
	assert_int_equal(spnego_encode_resp(&srv, SPNEGO_ACCEPT_INCOMPLETE, chal, cn, NULL, 0), 0);
	assert_int_equal(smb_auth_step(a, srv.p, srv.len, &out), 1);
	assert_int_equal(smb_auth_step(a, srv.p, srv.len, &out), SMBG_EPROTO);
	smb_auth_free(a);

	/* Raw NTLMSSP (SMB1 extended security without SPNEGO), empty final token. */
	a = smb_auth_new(&creds, 0);
	wbuf_reset(&out);
	assert_int_equal(smb_auth_step(a, NULL, 0, &out), 0);
	assert_memory_equal(out.p, "NTLMSSP\0\1\0\0\0", 12);
	wbuf_reset(&out);
	assert_int_equal(smb_auth_step(a, chal, cn, &out), 1);
	assert_memory_equal(out.p, "NTLMSSP\0\3\0\0\0", 12);
	assert_int_equal(smb_auth_finish(a, NULL, 0), 0);
	assert_int_equal(smb_auth_session_key(a, key), 0);
	smb_auth_free(a);

	/* Credentials that are not UTF-8 fail before anything is sent. */
	struct smb_auth_creds badc = {.user = "us\xff"
					      "er",
				      .password = "x"};
	a = smb_auth_new(&badc, 1);
	wbuf_reset(&out);
	assert_int_equal(smb_auth_step(a, NULL, 0, &out), SMBG_ENAME);
	smb_auth_free(a);
	smb_auth_free(NULL);

	wbuf_free(&out);
	wbuf_free(&srv);
	free(chal);
}

/* Sign and verify are inverse when the verifier holds the sender's keys: a server built from
 * the same exported key accepts our signatures (checked with the server-direction keys by
 * swapping roles through the primitives), and sequence numbers advance. */
static void test_sign_sequence(void **state)
{
	(void)state;
	size_t cn;
	uint8_t *chal = unhex(chal_v2, &cn), s0[16], s1[16];
	struct ntlmssp_client *c = client_424(0);
	struct wbuf auth;

	assert_int_equal(run_client(c, chal, cn, &auth), 0);
	assert_int_equal(ntlmssp_client_sign(c, plaintext16, 18, s0), 0);
	assert_int_equal(ntlmssp_client_sign(c, plaintext16, 18, s1), 0);
	assert_memory_equal(s0 + 12, "\0\0\0\0", 4);
	assert_memory_equal(s1 + 12, "\1\0\0\0", 4);
	assert_memory_not_equal(s0 + 4, s1 + 4, 8);
	/* Fresh RC4 stream, KEY_EXCH: RC4(sealkey, HMAC(signkey, seq 0 || msg)[0..8]). */
	uint8_t sk[16], seal[16], d[16], want[8];
	struct iovec iov[2] = {{(void *)"\0\0\0\0", 4}, {(void *)plaintext16, 18}};
	assert_int_equal(ntlm_sign_key(key_55, 1, sk), 0);
	assert_int_equal(ntlm_seal_key(key_55, 0xe2888235, 1, seal), 0);
	assert_int_equal(smb_hmac_md5(sk, 16, iov, 2, d), 0);
	assert_hex(d, 8, "70352851f2564309"); /* MS-NLMP 4.2.4.4 before RC4 */
	assert_int_equal(smb_rc4(seal, 16, d, want, 8), 0);
	assert_memory_equal(s0 + 4, want, 8);
	/* The server direction uses other keys: our own signature does not verify as its. */
	assert_int_equal(ntlmssp_client_verify(c, plaintext16, 18, s0), SMBG_ECRYPTO);
	wbuf_free(&auth);
	ntlmssp_client_free(c);
	free(chal);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_v1_primitives),
	    cmocka_unit_test(test_v1_client),
	    cmocka_unit_test(test_v1_ess_client),
	    cmocka_unit_test(test_v2_primitives),
	    cmocka_unit_test(test_v2_authenticate_exact),
	    cmocka_unit_test(test_windows_example_primitives),
	    cmocka_unit_test(test_windows_example_spnego_flow),
	    cmocka_unit_test(test_anonymous),
	    cmocka_unit_test(test_timestamp_mic),
	    cmocka_unit_test(test_samba_challenge),
	    cmocka_unit_test(test_malformed_challenges),
	    cmocka_unit_test(test_auth_states),
	    cmocka_unit_test(test_sign_sequence),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
