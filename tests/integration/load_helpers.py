"""Mixed SFTP load over `smbgate serve sftp`, shared by tests/integration/test_load.py (short, in
make check) and bench/load.py (50 sessions x 60 s).

  run_load(port, sessions, seconds, ...)  N paramiko sessions, each in its own folder
                                  s<i>/ of the served root, doing put, get, stat, listdir,
                                  rename, remove, mkdir/rmdir and reads of one shared file
                                  until the time is up; every byte read back is checked
                                  by SHA-256 against what was written. Returns a LoadResult.
  verify_on_disk(result, disk)    every file the sessions think exists is on the share's
                                  folder on disk with the right SHA-256, and nothing else is
  Sampler(pid)                    samples RSS (VmRSS), fds (/proc/PID/fd) of a process
  cpu_seconds(pids)               utime+stime (+ reaped children) of processes, in seconds

Sessions never touch each other's folders, so every expectation is exact; they meet on the
gateway (threads, SMB connections, memory) and on Samba. They come from 8 loopback addresses
(127.0.0.10-17), start 20 ms apart, and reconnect when a login is dropped (counted apart).
"""

import hashlib
import os
import random
import socket
import threading
import time
from pathlib import Path

import paramiko

SHARED = "shared.bin"
SHARED_SIZE = 2 * 1024 * 1024 + 13
# sizes written: mostly small, some around SMB and SFTP boundaries, a few of a few MiB
SIZES = [0, 1, 100, 4095, 4096, 32768, 65537, 200000, 1 << 20, (1 << 20) + 1, 3 * (1 << 20) + 7]
SIZE_WEIGHTS = [1, 2, 6, 4, 4, 6, 4, 4, 2, 2, 1]
OPS = ["put", "get", "stat", "listdir", "rename", "remove", "mkdir", "get_shared"]
OP_WEIGHTS = [5, 5, 4, 2, 2, 2, 1, 1]
CONNECT_TIMEOUT = 30
OP_TIMEOUT = 60  # one operation, at most (paramiko channel timeout)
MAX_ERRORS = 20  # a session ends after this many (one broken link would repeat them)
LOGIN_RETRY_S = 20  # a session keeps trying to log in this long
SOURCES = 8  # client addresses 127.0.0.10..17, as users on several hosts (limits per source)
RAMP_S = 0.02  # sessions start this far apart


def sha256(b):
    return hashlib.sha256(b).hexdigest()


class LoadResult:
    def __init__(self, sessions):
        self.lock = threading.Lock()
        self.ops = {op: 0 for op in OPS}
        self.errors = []  # (session, op, message)
        self.files = [dict() for _ in range(sessions)]  # per session: path -> (sha256, size)
        self.dirs = [set() for _ in range(sessions)]  # per session: relative sub-folders
        self.bytes_up = 0
        self.bytes_down = 0
        self.seconds = 0.0
        self.logins = 0
        self.login_retries = []  # why a login had to be tried again

    @property
    def total_ops(self):
        return sum(self.ops.values())

    def error(self, sess, op, msg):
        with self.lock:
            self.errors.append((sess, op, msg))


