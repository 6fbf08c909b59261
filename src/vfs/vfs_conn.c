/* A connection's operations: their lifecycle (op_new, vfs_op_done, op_free), deadlines (the
 * live list, oldest first), the completion queue that makes every callback run from
 * vfs_conn_run() on the connection's own thread, the backend's tick, abort and the drain at
 * vfs_conn_free. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/log.h"
#include "vfs/vfs_internal.h"

#define OP_FREE_MAX 256

/* ---- connections and the completion queue ---- */

struct vfs_conn *vfs_conn_new(struct vfs *v, char *err, size_t errlen)
{
	struct vfs_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->v = v;
	c->timeout_ms = v->o.timeout > 0 ? v->o.timeout * 1000 : 0;
	c->bc = v->ops->conn_open(v->bs, err, errlen);
	if (!c->bc) {
		free(c);
		return NULL;
	}
	return c;
}

struct vfs *vfs_conn_vfs(const struct vfs_conn *c)
{
	return c->v;
}

/* ---- deadlines ---- */

void vfs_live_del(struct vfs_op *op)
{
	struct vfs_conn *c = op->c;
	if (!op->live)
		return;
	if (op->lprev)
		op->lprev->lnext = op->lnext;
	else
		c->live_head = op->lnext;
	if (op->lnext)
		op->lnext->lprev = op->lprev;
	else
		c->live_tail = op->lprev;
	op->lprev = op->lnext = NULL;
	op->live = 0;
}

/* op (or its next step) now waits for the backend, until now + the timeout. */
static void live_add(struct vfs_op *op)
{
	struct vfs_conn *c = op->c;
	vfs_live_del(op);
	if (!c->timeout_ms || op->no_deadline)
		return;
	op->deadline = clock_now_ms() + c->timeout_ms;
	op->lprev = c->live_tail;
	op->lnext = NULL;
	if (c->live_tail)
		c->live_tail->lnext = op;
	else
		c->live_head = op;
	c->live_tail = op;
	op->live = 1;
}

void vfs_conn_abort(struct vfs_conn *c, const char *why)
{
	if (c->aborted)
		return;
	c->aborted = 1;
	snprintf(c->abort_msg, sizeof(c->abort_msg), "%s",
		 why ? why : "the connection to the server was ended");
	if (c->v->ops->conn_abort)
		c->v->ops->conn_abort(c->bc); /* what was in flight has failed, with abort_msg */
	if (c->v->ops->conn_heals && c->v->ops->conn_heals(c->bc)) {
		c->aborted = 0; /* later operations reconnect and get deadlines of their own */
		return;
	}
	c->dead = 1;
}

/* An operation waited past its deadline: end the backend connection, so that it (and every
 * other one in flight) completes now and nothing writes into its buffers later. */
static void conn_check_deadlines(struct vfs_conn *c)
{
	struct vfs_op *op = c->live_head;
	if (!op || c->aborted || op->deadline > clock_now_ms())
		return;
	char why[OP_MSG_MAX];
	snprintf(why, sizeof(why), "the %s server did not answer within %d s",
		 strcmp(c->v->ops->name, "smb") == 0 ? "SMB" : c->v->ops->name,
		 c->timeout_ms / 1000);
	log_warn("vfs: %s: ending that connection (%zu operations in flight fail)", why,
		 c->inflight);
	vfs_conn_abort(c, why);
}

#define TICK_MS 1000

/* The backend's keep-alive, about once a second. */
static void conn_tick(struct vfs_conn *c)
{
	if (!c->v->ops->conn_tick || c->dead)
		return;
	int64_t now = clock_now_ms();
	if (now < c->next_tick)
		return;
	c->next_tick = now + TICK_MS;
	int active = c->inflight > 0 || c->started != c->started_tick;
	c->started_tick = c->started;
	c->v->ops->conn_tick(c->bc, active);
}

int vfs_conn_timeout_ms(struct vfs_conn *c)
{
	int t = -1;
	if (c->v->ops->conn_tick && !c->dead) {
		int64_t d = c->next_tick - clock_now_ms();
		t = d < 0 ? 0 : d > TICK_MS ? TICK_MS : (int)d;
	}
	if (c->live_head && !c->aborted) {
		int64_t d = c->live_head->deadline - clock_now_ms();
		int dl = d < 0 ? 0 : d > INT_MAX ? INT_MAX : (int)d;
		if (t < 0 || dl < t)
			t = dl;
	}
	if (c->v->ops->conn_timeout_ms && !c->dead) {
		int b = c->v->ops->conn_timeout_ms(c->bc);
		if (b >= 0 && (t < 0 || b < t))
			t = b;
	}
	return t;
}

