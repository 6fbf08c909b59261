/* The login of one connection: libssh's auth callbacks over auth.c's checks, the tries
 * counted as OpenSSH counts them (MaxAuthTries; a public key the server does not accept
 * counts, even as a probe), the login grace time, and the per-address delay after failed
 * logins (sources.c). */
#include <stdio.h>
#include <time.h>

#include "ssh/auth.h"
#include "ssh/internal.h"
#include "util/clock.h"
#include "util/log.h"

#define WAIT_SLICE_MS 100

/* A failed login from this address delays its next attempts, on every connection. The wait
 * is here, in the callback, against the rule that callbacks only record: before login the
 * connection has no channels and no backend, so nothing else on this thread waits with it;
 * the wait ends at the grace time and at a stop signal. */
static void wait_penalty(struct conn *cn)
{
	struct server *srv = cn->srv;
	for (;;) {
		int64_t until = ssh_sources_wait_until(srv->sources, &cn->addr);
		int64_t now = clock_now_ms();
		if (cn->grace_end_ms && until > cn->grace_end_ms)
			until = cn->grace_end_ms;
		if (until <= now || atomic_load(&srv->stop))
			return;
		int64_t ms = until - now < WAIT_SLICE_MS ? until - now : WAIT_SLICE_MS;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)ms * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* 1 once MaxAuthTries is used up: further attempts (pipelined ones too) are denied unseen. */
static int tries_over(const struct conn *cn)
{
	int max = cn->srv->o->max_auth_tries;
	return max > 0 && cn->auth_tries >= max;
}

static void auth_failed(struct conn *cn, const char *method, const char *user)
{
	cn->auth_tries++;
	ssh_sources_failed(cn->srv->sources, &cn->addr);
	log_warn("failed %s login for %s from %s", method, user ? user : "?", cn->peer);
	wait_penalty(cn); /* the failure is answered late, as sshd does */
}

static void auth_ok(struct conn *cn, const char *method, const char *user)
{
	cn->authenticated = 1;
	if (cn->startup) {
		ssh_sources_logged_in(cn->srv->sources, &cn->addr);
		cn->startup = 0;
	}
	snprintf(cn->user, sizeof(cn->user), "%s", user ? user : "-");
	snprintf(cn->who, sizeof(cn->who), "%s@%s", cn->user, cn->peer);
	log_info("%s logged in (%s)", cn->who, method);
}

static int on_auth_password(ssh_session s, const char *user, const char *pass, void *userdata)
{
	struct conn *cn = userdata;
	(void)s;
	if (cn->srv->o->no_auth) {
		auth_ok(cn, "password", user);
		return SSH_AUTH_SUCCESS;
	}
	if (tries_over(cn))
		return SSH_AUTH_DENIED;
	wait_penalty(cn);
	if (ssh_auth_password_ok(cn->srv->o, user, pass)) {
		auth_ok(cn, "password", user);
		return SSH_AUTH_SUCCESS;
	}
	auth_failed(cn, "password", user);
	return SSH_AUTH_DENIED;
}

static int on_auth_none(ssh_session s, const char *user, void *userdata)
{
	struct conn *cn = userdata;
	(void)s;
	if (cn->srv->o->no_auth) {
		auth_ok(cn, "none", user);
		return SSH_AUTH_SUCCESS;
	}
	return SSH_AUTH_DENIED; /* clients probe with "none" first: not a failure */
}

static int on_auth_pubkey(ssh_session s, const char *user, struct ssh_key_struct *key, char state,
			  void *userdata)
{
	struct conn *cn = userdata;
	(void)s;
	if ((state != SSH_PUBLICKEY_STATE_NONE && state != SSH_PUBLICKEY_STATE_VALID) ||
	    (!cn->srv->o->no_auth && tries_over(cn)))
		return SSH_AUTH_DENIED;
	int ok = cn->srv->o->no_auth || ssh_auth_pubkey_ok(cn->srv->o, user, key);
	if (state == SSH_PUBLICKEY_STATE_NONE) { /* a probe: is this key acceptable? */
		if (!ok)
			cn->auth_tries++; /* as sshd: offering keys is trying them */
		return ok ? SSH_AUTH_SUCCESS : SSH_AUTH_DENIED;
	}
	if (!cn->srv->o->no_auth)
		wait_penalty(cn);
	if (ok) {
		auth_ok(cn, "publickey", user);
		return SSH_AUTH_SUCCESS;
	}
	auth_failed(cn, "publickey", user);
	return SSH_AUTH_DENIED;
}

void login_setup(struct conn *cn)
{
	const struct ssh_serve_opts *o = cn->srv->o;
	cn->scb.userdata = cn;
	cn->scb.auth_password_function = on_auth_password;
	cn->scb.auth_none_function = on_auth_none;
	cn->scb.auth_pubkey_function = on_auth_pubkey;
	cn->scb.channel_open_request_session_function = chan_open_cb;
	ssh_callbacks_init(&cn->scb);
	ssh_set_server_callbacks(cn->s, &cn->scb);
	int methods = 0;
	if (o->no_auth)
		methods |=
		    SSH_AUTH_METHOD_NONE | SSH_AUTH_METHOD_PASSWORD | SSH_AUTH_METHOD_PUBLICKEY;
	if (o->user && o->pass)
		methods |= SSH_AUTH_METHOD_PASSWORD;
	if (ssh_auth_keys_file(o))
		methods |= SSH_AUTH_METHOD_PUBLICKEY;
	ssh_set_auth_methods(cn->s, methods);
}

int login_expired(struct conn *cn)
{
	if (cn->authenticated)
		return 0;
	if (tries_over(cn)) {
		log_warn("%s: too many login attempts (%d), disconnecting", cn->peer,
			 cn->auth_tries);
		return 1;
	}
	if (cn->grace_end_ms && clock_now_ms() >= cn->grace_end_ms) {
		log_warn("%s: no login within --login-grace-time (%d s), disconnecting", cn->peer,
			 cn->srv->o->login_grace);
		return 1;
	}
	return 0;
}
