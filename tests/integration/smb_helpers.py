"""Helpers shared by the SMB integration tests (test_cli.py, test_smb2_protocol.py, test_smb1.py).

  EXIT_*          smbgate's exit codes (README "Exit codes")
  own, scratch_dir, node_slug
                  directories on a share, owned by the share's user (smbd works as it)
  put_and_read_back
                  an upload and a download of the same random bytes, both checked
  held_session    an smbgate session held open while smbstatus looks at it
  free_port, read_frame, relay, shutdown_quietly
                  socket basics
  TcpServer       a listener on 127.0.0.1 whose thread hands each connection to handle()
  FrameProxy      a relay to the real server that may rewrite single SMB messages
  ScriptedServer  answers the client's first message with fixed (or computed) bytes
  NbssResponder   a NetBIOS session service that refuses the names it does not accept
"""

import contextlib
import os
import pwd
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_CONNECT = 0, 1, 2, 3
EXIT_AUTH, EXIT_NOTFOUND, EXIT_DENIED, EXIT_PROTO = 4, 5, 6, 7

# smbgate's protocol names (URL min-/max-protocol) -> Samba's session_dialect in smbstatus
SAMBA_DIALECT = {"NT1": "NT1", "2.0.2": "SMB2_02", "2.1": "SMB2_10", "3.0": "SMB3_00",
                 "3.0.2": "SMB3_02", "3.1.1": "SMB3_11"}


# ---- directories on a share -------------------------------------------------------------------


def own(server, path):
    """Gives path to the share's user: smbd acts as that user and must be able to change it."""
    pw = pwd.getpwnam(server.user)
    os.chown(path, pw.pw_uid, pw.pw_gid)


def node_slug(request, prefix):
    """A directory name for the running test: prefix + its node name, at most 60 characters
    of it, every non-word character replaced."""
    return prefix + re.sub(r"\W", "_", request.node.name)[:60]


@contextlib.contextmanager
def scratch_dir(server, share, name):
    """A fresh directory `name` in `share` of server, owned by the share's user, removed on
    leaving. Yields its path on disk."""
    p = Path(server.share_path(share)) / name
    shutil.rmtree(p, ignore_errors=True)
    p.mkdir()
    own(server, p)
    try:
        yield p
    finally:
        shutil.rmtree(p, ignore_errors=True)


# ---- runs ---------------------------------------------------------------------------------------


def put_and_read_back(run_smbgate, url, tmp_path, size, read="get", opts=()):
    """`smbgate [opts] put` of `size` random bytes to url, then `smbgate [opts] get` (or `cat`,
    read="cat") of url: both must succeed and bring back the same bytes. Returns (data, put
    result, read result); the cat result is binary (text=False)."""
    data = os.urandom(size)
    src = tmp_path / "put-src.bin"
    src.write_bytes(data)
    put = run_smbgate(*opts, "put", src, url)
    assert put.returncode == 0, put.stderr
    if read == "cat":
        got = run_smbgate(*opts, "cat", url, text=False)
        assert got.returncode == 0, got.stderr
        back = got.stdout
    else:
        dst = tmp_path / "got.bin"
        got = run_smbgate(*opts, "get", url, dst)
        assert got.returncode == 0, got.stderr
        back = dst.read_bytes()
    assert back == data, f"{len(back)} bytes came back for {len(data)} sent, or others"
    return data, put, got


# ---- sessions seen by smbstatus ---------------------------------------------------------------


def _session_seen(server, want, timeout, ready):
    deadline = time.time() + timeout
    seen = None
    while time.time() < deadline:
        for s in server.status().get("sessions", {}).values():
            if s.get("session_dialect") == want:
                seen = s
                # smbstatus lists a session while its login is still going on
                if s.get("groupname") != "(auth in progress)" and (ready is None or ready(s)):
                    return s
        time.sleep(0.2)
    # the last state seen goes to the caller's assertion, which names what is wrong
    if seen is not None:
        return seen
    raise AssertionError(f"no {want} session in smbstatus: {server.status()}")


