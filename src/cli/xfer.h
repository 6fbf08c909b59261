/* Moving file contents between an open remote file and a local descriptor, with
 * a window of requests in flight (smb_read_stream / smb_write_stream), a large
 * local buffer and the progress bar. Shared by get, cat and put. */
#ifndef SMBGATE_CLI_XFER_H
#define SMBGATE_CLI_XFER_H

#include <stdint.h>

#include "cli/cli_util.h"

/* Copies len bytes (UINT64_MAX: to the end) of remote file f from off to fd. size is the expected
 * byte count for the progress bar (UINT64_MAX: unknown), base the part of it done before (a
 * resumed transfer). remote and local name the two ends in messages. *done (optional) receives
 * the bytes written to fd; after a failure too, every byte received is on fd.
 * Returns 0; or an exit code after printing a message (a reader that went away, EPIPE on fd,
 * ends the copy quietly with exit code 1); or, when the connection was lost
 * (cli_retry_conn_lost), that negative SMBG_E* error with nothing printed: the caller may
 * reconnect and resume at off + *done, or report it with cli_fail(). */
int xfer_download(struct cli_conn *cc, const struct cli_opts *o, struct smb_file *f,
		  const char *remote, uint64_t off, uint64_t len, uint64_t size, uint64_t base,
		  int fd, const char *local, uint64_t *done);

/* Copies what fd yields from offset off on (off must be 0 for a source that cannot seek) into
 * remote file f at the same offset. size is the expected total for the progress bar. *written
 * (optional) receives the bytes the server confirmed, in order from off (a failed transfer may
 * have written more, unconfirmed). Same return convention as xfer_download. */
int xfer_upload(struct cli_conn *cc, const struct cli_opts *o, struct smb_file *f,
		const char *remote, uint64_t off, uint64_t size, int fd, const char *local,
		uint64_t *written);

/* A whole download with --retries: opens remote, copies len bytes (UINT64_MAX: to the end) from
 * off to fd as xfer_download does, and closes it. When the connection drops it reconnects cc
 * (cli_retry_reconnect), reopens remote and goes on from the byte after the last one written
 * to fd, provided the file still has the size and modification time it had at the start (st
 * when given, else what the first open found). Returns 0 or an exit code after the message. */
int xfer_fetch(struct cli_conn *cc, const struct cli_opts *o, const char *remote,
	       const struct smb_stat *st, uint64_t off, uint64_t len, int fd, const char *local);

#endif
