/* TCP connection and the 4-byte frame layer shared by direct TCP and the NetBIOS session
 * service. Small frames are parsed out of a lookahead buffer; a frame larger than what is
 * buffered is completed by reading straight into a frame buffer, so a 1 MiB READ response
 * costs one copy of at most the lookahead size. */
#include "smb/transport/transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smb/transport/nbns.h"
#include "smbgate/err.h"
#include "util/log.h"

#define LOOKAHEAD_SIZE (64 * 1024)
#define IOV_BATCH      64
/* TCP keepalive: a peer gone without a FIN (power loss, a NAT that forgot us) is found after
 * KEEPIDLE + KEEPCNT x KEEPINTVL seconds of silence even when no request is waiting. */
#define KEEPIDLE_S  30
#define KEEPINTVL_S 10
#define KEEPCNT	    3

struct smb_outbuf {
	struct smb_outbuf *next;
	uint8_t *owned; /* begins with 4 spare bytes for the frame header */
	size_t owned_len;
	const uint8_t *payload;
	size_t payload_len;
	int file_fd; /* >= 0: the payload is file_fd's bytes at file_off, sent with sendfile */
	off_t file_off;
	size_t sent;
};

void smb_transport_init(struct smb_link *t)
{
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->frame_max = SMB_FRAME_MAX_DIRECT;
}

static int connect_one(const struct addrinfo *ai, int timeout_ms, int *err_no)
{
	int fd =
	    socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
	if (fd < 0) {
		*err_no = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			*err_no = errno;
			close(fd);
			return -1;
		}
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int r;
		do
			r = poll(&p, 1, timeout_ms > 0 ? timeout_ms : -1);
		while (r < 0 && errno == EINTR);
		if (r == 0) {
			*err_no = ETIMEDOUT;
			close(fd);
			return -1;
		}
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr) {
			*err_no = r < 0 ? errno : soerr;
			close(fd);
			return -1;
		}
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	int idle = KEEPIDLE_S, intvl = KEEPINTVL_S, cnt = KEEPCNT;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	/* Sent data the peer does not acknowledge within the request timeout ends the
	 * connection (the kernel would otherwise retransmit for about 15 minutes). */
	if (timeout_ms > 0) {
		unsigned ut = (unsigned)timeout_ms;
		setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof(ut));
	}
	/* Large socket buffers keep a window of 1 MiB requests moving on loopback and LANs. */
	int sz = 4 * 1024 * 1024;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	return fd;
}

int smb_transport_connect(struct smb_link *t, const char *host, uint16_t port, int timeout_ms,
			  char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC};
	struct addrinfo *res = NULL;
	char portstr[8];
	snprintf(portstr, sizeof(portstr), "%u", port);
	int gai = getaddrinfo(host, portstr, &hints, &res);
	if (gai != 0 && smb_nb_name_plausible(host)) {
		/* DNS and hosts first, then the NetBIOS name service (smb://NAME/share). */
		char ip[INET_ADDRSTRLEN], nberr[256];
		if (smb_nbns_resolve(host, t->nb_wins, t->nb_broadcast, timeout_ms, ip, sizeof(ip),
				     nberr, sizeof(nberr)) == 0) {
			gai = getaddrinfo(ip, portstr, &hints, &res);
		} else {
			snprintf(err, errlen, "cannot resolve host %s: %s; %s", host,
				 gai_strerror(gai), nberr);
			return SMBG_ERESOLVE;
		}
	}
	if (gai != 0) {
		snprintf(err, errlen, "cannot resolve host %s: %s", host, gai_strerror(gai));
		return SMBG_ERESOLVE;
	}
	int err_no = 0;
	for (const struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = connect_one(ai, timeout_ms, &err_no);
		if (fd >= 0) {
			freeaddrinfo(res);
			t->fd = fd;
			return 0;
		}
	}
	freeaddrinfo(res);
	snprintf(err, errlen, "cannot connect to %s port %u: %s", host, port, strerror(err_no));
	if (err_no == ECONNREFUSED)
		return SMBG_ECONNREFUSED;
	if (err_no == ETIMEDOUT)
		return SMBG_ETIMEDOUT;
	return SMBG_EIO;
}

