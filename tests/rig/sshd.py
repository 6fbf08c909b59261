#!/usr/bin/python3
"""A private OpenSSH sshd on 127.0.0.1 for smbgate's tests and benchmarks.

Standard library only. Run as root (sshd needs it, and the login user is root).

    from sshd import SshdServer
    with SshdServer(subsystem="/abs/smbgate serve sftp --stdio /srv/x") as s:
        subprocess.run(["sftp", *s.client_opts(), "-b", batch, s.target()])

Everything lives in one temporary directory: sshd_config, an Ed25519 host key, a client key
pair and authorized_keys, the pid file and sshd's log. sshd listens on a free high port of
127.0.0.1 only (`sshd -D`, so the process we start is the listener). Login: root with the
generated key only (PermitRootLogin prohibit-password, no passwords, StrictModes no since
the directory may be under /dev/shm or /tmp).

`subsystem` is the `Subsystem sftp` command line (default: internal-sftp). sshd runs an
external subsystem through the login shell with a clean environment: variables a child
must see (ASAN_OPTIONS of a sanitizer build) go through `env`, which becomes `SetEnv`.

stop() ends every process below the listener (per-connection sshd children and the subsystem
processes they started), then the listener, each by pid, and removes the directory;
stopped() says whether all of them are gone.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

HOST = "127.0.0.1"
SSHD = "/usr/sbin/sshd"  # sshd must be started by its absolute path (it re-executes itself)
SSH_KEYGEN = "ssh-keygen"


class SshdError(RuntimeError):
    pass


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
    except OSError:
        return None
    # the command name may contain spaces or ')': the fields follow the last ')'
    return int(st[st.rindex(")") + 2:].split()[1])


def descendants(pid):
    """Pids of every process below pid (children, grandchildren...)."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            pp = _ppid(int(d))
            if pp is not None:
                kids.setdefault(pp, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
    except OSError:
        return False
    return st[st.rindex(")") + 2] != "Z"


class SshdServer:
    def __init__(self, subsystem="internal-sftp", env=None, base_dir=None, extra_config=""):
        for tool in (SSHD, shutil.which(SSH_KEYGEN) or SSH_KEYGEN):
            if not (os.path.isfile(tool) and os.access(tool, os.X_OK)):
                raise SshdError(f"{tool} not found (Debian package openssh-server)")
        self.dir = tempfile.mkdtemp(prefix="smbgate-sshd-", dir=base_dir)
        self.proc = None
        self.pids = []  # processes seen below the listener
        try:
            self._start(subsystem, env or {}, extra_config)
        except BaseException:
            self.stop()
            raise

    def _path(self, name):
        return os.path.join(self.dir, name)

    def _keygen(self, name):
        subprocess.run([SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", name, "-f",
                        self._path(name)], check=True, capture_output=True)

    def _start(self, subsystem, env, extra_config):
        self._keygen("host_ed25519")
        self._keygen("client_ed25519")
        self.key = self._path("client_ed25519")
        shutil.copyfile(self.key + ".pub", self._path("authorized_keys"))
        os.chmod(self._path("authorized_keys"), 0o600)
        # privilege separation directory (Debian's sshd refuses to start without it)
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.log_path = self._path("sshd.log")
        setenv = " ".join(f"{k}={v}" for k, v in env.items())
        for attempt in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            conf = (f"Port {self.port}\nListenAddress {HOST}\n"
                    f"HostKey {self._path('host_ed25519')}\n"
                    f"PidFile {self._path('sshd.pid')}\n"
                    f"AuthorizedKeysFile {self._path('authorized_keys')}\n"
                    "PermitRootLogin prohibit-password\nPubkeyAuthentication yes\n"
                    "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                    "UsePAM no\nStrictModes no\nPrintMotd no\nLogLevel VERBOSE\n"
                    + (f"SetEnv {setenv}\n" if setenv else "")
                    + extra_config
                    + f"Subsystem sftp {subsystem}\n")
            self.conf = self._path("sshd_config")
            with open(self.conf, "w") as f:
                f.write(conf)
            r = subprocess.run([SSHD, "-t", "-f", self.conf], capture_output=True, text=True)
            if r.returncode != 0:
                raise SshdError(f"sshd -t rejects the config: {r.stderr}\n{conf}")
            self.proc = subprocess.Popen([SSHD, "-D", "-f", self.conf, "-E", self.log_path],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            if self._wait_listening():
                return
            self.proc.wait()
            self.proc = None
        raise SshdError("sshd did not start: " + self.log())

    def _wait_listening(self):
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.05)
        return False

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def target(self):
        return f"root@{HOST}"

    def client_opts(self):
        """Options for ssh/sftp/scp: our key only, no known_hosts, batch mode."""
        return ["-F", "/dev/null", "-i", self.key, "-o", "IdentitiesOnly=yes",
                "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
                "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
                "-o", "ConnectTimeout=10", "-o", f"Port={self.port}"]

    def stop(self):
        if self.proc is not None:
            # sessions outlive the listener: end them (and their subsystems) first, deepest
            # first, so that their parents are still there to reap them
            self.pids = descendants(self.proc.pid)
            for sig in (signal.SIGTERM, signal.SIGKILL):
                for pid in reversed(self.pids):
                    if _alive(pid):
                        try:
                            os.kill(pid, sig)
                        except ProcessLookupError:
                            pass
                deadline = time.time() + 10
                while time.time() < deadline and any(_alive(p) for p in self.pids):
                    time.sleep(0.05)
                if not any(_alive(p) for p in self.pids):
                    break
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def stopped(self):
        return (self.proc is None or self.proc.poll() is not None) and \
            not any(_alive(p) for p in self.pids)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
