#!/usr/bin/python3
"""Mixed SFTP load on `smbgate serve sftp` over the test rig's Samba (issue 8, "Load").

    /usr/bin/python3 bench/load.py [--sessions 50] [--seconds 60] [--smbgate build/smbgate]
                                   [--seed N] [--json FILE]

Starts a private Samba on tmpfs (tests/rig/samba.py) and the gateway over a fresh folder of
its share, then runs --sessions concurrent paramiko sessions (from 8 loopback addresses,
started 20 ms apart) for --seconds of put, get, stat,
listdir, rename, remove, mkdir/rmdir and reads of one shared file (the same engine as
tests/integration/test_load.py: tests/integration/load_helpers.py). Every byte read back is
checked by SHA-256 against what was written, and afterwards every file on the share's folder
on disk. Prints: ops/s (per kind too), errors, MB moved, peak RSS and fds of the gateway (sampled
every 0.2 s from /proc), CPU seconds of smbgate and of smbd (all its processes) during the run,
and whether smbd still has files of ours open afterwards. Exit status 1 on any error or
mismatch. The client is one Python process (paramiko), so ops/s is bounded by the client as
much as by the gateway: compare runs on the same machine only.
"""

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "rig"))
sys.path.insert(0, str(REPO / "tests" / "integration"))
from samba import SambaServer  # noqa: E402

from load_helpers import (Sampler, cpu_seconds, fd_count, rss_kib, run_load,  # noqa: E402
                          verify_on_disk, write_shared)
from sftp_helpers import PASSWORD, USER, Area, HostKeys, Server, open_files  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--smbgate", default=str(REPO / "build" / "smbgate"))
    ap.add_argument("--seed", type=int)
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()

    keys = HostKeys()
    samba = SambaServer(tmp_root="/dev/shm", big=False)
    srv = None
    try:
        samba.start()
        area = Area(samba)
        shared_sha = write_shared(area.path, area.uid, area.gid)
        srv = Server(args.smbgate, area.url(), key=keys.path, verbose=False)
        pid = srv.proc.pid
        srv.paramiko().close()
        time.sleep(0.5)
        idle_rss, idle_fds = rss_kib(pid) / 1024, fd_count(pid)
        cpu0_gw, cpu0_smbd = cpu_seconds([pid]), cpu_seconds(samba.pids())
        with Sampler(pid) as smp:
            r = run_load(srv.port, args.sessions, args.seconds, shared_sha, USER, PASSWORD,
                         seed=args.seed)
        deadline = time.time() + 15
        while open_files(samba, area.rel) and time.time() < deadline:
            time.sleep(0.2)
        left_open = len(open_files(samba, area.rel))
        time.sleep(1)  # smbd children of closed connections exit and are reaped
        cpu_gw = cpu_seconds([pid]) - cpu0_gw
        cpu_smbd = cpu_seconds(samba.pids()) - cpu0_smbd
        fds_after = fd_count(pid)
        problems = verify_on_disk(r, area.path)
        figures = {
            "sessions": args.sessions, "seconds": round(r.seconds, 1), "seed": r.seed,
            "logins": r.logins, "login_retries": len(r.login_retries), "ops": r.total_ops,
            "ops_per_s": round(r.total_ops / r.seconds, 1),
            "ops_by_kind": r.ops, "errors": len(r.errors),
            "mb_up": round(r.bytes_up / 1e6, 1), "mb_down": round(r.bytes_down / 1e6, 1),
            "files_checked_on_disk": sum(len(f) for f in r.files),
            "disk_mismatches": len(problems),
            "rss_idle_mib": round(idle_rss, 1), "rss_peak_mib": round(smp.peak_rss_mib, 1),
            "fds_idle": idle_fds, "fds_peak": smp.peak_fds, "fds_after": fds_after,
            "cpu_s_smbgate": round(cpu_gw, 2), "cpu_s_smbd": round(cpu_smbd, 2),
            "smbd_open_files_after": left_open,
        }
    finally:
        code = srv.stop() if srv else None
        samba.stop()
        keys.cleanup()
    figures["gateway_exit"] = code

    f = figures
    print(f"load: {f['sessions']} sessions x {f['seconds']} s (seed {f['seed']}), "
          f"{f['logins']} logged in ({f['login_retries']} logins dropped and retried)")
    print(f"  ops        {f['ops']} ({f['ops_per_s']} ops/s): " +
          ", ".join(f"{k} {v}" for k, v in f["ops_by_kind"].items()))
    print(f"  errors     {f['errors']}; disk mismatches {f['disk_mismatches']} "
          f"({f['files_checked_on_disk']} files checked by SHA-256)")
    print(f"  moved      {f['mb_up']} MB up, {f['mb_down']} MB down")
    print(f"  smbgate    RSS idle {f['rss_idle_mib']} MiB, peak {f['rss_peak_mib']} MiB; "
          f"fds idle {f['fds_idle']}, peak {f['fds_peak']}, after {f['fds_after']}; "
          f"CPU {f['cpu_s_smbgate']} s; exit {f['gateway_exit']}")
    print(f"  smbd       CPU {f['cpu_s_smbd']} s; open files of ours afterwards "
          f"{f['smbd_open_files_after']}")
    for e in sorted(set(r.login_retries))[:5]:
        print(f"  login retried after: {e}")
    for e in r.errors[:10]:
        print(f"  error: session {e[0]} {e[1]}: {e[2]}")
    for p in problems[:10]:
        print(f"  mismatch: {p}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1) + "\n")
    bad = f["errors"] or f["disk_mismatches"] or f["smbd_open_files_after"] or code != 0 \
        or f["logins"] != f["sessions"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
