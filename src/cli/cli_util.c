/* Connecting from a URL argument, error messages and exit codes for the
 * subcommands. */
#include "cli/cli_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "util/log.h"
#include "util/utf16.h"

/* SMBG_E* -> exit code. The one table; cli_exit_code() adjusts a few by
 * connection stage. */
static const struct {
	int err;
	unsigned char code;
} exit_map[] = {
    {SMBG_ENOMEM, CLI_EXIT_ERROR},
    {SMBG_EINVAL, CLI_EXIT_USAGE},
    {SMBG_EPROTO, CLI_EXIT_PROTO},
    /* The library's EIO is a socket error; local I/O errors are reported by the
     * commands themselves (cli_fail_local) and never reach this table. */
    {SMBG_EIO, CLI_EXIT_CONNECT},
    {SMBG_ECONNREFUSED, CLI_EXIT_CONNECT},
    {SMBG_ETIMEDOUT, CLI_EXIT_CONNECT},
    {SMBG_ECLOSED, CLI_EXIT_CONNECT},
    {SMBG_ERESOLVE, CLI_EXIT_CONNECT},
    {SMBG_ECANCELED, CLI_EXIT_CONNECT},
    {SMBG_EAUTH, CLI_EXIT_AUTH},
    {SMBG_EDISABLED, CLI_EXIT_AUTH},
    {SMBG_EACCES, CLI_EXIT_DENIED},
    {SMBG_EPERM, CLI_EXIT_DENIED},
    {SMBG_EROFS, CLI_EXIT_DENIED},
    {SMBG_ENOENT, CLI_EXIT_NOTFOUND},
    {SMBG_ENOSHARE, CLI_EXIT_NOTFOUND},
    {SMBG_EEXIST, CLI_EXIT_ERROR},
    {SMBG_ENOTDIR, CLI_EXIT_ERROR},
    {SMBG_EISDIR, CLI_EXIT_ERROR},
    {SMBG_ENOTEMPTY, CLI_EXIT_ERROR},
    {SMBG_ENOSPC, CLI_EXIT_ERROR},
    {SMBG_EBUSY, CLI_EXIT_ERROR},
    {SMBG_ENOTSUP, CLI_EXIT_PROTO},
    {SMBG_ECRYPTO, CLI_EXIT_PROTO},
    {SMBG_ENAME, CLI_EXIT_USAGE},
    {SMBG_ENOPROTO, CLI_EXIT_PROTO},
    {SMBG_ETOOBIG, CLI_EXIT_PROTO},
    {SMBG_EBADF, CLI_EXIT_ERROR},
};

int cli_exit_code(int err, enum smb_stage stage)
{
	if (err >= 0)
		return CLI_EXIT_OK;
	/* A server that refuses the session may say "access denied" rather than
	 * "logon failure"; a tree connect may say "not found" or "denied" for the
	 * share. */
	if (stage == SMB_STAGE_LOGIN && (err == SMBG_EACCES || err == SMBG_EPERM))
		return CLI_EXIT_AUTH;
	for (size_t i = 0; i < sizeof(exit_map) / sizeof(exit_map[0]); i++)
		if (exit_map[i].err == err)
			return exit_map[i].code;
	return CLI_EXIT_ERROR;
}

/* ---- Safe display of names ---- */

const char *cli_safe(const char *s)
{
	static char bufs[4][1024];
	static unsigned next;
	char *out = bufs[next++ % 4];
	size_t o = 0, cap = sizeof(bufs[0]);
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	while (*p && o + 8 < cap) {
		size_t n = 1;
		if (*p >= 0x80) { /* a multi-byte sequence: keep it only when it is valid UTF-8 */
			n = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2;
			if (strnlen((const char *)p, n) < n || !utf8_valid((const char *)p, n))
				n = 0;
		} else if (*p < 0x20 || *p == 0x7f) {
			n = 0;
		}
		if (n == 0) {
			o += (size_t)snprintf(out + o, cap - o, "\\x%02X", *p);
			p++;
		} else {
			memcpy(out + o, p, n);
			o += n;
			p += n;
		}
	}
	if (*p)
		memcpy(out + o, "...", 4);
	else
		out[o] = '\0';
	return out;
}

