"""paramiko's putfo pipelines up to 32 KiB WRITEs and, once more than 100 are unanswered,
reads their replies one by one in request order, dropping any reply that overtakes the one
awaited (and then waiting forever for it). Samba completes pipelined writes out of order, so
the gateway must send one handle's WRITE replies in request order; the local backend
completes them in order anyway. Over SMB this hung after a few MiB without that ordering."""
import hashlib
import io
import os

import paramiko
import pytest

from sftp_helpers import Area, Server


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", ["smb", "local"])
def test_putfo_large(smbgate_bin, hostkey, samba, tmp_path, backend):
    area = Area(samba)
    data = os.urandom(48 * 1024 * 1024 + 4321)
    remote = area.url() if backend == "smb" else str(tmp_path)
    disk = area.path if backend == "smb" else tmp_path
    s = Server(smbgate_bin, remote, key=hostkey)
    try:
        t = s.paramiko()
        sftp = paramiko.SFTPClient.from_transport(t)
        sftp.putfo(io.BytesIO(data), "big.bin")
        sftp.close()
        t.close()
    finally:
        s.stop()
    got = (disk / "big.bin").read_bytes()
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
