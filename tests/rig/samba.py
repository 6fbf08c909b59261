#!/usr/bin/python3
"""A private Samba server on 127.0.0.1 for smbgate's tests, demo and benchmarks.

Standard library only. Run as root: smbd switches to the share user itself.

    from samba import SambaServer
    with SambaServer() as s:
        s.url("plain", "dir/file.txt")   # smb://127.0.0.1:PORT/plain/dir/file.txt?auth-...
        s.smbclient("-c", "ls", share="plain")

Everything smbd would otherwise put under /etc, /var or /run lives in one temporary
directory (by default under /dev/shm, so benchmarks are not disk-bound); smbd listens on two
free high ports on 127.0.0.1 only. stop() ends every process the server started (smbd, its
children, samba-dcerpcd and its rpcd_* helpers), identified by pid and by the private config
path on their command line, then removes the directory. A server started in-process is
also stopped at interpreter exit, and a small watcher process cleans up if the Python process
dies without stopping it (SIGKILL, crash).

Shares (all owned by the test user):
  plain   read-write
  ro      read only = yes (holds readme.txt)
  enc     smb encrypt = required
  big     read only; 10,000 small files small-00000.txt .. small-09999.txt and a sparse
          5 GiB file sparse5g.bin (10,001 entries). Built once per process and shared by
          every server of that process (big=False leaves the share out).
  durable read-write, with what Samba needs to grant durable handles (`kernel oplocks = no`,
          `kernel share modes = no`, `posix locking = no`)
  signed  only on servers made with signing="mandatory": Samba 4.17's `server signing`
          is a global setting (testparm rejects it in a share), so a signed share needs its
          own server. Every share of such a server requires signing.

CLI (for make demo and bench):
  samba.py start --dir D [--min-protocol P] [--max-protocol P] [--signing mandatory]
                 [--nt1] [--no-big]      prints and writes D/env (shell) and D/rig.json
  samba.py stop --dir D                  stops everything and removes D
"""

import argparse
import atexit
import json
import os
import pwd
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HOST = "127.0.0.1"
DEFAULT_USER = "smbgtest"
DEFAULT_PASSWORD = "smbgtest-Pw.1"
BIG_FILES = 10000
BIG_SPARSE = "sparse5g.bin"
BIG_SPARSE_SIZE = 5 * 1024**3
STATE_FILE = "rig.json"
ENV_FILE = "env"

_live = set()
_live_lock = threading.Lock()
_big_cache = {}  # tmp_root -> directory holding the big share, removed at exit


class RigError(RuntimeError):
    pass


def _free_ports(n):
    """n distinct free TCP ports on 127.0.0.1 (bound together so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _port_open(port):
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def ensure_user(name):
    """Creates the system user if missing; returns its pwd entry."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    r = subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        capture_output=True, text=True)
    try:
        return pwd.getpwnam(name)  # also covers a concurrent useradd that won the race
    except KeyError:
        raise RigError(f"useradd {name} failed: {r.stderr.strip()}") from None


def make_big_dir(path, uid, gid):
    """Fills path with BIG_FILES small files and a sparse 5 GiB file, all owned by uid:gid."""
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o755)
    for i in range(BIG_FILES):
        p = os.path.join(path, "small-%05d.txt" % i)
        with open(p, "w") as f:
            f.write("small file %05d\n" % i)
        os.chown(p, uid, gid)
    sparse = os.path.join(path, BIG_SPARSE)
    with open(sparse, "wb"):
        pass
    os.truncate(sparse, BIG_SPARSE_SIZE)
    os.chown(sparse, uid, gid)
    os.chown(path, uid, gid)


def _shared_big_dir(tmp_root, uid, gid):
    d = _big_cache.get(tmp_root)
    if d is None:
        d = tempfile.mkdtemp(prefix="smbgate-big-", dir=tmp_root)
        watcher = _start_watcher(d)
        _big_cache[tmp_root] = (d, watcher)
        os.chmod(d, 0o755)
        make_big_dir(os.path.join(d, "big"), uid, gid)
    else:
        d = d[0]
    return os.path.join(d, "big")


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None


