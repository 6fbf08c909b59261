/* Requests in flight, found again by the id their response carries: SMB1's 16-bit MID or SMB2's
 * 64-bit MessageId, both kept as uint64_t. The table is intrusive: each request embeds a struct
 * smb_pending_entry, so adding and taking never allocate and cannot fail. */
#ifndef SMBGATE_PENDING_H
#define SMBGATE_PENDING_H

#include <stddef.h>
#include <stdint.h>

#define SMB_PENDING_BUCKETS 256

struct smb_pending_entry {
	struct smb_pending_entry *next; /* hash chain */
	uint64_t id;
};

struct smb_pending {
	struct smb_pending_entry *bucket[SMB_PENDING_BUCKETS];
	size_t n; /* entries in the table */
};

/* The request of type `type` that embeds e as `member`; NULL when e is NULL. */
#define smb_pending_owner(e, type, member)                                                         \
	((e) ? (type *)(void *)((char *)(e)-offsetof(type, member)) : NULL)

/* Adds e under id (ids are unique among the entries; the caller sees to it). */
void smb_pending_add(struct smb_pending *t, struct smb_pending_entry *e, uint64_t id);
/* The entry with id, or NULL. */
struct smb_pending_entry *smb_pending_find(const struct smb_pending *t, uint64_t id);
/* Takes the entry with id out of the table and returns it, or NULL. */
struct smb_pending_entry *smb_pending_take(struct smb_pending *t, uint64_t id);
/* Takes any one entry out (NULL when the table is empty): for failing them all. */
struct smb_pending_entry *smb_pending_pop(struct smb_pending *t);
/* Walks the table: the first entry for prev NULL, else the one after prev (which must still be
 * in the table); NULL at the end. */
struct smb_pending_entry *smb_pending_next(const struct smb_pending *t,
					   const struct smb_pending_entry *prev);

#endif
