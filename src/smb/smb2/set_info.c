/* SMB2 SET_INFO (MS-SMB2 2.2.39): times (FileBasicInformation), size
 * (FileEndOfFileInformation), rename (FileRenameInformation, MS-FSCC 2.4.37) and delete
 * (FileDispositionInformation). */
#include <string.h>

#include "smb/smb2/smb2.h"

static struct smb2_req *set_req(struct smb_client *c, struct smb_file *f, uint8_t cls,
				const char *op, smb_cb cb, void *priv, size_t *len_at)
{
	struct smb2_req *r = smb2_req_new(c, SMB2_SET_INFO, smb2_done_status);
	if (!r)
		return NULL;
	r->ctx = (void *)op;
	r->file = f;
	r->cb = cb;
	r->priv = priv;
	struct wbuf *b = &r->pdu;
	wbuf_put_le16(b, 33);
	wbuf_put_u8(b, SMB2_0_INFO_FILE);
	wbuf_put_u8(b, cls);
	wbuf_put_le32(b, 0);		      /* BufferLength, patched */
	wbuf_put_le16(b, SMB2_HDR_SIZE + 32); /* BufferOffset */
	wbuf_put_le16(b, 0);
	wbuf_put_le32(b, 0); /* AdditionalInformation */
	smb2_put_fid(b, f);
	*len_at = b->len; /* the buffer starts here; finish() patches BufferLength from it */
	return r;
}

static int finish(struct smb_client *c, struct smb2_req *r, size_t buf_at)
{
	/* BufferLength sits 28 bytes before the buffer (MS-SMB2 2.2.39). */
	wbuf_set_le32(&r->pdu, buf_at - 28, (uint32_t)(r->pdu.len - buf_at));
	return smb2_submit(c, r);
}

int smb2_set_times(struct smb_client *c, struct smb_file *f, uint64_t atime, uint64_t mtime,
		   smb_cb cb, void *priv)
{
	size_t len_at;
	struct smb2_req *r = set_req(c, f, FILE_BASIC_INFORMATION, "set times", cb, priv, &len_at);
	if (!r)
		return SMBG_ENOMEM;
	wbuf_put_le64(&r->pdu, 0); /* CreationTime: unchanged */
	wbuf_put_le64(&r->pdu, atime);
	wbuf_put_le64(&r->pdu, mtime);
	wbuf_put_le64(&r->pdu, 0); /* ChangeTime */
	wbuf_put_le32(&r->pdu, 0); /* FileAttributes: unchanged */
	wbuf_put_le32(&r->pdu, 0);
	return finish(c, r, len_at);
}

int smb2_set_size(struct smb_client *c, struct smb_file *f, uint64_t size, smb_cb cb, void *priv)
{
	size_t len_at;
	struct smb2_req *r =
	    set_req(c, f, FILE_END_OF_FILE_INFORMATION, "truncate", cb, priv, &len_at);
	if (!r)
		return SMBG_ENOMEM;
	wbuf_put_le64(&r->pdu, size);
	return finish(c, r, len_at);
}

int smb2_set_delete(struct smb_client *c, struct smb_file *f, int del, smb_cb cb, void *priv)
{
	size_t len_at;
	struct smb2_req *r =
	    set_req(c, f, FILE_DISPOSITION_INFORMATION, "delete", cb, priv, &len_at);
	if (!r)
		return SMBG_ENOMEM;
	wbuf_put_u8(&r->pdu, del ? 1 : 0);
	return finish(c, r, len_at);
}

int smb2_rename(struct smb_client *c, struct smb_file *f, const char *to, int replace, smb_cb cb,
		void *priv)
{
	size_t len_at;
	struct smb2_req *r = set_req(c, f, FILE_RENAME_INFORMATION, "rename", cb, priv, &len_at);
	if (!r)
		return SMBG_ENOMEM;
	struct wbuf *b = &r->pdu;
	wbuf_put_u8(b, replace ? 1 : 0);
	wbuf_put_zero(b, 7);
	wbuf_put_le64(b, 0); /* RootDirectory */
	size_t nlen_at = b->len;
	wbuf_put_le32(b, 0);
	size_t start = b->len;
	int rc = smb2_put_path(b, to);
	if (rc < 0) {
		smb2_req_free(r);
		return smb_fail(c, rc, 0, "rename to", to);
	}
	wbuf_set_le32(b, nlen_at, (uint32_t)(b->len - start));
	return finish(c, r, len_at);
}
