/* Client authentication for SESSION_SETUP: NTLMSSP (NTLMv2 with MIC and key exchange; NTLMv1 only
 * when creds->allow_ntlmv1) wrapped in SPNEGO. The SMB layer only loops over smb_auth_step. */
#ifndef SMBGATE_AUTH_H
#define SMBGATE_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "util/wbuf.h"

struct smb_auth_creds {
	const char *user;	 /* NULL or "" = anonymous */
	const char *domain;	 /* NULL = the server's domain from the challenge */
	const char *password;	 /* NULL = "" */
	const char *workstation; /* NULL = "SMBGATE" */
	int allow_ntlmv1;
};

struct smb_auth;

/* Copies what it needs from creds. use_spnego: wrap tokens in SPNEGO (SMB2, SMB1 extended
 * security). Returns NULL on allocation failure. */
struct smb_auth *smb_auth_new(const struct smb_auth_creds *creds, int use_spnego);
/* Wipes keys and the password copy. NULL is a no-op. */
void smb_auth_free(struct smb_auth *a);

/* Produces the next token to send. in/inlen: the server's last token (NULL/0 on the first call,
 * or the SPNEGO hint from NEGOTIATE, which may be ignored). Returns 0 when out holds a token and
 * another server leg is expected (STATUS_MORE_PROCESSING_REQUIRED), 1 when out holds the final
 * token, or a negative SMBG_E* (SMBG_EPROTO for a malformed server token). */
int smb_auth_step(struct smb_auth *a, const uint8_t *in, size_t inlen, struct wbuf *out);

/* Checks the server's token in the final SESSION_SETUP response (SPNEGO accept-completed and,
 * when present, its mechListMIC). An empty token is accepted. */
int smb_auth_finish(struct smb_auth *a, const uint8_t *in, size_t inlen);

/* Copies the 16-byte exported session key. SMBG_ENOENT when there is none (anonymous). */
int smb_auth_session_key(const struct smb_auth *a, uint8_t key[16]);

int smb_auth_is_anonymous(const struct smb_auth *a);

#endif
