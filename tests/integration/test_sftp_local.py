"""`smbgate serve sftp` over a local folder, with real clients: OpenSSH sftp (-D over stdio,
-b over SSH with a password and with keys), ssh exec commands, paramiko (ordinary use and raw
protocol cases) and rclone's sftp backend. Every result is checked on the folder itself.

Run: SMBGATE_BIN=build/smbgate /usr/bin/python3 -m pytest tests/integration/test_sftp_local.py
"""

import hashlib
import os
import shutil
import socket
import stat
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import paramiko
import pytest

from sftp_helpers import (ATTRS, CLOSE, DATA, EXTENDED, EXTENDED_REPLY, FSTAT, FX_BAD_MESSAGE,
                          FX_EOF, FX_FAILURE, FX_NO_SUCH_FILE, FX_OK, FX_OP_UNSUPPORTED,
                          FX_PERMISSION_DENIED, FXF_APPEND, FXF_CREAT, FXF_EXCL, FXF_READ,
                          FXF_TRUNC, FXF_WRITE, HANDLE, NAME, OPEN, OPENDIR, PASSWORD, READ,
                          READDIR, REALPATH, STAT, STATUS, USER, WRITE, RawSftp, Server, SSH_OPTS,
                          append_scenario, raw_write, reput_scenario, resume_scenario, stdio_batch)


@pytest.fixture
def root(tmp_path):
    d = tmp_path / "root"
    d.mkdir()
    (d / "hello.txt").write_text("hello world\n")
    (d / "sub").mkdir()
    (d / "sub" / "inner.bin").write_bytes(os.urandom(100000))
    return d


@pytest.fixture
def server(server, root):
    """conftest's server, serving `root` unless remote= says otherwise."""

    def start(*args, remote=None, **kw):
        return server(remote or root, *args, **kw)

    return start


def md5(p):
    return hashlib.md5(Path(p).read_bytes()).hexdigest()


# ---- OpenSSH sftp over stdio (sftp -D) ---------------------------------------------------


def test_stdio_batch(smbgate_bin, root, tmp_path):
    src = tmp_path / "up.bin"
    src.write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    r = stdio_batch(smbgate_bin, root, [
        "pwd", "ls -l", f"put {src} up.bin", f"get up.bin {tmp_path}/down.bin",
        "mkdir newdir", "rename up.bin newdir/moved.bin", "ls newdir", "-rm nothere",
        "cd ..", "pwd", "df",
    ])
    assert "Remote working directory: /" in r.stdout
    assert "hello.txt" in r.stdout and "newdir/moved.bin" in r.stdout
    assert md5(tmp_path / "down.bin") == md5(src)
    assert md5(root / "newdir" / "moved.bin") == md5(src)
    assert not (root / "up.bin").exists()


def test_stdio_read_only(smbgate_bin, root, tmp_path):
    src = tmp_path / "x"
    src.write_text("x")
    r = stdio_batch(smbgate_bin, root, [f"put {src} x"], "--read-only", check=False)
    assert r.returncode != 0
    assert not (root / "x").exists()
    r = stdio_batch(smbgate_bin, root, [f"get hello.txt {tmp_path}/h"], "--read-only")
    assert (tmp_path / "h").read_text() == "hello world\n"


# ---- the SSH listener with OpenSSH's sftp ------------------------------------------------


def test_password_login_put_get(server, root, tmp_path):
    s = server()
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(8 * 1024 * 1024 + 5))
    s.sftp_batch([f"put {src} big.bin", f"get big.bin {tmp_path}/back.bin", "ls -l"])
    assert md5(root / "big.bin") == md5(src)
    assert md5(tmp_path / "back.bin") == md5(src)
    log = s.log()
    assert f"{USER}@127.0.0.1" in log and "logged in (password)" in log
    assert "close /big.bin" in log  # -v access log: user, op, path, bytes


def test_wrong_password_refused(server, root):
    s = server()
    t0 = time.time()
    r = s.sftp_batch(["ls"], password="wrong", check=False, extra=["-o",
                     "NumberOfPasswordPrompts=1"])
    assert r.returncode != 0
    assert time.time() - t0 >= 1.0  # a failed login is delayed
    assert "failed password login for tester" in s.log()


