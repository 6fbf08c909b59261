/* Opening a connection's backend (vfs_conn_new: for SMB a TCP connect, negotiate, login and
 * tree connect) on a worker thread, so that the connection's event loop never waits on the
 * SMB server: keepalives, other channels and a stop signal are served meanwhile. */
#ifndef SMBGATE_SSH_OPENER_H
#define SMBGATE_SSH_OPENER_H

#include <stdatomic.h>
#include <stddef.h>

#include "vfs/vfs.h"

struct ssh_opener;

/* Starts opening a vfs_conn of v. active is incremented while the worker runs (the server
 * waits for it before freeing v). NULL when no thread could be started. */
struct ssh_opener *ssh_opener_start(struct vfs *v, atomic_int *active);
/* Readable once the worker is done (poll it in the event loop). */
int ssh_opener_fd(const struct ssh_opener *op);
/* 1 once done: *vc is the new connection (the caller owns it; the vfs_conn is the caller's
 * thread's from now on) or NULL with the reason in why. 0 while it runs. */
int ssh_opener_take(struct ssh_opener *op, struct vfs_conn **vc, char *why, size_t len);
/* Drops the caller's side; a worker still running frees what it opens when it is done. */
void ssh_opener_release(struct ssh_opener *op);

#endif
