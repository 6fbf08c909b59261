/* Exec requests: the few commands rclone's sftp backend runs over ssh (md5sum, sha1sum,
 * sha256sum, df, echo), answered from the VFS. Independent of the SSH library: a command
 * yields stdout and stderr bytes and an exit status. */
#ifndef SMBGATE_SSH_EXEC_H
#define SMBGATE_SSH_EXEC_H

#include "util/wbuf.h"
#include "vfs/vfs.h"

struct ssh_exec;

/* Parses command (shell words: quotes, backslashes; $VAR expands to nothing). Never NULL
 * except on allocation failure; a command that cannot run finishes with status 127. vc is
 * borrowed. */
struct ssh_exec *ssh_exec_new(struct vfs_conn *vc, const char *command);
/* Starts whatever comes next when nothing is in flight. Returns 1 once the command has
 * finished (all output produced), 0 while it runs. Callbacks run from vfs_conn_run(). */
int ssh_exec_step(struct ssh_exec *x);
/* Output produced so far; the caller takes bytes from the front (wbuf of the exec). */
struct wbuf *ssh_exec_stdout(struct ssh_exec *x);
struct wbuf *ssh_exec_stderr(struct ssh_exec *x);
int ssh_exec_status(const struct ssh_exec *x);
/* 1 while a VFS operation is in flight. */
int ssh_exec_busy(const struct ssh_exec *x);
/* The command's name ("md5sum"), for logs. */
const char *ssh_exec_name(const struct ssh_exec *x);
/* Frees x; while an operation is in flight, its callback frees x instead (so the vfs_conn
 * must still be run or freed, as it always is). NULL is a no-op. */
void ssh_exec_free(struct ssh_exec *x);

/* Splits a command line into words (exposed for tests). Returns the count (argv
 * NULL-terminated, caller frees with ssh_exec_free_words) or < 0: SMBG_EINVAL for an
 * unterminated quote, SMBG_ENOTSUP for pipes, redirections and other shell syntax. */
int ssh_exec_split(const char *cmd, char ***argv);
void ssh_exec_free_words(char **argv);

#endif
