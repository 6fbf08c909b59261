/* Moving file contents between an open remote file and a local descriptor, with
 * a window of requests in flight (smb_read_stream / smb_write_stream), a large
 * local buffer and the progress bar. Shared by get, cat and put. */
#ifndef SMBGATE_CLI_XFER_H
#define SMBGATE_CLI_XFER_H

#include <stdint.h>

#include "cli/cli_util.h"

/* Copies len bytes (UINT64_MAX: to the end) of remote file f from off to fd.
 * size is the expected byte count for the progress bar (UINT64_MAX: unknown).
 * remote and local name the two ends in messages. Returns 0, or an exit code
 * after printing a message; a reader that went away (EPIPE on fd) ends the copy
 * quietly with exit code 1. */
int xfer_download(struct cli_conn *cc, const struct cli_opts *o, struct smb_file *f,
		  const char *remote, uint64_t off, uint64_t len, uint64_t size, int fd,
		  const char *local);

/* Copies everything fd yields into remote file f from offset 0. *written
 * (optional) receives the bytes written. Same return convention. */
int xfer_upload(struct cli_conn *cc, const struct cli_opts *o, struct smb_file *f,
		const char *remote, uint64_t size, int fd, const char *local, uint64_t *written);

#endif