void smb_transport_close(struct smb_link *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	struct smb_outbuf *o = t->out_head;
	while (o) {
		struct smb_outbuf *n = o->next;
		free(o->owned);
		free(o);
		o = n;
	}
	t->out_head = t->out_tail = NULL;
	t->out_bytes = 0;
	free(t->la);
	free(t->frame);
	t->la = t->frame = NULL;
	t->la_len = t->la_off = t->la_cap = 0;
	t->frame_len = t->frame_got = t->frame_cap = 0;
	t->in_frame = 0;
}

static int queue_frame(struct smb_link *t, uint8_t *owned, size_t owned_len, const void *payload,
		       int file_fd, uint64_t file_off, size_t payload_len)
{
	/* owned carries 4 spare bytes in front for the frame header. */
	size_t len = owned_len - 4 + payload_len;
	if (owned_len < 4 || len > t->frame_max || file_off > (uint64_t)INT64_MAX) {
		free(owned);
		return SMBG_ETOOBIG;
	}
	struct smb_outbuf *o = calloc(1, sizeof(*o));
	if (!o) {
		free(owned);
		return SMBG_ENOMEM;
	}
	owned[0] = 0;
	owned[1] = (uint8_t)(len >> 16);
	owned[2] = (uint8_t)(len >> 8);
	owned[3] = (uint8_t)len;
	o->owned = owned;
	o->owned_len = owned_len;
	o->payload = payload;
	o->payload_len = payload_len;
	o->file_fd = file_fd;
	o->file_off = (off_t)file_off;
	if (t->out_tail)
		t->out_tail->next = o;
	else
		t->out_head = o;
	t->out_tail = o;
	t->out_bytes += owned_len + payload_len;
	return 0;
}

int smb_transport_queue(struct smb_link *t, uint8_t *owned, size_t owned_len, const void *payload,
			size_t payload_len)
{
	return queue_frame(t, owned, owned_len, payload, -1, 0, payload_len);
}

int smb_transport_queue_file(struct smb_link *t, uint8_t *owned, size_t owned_len, int fd,
			     uint64_t off, size_t len)
{
	return queue_frame(t, owned, owned_len, NULL, fd, off, len);
}

/* Drops n sent bytes from the front of the queue. */
static void consume(struct smb_link *t, size_t n)
{
	t->out_bytes -= n;
	while (n && t->out_head) {
		struct smb_outbuf *o = t->out_head;
		size_t rem = o->owned_len + o->payload_len - o->sent;
		if (n < rem) {
			o->sent += n;
			return;
		}
		n -= rem;
		t->out_head = o->next;
		if (!t->out_head)
			t->out_tail = NULL;
		free(o->owned);
		free(o);
	}
}

static int write_failed(void)
{
	log_debug("socket write failed: %s", strerror(errno));
	return errno == EPIPE || errno == ECONNRESET ? SMBG_ECLOSED : SMBG_EIO;
}

/* The head frame's header is out and its payload lives in a file: the kernel moves it from the
 * page cache to the socket, no copy through user space. */
static int flush_file_payload(struct smb_link *t)
{
	struct smb_outbuf *o = t->out_head;
	size_t done = o->sent - o->owned_len;
	off_t pos = o->file_off + (off_t)done;
	ssize_t w = sendfile(t->fd, o->file_fd, &pos, o->payload_len - done);
	if (w < 0) {
		if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		return write_failed();
	}
	if (w == 0) {
		/* The frame length is already on the wire: the connection cannot go on. */
		log_error(
		    "the local file ended before its upload did (it was truncated meanwhile)");
		return SMBG_EIO;
	}
	consume(t, (size_t)w);
	return 1;
}

int smb_transport_flush(struct smb_link *t)
{
	while (t->out_head) {
		struct smb_outbuf *h = t->out_head;
		if (h->file_fd >= 0 && h->sent >= h->owned_len) {
			int rc = flush_file_payload(t);
			if (rc <= 0)
				return rc;
			continue;
		}
		struct iovec iov[IOV_BATCH];
		int n = 0, more = 0;
		for (struct smb_outbuf *o = h; o && n + 2 <= IOV_BATCH; o = o->next) {
			size_t s = o->sent;
			if (s < o->owned_len) {
				iov[n].iov_base = o->owned + s;
				iov[n].iov_len = o->owned_len - s;
				n++;
				s = 0;
			} else {
				s -= o->owned_len;
			}
			if (o->file_fd >= 0) {
				/* its payload follows by sendfile: tell TCP more is coming */
				more = 1;
				break;
			}
			if (o->payload_len > s) {
				iov[n].iov_base = (void *)(o->payload + s);
				iov[n].iov_len = o->payload_len - s;
				n++;
			}
		}
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t w = sendmsg(t->fd, &mh, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return write_failed();
		}
		consume(t, (size_t)w);
	}
	return 0;
}

