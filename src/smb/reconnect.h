/* Reconnect (DESIGN.md decision 9): a client that heals itself. Opt-in per client
 * (smb_client_set_reconnect); SMB2/3 connections only (an SMB1 connection fails as before).
 *
 * When the connection dies (closed, reset, a request past its deadline) the requests in flight
 * are parked or failed, and the client reconnects: TCP (and NetBIOS) connect, negotiate,
 * session setup, tree connect, then every open file is reopened (durable handles v2 with DH2C,
 * else by path for what was opened read-only; anything else is failed with a clear error) and
 * the parked requests are sent again (reads and other idempotent requests with the replay flag
 * on 3.x; a write whose fate is unknown only on a durable handle, else it fails its handle).
 * The first attempt runs at once; after a failed attempt the next waits 1 s, doubling up to
 * 30 s. Attempts run from smb_client_service (an event loop calls it, also with no fd to poll)
 * and from every blocking call. A request parked longer than the client's timeout fails with
 * "the server is unreachable". A session the server expires (STATUS_NETWORK_SESSION_EXPIRED) is
 * re-authenticated in place and the request sent again.
 *
 * The state machine: UP -> DOWN on a drop; DOWN -> CONNECTING at each attempt -> REOPENING ->
 * UP, or back to DOWN when it fails; UP -> EXPIRED -> REAUTH -> UP (or DOWN); FAILED when the
 * attempt limit is reached (the client is then dead). One transition function logs every
 * change. */
#ifndef SMBGATE_RECONNECT_H
#define SMBGATE_RECONNECT_H

#include <stddef.h>
#include <stdint.h>

#include "smb/client.h"

#define SMB_RECON_BACKOFF_FIRST_MS 1000
#define SMB_RECON_BACKOFF_MAX_MS   30000
#define SMB_RECON_CONNECT_MAX_MS   10000 /* one attempt's connect and login, at most */

struct smb2_req;

enum smb_recon_state {
	SMB_RECON_UP,	      /* connected; requests flow */
	SMB_RECON_EXPIRED,    /* the session expired: requests park until it is logged in again */
	SMB_RECON_REAUTH,     /* re-authentication under way (only its own requests flow) */
	SMB_RECON_DOWN,	      /* connection lost: requests park until an attempt succeeds */
	SMB_RECON_CONNECTING, /* an attempt: connect, negotiate, session setup, tree connect */
	SMB_RECON_REOPENING,  /* connected again: reopening the open files */
	SMB_RECON_FAILED,     /* the attempt limit was reached: the client is dead */
};

struct smb_recon {
	enum smb_recon_state state;
	unsigned max_attempts; /* consecutive failed attempts before giving up; 0 = never */
	unsigned failures;     /* consecutive failed attempts */
	unsigned reconnects;   /* successful reconnects */
	unsigned fruitless;    /* drops in a row with no answer since the reconnect before */
	int answered;	       /* an answer arrived since the last reconnect */
	unsigned gen;	       /* reconnect generation (struct smb_file.reopen_gen) */
	int backoff_ms;	       /* the wait after the next failed attempt */
	int64_t next_ms;       /* monotonic time of the next attempt */
	int64_t down_since;
	int busy;	/* an attempt or a re-authentication is running (no nesting) */
	int reset;	/* the server ended the session or tree: drop the connection, reconnect */
	int was_ready;	/* the client has been connected (SMB_STAGE_READY) at least once: only
			 * then is a drop reconnected; a failed first connect fails as without */
	char last[512]; /* why the connection went down, or the last attempt failed */
	struct smb2_req *parked_head, *parked_tail; /* FIFO, linked through smb2_req.next */
	size_t nparked;
};

/* Turns reconnect on (allocates c->recon) or off (fails what is parked). */
int smb_recon_enable(struct smb_client *c, int on);
/* Frees c->recon; parked requests fail with SMBG_ECANCELED (their callbacks run). */
void smb_recon_free(struct smb_client *c);
/* Fails every parked request now with err (their callbacks run); reconnecting goes on for
 * what is submitted later. */
void smb_recon_fail_parked(struct smb_client *c, int err);
/* Hook of smb_conn_fail: 1 when the drop is taken over (requests parked or failed, transport
 * closed, state DOWN); 0 when the connection must fail as without reconnect. */
int smb_recon_drop(struct smb_client *c, int err);
/* Hook of smb2_submit: 1 = r was parked (its done runs later), 0 = send it, < 0 = fail it (a
 * handle lost in a reconnect; the message is set). */
int smb_recon_submit(struct smb_client *c, struct smb2_req *r);
/* Hook of the SMB2 dispatch, for every response: when its status says the session expired
 * (STATUS_NETWORK_SESSION_EXPIRED: re-authentication) or is gone (USER_SESSION_DELETED,
 * NETWORK_NAME_DELETED: the server ended the session or the tree; a full reconnect), r is
 * parked and 1 returned; else 0 (deliver the response). */
int smb_recon_expired(struct smb_client *c, struct smb2_req *r, uint32_t status);
/* Drives the machine from smb_client_service and smb_wait: fails parked requests past their
 * deadline, runs a due attempt or re-authentication. < 0 when the client is dead. */
int smb_recon_service(struct smb_client *c);
/* Milliseconds until the machine needs smb_recon_service again (for poll), at most cap. */
int smb_recon_wait_ms(const struct smb_client *c, int cap);
/* Writes r->file's current FileId into r's unsent pdu (after the file was reopened under a new
 * one): for every request that carries a FileId (READ, WRITE, CLOSE, FLUSH, QUERY_INFO,
 * QUERY_DIRECTORY, SET_INFO, IOCTL). 1 when patched, 0 when r carries none. */
int smb_recon_patch_fid(struct smb2_req *r);
/* 1 while the connection is down (requests park). */
int smb_recon_down(const struct smb_client *c);

#endif