class _Session:
    def __init__(self, idx, port, user, password, result, deadline, shared_sha, seed):
        self.idx, self.port, self.user, self.password = idx, port, user, password
        self.r, self.deadline, self.shared_sha = result, deadline, shared_sha
        self.rng = random.Random(seed)
        self.root = f"s{idx}"
        self.files = result.files[idx]
        self.dirs = result.dirs[idx]
        self.n = 0

    def _name(self):
        self.n += 1
        folder = self.rng.choice(sorted(self.dirs)) if self.dirs and self.rng.random() < 0.3 \
            else ""
        return f"{folder}/f{self.n}.bin" if folder else f"f{self.n}.bin"

    def _path(self, rel):
        return f"{self.root}/{rel}"

    def _connect(self):
        """A logged-in transport, from this session's source address."""
        sock = socket.socket()
        sock.settimeout(CONNECT_TIMEOUT)
        sock.bind((f"127.0.0.{10 + self.idx % SOURCES}", 0))
        sock.connect(("127.0.0.1", self.port))
        t = paramiko.Transport(sock)
        t.banner_timeout = t.auth_timeout = CONNECT_TIMEOUT
        try:
            t.start_client(timeout=CONNECT_TIMEOUT)
            t.auth_password(self.user, self.password)
            return t
        except BaseException:
            t.close()
            raise

    def run(self):
        # A gateway may drop connections at random while many are logging in at once (as
        # sshd's MaxStartups does); a client then reconnects. Such drops are counted apart
        # (login_retries); not logging in within LOGIN_RETRY_S is an error.
        until = time.monotonic() + LOGIN_RETRY_S
        while True:
            try:
                t = self._connect()
                break
            except Exception as e:  # noqa: BLE001 (any failure to log in counts)
                if time.monotonic() > until:
                    self.r.error(self.idx, "login", repr(e))
                    return
                with self.r.lock:
                    self.r.login_retries.append(repr(e))
                time.sleep(0.1 + self.rng.random() * 0.2)
        with self.r.lock:
            self.r.logins += 1
        try:
            sf = paramiko.SFTPClient.from_transport(t)
            sf.get_channel().settimeout(OP_TIMEOUT)
            sf.mkdir(self.root)
            errors = 0
            while time.monotonic() < self.deadline:
                op = self.rng.choices(OPS, OP_WEIGHTS)[0]
                try:
                    done = getattr(self, "op_" + op)(sf)
                except Exception as e:  # noqa: BLE001
                    self.r.error(self.idx, op, repr(e))
                    errors += 1
                    # the session may be unusable now; end it rather than pile up errors
                    if not t.is_active() or errors >= MAX_ERRORS:
                        return
                    continue
                if done:
                    with self.r.lock:
                        self.r.ops[op] += 1
            sf.close()
        except Exception as e:  # noqa: BLE001
            self.r.error(self.idx, "session", repr(e))
        finally:
            t.close()

    # -- operations: each checks its own answer; False when it had nothing to work on --------

    def _pick(self):
        return self.rng.choice(sorted(self.files)) if self.files else None

    def op_put(self, sf):
        size = self.rng.choices(SIZES, SIZE_WEIGHTS)[0]
        data = os.urandom(size)
        rel = self._name()
        with sf.open(self._path(rel), "wb") as f:
            f.set_pipelined(True)
            for i in range(0, size, 32768):
                f.write(data[i:i + 32768])
        self.files[rel] = (sha256(data), size)
        with self.r.lock:
            self.r.bytes_up += size
        return True

    def op_get(self, sf):
        rel = self._pick()
        if rel is None:
            return False
        with sf.open(self._path(rel), "rb") as f:
            size = f.stat().st_size
            f.prefetch(size)
            data = f.read()
        if (sha256(data), len(data)) != self.files[rel]:
            raise AssertionError(f"{rel}: {len(data)} bytes read back do not match what was written")
        with self.r.lock:
            self.r.bytes_down += len(data)
        return True

    def op_get_shared(self, sf):
        with sf.open(SHARED, "rb") as f:
            f.prefetch(SHARED_SIZE)
            data = f.read()
        if sha256(data) != self.shared_sha:
            raise AssertionError(f"{SHARED}: {len(data)} bytes read do not match")
        with self.r.lock:
            self.r.bytes_down += len(data)
        return True

    def op_stat(self, sf):
        rel = self._pick()
        if rel is None:
            return False
        st = sf.stat(self._path(rel))
        if st.st_mode is None or (st.st_mode & 0o170000) != 0o100000 \
                or st.st_size != self.files[rel][1]:
            raise AssertionError(f"{rel}: stat says mode {st.st_mode!r} size {st.st_size}, "
                                 f"written {self.files[rel][1]} bytes")
        return True

    def op_listdir(self, sf):
        folder = self.rng.choice([""] + sorted(self.dirs))
        names = set(sf.listdir(self._path(folder) if folder else self.root))
        want = {p[len(folder) + 1:] if folder else p for p in self.files
                if (p.rpartition("/")[0] == folder)}
        want |= {d[len(folder) + 1:] if folder else d for d in self.dirs
                 if d.rpartition("/")[0] == folder}
        if names != want:
            raise AssertionError(f"listdir {folder or '.'}: got {sorted(names ^ want)} "
                                 f"different from what this session made")
        return True

    def op_rename(self, sf):
        rel = self._pick()
        if rel is None:
            return False
        new = self._name()
        sf.rename(self._path(rel), self._path(new))
        self.files[new] = self.files.pop(rel)
        return True

    def op_remove(self, sf):
        # keep some files around so that gets have something to read
        if len(self.files) < 4:
            return False
        rel = self._pick()
        sf.remove(self._path(rel))
        del self.files[rel]
        return True

    def op_mkdir(self, sf):
        empty = [d for d in self.dirs
                 if not any(p.startswith(d + "/") for p in list(self.files) + list(self.dirs))]
        if len(self.dirs) >= 3 and empty:
            d = self.rng.choice(sorted(empty))
            sf.rmdir(self._path(d))
            self.dirs.discard(d)
            return True
        self.n += 1
        d = f"d{self.n}"
        sf.mkdir(self._path(d))
        self.dirs.add(d)
        return True


