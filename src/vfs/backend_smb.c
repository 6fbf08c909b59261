/* The SMB backend: every connection (SSH connection thread) owns its own smb_client, polled
 * in that thread's event loop. Reads, writes, opens, closes, stat, fstat and flush go through
 * the client's asynchronous API, so a client's pipelined SFTP requests are SMB requests in
 * flight together; a request longer than the negotiated maximum is split into several, all
 * in flight. The other path operations (listing, mkdir, rename...) use the blocking calls,
 * which keep servicing the connection, so requests already in flight complete meanwhile.
 *
 * Nothing here knows the dialect (SMB1 or SMB2/3): that is the client's business. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "smbgate/smb.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/url.h"
#include "vfs/backend.h"
#include "vfs/backend_smb.h"

struct smb_conn {
	struct smb_shared *sh;
	struct smb_client *c;
	int64_t idle_since; /* no operation since (conn_tick) */
};

struct smb_req;

/* One SMB request of a split read or write. */
struct smb_part {
	struct smb_req *r;
	size_t want; /* bytes asked */
	size_t got;  /* bytes done */
};

/* One backend request that may become several SMB requests (a long read or write). */
struct smb_req {
	struct vfs_op *op;
	size_t nparts, done;
	int err;
	int is_write;
	struct smb_part *parts;
	struct smb_part part1; /* storage when there is one part */
	struct smb_file *f;
	void **fh;	      /* open: where the handle goes */
	char *path;	      /* owned copy for an async open */
	struct vfs_battr *ba; /* open, stat, fstat: where the attributes go */
	struct smb_stat st;
};

static void battr_from(const struct smb_stat *st, struct vfs_battr *a)
{
	memset(a, 0, sizeof(*a));
	a->is_dir = st->is_dir;
	a->size = st->is_dir ? 0 : st->size;
	a->nlink = st->nlink ? st->nlink : 1;
	a->atime = st->atime;
	a->mtime = st->mtime;
}

/* VFS path -> share path under the URL's base path (caller frees). */
static char *share_path(struct smb_conn *bc, const char *path)
{
	char *out = NULL;
	if (smb_path_join(smb_client_base_path(bc->c), path, &out) < 0)
		return NULL;
	return out;
}

static void req_free(struct smb_req *r)
{
	if (r->parts != &r->part1)
		free(r->parts);
	free(r->path);
	free(r);
}

/* A request on a path (open, stat): NULL after failing op with the reason. */
static struct smb_req *path_req_new(struct smb_conn *bc, struct vfs_op *op, const char *path,
				    struct vfs_battr *ba)
{
	struct smb_req *r = calloc(1, sizeof(*r));
	if (!r) {
		vfs_op_done(op, SMBG_ENOMEM, NULL);
		return NULL;
	}
	r->op = op;
	r->ba = ba;
	r->path = share_path(bc, path);
	if (!r->path) {
		req_free(r);
		vfs_op_done(op, SMBG_ENAME, NULL);
		return NULL;
	}
	return r;
}

/* Completes op from a blocking call's result, with the client's message on failure. */
static void done_sync(struct smb_conn *bc, struct vfs_op *op, int rc)
{
	vfs_op_done(op, rc < 0 ? rc : 0, rc < 0 ? smb_client_errmsg(bc->c) : NULL);
}

/* ---- shared state ---- */

/* A client for the shared URL with the configured timeout (NULL without memory). */
static struct smb_client *client_new(struct smb_shared *sh)
{
	struct smb_client *c = smb_client_new(&sh->url);
	if (!c)
		return NULL;
	smb_client_set_timeout(c, sh->timeout);
	/* a session outlives a restart of the SMB server (smb_client_set_reconnect) */
	if (smb_client_set_reconnect(c, 1) < 0) {
		smb_client_free(c);
		return NULL;
	}
	return c;
}

