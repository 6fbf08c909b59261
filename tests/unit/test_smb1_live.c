/* The SMB1 operations no CLI command reaches, against a live server: set size, times and
 * delete through a FID (SET_FILE_INFORMATION), the same through a path handle
 * (SET_PATH_INFORMATION), fstat both ways (QUERY_FILE / QUERY_PATH_INFORMATION), an atomic
 * replacing rename through a FID (pass-through FileRenameInformation), flush and echo; and
 * what a look-only path handle may not do.
 *
 * Runs when SMBGATE_SMB1_URL names a writable directory URL (tests/integration/test_smb1.py
 * sets it against Samba); skipped otherwise, so ctest passes without a server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "smb/client.h"
#include "smbgate/smb.h"
#include "util/url.h"

static struct smb_client *c;
static char base[512];

static const char *p(const char *name)
{
	static char buf[4][600];
	static int i;
	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%s%s%s", base, *base ? "/" : "", name);
	return buf[i];
}

static int setup(void **state)
{
	const char *u = getenv("SMBGATE_SMB1_URL");
	if (!u)
		return 0;
	struct smb_url url;
	char err[256];
	if (smb_url_parse(u, &url, err, sizeof(err)) < 0) {
		fprintf(stderr, "bad SMBGATE_SMB1_URL: %s\n", err);
		return -1;
	}
	c = smb_client_new(&url);
	snprintf(base, sizeof(base), "%s", url.path);
	smb_url_free(&url);
	if (!c || smb_client_connect(c) < 0) {
		fprintf(stderr, "connect: %s\n", c ? smb_client_errmsg(c) : "no memory");
		return -1;
	}
	return smb_client_dialect(c) == SMB_DIALECT_NT1 ? 0 : -1;
}

static int teardown(void **state)
{
	smb_client_free(c);
	return 0;
}

static void check(int rc)
{
	if (rc < 0)
		fail_msg("%s", smb_client_errmsg(c));
}

struct done {
	int done, rc;
};

static void done_cb(struct smb_client *cl, int rc, void *priv)
{
	struct done *d = priv;
	d->done = 1;
	d->rc = rc;
}

/* An op on a handle, waited for (the public API has no handle-based rename or delete). */
static int wait_op(int submit_rc, struct done *d)
{
	if (submit_rc < 0)
		return submit_rc;
	int rc = smb_wait(c, &d->done);
	return rc < 0 ? rc : d->rc;
}

static void test_fid_set_info(void **state)
{
	if (!c)
		skip();
	struct smb_file *f;
	struct smb_stat st;
	check(smb_open(c, p("fid.bin"), SMB_O_READ | SMB_O_WRITE | SMB_O_CREATE | SMB_O_TRUNC, &f));
	char data[100];
	memset(data, 'x', sizeof(data));
	assert_int_equal(smb_pwrite(c, f, data, sizeof(data), 0), 100);
	check(smb_flush(c, f));
	check(smb_ftruncate(c, f, 10)); /* SET_FILE_INFORMATION, END_OF_FILE */
	check(smb_fstat(c, f, &st));	/* QUERY_FILE_INFORMATION */
	assert_int_equal(st.size, 10);
	struct timespec mt = {.tv_sec = 1234567890, .tv_nsec = 0};
	check(smb_futimens(c, f, NULL, &mt)); /* SET_FILE_INFORMATION, BASIC */
	check(smb_fstat(c, f, &st));
	assert_int_equal(st.mtime.tv_sec, 1234567890);
	check(smb_close(c, f));
	check(smb_stat(c, p("fid.bin"), &st));
	assert_int_equal(st.size, 10);
}

static void test_path_handle_set_info(void **state)
{
	if (!c)
		skip();
	struct smb_file *f;
	struct smb_stat st;
	/* Opened only to look: no FID, everything by path. */
	check(smb_open(c, p("fid.bin"), 0, &f));
	check(smb_fstat(c, f, &st)); /* QUERY_PATH_INFORMATION */
	assert_int_equal(st.size, 10);
	/* Without write access, as over SMB2. */
	assert_int_equal(smb_ftruncate(c, f, 4), SMBG_EACCES);
	struct timespec mt = {.tv_sec = 1300000000, .tv_nsec = 0};
	check(smb_futimens(c, f, NULL, &mt)); /* SET_PATH_INFORMATION, BASIC */
	char buf[4];
	assert_true(smb_pread(c, f, buf, 4, 0) < 0); /* reading needs a FID */
	check(smb_close(c, f));
	check(smb_stat(c, p("fid.bin"), &st));
	assert_int_equal(st.size, 10);
	assert_int_equal(st.mtime.tv_sec, 1300000000);
}

static void test_fid_rename_replace_and_delete(void **state)
{
	if (!c)
		skip();
	struct smb_file *f;
	struct smb_stat st;
	check(smb_open(c, p("target.bin"), SMB_O_WRITE | SMB_O_CREATE | SMB_O_TRUNC, &f));
	assert_int_equal(smb_pwrite(c, f, "target", 6, 0), 6);
	check(smb_close(c, f));
	/* Through a FID with DELETE access, in the same directory: an atomic replace. */
	struct done d = {0};
	check(smb_open(c, p("fid.bin"), SMB_O_READ | SMB_O_DELETE | SMB_O_FILE, &f));
	check(wait_op(c->ops->rename(c, f, p("target.bin"), 1, done_cb, &d), &d));
	check(smb_close(c, f));
	check(smb_stat(c, p("target.bin"), &st));
	assert_int_equal(st.size, 10);
	assert_int_equal(smb_stat(c, p("fid.bin"), &st), SMBG_ENOENT);
	/* Without replace, onto an existing name: refused. */
	check(smb_open(c, p("other.bin"), SMB_O_WRITE | SMB_O_CREATE, &f));
	check(smb_close(c, f));
	check(smb_open(c, p("other.bin"), SMB_O_READ | SMB_O_DELETE | SMB_O_FILE, &f));
	memset(&d, 0, sizeof(d));
	assert_int_equal(wait_op(c->ops->rename(c, f, p("target.bin"), 0, done_cb, &d), &d),
			 SMBG_EEXIST);
	/* Delete through the FID: SET_FILE_INFORMATION, DISPOSITION, done at close. */
	memset(&d, 0, sizeof(d));
	check(wait_op(c->ops->set_delete(c, f, 1, done_cb, &d), &d));
	check(smb_close(c, f));
	assert_int_equal(smb_stat(c, p("other.bin"), &st), SMBG_ENOENT);
	check(smb_unlink(c, p("target.bin")));
	assert_int_equal(smb_stat(c, p("target.bin"), &st), SMBG_ENOENT);
	check(smb_echo(c));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fid_set_info),
	    cmocka_unit_test(test_path_handle_set_info),
	    cmocka_unit_test(test_fid_rename_replace_and_delete),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
