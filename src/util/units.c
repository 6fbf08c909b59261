/* rclone-style durations and sizes (see units.h). Numbers are parsed by hand only for their
 * digits: strtod would accept hex, "inf" and locale-dependent decimal points. */
#include "util/units.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Reads an unsigned decimal number ("12", "1.5", ".5") at *p; -1 when there is none. */
static int read_number(const char **p, double *out)
{
	const char *s = *p;
	double v = 0, scale = 1;
	int digits = 0;
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (*s++ - '0');
		digits++;
	}
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9') {
			scale /= 10;
			v += (*s++ - '0') * scale;
			digits++;
		}
	}
	if (digits == 0 || digits > 30)
		return -1;
	*p = s;
	*out = v;
	return 0;
}

struct unit {
	const char *name;
	double ms;
};

/* Longest names first so that "ms" wins over "m" and "M". */
static const struct unit duration_units[] = {
    {"ns", 1e-6},	{"us", 1e-3},	     {"\xc2\xb5s", 1e-3},  {"ms", 1},
    {"s", 1e3},		{"m", 60e3},	     {"h", 3600e3},	   {"d", 86400e3},
    {"w", 7 * 86400e3}, {"M", 30 * 86400e3}, {"y", 365 * 86400e3},
};

static const struct unit *match_duration_unit(const char *s, size_t *len)
{
	const struct unit *best = NULL;
	size_t blen = 0;
	for (size_t i = 0; i < sizeof duration_units / sizeof duration_units[0]; i++) {
		size_t n = strlen(duration_units[i].name);
		if (n > blen && strncmp(s, duration_units[i].name, n) == 0) {
			best = &duration_units[i];
			blen = n;
		}
	}
	*len = blen;
	return best;
}

int units_parse_duration_ms(const char *s, int64_t *ms)
{
	if (!s || !*s)
		return -1;
	if (strcasecmp(s, "off") == 0) {
		*ms = UNITS_OFF;
		return 0;
	}
	const char *p = s;
	double total = 0;
	double v;
	if (read_number(&p, &v) != 0)
		return -1;
	if (*p == '\0') { /* a bare number: seconds */
		total = v * 1e3;
	} else {
		for (;;) {
			size_t ulen;
			const struct unit *u = match_duration_unit(p, &ulen);
			if (!u)
				return -1;
			total += v * u->ms;
			p += ulen;
			if (*p == '\0')
				break;
			if (read_number(&p, &v) != 0)
				return -1;
		}
	}
	if (!(total < 9.2e18))
		return -1;
	*ms = (int64_t)ceil(total);
	return 0;
}

int units_parse_size(const char *s, int64_t *bytes)
{
	if (!s || !*s)
		return -1;
	if (strcasecmp(s, "off") == 0) {
		*bytes = UNITS_OFF;
		return 0;
	}
	const char *p = s;
	double v;
	if (read_number(&p, &v) != 0)
		return -1;
	double mult;
	static const char letters[] = "KMGTP";
	if (*p == '\0') {
		mult = 1024; /* rclone: a bare number is KiB */
	} else if ((*p == 'B' || *p == 'b') && p[1] == '\0') {
		mult = 1;
	} else {
		const char *l = strchr(letters, *p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		if (!l || *p == '\0')
			return -1;
		mult = pow(1024, (double)(l - letters + 1));
		p++;
		if (*p == 'i')
			p++;
		if (*p == 'B' || *p == 'b')
			p++;
		if (*p != '\0')
			return -1;
	}
	double total = v * mult;
	if (!(total < 9.2e18))
		return -1;
	*bytes = (int64_t)ceil(total);
	return 0;
}

void units_format_size(int64_t bytes, char *buf, size_t len)
{
	static const char *suffix[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi"};
	if (bytes < 0) {
		snprintf(buf, len, "off");
		return;
	}
	double v = (double)bytes;
	int i = 0;
	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	if (v == floor(v))
		snprintf(buf, len, "%.0f%s", v, suffix[i]);
	else
		snprintf(buf, len, "%.3f%s", v, suffix[i]);
}

void units_format_duration(int64_t ms, char *buf, size_t len)
{
	if (ms < 0) {
		snprintf(buf, len, "off");
		return;
	}
	if (ms < 1000) {
		snprintf(buf, len, "%lldms", (long long)ms);
		return;
	}
	long long s = ms / 1000, h = s / 3600, m = (s / 60) % 60;
	long long rest_ms = ms % 1000;
	char sec[32];
	if (rest_ms)
		snprintf(sec, sizeof sec, "%lld.%03llds", s % 60, rest_ms);
	else
		snprintf(sec, sizeof sec, "%llds", s % 60);
	if (h)
		snprintf(buf, len, "%lldh%lldm%s", h, m, sec);
	else if (m)
		snprintf(buf, len, "%lldm%s", m, sec);
	else
		snprintf(buf, len, "%s", sec);
}
