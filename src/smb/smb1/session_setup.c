/* SESSION_SETUP_ANDX (MS-CIFS 2.2.4.53, MS-SMB 2.2.4.6): user-level logon, either with
 * extended security (SPNEGO/NTLMSSP legs, auth/auth.h) or with a plain challenge/response to the
 * NEGOTIATE challenge: NTLMv2 and LMv2 by default, NTLMv1 and LM only when auth-ntlmv1=true, and
 * then only after the server refused NTLMv2 (with a warning).
 *
 * The last leg carries TREE_CONNECT_ANDX chained behind it (one round trip less); a server that
 * rejects the chain gets the logon again without it. Signing starts with the last leg: its
 * request is sequence number 0, its response 1 (sign.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth/auth.h"
#include "auth/ntlmssp.h"
#include "crypto/kdf.h"
#include "crypto/legacy.h"
#include "smb/login.h"
#include "smb/reply.h"
#include "smb/smb1/smb1.h"
#include "util/log.h"
#include "util/utf16.h"

#define CLIENT_MAX_BUFFER 0xFFFF
#define CLIENT_VC_NUMBER  1 /* not 0: some servers drop a client's other sessions on VC 0 */
#define NATIVE_OS	  "smbgate"
#define MAX_LEGS	  8
#define RETRY_UNCHAINED	  1 /* internal: the server refused the chained TREE_CONNECT_ANDX */

#define SMB1_ACTION_GUEST 0x0001

static uint32_t client_caps(const struct smb1_state *s)
{
	uint32_t caps =
	    SMB1_CAP_LARGE_FILES | SMB1_CAP_NT_SMBS | SMB1_CAP_LARGE_READX | SMB1_CAP_LARGE_WRITEX;
	if (s->unicode)
		caps |= SMB1_CAP_UNICODE;
	if (s->nt_status)
		caps |= SMB1_CAP_STATUS32;
	if (s->ext_sec)
		caps |= SMB1_CAP_EXTENDED_SECURITY;
	return caps;
}

/* The fields every SESSION_SETUP_ANDX starts with, after the AndX header. */
static void put_common(struct smb_client *c, struct wbuf *b)
{
	struct smb1_state *s = smb1_st(c);
	wbuf_put_le16(b, CLIENT_MAX_BUFFER);
	wbuf_put_le16(b, s->max_mpx);
	wbuf_put_le16(b, CLIENT_VC_NUMBER);
	wbuf_put_le32(b, s->vc_session_key);
}

/* Appends the TREE_CONNECT_ANDX block and links it from the first block's AndX header. */
static int chain_tcon(struct smb_client *c, struct smb1_req *r)
{
	smb1_bytes_end(r);
	while (smb1_hdr_off(r) & 3)
		wbuf_put_u8(&r->pdu, 0);
	size_t off = smb1_hdr_off(r);
	/* The first block's AndX header is right after the header's WordCount. */
	r->pdu.p[4 + SMB1_HDR_SIZE + 1] = SMB1_COM_TREE_CONNECT_ANDX;
	wbuf_set_le16(&r->pdu, 4 + SMB1_HDR_SIZE + 3, (uint16_t)off);
	return smb1_tcon_build(c, r);
}

static int send_leg(struct smb_client *c, struct smb1_req *r, struct smb_reply *x)
{
	/* Tell the server we want signing when the user requires it; a server that requires
	 * it signs anyway. */
	if (c->url.signing_required)
		smb1_req_add_flags2(r, SMB1_FLAGS2_SECURITY_SIGNATURE |
					   SMB1_FLAGS2_SIGNATURE_REQUIRED);
	smb_reply_reset(x);
	r->ctx = x;
	return smb_reply_wait(c, smb1_submit(c, r), x);
}

/* What the last response said about the logon and the chained tree connect. */
struct leg {
	struct smb1_msg m; /* the SESSION_SETUP_ANDX block */
	uint16_t action;
	struct cursor blob; /* extended security token */
	int tcon;	    /* 0 none in the answer, 1 connected, -1 failed */
	uint32_t tcon_status;
	struct smb1_msg tm; /* the TREE_CONNECT_ANDX block */
};

