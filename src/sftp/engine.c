/* The SFTP engine: framing (lengths capped before any allocation), the request queue,
 * the dispatch table, per-handle ordering, and the output queue. */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sftp/internal.h"
#include "util/clock.h"
#include "util/log.h"

#define MAX_BUSY     1024		/* requests started and not answered */
#define INPUT_QUEUED (4u * 1024 * 1024) /* bytes of packets buffered, not started */
#define BIGPOOL_KEEP 8
#define OBPOOL_KEEP  64
#define SMALL_REPLY  4096 /* replies up to this size are packed into shared buffers */

void sftp_opts_default(struct sftp_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->max_handles = 1024;
	o->max_buffered = 8u * 1024 * 1024;
}

/* ---- the dispatch table (type -> handler), as OpenSSH's sftp-server does it ---- */

static void op_init(struct sftp_req *r);

static const struct {
	uint8_t type;
	const char *name;
	void (*fn)(struct sftp_req *r);
} handlers[] = {
    {SSH_FXP_INIT, "init", op_init},
    {SSH_FXP_OPEN, "open", sftp_op_open},
    {SSH_FXP_CLOSE, "close", sftp_op_close},
    {SSH_FXP_READ, "read", sftp_op_read},
    {SSH_FXP_WRITE, "write", sftp_op_write},
    {SSH_FXP_LSTAT, "lstat", sftp_op_stat},
    {SSH_FXP_FSTAT, "fstat", sftp_op_fstat},
    {SSH_FXP_SETSTAT, "setstat", sftp_op_setstat},
    {SSH_FXP_FSETSTAT, "fsetstat", sftp_op_fsetstat},
    {SSH_FXP_OPENDIR, "opendir", sftp_op_opendir},
    {SSH_FXP_READDIR, "readdir", sftp_op_readdir},
    {SSH_FXP_REMOVE, "remove", sftp_op_remove},
    {SSH_FXP_MKDIR, "mkdir", sftp_op_mkdir},
    {SSH_FXP_RMDIR, "rmdir", sftp_op_rmdir},
    {SSH_FXP_REALPATH, "realpath", sftp_op_realpath},
    {SSH_FXP_STAT, "stat", sftp_op_stat},
    {SSH_FXP_RENAME, "rename", sftp_op_rename},
    {SSH_FXP_READLINK, "readlink", sftp_op_readlink},
    {SSH_FXP_SYMLINK, "symlink", sftp_op_symlink},
    {SSH_FXP_EXTENDED, "extended", sftp_op_extended},
};

/* type -> index into handlers + 1 (0: unknown), filled once */
static uint8_t handler_index[256];

static void handlers_init(void)
{
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		handler_index[handlers[i].type] = (uint8_t)(i + 1);
}

/* ---- buffers ---- */

uint8_t *sftp_big_get(struct sftp_engine *e)
{
	if (e->nbig > 0)
		return e->bigpool[--e->nbig];
	return malloc(SFTP_BIGBUF);
}

void sftp_big_put(struct sftp_engine *e, uint8_t *p)
{
	if (!p)
		return;
	if (e->nbig < BIGPOOL_KEEP)
		e->bigpool[e->nbig++] = p;
	else
		free(p);
}

static struct obuf *obuf_small(struct sftp_engine *e)
{
	struct obuf *ob = e->obpool;
	if (ob) {
		e->obpool = ob->next;
		e->nobpool--;
	} else {
		ob = malloc(sizeof(*ob) + SFTP_SMALLBUF);
		if (!ob)
			return NULL;
	}
	memset(ob, 0, sizeof(*ob));
	ob->p = ob->inl;
	ob->cap = SFTP_SMALLBUF;
	ob->kind = OB_SMALL;
	return ob;
}

static struct obuf *obuf_heap(size_t n)
{
	struct obuf *ob = malloc(sizeof(*ob) + n);
	if (!ob)
		return NULL;
	memset(ob, 0, sizeof(*ob));
	ob->p = ob->inl;
	ob->cap = n;
	ob->kind = OB_HEAP;
	return ob;
}

struct obuf *sftp_obuf_big(struct sftp_engine *e)
{
	struct obuf *ob = calloc(1, sizeof(*ob));
	if (!ob)
		return NULL;
	ob->p = sftp_big_get(e);
	if (!ob->p) {
		free(ob);
		return NULL;
	}
	ob->cap = SFTP_BIGBUF;
	ob->kind = OB_BIG;
	return ob;
}

