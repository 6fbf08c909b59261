/* SMB2 WRITE (MS-SMB2 2.2.21, 2.2.22): one request; the data is sent from the caller's buffer
 * without a copy (unless the session encrypts), or from a file with sendfile when the session
 * neither signs nor seals. */
#include "smb/smb2/smb2.h"

static void write_done(struct smb_client *c, struct smb2_req *r, int err, const struct smb2_msg *m)
{
	int rc = err;
	if (rc == 0) {
		if (m->status != STATUS_SUCCESS) {
			rc = smb2_status_err(c, m, "write", r->file->path);
		} else {
			struct cursor cur;
			uint16_t size, reserved;
			uint32_t count;
			cursor_init(&cur, m->p, m->len);
			if (cursor_seek(&cur, SMB2_HDR_SIZE) != 0 ||
			    cursor_get_le16(&cur, &size) != 0 ||
			    cursor_get_le16(&cur, &reserved) != 0 ||
			    cursor_get_le32(&cur, &count) != 0 || count > r->u64)
				rc = smb_failf(c, SMBG_EPROTO, "write %s: malformed WRITE response",
					       r->file->path);
			else
				rc = (int)count;
		}
	}
	smb2_complete(c, r, rc);
}

static struct smb2_req *write_req(struct smb_client *c, struct smb_file *f, size_t len,
				  uint64_t off, smb_cb cb, void *priv)
{
	struct smb2_req *r = smb2_req_new(c, SMB2_WRITE, write_done);
	if (!r)
		return NULL;
	r->file = f;
	r->u64 = len;
	r->cb = cb;
	r->priv = priv;
	r->payload_len = len;
	r->payload_size = (uint32_t)len;
	struct wbuf *b = &r->pdu;
	wbuf_put_le16(b, 49);
	wbuf_put_le16(b, SMB2_HDR_SIZE + 48); /* DataOffset */
	wbuf_put_le32(b, (uint32_t)len);
	wbuf_put_le64(b, off);
	smb2_put_fid(b, f);
	wbuf_put_le32(b, 0); /* Channel */
	wbuf_put_le32(b, 0); /* RemainingBytes */
	wbuf_put_le16(b, 0); /* WriteChannelInfoOffset */
	wbuf_put_le16(b, 0); /* WriteChannelInfoLength */
	wbuf_put_le32(b, 0); /* Flags */
	return r;
}

int smb2_write(struct smb_client *c, struct smb_file *f, const void *buf, size_t len, uint64_t off,
	       smb_cb cb, void *priv)
{
	if (len > c->max_write || len > INT32_MAX)
		return SMBG_EINVAL;
	struct smb2_req *r = write_req(c, f, len, off, cb, priv);
	if (!r)
		return SMBG_ENOMEM;
	r->payload = buf;
	return smb2_submit(c, r);
}

int smb2_write_file(struct smb_client *c, struct smb_file *f, int fd, uint64_t fd_off, size_t len,
		    uint64_t off, smb_cb cb, void *priv)
{
	if (len > c->max_write || len > INT32_MAX)
		return SMBG_EINVAL;
	if (!smb2_plain_payloads(c))
		return SMBG_ENOTSUP;
	struct smb2_req *r = write_req(c, f, len, off, cb, priv);
	if (!r)
		return SMBG_ENOMEM;
	r->payload_in_file = 1;
	r->payload_fd = fd;
	r->payload_fd_off = fd_off;
	return smb2_submit(c, r);
}
