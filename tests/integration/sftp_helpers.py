"""Helpers for the `smbgate serve sftp` tests: start the server (listener or --stdio), run
OpenSSH's sftp/ssh against it, and a raw SFTP v3 client over paramiko for protocol cases that
no ordinary client sends (pipelined requests, bad handles, oversized packets)."""

import hashlib
import os
import pwd
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import paramiko

from smb_helpers import free_port

USER = "tester"
PASSWORD = "t3st-Pw"
SSH_OPTS = [
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
    "-o", "ConnectTimeout=10",
]

# SFTP v3 constants (draft-ietf-secsh-filexfer-02)
INIT, VERSION, OPEN, CLOSE, READ, WRITE, LSTAT, FSTAT, SETSTAT, FSETSTAT = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
OPENDIR, READDIR, REMOVE, MKDIR, RMDIR, REALPATH, STAT, RENAME, READLINK, SYMLINK = range(11, 21)
STATUS, HANDLE, DATA, NAME, ATTRS, EXTENDED, EXTENDED_REPLY = 101, 102, 103, 104, 105, 200, 201
FXF_READ, FXF_WRITE, FXF_APPEND, FXF_CREAT, FXF_TRUNC, FXF_EXCL = 1, 2, 4, 8, 0x10, 0x20
FX_OK, FX_EOF, FX_NO_SUCH_FILE, FX_PERMISSION_DENIED, FX_FAILURE, FX_BAD_MESSAGE = 0, 1, 2, 3, 4, 5
FX_OP_UNSUPPORTED = 8


