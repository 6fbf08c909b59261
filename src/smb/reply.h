/* The response of a blocking exchange (negotiate, session setup), kept for the code that waits.
 * A done handler sees the message only during the callback (it borrows the receive buffer), and
 * these exchanges parse it after smb_wait returns, so the handler keeps a copy here. */
#ifndef SMBGATE_REPLY_H
#define SMBGATE_REPLY_H

#include <stddef.h>
#include <stdint.h>

struct smb_client;

struct smb_reply {
	int done;     /* the request has finished (what smb_wait watches) */
	int err;      /* 0, or why the request failed */
	uint8_t *msg; /* owned: a copy of the whole response, or NULL */
	size_t len;
};

/* Records the end of the request: done, err, and when err is 0 and msg is not NULL a copy of
 * msg (err becomes SMBG_ENOMEM when the copy cannot be made). */
void smb_reply_keep(struct smb_reply *x, int err, const uint8_t *msg, size_t len);
/* Frees the copy and clears x for the next request. */
void smb_reply_reset(struct smb_reply *x);
/* Waits for the request submitted with result submit_rc (its ctx being x): the submit's error,
 * the wait's, or the request's own (x->err). */
int smb_reply_wait(struct smb_client *c, int submit_rc, struct smb_reply *x);

#endif
