/* The dialect ops table: SMB1 and SMB2/3 implement the same operations; everything above the
 * client (CLI, VFS) goes through it and never tests the dialect. Each op follows the async
 * contract of smbgate/smb.h: < 0 = failed at once, callback never runs; 0 = callback runs once. */
#ifndef SMBGATE_DIALECT_H
#define SMBGATE_DIALECT_H

#include "smbgate/smb.h"

/* Extra open options used by composed operations (unlink, rmdir). */
#define SMB_OPEN_DELETE_ON_CLOSE 0x1

struct smb_dialect_ops {
	const char *name;
	/* Negotiate (already done for SMB2 when chosen), log in, connect to the share. Blocking. */
	int (*login)(struct smb_client *c);
	/* Tree disconnect and logoff, blocking, best effort. */
	void (*logout)(struct smb_client *c);
	/* st (optional) receives the attributes the open returned. */
	int (*open)(struct smb_client *c, const char *path, int flags, int options,
		    struct smb_file **out, struct smb_stat *st, smb_cb cb, void *priv);
	int (*close)(struct smb_client *c, struct smb_file *f, smb_cb cb, void *priv);
	/* One request each: rc is what the server moved, which may be short of len; callers go
	 * through smb/shortio.c, which asks again for the rest. */
	int (*read)(struct smb_client *c, struct smb_file *f, void *buf, size_t len, uint64_t off,
		    smb_cb cb, void *priv);
	int (*write)(struct smb_client *c, struct smb_file *f, const void *buf, size_t len,
		     uint64_t off, smb_cb cb, void *priv);
	/* Optional: a write whose data the kernel sends from fd (sendfile); SMBG_ENOTSUP when the
	 * session cannot take it (signed or sealed). */
	int (*write_file)(struct smb_client *c, struct smb_file *f, int fd, uint64_t fd_off,
			  size_t len, uint64_t off, smb_cb cb, void *priv);
	int (*flush)(struct smb_client *c, struct smb_file *f, smb_cb cb, void *priv);
	int (*fstat)(struct smb_client *c, struct smb_file *f, struct smb_stat *st, smb_cb cb,
		     void *priv);
	/* One round of a directory listing on an open directory: rc 1 = more may follow,
	 * 0 = the listing is complete. */
	int (*readdir)(struct smb_client *c, struct smb_file *f, smb_dirent_fn fn, void *fpriv,
		       smb_cb cb, void *priv);
	/* Times as FILETIME values; 0 leaves one unchanged. */
	int (*set_times)(struct smb_client *c, struct smb_file *f, uint64_t atime, uint64_t mtime,
			 smb_cb cb, void *priv);
	int (*set_size)(struct smb_client *c, struct smb_file *f, uint64_t size, smb_cb cb,
			void *priv);
	int (*set_delete)(struct smb_client *c, struct smb_file *f, int del, smb_cb cb, void *priv);
	/* to is share-relative ('/'-separated). */
	int (*rename)(struct smb_client *c, struct smb_file *f, const char *to, int replace,
		      smb_cb cb, void *priv);
	int (*statfs)(struct smb_client *c, struct smb_file *f, struct smb_statfs *st, smb_cb cb,
		      void *priv);
	int (*echo)(struct smb_client *c, smb_cb cb, void *priv);
	/* Connection-level: the frame handler and per-connection state cleanup. */
	int (*on_frame)(struct smb_client *c, uint8_t *buf, size_t len);
	void (*fail_all)(struct smb_client *c, int err);
	size_t (*pending)(const struct smb_client *c);
	/* The earliest deadline (monotonic ms) of a request in flight or queued; 0 when none. */
	int64_t (*next_deadline)(const struct smb_client *c);
	void (*free_state)(struct smb_client *c);
};

extern const struct smb_dialect_ops smb2_ops;

#endif
