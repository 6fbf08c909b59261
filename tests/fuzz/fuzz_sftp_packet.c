/* The SFTP engine on arbitrary client bytes: framing, every request parser, handles, and the
 * reply encoder, over a small read-only local folder. The input is fed in pieces (the first
 * byte sets the piece size) so that packets split across reads are exercised. Beyond "no
 * crash, no leak": every reply the engine produces must be a well-formed packet no longer
 * than SFTP_MAX_PACKET, and the engine never takes more input than it was offered. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sftp/sftp.h"
#include "util/cursor.h"
#include "vfs/vfs.h"

static struct vfs *vfs;

static void setup(void)
{
	static char dir[] = "/tmp/fuzz-sftp-XXXXXX";
	if (!mkdtemp(dir))
		abort();
	char p[256];
	snprintf(p, sizeof(p), "%s/sub", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/a", dir);
	FILE *f = fopen(p, "w");
	if (!f)
		abort();
	fputs("hello fuzz", f);
	fclose(f);
	struct vfs_opts o;
	vfs_opts_default(&o);
	o.read_only = 1; /* parse everything, change nothing */
	char err[256];
	vfs = vfs_new(dir, &o, err, sizeof(err));
	if (!vfs)
		abort();
}

/* Every reply: a length in 5..SFTP_MAX_PACKET and a known reply type. */
static void check_output(struct sftp_engine *e)
{
	static uint8_t acc[SFTP_MAX_PACKET + 4];
	static size_t have;
	struct iovec iov[16];
	int n;
	have = 0;
	while ((n = sftp_engine_output(e, iov, 16)) > 0) {
		size_t tot = 0;
		for (int i = 0; i < n; i++) {
			const uint8_t *p = iov[i].iov_base;
			for (size_t k = 0; k < iov[i].iov_len; k++) {
				acc[have++] = p[k];
				if (have >= 4) {
					struct cursor c;
					uint32_t len;
					cursor_init(&c, acc, have);
					if (cursor_get_be32(&c, &len) != 0)
						abort();
					if (len < 5 || len > SFTP_MAX_PACKET)
						abort();
					if (have == 4 + (size_t)len) {
						uint8_t t = acc[4];
						if (!(t == 2 || (t >= 101 && t <= 105) || t == 201))
							abort();
						have = 0;
					}
				}
			}
			tot += iov[i].iov_len;
		}
		sftp_engine_output_done(e, tot);
	}
	if (have != 0 && sftp_engine_error(e) == NULL)
		abort(); /* a partial reply left behind */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!vfs)
		setup();
	if (size == 0)
		return 0;
	size_t piece = (size_t)data[0] % 64 + 1;
	data++;
	size--;
	char err[256];
	struct vfs_conn *vc = vfs_conn_new(vfs, err, sizeof(err));
	if (!vc)
		abort();
	struct sftp_opts so;
	sftp_opts_default(&so);
	so.max_handles = 4;
	struct sftp_engine *e = sftp_engine_new(vc, &so);
	if (!e)
		abort();
	size_t off = 0;
	while (off < size) {
		size_t n = size - off < piece ? size - off : piece;
		size_t took = sftp_engine_input(e, data + off, n);
		if (took > n)
			abort();
		int rc = sftp_engine_process(e);
		check_output(e);
		if (rc < 0 || took == 0)
			break;
		off += took;
	}
	sftp_engine_free(e);
	vfs_conn_free(vc);
	return 0;
}
