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

from sftp_helpers import (ATTRS, CLOSE, DATA, EXTENDED, EXTENDED_REPLY, FSTAT, FX_EOF,
                          FX_NO_SUCH_FILE, FX_OK, FX_PERMISSION_DENIED, FXF_CREAT, FXF_READ,
                          FXF_TRUNC, FXF_WRITE, HANDLE, NAME, OPEN, PASSWORD, READ, REALPATH,
                          REMOVE, RENAME, STAT, STATUS, USER, WRITE, RawSftp, append_scenario,
                          open_files, reput_scenario, resume_scenario, stdio_batch)


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
    # an atomic upload: nothing under the name, the data kept under the temporary one
    assert not (area.path / "partial.bin").exists()
    tmp = list(area.path.glob(".partial.bin.*.partial"))
    assert len(tmp) == 1 and tmp[0].stat().st_size == 16 * 65536


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


# ---- round trips spared per file: the open's attributes answer the FSTAT after it, a small
# file is read ahead at open, an end of file just seen answers the next read at it, a file
# read only is closed without waiting, stat is asynchronous. Each answer must stay right. ----


def no_open_files(samba, name_part, timeout=10):
    """True once smbd lists no open file under name_part (a read-only close is not waited
    for, so smbd may still be taking it when the client hears back)."""
    deadline = time.time() + timeout
    while open_files(samba, name_part):
        if time.time() > deadline:
            return False
        time.sleep(0.1)
    return True


def attrs_size(payload):
    flags, size = struct.unpack(">IQ", payload[:12])
    assert flags & 1  # SSH_FILEXFER_ATTR_SIZE
    return size


def raw_read(c, rid, h, off, n=1 << 16):
    """One READ: the data, or None at end of file."""
    typ, p = c.call(READ, rid, c.s(h) + struct.pack(">QI", off, n))
    if typ == STATUS:
        assert c.status(p)[0] == FX_EOF, c.status(p)
        return None
    assert typ == DATA
    return c.take_string(p)[0]


def test_fstat_after_open_sees_a_change_between_opens(server, area, samba):
    area.write("f.txt", b"12345")
    s = server(area.url())
    t = s.paramiko()
    c = RawSftp(t)
    h, err = c.open(1, "f.txt", FXF_READ)
    assert h, err
    typ, p = c.call(FSTAT, 2, c.s(h))
    assert typ == ATTRS and attrs_size(p) == 5
    assert c.status(c.call(CLOSE, 3, c.s(h))[1])[0] == FX_OK
    area.write("f.txt", b"123456789")  # changed on the share between the two opens
    h, err = c.open(4, "f.txt", FXF_READ)
    assert h, err
    typ, p = c.call(FSTAT, 5, c.s(h))
    assert typ == ATTRS and attrs_size(p) == 9
    # the open's answer serves the one FSTAT after it; the next one asks the server
    area.write("f.txt", b"1")
    typ, p = c.call(FSTAT, 6, c.s(h))
    assert typ == ATTRS and attrs_size(p) == 1
    assert c.status(c.call(CLOSE, 7, c.s(h))[1])[0] == FX_OK
    t.close()
    assert no_open_files(samba, area.rel)


def test_close_then_at_once_remove_rename_overwrite(server, area, samba):
    s = server(area.url())
    t = s.paramiko()
    c = RawSftp(t)

    def pipelined(*reqs):
        for typ, rid, body in reqs:
            c.send(typ, rid, body)
        got = {}
        for _ in reqs:
            typ, rid, p = c.recv()
            got[rid] = (typ, p)
        return got

    # REMOVE right behind the CLOSE of a file that was read
    area.write("g.txt", b"g" * 3000)
    h, err = c.open(1, "g.txt", FXF_READ)
    assert h, err
    assert raw_read(c, 2, h, 0) == b"g" * 3000
    got = pipelined((CLOSE, 3, c.s(h)), (REMOVE, 4, c.s("g.txt")))
    assert [c.status(got[i][1])[0] for i in (3, 4)] == [FX_OK, FX_OK]
    assert not (area.path / "g.txt").exists()
    # RENAME right behind the CLOSE
    area.write("h.txt", b"old")
    h, err = c.open(5, "h.txt", FXF_READ)
    assert raw_read(c, 6, h, 0) == b"old"
    got = pipelined((CLOSE, 7, c.s(h)), (RENAME, 8, c.s("h.txt") + c.s("h2.txt")))
    assert [c.status(got[i][1])[0] for i in (7, 8)] == [FX_OK, FX_OK]
    assert (area.path / "h2.txt").read_bytes() == b"old"
    # an overwrite right behind the CLOSE
    h, err = c.open(9, "h2.txt", FXF_READ)
    assert raw_read(c, 10, h, 0) == b"old"
    got = pipelined((CLOSE, 11, c.s(h)),
                    (OPEN, 12, c.s("h2.txt") + struct.pack(">II", FXF_WRITE | FXF_CREAT |
                                                           FXF_TRUNC, 0)))
    assert c.status(got[11][1])[0] == FX_OK and got[12][0] == HANDLE
    w = c.take_string(got[12][1])[0]
    assert c.status(c.call(WRITE, 13, c.s(w) + struct.pack(">Q", 0) + c.s(b"new!"))[1])[0] \
        == FX_OK
    assert c.status(c.call(CLOSE, 14, c.s(w))[1])[0] == FX_OK
    assert (area.path / "h2.txt").read_bytes() == b"new!"
    # and the file reads back new through the gateway
    h, err = c.open(15, "h2.txt", FXF_READ)
    assert raw_read(c, 16, h, 0) == b"new!"
    assert raw_read(c, 17, h, 4) is None
    assert c.status(c.call(CLOSE, 18, c.s(h))[1])[0] == FX_OK
    t.close()
    assert no_open_files(samba, area.rel)


