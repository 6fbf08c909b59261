/* Blocking operations: each submits through the ops table and services the connection until
 * its callback has run. Path operations (stat, mkdir, unlink, ...) are composed from open,
 * set-info and close, the same way on every dialect. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "smb/client.h"

struct sync_ctx {
	int done;
	int rc;
};

static void sync_cb(struct smb_client *c, int rc, void *priv)
{
	struct sync_ctx *s = priv;
	s->done = 1;
	s->rc = rc;
}

static int sync_finish(struct smb_client *c, int submit_rc, struct sync_ctx *s)
{
	if (submit_rc < 0)
		return submit_rc;
	int rc = smb_wait(c, &s->done);
	if (!s->done)
		return rc;
	return s->rc;
}

static int not_ready(struct smb_client *c)
{
	if (c->dead)
		return c->dead;
	if (!c->ops || c->stage != SMB_STAGE_READY)
		return smb_failf(c, SMBG_EINVAL, "not connected");
	return 0;
}

/* Rewrites the message of a failed step so that it names the user's operation. */
static int rename_failure(struct smb_client *c, int rc, const char *op, const char *path)
{
	if (rc < 0 && !c->dead && c->last_status)
		smb_fail(c, rc, c->last_status, op, path);
	else if (rc < 0 && !c->dead && (rc == SMBG_ENAME || rc == SMBG_EINVAL))
		smb_fail(c, rc, 0, op, path);
	return rc;
}

static int open_ex(struct smb_client *c, const char *path, int flags, int options,
		   struct smb_file **f, struct smb_stat *st)
{
	struct sync_ctx s = {0};
	int rc = not_ready(c);
	if (rc < 0)
		return rc;
	return sync_finish(c, c->ops->open(c, path, flags, options, f, st, sync_cb, &s), &s);
}

int smb_open(struct smb_client *c, const char *path, int flags, struct smb_file **out)
{
	return open_ex(c, path, flags, 0, out, NULL);
}

int smb_close(struct smb_client *c, struct smb_file *f)
{
	struct sync_ctx s = {0};
	return sync_finish(c, smb_close_async(c, f, sync_cb, &s), &s);
}

/* Close without waiting for the answer: it is read by the next wait. */
static void close_nowait(struct smb_client *c, struct smb_file *f)
{
	if (smb_close_async(c, f, NULL, NULL) < 0)
		return; /* the handle is freed either way */
}

int smb_fstat(struct smb_client *c, struct smb_file *f, struct smb_stat *st)
{
	struct sync_ctx s = {0};
	return sync_finish(c, smb_fstat_async(c, f, st, sync_cb, &s), &s);
}

int smb_flush(struct smb_client *c, struct smb_file *f)
{
	struct sync_ctx s = {0};
	return sync_finish(c, smb_flush_async(c, f, sync_cb, &s), &s);
}

int smb_ftruncate(struct smb_client *c, struct smb_file *f, uint64_t size)
{
	struct sync_ctx s = {0};
	int rc = not_ready(c);
	return rc < 0 ? rc : sync_finish(c, c->ops->set_size(c, f, size, sync_cb, &s), &s);
}

static uint64_t time_arg(const struct timespec *t)
{
	if (!t || t->tv_nsec == UTIME_OMIT)
		return 0;
	if (t->tv_nsec == UTIME_NOW) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		return smb_timespec_to_filetime(&now);
	}
	return smb_timespec_to_filetime(t);
}

int smb_futimens(struct smb_client *c, struct smb_file *f, const struct timespec *atime,
		 const struct timespec *mtime)
{
	struct sync_ctx s = {0};
	int rc = not_ready(c);
	if (rc < 0)
		return rc;
	return sync_finish(
	    c, c->ops->set_times(c, f, time_arg(atime), time_arg(mtime), sync_cb, &s), &s);
}

int smb_stat(struct smb_client *c, const char *path, struct smb_stat *st)
{
	struct smb_file *f;
	int rc = open_ex(c, path, 0, 0, &f, st);
	if (rc < 0)
		return rename_failure(c, rc, "stat", path);
	close_nowait(c, f);
	return 0;
}

int smb_readdir(struct smb_client *c, const char *path, smb_dirent_fn fn, void *priv)
{
	struct smb_file *f;
	int rc = open_ex(c, path, SMB_O_READ | SMB_O_DIR, 0, &f, NULL);
	if (rc < 0)
		return rename_failure(c, rc, "list", path);
	do {
		struct sync_ctx s = {0};
		rc = sync_finish(c, c->ops->readdir(c, f, fn, priv, sync_cb, &s), &s);
	} while (rc == 1);
	close_nowait(c, f);
	return rc < 0 ? rc : 0;
}

int smb_mkdir(struct smb_client *c, const char *path)
{
	struct smb_file *f;
	int rc = open_ex(c, path, SMB_O_DIR | SMB_O_CREATE | SMB_O_EXCL, 0, &f, NULL);
	if (rc < 0)
		return rename_failure(c, rc, "mkdir", path);
	return rename_failure(c, smb_close(c, f), "mkdir", path);
}

/* Opens path (kind: SMB_O_DIR or SMB_O_FILE), marks it for deletion and closes it. Setting the
 * disposition (not delete-on-close at open) reports a non-empty directory. */
static int delete_path(struct smb_client *c, const char *path, int kind, const char *op)
{
	struct smb_file *f;
	int rc = open_ex(c, path, kind | SMB_O_DELETE, 0, &f, NULL);
	if (rc < 0)
		return rename_failure(c, rc, op, path);
	struct sync_ctx s = {0};
	rc = sync_finish(c, c->ops->set_delete(c, f, 1, sync_cb, &s), &s);
	int rc2 = smb_close(c, f);
	return rename_failure(c, rc < 0 ? rc : rc2, op, path);
}

int smb_rmdir(struct smb_client *c, const char *path)
{
	return delete_path(c, path, SMB_O_DIR, "rmdir");
}

int smb_unlink(struct smb_client *c, const char *path)
{
	return delete_path(c, path, SMB_O_FILE, "rm");
}

int smb_rename(struct smb_client *c, const char *from, const char *to, int replace)
{
	struct smb_file *f;
	int rc = open_ex(c, from, SMB_O_DELETE, 0, &f, NULL);
	if (rc < 0)
		return rename_failure(c, rc, "mv", from);
	struct sync_ctx s = {0};
	rc = sync_finish(c, c->ops->rename(c, f, to, replace, sync_cb, &s), &s);
	int rc2 = smb_close(c, f);
	return rename_failure(c, rc < 0 ? rc : rc2, "mv", from);
}

int smb_frename(struct smb_client *c, struct smb_file *f, const char *to, int replace)
{
	struct sync_ctx s = {0};
	int rc = sync_finish(c, smb_frename_async(c, f, to, replace, sync_cb, &s), &s);
	return rename_failure(c, rc, "mv", f->path);
}

int smb_statfs(struct smb_client *c, const char *path, struct smb_statfs *st)
{
	struct smb_file *f;
	int rc = open_ex(c, path, 0, 0, &f, NULL);
	if (rc < 0)
		return rename_failure(c, rc, "df", path);
	struct sync_ctx s = {0};
	rc = sync_finish(c, c->ops->statfs(c, f, st, sync_cb, &s), &s);
	close_nowait(c, f);
	return rename_failure(c, rc, "df", path);
}

int smb_echo(struct smb_client *c)
{
	struct sync_ctx s = {0};
	int rc = not_ready(c);
	return rc < 0 ? rc : sync_finish(c, c->ops->echo(c, sync_cb, &s), &s);
}
