/* smbgate put LOCAL URL: copy a local file, stdin or tree (-r) to the share.
 *
 * Each file goes to a temporary name beside its target and is renamed over it when complete
 * (cli/upload.c); --inplace writes to the target directly. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/upload.h"
#include "util/log.h"
#include "util/utf16.h"

static const struct cli_cmd_spec put_spec = {
    .name = "put",
    .usage = "[options] LOCAL URL",
    .about = "Copies the local file LOCAL (\"-\": stdin) to URL. When URL "
	     "names an existing\n"
	     "directory the file keeps its name inside it. With -r, copies the "
	     "directory LOCAL\n"
	     "and everything under it (into URL/NAME when URL is an existing "
	     "directory, else as\n"
	     "URL). Existing files are overwritten. Each file is written to a "
	     "hidden temporary\n"
	     "name in the target's folder (.NAME.XXXXXXXX.partial) and renamed "
	     "over the target\n"
	     "when complete, so the target never holds half a file (--inplace "
	     "writes to the\n"
	     "target directly). When the connection drops, smbgate reconnects and "
	     "resumes a\n"
	     "file upload where the server confirmed it (--retries); a failed "
	     "upload keeps the\n"
	     "temporary file only when that connection was lost, and says so. "
	     "Modification\n"
	     "times are kept. Symbolic links to directories are skipped.\n",
    .example = "  smbgate put report.pdf smb://alice@fileserver/docs/\n"
	       "  smbgate put -r ./photos smb://alice@fileserver/docs/photos\n"
	       "  tar c dir | smbgate put - smb://alice@fileserver/backup/dir.tar\n",
    .opts = CLI_F_CONN | CLI_F_XFER | CLI_F(CLI_OPT_RECURSIVE) | CLI_F(CLI_OPT_INPLACE),
    .min_args = 2,
    .max_args = 2,
};

/* SMB names are UTF-16 on the wire: a local name that is not UTF-8 cannot be
 * sent. */
static int put_name_check(const char *cmd, const char *local)
{
	const char *name = cli_basename(local);

	if (utf8_valid(name, strlen(name)))
		return 0;
	return cli_errorf(cmd, CLI_EXIT_USAGE,
			  "%s: name is not valid UTF-8 and cannot be stored on an SMB share",
			  cli_safe(local));
}

static int put_file(struct cli_conn *cc, const struct cli_opts *o, const char *local,
		    const char *remote)
{
	struct stat lst;
	int fd, rc;

	if (strcmp(local, "-") == 0) {
		if (fstat(0, &lst) != 0)
			return cli_fail_local(cc->cmd, "read", "stdin", errno);
		return upload_file(cc, o, 0, &lst, "stdin", remote);
	}
	fd = open(local, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cli_fail_local(cc->cmd, "open", local, errno);
	if (fstat(fd, &lst) != 0) {
		rc = cli_fail_local(cc->cmd, "stat", local, errno);
	} else if (S_ISDIR(lst.st_mode)) {
		rc = cli_errorf(cc->cmd, CLI_EXIT_ERROR, "%s is a directory (use -r)",
				cli_safe(local));
	} else {
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
		rc = upload_file(cc, o, fd, &lst, local, remote);
	}
	close(fd);
	return rc;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in the local directory path, sorted (caller frees each and the
 * array). */
static int put_listdir(const char *cmd, const char *path, char ***names, size_t *n)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t cap = 0;

	*names = NULL;
	*n = 0;
	if (d == NULL)
		return cli_fail_local(cmd, "open directory", path, errno);
	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (*n == cap) {
			char **v = realloc(*names, (cap = cap ? cap * 2 : 64) * sizeof(char *));
			if (v == NULL)
				break;
			*names = v;
		}
		if (((*names)[*n] = strdup(de->d_name)) == NULL)
			break;
		(*n)++;
		errno = 0;
	}
	if (errno != 0) {
		int e = errno;
		closedir(d);
		return cli_fail_local(cmd, "read directory", path, e);
	}
	closedir(d);
	if (*n > 1)
		qsort(*names, *n, sizeof(char *), name_cmp);
	return 0;
}

/* Makes the remote directory remote (an existing one is fine). */
static int put_mkdir(struct cli_conn *cc, const char *remote)
{
	struct smb_stat st;
	int err = smb_mkdir(cc->c, remote);

	if (err == SMBG_EEXIST && smb_stat(cc->c, remote, &st) == 0 && st.is_dir)
		return 0;
	return err < 0 ? cli_fail(cc, err, "make directory", remote) : 0;
}

