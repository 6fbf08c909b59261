#!/usr/bin/python3
"""smbgate against its peers, in one run, against one private Samba on tmpfs.

    /usr/bin/python3 bench/run.py [--runs 3] [--size-mib 1024] [--smbgate build/smbgate]

Starts the test rig (tests/rig/samba.py) under /dev/shm, makes a random file on the share and
one locally, and measures, each --runs times (median):
  get   into a new file on tmpfs: smbgate get, smbclient get, smbget --blocksize 1048576
        (stdout to the file), rclone copyto (smb backend)
  cat   the same read into /dev/null: smbgate cat, smbclient get to /dev/null, smbget, rclone
        cat. This VM hands freed memory back to its host, so filling 1 GiB of fresh tmpfs
        pages costs about a second; `get` pays that for every tool, `cat` shows the clients.
  put   smbgate put, smbclient put, rclone copyto
  ls    listing of the 10,000-file share: smbgate ls, smbclient ls, rclone lsf
  connect  connect+login+tree connect+logoff: smbgate ls of an empty folder, smbclient -c exit,
        rclone lsf of the empty folder
  rss   peak RSS of every client in every test (/usr/bin/time -v)
Tools take turns run by run. Before every get and put run the bench touches and frees as much
memory as the transfer fills (--no-warm turns that off): this VM hands freed memory back to its
host within seconds, and taking it back makes fresh tmpfs pages cost 0.4 s to 3 s per GiB at
random, which swamped the differences between the tools.
Every transfer is checked (size each run, SHA-256 on the first) so a broken tool cannot post a
fast figure. A tool that fails prints FAILED and the run goes on. MB/s is 10^6 bytes per second;
"smbgate vs" > 1 means smbgate is faster than that peer. Results also go to
bench/results-<date>.json.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "rig"))
from samba import SambaServer, BIG_FILES  # noqa: E402

from common import sha256, tool_version, warm_memory, write_random  # noqa: E402

BIG = "bench-big.bin"
TIMEOUT = 600


class Bench:
    def __init__(self, args):
        self.args = args
        self.results = []
        self.smbgate = str(Path(args.smbgate).resolve())
        self.have_time = os.access("/usr/bin/time", os.X_OK)

    # -- running one command -----------------------------------------------------------------

    def run_once(self, cmd, stdout_path=None, env=None):
        """Runs cmd under /usr/bin/time -v; returns (seconds, rss_kib, error or None)."""
        rss_file = os.path.join(self.work, "time.out")
        full = (["/usr/bin/time", "-v", "-o", rss_file] if self.have_time else []) + cmd
        if os.path.exists(rss_file):
            os.unlink(rss_file)
        out = open(stdout_path, "wb") if stdout_path else subprocess.DEVNULL
        e = dict(os.environ)
        e.update(env or {})
        t0 = time.monotonic()
        try:
            r = subprocess.run(full, stdout=out, stderr=subprocess.PIPE, timeout=TIMEOUT, env=e)
        except subprocess.TimeoutExpired:
            return None, None, f"timeout after {TIMEOUT} s"
        except OSError as ex:
            return None, None, str(ex)
        finally:
            if stdout_path:
                out.close()
        secs = time.monotonic() - t0
        rss = None
        if self.have_time:
            try:
                for line in open(rss_file):
                    if "Maximum resident set size" in line:
                        rss = int(line.split(":")[1])
            except (OSError, ValueError):
                pass
        if r.returncode != 0:
            err = r.stderr.decode(errors="replace").strip().splitlines()
            err = [l for l in err if not l.startswith("\tCommand ")]
            return secs, rss, f"exit {r.returncode}: " + " | ".join(err[-3:])
        return secs, rss, None

    def measure(self, test, specs, runs, warm=False):
        """Runs each spec (a dict: tool, cmd, and optionally before, check, stdout_path, env,
        nbytes) `runs` times, the tools taking turns round by round (the first tool of each
        round rotates) so that a slow spell of the machine hits them all alike."""
        state = []
        for sp in specs:
            cmd = sp["cmd"]
            error = None
            if shutil.which(cmd[0]) is None and not os.access(cmd[0], os.X_OK):
                error = f"{cmd[0]} not installed"
            state.append({"sp": sp, "times": [], "rss": [], "error": error})
        for i in range(runs):
            k = len(state)
            for j in range(k):
                st = state[(i + j) % k]
                if st["error"]:
                    continue
                sp = st["sp"]
                if sp.get("before"):
                    sp["before"]()
                if warm:
                    warm_memory(self.size)
                secs, rss, error = self.run_once(sp["cmd"], sp.get("stdout_path"),
                                                 sp.get("env"))
                if error is None and sp.get("check"):
                    error = sp["check"](first=(len(st["times"]) == 0))
                if error:
                    st["error"] = error
                    continue
                st["times"].append(secs)
                if rss:
                    st["rss"].append(rss)
        for st in state:
            sp, times, error = st["sp"], st["times"], st["error"]
            nbytes = sp.get("nbytes")
            res = {"test": test, "tool": sp["tool"], "cmd": " ".join(sp["cmd"]),
                   "times_s": times,
                   "median_s": statistics.median(times) if times and not error else None,
                   "rss_kib": max(st["rss"]) if st["rss"] else None, "error": error}
            if res["median_s"] and nbytes:
                res["mb_s"] = nbytes / res["median_s"] / 1e6
            self.results.append(res)
            shown = "FAILED: " + error if error else (
                f"{res['mb_s']:.0f} MB/s" if nbytes else f"{res['median_s']:.3f} s")
            print(f"  {test:8} {sp['tool']:9} {shown}", flush=True)

    # -- checks --------------------------------------------------------------------------------

    def file_check(self, path, digest):
        def check(first):
            try:
                size = os.path.getsize(path)
            except OSError:
                return f"{path} missing after the transfer"
            if size != self.size:
                return f"{path} has {size} bytes, expected {self.size}"
            if first and sha256(path) != digest:
                return f"{path}: SHA-256 differs from the source"
            return None
        return check

    def rm(self, path):
        def f():
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        return f

    def ls_check(self, out_path):
        def check(first):
            n = sum(1 for l in open(out_path, errors="replace") if "small-" in l)
            return None if n == BIG_FILES else f"listed {n} small-* entries, expected {BIG_FILES}"
        return check

    # -- the run -------------------------------------------------------------------------------

    def run(self):
        a = self.args
        self.size = a.size_mib << 20
        self.work = tempfile.mkdtemp(prefix="smbgate-bench-", dir=a.tmp_root)
        try:
            with SambaServer(tmp_root=a.tmp_root) as s:
                self.s = s
                self._run(s)
        finally:
            shutil.rmtree(self.work, ignore_errors=True)
        self.report()

    def _run(self, s):
        a = self.args
        runs, qruns = a.runs, a.quick_runs
        uid = os.stat(s.share_path("plain")).st_uid
        print(f"bench: Samba on {s.host}:{s.port} in {s.dir}; {a.size_mib} MiB files, "
              f"{runs} runs ({qruns} for ls/connect), medians", flush=True)
        remote_src = os.path.join(s.share_path("plain"), BIG)
        write_random(remote_src, self.size)
        os.chown(remote_src, uid, -1)
        src_digest = sha256(remote_src)
        local_src = os.path.join(self.work, "local-src.bin")
        write_random(local_src, self.size)
        local_digest = sha256(local_src)
        empty = os.path.join(s.share_path("plain"), "empty")
        os.mkdir(empty)
        os.chown(empty, uid, -1)

        rconf = os.path.join(self.work, "rclone.conf")
        obscured = subprocess.run(["rclone", "obscure", s.password], capture_output=True,
                                  text=True).stdout.strip() if shutil.which("rclone") else ""
        with open(rconf, "w") as f:
            f.write(f"[s]\ntype = smb\nhost = {s.host}\nport = {s.port}\nuser = {s.user}\n"
                    f"pass = {obscured}\n")
        renv = {"RCLONE_CONFIG": rconf}
        smbc = ["smbclient", "-s", s.conf, "-p", str(s.port), "-U", f"{s.user}%{s.password}"]
        out = os.path.join(self.work, "out.bin")
        listing = os.path.join(self.work, "listing.txt")
        up_name = "bench-up.bin"
        up_remote = os.path.join(s.share_path("plain"), up_name)
        sg = self.smbgate
        want = a.only.split(",") if a.only else ["get", "cat", "put", "ls", "connect"]

        def spec(tool, cmd, before=None, check=None, stdout_path=None, env=None,
                 nbytes=None):
            return {"tool": tool, "cmd": cmd, "before": before, "check": check,
                    "stdout_path": stdout_path, "env": env, "nbytes": nbytes}

        smbget = ["smbget", "-q", "-O", "--blocksize", "1048576", "-U",
                  f"{s.user}%{s.password}", f"smb://{s.host}:{s.port}/plain/{BIG}"]
        if "get" in want:
            chk, rm, n = self.file_check(out, src_digest), self.rm(out), self.size
            self.measure("get", [
                spec("smbgate", [sg, "get", s.url("plain", BIG), out], rm, chk, nbytes=n),
                spec("smbclient", smbc + [f"//{s.host}/plain", "-c", f"get {BIG} {out}"], rm,
                     chk, nbytes=n),
                spec("smbget", smbget, rm, chk, stdout_path=out, nbytes=n),
                spec("rclone", ["rclone", "copyto", f"s:plain/{BIG}", out], rm, chk, env=renv,
                     nbytes=n),
            ], runs, warm=not a.no_warm)
            self.rm(out)()
        if "cat" in want:
            null, n = "/dev/null", self.size
            self.measure("cat", [
                spec("smbgate", [sg, "cat", s.url("plain", BIG)], stdout_path=null, nbytes=n),
                spec("smbclient", smbc + [f"//{s.host}/plain", "-c", f"get {BIG} {null}"],
                     nbytes=n),
                spec("smbget", smbget, stdout_path=null, nbytes=n),
                spec("rclone", ["rclone", "cat", f"s:plain/{BIG}"], stdout_path=null, env=renv,
                     nbytes=n),
            ], runs)
        if "put" in want:
            chk, rm, n = self.file_check(up_remote, local_digest), self.rm(up_remote), self.size
            self.measure("put", [
                spec("smbgate", [sg, "put", local_src, s.url("plain", up_name)], rm, chk,
                     nbytes=n),
                spec("smbclient", smbc + [f"//{s.host}/plain", "-c",
                                          f"put {local_src} {up_name}"], rm, chk, nbytes=n),
                spec("rclone", ["rclone", "copyto", local_src, f"s:plain/{up_name}"], rm, chk,
                     env=renv, nbytes=n),
            ], runs, warm=not a.no_warm)
            self.rm(up_remote)()
        if "ls" in want:
            chk = self.ls_check(listing)
            self.measure("ls", [
                spec("smbgate", [sg, "ls", s.url("big")], check=chk, stdout_path=listing),
                spec("smbclient", smbc + [f"//{s.host}/big", "-c", "ls"], check=chk,
                     stdout_path=listing),
                spec("rclone", ["rclone", "lsf", "s:big"], check=chk, stdout_path=listing,
                     env=renv),
            ], qruns)
        if "connect" in want:
            self.measure("connect", [
                spec("smbgate", [sg, "ls", s.url("plain", "empty")]),
                spec("smbclient", smbc + [f"//{s.host}/plain", "-c", "exit"]),
                spec("rclone", ["rclone", "lsf", "s:plain/empty"], env=renv),
            ], qruns)

    # -- output --------------------------------------------------------------------------------

    def get(self, test, tool):
        for r in self.results:
            if r["test"] == test and r["tool"] == tool:
                return r
        return None

    def report(self):
        print()
        print(f"{'test':9}{'tool':11}{'result':>14}{'peak RSS':>12}   smbgate vs")
        print("-" * 60)
        ratios = {}
        for r in self.results:
            if r["error"]:
                val = "FAILED"
            elif "mb_s" in r:
                val = f"{r['mb_s']:.0f} MB/s"
            else:
                val = f"{r['median_s']:.3f} s"
            rss = f"{r['rss_kib'] / 1024:.1f} MiB" if r["rss_kib"] else "-"
            ratio = ""
            me = self.get(r["test"], "smbgate")
            if r["tool"] != "smbgate" and me and not me["error"] and not r["error"]:
                if "mb_s" in r:
                    q = me["mb_s"] / r["mb_s"]
                else:
                    q = r["median_s"] / me["median_s"]
                ratios[(r["test"], r["tool"])] = q
                ratio = f"{q:.2f}x"
            print(f"{r['test']:9}{r['tool']:11}{val:>14}{rss:>12}   {ratio}")
            if r["error"]:
                print(f"{'':20}{r['error'][:200]}")
        me = self.get("get", "smbgate")
        if me and me["rss_kib"]:
            print(f"\npeak RSS of smbgate during the {self.args.size_mib} MiB get: "
                  f"{me['rss_kib'] / 1024:.1f} MiB")
        targets = [
            ("get >= 1.0x smbget", ("get", "smbget"), 1.0),
            ("get >= 1.5x smbclient", ("get", "smbclient"), 1.5),
            ("cat >= 1.0x smbget", ("cat", "smbget"), 1.0),
            ("cat >= 1.5x smbclient", ("cat", "smbclient"), 1.5),
            ("put >= 1.5x smbclient", ("put", "smbclient"), 1.5),
            ("ls faster than smbclient", ("ls", "smbclient"), 1.0),
        ]
        print("\ntargets (issue 2):")
        for name, key, lim in targets:
            q = ratios.get(key)
            print(f"  {name:28} {'-' if q is None else f'{q:.2f}x':>7}  "
                  f"{'n/a' if q is None else ('met' if q >= lim else 'NOT met')}")
        if me and me["rss_kib"]:
            ok = me["rss_kib"] < 16 * 1024
            print(f"  {'peak RSS < 16 MiB (get)':28} {me['rss_kib'] / 1024:>5.1f}Mi  "
                  f"{'met' if ok else 'NOT met'}")

        doc = {
            "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "host": {"kernel": platform.release(), "cpus": os.cpu_count()},
            "versions": {"samba": tool_version(["smbd", "--version"]),
                         "rclone": tool_version(["rclone", "--version"]),
                         "smbgate": tool_version([self.smbgate, "--version"])},
            "size_bytes": self.size, "runs": self.args.runs,
            "quick_runs": self.args.quick_runs, "results": self.results,
            "ratios": {f"{t}/{p}": q for (t, p), q in ratios.items()},
        }
        path = self.args.json or str(
            REPO / "bench" / f"results-{datetime.datetime.now():%Y%m%d-%H%M%S}.json")
        with open(path, "w") as f:
            json.dump(doc, f, indent=1)
        print(f"\nresults: {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per transfer (median)")
    ap.add_argument("--quick-runs", type=int, default=10, help="runs for ls and connect")
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--smbgate", default=str(REPO / "build" / "smbgate"))
    ap.add_argument("--tmp-root", default="/dev/shm")
    ap.add_argument("--only", help="comma list of get,cat,put,ls,connect")
    ap.add_argument("--no-warm", action="store_true",
                    help="do not touch fresh memory before each get/put run (see Bench.warm)")
    ap.add_argument("--json", help="output path (default bench/results-<date>.json)")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench: run as root (smbd needs it)")
    Bench(a).run()


if __name__ == "__main__":
    main()
