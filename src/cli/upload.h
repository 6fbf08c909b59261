/* The upload of one file for `smbgate put`: to a temporary name in the target's folder
 * (util/partial_name.h) renamed over the target only once the server confirmed every byte
 * (through the handle that wrote it, before its close), so that no reader of the share ever
 * sees half a file under the target's name; or,
 * with --inplace, to the target itself. A dropped connection reconnects and resumes into the
 * same file (--retries) when the source can be read again from an offset (a regular file). */
#ifndef SMBGATE_CLI_UPLOAD_H
#define SMBGATE_CLI_UPLOAD_H

#include <sys/stat.h>

#include "cli/cli_util.h"

/* Uploads what fd yields (lst: its fstat; local names it in messages) to the share-relative path
 * remote over cc, which may hold a new client afterwards. Returns 0 or an exit code after the
 * message; after a failure the message says what became of the data sent so far. */
int upload_file(struct cli_conn *cc, const struct cli_opts *o, int fd, const struct stat *lst,
		const char *local, const char *remote);

#endif