def _alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def _pids_using(conf):
    """Pids of processes whose command line names our private config file."""
    out = []
    me = os.getpid()
    for e in os.listdir("/proc"):
        if not e.isdigit() or int(e) == me:
            continue
        c = _cmdline(int(e))
        if c and conf in c:
            out.append(int(e))
    return out


def _pidfile_pids(piddir, conf):
    """Pids from the pid files smbd and samba-dcerpcd write, if they still run our config."""
    out = []
    try:
        names = os.listdir(piddir)
    except OSError:
        return out
    for n in names:
        if not n.endswith(".pid"):
            continue
        try:
            with open(os.path.join(piddir, n)) as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        c = _cmdline(pid)
        if c and conf in c:
            out.append(pid)
    return out


def _terminate(pids, conf, timeout=10.0, reap=None):
    """SIGTERM then SIGKILL each pid still running conf; waits until all are gone."""
    pids = set(pids)

    def still(pid):
        c = _cmdline(pid)
        return _alive(pid) and c is not None and conf in c

    for pid in sorted(pids):
        if still(pid):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + timeout
    killed = False
    while True:
        if reap:
            reap()
        # Children that appeared meanwhile (an rpcd_* helper) are ours too.
        pids |= set(_pids_using(conf))
        left = [p for p in pids if still(p)]
        if not left:
            return
        if time.monotonic() > deadline:
            if killed:
                raise RigError(f"processes survive SIGKILL: {left}")
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            killed = True
            deadline = time.monotonic() + 5
        time.sleep(0.05)