void sftp_obuf_free(struct sftp_engine *e, struct obuf *ob)
{
	if (!ob)
		return;
	if (ob->kind == OB_BIG) {
		sftp_big_put(e, ob->p);
	} else if (ob->kind == OB_SMALL && e->nobpool < OBPOOL_KEEP) {
		ob->next = e->obpool;
		e->obpool = ob;
		e->nobpool++;
		return;
	}
	free(ob);
}

void sftp_out_queue(struct sftp_engine *e, struct obuf *ob)
{
	ob->next = NULL;
	if (e->out_tail)
		e->out_tail->next = ob;
	else
		e->out_head = ob;
	e->out_tail = ob;
	e->out_bytes += ob->len - ob->off;
}

/* Appends bytes to the output, packing small replies into one buffer so that the transport
 * sends them together. */
static void out_append(struct sftp_engine *e, const uint8_t *p, size_t n)
{
	struct obuf *t = e->out_tail;
	if (t && t->kind == OB_SMALL && n <= t->cap - t->len) {
		memcpy(t->p + t->len, p, n);
		t->len += n;
		e->out_bytes += n;
		return;
	}
	struct obuf *ob = n <= SMALL_REPLY ? obuf_small(e) : obuf_heap(n);
	if (!ob) {
		e->fatal = 1;
		snprintf(e->fatal_msg, sizeof(e->fatal_msg), "out of memory");
		return;
	}
	memcpy(ob->p, p, n);
	ob->len = n;
	sftp_out_queue(e, ob);
}

struct wbuf *sftp_reply_begin(struct sftp_engine *e, uint8_t type, uint32_t id)
{
	wbuf_reset(&e->scratch);
	wbuf_put_be32(&e->scratch, 0);
	wbuf_put_u8(&e->scratch, type);
	wbuf_put_be32(&e->scratch, id);
	return &e->scratch;
}

void sftp_reply_end(struct sftp_engine *e)
{
	struct wbuf *b = &e->scratch;
	if (wbuf_error(b)) {
		e->fatal = 1;
		snprintf(e->fatal_msg, sizeof(e->fatal_msg), "cannot encode a reply: %s",
			 smbg_strerror(wbuf_error(b)));
		return;
	}
	uint32_t len = (uint32_t)(b->len - 4);
	b->p[0] = (uint8_t)(len >> 24);
	b->p[1] = (uint8_t)(len >> 16);
	b->p[2] = (uint8_t)(len >> 8);
	b->p[3] = (uint8_t)len;
	out_append(e, b->p, b->len);
}

void sftp_reply_status(struct sftp_engine *e, uint32_t id, int err, const char *msg)
{
	struct wbuf *b = sftp_reply_begin(e, SSH_FXP_STATUS, id);
	wbuf_put_be32(b, sftp_status_code(err));
	sftp_put_cstring(b, msg ? msg : sftp_status_message(err));
	sftp_put_cstring(b, "en");
	sftp_reply_end(e);
	if (err < 0 && err != SMBG_EOF)
		e->stats.errors++;
}

/* ---- requests ---- */

static void req_free(struct sftp_engine *e, struct sftp_req *r)
{
	e->data_inflight -= r->charged;
	if (r->pkt_big)
		sftp_big_put(e, r->pkt);
	else
		free(r->pkt);
	free(r->path);
	free(r->path2);
	free(r->wr_msg);
	vfs_dir_put(r->dir);
	sftp_obuf_free(e, r->ob);
	free(r);
}

static int can_start(const struct sftp_handle *h, const struct sftp_req *r)
{
	return h->inflight == 0 || (r->kind == h->kind && r->kind != RK_BARRIER);
}

static void start_now(struct sftp_req *r)
{
	struct sftp_handle *h = r->h;
	h->inflight++;
	h->kind = r->kind;
	r->start(r);
}

/* Shutdown: when nothing is idle any more and someone waits, tell them (may free e: call
 * last). */
static void maybe_done(struct sftp_engine *e)
{
	if (e->shutting && e->done_fn && sftp_engine_idle(e)) {
		void (*fn)(void *) = e->done_fn;
		e->done_fn = NULL;
		fn(e->done_priv);
	}
}

static void shut_close_done(void *priv, int rc, const char *msg)
{
	struct sftp_engine *e = priv;
	(void)msg;
	if (rc < 0)
		log_warn("sftp: closing a handle left open by the client: %s", smbg_strerror(rc));
	e->closing--;
	maybe_done(e);
}

