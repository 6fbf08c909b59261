"""`smbgate serve sftp --stdio REMOTE` as the `Subsystem sftp` of OpenSSH's own sshd (started
here on 127.0.0.1 with a private config, tests/rig/sshd.py), for REMOTE = a local folder and
= a share of the private Samba. Clients: OpenSSH `sftp -b` and paramiko, logging in as root
with a generated key. Results are checked on the folder / the share's directory; every sshd
(and whatever ran below it) is stopped by pid at teardown, also when a test fails.

Run: SMBGATE_BIN=build/smbgate /usr/bin/python3 -m pytest tests/integration/test_sftp_sshd.py
"""

import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import paramiko
import pytest

from sftp_helpers import Area, open_files
from sshd import SSHD, SshdError, SshdServer


def require(ok, msg):
    """A missing tool fails under SMBGATE_REQUIRE_BIN=1 (make integration), else skips."""
    if ok:
        return
    if os.environ.get("SMBGATE_REQUIRE_BIN") == "1":
        pytest.fail(msg, pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope="module")
def tools():
    require(os.access(SSHD, os.X_OK), f"{SSHD} not found (Debian package openssh-server)")
    for t in ("sftp", "ssh-keygen"):
        require(shutil.which(t), f"{t} not found (Debian package openssh-client)")


def san_env():
    """sshd gives the subsystem a clean environment: pass the sanitizer settings (conftest
    sends reports to files it checks after each test) on with SetEnv."""
    return {k: os.environ[k] for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS") if k in os.environ}


@pytest.fixture
def sshd(tools, smbgate_bin):
    """sshd(remote) -> a running SshdServer whose `Subsystem sftp` is
    `<smbgate> serve sftp --stdio remote`. All are stopped at teardown, by pid."""
    started = []

    def start(remote, *args):
        cmd = " ".join([smbgate_bin, "serve", "sftp", "--stdio", *args, str(remote)])
        try:
            s = SshdServer(subsystem=cmd, env=san_env())
        except SshdError as e:
            pytest.fail(str(e), pytrace=False)
        started.append(s)
        return s

    try:
        yield start
    finally:
        for s in started:
            s.stop()
        alive = [(s.proc.pid, s.pids) for s in started if not s.stopped()]
        assert not alive, f"sshd (or its sessions) still running: {alive}"


def sha256(p):
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


def sftp_batch(s, commands, timeout=120, check=True):
    with tempfile.NamedTemporaryFile("w", suffix=".sftp", delete=False) as f:
        f.write("\n".join(commands) + "\n")
        batch = f.name
    try:
        r = subprocess.run(["sftp", *s.client_opts(), "-b", batch, s.target()],
                           capture_output=True, text=True, timeout=timeout)
    finally:
        os.unlink(batch)
    if check and r.returncode != 0:
        raise AssertionError(f"sftp failed ({r.returncode}): {r.stderr}\n{r.stdout}\n"
                             f"sshd log:\n{s.log()}")
    return r


def paramiko_sftp(s):
    t = paramiko.Transport(("127.0.0.1", s.port))
    t.connect(username="root", pkey=paramiko.Ed25519Key.from_private_key_file(s.key))
    return t, paramiko.SFTPClient.from_transport(t)


def exercise(s, disk, tmp_path):
    """put, get, ls, mkdir, rename, rm with sftp -b, then paramiko; every result on disk."""
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(7 * 1024 * 1024 + 321))
    small = tmp_path / "small.txt"
    small.write_bytes(b"small file\n")
    down = tmp_path / "down.bin"
    r = sftp_batch(s, [
        "pwd", "ls -1", f"put {src} up.bin", f"put {small} gone.txt", "mkdir newdir",
        "rename up.bin newdir/moved.bin", f"get newdir/moved.bin {down}", "rm gone.txt",
        "ls -1 newdir", "-rm missing.txt",
    ])
    # the root the client sees is REMOTE's, not the machine's: sshd ran smbgate
    assert "Remote working directory: /" in r.stdout
    assert "hello.txt" in r.stdout and "newdir/moved.bin" in r.stdout, r.stdout
    assert sha256(disk / "newdir" / "moved.bin") == sha256(src)
    assert sha256(down) == sha256(src)
    assert not (disk / "up.bin").exists() and not (disk / "gone.txt").exists()

    t, sf = paramiko_sftp(s)
    try:
        assert sorted(sf.listdir("/")) == ["hello.txt", "newdir"]
        assert sf.normalize("/../..") == "/"
        data = os.urandom(300000)
        with sf.open("newdir/p.bin", "w") as f:
            f.write(data)
        assert (disk / "newdir" / "p.bin").read_bytes() == data
        with sf.open("hello.txt") as f:
            assert f.read() == b"hello over sshd\n"
        assert sf.stat("newdir/moved.bin").st_size == src.stat().st_size
        sf.rename("newdir/p.bin", "p2.bin")
        sf.remove("newdir/moved.bin")
        sf.rmdir("newdir")
        with pytest.raises(IOError):
            sf.stat("/../etc/passwd")
    finally:
        t.close()
    assert sorted(p.name for p in disk.iterdir()) == ["hello.txt", "p2.bin"]
    assert (disk / "p2.bin").read_bytes() == data