def _start_watcher(directory, samba=False):
    """A helper process that cleans up after us if we die without stop() (SIGKILL, crash):
    it waits for EOF on a pipe only we hold, then ends the processes running conf and removes
    directory. stop() disarms it by writing a byte first. Its command line names only the
    directory, so that it is not taken for one of smbd's processes. Returns (Popen, fd)."""
    r, w = os.pipe()  # non-inheritable: no other child of ours keeps w open
    cmd = [sys.executable or "/usr/bin/python3", os.path.abspath(__file__), "_watch",
           "--dir", directory]
    if samba:
        cmd.append("--samba")
    try:
        p = subprocess.Popen(cmd, stdin=r, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    finally:
        os.close(r)
    return p, w


def _stop_watcher(watcher):
    if watcher is None:
        return
    p, w = watcher
    try:
        os.write(w, b"x")  # disarm: we cleaned up ourselves
    except OSError:
        pass
    os.close(w)
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def _watch(directory, samba):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    data = b""
    try:
        while True:
            b = os.read(0, 64)
            if not b:
                break
            data += b
    except OSError:
        pass
    if data:
        return 0  # disarmed
    if samba:
        conf = os.path.join(directory, "smb.conf")
        pids = set(_pids_using(conf)) | set(_pidfile_pids(os.path.join(directory, "run"), conf))
        _terminate(pids, conf)
    shutil.rmtree(directory, ignore_errors=True)
    return 0


def stop_dir(base_dir, remove=True):
    """Stops the server whose state is in base_dir/rig.json (CLI use); removes base_dir."""
    state_path = os.path.join(base_dir, STATE_FILE)
    with open(state_path) as f:
        st = json.load(f)
    conf = st["conf"]
    pids = set(st.get("pids", []))
    pids |= set(_pidfile_pids(st["piddir"], conf))
    pids |= set(_pids_using(conf))
    _terminate(pids, conf)
    if remove:
        shutil.rmtree(base_dir, ignore_errors=True)


class SambaServer:
    """A private smbd. Constructor arguments:

    tmp_root      where the temporary directory goes (default /dev/shm)
    base_dir      use this directory instead (must not exist or be empty)
    min_protocol  `server min protocol` (e.g. "NT1", "SMB2_02"); None = Samba's default
    max_protocol  `server max protocol` (e.g. "SMB2_10", "SMB3_11", "NT1")
    signing       `server signing` ("auto", "mandatory", "disabled"); "mandatory" adds
                  the `signed` share
    ntlm_auth     `ntlm auth` (e.g. "ntlmv1-permitted")
    nt1           shorthand: min_protocol="NT1", ntlm_auth="ntlmv1-permitted"
    big           include the `big` share (built once per process, or in base_dir/big
                  when detach=True)
    user/password the SMB user (a unix system user of that name is created if missing)
    extra_global  dict of further [global] settings
    extra_shares  dict share name -> dict of settings; a missing `path` gets a fresh
                  directory owned by the user
    log_level     smbd's log level (log in .log_path)
    detach        do not tie smbd's life to this process (CLI start); stop with stop_dir()
    """

    def __init__(self, tmp_root="/dev/shm", base_dir=None, min_protocol=None,
                 max_protocol=None, signing=None, ntlm_auth=None, nt1=False, big=True,
                 user=DEFAULT_USER, password=DEFAULT_PASSWORD, extra_global=None,
                 extra_shares=None, log_level=1, detach=False):
        if nt1:
            min_protocol = min_protocol or "NT1"
            ntlm_auth = ntlm_auth or "ntlmv1-permitted"
        self.tmp_root = tmp_root
        self.base_dir = base_dir
        self.min_protocol = min_protocol
        self.max_protocol = max_protocol
        self.signing = signing
        self.ntlm_auth = ntlm_auth
        self.big = big
        self.user = user
        self.password = password
        self.extra_global = dict(extra_global or {})
        self.extra_shares = {k: dict(v) for k, v in (extra_shares or {}).items()}
        self.log_level = log_level
        self.detach = detach
        self.host = HOST
        self.port = None
        self.nbport = None
        self.dir = None
        self.conf = None
        self.proc = None
        self.shares = {}
        self._owns_dir = False
        self._watcher = None

    # -- paths -----------------------------------------------------------------------------

    def _p(self, *parts):
        return os.path.join(self.dir, *parts)

    @property
    def log_path(self):
        return self._p("log", "smbd.log")

    @property
    def piddir(self):
        return self._p("run")

    def share_path(self, name):
        """Local directory behind a share."""
        return self.shares[name]["path"]

    # -- configuration ---------------------------------------------------------------------

    def _global_settings(self):
        g = {
            "server role": "standalone server",
            "workgroup": "SMBGTEST",
            "netbios name": "SMBGRIG",
            "interfaces": HOST,
            "bind interfaces only": "yes",
            "smb ports": f"{self.port} {self.nbport}",
            "disable netbios": "yes",
            "lock directory": self._p("lock"),
            "state directory": self._p("state"),
            "cache directory": self._p("cache"),
            "pid directory": self.piddir,
            "private dir": self._p("private"),
            "ncalrpc dir": self._p("ncalrpc"),
            "binddns dir": self._p("binddns"),
            "passdb backend": "tdbsam:" + self._p("private", "passdb.tdb"),
            "log file": self.log_path,
            "max log size": "0",
            "log level": str(self.log_level),
            "usershare path": "",
            "load printers": "no",
            "printing": "bsd",
            "printcap name": "/dev/null",
            "disable spoolss": "yes",
            "map to guest": "never",
        }
        if self.min_protocol:
            g["server min protocol"] = self.min_protocol
        if self.max_protocol:
            g["server max protocol"] = self.max_protocol
        if self.signing:
            g["server signing"] = self.signing
        if self.ntlm_auth:
            g["ntlm auth"] = self.ntlm_auth
        g.update(self.extra_global)
        return g

    def _make_shares(self, pw):
        shares = {
            "plain": {"path": self._p("shares", "plain"), "read only": "no"},
            "ro": {"path": self._p("shares", "ro"), "read only": "yes"},
            "enc": {"path": self._p("shares", "enc"), "read only": "no",
                    "smb encrypt": "required"},
            "durable": {"path": self._p("shares", "durable"), "read only": "no",
                        "kernel oplocks": "no", "kernel share modes": "no",
                        "posix locking": "no"},
        }
        if self.signing == "mandatory":
            shares["signed"] = {"path": self._p("shares", "signed"), "read only": "no"}
        for name, settings in self.extra_shares.items():
            settings.setdefault("path", self._p("shares", name))
            settings.setdefault("read only", "no")
            shares[name] = settings
        for s in shares.values():
            if not os.path.isdir(s["path"]):
                os.makedirs(s["path"])
                os.chmod(s["path"], 0o755)
                os.chown(s["path"], pw.pw_uid, pw.pw_gid)
        readme = os.path.join(shares["ro"]["path"], "readme.txt")
        with open(readme, "w") as f:
            f.write("this share is read-only\n")
        os.chown(readme, pw.pw_uid, pw.pw_gid)
        if self.big:
            if self.detach:
                big = self._p("shares", "big")
                make_big_dir(big, pw.pw_uid, pw.pw_gid)
            else:
                big = _shared_big_dir(self.tmp_root, pw.pw_uid, pw.pw_gid)
            shares["big"] = {"path": big, "read only": "yes"}
        return shares

    def _write_conf(self):
        lines = ["# written by tests/rig/samba.py", "[global]"]
        lines += [f"\t{k} = {v}" for k, v in self._global_settings().items()]
        for name, settings in self.shares.items():
            lines += ["", f"[{name}]"]
            lines += [f"\t{k} = {v}" for k, v in settings.items()]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def _testparm(self):
        r = subprocess.run(["testparm", "-s", self.conf], capture_output=True, text=True,
                           timeout=60)
        bad = [l for l in r.stderr.splitlines()
               if "Ignoring unknown parameter" in l or "ERROR" in l
               or "Global parameter" in l or "Unknown parameter" in l]
        if r.returncode != 0 or bad:
            raise RigError(f"testparm -s {self.conf} failed (rc {r.returncode}):\n{r.stderr}")

    # -- life cycle ------------------------------------------------------------------------

    def start(self):
        if self.proc is not None:
            return self
        pw = ensure_user(self.user)
        if self.base_dir:
            os.makedirs(self.base_dir, exist_ok=True)
            if os.listdir(self.base_dir):
                raise RigError(f"{self.base_dir} is not empty")
            self.dir = os.path.abspath(self.base_dir)
        else:
            self.dir = tempfile.mkdtemp(prefix="smbgate-rig-", dir=self.tmp_root)
        self._owns_dir = True
        try:
            if not self.detach:
                self.conf = self._p("smb.conf")
                self._watcher = _start_watcher(self.dir, samba=True)
            # smbd runs share operations as the user: every parent must be traversable.
            os.chmod(self.dir, 0o755)
            for d in ("lock", "state", "cache", "run", "private", "ncalrpc", "binddns",
                      "log", "shares"):
                os.makedirs(self._p(d), exist_ok=True)
            os.chmod(self._p("private"), 0o700)
            os.chmod(self._p("shares"), 0o755)
            self.conf = self._p("smb.conf")
            self.shares = self._make_shares(pw)
            last = None
            for _ in range(5):  # a picked port can be taken before smbd binds it
                self.port, self.nbport = _free_ports(2)
                self._write_conf()
                self._testparm()
                if not os.path.exists(self._p("private", "passdb.tdb")):
                    self._add_user()
                try:
                    self._spawn()
                    break
                except RigError as e:
                    last = e
            else:
                raise last
        except BaseException:
            self._cleanup()
            raise
        if not self.detach:
            with _live_lock:
                _live.add(self)
        else:
            self._write_state()
        return self

    def _add_user(self):
        r = subprocess.run(["smbpasswd", "-c", self.conf, "-a", "-s", self.user],
                           input=f"{self.password}\n{self.password}\n", capture_output=True,
                           text=True, timeout=60)
        if r.returncode != 0:
            raise RigError(f"smbpasswd -a {self.user} failed: {r.stdout}{r.stderr}")

    def _spawn(self):
        out = open(self._p("log", "smbd.stdout"), "ab")
        try:
            self.proc = subprocess.Popen(
                ["smbd", "-F", "--no-process-group", "-s", self.conf],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        finally:
            out.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.proc = None
                raise RigError(f"smbd exited at start:\n{self.log_tail()}")
            if _port_open(self.port) and _port_open(self.nbport):
                return
            time.sleep(0.05)
        self._stop_processes()
        raise RigError(f"smbd did not listen on {self.port} within 30 s:\n{self.log_tail()}")

    def restart(self, down=0.0, kill=False):
        """Stops every smbd process of this server (SIGKILL with kill=True, else as stop()
        does), stays down `down` seconds, and starts smbd again on the same ports with the
        same configuration and shares. Clients see their connections reset."""
        if kill:
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self._stop_processes()
        time.sleep(down)
        self._spawn()

    def log_tail(self, n=30):
        out = []
        for p in (self.log_path, self._p("log", "smbd.stdout")):
            try:
                with open(p, errors="replace") as f:
                    out += f.read().splitlines()[-n:]
            except OSError:
                pass
        return "\n".join(out)

    def pids(self):
        """Every live process this server started (smbd, children, samba-dcerpcd, rpcd_*)."""
        if not self.conf:
            return []
        s = set(_pids_using(self.conf)) | set(_pidfile_pids(self.piddir, self.conf))
        if self.proc is not None and _alive(self.proc.pid):
            s.add(self.proc.pid)
        return sorted(s)

    def _stop_processes(self):
        if self.conf is None:
            return
        pids = set(self.pids())
        reap = None
        if self.proc is not None:
            pids.add(self.proc.pid)
            proc = self.proc
            reap = proc.poll
        _terminate(pids, self.conf, reap=reap)
        if self.proc is not None:
            self.proc.wait(timeout=10)
        self.proc = None

    def _cleanup(self):
        self._stop_processes()
        if self._owns_dir and self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self._owns_dir = False
        _stop_watcher(self._watcher)
        self._watcher = None

    def stop(self):
        with _live_lock:
            _live.discard(self)
        self._cleanup()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _write_state(self):
        st = {"conf": self.conf, "piddir": self.piddir, "pids": [self.proc.pid],
              "host": self.host, "port": self.port, "nbport": self.nbport,
              "user": self.user, "password": self.password,
              "shares": {k: v["path"] for k, v in self.shares.items()}}
        with open(self._p(STATE_FILE), "w") as f:
            json.dump(st, f, indent=1)
        with open(self._p(ENV_FILE), "w") as f:
            f.write(self.env_text())

    # -- clients ---------------------------------------------------------------------------

    def url(self, share, path="", creds="query", **options):
        """smb://127.0.0.1:PORT/share/path?auth-username=..&auth-password=..&opt=..

        creds: "query" (auth-username/auth-password options), "userinfo" (user:pass@host)
        or None (no credentials). Keyword options become URL options, '_' -> '-'
        (max_protocol="3.0" -> max-protocol=3.0)."""
        q = []
        netloc = f"{self.host}:{self.port}"
        if creds == "query":
            q += [("auth-username", self.user), ("auth-password", self.password)]
        elif creds == "userinfo":
            netloc = (urllib.parse.quote(self.user, safe="") + ":"
                      + urllib.parse.quote(self.password, safe="") + "@" + netloc)
        elif creds is not None:
            raise ValueError(f"creds={creds!r}")
        q += [(k.replace("_", "-"), str(v)) for k, v in options.items()]
        u = f"smb://{netloc}/{urllib.parse.quote(share, safe='')}"
        path = path.strip("/")
        if path:
            u += "/" + urllib.parse.quote(path, safe="/")
        if q:
            u += "?" + urllib.parse.urlencode(q, quote_via=urllib.parse.quote)
        return u

    def smbclient(self, *args, share=None, command=None, auth=True, timeout=120,
                  check=False, input=None, text=True):
        """Runs `smbclient -s CONF -p PORT [-U user%pw] [//host/share] [-c command] args`."""
        cmd = ["smbclient", "-s", self.conf, "-p", str(self.port)]
        cmd += ["-U", f"{self.user}%{self.password}"] if auth else ["-N"]
        if share is not None:
            cmd.append(f"//{self.host}/{share}")
        if command is not None:
            cmd += ["-c", command]
        cmd += list(args)
        return subprocess.run(cmd, capture_output=True, text=text, timeout=timeout,
                              check=check, input=input)

    def smbstatus(self, *args, timeout=60):
        """Output of `smbstatus -s CONF args` (open files, sessions, negotiated protocol)."""
        r = subprocess.run(["smbstatus", "-s", self.conf, *args], capture_output=True,
                           text=True, timeout=timeout)
        if r.returncode != 0:
            raise RigError(f"smbstatus failed: {r.stdout}{r.stderr}")
        return r.stdout

    def status(self):
        """`smbstatus --json` parsed: {"sessions": {...}, "tcons": {...}, "open_files": {...}}.
        A session has session_dialect ("SMB3_11", "NT1"...), encryption and signing
        ({"cipher": ..., "degree": "none"|"partial"|"full"})."""
        return json.loads(self.smbstatus("--json"))

    def env(self):
        e = {"SMB_HOST": self.host, "SMB_PORT": str(self.port),
             "SMB_NBPORT": str(self.nbport), "SMB_USER": self.user,
             "SMB_PASSWORD": self.password, "SMB_CONF": self.conf, "SMB_DIR": self.dir,
             "SMB_URL": self.url("plain", creds=None)}
        for name in self.shares:
            key = name.upper().replace("-", "_")
            e[f"SMB_SHARE_{key}"] = self.share_path(name)
            e[f"SMB_URL_{key}"] = self.url(name)
        return e

    def env_text(self):
        return "".join(f"{k}={shlex.quote(v)}\n" for k, v in self.env().items())


@atexit.register
def _stop_all():
    with _live_lock:
        live = list(_live)
    for s in live:
        try:
            s.stop()
        except Exception as e:  # keep stopping the others
            print(f"samba rig: stop failed: {e}", file=sys.stderr)
    for d, watcher in list(_big_cache.values()):
        shutil.rmtree(d, ignore_errors=True)
        _stop_watcher(watcher)
    _big_cache.clear()


def _main(argv):
    ap = argparse.ArgumentParser(description="private Samba for smbgate tests")
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("start", help="start smbd, write DIR/env and DIR/rig.json")
    st.add_argument("--dir", required=True, help="state directory (created; must be empty)")
    st.add_argument("--min-protocol")
    st.add_argument("--max-protocol")
    st.add_argument("--signing", choices=["auto", "mandatory", "disabled"])
    st.add_argument("--nt1", action="store_true", help="allow SMB1 and NTLMv1")
    st.add_argument("--no-big", action="store_true", help="leave out the 10,000-file share")
    st.add_argument("--log-level", type=int, default=1)
    sp = sub.add_parser("stop", help="stop the server in DIR and remove DIR")
    sp.add_argument("--dir", required=True)
    wp = sub.add_parser("_watch", help=argparse.SUPPRESS)  # internal, see _start_watcher
    wp.add_argument("--dir", required=True)
    wp.add_argument("--samba", action="store_true")
    a = ap.parse_args(argv)
    if a.cmd == "_watch":
        return _watch(a.dir, a.samba)
    if a.cmd == "start":
        s = SambaServer(base_dir=a.dir, min_protocol=a.min_protocol,
                        max_protocol=a.max_protocol, signing=a.signing, nt1=a.nt1,
                        big=not a.no_big, log_level=a.log_level, detach=True)
        s.start()
        sys.stdout.write(s.env_text())
        return 0
    if not os.path.exists(os.path.join(a.dir, STATE_FILE)):
        print(f"samba.py stop: no {STATE_FILE} in {a.dir}", file=sys.stderr)
        return 1
    stop_dir(a.dir)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
