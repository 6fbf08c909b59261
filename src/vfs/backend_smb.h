/* What the SMB backend (backend_smb.c) and its connection pool (backend_smb_pool.c)
 * share: the backend's shared state. Internal to src/vfs/.
 *
 * Ownership: struct smb_shared owns the pooled clients; a client taken from the pool
 * (smb_pool_take) belongs to the taker until it is given back (smb_pool_put_locked). */
#ifndef SMBGATE_VFS_BACKEND_SMB_H
#define SMBGATE_VFS_BACKEND_SMB_H

#include <pthread.h>
#include <stdint.h>

#include "smbgate/smb.h"
#include "util/url.h"

#define POOL_MAX 4 /* idle SMB connections kept for the next SSH session */

struct smb_shared {
	struct smb_url url; /* parsed once; each connection copies it */
	char *display;	    /* smb://host:port/share/path, no credentials */
	int timeout;	    /* --timeout, seconds, for every client */
	/* idle connections: a new SSH session skips the SMB logon; taken and given back under
	 * the lock, used by one thread at a time */
	pthread_mutex_t lock;
	struct smb_client *pool[POOL_MAX];
	int64_t pool_since[POOL_MAX]; /* idle since */
	int64_t pool_echo[POOL_MAX];  /* last heard from (the last ECHO answered) */
	int npool;
	/* the pool keeper: ages idle connections out and keeps the others alive */
	pthread_t keeper;
	pthread_cond_t wake;
	int keeper_started, stopping;
	struct smb_client *echoing; /* the keeper's ECHO is waiting on it (fini cuts it short) */
	int64_t pool_idle_ms, pool_echo_ms;
};

/* The pool's timings (defaults, or SMBGATE_POOL_IDLE_MS / SMBGATE_POOL_ECHO_MS). */
void smb_pool_config(struct smb_shared *sh);
/* Sets up the lock and starts the keeper; c (connected) is the first pooled client. */
void smb_pool_start(struct smb_shared *sh, struct smb_client *c);
/* Stops the keeper and frees the pooled clients, the lock and the condition. */
void smb_pool_stop(struct smb_shared *sh);
/* A pooled client that is still usable, or NULL (stale ones are freed). */
struct smb_client *smb_pool_take(struct smb_shared *sh);
int smb_pool_usable(struct smb_client *c);
int smb_pool_put_locked(struct smb_shared *sh, struct smb_client *c, int64_t since, int64_t echo);
void smb_idle_free(struct smb_client *c);

#endif
