/* smbgate stat URL...: size, type, times (ISO 8601) and attributes. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli_util.h"
#include "cli/commands.h"

static const struct cli_cmd_spec stat_spec = {
    .name = "stat",
    .usage = "[options] URL...",
    .about = "Shows the type, size, allocation, attributes and times (ISO "
	     "8601, local time)\n"
	     "of each file or directory.\n",
    .example = "  smbgate stat smb://alice@fileserver/docs/report.pdf\n",
    .opts = CLI_F_CONN,
    .min_args = 1,
    .max_args = -1,
};

/* FILE_ATTRIBUTE_* names (MS-FSCC 2.6). */
static const struct {
	uint32_t bit;
	const char *name;
} attr_names[] = {
    {0x00000001, "READONLY"},
    {0x00000002, "HIDDEN"},
    {0x00000004, "SYSTEM"},
    {0x00000010, "DIRECTORY"},
    {0x00000020, "ARCHIVE"},
    {0x00000040, "DEVICE"},
    {0x00000080, "NORMAL"},
    {0x00000100, "TEMPORARY"},
    {0x00000200, "SPARSE_FILE"},
    {0x00000400, "REPARSE_POINT"},
    {0x00000800, "COMPRESSED"},
    {0x00001000, "OFFLINE"},
    {0x00002000, "NOT_CONTENT_INDEXED"},
    {0x00004000, "ENCRYPTED"},
    {0x00008000, "INTEGRITY_STREAM"},
    {0x00020000, "NO_SCRUB_DATA"},
};

static void stat_time(const char *label, const struct timespec *ts)
{
	struct tm tm;
	char date[40];
	long off;

	if ((ts->tv_sec == 0 && ts->tv_nsec == 0) || localtime_r(&ts->tv_sec, &tm) == NULL) {
		printf("%-11s -\n", label);
		return;
	}
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	off = tm.tm_gmtoff / 60;
	printf("%-11s %s.%09ld%c%02ld:%02ld\n", label, date, ts->tv_nsec, off < 0 ? '-' : '+',
	       (off < 0 ? -off : off) / 60, (off < 0 ? -off : off) % 60);
}

static void stat_print(const char *path, const struct smb_stat *st)
{
	int any = 0;

	printf("%-11s %s\n", "Path:", cli_disp(path));
	printf("%-11s %s\n", "Type:", st->is_dir ? "directory" : "regular file");
	printf("%-11s %llu\n", "Size:", (unsigned long long)st->size);
	printf("%-11s %llu\n", "Allocated:", (unsigned long long)st->alloc_size);
	printf("%-11s 0x%08x (", "Attributes:", (unsigned)st->attributes);
	for (size_t i = 0; i < sizeof(attr_names) / sizeof(attr_names[0]); i++)
		if (st->attributes & attr_names[i].bit)
			printf("%s%s", any++ ? " " : "", attr_names[i].name);
	printf(")\n");
	stat_time("Birth:", &st->btime);
	stat_time("Access:", &st->atime);
	stat_time("Modify:", &st->mtime);
	stat_time("Change:", &st->ctime);
	if (st->file_id)
		printf("%-11s %llu\n", "File ID:", (unsigned long long)st->file_id);
	if (st->nlink)
		printf("%-11s %u\n", "Links:", (unsigned)st->nlink);
}

int cmd_stat(int argc, char **argv)
{
	struct cli_opts o;
	int rc = cli_opts_parse(&stat_spec, argc, argv, &o);

	if (rc >= 0)
		return rc;
	rc = 0;
	for (int i = 0; i < o.nargs && rc == 0; i++) {
		struct cli_conn cc;
		struct smb_stat st;
		int err;
		rc = cli_connect(&cc, "stat", o.args[i], &o);
		if (rc == 0 && (err = smb_stat(cc.c, cc.url.path, &st)) < 0)
			rc = cli_fail(&cc, err, "stat", cc.url.path);
		else if (rc == 0)
			stat_print(cc.url.path, &st);
		if (rc == 0 && i + 1 < o.nargs)
			printf("\n");
		cli_conn_close(&cc);
	}
	cli_opts_free(&o);
	return rc;
}