static int put_tree(struct cli_conn *cc, const struct cli_opts *o, const char *local,
		    const char *remote)
{
	char **names = NULL;
	size_t n = 0;
	int rc = remote[0] ? put_mkdir(cc, remote) : 0;

	if (rc == 0)
		rc = put_listdir(cc->cmd, local, &names, &n);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *lp = cli_path_cat(local, names[i]), *rp = cli_path_cat(remote, names[i]);
		struct stat lst, llst;
		if (lp == NULL || rp == NULL)
			rc = cli_errorf(cc->cmd, CLI_EXIT_ERROR, "out of memory");
		else if ((rc = put_name_check(cc->cmd, lp)) != 0)
			;
		else if (stat(lp, &lst) != 0)
			rc = cli_fail_local(cc->cmd, "stat", lp, errno);
		else if (S_ISDIR(lst.st_mode) && lstat(lp, &llst) == 0 && S_ISLNK(llst.st_mode))
			log_warn("skipping %s: symbolic link to a directory", cli_safe(lp));
		else if (S_ISDIR(lst.st_mode))
			rc = put_tree(cc, o, lp, rp);
		else if (S_ISREG(lst.st_mode))
			rc = put_file(cc, o, lp, rp);
		else
			log_warn("skipping %s: not a regular file or directory", cli_safe(lp));
		free(lp);
		free(rp);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int cmd_put(int argc, char **argv)
{
	struct cli_opts o;
	struct cli_conn cc;
	struct smb_stat st = {0};
	struct stat lst;
	const char *local;
	char *target = NULL;
	int rc = cli_opts_parse(&put_spec, argc, argv, &o), remote_is_dir = 0;

	if (rc >= 0)
		return rc;
	rc = 0;
	local = o.args[0];
	/* Local checks first: no connection for a name that cannot work. */
	if (strcmp(local, "-") == 0) {
		if (o.recursive)
			rc = cli_errorf("put", CLI_EXIT_USAGE, "-r cannot read from stdin");
	} else if (stat(local, &lst) != 0) {
		rc = cli_fail_local("put", "open", local, errno);
	} else if (S_ISDIR(lst.st_mode) && !o.recursive) {
		rc = cli_errorf("put", CLI_EXIT_ERROR, "%s is a directory (use -r)",
				cli_safe(local));
	} else if (!S_ISDIR(lst.st_mode) && o.recursive) {
		o.recursive = 0; /* -r on a file copies the file, as cp -r does */
	}
	if (rc == 0 && strcmp(local, "-") != 0)
		rc = put_name_check("put", local);
	if (rc != 0) {
		cli_opts_free(&o);
		return rc;
	}

	rc = cli_connect(&cc, "put", o.args[1], &o);
	if (rc == 0 && cc.url.path[0] != '\0') {
		int err = smb_stat(cc.c, cc.url.path, &st);
		if (err == 0)
			remote_is_dir = st.is_dir;
		else if (err != SMBG_ENOENT)
			rc = cli_fail(&cc, err, "stat", cc.url.path);
	} else if (rc == 0) {
		remote_is_dir = 1;
	}
	if (rc == 0 && remote_is_dir && strcmp(local, "-") == 0)
		rc = cli_errorf("put", CLI_EXIT_USAGE,
				"%s on %s is a directory: give a file name to store stdin under",
				cli_disp(cc.url.path), cc.where);
	if (rc == 0) {
		char lbuf[4096];
		const char *name;
		/* "dir/" and "." have no useful basename: use the real directory's name. */
		if (realpath(local, lbuf) != NULL)
			name = cli_basename(lbuf);
		else
			name = cli_basename(local);
		target = remote_is_dir ? cli_path_cat(cc.url.path, name) : strdup(cc.url.path);
		if (target == NULL)
			rc = cli_errorf("put", CLI_EXIT_ERROR, "out of memory");
		else if (remote_is_dir && !cli_name_ok(name))
			rc = cli_errorf("put", CLI_EXIT_USAGE, "cannot name a remote file after %s",
					cli_safe(local));
	}
	if (rc == 0 && o.recursive)
		rc = put_tree(&cc, &o, local, target);
	else if (rc == 0)
		rc = put_file(&cc, &o, local, target);
	free(target);
	cli_conn_close(&cc);
	cli_opts_free(&o);
	return rc;
}
