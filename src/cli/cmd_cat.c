/* smbgate cat URL...: write remote files (or a byte range of one) to stdout. */
#include <stdio.h>
#include <string.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/xfer.h"

static const struct cli_cmd_spec cat_spec = {
    .name = "cat",
    .usage = "[options] URL...",
    .about = "Writes each remote file to stdout, in order. --offset and "
	     "--count select a byte\n"
	     "range (offsets beyond 4 GiB work); they apply to every file. When the "
	     "connection\n"
	     "drops, smbgate reconnects and the output goes on where it was "
	     "(--retries).\n",
    .example = "  smbgate cat smb://alice@fileserver/docs/notes.txt\n"
	       "  smbgate cat --offset 5G --count 1M "
	       "smb://alice@fileserver/vm/disk.img > part\n",
    .opts = CLI_F_CONN | CLI_F_XFER | CLI_F(CLI_OPT_OFFSET) | CLI_F(CLI_OPT_COUNT),
    .min_args = 1,
    .max_args = -1,
};

static int cat_one(const struct cli_opts *o, const char *url)
{
	struct cli_conn cc;
	int rc = cli_connect(&cc, "cat", url, o);

	if (rc == 0)
		rc = xfer_fetch(&cc, o, cc.url.path, NULL, o->offset, o->count, 1, "stdout");
	cli_conn_close(&cc);
	return rc;
}

int cmd_cat(int argc, char **argv)
{
	struct cli_opts o;
	int rc = cli_opts_parse(&cat_spec, argc, argv, &o);

	if (rc >= 0)
		return rc;
	rc = 0;
	for (int i = 0; i < o.nargs && rc == 0; i++)
		rc = cat_one(&o, o.args[i]);
	cli_opts_free(&o);
	return rc;
}
