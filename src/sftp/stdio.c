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

#include "sftp/proto.h"
#include "sftp/sftp.h"
#include "util/cursor.h"
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

/* ---- a session that cannot be served ---- */

#define REFUSAL_MSG_MAX 512

/* Waits for fd to be ready (the descriptors may be non-blocking). */
static int wait_fd(int fd, short events)
{
	struct pollfd p = {.fd = fd, .events = events};
	int r = poll(&p, 1, -1);
	return r < 0 && errno != EINTR ? -1 : 0;
}

/* Reads exactly n bytes into buf, or discards n bytes when buf is NULL. 0, or < 0 at end of
 * input or on an error. */
static int read_full(int fd, uint8_t *buf, size_t n)
{
	uint8_t junk[4096];
	while (n > 0) {
		size_t want = buf ? n : (n < sizeof(junk) ? n : sizeof(junk));
		ssize_t r = read(fd, buf ? buf : junk, want);
		if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
			if (errno == EAGAIN && wait_fd(fd, POLLIN) < 0)
				return -1;
			continue;
		}
		if (r <= 0)
			return -1;
		n -= (size_t)r;
		if (buf)
			buf += r;
	}
	return 0;
}

static int write_full(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && (errno == EINTR || errno == EAGAIN)) {
			if (errno == EAGAIN && wait_fd(fd, POLLOUT) < 0)
				return -1;
			continue;
		}
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int sftp_serve_refusal(int in, int out, const char *why)
{
	char msg[REFUSAL_MSG_MAX];
	snprintf(msg, sizeof(msg), "smbgate cannot serve this remote: %s", why);
	uint32_t mlen = (uint32_t)strlen(msg);
	struct wbuf b;
	wbuf_init(&b);
	int rc = 0;
	for (;;) {
		/* length, type and id (or version): all a reply needs; the rest is skipped */
		uint8_t hdr[9];
		if (read_full(in, hdr, sizeof(hdr)) < 0)
			break; /* the client left */
		struct cursor c;
		uint32_t plen, id;
		uint8_t type;
		cursor_init(&c, hdr, sizeof(hdr));
		if (cursor_get_be32(&c, &plen) != 0 || cursor_get_u8(&c, &type) != 0 ||
		    cursor_get_be32(&c, &id) != 0 || plen < 5 || plen > SFTP_MAX_PACKET) {
			rc = SMBG_EPROTO;
			break;
		}
		if (read_full(in, NULL, plen - 5) < 0)
			break;
		wbuf_reset(&b);
		if (type == SSH_FXP_INIT) {
			/* the client learns the reason from its first request's status */
			wbuf_put_be32(&b, 5);
			wbuf_put_u8(&b, SSH_FXP_VERSION);
			wbuf_put_be32(&b, SFTP_VERSION);
		} else {
			wbuf_put_be32(&b, 1 + 4 + 4 + 4 + mlen + 4);
			wbuf_put_u8(&b, SSH_FXP_STATUS);
			wbuf_put_be32(&b, id);
			wbuf_put_be32(&b, SSH_FX_FAILURE);
			wbuf_put_be32(&b, mlen);
			wbuf_put_bytes(&b, msg, mlen);
			wbuf_put_be32(&b, 0); /* language tag */
		}
		if (wbuf_error(&b) || write_full(out, b.p, b.len) < 0) {
			rc = wbuf_error(&b) ? SMBG_ENOMEM : 0;
			break;
		}
	}
	wbuf_free(&b);
	return rc;
}
