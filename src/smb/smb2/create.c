/* SMB2 CREATE (MS-SMB2 2.2.13, 2.2.14): opens, creates and overwrites files and directories.
 * The response carries the times, sizes and attributes, so stat needs no extra round trip.
 *
 * Durable handles v2 (2.2.13.2.11, 2.2.13.2.12, 3.2.4.3.x): when the client reconnects
 * (smb/reconnect.c) and the dialect is 3.x, data opens ask for a durable handle (DH2Q, with a
 * batch oplock, which servers require before they grant durability) under a fresh CreateGuid;
 * after a reconnect smb2_reopen reestablishes such an open with DH2C, or reopens by path what
 * was opened read-only. */
#include <string.h>

#include "smb/dialect.h"
#include "smb/fscc.h"
#include "smb/ntcreate.h"
#include "smb/reply.h"
#include "smb/smb2/smb2.h"
#include "util/log.h"

#define CREATE_CONTEXTS_MAX 32 /* a response naming more is malformed */
#define CTX_HDR		    16 /* Next, NameOffset, NameLength, Reserved, DataOffset, DataLength */

enum create_kind {
	CREATE_OPEN,	  /* a new open (DH2Q when durable handles are wanted) */
	CREATE_RECONNECT, /* reestablish a durable open (DH2C) */
};

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

int smb2_create_contexts_parse(const uint8_t *p, size_t len, struct smb2_create_out *out)
{
	size_t off = 0;
	if (len == 0)
		return 0;
	for (unsigned i = 0;; i++) {
		struct cursor c, name, data;
		uint32_t next, dlen;
		uint16_t noff, nlen, reserved, doff;
		if (i >= CREATE_CONTEXTS_MAX || off > len)
			return SMBG_EPROTO;
		cursor_init(&c, p + off, len - off);
		if (cursor_get_le32(&c, &next) != 0 || cursor_get_le16(&c, &noff) != 0 ||
		    cursor_get_le16(&c, &nlen) != 0 || cursor_get_le16(&c, &reserved) != 0 ||
		    cursor_get_le16(&c, &doff) != 0 || cursor_get_le32(&c, &dlen) != 0)
			return SMBG_EPROTO;
		/* this context spans [0, next) of the rest, or all of it for the last one */
		size_t span = next ? next : len - off;
		if (next && (next < CTX_HDR || (next & 7) || next > len - off))
			return SMBG_EPROTO;
		struct cursor whole;
		cursor_init(&whole, p + off, span);
		if (cursor_sub(&whole, noff, nlen, &name) != 0 ||
		    (dlen && cursor_sub(&whole, doff, dlen, &data) != 0))
			return SMBG_EPROTO;
		if (!dlen)
			cursor_init(&data, p, 0);
		out->ncontexts++;
		if (nlen == 4 && memcmp(name.p, "DH2Q", 4) == 0) {
			/* 2.2.14.2.12 SMB2_CREATE_DURABLE_HANDLE_RESPONSE_V2: Timeout, Flags */
			if (cursor_get_le32(&data, &out->durable_timeout_ms) != 0 ||
			    cursor_get_le32(&data, &out->durable_flags) != 0)
				return SMBG_EPROTO;
			out->durable = 1;
		}
		if (!next)
			return 0;
		off += next;
	}
}

int smb2_create_out_parse(const struct smb2_msg *m, struct smb2_create_out *out)
{
	struct cursor c, ctx;
	uint8_t flags;
	uint32_t coff, clen;
	memset(out, 0, sizeof(*out));
	cursor_init(&c, m->p, m->len);
	/* OplockLevel at body offset 2; CreateContextsOffset/Length at 80 (after the FileId) */
	if (cursor_seek(&c, SMB2_HDR_SIZE + 2) != 0 || cursor_get_u8(&c, &out->oplock) != 0 ||
	    cursor_get_u8(&c, &flags) != 0 || cursor_seek(&c, SMB2_HDR_SIZE + 80) != 0 ||
	    cursor_get_le32(&c, &coff) != 0 || cursor_get_le32(&c, &clen) != 0 ||
	    smb2_msg_buffer(m, coff, clen, &ctx) != 0)
		return SMBG_EPROTO;
	return smb2_create_contexts_parse(ctx.p, ctx.len, out);
}

/* Whether an open of f asks for a durable handle: data opens of files on 3.x when the client
 * reconnects (a handle that cannot come back is of no use otherwise). */
