/* Streaming transfers for get, cat and put. */
#include "cli/xfer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/progress.h"

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
		  const char *remote, uint64_t off, uint64_t len, uint64_t size, int fd,
		  const char *local)
{
	struct xfer_state x = {.fd = fd};
	int rc;

	x.buf = malloc(XFER_LOCAL_BUF);
	if (x.buf == NULL)
		return cli_errorf(cc->cmd, CLI_EXIT_ERROR, "out of memory");
	progress_start(&x.pr, o->progress, cli_basename(remote), size);
	rc = smb_read_stream(cc->c, f, off, len, xfer_sink, &x, NULL);
	if (rc >= 0)
		rc = xfer_flush(&x);
	progress_end(&x.pr, rc >= 0);
	free(x.buf);
	if (rc >= 0)
		return 0;
	if (x.local_errno == EPIPE)
		return CLI_EXIT_ERROR;
	if (x.local_errno)
		return cli_fail_local(cc->cmd, "write", local, x.local_errno);
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

static void xfer_progress(void *priv, uint64_t done)
{
	struct xfer_state *x = priv;
	x->done = done;
	progress_update(&x->pr, done);
}

int xfer_upload(struct cli_conn *cc, const struct cli_opts *o, struct smb_file *f,
		const char *remote, uint64_t size, int fd, const char *local, uint64_t *written)
{
	struct xfer_state x = {.fd = fd};
	uint64_t done = 0;
	struct stat st;
	int rc = SMBG_ENOTSUP;

	progress_start(&x.pr, o->progress, cli_basename(remote), size);
	/* A regular file goes from the page cache to the socket (sendfile) when the session
	 * neither signs nor seals; otherwise through the window's buffers. */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && lseek(fd, 0, SEEK_CUR) == 0)
		rc = smb_write_stream_file(cc->c, f, 0, fd, 0, (uint64_t)st.st_size, xfer_progress,
					   &x, &done);
	if (rc == SMBG_ENOTSUP && done == 0)
		rc = smb_write_stream(cc->c, f, 0, xfer_source, &x, &done);
	progress_end(&x.pr, rc >= 0);
	if (written)
		*written = done;
	if (rc >= 0)
		return 0;
	if (x.local_errno)
		return cli_fail_local(cc->cmd, "read", local, x.local_errno);
	return cli_fail(cc, rc, "write", remote);
}
