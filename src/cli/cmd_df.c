/* smbgate df URL: the share's size, use and free space. */
#include <stdio.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/progress.h"

static const struct cli_cmd_spec df_spec = {
    .name = "df",
    .usage = "[options] URL",
    .about = "Shows the size, used and available space of the share (as the "
	     "server reports it\n"
	     "for the URL's path, quotas applied) in 1K blocks and in human "
	     "units.\n",
    .example = "  smbgate df smb://alice@fileserver/docs\n",
    .opts = CLI_F_CONN,
    .min_args = 1,
    .max_args = 1,
};

static void df_line(const char *label, uint64_t bytes)
{
	char h[32];

	progress_human(bytes, h, sizeof(h));
	printf("%-11s %llu 1K-blocks (%s)\n", label, (unsigned long long)(bytes / 1024), h);
}

int cmd_df(int argc, char **argv)
{
	struct cli_opts o;
	struct cli_conn cc;
	struct smb_statfs sf;
	int rc = cli_opts_parse(&df_spec, argc, argv, &o), err;

	if (rc >= 0)
		return rc;
	rc = cli_connect(&cc, "df", o.args[0], &o);
	if (rc == 0 && (err = smb_statfs(cc.c, cc.url.path, &sf)) < 0) {
		rc = cli_fail(&cc, err, "statfs", cc.url.path);
	} else if (rc == 0) {
		/* Used is measured against what is really free; available is what this user
		 * may still write (quota applied), as df(1) separates them. */
		uint64_t bs = sf.block_size;
		uint64_t total = sf.total_blocks * bs;
		uint64_t actual_free =
		    (sf.avail_blocks < sf.total_blocks ? sf.avail_blocks : sf.total_blocks) * bs;
		uint64_t avail = sf.free_blocks * bs;
		uint64_t used = total - actual_free;
		unsigned pct =
		    used + avail ? (unsigned)((used * 100 + used + avail - 1) / (used + avail)) : 0;
		printf("%-11s %s\n", "Share:", cc.where);
		df_line("Size:", total);
		df_line("Used:", used);
		df_line("Available:", avail);
		printf("%-11s %u%%\n", "Use:", pct);
	}
	cli_conn_close(&cc);
	cli_opts_free(&o);
	return rc;
}
