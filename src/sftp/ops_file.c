/* File handles: OPEN, CLOSE, READ, WRITE, FSTAT, FSETSTAT and fsync@openssh.com. READs and
 * WRITEs on one handle run together; anything else on the handle waits for them (and they
 * for it), so a CLOSE or FSTAT sees every write before it. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sftp/internal.h"
#include "util/log.h"

#define DATA_HDR 13 /* length, type, id, data length */

static int bad_message(struct sftp_req *r)
{
	sftp_req_status(r, SMBG_EPROTO, NULL);
	return SMBG_EPROTO;
}

static void reply_handle(struct sftp_req *r, struct sftp_handle *h)
{
	struct wbuf *b = sftp_reply_begin(r->e, SSH_FXP_HANDLE, r->id);
	sftp_put_handle(b, h);
	sftp_reply_end(r->e);
}

static void attrs_cb(void *priv, int rc, const char *msg)
{
	struct sftp_req *r = priv;
	if (rc < 0) {
		sftp_req_status(r, rc, msg);
		return;
	}
	struct wbuf *b = sftp_reply_begin(r->e, SSH_FXP_ATTRS, r->id);
	sftp_put_attrs(b, &r->attr);
	sftp_reply_end(r->e);
	sftp_req_done(r);
}

/* ---- OPEN ---- */

static void open_cb(void *priv, int rc, const char *msg)
{
	struct sftp_req *r = priv;
	struct sftp_engine *e = r->e;
	struct sftp_handle *h = r->nh;
	r->nh = NULL;
	sftp_access(e, "open", r->path, rc, NULL);
	if (rc < 0) {
		sftp_handle_release(e, h);
		sftp_req_status(r, rc, msg);
		return;
	}
	h->f = r->file;
	h->path = r->path;
	r->path = NULL;
	h->ready = 1;
	if (e->shutting) { /* the session ended meanwhile: the file is not the client's */
		sftp_handle_shut(e, h);
		sftp_req_done(r);
		return;
	}
	reply_handle(r, h);
	sftp_req_done(r);
}

void sftp_op_open(struct sftp_req *r)
{
	struct sftp_engine *e = r->e;
	uint32_t pflags;
	struct sftp_attrs a;
	if (sftp_req_path(r, &r->path) < 0)
		return;
	if (cursor_get_be32(&r->cur, &pflags) != 0 || sftp_get_attrs(&r->cur, &a) != 0) {
		(void)bad_message(r);
		return;
	}
	int fl = 0;
	if (pflags & SSH_FXF_READ)
		fl |= VFS_O_READ;
	if (pflags & SSH_FXF_WRITE)
		fl |= VFS_O_WRITE;
	if (pflags & SSH_FXF_APPEND)
		fl |= VFS_O_APPEND;
	if (pflags & SSH_FXF_CREAT)
		fl |= VFS_O_CREAT;
	if (pflags & SSH_FXF_TRUNC)
		fl |= VFS_O_TRUNC;
	/* EXCL means something only with CREAT (section 6.3) */
	if ((pflags & SSH_FXF_EXCL) && (pflags & SSH_FXF_CREAT))
		fl |= VFS_O_EXCL;
	r->nh = sftp_handle_new(e, H_FILE);
	if (!r->nh) {
		char m[96];
		snprintf(m, sizeof(m), "too many open handles (at most %zu per session)",
			 e->o.max_handles);
		sftp_access(e, "open", r->path, SMBG_EBUSY, m);
		sftp_req_status(r, SMBG_EBUSY, m);
		return;
	}
	int rc = vfs_open(e->vc, r->path, fl, &r->file, open_cb, r);
	if (rc < 0) {
		sftp_handle_release(e, r->nh);
		r->nh = NULL;
		sftp_req_status(r, rc, NULL);
	}
}

/* ---- CLOSE ---- */

static void close_finish(struct sftp_req *r, int rc, const char *msg)
{
	struct sftp_engine *e = r->e;
	struct sftp_handle *h = r->h;
	if (e->o.access_log) {
		char extra[96];
		snprintf(extra, sizeof(extra), "read=%" PRIu64 " written=%" PRIu64, h->bytes_read,
			 h->bytes_written);
		sftp_access(e, h->type == H_DIR ? "closedir" : "close", h->path, rc, extra);
	}
	/* the handle goes before the request: nothing can be queued behind a CLOSE */
	h->inflight--;
	r->h = NULL;
	sftp_handle_release(e, h);
	sftp_req_status(r, rc < 0 ? rc : 0, msg);
}

static void close_cb(void *priv, int rc, const char *msg)
{
	close_finish(priv, rc, msg);
}

