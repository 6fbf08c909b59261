/* SMB2 SESSION_SETUP (MS-SMB2 2.2.5, 2.2.6, 3.2.5.3): SPNEGO/NTLMSSP legs until success, then
 * key derivation (3.1.1 over the session's preauth hash) and the check of the signed final
 * response. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/auth.h"
#include "smb/login.h"
#include "smb/reply.h"
#include "smb/smb2/smb2.h"
#include "util/log.h"

/* reauth: a leg on the existing session (signed with its keys when it signs; no preauth hash,
 * the keys stay, MS-SMB2 3.2.4.2.3) */
static int send_leg(struct smb_client *c, const struct wbuf *tok, struct smb_reply *x, int reauth)
{
	smb_reply_reset(x);
	struct smb2_req *r = smb2_req_new(c, SMB2_SESSION_SETUP, smb2_done_reply);
	if (!r)
		return SMBG_ENOMEM;
	r->ctx = x;
	r->no_sign = !reauth;
	r->verify_in_done = 1;
	r->preauth = !reauth;
	struct wbuf *b = &r->pdu;
	uint8_t secmode = SMB2_NEGOTIATE_SIGNING_ENABLED;
	if (c->url.signing_required)
		secmode |= SMB2_NEGOTIATE_SIGNING_REQUIRED;
	wbuf_put_le16(b, 25);
	wbuf_put_u8(b, 0); /* Flags: no binding */
	wbuf_put_u8(b, secmode);
	wbuf_put_le32(b, SMB2_GLOBAL_CAP_DFS);
	wbuf_put_le32(b, 0);		      /* Channel */
	wbuf_put_le16(b, SMB2_HDR_SIZE + 24); /* SecurityBufferOffset */
	wbuf_put_le16(b, (uint16_t)tok->len); /* SecurityBufferLength */
	wbuf_put_le64(b, 0);		      /* PreviousSessionId */
	wbuf_put_bytes(b, tok->p, tok->len);
	return smb_reply_wait(c, smb2_submit(c, r), x);
}

static int parse_resp(const uint8_t *p, size_t len, struct smb2_msg *m, uint16_t *flags,
		      struct cursor *blob)
{
	struct cursor c;
	uint16_t size, off, blen;
	if (smb2_check_message(p, len, m) != 0)
		return SMBG_EPROTO;
	if (m->status != STATUS_SUCCESS && m->status != STATUS_MORE_PROCESSING_REQUIRED) {
		cursor_init(blob, p, 0);
		*flags = 0;
		return 0;
	}
	cursor_init(&c, p, len);
	if (cursor_seek(&c, SMB2_HDR_SIZE) != 0 || cursor_get_le16(&c, &size) != 0 ||
	    cursor_get_le16(&c, flags) != 0 || cursor_get_le16(&c, &off) != 0 ||
	    cursor_get_le16(&c, &blen) != 0 || smb2_msg_buffer(m, off, blen, blob) != 0)
		return SMBG_EPROTO;
	return 0;
}

