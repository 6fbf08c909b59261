/* Fuzzes the NetBIOS name service response parser (labels, pointers, NB and NBSTAT records)
 * and the NetBIOS name rules. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "smb/transport/nbns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nbns_reply r;
	(void)nbns_parse_reply(data, size, &r);
	char name[32], err[200];
	size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;
	memcpy(name, data, n);
	name[n] = 0;
	if (smb_nb_name_check(name, err, sizeof(err)) == 0) {
		uint8_t q[50];
		(void)nbns_build_query(q, 1, name, 0x20, NBNS_TYPE_NB, 1);
	}
	return 0;
}