class HostKeys:
    """One Ed25519 host key for the whole session (generating keys per test is slow)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="smbgate-hostkey-")
        self.path = os.path.join(self.dir, "host_ed25519")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", self.path],
                       check=True)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class Server:
    """`smbgate serve sftp` on 127.0.0.1:free port; stop() ends it (by pid)."""

    def __init__(self, binary, remote, *args, env=None, key=None, user=USER, password=PASSWORD,
                 verbose=True):
        self.port = free_port()
        self.log_path = tempfile.mktemp(prefix="smbgate-serve-", suffix=".log")
        cmd = [binary, "serve", "sftp", "--addr", f"127.0.0.1:{self.port}"]
        if key:
            cmd += ["--key", key]
        if user is not None:
            cmd += ["--user", user, "--pass", password]
        if verbose:
            cmd += ["-v"]
        cmd += list(args) + [str(remote)]
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self.logf = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=subprocess.STDOUT,
                                     env=full_env)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("server did not start listening: " + self.log())

    def log(self):
        self.logf.flush()
        return Path(self.log_path).read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        code = self.proc.returncode
        try:
            os.unlink(self.log_path)
        except OSError:
            pass
        return code

    def open_fds(self):
        """Paths the server process has open (for leak checks)."""
        out = []
        d = f"/proc/{self.proc.pid}/fd"
        for fd in os.listdir(d):
            try:
                out.append(os.readlink(os.path.join(d, fd)))
            except OSError:
                pass
        return out

    def sftp_batch(self, commands, password=PASSWORD, user=USER, extra=(), timeout=120,
                   check=True):
        """OpenSSH sftp -b with a password through sshpass."""
        with tempfile.NamedTemporaryFile("w", suffix=".sftp", delete=False) as f:
            f.write("\n".join(commands) + "\n")
            batch = f.name
        try:
            cmd = ["sshpass", "-p", password, "sftp", *SSH_OPTS, "-o", "BatchMode=no",
                   "-o", "PubkeyAuthentication=no", "-P", str(self.port), *extra, "-b", batch,
                   f"{user}@127.0.0.1"]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        finally:
            os.unlink(batch)
        if check and r.returncode != 0:
            raise AssertionError(f"sftp failed ({r.returncode}): {r.stderr}\n{r.stdout}\n"
                                 f"server log:\n{self.log()}")
        return r

    def ssh(self, command, password=PASSWORD, timeout=120):
        cmd = ["sshpass", "-p", password, "ssh", *SSH_OPTS, "-o", "BatchMode=no",
               "-o", "PubkeyAuthentication=no", "-p", str(self.port), f"{USER}@127.0.0.1",
               command]
        return subprocess.run(cmd, capture_output=True, timeout=timeout)

    def paramiko(self, user=USER, password=PASSWORD):
        t = paramiko.Transport(("127.0.0.1", self.port))
        t.connect(username=user, password=password)
        return t


def stdio_batch(binary, remote, commands, *args, timeout=120, check=True):
    """OpenSSH sftp -D 'smbgate serve sftp --stdio REMOTE'."""
    with tempfile.NamedTemporaryFile("w", suffix=".sftp", delete=False) as f:
        f.write("\n".join(commands) + "\n")
        batch = f.name
    try:
        server = " ".join([binary, "serve", "sftp", "--stdio", *args, str(remote)])
        r = subprocess.run(["sftp", "-D", server, "-b", batch], capture_output=True, text=True,
                           timeout=timeout)
    finally:
        os.unlink(batch)
    if check and r.returncode != 0:
        raise AssertionError(f"sftp -D failed ({r.returncode}): {r.stderr}\n{r.stdout}")
    return r


class RawSftp:
    """SFTP v3 spoken by hand over an ssh channel: requests can be pipelined and replies are
    returned as (type, id, payload) in the order they arrive."""

    def __init__(self, transport):
        self.chan = transport.open_session()
        self.chan.invoke_subsystem("sftp")
        self.buf = b""
        self.send_packet(bytes([INIT]) + struct.pack(">I", 3))
        t, ver, payload = self.recv()
        assert t == VERSION and ver == 3
        self.extensions = {}
        while payload:
            name, payload = self.take_string(payload)
            data, payload = self.take_string(payload)
            self.extensions[name.decode()] = data.decode()

    @staticmethod
    def s(x):
        if isinstance(x, str):
            x = x.encode()
        return struct.pack(">I", len(x)) + x

    @staticmethod
    def take_string(b):
        (n,) = struct.unpack(">I", b[:4])
        return b[4:4 + n], b[4 + n:]

    def send_packet(self, body):
        self.chan.sendall(struct.pack(">I", len(body)) + body)

    def send(self, ptype, rid, body=b""):
        self.send_packet(bytes([ptype]) + struct.pack(">I", rid) + body)

    def recv(self, timeout=30):
        self.chan.settimeout(timeout)
        while True:
            if len(self.buf) >= 4:
                (n,) = struct.unpack(">I", self.buf[:4])
                if len(self.buf) >= 4 + n:
                    pkt = self.buf[4:4 + n]
                    self.buf = self.buf[4 + n:]
                    (rid,) = struct.unpack(">I", pkt[1:5])
                    return pkt[0], rid, pkt[5:]
            d = self.chan.recv(1 << 20)
            if not d:
                raise EOFError("channel closed")
            self.buf += d

    def call(self, ptype, rid, body=b""):
        self.send(ptype, rid, body)
        t, got, payload = self.recv()
        assert got == rid, (got, rid)
        return t, payload

    @staticmethod
    def status(payload):
        code, = struct.unpack(">I", payload[:4])
        msg, _ = RawSftp.take_string(payload[4:])
        return code, msg.decode(errors="replace")

    def open(self, rid, path, flags):
        t, p = self.call(OPEN, rid, self.s(path) + struct.pack(">II", flags, 0))
        if t == HANDLE:
            h, _ = self.take_string(p)
            return h, None
        return None, self.status(p)

    def close(self):
        self.chan.close()


# ---- writes into an existing file (cache mode off): resume, APPEND, sequential only -----------
# Shared by the local-folder and the SMB tests; `disk` is the served root on this machine.


def raw_write(c, rid, h, off, data):
    """One WRITE; returns (code, message)."""
    typ, p = c.call(WRITE, rid, c.s(h) + struct.pack(">Q", off) + c.s(data))
    assert typ == STATUS
    return c.status(p)


def raw_write_pipelined(c, h, data, off, first_id, chunk=32768):
    """Writes data at off with every request in flight at once; all must succeed."""
    n = 0
    for i in range(0, len(data), chunk):
        c.send(WRITE, first_id + n, c.s(h) + struct.pack(">Q", off + i) + c.s(data[i:i + chunk]))
        n += 1
    for _ in range(n):
        typ, rid, p = c.recv()
        assert typ == STATUS and c.status(p)[0] == FX_OK, (rid, c.status(p))
    return first_id + n


def resume_scenario(transport, disk, name="resumed.bin"):
    """Half an upload, then WRITE without TRUNC (as WinSCP resumes) from the size on: the file
    ends byte-exact; a gap, a write in the middle, going back and read+write are refused."""
    c = RawSftp(transport)
    data = os.urandom(3 * 1024 * 1024 + 4321)
    half = 1234567
    h, err = c.open(1, name, FXF_WRITE | FXF_CREAT | FXF_TRUNC)
    assert h, err
    raw_write_pipelined(c, h, data[:half], 0, 100)
    typ, p = c.call(CLOSE, 2, c.s(h))
    assert c.status(p)[0] == FX_OK
    assert (disk / name).read_bytes() == data[:half]

    h, err = c.open(3, name, FXF_WRITE)
    assert h, err
    assert (disk / name).stat().st_size == half  # no TRUNC: nothing lost at open
    for rid, off in ((4, half + 10), (5, 10), (6, half - 1)):  # a gap, the middle, before
        code, msg = raw_write(c, rid, h, off, b"x")
        assert code == FX_OP_UNSUPPORTED and "written sequentially" in msg, (off, code, msg)
    raw_write_pipelined(c, h, data[half:], half, 1000)
    code, msg = raw_write(c, 7, h, half, b"y")  # going back once writing
    assert code == FX_OP_UNSUPPORTED and "written sequentially" in msg, msg
    code, msg = raw_write(c, 8, h, len(data) + 5, b"y")  # a gap once writing
    assert code == FX_OP_UNSUPPORTED and "written sequentially" in msg, msg
    typ, p = c.call(CLOSE, 9, c.s(h))
    assert c.status(p)[0] == FX_OK
    got = (disk / name).read_bytes()
    assert len(got) == len(data) and got == data

    # read+write stays refused in cache mode off, with a message saying why
    h, err = c.open(10, name, FXF_READ | FXF_WRITE)
    assert h is None and err[0] == FX_OP_UNSUPPORTED and "reading and writing" in err[1], err
    assert (disk / name).read_bytes() == data
    c.close()


def append_scenario(sftp, disk, name="appended.txt"):
    """paramiko's 'a' (WRITE|CREAT|APPEND): every write lands at the end, whatever offset the
    client sends (seek moves paramiko's offset, not where the data goes)."""
    with sftp.open(name, "w") as f:
        f.write(b"base\n")
    with sftp.open(name, "a") as f:
        f.write(b"one\n")
        f.seek(0)  # flushes "one" at offset 5; the next write is sent with offset 0
        f.write(b"two\n")
        f.seek(100000)
        f.write(b"three\n")  # sent with offset 100000 at close
    assert (disk / name).read_bytes() == b"base\none\ntwo\nthree\n"
    # a new file with APPEND
    with sftp.open(name + ".new", "a") as f:
        f.write(b"first\n")
        f.seek(7)
        f.write(b"second\n")
    assert (disk / (name + ".new")).read_bytes() == b"first\nsecond\n"


def sha256_file(p):
    return hashlib.sha256(Path(p).read_bytes()).hexdigest()


def reput_scenario(server, disk, tmp_path, name="reput.bin"):
    """OpenSSH's `reput` (WRITE|CREAT|APPEND from the remote size on) after a cut-short put,
    and `reget` after a cut-short download."""
    full = tmp_path / "full.bin"
    data = os.urandom(5 * 1024 * 1024 + 777)
    full.write_bytes(data)
    cut = tmp_path / "cut.bin"
    cut.write_bytes(data[:2 * 1024 * 1024 + 5])
    server.sftp_batch([f"put {cut} {name}"])
    assert (disk / name).stat().st_size == 2 * 1024 * 1024 + 5
    r = server.sftp_batch([f"reput {full} {name}"])
    assert sha256_file(disk / name) == sha256_file(full), r.stdout + r.stderr
    partial = tmp_path / "partial.bin"
    partial.write_bytes(data[:1000001])
    server.sftp_batch([f"reget {name} {partial}"])
    assert sha256_file(partial) == sha256_file(full)


# ---- SMB: a fresh area of a share of the private Samba -------------------------------------


class Area:
    """A fresh directory in a share, owned by the share's user, served as the root."""

    def __init__(self, samba, share="plain"):
        self.samba = samba
        self.share = share
        self.rel = "sftp-" + uuid.uuid4().hex[:8]
        self.path = Path(samba.share_path(share)) / self.rel
        self.path.mkdir()
        pw = pwd.getpwnam(samba.user)
        os.chown(self.path, pw.pw_uid, pw.pw_gid)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid

    def url(self, **kw):
        return self.samba.url(self.share, self.rel, **kw)

    def write(self, name, data):
        p = self.path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        os.chown(p, self.uid, self.gid)
        return p


def open_files(samba, name_part):
    """Open files smbd reports under our area (smbstatus --json)."""
    st = samba.status()
    out = []
    for f in (st.get("open_files") or {}).values():
        if name_part in (f.get("filename", "") + f.get("service_path", "")):
            out.append(f)
    return out
