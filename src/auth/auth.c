#include "auth/auth.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/ntlmssp.h"
#include "auth/spnego.h"
#include "smbgate/err.h"
#include "util/log.h"

enum auth_state {
	AUTH_START,	 /* nothing sent */
	AUTH_SENT_INIT,	 /* NEGOTIATE sent, waiting for the CHALLENGE */
	AUTH_SENT_FINAL, /* AUTHENTICATE sent, waiting for the result */
	AUTH_DONE,	 /* the server's last token checked */
	AUTH_FAILED
};

struct smb_auth {
	enum auth_state state;
	int use_spnego;
	int anonymous;
	struct ntlmssp_client *ntlm;
};

static const char *auth_state_name(enum auth_state s)
{
	static const char *const names[] = {"start", "sent-init", "sent-final", "done", "failed"};
	return names[s];
}

/* The one place the state changes, so a -vv log shows the whole exchange. */
static void auth_set_state(struct smb_auth *a, enum auth_state s)
{
	if (a->state != s)
		log_debug("auth: %s -> %s", auth_state_name(a->state), auth_state_name(s));
	a->state = s;
}

static int auth_fail(struct smb_auth *a, int rc)
{
	auth_set_state(a, AUTH_FAILED);
	return rc;
}

struct smb_auth *smb_auth_new(const struct smb_auth_creds *creds, int use_spnego)
{
	struct smb_auth *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->use_spnego = use_spnego;
	a->anonymous = !creds->user || !*creds->user;
	a->ntlm = ntlmssp_client_new(creds->user, creds->domain, creds->password,
				     creds->workstation, creds->allow_ntlmv1);
	if (!a->ntlm) {
		free(a);
		return NULL;
	}
	return a;
}

void smb_auth_free(struct smb_auth *a)
{
	if (!a)
		return;
	ntlmssp_client_free(a->ntlm);
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
}

void smb_auth_set_fixed(struct smb_auth *a, const struct ntlmssp_fixed *f)
{
	ntlmssp_client_set_fixed(a->ntlm, f);
}

int smb_auth_is_anonymous(const struct smb_auth *a)
{
	return a->anonymous;
}

int smb_auth_session_key(const struct smb_auth *a, uint8_t key[16])
{
	if (a->anonymous)
		return SMBG_ENOENT;
	return ntlmssp_client_session_key(a->ntlm, key);
}

/* The server's hint in the NEGOTIATE response only says what it would accept; an empty or
 * unreadable hint is fine (Samba's may be empty, some servers send none). */
static void auth_read_hint(const uint8_t *in, size_t inlen)
{
	struct spnego_init hint;

	if (!in || inlen == 0)
		return;
	if (spnego_parse_init(in, inlen, &hint) != 0)
		log_debug("auth: ignoring an unreadable SPNEGO hint (%zu bytes)", inlen);
	else if (!hint.offers_ntlmssp)
		log_debug("auth: the server's hint lists %zu mechanisms, not NTLMSSP; trying "
			  "NTLMSSP anyway",
			  hint.mech_count);
}

static int step_init(struct smb_auth *a, const uint8_t *in, size_t inlen, struct wbuf *out)
{
	struct wbuf tok;
	int rc;

	if (a->use_spnego)
		auth_read_hint(in, inlen);
	wbuf_init(&tok);
	rc = ntlmssp_client_negotiate(a->ntlm, a->use_spnego ? &tok : out);
	if (rc == 0 && a->use_spnego)
		rc = spnego_encode_init(out, tok.p, tok.len);
	wbuf_free(&tok);
	if (rc)
		return auth_fail(a, rc);
	auth_set_state(a, AUTH_SENT_INIT);
	return 0;
}

