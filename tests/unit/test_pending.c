/* The table of requests in flight shared by SMB1 (16-bit MIDs) and SMB2 (64-bit MessageIds):
 * lookups within a shared bucket, taking, walking and emptying it, and finding the owner. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "smb/pending.h"

struct req {
	int tag;
	struct smb_pending_entry pend;
};

static struct req *owner(struct smb_pending_entry *e)
{
	return smb_pending_owner(e, struct req, pend);
}

static void test_find_and_take_in_one_bucket(void **state)
{
	struct smb_pending t;
	memset(&t, 0, sizeof(t));
	/* Three ids that share a bucket, and the largest SMB2 MessageId short of the unsolicited
	 * one. */
	uint64_t ids[4] = {5, 5 + SMB_PENDING_BUCKETS, 5 + 2 * SMB_PENDING_BUCKETS, UINT64_MAX - 1};
	struct req r[4];
	for (int i = 0; i < 4; i++) {
		r[i].tag = i;
		smb_pending_add(&t, &r[i].pend, ids[i]);
	}
	assert_int_equal(t.n, 4);
	for (int i = 0; i < 4; i++)
		assert_ptr_equal(owner(smb_pending_find(&t, ids[i])), &r[i]);
	assert_null(smb_pending_find(&t, 6));
	assert_null(smb_pending_find(&t, 5 + 3 * SMB_PENDING_BUCKETS));
	assert_null(owner(NULL));
	/* Taking the middle of a chain keeps the rest findable. */
	assert_ptr_equal(owner(smb_pending_take(&t, ids[1])), &r[1]);
	assert_int_equal(t.n, 3);
	assert_null(smb_pending_find(&t, ids[1]));
	assert_null(smb_pending_take(&t, ids[1]));
	assert_int_equal(t.n, 3);
	assert_ptr_equal(owner(smb_pending_find(&t, ids[0])), &r[0]);
	assert_ptr_equal(owner(smb_pending_find(&t, ids[2])), &r[2]);
	/* A taken entry may go back in under a new id. */
	smb_pending_add(&t, &r[1].pend, 0xFFFE);
	assert_ptr_equal(owner(smb_pending_find(&t, 0xFFFE)), &r[1]);
	assert_int_equal(t.n, 4);
}

static void test_walk_and_pop_visit_each_once(void **state)
{
	struct smb_pending t;
	memset(&t, 0, sizeof(t));
	assert_null(smb_pending_next(&t, NULL));
	assert_null(smb_pending_pop(&t));
	enum { N = 40 };
	struct req r[N];
	for (int i = 0; i < N; i++) {
		r[i].tag = 0;
		/* Four per bucket, the last bucket among them. */
		smb_pending_add(&t, &r[i].pend,
				(uint64_t)(i % 4) * SMB_PENDING_BUCKETS + 255 -
				    (uint64_t)(i / 4) * 28);
	}
	int seen = 0;
	for (struct smb_pending_entry *e = smb_pending_next(&t, NULL); e;
	     e = smb_pending_next(&t, e)) {
		owner(e)->tag++;
		seen++;
	}
	assert_int_equal(seen, N);
	for (int i = 0; i < N; i++)
		assert_int_equal(r[i].tag, 1);
	struct smb_pending_entry *e;
	while ((e = smb_pending_pop(&t)) != NULL) {
		assert_null(e->next);
		owner(e)->tag++;
		seen--;
	}
	assert_int_equal(seen, 0);
	assert_int_equal(t.n, 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(r[i].tag, 2);
	for (size_t b = 0; b < SMB_PENDING_BUCKETS; b++)
		assert_null(t.bucket[b]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_find_and_take_in_one_bucket),
	    cmocka_unit_test(test_walk_and_pop_visit_each_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
