/* units_parse_duration_ms and units_parse_size on arbitrary strings (option values and config
 * file lines). Beyond "no crash": a success gives "off" or a value >= 0, and formatting it never
 * overflows its buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/units.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 256)
		return 0;
	char s[257];
	memcpy(s, data, size);
	s[size] = '\0';
	char buf[48];
	int64_t v;
	if (units_parse_duration_ms(s, &v) == 0) {
		if (v < 0 && v != UNITS_OFF)
			abort();
		units_format_duration(v, buf, sizeof buf);
	}
	if (units_parse_size(s, &v) == 0) {
		if (v < 0 && v != UNITS_OFF)
			abort();
		units_format_size(v, buf, sizeof buf);
	}
	return 0;
}
