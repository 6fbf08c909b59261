"""Nothing in the SMB client waits for ever: a server that stops answering, one that keeps
answering "pending" (an interim STATUS_PENDING) and never the result, and one that grants no
credits make smbgate fail with a clear error within a bound of --timeout, never hang.

Real Samba does the login and the share; a proxy between smbgate and Samba takes the part of
the misbehaving server once the file is open (unsigned sessions on the plain share, so the
rewritten messages are accepted)."""

import os
import threading
import time

import pytest

from smb_helpers import FrameProxy, node_slug, own, read_frame, scratch_dir, shutdown_quietly

SMB2_CREATE, SMB2_READ = 5, 8
HDR = 64
STATUS_PENDING = 0x103
TIMEOUT = 3
PENDING_FACTOR = 4  # an interim answer extends a deadline to at most 4 x the timeout


def _le(b, off, n):
    return int.from_bytes(b[off:off + n], "little")


def _smb2(body):
    return len(body) >= HDR + 2 and body[:4] == b"\xfeSMB" and _le(body, 20, 4) == 0


def interim_for(req):
    """An interim answer (MS-SMB2 3.3.4.2) to the request message req: its MessageId, the
    ASYNC flag, STATUS_PENDING, an error body, one credit."""
    h = bytearray(req[:HDR])
    h[8:12] = STATUS_PENDING.to_bytes(4, "little")
    h[14:16] = (1).to_bytes(2, "little")
    flags = _le(h, 16, 4) | 0x1 | 0x2  # SERVER_TO_REDIR | ASYNC_COMMAND
    h[16:20] = flags.to_bytes(4, "little")
    h[32:40] = (0x4242).to_bytes(8, "little")  # AsyncId in place of ProcessId/TreeId
    h[48:64] = bytes(16)
    return bytes(h) + b"\x09\x00\x00\x00\x00\x00\x00\x00\x00"


class StallProxy(FrameProxy):
    """Relays to Samba until the client sends a READ; from then on it forwards nothing more
    to Samba (the server "freezes"). mode "silent": no answer at all; "pending": an interim
    STATUS_PENDING for every READ, repeated every second for as long as the client stays;
    "nocredits": READs are relayed, but every READ response grants 0 credits."""

    def __init__(self, upstream, mode):
        self.mode = mode
        self.stalled = threading.Event()
        self.send_lock = threading.Lock()
        self.interims = 0
        super().__init__(upstream)

    def handle(self, conn):
        self.conn = conn
        super().handle(conn)

    def _send(self, sock, data):
        with self.send_lock:
            sock.sendall(data)

    def _repeat_interims(self, conn, req):
        while True:
            time.sleep(1)
            try:
                self._send(conn, b"\0" + len(req).to_bytes(3, "big") + req)
                self.interims += 1
            except OSError:
                return

    def _pump(self, a, b, to_server):
        try:
            while (frame := read_frame(a)) is not None:
                hdr, body = frame
                if hdr[0] == 0 and _smb2(body):
                    cmd = _le(body, 12, 2)
                    if to_server and cmd == SMB2_READ and self.mode in ("silent", "pending"):
                        self.stalled.set()
                        if self.mode == "pending":
                            ans = interim_for(body)
                            self._send(a, b"\0" + len(ans).to_bytes(3, "big") + ans)
                            self.interims += 1
                            threading.Thread(target=self._repeat_interims, args=(a, ans),
                                             daemon=True).start()
                        continue
                    if not to_server and cmd == SMB2_READ and self.mode == "nocredits":
                        self.stalled.set()
                        body = body[:14] + b"\0\0" + body[16:]
                self._send(b, hdr + body)
        except OSError:
            pass
        shutdown_quietly(a, b)


@pytest.fixture
def area(samba, request):
    with scratch_dir(samba, "plain", node_slug(request, "dl-")) as p:
        yield p


def _file(samba, area, name, size, sparse=False):
    p = area / name
    if sparse:
        with open(p, "wb") as f:
            f.truncate(size)
    else:
        p.write_bytes(os.urandom(size))
    own(samba, p)
    return f"{area.name}/{name}"


@pytest.mark.parametrize("cmd", ["get", "cat"])
def test_silent_server_times_out(samba, run_smbgate, area, tmp_path, cmd):
    rel = _file(samba, area, "f.bin", 300000)
    with StallProxy(samba.port, "silent") as proxy:
        args = [tmp_path / "out.bin"] if cmd == "get" else []
        t0 = time.monotonic()
        r = run_smbgate(cmd, "--timeout", str(TIMEOUT), proxy.url(samba, "plain", rel), *args,
                        timeout=60)
        took = time.monotonic() - t0
    assert proxy.stalled.is_set()
    assert r.returncode != 0
    assert "timed out" in r.stderr or "did not answer" in r.stderr, r.stderr
    assert took < TIMEOUT + 5, f"{took:.1f} s for --timeout {TIMEOUT}"


def test_endless_pending_is_bounded(samba, run_smbgate, area, tmp_path):
    """Interim answers extend the deadline, up to PENDING_FACTOR x the timeout: no longer."""
    rel = _file(samba, area, "p.bin", 300000)
    with StallProxy(samba.port, "pending") as proxy:
        t0 = time.monotonic()
        r = run_smbgate("get", "--timeout", str(TIMEOUT), proxy.url(samba, "plain", rel),
                        tmp_path / "out.bin", timeout=60)
        took = time.monotonic() - t0
    assert proxy.interims > TIMEOUT, "the proxy sent too few interim answers to test anything"
    assert r.returncode != 0
    assert "timed out" in r.stderr or "did not answer" in r.stderr, r.stderr
    # an interim answer did extend it (the first comes at once), within the bound
    assert TIMEOUT + 1 < took < PENDING_FACTOR * TIMEOUT + 5, f"{took:.1f} s"


def test_no_credits_fails_instead_of_hanging(samba, run_smbgate, area, tmp_path):
    """READ responses that grant no credits: the client spends what it holds, then the queue
    must fail with a message, not wait for credits that never come."""
    rel = _file(samba, area, "big.bin", 512 * 1024 * 1024, sparse=True)
    with StallProxy(samba.port, "nocredits") as proxy:
        t0 = time.monotonic()
        r = run_smbgate("get", "--timeout", "10", proxy.url(samba, "plain", rel,
                                                             max_protocol="3.0.2"),
                        tmp_path / "out.bin", timeout=60)
        took = time.monotonic() - t0
    assert proxy.stalled.is_set()
    assert r.returncode != 0, "a 512 MiB get finished on the credits held at login?"
    assert "credits" in r.stderr, r.stderr
    assert took < 30, f"{took:.1f} s"
