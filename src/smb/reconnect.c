/* Reconnect: the state machine, the parking of requests while the connection is down, the
 * attempts with their backoff, the reopening of open files and the replay of what was parked.
 * See smb/reconnect.h for the behaviour. */
#include "smb/reconnect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smb/smb2/smb2.h"
#include "util/log.h"

static const char *state_name(enum smb_recon_state s)
{
	static const char *const names[] = {
	    [SMB_RECON_UP] = "up",
	    [SMB_RECON_EXPIRED] = "session-expired",
	    [SMB_RECON_REAUTH] = "re-authenticating",
	    [SMB_RECON_DOWN] = "down",
	    [SMB_RECON_CONNECTING] = "connecting",
	    [SMB_RECON_REOPENING] = "reopening",
	    [SMB_RECON_FAILED] = "failed",
	};
	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

/* The one place the state changes. */
static void set_state(struct smb_client *c, enum smb_recon_state to)
{
	struct smb_recon *rc = c->recon;
	if (rc->state == to)
		return;
	log_debug("reconnect %s: %s -> %s", c->url.host, state_name(rc->state), state_name(to));
	rc->state = to;
}

/* Where the FileId sits in the body of a request on an open file; 0 = none. Every such request
 * can be parked unsent while the connection is down, and is then sent with the reopened
 * handle's FileId. */
static int fid_offset(uint16_t command)
{
	switch (command) {
	case SMB2_READ:
	case SMB2_WRITE:
	case SMB2_SET_INFO:
		return 16; /* 2.2.19, 2.2.21, 2.2.39 */
	case SMB2_CLOSE:
	case SMB2_FLUSH:
	case SMB2_IOCTL:
	case SMB2_QUERY_DIRECTORY: /* its entries skip what was delivered (dir_skip) */
		return 8;	   /* 2.2.15, 2.2.17, 2.2.31, 2.2.33 */
	case SMB2_QUERY_INFO:
		return 24; /* 2.2.37 */
	default:
		return 0;
	}
}

/* Requests that may be sent again after a drop (their pdu is kept after sending). Others
 * (renames, deletes, set-info, ioctls) change state on the server: when one is in flight at a
 * drop it fails. A listing round is sent again on the reopened directory, which passes over
 * the entries already delivered. */
static int replayable(uint16_t command)
{
	switch (command) {
	case SMB2_READ:
	case SMB2_WRITE:
	case SMB2_CLOSE:
	case SMB2_FLUSH:
	case SMB2_QUERY_DIRECTORY:
	case SMB2_QUERY_INFO:
	case SMB2_CREATE:
	case SMB2_ECHO:
		return 1;
	default:
		return 0;
	}
}

static void park(struct smb_client *c, struct smb2_req *r)
{
	struct smb_recon *rc = c->recon;
	r->next = NULL;
	/* A request in flight keeps the deadline it was sent with: the caller hears within the
	 * timeout, reconnect or not (one that timed out fails at the next look). */
	if (r->sent && r->deadline)
		r->park_deadline = r->deadline;
	else
		r->park_deadline = c->timeout_ms > 0 ? clock_now_ms() + c->timeout_ms : 0;
	if (rc->parked_tail)
		rc->parked_tail->next = r;
	else
		rc->parked_head = r;
	rc->parked_tail = r;
	rc->nparked++;
}

/* Takes the whole parked list (the caller runs it down). */
static struct smb2_req *unpark_all(struct smb_recon *rc)
{
	struct smb2_req *r = rc->parked_head;
	rc->parked_head = rc->parked_tail = NULL;
	rc->nparked = 0;
	return r;
}

static void fail_req(struct smb_client *c, struct smb2_req *r, int err)
{
	r->done(c, r, err, NULL);
	smb2_req_free(r);
}

/* Fails every parked request with err; c->errmsg is kept for the caller. */
static void fail_parked(struct smb_client *c, int err)
{
	char msg[sizeof(c->errmsg)];
	memcpy(msg, c->errmsg, sizeof(msg));
	struct smb2_req *r = unpark_all(c->recon);
	while (r) {
		struct smb2_req *next = r->next;
		fail_req(c, r, err);
		memcpy(c->errmsg, msg, sizeof(msg));
		r = next;
	}
}

/* The message of a request on a handle lost in a reconnect. */
static int broken_err(struct smb_client *c, struct smb_file *f)
{
	return smb_failf(c, f->broken,
			 "%s: the connection to the server was lost and this handle could not be "
			 "kept (no durable handle for a file open for writing): data written "
			 "through it may be incomplete",
			 f->path);
}

static void mark_broken(struct smb_file *f, const char *why)
{
	if (f->broken)
		return;
	f->broken = SMBG_EBADF;
	log_warn("%s: handle lost in the reconnect: %s", f->path, why);
}

static int guid_set(const uint8_t g[16])
{
	for (int i = 0; i < 16; i++)
		if (g[i])
			return 1;
	return 0;
}

/* ---- enabling, freeing ---- */

int smb_recon_enable(struct smb_client *c, int on)
{
	if (on && !c->recon) {
		c->recon = calloc(1, sizeof(*c->recon));
		if (!c->recon)
			return SMBG_ENOMEM;
		c->recon->backoff_ms = SMB_RECON_BACKOFF_FIRST_MS;
		c->recon->answered = 1;
		/* Enabled on a client already connected: its drops are taken over from now on. */
		c->recon->was_ready = c->stage == SMB_STAGE_READY && c->t.fd >= 0;
	} else if (!on && c->recon) {
		smb_recon_free(c);
	}
	return 0;
}

void smb_recon_free(struct smb_client *c)
{
	struct smb_recon *rc = c->recon;
	if (!rc)
		return;
	struct smb2_req *r = unpark_all(rc);
	c->recon = NULL; /* callbacks that submit now fail at once instead of parking */
	while (r) {
		struct smb2_req *next = r->next;
		fail_req(c, r, SMBG_ECANCELED);
		r = next;
	}
	free(rc);
}

/* ---- a drop ---- */

/* A request taken out of the dead connection: kept to be sent again, or failed. */
void smb_recon_fail_parked(struct smb_client *c, int err)
{
	struct smb_recon *rc = c->recon;
	if (!rc)
		return;
	struct smb2_req *r = unpark_all(rc);
	while (r) { /* what the callbacks submit now is parked afresh: new work */
		struct smb2_req *next = r->next;
		fail_req(c, r, err);
		r = next;
	}
}

static void take_one(struct smb_client *c, struct smb2_req *r)
{
	struct smb_file *f = r->file;
	if (!r->sent) {
		park(c, r); /* never left: sending it later is as good as now */
		return;
	}
	if (!r->keep_pdu || !replayable(r->command)) {
		fail_req(c, r, c->dead ? c->dead : SMBG_ECLOSED);
		return;
	}
	if (r->command == SMB2_WRITE && f && !f->durable) {
		/* Applied or not, nobody can tell, and the handle is gone with the connection. */
		mark_broken(f, "a write was in flight and the handle is not durable");
		fail_req(c, r, broken_err(c, f));
		return;
	}
	if (r->command == SMB2_CREATE && f && (f->flags & SMB_O_EXCL) &&
	    !(guid_set(f->create_guid) && c->dialect >= SMB_DIALECT_3_0)) {
		/* An exclusive create that may have happened: sent again it would fail (with a
		 * durable request the replay flag lets the server recognise it). */
		fail_req(c, r, c->dead ? c->dead : SMBG_ECLOSED);
		return;
	}
	park(c, r);
}

int smb_recon_drop(struct smb_client *c, int err)
{
	struct smb_recon *rc = c->recon;
	if (c->ops != &smb2_ops || c->stage != SMB_STAGE_READY || !rc->was_ready)
		return 0; /* SMB1, or never connected (a failed first connect): no reconnect */
	switch (rc->state) {
	case SMB_RECON_DOWN:
		return 1; /* already handled */
	case SMB_RECON_UP:
	case SMB_RECON_EXPIRED:
	case SMB_RECON_REAUTH: /* its session setup fails with the rest */
		break;
	default:
		return 0; /* an attempt or a re-authentication: it sees the failure */
	}
	/* A connection that drops again before it answers anything (a link that cuts every
	 * connection at the same point) is not reconnected for ever: max_attempts such drops in a
	 * row fail the client as a failed attempt would. */
	rc->fruitless = rc->answered ? 0 : rc->fruitless + 1;
	if (rc->max_attempts && rc->fruitless >= rc->max_attempts) {
		smb_failf(c, err < 0 ? err : SMBG_EIO,
			  "the connection to %s was lost again before any answer after each of %u "
			  "reconnects (last: %s)",
			  c->url.host, rc->fruitless, c->errmsg);
		set_state(c, SMB_RECON_FAILED);
		fail_parked(c, err < 0 ? err : SMBG_EIO); /* parked while the session expired */
		return 0;
	}
	snprintf(rc->last, sizeof(rc->last), "%s", c->errmsg);
	log_warn("connection to %s lost (%s): reconnecting", c->url.host, rc->last);
	smb_transport_close(&c->t);
	set_state(c, SMB_RECON_DOWN);
	int64_t now = clock_now_ms();
	rc->down_since = now;
	rc->next_ms = now; /* the first attempt at once */
	rc->backoff_ms = SMB_RECON_BACKOFF_FIRST_MS;
	rc->failures = 0;
	/* Callbacks of failed requests run here: what they submit is parked (state DOWN). The
	 * error they see is the drop's; c->dead stays 0. */
	smb_failf(c, err < 0 ? err : SMBG_EIO, "%s (reconnecting)", rc->last);
	c->dead = err < 0 ? err : SMBG_EIO;
	smb2_take_all(c, take_one); /* a lost write's message, if any, is the one that stays */
	c->dead = 0;
	return 1;
}

int smb_recon_submit(struct smb_client *c, struct smb2_req *r)
{
	struct smb_recon *rc = c->recon;
	struct smb_file *f = r->file;
	if (f && f->broken && fid_offset(r->command))
		return broken_err(c, f);
	r->keep_pdu = replayable(r->command);
	if (rc->state == SMB_RECON_DOWN || rc->state == SMB_RECON_EXPIRED) {
		park(c, r);
		return 1;
	}
	return 0;
}

int smb_recon_expired(struct smb_client *c, struct smb2_req *r, uint32_t status)
{
	struct smb_recon *rc = c->recon;
	int gone = status == STATUS_USER_SESSION_DELETED || status == STATUS_NETWORK_NAME_DELETED;
	if (rc->state == SMB_RECON_UP && status != STATUS_NETWORK_SESSION_EXPIRED && !gone)
		rc->answered = 1; /* the connection works (smb_recon_drop) */
	if ((status != STATUS_NETWORK_SESSION_EXPIRED && !gone) ||
	    r->command == SMB2_SESSION_SETUP || r->command == SMB2_NEGOTIATE ||
	    r->command == SMB2_LOGOFF || !r->keep_pdu)
		return 0;
	if (gone) {
		if (rc->state != SMB_RECON_UP && rc->state != SMB_RECON_EXPIRED)
			return 0;
		/* The connection cannot be closed from inside its own read: the next service
		 * does it, and the reconnect sends r again (unexecuted: no replay flag). */
		if (!rc->reset)
			log_warn("%s: the server ended the session (%s): reconnecting", c->url.host,
				 smbg_ntstatus_name(status));
		rc->reset = 1;
		r->sent = 0;
		park(c, r);
		return 1;
	}
	if (rc->state == SMB_RECON_REAUTH)
		return 0;
	if (rc->state == SMB_RECON_UP) {
		log_info("session on %s expired: logging in again", c->url.host);
		set_state(c, SMB_RECON_EXPIRED);
	} else if (rc->state != SMB_RECON_EXPIRED) {
		return 0;
	}
	/* The server refused it unexecuted: it goes again as it was, without the replay flag. */
	r->sent = 0;
	park(c, r);
	return 1;
}

/* ---- sending the parked requests again ---- */

int smb_recon_patch_fid(struct smb2_req *r)
{
	int at = fid_offset(r->command);
	if (!at || !r->file || r->pdu.len < 4 + SMB2_HDR_SIZE + (size_t)at + 16)
		return 0;
	memcpy(r->pdu.p + 4 + SMB2_HDR_SIZE + at, r->file->fid, 16);
	return 1;
}

/* A CLOSE whose handle the server dropped with the connection: done without the wire. */
static void close_gone(struct smb_client *c, struct smb2_req *r)
{
	smb_file_free(c, r->file);
	r->file = NULL;
	smb2_complete(c, r, 0);
	smb2_req_free(r);
}

static void resend_parked(struct smb_client *c, int reopened)
{
	struct smb_recon *rc = c->recon;
	struct smb2_req *r = unpark_all(rc);
	while (r) {
		struct smb2_req *next = r->next;
		struct smb_file *f = r->file;
		r->next = NULL;
		if (f && fid_offset(r->command)) {
			if (reopened && r->command == SMB2_CLOSE && !f->broken &&
			    f->reopen_gen != rc->gen) {
				close_gone(c, r);
				r = next;
				continue;
			}
			if (f->broken) {
				fail_req(c, r, broken_err(c, f));
				r = next;
				continue;
			}
			if (reopened)
				smb_recon_patch_fid(r);
		}
		/* Sent before and its fate unknown: the server may recognise it (3.x). */
		r->replay = r->sent && c->dialect >= SMB_DIALECT_3_0;
		r->sent = 0;
		smb2_resubmit(c, r);
		r = next;
	}
}

/* Reopens f on the new connection; < 0 only when the connection itself failed. A file being
 * closed that cannot be reopened is not lost: its writes had all been answered before its
 * CLOSE was sent, and the server ended the handle with the connection. */
static int reopen_one(struct smb_client *c, struct smb_file *f, int closing)
{
	struct smb_recon *rc = c->recon;
	if (!f->opened || f->broken || f->reopen_gen == rc->gen)
		return 0;
	int r = smb2_reopen(c, f);
	if (r < 0) {
		if (c->dead)
			return r;
		if (!closing)
			mark_broken(f, c->errmsg);
		return 0;
	}
	f->reopen_gen = rc->gen;
	return 0;
}

static int reopen_all(struct smb_client *c)
{
	struct smb_recon *rc = c->recon;
	int r;
	for (struct smb_file *f = c->files; f; f = f->next)
		if ((r = reopen_one(c, f, 0)) < 0)
			return r;
	/* Files being closed (off the list) that the server kept for us: reconnect them so that
	 * their CLOSE ends them now rather than at the durable timeout. */
	for (struct smb2_req *p = rc->parked_head; p; p = p->next)
		if (p->command == SMB2_CLOSE && p->file && p->file->durable &&
		    (r = reopen_one(c, p->file, 1)) < 0)
			return r;
	return 0;
}

/* ---- attempts ---- */

static void give_up(struct smb_client *c)
{
	struct smb_recon *rc = c->recon;
	set_state(c, SMB_RECON_FAILED);
	c->dead = SMBG_ECLOSED;
	smb_failf(c, c->dead,
		  "the connection to %s was lost and %u reconnect attempts failed (last: %s)",
		  c->url.host, rc->failures, rc->last);
	fail_parked(c, c->dead);
}

/* Brings the dialect state back to a fresh one with no connection (after a failed attempt). */
static int reset_conn(struct smb_client *c)
{
	if (c->ops && c->ops->free_state)
		c->ops->free_state(c);
	smb_transport_close(&c->t);
	c->ops = &smb2_ops;
	c->dead = 0;
	c->stage = SMB_STAGE_READY; /* the API takes requests; they park */
	return smb2_state_init(c);
}

static void attempt(struct smb_client *c)
{
	struct smb_recon *rc = c->recon;
	rc->busy = 1;
	set_state(c, SMB_RECON_CONNECTING);
	if (c->ops && c->ops->free_state)
		c->ops->free_state(c);
	c->dead = 0;
	int saved = c->timeout_ms;
	if (c->timeout_ms == 0 || c->timeout_ms > SMB_RECON_CONNECT_MAX_MS)
		c->timeout_ms = SMB_RECON_CONNECT_MAX_MS;
	int r = smb_client_connect(c);
	if (r == 0 && c->ops != &smb2_ops)
		r = smb_failf(c, SMBG_ENOPROTO, "the server answered with SMB1 this time");
	if (r == 0) {
		set_state(c, SMB_RECON_REOPENING);
		rc->gen++;
		r = reopen_all(c);
	}
	c->timeout_ms = saved;
	if (r < 0) {
		snprintf(rc->last, sizeof(rc->last), "%s", c->errmsg);
		rc->failures++;
		if (reset_conn(c) < 0) {
			snprintf(rc->last, sizeof(rc->last), "out of memory");
			give_up(c);
		} else if (rc->max_attempts && rc->failures >= rc->max_attempts) {
			give_up(c);
		} else {
			rc->next_ms = clock_now_ms() + rc->backoff_ms;
			log_info("reconnect to %s failed (%s): next attempt in %d s", c->url.host,
				 rc->last, rc->backoff_ms / 1000);
			rc->backoff_ms = rc->backoff_ms * 2 > SMB_RECON_BACKOFF_MAX_MS
					     ? SMB_RECON_BACKOFF_MAX_MS
					     : rc->backoff_ms * 2;
			set_state(c, SMB_RECON_DOWN);
			smb_failf(c, SMBG_ECLOSED, "%s (reconnecting)", rc->last);
		}
		rc->busy = 0;
		return;
	}
	rc->reconnects++;
	rc->failures = 0;
	rc->backoff_ms = SMB_RECON_BACKOFF_FIRST_MS;
	rc->answered = 0;
	log_info("reconnected to %s after %.1f s (%zu requests to send again)", c->url.host,
		 (double)(clock_now_ms() - rc->down_since) / 1000.0, rc->nparked);
	set_state(c, SMB_RECON_UP);
	resend_parked(c, 1);
	rc->busy = 0;
}

static void reauth(struct smb_client *c)
{
	struct smb_recon *rc = c->recon;
	rc->busy = 1;
	set_state(c, SMB_RECON_REAUTH);
	int r = smb2_session_reauth(c);
	if (r == 0) {
		set_state(c, SMB_RECON_UP);
		resend_parked(c, 0);
	} else if (rc->state != SMB_RECON_DOWN) {
		/* Refused with the connection alive: a full reconnect logs in with a new session
		 * and reopens the files. (A drop meanwhile has already gone DOWN.) */
		log_warn("re-authentication on %s failed (%s): reconnecting", c->url.host,
			 c->errmsg);
		set_state(c, SMB_RECON_UP);
		smb_conn_fail(c, r, NULL); /* -> smb_recon_drop -> DOWN */
	}
	rc->busy = 0;
}

/* Fails the parked requests that have waited past their deadline. */
static void expire_parked(struct smb_client *c, int64_t now)
{
	struct smb_recon *rc = c->recon;
	struct smb2_req *expired = NULL, **pp = &rc->parked_head, *last = NULL;
	while (*pp) {
		struct smb2_req *r = *pp;
		if (r->park_deadline && now > r->park_deadline) {
			*pp = r->next;
			rc->nparked--;
			r->next = expired;
			expired = r;
		} else {
			last = r;
			pp = &r->next;
		}
	}
	rc->parked_tail = last;
	while (expired) {
		struct smb2_req *next = expired->next;
		smb_failf(c, SMBG_ETIMEDOUT,
			  "the server %s has been unreachable for %d s (reconnecting; last: %s)",
			  c->url.host, (int)((now - rc->down_since) / 1000), rc->last);
		fail_req(c, expired, SMBG_ETIMEDOUT);
		expired = next;
	}
}

int smb_recon_service(struct smb_client *c)
{
	struct smb_recon *rc = c->recon;
	if (rc->busy)
		return 0;
	if (rc->reset) {
		rc->reset = 0;
		if (rc->state == SMB_RECON_UP || rc->state == SMB_RECON_EXPIRED)
			smb_conn_fail(c, SMBG_ECLOSED, "the server ended the session");
	}
	switch (rc->state) {
	case SMB_RECON_EXPIRED:
		reauth(c);
		break;
	case SMB_RECON_DOWN: {
		int64_t now = clock_now_ms();
		expire_parked(c, now);
		if (now >= rc->next_ms)
			attempt(c);
		break;
	}
	default:
		break;
	}
	return rc->state == SMB_RECON_FAILED ? c->dead : 0;
}

int smb_recon_wait_ms(const struct smb_client *c, int cap)
{
	const struct smb_recon *rc = c->recon;
	if (!rc || rc->state != SMB_RECON_DOWN)
		return cap;
	int64_t left = rc->next_ms - clock_now_ms();
	if (left < 0)
		left = 0;
	return left < cap ? (int)left : cap;
}

int smb_recon_down(const struct smb_client *c)
{
	return c->recon && c->recon->state == SMB_RECON_DOWN;
}