static void close_start(struct sftp_req *r)
{
	struct sftp_handle *h = r->h;
	if (h->type == H_DIR || !h->f) {
		close_finish(r, 0, NULL);
		return;
	}
	struct vfs_file *f = h->f;
	h->f = NULL;
	int rc = vfs_close(r->e->vc, f, close_cb, r);
	if (rc < 0)
		close_finish(r, rc, NULL);
}

void sftp_op_close(struct sftp_req *r)
{
	struct sftp_handle *h = sftp_req_handle(r);
	if (!h)
		return;
	h->closing = 1;
	r->h = h;
	r->kind = RK_BARRIER;
	r->start = close_start;
	sftp_handle_submit(r);
}

/* ---- READ ---- */

static void read_cb(void *priv, int rc, const char *msg)
{
	struct sftp_req *r = priv;
	struct sftp_engine *e = r->e;
	e->data_inflight -= r->n;
	if (rc <= 0) {
		sftp_req_status(r, rc < 0 ? rc : SMBG_EOF, msg);
		return;
	}
	struct obuf *ob = r->ob;
	r->ob = NULL;
	uint32_t n = (uint32_t)rc;
	uint32_t plen = 9 + n;
	uint8_t *p = ob->p;
	p[0] = (uint8_t)(plen >> 24);
	p[1] = (uint8_t)(plen >> 16);
	p[2] = (uint8_t)(plen >> 8);
	p[3] = (uint8_t)plen;
	p[4] = SSH_FXP_DATA;
	p[5] = (uint8_t)(r->id >> 24);
	p[6] = (uint8_t)(r->id >> 16);
	p[7] = (uint8_t)(r->id >> 8);
	p[8] = (uint8_t)r->id;
	p[9] = (uint8_t)(n >> 24);
	p[10] = (uint8_t)(n >> 16);
	p[11] = (uint8_t)(n >> 8);
	p[12] = (uint8_t)n;
	ob->len = DATA_HDR + n;
	sftp_out_queue(e, ob);
	e->stats.bytes_read += n;
	r->h->bytes_read += n;
	sftp_req_done(r);
}

static void read_start(struct sftp_req *r)
{
	struct sftp_engine *e = r->e;
	r->ob = sftp_obuf_big(e);
	if (!r->ob) {
		sftp_req_status(r, SMBG_ENOMEM, NULL);
		return;
	}
	e->data_inflight += r->n;
	/* the data lands right behind the reply header: no copy on the way out */
	int rc = vfs_read(e->vc, r->h->f, r->ob->p + DATA_HDR, r->n, r->off, read_cb, r);
	if (rc < 0) {
		e->data_inflight -= r->n;
		sftp_req_status(r, rc, NULL);
	}
}

void sftp_op_read(struct sftp_req *r)
{
	struct sftp_handle *h = sftp_req_handle(r);
	uint32_t len;
	if (!h)
		return;
	if (sftp_get_u64(&r->cur, &r->off) != 0 || cursor_get_be32(&r->cur, &len) != 0) {
		(void)bad_message(r);
		return;
	}
	if (h->type != H_FILE) {
		sftp_req_status(r, SMBG_EBADF, "not a file handle");
		return;
	}
	/* longer reads get less, which the draft allows */
	r->n = len > SFTP_MAX_DATA ? SFTP_MAX_DATA : len;
	if (r->n == 0) {
		sftp_req_status(r, SMBG_EOF, NULL);
		return;
	}
	r->h = h;
	r->kind = RK_READ;
	r->start = read_start;
	sftp_handle_submit(r);
}

/* ---- WRITE ---- */

/* The replies to one handle's WRITEs leave in the order the WRITEs came, whatever order the
 * backend finishes them in (an SMB server completes pipelined writes out of order). The
 * draft allows any order, but paramiko's pipelined writes (putfo) wait for the replies one
 * by one and drop one that overtakes the reply awaited, then wait for it forever. A finished
 * WRITE waits for the ones before it with its packet still charged, so --max-buffered and
 * the request cap still bound what waits. */
static void write_finish(struct sftp_req *r, int rc, const char *msg)
{
	struct sftp_handle *h = r->h;
	r->wr_done = 1;
	r->wr_rc = rc;
	if (rc < 0 && msg)
		r->wr_msg = strdup(msg); /* none: the status code's own message */
	if (h->wr_flushing)
		return; /* a write_finish further up the stack sends it in turn */
	h->wr_flushing = 1;
	while (h->wr_head && h->wr_head->wr_done) {
		struct sftp_req *x = h->wr_head;
		h->wr_head = x->wr_next;
		int last = h->wr_head == NULL;
		if (last) {
			h->wr_tail = NULL;
			h->wr_flushing = 0;
		}
		char *m = x->wr_msg;
		x->wr_msg = NULL;
		sftp_req_status(x, x->wr_rc, m);
		free(m);
		/* after the last one h may be gone (a CLOSE waiting behind it starts); before
		 * it, the WRITEs still listed keep h in use */
		if (last)
			return;
	}
	h->wr_flushing = 0;
}