const char *cli_disp(const char *path)
{
	return (path == NULL || path[0] == '\0') ? "/" : cli_safe(path);
}

/* ---- Messages ---- */

int cli_errorf(const char *cmd, int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "smbgate %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

int cli_fail_local(const char *cmd, const char *op, const char *path, int errnum)
{
	return cli_errorf(cmd, CLI_EXIT_ERROR, "%s %s: %s", op, cli_safe(path), strerror(errnum));
}

/* The library's message for a plain close by the server (a lost connection that is no more than
 * that: its details, such as the NEGOTIATE hint, go to the log). */
#define CLOSED_PLAIN "the server closed the connection"

/* "STATUS_X (description)" when the client's last NTSTATUS explains err. Otherwise the
 * description, and for protocol-level failures (no status to show) the library's own account
 * of what went wrong, which is the only useful part of such a message. */
static void status_text(const struct cli_conn *cc, int err, char *buf, size_t n)
{
	uint32_t st = cc->c ? smb_client_ntstatus(cc->c) : 0;

	if (st != 0 && smbg_err_from_ntstatus(st) == err)
		snprintf(buf, n, "%s (%s)", smbg_ntstatus_name(st), smbg_strerror(err));
	else if (cc->c && err == SMBG_ECLOSED &&
		 strncmp(smb_client_errmsg(cc->c), CLOSED_PLAIN, strlen(CLOSED_PLAIN)) == 0)
		snprintf(buf, n, "%s", smbg_strerror(err)); /* says nothing more */
	else if (cc->c && (err == SMBG_EPROTO || err == SMBG_ECRYPTO || err == SMBG_ENOPROTO ||
			   err == SMBG_ENOTSUP || err == SMBG_ETOOBIG || err == SMBG_EIO ||
			   err == SMBG_EBADF || err == SMBG_ECLOSED || err == SMBG_EAUTH))
		snprintf(buf, n, "%s (%s)", smbg_strerror(err), cli_safe(smb_client_errmsg(cc->c)));
	else
		snprintf(buf, n, "%s", smbg_strerror(err));
}

int cli_fail(struct cli_conn *cc, int err, const char *op, const char *path)
{
	char st[512];
	enum smb_stage stage = cc->c ? smb_client_stage(cc->c) : SMB_STAGE_NONE;

	status_text(cc, err, st, sizeof(st));
	if (cc->c)
		log_info("%s", smb_client_errmsg(cc->c));
	if (path)
		fprintf(stderr, "smbgate %s: %s %s on %s: %s\n", cc->cmd, op, cli_disp(path),
			cc->where, st);
	else
		fprintf(stderr, "smbgate %s: %s on %s: %s\n", cc->cmd, op, cc->where, st);
	return cli_exit_code(err, stage);
}

/* ---- URL and password ---- */

/* The URL for messages: userinfo and auth-password values replaced by "***" (a
 * malformed URL may still hold a password, and messages never show one). */
static void url_redact(const char *s, char *out, size_t n)
{
	const char *scheme = strstr(s, "://");
	const char *host = scheme ? scheme + 3 : s;
	const char *slash = strchr(host, '/');
	const char *at = NULL;
	size_t o = 0;

	for (const char *p = host; *p && (slash == NULL || p < slash); p++)
		if (*p == '@')
			at = p;
	if (at) {
		o = (size_t)snprintf(out, n, "%.*s***%s", (int)(host - s), s, at);
	} else {
		o = (size_t)snprintf(out, n, "%s", s);
	}
	if (o >= n)
		o = n - 1;
	/* auth-password=VALUE -> auth-password=*** */
	for (char *p = strstr(out, "auth-password="); p; p = strstr(p, "auth-password=")) {
		char *v = p + strlen("auth-password="), *end = strchr(v, '&');
		size_t tail = end ? strlen(end) : 0;
		if ((size_t)(v - out) + 3 + tail + 1 > n)
			break;
		memmove(v + 3, end ? end : v + strlen(v), tail + 1);
		memcpy(v, "***", 3);
		p = v;
	}
}

static char *where_make(const struct smb_url *u)
{
	char *s = NULL;
	unsigned port = u->port ? u->port : u->transport == SMB_TRANSPORT_NETBIOS ? 139 : 445;
	int v6 = strchr(u->host, ':') != NULL;

	if (asprintf(&s, "smb://%s%s%s:%u/%s", v6 ? "[" : "", cli_safe(u->host), v6 ? "]" : "",
		     port, u->share ? cli_safe(u->share) : "") < 0)
		return NULL;
	return s;
}

int cli_url_parse(struct cli_conn *cc, const char *cmd, const char *url_str)
{
	char err[256] = "";
	int rc;

	memset(cc, 0, sizeof(*cc));
	cc->cmd = cmd;
	rc = smb_url_parse(url_str, &cc->url, err, sizeof(err));
	if (rc == 0 && (cc->url.share == NULL || cc->url.share[0] == '\0')) {
		rc = SMBG_EINVAL;
		snprintf(err, sizeof(err), "no share name (smb://host/share/path)");
	}
	if (rc != 0) {
		char shown[512];
		url_redact(url_str, shown, sizeof(shown));
		if (rc == SMBG_ENOMEM)
			return cli_errorf(cmd, CLI_EXIT_ERROR, "out of memory");
		return cli_errorf(cmd, CLI_EXIT_USAGE, "%s URL %s: %s",
				  rc == SMBG_ENAME ? "invalid name in" : "malformed",
				  cli_safe(shown), err[0] ? err : smbg_strerror(rc));
	}
	cc->where = where_make(&cc->url);
	if (cc->where == NULL)
		return cli_errorf(cmd, CLI_EXIT_ERROR, "out of memory");
	return 0;
}

/* First line of path into *out (malloc'd). Returns 0 or an exit code after the
 * message. */
static int password_from_file(const char *cmd, const char *path, char **out)
{
	char buf[1024];
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return cli_fail_local(cmd, "read password file", path, errno);
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			close(fd);
			OPENSSL_cleanse(buf, sizeof(buf));
			return cli_fail_local(cmd, "read password file", path, e);
		}
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	*out = strdup(buf);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (*out == NULL)
		return cli_errorf(cmd, CLI_EXIT_ERROR, "out of memory");
	return 0;
}

