/* `smbgate serve sftp [flags] REMOTE`: the SFTP gateway. REMOTE is an smb:// URL or a local
 * folder. --stdio serves one session over stdin/stdout (OpenSSH's `Subsystem sftp`, or
 * `sftp -D`); otherwise the libssh listener serves --addr. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "sftp/sftp.h"
#include "ssh/ssh.h"
#include "util/log.h"
#include "vfs/vfs.h"

static struct vfs *hup_vfs; /* for the SIGHUP handler only */

static void on_sighup(int sig)
{
	(void)sig;
	if (hup_vfs)
		vfs_flush_caches(hup_vfs); /* an atomic increment: async-signal-safe */
}

static const char usage_text[] =
    "Usage: smbgate serve sftp [options] REMOTE\n"
    "\n"
    "Serves REMOTE (an smb:// URL or a local folder) over SFTP. Without --stdio it\n"
    "listens for SSH connections on --addr; with --stdio it speaks SFTP on stdin and\n"
    "stdout (for OpenSSH's `Subsystem sftp` or `sftp -D`).\n"
    "\n"
    "Listener:\n"
    "  --addr ADDR              listen address (default localhost:2022; :2022 = all)\n"
    "  --stdio                  serve one session over stdin/stdout, no SSH\n"
    "  --user NAME --pass PW    password authentication (or --pass-file FILE, whose\n"
    "                           first line is the password, or $SMBGATE_PASS)\n"
    "  --authorized-keys FILE   public keys allowed to log in\n"
    "                           (default ~/.ssh/authorized_keys when it exists)\n"
    "  --no-auth                allow anyone in without authentication (loopback\n"
    "                           addresses only, unless --no-auth-anywhere is given too)\n"
    "  --key FILE               host key (repeatable; default: generated once into\n"
    "                           ~/.cache/smbgate/serve-sftp)\n"
    "  --max-handles N          open files and directories per session (default 1024)\n"
    "  --stats DURATION         log transfer statistics this often (e.g. 1m)\n"
    "\n"
    "Limits (as OpenSSH's sshd):\n"
    "  --max-startups S:R:F     connections not logged in yet: beyond S refuse R%,\n"
    "                           growing to all at F (default 10:30:100)\n"
    "  --login-grace-time DURATION  key exchange and login must end within this\n"
    "                           (default 30s; 0 = no limit)\n"
    "  --max-connections N      connections in total (default 256)\n"
    "  --max-connections-per-source N  connections per client address (default 32)\n"
    "  --max-sessions N         channels per connection (default 10)\n"
    "\n"
    "VFS:\n"
    "  --read-only              refuse every change\n"
    "  --uid N, --gid N         owner shown for files (default: this process's)\n"
    "  --umask OCTAL            permission bits removed (default: this process's)\n"
    "  --file-perms OCTAL       file permissions (default 0666)\n"
    "  --dir-perms OCTAL        directory permissions (default 0777)\n"
    "  --dir-cache-time DURATION  how long listings are cached (default 5m; SIGHUP\n"
    "                           flushes them)\n"
    "  --vfs-cache-mode MODE    off (the only mode so far: no read+write opens,\n"
    "                           files written sequentially)\n"
    "  --no-modtime             neither read nor set modification times\n"
    "  --no-checksum            refuse md5sum/sha1sum/sha256sum\n"
    "  --no-seek                refuse reads that are not sequential\n"
    "  --timeout DURATION       answer a request the SMB server leaves unanswered this\n"
    "                           long with an error (default 30s; 0 = never)\n"
    "  --inplace                uploads write the file itself, not a temporary name\n"
    "                           renamed over it when complete\n"
    "  -v, --verbose            access log (-vv: debug)\n"
    "  -h, --help               this text\n"
    "\n"
    "The SMB password comes from the URL or the SMBGATE_PASSWORD environment variable.\n"
    "\n"
    "Examples:\n"
    "  smbgate serve sftp --user me --pass secret smb://alice@fileserver/docs\n"
    "  sftp -D 'smbgate serve sftp --stdio /srv/data'\n";

enum {
	O_ADDR = 1000,
	O_STDIO,
	O_USER,
	O_PASS,
	O_AUTHKEYS,
	O_NOAUTH,
	O_KEY,
	O_MAXHANDLES,
	O_STATS,
	O_PASSFILE,
	O_NOAUTH_ANYWHERE,
	O_MAXSTARTUPS,
	O_GRACE,
	O_MAXCONNS,
	O_MAXCONNS_SRC,
	O_MAXSESSIONS,
	O_READONLY,
	O_UID,
	O_GID,
	O_UMASK,
	O_FILEPERMS,
	O_DIRPERMS,
	O_DIRCACHE,
	O_CACHEMODE,
	O_NOMODTIME,
	O_NOCHECKSUM,
	O_NOSEEK,
	O_TIMEOUT,
	O_INPLACE,
};

