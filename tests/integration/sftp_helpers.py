"""Helpers for the `smbgate serve sftp` tests: start the server (listener or --stdio), run
OpenSSH's sftp/ssh against it, and a raw SFTP v3 client over paramiko for protocol cases that
no ordinary client sends (pipelined requests, bad handles, oversized packets)."""

import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import paramiko

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


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


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
