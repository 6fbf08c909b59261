/* Streaming transfers for get, cat and put. */
#include "cli/xfer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/progress.h"
#include "cli/retry.h"

/* Local writes go out in pieces this large: fewer system calls than one per SMB response when
 * responses are small (64 KiB over NetBIOS). Chunks at least this large are written straight
 * from the library's buffer, so the copy costs nothing on fast links. 1 MiB keeps peak RSS
 * within the 16 MiB budget next to the library's 8 MiB window. */
#define XFER_LOCAL_BUF (1u << 20)

struct xfer_state {
	int fd;
	char *buf;
	size_t len;
	uint64_t done;
	int local_errno; /* set when the local side failed */
	struct progress pr;
};

static int xfer_flush(struct xfer_state *x)
{
	if (x->len > 0 && cli_write_all(x->fd, x->buf, x->len) != 0) {
		x->local_errno = errno;
		return SMBG_EIO;
	}
	x->len = 0;
	return 0;
}

static int xfer_sink(void *priv, const void *data, size_t n)
{
	struct xfer_state *x = priv;

	if (x->len + n > XFER_LOCAL_BUF && xfer_flush(x) != 0)
		return SMBG_EIO;
	if (n >= XFER_LOCAL_BUF) {
		if (cli_write_all(x->fd, data, n) != 0) {
			x->local_errno = errno;
			return SMBG_EIO;
		}
	} else {
		memcpy(x->buf + x->len, data, n);
		x->len += n;
	}
	x->done += n;
	progress_update(&x->pr, x->done);
	return 0;
}

int xfer_download(struct cli_conn *cc, const struct cli_opts *o, struct smb_file *f,
		  const char *remote, uint64_t off, uint64_t len, uint64_t size, uint64_t base,
		  int fd, const char *local, uint64_t *done)
{
	struct xfer_state x = {.fd = fd, .done = base};
	int rc, frc;

	if (done)
		*done = 0;
	x.buf = malloc(XFER_LOCAL_BUF);
	if (x.buf == NULL)
		return cli_errorf(cc->cmd, CLI_EXIT_ERROR, "out of memory");
	progress_start(&x.pr, o->progress, cli_basename(remote), size);
	progress_update(&x.pr, base);
	rc = smb_read_stream(cc->c, f, off, len, xfer_sink, &x, NULL);
	/* What arrived before a failure is good data, in order: it goes to fd either way, so that a
	 * resumed transfer continues right after it. */
	frc = x.local_errno ? 0 : xfer_flush(&x);
	if (rc >= 0)
		rc = frc;
	progress_end(&x.pr, rc >= 0);
	free(x.buf);
	if (done)
		*done = x.done - base - x.len;
	if (rc >= 0)
		return 0;
	if (x.local_errno == EPIPE)
		return CLI_EXIT_ERROR;
	if (x.local_errno)
		return cli_fail_local(cc->cmd, "write", local, x.local_errno);
	if (cli_retry_conn_lost(rc))
		return rc;
	return cli_fail(cc, rc, "read", remote);
}

