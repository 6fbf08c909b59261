"""The fault-injecting proxy itself (fault_proxy.py), against a local echo/sink server: with no
fault it is byte-transparent; each fault happens exactly where it is asked for. A few seconds
in all; no Samba needed."""

import hashlib
import os
import socket
import threading
import time

import pytest

from fault_proxy import FaultProxy
from smb_helpers import TcpServer, shutdown_quietly


class Echo(TcpServer):
    """Sends back whatever it gets, in a thread per connection."""

    def handle(self, conn):
        threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn):
        with conn:
            try:
                while d := conn.recv(65536):
                    conn.sendall(d)
            except OSError:
                pass
            shutdown_quietly(conn)


class Source(TcpServer):
    """Sends `data` to each connection, then closes it."""

    def __init__(self, data):
        self.data = data
        super().__init__()

    def handle(self, conn):
        threading.Thread(target=self._send, args=(conn,), daemon=True).start()

    def _send(self, conn):
        with conn:
            try:
                conn.sendall(self.data)
                conn.shutdown(socket.SHUT_WR)
                conn.settimeout(10)
                while conn.recv(65536):
                    pass
            except OSError:
                pass


def read_all(sock, timeout=20):
    sock.settimeout(timeout)
    out = bytearray()
    try:
        while d := sock.recv(65536):
            out += d
    except ConnectionResetError:
        pass
    return bytes(out)


def echo_round_trip(port, data):
    """Sends data while a thread reads the echo; returns what came back before EOF."""
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("b", read_all(s)))
    t.start()
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    t.join(30)
    s.close()
    return got.get("b", b"")


def test_no_fault_is_byte_identical():
    data = os.urandom(8 * 1024 * 1024 + 17)
    with Echo() as e, FaultProxy(e.port) as p:
        back = echo_round_trip(p.port, data)
        assert hashlib.sha256(back).digest() == hashlib.sha256(data).digest()
        assert p.connections == 1 and p.cuts == 0
        assert p.bytes == {"c2s": len(data), "s2c": len(data)}


@pytest.mark.parametrize("n", [0, 1, 4096, 1000003])
def test_cut_server_to_client_at_n(n):
    data = os.urandom(3 * 1024 * 1024)
    with Source(data) as src, FaultProxy(src.port, cut_after_bytes=n) as p:
        s = socket.create_connection(("127.0.0.1", p.port), timeout=20)
        got = read_all(s)
        s.close()
        assert len(got) == n and got == data[:n]
        assert p.cuts == 1


def test_cut_client_to_server_at_n():
    n = 123457
    data = os.urandom(1024 * 1024)
    with Echo() as e, FaultProxy(e.port, cut_after_bytes=n, direction="c2s") as p:
        back = echo_round_trip(p.port, data)
        # the server saw exactly n bytes, so it cannot have echoed more
        assert p.bytes["c2s"] == n
        assert back == data[:len(back)] and len(back) <= n
        assert p.cuts == 1


def test_reset_and_only_first_connection_faulty():
    data = os.urandom(200000)
    with Source(data) as src, FaultProxy(src.port, cut_after_bytes=1000, reset=True,
                                         faulty_connections=1) as p:
        s = socket.create_connection(("127.0.0.1", p.port), timeout=20)
        assert read_all(s) == data[:1000]
        s.close()
        s = socket.create_connection(("127.0.0.1", p.port), timeout=20)
        assert read_all(s) == data  # the second connection is healthy
        s.close()
        assert p.connections == 2 and p.cuts == 1


def test_stall_pauses_then_resumes():
    data = os.urandom(500000)
    with Source(data) as src, FaultProxy(src.port, stall_after_bytes=100000, stall_s=1.0) as p:
        s = socket.create_connection(("127.0.0.1", p.port), timeout=20)
        s.settimeout(20)
        first = b""
        while len(first) < 100000:
            first += s.recv(100000 - len(first))
        t0 = time.monotonic()
        rest = read_all(s)
        took = time.monotonic() - t0
        s.close()
        assert first + rest == data
        assert 0.8 <= took < 5, took
        assert p.stalls == 1


def test_delay_per_frame():
    # ten messages in 4-byte length framing, each split across reads by a slow sender
    frames = [bytes([0]) + len(b).to_bytes(3, "big") + b for b in
              (os.urandom(i * 100 + 1) for i in range(10))]
    with Echo() as e, FaultProxy(e.port, delay_per_frame_s=0.1, direction="c2s") as p:
        s = socket.create_connection(("127.0.0.1", p.port), timeout=20)
        t0 = time.monotonic()
        for f in frames:
            s.sendall(f[:2])
            time.sleep(0.005)
            s.sendall(f[2:])
        s.shutdown(socket.SHUT_WR)
        back = read_all(s)
        took = time.monotonic() - t0
        s.close()
        assert back == b"".join(frames)
        assert 0.9 <= took < 5, took


