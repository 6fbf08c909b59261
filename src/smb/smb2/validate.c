/* FSCTL_VALIDATE_NEGOTIATE_INFO (MS-SMB2 2.2.31.4, 2.2.32.6, 3.2.5.14.12): on dialects 3.0 and
 * 3.0.2, which lack 3.1.1's preauth integrity hash, the client repeats what it offered in
 * NEGOTIATE in a signed IOCTL after the tree connect, and checks what the server says it chose
 * against what the (unsigned) NEGOTIATE response said. Someone on the path who stripped the
 * better dialects or the signing requirement from the NEGOTIATE is caught here: the server
 * sees a different offer and drops the connection, or its signed answer differs from what we
 * were told. Either ends the connection. */
#include <stdlib.h>
#include <string.h>

#include "smb/reply.h"
#include "smb/smb2/smb2.h"
#include "util/log.h"

#define FSCTL_VALIDATE_NEGOTIATE_INFO 0x00140204u
#define SMB2_0_IOCTL_IS_FSCTL	      0x00000001u
#define VALIDATE_RESP_SIZE	      24 /* Capabilities, Guid, SecurityMode, Dialect */
#define STATUS_NOT_SUPPORTED	      0xC00000BBu
#define STATUS_INVALID_DEVICE_REQUEST 0xC0000010u

int smb2_validate_negotiate_parse(const struct smb2_msg *m, struct smb2_validate_resp *v)
{
	struct cursor c, out;
	uint16_t size, reserved;
	uint32_t ctl, in_off, in_len, out_off, out_len;
	cursor_init(&c, m->p, m->len);
	if (cursor_seek(&c, SMB2_HDR_SIZE) != 0 || cursor_get_le16(&c, &size) != 0 ||
	    cursor_get_le16(&c, &reserved) != 0 || cursor_get_le32(&c, &ctl) != 0 ||
	    cursor_skip(&c, 16) != 0 || cursor_get_le32(&c, &in_off) != 0 ||
	    cursor_get_le32(&c, &in_len) != 0 || cursor_get_le32(&c, &out_off) != 0 ||
	    cursor_get_le32(&c, &out_len) != 0 || ctl != FSCTL_VALIDATE_NEGOTIATE_INFO ||
	    out_len < VALIDATE_RESP_SIZE || smb2_msg_buffer(m, out_off, out_len, &out) != 0 ||
	    cursor_get_le32(&out, &v->capabilities) != 0 ||
	    cursor_get_bytes(&out, v->guid, 16) != 0 ||
	    cursor_get_le16(&out, &v->security_mode) != 0 ||
	    cursor_get_le16(&out, &v->dialect) != 0)
		return SMBG_EPROTO;
	return 0;
}

int smb2_validate_negotiate_check(struct smb_client *c, const struct smb2_validate_resp *v)
{
	const struct smb2_state *s = c->s2;
	const char *what = v->dialect != c->dialect			 ? "dialect"
			   : memcmp(v->guid, s->server_guid, 16) != 0	 ? "server GUID"
			   : v->security_mode != s->server_security_mode ? "security mode"
			   : v->capabilities != s->server_caps		 ? "capabilities"
									 : NULL;
	if (!what)
		return 0;
	return smb_failf(c, SMBG_ECRYPTO,
			 "VALIDATE_NEGOTIATE_INFO: the server's signed %s differs from its "
			 "NEGOTIATE response (dialect 0x%04x/0x%04x, security mode 0x%x/0x%x, "
			 "capabilities 0x%x/0x%x): the negotiation was altered on the way",
			 what, v->dialect, c->dialect, v->security_mode, s->server_security_mode,
			 v->capabilities, s->server_caps);
}

