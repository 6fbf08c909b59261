/* smbgate get URL [LOCAL]: copy a remote file (or a tree with -r) to the local
 * disk or stdout.
 *
 * A file is written to a temporary name beside its final one
 * (".NAME.smbgate-XXXXXX") and renamed when complete, so a failed or
 * interrupted get never leaves a half-written file under the real name; the
 * temporary file is removed on every failure path, and on SIGINT, SIGTERM and
 * SIGHUP. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/xfer.h"
#include "util/log.h"

static const struct cli_cmd_spec get_spec = {
    .name = "get",
    .usage = "[options] URL [LOCAL]",
    .about = "Copies the remote file URL to LOCAL (default: the current "
	     "directory). When LOCAL\n"
	     "is a directory the file keeps its name inside it; \"-\" writes "
	     "to stdout. With -r,\n"
	     "copies the directory URL and everything under it (into "
	     "LOCAL/NAME when LOCAL is\n"
	     "an existing directory, else as LOCAL). Files are written to a "
	     "temporary name and\n"
	     "renamed when complete; a failed get leaves no partial file. "
	     "Modification times\n"
	     "are kept. When the connection drops, smbgate reconnects and goes on "
	     "where it was\n"
	     "(--retries).\n",
    .example = "  smbgate get smb://alice@fileserver/docs/report.pdf ~/Downloads/\n"
	       "  smbgate get -r smb://alice@fileserver/docs/photos ./photos\n"
	       "  smbgate get smb://alice@fileserver/docs/log.txt - | grep ERROR\n",
    .opts = CLI_F_CONN | CLI_F_XFER | CLI_F(CLI_OPT_RECURSIVE),
    .min_args = 1,
    .max_args = 2,
};

/* The temporary file being written, for the signal handler. */
static char tmp_live[PATH_MAX];
static volatile sig_atomic_t tmp_live_set;

static void get_on_signal(int sig)
{
	if (tmp_live_set)
		unlink(tmp_live);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void get_signals_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = get_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static void tmp_live_track(const char *path)
{
	tmp_live_set = 0;
	if (path && strlen(path) < sizeof(tmp_live)) {
		memcpy(tmp_live, path, strlen(path) + 1);
		tmp_live_set = 1;
	}
}

/* "DIR/.NAME.smbgate-XXXXXX" for the local path final; caller frees. */
static char *tmp_name(const char *final)
{
	const char *slash = strrchr(final, '/');
	char *s = NULL;
	int n;

	if (slash)
		n = asprintf(&s, "%.*s/.%s.smbgate-XXXXXX", (int)(slash - final), final, slash + 1);
	else
		n = asprintf(&s, ".%s.smbgate-XXXXXX", final);
	return n < 0 ? NULL : s;
}

/* Copies one remote file to the local path local (or to stdout when local is
 * "-"). */
static int get_file(struct cli_conn *cc, const struct cli_opts *o, const char *remote,
		    const struct smb_stat *st, const char *local)
{
	char *tmp = NULL;
	int fd = -1, rc;
	mode_t mask;

	if (strcmp(local, "-") == 0)
		return xfer_fetch(cc, o, remote, st, 0, UINT64_MAX, 1, "stdout");

	tmp = tmp_name(local);
	if (tmp == NULL)
		return cli_errorf(cc->cmd, CLI_EXIT_ERROR, "out of memory");
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = cli_fail_local(cc->cmd, "create", local, errno);
		free(tmp);
		return rc;
	}
	tmp_live_track(tmp);
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) != 0)
		log_debug("fchmod %s: %s", tmp, strerror(errno));

	/* A dropped connection resumes into the same temporary file (--retries). */
	rc = xfer_fetch(cc, o, remote, st, 0, UINT64_MAX, fd, local);
	if (rc == 0 && (st->mtime.tv_sec != 0 || st->mtime.tv_nsec != 0)) {
		struct timespec ts[2] = {st->atime, st->mtime};
		if (ts[0].tv_sec == 0 && ts[0].tv_nsec == 0)
			ts[0].tv_nsec = UTIME_OMIT;
		if (futimens(fd, ts) != 0)
			log_debug("set times on %s: %s", tmp, strerror(errno));
	}
	if (close(fd) != 0 && rc == 0)
		rc = cli_fail_local(cc->cmd, "write", local, errno);
	if (rc == 0 && rename(tmp, local) != 0)
		rc = cli_fail_local(cc->cmd, "rename to", local, errno);
	if (rc != 0)
		unlink(tmp);
	tmp_live_track(NULL);
	free(tmp);
	return rc;
}

