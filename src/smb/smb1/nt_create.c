/* NT_CREATE_ANDX (MS-CIFS 2.2.4.64): opens, creates and overwrites files and directories. Like
 * SMB2 CREATE, the response carries times, sizes and attributes. No oplock is requested. */
#include "smb/fscc.h"
#include "smb/ntcreate.h"
#include "smb/smb1/smb1.h"

int smb1_create_parse(const struct smb1_msg *m, uint16_t *fid, struct smb_stat *st)
{
	struct cursor w = m->words;
	struct smb_fscc_attrs a;
	uint8_t oplock, dir;
	uint32_t action;
	uint16_t rtype, pipe;
	/* 34 words; servers asked for the extended response send more, which we skip. */
	if (m->wct < 34 || cursor_skip(&w, 4) != 0 || cursor_get_u8(&w, &oplock) != 0 ||
	    cursor_get_le16(&w, fid) != 0 || cursor_get_le32(&w, &action) != 0 ||
	    cursor_get_le64(&w, &a.btime) != 0 || cursor_get_le64(&w, &a.atime) != 0 ||
	    cursor_get_le64(&w, &a.mtime) != 0 || cursor_get_le64(&w, &a.ctime) != 0 ||
	    cursor_get_le32(&w, &a.attributes) != 0 || cursor_get_le64(&w, &a.alloc_size) != 0 ||
	    cursor_get_le64(&w, &a.eof) != 0 || cursor_get_le16(&w, &rtype) != 0 ||
	    cursor_get_le16(&w, &pipe) != 0 || cursor_get_u8(&w, &dir) != 0)
		return SMBG_EPROTO;
	if (st) {
		smb_fscc_attrs_to_stat(&a, st);
		st->is_dir = st->is_dir || dir != 0;
	}
	return 0;
}

static void create_done(struct smb_client *c, struct smb1_req *r, int err, const struct smb1_msg *m)
{
	struct smb_file *f = r->file;
	int rc = err;
	struct smb_stat st;
	if (rc == 0 && m->status != SMB1_STATUS_SUCCESS)
		rc = smb1_status_err(c, m, "open", f->path);
	if (rc == 0 && smb1_create_parse(m, &f->fid16, &st) < 0)
		rc = smb_failf(c, SMBG_EPROTO, "open %s: malformed NT_CREATE_ANDX response",
			       f->path);
	if (rc < 0) {
		smb1_handle_release(c, f);
		smb_file_free(c, f);
	} else {
		f->is_dir = st.is_dir;
		smb1_handle_get(f)->is_dir = st.is_dir;
		if (r->out2)
			*(struct smb_stat *)r->out2 = st;
		*(struct smb_file **)r->out = f;
	}
	smb1_complete(c, r, rc);
}

int smb1_nt_create(struct smb_client *c, struct smb_file *f, int flags, int options,
		   struct smb_file **out, struct smb_stat *st, smb_cb cb, void *priv)
{
	struct smb1_state *s = smb1_st(c);
	struct smb1_req *r = smb1_req_new(c, SMB1_COM_NT_CREATE_ANDX, create_done);
	if (!r)
		return SMBG_ENOMEM;
	r->file = f;
	r->out = out;
	r->out2 = st;
	r->cb = cb;
	r->priv = priv;
	struct smb_nt_create p;
	smb_nt_create_init(&p, flags, options);
	struct wbuf *b = &r->pdu;
	smb1_words_begin(r, 24);
	wbuf_put_u8(b, SMB1_COM_NO_ANDX_COMMAND);
	wbuf_put_u8(b, 0);
	wbuf_put_le16(b, 0);
	wbuf_put_u8(b, 0); /* Reserved */
	size_t name_len_at = b->len;
	wbuf_put_le16(b, 0); /* NameLength, patched */
	wbuf_put_le32(b, 0); /* Flags: no oplock */
	wbuf_put_le32(b, 0); /* RootDirectoryFID */
	wbuf_put_le32(b, p.desired_access);
	wbuf_put_le64(b, 0); /* AllocationSize */
	wbuf_put_le32(b, p.file_attributes);
	wbuf_put_le32(b, p.share_access);
	wbuf_put_le32(b, p.disposition);
	wbuf_put_le32(b, p.create_options);
	wbuf_put_le32(b, p.impersonation);
	wbuf_put_u8(b, 0); /* SecurityFlags */
	smb1_bytes_begin(r);
	size_t pad = s->unicode && (smb1_hdr_off(r) & 1) ? 1 : 0;
	size_t start = b->len + pad;
	int rc = smb1_put_string(c, r, f->path, 1);
	if (rc < 0 || b->len - start > 0xFFFF) {
		smb1_req_free(r);
		return rc < 0 ? rc : SMBG_ENAME;
	}
	/* The name's length in bytes, terminator included (as Windows clients count it). */
	wbuf_set_le16(b, name_len_at, (uint16_t)(b->len - start));
	return smb1_submit(c, r);
}