static void *smb_init(const char *remote, const struct vfs_opts *o, char *err, size_t errlen)
{
	struct smb_shared *sh = calloc(1, sizeof(*sh));
	if (!sh) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sh->timeout = o->timeout;
	smb_pool_config(sh);
	char why[256];
	if (smb_url_parse(remote, &sh->url, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "invalid remote %s: %s", remote, why);
		free(sh);
		return NULL;
	}
	if (!sh->url.share || !*sh->url.share) {
		snprintf(err, errlen, "the remote names no share (smb://host/share[/path])");
		smb_url_free(&sh->url);
		free(sh);
		return NULL;
	}
	/* the password: in the URL, or in the environment (never on the command line) */
	const char *env = getenv("SMBGATE_PASSWORD");
	if (!sh->url.password && env) {
		sh->url.password = strdup(env);
		if (!sh->url.password) {
			snprintf(err, errlen, "out of memory");
			smb_url_free(&sh->url);
			free(sh);
			return NULL;
		}
	}
	sh->display = smb_url_display(&sh->url);
	/* connect once now, so that a wrong password or share is reported at start */
	struct smb_client *c = client_new(sh);
	int rc = c ? smb_client_connect(c) : SMBG_ENOMEM;
	if (rc == 0) {
		struct smb_stat st;
		rc = smb_stat(c, smb_client_base_path(c), &st);
		if (rc == 0 && !st.is_dir)
			rc = SMBG_ENOTDIR;
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", sh->display ? sh->display : remote,
			 c ? smb_client_errmsg(c) : smbg_strerror(rc));
		smb_client_free(c);
		free(sh->display);
		smb_url_free(&sh->url);
		free(sh);
		return NULL;
	}
	/* keep it: the first SSH session uses it */
	smb_pool_start(sh, c);
	return sh;
}

static void smb_fini(void *bs)
{
	struct smb_shared *sh = bs;
	if (!sh)
		return;
	smb_pool_stop(sh);
	free(sh->display);
	smb_url_free(&sh->url);
	free(sh);
}

static unsigned smb_caps(void *bs)
{
	(void)bs;
	return VFS_CAP_FSYNC | VFS_CAP_REMOTE;
}

static size_t smb_io_size(void *bs)
{
	(void)bs;
	return 1u << 20;
}

static void *smb_conn_open(void *bs, char *err, size_t errlen)
{
	struct smb_shared *sh = bs;
	struct smb_conn *bc = calloc(1, sizeof(*bc));
	if (!bc) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	bc->sh = sh;
	bc->c = smb_pool_take(sh);
	if (bc->c)
		return bc;
	bc->c = client_new(sh);
	int rc = bc->c ? smb_client_connect(bc->c) : SMBG_ENOMEM;
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", sh->display ? sh->display : "smb",
			 bc->c ? smb_client_errmsg(bc->c) : smbg_strerror(rc));
		smb_client_free(bc->c);
		free(bc);
		return NULL;
	}
	return bc;
}

/* Closes sent without waiting are still pending: vfs_conn_free waits for them (with the
 * one loop, vfs_conn_run_until) before conn_close. */
static int smb_conn_busy(void *p)
{
	struct smb_conn *bc = p;
	return smb_client_pending(bc->c) > 0; /* also requests parked while reconnecting */
}

static int smb_conn_heals(void *p)
{
	struct smb_conn *bc = p;
	return smb_client_reconnecting(bc->c);
}

static int smb_conn_timeout_ms(void *p)
{
	struct smb_conn *bc = p;
	return smb_client_next_deadline_ms(bc->c);
}

/* Ends the connection: every pending request fails now (its callbacks run, with an error),
 * also those parked while reconnecting. */
static void smb_conn_abort(void *p)
{
	struct smb_conn *bc = p;
	smb_client_abort(bc->c, SMBG_ETIMEDOUT, "the SMB server did not answer in time");
}

static void smb_conn_close(void *p)
{
	struct smb_conn *bc = p;
	if (!bc)
		return;
	struct smb_shared *sh = bc->sh;
	/* every file was closed before (vfs_conn_free), and the answers of closes sent
	 * without waiting were collected (conn_busy): a healthy connection goes back */
	if (smb_client_pending(bc->c) == 0 && smb_pool_usable(bc->c)) {
		int64_t now = clock_now_ms();
		pthread_mutex_lock(&sh->lock);
		if (smb_pool_put_locked(sh, bc->c, now, now) == 0)
			bc->c = NULL;
		pthread_mutex_unlock(&sh->lock);
	}
	smb_idle_free(bc->c); /* logs off (every handle was closed before) */
	free(bc);
}

