/* Internals shared by the SFTP engine's files. Not for use outside src/sftp/. */
#ifndef SMBGATE_SFTP_INTERNAL_H
#define SMBGATE_SFTP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sftp/proto.h"
#include "sftp/sftp.h"
#include "util/cursor.h"
#include "util/wbuf.h"
#include "vfs/vfs.h"

#define SFTP_HANDLE_LEN 8 /* slot index + generation, both be32 */
#define SFTP_BIGBUF	(SFTP_MAX_PACKET + 4)
#define SFTP_SMALLBUF	(16 * 1024) /* output buffer that small replies are packed into */

/* One output chunk: a reply (or many small replies packed together). */
enum obuf_kind { OB_SMALL = 1, OB_BIG, OB_HEAP };
struct obuf {
	struct obuf *next;
	uint8_t *p;
	size_t len; /* bytes of reply in p */
	size_t off; /* bytes already handed to the transport */
	size_t cap;
	enum obuf_kind kind; /* SMALL, HEAP: p = inl; BIG: p from the engine's pool */
	uint8_t inl[];
};

/* What a request does to the ordering of its handle's queue. */
enum req_kind { RK_READ = 1, RK_WRITE, RK_BARRIER };

enum handle_type { H_FILE = 1, H_DIR };

struct sftp_req;

struct sftp_handle {
	uint32_t idx, gen;
	enum handle_type type;
	int ready;   /* the OPEN/OPENDIR completed: until then the handle is not usable */
	int closing; /* CLOSE seen: later requests get "invalid handle" */
	char *path;  /* VFS path */
	struct vfs_file *f;
	struct vfs_dir *dir;
	size_t dir_pos;
	/* ordering: ops in flight, of one kind; requests waiting behind them, in order */
	size_t inflight;
	enum req_kind kind;
	struct sftp_req *wq_head, *wq_tail;
	/* WRITEs started and not answered, oldest first: their replies leave in this order */
	struct sftp_req *wr_head, *wr_tail;
	int wr_flushing; /* write_finish is sending them (further up the stack) */
	uint64_t bytes_read, bytes_written;
};

struct sftp_req {
	struct sftp_req *next;
	struct sftp_engine *e;
	uint8_t *pkt; /* the packet without its length field; owned */
	uint32_t pkt_len;
	int pkt_big;
	uint8_t type;
	uint32_t id;
	struct cursor cur; /* positioned after the request id */
	struct sftp_handle *h;
	enum req_kind kind;
	void (*start)(struct sftp_req *r); /* the handler's second half, for queued requests */
	/* per-request state, for whichever handler runs */
	uint64_t off;
	uint32_t n;
	const uint8_t *data; /* into pkt */
	struct obuf *ob;
	char *path, *path2;
	struct vfs_attr attr;
	struct vfs_setattr sa;
	struct vfs_statfs sfs;
	struct vfs_file *file;
	struct vfs_dir *dir;
	struct sftp_handle *nh; /* the handle an OPEN/OPENDIR is creating */
	int flags;
	size_t charged; /* bytes of its packet counted in e->data_inflight until it is freed */
	/* a WRITE done but answered only after the handle's earlier ones (ops_file.c) */
	struct sftp_req *wr_next;
	int wr_done, wr_rc;
	char *wr_msg; /* owned */
};

struct sftp_engine {
	struct vfs_conn *vc;
	struct vfs *v;
	struct sftp_opts o;
	int inited;
	int fatal;
	char fatal_msg[160];
	/* input framing */
	uint8_t lenbuf[4];
	size_t lenhave;
	uint8_t *cur;
	uint32_t curlen, curhave;
	int curbig;
	struct sftp_req *q_head, *q_tail; /* complete packets not yet started */
	size_t q_bytes;
	/* handles */
	struct sftp_handle **slots;
	size_t nslots, nopen;
	uint32_t next_gen;
	/* output */
	struct obuf *out_head, *out_tail;
	size_t out_bytes;
	/* requests started and not answered; bytes they hold: their packets (WRITE data) and
	 * the read data they will bring. One budget, max_buffered, with the output queued. */
	size_t busy;
	size_t data_inflight;
	/* pools */
	uint8_t *bigpool[16];
	int nbig;
	struct obuf *obpool; /* small output buffers kept for reuse */
	size_t nobpool;
	struct wbuf scratch; /* replies are encoded here, then queued */
	char uname[33], gname[33];
	struct sftp_stats stats;
	int processing;
	/* shutdown: no input, nothing new starts; handles close as their work ends */
	int shutting;
	size_t closing; /* vfs_close calls of the shutdown not completed */
	void (*done_fn)(void *priv);
	void *done_priv;
};

/* ---- engine.c ---- */
uint8_t *sftp_big_get(struct sftp_engine *e);
void sftp_big_put(struct sftp_engine *e, uint8_t *p);
/* Starts a reply in e->scratch: length placeholder, type, id. */
struct wbuf *sftp_reply_begin(struct sftp_engine *e, uint8_t type, uint32_t id);
/* Patches the length and queues e->scratch's reply for output. */
void sftp_reply_end(struct sftp_engine *e);
/* Queues a ready-made output buffer (takes ownership). */
void sftp_out_queue(struct sftp_engine *e, struct obuf *ob);
struct obuf *sftp_obuf_big(struct sftp_engine *e);
void sftp_obuf_free(struct sftp_engine *e, struct obuf *ob);
/* Replies with a status (message from the error table, or msg when given). */
void sftp_reply_status(struct sftp_engine *e, uint32_t id, int err, const char *msg);
/* The request is answered (its reply queued): releases it, lets its handle's queue move. */
void sftp_req_done(struct sftp_req *r);
/* Answers r with a status and releases it. */
void sftp_req_status(struct sftp_req *r, int err, const char *msg);
/* VFS callback that answers with the status of the operation. */
void sftp_cb_status(void *priv, int rc, const char *msg);

