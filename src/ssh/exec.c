/* Exec requests answered without a shell: md5sum/sha1sum/sha256sum hash server-side while
 * streaming the file from the backend, df prints `df -k`'s shape, echo echoes. Anything else
 * exits 127 with a message saying what is available. */
#include "ssh/exec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

enum exec_cmd { X_NONE = 0, X_MD5, X_SHA1, X_SHA256, X_DF, X_ECHO };

struct ssh_exec {
	struct vfs_conn *vc;
	char **argv;
	int argc;
	enum exec_cmd cmd;
	int argi; /* next argument to work on */
	int busy;
	int orphan; /* freed while busy: the callback in flight frees it */
	int finished;
	int status;
	struct wbuf out, err;
	uint8_t digest[VFS_HASH_MAX];
	size_t dlen;
	struct vfs_statfs sfs;
	char path[VFS_PATH_MAX];
};

/* ---- words ---- */

static int push_word(char ***v, int *n, int *cap, struct wbuf *w)
{
	if (*n + 2 > *cap) {
		int c = *cap ? *cap * 2 : 8;
		char **nv = realloc(*v, (size_t)c * sizeof(*nv));
		if (!nv)
			return SMBG_ENOMEM;
		*v = nv;
		*cap = c;
	}
	wbuf_put_u8(w, 0);
	if (wbuf_error(w))
		return SMBG_ENOMEM;
	size_t len;
	(*v)[(*n)++] = (char *)wbuf_take(w, &len);
	(*v)[*n] = NULL;
	return 0;
}

void ssh_exec_free_words(char **argv)
{
	if (!argv)
		return;
	for (int i = 0; argv[i]; i++)
		free(argv[i]);
	free(argv);
}

/* $NAME or ${NAME}: no variables exist here, so it expands to nothing (as an unset
 * variable in a shell: rclone's `echo ${ShellId}%ComSpec%` probe relies on it). */
static const char *skip_var(const char *p)
{
	if (*p == '{') {
		const char *e = strchr(p, '}');
		return e ? e + 1 : NULL;
	}
	while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
	       *p == '_')
		p++;
	return p;
}

int ssh_exec_split(const char *cmd, char ***out)
{
	char **v = NULL;
	int n = 0, cap = 0, rc = 0, inword = 0;
	struct wbuf w;
	wbuf_init(&w);
	const char *p = cmd;
	for (;;) {
		char ch = *p;
		if (ch == '\0' || ch == ' ' || ch == '\t' || ch == '\n') {
			if (inword && (rc = push_word(&v, &n, &cap, &w)) < 0)
				goto fail;
			inword = 0;
			if (ch == '\0')
				break;
			p++;
			continue;
		}
		inword = 1;
		if (ch == '\\') {
			if (p[1] == '\n') {
				p += 2;
				continue;
			}
			if (p[1] == '\0') {
				p++;
				continue;
			}
			wbuf_put_u8(&w, (uint8_t)p[1]);
			p += 2;
		} else if (ch == '\'') {
			const char *e = strchr(p + 1, '\'');
			if (!e) {
				rc = SMBG_EINVAL;
				goto fail;
			}
			wbuf_put_bytes(&w, p + 1, (size_t)(e - p - 1));
			p = e + 1;
		} else if (ch == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1] && strchr("$`\"\\\n", p[1])) {
					if (p[1] != '\n')
						wbuf_put_u8(&w, (uint8_t)p[1]);
					p += 2;
				} else if (*p == '$' && (p[1] == '{' || p[1] == '_' ||
							 (p[1] >= 'A' && p[1] <= 'Z') ||
							 (p[1] >= 'a' && p[1] <= 'z'))) {
					p = skip_var(p + 1);
					if (!p) {
						rc = SMBG_EINVAL;
						goto fail;
					}
				} else if (*p == '`') {
					rc = SMBG_ENOTSUP;
					goto fail;
				} else {
					wbuf_put_u8(&w, (uint8_t)*p++);
				}
			}
			if (*p != '"') {
				rc = SMBG_EINVAL;
				goto fail;
			}
			p++;
		} else if (ch == '$' &&
			   (p[1] == '{' || p[1] == '_' || (p[1] >= 'A' && p[1] <= 'Z') ||
			    (p[1] >= 'a' && p[1] <= 'z'))) {
			p = skip_var(p + 1);
			if (!p) {
				rc = SMBG_EINVAL;
				goto fail;
			}
		} else if (strchr("|&;<>()`", ch)) {
			rc = SMBG_ENOTSUP;
			goto fail;
		} else {
			wbuf_put_u8(&w, (uint8_t)ch);
			p++;
		}
	}
	if (!v) { /* no words at all */
		v = calloc(1, sizeof(*v));
		if (!v) {
			rc = SMBG_ENOMEM;
			goto fail;
		}
	}
	wbuf_free(&w);
	*out = v;
	return n;
fail:
	wbuf_free(&w);
	ssh_exec_free_words(v);
	return rc;
}