def test_key_login(server, root, tmp_path):
    key = tmp_path / "id_ed25519"
    other = tmp_path / "other"
    for k in (key, other):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(k)],
                       check=True)
    ak = tmp_path / "authorized_keys"
    ak.write_text("# comment\n\n" + (tmp_path / "id_ed25519.pub").read_text())
    s = server("--authorized-keys", str(ak), user=None)

    def batch(k):
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write("ls\n")
        try:
            return subprocess.run(["sftp", *SSH_OPTS, "-o", "BatchMode=yes", "-o",
                                   "IdentitiesOnly=yes", "-i", str(k), "-P", str(s.port),
                                   "-b", f.name, "anyone@127.0.0.1"],
                                  capture_output=True, text=True, timeout=60)
        finally:
            os.unlink(f.name)

    r = batch(key)
    assert r.returncode == 0, r.stderr + s.log()
    assert "hello.txt" in r.stdout
    r = batch(other)
    assert r.returncode != 0
    assert "failed publickey login" in s.log() or "Permission denied" in r.stderr


def test_no_auth_method_refused(smbgate_bin, root, tmp_path):
    env = dict(os.environ, HOME=str(tmp_path))  # no ~/.ssh/authorized_keys there
    r = subprocess.run([smbgate_bin, "serve", "sftp", "--addr", "127.0.0.1:0", str(root)],
                       capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode == 2
    for flag in ("--user", "--pass", "--authorized-keys", "--no-auth"):
        assert flag in r.stderr


def test_no_auth(server, root):
    s = server("--no-auth", user=None)
    t = paramiko.Transport(("127.0.0.1", s.port))
    t.connect()
    t.auth_none("whoever")
    sf = paramiko.SFTPClient.from_transport(t)
    assert "hello.txt" in sf.listdir("/")
    t.close()


def test_generated_host_keys_reused(smbgate_bin, root, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home)}
    s = Server(smbgate_bin, root, env=env)
    kdir = home / ".cache" / "smbgate" / "serve-sftp"
    files = sorted(p.name for p in kdir.iterdir())
    assert files == ["ssh_host_ecdsa_key", "ssh_host_ed25519_key", "ssh_host_rsa_key"]
    for p in kdir.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    first = {p.name: p.read_bytes() for p in kdir.iterdir()}
    t = s.paramiko()
    fp1 = t.get_remote_server_key().get_fingerprint()
    t.close()
    s.stop()
    s = Server(smbgate_bin, root, env=env)
    assert {p.name: p.read_bytes() for p in kdir.iterdir()} == first
    t = s.paramiko()
    assert t.get_remote_server_key().get_fingerprint() == fp1
    t.close()
    s.stop()


# ---- exec commands -------------------------------------------------------------------------


def test_exec_hashes_df_echo(server, root):
    s = server()
    data = (root / "sub" / "inner.bin").read_bytes()
    for cmd, h in (("md5sum", hashlib.md5), ("sha1sum", hashlib.sha1),
                   ("sha256sum", hashlib.sha256)):
        r = s.ssh(f"{cmd} /sub/inner.bin")
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode() == f"{h(data).hexdigest()}  /sub/inner.bin\n"
    r = s.ssh("md5sum")  # rclone's probe: the hash of empty input
    assert r.stdout.decode() == "d41d8cd98f00b204e9800998ecf8427e  -\n"
    r = s.ssh("md5sum /missing")
    assert r.returncode == 1 and b"/missing" in r.stderr
    r = s.ssh("df -k /")
    lines = r.stdout.decode().splitlines()
    assert r.returncode == 0 and len(lines) == 2
    assert lines[0].split()[1] == "1K-blocks"
    total, used, avail = (int(x) for x in lines[1].split()[1:4])
    st = os.statvfs(root)
    assert total == st.f_blocks * st.f_frsize // 1024
    r = s.ssh("echo ${ShellId}%ComSpec%")
    assert r.stdout.decode() == "%ComSpec%\n"
    r = s.ssh("cat /etc/passwd")
    assert r.returncode == 127 and b"command not found" in r.stderr


