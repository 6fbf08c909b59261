/* The SSH listener for `serve sftp` (DESIGN.md decision 5): libssh, one thread per
 * connection with its own event loop; the SFTP subsystem runs the engine, exec requests get
 * the few commands rclone's sftp backend uses (md5sum, sha1sum, sha256sum, df, echo). */
#ifndef SMBGATE_SSH_H
#define SMBGATE_SSH_H

#include <stddef.h>

#include "sftp/sftp.h"
#include "vfs/vfs.h"

#define SSH_MAX_HOSTKEYS 8

struct ssh_serve_opts {
	const char *addr;	     /* "localhost:2022" (default); ":2022" = all interfaces */
	const char *user, *pass;     /* password authentication when both are set */
	const char *authorized_keys; /* NULL: ~/.ssh/authorized_keys when it exists */
	int no_auth;		     /* anyone may log in */
	const char *keys[SSH_MAX_HOSTKEYS]; /* host key files (--key) */
	int nkeys;
	int stats_interval;    /* seconds between statistics lines (0 = none) */
	const char *cache_dir; /* generated host keys; NULL: ~/.cache/smbgate/serve-sftp */
	int no_auth_anywhere;  /* --no-auth is allowed on a non-loopback address */

	/* Limits, as OpenSSH's sshd_config names them (ssh_serve_opts_default sets its
	 * defaults). */
	int startups_begin, startups_rate, startups_full; /* MaxStartups 10:30:100 */
	int login_grace;				  /* LoginGraceTime, seconds; 0 = none */
	int max_conns;					  /* connections in total (256) */
	int max_conns_per_source;			  /* per client address (32) */
	int max_sessions;				  /* MaxSessions: channels (10) */
	int max_auth_tries;				  /* MaxAuthTries (6) */
};

void ssh_serve_opts_default(struct ssh_serve_opts *o);
/* Checks that at least one way to log in was given, that --no-auth listens on loopback only
 * (unless no_auth_anywhere) and that the limits make sense. Returns 0, or < 0 with a message
 * that names the flags in why. */
int ssh_serve_check(const struct ssh_serve_opts *o, char *why, size_t len);
/* Listens and serves until SIGINT/SIGTERM. Returns 0, or < 0 after logging why it could not
 * start. so is copied for every session. After a stop signal the connections get a few
 * seconds to close their files; SMBG_EBUSY means some were still running when that ran out:
 * they still use v, so the caller must not free it (the process is about to exit). */
int ssh_serve(struct vfs *v, const struct ssh_serve_opts *o, const struct sftp_opts *so);

#endif
