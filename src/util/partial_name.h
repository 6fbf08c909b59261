/* Temporary names for uploads in progress, shared by `smbgate put` and the gateway.
 *
 * An upload is written to ".NAME.XXXXXXXX.partial" in the same folder as NAME (hidden on Unix
 * and in most SMB listings' filters, in the same folder so that the final rename stays within
 * one directory and one file system) and renamed over NAME only when it is complete, so that a
 * reader of the share never takes half a file for the whole. XXXXXXXX is 8 lower-case hex digits
 * (a tag: random for `put`, whatever the caller chooses otherwise). rclone (since 1.63) uses
 * ".partial" names the same way. */
#ifndef SMBGATE_PARTIAL_NAME_H
#define SMBGATE_PARTIAL_NAME_H

#include <stddef.h>
#include <stdint.h>

#define PARTIAL_NAME_SUFFIX ".partial"
/* The longest name component the result may have, in bytes (Linux file systems, and SMB's 255
 * UTF-16 units, which are never more than the UTF-8 bytes). */
#define PARTIAL_NAME_MAX 255

/* The temporary name for path ('/'-separated; the folder part is kept as it is): for "a/b/x.bin"
 * and tag 0x1a2b3c4d, "a/b/.x.bin.1a2b3c4d.partial". A final component too long to take the 18
 * added bytes is shortened (at a UTF-8 character boundary) so that the component stays within
 * PARTIAL_NAME_MAX. Returns a string the caller frees, or NULL when out of memory or when path
 * has no final component ("" or ending in '/'). */
char *partial_name_make(const char *path, uint32_t tag);

/* Whether the single name component name (not a path) has the form of a temporary name. When it
 * does, returns 1 and, when not NULL, sets *target_len to the length of the target's name, which
 * starts at name + 1 (shortened as partial_name_make shortens it), and *tag to the tag. Returns
 * 0 otherwise. */
int partial_name_parse(const char *name, size_t *target_len, uint32_t *tag);

/* A random tag (getrandom; a time- and pid-based value when that fails). */
uint32_t partial_name_tag_random(void);

#endif
