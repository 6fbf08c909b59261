/* The dialect-neutral client: connection set-up, the event loop glue (fd, events, service),
 * error messages, and the blocking wrappers (submit + service until done). */
#include "smb/client.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "smb/reconnect.h"
#include "smb/smb1/smb1.h"
#include "smb/smb2/smb2.h"
#include "util/log.h"

#define DEFAULT_TIMEOUT_S   30
#define EXPIRY_SCAN_MS	    1000 /* deadlines are checked at most this often (a scan walks all) */
#define FILETIME_UNIX_EPOCH 116444736000000000ULL

void smb_filetime_to_timespec(uint64_t ft, struct timespec *ts)
{
	if (ft < FILETIME_UNIX_EPOCH) {
		ts->tv_sec = 0;
		ts->tv_nsec = 0;
		return;
	}
	ft -= FILETIME_UNIX_EPOCH;
	ts->tv_sec = (time_t)(ft / 10000000);
	ts->tv_nsec = (long)(ft % 10000000) * 100;
}

uint64_t smb_timespec_to_filetime(const struct timespec *ts)
{
	if (ts->tv_sec < 0)
		return FILETIME_UNIX_EPOCH;
	return (uint64_t)ts->tv_sec * 10000000 + (uint64_t)ts->tv_nsec / 100 + FILETIME_UNIX_EPOCH;
}

static char *dupstr(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct smb_client *smb_client_new(const struct smb_url *url)
{
	struct smb_client *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	smb_transport_init(&c->t);
	c->timeout_ms = DEFAULT_TIMEOUT_S * 1000;
	c->url = *url;
	c->url.host = dupstr(url->host);
	c->url.share = dupstr(url->share);
	c->url.path = dupstr(url->path ? url->path : "");
	c->url.user = dupstr(url->user);
	c->url.password = dupstr(url->password);
	c->url.domain = dupstr(url->domain);
	c->url.wins = dupstr(url->wins);
	c->url.broadcast = dupstr(url->broadcast);
	if (!c->url.host || !c->url.path || (url->share && !c->url.share) ||
	    (url->user && !c->url.user) || (url->password && !c->url.password)) {
		smb_url_free(&c->url);
		free(c);
		return NULL;
	}
	if (smb_random(c->client_guid, sizeof(c->client_guid)) < 0) {
		smb_url_free(&c->url);
		free(c);
		return NULL;
	}
	if (!c->url.min_protocol)
		c->url.min_protocol = SMB_DIALECT_2_0_2;
	if (!c->url.max_protocol)
		c->url.max_protocol = SMB_DIALECT_3_1_1;
	snprintf(c->errmsg, sizeof(c->errmsg), "no error");
	return c;
}

void smb_client_set_timeout(struct smb_client *c, int seconds)
{
	c->timeout_ms = seconds > 0 ? seconds * 1000 : 0;
}

int smb_fail(struct smb_client *c, int err, uint32_t status, const char *op, const char *path)
{
	char st[96];
	if (status)
		snprintf(st, sizeof(st), "%s (%s)", smbg_ntstatus_name(status), smbg_strerror(err));
	else
		snprintf(st, sizeof(st), "%s", smbg_strerror(err));
	if (path)
		snprintf(c->errmsg, sizeof(c->errmsg), "%s %s: %s", op, *path ? path : "/", st);
	else
		snprintf(c->errmsg, sizeof(c->errmsg), "%s: %s", op, st);
	c->last_status = status;
	return err;
}

int smb_failf(struct smb_client *c, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->errmsg, sizeof(c->errmsg), fmt, ap);
	va_end(ap);
	c->last_status = 0;
	return err;
}

void smb_conn_fail(struct smb_client *c, int err, const char *why)
{
	if (c->dead)
		return;
	if (why)
		smb_failf(c, err < 0 ? err : SMBG_EIO, "%s", why);
	if (c->recon && smb_recon_drop(c, err)) /* parked, reconnecting */
		return;
	c->dead = err < 0 ? err : SMBG_EIO;
	log_debug("connection failed: %s", c->errmsg);
	char saved[sizeof(c->errmsg)];
	memcpy(saved, c->errmsg, sizeof(saved));
	if (c->ops && c->ops->fail_all)
		c->ops->fail_all(c, c->dead);
	memcpy(c->errmsg, saved, sizeof(saved));
	if (c->t.fd >= 0)
		smb_transport_close(&c->t);
}

void smb_client_abort(struct smb_client *c, int err, const char *why)
{
	smb_conn_fail(c, err, why); /* with reconnect on, what was in flight is parked... */
	if (c->recon)
		smb_recon_fail_parked(c, err); /* ...and fails here, not after the reconnect */
}