/* Handles */
struct sftp_handle *sftp_handle_new(struct sftp_engine *e, enum handle_type type);
void sftp_handle_release(struct sftp_engine *e, struct sftp_handle *h);
/* Shutdown: closes h's file as abandoned (not a complete upload) and releases h. */
void sftp_handle_shut(struct sftp_engine *e, struct sftp_handle *h);
/* Reads a handle string from r->cur; NULL with the status already sent when it is invalid. */
struct sftp_handle *sftp_req_handle(struct sftp_req *r);
void sftp_put_handle(struct wbuf *b, const struct sftp_handle *h);
/* Runs r now or after the requests before it on its handle (r->h, r->kind, r->start set). */
void sftp_handle_submit(struct sftp_req *r);

/* Reads a path string from r->cur and normalises it (malloc'd into *out). Returns 0 or < 0
 * with the status already sent. */
int sftp_req_path(struct sftp_req *r, char **out);

/* Access log line (-v): who, operation, path, outcome. */
void sftp_access(struct sftp_engine *e, const char *op, const char *path, int rc,
		 const char *extra);

/* ---- wire helpers ---- */
static inline WUR int sftp_get_u64(struct cursor *c, uint64_t *v)
{
	uint32_t hi, lo;
	if (cursor_need(c, 8) != 0 || cursor_get_be32(c, &hi) != 0 || cursor_get_be32(c, &lo) != 0)
		return SMBG_EPROTO;
	*v = ((uint64_t)hi << 32) | lo;
	return 0;
}

static inline WUR int sftp_get_string(struct cursor *c, const uint8_t **p, uint32_t *len)
{
	uint32_t n;
	size_t save = c->off;
	if (cursor_get_be32(c, &n) != 0 || cursor_get_ptr(c, n, p) != 0) {
		c->off = save;
		return SMBG_EPROTO;
	}
	*len = n;
	return 0;
}

static inline void sftp_put_u64(struct wbuf *b, uint64_t v)
{
	wbuf_put_be32(b, (uint32_t)(v >> 32));
	wbuf_put_be32(b, (uint32_t)v);
}

static inline void sftp_put_string(struct wbuf *b, const void *p, size_t len)
{
	wbuf_put_be32(b, (uint32_t)len);
	wbuf_put_bytes(b, p, len);
}

static inline void sftp_put_cstring(struct wbuf *b, const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	sftp_put_string(b, s, n);
}

/* ---- attrs.c ---- */
struct sftp_attrs {
	uint32_t flags;
	uint64_t size;
	uint32_t uid, gid, perms, atime, mtime;
};
/* Parses an ATTRS structure (extended pairs are skipped). */
int sftp_get_attrs(struct cursor *c, struct sftp_attrs *a);
void sftp_put_attrs(struct wbuf *b, const struct vfs_attr *a);
/* ls -l style line for READDIR (as OpenSSH's sftp-server writes it). */
void sftp_put_longname(struct wbuf *b, const char *name, const struct vfs_attr *a, const char *user,
		       const char *group, time_t now);
/* SETSTAT attributes -> VFS setattr. */
void sftp_attrs_to_setattr(const struct sftp_attrs *a, struct vfs_setattr *sa);

/* ---- status.c ---- */
/* SMBG_E* -> SSH_FX_* status code and default message; the one table. */
uint32_t sftp_status_code(int err);
const char *sftp_status_message(int err);

/* ---- handlers (ops_*.c) ---- */
void sftp_op_open(struct sftp_req *r);
void sftp_op_close(struct sftp_req *r);
void sftp_op_read(struct sftp_req *r);
void sftp_op_write(struct sftp_req *r);
void sftp_op_fstat(struct sftp_req *r);
void sftp_op_fsetstat(struct sftp_req *r);
void sftp_op_stat(struct sftp_req *r); /* STAT and LSTAT */
void sftp_op_setstat(struct sftp_req *r);
void sftp_op_opendir(struct sftp_req *r);
void sftp_op_readdir(struct sftp_req *r);
void sftp_op_remove(struct sftp_req *r);
void sftp_op_mkdir(struct sftp_req *r);
void sftp_op_rmdir(struct sftp_req *r);
void sftp_op_realpath(struct sftp_req *r);
void sftp_op_rename(struct sftp_req *r);
void sftp_op_readlink(struct sftp_req *r);
void sftp_op_symlink(struct sftp_req *r);
void sftp_op_extended(struct sftp_req *r);
/* Writes the extension list into a VERSION reply. */
void sftp_put_extensions(struct sftp_engine *e, struct wbuf *b);
/* fsync@openssh.com on a file handle (ops_file.c) */
void sftp_op_fsync(struct sftp_req *r);

#endif