/* Makes the local directory path (an existing directory is fine). */
static int get_mkdir(const char *cmd, const char *path)
{
	struct stat lst;

	if (mkdir(path, 0777) == 0)
		return 0;
	if (errno == EEXIST && stat(path, &lst) == 0 && S_ISDIR(lst.st_mode))
		return 0;
	return cli_fail_local(cmd, "create directory", path, errno);
}

/* Copies the remote directory remote into the local directory local (made if
 * missing). */
static int get_tree(struct cli_conn *cc, const struct cli_opts *o, const char *remote,
		    const char *local)
{
	struct cli_dirlist l = {0};
	int rc = get_mkdir(cc->cmd, local), err;

	if (rc != 0)
		return rc;
	err = cli_dirlist_read(cc, remote, &l);
	if (err < 0) {
		cli_dirlist_free(&l);
		return cli_fail(cc, err, "list", remote);
	}
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		struct cli_dirent *e = &l.v[i];
		char *r, *lp;
		if (!cli_name_ok(e->name)) { /* a server must not steer us out of local */
			rc = cli_errorf(cc->cmd, CLI_EXIT_PROTO,
					"list %s on %s: server sent an invalid name \"%s\"",
					cli_disp(remote), cc->where, cli_safe(e->name));
			break;
		}
		r = cli_path_cat(remote, e->name);
		lp = cli_path_cat(local, e->name);
		if (r == NULL || lp == NULL)
			rc = cli_errorf(cc->cmd, CLI_EXIT_ERROR, "out of memory");
		else if (e->st.is_dir)
			rc = get_tree(cc, o, r, lp);
		else
			rc = get_file(cc, o, r, &e->st, lp);
		free(r);
		free(lp);
	}
	cli_dirlist_free(&l);
	return rc;
}

int cmd_get(int argc, char **argv)
{
	struct cli_opts o;
	struct cli_conn cc;
	struct smb_stat st = {0};
	struct stat lst;
	const char *local;
	char *target = NULL;
	int rc = cli_opts_parse(&get_spec, argc, argv, &o);

	if (rc >= 0)
		return rc;
	local = o.nargs > 1 ? o.args[1] : ".";
	if (o.recursive && strcmp(local, "-") == 0) {
		cli_opts_free(&o);
		return cli_errorf("get", CLI_EXIT_USAGE, "-r cannot write to stdout");
	}
	get_signals_install();
	rc = cli_connect(&cc, "get", o.args[0], &o);
	if (rc == 0 && cc.url.path[0] != '\0') {
		int err = smb_stat(cc.c, cc.url.path, &st);
		if (err < 0)
			rc = cli_fail(&cc, err, "stat", cc.url.path);
	} else if (rc == 0) {
		st.is_dir = 1;
	}
	if (rc == 0 && st.is_dir && !o.recursive)
		rc = cli_errorf("get", CLI_EXIT_ERROR, "%s on %s is a directory (use -r)",
				cli_disp(cc.url.path), cc.where);
	if (rc == 0) {
		/* Into an existing directory: keep the remote name (the share's for its
		 * root). */
		const char *name = cc.url.path[0] ? cli_basename(cc.url.path) : cc.url.share;
		if (strcmp(local, "-") != 0 && stat(local, &lst) == 0 && S_ISDIR(lst.st_mode))
			target = cli_path_cat(local, name);
		else
			target = strdup(local);
		if (target == NULL)
			rc = cli_errorf("get", CLI_EXIT_ERROR, "out of memory");
	}
	if (rc == 0 && st.is_dir)
		rc = get_tree(&cc, &o, cc.url.path, target);
	else if (rc == 0)
		rc = get_file(&cc, &o, cc.url.path, &st, target);
	free(target);
	cli_conn_close(&cc);
	cli_opts_free(&o);
	return rc;
}