void sftp_handle_shut(struct sftp_engine *e, struct sftp_handle *h)
{
	if (h->f) {
		struct vfs_file *f = h->f;
		h->f = NULL;
		vfs_file_abandon(f); /* not closed by the client: not a complete upload */
		if (vfs_close(e->vc, f, shut_close_done, e) == 0)
			e->closing++;
	}
	sftp_handle_release(e, h);
}

/* Drops the requests waiting on h (shutdown). */
static void handle_drop_queue(struct sftp_engine *e, struct sftp_handle *h)
{
	while (h->wq_head) {
		struct sftp_req *r = h->wq_head;
		h->wq_head = r->next;
		r->next = NULL;
		r->h = NULL;
		e->busy--;
		req_free(e, r);
	}
	h->wq_tail = NULL;
}

static void handle_pump(struct sftp_engine *e, struct sftp_handle *h)
{
	if (e->shutting) { /* start nothing new; close the handle once its work is done */
		handle_drop_queue(e, h);
		if (h->inflight == 0 && h->ready)
			sftp_handle_shut(e, h);
		return;
	}
	while (h->wq_head && can_start(h, h->wq_head)) {
		struct sftp_req *r = h->wq_head;
		h->wq_head = r->next;
		if (!h->wq_head)
			h->wq_tail = NULL;
		r->next = NULL;
		if (r->type == SSH_FXP_CLOSE) {
			/* a CLOSE may free h as it starts; nothing can be queued behind it */
			start_now(r);
			return;
		}
		start_now(r);
	}
}

void sftp_handle_submit(struct sftp_req *r)
{
	struct sftp_handle *h = r->h;
	if (h->wq_head || !can_start(h, r)) {
		r->next = NULL;
		if (h->wq_tail)
			h->wq_tail->next = r;
		else
			h->wq_head = r;
		h->wq_tail = r;
		return;
	}
	start_now(r);
}

void sftp_req_done(struct sftp_req *r)
{
	struct sftp_engine *e = r->e;
	struct sftp_handle *h = r->h;
	e->busy--;
	if (h) {
		h->inflight--;
		r->h = NULL;
	}
	req_free(e, r);
	if (h)
		handle_pump(e, h);
	maybe_done(e);
}

void sftp_req_status(struct sftp_req *r, int err, const char *msg)
{
	sftp_reply_status(r->e, r->id, err, msg);
	sftp_req_done(r);
}

void sftp_cb_status(void *priv, int rc, const char *msg)
{
	struct sftp_req *r = priv;
	sftp_req_status(r, rc < 0 ? rc : 0, rc < 0 ? msg : NULL);
}

/* ---- handles ---- */

struct sftp_handle *sftp_handle_new(struct sftp_engine *e, enum handle_type type)
{
	if (e->nopen >= e->o.max_handles)
		return NULL;
	size_t i;
	for (i = 0; i < e->nslots; i++)
		if (!e->slots[i])
			break;
	if (i == e->nslots) {
		size_t n = e->nslots ? e->nslots * 2 : 16;
		struct sftp_handle **s = realloc(e->slots, n * sizeof(*s));
		if (!s)
			return NULL;
		memset(s + e->nslots, 0, (n - e->nslots) * sizeof(*s));
		e->slots = s;
		e->nslots = n;
	}
	struct sftp_handle *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->idx = (uint32_t)i;
	h->gen = ++e->next_gen;
	h->type = type;
	e->slots[i] = h;
	e->nopen++;
	return h;
}

void sftp_handle_release(struct sftp_engine *e, struct sftp_handle *h)
{
	if (!h)
		return;
	if (h->idx < e->nslots && e->slots[h->idx] == h) {
		e->slots[h->idx] = NULL;
		e->nopen--;
	}
	vfs_dir_put(h->dir);
	free(h->path);
	free(h);
}

void sftp_put_handle(struct wbuf *b, const struct sftp_handle *h)
{
	wbuf_put_be32(b, SFTP_HANDLE_LEN);
	wbuf_put_be32(b, h->idx);
	wbuf_put_be32(b, h->gen);
}

struct sftp_handle *sftp_req_handle(struct sftp_req *r)
{
	struct sftp_engine *e = r->e;
	const uint8_t *p;
	uint32_t len;
	if (sftp_get_string(&r->cur, &p, &len) != 0) {
		sftp_req_status(r, SMBG_EPROTO, NULL);
		return NULL;
	}
	struct cursor hc;
	uint32_t idx, gen;
	cursor_init(&hc, p, len);
	if (len != SFTP_HANDLE_LEN || cursor_get_be32(&hc, &idx) != 0 ||
	    cursor_get_be32(&hc, &gen) != 0 || idx >= e->nslots || !e->slots[idx] ||
	    e->slots[idx]->gen != gen || !e->slots[idx]->ready || e->slots[idx]->closing) {
		sftp_req_status(r, SMBG_EBADF, "invalid handle");
		return NULL;
	}
	return e->slots[idx];
}