static int step_challenge(struct smb_auth *a, const uint8_t *in, size_t inlen, struct wbuf *out)
{
	const uint8_t *chal = in;
	size_t chal_len = inlen;
	struct wbuf tok;
	int rc;

	if (a->use_spnego) {
		struct spnego_resp r;
		if (spnego_parse_resp(in, inlen, &r) != 0)
			return auth_fail(a, SMBG_EPROTO);
		if (r.neg_state == SPNEGO_REJECT)
			return auth_fail(a, SMBG_EAUTH);
		if (r.supported_mech &&
		    !spnego_oid_is_ntlmssp(r.supported_mech, r.supported_mech_len)) {
			log_debug("auth: the server chose a mechanism other than NTLMSSP");
			return auth_fail(a, SMBG_ENOTSUP);
		}
		if (!r.response_token)
			return auth_fail(a, SMBG_EPROTO);
		chal = r.response_token;
		chal_len = r.response_token_len;
	}
	wbuf_init(&tok);
	rc = ntlmssp_client_authenticate(a->ntlm, chal, chal_len, a->use_spnego ? &tok : out);
	if (rc == 0 && a->use_spnego) {
		/* A server that gets a MIC in AUTHENTICATE (Samba's "new SPNEGO") insists on the
		 * mechListMIC: our signature over the MechTypeList we sent. */
		uint8_t mic[16];
		int with_mic = ntlmssp_client_sent_mic(a->ntlm);
		if (with_mic) {
			rc = ntlmssp_client_sign(a->ntlm, spnego_mech_types_ntlmssp,
						 sizeof(spnego_mech_types_ntlmssp), mic);
			if (rc == SMBG_ENOTSUP) {
				/* No extended session security, so no signing key: send the
				 * token alone and let the server decide. */
				log_debug("auth: cannot sign the mechListMIC without extended "
					  "session security");
				with_mic = 0;
				rc = 0;
			}
		}
		if (rc == 0)
			rc = spnego_encode_resp(out, SPNEGO_ACCEPT_INCOMPLETE, tok.p, tok.len,
						with_mic ? mic : NULL, with_mic ? sizeof(mic) : 0);
	}
	wbuf_free(&tok);
	if (rc)
		return auth_fail(a, rc);
	auth_set_state(a, AUTH_SENT_FINAL);
	return 1;
}

int smb_auth_step(struct smb_auth *a, const uint8_t *in, size_t inlen, struct wbuf *out)
{
	switch (a->state) {
	case AUTH_START:
		return step_init(a, in, inlen, out);
	case AUTH_SENT_INIT:
		if (!in || inlen == 0)
			return auth_fail(a, SMBG_EPROTO);
		return step_challenge(a, in, inlen, out);
	case AUTH_SENT_FINAL:
		/* NTLMSSP has three legs: a server asking for a fourth is broken. */
		return auth_fail(a, SMBG_EPROTO);
	case AUTH_DONE:
	case AUTH_FAILED:
		break;
	}
	return SMBG_EINVAL;
}

int smb_auth_finish(struct smb_auth *a, const uint8_t *in, size_t inlen)
{
	struct spnego_resp r;
	int rc;

	if (a->state != AUTH_SENT_FINAL)
		return SMBG_EINVAL;
	if (!in || inlen == 0 || !a->use_spnego) {
		auth_set_state(a, AUTH_DONE);
		return 0;
	}
	if (spnego_parse_resp(in, inlen, &r) != 0)
		return auth_fail(a, SMBG_EPROTO);
	if (r.neg_state == SPNEGO_REJECT)
		return auth_fail(a, SMBG_EAUTH);
	if (r.neg_state != SPNEGO_ABSENT && r.neg_state != SPNEGO_ACCEPT_COMPLETED) {
		log_debug("auth: final SPNEGO state %d is not accept-completed", r.neg_state);
		return auth_fail(a, SMBG_EPROTO);
	}
	if (r.mech_list_mic) {
		/* RFC 4178 5: a mechListMIC that arrives is checked, whether or not we sent one.
		 * Without a session key (anonymous) or extended session security there is
		 * nothing to check it with. */
		rc = r.mech_list_mic_len == 16
			 ? ntlmssp_client_verify(a->ntlm, spnego_mech_types_ntlmssp,
						 sizeof(spnego_mech_types_ntlmssp), r.mech_list_mic)
			 : SMBG_ECRYPTO;
		if (rc == SMBG_ENOENT || rc == SMBG_ENOTSUP) {
			log_debug("auth: cannot check the server's mechListMIC (no signing key)");
		} else if (rc) {
			log_debug("auth: the server's mechListMIC does not verify");
			return auth_fail(a, rc);
		}
	}
	auth_set_state(a, AUTH_DONE);
	return 0;
}