/* A session's connection with nothing to do gets an ECHO every pool_echo_ms (a minute), as
 * pooled ones do: servers drop idle clients (Windows after about 15 minutes). */
static void smb_conn_tick(void *p, int active)
{
	struct smb_conn *bc = p;
	int64_t now = clock_now_ms();
	if (active || bc->idle_since == 0 || smb_client_pending(bc->c) > 0) {
		bc->idle_since = now;
		return;
	}
	if (now - bc->idle_since < bc->sh->pool_echo_ms || smb_client_fd(bc->c) < 0)
		return;
	bc->idle_since = now;
	int rc = smb_echo_async(bc->c, NULL, NULL);
	log_debug("smb: ECHO on an idle session's connection: %s",
		  rc == 0 ? "sent" : smb_client_errmsg(bc->c));
	if (rc == 0)
		(void)smb_client_service(bc->c, 0); /* on the wire now */
}

static int smb_pollfd(void *p, struct pollfd *pfd)
{
	struct smb_conn *bc = p;
	/* requests submitted since the last poll go out now, in one write */
	(void)smb_client_service(bc->c, 0);
	int fd = smb_client_fd(bc->c);
	if (fd < 0)
		return 0;
	pfd->fd = fd;
	pfd->events = smb_client_events(bc->c);
	return 1;
}

static int smb_service(void *p, short revents)
{
	struct smb_conn *bc = p;
	return smb_client_service(bc->c, revents);
}

/* ---- asynchronous operations ---- */

static void part_done(struct smb_client *c, int rc, void *priv);

static void parts_finish(struct smb_req *r)
{
	if (r->err < 0) {
		vfs_op_done(r->op, r->err, NULL);
	} else if (r->is_write) {
		/* all or nothing: a part written short would leave a hole (the client library
		 * resubmits the rest; this is the second line) */
		size_t total = 0, want = 0;
		for (size_t i = 0; i < r->nparts; i++) {
			total += r->parts[i].got;
			want += r->parts[i].want;
		}
		if (total != want) {
			char m[96];
			snprintf(m, sizeof(m), "short write: the server wrote %zu of %zu bytes",
				 total, want);
			vfs_op_done(r->op, SMBG_EIO, m);
		} else {
			vfs_op_done(r->op, (int)total, NULL);
		}
	} else {
		/* parts complete in any order: the result is the prefix up to the first short
		 * part (the end of the file) */
		size_t total = 0;
		for (size_t i = 0; i < r->nparts; i++) {
			total += r->parts[i].got;
			if (r->parts[i].got < r->parts[i].want)
				break;
		}
		vfs_op_done(r->op, (int)total, NULL);
	}
	req_free(r);
}

/* Splits [buf, len) into parts of at most max bytes and submits them all. */
static void submit_parts(struct smb_conn *bc, struct vfs_op *op, struct smb_file *f, void *buf,
			 const void *wbuf, size_t len, uint64_t off, size_t max)
{
	struct smb_req *r = calloc(1, sizeof(*r));
	if (!r)
		return vfs_op_done(op, SMBG_ENOMEM, NULL);
	r->op = op;
	r->is_write = buf == NULL;
	size_t chunk = max ? max : len;
	r->nparts = len ? (len + chunk - 1) / chunk : 1;
	if (r->nparts == 1) {
		r->parts = &r->part1;
	} else {
		r->parts = calloc(r->nparts, sizeof(*r->parts));
		if (!r->parts) {
			free(r);
			return vfs_op_done(op, SMBG_ENOMEM, NULL);
		}
	}
	size_t submitted = 0;
	for (size_t i = 0; i < r->nparts; i++) {
		struct smb_part *pt = &r->parts[i];
		size_t o = i * chunk;
		pt->r = r;
		pt->want = len - o < chunk ? len - o : chunk;
		int rc = buf ? smb_pread_async(bc->c, f, (char *)buf + o, pt->want, off + o,
					       part_done, pt)
			     : smb_pwrite_async(bc->c, f, (const char *)wbuf + o, pt->want, off + o,
						part_done, pt);
		if (rc < 0) {
			/* the parts already submitted still complete; the rest count as failed */
			r->err = rc;
			r->done += r->nparts - i;
			break;
		}
		submitted++;
	}
	if (submitted == 0) {
		vfs_op_done(op, r->err, smb_client_errmsg(bc->c));
		req_free(r);
	}
}