def test_stat_sees_a_change_once_the_dir_cache_expired(server, area, samba):
    area.write("d/a.txt", b"12345")
    s = server(area.url(), "--dir-cache-time", "1s")
    t = s.paramiko()
    sf = paramiko.SFTPClient.from_transport(t)
    assert sf.listdir("d") == ["a.txt"]
    assert sf.stat("d/a.txt").st_size == 5
    area.write("d/a.txt", b"1234567890")
    time.sleep(1.5)
    assert sf.stat("d/a.txt").st_size == 10
    with pytest.raises(FileNotFoundError):
        sf.stat("d/missing.txt")
    # many STATs in flight together (not listed: each one asks the server)
    sizes = {f"e/f{i:02d}": 100 * i + 1 for i in range(24)}
    for name, n in sizes.items():
        area.write(name, b"z" * n)
    c = RawSftp(t)
    names = list(sizes) + ["e/none"]
    for i, name in enumerate(names):
        c.send(STAT, 100 + i, c.s(name))
    got = {}
    for _ in names:
        typ, rid, p = c.recv()
        got[rid] = (typ, p)
    for i, name in enumerate(names[:-1]):
        typ, p = got[100 + i]
        assert typ == ATTRS and attrs_size(p) == sizes[name], name
    typ, p = got[100 + len(names) - 1]
    assert typ == STATUS and c.status(p)[0] == FX_NO_SUCH_FILE
    t.close()
    assert no_open_files(samba, area.rel)


def test_reads_see_a_file_grow(server, area, samba):
    area.write("grow.txt", b"abc")
    s = server(area.url())
    t = s.paramiko()
    c = RawSftp(t)
    h, err = c.open(1, "grow.txt", FXF_READ)
    assert h, err
    assert raw_read(c, 2, h, 0) == b"abc"
    with open(area.path / "grow.txt", "ab") as f:
        f.write(b"def")
    # the end just seen may answer one read at it; a reader polling the end sees the growth
    # the next time at the latest
    got = raw_read(c, 3, h, 3)
    if got is None:
        got = raw_read(c, 4, h, 3)
    assert got == b"def"
    assert c.status(c.call(CLOSE, 5, c.s(h))[1])[0] == FX_OK
    # what an open read ahead is not used once it is old
    h, err = c.open(6, "grow.txt", FXF_READ)
    assert h, err
    area.write("grow.txt", b"xyz123456")
    time.sleep(1.3)
    assert raw_read(c, 7, h, 0) == b"xyz123456"
    assert c.status(c.call(CLOSE, 8, c.s(h))[1])[0] == FX_OK
    t.close()
    assert no_open_files(samba, area.rel)


def test_change_through_another_session_is_seen_at_once(server, area, samba):
    area.write("shared.txt", b"old content")
    s = server(area.url(), "--inplace")  # the writer changes the file the reader has open
    ta, tb = s.paramiko(), s.paramiko()  # both logged in before the timed part
    ca = RawSftp(ta)
    sfb = paramiko.SFTPClient.from_transport(tb)
    h, err = ca.open(1, "shared.txt", FXF_READ)  # read ahead now
    assert h, err
    typ, p = ca.call(FSTAT, 2, ca.s(h))  # the read-ahead has had its round trip
    assert attrs_size(p) == 11
    with sfb.open("shared.txt", "w") as f:
        f.write(b"NEW")
    assert raw_read(ca, 3, h, 0) == b"NEW"
    assert raw_read(ca, 4, h, 3) is None
    assert ca.status(ca.call(CLOSE, 5, ca.s(h))[1])[0] == FX_OK
    ta.close()
    tb.close()
    assert no_open_files(samba, area.rel)


@pytest.mark.parametrize("via", ["stdio", "ssh"])
def test_many_small_files_round_trip(smbgate_bin, server, area, samba, tmp_path, via):
    # sizes around the read-ahead limit (64 KiB) and OpenSSH's read size
    sizes = [0, 1, 100, 4095, 4096, 32768, 32769, 65535, 65536, 65537, 262144, 300001]
    src = tmp_path / "src"
    src.mkdir()
    for i in range(60):
        (src / f"f{i:02d}").write_bytes(os.urandom(sizes[i % len(sizes)]))
    cmds = [f"put -r {src} up", f"get -r up {tmp_path}/back"]
    if via == "stdio":
        stdio_batch(smbgate_bin, area.url(), cmds)
    else:
        server(area.url()).sftp_batch(cmds)
    for i in range(60):
        want = (src / f"f{i:02d}").read_bytes()
        assert (area.path / "up" / f"f{i:02d}").read_bytes() == want, i
        assert (tmp_path / "back" / f"f{i:02d}").read_bytes() == want, i
    assert no_open_files(samba, area.rel)
