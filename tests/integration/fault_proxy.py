"""A fault-injecting TCP proxy between a client (smbgate) and a server (Samba) on 127.0.0.1.

    p = FaultProxy(samba.port, cut_after_bytes=4 << 20, direction="c2s", faulty_connections=1)
    p.start()
    url = p.url(samba, "plain", "dir/file")      # samba.url(...) aimed at the proxy
    ...
    p.stop()                                     # or: with FaultProxy(...) as p:

Faults, counted per connection from its first byte in `direction` ("s2c": the server's
answers, the default; "c2s": the client's requests; "both": each direction on its own):
  cut_after_bytes    forward exactly N bytes, then close both sides (reset=True: with RST)
  stall_after_bytes  after N bytes forward nothing more for stall_s seconds (once), then go on
  delay_per_frame_s  sleep before each message of SMB's 4-byte length framing
  faulty_connections only the first K connections get the faults (None: every one), so that a
             client that reconnects finds a healthy link
Counters: connections, cuts, stalls. Bounded: two threads per connection, 64 KiB per read, at
most max_connections at once; stop() wakes every stall and waits at most 10 s for the threads.
"""

import socket
import threading
import time

CHUNK = 65536


def _shutdown(*socks):
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Link:
    """One relayed connection: client socket, server socket, and the faults it started with."""

    def __init__(self, proxy, client, server, faulty):
        self.proxy, self.client, self.server = proxy, client, server
        self.faulty = faulty
        self.closed = threading.Event()  # also wakes stalls and delays
        self.lock = threading.Lock()
        self.ended = 0

    def close(self, reset=False):
        with self.lock:
            if self.closed.is_set():
                return
            self.closed.set()
        for s in (self.client, self.server):
            if reset:  # linger 0: close() sends RST
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                except OSError:
                    pass
        _shutdown(self.client, self.server)
        for s in (self.client, self.server):
            s.close()
        self.proxy._gone(self)

    def _faulty(self, name):
        return self.faulty and self.proxy.direction in (name, "both")

    def pump(self, src, dst, name):
        p = self.proxy
        faulty = self._faulty(name)
        cut = p.cut_after_bytes if faulty else None
        stall = p.stall_after_bytes if faulty else None
        delay = p.delay_per_frame_s if faulty else 0
        sent, frame_left, pending = 0, 0, b""
        try:
            while not self.closed.is_set():
                data = src.recv(CHUNK)
                if not data:
                    break
                data, pending = pending + data, b""
                while data:
                    if cut is not None and sent >= cut:
                        p._add("cuts")
                        self.close(reset=p.reset)
                        return
                    if stall is not None and sent >= stall:
                        stall = None
                        p._add("stalls")
                        if self.closed.wait(p.stall_s):
                            return
                    n = len(data)
                    if delay:
                        if frame_left == 0:  # a message starts: sleep, then send it
                            if len(data) < 4:
                                pending = data
                                break
                            if self.closed.wait(delay):
                                return
                            frame_left = 4 + int.from_bytes(data[1:4], "big")
                        n = min(n, frame_left)
                    for limit in (cut, stall):
                        if limit is not None:
                            n = min(n, limit - sent)
                    dst.sendall(data[:n])
                    sent += n
                    frame_left = max(0, frame_left - n) if delay else 0
                    data = data[n:]
                if cut is not None and sent >= cut:
                    p._add("cuts")
                    self.close(reset=p.reset)
                    return
        except OSError:
            self.close()
            return
        try:  # an orderly end of one direction is passed on
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        with self.lock:
            self.ended += 1
            both = self.ended == 2
        if both:
            self.close()


class FaultProxy:
    def __init__(self, target_port, cut_after_bytes=None, stall_after_bytes=None, stall_s=0,
                 delay_per_frame_s=0, direction="s2c", faulty_connections=None, reset=False,
                 max_connections=64):
        if direction not in ("s2c", "c2s", "both"):
            raise ValueError(f"direction {direction!r}")
        self.target = ("127.0.0.1", target_port)
        self.cut_after_bytes = cut_after_bytes
        self.stall_after_bytes = stall_after_bytes
        self.stall_s = stall_s
        self.delay_per_frame_s = delay_per_frame_s
        self.direction = direction
        self.faulty_connections = faulty_connections
        self.reset = reset
        self.max_connections = max_connections
        self.connections = self.cuts = self.stalls = 0
        self.port = None
        self.sock = None
        self._lock = threading.Lock()
        self._links = set()
        self._threads = []

    def start(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self._spawn(self._accept)
        return self

    def stop(self):
        if self.sock is not None:
            _shutdown(self.sock)  # wakes accept()
            self.sock.close()
        with self._lock:
            links = list(self._links)
        for link in links:
            link.close()
        deadline = time.monotonic() + 10
        for t in list(self._threads):
            t.join(timeout=max(0.0, deadline - time.monotonic()))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def url(self, samba, share, path="", **kw):
        """samba.url(...) aimed at this proxy."""
        return samba.url(share, path, **kw).replace(f":{samba.port}/", f":{self.port}/", 1)

    def _spawn(self, target, *args):
        t = threading.Thread(target=target, args=args, daemon=True)
        with self._lock:
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()

    def _add(self, counter):
        with self._lock:
            setattr(self, counter, getattr(self, counter) + 1)

    def _gone(self, link):
        with self._lock:
            self._links.discard(link)

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                full = len(self._links) >= self.max_connections
            try:
                if full:
                    raise OSError("too many connections")
                s = socket.create_connection(self.target, timeout=10)
                s.settimeout(None)
            except OSError:
                c.close()
                continue
            with self._lock:
                faulty = (self.faulty_connections is None
                          or self.connections < self.faulty_connections)
                self.connections += 1
                link = _Link(self, c, s, faulty)
                self._links.add(link)
            self._spawn(link.pump, c, s, "c2s")
            self._spawn(link.pump, s, c, "s2c")
