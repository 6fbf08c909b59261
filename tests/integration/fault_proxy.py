"""A fault-injecting TCP proxy for the integration tests: put it between smbgate and Samba (or
any client and server on 127.0.0.1) and make the link misbehave.

    with FaultProxy(samba.port, cut_after_bytes=1 << 20) as p:      # cut each connection
        url = samba.url("plain", "f").replace(f":{samba.port}/", f":{p.port}/")
        ...
    FaultProxy(port, stall_after_bytes=65536, stall_s=5)             # freeze once, then go on
    FaultProxy(port, delay_per_frame_s=0.01, direction="both")       # slow every SMB message
    p.cut_all()          # drop every open connection now (RST with reset=True)
    p.freeze(); p.thaw() # hold every byte (connections stay up), then let them go
    p.retarget(port)     # new connections go to another port (a server restarted there)
    p.connections        # connections accepted so far; p.live: open now

Faults (all per connection, counted from its first byte in `direction`: "s2c", the server's
answers, the default; "c2s", the client's requests; or "both", each direction on its own):
  cut_after_bytes    forward exactly N bytes, then close both sides (reset=True: with RST)
  stall_after_bytes  after N bytes stop forwarding for stall_s seconds, once, then go on
  delay_per_frame_s  sleep before forwarding each message of the 4-byte length framing used
                     by SMB (direct TCP and NetBIOS session service)
  faulty_connections only the first K connections get the faults (None: all of them), so a
                     client that reconnects finds a healthy link
Fault settings may be changed between connections; a connection keeps what it started with.

A byte held by a stall, a delay or a freeze is not counted in .bytes until it is forwarded.

Bounded: at most max_connections open at once (more are accepted and closed at once), two
threads per connection, 64 KiB per read; stop() and cut_all() wake every thread (stalls too)
and stop() waits at most 10 s for them.
"""

import socket
import threading
import time

DIRECTIONS = ("s2c", "c2s", "both")
CHUNK = 65536


def _shutdown(*socks):
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Faults:
    """The faults of one direction of one connection, and how far that direction has got."""

    def __init__(self, cut, stall, stall_s, delay):
        self.cut, self.stall, self.stall_s, self.delay = cut, stall, stall_s, delay
        self.sent = 0
        self.stalled = False
        self.frame_left = 0  # bytes of the current frame still to forward
        self.hdr = b""  # a frame header seen in part


class _Conn:
    def __init__(self, proxy, client, server, faulty):
        self.proxy, self.client, self.server = proxy, client, server
        self.lock = threading.Lock()
        self.closed = False
        self.ended = 0  # directions that ended in order (EOF passed on)
        self.woken = threading.Event()  # set at close: ends stalls and delays at once
        # each direction gets its own copy of the proxy's faults as they are now, or none
        self.faults = {}
        for name in ("c2s", "s2c"):
            on = faulty and proxy.direction in (name, "both")
            self.faults[name] = _Faults(proxy.cut_after_bytes, proxy.stall_after_bytes,
                                        proxy.stall_s, proxy.delay_per_frame_s) if on else None

    def start(self):
        for src, dst, name in ((self.client, self.server, "c2s"),
                               (self.server, self.client, "s2c")):
            t = threading.Thread(target=self._pump, args=(src, dst, name), daemon=True)
            self.proxy._threads.append(t)
            t.start()

    def close(self, reset=False):
        with self.lock:
            if self.closed:
                return
            self.closed = True
        self.woken.set()
        if reset:
            for s in (self.client, self.server):
                try:  # linger 0: close() sends RST instead of FIN
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                except OSError:
                    pass
        _shutdown(self.client, self.server)
        for s in (self.client, self.server):
            try:
                s.close()
            except OSError:
                pass
        self.proxy._gone(self)

    def _wait(self, seconds):
        """Sleeps, but wakes when the connection closes (cut_all, stop); False then."""
        self.woken.wait(seconds)
        return not self.closed

    def _send(self, dst, data, name):
        # frozen: hold the bytes (TCP stays up, as with a server stopped by SIGSTOP)
        while not self.proxy._flowing.is_set():
            if self.woken.wait(0.05):
                raise OSError("closed while frozen")
        self.proxy._count(name, len(data))
        dst.sendall(data)

    def _at_limits(self, f):
        """Applies a cut or a stall due at f.sent; False once the connection was cut."""
        if f.cut is not None and f.sent >= f.cut:
            self.proxy._add("cuts")
            self.close(reset=self.proxy.reset)
            return False
        if f.stall is not None and not f.stalled and f.sent >= f.stall:
            f.stalled = True
            self.proxy._add("stalls")
            return self._wait(f.stall_s)
        return True

    def _forward(self, dst, data, name, f):
        """Sends data on, applying the faults f; False once the connection was cut."""
        if f is None:
            self._send(dst, data, name)
            return True
        if f.delay:
            data, f.hdr = f.hdr + data, b""
        while data:
            if not self._at_limits(f):
                return False
            n = len(data)
            if f.delay:
                if f.frame_left == 0:  # a frame starts here: its header first, then sleep
                    if len(data) < 4:
                        f.hdr = data  # held until the rest of the header comes
                        return True
                    if not self._wait(f.delay):
                        return False
                    f.frame_left = 4 + int.from_bytes(data[1:4], "big")
                n = min(n, f.frame_left)
            if f.cut is not None:
                n = min(n, f.cut - f.sent)
            if f.stall is not None and not f.stalled:
                n = min(n, f.stall - f.sent)
            self._send(dst, data[:n], name)
            f.sent += n
            if f.delay:
                f.frame_left -= n
            data = data[n:]
        return self._at_limits(f)

    def _pump(self, src, dst, name):
        f = self.faults[name]
        # a cut at byte 0 happens before anything is forwarded
        if f is not None and not self._at_limits(f):
            return
        try:
            while True:
                data = src.recv(CHUNK)
                if not data:
                    break
                if not self._forward(dst, data, name, f):
                    return
        except OSError:
            self.close()  # a reset or an error: both directions end
            return
        # an orderly end of one direction is passed on; the other may still be going
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with self.lock:
            self.ended += 1
            both = self.ended == 2
        if both:
            self.close()


