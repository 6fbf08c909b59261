/* The listener: our own sockets, the accept loop with its admission limits (sources.c),
 * one thread per admitted connection (session.c), the stop signals and the statistics line.
 *
 * When the process runs out of descriptors (EMFILE/ENFILE), accept fails while the
 * connection stays queued, and a poll loop would spin on it: a spare descriptor is kept to
 * accept-and-close the queue, and the loop backs off before accepting again. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ssh/auth.h"
#include "ssh/hostkey.h"
#include "ssh/internal.h"
#include "util/clock.h"
#include "util/log.h"

#define MAX_LISTEN	   8
#define LISTEN_BACKLOG	   128
#define EMFILE_BACKOFF_MS  100
#define SHED_PER_ROUND	   64
#define REFUSED_LOG_MS	   10000 /* refused connections are summed up this often */
#define STOP_DEADLINE_MS   8000	 /* a stop ends the process by then, finished or not */
#define STOP_WAIT_SLICE_MS 50

static struct server *g_srv; /* for the signal handler only */
static int g_wake[2] = {-1, -1};

void ssh_serve_opts_default(struct ssh_serve_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->addr = "localhost:2022";
	o->startups_begin = 10;
	o->startups_rate = 30;
	o->startups_full = 100;
	o->login_grace = 30;
	o->max_conns = 256;
	o->max_conns_per_source = 32;
	o->max_sessions = 10;
	o->max_auth_tries = 6;
}

static int split_addr(const char *addr, char *host, size_t hl, char *port, size_t pl)
{
	const char *colon;
	if (addr[0] == '[') {
		const char *end = strchr(addr, ']');
		if (!end || end[1] != ':')
			return -1;
		snprintf(host, hl, "%.*s", (int)(end - addr - 1), addr + 1);
		colon = end + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return -1;
		snprintf(host, hl, "%.*s", (int)(colon - addr), addr);
	}
	snprintf(port, pl, "%s", colon + 1);
	return port[0] ? 0 : -1;
}

static int is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

/* 1 when every address --addr names is a loopback one, 0 when one is not, < 0 when it
 * cannot be resolved (the listener then says why). */
static int addr_loopback_only(const char *addr)
{
	char host[256], port[32];
	if (split_addr(addr, host, sizeof(host), port, sizeof(port)) < 0)
		return -1;
	if (!host[0])
		return 0; /* ":PORT": every interface */
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if (getaddrinfo(host, port, &hints, &res) != 0)
		return -1;
	int all = res != NULL;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
		all = all && is_loopback(ai->ai_addr);
	freeaddrinfo(res);
	return all;
}

int ssh_serve_check(const struct ssh_serve_opts *o, char *why, size_t len)
{
	if ((o->user && !o->pass) || (!o->user && o->pass)) {
		snprintf(why, len, "--user and --pass go together");
		return SMBG_EINVAL;
	}
	if (o->startups_begin < 0 || o->startups_rate < 0 || o->startups_rate > 100 ||
	    o->startups_full < o->startups_begin) {
		snprintf(why, len,
			 "invalid --max-startups (START:RATE:FULL, RATE 0-100, "
			 "START <= FULL)");
		return SMBG_EINVAL;
	}
	if (o->no_auth && !o->no_auth_anywhere && addr_loopback_only(o->addr) == 0) {
		snprintf(why, len,
			 "--no-auth lets anyone in, and --addr %s is not a loopback address: "
			 "add --no-auth-anywhere if that is really meant",
			 o->addr);
		return SMBG_EINVAL;
	}
	if (o->no_auth || (o->user && o->pass) || ssh_auth_keys_file(o))
		return 0;
	snprintf(why, len,
		 "no way to log in was given: use --user NAME --pass PASSWORD (or --pass-file), "
		 "--authorized-keys FILE, or --no-auth (anyone may log in)");
	return SMBG_EINVAL;
}

static int listen_on(const char *addr, int *fds, int max, char *why, size_t len)
{
	char host[256], port[32];
	if (split_addr(addr, host, sizeof(host), port, sizeof(port)) < 0) {
		snprintf(why, len, "invalid --addr '%s' (HOST:PORT, :PORT or [IPv6]:PORT)", addr);
		return -1;
	}
	struct addrinfo hints, *res = NULL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	int gr = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
	if (gr != 0) {
		snprintf(why, len, "cannot resolve --addr '%s': %s", addr, gai_strerror(gr));
		return -1;
	}
	int n = 0;
	int last_errno = 0;
	for (struct addrinfo *ai = res; ai && n < max; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
				ai->ai_protocol);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
			last_errno = errno;
			close(fd);
			continue;
		}
		fds[n++] = fd;
	}
	freeaddrinfo(res);
	if (n == 0) {
		snprintf(why, len, "cannot listen on %s: %s", addr,
			 last_errno ? strerror(last_errno) : "no usable address");
		return -1;
	}
	return n;
}

