"""`smbgate serve sftp` over an SMB share of the private Samba (tests/rig/samba.py), with real
clients: OpenSSH sftp (-D and -b), ssh exec, paramiko (raw protocol) and rclone's sftp
backend. Results are checked on the share's directory on disk and with smbstatus (no SMB
handle may stay open after a client goes away).

Run: SMBGATE_BIN=build/smbgate /usr/bin/python3 -m pytest tests/integration/test_sftp_smb.py
"""

import hashlib
import os
import struct
import subprocess
import time
import uuid
from pathlib import Path

import paramiko
import pytest

from sftp_helpers import (CLOSE, DATA, EXTENDED, EXTENDED_REPLY, FX_OK, FX_PERMISSION_DENIED,
                          FXF_CREAT, FXF_READ, FXF_TRUNC, FXF_WRITE, NAME, PASSWORD, READ,
                          REALPATH, STATUS, USER, WRITE, Area, HostKeys, RawSftp, Server,
                          append_scenario, open_files, reput_scenario, resume_scenario,
                          stdio_batch)


@pytest.fixture(scope="module")
def hostkey():
    k = HostKeys()
    yield k.path
    k.cleanup()


@pytest.fixture
def area(samba):
    return Area(samba)


@pytest.fixture
def server(smbgate_bin, hostkey):
    servers = []

    def start(url, *args, **kw):
        s = Server(smbgate_bin, url, *args, key=hostkey, **kw)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


def md5(p):
    return hashlib.md5(Path(p).read_bytes()).hexdigest()


def test_stdio_over_smb(smbgate_bin, area, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(6 * 1024 * 1024 + 333))
    area.write("existing.txt", b"from the share\n")
    r = stdio_batch(smbgate_bin, area.url(), [
        "ls -l", f"put {src} up.bin", f"get up.bin {tmp_path}/down.bin",
        f"get existing.txt {tmp_path}/e.txt", "mkdir d", "rename up.bin d/moved.bin",
        "ls d", "df",
    ])
    assert "existing.txt" in r.stdout and "d/moved.bin" in r.stdout
    assert md5(tmp_path / "down.bin") == md5(src)
    assert md5(area.path / "d" / "moved.bin") == md5(src)
    assert (tmp_path / "e.txt").read_bytes() == b"from the share\n"


def test_listener_over_smb(server, area, samba, tmp_path):
    s = server(area.url())
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(32 * 1024 * 1024 + 1))
    s.sftp_batch([f"put {src} big.bin", f"get big.bin {tmp_path}/back.bin", "ls -l",
                  "mkdir sub", "rename big.bin sub/big.bin", "rm sub/big.bin", "rmdir sub"])
    assert md5(tmp_path / "back.bin") == md5(src)
    assert not (area.path / "sub").exists()
    assert open_files(samba, area.rel) == []


def test_root_is_the_url_path(server, area, samba):
    area.write("inside.txt", b"in")
    s = server(area.url())
    t = s.paramiko()
    c = RawSftp(t)
    typ, p = c.call(REALPATH, 1, c.s("/../.."))
    assert typ == NAME and RawSftp.take_string(p[4:])[0] == b"/"
    sf = paramiko.SFTPClient.from_transport(t)
    assert sf.listdir("/") == ["inside.txt"]
    assert sf.listdir("/../..") == ["inside.txt"]  # never above the URL's folder
    with pytest.raises(IOError):
        sf.stat("/../" + area.rel + "/inside.txt")
    t.close()


def test_pipelined_reads_in_flight(server, area):
    data = os.urandom(16 * 1024 * 1024)
    area.write("f.bin", data)
    s = server(area.url())
    t = s.paramiko()
    c = RawSftp(t)
    h, err = c.open(1, "f.bin", FXF_READ)
    assert h, err
    n = 64
    size = 256 * 1024 - 1024
    for i in range(n):
        c.send(READ, 100 + i, c.s(h) + struct.pack(">QI", i * size, size))
    order = []
    got = {}
    for _ in range(n):
        typ, rid, p = c.recv()
        assert typ == DATA
        got[rid] = c.take_string(p)[0]
        order.append(rid)
    for i in range(n):
        assert got[100 + i] == data[i * size:(i + 1) * size], i
    typ, p = c.call(CLOSE, 2, c.s(h))
    assert c.status(p)[0] == FX_OK
    t.close()


def test_exec_hash_over_smb(server, area):
    data = os.urandom(3 * 1024 * 1024 + 7)
    area.write("h.bin", data)
    s = server(area.url())
    r = s.ssh("md5sum /h.bin")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode() == f"{hashlib.md5(data).hexdigest()}  /h.bin\n"
    r = s.ssh("sha1sum h.bin")
    assert r.stdout.decode() == f"{hashlib.sha1(data).hexdigest()}  h.bin\n"
    r = s.ssh("df")
    assert r.returncode == 0 and len(r.stdout.decode().splitlines()) == 2


