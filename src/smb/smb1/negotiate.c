/* SMB_COM_NEGOTIATE (MS-CIFS 2.2.4.52, MS-SMB 2.2.4.5) and the multi-protocol negotiate of
 * MS-SMB2 3.2.4.2.1: the dialect list offers "NT LM 0.12" and, when the URL allows SMB2, "SMB
 * 2.002" and "SMB 2.???". A server that answers in SMB2 gets the connection handed to the SMB2
 * code: dialect 0x02FF asks for a second, SMB2 NEGOTIATE (MessageId 1); 0x0202 is final. */
#include <stdlib.h>
#include <string.h>

#include "smb/reply.h"
#include "smb/smb1/smb1.h"
#include "smb/smb2/smb2.h"
#include "util/log.h"
#include "util/utf16.h"

#define SMB1_MAX_MPX_USED 256 /* more in flight buys nothing and costs memory */
#define SMB1_MIN_BUFFER	  1024

int smb1_negotiate_parse(const struct smb1_msg *m, struct smb1_negotiate_resp *r)
{
	struct cursor w = m->words, b = m->bytes;
	uint16_t tz;
	memset(r, 0, sizeof(*r));
	if (cursor_get_le16(&w, &r->dialect_index) != 0)
		return SMBG_EPROTO;
	if (r->dialect_index == 0xFFFF)
		return 0; /* no common dialect: nothing else follows */
	if (m->wct != 17 || cursor_get_u8(&w, &r->security_mode) != 0 ||
	    cursor_get_le16(&w, &r->max_mpx) != 0 || cursor_get_le16(&w, &r->max_vcs) != 0 ||
	    cursor_get_le32(&w, &r->max_buffer) != 0 || cursor_get_le32(&w, &r->max_raw) != 0 ||
	    cursor_get_le32(&w, &r->session_key) != 0 ||
	    cursor_get_le32(&w, &r->capabilities) != 0 ||
	    cursor_get_le64(&w, &r->system_time) != 0 || cursor_get_le16(&w, &tz) != 0 ||
	    cursor_get_u8(&w, &r->challenge_len) != 0)
		return SMBG_EPROTO;
	r->tz = (int16_t)tz;
	if (r->capabilities & SMB1_CAP_EXTENDED_SECURITY) {
		if (cursor_get_ptr(&b, 16, &r->guid) != 0)
			return SMBG_EPROTO;
		r->blob_len = cursor_left(&b);
		if (cursor_get_ptr(&b, r->blob_len, &r->blob) != 0)
			return SMBG_EPROTO;
	} else {
		if (cursor_get_ptr(&b, r->challenge_len, &r->challenge) != 0)
			return SMBG_EPROTO;
		r->names_len = cursor_left(&b);
		if (cursor_get_ptr(&b, r->names_len, &r->names) != 0)
			return SMBG_EPROTO;
	}
	return 0;
}

/* DomainName and ServerName follow the challenge without alignment; either may be missing. */
static int read_names(struct smb1_state *s, const uint8_t *p, size_t len)
{
	size_t unit = s->unicode ? 2 : 1, off = 0;
	char **dst[2] = {&s->server_domain, &s->server_name};
	for (int i = 0; i < 2 && off < len; i++) {
		size_t n = 0;
		while (off + n + unit <= len && (p[off + n] || (unit == 2 && p[off + n + 1])))
			n += unit;
		int rc = smb1_get_string(s->unicode, p + off, n, dst[i]);
		if (rc < 0)
			return rc;
		off += n + unit;
	}
	return 0;
}

