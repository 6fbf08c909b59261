/* One file's upload: temporary name, resume after a dropped connection, final rename. */
#include "cli/upload.h"

#include <stdio.h>
#include <stdlib.h>

#include "cli/progress.h"
#include "cli/retry.h"
#include "cli/xfer.h"
#include "util/log.h"
#include "util/partial_name.h"

struct upload {
	struct cli_conn *cc;
	const struct cli_opts *o;
	int fd;
	const struct stat *lst;
	const char *local, *remote;
	char *tmp;	    /* the temporary name (owned); NULL with --inplace */
	const char *dest;   /* where the bytes go: tmp, or remote with --inplace */
	int created;	    /* dest was created on the server */
	uint64_t confirmed; /* bytes of dest the server confirmed, in order from 0 */
	int renamed;	    /* tmp was renamed over remote through its handle */
	int rename_unsure;  /* a rename may have been sent and its answer lost */
	const char *op;	    /* the step that failed, for the message */
};

/* A failed step: a lost connection is handed back unprinted (the caller may resume); anything
 * else is reported now. */
static int attempt_fail(struct upload *u, int err, const char *op)
{
	u->op = op;
	if (err > 0 || cli_retry_conn_lost(err))
		return err;
	return cli_fail(u->cc, err, op, u->remote);
}

/* Renames the complete temporary file over the target through the handle that wrote it: one
 * request, where a rename by path costs an open, the rename and a close. A failure is left to
 * upload_rename, which renames by path after the close: it checks a rename whose answer was
 * lost with the connection, reports a refusal as it always has, and serves servers that will not
 * rename through the handle: over SMB1 Samba refuses a hidden file (ours: a dot name) with
 * STATUS_NO_SUCH_FILE, and servers without pass-through information levels rename by path,
 * which our own open handle would block. */
static void upload_frename(struct upload *u, struct smb_file *f)
{
	int err = smb_frename(u->cc->c, f, u->remote, 1);

	if (err == 0) {
		u->renamed = 1;
		log_debug("renamed %s over %s through its open handle", cli_disp(u->tmp),
			  cli_disp(u->remote));
		return;
	}
	u->rename_unsure = cli_retry_conn_lost(err);
	log_debug("rename of the open %s failed (%s); renaming it by path after the close",
		  cli_disp(u->tmp), smbg_strerror(err));
}

/* Opens dest for an attempt. The temporary file is opened with DELETE access, which a rename
 * through its handle needs; a share that refuses it gets the open without, and the rename by
 * path then fails with the message that names the cause. */
static int upload_open(struct upload *u, int flags, struct smb_file **f)
{
	int err;

	if (u->tmp) {
		err = smb_open(u->cc->c, u->dest, flags | SMB_O_DELETE, f);
		if (err != SMBG_EACCES && err != SMBG_EPERM)
			return err;
	}
	return smb_open(u->cc->c, u->dest, flags, f);
}

/* One attempt: open dest (created the first time), on a resumed attempt keep only what the
 * server confirmed, write the rest, set the modification time, rename a temporary file over the
 * target and close. Returns 0, an exit code after the message, or a lost connection (negative,
 * nothing printed). */
static int upload_attempt(struct upload *u, int first)
{
	struct smb_client *c = u->cc->c;
	struct smb_file *f = NULL;
	struct smb_stat st;
	uint64_t written = 0;
	uint64_t size = S_ISREG(u->lst->st_mode) ? (uint64_t)u->lst->st_size : UINT64_MAX;
	int err, flags = SMB_O_WRITE | SMB_O_CREATE | SMB_O_FILE;

	/* A fresh temporary name must not be anybody else's file: EXCL. A resumed attempt opens
	 * what an earlier one made (or makes it again when it has gone). */
	if (first)
		flags |= u->tmp ? SMB_O_EXCL : SMB_O_TRUNC;
	err = upload_open(u, flags, &f);
	if (err < 0)
		return attempt_fail(u, err, "create");
	u->created = 1;
	if (!first) {
		/* Bytes the server never confirmed are not trusted: the file is cut back to the
		 * confirmed length (or the resume starts from what it holds, if less). */
		err = smb_fstat(c, f, &st);
		if (err == 0 && st.size < u->confirmed)
			u->confirmed = st.size;
		else if (err == 0 && st.size > u->confirmed)
			err = smb_ftruncate(c, f, u->confirmed);
		if (err < 0) {
			smb_close(c, f);
			return attempt_fail(u, err, "resume");
		}
		log_info("resuming the upload of %s at byte %llu", cli_disp(u->remote),
			 (unsigned long long)u->confirmed);
	}
	err = xfer_upload(u->cc, u->o, f, u->remote, u->confirmed, size, u->fd, u->local, &written);
	u->confirmed += written;
	if (err != 0) {
		smb_close(c, f);
		return attempt_fail(u, err, "write");
	}
	if (S_ISREG(u->lst->st_mode)) {
		/* After the last write, so that the server's own update does not win. */
		err = smb_futimens(c, f, NULL, &u->lst->st_mtim);
		if (err < 0 && cli_retry_conn_lost(err)) {
			smb_close(c, f);
			return attempt_fail(u, err, "set the time of");
		}
		if (err < 0)
			log_warn("set modification time of %s: %s", cli_disp(u->remote),
				 smbg_strerror(err));
	}
	/* The server has answered every write (xfer_upload waits for each), so the target gets
	 * nothing but the whole file even though the close comes after the rename. */
	if (u->tmp)
		upload_frename(u, f);
	err = smb_close(c, f);
	/* After a rename whose answer was lost the close fails too, or reaches a handle the
	 * reconnect did not keep: upload_rename finds out what happened. After a confirmed rename
	 * a close lost with the connection changes nothing: every byte is in place and the server
	 * closes the handle with the session. */
	if (err < 0 && (u->rename_unsure || (u->renamed && cli_retry_conn_lost(err))))
		return 0;
	if (err < 0 && u->renamed) {
		u->op = "close";
		err = cli_fail(u->cc, err, "close", u->remote);
		fprintf(stderr, "smbgate %s: %s was replaced before the close failed\n", u->cc->cmd,
			cli_disp(u->remote));
		return err;
	}
	return err < 0 ? attempt_fail(u, err, "close") : 0;
}

