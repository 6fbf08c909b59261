/* The engine over a pair of file descriptors: `serve sftp --stdio` (OpenSSH's sshd runs it as
 * the sftp subsystem; `sftp -D` runs it over pipes). One thread, one poll loop. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sftp/sftp.h"
#include "util/log.h"
#include "util/wbuf.h"

#define INBUF	(256 * 1024)
#define MAX_IOV 64

static void set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* Writes what it can; returns < 0 when the peer is gone. */
static int flush_out(struct sftp_engine *e, int out)
{
	struct iovec iov[MAX_IOV];
	while (sftp_engine_output_pending(e) > 0) {
		int n = sftp_engine_output(e, iov, MAX_IOV);
		if (n == 0)
			break;
		ssize_t w = writev(out, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 0;
			return -1;
		}
		sftp_engine_output_done(e, (size_t)w);
	}
	return 0;
}

int sftp_serve_fds(struct vfs_conn *vc, int in, int out, const struct sftp_opts *o)
{
	struct sftp_engine *e = sftp_engine_new(vc, o);
	uint8_t *ibuf = malloc(INBUF);
	if (!e || !ibuf) {
		sftp_engine_free(e);
		free(ibuf);
		return SMBG_ENOMEM;
	}
	set_nonblock(in);
	set_nonblock(out);
	size_t ioff = 0, ilen = 0; /* bytes read but not yet taken by the engine */
	int eof = 0, rc = 0;
	for (;;) {
		/* offer what is left from the last read */
		if (ilen > ioff) {
			ioff += sftp_engine_input(e, ibuf + ioff, ilen - ioff);
			if (ioff == ilen)
				ioff = ilen = 0;
		}
		if (sftp_engine_process(e) < 0) {
			log_error("sftp: %s", sftp_engine_error(e));
			rc = SMBG_EPROTO;
			break;
		}
		if (flush_out(e, out) < 0)
			break; /* the client is gone */
		if (eof && ilen == 0 && sftp_engine_busy(e) == 0 &&
		    (sftp_engine_output_pending(e) == 0))
			break;

		struct pollfd fds[6];
		int want_in = !eof && ilen == 0 && sftp_engine_input_room(e) > 0;
		fds[0].fd = in;
		fds[0].events = want_in ? POLLIN : 0;
		fds[1].fd = out;
		fds[1].events = sftp_engine_output_pending(e) ? POLLOUT : 0;
		int nv = vfs_conn_pollfds(vc, fds + 2, 4);
		/* wake up for the VFS's deadlines (a request the server does not answer) */
		int timeout = vfs_conn_has_completions(vc) ? 0 : vfs_conn_timeout_ms(vc);
		if (!want_in && !fds[1].events && nv == 0 && timeout < 0) {
			if (eof || sftp_engine_busy(e) == 0)
				break; /* nothing can happen any more */
			timeout = 1000;
		}
		int r = poll(fds, (nfds_t)(2 + nv), timeout);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = SMBG_EIO;
			break;
		}
		if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = read(in, ibuf, INBUF);
			if (n > 0) {
				ilen = (size_t)n;
				ioff = 0;
			} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
				eof = 1;
			}
		}
		if (fds[1].revents & (POLLERR | POLLHUP))
			break;
		if (nv > 0 && vfs_conn_service(vc, fds + 2, nv) < 0)
			log_error("sftp: the backend connection failed");
		vfs_conn_run(vc);
	}
	sftp_engine_free(e);
	free(ibuf);
	return rc;
}

/* ---- a session that cannot be served (the answers come from refusal.c) ---- */

int sftp_serve_refusal(int in, int out, const char *why)
{
	struct sftp_refusal r;
	sftp_refusal_init(&r, why);
	struct wbuf b;
	wbuf_init(&b);
	uint8_t buf[4096];
	int rc = 0;
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
			struct pollfd p = {.fd = in, .events = POLLIN};
			if (errno == EAGAIN && poll(&p, 1, -1) < 0 && errno != EINTR)
				break;
			continue;
		}
		if (n <= 0)
			break; /* the client left */
		wbuf_reset(&b);
		rc = sftp_refusal_input(&r, buf, (size_t)n, &b);
		if (rc < 0)
			break;
		for (size_t off = 0; off < b.len;) {
			ssize_t w = write(out, b.p + off, b.len - off);
			if (w < 0 && (errno == EINTR || errno == EAGAIN)) {
				struct pollfd p = {.fd = out, .events = POLLOUT};
				if (errno == EAGAIN && poll(&p, 1, -1) < 0 && errno != EINTR)
					goto out;
				continue;
			}
			if (w <= 0)
				goto out; /* the client left */
			off += (size_t)w;
		}
	}
out:
	wbuf_free(&b);
	return rc;
}
