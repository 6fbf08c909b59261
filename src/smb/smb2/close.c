/* SMB2 CLOSE (MS-SMB2 2.2.15). The handle is freed whatever the server answers. */
#include "smb/smb2/smb2.h"

static void close_done(struct smb_client *c, struct smb2_req *r, int err, const struct smb2_msg *m)
{
	int rc = err;
	if (rc == 0 && m->status != STATUS_SUCCESS)
		rc = smb2_status_err(c, m, "close", r->file->path);
	smb_file_free(c, r->file);
	r->file = NULL;
	smb2_complete(c, r, rc);
}

int smb2_close(struct smb_client *c, struct smb_file *f, smb_cb cb, void *priv)
{
	struct smb2_req *r = smb2_req_new(c, SMB2_CLOSE, close_done);
	if (!r) {
		smb_file_free(c, f);
		return SMBG_ENOMEM;
	}
	smb_file_detach(c, f);
	r->file = f;
	r->cb = cb;
	r->priv = priv;
	wbuf_put_le16(&r->pdu, 24);
	wbuf_put_le16(&r->pdu, 0); /* Flags */
	wbuf_put_le32(&r->pdu, 0);
	smb2_put_fid(&r->pdu, f);
	int rc = smb2_submit(c, r);
	if (rc < 0)
		smb_file_free(c, f);
	return rc;
}