static void part_done(struct smb_client *c, int rc, void *priv)
{
	struct smb_part *pt = priv;
	struct smb_req *r = pt->r;
	(void)c;
	if (rc < 0 && r->err == 0)
		r->err = rc;
	if (rc >= 0)
		pt->got = (size_t)rc;
	if (++r->done == r->nparts)
		parts_finish(r);
}

static void smb_read(void *p, struct vfs_op *op, void *fh, void *buf, size_t len, uint64_t off)
{
	struct smb_conn *bc = p;
	submit_parts(bc, op, fh, buf, NULL, len, off, smb_client_max_read(bc->c));
}

static void smb_write(void *p, struct vfs_op *op, void *fh, const void *buf, size_t len,
		      uint64_t off)
{
	struct smb_conn *bc = p;
	submit_parts(bc, op, fh, NULL, buf, len, off, smb_client_max_write(bc->c));
}

static void open_done(struct smb_client *c, int rc, void *priv)
{
	struct smb_req *r = priv;
	if (rc < 0) {
		vfs_op_done(r->op, rc, smb_client_errmsg(c));
	} else {
		battr_from(&r->st, r->ba);
		*r->fh = r->f;
		vfs_op_done(r->op, 0, NULL);
	}
	req_free(r);
}

static void smb_open_op(void *p, struct vfs_op *op, const char *path, int flags, void **fh,
			struct vfs_battr *attr)
{
	struct smb_conn *bc = p;
	struct smb_req *r = path_req_new(bc, op, path, attr);
	if (!r)
		return;
	r->fh = fh;
	int sf = SMB_O_FILE;
	if (flags & VFS_O_READ)
		sf |= SMB_O_READ;
	if (flags & VFS_O_WRITE)
		sf |= SMB_O_WRITE;
	if (flags & VFS_O_CREAT)
		sf |= SMB_O_CREATE;
	if (flags & VFS_O_EXCL)
		sf |= SMB_O_EXCL;
	if (flags & VFS_O_TRUNC)
		sf |= SMB_O_TRUNC;
	if (flags & VFS_BO_RENAME)
		sf |= SMB_O_DELETE;
	int rc = smb_open_stat_async(bc->c, r->path, sf, &r->f, &r->st, open_done, r);
	if (rc < 0) {
		vfs_op_done(op, rc, smb_client_errmsg(bc->c));
		req_free(r);
	}
}

static void simple_done(struct smb_client *c, int rc, void *priv)
{
	struct vfs_op *op = priv;
	(void)c;
	vfs_op_done(op, rc < 0 ? rc : 0, NULL);
}

static void smb_close_op(void *p, struct vfs_op *op, void *fh)
{
	struct smb_conn *bc = p;
	int rc = smb_close_async(bc->c, fh, simple_done, op);
	if (rc < 0) /* the handle is freed either way */
		vfs_op_done(op, rc, smb_client_errmsg(bc->c));
}

static void smb_close_nowait_op(void *p, void *fh)
{
	struct smb_conn *bc = p;
	/* requests go out in the order they are submitted: whatever follows reaches the server
	 * after this close; its answer is read by a later service */
	(void)smb_close_async(bc->c, fh, NULL, NULL); /* frees fh, also on failure */
	/* on the wire now, before the client hears that the file is closed */
	(void)smb_client_service(bc->c, 0);
}

static void fstat_done(struct smb_client *c, int rc, void *priv)
{
	struct smb_req *r = priv;
	(void)c;
	if (rc >= 0)
		battr_from(&r->st, r->ba);
	vfs_op_done(r->op, rc < 0 ? rc : 0, NULL);
	req_free(r);
}