# ---- paramiko: ordinary use ----------------------------------------------------------------


def test_paramiko_modes_and_attrs(server, root):
    s = server()
    t = s.paramiko()
    sf = paramiko.SFTPClient.from_transport(t)
    with sf.open("p.txt", "w") as f:
        f.write(b"one\n")
        f.write(b"two\n")
    assert (root / "p.txt").read_bytes() == b"one\ntwo\n"
    with sf.open("p.txt", "r") as f:
        assert f.read() == b"one\ntwo\n"
    # read+write needs a cache mode that is not `off` (APPEND works: test_append_*)
    with pytest.raises(IOError):
        sf.open("p.txt", "r+")
    assert (root / "p.txt").read_bytes() == b"one\ntwo\n"
    with pytest.raises(IOError):
        sf.open("p.txt", "x")  # CREAT|EXCL on an existing file
    st = sf.stat("p.txt")
    assert st.st_size == 8 and stat.S_ISREG(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o666 & ~0o022
    sf.utime("p.txt", (1_000_000_000, 1_000_000_000))
    assert (root / "p.txt").stat().st_mtime == 1_000_000_000
    sf.chmod("p.txt", 0o600)  # accepted, and the VFS's permissions are still shown
    sf.truncate("p.txt", 0)
    assert (root / "p.txt").stat().st_size == 0
    sf.mkdir("d")
    sf.rename("p.txt", "d/q.txt")
    sf.posix_rename("d/q.txt", "hello.txt")
    assert (root / "hello.txt").read_bytes() == b""
    with pytest.raises(IOError):
        sf.rmdir("sub")  # not empty
    sf.remove("hello.txt")
    sf.rmdir("d")
    assert sorted(sf.listdir(".")) == ["sub"]
    t.close()


def test_paramiko_prefetch_large(server, root, tmp_path):
    s = server()
    src = root / "big.bin"
    src.write_bytes(os.urandom(20 * 1024 * 1024 + 3))
    t = s.paramiko()
    sf = paramiko.SFTPClient.from_transport(t)
    sf.get("big.bin", str(tmp_path / "b"), prefetch=True)
    assert md5(tmp_path / "b") == md5(src)
    with sf.open("big.bin") as f:
        chunks = list(f.readv([(0, 10), (5 * 1024 * 1024, 100), (20 * 1024 * 1024, 3)]))
    data = src.read_bytes()
    assert chunks[0] == data[:10]
    assert chunks[1] == data[5 * 1024 * 1024:5 * 1024 * 1024 + 100]
    assert chunks[2] == data[-3:]
    t.close()


# ---- raw protocol cases --------------------------------------------------------------------


def test_raw_pipelined_reads_and_ids(server, root):
    s = server()
    (root / "f").write_bytes(bytes(range(256)) * 4096)
    t = s.paramiko()
    c = RawSftp(t)
    h, err = c.open(1, "/f", FXF_READ)
    assert h, err
    ids = list(range(1000, 1064))
    for i, rid in enumerate(ids):
        c.send(READ, rid, c.s(h) + struct.pack(">QI", i * 16384, 16384))
    got = {}
    for _ in ids:
        typ, rid, p = c.recv()
        assert typ == DATA
        data, _ = c.take_string(p)
        got[rid] = data
    assert sorted(got) == ids
    whole = (root / "f").read_bytes()
    for i, rid in enumerate(ids):
        assert got[rid] == whole[i * 16384:(i + 1) * 16384]
    # a read past the end: EOF
    typ, p = c.call(READ, 5, c.s(h) + struct.pack(">QI", len(whole), 10))
    assert typ == STATUS and c.status(p)[0] == FX_EOF
    typ, p = c.call(CLOSE, 6, c.s(h))
    assert c.status(p)[0] == FX_OK
    t.close()


def test_raw_open_flags(server, root):
    s = server()
    (root / "e").write_text("existing")
    t = s.paramiko()
    c = RawSftp(t)
    cases = [
        ("missing", FXF_READ, FX_NO_SUCH_FILE),
        ("missing", FXF_WRITE, FX_NO_SUCH_FILE),
        ("e", FXF_WRITE | FXF_CREAT | FXF_EXCL, FX_FAILURE),
        ("e", FXF_READ | FXF_WRITE, FX_OP_UNSUPPORTED),
        ("e", FXF_READ | FXF_APPEND, FX_OP_UNSUPPORTED),
        ("sub", FXF_READ, FX_FAILURE),
    ]
    for i, (path, flags, want) in enumerate(cases):
        h, err = c.open(10 + i, path, flags)
        assert h is None and err[0] == want, (path, flags, err)
    assert (root / "e").read_text() == "existing"
    # WRITE without TRUNC keeps the file (resume: test_resume_*), APPEND too
    for rid, flags in ((30, FXF_WRITE), (32, FXF_WRITE | FXF_APPEND)):
        h, err = c.open(rid, "e", flags)
        assert h, err
        c.call(CLOSE, rid + 1, c.s(h))
        assert (root / "e").read_text() == "existing"
    h, err = c.open(20, "new", FXF_WRITE | FXF_CREAT | FXF_EXCL)
    assert h
    typ, p = c.call(WRITE, 21, c.s(h) + struct.pack(">Q", 0) + c.s(b"abc"))
    assert c.status(p)[0] == FX_OK
    typ, p = c.call(WRITE, 22, c.s(h) + struct.pack(">Q", 100) + c.s(b"x"))
    code, msg = c.status(p)
    assert code == FX_OP_UNSUPPORTED and "written sequentially" in msg
    typ, p = c.call(CLOSE, 23, c.s(h))
    assert (root / "new").read_bytes() == b"abc"
    h, err = c.open(24, "e", FXF_WRITE | FXF_TRUNC | FXF_CREAT)
    assert h
    c.call(CLOSE, 25, c.s(h))
    assert (root / "e").read_text() == ""
    t.close()


def test_raw_bad_handles_and_messages(server, root):
    s = server()
    t = s.paramiko()
    c = RawSftp(t)
    for rid, handle in ((1, b"\0" * 8), (2, b"xyz"), (3, b"")):
        typ, p = c.call(READ, rid, c.s(handle) + struct.pack(">QI", 0, 10))
        assert typ == STATUS and c.status(p) == (FX_FAILURE, "invalid handle")
    # a handle guessed before its OPENDIR finished is not usable either
    typ, p = c.call(READDIR, 4, c.s(struct.pack(">II", 0, 999)))
    assert c.status(p)[0] == FX_FAILURE
    # a truncated request: BAD_MESSAGE with the id, and the session goes on
    typ, p = c.call(OPEN, 5, struct.pack(">I", 1000) + b"abc")
    assert typ == STATUS and c.status(p)[0] == FX_BAD_MESSAGE
    typ, p = c.call(99, 6)
    assert c.status(p)[0] == FX_OP_UNSUPPORTED
    typ, p = c.call(REALPATH, 7, c.s("/"))
    assert typ == NAME
    t.close()


def test_raw_oversized_packet_ends_session(server, root):
    s = server()
    t = s.paramiko()
    c = RawSftp(t)
    c.chan.sendall(struct.pack(">I", 64 * 1024 * 1024) + bytes([READ]) + b"\0\0\0\1")
    with pytest.raises((EOFError, socket.timeout)):
        c.recv(timeout=10)
    assert "outside the allowed" in s.log()
    t.close()


def test_raw_escapes(server, root, tmp_path):
    s = server()
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    os.symlink(str(outside), root / "abs-link")
    os.symlink("../outside.txt", root / "rel-link")
    t = s.paramiko()
    c = RawSftp(t)
    for rid, p in enumerate(["/../..", "../../..", "/sub/../../../", "."], start=1):
        typ, pl = c.call(REALPATH, rid, c.s(p))
        name, _ = c.take_string(struct.pack(">I", 0)[0:0] + pl[4:])
        assert typ == NAME and name == b"/", (p, name)
    typ, pl = c.call(STAT, 10, c.s("../outside.txt"))
    assert typ == STATUS and c.status(pl)[0] == FX_NO_SUCH_FILE
    for rid, p in ((11, "abs-link"), (12, "rel-link"), (13, "../../../../etc/passwd")):
        h, err = c.open(rid, p, FXF_READ)
        assert h is None, p
    h, err = c.open(14, "rel-link", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    assert h is None
    assert outside.read_text() == "secret"
    # the escaping links are not even listed
    sf = paramiko.SFTPClient.from_transport(t)
    assert "abs-link" not in sf.listdir("/") and "rel-link" not in sf.listdir("/")
    t.close()


def test_raw_extensions(server, root):
    s = server()
    t = s.paramiko()
    c = RawSftp(t)
    for ext in ("posix-rename@openssh.com", "statvfs@openssh.com", "fstatvfs@openssh.com",
                "hardlink@openssh.com", "fsync@openssh.com", "limits@openssh.com",
                "expand-path@openssh.com"):
        assert ext in c.extensions
    typ, p = c.call(EXTENDED, 1, c.s("limits@openssh.com"))
    assert typ == EXTENDED_REPLY
    pkt, rd, wr, handles = struct.unpack(">QQQQ", p)
    assert rd == wr == 261120 and pkt >= 262144 and handles > 0
    typ, p = c.call(EXTENDED, 2, c.s("statvfs@openssh.com") + c.s("/"))
    assert typ == EXTENDED_REPLY and len(p) == 88
    f_bsize, f_frsize, f_blocks = struct.unpack(">QQQ", p[:24])
    st = os.statvfs(root)
    assert f_blocks * f_frsize == st.f_blocks * st.f_frsize
    typ, p = c.call(EXTENDED, 3, c.s("expand-path@openssh.com") + c.s("~/sub/../x"))
    assert typ == NAME and b"/x" in p
    typ, p = c.call(EXTENDED, 4, c.s("hardlink@openssh.com") + c.s("hello.txt") + c.s("hl"))
    assert c.status(p)[0] == FX_OK
    assert os.stat(root / "hl").st_ino == os.stat(root / "hello.txt").st_ino
    h, _ = c.open(5, "hello.txt", FXF_READ)
    typ, p = c.call(EXTENDED, 6, c.s("fsync@openssh.com") + c.s(h))
    assert c.status(p)[0] == FX_OK
    typ, p = c.call(EXTENDED, 7, c.s("fstatvfs@openssh.com") + c.s(h))
    assert typ == EXTENDED_REPLY
    typ, p = c.call(EXTENDED, 8, c.s("copy-data"))
    assert c.status(p)[0] == FX_OP_UNSUPPORTED
    t.close()


def test_max_handles(server, root):
    s = server("--max-handles", "3")
    t = s.paramiko()
    c = RawSftp(t)
    hs = [c.open(i, "hello.txt", FXF_READ)[0] for i in range(3)]
    assert all(hs)
    h, err = c.open(9, "hello.txt", FXF_READ)
    assert h is None and err[0] == FX_FAILURE and "too many open handles" in err[1]
    t.close()


# ---- writes into an existing file: resume, APPEND (cache mode off) -----------------------


def test_resume_write_at_size(server, root):
    s = server()
    t = s.paramiko()
    resume_scenario(t, root)
    t.close()


def test_append_ignores_offsets(server, root):
    s = server()
    t = s.paramiko()
    sf = paramiko.SFTPClient.from_transport(t)
    append_scenario(sf, root)
    t.close()


def test_openssh_reput_reget(server, root, tmp_path):
    reput_scenario(server(), root, tmp_path)


def test_resume_options(server, root, tmp_path):
    """--read-only refuses resuming and appending; --no-seek (reads) leaves them alone."""
    (root / "r.txt").write_bytes(b"12345")
    s = server("--read-only")
    t = s.paramiko()
    c = RawSftp(t)
    for rid, flags in ((1, FXF_WRITE), (2, FXF_WRITE | FXF_APPEND)):
        h, err = c.open(rid, "r.txt", flags)
        assert h is None and err[0] == FX_PERMISSION_DENIED, err
    t.close()
    s = server("--no-seek")
    t = s.paramiko()
    c = RawSftp(t)
    h, err = c.open(3, "r.txt", FXF_WRITE)
    assert h, err
    assert raw_write(c, 4, h, 5, b"678")[0] == FX_OK
    c.call(CLOSE, 5, c.s(h))
    h, err = c.open(6, "r.txt", FXF_WRITE | FXF_APPEND)
    assert raw_write(c, 7, h, 0, b"9")[0] == FX_OK
    c.call(CLOSE, 8, c.s(h))
    assert (root / "r.txt").read_bytes() == b"123456789"
    t.close()


# ---- a client that goes away mid-upload ----------------------------------------------------


def test_disconnect_mid_upload_closes_files(server, root):
    s = server()
    t = s.paramiko()
    c = RawSftp(t)
    h, _ = c.open(1, "partial.bin", FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    for i in range(10):
        c.send(WRITE, 10 + i, c.s(h) + struct.pack(">Q", i * 32768) + c.s(b"z" * 32768))
    for i in range(10):
        c.recv()
    assert any("partial.bin" in p for p in s.open_fds())
    t.sock.close()  # no goodbye
    deadline = time.time() + 10
    while time.time() < deadline and any("partial.bin" in p for p in s.open_fds()):
        time.sleep(0.1)
    assert not any("partial.bin" in p for p in s.open_fds())
    # an atomic upload: nothing under the name, the data kept under the temporary one
    assert not (root / "partial.bin").exists()
    tmp = list(root.glob(".partial.bin.*.partial"))
    assert len(tmp) == 1 and tmp[0].stat().st_size == 10 * 32768


# ---- rclone's sftp backend as a client -----------------------------------------------------


def test_rclone_copy_and_check(server, root, tmp_path):
    s = server()
    src = tmp_path / "src"
    (src / "a" / "b").mkdir(parents=True)
    for i in range(20):
        (src / "a" / f"f{i}.txt").write_bytes(os.urandom(1000 * i + 1))
    (src / "a" / "b" / "big.bin").write_bytes(os.urandom(5 * 1024 * 1024))
    (src / "with space 日本.txt").write_text("unicode name")
    obscured = subprocess.run(["rclone", "obscure", PASSWORD], capture_output=True, text=True,
                              check=True).stdout.strip()
    conf = tmp_path / "rclone.conf"
    conf.write_text(f"[gw]\ntype = sftp\nhost = 127.0.0.1\nport = {s.port}\nuser = {USER}\n"
                    f"pass = {obscured}\n")
    env = dict(os.environ, RCLONE_CONFIG=str(conf))
    r = subprocess.run(["rclone", "copy", str(src), "gw:dst"], capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 0, r.stderr + s.log()
    assert md5(root / "dst" / "a" / "b" / "big.bin") == md5(src / "a" / "b" / "big.bin")
    r = subprocess.run(["rclone", "check", str(src), "gw:dst"], capture_output=True,
                       text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "0 differences found" in r.stderr
    # hashes came from the server (md5sum over exec), not from downloading
    assert "exec md5sum" in s.log()
    r = subprocess.run(["rclone", "about", "gw:"], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0 and "Total:" in r.stdout
    # a changed file is noticed
    (root / "dst" / "a" / "f3.txt").write_bytes(b"changed!")
    r = subprocess.run(["rclone", "check", str(src), "gw:dst"], capture_output=True,
                       text=True, env=env, timeout=300)
    assert r.returncode != 0


def test_sighup_flushes_dir_cache(server, root):
    s = server("--dir-cache-time", "1h")
    t = s.paramiko()
    sf = paramiko.SFTPClient.from_transport(t)
    assert "late.txt" not in sf.listdir("/")
    (root / "late.txt").write_text("x")
    assert "late.txt" not in sf.listdir("/")  # cached for an hour
    s.proc.send_signal(1)
    time.sleep(0.2)
    assert "late.txt" in sf.listdir("/")
    t.close()