static const struct option long_opts[] = {
    {"addr", required_argument, NULL, O_ADDR},
    {"stdio", no_argument, NULL, O_STDIO},
    {"user", required_argument, NULL, O_USER},
    {"pass", required_argument, NULL, O_PASS},
    {"authorized-keys", required_argument, NULL, O_AUTHKEYS},
    {"no-auth", no_argument, NULL, O_NOAUTH},
    {"key", required_argument, NULL, O_KEY},
    {"max-handles", required_argument, NULL, O_MAXHANDLES},
    {"stats", required_argument, NULL, O_STATS},
    {"pass-file", required_argument, NULL, O_PASSFILE},
    {"no-auth-anywhere", no_argument, NULL, O_NOAUTH_ANYWHERE},
    {"max-startups", required_argument, NULL, O_MAXSTARTUPS},
    {"login-grace-time", required_argument, NULL, O_GRACE},
    {"max-connections", required_argument, NULL, O_MAXCONNS},
    {"max-connections-per-source", required_argument, NULL, O_MAXCONNS_SRC},
    {"max-sessions", required_argument, NULL, O_MAXSESSIONS},
    {"read-only", no_argument, NULL, O_READONLY},
    {"uid", required_argument, NULL, O_UID},
    {"gid", required_argument, NULL, O_GID},
    {"umask", required_argument, NULL, O_UMASK},
    {"file-perms", required_argument, NULL, O_FILEPERMS},
    {"dir-perms", required_argument, NULL, O_DIRPERMS},
    {"dir-cache-time", required_argument, NULL, O_DIRCACHE},
    {"vfs-cache-mode", required_argument, NULL, O_CACHEMODE},
    {"no-modtime", no_argument, NULL, O_NOMODTIME},
    {"no-checksum", no_argument, NULL, O_NOCHECKSUM},
    {"no-seek", no_argument, NULL, O_NOSEEK},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"inplace", no_argument, NULL, O_INPLACE},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Go-style durations as rclone takes them: "300", "90s", "5m", "1h30m", "1.5h". Returns
 * seconds, or -1. */
static long parse_duration(const char *s)
{
	if (!*s)
		return -1;
	double total = 0;
	const char *p = s;
	while (*p) {
		char *end;
		errno = 0;
		double v = strtod(p, &end);
		if (end == p || errno || v < 0)
			return -1;
		p = end;
		double mult = 1;
		if (*p == 'h') {
			mult = 3600;
			p++;
		} else if (p[0] == 'm' && p[1] == 's') {
			mult = 0.001;
			p += 2;
		} else if (*p == 'm') {
			mult = 60;
			p++;
		} else if (*p == 's') {
			p++;
		} else if (*p == 'd') {
			mult = 86400;
			p++;
		} else if (*p) {
			return -1;
		}
		total += v * mult;
		if (total > (double)INT_MAX)
			return -1;
	}
	return (long)total;
}

