/* SMB2 READ (MS-SMB2 2.2.19, 2.2.20): one request of at most max_read bytes. */
#include <string.h>

#include "smb/smb2/smb2.h"

static void read_done(struct smb_client *c, struct smb2_req *r, int err, const struct smb2_msg *m)
{
	int rc = err;
	if (rc == 0) {
		if (m->status == STATUS_END_OF_FILE) {
			rc = 0;
		} else if (m->status != STATUS_SUCCESS) {
			rc = smb2_status_err(c, m, "read", r->file->path);
		} else {
			struct cursor cur, data;
			uint16_t size;
			uint8_t off, reserved;
			uint32_t len;
			cursor_init(&cur, m->p, m->len);
			if (cursor_seek(&cur, SMB2_HDR_SIZE) != 0 ||
			    cursor_get_le16(&cur, &size) != 0 || cursor_get_u8(&cur, &off) != 0 ||
			    cursor_get_u8(&cur, &reserved) != 0 ||
			    cursor_get_le32(&cur, &len) != 0 ||
			    smb2_msg_buffer(m, off, len, &data) != 0 || len > r->u64)
				rc = smb_failf(c, SMBG_EPROTO, "read %s: malformed READ response",
					       r->file->path);
			else {
				if (len)
					memcpy(r->out, data.p, len);
				rc = (int)len;
			}
		}
	}
	smb2_complete(c, r, rc);
}

int smb2_read(struct smb_client *c, struct smb_file *f, void *buf, size_t len, uint64_t off,
	      smb_cb cb, void *priv)
{
	if (len > c->max_read || len > INT32_MAX)
		return SMBG_EINVAL;
	struct smb2_req *r = smb2_req_new(c, SMB2_READ, read_done);
	if (!r)
		return SMBG_ENOMEM;
	r->file = f;
	r->out = buf;
	r->u64 = len;
	r->cb = cb;
	r->priv = priv;
	r->payload_size = (uint32_t)len;
	struct wbuf *b = &r->pdu;
	wbuf_put_le16(b, 49);
	wbuf_put_u8(b, 0x50); /* Padding: where we would like the data (after the header) */
	wbuf_put_u8(b, 0);    /* Flags */
	wbuf_put_le32(b, (uint32_t)len);
	wbuf_put_le64(b, off);
	smb2_put_fid(b, f);
	wbuf_put_le32(b, 0); /* MinimumCount */
	wbuf_put_le32(b, 0); /* Channel */
	wbuf_put_le32(b, 0); /* RemainingBytes */
	wbuf_put_le16(b, 0); /* ReadChannelInfoOffset */
	wbuf_put_le16(b, 0); /* ReadChannelInfoLength */
	wbuf_put_u8(b, 0);   /* Buffer */
	return smb2_submit(c, r);
}