static int wants_durable(const struct smb_client *c, int flags, int options)
{
	return c->recon && c->dialect >= SMB_DIALECT_3_0 && (flags & (SMB_O_READ | SMB_O_WRITE)) &&
	       !(flags & SMB_O_DIR) && !(options & SMB_OPEN_DELETE_ON_CLOSE);
}

/* One create context with a 4-character name, 8-aligned from the SMB2 header (at pdu offset
 * 4). Returns the offset of the context in b. */
static size_t put_context(struct wbuf *b, const char name[4], const struct wbuf *data)
{
	while ((b->len - 4) & 7)
		wbuf_put_u8(b, 0);
	size_t at = b->len;
	wbuf_put_le32(b, 0);		       /* Next: the only one */
	wbuf_put_le16(b, CTX_HDR);	       /* NameOffset */
	wbuf_put_le16(b, 4);		       /* NameLength */
	wbuf_put_le16(b, 0);		       /* Reserved */
	wbuf_put_le16(b, CTX_HDR + 8);	       /* DataOffset: after the name, padded */
	wbuf_put_le32(b, (uint32_t)data->len); /* DataLength */
	wbuf_put_bytes(b, name, 4);
	wbuf_put_zero(b, 4);
	wbuf_put_bytes(b, data->p, data->len);
	return at;
}

/* Builds the CREATE for f into *out; < 0 (message set for a bad name) and no request. */
static int create_req(struct smb_client *c, struct smb_file *f, int flags, int options,
		      enum create_kind kind, smb2_done_fn done, struct smb2_req **out)
{
	struct smb2_req *r = smb2_req_new(c, SMB2_CREATE, done);
	if (!r)
		return SMBG_ENOMEM;
	r->file = f;
	int durable = kind == CREATE_RECONNECT || wants_durable(c, flags, options);
	struct smb_nt_create p;
	smb_nt_create_init(&p, flags, options);
	struct wbuf *b = &r->pdu;
	wbuf_put_le16(b, 57);
	wbuf_put_u8(b, 0); /* SecurityFlags */
	/* RequestedOplockLevel: none, nothing is cached here; a durable handle needs batch */
	wbuf_put_u8(b, kind == CREATE_RECONNECT ? f->oplock
		       : durable		? SMB2_OPLOCK_LEVEL_BATCH
						: SMB2_OPLOCK_LEVEL_NONE);
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
	size_t ctx_at = b->len;
	wbuf_put_le32(b, 0); /* CreateContextsOffset */
	wbuf_put_le32(b, 0); /* CreateContextsLength */
	size_t start = b->len;
	int rc = smb2_put_path(b, f->path);
	size_t nlen = b->len - start;
	if (rc < 0 || nlen > 0xFFFF) {
		smb2_req_free(r);
		return smb_fail(c, rc < 0 ? rc : SMBG_ENAME, 0, "open", f->path);
	}
	wbuf_set_le16(b, len_at, (uint16_t)nlen);
	if (nlen == 0)
		wbuf_put_u8(b, 0); /* the buffer is never empty */
	if (durable) {
		struct wbuf d;
		wbuf_init(&d);
		if (kind == CREATE_RECONNECT) {
			/* 2.2.13.2.12: FileId, CreateGuid, Flags */
			wbuf_put_bytes(&d, f->fid, 16);
			wbuf_put_bytes(&d, f->create_guid, 16);
			wbuf_put_le32(&d, 0);
		} else {
			/* 2.2.13.2.11: Timeout, Flags (not persistent), Reserved, CreateGuid */
			wbuf_put_le32(&d, SMB2_DURABLE_TIMEOUT_MS);
			wbuf_put_le32(&d, 0);
			wbuf_put_le64(&d, 0);
			wbuf_put_bytes(&d, f->create_guid, 16);
		}
		size_t at = put_context(b, kind == CREATE_RECONNECT ? "DH2C" : "DH2Q", &d);
		wbuf_free(&d);
		wbuf_set_le32(b, ctx_at, (uint32_t)(at - 4));
		wbuf_set_le32(b, ctx_at + 4, (uint32_t)(b->len - at));
	}
	*out = r;
	return 0;
}

