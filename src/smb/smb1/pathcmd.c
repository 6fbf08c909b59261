/* The core protocol's path commands, one request each: DELETE (MS-CIFS 2.2.4.7), RENAME
 * (2.2.4.8), CREATE_DIRECTORY (2.2.4.1) and DELETE_DIRECTORY (2.2.4.2). Each names its path(s)
 * in the bytes block after a BufferFormat byte 0x04. */
#include <stdlib.h>
#include <string.h>

#include "smb/smb1/smb1.h"

#define BUFFER_FORMAT_ASCII 0x04

/* A request with WordCount words of search attributes (0 or 1) and the path(s). */
static int path_req(struct smb_client *c, uint8_t cmd, int attrs, const char *op, const char *path,
		    const char *path2, smb1_done_fn done, struct smb1_req **out)
{
	struct smb1_req *r = smb1_req_new(c, cmd, done);
	if (!r)
		return SMBG_ENOMEM;
	r->ctx = (void *)op;
	r->path = strdup(path);
	if (!r->path) {
		smb1_req_free(r);
		return SMBG_ENOMEM;
	}
	smb1_words_begin(r, attrs >= 0 ? 1 : 0);
	if (attrs >= 0)
		wbuf_put_le16(&r->pdu, (uint16_t)attrs);
	smb1_bytes_begin(r);
	wbuf_put_u8(&r->pdu, BUFFER_FORMAT_ASCII);
	int rc = smb1_put_string(c, r, path, 1);
	if (rc == 0 && path2) {
		wbuf_put_u8(&r->pdu, BUFFER_FORMAT_ASCII);
		rc = smb1_put_string(c, r, path2, 1);
	}
	if (rc < 0) {
		smb1_req_free(r);
		return rc == SMBG_ENAME ? smb_fail(c, rc, 0, op, path) : rc;
	}
	*out = r;
	return 0;
}

static int submit_cb(struct smb_client *c, struct smb1_req *r, smb_cb cb, void *priv)
{
	r->cb = cb;
	r->priv = priv;
	return smb1_submit(c, r);
}

int smb1_delete_path(struct smb_client *c, const char *path, smb_cb cb, void *priv)
{
	struct smb1_req *r;
	/* Hidden and system files too, as a delete by handle would. */
	int rc = path_req(c, SMB1_COM_DELETE, SMB1_ATTR_HIDDEN | SMB1_ATTR_SYSTEM, "rm", path, NULL,
			  smb1_done_status, &r);
	return rc < 0 ? rc : submit_cb(c, r, cb, priv);
}

int smb1_rename_path(struct smb_client *c, const char *from, const char *to, smb_cb cb, void *priv)
{
	struct smb1_req *r;
	int rc =
	    path_req(c, SMB1_COM_RENAME, SMB1_ATTR_HIDDEN | SMB1_ATTR_SYSTEM | SMB1_ATTR_DIRECTORY,
		     "rename", from, to, smb1_done_status, &r);
	return rc < 0 ? rc : submit_cb(c, r, cb, priv);
}

int smb1_mkdir_req(struct smb_client *c, const char *path, smb1_done_fn done, struct smb1_req **out)
{
	return path_req(c, SMB1_COM_CREATE_DIRECTORY, -1, "mkdir", path, NULL, done, out);
}

int smb1_rmdir_path(struct smb_client *c, const char *path, smb_cb cb, void *priv)
{
	struct smb1_req *r;
	int rc =
	    path_req(c, SMB1_COM_DELETE_DIRECTORY, -1, "rmdir", path, NULL, smb1_done_status, &r);
	return rc < 0 ? rc : submit_cb(c, r, cb, priv);
}
