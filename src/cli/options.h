/* Command-line options shared by the subcommands. One table defines every
 * option; each command names the ones it accepts (a bit mask), and its --help
 * lists exactly those. */
#ifndef SMBGATE_CLI_OPTIONS_H
#define SMBGATE_CLI_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

enum cli_opt {
	CLI_OPT_HELP = 0,
	CLI_OPT_VERBOSE,
	CLI_OPT_RECURSIVE,
	CLI_OPT_PASSWORD_FILE,
	CLI_OPT_TIMEOUT,
	CLI_OPT_PROGRESS,
	CLI_OPT_NO_PROGRESS,
	CLI_OPT_LONG,
	CLI_OPT_ONE,
	CLI_OPT_PARENTS,
	CLI_OPT_OFFSET,
	CLI_OPT_COUNT,
	CLI_OPT_RETRIES,
	CLI_OPT_INPLACE,
	CLI_OPT_N
};

#define CLI_F(o) (1u << (o))
/* Every command that talks to a server accepts these. */
#define CLI_F_CONN                                                                                 \
	(CLI_F(CLI_OPT_HELP) | CLI_F(CLI_OPT_VERBOSE) | CLI_F(CLI_OPT_PASSWORD_FILE) |             \
	 CLI_F(CLI_OPT_TIMEOUT))
/* Commands that move file contents. */
#define CLI_F_XFER (CLI_F(CLI_OPT_PROGRESS) | CLI_F(CLI_OPT_NO_PROGRESS) | CLI_F(CLI_OPT_RETRIES))

/* --retries when not given. */
#define CLI_RETRIES_DEFAULT 3

enum cli_progress_mode { CLI_PROGRESS_AUTO = 0, CLI_PROGRESS_NEVER, CLI_PROGRESS_ALWAYS };

struct cli_opts {
	int recursive;		   /* -r */
	const char *password_file; /* --password-file FILE (borrowed from argv) */
	int timeout;		   /* --timeout SECONDS; -1 = the library's default */
	enum cli_progress_mode progress;
	int names_only;	 /* ls -1 */
	int parents;	 /* mkdir -p */
	uint64_t offset; /* cat --offset */
	uint64_t count;	 /* cat --count; UINT64_MAX = to the end */
	int retries;	 /* --retries N: reconnects after a dropped connection (default 3) */
	int inplace;	 /* put --inplace: write to the target directly, no temporary name */
	int nargs;
	char **args; /* positional arguments (borrowed from argv; the array is owned,
			see below) */
};

/* What a subcommand accepts, and the text of its --help. */
struct cli_cmd_spec {
	const char *name;    /* "get" */
	const char *usage;   /* "[options] URL [LOCAL]" */
	const char *about;   /* description, one or more lines ending in '\n' */
	const char *example; /* example lines ending in '\n' */
	unsigned opts;	     /* CLI_F(...) bits accepted */
	int min_args;
	int max_args; /* -1 = no limit */
};

/* Parses argv (argv[0] is the subcommand name) into o. Returns -1 when the
 * command should run, or an exit code to return at once: 0 after --help was
 * printed to stdout, 2 after a usage error was printed to stderr. On -1 the
 * caller frees with cli_opts_free(). */
int cli_opts_parse(const struct cli_cmd_spec *spec, int argc, char **argv, struct cli_opts *o);
void cli_opts_free(struct cli_opts *o);

/* Prints the command's --help text. */
void cli_help_print(const struct cli_cmd_spec *spec, FILE *f);

/* Raises the log level by n steps above the default (warnings): -v info, -vv
 * debug, -vvv trace. Global and per-command -v add up. */
void cli_verbose_add(int n);

/* Parses a byte count or number: decimal digits with an optional K, M, G or T
 * suffix (powers of 1024). Returns 0, or -1 when s is not such a number or
 * overflows. */
int cli_parse_size(const char *s, uint64_t *out);

#endif
