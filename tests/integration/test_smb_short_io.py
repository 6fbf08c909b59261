"""Short SMB2 reads and writes: a server may answer a READ or a WRITE with fewer bytes than
asked for, and smbgate must ask again for the rest (a download is never cut short in the middle
of a file, an upload never leaves a hole) or fail with a clear error.

The short answers come from real Samba: a proxy between smbgate and Samba shrinks the Length of
READ and WRITE requests (and drops the tail of a WRITE's data), so Samba itself reads or writes
fewer bytes than smbgate asked for and answers with that count, exactly as a server that caps
requests does. One case rewrites WRITE responses to a count of 0 (a write that makes no
progress), which must fail the upload. The sessions are unsigned (the plain share), so the
rewritten messages are accepted."""

import hashlib
import os
import shutil
import threading

import pytest

from sftp_helpers import Area as SftpArea
from sftp_helpers import Server as SftpServer
from smb_helpers import FrameProxy, node_slug, own, read_frame, scratch_dir, shutdown_quietly

SMB2_READ, SMB2_WRITE = 8, 9
HDR = 64  # SMB2 header
SIZE = 3 * 1024 * 1024 + 4321  # a few requests of the negotiated size, not a multiple of one


def _le32(b, off):
    return int.from_bytes(b[off:off + 4], "little")


def _put_le32(b, off, v):
    return b[:off] + v.to_bytes(4, "little") + b[off + 4:]


def _single_smb2(body, command):
    """body is one plain SMB2 message (no compound, no transform) of `command`."""
    return (len(body) >= HDR + 8 and body[:4] == b"\xfeSMB" and _le32(body, 20) == 0
            and int.from_bytes(body[12:14], "little") == command)


class ShortIoProxy(FrameProxy):
    """Relays to Samba; READ and WRITE requests of more than `floor` bytes are cut to `keep`
    of their length (reads: Length; writes: Length and the data). zero_writes: every
    successful WRITE response says 0 bytes were written. Counts what it changed."""

    def __init__(self, upstream, reads=False, writes=False, keep=0.5, floor=1000,
                 zero_writes=False):
        self.reads, self.writes, self.keep, self.floor = reads, writes, keep, floor
        self.zero_writes = zero_writes
        self.lock = threading.Lock()
        self.cut_reads = self.cut_writes = self.zeroed = 0
        super().__init__(upstream)

    def _cut(self, n):
        return max(1, int(n * self.keep))

    def rewrite(self, body, to_server):
        if to_server and self.reads and _single_smb2(body, SMB2_READ):
            n = _le32(body, HDR + 4)
            if n > self.floor:
                with self.lock:
                    self.cut_reads += 1
                return _put_le32(body, HDR + 4, self._cut(n))
        if to_server and self.writes and _single_smb2(body, SMB2_WRITE):
            n = _le32(body, HDR + 4)
            doff = int.from_bytes(body[HDR + 2:HDR + 4], "little")
            if n > self.floor and doff + n == len(body):
                k = self._cut(n)
                with self.lock:
                    self.cut_writes += 1
                return _put_le32(body, HDR + 4, k)[:doff + k]
        if (not to_server and self.zero_writes and _single_smb2(body, SMB2_WRITE)
                and _le32(body, 8) == 0):
            with self.lock:
                self.zeroed += 1
            return _put_le32(body, HDR + 4, 0)
        return body

    def _pump(self, a, b, to_server):
        # FrameProxy's pump, with the frame length recomputed: a rewrite may shorten a message.
        try:
            while (frame := read_frame(a)) is not None:
                hdr, body = frame
                if hdr[0] == 0:
                    body = self.rewrite(body, to_server)
                    hdr = b"\0" + len(body).to_bytes(3, "big")
                b.sendall(hdr + body)
        except OSError:
            pass
        shutdown_quietly(a, b)


@pytest.fixture
def area(samba, request):
    with scratch_dir(samba, "plain", node_slug(request, "short-")) as p:
        yield p


