/* A progress bar on stderr for long transfers: only when stderr is a terminal
 * (or --progress), never when piped, and only once a transfer has run for a
 * second, so short copies stay quiet. --progress shows it from the start, also when
 * stderr is not a terminal. */
#ifndef SMBGATE_CLI_PROGRESS_H
#define SMBGATE_CLI_PROGRESS_H

#include <stdint.h>
#include <time.h>

#include "cli/options.h"

struct progress {
	int enabled;
	int forced; /* --progress: from the start, and a final line even for short transfers */
	int shown;  /* a line is on the terminal */
	char label[64];
	uint64_t total; /* UINT64_MAX = unknown */
	uint64_t done;
	struct timespec start, last;
};

/* Starts a bar for one transfer; label is copied (shortened to fit). */
void progress_start(struct progress *p, enum cli_progress_mode mode, const char *label,
		    uint64_t total);
/* Records that done bytes have moved; redraws at most a few times a second. */
void progress_update(struct progress *p, uint64_t done);
/* Ends the bar: draws the final state and a newline when ok, clears the line
 * otherwise. */
void progress_end(struct progress *p, int ok);

/* Formats n bytes as "1.5 GiB" into buf. */
void progress_human(uint64_t n, char *buf, size_t len);

#endif
