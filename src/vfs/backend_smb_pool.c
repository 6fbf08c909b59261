/* The SMB backend's pool of idle connections: a session that ends gives its healthy
 * connection back (at most POOL_MAX are kept) and the next session takes it, skipping the
 * SMB logon. A keeper thread ages idle connections out (logoff on the wire) and keeps the
 * others alive with an SMB ECHO. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "smbgate/smb.h"
#include "util/clock.h"
#include "util/log.h"
#include "vfs/backend_smb.h"

/* An idle connection is closed after pool_idle_ms (5 min) and kept alive with an SMB ECHO
 * every pool_echo_ms (1 min) until then; the keeper looks at most every 10 s. The tests
 * shorten them with SMBGATE_POOL_IDLE_MS / SMBGATE_POOL_ECHO_MS. */
#define POOL_IDLE_MS_DEFAULT (5 * 60 * 1000)
#define POOL_ECHO_MS_DEFAULT (60 * 1000)
#define POOL_TICK_MS_MAX     10000

static void *pool_keeper(void *arg);

static void env_ms(const char *name, int64_t *v)
{
	const char *e = getenv(name);
	if (e && *e) {
		char *end;
		long long x = strtoll(e, &end, 10);
		if (!*end && x > 0)
			*v = x;
	}
}

#define LOGOFF_TIMEOUT_S 2 /* an idle connection's goodbye is best effort */

/* Frees an idle connection: its logoff may wait LOGOFF_TIMEOUT_S at most (a server that does
 * not answer must not hold the exit or the keeper for --timeout). */
void smb_idle_free(struct smb_client *c)
{
	if (c)
		smb_client_set_timeout(c, LOGOFF_TIMEOUT_S);
	smb_client_free(c);
}

void smb_pool_config(struct smb_shared *sh)
{
	sh->pool_idle_ms = POOL_IDLE_MS_DEFAULT;
	sh->pool_echo_ms = POOL_ECHO_MS_DEFAULT;
	env_ms("SMBGATE_POOL_IDLE_MS", &sh->pool_idle_ms);
	env_ms("SMBGATE_POOL_ECHO_MS", &sh->pool_echo_ms);
}

/* An idle connection is usable if the server has not closed it meanwhile: nothing should
 * arrive on an idle connection, so anything readable (EOF, a disconnect) retires it. */
int smb_pool_usable(struct smb_client *c)
{
	int fd = smb_client_fd(c);
	if (fd < 0)
		return 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int r = poll(&p, 1, 0);
	if (r < 0 && errno != EINTR)
		return 0;
	if (r > 0 && smb_client_service(c, p.revents) < 0)
		return 0;
	return smb_client_fd(c) >= 0;
}

struct smb_client *smb_pool_take(struct smb_shared *sh)
{
	struct smb_client *c = NULL;
	struct smb_client *stale[POOL_MAX];
	int nstale = 0;
	int64_t now = clock_now_ms();
	pthread_mutex_lock(&sh->lock);
	while (sh->npool > 0 && !c) {
		int i = --sh->npool;
		if (now - sh->pool_since[i] > sh->pool_idle_ms)
			stale[nstale++] = sh->pool[i];
		else
			c = sh->pool[i];
	}
	pthread_mutex_unlock(&sh->lock);
	for (int i = 0; i < nstale; i++)
		smb_idle_free(stale[i]); /* logoff on the wire: outside the lock */
	if (c && !smb_pool_usable(c)) {
		smb_client_free(c);
		c = NULL;
	}
	return c;
}

/* Gives c back to the pool (under the lock); returns 0, or -1 when the pool is full. */
int smb_pool_put_locked(struct smb_shared *sh, struct smb_client *c, int64_t since, int64_t echo)
{
	if (sh->npool >= POOL_MAX)
		return -1;
	sh->pool[sh->npool] = c;
	sh->pool_since[sh->npool] = since;
	sh->pool_echo[sh->npool] = echo;
	sh->npool++;
	return 0;
}

/* One round of the keeper: connections idle past pool_idle_ms are closed (logoff on the
 * wire); the others get an ECHO when nothing was heard from them for pool_echo_ms (servers
 * drop idle clients: Windows after about 15 minutes). A connection is taken out of the pool
 * while the keeper uses it, so no session can take it meanwhile. */
