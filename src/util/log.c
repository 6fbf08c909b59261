#include "util/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Errors and warnings by default; main raises it with -v / -vv. */
static atomic_int log_level = LOG_WARN;
/* Serialises writers so that even lines longer than PIPE_BUF never interleave.
 */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(int level)
{
	if (level < LOG_ERROR)
		level = LOG_ERROR;
	if (level > LOG_TRACE)
		level = LOG_TRACE;
	atomic_store(&log_level, level);
}

int log_get_level(void)
{
	return atomic_load(&log_level);
}

static const char *log_tag(int level)
{
	switch (level) {
	case LOG_WARN:
		return "warning: ";
	case LOG_DEBUG:
		return "debug: ";
	case LOG_TRACE:
		return "trace: ";
	default:
		return ""; /* errors and info read as plain messages */
	}
}

/* Names and messages can come from the server: never let them move the cursor, clear the screen or
 * start a new line that looks like ours. */
static void log_scrub(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			s[i] = '?';
	}
}

static void log_write_all(const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* nowhere to report a failure to report */
		p += w;
		n -= (size_t)w;
	}
}

void log_msg(int level, const char *fmt, ...)
{
	if (level > log_get_level())
		return;

	int saved_errno = errno; /* callers often log and then inspect errno */
	char prefix[64];
	int plen;
	if (log_get_level() >= LOG_DEBUG) {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		plen =
		    snprintf(prefix, sizeof(prefix), "smbgate: %02d:%02d:%02d.%06ld %s", tm.tm_hour,
			     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000, log_tag(level));
	} else {
		plen = snprintf(prefix, sizeof(prefix), "smbgate: %s", log_tag(level));
	}
	if (plen < 0 || (size_t)plen >= sizeof(prefix))
		plen = 0;

	/* The whole line is built first and written with one call. */
	char stackbuf[1024];
	char *line = stackbuf;
	va_list ap;
	va_start(ap, fmt);
	int mlen = vsnprintf(stackbuf + plen, sizeof(stackbuf) - (size_t)plen - 1, fmt, ap);
	va_end(ap);
	if (mlen < 0) {
		errno = saved_errno;
		return;
	}
	if ((size_t)mlen >= sizeof(stackbuf) - (size_t)plen - 1) {
		size_t need = (size_t)plen + (size_t)mlen + 2;
		line = malloc(need);
		if (line) {
			va_start(ap, fmt);
			vsnprintf(line + plen, need - (size_t)plen - 1, fmt, ap);
			va_end(ap);
		} else {
			/* Out of memory: the truncated message is better than none. */
			line = stackbuf;
			mlen = (int)(sizeof(stackbuf) - (size_t)plen - 2);
		}
	}
	memcpy(line, prefix, (size_t)plen);
	log_scrub(line + plen, (size_t)mlen);
	size_t total = (size_t)plen + (size_t)mlen;
	line[total++] = '\n';

	pthread_mutex_lock(&log_lock);
	log_write_all(line, total);
	pthread_mutex_unlock(&log_lock);

	if (line != stackbuf)
		free(line);
	errno = saved_errno;
}
