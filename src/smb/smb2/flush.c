/* SMB2 FLUSH (MS-SMB2 2.2.17) and ECHO (2.2.28). */
#include "smb/smb2/smb2.h"

int smb2_flush(struct smb_client *c, struct smb_file *f, smb_cb cb, void *priv)
{
	struct smb2_req *r = smb2_req_new(c, SMB2_FLUSH, smb2_done_status);
	if (!r)
		return SMBG_ENOMEM;
	r->ctx = "flush";
	r->file = f;
	r->cb = cb;
	r->priv = priv;
	wbuf_put_le16(&r->pdu, 24);
	wbuf_put_le16(&r->pdu, 0);
	wbuf_put_le32(&r->pdu, 0);
	smb2_put_fid(&r->pdu, f);
	return smb2_submit(c, r);
}

int smb2_echo(struct smb_client *c, smb_cb cb, void *priv)
{
	struct smb2_req *r = smb2_req_new(c, SMB2_ECHO, smb2_done_status);
	if (!r)
		return SMBG_ENOMEM;
	r->ctx = "echo";
	r->cb = cb;
	r->priv = priv;
	wbuf_put_le16(&r->pdu, 4);
	wbuf_put_le16(&r->pdu, 0);
	return smb2_submit(c, r);
}
