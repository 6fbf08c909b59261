/* CLOSE (MS-CIFS 2.2.4.5). The handle is freed whatever the server answers. A listing still
 * open on the server is closed first (FIND_CLOSE2, see find.c). A path handle holds nothing on
 * the server: its close needs no message, unless the caller waits for a callback, which then
 * rides on an ECHO so that it runs from the event loop like every other completion. */
#include "smb/smb1/smb1.h"

static void close_done(struct smb_client *c, struct smb1_req *r, int err, const struct smb1_msg *m)
{
	int rc = err;
	/* An ECHO carrying a path handle's close has no status to report. */
	if (rc == 0 && r->command == SMB1_COM_CLOSE && m->status != SMB1_STATUS_SUCCESS)
		rc = smb1_status_err(c, m, "close", r->file->path);
	smb1_handle_release(c, r->file);
	smb_file_free(c, r->file);
	r->file = NULL;
	smb1_complete(c, r, rc);
}

static void drop(struct smb_client *c, struct smb_file *f)
{
	smb1_handle_release(c, f);
	smb_file_free(c, f);
}

int smb1_close(struct smb_client *c, struct smb_file *f, smb_cb cb, void *priv)
{
	struct smb1_handle *h = smb1_handle_get(f);
	smb_file_detach(c, f);
	if (h && h->sid_open)
		(void)smb1_find_close(c, h);
	if (h && h->path_only && !cb) {
		drop(c, f);
		return 0;
	}
	struct smb1_req *r;
	if (h && h->path_only) {
		r = smb1_echo_req(c, close_done);
	} else {
		r = smb1_req_new(c, SMB1_COM_CLOSE, close_done);
		if (r) {
			smb1_words_begin(r, 3);
			wbuf_put_le16(&r->pdu, f->fid16);
			wbuf_put_le32(&r->pdu, 0xFFFFFFFF); /* LastTimeModified: leave it */
			smb1_bytes_begin(r);
		}
	}
	if (!r) {
		drop(c, f);
		return SMBG_ENOMEM;
	}
	r->file = f;
	r->cb = cb;
	r->priv = priv;
	int rc = smb1_submit(c, r);
	if (rc < 0)
		drop(c, f);
	return rc;
}
