/* The shared option table and the parser behind every subcommand. */
#include "cli/options.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

struct opt_def {
	enum cli_opt id;
	char short_name;       /* 0 = none */
	const char *long_name; /* NULL = none */
	const char *arg;       /* name of the value, NULL = a flag */
	const char *help;
};

/* In the order --help lists them. */
static const struct opt_def opt_defs[] = {
    {CLI_OPT_RECURSIVE, 'r', "recursive", NULL, "recurse into directories"},
    {CLI_OPT_LONG, 'l', "long", NULL, "long listing: size, modification time, name (default)"},
    {CLI_OPT_ONE, '1', NULL, NULL, "names only, one per line"},
    {CLI_OPT_PARENTS, 'p', "parents", NULL,
     "make parent directories as needed; no error if it exists"},
    {CLI_OPT_OFFSET, 0, "offset", "N", "start at byte N (suffixes K, M, G, T: powers of 1024)"},
    {CLI_OPT_COUNT, 0, "count", "N", "copy at most N bytes"},
    {CLI_OPT_INPLACE, 0, "inplace", NULL,
     "write to the target directly, not to a temporary name renamed when complete"},
    {CLI_OPT_RETRIES, 0, "retries", "N",
     "after a dropped connection, reconnect and resume up to N times in a row (default 3)"},
    {CLI_OPT_PASSWORD_FILE, 0, "password-file", "FILE",
     "read the password from the first line of FILE"},
    {CLI_OPT_TIMEOUT, 0, "timeout", "SECONDS",
     "give up on connect or on any request after SECONDS (default 30, 0 = "
     "never)"},
    {CLI_OPT_PROGRESS, 0, "progress", NULL,
     "show a progress bar even when stderr is not a terminal"},
    {CLI_OPT_NO_PROGRESS, 0, "no-progress", NULL, "never show a progress bar"},
    {CLI_OPT_VERBOSE, 'v', "verbose", NULL, "more messages on stderr (-vv: debug, -vvv: trace)"},
    {CLI_OPT_HELP, 'h', "help", NULL, "show this help and exit"},
};

#define N_OPT_DEFS (sizeof(opt_defs) / sizeof(opt_defs[0]))

static int verbose_count;

void cli_verbose_add(int n)
{
	verbose_count += n;
	log_set_level(LOG_WARN + verbose_count > LOG_TRACE ? LOG_TRACE : LOG_WARN + verbose_count);
}

int cli_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (*p != '\0') {
		static const char units[] = "KMGT";
		const char *u = strchr(units, *p >= 'a' ? *p - 'a' + 'A' : *p);
		if (u == NULL || *p == '\0' || p[1] != '\0')
			return -1;
		for (const char *q = units; q <= u; q++) {
			if (v > UINT64_MAX / 1024)
				return -1;
			v *= 1024;
		}
	}
	*out = v;
	return 0;
}

static void opt_name(const struct opt_def *d, char *buf, size_t n)
{
	if (d->short_name && d->long_name)
		snprintf(buf, n, "-%c, --%s%s%s", d->short_name, d->long_name, d->arg ? " " : "",
			 d->arg ? d->arg : "");
	else if (d->short_name)
		snprintf(buf, n, "-%c", d->short_name);
	else
		snprintf(buf, n, "    --%s%s%s", d->long_name, d->arg ? " " : "",
			 d->arg ? d->arg : "");
}

void cli_help_print(const struct cli_cmd_spec *spec, FILE *f)
{
	fprintf(f, "Usage: smbgate %s %s\n\n%s\nOptions:\n", spec->name, spec->usage, spec->about);
	for (size_t i = 0; i < N_OPT_DEFS; i++) {
		char name[64];
		if (!(spec->opts & CLI_F(opt_defs[i].id)))
			continue;
		opt_name(&opt_defs[i], name, sizeof(name));
		fprintf(f, "  %-28s %s\n", name, opt_defs[i].help);
	}
	if (spec->opts & CLI_F(CLI_OPT_PASSWORD_FILE))
		fprintf(f, "\nURL: "
			   "smb://[user[:password]@]host[:port]/share[/path][?option=value&...]\n"
			   "The password comes from the URL, else --password-file, else the\n"
			   "SMBGATE_PASSWORD environment variable. `smbgate --help` lists the "
			   "URL\n"
			   "options and the exit codes.\n");
	fprintf(f, "\nExample:\n%s", spec->example);
}

static const struct opt_def *opt_find_long(const char *name, size_t len)
{
	for (size_t i = 0; i < N_OPT_DEFS; i++)
		if (opt_defs[i].long_name && strlen(opt_defs[i].long_name) == len &&
		    memcmp(opt_defs[i].long_name, name, len) == 0)
			return &opt_defs[i];
	return NULL;
}

static const struct opt_def *opt_find_short(char c)
{
	for (size_t i = 0; i < N_OPT_DEFS; i++)
		if (opt_defs[i].short_name == c)
			return &opt_defs[i];
	return NULL;
}

static int usage_error(const struct cli_cmd_spec *spec, const char *what, const char *arg)
{
	fprintf(stderr, "smbgate %s: %s%s%s (see `smbgate %s --help`)\n", spec->name, what,
		arg ? " " : "", arg ? arg : "", spec->name);
	return 2;
}

