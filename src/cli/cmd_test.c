/* smbgate test URL: check each step from name resolution to a write/read/delete
 * round trip, print ok or FAILED per step, and exit with the code of the step
 * that failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_util.h"
#include "cli/commands.h"

static const struct cli_cmd_spec test_spec = {
    .name = "test",
    .usage = "[options] URL",
    .about = "Checks, step by step: resolving the host, the TCP connection, "
	     "dialect\n"
	     "negotiation, login, the share, and a round trip in the URL's "
	     "directory (write a\n"
	     "small temporary file, read it back, delete it). Prints each step "
	     "with ok or\n"
	     "FAILED; the exit code is that of the first failure.\n",
    .example = "  smbgate test smb://alice@fileserver/docs\n",
    .opts = CLI_F_CONN,
    .min_args = 1,
    .max_args = 1,
};

#define TEST_SIZE 65536

static void step(const char *what, const char *result)
{
	printf("%-46s  %s\n", what, result);
	fflush(stdout);
}

/* Prints the FAILED line and the one-line message; returns the exit code. */
static int step_failed(struct cli_conn *cc, const char *what, int err, const char *op,
		       const char *path)
{
	step(what, "FAILED");
	return cli_fail(cc, err, op, path);
}

/* The round trip in dir; returns 0 or an exit code. */
static int test_roundtrip(struct cli_conn *cc, const char *dir)
{
	unsigned char *out = malloc(TEST_SIZE), *in = malloc(TEST_SIZE);
	char name[64], what[1200], *path = NULL;
	struct smb_file *f = NULL;
	struct smb_stat st;
	uint64_t x = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ULL ^ (uint64_t)getpid();
	int rc = 0, err, created = 0;
	ssize_t n;

	if (out == NULL || in == NULL) {
		free(out);
		free(in);
		return cli_errorf(cc->cmd, CLI_EXIT_ERROR, "out of memory");
	}
	for (size_t i = 0; i < TEST_SIZE; i++) { /* xorshift: no two runs write the same bytes */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		out[i] = (unsigned char)x;
	}
	snprintf(name, sizeof(name), ".smbgate-test-%ld-%04x", (long)getpid(),
		 (unsigned)(x & 0xffff));
	path = cli_path_cat(dir, name);
	if (path == NULL) {
		rc = cli_errorf(cc->cmd, CLI_EXIT_ERROR, "out of memory");
		goto out;
	}

	snprintf(what, sizeof(what), "write %s (%d bytes)", cli_safe(path), TEST_SIZE);
	err = smb_open(cc->c, path, SMB_O_WRITE | SMB_O_CREATE | SMB_O_EXCL | SMB_O_FILE, &f);
	if (err < 0) {
		rc = step_failed(cc, what, err, "create", path);
		goto out;
	}
	created = 1;
	n = smb_pwrite(cc->c, f, out, TEST_SIZE, 0);
	err = smb_close(cc->c, f);
	if (n < 0 || err < 0) {
		rc = step_failed(cc, what, n < 0 ? (int)n : err, n < 0 ? "write" : "close", path);
		goto out;
	}
	if (n != TEST_SIZE) {
		step(what, "FAILED");
		rc = cli_errorf(cc->cmd, CLI_EXIT_PROTO, "write %s on %s: short write (%zd of %d)",
				cli_safe(path), cc->where, n, TEST_SIZE);
		goto out;
	}
	step(what, "ok");

	snprintf(what, sizeof(what), "read it back");
	err = smb_open(cc->c, path, SMB_O_READ | SMB_O_FILE, &f);
	if (err < 0) {
		rc = step_failed(cc, what, err, "open", path);
		goto out;
	}
	n = smb_pread(cc->c, f, in, TEST_SIZE, 0);
	err = smb_close(cc->c, f);
	if (n < 0 || err < 0) {
		rc = step_failed(cc, what, n < 0 ? (int)n : err, n < 0 ? "read" : "close", path);
		goto out;
	}
	if (n != TEST_SIZE || memcmp(in, out, TEST_SIZE) != 0) {
		step(what, "FAILED");
		rc = cli_errorf(cc->cmd, CLI_EXIT_PROTO,
				"read %s on %s: got %zd bytes that differ from those written",
				cli_safe(path), cc->where, n);
		goto out;
	}
	step(what, "ok (content matches)");

	snprintf(what, sizeof(what), "delete it");
	err = smb_unlink(cc->c, path);
	created = 0;
	if (err < 0) {
		rc = step_failed(cc, what, err, "remove", path);
		goto out;
	}
	err = smb_stat(cc->c, path, &st);
	if (err != SMBG_ENOENT) {
		step(what, "FAILED");
		rc = cli_errorf(cc->cmd, CLI_EXIT_PROTO, "remove %s on %s: the file is still there",
				cli_safe(path), cc->where);
		goto out;
	}
	step(what, "ok");
out:
	if (created) /* best effort: do not leave the test file behind */
		smb_unlink(cc->c, path);
	free(path);
	free(out);
	free(in);
	return rc;
}