def test_sshd_subsystem_local_folder(sshd, tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "hello.txt").write_bytes(b"hello over sshd\n")
    s = sshd(root)
    exercise(s, root, tmp_path)
    assert "Starting session: subsystem 'sftp' for root" in s.log()


def test_sshd_subsystem_smb_share(sshd, samba, tmp_path):
    area = Area(samba)
    area.write("hello.txt", b"hello over sshd\n")
    # userinfo credentials: sshd runs the subsystem through a shell, where the query
    # form's '&' would split the command
    s = sshd(area.url(creds="userinfo"))
    exercise(s, area.path, tmp_path)
    # every SSH session ended, and with it its smbgate: no SMB handle is left open
    deadline = time.time() + 15
    while time.time() < deadline and open_files(samba, area.rel):
        time.sleep(0.2)
    assert open_files(samba, area.rel) == []


def wrong_password_url(samba):
    return samba.url("plain", creds=None).replace("smb://", f"smb://{samba.user}:wrong@")


def test_sshd_subsystem_wrong_smb_password_fails_fast(sshd, samba):
    """A REMOTE that cannot be opened: the client fails, promptly, instead of hanging."""
    s = sshd(wrong_password_url(samba))
    t0 = time.time()
    r = sftp_batch(s, ["ls"], timeout=60, check=False)
    assert r.returncode != 0
    assert time.time() - t0 < 30
    assert "Remote working directory" not in r.stdout
    # smbgate's exit status reaches the client through sshd
    r = subprocess.run(["ssh", *s.client_opts(), "-s", s.target(), "sftp"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "Starting session: subsystem 'sftp' for root" in s.log()


# OpenSSH's sshd discards a subsystem's stderr, so smbgate's message never reaches the client
# that way: --stdio answers the session's requests with a FAILURE status carrying it
# (sftp_serve_refusal, called by cmd_serve.c when the remote cannot be opened).
def test_sshd_subsystem_wrong_smb_password_reason_reaches_client(sshd, samba):
    s = sshd(wrong_password_url(samba))
    r = sftp_batch(s, ["ls"], timeout=60, check=False)
    assert r.returncode != 0
    assert "cannot serve this remote" in r.stderr and "LOGON_FAILURE" in r.stderr, r.stderr
    # paramiko: the session opens, and its first request fails with the reason
    t, sf = paramiko_sftp(s)
    try:
        with pytest.raises(IOError) as ei:
            sf.listdir("/")
        assert "LOGON_FAILURE" in str(ei.value), ei.value
    finally:
        t.close()