/* ---- commands ---- */

static const struct {
	const char *name;
	enum exec_cmd cmd;
} commands[] = {
    {"md5sum", X_MD5}, {"sha1sum", X_SHA1}, {"sha256sum", X_SHA256}, {"df", X_DF}, {"echo", X_ECHO},
};

static void finish(struct ssh_exec *x, int status)
{
	x->status = status;
	x->finished = 1;
}

struct ssh_exec *ssh_exec_new(struct vfs_conn *vc, const char *command)
{
	struct ssh_exec *x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->vc = vc;
	wbuf_init(&x->out);
	wbuf_init(&x->err);
	int n = ssh_exec_split(command, &x->argv);
	if (n < 0) {
		x->argv = NULL;
		wbuf_put_bytes(&x->err, "smbgate: ", 9);
		const char *m = n == SMBG_ENOTSUP
				    ? "pipes, redirections and command substitution are not "
				      "supported here\n"
				    : "unterminated quote\n";
		wbuf_put_bytes(&x->err, m, strlen(m));
		finish(x, 127);
		return x;
	}
	x->argc = n;
	if (n == 0) {
		finish(x, 0);
		return x;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(x->argv[0], commands[i].name) == 0)
			x->cmd = commands[i].cmd;
	if (x->cmd == X_NONE) {
		char m[512];
		int len = snprintf(m, sizeof(m),
				   "smbgate: %.200s: command not found (this server runs only "
				   "md5sum, sha1sum, sha256sum, df and echo)\n",
				   x->argv[0]);
		wbuf_put_bytes(&x->err, m, (size_t)(len > 0 ? len : 0));
		finish(x, 127);
		return x;
	}
	x->argi = 1;
	return x;
}

static void put_str(struct wbuf *b, const char *s)
{
	wbuf_put_bytes(b, s, strlen(s));
}

static enum vfs_hash_algo algo_of(enum exec_cmd c)
{
	return c == X_MD5 ? VFS_HASH_MD5 : c == X_SHA1 ? VFS_HASH_SHA1 : VFS_HASH_SHA256;
}