struct smb_file *smb_file_new(struct smb_client *c, const char *path)
{
	struct smb_file *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->path = strdup(path);
	if (!f->path) {
		free(f);
		return NULL;
	}
	f->next = c->files;
	if (c->files)
		c->files->prev = f;
	c->files = f;
	f->linked = 1;
	return f;
}

void smb_file_detach(struct smb_client *c, struct smb_file *f)
{
	if (!f->linked)
		return;
	if (f->prev)
		f->prev->next = f->next;
	else
		c->files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	f->next = f->prev = NULL;
	f->linked = 0;
}

void smb_file_free(struct smb_client *c, struct smb_file *f)
{
	if (!f)
		return;
	smb_file_detach(c, f);
	free(f->path);
	free(f);
}

static int frame_cb(void *priv, uint8_t *buf, size_t len)
{
	struct smb_client *c = priv;
	c->last_rx_ms = clock_now_ms();
	return c->ops->on_frame(c, buf, len);
}

int smb_client_fd(const struct smb_client *c)
{
	return c->t.fd;
}

short smb_client_events(const struct smb_client *c)
{
	if (c->t.fd < 0)
		return 0;
	return POLLIN | (smb_transport_has_output(&c->t) ? POLLOUT : 0);
}

size_t smb_client_pending(const struct smb_client *c)
{
	size_t n = c->ops && c->ops->pending ? c->ops->pending(c) : 0;
	return n + (c->recon ? c->recon->nparked : 0); /* parked: they run after a reconnect */
}

static const char *closed_msg(struct smb_client *c)
{
	static const char *m = "the server closed the connection";
	(void)c;
	return m;
}

/* Fails the connection when a request (in flight or waiting to be sent) is past its deadline.
 * The scan walks every request, so it runs at most once per EXPIRY_SCAN_MS; called by
 * smb_client_service() and by smb_wait() after an idle poll. */
static int check_expiry(struct smb_client *c)
{
	if (c->dead || !c->timeout_ms || !c->ops || !c->ops->next_deadline)
		return c->dead;
	int64_t now = clock_now_ms();
	if (now - c->last_expiry_check < EXPIRY_SCAN_MS)
		return 0;
	c->last_expiry_check = now;
	int64_t d = c->ops->next_deadline(c);
	if (d && now > d) {
		char why[96];
		snprintf(why, sizeof(why),
			 "the server did not answer within %d s (connection dropped)",
			 c->timeout_ms / 1000);
		smb_conn_fail(c, SMBG_ETIMEDOUT, why);
		return c->dead;
	}
	return 0;
}

int smb_client_next_deadline_ms(const struct smb_client *c)
{
	if (c->dead)
		return -1;
	/* While reconnecting, the machine's next attempt or parked deadline comes first. */
	if (c->recon && smb_recon_down(c))
		return smb_recon_wait_ms(c, 1000); /* parked deadlines are checked each second */
	if (!c->timeout_ms || !c->ops || !c->ops->next_deadline)
		return -1;
	int64_t d = c->ops->next_deadline(c);
	if (!d)
		return -1;
	int64_t now = clock_now_ms();
	int64_t wait = d + 1 - now; /* a request expires once now > its deadline */
	int64_t scan = c->last_expiry_check + EXPIRY_SCAN_MS - now;
	if (wait < scan)
		wait = scan; /* the check would not look before then */
	if (wait < 0)
		wait = 0;
	return wait > INT_MAX ? INT_MAX : (int)wait;
}

int64_t smb_client_idle_ms(const struct smb_client *c)
{
	if (c->t.fd < 0 || !c->last_rx_ms)
		return 0;
	int64_t idle = clock_now_ms() - c->last_rx_ms;
	return idle > 0 ? idle : 0;
}

int smb_client_service(struct smb_client *c, short revents)
{
	if (c->dead)
		return c->dead;
	int rc = 0;
	if (c->recon && (rc = smb_recon_service(c)) < 0)
		return rc;
	if (c->t.fd < 0)
		return c->dead; /* down, reconnecting */
	if (revents & (POLLIN | POLLHUP | POLLERR)) {
		rc = smb_transport_read(&c->t, frame_cb, c);
		if (rc < 0) {
			if (rc == SMBG_ECLOSED)
				smb_conn_fail(c, rc, closed_msg(c));
			else if (rc == SMBG_EIO || rc == SMBG_ETOOBIG)
				smb_conn_fail(c, rc, "reading from the server failed");
			else
				smb_conn_fail(c, rc, NULL); /* the message is already set */
			return c->dead;
		}
	}
	if (smb_transport_has_output(&c->t)) {
		rc = smb_transport_flush(&c->t);
		if (rc < 0) {
			smb_conn_fail(c, rc,
				      rc == SMBG_ECLOSED ? closed_msg(c)
							 : "writing to the server failed");
			return c->dead;
		}
	}
	return check_expiry(c);
}