/* Applies a successful CREATE response to f; < 0 when it is malformed. */
static int create_apply(struct smb_client *c, struct smb_file *f, const struct smb2_msg *m,
			struct smb_stat *st, int reconnect)
{
	struct smb2_create_out out;
	if (smb2_create_parse(m, f->fid, st) < 0 || smb2_create_out_parse(m, &out) < 0)
		return smb_failf(c, SMBG_EPROTO, "open %s: malformed CREATE response", f->path);
	f->oplock = out.oplock;
	/* A DH2C answer carries no DH2Q context: the handle stays durable. */
	f->durable = reconnect ? 1 : out.durable;
	f->opened = 1;
	if (out.durable)
		log_debug("open %s: durable handle granted (timeout %u ms, oplock %u)", f->path,
			  out.durable_timeout_ms, out.oplock);
	return 0;
}

static void create_done(struct smb_client *c, struct smb2_req *r, int err, const struct smb2_msg *m)
{
	struct smb_file *f = r->file;
	int rc = err;
	if (rc == 0 && m->status != STATUS_SUCCESS)
		rc = smb2_status_err(c, m, "open", f->path);
	struct smb_stat st;
	if (rc == 0)
		rc = create_apply(c, f, m, &st, 0);
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
	f->flags = flags;
	f->options = options;
	if (wants_durable(c, flags, options) && smb_random(f->create_guid, 16) < 0) {
		smb_file_free(c, f);
		return SMBG_ECRYPTO;
	}
	struct smb2_req *r;
	int rc = create_req(c, f, flags, options, CREATE_OPEN, create_done, &r);
	if (rc < 0) {
		smb_file_free(c, f);
		return rc;
	}
	r->out = out;
	r->out2 = st;
	r->cb = cb;
	r->priv = priv;
	rc = smb2_submit(c, r);
	if (rc < 0)
		smb_file_free(c, f);
	return rc;
}

/* ---- after a reconnect ---- */

static int reopen_once(struct smb_client *c, struct smb_file *f, int flags, enum create_kind kind)
{
	struct smb_reply x = {0};
	struct smb2_req *r;
	int rc = create_req(c, f, flags, f->options, kind, smb2_done_reply, &r);
	if (rc < 0)
		return rc;
	r->ctx = &x;
	rc = smb_reply_wait(c, smb2_submit(c, r), &x);
	struct smb2_msg m;
	if (rc == 0 && smb2_check_message(x.msg, x.len, &m) < 0)
		rc = smb_failf(c, SMBG_EPROTO, "reopen %s: malformed CREATE response", f->path);
	if (rc == 0 && m.status != STATUS_SUCCESS)
		rc = smb2_status_err(c, &m, "reopen", f->path);
	struct smb_stat st;
	if (rc == 0)
		rc = create_apply(c, f, &m, &st, kind == CREATE_RECONNECT);
	smb_reply_reset(&x);
	return rc;
}

int smb2_reopen(struct smb_client *c, struct smb_file *f)
{
	int rc;
	if (f->durable && c->dialect >= SMB_DIALECT_3_0) {
		rc = reopen_once(c, f, f->flags, CREATE_RECONNECT);
		if (rc == 0)
			log_info("reopen %s: durable handle reconnected", f->path);
		if (rc == 0 || c->dead)
			return rc;
		log_info("reopen %s: the durable handle was not kept (%s)", f->path, c->errmsg);
		f->durable = 0;
	}
	int readonly = !(f->flags & (SMB_O_WRITE | SMB_O_DELETE | SMB_O_ATTR)) &&
		       !(f->options & SMB_OPEN_DELETE_ON_CLOSE);
	if (!readonly)
		return smb_failf(c, SMBG_EBADF,
				 "%s: open for writing, and the server kept no durable handle",
				 f->path);
	/* Nothing it can change: open the same path again (never create or truncate). */
	int flags = f->flags & ~(SMB_O_CREATE | SMB_O_EXCL | SMB_O_TRUNC);
	if (wants_durable(c, flags, f->options) && smb_random(f->create_guid, 16) < 0)
		return SMBG_ECRYPTO;
	rc = reopen_once(c, f, flags, CREATE_OPEN);
	if (rc == 0)
		log_info("reopen %s: opened again by path (read-only)", f->path);
	if (rc == 0 && f->is_dir && f->dir_started && !f->dir_done) {
		/* The listing restarts on the new handle (a fresh handle lists from the start;
		 * RESTART_SCANS is not sent again, so that the next rounds go on), passing over
		 * what was delivered (the same entries, unless the directory changed meanwhile). */
		f->dir_skip = f->dir_seen;
		f->dir_seen = 0;
	}
	return rc;
}