static void smb_fstat_op(void *p, struct vfs_op *op, void *fh, struct vfs_battr *out)
{
	struct smb_conn *bc = p;
	struct smb_req *r = calloc(1, sizeof(*r));
	if (!r)
		return vfs_op_done(op, SMBG_ENOMEM, NULL);
	r->op = op;
	r->ba = out;
	int rc = smb_fstat_async(bc->c, fh, &r->st, fstat_done, r);
	if (rc < 0) {
		vfs_op_done(op, rc, smb_client_errmsg(bc->c));
		req_free(r);
	}
}

static void frename_done(struct smb_client *c, int rc, void *priv)
{
	struct smb_req *r = priv;
	vfs_op_done(r->op, rc < 0 ? rc : 0, rc < 0 ? smb_client_errmsg(c) : NULL);
	req_free(r);
}

static void smb_frename_op(void *p, struct vfs_op *op, void *fh, const char *to)
{
	struct smb_conn *bc = p;
	struct smb_req *r = path_req_new(bc, op, to, NULL);
	if (!r)
		return;
	int rc = smb_frename_async(bc->c, fh, r->path, 1, frename_done, r);
	if (rc < 0) {
		vfs_op_done(op, rc, smb_client_errmsg(bc->c));
		req_free(r);
	}
}

static void smb_fsync_op(void *p, struct vfs_op *op, void *fh)
{
	struct smb_conn *bc = p;
	int rc = smb_flush_async(bc->c, fh, simple_done, op);
	if (rc < 0)
		vfs_op_done(op, rc, smb_client_errmsg(bc->c));
}

/* stat: an open that asks for no access returns the attributes; the handle is closed without
 * waiting (stats in flight together overlap). */
static void stat_done(struct smb_client *c, int rc, void *priv)
{
	struct smb_req *r = priv;
	if (rc < 0) {
		/* named as the operation the client asked for, as smb_stat does */
		const char *m = smb_client_errmsg(c);
		char msg[512];
		if (strncmp(m, "open ", 5) == 0) {
			snprintf(msg, sizeof(msg), "stat %s", m + 5);
			m = msg;
		}
		vfs_op_done(r->op, rc, m);
	} else {
		battr_from(&r->st, r->ba);
		(void)smb_close_async(c, r->f, NULL, NULL);
		vfs_op_done(r->op, 0, NULL);
	}
	req_free(r);
}

static void smb_stat_op(void *p, struct vfs_op *op, const char *path, struct vfs_battr *out)
{
	struct smb_conn *bc = p;
	struct smb_req *r = path_req_new(bc, op, path, out);
	if (!r)
		return;
	int rc = smb_open_stat_async(bc->c, r->path, 0, &r->f, &r->st, stat_done, r);
	if (rc < 0) {
		vfs_op_done(op, rc, smb_client_errmsg(bc->c));
		req_free(r);
	}
}

/* ---- blocking operations (the client services the connection while it waits) ---- */

static void smb_truncate_op(void *p, struct vfs_op *op, void *fh, uint64_t size)
{
	struct smb_conn *bc = p;
	done_sync(bc, op, smb_ftruncate(bc->c, fh, size));
}

static void smb_setattr_op(void *p, struct vfs_op *op, const char *path, void *fh,
			   const struct vfs_setattr *sa)
{
	struct smb_conn *bc = p;
	struct timespec at = {0, UTIME_OMIT}, mt = {0, UTIME_OMIT};
	if (sa->valid & VFS_SET_ATIME)
		at = sa->atime;
	if (sa->valid & VFS_SET_MTIME)
		mt = sa->mtime;
	if (fh)
		return done_sync(bc, op, smb_futimens(bc->c, fh, &at, &mt));
	char *sp = share_path(bc, path);
	if (!sp)
		return vfs_op_done(op, SMBG_ENAME, NULL);
	struct smb_file *f = NULL;
	int rc = smb_open(bc->c, sp, SMB_O_ATTR, &f);
	if (rc == 0) {
		rc = smb_futimens(bc->c, f, &at, &mt);
		int rc2 = smb_close(bc->c, f);
		if (rc == 0)
			rc = rc2;
	}
	free(sp);
	done_sync(bc, op, rc);
}