int sftp_req_path(struct sftp_req *r, char **out)
{
	const uint8_t *p;
	uint32_t len;
	if (sftp_get_string(&r->cur, &p, &len) != 0) {
		sftp_req_status(r, SMBG_EPROTO, NULL);
		return SMBG_EPROTO;
	}
	char *buf = malloc(VFS_PATH_MAX);
	if (!buf) {
		sftp_req_status(r, SMBG_ENOMEM, NULL);
		return SMBG_ENOMEM;
	}
	int n = vfs_path_normalize((const char *)p, len, "", buf, VFS_PATH_MAX);
	if (n < 0) {
		free(buf);
		sftp_req_status(r, n, "invalid path");
		return n;
	}
	*out = buf;
	return 0;
}

/* ---- INIT ---- */

static void op_init(struct sftp_req *r)
{
	struct sftp_engine *e = r->e;
	/* INIT carries the client's version where other packets carry an id */
	if (e->inited) {
		e->fatal = 1;
		snprintf(e->fatal_msg, sizeof(e->fatal_msg), "second SSH_FXP_INIT");
		sftp_req_done(r);
		return;
	}
	e->inited = 1;
	struct wbuf *b = sftp_reply_begin(e, SSH_FXP_VERSION, SFTP_VERSION);
	sftp_put_extensions(e, b);
	sftp_reply_end(e);
	log_debug("sftp: client version %u", r->id);
	sftp_req_done(r);
}

/* ---- the engine ---- */

static void name_of(char *out, size_t outlen, uint32_t id, int group)
{
	char buf[4096];
	if (group) {
		struct group gr, *res = NULL;
		if (getgrgid_r((gid_t)id, &gr, buf, sizeof(buf), &res) == 0 && res) {
			snprintf(out, outlen, "%s", res->gr_name);
			return;
		}
	} else {
		struct passwd pw, *res = NULL;
		if (getpwuid_r((uid_t)id, &pw, buf, sizeof(buf), &res) == 0 && res) {
			snprintf(out, outlen, "%s", res->pw_name);
			return;
		}
	}
	snprintf(out, outlen, "%u", id);
}

struct sftp_engine *sftp_engine_new(struct vfs_conn *vc, const struct sftp_opts *o)
{
	static int once;
	if (!once) { /* idempotent; racing threads write the same bytes */
		handlers_init();
		once = 1;
	}
	struct sftp_engine *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->vc = vc;
	e->v = vfs_conn_vfs(vc);
	if (o)
		e->o = *o;
	else
		sftp_opts_default(&e->o);
	if (e->o.max_handles == 0)
		e->o.max_handles = 1024;
	if (e->o.max_buffered < 2 * SFTP_BIGBUF)
		e->o.max_buffered = 2 * SFTP_BIGBUF;
	wbuf_init(&e->scratch);
	e->scratch.max = SFTP_MAX_PACKET + 4;
	const struct vfs_opts *vo = vfs_options(e->v);
	name_of(e->uname, sizeof(e->uname), (uint32_t)vo->uid, 0);
	name_of(e->gname, sizeof(e->gname), (uint32_t)vo->gid, 1);
	return e;
}

size_t sftp_engine_input_room(const struct sftp_engine *e)
{
	if (e->fatal || e->shutting)
		return 0;
	/* the packet being assembled counts too: once whole it joins q_bytes, and input would
	 * then stop at the next packet boundary short of the room promised here */
	size_t pending = e->q_bytes + e->lenhave + (e->cur ? e->curhave : 0);
	return pending < INPUT_QUEUED ? INPUT_QUEUED - pending : 0;
}

