/* smbgate mkdir [-p] URL...: make directories. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"

static const struct cli_cmd_spec mkdir_spec = {
    .name = "mkdir",
    .usage = "[options] URL...",
    .about = "Makes the directory each URL names. With -p, makes missing "
	     "parents too and\n"
	     "does not complain when the directory exists.\n",
    .example = "  smbgate mkdir smb://alice@fileserver/docs/new\n"
	       "  smbgate mkdir -p smb://alice@fileserver/docs/2024/06/reports\n",
    .opts = CLI_F_CONN | CLI_F(CLI_OPT_PARENTS),
    .min_args = 1,
    .max_args = -1,
};

/* mkdir -p: try the directory itself first (usually its parent exists), and
 * climb only when the server says a parent is missing. Returns an SMBG_E*
 * error. */
static int mkdir_parents(struct cli_conn *cc, const char *path)
{
	struct smb_stat st;
	int err = smb_mkdir(cc->c, path);

	if (err == SMBG_EEXIST) {
		err = smb_stat(cc->c, path, &st);
		return (err == 0 && !st.is_dir) ? SMBG_ENOTDIR : err;
	}
	if (err == SMBG_ENOENT && strchr(path, '/') != NULL) {
		char *parent = strdup(path);
		if (parent == NULL)
			return SMBG_ENOMEM;
		*strrchr(parent, '/') = '\0';
		err = mkdir_parents(cc, parent);
		free(parent);
		if (err == 0) {
			err = smb_mkdir(cc->c, path);
			if (err == SMBG_EEXIST) /* made meanwhile by someone else */
				err = 0;
		}
	}
	return err;
}

static int mkdir_one(const struct cli_opts *o, const char *url)
{
	struct cli_conn cc;
	int rc = cli_connect(&cc, "mkdir", url, o), err = 0;

	if (rc == 0 && cc.url.path[0] == '\0') {
		if (!o->parents)
			rc = cli_fail(&cc, SMBG_EEXIST, "make directory", "");
	} else if (rc == 0) {
		err = o->parents ? mkdir_parents(&cc, cc.url.path) : smb_mkdir(cc.c, cc.url.path);
		if (err < 0)
			rc = cli_fail(&cc, err, "make directory", cc.url.path);
	}
	cli_conn_close(&cc);
	return rc;
}

int cmd_mkdir(int argc, char **argv)
{
	struct cli_opts o;
	int rc = cli_opts_parse(&mkdir_spec, argc, argv, &o);

	if (rc >= 0)
		return rc;
	rc = 0;
	for (int i = 0; i < o.nargs && rc == 0; i++)
		rc = mkdir_one(&o, o.args[i]);
	cli_opts_free(&o);
	return rc;
}