/* Creates the client for cc's URL (password applied) and connects. Same return convention as
 * cli_connect. */
static int conn_open(struct cli_conn *cc, const struct cli_opts *o)
{
	struct smb_url *u = &cc->url;
	int rc;

	cc->c = smb_client_new(u);
	if (cc->c == NULL)
		return cli_errorf(cc->cmd, CLI_EXIT_ERROR, "out of memory");
	if (o && o->timeout >= 0)
		smb_client_set_timeout(cc->c, o->timeout);
	/* A dropped connection is first re-established inside the client (durable handles keep
	 * open files); --retries bounds those attempts, and --retries 0 turns them off. */
	int attempts = o ? o->retries : CLI_RETRIES_DEFAULT;
	if (attempts > 0) {
		if (smb_client_set_reconnect(cc->c, 1) < 0)
			return cli_errorf(cc->cmd, CLI_EXIT_ERROR, "out of memory");
		smb_client_set_reconnect_attempts(cc->c, attempts);
	}
	log_info("connecting to %s as %s%s%s", cc->where, u->domain ? cli_safe(u->domain) : "",
		 u->domain ? "\\" : "", u->user ? cli_safe(u->user) : "guest");
	rc = smb_client_connect(cc->c);
	if (rc < 0) {
		enum smb_stage stage = smb_client_stage(cc->c);
		char st[512], what[512];
		unsigned port = u->port					? u->port
				: u->transport == SMB_TRANSPORT_NETBIOS ? 139
									: 445;

		status_text(cc, rc, st, sizeof(st));
		log_info("%s", smb_client_errmsg(cc->c));
		/* A NetBIOS refusal says which called names were tried and why: keep it. */
		if (u->transport == SMB_TRANSPORT_NETBIOS && stage == SMB_STAGE_CONNECT) {
			size_t n = strlen(st);
			snprintf(st + n, sizeof(st) - n, " (%s)",
				 cli_safe(smb_client_errmsg(cc->c)));
		}
		if (stage == SMB_STAGE_LOGIN)
			snprintf(what, sizeof(what), "log in as %s%s%s to %s",
				 u->domain ? cli_safe(u->domain) : "", u->domain ? "\\" : "",
				 u->user ? cli_safe(u->user) : "guest", cc->where);
		else if (stage == SMB_STAGE_TREE)
			snprintf(what, sizeof(what), "connect to share %s", cc->where);
		else if (stage == SMB_STAGE_RESOLVE)
			snprintf(what, sizeof(what), "resolve host %s", cli_safe(u->host));
		else if (stage == SMB_STAGE_NONE) /* refused before any I/O (URL options) */
			snprintf(what, sizeof(what), "connect to %s", cc->where);
		else
			snprintf(what, sizeof(what), "%s %s:%u",
				 stage == SMB_STAGE_NEGOTIATE ? "negotiate with" : "connect to",
				 cli_safe(u->host), port);
		fprintf(stderr, "smbgate %s: %s: %s\n", cc->cmd, what, st);
		return cli_exit_code(rc, stage);
	}
	log_info("connected: SMB %s, signing %s, encryption %s",
		 smb_dialect_name(smb_client_dialect(cc->c)),
		 smb_client_signing(cc->c) ? "on" : "off",
		 smb_client_encryption(cc->c) ? "on" : "off");
	return 0;
}