def test_rclone_over_smb(server, area, tmp_path):
    s = server(area.url())
    src = tmp_path / "src"
    (src / "x" / "y").mkdir(parents=True)
    for i in range(12):
        (src / "x" / f"f{i}").write_bytes(os.urandom(777 * i + 1))
    (src / "x" / "y" / "big").write_bytes(os.urandom(4 * 1024 * 1024))
    obscured = subprocess.run(["rclone", "obscure", PASSWORD], capture_output=True, text=True,
                              check=True).stdout.strip()
    conf = tmp_path / "rclone.conf"
    conf.write_text(f"[gw]\ntype = sftp\nhost = 127.0.0.1\nport = {s.port}\nuser = {USER}\n"
                    f"pass = {obscured}\n")
    env = dict(os.environ, RCLONE_CONFIG=str(conf))
    r = subprocess.run(["rclone", "copy", str(src), "gw:dst"], capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 0, r.stderr + s.log()
    r = subprocess.run(["rclone", "check", str(src), "gw:dst"], capture_output=True,
                       text=True, env=env, timeout=300)
    assert r.returncode == 0 and "0 differences found" in r.stderr, r.stderr
    assert md5(area.path / "dst" / "x" / "y" / "big") == md5(src / "x" / "y" / "big")


def test_disconnect_mid_upload_leaves_no_smb_handle(server, area, samba):
    s = server(area.url())
    t = s.paramiko()
    c = RawSftp(t)
    h, err = c.open(1, "partial.bin", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    assert h, err
    for i in range(16):
        c.send(WRITE, 10 + i, c.s(h) + struct.pack(">Q", i * 65536) + c.s(b"q" * 65536))
    for _ in range(16):
        c.recv()
    assert open_files(samba, "partial.bin"), "the upload's handle should be open now"
    t.sock.close()
    deadline = time.time() + 15
    while time.time() < deadline and open_files(samba, "partial.bin"):
        time.sleep(0.2)
    assert open_files(samba, "partial.bin") == []
    assert (area.path / "partial.bin").stat().st_size == 16 * 65536


def test_resume_write_at_size_over_smb(server, area, samba):
    s = server(area.url())
    t = s.paramiko()
    resume_scenario(t, area.path)
    t.close()
    assert open_files(samba, area.rel) == []


def test_append_ignores_offsets_over_smb(server, area, samba):
    s = server(area.url())
    t = s.paramiko()
    sf = paramiko.SFTPClient.from_transport(t)
    append_scenario(sf, area.path)
    t.close()
    assert open_files(samba, area.rel) == []


def test_openssh_reput_reget_over_smb(server, area, tmp_path):
    reput_scenario(server(area.url()), area.path, tmp_path)


def test_read_only_share_and_flag(server, samba, area, tmp_path):
    s = server(samba.url("ro"))
    src = tmp_path / "x"
    src.write_text("x")
    r = s.sftp_batch([f"put {src} x"], check=False)
    assert r.returncode != 0
    assert "denied" in (r.stdout + r.stderr).lower()
    s2 = server(area.url(), "--read-only")
    r = s2.sftp_batch([f"put {src} x"], check=False)
    assert r.returncode != 0
    assert not (area.path / "x").exists()


def test_wrong_smb_password_fails_at_start(smbgate_bin, samba, hostkey):
    url = samba.url("plain", creds=None) + "?auth-username=" + samba.user + \
        "&auth-password=wrong"
    r = subprocess.run([smbgate_bin, "serve", "sftp", "--stdio", url], capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 1
    assert "LOGON_FAILURE" in r.stderr or "password" in r.stderr


def test_password_from_environment(smbgate_bin, samba, area, tmp_path):
    area.write("env.txt", b"ok")
    url = samba.url("plain", area.rel, creds=None) + "?auth-username=" + samba.user
    r = stdio_batch(smbgate_bin, url, [f"get env.txt {tmp_path}/env.txt"], check=False)
    assert r.returncode != 0  # no password anywhere
    os.environ["SMBGATE_PASSWORD"] = samba.password
    try:
        stdio_batch(smbgate_bin, url, [f"get env.txt {tmp_path}/env.txt"])
    finally:
        del os.environ["SMBGATE_PASSWORD"]
    assert (tmp_path / "env.txt").read_bytes() == b"ok"


def test_encrypted_share(server, samba, tmp_path):
    s = server(samba.url("enc"))
    src = tmp_path / "e.bin"
    src.write_bytes(os.urandom(2 * 1024 * 1024))
    name = "enc-" + uuid.uuid4().hex[:6]
    s.sftp_batch([f"put {src} {name}", f"get {name} {tmp_path}/back", f"rm {name}"])
    assert md5(tmp_path / "back") == md5(src)


def test_smb_connection_reused_across_sessions(server, area, samba):
    area.write("r.txt", b"r")
    s = server(area.url())
    seen = set()
    for _ in range(3):
        s.sftp_batch(["ls"])
        ids = {k for k, x in (samba.status().get("sessions") or {}).items()
               if str(x.get("uid")) == str(area.uid) or x.get("username") == samba.user}
        assert len(ids) == 1  # the session's connection went back to the pool, idle
        seen |= ids
    # one SMB session served all three SSH sessions: no new logon per SSH session
    assert len(seen) == 1
