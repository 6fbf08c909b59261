/* SMB2 QUERY_INFO (MS-SMB2 2.2.37, 2.2.38): FileAllInformation for fstat (its basic, standard
 * and internal parts, MS-FSCC 2.4.2) and FileFsFullSizeInformation (MS-FSCC 2.5.4). */
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
	cursor_init(&c, p, len);
	return smb_fscc_fs_size_parse(&c, 1, st);
}

static void qi_done(struct smb_client *c, struct smb2_req *r, int err, const struct smb2_msg *m)
{
	int rc = err;
	const char *path = r->file->path;
	if (rc == 0) {
		if (m->status != STATUS_SUCCESS && m->status != STATUS_BUFFER_OVERFLOW) {
			rc = smb2_status_err(c, m, r->u64 ? "statfs" : "stat", path);
		} else {
			struct cursor data;
			if (smb2_output_buffer(m, &data) != 0)
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
