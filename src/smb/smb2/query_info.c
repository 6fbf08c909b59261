/* SMB2 QUERY_INFO (MS-SMB2 2.2.37, 2.2.38): FileAllInformation for fstat (its basic, standard
 * and internal parts, MS-FSCC 2.4.2) and FileFsFullSizeInformation (MS-FSCC 2.5.4). */
#include <string.h>

#include "smb/fscc.h"
#include "smb/smb2/smb2.h"

#define ALLINFO_OUTPUT 4096

int smb2_allinfo_parse(const uint8_t *p, size_t len, struct smb_stat *st)
{
	/* FileAllInformation (MS-FSCC 2.4.2): basic, standard (2 reserved bytes), internal. */
	struct cursor c;
	uint16_t reserved;
	uint64_t index;
	cursor_init(&c, p, len);
	if (smb_fscc_basic_standard_parse(&c, st) != 0 || cursor_get_le16(&c, &reserved) != 0 ||
	    cursor_get_le64(&c, &index) != 0)
		return SMBG_EPROTO;
	st->file_id = index;
	return 0;
}

int smb2_fsinfo_parse(const uint8_t *p, size_t len, struct smb_statfs *st)
{
	struct cursor c;
	uint64_t total, caller, actual;
	uint32_t spu, bps;
	cursor_init(&c, p, len);
	if (cursor_get_le64(&c, &total) != 0 || cursor_get_le64(&c, &caller) != 0 ||
	    cursor_get_le64(&c, &actual) != 0 || cursor_get_le32(&c, &spu) != 0 ||
	    cursor_get_le32(&c, &bps) != 0)
		return SMBG_EPROTO;
	if ((uint64_t)spu * bps == 0 || (uint64_t)spu * bps > (1u << 30))
		return SMBG_EPROTO;
	st->block_size = (uint64_t)spu * bps;
	st->total_blocks = total;
	st->free_blocks = caller;
	st->avail_blocks = actual;
	return 0;
}

static void qi_done(struct smb_client *c, struct smb2_req *r, int err, const struct smb2_msg *m)
{
	int rc = err;
	const char *path = r->file->path;
	if (rc == 0) {
		if (m->status != STATUS_SUCCESS && m->status != STATUS_BUFFER_OVERFLOW) {
			rc = smb2_status_err(c, m, r->u64 ? "statfs" : "stat", path);
		} else {
			struct cursor cur, data;
			uint16_t size, off;
			uint32_t len;
			cursor_init(&cur, m->p, m->len);
			if (cursor_seek(&cur, SMB2_HDR_SIZE) != 0 ||
			    cursor_get_le16(&cur, &size) != 0 || cursor_get_le16(&cur, &off) != 0 ||
			    cursor_get_le32(&cur, &len) != 0 ||
			    smb2_msg_buffer(m, off, len, &data) != 0)
				rc = SMBG_EPROTO;
			else if (r->u64)
				rc = smb2_fsinfo_parse(data.p, data.len, r->out);
			else
				rc = smb2_allinfo_parse(data.p, data.len, r->out);
			if (rc < 0)
				rc = smb_failf(c, rc, "stat %s: malformed QUERY_INFO response",
					       path);
		}
	}
	smb2_complete(c, r, rc);
}

static int query(struct smb_client *c, struct smb_file *f, uint8_t type, uint8_t cls,
		 uint32_t outlen, void *out, smb_cb cb, void *priv)
{
	struct smb2_req *r = smb2_req_new(c, SMB2_QUERY_INFO, qi_done);
	if (!r)
		return SMBG_ENOMEM;
	r->file = f;
	r->out = out;
	r->u64 = type == SMB2_0_INFO_FILESYSTEM;
	r->cb = cb;
	r->priv = priv;
	struct wbuf *b = &r->pdu;
	wbuf_put_le16(b, 41);
	wbuf_put_u8(b, type);
	wbuf_put_u8(b, cls);
	wbuf_put_le32(b, outlen);
	wbuf_put_le16(b, 0); /* InputBufferOffset */
	wbuf_put_le16(b, 0);
	wbuf_put_le32(b, 0); /* InputBufferLength */
	wbuf_put_le32(b, 0); /* AdditionalInformation */
	wbuf_put_le32(b, 0); /* Flags */
	smb2_put_fid(b, f);
	wbuf_put_u8(b, 0);
	return smb2_submit(c, r);
}

int smb2_fstat(struct smb_client *c, struct smb_file *f, struct smb_stat *st, smb_cb cb, void *priv)
{
	return query(c, f, SMB2_0_INFO_FILE, FILE_ALL_INFORMATION, ALLINFO_OUTPUT, st, cb, priv);
}

int smb2_statfs(struct smb_client *c, struct smb_file *f, struct smb_statfs *st, smb_cb cb,
		void *priv)
{
	return query(c, f, SMB2_0_INFO_FILESYSTEM, FILE_FS_FULL_SIZE_INFORMATION, 32, st, cb, priv);
}
