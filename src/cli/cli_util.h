/* What the subcommands share: connecting from a URL argument, turning errors
 * into one-line messages and exit codes, and small path helpers.
 *
 * Exit codes (README "Exit codes"): */
#ifndef SMBGATE_CLI_UTIL_H
#define SMBGATE_CLI_UTIL_H

#include <stdint.h>

#include "cli/options.h"
#include "smbgate/smb.h"
#include "util/url.h"

enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_ERROR = 1,    /* any other runtime error (local I/O...) */
	CLI_EXIT_USAGE = 2,    /* bad arguments, malformed URL, invalid name */
	CLI_EXIT_CONNECT = 3,  /* refused, unreachable, timeout, resolve, server dropped us */
	CLI_EXIT_AUTH = 4,     /* authentication failed */
	CLI_EXIT_NOTFOUND = 5, /* no such file, directory or share */
	CLI_EXIT_DENIED = 6,   /* access denied, read-only */
	CLI_EXIT_PROTO = 7     /* protocol error */
};

/* One connection for one command. */
struct cli_conn {
	const char *cmd;      /* subcommand name, for messages (borrowed) */
	struct smb_url url;   /* parsed URL (owned; password wiped on close) */
	struct smb_client *c; /* NULL until connected */
	char *where;	      /* "smb://host:port/share" for messages (owned) */
};

/* Parses url_str, applies the password sources (URL, then --password-file, then
 * SMBGATE_PASSWORD), creates the client and connects. Returns 0, or an exit
 * code after printing the message; cc must be closed with cli_conn_close()
 * either way. */
int cli_connect(struct cli_conn *cc, const char *cmd, const char *url_str,
		const struct cli_opts *o);
/* Parses only (no connection): for checks before connecting. Same return
 * convention. */
int cli_url_parse(struct cli_conn *cc, const char *cmd, const char *url_str);
/* Drops cc's client (a dead connection is not waited for) and connects a new one with the same
 * URL, password and options. Same return convention as cli_connect. */
int cli_reconnect(struct cli_conn *cc, const struct cli_opts *o);
/* Disconnects and frees everything in cc. Safe on a zeroed or failed cc. */
void cli_conn_close(struct cli_conn *cc);

/* The exit code for an SMBG_E* error (stage: where the client was,
 * SMB_STAGE_READY after connecting). */
int cli_exit_code(int err, enum smb_stage stage);

/* Prints "smbgate CMD: OP PATH on smb://host:port/share: STATUS (description)"
 * and returns the exit code for err. path is share-relative ("" is shown as
 * "/"); NULL leaves it out. */
int cli_fail(struct cli_conn *cc, int err, const char *op, const char *path);
/* Prints "smbgate CMD: OP PATH: strerror(errnum)" for a local error and
 * returns 1. */
int cli_fail_local(const char *cmd, const char *op, const char *path, int errnum);
/* Prints "smbgate CMD: " + the formatted text and returns code. */
int cli_errorf(const char *cmd, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* s made safe to print: control characters and bytes that are not UTF-8 become
 * \xNN. Returns one of a few static buffers (valid until four more calls). */
const char *cli_safe(const char *s);
/* Share-relative path for display: "" becomes "/". */
const char *cli_disp(const char *path);

/* Last component of a '/'-separated path ("" for ""); borrowed from path. */
const char *cli_basename(const char *path);
/* a + "/" + b (just b when a is empty); caller frees. NULL on allocation
 * failure. */
char *cli_path_cat(const char *a, const char *b);
/* 1 when name is usable as one path component from a server: not "", ".", "..",
 * and no '/'. */
int cli_name_ok(const char *name);

/* A directory listing, sorted by name (byte order). */
struct cli_dirent {
	char *name;
	struct smb_stat st;
};
struct cli_dirlist {
	struct cli_dirent *v;
	size_t n, cap;
};
/* Lists path into l (zeroed by the caller or by a previous cli_dirlist_free).
 * Returns 0 or an SMBG_E* error; free l either way. */
int cli_dirlist_read(struct cli_conn *cc, const char *path, struct cli_dirlist *l);
void cli_dirlist_free(struct cli_dirlist *l);

/* Writes all of buf to fd (retrying on EINTR and short writes). 0 or -1 with
 * errno. */
int cli_write_all(int fd, const void *buf, size_t len);

#endif