static int apply_smb1(struct smb_client *c, const uint8_t *msg, size_t len)
{
	struct smb1_state *s = smb1_st(c);
	struct smb1_msg m;
	struct smb1_negotiate_resp nr;
	if (smb1_check_message(msg, len, &m) != 0 || m.command != SMB1_COM_NEGOTIATE ||
	    smb1_negotiate_parse(&m, &nr) != 0)
		return smb_failf(c, SMBG_EPROTO, "malformed SMB1 NEGOTIATE response");
	if (m.status != SMB1_STATUS_SUCCESS)
		return smb1_status_err(c, &m, "negotiate", NULL);
	if (nr.dialect_index == 0xFFFF)
		return smb_failf(c, SMBG_ENOPROTO,
				 "the server speaks none of the offered dialects (NT LM 0.12%s)",
				 c->url.max_protocol >= SMB_DIALECT_2_0_2 ? ", SMB 2" : "");
	if (nr.dialect_index != 0)
		return smb_failf(c, SMBG_EPROTO, "the server chose dialect %u in an SMB1 answer",
				 nr.dialect_index);
	if (!(nr.security_mode & SMB1_NEGOTIATE_USER_SECURITY))
		return smb_failf(c, SMBG_ENOTSUP,
				 "the server uses share-level security (a password per share), "
				 "which smbgate does not support: configure it for user-level "
				 "security");
	if (!(nr.security_mode & SMB1_NEGOTIATE_ENCRYPT_PASSWORDS))
		return smb_failf(c, SMBG_ENOTSUP,
				 "the server asks for plaintext passwords, which smbgate never "
				 "sends");
	if (nr.max_buffer < SMB1_MIN_BUFFER)
		return smb_failf(c, SMBG_EPROTO, "the server's MaxBufferSize %u is too small",
				 nr.max_buffer);
	s->security_mode = nr.security_mode;
	s->max_mpx =
	    nr.max_mpx == 0 ? 1 : (nr.max_mpx > SMB1_MAX_MPX_USED ? SMB1_MAX_MPX_USED : nr.max_mpx);
	s->max_buffer = nr.max_buffer;
	s->server_caps = nr.capabilities;
	s->vc_session_key = nr.session_key;
	s->unicode = (nr.capabilities & SMB1_CAP_UNICODE) != 0;
	s->nt_status = (nr.capabilities & SMB1_CAP_STATUS32) != 0;
	s->ext_sec = (nr.capabilities & SMB1_CAP_EXTENDED_SECURITY) != 0;
	if (c->url.signing_required &&
	    !(nr.security_mode & SMB1_NEGOTIATE_SECURITY_SIGNATURES_ENABLED))
		return smb_failf(c, SMBG_ENOPROTO,
				 "signing is required but the server does not sign SMB1");
	if (s->ext_sec) {
		if (nr.blob_len) {
			s->security_blob = malloc(nr.blob_len);
			if (!s->security_blob)
				return SMBG_ENOMEM;
			memcpy(s->security_blob, nr.blob, nr.blob_len);
			s->security_blob_len = nr.blob_len;
		}
	} else {
		if (nr.challenge_len != 8)
			return smb_failf(c, SMBG_EPROTO,
					 "the server sent a %u-byte challenge (8 expected)",
					 nr.challenge_len);
		memcpy(s->challenge, nr.challenge, 8);
		int rc = read_names(s, nr.names, nr.names_len);
		if (rc == SMBG_ENOMEM)
			return rc;
		if (rc < 0)
			log_debug("smb1: unreadable domain/server name in NEGOTIATE");
	}
	c->dialect = SMB_DIALECT_NT1;
	log_debug("negotiated SMB1 (NT LM 0.12): caps 0x%08x, security mode 0x%02x, max mpx %u, "
		  "max buffer %u, %s security",
		  nr.capabilities, nr.security_mode, s->max_mpx, s->max_buffer,
		  s->ext_sec ? "extended" : "plain");
	return 0;
}