@contextlib.contextmanager
def held_session(smbgate_bin, url, server, proto, timeout=10, ready=None):
    """Holds a session open with `smbgate put - URL` (its stdin stays open) and yields the
    session smbstatus shows on server for dialect `proto` (smbgate's name: "NT1", "3.1.1");
    with `ready`, the first state of it for which ready(session) holds (smbstatus may show the
    session before its first encrypted request), else the last state seen at the timeout.
    On leaving, stdin is closed: the 1000-byte upload ends and must succeed."""
    p = subprocess.Popen([smbgate_bin, "put", "-", url], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        p.stdin.write(b"x" * 1000)
        p.stdin.flush()
        yield _session_seen(server, SAMBA_DIALECT[proto], timeout, ready)
    finally:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()


# ---- sockets ----------------------------------------------------------------------------------


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on (just now)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def shutdown_quietly(*socks):
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def read_frame(sock):
    """One message in direct-TCP / NetBIOS session framing: (4-byte header, body), the body's
    length in the header's low 24 bits; None when the peer closes first."""
    hdr = sock.recv(4, socket.MSG_WAITALL)
    if len(hdr) < 4:
        return None
    n = int.from_bytes(hdr[1:], "big")
    body = sock.recv(n, socket.MSG_WAITALL) if n else b""
    if len(body) < n:
        return None
    return hdr, body


def relay(a, b):
    """Copies bytes from a to b until a closes, then shuts both down."""
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    shutdown_quietly(a, b)


def _thread(target, *args):
    threading.Thread(target=target, args=args, daemon=True).start()


class TcpServer:
    """A listener on 127.0.0.1, free port (.port). Its thread hands each accepted connection to
    handle(conn), one after another, until close(). Subclasses set their attributes before
    calling __init__: the thread starts there. Usable as a context manager (close on exit)."""

    def __init__(self, backlog=8):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.handle(c)

    def handle(self, conn):
        conn.close()

    def url(self, server, share, path="", host=None, **opts):
        """server.url(share, path, **opts) aimed at this listener instead of server (reached
        as `host` when given, as server.host otherwise)."""
        return server.url(share, path, **opts).replace(
            f"{server.host}:{server.port}/", f"{host or server.host}:{self.port}/", 1)

    def close(self):
        # shutdown wakes the thread blocked in accept(); close alone would not.
        shutdown_quietly(self.sock)
        self.sock.close()
        self.thread.join(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FrameProxy(TcpServer):
    """Relays every connection to 127.0.0.1:upstream message by message (4-byte framing);
    rewrite(body, to_server) sees each session message and returns what goes on."""

    def __init__(self, upstream):
        self.upstream = upstream
        super().__init__()

    def handle(self, conn):
        up = socket.create_connection(("127.0.0.1", self.upstream))
        _thread(self._pump, conn, up, True)
        _thread(self._pump, up, conn, False)

    def rewrite(self, body, to_server):
        return body

    def _pump(self, a, b, to_server):
        try:
            while (frame := read_frame(a)) is not None:
                hdr, body = frame
                if hdr[0] == 0:  # a session message (not a keepalive)
                    body = self.rewrite(body, to_server)
                b.sendall(hdr + body)
        except OSError:
            pass
        shutdown_quietly(a, b)


class ScriptedServer(TcpServer):
    """Reads the client's first message and answers with `reply`: bytes sent as they are, or
    reply(request body) -> bytes. Then holds the connection until the client closes it or
    `hold` seconds pass."""

    def __init__(self, reply, hold=20):
        self.reply, self.hold = reply, hold
        super().__init__()

    def handle(self, conn):
        with conn:
            try:
                frame = read_frame(conn)
                if frame is None:
                    return
                conn.sendall(self.reply(frame[1]) if callable(self.reply) else self.reply)
                conn.settimeout(self.hold)
                while conn.recv(4096):
                    pass
            except OSError:
                pass


def nb_decode(enc):
    """First-level decoding of the 32 characters of an encoded NetBIOS name: (name, type)."""
    raw = bytes(((enc[2 * i] - 65) << 4) | (enc[2 * i + 1] - 65) for i in range(16))
    return raw[:15].rstrip(b" \0").decode(errors="replace"), raw[15]


class NbssResponder(TcpServer):
    """A scripted NetBIOS session service (the port 139 role): a session request for a called
    name in `accept` gets a POSITIVE SESSION RESPONSE and the session is then relayed to
    127.0.0.1:upstream; any other name a NEGATIVE SESSION RESPONSE (0x82: called name not
    present). .called lists the (name, type) of every request."""

    def __init__(self, upstream, accept=("*SMBSERVER",)):
        self.upstream, self.accept, self.called = upstream, accept, []
        super().__init__()

    def handle(self, conn):
        frame = read_frame(conn)
        if frame is None or frame[0][0] != 0x81 or len(frame[1]) < 34 or frame[1][0] != 32:
            conn.close()
            return
        name, ntype = nb_decode(frame[1][1:33])
        self.called.append((name, ntype))
        if name not in self.accept:
            conn.sendall(b"\x83\x00\x00\x01\x82")
            conn.close()
            return
        conn.sendall(b"\x82\x00\x00\x00")
        up = socket.create_connection(("127.0.0.1", self.upstream))
        _thread(relay, conn, up)
        _thread(relay, up, conn)