static int session_setup(struct smb_client *c, int reauth)
{
	struct smb2_state *s = c->s2;
	struct smb_auth *a = smb_login_auth_new(c);
	if (!a)
		return SMBG_ENOMEM;
	struct wbuf tok;
	wbuf_init(&tok);
	struct smb_reply x = {0};
	const uint8_t *in = s->security_blob;
	size_t inlen = s->security_blob_len;
	int rc;
	uint8_t *prev = NULL; /* the last response, owned, while `in` points into it */
	if (!reauth) {
		memcpy(s->session_preauth, s->preauth, 64);
		s->session_id = 0;
	}
	for (int legs = 0;; legs++) {
		if (legs > 8) {
			rc = smb_failf(c, SMBG_EPROTO,
				       "authentication did not finish after %d legs", legs);
			goto out;
		}
		wbuf_reset(&tok);
		rc = smb_auth_step(a, in, inlen, &tok);
		if (rc < 0) {
			rc = smb_failf(c, rc,
				       "login as %s: cannot build the authentication token "
				       "(%s)",
				       smb_login_user(c), smbg_strerror(rc));
			goto out;
		}
		rc = send_leg(c, &tok, &x, reauth);
		free(prev);
		prev = NULL;
		if (rc < 0)
			goto out;
		struct smb2_msg m;
		uint16_t flags;
		struct cursor blob;
		if (parse_resp(x.msg, x.len, &m, &flags, &blob) < 0) {
			rc = smb_failf(c, SMBG_EPROTO, "malformed SESSION_SETUP response");
			goto out;
		}
		if (reauth && m.session_id != s->session_id) {
			rc = smb_failf(c, SMBG_EPROTO,
				       "re-authentication answered for another session");
			goto out;
		}
		s->session_id = m.session_id;
		if (m.status == STATUS_MORE_PROCESSING_REQUIRED) {
			if (c->dialect == SMB_DIALECT_3_1_1 && !reauth) {
				struct iovec v = {x.msg, x.len};
				if ((rc = smb2_preauth_update(s->session_preauth, &v, 1)) < 0)
					goto out;
			}
			prev = x.msg;
			x.msg = NULL;
			in = blob.p;
			inlen = blob.len;
			continue;
		}
		if (m.status != STATUS_SUCCESS) {
			int err = smbg_err_from_ntstatus(m.status);
			char what[300];
			snprintf(what, sizeof(what), "login as %s@%s", smb_login_user(c),
				 c->url.host);
			rc = smb_fail(c, err == SMBG_EACCES ? SMBG_EAUTH : err, m.status, what,
				      NULL);
			goto out;
		}
		if (!reauth)
			s->session_flags = flags;
		rc = smb_auth_finish(a, blob.p, blob.len);
		if (rc < 0) {
			rc = smb_failf(c, rc,
				       "login: the server's final authentication token "
				       "did not verify");
			goto out;
		}
		break;
	}
	if (reauth) {
		/* The session keeps its keys; a signed answer must verify with them. */
		struct smb2_msg m;
		(void)smb2_check_message(x.msg, x.len, &m);
		if ((m.flags & SMB2_FLAGS_SIGNED) && s->have_keys &&
		    smb2_verify(c, x.msg, x.len) < 0) {
			rc = smb_failf(c, SMBG_ECRYPTO,
				       "re-authentication: the server's signature does not verify");
			goto out;
		}
		log_debug("session re-authenticated as %s", smb_login_user(c));
		rc = 0;
		goto out;
	}
	if ((rc = smb_login_check_guest(c, (s->session_flags & SMB2_SESSION_FLAG_IS_GUEST) != 0,
					(s->session_flags & SMB2_SESSION_FLAG_IS_NULL) != 0)) < 0)
		goto out;
	int anonymous =
	    (s->session_flags & (SMB2_SESSION_FLAG_IS_GUEST | SMB2_SESSION_FLAG_IS_NULL)) ||
	    smb_auth_is_anonymous(a);
	if (!anonymous) {
		uint8_t key[16];
		if ((rc = smb_auth_session_key(a, key)) < 0 ||
		    (rc = smb2_derive_keys(c->dialect, key, 16, s->session_preauth, s->cipher,
					   &s->keys)) < 0) {
			OPENSSL_cleanse(key, sizeof(key));
			rc = smb_failf(c, rc, "login: key derivation failed");
			goto out;
		}
		OPENSSL_cleanse(key, sizeof(key));
		s->have_keys = 1;
		/* The final response is signed when the session signs, and always in 3.1.1. */
		struct smb2_msg m;
		(void)smb2_check_message(x.msg, x.len, &m);
		if (m.flags & SMB2_FLAGS_SIGNED) {
			if (smb2_verify(c, x.msg, x.len) < 0) {
				rc = smb_failf(c, SMBG_ECRYPTO,
					       "login: the server's signature does not verify "
					       "(wrong password for signing, or tampering)");
				goto out;
			}
		} else if (s->signing_required || c->dialect == SMB_DIALECT_3_1_1) {
			rc = smb_failf(c, SMBG_ECRYPTO,
				       "login: the final SESSION_SETUP response "
				       "is not signed");
			goto out;
		}
	} else {
		if (c->url.signing_required || c->url.encrypt_required) {
			rc =
			    smb_failf(c, SMBG_ENOPROTO,
				      "logged in as guest/anonymous: no session key, so signing or "
				      "encryption cannot be required; give a user name and "
				      "password");
			goto out;
		}
		s->signing_required = 0; /* a guest session cannot sign */
	}
	if ((s->session_flags & SMB2_SESSION_FLAG_ENCRYPT_DATA) || c->url.encrypt_required) {
		if (c->dialect < SMB_DIALECT_3_0 || s->cipher == SMB2_CIPHER_NONE ||
		    !s->have_keys) {
			rc =
			    smb_failf(c, SMBG_ENOPROTO,
				      "encryption is required but the negotiated dialect %s offers "
				      "none (use max-protocol 3.0 or later)",
				      smb_dialect_name(c->dialect));
			goto out;
		}
		s->encrypt = 1;
	}
	c->signing = s->signing_required && s->have_keys;
	c->encryption = s->encrypt;
	log_debug("logged in as %s (session flags 0x%x)", smb_login_user(c), s->session_flags);
	rc = 0;
out:
	free(prev);
	free(x.msg);
	wbuf_free_secret(&tok);
	smb_auth_free(a);
	return rc;
}

int smb2_session_setup(struct smb_client *c)
{
	return session_setup(c, 0);
}

int smb2_session_reauth(struct smb_client *c)
{
	return session_setup(c, 1);
}