int smb2_validate_negotiate(struct smb_client *c)
{
	struct smb2_state *s = c->s2;
	if ((c->dialect != SMB_DIALECT_3_0 && c->dialect != SMB_DIALECT_3_0_2) || !s->have_keys)
		return 0; /* 3.1.1 has the preauth hash; a guest session cannot sign */
	struct smb2_req *r = smb2_req_new(c, SMB2_IOCTL, smb2_done_reply);
	if (!r)
		return SMBG_ENOMEM;
	struct smb_reply x = {0};
	r->ctx = &x;
	r->force_sign = 1; /* signed whether or not the session signs (MS-SMB2 3.2.5.5) */
	struct wbuf *b = &r->pdu;
	uint32_t in_len = 24 + 2u * s->ndialects;
	wbuf_put_le16(b, 57);
	wbuf_put_le16(b, 0);
	wbuf_put_le32(b, FSCTL_VALIDATE_NEGOTIATE_INFO);
	wbuf_put_le64(b, UINT64_MAX); /* FileId: none */
	wbuf_put_le64(b, UINT64_MAX);
	wbuf_put_le32(b, SMB2_HDR_SIZE + 56); /* InputOffset */
	wbuf_put_le32(b, in_len);
	wbuf_put_le32(b, 0); /* MaxInputResponse */
	wbuf_put_le32(b, 0); /* OutputOffset */
	wbuf_put_le32(b, 0); /* OutputCount */
	wbuf_put_le32(b, VALIDATE_RESP_SIZE);
	wbuf_put_le32(b, SMB2_0_IOCTL_IS_FSCTL);
	wbuf_put_le32(b, 0);
	/* 2.2.31.4: exactly what our NEGOTIATE offered */
	wbuf_put_le32(b, s->client_caps);
	wbuf_put_bytes(b, s->client_guid, 16);
	wbuf_put_le16(b, s->client_security_mode);
	wbuf_put_le16(b, s->ndialects);
	for (unsigned i = 0; i < s->ndialects; i++)
		wbuf_put_le16(b, s->dialects[i]);
	r->payload_size = in_len;
	int rc = smb_reply_wait(c, smb2_submit(c, r), &x);
	if (rc == SMBG_ECLOSED)
		rc =
		    smb_failf(c, SMBG_ECRYPTO,
			      "the server closed the connection on VALIDATE_NEGOTIATE_INFO: it saw "
			      "another NEGOTIATE than the one we sent, altered on the way");
	struct smb2_msg m;
	if (rc == 0 && smb2_check_message(x.msg, x.len, &m) != 0)
		rc = smb_failf(c, SMBG_EPROTO, "malformed VALIDATE_NEGOTIATE_INFO response");
	/* An answer that is neither signed (and then verified on receipt) nor sealed proves
	 * nothing (3.2.5.14.12). */
	if (rc == 0 && !(m.flags & SMB2_FLAGS_SIGNED) && !s->encrypt)
		rc = smb_failf(c, SMBG_ECRYPTO,
			       "the VALIDATE_NEGOTIATE_INFO response is not signed: the "
			       "connection may be tampered with");
	if (rc == 0 && m.status != STATUS_SUCCESS) {
		if (m.status == STATUS_NOT_SUPPORTED || m.status == STATUS_INVALID_DEVICE_REQUEST) {
			/* Old servers answer so (as Linux's cifs accepts); the answer is signed. */
			log_warn("the server does not support VALIDATE_NEGOTIATE_INFO (%s): the "
				 "negotiation of dialect %s is not verified",
				 smbg_ntstatus_name(m.status), smb_dialect_name(c->dialect));
		} else {
			rc = smb_fail(c, SMBG_ECRYPTO, m.status,
				      "VALIDATE_NEGOTIATE_INFO (the server refused our view of "
				      "the negotiation)",
				      NULL);
		}
	} else if (rc == 0) {
		struct smb2_validate_resp v;
		if (smb2_validate_negotiate_parse(&m, &v) < 0)
			rc =
			    smb_failf(c, SMBG_EPROTO, "malformed VALIDATE_NEGOTIATE_INFO response");
		else
			rc = smb2_validate_negotiate_check(c, &v);
	}
	free(x.msg);
	if (rc < 0) {
		smb_conn_fail(c, rc, NULL); /* 3.2.5.14.12: terminate the connection */
		return rc;
	}
	log_debug("VALIDATE_NEGOTIATE_INFO: dialect %s confirmed", smb_dialect_name(c->dialect));
	return 0;
}
