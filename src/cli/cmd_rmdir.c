/* smbgate rmdir URL...: remove empty directories. */
#include "cli/cli_util.h"
#include "cli/commands.h"

static const struct cli_cmd_spec rmdir_spec = {
    .name = "rmdir",
    .usage = "[options] URL...",
    .about = "Removes each directory URL names; it must be empty (see `smbgate "
	     "rm -r`).\n",
    .example = "  smbgate rmdir smb://alice@fileserver/docs/empty\n",
    .opts = CLI_F_CONN,
    .min_args = 1,
    .max_args = -1,
};

static int rmdir_one(const struct cli_opts *o, const char *url)
{
	struct cli_conn cc;
	int rc = cli_connect(&cc, "rmdir", url, o), err;

	if (rc == 0 && cc.url.path[0] == '\0')
		rc = cli_errorf("rmdir", CLI_EXIT_USAGE, "refusing to remove the share root %s",
				cc.where);
	else if (rc == 0 && (err = smb_rmdir(cc.c, cc.url.path)) < 0)
		rc = cli_fail(&cc, err, "remove directory", cc.url.path);
	cli_conn_close(&cc);
	return rc;
}

int cmd_rmdir(int argc, char **argv)
{
	struct cli_opts o;
	int rc = cli_opts_parse(&rmdir_spec, argc, argv, &o);

	if (rc >= 0)
		return rc;
	rc = 0;
	for (int i = 0; i < o.nargs && rc == 0; i++)
		rc = rmdir_one(&o, o.args[i]);
	cli_opts_free(&o);
	return rc;
}