/* Renames the complete temporary file over the target, again after a reconnect when the
 * connection drops. Returns 0, or an exit code after the message. */
static int upload_rename(struct upload *u, struct cli_retry *r, int *lost)
{
	for (;;) {
		struct smb_stat st;
		int err = smb_rename(u->cc->c, u->tmp, u->remote, 1), rc;
		if (err == 0)
			return 0;
		/* An earlier rename may have happened with its answer lost. */
		if (u->rename_unsure && err == SMBG_ENOENT &&
		    smb_stat(u->cc->c, u->remote, &st) == 0 && !st.is_dir &&
		    (!S_ISREG(u->lst->st_mode) || st.size == u->confirmed)) {
			log_info("%s already holds the upload: the rename was done before the "
				 "connection dropped",
				 cli_disp(u->remote));
			return 0;
		}
		if (cli_retry_conn_lost(err))
			u->rename_unsure = 1;
		if (!cli_retry_wanted(r, err, u->confirmed, u->cc->c)) {
			*lost = cli_retry_conn_lost(err);
			rc = cli_fail(u->cc, err, "rename the upload to", u->remote);
			if (err == SMBG_EACCES || err == SMBG_EPERM)
				fprintf(stderr,
					"smbgate %s: the share may not allow renames; --inplace "
					"writes to the target directly\n",
					u->cc->cmd);
			return rc;
		}
		rc = cli_retry_reconnect(r, u->cc, u->o, err, "rename the upload to", u->remote);
		if (rc != 0) {
			*lost = 1;
			return rc;
		}
	}
}

/* Says where the data sent so far is, after the connection was lost for good: the target is
 * untouched (or, when a rename was sent, may hold the upload) and the temporary file cannot be
 * deleted without a connection. */
static void upload_kept(struct upload *u)
{
	char n[32];

	progress_human(u->confirmed, n, sizeof(n));
	if (u->rename_unsure) /* the rename may have been done: say both */
		fprintf(stderr,
			"smbgate %s: the connection was lost while %s was renamed over %s: "
			"either %s holds the whole upload (%s) or it is still in %s on %s\n",
			u->cc->cmd, cli_disp(u->tmp), cli_disp(u->remote), cli_disp(u->remote), n,
			cli_disp(u->tmp), u->cc->where);
	else
		fprintf(stderr,
			"smbgate %s: %s was not changed; the %s uploaded are kept in %s on %s\n",
			u->cc->cmd, cli_disp(u->remote), n, cli_disp(u->tmp), u->cc->where);
}

/* Deletes dest after a failure that leaves nothing worth keeping. When the connection is gone
 * (and --retries allows a reconnect) a new one is made for it. */
static void upload_discard(struct upload *u)
{
	int err = u->cc->c ? smb_unlink(u->cc->c, u->dest) : SMBG_ECLOSED;

	if (cli_retry_conn_lost(err) && u->o->retries > 0) {
		log_info("reconnecting to delete %s", cli_disp(u->dest));
		err = cli_reconnect(u->cc, u->o) == 0 ? smb_unlink(u->cc->c, u->dest) : err;
	}
	if (err < 0 && err != SMBG_ENOENT)
		fprintf(stderr, "smbgate %s: could not delete the partial file %s on %s: %s\n",
			u->cc->cmd, cli_disp(u->dest), u->cc->where, smbg_strerror(err));
}

int upload_file(struct cli_conn *cc, const struct cli_opts *o, int fd, const struct stat *lst,
		const char *local, const char *remote)
{
	struct upload u = {
	    .cc = cc, .o = o, .fd = fd, .lst = lst, .local = local, .remote = remote};
	struct cli_retry r;
	int rc, first = 1, lost = 0, resumable = S_ISREG(lst->st_mode);

	if (!o->inplace) {
		u.tmp = partial_name_make(remote, partial_name_tag_random());
		if (u.tmp == NULL)
			return cli_errorf(cc->cmd, CLI_EXIT_ERROR, "out of memory");
	}
	u.dest = u.tmp ? u.tmp : remote;
	cli_retry_init(&r, o);
	for (;;) {
		rc = upload_attempt(&u, first);
		first = 0;
		if (rc >= 0 || !resumable || !cli_retry_wanted(&r, rc, u.confirmed, cc->c))
			break;
		rc = cli_retry_reconnect(&r, cc, o, rc, u.op, remote);
		if (rc != 0) { /* no new connection: the data stays where it is */
			lost = 1;
			break;
		}
	}
	if (rc < 0) { /* the connection was lost for good */
		lost = 1;
		rc = cli_fail(cc, rc, u.op, remote);
	}
	if (rc == 0 && u.tmp && !u.renamed)
		rc = upload_rename(&u, &r, &lost);
	/* After a lost connection what the server confirmed is kept, when it could be resumed;
	 * anything else is deleted. */
	if (rc != 0 && lost && u.created && u.tmp && resumable)
		upload_kept(&u);
	else if (rc != 0 && u.created)
		upload_discard(&u);
	free(u.tmp);
	return rc;
}