int smb_wait(struct smb_client *c, const int *done)
{
	while (!*done) {
		if (c->dead)
			return c->dead;
		if (c->recon) {
			int rc = smb_recon_service(c);
			if (rc < 0)
				return rc;
			if (*done)
				break;
		}
		/* Push queued output before sleeping: most waits follow a submit. */
		if (smb_transport_has_output(&c->t)) {
			int rc = smb_client_service(c, 0);
			if (rc < 0)
				return rc;
			if (*done)
				break;
		}
		struct pollfd p = {.fd = c->t.fd, .events = smb_client_events(c)};
		int r = poll(&p, 1, smb_recon_wait_ms(c, 1000));
		if (r < 0) {
			if (errno == EINTR)
				continue;
			smb_conn_fail(c, SMBG_EIO, "poll failed");
			return c->dead;
		}
		if (r > 0) {
			int rc = smb_client_service(c, p.revents);
			if (rc < 0)
				return rc;
		} else if (p.fd >= 0 && check_expiry(c) < 0)
			return c->dead;
	}
	return 0;
}

int smb_client_connect(struct smb_client *c)
{
	char err[256];
	int rc;
	uint16_t port =
	    c->url.port ? c->url.port : (c->url.transport == SMB_TRANSPORT_NETBIOS ? 139 : 445);
	if (!c->url.share || !*c->url.share)
		return smb_failf(c, SMBG_EINVAL, "the URL names no share (smb://host/share/...)");
	c->stage = SMB_STAGE_CONNECT;
	err[0] = 0;
	c->t.nb_wins = c->url.wins; /* for host names only NetBIOS knows */
	c->t.nb_broadcast = c->url.broadcast;
	if (c->url.transport == SMB_TRANSPORT_NETBIOS) {
		c->t.netbios = 1;
		c->t.frame_max = SMB_FRAME_MAX_NETBIOS;
		rc = smb_nbss_session_request(&c->t, c->url.host, port, c->timeout_ms, err,
					      sizeof(err));
	} else {
		rc = smb_transport_connect(&c->t, c->url.host, port, c->timeout_ms, err,
					   sizeof(err));
	}
	if (rc < 0) {
		if (rc == SMBG_ERESOLVE)
			c->stage = SMB_STAGE_RESOLVE;
		return smb_failf(c, rc, "%s", err);
	}
	c->last_rx_ms = clock_now_ms(); /* idle time counts from the connect */
	c->stage = SMB_STAGE_NEGOTIATE;
	if (c->url.min_protocol <= SMB_DIALECT_NT1) {
		/* SMB1 allowed: the multi-protocol NEGOTIATE picks SMB1 or goes on with SMB2. */
		if ((rc = smb1_negotiate(c)) < 0)
			return rc;
	} else {
		c->ops = &smb2_ops;
		if ((rc = smb2_state_init(c)) < 0)
			return smb_failf(c, rc, "cannot set up the connection: %s",
					 smbg_strerror(rc));
		if ((rc = smb2_negotiate(c)) < 0)
			return rc;
	}
	if ((rc = c->ops->login(c)) < 0)
		return rc;
	c->stage = SMB_STAGE_READY;
	if (c->recon)
		c->recon->was_ready = 1; /* from now on a drop is reconnected */
	return 0;
}

void smb_client_free(struct smb_client *c)
{
	if (!c)
		return;
	/* No reconnect for the teardown: parked requests fail (their callbacks run). */
	smb_recon_free(c);
	if (c->ops && !c->dead && c->t.fd >= 0 && c->stage == SMB_STAGE_READY) {
		/* Close what the caller left open, then log off. */
		while (c->files)
			(void)smb_close(c, c->files); /* frees the handle whatever happens */
		c->ops->logout(c);
	}
	if (c->ops && c->ops->free_state)
		c->ops->free_state(c);
	while (c->files)
		smb_file_free(c, c->files);
	smb_transport_close(&c->t);
	smb_url_free(&c->url);
	OPENSSL_cleanse(c, sizeof(*c));
	free(c);
}

