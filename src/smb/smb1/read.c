/* READ_ANDX (MS-CIFS 2.2.4.42, MS-SMB 2.2.4.2): 64-bit offsets (12 words, CAP_LARGE_FILES) and
 * reads above 64 KiB (MaxCountHigh, CAP_LARGE_READX). A server may answer with less than asked
 * for before the end of the file (Samba and Windows cap large reads silently); one request
 * reports what it got and smb/shortio.c asks again for the rest. The data is copied from the
 * frame straight into the caller's buffer. */
#include <string.h>

#include "smb/smb1/smb1.h"

int smb1_read_parse(const struct smb1_msg *m, size_t *off, size_t *len)
{
	struct cursor w = m->words, data;
	uint16_t available, compaction, reserved, dlen, doff, dlen_high;
	if (m->wct < 12 || cursor_skip(&w, 4) != 0 || cursor_get_le16(&w, &available) != 0 ||
	    cursor_get_le16(&w, &compaction) != 0 || cursor_get_le16(&w, &reserved) != 0 ||
	    cursor_get_le16(&w, &dlen) != 0 || cursor_get_le16(&w, &doff) != 0 ||
	    cursor_get_le16(&w, &dlen_high) != 0)
		return SMBG_EPROTO;
	/* DataLengthHigh counts only with CAP_LARGE_READX; servers leave it 0 otherwise. */
	size_t n = ((size_t)dlen_high << 16) | dlen;
	if (smb1_msg_range(m, doff, n, &data) != 0)
		return SMBG_EPROTO;
	*off = doff;
	*len = n;
	return 0;
}

static void read_done(struct smb_client *c, struct smb1_req *r, int err, const struct smb1_msg *m)
{
	struct smb_file *f = r->file;
	int rc = err;
	size_t doff = 0, n = 0;
	if (rc == 0) {
		if (m->status == SMB1_STATUS_END_OF_FILE) {
			n = 0;
		} else if (m->status != SMB1_STATUS_SUCCESS) {
			rc = smb1_status_err(c, m, "read", f->path);
		} else if (smb1_read_parse(m, &doff, &n) < 0 || n > r->u64) {
			rc = smb_failf(c, SMBG_EPROTO, "read %s: malformed READ_ANDX response",
				       f->path);
		} else if (n) {
			memcpy(r->out, m->p + doff, n);
		}
	}
	smb1_complete(c, r, rc < 0 ? rc : (int)n);
}

static int send_read(struct smb_client *c, struct smb_file *f, uint8_t *buf, size_t want,
		     uint64_t off, smb_cb cb, void *priv)
{
	struct smb1_state *s = smb1_st(c);
	int large = (s->server_caps & SMB1_CAP_LARGE_FILES) != 0;
	if (!large && (off > UINT32_MAX || want > UINT32_MAX - off))
		return smb_fail(c, SMBG_ENOTSUP, 0,
				"read beyond 4 GiB (the server lacks "
				"CAP_LARGE_FILES)",
				f->path);
	struct smb1_req *r = smb1_req_new(c, SMB1_COM_READ_ANDX, read_done);
	if (!r)
		return SMBG_ENOMEM;
	r->file = f;
	r->out = buf;
	r->u64 = want;
	r->u64b = off;
	r->cb = cb;
	r->priv = priv;
	struct wbuf *b = &r->pdu;
	smb1_words_begin(r, large ? 12 : 10);
	wbuf_put_u8(b, SMB1_COM_NO_ANDX_COMMAND);
	wbuf_put_u8(b, 0);
	wbuf_put_le16(b, 0);
	wbuf_put_le16(b, f->fid16);
	wbuf_put_le32(b, (uint32_t)off);
	wbuf_put_le16(b, (uint16_t)want);	  /* MaxCountOfBytesToReturn */
	wbuf_put_le16(b, (uint16_t)want);	  /* MinCountOfBytesToReturn */
	wbuf_put_le16(b, (uint16_t)(want >> 16)); /* MaxCountHigh (CAP_LARGE_READX) */
	wbuf_put_le16(b, 0);			  /* ... the rest of the Timeout field */
	wbuf_put_le16(b, 0);			  /* Remaining */
	if (large)
		wbuf_put_le32(b, (uint32_t)(off >> 32));
	smb1_bytes_begin(r);
	return smb1_submit(c, r);
}

int smb1_read(struct smb_client *c, struct smb_file *f, void *buf, size_t len, uint64_t off,
	      smb_cb cb, void *priv)
{
	struct smb1_handle *h = smb1_handle_get(f);
	if (len > c->max_read || len > INT32_MAX)
		return SMBG_EINVAL;
	if (h && h->path_only)
		return smb_fail(c, SMBG_EBADF, 0, "read (not opened for reading)", f->path);
	return send_read(c, f, buf, len, off, cb, priv);
}
