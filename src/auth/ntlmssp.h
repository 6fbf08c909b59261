/* NTLMSSP client (MS-NLMP): NEGOTIATE, CHALLENGE parsing, AUTHENTICATE with NTLMv2, MIC and key
 * exchange (NTLMv1 only when allowed), and the message signatures SPNEGO's mechListMIC uses.
 * The primitives are exported for the SMB1 code (plain NTLMv1/v2 challenge-response). */
#ifndef SMBGATE_NTLMSSP_H
#define SMBGATE_NTLMSSP_H

#include <stddef.h>
#include <stdint.h>

#include "util/wbuf.h"

/* NegotiateFlags (MS-NLMP 2.2.2.5) */
#define NTLMSSP_NEGOTIATE_UNICODE		   0x00000001u
#define NTLMSSP_NEGOTIATE_OEM			   0x00000002u
#define NTLMSSP_REQUEST_TARGET			   0x00000004u
#define NTLMSSP_NEGOTIATE_SIGN			   0x00000010u
#define NTLMSSP_NEGOTIATE_SEAL			   0x00000020u
#define NTLMSSP_NEGOTIATE_LM_KEY		   0x00000080u
#define NTLMSSP_NEGOTIATE_NTLM			   0x00000200u
#define NTLMSSP_ANONYMOUS			   0x00000800u
#define NTLMSSP_NEGOTIATE_ALWAYS_SIGN		   0x00008000u
#define NTLMSSP_TARGET_TYPE_DOMAIN		   0x00010000u
#define NTLMSSP_TARGET_TYPE_SERVER		   0x00020000u
#define NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY 0x00080000u
#define NTLMSSP_NEGOTIATE_TARGET_INFO		   0x00800000u
#define NTLMSSP_NEGOTIATE_VERSION		   0x02000000u
#define NTLMSSP_NEGOTIATE_128			   0x20000000u
#define NTLMSSP_NEGOTIATE_KEY_EXCH		   0x40000000u
#define NTLMSSP_NEGOTIATE_56			   0x80000000u

/* AV_PAIR ids (MS-NLMP 2.2.2.1) */
#define MSV_AV_EOL		0
#define MSV_AV_NB_COMPUTER_NAME 1
#define MSV_AV_NB_DOMAIN_NAME	2
#define MSV_AV_FLAGS		6
#define MSV_AV_TIMESTAMP	7
#define MSV_AV_FLAG_MIC_PRESENT 0x00000002u

/* A parsed CHALLENGE_MESSAGE. Pointers borrow from the parsed buffer. */
struct ntlmssp_challenge {
	uint32_t flags;
	uint8_t server_challenge[8];
	const uint8_t *target_name; /* UTF-16LE when flags has UNICODE */
	size_t target_name_len;
	const uint8_t *target_info; /* AV_PAIRs, validated */
	size_t target_info_len;
	int has_timestamp; /* MsvAvTimestamp present */
	uint64_t timestamp;
};

/* Parses and validates a CHALLENGE_MESSAGE: signature, type, every offset/length pair inside
 * the message, the AV_PAIR list well-formed. SMBG_EPROTO when malformed. */
int ntlmssp_challenge_parse(const uint8_t *p, size_t len, struct ntlmssp_challenge *out);

/* --- The client ----------------------------------------------------------------------------- */

struct ntlmssp_client;

/* Strings are UTF-8 and copied. user NULL or "" = anonymous (MS-NLMP 3.2.5.1.2: no responses,
 * no session key, no MIC). domain NULL = the target name from the challenge. password NULL =
 * "". workstation NULL = "SMBGATE". Returns NULL on allocation failure. */
struct ntlmssp_client *ntlmssp_client_new(const char *user, const char *domain,
					  const char *password, const char *workstation,
					  int allow_ntlmv1);
/* Wipes every key and the password copy. NULL is a no-op. */
void ntlmssp_client_free(struct ntlmssp_client *c);

/* Appends the NEGOTIATE_MESSAGE to out (and keeps a copy for the MIC). SMBG_ENAME when a
 * credential string is not valid UTF-8. */
int ntlmssp_client_negotiate(struct ntlmssp_client *c, struct wbuf *out);
/* Parses the CHALLENGE_MESSAGE and appends the AUTHENTICATE_MESSAGE to out. SMBG_EPROTO for a
 * malformed challenge, SMBG_ENOTSUP when it asks for something this client will not do (no
 * Unicode; NTLMv1 when not allowed), SMBG_ENOTSUP too when OpenSSL's legacy provider (MD4,
 * RC4) is missing. */
int ntlmssp_client_authenticate(struct ntlmssp_client *c, const uint8_t *chal, size_t chal_len,
				struct wbuf *out);

