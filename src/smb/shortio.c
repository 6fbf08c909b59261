/* Whole reads and writes over the dialects' single requests. A server may answer a READ or a
 * WRITE with fewer bytes than asked for (MS-SMB2 3.3.5.12/13 let it; Samba and Windows cap
 * large requests silently, and SMB1 does the same). The dialect ops report what one request
 * moved; this layer asks again for the rest, once for every dialect, so that:
 *   - a read completes short only at the end of the file (a zero-byte answer or
 *     STATUS_END_OF_FILE), never in the middle of it;
 *   - a write completes only when every byte is written, or fails: a write that moves nothing
 *     is an error (SMBG_EIO naming the path), never a short count the caller could take for
 *     done.
 * Each call costs one small context, freed before the caller's callback runs. */
#include <stdlib.h>

#include "smb/client.h"
#include "util/log.h"

enum shortio_kind { SIO_READ, SIO_WRITE, SIO_WRITE_FILE };

struct shortio {
	enum shortio_kind kind;
	struct smb_file *f;
	uint8_t *buf; /* read: destination; write: source (not written through) */
	int fd;	      /* SIO_WRITE_FILE: the data's file, from fd_off */
	uint64_t fd_off;
	uint64_t off; /* file offset of byte 0 */
	size_t len, done;
	unsigned rounds; /* requests sent; for the debug log */
	smb_cb cb;
	void *priv;
};

static void step_done(struct smb_client *c, int rc, void *priv);

/* Sends the request for what is left: [done, len). */
static int step_submit(struct smb_client *c, struct shortio *s)
{
	size_t n = s->len - s->done;
	uint64_t off = s->off + s->done;
	s->rounds++;
	switch (s->kind) {
	case SIO_READ:
		return c->ops->read(c, s->f, s->buf + s->done, n, off, step_done, s);
	case SIO_WRITE:
		return c->ops->write(c, s->f, s->buf + s->done, n, off, step_done, s);
	case SIO_WRITE_FILE:
		return c->ops->write_file(c, s->f, s->fd, s->fd_off + s->done, n, off, step_done,
					  s);
	}
	return SMBG_EINVAL;
}

static void finish(struct smb_client *c, struct shortio *s, int rc)
{
	smb_cb cb = s->cb;
	void *priv = s->priv;
	/* Not after a failure: a teardown may fail us after the file is gone. */
	if (s->rounds > 1 && rc >= 0)
		log_debug("%s %s: %zu of %zu bytes at %llu in %u requests (short answers)",
			  s->kind == SIO_READ ? "read" : "write", s->f->path, s->done, s->len,
			  (unsigned long long)s->off, s->rounds);
	free(s);
	if (cb)
		cb(c, rc, priv);
}

static void step_done(struct smb_client *c, int rc, void *priv)
{
	struct shortio *s = priv;
	if (rc < 0)
		return finish(c, s, rc);
	if ((size_t)rc > s->len - s->done)
		return finish(c, s,
			      smb_failf(c, SMBG_EPROTO,
					"%s %s: the server answered %d bytes for %zu asked",
					s->kind == SIO_READ ? "read" : "write", s->f->path, rc,
					s->len - s->done));
	s->done += (size_t)rc;
	if (s->done == s->len)
		return finish(c, s, (int)s->done);
	if (rc == 0) {
		if (s->kind == SIO_READ) /* the end of the file */
			return finish(c, s, (int)s->done);
		return finish(c, s,
			      smb_failf(c, SMBG_EIO,
					"write %s: the server wrote 0 of %zu bytes at offset %llu "
					"(no progress; %zu of %zu written)",
					s->f->path, s->len - s->done,
					(unsigned long long)(s->off + s->done), s->done, s->len));
	}
	/* Short, not at the end: ask again for the rest. */
	int sub = c->dead ? c->dead : step_submit(c, s);
	if (sub < 0)
		finish(c, s, sub);
}

static int start(struct smb_client *c, struct shortio *proto)
{
	if (proto->len == 0) {
		/* Nothing to move: one request still goes out (the server checks the handle). */
		switch (proto->kind) {
		case SIO_READ:
			return c->ops->read(c, proto->f, proto->buf, 0, proto->off, proto->cb,
					    proto->priv);
		case SIO_WRITE:
			return c->ops->write(c, proto->f, proto->buf, 0, proto->off, proto->cb,
					     proto->priv);
		case SIO_WRITE_FILE:
			return c->ops->write_file(c, proto->f, proto->fd, proto->fd_off, 0,
						  proto->off, proto->cb, proto->priv);
		}
	}
	struct shortio *s = malloc(sizeof(*s));
	if (!s)
		return SMBG_ENOMEM;
	*s = *proto;
	int rc = step_submit(c, s);
	if (rc < 0)
		free(s); /* failed at once: the callback never runs */
	return rc;
}

int smb_shortio_read(struct smb_client *c, struct smb_file *f, void *buf, size_t len, uint64_t off,
		     smb_cb cb, void *priv)
{
	struct shortio s = {.kind = SIO_READ,
			    .f = f,
			    .buf = buf,
			    .fd = -1,
			    .off = off,
			    .len = len,
			    .cb = cb,
			    .priv = priv};
	return start(c, &s);
}

int smb_shortio_write(struct smb_client *c, struct smb_file *f, const void *buf, size_t len,
		      uint64_t off, smb_cb cb, void *priv)
{
	struct shortio s = {.kind = SIO_WRITE,
			    .f = f,
			    .buf = (uint8_t *)buf,
			    .fd = -1,
			    .off = off,
			    .len = len,
			    .cb = cb,
			    .priv = priv};
	return start(c, &s);
}

int smb_shortio_write_file(struct smb_client *c, struct smb_file *f, int fd, uint64_t fd_off,
			   size_t len, uint64_t off, smb_cb cb, void *priv)
{
	struct shortio s = {.kind = SIO_WRITE_FILE,
			    .f = f,
			    .fd = fd,
			    .fd_off = fd_off,
			    .off = off,
			    .len = len,
			    .cb = cb,
			    .priv = priv};
	return start(c, &s);
}