struct vfs_op *vfs_op_new(struct vfs_conn *c, vfs_cb cb, void *priv)
{
	struct vfs_op *op = c->free_ops;
	if (op) {
		c->free_ops = op->next;
		c->nfree--;
	} else {
		op = malloc(sizeof(*op));
		if (!op)
			return NULL;
	}
	op->next = NULL;
	op->c = c;
	op->cb = cb;
	op->priv = priv;
	op->rc = 0;
	op->step = 0;
	op->msg[0] = '\0';
	op->then = NULL;
	op->f = NULL;
	op->path = NULL;
	op->path2 = NULL;
	op->attr_out = NULL;
	op->dir = NULL;
	op->dir_out = NULL;
	op->file_out = NULL;
	op->statfs_out = NULL;
	op->fh = NULL;
	op->saved_rc = 0;
	op->saved_msg = NULL;
	memset(&op->sa, 0, sizeof(op->sa));
	op->buf = NULL;
	op->len = 0;
	op->off = 0;
	op->fr.ms = 0;
	op->fr.gen = 0;
	op->live = 0;
	op->queued = 0;
	op->no_deadline = 0;
	op->parent = NULL;
	op->rc2 = SMBG_ENOENT;
	op->pending2 = 0;
	op->waiting2 = 0;
	op->lprev = op->lnext = NULL;
	c->inflight++;
	c->started++;
	live_add(op);
	return op;
}

void vfs_op_free(struct vfs_op *op)
{
	struct vfs_conn *c = op->c;
	vfs_live_del(op);
	free(op->path);
	free(op->path2);
	free(op->saved_msg);
	c->inflight--;
	if (c->nfree < OP_FREE_MAX) {
		op->next = c->free_ops;
		c->free_ops = op;
		c->nfree++;
	} else {
		free(op);
	}
}

void vfs_op_done(struct vfs_op *op, int rc, const char *msg)
{
	struct vfs_conn *c = op->c;
	vfs_live_del(op);
	op->queued = 1;
	/* after vfs_conn_abort, the connection's failure is said as why it was ended */
	if (c->aborted && (rc == SMBG_ECLOSED || rc == SMBG_EIO || rc == SMBG_ETIMEDOUT ||
			   rc == SMBG_ECANCELED)) {
		rc = SMBG_ETIMEDOUT;
		msg = c->abort_msg;
	}
	op->rc = rc;
	if (msg)
		snprintf(op->msg, sizeof(op->msg), "%s", msg);
	else
		op->msg[0] = '\0';
	op->next = NULL;
	if (c->done_tail)
		c->done_tail->next = op;
	else
		c->done_head = op;
	c->done_tail = op;
}

/* Completes op with a policy refusal, through the queue like any other completion. */
int vfs_op_fail(struct vfs_op *op, int rc, const char *msg)
{
	vfs_op_done(op, rc, msg);
	return 0;
}

void vfs_conn_run(struct vfs_conn *c)
{
	struct vfs_op *op;
	conn_check_deadlines(c);
	conn_tick(c);
	while ((op = c->done_head) != NULL) {
		c->done_head = op->next;
		if (!c->done_head)
			c->done_tail = NULL;
		op->next = NULL;
		op->queued = 0;
		if (op->then && op->then(op)) {
			/* a next step is under way (or done already: then it is queued again) */
			if (!op->queued)
				live_add(op);
			continue;
		}
		if (op->cb)
			op->cb(op->priv, op->rc, op->msg[0] ? op->msg : NULL);
		vfs_op_free(op);
	}
}

int vfs_conn_has_completions(const struct vfs_conn *c)
{
	return c->done_head != NULL;
}

size_t vfs_conn_inflight(const struct vfs_conn *c)
{
	return c->inflight;
}

int vfs_conn_pollfds(struct vfs_conn *c, struct pollfd *fds, int max)
{
	if (max < 1 || !c->v->ops->conn_pollfd || c->dead)
		return 0;
	fds[0].revents = 0;
	return c->v->ops->conn_pollfd(c->bc, &fds[0]) > 0 ? 1 : 0;
}

