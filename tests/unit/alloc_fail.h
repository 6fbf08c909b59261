/* The allocator of test_alloc_fail, wrapped at link time (-Wl,--wrap=malloc,calloc,realloc,
 * free,strdup,strndup; CMakeLists.txt): while armed it counts allocations, fails the one asked
 * for, and remembers every block it hands out until it is freed, so that a run's leaks can be
 * named. Unarmed it only passes calls on. Single-threaded (the paths under test are). */
#ifndef SMBGATE_TEST_ALLOC_FAIL_H
#define SMBGATE_TEST_ALLOC_FAIL_H

#include <stddef.h>

struct alloc_fail_result {
	unsigned long count; /* allocations while armed */
	int hit;	     /* the allocation to fail was reached (and failed) */
	size_t live;	     /* blocks of the run not freed (0 when overflow) */
};

/* Starts counting and tracking afresh; allocation number fail_at fails (0: none). */
void alloc_fail_arm(unsigned long fail_at);

/* Stops; fills r. */
void alloc_fail_disarm(struct alloc_fail_result *r);

/* Prints (to stderr, under the title what) up to 5 of the blocks the last run left, with the
 * code that allocated each, then frees them all. Returns how many there were. */
size_t alloc_fail_report_leaks(const char *what);

#endif