def test_cut_all_and_stop_wake_stalled_connections():
    with Echo() as e:
        p = FaultProxy(e.port, stall_after_bytes=10, stall_s=60).start()
        socks = [socket.create_connection(("127.0.0.1", p.port), timeout=20) for _ in range(5)]
        for s in socks:
            s.sendall(b"x" * 100)
        deadline = time.time() + 10
        while p.live < 5 and time.time() < deadline:
            time.sleep(0.01)
        assert p.live == 5 and p.connections == 5
        assert p.cut_all() == 5
        for s in socks:
            s.settimeout(10)
            assert len(read_all(s)) <= 10  # the stall held the rest; then the cut
            s.close()
        t0 = time.monotonic()
        p.stop()
        assert time.monotonic() - t0 < 5
        assert p.live == 0


def test_connection_cap():
    with Echo() as e, FaultProxy(e.port, max_connections=2) as p:
        socks = [socket.create_connection(("127.0.0.1", p.port), timeout=20) for _ in range(3)]
        socks[2].settimeout(10)
        assert socks[2].recv(1) == b""  # the third is closed at once
        socks[0].sendall(b"ok")
        socks[0].settimeout(10)
        assert socks[0].recv(2) == b"ok"
        for s in socks:
            s.close()
        assert p.refused == 1


# ---- through the proxy with smbgate and the private Samba: the SMB framing seen for real -------


def test_smbgate_through_proxy_delayed_frames(samba, run_smbgate, tmp_path):
    """put and get through the proxy, every SMB message of both directions delayed: the
    bytes arrive intact and each message was seen as one frame (the delay counts them)."""
    from smb_helpers import scratch_dir

    data = os.urandom(3 * 1024 * 1024 + 5)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    with scratch_dir(samba, "plain", "proxy-delay") as d, \
            FaultProxy(samba.port, delay_per_frame_s=0.002, direction="both") as p:
        url = p.url(samba, "plain", "proxy-delay/f.bin")
        t0 = time.monotonic()
        r = run_smbgate("put", src, url, timeout=120)
        assert r.returncode == 0, r.stderr
        r = run_smbgate("get", url, tmp_path / "back.bin", timeout=120)
        assert r.returncode == 0, r.stderr
        took = time.monotonic() - t0
        assert (tmp_path / "back.bin").read_bytes() == data
        assert (d / "f.bin").read_bytes() == data
        assert p.connections >= 2 and p.cuts == 0
        # at least negotiate, session setup x2, tree connect, create, io, close per run
        assert took >= 0.002 * 2 * 7, took


def test_smbgate_get_cut_mid_transfer_fails_cleanly(samba, run_smbgate, tmp_path):
    """Samba's answers cut after 1 MB on every connection, a 4 MiB download: get ends in
    bounded time either with an error and nothing under the target's name, or (a client that
    resumes on a new connection) with the whole file; never with part of it."""
    from smb_helpers import scratch_dir

    data = os.urandom(4 * 1024 * 1024)
    with scratch_dir(samba, "plain", "proxy-cut") as d:
        (d / "f.bin").write_bytes(data)
        with FaultProxy(samba.port, cut_after_bytes=1_000_000) as p:
            dst = tmp_path / "got.bin"
            r = run_smbgate("get", p.url(samba, "plain", "proxy-cut/f.bin"), dst, timeout=120)
            if r.returncode == 0:
                assert dst.read_bytes() == data
            else:
                assert r.stderr.strip(), r.returncode
                left = [x.name for x in tmp_path.iterdir()]  # no temporary left either
                assert left == [], (left, r.stderr)
            assert p.cuts >= 1
            print(f"get across cuts: exit {r.returncode}: {r.stderr.strip()}")


def test_freeze_holds_everything_until_thaw():
    with Echo() as e, FaultProxy(e.port) as p:
        s = socket.create_connection(("127.0.0.1", p.port), timeout=20)
        s.sendall(b"before")
        s.settimeout(10)
        assert s.recv(6) == b"before"
        p.freeze()
        s.sendall(b"during")
        s.settimeout(0.5)
        with pytest.raises(socket.timeout):
            s.recv(6)
        assert p.live == 1  # frozen, not closed
        p.thaw()
        s.settimeout(10)
        assert s.recv(6) == b"during"
        p.freeze()
        s.sendall(b"x")
        time.sleep(0.1)
        t0 = time.monotonic()
        p.stop()  # a frozen proxy still stops at once
        assert time.monotonic() - t0 < 5
        s.close()