static void on_stop_signal(int sig)
{
	(void)sig;
	if (g_srv)
		atomic_store(&g_srv->stop, 1);
	if (g_wake[1] >= 0)
		(void)!write(g_wake[1], "x", 1);
}

static void describe_peer(const struct sockaddr_storage *ss, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		port = ntohs(a->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		port = ntohs(a->sin6_port);
	}
	snprintf(out, len, "%s:%d", host, port);
}

static void log_stats(struct server *srv, unsigned long long *last_r, unsigned long long *last_w,
		      int interval)
{
	unsigned long long r = atomic_load(&srv->bytes_read);
	unsigned long long w = atomic_load(&srv->bytes_written);
	double mr = (double)(r - *last_r) / 1e6 / interval;
	double mw = (double)(w - *last_w) / 1e6 / interval;
	log_msg(LOG_ERROR,
		"stats: %d connections open, %llu so far; sent %.1f MB (%.1f MB/s), received "
		"%.1f MB (%.1f MB/s), %llu requests",
		atomic_load(&srv->active), atomic_load(&srv->total_conns), (double)r / 1e6, mr,
		(double)w / 1e6, mw, atomic_load(&srv->requests));
	*last_r = r;
	*last_w = w;
}

/* ---- accepting ---- */

struct acceptor {
	struct server *srv;
	ssh_bind b;
	int spare; /* a descriptor given up to accept-and-close when none is left, or -1 */
	int64_t backoff_until;
	int64_t refused_since;
	unsigned long refused; /* connections refused since refused_since */
	char refused_why[160];
};

/* Refused connections are logged as a sum every REFUSED_LOG_MS: a flood must not flood the
 * log too. */
static void refused_flush(struct acceptor *a)
{
	int64_t now = clock_now_ms();
	if (a->refused == 0 || now - a->refused_since < REFUSED_LOG_MS)
		return;
	log_warn("refused %lu connections in %lld s (last: %s)", a->refused,
		 (long long)(now - a->refused_since) / 1000, a->refused_why);
	a->refused = 0;
}

static void note_refused(struct acceptor *a, const char *why)
{
	if (a->refused == 0)
		a->refused_since = clock_now_ms();
	a->refused++;
	snprintf(a->refused_why, sizeof(a->refused_why), "%s", why);
	log_debug("connection refused: %s", why);
	refused_flush(a);
}

/* Out of descriptors: give the spare up, accept-and-close what is queued, take it back. */
static void shed(struct acceptor *a, int lfd)
{
	if (a->spare >= 0) {
		close(a->spare);
		a->spare = -1;
	}
	for (int i = 0; i < SHED_PER_ROUND; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			break;
		close(fd);
		note_refused(a, "out of file descriptors");
	}
	a->spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	a->backoff_until = clock_now_ms() + EMFILE_BACKOFF_MS;
}

static void start_session(struct acceptor *a, int cfd, const struct sockaddr_storage *ss)
{
	struct server *srv = a->srv;
	char why[160];
	if (ssh_sources_admit(srv->sources, ss, why, sizeof(why)) < 0) {
		close(cfd);
		note_refused(a, why);
		return;
	}
	int one = 1;
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct conn *cn = calloc(1, sizeof(*cn));
	ssh_session s = cn ? ssh_new() : NULL;
	if (!s || ssh_bind_accept_fd(a->b, s, cfd) != SSH_OK) {
		log_error("cannot accept a connection: %s",
			  s ? ssh_get_error(a->b) : "out of memory");
		if (s)
			ssh_free(s);
		else
			close(cfd);
		free(cn);
		ssh_sources_leave(srv->sources, ss, 1);
		return;
	}
	cn->srv = srv;
	cn->s = s;
	cn->addr = *ss;
	cn->startup = 1;
	describe_peer(ss, cn->peer, sizeof(cn->peer));
	snprintf(cn->who, sizeof(cn->who), "?@%s", cn->peer);
	atomic_fetch_add(&srv->active, 1);
	atomic_fetch_add(&srv->total_conns, 1);
	pthread_attr_t attr;
	pthread_t t;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, session_main, cn) != 0) {
		note_refused(a, "cannot start a thread");
		atomic_fetch_sub(&srv->active, 1);
		ssh_sources_leave(srv->sources, ss, 1);
		ssh_free(s);
		free(cn);
	}
	pthread_attr_destroy(&attr);
}

static void accept_one(struct acceptor *a, int lfd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	int cfd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
	if (cfd >= 0) {
		start_session(a, cfd, &ss);
		return;
	}
	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
		shed(a, lfd);
	} else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
		   errno != ECONNABORTED) {
		log_warn("accept: %s", strerror(errno));
		a->backoff_until = clock_now_ms() + EMFILE_BACKOFF_MS;
	}
}

/* ---- serving ---- */

/* The connections get STOP_DEADLINE_MS to close their files; 0 once all have, else the
 * number still running. */