int smb_client_set_reconnect(struct smb_client *c, int on)
{
	return smb_recon_enable(c, on);
}

void smb_client_set_reconnect_attempts(struct smb_client *c, unsigned n)
{
	if (c->recon)
		c->recon->max_attempts = n;
}

unsigned smb_client_reconnects(const struct smb_client *c)
{
	return c->recon ? c->recon->reconnects : 0;
}

int smb_client_reconnecting(const struct smb_client *c)
{
	return smb_recon_down(c);
}

int smb_client_reconnect_gave_up(const struct smb_client *c)
{
	return c->recon && c->recon->state == SMB_RECON_FAILED;
}

enum smb_stage smb_client_stage(const struct smb_client *c)
{
	return c->stage;
}

const char *smb_client_errmsg(const struct smb_client *c)
{
	return c->errmsg;
}

uint32_t smb_client_ntstatus(const struct smb_client *c)
{
	return c->last_status;
}

uint16_t smb_client_dialect(const struct smb_client *c)
{
	return c->dialect;
}

int smb_client_signing(const struct smb_client *c)
{
	return c->signing;
}

int smb_client_encryption(const struct smb_client *c)
{
	return c->encryption;
}

uint32_t smb_client_max_read(const struct smb_client *c)
{
	return c->max_read;
}

uint32_t smb_client_max_write(const struct smb_client *c)
{
	return c->max_write;
}

const char *smb_client_base_path(const struct smb_client *c)
{
	return c->url.path ? c->url.path : "";
}

/* ---- async entry points: the ops table ---- */

static int ready(struct smb_client *c)
{
	if (c->dead)
		return c->dead;
	if (!c->ops || c->stage != SMB_STAGE_READY)
		return smb_failf(c, SMBG_EINVAL, "not connected");
	return 0;
}

int smb_open_async(struct smb_client *c, const char *path, int flags, struct smb_file **out,
		   smb_cb cb, void *priv)
{
	int rc = ready(c);
	return rc < 0 ? rc : c->ops->open(c, path, flags, 0, out, NULL, cb, priv);
}

int smb_open_stat_async(struct smb_client *c, const char *path, int flags, struct smb_file **out,
			struct smb_stat *st, smb_cb cb, void *priv)
{
	int rc = ready(c);
	return rc < 0 ? rc : c->ops->open(c, path, flags, 0, out, st, cb, priv);
}

int smb_close_async(struct smb_client *c, struct smb_file *f, smb_cb cb, void *priv)
{
	int rc = ready(c);
	if (rc < 0) {
		smb_file_free(c, f);
		return rc;
	}
	return c->ops->close(c, f, cb, priv);
}

int smb_pread_async(struct smb_client *c, struct smb_file *f, void *buf, size_t len, uint64_t off,
		    smb_cb cb, void *priv)
{
	int rc = ready(c);
	return rc < 0 ? rc : smb_shortio_read(c, f, buf, len, off, cb, priv);
}

int smb_pwrite_async(struct smb_client *c, struct smb_file *f, const void *buf, size_t len,
		     uint64_t off, smb_cb cb, void *priv)
{
	int rc = ready(c);
	return rc < 0 ? rc : smb_shortio_write(c, f, buf, len, off, cb, priv);
}

int smb_pwrite_file_async(struct smb_client *c, struct smb_file *f, int fd, uint64_t fd_off,
			  size_t len, uint64_t off, smb_cb cb, void *priv)
{
	int rc = ready(c);
	if (rc < 0)
		return rc;
	if (!c->ops->write_file)
		return SMBG_ENOTSUP;
	return smb_shortio_write_file(c, f, fd, fd_off, len, off, cb, priv);
}

int smb_fstat_async(struct smb_client *c, struct smb_file *f, struct smb_stat *st, smb_cb cb,
		    void *priv)
{
	int rc = ready(c);
	return rc < 0 ? rc : c->ops->fstat(c, f, st, cb, priv);
}

int smb_flush_async(struct smb_client *c, struct smb_file *f, smb_cb cb, void *priv)
{
	int rc = ready(c);
	return rc < 0 ? rc : c->ops->flush(c, f, cb, priv);
}

int smb_echo_async(struct smb_client *c, smb_cb cb, void *priv)
{
	int rc = ready(c);
	return rc < 0 ? rc : c->ops->echo(c, cb, priv);
}

int smb_frename_async(struct smb_client *c, struct smb_file *f, const char *to, int replace,
		      smb_cb cb, void *priv)
{
	int rc = ready(c);
	return rc < 0 ? rc : c->ops->rename(c, f, to, replace, cb, priv);
}
