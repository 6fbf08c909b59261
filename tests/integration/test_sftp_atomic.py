"""Atomic uploads through `smbgate serve sftp` (DESIGN decision 13), on both backends (a local
folder and a share of the private Samba, over SMB2/3 and SMB1): an upload is written under a hidden temporary name
and renamed over its target when the client closes it. The gateway killed mid-upload
(SIGKILL) leaves no half file under the target's name; OpenSSH's `reput` then continues the
temporary and the result is byte-exact; `--inplace` writes the target directly.

Run: SMBGATE_BIN=build/smbgate /usr/bin/python3 -m pytest tests/integration/test_sftp_atomic.py
"""

import hashlib
import os
import struct
import time

import paramiko
import pytest

from sftp_helpers import (CLOSE, FX_OK, FXF_CREAT, FXF_TRUNC, FXF_WRITE, WRITE, Area, RawSftp,
                          open_files)

MiB = 1024 * 1024


@pytest.fixture(params=["local", "smb", "smb1"])
def remote(request, shm_path):
    """(what to serve, the served folder on this machine, samba or None); smb1: a Samba that
    allows NT1, spoken to with SMB1 only (the rename by handle takes another path there)"""
    if request.param == "local":
        return str(shm_path), shm_path, None
    if request.param == "smb1":
        samba = request.getfixturevalue("samba_nt1")
        area = Area(samba)
        return area.url(max_protocol="NT1"), area.path, samba
    samba = request.getfixturevalue("samba")
    area = Area(samba)
    return area.url(), area.path, samba


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def partials(disk, name):
    return sorted(disk.glob(f".{name}.*.partial"))


def write_acked(c, h, data, first_id=100, chunk=32768):
    """Pipelined WRITEs of data from 0 on, every one acknowledged."""
    n = 0
    for i in range(0, len(data), chunk):
        c.send(WRITE, first_id + n, c.s(h) + struct.pack(">Q", i) + c.s(data[i:i + chunk]))
        n += 1
    for _ in range(n):
        typ, rid, p = c.recv()
        assert c.status(p)[0] == FX_OK, (rid, c.status(p))


def owned(samba, p):
    """Files made here for a Samba share belong to the share's user."""
    if samba is not None:
        import pwd
        pw = pwd.getpwnam(samba.user)
        os.chown(p, pw.pw_uid, pw.pw_gid)


@pytest.mark.parametrize("existing", [False, True], ids=["new", "overwrite"])
def test_gateway_killed_mid_upload_then_reput(server, remote, tmp_path, existing):
    url, disk, samba = remote
    name = "up.bin"
    old = b"the complete old version\n"
    if existing:
        (disk / name).write_bytes(old)
        owned(samba, disk / name)
    data = os.urandom(20 * MiB + 12345)
    cut = 9 * MiB + 77
    s = server(url)
    t = s.paramiko()
    c = RawSftp(t)
    h, err = c.open(1, name, FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    assert h, err
    write_acked(c, h, data[:cut])
    # while it is being written, the name shows the old file (or nothing), never a half one
    sf = paramiko.SFTPClient.from_transport(t)
    listed = sf.listdir(".")
    assert not any(n.endswith(".partial") for n in listed), listed
    assert (name in listed) == existing
    s.proc.kill()  # SIGKILL: no close, no cleanup
    s.proc.wait()
    t.close()
    if existing:
        assert (disk / name).read_bytes() == old
    else:
        assert not (disk / name).exists()
    tmp = partials(disk, name)
    assert len(tmp) == 1 and tmp[0].stat().st_size == cut
    if samba is not None:  # smbd notices the dropped connection and closes the handle
        deadline = time.time() + 10
        while time.time() < deadline and open_files(samba, name):
            time.sleep(0.2)

    # a new gateway; OpenSSH's reput continues the interrupted upload
    s2 = server(url)
    full = tmp_path / "full.bin"
    full.write_bytes(data)
    r = s2.sftp_batch([f"reput {full} {name}"])
    assert sha256((disk / name).read_bytes()) == sha256(data), r.stdout + r.stderr
    assert partials(disk, name) == []
    if samba is not None:
        assert open_files(samba, name) == []


def test_put_appears_whole_and_failed_upload_keeps_target(server, remote, tmp_path):
    """A normal put: the name appears only complete. A client that goes away mid-upload leaves
    the target as it was."""
    url, disk, samba = remote
    s = server(url)
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(3 * MiB + 5))
    s.sftp_batch([f"put {src} a.bin"])
    assert (disk / "a.bin").read_bytes() == src.read_bytes()
    assert partials(disk, "a.bin") == []
    t = s.paramiko()
    c = RawSftp(t)
    h, err = c.open(1, "a.bin", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    assert h, err
    write_acked(c, h, b"x" * MiB)
    t.sock.close()  # gone without a CLOSE
    deadline = time.time() + 10
    while time.time() < deadline and not partials(disk, "a.bin"):
        time.sleep(0.1)
    time.sleep(0.5)
    assert (disk / "a.bin").read_bytes() == src.read_bytes()
    tmp = partials(disk, "a.bin")
    assert len(tmp) == 1 and tmp[0].stat().st_size == MiB


def test_inplace_writes_the_target(server, remote):
    url, disk, samba = remote
    s = server(url, "--inplace")
    t = s.paramiko()
    c = RawSftp(t)
    h, err = c.open(1, "ip.bin", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    assert h, err
    data = os.urandom(MiB)
    write_acked(c, h, data)
    assert (disk / "ip.bin").read_bytes() == data  # there before the close
    assert partials(disk, "ip.bin") == []
    typ, p = c.call(CLOSE, 2, c.s(h))
    assert c.status(p)[0] == FX_OK
    t.close()
    assert (disk / "ip.bin").read_bytes() == data


def test_smbd_killed_mid_upload_leaves_no_half_file(server, samba, tmp_path):
    """The smbd serving the gateway's session is killed mid-upload (as Samba dying): the
    client's writes fail, its CLOSE says the upload failed, and the target keeps its old
    content (before: a half file under the target's name)."""
    import signal

    from test_sftp_timeout import gateway_smb_ports, smbd_serving
    area = Area(samba)
    old = b"the complete old version\n"
    area.write("up.bin", old)
    s = server(area.url())
    t = s.paramiko()
    c = RawSftp(t)
    h, err = c.open(1, "up.bin", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    assert h, err
    write_acked(c, h, os.urandom(4 * MiB))
    ports = gateway_smb_ports(s.proc.pid, samba.port)
    assert len(ports) == 1, ports
    pid = smbd_serving(next(iter(ports)), samba.port)
    assert pid
    os.kill(pid, signal.SIGKILL)
    # the rest of the upload fails (not all at once: some may be in flight already)
    codes = set()
    for i in range(8):
        c.send(WRITE, 500 + i, c.s(h) + struct.pack(">Q", 4 * MiB + i * 32768) +
               c.s(b"y" * 32768))
    for _ in range(8):
        typ, rid, p = c.recv()
        codes.add(c.status(p)[0])
    assert codes - {FX_OK}, codes
    typ, p = c.call(CLOSE, 2, c.s(h))
    code, msg = c.status(p)
    assert code != FX_OK, msg
    t.close()
    assert (area.path / "up.bin").read_bytes() == old