static int wait_sessions(struct server *srv)
{
	int64_t end = clock_now_ms() + STOP_DEADLINE_MS;
	int warned = 0;
	while (atomic_load(&srv->active) > 0 && clock_now_ms() < end) {
		if (!warned && end - clock_now_ms() < STOP_DEADLINE_MS / 2) {
			log_warn("waiting for %d connections to close their files",
				 atomic_load(&srv->active));
			warned = 1;
		}
		struct timespec ts = {.tv_sec = 0, .tv_nsec = STOP_WAIT_SLICE_MS * 1000000L};
		nanosleep(&ts, NULL);
	}
	return atomic_load(&srv->active);
}

static void serve_loop(struct acceptor *a, const int *fds, int nfd)
{
	struct server *srv = a->srv;
	const struct ssh_serve_opts *o = srv->o;
	int64_t next_stats =
	    o->stats_interval > 0 ? clock_now_ms() + o->stats_interval * 1000LL : 0;
	unsigned long long last_r = 0, last_w = 0;
	while (!atomic_load(&srv->stop)) {
		struct pollfd pfds[MAX_LISTEN + 1];
		int64_t now = clock_now_ms();
		int backoff = now < a->backoff_until;
		int n = 0;
		for (int i = 0; i < nfd && !backoff; i++)
			pfds[n++] = (struct pollfd){.fd = fds[i], .events = POLLIN};
		pfds[n++] = (struct pollfd){.fd = g_wake[0], .events = POLLIN};
		int r = poll(pfds, (nfds_t)n, backoff ? (int)(a->backoff_until - now) : 1000);
		if (next_stats && clock_now_ms() >= next_stats) {
			log_stats(srv, &last_r, &last_w, o->stats_interval);
			next_stats = clock_now_ms() + o->stats_interval * 1000LL;
		}
		refused_flush(a);
		if (r <= 0 || backoff)
			continue;
		for (int i = 0; i < nfd; i++)
			if (pfds[i].revents & POLLIN)
				accept_one(a, fds[i]);
	}
}

int ssh_serve(struct vfs *v, const struct ssh_serve_opts *o, const struct sftp_opts *so)
{
	char why[512];
	if (ssh_serve_check(o, why, sizeof(why)) < 0) {
		log_error("%s", why);
		return SMBG_EINVAL;
	}
	ssh_init();
	/* on the heap, with its own copy of the options: after a stop that ran out of time the
	 * connection threads still use it while the process exits */
	struct server *srv = calloc(1, sizeof(*srv));
	if (!srv) {
		log_error("out of memory");
		return SMBG_ENOMEM;
	}
	srv->opts = *o;
	srv->o = &srv->opts;
	srv->v = v;
	srv->so = *so;
	struct acceptor a = {.srv = srv, .spare = -1};
	int fds[MAX_LISTEN];
	int nfd = 0, rc = 0;
	a.b = srv->bind = ssh_bind_new();
	srv->sources = ssh_sources_new(srv->o);
	if (!a.b || !srv->sources) {
		log_error("out of memory");
		rc = SMBG_ENOMEM;
		goto out;
	}
	bool no_config = false;
	ssh_bind_options_set(a.b, SSH_BIND_OPTIONS_PROCESS_CONFIG, &no_config);
	if (ssh_hostkeys_load(a.b, o, why, sizeof(why)) < 0) {
		log_error("%s", why);
		rc = SMBG_EINVAL;
		goto out;
	}
	nfd = listen_on(o->addr, fds, MAX_LISTEN, why, sizeof(why));
	if (nfd < 0) {
		log_error("%s", why);
		nfd = 0;
		rc = SMBG_EIO;
		goto out;
	}
	if (pipe2(g_wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		rc = SMBG_EIO;
		goto out;
	}
	a.spare = open("/dev/null", O_RDONLY | O_CLOEXEC);
	g_srv = srv;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fprintf(stderr, "smbgate serve sftp: serving %s on %s\n", vfs_backend_name(v), o->addr);

	serve_loop(&a, fds, nfd);
	/* stop: no new connections; the connection threads see srv->stop within a tick and
	 * close their files (the VFS they use must outlive them) */
	for (int i = 0; i < nfd; i++)
		close(fds[i]);
	nfd = 0;
	int left = wait_sessions(srv);
	if (left > 0) {
		/* they still use v, srv, the bind and the sources: left to the exit */
		log_warn("%d connections still busy after %d s; exiting anyway", left,
			 STOP_DEADLINE_MS / 1000);
		return SMBG_EBUSY;
	}
out:
	for (int i = 0; i < nfd; i++)
		close(fds[i]);
	if (a.spare >= 0)
		close(a.spare);
	if (g_wake[0] >= 0) {
		close(g_wake[0]);
		close(g_wake[1]);
		g_wake[0] = g_wake[1] = -1;
	}
	g_srv = NULL;
	ssh_sources_free(srv->sources);
	free(srv);
	ssh_bind_free(a.b);
	ssh_finalize();
	return rc;
}