int cmd_test(int argc, char **argv)
{
	struct cli_opts o;
	struct cli_conn cc;
	struct smb_stat st;
	char what[1200];
	int rc = cli_opts_parse(&test_spec, argc, argv, &o), err;

	if (rc >= 0)
		return rc;
	rc = cli_connect(&cc, "test", o.args[0], &o);
	{
		/* smb_client_connect runs every step; the stage it stopped at tells which
		 * failed. */
		enum smb_stage failed = cc.c ? smb_client_stage(cc.c) : SMB_STAGE_NONE;
		const struct smb_url *u = &cc.url;
		unsigned port = u->port					? u->port
				: u->transport == SMB_TRANSPORT_NETBIOS ? 139
									: 445;
		if (rc == 0)
			failed = SMB_STAGE_READY;
		else if (cc.c == NULL) /* the URL or the password source failed */
			goto out;
		if (failed == SMB_STAGE_NONE) /* refused before any I/O: the URL's options */
			step("check the URL's options", "FAILED");
		for (enum smb_stage s = SMB_STAGE_RESOLVE; s < SMB_STAGE_READY && cc.c; s++) {
			if (s == SMB_STAGE_RESOLVE)
				snprintf(what, sizeof(what), "resolve %s", cli_safe(u->host));
			else if (s == SMB_STAGE_CONNECT)
				snprintf(what, sizeof(what), "connect to %s port %u%s",
					 cli_safe(u->host), port,
					 u->transport == SMB_TRANSPORT_NETBIOS ? " (NetBIOS)" : "");
			else if (s == SMB_STAGE_NEGOTIATE)
				snprintf(what, sizeof(what), "negotiate");
			else if (s == SMB_STAGE_LOGIN)
				snprintf(what, sizeof(what), "log in as %s",
					 u->user ? cli_safe(u->user) : "guest");
			else
				snprintf(what, sizeof(what), "connect to share %s",
					 cli_safe(u->share));
			if (s < failed && s == SMB_STAGE_NEGOTIATE) {
				char res[128];
				snprintf(res, sizeof(res), "ok (SMB %s, signing %s, encryption %s)",
					 smb_dialect_name(smb_client_dialect(cc.c)),
					 smb_client_signing(cc.c) ? "on" : "off",
					 smb_client_encryption(cc.c) ? "on" : "off");
				step(what, res);
			} else if (s < failed) {
				step(what, "ok");
			} else if (s == failed) {
				step(what, "FAILED");
				break;
			}
		}
	}
	if (rc != 0)
		goto out;
	if (cc.url.path[0] != '\0') {
		snprintf(what, sizeof(what), "find directory %s", cli_safe(cc.url.path));
		err = smb_stat(cc.c, cc.url.path, &st);
		if (err < 0) {
			rc = step_failed(&cc, what, err, "stat", cc.url.path);
			goto out;
		}
		if (!st.is_dir) {
			step(what, "FAILED");
			rc = cli_fail(&cc, SMBG_ENOTDIR, "test in", cc.url.path);
			goto out;
		}
		step(what, "ok");
	}
	rc = test_roundtrip(&cc, cc.url.path);
	if (rc == 0)
		printf("all checks passed\n");
out:
	cli_conn_close(&cc);
	cli_opts_free(&o);
	return rc;
}
