/* smbgate rm [-r] URL...: remove files, or whole trees with -r. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"

static const struct cli_cmd_spec rm_spec = {
    .name = "rm",
    .usage = "[options] URL...",
    .about = "Removes each file URL names. A directory needs -r, which removes "
	     "it and\n"
	     "everything under it. The share root itself is never removed.\n",
    .example = "  smbgate rm smb://alice@fileserver/docs/old.txt\n"
	       "  smbgate rm -r smb://alice@fileserver/docs/tmp\n",
    .opts = CLI_F_CONN | CLI_F(CLI_OPT_RECURSIVE),
    .min_args = 1,
    .max_args = -1,
};

/* Removes the directory path and everything under it. */
static int rm_tree(struct cli_conn *cc, const char *path)
{
	struct cli_dirlist l = {0};
	int rc = 0, err = cli_dirlist_read(cc, path, &l);

	if (err < 0)
		rc = cli_fail(cc, err, "list", path);
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		struct cli_dirent *e = &l.v[i];
		char *sub;
		if (!cli_name_ok(e->name)) {
			rc = cli_errorf(cc->cmd, CLI_EXIT_PROTO,
					"list %s on %s: server sent an invalid name \"%s\"",
					cli_disp(path), cc->where, cli_safe(e->name));
			break;
		}
		sub = cli_path_cat(path, e->name);
		if (sub == NULL) {
			rc = cli_errorf(cc->cmd, CLI_EXIT_ERROR, "out of memory");
		} else if (e->st.is_dir) {
			rc = rm_tree(cc, sub);
		} else if ((err = smb_unlink(cc->c, sub)) < 0) {
			rc = cli_fail(cc, err, "remove", sub);
		}
		free(sub);
	}
	cli_dirlist_free(&l);
	if (rc == 0 && (err = smb_rmdir(cc->c, path)) < 0)
		rc = cli_fail(cc, err, "remove directory", path);
	return rc;
}

static int rm_one(const struct cli_opts *o, const char *url)
{
	struct cli_conn cc;
	struct smb_stat st;
	int rc = cli_connect(&cc, "rm", url, o), err;

	if (rc == 0 && cc.url.path[0] == '\0')
		rc = cli_errorf("rm", CLI_EXIT_USAGE, "refusing to remove the share root %s",
				cc.where);
	if (rc == 0 && (err = smb_stat(cc.c, cc.url.path, &st)) < 0)
		rc = cli_fail(&cc, err, "stat", cc.url.path);
	if (rc == 0 && st.is_dir && !o->recursive)
		rc = cli_errorf("rm", CLI_EXIT_ERROR, "%s on %s is a directory (use -r, or rmdir)",
				cli_disp(cc.url.path), cc.where);
	else if (rc == 0 && st.is_dir)
		rc = rm_tree(&cc, cc.url.path);
	else if (rc == 0 && (err = smb_unlink(cc.c, cc.url.path)) < 0)
		rc = cli_fail(&cc, err, "remove", cc.url.path);
	cli_conn_close(&cc);
	return rc;
}

int cmd_rm(int argc, char **argv)
{
	struct cli_opts o;
	int rc = cli_opts_parse(&rm_spec, argc, argv, &o);

	if (rc >= 0)
		return rc;
	rc = 0;
	for (int i = 0; i < o.nargs && rc == 0; i++)
		rc = rm_one(&o, o.args[i]);
	cli_opts_free(&o);
	return rc;
}
