/* Progress bar on stderr. */
#include "cli/progress.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define PROGRESS_DELAY_NS 1000000000LL /* quiet for the first second */
#define PROGRESS_EVERY_NS 200000000LL  /* then redraw five times a second */

static long long ns_since(const struct timespec *a, const struct timespec *b)
{
	return (long long)(b->tv_sec - a->tv_sec) * 1000000000LL + (b->tv_nsec - a->tv_nsec);
}

void progress_human(uint64_t n, char *buf, size_t len)
{
	static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double v = (double)n;
	unsigned u = 0;

	while (v >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024.0;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
}

void progress_start(struct progress *p, enum cli_progress_mode mode, const char *label,
		    uint64_t total)
{
	memset(p, 0, sizeof(*p));
	p->forced = mode == CLI_PROGRESS_ALWAYS;
	p->enabled = p->forced || (mode == CLI_PROGRESS_AUTO && isatty(2));
	snprintf(p->label, sizeof(p->label), "%s", label);
	p->total = total;
	clock_gettime(CLOCK_MONOTONIC, &p->start);
	p->last = p->start;
}

static void progress_draw(struct progress *p, const struct timespec *now)
{
	char done[32], total[32], rate[32], line[256];
	double secs = (double)ns_since(&p->start, now) / 1e9;
	int width = 80, n;
	struct winsize ws;

	if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20)
		width = ws.ws_col < sizeof(line) ? ws.ws_col : (int)sizeof(line) - 1;
	progress_human(p->done, done, sizeof(done));
	progress_human(secs > 0 ? (uint64_t)((double)p->done / secs) : 0, rate, sizeof(rate));
	if (p->total != UINT64_MAX && p->total > 0) {
		unsigned pct = (unsigned)((double)p->done * 100.0 / (double)p->total);
		double left = p->done ? secs * (double)(p->total - p->done) / (double)p->done : 0;
		progress_human(p->total, total, sizeof(total));
		n = snprintf(line, sizeof(line), "%3u%% %s / %s  %s/s  ETA %d:%02d",
			     pct > 100 ? 100 : pct, done, total, rate, (int)left / 60,
			     (int)left % 60);
	} else {
		n = snprintf(line, sizeof(line), "%s  %s/s", done, rate);
	}
	/* The label takes what the numbers leave. */
	if (n >= 0 && n + 2 < width) {
		int room = width - n - 2;
		fprintf(stderr, "\r%-*.*s  %s\033[K", room > 40 ? 40 : room, room, p->label, line);
	} else {
		fprintf(stderr, "\r%.*s\033[K", width - 1, line);
	}
	fflush(stderr);
	p->shown = 1;
}

void progress_update(struct progress *p, uint64_t done)
{
	struct timespec now;

	p->done = done;
	if (!p->enabled)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((!p->forced && ns_since(&p->start, &now) < PROGRESS_DELAY_NS) ||
	    (p->shown && ns_since(&p->last, &now) < PROGRESS_EVERY_NS))
		return;
	p->last = now;
	progress_draw(p, &now);
}

void progress_end(struct progress *p, int ok)
{
	struct timespec now;

	if (!p->enabled || (!p->shown && !(p->forced && ok)))
		return;
	if (ok) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		progress_draw(p, &now);
		fputc('\n', stderr);
	} else {
		fputs("\r\033[K", stderr);
	}
	fflush(stderr);
	p->shown = 0;
}