static ssize_t xfer_source(void *priv, void *buf, size_t n)
{
	struct xfer_state *x = priv;
	size_t got = 0;

	/* Fill the whole chunk (pipes return less per read) so that requests stay
	 * full-sized. */
	while (got < n) {
		ssize_t r = read(x->fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			x->local_errno = errno;
			return SMBG_EIO;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	x->done += got;
	progress_update(&x->pr, x->done);
	return (ssize_t)got;
}

struct xfer_up {
	struct xfer_state x;
	uint64_t base;
};

static void xfer_progress(void *priv, uint64_t done)
{
	struct xfer_up *u = priv;
	u->x.done = u->base + done;
	progress_update(&u->x.pr, u->x.done);
}

int xfer_upload(struct cli_conn *cc, const struct cli_opts *o, struct smb_file *f,
		const char *remote, uint64_t off, uint64_t size, int fd, const char *local,
		uint64_t *written)
{
	struct xfer_up u = {.x = {.fd = fd, .done = off}, .base = off};
	uint64_t done = 0;
	struct stat st;
	int rc = SMBG_ENOTSUP, seekable = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);

	if (written)
		*written = 0;
	if (off > 0 && (!seekable || lseek(fd, (off_t)off, SEEK_SET) < 0))
		return cli_fail_local(cc->cmd, "seek in", local, seekable ? errno : ESPIPE);
	progress_start(&u.x.pr, o->progress, cli_basename(remote), size);
	progress_update(&u.x.pr, off);
	/* A regular file goes from the page cache to the socket (sendfile) when the session
	 * neither signs nor seals; otherwise through the window's buffers. */
	if (seekable && (uint64_t)lseek(fd, 0, SEEK_CUR) == off)
		rc = smb_write_stream_file(cc->c, f, off, fd, off,
					   (uint64_t)st.st_size > off ? (uint64_t)st.st_size - off
								      : 0,
					   xfer_progress, &u, &done);
	if (rc == SMBG_ENOTSUP && done == 0)
		rc = smb_write_stream(cc->c, f, off, xfer_source, &u.x, &done);
	progress_end(&u.x.pr, rc >= 0);
	if (written)
		*written = done;
	if (rc >= 0)
		return 0;
	if (u.x.local_errno)
		return cli_fail_local(cc->cmd, "read", local, u.x.local_errno);
	if (cli_retry_conn_lost(rc))
		return rc;
	return cli_fail(cc, rc, "write", remote);
}

/* ---- a download that survives dropped connections ---- */

static int same_file(const struct smb_stat *a, const struct smb_stat *b)
{
	return a->size == b->size && a->mtime.tv_sec == b->mtime.tv_sec &&
	       a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* Opens remote for reading; *st receives its attributes unless have_st, and *known whether it
 * did (a failed FSTAT that is not a lost connection is no reason to stop: the size only feeds
 * the progress bar and the check that a resumed file is unchanged). Returns 0 or a negative
 * error, nothing printed; *op names the step for the message. */
static int fetch_open(struct cli_conn *cc, const char *remote, struct smb_file **f,
		      struct smb_stat *st, int have_st, int *known, const char **op)
{
	int err;

	*op = "open";
	err = smb_open(cc->c, remote, SMB_O_READ | SMB_O_FILE, f);
	if (err < 0 || have_st)
		return err;
	*op = "stat";
	err = smb_fstat(cc->c, *f, st);
	*known = err == 0;
	if (err < 0 && cli_retry_conn_lost(err)) {
		smb_close(cc->c, *f);
		*f = NULL;
		return err;
	}
	return 0;
}

int xfer_fetch(struct cli_conn *cc, const struct cli_opts *o, const char *remote,
	       const struct smb_stat *st, uint64_t off, uint64_t len, int fd, const char *local)
{
	struct cli_retry r;
	struct smb_file *f = NULL;
	struct smb_stat first = {0}, now;
	uint64_t size, done = 0, got;
	const char *op;
	int err, rc = 0, known = st != NULL, known_now;

	cli_retry_init(&r, o);
	if (st)
		first = *st;
	err = fetch_open(cc, remote, &f, &first, st != NULL, &known, &op);
	size = !known ? UINT64_MAX : first.size > off ? first.size - off : 0;
	if (len < size)
		size = len;
	while (rc == 0) {
		if (err == 0) {
			err = xfer_download(cc, o, f, remote, off + done,
					    len == UINT64_MAX ? UINT64_MAX : len - done, size, done,
					    fd, local, &got);
			done += got;
			op = "read";
			if (err > 0) {
				rc = err;
				break;
			}
		}
		if (err == 0) {
			err = smb_close(cc->c, f);
			f = NULL;
			/* Every byte has arrived: a close lost with the connection changes nothing.
			 */
			if (err < 0 && !cli_retry_conn_lost(err))
				rc = cli_fail(cc, err, "close", remote);
			break;
		}
		if (!cli_retry_wanted(&r, err, done, cc->c)) {
			rc = cli_fail(cc, err, op, remote);
			break;
		}
		if (f != NULL)
			smb_close(cc->c, f); /* frees f; the connection is gone anyway */
		f = NULL;
		rc = cli_retry_reconnect(&r, cc, o, err, op, remote);
		if (rc != 0)
			break;
		err = fetch_open(cc, remote, &f, &now, 0, &known_now, &op);
		if (err == 0 && !known && known_now) {
			first = now;
			known = 1;
		} else if (err == 0 && known && (!known_now || !same_file(&first, &now)))
			rc = cli_errorf(cc->cmd, CLI_EXIT_ERROR,
					"%s on %s changed while it was read: not resuming",
					cli_disp(remote), cc->where);
	}
	if (f != NULL)
		smb_close(cc->c, f);
	return rc;
}
