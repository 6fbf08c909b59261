/* Client addresses and what the limits count per address (OpenSSH's MaxStartups,
 * PerSourcePenalties): connections open, connections not yet logged in, failed logins and
 * the delay they impose on the address's next login attempts. One table per server,
 * bounded, shared by every connection thread (its own lock). */
#ifndef SMBGATE_SSH_SOURCES_H
#define SMBGATE_SSH_SOURCES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ssh_serve_opts;
struct ssh_sources;

/* The first failed login delays the address's next attempts by this much; each further
 * failure doubles it, up to SOURCE_PENALTY_MAX_MS. An address with no failure for
 * SOURCE_FORGET_MS starts afresh. */
#define SOURCE_PENALTY_MS     1000
#define SOURCE_PENALTY_MAX_MS 30000
#define SOURCE_FORGET_MS      (10 * 60 * 1000)
/* Addresses remembered for their penalties alone, beyond those with connections open. */
#define SOURCE_SPARE_ENTRIES 1024

/* o is borrowed (the limits) and must outlive the table. NULL on allocation failure. */
struct ssh_sources *ssh_sources_new(const struct ssh_serve_opts *o);
void ssh_sources_free(struct ssh_sources *t);

/* A new connection from a: admitted (returns 0; it counts as open and as a startup until
 * ssh_sources_logged_in), or refused (< 0, the reason in why): --max-connections,
 * --max-connections-per-source, or --max-startups (beyond its start, refused at random with
 * a growing probability; a connection from an address that has no startup in progress is
 * only refused at its full mark, so that one flooding address cannot crowd the others out
 * by chance). */
int ssh_sources_admit(struct ssh_sources *t, const struct sockaddr_storage *a, char *why,
		      size_t len);
/* The connection from a logged in: no longer a startup. */
void ssh_sources_logged_in(struct ssh_sources *t, const struct sockaddr_storage *a);
/* The connection from a ended (startup: it had not logged in). */
void ssh_sources_leave(struct ssh_sources *t, const struct sockaddr_storage *a, int startup);
/* A failed login from a: its next attempts wait longer. */
void ssh_sources_failed(struct ssh_sources *t, const struct sockaddr_storage *a);
/* Until when (clock_now_ms) a login attempt from a must wait; 0 when it need not. */
int64_t ssh_sources_wait_until(struct ssh_sources *t, const struct sockaddr_storage *a);

#endif
