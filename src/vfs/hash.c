/* Hashing a file by streaming it through the VFS: a window of large reads in flight (so an
 * SMB backend keeps the wire busy), digested strictly in file order. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "vfs/backend.h"

#define HASH_CHUNK (1u << 20)
#define HASH_SLOTS 4

struct hash_state;

struct hash_slot {
	struct hash_state *h;
	uint8_t *buf;
	uint64_t off;
	int state; /* SLOT_FREE, SLOT_READING, SLOT_DONE */
	int rc;
};

enum { SLOT_FREE = 0, SLOT_READING, SLOT_DONE };

struct hash_state {
	struct vfs_conn *c;
	struct vfs_op *op; /* the caller's operation, completed at the end */
	struct vfs_file *f;
	EVP_MD_CTX *md;
	struct hash_slot slot[HASH_SLOTS];
	unsigned head; /* next slot to digest */
	uint64_t next; /* next offset to read */
	int eof;       /* a short read was digested */
	int err;
	int inflight;
	int closing;
	uint8_t *out;
	size_t *outlen;
};

static void hash_finish(struct hash_state *h)
{
	struct vfs_op *op = h->op;
	if (!h->err) {
		unsigned n = 0;
		if (EVP_DigestFinal_ex(h->md, h->out, &n) != 1)
			h->err = SMBG_ECRYPTO;
		*h->outlen = n;
	}
	for (int i = 0; i < HASH_SLOTS; i++)
		free(h->slot[i].buf);
	EVP_MD_CTX_free(h->md);
	int err = h->err;
	free(h);
	vfs_op_done(op, err, NULL);
}

static void hash_closed(void *priv, int rc, const char *msg)
{
	(void)rc;
	(void)msg;
	hash_finish(priv);
}

static void hash_pump(struct hash_state *h);

static void hash_read_cb(void *priv, int rc, const char *msg)
{
	struct hash_slot *s = priv;
	(void)msg;
	s->h->inflight--;
	s->state = SLOT_DONE;
	s->rc = rc;
	hash_pump(s->h);
}

static void hash_pump(struct hash_state *h)
{
	for (;;) {
		/* digest completed slots in file order */
		while (h->slot[h->head].state == SLOT_DONE) {
			struct hash_slot *s = &h->slot[h->head];
			if (!h->err && !h->eof) {
				if (s->rc < 0)
					h->err = s->rc;
				else if (s->rc > 0 &&
					 EVP_DigestUpdate(h->md, s->buf, (size_t)s->rc) != 1)
					h->err = SMBG_ECRYPTO;
				if (s->rc >= 0 && (size_t)s->rc < HASH_CHUNK)
					h->eof = 1;
			}
			s->state = SLOT_FREE;
			h->head = (h->head + 1) % HASH_SLOTS;
		}
		if (h->err || h->eof)
			break;
		/* refill the window, in order from head */
		int failed_now = 0;
		for (unsigned k = 0; k < HASH_SLOTS; k++) {
			struct hash_slot *s = &h->slot[(h->head + k) % HASH_SLOTS];
			if (s->state != SLOT_FREE)
				continue;
			s->off = h->next;
			h->next += HASH_CHUNK;
			s->state = SLOT_READING;
			int rc = vfs_read(h->c, h->f, s->buf, HASH_CHUNK, s->off, hash_read_cb, s);
			if (rc < 0) {
				s->state = SLOT_DONE;
				s->rc = rc;
				failed_now = 1;
				break;
			}
			h->inflight++;
		}
		if (!failed_now)
			break;
	}
	if ((h->err || h->eof) && h->inflight == 0 && !h->closing) {
		h->closing = 1;
		if (vfs_close(h->c, h->f, hash_closed, h) < 0)
			hash_finish(h);
	}
}

static void hash_opened(void *priv, int rc, const char *msg)
{
	struct hash_state *h = priv;
	(void)msg;
	if (rc < 0) {
		h->err = rc;
		hash_finish(h);
		return;
	}
	hash_pump(h);
}

void vfs_hash_generic(struct vfs_conn *c, struct vfs_op *op, const char *path,
		      enum vfs_hash_algo algo, uint8_t *out, size_t *outlen)
{
	const EVP_MD *md = algo == VFS_HASH_MD5	   ? EVP_md5()
			   : algo == VFS_HASH_SHA1 ? EVP_sha1()
						   : EVP_sha256();
	struct hash_state *h = calloc(1, sizeof(*h));
	if (!h) {
		vfs_op_done(op, SMBG_ENOMEM, NULL);
		return;
	}
	h->c = c;
	h->op = op;
	h->out = out;
	h->outlen = outlen;
	h->md = EVP_MD_CTX_new();
	int ok = h->md && EVP_DigestInit_ex(h->md, md, NULL) == 1;
	for (int i = 0; i < HASH_SLOTS; i++) {
		h->slot[i].h = h;
		if (ok)
			ok = (h->slot[i].buf = malloc(HASH_CHUNK)) != NULL;
	}
	if (!ok) {
		h->err = SMBG_ENOMEM;
		hash_finish(h);
		return;
	}
	/* reads are issued at increasing offsets, so --no-seek does not get in the way */
	int rc = vfs_open(c, path, VFS_O_READ, &h->f, hash_opened, h);
	if (rc < 0) {
		h->err = rc;
		hash_finish(h);
	}
}