struct list_ctx {
	struct vfs_dir *d;
};

static int list_entry(void *priv, const char *name, const struct smb_stat *st)
{
	struct list_ctx *l = priv;
	struct vfs_battr a;
	battr_from(st, &a);
	return vfs_dir_add(l->d, name, strlen(name), &a);
}

static void smb_readdir_op(void *p, struct vfs_op *op, const char *path, struct vfs_dir *out)
{
	struct smb_conn *bc = p;
	char *sp = share_path(bc, path);
	if (!sp)
		return vfs_op_done(op, SMBG_ENAME, NULL);
	struct list_ctx l = {out};
	int rc = smb_readdir(bc->c, sp, list_entry, &l);
	free(sp);
	done_sync(bc, op, rc);
}

static void path_op(struct smb_conn *bc, struct vfs_op *op, const char *path,
		    int (*fn)(struct smb_client *, const char *))
{
	char *sp = share_path(bc, path);
	if (!sp)
		return vfs_op_done(op, SMBG_ENAME, NULL);
	int rc = fn(bc->c, sp);
	free(sp);
	done_sync(bc, op, rc);
}

static void smb_mkdir_op(void *p, struct vfs_op *op, const char *path)
{
	path_op(p, op, path, smb_mkdir);
}

static void smb_rmdir_op(void *p, struct vfs_op *op, const char *path)
{
	path_op(p, op, path, smb_rmdir);
}

static void smb_unlink_op(void *p, struct vfs_op *op, const char *path)
{
	path_op(p, op, path, smb_unlink);
}

static void smb_rename_op(void *p, struct vfs_op *op, const char *from, const char *to, int replace)
{
	struct smb_conn *bc = p;
	char *a = share_path(bc, from), *b = share_path(bc, to);
	int rc = a && b ? smb_rename(bc->c, a, b, replace) : SMBG_ENAME;
	free(a);
	free(b);
	done_sync(bc, op, rc);
}

static void smb_statfs_op(void *p, struct vfs_op *op, struct vfs_statfs *out)
{
	struct smb_conn *bc = p;
	struct smb_statfs st;
	int rc = smb_statfs(bc->c, smb_client_base_path(bc->c), &st);
	if (rc == 0) {
		out->bsize = st.block_size ? st.block_size : 4096;
		out->blocks = st.total_blocks;
		out->bfree = st.avail_blocks; /* free on the volume */
		out->bavail = st.free_blocks; /* free to us, quota applied */
		out->namemax = 255;
	}
	done_sync(bc, op, rc);
}

const struct vfs_backend_ops vfs_backend_smb = {
    .name = "smb",
    .init = smb_init,
    .fini = smb_fini,
    .caps = smb_caps,
    .io_size = smb_io_size,
    .conn_open = smb_conn_open,
    .conn_close = smb_conn_close,
    .conn_pollfd = smb_pollfd,
    .conn_service = smb_service,
    .conn_abort = smb_conn_abort,
    .conn_busy = smb_conn_busy,
    .conn_tick = smb_conn_tick,
    .conn_timeout_ms = smb_conn_timeout_ms,
    .conn_heals = smb_conn_heals,
    .stat = smb_stat_op,
    .readdir = smb_readdir_op,
    .open = smb_open_op,
    .read = smb_read,
    .write = smb_write,
    .fstat = smb_fstat_op,
    .truncate = smb_truncate_op,
    .setattr = smb_setattr_op,
    .fsync = smb_fsync_op,
    .close = smb_close_op,
    .close_nowait = smb_close_nowait_op,
    .frename = smb_frename_op,
    .mkdir = smb_mkdir_op,
    .rmdir = smb_rmdir_op,
    .unlink = smb_unlink_op,
    .rename = smb_rename_op,
    .link = NULL,
    .statfs = smb_statfs_op,
    .hash = NULL,
};
