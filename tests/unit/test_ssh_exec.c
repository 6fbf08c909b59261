/* Exec requests: word splitting as rclone's sftp backend escapes paths, and each command's
 * output shape, over a local folder. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ssh/exec.h"
#include "vfs/vfs.h"

static void split_is(const char *cmd, int n, const char *const *want)
{
	char **v = NULL;
	int got = ssh_exec_split(cmd, &v);
	assert_int_equal(got, n);
	for (int i = 0; i < n; i++)
		assert_string_equal(v[i], want[i]);
	assert_null(v[n]);
	ssh_exec_free_words(v);
}

static void test_split(void **state)
{
	(void)state;
	split_is("md5sum", 1, (const char *[]){"md5sum"});
	split_is("  md5sum   /a/b  ", 2, (const char *[]){"md5sum", "/a/b"});
	/* rclone escapes with backslashes, and newlines as '\n' in single quotes */
	split_is("md5sum /dir/with\\ space/\\'q\\'", 2,
		 (const char *[]){"md5sum", "/dir/with space/'q'"});
	split_is("md5sum /a'\n'b", 2, (const char *[]){"md5sum", "/a\nb"});
	split_is("echo \"x y\" 'z  w'", 3, (const char *[]){"echo", "x y", "z  w"});
	/* the shell-type probe: an unset variable expands to nothing */
	split_is("echo ${ShellId}%ComSpec%", 2, (const char *[]){"echo", "%ComSpec%"});
	split_is("echo \"$HOME\"x", 2, (const char *[]){"echo", "x"});
	split_is("", 0, (const char *[]){NULL});
	char **v = NULL;
	assert_int_equal(ssh_exec_split("echo 'abc' | md5sum", &v), SMBG_ENOTSUP);
	assert_int_equal(ssh_exec_split("cat a > b", &v), SMBG_ENOTSUP);
	assert_int_equal(ssh_exec_split("echo 'open", &v), SMBG_EINVAL);
	assert_int_equal(ssh_exec_split("echo \"open", &v), SMBG_EINVAL);
}

struct rig {
	char dir[64];
	struct vfs *v;
	struct vfs_conn *c;
};

static void rig_start(struct rig *r, int no_checksum)
{
	strcpy(r->dir, "/tmp/exec-test-XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	struct vfs_opts o;
	vfs_opts_default(&o);
	o.no_checksum = no_checksum;
	char err[256];
	r->v = vfs_new(r->dir, &o, err, sizeof(err));
	assert_non_null(r->v);
	r->c = vfs_conn_new(r->v, err, sizeof(err));
	assert_non_null(r->c);
	char p[256];
	snprintf(p, sizeof(p), "%s/with space", r->dir);
	FILE *f = fopen(p, "w");
	fputs("abc", f);
	fclose(f);
}

static void rig_stop(struct rig *r)
{
	vfs_conn_free(r->c);
	vfs_free(r->v);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", r->dir);
	assert_int_equal(system(cmd), 0);
}

/* Runs cmd to the end; returns stdout (static), the status and stderr through pointers. */
static const char *run(struct rig *r, const char *cmd, int *status, char *err, size_t errlen)
{
	static char out[4096];
	struct ssh_exec *x = ssh_exec_new(r->c, cmd);
	assert_non_null(x);
	int guard = 0;
	while (!ssh_exec_step(x)) {
		int done = 0;
		(void)vfs_wait(r->c, &done); /* returns once nothing is left to complete */
		assert_true(++guard < 1000);
	}
	struct wbuf *o = ssh_exec_stdout(x), *e = ssh_exec_stderr(x);
	snprintf(out, sizeof(out), "%.*s", (int)o->len, o->p ? (char *)o->p : "");
	snprintf(err, errlen, "%.*s", (int)e->len, e->p ? (char *)e->p : "");
	*status = ssh_exec_status(x);
	ssh_exec_free(x);
	return out;
}

static void test_commands(void **state)
{
	(void)state;
	struct rig r;
	int st;
	char err[512];
	rig_start(&r, 0);
	assert_string_equal(run(&r, "md5sum", &st, err, sizeof(err)),
			    "d41d8cd98f00b204e9800998ecf8427e  -\n");
	assert_int_equal(st, 0);
	assert_string_equal(run(&r, "md5sum /with\\ space", &st, err, sizeof(err)),
			    "900150983cd24fb0d6963f7d28e17f72  /with space\n");
	assert_int_equal(st, 0);
	assert_string_equal(run(&r, "sha1sum 'with space'", &st, err, sizeof(err)),
			    "a9993e364706816aba3e25717850c26c9cd0d89d  with space\n");
	assert_string_equal(
	    run(&r, "sha256sum \"/with space\"", &st, err, sizeof(err)),
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  /with space\n");
	/* a missing file: message on stderr, status 1 */
	assert_string_equal(run(&r, "md5sum /nope", &st, err, sizeof(err)), "");
	assert_int_equal(st, 1);
	assert_non_null(strstr(err, "/nope"));
	/* df: a header and one line, numbers in KiB */
	const char *df = run(&r, "df -k /", &st, err, sizeof(err));
	assert_int_equal(st, 0);
	assert_non_null(strstr(df, "1K-blocks"));
	assert_non_null(strchr(strchr(df, '\n') + 1, '%'));
	assert_string_equal(run(&r, "echo hello  world", &st, err, sizeof(err)), "hello world\n");
	assert_string_equal(run(&r, "echo ${ShellId}%ComSpec%", &st, err, sizeof(err)),
			    "%ComSpec%\n");
	run(&r, "rm -rf /", &st, err, sizeof(err));
	assert_int_equal(st, 127);
	assert_non_null(strstr(err, "command not found"));
	run(&r, "echo a | md5sum", &st, err, sizeof(err));
	assert_int_equal(st, 127);
	rig_stop(&r);

	rig_start(&r, 1); /* --no-checksum: even the probe fails */
	run(&r, "md5sum", &st, err, sizeof(err));
	assert_int_equal(st, 1);
	assert_non_null(strstr(err, "--no-checksum"));
	rig_stop(&r);
}

/* An exec freed while its hash is in flight (its channel closed mid-md5sum): the VFS still
 * borrows it until its callback runs, which vfs_conn_free makes happen; under ASan a free
 * that came first is a use after free. */
static void test_free_while_busy(void **state)
{
	(void)state;
	struct rig r;
	rig_start(&r, 0);
	struct ssh_exec *x = ssh_exec_new(r.c, "md5sum '/with space'");
	assert_non_null(x);
	assert_int_equal(ssh_exec_step(x), 0);
	assert_true(ssh_exec_busy(x));
	ssh_exec_free(x);
	rig_stop(&r); /* runs the hash's callback: it frees the exec */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split),
	    cmocka_unit_test(test_commands),
	    cmocka_unit_test(test_free_while_busy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
