/* The stderr logger: levels, prefixes, timestamps at debug, scrubbing of control characters, long
 * lines, and lines from many threads that never interleave. stderr is redirected to a temporary
 * file for each test. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "util/log.h"

static int saved_fd = -1;
static char tmpname[64];

static int capture_start(void **state)
{
	strcpy(tmpname, "/tmp/test_log.XXXXXX");
	int fd = mkstemp(tmpname);
	if (fd < 0)
		return -1;
	saved_fd = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	return 0;
}

/* Restores stderr and returns what was written (caller frees). */
static char *capture_end(void)
{
	dup2(saved_fd, STDERR_FILENO);
	close(saved_fd);
	FILE *f = fopen(tmpname, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	unlink(tmpname);
	return s;
}

static void test_levels(void **state)
{
	assert_int_equal(log_get_level(), LOG_WARN); /* the default, before main changes it */
	log_set_level(LOG_WARN);
	assert_int_equal(log_get_level(), LOG_WARN);
	capture_start(state);
	log_error("boom %d", 1);
	log_warn("careful %s", "now");
	log_info("not shown");
	log_debug("not shown either");
	log_trace("nor this");
	char *out = capture_end();
	assert_string_equal(out, "smbgate: boom 1\nsmbgate: warning: careful now\n");
	free(out);

	log_set_level(LOG_INFO);
	capture_start(state);
	log_info("shown");
	log_debug("hidden");
	out = capture_end();
	assert_string_equal(out, "smbgate: shown\n");
	free(out);

	log_set_level(LOG_ERROR);
	capture_start(state);
	log_warn("hidden");
	log_error("only errors");
	out = capture_end();
	assert_string_equal(out, "smbgate: only errors\n");
	free(out);

	/* Out-of-range levels are clamped. */
	log_set_level(99);
	assert_int_equal(log_get_level(), LOG_TRACE);
	log_set_level(-5);
	assert_int_equal(log_get_level(), LOG_ERROR);
	assert_false(log_enabled(LOG_WARN));
	log_set_level(LOG_WARN);
}

static void expect_match(const char *out, const char *pattern)
{
	regex_t re;
	assert_int_equal(regcomp(&re, pattern, REG_EXTENDED), 0);
	if (regexec(&re, out, 0, NULL, 0) != 0)
		fail_msg("output '%s' does not match '%s'", out, pattern);
	regfree(&re);
}

static void test_debug_timestamps(void **state)
{
	/* -vv: debug lines and every other line get a timestamp; trace is still hidden. */
	log_set_level(LOG_DEBUG);
	capture_start(state);
	log_debug("x=%d", 42);
	log_trace("deep");
	log_error("e");
	char *out = capture_end();
	expect_match(out, "^smbgate: [0-2][0-9]:[0-5][0-9]:[0-6][0-9]\\.[0-9]{6} debug: x=42\n"
			  "smbgate: [0-9:.]{15} e\n$");
	free(out);

	log_set_level(LOG_TRACE);
	capture_start(state);
	log_trace("deep");
	log_warn("w");
	out = capture_end();
	expect_match(out, "^smbgate: [0-9:.]{15} trace: deep\n"
			  "smbgate: [0-9:.]{15} warning: w\n$");
	free(out);
	log_set_level(LOG_WARN);
}

static void test_scrub(void **state)
{
	log_set_level(LOG_WARN);
	capture_start(state);
	log_error("name a\nb\r\x1b[2J\x7f\tend");
	char *out = capture_end();
	assert_string_equal(out, "smbgate: name a?b??[2J?\tend\n");
	free(out);
}

static void test_long_line_and_errno(void **state)
{
	size_t n = 100000;
	char *big = malloc(n + 1);
	memset(big, 'q', n);
	big[n] = '\0';
	capture_start(state);
	errno = 1234;
	log_error("%s|", big);
	assert_int_equal(errno, 1234);
	char *out = capture_end();
	assert_int_equal(strlen(out), strlen("smbgate: ") + n + 2);
	assert_memory_equal(out, "smbgate: ", 9);
	assert_memory_equal(out + 9, big, n);
	assert_string_equal(out + 9 + n, "|\n");
	free(out);
	free(big);

	/* A failing write (stderr open read-only) must not change errno for the caller. */
	int saved = dup(STDERR_FILENO);
	int ro = open("/dev/null", O_RDONLY);
	assert_true(ro >= 0);
	dup2(ro, STDERR_FILENO);
	errno = 1234;
	log_error("into the void");
	int e = errno;
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(ro);
	assert_int_equal(e, 1234);
}

#define NTHREADS 8
#define NLINES	 300
#define LINELEN                                                                                    \
	6000 /* above PIPE_BUF, so write atomicity alone would not do                              \
	      */

static void *log_thread(void *arg)
{
	int id = (int)(intptr_t)arg;
	char *fill = malloc(LINELEN + 1);
	memset(fill, 'a' + id, LINELEN);
	fill[LINELEN] = '\0';
	for (int i = 0; i < NLINES; i++)
		log_error("T%d %04d %s", id, i, fill);
	free(fill);
	return NULL;
}

static void test_threads_no_interleave(void **state)
{
	pthread_t t[NTHREADS];
	capture_start(state);
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, log_thread, (void *)(intptr_t)i), 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	char *out = capture_end();

	int next[NTHREADS] = {0};
	int lines = 0;
	char *save = NULL;
	for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		int id, seq, off = 0;
		assert_int_equal(sscanf(l, "smbgate: T%d %d %n", &id, &seq, &off), 2);
		assert_true(id >= 0 && id < NTHREADS);
		assert_int_equal(seq, next[id]); /* each thread's lines in order, none lost */
		next[id]++;
		assert_int_equal(strlen(l + off), LINELEN);
		for (int k = 0; k < LINELEN; k++)
			if (l[off + k] != 'a' + id)
				fail_msg("line of thread %d has a foreign byte at %d", id, k);
		lines++;
	}
	assert_int_equal(lines, NTHREADS * NLINES);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_levels),
	    cmocka_unit_test(test_debug_timestamps),
	    cmocka_unit_test(test_scrub),
	    cmocka_unit_test(test_long_line_and_errno),
	    cmocka_unit_test(test_threads_no_interleave),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
