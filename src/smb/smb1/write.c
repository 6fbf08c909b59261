/* WRITE_ANDX (MS-CIFS 2.2.4.43, MS-SMB 2.2.4.3): 64-bit offsets (14 words) and writes above
 * 64 KiB (DataLengthHigh, CAP_LARGE_WRITEX). The data goes from the caller's buffer to the
 * socket without a copy (signing hashes it in place). One request reports the count the server
 * wrote; smb/shortio.c writes the rest after a short count. */
#include "smb/smb1/smb1.h"

/* Header (32) + WordCount + 28 bytes of words + ByteCount = 63; one pad byte aligns the data. */
#define WRITE_DATA_OFF 64

static void write_done(struct smb_client *c, struct smb1_req *r, int err, const struct smb1_msg *m)
{
	struct smb_file *f = r->file;
	int rc = err;
	size_t n = 0;
	if (rc == 0) {
		struct cursor w = m->words;
		uint16_t count, available, count_high;
		if (m->status != SMB1_STATUS_SUCCESS)
			rc = smb1_status_err(c, m, "write", f->path);
		else if (m->wct < 6 || cursor_skip(&w, 4) != 0 ||
			 cursor_get_le16(&w, &count) != 0 || cursor_get_le16(&w, &available) != 0 ||
			 cursor_get_le16(&w, &count_high) != 0 ||
			 (n = ((size_t)count_high << 16) | count) > r->payload_len)
			rc = smb_failf(c, SMBG_EPROTO, "write %s: malformed WRITE_ANDX response",
				       f->path);
	}
	smb1_complete(c, r, rc < 0 ? rc : (int)n);
}

static int send_write(struct smb_client *c, struct smb_file *f, const uint8_t *buf, size_t len,
		      uint64_t off, smb_cb cb, void *priv)
{
	struct smb1_state *s = smb1_st(c);
	int large = (s->server_caps & SMB1_CAP_LARGE_FILES) != 0;
	if (!large && (off > UINT32_MAX || len > UINT32_MAX - off))
		return smb_fail(c, SMBG_ENOTSUP, 0,
				"write beyond 4 GiB (the server lacks "
				"CAP_LARGE_FILES)",
				f->path);
	struct smb1_req *r = smb1_req_new(c, SMB1_COM_WRITE_ANDX, write_done);
	if (!r)
		return SMBG_ENOMEM;
	r->file = f;
	r->payload = buf;
	r->payload_len = len;
	r->u64b = off;
	r->cb = cb;
	r->priv = priv;
	struct wbuf *b = &r->pdu;
	smb1_words_begin(r, large ? 14 : 12);
	wbuf_put_u8(b, SMB1_COM_NO_ANDX_COMMAND);
	wbuf_put_u8(b, 0);
	wbuf_put_le16(b, 0);
	wbuf_put_le16(b, f->fid16);
	wbuf_put_le32(b, (uint32_t)off);
	wbuf_put_le32(b, 0);			 /* Timeout */
	wbuf_put_le16(b, 0);			 /* WriteMode: write-behind allowed */
	wbuf_put_le16(b, 0);			 /* Remaining */
	wbuf_put_le16(b, (uint16_t)(len >> 16)); /* DataLengthHigh (CAP_LARGE_WRITEX) */
	wbuf_put_le16(b, (uint16_t)len);
	size_t doff_at = b->len;
	wbuf_put_le16(b, 0); /* DataOffset, below */
	if (large)
		wbuf_put_le32(b, (uint32_t)(off >> 32));
	smb1_bytes_begin(r);
	while (smb1_hdr_off(r) < WRITE_DATA_OFF && (smb1_hdr_off(r) & 3))
		wbuf_put_u8(b, 0);
	wbuf_set_le16(b, doff_at, (uint16_t)smb1_hdr_off(r));
	return smb1_submit(c, r);
}

int smb1_write(struct smb_client *c, struct smb_file *f, const void *buf, size_t len, uint64_t off,
	       smb_cb cb, void *priv)
{
	struct smb1_handle *h = smb1_handle_get(f);
	if (len > c->max_write || len > INT32_MAX)
		return SMBG_EINVAL;
	if (h && h->path_only)
		return smb_fail(c, SMBG_EBADF, 0, "write (not opened for writing)", f->path);
	return send_write(c, f, buf, len, off, cb, priv);
}
