#include "smb/pending.h"

static size_t bucket_of(uint64_t id)
{
	return (size_t)(id % SMB_PENDING_BUCKETS);
}

void smb_pending_add(struct smb_pending *t, struct smb_pending_entry *e, uint64_t id)
{
	size_t b = bucket_of(id);
	e->id = id;
	e->next = t->bucket[b];
	t->bucket[b] = e;
	t->n++;
}

struct smb_pending_entry *smb_pending_find(const struct smb_pending *t, uint64_t id)
{
	struct smb_pending_entry *e = t->bucket[bucket_of(id)];
	while (e && e->id != id)
		e = e->next;
	return e;
}

struct smb_pending_entry *smb_pending_take(struct smb_pending *t, uint64_t id)
{
	struct smb_pending_entry **pp = &t->bucket[bucket_of(id)];
	for (; *pp; pp = &(*pp)->next) {
		struct smb_pending_entry *e = *pp;
		if (e->id == id) {
			*pp = e->next;
			e->next = NULL;
			t->n--;
			return e;
		}
	}
	return NULL;
}

struct smb_pending_entry *smb_pending_pop(struct smb_pending *t)
{
	for (size_t b = 0; b < SMB_PENDING_BUCKETS; b++) {
		struct smb_pending_entry *e = t->bucket[b];
		if (e) {
			t->bucket[b] = e->next;
			e->next = NULL;
			t->n--;
			return e;
		}
	}
	return NULL;
}

struct smb_pending_entry *smb_pending_next(const struct smb_pending *t,
					   const struct smb_pending_entry *prev)
{
	if (prev && prev->next)
		return prev->next;
	for (size_t b = prev ? bucket_of(prev->id) + 1 : 0; b < SMB_PENDING_BUCKETS; b++)
		if (t->bucket[b])
			return t->bucket[b];
	return NULL;
}
