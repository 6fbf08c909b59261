/* The wrapped allocator of test_alloc_fail: see alloc_fail.h. */
#include <errno.h>
#include <execinfo.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc_fail.h"

#define TRACK_SLOTS  (1u << 16) /* blocks alive at once during one run, at most */
#define TOMBSTONE    ((void *)1)
#define MAX_REPORTED 5 /* leaked blocks printed per case */

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

/* The code under test is single-threaded on these paths (no VFS worker threads with a local
 * folder), so the state below needs no lock. */
static struct {
	int armed;	       /* counting and tracking on */
	unsigned long fail_at; /* the allocation number that fails; 0: none */
	unsigned long count;   /* allocations seen since armed */
	int hit;	       /* fail_at was reached */
	int overflow;	       /* more live blocks than TRACK_SLOTS: no leak verdict */
	size_t live;
	struct slot {
		void *p;
		size_t size;
		unsigned long nth;
		void *caller;
	} slots[TRACK_SLOTS];
} st;

static size_t slot_hash(const void *p)
{
	uintptr_t x = (uintptr_t)p >> 4;
	x ^= x >> 17;
	x *= 0x9e3779b97f4a7c15ull;
	return (size_t)(x >> 20) & (TRACK_SLOTS - 1);
}

static void track_add(void *p, size_t size, void *caller)
{
	if (!st.armed || !p)
		return;
	if (st.live >= TRACK_SLOTS * 3 / 4) {
		st.overflow = 1;
		return;
	}
	for (size_t i = slot_hash(p);; i = (i + 1) & (TRACK_SLOTS - 1)) {
		if (st.slots[i].p == NULL || st.slots[i].p == TOMBSTONE) {
			st.slots[i] = (struct slot){p, size, st.count, caller};
			st.live++;
			return;
		}
	}
}

/* Forgets p if this run handed it out (blocks from before the run, or from libraries that
 * allocate on their own, are not ours to count). */
static void track_del(void *p)
{
	if (!st.armed || !p)
		return;
	for (size_t i = slot_hash(p); st.slots[i].p != NULL; i = (i + 1) & (TRACK_SLOTS - 1)) {
		if (st.slots[i].p == p) {
			st.slots[i].p = TOMBSTONE;
			st.live--;
			return;
		}
	}
}

/* 1 when this allocation is the one to fail. */
static int should_fail(void)
{
	if (!st.armed)
		return 0;
	st.count++;
	if (st.fail_at && st.count == st.fail_at) {
		st.hit = 1;
		errno = ENOMEM;
		return 1;
	}
	return 0;
}

void *__wrap_malloc(size_t n)
{
	if (should_fail())
		return NULL;
	void *p = __real_malloc(n);
	track_add(p, n, __builtin_return_address(0));
	return p;
}

void *__wrap_calloc(size_t k, size_t n)
{
	if (should_fail())
		return NULL;
	void *p = __real_calloc(k, n);
	track_add(p, k * n, __builtin_return_address(0));
	return p;
}

void *__wrap_realloc(void *p, size_t n)
{
	if (n == 0) { /* glibc frees p */
		track_del(p);
		return __real_realloc(p, 0);
	}
	if (should_fail())
		return NULL; /* p stays valid, and ours */
	void *q = __real_realloc(p, n);
	if (q) {
		track_del(p);
		track_add(q, n, __builtin_return_address(0));
	}
	return q;
}

void __wrap_free(void *p)
{
	track_del(p);
	__real_free(p);
}

static char *dup_n(const char *s, size_t n, void *caller)
{
	size_t len = strnlen(s, n);
	if (should_fail())
		return NULL;
	char *p = __real_malloc(len + 1);
	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	track_add(p, len + 1, caller);
	return p;
}

char *__wrap_strdup(const char *s)
{
	return dup_n(s, strlen(s), __builtin_return_address(0));
}

char *__wrap_strndup(const char *s, size_t n)
{
	return dup_n(s, n, __builtin_return_address(0));
}

void alloc_fail_arm(unsigned long fail_at)
{
	memset(st.slots, 0, sizeof(st.slots));
	st.live = 0;
	st.count = 0;
	st.hit = 0;
	st.overflow = 0;
	st.fail_at = fail_at;
	st.armed = 1;
}

void alloc_fail_disarm(struct alloc_fail_result *r)
{
	st.armed = 0;
	r->count = st.count;
	r->hit = st.hit;
	r->live = st.overflow ? 0 : st.live;
}

size_t alloc_fail_report_leaks(const char *what)
{
	if (st.overflow || st.live == 0)
		return 0;
	fprintf(stderr, "LEAK: %s: %zu block(s) not freed\n", what, st.live);
	size_t shown = 0;
	for (size_t i = 0; i < TRACK_SLOTS && shown < MAX_REPORTED; i++) {
		struct slot *s = &st.slots[i];
		if (s->p == NULL || s->p == TOMBSTONE)
			continue;
		fprintf(stderr, "  %zu bytes, allocation #%lu, allocated from: ", s->size, s->nth);
		fflush(stderr);
		backtrace_symbols_fd(&s->caller, 1, 2); /* addr2line -e test_alloc_fail OFFSET */
		shown++;
	}
	/* freed now, so that one leak does not hide the next or trip LeakSanitizer twice */
	for (size_t i = 0; i < TRACK_SLOTS; i++)
		if (st.slots[i].p != NULL && st.slots[i].p != TOMBSTONE)
			__real_free(st.slots[i].p);
	size_t n = st.live;
	st.live = 0;
	return n;
}
