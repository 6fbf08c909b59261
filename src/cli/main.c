/* smbgate: one binary, subcommands. main() handles the global options and
 * dispatches through one table; each subcommand parses its own options
 * (cli/options.h). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "util/log.h"

#ifndef SMBGATE_VERSION
#define SMBGATE_VERSION "0.1.0"
#endif

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
    {"ls", cmd_ls, "list a directory (or show one file)"},
    {"get", cmd_get, "copy a remote file or tree (-r) to a local path or stdout"},
    {"put", cmd_put, "copy a local file, stdin or tree (-r) to the share"},
    {"cat", cmd_cat, "write a remote file (or a byte range of it) to stdout"},
    {"rm", cmd_rm, "remove files, or trees with -r"},
    {"mkdir", cmd_mkdir, "make directories (-p: with parents)"},
    {"rmdir", cmd_rmdir, "remove empty directories"},
    {"mv", cmd_mv, "rename or move within a share"},
    {"stat", cmd_stat, "show size, type, times and attributes"},
    {"df", cmd_df, "show the share's size and free space"},
    {"test", cmd_test, "check connect, login, share and a write/read/delete round trip"},
    {"lookup", cmd_lookup, "find a NetBIOS name's addresses (UDP 137), with -S its node status"},
    {"serve", cmd_serve, "serve a share over SFTP (`smbgate serve sftp --help`)"},
};

#define N_SUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static void usage_print(FILE *f)
{
	fprintf(f, "Usage: smbgate [-v|-vv] COMMAND [options] ARGS...\n"
		   "       smbgate COMMAND --help\n\n"
		   "smbgate is an SMB 2/3 client and an SFTP gateway to SMB shares.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < N_SUBCOMMANDS; i++)
		fprintf(f, "  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(f, "\nGlobal options:\n"
		   "  -v, --verbose   more messages on stderr (-vv: debug, -vvv: trace)\n"
		   "  -h, --help      show this help\n"
		   "  --version       show the version\n"
		   "\nURL: "
		   "smb://[[domain;]user[:password]@]host[:port]/share[/"
		   "path][?option=value&...]\n"
		   "  auth-username, auth-password, auth-domain   credentials "
		   "(percent-encoded)\n"
		   "  transport=directtcp|netbios   TCP 445 (default) or NetBIOS session on "
		   "139\n"
		   "  read-buffer-size=N, write-buffer-size=N   bytes per request (>= "
		   "10000)\n"
		   "  min-protocol=V, max-protocol=V   NT1 2.0.2 2.1 3.0 3.0.2 3.1.1 (or "
		   "SMB2_02..SMB3_11)\n"
		   "  signing=auto|required, encrypt=auto|required\n"
		   "The password can also come from --password-file FILE or "
		   "$SMBGATE_PASSWORD.\n"
		   "\nExit codes:\n"
		   "  0 ok                1 other error (local I/O...)   2 usage or "
		   "malformed URL/name\n"
		   "  3 connection error  4 authentication failed         5 file, directory "
		   "or share not found\n"
		   "  6 access denied or read-only share                  7 protocol error\n"
		   "\nExample:\n"
		   "  smbgate ls smb://alice@fileserver/docs/reports\n"
		   "  SMBGATE_PASSWORD=secret smbgate get smb://alice@fileserver/docs/a.pdf "
		   ".\n");
}

int main(int argc, char **argv)
{
	int i = 1;

	/* A dead socket or a closed stdout is an error we report, not a reason to
	 * die. */
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_WARN);

	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage_print(stdout);
			return 0;
		} else if (strcmp(a, "--version") == 0) {
			printf("smbgate %s\n", SMBGATE_VERSION);
			return 0;
		} else if (strcmp(a, "--verbose") == 0) {
			cli_verbose_add(1);
		} else if (a[1] == 'v' && strspn(a + 1, "v") == strlen(a + 1)) {
			cli_verbose_add((int)strlen(a + 1));
		} else {
			fprintf(stderr, "smbgate: unknown option '%s' (see `smbgate --help`)\n", a);
			return 2;
		}
	}
	if (i >= argc) {
		usage_print(stderr);
		return 2;
	}
	for (size_t k = 0; k < N_SUBCOMMANDS; k++)
		if (strcmp(argv[i], subcommands[k].name) == 0)
			return subcommands[k].run(argc - i, argv + i);
	if (strcmp(argv[i], "help") == 0 && i + 1 < argc) { /* `smbgate help get` */
		char *args[] = {argv[i + 1], "--help", NULL};
		for (size_t k = 0; k < N_SUBCOMMANDS; k++)
			if (strcmp(argv[i + 1], subcommands[k].name) == 0)
				return subcommands[k].run(2, args);
	} else if (strcmp(argv[i], "help") == 0) {
		usage_print(stdout);
		return 0;
	}
	fprintf(stderr, "smbgate: unknown command '%s' (see `smbgate --help`)\n", argv[i]);
	return 2;
}