int vfs_conn_service(struct vfs_conn *c, const struct pollfd *fds, int n)
{
	int rc = 0;
	if (n > 0 && c->v->ops->conn_service && !c->dead) {
		rc = c->v->ops->conn_service(c->bc, fds[0].revents);
		if (rc < 0)
			c->dead = 1;
	}
	vfs_conn_run(c);
	return rc;
}

int vfs_conn_run_until(struct vfs_conn *c, int (*cond)(void *arg), void *arg, int64_t deadline_ms)
{
	for (;;) {
		vfs_conn_run(c);
		if (cond(arg))
			return 0;
		if (vfs_conn_has_completions(c))
			continue;
		int64_t now = clock_now_ms();
		if (deadline_ms >= 0 && now >= deadline_ms)
			return SMBG_ETIMEDOUT;
		struct pollfd fds[4];
		int n = vfs_conn_pollfds(c, fds, 4);
		if (vfs_conn_has_completions(c))
			continue; /* the pollfd step may have completed something */
		int t = vfs_conn_timeout_ms(c);
		if (n == 0 && (t < 0 || !c->live_head))
			return SMBG_EIO; /* nothing could ever complete it (a tick would not) */
		if (deadline_ms >= 0 && (t < 0 || deadline_ms - now < t))
			t = (int)(deadline_ms - now);
		int r = poll(fds, (nfds_t)n, t);
		if (r < 0 && errno != EINTR)
			return SMBG_EIO;
		if (r > 0)
			(void)vfs_conn_service(c, fds, n);
	}
}

static int flag_set(void *arg)
{
	return *(int *)arg != 0;
}

int vfs_wait(struct vfs_conn *c, int *done)
{
	/* no deadline of its own: every operation has one */
	return vfs_conn_run_until(c, flag_set, done, -1);
}

/* Nothing in flight, in the VFS or (closes sent without waiting) in the backend. */
static int conn_quiet(void *arg)
{
	struct vfs_conn *c = arg;
	return c->inflight == 0 &&
	       (c->dead || !c->v->ops->conn_busy || !c->v->ops->conn_busy(c->bc));
}

/* Runs the loop until nothing is in flight. Bounded: the operations' own deadlines end a
 * silent connection; should the backend still not answer, it is aborted. */
static void conn_drain(struct vfs_conn *c)
{
	int64_t wait = c->timeout_ms ? c->timeout_ms + 2000 : 30000;
	if (vfs_conn_run_until(c, conn_quiet, c, clock_now_ms() + wait) == 0)
		return;
	if (c->inflight || !c->dead) {
		vfs_conn_abort(c, "the connection was ended while operations were in flight");
		(void)vfs_conn_run_until(c, conn_quiet, c, clock_now_ms() + 1000);
	}
}

static void conn_close_done(void *priv, int rc, const char *msg)
{
	(void)rc;
	(void)msg;
	(*(size_t *)priv)--;
}

void vfs_conn_free(struct vfs_conn *c)
{
	if (!c)
		return;
	vfs_conn_run(c);
	/* Close what the caller left open, so that no backend handle outlives us. */
	size_t closing = 0;
	while (c->files) {
		struct vfs_file *f = c->files;
		vfs_file_abandon(f); /* the client did not close it: not a complete upload */
		if (vfs_close(c, f, conn_close_done, &closing) == 0)
			closing++;
		else
			break;
	}
	conn_drain(c);
	if (c->inflight) {
		/* a backend that breaks its contract: leak rather than free under it */
		log_error("vfs: %zu operations never completed; their memory is kept", c->inflight);
		return;
	}
	c->v->ops->conn_close(c->bc);
	while (c->free_ops) {
		struct vfs_op *op = c->free_ops;
		c->free_ops = op->next;
		free(op);
	}
	free(c);
}

/* Keeps op's error (and message) while a closing step runs; vfs_op_restore puts it back. */
void vfs_op_save(struct vfs_op *op)
{
	op->saved_rc = op->rc;
	free(op->saved_msg);
	op->saved_msg = op->msg[0] ? vfs_xstrdup(op->msg) : NULL;
}

void vfs_op_restore(struct vfs_op *op)
{
	op->rc = op->saved_rc;
	snprintf(op->msg, sizeof(op->msg), "%s", op->saved_msg ? op->saved_msg : "");
}
