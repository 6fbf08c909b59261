/* ECHO (MS-CIFS 2.2.4.39) and FLUSH (2.2.4.6). */
#include "smb/smb1/smb1.h"

struct smb1_req *smb1_echo_req(struct smb_client *c, smb1_done_fn done)
{
	struct smb1_req *r = smb1_req_new(c, SMB1_COM_ECHO, done);
	if (!r)
		return NULL;
	smb1_words_begin(r, 1);
	wbuf_put_le16(&r->pdu, 1); /* EchoCount: one reply */
	smb1_bytes_begin(r);
	wbuf_put_u8(&r->pdu, 0x5A); /* one byte of data to echo */
	return r;
}

int smb1_echo(struct smb_client *c, smb_cb cb, void *priv)
{
	struct smb1_req *r = smb1_echo_req(c, smb1_done_status);
	if (!r)
		return SMBG_ENOMEM;
	r->ctx = "echo";
	r->cb = cb;
	r->priv = priv;
	return smb1_submit(c, r);
}

int smb1_flush(struct smb_client *c, struct smb_file *f, smb_cb cb, void *priv)
{
	struct smb1_handle *h = smb1_handle_get(f);
	if (h && h->path_only)
		return smb_fail(c, SMBG_EBADF, 0, "flush", f->path);
	struct smb1_req *r = smb1_req_new(c, SMB1_COM_FLUSH, smb1_done_status);
	if (!r)
		return SMBG_ENOMEM;
	r->ctx = "flush";
	r->file = f;
	r->cb = cb;
	r->priv = priv;
	smb1_words_begin(r, 1);
	wbuf_put_le16(&r->pdu, f->fid16);
	smb1_bytes_begin(r);
	return smb1_submit(c, r);
}