int cli_connect(struct cli_conn *cc, const char *cmd, const char *url_str, const struct cli_opts *o)
{
	int rc = cli_url_parse(cc, cmd, url_str);
	const char *env;
	struct smb_url *u = &cc->url;

	if (rc != 0)
		return rc;
	/* The URL's own password wins; the other sources keep it out of `ps`. Without
	 * a user name the login is anonymous and no password applies. */
	if (u->user == NULL || u->password != NULL) {
		/* nothing to add */
	} else if (o && o->password_file) {
		rc = password_from_file(cmd, o->password_file, &u->password);
		if (rc != 0)
			return rc;
	} else if ((env = getenv("SMBGATE_PASSWORD")) != NULL) {
		u->password = strdup(env);
		if (u->password == NULL)
			return cli_errorf(cmd, CLI_EXIT_ERROR, "out of memory");
	}
	return conn_open(cc, o);
}

int cli_reconnect(struct cli_conn *cc, const struct cli_opts *o)
{
	smb_client_free(cc->c);
	cc->c = NULL;
	return conn_open(cc, o);
}

void cli_conn_close(struct cli_conn *cc)
{
	smb_client_free(cc->c);
	cc->c = NULL;
	smb_url_free(&cc->url);
	free(cc->where);
	cc->where = NULL;
}

/* ---- Paths ---- */

const char *cli_basename(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

char *cli_path_cat(const char *a, const char *b)
{
	char *s = NULL;

	if (a[0] == '\0')
		return strdup(b);
	if (asprintf(&s, "%s/%s", a, b) < 0)
		return NULL;
	return s;
}

int cli_name_ok(const char *name)
{
	return name[0] != '\0' && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
	       strchr(name, '/') == NULL;
}

static int dirlist_add(void *priv, const char *name, const struct smb_stat *st)
{
	struct cli_dirlist *l = priv;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 256;
		struct cli_dirent *v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL)
			return SMBG_ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].name = strdup(name);
	if (l->v[l->n].name == NULL)
		return SMBG_ENOMEM;
	l->v[l->n].st = *st;
	l->n++;
	return 0;
}

static int dirent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cli_dirent *)a)->name, ((const struct cli_dirent *)b)->name);
}

int cli_dirlist_read(struct cli_conn *cc, const char *path, struct cli_dirlist *l)
{
	int rc = smb_readdir(cc->c, path, dirlist_add, l);

	if (rc >= 0 && l->n > 1)
		qsort(l->v, l->n, sizeof(l->v[0]), dirent_cmp);
	return rc < 0 ? rc : 0;
}

void cli_dirlist_free(struct cli_dirlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int cli_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