static int parse_leg(struct smb_client *c, const struct smb_reply *x, int ext, struct leg *l)
{
	memset(l, 0, sizeof(*l));
	if (smb1_check_message(x->msg, x->len, &l->m) != 0 ||
	    l->m.command != SMB1_COM_SESSION_SETUP_ANDX)
		return smb_failf(c, SMBG_EPROTO, "malformed SESSION_SETUP_ANDX response");
	cursor_init(&l->blob, x->msg, 0);
	/* An error that ended the logon comes with no words; a failed chained command comes
	 * after a complete logon block (MS-CIFS 3.3.5.2). */
	if (l->m.wct == 0)
		return 0;
	struct cursor w = l->m.words;
	uint16_t blob_len = 0;
	if (cursor_skip(&w, 4) != 0 || cursor_get_le16(&w, &l->action) != 0 ||
	    (ext && cursor_get_le16(&w, &blob_len) != 0))
		return smb_failf(c, SMBG_EPROTO, "malformed SESSION_SETUP_ANDX response");
	if (ext) {
		struct cursor b = l->m.bytes;
		const uint8_t *p;
		if (cursor_get_ptr(&b, blob_len, &p) != 0)
			return smb_failf(c, SMBG_EPROTO,
					 "SESSION_SETUP_ANDX security blob "
					 "outside the message");
		cursor_init(&l->blob, p, blob_len);
	}
	int rc = smb1_andx_next(&l->m, &l->tm);
	if (rc < 0)
		return smb_failf(c, SMBG_EPROTO, "malformed AndX chain in SESSION_SETUP_ANDX");
	if (rc == 1 && l->tm.command == SMB1_COM_TREE_CONNECT_ANDX) {
		/* The header's status belongs to the last command of the chain. */
		if (l->m.status == SMB1_STATUS_SUCCESS && l->tm.wct >= 3) {
			l->tcon = 1;
		} else {
			l->tcon = -1;
			l->tcon_status = l->m.status;
			l->m.status = SMB1_STATUS_SUCCESS;
		}
	}
	return 0;
}

/* A logon failure worth repeating without the chained TREE_CONNECT_ANDX. */
static int chain_refused(const struct leg *l, int chained)
{
	if (!chained || l->m.wct != 0)
		return 0;
	switch (l->m.status) {
	case SMB1_STATUS_NOT_SUPPORTED:
	case SMB1_STATUS_INVALID_PARAMETER:
	case 0xC0000002u: /* NOT_IMPLEMENTED */
	case 0xC0000001u: /* UNSUCCESSFUL (ERRSRV/ERRerror) */
		return 1;
	default:
		return 0;
	}
}

static int logon_failed(struct smb_client *c, uint32_t status)
{
	int err = smbg_err_from_ntstatus(status);
	char what[300];
	snprintf(what, sizeof(what), "login as %s@%s", smb_login_user(c), c->url.host);
	struct smb1_msg m = {.status = status};
	int rc = smb1_status_err(c, &m, what, NULL);
	return err == SMBG_EACCES ? (c->dead ? rc : SMBG_EAUTH) : rc;
}

