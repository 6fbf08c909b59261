/* Fuzzes the SMB1 response path: the central validator, the AndX chain walk, and the parser of
 * whichever command each block names (NEGOTIATE, NT_CREATE_ANDX, READ_ANDX, TRANSACTION2
 * reassembly and the FIND / QUERY_INFORMATION / QUERY_FS data parsers, strings). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smb/smb1/smb1.h"

static int count_entry(void *priv, const char *name, const struct smb_stat *st)
{
	size_t *n = priv;
	*n += strlen(name) + (st->is_dir ? 1 : 0);
	return 0;
}

static void parse_block(const struct smb1_msg *m, int unicode)
{
	switch (m->command) {
	case SMB1_COM_NEGOTIATE: {
		struct smb1_negotiate_resp r;
		(void)smb1_negotiate_parse(m, &r);
		break;
	}
	case SMB1_COM_NT_CREATE_ANDX: {
		uint16_t fid;
		struct smb_stat st;
		(void)smb1_create_parse(m, &fid, &st);
		break;
	}
	case SMB1_COM_READ_ANDX: {
		size_t off, len;
		(void)smb1_read_parse(m, &off, &len);
		break;
	}
	case SMB1_COM_TRANSACTION2: {
		struct smb1_trans t = {.max_param = 64, .max_data = 4096};
		t.param = calloc(1, t.max_param);
		t.data = calloc(1, t.max_data);
		if (t.param && t.data && smb1_trans2_collect(&t, m) >= 0) {
			size_t total = 0;
			char *last = NULL;
			struct smb_stat st;
			struct smb_statfs fs;
			(void)smb1_find_parse(unicode, t.data, t.got_data, count_entry, &total,
					      &last);
			free(last);
			(void)smb1_allinfo_parse(t.data, t.got_data, &st);
			(void)smb1_fsinfo_parse(SMB1_QUERY_FS_SIZE_INFO, t.data, t.got_data, &fs);
			(void)smb1_fsinfo_parse(SMB1_PASS_FS_FULL_SIZE_INFORMATION, t.data,
						t.got_data, &fs);
		}
		free(t.param);
		free(t.data);
		break;
	}
	default: {
		char *s = NULL;
		(void)smb1_get_string(unicode, m->bytes.p, m->bytes.len, &s);
		free(s);
		break;
	}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smb1_msg m, next;
	if (smb1_check_request(data, size, &m) == 0) {
		int unicode = (m.flags2 & SMB1_FLAGS2_UNICODE) != 0;
		/* The chain only moves forward, so this ends. */
		for (int guard = 0; guard < 1000; guard++) {
			parse_block(&m, unicode);
			if (smb1_andx_next(&m, &next) != 1)
				break;
			m = next;
		}
	}
	/* The same bytes as directory data, whatever the header said, in both string forms. */
	for (int unicode = 0; unicode < 2; unicode++) {
		size_t total = 0;
		char *last = NULL;
		(void)smb1_find_parse(unicode, data, size, count_entry, &total, &last);
		free(last);
	}
	return 0;
}