static void queue_packet(struct sftp_engine *e)
{
	struct sftp_req *r = calloc(1, sizeof(*r));
	if (!r) {
		e->fatal = 1;
		snprintf(e->fatal_msg, sizeof(e->fatal_msg), "out of memory");
		return;
	}
	r->e = e;
	r->pkt = e->cur;
	r->pkt_len = e->curlen;
	r->pkt_big = e->curbig;
	e->cur = NULL;
	cursor_init(&r->cur, r->pkt, r->pkt_len);
	/* length >= 5 was checked, so type and id (or version) are there */
	if (cursor_get_u8(&r->cur, &r->type) != 0 || cursor_get_be32(&r->cur, &r->id) != 0) {
		req_free(e, r);
		e->fatal = 1;
		snprintf(e->fatal_msg, sizeof(e->fatal_msg), "short packet");
		return;
	}
	if (e->q_tail)
		e->q_tail->next = r;
	else
		e->q_head = r;
	e->q_tail = r;
	e->q_bytes += r->pkt_len;
}

size_t sftp_engine_input(struct sftp_engine *e, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t used = 0;
	while (used < len && !e->fatal && !e->shutting) {
		if (!e->cur) {
			/* between packets: stop here when enough is buffered */
			if (e->lenhave == 0 && e->q_bytes >= INPUT_QUEUED)
				break;
			while (e->lenhave < 4 && used < len)
				e->lenbuf[e->lenhave++] = p[used++];
			if (e->lenhave < 4)
				break;
			struct cursor lc;
			uint32_t plen;
			cursor_init(&lc, e->lenbuf, 4);
			if (cursor_get_be32(&lc, &plen) != 0)
				break;
			/* the cap comes before any allocation */
			if (plen < 5 || plen > SFTP_MAX_PACKET) {
				e->fatal = 1;
				snprintf(e->fatal_msg, sizeof(e->fatal_msg),
					 "packet of %u bytes is outside the allowed 5..%u", plen,
					 (unsigned)SFTP_MAX_PACKET);
				break;
			}
			e->curbig = plen > 65536;
			e->cur = e->curbig ? sftp_big_get(e) : malloc(plen);
			if (!e->cur) {
				e->fatal = 1;
				snprintf(e->fatal_msg, sizeof(e->fatal_msg), "out of memory");
				break;
			}
			e->curlen = plen;
			e->curhave = 0;
		}
		size_t n = len - used;
		if (n > e->curlen - e->curhave)
			n = e->curlen - e->curhave;
		memcpy(e->cur + e->curhave, p + used, n);
		e->curhave += (uint32_t)n;
		used += n;
		if (e->curhave == e->curlen) {
			e->lenhave = 0;
			queue_packet(e);
		}
	}
	return used;
}

static int may_start(const struct sftp_engine *e, const struct sftp_req *r)
{
	(void)r;
	if (e->busy >= MAX_BUSY)
		return 0;
	/* one memory budget: READ data coming and waiting to be sent, and the packets of the
	 * requests started (a WRITE's data stays until the server has it; a slow server must
	 * not let a client park 1024 of them). Something in flight frees it again. */
	if (e->busy > 0 && e->out_bytes + e->data_inflight >= e->o.max_buffered)
		return 0;
	/* replies alone past it: only the client reading them frees it */
	if (e->out_bytes >= e->o.max_buffered)
		return 0;
	return 1;
}

static void dispatch_queue(struct sftp_engine *e)
{
	while (e->q_head && !e->fatal && !e->shutting && may_start(e, e->q_head)) {
		struct sftp_req *r = e->q_head;
		e->q_head = r->next;
		if (!e->q_head)
			e->q_tail = NULL;
		r->next = NULL;
		e->q_bytes -= r->pkt_len;
		if (!e->inited && r->type != SSH_FXP_INIT) {
			e->fatal = 1;
			snprintf(e->fatal_msg, sizeof(e->fatal_msg),
				 "packet type %u before SSH_FXP_INIT", r->type);
			req_free(e, r);
			return;
		}
		e->busy++;
		e->stats.requests++;
		r->charged = r->pkt_len;
		e->data_inflight += r->charged;
		uint8_t hi = handler_index[r->type];
		if (!hi) {
			sftp_req_status(r, SMBG_ENOTSUP, "unknown request type");
			continue;
		}
		log_trace("sftp: request %u %s", r->id, handlers[hi - 1].name);
		handlers[hi - 1].fn(r);
	}
}

int sftp_engine_process(struct sftp_engine *e)
{
	if (e->processing)
		return e->fatal ? SMBG_EPROTO : 0;
	e->processing = 1;
	for (;;) {
		dispatch_queue(e);
		if (e->fatal || !vfs_conn_has_completions(e->vc))
			break;
		vfs_conn_run(e->vc);
	}
	e->processing = 0;
	return e->fatal ? SMBG_EPROTO : 0;
}

const char *sftp_engine_error(const struct sftp_engine *e)
{
	return e->fatal ? e->fatal_msg : NULL;
}