class FaultProxy:
    """See the module's docstring. start() listens on 127.0.0.1 (.port); stop() ends it."""

    def __init__(self, target_port, cut_after_bytes=None, stall_after_bytes=None, stall_s=0,
                 delay_per_frame_s=0, direction="s2c", faulty_connections=None, reset=False,
                 target_host="127.0.0.1", max_connections=256):
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, not {direction!r}")
        self.target = (target_host, target_port)
        self.cut_after_bytes = cut_after_bytes
        self.stall_after_bytes = stall_after_bytes
        self.stall_s = stall_s
        self.delay_per_frame_s = delay_per_frame_s
        self.direction = direction
        self.faulty_connections = faulty_connections
        self.reset = reset
        self.max_connections = max_connections
        self.connections = 0  # accepted and relayed so far
        self.refused = 0  # over max_connections, or the target did not answer
        self.cuts = 0
        self.stalls = 0
        self.bytes = {"c2s": 0, "s2c": 0}
        self._lock = threading.Lock()
        self._conns = set()
        self._threads = []
        self._stopping = threading.Event()
        self._flowing = threading.Event()
        self._flowing.set()
        self.sock = None
        self.port = None

    # -- life --------------------------------------------------------------------------------

    def start(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        t = threading.Thread(target=self._accept, daemon=True)
        self._threads.append(t)
        t.start()
        return self

    def stop(self):
        self._stopping.set()
        if self.sock is not None:
            _shutdown(self.sock)  # wakes accept()
            self.sock.close()
        self.cut_all()
        deadline = time.time() + 10
        for t in list(self._threads):
            t.join(timeout=max(0.0, deadline - time.time()))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- what tests use ----------------------------------------------------------------------

    @property
    def live(self):
        with self._lock:
            return len(self._conns)

    def cut_all(self, reset=None):
        """Closes every open connection now (reset: with RST; default: the proxy's setting)."""
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            c.close(reset=self.reset if reset is None else reset)
        return len(conns)

    def freeze(self):
        """Stops forwarding in both directions on every connection, new ones too, until
        thaw(): connections stay open and nothing moves (the server seems frozen, like smbd
        under SIGSTOP, without touching the shared Samba)."""
        self._flowing.clear()

    def thaw(self):
        self._flowing.set()

    def retarget(self, port, host="127.0.0.1"):
        """New connections go to host:port (a server restarted elsewhere)."""
        self.target = (host, port)

    def url(self, samba, share, path="", **kw):
        """samba.url(...) aimed at this proxy."""
        return samba.url(share, path, **kw).replace(f":{samba.port}/", f":{self.port}/", 1)

    # -- inside ------------------------------------------------------------------------------

    def _count(self, name, n):
        with self._lock:
            self.bytes[name] += n

    def _add(self, counter):
        with self._lock:
            setattr(self, counter, getattr(self, counter) + 1)

    def _gone(self, conn):
        with self._lock:
            self._conns.discard(conn)

    def _accept(self):
        while not self._stopping.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                full = len(self._conns) >= self.max_connections
            if full:
                self.refused += 1
                c.close()
                continue
            try:
                s = socket.create_connection(self.target, timeout=10)
                s.settimeout(None)
            except OSError:
                self.refused += 1
                c.close()
                continue
            for x in (c, s):
                x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            faulty = self.faulty_connections is None or self.connections < self.faulty_connections
            conn = _Conn(self, c, s, faulty)
            with self._lock:
                self.connections += 1
                self._conns.add(conn)
            # finished threads are dropped so that a long run does not pile them up
            self._threads = [t for t in self._threads if t.is_alive()]
            conn.start()
