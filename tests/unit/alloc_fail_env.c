/* The wrapped allocator of smbgate_allocfail, the CLI built for
 * tests/integration/test_alloc_fail_cli.py only (linked with --wrap=malloc,... like
 * test_alloc_fail, see CMakeLists.txt).
 *
 *   SMBGATE_ALLOC_FAIL_AT=N      the Nth allocation of the process fails (ENOMEM); all others,
 *                                before and after, succeed. Unset or 0: none fails.
 *   SMBGATE_ALLOC_FAIL_REPORT=1  at exit, "alloc-fail: count=C hit=H" on stderr: C is the
 *                                number of allocations counted, H 1 when N was reached.
 *
 * Counting starts when this file's constructor has run (before main) and covers
 * malloc/calloc/realloc/strdup/strndup called from smbgate's own code (the --wrap applies to
 * the objects linked here, not to shared libraries). The counter is atomic: the gateway has
 * threads. Leaks are left to LeakSanitizer in the ASan build. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static unsigned long fail_at; /* set once, before main: no lock needed to read it */
static atomic_int armed;
static atomic_ulong count;
static atomic_int hit;

__attribute__((constructor)) static void alloc_fail_env_init(void)
{
	const char *s = getenv("SMBGATE_ALLOC_FAIL_AT");
	fail_at = s ? strtoul(s, NULL, 10) : 0;
	atomic_store(&armed, 1);
}

__attribute__((destructor)) static void alloc_fail_env_report(void)
{
	const char *s = getenv("SMBGATE_ALLOC_FAIL_REPORT");
	if (s && *s && strcmp(s, "0") != 0)
		fprintf(stderr, "alloc-fail: count=%lu hit=%d\n", atomic_load(&count),
			atomic_load(&hit));
}

/* 1 when this allocation is the one to fail. */
static int should_fail(void)
{
	if (!atomic_load_explicit(&armed, memory_order_relaxed))
		return 0;
	unsigned long n = atomic_fetch_add(&count, 1) + 1;
	if (fail_at && n == fail_at) {
		atomic_store(&hit, 1);
		errno = ENOMEM;
		return 1;
	}
	return 0;
}

void *__wrap_malloc(size_t n)
{
	return should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
	return should_fail() ? NULL : __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
	if (n == 0) /* glibc frees p: not an allocation */
		return __real_realloc(p, 0);
	return should_fail() ? NULL : __real_realloc(p, n); /* on failure p stays valid */
}

void __wrap_free(void *p)
{
	__real_free(p);
}

static char *dup_n(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	if (should_fail())
		return NULL;
	char *p = __real_malloc(len + 1);
	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

char *__wrap_strdup(const char *s)
{
	return dup_n(s, strlen(s));
}

char *__wrap_strndup(const char *s, size_t n)
{
	return dup_n(s, n);
}