/* Hands the connection to the SMB2 code after an SMB2 answer to our SMB1 NEGOTIATE. */
static int continue_smb2(struct smb_client *c, uint8_t *reply, size_t len)
{
	struct smb2_msg m;
	struct smb2_negotiate_resp nr;
	smb1_state_free(c);
	c->ops = &smb2_ops;
	int rc = smb2_state_init(c);
	if (rc < 0)
		return smb_failf(c, rc, "cannot set up the connection: %s", smbg_strerror(rc));
	if (smb2_check_message(reply, len, &m) != 0 || m.command != SMB2_NEGOTIATE ||
	    m.status != STATUS_SUCCESS || smb2_negotiate_parse(&m, &nr) != 0)
		return smb_failf(c, SMBG_EPROTO, "malformed SMB2 answer to the SMB1 NEGOTIATE");
	if (nr.dialect == 0x02FF) {
		/* MS-SMB2 3.2.5.2: a new SMB2 NEGOTIATE, sent with MessageId 1. */
		log_debug("smb1: the server upgrades to SMB2 (0x02FF): SMB2 NEGOTIATE follows");
		c->s2->next_msg_id = 1;
		return smb2_negotiate(c);
	}
	if (nr.dialect == SMB_DIALECT_2_0_2) {
		log_debug("smb1: the server chose SMB 2.0.2 in the multi-protocol NEGOTIATE");
		c->s2->next_msg_id = 1;
		return smb2_negotiate_finish(c, reply, len);
	}
	return smb_failf(c, SMBG_EPROTO,
			 "the server answered the SMB1 NEGOTIATE with SMB2 "
			 "dialect 0x%04x",
			 nr.dialect);
}

int smb1_negotiate(struct smb_client *c)
{
	int rc = smb1_state_init(c);
	if (rc < 0)
		return smb_failf(c, rc, "cannot set up the connection: %s", smbg_strerror(rc));
	struct smb1_state *s = smb1_st(c);
	c->ops = &smb1_ops;
	/* What we would like; the response decides what stays on. */
	s->unicode = s->nt_status = s->ext_sec = 1;
	s->negotiating = 1;
	struct smb1_req *r = smb1_req_new(c, SMB1_COM_NEGOTIATE, smb1_done_reply);
	if (!r)
		return SMBG_ENOMEM;
	/* x gets no message when the server answers in SMB2 (smb1_frame keeps that one). */
	struct smb_reply x = {0};
	r->ctx = &x;
	smb1_words_begin(r, 0);
	smb1_bytes_begin(r);
	/* Each dialect: BufferFormat 0x02 and a NUL-terminated OEM string. */
	wbuf_put_bytes(&r->pdu, "\x02NT LM 0.12", 12);
	if (c->url.max_protocol >= SMB_DIALECT_2_0_2)
		wbuf_put_bytes(&r->pdu, "\x02SMB 2.002", 11);
	if (c->url.max_protocol > SMB_DIALECT_2_0_2)
		wbuf_put_bytes(&r->pdu, "\x02SMB 2.???", 11);
	rc = smb_reply_wait(c, smb1_submit(c, r), &x);
	s->negotiating = 0;
	s->unicode = s->nt_status = s->ext_sec = 0;
	if (rc < 0) {
		free(x.msg);
		if (rc == SMBG_ECLOSED)
			return smb_failf(c, rc,
					 "the server closed the connection during "
					 "NEGOTIATE: it may not speak %s",
					 c->url.max_protocol >= SMB_DIALECT_2_0_2
					     ? "SMB1 or SMB2"
					     : "SMB1 (NT1); try a higher max-protocol");
		return rc;
	}
	if (s->smb2_reply) {
		uint8_t *reply = s->smb2_reply;
		size_t len = s->smb2_reply_len;
		s->smb2_reply = NULL;
		if (c->url.max_protocol < SMB_DIALECT_2_0_2) {
			free(reply);
			return smb_failf(c, SMBG_EPROTO,
					 "the server answered in SMB2 though only NT1 was offered");
		}
		rc = continue_smb2(c, reply, len);
		free(reply);
		return rc;
	}
	rc = apply_smb1(c, x.msg, x.len);
	free(x.msg);
	return rc;
}