/* After the last leg: signing, guest checks, the chained tree connect. */
static int finish(struct smb_client *c, const struct smb_reply *x, const struct leg *l,
		  const uint8_t *key, size_t key_len, const uint8_t *resp, size_t resp_len,
		  int anonymous, int *tree_done)
{
	struct smb1_state *s = smb1_st(c);
	int guest = (l->action & SMB1_ACTION_GUEST) != 0;
	int want = c->url.signing_required ||
		   (s->security_mode & SMB1_NEGOTIATE_SECURITY_SIGNATURES_REQUIRED);
	/* A server may sign without being asked to; an unsigned answer carries zeros or
	 * "BSRSPYL " where the signature goes. */
	const uint8_t *sig = x->msg + 14;
	int server_signs =
	    memcmp(sig, "\0\0\0\0\0\0\0\0", 8) != 0 && memcmp(sig, "BSRSPYL ", 8) != 0;
	int rc;
	s->uid = l->m.uid;
	if ((rc = smb_login_check_guest(c, guest, 0)) < 0)
		return rc;
	if (anonymous || guest) {
		if (c->url.signing_required)
			return smb_failf(c, SMBG_ENOPROTO,
					 "logged in as guest/anonymous: no session key, so signing "
					 "cannot be required; give a user name and password");
		if (want)
			log_warn("the server requires signing, which a guest/anonymous session "
				 "cannot do: going on unsigned");
	} else if (server_signs) {
		if ((rc = smb1_sign_start(c, key, key_len, resp, resp_len)) < 0)
			return rc;
		if (smb1_verify_message(s->mac_key, s->mac_key_len, 1, x->msg, x->len) < 0)
			return smb_failf(c, SMBG_ECRYPTO,
					 "login: the server's signature does not verify (wrong "
					 "password for signing, or tampering)");
		c->signing = 1;
	} else if (c->url.signing_required) {
		return smb_failf(c, SMBG_ENOPROTO,
				 "signing is required but the server did not sign the session%s",
				 s->ext_sec ? ""
					    : " (plain authentication may leave it without a "
					      "session key)");
	} else if (want) {
		/* Samba does so after plain (non-NTLMSSP) logons, having no session key. */
		log_warn("the server asks for signing but did not sign the session: going on "
			 "unsigned");
	}
	log_debug("smb1: logged in as %s (uid 0x%x, action 0x%x)", smb_login_user(c), s->uid,
		  l->action);
	if (l->tcon)
		c->stage = SMB_STAGE_TREE;
	if (l->tcon == 1) {
		if ((rc = smb1_tcon_parse(c, &l->tm)) < 0)
			return rc;
		*tree_done = 1;
	} else if (l->tcon == -1) {
		return smb1_tcon_status(c, l->tcon_status);
	}
	return 0;
}

/* ---- extended security ---- */

static int logon_ext(struct smb_client *c, int chain, int *tree_done)
{
	struct smb1_state *s = smb1_st(c);
	struct smb_auth *a = smb_login_auth_new(c);
	if (!a)
		return SMBG_ENOMEM;
	struct wbuf tok;
	wbuf_init(&tok);
	struct smb_reply x = {0};
	const uint8_t *in = s->security_blob;
	size_t inlen = s->security_blob_len;
	uint8_t *prev = NULL; /* the previous answer, owned while `in` points into it */
	int rc;
	struct leg l;
	memset(&l, 0, sizeof(l));
	s->uid = 0;
	for (int legs = 0;; legs++) {
		if (legs >= MAX_LEGS) {
			rc = smb_failf(c, SMBG_EPROTO,
				       "authentication did not finish after %d legs", legs);
			goto out;
		}
		wbuf_reset(&tok);
		int last = smb_auth_step(a, in, inlen, &tok);
		if (last < 0 || tok.len > 0xFFFF) {
			rc = smb_failf(c, last < 0 ? last : SMBG_ETOOBIG,
				       "login as %s: cannot build the authentication token (%s)",
				       smb_login_user(c),
				       smbg_strerror(last < 0 ? last : SMBG_ETOOBIG));
			goto out;
		}
		struct smb1_req *r = smb1_req_new(c, SMB1_COM_SESSION_SETUP_ANDX, smb1_done_reply);
		if (!r) {
			rc = SMBG_ENOMEM;
			goto out;
		}
		struct wbuf *b = &r->pdu;
		smb1_words_begin(r, 12);
		wbuf_put_u8(b, SMB1_COM_NO_ANDX_COMMAND);
		wbuf_put_u8(b, 0);
		wbuf_put_le16(b, 0);
		put_common(c, b);
		wbuf_put_le16(b, (uint16_t)tok.len);
		wbuf_put_le32(b, 0); /* Reserved */
		wbuf_put_le32(b, client_caps(s));
		smb1_bytes_begin(r);
		wbuf_put_bytes(b, tok.p, tok.len);
		rc = smb1_put_string(c, r, NATIVE_OS, 0);
		if (rc == 0)
			rc = smb1_put_string(c, r, NATIVE_OS, 0);
		int chained = chain && last == 1;
		if (rc == 0 && chained)
			rc = chain_tcon(c, r);
		if (rc < 0) {
			smb1_req_free(r);
			goto out;
		}
		rc = send_leg(c, r, &x);
		free(prev);
		prev = NULL;
		if (rc < 0)
			goto out;
		if ((rc = parse_leg(c, &x, 1, &l)) < 0)
			goto out;
		if (l.m.status == SMB1_STATUS_MORE_PROCESSING_REQUIRED && last == 0) {
			s->uid = l.m.uid; /* the following legs carry the server's UID */
			prev = x.msg;
			x.msg = NULL;
			in = l.blob.p;
			inlen = l.blob.len;
			continue;
		}
		if (l.m.status != SMB1_STATUS_SUCCESS) {
			rc = chain_refused(&l, chained) ? RETRY_UNCHAINED
							: logon_failed(c, l.m.status);
			goto out;
		}
		rc = smb_auth_finish(a, l.blob.p, l.blob.len);
		if (rc < 0) {
			rc = smb_failf(c, rc,
				       "login: the server's final authentication token did "
				       "not verify");
			goto out;
		}
		break;
	}
	uint8_t key[16];
	int anonymous = smb_auth_is_anonymous(a);
	if (!anonymous && smb_auth_session_key(a, key) < 0)
		anonymous = 1;
	rc = finish(c, &x, &l, key, 16, NULL, 0, anonymous, tree_done);
	OPENSSL_cleanse(key, sizeof(key));
out:
	free(prev);
	free(x.msg);
	wbuf_free_secret(&tok);
	smb_auth_free(a);
	return rc;
}

