/* Allocation-failure injection on the parsers' paths (issue 8, "Tests that keep it so").
 *
 * Every seed input of every fuzz target (tests/fuzz/corpus/<target>/) is fed through the entry
 * points that target uses, once to count the allocations the input causes, then again with
 * allocation number N failing, for N = 1, 2, ... until a run completes without reaching N.
 * Each run must end without a crash and with every block it allocated freed. malloc, calloc,
 * realloc, strdup and strndup are wrapped at link time (alloc_fail.c): the wrappers count, fail
 * on demand and remember the blocks handed out, so a leak is named by input, N and the code
 * that allocated it (under ASan, LeakSanitizer checks again at exit). A crash prints the case
 * being run before the process dies.
 *
 * Usage: test_alloc_fail CORPUS_DIR [TARGET]   (exit 0: all clean; 1: a leak or a gap)
 * Every directory of CORPUS_DIR is run through its driver (alloc_fail_drivers.c), or else
 * through the fuzz target's own entry point, compiled in; a corpus with neither fails.
 * Under UBSan a null dereference is reported by UBSan (file and line, with a stack) before
 * the case can be named: run the release build for the input and N. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc_fail.h"
#include "alloc_fail_drivers.h"
#include "util/log.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif
#ifdef HAVE_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

#define MAX_N	 20000	   /* allocations failed one by one per input, at most */
#define MAX_SEED (1 << 20) /* seed files are small; a bigger one is a mistake */

/* ---- what is running, for a crash report ----------------------------------------------- */

static char current[1200];

/* Names the case about to run (cut short if the path is absurdly long). */
static void set_current(const char *target, const char *path, unsigned long n)
{
	int r =
	    n ? snprintf(current, sizeof(current), "%s %s, allocation %lu failing", target, path, n)
	      : snprintf(current, sizeof(current), "%s %s (no failure)", target, path);
	(void)r;
}

static void say_current(void)
{
	static const char pre[] = "test_alloc_fail: died while running ";
	ssize_t r = write(2, pre, sizeof(pre) - 1);
	r = write(2, current, strlen(current));
	r = write(2, "\n", 1);
	(void)r;
}

#ifndef HAVE_ASAN
static void on_fatal(int sig)
{
	say_current();
	signal(sig, SIG_DFL);
	raise(sig);
}
#endif

static void catch_crashes(void)
{
#ifdef HAVE_ASAN
	__sanitizer_set_death_callback(say_current);
#else
	int sigs[] = {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], on_fatal);
#endif
}

/* One armed run with allocation fail_at failing (0: none). Returns the number of blocks it
 * left allocated (0 when clean), printing them; *hit: whether allocation fail_at came. */
static size_t run_once(const struct driver *d, const uint8_t *data, size_t size,
		       unsigned long fail_at, int *hit)
{
	struct alloc_fail_result r;
	alloc_fail_arm(fail_at);
	alloc_fail_drive(d, data, size);
	alloc_fail_disarm(&r);
	*hit = r.hit;
	return r.live ? alloc_fail_report_leaks(current) : 0;
}

struct totals {
	unsigned long inputs, runs, failures_injected, leaks, capped;
};

static int read_input(const char *path, uint8_t **out, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size > MAX_SEED) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	uint8_t *p = malloc((size_t)sb.st_size + 1);
	ssize_t got = p ? read(fd, p, (size_t)sb.st_size) : -1;
	close(fd);
	if (got != sb.st_size) {
		free(p);
		return -1;
	}
	*out = p;
	*len = (size_t)sb.st_size;
	return 0;
}

static void run_input(const struct driver *d, const char *path, struct totals *t)
{
	uint8_t *data;
	size_t size;
	if (read_input(path, &data, &size) != 0) {
		fprintf(stderr, "SKIP: cannot read %s\n", path);
		return;
	}
	t->inputs++;
	alloc_fail_drive(d, data,
			 size); /* unarmed: anything set up once on first use is made here */
	set_current(d->name, path, 0);
	int hit;
	t->leaks += run_once(d, data, size, 0, &hit) != 0;
	t->runs++;
	unsigned long n;
	for (n = 1; n <= MAX_N; n++) {
		set_current(d->name, path, n);
		t->leaks += run_once(d, data, size, n, &hit) != 0;
		t->runs++;
		if (!hit)
			break;
		t->failures_injected++;
	}
	if (n > MAX_N) {
		fprintf(stderr, "NOTE: %s %s: stopped after %d failed allocations\n", d->name, path,
			MAX_N);
		t->capped++;
	}
	free(data);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of dir, sorted (so that runs are repeatable); caller frees. */
static char **list_dir(const char *dir, size_t *count)
{
	DIR *dh = opendir(dir);
	char **v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	if (!dh)
		return NULL;
	while ((de = readdir(dh)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			char **nv = realloc(v, cap * sizeof(*v));
			if (!nv)
				abort();
			v = nv;
		}
		if (!(v[n++] = strdup(de->d_name)))
			abort();
	}
	closedir(dh);
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	*count = n;
	return v;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s CORPUS_DIR [TARGET]\n", argv[0]);
		return 2;
	}
	log_set_level(LOG_ERROR); /* out-of-memory errors are expected by the thousand */
	catch_crashes();
	if (alloc_fail_drivers_setup() != 0) {
		fprintf(stderr, "cannot set up the SFTP folder under /tmp\n");
		return 1;
	}
	size_t ntargets;
	char **targets = list_dir(argv[1], &ntargets);
	if (!targets || ntargets == 0) {
		fprintf(stderr, "no corpus directories in %s\n", argv[1]);
		return 1;
	}
	int bad = 0;
	for (size_t i = 0; i < ntargets; i++) {
		if (argc == 3 && strcmp(targets[i], argv[2]) != 0)
			continue;
		const struct driver *d = alloc_fail_find_driver(targets[i]);
		if (!d) {
			fprintf(stderr, "FAIL: no driver or fuzz target for corpus %s\n",
				targets[i]);
			bad = 1;
			continue;
		}
		char dir[600];
		if (snprintf(dir, sizeof(dir), "%s/%s", argv[1], targets[i]) >= (int)sizeof(dir))
			continue;
		size_t nfiles;
		char **files = list_dir(dir, &nfiles);
		struct totals t = {0};
		for (size_t k = 0; files && k < nfiles; k++) {
			char path[1000];
			if (snprintf(path, sizeof(path), "%s/%s", dir, files[k]) <
			    (int)sizeof(path))
				run_input(d, path, &t);
		}
		free_list(files, files ? nfiles : 0);
		printf("%-24s %3lu inputs, %6lu runs, %6lu allocations failed, %lu leaking%s%s\n",
		       d->name, t.inputs, t.runs, t.failures_injected, t.leaks,
		       t.capped ? " (some inputs capped)" : "",
		       d->run ? "" : " (the fuzz target's entry point)");
		if (t.leaks)
			bad = 1;
	}
	free_list(targets, ntargets);
	alloc_fail_drivers_teardown();
	printf("%s\n", bad ? "FAILED" : "all clean");
	return bad;
}