static int parse_uint(const char *s, int base, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, base);
	if (!*s || *end || errno || v > max || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

/* --max-startups: "START:RATE:FULL", or "N" (N:100:N, as sshd). */
static int parse_startups(const char *s, struct ssh_serve_opts *ho)
{
	unsigned long a, r, f;
	char b[3][16];
	if (sscanf(s, "%15[0-9]:%15[0-9]:%15[0-9]", b[0], b[1], b[2]) == 3) {
		if (parse_uint(b[0], 10, 1u << 20, &a) < 0 || parse_uint(b[1], 10, 100, &r) < 0 ||
		    parse_uint(b[2], 10, 1u << 20, &f) < 0 || a > f ||
		    strlen(s) != strlen(b[0]) + strlen(b[1]) + strlen(b[2]) + 2)
			return -1;
	} else if (parse_uint(s, 10, 1u << 20, &a) == 0) {
		r = 100;
		f = a;
	} else {
		return -1;
	}
	ho->startups_begin = (int)a;
	ho->startups_rate = (int)r;
	ho->startups_full = (int)f;
	return 0;
}

/* The first line of path, without its newline, into buf (wiped by the caller). */
static int read_pass_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "smbgate serve: cannot read --pass-file %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	int ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	size_t n = ok ? strcspn(buf, "\r\n") : 0;
	if (!ok || n == 0 || (n == len - 1 && buf[n] == '\0')) {
		fprintf(stderr, "smbgate serve: --pass-file %s: %s\n", path,
			ok && n ? "the password is too long" : "no password on its first line");
		return -1;
	}
	buf[n] = '\0';
	return 0;
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int bad(const char *what, const char *val)
{
	fprintf(stderr, "smbgate serve: invalid %s '%s' (see `smbgate serve sftp --help`)\n", what,
		val);
	return 2;
}

/* --stdio and the remote cannot be opened: sshd drops a subsystem's stderr, so the reason
 * also goes to the SFTP client, as the status of its requests (not when a person runs this
 * in a terminal: stdin would then be waited on). */
static void stdio_refuse(const char *why)
{
	if (isatty(STDIN_FILENO))
		return;
	signal(SIGPIPE, SIG_IGN);
	(void)sftp_serve_refusal(STDIN_FILENO, STDOUT_FILENO, why);
}

static char pass_buf[1024]; /* --pass-file's password (wiped before returning) */

static int cmd_serve_main(int argc, char **argv);

int cmd_serve(int argc, char **argv)
{
	int rc = cmd_serve_main(argc, argv);
	explicit_bzero(pass_buf, sizeof(pass_buf));
	return rc;
}

static int cmd_serve_main(int argc, char **argv)
{
	struct vfs_opts vo;
	struct sftp_opts so;
	struct ssh_serve_opts ho;
	int stdio = 0;
	unsigned long u;
	const char *pass_file = NULL;
	vfs_opts_default(&vo);
	sftp_opts_default(&so);
	ssh_serve_opts_default(&ho);

	/* `serve sftp ...`: argv[0] is "serve"; the protocol comes next */
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "sftp") != 0) {
		fprintf(stderr, "smbgate serve: only `serve sftp` exists (see `smbgate serve sftp "
				"--help`)\n");
		return 2;
	}
	argc--;
	argv++;
	optind = 1;
	opterr = 0;
	int c;
	while ((c = getopt_long(argc, argv, "+vh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'v':
			cli_verbose_add(1);
			break;
		case O_ADDR:
			ho.addr = optarg;
			break;
		case O_STDIO:
			stdio = 1;
			break;
		case O_USER:
			ho.user = optarg;
			break;
		case O_PASS:
			ho.pass = optarg;
			break;
		case O_AUTHKEYS:
			ho.authorized_keys = optarg;
			break;
		case O_NOAUTH:
			ho.no_auth = 1;
			break;
		case O_KEY:
			if (ho.nkeys >= SSH_MAX_HOSTKEYS)
				return bad("--key (too many)", optarg);
			ho.keys[ho.nkeys++] = optarg;
			break;
		case O_MAXHANDLES:
			if (parse_uint(optarg, 10, 1u << 20, &u) < 0 || u == 0)
				return bad("--max-handles", optarg);
			so.max_handles = u;
			break;
		case O_PASSFILE:
			pass_file = optarg;
			break;
		case O_NOAUTH_ANYWHERE:
			ho.no_auth_anywhere = 1;
			break;
		case O_MAXSTARTUPS:
			if (parse_startups(optarg, &ho) < 0)
				return bad("--max-startups (START:RATE:FULL or N)", optarg);
			break;
		case O_GRACE: {
			long d = parse_duration(optarg);
			if (d < 0)
				return bad("--login-grace-time", optarg);
			ho.login_grace = (int)d;
			break;
		}
		case O_MAXCONNS:
			if (parse_uint(optarg, 10, 1u << 20, &u) < 0 || u == 0)
				return bad("--max-connections", optarg);
			ho.max_conns = (int)u;
			break;
		case O_MAXCONNS_SRC:
			if (parse_uint(optarg, 10, 1u << 20, &u) < 0 || u == 0)
				return bad("--max-connections-per-source", optarg);
			ho.max_conns_per_source = (int)u;
			break;
		case O_MAXSESSIONS:
			if (parse_uint(optarg, 10, 1u << 16, &u) < 0 || u == 0)
				return bad("--max-sessions", optarg);
			ho.max_sessions = (int)u;
			break;
		case O_STATS: {
			long d = parse_duration(optarg);
			if (d < 0)
				return bad("--stats", optarg);
			ho.stats_interval = (int)d;
			break;
		}
		case O_READONLY:
			vo.read_only = 1;
			break;
		case O_UID:
			if (parse_uint(optarg, 10, UINT32_MAX - 1, &u) < 0)
				return bad("--uid", optarg);
			vo.uid = (uid_t)u;
			break;
		case O_GID:
			if (parse_uint(optarg, 10, UINT32_MAX - 1, &u) < 0)
				return bad("--gid", optarg);
			vo.gid = (gid_t)u;
			break;
		case O_UMASK:
			if (parse_uint(optarg, 8, 0777, &u) < 0)
				return bad("--umask", optarg);
			vo.umask = (mode_t)u;
			break;
		case O_FILEPERMS:
			if (parse_uint(optarg, 8, 07777, &u) < 0)
				return bad("--file-perms", optarg);
			vo.file_perms = (mode_t)u;
			break;
		case O_DIRPERMS:
			if (parse_uint(optarg, 8, 07777, &u) < 0)
				return bad("--dir-perms", optarg);
			vo.dir_perms = (mode_t)u;
			break;
		case O_DIRCACHE: {
			long d = parse_duration(optarg);
			if (d < 0)
				return bad("--dir-cache-time", optarg);
			vo.dir_cache_time = (int)d;
			break;
		}
		case O_CACHEMODE:
			if (strcmp(optarg, "off") != 0) {
				fprintf(stderr,
					"smbgate serve: --vfs-cache-mode %s is not implemented yet "
					"(only off)\n",
					optarg);
				return 2;
			}
			vo.cache_mode = VFS_CACHE_OFF;
			break;
		case O_NOMODTIME:
			vo.no_modtime = 1;
			break;
		case O_NOCHECKSUM:
			vo.no_checksum = 1;
			break;
		case O_NOSEEK:
			vo.no_seek = 1;
			break;
		case O_TIMEOUT: {
			long d = parse_duration(optarg);
			if (d < 0 || d > 86400)
				return bad("--timeout", optarg);
			vo.timeout = (int)d;
			break;
		}
		case O_INPLACE:
			vo.inplace = 1;
			break;
		default:
			fprintf(stderr,
				"smbgate serve: unknown or incomplete option '%s' (see `smbgate "
				"serve sftp --help`)\n",
				argv[optind - 1]);
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "smbgate serve: give exactly one REMOTE (an smb:// URL or a local "
				"folder); see `smbgate serve sftp --help`\n");
		return 2;
	}
	const char *remote = argv[optind];
	so.access_log = log_enabled(LOG_INFO);
	/* the password from a file or the environment keeps it out of `ps` */
	if (pass_file && ho.pass) {
		fprintf(stderr, "smbgate serve: give --pass or --pass-file, not both\n");
		return 2;
	}
	if (pass_file) {
		if (read_pass_file(pass_file, pass_buf, sizeof(pass_buf)) < 0)
			return 2;
		ho.pass = pass_buf;
	} else if (!ho.pass && ho.user && getenv("SMBGATE_PASS") && *getenv("SMBGATE_PASS")) {
		ho.pass = getenv("SMBGATE_PASS");
	}

	/* Refuse before touching the remote: a listener nobody can log in to is a mistake. */
	if (!stdio) {
		char why[256];
		if (ssh_serve_check(&ho, why, sizeof(why)) < 0) {
			fprintf(stderr, "smbgate serve: %s\n", why);
			return 2;
		}
	}

	raise_nofile();
	char err[512];
	struct vfs *v = vfs_new(remote, &vo, err, sizeof(err));
	if (!v) {
		fprintf(stderr, "smbgate serve: %s\n", err);
		if (stdio)
			stdio_refuse(err);
		return 1;
	}
	hup_vfs = v;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sighup;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	int rc = 0;
	if (stdio) {
		struct vfs_conn *vc = vfs_conn_new(v, err, sizeof(err));
		if (!vc) {
			fprintf(stderr, "smbgate serve: %s\n", err);
			stdio_refuse(err);
			rc = 1;
		} else {
			so.who = "stdio";
			rc = sftp_serve_fds(vc, STDIN_FILENO, STDOUT_FILENO, &so) < 0 ? 1 : 0;
			vfs_conn_free(vc);
		}
	} else {
		int r = ssh_serve(v, &ho, &so);
		if (r == SMBG_EBUSY) /* connections still use v: the exit takes it */
			return 1;
		rc = r < 0 ? 1 : 0;
	}
	hup_vfs = NULL;
	vfs_free(v);
	return rc;
}
