/* smbgate mv URL NEWPATH: rename or move within one share. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli_util.h"
#include "cli/commands.h"
#include "util/utf16.h"

static const struct cli_cmd_spec mv_spec = {
    .name = "mv",
    .usage = "[options] URL NEWPATH",
    .about = "Renames the file or directory URL names. NEWPATH is either an "
	     "smb:// URL on the\n"
	     "same server and share, or a path relative to the share root. "
	     "When NEWPATH is an\n"
	     "existing directory, URL moves into it; an existing file is "
	     "replaced.\n",
    .example = "  smbgate mv smb://alice@fileserver/docs/draft.txt docs/final.txt\n"
	       "  smbgate mv smb://alice@fileserver/docs/a.txt "
	       "smb://alice@fileserver/docs/old/\n",
    .opts = CLI_F_CONN,
    .min_args = 2,
    .max_args = 2,
};

static unsigned port_of(const struct smb_url *u)
{
	return u->port ? u->port : u->transport == SMB_TRANSPORT_NETBIOS ? 139 : 445;
}

/* The share-relative destination named by arg; 0 or an exit code after a
 * message. */
static int mv_dest(struct cli_conn *cc, const char *arg, char **out)
{
	int err;

	*out = NULL;
	if (strncasecmp(arg, "smb://", 6) == 0) {
		struct cli_conn d;
		int rc = cli_url_parse(&d, cc->cmd, arg);
		if (rc == 0 && (strcasecmp(d.url.host, cc->url.host) != 0 ||
				port_of(&d.url) != port_of(&cc->url) ||
				strcasecmp(d.url.share, cc->url.share) != 0))
			rc = cli_errorf(
			    cc->cmd, CLI_EXIT_USAGE,
			    "%s and %s are not the same share: mv renames within one share",
			    d.where, cc->where);
		if (rc == 0 && (*out = strdup(d.url.path)) == NULL)
			rc = cli_errorf(cc->cmd, CLI_EXIT_ERROR, "out of memory");
		cli_conn_close(&d);
		return rc;
	}
	if (!utf8_valid(arg, strlen(arg)))
		return cli_errorf(cc->cmd, CLI_EXIT_USAGE, "%s: name is not valid UTF-8",
				  cli_safe(arg));
	while (*arg == '/')
		arg++;
	err = smb_path_join("", arg, out);
	if (err == SMBG_ENAME)
		return cli_errorf(cc->cmd, CLI_EXIT_USAGE, "%s: path leaves the share",
				  cli_safe(arg));
	if (err < 0)
		return cli_errorf(cc->cmd, CLI_EXIT_USAGE, "%s: %s", cli_safe(arg),
				  smbg_strerror(err));
	return 0;
}

int cmd_mv(int argc, char **argv)
{
	struct cli_opts o;
	struct cli_conn cc;
	struct smb_stat st;
	char *dest = NULL;
	int rc = cli_opts_parse(&mv_spec, argc, argv, &o), err;

	if (rc >= 0)
		return rc;
	rc = cli_connect(&cc, "mv", o.args[0], &o);
	if (rc == 0 && cc.url.path[0] == '\0')
		rc = cli_errorf("mv", CLI_EXIT_USAGE, "cannot move the share root %s", cc.where);
	if (rc == 0)
		rc = mv_dest(&cc, o.args[1], &dest);
	/* Into an existing directory (the root included), as mv(1) does. */
	if (rc == 0 && (dest[0] == '\0' || (smb_stat(cc.c, dest, &st) == 0 && st.is_dir &&
					    strcmp(dest, cc.url.path) != 0))) {
		char *in = cli_path_cat(dest, cli_basename(cc.url.path));
		free(dest);
		dest = in;
		if (dest == NULL)
			rc = cli_errorf("mv", CLI_EXIT_ERROR, "out of memory");
	}
	if (rc == 0 && (err = smb_rename(cc.c, cc.url.path, dest, 1)) < 0) {
		char op[1200];
		snprintf(op, sizeof(op), "rename %s to", cli_disp(cc.url.path));
		rc = cli_fail(&cc, err, op, dest);
	}
	free(dest);
	cli_conn_close(&cc);
	cli_opts_free(&o);
	return rc;
}