static void write_cb(void *priv, int rc, const char *msg)
{
	struct sftp_req *r = priv;
	/* all or nothing: a short count would leave a hole the client never hears of */
	if (rc >= 0 && (uint32_t)rc != r->n) {
		rc = SMBG_EIO;
		msg = "short write: the server wrote less than was sent";
	}
	if (rc >= 0) {
		r->e->stats.bytes_written += r->n;
		r->h->bytes_written += r->n;
	}
	write_finish(r, rc < 0 ? rc : 0, rc < 0 ? msg : NULL);
}

static void write_start(struct sftp_req *r)
{
	struct sftp_handle *h = r->h;
	r->wr_next = NULL;
	if (h->wr_tail)
		h->wr_tail->wr_next = r;
	else
		h->wr_head = r;
	h->wr_tail = r;
	/* the data stays in the request's packet buffer until the write is done */
	int rc = vfs_write(r->e->vc, h->f, r->data, r->n, r->off, write_cb, r);
	if (rc < 0)
		write_finish(r, rc, NULL);
}

void sftp_op_write(struct sftp_req *r)
{
	struct sftp_handle *h = sftp_req_handle(r);
	if (!h)
		return;
	if (sftp_get_u64(&r->cur, &r->off) != 0 || sftp_get_string(&r->cur, &r->data, &r->n) != 0) {
		(void)bad_message(r);
		return;
	}
	if (h->type != H_FILE) {
		sftp_req_status(r, SMBG_EBADF, "not a file handle");
		return;
	}
	if (r->n == 0) {
		sftp_req_status(r, 0, NULL);
		return;
	}
	r->h = h;
	r->kind = RK_WRITE;
	r->start = write_start;
	sftp_handle_submit(r);
}

/* ---- FSTAT, FSETSTAT, fsync ---- */

static void fstat_start(struct sftp_req *r)
{
	struct sftp_handle *h = r->h;
	int rc;
	if (h->type == H_FILE)
		rc = vfs_fstat(r->e->vc, h->f, &r->attr, attrs_cb, r);
	else
		rc = vfs_stat(r->e->vc, h->path, &r->attr, attrs_cb, r);
	if (rc < 0)
		sftp_req_status(r, rc, NULL);
}

void sftp_op_fstat(struct sftp_req *r)
{
	struct sftp_handle *h = sftp_req_handle(r);
	if (!h)
		return;
	r->h = h;
	r->kind = RK_BARRIER;
	r->start = fstat_start;
	sftp_handle_submit(r);
}

static void fsetstat_cb(void *priv, int rc, const char *msg)
{
	struct sftp_req *r = priv;
	sftp_access(r->e, "fsetstat", r->h ? r->h->path : "", rc, NULL);
	sftp_cb_status(priv, rc, msg);
}

static void fsetstat_start(struct sftp_req *r)
{
	struct sftp_handle *h = r->h;
	int rc;
	if (h->type == H_FILE)
		rc = vfs_fsetattr(r->e->vc, h->f, &r->sa, fsetstat_cb, r);
	else
		rc = vfs_setattr(r->e->vc, h->path, &r->sa, fsetstat_cb, r);
	if (rc < 0)
		sftp_req_status(r, rc, NULL);
}

void sftp_op_fsetstat(struct sftp_req *r)
{
	struct sftp_handle *h = sftp_req_handle(r);
	struct sftp_attrs a;
	if (!h)
		return;
	if (sftp_get_attrs(&r->cur, &a) != 0) {
		(void)bad_message(r);
		return;
	}
	sftp_attrs_to_setattr(&a, &r->sa);
	r->h = h;
	r->kind = RK_BARRIER;
	r->start = fsetstat_start;
	sftp_handle_submit(r);
}

static void fsync_start(struct sftp_req *r)
{
	int rc = vfs_fsync(r->e->vc, r->h->f, sftp_cb_status, r);
	if (rc < 0)
		sftp_req_status(r, rc, NULL);
}

void sftp_op_fsync(struct sftp_req *r)
{
	struct sftp_handle *h = sftp_req_handle(r);
	if (!h)
		return;
	if (h->type != H_FILE) {
		sftp_req_status(r, SMBG_EBADF, "not a file handle");
		return;
	}
	r->h = h;
	r->kind = RK_BARRIER;
	r->start = fsync_start;
	sftp_handle_submit(r);
}
