#include "ssh/sources.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smbgate/err.h"
#include "ssh/ssh.h"
#include "util/clock.h"

struct source {
	uint8_t addr[16]; /* IPv6, or IPv4 mapped into it */
	int used;
	int conns, startups;
	int fails;
	int64_t last_fail_ms, wait_until_ms;
};

struct ssh_sources {
	pthread_mutex_t lock;
	const struct ssh_serve_opts *o;
	struct source *e;
	size_t n;
	int conns, startups; /* totals */
	uint64_t rnd;	     /* xorshift state for the random early drop */
};

struct ssh_sources *ssh_sources_new(const struct ssh_serve_opts *o)
{
	struct ssh_sources *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	/* every open connection has its entry, so admitting never finds the table full */
	t->n = (size_t)(o->max_conns > 0 ? o->max_conns : 0) + SOURCE_SPARE_ENTRIES;
	t->e = calloc(t->n, sizeof(*t->e));
	if (!t->e) {
		free(t);
		return NULL;
	}
	pthread_mutex_init(&t->lock, NULL);
	t->o = o;
	t->rnd = (uint64_t)clock_now_ms() * 0x9E3779B97F4A7C15ull | 1;
	return t;
}

void ssh_sources_free(struct ssh_sources *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t->e);
	free(t);
}

static void key_of(const struct sockaddr_storage *a, uint8_t k[16])
{
	memset(k, 0, 16);
	if (a->ss_family == AF_INET6) {
		memcpy(k, &((const struct sockaddr_in6 *)a)->sin6_addr, 16);
	} else if (a->ss_family == AF_INET) {
		k[10] = k[11] = 0xff;
		memcpy(k + 12, &((const struct sockaddr_in *)a)->sin_addr, 4);
	}
}

static int forgotten(const struct source *s, int64_t now)
{
	return s->conns == 0 && s->startups == 0 &&
	       (s->fails == 0 || now - s->last_fail_ms >= SOURCE_FORGET_MS);
}

/* The entry for a, made when create is set (reusing a forgotten one, else evicting the
 * address whose last failure is oldest among those without connections). Under the lock. */
static struct source *find(struct ssh_sources *t, const struct sockaddr_storage *a, int create)
{
	uint8_t k[16];
	key_of(a, k);
	int64_t now = clock_now_ms();
	struct source *free_e = NULL, *oldest = NULL;
	for (size_t i = 0; i < t->n; i++) {
		struct source *s = &t->e[i];
		if (s->used && memcmp(s->addr, k, 16) == 0)
			return s;
		if (!create)
			continue;
		if (!s->used || forgotten(s, now)) {
			if (!free_e)
				free_e = s;
		} else if (s->conns == 0 && s->startups == 0 &&
			   (!oldest || s->last_fail_ms < oldest->last_fail_ms)) {
			oldest = s;
		}
	}
	if (!create)
		return NULL;
	struct source *s = free_e ? free_e : oldest;
	if (!s)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->used = 1;
	memcpy(s->addr, k, 16);
	return s;
}

/* OpenSSH's random early drop: between begin and full unauthenticated connections, refuse
 * with a probability growing from rate% to 100%. */
static int early_drop(struct ssh_sources *t)
{
	const struct ssh_serve_opts *o = t->o;
	if (t->startups < o->startups_begin)
		return 0;
	if (t->startups >= o->startups_full)
		return 1;
	int p = o->startups_rate + (100 - o->startups_rate) * (t->startups - o->startups_begin) /
				       (o->startups_full - o->startups_begin);
	t->rnd ^= t->rnd << 13;
	t->rnd ^= t->rnd >> 7;
	t->rnd ^= t->rnd << 17;
	return (int)(t->rnd % 100) < p;
}

int ssh_sources_admit(struct ssh_sources *t, const struct sockaddr_storage *a, char *why,
		      size_t len)
{
	const struct ssh_serve_opts *o = t->o;
	int rc = 0;
	pthread_mutex_lock(&t->lock);
	struct source *s = find(t, a, 1);
	if (o->max_conns > 0 && t->conns >= o->max_conns) {
		snprintf(why, len, "--max-connections (%d) reached", o->max_conns);
		rc = SMBG_EBUSY;
	} else if (!s) {
		snprintf(why, len, "no room to track this address");
		rc = SMBG_EBUSY;
	} else if (o->max_conns_per_source > 0 && s->conns >= o->max_conns_per_source) {
		snprintf(why, len, "--max-connections-per-source (%d) reached",
			 o->max_conns_per_source);
		rc = SMBG_EBUSY;
	} else if (o->startups_full > 0 &&
		   (s->startups > 0 ? early_drop(t) : t->startups >= o->startups_full)) {
		snprintf(why, len, "--max-startups: %d connections not logged in yet", t->startups);
		rc = SMBG_EBUSY;
	} else {
		s->conns++;
		s->startups++;
		t->conns++;
		t->startups++;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

void ssh_sources_logged_in(struct ssh_sources *t, const struct sockaddr_storage *a)
{
	pthread_mutex_lock(&t->lock);
	struct source *s = find(t, a, 0);
	if (s && s->startups > 0) {
		s->startups--;
		t->startups--;
	}
	pthread_mutex_unlock(&t->lock);
}

void ssh_sources_leave(struct ssh_sources *t, const struct sockaddr_storage *a, int startup)
{
	pthread_mutex_lock(&t->lock);
	struct source *s = find(t, a, 0);
	if (s) {
		if (startup && s->startups > 0) {
			s->startups--;
			t->startups--;
		}
		if (s->conns > 0) {
			s->conns--;
			t->conns--;
		}
	}
	pthread_mutex_unlock(&t->lock);
}

void ssh_sources_failed(struct ssh_sources *t, const struct sockaddr_storage *a)
{
	pthread_mutex_lock(&t->lock);
	struct source *s = find(t, a, 1);
	if (s) {
		int64_t now = clock_now_ms();
		if (s->fails > 0 && now - s->last_fail_ms >= SOURCE_FORGET_MS)
			s->fails = 0;
		if (s->fails < 30)
			s->fails++;
		int64_t d = SOURCE_PENALTY_MS;
		for (int i = 1; i < s->fails && d < SOURCE_PENALTY_MAX_MS; i++)
			d *= 2;
		if (d > SOURCE_PENALTY_MAX_MS)
			d = SOURCE_PENALTY_MAX_MS;
		s->last_fail_ms = now;
		s->wait_until_ms = now + d;
	}
	pthread_mutex_unlock(&t->lock);
}

int64_t ssh_sources_wait_until(struct ssh_sources *t, const struct sockaddr_storage *a)
{
	pthread_mutex_lock(&t->lock);
	struct source *s = find(t, a, 0);
	int64_t until = s && s->wait_until_ms > clock_now_ms() ? s->wait_until_ms : 0;
	pthread_mutex_unlock(&t->lock);
	return until;
}