/* ---- plain challenge/response ---- */

struct plain {
	uint8_t lm[24];
	size_t lm_len;
	struct wbuf nt;
	uint8_t key[16];
	int have_key;
	const char *domain;
};

static uint64_t filetime_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return smb_timespec_to_filetime(&ts);
}

static void put_av(struct wbuf *b, uint16_t id, const char *s)
{
	size_t at = b->len;
	wbuf_put_le16(b, id);
	wbuf_put_le16(b, 0);
	size_t start = b->len;
	if (s && utf16_from_utf8(b, s, strlen(s), UTF16_UPPERCASE) == 0)
		wbuf_set_le16(b, at + 2, (uint16_t)(b->len - start));
	else
		b->len = start; /* an unusable name is left out */
}

/* NTLMv2 and LMv2 responses (MS-NLMP 3.3.2) to the NEGOTIATE challenge. */
static int plain_v2(struct smb_client *c, struct plain *p)
{
	struct smb1_state *s = smb1_st(c);
	uint8_t nt_hash[16], rkey[16], cc[8], proof[16];
	struct wbuf temp;
	wbuf_init(&temp);
	int rc = ntlm_nt_hash(c->url.password, nt_hash);
	if (rc == 0)
		rc = ntlm_ntowfv2(nt_hash, c->url.user, p->domain, rkey);
	if (rc == 0)
		rc = smb_random(cc, 8);
	if (rc < 0)
		goto out;
	wbuf_put_u8(&temp, 1); /* RespType */
	wbuf_put_u8(&temp, 1); /* HiRespType */
	wbuf_put_zero(&temp, 6);
	wbuf_put_le64(&temp, filetime_now());
	wbuf_put_bytes(&temp, cc, 8);
	wbuf_put_zero(&temp, 4);
	/* The server's names, as a target info would carry them. */
	put_av(&temp, MSV_AV_NB_DOMAIN_NAME, s->server_domain);
	put_av(&temp, MSV_AV_NB_COMPUTER_NAME, s->server_name);
	wbuf_put_le32(&temp, MSV_AV_EOL);
	wbuf_put_zero(&temp, 4);
	if ((rc = wbuf_error(&temp)) < 0)
		goto out;
	rc = ntlm_v2_proof(rkey, s->challenge, temp.p, temp.len, proof, p->key);
	if (rc == 0)
		rc = ntlm_lmv2_response(rkey, s->challenge, cc, p->lm);
	if (rc < 0)
		goto out;
	wbuf_put_bytes(&p->nt, proof, 16);
	wbuf_put_bytes(&p->nt, temp.p, temp.len);
	p->lm_len = 24;
	p->have_key = 1;
	rc = wbuf_error(&p->nt);
out:
	wbuf_free_secret(&temp);
	OPENSSL_cleanse(nt_hash, sizeof(nt_hash));
	OPENSSL_cleanse(rkey, sizeof(rkey));
	OPENSSL_cleanse(proof, sizeof(proof));
	return rc;
}

