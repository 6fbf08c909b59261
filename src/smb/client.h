/* Internal state of struct smb_client, shared by the dialect-neutral layer (client.c,
 * fileops.c, stream.c) and the dialect implementations. */
#ifndef SMBGATE_CLIENT_H
#define SMBGATE_CLIENT_H

#include <stdarg.h>
#include <stdint.h>

#include "smbgate/smb.h"
#include "smb/dialect.h"
#include "smb/transport/transport.h"
#include "util/clock.h"
#include "util/url.h"

struct smb2_state; /* smb/smb2/smb2.h */
struct smb_recon;  /* smb/reconnect.h */

struct smb_file {
	struct smb_file *next, *prev; /* the client's open files, closed at teardown */
	uint8_t fid[16];	      /* SMB2 FileId (persistent, volatile); SMB1 uses fid16 */
	uint16_t fid16;
	int is_dir;
	int linked; /* on the client's open-files list (not yet being closed) */
	char *path; /* share-relative, for messages */
	/* directory listing state; after a reconnect the listing restarts and skips the entries
	 * already delivered (dir_skip) */
	int dir_started, dir_done;
	uint64_t dir_seen, dir_skip;
	/* reconnect (smb/reconnect.c): how it was opened, and whether it survives a drop */
	int flags, options;	 /* SMB_O_* and SMB_OPEN_* of the open */
	int opened;		 /* the server answered the open: fid is valid */
	int durable;		 /* the server granted a durable handle (DH2Q) */
	uint8_t oplock;		 /* oplock level granted (SMB2_OPLOCK_LEVEL_*) */
	uint8_t create_guid[16]; /* the DH2Q CreateGuid, sent again to reconnect */
	int broken;		 /* < 0: lost in a reconnect; every request on it fails so */
	unsigned reopen_gen;	 /* the reconnect that last reopened it */
};

struct smb_client {
	struct smb_url url;
	const struct smb_dialect_ops *ops;
	struct smb_link t;
	enum smb_stage stage;
	int timeout_ms;
	int dead; /* connection failed: the error every later call gets */
	char errmsg[512];
	uint32_t last_status;
	uint16_t dialect;
	int signing, encryption;
	uint32_t max_read, max_write, max_trans;
	struct smb_file *files;
	struct smb2_state *s2;
	void *s1;
	int in_callback;
	int64_t last_expiry_check; /* monotonic ms of the last deadline scan */
	uint8_t client_guid[16];   /* SMB2 ClientGuid, the same on every reconnect */
	struct smb_recon *recon;   /* reconnect state (smb/reconnect.h); NULL when off */
	int64_t last_rx_ms;	   /* monotonic ms of the last frame received (or the connect) */
};

/* Formats "op path: STATUS_NAME (description)" into c->errmsg and returns err. status may be 0
 * (then only the error's description is used). */
int smb_fail(struct smb_client *c, int err, uint32_t status, const char *op, const char *path);
/* Free-form message into c->errmsg; returns err. */
int smb_failf(struct smb_client *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Marks the connection dead with err, fails every pending request (their callbacks run). */
void smb_conn_fail(struct smb_client *c, int err, const char *why);

/* Services the connection until *done is non-zero (or the connection dies / times out). */
int smb_wait(struct smb_client *c, const int *done);

/* shortio.c: a read or write of len bytes carried over as many requests as the server's short
 * answers need (async contract of smbgate/smb.h). A read completes short only at the end of the
 * file; a write completes with len or fails. */
int smb_shortio_read(struct smb_client *c, struct smb_file *f, void *buf, size_t len, uint64_t off,
		     smb_cb cb, void *priv);
int smb_shortio_write(struct smb_client *c, struct smb_file *f, const void *buf, size_t len,
		      uint64_t off, smb_cb cb, void *priv);
int smb_shortio_write_file(struct smb_client *c, struct smb_file *f, int fd, uint64_t fd_off,
			   size_t len, uint64_t off, smb_cb cb, void *priv);

/* Tracks open files for teardown. */
struct smb_file *smb_file_new(struct smb_client *c, const char *path);
void smb_file_free(struct smb_client *c, struct smb_file *f);
/* Takes f off the open-files list (its close is under way); idempotent. */
void smb_file_detach(struct smb_client *c, struct smb_file *f);

/* Monotonic milliseconds. */

/* NT FILETIME <-> timespec. */
void smb_filetime_to_timespec(uint64_t ft, struct timespec *ts);
uint64_t smb_timespec_to_filetime(const struct timespec *ts);

#endif