/* Parses the 4-byte header: returns the frame length, or < 0. Keepalives give length 0 with
 * *skip set. */
static int frame_header(const struct smb_link *t, const uint8_t *h, size_t *len, int *skip)
{
	*skip = 0;
	/* Session keepalive: Samba sends it on SMB1 connections over direct TCP too (its
	 * `keepalive` timer, and before it drops a connection). */
	if (h[0] == 0x85) {
		*skip = 1;
		*len = 0;
		return 0;
	}
	if (t->netbios) {
		if (h[0] != 0x00 || (h[1] & 0xFE) != 0)
			return SMBG_EPROTO;
		*len = ((size_t)(h[1] & 1) << 16) | ((size_t)h[2] << 8) | h[3];
	} else {
		if (h[0] != 0x00)
			return SMBG_EPROTO;
		*len = ((size_t)h[1] << 16) | ((size_t)h[2] << 8) | h[3];
	}
	if (*len > t->frame_max)
		return SMBG_ETOOBIG;
	return 0;
}

static int ensure_frame_cap(struct smb_link *t, size_t n)
{
	if (n <= t->frame_cap)
		return 0;
	uint8_t *p = realloc(t->frame, n);
	if (!p)
		return SMBG_ENOMEM;
	t->frame = p;
	t->frame_cap = n;
	return 0;
}

int smb_transport_read(struct smb_link *t, smb_frame_fn fn, void *priv)
{
	if (!t->la) {
		t->la = malloc(LOOKAHEAD_SIZE);
		if (!t->la)
			return SMBG_ENOMEM;
		t->la_cap = LOOKAHEAD_SIZE;
	}
	for (;;) {
		if (t->in_frame) {
			ssize_t r =
			    read(t->fd, t->frame + t->frame_got, t->frame_len - t->frame_got);
			if (r == 0)
				return SMBG_ECLOSED;
			if (r < 0) {
				if (errno == EINTR)
					continue;
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					return 0;
				return errno == ECONNRESET ? SMBG_ECLOSED : SMBG_EIO;
			}
			t->frame_got += (size_t)r;
			if (t->frame_got < t->frame_len)
				continue;
			t->in_frame = 0;
			int rc = fn(priv, t->frame, t->frame_len);
			if (rc < 0)
				return rc;
			continue;
		}
		/* Parse whole frames out of the lookahead buffer. */
		while (t->la_len - t->la_off >= 4) {
			size_t flen;
			int skip;
			int rc = frame_header(t, t->la + t->la_off, &flen, &skip);
			if (rc < 0)
				return rc;
			size_t avail = t->la_len - t->la_off - 4;
			if (skip) {
				t->la_off += 4;
				continue;
			}
			if (flen <= avail) {
				uint8_t *p = t->la + t->la_off + 4;
				t->la_off += 4 + flen;
				rc = fn(priv, p, flen);
				if (rc < 0)
					return rc;
				continue;
			}
			if (4 + flen > t->la_cap) {
				/* Too big for the lookahead: continue it in the frame buffer. */
				rc = ensure_frame_cap(t, flen);
				if (rc < 0)
					return rc;
				memcpy(t->frame, t->la + t->la_off + 4, avail);
				t->frame_len = flen;
				t->frame_got = avail;
				t->in_frame = 1;
				t->la_off = t->la_len = 0;
			}
			break;
		}
		if (t->in_frame)
			continue;
		if (t->la_off > 0) {
			memmove(t->la, t->la + t->la_off, t->la_len - t->la_off);
			t->la_len -= t->la_off;
			t->la_off = 0;
		}
		ssize_t r = read(t->fd, t->la + t->la_len, t->la_cap - t->la_len);
		if (r == 0)
			return SMBG_ECLOSED;
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return errno == ECONNRESET ? SMBG_ECLOSED : SMBG_EIO;
		}
		t->la_len += (size_t)r;
	}
}