/* Applies one option; val is its value (NULL for flags). Returns -1 to go on,
 * else exit code. */
static int opt_apply(const struct cli_cmd_spec *spec, const struct opt_def *d, const char *val,
		     struct cli_opts *o)
{
	switch (d->id) {
	case CLI_OPT_HELP:
		cli_help_print(spec, stdout);
		return 0;
	case CLI_OPT_VERBOSE:
		cli_verbose_add(1);
		break;
	case CLI_OPT_RECURSIVE:
		o->recursive = 1;
		break;
	case CLI_OPT_PASSWORD_FILE:
		o->password_file = val;
		break;
	case CLI_OPT_TIMEOUT: {
		uint64_t v;
		if (cli_parse_size(val, &v) != 0 || strpbrk(val, "KMGTkmgt") || v > 86400 * 365)
			return usage_error(spec, "--timeout wants a number of seconds, not", val);
		o->timeout = (int)v;
		break;
	}
	case CLI_OPT_PROGRESS:
		o->progress = CLI_PROGRESS_ALWAYS;
		break;
	case CLI_OPT_NO_PROGRESS:
		o->progress = CLI_PROGRESS_NEVER;
		break;
	case CLI_OPT_LONG:
		o->names_only = 0;
		break;
	case CLI_OPT_ONE:
		o->names_only = 1;
		break;
	case CLI_OPT_PARENTS:
		o->parents = 1;
		break;
	case CLI_OPT_OFFSET:
		if (cli_parse_size(val, &o->offset) != 0)
			return usage_error(spec, "--offset wants a byte count, not", val);
		break;
	case CLI_OPT_COUNT:
		if (cli_parse_size(val, &o->count) != 0)
			return usage_error(spec, "--count wants a byte count, not", val);
		break;
	case CLI_OPT_RETRIES: {
		uint64_t v;
		if (cli_parse_size(val, &v) != 0 || strpbrk(val, "KMGTkmgt") || v > 1000)
			return usage_error(spec, "--retries wants a number from 0 to 1000, not",
					   val);
		o->retries = (int)v;
		break;
	}
	case CLI_OPT_INPLACE:
		o->inplace = 1;
		break;
	case CLI_OPT_N:
		break;
	}
	return -1;
}

int cli_opts_parse(const struct cli_cmd_spec *spec, int argc, char **argv, struct cli_opts *o)
{
	int rc = -1, only_args = 0;

	memset(o, 0, sizeof(*o));
	o->timeout = -1;
	o->count = UINT64_MAX;
	o->retries = CLI_RETRIES_DEFAULT;
	o->args = calloc((size_t)argc + 1, sizeof(char *));
	if (o->args == NULL) {
		fprintf(stderr, "smbgate %s: out of memory\n", spec->name);
		return 1;
	}
	for (int i = 1; i < argc && rc < 0; i++) {
		char *a = argv[i];
		if (only_args || a[0] != '-' || a[1] == '\0') { /* "-" is stdin/stdout */
			o->args[o->nargs++] = a;
		} else if (strcmp(a, "--") == 0) {
			only_args = 1;
		} else if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
			const struct opt_def *d = opt_find_long(a + 2, len);
			const char *val = NULL;
			if (d == NULL || !(spec->opts & CLI_F(d->id))) {
				rc = usage_error(spec, "unknown option", a);
				break;
			}
			if (d->arg == NULL && eq) {
				rc = usage_error(spec, "option takes no value:", a);
				break;
			}
			if (d->arg) {
				if (eq)
					val = eq + 1;
				else if (i + 1 < argc)
					val = argv[++i];
				else {
					rc = usage_error(spec, "option needs a value:", a);
					break;
				}
			}
			rc = opt_apply(spec, d, val, o);
		} else {
			for (const char *p = a + 1; *p && rc < 0; p++) {
				const struct opt_def *d = opt_find_short(*p);
				const char *val = NULL;
				char opt[3] = {'-', *p, '\0'};
				if (d == NULL || !(spec->opts & CLI_F(d->id))) {
					rc = usage_error(spec, "unknown option", opt);
					break;
				}
				if (d->arg) { /* -xVALUE or -x VALUE; ends the bundle */
					if (p[1])
						val = p + 1;
					else if (i + 1 < argc)
						val = argv[++i];
					else {
						rc =
						    usage_error(spec, "option needs a value:", opt);
						break;
					}
					rc = opt_apply(spec, d, val, o);
					break;
				}
				rc = opt_apply(spec, d, val, o);
			}
		}
	}
	if (rc < 0 && o->nargs < spec->min_args) {
		fprintf(stderr, "smbgate %s: missing argument (usage: smbgate %s %s)\n", spec->name,
			spec->name, spec->usage);
		rc = 2;
	}
	if (rc < 0 && spec->max_args >= 0 && o->nargs > spec->max_args)
		rc = usage_error(spec, "too many arguments:", o->args[spec->max_args]);
	if (rc >= 0)
		cli_opts_free(o);
	return rc;
}

void cli_opts_free(struct cli_opts *o)
{
	free(o->args);
	o->args = NULL;
	o->nargs = 0;
}
