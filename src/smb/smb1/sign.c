/* SMB1 message signing (MS-CIFS 3.1.5.1, 3.2.4.1.3): the signature is the first 8 bytes of
 * MD5(MAC key || message), computed with the sequence number (32-bit, little-endian, then four
 * zero bytes) in the SecuritySignature field. The MAC key is the session key followed by the
 * NT challenge response (plain authentication) or the NTLMSSP session key alone (extended
 * security). */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "crypto/legacy.h"
#include "smb/smb1/smb1.h"
#include "util/log.h"

#define SIG_OFF 14 /* SecuritySignature in the header */

int smb1_sign_start(struct smb_client *c, const uint8_t *session_key, size_t key_len,
		    const uint8_t *response, size_t resp_len)
{
	struct smb1_state *s = smb1_st(c);
	uint8_t *k = malloc(key_len + resp_len);
	if (!k)
		return SMBG_ENOMEM;
	memcpy(k, session_key, key_len);
	if (resp_len)
		memcpy(k + key_len, response, resp_len);
	if (s->mac_key) {
		OPENSSL_cleanse(s->mac_key, s->mac_key_len);
		free(s->mac_key);
	}
	s->mac_key = k;
	s->mac_key_len = key_len + resp_len;
	/* The SESSION_SETUP that starts signing was sequence number 0, its response 1. */
	s->seq = 2;
	s->sign = 1;
	log_debug("smb1: signing on (MAC key %zu bytes)", s->mac_key_len);
	return 0;
}

static void seq_field(uint32_t seq, uint8_t out[8])
{
	for (int i = 0; i < 4; i++)
		out[i] = (uint8_t)(seq >> (8 * i));
	memset(out + 4, 0, 4);
}

int smb1_sign_message(const uint8_t *mac_key, size_t mac_key_len, uint32_t seq, uint8_t *hdr,
		      size_t hdr_len, const void *payload, size_t payload_len)
{
	uint8_t digest[16];
	if (hdr_len < SMB1_HDR_SIZE)
		return SMBG_EINVAL;
	seq_field(seq, hdr + SIG_OFF);
	struct iovec iov[3] = {
	    {(void *)mac_key, mac_key_len}, {hdr, hdr_len}, {(void *)payload, payload_len}};
	int rc = smb_md5(iov, payload_len ? 3 : 2, digest);
	if (rc < 0)
		return rc;
	memcpy(hdr + SIG_OFF, digest, 8);
	return 0;
}

int smb1_verify_message(const uint8_t *mac_key, size_t mac_key_len, uint32_t seq,
			const uint8_t *msg, size_t len)
{
	uint8_t hdr[SMB1_HDR_SIZE], digest[16];
	if (len < SMB1_HDR_SIZE)
		return SMBG_EPROTO;
	memcpy(hdr, msg, SMB1_HDR_SIZE);
	seq_field(seq, hdr + SIG_OFF);
	struct iovec iov[3] = {{(void *)mac_key, mac_key_len},
			       {hdr, SMB1_HDR_SIZE},
			       {(void *)(msg + SMB1_HDR_SIZE), len - SMB1_HDR_SIZE}};
	int rc = smb_md5(iov, 3, digest);
	if (rc < 0)
		return rc;
	return CRYPTO_memcmp(digest, msg + SIG_OFF, 8) == 0 ? 0 : SMBG_ECRYPTO;
}
