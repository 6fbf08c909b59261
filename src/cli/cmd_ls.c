/* smbgate ls: list a directory (sorted by name), or show one file. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli_util.h"
#include "cli/commands.h"

static const struct cli_cmd_spec ls_spec = {
    .name = "ls",
    .usage = "[options] URL",
    .about = "Lists the directory the URL names, sorted by name: type, size, "
	     "modification time\n"
	     "(local time) and name, directories marked with a trailing '/'. "
	     "On a file, shows\n"
	     "that file. With -r, lists the whole tree with paths relative to "
	     "URL.\n",
    .example = "  smbgate ls smb://alice@fileserver/docs\n"
	       "  smbgate ls -1 -r smb://alice@fileserver/docs/reports\n",
    .opts = CLI_F_CONN | CLI_F(CLI_OPT_LONG) | CLI_F(CLI_OPT_ONE) | CLI_F(CLI_OPT_RECURSIVE),
    .min_args = 1,
    .max_args = 1,
};

static void ls_print(const struct cli_opts *o, const char *prefix, const char *name,
		     const struct smb_stat *st)
{
	const char *slash = st->is_dir ? "/" : "";
	const char *sep = prefix[0] ? "/" : "";
	char when[32] = "-";
	struct tm tm;

	if (o->names_only) {
		printf("%s%s%s%s\n", cli_safe(prefix), sep, cli_safe(name), slash);
		return;
	}
	if (localtime_r(&st->mtime.tv_sec, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	printf("%c %12llu %s %s%s%s%s\n", st->is_dir ? 'd' : '-', (unsigned long long)st->size,
	       when, cli_safe(prefix), sep, cli_safe(name), slash);
}

/* Lists dir (share-relative); prefix is printed before names (the path relative
 * to URL). */
static int ls_dir(struct cli_conn *cc, const struct cli_opts *o, const char *dir,
		  const char *prefix)
{
	struct cli_dirlist l = {0};
	int rc = cli_dirlist_read(cc, dir, &l);

	if (rc < 0) {
		cli_dirlist_free(&l);
		return cli_fail(cc, rc, "list", dir);
	}
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		struct cli_dirent *e = &l.v[i];
		ls_print(o, prefix, e->name, &e->st);
		if (o->recursive && e->st.is_dir && cli_name_ok(e->name)) {
			char *sub = cli_path_cat(dir, e->name),
			     *subp = cli_path_cat(prefix, e->name);
			if (sub == NULL || subp == NULL)
				rc = cli_errorf(cc->cmd, CLI_EXIT_ERROR, "out of memory");
			else
				rc = ls_dir(cc, o, sub, subp);
			free(sub);
			free(subp);
		}
	}
	cli_dirlist_free(&l);
	return rc;
}

int cmd_ls(int argc, char **argv)
{
	static char outbuf[1 << 16];
	struct cli_opts o;
	struct cli_conn cc;
	struct smb_stat st = {0};
	int rc = cli_opts_parse(&ls_spec, argc, argv, &o);

	if (rc >= 0)
		return rc;
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	rc = cli_connect(&cc, "ls", o.args[0], &o);
	if (rc == 0 && cc.url.path[0] != '\0') { /* the root is a directory: save a round trip */
		int err = smb_stat(cc.c, cc.url.path, &st);
		if (err < 0)
			rc = cli_fail(&cc, err, "stat", cc.url.path);
		else if (!st.is_dir)
			ls_print(&o, "", cli_basename(cc.url.path), &st);
	} else if (rc == 0) {
		st.is_dir = 1;
	}
	if (rc == 0 && st.is_dir)
		rc = ls_dir(&cc, &o, cc.url.path, "");
	if (fflush(stdout) != 0 && rc == 0)
		rc = cli_fail_local("ls", "write", "stdout", errno);
	cli_conn_close(&cc);
	cli_opts_free(&o);
	return rc;
}