static void pool_keep(struct smb_shared *sh)
{
	for (;;) {
		struct smb_client *c = NULL;
		int64_t since = 0, now = clock_now_ms();
		int expired = 0;
		pthread_mutex_lock(&sh->lock);
		for (int i = 0; i < sh->npool && !sh->stopping; i++) {
			expired = now - sh->pool_since[i] > sh->pool_idle_ms;
			if (expired || now - sh->pool_echo[i] >= sh->pool_echo_ms) {
				c = sh->pool[i];
				since = sh->pool_since[i];
				sh->pool[i] = sh->pool[--sh->npool];
				sh->pool_since[i] = sh->pool_since[sh->npool];
				sh->pool_echo[i] = sh->pool_echo[sh->npool];
				break;
			}
		}
		pthread_mutex_unlock(&sh->lock);
		if (!c)
			return;
		if (expired) {
			log_debug("smb: closing a connection idle for %d s",
				  (int)(sh->pool_idle_ms / 1000));
			smb_idle_free(c);
			continue;
		}
		pthread_mutex_lock(&sh->lock);
		sh->echoing = sh->stopping ? NULL : c;
		int stop = sh->stopping;
		pthread_mutex_unlock(&sh->lock);
		int rc = stop ? SMBG_ECANCELED : smb_echo(c);
		pthread_mutex_lock(&sh->lock);
		sh->echoing = NULL;
		pthread_mutex_unlock(&sh->lock);
		int keep = rc == 0 && smb_client_fd(c) >= 0;
		log_debug("smb: ECHO on an idle connection: %s", rc == 0 ? "answered" : "failed");
		if (keep) {
			pthread_mutex_lock(&sh->lock);
			keep = smb_pool_put_locked(sh, c, since, clock_now_ms()) == 0;
			pthread_mutex_unlock(&sh->lock);
		} else {
			log_debug("smb: an idle connection did not answer ECHO: %s",
				  smb_client_errmsg(c));
		}
		if (!keep)
			smb_idle_free(c);
	}
}

static void *pool_keeper(void *arg)
{
	struct smb_shared *sh = arg;
	int64_t tick =
	    sh->pool_echo_ms / 2 < POOL_TICK_MS_MAX ? sh->pool_echo_ms / 2 : POOL_TICK_MS_MAX;
	if (tick < 100)
		tick = 100;
	pthread_mutex_lock(&sh->lock);
	while (!sh->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += tick / 1000;
		until.tv_nsec += (tick % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		(void)pthread_cond_timedwait(&sh->wake, &sh->lock, &until);
		if (sh->stopping)
			break;
		pthread_mutex_unlock(&sh->lock);
		pool_keep(sh);
		pthread_mutex_lock(&sh->lock);
	}
	pthread_mutex_unlock(&sh->lock);
	return NULL;
}

void smb_pool_start(struct smb_shared *sh, struct smb_client *c)
{
	pthread_mutex_init(&sh->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&sh->wake, &ca);
	pthread_condattr_destroy(&ca);
	int64_t now = clock_now_ms();
	(void)smb_pool_put_locked(sh, c, now, now);
	sh->keeper_started = pthread_create(&sh->keeper, NULL, pool_keeper, sh) == 0;
	if (!sh->keeper_started)
		log_warn("smb: no pool keeper thread: idle connections age out only when taken");
}

void smb_pool_stop(struct smb_shared *sh)
{
	if (sh->keeper_started) {
		pthread_mutex_lock(&sh->lock);
		sh->stopping = 1;
		/* an ECHO to a server that does not answer would hold the exit for --timeout */
		if (sh->echoing && smb_client_fd(sh->echoing) >= 0)
			(void)shutdown(smb_client_fd(sh->echoing), SHUT_RDWR);
		pthread_cond_signal(&sh->wake);
		pthread_mutex_unlock(&sh->lock);
		pthread_join(sh->keeper, NULL);
	}
	for (int i = 0; i < sh->npool; i++)
		smb_idle_free(sh->pool[i]);
	pthread_cond_destroy(&sh->wake);
	pthread_mutex_destroy(&sh->lock);
}
