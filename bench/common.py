"""What the benchmark scripts share: test data, digests, tool versions and the memory warm-up
that makes fresh tmpfs pages cost every tool alike on this VM."""

import hashlib
import mmap
import os
import subprocess


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 22), b""):
            h.update(b)
    return h.hexdigest()


def write_random(path, size):
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 24)
            f.write(os.urandom(n))
            left -= n


def tool_version(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (r.stdout or r.stderr).splitlines()[0].strip()
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return None


def warm_memory(nbytes):
    """Touches and frees nbytes (+256 MiB) of anonymous memory. This VM returns freed pages to
    its host a few seconds after they are freed, and taking them back costs up to 3 s per GiB
    (dd into a fresh tmpfs file: 0.4 s to 3 s); done right before a transfer run, every tool
    gets pages the guest already holds, and that noise goes."""
    n = nbytes + (256 << 20)
    m = mmap.mmap(-1, n)
    for off in range(0, n, 4096):
        m[off] = 1
    m.close()


def cpu_seconds(pids):
    """utime + stime of each pid plus cutime + cstime (its exited, reaped children), summed
    from /proc; a pid that is gone counts 0."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                s = f.read()
        except OSError:
            continue
        total += sum(int(x) for x in s[s.rindex(")") + 2:].split()[11:15])
    return total / tick
