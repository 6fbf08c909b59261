/* The drivers of test_alloc_fail: each fuzz target's parser entry points, run on one input
 * with a failed allocation accepted as an outcome (the fuzz targets may abort on it). A fuzz
 * target without a driver here runs through its own entry point, compiled in under the name
 * entry_<target> (CMakeLists.txt lists them in the generated alloc_fail_entries.h), so a new
 * parser is covered from the day its fuzz target lands; if that entry point aborts on a failed
 * allocation, the crash says so and the target needs a driver here. */
#ifndef SMBGATE_TEST_ALLOC_FAIL_DRIVERS_H
#define SMBGATE_TEST_ALLOC_FAIL_DRIVERS_H

#include <stddef.h>
#include <stdint.h>

struct driver {
	const char *name; /* the fuzz target, and its corpus directory */
	void (*run)(const uint8_t *data, size_t size);
	int (*entry)(const uint8_t *data, size_t size); /* the fuzz target's own, when no run */
};

/* The driver for a corpus directory name, or NULL. */
const struct driver *alloc_fail_find_driver(const char *name);

/* Runs one input through d. */
void alloc_fail_drive(const struct driver *d, const uint8_t *data, size_t size);

/* What the drivers set up once (a small local folder for the SFTP engine), made before any
 * run is armed; 0 or -1. */
int alloc_fail_drivers_setup(void);
void alloc_fail_drivers_teardown(void);

#endif