/* NTLMv1 and LM responses (MS-NLMP 3.3.1, no extended session security). */
static int plain_v1(struct smb_client *c, struct plain *p)
{
	struct smb1_state *s = smb1_st(c);
	uint8_t nt_hash[16], lm_hash[16], nt[24];
	int rc = ntlm_nt_hash(c->url.password, nt_hash);
	if (rc == 0)
		rc = ntlm_desl(nt_hash, s->challenge, nt);
	if (rc == 0)
		rc = smb_md4(nt_hash, 16, p->key); /* the session key: MD4(NTOWFv1) */
	if (rc < 0)
		goto out;
	/* LM only for passwords that have an LM hash (ASCII, up to 14 characters). */
	if (c->url.password && strlen(c->url.password) <= 14 &&
	    ntlm_lm_hash(c->url.password, lm_hash) == 0)
		rc = ntlm_desl(lm_hash, s->challenge, p->lm);
	else
		memcpy(p->lm, nt, 24);
	p->lm_len = 24;
	wbuf_put_bytes(&p->nt, nt, 24);
	p->have_key = 1;
	if (rc == 0)
		rc = wbuf_error(&p->nt);
out:
	OPENSSL_cleanse(nt_hash, sizeof(nt_hash));
	OPENSSL_cleanse(lm_hash, sizeof(lm_hash));
	OPENSSL_cleanse(nt, sizeof(nt));
	return rc;
}

static int logon_plain_once(struct smb_client *c, int chain, int v1, int *tree_done,
			    uint32_t *status)
{
	struct smb1_state *s = smb1_st(c);
	int anonymous = !c->url.user || !*c->url.user;
	struct plain p;
	memset(&p, 0, sizeof(p));
	wbuf_init(&p.nt);
	p.domain = c->url.domain ? c->url.domain : (s->server_domain ? s->server_domain : "");
	struct smb_reply x = {0};
	struct leg l;
	int rc = 0;
	*status = 0;
	if (!anonymous)
		rc = v1 ? plain_v1(c, &p) : plain_v2(c, &p);
	if (rc < 0) {
		rc = smb_failf(c, rc, "login as %s: cannot compute the challenge response (%s)",
			       smb_login_user(c), smbg_strerror(rc));
		goto out;
	}
	struct smb1_req *r = smb1_req_new(c, SMB1_COM_SESSION_SETUP_ANDX, smb1_done_reply);
	if (!r) {
		rc = SMBG_ENOMEM;
		goto out;
	}
	s->uid = 0;
	struct wbuf *b = &r->pdu;
	smb1_words_begin(r, 13);
	wbuf_put_u8(b, SMB1_COM_NO_ANDX_COMMAND);
	wbuf_put_u8(b, 0);
	wbuf_put_le16(b, 0);
	put_common(c, b);
	wbuf_put_le16(b, (uint16_t)p.lm_len); /* OEMPasswordLen: the LM/LMv2 response */
	wbuf_put_le16(b, (uint16_t)p.nt.len); /* UnicodePasswordLen: the NT response */
	wbuf_put_le32(b, 0);
	wbuf_put_le32(b, client_caps(s));
	smb1_bytes_begin(r);
	wbuf_put_bytes(b, p.lm, p.lm_len);
	wbuf_put_bytes(b, p.nt.p, p.nt.len);
	rc = smb1_put_string(c, r, anonymous ? "" : c->url.user, 0);
	if (rc == 0)
		rc = smb1_put_string(c, r, anonymous ? "" : p.domain, 0);
	if (rc == 0)
		rc = smb1_put_string(c, r, NATIVE_OS, 0);
	if (rc == 0)
		rc = smb1_put_string(c, r, NATIVE_OS, 0);
	if (rc == 0 && chain)
		rc = chain_tcon(c, r);
	if (rc < 0) {
		smb1_req_free(r);
		rc = smb_failf(c, rc, "login as %s: the user or domain name cannot be sent",
			       smb_login_user(c));
		goto out;
	}
	if ((rc = send_leg(c, r, &x)) < 0 || (rc = parse_leg(c, &x, 0, &l)) < 0)
		goto out;
	if (l.m.status != SMB1_STATUS_SUCCESS) {
		*status = l.m.status;
		rc = chain_refused(&l, chain) ? RETRY_UNCHAINED : logon_failed(c, l.m.status);
		goto out;
	}
	rc = finish(c, &x, &l, p.key, 16, p.nt.p, p.nt.len, anonymous || !p.have_key, tree_done);
out:
	free(x.msg);
	wbuf_free_secret(&p.nt);
	OPENSSL_cleanse(&p, sizeof(p));
	return rc;
}

