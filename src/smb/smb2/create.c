/* SMB2 CREATE (MS-SMB2 2.2.13, 2.2.14): opens, creates and overwrites files and directories.
 * The response carries the times, sizes and attributes, so stat needs no extra round trip. */
#include "smb/fscc.h"
#include "smb/ntcreate.h"
#include "smb/smb2/smb2.h"

int smb2_create_parse(const struct smb2_msg *m, uint8_t fid[16], struct smb_stat *st)
{
	struct cursor c;
	struct smb_fscc_attrs a;
	uint16_t size;
	uint8_t oplock, flags;
	uint32_t action, reserved;
	cursor_init(&c, m->p, m->len);
	if (cursor_seek(&c, SMB2_HDR_SIZE) != 0 || cursor_get_le16(&c, &size) != 0 ||
	    cursor_get_u8(&c, &oplock) != 0 || cursor_get_u8(&c, &flags) != 0 ||
	    cursor_get_le32(&c, &action) != 0 || cursor_get_le64(&c, &a.btime) != 0 ||
	    cursor_get_le64(&c, &a.atime) != 0 || cursor_get_le64(&c, &a.mtime) != 0 ||
	    cursor_get_le64(&c, &a.ctime) != 0 || cursor_get_le64(&c, &a.alloc_size) != 0 ||
	    cursor_get_le64(&c, &a.eof) != 0 || cursor_get_le32(&c, &a.attributes) != 0 ||
	    cursor_get_le32(&c, &reserved) != 0 || cursor_get_bytes(&c, fid, 16) != 0)
		return SMBG_EPROTO;
	if (st)
		smb_fscc_attrs_to_stat(&a, st);
	return 0;
}

static void create_done(struct smb_client *c, struct smb2_req *r, int err, const struct smb2_msg *m)
{
	struct smb_file *f = r->file;
	int rc = err;
	if (rc == 0 && m->status != STATUS_SUCCESS)
		rc = smb2_status_err(c, m, "open", f->path);
	struct smb_stat st;
	if (rc == 0 && smb2_create_parse(m, f->fid, &st) < 0)
		rc = smb_failf(c, SMBG_EPROTO, "open %s: malformed CREATE response", f->path);
	if (rc < 0) {
		smb_file_free(c, f);
	} else {
		f->is_dir = st.is_dir;
		if (r->out2)
			*(struct smb_stat *)r->out2 = st;
		*(struct smb_file **)r->out = f;
	}
	smb2_complete(c, r, rc);
}

int smb2_open(struct smb_client *c, const char *path, int flags, int options, struct smb_file **out,
	      struct smb_stat *st, smb_cb cb, void *priv)
{
	struct smb_file *f = smb_file_new(c, path);
	if (!f)
		return SMBG_ENOMEM;
	struct smb2_req *r = smb2_req_new(c, SMB2_CREATE, create_done);
	if (!r) {
		smb_file_free(c, f);
		return SMBG_ENOMEM;
	}
	r->file = f;
	r->out = out;
	r->out2 = st;
	r->cb = cb;
	r->priv = priv;
	struct smb_nt_create p;
	smb_nt_create_init(&p, flags, options);
	struct wbuf *b = &r->pdu;
	wbuf_put_le16(b, 57);
	wbuf_put_u8(b, 0); /* SecurityFlags */
	wbuf_put_u8(b, 0); /* RequestedOplockLevel: none, nothing is cached here */
	wbuf_put_le32(b, p.impersonation);
	wbuf_put_le64(b, 0);
	wbuf_put_le64(b, 0);
	wbuf_put_le32(b, p.desired_access);
	wbuf_put_le32(b, p.file_attributes);
	wbuf_put_le32(b, p.share_access);
	wbuf_put_le32(b, p.disposition);
	wbuf_put_le32(b, p.create_options);
	wbuf_put_le16(b, SMB2_HDR_SIZE + 56); /* NameOffset */
	size_t len_at = b->len;
	wbuf_put_le16(b, 0);
	wbuf_put_le32(b, 0); /* CreateContextsOffset */
	wbuf_put_le32(b, 0); /* CreateContextsLength */
	size_t start = b->len;
	int rc = smb2_put_path(b, path);
	if (rc < 0) {
		smb2_req_free(r);
		smb_file_free(c, f);
		return smb_fail(c, rc, 0, "open", path);
	}
	size_t nlen = b->len - start;
	if (nlen > 0xFFFF) {
		smb2_req_free(r);
		smb_file_free(c, f);
		return smb_fail(c, SMBG_ENAME, 0, "open", path);
	}
	wbuf_set_le16(b, len_at, (uint16_t)nlen);
	if (nlen == 0)
		wbuf_put_u8(b, 0); /* the buffer is never empty */
	rc = smb2_submit(c, r);
	if (rc < 0)
		smb_file_free(c, f);
	return rc;
}