static const char *empty_hash(enum exec_cmd c)
{
	switch (c) {
	case X_MD5:
		return "d41d8cd98f00b204e9800998ecf8427e";
	case X_SHA1:
		return "da39a3ee5e6b4b0d3255bfef95601890afd80709";
	default:
		return "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	}
}

/* "HASH  NAME\n", with coreutils' escaping of names holding a backslash or newline. */
static void put_hash_line(struct wbuf *b, const char *hex, const char *name)
{
	int esc = strchr(name, '\\') || strchr(name, '\n');
	if (esc)
		wbuf_put_u8(b, '\\');
	put_str(b, hex);
	put_str(b, "  ");
	for (const char *p = name; *p; p++) {
		if (esc && *p == '\\')
			put_str(b, "\\\\");
		else if (esc && *p == '\n')
			put_str(b, "\\n");
		else
			wbuf_put_u8(b, (uint8_t)*p);
	}
	wbuf_put_u8(b, '\n');
}

static void destroy(struct ssh_exec *x);

static void hash_done(void *priv, int rc, const char *msg)
{
	struct ssh_exec *x = priv;
	if (x->orphan) {
		destroy(x);
		return;
	}
	const char *arg = x->argv[x->argi];
	x->busy = 0;
	if (rc < 0) {
		char m[VFS_PATH_MAX + 256];
		int n = snprintf(m, sizeof(m), "%s: %s: %s\n", x->argv[0], arg,
				 msg ? msg : smbg_strerror(rc));
		if (n > 0)
			wbuf_put_bytes(&x->err, m,
				       (size_t)n < sizeof(m) ? (size_t)n : sizeof(m) - 1);
		x->status = 1;
	} else {
		char hex[2 * VFS_HASH_MAX + 1];
		for (size_t i = 0; i < x->dlen && i < VFS_HASH_MAX; i++)
			snprintf(hex + 2 * i, 3, "%02x", x->digest[i]);
		hex[2 * x->dlen] = '\0';
		put_hash_line(&x->out, hex, arg);
	}
	x->argi++;
}

static void step_hash(struct ssh_exec *x)
{
	if (vfs_options(vfs_conn_vfs(x->vc))->no_checksum) {
		char m[128];
		int n = snprintf(m, sizeof(m), "%s: checksums are disabled (--no-checksum)\n",
				 x->argv[0]);
		wbuf_put_bytes(&x->err, m, (size_t)(n > 0 ? n : 0));
		finish(x, 1);
		return;
	}
	if (x->argc == 1) { /* no file: the hash of empty standard input (rclone's probe) */
		put_hash_line(&x->out, empty_hash(x->cmd), "-");
		finish(x, 0);
		return;
	}
	/* skip options (--, -b, -t: text and binary are the same here) */
	while (x->argi < x->argc && x->argv[x->argi][0] == '-' && x->argv[x->argi][1] != '\0')
		x->argi++;
	if (x->argi >= x->argc) {
		finish(x, x->status);
		return;
	}
	const char *arg = x->argv[x->argi];
	int n = vfs_path_normalize(arg, strlen(arg), "", x->path, sizeof(x->path));
	if (n < 0) {
		hash_done(x, n, "invalid path");
		return;
	}
	x->busy = 1;
	int rc = vfs_hash(x->vc, x->path, algo_of(x->cmd), x->digest, &x->dlen, hash_done, x);
	if (rc < 0) {
		x->busy = 0;
		hash_done(x, rc, NULL);
	}
}

static void df_done(void *priv, int rc, const char *msg)
{
	struct ssh_exec *x = priv;
	if (x->orphan) {
		destroy(x);
		return;
	}
	x->busy = 0;
	if (rc < 0) {
		char m[256];
		int n = snprintf(m, sizeof(m), "df: %s\n", msg ? msg : smbg_strerror(rc));
		wbuf_put_bytes(&x->err, m, (size_t)(n > 0 ? n : 0));
		finish(x, 1);
		return;
	}
	const struct vfs_statfs *s = &x->sfs;
	unsigned long long k = 1024;
	unsigned long long total = s->blocks * s->bsize / k;
	unsigned long long avail = s->bavail * s->bsize / k;
	unsigned long long freek = s->bfree * s->bsize / k;
	unsigned long long used = total > freek ? total - freek : 0;
	/* df rounds the percentage up */
	unsigned long long denom = used + avail;
	unsigned pct = denom ? (unsigned)((used * 100 + denom - 1) / denom) : 0;
	char line[512];
	int n = snprintf(line, sizeof(line),
			 "Filesystem     1K-blocks      Used Available Use%% Mounted on\n"
			 "smbgate    %13llu %9llu %9llu %3u%% /\n",
			 total, used, avail, pct);
	wbuf_put_bytes(&x->out, line, (size_t)(n > 0 ? n : 0));
	finish(x, 0);
}

static void step_df(struct ssh_exec *x)
{
	for (int i = 1; i < x->argc; i++) {
		const char *a = x->argv[i];
		if (a[0] == '-' && strcmp(a, "-k") != 0 && strcmp(a, "-P") != 0 &&
		    strcmp(a, "-kP") != 0 && strcmp(a, "-Pk") != 0) {
			char m[300];
			int n =
			    snprintf(m, sizeof(m), "df: option %.200s is not supported here\n", a);
			wbuf_put_bytes(&x->err, m, (size_t)(n > 0 ? n : 0));
			finish(x, 1);
			return;
		}
	}
	x->busy = 1;
	int rc = vfs_statfs(x->vc, "", &x->sfs, df_done, x);
	if (rc < 0) {
		x->busy = 0;
		df_done(x, rc, NULL);
	}
}

static void step_echo(struct ssh_exec *x)
{
	int i = 1, nl = 1;
	if (i < x->argc && strcmp(x->argv[i], "-n") == 0) {
		nl = 0;
		i++;
	}
	for (int first = 1; i < x->argc; i++, first = 0) {
		if (!first)
			wbuf_put_u8(&x->out, ' ');
		put_str(&x->out, x->argv[i]);
	}
	if (nl)
		wbuf_put_u8(&x->out, '\n');
	finish(x, 0);
}

int ssh_exec_step(struct ssh_exec *x)
{
	if (x->finished)
		return 1;
	if (x->busy)
		return 0;
	switch (x->cmd) {
	case X_MD5:
	case X_SHA1:
	case X_SHA256:
		step_hash(x);
		break;
	case X_DF:
		step_df(x);
		break;
	case X_ECHO:
		step_echo(x);
		break;
	default:
		finish(x, 127);
	}
	if (wbuf_error(&x->out) || wbuf_error(&x->err))
		finish(x, 1);
	return x->finished;
}

struct wbuf *ssh_exec_stdout(struct ssh_exec *x)
{
	return &x->out;
}

struct wbuf *ssh_exec_stderr(struct ssh_exec *x)
{
	return &x->err;
}

int ssh_exec_status(const struct ssh_exec *x)
{
	return x->status;
}

int ssh_exec_busy(const struct ssh_exec *x)
{
	return x->busy;
}

const char *ssh_exec_name(const struct ssh_exec *x)
{
	return x->argc > 0 && x->argv ? x->argv[0] : "";
}

static void destroy(struct ssh_exec *x)
{
	ssh_exec_free_words(x->argv);
	wbuf_free(&x->out);
	wbuf_free(&x->err);
	free(x);
}

/* The VFS borrows x until its callback runs (exactly once, with SMBG_ECANCELED at the latest
 * when the vfs_conn is freed): a busy exec is left to that callback to free. */
void ssh_exec_free(struct ssh_exec *x)
{
	if (!x)
		return;
	if (x->busy) {
		x->orphan = 1;
		return;
	}
	destroy(x);
}