static int logon_plain(struct smb_client *c, int *tree_done)
{
	uint32_t status;
	int chain = 1;
	int rc = logon_plain_once(c, chain, 0, tree_done, &status);
	if (rc == RETRY_UNCHAINED && !c->dead) {
		log_debug("smb1: the server refused SESSION_SETUP_ANDX + TREE_CONNECT_ANDX in one "
			  "message; logging in without the chain");
		chain = 0;
		rc = logon_plain_once(c, chain, 0, tree_done, &status);
	}
	/* Samba refuses NTLMv2 outside NTLMSSP unless `raw NTLMv2 auth = yes` (with
	 * INVALID_PARAMETER); old servers refuse it as a logon failure. */
	int v2_refused =
	    status == SMB1_STATUS_INVALID_PARAMETER || status == SMB1_STATUS_LOGON_FAILURE;
	if (rc < 0 && v2_refused && !c->dead && c->url.user && *c->url.user) {
		if (c->url.ntlmv1) {
			log_warn(
			    "login as %s@%s: NTLMv2 refused, trying NTLMv1 (auth-ntlmv1=true): "
			    "the password hash is exposed to offline cracking",
			    c->url.user, c->url.host);
			rc = logon_plain_once(c, chain, 1, tree_done, &status);
			if (rc == RETRY_UNCHAINED && !c->dead)
				rc = logon_plain_once(c, 0, 1, tree_done, &status);
		} else if (status == SMB1_STATUS_INVALID_PARAMETER) {
			rc =
			    smb_failf(c, SMBG_ENOPROTO,
				      "login as %s@%s: the server takes no NTLMv2 without extended "
				      "security (STATUS_INVALID_PARAMETER); NTLMv1 would need "
				      "auth-ntlmv1=true",
				      c->url.user, c->url.host);
		}
	}
	return rc;
}

int smb1_session_setup(struct smb_client *c, int *tree_done)
{
	struct smb1_state *s = smb1_st(c);
	*tree_done = 0;
	int rc = s->ext_sec ? logon_ext(c, 1, tree_done) : logon_plain(c, tree_done);
	if (rc == RETRY_UNCHAINED && s->ext_sec && !c->dead) {
		log_debug("smb1: the server refused SESSION_SETUP_ANDX + TREE_CONNECT_ANDX in one "
			  "message; logging in without the chain");
		rc = logon_ext(c, 0, tree_done);
	}
	return rc == RETRY_UNCHAINED ? logon_failed(c, SMB1_STATUS_NOT_SUPPORTED) : rc;
}
