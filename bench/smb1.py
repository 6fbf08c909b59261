#!/usr/bin/python3
"""SMB1 (NT1) throughput: smbgate against `smbclient -m NT1` and curl's smb://, in one run,
against one private Samba on tmpfs that allows SMB1 (tests/rig/samba.py, nt1=True).

    /usr/bin/python3 bench/smb1.py [--runs 5] [--size-mib 1024] [--smbgate build/smbgate]

Measures, each --runs times (median; the tools take turns within each round), a file of
--size-mib MiB:
  get   into a new file on tmpfs: smbgate get, smbclient -m NT1 get, curl smb:// -o
  cat   the same read into /dev/null: smbgate cat, smbclient get to /dev/null, curl -o /dev/null
  put   smbgate put, smbclient -m NT1 put, curl -T
Every client is held to SMB1 (smbgate: max-protocol=NT1; smbclient: -m NT1 and client min
protocol NT1; curl speaks only SMB1). Every transfer is checked (size each run, SHA-256 on the
first); before every get and put run the memory the transfer fills is touched and freed
(bench/common.py: warm_memory). MB/s is 10^6 bytes per second. Results also go to bench/results-smb1-<date>.json.
"""

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "rig"))
from samba import SambaServer  # noqa: E402

from common import sha256, warm_memory, write_random  # noqa: E402

TIMEOUT = 600


class Run:
    def __init__(self, a):
        self.a = a
        self.size = a.size_mib << 20
        self.results = []

    def once(self, cmd, before=None, warm=False):
        if before:
            before()
        if warm:
            warm_memory(self.size)
        t0 = time.monotonic()
        try:
            r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               timeout=TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as e:
            return None, str(e)
        secs = time.monotonic() - t0
        if r.returncode != 0:
            return None, f"exit {r.returncode}: {r.stderr.decode(errors='replace')[-300:]}"
        return secs, None

    def measure_all(self, cases):
        """Runs every case once per round, rounds interleaved, so that a slow moment of the
        machine (this VM reclaims page cache and memory in bursts) hits every tool alike."""
        state = []
        for test, tool, cmd, check, before in cases:
            err = None
            if not shutil.which(cmd[0]) and not os.access(cmd[0], os.X_OK):
                err = f"{cmd[0]} not installed"
            state.append({"times": [], "err": err})
        for i in range(self.a.runs):
            for (test, tool, cmd, check, before), st in zip(cases, state):
                if st["err"]:
                    continue
                secs, err = self.once(cmd, before, warm=test in ("get", "put"))
                if err is None:
                    err = check(i == 0)
                if err:
                    st["err"] = err
                else:
                    st["times"].append(secs)
        for (test, tool, cmd, check, before), st in zip(cases, state):
            times, err = st["times"], st["err"]
            med = statistics.median(times) if times and not err else None
            res = {"test": test, "tool": tool, "cmd": " ".join(cmd), "times_s": times,
                   "median_s": med, "mb_s": self.size / med / 1e6 if med else None,
                   "error": err}
            self.results.append(res)
            print(f"  {test:4} {tool:10} "
                  + (f"FAILED: {err}" if err else f"{res['mb_s']:.0f} MB/s"), flush=True)

    def file_check(self, path, digest):
        def check(first):
            if not os.path.exists(path) or os.path.getsize(path) != self.size:
                return f"{path}: wrong size after the transfer"
            if first and sha256(path) != digest:
                return f"{path}: SHA-256 differs from the source"
            return None
        return check

    @staticmethod
    def rm(path):
        return lambda: os.path.exists(path) and os.unlink(path)

    def go(self):
        a = self.a
        work = tempfile.mkdtemp(prefix="smbgate-bench1-", dir=a.tmp_root)
        try:
            with SambaServer(tmp_root=a.tmp_root, nt1=True, big=False) as s:
                self._go(s, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self.report()

    def _go(self, s, work):
        a = self.a
        sg = str(Path(a.smbgate).resolve())
        uid = os.stat(s.share_path("plain")).st_uid
        remote = os.path.join(s.share_path("plain"), "bench1.bin")
        write_random(remote, self.size)
        os.chown(remote, uid, -1)
        rdig = sha256(remote)
        local = os.path.join(work, "local.bin")
        write_random(local, self.size)
        ldig = sha256(local)
        print(f"bench smb1: Samba on {s.host}:{s.port}, {a.size_mib} MiB, {a.runs} runs, "
              f"medians", flush=True)
        sc = ["smbclient", "-s", s.conf, "-p", str(s.port), "-m", "NT1",
              "--option=client min protocol=NT1", "-U", f"{s.user}%{s.password}",
              f"//{s.host}/plain"]
        curl_u = ["curl", "-sS", "-u", f"{s.user}:{s.password}"]
        curl_url = f"smb://{s.host}:{s.port}/plain/"
        url = lambda p: s.url("plain", p, max_protocol="NT1")
        out = os.path.join(work, "out.bin")
        never = lambda first: None
        up = os.path.join(s.share_path("plain"), "up.bin")
        for test, cases in (
            ("get", [
                ("smbgate", [sg, "get", url("bench1.bin"), out], self.file_check(out, rdig),
                 self.rm(out)),
                ("smbclient", sc + ["-c", f"get bench1.bin {out}"], self.file_check(out, rdig),
                 self.rm(out)),
                ("curl", curl_u + [curl_url + "bench1.bin", "-o", out],
                 self.file_check(out, rdig), self.rm(out))]),
            ("cat", [  # the read alone, into /dev/null
                ("smbgate", [sg, "cat", url("bench1.bin")], never, None),
                ("smbclient", sc + ["-c", "get bench1.bin /dev/null"], never, None),
                ("curl", curl_u + [curl_url + "bench1.bin", "-o", "/dev/null"], never, None)]),
            ("put", [
                ("smbgate", [sg, "put", local, url("up.bin")], self.file_check(up, ldig),
                 self.rm(up)),
                ("smbclient", sc + ["-c", f"put {local} up.bin"], self.file_check(up, ldig),
                 self.rm(up)),
                ("curl", curl_u + ["-T", local, curl_url + "up.bin"], self.file_check(up, ldig),
                 self.rm(up))])):
            self.measure_all([(test, tool, cmd, check, before)
                              for tool, cmd, check, before in cases])

    def report(self):
        by = {(r["test"], r["tool"]): r for r in self.results}
        print("\nsmbgate vs peers (MB/s ratio, > 1: smbgate faster)")
        for test in ("get", "cat", "put"):
            me = by.get((test, "smbgate"), {}).get("mb_s")
            for peer in ("smbclient", "curl"):
                other = by.get((test, peer), {}).get("mb_s")
                if me and other:
                    print(f"  {test:4} vs {peer:10} {me / other:5.2f}x")
        path = REPO / "bench" / f"results-smb1-{datetime.date.today().isoformat()}.json"
        with open(path, "w") as f:
            json.dump({"size_mib": self.a.size_mib, "runs": self.a.runs,
                       "results": self.results}, f, indent=1)
        print(f"\nresults: {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--smbgate", default=str(REPO / "build" / "smbgate"))
    ap.add_argument("--tmp-root", default="/dev/shm")
    a = ap.parse_args()
    if not os.access(a.smbgate, os.X_OK):
        sys.exit(f"bench: no smbgate binary at {a.smbgate}")
    Run(a).go()


if __name__ == "__main__":
    main()
