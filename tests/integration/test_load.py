"""Mixed load on `smbgate serve sftp` over the private Samba (issue 8, "Load"): concurrent
paramiko sessions doing put, get, stat, listdir, rename, remove and mkdir/rmdir for a bounded
time (load_helpers.py). Zero errors; every file written is read back through the gateway and
found on the share's folder on disk with the same SHA-256; the gateway's RSS and open fds stay
under bounds; afterwards smbd holds no open file of ours and the gateway's fds fall back.

make check runs 10 sessions x 10 s (twice: release and ASan builds); bench/load.py runs
50 x 60 s and prints the figures. SMBGATE_LOAD_SESSIONS / SMBGATE_LOAD_SECONDS override.

The bounds (per build; ASan keeps up to 256 MiB of freed memory in quarantine and doubles
every allocation's footprint, so its memory bound is its own):
  RSS    peak <= RSS at idle + PER_SESSION_MIB x sessions + SLACK_MIB. A session here has at
         most one file of up to 3 MiB in flight each way, and the gateway's per-channel READ
         budget and SSH window stay below a few MiB, so 8 MiB per session is generous for a
         sound gateway, while a leak of each transferred file (about 1 MiB per operation,
         hundreds of operations) or an unbounded queue crosses it.
  fds    peak <= fds at idle + 4 x sessions + 16: one SSH socket and at most one SMB socket
         per session, plus room for the pool of idle SMB connections, pipes and the log.
         After the clients leave, the count falls to <= idle + 8 (the idle SMB pool) within
         15 s: a session that leaked its socket or a handle's fd would stay.
"""

import os
import time

import pytest

from load_helpers import Sampler, fd_count, rss_kib, run_load, verify_on_disk, write_shared
from sftp_helpers import PASSWORD, USER, Area, Server, open_files

SESSIONS = int(os.environ.get("SMBGATE_LOAD_SESSIONS", "10"))
SECONDS = float(os.environ.get("SMBGATE_LOAD_SECONDS", "10"))
PER_SESSION_MIB = 8
SLACK_MIB = 64
ASAN_SLACK_MIB = 512  # the quarantine (256 MiB) and shadow memory on top
FD_PER_SESSION = 4
FD_SLACK = 16
FD_IDLE_POOL = 8


def is_asan(pid):
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


def wait_until(cond, timeout):
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_mixed_load(smbgate_bin, samba, hostkey):
    area = Area(samba)
    shared_sha = write_shared(area.path, area.uid, area.gid)
    # -v off: an access log line per operation would measure the log, not the gateway
    srv = Server(smbgate_bin, area.url(), key=hostkey, verbose=False)
    try:
        pid = srv.proc.pid
        # one login first, so that what a gateway sets up once is in the idle figures
        t = srv.paramiko()
        t.close()
        time.sleep(0.5)
        idle_rss, idle_fds = rss_kib(pid) / 1024, fd_count(pid)
        asan = is_asan(pid)
        with Sampler(pid) as smp:
            r = run_load(srv.port, SESSIONS, SECONDS, shared_sha, USER, PASSWORD)
        summary = (f"{SESSIONS} sessions x {SECONDS:g} s (seed {r.seed}): {r.total_ops} ops "
                   f"{r.ops}, {len(r.errors)} errors, {len(r.login_retries)} logins retried; RSS idle {idle_rss:.0f} MiB peak "
                   f"{smp.peak_rss_mib:.0f} MiB; fds idle {idle_fds} peak {smp.peak_fds}")
        print(summary)
        assert not r.errors, f"{summary}\nfirst errors: {r.errors[:10]}\n" \
                             f"server log tail:\n{srv.log()[-3000:]}"
        assert r.logins == SESSIONS, summary
        # every kind of operation ran, so a silent skip cannot pass for a success
        assert all(n > 0 for n in r.ops.values()), summary

        problems = verify_on_disk(r, area.path)
        assert not problems, "\n".join(problems[:20])

        rss_bound = idle_rss + PER_SESSION_MIB * SESSIONS + (ASAN_SLACK_MIB if asan else SLACK_MIB)
        assert smp.peak_rss_mib <= rss_bound, f"RSS bound {rss_bound:.0f} MiB: {summary}"
        fd_bound = idle_fds + FD_PER_SESSION * SESSIONS + FD_SLACK
        assert smp.peak_fds <= fd_bound, f"fd bound {fd_bound}: {summary}"

        # afterwards: nothing of ours open on Samba, and the gateway's fds fall back
        assert wait_until(lambda: not open_files(samba, area.rel), 15), \
            f"smbd still has files open: {open_files(samba, area.rel)}"
        assert wait_until(lambda: fd_count(pid) <= idle_fds + FD_IDLE_POOL, 15), \
            f"gateway fds stay at {fd_count(pid)} (idle {idle_fds}): {srv.open_fds()}"
    finally:
        code = srv.stop()
    assert code == 0, f"the gateway ended with {code}"