@pytest.mark.parametrize("proto", ["2.1", "3.1.1"])
def test_short_reads_get_and_cat_whole_file(samba, run_smbgate, area, tmp_path, proto):
    data = os.urandom(SIZE)
    (area / "src.bin").write_bytes(data)
    own(samba, area / "src.bin")
    rel = f"{area.name}/src.bin"
    with ShortIoProxy(samba.port, reads=True) as proxy:
        url = proxy.url(samba, "plain", rel, max_protocol=proto)
        dst = tmp_path / "got.bin"
        r = run_smbgate("get", url, dst)
        assert r.returncode == 0, r.stderr
        assert dst.read_bytes() == data, f"{dst.stat().st_size} bytes of {SIZE}"
        r = run_smbgate("cat", url, text=False)
        assert r.returncode == 0, r.stderr
        assert r.stdout == data, f"{len(r.stdout)} bytes of {SIZE}"
        # a range in the middle of the file, through the same short answers
        r = run_smbgate("cat", "--offset", "1000000", "--count", "1500000", url, text=False)
        assert r.returncode == 0, r.stderr
        assert r.stdout == data[1000000:2500000]
    assert proxy.cut_reads > 0, "the proxy shortened no READ: the test tests nothing"


@pytest.mark.parametrize("proto", ["2.1", "3.1.1"])
def test_short_writes_put_whole_file(samba, run_smbgate, area, tmp_path, proto):
    data = os.urandom(SIZE)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    rel = f"{area.name}/up.bin"
    with ShortIoProxy(samba.port, writes=True) as proxy:
        r = run_smbgate("put", src, proxy.url(samba, "plain", rel, max_protocol=proto))
        assert r.returncode == 0, r.stderr
        # from a pipe too (the source-callback path rather than sendfile)
        r = run_smbgate("put", "-", proxy.url(samba, "plain", rel + ".pipe",
                                              max_protocol=proto), input=data, text=False)
        assert r.returncode == 0, r.stderr
    assert proxy.cut_writes > 0, "the proxy shortened no WRITE: the test tests nothing"
    for name in ("up.bin", "up.bin.pipe"):
        got = (area / name).read_bytes()
        assert len(got) == SIZE and got == data, (
            f"{name}: {len(got)} bytes of {SIZE}, sha256 {hashlib.sha256(got).hexdigest()}")


def test_write_without_progress_fails(samba, run_smbgate, area, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(200000))
    with ShortIoProxy(samba.port, zero_writes=True) as proxy:
        r = run_smbgate("put", src, proxy.url(samba, "plain", f"{area.name}/zero.bin"))
    assert proxy.zeroed > 0
    assert r.returncode != 0, "an upload whose writes moved nothing was reported as done"
    assert "wrote 0 of" in r.stderr and "zero.bin" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) <= 2, r.stderr


def test_gateway_short_reads_and_writes(samba, smbgate_bin, tmp_path):
    """The same through `smbgate serve sftp`: paramiko's put and get move the whole file."""
    area = SftpArea(samba)
    data = os.urandom(SIZE)
    area.write("down.bin", data)
    src = tmp_path / "up.bin"
    src.write_bytes(data)
    with ShortIoProxy(samba.port, reads=True, writes=True) as proxy:
        server = SftpServer(smbgate_bin, proxy.url(samba, "plain", area.rel))
        try:
            t = server.paramiko()
            sftp = t.open_sftp_client()
            sftp.put(str(src), "up.bin")
            dst = tmp_path / "down.bin"
            sftp.get("down.bin", str(dst))
            sftp.close()
            t.close()
        finally:
            server.stop()
    got = (area.path / "up.bin").read_bytes()
    shutil.rmtree(area.path, ignore_errors=True)
    assert proxy.cut_reads > 0 and proxy.cut_writes > 0
    assert dst.read_bytes() == data
    assert got == data, f"{len(got)} bytes of {SIZE} on the share"


def test_smb_pwrite_and_pread_through_short_answers(samba, run_smbgate, area):
    """`smbgate test` writes a file with smb_pwrite and reads it back with smb_pread (the
    window over the caller's buffer): both whole through short answers."""
    with ShortIoProxy(samba.port, reads=True, writes=True) as proxy:
        r = run_smbgate("test", proxy.url(samba, "plain", area.name))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "content matches" in r.stdout, r.stdout
    assert proxy.cut_reads > 0 and proxy.cut_writes > 0
