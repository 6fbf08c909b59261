/* Durations and sizes in rclone's spellings, parsed in one place for every option and every
 * config value (rclone's fs.Duration and fs.SizeSuffix). */
#ifndef SMBGATE_UNITS_H
#define SMBGATE_UNITS_H

#include <stddef.h>
#include <stdint.h>

/* "off" (any case) as a duration or a size. */
#define UNITS_OFF (-1)

/* Parses a duration into milliseconds: a sequence of numbers (decimals allowed) each with a
 * unit ns, us, ms, s, m, h, d (24 h), w (7 d), M (30 d), y (365 d), e.g. "1h30m5s", "500ms",
 * "1.5h"; a bare number is seconds ("90"); "off" gives UNITS_OFF. Sub-millisecond parts round
 * up, so "1us" is 1 ms and never 0. Returns 0, or -1 for anything else (empty, negative, an
 * unknown unit, past about 292 million years). */
int units_parse_duration_ms(const char *s, int64_t *ms);

/* Parses a size into bytes: a number (decimals allowed) with an optional suffix B (bytes),
 * K, M, G, T, P (powers of 1024; "Ki"/"KiB" spellings and lower case also taken); a bare
 * number is KiB as in rclone ("10" = 10 KiB); "off" gives UNITS_OFF. Returns 0 or -1. */
int units_parse_size(const char *s, int64_t *bytes);

/* Writes a size the way rclone prints one ("512Ki", "16Mi", "1.500Gi", "off"). */
void units_format_size(int64_t bytes, char *buf, size_t len);
/* Writes a duration the way rclone prints one ("1h0m0s", "5s", "500ms", "off"). */
void units_format_duration(int64_t ms, char *buf, size_t len);

#endif