int ntlmssp_client_is_anonymous(const struct ntlmssp_client *c);
/* 1 when the AUTHENTICATE_MESSAGE carried a MIC (the server then expects SPNEGO's
 * mechListMIC). */
int ntlmssp_client_sent_mic(const struct ntlmssp_client *c);
/* The 16-byte ExportedSessionKey; SMBG_ENOENT before authenticate or when anonymous. */
int ntlmssp_client_session_key(const struct ntlmssp_client *c, uint8_t key[16]);

/* GSS_GetMIC / GSS_VerifyMIC (MS-NLMP 3.4.4.2, extended session security): the 16-byte
 * signature of msg with the client's keys and sequence number, or the check of one the server
 * made with its own. Each call consumes one sequence number (both start at 0) and advances the
 * RC4 key stream of its direction. SMBG_ENOENT without a session key, SMBG_ENOTSUP without
 * extended session security, SMBG_ECRYPTO when the signature does not match. */
int ntlmssp_client_sign(struct ntlmssp_client *c, const uint8_t *msg, size_t len, uint8_t sig[16]);
int ntlmssp_client_verify(struct ntlmssp_client *c, const uint8_t *msg, size_t len,
			  const uint8_t sig[16]);

/* For tests only: fixes the values the client would otherwise draw at random or from the
 * clock, so a run can be compared with the MS-NLMP examples byte for byte. NULL fields keep the
 * default. */
struct ntlmssp_fixed {
	const uint8_t *client_challenge;   /* 8 bytes */
	const uint8_t *random_session_key; /* 16 bytes, the ExportedSessionKey under KEY_EXCH */
	const uint64_t *time;		   /* NTLMv2 blob time when the challenge has none */
	const uint8_t *version;		   /* 8 bytes, the VERSION field */
};
void ntlmssp_client_set_fixed(struct ntlmssp_client *c, const struct ntlmssp_fixed *f);
/* The same for the NTLMSSP client inside an smb_auth (auth/auth.h), before its first step. */
struct smb_auth;
void smb_auth_set_fixed(struct smb_auth *a, const struct ntlmssp_fixed *f);

/* --- Primitives (MS-NLMP 3.3, 3.4) ------------------------------------------------------------ */

/* NTOWFv1 = MD4(UTF-16LE(password)). */
int ntlm_nt_hash(const char *password, uint8_t out[16]);
/* LMOWFv1: DES("KGS!@#$%") under the uppercased OEM password, padded or cut to 14 bytes.
 * SMBG_EINVAL when the password is not ASCII (it has no OEM form we can trust). */
int ntlm_lm_hash(const char *password, uint8_t out[16]);
/* DESL(K, D): the 24-byte NTLMv1 response to an 8-byte challenge. */
int ntlm_desl(const uint8_t key[16], const uint8_t data[8], uint8_t out[24]);
/* NTOWFv2 = HMAC_MD5(nt_hash, UTF-16LE(Uppercase(user)) || UTF-16LE(domain)); user and domain
 * are UTF-8. */
int ntlm_ntowfv2(const uint8_t nt_hash[16], const char *user, const char *domain, uint8_t out[16]);
/* NTProofStr = HMAC_MD5(ResponseKeyNT, ServerChallenge || temp) and
 * SessionBaseKey = HMAC_MD5(ResponseKeyNT, NTProofStr). */
int ntlm_v2_proof(const uint8_t response_key[16], const uint8_t server_challenge[8],
		  const uint8_t *temp, size_t temp_len, uint8_t proof[16],
		  uint8_t session_base_key[16]);
/* LMv2 = HMAC_MD5(ResponseKeyLM, ServerChallenge || ClientChallenge) || ClientChallenge. */
int ntlm_lmv2_response(const uint8_t response_key[16], const uint8_t server_challenge[8],
		       const uint8_t client_challenge[8], uint8_t out[24]);
/* MIC = HMAC_MD5(ExportedSessionKey, NEGOTIATE || CHALLENGE || AUTHENTICATE), the AUTHENTICATE
 * message with its MIC field zeroed. */
int ntlm_mic(const uint8_t session_key[16], const uint8_t *neg, size_t neg_len, const uint8_t *chal,
	     size_t chal_len, const uint8_t *auth, size_t auth_len, uint8_t out[16]);
/* SIGNKEY/SEALKEY with extended session security (MS-NLMP 3.4.5.2, 3.4.5.3). client: 1 for
 * client-to-server, 0 for server-to-client. flags: the negotiated flags (key strength). */
int ntlm_sign_key(const uint8_t session_key[16], int client, uint8_t out[16]);
int ntlm_seal_key(const uint8_t session_key[16], uint32_t flags, int client, uint8_t out[16]);

#endif
