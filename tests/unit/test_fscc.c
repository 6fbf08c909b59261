/* The MS-FSCC pieces SMB1 and SMB2 share: the directory entry start, the file system size
 * classes and the conversion of times, sizes and attributes. Each field gets its own value, so
 * a swapped pair (EndOfFile and AllocationSize are in opposite orders in different messages)
 * shows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "smb/fscc.h"
#include "smbgate/err.h"

#define FT_EPOCH 116444736000000000ull /* 1970-01-01 as a FILETIME */

static void put(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The 68 bytes every directory entry class starts with (MS-FSCC 2.4.18 layout). */
static void dirent_head(uint8_t *p, uint32_t next, uint32_t attrs, uint32_t name_len)
{
	put(p, next, 4);
	put(p + 4, 7, 4);				 /* FileIndex */
	put(p + 8, FT_EPOCH + 10000000ull * 1, 8);	 /* CreationTime */
	put(p + 16, FT_EPOCH + 10000000ull * 2, 8);	 /* LastAccessTime */
	put(p + 24, FT_EPOCH + 10000000ull * 3 + 50, 8); /* LastWriteTime, 5 us more */
	put(p + 32, FT_EPOCH + 10000000ull * 4, 8);	 /* ChangeTime */
	put(p + 40, 1000, 8);				 /* EndOfFile */
	put(p + 48, 4096, 8);				 /* AllocationSize */
	put(p + 56, attrs, 4);
	put(p + 60, name_len, 4);
	put(p + 64, 0, 4); /* EaSize */
}

static void test_dirent_start(void **state)
{
	uint8_t p[80];
	memset(p, 0xAA, sizeof(p));
	dirent_head(p, 80, 0x20, 6);
	struct cursor c;
	struct smb_stat st;
	uint32_t next, nlen;
	cursor_init(&c, p, sizeof(p));
	assert_int_equal(smb_fscc_dirent_parse(&c, &next, &nlen, &st), 0);
	assert_int_equal(c.off, 68); /* the class-specific part is next */
	assert_int_equal(next, 80);
	assert_int_equal(nlen, 6);
	assert_int_equal(st.size, 1000);
	assert_int_equal(st.alloc_size, 4096);
	assert_int_equal(st.attributes, 0x20);
	assert_false(st.is_dir);
	assert_int_equal(st.nlink, 1);
	assert_int_equal(st.file_id, 0);
	assert_int_equal(st.btime.tv_sec, 1);
	assert_int_equal(st.atime.tv_sec, 2);
	assert_int_equal(st.mtime.tv_sec, 3);
	assert_int_equal(st.mtime.tv_nsec, 5000);
	assert_int_equal(st.ctime.tv_sec, 4);
	dirent_head(p, 0, 0x10, 0);
	cursor_init(&c, p, sizeof(p));
	assert_int_equal(smb_fscc_dirent_parse(&c, &next, &nlen, &st), 0);
	assert_true(st.is_dir);
	/* One byte short of EaSize. */
	cursor_init(&c, p, 67);
	assert_int_equal(smb_fscc_dirent_parse(&c, &next, &nlen, &st), SMBG_EPROTO);
}

static void test_attrs_to_stat_resets(void **state)
{
	struct smb_fscc_attrs a = {.btime = FT_EPOCH,
				   .atime = FT_EPOCH,
				   .mtime = FT_EPOCH,
				   .ctime = FT_EPOCH,
				   .alloc_size = 2,
				   .eof = 1,
				   .attributes = 0x11};
	struct smb_stat st;
	memset(&st, 0xFF, sizeof(st));
	smb_fscc_attrs_to_stat(&a, &st);
	assert_int_equal(st.size, 1);
	assert_int_equal(st.alloc_size, 2);
	assert_int_equal(st.attributes, 0x11);
	assert_true(st.is_dir);
	assert_int_equal(st.nlink, 1);
	assert_int_equal(st.file_id, 0);
	assert_int_equal(st.mtime.tv_sec, 0);
	assert_int_equal(st.mtime.tv_nsec, 0);
}

static void test_fs_size(void **state)
{
	/* FileFsFullSizeInformation: total, caller available, actual available, units. */
	uint8_t p[32];
	put(p, 1000, 8);
	put(p + 8, 300, 8);
	put(p + 16, 400, 8);
	put(p + 24, 8, 4);
	put(p + 28, 512, 4);
	struct cursor c;
	struct smb_statfs st;
	cursor_init(&c, p, sizeof(p));
	assert_int_equal(smb_fscc_fs_size_parse(&c, 1, &st), 0);
	assert_int_equal(st.block_size, 4096);
	assert_int_equal(st.total_blocks, 1000);
	assert_int_equal(st.free_blocks, 300);
	assert_int_equal(st.avail_blocks, 400);
	cursor_init(&c, p, 31);
	assert_int_equal(smb_fscc_fs_size_parse(&c, 1, &st), SMBG_EPROTO);
	/* FileFsSizeInformation: no actual count, the units follow the caller's count. */
	put(p + 16, 2, 4);
	put(p + 20, 1024, 4);
	cursor_init(&c, p, 24);
	assert_int_equal(smb_fscc_fs_size_parse(&c, 0, &st), 0);
	assert_int_equal(st.block_size, 2048);
	assert_int_equal(st.free_blocks, 300);
	assert_int_equal(st.avail_blocks, 300);
	/* Units of 0 bytes, and of more than 1 GiB, are not a real answer. */
	put(p + 20, 0, 4);
	cursor_init(&c, p, 24);
	assert_int_equal(smb_fscc_fs_size_parse(&c, 0, &st), SMBG_EPROTO);
	put(p + 16, 0x10000, 4);
	put(p + 20, 0x10000, 4);
	cursor_init(&c, p, 24);
	assert_int_equal(smb_fscc_fs_size_parse(&c, 0, &st), SMBG_EPROTO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dirent_start),
	    cmocka_unit_test(test_attrs_to_stat_resets),
	    cmocka_unit_test(test_fs_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
