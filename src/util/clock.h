/* Monotonic time in milliseconds, for deadlines and cache ages. */
#ifndef SMBGATE_CLOCK_H
#define SMBGATE_CLOCK_H

#include <stdint.h>

int64_t clock_now_ms(void);

#endif
