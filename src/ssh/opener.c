#include "ssh/opener.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct ssh_opener {
	pthread_mutex_t lock;
	int refs; /* the caller and the worker */
	int done;
	struct vfs *v;
	atomic_int *active;
	struct vfs_conn *vc;
	char err[512];
	int pipe[2]; /* the worker writes a byte when done */
};

static void unref(struct ssh_opener *op)
{
	pthread_mutex_lock(&op->lock);
	int last = --op->refs == 0;
	pthread_mutex_unlock(&op->lock);
	if (!last)
		return;
	vfs_conn_free(op->vc); /* opened after the caller left */
	close(op->pipe[0]);
	close(op->pipe[1]);
	pthread_mutex_destroy(&op->lock);
	free(op);
}

static void *worker(void *arg)
{
	struct ssh_opener *op = arg;
	char err[sizeof(op->err)] = "";
	struct vfs_conn *vc = vfs_conn_new(op->v, err, sizeof(err));
	atomic_int *active = op->active;
	pthread_mutex_lock(&op->lock);
	op->vc = vc;
	snprintf(op->err, sizeof(op->err), "%s", vc ? "" : err);
	op->done = 1;
	(void)!write(op->pipe[1], "x", 1);
	pthread_mutex_unlock(&op->lock);
	unref(op);
	atomic_fetch_sub(active, 1);
	return NULL;
}

struct ssh_opener *ssh_opener_start(struct vfs *v, atomic_int *active)
{
	struct ssh_opener *op = calloc(1, sizeof(*op));
	if (!op)
		return NULL;
	if (pipe2(op->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		free(op);
		return NULL;
	}
	pthread_mutex_init(&op->lock, NULL);
	op->refs = 2;
	op->v = v;
	op->active = active;
	atomic_fetch_add(active, 1);
	pthread_attr_t attr;
	pthread_t t;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &attr, worker, op);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		atomic_fetch_sub(active, 1);
		op->refs = 1;
		unref(op);
		return NULL;
	}
	return op;
}

int ssh_opener_fd(const struct ssh_opener *op)
{
	return op->pipe[0];
}

int ssh_opener_take(struct ssh_opener *op, struct vfs_conn **vc, char *why, size_t len)
{
	pthread_mutex_lock(&op->lock);
	int done = op->done;
	if (done) {
		*vc = op->vc;
		op->vc = NULL;
		snprintf(why, len, "%s", op->err);
	}
	pthread_mutex_unlock(&op->lock);
	return done;
}

void ssh_opener_release(struct ssh_opener *op)
{
	if (op)
		unref(op);
}