int sftp_engine_output(struct sftp_engine *e, struct iovec *iov, int max)
{
	int n = 0;
	for (struct obuf *ob = e->out_head; ob && n < max; ob = ob->next) {
		if (ob->len == ob->off)
			continue;
		iov[n].iov_base = ob->p + ob->off;
		iov[n].iov_len = ob->len - ob->off;
		n++;
	}
	return n;
}

void sftp_engine_output_done(struct sftp_engine *e, size_t n)
{
	if (n > e->out_bytes)
		n = e->out_bytes;
	e->out_bytes -= n;
	while (n > 0 && e->out_head) {
		struct obuf *ob = e->out_head;
		size_t rem = ob->len - ob->off;
		if (n < rem) {
			ob->off += n;
			return;
		}
		n -= rem;
		ob->off = ob->len;
		/* the tail stays (small replies are still packed into it) */
		if (ob == e->out_tail && ob->kind == OB_SMALL) {
			ob->off = ob->len = 0;
			return;
		}
		e->out_head = ob->next;
		if (!e->out_head)
			e->out_tail = NULL;
		sftp_obuf_free(e, ob);
	}
}

size_t sftp_engine_output_pending(const struct sftp_engine *e)
{
	return e->out_bytes;
}

size_t sftp_engine_busy(const struct sftp_engine *e)
{
	return e->busy;
}

const struct sftp_stats *sftp_engine_stats(const struct sftp_engine *e)
{
	return &e->stats;
}

int sftp_engine_idle(const struct sftp_engine *e)
{
	return e->busy == 0 && e->closing == 0;
}

void sftp_engine_set_done_cb(struct sftp_engine *e, void (*fn)(void *priv), void *priv)
{
	e->done_fn = fn;
	e->done_priv = priv;
}

void sftp_engine_shutdown(struct sftp_engine *e)
{
	if (e->shutting)
		return;
	e->shutting = 1;
	/* what was never started is dropped (the client is gone: no one reads answers) */
	while (e->q_head) {
		struct sftp_req *r = e->q_head;
		e->q_head = r->next;
		req_free(e, r);
	}
	e->q_tail = NULL;
	e->q_bytes = 0;
	if (e->cur) {
		if (e->curbig)
			sftp_big_put(e, e->cur);
		else
			free(e->cur);
		e->cur = NULL;
	}
	/* handles: idle ones close now, busy ones when their last request completes (in
	 * handle_pump); one being opened closes in its open callback */
	for (size_t i = 0; i < e->nslots; i++) {
		struct sftp_handle *h = e->slots[i];
		if (h)
			handle_pump(e, h);
	}
}

static int engine_idle_cond(void *arg)
{
	return sftp_engine_idle(arg);
}

void sftp_engine_free(struct sftp_engine *e)
{
	if (!e)
		return;
	e->done_fn = NULL;
	sftp_engine_shutdown(e);
	if (!sftp_engine_idle(e)) {
		/* every VFS operation ends by its deadline; a margin on top */
		int t = vfs_options(e->v)->timeout;
		int64_t wait = (t > 0 ? (int64_t)t * 1000 : 30000) + 2000;
		if (vfs_conn_run_until(e->vc, engine_idle_cond, e, clock_now_ms() + wait) < 0 &&
		    !sftp_engine_idle(e)) {
			log_warn("sftp: %zu requests still in flight at the end of the session: "
				 "ending the backend connection",
				 e->busy);
			vfs_conn_abort(e->vc, "the session ended while requests were in flight");
			(void)vfs_conn_run_until(e->vc, engine_idle_cond, e, clock_now_ms() + 2000);
		}
		if (!sftp_engine_idle(e)) {
			/* never free what an operation could still complete into */
			log_error("sftp: %zu requests never completed; their memory is kept",
				  e->busy + e->closing);
			return;
		}
	}
	for (size_t i = 0; i < e->nslots; i++) /* only handles being opened can be left */
		if (e->slots[i])
			sftp_handle_release(e, e->slots[i]);
	free(e->slots);
	while (e->out_head) {
		struct obuf *ob = e->out_head;
		e->out_head = ob->next;
		sftp_obuf_free(e, ob);
	}
	while (e->obpool) {
		struct obuf *ob = e->obpool;
		e->obpool = ob->next;
		free(ob);
	}
	for (int i = 0; i < e->nbig; i++)
		free(e->bigpool[i]);
	wbuf_free(&e->scratch);
	free(e);
}