def write_shared(disk, uid, gid):
    """The file every session reads; returns its SHA-256."""
    data = os.urandom(SHARED_SIZE)
    p = Path(disk) / SHARED
    p.write_bytes(data)
    os.chown(p, uid, gid)
    return sha256(data)


def run_load(port, sessions, seconds, shared_sha, user, password, seed=None):
    """Starts `sessions` threads against 127.0.0.1:port at once, runs until `seconds` pass,
    waits for every session to end (at most seconds + 2 * OP_TIMEOUT) and returns the result."""
    seed = random.randrange(1 << 30) if seed is None else seed
    r = LoadResult(sessions)
    start = time.monotonic()
    deadline = start + seconds
    threads = []
    for i in range(sessions):
        s = _Session(i, port, user, password, r, deadline, shared_sha, seed + i)
        t = threading.Thread(target=s.run, name=f"load-{i}", daemon=True)
        threads.append(t)
        t.start()
        time.sleep(RAMP_S)
    end_by = deadline + 2 * OP_TIMEOUT + CONNECT_TIMEOUT + LOGIN_RETRY_S
    for t in threads:
        t.join(timeout=max(0.1, end_by - time.monotonic()))
    stuck = [t.name for t in threads if t.is_alive()]
    if stuck:
        r.error(-1, "join", f"sessions still running after the deadline: {stuck}")
    r.seconds = time.monotonic() - start
    r.seed = seed
    return r


def verify_on_disk(result, disk):
    """Problems (a list of strings) between what the sessions wrote and the share on disk."""
    problems = []
    disk = Path(disk)
    for i, files in enumerate(result.files):
        root = disk / f"s{i}"
        if not root.is_dir():
            if files or result.dirs[i]:
                problems.append(f"{root} missing")
            continue
        on_disk = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
        dirs = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir()}
        if on_disk != set(files):
            problems.append(f"s{i}: files differ: {sorted(on_disk ^ set(files))[:10]}")
        if dirs != result.dirs[i]:
            problems.append(f"s{i}: folders differ: {sorted(dirs ^ result.dirs[i])[:10]}")
        for rel, (want, _) in files.items():
            p = root / rel
            if p.is_file() and sha256(p.read_bytes()) != want:
                problems.append(f"s{i}/{rel}: content on disk differs from what was written")
    return problems


# ---- process figures from /proc ---------------------------------------------------------------


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_seconds(pids):
    """utime + stime of each process plus those of its reaped children, summed."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            s = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        f = s[s.rindex(")") + 2:].split()
        total += sum(int(x) for x in f[11:15])  # utime stime cutime cstime
    return total / tick


class Sampler:
    """Samples RSS and the number of open fds of pid every `every` seconds in a thread."""

    def __init__(self, pid, every=0.2):
        self.pid, self.every = pid, every
        self.rss = []  # KiB
        self.fds = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        try:
            self.rss.append(rss_kib(self.pid))
            self.fds.append(fd_count(self.pid))
        except OSError:
            pass

    def _run(self):
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.every)

    def __enter__(self):
        self._sample()
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(timeout=10)
        self._sample()

    @property
    def peak_rss_mib(self):
        return max(self.rss) / 1024 if self.rss else 0

    @property
    def peak_fds(self):
        return max(self.fds) if self.fds else 0
